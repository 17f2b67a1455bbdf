/* The SE050 IoT applet (3.x) of the emulator: command APDU in, response APDU
 * out (specs/se050.md §2-§3). Commands are parsed leniently, as the applet
 * does (short or extended Lc, any Le); responses are canonical. The
 * emulator has only the default session (no authentication objects, no
 * SCP03); what it does not model is answered 6D00 and logged. */
#include <stdio.h>
#include <string.h>

#include "hal/log.h"
#include "hal/sim/se050_emu.h"

#define AREA "se050-emu"

/* Applet 3.1.0, AppletConfig 0x6FFF, SecureBox 1.11: the bytes of the
 * captured session (§1.9), for SELECT and GetVersion alike. */
static const uint8_t version_info[7] = {0x03, 0x01, 0x00, 0x6F, 0xFF, 0x01, 0x0B};

static const uint8_t applet_aid[16] = {0xA0, 0x00, 0x00, 0x03, 0x96, 0x54, 0x53, 0x00,
                                       0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00};

#define ID_LIST_PAGE 200 /* ids per ReadIDList answer: 800 bytes fit the payload */
#define RSP_DATA_MAX (SE050_MAX_PAYLOAD - 4) /* TAG_1 with a 3-byte length */
#define BINARY_MAX 0x7FFF
#define RESERVED_RANGE 0x7FFF0000u /* 0x7FFF0000-0x7FFFFFFF */
/* Transient memory reported by GetFreeMemory (not modelled further). */
#define TRANSIENT_FREE_COR 0x0F80
#define TRANSIENT_FREE_COD 0x0600

enum { INS_WRITE = 0x01, INS_READ = 0x02, INS_CRYPTO = 0x03, INS_MGMT = 0x04 };
enum { P1_DEFAULT = 0x00, P1_EC = 0x01, P1_RSA = 0x02, P1_BINARY = 0x06, P1_CURVE = 0x0B,
       P1_SIGNATURE = 0x0C };
enum { KP_NONE = 0x00, KP_PUBLIC = 0x20, KP_PRIVATE = 0x40, KP_PAIR = 0x60 };

struct apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data;
    size_t lc;
};

#define MAX_TLVS 16
struct tlv {
    uint8_t tag;
    const uint8_t *v;
    size_t len;
};
struct tlvs {
    size_t n;
    struct tlv t[MAX_TLVS];
};

struct rsp {
    uint8_t *buf;
    size_t len;
};

/* ---- parsing ----------------------------------------------------------- */

/* §3.1: Lc short or extended, Le absent, short or extended. */
static int parse_apdu(const uint8_t *b, size_t n, struct apdu *a)
{
    size_t rest;

    if (n < 4)
        return SW_WRONG_LENGTH;
    a->cla = b[0];
    a->ins = b[1];
    a->p1 = b[2];
    a->p2 = b[3];
    a->data = NULL;
    a->lc = 0;
    if (n <= 5)
        return 0; /* no data; a lone fifth byte is Le (or the host's "no data" 00) */
    if (b[4] != 0) {
        a->lc = b[4];
        if (n < 5 + a->lc)
            return SW_WRONG_LENGTH;
        a->data = b + 5;
        rest = n - 5 - a->lc;
        if (rest > 1)
            return SW_WRONG_LENGTH;
    } else {
        if (n < 7)
            return SW_WRONG_LENGTH;
        a->lc = (size_t)b[5] << 8 | b[6];
        if (a->lc == 0)
            return n == 7 ? 0 : SW_WRONG_LENGTH; /* extended Le only */
        if (n < 7 + a->lc)
            return SW_WRONG_LENGTH;
        a->data = b + 7;
        rest = n - 7 - a->lc;
        if (rest != 0 && rest != 2)
            return SW_WRONG_LENGTH;
    }
    return a->lc > SE050_MAX_PAYLOAD ? SW_WRONG_LENGTH : 0;
}

static int parse_tlvs(const uint8_t *d, size_t n, struct tlvs *out)
{
    size_t i = 0;

    out->n = 0;
    while (i < n) {
        uint8_t tag = d[i++];
        size_t len;

        if (i >= n)
            return SW_WRONG_DATA;
        len = d[i++];
        if (len == 0x81) {
            if (i + 1 > n)
                return SW_WRONG_DATA;
            len = d[i++];
        } else if (len == 0x82) {
            if (i + 2 > n)
                return SW_WRONG_DATA;
            len = (size_t)d[i] << 8 | d[i + 1];
            i += 2;
        } else if (len > 0x7F) {
            return SW_WRONG_DATA;
        }
        if (len > n - i || out->n == MAX_TLVS)
            return SW_WRONG_DATA;
        for (size_t k = 0; k < out->n; k++)
            if (out->t[k].tag == tag)
                return SW_WRONG_DATA;
        out->t[out->n].tag = tag;
        out->t[out->n].v = d + i;
        out->t[out->n].len = len;
        out->n++;
        i += len;
    }
    return 0;
}

static const struct tlv *tlv_get(const struct tlvs *t, uint8_t tag)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->t[i].tag == tag)
            return &t->t[i];
    return NULL;
}

