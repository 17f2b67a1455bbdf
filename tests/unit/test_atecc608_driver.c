/* The ATECC608 driver end to end: token_ops over the real bus and the
 * emulator, results checked with OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "hal/atecc608/atecc.h"
#include "hal/bus.h"
#include "module/token.h"
#include "tests/unit/testdir.h"

struct fx {
    char dir[64];
    char spec[128];
    struct bus *bus;
    struct tok_dev *dev;
    const struct token_ops *ops;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    if (testdir_make(f->dir, sizeof f->dir, "drv") != 0)
        return -1;
    snprintf(f->spec, sizeof f->spec, "sim:%s/chip", f->dir);
    f->ops = token_driver_find("atecc608");
    *state = f;
    return f->ops != NULL ? 0 : -1;
}

static void close_chip(struct fx *f)
{
    if (f->dev != NULL)
        f->ops->close(f->dev);
    if (f->bus != NULL)
        bus_close(f->bus);
    f->dev = NULL;
    f->bus = NULL;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    close_chip(f);
    testdir_remove(f->dir);
    free(f);
    return 0;
}

/* Opens (creating in `profile` when new) the chip; returns the token open
 * result. The bus stays open in f->bus. */
static int open_chip(struct fx *f, const char *profile, const char *faults)
{
    struct bus_opts o = {.chip = "atecc608", .sim_profile = profile, .sim_faults = faults};
    struct tok_opts to = {.address = 0x60};
    char err[256] = "";

    close_chip(f);
    if (bus_open(f->spec, &o, &f->bus, err, sizeof err) != BUS_OK)
        fail_msg("bus_open %s: %s", f->spec, err);
    return f->ops->open(f->bus, &to, &f->dev);
}

/* ---- OpenSSL helpers ---- */

static EVP_PKEY *pkey_from_point(const uint8_t *point, size_t len)
{
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    char group[] = "prime256v1";

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len);
    params[2] = OSSL_PARAM_construct_end();
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* 1 when sig (r || s) is a valid ECDSA signature of the raw digest. */
static int verify_raw(const struct tok_pubkey *pub, const uint8_t digest[32],
                      const uint8_t sig[64])
{
    EVP_PKEY *pkey = pkey_from_point(pub->point, pub->point_len);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    EVP_PKEY_CTX *vctx;
    int derlen, ok;

    assert_non_null(es);
    assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
    derlen = i2d_ECDSA_SIG(es, &der);
    assert_true(derlen > 0);
    vctx = EVP_PKEY_CTX_new(pkey, NULL);
    assert_int_equal(EVP_PKEY_verify_init(vctx), 1);
    ok = EVP_PKEY_verify(vctx, der, (size_t)derlen, digest, 32);
    EVP_PKEY_CTX_free(vctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pkey);
    return ok == 1;
}

static void sign_and_verify(struct fx *f, uint32_t slot)
{
    struct tok_pubkey pub;
    uint8_t digest[32], sig[64];
    size_t sig_len = sizeof sig;
    struct tok_sign_req req = {.alg = TOK_SIG_ECDSA, .hash = TOK_HASH_SHA256, .in = digest,
                               .in_len = sizeof digest};

    for (unsigned i = 0; i < sizeof digest; i++)
        digest[i] = (uint8_t)(0x5A ^ (i * 7) ^ slot);
    assert_int_equal(f->ops->read_public(f->dev, slot, &pub), TOK_OK);
    assert_int_equal(f->ops->sign(f->dev, slot, &req, sig, &sig_len), TOK_OK);
    assert_int_equal(sig_len, 64);
    assert_true(verify_raw(&pub, digest, sig));
    digest[0] ^= 1;
    assert_false(verify_raw(&pub, digest, sig));
}

/* ---- tests ---- */

