#include "hal/atecc608/atecc_dev.h"

#include <stdlib.h>
#include <string.h>

#include "hal/atecc608/atecc_cmd.h"
#include "hal/bus.h"
#include "hal/log.h"

#define ATECC_REVISION_608 0x60
#define RANDOM_CHUNKS_PER_WAKE 8 /* 8 x 23 ms stays far from the watchdog */

enum key_use { USE_PUBLIC, USE_SIGN, USE_ECDH, USE_GENKEY };

int atecc_dev_report(int rc, const char *what, int slot)
{
    switch (rc) {
    case ATECC_OK:
    case ATECC_E_POLICY:   /* logged by the check that refused */
    case ATECC_E_LOCKED:
    case ATECC_E_BUSLOCK:  /* logged by atecc_run */
        return rc;
    default:
        if (atecc_err_transient(rc))
            return rc;     /* logged by atecc_run after its last attempt */
        if (slot >= 0)
            log_error("atecc608", "slot %d: %s: %s", slot, what, atecc_strerror(rc));
        else
            log_error("atecc608", "%s: %s", what, atecc_strerror(rc));
        return rc;
    }
}

int atecc_dev_read_config(const struct atecc_io *io, struct atecc_dev *dev)
{
    uint8_t cfg[ATECC_CONFIG_SIZE];

    for (unsigned b = 0; b < 4; b++) {
        int rc = atecc_cmd_read(io, ATECC_ZONE_CONFIG, atecc_addr_config_block(b), cfg + 32 * b,
                                32);
        if (rc != ATECC_OK)
            return rc;
    }
    memcpy(dev->config, cfg, sizeof cfg);
    dev->io.clock = atecc_config_clock(cfg);
    return ATECC_OK;
}

int atecc_dev_refresh(const struct atecc_io *io, struct atecc_dev *dev, bool always)
{
    uint8_t blk[32];
    int rc;

    if (!atecc_config_locked(dev->config))
        return atecc_dev_read_config(io, dev);
    if (!always && atecc_data_locked(dev->config))
        return ATECC_OK;
    rc = atecc_cmd_read(io, ATECC_ZONE_CONFIG, atecc_addr_config_block(2), blk, sizeof blk);
    if (rc != ATECC_OK)
        return rc;
    /* bytes 84..91 (block 2 offset 20): UserExtra, UserExtraAdd, LockValue,
     * LockConfig, SlotLocked, ChipOptions */
    memcpy(dev->config + 84, blk + (84 - 64), 8);
    return ATECC_OK;
}

/* ---- open / close ---- */

static int open_seq(const struct atecc_io *io, void *arg)
{
    struct atecc_dev *dev = arg;
    int rc = atecc_cmd_info(io, ATECC_INFO_REVISION, 0, dev->revision);

    if (rc != ATECC_OK)
        return rc;
    if (dev->revision[2] != ATECC_REVISION_608)
        return ATECC_E_CHIP;
    return atecc_dev_read_config(io, dev);
}

int atecc_open_io(const struct atecc_io *io, struct atecc_dev **out)
{
    struct atecc_dev *dev = calloc(1, sizeof *dev);
    int rc;

    if (dev == NULL)
        return ATECC_E_NOMEM;
    dev->io = *io;
    rc = atecc_run(&dev->io, open_seq, dev);
    if (rc == ATECC_E_CHIP)
        log_error("atecc608", "device 0x%02x: revision %02x %02x %02x %02x is not an ATECC608",
                  io->addr, dev->revision[0], dev->revision[1], dev->revision[2],
                  dev->revision[3]);
    else
        atecc_dev_report(rc, "probe", -1);
    if (rc != ATECC_OK) {
        free(dev);
        return rc;
    }
    *out = dev;
    return ATECC_OK;
}

void atecc_close(struct atecc_dev *dev)
{
    free(dev);
}

int atecc_lock(struct atecc_dev *dev)
{
    if (dev->io.lock(dev->io.ctx) != BUS_OK) {
        log_error("atecc608", "device 0x%02x: cannot take the device lock", dev->io.addr);
        return ATECC_E_BUSLOCK;
    }
    return ATECC_OK;
}

