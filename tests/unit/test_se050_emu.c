/* The SE050 emulator through the emulator library (hal/sim/sim.h): raw T=1
 * frames built here, the captured exchanges of specs/se050.md byte for byte,
 * then the IoT applet's APDUs, with every signature checked by OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hal/se050/t1_crc.h"
#include "hal/sim/sim.h"
#include "hal/sim/sim_chip.h"

#define ADDR 0x48
#define ATR_HEX                                                                              \
    "00 A0 00 00 03 96 04 03 E8 00 FE 02 0B 03 E8 08 01 00 00 00 00 64 00 00 0A 4A 43 4F 50 " \
    "34 20 41 54 50 4F"
#define SELECT_HEX "00 A4 04 00 10 A0 00 00 03 96 54 53 00 00 00 01 03 00 00 00 00 00"

struct host {
    char dir[64];
    char path[128];
    struct sim *s;
    uint8_t ns; /* host's next N(S) */
    uint8_t rs; /* chip's next N(S), as the host expects it */
    unsigned wtx;
};

/* ---- bytes and frames -------------------------------------------------- */

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

static void write_raw(struct host *h, const uint8_t *f, size_t n)
{
    assert_int_equal(sim_write(h->s, ADDR, f, n), SIM_OK);
}

static void write_hex(struct host *h, const char *hex)
{
    uint8_t f[300];

    write_raw(h, f, hex2bin(hex, f, sizeof f));
}

static void send_block(struct host *h, uint8_t pcb, const uint8_t *inf, size_t len)
{
    uint8_t f[300];

    f[0] = 0x5A;
    f[1] = pcb;
    f[2] = (uint8_t)len;
    if (len > 0)
        memcpy(f + 3, inf, len);
    t1_crc16_put(f, 3 + len, f + 3 + len);
    write_raw(h, f, len + 5);
}

/* Reads one block as the NXP host does: 2 bytes, 1 byte, LEN + 2 bytes. */
static size_t read_block(struct host *h, uint8_t *f)
{
    assert_int_equal(sim_read(h->s, ADDR, f, 2), SIM_OK);
    assert_int_equal(sim_read(h->s, ADDR, f + 2, 1), SIM_OK);
    assert_int_equal(sim_read(h->s, ADDR, f + 3, (size_t)f[2] + 2), SIM_OK);
    assert_int_equal(f[0], 0xA5);
    assert_true(t1_crc16_ok(f, (size_t)f[2] + 5));
    return (size_t)f[2] + 5;
}

static void expect_hex(struct host *h, const char *hex)
{
    uint8_t want[300], got[300];
    size_t n = hex2bin(hex, want, sizeof want);

    assert_int_equal(read_block(h, got), n);
    assert_memory_equal(got, want, n);
}

static void expect_nothing(struct host *h)
{
    uint8_t b[4];

    assert_int_equal(sim_read(h->s, ADDR, b, 2), SIM_NACK);
}

static void xfer_hex(struct host *h, const char *frame, const char *answer)
{
    write_hex(h, frame);
    expect_hex(h, answer);
}

static void resync(struct host *h)
{
    xfer_hex(h, "5A C0 00 FF FC", "A5 E0 00 3F 19");
    h->ns = h->rs = 0;
}

/* One APDU over T=1, chaining both ways and answering WTX; returns the SW
 * and leaves the response data in rsp. */
static unsigned transceive(struct host *h, const uint8_t *apdu, size_t len, uint8_t *rsp,
                           size_t *rlen)
{
    uint8_t f[300], all[2048];
    size_t off = 0, n = 0;

    for (;;) {
        size_t k = len - off < 254 ? len - off : 254;
        bool more = off + k < len;

        send_block(h, (uint8_t)(h->ns << 6 | (more ? 0x20 : 0)), apdu + off, k);
        h->ns ^= 1;
        off += k;
        if (!more)
            break;
        read_block(h, f);
        assert_int_equal(f[1], 0x80 | h->ns << 4); /* R-ACK: send N(S) = next */
    }
    for (;;) {
        read_block(h, f);
        if (f[1] == 0xC3) {
            h->wtx++;
            assert_int_equal(f[2], 1);
            send_block(h, 0xE3, f + 3, 1);
            continue;
        }
        assert_int_equal(f[1] & 0x9F, 0x00);
        assert_int_equal((f[1] >> 6) & 1, h->rs);
        h->rs ^= 1;
        assert_true(n + f[2] <= sizeof all);
        memcpy(all + n, f + 3, f[2]);
        n += f[2];
        if (!(f[1] & 0x20))
            break;
        send_block(h, (uint8_t)(0x80 | h->rs << 4), NULL, 0);
    }
    assert_true(n >= 2);
    if (rsp != NULL)
        memcpy(rsp, all, n - 2);
    if (rlen != NULL)
        *rlen = n - 2;
    return (unsigned)all[n - 2] << 8 | all[n - 1];
}

/* ---- APDUs ------------------------------------------------------------- */

struct tb {
    uint8_t b[1100];
    size_t n;
};

static void t_raw(struct tb *t, const void *v, size_t n)
{
    assert_true(t->n + n <= sizeof t->b);
    memcpy(t->b + t->n, v, n);
    t->n += n;
}

static void t_tlv(struct tb *t, uint8_t tag, const void *v, size_t len)
{
    uint8_t h[4] = {tag};
    size_t hn = 2;

    if (len < 0x80)
        h[1] = (uint8_t)len;
    else if (len <= 0xFF) {
        h[1] = 0x81;
        h[2] = (uint8_t)len;
        hn = 3;
    } else {
        h[1] = 0x82;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hn = 4;
    }
    t_raw(t, h, hn);
    t_raw(t, v, len);
}

static void t_u8(struct tb *t, uint8_t tag, uint8_t v)
{
    t_tlv(t, tag, &v, 1);
}

static void t_u16(struct tb *t, uint8_t tag, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    t_tlv(t, tag, b, 2);
}

static void t_u32(struct tb *t, uint8_t tag, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    t_tlv(t, tag, b, 4);
}

/* Encodes as the NXP host: short Lc below 255 bytes (extended above), a
 * lone 00 without data, and "ext" commands always extended with Le 00 00. */
static unsigned cmd(struct host *h, uint8_t ins, uint8_t p1, uint8_t p2, const struct tb *d,
                    bool ext, uint8_t *rsp, size_t *rlen)
{
    uint8_t a[1200] = {0x80, ins, p1, p2};
    size_t n = 4, dn = d ? d->n : 0;

    if (ext || dn >= 255) {
        a[n++] = 0;
        a[n++] = (uint8_t)(dn >> 8);
        a[n++] = (uint8_t)dn;
    } else {
        a[n++] = (uint8_t)dn;
    }
    if (dn > 0)
        memcpy(a + n, d->b, dn);
    n += dn;
    if (ext) {
        a[n++] = 0;
        a[n++] = 0;
    }
    return transceive(h, a, n, rsp, rlen);
}

static unsigned cmd_id(struct host *h, uint8_t ins, uint8_t p1, uint8_t p2, uint32_t id,
                       bool ext, uint8_t *rsp, size_t *rlen)
{
    struct tb t = {.n = 0};

    t_u32(&t, 0x41, id);
    return cmd(h, ins, p1, p2, &t, ext, rsp, rlen);
}

static void select_applet(struct host *h)
{
    uint8_t a[32], r[16];
    size_t n = hex2bin(SELECT_HEX, a, sizeof a), rl;

    assert_int_equal(transceive(h, a, n, r, &rl), 0x9000);
    assert_int_equal(rl, 7);
}

static unsigned write_binary(struct host *h, uint32_t id, unsigned total, unsigned off,
                             const uint8_t *data, size_t len, const uint8_t *policy, size_t plen)
{
    struct tb t = {.n = 0};

    if (policy != NULL)
        t_tlv(&t, 0x11, policy, plen);
    t_u32(&t, 0x41, id);
    if (off != 0)
        t_u16(&t, 0x42, off);
    if (total != 0)
        t_u16(&t, 0x43, total);
    if (len > 0)
        t_tlv(&t, 0x44, data, len);
    return cmd(h, 0x01, 0x06, 0x00, &t, false, NULL, NULL);
}

