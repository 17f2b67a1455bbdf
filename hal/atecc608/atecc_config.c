#include "hal/atecc608/atecc_config.h"

#include <string.h>

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

bool atecc_config_locked(const uint8_t cfg[ATECC_CONFIG_SIZE])
{
    return cfg[ATECC_CFG_LOCK_CONFIG] != ATECC_LOCK_UNLOCKED;
}

bool atecc_data_locked(const uint8_t cfg[ATECC_CONFIG_SIZE])
{
    return cfg[ATECC_CFG_LOCK_VALUE] != ATECC_LOCK_UNLOCKED;
}

void atecc_config_serial(const uint8_t cfg[ATECC_CONFIG_SIZE], uint8_t sn[ATECC_SERIAL_SIZE])
{
    memcpy(sn, cfg, 4);
    memcpy(sn + 4, cfg + 8, 5);
}

unsigned atecc_config_ecdh_protection(const uint8_t cfg[ATECC_CONFIG_SIZE])
{
    return (le16(cfg + ATECC_CFG_CHIP_OPTIONS) >> 8) & 3u;
}

uint8_t atecc_config_clock(const uint8_t cfg[ATECC_CONFIG_SIZE])
{
    switch (cfg[ATECC_CFG_CHIP_MODE] & 0xF8u) {
    case 0x00: return 0;
    case 0x28: return 1;
    default: return 2;
    }
}

bool atecc_slot_decode(const uint8_t cfg[ATECC_CONFIG_SIZE], unsigned slot,
                       struct atecc_slot *out)
{
    uint16_t sc, kc;

    if (slot >= ATECC_SLOTS)
        return false;
    sc = le16(cfg + ATECC_CFG_SLOT_CONFIG + 2 * slot);
    kc = le16(cfg + ATECC_CFG_KEY_CONFIG + 2 * slot);
    memset(out, 0, sizeof *out);
    out->slot_config = sc;
    out->key_config = kc;
    out->key_type = (kc >> 2) & 7u;
    out->is_private = kc & 0x0001u;
    out->p256_private = out->is_private && out->key_type == ATECC_KEY_TYPE_P256;
    out->p256_public = !out->is_private && out->key_type == ATECC_KEY_TYPE_P256;
    out->pub_info = kc & 0x0002u;
    out->lockable = kc & 0x0020u;
    out->req_auth = kc & 0x0080u;
    out->is_secret = sc & 0x0080u;
    out->ext_sign = sc & 0x0001u;
    out->int_sign = sc & 0x0002u;
    out->ecdh = sc & 0x0004u;
    out->ecdh_to_slot = sc & 0x0008u;
    out->genkey = sc & 0x2000u;
    out->privwrite = sc & 0x4000u;
    out->locked = !(le16(cfg + ATECC_CFG_SLOT_LOCKED) & (1u << slot));
    return true;
}
