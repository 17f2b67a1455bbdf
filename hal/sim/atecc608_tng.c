/* The ATECC608 emulator's `trustngo` profile: a chip as a Trust&GO
 * (ATECC608B-TNGTLS) leaves the factory (spec 8.1). Config, data and OTP
 * locked, OTP code "x6tjuZMy", address 0x6A; slot 0 a permanent device key,
 * slots 2-4 updatable keys, slot 5 the EUI-48 as text, slots 10-12 the
 * compressed device certificate, the signer public key and the compressed
 * signer certificate.
 *
 * The factory is played here: it signs a signer certificate with a test
 * root, and the device certificate for the slot-0 key with the signer, using
 * the certificate definitions the host rebuilds them with
 * (hal/atecc608/atecc_cert.c), as the real factory uses the definitions of
 * the host library. Only the compressed forms and the signer public key go
 * into the chip.
 *
 * The test root certificate is written as PEM beside the state file, at
 * PATH.root.pem, when the chip is created (a608_publish), so tests and demos
 * can verify the chain and trust it. Its name is the one the signer
 * definition gives its issuer; its key is the fixed key below, whose public
 * half the host library knows (it needs the root key for the signer's
 * AuthorityKeyIdentifier). That private key is public: nothing signed by
 * this root is to be trusted outside tests. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "hal/atecc608/atecc_cert.h"
#include "hal/sim/atecc608_emu.h"

#define TNG_ADDRESS 0x6A
#define ROOT_EXPIRE_YEARS 40

static const char otp_code[8] = {'x', '6', 't', 'j', 'u', 'Z', 'M', 'y'};

static const uint8_t test_root_priv[32] = {
    0xC0, 0x9A, 0xD3, 0xF7, 0xB1, 0x10, 0xFB, 0xEE, 0x75, 0x14, 0xC0, 0x1F, 0xEE, 0x98, 0x6F, 0x45,
    0xFF, 0x77, 0x9C, 0xC3, 0x1C, 0x00, 0xC9, 0x0E, 0x7E, 0x52, 0xFA, 0x7D, 0x6C, 0x68, 0x03, 0x55};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* The TrustFLEX bytes of spec 8.1 with the TNGTLS differences: address 0x6A,
 * slot 0 KeyConfig 0x0053 (no PersistentDisable). Slot 5 holds the EUI-48 in
 * clear, never written after the factory (SlotConfig 0x8F0F, KeyConfig
 * 0x001C like the certificate slots). */
static void tng_config(struct a608 *c)
{
    static const uint16_t slot_config[16] = {0x0085, 0x0082, 0x2085, 0x2085, 0x2085, 0x8F0F,
                                             0x0F8F, 0x8F9F, 0x0F0F, 0x0F8F, 0x8F0F, 0x8F0F,
                                             0x8F0F, 0x0F0F, 0x1F0D, 0x8F0F};
    static const uint16_t key_config[16] = {0x0053, 0x0053, 0x0073, 0x0073, 0x0073, 0x001C,
                                            0x007C, 0x001C, 0x003C, 0x001A, 0x001C, 0x0010,
                                            0x001C, 0x0030, 0x0012, 0x0030};

    c->config[13] = 0x61;
    c->config[14] = 0x59;
    c->config[A608_CFG_I2C_ADDR] = TNG_ADDRESS;
    c->config[A608_CFG_CHIPMODE] = 0x01;
    for (unsigned i = 0; i < 16; i++) {
        put16(c->config + A608_CFG_SLOTCONFIG + 2 * i, slot_config[i]);
        put16(c->config + A608_CFG_KEYCONFIG + 2 * i, key_config[i]);
    }
    c->config[73] = 0x69; /* KdfIvStr "iv" */
    c->config[74] = 0x76;
    put16(c->config + A608_CFG_SLOT_LOCKED, 0xFFFF);
    put16(c->config + A608_CFG_CHIPOPTIONS, 0x600E);
    c->config[A608_CFG_LOCK_VALUE] = 0x00;
    c->config[A608_CFG_LOCK_CONFIG] = 0x00;
}

