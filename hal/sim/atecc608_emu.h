/* Internal to the ATECC608 emulator (hal/sim/atecc608_*.c). */
#ifndef SECCKI_ATECC608_EMU_H
#define SECCKI_ATECC608_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "hal/sim/sim_chip.h"

#define A608_CONFIG_SIZE 128
#define A608_OTP_SIZE 64
#define A608_DATA_SIZE 1208
#define A608_SLOTS 16
#define A608_CMD_MAX 162 /* 7 + 155 bytes of data */
#define A608_OUT_MAX 128

/* Config zone byte offsets. */
#define A608_CFG_I2C_ADDR 16
#define A608_CFG_CHIPMODE 19
#define A608_CFG_SLOTCONFIG 20
#define A608_CFG_COUNTER0 52
#define A608_CFG_USER_EXTRA 84
#define A608_CFG_USER_EXTRA_ADD 85
#define A608_CFG_LOCK_VALUE 86
#define A608_CFG_LOCK_CONFIG 87
#define A608_CFG_SLOT_LOCKED 88
#define A608_CFG_CHIPOPTIONS 90
#define A608_CFG_KEYCONFIG 96

#define A608_COUNTER_MAX 2097151u

/* Status codes (spec section 3). */
enum {
    A608_ST_OK = 0x00,
    A608_ST_MISCOMPARE = 0x01,
    A608_ST_PARSE = 0x03,
    A608_ST_ECC = 0x05,
    A608_ST_EXEC = 0x0F,
    A608_ST_WAKE = 0x11,
    A608_ST_WATCHDOG = 0xEE,
    A608_ST_CRC = 0xFF,
};

enum a608_power { A608_ASLEEP = 0, A608_IDLE = 1, A608_AWAKE = 2 };

struct a608_tempkey {
    uint8_t value[64];
    uint8_t key_id;    /* slot of the last GenDig/GenKey */
    bool valid;
    bool source_fixed; /* SourceFlag: 0 random, 1 fixed/input */
    bool gendig;       /* GenDigData */
    bool genkey;       /* GenKeyData */
    bool nomac;        /* NoMacFlag */
    bool holds_private; /* a P-256 scalar from GenKey p2 = 0xFFFF */
};

/* The chip's SHA-256 engine: its context survives between SHA commands and
 * is part of the saved volatile state, so it is kept as the raw FIPS 180-4
 * chaining value rather than an opaque library context. */
struct a608_sha {
    uint32_t h[8];
    uint64_t blocks;
    bool active;
};

/* OpenSSL objects for one slot's key, made on its first Sign and kept while
 * the slot holds the key bytes they were made from (a copy is kept to tell),
 * so GenKey, PrivWrite or a reload of the state never meet a stale key. */
struct a608_key_cache {
    uint8_t priv[32];
    uint8_t pub[64];
    EVP_PKEY *pkey;
    EVP_PKEY_CTX *sign; /* initialised for signing, reused Sign after Sign */
};

struct a608 {
    /* persistent */
    uint8_t config[A608_CONFIG_SIZE];
    uint8_t otp[A608_OTP_SIZE];
    uint8_t data[A608_DATA_SIZE];
    uint8_t priv[A608_SLOTS][32]; /* private scalars, apart from the readable image */
    uint8_t pub[A608_SLOTS][64];  /* their public points, X || Y */
    uint16_t priv_valid;          /* bit n: slot n holds a key */
    uint8_t active_addr;          /* 8-bit I2C address in force (latched at sleep) */
    /* volatile */
    uint8_t power;
    uint64_t wake_ns; /* CLOCK_MONOTONIC at the last wake */
    struct a608_tempkey tk;
    uint8_t mdb[64];
    bool mdb_valid;
    uint8_t altkey[32];
    bool altkey_valid;
    struct a608_sha sha;
    uint8_t latch;
    uint8_t out[A608_OUT_MAX];
    uint8_t out_len;
    uint8_t out_pos;
    uint8_t in[A608_CMD_MAX];
    uint8_t in_len;
    uint32_t busy; /* polls still to NACK after the last command */
    /* never saved: the test root certificate a trustngo chip was made with,
     * held from creation until a608_publish writes it beside the state */
    uint8_t root_der[600];
    size_t root_der_len;
    /* never saved: a new struct (create, load) starts without */
    struct a608_key_cache keys[A608_SLOTS];
};

