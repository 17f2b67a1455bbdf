/* The Linux backend against a fake i2c-dev: this binary defines open(),
 * ioctl() and flock(), so hal/bus_linux.c, unchanged, talks to a plain temp
 * file whose ioctls are answered here. Everything checked is what the
 * kernel would receive: the i2c_msg address, flags, length and bytes. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/bus.h"

#define FAKE_DEV "/dev/i2c-fake"
#define MAX_RECORDED 16

struct recorded_msg {
    uint16_t addr;
    uint16_t flags;
    uint16_t len;
    uint8_t buf[64];
};

/* The fake adapter. Global because open()/ioctl() have no context argument. */
static struct {
    char backing[64];     /* temp file standing in for the device node */
    int fd;               /* fd handed out for FAKE_DEV, -1 when closed */
    int open_flags;
    unsigned long funcs;  /* what I2C_FUNCS reports */
    int funcs_errno;      /* nonzero: I2C_FUNCS fails with it */
    int errnos[8];        /* I2C_RDWR outcomes in order: 0 = success */
    size_t nerrnos, next_errno;
    uint8_t reply[64];    /* the bytes a read returns */
    unsigned rdwr_calls;
    unsigned bad_nmsgs;   /* I2C_RDWR calls with nmsgs != 1 */
    struct recorded_msg msgs[MAX_RECORDED];
    size_t nmsgs;
    unsigned flock_ex, flock_un;
    pthread_mutex_t mu;   /* guards msgs when two threads transfer */
} fake = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

static void *real_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p == NULL)
        abort();
    return p;
}

int open(const char *path, int flags, ...)
{
    int (*real_open)(const char *, int, ...);
    mode_t mode = 0;
    va_list ap;

    *(void **)&real_open = real_sym("open");
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, unsigned);
        va_end(ap);
    }
    if (strcmp(path, FAKE_DEV) == 0) {
        fake.open_flags = flags;
        fake.fd = real_open(fake.backing, O_RDWR | O_CLOEXEC);
        return fake.fd;
    }
    return real_open(path, flags, mode);
}

int flock(int fd, int op)
{
    int (*real_flock)(int, int);

    *(void **)&real_flock = real_sym("flock");
    if (fd == fake.fd && fd >= 0) {
        if ((op & ~LOCK_NB) == LOCK_EX)
            fake.flock_ex++;
        else if (op == LOCK_UN)
            fake.flock_un++;
    }
    return real_flock(fd, op);
}

static int fake_rdwr(struct i2c_rdwr_ioctl_data *d)
{
    int e;

    pthread_mutex_lock(&fake.mu);
    fake.rdwr_calls++;
    e = fake.next_errno < fake.nerrnos ? fake.errnos[fake.next_errno++] : 0;
    if (d->nmsgs != 1)
        fake.bad_nmsgs++;
    if (e == 0) {
        for (uint32_t i = 0; i < d->nmsgs && fake.nmsgs < MAX_RECORDED; i++) {
            struct i2c_msg *m = &d->msgs[i];
            struct recorded_msg *r = &fake.msgs[fake.nmsgs++];
            r->addr = m->addr;
            r->flags = m->flags;
            r->len = m->len;
            if (m->flags & I2C_M_RD)
                memcpy(m->buf, fake.reply, m->len < sizeof fake.reply ? m->len : sizeof fake.reply);
            memcpy(r->buf, m->buf, m->len < sizeof r->buf ? m->len : sizeof r->buf);
        }
    }
    pthread_mutex_unlock(&fake.mu);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return (int)d->nmsgs;
}

int ioctl(int fd, unsigned long request, ...)
{
    int (*real_ioctl)(int, unsigned long, ...);
    void *arg;
    va_list ap;

    va_start(ap, request);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd != fake.fd || fd < 0) {
        *(void **)&real_ioctl = real_sym("ioctl");
        return real_ioctl(fd, request, arg);
    }
    switch (request) {
    case I2C_FUNCS:
        if (fake.funcs_errno != 0) {
            errno = fake.funcs_errno;
            return -1;
        }
        *(unsigned long *)arg = fake.funcs;
        return 0;
    case I2C_RDWR:
        return fake_rdwr(arg);
    default:
        errno = ENOTTY;
        return -1;
    }
}

