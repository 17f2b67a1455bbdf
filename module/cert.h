/* X.509 certificate fields as PKCS#11 exposes them (CKA_SUBJECT, CKA_ISSUER,
 * CKA_SERIAL_NUMBER, CKA_CHECK_VALUE, CKA_START_DATE/END_DATE), and the public
 * key that pairs a certificate with a key on the token. */
#ifndef SECCKI_CERT_H
#define SECCKI_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/token.h"

#define CERT_MAX_DER 8192

struct cert_fields {
    uint8_t subject[1024], issuer[1024];
    size_t subject_len, issuer_len;
    uint8_t serial[64];          /* DER INTEGER */
    size_t serial_len;
    uint8_t check_value[3];      /* first bytes of SHA-1 of the DER */
    uint8_t start[8], end[8];    /* CK_DATE: YYYYMMDD */
    bool is_ca;
    struct tok_pubkey pub;
};

/* Parses one DER certificate (no trailing bytes). 0, or -1 when it is not one. */
int cert_parse(const uint8_t *der, size_t len, struct cert_fields *out);

bool cert_key_matches(const struct tok_pubkey *a, const struct tok_pubkey *b);

#endif
