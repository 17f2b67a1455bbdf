/* The ATECC608 Trust&GO case: the emulator's trustngo profile ships like the
 * factory part, and the driver rebuilds its compressed certificates into
 * DER that OpenSSL parses and verifies up to the test root. */
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
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hal/atecc608/atecc.h"
#include "hal/atecc608/atecc_bus.h"
#include "hal/atecc608/atecc_cert.h"
#include "hal/atecc608/atecc_cmd.h"
#include "hal/bus.h"
#include "module/token.h"
#include "tests/unit/testdir.h"

#define TNG_ADDR7 0x35

struct fx {
    char dir[64];
    char path[128];
    char spec[160];
    time_t t0, t1;            /* around the chip's creation */
    struct bus *bus;
    struct tok_dev *dev;
    const struct token_ops *ops;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    if (testdir_make(f->dir, sizeof f->dir, "tng") != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/chip", f->dir);
    snprintf(f->spec, sizeof f->spec, "sim:%s", f->path);
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

static int open_at(struct fx *f, const char *profile, uint8_t addr)
{
    struct bus_opts o = {.chip = "atecc608", .sim_profile = profile};
    struct tok_opts to = {.address = addr};
    char err[256] = "";

    close_chip(f);
    f->t0 = time(NULL);
    if (bus_open(f->spec, &o, &f->bus, err, sizeof err) != BUS_OK)
        fail_msg("bus_open %s: %s", f->spec, err);
    f->t1 = time(NULL);
    return f->ops->open(f->bus, &to, &f->dev);
}

static void open_tng(struct fx *f)
{
    assert_int_equal(open_at(f, "trustngo", TNG_ADDR7), TOK_OK);
}

/* ---- raw reads through the command layer ---- */

struct raw {
    uint8_t otp[64];
    uint8_t config[128];
    uint8_t slot5[32];
    uint8_t slot[3][72]; /* 10, 11, 12 */
};

static int raw_seq(const struct atecc_io *io, void *arg)
{
    struct raw *r = arg;
    int rc = ATECC_OK;

    for (unsigned b = 0; b < 4 && rc == ATECC_OK; b++)
        rc = atecc_cmd_read(io, ATECC_ZONE_CONFIG, atecc_addr_config_block(b), r->config + 32 * b,
                            32);
    for (unsigned b = 0; b < 2 && rc == ATECC_OK; b++)
        rc = atecc_cmd_read(io, ATECC_ZONE_OTP, atecc_addr_config_block(b), r->otp + 32 * b, 32);
    if (rc == ATECC_OK)
        rc = atecc_cmd_read(io, ATECC_ZONE_DATA, atecc_addr_data(5, 0, 0), r->slot5, 32);
    for (unsigned s = 0; s < 3; s++) {
        for (unsigned b = 0; b < 2 && rc == ATECC_OK; b++)
            rc = atecc_cmd_read(io, ATECC_ZONE_DATA, atecc_addr_data(10 + s, b, 0),
                                r->slot[s] + 32 * b, 32);
        for (unsigned w = 0; w < 2 && rc == ATECC_OK; w++)
            rc = atecc_cmd_read(io, ATECC_ZONE_DATA, atecc_addr_data(10 + s, 2, w),
                                r->slot[s] + 64 + 4 * w, 4);
    }
    return rc;
}

static void read_raw(struct fx *f, struct raw *r)
{
    struct atecc_io io;

    atecc_io_from_bus(&io, f->bus, TNG_ADDR7);
    assert_int_equal(atecc_run(&io, raw_seq, r), ATECC_OK);
}

/* ---- OpenSSL helpers ---- */

static X509 *read_cert(struct fx *f, uint32_t id)
{
    uint8_t der[ATECC_CERT_MAX];
    size_t len = 0;
    const unsigned char *p = der;
    X509 *x;

    assert_int_equal(f->ops->cert_read(f->dev, id, NULL, &len), TOK_E_FULL);
    assert_true(len > 400 && len <= sizeof der);
    size_t want = len;
    len = want - 1;
    assert_int_equal(f->ops->cert_read(f->dev, id, der, &len), TOK_E_FULL);
    assert_int_equal(len, want);
    len = sizeof der;
    assert_int_equal(f->ops->cert_read(f->dev, id, der, &len), TOK_OK);
    assert_int_equal(len, want);
    x = d2i_X509(NULL, &p, (long)len);
    assert_non_null(x);
    assert_ptr_equal(p, der + len); /* nothing trailing */
    return x;
}

static X509 *read_root(struct fx *f)
{
    char p[200];
    FILE *fp;
    X509 *x;

    snprintf(p, sizeof p, "%s.root.pem", f->path);
    fp = fopen(p, "r");
    assert_non_null(fp);
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    return x;
}

/* X || Y of a certificate's P-256 key. */
static void cert_key(X509 *x, uint8_t key[64])
{
    uint8_t pt[65];
    size_t n = 0;

    assert_int_equal(EVP_PKEY_get_octet_string_param(X509_get0_pubkey(x),
                                                     OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
                                                     &n), 1);
    assert_int_equal(n, 65);
    assert_int_equal(pt[0], 0x04);
    memcpy(key, pt + 1, 64);
}

static void sha1_key(const uint8_t key[64], uint8_t id[20])
{
    uint8_t pt[65];
    unsigned int n = 0;

    pt[0] = 0x04;
    memcpy(pt + 1, key, 64);
    assert_int_equal(EVP_Digest(pt, sizeof pt, id, &n, EVP_sha1(), NULL), 1);
}

static void cn_of(const X509_NAME *nm, char *out, size_t cap)
{
    assert_true(X509_NAME_get_text_by_NID((X509_NAME *)nm, NID_commonName, out, (int)cap) > 0);
}

static void check_key_ids(X509 *x, const uint8_t subject[64], const uint8_t issuer[64])
{
    uint8_t want[20];
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);

    assert_non_null(ski);
    assert_non_null(aki);
    sha1_key(subject, want);
    assert_int_equal(ASN1_STRING_length(ski), 20);
    assert_memory_equal(ASN1_STRING_get0_data(ski), want, 20);
    sha1_key(issuer, want);
    assert_int_equal(ASN1_STRING_length(aki), 20);
    assert_memory_equal(ASN1_STRING_get0_data(aki), want, 20);
}

/* The compressed bytes and the certificate agree: format fields, dates,
 * serial number, signature. */
static void check_compressed(X509 *x, const uint8_t comp[72], uint8_t template_id,
                             unsigned expire_years, const uint8_t subject_key[64],
                             const struct fx *f)
{
    const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
    struct tm tb, ta;
    const ASN1_BIT_STRING *sigbits;
    const X509_ALGOR *alg;
    const unsigned char *sp;
    ECDSA_SIG *es;
    uint8_t rs[64], digest[32], msg[67], serial[16];
    unsigned int dn = 0;
    BIGNUM *bn;
    time_t issue;

    /* bytes 69-71: template/chain id, SN source PUB_KEY_HASH, format 0 */
    assert_int_equal(comp[69], template_id << 4);
    assert_int_equal(comp[70], 0xA0);
    assert_int_equal(comp[71], 0x00);
    /* bytes 64-66: dates */
    unsigned year = 2000 + (comp[64] >> 3), month = (comp[64] & 7u) << 1 | comp[65] >> 7;
    unsigned day = (comp[65] >> 2) & 0x1F, hour = (comp[65] & 3u) << 3 | comp[66] >> 5;
    assert_int_equal(comp[66] & 0x1F, expire_years);
    assert_int_equal(ASN1_STRING_type(nb), V_ASN1_UTCTIME);
    assert_int_equal(ASN1_STRING_type(na), V_ASN1_GENERALIZEDTIME);
    assert_int_equal(ASN1_STRING_length(nb), 13);
    assert_int_equal(ASN1_STRING_length(na), 15);
    assert_int_equal(ASN1_TIME_to_tm(nb, &tb), 1);
    assert_int_equal(ASN1_TIME_to_tm(na, &ta), 1);
    assert_int_equal(tb.tm_year + 1900, year);
    assert_int_equal(tb.tm_mon + 1, month);
    assert_int_equal(tb.tm_mday, day);
    assert_int_equal(tb.tm_hour, hour);
    assert_int_equal(tb.tm_min, 0);
    assert_int_equal(tb.tm_sec, 0);
    assert_int_equal(ta.tm_year, tb.tm_year + (int)expire_years);
    assert_int_equal(ta.tm_mon, tb.tm_mon);
    assert_int_equal(ta.tm_mday, tb.tm_mday);
    assert_int_equal(ta.tm_hour, tb.tm_hour);
    assert_int_equal(ta.tm_min + ta.tm_sec, 0);
    /* issued at the creation time, rounded down to the hour */
    issue = timegm(&tb);
    assert_true(issue <= f->t1);
    assert_true(issue > f->t0 - 3600);
    assert_int_equal(issue % 3600, 0);
    /* serial: SHA-256(subject key || encoded dates)[0..16), top bits 01 */
    memcpy(msg, subject_key, 64);
    memcpy(msg + 64, comp + 64, 3);
    assert_int_equal(EVP_Digest(msg, sizeof msg, digest, &dn, EVP_sha256(), NULL), 1);
    digest[0] = (uint8_t)((digest[0] & 0x3F) | 0x40);
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_non_null(bn);
    assert_int_equal(BN_num_bytes(bn), 16);
    assert_int_equal(BN_bn2bin(bn, serial), 16);
    BN_free(bn);
    assert_memory_equal(serial, digest, 16);
    /* bytes 0-63: the signature R || S */
    X509_get0_signature(&sigbits, &alg, x);
    assert_int_equal(OBJ_obj2nid(alg->algorithm), NID_ecdsa_with_SHA256);
    sp = ASN1_STRING_get0_data(sigbits);
    es = d2i_ECDSA_SIG(NULL, &sp, ASN1_STRING_length(sigbits));
    assert_non_null(es);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32), 32);
    ECDSA_SIG_free(es);
    assert_memory_equal(rs, comp, 64);
}