/* A fixed-size big-endian integer TLV: 0 when present and well-formed,
 * 1 when absent, SW_WRONG_DATA when malformed. */
static int tlv_uint(const struct tlvs *t, uint8_t tag, size_t size, uint32_t *v)
{
    const struct tlv *x = tlv_get(t, tag);

    if (x == NULL)
        return 1;
    if (x->len != size)
        return SW_WRONG_DATA;
    *v = 0;
    for (size_t i = 0; i < size; i++)
        *v = *v << 8 | x->v[i];
    return 0;
}

static int need_uint(const struct tlvs *t, uint8_t tag, size_t size, uint32_t *v)
{
    int r = tlv_uint(t, tag, size, v);

    return r == 1 ? SW_WRONG_DATA : r;
}

/* ---- responses --------------------------------------------------------- */

static void put(struct rsp *r, const uint8_t *v, size_t len)
{
    memcpy(r->buf + r->len, v, len);
    r->len += len;
}

static void put_tlv(struct rsp *r, uint8_t tag, const uint8_t *v, size_t len)
{
    r->buf[r->len++] = tag;
    if (len < 0x80) {
        r->buf[r->len++] = (uint8_t)len;
    } else if (len <= 0xFF) {
        r->buf[r->len++] = 0x81;
        r->buf[r->len++] = (uint8_t)len;
    } else {
        r->buf[r->len++] = 0x82;
        r->buf[r->len++] = (uint8_t)(len >> 8);
        r->buf[r->len++] = (uint8_t)len;
    }
    put(r, v, len);
}

static void put_u8(struct rsp *r, uint8_t tag, uint8_t v)
{
    put_tlv(r, tag, &v, 1);
}

static void put_u16(struct rsp *r, uint8_t tag, size_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    put_tlv(r, tag, b, 2);
}

/* ---- shared rules ------------------------------------------------------ */

static int not_emulated(const struct apdu *a)
{
    log_info(AREA, "APDU %02X %02X %02X %02X not emulated", a->cla, a->ins, a->p1, a->p2);
    return SW_INS_UNSUPPORTED;
}

static bool curve_ready(const struct se050_chip *c, uint8_t curve)
{
    return curve >= 1 && curve <= SE050_CURVE_SLOTS && c->curve[curve - 1].created &&
           c->curve[curve - 1].params == SE050_CURVE_PARAMS_ALL;
}

/* EC keys work only on a curve created with all its parameters; the
 * factory keys were made with the chip. */
static bool ec_usable(const struct se050_chip *c, const struct se050_obj *o)
{
    return o->origin == SE050_ORIGIN_NXP || curve_ready(c, o->curve);
}

static int find_obj(struct se050_chip *c, const struct tlvs *t, struct se050_obj **o)
{
    uint32_t id;
    int r = need_uint(t, 0x41, 4, &id);

    if (r != 0)
        return r;
    *o = se050_find(c, id);
    return *o == NULL ? SW_WRONG_DATA : 0;
}

static int check_policy_tlv(const struct tlvs *t)
{
    const struct tlv *p = tlv_get(t, 0x11);

    if (p != NULL && !se050_policy_valid(p->v, p->len))
        return SW_POLICY_INVALID;
    return 0;
}

static void apply_policy_tlv(const struct tlvs *t, struct se050_obj *o)
{
    const struct tlv *p = tlv_get(t, 0x11);

    if (p != NULL) {
        memcpy(o->policy, p->v, p->len);
        o->policy_len = (uint16_t)p->len;
    }
}

static int check_new_id(uint32_t id)
{
    if (id == 0)
        return SW_WRONG_DATA;
    if ((id & 0xFFFF0000u) == RESERVED_RANGE)
        return SW_CONDITIONS; /* the applet's own range */
    return 0;
}

/* Moves a fully built object into the store. */
static int commit_new(struct se050_chip *c, struct se050_obj *tmp)
{
    struct se050_obj *o;

    if (se050_obj_cost(tmp) > se050_mem_free(c))
        return SW_NO_MEMORY;
    o = se050_add(c, tmp->id);
    if (o == NULL)
        return SW_NO_MEMORY;
    *o = *tmp;
    memset(tmp, 0, sizeof *tmp);
    return 0;
}

/* ---- WriteECKey -------------------------------------------------------- */

static uint8_t ec_keypart(uint8_t type)
{
    return type == SE050_T_EC_PAIR ? KP_PAIR : type == SE050_T_EC_PRIV ? KP_PRIVATE : KP_PUBLIC;
}

