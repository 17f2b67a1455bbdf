/* The emulator library core (hal/sim/sim.c): state files, fault injection,
 * counters. Uses the ATECC608 emulator as the chip behind it. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/atecc608/atecc_crc.h"
#include "hal/sim/sim.h"

#define ADDR 0x60

struct fx {
    char dir[64];
    char path[128];
    struct sim *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];

    assert_non_null(f);
    strcpy(f->dir, "/tmp/seccki-test-sim-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/chip.state", f->dir);
    assert_int_equal(sim_open(f->path, "atecc608", "tls", &f->s, err, sizeof err), SIM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d;
    struct dirent *e;
    char p[512];

    sim_close(f->s);
    d = opendir(f->dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int wake_pulse(struct sim *s)
{
    uint8_t b = 0x01;

    return sim_write(s, 0x00, &b, 1);
}

static void test_fault_spec_parsing(void **state)
{
    struct fx *f = *state;
    static const char *const good[] = {"", "nack=1", "crc=2,short=3", "busy=0,reset=4,dead",
                                       "dead", "nack=10,crc=0,short=1,busy=2,reset=3"};
    static const char *const bad[] = {"nack", "nack=", "nack=x", "nack=-1", "foo=1", "nack=1,",
                                      ",nack=1", "dead=1", "crc=1;short=2", "nack=1x",
                                      "busy=1234567890"};

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(sim_set_faults(f->s, good[i]), SIM_OK);
    assert_int_equal(sim_set_faults(f->s, NULL), SIM_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sim_set_faults(f->s, bad[i]), SIM_ERR);
        assert_true(strlen(sim_last_error(f->s)) > 0);
    }
}

static void test_nack_fault(void **state)
{
    struct fx *f = *state;
    uint8_t r[4];
    struct sim_counters c0, c1;

    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    wake_pulse(f->s);
    assert_int_equal(sim_set_faults(f->s, "nack=2"), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    /* the general-call wake is not acknowledged by the chip either */
    assert_int_equal(c1.nacks - c0.nacks, 3);
    assert_int_equal(c1.transactions - c0.transactions, 4);
    assert_int_equal(c1.bytes_from_chip - c0.bytes_from_chip, 4);
}

static void test_crc_fault(void **state)
{
    struct fx *f = *state;
    uint8_t r[4], one;

    wake_pulse(f->s);
    assert_int_equal(sim_set_faults(f->s, "crc=1"), SIM_OK);
    /* a 1-byte (count) read is left alone; the payload read is corrupted */
    assert_int_equal(sim_read(f->s, ADDR, &one, 1), SIM_OK);
    assert_int_equal(one, 0x04);
    assert_int_equal(sim_read(f->s, ADDR, r + 1, 3), SIM_OK);
    r[0] = one;
    assert_false(atecc_crc16_ok(r, 4));
    uint8_t z = 0x00;
    assert_int_equal(sim_write(f->s, ADDR, &z, 1), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_true(atecc_crc16_ok(r, 4));
}

static void test_short_fault(void **state)
{
    struct fx *f = *state;
    uint8_t r[4];

    wake_pulse(f->s);
    assert_int_equal(sim_set_faults(f->s, "short=1"), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\xFF\xFF", 4);
    uint8_t z = 0x00;
    assert_int_equal(sim_write(f->s, ADDR, &z, 1), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
}

static void test_dead_fault(void **state)
{
    struct fx *f = *state;
    uint8_t r[4];

    assert_int_equal(sim_set_faults(f->s, "dead"), SIM_OK);
    for (int i = 0; i < 3; i++) {
        wake_pulse(f->s);
        assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK);
    }
    assert_int_equal(sim_set_faults(f->s, ""), SIM_OK);
    wake_pulse(f->s);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
}

static void test_reset_fault(void **state)
{
    struct fx *f = *state;
    uint8_t r[4];

    wake_pulse(f->s);
    assert_int_equal(sim_set_faults(f->s, "reset=2"), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK); /* 1st: still awake */
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK); /* 2nd: it slept */
    wake_pulse(f->s);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
}

static void test_busy_fault(void **state)
{
    struct fx *f = *state;
    uint8_t cmd[8] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D}, z = 0, r[7];

    wake_pulse(f->s);
    assert_int_equal(sim_set_faults(f->s, "busy=3"), SIM_OK);
    assert_int_equal(sim_write(f->s, ADDR, cmd, sizeof cmd), SIM_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sim_write(f->s, ADDR, &z, 1), SIM_NACK);
    assert_int_equal(sim_write(f->s, ADDR, &z, 1), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 7), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB", 7);
}

