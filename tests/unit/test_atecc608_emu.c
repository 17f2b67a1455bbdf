/* The ATECC608B emulator, driven only through hal/sim/sim.h with raw bytes as
 * a host puts them on the bus. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "hal/atecc608/atecc_crc.h"
#include "hal/sim/sim.h"

#define ADDR 0x60

struct fx {
    char dir[64];
    char path[128];
    struct sim *s;
};

static int setup_profile(void **state, const char *profile)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];

    assert_non_null(f);
    strcpy(f->dir, "/tmp/seccki-test-atecc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/chip.state", f->dir);
    assert_int_equal(sim_open(f->path, "atecc608", profile, &f->s, err, sizeof err), SIM_OK);
    *state = f;
    return 0;
}

static int setup_tls(void **state)
{
    return setup_profile(state, NULL);
}

static int setup_blank(void **state)
{
    return setup_profile(state, "blank");
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d;
    struct dirent *e;
    char p[512];

    sim_close(f->s);
    d = opendir(f->dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- bus helpers ---- */

static void wake(struct sim *s)
{
    uint8_t b = 0x01, r[4];

    sim_write(s, 0x00, &b, 1);
    assert_int_equal(sim_read(s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
}

static void word(struct sim *s, uint8_t w)
{
    assert_int_equal(sim_write(s, ADDR, &w, 1), SIM_OK);
}

/* Sends one command the cryptoauthlib way (poll with 0x00, read the count,
 * then the rest) and returns the response group length; resp >= 128 bytes. */
static size_t xfer(struct sim *s, uint8_t op, uint8_t p1, uint16_t p2, const uint8_t *data,
                   size_t dlen, uint8_t *resp)
{
    uint8_t pkt[200];
    size_t n = 7 + dlen;
    int tries = 0;

    pkt[0] = 0x03;
    pkt[1] = (uint8_t)n;
    pkt[2] = op;
    pkt[3] = p1;
    pkt[4] = (uint8_t)p2;
    pkt[5] = (uint8_t)(p2 >> 8);
    if (dlen > 0)
        memcpy(pkt + 6, data, dlen);
    atecc_crc16_put(pkt + 1, n - 2, pkt + 1 + n - 2);
    assert_int_equal(sim_write(s, ADDR, pkt, n + 1), SIM_OK);
    uint8_t z = 0x00;
    while (sim_write(s, ADDR, &z, 1) == SIM_NACK)
        assert_true(++tries < 20);
    assert_int_equal(sim_read(s, ADDR, resp, 1), SIM_OK);
    assert_true(resp[0] >= 4 && resp[0] <= 128);
    assert_int_equal(sim_read(s, ADDR, resp + 1, resp[0] - 1u), SIM_OK);
    assert_true(atecc_crc16_ok(resp, resp[0]));
    return resp[0];
}

/* A command expected to answer with a 4-byte status group. */
static uint8_t st(struct sim *s, uint8_t op, uint8_t p1, uint16_t p2, const uint8_t *data,
                  size_t dlen)
{
    uint8_t r[128];

    assert_int_equal(xfer(s, op, p1, p2, data, dlen, r), 4);
    return r[1];
}

/* A command expected to answer with n data bytes, copied to out. */
static void data_cmd(struct sim *s, uint8_t op, uint8_t p1, uint16_t p2, const uint8_t *data,
                     size_t dlen, uint8_t *out, size_t n)
{
    uint8_t r[128];
    size_t len = xfer(s, op, p1, p2, data, dlen, r);

    if (len != n + 3)
        fail_msg("opcode 0x%02x: %zu-byte group (status 0x%02x), wanted %zu data bytes", op,
                 len, r[1], n);
    memcpy(out, r + 1, n);
}

static void read_config(struct sim *s, uint8_t cfg[128])
{
    for (unsigned b = 0; b < 4; b++)
        data_cmd(s, 0x02, 0x80, (uint16_t)(b << 3), NULL, 0, cfg + 32 * b, 32);
}

static void info_state(struct sim *s, uint8_t out[4])
{
    data_cmd(s, 0x30, 0x02, 0, NULL, 0, out, 4);
}

static void sha256(const uint8_t *d, size_t n, uint8_t out[32])
{
    unsigned int len = 32;

    assert_int_equal(EVP_Digest(d, n, out, &len, EVP_sha256(), NULL), 1);
}

/* ---- OpenSSL helpers ---- */

static EVP_PKEY *pub_to_pkey(const uint8_t xy[64])
{
    uint8_t pt[65] = {0x04};
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *p;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pk = NULL;

    memcpy(pt + 1, xy, 64);
    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt);
    p = OSSL_PARAM_BLD_to_param(b);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, p), 1);
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static void pkey_xy(EVP_PKEY *pk, uint8_t xy[64])
{
    uint8_t pt[65];
    size_t n;

    assert_int_equal(
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n), 1);
    assert_int_equal(n, 65);
    memcpy(xy, pt + 1, 64);
}

static void pkey_scalar(EVP_PKEY *pk, uint8_t d[32])
{
    BIGNUM *bn = NULL;

    assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 1);
    assert_int_equal(BN_bn2binpad(bn, d, 32), 32);
    BN_free(bn);
}

/* Verifies a raw R||S signature over a 32-byte digest (no hashing). */
static int verify_rs(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    EVP_PKEY *pk = pub_to_pkey(pub);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    ECDSA_SIG *es = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int rc;

    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    int dl = i2d_ECDSA_SIG(es, &der);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    rc = EVP_PKEY_verify(ctx, der, (size_t)dl, digest, 32);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rc == 1;
}

static void sign_rs(EVP_PKEY *pk, const uint8_t digest[32], uint8_t sig[64])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    uint8_t der[80];
    size_t dl = sizeof der;

    assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
    assert_int_equal(EVP_PKEY_sign(ctx, der, &dl, digest, 32), 1);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    assert_non_null(es);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
}

static void derive(EVP_PKEY *mine, const uint8_t peer_xy[64], uint8_t out[32])
{
    EVP_PKEY *peer = pub_to_pkey(peer_xy);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    size_t n = 32;

    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, peer), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, out, &n), 1);
    assert_int_equal(n, 32);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
}

static void sn_short(struct sim *s, uint8_t out[3])
{
    uint8_t cfg[32];

    data_cmd(s, 0x02, 0x80, 0, NULL, 0, cfg, 32);
    out[0] = cfg[12];
    out[1] = cfg[0];
    out[2] = cfg[1];
}

/* Nonce(random) then GenDig(data zone, slot): returns the TempKey the chip
 * now holds, computed on the host as cryptoauthlib does. */
