/* The SE050 driver end to end through the sim bus and the SE050 emulator:
 * every signature is verified with OpenSSL against the public key the chip
 * gives, every shared secret compared with OpenSSL's. */
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
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "hal/bus.h"
#include "hal/sim/sim.h"
#include "module/token.h"

extern const struct token_ops token_ops_se050;
static const struct token_ops *ops = &token_ops_se050;

struct fix {
    char dir[64];
    char path[96];
    char spec[112];
    struct bus *bus;
    struct tok_dev *dev;
};

static int open_dev(const char *spec, const char *faults, struct bus **bus,
                    struct tok_dev **dev)
{
    char err[256];
    int rc = bus_open(spec, &(struct bus_opts){.chip = "se050", .sim_faults = faults}, bus, err,
                      sizeof err);

    if (rc != BUS_OK) {
        print_error("bus_open: %s\n", err);
        return -1000 + rc;
    }
    rc = ops->open(*bus, &(struct tok_opts){.address = 0x48}, dev);
    if (rc != TOK_OK) {
        bus_close(*bus);
        *bus = NULL;
    }
    return rc;
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);

    snprintf(f->dir, sizeof f->dir, "/tmp/se050-drv-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/chip", f->dir);
    snprintf(f->spec, sizeof f->spec, "sim:%s", f->path);
    assert_int_equal(open_dev(f->spec, NULL, &f->bus, &f->dev), TOK_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    char cmd[200];

    if (f->dev != NULL)
        ops->close(f->dev);
    if (f->bus != NULL)
        bus_close(f->bus);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* OpenSSL helpers. */

static const char *group_of(enum tok_curve c)
{
    return c == TOK_CURVE_P256 ? "P-256" : c == TOK_CURVE_P384 ? "P-384" : "P-521";
}

static EVP_PKEY *pkey_of(const struct tok_pubkey *pub)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx;
    OSSL_PARAM *params;
    EVP_PKEY *pk = NULL;
    BIGNUM *n = NULL, *e = NULL;

    if (pub->type == TOK_KEY_EC) {
        OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group_of(pub->curve), 0);
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub->point, pub->point_len);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    } else {
        n = BN_bin2bn(pub->modulus, (int)pub->modulus_len, NULL);
        e = BN_bin2bn(pub->exponent, (int)pub->exponent_len, NULL);
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    }
    params = OSSL_PARAM_BLD_to_param(b);
    assert_non_null(params);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return pk;
}

static int verify_ecdsa(const struct tok_pubkey *pub, const uint8_t *dg, size_t dlen,
                        const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY *pk = pkey_of(pub);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    ECDSA_SIG *s = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int der_len, ok;

    assert_int_equal(ECDSA_SIG_set0(s, BN_bin2bn(sig, (int)sig_len / 2, NULL),
                                    BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL)),
                     1);
    der_len = i2d_ECDSA_SIG(s, &der);
    assert_true(der_len > 0);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    ok = EVP_PKEY_verify(ctx, der, (size_t)der_len, dg, dlen);
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok == 1;
}

static int verify_rsa(const struct tok_pubkey *pub, bool pss, const uint8_t *dg, size_t dlen,
                      const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY *pk = pkey_of(pub);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    int ok;

    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING
                                                            : RSA_PKCS1_PADDING),
                     1);
    assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
    if (pss)
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
    ok = EVP_PKEY_verify(ctx, sig, sig_len, dg, dlen);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok == 1;
}

static void sign_verify_ec(struct tok_dev *dev, uint32_t id, const struct tok_pubkey *pub,
                           size_t dlen)
{
    uint8_t dg[64], sig[132];
    size_t sig_len = sizeof sig;
    struct tok_sign_req req = {.alg = TOK_SIG_ECDSA, .in = dg, .in_len = dlen};

    assert_int_equal(RAND_bytes(dg, (int)dlen), 1);
    assert_int_equal(ops->sign(dev, id, &req, sig, &sig_len), TOK_OK);
    assert_int_equal(sig_len, 2 * ((pub->point_len - 1) / 2));
    assert_true(verify_ecdsa(pub, dg, dlen, sig, sig_len));
    sig[3] ^= 1; /* the check can fail */
    assert_false(verify_ecdsa(pub, dg, dlen, sig, sig_len));
}

/* Tests. */

