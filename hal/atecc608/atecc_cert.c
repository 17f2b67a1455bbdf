#include "hal/atecc608/atecc_cert.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "hal/atecc608/atecc.h"
#include "hal/atecc608/atecc_cmd.h"
#include "hal/atecc608/atecc_dev.h"
#include "hal/log.h"
#include "hal/ossl_names.h"

/* ---- the definitions ---- */

#define ORG "Microchip Technology Inc"
#define SIGNER_CN "Crypto Authentication Signer "

/* The signer certificate names the root by fixed text; a root that signs
 * signer certificates for these definitions carries exactly this name. */
#define ROOT_CN "Crypto Authentication Root CA 002"

#define KU_DIGITAL_SIGNATURE 0x80u
#define KU_KEY_AGREEMENT 0x08u
#define KU_KEY_CERT_SIGN 0x04u
#define KU_CRL_SIGN 0x02u

const struct atecc_cert_def atecc_cert_tng_device = {
    .what = "device",
    .template_id = 3,
    .chain_id = 0,
    .expire_years = 28,
    .issuer = {ORG, SIGNER_CN, ATECC_CN_SIGNER_ID},
    .subject = {ORG, "sn", ATECC_CN_SERIAL},
    .san_eui48 = true,
    .ca = false,
    .path_len = -1,
    .key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT,
    .key_usage_unused = 3,
};

const struct atecc_cert_def atecc_cert_tng_signer = {
    .what = "signer",
    .template_id = 1,
    .chain_id = 0,
    .expire_years = 31,
    .issuer = {ORG, ROOT_CN, ATECC_CN_FIXED},
    .subject = {ORG, SIGNER_CN, ATECC_CN_SIGNER_ID},
    .san_eui48 = false,
    .ca = true,
    .path_len = 0,
    .key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN,
    .key_usage_unused = 1,
};

/* Public keys (X || Y) of the roots signer certificates chain to. */
static const struct {
    const char *name;
    uint8_t key[ATECC_CERT_KEY_SIZE];
} roots[] = {
    {"Microchip " ROOT_CN,
     {0xBD, 0x54, 0xE6, 0x6D, 0xE3, 0x87, 0x54, 0x84, 0x00, 0x6B, 0x53, 0xAE, 0x15,
      0x80, 0xD5, 0x0A, 0xA0, 0x69, 0xE7, 0x8A, 0xDF, 0x55, 0x78, 0xD8, 0x5C, 0xE2,
      0xD5, 0x4D, 0xD5, 0xB8, 0x30, 0x29, 0x6B, 0xFF, 0xDD, 0x6E, 0x6F, 0x72, 0x56,
      0xFB, 0xD9, 0x9E, 0xF1, 0xA1, 0x16, 0xB1, 0x1D, 0x33, 0xAD, 0x49, 0x10, 0x3A,
      0xA1, 0x85, 0x87, 0x39, 0xDC, 0xFA, 0xE4, 0x37, 0xE1, 0x9D, 0x63, 0x4E}},
    /* The emulator's test root (hal/sim/atecc608_tng.c holds its private
     * key, which is public: never trust this root outside tests). */
    {"seccki test root",
     {0x42, 0xB2, 0x86, 0xA2, 0x94, 0xBA, 0xC3, 0x25, 0xC3, 0x55, 0x3F, 0x37, 0x34,
      0xE1, 0x01, 0xB3, 0xB0, 0x85, 0xBC, 0x1C, 0x17, 0x58, 0x07, 0xB8, 0xE0, 0x93,
      0xD0, 0xE4, 0x41, 0xF0, 0x2B, 0x25, 0x7F, 0xBD, 0xA5, 0xAB, 0xA2, 0xB1, 0x9D,
      0x0F, 0xF6, 0x98, 0x18, 0xF9, 0xC4, 0x3B, 0x97, 0x24, 0x5D, 0x35, 0x2D, 0x2E,
      0xA6, 0xD6, 0x10, 0x59, 0xA4, 0x4C, 0x67, 0x64, 0xB9, 0x1F, 0x7C, 0x87}},
};