static void put_padded_key(uint8_t slot[72], const uint8_t key[64])
{
    memset(slot, 0, 72);
    memcpy(slot + 4, key, 32);
    memcpy(slot + 40, key + 32, 32);
}

/* Issue date: now, whole hours. 29 February becomes the 28th so that every
 * expiry year (issue year + n) exists. */
static int issue_now(struct atecc_cert_date *d)
{
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL)
        return -1;
    d->year = (unsigned)tm.tm_year + 1900;
    d->month = (unsigned)tm.tm_mon + 1;
    d->day = (unsigned)tm.tm_mday;
    d->hour = (unsigned)tm.tm_hour;
    if (d->month == 2 && d->day == 29)
        d->day = 28;
    return 0;
}

/* Signs the TBS of def/f with priv and returns R || S. */
static int sign_tbs(const struct atecc_cert_def *def, const struct atecc_cert_fields *f,
                    const uint8_t priv[32], const uint8_t pub[64], uint8_t sig[64])
{
    uint8_t tbs[ATECC_CERT_MAX], digest[32];
    size_t len = 0;

    if (atecc_cert_tbs(def, f, tbs, sizeof tbs, &len) != ATECC_CERT_OK ||
        a608_sha256(tbs, len, digest) != 0)
        return -1;
    return a608_ec_sign(priv, pub, digest, sig);
}

struct factory {
    struct atecc_cert_date issue;
    uint8_t root_pub[64];
    uint8_t signer_priv[32];
    uint8_t signer_pub[64];
    uint16_t signer_id;
};

static int make_root(struct a608 *c, const struct factory *fa)
{
    struct atecc_cert_def def = atecc_cert_tng_signer;
    struct atecc_cert_fields f;
    uint8_t sig[64];

    def.what = "root";
    def.subject = def.issuer;
    def.path_len = -1;
    memset(&f, 0, sizeof f);
    memcpy(f.subject_key, fa->root_pub, 64);
    memcpy(f.issuer_key, fa->root_pub, 64);
    f.issue = fa->issue;
    f.expire_years = ROOT_EXPIRE_YEARS;
    if (sign_tbs(&def, &f, test_root_priv, fa->root_pub, sig) != 0)
        return -1;
    return atecc_cert_build(&def, &f, sig, c->root_der, sizeof c->root_der, &c->root_der_len) ==
                   ATECC_CERT_OK ? 0 : -1;
}

static int make_signer(struct a608 *c, const struct factory *fa)
{
    const struct atecc_cert_def *def = &atecc_cert_tng_signer;
    struct atecc_cert_fields f;
    uint8_t sig[64];

    memset(&f, 0, sizeof f);
    memcpy(f.subject_key, fa->signer_pub, 64);
    memcpy(f.issuer_key, fa->root_pub, 64);
    f.issue = fa->issue;
    f.expire_years = def->expire_years;
    f.signer_id = fa->signer_id;
    if (sign_tbs(def, &f, test_root_priv, fa->root_pub, sig) != 0 ||
        atecc_cert_compress(def, &f, sig, c->data + a608_slot_offset(12)) != ATECC_CERT_OK)
        return -1;
    put_padded_key(c->data + a608_slot_offset(11), fa->signer_pub);
    return 0;
}

static int make_device(struct a608 *c, const struct factory *fa)
{
    const struct atecc_cert_def *def = &atecc_cert_tng_device;
    struct atecc_cert_fields f;
    uint8_t sig[64];

    memset(&f, 0, sizeof f);
    memcpy(f.subject_key, c->pub[0], 64);
    memcpy(f.issuer_key, fa->signer_pub, 64);
    f.issue = fa->issue;
    f.expire_years = def->expire_years;
    f.signer_id = fa->signer_id;
    memcpy(f.sn, c->config, 4);
    memcpy(f.sn + 4, c->config + 8, 5);
    memcpy(f.eui48, c->data + a608_slot_offset(5), ATECC_CERT_EUI48_LEN);
    if (sign_tbs(def, &f, fa->signer_priv, fa->signer_pub, sig) != 0)
        return -1;
    return atecc_cert_compress(def, &f, sig, c->data + a608_slot_offset(10)) == ATECC_CERT_OK
               ? 0 : -1;
}

