/* The sim: backend over the real emulator library: the ATECC608 wake
 * exchange through bus_write/bus_read, the status mapping, fault injection
 * from the options and the environment, and the device lock (thread mutex
 * plus the emulator's file lock) across two handles on one state file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/bus.h"

static const uint8_t wake_response[4] = {0x04, 0x11, 0x33, 0x43};

struct fixture {
    char dir[64];
    char state[96];
    char spec[128];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);

    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/seccki-test-bus-sim-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->state, sizeof fx->state, "%s/t.atecc", fx->dir);
    snprintf(fx->spec, sizeof fx->spec, "sim:%s", fx->state);
    setenv("SECCKI_LOG", "none", 1);
    unsetenv("SECCKI_SIM_FAULTS");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    unsetenv("SECCKI_SIM_FAULTS");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static struct bus *open_sim(struct fixture *fx, const char *faults)
{
    struct bus_opts opts = {.chip = "atecc608", .sim_faults = faults};
    struct bus *b = NULL;
    char err[256] = "";

    if (bus_open(fx->spec, &opts, &b, err, sizeof err) != BUS_OK)
        fail_msg("bus_open(%s): %s", fx->spec, err);
    return b;
}

/* The wake pulse is a general-call write the chip does not acknowledge. */
static void wake(struct bus *b)
{
    static const uint8_t zero[1] = {0x00};

    assert_int_equal(bus_write(b, 0x00, zero, sizeof zero), BUS_NACK);
}

static void test_wake_exchange(void **state)
{
    struct fixture *fx = *state;
    struct bus *b = open_sim(fx, NULL);
    uint8_t buf[4] = {0};

    assert_string_equal(bus_name(b), fx->spec);
    assert_int_equal(access(fx->state, F_OK), 0); /* created on first open */
    /* asleep: nothing answers at the device address */
    assert_int_equal(bus_read(b, 0x60, buf, sizeof buf), BUS_NACK);
    wake(b);
    assert_int_equal(bus_read(b, 0x61, buf, sizeof buf), BUS_NACK);
    assert_int_equal(bus_read(b, 0x60, buf, sizeof buf), BUS_OK);
    assert_memory_equal(buf, wake_response, sizeof buf);
    bus_delay_us(b, 1500000); /* instant on the emulator */
    bus_close(b);
}

static void test_state_shared_between_handles(void **state)
{
    struct fixture *fx = *state;
    struct bus *a = open_sim(fx, NULL);
    struct bus *b = open_sim(fx, NULL);
    uint8_t buf[4] = {0};

    wake(a);
    /* the other handle (another process, on a board) sees the same chip */
    assert_int_equal(bus_read(b, 0x60, buf, sizeof buf), BUS_OK);
    assert_memory_equal(buf, wake_response, sizeof buf);
    bus_close(a);
    bus_close(b);
}

static void test_faults_from_options_and_env(void **state)
{
    struct fixture *fx = *state;
    uint8_t buf[4] = {0};
    struct bus *b;
    struct bus_opts opts = {.chip = "atecc608", .sim_faults = "bogus=1"};
    char err[256] = "";

    b = open_sim(fx, "dead");
    wake(b);
    assert_int_equal(bus_read(b, 0x60, buf, sizeof buf), BUS_NACK);
    bus_close(b);

    /* the environment wins over the options, both ways */
    setenv("SECCKI_SIM_FAULTS", "dead", 1);
    b = open_sim(fx, NULL);
    wake(b);
    assert_int_equal(bus_read(b, 0x60, buf, sizeof buf), BUS_NACK);
    bus_close(b);
    setenv("SECCKI_SIM_FAULTS", "", 1);
    b = open_sim(fx, "dead");
    wake(b);
    assert_int_equal(bus_read(b, 0x60, buf, sizeof buf), BUS_OK);
    assert_memory_equal(buf, wake_response, sizeof buf);
    bus_close(b);
    unsetenv("SECCKI_SIM_FAULTS");

    assert_int_equal(bus_open(fx->spec, &opts, &b, err, sizeof err), BUS_BADSPEC);
    assert_null(b);
    assert_non_null(strstr(err, "bogus=1"));
}