static void test_open_info(void **state)
{
    struct fx *f = *state;
    struct tok_info info;
    struct atecc_dev *chip;
    uint8_t sn[ATECC_SERIAL_SIZE], rev[4];
    char hex[2 * ATECC_SERIAL_SIZE + 1];
    const struct tok_caps *caps;

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    assert_int_equal(f->ops->info(f->dev, &info), TOK_OK);
    assert_int_equal(atecc_open(f->bus, 0x60, &chip), ATECC_OK);
    atecc_serial(chip, sn);
    atecc_revision(chip, rev);
    for (unsigned i = 0; i < ATECC_SERIAL_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02X", sn[i]);
    assert_string_equal(info.serial, hex);
    assert_memory_equal(sn, atecc_config(chip), 4);
    assert_memory_equal(sn + 4, atecc_config(chip) + 8, 5);
    assert_int_equal(rev[2], 0x60);
    assert_string_equal(info.model, rev[3] > 2 ? "ATECC608B" : "ATECC608A");
    assert_string_equal(info.manufacturer, "Microchip Technology");
    assert_int_equal(info.hw_major, 0);
    assert_int_equal(info.hw_minor, rev[3]);
    assert_true(info.provisioned);
    assert_int_equal(info.free_memory, -1);
    atecc_close(chip);

    caps = f->ops->caps(f->dev);
    assert_int_equal(caps->curves, 1u << TOK_CURVE_P256);
    assert_int_equal(caps->rsa_min_bits, 0);
    assert_true(caps->ecdh && caps->hw_random && caps->fixed_slots);
    assert_false(caps->import_keys);
    assert_int_equal(caps->max_keys, 5);
    assert_int_equal(f->ops->default_address, 0x60);
}

static void test_list_keys_tls(void **state)
{
    struct fx *f = *state;
    struct tok_key keys[16];
    size_t n = 2;

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    assert_int_equal(f->ops->list_keys(f->dev, keys, &n), TOK_E_FULL);
    assert_int_equal(n, 5);
    n = 16;
    assert_int_equal(f->ops->list_keys(f->dev, keys, &n), TOK_OK);
    /* slots 0-4 only: 11, 13, 14 and 15 hold public keys and are not listed */
    assert_int_equal(n, 5);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(keys[i].id, i);
        assert_int_equal(keys[i].type, TOK_KEY_EC);
        assert_int_equal(keys[i].curve, TOK_CURVE_P256);
        assert_int_equal(keys[i].bits, 256);
        assert_int_equal(keys[i].flags, TOK_KEYF_PRIVATE | TOK_KEYF_SIGN | TOK_KEYF_DERIVE |
                                            TOK_KEYF_GENERATE);
    }
}

static void test_generate_read_public(void **state)
{
    struct fx *f = *state;
    struct tok_pubkey gen, rd, before;
    EVP_PKEY *pk;

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    assert_int_equal(f->ops->read_public(f->dev, 2, &before), TOK_OK);
    assert_int_equal(f->ops->generate(f->dev, 2, TOK_KEY_EC, TOK_CURVE_P256, 256, &gen), TOK_OK);
    assert_int_equal(gen.point_len, 65);
    assert_int_equal(gen.point[0], 0x04);
    assert_int_equal(gen.type, TOK_KEY_EC);
    assert_int_equal(gen.curve, TOK_CURVE_P256);
    assert_memory_not_equal(gen.point, before.point, 65);
    assert_int_equal(f->ops->read_public(f->dev, 2, &rd), TOK_OK);
    assert_memory_equal(rd.point, gen.point, 65);
    pk = pkey_from_point(gen.point, gen.point_len); /* on the curve */
    EVP_PKEY_free(pk);
    sign_and_verify(f, 2);

    assert_int_equal(f->ops->generate(f->dev, 2, TOK_KEY_RSA, TOK_CURVE_NONE, 2048, &gen),
                     TOK_E_UNSUPPORTED);
    assert_int_equal(f->ops->generate(f->dev, 2, TOK_KEY_EC, TOK_CURVE_P384, 384, &gen),
                     TOK_E_UNSUPPORTED);
    assert_int_equal(f->ops->generate(f->dev, 9, TOK_KEY_EC, TOK_CURVE_P256, 256, &gen),
                     TOK_E_NOT_FOUND);
}

