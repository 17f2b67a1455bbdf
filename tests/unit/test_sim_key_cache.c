/* The emulators' in-memory key caches: a cached key signs like a fresh one,
 * follows every change of the key bytes (in place, or in another handle's
 * save that this one reloads), and is never written to the state file. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "hal/atecc608/atecc_crc.h"
#include "hal/sim/atecc608_emu.h"
#include "hal/sim/se050_emu.h"
#include "hal/sim/sim.h"

#define ADDR 0x60

/* ---- OpenSSL side ---- */

static EVP_PKEY *ec_pub(const char *group, const uint8_t *pt, size_t len)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM *p;
    EVP_PKEY *pk = NULL;

    assert_non_null(b);
    assert_non_null(ctx);
    assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, len), 1);
    p = OSSL_PARAM_BLD_to_param(b);
    assert_non_null(p);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, p), 1);
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static int verify_der(EVP_PKEY *pk, const uint8_t *dig, size_t dlen, const uint8_t *der,
                      size_t derlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    int ok;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    ok = EVP_PKEY_verify(ctx, der, derlen, dig, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* A raw r || s P-256 signature checked against the point X || Y. */
static int verify_rs(const uint8_t xy[64], const uint8_t dig[32], const uint8_t rs[64])
{
    uint8_t pt[65] = {0x04};
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    unsigned char *der = NULL;
    EVP_PKEY *pk;
    int n, ok;

    memcpy(pt + 1, xy, 64);
    pk = ec_pub("prime256v1", pt, sizeof pt);
    assert_non_null(es);
    assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
    n = i2d_ECDSA_SIG(es, &der);
    assert_true(n > 0);
    ok = verify_der(pk, dig, 32, der, (size_t)n);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pk);
    return ok;
}

/* ---- ATECC608, on the emulator's own structure ---- */

static unsigned first_key_slot(const struct a608 *c)
{
    for (unsigned s = 0; s < A608_SLOTS; s++)
        if (c->priv_valid & (1u << s))
            return s;
    fail_msg("no slot with a key");
    return 0;
}

static void test_a608_cache_follows_key(void **state)
{
    char err[160];
    struct a608 *c = a608_create("tls", err, sizeof err);
    uint8_t dig[32], sig[64], old_pub[64];
    unsigned slot;
    EVP_PKEY_CTX *first;

    (void)state;
    assert_non_null(c);
    slot = first_key_slot(c);
    assert_null(c->keys[slot].sign);
    RAND_bytes(dig, sizeof dig);
    assert_int_equal(a608_slot_sign(c, slot, dig, sig), 0);
    assert_true(verify_rs(c->pub[slot], dig, sig));
    first = c->keys[slot].sign;
    assert_non_null(first);
    /* the same key: the same objects, and still fresh signatures */
    for (int i = 0; i < 3; i++) {
        uint8_t sig2[64];

        RAND_bytes(dig, sizeof dig);
        assert_int_equal(a608_slot_sign(c, slot, dig, sig2), 0);
        assert_true(verify_rs(c->pub[slot], dig, sig2));
        assert_memory_not_equal(sig, sig2, 64);
        memcpy(sig, sig2, 64);
        assert_ptr_equal(c->keys[slot].sign, first);
    }
    /* a new key in the slot (what GenKey and PrivWrite do) */
    memcpy(old_pub, c->pub[slot], 64);
    assert_int_equal(a608_ec_generate(c->priv[slot], c->pub[slot]), 0);
    RAND_bytes(dig, sizeof dig);
    assert_int_equal(a608_slot_sign(c, slot, dig, sig), 0);
    assert_true(verify_rs(c->pub[slot], dig, sig));
    assert_false(verify_rs(old_pub, dig, sig));
    assert_memory_equal(c->keys[slot].pub, c->pub[slot], 64);
    /* the private half alone changing is noticed as well */
    uint8_t pub2[64];
    assert_int_equal(a608_ec_generate(c->priv[slot], pub2), 0);
    assert_int_equal(a608_slot_sign(c, slot, dig, sig), 0);
    assert_false(verify_rs(c->pub[slot], dig, sig));
    assert_true(verify_rs(pub2, dig, sig));
    /* destroy frees the cache (the leak checkers watch this) */
    a608_destroy(c);
}

static void test_a608_cache_not_saved(void **state)
{
    char err[160];
    struct a608 *c = a608_create("tls", err, sizeof err), *d;
    uint8_t *buf = NULL, *buf2 = NULL, dig[32] = {1}, sig[64];
    size_t len = 0, len2 = 0;
    unsigned slot;

    (void)state;
    assert_non_null(c);
    slot = first_key_slot(c);
    assert_int_equal(a608_save(c, &buf, &len), 0);
    assert_int_equal(a608_slot_sign(c, slot, dig, sig), 0);
    assert_int_equal(a608_save(c, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    d = a608_load(buf, len, err, sizeof err);
    assert_non_null(d);
    for (unsigned s = 0; s < A608_SLOTS; s++) {
        assert_null(d->keys[s].sign);
        assert_null(d->keys[s].pkey);
    }
    assert_int_equal(a608_slot_sign(d, slot, dig, sig), 0);
    assert_true(verify_rs(d->pub[slot], dig, sig));
    free(buf);
    free(buf2);
    a608_destroy(c);
    a608_destroy(d);
}

/* ---- ATECC608 through the bus, two handles on one state file ---- */

struct fx {
    char dir[64];
    char path[128];
};

static int setup_dir(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    strcpy(f->dir, "/tmp/seccki-test-cache-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/chip.state", f->dir);
    *state = f;
    return 0;
}

static int teardown_dir(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[512];

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

static void wake(struct sim *s)
{
    uint8_t b = 0x01, r[4];

    sim_write(s, 0x00, &b, 1);
    assert_int_equal(sim_read(s, ADDR, r, 4), SIM_OK);
    assert_memory_equal(r, "\x04\x11\x33\x43", 4);
}

/* One command; returns the response group length (resp holds >= 128). */
static size_t xfer(struct sim *s, uint8_t op, uint8_t p1, uint16_t p2, const uint8_t *data,
                   size_t dlen, uint8_t *resp)
{
    uint8_t pkt[200], z = 0x00;
    size_t n = 7 + dlen;
    int tries = 0;

    pkt[0] = 0x03;
    pkt[1] = (uint8_t)n;
    pkt[2] = op;
    pkt[3] = p1;
    pkt[4] = (uint8_t)p2;
    pkt[5] = (uint8_t)(p2 >> 8);
    if (dlen > 0)
        memcpy(pkt + 6, data, dlen);
    atecc_crc16_put(pkt + 1, n - 2, pkt + 1 + n - 2);
    assert_int_equal(sim_write(s, ADDR, pkt, n + 1), SIM_OK);
    while (sim_write(s, ADDR, &z, 1) == SIM_NACK)
        assert_true(++tries < 20);
    assert_int_equal(sim_read(s, ADDR, resp, 1), SIM_OK);
    assert_true(resp[0] >= 4 && resp[0] <= 128);
    assert_int_equal(sim_read(s, ADDR, resp + 1, resp[0] - 1u), SIM_OK);
    assert_true(atecc_crc16_ok(resp, resp[0]));
    return resp[0];
}

static void data_cmd(struct sim *s, uint8_t op, uint8_t p1, uint16_t p2, const uint8_t *data,
                     size_t dlen, uint8_t *out, size_t n)
{
    uint8_t r[128];
    size_t len = xfer(s, op, p1, p2, data, dlen, r);

    if (len != n + 3)
        fail_msg("opcode 0x%02x: %zu-byte group (status 0x%02x), wanted %zu data bytes", op,
                 len, r[1], n);
    memcpy(out, r + 1, n);
}

/* Nonce pass-through of dig, then Sign of TempKey with the key in slot. */
static void sign_slot(struct sim *s, unsigned slot, const uint8_t dig[32], uint8_t sig[64])
{
    uint8_t r[128];

    assert_int_equal(xfer(s, 0x16, 0x03, 0, dig, 32, r), 4);
    assert_int_equal(r[1], 0x00);
    data_cmd(s, 0x41, 0x80, (uint16_t)slot, NULL, 0, sig, 64);
}

static void test_a608_handles_see_new_key(void **state)
{
    struct fx *f = *state;
    struct sim *a = NULL, *b = NULL;
    char err[256];
    const unsigned slot = 4; /* a GenKey-able private slot of the tls profile */
    uint8_t pub_old[64], pub_b[64], pub_a[64], dig[32], sig[64];

    assert_int_equal(sim_open(f->path, "atecc608", NULL, &a, err, sizeof err), SIM_OK);
    assert_int_equal(sim_open(f->path, "atecc608", NULL, &b, err, sizeof err), SIM_OK);
    wake(a);
    data_cmd(a, 0x40, 0x04, slot, NULL, 0, pub_old, 64);
    RAND_bytes(dig, sizeof dig);
    sign_slot(a, slot, dig, sig); /* a's copy of the chip now caches the key */
    assert_true(verify_rs(pub_old, dig, sig));
    /* b (another process, in effect) replaces the key; a reloads */
    data_cmd(b, 0x40, 0x04, slot, NULL, 0, pub_b, 64);
    assert_memory_not_equal(pub_old, pub_b, 64);
    RAND_bytes(dig, sizeof dig);
    sign_slot(a, slot, dig, sig);
    assert_true(verify_rs(pub_b, dig, sig));
    assert_false(verify_rs(pub_old, dig, sig));
    /* and a replacing it in its own copy, with b's cache then stale */
    sign_slot(b, slot, dig, sig);
    assert_true(verify_rs(pub_b, dig, sig));
    data_cmd(a, 0x40, 0x04, slot, NULL, 0, pub_a, 64);
    RAND_bytes(dig, sizeof dig);
    sign_slot(b, slot, dig, sig);
    assert_true(verify_rs(pub_a, dig, sig));
    assert_false(verify_rs(pub_b, dig, sig));
    sim_close(a);
    sim_close(b);
}

/* ---- SE050, on the emulator's objects ---- */

static EVP_PKEY *rsa_pub_of(const struct se050_obj *o)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *n = BN_bin2bn(o->part[SE050_RSA_N].buf, (int)o->part[SE050_RSA_N].len, NULL);
    BIGNUM *e = BN_bin2bn(o->part[SE050_RSA_E].buf, (int)o->part[SE050_RSA_E].len, NULL);
    OSSL_PARAM *p;
    EVP_PKEY *pk = NULL;

    assert_non_null(b);
    assert_non_null(ctx);
    assert_non_null(n);
    assert_non_null(e);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e), 1);
    p = OSSL_PARAM_BLD_to_param(b);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, p), 1);
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return pk;
}

