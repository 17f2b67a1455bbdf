/* The ATECC608 I2C protocol: wake, idle, sleep, one command with polling, and
 * whole sequences under the device lock with bounded re-wake and re-run.
 *
 * The transport is a small table of functions over a context, so the exact
 * bytes on the wire can be scripted in tests; production fills it from a
 * struct bus (atecc_bus.h). The functions return the hal/bus.h codes:
 * BUS_OK, BUS_NACK, or another negative bus_err. */
#ifndef SECCKI_ATECC_IO_H
#define SECCKI_ATECC_IO_H

#include <stddef.h>
#include <stdint.h>

struct atecc_io {
    void *ctx;
    int (*write)(void *ctx, uint8_t addr, const uint8_t *data, size_t len);
    int (*read)(void *ctx, uint8_t addr, uint8_t *data, size_t len);
    void (*delay_us)(void *ctx, unsigned us);
    int (*lock)(void *ctx);
    void (*unlock)(void *ctx);
    uint8_t addr;  /* 7-bit device address */
    uint8_t clock; /* ChipMode clock divider: 0 = M0, 1 = M1, 2 = M2 (sets poll budgets) */
};

/* Word-address bytes (first byte of every write to the device). */
#define ATECC_WA_RESET 0x00
#define ATECC_WA_SLEEP 0x01
#define ATECC_WA_IDLE 0x02
#define ATECC_WA_COMMAND 0x03

#define ATECC_WAKE_TRIES 5
#define ATECC_WAKE_DELAY_US 1500      /* tWHI */
#define ATECC_WAKE_POST_DELAY_US 25000 /* power-on self test may still run */
#define ATECC_POLL_STEP_US 1000
#define ATECC_POLL_MAX_MS 2500
#define ATECC_RUN_TRIES 3

/* Wakes the chip and checks the 04 11 33 43 answer. A chip that was already
 * awake is idled and woken again. ATECC_E_ABSENT when nothing ever answered,
 * ATECC_E_WAKE when something answered but never with the wake group. */
int atecc_wake(const struct atecc_io *io);
/* Word address 0x02 (keeps TempKey) / 0x01 (clears all volatile state). */
int atecc_idle(const struct atecc_io *io);
int atecc_sleep(const struct atecc_io *io);

/* Worst-case execution time of an opcode at the given clock divider, in ms. */
unsigned atecc_exec_max_ms(uint8_t opcode, uint8_t clock);

/* Sends one command to an awake chip, polls until it is done, reads and
 * checks the response. `want` is the payload length of a successful answer
 * (0: a status-only command, whose success is the 0x00 status). The payload
 * goes to out[0..want). A 4-byte group is a status and is mapped to an error,
 * except when want == 1 (SelfTest answers its result in that shape). */
int atecc_execute(const struct atecc_io *io, uint8_t opcode, uint8_t p1, uint16_t p2,
                  const uint8_t *data, size_t dlen, uint8_t *out, size_t want);

/* A sequence of commands that must run within one wake, e.g. Nonce + Sign.
 * It must leave its results untouched unless it succeeds, because it may be
 * run again from the start. */
typedef int (*atecc_seq_fn)(const struct atecc_io *io, void *arg);

/* Runs fn under the device lock between a wake and an idle. On a transient
 * error (bad CRC, 0xFF, 0xEE, a wake group, NACKs past the deadline) the chip
 * is put to sleep, woken again, and the whole sequence re-run, at most
 * ATECC_RUN_TRIES times. */
int atecc_run(const struct atecc_io *io, atecc_seq_fn fn, void *arg);

#endif