static void host_gendig(struct sim *s, unsigned slot, const uint8_t key[32], uint8_t tk[32])
{
    uint8_t numin[20], rnd[32], msg[96] = {0}, sn[3];

    for (int i = 0; i < 20; i++)
        numin[i] = (uint8_t)(0xA0 + i);
    data_cmd(s, 0x16, 0x00, 0, numin, 20, rnd, 32);
    uint8_t m55[55];
    memcpy(m55, rnd, 32);
    memcpy(m55 + 32, numin, 20);
    m55[52] = 0x16;
    m55[53] = 0x00;
    m55[54] = 0x00;
    sha256(m55, sizeof m55, tk);
    assert_int_equal(st(s, 0x15, 0x02, (uint16_t)slot, NULL, 0), 0x00);
    sn_short(s, sn);
    memcpy(msg, key, 32);
    msg[32] = 0x15;
    msg[33] = 0x02;
    msg[34] = (uint8_t)slot;
    msg[35] = 0;
    memcpy(msg + 36, sn, 3);
    memcpy(msg + 64, tk, 32);
    sha256(msg, sizeof msg, tk);
}

/* ---- wire-level behaviour ---- */

static void test_info_exchange_bytes(void **state)
{
    struct fx *f = *state;
    const uint8_t cmd[] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    uint8_t b = 0x01, r[8];

    assert_int_equal(sim_write(f->s, 0x00, &b, 1), SIM_NACK); /* wake: not acknowledged */
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
    assert_int_equal(sim_write(f->s, ADDR, cmd, sizeof cmd), SIM_OK);
    word(f->s, 0x00);
    assert_int_equal(sim_read(f->s, ADDR, r, 1), SIM_OK);
    assert_int_equal(r[0], 0x07);
    assert_int_equal(sim_read(f->s, ADDR, r, 6), SIM_OK);
    assert_memory_equal(r, "\x00\x00\x60\x03\x83\xBB", 6);
    word(f->s, 0x02);
    assert_int_equal(sim_read(f->s, ADDR, r, 1), SIM_NACK);
}

static void test_asleep_idle_awake(void **state)
{
    struct fx *f = *state;
    uint8_t r[8], b = 0x01;

    /* a new chip is asleep: everything addressed to it is NACKed */
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK);
    assert_int_equal(sim_write(f->s, ADDR, &b, 1), SIM_NACK);
    wake(f->s);
    assert_int_equal(sim_read(f->s, ADDR + 1, r, 4), SIM_NACK); /* other address */
    /* a wake pulse while awake is ignored: the Info response stays queued */
    data_cmd(f->s, 0x30, 0x00, 0, NULL, 0, r, 4);
    sim_write(f->s, 0x00, &b, 1);
    word(f->s, 0x00);
    assert_int_equal(sim_read(f->s, ADDR, r, 7), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB", 7);
    word(f->s, 0x02); /* idle */
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK);
    assert_int_equal(sim_write(f->s, ADDR, &b, 1), SIM_NACK);
    wake(f->s);
    word(f->s, 0x01); /* sleep */
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK);
    wake(f->s);
    /* reserved word addresses are not acknowledged */
    b = 0x04;
    assert_int_equal(sim_write(f->s, ADDR, &b, 1), SIM_NACK);
    b = 0xFF;
    assert_int_equal(sim_write(f->s, ADDR, &b, 1), SIM_NACK);
}

static void test_idle_keeps_tempkey_sleep_loses_it(void **state)
{
    struct fx *f = *state;
    uint8_t msg[32] = {1, 2, 3}, s4[4];

    wake(f->s);
    info_state(f->s, s4);
    assert_memory_equal(s4, "\x00\x00\x00\x00", 4);
    assert_int_equal(st(f->s, 0x16, 0x03, 0, msg, 32), 0x00);
    info_state(f->s, s4);
    /* Byte[0] SourceFlag (fixed), Byte[1] TempKey.Valid */
    assert_memory_equal(s4, "\x10\x80\x00\x00", 4);
    word(f->s, 0x02);
    wake(f->s);
    info_state(f->s, s4);
    assert_memory_equal(s4, "\x10\x80\x00\x00", 4);
    word(f->s, 0x01);
    wake(f->s);
    info_state(f->s, s4);
    assert_memory_equal(s4, "\x00\x00\x00\x00", 4);
}

static void test_read_pointer(void **state)
{
    struct fx *f = *state;
    const uint8_t cmd[] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    const uint8_t st_cmd[] = {0x03, 0x07, 0x30, 0x02, 0x00, 0x00, 0x00, 0xD8};
    uint8_t r[16];

    wake(f->s);
    assert_int_equal(sim_write(f->s, ADDR, cmd, sizeof cmd), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 1), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r + 1, 2), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r + 3, 4), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB", 7);
    /* past the group: 0xFF */
    assert_int_equal(sim_read(f->s, ADDR, r, 3), SIM_OK);
    assert_memory_equal(r, "\xFF\xFF\xFF", 3);
    /* 0x00 re-arms the same group */
    word(f->s, 0x00);
    assert_int_equal(sim_read(f->s, ADDR, r, 9), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB\xFF\xFF", 9);
    /* a new command replaces it */
    assert_int_equal(sim_write(f->s, ADDR, st_cmd, sizeof st_cmd), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 7), SIM_OK);
    assert_int_equal(r[0], 0x07);
    assert_true(atecc_crc16_ok(r, 7));
    assert_memory_equal(r + 1, "\x00\x00\x00\x00", 4);
}

static void test_partial_command(void **state)
{
    struct fx *f = *state;
    const uint8_t a[] = {0x03, 0x07, 0x30, 0x00};
    const uint8_t b[] = {0x03, 0x00, 0x00, 0x03, 0x5D};
    uint8_t r[7];

    wake(f->s);
    assert_int_equal(sim_write(f->s, ADDR, a, sizeof a), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 1), SIM_NACK); /* no data available */
    assert_int_equal(sim_write(f->s, ADDR, b, sizeof b), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 7), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB", 7);
}