static void test_open_info(void **state)
{
    struct fix *f = *state;
    struct tok_info info;
    const struct tok_caps *caps = ops->caps(f->dev);

    assert_int_equal(ops->info(f->dev, &info), TOK_OK);
    assert_string_equal(info.model, "SE050");
    assert_string_equal(info.manufacturer, "NXP");
    assert_int_equal(strlen(info.serial), 32);
    assert_int_equal(info.fw_major, 3);
    assert_true(info.free_memory > 1000);
    assert_int_equal(caps->curves, (1u << TOK_CURVE_P256) | (1u << TOK_CURVE_P384) |
                                       (1u << TOK_CURVE_P521));
    assert_int_equal(caps->rsa_min_bits, 2048);
    assert_int_equal(caps->rsa_max_bits, 4096);
    assert_true(caps->ecdh && caps->rsa_pss && caps->import_keys && caps->hw_random);
    assert_false(caps->fixed_slots);
    assert_string_equal(token_driver_find("se050")->chip, "se050");
}

static void test_absent(void **state)
{
    struct fix *f = *state;
    struct bus *bus = NULL;
    struct tok_dev *dev = NULL;

    assert_int_equal(open_dev(f->spec, "dead", &bus, &dev), TOK_E_ABSENT);
}

static void test_generate_ec_all_curves(void **state)
{
    static const struct {
        enum tok_curve curve;
        size_t dlen;
    } cases[] = {{TOK_CURVE_P256, 32}, {TOK_CURVE_P384, 48}, {TOK_CURVE_P521, 64}};
    struct fix *f = *state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t id = 0x20000010u + (uint32_t)i;
        struct tok_pubkey pub, again;

        assert_int_equal(ops->generate(f->dev, id, TOK_KEY_EC, cases[i].curve, 0, &pub), TOK_OK);
        assert_int_equal(pub.type, TOK_KEY_EC);
        assert_int_equal(pub.point_len, 1 + 2 * (cases[i].dlen == 64 ? 66 : cases[i].dlen));
        assert_int_equal(ops->read_public(f->dev, id, &again), TOK_OK);
        assert_int_equal(again.point_len, pub.point_len);
        assert_memory_equal(again.point, pub.point, pub.point_len);
        sign_verify_ec(f->dev, id, &pub, cases[i].dlen);
        /* A smaller digest maps to its own algorithm. */
        sign_verify_ec(f->dev, id, &pub, 32);
        assert_int_equal(ops->generate(f->dev, id, TOK_KEY_EC, cases[i].curve, 0, &pub),
                         TOK_E_EXISTS);
    }
    {
        struct tok_key keys[16];
        size_t n = 16, found = 0;

        assert_int_equal(ops->list_keys(f->dev, keys, &n), TOK_OK);
        for (size_t i = 0; i < n; i++) {
            if (keys[i].id >= 0x20000010u && keys[i].id <= 0x20000012u) {
                found++;
                assert_int_equal(keys[i].type, TOK_KEY_EC);
                assert_true(keys[i].flags & TOK_KEYF_PRIVATE);
                assert_true(keys[i].flags & TOK_KEYF_SIGN);
                assert_false(keys[i].flags & TOK_KEYF_PERMANENT);
            }
            if (keys[i].id == 0x20000012u)
                assert_int_equal(keys[i].bits, 521);
        }
        assert_int_equal(found, 3);
        /* Too small an array: the count needed. */
        n = 1;
        assert_int_equal(ops->list_keys(f->dev, keys, &n), TOK_E_FULL);
        assert_true(n >= 5);
    }
    /* P-521 with the curve's 66-byte input. */
    {
        struct tok_pubkey pub;
        uint8_t dg[66], sig[132];
        size_t sig_len = sizeof sig;
        struct tok_sign_req req = {.alg = TOK_SIG_ECDSA, .in = dg, .in_len = 66};

        assert_int_equal(ops->read_public(f->dev, 0x20000012u, &pub), TOK_OK);
        memset(dg, 0, 2);
        assert_int_equal(RAND_bytes(dg + 2, 64), 1);
        assert_int_equal(ops->sign(f->dev, 0x20000012u, &req, sig, &sig_len), TOK_OK);
        assert_true(verify_ecdsa(&pub, dg, 66, sig, sig_len));
    }
}

