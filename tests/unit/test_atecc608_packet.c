/* ATECC608 packets, response parsing and the wire protocol, against the
 * frames of the fact sheet (specs/atecc608.md sections 1.10, 2.4 and 3) and a
 * scripted transport: every byte on the bus is checked, no emulator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hal/atecc608/atecc_cmd.h"
#include "hal/atecc608/atecc_crc.h"
#include "hal/atecc608/atecc_err.h"
#include "hal/atecc608/atecc_io.h"
#include "hal/atecc608/atecc_packet.h"
#include "hal/bus.h"

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* ---- CRC and frames ---- */

struct frame {
    const uint8_t *b;
    size_t len;
};

static const struct frame known_frames[] = {
    {BYTES(0x04, 0x11, 0x33, 0x43)},
    {BYTES(0x04, 0x00, 0x03, 0x40)},
    {BYTES(0x04, 0x0F, 0x23, 0x42)},
    {BYTES(0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D)},
    {BYTES(0x07, 0x02, 0x80, 0x00, 0x00, 0x09, 0xAD)},
    {BYTES(0x07, 0x30, 0x02, 0x00, 0x00, 0x00, 0xD8)},
    {BYTES(0x07, 0x30, 0x01, 0x00, 0x00, 0x00, 0xD7)},
    {BYTES(0x07, 0x02, 0x00, 0x15, 0x00, 0x17, 0x5D)},
    {BYTES(0x07, 0x02, 0x00, 0x16, 0x00, 0x18, 0x5D)},
    {BYTES(0x07, 0x02, 0x80, 0x08, 0x00, 0x0A, 0x4D)},
    {BYTES(0x07, 0x02, 0x81, 0x00, 0x00, 0x0A, 0x27)},
    {BYTES(0x07, 0x02, 0x82, 0x50, 0x00, 0x0A, 0x14)},
    {BYTES(0x07, 0x02, 0x82, 0x50, 0x01, 0x09, 0x97)},
    {BYTES(0x07, 0x02, 0x82, 0x50, 0x02, 0x89, 0x95)},
    {BYTES(0x07, 0x1B, 0x00, 0x00, 0x00, 0x24, 0xCD)},
    {BYTES(0x07, 0x40, 0x00, 0x00, 0x00, 0x00, 0x05)},
    {BYTES(0x07, 0x40, 0x04, 0x02, 0x00, 0x85, 0x07)},
    {BYTES(0x07, 0x41, 0xA0, 0x00, 0x00, 0x7B, 0x85)},
    {BYTES(0x07, 0x41, 0x80, 0x00, 0x00, 0x28, 0x05)},
    {BYTES(0x07, 0x77, 0x3B, 0x00, 0x00, 0x9D, 0xFB)},
    {BYTES(0x07, 0x24, 0x00, 0x00, 0x00, 0x0C, 0xFD)},
    {BYTES(0x07, 0x17, 0x80, 0x00, 0x00, 0x39, 0x8D)},
    {BYTES(0x07, 0x17, 0x81, 0x00, 0x00, 0x3A, 0x07)},
    {BYTES(0x07, 0x17, 0x0A, 0x00, 0x00, 0x6E, 0x09)},
    {BYTES(0x07, 0x20, 0x01, 0x6A, 0x00, 0x06, 0x83)},
    {BYTES(0x0B, 0x12, 0x00, 0x04, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x86, 0x73)},
    {BYTES(0x07, 0x00, 0x00, 0x60, 0x02, 0x80, 0x38)},
    {BYTES(0x07, 0x00, 0x00, 0x60, 0x03, 0x83, 0xBB)},
    {BYTES(0x07, 0x00, 0x00, 0x50, 0x00, 0x03, 0x91)},
    {BYTES(0x07, 0x05, 0x00, 0x00, 0x00, 0x30, 0xAD)},
    {BYTES(0x04, 0x01, 0x00, 0xC3)},
    {BYTES(0x04, 0x03, 0x83, 0x42)},
    {BYTES(0x04, 0x05, 0xC3, 0x43)},
    {BYTES(0x04, 0x07, 0x40, 0xC2)},
    {BYTES(0x04, 0x08, 0x60, 0xC0)},
    {BYTES(0x04, 0xEE, 0x31, 0x41)},
    {BYTES(0x04, 0xFF, 0x01, 0x42)},
};

