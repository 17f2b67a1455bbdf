#include "hal/se050/apdu.h"

#include <string.h>

#include "hal/log.h"
#include "hal/se050/tlv.h"

#define CLA 0x80

#define P2_DEFAULT 0x00
#define P2_CREATE 0x04
#define P2_SIZE 0x07
#define P2_SIGN 0x09
#define P2_DH 0x0F
#define P2_VERSION 0x20
#define P2_MEMORY 0x22
#define P2_LIST 0x25
#define P2_TYPE 0x26
#define P2_EXIST 0x27
#define P2_DELETE_OBJECT 0x28
#define P2_ID 0x36
#define P2_DECRYPT_ONESHOT 0x38
#define P2_PARAM 0x40
#define P2_RANDOM 0x49

#define TAG_1 0x41
#define TAG_2 0x42
#define TAG_3 0x43
#define TAG_4 0x44

static const uint8_t applet_aid[16] = {0xA0, 0x00, 0x00, 0x03, 0x96, 0x54, 0x53, 0x00,
                                       0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00};

enum se_err se_sw_err(uint16_t sw)
{
    switch (sw) {
    case 0x9000: return SE_OK;
    case 0x6A80: return SE_E_WRONG_DATA;
    case 0x6A88: return SE_E_NOT_FOUND;
    case 0x6985: return SE_E_CONDITIONS;
    case 0x6986: return SE_E_DENIED;
    case 0x6982: return SE_E_SECURITY;
    case 0x6984: return SE_E_POLICY_INVALID;
    case 0x6A84: return SE_E_MEMORY;
    case 0x6700: return SE_E_WRONG_LENGTH;
    case 0x6A86:
    case 0x6D00:
    case 0x6E00: return SE_E_NOT_SUPPORTED;
    case 0x6A82: return SE_E_NO_APPLET;
    case 0x66A6: return SE_E_THROUGHPUT;
    default: return SE_E_SW;
    }
}

const char *se_strerror(int err)
{
    switch (err) {
    case SE_OK: return "ok";
    case SE_E_WRONG_DATA: return "wrong data (6A80)";
    case SE_E_NOT_FOUND: return "object not found";
    case SE_E_CONDITIONS: return "conditions not satisfied (6985)";
    case SE_E_DENIED: return "denied by object policy (6986)";
    case SE_E_SECURITY: return "security status not satisfied (6982)";
    case SE_E_POLICY_INVALID: return "policy invalid (6984)";
    case SE_E_MEMORY: return "not enough memory (6A84)";
    case SE_E_WRONG_LENGTH: return "wrong length (6700)";
    case SE_E_NOT_SUPPORTED: return "not supported";
    case SE_E_NO_APPLET: return "applet not found (6A82)";
    case SE_E_THROUGHPUT: return "APDU throughput protection (66A6)";
    case SE_E_SW: return "unexpected status word";
    case SE_E_MALFORMED: return "malformed response";
    case SE_E_LINK: return "link failure";
    case SE_E_ABSENT: return "chip does not answer";
    case SE_E_ARGS: return "bad arguments";
    case SE_E_OVERFLOW: return "response too long";
    default: return "unknown SE050 error";
    }
}

int se_frame(struct se_cmd *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                const uint8_t *data, size_t n, bool ext)
{
    size_t pos = 4;

    if (n > SE050_PAYLOAD_MAX)
        return SE_E_ARGS;
    c->buf[0] = cla;
    c->buf[1] = ins;
    c->buf[2] = p1;
    c->buf[3] = p2;
    if (n == 0) {
        c->buf[pos++] = 0x00;
    } else if (n < 255 && !ext) {
        c->buf[pos++] = (uint8_t)n;
    } else {
        c->buf[pos++] = 0x00;
        c->buf[pos++] = (uint8_t)(n >> 8);
        c->buf[pos++] = (uint8_t)n;
    }
    if (n > 0)
        memcpy(c->buf + pos, data, n);
    pos += n;
    if (ext) {
        c->buf[pos++] = 0x00;
        c->buf[pos++] = 0x00;
    }
    c->len = pos;
    return SE_OK;
}

