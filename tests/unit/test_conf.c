/* The config parser: the happy path, the defaults, and each error class with
 * the exact "file:line: reason" it must produce, checked both in the token's
 * error field and in the log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/conf.h"

struct fixture {
    char dir[64];
    char logpath[96];
    struct conf conf;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);

    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/seccki-test-conf-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->logpath, sizeof fx->logpath, "%s/log", fx->dir);
    setenv("SECCKI_LOG_FILE", fx->logpath, 1);
    setenv("SECCKI_LOG", "warn", 1);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char path[128];

    unlink(fx->logpath);
    snprintf(path, sizeof path, "%s/seccki.conf", fx->dir);
    unlink(path);
    rmdir(fx->dir);
    unsetenv("SECCKI_LOG_FILE");
    free(fx);
    return 0;
}

/* Returns what was logged since the last call, and forgets it. */
static char *take_log(struct fixture *fx)
{
    FILE *f = fopen(fx->logpath, "r");
    char *buf = calloc(1, 65536);
    size_t n = 0;

    assert_non_null(buf);
    if (f != NULL) {
        n = fread(buf, 1, 65535, f);
        fclose(f);
    }
    buf[n] = '\0';
    unlink(fx->logpath);
    return buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static struct conf *parse(struct fixture *fx, const char *text)
{
    assert_int_equal(conf_parse("seccki.conf", text, strlen(text), &fx->conf), 0);
    return &fx->conf;
}

/* The text must have exactly one token whose error is `want`, and the log
 * must show that message once and nothing else. */
static void expect_one_error(struct fixture *fx, const char *text, const char *want)
{
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);

    assert_int_equal(c->ntokens, 1);
    assert_false(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].error, want);
    assert_non_null(strstr(log, want));
    assert_int_equal(count_lines(log), 1);
    free(log);
}

static void test_two_tokens(void **state)
{
    struct fixture *fx = *state;
    static const char text[] =
        "# seccki config\n"
        "; another comment style\n"
        "\n"
        "[token edge]   # the ATECC608 on the carrier\n"
        "  chip = atecc608\n"
        "bus\t=\t/dev/i2c-1\n"
        "address = 0x60\n"
        "label = Edge Device Key   ; shown to clients\n"
        "login = none\n"
        "store = /var/lib/seccki/edge\n"
        "\r\n"
        "[token vault]\r\n"
        "chip = se050\r\n"
        "bus = sim:/var/tmp/vault.se050\r\n"
        "address = 72\r\n"
        "sim_profile = iot.v1\r\n"
        "sim_faults = busy=2,crc#1\r\n";
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);

    assert_string_equal(log, "");
    free(log);
    assert_string_equal(c->path, "seccki.conf");
    assert_int_equal(c->ntokens, 2);

    assert_true(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].name, "edge");
    assert_string_equal(c->tokens[0].chip, "atecc608");
    assert_string_equal(c->tokens[0].bus, "/dev/i2c-1");
    assert_int_equal(c->tokens[0].address, 0x60);
    assert_string_equal(c->tokens[0].label, "Edge Device Key");
    assert_int_equal(c->tokens[0].login, CONF_LOGIN_NONE);
    assert_string_equal(c->tokens[0].store, "/var/lib/seccki/edge");
    assert_string_equal(c->tokens[0].sim_profile, "");
    assert_string_equal(c->tokens[0].sim_faults, "");
    assert_string_equal(c->tokens[0].error, "");

    assert_true(c->tokens[1].valid);
    assert_string_equal(c->tokens[1].name, "vault");
    assert_string_equal(c->tokens[1].chip, "se050");
    assert_string_equal(c->tokens[1].bus, "sim:/var/tmp/vault.se050");
    assert_int_equal(c->tokens[1].address, 0x48);
    assert_string_equal(c->tokens[1].sim_profile, "iot.v1");
    /* '#' not after a blank is part of the value */
    assert_string_equal(c->tokens[1].sim_faults, "busy=2,crc#1");
}

static void test_defaults(void **state)
{
    struct fixture *fx = *state;
    struct conf *c = parse(fx, "[token a-1.b_c]\nchip = atecc608\nbus = sim:/tmp/x\n");

    assert_int_equal(c->ntokens, 1);
    assert_true(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].label, "a-1.b_c");
    assert_int_equal(c->tokens[0].login, CONF_LOGIN_PIN);
    assert_string_equal(c->tokens[0].store, CONF_DEFAULT_STORE);
    assert_int_equal(c->tokens[0].address, 0);
    assert_string_equal(c->tokens[0].sim_profile, "");
    assert_string_equal(c->tokens[0].sim_faults, "");
}