static int write_ec(struct se050_chip *c, const struct apdu *a, const struct tlvs *t)
{
    uint8_t kp = a->p1 & 0x60;
    const struct tlv *priv = tlv_get(t, 0x43), *pub = tlv_get(t, 0x44);
    struct se050_obj tmp, *o;
    uint32_t id, curve = 0;
    int r;

    if (tlv_get(t, 0x12) != NULL)
        return SW_WRONG_DATA; /* max attempts: auth objects only */
    if ((r = need_uint(t, 0x41, 4, &id)) != 0 || (r = tlv_uint(t, 0x42, 1, &curve)) > 1)
        return r;
    o = se050_find(c, id);
    if (o != NULL) {
        if (!se050_is_ec(o->type) || (r == 0 && curve != o->curve) ||
            (kp != KP_NONE && kp != ec_keypart(o->type)))
            return SW_CONDITIONS;
        if (priv == NULL && pub == NULL) {
            if (o->type != SE050_T_EC_PAIR)
                return SW_WRONG_DATA;
            if (!se050_allowed(o, SE050_AR_GEN))
                return SW_DENIED;
            if (!ec_usable(c, o))
                return SW_CONDITIONS;
            r = se050_ec_generate(o->curve, o);
            if (r == 0)
                o->origin = SE050_ORIGIN_INTERNAL;
            return r;
        }
        if ((o->type == SE050_T_EC_PAIR && (priv == NULL || pub == NULL)) ||
            (o->type == SE050_T_EC_PRIV && (priv == NULL || pub != NULL)) ||
            (o->type == SE050_T_EC_PUB && (pub == NULL || priv != NULL)))
            return SW_WRONG_DATA;
        if (!se050_allowed(o, SE050_AR_WRITE))
            return SW_DENIED;
        if (!ec_usable(c, o))
            return SW_CONDITIONS;
        memset(&tmp, 0, sizeof tmp);
        r = se050_ec_import(o->curve, priv ? priv->v : NULL, priv ? priv->len : 0,
                            pub ? pub->v : NULL, pub ? pub->len : 0, &tmp);
        if (r == 0) {
            se050_obj_clear(o);
            o->part[SE050_EC_PRIV] = tmp.part[SE050_EC_PRIV];
            o->part[SE050_EC_PUB] = tmp.part[SE050_EC_PUB];
            o->origin = SE050_ORIGIN_EXTERNAL;
        } else {
            se050_obj_clear(&tmp);
        }
        return r;
    }
    if ((r = check_new_id(id)) != 0)
        return r;
    if (kp == KP_NONE || tlv_get(t, 0x42) == NULL)
        return SW_WRONG_DATA;
    if (se050_curve_bytes((uint8_t)curve) == 0)
        return SW_WRONG_DATA; /* a curve this chip does not offer */
    if (!curve_ready(c, (uint8_t)curve))
        return SW_CONDITIONS;
    if ((r = check_policy_tlv(t)) != 0)
        return r;
    memset(&tmp, 0, sizeof tmp);
    tmp.id = id;
    tmp.curve = (uint8_t)curve;
    tmp.complete = true;
    tmp.origin = SE050_ORIGIN_EXTERNAL;
    apply_policy_tlv(t, &tmp);
    switch (kp) {
    case KP_PAIR:
        tmp.type = SE050_T_EC_PAIR;
        if ((priv == NULL) != (pub == NULL))
            return SW_WRONG_DATA;
        break;
    case KP_PRIVATE:
        tmp.type = SE050_T_EC_PRIV;
        if (priv == NULL || pub != NULL)
            return SW_WRONG_DATA;
        break;
    default:
        tmp.type = SE050_T_EC_PUB;
        if (pub == NULL || priv != NULL)
            return SW_WRONG_DATA;
        break;
    }
    if (se050_obj_cost(&tmp) > se050_mem_free(c))
        return SW_NO_MEMORY;
    if (priv == NULL && pub == NULL) {
        tmp.origin = SE050_ORIGIN_INTERNAL;
        r = se050_ec_generate(tmp.curve, &tmp);
    } else {
        r = se050_ec_import(tmp.curve, priv ? priv->v : NULL, priv ? priv->len : 0,
                            pub ? pub->v : NULL, pub ? pub->len : 0, &tmp);
    }
    if (r == 0)
        r = commit_new(c, &tmp);
    se050_obj_clear(&tmp);
    return r;
}

/* ---- WriteRSAKey ------------------------------------------------------- */

static const struct {
    uint8_t tag;
    uint8_t part;
} rsa_tags[] = {
    {0x43, SE050_RSA_P},  {0x44, SE050_RSA_Q},    {0x45, SE050_RSA_DP}, {0x46, SE050_RSA_DQ},
    {0x47, SE050_RSA_QINV}, {0x48, SE050_RSA_E}, {0x49, SE050_RSA_D},  {0x4A, SE050_RSA_N},
};

static unsigned rsa_have(const struct se050_obj *o)
{
    unsigned m = 0;

    for (unsigned i = 0; i < SE050_PARTS; i++)
        if (o->part[i].len > 0)
            m |= 1u << i;
    return m;
}

static size_t rsa_part_max(const struct se050_obj *o, unsigned part)
{
    size_t full = (size_t)o->rsa_bits / 8;

    return part == SE050_RSA_N || part == SE050_RSA_D || part == SE050_RSA_E ? full : full / 2;
}

/* Stores the components of this APDU (leading zeros stripped: the host
 * pads odd lengths) and checks the key once it is whole. */
