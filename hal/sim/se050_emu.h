/* The SE050 emulator's internals, shared by its parts: the I2C and T=1 chip
 * side (se050_emu.c), the IoT applet (se050_applet.c), the object store and
 * its rules (se050_store.c), the crypto behind the APDUs (se050_crypto.c) and
 * the state layout (se050_state.c). The chip plays an SE050C with applet 3.1.0
 * (specs/se050.md). */
#ifndef SECCKI_SE050_EMU_H
#define SECCKI_SE050_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SE050_I2C_ADDR 0x48
#define SE050_NAD_HOST 0x5A
#define SE050_NAD_CHIP 0xA5
#define SE050_IFS_MAX 254
#define SE050_BLOCK_MAX (3 + SE050_IFS_MAX + 2)
/* The applet's APDU payload limit; responses are held to it as well. */
#define SE050_MAX_PAYLOAD 892
/* A chained command longer than this is answered 6700 once complete. */
#define SE050_CMD_MAX 1024
#define SE050_RSP_MAX (SE050_MAX_PAYLOAD + 2)
#define SE050_ATR_LEN 35

/* Status words (specs/se050.md §3.5). */
#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982
#define SW_POLICY_INVALID 0x6984
#define SW_CONDITIONS 0x6985
#define SW_DENIED 0x6986
#define SW_WRONG_DATA 0x6A80
#define SW_NOT_FOUND 0x6A82
#define SW_NO_MEMORY 0x6A84
#define SW_INS_UNSUPPORTED 0x6D00
#define SW_CLA_UNSUPPORTED 0x6E00

/* Secure object types of applet 3.x (§3.6.5). */
enum se050_type {
    SE050_T_EC_PAIR = 0x01,
    SE050_T_EC_PRIV = 0x02,
    SE050_T_EC_PUB = 0x03,
    SE050_T_RSA_PAIR = 0x04,
    SE050_T_RSA_PAIR_CRT = 0x05,
    SE050_T_RSA_PRIV = 0x06,
    SE050_T_RSA_PRIV_CRT = 0x07,
    SE050_T_RSA_PUB = 0x08,
    SE050_T_BINARY = 0x0B,
};

enum se050_origin { SE050_ORIGIN_EXTERNAL = 1, SE050_ORIGIN_INTERNAL = 2, SE050_ORIGIN_NXP = 3 };

/* Policy access rules of applet 3.x (§3.6.7). */
#define SE050_AR_FORBID_ALL 0x20000000u
#define SE050_AR_SIGN 0x10000000u
#define SE050_AR_VERIFY 0x08000000u
#define SE050_AR_KA 0x04000000u
#define SE050_AR_ENC 0x02000000u
#define SE050_AR_DEC 0x01000000u
#define SE050_AR_KDF 0x00800000u
#define SE050_AR_WRAP 0x00400000u
#define SE050_AR_READ 0x00200000u
#define SE050_AR_WRITE 0x00100000u
#define SE050_AR_GEN 0x00080000u
#define SE050_AR_DELETE 0x00040000u
#define SE050_AR_REQUIRE_SM 0x00020000u
#define SE050_AR_IMPORT_EXPORT 0x00001000u
#define SE050_POLICY_MAX 256

/* Where each part of an object lives in se050_obj.part[]. */
enum { SE050_EC_PRIV = 0, SE050_EC_PUB = 1 };
enum {
    SE050_RSA_N = 0,
    SE050_RSA_E,
    SE050_RSA_D,
    SE050_RSA_P,
    SE050_RSA_Q,
    SE050_RSA_DP,
    SE050_RSA_DQ,
    SE050_RSA_QINV,
};
enum { SE050_BIN_DATA = 0 };
#define SE050_PARTS 8

/* OpenSSL objects of a key object, made on first use (se050_crypto.c). */
struct se050_key_cache;

struct se050_blob {
    uint8_t *buf;
    size_t len; /* 0: not set */
};

struct se050_obj {
    uint32_t id;
    uint8_t type;      /* enum se050_type */
    uint8_t origin;    /* enum se050_origin */
    uint8_t curve;     /* EC: curve id (§3.6.1) */
    bool rsa_crt;      /* RSA: CRT format (else raw) */
    uint16_t rsa_bits; /* RSA: modulus size */
    /* RSA keys arrive one component per APDU; usable once all are there.
     * EC private keys keep their public point here (never read out). */
    bool complete;
    uint16_t policy_len; /* 0: the default policy of the object kind */
    uint8_t policy[SE050_POLICY_MAX];
    struct se050_blob part[SE050_PARTS];
    /* never saved; kept only while the parts are the ones it was made from
     * and freed with them (se050_obj_clear) */
    struct se050_key_cache *cache;
};

/* Curve ids 0x01..0x11 can be created on applet 3.x (§3.7.14). */
#define SE050_CURVE_SLOTS 0x11
#define SE050_CURVE_PARAMS_ALL 0x1F
struct se050_curve {
    bool created;
    uint8_t params; /* SetECCurveParam bits received (A 01, B 02, G 04, N 08, prime 10) */
};