void atecc_unlock(struct atecc_dev *dev)
{
    dev->io.unlock(dev->io.ctx);
}

/* ---- cached facts ---- */

const uint8_t *atecc_config(const struct atecc_dev *dev)
{
    return dev->config;
}

void atecc_revision(const struct atecc_dev *dev, uint8_t rev[4])
{
    memcpy(rev, dev->revision, 4);
}

const char *atecc_model(const struct atecc_dev *dev)
{
    return dev->revision[3] > 0x02 ? "ATECC608B" : "ATECC608A";
}

void atecc_serial(const struct atecc_dev *dev, uint8_t sn[ATECC_SERIAL_SIZE])
{
    atecc_config_serial(dev->config, sn);
}

uint8_t atecc_address(const struct atecc_dev *dev)
{
    return dev->io.addr;
}

bool atecc_is_config_locked(const struct atecc_dev *dev)
{
    return atecc_config_locked(dev->config);
}

bool atecc_is_data_locked(const struct atecc_dev *dev)
{
    return atecc_data_locked(dev->config);
}

bool atecc_slot(const struct atecc_dev *dev, unsigned slot, struct atecc_slot *out)
{
    return atecc_slot_decode(dev->config, slot, out);
}

static int refresh_seq(const struct atecc_io *io, void *arg)
{
    return atecc_dev_refresh(io, arg, true);
}

int atecc_refresh_locks(struct atecc_dev *dev)
{
    return atecc_dev_report(atecc_run(&dev->io, refresh_seq, dev), "read lock state", -1);
}

/* ---- host-side policy: refuse what the chip would refuse, with a reason ---- */

static int check_key(const struct atecc_dev *dev, unsigned slot, enum key_use use)
{
    struct atecc_slot s;

    if (!atecc_slot_decode(dev->config, slot, &s)) {
        log_error("atecc608", "slot %u: no such slot", slot);
        return ATECC_E_ARGS;
    }
    if (!atecc_config_locked(dev->config)) {
        log_error("atecc608", "slot %u: config zone unlocked, chip not provisioned", slot);
        return ATECC_E_LOCKED;
    }
    if (!s.p256_private) {
        log_error("atecc608", "slot %u: not a P-256 private key (KeyConfig 0x%04x)", slot,
                  s.key_config);
        return ATECC_E_POLICY;
    }
    if (s.req_auth && use != USE_PUBLIC && use != USE_GENKEY) {
        log_error("atecc608", "slot %u: key requires authorization (KeyConfig 0x%04x)", slot,
                  s.key_config);
        return ATECC_E_POLICY;
    }
    switch (use) {
    case USE_PUBLIC:
        if (!s.pub_info) {
            log_error("atecc608", "slot %u: public key not computable, PubInfo clear "
                      "(KeyConfig 0x%04x)", slot, s.key_config);
            return ATECC_E_POLICY;
        }
        return ATECC_OK;
    case USE_SIGN:
        if (!s.ext_sign) {
            log_error("atecc608", "slot %u: external signing not enabled (SlotConfig 0x%04x)",
                      slot, s.slot_config);
            return ATECC_E_POLICY;
        }
        return ATECC_OK;
    case USE_ECDH:
        if (!s.ecdh || s.ecdh_to_slot) {
            log_error("atecc608", "slot %u: ECDH with clear output not enabled "
                      "(SlotConfig 0x%04x)", slot, s.slot_config);
            return ATECC_E_POLICY;
        }
        if (atecc_config_ecdh_protection(dev->config) != 0) {
            log_error("atecc608", "slot %u: ChipOptions ECDHProtection forbids clear output",
                      slot);
            return ATECC_E_POLICY;
        }
        return ATECC_OK;
    case USE_GENKEY:
        if (!atecc_data_locked(dev->config))
            return ATECC_OK; /* any private slot may be generated before data lock */
        if (!s.genkey) {
            log_error("atecc608", "slot %u: key is permanent (SlotConfig 0x%04x)", slot,
                      s.slot_config);
            return ATECC_E_POLICY;
        }
        if (s.locked) {
            log_error("atecc608", "slot %u: slot is locked", slot);
            return ATECC_E_LOCKED;
        }
        return ATECC_OK;
    }
    return ATECC_E_ARGS;
}