const uint8_t *atecc_cert_root_key(unsigned i, const char **name)
{
    if (i >= sizeof roots / sizeof roots[0])
        return NULL;
    if (name != NULL)
        *name = roots[i].name;
    return roots[i].key;
}

/* ---- DER writing ---- */

static const uint8_t OID_ECDSA_SHA256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const uint8_t OID_EC_PUBLIC_KEY[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const uint8_t OID_P256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t OID_ORG[] = {0x55, 0x04, 0x0A};
static const uint8_t OID_CN[] = {0x55, 0x04, 0x03};
static const uint8_t OID_SERIAL_NUMBER[] = {0x55, 0x04, 0x05};
static const uint8_t OID_SAN[] = {0x55, 0x1D, 0x11};
static const uint8_t OID_BASIC_CONSTRAINTS[] = {0x55, 0x1D, 0x13};
static const uint8_t OID_KEY_USAGE[] = {0x55, 0x1D, 0x0F};
static const uint8_t OID_SKI[] = {0x55, 0x1D, 0x0E};
static const uint8_t OID_AKI[] = {0x55, 0x1D, 0x23};

enum {
    TAG_BOOLEAN = 0x01,
    TAG_INTEGER = 0x02,
    TAG_BIT_STRING = 0x03,
    TAG_OCTET_STRING = 0x04,
    TAG_OID = 0x06,
    TAG_UTF8 = 0x0C,
    TAG_PRINTABLE = 0x13,
    TAG_UTC_TIME = 0x17,
    TAG_GENERALIZED_TIME = 0x18,
    TAG_SEQUENCE = 0x30,
    TAG_SET = 0x31,
    TAG_CTX0_PRIM = 0x80,
    TAG_CTX0 = 0xA0,
    TAG_CTX3 = 0xA3,
    TAG_CTX4 = 0xA4,
};

struct der {
    uint8_t *p;
    size_t cap, len;
    bool full;
};

static void put(struct der *d, const void *src, size_t n)
{
    if (d->full || d->cap - d->len < n) {
        d->full = true;
        return;
    }
    memcpy(d->p + d->len, src, n);
    d->len += n;
}

static void put_byte(struct der *d, uint8_t b)
{
    put(d, &b, 1);
}

/* Opens a constructed element; der_close patches in its length. */
static size_t der_open(struct der *d, uint8_t tag)
{
    put_byte(d, tag);
    put_byte(d, 0);
    return d->len;
}

static void der_close(struct der *d, size_t start)
{
    size_t n = d->len - start, extra = n < 0x80 ? 0 : n < 0x100 ? 1 : 2;

    if (d->full)
        return;
    if (n > 0xFFFF || d->cap - d->len < extra) {
        d->full = true;
        return;
    }
    if (extra == 0) {
        d->p[start - 1] = (uint8_t)n;
        return;
    }
    memmove(d->p + start + extra, d->p + start, n);
    d->len += extra;
    d->p[start - 1] = (uint8_t)(0x80 | extra);
    if (extra == 2)
        d->p[start++] = (uint8_t)(n >> 8);
    d->p[start] = (uint8_t)n;
}

static void der_prim(struct der *d, uint8_t tag, const void *val, size_t n)
{
    size_t at = der_open(d, tag);

    put(d, val, n);
    der_close(d, at);
}

/* An unsigned big-endian number as a minimal DER INTEGER. */
static void der_uint(struct der *d, const uint8_t *v, size_t n)
{
    size_t at;

    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    at = der_open(d, TAG_INTEGER);
    if (v[0] & 0x80)
        put_byte(d, 0);
    put(d, v, n);
    der_close(d, at);
}

static void hex_upper(char *out, const uint8_t *v, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[v[i] >> 4];
        out[2 * i + 1] = digits[v[i] & 0xF];
    }
}

static void put_atv(struct der *d, const uint8_t *oid, size_t oid_len, uint8_t str_tag,
                    const char *s, size_t n)
{
    size_t set = der_open(d, TAG_SET), seq = der_open(d, TAG_SEQUENCE);

    der_prim(d, TAG_OID, oid, oid_len);
    der_prim(d, str_tag, s, n);
    der_close(d, seq);
    der_close(d, set);
}

