/* The SE050 emulator's secure objects: the store, its memory budget, object
 * policies and the factory objects of the default profile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hal/sim/se050_emu.h"

/* User NVM of an SE050C, and what the applet spends per object and per
 * curve beyond the payload (it reports free memory with 16-byte
 * granularity, worst case). */
#define MEM_BUDGET 50000u
#define OBJ_OVERHEAD 48u
#define CURVE_COST 320u

bool se050_type_known(uint8_t type)
{
    return (type >= SE050_T_EC_PAIR && type <= SE050_T_RSA_PUB) || type == SE050_T_BINARY;
}

bool se050_is_ec(uint8_t type)
{
    return type >= SE050_T_EC_PAIR && type <= SE050_T_EC_PUB;
}

bool se050_is_rsa(uint8_t type)
{
    return type >= SE050_T_RSA_PAIR && type <= SE050_T_RSA_PUB;
}

size_t se050_curve_bytes(uint8_t curve)
{
    switch (curve) {
    case 0x03:
        return 32;
    case 0x04:
        return 48;
    case 0x05:
        return 66;
    default:
        return 0;
    }
}

unsigned se050_rsa_needed(const struct se050_obj *o)
{
    unsigned pub = 1u << SE050_RSA_N | 1u << SE050_RSA_E;

    if (o->type == SE050_T_RSA_PUB)
        return pub;
    if (o->rsa_crt)
        return pub | 1u << SE050_RSA_P | 1u << SE050_RSA_Q | 1u << SE050_RSA_DP |
               1u << SE050_RSA_DQ | 1u << SE050_RSA_QINV;
    return pub | 1u << SE050_RSA_D;
}

struct se050_obj *se050_find(struct se050_chip *c, uint32_t id)
{
    for (size_t i = 0; i < c->nobj; i++)
        if (c->obj[i].id == id)
            return &c->obj[i];
    return NULL;
}

struct se050_obj *se050_add(struct se050_chip *c, uint32_t id)
{
    struct se050_obj *o;

    if (c->nobj == c->capobj) {
        size_t cap = c->capobj ? c->capobj * 2 : 16;
        struct se050_obj *n = realloc(c->obj, cap * sizeof *n);

        if (n == NULL)
            return NULL;
        c->obj = n;
        c->capobj = cap;
    }
    o = &c->obj[c->nobj++];
    memset(o, 0, sizeof *o);
    o->id = id;
    return o;
}

void se050_blob_free(struct se050_blob *b)
{
    if (b->buf != NULL)
        OPENSSL_clear_free(b->buf, b->len);
    b->buf = NULL;
    b->len = 0;
}

int se050_blob_set(struct se050_blob *b, const uint8_t *data, size_t len)
{
    uint8_t *n = NULL;

    if (len > 0) {
        n = malloc(len);
        if (n == NULL)
            return -1;
        if (data != NULL)
            memcpy(n, data, len);
        else
            memset(n, 0, len);
    }
    se050_blob_free(b);
    b->buf = n;
    b->len = len;
    return 0;
}

void se050_obj_clear(struct se050_obj *o)
{
    se050_key_cache_free(o);
    for (size_t i = 0; i < SE050_PARTS; i++)
        se050_blob_free(&o->part[i]);
}

void se050_remove(struct se050_chip *c, struct se050_obj *o)
{
    size_t i = (size_t)(o - c->obj);

    se050_obj_clear(o);
    memmove(&c->obj[i], &c->obj[i + 1], (c->nobj - i - 1) * sizeof *o);
    c->nobj--;
}

void se050_chip_free(struct se050_chip *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nobj; i++)
        se050_obj_clear(&c->obj[i]);
    free(c->obj);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

size_t se050_obj_cost(const struct se050_obj *o)
{
    size_t n = o->policy_len;

    if (o->origin == SE050_ORIGIN_NXP)
        return 0; /* outside the user memory */
    if (se050_is_rsa(o->type)) {
        /* The chip reserves room for every component of the key's format
         * at creation. */
        size_t half = (size_t)o->rsa_bits / 16, full = (size_t)o->rsa_bits / 8;

        switch (o->type) {
        case SE050_T_RSA_PUB:
            n += full + 4;
            break;
        case SE050_T_RSA_PAIR:
        case SE050_T_RSA_PRIV:
            n += 2 * full + 4;
            break;
        default:
            n += 5 * half + full + 4;
            break;
        }
    } else if (se050_is_ec(o->type)) {
        size_t f = se050_curve_bytes(o->curve);

        n += o->type == SE050_T_EC_PUB ? 2 * f + 1 : o->type == SE050_T_EC_PRIV ? f : 3 * f + 1;
    } else {
        n += o->part[SE050_BIN_DATA].len;
    }
    return OBJ_OVERHEAD + ((n + 15) & ~(size_t)15);
}

size_t se050_curve_cost(void)
{
    return CURVE_COST;
}