static void test_crc_known_frames(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof known_frames / sizeof known_frames[0]; i++) {
        const struct frame *f = &known_frames[i];
        uint16_t crc = atecc_crc16(f->b, f->len - 2);

        assert_int_equal(crc & 0xff, f->b[f->len - 2]);
        assert_int_equal(crc >> 8, f->b[f->len - 1]);
        assert_true(atecc_crc16_ok(f->b, f->len));
    }
    /* CRC over the count byte too: leaving it out gives another value */
    assert_int_not_equal(atecc_crc16(BYTES(0x11)), 0x4333);
    assert_int_equal(atecc_crc16(BYTES(0x04, 0x11)), 0x4333);
}

static void check_build(const uint8_t *want, size_t wlen, uint8_t op, uint8_t p1, uint16_t p2,
                        const uint8_t *data, size_t dlen)
{
    uint8_t out[ATECC_CMD_MAX];
    size_t n = atecc_packet_build(out, sizeof out, op, p1, p2, data, dlen);

    assert_int_equal(n, wlen);
    assert_memory_equal(out, want, wlen);
}

#define CHECK_BUILD(op, p1, p2, data, dlen, ...)                                               \
    check_build((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), op, p1, \
                p2, data, dlen)

static void test_build_examples(void **state)
{
    uint8_t msg[32], nonce_frame[39], word4[4] = {0xC0, 0x00, 0x00, 0x00};

    (void)state;
    CHECK_BUILD(ATECC_OP_INFO, 0x00, 0x0000, NULL, 0, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D);
    CHECK_BUILD(ATECC_OP_INFO, 0x02, 0x0000, NULL, 0, 0x07, 0x30, 0x02, 0x00, 0x00, 0x00, 0xD8);
    CHECK_BUILD(ATECC_OP_INFO, 0x01, 0x0000, NULL, 0, 0x07, 0x30, 0x01, 0x00, 0x00, 0x00, 0xD7);
    CHECK_BUILD(ATECC_OP_READ, 0x80, atecc_addr_config_block(0), NULL, 0, 0x07, 0x02, 0x80, 0x00,
                0x00, 0x09, 0xAD);
    CHECK_BUILD(ATECC_OP_READ, 0x00, atecc_addr_config_word(0x15), NULL, 0, 0x07, 0x02, 0x00,
                0x15, 0x00, 0x17, 0x5D);
    CHECK_BUILD(ATECC_OP_READ, 0x00, atecc_addr_config_word(0x16), NULL, 0, 0x07, 0x02, 0x00,
                0x16, 0x00, 0x18, 0x5D);
    CHECK_BUILD(ATECC_OP_READ, 0x80, atecc_addr_config_block(1), NULL, 0, 0x07, 0x02, 0x80, 0x08,
                0x00, 0x0A, 0x4D);
    CHECK_BUILD(ATECC_OP_READ, 0x81, 0x0000, NULL, 0, 0x07, 0x02, 0x81, 0x00, 0x00, 0x0A, 0x27);
    /* p2 goes little-endian: slot 10 block 1 is 0x0150 -> 50 01 */
    CHECK_BUILD(ATECC_OP_READ, 0x82, atecc_addr_data(10, 0, 0), NULL, 0, 0x07, 0x02, 0x82, 0x50,
                0x00, 0x0A, 0x14);
    CHECK_BUILD(ATECC_OP_READ, 0x82, atecc_addr_data(10, 1, 0), NULL, 0, 0x07, 0x02, 0x82, 0x50,
                0x01, 0x09, 0x97);
    CHECK_BUILD(ATECC_OP_READ, 0x82, atecc_addr_data(10, 2, 0), NULL, 0, 0x07, 0x02, 0x82, 0x50,
                0x02, 0x89, 0x95);
    CHECK_BUILD(ATECC_OP_RANDOM, 0x00, 0x0000, NULL, 0, 0x07, 0x1B, 0x00, 0x00, 0x00, 0x24, 0xCD);
    CHECK_BUILD(ATECC_OP_GENKEY, 0x00, 0, NULL, 0, 0x07, 0x40, 0x00, 0x00, 0x00, 0x00, 0x05);
    CHECK_BUILD(ATECC_OP_GENKEY, 0x04, 2, NULL, 0, 0x07, 0x40, 0x04, 0x02, 0x00, 0x85, 0x07);
    CHECK_BUILD(ATECC_OP_SIGN, 0xA0, 0, NULL, 0, 0x07, 0x41, 0xA0, 0x00, 0x00, 0x7B, 0x85);
    CHECK_BUILD(ATECC_OP_SIGN, 0x80, 0, NULL, 0, 0x07, 0x41, 0x80, 0x00, 0x00, 0x28, 0x05);
    CHECK_BUILD(ATECC_OP_SELFTEST, 0x3B, 0, NULL, 0, 0x07, 0x77, 0x3B, 0x00, 0x00, 0x9D, 0xFB);
    CHECK_BUILD(ATECC_OP_COUNTER, 0x00, 0, NULL, 0, 0x07, 0x24, 0x00, 0x00, 0x00, 0x0C, 0xFD);
    CHECK_BUILD(ATECC_OP_LOCK, 0x80, 0, NULL, 0, 0x07, 0x17, 0x80, 0x00, 0x00, 0x39, 0x8D);
    CHECK_BUILD(ATECC_OP_LOCK, 0x81, 0, NULL, 0, 0x07, 0x17, 0x81, 0x00, 0x00, 0x3A, 0x07);
    CHECK_BUILD(ATECC_OP_LOCK, 0x02 | (2 << 2), 0, NULL, 0, 0x07, 0x17, 0x0A, 0x00, 0x00, 0x6E,
                0x09);
    CHECK_BUILD(ATECC_OP_UPDATE_EXTRA, 0x01, 0x6A, NULL, 0, 0x07, 0x20, 0x01, 0x6A, 0x00, 0x06,
                0x83);
    CHECK_BUILD(ATECC_OP_WRITE, 0x00, atecc_addr_config_word(4), word4, 4, 0x0B, 0x12, 0x00, 0x04,
                0x00, 0xC0, 0x00, 0x00, 0x00, 0x86, 0x73);

    for (unsigned i = 0; i < 32; i++)
        msg[i] = (uint8_t)i;
    memcpy(nonce_frame, (const uint8_t[]){0x27, 0x16, 0x43, 0x00, 0x00}, 5);
    memcpy(nonce_frame + 5, msg, 32);
    nonce_frame[37] = 0xD7;
    nonce_frame[38] = 0x6C;
    check_build(nonce_frame, sizeof nonce_frame, ATECC_OP_NONCE, 0x43, 0, msg, 32);
}

