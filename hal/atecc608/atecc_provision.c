/* Provisioning a blank ATECC608 with the TLS layout. Every step before the
 * config lock can be repeated; the lock itself is only issued once the zone
 * reads back exactly as intended, so a failure leaves the chip blank. */
#include <string.h>

#include "hal/atecc608/atecc_cmd.h"
#include "hal/atecc608/atecc_crc.h"
#include "hal/atecc608/atecc_dev.h"
#include "hal/log.h"

struct slot_layout {
    uint16_t slot_config;
    uint16_t key_config;
};

/* Slots 0-4: P-256 private, ext sign + ECDH (ReadKey bits 0,2), secret,
 * GenKey allowed after lock, PubInfo, lockable. The data slots are clear
 * read, always write and lockable, so certificates can be stored after the
 * data zone is locked and frozen afterwards; slot 11 is typed as a P-256
 * public key (signer key, as on TrustFLEX parts). */
static const struct slot_layout tls_slots[ATECC_SLOTS] = {
    {0x2085, 0x0033}, {0x2085, 0x0033}, {0x2085, 0x0033}, {0x2085, 0x0033},
    {0x2085, 0x0033}, {0x0F0F, 0x003C}, {0x0F0F, 0x003C}, {0x0F0F, 0x003C},
    {0x0F0F, 0x003C}, {0x0F0F, 0x003C}, {0x0F0F, 0x003C}, {0x0F0F, 0x0030},
    {0x0F0F, 0x003C}, {0x0F0F, 0x003C}, {0x0F0F, 0x003C}, {0x0F0F, 0x003C},
};

#define CHIP_OPTIONS_TLS 0x0008 /* AutoClearFirstFail; ECDH output in clear allowed */

void atecc_tls_layout(const uint8_t current[ATECC_CONFIG_SIZE], uint8_t addr7,
                      uint8_t out[ATECC_CONFIG_SIZE])
{
    memcpy(out, current, ATECC_CONFIG_SIZE);
    out[ATECC_CFG_I2C_ADDRESS] = (uint8_t)(addr7 << 1);
    out[17] = 0x00;
    out[18] = 0x00; /* CountMatch off; ChipMode (19) stays the board's choice */
    for (unsigned s = 0; s < ATECC_SLOTS; s++) {
        out[ATECC_CFG_SLOT_CONFIG + 2 * s] = (uint8_t)(tls_slots[s].slot_config & 0xff);
        out[ATECC_CFG_SLOT_CONFIG + 2 * s + 1] = (uint8_t)(tls_slots[s].slot_config >> 8);
        out[ATECC_CFG_KEY_CONFIG + 2 * s] = (uint8_t)(tls_slots[s].key_config & 0xff);
        out[ATECC_CFG_KEY_CONFIG + 2 * s + 1] = (uint8_t)(tls_slots[s].key_config >> 8);
    }
    /* 52..67 counters keep their value; 68..83 UseLock, VolatileKeyPermission,
     * SecureBoot, KdfIv, reserved: all off */
    memset(out + 68, 0, 16);
    out[ATECC_CFG_SLOT_LOCKED] = 0xFF;
    out[ATECC_CFG_SLOT_LOCKED + 1] = 0xFF;
    out[ATECC_CFG_CHIP_OPTIONS] = (uint8_t)(CHIP_OPTIONS_TLS & 0xff);
    out[ATECC_CFG_CHIP_OPTIONS + 1] = (uint8_t)(CHIP_OPTIONS_TLS >> 8);
    memset(out + 92, 0, 4); /* X509format */
}

/* Bytes 84..87 change only through UpdateExtra and Lock; 0..15 never. */
static bool byte_written(unsigned i)
{
    return i >= 16 && !(i >= 84 && i < 88);
}

struct write_op {
    const uint8_t *layout;
    unsigned block; /* 0..3 */
};

/* Blocks 0 and 2 hold bytes that a Write must not touch, so they go in
 * 4-byte words; blocks 1 and 3 in one 32-byte write. */
static int write_block_seq(const struct atecc_io *io, void *arg)
{
    struct write_op *op = arg;
    unsigned base = op->block * 32;
    int rc = ATECC_OK;

    if (op->block == 1 || op->block == 3)
        return atecc_cmd_write(io, ATECC_ZONE_CONFIG, atecc_addr_config_block(op->block),
                               op->layout + base, 32);
    for (unsigned w = 0; w < 8 && rc == ATECC_OK; w++) {
        unsigned byte = base + 4 * w;
        if (byte_written(byte))
            rc = atecc_cmd_write(io, ATECC_ZONE_CONFIG, atecc_addr_config_word(byte / 4),
                                 op->layout + byte, 4);
    }
    return rc;
}

static int read_config_seq(const struct atecc_io *io, void *arg)
{
    return atecc_dev_read_config(io, arg);
}

