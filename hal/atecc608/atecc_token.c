/* The ATECC608 behind the chip-neutral token interface (module/token.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/atecc608/atecc.h"
#include "hal/atecc608/atecc_cert.h"
#include "hal/log.h"
#include "module/token.h"

#define P256_POINT_LEN 65
#define P256_BYTES 32

struct tok_dev {
    struct atecc_dev *chip;
    struct tok_caps caps;
    /* The factory certificates, rebuilt once per open: their slots are
     * never-write, so the chip cannot change them. */
    bool certs_loaded;
    struct atecc_tng_certs certs;
};

/* Chip and host errors shared by every operation; operation-specific
 * meanings of a chip refusal are mapped by the caller first. */
static int tok_err_from(int rc)
{
    switch (rc) {
    case ATECC_OK: return TOK_OK;
    case ATECC_E_ARGS: return TOK_E_ARGS;
    case ATECC_E_NOMEM: return TOK_E_NOMEM;
    case ATECC_E_POLICY: return TOK_E_POLICY;
    case ATECC_E_LOCKED: return TOK_E_LOCKED;
    case ATECC_E_ABSENT: return TOK_E_ABSENT;
    default: return TOK_E_DEVICE;
    }
}

/* A key the chip refused although the host checks passed: the slot's
 * policy (e.g. PersistentDisable without the latch) said no. */
static int tok_err_key(int rc)
{
    return rc == ATECC_E_EXEC ? TOK_E_POLICY : tok_err_from(rc);
}

static unsigned count_key_slots(const struct atecc_dev *chip)
{
    unsigned n = 0;
    struct atecc_slot s;

    if (!atecc_is_config_locked(chip))
        return 0;
    for (unsigned i = 0; i < ATECC_SLOTS; i++)
        if (atecc_slot(chip, i, &s) && s.p256_private)
            n++;
    return n;
}

static void fill_caps(struct tok_dev *dev)
{
    memset(&dev->caps, 0, sizeof dev->caps);
    dev->caps.curves = 1u << TOK_CURVE_P256;
    dev->caps.ecdh = true;
    dev->caps.hw_random = true;
    dev->caps.fixed_slots = true;
    dev->caps.import_keys = false;
    dev->caps.max_keys = count_key_slots(dev->chip);
}

static int tok_open(struct bus *bus, const struct tok_opts *opts, struct tok_dev **out)
{
    uint8_t addr = opts != NULL && opts->address != 0 ? opts->address : ATECC_DEFAULT_ADDRESS;
    struct tok_dev *dev = calloc(1, sizeof *dev);
    int rc;

    if (dev == NULL)
        return TOK_E_NOMEM;
    rc = atecc_open(bus, addr, &dev->chip);
    if (rc != ATECC_OK) {
        free(dev);
        return rc == ATECC_E_ABSENT ? TOK_E_ABSENT : tok_err_from(rc);
    }
    fill_caps(dev);
    *out = dev;
    return TOK_OK;
}

static void tok_close(struct tok_dev *dev)
{
    if (dev == NULL)
        return;
    atecc_close(dev->chip);
    free(dev);
}

static int info_locked(struct tok_dev *dev, struct tok_info *out)
{
    uint8_t sn[ATECC_SERIAL_SIZE], rev[4];
    int rc = atecc_refresh_locks(dev->chip);

    if (rc != ATECC_OK)
        return tok_err_from(rc);
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", atecc_model(dev->chip));
    snprintf(out->manufacturer, sizeof out->manufacturer, "Microchip Technology");
    atecc_serial(dev->chip, sn);
    for (unsigned i = 0; i < ATECC_SERIAL_SIZE; i++)
        snprintf(out->serial + 2 * i, sizeof out->serial - 2 * i, "%02X", sn[i]);
    atecc_revision(dev->chip, rev);
    out->hw_major = 0;
    out->hw_minor = rev[3];
    out->fw_major = 0;
    out->fw_minor = 0;
    out->provisioned = atecc_is_config_locked(dev->chip) && atecc_is_data_locked(dev->chip);
    out->free_memory = -1;
    return TOK_OK;
}