static void test_build_limits(void **state)
{
    uint8_t out[ATECC_CMD_MAX + 8], data[ATECC_CMD_DATA_MAX + 1];

    (void)state;
    memset(data, 0xA5, sizeof data);
    assert_int_equal(atecc_packet_build(out, sizeof out, 0x45, 0, 0, data, ATECC_CMD_DATA_MAX),
                     ATECC_CMD_MAX);
    assert_int_equal(out[0], ATECC_CMD_MAX);
    assert_true(atecc_crc16_ok(out, ATECC_CMD_MAX));
    assert_int_equal(atecc_packet_build(out, sizeof out, 0x45, 0, 0, data, sizeof data), 0);
    assert_int_equal(atecc_packet_build(out, 6, 0x30, 0, 0, NULL, 0), 0);
    assert_int_equal(atecc_packet_build(out, 7, 0x30, 0, 0, NULL, 0), 7);
}

static void test_parse(void **state)
{
    const uint8_t *p;
    size_t plen;
    uint8_t big[40];

    (void)state;
    assert_int_equal(atecc_response_parse(BYTES(0x07, 0x00, 0x00, 0x60, 0x03, 0x83, 0xBB), 99, &p,
                                          &plen),
                     ATECC_OK);
    assert_int_equal(plen, 4);
    assert_memory_equal(p, ((const uint8_t[]){0x00, 0x00, 0x60, 0x03}), 4);

    /* count below the minimum group */
    assert_int_equal(atecc_response_parse(BYTES(0x03, 0x00, 0x00), 99, &p, &plen),
                     ATECC_E_COUNT);
    /* count larger than the buffer */
    memset(big, 0, sizeof big);
    big[0] = sizeof big;
    atecc_crc16_put(big, sizeof big - 2, big + sizeof big - 2);
    assert_int_equal(atecc_response_parse(big, sizeof big, sizeof big - 1, &p, &plen),
                     ATECC_E_COUNT);
    assert_int_equal(atecc_response_parse(big, sizeof big, sizeof big, &p, &plen), ATECC_OK);
    /* count disagreeing with what was read */
    assert_int_equal(atecc_response_parse(BYTES(0x07, 0x00, 0x03, 0x40), 99, &p, &plen),
                     ATECC_E_COUNT);
    /* bad CRC (either byte) */
    assert_int_equal(atecc_response_parse(BYTES(0x04, 0x00, 0x03, 0x41), 99, &p, &plen),
                     ATECC_E_CRC);
    assert_int_equal(atecc_response_parse(BYTES(0x04, 0x00, 0x02, 0x40), 99, &p, &plen),
                     ATECC_E_CRC);
    assert_int_equal(atecc_response_parse(BYTES(0x07, 0x00, 0x00, 0x60, 0x03, 0x83, 0xBA), 99,
                                          &p, &plen),
                     ATECC_E_CRC);
}

