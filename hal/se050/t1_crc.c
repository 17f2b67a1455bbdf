#include "t1_crc.h"

uint16_t t1_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (unsigned bit = 0; bit < 8; bit++)
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
    }
    return (uint16_t)(crc ^ 0xFFFF);
}

void t1_crc16_put(const uint8_t *data, size_t len, uint8_t out[2])
{
    uint16_t crc = t1_crc16(data, len);

    out[0] = (uint8_t)(crc & 0xff);
    out[1] = (uint8_t)(crc >> 8);
}

int t1_crc16_ok(const uint8_t *frame, size_t len)
{
    uint8_t c[2];

    if (len < 3)
        return 0;
    t1_crc16_put(frame, len - 2, c);
    return c[0] == frame[len - 2] && c[1] == frame[len - 1];
}