static int tok_lock(struct tok_dev *dev)
{
    return tok_err_from(atecc_lock(dev->chip));
}

static void tok_unlock(struct tok_dev *dev)
{
    atecc_unlock(dev->chip);
}

/* The config cache may be refreshed by another thread's operation: every
 * reader holds the device lock. */
#define LOCKED_CALL(dev, call)                                                                 \
    do {                                                                                       \
        int lrc_ = tok_lock(dev);                                                              \
        if (lrc_ != TOK_OK)                                                                    \
            return lrc_;                                                                       \
        lrc_ = (call);                                                                         \
        tok_unlock(dev);                                                                       \
        return lrc_;                                                                           \
    } while (0)

static int tok_info(struct tok_dev *dev, struct tok_info *out)
{
    LOCKED_CALL(dev, info_locked(dev, out));
}

static const struct tok_caps *tok_caps_get(struct tok_dev *dev)
{
    return &dev->caps;
}

/* A P-256 private key slot of this chip, or TOK_E_NOT_FOUND (logged). */
static int key_slot(const struct tok_dev *dev, uint32_t id, struct atecc_slot *s)
{
    if (id >= ATECC_SLOTS || !atecc_slot(dev->chip, (unsigned)id, s) || !s->p256_private) {
        log_error("atecc608", "slot %u: no P-256 private key slot there", (unsigned)id);
        return TOK_E_NOT_FOUND;
    }
    return TOK_OK;
}

static unsigned key_flags(const struct tok_dev *dev, const struct atecc_slot *s)
{
    unsigned f = TOK_KEYF_PRIVATE;
    bool clear_ecdh = atecc_config_ecdh_protection(atecc_config(dev->chip)) == 0;

    if (s->ext_sign && !s->req_auth)
        f |= TOK_KEYF_SIGN;
    if (s->ecdh && !s->ecdh_to_slot && clear_ecdh && !s->req_auth)
        f |= TOK_KEYF_DERIVE;
    if (!atecc_is_data_locked(dev->chip) || (s->genkey && !s->locked))
        f |= TOK_KEYF_GENERATE;
    else
        f |= TOK_KEYF_PERMANENT;
    return f;
}

static int list_locked(struct tok_dev *dev, struct tok_key *keys, size_t *n)
{
    size_t cap = *n, count = 0;
    struct atecc_slot s;
    int rc = atecc_refresh_locks(dev->chip);

    if (rc != ATECC_OK)
        return tok_err_from(rc);
    /* Before the config lock no slot holds a usable key. */
    for (unsigned i = 0; i < ATECC_SLOTS && atecc_is_config_locked(dev->chip); i++) {
        if (!atecc_slot(dev->chip, i, &s) || !s.p256_private)
            continue;
        if (count < cap && keys != NULL) {
            keys[count].id = i;
            keys[count].type = TOK_KEY_EC;
            keys[count].curve = TOK_CURVE_P256;
            keys[count].bits = 256;
            keys[count].flags = key_flags(dev, &s);
        }
        count++;
    }
    *n = count;
    return count > cap || (count > 0 && keys == NULL) ? TOK_E_FULL : TOK_OK;
}

static int tok_list_keys(struct tok_dev *dev, struct tok_key *keys, size_t *n)
{
    LOCKED_CALL(dev, list_locked(dev, keys, n));
}

static void pubkey_from_xy(struct tok_pubkey *pub, const uint8_t xy[64])
{
    memset(pub, 0, sizeof *pub);
    pub->type = TOK_KEY_EC;
    pub->curve = TOK_CURVE_P256;
    pub->point[0] = 0x04;
    memcpy(pub->point + 1, xy, 64);
    pub->point_len = P256_POINT_LEN;
}

