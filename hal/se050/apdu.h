/* The SE05x IoT applet's APDUs (applet 3.x): builders that lay out each
 * command exactly as §3 of the spec says, parsers that check each response
 * strictly, and the status-word mapping. The se_* calls run one command
 * over the T=1 link; the caller holds the bus lock. */
#ifndef SECCKI_SE050_APDU_H
#define SECCKI_SE050_APDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/se050/t1.h"

#define SE050_PAYLOAD_MAX 892 /* command data bytes the SE050 takes */
#define SE050_APDU_MAX (4 + 3 + SE050_PAYLOAD_MAX + 2)
#define SE050_RSP_MAX 1024
#define SE050_CHUNK 500 /* binary bytes per WriteBinary / ReadObject */
#define SE050_RANDOM_MAX 512

enum se_err {
    SE_OK = 0,
    SE_E_WRONG_DATA,    /* 6A80: also what the applet says of a missing object */
    SE_E_NOT_FOUND,     /* 6A88, or the applet says the object is absent */
    SE_E_CONDITIONS,    /* 6985: wrong type for the operation, private read, ... */
    SE_E_DENIED,        /* 6986: the object's policy forbids it */
    SE_E_SECURITY,      /* 6982: authentication required */
    SE_E_POLICY_INVALID,/* 6984 */
    SE_E_MEMORY,        /* 6A84 */
    SE_E_WRONG_LENGTH,  /* 6700 */
    SE_E_NOT_SUPPORTED, /* 6A86, 6D00, 6E00 */
    SE_E_NO_APPLET,     /* 6A82 */
    SE_E_THROUGHPUT,    /* 66A6 */
    SE_E_SW,            /* another status word */
    SE_E_MALFORMED,     /* a response that does not parse */
    SE_E_LINK,          /* T=1 failure */
    SE_E_ABSENT,        /* nothing answers */
    SE_E_ARGS,          /* a command we cannot form */
    SE_E_OVERFLOW,      /* the answer does not fit the caller's buffer */
};

/* Status word to error; 0x9000 is SE_OK. */
enum se_err se_sw_err(uint16_t sw);
const char *se_strerror(int err);

/* Instruction bytes (§3.3) used by this driver. */
enum {
    SE_INS_WRITE = 0x01, SE_INS_READ = 0x02, SE_INS_CRYPTO = 0x03, SE_INS_MGMT = 0x04,
};
enum {
    SE_P1_DEFAULT = 0x00, SE_P1_EC = 0x01, SE_P1_RSA = 0x02, SE_P1_BINARY = 0x06,
    SE_P1_CURVE = 0x0B, SE_P1_SIGNATURE = 0x0C,
    SE_P1_KEY_PAIR = 0x60, SE_P1_PRIVATE = 0x40, SE_P1_PUBLIC = 0x20,
};
enum {
    SE_TYPE_EC_PAIR = 0x01, SE_TYPE_EC_PRIV = 0x02, SE_TYPE_EC_PUB = 0x03,
    SE_TYPE_RSA_PAIR = 0x04, SE_TYPE_RSA_PAIR_CRT = 0x05, SE_TYPE_RSA_PRIV = 0x06,
    SE_TYPE_RSA_PRIV_CRT = 0x07, SE_TYPE_RSA_PUB = 0x08, SE_TYPE_BINARY = 0x0B,
    SE_TYPE_ALL = 0xFF,
};
enum { SE_CURVE_P256 = 0x03, SE_CURVE_P384 = 0x04, SE_CURVE_P521 = 0x05 };
enum { SE_CURVE_LIST_LEN = 17 };
enum {
    SE_PARAM_A = 0x01, SE_PARAM_B = 0x02, SE_PARAM_G = 0x04, SE_PARAM_N = 0x08,
    SE_PARAM_PRIME = 0x10,
};
enum { SE_RSA_COMP_MOD = 0x00, SE_RSA_COMP_PUB_EXP = 0x01 };
enum { SE_RSA_FORMAT_CRT = 0x00, SE_RSA_FORMAT_RAW = 0x4F };
/* WriteRSAKey component tags (§3.7.8). */
enum {
    SE_RSA_TAG_P = 0x43, SE_RSA_TAG_Q = 0x44, SE_RSA_TAG_DP = 0x45, SE_RSA_TAG_DQ = 0x46,
    SE_RSA_TAG_QINV = 0x47, SE_RSA_TAG_E = 0x48, SE_RSA_TAG_D = 0x49, SE_RSA_TAG_N = 0x4A,
};
enum { SE_RSA_NO_PAD = 0x0C };

/* A command APDU. */
struct se_cmd {
    uint8_t buf[SE050_APDU_MAX];
    size_t len;
};

/* Frames a command (§3.1): short Lc below 255 data bytes, else extended;
 * ext adds an extended Le of 0 ("case 4 ext"). */
int se_frame(struct se_cmd *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                const uint8_t *data, size_t n, bool ext);

