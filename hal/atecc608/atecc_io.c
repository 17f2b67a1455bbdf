#include "hal/atecc608/atecc_io.h"

#include <string.h>

#include "hal/atecc608/atecc_err.h"
#include "hal/atecc608/atecc_packet.h"
#include "hal/bus.h"
#include "hal/log.h"

static const uint8_t wake_ok[4] = {0x04, 0x11, 0x33, 0x43};
static const uint8_t wake_selftest_failed[4] = {0x04, 0x07, 0x40, 0xC2};

/* General-call address: writing to it holds SDA low long enough at 100 kHz
 * to form the wake pulse, whatever the device address. */
#define ATECC_WAKE_ADDR 0x00
#define ATECC_WAKE_BYTE 0x01

static int send_word_address(const struct atecc_io *io, uint8_t wa)
{
    int rc = io->write(io->ctx, io->addr, &wa, 1);

    if (rc == BUS_OK)
        return ATECC_OK;
    return rc == BUS_NACK ? ATECC_E_BUSY : ATECC_E_COMM;
}

int atecc_idle(const struct atecc_io *io)
{
    return send_word_address(io, ATECC_WA_IDLE);
}

int atecc_sleep(const struct atecc_io *io)
{
    return send_word_address(io, ATECC_WA_SLEEP);
}

int atecc_wake(const struct atecc_io *io)
{
    static const uint8_t pulse = ATECC_WAKE_BYTE;
    int answered = 0, selftest = 0;

    for (unsigned t = 0; t < ATECC_WAKE_TRIES; t++) {
        uint8_t rsp[4];
        int rc;

        if (t == ATECC_WAKE_TRIES - 1)
            io->delay_us(io->ctx, ATECC_WAKE_POST_DELAY_US);
        (void)io->write(io->ctx, ATECC_WAKE_ADDR, &pulse, 1);
        io->delay_us(io->ctx, ATECC_WAKE_DELAY_US);
        rc = io->read(io->ctx, io->addr, rsp, sizeof rsp);
        if (rc != BUS_OK)
            continue;
        answered = 1;
        if (memcmp(rsp, wake_ok, sizeof rsp) == 0)
            return ATECC_OK;
        if (memcmp(rsp, wake_selftest_failed, sizeof rsp) == 0)
            selftest = 1;
        /* Awake already (the pulse was ignored and this was stale output):
         * idle it so the next pulse is a real wake. */
        (void)atecc_idle(io);
    }
    if (selftest)
        return ATECC_E_SELFTEST;
    return answered ? ATECC_E_WAKE : ATECC_E_ABSENT;
}

/* Worst-case times (ms) at clock dividers M0, M1, M2. */
struct exec_time {
    uint8_t opcode;
    uint16_t ms[3];
};

static const struct exec_time exec_times[] = {
    {ATECC_OP_READ, {5, 5, 5}},
    {ATECC_OP_WRITE, {45, 45, 45}},
    {ATECC_OP_NONCE, {20, 20, 20}},
    {ATECC_OP_LOCK, {35, 35, 35}},
    {ATECC_OP_RANDOM, {23, 23, 23}},
    {ATECC_OP_UPDATE_EXTRA, {10, 10, 10}},
    {ATECC_OP_COUNTER, {25, 25, 25}},
    {ATECC_OP_INFO, {5, 5, 5}},
    {ATECC_OP_GENKEY, {115, 215, 653}},
    {ATECC_OP_SIGN, {115, 220, 665}},
    {ATECC_OP_ECDH, {75, 172, 531}},
    {ATECC_OP_VERIFY, {105, 295, 1085}},
    {ATECC_OP_SELFTEST, {250, 625, 2324}},
};

unsigned atecc_exec_max_ms(uint8_t opcode, uint8_t clock)
{
    unsigned c = clock > 2 ? 2 : clock;

    for (size_t i = 0; i < sizeof exec_times / sizeof exec_times[0]; i++)
        if (exec_times[i].opcode == opcode)
            return exec_times[i].ms[c];
    return ATECC_POLL_MAX_MS;
}

/* The chip NACKs its address while busy; the ACKed 0x00 write also rewinds
 * the output buffer so the read starts at the count byte. */
