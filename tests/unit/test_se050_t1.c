/* T=1 over I2C (UM11225) against a scripted transport: every frame the host
 * writes is compared byte for byte with the script, and the chip's bytes are
 * served to whatever read sizes the host chooses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hal/se050/t1.h"
#include "hal/se050/t1_crc.h"

#define ATR_HEX                                                                              \
    "00 A0 00 00 03 96 04 03 E8 00 FE 02 0B 03 E8 08 01 00 00 00 00 64 00 00 0A 4A 43 4F 50 " \
    "34 20 41 54 50 4F"

/* One step: 'W' the host must write these bytes; 'C' the chip then offers
 * these bytes for reading; 'P' the next n reads are NACKed (chip busy). */
struct step {
    char kind;
    const char *hex;
    unsigned n;
};

struct mock {
    const struct step *steps;
    size_t nsteps, pos;
    uint8_t avail[4096];
    size_t alen, aoff;
    unsigned busy;
    unsigned reads, nacked_reads, writes, nacked_writes, delays;
    bool dead;               /* writes and reads all NACK */
    const char *always_hex;  /* after the script: answer every write with this */
};

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

static void offer_chip_steps(struct mock *m)
{
    m->alen = m->aoff = 0;
    while (m->pos < m->nsteps && m->steps[m->pos].kind != 'W') {
        const struct step *s = &m->steps[m->pos++];

        if (s->kind == 'P')
            m->busy = s->n;
        else
            m->alen += hex2bin(s->hex, m->avail + m->alen, sizeof m->avail - m->alen);
    }
}

static int mock_write(void *ctx, const uint8_t *data, size_t len)
{
    struct mock *m = ctx;
    uint8_t want[600];
    size_t n;

    m->writes++;
    if (m->dead) {
        m->nacked_writes++;
        return T1_TR_NACK;
    }
    if (m->pos >= m->nsteps && m->always_hex != NULL) {
        m->alen = hex2bin(m->always_hex, m->avail, sizeof m->avail);
        m->aoff = 0;
        return 0;
    }
    if (m->pos >= m->nsteps || m->steps[m->pos].kind != 'W') {
        char got[1300] = "";
        for (size_t i = 0; i < len && i < 64; i++)
            sprintf(got + 3 * i, "%02X ", data[i]);
        fail_msg("unexpected write at step %zu: %s", m->pos, got);
    }
    n = hex2bin(m->steps[m->pos].hex, want, sizeof want);
    if (n != len || memcmp(want, data, len) != 0) {
        char got[1300] = "";
        for (size_t i = 0; i < len && i < 64; i++)
            sprintf(got + 3 * i, "%02X ", data[i]);
        fail_msg("step %zu: wrote %s (len %zu), script wants %s", m->pos, got, len,
                 m->steps[m->pos].hex);
    }
    m->pos++;
    offer_chip_steps(m);
    return 0;
}

static int mock_read(void *ctx, uint8_t *data, size_t len)
{
    struct mock *m = ctx;

    m->reads++;
    if (m->dead || m->busy > 0 || m->aoff >= m->alen) {
        if (m->busy > 0)
            m->busy--;
        m->nacked_reads++;
        return T1_TR_NACK;
    }
    for (size_t i = 0; i < len; i++)
        data[i] = m->aoff < m->alen ? m->avail[m->aoff++] : 0xFF;
    return 0;
}

static void mock_delay(void *ctx, unsigned us)
{
    struct mock *m = ctx;

    (void)us;
    m->delays++;
}

static void setup_t1(struct t1 *t, struct mock *m, const struct step *steps, size_t n)
{
    struct t1_transport tr = {m, mock_write, mock_read, mock_delay};

    memset(m, 0, sizeof *m);
    m->steps = steps;
    m->nsteps = n;
    t1_init(t, &tr);
}

static void assert_script_done(const struct mock *m)
{
    assert_int_equal(m->pos, m->nsteps);
}

static void assert_frame(uint8_t nad, uint8_t pcb, const char *inf_hex, const char *want_hex)
{
    uint8_t inf[300], want[300], out[T1_FRAME_MAX];
    size_t ni = inf_hex ? hex2bin(inf_hex, inf, sizeof inf) : 0;
    size_t nw = hex2bin(want_hex, want, sizeof want);
    size_t n = t1_block_build(nad, pcb, inf, ni, out);

    assert_int_equal(n, nw);
    assert_memory_equal(out, want, n);
    assert_true(t1_crc16_ok(out, n));
}

