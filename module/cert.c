/* X.509 certificates: the attributes PKCS#11 derives from the DER, read with
 * OpenSSL, and the public key that pairs a certificate with a key pair. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "module/cert.h"

static int der_of_name(const X509_NAME *name, uint8_t *out, size_t cap, size_t *len)
{
    const unsigned char *der = NULL;
    size_t n = 0;

    if (X509_NAME_get0_der(name, &der, &n) != 1 || n > cap)
        return -1;
    memcpy(out, der, n);
    *len = n;
    return 0;
}

/* "YYMMDDHHMMSSZ" or "YYYYMMDDHHMMSSZ" -> CK_DATE's YYYY MM DD characters. */
static void date_of(const ASN1_TIME *t, uint8_t out[8])
{
    struct tm tm;

    memset(out, '0', 8);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year < -1900 || tm.tm_year > 8099)
        return;
    char buf[40];
    snprintf(buf, sizeof buf, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    memcpy(out, buf, 8);
}

static int pub_of(EVP_PKEY *pk, struct tok_pubkey *pub)
{
    char group[32];
    BIGNUM *n = NULL, *e = NULL;
    int ok = 0;

    memset(pub, 0, sizeof *pub);
    if (EVP_PKEY_is_a(pk, "EC")) {
        pub->type = TOK_KEY_EC;
        if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           NULL) != 1)
            return -1;
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            pub->curve = TOK_CURVE_P256;
        else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            pub->curve = TOK_CURVE_P384;
        else if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
            pub->curve = TOK_CURVE_P521;
        /* Compare points in uncompressed form whatever the certificate holds. */
        EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       "uncompressed");
        return EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pub->point,
                                               sizeof pub->point, &pub->point_len) == 1
                   ? 0
                   : -1;
    }
    if (EVP_PKEY_is_a(pk, "RSA")) {
        pub->type = TOK_KEY_RSA;
        if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
            EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
            (size_t)BN_num_bytes(n) <= sizeof pub->modulus &&
            (size_t)BN_num_bytes(e) <= sizeof pub->exponent) {
            pub->modulus_len = (size_t)BN_bn2bin(n, pub->modulus);
            pub->exponent_len = (size_t)BN_bn2bin(e, pub->exponent);
            ok = 1;
        }
        BN_free(n);
        BN_free(e);
        return ok ? 0 : -1;
    }
    return -1;
}

int cert_parse(const uint8_t *der, size_t len, struct cert_fields *out)
{
    const unsigned char *p = der;
    X509 *x;
    EVP_PKEY *pk;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (len == 0 || len > CERT_MAX_DER)
        return -1;
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len) /* trailing bytes: not one certificate */
        goto out;
    if (der_of_name(X509_get_subject_name(x), out->subject, sizeof out->subject,
                    &out->subject_len) != 0 ||
        der_of_name(X509_get_issuer_name(x), out->issuer, sizeof out->issuer,
                    &out->issuer_len) != 0)
        goto out;
    unsigned char *sp = out->serial;
    int sl = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), NULL);
    if (sl <= 0 || (size_t)sl > sizeof out->serial)
        goto out;
    out->serial_len = (size_t)i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &sp);
    uint8_t sha1[SHA_DIGEST_LENGTH];
    SHA1(der, len, sha1);
    memcpy(out->check_value, sha1, 3);
    date_of(X509_get0_notBefore(x), out->start);
    date_of(X509_get0_notAfter(x), out->end);
    out->is_ca = X509_check_ca(x) > 0;
    pk = X509_get0_pubkey(x);
    if (pk == NULL || pub_of(pk, &out->pub) != 0)
        goto out;
    rc = 0;
out:
    X509_free(x);
    return rc;
}

bool cert_key_matches(const struct tok_pubkey *a, const struct tok_pubkey *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == TOK_KEY_EC)
        return a->curve == b->curve && a->point_len == b->point_len &&
               memcmp(a->point, b->point, a->point_len) == 0;
    return a->modulus_len == b->modulus_len && a->exponent_len == b->exponent_len &&
           memcmp(a->modulus, b->modulus, a->modulus_len) == 0 &&
           memcmp(a->exponent, b->exponent, a->exponent_len) == 0;
}