/* object lines map chip objects to labels and IDs; they repeat. */
static void test_object_map(void **state)
{
    struct fixture *fx = *state;
    struct conf *c = parse(fx, "[token a]\nchip = se050\nbus = sim:/tmp/x\n"
                               "object = 0xF0000100:device:f00001\nobject = 3:spare\n"
                               "[token b]\nchip = atecc608\nbus = sim:/tmp/y\nobject = 0:x:zz\n"
                               "[token c]\nchip = atecc608\nbus = sim:/tmp/z\nobject = 1:a\n"
                               "object = 1:b\n"
                               "[token d]\nchip = atecc608\nbus = sim:/tmp/w\nobject = nine:a\n");

    assert_int_equal(c->ntokens, 4);
    assert_true(c->tokens[0].valid);
    assert_int_equal(c->tokens[0].nobjects, 2);
    assert_int_equal(c->tokens[0].objects[0].chip_id, 0xF0000100u);
    assert_string_equal(c->tokens[0].objects[0].label, "device");
    assert_int_equal(c->tokens[0].objects[0].id_len, 3);
    assert_int_equal(c->tokens[0].objects[0].id[0], 0xF0);
    assert_int_equal(c->tokens[0].objects[1].chip_id, 3);
    assert_int_equal(c->tokens[0].objects[1].id_len, 0);
    assert_false(c->tokens[1].valid); /* ID not hex */
    assert_non_null(strstr(c->tokens[1].error, "seccki.conf:9:"));
    assert_false(c->tokens[2].valid); /* object 1 mapped twice */
    assert_non_null(strstr(c->tokens[2].error, "mapped twice"));
    assert_false(c->tokens[3].valid); /* not an object id */
}

static void test_limits_accepted(void **state)
{
    struct fixture *fx = *state;
    char text[2048];
    char name[33], label[33], bus[256];

    memset(name, 'n', 32);
    name[32] = '\0';
    memset(label, 'l', 32);
    label[32] = '\0';
    memcpy(bus, "/dev/", 5);
    memset(bus + 5, 'b', 250);
    bus[255] = '\0';
    snprintf(text, sizeof text,
             "[token %s]\nchip=atecc608\nbus=%s\nlabel=%s\naddress=0x08\n"
             "[token hi]\nchip=se050\nbus=/dev/i2c-0\naddress=0X77\n"
             "[token dec]\nchip=se050\nbus=/dev/i2c-0\naddress=8\n",
             name, bus, label);
    struct conf *c = parse(fx, text);

    assert_int_equal(c->ntokens, 3);
    assert_true(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].name, name);
    assert_string_equal(c->tokens[0].label, label);
    assert_string_equal(c->tokens[0].bus, bus);
    assert_int_equal(c->tokens[0].address, 0x08);
    assert_true(c->tokens[1].valid);
    assert_int_equal(c->tokens[1].address, 0x77);
    assert_true(c->tokens[2].valid);
    assert_int_equal(c->tokens[2].address, 8);
}

static void test_unknown_key_leaves_others_valid(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "[token first]\n"      /* 1 */
                               "chip = se050\n"       /* 2 */
                               "bus = /dev/i2c-1\n"   /* 3 */
                               "\n"                   /* 4 */
                               "[token edge]\n"       /* 5 */
                               "chip = atecc608\n"    /* 6 */
                               "adress = 0x60\n"      /* 7 */
                               "bus = /dev/i2c-1\n"   /* 8 */
                               "[token last]\n"       /* 9 */
                               "chip = atecc608\n"    /* 10 */
                               "bus = sim:/tmp/s\n";  /* 11 */
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);

    assert_int_equal(c->ntokens, 3);
    assert_true(c->tokens[0].valid);
    assert_false(c->tokens[1].valid);
    assert_string_equal(c->tokens[1].error,
                        "seccki.conf:7: unknown key 'adress' in [token edge]");
    assert_true(c->tokens[2].valid);
    assert_string_equal(c->tokens[2].bus, "sim:/tmp/s");
    assert_non_null(strstr(log, "conf: seccki.conf:7: unknown key 'adress' in [token edge]\n"));
    assert_int_equal(count_lines(log), 1);
    free(log);
}