/* §1.4: the fixed control frames and the captured ones. */
static void test_fixed_frames(void **state)
{
    (void)state;
    assert_frame(0x5A, 0x40, "80 04 00 20 00", "5A 40 05 80 04 00 20 00 22 93");
    assert_frame(0x5A, 0x20, "80 04 00 20 09", "5A 20 05 80 04 00 20 09 66 AA");
    assert_frame(0xA5, 0x90, NULL, "A5 90 00 FB E9");
    assert_frame(0x5A, 0xCF, NULL, "5A CF 00 37 7F");
    assert_frame(0x5A, 0xC7, NULL, "5A C7 00 F7 B1");
    assert_frame(0x5A, 0xC5, NULL, "5A C5 00 47 82");
    assert_frame(0x5A, 0xC0, NULL, "5A C0 00 FF FC");
    assert_frame(0xA5, 0xE0, NULL, "A5 E0 00 3F 19");
    assert_frame(0xA5, 0xE5, NULL, "A5 E5 00 87 67");
    assert_frame(0x5A, 0xC6, NULL, "5A C6 00 2F A8");
    assert_frame(0xA5, 0xE6, NULL, "A5 E6 00 EF 4D");
    assert_frame(0xA5, 0xC3, "01", "A5 C3 01 01 1B DD");
    assert_frame(0x5A, 0xE3, "01", "5A E3 01 01 F2 1B");
    assert_frame(0x5A, 0x80, NULL, "5A 80 00 99 BA");
    assert_frame(0x5A, 0x90, NULL, "5A 90 00 08 2F");
    assert_frame(0xA5, 0x80, NULL, "A5 80 00 6A 7C");
    assert_frame(0x5A, 0x81, NULL, "5A 81 00 41 A3");
    assert_frame(0x5A, 0x92, NULL, "5A 92 00 B8 1C");
    assert_frame(0xA5, 0xE7, ATR_HEX, "A5 E7 23 " ATR_HEX " 2A 8D");
    assert_frame(0xA5, 0xEF, ATR_HEX, "A5 EF 23 " ATR_HEX " 87 77");
}

static void test_atr_parse(void **state)
{
    uint8_t atr[64];
    size_t n = hex2bin(ATR_HEX, atr, sizeof atr);
    struct t1_atr a;

    (void)state;
    assert_int_equal(t1_atr_parse(atr, n, &a), T1_OK);
    assert_int_equal(a.pver, 0);
    assert_memory_equal(a.vid, "\xA0\x00\x00\x03\x96", 5);
    assert_int_equal(a.bwt_ms, 1000);
    assert_int_equal(a.ifsc, 254);
    assert_int_equal(a.plid, 2);
    assert_int_equal(a.mcf_khz, 1000);
    assert_int_equal(a.config, 8);
    assert_int_equal(a.mpot_ms, 1);
    assert_int_equal(a.segt_us, 100);
    assert_int_equal(a.wut_us, 0);
    assert_int_equal(a.hist_len, 10);
    assert_memory_equal(a.hist, "JCOP4 ATPO", 10);

    /* Every truncation is refused, and so is a trailing byte. */
    for (size_t len = 0; len < n; len++)
        assert_int_equal(t1_atr_parse(atr, len, &a), T1_E_PROTO);
    atr[n] = 0;
    assert_int_equal(t1_atr_parse(atr, n + 1, &a), T1_E_PROTO);
    /* A DLLP too short for BWT and IFSC. */
    atr[6] = 2;
    assert_int_equal(t1_atr_parse(atr, n, &a), T1_E_PROTO);
}

static int xfer_hex(struct t1 *t, const char *apdu_hex, uint8_t *rsp, size_t cap, size_t *rlen)
{
    uint8_t apdu[1100];
    size_t n = hex2bin(apdu_hex, apdu, sizeof apdu);

    return t1_transceive(t, apdu, n, rsp, cap, rlen);
}

static void assert_rsp(const uint8_t *rsp, size_t len, const char *want_hex)
{
    uint8_t want[600];
    size_t n = hex2bin(want_hex, want, sizeof want);

    assert_int_equal(len, n);
    assert_memory_equal(rsp, want, n);
}