/* Frames the TLVs collected in w, unless one did not fit. */
static int frame_tlvs(struct se_cmd *c, uint8_t ins, uint8_t p1, uint8_t p2,
                      const struct tlv_writer *w, bool ext)
{
    if (w->overflow)
        return SE_E_ARGS;
    return se_frame(c, CLA, ins, p1, p2, w->buf, w->len, ext);
}

static int id_cmd(struct se_cmd *c, uint8_t ins, uint8_t p1, uint8_t p2, uint32_t id)
{
    uint8_t d[8];
    struct tlv_writer w;

    tlv_writer_init(&w, d, sizeof d);
    tlv_put_u32(&w, TAG_1, id);
    return frame_tlvs(c, ins, p1, p2, &w, false);
}

int se_build_select(struct se_cmd *c)
{
    size_t n;

    if (se_frame(c, 0x00, 0xA4, 0x04, 0x00, applet_aid, sizeof applet_aid, false) != SE_OK)
        return SE_E_ARGS;
    n = c->len;
    c->buf[n] = 0x00; /* Le: the version bytes */
    c->len = n + 1;
    return SE_OK;
}

int se_build_get_version(struct se_cmd *c)
{
    return se_frame(c, CLA, SE_INS_MGMT, SE_P1_DEFAULT, P2_VERSION, NULL, 0, false);
}

int se_build_check_exists(struct se_cmd *c, uint32_t id)
{
    return id_cmd(c, SE_INS_MGMT, SE_P1_DEFAULT, P2_EXIST, id);
}

int se_build_read_type(struct se_cmd *c, uint32_t id)
{
    return id_cmd(c, SE_INS_READ, SE_P1_DEFAULT, P2_TYPE, id);
}

int se_build_read_size(struct se_cmd *c, uint32_t id)
{
    return id_cmd(c, SE_INS_READ, SE_P1_DEFAULT, P2_SIZE, id);
}

int se_build_delete(struct se_cmd *c, uint32_t id)
{
    return id_cmd(c, SE_INS_MGMT, SE_P1_DEFAULT, P2_DELETE_OBJECT, id);
}

int se_build_get_curve_id(struct se_cmd *c, uint32_t id)
{
    return id_cmd(c, SE_INS_READ, SE_P1_CURVE, P2_ID, id);
}

int se_build_read_id_list(struct se_cmd *c, uint16_t offset, uint8_t filter)
{
    uint8_t d[8];
    struct tlv_writer w;

    tlv_writer_init(&w, d, sizeof d);
    tlv_put_u16(&w, TAG_1, offset);
    tlv_put_u8(&w, TAG_2, filter);
    return frame_tlvs(c, SE_INS_READ, SE_P1_DEFAULT, P2_LIST, &w, true);
}

int se_build_read_object(struct se_cmd *c, uint32_t id, bool has_range, uint16_t offset,
                            uint16_t length, int rsa_comp)
{
    uint8_t d[20];
    struct tlv_writer w;

    tlv_writer_init(&w, d, sizeof d);
    tlv_put_u32(&w, TAG_1, id);
    if (has_range) {
        tlv_put_u16(&w, TAG_2, offset);
        tlv_put_u16(&w, TAG_3, length);
    }
    if (rsa_comp >= 0)
        tlv_put_u8(&w, TAG_4, (uint8_t)rsa_comp);
    return frame_tlvs(c, SE_INS_READ, SE_P1_DEFAULT, P2_DEFAULT, &w, true);
}