static void test_status_frames(void **state)
{
    static const struct {
        uint8_t frame[4];
        int err;
    } t[] = {
        {{0x04, 0x00, 0x03, 0x40}, ATECC_OK},         {{0x04, 0x01, 0x00, 0xC3}, ATECC_E_VERIFY},
        {{0x04, 0x03, 0x83, 0x42}, ATECC_E_PARSE},    {{0x04, 0x05, 0xC3, 0x43}, ATECC_E_ECC},
        {{0x04, 0x07, 0x40, 0xC2}, ATECC_E_SELFTEST}, {{0x04, 0x08, 0x60, 0xC0}, ATECC_E_HEALTH},
        {{0x04, 0x0F, 0x23, 0x42}, ATECC_E_EXEC},     {{0x04, 0x11, 0x33, 0x43}, ATECC_E_WAKE},
        {{0x04, 0xEE, 0x31, 0x41}, ATECC_E_WATCHDOG}, {{0x04, 0xFF, 0x01, 0x42}, ATECC_E_CRC},
    };

    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const uint8_t *p;
        size_t plen;

        assert_int_equal(atecc_response_parse(t[i].frame, 4, 99, &p, &plen), ATECC_OK);
        assert_int_equal(plen, 1);
        assert_int_equal(atecc_status_to_err(p[0]), t[i].err);
    }
    assert_int_equal(atecc_status_to_err(0x42), ATECC_E_STATUS);
    assert_true(atecc_err_transient(ATECC_E_CRC));
    assert_true(atecc_err_transient(ATECC_E_WATCHDOG));
    assert_true(atecc_err_transient(ATECC_E_WAKE));
    assert_false(atecc_err_transient(ATECC_E_EXEC));
    assert_false(atecc_err_transient(ATECC_E_VERIFY));
}