/* The chip side of T=1 over I2C (UM11225). */
struct se050_link {
    uint8_t ns;        /* N(S) of the chip's next I-block */
    uint8_t nr;        /* N(S) the chip expects in the host's next I-block */
    uint8_t ifsd;      /* largest INF the host accepts */
    uint8_t wtx_left;  /* S(WTX) requests still due before the response */
    uint32_t busy_left; /* transactions NACKed before the response is ready */
    bool cmd_overflow;
    uint16_t cmd_len; /* command APDU gathered from chained I-blocks */
    uint8_t cmd[SE050_CMD_MAX];
    uint16_t rsp_len; /* response APDU, sent in fragments of ifsd */
    uint16_t rsp_off; /* first byte not yet sent; < rsp_len while chaining */
    uint8_t rsp[SE050_RSP_MAX];
    uint16_t last_len; /* the last block sent, kept for retransmission */
    uint16_t read_pos; /* read cursor into it; reads NACK once it is drained */
    bool readable;
    uint8_t last[SE050_BLOCK_MAX];
};

struct se050_chip {
    bool selected; /* the IoT applet is selected */
    struct se050_curve curve[SE050_CURVE_SLOTS];
    size_t nobj, capobj;
    struct se050_obj *obj; /* in creation order, which ReadIDList follows */
    struct se050_link link;
};

/* se050_emu.c */
extern const uint8_t se050_atr[SE050_ATR_LEN];
void se050_link_reset(struct se050_link *l);

/* se050_applet.c: executes one command APDU, writes the response (data and
 * SW) into rsp and returns its length; *wtx is how many S(WTX) requests a real
 * chip would send while working on it. */
size_t se050_apdu(struct se050_chip *c, const uint8_t *cmd, size_t len, uint8_t *rsp,
                  unsigned *wtx);
void se050_power_on(struct se050_chip *c);

/* se050_store.c */
struct se050_obj *se050_find(struct se050_chip *c, uint32_t id);
/* Appends a zeroed object with that id; NULL when out of host memory. */
struct se050_obj *se050_add(struct se050_chip *c, uint32_t id);
void se050_remove(struct se050_chip *c, struct se050_obj *o);
void se050_obj_clear(struct se050_obj *o);
int se050_blob_set(struct se050_blob *b, const uint8_t *data, size_t len);
void se050_blob_free(struct se050_blob *b);
/* Bytes of the user memory budget an object or curve takes. */
size_t se050_obj_cost(const struct se050_obj *o);
size_t se050_curve_cost(void);
size_t se050_mem_free(const struct se050_chip *c);
/* Whether the default session may do `right` on the object. */
bool se050_allowed(const struct se050_obj *o, uint32_t right);
bool se050_policy_valid(const uint8_t *p, size_t len);
bool se050_type_known(uint8_t type);
bool se050_is_ec(uint8_t type);
bool se050_is_rsa(uint8_t type);
/* Bit mask (1 << SE050_RSA_x) of the components an RSA key of o's type
 * and format is made of. */
unsigned se050_rsa_needed(const struct se050_obj *o);
/* Field size in bytes of a supported curve, 0 for any other id. */
size_t se050_curve_bytes(uint8_t curve);
void se050_chip_free(struct se050_chip *c);
/* Adds the factory objects of the default profile. */
int se050_factory(struct se050_chip *c);

/* se050_crypto.c — all return 0 on success, an SW_* on failure. */
int se050_ec_generate(uint8_t curve, struct se050_obj *o);
/* Checks a private scalar and/or public point for the curve and stores them
 * in o; a private key gets its public point computed (kept internal). */
int se050_ec_import(uint8_t curve, const uint8_t *priv, size_t privlen, const uint8_t *pub,
                    size_t publen, struct se050_obj *o);
int se050_ec_param(uint8_t curve, uint8_t param, const uint8_t *val, size_t len);
int se050_ecdsa_sign(struct se050_obj *o, const uint8_t *hash, size_t hlen, uint8_t *sig,
                     size_t *siglen);
int se050_ecdsa_verify(struct se050_obj *o, const uint8_t *hash, size_t hlen,
                       const uint8_t *sig, size_t siglen, bool *ok);
int se050_ecdh(struct se050_obj *o, const uint8_t *peer, size_t peerlen, uint8_t *out,
               size_t *outlen);
int se050_rsa_generate(unsigned bits, bool crt, struct se050_obj *o);
/* Checks a complete set of RSA components (sizes, N = P * Q, a usable key). */
int se050_rsa_check(struct se050_obj *o);
int se050_rsa_sign(struct se050_obj *o, uint8_t algo, const uint8_t *msg, size_t mlen,
                   uint8_t *sig, size_t *siglen);
int se050_rsa_verify(struct se050_obj *o, uint8_t algo, const uint8_t *msg, size_t mlen,
                     const uint8_t *sig, size_t siglen, bool *ok);
int se050_rsa_crypt(struct se050_obj *o, bool decrypt, uint8_t algo, const uint8_t *in,
                    size_t inlen, uint8_t *out, size_t *outlen);
int se050_random(uint8_t *out, size_t len);
/* Frees o's cached key objects (se050_obj_clear). */
void se050_key_cache_free(struct se050_obj *o);
/* A self-signed X.509 certificate (DER) for a factory key pair. */
int se050_factory_cert(const struct se050_obj *key, const char *cn, uint8_t **der, size_t *len);

/* se050_state.c */
int se050_state_save(const struct se050_chip *c, uint8_t **buf, size_t *len);
struct se050_chip *se050_state_load(const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
