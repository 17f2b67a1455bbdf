/* The Cryptoki front on the emulated SE050: EC and RSA key pairs generated in
 * the chip, private keys imported with C_CreateObject, every signature
 * mechanism verified by OpenSSL against the public key the token reports, the
 * factory objects read-only, template errors and a full chip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "module/pkcs11_3.h"

static char dir[] = "/tmp/seccki-module-se050-XXXXXX";
static const CK_UTF8CHAR so_pin[] = "12345678";
static const CK_UTF8CHAR user_pin[] = "1234";

#define SLOT_GW 0
#define SLOT_EDGE 1
#define SLOT_FULL 2

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_p521[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23};
static const uint8_t oid_k256[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A}; /* secp256k1 */
static const uint8_t f4[] = {0x01, 0x00, 0x01};

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    char path[300];
    FILE *f;

    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/seccki.conf", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "[token gw]\nchip = se050\nbus = sim:%s/gw.se050\naddress = 0x48\nstore = %s/store\n\n"
            "[token edge]\nchip = atecc608\nbus = sim:%s/edge.atecc\nstore = %s/store\n\n"
            "[token full]\nchip = se050\nbus = sim:%s/full.se050\nlogin = none\n"
            "store = %s/store\n",
            dir, dir, dir, dir, dir, dir);
    fclose(f);
    setenv("SECCKI_CONF", path, 1);
    setenv("SECCKI_LOG", "none", 1);
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[320];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int init(void **state)
{
    (void)state;
    return C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

static int fini(void **state)
{
    (void)state;
    return C_Finalize(NULL) == CKR_OK ? 0 : -1;
}

static CK_SESSION_HANDLE open_rw(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h = 0;

    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
                     CKR_OK);
    return h;
}

/* Initialises a token and its user PIN once; later calls just log in. */
static CK_SESSION_HANDLE user_session(CK_SLOT_ID slot, const char *name)
{
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_UTF8CHAR label[32];

    assert_int_equal(C_GetTokenInfo(slot, &ti), CKR_OK);
    if (!(ti.flags & CKF_USER_PIN_INITIALIZED)) {
        memset(label, ' ', sizeof label);
        memcpy(label, name, strlen(name));
        assert_int_equal(C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, 8, label), CKR_OK);
        h = open_rw(slot);
        assert_int_equal(C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, 8), CKR_OK);
        assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_OK);
        assert_int_equal(C_Logout(h), CKR_OK);
        assert_int_equal(C_CloseSession(h), CKR_OK);
    }
    h = open_rw(slot);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_OK);
    return h;
}

/* The one object of a class with that label; 0 when none. */
static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE found[2] = {0, 0};
    CK_ULONG n = 0;

    assert_int_equal(C_FindObjectsInit(h, t, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, found, 2, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_true(n <= 1);
    return n == 1 ? found[0] : 0;
}

static CK_ULONG count_class(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof cls};
    CK_OBJECT_HANDLE found[256];
    CK_ULONG n = 0;

    assert_int_equal(C_FindObjectsInit(h, &t, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, found, 256, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    return n;
}

static bool get_bool(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
    CK_BBOOL v = 0xAA;
    CK_ATTRIBUTE a = {t, &v, sizeof v};

    assert_int_equal(C_GetAttributeValue(h, o, &a, 1), CKR_OK);
    assert_true(v == CK_TRUE || v == CK_FALSE);
    return v == CK_TRUE;
}

static CK_ULONG get_ulong(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
    CK_ULONG v = 0;
    CK_ATTRIBUTE a = {t, &v, sizeof v};

    assert_int_equal(C_GetAttributeValue(h, o, &a, 1), CKR_OK);
    return v;
}

static size_t get_bytes(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, uint8_t *buf,
                        size_t cap)
{
    CK_ATTRIBUTE a = {t, buf, cap};

    assert_int_equal(C_GetAttributeValue(h, o, &a, 1), CKR_OK);
    return a.ulValueLen;
}

/* ---- the public key as OpenSSL sees it, from the token's attributes ---- */

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* From CKA_EC_PARAMS and CKA_EC_POINT (DER OCTET STRING). */
static EVP_PKEY *ec_pub_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, size_t *field)
{
    uint8_t params[16], der[160];
    size_t plen = get_bytes(h, obj, CKA_EC_PARAMS, params, sizeof params);
    size_t dlen = get_bytes(h, obj, CKA_EC_POINT, der, sizeof der), hdr;
    const char *name = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();

    if (plen == sizeof oid_p256 && memcmp(params, oid_p256, plen) == 0) {
        name = "prime256v1";
        *field = 32;
    } else if (plen == sizeof oid_p384 && memcmp(params, oid_p384, plen) == 0) {
        name = "secp384r1";
        *field = 48;
    } else if (plen == sizeof oid_p521 && memcmp(params, oid_p521, plen) == 0) {
        name = "secp521r1";
        *field = 66;
    }
    assert_non_null(name);
    hdr = der[1] == 0x81 ? 3 : 2;
    assert_int_equal(der[0], 0x04);
    assert_int_equal(dlen, hdr + 1 + 2 * *field);
    assert_int_equal(der[hdr], 0x04);
    assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, name, 0));
    assert_true(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, der + hdr,
                                                 dlen - hdr));
    return pkey_from_params("EC", bld);
}