static void test_open_errors(void **state)
{
    struct fixture *fx = *state;
    struct bus_opts nochip = {.chip = NULL};
    struct bus_opts opts = {.chip = "atecc608"};
    struct bus *b;
    char err[256] = "";
    FILE *f;

    assert_int_equal(bus_open(fx->spec, &nochip, &b, err, sizeof err), BUS_BADSPEC);
    assert_int_equal(bus_open(fx->spec, NULL, &b, err, sizeof err), BUS_BADSPEC);
    assert_int_equal(access(fx->state, F_OK), -1);

    /* a state file that is not one is refused and left alone */
    f = fopen(fx->state, "w");
    assert_non_null(f);
    fputs("not a state file\n", f);
    fclose(f);
    err[0] = '\0';
    assert_int_equal(bus_open(fx->spec, &opts, &b, err, sizeof err), BUS_STATE);
    assert_null(b);
    assert_non_null(strstr(err, fx->spec));
    f = fopen(fx->state, "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "not a state file\n");
}

static void test_state_broken_later(void **state)
{
    struct fixture *fx = *state;
    struct bus *b = open_sim(fx, NULL);
    char tmp[128];
    uint8_t buf[4];
    FILE *f;

    /* another writer replaces the state with garbage, as a rename would */
    snprintf(tmp, sizeof tmp, "%s.garbage", fx->state);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(rename(tmp, fx->state), 0);
    assert_int_equal(bus_read(b, 0x60, buf, sizeof buf), BUS_STATE);
    assert_int_equal(bus_lock(b), BUS_STATE);
    assert_int_equal(bus_write(b, 0x00, buf, 1), BUS_STATE);
    bus_close(b);
}

struct contender {
    struct bus *b;
    atomic_int done;
    int rc;
    uint8_t buf[4];
};

static void *contend(void *p)
{
    struct contender *c = p;

    c->rc = bus_read(c->b, 0x60, c->buf, sizeof c->buf);
    atomic_store(&c->done, 1);
    return NULL;
}

static int lock_file_free(const struct fixture *fx)
{
    char path[128];
    int fd, ok;

    snprintf(path, sizeof path, "%s.lock", fx->state);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 1; /* no lock file, so nobody holds it */
    ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return ok;
}

static void test_lock_nests_and_excludes(void **state)
{
    struct fixture *fx = *state;
    struct timespec pause = {0, 50 * 1000 * 1000};
    struct contender same = {0}, other = {0};
    struct bus *a = open_sim(fx, NULL);
    pthread_t t1, t2;

    other.b = open_sim(fx, NULL); /* opening loads the state: under the lock too */
    assert_int_equal(bus_lock(a), BUS_OK);
    assert_int_equal(bus_lock(a), BUS_OK);
    wake(a); /* a transfer inside the lock nests once more */
    assert_false(lock_file_free(fx));

    /* another thread on this handle, and another handle on this file, wait */
    same.b = a;
    assert_int_equal(pthread_create(&t1, NULL, contend, &same), 0);
    assert_int_equal(pthread_create(&t2, NULL, contend, &other), 0);
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&same.done), 0);
    assert_int_equal(atomic_load(&other.done), 0);

    bus_unlock(a);
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&same.done), 0); /* still held: depth 1 */
    assert_false(lock_file_free(fx));
    bus_unlock(a);

    assert_int_equal(pthread_join(t1, NULL), 0);
    assert_int_equal(pthread_join(t2, NULL), 0);
    /* exactly one of them got the wake response; the next read continues
     * past the 4 bytes of the output buffer, as on the chip */
    assert_int_equal(same.rc, BUS_OK);
    assert_int_equal(other.rc, BUS_OK);
    assert_true(memcmp(same.buf, wake_response, 4) == 0 ||
                memcmp(other.buf, wake_response, 4) == 0);
    assert_true(lock_file_free(fx));
    bus_close(other.b);
    bus_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wake_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_shared_between_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_from_options_and_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_broken_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_nests_and_excludes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
