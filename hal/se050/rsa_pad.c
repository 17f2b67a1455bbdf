#include "hal/se050/rsa_pad.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

struct hash_row {
    enum tok_hash hash;
    size_t len;
    const uint8_t *prefix; /* DigestInfo up to the digest (RFC 8017 §9.2 note 1) */
    size_t prefix_len;
};

static const uint8_t di_sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                  0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
static const uint8_t di_sha224[] = {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c};
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

static const struct hash_row hashes[] = {
    {TOK_HASH_SHA1, 20, di_sha1, sizeof di_sha1},
    {TOK_HASH_SHA224, 28, di_sha224, sizeof di_sha224},
    {TOK_HASH_SHA256, 32, di_sha256, sizeof di_sha256},
    {TOK_HASH_SHA384, 48, di_sha384, sizeof di_sha384},
    {TOK_HASH_SHA512, 64, di_sha512, sizeof di_sha512},
};

static const struct hash_row *row_of(enum tok_hash hash)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].hash == hash)
            return &hashes[i];
    return NULL;
}

static const EVP_MD *md_of(enum tok_hash hash)
{
    switch (hash) {
    case TOK_HASH_SHA1: return EVP_sha1();
    case TOK_HASH_SHA224: return EVP_sha224();
    case TOK_HASH_SHA256: return EVP_sha256();
    case TOK_HASH_SHA384: return EVP_sha384();
    case TOK_HASH_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

size_t rsa_pad_hash_len(enum tok_hash hash)
{
    const struct hash_row *r = row_of(hash);

    return r ? r->len : 0;
}

int rsa_pad_pkcs1(enum tok_hash hash, const uint8_t *digest, size_t dlen, uint8_t *em,
                  size_t em_len)
{
    const struct hash_row *r = row_of(hash);
    size_t t_len;

    if (r == NULL || dlen != r->len)
        return -1;
    t_len = r->prefix_len + dlen;
    if (em_len < t_len + 11)
        return -1;
    em[0] = 0x00;
    em[1] = 0x01;
    memset(em + 2, 0xFF, em_len - t_len - 3);
    em[em_len - t_len - 1] = 0x00;
    memcpy(em + em_len - t_len, r->prefix, r->prefix_len);
    memcpy(em + em_len - dlen, digest, dlen);
    return 0;
}

/* MGF1: xors the mask generated from seed into out[0..len). */
static int mgf1_xor(const EVP_MD *md, const uint8_t *seed, size_t seed_len, uint8_t *out,
                    size_t len)
{
    uint8_t buf[64 + 4], h[EVP_MAX_MD_SIZE];
    size_t hlen = (size_t)EVP_MD_get_size(md), done = 0;

    if (seed_len > 64)
        return -1;
    memcpy(buf, seed, seed_len);
    for (uint32_t counter = 0; done < len; counter++) {
        buf[seed_len] = (uint8_t)(counter >> 24);
        buf[seed_len + 1] = (uint8_t)(counter >> 16);
        buf[seed_len + 2] = (uint8_t)(counter >> 8);
        buf[seed_len + 3] = (uint8_t)counter;
        if (!EVP_Digest(buf, seed_len + 4, h, NULL, md, NULL))
            return -1;
        for (size_t i = 0; i < hlen && done < len; i++)
            out[done++] ^= h[i];
    }
    return 0;
}

int rsa_pad_pss(enum tok_hash hash, const uint8_t *digest, size_t dlen, size_t salt_len,
                unsigned mod_bits, uint8_t *em, size_t em_len)
{
    const EVP_MD *md = md_of(hash);
    size_t h_len = rsa_pad_hash_len(hash);
    unsigned em_bits = mod_bits - 1;
    size_t e_len = (em_bits + 7) / 8, db_len, lead;
    uint8_t mprime[8 + 64 + 512], *db, *h;

    if (md == NULL || dlen != h_len || mod_bits < 16 || em_len != (mod_bits + 7) / 8)
        return -1;
    if (salt_len > 512 || e_len < h_len + salt_len + 2)
        return -1;
    lead = em_len - e_len; /* one zero byte when mod_bits % 8 == 1 */
    memset(em, 0, em_len);
    db_len = e_len - h_len - 1;
    db = em + lead;
    h = db + db_len;

    memset(mprime, 0, 8);
    memcpy(mprime + 8, digest, dlen);
    if (salt_len > 0 && RAND_bytes(mprime + 8 + dlen, (int)salt_len) != 1)
        return -1;
    if (!EVP_Digest(mprime, 8 + dlen + salt_len, h, NULL, md, NULL))
        return -1;
    db[db_len - salt_len - 1] = 0x01;
    memcpy(db + db_len - salt_len, mprime + 8 + dlen, salt_len);
    if (mgf1_xor(md, h, h_len, db, db_len) != 0)
        return -1;
    db[0] &= (uint8_t)(0xFF >> (8 * e_len - em_bits));
    em[em_len - 1] = 0xBC;
    return 0;
}
