/* The token interface: what module/ needs from a secure element, in
 * chip-neutral terms. Each chip driver (hal/atecc608, hal/se050) fills one
 * `struct token_ops`. Objects are named by the chip's own identifier (ATECC608
 * slot number, SE050 32-bit object id). What a chip can do is data
 * (`struct tok_caps`), so module/ never asks which chip it is talking to.
 *
 * This header includes neither pkcs11.h nor any hal/ chip header. */
#ifndef SECCKI_TOKEN_H
#define SECCKI_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;

enum tok_err {
    TOK_OK = 0,
    TOK_E_ARGS,          /* a request the driver cannot form (bad length, bad id) */
    TOK_E_UNSUPPORTED,   /* curve, key size or operation the chip cannot do */
    TOK_E_NOT_FOUND,     /* no such chip object */
    TOK_E_EXISTS,        /* the chip object id is in use */
    TOK_E_FULL,          /* no free key slot, chip memory exhausted */
    TOK_E_POLICY,        /* the chip's slot config / object policy forbids it */
    TOK_E_LOCKED,        /* slot or zone locked; chip not provisioned for this */
    TOK_E_DEVICE,        /* bus or chip failure after bounded retries */
    TOK_E_ABSENT,        /* the chip does not answer at all */
    TOK_E_NOMEM,
    TOK_E_DATA_LEN,      /* input of a length the operation cannot take */
    TOK_E_DATA_INVALID,  /* input the chip rejected as malformed (a bad point) */
};

enum tok_key_type { TOK_KEY_EC = 1, TOK_KEY_RSA = 2 };

enum tok_curve { TOK_CURVE_NONE = 0, TOK_CURVE_P256 = 1, TOK_CURVE_P384 = 2, TOK_CURVE_P521 = 3 };

enum tok_hash { TOK_HASH_NONE = 0, TOK_HASH_SHA1, TOK_HASH_SHA224, TOK_HASH_SHA256,
                TOK_HASH_SHA384, TOK_HASH_SHA512 };

enum tok_sig_alg {
    TOK_SIG_ECDSA = 1, /* in: a digest exactly the curve's byte size; out: raw r||s */
    TOK_SIG_RSA_PKCS1, /* in: a digest of `hash`; chip applies EMSA-PKCS1-v1_5 */
    TOK_SIG_RSA_PSS,   /* in: a digest of `hash`; MGF1 with the same hash */
};

/* Capabilities: the module builds its mechanism list and limits from these. */
struct tok_caps {
    unsigned curves;        /* bit (1u << TOK_CURVE_x) for each curve the chip has */
    unsigned rsa_min_bits;  /* 0: no RSA */
    unsigned rsa_max_bits;
    bool ecdh;              /* ECDH on chip keys */
    bool rsa_pss;
    bool import_keys;       /* private keys can be written into the chip */
    bool hw_random;
    bool fixed_slots;       /* keys live in fixed positions that always hold a
                               key (ATECC608): which are in use is host knowledge */
    unsigned max_keys;      /* key positions / a practical object limit */
};

struct tok_info {
    char model[17];          /* "ATECC608B", "SE050" (blank-padded by the module) */
    char manufacturer[33];   /* "Microchip Technology", "NXP" */
    char serial[33];         /* hex of the chip serial number */
    uint8_t hw_major, hw_minor;
    uint8_t fw_major, fw_minor;
    bool provisioned;        /* the chip is configured for key storage (ATECC608:
                                config and data zones locked) */
    long free_memory;        /* bytes, -1 when unknown */
};

/* Flags of a key position / key object. */
#define TOK_KEYF_SIGN      0x0001u /* may sign digests from the host */
#define TOK_KEYF_DERIVE    0x0002u /* may do ECDH */
#define TOK_KEYF_GENERATE  0x0004u /* may be (re)generated in place */
#define TOK_KEYF_PERMANENT 0x0008u /* cannot be regenerated or deleted (factory key) */
#define TOK_KEYF_LOCAL     0x0010u /* known to have been generated inside the chip */
#define TOK_KEYF_PRIVATE   0x0020u /* holds a private key (else a public key only) */
#define TOK_KEYF_EXISTS    0x0040u /* the chip reports a key there (SE050 objects) */

struct tok_key {
    uint32_t id;             /* ATECC608 slot, SE050 object id */
    enum tok_key_type type;
    enum tok_curve curve;    /* EC */
    unsigned bits;           /* RSA modulus bits, EC field bits */
    unsigned flags;          /* TOK_KEYF_* */
};

/* A public key as the chip gives it. EC: uncompressed point 04||X||Y. RSA:
 * big-endian modulus and exponent. */
struct tok_pubkey {
    enum tok_key_type type;
    enum tok_curve curve;
    uint8_t point[133];
    size_t point_len;
    uint8_t modulus[512];
    size_t modulus_len;
    uint8_t exponent[8];
    size_t exponent_len;
};