/* From CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
static EVP_PKEY *rsa_pub_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    uint8_t n[512], e[8];
    size_t nlen = get_bytes(h, obj, CKA_MODULUS, n, sizeof n);
    size_t elen = get_bytes(h, obj, CKA_PUBLIC_EXPONENT, e, sizeof e);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);

    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be));
    EVP_PKEY *pk = pkey_from_params("RSA", bld);
    BN_free(bn);
    BN_free(be);
    return pk;
}

/* Standard ECDSA verification of raw r||s over a digest of any length. */
static int ecdsa_ok(EVP_PKEY *pk, const uint8_t *dig, size_t dlen, const uint8_t *sig,
                    size_t half)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    uint8_t *der = NULL;
    int len, ok;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);

    ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)half, NULL), BN_bin2bn(sig + half, (int)half, NULL));
    len = i2d_ECDSA_SIG(es, &der);
    EVP_PKEY_verify_init(ctx);
    ok = EVP_PKEY_verify(ctx, der, (size_t)len, dig, dlen);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* RSA verification over a digest; pss_salt < 0: PKCS#1 v1.5. */
static int rsa_ok(EVP_PKEY *pk, const char *md_name, const uint8_t *dig, size_t dlen,
                  const uint8_t *sig, size_t slen, int pss_salt)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    EVP_MD *md = EVP_MD_fetch(NULL, md_name, NULL);
    int ok;

    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, md), 1);
    if (pss_salt >= 0) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, pss_salt), 1);
    } else {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    }
    ok = EVP_PKEY_verify(ctx, sig, slen, dig, dlen);
    EVP_MD_free(md);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void digest(const char *name, const uint8_t *msg, size_t len, uint8_t *out, size_t *olen)
{
    unsigned int n = 0;
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);

    assert_int_equal(EVP_Digest(msg, len, out, &n, md, NULL), 1);
    EVP_MD_free(md);
    *olen = n;
}

static CK_RV sign(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key, const uint8_t *in,
                  size_t len, uint8_t *sig, CK_ULONG *slen)
{
    CK_RV rv = C_SignInit(h, mech, key);

    if (rv != CKR_OK)
        return rv;
    return C_Sign(h, (CK_BYTE_PTR)in, len, sig, slen);
}

static CK_RV verify(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                    const uint8_t *in, size_t len, uint8_t *sig, CK_ULONG slen)
{
    CK_RV rv = C_VerifyInit(h, mech, key);

    if (rv != CKR_OK)
        return rv;
    return C_Verify(h, (CK_BYTE_PTR)in, len, sig, slen);
}

/* ---- key pairs generated in the chip ---- */

static void gen_ec(CK_SESSION_HANDLE h, const uint8_t *oid, size_t oid_len, const char *label,
                   CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pubt[] = {
        {CKA_EC_PARAMS, (void *)oid, oid_len},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_ATTRIBUTE privt[] = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 3, privt, 3, pub, priv), CKR_OK);
}

static void test_ec_keygen_sign(void **state)
{
    static const struct {
        const uint8_t *oid;
        size_t oid_len;
        const char *label;
    } curves[] = {
        {oid_p256, sizeof oid_p256, "ec256"},
        {oid_p384, sizeof oid_p384, "ec384"},
        {oid_p521, sizeof oid_p521, "ec521"},
    };
    static const struct {
        CK_MECHANISM_TYPE mech;
        const char *md;
    } mechs[] = {{CKM_ECDSA_SHA256, "SHA256"}, {CKM_ECDSA_SHA384, "SHA384"},
                 {CKM_ECDSA_SHA512, "SHA512"}};
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    uint8_t msg[300], dig[64], sig[140];
    size_t dlen, field = 0;

    (void)state;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    for (size_t c = 0; c < 3; c++) {
        CK_OBJECT_HANDLE pub, priv;
        gen_ec(h, curves[c].oid, curves[c].oid_len, curves[c].label, &pub, &priv);
        EVP_PKEY *pk = ec_pub_of(h, pub, &field);
        assert_true(get_bool(h, priv, CKA_LOCAL));
        assert_true(get_bool(h, priv, CKA_NEVER_EXTRACTABLE));
        assert_true(get_bool(h, priv, CKA_ALWAYS_SENSITIVE));
        assert_int_equal(get_ulong(h, priv, CKA_KEY_GEN_MECHANISM), CKM_EC_KEY_PAIR_GEN);

        /* CKM_ECDSA with digests shorter, equal and longer than the order:
         * standard ECDSA as OpenSSL computes it on the bare digest */
        for (size_t m = 0; m < 3; m++) {
            CK_MECHANISM raw = {CKM_ECDSA, NULL, 0};
            CK_ULONG slen = sizeof sig;
            digest(mechs[m].md, msg, sizeof msg, dig, &dlen);
            assert_int_equal(sign(h, &raw, priv, dig, dlen, sig, &slen), CKR_OK);
            assert_int_equal(slen, 2 * field);
            assert_int_equal(ecdsa_ok(pk, dig, dlen, sig, field), 1);
            assert_int_equal(verify(h, &raw, pub, dig, dlen, sig, slen), CKR_OK);

            CK_MECHANISM hm = {mechs[m].mech, NULL, 0};
            slen = sizeof sig;
            assert_int_equal(sign(h, &hm, priv, msg, sizeof msg, sig, &slen), CKR_OK);
            assert_int_equal(ecdsa_ok(pk, dig, dlen, sig, field), 1);
            assert_int_equal(verify(h, &hm, pub, msg, sizeof msg, sig, slen), CKR_OK);
            sig[3] ^= 1;
            assert_int_equal(verify(h, &hm, pub, msg, sizeof msg, sig, slen),
                             CKR_SIGNATURE_INVALID);
        }
        EVP_PKEY_free(pk);
    }
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* The one RSA key generated per run (the emulator takes its time). */
static CK_OBJECT_HANDLE rsa_key(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub)
{
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "tls-rsa");
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG bits = 2048;
    uint8_t id = 0x10;
    CK_ATTRIBUTE pubt[] = {
        {CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof f4},
        {CKA_TOKEN, &yes, sizeof yes},         {CKA_VERIFY, &yes, sizeof yes},
        {CKA_LABEL, "tls-rsa", 7},             {CKA_ID, &id, 1},
    };
    CK_ATTRIBUTE privt[] = {
        {CKA_TOKEN, &yes, sizeof yes}, {CKA_SIGN, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_LABEL, "tls-rsa", 7}, {CKA_ID, &id, 1},
    };

    if (priv == 0)
        assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 6, privt, 5, pub, &priv), CKR_OK);
    *pub = find_one(h, CKO_PUBLIC_KEY, "tls-rsa");
    assert_true(*pub != 0);
    return priv;
}