int se_build_write_ec_key(struct se_cmd *c, uint32_t id, uint8_t keypart, uint8_t curve,
                             const uint8_t *d, size_t d_len, const uint8_t *point,
                             size_t point_len)
{
    uint8_t buf[SE050_PAYLOAD_MAX];
    struct tlv_writer w;

    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put_u32(&w, TAG_1, id);
    if (curve != 0)
        tlv_put_u8(&w, TAG_2, curve);
    if (d != NULL)
        tlv_put(&w, TAG_3, d, d_len);
    if (point != NULL)
        tlv_put(&w, TAG_4, point, point_len);
    return frame_tlvs(c, SE_INS_WRITE, (uint8_t)(SE_P1_EC | keypart), P2_DEFAULT, &w, false);
}

int se_build_write_rsa_key(struct se_cmd *c, uint32_t id, uint8_t keypart, uint8_t format,
                              unsigned bits, uint8_t tag, const uint8_t *val, size_t len)
{
    uint8_t buf[SE050_PAYLOAD_MAX];
    struct tlv_writer w;

    if (bits > 0xFFFF)
        return SE_E_ARGS;
    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put_u32(&w, TAG_1, id);
    if (bits != 0)
        tlv_put_u16(&w, TAG_2, (uint16_t)bits);
    if (tag != 0)
        tlv_put(&w, tag, val, len);
    return frame_tlvs(c, SE_INS_WRITE, (uint8_t)(SE_P1_RSA | keypart), format, &w, false);
}

int se_build_write_binary(struct se_cmd *c, uint32_t id, uint16_t offset, uint16_t total,
                             const uint8_t *data, size_t len)
{
    uint8_t buf[SE050_PAYLOAD_MAX];
    struct tlv_writer w;

    if (len == 0 || len > SE050_CHUNK)
        return SE_E_ARGS;
    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put_u32(&w, TAG_1, id);
    if (offset != 0)
        tlv_put_u16(&w, TAG_2, offset);
    if (total != 0)
        tlv_put_u16(&w, TAG_3, total);
    tlv_put(&w, TAG_4, data, len);
    return frame_tlvs(c, SE_INS_WRITE, SE_P1_BINARY, P2_DEFAULT, &w, false);
}

static int id_algo_data(struct se_cmd *c, uint8_t p1, uint8_t p2, uint32_t id, uint8_t algo,
                        const uint8_t *in, size_t len, bool ext)
{
    uint8_t buf[SE050_PAYLOAD_MAX];
    struct tlv_writer w;

    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put_u32(&w, TAG_1, id);
    tlv_put_u8(&w, TAG_2, algo);
    tlv_put(&w, TAG_3, in, len);
    return frame_tlvs(c, SE_INS_CRYPTO, p1, p2, &w, ext);
}

int se_build_ecdsa_sign(struct se_cmd *c, uint32_t id, uint8_t algo, const uint8_t *hash,
                           size_t len)
{
    return id_algo_data(c, SE_P1_SIGNATURE, P2_SIGN, id, algo, hash, len, false);
}

int se_build_rsa_sign(struct se_cmd *c, uint32_t id, uint8_t algo, const uint8_t *msg,
                         size_t len)
{
    return id_algo_data(c, SE_P1_SIGNATURE, P2_SIGN, id, algo, msg, len, true);
}

int se_build_rsa_decrypt(struct se_cmd *c, uint32_t id, uint8_t algo, const uint8_t *in,
                            size_t len)
{
    return id_algo_data(c, SE_P1_RSA, P2_DECRYPT_ONESHOT, id, algo, in, len, true);
}

int se_build_ecdh(struct se_cmd *c, uint32_t id, const uint8_t *peer, size_t len)
{
    uint8_t buf[200];
    struct tlv_writer w;

    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put_u32(&w, TAG_1, id);
    tlv_put(&w, TAG_2, peer, len);
    return frame_tlvs(c, SE_INS_CRYPTO, SE_P1_EC, P2_DH, &w, true);
}

