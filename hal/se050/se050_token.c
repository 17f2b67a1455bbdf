/* token_ops for the NXP SE050: chip objects are 32-bit ids holding EC or RSA
 * keys and binary files, reached through the IoT applet over T=1.
 *
 * Every operation runs under the bus lock. Taking it from the outside (the
 * lock depth going from 0 to 1) resynchronises the T=1 link first, because
 * another process may have advanced the chip's sequence numbers since we last
 * spoke: the chip would then take our I-block for a repeat and answer with the
 * other process's response. What cannot change under us (object types, sizes,
 * curves set up) is cached, so a signature costs one APDU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>

#include "hal/bus.h"
#include "hal/log.h"
#include "hal/se050/apdu.h"
#include "hal/se050/curves.h"
#include "hal/se050/rsa_pad.h"
#include "hal/se050/t1.h"
#include "module/token.h"

#define SE050_DEFAULT_ADDR 0x48
#define ID_UNIQUE 0x7FFF0206u
#define ID_RESERVED_MASK 0xFFFF0000u
#define ID_RESERVED 0x7FFF0000u /* applet objects */
#define ID_FACTORY_MIN 0xF0000000u /* provisioned by NXP / EdgeLock 2GO */
#define MEM_PERSISTENT 0x01
#define KEY_CACHE 32
#define RSA_E_MAX 8

struct key_info {
    uint32_t id;
    bool valid;
    uint8_t type;
    enum tok_key_type key_type;
    enum tok_curve curve;
    unsigned bits;
    bool priv;
};

struct tok_dev {
    struct bus *bus;
    uint8_t addr;
    struct t1 t1;
    unsigned lock_depth;
    bool linked; /* the link is up: outermost locks resynchronise it */
    uint8_t version[7];
    char serial[33];
    bool curve_ready[4]; /* by enum tok_curve */
    struct key_info cache[KEY_CACHE];
    unsigned cache_next;
};

static const struct tok_caps se_caps = {
    .curves = (1u << TOK_CURVE_P256) | (1u << TOK_CURVE_P384) | (1u << TOK_CURVE_P521),
    .rsa_min_bits = 2048,
    .rsa_max_bits = 4096,
    .ecdh = true,
    .rsa_pss = true,
    .import_keys = true,
    .hw_random = true,
    .fixed_slots = false,
    .max_keys = 128, /* a practical bound; the real one is the free memory */
};

/* The transport of the T=1 engine over struct bus. */
static int tr_write(void *ctx, const uint8_t *data, size_t len)
{
    struct tok_dev *d = ctx;
    int rc = bus_write(d->bus, d->addr, data, len);

    return rc == BUS_OK ? 0 : rc == BUS_NACK ? T1_TR_NACK : -1;
}

static int tr_read(void *ctx, uint8_t *data, size_t len)
{
    struct tok_dev *d = ctx;
    int rc = bus_read(d->bus, d->addr, data, len);

    return rc == BUS_OK ? 0 : rc == BUS_NACK ? T1_TR_NACK : -1;
}

static void tr_delay(void *ctx, unsigned us)
{
    struct tok_dev *d = ctx;

    bus_delay_us(d->bus, us);
}

static int tok_of(int se)
{
    switch (se) {
    case SE_OK: return TOK_OK;
    case SE_E_WRONG_DATA: return TOK_E_DATA_INVALID;
    case SE_E_NOT_FOUND: return TOK_E_NOT_FOUND;
    case SE_E_CONDITIONS:
    case SE_E_DENIED:
    case SE_E_POLICY_INVALID: return TOK_E_POLICY;
    case SE_E_SECURITY: return TOK_E_LOCKED;
    case SE_E_MEMORY: return TOK_E_FULL;
    case SE_E_WRONG_LENGTH: return TOK_E_DATA_LEN;
    case SE_E_NOT_SUPPORTED: return TOK_E_UNSUPPORTED;
    case SE_E_ABSENT: return TOK_E_ABSENT;
    case SE_E_ARGS: return TOK_E_ARGS;
    default: return TOK_E_DEVICE;
    }
}

static bool id_reserved(uint32_t id) { return (id & ID_RESERVED_MASK) == ID_RESERVED; }
static bool id_factory(uint32_t id) { return id >= ID_FACTORY_MIN || id_reserved(id); }

static int dev_lock(struct tok_dev *d)
{
    if (bus_lock(d->bus) != BUS_OK)
        return TOK_E_DEVICE;
    if (d->lock_depth++ == 0 && d->linked) {
        int rc = t1_resync(&d->t1);

        if (rc != T1_OK && rc != T1_E_IO)
            rc = t1_soft_reset(&d->t1, NULL);
        if (rc != T1_OK) {
            log_error("se050", "%s: cannot resynchronise the link: %s", bus_name(d->bus),
                      t1_strerror(rc));
            d->lock_depth--;
            bus_unlock(d->bus);
            return rc == T1_E_ABSENT ? TOK_E_ABSENT : TOK_E_DEVICE;
        }
    }
    return TOK_OK;
}

