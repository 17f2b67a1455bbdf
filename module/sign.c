/* C_Sign* in the chip and C_Verify* on the host (OpenSSL). Hash-then-sign
 * mechanisms hash on the host, outside the device lock, and send the chip only
 * the digest. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "hal/log.h"
#include "module/internal.h"

/* Digests shorter than SHA-256's are not signed with ECDSA; larger curves get
 * shorter digests left-padded (the same integer). */
#define ECDSA_MIN_INPUT 32

struct sig_mech {
    CK_MECHANISM_TYPE mech;
    CK_KEY_TYPE key_type;
    const char *md;          /* hash done on the host; NULL: input is the digest */
    enum tok_sig_alg alg;
};

static const struct sig_mech sig_mechs[] = {
    {CKM_ECDSA, CKK_EC, NULL, TOK_SIG_ECDSA},
    {CKM_ECDSA_SHA1, CKK_EC, "SHA1", TOK_SIG_ECDSA},
    {CKM_ECDSA_SHA256, CKK_EC, "SHA256", TOK_SIG_ECDSA},
    {CKM_ECDSA_SHA384, CKK_EC, "SHA384", TOK_SIG_ECDSA},
    {CKM_ECDSA_SHA512, CKK_EC, "SHA512", TOK_SIG_ECDSA},
    {CKM_RSA_PKCS, CKK_RSA, NULL, TOK_SIG_RSA_PKCS1},
    {CKM_SHA256_RSA_PKCS, CKK_RSA, "SHA256", TOK_SIG_RSA_PKCS1},
    {CKM_SHA384_RSA_PKCS, CKK_RSA, "SHA384", TOK_SIG_RSA_PKCS1},
    {CKM_SHA512_RSA_PKCS, CKK_RSA, "SHA512", TOK_SIG_RSA_PKCS1},
    {CKM_RSA_PKCS_PSS, CKK_RSA, NULL, TOK_SIG_RSA_PSS},
    {CKM_SHA256_RSA_PKCS_PSS, CKK_RSA, "SHA256", TOK_SIG_RSA_PSS},
    {CKM_SHA384_RSA_PKCS_PSS, CKK_RSA, "SHA384", TOK_SIG_RSA_PSS},
    {CKM_SHA512_RSA_PKCS_PSS, CKK_RSA, "SHA512", TOK_SIG_RSA_PSS},
};

static const struct sig_mech *sig_mech_find(CK_MECHANISM_TYPE t)
{
    for (size_t i = 0; i < sizeof sig_mechs / sizeof sig_mechs[0]; i++)
        if (sig_mechs[i].mech == t)
            return &sig_mechs[i];
    return NULL;
}

static const struct {
    CK_MECHANISM_TYPE ck;
    enum tok_hash tok;
    size_t len;
    const char *md;
} hashes[] = {
    {CKM_SHA_1, TOK_HASH_SHA1, 20, "SHA1"},
    {CKM_SHA224, TOK_HASH_SHA224, 28, "SHA224"},
    {CKM_SHA256, TOK_HASH_SHA256, 32, "SHA256"},
    {CKM_SHA384, TOK_HASH_SHA384, 48, "SHA384"},
    {CKM_SHA512, TOK_HASH_SHA512, 64, "SHA512"},
};

static int hash_index_md(const char *md)
{
    for (int i = 0; i < (int)(sizeof hashes / sizeof hashes[0]); i++)
        if (md != NULL && strcmp(hashes[i].md, md) == 0)
            return i;
    return -1;
}

static int hash_index_ck(CK_MECHANISM_TYPE ck)
{
    for (int i = 0; i < (int)(sizeof hashes / sizeof hashes[0]); i++)
        if (hashes[i].ck == ck)
            return i;
    return -1;
}