/* ---- scripted transport ---- */

enum step_kind { S_LOCK, S_UNLOCK, S_WRITE, S_READ, S_DELAY };

struct step {
    enum step_kind kind;
    uint8_t addr;
    const uint8_t *bytes; /* written (checked) or read (returned) */
    size_t len;
    int rc;
    unsigned us;
};

struct script {
    const struct step *steps;
    size_t n, pos;
    int nack_after_end; /* when the script ends, every transfer NACKs */
    unsigned long extra_transfers;
    unsigned long delay_us;
};

#define W(a, r, ...) {S_WRITE, a, BYTES(__VA_ARGS__), r, 0}
#define R(a, ...) {S_READ, a, BYTES(__VA_ARGS__), BUS_OK, 0}
#define RNACK(a, n) {S_READ, a, NULL, n, BUS_NACK, 0}
#define D(u) {S_DELAY, 0, NULL, 0, 0, u}
#define LOCK {S_LOCK, 0, NULL, 0, 0, 0}
#define UNLOCK {S_UNLOCK, 0, NULL, 0, 0, 0}
#define WAKE_OK W(0x00, BUS_NACK, 0x01), D(1500), R(0x60, 0x04, 0x11, 0x33, 0x43)

static const struct step *next_step(struct script *s, enum step_kind kind)
{
    const struct step *st;

    if (s->pos >= s->n) {
        if (!s->nack_after_end)
            fail_msg("transaction %d after the end of the script", (int)kind);
        return NULL;
    }
    st = &s->steps[s->pos++];
    if (st->kind != kind)
        fail_msg("step %zu: kind %d, script says %d", s->pos - 1, (int)kind, (int)st->kind);
    return st;
}

static int fake_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    struct script *s = ctx;
    const struct step *st = next_step(s, S_WRITE);

    if (st == NULL) {
        s->extra_transfers++;
        return BUS_NACK;
    }
    assert_int_equal(addr, st->addr);
    assert_int_equal(len, st->len);
    assert_memory_equal(data, st->bytes, len);
    return st->rc;
}

static int fake_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    struct script *s = ctx;
    const struct step *st = next_step(s, S_READ);

    if (st == NULL) {
        s->extra_transfers++;
        return BUS_NACK;
    }
    assert_int_equal(addr, st->addr);
    assert_int_equal(len, st->len);
    if (st->rc == BUS_OK)
        memcpy(data, st->bytes, len);
    return st->rc;
}

static void fake_delay(void *ctx, unsigned us)
{
    struct script *s = ctx;
    const struct step *st = next_step(s, S_DELAY);

    s->delay_us += us;
    if (st != NULL)
        assert_int_equal(us, st->us);
}

static int fake_lock(void *ctx)
{
    struct script *s = ctx;

    if (s->pos < s->n || !s->nack_after_end)
        (void)next_step(s, S_LOCK);
    return BUS_OK;
}

static void fake_unlock(void *ctx)
{
    struct script *s = ctx;

    if (s->pos < s->n || !s->nack_after_end)
        (void)next_step(s, S_UNLOCK);
}

static struct atecc_io scripted_io(struct script *s)
{
    struct atecc_io io = {.ctx = s,
                          .write = fake_write,
                          .read = fake_read,
                          .delay_us = fake_delay,
                          .lock = fake_lock,
                          .unlock = fake_unlock,
                          .addr = 0x60,
                          .clock = 0};
    return io;
}

/* Declares the script in the calling function's scope (the compound
 * literals of the byte strings live as long as it). */
#define RUN_SCRIPT(sc, ...)                                                                    \
    const struct step steps_[] = {__VA_ARGS__};                                                \
    (sc).steps = steps_;                                                                       \
    (sc).n = sizeof steps_ / sizeof steps_[0]

static int info_seq(const struct atecc_io *io, void *arg)
{
    return atecc_cmd_info(io, ATECC_INFO_REVISION, 0, arg);
}

