/* The ATECC608 packet CRC-16: polynomial 0x8005, initial value 0, data bits
 * taken LSB first, register not reflected, sent low byte first. */
#ifndef SECCKI_ATECC_CRC_H
#define SECCKI_ATECC_CRC_H

#include <stddef.h>
#include <stdint.h>

uint16_t atecc_crc16(const uint8_t *data, size_t len);

/* Writes the CRC of data[0..len) into out[0] (low byte) and out[1]. */
void atecc_crc16_put(const uint8_t *data, size_t len, uint8_t out[2]);

/* True when the last two bytes of frame[0..len) are the CRC of the rest. */
int atecc_crc16_ok(const uint8_t *frame, size_t len);

#endif