static void test_status_codes(void **state)
{
    struct fx *f = *state;
    uint8_t bad[] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5E};
    uint8_t r[4];

    wake(f->s);
    /* CRC error first, even for an unknown opcode */
    assert_int_equal(sim_write(f->s, ADDR, bad, sizeof bad), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\xFF\x01\x42", 4);
    bad[2] = 0x99;
    assert_int_equal(sim_write(f->s, ADDR, bad, sizeof bad), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\xFF\x01\x42", 4);
    /* opcodes not on the 608 */
    assert_int_equal(st(f->s, 0x01, 0, 0, NULL, 0), 0x03); /* Pause */
    assert_int_equal(st(f->s, 0x11, 0, 0, NULL, 0), 0x03); /* HMAC */
    assert_int_equal(st(f->s, 0x99, 0, 0, NULL, 0), 0x03);
    /* 608 commands not emulated */
    uint8_t ch[32] = {0};
    assert_int_equal(st(f->s, 0x08, 0, 0, ch, 32), 0x0F); /* MAC */
    assert_int_equal(st(f->s, 0x51, 0, 0, ch, 16), 0x0F); /* AES */
    /* exact execution-error frame */
    assert_int_equal(xfer(f->s, 0x1C, 0, 0, NULL, 0, r), 4);
    assert_memory_equal(r, "\x04\x0F\x23\x42", 4);
    /* success frame: SelfTest all */
    const uint8_t stc[] = {0x03, 0x07, 0x77, 0x3B, 0x00, 0x00, 0x9D, 0xFB};
    assert_int_equal(sim_write(f->s, ADDR, stc, sizeof stc), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x00\x03\x40", 4);
    assert_int_equal(st(f->s, 0x77, 0x04, 0, NULL, 0), 0x03); /* not a test bit */
    assert_int_equal(st(f->s, 0x77, 0x3B, 1, NULL, 0), 0x03);
    /* Info modes */
    uint8_t kv[4];
    data_cmd(f->s, 0x30, 0x01, 0, NULL, 0, kv, 4);
    assert_memory_equal(kv, "\x01\x00\x00\x00", 4);
    data_cmd(f->s, 0x30, 0x01, 8, NULL, 0, kv, 4);
    assert_memory_equal(kv, "\x00\x00\x00\x00", 4);
    data_cmd(f->s, 0x30, 0x04, 0, NULL, 0, kv, 4);
    assert_memory_equal(kv, "\x00\x00\x00\x00", 4);
    assert_int_equal(st(f->s, 0x30, 0x05, 0, NULL, 0), 0x03);
    assert_int_equal(st(f->s, 0x30, 0x01, 16, NULL, 0), 0x03);
    assert_int_equal(st(f->s, 0x30, 0x00, 0, ch, 4), 0x03); /* length */
    /* a count shorter than a command */
    const uint8_t tiny[] = {0x03, 0x04, 0x30, 0x00, 0x00};
    uint8_t t4[4];
    atecc_crc16_put(tiny + 1, 2, t4);
    uint8_t tinyc[] = {0x03, 0x04, 0x30, t4[0], t4[1]};
    assert_int_equal(sim_write(f->s, ADDR, tinyc, sizeof tinyc), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_int_equal(r[1], 0x03);
    (void)tiny;
}

static void test_read_rules(void **state)
{
    struct fx *f = *state;
    uint8_t cfg[128], r[32];

    wake(f->s);
    read_config(f->s, cfg);
    assert_int_equal(cfg[0], 0x01);
    assert_int_equal(cfg[1], 0x23);
    assert_int_equal(cfg[12], 0x01);
    assert_int_equal(cfg[16], 0xC0);
    assert_int_equal(cfg[86], 0x00);
    assert_int_equal(cfg[87], 0x00);
    assert_int_equal(cfg[20], 0x85); /* slot 0: 0x2085 */
    assert_int_equal(cfg[21], 0x20);
    assert_int_equal(cfg[96], 0x33); /* KeyConfig 0x0033 */
    assert_int_equal(cfg[90], 0x0E); /* ChipOptions 0x600E */
    assert_int_equal(cfg[91], 0x60);
    assert_memory_equal(cfg + 52, "\xFF\xFF\xFF\xFF\x00\x00\x00\x00", 8);
    /* 4-byte read of word 0x15 = bytes 84..87 (spec frame 07 02 00 15 00 17 5D) */
    data_cmd(f->s, 0x02, 0x00, 0x15, NULL, 0, r, 4);
    assert_memory_equal(r, cfg + 84, 4);
    /* addressing errors */
    assert_int_equal(st(f->s, 0x02, 0x80, 0x01, NULL, 0), 0x03); /* 32 B with word offset */
    assert_int_equal(st(f->s, 0x02, 0x04, 0x00, NULL, 0), 0x03); /* mode bits */
    assert_int_equal(st(f->s, 0x02, 0x03, 0x00, NULL, 0), 0x03); /* zone 3 */
    assert_int_equal(st(f->s, 0x02, 0x00, 0x20, NULL, 0), 0x03); /* config word 32 */
    assert_int_equal(st(f->s, 0x02, 0x82, 0x0200, NULL, 0), 0x03); /* slot 0 block 2 */
    assert_int_equal(st(f->s, 0x02, 0x02, 0x024A, NULL, 0), 0x03); /* slot 9 blk 2 word 2 */
    assert_int_equal(st(f->s, 0x02, 0x82, 0x0D40, NULL, 0), 0x03); /* slot 8 block 13 */
    /* policy: private and secret slots never in clear */
    assert_int_equal(st(f->s, 0x02, 0x82, 0x0000, NULL, 0), 0x0F);
    assert_int_equal(st(f->s, 0x02, 0x82, 6 << 3, NULL, 0), 0x0F);
    /* slot 10's last, partial block: 8 bytes and zeros */
    uint8_t blk[32];
    for (int i = 0; i < 32; i++)
        blk[i] = (uint8_t)(0x40 + i);
    data_cmd(f->s, 0x02, 0x82, 0x0C40, NULL, 0, r, 32); /* slot 8 block 12 (416 B: 0..12) */
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0240 | 0, blk, 32), 0x00); /* slot 8 block 2 */
    data_cmd(f->s, 0x02, 0x82, 0x0240, NULL, 0, r, 32);
    assert_memory_equal(r, blk, 32);
    data_cmd(f->s, 0x02, 0x02, 0x0241, NULL, 0, r, 4);
    assert_memory_equal(r, blk + 4, 4);
    data_cmd(f->s, 0x02, 0x82, 0x0250, NULL, 0, r, 32); /* slot 10 block 2 */
    for (int i = 8; i < 32; i++)
        assert_int_equal(r[i], 0);
    data_cmd(f->s, 0x02, 0x02, 0x0251, NULL, 0, r, 4); /* word 1 of the partial block */
    /* OTP is readable once data is locked */
    data_cmd(f->s, 0x02, 0x81, 0x0000, NULL, 0, r, 32);
    data_cmd(f->s, 0x02, 0x81, 0x0008, NULL, 0, r, 32);
    assert_int_equal(st(f->s, 0x02, 0x81, 0x0010, NULL, 0), 0x03);
}

static void test_write_rules(void **state)
{
    struct fx *f = *state;
    uint8_t d32[32] = {0}, r[32], four[4] = {1, 2, 3, 4};

    wake(f->s);
    /* config locked */
    assert_int_equal(st(f->s, 0x12, 0x00, 0x04, four, 4), 0x0F);
    /* slot 8 (0x0F0F, always) */
    assert_int_equal(st(f->s, 0x12, 0x02, 0x0041, four, 4), 0x00);
    data_cmd(f->s, 0x02, 0x02, 0x0041, NULL, 0, r, 4);
    assert_memory_equal(r, four, 4);
    /* slot 10 (0x8F0F, never) */
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0050, d32, 32), 0x0F);
    /* slot 0: private key, never written */
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0000, d32, 32), 0x0F);
    /* slot 6 (0x0F8F, secret + always): 32-byte writes only */
    assert_int_equal(st(f->s, 0x12, 0x02, 0x0030, four, 4), 0x0F);
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0030, d32, 32), 0x00);
    /* malformed */
    assert_int_equal(st(f->s, 0x12, 0x02, 0x0041, d32, 32), 0x03); /* length vs mode */
    assert_int_equal(st(f->s, 0x12, 0x42, 0x0041, four, 4), 0x03); /* MAC on 4 bytes */
    assert_int_equal(st(f->s, 0x12, 0x06, 0x0041, four, 4), 0x03); /* mode bits */
    /* slot 14 (0x1F0D PubInvalid, KeyConfig 0x0012 validated P-256 public key):
     * a written key starts out invalid */
    memset(d32, 0x11, sizeof d32);
    assert_int_equal(st(f->s, 0x12, 0x82, 14 << 3, d32, 32), 0x00);
    data_cmd(f->s, 0x02, 0x82, 14 << 3, NULL, 0, r, 32);
    assert_int_equal(r[0], 0xA1);
    assert_memory_equal(r + 1, d32 + 1, 31);
    /* encrypted write to slot 5 (0x468F: encrypt with WriteKey 6) */
    uint8_t iokey[32], tk[32], plain[32], pkt[64], msg[96] = {0}, sn[3];
    for (int i = 0; i < 32; i++) {
        iokey[i] = (uint8_t)(0x30 + i);
        plain[i] = (uint8_t)(0x90 ^ i);
    }
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0030, iokey, 32), 0x00);
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0028, plain, 32), 0x0F); /* clear refused */
    host_gendig(f->s, 6, iokey, tk);
    sn_short(f->s, sn);
    for (int i = 0; i < 32; i++)
        pkt[i] = plain[i] ^ tk[i];
    memcpy(msg, tk, 32);
    msg[32] = 0x12;
    msg[33] = 0xC2;
    msg[34] = 0x28;
    msg[35] = 0x00;
    memcpy(msg + 36, sn, 3);
    memcpy(msg + 64, plain, 32);
    sha256(msg, sizeof msg, pkt + 32);
    pkt[63] ^= 1;
    assert_int_equal(st(f->s, 0x12, 0xC2, 0x0028, pkt, 64), 0x0F); /* bad MAC */
    pkt[63] ^= 1;
    assert_int_equal(st(f->s, 0x12, 0xC2, 0x0028, pkt, 64), 0x00);
    /* the TempKey no longer matches after a different GenDig */
    assert_int_equal(st(f->s, 0x15, 0x02, 8, NULL, 0), 0x00);
    assert_int_equal(st(f->s, 0x12, 0xC2, 0x0028, pkt, 64), 0x0F);
}