static void test_sign_verify(void **state)
{
    struct fx *f = *state;
    struct tok_pubkey pub;
    struct atecc_dev *chip;
    uint8_t digest[32] = {1, 2, 3}, sig[64];

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    for (uint32_t slot = 0; slot < 5; slot++)
        sign_and_verify(f, slot);

    /* the chip's own Verify agrees, and rejects a forged signature */
    assert_int_equal(atecc_open(f->bus, 0x60, &chip), ATECC_OK);
    assert_int_equal(f->ops->read_public(f->dev, 0, &pub), TOK_OK);
    assert_int_equal(atecc_sign_digest(chip, 0, digest, sig), ATECC_OK);
    assert_int_equal(atecc_verify_extern(chip, digest, sig, pub.point + 1), ATECC_OK);
    sig[10] ^= 0x40;
    assert_int_equal(atecc_verify_extern(chip, digest, sig, pub.point + 1), ATECC_E_VERIFY);
    atecc_close(chip);
}

static void test_sign_errors(void **state)
{
    struct fx *f = *state;
    uint8_t digest[48] = {0}, sig[64];
    size_t sig_len = sizeof sig;
    struct tok_sign_req req = {.alg = TOK_SIG_ECDSA, .in = digest, .in_len = 31};

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    assert_int_equal(f->ops->sign(f->dev, 0, &req, sig, &sig_len), TOK_E_DATA_LEN);
    req.in_len = 48;
    assert_int_equal(f->ops->sign(f->dev, 0, &req, sig, &sig_len), TOK_E_DATA_LEN);
    req.in_len = 32;
    req.alg = TOK_SIG_RSA_PKCS1;
    assert_int_equal(f->ops->sign(f->dev, 0, &req, sig, &sig_len), TOK_E_UNSUPPORTED);
    req.alg = TOK_SIG_ECDSA;
    assert_int_equal(f->ops->sign(f->dev, 5, &req, sig, &sig_len), TOK_E_NOT_FOUND);
    assert_int_equal(f->ops->sign(f->dev, 11, &req, sig, &sig_len), TOK_E_NOT_FOUND);
    assert_int_equal(f->ops->sign(f->dev, 16, &req, sig, &sig_len), TOK_E_NOT_FOUND);
    sig_len = 63;
    assert_int_equal(f->ops->sign(f->dev, 0, &req, sig, &sig_len), TOK_E_ARGS);
}