static void test_rsa_keygen(void **state)
{
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    CK_OBJECT_HANDLE pub, priv = rsa_key(h, &pub);
    uint8_t buf[512];

    (void)state;
    assert_int_equal(get_ulong(h, priv, CKA_MODULUS_BITS), 2048);
    assert_int_equal(get_ulong(h, pub, CKA_MODULUS_BITS), 2048);
    assert_int_equal(get_ulong(h, priv, CKA_KEY_TYPE), CKK_RSA);
    assert_int_equal(get_bytes(h, pub, CKA_MODULUS, buf, sizeof buf), 256);
    assert_true(buf[0] & 0x80);
    assert_int_equal(get_bytes(h, priv, CKA_MODULUS, buf + 256, 256), 256);
    assert_memory_equal(buf, buf + 256, 256);
    assert_int_equal(get_bytes(h, pub, CKA_PUBLIC_EXPONENT, buf, sizeof buf), 3);
    assert_memory_equal(buf, f4, 3);
    assert_true(get_bool(h, priv, CKA_LOCAL));
    assert_true(get_bool(h, priv, CKA_NEVER_EXTRACTABLE));
    assert_false(get_bool(h, priv, CKA_EXTRACTABLE));
    assert_int_equal(get_ulong(h, priv, CKA_KEY_GEN_MECHANISM), CKM_RSA_PKCS_KEY_PAIR_GEN);
    CK_ATTRIBUTE secret = {CKA_PRIVATE_EXPONENT, buf, sizeof buf};
    assert_int_equal(C_GetAttributeValue(h, priv, &secret, 1), CKR_ATTRIBUTE_SENSITIVE);

    /* sizes and exponents the chip cannot make */
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG bits = 1024;
    CK_ATTRIBUTE pubt[] = {{CKA_MODULUS_BITS, &bits, sizeof bits}};
    CK_OBJECT_HANDLE a, b;
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &a, &b), CKR_KEY_SIZE_RANGE);
    bits = 2560; /* inside the advertised range, not a size the chip has */
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &a, &b), CKR_KEY_SIZE_RANGE);
    static const uint8_t e3[] = {0x03};
    bits = 2048;
    CK_ATTRIBUTE pube[] = {{CKA_MODULUS_BITS, &bits, sizeof bits},
                           {CKA_PUBLIC_EXPONENT, (void *)e3, 1}};
    assert_int_equal(C_GenerateKeyPair(h, &mech, pube, 2, NULL, 0, &a, &b),
                     CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* Every RSA mechanism with the key at priv, verified by OpenSSL and by C_Verify. */
static void rsa_mechanisms(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
                           EVP_PKEY *pk)
{
    static const struct {
        CK_MECHANISM_TYPE mech;
        const char *md;
        CK_MECHANISM_TYPE hash;
        CK_RSA_PKCS_MGF_TYPE mgf;
        int pss_salt; /* -1: PKCS#1 v1.5 */
    } hashed[] = {
        {CKM_SHA256_RSA_PKCS, "SHA256", 0, 0, -1},
        {CKM_SHA384_RSA_PKCS, "SHA384", 0, 0, -1},
        {CKM_SHA512_RSA_PKCS, "SHA512", 0, 0, -1},
        {CKM_SHA256_RSA_PKCS_PSS, "SHA256", CKM_SHA256, CKG_MGF1_SHA256, 32},
        {CKM_SHA384_RSA_PKCS_PSS, "SHA384", CKM_SHA384, CKG_MGF1_SHA384, 48},
        {CKM_SHA512_RSA_PKCS_PSS, "SHA512", CKM_SHA512, CKG_MGF1_SHA512, 0},
    };
    static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                        0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                        0x02, 0x05, 0x00, 0x04, 0x30};
    uint8_t msg[200], dig[64], in[128], sig[512];
    size_t dlen, mod = (size_t)EVP_PKEY_get_size(pk);
    CK_ULONG slen;

    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i ^ 0x5A);
    for (size_t i = 0; i < sizeof hashed / sizeof hashed[0]; i++) {
        CK_RSA_PKCS_PSS_PARAMS pp = {hashed[i].hash, hashed[i].mgf, (CK_ULONG)hashed[i].pss_salt};
        CK_MECHANISM m = {hashed[i].mech, NULL, 0};
        if (hashed[i].pss_salt >= 0) {
            m.pParameter = &pp;
            m.ulParameterLen = sizeof pp;
        }
        digest(hashed[i].md, msg, sizeof msg, dig, &dlen);
        slen = sizeof sig;
        assert_int_equal(sign(h, &m, priv, msg, sizeof msg, sig, &slen), CKR_OK);
        assert_int_equal(slen, mod);
        assert_int_equal(rsa_ok(pk, hashed[i].md, dig, dlen, sig, slen, hashed[i].pss_salt), 1);
        assert_int_equal(verify(h, &m, pub, msg, sizeof msg, sig, slen), CKR_OK);
        sig[slen - 1] ^= 0x01;
        assert_int_equal(verify(h, &m, pub, msg, sizeof msg, sig, slen), CKR_SIGNATURE_INVALID);

        /* the raw mechanisms on the same digest */
        if (hashed[i].pss_salt >= 0) {
            CK_MECHANISM raw = {CKM_RSA_PKCS_PSS, &pp, sizeof pp};
            slen = sizeof sig;
            assert_int_equal(sign(h, &raw, priv, dig, dlen, sig, &slen), CKR_OK);
            assert_int_equal(
                rsa_ok(pk, hashed[i].md, dig, dlen, sig, slen, hashed[i].pss_salt), 1);
            assert_int_equal(verify(h, &raw, pub, dig, dlen, sig, slen), CKR_OK);
            /* a digest of the wrong length for the parameters' hash */
            slen = sizeof sig;
            assert_int_equal(sign(h, &raw, priv, dig, dlen - 1, sig, &slen), CKR_DATA_LEN_RANGE);
        }
    }

    /* CKM_RSA_PKCS on a DigestInfo: the chip signs the digest inside it */
    CK_MECHANISM pkcs = {CKM_RSA_PKCS, NULL, 0};
    digest("SHA384", msg, sizeof msg, dig, &dlen);
    memcpy(in, di_sha384, sizeof di_sha384);
    memcpy(in + sizeof di_sha384, dig, dlen);
    slen = sizeof sig;
    assert_int_equal(sign(h, &pkcs, priv, in, sizeof di_sha384 + dlen, sig, &slen), CKR_OK);
    assert_int_equal(rsa_ok(pk, "SHA384", dig, dlen, sig, slen, -1), 1);
    assert_int_equal(verify(h, &pkcs, pub, in, sizeof di_sha384 + dlen, sig, slen), CKR_OK);
    /* anything else (TLS 1.0's MD5||SHA-1, a bare digest) is refused */
    slen = sizeof sig;
    assert_int_equal(sign(h, &pkcs, priv, dig, 36, sig, &slen), CKR_DATA_INVALID);
    in[4] ^= 1;
    slen = sizeof sig;
    assert_int_equal(sign(h, &pkcs, priv, in, sizeof di_sha384 + dlen, sig, &slen),
                     CKR_DATA_INVALID);

    /* PSS parameters that do not match the mechanism */
    CK_RSA_PKCS_PSS_PARAMS bad = {CKM_SHA384, CKG_MGF1_SHA384, 32};
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS_PSS, &bad, sizeof bad};
    assert_int_equal(C_SignInit(h, &m, priv), CKR_MECHANISM_PARAM_INVALID);
    bad.hashAlg = CKM_SHA256; /* MGF1 of another hash */
    assert_int_equal(C_SignInit(h, &m, priv), CKR_MECHANISM_PARAM_INVALID);
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    assert_int_equal(C_SignInit(h, &m, priv), CKR_MECHANISM_PARAM_INVALID);
    /* an EC mechanism with an RSA key */
    CK_MECHANISM ec = {CKM_ECDSA, NULL, 0};
    assert_int_equal(C_SignInit(h, &ec, priv), CKR_KEY_TYPE_INCONSISTENT);
}