static int read_public_locked(struct tok_dev *dev, uint32_t id, struct tok_pubkey *out)
{
    struct atecc_slot s;
    uint8_t xy[64];
    int rc = key_slot(dev, id, &s);

    if (rc != TOK_OK)
        return rc;
    rc = atecc_read_pubkey(dev->chip, (unsigned)id, xy);
    if (rc != ATECC_OK)
        return tok_err_key(rc);
    pubkey_from_xy(out, xy);
    return TOK_OK;
}

static int tok_read_public(struct tok_dev *dev, uint32_t id, struct tok_pubkey *out)
{
    LOCKED_CALL(dev, read_public_locked(dev, id, out));
}

static int regenerate_locked(struct tok_dev *dev, uint32_t id, uint8_t xy[64])
{
    struct atecc_slot s;
    int rc = key_slot(dev, id, &s);

    if (rc != TOK_OK)
        return rc;
    rc = atecc_genkey(dev->chip, (unsigned)id, xy);
    return rc == ATECC_OK ? TOK_OK : tok_err_key(rc);
}

static int regenerate(struct tok_dev *dev, uint32_t id, uint8_t xy[64])
{
    LOCKED_CALL(dev, regenerate_locked(dev, id, xy));
}

static int tok_generate(struct tok_dev *dev, uint32_t id, enum tok_key_type type,
                        enum tok_curve curve, unsigned bits, struct tok_pubkey *pub)
{
    uint8_t xy[64];
    int rc;

    (void)bits;
    if (type != TOK_KEY_EC || curve != TOK_CURVE_P256) {
        log_error("atecc608", "slot %u: only P-256 keys can be generated", (unsigned)id);
        return TOK_E_UNSUPPORTED;
    }
    rc = regenerate(dev, id, xy);
    if (rc == TOK_OK && pub != NULL)
        pubkey_from_xy(pub, xy);
    return rc;
}

/* The slot always holds a key; a fresh random one replaces the old. */
static int tok_destroy(struct tok_dev *dev, uint32_t id)
{
    uint8_t xy[64];

    return regenerate(dev, id, xy);
}

static int sign_locked(struct tok_dev *dev, uint32_t id, const uint8_t *digest, uint8_t *sig)
{
    struct atecc_slot s;
    int rc = key_slot(dev, id, &s);

    if (rc != TOK_OK)
        return rc;
    rc = atecc_sign_digest(dev->chip, (unsigned)id, digest, sig);
    return rc == ATECC_OK ? TOK_OK : tok_err_key(rc);
}

static int tok_sign(struct tok_dev *dev, uint32_t id, const struct tok_sign_req *req,
                    uint8_t *sig, size_t *sig_len)
{
    int rc;

    if (req->alg != TOK_SIG_ECDSA) {
        log_error("atecc608", "slot %u: only ECDSA signatures", (unsigned)id);
        return TOK_E_UNSUPPORTED;
    }
    if (req->in == NULL || req->in_len != P256_BYTES) {
        log_error("atecc608", "slot %u: ECDSA input of %zu bytes, need %u", (unsigned)id,
                  req->in_len, P256_BYTES);
        return TOK_E_DATA_LEN;
    }
    if (sig == NULL || *sig_len < 2 * P256_BYTES)
        return TOK_E_ARGS;
    rc = tok_lock(dev);
    if (rc != TOK_OK)
        return rc;
    rc = sign_locked(dev, id, req->in, sig);
    tok_unlock(dev);
    if (rc == TOK_OK)
        *sig_len = 2 * P256_BYTES;
    return rc;
}

/* What the chip refused after the host checks passed is the point. */
static int tok_err_ecdh(int rc)
{
    switch (rc) {
    case ATECC_E_PARSE:
    case ATECC_E_ECC:
    case ATECC_E_EXEC:
        return TOK_E_DATA_INVALID;
    default:
        return tok_err_from(rc);
    }
}