static void dev_unlock(struct tok_dev *d)
{
    d->lock_depth--;
    bus_unlock(d->bus);
}

static int se_lock_op(struct tok_dev *d) { return dev_lock(d); }
static void se_unlock_op(struct tok_dev *d) { dev_unlock(d); }

/* A 6A80 on an operation naming an object means either a missing object or
 * bad input; asking the chip tells which. */
static int tok_of_id(struct tok_dev *d, uint32_t id, int se)
{
    bool exists = true;

    if (se == SE_E_WRONG_DATA && se_check_exists(&d->t1, id, &exists) == SE_OK && !exists)
        return TOK_E_NOT_FOUND;
    return tok_of(se);
}

/* Key cache. */

static struct key_info *cache_find(struct tok_dev *d, uint32_t id)
{
    for (size_t i = 0; i < KEY_CACHE; i++)
        if (d->cache[i].valid && d->cache[i].id == id)
            return &d->cache[i];
    return NULL;
}

static void cache_drop(struct tok_dev *d, uint32_t id)
{
    struct key_info *k = cache_find(d, id);

    if (k != NULL)
        k->valid = false;
}

static void cache_put(struct tok_dev *d, const struct key_info *k)
{
    struct key_info *slot = cache_find(d, k->id);

    if (slot == NULL) {
        slot = &d->cache[d->cache_next];
        d->cache_next = (d->cache_next + 1) % KEY_CACHE;
    }
    *slot = *k;
    slot->valid = true;
}

/* Object types of applet 3.x, and the per-curve ones of 7.x (§3.6.5). */
static int classify(uint8_t type, struct key_info *k)
{
    static const struct {
        uint8_t base;
        enum tok_curve curve;
    } v7[] = {{0x29, TOK_CURVE_P256}, {0x2D, TOK_CURVE_P384}, {0x31, TOK_CURVE_P521}};

    k->type = type;
    k->curve = TOK_CURVE_NONE;
    switch (type) {
    case SE_TYPE_EC_PAIR:
    case SE_TYPE_EC_PRIV:
        k->key_type = TOK_KEY_EC;
        k->priv = true;
        return 0;
    case SE_TYPE_EC_PUB:
        k->key_type = TOK_KEY_EC;
        k->priv = false;
        return 0;
    case SE_TYPE_RSA_PAIR:
    case SE_TYPE_RSA_PAIR_CRT:
    case SE_TYPE_RSA_PRIV:
    case SE_TYPE_RSA_PRIV_CRT:
        k->key_type = TOK_KEY_RSA;
        k->priv = true;
        return 0;
    case SE_TYPE_RSA_PUB:
        k->key_type = TOK_KEY_RSA;
        k->priv = false;
        return 0;
    default:
        break;
    }
    for (size_t i = 0; i < sizeof v7 / sizeof v7[0]; i++) {
        if (type >= v7[i].base && type <= v7[i].base + 2) {
            k->key_type = TOK_KEY_EC;
            k->curve = v7[i].curve;
            k->priv = type != v7[i].base + 2;
            return 0;
        }
    }
    return -1;
}

/* What the key at id is: from the cache, else from the chip (under lock).
 * TOK_E_NOT_FOUND for no object, TOK_E_UNSUPPORTED for one that is not a key
 * of ours (binary file, other curve). */
static int key_info(struct tok_dev *d, uint32_t id, struct key_info *out)
{
    struct key_info k = {.id = id};
    struct key_info *c = cache_find(d, id);
    uint8_t type, transient, curve_id;
    uint16_t size;
    int rc;

    if (c != NULL) {
        *out = *c;
        return TOK_OK;
    }
    rc = se_read_type(&d->t1, id, &type, &transient);
    if (rc != SE_OK)
        return tok_of_id(d, id, rc);
    if (classify(type, &k) != 0)
        return TOK_E_UNSUPPORTED;
    if (k.key_type == TOK_KEY_EC && k.curve == TOK_CURVE_NONE) {
        rc = se_get_curve_id(&d->t1, id, &curve_id);
        if (rc != SE_OK)
            return tok_of(rc);
        k.curve = se_curve_from_id(curve_id);
        if (k.curve == TOK_CURVE_NONE)
            return TOK_E_UNSUPPORTED;
    }
    if (k.key_type == TOK_KEY_EC) {
        k.bits = se_curve_bits(k.curve);
    } else {
        rc = se_read_size(&d->t1, id, &size);
        if (rc != SE_OK)
            return tok_of(rc);
        k.bits = 8u * size;
    }
    cache_put(d, &k);
    *out = k;
    return TOK_OK;
}

/* Open, close, info. */

static void hex_of(const uint8_t *b, size_t n, char *out, size_t cap)
{
    size_t i;

    for (i = 0; i < n && 2 * i + 2 < cap; i++)
        snprintf(out + 2 * i, 3, "%02X", b[i]);
    out[2 * i] = 0;
}