static void test_rsa_2048(void **state)
{
    struct fix *f = *state;
    struct tok_pubkey pub;
    uint8_t dg[32], sig[512];
    size_t sig_len = sizeof sig;
    struct tok_sign_req req = {.alg = TOK_SIG_RSA_PKCS1, .hash = TOK_HASH_SHA256, .in = dg,
                               .in_len = 32};

    assert_int_equal(ops->generate(f->dev, 0x20000020u, TOK_KEY_RSA, TOK_CURVE_NONE, 2048, &pub),
                     TOK_OK);
    assert_int_equal(pub.modulus_len, 256);
    assert_int_equal(RAND_bytes(dg, 32), 1);
    assert_int_equal(ops->sign(f->dev, 0x20000020u, &req, sig, &sig_len), TOK_OK);
    assert_int_equal(sig_len, 256);
    assert_true(verify_rsa(&pub, false, dg, 32, sig, sig_len));
    assert_false(verify_rsa(&pub, true, dg, 32, sig, sig_len));

    req.alg = TOK_SIG_RSA_PSS;
    req.salt_len = 32;
    sig_len = sizeof sig;
    assert_int_equal(ops->sign(f->dev, 0x20000020u, &req, sig, &sig_len), TOK_OK);
    assert_true(verify_rsa(&pub, true, dg, 32, sig, sig_len));
    dg[0] ^= 1;
    assert_false(verify_rsa(&pub, true, dg, 32, sig, sig_len));

    /* Wrong digest length for the hash. */
    req.in_len = 31;
    assert_int_equal(ops->sign(f->dev, 0x20000020u, &req, sig, &sig_len), TOK_E_DATA_LEN);
    assert_int_equal(ops->generate(f->dev, 0x20000021u, TOK_KEY_RSA, TOK_CURVE_NONE, 1024, &pub),
                     TOK_E_UNSUPPORTED);
}

static void test_ecdh(void **state)
{
    struct fix *f = *state;
    struct tok_pubkey pub;
    EVP_PKEY *peer = EVP_EC_gen("P-256"), *chip;
    EVP_PKEY_CTX *ctx;
    uint8_t peer_pt[65], chip_secret[32], want[32];
    size_t pt_len = 0, n = sizeof chip_secret, wn = sizeof want;

    assert_non_null(peer);
    assert_int_equal(ops->generate(f->dev, 0x20000030u, TOK_KEY_EC, TOK_CURVE_P256, 0, &pub),
                     TOK_OK);
    assert_int_equal(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, peer_pt,
                                                     sizeof peer_pt, &pt_len),
                     1);
    assert_int_equal(pt_len, 65);
    assert_int_equal(ops->ecdh(f->dev, 0x20000030u, peer_pt, pt_len, chip_secret, &n), TOK_OK);
    assert_int_equal(n, 32);

    chip = pkey_of(&pub);
    ctx = EVP_PKEY_CTX_new(peer, NULL);
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, chip), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, want, &wn), 1);
    assert_int_equal(wn, 32);
    assert_memory_equal(chip_secret, want, 32);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(chip);
    EVP_PKEY_free(peer);

    /* A point that is not on the curve. */
    peer_pt[64] ^= 1;
    n = sizeof chip_secret;
    assert_int_not_equal(ops->ecdh(f->dev, 0x20000030u, peer_pt, pt_len, chip_secret, &n),
                         TOK_OK);
    /* A short point. */
    assert_int_equal(ops->ecdh(f->dev, 0x20000030u, peer_pt, 33, chip_secret, &n),
                     TOK_E_DATA_LEN);
}