static unsigned read_object(struct host *h, uint32_t id, unsigned off, unsigned len, int comp,
                            uint8_t *rsp, size_t *rlen)
{
    struct tb t = {.n = 0};

    t_u32(&t, 0x41, id);
    if (off != 0)
        t_u16(&t, 0x42, off);
    if (len != 0)
        t_u16(&t, 0x43, len);
    if (comp >= 0)
        t_u8(&t, 0x44, (uint8_t)comp);
    return cmd(h, 0x02, 0x00, 0x00, &t, true, rsp, rlen);
}

/* The value of TAG_1 in a response, with its length form checked. */
static const uint8_t *tlv1(const uint8_t *r, size_t rl, size_t *len)
{
    size_t hn;

    assert_true(rl >= 2);
    assert_int_equal(r[0], 0x41);
    if (r[1] < 0x80) {
        *len = r[1];
        hn = 2;
    } else if (r[1] == 0x81) {
        *len = r[2];
        hn = 3;
        assert_true(*len >= 0x80);
    } else {
        assert_int_equal(r[1], 0x82);
        *len = (size_t)r[2] << 8 | r[3];
        hn = 4;
        assert_true(*len > 0xFF);
    }
    assert_int_equal(hn + *len, rl);
    return r + hn;
}

static unsigned free_memory(struct host *h)
{
    struct tb t = {.n = 0};
    uint8_t r[8];
    size_t rl;

    t_u8(&t, 0x41, 0x01);
    assert_int_equal(cmd(h, 0x04, 0x00, 0x22, &t, false, r, &rl), 0x9000);
    assert_int_equal(rl, 4);
    assert_int_equal(r[0], 0x41);
    assert_int_equal(r[1], 0x02);
    return (unsigned)r[2] << 8 | r[3];
}

static void create_curve(struct host *h, uint8_t curve, int nid)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
    BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new();
    uint8_t v[5][140];
    size_t vl[5];
    int f;
    struct tb t = {.n = 0};
    static const uint8_t order[5] = {0x01, 0x02, 0x04, 0x08, 0x10};

    assert_non_null(g);
    assert_int_equal(EC_GROUP_get_curve(g, p, a, b, NULL), 1);
    f = (EC_GROUP_get_degree(g) + 7) / 8;
    vl[0] = vl[1] = vl[3] = vl[4] = (size_t)f;
    BN_bn2binpad(a, v[0], f);
    BN_bn2binpad(b, v[1], f);
    vl[2] = EC_POINT_point2oct(g, EC_GROUP_get0_generator(g), POINT_CONVERSION_UNCOMPRESSED,
                               v[2], sizeof v[2], NULL);
    BN_bn2binpad(EC_GROUP_get0_order(g), v[3], f);
    BN_bn2binpad(p, v[4], f);
    t_u8(&t, 0x41, curve);
    assert_int_equal(cmd(h, 0x01, 0x0B, 0x04, &t, false, NULL, NULL), 0x9000);
    for (int i = 0; i < 5; i++) {
        t.n = 0;
        t_u8(&t, 0x41, curve);
        t_u8(&t, 0x42, order[i]);
        t_tlv(&t, 0x43, v[i], vl[i]);
        assert_int_equal(cmd(h, 0x01, 0x0B, 0x40, &t, false, NULL, NULL), 0x9000);
    }
    BN_free(p);
    BN_free(a);
    BN_free(b);
    EC_GROUP_free(g);
}

static EVP_PKEY *ec_pub(const char *group, const uint8_t *pt, size_t len)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pk = NULL;

    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, len);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static EVP_PKEY *rsa_pub(const uint8_t *n, size_t nl, const uint8_t *e, size_t el)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pk = NULL;
    BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL), *be = BN_bin2bn(e, (int)el, NULL);

    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    BN_free(be);
    return pk;
}

static int verify_sig(EVP_PKEY *pk, const EVP_MD *md, int pad, const uint8_t *dig, size_t dlen,
                      const uint8_t *sig, size_t slen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    int ok;

    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    if (pad != 0) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, pad), 1);
        if (pad == RSA_PKCS1_PSS_PADDING) {
            assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST), 1);
        }
    }
    if (md != NULL)
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, md), 1);
    ok = EVP_PKEY_verify(ctx, sig, slen, dig, dlen);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* ---- fixtures ---------------------------------------------------------- */

static void open_handle(struct host *h)
{
    char err[256];

    assert_int_equal(sim_open(h->path, "se050", NULL, &h->s, err, sizeof err), SIM_OK);
}

static int setup(void **state)
{
    struct host *h = calloc(1, sizeof *h);

    if (h == NULL)
        return -1;
    snprintf(h->dir, sizeof h->dir, "/tmp/se050emu.XXXXXX");
    if (mkdtemp(h->dir) == NULL)
        return -1;
    snprintf(h->path, sizeof h->path, "%s/chip.state", h->dir);
    open_handle(h);
    *state = h;
    return 0;
}

static int setup_selected(void **state)
{
    struct host *h;

    if (setup(state) != 0)
        return -1;
    h = *state;
    resync(h);
    select_applet(h);
    return 0;
}

static int teardown(void **state)
{
    struct host *h = *state;
    char p[160];

    sim_close(h->s);
    unlink(h->path);
    snprintf(p, sizeof p, "%s.lock", h->path);
    unlink(p);
    rmdir(h->dir);
    free(h);
    return 0;
}

/* ---- link layer -------------------------------------------------------- */

static void test_captured_session(void **state)
{
    struct host *h = *state;

    expect_nothing(h); /* fresh from power-up: nothing to say */
    /* specs/se050.md §1.9, byte for byte */
    xfer_hex(h, "5A C0 00 FF FC", "A5 E0 00 3F 19");
    xfer_hex(h, "5A C7 00 F7 B1", "A5 E7 23 " ATR_HEX " 2A 8D");
    xfer_hex(h, "5A 00 16 00 A4 04 00 10 A0 00 00 03 96 54 53 00 00 00 01 03 00 00 00 00 00 A8 C8",
             "A5 00 09 03 01 00 6F FF 01 0B 90 00 19 14");
    xfer_hex(h, "5A 40 05 80 04 00 20 00 22 93",
             "A5 40 0B 41 07 03 01 00 6F FF 01 0B 90 00 F0 81");
    xfer_hex(h, "5A C5 00 47 82", "A5 E5 00 87 67");
    expect_nothing(h);
    /* §1.4 reference frames */
    xfer_hex(h, "5A CF 00 37 7F", "A5 EF 23 " ATR_HEX " 87 77");
    xfer_hex(h, "5A C6 00 2F A8", "A5 E6 00 EF 4D");
    /* after the chip reset the applet is gone until selected again */
    xfer_hex(h, "5A 00 05 80 04 00 20 00 24 54", "A5 00 02 6D 00 72 63");
}

static void test_read_patterns(void **state)
{
    struct host *h = *state;
    uint8_t b[300], atr[64];
    size_t n = hex2bin("A5 E7 23 " ATR_HEX " 2A 8D", atr, sizeof atr);

    /* header of 3 then LEN + 2, as other hosts read */
    write_hex(h, "5A C7 00 F7 B1");
    assert_int_equal(sim_read(h->s, ADDR, b, 3), SIM_OK);
    assert_int_equal(sim_read(h->s, ADDR, b + 3, 37), SIM_OK);
    assert_memory_equal(b, atr, n);
    expect_nothing(h);
    /* one flushing 260-byte read: the block, then a released bus */
    write_hex(h, "5A C7 00 F7 B1");
    assert_int_equal(sim_read(h->s, ADDR, b, 260), SIM_OK);
    assert_memory_equal(b, atr, n);
    for (size_t i = n; i < 260; i++)
        assert_int_equal(b[i], 0xFF);
    expect_nothing(h);
    /* only address 0x48 answers */
    assert_int_equal(sim_write(h->s, 0x49, b, 5), SIM_NACK);
    write_hex(h, "5A C7 00 F7 B1");
    assert_int_equal(sim_read(h->s, 0x49, b, 2), SIM_NACK);
    /* an empty write is an address probe: acknowledged, changes nothing */
    assert_int_equal(sim_write(h->s, ADDR, b, 0), SIM_OK);
    expect_hex(h, "A5 E7 23 " ATR_HEX " 2A 8D");
}

