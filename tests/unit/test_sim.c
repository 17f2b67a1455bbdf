/* The emulator library core (hal/sim/sim.c): state files, fault injection,
 * counters. Uses the ATECC608 emulator as the chip behind it, and the SE050
 * one where a state has to grow. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/atecc608/atecc_crc.h"
#include "hal/se050/apdu.h"
#include "hal/se050/t1.h"
#include "hal/sim/sim.h"
#include "hal/sim/sim_file.h"

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

/* ---- the state file ---- */

static uint8_t *slurp(const char *p, size_t *n)
{
    FILE *fp = fopen(p, "rb");
    uint8_t *buf;
    long len;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    len = ftell(fp);
    assert_true(len >= 0);
    rewind(fp);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

static void spit(const char *p, const uint8_t *buf, size_t n)
{
    FILE *fp = fopen(p, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Where the slots of an image are, read the way the format says. */
struct layout {
    uint64_t word;
    size_t slot_size;
    size_t active;   /* offset of the active slot */
    size_t inactive; /* offset of the other one */
    uint32_t plen;   /* payload length in the active slot */
};

static void layout_of(const uint8_t *img, size_t n, struct layout *l)
{
    assert_true(n >= SIM_FILE_HDR_LEN);
    l->word = le64(img + SIM_FILE_WORD_OFF);
    l->slot_size = SIM_WORD_UNITS(l->word) * SIM_FILE_UNIT;
    l->active = SIM_FILE_HDR_LEN + SIM_WORD_SLOT(l->word) * l->slot_size;
    l->inactive = SIM_FILE_HDR_LEN + (SIM_WORD_SLOT(l->word) ^ 1u) * l->slot_size;
    assert_true(n >= SIM_FILE_HDR_LEN + 2 * l->slot_size);
    l->plen = (uint32_t)(img[l->active + 48] | img[l->active + 49] << 8 |
                         img[l->active + 50] << 16 | (uint32_t)img[l->active + 51] << 24);
}

/* Recomputes the checksum of the slot at off, whose payload is plen bytes. */
static void reseal(uint8_t *img, size_t off, uint32_t plen)
{
    put_le(img + off + SIM_FILE_SLOT_HDR + plen,
           sim_file_sum(img + off, SIM_FILE_SLOT_HDR + plen), 8);
}

static void test_sum_known_answers(void **state)
{
    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    uint8_t a100[100];

    (void)state;
    /* the published XXH64 values (seed 0): every path through the function */
    memset(a100, 'a', sizeof a100);
    assert_true(sim_file_sum((const uint8_t *)"", 0) == UINT64_C(0xEF46DB3751D8E999));
    assert_true(sim_file_sum((const uint8_t *)"abc", 3) == UINT64_C(0x44BC2CF5AD770999));
    assert_true(sim_file_sum((const uint8_t *)fox, sizeof fox - 1) ==
                UINT64_C(0x0B242D361FDA71BC));
    assert_true(sim_file_sum(a100, sizeof a100) == UINT64_C(0x375041E8B1DECFB3));
}

/* A file sim_open refuses: the message names the problem and the file is
 * left byte for byte as it was. */
static void expect_rejected(const char *path, const uint8_t *img, size_t n, const char *needle)
{
    struct sim *s = NULL;
    char err[256];
    uint8_t *after;
    size_t an;

    spit(path, img, n);
    assert_int_equal(sim_open(path, "atecc608", NULL, &s, err, sizeof err), SIM_ERR);
    assert_null(s);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
    after = slurp(path, &an);
    assert_int_equal(an, n);
    assert_memory_equal(after, img, n);
    free(after);
}

static void test_bad_state_files(void **state)
{
    struct fx *f = *state;
    uint8_t *img, *bad;
    size_t n;
    struct layout l;
    char err[256];

    wake_pulse(f->s);
    sim_close(f->s);
    f->s = NULL;
    img = slurp(f->path, &n);
    layout_of(img, n, &l);
    assert_true(l.plen > 1000);
    bad = malloc(n);
    assert_non_null(bad);

    /* a flipped payload bit in the active slot */
    memcpy(bad, img, n);
    bad[l.active + SIM_FILE_SLOT_HDR + l.plen / 2] ^= 0x01;
    expect_rejected(f->path, bad, n, "checksum");
    /* a slot of another generation than the word names, checksum intact */
    memcpy(bad, img, n);
    bad[l.active] ^= 0x04;
    reseal(bad, l.active, l.plen);
    expect_rejected(f->path, bad, n, "generation");
    /* a payload length past the slot */
    memcpy(bad, img, n);
    put_le(bad + l.active + 48, l.slot_size, 4);
    expect_rejected(f->path, bad, n, "corrupt");
    /* a word naming slots of no size, or slots the file cannot hold */
    memcpy(bad, img, n);
    put_le(bad + SIM_FILE_WORD_OFF, l.word & ~UINT64_C(0xFFFF), 8);
    expect_rejected(f->path, bad, n, "corrupt");
    memcpy(bad, img, n);
    put_le(bad + SIM_FILE_WORD_OFF, l.word + 1, 8);
    expect_rejected(f->path, bad, n, "truncated");
    /* cut short, or not ours at all */
    expect_rejected(f->path, img, n / 2, "truncated");
    expect_rejected(f->path, img, SIM_FILE_HDR_LEN - 1, "truncated");
    expect_rejected(f->path, img, 20, "truncated");
    expect_rejected(f->path, (const uint8_t *)"hello, world\n", 13, "not an emulator state");
    expect_rejected(f->path, (const uint8_t *)"", 0, "not an emulator state");
    /* another format version */
    memcpy(bad, img, n);
    bad[8] = 0x03;
    expect_rejected(f->path, bad, n, "version 3");
    /* the former format (version 1: header, payload, SHA-256 after it) */
    memcpy(bad, img, 72);
    put_le(bad + 8, 1, 4);
    expect_rejected(f->path, bad, 72 + 100 + 32, "version 1, this build reads 2");
    /* another chip kind */
    memcpy(bad, img, n);
    memcpy(bad + 12, "se050\0\0\0", 8);
    expect_rejected(f->path, bad, n, "se050");
    /* a payload that the chip parser refuses (a trailing byte) */
    memcpy(bad, img, n);
    bad[l.active + SIM_FILE_SLOT_HDR + l.plen] = 0x00;
    put_le(bad + l.active + 48, l.plen + 1, 4);
    reseal(bad, l.active, l.plen + 1);
    expect_rejected(f->path, bad, n, "trailing");
    /* the good image still opens */
    spit(f->path, img, n);
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &f->s, err, sizeof err), SIM_OK);
    free(bad);
    free(img);
}

/* Longer than header and slots (a growth that was never published). */
static void test_longer_file_opens(void **state)
{
    struct fx *f = *state;
    struct sim_counters c0, c1;
    uint8_t *img, *big;
    size_t n;
    char err[256];

    wake_pulse(f->s);
    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    sim_close(f->s);
    f->s = NULL;
    img = slurp(f->path, &n);
    big = calloc(1, n + 3 * SIM_FILE_UNIT);
    assert_non_null(big);
    memcpy(big, img, n);
    spit(f->path, big, n + 3 * SIM_FILE_UNIT);
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &f->s, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    assert_memory_equal(&c0, &c1, sizeof c0);
    assert_int_equal(wake_pulse(f->s), SIM_NACK);
    free(big);
    free(img);
}

static void test_corrupt_inactive_slot_harmless(void **state)
{
    struct fx *f = *state;
    struct sim_counters c0, c1;
    struct layout l;
    uint8_t *img, r[4];
    size_t n;
    char err[256];

    wake_pulse(f->s); /* both slots have been written now */
    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    sim_close(f->s);
    f->s = NULL;
    img = slurp(f->path, &n);
    layout_of(img, n, &l);
    memset(img + l.inactive, 0xA5, l.slot_size);
    spit(f->path, img, n);
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &f->s, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    assert_memory_equal(&c0, &c1, sizeof c0);
    /* the chip is as it was (awake), and the next save lands in that slot */
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
    sim_close(f->s);
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &f->s, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    assert_int_equal(c1.transactions, c0.transactions + 1);
    assert_int_equal(c1.bytes_from_chip, c0.bytes_from_chip + 4);
    size_t scribbled = l.inactive;
    free(img);
    img = slurp(f->path, &n);
    layout_of(img, n, &l);
    assert_int_equal(l.active, scribbled);
    free(img);
}

/* Writes len bytes at off of the file from outside, and gives it an mtime
 * of its own, as any writer that is not this library would change it. */
static void poke(const char *path, size_t off, const uint8_t *b, size_t len, time_t mtime)
{
    int fd = open(path, O_WRONLY);
    struct timespec t[2] = {{0, UTIME_OMIT}, {mtime, 0}};

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, b, len, (off_t)off), (ssize_t)len);
    assert_int_equal(futimens(fd, t), 0);
    close(fd);
}

