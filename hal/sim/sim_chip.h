/* What hal/sim/sim.c (state file, locking, counters, faults) needs from one
 * chip emulator. Each emulator (atecc608_emu.c, se050_emu.c) fills one table. */
#ifndef SECCKI_SIM_CHIP_H
#define SECCKI_SIM_CHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-process fault injection state, owned by sim.c, consulted by the chip. */
struct sim_faults {
    unsigned nack;      /* NACK the next N transactions (sim.c applies it) */
    unsigned crc;       /* corrupt a byte of the next N read responses (sim.c) */
    unsigned shortread; /* next N reads deliver only half the bytes (sim.c) */
    unsigned busy;      /* the chip stays busy for N polls after each command */
    unsigned reset;     /* countdown: at 1 the chip loses its volatile state */
    bool dead;          /* never answer (sim.c) */
};

struct sim_ctx {
    struct sim_faults *faults;
    uint64_t *commands; /* the chip increments this once per command/APDU */
    bool dirty;         /* the chip sets this when its state changed */
};

struct sim_chip {
    const char *kind;            /* "atecc608", "se050" */
    const char *default_profile; /* "tls" for atecc608 */
    /* Creates a fresh chip in the given profile; NULL and a message in err on
     * an unknown profile. */
    void *(*create)(const char *profile, char *err, size_t errlen);
    void (*destroy)(void *chip);
    /* Serialises the whole state (volatile included) into a malloc'ed buffer. */
    int (*save)(const void *chip, uint8_t **buf, size_t *len);
    /* Parses a serialised state, checking every length and field; NULL and a
     * message on anything malformed. */
    void *(*load)(const uint8_t *buf, size_t len, char *err, size_t errlen);
    /* Optional: for a chip just created, writes the files it hands out
     * beside its state file at path (e.g. the root certificate of a factory
     * certificate chain), before the state is first saved. 0 on success. */
    int (*publish)(const void *chip, const char *path, char *err, size_t errlen);
    /* One I2C transaction; returns SIM_OK (ACK) or SIM_NACK. */
    int (*write)(void *chip, struct sim_ctx *ctx, uint8_t addr, const uint8_t *data, size_t len);
    int (*read)(void *chip, struct sim_ctx *ctx, uint8_t addr, uint8_t *data, size_t len);
};

extern const struct sim_chip sim_chip_atecc608;
extern const struct sim_chip sim_chip_se050;

#endif