static void test_rsa_sign(void **state)
{
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    CK_OBJECT_HANDLE pub, priv = rsa_key(h, &pub);
    EVP_PKEY *pk = rsa_pub_of(h, pub);

    (void)state;
    rsa_mechanisms(h, priv, pub, pk);
    EVP_PKEY_free(pk);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* ---- import ---- */

static EVP_PKEY *ossl_keygen(const char *type, const char *curve, unsigned bits)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;

    assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
    if (curve != NULL)
        assert_int_equal(EVP_PKEY_CTX_set_group_name(ctx, curve), 1);
    else
        assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits), 1);
    assert_int_equal(EVP_PKEY_keygen(ctx, &pk), 1);
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static size_t bn_param(const EVP_PKEY *pk, const char *name, uint8_t *out, size_t cap)
{
    BIGNUM *bn = NULL;

    assert_int_equal(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
    int n = BN_num_bytes(bn);
    assert_true(n > 0 && (size_t)n <= cap);
    BN_bn2bin(bn, out);
    BN_clear_free(bn);
    return (size_t)n;
}

/* A template for an EC private key; attrs[] are appended by the caller. */
struct ec_tmpl {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    uint8_t d[66];
    size_t dlen;
    CK_ATTRIBUTE a[16];
    CK_ULONG n;
};

static void ec_tmpl_init(struct ec_tmpl *t, EVP_PKEY *pk, const uint8_t *oid, size_t oid_len,
                         size_t field)
{
    memset(t, 0, sizeof *t);
    t->cls = CKO_PRIVATE_KEY;
    t->kt = CKK_EC;
    t->dlen = bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, t->d, sizeof t->d);
    assert_true(t->dlen <= field);
    CK_ATTRIBUTE base[] = {
        {CKA_CLASS, &t->cls, sizeof t->cls}, {CKA_KEY_TYPE, &t->kt, sizeof t->kt},
        {CKA_TOKEN, &yes, sizeof yes},       {CKA_EC_PARAMS, (void *)oid, oid_len},
        {CKA_VALUE, t->d, t->dlen},
    };
    memcpy(t->a, base, sizeof base);
    t->n = 5;
}