/* §1.9, the whole worked transcript. */
static void test_session_transcript(void **state)
{
    static const struct step s[] = {
        {'W', "5A C0 00 FF FC", 0},
        {'C', "A5 E0 00 3F 19", 0},
        {'W', "5A C7 00 F7 B1", 0},
        {'C', "A5 E7 23 " ATR_HEX " 2A 8D", 0},
        {'W', "5A 00 16 00 A4 04 00 10 A0 00 00 03 96 54 53 00 00 00 01 03 00 00 00 00 00 A8 C8",
         0},
        {'C', "A5 00 09 03 01 00 6F FF 01 0B 90 00 19 14", 0},
        {'W', "5A 40 05 80 04 00 20 00 22 93", 0},
        {'C', "A5 40 0B 41 07 03 01 00 6F FF 01 0B 90 00 F0 81", 0},
        {'W', "5A C5 00 47 82", 0},
        {'C', "A5 E5 00 87 67", 0},
    };
    struct t1 t;
    struct mock m;
    struct t1_atr atr;
    uint8_t rsp[300];
    size_t rlen = 0;

    (void)state;
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    assert_int_equal(t1_resync(&t), T1_OK);
    assert_int_equal(t1_get_atr(&t, &atr), T1_OK);
    assert_int_equal(atr.ifsc, 254);
    assert_int_equal(xfer_hex(&t, "00 A4 04 00 10 A0 00 00 03 96 54 53 00 00 00 01 03 00 00 00 00 00",
                              rsp, sizeof rsp, &rlen),
                     T1_OK);
    assert_rsp(rsp, rlen, "03 01 00 6F FF 01 0B 90 00");
    assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_OK);
    assert_rsp(rsp, rlen, "41 07 03 01 00 6F FF 01 0B 90 00");
    assert_int_equal(t1_end_session(&t), T1_OK);
    assert_script_done(&m);
    /* The host reads each block as 2 + 1 + LEN+2 (§1.6): 3 reads per block. */
    assert_int_equal(m.reads, 3 * 5);
}

static void test_soft_reset(void **state)
{
    static const struct step s[] = {
        {'W', "5A CF 00 37 7F", 0},
        {'P', NULL, 3},
        {'C', "A5 EF 23 " ATR_HEX " 87 77", 0},
    };
    struct t1 t;
    struct mock m;
    struct t1_atr atr;

    (void)state;
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    t.ns = 1;
    t.nr = 1;
    assert_int_equal(t1_soft_reset(&t, &atr), T1_OK);
    assert_int_equal(t.ns, 0);
    assert_int_equal(t.nr, 0);
    assert_int_equal(t.ifsc, 254);
    assert_memory_equal(atr.hist, "JCOP4 ATPO", 10);
    assert_int_equal(m.nacked_reads, 3);
    assert_true(m.delays >= 3); /* a delay between polls, never a busy loop */
    assert_script_done(&m);
}

static char *hexdup_range(unsigned from, unsigned count)
{
    char *s = malloc(count * 3 + 1);
    for (unsigned i = 0; i < count; i++)
        sprintf(s + 3 * i, "%02X ", (from + i) & 0xFF);
    s[count * 3] = 0;
    return s;
}

static char *frame_hex(uint8_t nad, uint8_t pcb, const uint8_t *inf, size_t len)
{
    uint8_t f[T1_FRAME_MAX];
    size_t n = t1_block_build(nad, pcb, inf, len, f);
    char *s = malloc(n * 3 + 1);

    for (size_t i = 0; i < n; i++)
        sprintf(s + 3 * i, "%02X ", f[i]);
    s[n * 3] = 0;
    return s;
}

/* §1.5: a 300-byte APDU goes out as 254 + 46 bytes; the chip acknowledges the
 * first block with R(N(R)=1). */
static void test_chained_command(void **state)
{
    uint8_t apdu[300];
    char *body1 = hexdup_range(0, 254), *w1 = malloc(3 * 260), *w2;
    struct t1 t;
    struct mock m;
    uint8_t rsp[16];
    size_t rlen = 0;

    (void)state;
    for (unsigned i = 0; i < sizeof apdu; i++)
        apdu[i] = (uint8_t)i;
    /* The first frame and its CRC as the spec gives them. */
    snprintf(w1, 3 * 260, "5A 20 FE %s03 68", body1);
    w2 = frame_hex(0x5A, 0x40, apdu + 254, 46);
    assert_memory_equal(w2, "5A 40 2E ", 9);
    {
        const struct step s[] = {
            {'W', w1, 0},
            {'C', "A5 90 00 FB E9", 0},
            {'W', w2, 0},
            {'C', "A5 00 02 90 00 02 AF", 0},
        };
        char *ok = frame_hex(0xA5, 0x00, (const uint8_t *)"\x90\x00", 2);

        assert_string_equal(ok, "A5 00 02 90 00 02 AF ");
        free(ok);
        setup_t1(&t, &m, s, 4);
        assert_int_equal(t1_transceive(&t, apdu, sizeof apdu, rsp, sizeof rsp, &rlen), T1_OK);
        assert_rsp(rsp, rlen, "90 00");
        assert_script_done(&m);
        /* Host: two I-blocks (N(S) 0 then 1), so the next one is N(S)=0. */
        assert_int_equal(t.ns, 0);
        assert_int_equal(t.nr, 1);
    }
    free(body1);
    free(w1);
    free(w2);
}

