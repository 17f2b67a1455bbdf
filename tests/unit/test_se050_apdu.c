/* The IoT applet layer without a chip: TLV encoding and parsing, the exact
 * bytes of each command (spec §9 and §3.7), response parsers, status words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hal/se050/apdu.h"
#include "hal/se050/curves.h"
#include "hal/se050/rsa_pad.h"
#include "hal/se050/tlv.h"

static size_t hex2bin(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (*hex) {
        unsigned v;

        if (*hex == ' ') {
            hex++;
            continue;
        }
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static void assert_cmd(const struct se_cmd *c, const char *hex)
{
    uint8_t want[1000];
    size_t n = hex2bin(hex, want, sizeof want);

    if (c->len != n || memcmp(c->buf, want, n) != 0) {
        char got[3000] = "";
        for (size_t i = 0; i < c->len && i < 900; i++)
            sprintf(got + 3 * i, "%02X ", c->buf[i]);
        fail_msg("APDU %s\n   want %s", got, hex);
    }
}

static void test_tlv_lengths(void **state)
{
    uint8_t l[3], buf[400], val[300];
    struct tlv_writer w;

    (void)state;
    assert_int_equal(tlv_len_encode(0, l), 1);
    assert_int_equal(l[0], 0);
    assert_int_equal(tlv_len_encode(0x7F, l), 1);
    assert_int_equal(l[0], 0x7F);
    assert_int_equal(tlv_len_encode(0x80, l), 2);
    assert_memory_equal(l, "\x81\x80", 2);
    assert_int_equal(tlv_len_encode(0xFF, l), 2);
    assert_memory_equal(l, "\x81\xFF", 2);
    assert_int_equal(tlv_len_encode(0x100, l), 3);
    assert_memory_equal(l, "\x82\x01\x00", 3);
    assert_int_equal(tlv_len_encode(0xFFFF, l), 3);
    assert_int_equal(tlv_len_encode(0x10000, l), 0);

    memset(val, 0xAB, sizeof val);
    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put(&w, 0x43, val, 0x80);
    assert_false(w.overflow);
    assert_int_equal(w.len, 3 + 0x80);
    assert_memory_equal(buf, "\x43\x81\x80", 3);
    tlv_writer_init(&w, buf, sizeof buf);
    tlv_put(&w, 0x44, val, 256);
    assert_int_equal(w.len, 4 + 256);
    assert_memory_equal(buf, "\x44\x82\x01\x00", 4);
    /* One byte short: nothing written past the buffer, overflow is sticky. */
    tlv_writer_init(&w, buf, 4 + 255);
    tlv_put(&w, 0x44, val, 256);
    assert_true(w.overflow);
    tlv_put_u8(&w, 0x41, 1);
    assert_true(w.overflow);
    assert_int_equal(w.len, 0);
}