/* The sim_chip entry points (atecc608_state.c, atecc608_emu.c). */
void *a608_create(const char *profile, char *err, size_t errlen);
void a608_destroy(void *chip);
int a608_save(const void *chip, uint8_t **buf, size_t *len);
void *a608_load(const uint8_t *buf, size_t len, char *err, size_t errlen);
/* Writes PATH.root.pem for a freshly made trustngo chip (nothing for others). */
int a608_publish(const void *chip, const char *path, char *err, size_t errlen);

/* The trustngo profile (atecc608_tng.c) over a chip whose serial number is
 * set: layout, keys, EUI-48 and the factory certificates. */
int a608_profile_trustngo(struct a608 *c, char *err, size_t errlen);

int a608_i2c_write(void *chip, struct sim_ctx *ctx, uint8_t addr, const uint8_t *data,
                   size_t len);
int a608_i2c_read(void *chip, struct sim_ctx *ctx, uint8_t addr, uint8_t *data, size_t len);
/* Milliseconds the watchdog still grants from now (0 when expired). */
uint64_t a608_remaining_ms(const struct a608 *c, uint64_t now);

/* Slot geometry and config decoding. */
size_t a608_slot_size(unsigned slot);
size_t a608_slot_offset(unsigned slot);
uint16_t a608_slot_config(const struct a608 *c, unsigned slot);
uint16_t a608_key_config(const struct a608 *c, unsigned slot);
bool a608_config_locked(const struct a608 *c);
bool a608_data_locked(const struct a608 *c);
bool a608_slot_locked(const struct a608 *c, unsigned slot);
uint8_t a608_address(const struct a608 *c); /* the address that takes effect at sleep */

/* Loses TempKey, MDB, AltKey, SHA context, latch, partial input. */
void a608_volatile_reset(struct a608 *c);

/* Executes one complete command packet (count..CRC) and queues its response. */
void a608_execute(struct a608 *c, struct sim_ctx *ctx, uint64_t now_ns);
uint32_t a608_exec_ms(uint8_t opcode);

/* Monotonic counter rendering in the config zone (spec 5.4). */
uint32_t a608_counter_get(const struct a608 *c, unsigned id);
void a608_counter_put(struct a608 *c, unsigned id, uint32_t value);

/* Crypto (atecc608_crypto.c). Return 0 on success. */
int a608_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
int a608_random(struct a608 *c, uint8_t *out, size_t len);
int a608_ec_generate(uint8_t priv[32], uint8_t pub[64]);
int a608_ec_public(const uint8_t priv[32], uint8_t pub[64]);
int a608_ec_sign(const uint8_t priv[32], const uint8_t pub[64], const uint8_t digest[32],
                 uint8_t sig[64]);
/* The same with the key of a slot, through the slot's key cache. */
int a608_slot_sign(struct a608 *c, unsigned slot, const uint8_t digest[32], uint8_t sig[64]);
/* Frees every slot's cached key objects (a608_destroy). */
void a608_key_cache_free(struct a608 *c);
/* 1 valid, 0 invalid signature, -1 unusable public key or error. */
int a608_ec_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64]);
/* -1 when the peer point is not on the curve. */
int a608_ec_ecdh(const uint8_t priv[32], const uint8_t pub[64], const uint8_t peer[64],
                 uint8_t shared[32]);
void a608_sha_start(struct a608_sha *s);
void a608_sha_block(struct a608_sha *s, const uint8_t block[64]);
void a608_sha_finish(struct a608_sha *s, const uint8_t *tail, size_t len, uint8_t out[32]);

#endif