static CK_RV check_pss_params(const CK_MECHANISM *mech, const struct sig_mech *sm)
{
    const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;
    static const CK_RSA_PKCS_MGF_TYPE mgf_for[] = {CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256,
                                                   CKG_MGF1_SHA384, CKG_MGF1_SHA512};
    int h;

    if (p == NULL || mech->ulParameterLen != sizeof *p)
        return CKR_MECHANISM_PARAM_INVALID;
    h = hash_index_ck(p->hashAlg);
    if (h < 0 || p->mgf != mgf_for[h] || p->sLen > 64)
        return CKR_MECHANISM_PARAM_INVALID;
    if (sm->md != NULL && hash_index_md(sm->md) != h)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

/* Checks shared by C_SignInit and C_VerifyInit. */
static CK_RV op_init(struct module *m, struct session *sess, struct slot *s, struct operation *op,
                     CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE hkey, bool sign, struct object **out)
{
    const struct sig_mech *sm;
    struct object *o;
    CK_RV rv;

    if (op->kind != OP_NONE)
        return CKR_OPERATION_ACTIVE;
    rv = obj_lookup(m, sess, hkey, true, &s, &o);
    if (rv != CKR_OK)
        return rv;
    sm = sig_mech_find(mech->mechanism);
    if (sm == NULL || !slot_has_mechanism(s, mech->mechanism))
        return CKR_MECHANISM_INVALID;
    if (sm->alg == TOK_SIG_RSA_PSS) {
        if ((rv = check_pss_params(mech, sm)) != CKR_OK)
            return rv;
    } else if (mech->pParameter != NULL || mech->ulParameterLen != 0) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (o->cls == CKO_SECRET_KEY || o->key_type != sm->key_type)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (sign && o->cls != CKO_PRIVATE_KEY)
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (sign && !(o->key.flags & TOK_KEYF_SIGN))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    memset(op, 0, sizeof *op);
    if (sm->md != NULL) {
        op->md = EVP_MD_CTX_new();
        if (op->md == NULL)
            return CKR_HOST_MEMORY;
        EVP_MD *md = EVP_MD_fetch(NULL, sm->md, NULL);
        int ok = md != NULL && EVP_DigestInit_ex(op->md, md, NULL) == 1;
        EVP_MD_free(md);
        if (!ok) {
            op_end(op);
            return CKR_GENERAL_ERROR;
        }
    }
    if (sm->alg == TOK_SIG_RSA_PSS) {
        memcpy(op->buf + sizeof op->buf - sizeof(CK_RSA_PKCS_PSS_PARAMS), mech->pParameter,
               sizeof(CK_RSA_PKCS_PSS_PARAMS));
    }
    op->kind = sign ? OP_SIGN : OP_VERIFY;
    op->mech = mech->mechanism;
    op->key = hkey;
    *out = o;
    return CKR_OK;
}

/* The PSS parameters ride at the end of the operation buffer; raw input uses
 * the front, so they never overlap (raw input is capped below). */
#define RAW_CAP (sizeof ((struct operation *)0)->buf - sizeof(CK_RSA_PKCS_PSS_PARAMS))

static const CK_RSA_PKCS_PSS_PARAMS *op_pss(const struct operation *op)
{
    return (const CK_RSA_PKCS_PSS_PARAMS *)(const void *)(op->buf + sizeof op->buf -
                                                          sizeof(CK_RSA_PKCS_PSS_PARAMS));
}

static CK_RV op_update(struct operation *op, const uint8_t *data, size_t len)
{
    if (op->md != NULL)
        return EVP_DigestUpdate(op->md, data, len) == 1 ? CKR_OK : CKR_GENERAL_ERROR;
    if (len > RAW_CAP - op->buf_len)
        return CKR_DATA_LEN_RANGE;
    if (len > 0)
        memcpy(op->buf + op->buf_len, data, len);
    op->buf_len += len;
    return CKR_OK;
}

/* C_SignUpdate, C_VerifyUpdate, C_DigestUpdate: one more part into the
 * session's operation of that kind. */
CK_RV op_part(CK_SESSION_HANDLE h, enum op_kind kind, const uint8_t *part, CK_ULONG len)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct operation *op;
    CK_RV rv;

    if (part == NULL && len)
        return args_bad();
    rv = session_enter_op(h, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    op = kind == OP_SIGN ? &sess->sign : kind == OP_VERIFY ? &sess->verify : &sess->digest;
    if (op->kind != kind) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else {
        op->multipart = true;
        if ((rv = op_update(op, part, len)) != CKR_OK)
            op_end(op);
    }
    session_leave(m);
    return rv;
}

/* The message representative the chip (or OpenSSL) works on. */
static CK_RV op_digest(struct operation *op, uint8_t *dig, size_t *dig_len, int *hash)
{
    const struct sig_mech *sm = sig_mech_find(op->mech);
    unsigned int n = 0;

    *hash = -1;
    if (op->md != NULL) {
        if (EVP_DigestFinal_ex(op->md, dig, &n) != 1)
            return CKR_GENERAL_ERROR;
        *dig_len = n;
        *hash = hash_index_md(sm->md);
        return CKR_OK;
    }
    memcpy(dig, op->buf, op->buf_len);
    *dig_len = op->buf_len;
    if (sm->alg == TOK_SIG_RSA_PSS) {
        *hash = hash_index_ck(op_pss(op)->hashAlg);
        if (*hash < 0 || hashes[*hash].len != op->buf_len)
            return CKR_DATA_LEN_RANGE;
    }
    return CKR_OK;
}

/* ECDSA input as the chip (and OpenSSL) take it: a string of exactly the
 * curve's byte size whose leftmost order-size bits are the integer ECDSA signs
 * (FIPS 186-4 §6.4: the digest's leftmost bits when it is longer than the
 * order, else the digest itself). For P-521 the integer therefore sits 7 bits
 * from the right end. */
static CK_RV ecdsa_input(enum tok_curve curve, const uint8_t *in, size_t len, bool raw,
                         uint8_t *out, size_t *out_len)
{
    size_t fb = attr_curve_bytes(curve);
    unsigned order_bits = curve == TOK_CURVE_P521 ? 521 : (unsigned)(8 * fb);
    unsigned shift = (unsigned)(8 * fb) - order_bits;

    /* A digest the module made itself (CKM_ECDSA_SHA1) is taken as it is. */
    if ((raw && len < ECDSA_MIN_INPUT) || len == 0 || fb == 0)
        return CKR_DATA_LEN_RANGE;
    memset(out, 0, fb);
    if (8 * len <= order_bits) {
        memcpy(out + fb - len, in, len);
        /* the integer, moved to the string's leftmost order_bits */
        for (size_t i = 0; shift && i < fb; i++)
            out[i] = (uint8_t)(out[i] << shift | (i + 1 < fb ? out[i + 1] >> (8 - shift) : 0));
    } else {
        memcpy(out, in, fb); /* already a string whose leftmost bits count */
        if (shift)
            out[fb - 1] &= (uint8_t)(0xFF << shift);
    }
    *out_len = fb;
    return CKR_OK;
}

/* DigestInfo prefixes (RFC 8017 §9.2 note 1): CKM_RSA_PKCS signs a DigestInfo,
 * which the chip gets as its hash and digest. */
static const struct {
    enum tok_hash hash;
    uint8_t len;
    uint8_t prefix[19];
    uint8_t prefix_len;
} digest_infos[] = {
    {TOK_HASH_SHA1, 20,
     {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
     15},
    {TOK_HASH_SHA224, 28, {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c}, 19},
    {TOK_HASH_SHA256, 32, {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, 19},
    {TOK_HASH_SHA384, 48, {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}, 19},
    {TOK_HASH_SHA512, 64, {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                           0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}, 19},
};

/* Splits a DigestInfo into hash and digest. Chips sign digests of known
 * hashes only, so any other input (e.g. TLS 1.0's bare MD5||SHA-1) is refused
 * with CKR_DATA_INVALID rather than signed some other way. */
static CK_RV digest_info_parse(const uint8_t *in, size_t len, enum tok_hash *hash,
                               const uint8_t **dig, size_t *dig_len)
{
    for (size_t i = 0; i < sizeof digest_infos / sizeof digest_infos[0]; i++) {
        size_t pl = digest_infos[i].prefix_len;
        if (len == pl + digest_infos[i].len && memcmp(in, digest_infos[i].prefix, pl) == 0) {
            *hash = digest_infos[i].hash;
            *dig = in + pl;
            *dig_len = digest_infos[i].len;
            return CKR_OK;
        }
    }
    return CKR_DATA_INVALID;
}

static size_t sig_size(const struct object *o)
{
    if (o->key_type == CKK_EC)
        return 2 * attr_curve_bytes(o->key.curve);
    return (o->key.bits + 7) / 8;
}

static CK_RV do_sign(struct slot *s, struct object *o, struct operation *op, uint8_t *sig,
                     size_t *sig_len)
{
    const struct sig_mech *sm = sig_mech_find(op->mech);
    uint8_t dig[RAW_CAP], in[RAW_CAP];
    size_t dig_len, in_len;
    int h, rc;
    CK_RV rv = op_digest(op, dig, &dig_len, &h);
    struct tok_sign_req req = {.alg = sm->alg};

    if (rv != CKR_OK)
        return rv;
    if (sm->alg == TOK_SIG_ECDSA) {
        rv = ecdsa_input(o->key.curve, dig, dig_len, sm->md == NULL, in, &in_len);
        if (rv != CKR_OK)
            return rv;
        req.in = in;
        req.in_len = in_len;
        req.hash = h >= 0 ? hashes[h].tok : TOK_HASH_NONE;
    } else if (sm->alg == TOK_SIG_RSA_PKCS1 && sm->md == NULL) {
        if (dig_len + 11 > sig_size(o))
            return CKR_DATA_LEN_RANGE;
        rv = digest_info_parse(dig, dig_len, &req.hash, &req.in, &req.in_len);
        if (rv != CKR_OK) {
            log_error("sign", "token %s: CKM_RSA_PKCS input is not a DigestInfo of SHA-1/2",
                      s->conf.name);
            return rv;
        }
    } else {
        req.in = dig;
        req.in_len = dig_len;
        req.hash = h >= 0 ? hashes[h].tok : TOK_HASH_NONE;
        if (sm->alg == TOK_SIG_RSA_PSS)
            req.salt_len = op_pss(op)->sLen;
    }
    rc = s->ops->sign(s->dev, o->chip_id, &req, sig, sig_len);
    OPENSSL_cleanse(dig, sizeof dig);
    if (rc != TOK_OK) {
        log_error("sign", "token %s: signing with key %u failed: %s", s->conf.name, o->chip_id,
                  tok_strerror(rc));
        return ckr_from_tok(rc, TCTX_SIGN);
    }
    return CKR_OK;
}

/* Common tail of C_Sign and C_SignFinal: the two-call length convention. */
static CK_RV sign_finish(struct module *m, struct session *sess, struct slot *s, CK_BYTE_PTR sig,
                         CK_ULONG_PTR sig_len)
{
    struct object *o;
    uint8_t out[1024];
    size_t out_len = sizeof out;
    CK_RV rv = obj_lookup(m, sess, sess->sign.key, true, &s, &o);

    if (rv != CKR_OK) {
        op_end(&sess->sign);
        return rv;
    }
    size_t need = sig_size(o);
    if (sig == NULL) {
        *sig_len = need;
        return CKR_OK;
    }
    if (*sig_len < need) {
        *sig_len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    rv = do_sign(s, o, &sess->sign, out, &out_len);
    if (rv == CKR_OK) {
        memcpy(sig, out, out_len);
        *sig_len = out_len;
    }
    op_end(&sess->sign);
    return rv;
}

/* C_SignInit and C_VerifyInit. */
static CK_RV init_entry(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key,
                        bool sign)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct object *o;
    CK_RV rv;

    if (mech == NULL)
        return args_bad();
    rv = session_enter(h, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    rv = op_init(m, sess, s, sign ? &sess->sign : &sess->verify, mech, key, sign, &o);
    session_leave(m);
    return rv;
}

CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    return init_entry(hSession, pMechanism, hKey, true);
}

CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
             CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if ((pData == NULL && ulDataLen) || pulSignatureLen == NULL)
        return args_bad();
    rv = session_enter_op(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->sign.kind != OP_SIGN) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (sess->sign.multipart) {
        rv = CKR_OPERATION_ACTIVE;
    } else {
        /* The input is taken once; a length query must not add it twice. */
        if (!sess->sign.input_done) {
            rv = op_update(&sess->sign, pData, ulDataLen);
            sess->sign.input_done = true;
        }
        if (rv != CKR_OK)
            op_end(&sess->sign);
        else
            rv = sign_finish(m, sess, s, pSignature, pulSignatureLen);
    }
    session_leave(m);
    return rv;
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return op_part(hSession, OP_SIGN, pPart, ulPartLen);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                  CK_ULONG_PTR pulSignatureLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if (pulSignatureLen == NULL)
        return args_bad();
    rv = session_enter_op(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->sign.kind != OP_SIGN)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        rv = sign_finish(m, sess, s, pSignature, pulSignatureLen);
    session_leave(m);
    return rv;
}

/* ---- verify, on the host ---- */

static CK_RV ecdsa_sig_der(const uint8_t *sig, size_t half, uint8_t **der, int *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *sv = BN_bin2bn(sig + half, (int)half, NULL);

    *der = NULL;
    if (es == NULL || r == NULL || sv == NULL || ECDSA_SIG_set0(es, r, sv) != 1) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(sv);
        return CKR_HOST_MEMORY;
    }
    *der_len = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);
    return *der_len > 0 ? CKR_OK : CKR_GENERAL_ERROR;
}