/* Section 1.10 of the fact sheet, byte for byte, plus the device lock. */
static void test_wire_info(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    uint8_t rev[4];

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK, W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x07), R(0x60, 0x00, 0x00, 0x60, 0x03, 0x83, 0xBB),
               W(0x60, BUS_OK, 0x02), UNLOCK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
    assert_memory_equal(rev, ((const uint8_t[]){0x00, 0x00, 0x60, 0x03}), 4);
}

/* Busy: the chip NACKs the 0x00 poll twice; first poll without delay. */
static void test_wire_polling(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    uint8_t rev[4];

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK, W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_NACK, 0x00), D(1000), W(0x60, BUS_NACK, 0x00), D(1000),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x07), R(0x60, 0x00, 0x00, 0x60, 0x02, 0x80, 0x38),
               W(0x60, BUS_OK, 0x02), UNLOCK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
    assert_int_equal(rev[3], 0x02);
}

/* A corrupted answer: sleep, wake again, and run the command again. */
static void test_wire_retry_on_crc(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    uint8_t rev[4];

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK, W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x07), R(0x60, 0x00, 0x00, 0x60, 0x13, 0x83, 0xBB),
               W(0x60, BUS_OK, 0x01), WAKE_OK,
               W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x07), R(0x60, 0x00, 0x00, 0x60, 0x03, 0x83, 0xBB),
               W(0x60, BUS_OK, 0x02), UNLOCK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
    assert_int_equal(rev[3], 0x03);
}

/* The chip reports 0xFF (it got our command garbled): re-run as well. */
static void test_wire_retry_on_status_ff(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    uint8_t rev[4];

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK, W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x04), R(0x60, 0xFF, 0x01, 0x42),
               W(0x60, BUS_OK, 0x01), WAKE_OK,
               W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x07), R(0x60, 0x00, 0x00, 0x60, 0x03, 0x83, 0xBB),
               W(0x60, BUS_OK, 0x02), UNLOCK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
}

/* An execution error is the chip's answer, not a fault: no retry. */
static void test_wire_exec_error_not_retried(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    uint8_t rev[4] = {0xAA, 0xAA, 0xAA, 0xAA};

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK, W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x04), R(0x60, 0x0F, 0x23, 0x42),
               W(0x60, BUS_OK, 0x02), UNLOCK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_E_EXEC);
    assert_int_equal(sc.pos, sc.n);
    assert_int_equal(rev[0], 0xAA);
}

/* A count byte beyond any response: nothing more is read from that group. */
static void test_wire_count_too_big(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    uint8_t rev[4];

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK, W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0xFF), W(0x60, BUS_OK, 0x01), WAKE_OK,
               W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x03), W(0x60, BUS_OK, 0x01), WAKE_OK,
               W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D),
               W(0x60, BUS_OK, 0x00), R(0x60, 0x07), R(0x60, 0x00, 0x00, 0x60, 0x03, 0x83, 0xBB),
               W(0x60, BUS_OK, 0x02), UNLOCK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
}

struct sign_arg {
    const uint8_t *digest;
    uint8_t sig[64];
};

static int nonce_sign_seq(const struct atecc_io *io, void *arg)
{
    struct sign_arg *a = arg;
    int rc = atecc_cmd_nonce_mdb(io, a->digest);

    return rc == ATECC_OK ? atecc_cmd_sign_mdb(io, 0, a->sig) : rc;
}

/* A corrupted Sign answer re-runs Nonce + Sign from a fresh wake: the
 * digest in the message digest buffer did not survive the sleep. */
