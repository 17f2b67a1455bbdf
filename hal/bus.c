/* The bus: picks a backend from the spec string and wraps every transfer in
 * the device lock, so a driver never talks to a chip another thread or
 * process is in the middle of a command sequence with. */
#include "hal/bus.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/bus_backend.h"
#include "hal/log.h"

#define SIM_PREFIX "sim:"
#define DEV_PREFIX "/dev/"

struct bus {
    const struct bus_backend *be;
    void *ctx;
    /* Recursive, so a driver may lock around a sequence whose steps lock
     * again; `depth` (guarded by dev_lock) says when the process-wide half is
     * held: exactly while depth > 0. */
    pthread_mutex_t dev_lock;
    unsigned depth;
    char *name;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Splits the spec into a backend and the target that backend opens. */
static const struct bus_backend *pick_backend(const char *spec, const char **target)
{
    size_t simlen = strlen(SIM_PREFIX), devlen = strlen(DEV_PREFIX);

    if (strncmp(spec, SIM_PREFIX, simlen) == 0 && spec[simlen] != '\0') {
        *target = spec + simlen;
        return &bus_backend_sim;
    }
    if (strncmp(spec, DEV_PREFIX, devlen) == 0 && spec[devlen] != '\0') {
        *target = spec;
        return &bus_backend_linux;
    }
    return NULL;
}

static int init_recursive_mutex(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    int rc;

    if (pthread_mutexattr_init(&attr) != 0)
        return -1;
    rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (rc == 0)
        rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

int bus_open(const char *spec, const struct bus_opts *opts, struct bus **out, char *err,
             size_t errlen)
{
    const struct bus_backend *be;
    const char *target = NULL;
    struct bus *b;
    int rc;

    if (err == NULL)
        errlen = 0;
    if (out == NULL) {
        set_err(err, errlen, "bus_open: no result pointer");
        return BUS_BADSPEC;
    }
    *out = NULL;
    if (spec == NULL) {
        set_err(err, errlen, "no bus given (expected sim:PATH or /dev/i2c-N)");
        return BUS_BADSPEC;
    }
    be = pick_backend(spec, &target);
    if (be == NULL) {
        set_err(err, errlen, "bus '%s' is neither sim:PATH nor a /dev/ I2C device", spec);
        return BUS_BADSPEC;
    }

    b = calloc(1, sizeof *b);
    if (b == NULL) {
        set_err(err, errlen, "out of memory");
        return BUS_NOMEM;
    }
    b->name = strdup(spec);
    if (b->name == NULL || init_recursive_mutex(&b->dev_lock) != 0) {
        free(b->name);
        free(b);
        set_err(err, errlen, "out of memory");
        return BUS_NOMEM;
    }
    b->be = be;
    rc = be->open(target, opts, &b->ctx, err, errlen);
    if (rc != BUS_OK) {
        pthread_mutex_destroy(&b->dev_lock);
        free(b->name);
        free(b);
        return rc;
    }
    *out = b;
    return BUS_OK;
}

void bus_close(struct bus *b)
{
    if (b == NULL)
        return;
    if (b->depth > 0) {
        /* Closing the backend drops the process lock anyway; release our own
         * holds so the mutex is destroyed unlocked. */
        log_error("bus", "%s closed while locked (depth %u)", b->name, b->depth);
        b->be->unlock(b->ctx);
        while (b->depth > 0) {
            b->depth--;
            pthread_mutex_unlock(&b->dev_lock);
        }
    }
    b->be->close(b->ctx);
    pthread_mutex_destroy(&b->dev_lock);
    free(b->name);
    free(b);
}

int bus_lock(struct bus *b)
{
    int rc;

    if (b == NULL)
        return BUS_LOCK;
    if (pthread_mutex_lock(&b->dev_lock) != 0) {
        log_error("bus", "%s: cannot take the thread lock", b->name);
        return BUS_LOCK;
    }
    if (b->depth == UINT_MAX) {
        pthread_mutex_unlock(&b->dev_lock);
        log_error("bus", "%s: lock nested too deeply", b->name);
        return BUS_LOCK;
    }
    if (b->depth == 0) {
        rc = b->be->lock(b->ctx);
        if (rc != BUS_OK) {
            pthread_mutex_unlock(&b->dev_lock);
            return rc;
        }
    }
    b->depth++;
    return BUS_OK;
}

void bus_unlock(struct bus *b)
{
    if (b == NULL)
        return;
    if (b->depth == 0) {
        log_error("bus", "%s: unlock without lock", b->name);
        return;
    }
    b->depth--;
    if (b->depth == 0)
        b->be->unlock(b->ctx);
    pthread_mutex_unlock(&b->dev_lock);
}

int bus_write(struct bus *b, uint8_t addr, const uint8_t *data, size_t len)
{
    int rc;

    if (b == NULL || (data == NULL && len > 0))
        return BUS_IO;
    if (addr > 0x7F) {
        log_error("bus", "%s: 0x%02x is not a 7-bit address", b->name, addr);
        return BUS_IO;
    }
    rc = bus_lock(b);
    if (rc != BUS_OK)
        return rc;
    rc = b->be->write(b->ctx, addr, data, len);
    bus_unlock(b);
    return rc;
}

int bus_read(struct bus *b, uint8_t addr, uint8_t *data, size_t len)
{
    int rc;

    if (b == NULL || (data == NULL && len > 0))
        return BUS_IO;
    if (addr > 0x7F) {
        log_error("bus", "%s: 0x%02x is not a 7-bit address", b->name, addr);
        return BUS_IO;
    }
    rc = bus_lock(b);
    if (rc != BUS_OK)
        return rc;
    rc = b->be->read(b->ctx, addr, data, len);
    bus_unlock(b);
    return rc;
}

void bus_delay_us(struct bus *b, unsigned us)
{
    if (b != NULL)
        b->be->delay_us(b->ctx, us);
}

const char *bus_name(const struct bus *b)
{
    return b != NULL ? b->name : "(no bus)";
}

const char *bus_strerror(int err)
{
    switch (err) {
    case BUS_OK: return "ok";
    case BUS_NACK: return "device did not acknowledge";
    case BUS_IO: return "bus I/O error";
    case BUS_BADSPEC: return "no such bus";
    case BUS_NOMEM: return "out of memory";
    case BUS_LOCK: return "device lock unavailable";
    case BUS_STATE: return "emulator state file unusable";
    default: return "unknown bus error";
    }
}