static int read_serial(struct tok_dev *d)
{
    uint8_t uid[32];
    size_t n = sizeof uid;
    int rc = se_read_object(&d->t1, ID_UNIQUE, false, 0, 0, -1, uid, &n);

    if (rc != SE_OK) {
        log_warn("se050", "%s: no unique id object: %s", bus_name(d->bus), se_strerror(rc));
        return rc;
    }
    /* 18 bytes; the serial field holds 16: the leading two are the same on
     * every part of a family, the rest tell the chips apart. */
    if (n > 16)
        hex_of(uid + n - 16, 16, d->serial, sizeof d->serial);
    else
        hex_of(uid, n, d->serial, sizeof d->serial);
    return SE_OK;
}

static int se_open(struct bus *bus, const struct tok_opts *opts, struct tok_dev **out)
{
    struct tok_dev *d = calloc(1, sizeof *d);
    struct t1_transport tr = {.write = tr_write, .read = tr_read, .delay_us = tr_delay};
    struct t1_atr atr;
    uint8_t sel[7];
    int rc, trc;

    if (d == NULL)
        return TOK_E_NOMEM;
    d->bus = bus;
    d->addr = opts != NULL && opts->address != 0 ? opts->address : SE050_DEFAULT_ADDR;
    tr.ctx = d;
    t1_init(&d->t1, &tr);
    rc = dev_lock(d);
    if (rc != TOK_OK)
        goto fail;
    trc = t1_soft_reset(&d->t1, &atr);
    if (trc != T1_OK) {
        rc = trc == T1_E_ABSENT ? TOK_E_ABSENT : TOK_E_DEVICE;
        log_error("se050", "%s: no ATR at 0x%02x: %s", bus_name(bus), d->addr,
                  t1_strerror(trc));
        goto fail_unlock;
    }
    rc = se_select(&d->t1, sel);
    if (rc == SE_OK)
        rc = se_get_version(&d->t1, d->version);
    if (rc != SE_OK) {
        log_error("se050", "%s: IoT applet: %s", bus_name(bus), se_strerror(rc));
        rc = rc == SE_E_ABSENT ? TOK_E_ABSENT : TOK_E_DEVICE;
        goto fail_unlock;
    }
    read_serial(d);
    d->linked = true;
    dev_unlock(d);
    log_info("se050", "%s: SE050 applet %u.%u.%u", bus_name(bus), d->version[0], d->version[1],
             d->version[2]);
    *out = d;
    return TOK_OK;

fail_unlock:
    dev_unlock(d);
fail:
    free(d);
    return rc;
}

static void se_close(struct tok_dev *d) { free(d); }

static const struct tok_caps *se_caps_op(struct tok_dev *d)
{
    (void)d;
    return &se_caps;
}

static int se_info(struct tok_dev *d, struct tok_info *out)
{
    uint16_t free_bytes = 0;
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "SE050");
    snprintf(out->manufacturer, sizeof out->manufacturer, "NXP");
    snprintf(out->serial, sizeof out->serial, "%s", d->serial);
    out->fw_major = d->version[0];
    out->fw_minor = d->version[1];
    out->provisioned = true;
    out->free_memory = -1;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    rc = se_free_memory(&d->t1, MEM_PERSISTENT, &free_bytes);
    dev_unlock(d);
    if (rc != SE_OK)
        return tok_of(rc);
    out->free_memory = free_bytes; /* 0x7FFF: at least that much */
    return TOK_OK;
}

/* Listing. */

/* All ids of a type, in a malloc'ed array. */
static int list_ids(struct tok_dev *d, uint8_t filter, uint32_t **ids, size_t *n)
{
    size_t cap = 128;

    for (int pass = 0; pass < 2; pass++) {
        uint32_t *buf = calloc(cap, sizeof *buf);
        size_t got = cap;
        int rc;

        if (buf == NULL)
            return TOK_E_NOMEM;
        rc = se_read_id_list(&d->t1, filter, buf, &got);
        if (rc == SE_OK) {
            *ids = buf;
            *n = got;
            return TOK_OK;
        }
        free(buf);
        if (rc != SE_E_OVERFLOW)
            return tok_of(rc);
        cap = got;
    }
    return TOK_E_DEVICE;
}

