/* What hal/bus.c needs from one bus backend (Linux i2c-dev, emulator).
 * Internal to hal/: drivers see only hal/bus.h. */
#ifndef SECCKI_BUS_BACKEND_H
#define SECCKI_BUS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "hal/bus.h"

struct bus_backend {
    const char *kind; /* "linux", "sim" */
    /* Opens the device named by `target` (the spec without any "sim:" prefix);
     * returns a bus_err and a reason in err. */
    int (*open)(const char *target, const struct bus_opts *opts, void **ctx, char *err,
                size_t errlen);
    void (*close)(void *ctx);
    int (*write)(void *ctx, uint8_t addr, const uint8_t *data, size_t len);
    int (*read)(void *ctx, uint8_t addr, uint8_t *data, size_t len);
    void (*delay_us)(void *ctx, unsigned us);
    /* The process-wide half of the device lock; bus.c calls these only on the
     * outermost bus_lock/bus_unlock of a thread, under its own mutex. */
    int (*lock)(void *ctx);
    void (*unlock)(void *ctx);
};

extern const struct bus_backend bus_backend_linux;
extern const struct bus_backend bus_backend_sim;

#endif
