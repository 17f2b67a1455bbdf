/* C_CreateObject: private keys written into chips that take them. The key
 * becomes a chip key like a generated one, with its public half beside it, but
 * it existed outside the chip: CKA_LOCAL, CKA_ALWAYS_SENSITIVE and
 * CKA_NEVER_EXTRACTABLE are FALSE. Its label and ID go to the host store.
 * Other object classes have no home in this module yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "hal/log.h"
#include "module/internal.h"

#define RSA_PART_MAX 512 /* bytes of a 4096-bit modulus */
#define RSA_E_MAX 8      /* what struct tok_pubkey holds */

enum rsa_part { RP_N, RP_E, RP_D, RP_P, RP_Q, RP_DP, RP_DQ, RP_QINV, RP_COUNT };

struct import_req {
    CK_KEY_TYPE key_type;
    bool has_label, has_id;
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len;
    bool sign, derive;
    const CK_ATTRIBUTE *ec_params, *ec_value;
    const CK_ATTRIBUTE *rsa[RP_COUNT];
};

/* The key in the chip's terms; the buffers hold secrets until wiped. */
struct import_key {
    struct tok_privkey key;
    struct tok_pubkey pub;
    uint8_t d[66];
    uint8_t parts[RP_COUNT][RSA_PART_MAX];
};

static void import_key_wipe(struct import_key *k)
{
    OPENSSL_cleanse(k, sizeof *k);
}

static const struct {
    CK_ATTRIBUTE_TYPE type;
    enum rsa_part part;
} rsa_attrs[] = {
    {CKA_MODULUS, RP_N},           {CKA_PUBLIC_EXPONENT, RP_E}, {CKA_PRIVATE_EXPONENT, RP_D},
    {CKA_PRIME_1, RP_P},           {CKA_PRIME_2, RP_Q},         {CKA_EXPONENT_1, RP_DP},
    {CKA_EXPONENT_2, RP_DQ},       {CKA_COEFFICIENT, RP_QINV},
};

static int rsa_part_of(CK_ATTRIBUTE_TYPE t)
{
    for (size_t i = 0; i < sizeof rsa_attrs / sizeof rsa_attrs[0]; i++)
        if (rsa_attrs[i].type == t)
            return (int)rsa_attrs[i].part;
    return -1;
}

static CK_RV want_bool(const CK_ATTRIBUTE *a, bool must, bool *out)
{
    bool b;
    CK_RV rv = tmpl_bool(a, &b);

    if (rv != CKR_OK)
        return rv;
    if (out != NULL)
        *out = b;
    return b == must ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
}

/* One attribute of a private key template. */
static CK_RV import_attr(const CK_ATTRIBUTE *a, struct import_req *r)
{
    bool b;
    int part;

    switch (a->type) {
    case CKA_CLASS:
    case CKA_KEY_TYPE:
        return CKR_OK; /* checked first */
    case CKA_TOKEN:
        return want_bool(a, true, NULL); /* chip keys are token objects */
    case CKA_SENSITIVE:
        return want_bool(a, true, NULL); /* a key in the chip never leaves it */
    case CKA_EXTRACTABLE:
    case CKA_ALWAYS_AUTHENTICATE:
        return want_bool(a, false, NULL);
    case CKA_SIGN:
        return tmpl_bool(a, &r->sign);
    case CKA_DERIVE:
        return tmpl_bool(a, &r->derive);
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
    case CKA_DECRYPT:
    case CKA_UNWRAP:
    case CKA_SIGN_RECOVER:
    case CKA_WRAP_WITH_TRUSTED:
        return tmpl_bool(a, &b); /* reported as what the chip really allows */
    case CKA_LOCAL:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
    case CKA_KEY_GEN_MECHANISM:
        return CKR_ATTRIBUTE_READ_ONLY; /* the token's to say */
    case CKA_LABEL:
        r->has_label = true;
        return tmpl_label(a, r->label);
    case CKA_ID:
        r->has_id = true;
        return tmpl_id(a, r->id, &r->id_len);
    case CKA_START_DATE:
    case CKA_END_DATE:
    case CKA_SUBJECT:
    case CKA_ALLOWED_MECHANISMS:
    case CKA_PUBLIC_KEY_INFO:
        return CKR_OK;
    case CKA_EC_PARAMS:
    case CKA_VALUE:
        if (r->key_type != CKK_EC)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        if (a->pValue == NULL || a->ulValueLen == 0)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        if (a->type == CKA_EC_PARAMS)
            r->ec_params = a;
        else
            r->ec_value = a;
        return CKR_OK;
    default:
        part = rsa_part_of(a->type);
        if (part < 0 || r->key_type != CKK_RSA)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        if (a->pValue == NULL || a->ulValueLen == 0 || a->ulValueLen > RSA_PART_MAX)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        r->rsa[part] = a;
        return CKR_OK;
    }
}

