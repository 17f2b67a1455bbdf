/* DER pieces of key attributes: named-curve OIDs (CKA_EC_PARAMS), the OCTET
 * STRING around an EC point (CKA_EC_POINT), SubjectPublicKeyInfo
 * (CKA_PUBLIC_KEY_INFO), and OpenSSL keys built from chip public keys. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "hal/ossl_names.h"
#include "module/internal.h"

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_p521[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23};

static const struct {
    enum tok_curve curve;
    const uint8_t *oid;
    size_t oid_len;
    size_t bytes;
    const char *name;
} curves[] = {
    {TOK_CURVE_P256, oid_p256, sizeof oid_p256, 32, "prime256v1"},
    {TOK_CURVE_P384, oid_p384, sizeof oid_p384, 48, "secp384r1"},
    {TOK_CURVE_P521, oid_p521, sizeof oid_p521, 66, "secp521r1"},
};

#define NCURVES (sizeof curves / sizeof curves[0])

const uint8_t *attr_curve_oid(enum tok_curve curve, size_t *len)
{
    for (size_t i = 0; i < NCURVES; i++) {
        if (curves[i].curve == curve) {
            *len = curves[i].oid_len;
            return curves[i].oid;
        }
    }
    *len = 0;
    return NULL;
}

enum tok_curve attr_curve_from_params(const uint8_t *der, size_t len)
{
    for (size_t i = 0; i < NCURVES; i++)
        if (len == curves[i].oid_len && memcmp(der, curves[i].oid, len) == 0)
            return curves[i].curve;
    return TOK_CURVE_NONE;
}

size_t attr_curve_bytes(enum tok_curve curve)
{
    for (size_t i = 0; i < NCURVES; i++)
        if (curves[i].curve == curve)
            return curves[i].bytes;
    return 0;
}

static const char *curve_name(enum tok_curve curve)
{
    for (size_t i = 0; i < NCURVES; i++)
        if (curves[i].curve == curve)
            return curves[i].name;
    return NULL;
}

size_t attr_ec_point_der(const uint8_t *point, size_t plen, uint8_t *out, size_t cap)
{
    size_t hdr = plen < 128 ? 2 : 3;

    if (plen > 255 || cap < hdr + plen)
        return 0;
    out[0] = 0x04;
    if (hdr == 2) {
        out[1] = (uint8_t)plen;
    } else {
        out[1] = 0x81;
        out[2] = (uint8_t)plen;
    }
    memcpy(out + hdr, point, plen);
    return hdr + plen;
}

bool attr_ec_point_parse(const uint8_t *in, size_t len, size_t field_bytes, const uint8_t **pt,
                         size_t *ptlen)
{
    size_t want = 1 + 2 * field_bytes;

    if (in == NULL || field_bytes == 0)
        return false;
    /* DER OCTET STRING first: a raw point also starts with 0x04. */
    if (len == want + 2 && in[0] == 0x04 && in[1] == want && in[2] == 0x04) {
        *pt = in + 2;
        *ptlen = want;
        return true;
    }
    if (len == want + 3 && in[0] == 0x04 && in[1] == 0x81 && in[2] == want && in[3] == 0x04) {
        *pt = in + 3;
        *ptlen = want;
        return true;
    }
    if (len == want && in[0] == 0x04) {
        *pt = in;
        *ptlen = want;
        return true;
    }
    return false;
}

EVP_PKEY *attr_pkey_from_pub(const struct tok_pubkey *pub)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL, *e = NULL;
    const char *type;

    if (bld == NULL)
        return NULL;
    if (pub->type == TOK_KEY_EC) {
        const char *name = curve_name(pub->curve);
        type = OSSL_KEYTYPE_EC;
        if (name == NULL ||
            !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, name, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub->point,
                                              pub->point_len))
            goto out;
    } else if (pub->type == TOK_KEY_RSA) {
        type = OSSL_KEYTYPE_RSA;
        n = BN_bin2bn(pub->modulus, (int)pub->modulus_len, NULL);
        e = BN_bin2bn(pub->exponent, (int)pub->exponent_len, NULL);
        if (n == NULL || e == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            goto out;
    } else {
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
out:
    BN_free(n);
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

size_t attr_spki(const struct tok_pubkey *pub, uint8_t *out, size_t cap)
{
    EVP_PKEY *pkey = attr_pkey_from_pub(pub);
    int len;

    if (pkey == NULL)
        return 0;
    len = i2d_PUBKEY(pkey, NULL);
    if (len <= 0 || (size_t)len > cap) {
        EVP_PKEY_free(pkey);
        return len > 0 ? (size_t)len : 0;
    }
    uint8_t *p = out;
    len = i2d_PUBKEY(pkey, &p);
    EVP_PKEY_free(pkey);
    return len > 0 ? (size_t)len : 0;
}