static size_t bn_param(EVP_PKEY *pk, const char *name, uint8_t *out, size_t width)
{
    BIGNUM *bn = NULL;
    size_t n;

    assert_int_equal(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
    n = width ? width : (size_t)BN_num_bytes(bn);
    assert_int_equal(BN_bn2binpad(bn, out, (int)n), (int)n);
    BN_free(bn);
    return n;
}

static void test_import(void **state)
{
    struct fix *f = *state;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    uint8_t d[32], pt[65];
    size_t pt_len = 0;
    struct tok_pubkey pub;

    assert_non_null(ec);
    bn_param(ec, OSSL_PKEY_PARAM_PRIV_KEY, d, 32);
    assert_int_equal(EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
                                                     &pt_len),
                     1);
    {
        struct tok_privkey key = {.type = TOK_KEY_EC, .curve = TOK_CURVE_P256, .d = d,
                                  .d_len = 32, .point = pt, .point_len = pt_len};

        assert_int_equal(ops->import_key(f->dev, 0x20000040u, &key), TOK_OK);
        assert_int_equal(ops->import_key(f->dev, 0x20000040u, &key), TOK_E_EXISTS);
    }
    assert_int_equal(ops->read_public(f->dev, 0x20000040u, &pub), TOK_OK);
    assert_int_equal(pub.point_len, 65);
    assert_memory_equal(pub.point, pt, 65);
    sign_verify_ec(f->dev, 0x20000040u, &pub, 32);
    EVP_PKEY_free(ec);

    /* RSA 2048 with all CRT parts. */
    {
        EVP_PKEY *rsa = EVP_RSA_gen(2048);
        uint8_t n[256], e[8], p[128], q[128], dp[128], dq[128], qi[128], dg[32], sig[256];
        struct tok_privkey key = {.type = TOK_KEY_RSA, .bits = 2048};
        struct tok_sign_req req = {.alg = TOK_SIG_RSA_PKCS1, .hash = TOK_HASH_SHA256, .in = dg,
                                   .in_len = 32};
        size_t sig_len = sizeof sig;

        assert_non_null(rsa);
        key.n = n;
        key.n_len = bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, n, 256);
        key.e = e;
        key.e_len = bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, e, 0);
        key.p = p;
        key.p_len = bn_param(rsa, OSSL_PKEY_PARAM_RSA_FACTOR1, p, 128);
        key.q = q;
        key.q_len = bn_param(rsa, OSSL_PKEY_PARAM_RSA_FACTOR2, q, 128);
        key.dp = dp;
        key.dp_len = bn_param(rsa, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp, 128);
        key.dq = dq;
        key.dq_len = bn_param(rsa, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq, 128);
        key.qinv = qi;
        key.qinv_len = bn_param(rsa, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi, 128);
        assert_int_equal(ops->import_key(f->dev, 0x20000041u, &key), TOK_OK);
        assert_int_equal(ops->read_public(f->dev, 0x20000041u, &pub), TOK_OK);
        assert_int_equal(pub.modulus_len, 256);
        assert_memory_equal(pub.modulus, n, 256);
        assert_int_equal(RAND_bytes(dg, 32), 1);
        assert_int_equal(ops->sign(f->dev, 0x20000041u, &req, sig, &sig_len), TOK_OK);
        assert_true(verify_rsa(&pub, false, dg, 32, sig, sig_len));
        EVP_PKEY_free(rsa);
    }
}

static void test_destroy_and_factory(void **state)
{
    struct fix *f = *state;
    struct tok_pubkey pub;
    struct tok_key keys[16];
    size_t n = 16;
    bool factory = false;

    assert_int_equal(ops->generate(f->dev, 0x20000050u, TOK_KEY_EC, TOK_CURVE_P256, 0, &pub),
                     TOK_OK);
    assert_int_equal(ops->destroy(f->dev, 0x20000050u), TOK_OK);
    assert_int_equal(ops->read_public(f->dev, 0x20000050u, &pub), TOK_E_NOT_FOUND);
    assert_int_equal(ops->destroy(f->dev, 0x20000050u), TOK_E_NOT_FOUND);
    {
        uint8_t dg[32] = {1}, sig[64];
        size_t sl = sizeof sig;
        struct tok_sign_req req = {.alg = TOK_SIG_ECDSA, .in = dg, .in_len = 32};

        assert_int_equal(ops->sign(f->dev, 0x20000050u, &req, sig, &sl), TOK_E_NOT_FOUND);
    }
    /* The id is free again. */
    assert_int_equal(ops->generate(f->dev, 0x20000050u, TOK_KEY_EC, TOK_CURVE_P384, 0, &pub),
                     TOK_OK);
    sign_verify_ec(f->dev, 0x20000050u, &pub, 48);

    /* Factory keys are listed as permanent, cannot be deleted, can sign. */
    assert_int_equal(ops->list_keys(f->dev, keys, &n), TOK_OK);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].id < 0xF0000000u)
            continue;
        factory = true;
        assert_true(keys[i].flags & TOK_KEYF_PERMANENT);
        assert_int_equal(ops->destroy(f->dev, keys[i].id), TOK_E_POLICY);
        assert_int_equal(ops->read_public(f->dev, keys[i].id, &pub), TOK_OK);
        if (keys[i].flags & TOK_KEYF_SIGN)
            sign_verify_ec(f->dev, keys[i].id, &pub, 32);
    }
    assert_true(factory);
    assert_int_equal(ops->destroy(f->dev, 0x7FFF0206u), TOK_E_POLICY);
    assert_int_equal(ops->generate(f->dev, 0xF0000200u, TOK_KEY_EC, TOK_CURVE_P256, 0, &pub),
                     TOK_E_POLICY);
}

