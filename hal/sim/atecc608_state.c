/* The ATECC608 emulator's state: memory geometry, config decoding, the
 * profiles a new chip is created in, and the versioned serialisation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hal/sim/atecc608_emu.h"
#include "hal/sim/sim.h"

#define A608_STATE_TAG "A608"
#define A608_STATE_VERSION 1u

size_t a608_slot_size(unsigned slot)
{
    return slot < 8 ? 36 : slot == 8 ? 416 : 72;
}

size_t a608_slot_offset(unsigned slot)
{
    return slot < 8 ? slot * 36u : slot == 8 ? 288u : 704u + (slot - 9u) * 72u;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

uint16_t a608_slot_config(const struct a608 *c, unsigned slot)
{
    return le16(c->config + A608_CFG_SLOTCONFIG + 2 * slot);
}

uint16_t a608_key_config(const struct a608 *c, unsigned slot)
{
    return le16(c->config + A608_CFG_KEYCONFIG + 2 * slot);
}

bool a608_config_locked(const struct a608 *c)
{
    return c->config[A608_CFG_LOCK_CONFIG] != 0x55;
}

bool a608_data_locked(const struct a608 *c)
{
    return c->config[A608_CFG_LOCK_VALUE] != 0x55;
}

bool a608_slot_locked(const struct a608 *c, unsigned slot)
{
    return (le16(c->config + A608_CFG_SLOT_LOCKED) & (1u << slot)) == 0;
}

uint8_t a608_address(const struct a608 *c)
{
    if ((c->config[A608_CFG_CHIPMODE] & 0x01) && c->config[A608_CFG_USER_EXTRA_ADD] != 0)
        return c->config[A608_CFG_USER_EXTRA_ADD];
    return c->config[A608_CFG_I2C_ADDR];
}

void a608_volatile_reset(struct a608 *c)
{
    OPENSSL_cleanse(&c->tk, sizeof c->tk);
    OPENSSL_cleanse(c->mdb, sizeof c->mdb);
    OPENSSL_cleanse(c->altkey, sizeof c->altkey);
    OPENSSL_cleanse(&c->sha, sizeof c->sha);
    c->mdb_valid = false;
    c->altkey_valid = false;
    c->latch = 0;
    c->in_len = 0;
    c->out_len = 0;
    c->out_pos = 0;
    c->busy = 0;
}

/* Counter words, big-endian: linA, linB, binA, binB (spec 5.4). */
uint32_t a608_counter_get(const struct a608 *c, unsigned id)
{
    const uint8_t *p = c->config + A608_CFG_COUNTER0 + 8 * id;
    uint16_t w[4];

    for (int i = 0; i < 4; i++)
        w[i] = (uint16_t)(p[2 * i] << 8 | p[2 * i + 1]);
    if (w[0] != 0)
        return (uint32_t)w[2] * 32 + 16 - (uint32_t)__builtin_popcount(w[0]);
    return (uint32_t)w[3] * 32 + 32 - (uint32_t)__builtin_popcount(w[1]);
}

