/* The ATECC608B command set as the emulator executes it: packet checks,
 * the policy engine (lock states, SlotConfig/KeyConfig) and each command.
 *
 * Status codes: 0xFF bad CRC (checked first), 0xEE not enough watchdog time
 * left, 0x03 malformed packet (length, mode bits, opcode, address), 0x0F the
 * chip's state or a slot's policy forbids it, 0x01 Verify miscompare.
 *
 * Not emulated (answer 0x0F, logged at info level): MAC, CheckMac, DeriveKey,
 * AES, KDF, SecureBoot, internal Sign, Verify validate/invalidate and MAC
 * output, GenKey 0x10/0x20, SHA public/HMAC/context modes, UpdateExtra mode 2,
 * GenDig shared-nonce/counter/key-config zones and NoMac OtherData, setting
 * the volatile-key latch (it needs a CheckMac authorisation). */
#include <string.h>

#include <openssl/crypto.h>

#include "hal/atecc608/atecc_crc.h"
#include "hal/log.h"
#include "hal/sim/atecc608_emu.h"

enum {
    OP_READ = 0x02,
    OP_MAC = 0x08,
    OP_WRITE = 0x12,
    OP_GENDIG = 0x15,
    OP_NONCE = 0x16,
    OP_LOCK = 0x17,
    OP_RANDOM = 0x1B,
    OP_DERIVEKEY = 0x1C,
    OP_UPDATEEXTRA = 0x20,
    OP_COUNTER = 0x24,
    OP_CHECKMAC = 0x28,
    OP_INFO = 0x30,
    OP_GENKEY = 0x40,
    OP_SIGN = 0x41,
    OP_ECDH = 0x43,
    OP_VERIFY = 0x45,
    OP_PRIVWRITE = 0x46,
    OP_SHA = 0x47,
    OP_AES = 0x51,
    OP_KDF = 0x56,
    OP_SELFTEST = 0x77,
    OP_SECUREBOOT = 0x80,
};

struct cmd {
    uint8_t op;
    uint8_t p1;
    uint16_t p2;
    const uint8_t *data;
    size_t dlen;
};

/* Worst-case execution times in ms per clock divider M0/M1/M2 (spec 4.2).
 * They decide 0xEE today; a datasheet-timed busy window would use them too. */
struct exec_time {
    uint8_t op;
    uint16_t ms[3];
};

static const struct exec_time exec_times[] = {
    {OP_AES, {27, 27, 27}},         {OP_MAC, {55, 55, 55}},
    {OP_CHECKMAC, {40, 40, 40}},    {OP_NONCE, {20, 20, 20}},
    {OP_COUNTER, {25, 25, 25}},     {OP_PRIVWRITE, {50, 50, 50}},
    {OP_DERIVEKEY, {50, 50, 50}},   {OP_RANDOM, {23, 23, 23}},
    {OP_ECDH, {75, 172, 531}},      {OP_READ, {5, 5, 5}},
    {OP_GENDIG, {25, 35, 35}},      {OP_SECUREBOOT, {80, 160, 480}},
    {OP_GENKEY, {115, 215, 653}},   {OP_SELFTEST, {250, 625, 2324}},
    {OP_INFO, {5, 5, 5}},           {OP_SHA, {36, 42, 75}},
    {OP_KDF, {165, 165, 165}},      {OP_SIGN, {115, 220, 665}},
    {OP_LOCK, {35, 35, 35}},        {OP_UPDATEEXTRA, {10, 10, 10}},
    {OP_VERIFY, {105, 295, 1085}},  {OP_WRITE, {45, 45, 45}},
};

static uint32_t exec_ms_div(uint8_t op, unsigned div)
{
    for (size_t i = 0; i < sizeof exec_times / sizeof exec_times[0]; i++)
        if (exec_times[i].op == op)
            return exec_times[i].ms[div];
    return 0;
}

uint32_t a608_exec_ms(uint8_t op)
{
    return exec_ms_div(op, 0);
}

static unsigned clock_divider(const struct a608 *c)
{
    switch (c->config[A608_CFG_CHIPMODE] & 0xF8) {
    case 0x28: return 1;
    case 0x68: return 2;
    default: return 0;
    }
}

/* ---- responses ---- */

static int respond(struct a608 *c, const uint8_t *payload, size_t n)
{
    c->out[0] = (uint8_t)(n + 3);
    memcpy(c->out + 1, payload, n);
    atecc_crc16_put(c->out, n + 1, c->out + n + 1);
    c->out_len = (uint8_t)(n + 3);
    c->out_pos = 0;
    return 0;
}

static int status(struct a608 *c, uint8_t st)
{
    return respond(c, &st, 1);
}

static int not_emulated(struct a608 *c, const struct cmd *k, const char *what)
{
    log_info("atecc608-emu", "%s (opcode 0x%02x mode 0x%02x) not emulated", what, k->op, k->p1);
    return status(c, A608_ST_EXEC);
}

/* ---- config decoding ---- */

static bool kc_private(const struct a608 *c, unsigned slot)
{
    return a608_key_config(c, slot) & 0x0001;
}

static unsigned kc_key_type(const struct a608 *c, unsigned slot)
{
    return (a608_key_config(c, slot) >> 2) & 7;
}

