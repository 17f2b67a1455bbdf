#include "atecc_crc.h"

uint16_t atecc_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            unsigned in = (data[i] >> bit) & 1u;
            unsigned top = (crc >> 15) & 1u;
            crc = (uint16_t)(crc << 1);
            if (in ^ top)
                crc ^= 0x8005;
        }
    }
    return crc;
}

void atecc_crc16_put(const uint8_t *data, size_t len, uint8_t out[2])
{
    uint16_t crc = atecc_crc16(data, len);

    out[0] = (uint8_t)(crc & 0xff);
    out[1] = (uint8_t)(crc >> 8);
}

int atecc_crc16_ok(const uint8_t *frame, size_t len)
{
    uint8_t c[2];

    if (len < 3)
        return 0;
    atecc_crc16_put(frame, len - 2, c);
    return c[0] == frame[len - 2] && c[1] == frame[len - 1];
}