/* §1.5: a 400-byte response comes as I(0, M) + I(1); the host acknowledges
 * the first with R(N(R)=1). */
static void test_chained_response(void **state)
{
    uint8_t body[400];
    char *c1, *c2;
    struct t1 t;
    struct mock m;
    uint8_t rsp[512];
    size_t rlen = 0;

    (void)state;
    for (unsigned i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)(i * 7);
    c1 = frame_hex(0xA5, 0x20, body, 254);
    c2 = frame_hex(0xA5, 0x40, body + 254, 146);
    {
        const struct step s[] = {
            {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
            {'C', c1, 0},
            {'W', "5A 90 00 08 2F", 0},
            {'C', c2, 0},
        };

        setup_t1(&t, &m, s, 4);
        assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_OK);
        assert_int_equal(rlen, 400);
        assert_memory_equal(rsp, body, 400);
        assert_script_done(&m);
        assert_int_equal(t.ns, 1);
        assert_int_equal(t.nr, 0);

        /* Too small a buffer: the chain is still drained, then an error. */
        setup_t1(&t, &m, s, 4);
        assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, 399, &rlen), T1_E_OVERFLOW);
        assert_script_done(&m);
        assert_int_equal(t.nr, 0);
    }
    free(c1);
    free(c2);
}

/* §1.5: WTX requests while the chip works are echoed, then the answer comes. */
static void test_wtx(void **state)
{
    static const struct step s[] = {
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'P', NULL, 5},
        {'C', "A5 C3 01 01 1B DD", 0},
        {'W', "5A E3 01 01 F2 1B", 0},
        {'P', NULL, 2},
        {'C', "A5 C3 01 01 1B DD", 0},
        {'W', "5A E3 01 01 F2 1B", 0},
        {'C', "A5 00 02 90 00 02 AF", 0},
    };
    struct t1 t;
    struct mock m;
    uint8_t rsp[16];
    size_t rlen = 0;

    (void)state;
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_OK);
    assert_rsp(rsp, rlen, "90 00");
    assert_script_done(&m);
    assert_int_equal(m.nacked_reads, 7);
}

/* An R-NACK from the chip makes the host send the same I-block again. */
static void test_rnack_retransmit(void **state)
{
    static const struct step s[] = {
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'C', "A5 81 00 B2 65", 0},
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'C', "A5 00 02 90 00 02 AF", 0},
    };
    struct t1 t;
    struct mock m;
    uint8_t rsp[16];
    size_t rlen = 0;
    char *nack = frame_hex(0xA5, 0x81, NULL, 0);

    (void)state;
    assert_string_equal(nack, "A5 81 00 B2 65 ");
    free(nack);
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_OK);
    assert_rsp(rsp, rlen, "90 00");
    assert_script_done(&m);
}

/* A response with a bad CRC is asked for again with R-NACK(CRC, N(R)=0). */
static void test_bad_crc(void **state)
{
    static const struct step s[] = {
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'C', "A5 00 02 90 00 02 AE", 0},
        {'W', "5A 81 00 41 A3", 0},
        {'C', "A5 00 02 90 00 02 AF", 0},
    };
    struct t1 t;
    struct mock m;
    uint8_t rsp[16];
    size_t rlen = 0;

    (void)state;
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_OK);
    assert_rsp(rsp, rlen, "90 00");
    assert_script_done(&m);
}

/* A junk byte before the NAD is skipped (§1.6 step 2). */
static void test_leading_junk(void **state)
{
    static const struct step s[] = {
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'C', "00 A5 00 02 90 00 02 AF", 0},
    };
    struct t1 t;
    struct mock m;
    uint8_t rsp[16];
    size_t rlen = 0;

    (void)state;
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_OK);
    assert_rsp(rsp, rlen, "90 00");
    assert_script_done(&m);
}

