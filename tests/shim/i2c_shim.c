/* An LD_PRELOAD library that plays /dev/i2c-N for tests: the Linux bus
 * backend, unchanged, opens a device node named in $SECCKI_I2C_SHIM and its
 * ioctls and reads/writes are answered by the chip emulators (hal/sim/sim.h).
 *
 *   SECCKI_I2C_SHIM="/dev/i2c-7=/tmp/a.atecc:atecc608[:profile][,/dev/i2c-8=...]"
 *
 * The node becomes a real fd of "<state>.i2cdev" (created), so flock() on it
 * works across processes exactly as on a device node. Everything else goes to
 * the next definition (libc) untouched. This code runs inside foreign
 * programs (pkcs11-tool, openssl), hence: lazy set-up, one recursive mutex
 * (the emulator's own file I/O re-enters open/read/write/close on this
 * thread), a lock-free check so unrelated I/O never waits, and silence unless
 * $SECCKI_LOG asks for messages. Interposed functions have no context
 * argument, so the state below is necessarily process-global. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "hal/log.h"
#include "hal/sim/sim.h"
#include "hal/sim/sim_registry.h"

#define SHIM_MAX_DEVS 8
#define SHIM_MAX_FDS 64
#define SHIM_XFER_MAX 8192 /* i2c-dev caps read()/write() at this */
#ifndef I2C_RDWR_IOCTL_MAX_MSGS
#define I2C_RDWR_IOCTL_MAX_MSGS 42
#endif

/* Fortified callers reach these; glibc declares them only under fortify. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);

struct real_fns {
    int (*open)(const char *, int, ...);
    int (*open64)(const char *, int, ...);
    int (*openat)(int, const char *, int, ...);
    int (*openat64)(int, const char *, int, ...);
    int (*open_2)(const char *, int);
    int (*open64_2)(const char *, int);
    int (*openat_2)(int, const char *, int);
    int (*openat64_2)(int, const char *, int);
    int (*ioctl)(int, unsigned long, ...);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*read_chk)(int, void *, size_t, size_t);
    ssize_t (*write)(int, const void *, size_t);
    int (*close)(int);
};

struct shim_dev {
    char node[64];        /* "/dev/i2c-7" */
    char state[PATH_MAX]; /* emulator state file */
    char chip[16];
    char profile[32];     /* empty: the chip's default */
    struct sim *sim;      /* open while an fd refers to this node */
    unsigned users;
};

struct shim_fd {
    int dev;       /* index in devs */
    uint16_t addr; /* I2C_SLAVE address for read()/write() */
    dev_t st_dev;  /* identity of the stand-in file, to notice an fd number */
    ino_t st_ino;  /* that was closed behind our back and reused */
};

static struct {
    pthread_once_t once;
    struct real_fns real;
    pthread_mutex_t shim_mutex; /* guards everything below but fdslot */
    int configured;
    struct shim_dev devs[SHIM_MAX_DEVS];
    size_t ndevs;
    /* fd + 1 of each fd we serve, 0 when free: read lock-free on every
     * read()/write()/close() of the process. */
    _Atomic int fdslot[SHIM_MAX_FDS];
    struct shim_fd fds[SHIM_MAX_FDS];
} shim = {
    .once = PTHREAD_ONCE_INIT,
    .shim_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP,
};