static int se_list_keys(struct tok_dev *d, struct tok_key *keys, size_t *n)
{
    uint32_t *ids = NULL;
    size_t nids = 0, count = 0;
    int rc = dev_lock(d);

    if (rc != TOK_OK)
        return rc;
    rc = list_ids(d, SE_TYPE_ALL, &ids, &nids);
    for (size_t i = 0; rc == TOK_OK && i < nids; i++) {
        struct key_info k;
        int krc;

        if (id_reserved(ids[i]))
            continue;
        krc = key_info(d, ids[i], &k);
        if (krc == TOK_E_UNSUPPORTED || krc == TOK_E_NOT_FOUND)
            continue; /* not a key of ours, or gone since the listing */
        if (krc != TOK_OK) {
            rc = krc;
            break;
        }
        if (count < *n) {
            struct tok_key *t = &keys[count];

            t->id = ids[i];
            t->type = k.key_type;
            t->curve = k.curve;
            t->bits = k.bits;
            t->flags = TOK_KEYF_EXISTS;
            if (k.priv)
                t->flags |= TOK_KEYF_PRIVATE | TOK_KEYF_SIGN |
                            (k.key_type == TOK_KEY_EC ? TOK_KEYF_DERIVE : 0);
            if (id_factory(ids[i]))
                t->flags |= TOK_KEYF_PERMANENT;
        }
        count++;
    }
    dev_unlock(d);
    free(ids);
    if (rc != TOK_OK)
        return rc;
    rc = count > *n ? TOK_E_FULL : TOK_OK;
    *n = count;
    return rc;
}

/* Public keys. */

static int read_public_locked(struct tok_dev *d, const struct key_info *k,
                              struct tok_pubkey *out)
{
    size_t n;
    int rc;

    memset(out, 0, sizeof *out);
    out->type = k->key_type;
    out->curve = k->curve;
    if (k->key_type == TOK_KEY_EC) {
        n = sizeof out->point;
        rc = se_read_object(&d->t1, k->id, false, 0, 0, -1, out->point, &n);
        if (rc != SE_OK)
            return tok_of_id(d, k->id, rc);
        if (n != 1 + 2 * se_curve_bytes(k->curve) || out->point[0] != 0x04)
            return TOK_E_DEVICE;
        out->point_len = n;
        return TOK_OK;
    }
    n = sizeof out->modulus;
    rc = se_read_object(&d->t1, k->id, false, 0, 0, SE_RSA_COMP_MOD, out->modulus, &n);
    if (rc != SE_OK)
        return tok_of_id(d, k->id, rc);
    out->modulus_len = n;
    n = sizeof out->exponent;
    rc = se_read_object(&d->t1, k->id, false, 0, 0, SE_RSA_COMP_PUB_EXP, out->exponent, &n);
    if (rc != SE_OK)
        return tok_of(rc);
    out->exponent_len = n;
    if (out->modulus_len == 0 || out->exponent_len == 0)
        return TOK_E_DEVICE;
    return TOK_OK;
}

static int se_read_public(struct tok_dev *d, uint32_t id, struct tok_pubkey *out)
{
    struct key_info k;
    int rc = dev_lock(d);

    if (rc != TOK_OK)
        return rc;
    rc = key_info(d, id, &k);
    if (rc == TOK_OK)
        rc = read_public_locked(d, &k, out);
    dev_unlock(d);
    return rc;
}

/* Key creation. */

/* §3.7.14: a Weierstrass curve must exist on the chip before its first use. */
static int ensure_curve(struct tok_dev *d, enum tok_curve curve)
{
    static const uint8_t order[] = {SE_PARAM_A, SE_PARAM_B, SE_PARAM_G, SE_PARAM_N,
                                    SE_PARAM_PRIME};
    uint8_t list[SE_CURVE_LIST_LEN], id = se_curve_id(curve);
    struct se_curve_params p;
    struct se_cmd c;
    int rc;

    if (d->curve_ready[curve])
        return TOK_OK;
    rc = se_curve_list(&d->t1, list);
    if (rc != SE_OK)
        return tok_of(rc);
    if (list[id - 1] == 0x02) {
        d->curve_ready[curve] = true;
        return TOK_OK;
    }
    if (se_curve_params(curve, &p) != 0)
        return TOK_E_DEVICE;
    rc = se_build_create_curve(&c, id);
    if (rc == SE_OK)
        rc = se_run(&d->t1, &c);
    if (rc != SE_OK && rc != SE_E_CONDITIONS) /* 6985: created, parameters pending */
        return tok_of(rc);
    for (size_t i = 0; i < sizeof order; i++) {
        const uint8_t *v = order[i] == SE_PARAM_A   ? p.a
                           : order[i] == SE_PARAM_B ? p.b
                           : order[i] == SE_PARAM_G ? p.g
                           : order[i] == SE_PARAM_N ? p.order
                                                    : p.prime;
        size_t len = order[i] == SE_PARAM_G ? p.g_len : p.field_len;

        rc = se_build_set_curve_param(&c, id, order[i], v, len);
        if (rc == SE_OK)
            rc = se_run(&d->t1, &c);
        if (rc != SE_OK) {
            log_error("se050", "curve %02x parameter %02x: %s", id, order[i],
                      se_strerror(rc));
            return tok_of(rc);
        }
    }
    d->curve_ready[curve] = true;
    return TOK_OK;
}

static bool rsa_bits_ok(unsigned bits) { return bits == 2048 || bits == 3072 || bits == 4096; }