/* A locally administered unicast EUI-48, as 12 hex characters. */
static int make_eui48(struct a608 *c)
{
    static const char digits[] = "0123456789ABCDEF";
    uint8_t mac[6];
    char *text = (char *)c->data + a608_slot_offset(5);

    if (RAND_bytes(mac, sizeof mac) != 1)
        return -1;
    mac[0] = (uint8_t)((mac[0] & 0xFC) | 0x02);
    for (unsigned i = 0; i < 6; i++) {
        text[2 * i] = digits[mac[i] >> 4];
        text[2 * i + 1] = digits[mac[i] & 0xF];
    }
    return 0;
}

int a608_profile_trustngo(struct a608 *c, char *err, size_t errlen)
{
    struct factory fa;
    uint8_t id[2];
    int rc = -1;

    memset(&fa, 0, sizeof fa);
    tng_config(c);
    memcpy(c->otp, otp_code, sizeof otp_code);
    for (unsigned slot = 0; slot < 5; slot++) {
        if (a608_ec_generate(c->priv[slot], c->pub[slot]) != 0) {
            snprintf(err, errlen, "key generation failed");
            goto out;
        }
        c->priv_valid |= (uint16_t)(1u << slot);
    }
    if (make_eui48(c) != 0 || RAND_bytes(id, sizeof id) != 1 ||
        a608_ec_generate(fa.signer_priv, fa.signer_pub) != 0 ||
        a608_ec_public(test_root_priv, fa.root_pub) != 0) {
        snprintf(err, errlen, "no randomness or keys for the factory certificates");
        goto out;
    }
    fa.signer_id = (uint16_t)(id[0] << 8 | id[1]);
    if (issue_now(&fa.issue) != 0 || make_root(c, &fa) != 0 || make_signer(c, &fa) != 0 ||
        make_device(c, &fa) != 0) {
        snprintf(err, errlen, "cannot make the factory certificates (clock before 2000 or "
                 "after 2049?)");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(&fa, sizeof fa);
    return rc;
}

int a608_publish(const void *chip, const char *path, char *err, size_t errlen)
{
    const struct a608 *c = chip;
    const unsigned char *p = c->root_der;
    char pem_path[4096], tmp_path[4120];
    X509 *x = NULL;
    FILE *fp = NULL;
    int rc = -1;

    if (c->root_der_len == 0)
        return 0;
    if ((size_t)snprintf(pem_path, sizeof pem_path, "%s.root.pem", path) >= sizeof pem_path) {
        snprintf(err, errlen, "state path too long");
        return -1;
    }
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", pem_path);
    x = d2i_X509(NULL, &p, (long)c->root_der_len);
    if (x == NULL) {
        snprintf(err, errlen, "the test root certificate does not parse");
        return -1;
    }
    fp = fopen(tmp_path, "w");
    if (fp == NULL || PEM_write_X509(fp, x) != 1) {
        snprintf(err, errlen, "%s: cannot write", tmp_path);
        goto out;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        snprintf(err, errlen, "%s: cannot write", tmp_path);
        goto out;
    }
    fp = NULL;
    if (rename(tmp_path, pem_path) != 0) {
        snprintf(err, errlen, "%s: cannot rename into place", pem_path);
        goto out;
    }
    rc = 0;
out:
    if (fp != NULL)
        fclose(fp);
    if (rc != 0)
        unlink(tmp_path);
    X509_free(x);
    return rc;
}