static bool is_ecc_private(const struct a608 *c, unsigned slot)
{
    return kc_private(c, slot) && kc_key_type(c, slot) == 4;
}

static bool has_key(const struct a608 *c, unsigned slot)
{
    return (c->priv_valid >> slot) & 1;
}

static bool sc_is_secret(const struct a608 *c, unsigned slot)
{
    return a608_slot_config(c, slot) & 0x0080;
}

static unsigned sc_write_key(const struct a608 *c, unsigned slot)
{
    return (a608_slot_config(c, slot) >> 8) & 0xF;
}

/* ReqAuth needs a CheckMac authorisation the emulator never grants;
 * PersistentDisable needs the latch. */
static bool key_usable(const struct a608 *c, unsigned slot)
{
    uint16_t kc = a608_key_config(c, slot);

    if (kc & 0x0080)
        return false;
    if ((kc & 0x1000) && !c->latch)
        return false;
    return true;
}

static uint8_t *slot_ptr(struct a608 *c, unsigned slot)
{
    return c->data + a608_slot_offset(slot);
}

static void tk_set(struct a608 *c, const uint8_t *v, size_t n, bool fixed)
{
    memset(&c->tk, 0, sizeof c->tk);
    memcpy(c->tk.value, v, n);
    c->tk.valid = true;
    c->tk.source_fixed = fixed;
}

static void tk_invalidate(struct a608 *c)
{
    OPENSSL_cleanse(&c->tk, sizeof c->tk);
}

/* SN[8], SN[0], SN[1]: the serial-number bytes the digest formulas include. */
static void put_sn_short(const struct a608 *c, uint8_t *p)
{
    p[0] = c->config[12];
    p[1] = c->config[0];
    p[2] = c->config[1];
}

/* ---- addressing (spec 5.5) ---- */

struct zaddr {
    unsigned slot;
    size_t off; /* byte offset within the zone (config/OTP) or the slot (data) */
    size_t n;   /* bytes of the access that exist (a last partial block is short) */
};

static bool decode_addr(unsigned zone, uint16_t p2, bool is32, struct zaddr *a)
{
    unsigned word = p2 & 7;

    if (is32 && word != 0)
        return false;
    a->slot = 0;
    switch (zone) {
    case 0:
        if (p2 & ~0x001Fu)
            return false;
        a->off = ((p2 >> 3) & 3u) * 32 + word * 4;
        a->n = is32 ? 32 : 4;
        return true;
    case 1:
        if (p2 & ~0x000Fu)
            return false;
        a->off = ((p2 >> 3) & 1u) * 32 + word * 4;
        a->n = is32 ? 32 : 4;
        return true;
    case 2: {
        if (p2 & ~0x0F7Fu)
            return false;
        a->slot = (p2 >> 3) & 0xF;
        a->off = ((p2 >> 8) & 0xFu) * 32 + word * 4;
        size_t size = a608_slot_size(a->slot);
        if (a->off >= size || (!is32 && a->off + 4 > size))
            return false;
        a->n = is32 ? (size - a->off < 32 ? size - a->off : 32) : 4;
        return true;
    }
    default:
        return false;
    }
}

/* ---- commands ---- */

static int cmd_info(struct a608 *c, const struct cmd *k)
{
    uint8_t r[4] = {0};

    if (k->dlen != 0)
        return status(c, A608_ST_PARSE);
    switch (k->p1) {
    case 0x00:
        if (k->p2 != 0)
            return status(c, A608_ST_PARSE);
        r[2] = 0x60;
        r[3] = 0x03;
        break;
    case 0x01:
        if (k->p2 > 15)
            return status(c, A608_ST_PARSE);
        if (kc_key_type(c, k->p2) == 4) {
            if (kc_private(c, k->p2))
                r[0] = has_key(c, k->p2);
            else if (a608_key_config(c, k->p2) & 0x0002) /* validated public key */
                r[0] = a608_slot_size(k->p2) == 72 && (slot_ptr(c, k->p2)[0] >> 4) == 0x5;
            else
                r[0] = 1;
        }
        break;
    case 0x02:
        if (k->p2 != 0)
            return status(c, A608_ST_PARSE);
        r[0] = (uint8_t)((c->tk.nomac ? 0x80 : 0) | (c->tk.genkey ? 0x40 : 0) |
                         (c->tk.gendig ? 0x20 : 0) | (c->tk.source_fixed ? 0x10 : 0) |
                         (c->tk.key_id & 0x0F));
        r[1] = c->tk.valid ? 0x80 : 0;
        break;
    case 0x03: /* GPIO: SWI packages only */
        return status(c, A608_ST_EXEC);
    case 0x04:
        if (k->p2 == 0x0002) {
            c->latch = 0;
        } else if (k->p2 == 0x0003) {
            return not_emulated(c, k, "setting the volatile-key latch");
        } else if (k->p2 != 0) {
            return status(c, A608_ST_PARSE);
        }
        r[0] = c->latch;
        break;
    default:
        return status(c, A608_ST_PARSE);
    }
    return respond(c, r, sizeof r);
}