struct tok_sign_req {
    enum tok_sig_alg alg;
    enum tok_hash hash;      /* RSA: the digest's hash; ECDSA: informative */
    const uint8_t *in;
    size_t in_len;
    size_t salt_len;         /* PSS */
};

/* A private key to write into the chip (C_CreateObject). Big-endian
 * integers. EC: d (curve size) and the public point 04||X||Y; RSA: all CRT
 * parts. */
struct tok_privkey {
    enum tok_key_type type;
    enum tok_curve curve;
    unsigned bits;
    const uint8_t *d, *point;
    size_t d_len, point_len;
    const uint8_t *n, *e, *p, *q, *dp, *dq, *qinv;
    size_t n_len, e_len, p_len, q_len, dp_len, dq_len, qinv_len;
};

/* Driver options from the config section. */
struct tok_opts {
    uint8_t address;         /* 7-bit I2C address */
};

struct tok_dev;

struct token_ops {
    const char *chip;        /* config name: "atecc608", "se050" */
    uint8_t default_address;

    /* Probes the chip (TOK_E_ABSENT when nothing answers) and returns a
     * handle. Reads what never changes (config zone, version) once. */
    int (*open)(struct bus *bus, const struct tok_opts *opts, struct tok_dev **out);
    void (*close)(struct tok_dev *dev);

    int (*info)(struct tok_dev *dev, struct tok_info *out);
    const struct tok_caps *(*caps)(struct tok_dev *dev);

    /* The device lock (nests with the driver's own use of it): taken by the
     * module around sequences that must not interleave with another process,
     * e.g. choosing a free slot, generating into it and recording it. */
    int (*lock)(struct tok_dev *dev);
    void (*unlock)(struct tok_dev *dev);

    /* Lists key positions (fixed_slots chips) or key objects; n in: capacity,
     * out: count. TOK_E_FULL with the needed count in *n when too small. */
    int (*list_keys)(struct tok_dev *dev, struct tok_key *keys, size_t *n);
    int (*read_public)(struct tok_dev *dev, uint32_t id, struct tok_pubkey *out);

    /* Generates a key pair at id (fixed_slots chips: the module picks the
     * position) and returns its public key. */
    int (*generate)(struct tok_dev *dev, uint32_t id, enum tok_key_type type,
                    enum tok_curve curve, unsigned bits, struct tok_pubkey *pub);
    /* Destroys the key at id; on fixed-slot chips by regenerating it in place,
     * so the old key is gone for real. */
    int (*destroy)(struct tok_dev *dev, uint32_t id);

    int (*sign)(struct tok_dev *dev, uint32_t id, const struct tok_sign_req *req,
                uint8_t *sig, size_t *sig_len);
    /* ECDH with the key at id; peer is an uncompressed point 04||X||Y; out is
     * the shared X coordinate. */
    int (*ecdh)(struct tok_dev *dev, uint32_t id, const uint8_t *peer, size_t peer_len,
                uint8_t *out, size_t *out_len);
    int (*random)(struct tok_dev *dev, uint8_t *buf, size_t len);

    /* Optional (NULL when the chip cannot): writes a private key at id
     * (caps.import_keys). The key is never readable afterwards. */
    int (*import_key)(struct tok_dev *dev, uint32_t id, const struct tok_privkey *key);

    /* Optional: binary objects on the chip (certificates, data, metadata).
     * data_list: ids of the binary objects (same n convention as list_keys).
     * data_read: *len in: capacity, out: size (TOK_E_FULL with the size when
     * too small). data_write creates or replaces the object whole. */
    int (*data_list)(struct tok_dev *dev, uint32_t *ids, size_t *n);
    int (*data_read)(struct tok_dev *dev, uint32_t id, uint8_t *buf, size_t *len);
    int (*data_write)(struct tok_dev *dev, uint32_t id, const uint8_t *buf, size_t len);
    int (*data_delete)(struct tok_dev *dev, uint32_t id);

    /* Optional: certificates the chip itself carries from the factory (the
     * ATECC608 Trust&GO device and signer certificates, stored compressed and
     * rebuilt here to DER). cert_list: ids (same n convention as list_keys);
     * cert_read: *len in: capacity, out: size (TOK_E_FULL with the size when
     * too small). The module pairs a certificate with the key whose public key
     * it carries. */
    int (*cert_list)(struct tok_dev *dev, uint32_t *ids, size_t *n);
    int (*cert_read)(struct tok_dev *dev, uint32_t id, uint8_t *der, size_t *len);
};

/* The drivers this build knows (hal/drivers.c). NULL if none has that name. */
const struct token_ops *token_driver_find(const char *chip);

const char *tok_strerror(int err);

#endif