static void test_missing_chip_or_bus(void **state)
{
    struct fixture *fx = *state;

    expect_one_error(fx, "# c\n[token e]\nbus = /dev/i2c-1\n",
                     "seccki.conf:2: no 'chip' in [token e]");
    expect_one_error(fx, "[token e]\nchip = se050\n\n", "seccki.conf:1: no 'bus' in [token e]");
}

static void test_duplicate_section(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "[token a]\nchip=se050\nbus=/dev/i2c-1\n"
                               "[token a]\nchip=se050\nbus=/dev/i2c-2\n";
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);

    assert_int_equal(c->ntokens, 2);
    assert_true(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].bus, "/dev/i2c-1");
    assert_false(c->tokens[1].valid);
    assert_string_equal(c->tokens[1].error,
                        "seccki.conf:4: duplicate section [token a] (first at line 1)");
    assert_int_equal(count_lines(log), 1);
    free(log);
}

static void test_duplicate_key(void **state)
{
    struct fixture *fx = *state;

    expect_one_error(fx, "[token a]\nchip=se050\nbus=/dev/i2c-1\nchip = se050\n",
                     "seccki.conf:4: duplicate key 'chip' in [token a] (first at line 2)");
}

static void test_bad_values(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *line;
        const char *reason;
    } cases[] = {
        {"address = 0x07", "address '0x07' is not a 7-bit device address (0x08..0x77)"},
        {"address = 0x78", "address '0x78' is not a 7-bit device address (0x08..0x77)"},
        {"address = 120", "address '120' is not a 7-bit device address (0x08..0x77)"},
        {"address = 0x100", "address '0x100' is not a 7-bit device address (0x08..0x77)"},
        {"address = 99999999999999999999999",
         "address '99999999999999999999999' is not a 7-bit device address (0x08..0x77)"},
        {"address = 0x", "address '0x' is not a number (hex 0x.. or decimal)"},
        {"address = 0x6g", "address '0x6g' is not a number (hex 0x.. or decimal)"},
        {"address = -96", "address '-96' is not a number (hex 0x.. or decimal)"},
        {"address = 96 dec", "address '96 dec' is not a number (hex 0x.. or decimal)"},
        {"chip = atecc508", "unknown chip 'atecc508' (atecc608 or se050)"},
        {"chip = ATECC608", "unknown chip 'ATECC608' (atecc608 or se050)"},
        {"login = maybe", "login 'maybe' is neither pin nor none"},
        {"store = var/lib/seccki", "store 'var/lib/seccki' is not an absolute path"},
        {"label = 123456789012345678901234567890123",
         "value of 'label' too long (33 bytes, at most 32)"},
        {"sim_profile = tls/x", "sim_profile 'tls/x' has a character outside A-Z a-z 0-9 . _ -"},
        {"login =", "empty value for 'login'"},
        {"login  # comment", "expected 'key = value'"},
        {"= pin", "missing key before '='"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], want[512];
        /* the line under test is line 4, and the only error */
        if (strncmp(cases[i].line, "chip", 4) == 0)
            snprintf(text, sizeof text, "[token t]\nbus = /dev/i2c-3\nlogin = pin\n%s\n",
                     cases[i].line);
        else
            snprintf(text, sizeof text, "[token t]\nchip = se050\nbus = /dev/i2c-3\n%s\n",
                     cases[i].line);
        snprintf(want, sizeof want, "seccki.conf:4: %s in [token t]", cases[i].reason);
        expect_one_error(fx, text, want);
    }
}

static void test_bad_bus(void **state)
{
    struct fixture *fx = *state;

    static const char *const buses[] = {"sim:", "/dev/", "i2c-1", "tcp:host:1"};
    for (size_t i = 0; i < sizeof buses / sizeof buses[0]; i++) {
        char text[256], want[256];
        snprintf(text, sizeof text, "[token t]\nchip = se050\nbus = %s\n", buses[i]);
        struct conf *c = parse(fx, text);
        char *log = take_log(fx);
        snprintf(want, sizeof want,
                 "seccki.conf:3: bus '%s' is neither sim:PATH nor a /dev/ I2C device in [token t]",
                 buses[i]);
        assert_false(c->tokens[0].valid);
        assert_string_equal(c->tokens[0].error, want);
        assert_non_null(strstr(log, want));
        free(log);
    }
}