static void test_corrupt_active_slot_reported(void **state)
{
    struct fx *f = *state;
    struct layout l;
    uint8_t *img, *now, r[4], b;
    size_t n, nn, at;

    wake_pulse(f->s);
    img = slurp(f->path, &n);
    layout_of(img, n, &l);
    at = l.active + SIM_FILE_SLOT_HDR + 10;
    b = img[at] ^ 0x80;
    /* an open handle checks the slot again after a write it did not make */
    poke(f->path, at, &b, 1, 1000000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_ERR);
        assert_non_null(strstr(sim_last_error(f->s), "checksum"));
        assert_int_equal(sim_begin(f->s), SIM_ERR);
    }
    now = slurp(f->path, &nn);
    assert_int_equal(nn, n);
    img[at] = b;
    assert_memory_equal(now, img, n); /* reported, never written */
    free(now);
    /* repaired, the handle goes on where it was */
    b ^= 0x80;
    poke(f->path, at, &b, 1, 2000000);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
    free(img);
}

/* The path given a new file (as a rename over it would): the handle follows
 * the path, and refuses a file that is not a state. */
static void test_file_replaced_under_handle(void **state)
{
    struct fx *f = *state;
    char other[160], err[256];
    struct sim *b;
    struct sim_counters c0, c1;
    uint8_t info[8] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D}, r[4], r7[7];

    snprintf(other, sizeof other, "%s/other.state", f->dir);
    assert_int_equal(sim_open(other, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    wake_pulse(b);
    assert_int_equal(sim_read(b, ADDR, r, 4), SIM_OK);
    assert_int_equal(sim_get_counters(b, &c0), SIM_OK);
    sim_close(b);
    assert_int_equal(rename(other, f->path), 0);
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    assert_memory_equal(&c0, &c1, sizeof c0);
    /* and the handle works on the new file, where the chip is awake */
    assert_int_equal(sim_write(f->s, ADDR, info, sizeof info), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r7, 7), SIM_OK);
    assert_memory_equal(r7, "\x07\x00\x00\x60\x03\x83\xBB", 7);
    spit(other, (const uint8_t *)"garbage", 7);
    assert_int_equal(rename(other, f->path), 0);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_ERR);
    assert_non_null(strstr(sim_last_error(f->s), "not an emulator state"));
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_ERR);
    assert_non_null(strstr(sim_last_error(f->s), "No such file"));
    snprintf(other, sizeof other, "%s/other.state.lock", f->dir);
    unlink(other);
}