/* CKA_CLASS and CKA_KEY_TYPE decide what the rest may be. */
static CK_RV parse_template(const CK_ATTRIBUTE *t, CK_ULONG n, struct import_req *r)
{
    const CK_ATTRIBUTE *cls = NULL, *kt = NULL;
    CK_ULONG v;
    CK_RV rv;

    for (CK_ULONG i = 0; i < n; i++) {
        for (CK_ULONG j = 0; j < i; j++)
            if (t[j].type == t[i].type)
                return CKR_TEMPLATE_INCONSISTENT;
        if (t[i].type == CKA_CLASS)
            cls = &t[i];
        else if (t[i].type == CKA_KEY_TYPE)
            kt = &t[i];
    }
    if (cls == NULL)
        return CKR_TEMPLATE_INCOMPLETE;
    if ((rv = tmpl_ulong(cls, &v)) != CKR_OK)
        return rv;
    if (v != CKO_PRIVATE_KEY) {
        log_error("import", "objects of class 0x%lx cannot be created on this token",
                  (unsigned long)v);
        return CKR_TEMPLATE_INCONSISTENT;
    }
    if (kt == NULL)
        return CKR_TEMPLATE_INCOMPLETE;
    if ((rv = tmpl_ulong(kt, &r->key_type)) != CKR_OK)
        return rv;
    if (r->key_type != CKK_EC && r->key_type != CKK_RSA)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    for (CK_ULONG i = 0; i < n; i++)
        if ((rv = import_attr(&t[i], r)) != CKR_OK)
            return rv;
    if (r->key_type == CKK_EC && (r->ec_params == NULL || r->ec_value == NULL))
        return CKR_TEMPLATE_INCOMPLETE;
    /* The CRT parts and e follow from n, d, p and q; p and q do not. */
    if (r->key_type == CKK_RSA && (r->rsa[RP_N] == NULL || r->rsa[RP_D] == NULL ||
                                   r->rsa[RP_P] == NULL || r->rsa[RP_Q] == NULL)) {
        log_error("import", "an RSA key needs its modulus, private exponent and primes");
        return CKR_TEMPLATE_INCOMPLETE;
    }
    return CKR_OK;
}

/* ---- EC ---- */

static int curve_nid(enum tok_curve c)
{
    switch (c) {
    case TOK_CURVE_P256: return NID_X9_62_prime256v1;
    case TOK_CURVE_P384: return NID_secp384r1;
    case TOK_CURVE_P521: return NID_secp521r1;
    default: return NID_undef;
    }
}

