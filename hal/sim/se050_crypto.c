/* The SE050 emulator's cryptography, with OpenSSL 3 EVP. Keys live in the
 * objects as raw parts (EC scalar and point, RSA components), which are what
 * is saved; the EVP_PKEY made from them, and the context of the last
 * operation, are cached beside them in memory. Making an RSA key anew for
 * every operation would also throw away its blinding, whose setup costs a
 * third of a signature. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hal/ossl_names.h"
#include "hal/log.h"
#include "hal/sim/se050_emu.h"

#define AREA "se050-emu"

static const char *curve_name(uint8_t curve)
{
    switch (curve) {
    case 0x03:
        return "P-256";
    case 0x04:
        return "P-384";
    case 0x05:
        return "P-521";
    default:
        return NULL;
    }
}

static int curve_nid(uint8_t curve)
{
    switch (curve) {
    case 0x03:
        return NID_X9_62_prime256v1;
    case 0x04:
        return NID_secp384r1;
    case 0x05:
        return NID_secp521r1;
    default:
        return NID_undef;
    }
}

int se050_random(uint8_t *out, size_t len)
{
    return RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

/* Big-endian magnitude of bn, left-padded to len bytes when len != 0. */
static int bn_to_blob(const BIGNUM *bn, size_t len, struct se050_blob *b)
{
    size_t n = (size_t)BN_num_bytes(bn);
    uint8_t *buf;

    if (len == 0)
        len = n > 0 ? n : 1;
    if (n > len)
        return -1;
    buf = malloc(len);
    if (buf == NULL)
        return -1;
    if (BN_bn2binpad(bn, buf, (int)len) < 0) {
        free(buf);
        return -1;
    }
    se050_blob_free(b);
    b->buf = buf;
    b->len = len;
    return 0;
}

static BIGNUM *blob_bn(const struct se050_blob *b)
{
    return BN_bin2bn(b->buf, (int)b->len, NULL);
}

/* ---- key cache --------------------------------------------------------- */

struct se050_key_cache {
    /* what the key objects were made from: a copy of every part */
    uint8_t type, curve;
    bool rsa_crt;
    uint16_t rsa_bits;
    size_t len[SE050_PARTS];
    uint8_t *mat;
    size_t matlen;
    EVP_PKEY *key[2]; /* [0] public only, [1] with the private part */
    EVP_PKEY_CTX *ctx; /* initialised for ctx_op, see op_ctx */
    unsigned ctx_op;
};

enum { OP_ECDSA_SIGN = 0x100, OP_RSA_SIGN = 0x200, OP_RSA_DECRYPT = 0x300,
       OP_RSA_ENCRYPT = 0x400 };

void se050_key_cache_free(struct se050_obj *o)
{
    struct se050_key_cache *k = o->cache;

    if (k == NULL)
        return;
    EVP_PKEY_CTX_free(k->ctx);
    EVP_PKEY_free(k->key[0]);
    EVP_PKEY_free(k->key[1]);
    OPENSSL_clear_free(k->mat, k->matlen);
    OPENSSL_clear_free(k, sizeof *k);
    o->cache = NULL;
}

static bool cache_current(const struct se050_key_cache *k, const struct se050_obj *o)
{
    size_t off = 0;

    if (k->type != o->type || k->curve != o->curve || k->rsa_crt != o->rsa_crt ||
        k->rsa_bits != o->rsa_bits)
        return false;
    for (size_t i = 0; i < SE050_PARTS; i++)
        if (k->len[i] != o->part[i].len)
            return false;
    for (size_t i = 0; i < SE050_PARTS; i++) {
        if (k->len[i] > 0 && CRYPTO_memcmp(k->mat + off, o->part[i].buf, k->len[i]) != 0)
            return false;
        off += k->len[i];
    }
    return true;
}

/* o's cache, emptied first when o's parts are no longer those it was made
 * from: whatever changed them (a write, a generation, a reload of the
 * state), a stale key is never used. */