static void test_lock_slot(void **state)
{
    struct fx *f = *state;
    uint8_t four[4] = {9, 9, 9, 9}, r[4];

    wake(f->s);
    assert_int_equal(st(f->s, 0x17, 0x02 | (8 << 2), 0, NULL, 0), 0x00);
    data_cmd(f->s, 0x02, 0x00, 0x16, NULL, 0, r, 4);
    assert_int_equal(r[0] | r[1] << 8, 0xFFFF & ~(1 << 8));
    assert_int_equal(st(f->s, 0x12, 0x02, 0x0040, four, 4), 0x0F);
    assert_int_equal(st(f->s, 0x17, 0x02 | (8 << 2), 0, NULL, 0), 0x0F); /* again */
    assert_int_equal(st(f->s, 0x17, 0x02 | (10 << 2), 0, NULL, 0), 0x0F); /* not lockable */
    assert_int_equal(st(f->s, 0x17, 0x80, 0, NULL, 0), 0x0F); /* config already locked */
    assert_int_equal(st(f->s, 0x17, 0x81, 0, NULL, 0), 0x0F); /* data already locked */
    assert_int_equal(st(f->s, 0x17, 0x40, 0, NULL, 0), 0x03);
    assert_int_equal(st(f->s, 0x17, 0x03, 0, NULL, 0), 0x03);
    assert_int_equal(st(f->s, 0x17, 0x04, 0, NULL, 0), 0x03); /* slot bits in zone mode */
    /* a private key slot that is lockable (KeyConfig 0x0033): GenKey refused */
    assert_int_equal(st(f->s, 0x17, 0x02 | (3 << 2), 0, NULL, 0), 0x00);
    assert_int_equal(st(f->s, 0x40, 0x04, 3, NULL, 0), 0x0F);
}

static void test_sign_external(void **state)
{
    struct fx *f = *state;
    uint8_t pub[64], sig[64], dig[32];

    wake(f->s);
    data_cmd(f->s, 0x40, 0x00, 0, NULL, 0, pub, 64);
    RAND_bytes(dig, 32);
    /* cryptoauthlib's 608 flow: Random, Nonce -> MDB, Sign 0xA0 */
    uint8_t rnd[32];
    data_cmd(f->s, 0x1B, 0x00, 0, NULL, 0, rnd, 32);
    assert_int_equal(st(f->s, 0x16, 0x43, 0, dig, 32), 0x00);
    data_cmd(f->s, 0x41, 0xA0, 0, NULL, 0, sig, 64);
    assert_true(verify_rs(pub, dig, sig));
    /* 508 flow: Nonce -> TempKey, Sign 0x80 */
    dig[0] ^= 0x55;
    assert_int_equal(st(f->s, 0x16, 0x03, 0, dig, 32), 0x00);
    data_cmd(f->s, 0x41, 0x80, 0, NULL, 0, sig, 64);
    assert_true(verify_rs(pub, dig, sig));
    /* a signature over the digest, not over its hash */
    uint8_t h[32];
    sha256(dig, 32, h);
    assert_false(verify_rs(pub, h, sig));
    /* Nonce -> MDB invalidates TempKey */
    assert_int_equal(st(f->s, 0x16, 0x43, 0, dig, 32), 0x00);
    assert_int_equal(st(f->s, 0x41, 0x80, 0, NULL, 0), 0x0F);
    /* rules */
    assert_int_equal(st(f->s, 0x41, 0xA0, 8, NULL, 0), 0x0F);  /* not a key */
    assert_int_equal(st(f->s, 0x41, 0xA0, 16, NULL, 0), 0x03); /* no such slot */
    assert_int_equal(st(f->s, 0x41, 0x82, 0, NULL, 0), 0x03);  /* mode mask */
    assert_int_equal(st(f->s, 0x41, 0x00, 0, NULL, 0), 0x0F);  /* internal: not emulated */
    word(f->s, 0x01);
    wake(f->s);
    assert_int_equal(st(f->s, 0x41, 0xA0, 0, NULL, 0), 0x0F); /* MDB lost in sleep */
    assert_int_equal(st(f->s, 0x41, 0x80, 0, NULL, 0), 0x0F);
}