static int verify_chain(X509 *root, X509 *signer, X509 *leaf)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ok;

    assert_non_null(store);
    assert_non_null(ctx);
    assert_non_null(untrusted);
    assert_int_equal(X509_STORE_add_cert(store, root), 1);
    if (signer != NULL)
        assert_true(sk_X509_push(untrusted, signer) > 0);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
    ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return ok;
}

/* ---- tests ---- */

static void test_factory_part(void **state)
{
    struct fx *f = *state;
    struct raw r;
    struct tok_info info;
    struct tok_key keys[16];
    size_t n = 16;

    /* the part answers at 0x35 only */
    assert_int_equal(open_at(f, "trustngo", 0x60), TOK_E_ABSENT);
    open_tng(f);
    memset(&r, 0, sizeof r);
    read_raw(f, &r);
    assert_int_equal(r.config[16], 0x6A);
    assert_int_equal(r.config[0], 0x01);
    assert_int_equal(r.config[1], 0x23);
    assert_int_equal(r.config[12], 0x01); /* SN[8] */
    assert_int_equal(r.config[86], 0x00); /* data and OTP locked */
    assert_int_equal(r.config[87], 0x00); /* config locked */
    assert_memory_equal(r.otp, "x6tjuZMy", 8);
    for (unsigned i = 8; i < 64; i++)
        assert_int_equal(r.otp[i], 0);
    /* slot 0: ext sign + ECDH, no GenKey; slots 2-4 GenKey allowed */
    assert_int_equal(r.config[20] | r.config[21] << 8, 0x0085);
    assert_int_equal(r.config[96] | r.config[97] << 8, 0x0053);
    for (unsigned s = 2; s <= 4; s++)
        assert_int_equal(r.config[20 + 2 * s] | r.config[21 + 2 * s] << 8, 0x2085);
    /* slot 5: 12 hex characters */
    for (unsigned i = 0; i < 12; i++)
        assert_non_null(strchr("0123456789ABCDEF", r.slot5[i]));
    /* slot 11: padded public key */
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(r.slot[1][i], 0);
        assert_int_equal(r.slot[1][36 + i], 0);
    }

    assert_int_equal(f->ops->info(f->dev, &info), TOK_OK);
    assert_true(info.provisioned);
    assert_int_equal(f->ops->list_keys(f->dev, keys, &n), TOK_OK);
    assert_int_equal(n, 5); /* slots 0-4 (1 is internal-sign only) */
    assert_int_equal(keys[0].id, 0);
    assert_true(keys[0].flags & TOK_KEYF_PERMANENT);
    assert_false(keys[0].flags & TOK_KEYF_GENERATE);
    assert_true(keys[0].flags & TOK_KEYF_SIGN);
    assert_true(keys[0].flags & TOK_KEYF_DERIVE);
    assert_int_equal(keys[2].id, 2);
    assert_true(keys[2].flags & TOK_KEYF_GENERATE);
}