static void test_wire_nonce_sign_rerun(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    struct sign_arg arg;
    uint8_t digest[32], nonce_cmd[40], good[67], bad[67];

    (void)state;
    for (unsigned i = 0; i < 32; i++)
        digest[i] = (uint8_t)i;
    /* the section 2.4 frame of this Nonce, after the 0x03 word address */
    nonce_cmd[0] = 0x03;
    memcpy(nonce_cmd + 1, (const uint8_t[]){0x27, 0x16, 0x43, 0x00, 0x00}, 5);
    memcpy(nonce_cmd + 6, digest, 32);
    nonce_cmd[38] = 0xD7;
    nonce_cmd[39] = 0x6C;
    good[0] = 67;
    for (unsigned i = 1; i < 65; i++)
        good[i] = (uint8_t)(0xC0 + i);
    atecc_crc16_put(good, 65, good + 65);
    memcpy(bad, good, sizeof bad);
    bad[30] ^= 0x08;
#define NONCE_SIGN(rsp)                                                                        \
    {S_WRITE, 0x60, nonce_cmd, sizeof nonce_cmd, BUS_OK, 0}, W(0x60, BUS_OK, 0x00),           \
        R(0x60, 0x04), R(0x60, 0x00, 0x03, 0x40),                                              \
        W(0x60, BUS_OK, 0x03, 0x07, 0x41, 0xA0, 0x00, 0x00, 0x7B, 0x85), W(0x60, BUS_OK, 0x00), \
        R(0x60, 0x43), {S_READ, 0x60, (rsp) + 1, 66, BUS_OK, 0}
    RUN_SCRIPT(sc, LOCK, WAKE_OK, NONCE_SIGN(bad), W(0x60, BUS_OK, 0x01), WAKE_OK,
               NONCE_SIGN(good), W(0x60, BUS_OK, 0x02), UNLOCK);
#undef NONCE_SIGN
    io = scripted_io(&sc);
    arg.digest = digest;
    assert_int_equal(atecc_run(&io, nonce_sign_seq, &arg), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
    assert_memory_equal(arg.sig, good + 1, 64);
}

static int selftest_seq(const struct atecc_io *io, void *arg)
{
    return atecc_cmd_selftest(io, ATECC_SELFTEST_ALL, arg);
}

/* SelfTest answers its result byte in the shape of a status group. */
static void test_wire_selftest_result(void **state)
{
    struct script sc = {0};
    struct atecc_io io;
    uint8_t result = 0xAA;

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK, W(0x60, BUS_OK, 0x03, 0x07, 0x77, 0x3B, 0x00, 0x00, 0x9D, 0xFB),
               W(0x60, BUS_NACK, 0x00), D(1000), W(0x60, BUS_OK, 0x00), R(0x60, 0x04),
               R(0x60, 0x01, 0x00, 0xC3), W(0x60, BUS_OK, 0x02), UNLOCK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, selftest_seq, &result), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
    assert_int_equal(result, 0x01); /* RNG test failed: a result, not 0x01 miscompare */
}

/* The chip was awake already: the pulse is ignored and the read returns a
 * stale group. Idle it, and the next pulse wakes it for real. */
static void test_wire_wake_already_awake(void **state)
{
    struct script sc = {0};
    struct atecc_io io;

    (void)state;
    RUN_SCRIPT(sc, W(0x00, BUS_NACK, 0x01), D(1500), R(0x60, 0x04, 0x00, 0x03, 0x40),
               W(0x60, BUS_OK, 0x02), WAKE_OK);
    io = scripted_io(&sc);
    assert_int_equal(atecc_wake(&io), ATECC_OK);
    assert_int_equal(sc.pos, sc.n);
}