static int rsa_components(struct se050_obj *o, const struct tlvs *t)
{
    unsigned need = se050_rsa_needed(o);

    for (size_t i = 0; i < sizeof rsa_tags / sizeof rsa_tags[0]; i++) {
        const struct tlv *x = tlv_get(t, rsa_tags[i].tag);
        const uint8_t *v;
        size_t len;

        if (x == NULL)
            continue;
        v = x->v;
        len = x->len;
        while (len > 0 && v[0] == 0) {
            v++;
            len--;
        }
        if (!(need & 1u << rsa_tags[i].part) || len == 0 ||
            len > rsa_part_max(o, rsa_tags[i].part))
            return SW_WRONG_DATA;
        if (se050_blob_set(&o->part[rsa_tags[i].part], v, len) != 0)
            return SW_NO_MEMORY;
    }
    if ((rsa_have(o) & need) != need)
        return 0;
    if (se050_rsa_check(o) != 0)
        return SW_WRONG_DATA;
    o->complete = true;
    return 0;
}

static bool rsa_has_components(const struct tlvs *t)
{
    for (size_t i = 0; i < sizeof rsa_tags / sizeof rsa_tags[0]; i++)
        if (tlv_get(t, rsa_tags[i].tag) != NULL)
            return true;
    return false;
}

static uint8_t rsa_keypart(uint8_t type)
{
    return type == SE050_T_RSA_PUB ? KP_PUBLIC
           : (type == SE050_T_RSA_PRIV || type == SE050_T_RSA_PRIV_CRT) ? KP_PRIVATE
                                                                         : KP_PAIR;
}

static int write_rsa(struct se050_chip *c, const struct apdu *a, const struct tlvs *t,
                     unsigned *wtx)
{
    uint8_t kp = a->p1 & 0x60;
    bool crt = a->p2 == 0x00, comps = rsa_has_components(t);
    struct se050_obj tmp, *o;
    uint32_t id, bits = 0;
    int r;

    if ((r = need_uint(t, 0x41, 4, &id)) != 0 || (r = tlv_uint(t, 0x42, 2, &bits)) > 1)
        return r;
    o = se050_find(c, id);
    if (o != NULL) {
        if (!se050_is_rsa(o->type) || (r == 0 && bits != o->rsa_bits) ||
            (kp != KP_NONE && kp != rsa_keypart(o->type)) ||
            (o->type != SE050_T_RSA_PUB && crt != o->rsa_crt))
            return SW_CONDITIONS;
        if (!comps) {
            if (kp != KP_PAIR)
                return SW_WRONG_DATA;
            if (!se050_allowed(o, SE050_AR_GEN))
                return SW_DENIED;
            r = se050_rsa_generate(o->rsa_bits, o->rsa_crt, o);
            o->complete = r == 0;
            o->origin = SE050_ORIGIN_INTERNAL;
            *wtx = o->rsa_bits / 1024 - 1;
            return r;
        }
        if (o->complete) {
            /* An update: the components come anew, one APDU each. */
            if (!se050_allowed(o, SE050_AR_WRITE))
                return SW_DENIED;
            se050_obj_clear(o);
            o->complete = false;
            o->origin = SE050_ORIGIN_EXTERNAL;
        }
        return rsa_components(o, t);
    }
    if ((r = check_new_id(id)) != 0)
        return r;
    if (kp == KP_PRIVATE)
        return not_emulated(a); /* private-only RSA keys */
    if (kp == KP_NONE || tlv_get(t, 0x42) == NULL)
        return SW_WRONG_DATA;
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return SW_WRONG_DATA; /* a size this chip does not offer */
    if ((r = check_policy_tlv(t)) != 0)
        return r;
    memset(&tmp, 0, sizeof tmp);
    tmp.id = id;
    tmp.rsa_bits = (uint16_t)bits;
    tmp.rsa_crt = kp == KP_PUBLIC ? false : crt;
    tmp.type = kp == KP_PUBLIC ? SE050_T_RSA_PUB
                               : crt ? SE050_T_RSA_PAIR_CRT : SE050_T_RSA_PAIR;
    tmp.origin = SE050_ORIGIN_EXTERNAL;
    apply_policy_tlv(t, &tmp);
    if (se050_obj_cost(&tmp) > se050_mem_free(c))
        return SW_NO_MEMORY;
    if (!comps) {
        if (kp != KP_PAIR)
            return SW_WRONG_DATA;
        tmp.origin = SE050_ORIGIN_INTERNAL;
        r = se050_rsa_generate(bits, crt, &tmp);
        tmp.complete = r == 0;
        *wtx = bits / 1024 - 1;
    } else {
        r = rsa_components(&tmp, t);
    }
    if (r == 0)
        r = commit_new(c, &tmp);
    se050_obj_clear(&tmp);
    return r;
}

/* ---- WriteBinary ------------------------------------------------------- */