static int setup(void **state)
{
    int fd;

    (void)state;
    pthread_mutex_lock(&fake.mu);
    snprintf(fake.backing, sizeof fake.backing, "/tmp/seccki-test-i2c-XXXXXX");
    fd = mkstemp(fake.backing);
    assert_true(fd >= 0);
    close(fd);
    fake.fd = -1;
    fake.open_flags = 0;
    fake.funcs = I2C_FUNC_I2C | I2C_FUNC_SMBUS_EMUL;
    fake.funcs_errno = 0;
    fake.nerrnos = fake.next_errno = 0;
    fake.rdwr_calls = fake.bad_nmsgs = 0;
    fake.nmsgs = 0;
    fake.flock_ex = fake.flock_un = 0;
    memset(fake.reply, 0, sizeof fake.reply);
    pthread_mutex_unlock(&fake.mu);
    setenv("SECCKI_LOG", "none", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(fake.backing);
    fake.fd = -1;
    return 0;
}

static struct bus *open_fake(void)
{
    struct bus *b = NULL;
    char err[256] = "";
    struct bus_opts opts = {.chip = "atecc608"};

    assert_int_equal(bus_open(FAKE_DEV, &opts, &b, err, sizeof err), BUS_OK);
    assert_non_null(b);
    return b;
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static void test_open_flags_and_name(void **state)
{
    struct bus *b;

    (void)state;
    b = open_fake();
    assert_int_equal(fake.open_flags & O_ACCMODE, O_RDWR);
    assert_true(fake.open_flags & O_CLOEXEC);
    assert_string_equal(bus_name(b), FAKE_DEV);
    assert_true(fd_is_open(fake.fd));
    int fd = fake.fd;
    bus_close(b);
    assert_false(fd_is_open(fd));
}

static void test_bad_specs(void **state)
{
    static const char *const specs[] = {"i2c-1", "", "sim:", "/dev/", "dev/i2c-1", "SIM:/x"};
    struct bus *b = (struct bus *)&b;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char want[128];
        err[0] = '\0';
        assert_int_equal(bus_open(specs[i], NULL, &b, err, sizeof err), BUS_BADSPEC);
        assert_null(b);
        snprintf(want, sizeof want, "'%s'", specs[i]);
        assert_non_null(strstr(err, want));
    }
    assert_int_equal(bus_open(NULL, NULL, &b, err, sizeof err), BUS_BADSPEC);
    assert_int_equal(bus_open("i2c-1", NULL, &b, NULL, 0), BUS_BADSPEC);
}

static void test_missing_device(void **state)
{
    struct bus *b;
    char err[256] = "";

    (void)state;
    assert_int_equal(bus_open("/dev/i2c-does-not-exist-99", NULL, &b, err, sizeof err),
                     BUS_BADSPEC);
    assert_non_null(strstr(err, "cannot open /dev/i2c-does-not-exist-99"));
}

static void test_funcs_without_i2c(void **state)
{
    struct bus *b;
    char err[256] = "";

    (void)state;
    fake.funcs = I2C_FUNC_SMBUS_BYTE | I2C_FUNC_SMBUS_BYTE_DATA;
    assert_int_equal(bus_open(FAKE_DEV, NULL, &b, err, sizeof err), BUS_BADSPEC);
    assert_null(b);
    assert_non_null(strstr(err, FAKE_DEV " cannot do plain I2C transfers"));
    assert_false(fd_is_open(fake.fd));
}

static void test_funcs_fails(void **state)
{
    struct bus *b;
    char err[256] = "";

    (void)state;
    fake.funcs_errno = ENOTTY;
    assert_int_equal(bus_open(FAKE_DEV, NULL, &b, err, sizeof err), BUS_BADSPEC);
    assert_non_null(strstr(err, FAKE_DEV " is not an I2C adapter"));
    assert_false(fd_is_open(fake.fd));
}

static void test_write_is_one_message(void **state)
{
    /* an ATECC608 Info command packet: word address 0x03, count, opcode, ... */
    static const uint8_t pkt[] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    struct bus *b;

    (void)state;
    b = open_fake();
    assert_int_equal(bus_write(b, 0x60, pkt, sizeof pkt), BUS_OK);
    assert_int_equal(fake.rdwr_calls, 1);
    assert_int_equal(fake.bad_nmsgs, 0);
    assert_int_equal(fake.nmsgs, 1);
    assert_int_equal(fake.msgs[0].addr, 0x60);
    assert_int_equal(fake.msgs[0].flags, 0);
    assert_int_equal(fake.msgs[0].len, sizeof pkt);
    assert_memory_equal(fake.msgs[0].buf, pkt, sizeof pkt);

    /* the wake: one zero byte to address 0x00 */
    static const uint8_t zero[] = {0x00};
    assert_int_equal(bus_write(b, 0x00, zero, 1), BUS_OK);
    assert_int_equal(fake.msgs[1].addr, 0x00);
    assert_int_equal(fake.msgs[1].len, 1);
    bus_close(b);
}

static void test_read_is_one_message(void **state)
{
    static const uint8_t wake_reply[] = {0x04, 0x11, 0x33, 0x43};
    uint8_t buf[4] = {0};
    struct bus *b;

    (void)state;
    memcpy(fake.reply, wake_reply, sizeof wake_reply);
    b = open_fake();
    assert_int_equal(bus_read(b, 0x48, buf, sizeof buf), BUS_OK);
    assert_int_equal(fake.rdwr_calls, 1);
    assert_int_equal(fake.bad_nmsgs, 0);
    assert_int_equal(fake.msgs[0].addr, 0x48);
    assert_int_equal(fake.msgs[0].flags, I2C_M_RD);
    assert_int_equal(fake.msgs[0].len, 4);
    assert_memory_equal(buf, wake_reply, sizeof wake_reply);
    bus_close(b);
}

static void test_errno_mapping(void **state)
{
    static const struct {
        int err;
        int want;
    } cases[] = {
        {ENXIO, BUS_NACK}, {EREMOTEIO, BUS_NACK}, {EIO, BUS_IO},
        {ETIMEDOUT, BUS_IO}, {EAGAIN, BUS_IO},  {EOPNOTSUPP, BUS_IO},
    };
    uint8_t byte = 0x55;
    struct bus *b;

    (void)state;
    b = open_fake();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake.errnos[0] = cases[i].err;
        fake.nerrnos = 1;
        fake.next_errno = 0;
        fake.rdwr_calls = 0;
        assert_int_equal(bus_write(b, 0x60, &byte, 1), cases[i].want);
        assert_int_equal(fake.rdwr_calls, 1); /* no retry of a failed transfer */
        fake.next_errno = 0;
        fake.rdwr_calls = 0;
        assert_int_equal(bus_read(b, 0x60, &byte, 1), cases[i].want);
        assert_int_equal(fake.rdwr_calls, 1);
    }
    bus_close(b);
}