static void test_save_halves_need_a_bracket(void **state)
{
    struct fx *f = *state;

    assert_int_equal(sim_save_stage(f->s), SIM_ERR);
    assert_int_equal(sim_save_flip(f->s), SIM_ERR);
    assert_int_equal(sim_begin(f->s), SIM_OK);
    assert_int_equal(sim_save_flip(f->s), SIM_ERR); /* nothing staged */
    assert_int_equal(sim_save_stage(f->s), SIM_OK);
    assert_int_equal(sim_save_flip(f->s), SIM_OK);
    assert_int_equal(sim_save_flip(f->s), SIM_ERR); /* once */
    assert_int_equal(sim_end(f->s), SIM_OK);
}

/* ---- processes that die ---- */

/* In a child: opens its own handle, wakes the chip and reads the wake reply
 * inside one bracket, saves as far as `halves` says (1: stage, 2: stage and
 * flip) and is killed before it ends the bracket. */
static void die_mid_save(const char *path, int halves)
{
    struct sim *s;
    char err[256];
    uint8_t r[4];

    if (sim_open(path, "atecc608", NULL, &s, err, sizeof err) != SIM_OK || sim_begin(s) != SIM_OK)
        _exit(1);
    wake_pulse(s);
    if (sim_read(s, ADDR, r, 4) != SIM_OK || sim_save_stage(s) != SIM_OK)
        _exit(2);
    if (halves == 2 && sim_save_flip(s) != SIM_OK)
        _exit(3);
    kill(getpid(), SIGKILL);
    _exit(4);
}