static void put_name(struct der *d, const struct atecc_cert_name *nm,
                     const struct atecc_cert_fields *f)
{
    char cn[64];
    size_t fixed = strlen(nm->cn), n = fixed;
    size_t at = der_open(d, TAG_SEQUENCE);

    if (fixed + 18 > sizeof cn) {
        d->full = true;
        return;
    }
    memcpy(cn, nm->cn, fixed);
    if (nm->var == ATECC_CN_SIGNER_ID) {
        uint8_t id[2] = {(uint8_t)(f->signer_id >> 8), (uint8_t)f->signer_id};
        hex_upper(cn + n, id, sizeof id);
        n += 4;
    } else if (nm->var == ATECC_CN_SERIAL) {
        hex_upper(cn + n, f->sn, ATECC_SERIAL_SIZE);
        n += 2 * ATECC_SERIAL_SIZE;
    }
    put_atv(d, OID_ORG, sizeof OID_ORG, TAG_UTF8, nm->org, strlen(nm->org));
    put_atv(d, OID_CN, sizeof OID_CN, TAG_UTF8, cn, n);
    der_close(d, at);
}

static void put_alg_ecdsa_sha256(struct der *d)
{
    size_t at = der_open(d, TAG_SEQUENCE);

    der_prim(d, TAG_OID, OID_ECDSA_SHA256, sizeof OID_ECDSA_SHA256);
    der_close(d, at);
}

static void put_spki(struct der *d, const uint8_t key[ATECC_CERT_KEY_SIZE])
{
    size_t at = der_open(d, TAG_SEQUENCE), alg = der_open(d, TAG_SEQUENCE), bits;

    der_prim(d, TAG_OID, OID_EC_PUBLIC_KEY, sizeof OID_EC_PUBLIC_KEY);
    der_prim(d, TAG_OID, OID_P256, sizeof OID_P256);
    der_close(d, alg);
    bits = der_open(d, TAG_BIT_STRING);
    put_byte(d, 0x00);
    put_byte(d, 0x04);
    put(d, key, ATECC_CERT_KEY_SIZE);
    der_close(d, bits);
    der_close(d, at);
}

/* Opens an extension up to the inside of its extnValue OCTET STRING;
 * returns the two positions to close (value, then extension). */
static void ext_open(struct der *d, const uint8_t *oid, size_t oid_len, bool critical,
                     size_t at[2])
{
    static const uint8_t true_byte = 0xFF;

    at[1] = der_open(d, TAG_SEQUENCE);
    der_prim(d, TAG_OID, oid, oid_len);
    if (critical)
        der_prim(d, TAG_BOOLEAN, &true_byte, 1);
    at[0] = der_open(d, TAG_OCTET_STRING);
}

static void ext_close(struct der *d, const size_t at[2])
{
    der_close(d, at[0]);
    der_close(d, at[1]);
}

/* SHA-1(04 || X || Y): the key identifier of spec 8.3. */
static int key_id(const uint8_t key[ATECC_CERT_KEY_SIZE], uint8_t id[20])
{
    uint8_t pt[1 + ATECC_CERT_KEY_SIZE];
    unsigned int n = 0;

    pt[0] = 0x04;
    memcpy(pt + 1, key, ATECC_CERT_KEY_SIZE);
    return EVP_Digest(pt, sizeof pt, id, &n, EVP_sha1(), NULL) == 1 && n == 20 ? 0 : -1;
}