static struct se050_key_cache *key_cache(struct se050_obj *o)
{
    struct se050_key_cache *k = o->cache;
    size_t total = 0, off = 0;

    if (k != NULL && cache_current(k, o))
        return k;
    se050_key_cache_free(o);
    for (size_t i = 0; i < SE050_PARTS; i++)
        total += o->part[i].len;
    k = calloc(1, sizeof *k);
    if (k == NULL || (k->mat = malloc(total > 0 ? total : 1)) == NULL) {
        free(k);
        return NULL;
    }
    k->matlen = total;
    k->type = o->type;
    k->curve = o->curve;
    k->rsa_crt = o->rsa_crt;
    k->rsa_bits = o->rsa_bits;
    for (size_t i = 0; i < SE050_PARTS; i++) {
        k->len[i] = o->part[i].len;
        if (k->len[i] > 0)
            memcpy(k->mat + off, o->part[i].buf, k->len[i]);
        off += k->len[i];
    }
    o->cache = k;
    return k;
}

static EVP_PKEY *ec_pkey(const struct se050_obj *o, bool priv);
static EVP_PKEY *rsa_pkey(const struct se050_obj *o, bool priv);

/* o's key, public only or with its private part; a key that cannot be made
 * is not remembered (it is tried, and logged, again next time). */
static EVP_PKEY *cached_pkey(struct se050_obj *o, bool priv)
{
    struct se050_key_cache *k = key_cache(o);

    if (k == NULL)
        return NULL;
    if (k->key[priv] == NULL)
        k->key[priv] = se050_is_rsa(o->type) ? rsa_pkey(o, priv) : ec_pkey(o, priv);
    return k->key[priv];
}

/* The cached context for operation op (OP_* | algorithm id) of o's key.
 * *fresh says it was just made and still has to be initialised; its caller
 * then calls op_ready with the outcome. */
static EVP_PKEY_CTX *op_ctx(struct se050_obj *o, bool priv, unsigned op, bool *fresh)
{
    EVP_PKEY *pk = cached_pkey(o, priv);
    struct se050_key_cache *k = o->cache;

    *fresh = false;
    if (pk == NULL)
        return NULL;
    if (k->ctx != NULL && k->ctx_op == op)
        return k->ctx;
    EVP_PKEY_CTX_free(k->ctx);
    k->ctx_op = 0;
    k->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    *fresh = k->ctx != NULL;
    return k->ctx;
}

/* Keeps the context for op when ok, else drops it (a failed initialisation
 * or operation leaves nothing half set up behind). */
static void op_done(struct se050_obj *o, unsigned op, bool ok)
{
    struct se050_key_cache *k = o->cache;

    if (k == NULL)
        return;
    if (ok) {
        k->ctx_op = op;
    } else {
        EVP_PKEY_CTX_free(k->ctx);
        k->ctx = NULL;
        k->ctx_op = 0;
    }
}

/* ---- EC ---------------------------------------------------------------- */

int se050_ec_generate(uint8_t curve, struct se050_obj *o)
{
    const char *name = curve_name(curve);
    size_t f = se050_curve_bytes(curve);
    EVP_PKEY *pk = NULL;
    BIGNUM *d = NULL;
    uint8_t pub[1 + 2 * 66];
    size_t publen = 0;
    int rc = SW_WRONG_DATA;

    if (name == NULL)
        return SW_WRONG_DATA;
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_name(NULL, OSSL_KEYTYPE_EC, NULL);
    if (gen == NULL || EVP_PKEY_keygen_init(gen) != 1 ||
        EVP_PKEY_CTX_set_group_name(gen, name) != 1 || EVP_PKEY_generate(gen, &pk) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(gen);
    if (pk == NULL || !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) ||
        !EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &publen) ||
        publen != 1 + 2 * f || pub[0] != 0x04) {
        log_error(AREA, "EC key generation failed");
        goto out;
    }
    if (bn_to_blob(d, f, &o->part[SE050_EC_PRIV]) != 0 ||
        se050_blob_set(&o->part[SE050_EC_PUB], pub, publen) != 0)
        goto out;
    rc = 0;