static void test_binary(void **state)
{
    struct fix *f = *state;
    uint8_t data[2048], back[2048];
    uint32_t ids[16];
    size_t n = sizeof back, nids = 16;
    bool listed = false, cert = false;

    assert_int_equal(RAND_bytes(data, sizeof data), 1);
    assert_int_equal(ops->data_write(f->dev, 0x20000060u, data, sizeof data), TOK_OK);
    assert_int_equal(ops->data_read(f->dev, 0x20000060u, back, &n), TOK_OK);
    assert_int_equal(n, sizeof data);
    assert_memory_equal(back, data, sizeof data);
    n = 100;
    assert_int_equal(ops->data_read(f->dev, 0x20000060u, back, &n), TOK_E_FULL);
    assert_int_equal(n, 2048);

    assert_int_equal(ops->data_list(f->dev, ids, &nids), TOK_OK);
    for (size_t i = 0; i < nids; i++) {
        listed |= ids[i] == 0x20000060u;
        cert |= ids[i] == 0xF0000101u;
        assert_int_not_equal(ids[i], 0x7FFF0206u);
    }
    assert_true(listed);
    assert_true(cert);

    /* Same size: written over; another size: replaced. */
    data[0] ^= 0xFF;
    assert_int_equal(ops->data_write(f->dev, 0x20000060u, data, sizeof data), TOK_OK);
    n = sizeof back;
    assert_int_equal(ops->data_read(f->dev, 0x20000060u, back, &n), TOK_OK);
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(ops->data_write(f->dev, 0x20000060u, data + 7, 501), TOK_OK);
    n = sizeof back;
    assert_int_equal(ops->data_read(f->dev, 0x20000060u, back, &n), TOK_OK);
    assert_int_equal(n, 501);
    assert_memory_equal(back, data + 7, 501);

    assert_int_equal(ops->data_delete(f->dev, 0x20000060u), TOK_OK);
    n = sizeof back;
    assert_int_equal(ops->data_read(f->dev, 0x20000060u, back, &n), TOK_E_NOT_FOUND);
    assert_int_equal(ops->data_delete(f->dev, 0xF0000101u), TOK_E_POLICY);
    assert_int_equal(ops->data_write(f->dev, 0x20000061u, data, 0), TOK_E_DATA_LEN);
    /* A key is not a data object. */
    {
        struct tok_pubkey pub;

        assert_int_equal(ops->generate(f->dev, 0x20000062u, TOK_KEY_EC, TOK_CURVE_P256, 0, &pub),
                         TOK_OK);
        assert_int_equal(ops->data_write(f->dev, 0x20000062u, data, 10), TOK_E_EXISTS);
        assert_int_equal(ops->data_delete(f->dev, 0x20000062u), TOK_E_NOT_FOUND);
    }
}

static void test_random(void **state)
{
    struct fix *f = *state;
    uint8_t a[700], b[700];

    assert_int_equal(ops->random(f->dev, a, sizeof a), TOK_OK);
    assert_int_equal(ops->random(f->dev, b, sizeof b), TOK_OK);
    assert_memory_not_equal(a, b, sizeof a);
}

/* After the first signature, each costs exactly one APDU. */
static void test_one_apdu_per_sign(void **state)
{
    struct fix *f = *state;
    struct tok_pubkey pub;
    struct sim *s = NULL;
    struct sim_counters before, after;
    char err[200];

    assert_int_equal(ops->generate(f->dev, 0x20000070u, TOK_KEY_EC, TOK_CURVE_P256, 0, &pub),
                     TOK_OK);
    sign_verify_ec(f->dev, 0x20000070u, &pub, 32);
    assert_int_equal(sim_open(f->path, "se050", NULL, &s, err, sizeof err), SIM_OK);
    assert_int_equal(sim_get_counters(s, &before), SIM_OK);
    for (int i = 0; i < 5; i++)
        sign_verify_ec(f->dev, 0x20000070u, &pub, 32);
    assert_int_equal(sim_get_counters(s, &after), SIM_OK);
    assert_int_equal(after.commands - before.commands, 5);
    sim_close(s);
}