static void test_eintr_retried(void **state)
{
    uint8_t byte = 0x55;
    struct bus *b;

    (void)state;
    b = open_fake();
    fake.errnos[0] = EINTR;
    fake.errnos[1] = EINTR;
    fake.errnos[2] = 0;
    fake.nerrnos = 3;
    assert_int_equal(bus_write(b, 0x60, &byte, 1), BUS_OK);
    assert_int_equal(fake.rdwr_calls, 3);
    assert_int_equal(fake.nmsgs, 1);
    bus_close(b);
}

static void test_refused_before_the_wire(void **state)
{
    uint8_t *big = calloc(1, 0x10000);
    struct bus *b;

    (void)state;
    assert_non_null(big);
    b = open_fake();
    assert_int_equal(bus_write(b, 0x60, big, 0x10000), BUS_IO);
    assert_int_equal(bus_read(b, 0x60, big, 0x10000), BUS_IO);
    assert_int_equal(bus_write(b, 0x80, big, 1), BUS_IO);
    assert_int_equal(bus_write(b, 0x60, NULL, 1), BUS_IO);
    assert_int_equal(fake.rdwr_calls, 0);
    /* the largest message that fits is sent */
    assert_int_equal(bus_write(b, 0x60, big, 0xFFFF), BUS_OK);
    assert_int_equal(fake.msgs[0].len, 0xFFFF);
    bus_close(b);
    free(big);
}