static int write_binary(struct se050_chip *c, const struct tlvs *t)
{
    const struct tlv *data = tlv_get(t, 0x44);
    size_t dlen = data ? data->len : 0;
    uint32_t id, off = 0, total = 0;
    struct se050_obj tmp, *o;
    int r, has_total;

    if ((r = need_uint(t, 0x41, 4, &id)) != 0)
        return r;
    if ((r = tlv_uint(t, 0x42, 2, &off)) > 1)
        return r;
    if ((has_total = tlv_uint(t, 0x43, 2, &total)) > 1)
        return has_total;
    o = se050_find(c, id);
    if (o != NULL) {
        size_t size = o->part[SE050_BIN_DATA].len;

        if (o->type != SE050_T_BINARY || (has_total == 0 && total != size))
            return SW_CONDITIONS; /* the size is fixed at creation */
        if (!se050_allowed(o, SE050_AR_WRITE))
            return SW_DENIED;
        if (off > size || dlen > size - off)
            return SW_WRONG_DATA;
        if (dlen > 0)
            memcpy(o->part[SE050_BIN_DATA].buf + off, data->v, dlen);
        return 0;
    }
    if ((r = check_new_id(id)) != 0)
        return r;
    if (has_total != 0 || total == 0 || total > BINARY_MAX || off > total || dlen > total - off)
        return SW_WRONG_DATA;
    if ((r = check_policy_tlv(t)) != 0)
        return r;
    memset(&tmp, 0, sizeof tmp);
    tmp.id = id;
    tmp.type = SE050_T_BINARY;
    tmp.origin = SE050_ORIGIN_EXTERNAL;
    tmp.complete = true;
    apply_policy_tlv(t, &tmp);
    if (se050_blob_set(&tmp.part[SE050_BIN_DATA], NULL, total) != 0)
        return SW_NO_MEMORY;
    if (dlen > 0)
        memcpy(tmp.part[SE050_BIN_DATA].buf + off, data->v, dlen);
    r = commit_new(c, &tmp);
    se050_obj_clear(&tmp);
    return r;
}

/* ---- curves ------------------------------------------------------------ */

static int curve_arg(const struct tlvs *t, uint8_t *curve)
{
    uint32_t v;
    int r = need_uint(t, 0x41, 1, &v);

    if (r != 0)
        return r;
    *curve = (uint8_t)v;
    return 0;
}

static int create_curve(struct se050_chip *c, const struct tlvs *t)
{
    uint8_t curve;
    int r = curve_arg(t, &curve);

    if (r != 0)
        return r;
    if (se050_curve_bytes(curve) == 0)
        return SW_WRONG_DATA;
    if (c->curve[curve - 1].created)
        return SW_CONDITIONS;
    if (se050_curve_cost() > se050_mem_free(c))
        return SW_NO_MEMORY;
    c->curve[curve - 1].created = true;
    c->curve[curve - 1].params = 0;
    return 0;
}

static int set_curve_param(struct se050_chip *c, const struct tlvs *t)
{
    const struct tlv *val = tlv_get(t, 0x43);
    uint32_t param;
    uint8_t curve;
    int r;

    if ((r = curve_arg(t, &curve)) != 0 || (r = need_uint(t, 0x42, 1, &param)) != 0)
        return r;
    if (val == NULL || se050_curve_bytes(curve) == 0 || !c->curve[curve - 1].created)
        return SW_WRONG_DATA;
    if (se050_ec_param(curve, (uint8_t)param, val->v, val->len) != 0)
        return SW_WRONG_DATA;
    c->curve[curve - 1].params |= (uint8_t)param;
    return 0;
}

static int delete_curve(struct se050_chip *c, const struct tlvs *t)
{
    uint8_t curve;
    int r = curve_arg(t, &curve);

    if (r != 0)
        return r;
    if (curve < 1 || curve > SE050_CURVE_SLOTS || !c->curve[curve - 1].created)
        return SW_WRONG_DATA;
    c->curve[curve - 1].created = false;
    c->curve[curve - 1].params = 0;
    return 0;
}

static int curve_list(const struct se050_chip *c, struct rsp *out)
{
    uint8_t l[SE050_CURVE_SLOTS];

    for (size_t i = 0; i < SE050_CURVE_SLOTS; i++)
        l[i] = c->curve[i].created ? 0x02 : 0x01;
    put_tlv(out, 0x41, l, sizeof l);
    return 0;
}

static int curve_id(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    struct se050_obj *o;
    int r = find_obj(c, t, &o);

    if (r != 0)
        return r;
    if (!se050_is_ec(o->type))
        return SW_CONDITIONS;
    put_u8(out, 0x41, o->curve);
    return 0;
}

/* ---- reads ------------------------------------------------------------- */