static void test_cert_list(void **state)
{
    struct fx *f = *state;
    uint32_t ids[4];
    size_t n = 0;

    open_tng(f);
    assert_int_equal(f->ops->cert_list(f->dev, NULL, &n), TOK_E_FULL);
    assert_int_equal(n, 2);
    n = 1;
    assert_int_equal(f->ops->cert_list(f->dev, ids, &n), TOK_E_FULL);
    assert_int_equal(n, 2);
    n = 4;
    assert_int_equal(f->ops->cert_list(f->dev, ids, &n), TOK_OK);
    assert_int_equal(n, 2);
    assert_true((ids[0] == 10 && ids[1] == 12) || (ids[0] == 12 && ids[1] == 10));
    uint8_t buf[100];
    size_t len = sizeof buf;
    assert_int_equal(f->ops->cert_read(f->dev, 11, buf, &len), TOK_E_NOT_FOUND);
}

static void test_certificates(void **state)
{
    struct fx *f = *state;
    struct raw r;
    struct tok_pubkey pub;
    struct tok_info info;
    X509 *dev, *sig, *root;
    uint8_t dev_key[64], signer_key[64], root_key[64];
    char cn[128], want[128], eui[13];
    uint16_t signer_id;

    open_tng(f);
    memset(&r, 0, sizeof r);
    read_raw(f, &r);
    dev = read_cert(f, 10);
    sig = read_cert(f, 12);
    root = read_root(f);

    /* the device certificate carries the slot-0 key; the signer the slot-11 key */
    assert_int_equal(f->ops->read_public(f->dev, 0, &pub), TOK_OK);
    cert_key(dev, dev_key);
    assert_memory_equal(dev_key, pub.point + 1, 64);
    cert_key(sig, signer_key);
    assert_memory_equal(signer_key, r.slot[1] + 4, 32);
    assert_memory_equal(signer_key + 32, r.slot[1] + 40, 32);
    cert_key(root, root_key);

    /* chain: root (trusted) -> signer (untrusted) -> device */
    assert_int_equal(verify_chain(root, sig, dev), 1);
    assert_int_equal(verify_chain(root, NULL, sig), 1);
    assert_int_equal(verify_chain(root, NULL, dev), 0); /* the signer is needed */

    /* names */
    assert_int_equal(f->ops->info(f->dev, &info), TOK_OK);
    cn_of(X509_get_subject_name(dev), cn, sizeof cn);
    snprintf(want, sizeof want, "sn%s", info.serial);
    assert_string_equal(cn, want);
    assert_int_equal(strlen(cn), 20);
    signer_id = (uint16_t)(r.slot[0][67] << 8 | r.slot[0][68]);
    assert_int_equal(r.slot[2][67] << 8 | r.slot[2][68], signer_id);
    snprintf(want, sizeof want, "Crypto Authentication Signer %04X", signer_id);
    cn_of(X509_get_issuer_name(dev), cn, sizeof cn);
    assert_string_equal(cn, want);
    cn_of(X509_get_subject_name(sig), cn, sizeof cn);
    assert_string_equal(cn, want);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(sig), X509_get_subject_name(root)), 0);

    /* SAN dirName serialNumber=eui48_<slot 5> */
    {
        GENERAL_NAMES *san = X509_get_ext_d2i(dev, NID_subject_alt_name, NULL, NULL);
        GENERAL_NAME *gn;
        char sn[64];

        assert_non_null(san);
        assert_int_equal(sk_GENERAL_NAME_num(san), 1);
        gn = sk_GENERAL_NAME_value(san, 0);
        assert_int_equal(gn->type, GEN_DIRNAME);
        assert_true(X509_NAME_get_text_by_NID(gn->d.dirn, NID_serialNumber, sn, sizeof sn) > 0);
        memcpy(eui, r.slot5, 12);
        eui[12] = '\0';
        snprintf(want, sizeof want, "eui48_%s", eui);
        assert_string_equal(sn, want);
        GENERAL_NAMES_free(san);
    }

    /* constraints and key usage */
    assert_int_equal(X509_check_ca(dev), 0);
    assert_int_equal(X509_check_ca(sig), 1);
    assert_int_equal(X509_get_key_usage(dev), KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
    assert_int_equal(X509_get_key_usage(sig),
                     KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_int_equal(X509_get_pathlen(sig), 0);
    assert_int_equal(X509_get_version(dev), X509_VERSION_3);

    /* key identifiers */
    check_key_ids(dev, dev_key, signer_key);
    check_key_ids(sig, signer_key, root_key);

    /* the compressed bytes on the chip */
    check_compressed(dev, r.slot[0], 3, 28, dev_key, f);
    check_compressed(sig, r.slot[2], 1, 31, signer_key, f);

    X509_free(dev);
    X509_free(sig);
    X509_free(root);
}

/* A signature from slot 0 verifies with the device certificate's key. */
static void test_sign_with_cert_key(void **state)
{
    struct fx *f = *state;
    uint8_t digest[32], sig[64], der[80];
    size_t sig_len = sizeof sig;
    struct tok_sign_req req = {.alg = TOK_SIG_ECDSA, .hash = TOK_HASH_SHA256, .in = digest,
                               .in_len = sizeof digest};
    X509 *dev;
    EVP_PKEY_CTX *vctx;
    ECDSA_SIG *es;
    unsigned char *p = der;
    int der_len;

    open_tng(f);
    dev = read_cert(f, 10);
    for (unsigned i = 0; i < sizeof digest; i++)
        digest[i] = (uint8_t)(i * 29 + 3);
    assert_int_equal(f->ops->sign(f->dev, 0, &req, sig, &sig_len), TOK_OK);
    assert_int_equal(sig_len, 64);
    es = ECDSA_SIG_new();
    assert_non_null(es);
    assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)),
                     1);
    der_len = i2d_ECDSA_SIG(es, &p);
    assert_true(der_len > 0);
    vctx = EVP_PKEY_CTX_new(X509_get0_pubkey(dev), NULL);
    assert_int_equal(EVP_PKEY_verify_init(vctx), 1);
    assert_int_equal(EVP_PKEY_verify(vctx, der, (size_t)der_len, digest, 32), 1);
    digest[5] ^= 0x10;
    assert_int_not_equal(EVP_PKEY_verify(vctx, der, (size_t)der_len, digest, 32), 1);
    EVP_PKEY_CTX_free(vctx);
    ECDSA_SIG_free(es);
    X509_free(dev);
}