static void add(CK_ATTRIBUTE *a, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, void *v, CK_ULONG len)
{
    a[*n].type = type;
    a[*n].pValue = v;
    a[*n].ulValueLen = len;
    (*n)++;
}

static void imported_attrs(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv)
{
    assert_false(get_bool(h, priv, CKA_EXTRACTABLE));
    assert_true(get_bool(h, priv, CKA_SENSITIVE));
    assert_false(get_bool(h, priv, CKA_LOCAL));
    assert_false(get_bool(h, priv, CKA_ALWAYS_SENSITIVE));
    assert_false(get_bool(h, priv, CKA_NEVER_EXTRACTABLE));
    assert_true(get_bool(h, priv, CKA_SIGN));
    assert_true(get_bool(h, priv, CKA_TOKEN));
    assert_true(get_bool(h, priv, CKA_DESTROYABLE));
    assert_int_equal(get_ulong(h, priv, CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
}

static void test_import_ec(void **state)
{
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    EVP_PKEY *pk = ossl_keygen("EC", "P-384", 0);
    struct ec_tmpl t;
    uint8_t id[] = {0x12, 0x34}, buf[160], pt[100], msg[64], dig[48], sig[96];
    size_t field = 0, dlen, ptlen = 0;
    CK_OBJECT_HANDLE priv = 0, pub;
    CK_ULONG slen = sizeof sig;

    (void)state;
    ec_tmpl_init(&t, pk, oid_p384, sizeof oid_p384, 48);
    add(t.a, &t.n, CKA_LABEL, "imported", 8);
    add(t.a, &t.n, CKA_ID, id, sizeof id);
    add(t.a, &t.n, CKA_SIGN, &yes, sizeof yes);
    add(t.a, &t.n, CKA_SENSITIVE, &yes, sizeof yes);
    add(t.a, &t.n, CKA_EXTRACTABLE, &no, sizeof no);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &priv), CKR_OK);
    assert_true(priv != 0);
    assert_int_equal(priv, find_one(h, CKO_PRIVATE_KEY, "imported"));
    imported_attrs(h, priv);
    assert_int_equal(get_bytes(h, priv, CKA_ID, buf, sizeof buf), 2);
    assert_memory_equal(buf, id, 2);
    CK_ATTRIBUTE secret = {CKA_VALUE, buf, sizeof buf};
    assert_int_equal(C_GetAttributeValue(h, priv, &secret, 1), CKR_ATTRIBUTE_SENSITIVE);

    /* the public half appears with it and is the key's */
    pub = find_one(h, CKO_PUBLIC_KEY, "imported");
    assert_true(pub != 0);
    assert_int_equal(get_bytes(h, pub, CKA_ID, buf, sizeof buf), 2);
    EVP_PKEY *chip = ec_pub_of(h, pub, &field);
    assert_int_equal(field, 48);
    assert_int_equal(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
                                                     &ptlen),
                     1);
    assert_int_equal(get_bytes(h, pub, CKA_EC_POINT, buf, sizeof buf), 2 + ptlen);
    assert_memory_equal(buf + 2, pt, ptlen);

    /* signatures verify against the key that was imported */
    memset(msg, 0x42, sizeof msg);
    digest("SHA384", msg, sizeof msg, dig, &dlen);
    CK_MECHANISM m = {CKM_ECDSA_SHA384, NULL, 0};
    assert_int_equal(sign(h, &m, priv, msg, sizeof msg, sig, &slen), CKR_OK);
    assert_int_equal(ecdsa_ok(pk, dig, dlen, sig, 48), 1);
    EVP_PKEY_free(chip);

    /* without label and ID: the defaults keygen gives (obj<id>, the id) */
    EVP_PKEY *pk2 = ossl_keygen("EC", "P-256", 0);
    ec_tmpl_init(&t, pk2, oid_p256, sizeof oid_p256, 32);
    CK_OBJECT_HANDLE priv2 = 0;
    assert_int_equal(C_CreateObject(h, t.a, t.n, &priv2), CKR_OK);
    size_t llen = get_bytes(h, priv2, CKA_LABEL, buf, sizeof buf);
    assert_int_equal(llen, 11);
    assert_memory_equal(buf, "obj6001", 7);
    uint8_t idb[8];
    assert_int_equal(get_bytes(h, priv2, CKA_ID, idb, sizeof idb), 4);
    assert_int_equal(idb[0], 0x60);
    assert_int_equal(idb[1], 0x01);
    slen = sizeof sig;
    digest("SHA256", msg, sizeof msg, dig, &dlen);
    CK_MECHANISM raw = {CKM_ECDSA, NULL, 0};
    assert_int_equal(sign(h, &raw, priv2, dig, dlen, sig, &slen), CKR_OK);
    assert_int_equal(ecdsa_ok(pk2, dig, dlen, sig, 32), 1);
    assert_int_equal(C_DestroyObject(h, priv2), CKR_OK);
    EVP_PKEY_free(pk2);
    EVP_PKEY_free(pk);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* After a restart (another process): still imported, still labelled. */
static void test_import_persists(void **state)
{
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "imported"), pub;

    (void)state;
    assert_true(priv != 0);
    imported_attrs(h, priv);
    priv = rsa_key(h, &pub);
    assert_true(get_bool(h, priv, CKA_LOCAL));
    assert_true(get_bool(h, priv, CKA_ALWAYS_SENSITIVE));
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