/* Two handles on one chip, as two processes would have: each one's T=1
 * sequence goes stale whenever the other speaks; the driver resynchronises
 * and never takes the other's answer for its own. */
static void test_two_handles(void **state)
{
    struct fix *f = *state;
    struct bus *bus2 = NULL;
    struct tok_dev *dev2 = NULL;
    struct tok_pubkey pa, pb;

    assert_int_equal(open_dev(f->spec, NULL, &bus2, &dev2), TOK_OK);
    assert_int_equal(ops->generate(f->dev, 0x20000080u, TOK_KEY_EC, TOK_CURVE_P256, 0, &pa),
                     TOK_OK);
    assert_int_equal(ops->generate(dev2, 0x20000081u, TOK_KEY_EC, TOK_CURVE_P384, 0, &pb),
                     TOK_OK);
    for (int i = 0; i < 5; i++) {
        uint8_t r[3];

        sign_verify_ec(f->dev, 0x20000080u, &pa, 32);
        sign_verify_ec(dev2, 0x20000081u, &pb, 48);
        /* An odd number of exchanges on one side, to skew the sequences. */
        for (int j = 0; j <= i; j++)
            assert_int_equal(ops->random(dev2, r, sizeof r), TOK_OK);
        sign_verify_ec(dev2, 0x20000081u, &pb, 48);
        sign_verify_ec(f->dev, 0x20000080u, &pa, 32);
    }
    /* What one handle deletes, the other no longer finds. */
    assert_int_equal(ops->destroy(dev2, 0x20000080u), TOK_OK);
    assert_int_equal(ops->read_public(f->dev, 0x20000080u, &pa), TOK_E_NOT_FOUND);
    ops->close(dev2);
    bus_close(bus2);
}

/* Link faults injected by the emulator are recovered from. */
static void test_faults(void **state)
{
    static const char *const faults[] = {"crc=2", "nack=3", "short=1", "busy=20"};
    struct fix *f = *state;
    struct tok_pubkey pub;

    assert_int_equal(ops->generate(f->dev, 0x20000090u, TOK_KEY_EC, TOK_CURVE_P256, 0, &pub),
                     TOK_OK);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        struct bus *b = NULL;
        struct tok_dev *d = NULL;

        assert_int_equal(open_dev(f->spec, faults[i], &b, &d), TOK_OK);
        sign_verify_ec(d, 0x20000090u, &pub, 32);
        sign_verify_ec(d, 0x20000090u, &pub, 32);
        ops->close(d);
        bus_close(b);
    }
}

/* Files, then keys, until the chip is full: TOK_E_FULL, nothing half
 * written left behind, and the chip still works. */
static void test_full_chip(void **state)
{
    static uint8_t blob[8192];
    struct fix *f = *state;
    struct tok_pubkey pub;
    struct tok_info info;
    uint8_t back[16];
    size_t n = sizeof back;
    uint32_t id;
    int rc = TOK_OK;

    for (id = 0x30000000u; id < 0x30000000u + 100 && rc == TOK_OK; id++)
        rc = ops->data_write(f->dev, id, blob, sizeof blob);
    assert_int_equal(rc, TOK_E_FULL);
    assert_int_equal(ops->data_read(f->dev, id - 1, back, &n), TOK_E_NOT_FOUND);
    rc = TOK_OK;
    for (id = 0x31000000u; id < 0x31000000u + 2000 && rc == TOK_OK; id++)
        rc = ops->generate(f->dev, id, TOK_KEY_EC, TOK_CURVE_P256, 0, NULL);
    assert_int_equal(rc, TOK_E_FULL);
    assert_int_equal(ops->info(f->dev, &info), TOK_OK);
    assert_true(info.free_memory < 1000);
    assert_int_equal(ops->read_public(f->dev, id - 1, &pub), TOK_E_NOT_FOUND);
    /* Deleting makes room again. */
    assert_int_equal(ops->data_delete(f->dev, 0x30000000u), TOK_OK);
    assert_int_equal(ops->generate(f->dev, 0x2FFFFFFFu, TOK_KEY_EC, TOK_CURVE_P256, 0, &pub),
                     TOK_OK);
    sign_verify_ec(f->dev, 0x2FFFFFFFu, &pub, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_ec_all_curves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_2048, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecdh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_and_factory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_apdu_per_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_chip, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
