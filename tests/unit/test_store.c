/* The host store: round trips, atomic replacement, malformed files left alone,
 * the copy kept on a chip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "module/store.h"

static char dir[] = "/tmp/seccki-store-XXXXXX";

static int setup(void **state)
{
    (void)state;
    setenv("SECCKI_LOG", "none", 1);
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip(void **state)
{
    struct store a, b;
    const uint8_t id[] = {0x01, 0x02}, der[] = {0x30, 0x03, 0x02, 0x01, 0x05};

    (void)state;
    assert_int_equal(store_open(&a, dir, "atecc608", "0123AA"), 0);
    assert_false(a.initialized);
    a.initialized = true;
    strcpy(a.label, "edge");
    assert_int_equal(store_pin_set(&a.user, (const uint8_t *)"1234", 4), 0);
    a.user.fails = 3;
    assert_non_null(store_key_put(&a, 2, "device", id, sizeof id));
    assert_non_null(store_key_put(&a, 3, "", NULL, 0));
    assert_non_null(store_cert_put(&a, 0x100, NULL, NULL, 0, der, sizeof der));
    assert_non_null(store_cert_put(&a, 0x101, "ca", id, 1, der, sizeof der));
    assert_int_equal(store_save(&a), 0);

    assert_int_equal(store_open(&b, dir, "atecc608", "0123AA"), 0);
    assert_true(b.initialized);
    assert_string_equal(b.label, "edge");
    assert_true(store_pin_matches(&b.user, (const uint8_t *)"1234", 4));
    assert_false(store_pin_matches(&b.user, (const uint8_t *)"1235", 4));
    assert_int_equal(b.user.fails, 3);
    assert_int_equal(b.nkeys, 2);
    assert_string_equal(store_key_find(&b, 2)->label, "device");
    assert_memory_equal(store_key_find(&b, 2)->id, id, 2);
    assert_int_equal(store_key_find(&b, 3)->id_len, 0);
    const struct store_cert *c = store_cert_find(&b, 0x100);
    assert_non_null(c);
    assert_false(c->explicit_label);
    assert_int_equal(c->der_len, sizeof der);
    assert_memory_equal(c->der, der, sizeof der);
    assert_true(store_cert_find(&b, 0x101)->explicit_label);

    /* another process changes it: refresh notices */
    assert_int_equal(store_refresh(&a), 0);
    store_key_remove(&b, 3);
    store_cert_remove(&b, 0x101);
    assert_int_equal(store_save(&b), 0);
    assert_int_equal(store_refresh(&a), 1);
    assert_null(store_key_find(&a, 3));
    assert_null(store_cert_find(&a, 0x101));
    store_close(&a);
    store_close(&b);
}

static void test_malformed_left_alone(void **state)
{
    struct store st;
    char path[256];
    const char bad[] = "seccki-store 1\nkey zz nothex\n";
    FILE *f;

    (void)state;
    snprintf(path, sizeof path, "%s/atecc608-BAD.store", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(bad, f);
    fclose(f);
    assert_int_equal(store_open(&st, dir, "atecc608", "BAD"), -1);
    assert_true(st.broken);
    assert_int_equal(store_save(&st), -1);
    char back[64] = "";
    f = fopen(path, "r");
    assert_int_equal(fread(back, 1, sizeof back, f), strlen(bad));
    fclose(f);
    assert_string_equal(back, bad);
    store_close(&st);
}

static int mirrored;
static char mirror_copy[4096];
static size_t mirror_len;
static int mirror(void *ctx, const uint8_t *blob, size_t len)
{
    (void)ctx;
    mirrored++;
    memcpy(mirror_copy, blob, len < sizeof mirror_copy ? len : sizeof mirror_copy);
    mirror_len = len;
    return 0;
}

/* The host file is lost (a reflash): the chip's copy brings labels back. */
static void test_chip_copy(void **state)
{
    struct store st;
    char path[256];

    (void)state;
    assert_int_equal(store_open(&st, dir, "se050", "77"), 0);
    st.mirror = mirror;
    assert_non_null(store_key_put(&st, 0x60000001, "tls-rsa", (const uint8_t *)"\x10", 1));
    assert_int_equal(store_save(&st), 0);
    assert_int_equal(mirrored, 1);
    store_close(&st);

    snprintf(path, sizeof path, "%s/se050-77.store", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(store_open(&st, dir, "se050", "77"), 0);
    assert_int_equal(st.nkeys, 0);
    assert_int_equal(store_restore(&st, (const uint8_t *)mirror_copy, mirror_len), 0);
    assert_string_equal(store_key_find(&st, 0x60000001)->label, "tls-rsa");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(store_restore(&st, (const uint8_t *)"garbage", 7), -1);
    store_close(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed_left_alone),
        cmocka_unit_test(test_chip_copy),
    };
    return cmocka_run_group_tests_name("host store", tests, setup, teardown);
}