/* Checks d (0 < d < order) and computes the public point d*G. */
static CK_RV ec_key(const struct slot *s, const struct import_req *r, struct import_key *k)
{
    const uint8_t *params = r->ec_params->pValue, *dv = r->ec_value->pValue;
    size_t plen = r->ec_params->ulValueLen, dlen = r->ec_value->ulValueLen, fb;
    enum tok_curve curve;
    EC_GROUP *group = NULL;
    EC_POINT *pt = NULL;
    BN_CTX *ctx = NULL;
    BIGNUM *d = NULL;
    CK_RV rv = CKR_HOST_MEMORY;

    /* A named curve is an OBJECT IDENTIFIER; anything else is not one we know. */
    if (plen < 3 || params[0] != 0x06 || params[1] != plen - 2)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    curve = attr_curve_from_params(params, plen);
    if (curve == TOK_CURVE_NONE || !(s->caps->curves & (1u << curve)))
        return CKR_CURVE_NOT_SUPPORTED;
    fb = attr_curve_bytes(curve);
    while (dlen > 0 && *dv == 0) {
        dv++;
        dlen--;
    }
    if (dlen == 0 || dlen > fb)
        return CKR_ATTRIBUTE_VALUE_INVALID;

    group = EC_GROUP_new_by_curve_name(curve_nid(curve));
    ctx = BN_CTX_secure_new();
    d = BN_secure_new();
    pt = group ? EC_POINT_new(group) : NULL;
    if (group == NULL || ctx == NULL || d == NULL || pt == NULL || !BN_bin2bn(dv, (int)dlen, d))
        goto out;
    if (BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    rv = CKR_GENERAL_ERROR;
    if (EC_POINT_mul(group, pt, d, NULL, NULL, ctx) != 1 ||
        EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, k->pub.point,
                           sizeof k->pub.point, ctx) != 1 + 2 * fb ||
        BN_bn2binpad(d, k->d, (int)fb) != (int)fb)
        goto out;
    k->pub.type = TOK_KEY_EC;
    k->pub.curve = curve;
    k->pub.point_len = 1 + 2 * fb;
    k->key.type = TOK_KEY_EC;
    k->key.curve = curve;
    k->key.bits = curve == TOK_CURVE_P521 ? 521 : (unsigned)(8 * fb);
    k->key.d = k->d;
    k->key.d_len = fb;
    k->key.point = k->pub.point;
    k->key.point_len = k->pub.point_len;
    rv = CKR_OK;
out:
    EC_POINT_free(pt);
    EC_GROUP_free(group);
    BN_clear_free(d);
    BN_CTX_free(ctx);
    return rv;
}

/* ---- RSA ---- */

/* out = a value given in the template, or the computed one; a given value
 * that differs from what the others imply makes the template inconsistent. */
static CK_RV settle(const CK_ATTRIBUTE *given, BIGNUM *computed, BIGNUM *scratch)
{
    if (given == NULL)
        return CKR_OK;
    if (!BN_bin2bn(given->pValue, (int)given->ulValueLen, scratch))
        return CKR_HOST_MEMORY;
    return BN_cmp(scratch, computed) == 0 ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
}

static CK_RV rsa_out(struct import_key *k, enum rsa_part part, const BIGNUM *v, const uint8_t **p,
                     size_t *len)
{
    int n = BN_num_bytes(v);

    if (n <= 0 || n > RSA_PART_MAX || BN_bn2bin(v, k->parts[part]) != n)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *p = k->parts[part];
    *len = (size_t)n;
    return CKR_OK;
}

/* Derives what is missing (e, dP, dQ, qInv), checks what is given, and
 * lays the parts out big-endian for the chip. */