static void test_nonce_random_tempkey(void **state)
{
    struct fx *f = *state;
    uint8_t pub[64], numin[20], rnd[32], m[55], tk[32], sig[64], s4[4];

    wake(f->s);
    data_cmd(f->s, 0x40, 0x00, 1, NULL, 0, pub, 64);
    RAND_bytes(numin, sizeof numin);
    data_cmd(f->s, 0x16, 0x01, 0, numin, 20, rnd, 32);
    info_state(f->s, s4);
    assert_memory_equal(s4, "\x00\x80\x00\x00", 4); /* valid, random source */
    memcpy(m, rnd, 32);
    memcpy(m + 32, numin, 20);
    m[52] = 0x16;
    m[53] = 0x01;
    m[54] = 0x00;
    sha256(m, sizeof m, tk);
    data_cmd(f->s, 0x41, 0x80, 1, NULL, 0, sig, 64);
    assert_true(verify_rs(pub, tk, sig));
    /* other Nonce forms */
    uint8_t d64[64] = {0};
    assert_int_equal(st(f->s, 0x16, 0x02, 0, numin, 20), 0x03);
    assert_int_equal(st(f->s, 0x16, 0x00, 0, numin, 19), 0x03);
    assert_int_equal(st(f->s, 0x16, 0x03, 0, d64, 64), 0x03);
    assert_int_equal(st(f->s, 0x16, 0x23, 0, d64, 64), 0x00);
    assert_int_equal(st(f->s, 0x16, 0x63, 0, d64, 64), 0x00);
    assert_int_equal(st(f->s, 0x16, 0x83, 0, d64, 32), 0x00);
    assert_int_equal(st(f->s, 0x16, 0xA3, 0, d64, 64), 0x03);
    assert_int_equal(st(f->s, 0x16, 0xC3, 0, d64, 32), 0x03);
    assert_int_equal(st(f->s, 0x16, 0x03, 1, d64, 32), 0x03);
    /* Nonce pass-through example frame from the spec */
    uint8_t frame[40], r[4];
    frame[0] = 0x03;
    memcpy(frame + 1, "\x27\x16\x43\x00\x00", 5);
    for (int i = 0; i < 32; i++)
        frame[6 + i] = (uint8_t)i;
    frame[38] = 0xD7;
    frame[39] = 0x6C;
    assert_int_equal(sim_write(f->s, ADDR, frame, sizeof frame), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x00\x03\x40", 4);
}

static void test_verify(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    uint8_t dig[32], buf[128], xy[64];

    RAND_bytes(dig, sizeof dig);
    pkey_xy(k, xy);
    sign_rs(k, dig, buf);
    memcpy(buf + 64, xy, 64);
    wake(f->s);
    assert_int_equal(st(f->s, 0x16, 0x43, 0, dig, 32), 0x00);
    assert_int_equal(st(f->s, 0x45, 0x22, 0x0004, buf, 128), 0x00);
    buf[10] ^= 1;
    assert_int_equal(st(f->s, 0x45, 0x22, 0x0004, buf, 128), 0x01);
    buf[10] ^= 1;
    assert_int_equal(st(f->s, 0x45, 0x22, 0x0000, buf, 128), 0x03); /* B-283 */
    assert_int_equal(st(f->s, 0x45, 0x22, 0x0004, buf, 64), 0x03);
    /* TempKey variant */
    assert_int_equal(st(f->s, 0x16, 0x03, 0, dig, 32), 0x00);
    assert_int_equal(st(f->s, 0x45, 0x02, 0x0004, buf, 128), 0x00);
    /* stored: key in slot 13 (KeyConfig 0x0030, no validation), 72-byte format */
    uint8_t b0[32] = {0}, b1[32] = {0}, b2[32] = {0};
    memcpy(b0 + 4, xy, 28);
    memcpy(b1, xy + 28, 4);
    memcpy(b1 + 8, xy + 32, 24);
    memcpy(b2, xy + 56, 8);
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0068, b0, 32), 0x00);
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0168, b1, 32), 0x00);
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0268, b2, 32), 0x00);
    assert_int_equal(st(f->s, 0x16, 0x43, 0, dig, 32), 0x00);
    assert_int_equal(st(f->s, 0x45, 0x20, 13, buf, 64), 0x00);
    buf[40] ^= 1;
    assert_int_equal(st(f->s, 0x45, 0x20, 13, buf, 64), 0x01);
    /* slot 14 requires a validated key; slot 0 holds a private key */
    assert_int_equal(st(f->s, 0x45, 0x20, 14, buf, 64), 0x0F);
    assert_int_equal(st(f->s, 0x45, 0x20, 0, buf, 64), 0x0F);
    assert_int_equal(st(f->s, 0x45, 0x23, 14, buf, 64), 0x0F); /* validate: not emulated */
    EVP_PKEY_free(k);
}

static void test_ecdh(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *peer = EVP_EC_gen("P-256");
    uint8_t pub[64], pxy[64], want[32], got[64];

    pkey_xy(peer, pxy);
    wake(f->s);
    data_cmd(f->s, 0x40, 0x00, 2, NULL, 0, pub, 64);
    derive(peer, pub, want);
    data_cmd(f->s, 0x43, 0x0C, 2, pxy, 64, got, 32);
    assert_memory_equal(got, want, 32);
    data_cmd(f->s, 0x43, 0x00, 2, pxy, 64, got, 32); /* compatible mode, clear */
    assert_memory_equal(got, want, 32);
    /* to TempKey */
    assert_int_equal(st(f->s, 0x43, 0x08, 2, pxy, 64), 0x00);
    uint8_t s4[4];
    info_state(f->s, s4);
    assert_int_equal(s4[1] & 0x80, 0x80);
    /* encrypted output with the IO protection key in slot 6 */
    uint8_t iokey[32], m[48], key[32];
    for (int i = 0; i < 32; i++)
        iokey[i] = (uint8_t)(0xC0 + i);
    assert_int_equal(st(f->s, 0x12, 0x82, 0x0030, iokey, 32), 0x00);
    data_cmd(f->s, 0x43, 0x0E, 2, pxy, 64, got, 64);
    memcpy(m, iokey, 32);
    memcpy(m + 32, got + 32, 16);
    sha256(m, sizeof m, key);
    for (int i = 0; i < 32; i++)
        got[i] ^= key[i];
    assert_memory_equal(got, want, 32);
    /* rules */
    assert_int_equal(st(f->s, 0x43, 0x0C, 8, pxy, 64), 0x0F);  /* not a key */
    assert_int_equal(st(f->s, 0x43, 0x1C, 2, pxy, 64), 0x03);  /* mode bits */
    assert_int_equal(st(f->s, 0x43, 0x0C, 2, pxy, 32), 0x03);  /* length */
    uint8_t off[64];
    memcpy(off, pxy, 64);
    off[63] ^= 1;
    assert_int_equal(st(f->s, 0x43, 0x0C, 2, off, 64), 0x0F); /* point not on curve */
    EVP_PKEY_free(peer);
}