int se_build_get_random(struct se_cmd *c, uint16_t len)
{
    uint8_t d[4];
    struct tlv_writer w;

    tlv_writer_init(&w, d, sizeof d);
    tlv_put_u16(&w, TAG_1, len);
    return frame_tlvs(c, SE_INS_MGMT, SE_P1_DEFAULT, P2_RANDOM, &w, true);
}

int se_build_free_memory(struct se_cmd *c, uint8_t memtype)
{
    uint8_t d[3];
    struct tlv_writer w;

    tlv_writer_init(&w, d, sizeof d);
    tlv_put_u8(&w, TAG_1, memtype);
    return frame_tlvs(c, SE_INS_MGMT, SE_P1_DEFAULT, P2_MEMORY, &w, false);
}

int se_build_curve_list(struct se_cmd *c)
{
    return se_frame(c, CLA, SE_INS_READ, SE_P1_CURVE, P2_LIST, NULL, 0, false);
}

int se_build_create_curve(struct se_cmd *c, uint8_t curve)
{
    uint8_t d[3];
    struct tlv_writer w;

    tlv_writer_init(&w, d, sizeof d);
    tlv_put_u8(&w, TAG_1, curve);
    return frame_tlvs(c, SE_INS_WRITE, SE_P1_CURVE, P2_CREATE, &w, false);
}

int se_build_set_curve_param(struct se_cmd *c, uint8_t curve, uint8_t param,
                                const uint8_t *val, size_t len)
{
    uint8_t buf[200];
    struct tlv_writer w;

    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put_u8(&w, TAG_1, curve);
    tlv_put_u8(&w, TAG_2, param);
    tlv_put(&w, TAG_3, val, len);
    return frame_tlvs(c, SE_INS_WRITE, SE_P1_CURVE, P2_PARAM, &w, false);
}

/* Parsers. */

int se_parse_version(const uint8_t *r, size_t len, uint8_t ver[7])
{
    struct tlv_reader rd;
    const uint8_t *v;

    tlv_reader_init(&rd, r, len);
    if (tlv_expect_n(&rd, TAG_1, 7, &v) != 0 || !tlv_at_end(&rd))
        return SE_E_MALFORMED;
    memcpy(ver, v, 7);
    return SE_OK;
}

int se_parse_u8(const uint8_t *r, size_t len, uint8_t *out)
{
    struct tlv_reader rd;
    const uint8_t *v;

    tlv_reader_init(&rd, r, len);
    if (tlv_expect_n(&rd, TAG_1, 1, &v) != 0 || !tlv_at_end(&rd))
        return SE_E_MALFORMED;
    *out = v[0];
    return SE_OK;
}

int se_parse_u16(const uint8_t *r, size_t len, uint16_t *out)
{
    struct tlv_reader rd;
    const uint8_t *v;

    tlv_reader_init(&rd, r, len);
    if (tlv_expect_n(&rd, TAG_1, 2, &v) != 0 || !tlv_at_end(&rd))
        return SE_E_MALFORMED;
    *out = (uint16_t)(v[0] << 8 | v[1]);
    return SE_OK;
}

int se_parse_type(const uint8_t *r, size_t len, uint8_t *type, uint8_t *transient)
{
    struct tlv_reader rd;
    const uint8_t *a, *b;

    tlv_reader_init(&rd, r, len);
    if (tlv_expect_n(&rd, TAG_1, 1, &a) != 0 || tlv_expect_n(&rd, TAG_2, 1, &b) != 0 ||
        !tlv_at_end(&rd))
        return SE_E_MALFORMED;
    *type = a[0];
    *transient = b[0];
    return SE_OK;
}