static int put_extensions(struct der *d, const struct atecc_cert_def *def,
                          const struct atecc_cert_fields *f)
{
    static const char eui_prefix[] = "eui48_";
    uint8_t ski[20], aki[20];
    size_t ctx3, seq, e[2], inner, dn, name;

    if (key_id(f->subject_key, ski) != 0 || key_id(f->issuer_key, aki) != 0)
        return ATECC_CERT_E_CRYPTO;
    ctx3 = der_open(d, TAG_CTX3);
    seq = der_open(d, TAG_SEQUENCE);
    if (def->san_eui48) {
        char text[sizeof eui_prefix - 1 + ATECC_CERT_EUI48_LEN];

        memcpy(text, eui_prefix, sizeof eui_prefix - 1);
        memcpy(text + sizeof eui_prefix - 1, f->eui48, ATECC_CERT_EUI48_LEN);
        ext_open(d, OID_SAN, sizeof OID_SAN, false, e);
        inner = der_open(d, TAG_SEQUENCE);
        dn = der_open(d, TAG_CTX4);
        name = der_open(d, TAG_SEQUENCE);
        put_atv(d, OID_SERIAL_NUMBER, sizeof OID_SERIAL_NUMBER, TAG_PRINTABLE, text,
                sizeof text);
        der_close(d, name);
        der_close(d, dn);
        der_close(d, inner);
        ext_close(d, e);
    }
    ext_open(d, OID_BASIC_CONSTRAINTS, sizeof OID_BASIC_CONSTRAINTS, true, e);
    inner = der_open(d, TAG_SEQUENCE);
    if (def->ca) {
        static const uint8_t yes = 0xFF;
        uint8_t pathlen = (uint8_t)(def->path_len & 0x7F);

        der_prim(d, TAG_BOOLEAN, &yes, 1);
        if (def->path_len >= 0)
            der_prim(d, TAG_INTEGER, &pathlen, 1);
    }
    der_close(d, inner);
    ext_close(d, e);
    ext_open(d, OID_KEY_USAGE, sizeof OID_KEY_USAGE, true, e);
    inner = der_open(d, TAG_BIT_STRING);
    put_byte(d, def->key_usage_unused);
    put_byte(d, def->key_usage);
    der_close(d, inner);
    ext_close(d, e);
    ext_open(d, OID_SKI, sizeof OID_SKI, false, e);
    der_prim(d, TAG_OCTET_STRING, ski, sizeof ski);
    ext_close(d, e);
    ext_open(d, OID_AKI, sizeof OID_AKI, false, e);
    inner = der_open(d, TAG_SEQUENCE);
    der_prim(d, TAG_CTX0_PRIM, aki, sizeof aki);
    der_close(d, inner);
    ext_close(d, e);
    der_close(d, seq);
    der_close(d, ctx3);
    return ATECC_CERT_OK;
}

/* ---- dates ---- */

static bool date_valid(const struct atecc_cert_date *t)
{
    return t->month >= 1 && t->month <= 12 && t->day >= 1 && t->day <= 31 && t->hour <= 23;
}

int atecc_cert_encode_dates(const struct atecc_cert_date *issue, unsigned expire_years,
                            uint8_t enc[3], uint8_t *ext)
{
    unsigned y;

    if (!date_valid(issue) || issue->year < 2000 || issue->year > 2049 || expire_years > 127)
        return ATECC_CERT_E_DATE;
    y = issue->year - 2000;
    enc[0] = (uint8_t)((y & 0x1F) << 3 | issue->month >> 1);
    enc[1] = (uint8_t)((issue->month & 1) << 7 | issue->day << 2 | issue->hour >> 3);
    enc[2] = (uint8_t)((issue->hour & 7) << 5 | (expire_years & 0x1F));
    *ext = (uint8_t)(((y >> 5) & 3) << 6 | ((expire_years >> 5) & 3) << 4);
    return ATECC_CERT_OK;
}

static void decode_dates(const uint8_t enc[3], uint8_t ext, struct atecc_cert_date *issue,
                         unsigned *expire_years)
{
    issue->year = 2000 + (enc[0] >> 3) + 32u * (ext >> 6);
    issue->month = (enc[0] & 7u) << 1 | enc[1] >> 7;
    issue->day = (enc[1] >> 2) & 0x1Fu;
    issue->hour = (enc[1] & 3u) << 3 | enc[2] >> 5;
    *expire_years = (enc[2] & 0x1Fu) + 32u * ((ext >> 4) & 3u);
}