static void test_genkey(void **state)
{
    struct fx *f = *state;
    uint8_t a[64], b[64], c[64];

    wake(f->s);
    data_cmd(f->s, 0x40, 0x00, 4, NULL, 0, a, 64);
    data_cmd(f->s, 0x40, 0x04, 4, NULL, 0, b, 64);
    assert_memory_not_equal(a, b, 64);
    data_cmd(f->s, 0x40, 0x00, 4, NULL, 0, c, 64);
    assert_memory_equal(b, c, 64);
    assert_int_equal(st(f->s, 0x40, 0x04, 8, NULL, 0), 0x0F);  /* not a private slot */
    assert_int_equal(st(f->s, 0x40, 0x04, 16, NULL, 0), 0x03);
    assert_int_equal(st(f->s, 0x40, 0x01, 0, NULL, 0), 0x03);
    assert_int_equal(st(f->s, 0x40, 0x08, 0, NULL, 0), 0x03); /* digest needs OtherData */
    /* key into TempKey, then ECDH from TempKey (0x0D: output in clear) */
    EVP_PKEY *peer = EVP_EC_gen("P-256");
    uint8_t pxy[64], want[32], got[32];
    pkey_xy(peer, pxy);
    data_cmd(f->s, 0x40, 0x04, 0xFFFF, NULL, 0, a, 64);
    derive(peer, a, want);
    data_cmd(f->s, 0x43, 0x0D, 0, pxy, 64, got, 32);
    assert_memory_equal(got, want, 32);
    EVP_PKEY_free(peer);
    /* 0x08: public key plus its digest into TempKey, checked through Sign */
    uint8_t seed[32], other[3] = {0x40, 0x00, 0x00}, sn[3], msg[128] = {0}, tk[32], sig[64];
    RAND_bytes(seed, 32);
    sn_short(f->s, sn);
    assert_int_equal(st(f->s, 0x16, 0x03, 0, seed, 32), 0x00);
    data_cmd(f->s, 0x40, 0x08, 1, other, 3, a, 64);
    memcpy(msg, seed, 32);
    msg[32] = 0x40;
    memcpy(msg + 33, other, 3);
    memcpy(msg + 36, sn, 3);
    memcpy(msg + 64, a, 64);
    sha256(msg, sizeof msg, tk);
    uint8_t s4[4];
    info_state(f->s, s4);
    assert_int_equal(s4[0], 0x40 | 0x10 | 1); /* GenKeyData, fixed source, KeyID 1 */
    data_cmd(f->s, 0x41, 0x80, 1, NULL, 0, sig, 64);
    assert_true(verify_rs(a, tk, sig));
}

static void test_counter(void **state)
{
    struct fx *f = *state;
    uint8_t r[8], v[4];

    wake(f->s);
    data_cmd(f->s, 0x24, 0x00, 0, NULL, 0, v, 4);
    assert_memory_equal(v, "\x00\x00\x00\x00", 4);
    for (int i = 0; i < 4; i++)
        data_cmd(f->s, 0x24, 0x01, 0, NULL, 0, v, 4);
    assert_int_equal(xfer(f->s, 0x24, 0x01, 0, NULL, 0, r), 7);
    assert_memory_equal(r, "\x07\x05\x00\x00\x00\x30\xAD", 7);
    data_cmd(f->s, 0x24, 0x00, 1, NULL, 0, v, 4);
    assert_memory_equal(v, "\x00\x00\x00\x00", 4);
    uint8_t cfg[128];
    read_config(f->s, cfg);
    /* value 5: linA = FFFF >> 5, linB = FFFF, binA = binB = 0 */
    assert_memory_equal(cfg + 52, "\x07\xFF\xFF\xFF\x00\x00\x00\x00", 8);
    assert_memory_equal(cfg + 60, "\xFF\xFF\xFF\xFF\x00\x00\x00\x00", 8);
    assert_int_equal(st(f->s, 0x24, 0x02, 0, NULL, 0), 0x03);
    assert_int_equal(st(f->s, 0x24, 0x00, 2, NULL, 0), 0x03);
}

static void test_sha(void **state)
{
    struct fx *f = *state;
    uint8_t m[74], want[32], got[32];

    for (int i = 0; i < 74; i++)
        m[i] = (uint8_t)(i * 7);
    sha256(m, sizeof m, want);
    wake(f->s);
    assert_int_equal(st(f->s, 0x47, 0x02, 0, NULL, 0), 0x0F); /* End without Start */
    assert_int_equal(st(f->s, 0x47, 0x00, 0, NULL, 0), 0x00);
    assert_int_equal(st(f->s, 0x47, 0x01, 32, m, 32), 0x03);
    assert_int_equal(st(f->s, 0x47, 0x01, 64, m, 64), 0x00);
    data_cmd(f->s, 0x47, 0xC2, 10, m + 64, 10, got, 32);
    assert_memory_equal(got, want, 32);
    /* digest into MDB, then signed as an external digest */
    uint8_t pub[64], sig[64];
    sha256(m, 5, want);
    assert_int_equal(st(f->s, 0x47, 0x00, 0, NULL, 0), 0x00);
    data_cmd(f->s, 0x47, 0x42, 5, m, 5, got, 32);
    assert_memory_equal(got, want, 32);
    data_cmd(f->s, 0x40, 0x00, 0, NULL, 0, pub, 64);
    data_cmd(f->s, 0x41, 0xA0, 0, NULL, 0, sig, 64);
    assert_true(verify_rs(pub, want, sig));
}

