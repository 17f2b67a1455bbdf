#include "hal/atecc608/atecc_packet.h"

#include <string.h>

#include "hal/atecc608/atecc_crc.h"
#include "hal/atecc608/atecc_err.h"

size_t atecc_packet_build(uint8_t *out, size_t cap, uint8_t opcode, uint8_t p1, uint16_t p2,
                          const uint8_t *data, size_t dlen)
{
    size_t len = ATECC_CMD_MIN + dlen;

    if (dlen > ATECC_CMD_DATA_MAX || len > cap || (dlen > 0 && data == NULL))
        return 0;
    out[0] = (uint8_t)len;
    out[1] = opcode;
    out[2] = p1;
    out[3] = (uint8_t)(p2 & 0xff);
    out[4] = (uint8_t)(p2 >> 8);
    if (dlen > 0)
        memcpy(out + 5, data, dlen);
    atecc_crc16_put(out, len - 2, out + len - 2);
    return len;
}

int atecc_response_parse(const uint8_t *grp, size_t len, size_t cap, const uint8_t **payload,
                         size_t *plen)
{
    if (len < ATECC_RSP_MIN || len > cap || grp[0] != len)
        return ATECC_E_COUNT;
    if (!atecc_crc16_ok(grp, len))
        return ATECC_E_CRC;
    *payload = grp + 1;
    *plen = len - 3;
    return ATECC_OK;
}

int atecc_status_to_err(uint8_t status)
{
    switch (status) {
    case 0x00: return ATECC_OK;
    case 0x01: return ATECC_E_VERIFY;
    case 0x03: return ATECC_E_PARSE;
    case 0x05: return ATECC_E_ECC;
    case 0x07: return ATECC_E_SELFTEST;
    case 0x08: return ATECC_E_HEALTH;
    case 0x0F: return ATECC_E_EXEC;
    case 0x11: return ATECC_E_WAKE;
    case 0xEE: return ATECC_E_WATCHDOG;
    case 0xFF: return ATECC_E_CRC;
    default: return ATECC_E_STATUS;
    }
}
