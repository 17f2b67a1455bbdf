/* The Linux i2c-dev backend: each transaction is one I2C_RDWR ioctl with a
 * single message, so the adapter puts START, address, data and STOP on the
 * wire exactly as the chip datasheets describe; the address travels in the
 * message, so no I2C_SLAVE state is kept on the fd. The process half of the
 * device lock is flock() on the device node, which every process opening the
 * same /dev/i2c-N shares without any shared-memory segment. */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hal/bus_backend.h"
#include "hal/log.h"

/* Signals may interrupt a syscall; retry that many times, then give up. */
#define EINTR_RETRIES 100
#define MSG_LEN_MAX 0xFFFFu /* struct i2c_msg.len is 16 bits */

struct linux_bus {
    int fd;
    char *path;
};

static int linux_open(const char *target, const struct bus_opts *opts, void **ctx, char *err,
                      size_t errlen)
{
    struct linux_bus *lb;
    unsigned long funcs = 0;
    int fd = -1, e;

    (void)opts;
    for (int i = 0; i < EINTR_RETRIES; i++) {
        fd = open(target, O_RDWR | O_CLOEXEC);
        if (fd >= 0 || errno != EINTR)
            break;
    }
    if (fd < 0) {
        e = errno;
        snprintf(err, errlen, "cannot open %s: %s", target, strerror(e));
        return e == ENOENT || e == ENODEV || e == ENXIO ? BUS_BADSPEC : BUS_IO;
    }
    if (ioctl(fd, I2C_FUNCS, &funcs) < 0) {
        e = errno;
        snprintf(err, errlen, "%s is not an I2C adapter (I2C_FUNCS: %s)", target, strerror(e));
        close(fd);
        return BUS_BADSPEC;
    }
    if ((funcs & I2C_FUNC_I2C) == 0) {
        snprintf(err, errlen,
                 "%s cannot do plain I2C transfers (SMBus-only adapter, functionality 0x%lx)",
                 target, funcs);
        close(fd);
        return BUS_BADSPEC;
    }

    lb = calloc(1, sizeof *lb);
    if (lb != NULL)
        lb->path = strdup(target);
    if (lb == NULL || lb->path == NULL) {
        free(lb);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return BUS_NOMEM;
    }
    lb->fd = fd;
    *ctx = lb;
    return BUS_OK;
}

static void linux_close(void *ctx)
{
    struct linux_bus *lb = ctx;

    close(lb->fd);
    free(lb->path);
    free(lb);
}

static int linux_xfer(struct linux_bus *lb, uint8_t addr, uint16_t flags, uint8_t *buf,
                      size_t len)
{
    const char *what = (flags & I2C_M_RD) ? "read" : "write";
    struct i2c_msg msg;
    struct i2c_rdwr_ioctl_data rdwr;

    if (len > MSG_LEN_MAX) {
        log_error("bus", "%s: %s of %zu bytes to 0x%02x exceeds one I2C message", lb->path,
                  what, len, addr);
        return BUS_IO;
    }
    memset(&msg, 0, sizeof msg);
    msg.addr = addr;
    msg.flags = flags;
    msg.len = (uint16_t)len;
    msg.buf = buf;
    rdwr.msgs = &msg;
    rdwr.nmsgs = 1;

    for (int i = 0; i < EINTR_RETRIES; i++) {
        int rc = ioctl(lb->fd, I2C_RDWR, &rdwr);
        if (rc == 1)
            return BUS_OK;
        if (rc >= 0) {
            log_error("bus", "%s: %s to 0x%02x: adapter did %d of 1 messages", lb->path, what,
                      addr, rc);
            return BUS_IO;
        }
        switch (errno) {
        case EINTR:
            continue;
        case ENXIO:
        case EREMOTEIO:
            /* Adapters report an unacknowledged address with one of these;
             * a sleeping or busy chip NACKs, so this is routine. */
            log_debug("bus", "%s: %s to 0x%02x: NACK", lb->path, what, addr);
            return BUS_NACK;
        default:
            log_error("bus", "%s: %s to 0x%02x: %s", lb->path, what, addr, strerror(errno));
            return BUS_IO;
        }
    }
    log_error("bus", "%s: %s to 0x%02x: interrupted %d times", lb->path, what, addr,
              EINTR_RETRIES);
    return BUS_IO;
}

static int linux_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    /* i2c_msg.buf is not const; the kernel only reads it for a write. */
    return linux_xfer(ctx, addr, 0, (uint8_t *)(uintptr_t)data, len);
}

static int linux_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    return linux_xfer(ctx, addr, I2C_M_RD, data, len);
}

static void linux_delay_us(void *ctx, unsigned us)
{
    struct timespec req, rem;

    (void)ctx;
    req.tv_sec = us / 1000000u;
    req.tv_nsec = (long)(us % 1000000u) * 1000L;
    /* Each interruption leaves less to sleep, so this ends. */
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

static int linux_lock(void *ctx)
{
    struct linux_bus *lb = ctx;

    for (int i = 0; i < EINTR_RETRIES; i++) {
        if (flock(lb->fd, LOCK_EX) == 0)
            return BUS_OK;
        if (errno != EINTR)
            break;
    }
    log_error("bus", "%s: cannot lock the device: %s", lb->path, strerror(errno));
    return BUS_LOCK;
}

static void linux_unlock(void *ctx)
{
    struct linux_bus *lb = ctx;

    if (flock(lb->fd, LOCK_UN) != 0)
        log_error("bus", "%s: cannot unlock the device: %s", lb->path, strerror(errno));
}

const struct bus_backend bus_backend_linux = {
    .kind = "linux",
    .open = linux_open,
    .close = linux_close,
    .write = linux_write,
    .read = linux_read,
    .delay_us = linux_delay_us,
    .lock = linux_lock,
    .unlock = linux_unlock,
};