static void expect_killed(pid_t pid)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("child not killed: status 0x%x", status);
}

static void test_killed_before_flip_keeps_old(void **state)
{
    struct fx *f = *state;
    struct sim_counters c0, c1;
    struct sim *b;
    uint8_t *img0, *img1, r[4];
    size_t n0, n1;
    char err[256];
    pid_t pid;

    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    img0 = slurp(f->path, &n0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        die_mid_save(f->path, 1);
    expect_killed(pid);
    /* the new state is in the file, in the inactive slot, unpublished */
    img1 = slurp(f->path, &n1);
    assert_int_equal(n1, n0);
    assert_memory_not_equal(img0, img1, n0);
    assert_memory_equal(img0, img1, SIM_FILE_HDR_LEN);
    /* both an open handle and a new one see the old state: asleep */
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    assert_memory_equal(&c0, &c1, sizeof c0);
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(b, &c1), SIM_OK);
    assert_memory_equal(&c0, &c1, sizeof c0);
    assert_int_equal(sim_read(b, ADDR, r, 4), SIM_NACK);
    sim_close(b);
    /* and saving goes on over the abandoned slot */
    wake_pulse(f->s);
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_OK);
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(b, &c1), SIM_OK);
    assert_int_equal(c1.transactions, c0.transactions + 3);
    sim_close(b);
    free(img0);
    free(img1);
}

static void test_killed_after_flip_keeps_new(void **state)
{
    struct fx *f = *state;
    struct sim_counters c0, c1;
    uint8_t info[8] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D}, r[7];
    pid_t pid;

    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        die_mid_save(f->path, 2);
    expect_killed(pid);
    /* the dead child's lock went with it; its state is the chip's */
    assert_int_equal(sim_get_counters(f->s, &c1), SIM_OK);
    assert_int_equal(c1.transactions, c0.transactions + 2);
    assert_int_equal(c1.nacks, c0.nacks + 1);
    assert_int_equal(c1.bytes_from_chip, c0.bytes_from_chip + 4);
    /* awake: takes a command */
    assert_int_equal(sim_write(f->s, ADDR, info, sizeof info), SIM_OK);
    assert_int_equal(sim_read(f->s, ADDR, r, 7), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB", 7);
}

/* Killed at whatever point the clock lands on, over and over: the file
 * always opens, and holds a whole number of transactions. */
static void test_killed_anywhere(void **state)
{
    struct fx *f = *state;
    struct sim_counters c0, prev, c;
    uint64_t progress = 0;

    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    prev = c0;
    for (int round = 0; round < 24; round++) {
        struct timespec pause = {0, (long)(100 + (round * 7919) % 2900) * 1000};
        struct sim *b;
        char err[256];
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
            uint8_t r[4];
            if (sim_open(f->path, "atecc608", NULL, &b, err, sizeof err) != SIM_OK)
                _exit(1);
            for (;;) {
                wake_pulse(b);
                if (sim_read(b, ADDR, r, 4) != SIM_OK)
                    _exit(2);
            }
        }
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        expect_killed(pid);
        if (sim_open(f->path, "atecc608", NULL, &b, err, sizeof err) != SIM_OK)
            fail_msg("round %d: %s", round, err);
        assert_int_equal(sim_get_counters(b, &c), SIM_OK);
        sim_close(b);
        /* each wake (NACKed) is followed by a read (4 bytes), but the last
         * wake of a round may have lost its read to the kill */
        uint64_t wakes = c.nacks - prev.nacks, reads = c.transactions - prev.transactions - wakes;
        if (!(wakes == reads || wakes == reads + 1) ||
            c.bytes_from_chip - prev.bytes_from_chip != 4 * reads ||
            c.bytes_to_chip != prev.bytes_to_chip)
            fail_msg("round %d: %llu wakes, %llu reads, %llu bytes from the chip", round,
                     (unsigned long long)wakes, (unsigned long long)reads,
                     (unsigned long long)(c.bytes_from_chip - prev.bytes_from_chip));
        progress += reads;
        prev = c;
    }
    assert_true(progress > 0);
    /* the handle open all along follows */
    assert_int_equal(sim_get_counters(f->s, &c), SIM_OK);
    assert_memory_equal(&c, &prev, sizeof c);
}