static void test_bad_crc_and_nack(void **state)
{
    struct host *h = *state;
    uint8_t first[300], again[300];
    size_t n;

    resync(h);
    /* bad CRC: R-NACK(CRC) naming the expected N(S)=0 */
    xfer_hex(h, "5A C0 00 FF FD", "A5 81 00 B2 65");
    /* a length that disagrees with the frame size */
    xfer_hex(h, "5A C0 01 FF FC", "A5 81 00 B2 65");
    /* a good CRC with a foreign NAD: R-NACK(other) */
    {
        uint8_t f[5] = {0x00, 0xC0, 0x00};

        t1_crc16_put(f, 3, f + 3);
        write_raw(h, f, 5);
        expect_hex(h, "A5 82 00 DA 4F");
    }
    select_applet(h);
    /* the host lost the answer: R-NACK, then the same block again */
    write_hex(h, "5A 40 05 80 04 00 20 00 22 93");
    n = read_block(h, first);
    write_hex(h, "5A 81 00 41 A3");
    assert_int_equal(read_block(h, again), n);
    assert_memory_equal(first, again, n);
    /* an R-ACK naming the chip's last N(S) asks for it again too */
    write_hex(h, "5A 80 00 99 BA");
    assert_int_equal(read_block(h, again), n);
    assert_memory_equal(first, again, n);
    /* the link goes on */
    h->ns = 0;
    h->rs = 0;
    assert_int_equal(cmd(h, 0x04, 0x00, 0x20, NULL, false, NULL, NULL), 0x9000);
}

static void test_out_of_sequence(void **state)
{
    struct host *h = *state;
    struct sim_counters c0, c1;
    uint8_t first[300], again[300];
    size_t n;

    /* nothing sent yet: an I(1) is answered R-NACK(other), N(R)=0 */
    write_hex(h, "5A 40 05 80 04 00 20 00 22 93");
    expect_hex(h, "A5 82 00 DA 4F");
    resync(h);
    select_applet(h);
    assert_int_equal(sim_get_counters(h->s, &c0), SIM_OK);
    /* the host repeats I(0): the chip resends its answer without executing */
    write_hex(h, "5A 00 16 00 A4 04 00 10 A0 00 00 03 96 54 53 00 00 00 01 03 00 00 00 00 00 "
                 "A8 C8");
    n = read_block(h, again);
    assert_int_equal(sim_get_counters(h->s, &c1), SIM_OK);
    assert_int_equal(c1.commands, c0.commands);
    hex2bin("A5 00 09 03 01 00 6F FF 01 0B 90 00 19 14", first, sizeof first);
    assert_int_equal(n, 14);
    assert_memory_equal(again, first, n);
    /* and the next I(1) is executed */
    assert_int_equal(cmd(h, 0x04, 0x00, 0x20, NULL, false, NULL, NULL), 0x9000);
    assert_int_equal(sim_get_counters(h->s, &c1), SIM_OK);
    assert_int_equal(c1.commands, c0.commands + 1);
}

static void test_sequence_shared_across_handles(void **state)
{
    struct host *h = *state, h2;

    resync(h);
    select_applet(h); /* chip now expects N(S)=1, sends N(S)=1 next */
    h2 = *h;
    open_handle(&h2);
    /* a second process with fresh sequence numbers sends I(0): it gets the
     * first process's SELECT answer back, exactly as on a board */
    xfer_hex(&h2, "5A 00 05 80 04 00 20 00 24 54",
             "A5 00 09 03 01 00 6F FF 01 0B 90 00 19 14");
    /* after a RESYNC it talks; the applet stayed selected */
    resync(&h2);
    xfer_hex(&h2, "5A 00 05 80 04 00 20 00 24 54",
             "A5 00 0B 41 07 03 01 00 6F FF 01 0B 90 00 A1 E2");
    sim_close(h2.s);
    /* the first handle now meets N(S) the other process advanced */
    h->ns = 1;
    h->rs = 1;
    assert_int_equal(cmd(h, 0x04, 0x00, 0x20, NULL, false, NULL, NULL), 0x9000);
}

static void test_command_chaining(void **state)
{
    struct host *h = *state;
    uint8_t apdu[400], f[300], data[290], r[400];
    size_t rl, n = 0, len;
    struct tb t = {.n = 0};

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    t_u32(&t, 0x41, 0x10000001);
    t_u16(&t, 0x43, sizeof data);
    t_tlv(&t, 0x44, data, sizeof data);
    /* 80 01 06 00 00 01 30 <304> = 311 bytes: 254 + 57 */
    apdu[n++] = 0x80;
    apdu[n++] = 0x01;
    apdu[n++] = 0x06;
    apdu[n++] = 0x00;
    apdu[n++] = 0x00;
    apdu[n++] = (uint8_t)(t.n >> 8);
    apdu[n++] = (uint8_t)t.n;
    memcpy(apdu + n, t.b, t.n);
    n += t.n;
    resync(h); /* the host's N(S) is 0 again, as in the capture */
    send_block(h, 0x20, apdu, 254);
    expect_hex(h, "A5 90 00 FB E9"); /* the captured R-ACK */
    /* the host repeats the chained block: the chip repeats its R-ACK */
    send_block(h, 0x20, apdu, 254);
    expect_hex(h, "A5 90 00 FB E9");
    send_block(h, 0x40, apdu + 254, n - 254);
    len = read_block(h, f);
    assert_int_equal(len, 7);
    assert_int_equal(f[1], 0x00);
    assert_int_equal(f[3], 0x90);
    assert_int_equal(f[4], 0x00);
    h->ns = 0;
    h->rs = 1;
    select_applet(h); /* SELECT needs no applet: it worked before too */
    assert_int_equal(read_object(h, 0x10000001, 0, 0, -1, r, &rl), 0x9000);
    {
        size_t vl;
        const uint8_t *v = tlv1(r, rl, &vl);

        assert_int_equal(vl, sizeof data);
        assert_memory_equal(v, data, sizeof data);
    }
}

static void test_response_chaining_and_ifs(void **state)
{
    struct host *h = *state;
    uint8_t data[600], r[700], f[300];
    size_t rl, vl;
    const uint8_t *v;

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i ^ 0x5A);
    assert_int_equal(write_binary(h, 0x10000002, sizeof data, 0, data, 500, NULL, 0), 0x9000);
    assert_int_equal(write_binary(h, 0x10000002, 0, 500, data + 500, 100, NULL, 0), 0x9000);
    /* 606 bytes of response: 254 + 254 + 98, each released after an R-ACK */
    assert_int_equal(read_object(h, 0x10000002, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, sizeof data);
    assert_memory_equal(v, data, sizeof data);
    /* the host asks for smaller blocks */
    xfer_hex(h, "5A C1 01 40 FC FE", "A5 E1 01 40 15 38");
    /* a NACK in the middle of a response chain repeats the fragment */
    {
        struct tb t = {.n = 0};
        uint8_t apdu[32] = {0x80, 0x02, 0x00, 0x00, 0x00, 0x00};
        size_t n = 7;
        uint8_t first[300], again[300];
        size_t fl;

        t_u32(&t, 0x41, 0x10000002);
        t_u16(&t, 0x43, 200);
        apdu[6] = (uint8_t)t.n;
        memcpy(apdu + n, t.b, t.n);
        n += t.n;
        apdu[n++] = 0;
        apdu[n++] = 0;
        send_block(h, (uint8_t)(h->ns << 6), apdu, n);
        h->ns ^= 1;
        fl = read_block(h, first);
        assert_int_equal(first[2], 0x40);
        assert_int_equal(first[1], h->rs << 6 | 0x20);
        send_block(h, (uint8_t)(0x81 | h->rs << 4), NULL, 0);
        assert_int_equal(read_block(h, again), fl);
        assert_memory_equal(first, again, fl);
        /* a new command before the chain is done is refused */
        send_block(h, (uint8_t)(h->ns << 6), apdu, n);
        read_block(h, f);
        assert_int_equal(f[1] & 0xEF, 0x82);
        h->rs ^= 1;
        send_block(h, (uint8_t)(0x80 | h->rs << 4), NULL, 0);
        read_block(h, f);
        assert_int_equal(f[2], 0x40);
        assert_int_equal(f[1], h->rs << 6 | 0x20);
        assert_memory_not_equal(f + 3, first + 3, 0x40);
        /* ABORT drops the rest */
        xfer_hex(h, "5A C2 00 4F CF", "A5 E2 00 8F 2A");
        h->rs ^= 1;
    }
    resync(h);
    select_applet(h);
    assert_int_equal(read_object(h, 0x10000002, 0, 0, -1, r, &rl), 0x9000);
    assert_int_equal(rl, 604);
}