/* ---- key operations ---- */

struct key_op {
    struct atecc_dev *dev;
    unsigned slot;
    const uint8_t *in;  /* digest or peer point */
    const uint8_t *in2; /* signature (verify) */
    uint8_t *out;
};

static int genkey_seq(const struct atecc_io *io, void *arg)
{
    struct key_op *op = arg;
    uint8_t pub[64];
    int rc = atecc_dev_refresh(io, op->dev, true);

    if (rc == ATECC_OK)
        rc = check_key(op->dev, op->slot, USE_GENKEY);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_cmd_genkey(io, ATECC_GENKEY_PRIVATE, (uint16_t)op->slot, pub);
    if (rc == ATECC_E_ECC) /* a rare unusable random key; a second draw succeeds */
        rc = atecc_cmd_genkey(io, ATECC_GENKEY_PRIVATE, (uint16_t)op->slot, pub);
    if (rc == ATECC_OK)
        memcpy(op->out, pub, sizeof pub);
    return rc;
}

int atecc_genkey(struct atecc_dev *dev, unsigned slot, uint8_t pub[64])
{
    struct key_op op = {.dev = dev, .slot = slot, .out = pub};

    return atecc_dev_report(atecc_run(&dev->io, genkey_seq, &op), "GenKey", (int)slot);
}

static int pubkey_seq(const struct atecc_io *io, void *arg)
{
    struct key_op *op = arg;
    uint8_t pub[64];
    int rc = atecc_dev_refresh(io, op->dev, false);

    if (rc == ATECC_OK)
        rc = check_key(op->dev, op->slot, USE_PUBLIC);
    if (rc == ATECC_OK)
        rc = atecc_cmd_genkey(io, ATECC_GENKEY_PUBLIC, (uint16_t)op->slot, pub);
    if (rc == ATECC_OK)
        memcpy(op->out, pub, sizeof pub);
    return rc;
}

int atecc_read_pubkey(struct atecc_dev *dev, unsigned slot, uint8_t pub[64])
{
    struct key_op op = {.dev = dev, .slot = slot, .out = pub};

    return atecc_dev_report(atecc_run(&dev->io, pubkey_seq, &op), "GenKey (public)",
                            (int)slot);
}

/* Nonce and Sign in one wake: the digest waits in the message digest buffer,
 * which a sleep, a watchdog expiry or another process's Nonce would lose or
 * replace. */
static int sign_seq(const struct atecc_io *io, void *arg)
{
    struct key_op *op = arg;
    uint8_t sig[64];
    int rc = atecc_dev_refresh(io, op->dev, false);

    if (rc == ATECC_OK)
        rc = check_key(op->dev, op->slot, USE_SIGN);
    if (rc == ATECC_OK)
        rc = atecc_cmd_nonce_mdb(io, op->in);
    if (rc == ATECC_OK)
        rc = atecc_cmd_sign_mdb(io, (uint16_t)op->slot, sig);
    if (rc == ATECC_OK)
        memcpy(op->out, sig, sizeof sig);
    return rc;
}

int atecc_sign_digest(struct atecc_dev *dev, unsigned slot, const uint8_t digest[32],
                      uint8_t sig[64])
{
    struct key_op op = {.dev = dev, .slot = slot, .in = digest, .out = sig};

    return atecc_dev_report(atecc_run(&dev->io, sign_seq, &op), "Sign", (int)slot);
}

static int verify_seq(const struct atecc_io *io, void *arg)
{
    struct key_op *op = arg;
    int rc = atecc_cmd_nonce_mdb(io, op->in);

    if (rc == ATECC_OK)
        rc = atecc_cmd_verify_extern_mdb(io, op->in2, op->out);
    return rc;
}

int atecc_verify_extern(struct atecc_dev *dev, const uint8_t digest[32], const uint8_t sig[64],
                        const uint8_t pub[64])
{
    uint8_t key[64];
    struct key_op op = {.dev = dev, .in = digest, .in2 = sig, .out = key};
    int rc;

    memcpy(key, pub, sizeof key);
    rc = atecc_run(&dev->io, verify_seq, &op);
    return rc == ATECC_E_VERIFY ? rc : atecc_dev_report(rc, "Verify", -1);
}