static void put_validity(struct der *d, const struct atecc_cert_date *t, unsigned years)
{
    char utc[16], gen[16];
    size_t at = der_open(d, TAG_SEQUENCE);

    snprintf(utc, sizeof utc, "%02u%02u%02u%02u0000Z", t->year % 100, t->month, t->day,
             t->hour);
    if (years == 0)
        snprintf(gen, sizeof gen, "99991231235959Z");
    else
        snprintf(gen, sizeof gen, "%04u%02u%02u%02u0000Z", t->year + years, t->month, t->day,
                 t->hour);
    der_prim(d, TAG_UTC_TIME, utc, 13);
    der_prim(d, TAG_GENERALIZED_TIME, gen, 15);
    der_close(d, at);
}

/* ---- certificates ---- */

int atecc_cert_serial(const uint8_t key[ATECC_CERT_KEY_SIZE], const uint8_t enc_dates[3],
                      uint8_t serial[16])
{
    uint8_t msg[ATECC_CERT_KEY_SIZE + 3], h[32];
    unsigned int n = 0;

    memcpy(msg, key, ATECC_CERT_KEY_SIZE);
    memcpy(msg + ATECC_CERT_KEY_SIZE, enc_dates, 3);
    if (EVP_Digest(msg, sizeof msg, h, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return ATECC_CERT_E_CRYPTO;
    memcpy(serial, h, 16);
    serial[0] = (uint8_t)((serial[0] & 0x3F) | 0x40);
    return ATECC_CERT_OK;
}

static int tbs_into(struct der *d, const struct atecc_cert_def *def,
                    const struct atecc_cert_fields *f)
{
    static const uint8_t v3 = 2;
    uint8_t enc[3], ext, serial[16];
    size_t at, ver;
    int rc = atecc_cert_encode_dates(&f->issue, f->expire_years, enc, &ext);

    if (rc == ATECC_CERT_OK)
        rc = atecc_cert_serial(f->subject_key, enc, serial);
    if (rc != ATECC_CERT_OK)
        return rc;
    at = der_open(d, TAG_SEQUENCE);
    ver = der_open(d, TAG_CTX0);
    der_prim(d, TAG_INTEGER, &v3, 1);
    der_close(d, ver);
    der_prim(d, TAG_INTEGER, serial, sizeof serial); /* top bits 01: positive, minimal */
    put_alg_ecdsa_sha256(d);
    put_name(d, &def->issuer, f);
    put_validity(d, &f->issue, f->expire_years);
    put_name(d, &def->subject, f);
    put_spki(d, f->subject_key);
    rc = put_extensions(d, def, f);
    if (rc != ATECC_CERT_OK)
        return rc;
    der_close(d, at);
    return d->full ? ATECC_CERT_E_SPACE : ATECC_CERT_OK;
}

int atecc_cert_tbs(const struct atecc_cert_def *def, const struct atecc_cert_fields *f,
                   uint8_t *tbs, size_t cap, size_t *len)
{
    struct der d = {tbs, cap, 0, false};
    int rc = tbs_into(&d, def, f);

    if (rc == ATECC_CERT_OK)
        *len = d.len;
    return rc;
}

int atecc_cert_build(const struct atecc_cert_def *def, const struct atecc_cert_fields *f,
                     const uint8_t sig[64], uint8_t *der, size_t cap, size_t *len)
{
    struct der d = {der, cap, 0, false};
    size_t at = der_open(&d, TAG_SEQUENCE), bits, seq;
    int rc = tbs_into(&d, def, f);

    if (rc != ATECC_CERT_OK)
        return rc;
    put_alg_ecdsa_sha256(&d);
    bits = der_open(&d, TAG_BIT_STRING);
    put_byte(&d, 0x00);
    seq = der_open(&d, TAG_SEQUENCE);
    der_uint(&d, sig, 32);
    der_uint(&d, sig + 32, 32);
    der_close(&d, seq);
    der_close(&d, bits);
    der_close(&d, at);
    if (d.full)
        return ATECC_CERT_E_SPACE;
    *len = d.len;
    return ATECC_CERT_OK;
}

int atecc_cert_compress(const struct atecc_cert_def *def, const struct atecc_cert_fields *f,
                        const uint8_t sig[64], uint8_t comp[ATECC_CERT_COMP_SIZE])
{
    uint8_t enc[3], ext;
    int rc = atecc_cert_encode_dates(&f->issue, f->expire_years, enc, &ext);

    if (rc != ATECC_CERT_OK)
        return rc;
    memcpy(comp, sig, 64);
    memcpy(comp + 64, enc, 3);
    comp[67] = (uint8_t)(f->signer_id >> 8);
    comp[68] = (uint8_t)f->signer_id;
    comp[69] = (uint8_t)((def->template_id & 0xF) << 4 | (def->chain_id & 0xF));
    comp[70] = (uint8_t)(ATECC_CERT_SNSRC_PUB_KEY_HASH << 4 | (ext != 0 ? 1u : 0u));
    comp[71] = ext;
    return ATECC_CERT_OK;
}

int atecc_cert_decompress(const struct atecc_cert_def *def,
                          const uint8_t comp[ATECC_CERT_COMP_SIZE],
                          struct atecc_cert_fields *f, uint8_t sig[64])
{
    unsigned format = comp[70] & 0xFu, snsrc = comp[70] >> 4;

    if (format > ATECC_CERT_FORMAT_MAX || snsrc != ATECC_CERT_SNSRC_PUB_KEY_HASH) {
        log_error("atecc608", "%s certificate: compressed format %u, SN source 0x%X: not "
                  "this definition's", def->what, format, snsrc);
        return ATECC_CERT_E_FORMAT;
    }
    /* The template and chain ids are not checked: the signature check after
     * the rebuild is what proves the definition right. */
    if (comp[69] != ((def->template_id & 0xF) << 4 | (def->chain_id & 0xF)))
        log_info("atecc608", "%s certificate: template/chain id 0x%02X, definition has "
                 "%u/%u", def->what, comp[69], def->template_id, def->chain_id);
    decode_dates(comp + 64, format == 0 ? 0 : comp[71], &f->issue, &f->expire_years);
    if (!date_valid(&f->issue)) {
        log_error("atecc608", "%s certificate: encoded issue date %04u-%02u-%02u %02u:00 is "
                  "impossible", def->what, f->issue.year, f->issue.month, f->issue.day,
                  f->issue.hour);
        return ATECC_CERT_E_FORMAT;
    }
    f->signer_id = (uint16_t)(comp[67] << 8 | comp[68]);
    memcpy(sig, comp, 64);
    return ATECC_CERT_OK;
}

static EVP_PKEY *pkey_from_key(const uint8_t key[ATECC_CERT_KEY_SIZE])
{
    uint8_t pt[1 + ATECC_CERT_KEY_SIZE];
    char group[] = "prime256v1";
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, OSSL_KEYTYPE_EC, NULL);
    EVP_PKEY *pk = NULL;

    pt[0] = 0x04;
    memcpy(pt + 1, key, ATECC_CERT_KEY_SIZE);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt);
    params[2] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

int atecc_cert_verify(const uint8_t *tbs, size_t tbs_len, const uint8_t sig[64],
                      const uint8_t key[ATECC_CERT_KEY_SIZE])
{
    uint8_t digest[32], der[80];
    unsigned int n = 0;
    struct der d = {der, sizeof der, 0, false};
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int rc = -1;

    size_t at = der_open(&d, TAG_SEQUENCE);
    der_uint(&d, sig, 32);
    der_uint(&d, sig + 32, 32);
    der_close(&d, at);
    if (d.full || EVP_Digest(tbs, tbs_len, digest, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return -1;
    pk = pkey_from_key(key);
    if (pk == NULL || (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
        EVP_PKEY_verify_init(ctx) != 1)
        goto out;
    rc = EVP_PKEY_verify(ctx, der, d.len, digest, sizeof digest) == 1 ? 1 : 0;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rc;
}

/* ---- the chip ---- */

bool atecc_cert_tng_otp(const uint8_t otp[8])
{
    /* TNGTLS, and the ATECC608C-TFLXTLS that ships the same certificates */
    return memcmp(otp, "x6tjuZMy", 8) == 0 || memcmp(otp, "KQp2ZkD8", 8) == 0;
}

static bool clear_data_slot(const uint8_t cfg[ATECC_CONFIG_SIZE], unsigned slot)
{
    struct atecc_slot s;

    return atecc_slot_decode(cfg, slot, &s) && !s.is_private && !s.is_secret &&
           !(s.slot_config & 0x0040u); /* EncryptRead */
}

bool atecc_cert_tng_layout(const uint8_t cfg[ATECC_CONFIG_SIZE])
{
    struct atecc_slot key, signer;

    if (!atecc_config_locked(cfg) || !atecc_data_locked(cfg))
        return false;
    if (!atecc_slot_decode(cfg, ATECC_TNG_KEY_SLOT, &key) || !key.p256_private ||
        !key.pub_info)
        return false;
    if (!atecc_slot_decode(cfg, ATECC_TNG_SIGNER_KEY_SLOT, &signer) || !signer.p256_public ||
        !clear_data_slot(cfg, ATECC_TNG_SIGNER_KEY_SLOT))
        return false;
    return clear_data_slot(cfg, ATECC_TNG_EUI48_SLOT) &&
           clear_data_slot(cfg, ATECC_TNG_DEVICE_SLOT) &&
           clear_data_slot(cfg, ATECC_TNG_SIGNER_SLOT);
}

struct tng_read {
    struct atecc_dev *dev;
    bool tng;
    uint8_t otp[32];
    uint8_t eui[32];
    uint8_t device[ATECC_CERT_COMP_SIZE];
    uint8_t signer_key[ATECC_CERT_COMP_SIZE];
    uint8_t signer[ATECC_CERT_COMP_SIZE];
    uint8_t device_key[ATECC_CERT_KEY_SIZE];
};

/* A 72-byte slot: two 32-byte blocks, then the 8-byte tail as two 4-byte
 * words (what the partial block returns on a 32-byte read is undocumented). */
static int read_slot72(const struct atecc_io *io, unsigned slot, uint8_t out[72])
{
    int rc = ATECC_OK;

    for (unsigned b = 0; b < 2 && rc == ATECC_OK; b++)
        rc = atecc_cmd_read(io, ATECC_ZONE_DATA, atecc_addr_data(slot, b, 0), out + 32 * b, 32);
    for (unsigned w = 0; w < 2 && rc == ATECC_OK; w++)
        rc = atecc_cmd_read(io, ATECC_ZONE_DATA, atecc_addr_data(slot, 2, w), out + 64 + 4 * w,
                            4);
    return rc;
}

static int tng_read_seq(const struct atecc_io *io, void *arg)
{
    struct tng_read *r = arg;
    int rc = atecc_dev_refresh(io, r->dev, false);

    r->tng = false;
    if (rc != ATECC_OK || !atecc_cert_tng_layout(atecc_config(r->dev)))
        return rc;
    rc = atecc_cmd_read(io, ATECC_ZONE_OTP, atecc_addr_config_block(0), r->otp, 32);
    if (rc != ATECC_OK || !atecc_cert_tng_otp(r->otp))
        return rc;
    rc = atecc_cmd_read(io, ATECC_ZONE_DATA, atecc_addr_data(ATECC_TNG_EUI48_SLOT, 0, 0), r->eui,
                        32);
    if (rc == ATECC_OK)
        rc = read_slot72(io, ATECC_TNG_DEVICE_SLOT, r->device);
    if (rc == ATECC_OK)
        rc = read_slot72(io, ATECC_TNG_SIGNER_KEY_SLOT, r->signer_key);
    if (rc == ATECC_OK)
        rc = read_slot72(io, ATECC_TNG_SIGNER_SLOT, r->signer);
    if (rc == ATECC_OK)
        rc = atecc_cmd_genkey(io, ATECC_GENKEY_PUBLIC, ATECC_TNG_KEY_SLOT, r->device_key);
    r->tng = rc == ATECC_OK;
    return rc;
}

/* Rebuilds one certificate and keeps it when its issuer's signature holds. */
static bool rebuild_checked(const struct atecc_cert_def *def, struct atecc_cert_fields *f,
                            const uint8_t sig[64], uint8_t *der, size_t *len)
{
    uint8_t tbs[ATECC_CERT_MAX];
    size_t tbs_len = 0;

    if (atecc_cert_tbs(def, f, tbs, sizeof tbs, &tbs_len) != ATECC_CERT_OK ||
        atecc_cert_verify(tbs, tbs_len, sig, f->issuer_key) != 1)
        return false;
    return atecc_cert_build(def, f, sig, der, ATECC_CERT_MAX, len) == ATECC_CERT_OK;
}

static bool eui48_text(const uint8_t *p)
{
    for (unsigned i = 0; i < ATECC_CERT_EUI48_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'F') ||
              (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

static void rebuild_signer(const struct tng_read *r, struct atecc_tng_certs *out)
{
    const struct atecc_cert_def *def = &atecc_cert_tng_signer;
    struct atecc_cert_fields f;
    uint8_t sig[64];
    const uint8_t *root;
    const char *name = NULL;

    memset(&f, 0, sizeof f);
    if (atecc_cert_decompress(def, r->signer, &f, sig) != ATECC_CERT_OK)
        return;
    memcpy(f.subject_key, r->signer_key + 4, 32);
    memcpy(f.subject_key + 32, r->signer_key + 40, 32);
    for (unsigned i = 0; (root = atecc_cert_root_key(i, &name)) != NULL; i++) {
        memcpy(f.issuer_key, root, ATECC_CERT_KEY_SIZE);
        if (rebuild_checked(def, &f, sig, out->cert[out->count].der,
                            &out->cert[out->count].len)) {
            log_debug("atecc608", "signer certificate %04X chains to the %s", f.signer_id,
                      name);
            out->cert[out->count++].slot = ATECC_TNG_SIGNER_SLOT;
            return;
        }
    }
    log_error("atecc608", "slot %u: the rebuilt signer certificate %04X is signed by no root "
              "known here", ATECC_TNG_SIGNER_SLOT, f.signer_id);
}

static void rebuild_device(const struct tng_read *r, struct atecc_tng_certs *out)
{
    const struct atecc_cert_def *def = &atecc_cert_tng_device;
    struct atecc_cert_fields f;
    uint8_t sig[64];

    memset(&f, 0, sizeof f);
    if (!eui48_text(r->eui)) {
        log_error("atecc608", "slot %u: no EUI-48 text for the device certificate",
                  ATECC_TNG_EUI48_SLOT);
        return;
    }
    if (atecc_cert_decompress(def, r->device, &f, sig) != ATECC_CERT_OK)
        return;
    memcpy(f.subject_key, r->device_key, ATECC_CERT_KEY_SIZE);
    memcpy(f.issuer_key, r->signer_key + 4, 32);
    memcpy(f.issuer_key + 32, r->signer_key + 40, 32);
    atecc_serial(r->dev, f.sn);
    memcpy(f.eui48, r->eui, ATECC_CERT_EUI48_LEN);
    if (rebuild_checked(def, &f, sig, out->cert[out->count].der, &out->cert[out->count].len)) {
        out->cert[out->count++].slot = ATECC_TNG_DEVICE_SLOT;
        return;
    }
    log_error("atecc608", "slot %u: the rebuilt device certificate does not verify with the "
              "signer key of slot %u: this part's certificate template is not the one known "
              "here", ATECC_TNG_DEVICE_SLOT, ATECC_TNG_SIGNER_KEY_SLOT);
}

int atecc_cert_read_tng(struct atecc_dev *dev, struct atecc_tng_certs *out)
{
    struct tng_read r;
    int rc;

    memset(&r, 0, sizeof r);
    r.dev = dev;
    out->count = 0;
    rc = atecc_dev_report(atecc_run(&dev->io, tng_read_seq, &r), "read factory certificates",
                          -1);
    if (rc != ATECC_OK || !r.tng)
        return rc;
    rebuild_device(&r, out);
    rebuild_signer(&r, out);
    return ATECC_OK;
}