static void test_faults_busy_and_power_loss(void **state)
{
    struct host *h = *state;
    uint8_t b[8];

    assert_int_equal(sim_set_faults(h->s, "busy=2"), SIM_OK);
    write_hex(h, "5A 40 05 80 04 00 20 00 22 93");
    assert_int_equal(sim_read(h->s, ADDR, b, 2), SIM_NACK);
    assert_int_equal(sim_read(h->s, ADDR, b, 2), SIM_NACK);
    expect_hex(h, "A5 40 0B 41 07 03 01 00 6F FF 01 0B 90 00 F0 81");
    h->ns = 0;
    h->rs = 0;
    assert_int_equal(sim_set_faults(h->s, "busy=0,reset=1"), SIM_OK);
    /* power lost before this write: link state and applet selection gone */
    write_hex(h, "5A 00 05 80 04 00 20 00 24 54");
    expect_hex(h, "A5 00 02 6D 00 72 63");
}

/* ---- applet ------------------------------------------------------------ */

static void test_ec_generate_sign_verify(void **state)
{
    struct host *h = *state;
    uint8_t r[300], hash[48], sig[160];
    size_t rl, vl, sl;
    const uint8_t *v;
    struct tb t = {.n = 0};
    EVP_PKEY *pk;

    t_u32(&t, 0x41, 0xEF000001);
    t_u8(&t, 0x42, 0x03);
    /* the curve must exist first */
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x6985);
    assert_int_equal(cmd(h, 0x02, 0x0B, 0x25, NULL, false, r, &rl), 0x9000);
    assert_int_equal(rl, 19);
    assert_int_equal(r[1], 0x11);
    assert_int_equal(r[2 + 2], 0x01);
    create_curve(h, 0x03, NID_X9_62_prime256v1);
    assert_int_equal(cmd(h, 0x02, 0x0B, 0x25, NULL, false, r, &rl), 0x9000);
    assert_int_equal(r[2 + 2], 0x02);
    assert_int_equal(r[2 + 3], 0x01);
    /* creating it twice */
    {
        struct tb c = {.n = 0};

        t_u8(&c, 0x41, 0x03);
        assert_int_equal(cmd(h, 0x01, 0x0B, 0x04, &c, false, NULL, NULL), 0x6985);
    }
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x9000);
    /* type, size, curve */
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0xEF000001, false, r, &rl), 0x9000);
    assert_int_equal(rl, 6);
    assert_memory_equal(r, "\x41\x01\x01\x42\x01\x01", 6);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x07, 0xEF000001, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x02\x00\x20", 4);
    assert_int_equal(cmd_id(h, 0x02, 0x0B, 0x36, 0xEF000001, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x03", 3);
    assert_int_equal(read_object(h, 0xEF000001, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, 65);
    assert_int_equal(v[0], 0x04);
    pk = ec_pub("P-256", v, vl);
    /* sign the SHA-256 of "abc" */
    EVP_Digest("abc", 3, hash, NULL, EVP_sha256(), NULL);
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000001);
    t_u8(&t, 0x42, 0x21);
    t_tlv(&t, 0x43, hash, 32);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, false, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_true(vl <= 72);
    assert_int_equal(v[0], 0x30);
    assert_int_equal(v[1], vl - 2);
    assert_int_equal(verify_sig(pk, NULL, 0, hash, 32, v, vl), 1);
    memcpy(sig, v, vl);
    sl = vl;
    /* the chip verifies its own signature, and refuses a changed hash */
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000001);
    t_u8(&t, 0x42, 0x21);
    t_tlv(&t, 0x43, hash, 32);
    t_tlv(&t, 0x45, sig, sl);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x0A, &t, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x01", 3);
    hash[0] ^= 1;
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000001);
    t_u8(&t, 0x42, 0x21);
    t_tlv(&t, 0x43, hash, 32);
    t_tlv(&t, 0x45, sig, sl);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x0A, &t, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x02", 3);
    /* a hash whose length does not match the algorithm */
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000001);
    t_u8(&t, 0x42, 0x22);
    t_tlv(&t, 0x43, hash, 32);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, false, r, &rl), 0x6A80);
    EVP_PKEY_free(pk);

    /* P-384 as well */
    create_curve(h, 0x04, NID_secp384r1);
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000002);
    t_u8(&t, 0x42, 0x04);
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x9000);
    assert_int_equal(read_object(h, 0xEF000002, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, 97);
    pk = ec_pub("P-384", v, vl);
    EVP_Digest("abc", 3, hash, NULL, EVP_sha384(), NULL);
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000002);
    t_u8(&t, 0x42, 0x22);
    t_tlv(&t, 0x43, hash, 48);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, false, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(verify_sig(pk, NULL, 0, hash, 48, v, vl), 1);
    EVP_PKEY_free(pk);
    /* re-generation keeps the object, changes the key */
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000002);
    {
        uint8_t before[100];

        assert_int_equal(read_object(h, 0xEF000002, 0, 0, -1, r, &rl), 0x9000);
        memcpy(before, r, rl);
        assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x9000);
        assert_int_equal(read_object(h, 0xEF000002, 0, 0, -1, r, &rl), 0x9000);
        assert_memory_not_equal(before, r, rl);
    }
    /* once the curve is deleted, its keys stop working */
    {
        struct tb c = {.n = 0};

        t_u8(&c, 0x41, 0x04);
        assert_int_equal(cmd(h, 0x04, 0x0B, 0x28, &c, false, NULL, NULL), 0x9000);
        assert_int_equal(cmd(h, 0x04, 0x0B, 0x28, &c, false, NULL, NULL), 0x6A80);
    }
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000002);
    t_u8(&t, 0x42, 0x22);
    t_tlv(&t, 0x43, hash, 48);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, false, r, &rl), 0x6985);
}

static EVP_PKEY *host_ec_key(const char *group, uint8_t *priv, size_t f, uint8_t *pub,
                             size_t *publen)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    BIGNUM *d = NULL;

    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    BN_bn2binpad(d, priv, (int)f);
    BN_free(d);
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, 200, publen), 1);
    return k;
}