static CK_RV rsa_key(const struct slot *s, const struct import_req *r, struct import_key *k)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *bn[RP_COUNT] = {NULL}, *p1 = NULL, *q1 = NULL, *lambda = NULL, *t = NULL;
    unsigned bits;
    CK_RV rv = CKR_HOST_MEMORY;

    if (ctx == NULL)
        return rv;
    BN_CTX_start(ctx);
    p1 = BN_CTX_get(ctx);
    q1 = BN_CTX_get(ctx);
    lambda = BN_CTX_get(ctx);
    t = BN_CTX_get(ctx);
    for (int i = 0; i < RP_COUNT; i++)
        bn[i] = BN_CTX_get(ctx);
    if (bn[RP_COUNT - 1] == NULL)
        goto out;
    for (int i = RP_N; i <= RP_Q; i++)
        if (r->rsa[i] != NULL && !BN_bin2bn(r->rsa[i]->pValue, (int)r->rsa[i]->ulValueLen, bn[i]))
            goto out;

    bits = (unsigned)BN_num_bits(bn[RP_N]);
    if (bits < s->caps->rsa_min_bits || bits > s->caps->rsa_max_bits) {
        log_error("import", "token %s: RSA-%u is outside the chip's %u-%u bits", s->conf.name,
                  bits, s->caps->rsa_min_bits, s->caps->rsa_max_bits);
        rv = CKR_KEY_SIZE_RANGE;
        goto out;
    }
    rv = CKR_TEMPLATE_INCONSISTENT;
    if (BN_is_zero(bn[RP_P]) || BN_is_zero(bn[RP_Q]) || BN_is_zero(bn[RP_D]) ||
        !BN_mul(t, bn[RP_P], bn[RP_Q], ctx) || BN_cmp(t, bn[RP_N]) != 0)
        goto out;
    /* lambda(n) = lcm(p-1, q-1): e*d = 1 mod lambda(n) for every valid d */
    if (!BN_sub(p1, bn[RP_P], BN_value_one()) || !BN_sub(q1, bn[RP_Q], BN_value_one()) ||
        !BN_gcd(t, p1, q1, ctx) || !BN_mul(lambda, p1, q1, ctx) ||
        !BN_div(lambda, NULL, lambda, t, ctx))
        goto out;
    if (r->rsa[RP_E] == NULL) {
        if (!BN_mod_inverse(bn[RP_E], bn[RP_D], lambda, ctx))
            goto out;
    } else if (!BN_mod_mul(t, bn[RP_E], bn[RP_D], lambda, ctx) || !BN_is_one(t)) {
        goto out;
    }
    if (BN_num_bytes(bn[RP_E]) > RSA_E_MAX || BN_is_one(bn[RP_E]) || !BN_is_odd(bn[RP_E])) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    if (!BN_mod(bn[RP_DP], bn[RP_D], p1, ctx) || !BN_mod(bn[RP_DQ], bn[RP_D], q1, ctx) ||
        !BN_mod_inverse(bn[RP_QINV], bn[RP_Q], bn[RP_P], ctx))
        goto out;
    for (int i = RP_DP; i <= RP_QINV; i++)
        if ((rv = settle(r->rsa[i], bn[i], t)) != CKR_OK)
            goto out;

    k->key.type = TOK_KEY_RSA;
    k->key.bits = bits;
    if ((rv = rsa_out(k, RP_N, bn[RP_N], &k->key.n, &k->key.n_len)) != CKR_OK ||
        (rv = rsa_out(k, RP_E, bn[RP_E], &k->key.e, &k->key.e_len)) != CKR_OK ||
        (rv = rsa_out(k, RP_P, bn[RP_P], &k->key.p, &k->key.p_len)) != CKR_OK ||
        (rv = rsa_out(k, RP_Q, bn[RP_Q], &k->key.q, &k->key.q_len)) != CKR_OK ||
        (rv = rsa_out(k, RP_DP, bn[RP_DP], &k->key.dp, &k->key.dp_len)) != CKR_OK ||
        (rv = rsa_out(k, RP_DQ, bn[RP_DQ], &k->key.dq, &k->key.dq_len)) != CKR_OK ||
        (rv = rsa_out(k, RP_QINV, bn[RP_QINV], &k->key.qinv, &k->key.qinv_len)) != CKR_OK)
        goto out;
    k->pub.type = TOK_KEY_RSA;
    memcpy(k->pub.modulus, k->key.n, k->key.n_len);
    k->pub.modulus_len = k->key.n_len;
    memcpy(k->pub.exponent, k->key.e, k->key.e_len);
    k->pub.exponent_len = k->key.e_len;
    rv = CKR_OK;
out:
    /* BN_CTX_secure_new: the numbers are wiped as the context is freed. */
    BN_CTX_end(ctx);
    BN_CTX_free(ctx);
    return rv;
}

/* ---- into the chip ---- */