static int read_object(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    struct se050_obj *o;
    uint32_t off = 0, len = 0, comp = 0;
    int r, has_len, has_comp;

    if ((r = find_obj(c, t, &o)) != 0)
        return r;
    if ((r = tlv_uint(t, 0x42, 2, &off)) > 1)
        return r;
    if ((has_len = tlv_uint(t, 0x43, 2, &len)) > 1)
        return has_len;
    if ((has_comp = tlv_uint(t, 0x44, 1, &comp)) > 1)
        return has_comp;
    if (se050_is_ec(o->type)) {
        if (o->type == SE050_T_EC_PRIV)
            return SW_CONDITIONS; /* private keys never leave the chip */
        if (!se050_allowed(o, SE050_AR_READ))
            return SW_DENIED;
        put_tlv(out, 0x41, o->part[SE050_EC_PUB].buf, o->part[SE050_EC_PUB].len);
        return 0;
    }
    if (se050_is_rsa(o->type)) {
        const struct se050_blob *b;

        if (o->type == SE050_T_RSA_PRIV || o->type == SE050_T_RSA_PRIV_CRT || !o->complete)
            return SW_CONDITIONS;
        if (has_comp != 0 || comp > 0x07)
            return SW_WRONG_DATA;
        if (comp > 0x01)
            return SW_CONDITIONS;
        if (!se050_allowed(o, SE050_AR_READ))
            return SW_DENIED;
        b = &o->part[comp == 0 ? SE050_RSA_N : SE050_RSA_E];
        put_tlv(out, 0x41, b->buf, b->len);
        return 0;
    }
    if (!se050_allowed(o, SE050_AR_READ))
        return SW_DENIED;
    {
        size_t size = o->part[SE050_BIN_DATA].len;

        if (off > size)
            return SW_WRONG_DATA;
        if (has_len != 0 || len == 0)
            len = (uint32_t)(size - off);
        if (len > size - off)
            return SW_WRONG_DATA;
        if (len > RSP_DATA_MAX)
            return SW_WRONG_LENGTH;
        put_tlv(out, 0x41, o->part[SE050_BIN_DATA].buf + off, len);
    }
    return 0;
}

static int read_id_list(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    uint8_t ids[4 * ID_LIST_PAGE];
    uint32_t off, filter;
    size_t n = 0, seen = 0;
    bool more = false;
    int r;

    if ((r = need_uint(t, 0x41, 2, &off)) != 0 || (r = need_uint(t, 0x42, 1, &filter)) != 0)
        return r;
    for (size_t i = 0; i < c->nobj; i++) {
        const struct se050_obj *o = &c->obj[i];

        if (filter != 0xFF && o->type != filter)
            continue;
        if (seen++ < off)
            continue;
        if (n == ID_LIST_PAGE) {
            more = true;
            break;
        }
        ids[4 * n] = (uint8_t)(o->id >> 24);
        ids[4 * n + 1] = (uint8_t)(o->id >> 16);
        ids[4 * n + 2] = (uint8_t)(o->id >> 8);
        ids[4 * n + 3] = (uint8_t)o->id;
        n++;
    }
    put_u8(out, 0x41, more ? 0x02 : 0x01);
    put_tlv(out, 0x42, ids, 4 * n);
    return 0;
}

static int read_type(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    struct se050_obj *o;
    int r = find_obj(c, t, &o);

    if (r != 0)
        return r;
    put_u8(out, 0x41, o->type);
    put_u8(out, 0x42, 0x01); /* persistent */
    return 0;
}

static int read_size(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    struct se050_obj *o;
    int r = find_obj(c, t, &o);

    if (r != 0)
        return r;
    if (se050_is_ec(o->type))
        put_u16(out, 0x41, se050_curve_bytes(o->curve));
    else if (se050_is_rsa(o->type))
        put_u16(out, 0x41, o->rsa_bits / 8u);
    else
        put_u16(out, 0x41, o->part[SE050_BIN_DATA].len);
    return 0;
}

/* ---- crypto ------------------------------------------------------------ */

static size_t ecdsa_hash_len(uint8_t algo)
{
    switch (algo) {
    case 0x11:
        return 20;
    case 0x25:
        return 28;
    case 0x21:
        return 32;
    case 0x22:
        return 48;
    case 0x26:
        return 64;
    default:
        return 0;
    }
}

static bool rsa_private_ready(const struct se050_obj *o)
{
    return se050_is_rsa(o->type) && o->type != SE050_T_RSA_PUB && o->complete;
}

static int sign(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    const struct tlv *in = tlv_get(t, 0x43);
    uint8_t sig[512];
    size_t siglen = sizeof sig;
    struct se050_obj *o;
    uint32_t algo;
    int r;

    if ((r = find_obj(c, t, &o)) != 0)
        return r;
    if ((r = need_uint(t, 0x42, 1, &algo)) != 0 || in == NULL)
        return SW_WRONG_DATA;
    if (o->type == SE050_T_EC_PAIR || o->type == SE050_T_EC_PRIV) {
        if (!ec_usable(c, o))
            return SW_CONDITIONS;
        if (!se050_allowed(o, SE050_AR_SIGN))
            return SW_DENIED;
        if (ecdsa_hash_len((uint8_t)algo) == 0 || in->len != ecdsa_hash_len((uint8_t)algo))
            return SW_WRONG_DATA;
        r = se050_ecdsa_sign(o, in->v, in->len, sig, &siglen);
    } else if (rsa_private_ready(o)) {
        if (!se050_allowed(o, SE050_AR_SIGN))
            return SW_DENIED;
        r = se050_rsa_sign(o, (uint8_t)algo, in->v, in->len, sig, &siglen);
    } else {
        return SW_CONDITIONS;
    }
    if (r == 0)
        put_tlv(out, 0x41, sig, siglen);
    return r;
}