static void test_ec_import_and_ecdh(void **state)
{
    struct host *h = *state;
    uint8_t priv[32], pub[200], ppriv[32], ppub[200], r[300], want[66];
    size_t publen, ppublen, rl, vl, wl = sizeof want;
    const uint8_t *v;
    struct tb t = {.n = 0};
    EVP_PKEY *k, *peer;
    EVP_PKEY_CTX *ctx;

    create_curve(h, 0x03, NID_X9_62_prime256v1);
    k = host_ec_key("P-256", priv, 32, pub, &publen);
    peer = host_ec_key("P-256", ppriv, 32, ppub, &ppublen);
    /* a pair whose halves do not match is refused */
    t_u32(&t, 0x41, 0x20000001);
    t_u8(&t, 0x42, 0x03);
    t_tlv(&t, 0x43, ppriv, 32);
    t_tlv(&t, 0x44, pub, publen);
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x6A80);
    t.n = 0;
    t_u32(&t, 0x41, 0x20000001);
    t_u8(&t, 0x42, 0x03);
    t_tlv(&t, 0x43, priv, 32);
    t_tlv(&t, 0x44, pub, publen);
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x9000);
    assert_int_equal(read_object(h, 0x20000001, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, publen);
    assert_memory_equal(v, pub, publen);
    /* ECDH with the peer's public point = host-side derivation */
    t.n = 0;
    t_u32(&t, 0x41, 0x20000001);
    t_tlv(&t, 0x42, ppub, ppublen);
    assert_int_equal(cmd(h, 0x03, 0x01, 0x0F, &t, true, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, k), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, want, &wl), 1);
    EVP_PKEY_CTX_free(ctx);
    assert_int_equal(vl, 32);
    assert_memory_equal(v, want, 32);
    /* a point off the curve */
    ppub[10] ^= 1;
    t.n = 0;
    t_u32(&t, 0x41, 0x20000001);
    t_tlv(&t, 0x42, ppub, ppublen);
    assert_int_equal(cmd(h, 0x03, 0x01, 0x0F, &t, true, r, &rl), 0x6A80);
    ppub[10] ^= 1;
    /* a public key alone: readable, cannot sign or derive */
    t.n = 0;
    t_u32(&t, 0x41, 0x20000002);
    t_u8(&t, 0x42, 0x03);
    t_tlv(&t, 0x44, ppub, ppublen);
    assert_int_equal(cmd(h, 0x01, 0x21, 0x00, &t, false, NULL, NULL), 0x9000);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0x20000002, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x03\x42\x01\x01", 6);
    t.n = 0;
    t_u32(&t, 0x41, 0x20000002);
    t_u8(&t, 0x42, 0x21);
    t_tlv(&t, 0x43, want, 32);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, false, r, &rl), 0x6985);
    /* a private key alone: usable, never readable */
    t.n = 0;
    t_u32(&t, 0x41, 0x20000003);
    t_u8(&t, 0x42, 0x03);
    t_tlv(&t, 0x43, ppriv + 1, 31); /* leading byte dropped: any length up to 32 */
    assert_int_equal(cmd(h, 0x01, 0x41, 0x00, &t, false, NULL, NULL), 0x9000);
    assert_int_equal(read_object(h, 0x20000003, 0, 0, -1, r, &rl), 0x6985);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0x20000003, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x02\x42\x01\x01", 6);
    /* an import onto an existing pair replaces the key (no curve TLV) */
    t.n = 0;
    t_u32(&t, 0x41, 0x20000001);
    t_tlv(&t, 0x43, ppriv, 32);
    t_tlv(&t, 0x44, ppub, ppublen);
    assert_int_equal(cmd(h, 0x01, 0x01, 0x00, &t, false, NULL, NULL), 0x9000);
    assert_int_equal(read_object(h, 0x20000001, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_memory_equal(v, ppub, ppublen);
    /* but not as a public key */
    t.n = 0;
    t_u32(&t, 0x41, 0x20000001);
    t_tlv(&t, 0x44, ppub, ppublen);
    assert_int_equal(cmd(h, 0x01, 0x21, 0x00, &t, false, NULL, NULL), 0x6985);
    /* an unsupported curve */
    t.n = 0;
    t_u32(&t, 0x41, 0x20000004);
    t_u8(&t, 0x42, 0x01);
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x6A80);
    t.n = 0;
    t_u8(&t, 0x41, 0x01);
    assert_int_equal(cmd(h, 0x01, 0x0B, 0x04, &t, false, NULL, NULL), 0x6A80);
    /* a wrong curve parameter */
    t.n = 0;
    t_u8(&t, 0x41, 0x05);
    assert_int_equal(cmd(h, 0x01, 0x0B, 0x04, &t, false, NULL, NULL), 0x9000);
    t.n = 0;
    t_u8(&t, 0x41, 0x05);
    t_u8(&t, 0x42, 0x10);
    t_tlv(&t, 0x43, want, 32);
    assert_int_equal(cmd(h, 0x01, 0x0B, 0x40, &t, false, NULL, NULL), 0x6A80);
    EVP_PKEY_free(k);
    EVP_PKEY_free(peer);
}

static void rsa_sign_check(struct host *h, uint32_t id, EVP_PKEY *pk)
{
    static const uint8_t msg[] = "a message signed on the chip";
    uint8_t r[600], dig[32];
    size_t rl, vl;
    const uint8_t *v;
    struct tb t = {.n = 0};

    EVP_Digest(msg, sizeof msg, dig, NULL, EVP_sha256(), NULL);
    /* PKCS#1 v1.5 SHA-256 */
    t_u32(&t, 0x41, id);
    t_u8(&t, 0x42, 0x28);
    t_tlv(&t, 0x43, msg, sizeof msg);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, true, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, 256);
    assert_memory_equal(r, "\x41\x82\x01\x00", 4);
    assert_int_equal(verify_sig(pk, EVP_sha256(), RSA_PKCS1_PADDING, dig, 32, v, vl), 1);
    /* PSS SHA-256 */
    t.n = 0;
    t_u32(&t, 0x41, id);
    t_u8(&t, 0x42, 0x2C);
    t_tlv(&t, 0x43, msg, sizeof msg);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, true, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, 256);
    assert_int_equal(verify_sig(pk, EVP_sha256(), RSA_PKCS1_PSS_PADDING, dig, 32, v, vl), 1);
    /* the raw private operation on a host-padded block = PKCS#1 v1.5 */
    {
        static const uint8_t prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
        uint8_t em[256];
        size_t ps = 256 - 3 - sizeof prefix - 32;

        em[0] = 0x00;
        em[1] = 0x01;
        memset(em + 2, 0xFF, ps);
        em[2 + ps] = 0x00;
        memcpy(em + 3 + ps, prefix, sizeof prefix);
        memcpy(em + 3 + ps + sizeof prefix, dig, 32);
        t.n = 0;
        t_u32(&t, 0x41, id);
        t_u8(&t, 0x42, 0x0C);
        t_tlv(&t, 0x43, em, sizeof em);
        assert_int_equal(cmd(h, 0x03, 0x02, 0x38, &t, true, r, &rl), 0x9000);
        v = tlv1(r, rl, &vl);
        assert_int_equal(vl, 256);
        assert_int_equal(verify_sig(pk, EVP_sha256(), RSA_PKCS1_PADDING, dig, 32, v, vl), 1);
    }
}

static EVP_PKEY *read_rsa_pub(struct host *h, uint32_t id)
{
    uint8_t n[600], e[16], r[600];
    size_t nl, el, rl;
    const uint8_t *v;

    assert_int_equal(read_object(h, id, 0, 0, 0, r, &rl), 0x9000);
    v = tlv1(r, rl, &nl);
    memcpy(n, v, nl);
    assert_int_equal(read_object(h, id, 0, 0, 1, r, &rl), 0x9000);
    v = tlv1(r, rl, &el);
    memcpy(e, v, el);
    return rsa_pub(n, nl, e, el);
}