struct rsa_tmpl {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    uint8_t part[8][512];
    size_t len[8];
    CK_ATTRIBUTE a[20];
    CK_ULONG n;
};

static const CK_ATTRIBUTE_TYPE rsa_types[8] = {
    CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
    CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT};

/* mask: which of rsa_types go into the template. */
static void rsa_tmpl_init(struct rsa_tmpl *t, EVP_PKEY *pk, unsigned mask)
{
    static const char *names[8] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,         OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};

    memset(t, 0, sizeof *t);
    t->cls = CKO_PRIVATE_KEY;
    t->kt = CKK_RSA;
    add(t->a, &t->n, CKA_CLASS, &t->cls, sizeof t->cls);
    add(t->a, &t->n, CKA_KEY_TYPE, &t->kt, sizeof t->kt);
    add(t->a, &t->n, CKA_TOKEN, &yes, sizeof yes);
    for (int i = 0; i < 8; i++) {
        t->len[i] = bn_param(pk, names[i], t->part[i], sizeof t->part[i]);
        if (mask & (1u << i))
            add(t->a, &t->n, rsa_types[i], t->part[i], t->len[i]);
    }
}

static void test_import_rsa(void **state)
{
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    EVP_PKEY *pk = ossl_keygen("RSA", NULL, 2048);
    struct rsa_tmpl t;
    CK_OBJECT_HANDLE priv = 0, pub;
    uint8_t id = 0x13;

    (void)state;
    rsa_tmpl_init(&t, pk, 0xFF);
    add(t.a, &t.n, CKA_LABEL, "rsa-imp", 7);
    add(t.a, &t.n, CKA_ID, &id, 1);
    add(t.a, &t.n, CKA_SIGN, &yes, sizeof yes);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &priv), CKR_OK);
    imported_attrs(h, priv);
    assert_int_equal(get_ulong(h, priv, CKA_MODULUS_BITS), 2048);
    pub = find_one(h, CKO_PUBLIC_KEY, "rsa-imp");
    assert_true(pub != 0);
    uint8_t n[256];
    assert_int_equal(get_bytes(h, pub, CKA_MODULUS, n, sizeof n), 256);
    assert_memory_equal(n, t.part[0], 256);
    rsa_mechanisms(h, priv, pub, pk);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    assert_int_equal(find_one(h, CKO_PUBLIC_KEY, "rsa-imp"), 0);

    /* n, d, p and q only: e and the CRT parts are computed on the host */
    rsa_tmpl_init(&t, pk, 0x1D);
    add(t.a, &t.n, CKA_LABEL, "rsa-min", 7);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &priv), CKR_OK);
    pub = find_one(h, CKO_PUBLIC_KEY, "rsa-min");
    uint8_t e[8];
    assert_int_equal(get_bytes(h, pub, CKA_PUBLIC_EXPONENT, e, sizeof e), 3);
    assert_memory_equal(e, f4, 3);
    uint8_t msg[40], dig[32], sig[256];
    size_t dlen;
    CK_ULONG slen = sizeof sig;
    memset(msg, 7, sizeof msg);
    digest("SHA256", msg, sizeof msg, dig, &dlen);
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    assert_int_equal(sign(h, &m, priv, msg, sizeof msg, sig, &slen), CKR_OK);
    assert_int_equal(rsa_ok(pk, "SHA256", dig, dlen, sig, slen, -1), 1);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    EVP_PKEY_free(pk);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_import_errors(void **state)
{
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    EVP_PKEY *ec = ossl_keygen("EC", "P-256", 0), *rsa = ossl_keygen("RSA", NULL, 2048);
    EVP_PKEY *small = ossl_keygen("RSA", NULL, 1024);
    struct ec_tmpl t;
    struct rsa_tmpl r;
    CK_OBJECT_HANDLE o = 0;
    CK_ULONG before = count_class(h, CKO_PRIVATE_KEY);
    CK_BBOOL odd[2] = {CK_TRUE, CK_TRUE};

    (void)state;
    assert_int_equal(C_CreateObject(h, NULL, 0, NULL), CKR_ARGUMENTS_BAD);

    /* class and key type */
    ec_tmpl_init(&t, ec, oid_p256, sizeof oid_p256, 32);
    assert_int_equal(C_CreateObject(h, t.a + 1, t.n - 1, &o), CKR_TEMPLATE_INCOMPLETE);
    t.cls = CKO_CERTIFICATE; /* a certificate template has no key parts */
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_TYPE_INVALID);
    t.cls = CKO_DATA; /* a data template has no key parts either */
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_TYPE_INVALID);
    t.cls = CKO_PUBLIC_KEY;
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_TEMPLATE_INCONSISTENT);
    t.cls = CKO_PRIVATE_KEY;
    t.a[0].ulValueLen = 2;
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t.a[0].ulValueLen = sizeof t.cls;
    CK_ATTRIBUTE no_kt[] = {t.a[0], t.a[2], t.a[3], t.a[4]};
    assert_int_equal(C_CreateObject(h, no_kt, 4, &o), CKR_TEMPLATE_INCOMPLETE);
    t.kt = CKK_DSA;
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t.kt = CKK_EC;

    /* EC parts */
    assert_int_equal(C_CreateObject(h, t.a, 4, &o), CKR_TEMPLATE_INCOMPLETE); /* no CKA_VALUE */
    t.a[3].pValue = (void *)oid_k256;
    t.a[3].ulValueLen = sizeof oid_k256;
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_CURVE_NOT_SUPPORTED);
    static const uint8_t not_oid[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    t.a[3].pValue = (void *)not_oid;
    t.a[3].ulValueLen = sizeof not_oid;
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t.a[3].pValue = (void *)oid_p256;
    t.a[3].ulValueLen = sizeof oid_p256;
    uint8_t d[40];
    memset(d, 0, sizeof d);
    t.a[4].pValue = d;
    t.a[4].ulValueLen = 32; /* d = 0 */
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    memset(d, 0xFF, sizeof d); /* d >= the order */
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t.a[4].ulValueLen = 33; /* longer than the curve */
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t.a[4].pValue = t.d;
    t.a[4].ulValueLen = t.dlen;

    /* attributes that are not for this key, or not anybody's */
    CK_ULONG base = t.n;
    uint8_t junk[4] = {1, 2, 3, 4};
    add(t.a, &t.n, CKA_MODULUS, junk, 4);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_TYPE_INVALID);
    t.n = base;
    add(t.a, &t.n, 0x80001234UL, junk, 4);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_TYPE_INVALID);
    t.n = base;
    add(t.a, &t.n, CKA_EC_POINT, junk, 4);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_TYPE_INVALID);

    /* what the chip cannot make true, and what only the token may say */
    const struct {
        CK_ATTRIBUTE_TYPE type;
        CK_BBOOL *v;
        CK_ULONG len;
        CK_RV rv;
    } bools[] = {
        {CKA_TOKEN, &no, 1, CKR_TEMPLATE_INCONSISTENT},
        {CKA_SENSITIVE, &no, 1, CKR_TEMPLATE_INCONSISTENT},
        {CKA_EXTRACTABLE, &yes, 1, CKR_TEMPLATE_INCONSISTENT},
        {CKA_ALWAYS_AUTHENTICATE, &yes, 1, CKR_TEMPLATE_INCONSISTENT},
        {CKA_LOCAL, &yes, 1, CKR_ATTRIBUTE_READ_ONLY},
        {CKA_NEVER_EXTRACTABLE, &yes, 1, CKR_ATTRIBUTE_READ_ONLY},
        {CKA_ALWAYS_SENSITIVE, &yes, 1, CKR_ATTRIBUTE_READ_ONLY},
        {CKA_SIGN, odd, 2, CKR_ATTRIBUTE_VALUE_INVALID},
    };
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        t.n = base;
        if (bools[i].type == CKA_TOKEN)
            t.a[2].pValue = &no;
        else
            add(t.a, &t.n, bools[i].type, bools[i].v, bools[i].len);
        assert_int_equal(C_CreateObject(h, t.a, t.n, &o), bools[i].rv);
        t.a[2].pValue = &yes;
    }
    t.n = base;
    add(t.a, &t.n, CKA_LABEL, "a", 1);
    add(t.a, &t.n, CKA_LABEL, "b", 1);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_TEMPLATE_INCONSISTENT);
    t.n = base;
    char longlabel[200];
    memset(longlabel, 'x', sizeof longlabel);
    add(t.a, &t.n, CKA_LABEL, longlabel, sizeof longlabel);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    t.n = base;

    /* RSA */
    rsa_tmpl_init(&r, rsa, 0xFF & ~(1u << 4)); /* no q */
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_TEMPLATE_INCOMPLETE);
    rsa_tmpl_init(&r, rsa, 0xFF & ~(1u << 2)); /* no d */
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_TEMPLATE_INCOMPLETE);
    rsa_tmpl_init(&r, small, 0xFF);
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_KEY_SIZE_RANGE);
    rsa_tmpl_init(&r, rsa, 0xFF);
    r.part[5][r.len[5] - 1] ^= 2; /* dP */
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_TEMPLATE_INCONSISTENT);
    rsa_tmpl_init(&r, rsa, 0xFF);
    r.part[7][r.len[7] - 1] ^= 1; /* qInv */
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_TEMPLATE_INCONSISTENT);
    rsa_tmpl_init(&r, rsa, 0xFF);
    r.part[1][2] = 0x03; /* e = 65539 */
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_TEMPLATE_INCONSISTENT);
    rsa_tmpl_init(&r, rsa, 0xFF);
    r.part[0][10] ^= 0x10; /* n != p*q */
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_TEMPLATE_INCONSISTENT);
    rsa_tmpl_init(&r, rsa, 0xFF);
    add(r.a, &r.n, CKA_VALUE, junk, 4);
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_ATTRIBUTE_TYPE_INVALID);
    rsa_tmpl_init(&r, rsa, 0xFF);
    add(r.a, &r.n, CKA_EC_PARAMS, (void *)oid_p256, sizeof oid_p256);
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_ATTRIBUTE_TYPE_INVALID);

    /* none of it reached the chip */
    assert_int_equal(count_class(h, CKO_PRIVATE_KEY), before);

    /* session rules: a read-only session, then no login */
    CK_SESSION_HANDLE ro = 0;
    assert_int_equal(C_OpenSession(SLOT_GW, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    assert_int_equal(C_CreateObject(ro, t.a, t.n, &o), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
    assert_int_equal(C_CloseSession(h), CKR_OK);

    /* a chip that takes no keys from outside */
    h = user_session(SLOT_EDGE, "edge");
    assert_int_equal(C_CreateObject(h, t.a, t.n, &o), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(C_CloseSession(h), CKR_OK);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(small);
}

/* ---- factory objects, destroy ---- */

static void test_factory_and_destroy(void **state)
{
    CK_SESSION_HANDLE h = user_session(SLOT_GW, "gw");
    static const uint8_t dev_id[] = {0xF0, 0x00, 0x01, 0x00};
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void *)dev_id, 4}};
    CK_OBJECT_HANDLE found[2], pub, priv;
    CK_ULONG n = 0;

    (void)state;
    assert_int_equal(C_FindObjectsInit(h, t, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, found, 2, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    assert_false(get_bool(h, found[0], CKA_DESTROYABLE));
    /* its label and ID are host metadata: a factory key can be named */
    assert_true(get_bool(h, found[0], CKA_MODIFIABLE));
    assert_false(get_bool(h, found[0], CKA_EXTRACTABLE));
    assert_int_equal(C_DestroyObject(h, found[0]), CKR_ACTION_PROHIBITED);
    CK_ATTRIBUTE lbl = {CKA_LABEL, "mine", 4};
    assert_int_equal(C_SetAttributeValue(h, found[0], &lbl, 1), CKR_OK);
    char back[8] = "";
    CK_ATTRIBUTE rd = {CKA_LABEL, back, sizeof back};
    assert_int_equal(C_GetAttributeValue(h, found[0], &rd, 1), CKR_OK);
    assert_int_equal(rd.ulValueLen, 4);
    assert_memory_equal(back, "mine", 4);
    /* still there, still signing */
    uint8_t dig[32], sig[64];
    CK_ULONG slen = sizeof sig;
    size_t field = 0;
    memset(dig, 0x33, sizeof dig);
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    assert_int_equal(sign(h, &m, found[0], dig, sizeof dig, sig, &slen), CKR_OK);
    cls = CKO_PUBLIC_KEY;
    assert_int_equal(C_FindObjectsInit(h, t, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, &pub, 1, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    EVP_PKEY *pk = ec_pub_of(h, pub, &field);
    assert_int_equal(ecdsa_ok(pk, dig, sizeof dig, sig, 32), 1);
    EVP_PKEY_free(pk);

    /* a key of the module's goes, with its public half */
    gen_ec(h, oid_p256, sizeof oid_p256, "doomed", &pub, &priv);
    assert_int_equal(C_DestroyObject(h, pub), CKR_ACTION_PROHIBITED);
    assert_int_equal(C_DestroyObject(h, priv), CKR_OK);
    assert_int_equal(find_one(h, CKO_PRIVATE_KEY, "doomed"), 0);
    assert_int_equal(find_one(h, CKO_PUBLIC_KEY, "doomed"), 0);
    slen = sizeof sig;
    assert_int_equal(C_SignInit(h, &m, priv), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* ---- a full chip ---- */

static void test_memory_full(void **state)
{
    CK_SESSION_HANDLE h = open_rw(SLOT_FULL);
    EVP_PKEY *pk = ossl_keygen("RSA", NULL, 4096);
    struct rsa_tmpl r;
    CK_OBJECT_HANDLE o = 0, last = 0;
    CK_TOKEN_INFO ti;
    CK_ULONG keys0 = count_class(h, CKO_PRIVATE_KEY), made = 0;
    CK_RV rv = CKR_OK;

    (void)state;
    rsa_tmpl_init(&r, pk, 0xFF);
    assert_int_equal(C_GetTokenInfo(SLOT_FULL, &ti), CKR_OK);
    CK_ULONG free0 = ti.ulFreePublicMemory;
    while (made < 60 && (rv = C_CreateObject(h, r.a, r.n, &o)) == CKR_OK) {
        last = o;
        made++;
    }
    assert_int_equal(rv, CKR_DEVICE_MEMORY);
    assert_true(made >= 10);
    assert_int_equal(count_class(h, CKO_PRIVATE_KEY), keys0 + made); /* nothing half-written */
    /* the token reads the chip's free memory as it opens it */
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    assert_int_equal(C_GetTokenInfo(SLOT_FULL, &ti), CKR_OK);
    /* less than one more such key; the chip reports at most 0x7FFF bytes */
    assert_true(ti.ulFreePublicMemory < 1856 && ti.ulFreePublicMemory < free0);
    h = open_rw(SLOT_FULL);
    char name[16];
    /* room again after a destroy */
    snprintf(name, sizeof name, "obj%08x", 0x60010000u + (unsigned)made);
    last = find_one(h, CKO_PRIVATE_KEY, name);
    assert_true(last != 0);
    assert_int_equal(C_DestroyObject(h, last), CKR_OK);
    assert_int_equal(C_CreateObject(h, r.a, r.n, &o), CKR_OK);
    /* and a key generated into a full chip */
    CK_OBJECT_HANDLE a, b;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pubt[] = {{CKA_EC_PARAMS, (void *)oid_p521, sizeof oid_p521}};
    rv = C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &a, &b);
    for (int i = 0; i < 20 && rv == CKR_OK; i++)
        rv = C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &a, &b);
    assert_int_equal(rv, CKR_DEVICE_MEMORY);
    EVP_PKEY_free(pk);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ec_keygen_sign, init, fini),
        cmocka_unit_test_setup_teardown(test_rsa_keygen, init, fini),
        cmocka_unit_test_setup_teardown(test_rsa_sign, init, fini),
        cmocka_unit_test_setup_teardown(test_import_ec, init, fini),
        cmocka_unit_test_setup_teardown(test_import_persists, init, fini),
        cmocka_unit_test_setup_teardown(test_import_rsa, init, fini),
        cmocka_unit_test_setup_teardown(test_import_errors, init, fini),
        cmocka_unit_test_setup_teardown(test_factory_and_destroy, init, fini),
        cmocka_unit_test_setup_teardown(test_memory_full, init, fini),
    };
    return cmocka_run_group_tests_name("module: on the emulated SE050", tests, group_setup,
                                       group_teardown);
}