static int verify(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    const struct tlv *in = tlv_get(t, 0x43), *sig = tlv_get(t, 0x45);
    struct se050_obj *o;
    uint32_t algo;
    bool ok = false;
    int r;

    if ((r = find_obj(c, t, &o)) != 0)
        return r;
    if ((r = need_uint(t, 0x42, 1, &algo)) != 0 || in == NULL || sig == NULL)
        return SW_WRONG_DATA;
    if (se050_is_ec(o->type)) {
        if (!ec_usable(c, o))
            return SW_CONDITIONS;
        if (!se050_allowed(o, SE050_AR_VERIFY))
            return SW_DENIED;
        if (ecdsa_hash_len((uint8_t)algo) == 0 || in->len != ecdsa_hash_len((uint8_t)algo))
            return SW_WRONG_DATA;
        r = se050_ecdsa_verify(o, in->v, in->len, sig->v, sig->len, &ok);
    } else if (se050_is_rsa(o->type) && o->complete && o->type != SE050_T_RSA_PRIV &&
               o->type != SE050_T_RSA_PRIV_CRT) {
        if (!se050_allowed(o, SE050_AR_VERIFY))
            return SW_DENIED;
        r = se050_rsa_verify(o, (uint8_t)algo, in->v, in->len, sig->v, sig->len, &ok);
    } else {
        return SW_CONDITIONS;
    }
    if (r == 0)
        put_u8(out, 0x41, ok ? 0x01 : 0x02);
    return r;
}

static int ecdh(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    const struct tlv *peer = tlv_get(t, 0x42);
    uint8_t secret[66];
    size_t n = sizeof secret;
    struct se050_obj *o;
    int r;

    if ((r = find_obj(c, t, &o)) != 0)
        return r;
    if (peer == NULL)
        return SW_WRONG_DATA;
    if (tlv_get(t, 0x47) != NULL)
        return SW_WRONG_DATA; /* derived-key target: newer applets only */
    if (o->type != SE050_T_EC_PAIR && o->type != SE050_T_EC_PRIV)
        return SW_CONDITIONS;
    if (!ec_usable(c, o))
        return SW_CONDITIONS;
    if (!se050_allowed(o, SE050_AR_KA))
        return SW_DENIED;
    r = se050_ecdh(o, peer->v, peer->len, secret, &n);
    if (r == 0)
        put_tlv(out, 0x41, secret, n);
    return r;
}

static int rsa_crypt(struct se050_chip *c, bool decrypt, const struct tlvs *t, struct rsp *out)
{
    const struct tlv *in = tlv_get(t, 0x43);
    uint8_t buf[512];
    size_t n = sizeof buf;
    struct se050_obj *o;
    uint32_t algo;
    int r;

    if ((r = find_obj(c, t, &o)) != 0)
        return r;
    if ((r = need_uint(t, 0x42, 1, &algo)) != 0 || in == NULL)
        return SW_WRONG_DATA;
    if (!se050_is_rsa(o->type) || !o->complete ||
        (decrypt ? o->type == SE050_T_RSA_PUB
                 : (o->type == SE050_T_RSA_PRIV || o->type == SE050_T_RSA_PRIV_CRT)))
        return SW_CONDITIONS;
    if (!se050_allowed(o, decrypt ? SE050_AR_DEC : SE050_AR_ENC))
        return SW_DENIED;
    r = se050_rsa_crypt(o, decrypt, (uint8_t)algo, in->v, in->len, buf, &n);
    if (r == 0)
        put_tlv(out, 0x41, buf, n);
    return r;
}

/* ---- management -------------------------------------------------------- */

static int exists(struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    uint32_t id;
    int r = need_uint(t, 0x41, 4, &id);

    if (r != 0)
        return r;
    put_u8(out, 0x41, se050_find(c, id) != NULL ? 0x01 : 0x02);
    return 0;
}

static int delete_object(struct se050_chip *c, const struct tlvs *t)
{
    struct se050_obj *o;
    int r = find_obj(c, t, &o);

    if (r != 0)
        return r;
    if (!se050_allowed(o, SE050_AR_DELETE))
        return SW_DENIED;
    se050_remove(c, o);
    return 0;
}

static int get_random(const struct tlvs *t, struct rsp *out)
{
    uint8_t buf[RSP_DATA_MAX];
    uint32_t n;
    int r = need_uint(t, 0x41, 2, &n);

    if (r != 0)
        return r;
    if (n == 0)
        return SW_WRONG_DATA;
    if (n > sizeof buf)
        return SW_WRONG_LENGTH;
    if (se050_random(buf, n) != 0)
        return SW_CONDITIONS;
    put_tlv(out, 0x41, buf, n);
    return 0;
}

