/* The emulator backend: "sim:PATH" is one emulated chip whose state lives in
 * PATH (hal/sim/sim.h). The process half of the device lock is the
 * emulator's own bracket (sim_begin/sim_end), which flocks PATH.lock and
 * reloads the state another process may have changed, so a locked command
 * sequence sees one consistent chip. */
#include <stdio.h>
#include <stdlib.h>

#include "hal/bus_backend.h"
#include "hal/log.h"
#include "hal/sim/sim.h"

struct sim_bus {
    struct sim *sim;
};

static int simbus_open(const char *target, const struct bus_opts *opts, void **ctx, char *err,
                       size_t errlen)
{
    struct sim_bus *sb;
    struct sim *s = NULL;
    const char *faults;
    char msg[256];

    if (opts == NULL || opts->chip == NULL || opts->chip[0] == '\0') {
        snprintf(err, errlen, "sim:%s: the emulator needs the chip kind", target);
        return BUS_BADSPEC;
    }
    msg[0] = '\0';
    if (sim_open(target, opts->chip, opts->sim_profile, &s, msg, sizeof msg) != SIM_OK) {
        snprintf(err, errlen, "sim:%s: %s", target, msg[0] ? msg : "cannot open the state file");
        return BUS_STATE;
    }
    /* The environment wins so a test can inject faults into a process whose
     * config it does not control. */
    faults = getenv("SECCKI_SIM_FAULTS");
    if (faults == NULL)
        faults = opts->sim_faults;
    if (faults != NULL && faults[0] != '\0' && sim_set_faults(s, faults) != SIM_OK) {
        snprintf(err, errlen, "sim:%s: bad fault list '%s': %s", target, faults,
                 sim_last_error(s));
        sim_close(s);
        return BUS_BADSPEC;
    }
    sb = calloc(1, sizeof *sb);
    if (sb == NULL) {
        sim_close(s);
        snprintf(err, errlen, "out of memory");
        return BUS_NOMEM;
    }
    sb->sim = s;
    *ctx = sb;
    return BUS_OK;
}

static void simbus_close(void *ctx)
{
    struct sim_bus *sb = ctx;

    sim_close(sb->sim);
    free(sb);
}

static int map_status(const struct sim_bus *sb, int rc, const char *what, uint8_t addr)
{
    switch (rc) {
    case SIM_OK: return BUS_OK;
    case SIM_NACK: return BUS_NACK;
    default:
        log_error("bus", "sim: %s to 0x%02x: %s", what, addr, sim_last_error(sb->sim));
        return BUS_IO;
    }
}

static int simbus_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    struct sim_bus *sb = ctx;

    return map_status(sb, sim_write(sb->sim, addr, data, len), "write", addr);
}

static int simbus_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    struct sim_bus *sb = ctx;

    return map_status(sb, sim_read(sb->sim, addr, data, len), "read", addr);
}

static void simbus_delay_us(void *ctx, unsigned us)
{
    /* The emulator answers at once; waiting would only slow the tests. */
    (void)ctx;
    (void)us;
}

static int simbus_lock(void *ctx)
{
    struct sim_bus *sb = ctx;

    if (sim_begin(sb->sim) != SIM_OK) {
        /* Taking the bracket loads the state, so a failure here is almost
         * always a state file that cannot be used. */
        log_error("bus", "sim: cannot begin: %s", sim_last_error(sb->sim));
        return BUS_STATE;
    }
    return BUS_OK;
}

static void simbus_unlock(void *ctx)
{
    struct sim_bus *sb = ctx;

    if (sim_end(sb->sim) != SIM_OK)
        log_error("bus", "sim: cannot save the state: %s", sim_last_error(sb->sim));
}

const struct bus_backend bus_backend_sim = {
    .kind = "sim",
    .open = simbus_open,
    .close = simbus_close,
    .write = simbus_write,
    .read = simbus_read,
    .delay_us = simbus_delay_us,
    .lock = simbus_lock,
    .unlock = simbus_unlock,
};