static void test_rsa_generate_sign(void **state)
{
    struct host *h = *state;
    struct tb t = {.n = 0};
    uint8_t r[600];
    size_t rl;
    EVP_PKEY *pk;

    /* sizes the chip does not offer */
    t_u32(&t, 0x41, 0xEF000010);
    t_u16(&t, 0x42, 1024);
    assert_int_equal(cmd(h, 0x01, 0x62, 0x4F, &t, false, NULL, NULL), 0x6A80);
    /* 2048-bit raw-format pair, as NXP's PKCS#11 module makes them; the chip
     * asks for more time while it works */
    t.n = 0;
    t_u32(&t, 0x41, 0xEF000010);
    t_u16(&t, 0x42, 2048);
    h->wtx = 0;
    {
        uint8_t a[32] = {0x80, 0x01, 0x62, 0x4F, (uint8_t)t.n}, f[16];

        memcpy(a + 5, t.b, t.n);
        send_block(h, (uint8_t)(h->ns << 6), a, 5 + t.n);
        h->ns ^= 1;
        expect_hex(h, "A5 C3 01 01 1B DD");
        /* lost WTX request: asked again, sent again */
        write_hex(h, "5A 81 00 41 A3");
        expect_hex(h, "A5 C3 01 01 1B DD");
        write_hex(h, "5A E3 01 01 F2 1B");
        read_block(h, f);
        assert_int_equal(f[2], 2);
        assert_int_equal(f[3], 0x90);
        assert_int_equal(f[4], 0x00);
        h->rs ^= 1;
    }
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0xEF000010, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x04\x42\x01\x01", 6);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x07, 0xEF000010, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x02\x01\x00", 4);
    pk = read_rsa_pub(h, 0xEF000010);
    assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
    rsa_sign_check(h, 0xEF000010, pk);
    /* private components never come out */
    assert_int_equal(read_object(h, 0xEF000010, 0, 0, 2, r, &rl), 0x6985);
    assert_int_equal(read_object(h, 0xEF000010, 0, 0, -1, r, &rl), 0x6A80);
    EVP_PKEY_free(pk);
}

/* The host pads odd-length components with one 00 byte (§3.2). */
static void t_comp(struct tb *t, uint8_t tag, EVP_PKEY *k, const char *name)
{
    BIGNUM *bn = NULL;
    uint8_t b[600];
    int n, off;

    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    n = BN_num_bytes(bn);
    off = n & 1;
    b[0] = 0;
    BN_bn2bin(bn, b + off);
    t_tlv(t, tag, b, (size_t)(n + off));
    BN_free(bn);
}

static void test_rsa_import_crt(void **state)
{
    struct host *h = *state;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    static const struct {
        uint8_t tag;
        const char *name;
    } parts[] = {
        {0x43, OSSL_PKEY_PARAM_RSA_FACTOR1},   {0x44, OSSL_PKEY_PARAM_RSA_FACTOR2},
        {0x45, OSSL_PKEY_PARAM_RSA_EXPONENT1}, {0x46, OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {0x47, OSSL_PKEY_PARAM_RSA_COEFFICIENT1}, {0x48, OSSL_PKEY_PARAM_RSA_E},
        {0x4A, OSSL_PKEY_PARAM_RSA_N},
    };
    uint8_t r[600], msg[4] = "abc";
    size_t rl;
    struct tb t;
    EVP_PKEY *pk;

    assert_non_null(k);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        t.n = 0;
        t_u32(&t, 0x41, 0x30000001);
        if (i == 0)
            t_u16(&t, 0x42, 2048);
        t_comp(&t, parts[i].tag, k, parts[i].name);
        assert_int_equal(cmd(h, 0x01, i == 0 ? 0x62 : 0x02, 0x00, &t, false, NULL, NULL),
                         0x9000);
        if (i == 3) {
            /* half a key survives a reload and is not a key */
            sim_close(h->s);
            open_handle(h);
            t.n = 0;
            t_u32(&t, 0x41, 0x30000001);
            t_u8(&t, 0x42, 0x28);
            t_tlv(&t, 0x43, msg, 3);
            assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, true, r, &rl), 0x6985);
            assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0x30000001, false, r, &rl), 0x9000);
            assert_memory_equal(r, "\x41\x01\x05\x42\x01\x01", 6);
        }
    }
    sim_close(h->s);
    open_handle(h);
    pk = read_rsa_pub(h, 0x30000001);
    assert_int_equal(EVP_PKEY_eq(pk, k), 1);
    rsa_sign_check(h, 0x30000001, k);
    EVP_PKEY_free(pk);
    /* a public key: exponent, then modulus */
    t.n = 0;
    t_u32(&t, 0x41, 0x30000002);
    t_u16(&t, 0x42, 2048);
    t_comp(&t, 0x48, k, OSSL_PKEY_PARAM_RSA_E);
    assert_int_equal(cmd(h, 0x01, 0x22, 0x00, &t, false, NULL, NULL), 0x9000);
    t.n = 0;
    t_u32(&t, 0x41, 0x30000002);
    t_comp(&t, 0x4A, k, OSSL_PKEY_PARAM_RSA_N);
    assert_int_equal(cmd(h, 0x01, 0x02, 0x00, &t, false, NULL, NULL), 0x9000);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0x30000002, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x08\x42\x01\x01", 6);
    t.n = 0;
    t_u32(&t, 0x41, 0x30000002);
    t_u8(&t, 0x42, 0x28);
    t_tlv(&t, 0x43, msg, 3);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, true, r, &rl), 0x6985);
    /* a component the format does not have */
    t.n = 0;
    t_u32(&t, 0x41, 0x30000003);
    t_u16(&t, 0x42, 2048);
    t_comp(&t, 0x49, k, OSSL_PKEY_PARAM_RSA_D);
    assert_int_equal(cmd(h, 0x01, 0x62, 0x00, &t, false, NULL, NULL), 0x6A80);
    EVP_PKEY_free(k);
}

static void test_binary_chunks(void **state)
{
    struct host *h = *state;
    uint8_t data[1200], r[600], back[1200];
    size_t rl, vl;
    const uint8_t *v;

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    /* 500-byte chunks: the first creates the file with its total size */
    assert_int_equal(write_binary(h, 0x40000001, 1200, 0, data, 500, NULL, 0), 0x9000);
    assert_int_equal(write_binary(h, 0x40000001, 0, 500, data + 500, 500, NULL, 0), 0x9000);
    assert_int_equal(write_binary(h, 0x40000001, 0, 1000, data + 1000, 200, NULL, 0), 0x9000);
    /* past the end, another size, a file without a size */
    assert_int_equal(write_binary(h, 0x40000001, 0, 1100, data, 101, NULL, 0), 0x6A80);
    assert_int_equal(write_binary(h, 0x40000001, 1300, 0, data, 10, NULL, 0), 0x6985);
    assert_int_equal(write_binary(h, 0x40000002, 0, 0, data, 10, NULL, 0), 0x6A80);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x07, 0x40000001, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x02\x04\xB0", 4);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0x40000001, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x0B\x42\x01\x01", 6);
    /* read back in 500-byte chunks; the first with length only */
    for (unsigned off = 0; off < 1200; off += 500) {
        unsigned n = 1200 - off < 500 ? 1200 - off : 500;

        assert_int_equal(read_object(h, 0x40000001, off, n, -1, r, &rl), 0x9000);
        v = tlv1(r, rl, &vl);
        assert_int_equal(vl, n);
        memcpy(back + off, v, n);
    }
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(read_object(h, 0x40000001, 1100, 200, -1, r, &rl), 0x6A80);
    /* a whole read too large for one response */
    assert_int_equal(read_object(h, 0x40000001, 0, 0, -1, r, &rl), 0x6700);
}