static void test_long_values_are_errors(void **state)
{
    struct fixture *fx = *state;
    char text[1200], want[256], val[300];

    val[0] = '/';
    memset(val + 1, 's', 255);
    val[256] = '\0';
    snprintf(text, sizeof text, "[token t]\nchip = se050\nbus = /dev/i2c-3\nstore = %s\n", val);
    snprintf(want, sizeof want,
             "seccki.conf:4: value of 'store' too long (256 bytes, at most 255) in [token t]");
    expect_one_error(fx, text, want);

    memcpy(val, "sim:", 4);
    memset(val + 4, 'p', 252);
    val[256] = '\0';
    snprintf(text, sizeof text, "[token t]\nchip = se050\nbus = %s\n", val);
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);
    assert_false(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].error,
                        "seccki.conf:3: value of 'bus' too long (256 bytes, at most 255) in "
                        "[token t]");
    assert_string_equal(c->tokens[0].bus, ""); /* never a truncated path */
    free(log);
}

static void test_long_line(void **state)
{
    struct fixture *fx = *state;
    char *text = malloc(4096);
    size_t n;

    assert_non_null(text);
    n = (size_t)snprintf(text, 4096, "[token t]\nchip = se050\nbus = /dev/i2c-3\nlabel = ");
    memset(text + n, 'x', 1100);
    n += 1100;
    memcpy(text + n, "\n[token u]\nchip = se050\nbus = /dev/i2c-4\n", 41);
    text[n + 41] = '\0';

    struct conf *c = parse(fx, text);
    char *log = take_log(fx);
    assert_int_equal(c->ntokens, 2);
    assert_false(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].error, "seccki.conf:4: line longer than 1024 bytes");
    assert_string_equal(c->tokens[0].label, "t");
    assert_true(c->tokens[1].valid);
    assert_string_equal(c->tokens[1].bus, "/dev/i2c-4");
    free(log);
    free(text);
}

static void test_outside_section(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "chip = se050\n"            /* 1 */
                               "garbage\n"                 /* 2 */
                               "[token a]\n"               /* 3 */
                               "chip = se050\n"            /* 4 */
                               "bus = /dev/i2c-1\n";       /* 5 */
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);

    assert_int_equal(c->ntokens, 1);
    assert_true(c->tokens[0].valid);
    assert_non_null(
        strstr(log, "seccki.conf:1: line outside any [token NAME] section ignored\n"));
    assert_non_null(
        strstr(log, "seccki.conf:2: line outside any [token NAME] section ignored\n"));
    assert_int_equal(count_lines(log), 2);
    free(log);
}

static void test_unknown_and_malformed_sections(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "[global]\n"                /* 1 */
                               "debug = yes\n"             /* 2: part of the ignored section */
                               "[token a]\n"               /* 3 */
                               "chip = se050\n"            /* 4 */
                               "bus = /dev/i2c-1\n"        /* 5 */
                               "[token b\n"                /* 6 */
                               "chip = nonsense\n"         /* 7: not attributed to a */
                               "[token bad/name]\n"        /* 8 */
                               "[token]\n"                 /* 9 */
                               "[token c]\n"               /* 10 */
                               "chip = atecc608\n"         /* 11 */
                               "bus = sim:/tmp/c\n";       /* 12 */
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);

    assert_int_equal(c->ntokens, 2);
    assert_true(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].name, "a");
    assert_string_equal(c->tokens[0].chip, "se050");
    assert_true(c->tokens[1].valid);
    assert_string_equal(c->tokens[1].name, "c");
    assert_non_null(strstr(log, "seccki.conf:1: unknown section kind 'global' (expected [token "
                                "NAME]); section ignored\n"));
    assert_non_null(
        strstr(log, "seccki.conf:6: malformed section header (no closing ']'); section ignored\n"));
    assert_non_null(strstr(log, "seccki.conf:8: token name 'bad/name' has a character outside "
                                "A-Z a-z 0-9 . _ -; section ignored\n"));
    assert_non_null(strstr(
        log, "seccki.conf:9: token name must be 1 to 32 characters, got 0; section ignored\n"));
    assert_int_equal(count_lines(log), 4);
    free(log);
}