static int check_new_id(struct tok_dev *d, uint32_t id)
{
    bool exists = false;
    int rc;

    if (id == 0)
        return TOK_E_ARGS;
    if (id_factory(id))
        return TOK_E_POLICY;
    rc = se_check_exists(&d->t1, id, &exists);
    if (rc != SE_OK)
        return tok_of(rc);
    return exists ? TOK_E_EXISTS : TOK_OK;
}

static int se_generate(struct tok_dev *d, uint32_t id, enum tok_key_type type,
                          enum tok_curve curve, unsigned bits, struct tok_pubkey *pub)
{
    struct key_info k = {.id = id, .key_type = type, .priv = true};
    struct se_cmd c;
    int rc;

    if (type == TOK_KEY_EC && se_curve_id(curve) == 0)
        return TOK_E_UNSUPPORTED;
    if (type == TOK_KEY_RSA && !rsa_bits_ok(bits))
        return TOK_E_UNSUPPORTED;
    if (type != TOK_KEY_EC && type != TOK_KEY_RSA)
        return TOK_E_ARGS;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    cache_drop(d, id);
    rc = check_new_id(d, id);
    if (rc == TOK_OK && type == TOK_KEY_EC)
        rc = ensure_curve(d, curve);
    if (rc != TOK_OK)
        goto out;
    if (type == TOK_KEY_EC) {
        k.type = SE_TYPE_EC_PAIR;
        k.curve = curve;
        k.bits = se_curve_bits(curve);
        rc = se_build_write_ec_key(&c, id, SE_P1_KEY_PAIR, se_curve_id(curve), NULL, 0,
                                      NULL, 0);
    } else {
        k.type = SE_TYPE_RSA_PAIR_CRT;
        k.bits = bits;
        rc = se_build_write_rsa_key(&c, id, SE_P1_KEY_PAIR, SE_RSA_FORMAT_CRT, bits, 0, NULL,
                                       0);
    }
    if (rc == SE_OK)
        rc = se_run(&d->t1, &c);
    if (rc != SE_OK) {
        log_error("se050", "generate at 0x%08x: %s", id, se_strerror(rc));
        rc = tok_of(rc);
        goto out;
    }
    cache_put(d, &k);
    rc = pub != NULL ? read_public_locked(d, &k, pub) : TOK_OK;
out:
    dev_unlock(d);
    return rc;
}

/* Strips leading zeros; the applet wants an odd-length component prefixed
 * by one zero (§3.2, "ByteShift"). Returns the length written to out. */
static size_t rsa_component(const uint8_t *v, size_t len, uint8_t *out, size_t cap)
{
    size_t pos = 0;

    while (len > 0 && v[0] == 0) {
        v++;
        len--;
    }
    if (len == 0 || len + 1 > cap)
        return 0;
    if (len % 2 == 1)
        out[pos++] = 0;
    memcpy(out + pos, v, len);
    return pos + len;
}

static int import_rsa(struct tok_dev *d, uint32_t id, const struct tok_privkey *key)
{
    const struct {
        uint8_t tag;
        const uint8_t *v;
        size_t len;
        bool shift;
    } parts[] = {
        {SE_RSA_TAG_P, key->p, key->p_len, true},   {SE_RSA_TAG_Q, key->q, key->q_len, true},
        {SE_RSA_TAG_DP, key->dp, key->dp_len, true}, {SE_RSA_TAG_DQ, key->dq, key->dq_len, true},
        {SE_RSA_TAG_QINV, key->qinv, key->qinv_len, true},
        {SE_RSA_TAG_E, key->e, key->e_len, false},   {SE_RSA_TAG_N, key->n, key->n_len, true},
    };
    size_t nlen = key->n_len;
    const uint8_t *n = key->n;
    unsigned bits;
    int rc = SE_OK;

    while (nlen > 0 && n[0] == 0) {
        n++;
        nlen--;
    }
    bits = (unsigned)nlen * 8;
    if (!rsa_bits_ok(bits))
        return TOK_E_UNSUPPORTED;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i].v == NULL || parts[i].len == 0 || parts[i].len > 512)
            return TOK_E_ARGS;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        uint8_t buf[520];
        size_t len;
        struct se_cmd c;

        if (parts[i].shift) {
            len = rsa_component(parts[i].v, parts[i].len, buf, sizeof buf);
        } else {
            len = parts[i].len;
            memcpy(buf, parts[i].v, len);
        }
        if (len == 0)
            return TOK_E_ARGS;
        /* The first APDU creates the object: key pair, CRT format, size. */
        rc = se_build_write_rsa_key(&c, id, i == 0 ? SE_P1_KEY_PAIR : 0, SE_RSA_FORMAT_CRT,
                                       i == 0 ? bits : 0, parts[i].tag, buf, len);
        OPENSSL_cleanse(buf, sizeof buf);
        if (rc == SE_OK)
            rc = se_run(&d->t1, &c);
        OPENSSL_cleanse(c.buf, sizeof c.buf);
        if (rc != SE_OK) {
            log_error("se050", "RSA import at 0x%08x, part %zu: %s", id, i, se_strerror(rc));
            if (i > 0)
                se_delete(&d->t1, id); /* no half key left behind */
            return tok_of(rc);
        }
    }
    return TOK_OK;
}

