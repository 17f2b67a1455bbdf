/* ATECC608 commands, one function each, for a chip that is already awake
 * (inside an atecc_run sequence). Lengths are fixed by the command, so the
 * buffers are sized by the caller as documented. */
#ifndef SECCKI_ATECC_CMD_H
#define SECCKI_ATECC_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/atecc608/atecc_io.h"

enum atecc_zone { ATECC_ZONE_CONFIG = 0, ATECC_ZONE_OTP = 1, ATECC_ZONE_DATA = 2 };

#define ATECC_INFO_REVISION 0x00
#define ATECC_GENKEY_PRIVATE 0x04 /* new random key in the slot, returns public */
#define ATECC_GENKEY_PUBLIC 0x00  /* public key of the slot's private key */
#define ATECC_LOCK_CONFIG 0x00    /* p2 = CRC of the 128 config bytes */
#define ATECC_LOCK_DATA_NOCRC 0x81
#define ATECC_SELFTEST_ALL 0x3B

/* Read/Write address (p2) of 32-byte block `block` of a config zone, of
 * 4-byte word `word` (byte offset / 4), and of a data slot block. */
uint16_t atecc_addr_config_block(unsigned block);
uint16_t atecc_addr_config_word(unsigned word);
uint16_t atecc_addr_data(unsigned slot, unsigned block, unsigned word);

int atecc_cmd_info(const struct atecc_io *io, uint8_t mode, uint16_t p2, uint8_t out[4]);
/* len 4 or 32 */
int atecc_cmd_read(const struct atecc_io *io, enum atecc_zone zone, uint16_t addr, uint8_t *out,
                   size_t len);
int atecc_cmd_write(const struct atecc_io *io, enum atecc_zone zone, uint16_t addr,
                    const uint8_t *data, size_t len);
int atecc_cmd_lock(const struct atecc_io *io, uint8_t mode, uint16_t crc);
int atecc_cmd_random(const struct atecc_io *io, uint8_t out[32]);
/* Nonce pass-through of a 32-byte message into the message digest buffer. */
int atecc_cmd_nonce_mdb(const struct atecc_io *io, const uint8_t msg[32]);
int atecc_cmd_genkey(const struct atecc_io *io, uint8_t mode, uint16_t slot, uint8_t pub[64]);
/* Sign the external message in the message digest buffer: R || S. */
int atecc_cmd_sign_mdb(const struct atecc_io *io, uint16_t slot, uint8_t sig[64]);
/* Verify external P-256 of the message in the digest buffer: ATECC_OK when
 * valid, ATECC_E_VERIFY when not. */
int atecc_cmd_verify_extern_mdb(const struct atecc_io *io, const uint8_t sig[64],
                                const uint8_t pub[64]);
/* ECDH with the key in slot, shared X coordinate out in clear. */
int atecc_cmd_ecdh(const struct atecc_io *io, uint16_t slot, const uint8_t pub[64],
                   uint8_t out[32]);
int atecc_cmd_selftest(const struct atecc_io *io, uint8_t tests, uint8_t *result);
/* mode 0 read, 1 increment; the value is little-endian on the wire. */
int atecc_cmd_counter(const struct atecc_io *io, uint8_t mode, uint16_t id, uint32_t *value);
int atecc_cmd_update_extra(const struct atecc_io *io, uint8_t mode, uint8_t value);

#endif