static void test_tlv_reader(void **state)
{
    static const uint8_t good[] = {0x41, 0x01, 0x07, 0x42, 0x81, 0x02, 0xAA, 0xBB,
                                   0x43, 0x82, 0x00, 0x01, 0xCC, 0x44, 0x00};
    struct tlv_reader r;
    const uint8_t *v;
    size_t len;
    uint8_t tag;

    (void)state;
    tlv_reader_init(&r, good, sizeof good);
    assert_int_equal(tlv_next(&r, &tag, &v, &len), 0);
    assert_int_equal(tag, 0x41);
    assert_int_equal(len, 1);
    assert_int_equal(v[0], 7);
    assert_int_equal(tlv_expect(&r, 0x42, &v, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(v[1], 0xBB);
    assert_int_equal(tlv_expect_n(&r, 0x43, 1, &v), 0);
    assert_int_equal(v[0], 0xCC);
    assert_int_equal(tlv_expect(&r, 0x44, &v, &len), 0);
    assert_int_equal(len, 0);
    assert_true(tlv_at_end(&r));
    assert_int_equal(tlv_next(&r, &tag, &v, &len), 1);

    /* Every truncation of the stream fails at the cut TLV, never reads on. */
    for (size_t cut = 1; cut < sizeof good; cut++) {
        int rc = 0;

        tlv_reader_init(&r, good, cut);
        while (rc == 0)
            rc = tlv_next(&r, &tag, &v, &len);
        assert_true(r.pos <= cut);
        if (cut != 3 && cut != 8 && cut != 13)
            assert_int_equal(rc, -1);
        else
            assert_int_equal(rc, 1);
    }
    /* Lengths that claim more than there is, and forms that do not exist. */
    tlv_reader_init(&r, (const uint8_t *)"\x41\x82\xFF\xFF\x00", 5);
    assert_int_equal(tlv_next(&r, &tag, &v, &len), -1);
    tlv_reader_init(&r, (const uint8_t *)"\x41\x83\x00\x00\x01\x00", 6);
    assert_int_equal(tlv_next(&r, &tag, &v, &len), -1);
    tlv_reader_init(&r, (const uint8_t *)"\x41\x80", 2);
    assert_int_equal(tlv_next(&r, &tag, &v, &len), -1);
    tlv_reader_init(&r, (const uint8_t *)"\x41\x05\x01", 3);
    assert_int_equal(tlv_next(&r, &tag, &v, &len), -1);
    tlv_reader_init(&r, (const uint8_t *)"\x42\x01\x01", 3);
    assert_int_equal(tlv_expect(&r, 0x41, &v, &len), -1);
}

static const char sha_abc[] = "BA 78 16 BF 8F 01 CF EA 41 41 40 DE 5D AE 22 23 B0 03 61 A3 96 17 7A "
                              "9C B4 10 FF 61 F2 00 15 AD";

/* §9, row by row. */
static void test_quick_reference(void **state)
{
    struct se_cmd c;
    uint8_t hash[32];
    char want[400];

    (void)state;
    assert_int_equal(se_build_select(&c), SE_OK);
    assert_cmd(&c, "00 A4 04 00 10 A0000003965453000000010300000000 00");
    assert_int_equal(se_build_get_version(&c), SE_OK);
    assert_cmd(&c, "80 04 00 20 00");
    assert_int_equal(se_build_check_exists(&c, 0xEF000001), SE_OK);
    assert_cmd(&c, "80 04 00 27 06 41 04 EF000001");
    assert_int_equal(se_build_curve_list(&c), SE_OK);
    assert_cmd(&c, "80 02 0B 25 00");
    assert_int_equal(se_build_create_curve(&c, SE_CURVE_P256), SE_OK);
    assert_cmd(&c, "80 01 0B 04 03 41 01 03");
    assert_int_equal(se_build_write_ec_key(&c, 0xEF000001, SE_P1_KEY_PAIR, SE_CURVE_P256,
                                              NULL, 0, NULL, 0),
                     SE_OK);
    assert_cmd(&c, "80 01 61 00 09 41 04 EF000001 42 01 03");
    assert_int_equal(se_build_read_object(&c, 0xEF000001, false, 0, 0, -1), SE_OK);
    assert_cmd(&c, "80 02 00 00 00 00 06 41 04 EF000001 00 00");
    assert_int_equal(se_build_read_type(&c, 0xEF000001), SE_OK);
    assert_cmd(&c, "80 02 00 26 06 41 04 EF000001");
    assert_int_equal(se_build_read_size(&c, 0xEF000001), SE_OK);
    assert_cmd(&c, "80 02 00 07 06 41 04 EF000001");
    hex2bin(sha_abc, hash, sizeof hash);
    assert_int_equal(se_build_ecdsa_sign(&c, 0xEF000001, 0x21, hash, 32), SE_OK);
    snprintf(want, sizeof want, "80 03 0C 09 2B 41 04 EF000001 42 01 21 43 20 %s", sha_abc);
    assert_cmd(&c, want);
    assert_int_equal(se_build_read_id_list(&c, 0, SE_TYPE_ALL), SE_OK);
    assert_cmd(&c, "80 02 00 25 00 00 07 41 02 00 00 42 01 FF 00 00");
    assert_int_equal(se_build_get_random(&c, 16), SE_OK);
    assert_cmd(&c, "80 04 00 49 00 00 04 41 02 00 10 00 00");
    assert_int_equal(se_build_free_memory(&c, 0x01), SE_OK);
    assert_cmd(&c, "80 04 00 22 03 41 01 01");
    assert_int_equal(se_build_delete(&c, 0xEF000001), SE_OK);
    assert_cmd(&c, "80 04 00 28 06 41 04 EF000001");
}

/* §3.7: the commands §9 does not show. */
static void test_more_commands(void **state)
{
    struct se_cmd c;
    uint8_t data[500], pt[65], d[32];
    char want[2000], *p;

    (void)state;
    /* Generate RSA 2048 CRT (§3.7.8 example). The spec's example says Lc 0C,
     * but its data is 10 bytes: Lc is 0A. */
    assert_int_equal(se_build_write_rsa_key(&c, 0xEF000002, SE_P1_KEY_PAIR, SE_RSA_FORMAT_CRT,
                                               2048, 0, NULL, 0),
                     SE_OK);
    assert_cmd(&c, "80 01 62 00 0A 41 04 EF000002 42 02 08 00");
    /* A later import part: P1 = RSA only, one component. */
    assert_int_equal(se_build_write_rsa_key(&c, 0xEF000002, 0, SE_RSA_FORMAT_CRT, 0,
                                               SE_RSA_TAG_E, (const uint8_t *)"\x01\x00\x01", 3),
                     SE_OK);
    assert_cmd(&c, "80 01 02 00 0B 41 04 EF000002 48 03 010001");
    /* Read an RSA modulus, and a binary chunk with offset and length. */
    assert_int_equal(se_build_read_object(&c, 0xEF000002, false, 0, 0, 0x00), SE_OK);
    assert_cmd(&c, "80 02 00 00 00 00 09 41 04 EF000002 44 01 00 00 00");
    assert_int_equal(se_build_read_object(&c, 0x10, true, 500, 500, -1), SE_OK);
    assert_cmd(&c, "80 02 00 00 00 00 0E 41 04 00000010 42 02 01 F4 43 02 01 F4 00 00");
    /* ECDH (case 4 ext) with a 65-byte point. */
    memset(pt, 0x11, sizeof pt);
    pt[0] = 0x04;
    assert_int_equal(se_build_ecdh(&c, 0xEF000001, pt, sizeof pt), SE_OK);
    p = want + sprintf(want, "80 03 01 0F 00 00 49 41 04 EF000001 42 41 04");
    for (int i = 1; i < 65; i++)
        p += sprintf(p, "11");
    sprintf(p, " 00 00");
    assert_cmd(&c, want);
    /* EC key import: pair, curve, scalar, point. */
    memset(d, 0x22, sizeof d);
    assert_int_equal(se_build_write_ec_key(&c, 0xEF000001, SE_P1_KEY_PAIR, SE_CURVE_P256, d, 32,
                                              pt, 65),
                     SE_OK);
    assert_int_equal(c.len, 5 + 6 + 3 + 34 + 67);
    assert_memory_equal(c.buf, "\x80\x01\x61\x00\x6E\x41\x04\xEF\x00\x00\x01\x42\x01\x03\x43\x20",
                        16);
    assert_memory_equal(c.buf + 48, "\x44\x41\x04", 3);
    /* Curve parameter, and the curve of a key. */
    assert_int_equal(se_build_set_curve_param(&c, SE_CURVE_P256, SE_PARAM_A, d, 32), SE_OK);
    assert_int_equal(c.len, 5 + 3 + 3 + 34);
    assert_memory_equal(c.buf, "\x80\x01\x0B\x40\x28\x41\x01\x03\x42\x01\x01\x43\x20", 13);
    assert_int_equal(se_build_get_curve_id(&c, 0xEF000001), SE_OK);
    assert_cmd(&c, "80 02 0B 36 06 41 04 EF000001");

    /* WriteBinary: the first chunk of 500 carries the total size, an
     * extended Lc (514 bytes of data); later chunks the offset. */
    memset(data, 0x5A, sizeof data);
    assert_int_equal(se_build_write_binary(&c, 0x20, 0, 2048, data, 500), SE_OK);
    assert_int_equal(c.len, 7 + 6 + 4 + 504);
    assert_memory_equal(c.buf,
                        "\x80\x01\x06\x00\x00\x02\x02\x41\x04\x00\x00\x00\x20\x43\x02\x08\x00"
                        "\x44\x82\x01\xF4",
                        21);
    assert_int_equal(se_build_write_binary(&c, 0x20, 1500, 0, data, 48), SE_OK);
    assert_int_equal(c.len, 5 + 6 + 4 + 50);
    assert_memory_equal(c.buf, "\x80\x01\x06\x00\x3C\x41\x04\x00\x00\x00\x20\x42\x02\x05\xDC\x44\x30",
                        17);
    assert_int_equal(se_build_write_binary(&c, 0x20, 0, 10, data, 501), SE_E_ARGS);
    assert_int_equal(se_build_write_binary(&c, 0x20, 0, 10, data, 0), SE_E_ARGS);

    /* RSA raw decrypt and sign: case 4 ext with a 256-byte input. */
    {
        uint8_t in[256];

        memset(in, 0x33, sizeof in);
        assert_int_equal(se_build_rsa_decrypt(&c, 0xEF000002, SE_RSA_NO_PAD, in, 256), SE_OK);
        assert_int_equal(c.len, 7 + 6 + 3 + 4 + 256 + 2);
        assert_memory_equal(c.buf, "\x80\x03\x02\x38\x00\x01\x0D\x41\x04\xEF\x00\x00\x02\x42\x01"
                                   "\x0C\x43\x82\x01\x00",
                            20);
        assert_memory_equal(c.buf + c.len - 2, "\x00\x00", 2);
        assert_int_equal(se_build_rsa_sign(&c, 0xEF000002, 0x28, in, 3), SE_OK);
        assert_cmd(&c, "80 03 0C 09 00 00 0E 41 04 EF000002 42 01 28 43 03 333333 00 00");
    }
}

static void test_frame_limits(void **state)
{
    static uint8_t big[SE050_PAYLOAD_MAX + 1];
    struct se_cmd c;

    (void)state;
    /* 254 data bytes still short, 255 extended. */
    assert_int_equal(se_frame(&c, 0x80, 1, 2, 3, big, 254, false), SE_OK);
    assert_int_equal(c.len, 5 + 254);
    assert_int_equal(c.buf[4], 254);
    assert_int_equal(se_frame(&c, 0x80, 1, 2, 3, big, 255, false), SE_OK);
    assert_int_equal(c.len, 7 + 255);
    assert_memory_equal(c.buf + 4, "\x00\x00\xFF", 3);
    assert_int_equal(se_frame(&c, 0x80, 1, 2, 3, NULL, 0, true), SE_OK);
    assert_cmd(&c, "80 01 02 03 00 00 00");
    assert_int_equal(se_frame(&c, 0x80, 1, 2, 3, big, SE050_PAYLOAD_MAX, true), SE_OK);
    assert_int_equal(se_frame(&c, 0x80, 1, 2, 3, big, SE050_PAYLOAD_MAX + 1, false),
                     SE_E_ARGS);
    /* An RSA component too large for one APDU is refused, not truncated. */
    assert_int_equal(se_build_write_rsa_key(&c, 1, 0, 0, 0, SE_RSA_TAG_N, big, 890),
                     SE_E_ARGS);
}

static void test_parsers(void **state)
{
    uint8_t ver[7], v8, type, tr, r[100];
    uint16_t v16;
    uint32_t ids[4];
    size_t n, len;
    bool more;
    const uint8_t *val;

    (void)state;
    n = hex2bin("41 07 03 01 00 6F FF 01 0B", r, sizeof r);
    assert_int_equal(se_parse_version(r, n, ver), SE_OK);
    assert_memory_equal(ver, "\x03\x01\x00\x6F\xFF\x01\x0B", 7);
    assert_int_equal(se_parse_version(r, n - 1, ver), SE_E_MALFORMED);
    r[n] = 0;
    assert_int_equal(se_parse_version(r, n + 1, ver), SE_E_MALFORMED); /* trailing byte */

    n = hex2bin("41 01 01", r, sizeof r);
    assert_int_equal(se_parse_u8(r, n, &v8), SE_OK);
    assert_int_equal(v8, 1);
    n = hex2bin("41 02 00 01", r, sizeof r);
    assert_int_equal(se_parse_u8(r, n, &v8), SE_E_MALFORMED); /* 1-byte value, exactly */
    n = hex2bin("41 02 7F FF", r, sizeof r);
    assert_int_equal(se_parse_u16(r, n, &v16), SE_OK);
    assert_int_equal(v16, 0x7FFF);
    n = hex2bin("41 04 00 00 7F FF", r, sizeof r);
    assert_int_equal(se_parse_u16(r, n, &v16), SE_E_MALFORMED); /* 4-byte free memory */

    n = hex2bin("41 01 01 42 01 01", r, sizeof r);
    assert_int_equal(se_parse_type(r, n, &type, &tr), SE_OK);
    assert_int_equal(type, 1);
    assert_int_equal(tr, 1);
    n = hex2bin("42 01 01 41 01 01", r, sizeof r);
    assert_int_equal(se_parse_type(r, n, &type, &tr), SE_E_MALFORMED); /* order */

    n = hex2bin("41 01 02 42 0C EF000001 EF000002 7FFF0206", r, sizeof r);
    assert_int_equal(se_parse_id_list(r, n, &more, ids, 4, &len), SE_OK);
    assert_true(more);
    assert_int_equal(len, 3);
    assert_int_equal(ids[0], 0xEF000001);
    assert_int_equal(ids[2], 0x7FFF0206);
    /* The count is reported even when the caller's array is smaller. */
    ids[1] = 0;
    assert_int_equal(se_parse_id_list(r, n, &more, ids, 1, &len), SE_OK);
    assert_int_equal(len, 3);
    assert_int_equal(ids[1], 0);
    n = hex2bin("41 01 01 42 05 EF000001 00", r, sizeof r);
    assert_int_equal(se_parse_id_list(r, n, &more, ids, 4, &len), SE_E_MALFORMED);
    n = hex2bin("41 01 03 42 00", r, sizeof r);
    assert_int_equal(se_parse_id_list(r, n, &more, ids, 4, &len), SE_E_MALFORMED);
    n = hex2bin("41 01 01 42 00", r, sizeof r);
    assert_int_equal(se_parse_id_list(r, n, &more, ids, 4, &len), SE_OK);
    assert_false(more);
    assert_int_equal(len, 0);

    n = hex2bin("41 81 03 AA BB CC", r, sizeof r);
    assert_int_equal(se_parse_bytes(r, n, &val, &len), SE_OK);
    assert_int_equal(len, 3);
    assert_int_equal(val[2], 0xCC);
    assert_int_equal(se_parse_bytes(r, n - 1, &val, &len), SE_E_MALFORMED);
}

static void test_status_words(void **state)
{
    (void)state;
    assert_int_equal(se_sw_err(0x9000), SE_OK);
    assert_int_equal(se_sw_err(0x6A80), SE_E_WRONG_DATA);
    assert_int_equal(se_sw_err(0x6A88), SE_E_NOT_FOUND);
    assert_int_equal(se_sw_err(0x6985), SE_E_CONDITIONS);
    assert_int_equal(se_sw_err(0x6986), SE_E_DENIED);
    assert_int_equal(se_sw_err(0x6982), SE_E_SECURITY);
    assert_int_equal(se_sw_err(0x6984), SE_E_POLICY_INVALID);
    assert_int_equal(se_sw_err(0x6A84), SE_E_MEMORY);
    assert_int_equal(se_sw_err(0x6700), SE_E_WRONG_LENGTH);
    assert_int_equal(se_sw_err(0x6D00), SE_E_NOT_SUPPORTED);
    assert_int_equal(se_sw_err(0x6E00), SE_E_NOT_SUPPORTED);
    assert_int_equal(se_sw_err(0x6A86), SE_E_NOT_SUPPORTED);
    assert_int_equal(se_sw_err(0x6A82), SE_E_NO_APPLET);
    assert_int_equal(se_sw_err(0x66A6), SE_E_THROUGHPUT);
    assert_int_equal(se_sw_err(0x6F00), SE_E_SW);
    assert_int_equal(se_sw_err(0x9001), SE_E_SW);
}

/* §3.7.14: the P-256 parameters as the spec lists them. */
static void test_curve_params(void **state)
{
    struct se_curve_params p;
    uint8_t want[65];

    (void)state;
    assert_int_equal(se_curve_params(TOK_CURVE_P256, &p), 0);
    assert_int_equal(p.field_len, 32);
    hex2bin("FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF", want, 32);
    assert_memory_equal(p.prime, want, 32);
    hex2bin("FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC", want, 32);
    assert_memory_equal(p.a, want, 32);
    hex2bin("5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B", want, 32);
    assert_memory_equal(p.b, want, 32);
    hex2bin("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", want, 32);
    assert_memory_equal(p.order, want, 32);
    hex2bin("046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
            "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5",
            want, 65);
    assert_int_equal(p.g_len, 65);
    assert_memory_equal(p.g, want, 65);
    assert_int_equal(se_curve_params(TOK_CURVE_P521, &p), 0);
    assert_int_equal(p.field_len, 66);
    assert_int_equal(p.g_len, 133);
    assert_int_equal(p.prime[0], 0x01);
    assert_int_equal(se_curve_params(TOK_CURVE_NONE, &p), -1);
    assert_int_equal(se_curve_id(TOK_CURVE_P384), 0x04);
    assert_int_equal(se_curve_from_id(0x05), TOK_CURVE_P521);
    assert_int_equal(se_curve_from_id(0x10), TOK_CURVE_NONE);
}

static void test_rsa_pkcs1_encoding(void **state)
{
    uint8_t em[256], digest[32];

    (void)state;
    memset(digest, 0x77, sizeof digest);
    assert_int_equal(rsa_pad_pkcs1(TOK_HASH_SHA256, digest, 32, em, sizeof em), 0);
    assert_memory_equal(em, "\x00\x01\xFF\xFF", 4);
    assert_int_equal(em[256 - 32 - 19 - 1], 0x00);
    assert_int_equal(em[256 - 32 - 19 - 2], 0xFF);
    assert_memory_equal(em + 256 - 32 - 19,
                        "\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00"
                        "\x04\x20",
                        19);
    assert_memory_equal(em + 256 - 32, digest, 32);
    assert_int_equal(rsa_pad_pkcs1(TOK_HASH_SHA256, digest, 31, em, sizeof em), -1);
    assert_int_equal(rsa_pad_pkcs1(TOK_HASH_SHA256, digest, 32, em, 61), -1);
    assert_int_equal(rsa_pad_pss(TOK_HASH_SHA256, digest, 32, 32, 2048, em, 256), 0);
    assert_int_equal(em[255], 0xBC);
    assert_int_equal(em[0] & 0x80, 0);
    assert_int_equal(rsa_pad_pss(TOK_HASH_SHA512, digest, 32, 32, 2048, em, 256), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlv_lengths),       cmocka_unit_test(test_tlv_reader),
        cmocka_unit_test(test_quick_reference),   cmocka_unit_test(test_more_commands),
        cmocka_unit_test(test_frame_limits),      cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_status_words),      cmocka_unit_test(test_curve_params),
        cmocka_unit_test(test_rsa_pkcs1_encoding),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
