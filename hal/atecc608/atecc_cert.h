/* Trust&GO (ATECC608-TNGTLS) certificates: the definitions of the device and
 * signer certificates, their 72-byte compressed form (spec 8.2) and the
 * rebuild into DER (spec 8.3), plus reading what the rebuild needs from a
 * chip.
 *
 * A definition says which parts of a certificate are fixed text and where
 * the variable fields go; the builder turns a definition and the variable
 * fields into the TBSCertificate, byte for byte the same every time. The
 * factory that made a chip signed exactly that TBS, so the host gets the
 * signed certificate back from the 72 bytes. The same definitions make the
 * emulator's factory certificates (hal/sim, profile trustngo).
 *
 * The geometry matches the cryptoauthlib definitions of spec 8.3 (TBS 457 /
 * 430 bytes, every field offset of its table); the choice of string types
 * (UTF8String for O and CN, PrintableString for serialNumber) is ours. */
#ifndef SECCKI_ATECC_CERT_H
#define SECCKI_ATECC_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/atecc608/atecc_config.h"

struct atecc_dev;

enum atecc_cert_err {
    ATECC_CERT_OK = 0,
    ATECC_CERT_E_FORMAT,    /* compressed bytes this definition cannot decode */
    ATECC_CERT_E_DATE,      /* a date the certificate formats cannot carry */
    ATECC_CERT_E_SPACE,     /* output buffer too small */
    ATECC_CERT_E_SIGNATURE, /* the rebuilt certificate does not verify */
    ATECC_CERT_E_CRYPTO,    /* the host crypto library failed */
};

#define ATECC_CERT_COMP_SIZE 72u
#define ATECC_CERT_KEY_SIZE 64u  /* X || Y */
#define ATECC_CERT_EUI48_LEN 12u /* ASCII hex in slot 5 */
#define ATECC_CERT_MAX 600u      /* any certificate of these definitions fits */

/* Compressed-certificate fields (spec 8.2). */
#define ATECC_CERT_SNSRC_PUB_KEY_HASH 0xAu
#define ATECC_CERT_FORMAT_MAX 2u

/* Slots of the Trust&GO layout (spec 8.1). */
#define ATECC_TNG_KEY_SLOT 0u
#define ATECC_TNG_EUI48_SLOT 5u
#define ATECC_TNG_DEVICE_SLOT 10u
#define ATECC_TNG_SIGNER_KEY_SLOT 11u
#define ATECC_TNG_SIGNER_SLOT 12u

/* What goes into a CN after its fixed prefix. */
enum atecc_cert_cn { ATECC_CN_FIXED, ATECC_CN_SIGNER_ID, ATECC_CN_SERIAL };

struct atecc_cert_name {
    const char *org;
    const char *cn;          /* the fixed text (the whole CN for ATECC_CN_FIXED) */
    enum atecc_cert_cn var;  /* SIGNER_ID: 4 hex chars; SERIAL: "sn" + 18 hex chars */
};

struct atecc_cert_def {
    const char *what;        /* "device", "signer": for logs */
    uint8_t template_id;     /* nibbles of compressed byte 69 */
    uint8_t chain_id;
    unsigned expire_years;   /* what the factory writes; 0: no expiry */
    struct atecc_cert_name issuer;
    struct atecc_cert_name subject;
    bool san_eui48;          /* SAN dirName serialNumber=eui48_<slot 5> */
    bool ca;                 /* basicConstraints CA:TRUE */
    int path_len;            /* its pathLenConstraint; -1: none */
    uint8_t key_usage;       /* first (only) byte of the keyUsage bits */
    uint8_t key_usage_unused; /* unused bits of that byte */
};

extern const struct atecc_cert_def atecc_cert_tng_device; /* slot 10 */
extern const struct atecc_cert_def atecc_cert_tng_signer; /* slot 12 */

/* UTC, whole hours (minutes and seconds are always zero). */
struct atecc_cert_date {
    unsigned year, month, day, hour;
};

/* Everything variable in one certificate. */
struct atecc_cert_fields {
    uint8_t subject_key[ATECC_CERT_KEY_SIZE];
    uint8_t issuer_key[ATECC_CERT_KEY_SIZE];  /* for the AuthorityKeyIdentifier */
    struct atecc_cert_date issue;
    unsigned expire_years;                    /* 0: 9999-12-31 23:59:59 */
    uint16_t signer_id;
    uint8_t sn[ATECC_SERIAL_SIZE];            /* chip serial (subject CN "sn...") */
    char eui48[ATECC_CERT_EUI48_LEN];         /* slot 5 text (SAN) */
};