/* Answering, but never with the wake group: a device error, not absence. */
static void test_wire_wake_garbage(void **state)
{
    struct script sc = {0};
    struct atecc_io io;

    (void)state;
    RUN_SCRIPT(sc, W(0x00, BUS_NACK, 0x01), D(1500), R(0x60, 0xFF, 0xFF, 0xFF, 0xFF),
               W(0x60, BUS_OK, 0x02), W(0x00, BUS_NACK, 0x01), D(1500),
               R(0x60, 0xFF, 0xFF, 0xFF, 0xFF), W(0x60, BUS_OK, 0x02), W(0x00, BUS_NACK, 0x01),
               D(1500), R(0x60, 0xFF, 0xFF, 0xFF, 0xFF), W(0x60, BUS_OK, 0x02),
               W(0x00, BUS_NACK, 0x01), D(1500), R(0x60, 0xFF, 0xFF, 0xFF, 0xFF),
               W(0x60, BUS_OK, 0x02), D(25000), W(0x00, BUS_NACK, 0x01), D(1500),
               R(0x60, 0xFF, 0xFF, 0xFF, 0xFF), W(0x60, BUS_OK, 0x02));
    io = scripted_io(&sc);
    assert_int_equal(atecc_wake(&io), ATECC_E_WAKE);
    assert_int_equal(sc.pos, sc.n);
}

/* Nothing on the bus: bounded tries, then absent. */
static void test_wire_absent(void **state)
{
    struct script sc = {.nack_after_end = 1};
    struct atecc_io io;
    uint8_t rev[4];

    (void)state;
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_E_ABSENT);
    /* per run attempt: 5 x (pulse + read) + the recovery sleep */
    assert_int_equal(sc.extra_transfers, ATECC_RUN_TRIES * (2 * ATECC_WAKE_TRIES + 1));
    assert_int_equal(sc.delay_us, ATECC_RUN_TRIES * (ATECC_WAKE_TRIES * 1500 + 25000));
}

/* Awake, command accepted, then NACK for ever: the poll gives up after the
 * opcode's worst case plus margin, and the run after its tries. */
static void test_wire_endless_nack(void **state)
{
    struct script sc = {.nack_after_end = 1};
    struct atecc_io io;
    uint8_t rev[4];
    unsigned budget_ms = atecc_exec_max_ms(ATECC_OP_INFO, 0) * 3 / 2 + 20;

    (void)state;
    RUN_SCRIPT(sc, LOCK, WAKE_OK,
               W(0x60, BUS_OK, 0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D));
    io = scripted_io(&sc);
    assert_int_equal(atecc_run(&io, info_seq, rev), ATECC_E_COMM);
    /* polls (budget + 1) + sleep; then twice: 5 wakes of 2 transfers + sleep */
    assert_int_equal(sc.extra_transfers,
                     budget_ms + 1 + 1 + (ATECC_RUN_TRIES - 1) * (2 * ATECC_WAKE_TRIES + 1));
    assert_true(sc.delay_us < (ATECC_POLL_MAX_MS + 200) * 1000ul);
}

/* Sign's poll budget is larger but never beyond 2.5 s, whatever the clock. */
static void test_poll_budget(void **state)
{
    (void)state;
    assert_int_equal(atecc_exec_max_ms(ATECC_OP_SIGN, 0), 115);
    assert_int_equal(atecc_exec_max_ms(ATECC_OP_SELFTEST, 2), 2324);
    assert_int_equal(atecc_exec_max_ms(0x99, 0), ATECC_POLL_MAX_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_known_frames),
        cmocka_unit_test(test_build_examples),
        cmocka_unit_test(test_build_limits),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_status_frames),
        cmocka_unit_test(test_wire_info),
        cmocka_unit_test(test_wire_polling),
        cmocka_unit_test(test_wire_retry_on_crc),
        cmocka_unit_test(test_wire_retry_on_status_ff),
        cmocka_unit_test(test_wire_exec_error_not_retried),
        cmocka_unit_test(test_wire_count_too_big),
        cmocka_unit_test(test_wire_nonce_sign_rerun),
        cmocka_unit_test(test_wire_selftest_result),
        cmocka_unit_test(test_wire_wake_already_awake),
        cmocka_unit_test(test_wire_wake_garbage),
        cmocka_unit_test(test_wire_absent),
        cmocka_unit_test(test_wire_endless_nack),
        cmocka_unit_test(test_poll_budget),
    };

    if (getenv("SECCKI_LOG") == NULL)
        setenv("SECCKI_LOG", "none", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