out:
    BN_clear_free(d);
    EVP_PKEY_free(pk);
    return rc;
}

int se050_ec_import(uint8_t curve, const uint8_t *priv, size_t privlen, const uint8_t *pub,
                    size_t publen, struct se050_obj *o)
{
    size_t f = se050_curve_bytes(curve);
    EC_GROUP *g = NULL;
    EC_POINT *p = NULL, *q = NULL;
    BIGNUM *d = NULL;
    BN_CTX *bctx = NULL;
    uint8_t calc[1 + 2 * 66];
    int rc = SW_WRONG_DATA;

    if (f == 0 || (priv == NULL && pub == NULL))
        return SW_WRONG_DATA;
    g = EC_GROUP_new_by_curve_name(curve_nid(curve));
    bctx = BN_CTX_new();
    if (g == NULL || bctx == NULL)
        goto out;
    if (pub != NULL) {
        p = EC_POINT_new(g);
        if (p == NULL || publen != 1 + 2 * f || pub[0] != 0x04 ||
            !EC_POINT_oct2point(g, p, pub, publen, bctx) || EC_POINT_is_on_curve(g, p, bctx) != 1)
            goto out;
    }
    if (priv != NULL) {
        if (privlen == 0 || privlen > f)
            goto out;
        d = BN_bin2bn(priv, (int)privlen, NULL);
        q = EC_POINT_new(g);
        if (d == NULL || q == NULL || BN_is_zero(d) ||
            BN_cmp(d, EC_GROUP_get0_order(g)) >= 0 || !EC_POINT_mul(g, q, d, NULL, NULL, bctx) ||
            EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, calc, sizeof calc, bctx) !=
                1 + 2 * f)
            goto out;
        /* A pair whose halves do not match is refused, not stored. */
        if (pub != NULL && memcmp(calc, pub, publen) != 0)
            goto out;
        if (bn_to_blob(d, f, &o->part[SE050_EC_PRIV]) != 0 ||
            se050_blob_set(&o->part[SE050_EC_PUB], calc, 1 + 2 * f) != 0)
            goto out;
    } else {
        se050_blob_free(&o->part[SE050_EC_PRIV]);
        if (se050_blob_set(&o->part[SE050_EC_PUB], pub, publen) != 0)
            goto out;
    }
    rc = 0;
out:
    BN_clear_free(d);
    EC_POINT_free(p);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    BN_CTX_free(bctx);
    return rc;
}

int se050_ec_param(uint8_t curve, uint8_t param, const uint8_t *val, size_t len)
{
    size_t f = se050_curve_bytes(curve);
    EC_GROUP *g = EC_GROUP_new_by_curve_name(curve_nid(curve));
    BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new();
    BN_CTX *bctx = BN_CTX_new();
    uint8_t want[1 + 2 * 66];
    size_t wlen = f;
    int rc = SW_WRONG_DATA;

    if (f == 0 || g == NULL || p == NULL || a == NULL || b == NULL || bctx == NULL ||
        !EC_GROUP_get_curve(g, p, a, b, bctx))
        goto out;
    switch (param) {
    case 0x01:
        if (BN_bn2binpad(a, want, (int)f) < 0)
            goto out;
        break;
    case 0x02:
        if (BN_bn2binpad(b, want, (int)f) < 0)
            goto out;
        break;
    case 0x04:
        wlen = EC_POINT_point2oct(g, EC_GROUP_get0_generator(g), POINT_CONVERSION_UNCOMPRESSED,
                                  want, sizeof want, bctx);
        break;
    case 0x08:
        if (BN_bn2binpad(EC_GROUP_get0_order(g), want, (int)f) < 0)
            goto out;
        break;
    case 0x10:
        if (BN_bn2binpad(p, want, (int)f) < 0)
            goto out;
        break;
    default:
        goto out;
    }
    /* The curve ids name fixed curves: only their standard values fit. */
    if (len == wlen && memcmp(val, want, wlen) == 0)
        rc = 0;
out:
    EC_GROUP_free(g);
    BN_free(p);
    BN_free(a);
    BN_free(b);
    BN_CTX_free(bctx);
    return rc;
}

