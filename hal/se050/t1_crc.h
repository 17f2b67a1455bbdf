/* The SE050 T=1-over-I2C block CRC (UM11225): CRC-16/X-25 — reflected
 * polynomial 0x8408, initial 0xFFFF, final XOR 0xFFFF — over NAD, PCB, LEN
 * and INF, sent low byte first. */
#ifndef SECCKI_T1_CRC_H
#define SECCKI_T1_CRC_H

#include <stddef.h>
#include <stdint.h>

uint16_t t1_crc16(const uint8_t *data, size_t len);

/* Writes the CRC of data[0..len) into out[0] (low byte) and out[1]. */
void t1_crc16_put(const uint8_t *data, size_t len, uint8_t out[2]);

/* True when the last two bytes of frame[0..len) are the CRC of the rest. */
int t1_crc16_ok(const uint8_t *frame, size_t len);

#endif
