#include "hal/atecc608/atecc_cmd.h"

#include <string.h>

#include "hal/atecc608/atecc_err.h"
#include "hal/atecc608/atecc_packet.h"

#define READ_WRITE_32 0x80
#define NONCE_PASSTHROUGH_MDB 0x43
#define SIGN_EXTERNAL_MDB 0xA0
#define VERIFY_EXTERNAL_MDB 0x22
#define VERIFY_KEY_P256 0x0004
#define ECDH_SLOT_TO_OUTPUT_CLEAR 0x0C

uint16_t atecc_addr_config_block(unsigned block)
{
    return (uint16_t)((block & 3u) << 3);
}

uint16_t atecc_addr_config_word(unsigned word)
{
    return (uint16_t)(word & 0x1fu);
}

uint16_t atecc_addr_data(unsigned slot, unsigned block, unsigned word)
{
    return (uint16_t)(((block & 0xfu) << 8) | ((slot & 0xfu) << 3) | (word & 7u));
}

int atecc_cmd_info(const struct atecc_io *io, uint8_t mode, uint16_t p2, uint8_t out[4])
{
    return atecc_execute(io, ATECC_OP_INFO, mode, p2, NULL, 0, out, 4);
}

int atecc_cmd_read(const struct atecc_io *io, enum atecc_zone zone, uint16_t addr, uint8_t *out,
                   size_t len)
{
    if (len != 4 && len != 32)
        return ATECC_E_ARGS;
    return atecc_execute(io, ATECC_OP_READ, (uint8_t)(zone | (len == 32 ? READ_WRITE_32 : 0)),
                         addr, NULL, 0, out, len);
}

int atecc_cmd_write(const struct atecc_io *io, enum atecc_zone zone, uint16_t addr,
                    const uint8_t *data, size_t len)
{
    if (len != 4 && len != 32)
        return ATECC_E_ARGS;
    return atecc_execute(io, ATECC_OP_WRITE, (uint8_t)(zone | (len == 32 ? READ_WRITE_32 : 0)),
                         addr, data, len, NULL, 0);
}

int atecc_cmd_lock(const struct atecc_io *io, uint8_t mode, uint16_t crc)
{
    return atecc_execute(io, ATECC_OP_LOCK, mode, crc, NULL, 0, NULL, 0);
}

int atecc_cmd_random(const struct atecc_io *io, uint8_t out[32])
{
    return atecc_execute(io, ATECC_OP_RANDOM, 0x00, 0x0000, NULL, 0, out, 32);
}

int atecc_cmd_nonce_mdb(const struct atecc_io *io, const uint8_t msg[32])
{
    return atecc_execute(io, ATECC_OP_NONCE, NONCE_PASSTHROUGH_MDB, 0x0000, msg, 32, NULL, 0);
}

int atecc_cmd_genkey(const struct atecc_io *io, uint8_t mode, uint16_t slot, uint8_t pub[64])
{
    return atecc_execute(io, ATECC_OP_GENKEY, mode, slot, NULL, 0, pub, 64);
}

int atecc_cmd_sign_mdb(const struct atecc_io *io, uint16_t slot, uint8_t sig[64])
{
    return atecc_execute(io, ATECC_OP_SIGN, SIGN_EXTERNAL_MDB, slot, NULL, 0, sig, 64);
}

int atecc_cmd_verify_extern_mdb(const struct atecc_io *io, const uint8_t sig[64],
                                const uint8_t pub[64])
{
    uint8_t data[128];

    memcpy(data, sig, 64);
    memcpy(data + 64, pub, 64);
    return atecc_execute(io, ATECC_OP_VERIFY, VERIFY_EXTERNAL_MDB, VERIFY_KEY_P256, data,
                         sizeof data, NULL, 0);
}

int atecc_cmd_ecdh(const struct atecc_io *io, uint16_t slot, const uint8_t pub[64],
                   uint8_t out[32])
{
    return atecc_execute(io, ATECC_OP_ECDH, ECDH_SLOT_TO_OUTPUT_CLEAR, slot, pub, 64, out, 32);
}

int atecc_cmd_selftest(const struct atecc_io *io, uint8_t tests, uint8_t *result)
{
    return atecc_execute(io, ATECC_OP_SELFTEST, tests, 0x0000, NULL, 0, result, 1);
}

int atecc_cmd_counter(const struct atecc_io *io, uint8_t mode, uint16_t id, uint32_t *value)
{
    uint8_t v[4];
    int rc = atecc_execute(io, ATECC_OP_COUNTER, mode, id, NULL, 0, v, sizeof v);

    if (rc == ATECC_OK)
        *value = (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 |
                 (uint32_t)v[3] << 24;
    return rc;
}

int atecc_cmd_update_extra(const struct atecc_io *io, uint8_t mode, uint8_t value)
{
    return atecc_execute(io, ATECC_OP_UPDATE_EXTRA, mode, value, NULL, 0, NULL, 0);
}