static void test_counters_persisted_and_shared(void **state)
{
    struct fx *f = *state;
    struct sim *b;
    char err[256];
    struct sim_counters ca, cb, c0;
    uint8_t cmd[8] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D}, r[7];

    assert_int_equal(sim_open(f->path, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    wake_pulse(f->s);
    assert_int_equal(sim_read(b, ADDR, r, 4), SIM_OK); /* handle b sees a's wake */
    assert_int_equal(sim_write(b, ADDR, cmd, sizeof cmd), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 7), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB", 7);
    assert_int_equal(sim_get_counters(f->s, &ca), SIM_OK);
    assert_int_equal(sim_get_counters(b, &cb), SIM_OK);
    assert_memory_equal(&ca, &cb, sizeof ca);
    assert_int_equal(ca.transactions - c0.transactions, 4);
    assert_int_equal(ca.bytes_to_chip - c0.bytes_to_chip, 8);
    assert_int_equal(ca.bytes_from_chip - c0.bytes_from_chip, 11);
    assert_int_equal(ca.commands - c0.commands, 1);
    assert_int_equal(ca.nacks - c0.nacks, 1);
    sim_close(b);
    sim_close(f->s);
    f->s = NULL;
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &f->s, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(f->s, &cb), SIM_OK);
    assert_memory_equal(&ca, &cb, sizeof ca);
}

/* Two processes hammering one state file lose no update. */
static void test_processes_serialised(void **state)
{
    struct fx *f = *state;
    struct sim_counters c0, c1;
    pid_t pids[2];

    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    for (int p = 0; p < 2; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            struct sim *s;
            char err[256];
            uint8_t r[4];
            if (sim_open(f->path, "atecc608", NULL, &s, err, sizeof err) != SIM_OK)
                _exit(1);
            for (int i = 0; i < 300; i++) {
                wake_pulse(s);
                if (sim_read(s, ADDR, r, 4) != SIM_OK)
                    _exit(2);
            }
            sim_close(s);
            _exit(0);
        }
    }
    for (int p = 0; p < 2; p++) {
        int status = -1;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    assert_int_equal(c1.transactions - c0.transactions, 1200);
    assert_int_equal(c1.bytes_from_chip - c0.bytes_from_chip, 2400);
}

static void test_brackets_nest(void **state)
{
    struct fx *f = *state;
    uint8_t r[4];

    assert_int_equal(sim_begin(f->s), SIM_OK);
    assert_int_equal(sim_begin(f->s), SIM_OK);
    wake_pulse(f->s);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_int_equal(sim_end(f->s), SIM_OK);
    assert_int_equal(sim_end(f->s), SIM_OK);
    assert_int_equal(sim_end(f->s), SIM_ERR);
}

static void test_files_next_to_path_only(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    int n = 0;
    struct stat st;
    uint8_t r[4];

    wake_pulse(f->s);
    sim_read(f->s, ADDR, r, 4);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        assert_true(strcmp(e->d_name, "chip.state") == 0 ||
                    strcmp(e->d_name, "chip.state.lock") == 0 ||
                    strcmp(e->d_name, "chip.state.tmp") == 0);
    }
    closedir(d);
    assert_true(n >= 2 && n <= 3);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* closing the last handle leaves the state and its lock file */
    sim_close(f->s);
    f->s = NULL;
    d = opendir(f->dir);
    n = 0;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(n, 2);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct sim *s = NULL;
    char err[256], p[256];

    snprintf(p, sizeof p, "%s/other.state", f->dir);
    assert_int_equal(sim_open(p, "nosuchchip", NULL, &s, err, sizeof err), SIM_ERR);
    assert_null(s);
    assert_non_null(strstr(err, "nosuchchip"));
    assert_int_equal(sim_open(p, "atecc608", "nosuchprofile", &s, err, sizeof err), SIM_ERR);
    assert_non_null(strstr(err, "nosuchprofile"));
    assert_int_equal(access(p, F_OK), -1); /* nothing created */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fault_spec_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nack_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crc_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_persisted_and_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes_serialised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_brackets_nest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_next_to_path_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