/* The 3 date bytes of the compressed format and the format-v1/v2 extension
 * byte (issue-year and expire-years high bits). ATECC_CERT_E_DATE when the
 * issue year is outside 2000-2049 (UTCTime) or expire_years > 127. */
int atecc_cert_encode_dates(const struct atecc_cert_date *issue, unsigned expire_years,
                            uint8_t enc[3], uint8_t *ext);

/* The certificate serial number (SNSRC PUB_KEY_HASH): SHA-256(subject key ||
 * encoded dates), first 16 bytes, top two bits 01. */
int atecc_cert_serial(const uint8_t key[ATECC_CERT_KEY_SIZE], const uint8_t enc_dates[3],
                      uint8_t serial[16]);

/* The TBSCertificate DER of def with the fields. */
int atecc_cert_tbs(const struct atecc_cert_def *def, const struct atecc_cert_fields *f,
                   uint8_t *tbs, size_t cap, size_t *len);

/* The whole certificate: TBS, ecdsa-with-SHA256, and the signature R || S
 * DER-encoded (its length varies with R and S). */
int atecc_cert_build(const struct atecc_cert_def *def, const struct atecc_cert_fields *f,
                     const uint8_t sig[64], uint8_t *der, size_t cap, size_t *len);

/* The 72 bytes a factory stores: signature, dates, signer id, template and
 * chain id, SN source PUB_KEY_HASH, format version (0, or 1 when a date
 * needs the extension byte). */
int atecc_cert_compress(const struct atecc_cert_def *def, const struct atecc_cert_fields *f,
                        const uint8_t sig[64], uint8_t comp[ATECC_CERT_COMP_SIZE]);

/* Fills issue, expire_years and signer_id of f and the signature from the
 * 72 bytes. ATECC_CERT_E_FORMAT for an unknown format version, a serial
 * number source other than PUB_KEY_HASH or an impossible date. */
int atecc_cert_decompress(const struct atecc_cert_def *def,
                          const uint8_t comp[ATECC_CERT_COMP_SIZE],
                          struct atecc_cert_fields *f, uint8_t sig[64]);

/* 1 when sig (R || S) is a valid ECDSA P-256 signature of SHA-256(tbs) by key,
 * 0 when not, -1 on an unusable key or a crypto failure. */
int atecc_cert_verify(const uint8_t *tbs, size_t tbs_len, const uint8_t sig[64],
                      const uint8_t key[ATECC_CERT_KEY_SIZE]);

/* Roots a signer certificate may chain to, whose public keys the host must
 * know for the signer's AuthorityKeyIdentifier: the Microchip root, then the
 * seccki test root of the emulator (hal/sim, profile trustngo). NULL past the
 * end. */
const uint8_t *atecc_cert_root_key(unsigned i, const char **name);

/* The chip side: true when the cached config zone has the Trust&GO layout
 * (zones locked; slot 0 a P-256 private key with PubInfo; slot 5 and the
 * certificate slots 10 and 12 clear-readable data; slot 11 a P-256 public
 * key). */
bool atecc_cert_tng_layout(const uint8_t cfg[ATECC_CONFIG_SIZE]);

/* The OTP codes of the parts whose certificates these definitions rebuild. */
bool atecc_cert_tng_otp(const uint8_t otp[8]);

/* A chip's factory certificates, rebuilt. */
struct atecc_tng_certs {
    unsigned count;               /* 0: not a Trust&GO part */
    struct {
        uint32_t slot;            /* 10 device, 12 signer */
        size_t len;
        uint8_t der[ATECC_CERT_MAX];
    } cert[2];
};

/* Reads OTP, slots 5, 10, 11, 12 and the public key of slot 0 in one
 * sequence and rebuilds both certificates; each is checked against its
 * issuer's key, so a definition that does not match the chip's factory is
 * reported, never handed out. count 0 (ATECC_OK) on other chips. Returns an
 * atecc_err. */
int atecc_cert_read_tng(struct atecc_dev *dev, struct atecc_tng_certs *out);

#endif