static CK_RV do_verify(struct slot *s, struct object *o, struct operation *op, const uint8_t *sig,
                       size_t sig_len)
{
    const struct sig_mech *sm = sig_mech_find(op->mech);
    const struct tok_pubkey *pub;
    uint8_t dig[RAW_CAP], in[RAW_CAP];
    size_t dig_len, in_len;
    uint8_t *der = NULL;
    int der_len = 0, h, ok = 0;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    CK_RV rv;

    if (sig_len != sig_size(o))
        return CKR_SIGNATURE_LEN_RANGE;
    if ((rv = op_digest(op, dig, &dig_len, &h)) != CKR_OK || (rv = obj_pubkey(s, o, &pub)) != CKR_OK)
        return rv;
    pkey = attr_pkey_from_pub(pub);
    ctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1) {
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    if (sm->alg == TOK_SIG_ECDSA) {
        if ((rv = ecdsa_input(o->key.curve, dig, dig_len, sm->md == NULL, in, &in_len)) != CKR_OK ||
            (rv = ecdsa_sig_der(sig, sig_len / 2, &der, &der_len)) != CKR_OK)
            goto out;
        ok = EVP_PKEY_verify(ctx, der, (size_t)der_len, in, in_len);
    } else {
        EVP_MD *md = h >= 0 ? EVP_MD_fetch(NULL, hashes[h].md, NULL) : NULL;
        int pad = sm->alg == TOK_SIG_RSA_PSS ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
        int set = EVP_PKEY_CTX_set_rsa_padding(ctx, pad) == 1 &&
                  (md == NULL || EVP_PKEY_CTX_set_signature_md(ctx, md) == 1);
        if (set && sm->alg == TOK_SIG_RSA_PSS)
            set = EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)op_pss(op)->sLen) == 1;
        ok = set ? EVP_PKEY_verify(ctx, sig, sig_len, dig, dig_len) : -1;
        EVP_MD_free(md);
    }
    rv = ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