void a608_counter_put(struct a608 *c, unsigned id, uint32_t v)
{
    uint8_t *p = c->config + A608_CFG_COUNTER0 + 8 * id;
    uint16_t w[4];

    w[0] = (uint16_t)(v % 32 >= 16 ? 0 : 0xFFFFu >> (v % 32));
    w[1] = (uint16_t)(v < 16 ? 0xFFFF : ((v - 16) % 32 >= 16 ? 0 : 0xFFFFu >> ((v - 16) % 32)));
    w[2] = (uint16_t)(v / 32);
    w[3] = (uint16_t)(v < 16 ? 0 : (v - 16) / 32);
    for (int i = 0; i < 4; i++) {
        p[2 * i] = (uint8_t)(w[i] >> 8);
        p[2 * i + 1] = (uint8_t)w[i];
    }
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* An unprovisioned part. SlotConfig/KeyConfig follow the factory defaults
 * documented for the 508A/608 family; they matter little, as provisioning
 * rewrites them before the config lock. */
static void profile_blank(struct a608 *c)
{
    static const uint16_t slot_config[16] = {0x2083, 0x2087, 0x208F, 0x8FC4, 0x8F8F, 0x8F8F,
                                             0x8F9F, 0x8FAF, 0x0000, 0x0000, 0x0000, 0x0000,
                                             0x0000, 0x0000, 0x0000, 0x8FAF};
    static const uint16_t key_config[16] = {0x0033, 0x0033, 0x0033, 0x001C, 0x001C, 0x001C,
                                            0x001C, 0x001C, 0x003C, 0x003C, 0x003C, 0x003C,
                                            0x003C, 0x003C, 0x003C, 0x001C};

    c->config[13] = 0x01; /* AES enabled */
    c->config[14] = 0x01; /* I2C */
    c->config[A608_CFG_I2C_ADDR] = 0xC0;
    for (unsigned i = 0; i < 16; i++) {
        put16(c->config + A608_CFG_SLOTCONFIG + 2 * i, slot_config[i]);
        put16(c->config + A608_CFG_KEYCONFIG + 2 * i, key_config[i]);
    }
    c->config[A608_CFG_LOCK_VALUE] = 0x55;
    c->config[A608_CFG_LOCK_CONFIG] = 0x55;
    put16(c->config + A608_CFG_SLOT_LOCKED, 0xFFFF);
}

/* A typical TLS part, laid out like a TrustFLEX (spec 8.1) with slots 0-4 as
 * updatable external-sign/ECDH keys, address 0xC0, zones locked. */
static int profile_tls(struct a608 *c)
{
    static const uint16_t slot_config[16] = {0x2085, 0x2085, 0x2085, 0x2085, 0x2085, 0x468F,
                                             0x0F8F, 0x8F9F, 0x0F0F, 0x0F8F, 0x8F0F, 0x8F0F,
                                             0x8F0F, 0x0F0F, 0x1F0D, 0x8F0F};
    static const uint16_t key_config[16] = {0x0033, 0x0033, 0x0033, 0x0033, 0x0033, 0x0038,
                                            0x007C, 0x001C, 0x003C, 0x001A, 0x001C, 0x0010,
                                            0x001C, 0x0030, 0x0012, 0x0030};

    c->config[13] = 0x61;
    c->config[14] = 0x59;
    c->config[A608_CFG_I2C_ADDR] = 0xC0;
    c->config[A608_CFG_CHIPMODE] = 0x01;
    for (unsigned i = 0; i < 16; i++) {
        put16(c->config + A608_CFG_SLOTCONFIG + 2 * i, slot_config[i]);
        put16(c->config + A608_CFG_KEYCONFIG + 2 * i, key_config[i]);
    }
    c->config[73] = 0x69; /* KdfIvStr "iv" as on the TrustFLEX */
    c->config[74] = 0x76;
    put16(c->config + A608_CFG_SLOT_LOCKED, 0xFFFF);
    put16(c->config + A608_CFG_CHIPOPTIONS, 0x600E);
    c->config[A608_CFG_LOCK_VALUE] = 0x00;
    c->config[A608_CFG_LOCK_CONFIG] = 0x00;
    for (unsigned slot = 0; slot < 5; slot++) {
        if (a608_ec_generate(c->priv[slot], c->pub[slot]) != 0)
            return -1;
        c->priv_valid |= (uint16_t)(1u << slot);
    }
    return 0;
}

void *a608_create(const char *profile, char *err, size_t errlen)
{
    struct a608 *c;
    uint8_t sn[6];

    if (profile == NULL || (strcmp(profile, "blank") != 0 && strcmp(profile, "tls") != 0 &&
                            strcmp(profile, "trustngo") != 0)) {
        snprintf(err, errlen, "unknown atecc608 profile '%s' (blank, tls, trustngo)",
                 profile != NULL ? profile : "(null)");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (RAND_bytes(sn, sizeof sn) != 1) {
        snprintf(err, errlen, "no randomness for the serial number");
        free(c);
        return NULL;
    }
    c->config[0] = 0x01;
    c->config[1] = 0x23;
    c->config[2] = sn[0];
    c->config[3] = sn[1];
    c->config[4] = 0x00; /* RevNum */
    c->config[5] = 0x00;
    c->config[6] = 0x60;
    c->config[7] = 0x03;
    memcpy(c->config + 8, sn + 2, 4);
    c->config[12] = 0x01;
    a608_counter_put(c, 0, 0);
    a608_counter_put(c, 1, 0);
    if (strcmp(profile, "blank") == 0) {
        profile_blank(c);
    } else if (strcmp(profile, "trustngo") == 0) {
        if (a608_profile_trustngo(c, err, errlen) != 0) {
            OPENSSL_clear_free(c, sizeof *c);
            return NULL;
        }
    } else if (profile_tls(c) != 0) {
        snprintf(err, errlen, "key generation failed");
        OPENSSL_clear_free(c, sizeof *c);
        return NULL;
    }
    c->active_addr = a608_address(c);
    c->power = A608_ASLEEP;
    return c;
}

void a608_destroy(void *chip)
{
    if (chip != NULL) {
        a608_key_cache_free(chip);
        OPENSSL_clear_free(chip, sizeof(struct a608));
    }
}

struct wbuf {
    uint8_t *p;
    size_t len;
};

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void w_u8(struct wbuf *w, unsigned v)
{
    w->p[w->len++] = (uint8_t)v;
}

static void w_le(struct wbuf *w, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

static unsigned tk_flags(const struct a608_tempkey *tk)
{
    return (unsigned)tk->valid | (unsigned)tk->source_fixed << 1 | (unsigned)tk->gendig << 2 |
           (unsigned)tk->genkey << 3 | (unsigned)tk->nomac << 4 |
           (unsigned)tk->holds_private << 5;
}

#define A608_STATE_MAX (4 + 2 + A608_CONFIG_SIZE + A608_OTP_SIZE + A608_DATA_SIZE + 16 * 96 + 64 + \
                        A608_OUT_MAX + A608_CMD_MAX + 512)

int a608_save(const void *chip, uint8_t **buf, size_t *len)
{
    const struct a608 *c = chip;
    struct wbuf w = {malloc(A608_STATE_MAX), 0};

    if (w.p == NULL)
        return -1;
    w_bytes(&w, A608_STATE_TAG, 4);
    w_le(&w, A608_STATE_VERSION, 2);
    w_bytes(&w, c->config, sizeof c->config);
    w_bytes(&w, c->otp, sizeof c->otp);
    w_bytes(&w, c->data, sizeof c->data);
    w_bytes(&w, c->priv, sizeof c->priv);
    w_bytes(&w, c->pub, sizeof c->pub);
    w_le(&w, c->priv_valid, 2);
    w_u8(&w, c->active_addr);
    w_u8(&w, c->power);
    w_le(&w, c->wake_ns, 8);
    w_bytes(&w, c->tk.value, sizeof c->tk.value);
    w_u8(&w, c->tk.key_id);
    w_u8(&w, tk_flags(&c->tk));
    w_bytes(&w, c->mdb, sizeof c->mdb);
    w_u8(&w, c->mdb_valid);
    w_bytes(&w, c->altkey, sizeof c->altkey);
    w_u8(&w, c->altkey_valid);
    for (int i = 0; i < 8; i++)
        w_le(&w, c->sha.h[i], 4);
    w_le(&w, c->sha.blocks, 8);
    w_u8(&w, c->sha.active);
    w_u8(&w, c->latch);
    w_u8(&w, c->out_len);
    w_u8(&w, c->out_pos);
    w_bytes(&w, c->out, c->out_len);
    w_u8(&w, c->in_len);
    w_bytes(&w, c->in, c->in_len);
    w_le(&w, c->busy, 4);
    *buf = w.p;
    *len = w.len;
    return 0;
}

struct rbuf {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
};

static const uint8_t *r_take(struct rbuf *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return NULL;
    }
    r->pos += n;
    return r->p + r->pos - n;
}

static void r_bytes(struct rbuf *r, void *dst, size_t n)
{
    const uint8_t *s = r_take(r, n);

    if (s != NULL)
        memcpy(dst, s, n);
}

static uint64_t r_le(struct rbuf *r, unsigned n)
{
    const uint8_t *s = r_take(r, n);
    uint64_t v = 0;

    for (unsigned i = n; s != NULL && i-- > 0;)
        v = v << 8 | s[i];
    return v;
}

static bool r_bool(struct rbuf *r, bool *out)
{
    uint64_t v = r_le(r, 1);

    if (v > 1)
        r->bad = true;
    *out = v == 1;
    return !r->bad;
}

void *a608_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    struct rbuf r = {buf, len, 0, false};
    struct a608 *c = calloc(1, sizeof *c);
    const char *why = "truncated";

    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const uint8_t *tag = r_take(&r, 4);
    if (tag == NULL || memcmp(tag, A608_STATE_TAG, 4) != 0) {
        why = "not an atecc608 state";
        goto bad;
    }
    if (r_le(&r, 2) != A608_STATE_VERSION) {
        why = "unknown atecc608 state version";
        goto bad;
    }
    r_bytes(&r, c->config, sizeof c->config);
    r_bytes(&r, c->otp, sizeof c->otp);
    r_bytes(&r, c->data, sizeof c->data);
    r_bytes(&r, c->priv, sizeof c->priv);
    r_bytes(&r, c->pub, sizeof c->pub);
    c->priv_valid = (uint16_t)r_le(&r, 2);
    c->active_addr = (uint8_t)r_le(&r, 1);
    c->power = (uint8_t)r_le(&r, 1);
    c->wake_ns = r_le(&r, 8);
    r_bytes(&r, c->tk.value, sizeof c->tk.value);
    c->tk.key_id = (uint8_t)r_le(&r, 1);
    unsigned f = (unsigned)r_le(&r, 1);
    c->tk.valid = f & 1;
    c->tk.source_fixed = f & 2;
    c->tk.gendig = f & 4;
    c->tk.genkey = f & 8;
    c->tk.nomac = f & 16;
    c->tk.holds_private = f & 32;
    r_bytes(&r, c->mdb, sizeof c->mdb);
    r_bool(&r, &c->mdb_valid);
    r_bytes(&r, c->altkey, sizeof c->altkey);
    r_bool(&r, &c->altkey_valid);
    for (int i = 0; i < 8; i++)
        c->sha.h[i] = (uint32_t)r_le(&r, 4);
    c->sha.blocks = r_le(&r, 8);
    r_bool(&r, &c->sha.active);
    c->latch = (uint8_t)r_le(&r, 1);
    c->out_len = (uint8_t)r_le(&r, 1);
    c->out_pos = (uint8_t)r_le(&r, 1);
    if (r.bad)
        goto bad;
    if (c->power > A608_AWAKE || c->tk.key_id > 15 || f > 63 || c->latch > 1 ||
        c->out_len > A608_OUT_MAX || c->out_pos > c->out_len) {
        why = "field out of range";
        goto bad;
    }
    r_bytes(&r, c->out, c->out_len);
    c->in_len = (uint8_t)r_le(&r, 1);
    if (!r.bad && c->in_len > A608_CMD_MAX) {
        why = "partial command too long";
        goto bad;
    }
    r_bytes(&r, c->in, c->in_len);
    c->busy = (uint32_t)r_le(&r, 4);
    if (r.bad)
        goto bad;
    if (r.pos != r.len) {
        why = "trailing bytes";
        goto bad;
    }
    return c;
bad:
    snprintf(err, errlen, "atecc608 state: %s", why);
    OPENSSL_clear_free(c, sizeof *c);
    return NULL;
}