struct lock_op {
    struct atecc_dev *dev;
    uint8_t mode;
    uint16_t crc;
    bool data; /* which lock byte tells that it worked */
};

/* A re-run after a lost answer finds the zone locked already (0x0F): that
 * is success when the lock byte says so. */
static int lock_seq(const struct atecc_io *io, void *arg)
{
    struct lock_op *op = arg;
    int rc = atecc_cmd_lock(io, op->mode, op->crc);

    if (rc == ATECC_E_EXEC && atecc_dev_refresh(io, op->dev, true) == ATECC_OK &&
        (op->data ? atecc_data_locked(op->dev->config) : atecc_config_locked(op->dev->config)))
        rc = ATECC_OK;
    return rc;
}

struct genkey_op {
    unsigned slot;
};

static int genkey_seq(const struct atecc_io *io, void *arg)
{
    struct genkey_op *op = arg;
    uint8_t pub[64];
    int rc = atecc_cmd_genkey(io, ATECC_GENKEY_PRIVATE, (uint16_t)op->slot, pub);

    if (rc == ATECC_E_ECC)
        rc = atecc_cmd_genkey(io, ATECC_GENKEY_PRIVATE, (uint16_t)op->slot, pub);
    return rc;
}

static int refresh_seq(const struct atecc_io *io, void *arg)
{
    return atecc_dev_refresh(io, arg, true);
}

static int provision_locked(struct atecc_dev *dev, const uint8_t *given)
{
    uint8_t layout[ATECC_CONFIG_SIZE];
    struct lock_op lk = {.dev = dev};
    struct atecc_slot slot;
    int rc;

    rc = atecc_run(&dev->io, refresh_seq, dev);
    if (rc != ATECC_OK)
        return atecc_dev_report(rc, "provision: read config", -1);
    if (atecc_config_locked(dev->config)) {
        log_error("atecc608", "provision: config zone already locked, chip left as it is");
        return ATECC_E_LOCKED;
    }
    if (given != NULL)
        memcpy(layout, given, sizeof layout);
    else
        atecc_tls_layout(dev->config, dev->io.addr, layout);

    for (unsigned b = 0; b < 4; b++) {
        struct write_op w = {.layout = layout, .block = b};
        rc = atecc_run(&dev->io, write_block_seq, &w);
        if (rc != ATECC_OK)
            return atecc_dev_report(rc, "provision: write config", -1);
    }
    rc = atecc_run(&dev->io, read_config_seq, dev);
    if (rc != ATECC_OK)
        return atecc_dev_report(rc, "provision: read back config", -1);
    for (unsigned i = 0; i < ATECC_CONFIG_SIZE; i++) {
        if (byte_written(i) && dev->config[i] != layout[i]) {
            log_error("atecc608", "provision: config byte %u reads 0x%02x, written 0x%02x; "
                      "not locking", i, dev->config[i], layout[i]);
            return ATECC_E_EXEC;
        }
    }

    lk.mode = ATECC_LOCK_CONFIG;
    lk.crc = atecc_crc16(dev->config, ATECC_CONFIG_SIZE);
    rc = atecc_run(&dev->io, lock_seq, &lk);
    if (rc != ATECC_OK)
        return atecc_dev_report(rc, "provision: lock config zone", -1);

    for (unsigned s = 0; s < ATECC_SLOTS; s++) {
        struct genkey_op g = {.slot = s};
        if (!atecc_slot_decode(dev->config, s, &slot) || !slot.p256_private)
            continue;
        rc = atecc_run(&dev->io, genkey_seq, &g);
        if (rc != ATECC_OK)
            return atecc_dev_report(rc, "provision: GenKey", (int)s);
    }

    lk.mode = ATECC_LOCK_DATA_NOCRC;
    lk.crc = 0;
    lk.data = true;
    rc = atecc_run(&dev->io, lock_seq, &lk);
    if (rc != ATECC_OK)
        return atecc_dev_report(rc, "provision: lock data zone", -1);
    return atecc_dev_report(atecc_run(&dev->io, read_config_seq, dev), "provision: read config",
                            -1);
}

static int provision(struct atecc_dev *dev, const uint8_t *layout)
{
    int rc = atecc_lock(dev);

    if (rc != ATECC_OK)
        return rc;
    rc = provision_locked(dev, layout);
    atecc_unlock(dev);
    if (rc == ATECC_OK)
        log_info("atecc608", "device 0x%02x: provisioned", dev->io.addr);
    return rc;
}

int atecc_provision(struct atecc_dev *dev)
{
    return provision(dev, NULL);
}

int atecc_provision_layout(struct atecc_dev *dev, const uint8_t layout[ATECC_CONFIG_SIZE])
{
    return provision(dev, layout);
}