static CK_RV import_into(struct slot *s, const struct import_req *r, const struct import_key *k,
                         uint32_t *out_id)
{
    struct key_place p = {k->key.type, k->key.curve, r->sign, r->derive, true};
    uint32_t id = 0;
    int rc;
    CK_RV rv;

    store_refresh(&s->store);
    if (s->store.broken)
        return CKR_DEVICE_ERROR;
    if (s->store.nkeys >= STORE_MAX_KEYS)
        return CKR_DEVICE_MEMORY;
    if ((rv = key_choose_position(s, &p, &id)) != CKR_OK)
        return rv;
    rc = s->ops->import_key(s->dev, id, &k->key);
    if (rc != TOK_OK) {
        log_error("import", "token %s: writing the key at %u failed: %s", s->conf.name, id,
                  tok_strerror(rc));
        switch (rc) {
        case TOK_E_UNSUPPORTED:
            return k->key.type == TOK_KEY_RSA ? CKR_KEY_SIZE_RANGE : CKR_CURVE_NOT_SUPPORTED;
        case TOK_E_ARGS:
        case TOK_E_DATA_LEN:
        case TOK_E_DATA_INVALID:
            return CKR_ATTRIBUTE_VALUE_INVALID; /* the chip refused the key's values */
        default:
            return ckr_from_tok(rc, TCTX_KEYGEN);
        }
    }
    if ((rv = key_record(s, id, r->label, r->id, r->id_len, r->has_label, r->has_id)) != CKR_OK)
        return rv;
    *out_id = id;
    log_info("import", "token %s: private key written at %u", s->conf.name, id);
    return CKR_OK;
}

static CK_RV create_key(struct slot *s, const struct import_req *r, struct import_key *k,
                        CK_OBJECT_HANDLE *out)
{
    struct object *priv = NULL;
    uint32_t id = 0;
    CK_RV rv = r->key_type == CKK_EC ? ec_key(s, r, k) : rsa_key(s, r, k);

    if (rv != CKR_OK)
        return rv;
    s->ops->lock(s->dev);
    rv = import_into(s, r, k, &id);
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    if (rv == CKR_OK)
        rv = obj_refresh(s);
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < s->nobjs; i++) {
        struct object *o = &s->objs[i];
        if (o->owner != 0 || o->chip_id != id)
            continue;
        o->pub = k->pub;
        o->pub_loaded = true;
        if (o->cls == CKO_PRIVATE_KEY)
            priv = o;
    }
    if (priv == NULL)
        return CKR_GENERAL_ERROR;
    *out = priv->handle;
    return CKR_OK;
}

/* The CKA_CLASS a template asks for, or (CK_ULONG)-1. */
static CK_OBJECT_CLASS template_class(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;

    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == CKA_CLASS && t[i].pValue != NULL && t[i].ulValueLen == sizeof cls)
            memcpy(&cls, t[i].pValue, sizeof cls);
    return cls;
}

CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                     CK_OBJECT_HANDLE_PTR phObject)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct import_req r;
    struct import_key *k = NULL;
    CK_RV rv;

    if (phObject == NULL || (pTemplate == NULL && ulCount != 0))
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    memset(&r, 0, sizeof r);
    if (template_class(pTemplate, ulCount) == CKO_CERTIFICATE ||
        template_class(pTemplate, ulCount) == CKO_DATA) {
        rv = template_class(pTemplate, ulCount) == CKO_DATA
                 ? data_create(s, sess, pTemplate, ulCount, phObject)
                 : cert_create(s, sess, pTemplate, ulCount, phObject);
        session_leave(m);
        return rv;
    }
    rv = parse_template(pTemplate, ulCount, &r);
    if (rv == CKR_OK && !(sess->flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_ONLY;
    else if (rv == CKR_OK && !slot_user_ok(s))
        rv = CKR_USER_NOT_LOGGED_IN;
    /* A token that cannot hold a written key: a private token key is
     * inconsistent with it (CKR_FUNCTION_NOT_SUPPORTED would speak for the
     * whole library, and C_CreateObject may not return it). */
    else if (rv == CKR_OK && (!s->caps->import_keys || s->ops->import_key == NULL)) {
        log_error("import", "token %s: the chip does not take private keys from outside",
                  s->conf.name);
        rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv == CKR_OK) {
        k = calloc(1, sizeof *k);
        rv = k == NULL ? CKR_HOST_MEMORY : create_key(s, &r, k, phObject);
    }
    if (k != NULL) {
        import_key_wipe(k);
        free(k);
    }
    session_leave(m);
    return rv;
}
