/* The ATECC608A/B driver API, for the token layer (atecc_token.c) and for
 * tools (chip information, provisioning). Functions return enum atecc_err.
 *
 * One struct atecc_dev per chip; it caches the configuration zone, read once
 * at open. Only what can still change is read again: the lock bytes and
 * SlotLocked (and the whole zone while the config zone is unlocked). Every
 * chip exchange runs under the bus device lock, ends with the chip idle (or
 * asleep after a failed attempt), and is retried (re-wake, re-run from the
 * start) on transient errors. */
#ifndef SECCKI_ATECC_H
#define SECCKI_ATECC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/atecc608/atecc_config.h"
#include "hal/atecc608/atecc_err.h"
#include "hal/atecc608/atecc_io.h"

struct bus;
struct atecc_dev;

#define ATECC_DEFAULT_ADDRESS 0x60

/* Probes the chip at a 7-bit address (wake + Info + config zone).
 * ATECC_E_ABSENT when nothing answers, ATECC_E_CHIP when it is not an
 * ATECC608. */
int atecc_open(struct bus *bus, uint8_t addr, struct atecc_dev **out);
/* The same over any transport (the io table is copied). */
int atecc_open_io(const struct atecc_io *io, struct atecc_dev **out);
void atecc_close(struct atecc_dev *dev);

/* The device lock (recursive): hold it around several calls that must not
 * interleave with another process. */
int atecc_lock(struct atecc_dev *dev);
void atecc_unlock(struct atecc_dev *dev);

/* The cached configuration zone (128 bytes). */
const uint8_t *atecc_config(const struct atecc_dev *dev);
/* Info(Revision) bytes as sent: 00 00 60 vv. */
void atecc_revision(const struct atecc_dev *dev, uint8_t rev[4]);
/* "ATECC608A" or "ATECC608B" (revision byte 3 > 0x02). */
const char *atecc_model(const struct atecc_dev *dev);
void atecc_serial(const struct atecc_dev *dev, uint8_t sn[ATECC_SERIAL_SIZE]);
uint8_t atecc_address(const struct atecc_dev *dev);

/* Re-reads the lock bytes and SlotLocked (the whole zone while the config
 * zone is unlocked) into the cache. */
int atecc_refresh_locks(struct atecc_dev *dev);
bool atecc_is_config_locked(const struct atecc_dev *dev);
bool atecc_is_data_locked(const struct atecc_dev *dev);
/* From the cache; false for a slot out of range. */
bool atecc_slot(const struct atecc_dev *dev, unsigned slot, struct atecc_slot *out);

/* Key operations. Host-side checks of the slot configuration come first
 * (ATECC_E_POLICY / ATECC_E_LOCKED, logged with the slot); keys are P-256,
 * public keys X || Y (64 bytes), signatures R || S (64 bytes). */
int atecc_genkey(struct atecc_dev *dev, unsigned slot, uint8_t pub[64]);
int atecc_read_pubkey(struct atecc_dev *dev, unsigned slot, uint8_t pub[64]);
int atecc_sign_digest(struct atecc_dev *dev, unsigned slot, const uint8_t digest[32],
                      uint8_t sig[64]);
/* ATECC_OK when the signature is valid, ATECC_E_VERIFY when it is not. */
int atecc_verify_extern(struct atecc_dev *dev, const uint8_t digest[32], const uint8_t sig[64],
                        const uint8_t pub[64]);
int atecc_ecdh(struct atecc_dev *dev, unsigned slot, const uint8_t peer[64], uint8_t out[32]);
/* Refuses (ATECC_E_LOCKED) while the config zone is unlocked: the chip then
 * returns a fixed test pattern. */
int atecc_random(struct atecc_dev *dev, uint8_t *buf, size_t len);
/* SelfTest of the given tests (0x3B: all); *failed gets the failed-test bits. */
int atecc_selftest(struct atecc_dev *dev, uint8_t tests, uint8_t *failed);
int atecc_counter_read(struct atecc_dev *dev, unsigned id, uint32_t *value);

/* Programs a blank chip (config zone unlocked) with the TLS layout: slots
 * 0-4 P-256 private keys (ext sign, ECDH, GenKey allowed), slot 8 general
 * data, 9-15 data and certificate slots; locks the config zone (checked by
 * CRC), generates the keys in slots 0-4 and locks the data zone. The I2C
 * address stays the chip's current one. ATECC_E_LOCKED, touching nothing,
 * when the config zone is already locked. */
int atecc_provision(struct atecc_dev *dev);
/* The same with another configuration (bytes 16-83 and 88-127 are written;
 * keys are generated in every P-256 private slot it declares). */
int atecc_provision_layout(struct atecc_dev *dev, const uint8_t layout[ATECC_CONFIG_SIZE]);

/* The configuration atecc_provision writes, from the chip's current zone
 * (bytes 0-15 and 84-87 are copied, not written). */
void atecc_tls_layout(const uint8_t current[ATECC_CONFIG_SIZE], uint8_t addr7,
                      uint8_t out[ATECC_CONFIG_SIZE]);

#endif