static EVP_PKEY *ec_pkey(const struct se050_obj *o, bool priv)
{
    const char *name = curve_name(o->curve);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *d = NULL;
    const struct se050_blob *pub = &o->part[SE050_EC_PUB];

    if (name == NULL || bld == NULL || pub->len == 0)
        goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, name, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub->buf, pub->len))
        goto out;
    if (priv) {
        d = blob_bn(&o->part[SE050_EC_PRIV]);
        if (d == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
            goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, OSSL_KEYTYPE_EC, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
out:
    if (pk == NULL)
        log_error(AREA, "cannot build the EC key of object %08X", o->id);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return pk;
}

int se050_ecdsa_sign(struct se050_obj *o, const uint8_t *hash, size_t hlen, uint8_t *sig,
                     size_t *siglen)
{
    bool fresh;
    EVP_PKEY_CTX *ctx = op_ctx(o, true, OP_ECDSA_SIGN, &fresh);
    bool ok;

    /* No digest is set: the input is the host's hash, of any length. */
    ok = ctx != NULL && (!fresh || EVP_PKEY_sign_init(ctx) > 0) &&
         EVP_PKEY_sign(ctx, sig, siglen, hash, hlen) > 0;
    op_done(o, OP_ECDSA_SIGN, ok);
    return ok ? 0 : SW_WRONG_DATA;
}

int se050_ecdsa_verify(struct se050_obj *o, const uint8_t *hash, size_t hlen,
                       const uint8_t *sig, size_t siglen, bool *ok)
{
    EVP_PKEY *pk = cached_pkey(o, false);
    EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    int rc = SW_WRONG_DATA;

    if (ctx != NULL && EVP_PKEY_verify_init(ctx) > 0) {
        *ok = EVP_PKEY_verify(ctx, sig, siglen, hash, hlen) == 1;
        rc = 0;
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int se050_ecdh(struct se050_obj *o, const uint8_t *peer, size_t peerlen, uint8_t *out,
               size_t *outlen)
{
    struct se050_obj tmp;
    EVP_PKEY *pk = NULL, *peerk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    size_t f = se050_curve_bytes(o->curve);
    int rc = SW_WRONG_DATA;

    memset(&tmp, 0, sizeof tmp);
    tmp.id = o->id;
    tmp.curve = o->curve;
    if (se050_ec_import(o->curve, NULL, 0, peer, peerlen, &tmp) != 0)
        goto out;
    pk = cached_pkey(o, true);
    peerk = ec_pkey(&tmp, false);
    ctx = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    *outlen = f;
    if (ctx != NULL && peerk != NULL && EVP_PKEY_derive_init(ctx) > 0 &&
        EVP_PKEY_derive_set_peer(ctx, peerk) > 0 && EVP_PKEY_derive(ctx, out, outlen) > 0 &&
        *outlen == f)
        rc = 0;
out:
    se050_obj_clear(&tmp);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peerk);
    return rc;
}

/* ---- RSA --------------------------------------------------------------- */

static const char *const rsa_params[SE050_PARTS] = {
    [SE050_RSA_N] = OSSL_PKEY_PARAM_RSA_N,
    [SE050_RSA_E] = OSSL_PKEY_PARAM_RSA_E,
    [SE050_RSA_D] = OSSL_PKEY_PARAM_RSA_D,
    [SE050_RSA_P] = OSSL_PKEY_PARAM_RSA_FACTOR1,
    [SE050_RSA_Q] = OSSL_PKEY_PARAM_RSA_FACTOR2,
    [SE050_RSA_DP] = OSSL_PKEY_PARAM_RSA_EXPONENT1,
    [SE050_RSA_DQ] = OSSL_PKEY_PARAM_RSA_EXPONENT2,
    [SE050_RSA_QINV] = OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
};

int se050_rsa_generate(unsigned bits, bool crt, struct se050_obj *o)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, OSSL_KEYTYPE_RSA, NULL);
    EVP_PKEY *pk = NULL;
    int rc = SW_WRONG_DATA;

    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0 || EVP_PKEY_generate(ctx, &pk) <= 0) {
        log_error(AREA, "RSA key generation failed");
        goto out;
    }
    for (size_t i = 0; i < SE050_PARTS; i++) {
        BIGNUM *bn = NULL;
        int r;

        se050_blob_free(&o->part[i]);
        if (crt ? i == SE050_RSA_D : i > SE050_RSA_D)
            continue;
        if (!EVP_PKEY_get_bn_param(pk, rsa_params[i], &bn))
            goto out;
        r = bn_to_blob(bn, i == SE050_RSA_N ? bits / 8 : 0, &o->part[i]);
        BN_clear_free(bn);
        if (r != 0)
            goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* d = e^-1 mod lcm(p-1, q-1), for keys imported in CRT form. */
static BIGNUM *rsa_d(const BIGNUM *p, const BIGNUM *q, const BIGNUM *e)
{
    BN_CTX *bctx = BN_CTX_new();
    BIGNUM *p1 = BN_new(), *q1 = BN_new(), *g = BN_new(), *l = BN_new(), *d = NULL;

    if (bctx == NULL || p1 == NULL || q1 == NULL || g == NULL || l == NULL ||
        !BN_sub(p1, p, BN_value_one()) || !BN_sub(q1, q, BN_value_one()) ||
        !BN_gcd(g, p1, q1, bctx) || !BN_mul(l, p1, q1, bctx) ||
        !BN_div(l, NULL, l, g, bctx))
        goto out;
    d = BN_mod_inverse(NULL, e, l, bctx);
    if (d != NULL)
        BN_set_flags(d, BN_FLG_CONSTTIME);
out:
    BN_free(p1);
    BN_free(q1);
    BN_free(g);
    BN_free(l);
    BN_CTX_free(bctx);
    return d;
}

static bool rsa_has_private(const struct se050_obj *o)
{
    return o->type != SE050_T_RSA_PUB;
}

static EVP_PKEY *rsa_pkey(const struct se050_obj *o, bool priv)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *bn[SE050_PARTS] = {0};
    bool crt = priv && o->rsa_crt;

    if (bld == NULL)
        goto out;
    for (size_t i = 0; i < SE050_PARTS; i++) {
        bool want = i <= SE050_RSA_E || (priv && (crt ? i != SE050_RSA_D : i == SE050_RSA_D));

        if (!want)
            continue;
        if (o->part[i].len == 0 || (bn[i] = blob_bn(&o->part[i])) == NULL)
            goto out;
    }
    if (crt) {
        bn[SE050_RSA_D] = rsa_d(bn[SE050_RSA_P], bn[SE050_RSA_Q], bn[SE050_RSA_E]);
        if (bn[SE050_RSA_D] == NULL)
            goto out;
    }
    for (size_t i = 0; i < SE050_PARTS; i++)
        if (bn[i] != NULL && !OSSL_PARAM_BLD_push_BN(bld, rsa_params[i], bn[i]))
            goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, OSSL_KEYTYPE_RSA, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
out:
    if (pk == NULL)
        log_error(AREA, "cannot build the RSA key of object %08X", o->id);
    for (size_t i = 0; i < SE050_PARTS; i++)
        BN_clear_free(bn[i]);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

int se050_rsa_check(struct se050_obj *o)
{
    BIGNUM *n = NULL, *p = NULL, *q = NULL, *e = NULL, *pq = NULL;
    BN_CTX *bctx = NULL;
    EVP_PKEY *pk = NULL;
    int rc = SW_WRONG_DATA;

    n = blob_bn(&o->part[SE050_RSA_N]);
    e = blob_bn(&o->part[SE050_RSA_E]);
    if (n == NULL || e == NULL || BN_num_bits(n) != o->rsa_bits || !BN_is_odd(e) ||
        BN_is_one(e))
        goto out;
    if (rsa_has_private(o) && o->rsa_crt) {
        p = blob_bn(&o->part[SE050_RSA_P]);
        q = blob_bn(&o->part[SE050_RSA_Q]);
        pq = BN_new();
        bctx = BN_CTX_new();
        if (p == NULL || q == NULL || pq == NULL || bctx == NULL || !BN_mul(pq, p, q, bctx) ||
            BN_cmp(pq, n) != 0)
            goto out;
    }
    pk = rsa_pkey(o, rsa_has_private(o));
    if (pk != NULL)
        rc = 0;
out:
    EVP_PKEY_free(pk);
    BN_free(n);
    BN_free(e);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_clear_free(pq);
    BN_CTX_free(bctx);
    return rc;
}

/* §3.6.3: RSASign algorithm ids. */
static int rsa_sig_algo(uint8_t algo, const EVP_MD **md, int *pad)
{
    switch (algo) {
    case 0x0A: *md = EVP_sha1(); *pad = RSA_PKCS1_PADDING; return 0;
    case 0x27: *md = EVP_sha224(); *pad = RSA_PKCS1_PADDING; return 0;
    case 0x28: *md = EVP_sha256(); *pad = RSA_PKCS1_PADDING; return 0;
    case 0x29: *md = EVP_sha384(); *pad = RSA_PKCS1_PADDING; return 0;
    case 0x2A: *md = EVP_sha512(); *pad = RSA_PKCS1_PADDING; return 0;
    case 0x15: *md = EVP_sha1(); *pad = RSA_PKCS1_PSS_PADDING; return 0;
    case 0x2B: *md = EVP_sha224(); *pad = RSA_PKCS1_PSS_PADDING; return 0;
    case 0x2C: *md = EVP_sha256(); *pad = RSA_PKCS1_PSS_PADDING; return 0;
    case 0x2D: *md = EVP_sha384(); *pad = RSA_PKCS1_PSS_PADDING; return 0;
    case 0x2E: *md = EVP_sha512(); *pad = RSA_PKCS1_PSS_PADDING; return 0;
    default: return -1;
    }
}

static int rsa_sig_ctx(EVP_PKEY_CTX *ctx, const EVP_MD *md, int pad)
{
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, pad) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
        return -1;
    /* PSS with MGF1 of the same hash and a salt as long as the hash. */
    if (pad == RSA_PKCS1_PSS_PADDING &&
        (EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
        return -1;
    return 0;
}

int se050_rsa_sign(struct se050_obj *o, uint8_t algo, const uint8_t *msg, size_t mlen,
                   uint8_t *sig, size_t *siglen)
{
    const EVP_MD *md;
    int pad;
    uint8_t dig[EVP_MAX_MD_SIZE];
    unsigned dlen = 0, op = OP_RSA_SIGN | algo;
    bool fresh, ok;
    EVP_PKEY_CTX *ctx;

    if (rsa_sig_algo(algo, &md, &pad) != 0 || !EVP_Digest(msg, mlen, dig, &dlen, md, NULL))
        return SW_WRONG_DATA;
    ctx = op_ctx(o, true, op, &fresh);
    ok = ctx != NULL &&
         (!fresh || (EVP_PKEY_sign_init(ctx) > 0 && rsa_sig_ctx(ctx, md, pad) == 0)) &&
         EVP_PKEY_sign(ctx, sig, siglen, dig, dlen) > 0;
    op_done(o, op, ok);
    return ok ? 0 : SW_WRONG_DATA;
}

int se050_rsa_verify(struct se050_obj *o, uint8_t algo, const uint8_t *msg, size_t mlen,
                     const uint8_t *sig, size_t siglen, bool *ok)
{
    const EVP_MD *md;
    int pad;
    uint8_t dig[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int rc = SW_WRONG_DATA;

    if (rsa_sig_algo(algo, &md, &pad) != 0 || !EVP_Digest(msg, mlen, dig, &dlen, md, NULL))
        return SW_WRONG_DATA;
    pk = cached_pkey(o, false);
    ctx = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    if (ctx != NULL && EVP_PKEY_verify_init(ctx) > 0 && rsa_sig_ctx(ctx, md, pad) == 0) {
        *ok = EVP_PKEY_verify(ctx, sig, siglen, dig, dlen) == 1;
        rc = 0;
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static int rsa_crypt_init(EVP_PKEY_CTX *ctx, bool decrypt, int pad)
{
    if ((decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx)) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, pad) <= 0)
        return -1;
    if (pad == RSA_PKCS1_OAEP_PADDING && (EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0 ||
                                          EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) <= 0))
        return -1;
    return 0;
}

int se050_rsa_crypt(struct se050_obj *o, bool decrypt, uint8_t algo, const uint8_t *in,
                    size_t inlen, uint8_t *out, size_t *outlen)
{
    size_t k = (size_t)o->rsa_bits / 8;
    unsigned op = (decrypt ? OP_RSA_DECRYPT : OP_RSA_ENCRYPT) | algo;
    EVP_PKEY_CTX *ctx;
    bool fresh, ok;
    int pad;

    switch (algo) {
    case 0x0C:
        pad = RSA_NO_PADDING;
        if (inlen != k)
            return SW_WRONG_DATA;
        break;
    case 0x0A:
        pad = RSA_PKCS1_PADDING;
        break;
    case 0x0F:
        pad = RSA_PKCS1_OAEP_PADDING;
        break;
    default:
        return SW_WRONG_DATA;
    }
    ctx = op_ctx(o, decrypt, op, &fresh);
    ok = ctx != NULL && (!fresh || rsa_crypt_init(ctx, decrypt, pad) == 0);
    if (ok) {
        *outlen = k;
        ok = (decrypt ? EVP_PKEY_decrypt(ctx, out, outlen, in, inlen)
                      : EVP_PKEY_encrypt(ctx, out, outlen, in, inlen)) > 0;
    }
    op_done(o, op, ok);
    return ok ? 0 : SW_WRONG_DATA;
}

/* ---- factory certificate ----------------------------------------------- */

int se050_factory_cert(const struct se050_obj *key, const char *cn, uint8_t **der, size_t *len)
{
    EVP_PKEY *pk = ec_pkey(key, true);
    X509 *x = X509_new();
    X509_NAME *name = NULL;
    ASN1_INTEGER *serial = NULL;
    BIGNUM *sn = BN_new();
    unsigned char *out = NULL;
    int n, rc = -1;

    if (pk == NULL || x == NULL || sn == NULL ||
        !BN_rand(sn, 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY))
        goto out;
    serial = BN_to_ASN1_INTEGER(sn, NULL);
    name = X509_NAME_new();
    if (serial == NULL || name == NULL || !X509_set_version(x, X509_VERSION_3) ||
        !X509_set_serialNumber(x, serial) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)"SE050 emulator", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
        !ASN1_TIME_set_string(X509_getm_notBefore(x), "20200101000000Z") ||
        !ASN1_TIME_set_string(X509_getm_notAfter(x), "99991231235959Z") ||
        !X509_set_pubkey(x, pk) || X509_sign(x, pk, EVP_sha256()) <= 0)
        goto out;
    n = i2d_X509(x, &out);
    if (n <= 0)
        goto out;
    *der = malloc((size_t)n);
    if (*der == NULL)
        goto out;
    memcpy(*der, out, (size_t)n);
    *len = (size_t)n;
    rc = 0;
out:
    OPENSSL_free(out);
    ASN1_INTEGER_free(serial);
    X509_NAME_free(name);
    BN_free(sn);
    X509_free(x);
    EVP_PKEY_free(pk);
    return rc;
}
