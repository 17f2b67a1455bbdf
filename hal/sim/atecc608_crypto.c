/* The ATECC608 emulator's cryptography: P-256 (OpenSSL EVP), the RNG, and the
 * chip's SHA-256 engine whose chaining state has to be saved between
 * commands. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "hal/ossl_names.h"
#include "hal/sim/atecc608_emu.h"

int a608_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;

    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

int a608_random(struct a608 *c, uint8_t *out, size_t len)
{
    /* Before the config zone is locked the RNG gives a fixed test pattern. */
    if (!a608_config_locked(c)) {
        static const uint8_t pattern[4] = {0xFF, 0xFF, 0x00, 0x00};
        for (size_t i = 0; i < len; i++)
            out[i] = pattern[i % 4];
        return 0;
    }
    return RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

static EVP_PKEY *pkey_from(const uint8_t *priv, const uint8_t pub[64])
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *d = NULL;
    uint8_t pt[65];

    pt[0] = 0x04;
    memcpy(pt + 1, pub, 64);
    if (bld == NULL)
        goto out;
    if (priv != NULL && (d = BN_bin2bn(priv, 32, NULL)) == NULL)
        goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt) ||
        (d != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, OSSL_KEYTYPE_EC, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) != 1)
        pk = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return pk;
}

int a608_ec_public(const uint8_t priv[32], uint8_t pub[64])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *p = NULL;
    BIGNUM *d = BN_bin2bn(priv, 32, NULL);
    BN_CTX *bn = BN_CTX_new();
    uint8_t pt[65];
    int rc = -1;

    if (g == NULL || d == NULL || bn == NULL)
        goto out;
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
        goto out;
    p = EC_POINT_new(g);
    if (p == NULL || EC_POINT_mul(g, p, d, NULL, NULL, bn) != 1 ||
        EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pt, sizeof pt, bn) != sizeof pt)
        goto out;
    memcpy(pub, pt + 1, 64);
    rc = 0;
out:
    EC_POINT_free(p);
    EC_GROUP_free(g);
    BN_clear_free(d);
    BN_CTX_free(bn);
    return rc;
}

int a608_ec_generate(uint8_t priv[32], uint8_t pub[64])
{
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_name(NULL, OSSL_KEYTYPE_EC, NULL);
    EVP_PKEY *pk = NULL;
    BIGNUM *d = NULL;
    uint8_t pt[65];
    size_t n = 0;
    int rc = -1;

    if (gen == NULL || EVP_PKEY_keygen_init(gen) != 1 ||
        EVP_PKEY_CTX_set_group_name(gen, "P-256") != 1 || EVP_PKEY_generate(gen, &pk) != 1 ||
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
        BN_bn2binpad(d, priv, 32) != 32 ||
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n) != 1 ||
        n != sizeof pt || pt[0] != 0x04)
        goto out;
    memcpy(pub, pt + 1, 64);
    rc = 0;
out:
    EVP_PKEY_CTX_free(gen);
    BN_clear_free(d);
    EVP_PKEY_free(pk);
    return rc;
}

/* One INTEGER of a DER ECDSA-Sig-Value, as a 32-byte big-endian number. */
static int der_int32(const uint8_t **p, const uint8_t *end, uint8_t out[32])
{
    const uint8_t *q = *p;
    size_t n;

    if (end - q < 2 || q[0] != 0x02)
        return -1;
    n = q[1];
    q += 2;
    if (n == 0 || n > 33 || (size_t)(end - q) < n || (n == 33 && q[0] != 0x00))
        return -1;
    if (n == 33) {
        q++;
        n--;
    }
    memset(out, 0, 32 - n);
    memcpy(out + 32 - n, q, n);
    *p = q + n;
    return 0;
}

/* r || s from OpenSSL's DER signature; for P-256 it is at most 72 bytes, so
 * every length is in short form. */
static int sig_from_der(const uint8_t *der, size_t len, uint8_t sig[64])
{
    const uint8_t *p = der, *end;

    if (len < 2 || der[0] != 0x30 || der[1] > 0x7F || (size_t)der[1] + 2 != len)
        return -1;
    p = der + 2;
    end = der + len;
    if (der_int32(&p, end, sig) != 0 || der_int32(&p, end, sig + 32) != 0 || p != end)
        return -1;
    return 0;
}