static int ecdh_locked(struct tok_dev *dev, uint32_t id, const uint8_t *peer, uint8_t *out)
{
    struct atecc_slot s;
    int rc = key_slot(dev, id, &s);

    if (rc != TOK_OK)
        return rc;
    return tok_err_ecdh(atecc_ecdh(dev->chip, (unsigned)id, peer + 1, out));
}

static int tok_ecdh(struct tok_dev *dev, uint32_t id, const uint8_t *peer, size_t peer_len,
                    uint8_t *out, size_t *out_len)
{
    int rc;

    if (peer == NULL || peer_len != P256_POINT_LEN || peer[0] != 0x04) {
        log_error("atecc608", "slot %u: ECDH peer is not an uncompressed P-256 point",
                  (unsigned)id);
        return TOK_E_DATA_INVALID;
    }
    if (out == NULL || *out_len < P256_BYTES)
        return TOK_E_ARGS;
    rc = tok_lock(dev);
    if (rc != TOK_OK)
        return rc;
    rc = ecdh_locked(dev, id, peer, out);
    tok_unlock(dev);
    if (rc == TOK_OK)
        *out_len = P256_BYTES;
    return rc;
}

static int tok_random(struct tok_dev *dev, uint8_t *buf, size_t len)
{
    if (len == 0)
        return TOK_OK;
    if (buf == NULL)
        return TOK_E_ARGS;
    return tok_err_from(atecc_random(dev->chip, buf, len));
}

static int certs_locked(struct tok_dev *dev)
{
    int rc;

    if (dev->certs_loaded)
        return TOK_OK;
    rc = atecc_cert_read_tng(dev->chip, &dev->certs);
    if (rc != ATECC_OK)
        return tok_err_from(rc);
    dev->certs_loaded = true;
    return TOK_OK;
}

static int cert_list_locked(struct tok_dev *dev, uint32_t *ids, size_t *n)
{
    size_t cap = *n;
    int rc = certs_locked(dev);

    if (rc != TOK_OK)
        return rc;
    *n = dev->certs.count;
    for (size_t i = 0; i < dev->certs.count && i < cap && ids != NULL; i++)
        ids[i] = dev->certs.cert[i].slot;
    return *n > cap || (*n > 0 && ids == NULL) ? TOK_E_FULL : TOK_OK;
}

static int tok_cert_list(struct tok_dev *dev, uint32_t *ids, size_t *n)
{
    LOCKED_CALL(dev, cert_list_locked(dev, ids, n));
}

static int cert_read_locked(struct tok_dev *dev, uint32_t id, uint8_t *der, size_t *len)
{
    int rc = certs_locked(dev);

    if (rc != TOK_OK)
        return rc;
    for (size_t i = 0; i < dev->certs.count; i++) {
        size_t size = dev->certs.cert[i].len;

        if (dev->certs.cert[i].slot != id)
            continue;
        if (der == NULL || *len < size) {
            *len = size;
            return TOK_E_FULL;
        }
        memcpy(der, dev->certs.cert[i].der, size);
        *len = size;
        return TOK_OK;
    }
    log_error("atecc608", "slot %u: no factory certificate there", (unsigned)id);
    return TOK_E_NOT_FOUND;
}

static int tok_cert_read(struct tok_dev *dev, uint32_t id, uint8_t *der, size_t *len)
{
    LOCKED_CALL(dev, cert_read_locked(dev, id, der, len));
}

const struct token_ops token_ops_atecc608 = {
    .chip = "atecc608",
    .default_address = ATECC_DEFAULT_ADDRESS,
    .open = tok_open,
    .close = tok_close,
    .info = tok_info,
    .caps = tok_caps_get,
    .lock = tok_lock,
    .unlock = tok_unlock,
    .list_keys = tok_list_keys,
    .read_public = tok_read_public,
    .generate = tok_generate,
    .destroy = tok_destroy,
    .sign = tok_sign,
    .ecdh = tok_ecdh,
    .random = tok_random,
    .cert_list = tok_cert_list,
    .cert_read = tok_cert_read,
};