int se_parse_id_list(const uint8_t *r, size_t len, bool *more, uint32_t *out, size_t cap,
                        size_t *n)
{
    struct tlv_reader rd;
    const uint8_t *m, *ids;
    size_t ids_len;

    tlv_reader_init(&rd, r, len);
    if (tlv_expect_n(&rd, TAG_1, 1, &m) != 0 || (m[0] != 0x01 && m[0] != 0x02))
        return SE_E_MALFORMED;
    if (tlv_expect(&rd, TAG_2, &ids, &ids_len) != 0 || ids_len % 4 != 0 || !tlv_at_end(&rd))
        return SE_E_MALFORMED;
    *more = m[0] == 0x02;
    *n = ids_len / 4;
    for (size_t i = 0; i < *n && i < cap; i++)
        out[i] = (uint32_t)ids[4 * i] << 24 | (uint32_t)ids[4 * i + 1] << 16 |
                 (uint32_t)ids[4 * i + 2] << 8 | ids[4 * i + 3];
    return SE_OK;
}

int se_parse_bytes(const uint8_t *r, size_t len, const uint8_t **val, size_t *vlen)
{
    struct tlv_reader rd;

    tlv_reader_init(&rd, r, len);
    if (tlv_expect(&rd, TAG_1, val, vlen) != 0 || !tlv_at_end(&rd))
        return SE_E_MALFORMED;
    return SE_OK;
}

/* The link. */

static int xchg_once(struct t1 *t, const struct se_cmd *c, uint8_t *buf, size_t cap,
                     size_t *len, uint16_t *sw)
{
    size_t n = 0;
    int rc = t1_transceive(t, c->buf, c->len, buf, cap, &n);

    if (rc == T1_E_ABSENT)
        return SE_E_ABSENT;
    if (rc == T1_E_ARGS)
        return SE_E_ARGS;
    if (rc != T1_OK)
        return SE_E_LINK;
    if (n < 2) {
        log_error("se050", "response of %zu bytes to INS %02x", n, c->buf[1]);
        return SE_E_MALFORMED;
    }
    *sw = (uint16_t)(buf[n - 2] << 8 | buf[n - 1]);
    *len = n - 2;
    return SE_OK;
}

int se_xchg(struct t1 *t, const struct se_cmd *c, uint8_t *rsp, size_t cap,
               size_t *rsp_len)
{
    uint8_t buf[SE050_RSP_MAX + 2];
    size_t n = 0;
    uint16_t sw = 0;
    int rc = xchg_once(t, c, buf, sizeof buf, &n, &sw);

    /* An applet command refused as unknown: the chip was reset (power loss,
     * another host) and the applet is no longer selected. Select, once. */
    if (rc == SE_OK && (sw == 0x6D00 || sw == 0x6E00) && c->buf[0] == CLA) {
        struct se_cmd sel;
        uint16_t sel_sw = 0;
        size_t sel_n;

        log_info("se050", "applet not selected (SW %04x): selecting it again", sw);
        if (se_build_select(&sel) == SE_OK &&
            xchg_once(t, &sel, buf, sizeof buf, &sel_n, &sel_sw) == SE_OK && sel_sw == 0x9000)
            rc = xchg_once(t, c, buf, sizeof buf, &n, &sw);
    }
    if (rc != SE_OK)
        return rc;
    if (sw != 0x9000) {
        log_debug("se050", "INS %02x P1 %02x P2 %02x: SW %04x", c->buf[1], c->buf[2], c->buf[3],
                  sw);
        return se_sw_err(sw);
    }
    if (n > cap)
        return SE_E_OVERFLOW;
    if (n > 0)
        memcpy(rsp, buf, n);
    *rsp_len = n;
    return SE_OK;
}

int se_run(struct t1 *t, const struct se_cmd *c)
{
    uint8_t r[8];
    size_t n = 0;
    int rc = se_xchg(t, c, r, sizeof r, &n);

    if (rc == SE_OK && n != 0)
        return SE_E_MALFORMED;
    return rc;
}

int se_select(struct t1 *t, uint8_t ver[7])
{
    struct se_cmd c;
    uint8_t r[32];
    size_t n = 0;
    int rc = se_build_select(&c);

    if (rc == SE_OK)
        rc = se_xchg(t, &c, r, sizeof r, &n);
    if (rc != SE_OK)
        return rc;
    /* Current applets answer 7 bytes; very old ones 4 or 5 (§2.1). */
    if (n != 7 && n != 4 && n != 5)
        return SE_E_MALFORMED;
    memset(ver, 0, 7);
    memcpy(ver, r, n);
    return SE_OK;
}