static int poll_ready(const struct atecc_io *io, uint8_t opcode)
{
    static const uint8_t reset = ATECC_WA_RESET;
    unsigned budget = atecc_exec_max_ms(opcode, io->clock) * 3 / 2 + 20;

    if (budget > ATECC_POLL_MAX_MS)
        budget = ATECC_POLL_MAX_MS;
    for (unsigned waited = 0;; waited += ATECC_POLL_STEP_US / 1000) {
        int rc = io->write(io->ctx, io->addr, &reset, 1);

        if (rc == BUS_OK)
            return ATECC_OK;
        if (rc != BUS_NACK)
            return ATECC_E_COMM;
        if (waited >= budget)
            return ATECC_E_BUSY;
        io->delay_us(io->ctx, ATECC_POLL_STEP_US);
    }
}

static int receive(const struct atecc_io *io, uint8_t *grp, size_t cap, const uint8_t **payload,
                   size_t *plen)
{
    if (io->read(io->ctx, io->addr, grp, 1) != BUS_OK)
        return ATECC_E_COMM;
    if (grp[0] < ATECC_RSP_MIN || grp[0] > cap)
        return ATECC_E_COUNT;
    if (io->read(io->ctx, io->addr, grp + 1, (size_t)grp[0] - 1) != BUS_OK)
        return ATECC_E_COMM;
    return atecc_response_parse(grp, grp[0], cap, payload, plen);
}

int atecc_execute(const struct atecc_io *io, uint8_t opcode, uint8_t p1, uint16_t p2,
                  const uint8_t *data, size_t dlen, uint8_t *out, size_t want)
{
    uint8_t cmd[1 + ATECC_CMD_MAX];
    uint8_t grp[ATECC_RSP_MAX];
    const uint8_t *payload;
    size_t n, plen;
    int rc;

    n = atecc_packet_build(cmd + 1, sizeof cmd - 1, opcode, p1, p2, data, dlen);
    if (n == 0 || want > ATECC_RSP_MAX - 3)
        return ATECC_E_ARGS;
    cmd[0] = ATECC_WA_COMMAND;
    rc = io->write(io->ctx, io->addr, cmd, n + 1);
    if (rc != BUS_OK)
        return ATECC_E_COMM;
    rc = poll_ready(io, opcode);
    if (rc != ATECC_OK)
        return rc;
    rc = receive(io, grp, sizeof grp, &payload, &plen);
    if (rc != ATECC_OK)
        return rc;
    if (plen == 1 && want != 1) {
        rc = atecc_status_to_err(payload[0]);
        return rc == ATECC_OK && want != 0 ? ATECC_E_SIZE : rc;
    }
    if (plen == 1 && (payload[0] == 0xFF || payload[0] == 0xEE))
        return atecc_status_to_err(payload[0]); /* never a SelfTest result */
    if (plen != want)
        return ATECC_E_SIZE;
    memcpy(out, payload, want);
    return ATECC_OK;
}

int atecc_run(const struct atecc_io *io, atecc_seq_fn fn, void *arg)
{
    int rc = ATECC_E_ABSENT, woke = 0;
    unsigned t;

    if (io->lock(io->ctx) != BUS_OK) {
        log_error("atecc608", "device 0x%02x: cannot take the device lock", io->addr);
        return ATECC_E_BUSLOCK;
    }
    for (t = 0; t < ATECC_RUN_TRIES; t++) {
        rc = atecc_wake(io);
        if (rc == ATECC_OK) {
            woke = 1;
            rc = fn(io, arg);
        }
        if (!atecc_err_transient(rc)) {
            (void)atecc_idle(io);
            break;
        }
        log_debug("atecc608", "device 0x%02x: attempt %u: %s", io->addr, t + 1,
                  atecc_strerror(rc));
        /* Sleep drops whatever half-done state the failure left and
         * restarts the watchdog; the next wake starts from scratch. */
        (void)atecc_sleep(io);
    }
    if (rc == ATECC_E_ABSENT && woke)
        rc = ATECC_E_COMM;
    if (atecc_err_transient(rc))
        log_error("atecc608", "device 0x%02x: %s after %u attempts", io->addr,
                  atecc_strerror(rc), ATECC_RUN_TRIES);
    io->unlock(io->ctx);
    return rc;
}