size_t se050_mem_free(const struct se050_chip *c)
{
    size_t used = 0;

    for (size_t i = 0; i < c->nobj; i++)
        used += se050_obj_cost(&c->obj[i]);
    for (size_t i = 0; i < SE050_CURVE_SLOTS; i++)
        if (c->curve[i].created)
            used += CURVE_COST;
    return used >= MEM_BUDGET ? 0 : (MEM_BUDGET - used) & ~(size_t)15;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool se050_policy_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;

    if (len == 0 || len > SE050_POLICY_MAX)
        return false;
    while (i < len) {
        size_t n = p[i];

        /* auth object id + AR header, at most 55 bytes an entry */
        if (n < 8 || n > 54 || n > len - i - 1)
            return false;
        i += 1 + n;
    }
    return true;
}

/* §3.6.9: what an object without an explicit policy allows. */
static uint32_t default_rules(uint8_t type)
{
    if (type == SE050_T_BINARY)
        return SE050_AR_DELETE | SE050_AR_WRITE | SE050_AR_READ;
    return SE050_AR_DELETE | SE050_AR_SIGN | SE050_AR_VERIFY | SE050_AR_ENC | SE050_AR_DEC |
           SE050_AR_KDF | SE050_AR_WRAP | SE050_AR_WRITE | SE050_AR_GEN | SE050_AR_KA |
           SE050_AR_READ | SE050_AR_IMPORT_EXPORT;
}

bool se050_allowed(const struct se050_obj *o, uint32_t right)
{
    uint32_t ar = 0;
    bool found = false;

    if (o->policy_len == 0) {
        ar = default_rules(o->type);
        found = true;
    }
    for (size_t i = 0; !found && i + 9 <= o->policy_len; i += 1 + (size_t)o->policy[i]) {
        /* The emulator has only the default session: its rules are those
         * for auth object 0 ("everybody"). */
        if (be32(o->policy + i + 1) == 0) {
            ar = be32(o->policy + i + 5);
            found = true;
        }
    }
    if (!found || (ar & SE050_AR_FORBID_ALL) || (ar & SE050_AR_REQUIRE_SM))
        return false;
    return (ar & right) == right;
}

static void set_policy(struct se050_obj *o, uint32_t ar)
{
    o->policy[0] = 8;
    memset(o->policy + 1, 0, 4);
    o->policy[5] = (uint8_t)(ar >> 24);
    o->policy[6] = (uint8_t)(ar >> 16);
    o->policy[7] = (uint8_t)(ar >> 8);
    o->policy[8] = (uint8_t)ar;
    o->policy_len = 9;
}

/* Applet-reserved unique id and EdgeLock 2GO-like provisioned objects:
 * readable and usable, never writable or deletable. */
#define ID_UNIQUE 0x7FFF0206u
#define ID_ATTEST_EC 0xF0000012u
#define ID_DEVICE_KEY 0xF0000100u
#define ID_DEVICE_CERT 0xF0000101u

static int add_ec_key(struct se050_chip *c, uint32_t id, uint32_t rules, struct se050_obj **out)
{
    struct se050_obj *o = se050_add(c, id);

    if (o == NULL)
        return -1;
    o->type = SE050_T_EC_PAIR;
    o->origin = SE050_ORIGIN_NXP;
    o->curve = 0x03;
    o->complete = true;
    set_policy(o, rules);
    if (se050_ec_generate(0x03, o) != 0)
        return -1;
    *out = o;
    return 0;
}

int se050_factory(struct se050_chip *c)
{
    struct se050_obj *o, *key;
    uint8_t uid[18], *der = NULL;
    size_t derlen = 0;
    char cn[64];
    int n;

    if (se050_random(uid, sizeof uid) != 0)
        return -1;
    o = se050_add(c, ID_UNIQUE);
    if (o == NULL)
        return -1;
    o->type = SE050_T_BINARY;
    o->origin = SE050_ORIGIN_NXP;
    o->complete = true;
    set_policy(o, SE050_AR_READ);
    if (se050_blob_set(&o->part[SE050_BIN_DATA], uid, sizeof uid) != 0)
        return -1;
    if (add_ec_key(c, ID_ATTEST_EC, SE050_AR_SIGN | SE050_AR_READ, &key) != 0)
        return -1;
    if (add_ec_key(c, ID_DEVICE_KEY, SE050_AR_SIGN | SE050_AR_VERIFY | SE050_AR_KA | SE050_AR_READ,
                   &key) != 0)
        return -1;
    n = snprintf(cn, sizeof cn, "SE050 device ");
    for (size_t i = 0; i < sizeof uid && n + 2 < (int)sizeof cn; i++)
        n += snprintf(cn + n, sizeof cn - (size_t)n, "%02X", uid[i]);
    if (se050_factory_cert(key, cn, &der, &derlen) != 0)
        return -1;
    o = se050_add(c, ID_DEVICE_CERT);
    if (o == NULL) {
        free(der);
        return -1;
    }
    o->type = SE050_T_BINARY;
    o->origin = SE050_ORIGIN_NXP;
    o->complete = true;
    set_policy(o, SE050_AR_READ);
    n = se050_blob_set(&o->part[SE050_BIN_DATA], der, derlen);
    free(der);
    return n;
}