/* The device key is permanent; the certificates survive every reopen
 * byte for byte. */
static void test_permanent_key(void **state)
{
    struct fx *f = *state;
    struct tok_pubkey before, after, gen;
    uint8_t der1[ATECC_CERT_MAX], der2[ATECC_CERT_MAX];
    size_t l1 = sizeof der1, l2 = sizeof der2;

    open_tng(f);
    assert_int_equal(f->ops->read_public(f->dev, 0, &before), TOK_OK);
    assert_int_equal(f->ops->cert_read(f->dev, 10, der1, &l1), TOK_OK);
    assert_int_equal(f->ops->destroy(f->dev, 0), TOK_E_POLICY);
    assert_int_equal(f->ops->generate(f->dev, 0, TOK_KEY_EC, TOK_CURVE_P256, 256, &gen),
                     TOK_E_POLICY);
    assert_int_equal(f->ops->read_public(f->dev, 0, &after), TOK_OK);
    assert_memory_equal(before.point, after.point, 65);
    /* slot 2 is updatable */
    assert_int_equal(f->ops->generate(f->dev, 2, TOK_KEY_EC, TOK_CURVE_P256, 256, &gen),
                     TOK_OK);

    open_tng(f); /* the existing state: no new chip, the same certificates */
    assert_int_equal(f->ops->cert_read(f->dev, 10, der2, &l2), TOK_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(der1, der2, l1);
}

static void test_tls_profile_has_none(void **state)
{
    struct fx *f = *state;
    uint32_t ids[4];
    size_t n = 4, len = 0;
    char p[200];

    assert_int_equal(open_at(f, "tls", 0x60), TOK_OK);
    assert_int_equal(f->ops->cert_list(f->dev, ids, &n), TOK_OK);
    assert_int_equal(n, 0);
    n = 0;
    assert_int_equal(f->ops->cert_list(f->dev, NULL, &n), TOK_OK);
    assert_int_equal(n, 0);
    assert_int_equal(f->ops->cert_read(f->dev, 10, NULL, &len), TOK_E_NOT_FOUND);
    snprintf(p, sizeof p, "%s.root.pem", f->path);
    assert_int_not_equal(access(p, F_OK), 0);
}

static void test_blank_profile_has_none(void **state)
{
    struct fx *f = *state;
    size_t n = 0;

    assert_int_equal(open_at(f, "blank", 0x60), TOK_OK);
    assert_int_equal(f->ops->cert_list(f->dev, NULL, &n), TOK_OK);
    assert_int_equal(n, 0);
}

/* ---- the definitions alone ---- */

static void fixed_fields(struct atecc_cert_fields *fl)
{
    memset(fl, 0, sizeof *fl);
    for (unsigned i = 0; i < 64; i++) {
        fl->subject_key[i] = (uint8_t)(0x80 + i);
        fl->issuer_key[i] = (uint8_t)(0x10 + i);
    }
    fl->issue = (struct atecc_cert_date){2021, 7, 29, 17};
    fl->expire_years = 28;
    fl->signer_id = 0x2730;
    memcpy(fl->sn, "\x01\x23\xBC\x52\x6C\x69\xCF\xA0\x01", 9);
    memcpy(fl->eui48, "6827194C40CD", 12);
}

/* The field offsets of spec 8.3 (cryptoauthlib's definitions). */
static void test_geometry(void **state)
{
    struct atecc_cert_fields fl;
    uint8_t der[ATECC_CERT_MAX], sig[64], serial[16], id[20], enc[3], ext;
    size_t len = 0, tbs_len = 0;

    (void)state;
    fixed_fields(&fl);
    memset(sig, 0x11, sizeof sig);
    assert_int_equal(atecc_cert_encode_dates(&fl.issue, 28, enc, &ext), ATECC_CERT_OK);
    assert_memory_equal(enc, "\xAB\xF6\x3C", 3);
    assert_int_equal(ext, 0);
    assert_int_equal(atecc_cert_serial(fl.subject_key, enc, serial), ATECC_CERT_OK);
    assert_int_equal(serial[0] & 0xC0, 0x40);

    assert_int_equal(atecc_cert_tbs(&atecc_cert_tng_device, &fl, der, sizeof der, &tbs_len),
                     ATECC_CERT_OK);
    assert_int_equal(tbs_len, 457);
    assert_int_equal(atecc_cert_build(&atecc_cert_tng_device, &fl, sig, der, sizeof der, &len),
                     ATECC_CERT_OK);
    assert_int_equal(len, 546); /* R and S without a leading zero */
    assert_memory_equal(der + 15, serial, 16);
    assert_memory_equal(der + 120, "2730", 4);
    assert_memory_equal(der + 128, "210729170000Z", 13);
    assert_memory_equal(der + 143, "20490729170000Z", 15);
    assert_memory_equal(der + 208, "0123BC52", 8);
    assert_memory_equal(der + 216, "6C69CFA001", 10);
    assert_memory_equal(der + 253, fl.subject_key, 64);
    assert_memory_equal(der + 355, "6827194C40CD", 12);
    sha1_key(fl.subject_key, id);
    assert_memory_equal(der + 408, id, 20);
    sha1_key(fl.issuer_key, id);
    assert_memory_equal(der + 441, id, 20);
    assert_int_equal(der[473], 0x03);

    fl.expire_years = 31;
    assert_int_equal(atecc_cert_tbs(&atecc_cert_tng_signer, &fl, der, sizeof der, &tbs_len),
                     ATECC_CERT_OK);
    assert_int_equal(tbs_len, 430);
    assert_int_equal(atecc_cert_build(&atecc_cert_tng_signer, &fl, sig, der, sizeof der, &len),
                     ATECC_CERT_OK);
    /* cryptoauthlib's 520-byte template holds a one byte longer placeholder
     * signature; the offsets are the same */
    assert_int_equal(len, 519);
    assert_memory_equal(der + 143, "20520729170000Z", 15);
    assert_memory_equal(der + 235, "2730", 4);
    assert_memory_equal(der + 266, fl.subject_key, 64);
    sha1_key(fl.subject_key, id);
    assert_memory_equal(der + 381, id, 20);
    sha1_key(fl.issuer_key, id);
    assert_memory_equal(der + 414, id, 20);
    assert_int_equal(der[446], 0x03);

    /* high bits of R and S: a zero byte each, the lengths grow */
    sig[0] = 0x80;
    sig[32] = 0x80;
    assert_int_equal(atecc_cert_build(&atecc_cert_tng_signer, &fl, sig, der, sizeof der, &len),
                     ATECC_CERT_OK);
    assert_int_equal(len, 521);
    /* too small a buffer */
    assert_int_equal(atecc_cert_build(&atecc_cert_tng_signer, &fl, sig, der, 520, &len),
                     ATECC_CERT_E_SPACE);
}

static void test_compressed_format(void **state)
{
    struct atecc_cert_fields fl, back;
    uint8_t comp[72], sig[64], sig2[64];

    (void)state;
    fixed_fields(&fl);
    for (unsigned i = 0; i < 64; i++)
        sig[i] = (uint8_t)(i ^ 0x5C);
    assert_int_equal(atecc_cert_compress(&atecc_cert_tng_device, &fl, sig, comp),
                     ATECC_CERT_OK);
    assert_memory_equal(comp, sig, 64);
    assert_memory_equal(comp + 64, "\xAB\xF6\x3C\x27\x30\x30\xA0\x00", 8);
    memset(&back, 0, sizeof back);
    assert_int_equal(atecc_cert_decompress(&atecc_cert_tng_device, comp, &back, sig2),
                     ATECC_CERT_OK);
    assert_memory_equal(sig2, sig, 64);
    assert_int_equal(back.issue.year, 2021);
    assert_int_equal(back.issue.month, 7);
    assert_int_equal(back.issue.day, 29);
    assert_int_equal(back.issue.hour, 17);
    assert_int_equal(back.expire_years, 28);
    assert_int_equal(back.signer_id, 0x2730);

    /* a date past 2031 needs format 1 and the extension byte */
    fl.issue.year = 2040;
    fl.expire_years = 40;
    assert_int_equal(atecc_cert_compress(&atecc_cert_tng_device, &fl, sig, comp),
                     ATECC_CERT_OK);
    assert_int_equal(comp[70], 0xA1);
    assert_int_equal(comp[71], 0x50);
    assert_int_equal(atecc_cert_decompress(&atecc_cert_tng_device, comp, &back, sig2),
                     ATECC_CERT_OK);
    assert_int_equal(back.issue.year, 2040);
    assert_int_equal(back.expire_years, 40);
    /* format 0 ignores byte 71 */
    comp[70] = 0xA0;
    assert_int_equal(atecc_cert_decompress(&atecc_cert_tng_device, comp, &back, sig2),
                     ATECC_CERT_OK);
    assert_int_equal(back.issue.year, 2008);
    assert_int_equal(back.expire_years, 8);

    /* what the definition cannot decode */
    comp[70] = 0xA3;
    assert_int_equal(atecc_cert_decompress(&atecc_cert_tng_device, comp, &back, sig2),
                     ATECC_CERT_E_FORMAT);
    comp[70] = 0x80; /* SN source DEVICE_SN */
    assert_int_equal(atecc_cert_decompress(&atecc_cert_tng_device, comp, &back, sig2),
                     ATECC_CERT_E_FORMAT);
    comp[70] = 0xA0;
    comp[64] = (uint8_t)((comp[64] & 0xF8) | 0x07); /* month 14/15 */
    assert_int_equal(atecc_cert_decompress(&atecc_cert_tng_device, comp, &back, sig2),
                     ATECC_CERT_E_FORMAT);

    /* dates UTCTime cannot carry */
    fl.issue.year = 2050;
    assert_int_equal(atecc_cert_compress(&atecc_cert_tng_device, &fl, sig, comp),
                     ATECC_CERT_E_DATE);
    fl.issue = (struct atecc_cert_date){2021, 13, 1, 0};
    assert_int_equal(atecc_cert_compress(&atecc_cert_tng_device, &fl, sig, comp),
                     ATECC_CERT_E_DATE);
}

/* The roots the host knows are points on the curve, the test root among
 * them matching the emulator's PEM. */
static void test_known_roots(void **state)
{
    struct fx *f = *state;
    const char *name = NULL;
    const uint8_t *k;
    uint8_t root_key[64];
    X509 *root;
    bool found = false;

    open_tng(f);
    root = read_root(f);
    cert_key(root, root_key);
    assert_int_equal(X509_check_issued(root, root), X509_V_OK);
    for (unsigned i = 0; (k = atecc_cert_root_key(i, &name)) != NULL; i++) {
        uint8_t pt[65];
        EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
        EC_POINT *p = EC_POINT_new(g);

        pt[0] = 0x04;
        memcpy(pt + 1, k, 64);
        assert_int_equal(EC_POINT_oct2point(g, p, pt, sizeof pt, NULL), 1);
        assert_int_equal(EC_POINT_is_on_curve(g, p, NULL), 1);
        EC_POINT_free(p);
        EC_GROUP_free(g);
        assert_non_null(name);
        if (memcmp(k, root_key, 64) == 0)
            found = true;
    }
    assert_true(found);
    X509_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_factory_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cert_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certificates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_with_cert_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_profile_has_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blank_profile_has_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_roots, setup, teardown),
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_compressed_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