/* Two handles taking turns: each sees every save of the other, told by the
 * generation alone (the file's times seldom move). */
static void test_handles_alternate(void **state)
{
    struct fx *f = *state;
    struct sim *b;
    char err[256];
    struct sim_counters c0, cw, co;

    assert_int_equal(sim_open(f->path, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(f->s, &c0), SIM_OK);
    for (int i = 0; i < 200; i++) {
        struct sim *w = (i & 1) ? b : f->s, *o = (i & 1) ? f->s : b;
        assert_int_equal(wake_pulse(w), SIM_NACK);
        assert_int_equal(sim_get_counters(o, &co), SIM_OK);
        assert_int_equal(sim_get_counters(w, &cw), SIM_OK);
        assert_memory_equal(&cw, &co, sizeof cw);
        assert_int_equal(co.transactions, c0.transactions + (uint64_t)i + 1);
    }
    sim_close(b);
}

/* ---- processes that live ---- */

static void test_processes_see_each_other(void **state)
{
    struct fx *f = *state;
    uint8_t cmd[8] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D}, r[7], c = 0;
    uint8_t sleep_word = 0x01;
    int to_child[2], to_parent[2], status = -1;
    pid_t pid;

    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sim *b;
        char err[256];
        if (sim_open(f->path, "atecc608", NULL, &b, err, sizeof err) != SIM_OK)
            _exit(1);
        /* open and in step before the parent's change */
        if (sim_read(b, ADDR, r, 4) != SIM_NACK || write(to_parent[1], "r", 1) != 1 ||
            read(to_child[0], &c, 1) != 1)
            _exit(2);
        /* sees the parent's wake, and hands it a command */
        if (sim_read(b, ADDR, r, 4) != SIM_OK || memcmp(r, "\x04\x11\x33\x43", 4) != 0)
            _exit(3);
        if (sim_write(b, ADDR, cmd, sizeof cmd) != SIM_OK || write(to_parent[1], "d", 1) != 1 ||
            read(to_child[0], &c, 1) != 1)
            _exit(4);
        /* and sees the parent put the chip to sleep */
        if (sim_read(b, ADDR, r, 7) != SIM_NACK)
            _exit(5);
        sim_close(b);
        _exit(0);
    }
    assert_int_equal(sim_read(f->s, ADDR, r, 4), SIM_NACK); /* in step, asleep */
    assert_int_equal(read(to_parent[0], &c, 1), 1);
    wake_pulse(f->s);
    assert_int_equal(write(to_child[1], "g", 1), 1);
    assert_int_equal(read(to_parent[0], &c, 1), 1);
    assert_int_equal(sim_read(f->s, ADDR, r, 7), SIM_OK);
    assert_memory_equal(r, "\x07\x00\x00\x60\x03\x83\xBB", 7);
    assert_int_equal(sim_write(f->s, ADDR, &sleep_word, 1), SIM_OK);
    assert_int_equal(write(to_child[1], "g", 1), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
}

/* ---- growth, with the SE050 (binary objects) ---- */

static int setup_se050(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];

    assert_non_null(f);
    strcpy(f->dir, "/tmp/seccki-test-sim-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/chip.state", f->dir);
    assert_int_equal(sim_open(f->path, "se050", NULL, &f->s, err, sizeof err), SIM_OK);
    *state = f;
    return 0;
}

#define SE_ADDR 0x48
#define BIG_ID 0x60000001u
#define BIG_LEN 0x7FFF

static int tr_write(void *ctx, const uint8_t *d, size_t n)
{
    int rc = sim_write(ctx, SE_ADDR, d, n);
    return rc == SIM_OK ? 0 : rc == SIM_NACK ? T1_TR_NACK : -1;
}

static int tr_read(void *ctx, uint8_t *d, size_t n)
{
    int rc = sim_read(ctx, SE_ADDR, d, n);
    return rc == SIM_OK ? 0 : rc == SIM_NACK ? T1_TR_NACK : -1;
}

static void tr_delay(void *ctx, unsigned us)
{
    (void)ctx;
    (void)us;
}