/* Builders. Each returns SE_OK or SE_E_ARGS. */
int se_build_select(struct se_cmd *c);
int se_build_get_version(struct se_cmd *c);
int se_build_check_exists(struct se_cmd *c, uint32_t id);
int se_build_read_type(struct se_cmd *c, uint32_t id);
int se_build_read_size(struct se_cmd *c, uint32_t id);
int se_build_read_id_list(struct se_cmd *c, uint16_t offset, uint8_t filter);
/* has_range: send offset and length (binary objects); rsa_comp < 0: none. */
int se_build_read_object(struct se_cmd *c, uint32_t id, bool has_range, uint16_t offset,
                            uint16_t length, int rsa_comp);
int se_build_delete(struct se_cmd *c, uint32_t id);
/* curve 0: omitted (the object exists); d/point NULL: omitted. */
int se_build_write_ec_key(struct se_cmd *c, uint32_t id, uint8_t keypart, uint8_t curve,
                             const uint8_t *d, size_t d_len, const uint8_t *point,
                             size_t point_len);
/* One component per APDU (tag 0: none, e.g. generation); bits 0: omitted. */
int se_build_write_rsa_key(struct se_cmd *c, uint32_t id, uint8_t keypart, uint8_t format,
                              unsigned bits, uint8_t tag, const uint8_t *val, size_t len);
/* total 0: omitted (only the first chunk creates the file); offset 0 omitted. */
int se_build_write_binary(struct se_cmd *c, uint32_t id, uint16_t offset, uint16_t total,
                             const uint8_t *data, size_t len);
int se_build_ecdsa_sign(struct se_cmd *c, uint32_t id, uint8_t algo, const uint8_t *hash,
                           size_t len);
int se_build_rsa_sign(struct se_cmd *c, uint32_t id, uint8_t algo, const uint8_t *msg,
                         size_t len);
int se_build_rsa_decrypt(struct se_cmd *c, uint32_t id, uint8_t algo, const uint8_t *in,
                            size_t len);
int se_build_ecdh(struct se_cmd *c, uint32_t id, const uint8_t *peer, size_t len);
int se_build_get_random(struct se_cmd *c, uint16_t len);
int se_build_free_memory(struct se_cmd *c, uint8_t memtype);
int se_build_curve_list(struct se_cmd *c);
int se_build_create_curve(struct se_cmd *c, uint8_t curve);
int se_build_set_curve_param(struct se_cmd *c, uint8_t curve, uint8_t param,
                                const uint8_t *val, size_t len);
int se_build_get_curve_id(struct se_cmd *c, uint32_t id);

/* Parsers of the response data (status word already removed). Every one
 * checks tags, lengths and that nothing follows. SE_OK or SE_E_MALFORMED. */
int se_parse_version(const uint8_t *r, size_t len, uint8_t ver[7]);
int se_parse_u8(const uint8_t *r, size_t len, uint8_t *v);      /* 41 01 v */
int se_parse_u16(const uint8_t *r, size_t len, uint16_t *v);    /* 41 02 hh ll */
int se_parse_type(const uint8_t *r, size_t len, uint8_t *type, uint8_t *transient);
/* ids: 4-byte big-endian values copied to out (cap entries). */
int se_parse_id_list(const uint8_t *r, size_t len, bool *more, uint32_t *out, size_t cap,
                        size_t *n);
/* 41 <len> <bytes>: the value (pointing into r). */
int se_parse_bytes(const uint8_t *r, size_t len, const uint8_t **val, size_t *vlen);

/* Sends a command and returns the response data without the status word,
 * whose meaning is the return value. */
int se_xchg(struct t1 *t, const struct se_cmd *c, uint8_t *rsp, size_t cap,
               size_t *rsp_len);

/* Commands over the link. */
int se_select(struct t1 *t, uint8_t ver[7]);
int se_get_version(struct t1 *t, uint8_t ver[7]);
int se_check_exists(struct t1 *t, uint32_t id, bool *exists);
int se_read_type(struct t1 *t, uint32_t id, uint8_t *type, uint8_t *transient);
int se_read_size(struct t1 *t, uint32_t id, uint16_t *size);
/* All ids of a type (SE_TYPE_ALL for all), over as many pages as needed.
 * *n in: capacity, out: count; SE_E_OVERFLOW with the count so far when full. */
int se_read_id_list(struct t1 *t, uint8_t filter, uint32_t *ids, size_t *n);
int se_read_object(struct t1 *t, uint32_t id, bool has_range, uint16_t offset,
                      uint16_t length, int rsa_comp, uint8_t *out, size_t *out_len);
int se_delete(struct t1 *t, uint32_t id);
int se_run(struct t1 *t, const struct se_cmd *c); /* data-less answer expected */
int se_ecdsa_sign(struct t1 *t, uint32_t id, uint8_t algo, const uint8_t *hash, size_t len,
                     uint8_t *der, size_t *der_len);
int se_rsa_decrypt(struct t1 *t, uint32_t id, uint8_t algo, const uint8_t *in, size_t len,
                      uint8_t *out, size_t *out_len);
int se_ecdh(struct t1 *t, uint32_t id, const uint8_t *peer, size_t len, uint8_t *out,
               size_t *out_len);
int se_get_random(struct t1 *t, uint8_t *buf, size_t len);
int se_free_memory(struct t1 *t, uint8_t memtype, uint16_t *free_bytes);
int se_curve_list(struct t1 *t, uint8_t list[SE_CURVE_LIST_LEN]);
int se_get_curve_id(struct t1 *t, uint32_t id, uint8_t *curve);

#endif