static int import_ec(struct tok_dev *d, uint32_t id, const struct tok_privkey *key)
{
    size_t size = se_curve_bytes(key->curve);
    uint8_t dbuf[66];
    struct se_cmd c;
    int rc;

    if (size == 0)
        return TOK_E_UNSUPPORTED;
    if (key->d == NULL || key->d_len == 0 || key->d_len > size || key->point == NULL ||
        key->point_len != 1 + 2 * size || key->point[0] != 0x04)
        return TOK_E_ARGS;
    rc = ensure_curve(d, key->curve);
    if (rc != TOK_OK)
        return rc;
    memset(dbuf, 0, sizeof dbuf);
    memcpy(dbuf + size - key->d_len, key->d, key->d_len);
    rc = se_build_write_ec_key(&c, id, SE_P1_KEY_PAIR, se_curve_id(key->curve), dbuf, size,
                                  key->point, key->point_len);
    OPENSSL_cleanse(dbuf, sizeof dbuf);
    if (rc == SE_OK)
        rc = se_run(&d->t1, &c);
    OPENSSL_cleanse(c.buf, sizeof c.buf);
    if (rc != SE_OK)
        log_error("se050", "EC import at 0x%08x: %s", id, se_strerror(rc));
    return tok_of(rc);
}

static int se_import_key(struct tok_dev *d, uint32_t id, const struct tok_privkey *key)
{
    int rc;

    if (key == NULL || (key->type != TOK_KEY_EC && key->type != TOK_KEY_RSA))
        return TOK_E_ARGS;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    cache_drop(d, id);
    rc = check_new_id(d, id);
    if (rc == TOK_OK)
        rc = key->type == TOK_KEY_EC ? import_ec(d, id, key) : import_rsa(d, id, key);
    dev_unlock(d);
    return rc;
}

static int se_destroy(struct tok_dev *d, uint32_t id)
{
    int rc;

    if (id_factory(id))
        return TOK_E_POLICY;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    cache_drop(d, id);
    rc = se_delete(&d->t1, id);
    rc = rc == SE_OK ? TOK_OK : tok_of_id(d, id, rc);
    dev_unlock(d);
    return rc;
}

/* Signatures. */

static int ecdsa_algo(size_t len, uint8_t *algo)
{
    switch (len) {
    case 20: *algo = 0x11; return 0;
    case 28: *algo = 0x25; return 0;
    case 32: *algo = 0x21; return 0;
    case 48: *algo = 0x22; return 0;
    case 64: *algo = 0x26; return 0;
    default: return -1;
    }
}

/* The applet takes digests of the SHA sizes only. A P-521 input of the
 * curve's 66 bytes is used by ECDSA as its leftmost 521 bits, i.e. shifted
 * right by 7: when that fits 512 bits, the 64-byte value is the same number. */
static int p521_input(const uint8_t *in, uint8_t out[64])
{
    if (in[0] != 0 || (in[1] & 0x80) != 0)
        return -1;
    for (size_t i = 0; i < 64; i++)
        out[i] = (uint8_t)(in[i + 1] << 1 | in[i + 2] >> 7);
    return 0;
}

/* The chip's DER ECDSA-Sig-Value to fixed-width r||s. */
static int der_to_raw(const uint8_t *der, size_t len, size_t width, uint8_t *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    const BIGNUM *r, *s;
    int rc = -1;

    if (sig == NULL)
        return -1;
    ECDSA_SIG_get0(sig, &r, &s);
    if (p == der + len && BN_bn2binpad(r, out, (int)width) == (int)width &&
        BN_bn2binpad(s, out + width, (int)width) == (int)width)
        rc = 0;
    ECDSA_SIG_free(sig);
    return rc;
}

/* The sign helpers run under the device lock. */
static int sign_ec(struct tok_dev *d, const struct key_info *k, const struct tok_sign_req *req,
                   uint8_t *sig, size_t *sig_len)
{
    size_t width = se_curve_bytes(k->curve), der_len = 0;
    uint8_t der[160], in[64], algo;
    const uint8_t *digest = req->in;
    size_t dlen = req->in_len;
    int rc;

    if (req->alg != TOK_SIG_ECDSA)
        return TOK_E_UNSUPPORTED;
    if (k->curve == TOK_CURVE_P521 && dlen == 66) {
        if (p521_input(req->in, in) != 0)
            return TOK_E_DATA_LEN;
        digest = in;
        dlen = 64;
    }
    if (ecdsa_algo(dlen, &algo) != 0)
        return TOK_E_DATA_LEN;
    if (*sig_len < 2 * width) {
        *sig_len = 2 * width;
        return TOK_E_FULL;
    }
    der_len = sizeof der;
    rc = se_ecdsa_sign(&d->t1, k->id, algo, digest, dlen, der, &der_len);
    if (rc != SE_OK) {
        cache_drop(d, k->id);
        return tok_of_id(d, k->id, rc);
    }
    if (der_to_raw(der, der_len, width, sig) != 0) {
        log_error("se050", "signature of 0x%08x: malformed DER", k->id);
        return TOK_E_DEVICE;
    }
    *sig_len = 2 * width;
    return TOK_OK;
}