/* Whether s^e mod n, with OpenSSL's own public key, gives m again (s not
 * below n counts as no). */
static int rsa_opens_to(EVP_PKEY *pk, const uint8_t *s, size_t len, const uint8_t *m)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    uint8_t out[512];
    size_t n = sizeof out;
    int ok;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
    ok = EVP_PKEY_encrypt(ctx, out, &n, s, len) == 1 && n == len && memcmp(out, m, len) == 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void test_se050_rsa_cache_follows_key(void **state)
{
    struct se050_obj o;
    uint8_t m[256], s[256];
    size_t n;
    EVP_PKEY *pub;

    (void)state;
    memset(&o, 0, sizeof o);
    o.id = 0x20000002;
    o.type = SE050_T_RSA_PAIR_CRT;
    o.rsa_crt = true;
    o.rsa_bits = 2048;
    assert_int_equal(se050_rsa_generate(2048, true, &o), 0);
    o.complete = true;
    pub = rsa_pub_of(&o);
    /* raw private operations, as the driver's host-side padding uses them */
    for (int i = 0; i < 3; i++) {
        RAND_bytes(m, sizeof m);
        m[0] = 0x00;
        n = sizeof s;
        assert_int_equal(se050_rsa_crypt(&o, true, 0x0C, m, sizeof m, s, &n), 0);
        assert_int_equal(n, 256);
        assert_true(rsa_opens_to(pub, s, sizeof s, m));
        assert_non_null(o.cache);
    }
    /* the same object, switching between operations on one cached key */
    uint8_t sig[256], msg[20] = "cached key, new op";
    bool ok = false;
    n = sizeof sig;
    assert_int_equal(se050_rsa_sign(&o, 0x2C, msg, sizeof msg, sig, &n), 0);
    assert_int_equal(se050_rsa_verify(&o, 0x2C, msg, sizeof msg, sig, n, &ok), 0);
    assert_true(ok);
    n = sizeof s;
    assert_int_equal(se050_rsa_crypt(&o, true, 0x0C, m, sizeof m, s, &n), 0);
    assert_true(rsa_opens_to(pub, s, sizeof s, m));
    /* a new key in the same object (WriteRSAKey generating anew) */
    assert_int_equal(se050_rsa_generate(2048, true, &o), 0);
    n = sizeof s;
    assert_int_equal(se050_rsa_crypt(&o, true, 0x0C, m, sizeof m, s, &n), 0);
    assert_false(rsa_opens_to(pub, s, sizeof s, m));
    EVP_PKEY_free(pub);
    pub = rsa_pub_of(&o);
    assert_true(rsa_opens_to(pub, s, sizeof s, m));
    EVP_PKEY_free(pub);
    /* clearing the object frees the cache with the parts */
    se050_obj_clear(&o);
    assert_null(o.cache);
}