static void test_id_list_paging(void **state)
{
    struct host *h = *state;
    uint8_t r[900], one = 1;
    size_t rl;
    unsigned seen = 0, users = 0;
    bool f0000101 = false;
    struct tb t;

    assert_int_equal(sim_begin(h->s), SIM_OK);
    for (uint32_t i = 0; i < 250; i++)
        assert_int_equal(write_binary(h, 0x50000000 + i, 1, 0, &one, 1, NULL, 0), 0x9000);
    for (unsigned off = 0;;) {
        size_t n;

        t.n = 0;
        t_u16(&t, 0x41, off);
        t_u8(&t, 0x42, 0xFF);
        assert_int_equal(cmd(h, 0x02, 0x00, 0x25, &t, true, r, &rl), 0x9000);
        assert_int_equal(r[0], 0x41);
        assert_int_equal(r[1], 0x01);
        assert_int_equal(r[3], 0x42);
        if (r[4] == 0x82) {
            n = (size_t)r[5] << 8 | r[6];
            assert_int_equal(rl, 7 + n);
        } else {
            n = r[4] == 0x81 ? r[5] : r[4];
            assert_int_equal(rl, (r[4] == 0x81 ? 6 : 5) + n);
        }
        for (size_t i = 0; i < n / 4; i++) {
            const uint8_t *p = r + rl - n + 4 * i;
            uint32_t id = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];

            if (id >> 24 == 0x50)
                users++;
            f0000101 |= id == 0xF0000101;
        }
        seen += (unsigned)(n / 4);
        off += (unsigned)(n / 4);
        if (r[2] == 0x01)
            break;
        assert_int_equal(r[2], 0x02);
        assert_int_equal(n, 800);
    }
    assert_int_equal(users, 250);
    assert_int_equal(seen, 254);
    assert_true(f0000101);
    /* filtered by type: the factory EC keys */
    t.n = 0;
    t_u16(&t, 0x41, 0);
    t_u8(&t, 0x42, 0x01);
    assert_int_equal(cmd(h, 0x02, 0x00, 0x25, &t, true, r, &rl), 0x9000);
    assert_int_equal(rl, 13);
    assert_memory_equal(r, "\x41\x01\x01\x42\x08\xF0\x00\x00\x12\xF0\x00\x01\x00", 13);
    assert_int_equal(sim_end(h->s), SIM_OK);
}

static void test_memory_and_delete(void **state)
{
    struct host *h = *state;
    static uint8_t big[0x7FFF];
    unsigned m0, m1, m2;
    uint8_t r[16];
    size_t rl;

    m0 = free_memory(h);
    assert_int_equal(m0, 0x7FFF); /* 0x7FFF means "at least 32767" */
    assert_int_equal(write_binary(h, 0x60000001, 0x7FFF, 0, big, 0, NULL, 0), 0x9000);
    m1 = free_memory(h);
    assert_true(m1 < 0x7FFF);
    assert_int_equal(m1 % 16, 0);
    assert_int_equal(write_binary(h, 0x60000002, 1000, 0, big, 0, NULL, 0), 0x9000);
    m2 = free_memory(h);
    assert_true(m2 <= m1 - 1000);
    /* full: another large file does not fit */
    assert_int_equal(write_binary(h, 0x60000003, 0x7FFF, 0, big, 0, NULL, 0), 0x6A84);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x27, 0x60000003, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x02", 3);
    /* deleting gives the memory back */
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0x60000002, false, NULL, NULL), 0x9000);
    assert_int_equal(free_memory(h), m1);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0x60000002, false, NULL, NULL), 0x6A80);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0x60000001, false, NULL, NULL), 0x9000);
    assert_int_equal(free_memory(h), m0);
    assert_int_equal(write_binary(h, 0x60000003, 0x7FFF, 0, big, 0, NULL, 0), 0x9000);
}

static void test_factory_objects(void **state)
{
    struct host *h = *state;
    uint8_t r[900], uid[18], hash[32] = {1, 2, 3}, pub[65];
    size_t rl, vl;
    const uint8_t *v;
    struct tb t = {.n = 0};
    X509 *x;
    EVP_PKEY *pk;

    assert_int_equal(read_object(h, 0x7FFF0206, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, 18);
    memcpy(uid, v, 18);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0x7FFF0206, false, NULL, NULL), 0x6986);
    assert_int_equal(write_binary(h, 0x7FFF0206, 0, 0, uid, 18, NULL, 0), 0x6986);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0xF0000100, false, NULL, NULL), 0x6986);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0xF0000101, false, NULL, NULL), 0x6986);
    t_u32(&t, 0x41, 0xF0000100);
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x6986);
    /* the device certificate holds the device key's public key */
    assert_int_equal(read_object(h, 0xF0000100, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(vl, 65);
    memcpy(pub, v, 65);
    pk = ec_pub("P-256", pub, 65);
    assert_int_equal(read_object(h, 0xF0000101, 0, 0, -1, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    x = d2i_X509(NULL, &v, (long)vl);
    assert_non_null(x);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), pk), 1);
    assert_int_equal(X509_verify(x, pk), 1);
    X509_free(x);
    /* factory keys sign without any curve created */
    t.n = 0;
    t_u32(&t, 0x41, 0xF0000100);
    t_u8(&t, 0x42, 0x21);
    t_tlv(&t, 0x43, hash, 32);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, false, r, &rl), 0x9000);
    v = tlv1(r, rl, &vl);
    assert_int_equal(verify_sig(pk, NULL, 0, hash, 32, v, vl), 1);
    EVP_PKEY_free(pk);
    /* another state file is another chip */
    {
        struct host h2 = *h;
        uint8_t uid2[18];

        snprintf(h2.path, sizeof h2.path, "%s/other.state", h->dir);
        open_handle(&h2);
        resync(&h2);
        select_applet(&h2);
        assert_int_equal(read_object(&h2, 0x7FFF0206, 0, 0, -1, r, &rl), 0x9000);
        v = tlv1(r, rl, &vl);
        memcpy(uid2, v, 18);
        assert_memory_not_equal(uid, uid2, 18);
        sim_close(h2.s);
        unlink(h2.path);
        snprintf(h2.path, sizeof h2.path, "%s/other.state.lock", h->dir);
        unlink(h2.path);
    }
}