static int sign_rsa(struct tok_dev *d, const struct key_info *k, const struct tok_sign_req *req,
                    uint8_t *sig, size_t *sig_len)
{
    size_t mod_len = (k->bits + 7) / 8, out_len;
    uint8_t em[512], out[512];
    int rc;

    if (mod_len > sizeof em)
        return TOK_E_UNSUPPORTED;
    if (req->in_len != rsa_pad_hash_len(req->hash))
        return TOK_E_DATA_LEN;
    if (req->alg == TOK_SIG_RSA_PKCS1)
        rc = rsa_pad_pkcs1(req->hash, req->in, req->in_len, em, mod_len);
    else if (req->alg == TOK_SIG_RSA_PSS)
        rc = rsa_pad_pss(req->hash, req->in, req->in_len, req->salt_len, k->bits, em, mod_len);
    else
        return TOK_E_UNSUPPORTED;
    if (rc != 0)
        return TOK_E_DATA_LEN;
    if (*sig_len < mod_len) {
        *sig_len = mod_len;
        return TOK_E_FULL;
    }
    /* The encoded block through the raw private-key operation (§3.6.3). */
    out_len = sizeof out;
    rc = se_rsa_decrypt(&d->t1, k->id, SE_RSA_NO_PAD, em, mod_len, out, &out_len);
    if (rc != SE_OK) {
        cache_drop(d, k->id);
        return tok_of_id(d, k->id, rc);
    }
    if (out_len > mod_len)
        return TOK_E_DEVICE;
    memset(sig, 0, mod_len - out_len);
    memcpy(sig + mod_len - out_len, out, out_len);
    *sig_len = mod_len;
    return TOK_OK;
}

/* One APDU when the key is known: the key's facts come from the cache. */
static int se_sign(struct tok_dev *d, uint32_t id, const struct tok_sign_req *req,
                      uint8_t *sig, size_t *sig_len)
{
    struct key_info k;
    int rc;

    if (req == NULL || req->in == NULL || sig == NULL || sig_len == NULL)
        return TOK_E_ARGS;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    rc = key_info(d, id, &k);
    if (rc == TOK_OK && !k.priv)
        rc = TOK_E_POLICY;
    if (rc == TOK_OK)
        rc = k.key_type == TOK_KEY_EC ? sign_ec(d, &k, req, sig, sig_len)
                                      : sign_rsa(d, &k, req, sig, sig_len);
    dev_unlock(d);
    return rc;
}

static int se_ecdh_op(struct tok_dev *d, uint32_t id, const uint8_t *peer, size_t peer_len,
                         uint8_t *out, size_t *out_len)
{
    struct key_info k;
    size_t width, n;
    uint8_t buf[80];
    int rc;

    if (peer == NULL || out == NULL || out_len == NULL)
        return TOK_E_ARGS;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    rc = key_info(d, id, &k);
    if (rc != TOK_OK)
        goto out;
    width = se_curve_bytes(k.curve);
    if (k.key_type != TOK_KEY_EC || !k.priv) {
        rc = TOK_E_POLICY;
        goto out;
    }
    if (peer_len != 1 + 2 * width || peer[0] != 0x04) {
        rc = TOK_E_DATA_LEN;
        goto out;
    }
    if (*out_len < width) {
        *out_len = width;
        rc = TOK_E_FULL;
        goto out;
    }
    n = sizeof buf;
    rc = se_ecdh(&d->t1, id, peer, peer_len, buf, &n);
    if (rc != SE_OK) {
        rc = tok_of_id(d, id, rc);
        goto out;
    }
    if (n != width) {
        rc = TOK_E_DEVICE;
        goto out;
    }
    memcpy(out, buf, n);
    OPENSSL_cleanse(buf, sizeof buf);
    *out_len = n;
out:
    dev_unlock(d);
    return rc;
}

static int se_random_op(struct tok_dev *d, uint8_t *buf, size_t len)
{
    int rc = dev_lock(d);

    if (rc != TOK_OK)
        return rc;
    rc = tok_of(se_get_random(&d->t1, buf, len));
    dev_unlock(d);
    return rc;
}

/* Binary objects. */