static void test_se050_ec_cache_follows_key(void **state)
{
    struct se050_obj o;
    uint8_t dig[32], sig[80];
    size_t n;
    EVP_PKEY *old, *cur;
    bool ok = false;

    (void)state;
    memset(&o, 0, sizeof o);
    o.id = 0x20000001;
    o.type = SE050_T_EC_PAIR;
    o.curve = 0x03;
    o.complete = true;
    assert_int_equal(se050_ec_generate(0x03, &o), 0);
    old = ec_pub("P-256", o.part[SE050_EC_PUB].buf, o.part[SE050_EC_PUB].len);
    for (int i = 0; i < 3; i++) {
        RAND_bytes(dig, sizeof dig);
        n = sizeof sig;
        assert_int_equal(se050_ecdsa_sign(&o, dig, sizeof dig, sig, &n), 0);
        assert_true(verify_der(old, dig, sizeof dig, sig, n));
        assert_int_equal(se050_ecdsa_verify(&o, dig, sizeof dig, sig, n, &ok), 0);
        assert_true(ok);
    }
    /* WriteECKey with new key bytes replaces the parts in place */
    struct se050_obj tmp;
    memset(&tmp, 0, sizeof tmp);
    assert_int_equal(se050_ec_generate(0x03, &tmp), 0);
    assert_int_equal(se050_blob_set(&o.part[SE050_EC_PRIV], tmp.part[SE050_EC_PRIV].buf,
                                    tmp.part[SE050_EC_PRIV].len),
                     0);
    assert_int_equal(se050_blob_set(&o.part[SE050_EC_PUB], tmp.part[SE050_EC_PUB].buf,
                                    tmp.part[SE050_EC_PUB].len),
                     0);
    se050_obj_clear(&tmp);
    cur = ec_pub("P-256", o.part[SE050_EC_PUB].buf, o.part[SE050_EC_PUB].len);
    RAND_bytes(dig, sizeof dig);
    n = sizeof sig;
    assert_int_equal(se050_ecdsa_sign(&o, dig, sizeof dig, sig, &n), 0);
    assert_true(verify_der(cur, dig, sizeof dig, sig, n));
    assert_false(verify_der(old, dig, sizeof dig, sig, n));
    /* a public-only view of the same parts verifies, a stale one would not */
    assert_int_equal(se050_ecdsa_verify(&o, dig, sizeof dig, sig, n, &ok), 0);
    assert_true(ok);
    EVP_PKEY_free(old);
    EVP_PKEY_free(cur);
    se050_obj_clear(&o);
    assert_null(o.cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a608_cache_follows_key),
        cmocka_unit_test(test_a608_cache_not_saved),
        cmocka_unit_test_setup_teardown(test_a608_handles_see_new_key, setup_dir, teardown_dir),
        cmocka_unit_test(test_se050_rsa_cache_follows_key),
        cmocka_unit_test(test_se050_ec_cache_follows_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
