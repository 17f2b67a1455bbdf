/* The bus interface: byte transfers to a 7-bit I2C address, and the per-device
 * lock that serialises threads and processes around whole command sequences.
 *
 * Backends: "/dev/i2c-N" (Linux I2C_RDWR ioctl, hal/bus_linux.c) and
 * "sim:PATH" (the built-in chip emulators, hal/bus_sim.c). A chip driver is
 * written against this header only, so the driver that runs on the emulator is
 * the driver that runs on a board. */
#ifndef SECCKI_BUS_H
#define SECCKI_BUS_H

#include <stddef.h>
#include <stdint.h>

enum bus_err {
    BUS_OK = 0,
    BUS_NACK = -1,    /* the addressed device did not acknowledge (busy, asleep, absent) */
    BUS_IO = -2,      /* the transfer failed for another reason */
    BUS_BADSPEC = -3, /* the bus string names nothing we can open */
    BUS_NOMEM = -4,
    BUS_LOCK = -5,    /* the device lock could not be taken */
    BUS_STATE = -6,   /* sim: the state file is corrupt, truncated or of another chip */
};

/* What the bus needs to know about the device behind it. The sim backend uses
 * chip and sim_profile to create a missing state file; sim_faults (may be NULL)
 * injects faults for tests (see hal/sim/sim.h). */
struct bus_opts {
    const char *chip;        /* "atecc608", "se050" */
    const char *sim_profile; /* NULL: the chip's default profile */
    const char *sim_faults;  /* NULL: none; else overridden by $SECCKI_SIM_FAULTS */
};

struct bus;

/* Opens "sim:PATH" or a Linux I2C device node ("/dev/i2c-1"). On failure
 * returns a bus_err and writes a reason into err. */
int bus_open(const char *spec, const struct bus_opts *opts, struct bus **out, char *err,
             size_t errlen);
void bus_close(struct bus *b);

/* One I2C write transaction (START, addr+W, data, STOP). */
int bus_write(struct bus *b, uint8_t addr, const uint8_t *data, size_t len);
/* One I2C read transaction (START, addr+R, len bytes, STOP). */
int bus_read(struct bus *b, uint8_t addr, uint8_t *data, size_t len);

/* Waits as the real bus would (a no-op on the instant emulator). */
void bus_delay_us(struct bus *b, unsigned us);

/* The device lock: a recursive mutex for threads and an advisory file lock for
 * processes. Held around whole command sequences; nests within one thread. */
int bus_lock(struct bus *b);
void bus_unlock(struct bus *b);

/* A short human-readable name of the bus ("sim:/var/tmp/edge.atecc"). */
const char *bus_name(const struct bus *b);

const char *bus_strerror(int err);

#endif