static int sign_with(EVP_PKEY_CTX *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    uint8_t der[80];
    size_t dlen = sizeof der;

    if (EVP_PKEY_sign(ctx, der, &dlen, digest, 32) != 1)
        return -1;
    return sig_from_der(der, dlen, sig);
}

int a608_ec_sign(const uint8_t priv[32], const uint8_t pub[64], const uint8_t digest[32],
                 uint8_t sig[64])
{
    EVP_PKEY *pk = pkey_from(priv, pub);
    EVP_PKEY_CTX *ctx = NULL;
    int rc = -1;

    if (pk != NULL && (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) != NULL &&
        EVP_PKEY_sign_init(ctx) == 1)
        rc = sign_with(ctx, digest, sig);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rc;
}

static void key_cache_drop(struct a608_key_cache *k)
{
    EVP_PKEY_CTX_free(k->sign);
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof *k);
}

void a608_key_cache_free(struct a608 *c)
{
    for (unsigned i = 0; i < A608_SLOTS; i++)
        key_cache_drop(&c->keys[i]);
}

/* Building the key (the curve group, the point checks) and fetching the
 * signature method cost more than the signature itself; a slot's key changes
 * rarely, so the objects are made once and reused until its bytes differ. */
int a608_slot_sign(struct a608 *c, unsigned slot, const uint8_t digest[32], uint8_t sig[64])
{
    struct a608_key_cache *k;

    if (slot >= A608_SLOTS)
        return -1;
    k = &c->keys[slot];
    if (k->sign == NULL || CRYPTO_memcmp(k->priv, c->priv[slot], sizeof k->priv) != 0 ||
        CRYPTO_memcmp(k->pub, c->pub[slot], sizeof k->pub) != 0) {
        key_cache_drop(k);
        k->pkey = pkey_from(c->priv[slot], c->pub[slot]);
        if (k->pkey == NULL || (k->sign = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) == NULL ||
            EVP_PKEY_sign_init(k->sign) != 1) {
            key_cache_drop(k);
            return -1;
        }
        memcpy(k->priv, c->priv[slot], sizeof k->priv);
        memcpy(k->pub, c->pub[slot], sizeof k->pub);
    }
    if (sign_with(k->sign, digest, sig) != 0) {
        key_cache_drop(k);
        return -1;
    }
    return 0;
}

int a608_ec_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    EVP_PKEY *pk = pkey_from(NULL, pub);
    EVP_PKEY_CTX *ctx = NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    int dlen, rc = -1;

    if (pk == NULL || es == NULL || r == NULL || s == NULL)
        goto out;
    if (ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL;
    dlen = i2d_ECDSA_SIG(es, &der);
    if (dlen <= 0 || (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
        EVP_PKEY_verify_init(ctx) != 1)
        goto out;
    rc = EVP_PKEY_verify(ctx, der, (size_t)dlen, digest, 32) == 1 ? 1 : 0;
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rc;
}

int a608_ec_ecdh(const uint8_t priv[32], const uint8_t pub[64], const uint8_t peer[64],
                 uint8_t shared[32])
{
    EVP_PKEY *mine = pkey_from(priv, pub);
    EVP_PKEY *other = pkey_from(NULL, peer);
    EVP_PKEY_CTX *ctx = NULL;
    size_t n = 32;
    int rc = -1;

    if (other == NULL)
        goto out;
    rc = -2;
    if (mine == NULL || (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) == NULL ||
        EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, other) != 1 ||
        EVP_PKEY_derive(ctx, shared, &n) != 1 || n != 32)
        goto out;
    rc = 0;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(other);
    return rc;
}

/* FIPS 180-4 SHA-256, block by block. */
static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

void a608_sha_start(struct a608_sha *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

    memcpy(s->h, iv, sizeof iv);
    s->blocks = 0;
    s->active = true;
}

void a608_sha_block(struct a608_sha *s, const uint8_t block[64])
{
    uint32_t w[64], v[8];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha_k[i] + w[i];
        uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
    s->blocks++;
}

void a608_sha_finish(struct a608_sha *s, const uint8_t *tail, size_t len, uint8_t out[32])
{
    uint8_t buf[128] = {0};
    uint64_t bits = (s->blocks * 64 + len) * 8;
    size_t total = len + 9 <= 64 ? 64 : 128;

    memcpy(buf, tail, len);
    buf[len] = 0x80;
    for (int i = 0; i < 8; i++)
        buf[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    a608_sha_block(s, buf);
    if (total == 128)
        a608_sha_block(s, buf + 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
    s->active = false;
}