out:
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rv;
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    return init_entry(hSession, pMechanism, hKey, false);
}

static CK_RV verify_finish(struct module *m, struct session *sess, struct slot *s,
                           const uint8_t *sig, size_t sig_len)
{
    struct object *o;
    CK_RV rv = obj_lookup(m, sess, sess->verify.key, true, &s, &o);

    if (rv == CKR_OK)
        rv = do_verify(s, o, &sess->verify, sig, sig_len);
    op_end(&sess->verify);
    return rv;
}

CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if ((pData == NULL && ulDataLen) || pSignature == NULL)
        return args_bad();
    rv = session_enter_op(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->verify.kind != OP_VERIFY) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (sess->verify.multipart) {
        rv = CKR_OPERATION_ACTIVE;
    } else if ((rv = op_update(&sess->verify, pData, ulDataLen)) != CKR_OK) {
        op_end(&sess->verify);
    } else {
        rv = verify_finish(m, sess, s, pSignature, ulSignatureLen);
    }
    session_leave(m);
    return rv;
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return op_part(hSession, OP_VERIFY, pPart, ulPartLen);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if (pSignature == NULL)
        return args_bad();
    rv = session_enter_op(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->verify.kind != OP_VERIFY)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        rv = verify_finish(m, sess, s, pSignature, ulSignatureLen);
    session_leave(m);
    return rv;
}