static void test_too_many_sections(void **state)
{
    struct fixture *fx = *state;
    char *text = malloc(8192);
    size_t n = 0;

    assert_non_null(text);
    for (int i = 0; i < CONF_MAX_TOKENS + 2; i++)
        n += (size_t)snprintf(text + n, 8192 - n, "[token t%d]\nchip = se050\nbus = /dev/i2c-%d\n",
                              i, i);
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);
    char want[128];

    assert_int_equal(c->ntokens, CONF_MAX_TOKENS);
    for (size_t i = 0; i < CONF_MAX_TOKENS; i++)
        assert_true(c->tokens[i].valid);
    assert_string_equal(c->tokens[CONF_MAX_TOKENS - 1].bus, "/dev/i2c-15");
    snprintf(want, sizeof want,
             "seccki.conf:%d: more than %d token sections; [token t16] ignored\n",
             3 * CONF_MAX_TOKENS + 1, CONF_MAX_TOKENS);
    assert_non_null(strstr(log, want));
    assert_int_equal(count_lines(log), 2);
    free(log);
    free(text);
}

static void test_nul_byte(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "[token t]\nchip = se050\nbus = /dev/i2c-1\nlabel = a\0b\n";

    assert_int_equal(conf_parse("seccki.conf", text, sizeof text - 1, &fx->conf), 0);
    char *log = take_log(fx);
    assert_false(fx->conf.tokens[0].valid);
    assert_string_equal(fx->conf.tokens[0].error, "seccki.conf:4: NUL byte in line");
    free(log);
}

static void test_errors_keep_first_reason(void **state)
{
    struct fixture *fx = *state;
    static const char text[] = "[token t]\nchip = z80\nbus = nowhere\n";
    struct conf *c = parse(fx, text);
    char *log = take_log(fx);

    assert_false(c->tokens[0].valid);
    assert_string_equal(c->tokens[0].error,
                        "seccki.conf:2: unknown chip 'z80' (atecc608 or se050) in [token t]");
    /* every problem is still logged */
    assert_int_equal(count_lines(log), 2);
    free(log);
}

static void test_default_path(void **state)
{
    (void)state;
    unsetenv("SECCKI_CONF");
    assert_string_equal(conf_default_path(), CONF_DEFAULT_PATH);
    setenv("SECCKI_CONF", "", 1);
    assert_string_equal(conf_default_path(), CONF_DEFAULT_PATH);
    setenv("SECCKI_CONF", "/tmp/other.conf", 1);
    assert_string_equal(conf_default_path(), "/tmp/other.conf");
    unsetenv("SECCKI_CONF");
}

static void test_load_file(void **state)
{
    struct fixture *fx = *state;
    char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/seccki.conf", fx->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[token edge]\nchip = atecc608\nbus = /dev/i2c-1\nadress = 0x60\n", f);
    fclose(f);

    assert_int_equal(conf_load(path, &fx->conf), 0);
    assert_string_equal(fx->conf.path, path);
    assert_int_equal(fx->conf.ntokens, 1);
    char want[256];
    snprintf(want, sizeof want, "%s:4: unknown key 'adress' in [token edge]", path);
    assert_string_equal(fx->conf.tokens[0].error, want);
    free(take_log(fx));

    unlink(path);
    errno = 0;
    assert_int_equal(conf_load(path, &fx->conf), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fx->conf.ntokens, 0);
    char *log = take_log(fx);
    assert_non_null(strstr(log, "cannot open"));
    free(log);
}

/* The shipped example is what `make install` puts in place: it must parse. */
static void test_example_file(void **state)
{
    struct fixture *fx = *state;
    char *log;

    assert_int_equal(conf_load("conf/seccki.conf.example", &fx->conf), 0);
    log = take_log(fx);
    assert_string_equal(log, "");
    free(log);
    assert_int_equal(fx->conf.ntokens, 2);
    assert_true(fx->conf.tokens[0].valid);
    assert_string_equal(fx->conf.tokens[0].chip, "atecc608");
    assert_string_equal(fx->conf.tokens[0].bus, "/dev/i2c-1");
    assert_int_equal(fx->conf.tokens[0].address, 0x60);
    assert_true(fx->conf.tokens[1].valid);
    assert_string_equal(fx->conf.tokens[1].chip, "se050");
    assert_int_equal(fx->conf.tokens[1].address, 0x48);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_leaves_others_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_chip_or_bus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_values_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_malformed_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_keep_first_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
