/* ATECC608 command packets and response groups: the only place where the
 * wire layout of a command or a response is built or parsed. */
#ifndef SECCKI_ATECC_PACKET_H
#define SECCKI_ATECC_PACKET_H

#include <stddef.h>
#include <stdint.h>

enum atecc_opcode {
    ATECC_OP_READ = 0x02,
    ATECC_OP_WRITE = 0x12,
    ATECC_OP_NONCE = 0x16,
    ATECC_OP_LOCK = 0x17,
    ATECC_OP_RANDOM = 0x1B,
    ATECC_OP_UPDATE_EXTRA = 0x20,
    ATECC_OP_COUNTER = 0x24,
    ATECC_OP_INFO = 0x30,
    ATECC_OP_GENKEY = 0x40,
    ATECC_OP_SIGN = 0x41,
    ATECC_OP_ECDH = 0x43,
    ATECC_OP_VERIFY = 0x45,
    ATECC_OP_SELFTEST = 0x77,
};

#define ATECC_CMD_MIN 7u        /* count, opcode, p1, p2 (2), CRC (2) */
#define ATECC_CMD_DATA_MAX 155u
#define ATECC_CMD_MAX (ATECC_CMD_MIN + ATECC_CMD_DATA_MAX)
#define ATECC_RSP_MIN 4u        /* count, one status byte, CRC (2) */
#define ATECC_RSP_MAX 99u       /* GenKey with MAC, the largest group we may see */

/* Builds count, opcode, p1, p2 (little-endian), data, CRC into out.
 * Returns the packet length, or 0 when data is too long or out too small. */
size_t atecc_packet_build(uint8_t *out, size_t cap, uint8_t opcode, uint8_t p1, uint16_t p2,
                          const uint8_t *data, size_t dlen);

/* Checks a whole response group grp[0..len): 4 <= count <= cap, count == len,
 * CRC. On success points *payload at the bytes between count and CRC.
 * Returns ATECC_OK, ATECC_E_COUNT or ATECC_E_CRC. */
int atecc_response_parse(const uint8_t *grp, size_t len, size_t cap, const uint8_t **payload,
                         size_t *plen);

/* The driver error for a status byte of a 4-byte group (0x00 -> ATECC_OK). */
int atecc_status_to_err(uint8_t status);

#endif