static void test_updateextra_address(void **state)
{
    struct fx *f = *state;
    uint8_t r[4], b = 0x01;

    wake(f->s);
    assert_int_equal(st(f->s, 0x20, 0x00, 0x42, NULL, 0), 0x00);
    assert_int_equal(st(f->s, 0x20, 0x00, 0x43, NULL, 0), 0x0F); /* write-once */
    assert_int_equal(st(f->s, 0x20, 0x03, 0x00, NULL, 0), 0x03);
    /* spec frame UpdateExtra(mode 1, 0x6A): ChipMode bit 0 is set in this profile */
    const uint8_t ue[] = {0x03, 0x07, 0x20, 0x01, 0x6A, 0x00, 0x06, 0x83};
    assert_int_equal(sim_write(f->s, ADDR, ue, sizeof ue), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x00\x03\x40", 4);
    data_cmd(f->s, 0x02, 0x00, 0x15, NULL, 0, r, 4);
    assert_memory_equal(r, "\x42\x6A\x00\x00", 4);
    /* still at 0x60 until it sleeps */
    word(f->s, 0x02);
    sim_write(f->s, 0x00, &b, 1);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    word(f->s, 0x01);
    sim_write(f->s, 0x00, &b, 1);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK);
    assert_int_equal(sim_read(f->s, 0x35, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
}

/* The blank part: RNG pattern, config writes, config lock with CRC, GenKey,
 * PrivWrite in clear, data lock with CRC, then the locked rules. */
static void test_blank_provisioning(void **state)
{
    struct fx *f = *state;
    uint8_t r[64], cfg[128];

    wake(f->s);
    data_cmd(f->s, 0x1B, 0x00, 0, NULL, 0, r, 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(r[i], (i % 4) < 2 ? 0xFF : 0x00);
    assert_int_equal(st(f->s, 0x1B, 0x01, 0, NULL, 0), 0x03);
    read_config(f->s, cfg);
    assert_int_equal(cfg[16], 0xC0);
    assert_int_equal(cfg[86], 0x55);
    assert_int_equal(cfg[87], 0x55);
    /* data zone unreadable, GenKey refused before the config lock */
    assert_int_equal(st(f->s, 0x02, 0x82, 8 << 3, NULL, 0), 0x0F);
    assert_int_equal(st(f->s, 0x40, 0x04, 0, NULL, 0), 0x0F);
    assert_int_equal(st(f->s, 0x12, 0x82, 8 << 3, r, 32), 0x0F); /* data write */
    /* spec frame: Write config word 4 (bytes 16..19 = C0 00 00 00) */
    const uint8_t w4[] = {0x03, 0x0B, 0x12, 0x00, 0x04, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x86, 0x73};
    assert_int_equal(sim_write(f->s, ADDR, w4, sizeof w4), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x00\x03\x40", 4);
    /* SN/RevNum and bytes 84..87 are not writable */
    assert_int_equal(st(f->s, 0x12, 0x00, 0x01, r, 4), 0x0F);
    assert_int_equal(st(f->s, 0x12, 0x00, 0x15, r, 4), 0x0F);
    assert_int_equal(st(f->s, 0x12, 0x80, 0x00, cfg, 32), 0x0F);
    /* slots 0..1: ext sign + ECDH keys; slot 1 PrivWrite-updatable with write key 3 */
    uint8_t blk1[32];
    memcpy(blk1, cfg + 32, 32);
    data_cmd(f->s, 0x02, 0x00, 0x05, NULL, 0, r, 4); /* word 5 = slots 0,1 */
    const uint8_t sc01[4] = {0x85, 0x20, 0x85, 0x43}; /* 0x2085, 0x4385 */
    assert_int_equal(st(f->s, 0x12, 0x00, 0x05, sc01, 4), 0x00);
    /* counter 1 starts at 20 */
    const uint8_t c20[8] = {0x00, 0x00, 0x0F, 0xFF, 0x00, 0x00, 0x00, 0x00};
    /* 20: linA = FFFF>>20%32 -> 0 (>=16), linB = FFFF>>4, binA = 0, binB = 0 */
    assert_int_equal(st(f->s, 0x12, 0x00, 0x0F, c20, 4), 0x00);
    assert_int_equal(st(f->s, 0x12, 0x00, 0x10, c20 + 4, 4), 0x00);
    read_config(f->s, cfg);
    assert_memory_equal(cfg + 20, sc01, 4);
    /* lock config: wrong CRC refused, right CRC accepted */
    uint16_t crc = atecc_crc16(cfg, 128);
    assert_int_equal(st(f->s, 0x17, 0x00, (uint16_t)(crc ^ 1), NULL, 0), 0x0F);
    assert_int_equal(st(f->s, 0x17, 0x00, crc, NULL, 0), 0x00);
    assert_int_equal(st(f->s, 0x17, 0x00, crc, NULL, 0), 0x0F);
    assert_int_equal(st(f->s, 0x12, 0x00, 0x05, sc01, 4), 0x0F);
    data_cmd(f->s, 0x24, 0x00, 1, NULL, 0, r, 4);
    assert_memory_equal(r, "\x14\x00\x00\x00", 4);
    /* real randomness now */
    data_cmd(f->s, 0x1B, 0x00, 0, NULL, 0, r, 32);
    assert_memory_not_equal(r, "\xFF\xFF\x00\x00\xFF\xFF\x00\x00", 8);
    /* GenKey on slot 0; PrivWrite in clear to slot 1 */
    uint8_t pub0[64], pub1[64], pw[68] = {0}, d[32], xy[64];
    data_cmd(f->s, 0x40, 0x04, 0, NULL, 0, pub0, 64);
    EVP_PKEY *k1 = EVP_EC_gen("P-256");
    pkey_scalar(k1, d);
    pkey_xy(k1, xy);
    memcpy(pw + 4, d, 32);
    assert_int_equal(st(f->s, 0x46, 0x00, 8, pw, 68), 0x0F); /* slot 8: not a key */
    assert_int_equal(st(f->s, 0x46, 0x00, 1, pw, 68), 0x00);
    data_cmd(f->s, 0x40, 0x00, 1, NULL, 0, pub1, 64);
    assert_memory_equal(pub1, xy, 64);
    /* data/OTP contents, then lock data with the CRC the host computes */
    uint8_t wkey[32], otp[32], image[1208 + 64];
    for (int i = 0; i < 32; i++) {
        wkey[i] = (uint8_t)(0x5A ^ i);
        otp[i] = (uint8_t)('a' + i % 26);
    }
    assert_int_equal(st(f->s, 0x12, 0x82, 3 << 3, wkey, 32), 0x00); /* slot 3: write key */
    assert_int_equal(st(f->s, 0x12, 0x81, 0x0000, otp, 32), 0x00);
    size_t n = 0;
    memset(image, 0, sizeof image);
    for (unsigned s = 0; s < 16; s++) {
        size_t sz = s < 8 ? 36 : s == 8 ? 416 : 72;
        if (cfg[96 + 2 * s] & 1) /* private-key slots are not in the CRC */
            continue;
        if (s == 3)
            memcpy(image + n, wkey, 32);
        n += sz;
    }
    memcpy(image + n, otp, 32);
    n += 64;
    crc = atecc_crc16(image, n);
    assert_int_equal(st(f->s, 0x17, 0x01, (uint16_t)(crc ^ 0x100), NULL, 0), 0x0F);
    assert_int_equal(st(f->s, 0x17, 0x01, crc, NULL, 0), 0x00);
    data_cmd(f->s, 0x02, 0x00, 0x15, NULL, 0, r, 4);
    assert_int_equal(r[2], 0x00);
    assert_int_equal(r[3], 0x00);
    data_cmd(f->s, 0x02, 0x81, 0x0000, NULL, 0, r, 32);
    assert_memory_equal(r, otp, 32);
    assert_int_equal(st(f->s, 0x12, 0x81, 0x0008, otp, 32), 0x0F); /* OTP now read-only */
    /* after the data lock: clear PrivWrite refused, encrypted PrivWrite works */
    assert_int_equal(st(f->s, 0x46, 0x00, 1, pw, 68), 0x0F);
    data_cmd(f->s, 0x40, 0x04, 0, NULL, 0, r, 64); /* 0x2085: updatable */
    EVP_PKEY *k2 = EVP_EC_gen("P-256");
    uint8_t plain[36] = {0}, tk[32], pad[32], msg[96] = {0}, sn[3];
    pkey_scalar(k2, plain + 4);
    pkey_xy(k2, xy);
    host_gendig(f->s, 3, wkey, tk);
    sn_short(f->s, sn);
    sha256(tk, 32, pad);
    for (int i = 0; i < 32; i++)
        pw[i] = plain[i] ^ tk[i];
    for (int i = 0; i < 4; i++)
        pw[32 + i] = plain[32 + i] ^ pad[i];
    memcpy(msg, tk, 32);
    msg[32] = 0x46;
    msg[33] = 0x40;
    msg[34] = 0x01;
    msg[35] = 0x00;
    memcpy(msg + 36, sn, 3);
    memcpy(msg + 60, plain, 36);
    sha256(msg, sizeof msg, pw + 36);
    assert_int_equal(st(f->s, 0x46, 0x40, 1, pw, 68), 0x00);
    data_cmd(f->s, 0x40, 0x00, 1, NULL, 0, pub1, 64);
    assert_memory_equal(pub1, xy, 64);
    /* and the new key signs */
    uint8_t dig[32], sig[64];
    RAND_bytes(dig, 32);
    assert_int_equal(st(f->s, 0x16, 0x43, 0, dig, 32), 0x00);
    data_cmd(f->s, 0x41, 0xA0, 1, NULL, 0, sig, 64);
    assert_true(verify_rs(xy, dig, sig));
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* The one real wait: ~1.4 s. */
static void test_watchdog(void **state)
{
    struct fx *f = *state;
    uint8_t msg[32] = {7}, r[4];
    struct timespec t1 = {1, 150000000}, t2 = {0, 250000000};

    wake(f->s);
    assert_int_equal(st(f->s, 0x16, 0x03, 0, msg, 32), 0x00);
    nanosleep(&t1, NULL);
    /* ~150 ms left: SelfTest (250 ms) is refused, Info (5 ms) runs */
    assert_int_equal(st(f->s, 0x77, 0x3B, 0, NULL, 0), 0xEE);
    data_cmd(f->s, 0x30, 0x02, 0, NULL, 0, r, 4);
    assert_int_equal(r[1], 0x80);
    nanosleep(&t2, NULL);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK); /* asleep */
    wake(f->s);
    info_state(f->s, r);
    assert_memory_equal(r, "\x00\x00\x00\x00", 4); /* TempKey lost */
}

static void test_persistence(void **state)
{
    struct fx *f = *state;
    uint8_t pub[64], pub2[64], cfg[128], cfg2[128], msg[32] = {3}, s4[4];
    char err[256];

    wake(f->s);
    data_cmd(f->s, 0x40, 0x00, 0, NULL, 0, pub, 64);
    read_config(f->s, cfg);
    assert_int_equal(st(f->s, 0x16, 0x03, 0, msg, 32), 0x00);
    sim_close(f->s);
    assert_int_equal(sim_open(f->path, "atecc608", "blank", &f->s, err, sizeof err), SIM_OK);
    /* still awake (within the watchdog), TempKey kept; profile ignored */
    info_state(f->s, s4);
    assert_memory_equal(s4, "\x10\x80\x00\x00", 4);
    data_cmd(f->s, 0x40, 0x00, 0, NULL, 0, pub2, 64);
    assert_memory_equal(pub, pub2, 64);
    read_config(f->s, cfg2);
    assert_memory_equal(cfg, cfg2, 128);
}

static void test_two_chips_differ(void **state)
{
    struct fx *f = *state;
    struct sim *b;
    char err[256], p[256];
    uint8_t c1[32], c2[32];

    snprintf(p, sizeof p, "%s/second.state", f->dir);
    assert_int_equal(sim_open(p, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    wake(f->s);
    wake(b);
    data_cmd(f->s, 0x02, 0x80, 0, NULL, 0, c1, 32);
    data_cmd(b, 0x02, 0x80, 0, NULL, 0, c2, 32);
    assert_memory_equal(c1, c2, 2);
    assert_int_equal(c1[12], 0x01);
    assert_int_equal(c2[12], 0x01);
    assert_false(memcmp(c1 + 2, c2 + 2, 2) == 0 && memcmp(c1 + 8, c2 + 8, 4) == 0);
    sim_close(b);
}

static void test_two_handles_share_volatile_state(void **state)
{
    struct fx *f = *state;
    struct sim *b;
    char err[256];
    uint8_t pub[64], dig[32], sig[64];

    assert_int_equal(sim_open(f->path, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    wake(f->s);
    data_cmd(b, 0x40, 0x00, 0, NULL, 0, pub, 64);
    RAND_bytes(dig, 32);
    assert_int_equal(st(f->s, 0x16, 0x43, 0, dig, 32), 0x00);
    data_cmd(b, 0x41, 0xA0, 0, NULL, 0, sig, 64);
    assert_true(verify_rs(pub, dig, sig));
    /* a bracket in one handle holds both the lock and its view */
    assert_int_equal(sim_begin(b), SIM_OK);
    assert_int_equal(st(b, 0x16, 0x03, 0, dig, 32), 0x00);
    data_cmd(b, 0x41, 0x80, 0, NULL, 0, sig, 64);
    assert_int_equal(sim_end(b), SIM_OK);
    assert_true(verify_rs(pub, dig, sig));
    sim_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_exchange_bytes, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_asleep_idle_awake, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_idle_keeps_tempkey_sleep_loses_it, setup_tls,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_pointer, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_partial_command, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_status_codes, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_read_rules, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_write_rules, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_lock_slot, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_sign_external, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_random_tempkey, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_verify, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_ecdh, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_genkey, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_counter, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_sha, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_updateextra_address, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_blank_provisioning, setup_blank, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_two_chips_differ, setup_tls, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles_share_volatile_state, setup_tls,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