/* Another process advanced the chip's sequence: our I(0) is taken as a repeat
 * and the chip re-sends its last answer, I(1) — not the one we expect. The
 * host resynchronises and sends the APDU again from N(S)=0. */
static void test_resync_out_of_sequence(void **state)
{
    static const struct step s[] = {
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'C', "A5 40 02 6A 80 C5 BC", 0},
        {'W', "5A C0 00 FF FC", 0},
        {'C', "A5 E0 00 3F 19", 0},
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'C', "A5 00 0B 41 07 03 01 00 6F FF 01 0B 90 00 A1 E2", 0},
    };
    struct t1 t;
    struct mock m;
    uint8_t rsp[16];
    size_t rlen = 0;
    char *f = frame_hex(0xA5, 0x40, (const uint8_t *)"\x6A\x80", 2);
    char *g = frame_hex(0xA5, 0x00, (const uint8_t *)"\x41\x07\x03\x01\x00\x6F\xFF\x01\x0B\x90\x00",
                        11);

    (void)state;
    assert_string_equal(f, "A5 40 02 6A 80 C5 BC ");
    assert_string_equal(g, "A5 00 0B 41 07 03 01 00 6F FF 01 0B 90 00 A1 E2 ");
    free(f);
    free(g);
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_OK);
    assert_rsp(rsp, rlen, "41 07 03 01 00 6F FF 01 0B 90 00");
    assert_script_done(&m);
    assert_int_equal(t.ns, 1);
    assert_int_equal(t.nr, 1);
}

/* A chip that only ever sends garbage: the host gives up after a bounded
 * number of frames with a protocol error. */
static void test_bounded_failure(void **state)
{
    static const struct step s[] = {
        {'W', "5A 00 05 80 04 00 20 00 24 54", 0},
        {'C', "A5 00 02 90 00 02 AE", 0},
    };
    struct t1 t;
    struct mock m;
    uint8_t rsp[16];
    size_t rlen = 0;

    (void)state;
    setup_t1(&t, &m, s, sizeof s / sizeof s[0]);
    m.always_hex = "A5 00 02 90 00 02 AE";
    assert_int_equal(xfer_hex(&t, "80 04 00 20 00", rsp, sizeof rsp, &rlen), T1_E_PROTO);
    /* The I-block and its R-NACKs, then the RESYNC tries and the soft-reset
     * tries, all answered with garbage; recovery failing ends it. */
    assert_int_equal(m.writes, (1 + T1_BLOCK_RETRIES) + 2 * (1 + T1_BLOCK_RETRIES));
}

/* Nothing acknowledges the address: T1_E_ABSENT after bounded write tries. */
static void test_absent(void **state)
{
    struct t1 t;
    struct mock m;

    (void)state;
    setup_t1(&t, &m, NULL, 0);
    m.dead = true;
    assert_int_equal(t1_soft_reset(&t, NULL), T1_E_ABSENT);
    assert_int_equal(m.writes, T1_WRITE_TRIES);
    assert_int_equal(m.delays, T1_WRITE_TRIES);
}

/* A chip that acknowledges the write but never answers: bounded polling,
 * then R-NACKs, then the resync attempts, then T1_E_ABSENT. */
static void test_silent_chip(void **state)
{
    static const struct step s[] = {
        {'W', "5A C0 00 FF FC", 0},
    };
    struct t1 t;
    struct mock m;

    (void)state;
    setup_t1(&t, &m, s, 1);
    m.always_hex = "";
    assert_int_equal(t1_resync(&t), T1_E_ABSENT);
    assert_int_equal(m.writes, 1 + T1_BLOCK_RETRIES);
    assert_int_equal(m.nacked_reads, (1 + T1_BLOCK_RETRIES) * (T1_POLL_MIN + 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_frames),
        cmocka_unit_test(test_atr_parse),
        cmocka_unit_test(test_session_transcript),
        cmocka_unit_test(test_soft_reset),
        cmocka_unit_test(test_chained_command),
        cmocka_unit_test(test_chained_response),
        cmocka_unit_test(test_wtx),
        cmocka_unit_test(test_rnack_retransmit),
        cmocka_unit_test(test_bad_crc),
        cmocka_unit_test(test_leading_junk),
        cmocka_unit_test(test_resync_out_of_sequence),
        cmocka_unit_test(test_bounded_failure),
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_silent_chip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
