/* Decoding the ATECC608 configuration zone (128 bytes): lock states, serial
 * number, and what each slot's SlotConfig/KeyConfig allow. Pure functions
 * over a copy of the zone. */
#ifndef SECCKI_ATECC_CONFIG_H
#define SECCKI_ATECC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define ATECC_CONFIG_SIZE 128u
#define ATECC_SLOTS 16u
#define ATECC_SERIAL_SIZE 9u

#define ATECC_CFG_I2C_ADDRESS 16u
#define ATECC_CFG_CHIP_MODE 19u
#define ATECC_CFG_SLOT_CONFIG 20u
#define ATECC_CFG_LOCK_VALUE 86u  /* data zone */
#define ATECC_CFG_LOCK_CONFIG 87u
#define ATECC_CFG_SLOT_LOCKED 88u
#define ATECC_CFG_CHIP_OPTIONS 90u
#define ATECC_CFG_KEY_CONFIG 96u
#define ATECC_LOCK_UNLOCKED 0x55u

#define ATECC_KEY_TYPE_P256 4u

struct atecc_slot {
    uint16_t slot_config;
    uint16_t key_config;
    unsigned key_type;   /* KeyConfig bits 4..2 */
    bool is_private;     /* KeyConfig.Private */
    bool p256_private;   /* a P-256 private key slot */
    bool p256_public;    /* a P-256 public key slot */
    bool pub_info;       /* private: GenKey may compute the public key */
    bool req_auth;       /* use needs an authorization we never give */
    bool lockable;
    bool is_secret;
    /* ReadKey bits as a private key slot reads them */
    bool ext_sign, int_sign, ecdh, ecdh_to_slot;
    /* WriteConfig bits as a private key slot reads them */
    bool genkey;         /* bit 13: GenKey allowed after data lock */
    bool privwrite;      /* bit 14 */
    bool locked;         /* SlotLocked bit clear */
};

bool atecc_config_locked(const uint8_t cfg[ATECC_CONFIG_SIZE]);
bool atecc_data_locked(const uint8_t cfg[ATECC_CONFIG_SIZE]);

/* SN[0..3] || SN[4..8] from bytes 0-3 and 8-12. */
void atecc_config_serial(const uint8_t cfg[ATECC_CONFIG_SIZE], uint8_t sn[ATECC_SERIAL_SIZE]);

/* ChipOptions bits 9..8: 0 lets ECDH output its result in clear. */
unsigned atecc_config_ecdh_protection(const uint8_t cfg[ATECC_CONFIG_SIZE]);

/* ChipMode clock divider as 0 (M0), 1 (M1), 2 (M2 or unknown: the slowest). */
uint8_t atecc_config_clock(const uint8_t cfg[ATECC_CONFIG_SIZE]);

/* Decodes slot 0..15; false for a slot number out of range. */
bool atecc_slot_decode(const uint8_t cfg[ATECC_CONFIG_SIZE], unsigned slot,
                       struct atecc_slot *out);

#endif