static void test_ecdh(void **state)
{
    struct fx *f = *state;
    EVP_PKEY *host = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *chip_pk;
    EVP_PKEY_CTX *dctx;
    struct tok_pubkey pub;
    uint8_t peer[65], chip_secret[32], host_secret[32];
    size_t plen = 0, clen = sizeof chip_secret, hlen = sizeof host_secret;

    assert_non_null(host);
    assert_int_equal(EVP_PKEY_get_octet_string_param(host, OSSL_PKEY_PARAM_PUB_KEY, peer,
                                                     sizeof peer, &plen),
                     1);
    assert_int_equal(plen, 65);
    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    assert_int_equal(f->ops->ecdh(f->dev, 1, peer, plen, chip_secret, &clen), TOK_OK);
    assert_int_equal(clen, 32);

    assert_int_equal(f->ops->read_public(f->dev, 1, &pub), TOK_OK);
    chip_pk = pkey_from_point(pub.point, pub.point_len);
    dctx = EVP_PKEY_CTX_new(host, NULL);
    assert_int_equal(EVP_PKEY_derive_init(dctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(dctx, chip_pk), 1);
    assert_int_equal(EVP_PKEY_derive(dctx, host_secret, &hlen), 1);
    assert_int_equal(hlen, 32);
    assert_memory_equal(chip_secret, host_secret, 32);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(chip_pk);
    EVP_PKEY_free(host);

    /* not 04 || X || Y */
    assert_int_equal(f->ops->ecdh(f->dev, 1, peer + 1, 64, chip_secret, &clen),
                     TOK_E_DATA_INVALID);
    peer[0] = 0x02;
    assert_int_equal(f->ops->ecdh(f->dev, 1, peer, 65, chip_secret, &clen), TOK_E_DATA_INVALID);
    /* a point off the curve, refused by the chip */
    peer[0] = 0x04;
    peer[64] ^= 0x01;
    clen = sizeof chip_secret;
    assert_int_equal(f->ops->ecdh(f->dev, 1, peer, 65, chip_secret, &clen), TOK_E_DATA_INVALID);
}

static void test_random(void **state)
{
    struct fx *f = *state;
    uint8_t a[300], b[300], zero[300] = {0};

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(f->ops->random(f->dev, a, sizeof a), TOK_OK);
    assert_int_equal(f->ops->random(f->dev, b, 7), TOK_OK);
    assert_memory_not_equal(a, b, 7);
    assert_memory_not_equal(a + 268, zero, 32); /* the tail was filled too */
    assert_int_equal(f->ops->random(f->dev, b, sizeof b), TOK_OK);
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_destroy_regenerates(void **state)
{
    struct fx *f = *state;
    struct tok_pubkey a, b;

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    assert_int_equal(f->ops->read_public(f->dev, 3, &a), TOK_OK);
    assert_int_equal(f->ops->destroy(f->dev, 3), TOK_OK);
    assert_int_equal(f->ops->read_public(f->dev, 3, &b), TOK_OK);
    assert_memory_not_equal(a.point, b.point, 65);
    assert_int_equal(f->ops->destroy(f->dev, 7), TOK_E_NOT_FOUND);
}

static void test_provision_blank(void **state)
{
    struct fx *f = *state;
    struct tok_info info;
    struct tok_key keys[16];
    size_t n = 16;
    uint8_t r[32], cfg_before[ATECC_CONFIG_SIZE];
    struct atecc_dev *chip;

    assert_int_equal(open_chip(f, "blank", NULL), TOK_OK);
    assert_int_equal(f->ops->info(f->dev, &info), TOK_OK);
    assert_false(info.provisioned);
    assert_int_equal(f->ops->random(f->dev, r, sizeof r), TOK_E_LOCKED);
    assert_int_equal(f->ops->list_keys(f->dev, keys, &n), TOK_OK);
    assert_int_equal(n, 0);

    assert_int_equal(atecc_open(f->bus, 0x60, &chip), ATECC_OK);
    assert_false(atecc_is_config_locked(chip));
    assert_int_equal(atecc_provision(chip), ATECC_OK);
    assert_true(atecc_is_config_locked(chip));
    assert_true(atecc_is_data_locked(chip));
    assert_int_equal(atecc_config(chip)[16], 0xC0); /* address kept */
    memcpy(cfg_before, atecc_config(chip), sizeof cfg_before);
    /* a second run refuses and changes nothing */
    assert_int_equal(atecc_provision(chip), ATECC_E_LOCKED);
    assert_int_equal(atecc_refresh_locks(chip), ATECC_OK);
    assert_memory_equal(cfg_before, atecc_config(chip), sizeof cfg_before);
    atecc_close(chip);

    /* the open token sees the new state */
    assert_int_equal(f->ops->info(f->dev, &info), TOK_OK);
    assert_true(info.provisioned);
    n = 16;
    assert_int_equal(f->ops->list_keys(f->dev, keys, &n), TOK_OK);
    assert_int_equal(n, 5);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(keys[i].flags, TOK_KEYF_PRIVATE | TOK_KEYF_SIGN | TOK_KEYF_DERIVE |
                                            TOK_KEYF_GENERATE);
    assert_int_equal(f->ops->random(f->dev, r, sizeof r), TOK_OK);
    sign_and_verify(f, 0);
    sign_and_verify(f, 4);

    /* and so does a fresh one */
    assert_int_equal(open_chip(f, "blank", NULL), TOK_OK);
    assert_int_equal(f->ops->caps(f->dev)->max_keys, 5);
    sign_and_verify(f, 1);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Slot 0 permanent (no GenKey), slot 1 internal-sign only. */
static void test_policy(void **state)
{
    struct fx *f = *state;
    struct atecc_dev *chip;
    uint8_t layout[ATECC_CONFIG_SIZE], digest[32] = {9}, sig[64], peer[65], out[32];
    struct tok_key keys[16];
    struct tok_pubkey pub;
    size_t n = 16, sig_len = sizeof sig, out_len = sizeof out;
    struct tok_sign_req req = {.alg = TOK_SIG_ECDSA, .in = digest, .in_len = 32};
    EVP_PKEY *host = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    assert_non_null(host);
    assert_int_equal(EVP_PKEY_get_octet_string_param(host, OSSL_PKEY_PARAM_PUB_KEY, peer,
                                                     sizeof peer, &n),
                     1);
    EVP_PKEY_free(host);
    assert_int_equal(open_chip(f, "blank", NULL), TOK_OK);
    assert_int_equal(atecc_open(f->bus, 0x60, &chip), ATECC_OK);
    atecc_tls_layout(atecc_config(chip), 0x60, layout);
    put16(layout + 20 + 0, 0x0085);
    put16(layout + 20 + 2, 0x0082);
    assert_int_equal(atecc_provision_layout(chip, layout), ATECC_OK);
    atecc_close(chip);

    n = 16;
    assert_int_equal(f->ops->list_keys(f->dev, keys, &n), TOK_OK);
    assert_int_equal(n, 5);
    assert_int_equal(keys[0].flags,
                     TOK_KEYF_PRIVATE | TOK_KEYF_SIGN | TOK_KEYF_DERIVE | TOK_KEYF_PERMANENT);
    assert_int_equal(keys[1].flags, TOK_KEYF_PRIVATE | TOK_KEYF_PERMANENT);

    assert_int_equal(f->ops->sign(f->dev, 1, &req, sig, &sig_len), TOK_E_POLICY);
    assert_int_equal(f->ops->ecdh(f->dev, 1, peer, 65, out, &out_len), TOK_E_POLICY);
    assert_int_equal(f->ops->generate(f->dev, 0, TOK_KEY_EC, TOK_CURVE_P256, 256, &pub),
                     TOK_E_POLICY);
    assert_int_equal(f->ops->destroy(f->dev, 0), TOK_E_POLICY);
    assert_int_equal(f->ops->destroy(f->dev, 1), TOK_E_POLICY);
    assert_int_equal(f->ops->generate(f->dev, 2, TOK_KEY_EC, TOK_CURVE_P256, 256, &pub), TOK_OK);
    sign_and_verify(f, 0);
    sign_and_verify(f, 2);
}

static void test_faults_recovered(void **state)
{
    struct fx *f = *state;
    static const char *const kinds[] = {"crc", "short", "reset", "busy"};
    char spec[32];

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (unsigned n = 1; n <= 14; n++) {
            snprintf(spec, sizeof spec, "%s=%u", kinds[k], n);
            if (open_chip(f, "tls", spec) != TOK_OK)
                fail_msg("open with %s", spec);
            sign_and_verify(f, n % 5);
        }
    }
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_faults_fatal(void **state)
{
    struct fx *f = *state;
    struct timespec t0;
    int rc;

    assert_int_equal(open_chip(f, "tls", NULL), TOK_OK);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = open_chip(f, "tls", "nack=1000");
    assert_true(rc == TOK_E_ABSENT || rc == TOK_E_DEVICE);
    assert_null(f->dev);
    assert_true(elapsed_since(&t0) < 10.0);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(open_chip(f, "tls", "dead"), TOK_E_ABSENT);
    assert_true(elapsed_since(&t0) < 10.0);

    /* nothing at another address */
    close_chip(f);
    {
        struct bus_opts o = {.chip = "atecc608", .sim_profile = "tls"};
        struct tok_opts to = {.address = 0x35};
        char err[128];
        assert_int_equal(bus_open(f->spec, &o, &f->bus, err, sizeof err), BUS_OK);
        assert_int_equal(f->ops->open(f->bus, &to, &f->dev), TOK_E_ABSENT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_keys_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_read_public, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecdh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_regenerates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provision_blank, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_recovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_fatal, setup, teardown),
    };

    unsetenv("SECCKI_SIM_FAULTS");
    if (getenv("SECCKI_LOG") == NULL)
        setenv("SECCKI_LOG", "none", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