/* The applet selected over a fresh link on handle s; SE_OK or an error. */
static int se_link(struct t1 *t, struct sim *s)
{
    struct t1_transport tr = {.ctx = s, .write = tr_write, .read = tr_read, .delay_us = tr_delay};
    uint8_t ver[7];

    t1_init(t, &tr);
    if (t1_resync(t) != T1_OK)
        return SE_E_LINK;
    return se_select(t, ver);
}

/* The first chunk of a 32 KiB binary object: the chip keeps all of it. */
static int se_write_big(struct t1 *t)
{
    struct se_cmd c;
    uint8_t chunk[SE050_CHUNK];

    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (uint8_t)(i * 7 + 1);
    int rc = se_build_write_binary(&c, BIG_ID, 0, BIG_LEN, chunk, sizeof chunk);
    return rc != SE_OK ? rc : se_run(t, &c);
}

static bool se_has_big(struct sim *s)
{
    struct t1 t;
    bool exists = false;
    uint16_t size = 0;

    assert_int_equal(se_link(&t, s), SE_OK);
    assert_int_equal(se_check_exists(&t, BIG_ID, &exists), SE_OK);
    if (exists) {
        uint8_t out[16];
        size_t n = sizeof out;
        assert_int_equal(se_read_size(&t, BIG_ID, &size), SE_OK);
        assert_int_equal(size, BIG_LEN);
        assert_int_equal(se_read_object(&t, BIG_ID, true, 0, 8, -1, out, &n), SE_OK);
        assert_int_equal(n, 8);
        assert_memory_equal(out, "\x01\x08\x0F\x16\x1D\x24\x2B\x32", 8);
    }
    return exists;
}

static size_t file_size(const char *p)
{
    struct stat st;

    assert_int_equal(stat(p, &st), 0);
    return (size_t)st.st_size;
}

static void test_growth(void **state)
{
    struct fx *f = *state;
    size_t n0 = file_size(f->path), n1, n2;
    struct sim *b;
    char err[256];
    int status = -1;
    pid_t pid;

    assert_false(se_has_big(f->s));
    assert_true(n0 < SIM_FILE_HDR_LEN + 2 * BIG_LEN);
    /* a process killed after staging a state that needed a larger file:
     * the file was extended, the old state stays */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct t1 t;
        if (sim_open(f->path, "se050", NULL, &b, err, sizeof err) != SIM_OK ||
            sim_begin(b) != SIM_OK || se_link(&t, b) != SE_OK || se_write_big(&t) != SE_OK ||
            sim_save_stage(b) != SIM_OK)
            _exit(1);
        kill(getpid(), SIGKILL);
        _exit(2);
    }
    expect_killed(pid);
    n1 = file_size(f->path);
    assert_true(n1 >= SIM_FILE_HDR_LEN + 2 * BIG_LEN);
    assert_false(se_has_big(f->s));
    assert_int_equal(sim_open(f->path, "se050", NULL, &b, err, sizeof err), SIM_OK);
    assert_false(se_has_big(b));
    sim_close(b);
    /* another process grows it for real; this handle follows */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct t1 t;
        if (sim_open(f->path, "se050", NULL, &b, err, sizeof err) != SIM_OK ||
            se_link(&t, b) != SE_OK || se_write_big(&t) != SE_OK)
            _exit(1);
        sim_close(b);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    n2 = file_size(f->path);
    assert_int_equal(n2, n1); /* the extension was reused */
    assert_true(se_has_big(f->s));
    assert_int_equal(sim_open(f->path, "se050", NULL, &b, err, sizeof err), SIM_OK);
    assert_true(se_has_big(b));
    /* and back: deleting it shrinks the state, not the file */
    struct t1 t;
    assert_int_equal(se_link(&t, b), SE_OK);
    assert_int_equal(se_delete(&t, BIG_ID), SE_OK);
    sim_close(b);
    assert_false(se_has_big(f->s));
    assert_int_equal(file_size(f->path), n2);
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
        cmocka_unit_test(test_sum_known_answers),
        cmocka_unit_test_setup_teardown(test_bad_state_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longer_file_opens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_inactive_slot_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_active_slot_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_replaced_under_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_halves_need_a_bracket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_before_flip_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_after_flip_keeps_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_anywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handles_alternate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes_see_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth, setup_se050, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