static int ecdh_seq(const struct atecc_io *io, void *arg)
{
    struct key_op *op = arg;
    uint8_t secret[32];
    int rc = atecc_dev_refresh(io, op->dev, false);

    if (rc == ATECC_OK)
        rc = check_key(op->dev, op->slot, USE_ECDH);
    if (rc == ATECC_OK)
        rc = atecc_cmd_ecdh(io, (uint16_t)op->slot, op->in, secret);
    if (rc == ATECC_OK)
        memcpy(op->out, secret, sizeof secret);
    return rc;
}

int atecc_ecdh(struct atecc_dev *dev, unsigned slot, const uint8_t peer[64], uint8_t out[32])
{
    struct key_op op = {.dev = dev, .slot = slot, .in = peer, .out = out};

    return atecc_dev_report(atecc_run(&dev->io, ecdh_seq, &op), "ECDH", (int)slot);
}

/* ---- random, self test, counter ---- */

struct random_op {
    struct atecc_dev *dev;
    uint8_t *out;
    size_t len; /* at most RANDOM_CHUNKS_PER_WAKE * 32 */
};

static bool is_test_pattern(const uint8_t r[32])
{
    for (unsigned i = 0; i < 32; i++)
        if (r[i] != ((i & 2) ? 0x00 : 0xFF))
            return false;
    return true;
}

static int random_seq(const struct atecc_io *io, void *arg)
{
    struct random_op *op = arg;
    uint8_t buf[RANDOM_CHUNKS_PER_WAKE * 32];
    int rc = atecc_dev_refresh(io, op->dev, false);

    if (rc != ATECC_OK)
        return rc;
    if (!atecc_config_locked(op->dev->config)) {
        log_error("atecc608", "Random: config zone unlocked, the chip gives a test pattern");
        return ATECC_E_LOCKED;
    }
    for (size_t got = 0; got < op->len; got += 32) {
        rc = atecc_cmd_random(io, buf + got);
        if (rc != ATECC_OK)
            return rc;
        if (is_test_pattern(buf + got)) {
            log_error("atecc608", "Random: the chip answered its test pattern");
            return ATECC_E_LOCKED;
        }
    }
    memcpy(op->out, buf, op->len);
    return ATECC_OK;
}

int atecc_random(struct atecc_dev *dev, uint8_t *buf, size_t len)
{
    const size_t per_wake = RANDOM_CHUNKS_PER_WAKE * 32;

    while (len > 0) {
        struct random_op op = {.dev = dev, .out = buf, .len = len < per_wake ? len : per_wake};
        int rc = atecc_run(&dev->io, random_seq, &op);

        if (rc != ATECC_OK)
            return atecc_dev_report(rc, "Random", -1);
        buf += op.len;
        len -= op.len;
    }
    return ATECC_OK;
}

struct small_op {
    uint8_t mode;
    uint16_t p2;
    uint8_t byte;
    uint32_t value;
};

static int selftest_seq(const struct atecc_io *io, void *arg)
{
    struct small_op *op = arg;

    return atecc_cmd_selftest(io, op->mode, &op->byte);
}

int atecc_selftest(struct atecc_dev *dev, uint8_t tests, uint8_t *failed)
{
    struct small_op op = {.mode = tests};
    int rc = atecc_run(&dev->io, selftest_seq, &op);

    if (rc == ATECC_OK)
        *failed = op.byte;
    return atecc_dev_report(rc, "SelfTest", -1);
}

static int counter_seq(const struct atecc_io *io, void *arg)
{
    struct small_op *op = arg;

    return atecc_cmd_counter(io, 0x00, op->p2, &op->value);
}

int atecc_counter_read(struct atecc_dev *dev, unsigned id, uint32_t *value)
{
    struct small_op op = {.p2 = (uint16_t)id};
    int rc;

    if (id > 1)
        return ATECC_E_ARGS;
    rc = atecc_run(&dev->io, counter_seq, &op);
    if (rc == ATECC_OK)
        *value = op.value;
    return atecc_dev_report(rc, "Counter", -1);
}
