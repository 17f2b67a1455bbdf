/* The chip emulators as a small library: bytes to and from an I2C address.
 *
 * A `struct sim` is one emulated chip whose whole state (persistent and
 * volatile) lives in a state file. Every process that opens the same file sees
 * one chip. The file is read and written only under an advisory lock on
 * PATH.lock; a save fills a spare slot of the mapped file and publishes it
 * with one atomic store, so a crashed process leaves the old or the new
 * state, never a torn one.
 *
 * Used by the sim: bus backend (hal/bus_sim.c) and by the LD_PRELOAD shim
 * that plays /dev/i2c-N in tests (tests/shim/). */
#ifndef SECCKI_SIM_H
#define SECCKI_SIM_H

#include <stddef.h>
#include <stdint.h>

enum sim_status {
    SIM_OK = 0,    /* transaction acknowledged */
    SIM_NACK = 1,  /* address not acknowledged */
    SIM_ERR = -1,  /* state file unusable, I/O error; see sim_last_error() */
};

struct sim;

/* Opens (and, when missing, creates with `profile`) the state file at path.
 * chip: "atecc608" or "se050"; profile NULL selects the chip's default.
 * A corrupt, truncated or foreign state file is an error, never overwritten. */
int sim_open(const char *path, const char *chip, const char *profile, struct sim **out,
             char *err, size_t errlen);
void sim_close(struct sim *s);

/* Brackets a sequence of transactions: takes the file lock and loads the state
 * if another process changed it; sim_end saves it if it changed and unlocks.
 * Nesting is counted. Transactions outside a bracket bracket themselves. */
int sim_begin(struct sim *s);
int sim_end(struct sim *s);

int sim_write(struct sim *s, uint8_t addr, const uint8_t *data, size_t len);
int sim_read(struct sim *s, uint8_t addr, uint8_t *data, size_t len);

/* Faults for tests, a comma-separated list (counts are per process):
 *   nack=N      NACK the next N transactions
 *   crc=N       corrupt one byte of the next N read responses
 *   short=N     answer the next N reads with only half the bytes valid
 *   busy=N      stay busy (NACK) for N polls after each command
 *   reset=N     the chip goes to sleep (loses volatile state) before the Nth
 *               transaction from now
 *   dead        the chip never answers
 * Returns SIM_ERR on a malformed spec. */
int sim_set_faults(struct sim *s, const char *spec);

/* Traffic counters, persisted in the state file (shared by all processes). */
struct sim_counters {
    uint64_t transactions;
    uint64_t bytes_to_chip;
    uint64_t bytes_from_chip;
    uint64_t commands; /* commands executed (ATECC608) or APDUs processed (SE050) */
    uint64_t nacks;
};
int sim_get_counters(struct sim *s, struct sim_counters *c);

/* The message of the last SIM_ERR on this handle. */
const char *sim_last_error(const struct sim *s);

#endif