static int free_memory(const struct se050_chip *c, const struct tlvs *t, struct rsp *out)
{
    uint32_t type;
    size_t n;
    int r = need_uint(t, 0x41, 1, &type);

    if (r != 0)
        return r;
    switch (type) {
    case 0x01:
        n = se050_mem_free(c);
        break;
    case 0x02:
        n = TRANSIENT_FREE_COR;
        break;
    case 0x03:
        n = TRANSIENT_FREE_COD;
        break;
    default:
        return SW_WRONG_DATA;
    }
    put_u16(out, 0x41, n > 0x7FFF ? 0x7FFF : n);
    return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

static int select_applet(struct se050_chip *c, const struct apdu *a, struct rsp *out)
{
    if (a->p1 != 0x04 || a->lc != sizeof applet_aid ||
        memcmp(a->data, applet_aid, sizeof applet_aid) != 0)
        return SW_NOT_FOUND;
    c->selected = true;
    put(out, version_info, sizeof version_info);
    return 0;
}

static int dispatch(struct se050_chip *c, const struct apdu *a, const struct tlvs *t,
                    struct rsp *out, unsigned *wtx)
{
    uint8_t type = a->p1 & 0x1F;

    if (a->ins & 0xE0 || a->p1 & 0x80)
        return not_emulated(a); /* transient, authentication or attested objects */
    switch (a->ins) {
    case INS_WRITE:
        if (type == P1_EC && a->p2 == 0x00)
            return write_ec(c, a, t);
        if (type == P1_RSA && (a->p2 == 0x00 || a->p2 == 0x4F))
            return write_rsa(c, a, t, wtx);
        if (a->p1 == P1_BINARY && a->p2 == 0x00)
            return write_binary(c, t);
        if (a->p1 == P1_CURVE && a->p2 == 0x04)
            return create_curve(c, t);
        if (a->p1 == P1_CURVE && a->p2 == 0x40)
            return set_curve_param(c, t);
        break;
    case INS_READ:
        if (a->p1 == P1_DEFAULT && a->p2 == 0x00)
            return read_object(c, t, out);
        if (a->p1 == P1_DEFAULT && a->p2 == 0x25)
            return read_id_list(c, t, out);
        if (a->p1 == P1_DEFAULT && a->p2 == 0x26)
            return read_type(c, t, out);
        if (a->p1 == P1_DEFAULT && a->p2 == 0x07)
            return read_size(c, t, out);
        if (a->p1 == P1_CURVE && a->p2 == 0x25)
            return curve_list(c, out);
        if (a->p1 == P1_CURVE && a->p2 == 0x36)
            return curve_id(c, t, out);
        break;
    case INS_CRYPTO:
        if (a->p1 == P1_SIGNATURE && a->p2 == 0x09)
            return sign(c, t, out);
        if (a->p1 == P1_SIGNATURE && a->p2 == 0x0A)
            return verify(c, t, out);
        if (a->p1 == P1_EC && a->p2 == 0x0F)
            return ecdh(c, t, out);
        if (a->p1 == P1_RSA && (a->p2 == 0x37 || a->p2 == 0x38))
            return rsa_crypt(c, a->p2 == 0x38, t, out);
        break;
    case INS_MGMT:
        if (a->p1 == P1_DEFAULT && a->p2 == 0x27)
            return exists(c, t, out);
        if (a->p1 == P1_DEFAULT && a->p2 == 0x28)
            return delete_object(c, t);
        if (a->p1 == P1_DEFAULT && a->p2 == 0x49)
            return get_random(t, out);
        if (a->p1 == P1_DEFAULT && a->p2 == 0x20) {
            put_tlv(out, 0x41, version_info, sizeof version_info);
            return 0;
        }
        if (a->p1 == P1_DEFAULT && a->p2 == 0x22)
            return free_memory(c, t, out);
        if (a->p1 == P1_CURVE && a->p2 == 0x28)
            return delete_curve(c, t);
        break;
    default:
        break;
    }
    return not_emulated(a);
}

void se050_power_on(struct se050_chip *c)
{
    c->selected = false;
    se050_link_reset(&c->link);
    c->link.last_len = 0;
    c->link.read_pos = 0;
    c->link.readable = false;
}

size_t se050_apdu(struct se050_chip *c, const uint8_t *cmd, size_t len, uint8_t *rspbuf,
                  unsigned *wtx)
{
    struct rsp out = {rspbuf, 0};
    struct apdu a;
    struct tlvs t;
    int sw;

    *wtx = 0;
    sw = parse_apdu(cmd, len, &a);
    if (sw != 0)
        goto done;
    if (a.cla == 0x00 && a.ins == 0xA4) {
        sw = select_applet(c, &a, &out);
        goto done;
    }
    if (!c->selected) {
        /* The card manager has the interface and knows none of these. */
        sw = (a.cla == 0x80 || a.cla == 0x00) ? SW_INS_UNSUPPORTED : SW_CLA_UNSUPPORTED;
        goto done;
    }
    if (a.cla != 0x80) {
        if (a.cla == 0x84)
            log_info(AREA, "secure messaging (CLA 84) not emulated");
        sw = SW_CLA_UNSUPPORTED;
        goto done;
    }
    sw = parse_tlvs(a.data, a.lc, &t);
    if (sw == 0)
        sw = dispatch(c, &a, &t, &out, wtx);
done:
    if (sw == 0)
        sw = SW_OK;
    if (sw != SW_OK) {
        out.len = 0;
        *wtx = 0;
        log_debug(AREA, "APDU answered %04X", (unsigned)sw);
    }
    rspbuf[out.len++] = (uint8_t)(sw >> 8);
    rspbuf[out.len++] = (uint8_t)sw;
    return out.len;
}