static void test_status_words(void **state)
{
    struct host *h = *state;
    static const uint8_t read_only[] = {0x08, 0, 0, 0, 0, 0x00, 0x20, 0x00, 0x00};
    static const uint8_t no_read[] = {0x08, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x00};
    static const uint8_t bad_policy[] = {0x09, 0, 0, 0, 0, 0x00, 0x20, 0x00, 0x00};
    static const uint8_t zero32[32];
    uint8_t r[900], d[4] = {1, 2, 3, 4};
    size_t rl, vl;
    struct tb t = {.n = 0};

    /* unknown object */
    assert_int_equal(read_object(h, 0x70000001, 0, 0, -1, r, &rl), 0x6A80);
    assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0x70000001, false, r, &rl), 0x6A80);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x27, 0x70000001, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x02", 3);
    /* policy: read only, so no delete and no write */
    assert_int_equal(write_binary(h, 0x70000001, 4, 0, d, 4, read_only, sizeof read_only),
                     0x9000);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x27, 0x70000001, false, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x01\x01", 3);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0x70000001, false, NULL, NULL), 0x6986);
    assert_int_equal(write_binary(h, 0x70000001, 0, 0, d, 4, NULL, 0), 0x6986);
    assert_int_equal(read_object(h, 0x70000001, 0, 0, -1, r, &rl), 0x9000);
    assert_int_equal(write_binary(h, 0x70000002, 4, 0, d, 4, no_read, sizeof no_read), 0x9000);
    assert_int_equal(read_object(h, 0x70000002, 0, 0, -1, r, &rl), 0x6986);
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x28, 0x70000002, false, NULL, NULL), 0x9000);
    assert_int_equal(write_binary(h, 0x70000003, 4, 0, d, 4, bad_policy, sizeof bad_policy),
                     0x6984);
    /* the applet's own id range, and id 0 */
    assert_int_equal(write_binary(h, 0x7FFF0001, 4, 0, d, 4, NULL, 0), 0x6985);
    assert_int_equal(write_binary(h, 0x00000000, 4, 0, d, 4, NULL, 0), 0x6A80);
    assert_int_equal(write_binary(h, 0x80000000, 4, 0, d, 4, NULL, 0), 0x9000);
    /* object exists with another type */
    t_u32(&t, 0x41, 0x70000001);
    t_u8(&t, 0x42, 0x03);
    assert_int_equal(cmd(h, 0x01, 0x61, 0x00, &t, false, NULL, NULL), 0x6985);
    /* wrong type for the operation */
    t.n = 0;
    t_u32(&t, 0x41, 0x70000001);
    t_u8(&t, 0x42, 0x21);
    t_tlv(&t, 0x43, zero32, 32);
    assert_int_equal(cmd(h, 0x03, 0x0C, 0x09, &t, false, r, &rl), 0x6985);
    /* bad TLV: a length past the end */
    {
        uint8_t a[] = {0x80, 0x02, 0x00, 0x26, 0x06, 0x41, 0x05, 0x70, 0x00, 0x00, 0x01};

        assert_int_equal(transceive(h, a, sizeof a, r, &rl), 0x6A80);
    }
    /* an id of the wrong size */
    {
        uint8_t a[] = {0x80, 0x02, 0x00, 0x26, 0x05, 0x41, 0x03, 0x70, 0x00, 0x00};

        assert_int_equal(transceive(h, a, sizeof a, r, &rl), 0x6A80);
    }
    /* wrong length: Lc says more than there is, or too much after it */
    {
        uint8_t a[] = {0x80, 0x02, 0x00, 0x26, 0x08, 0x41, 0x04, 0x70, 0x00, 0x00, 0x01};
        uint8_t b[] = {0x80, 0x02, 0x00, 0x26, 0x06, 0x41, 0x04, 0x70, 0x00, 0x00, 0x01, 0, 0};

        assert_int_equal(transceive(h, a, sizeof a, r, &rl), 0x6700);
        assert_int_equal(transceive(h, b, sizeof b, r, &rl), 0x6700);
        assert_int_equal(transceive(h, b, 3, r, &rl), 0x6700);
    }
    /* short Le and extended forms are all accepted */
    {
        uint8_t a[] = {0x80, 0x02, 0x00, 0x26, 0x06, 0x41, 0x04, 0x70, 0x00, 0x00, 0x01, 0x00};

        assert_int_equal(transceive(h, a, sizeof a, r, &rl), 0x9000);
        assert_int_equal(cmd_id(h, 0x02, 0x00, 0x26, 0x70000001, true, r, &rl), 0x9000);
    }
    /* more than the applet's 892-byte payload */
    {
        static uint8_t a[900] = {0x80, 0x01, 0x06, 0x00, 0x00, 0x03, 0x7D};

        assert_int_equal(transceive(h, a, 7 + 893, r, &rl), 0x6700);
    }
    /* a command the emulator does not model: CreateSession */
    assert_int_equal(cmd_id(h, 0x04, 0x00, 0x1B, 0x7FFF0205, false, r, &rl), 0x6D00);
    /* transient objects */
    assert_int_equal(write_binary(h, 0x70000004, 4, 0, d, 4, NULL, 0), 0x9000);
    {
        struct tb b = {.n = 0};

        t_u32(&b, 0x41, 0x70000005);
        t_u16(&b, 0x43, 4);
        assert_int_equal(cmd(h, 0x81, 0x06, 0x00, &b, false, NULL, NULL), 0x6D00);
    }
    /* secure messaging and unknown classes */
    {
        uint8_t a[] = {0x84, 0x04, 0x00, 0x20, 0x00};
        uint8_t b[] = {0x00, 0x04, 0x00, 0x20, 0x00};

        assert_int_equal(transceive(h, a, sizeof a, r, &rl), 0x6E00);
        assert_int_equal(transceive(h, b, sizeof b, r, &rl), 0x6E00);
    }
    /* another AID */
    {
        uint8_t a[] = {0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x00, 0x01, 0x00};

        assert_int_equal(transceive(h, a, sizeof a, r, &rl), 0x6A82);
    }
    /* random: the requested size, fresh each time */
    {
        uint8_t first[16];

        t.n = 0;
        t_u16(&t, 0x41, 16);
        assert_int_equal(cmd(h, 0x04, 0x00, 0x49, &t, true, r, &rl), 0x9000);
        assert_int_equal(rl, 18);
        assert_memory_equal(r, "\x41\x10", 2);
        memcpy(first, r + 2, 16);
        assert_int_equal(cmd(h, 0x04, 0x00, 0x49, &t, true, r, &rl), 0x9000);
        assert_memory_not_equal(first, r + 2, 16);
        t.n = 0;
        t_u16(&t, 0x41, 889);
        assert_int_equal(cmd(h, 0x04, 0x00, 0x49, &t, true, r, &rl), 0x6700);
        t.n = 0;
        t_u16(&t, 0x41, 888);
        assert_int_equal(cmd(h, 0x04, 0x00, 0x49, &t, true, r, &rl), 0x9000);
        (void)tlv1(r, rl, &vl);
        assert_int_equal(vl, 888);
    }
    /* GetVersion */
    assert_int_equal(cmd(h, 0x04, 0x00, 0x20, NULL, false, r, &rl), 0x9000);
    assert_int_equal(rl, 9);
    assert_memory_equal(r, "\x41\x07\x03\x01\x00\x6F\xFF\x01\x0B", 9);
}

static void test_before_select(void **state)
{
    struct host *h = *state;
    uint8_t r[16];
    size_t rl;

    resync(h);
    assert_int_equal(cmd(h, 0x04, 0x00, 0x20, NULL, false, r, &rl), 0x6D00);
    select_applet(h);
    assert_int_equal(cmd(h, 0x04, 0x00, 0x20, NULL, false, r, &rl), 0x9000);
}

/* ---- state ------------------------------------------------------------- */

static void test_state_persists(void **state)
{
    struct host *h = *state;
    uint8_t d[3] = {7, 8, 9}, r[16];
    size_t rl;

    assert_int_equal(write_binary(h, 0x11111111, 3, 0, d, 3, NULL, 0), 0x9000);
    sim_close(h->s);
    open_handle(h);
    /* same link state, same selection, same objects */
    assert_int_equal(read_object(h, 0x11111111, 0, 0, -1, r, &rl), 0x9000);
    assert_memory_equal(r, "\x41\x03\x07\x08\x09", 5);
}

static void test_state_parser(void **state)
{
    struct host *h = *state;
    const struct sim_chip *chip = &sim_chip_se050;
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    char err[256];
    void *c;

    (void)h;
    c = chip->create("default", err, sizeof err);
    assert_non_null(c);
    assert_null(chip->create("tls", err, sizeof err));
    assert_non_null(strstr(err, "profile"));
    assert_int_equal(chip->save(c, &buf, &len), 0);
    chip->destroy(c);
    c = chip->load(buf, len, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(chip->save(c, &buf2, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(buf, buf2, len);
    chip->destroy(c);
    free(buf2);
    /* every truncation is refused with a message */
    for (size_t n = 0; n < len; n++) {
        err[0] = 0;
        assert_null(chip->load(buf, n, err, sizeof err));
        assert_true(err[0] != 0);
    }
    /* trailing bytes, a foreign magic, another version */
    buf2 = malloc(len + 1);
    memcpy(buf2, buf, len);
    buf2[len] = 0;
    assert_null(chip->load(buf2, len + 1, err, sizeof err));
    buf2[0] ^= 1;
    assert_null(chip->load(buf2, len, err, sizeof err));
    buf2[0] ^= 1;
    buf2[9] = 2;
    assert_null(chip->load(buf2, len, err, sizeof err));
    assert_non_null(strstr(err, "version"));
    buf2[9] = 1;
    /* N(S) outside {0, 1} */
    buf2[10 + 1 + 34] = 2;
    assert_null(chip->load(buf2, len, err, sizeof err));
    free(buf2);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_captured_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_crc_and_nack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_shared_across_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_chaining, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_response_chaining_and_ifs, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_faults_busy_and_power_loss, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_before_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ec_generate_sign_verify, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_ec_import_and_ecdh, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_generate_sign, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_import_crt, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_binary_chunks, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_id_list_paging, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_memory_and_delete, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_factory_objects, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_status_words, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_state_persists, setup_selected, teardown),
        cmocka_unit_test_setup_teardown(test_state_parser, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
