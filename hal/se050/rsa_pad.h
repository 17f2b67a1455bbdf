/* Host-side RSA signature encodings (RFC 8017 §9): the SE050 signs a
 * precomputed digest as a raw private-key operation on the encoded block
 * (RSADecrypt, no padding), as §3.6.3 of the spec describes. */
#ifndef SECCKI_SE050_RSA_PAD_H
#define SECCKI_SE050_RSA_PAD_H

#include <stddef.h>
#include <stdint.h>

#include "module/token.h"

/* Digest size of a hash, 0 if unknown. */
size_t rsa_pad_hash_len(enum tok_hash hash);

/* EMSA-PKCS1-v1_5: 00 01 FF.. 00 DigestInfo. 0, or -1 when the digest does
 * not match the hash or em_len is too small. */
int rsa_pad_pkcs1(enum tok_hash hash, const uint8_t *digest, size_t dlen, uint8_t *em,
                  size_t em_len);

/* EMSA-PSS with MGF1 of the same hash and a random salt, for a modulus of
 * mod_bits; em is the modulus size (leading zero byte when mod_bits % 8 == 1). */
int rsa_pad_pss(enum tok_hash hash, const uint8_t *digest, size_t dlen, size_t salt_len,
                unsigned mod_bits, uint8_t *em, size_t em_len);

#endif