static void shim_log(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void shim_log(enum log_level level, const char *fmt, ...)
{
    const char *env = getenv("SECCKI_LOG");
    char msg[512];
    va_list ap;

    /* Foreign programs' output must stay theirs unless logging was asked for. */
    if (env == NULL || env[0] == '\0' || !log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_msg(level, "i2c-shim", "%s", msg);
}

#define RESOLVE(field, name) (*(void **)&shim.real.field = dlsym(RTLD_NEXT, name))

static void resolve_real(void)
{
    RESOLVE(open, "open");
    RESOLVE(open64, "open64");
    RESOLVE(openat, "openat");
    RESOLVE(openat64, "openat64");
    RESOLVE(open_2, "__open_2");
    RESOLVE(open64_2, "__open64_2");
    RESOLVE(openat_2, "__openat_2");
    RESOLVE(openat64_2, "__openat64_2");
    RESOLVE(ioctl, "ioctl");
    RESOLVE(read, "read");
    RESOLVE(read_chk, "__read_chk");
    RESOLVE(write, "write");
    RESOLVE(close, "close");
}

static const struct real_fns *real(void)
{
    pthread_once(&shim.once, resolve_real);
    return &shim.real;
}

#define MISSING(fn)                                                                                \
    do {                                                                                           \
        if ((fn) == NULL) {                                                                        \
            errno = ENOSYS;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* Copies src into dst if it fits; 0 on success. */
static int copy_str(char *dst, size_t dstsize, const char *src, size_t len)
{
    if (len >= dstsize)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* One "NODE=STATE:CHIP[:PROFILE]" entry. The chip is found from the right,
 * so a state path may itself hold ':'. */
static int parse_entry(const char *s, size_t len, struct shim_dev *d)
{
    const char *eq = memchr(s, '=', len), *end = s + len, *c1, *c2 = NULL;

    memset(d, 0, sizeof *d);
    if (eq == NULL || eq == s || strncmp(s, "/dev/", 5) != 0)
        return -1;
    if (copy_str(d->node, sizeof d->node, s, (size_t)(eq - s)) != 0)
        return -1;
    c1 = NULL;
    for (const char *p = end; p > eq + 1; p--) {
        if (p[-1] == ':') {
            c1 = p - 1;
            break;
        }
    }
    if (c1 == NULL)
        return -1;
    if (copy_str(d->chip, sizeof d->chip, c1 + 1, (size_t)(end - c1 - 1)) == 0 &&
        sim_chip_find(d->chip) != NULL)
        return copy_str(d->state, sizeof d->state, eq + 1, (size_t)(c1 - eq - 1)) == 0 &&
                       d->state[0] != '\0'
                   ? 0
                   : -1;
    /* last field was a profile; the chip is the one before it */
    for (const char *p = c1; p > eq + 1; p--) {
        if (p[-1] == ':') {
            c2 = p - 1;
            break;
        }
    }
    if (c2 == NULL || copy_str(d->profile, sizeof d->profile, c1 + 1, (size_t)(end - c1 - 1)) ||
        copy_str(d->chip, sizeof d->chip, c2 + 1, (size_t)(c1 - c2 - 1)) ||
        sim_chip_find(d->chip) == NULL ||
        copy_str(d->state, sizeof d->state, eq + 1, (size_t)(c2 - eq - 1)) ||
        d->state[0] == '\0')
        return -1;
    return 0;
}

/* Reads $SECCKI_I2C_SHIM once; called with the mutex held. */
static void configure(void)
{
    const char *env, *p;

    if (shim.configured)
        return;
    shim.configured = 1;
    env = getenv("SECCKI_I2C_SHIM");
    if (env == NULL)
        return;
    for (p = env; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

        if (len > 0) {
            if (shim.ndevs == SHIM_MAX_DEVS)
                shim_log(LOG_ERROR, "more than %d devices in SECCKI_I2C_SHIM", SHIM_MAX_DEVS);
            else if (parse_entry(p, len, &shim.devs[shim.ndevs]) != 0)
                shim_log(LOG_ERROR, "bad SECCKI_I2C_SHIM entry '%.*s' (NODE=STATE:CHIP[:PROFILE])",
                         (int)len, p);
            else
                shim.ndevs++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
}

static int find_dev(const char *path)
{
    for (size_t i = 0; i < shim.ndevs; i++)
        if (strcmp(shim.devs[i].node, path) == 0)
            return (int)i;
    return -1;
}

static int find_slot(int fd)
{
    if (fd < 0)
        return -1;
    for (int i = 0; i < SHIM_MAX_FDS; i++)
        if (atomic_load_explicit(&shim.fdslot[i], memory_order_acquire) == fd + 1)
            return i;
    return -1;
}

static void release_dev(struct shim_dev *d)
{
    if (d->users > 0 && --d->users == 0 && d->sim != NULL) {
        sim_close(d->sim);
        d->sim = NULL;
    }
}

/* The slot serving fd, checked against the file it must be; a slot whose fd
 * number now names another file (closed by a path we do not see, such as
 * close_range or fclose) is dropped. Called with the mutex held. */
static int own_slot(int fd)
{
    int slot = find_slot(fd);
    struct stat st;

    if (slot < 0)
        return -1;
    if (fstat(fd, &st) == 0 && st.st_dev == shim.fds[slot].st_dev &&
        st.st_ino == shim.fds[slot].st_ino)
        return slot;
    atomic_store_explicit(&shim.fdslot[slot], 0, memory_order_release);
    release_dev(&shim.devs[shim.fds[slot].dev]);
    return -1;
}

/* Opens the stand-in for device node `dev`; called with the mutex held. */
static int open_dev(int dev, int flags)
{
    struct shim_dev *d = &shim.devs[dev];
    const struct real_fns *r = real();
    char path[PATH_MAX + 8], err[256];
    const char *faults;
    struct stat st;
    int fd, slot = -1;

    if ((flags & O_ACCMODE) != O_RDWR && (flags & O_ACCMODE) != O_RDONLY &&
        (flags & O_ACCMODE) != O_WRONLY) {
        errno = EINVAL;
        return -1;
    }
    MISSING(r->open);
    if (snprintf(path, sizeof path, "%s.i2cdev", d->state) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (int i = 0; i < SHIM_MAX_FDS && slot < 0; i++)
        if (atomic_load(&shim.fdslot[i]) == 0)
            slot = i;
    if (slot < 0) {
        errno = EMFILE;
        return -1;
    }
    if (d->sim == NULL) {
        err[0] = '\0';
        if (sim_open(d->state, d->chip, d->profile[0] ? d->profile : NULL, &d->sim, err,
                     sizeof err) != SIM_OK) {
            shim_log(LOG_ERROR, "%s: %s", d->node, err);
            d->sim = NULL;
            errno = ENODEV;
            return -1;
        }
        /* Faults reach the Linux backend's error paths the same way they
         * reach the sim: backend. */
        faults = getenv("SECCKI_SIM_FAULTS");
        if (faults != NULL && faults[0] != '\0' && sim_set_faults(d->sim, faults) != SIM_OK)
            shim_log(LOG_ERROR, "%s: bad SECCKI_SIM_FAULTS '%s'", d->node, faults);
    }
    fd = r->open(path, O_RDWR | O_CREAT | (flags & (O_CLOEXEC | O_NONBLOCK)), 0600);
    if (fd >= 0 && fstat(fd, &st) != 0) {
        int e = errno;
        r->close(fd);
        errno = e;
        fd = -1;
    }
    if (fd < 0) {
        int e = errno;
        if (d->users == 0) {
            sim_close(d->sim);
            d->sim = NULL;
        }
        errno = e;
        return -1;
    }
    d->users++;
    shim.fds[slot].dev = dev;
    shim.fds[slot].addr = 0;
    shim.fds[slot].st_dev = st.st_dev;
    shim.fds[slot].st_ino = st.st_ino;
    atomic_store_explicit(&shim.fdslot[slot], fd + 1, memory_order_release);
    shim_log(LOG_DEBUG, "%s opened as fd %d", d->node, fd);
    return fd;
}

/* Returns -2 when `path` is not ours (the caller then asks libc). */
static int maybe_open(int dirfd, const char *path, int flags)
{
    int dev, fd = -2;

    (void)dirfd; /* only absolute paths are served, and they ignore dirfd */
    if (path == NULL || strncmp(path, "/dev/", 5) != 0)
        return -2;
    pthread_mutex_lock(&shim.shim_mutex);
    configure();
    dev = find_dev(path);
    if (dev >= 0)
        fd = open_dev(dev, flags);
    pthread_mutex_unlock(&shim.shim_mutex);
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, unsigned) : 0;
}

int open(const char *path, int flags, ...)
{
    int fd = maybe_open(AT_FDCWD, path, flags);
    mode_t mode;
    va_list ap;

    if (fd != -2)
        return fd;
    va_start(ap, flags);
    mode = mode_arg(flags, ap);
    va_end(ap);
    MISSING(real()->open);
    return real()->open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    int fd = maybe_open(AT_FDCWD, path, flags);
    mode_t mode;
    va_list ap;

    if (fd != -2)
        return fd;
    va_start(ap, flags);
    mode = mode_arg(flags, ap);
    va_end(ap);
    MISSING(real()->open64);
    return real()->open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    int fd = maybe_open(dirfd, path, flags);
    mode_t mode;
    va_list ap;

    if (fd != -2)
        return fd;
    va_start(ap, flags);
    mode = mode_arg(flags, ap);
    va_end(ap);
    MISSING(real()->openat);
    return real()->openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    int fd = maybe_open(dirfd, path, flags);
    mode_t mode;
    va_list ap;

    if (fd != -2)
        return fd;
    va_start(ap, flags);
    mode = mode_arg(flags, ap);
    va_end(ap);
    MISSING(real()->openat64);
    return real()->openat64(dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags)
{
    int fd = maybe_open(AT_FDCWD, path, flags);

    if (fd != -2)
        return fd;
    MISSING(real()->open_2);
    return real()->open_2(path, flags);
}

int __open64_2(const char *path, int flags)
{
    int fd = maybe_open(AT_FDCWD, path, flags);

    if (fd != -2)
        return fd;
    MISSING(real()->open64_2);
    return real()->open64_2(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
    int fd = maybe_open(dirfd, path, flags);

    if (fd != -2)
        return fd;
    MISSING(real()->openat_2);
    return real()->openat_2(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
    int fd = maybe_open(dirfd, path, flags);

    if (fd != -2)
        return fd;
    MISSING(real()->openat64_2);
    return real()->openat64_2(dirfd, path, flags);
}

/* One message, as an adapter does it: an address that does not answer
 * fails the transfer with ENXIO. */
static int xfer(struct shim_dev *d, uint16_t addr, int is_read, uint8_t *buf, size_t len)
{
    int rc = is_read ? sim_read(d->sim, (uint8_t)addr, buf, len)
                     : sim_write(d->sim, (uint8_t)addr, buf, len);

    if (rc == SIM_OK)
        return 0;
    if (rc == SIM_NACK) {
        errno = ENXIO;
        return -1;
    }
    shim_log(LOG_ERROR, "%s: %s", d->node, sim_last_error(d->sim));
    errno = EIO;
    return -1;
}

static int do_rdwr(struct shim_dev *d, struct i2c_rdwr_ioctl_data *data)
{
    if (data == NULL || data->msgs == NULL || data->nmsgs == 0 ||
        data->nmsgs > I2C_RDWR_IOCTL_MAX_MSGS) {
        errno = EINVAL;
        return -1;
    }
    for (uint32_t i = 0; i < data->nmsgs; i++) {
        const struct i2c_msg *m = &data->msgs[i];
        /* Only plain 7-bit messages: we advertise I2C_FUNC_I2C and nothing else. */
        if ((m->flags & ~I2C_M_RD) != 0 || m->addr > 0x7F || (m->len > 0 && m->buf == NULL)) {
            errno = EINVAL;
            return -1;
        }
    }
    for (uint32_t i = 0; i < data->nmsgs; i++) {
        struct i2c_msg *m = &data->msgs[i];
        if (xfer(d, m->addr, (m->flags & I2C_M_RD) != 0, m->buf, m->len) != 0)
            return -1;
    }
    return (int)data->nmsgs;
}

static int shim_ioctl(int slot, unsigned long request, unsigned long arg)
{
    struct shim_fd *f = &shim.fds[slot];
    struct shim_dev *d = &shim.devs[f->dev];

    switch (request) {
    case I2C_SLAVE:
    case I2C_SLAVE_FORCE:
        if (arg > 0x7F) {
            errno = EINVAL;
            return -1;
        }
        f->addr = (uint16_t)arg;
        return 0;
    case I2C_FUNCS:
        if (arg == 0) {
            errno = EFAULT;
            return -1;
        }
        *(unsigned long *)(uintptr_t)arg = I2C_FUNC_I2C;
        return 0;
    case I2C_RDWR:
        return do_rdwr(d, (struct i2c_rdwr_ioctl_data *)(uintptr_t)arg);
    case I2C_TENBIT:
        if (arg != 0) {
            errno = EINVAL;
            return -1;
        }
        return 0;
    case I2C_TIMEOUT:
    case I2C_RETRIES:
    case I2C_PEC:
        return 0;
    case I2C_SMBUS:
        errno = EOPNOTSUPP;
        return -1;
    default:
        errno = ENOTTY;
        return -1;
    }
}

int ioctl(int fd, unsigned long request, ...)
{
    unsigned long arg;
    int slot, rc;
    va_list ap;

    /* Every ioctl request passes at most one word; reading it as such is
     * what the kernel's own calling convention does. */
    va_start(ap, request);
    arg = va_arg(ap, unsigned long);
    va_end(ap);
    if (find_slot(fd) < 0) {
        MISSING(real()->ioctl);
        return real()->ioctl(fd, request, arg);
    }
    pthread_mutex_lock(&shim.shim_mutex);
    slot = own_slot(fd);
    if (slot < 0) {
        pthread_mutex_unlock(&shim.shim_mutex);
        MISSING(real()->ioctl);
        return real()->ioctl(fd, request, arg);
    }
    rc = shim_ioctl(slot, request, arg);
    pthread_mutex_unlock(&shim.shim_mutex);
    return rc;
}

/* read()/write() on the node talk to the I2C_SLAVE address, as i2c-dev.
 * Sets *ours to 0 (and does nothing) when fd is not one of ours. */
static ssize_t rw(int fd, int is_read, uint8_t *buf, size_t count, int *ours)
{
    ssize_t rc = -1;
    int slot;

    pthread_mutex_lock(&shim.shim_mutex);
    slot = own_slot(fd);
    *ours = slot >= 0;
    if (slot >= 0) {
        struct shim_fd *f = &shim.fds[slot];
        if (count > SHIM_XFER_MAX)
            count = SHIM_XFER_MAX;
        if (xfer(&shim.devs[f->dev], f->addr, is_read, buf, count) == 0)
            rc = (ssize_t)count;
    }
    pthread_mutex_unlock(&shim.shim_mutex);
    return rc;
}

ssize_t read(int fd, void *buf, size_t count)
{
    int ours = 0;
    ssize_t rc;

    if (find_slot(fd) >= 0) {
        rc = rw(fd, 1, buf, count, &ours);
        if (ours)
            return rc;
    }
    MISSING(real()->read);
    return real()->read(fd, buf, count);
}

ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen)
{
    int ours = 0;
    ssize_t rc;

    if (nbytes > buflen || find_slot(fd) < 0) {
        MISSING(real()->read_chk);
        return real()->read_chk(fd, buf, nbytes, buflen); /* also reports the overflow */
    }
    rc = rw(fd, 1, buf, nbytes, &ours);
    if (ours)
        return rc;
    MISSING(real()->read_chk);
    return real()->read_chk(fd, buf, nbytes, buflen);
}

ssize_t write(int fd, const void *buf, size_t count)
{
    int ours = 0;
    ssize_t rc;

    if (find_slot(fd) >= 0) {
        /* the emulator only reads what it is given to write */
        rc = rw(fd, 0, (uint8_t *)(uintptr_t)buf, count, &ours);
        if (ours)
            return rc;
    }
    MISSING(real()->write);
    return real()->write(fd, buf, count);
}

int close(int fd)
{
    int slot;

    if (find_slot(fd) >= 0) {
        pthread_mutex_lock(&shim.shim_mutex);
        slot = own_slot(fd);
        if (slot >= 0) {
            atomic_store_explicit(&shim.fdslot[slot], 0, memory_order_release);
            release_dev(&shim.devs[shim.fds[slot].dev]);
            shim_log(LOG_DEBUG, "fd %d closed", fd);
        }
        pthread_mutex_unlock(&shim.shim_mutex);
    }
    MISSING(real()->close);
    return real()->close(fd);
}