static int se_data_list(struct tok_dev *d, uint32_t *ids, size_t *n)
{
    uint32_t *all = NULL;
    size_t nall = 0, count = 0;
    int rc = dev_lock(d);

    if (rc != TOK_OK)
        return rc;
    rc = list_ids(d, SE_TYPE_BINARY, &all, &nall);
    dev_unlock(d);
    if (rc != TOK_OK)
        return rc;
    for (size_t i = 0; i < nall; i++) {
        if (id_reserved(all[i]))
            continue; /* the applet's own files (unique id) */
        if (count < *n)
            ids[count] = all[i];
        count++;
    }
    free(all);
    rc = count > *n ? TOK_E_FULL : TOK_OK;
    *n = count;
    return rc;
}

/* The size of the binary object at id (under lock). */
static int binary_size(struct tok_dev *d, uint32_t id, uint16_t *size)
{
    uint8_t type, transient;
    int rc = se_read_type(&d->t1, id, &type, &transient);

    if (rc != SE_OK)
        return tok_of_id(d, id, rc);
    if (type != SE_TYPE_BINARY)
        return TOK_E_NOT_FOUND;
    rc = se_read_size(&d->t1, id, size);
    return tok_of(rc);
}

static int se_data_read(struct tok_dev *d, uint32_t id, uint8_t *buf, size_t *len)
{
    uint16_t size = 0;
    int rc = dev_lock(d);

    if (rc != TOK_OK)
        return rc;
    rc = binary_size(d, id, &size);
    if (rc == TOK_OK && *len < size) {
        *len = size;
        rc = TOK_E_FULL;
    }
    for (size_t off = 0; rc == TOK_OK && off < size;) {
        size_t want = size - off > SE050_CHUNK ? SE050_CHUNK : size - off, got = want;
        int se = se_read_object(&d->t1, id, true, (uint16_t)off, (uint16_t)want, -1,
                                   buf + off, &got);

        if (se != SE_OK)
            rc = tok_of(se);
        else if (got != want)
            rc = TOK_E_DEVICE;
        off += want;
    }
    if (rc == TOK_OK)
        *len = size;
    dev_unlock(d);
    return rc;
}

static int write_chunks(struct tok_dev *d, uint32_t id, const uint8_t *buf, size_t len,
                        bool create)
{
    for (size_t off = 0; off < len;) {
        size_t n = len - off > SE050_CHUNK ? SE050_CHUNK : len - off;
        struct se_cmd c;
        int rc = se_build_write_binary(&c, id, (uint16_t)off,
                                          create && off == 0 ? (uint16_t)len : 0, buf + off, n);

        if (rc == SE_OK)
            rc = se_run(&d->t1, &c);
        if (rc != SE_OK) {
            log_error("se050", "write of 0x%08x at %zu: %s", id, off, se_strerror(rc));
            return tok_of(rc);
        }
        off += n;
    }
    return TOK_OK;
}

static int se_data_write(struct tok_dev *d, uint32_t id, const uint8_t *buf, size_t len)
{
    bool exists = false, create = true;
    uint16_t size = 0;
    int rc;

    if (id == 0 || buf == NULL)
        return TOK_E_ARGS;
    if (id_factory(id))
        return TOK_E_POLICY;
    if (len == 0 || len > 0x7FFF)
        return TOK_E_DATA_LEN;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    rc = tok_of(se_check_exists(&d->t1, id, &exists));
    if (rc == TOK_OK && exists) {
        rc = binary_size(d, id, &size);
        if (rc == TOK_E_NOT_FOUND)
            rc = TOK_E_EXISTS; /* a key lives there */
        /* A file's size is fixed at creation: same size, write over it. */
        if (rc == TOK_OK && size == len)
            create = false;
        else if (rc == TOK_OK)
            rc = tok_of(se_delete(&d->t1, id));
    }
    if (rc == TOK_OK)
        rc = write_chunks(d, id, buf, len, create);
    if (rc != TOK_OK && create)
        se_delete(&d->t1, id); /* never leave a partial file */
    dev_unlock(d);
    return rc;
}

static int se_data_delete(struct tok_dev *d, uint32_t id)
{
    uint16_t size;
    int rc;

    if (id_factory(id))
        return TOK_E_POLICY;
    rc = dev_lock(d);
    if (rc != TOK_OK)
        return rc;
    rc = binary_size(d, id, &size);
    if (rc == TOK_OK)
        rc = tok_of(se_delete(&d->t1, id));
    dev_unlock(d);
    return rc;
}

const struct token_ops token_ops_se050 = {
    .chip = "se050",
    .default_address = SE050_DEFAULT_ADDR,
    .open = se_open,
    .close = se_close,
    .info = se_info,
    .caps = se_caps_op,
    .lock = se_lock_op,
    .unlock = se_unlock_op,
    .list_keys = se_list_keys,
    .read_public = se_read_public,
    .generate = se_generate,
    .destroy = se_destroy,
    .sign = se_sign,
    .ecdh = se_ecdh_op,
    .random = se_random_op,
    .import_key = se_import_key,
    .data_list = se_data_list,
    .data_read = se_data_read,
    .data_write = se_data_write,
    .data_delete = se_data_delete,
};