static int cmd_read(struct a608 *c, const struct cmd *k)
{
    unsigned zone = k->p1 & 3;
    bool is32 = k->p1 & 0x80;
    struct zaddr a;
    uint8_t r[32] = {0};

    if (k->dlen != 0 || (k->p1 & ~0x83u) || zone == 3 || !decode_addr(zone, k->p2, is32, &a))
        return status(c, A608_ST_PARSE);
    if (zone == 0) {
        memcpy(r, c->config + a.off, a.n);
    } else if (zone == 1) {
        if (!a608_data_locked(c))
            return status(c, A608_ST_EXEC);
        memcpy(r, c->otp + a.off, a.n);
    } else {
        unsigned slot = a.slot;
        if (!a608_data_locked(c) || kc_private(c, slot))
            return status(c, A608_ST_EXEC);
        memcpy(r, slot_ptr(c, slot) + a.off, a.n);
        if (sc_is_secret(c, slot)) {
            unsigned read_key = a608_slot_config(c, slot) & 0xF;
            /* Secret: only the encrypted 32-byte read, keyed by a GenDig of ReadKey. */
            if (!(a608_slot_config(c, slot) & 0x0040) || !is32 || !c->tk.valid ||
                !c->tk.gendig || c->tk.key_id != read_key) {
                OPENSSL_cleanse(r, sizeof r);
                return status(c, A608_ST_EXEC);
            }
            for (int i = 0; i < 32; i++)
                r[i] ^= c->tk.value[i];
        }
    }
    respond(c, r, is32 ? 32 : 4);
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

static bool mac_ok(const struct a608 *c, uint8_t op, const struct cmd *k, const uint8_t *plain,
                   size_t plen, size_t zeros, const uint8_t *mac)
{
    uint8_t msg[96] = {0}, d[32];
    bool ok;

    memcpy(msg, c->tk.value, 32);
    msg[32] = op;
    msg[33] = k->p1;
    msg[34] = (uint8_t)k->p2;
    msg[35] = (uint8_t)(k->p2 >> 8);
    put_sn_short(c, msg + 36);
    memcpy(msg + 39 + zeros, plain, plen);
    ok = a608_sha256(msg, 39 + zeros + plen, d) == 0 && CRYPTO_memcmp(d, mac, 32) == 0;
    OPENSSL_cleanse(msg, sizeof msg);
    return ok;
}

static int cmd_write(struct a608 *c, const struct cmd *k)
{
    unsigned zone = k->p1 & 3;
    bool is32 = k->p1 & 0x80, enc = k->p1 & 0x40;
    struct zaddr a;
    uint8_t plain[32];

    if ((k->p1 & ~0xC3u) || zone == 3 || (enc && !is32) ||
        k->dlen != (enc ? 64u : is32 ? 32u : 4u) || !decode_addr(zone, k->p2, is32, &a))
        return status(c, A608_ST_PARSE);
    if (zone == 0) {
        if (enc || a608_config_locked(c))
            return status(c, A608_ST_EXEC);
        for (size_t i = a.off; i < a.off + a.n; i++)
            if (i < 16 || (i >= 84 && i < 88))
                return status(c, A608_ST_EXEC);
        memcpy(c->config + a.off, k->data, a.n);
        return status(c, A608_ST_OK);
    }
    if (!a608_config_locked(c))
        return status(c, A608_ST_EXEC);
    if (zone == 1) {
        if (enc || a608_data_locked(c))
            return status(c, A608_ST_EXEC);
        memcpy(c->otp + a.off, k->data, a.n);
        return status(c, A608_ST_OK);
    }

    unsigned slot = a.slot;
    uint16_t sc = a608_slot_config(c, slot), kc = a608_key_config(c, slot);
    if (kc_private(c, slot) || (sc_is_secret(c, slot) && !is32))
        return status(c, A608_ST_EXEC);
    if (!a608_data_locked(c)) {
        if (enc)
            return status(c, A608_ST_EXEC);
    } else {
        unsigned wc = sc >> 12;
        if (a608_slot_locked(c, slot))
            return status(c, A608_ST_EXEC);
        if (wc & 4) {
            if (!enc || !c->tk.valid || !c->tk.gendig || c->tk.key_id != sc_write_key(c, slot))
                return status(c, A608_ST_EXEC);
        } else if (wc == 0) {
            if (enc)
                return status(c, A608_ST_EXEC);
        } else if (wc == 1) {
            /* PubInvalid: only over a public key that is not validated. */
            if (enc || (a608_slot_size(slot) == 72 && (slot_ptr(c, slot)[0] >> 4) == 0x5))
                return status(c, A608_ST_EXEC);
        } else {
            return status(c, A608_ST_EXEC);
        }
    }
    memcpy(plain, k->data, is32 ? 32 : 4);
    if (enc) {
        for (int i = 0; i < 32; i++)
            plain[i] ^= c->tk.value[i];
        if (!mac_ok(c, OP_WRITE, k, plain, 32, 25, k->data + 32)) {
            OPENSSL_cleanse(plain, sizeof plain);
            return status(c, A608_ST_EXEC);
        }
    }
    memcpy(slot_ptr(c, slot) + a.off, plain, a.n);
    OPENSSL_cleanse(plain, sizeof plain);
    /* A written public key that must be validated starts out invalid. */
    if (kc_key_type(c, slot) == 4 && (kc & 0x0002))
        slot_ptr(c, slot)[0] = (uint8_t)((slot_ptr(c, slot)[0] & 0x0F) | 0xA0);
    return status(c, A608_ST_OK);
}

/* CRC of the data zone for Lock(data): every slot but private-key slots, then
 * the OTP zone. */
static uint16_t data_zone_crc(const struct a608 *c)
{
    uint8_t buf[A608_DATA_SIZE + A608_OTP_SIZE];
    size_t n = 0;

    for (unsigned s = 0; s < A608_SLOTS; s++) {
        if (kc_private(c, s))
            continue;
        memcpy(buf + n, c->data + a608_slot_offset(s), a608_slot_size(s));
        n += a608_slot_size(s);
    }
    memcpy(buf + n, c->otp, sizeof c->otp);
    n += sizeof c->otp;
    return atecc_crc16(buf, n);
}

static int cmd_lock(struct a608 *c, const struct cmd *k)
{
    unsigned mode = k->p1 & 3;
    bool nocrc = k->p1 & 0x80;

    if (k->dlen != 0 || (k->p1 & 0x40) || mode == 3 || (mode != 2 && (k->p1 & 0x3C)))
        return status(c, A608_ST_PARSE);
    if (mode == 0) {
        if (a608_config_locked(c) ||
            (!nocrc && atecc_crc16(c->config, A608_CONFIG_SIZE) != k->p2))
            return status(c, A608_ST_EXEC);
        c->config[A608_CFG_LOCK_CONFIG] = 0x00;
    } else if (mode == 1) {
        if (!a608_config_locked(c) || a608_data_locked(c) ||
            (!nocrc && data_zone_crc(c) != k->p2))
            return status(c, A608_ST_EXEC);
        c->config[A608_CFG_LOCK_VALUE] = 0x00;
    } else {
        unsigned slot = (k->p1 >> 2) & 0xF;
        if (!a608_config_locked(c) || !a608_data_locked(c) ||
            !(a608_key_config(c, slot) & 0x0020) || a608_slot_locked(c, slot))
            return status(c, A608_ST_EXEC);
        uint16_t locked = (uint16_t)(c->config[A608_CFG_SLOT_LOCKED] |
                                     c->config[A608_CFG_SLOT_LOCKED + 1] << 8);
        locked &= (uint16_t)~(1u << slot);
        c->config[A608_CFG_SLOT_LOCKED] = (uint8_t)locked;
        c->config[A608_CFG_SLOT_LOCKED + 1] = (uint8_t)(locked >> 8);
    }
    return status(c, A608_ST_OK);
}

static int cmd_random(struct a608 *c, const struct cmd *k)
{
    uint8_t r[32];

    if (k->dlen != 0 || k->p1 != 0 || k->p2 != 0)
        return status(c, A608_ST_PARSE);
    if (a608_random(c, r, sizeof r) != 0)
        return status(c, A608_ST_EXEC);
    return respond(c, r, sizeof r);
}

static int cmd_nonce(struct a608 *c, const struct cmd *k)
{
    unsigned mode = k->p1 & 3;

    if ((k->p1 & 0x1C) || mode == 2)
        return status(c, A608_ST_PARSE);
    if (mode < 2) {
        uint8_t msg[55], rnd[32], tk[32];
        if ((k->p1 & 0xE0) || k->dlen != 20 || (k->p2 & 0x7FFF))
            return status(c, A608_ST_PARSE);
        if (k->p2 & 0x8000) {
            /* The calculation takes TempKey in place of the RNG output. */
            if (!c->tk.valid)
                return status(c, A608_ST_EXEC);
            memcpy(rnd, c->tk.value, 32);
        } else if (a608_random(c, rnd, sizeof rnd) != 0) {
            return status(c, A608_ST_EXEC);
        }
        memcpy(msg, rnd, 32);
        memcpy(msg + 32, k->data, 20);
        msg[52] = OP_NONCE;
        msg[53] = k->p1;
        msg[54] = 0x00;
        if (a608_sha256(msg, sizeof msg, tk) != 0)
            return status(c, A608_ST_EXEC);
        tk_set(c, tk, 32, false);
        respond(c, (k->p2 & 0x8000) ? tk : rnd, 32);
        OPENSSL_cleanse(tk, sizeof tk);
        return 0;
    }
    size_t n = (k->p1 & 0x20) ? 64 : 32;
    unsigned target = k->p1 & 0xC0;
    if (k->p2 != 0 || k->dlen != n || target == 0xC0 || (target == 0x80 && n == 64))
        return status(c, A608_ST_PARSE);
    if (target == 0x00) {
        tk_set(c, k->data, n, true);
    } else if (target == 0x40) {
        memset(c->mdb, 0, sizeof c->mdb);
        memcpy(c->mdb, k->data, n);
        c->mdb_valid = true;
        tk_invalidate(c);
    } else {
        memcpy(c->altkey, k->data, 32);
        c->altkey_valid = true;
        tk_invalidate(c);
    }
    return status(c, A608_ST_OK);
}

/* SHA-256(TempKey || 0x40 || OtherData(3) || SN[8] || SN[0..1] || 25 x 0 || PubKey). */
static int genkey_digest(struct a608 *c, const uint8_t other[3], const uint8_t pub[64],
                         unsigned slot)
{
    uint8_t msg[32 + 1 + 3 + 3 + 25 + 64] = {0}, d[32];

    memcpy(msg, c->tk.value, 32);
    msg[32] = OP_GENKEY;
    memcpy(msg + 33, other, 3);
    put_sn_short(c, msg + 36);
    memcpy(msg + 64, pub, 64);
    if (a608_sha256(msg, sizeof msg, d) != 0)
        return -1;
    bool fixed = c->tk.source_fixed;
    tk_set(c, d, 32, fixed);
    c->tk.genkey = true;
    c->tk.key_id = (uint8_t)slot;
    return 0;
}

static int cmd_genkey(struct a608 *c, const struct cmd *k)
{
    uint8_t pub[64];
    bool create = k->p1 & 0x04, digest = k->p1 & 0x08;

    if (k->p1 == 0x10 || k->p1 == 0x20)
        return not_emulated(c, k, "GenKey digest/MAC mode");
    if (k->p1 & ~0x0Cu)
        return status(c, A608_ST_PARSE);
    if (k->dlen != (digest ? 3u : 0u) || (k->p2 > 15 && k->p2 != 0xFFFF) ||
        (digest && k->p2 == 0xFFFF))
        return status(c, A608_ST_PARSE);
    if (!a608_config_locked(c))
        return status(c, A608_ST_EXEC);
    if (k->p2 == 0xFFFF) {
        uint8_t priv[32];
        if (create) {
            if (a608_ec_generate(priv, pub) != 0)
                return status(c, A608_ST_ECC);
            tk_set(c, priv, 32, false);
            c->tk.holds_private = true;
            OPENSSL_cleanse(priv, sizeof priv);
        } else if (!c->tk.valid || !c->tk.holds_private ||
                   a608_ec_public(c->tk.value, pub) != 0) {
            return status(c, A608_ST_EXEC);
        }
        return respond(c, pub, sizeof pub);
    }
    unsigned slot = k->p2;
    if (!is_ecc_private(c, slot))
        return status(c, A608_ST_EXEC);
    if (create) {
        if (a608_data_locked(c) &&
            (!(a608_slot_config(c, slot) & 0x2000) || a608_slot_locked(c, slot)))
            return status(c, A608_ST_EXEC);
        if (digest && !c->tk.valid)
            return status(c, A608_ST_EXEC);
        if (a608_ec_generate(c->priv[slot], c->pub[slot]) != 0)
            return status(c, A608_ST_ECC);
        c->priv_valid |= (uint16_t)(1u << slot);
    } else {
        if (!has_key(c, slot) ||
            (a608_data_locked(c) && !(a608_key_config(c, slot) & 0x0002)))
            return status(c, A608_ST_EXEC);
        if (digest && !c->tk.valid)
            return status(c, A608_ST_EXEC);
    }
    memcpy(pub, c->pub[slot], 64);
    if (digest && genkey_digest(c, k->data, pub, slot) != 0)
        return status(c, A608_ST_EXEC);
    return respond(c, pub, sizeof pub);
}

static int cmd_sign(struct a608 *c, const struct cmd *k)
{
    uint8_t sig[64];
    const uint8_t *msg;

    if (k->dlen != 0 || (k->p1 & ~0xE1u) || k->p2 > 15)
        return status(c, A608_ST_PARSE);
    if (!(k->p1 & 0x80))
        return not_emulated(c, k, "internal Sign");
    if (k->p1 & 0x01)
        return status(c, A608_ST_PARSE);
    unsigned slot = k->p2;
    if (!a608_config_locked(c) || !is_ecc_private(c, slot) || !has_key(c, slot) ||
        !(a608_slot_config(c, slot) & 0x0001) || !key_usable(c, slot))
        return status(c, A608_ST_EXEC);
    if (k->p1 & 0x20) {
        if (!c->mdb_valid)
            return status(c, A608_ST_EXEC);
        msg = c->mdb;
    } else {
        if (!c->tk.valid || c->tk.holds_private)
            return status(c, A608_ST_EXEC);
        msg = c->tk.value;
    }
    if (a608_slot_sign(c, slot, msg, sig) != 0)
        return status(c, A608_ST_ECC);
    return respond(c, sig, sizeof sig);
}

static int cmd_verify(struct a608 *c, const struct cmd *k)
{
    unsigned mode = k->p1 & 7;
    uint8_t pub[64];
    const uint8_t *msg;

    if (k->p1 & 0x58)
        return status(c, A608_ST_PARSE);
    if (mode == 1 || mode == 3 || mode == 7)
        return not_emulated(c, k, "Verify validate/invalidate");
    if (mode != 0 && mode != 2)
        return status(c, A608_ST_PARSE);
    if (mode == 0 && (k->dlen != 64 || k->p2 > 15))
        return status(c, A608_ST_PARSE);
    if (mode == 2 && (k->dlen != 128 || k->p2 != 0x0004))
        return status(c, A608_ST_PARSE);
    if (k->p1 & 0x80)
        return not_emulated(c, k, "Verify with MAC output");
    if (mode == 0) {
        unsigned slot = k->p2;
        const uint8_t *img = slot_ptr(c, slot);
        if (!a608_config_locked(c) || kc_key_type(c, slot) != 4 || kc_private(c, slot) ||
            a608_slot_size(slot) != 72 || !key_usable(c, slot))
            return status(c, A608_ST_EXEC);
        if ((a608_key_config(c, slot) & 0x0002) && (img[0] >> 4) != 0x5)
            return status(c, A608_ST_EXEC);
        memcpy(pub, img + 4, 32);
        memcpy(pub + 32, img + 40, 32);
    } else {
        memcpy(pub, k->data + 64, 64);
    }
    if (k->p1 & 0x20) {
        if (!c->mdb_valid)
            return status(c, A608_ST_EXEC);
        msg = c->mdb;
    } else {
        if (!c->tk.valid || c->tk.holds_private)
            return status(c, A608_ST_EXEC);
        msg = c->tk.value;
    }
    int v = a608_ec_verify(pub, msg, k->data);
    return status(c, v == 1 ? A608_ST_OK : v == 0 ? A608_ST_MISCOMPARE : A608_ST_EXEC);
}

static int ecdh_output(struct a608 *c, const uint8_t shared[32], bool encrypt)
{
    uint16_t opts = (uint16_t)(c->config[A608_CFG_CHIPOPTIONS] |
                               c->config[A608_CFG_CHIPOPTIONS + 1] << 8);
    unsigned prot = (opts >> 8) & 3;
    uint8_t r[64], msg[48], key[32];

    if (prot >= 2) /* output only to TempKey or a slot (3 is reserved) */
        return status(c, A608_ST_EXEC);
    if (prot == 1)
        encrypt = true;
    if (!encrypt)
        return respond(c, shared, 32);
    if (!(opts & 0x0002))
        return status(c, A608_ST_EXEC);
    memcpy(msg, slot_ptr(c, opts >> 12), 32);
    if (a608_random(c, r + 32, 32) != 0)
        return status(c, A608_ST_EXEC);
    memcpy(msg + 32, r + 32, 16);
    if (a608_sha256(msg, sizeof msg, key) != 0)
        return status(c, A608_ST_EXEC);
    for (int i = 0; i < 32; i++)
        r[i] = shared[i] ^ key[i];
    OPENSSL_cleanse(msg, sizeof msg);
    OPENSSL_cleanse(key, sizeof key);
    return respond(c, r, sizeof r);
}

static int cmd_ecdh(struct a608 *c, const struct cmd *k)
{
    bool from_tk = k->p1 & 0x01, encrypt = k->p1 & 0x02;
    unsigned target = (k->p1 >> 2) & 3;
    uint8_t shared[32], tkpub[64];
    const uint8_t *priv, *pub;
    int rc;

    if ((k->p1 & 0xF0) || k->dlen != 64 || k->p2 > 15 || (from_tk && target == 0) ||
        (!from_tk && target == 1))
        return status(c, A608_ST_PARSE);
    if (!a608_config_locked(c))
        return status(c, A608_ST_EXEC);
    unsigned slot = k->p2;
    uint16_t sc = a608_slot_config(c, slot);
    if (from_tk) {
        if (!c->tk.valid || !c->tk.holds_private || a608_ec_public(c->tk.value, tkpub) != 0)
            return status(c, A608_ST_EXEC);
        priv = c->tk.value;
        pub = tkpub;
    } else {
        if (!is_ecc_private(c, slot) || !has_key(c, slot) || !(sc & 0x0004) ||
            !key_usable(c, slot))
            return status(c, A608_ST_EXEC);
        priv = c->priv[slot];
        pub = c->pub[slot];
    }
    rc = a608_ec_ecdh(priv, pub, k->data, shared);
    if (rc != 0)
        return status(c, rc == -1 ? A608_ST_EXEC : A608_ST_ECC);
    switch (target) {
    case 0:
        if (sc & 0x0008) {
            unsigned dst = slot | 1;
            if (kc_private(c, dst) || a608_slot_locked(c, dst)) {
                OPENSSL_cleanse(shared, sizeof shared);
                return status(c, A608_ST_EXEC);
            }
            memcpy(slot_ptr(c, dst), shared, 32);
            status(c, A608_ST_OK);
        } else {
            ecdh_output(c, shared, encrypt);
        }
        break;
    case 1:
        if (kc_private(c, slot) || a608_slot_locked(c, slot)) {
            OPENSSL_cleanse(shared, sizeof shared);
            return status(c, A608_ST_EXEC);
        }
        memcpy(slot_ptr(c, slot), shared, 32);
        status(c, A608_ST_OK);
        break;
    case 2:
        tk_set(c, shared, 32, false);
        c->tk.key_id = (uint8_t)slot;
        status(c, A608_ST_OK);
        break;
    default:
        ecdh_output(c, shared, encrypt);
        break;
    }
    OPENSSL_cleanse(shared, sizeof shared);
    return 0;
}

static int cmd_counter(struct a608 *c, const struct cmd *k)
{
    uint8_t r[4];

    if (k->dlen != 0 || k->p1 > 1 || k->p2 > 1)
        return status(c, A608_ST_PARSE);
    uint32_t v = a608_counter_get(c, k->p2);
    if (k->p1 == 1) {
        if (!a608_config_locked(c) || v >= A608_COUNTER_MAX)
            return status(c, A608_ST_EXEC);
        a608_counter_put(c, k->p2, ++v);
    }
    for (int i = 0; i < 4; i++)
        r[i] = (uint8_t)(v >> (8 * i));
    return respond(c, r, sizeof r);
}

static int cmd_updateextra(struct a608 *c, const struct cmd *k)
{
    if (k->dlen != 0 || k->p1 > 2)
        return status(c, A608_ST_PARSE);
    if (k->p1 == 2)
        return not_emulated(c, k, "UpdateExtra limited-use decrement");
    if (k->p2 > 0xFF)
        return status(c, A608_ST_PARSE);
    uint8_t *b = c->config + A608_CFG_USER_EXTRA + k->p1;
    if (*b != 0x00) /* write-once */
        return status(c, A608_ST_EXEC);
    *b = (uint8_t)k->p2;
    return status(c, A608_ST_OK);
}

static int cmd_selftest(struct a608 *c, const struct cmd *k)
{
    uint8_t result = 0x00; /* every requested test passes */

    /* 0x01 RNG, 0x02 ECDSA, 0x08 ECDH, 0x10 AES, 0x20 SHA: 0x3B is "all" */
    if (k->dlen != 0 || k->p2 != 0 || (k->p1 & ~0x3Bu))
        return status(c, A608_ST_PARSE);
    return respond(c, &result, 1);
}

static int cmd_sha(struct a608 *c, const struct cmd *k)
{
    unsigned mode = k->p1 & 7, target = k->p1 & 0xC0;
    uint8_t d[32];

    if (k->p1 & 0x38)
        return status(c, A608_ST_PARSE);
    switch (mode) {
    case 0:
        if (k->dlen != 0 || k->p2 != 0)
            return status(c, A608_ST_PARSE);
        a608_sha_start(&c->sha);
        return status(c, A608_ST_OK);
    case 1:
        if (k->dlen != 64 || k->p2 != 64)
            return status(c, A608_ST_PARSE);
        if (!c->sha.active)
            return status(c, A608_ST_EXEC);
        a608_sha_block(&c->sha, k->data);
        return status(c, A608_ST_OK);
    case 2:
        if (k->dlen > 63 || k->p2 != k->dlen || target == 0x80)
            return status(c, A608_ST_PARSE);
        if (!c->sha.active)
            return status(c, A608_ST_EXEC);
        a608_sha_finish(&c->sha, k->data, k->dlen, d);
        if (target == 0x00) {
            tk_set(c, d, 32, true);
        } else if (target == 0x40) {
            memset(c->mdb, 0, sizeof c->mdb);
            memcpy(c->mdb, d, 32);
            c->mdb_valid = true;
        }
        return respond(c, d, sizeof d);
    default:
        return not_emulated(c, k, "SHA public/HMAC/context mode");
    }
}

static int cmd_privwrite(struct a608 *c, const struct cmd *k)
{
    uint8_t plain[36], pad[32];
    bool enc = k->p1 == 0x40;

    if ((k->p1 != 0x00 && k->p1 != 0x40) || k->dlen != 68 || k->p2 > 15)
        return status(c, A608_ST_PARSE);
    unsigned slot = k->p2;
    uint16_t sc = a608_slot_config(c, slot);
    if (!a608_config_locked(c) || !is_ecc_private(c, slot) || !(sc & 0x0080) ||
        a608_slot_locked(c, slot))
        return status(c, A608_ST_EXEC);
    if (a608_data_locked(c) && (!enc || !(sc & 0x4000)))
        return status(c, A608_ST_EXEC);
    memcpy(plain, k->data, 36);
    if (enc) {
        if (!c->tk.valid || !c->tk.gendig || c->tk.key_id != sc_write_key(c, slot) ||
            a608_sha256(c->tk.value, 32, pad) != 0)
            return status(c, A608_ST_EXEC);
        for (int i = 0; i < 32; i++)
            plain[i] ^= c->tk.value[i];
        for (int i = 0; i < 4; i++)
            plain[32 + i] ^= pad[i];
        if (!mac_ok(c, OP_PRIVWRITE, k, plain, 36, 21, k->data + 36)) {
            OPENSSL_cleanse(plain, sizeof plain);
            return status(c, A608_ST_EXEC);
        }
    }
    if (plain[0] | plain[1] | plain[2] | plain[3] ||
        a608_ec_public(plain + 4, c->pub[slot]) != 0) {
        OPENSSL_cleanse(plain, sizeof plain);
        return status(c, A608_ST_EXEC);
    }
    memcpy(c->priv[slot], plain + 4, 32);
    c->priv_valid |= (uint16_t)(1u << slot);
    OPENSSL_cleanse(plain, sizeof plain);
    return status(c, A608_ST_OK);
}

/* TempKey = SHA-256(value(32) || 0x15 || zone || p2 || SN[8] || SN[0..1] ||
 * 25 x 0 || TempKey(32)). */
static int cmd_gendig(struct a608 *c, const struct cmd *k)
{
    uint8_t msg[96] = {0}, d[32];
    unsigned zone = k->p1;

    if (zone >= 3 && zone <= 5)
        return not_emulated(c, k, "GenDig shared-nonce/counter/key-config zone");
    if (zone > 5 || k->dlen != 0)
        return status(c, zone > 5 || k->dlen != 4 ? A608_ST_PARSE : A608_ST_EXEC);
    if ((zone == 0 && k->p2 > 3) || (zone == 1 && k->p2 > 1) || (zone == 2 && k->p2 > 15))
        return status(c, A608_ST_PARSE);
    if (!a608_config_locked(c) || !c->tk.valid || c->tk.holds_private)
        return status(c, A608_ST_EXEC);
    if (zone == 0) {
        memcpy(msg, c->config + 32 * k->p2, 32);
    } else if (zone == 1) {
        if (!a608_data_locked(c))
            return status(c, A608_ST_EXEC);
        memcpy(msg, c->otp + 32 * k->p2, 32);
    } else {
        unsigned slot = k->p2;
        if (kc_private(c, slot) || !key_usable(c, slot))
            return status(c, A608_ST_EXEC);
        /* ReqRandom keys need a TempKey that came from the RNG. */
        if ((a608_key_config(c, slot) & 0x0040) && c->tk.source_fixed)
            return status(c, A608_ST_EXEC);
        memcpy(msg, slot_ptr(c, slot), 32);
    }
    msg[32] = OP_GENDIG;
    msg[33] = k->p1;
    msg[34] = (uint8_t)k->p2;
    msg[35] = (uint8_t)(k->p2 >> 8);
    put_sn_short(c, msg + 36);
    memcpy(msg + 64, c->tk.value, 32);
    int rc = a608_sha256(msg, sizeof msg, d);
    OPENSSL_cleanse(msg, sizeof msg);
    if (rc != 0)
        return status(c, A608_ST_EXEC);
    bool fixed = c->tk.source_fixed;
    tk_set(c, d, 32, fixed);
    c->tk.gendig = true;
    c->tk.key_id = zone == 2 ? (uint8_t)k->p2 : 0;
    c->tk.nomac = zone == 2 && (a608_slot_config(c, k->p2) & 0x0010);
    OPENSSL_cleanse(d, sizeof d);
    return status(c, A608_ST_OK);
}

static int dispatch(struct a608 *c, const struct cmd *k)
{
    switch (k->op) {
    case OP_INFO: return cmd_info(c, k);
    case OP_READ: return cmd_read(c, k);
    case OP_WRITE: return cmd_write(c, k);
    case OP_LOCK: return cmd_lock(c, k);
    case OP_RANDOM: return cmd_random(c, k);
    case OP_NONCE: return cmd_nonce(c, k);
    case OP_GENKEY: return cmd_genkey(c, k);
    case OP_SIGN: return cmd_sign(c, k);
    case OP_VERIFY: return cmd_verify(c, k);
    case OP_ECDH: return cmd_ecdh(c, k);
    case OP_COUNTER: return cmd_counter(c, k);
    case OP_UPDATEEXTRA: return cmd_updateextra(c, k);
    case OP_SELFTEST: return cmd_selftest(c, k);
    case OP_SHA: return cmd_sha(c, k);
    case OP_PRIVWRITE: return cmd_privwrite(c, k);
    case OP_GENDIG: return cmd_gendig(c, k);
    case OP_MAC: return not_emulated(c, k, "MAC");
    case OP_CHECKMAC: return not_emulated(c, k, "CheckMac");
    case OP_DERIVEKEY: return not_emulated(c, k, "DeriveKey");
    case OP_AES: return not_emulated(c, k, "AES");
    case OP_KDF: return not_emulated(c, k, "KDF");
    case OP_SECUREBOOT: return not_emulated(c, k, "SecureBoot");
    default:
        /* Not an ATECC608 opcode (Pause, HMAC, Delete, unknown). */
        return status(c, A608_ST_PARSE);
    }
}

void a608_execute(struct a608 *c, struct sim_ctx *ctx, uint64_t now_ns)
{
    unsigned count = c->in[0];
    struct cmd k;

    (*ctx->commands)++;
    ctx->dirty = true;
    if (count > A608_CMD_MAX) {
        status(c, A608_ST_PARSE);
    } else if (count < 4 || !atecc_crc16_ok(c->in, count)) {
        status(c, A608_ST_CRC);
    } else if (count < 7) {
        status(c, A608_ST_PARSE);
    } else if (a608_remaining_ms(c, now_ns) < exec_ms_div(c->in[1], clock_divider(c))) {
        status(c, A608_ST_WATCHDOG);
    } else {
        k.op = c->in[1];
        k.p1 = c->in[2];
        k.p2 = (uint16_t)(c->in[3] | c->in[4] << 8);
        k.data = c->in + 5;
        k.dlen = count - 7;
        dispatch(c, &k);
    }
    OPENSSL_cleanse(c->in, sizeof c->in);
    c->in_len = 0;
    /* Busy polls after the command. A datasheet-timed mode would instead
     * store now + exec_ms_div(op, clock_divider(c)) and NACK until then. */
    c->busy = ctx->faults->busy;
}