static int other_holder_can_lock(void)
{
    int fd = open(fake.backing, O_RDWR | O_CLOEXEC);
    int ok;

    assert_true(fd >= 0);
    ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return ok;
}

static void test_lock_nests_and_flocks_once(void **state)
{
    uint8_t byte = 0x01;
    struct bus *b;

    (void)state;
    b = open_fake();
    assert_true(other_holder_can_lock());

    assert_int_equal(bus_lock(b), BUS_OK);
    assert_int_equal(bus_lock(b), BUS_OK);
    assert_int_equal(bus_write(b, 0x60, &byte, 1), BUS_OK);
    assert_int_equal(bus_lock(b), BUS_OK);
    assert_int_equal(fake.flock_ex, 1);
    assert_false(other_holder_can_lock()); /* another process would wait */

    bus_unlock(b);
    bus_unlock(b);
    assert_int_equal(fake.flock_un, 0);
    assert_false(other_holder_can_lock());
    bus_unlock(b);
    assert_int_equal(fake.flock_un, 1);
    assert_true(other_holder_can_lock());

    /* an unpaired unlock is refused, not passed on */
    bus_unlock(b);
    assert_int_equal(fake.flock_un, 1);

    /* a transfer outside any lock takes it for itself */
    assert_int_equal(bus_write(b, 0x60, &byte, 1), BUS_OK);
    assert_int_equal(fake.flock_ex, 2);
    assert_int_equal(fake.flock_un, 2);
    bus_close(b);
}

struct thread_arg {
    struct bus *b;
    int rc;
};

static void *other_thread(void *p)
{
    struct thread_arg *a = p;
    uint8_t byte = 0xB0;

    a->rc = bus_write(a->b, 0x60, &byte, 1);
    return NULL;
}

static void test_lock_excludes_threads(void **state)
{
    struct timespec pause = {0, 30 * 1000 * 1000};
    struct thread_arg arg;
    uint8_t a = 0xA0, c = 0xC0;
    pthread_t th;

    (void)state;
    arg.b = open_fake();
    arg.rc = -100;
    assert_int_equal(bus_lock(arg.b), BUS_OK);
    assert_int_equal(bus_write(arg.b, 0x60, &a, 1), BUS_OK);
    assert_int_equal(pthread_create(&th, NULL, other_thread, &arg), 0);
    /* give the other thread every chance to barge in if the lock let it */
    nanosleep(&pause, NULL);
    assert_int_equal(bus_write(arg.b, 0x60, &c, 1), BUS_OK);
    bus_unlock(arg.b);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(arg.rc, BUS_OK);

    assert_int_equal(fake.nmsgs, 3);
    assert_int_equal(fake.msgs[0].buf[0], 0xA0);
    assert_int_equal(fake.msgs[1].buf[0], 0xC0);
    assert_int_equal(fake.msgs[2].buf[0], 0xB0);
    bus_close(arg.b);
}

static void test_delay_and_strings(void **state)
{
    struct timespec t0, t1;
    struct bus *b;
    long us;

    (void)state;
    b = open_fake();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bus_delay_us(b, 2000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000L;
    assert_true(us >= 2000);
    bus_close(b);

    assert_string_equal(bus_strerror(BUS_NACK), "device did not acknowledge");
    assert_string_equal(bus_strerror(BUS_BADSPEC), "no such bus");
    assert_string_equal(bus_strerror(12345), "unknown bus error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_flags_and_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_specs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_funcs_without_i2c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_funcs_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_is_one_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_is_one_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errno_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eintr_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_before_the_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_nests_and_flocks_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_excludes_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_and_strings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