int se_get_version(struct t1 *t, uint8_t ver[7])
{
    struct se_cmd c;
    uint8_t r[32];
    size_t n = 0;
    int rc = se_build_get_version(&c);

    if (rc == SE_OK)
        rc = se_xchg(t, &c, r, sizeof r, &n);
    return rc != SE_OK ? rc : se_parse_version(r, n, ver);
}

static int xchg_u8(struct t1 *t, const struct se_cmd *c, uint8_t *v)
{
    uint8_t r[8];
    size_t n = 0;
    int rc = se_xchg(t, c, r, sizeof r, &n);

    return rc != SE_OK ? rc : se_parse_u8(r, n, v);
}

static int xchg_u16(struct t1 *t, const struct se_cmd *c, uint16_t *v)
{
    uint8_t r[8];
    size_t n = 0;
    int rc = se_xchg(t, c, r, sizeof r, &n);

    return rc != SE_OK ? rc : se_parse_u16(r, n, v);
}

/* A response 41 <len> <bytes> copied into out (*out_len in: capacity). */
static int xchg_bytes(struct t1 *t, const struct se_cmd *c, uint8_t *out, size_t *out_len)
{
    uint8_t r[SE050_RSP_MAX];
    const uint8_t *v;
    size_t n = 0, vlen;
    int rc = se_xchg(t, c, r, sizeof r, &n);

    if (rc != SE_OK)
        return rc;
    if (se_parse_bytes(r, n, &v, &vlen) != SE_OK)
        return SE_E_MALFORMED;
    if (vlen > *out_len)
        return SE_E_OVERFLOW;
    memcpy(out, v, vlen);
    *out_len = vlen;
    return SE_OK;
}

int se_check_exists(struct t1 *t, uint32_t id, bool *exists)
{
    struct se_cmd c;
    uint8_t v = 0;
    int rc = se_build_check_exists(&c, id);

    if (rc == SE_OK)
        rc = xchg_u8(t, &c, &v);
    if (rc != SE_OK)
        return rc;
    if (v != 0x01 && v != 0x02)
        return SE_E_MALFORMED;
    *exists = v == 0x01;
    return SE_OK;
}

int se_read_type(struct t1 *t, uint32_t id, uint8_t *type, uint8_t *transient)
{
    struct se_cmd c;
    uint8_t r[16];
    size_t n = 0;
    int rc = se_build_read_type(&c, id);

    if (rc == SE_OK)
        rc = se_xchg(t, &c, r, sizeof r, &n);
    return rc != SE_OK ? rc : se_parse_type(r, n, type, transient);
}

int se_read_size(struct t1 *t, uint32_t id, uint16_t *size)
{
    struct se_cmd c;
    int rc = se_build_read_size(&c, id);

    return rc != SE_OK ? rc : xchg_u16(t, &c, size);
}

int se_get_curve_id(struct t1 *t, uint32_t id, uint8_t *curve)
{
    struct se_cmd c;
    int rc = se_build_get_curve_id(&c, id);

    return rc != SE_OK ? rc : xchg_u8(t, &c, curve);
}

int se_read_id_list(struct t1 *t, uint8_t filter, uint32_t *ids, size_t *n)
{
    size_t count = 0;
    /* A page holds at most a response's worth of ids, so this bounds the loop
     * at 0x10000 ids in all. */
    for (unsigned page = 0; page < 0x10000 / 4; page++) {
        struct se_cmd c;
        uint8_t r[SE050_RSP_MAX];
        size_t rn = 0, got = 0;
        bool more = false;
        int rc;

        if (count > 0xFFFF)
            return SE_E_MALFORMED;
        rc = se_build_read_id_list(&c, (uint16_t)count, filter);
        if (rc == SE_OK)
            rc = se_xchg(t, &c, r, sizeof r, &rn);
        if (rc != SE_OK)
            return rc;
        rc = se_parse_id_list(r, rn, &more, count < *n ? ids + count : NULL,
                                 count < *n ? *n - count : 0, &got);
        if (rc != SE_OK)
            return rc;
        count += got;
        if (!more) {
            if (count > *n) {
                *n = count;
                return SE_E_OVERFLOW;
            }
            *n = count;
            return SE_OK;
        }
        if (got == 0)
            return SE_E_MALFORMED; /* "more", yet nothing: it would never end */
    }
    return SE_E_MALFORMED;
}

int se_read_object(struct t1 *t, uint32_t id, bool has_range, uint16_t offset,
                      uint16_t length, int rsa_comp, uint8_t *out, size_t *out_len)
{
    struct se_cmd c;
    int rc = se_build_read_object(&c, id, has_range, offset, length, rsa_comp);

    return rc != SE_OK ? rc : xchg_bytes(t, &c, out, out_len);
}

int se_delete(struct t1 *t, uint32_t id)
{
    struct se_cmd c;
    int rc = se_build_delete(&c, id);

    return rc != SE_OK ? rc : se_run(t, &c);
}

int se_ecdsa_sign(struct t1 *t, uint32_t id, uint8_t algo, const uint8_t *hash, size_t len,
                     uint8_t *der, size_t *der_len)
{
    struct se_cmd c;
    int rc = se_build_ecdsa_sign(&c, id, algo, hash, len);

    return rc != SE_OK ? rc : xchg_bytes(t, &c, der, der_len);
}

int se_rsa_decrypt(struct t1 *t, uint32_t id, uint8_t algo, const uint8_t *in, size_t len,
                      uint8_t *out, size_t *out_len)
{
    struct se_cmd c;
    int rc = se_build_rsa_decrypt(&c, id, algo, in, len);

    return rc != SE_OK ? rc : xchg_bytes(t, &c, out, out_len);
}

int se_ecdh(struct t1 *t, uint32_t id, const uint8_t *peer, size_t len, uint8_t *out,
               size_t *out_len)
{
    struct se_cmd c;
    int rc = se_build_ecdh(&c, id, peer, len);

    return rc != SE_OK ? rc : xchg_bytes(t, &c, out, out_len);
}

int se_get_random(struct t1 *t, uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t want = len > SE050_RANDOM_MAX ? SE050_RANDOM_MAX : len, got = want;
        struct se_cmd c;
        int rc = se_build_get_random(&c, (uint16_t)want);

        if (rc == SE_OK)
            rc = xchg_bytes(t, &c, buf, &got);
        if (rc != SE_OK)
            return rc;
        if (got != want)
            return SE_E_MALFORMED;
        buf += got;
        len -= got;
    }
    return SE_OK;
}

int se_free_memory(struct t1 *t, uint8_t memtype, uint16_t *free_bytes)
{
    struct se_cmd c;
    int rc = se_build_free_memory(&c, memtype);

    return rc != SE_OK ? rc : xchg_u16(t, &c, free_bytes);
}

int se_curve_list(struct t1 *t, uint8_t list[SE_CURVE_LIST_LEN])
{
    struct se_cmd c;
    uint8_t r[64];
    const uint8_t *v;
    size_t n = 0, vlen;
    int rc = se_build_curve_list(&c);

    if (rc == SE_OK)
        rc = se_xchg(t, &c, r, sizeof r, &n);
    if (rc != SE_OK)
        return rc;
    /* 17 entries on applet 3.x; accept more from a newer applet. */
    if (se_parse_bytes(r, n, &v, &vlen) != SE_OK || vlen < SE_CURVE_LIST_LEN)
        return SE_E_MALFORMED;
    memcpy(list, v, SE_CURVE_LIST_LEN);
    return SE_OK;
}
