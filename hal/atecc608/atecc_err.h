/* Errors of the ATECC608 driver: the chip's own status codes, what the host
 * finds wrong with a response, and the host-side refusals. */
#ifndef SECCKI_ATECC_ERR_H
#define SECCKI_ATECC_ERR_H

#include <stdbool.h>

enum atecc_err {
    ATECC_OK = 0,
    /* status bytes of a 4-byte response group */
    ATECC_E_VERIFY,    /* 0x01 CheckMac/Verify miscompare */
    ATECC_E_PARSE,     /* 0x03 length, opcode or parameter illegal */
    ATECC_E_ECC,       /* 0x05 computation fault */
    ATECC_E_SELFTEST,  /* 0x07 chip in self-test failure state */
    ATECC_E_HEALTH,    /* 0x08 RNG health test failed */
    ATECC_E_EXEC,      /* 0x0F not allowed in the current state / policy */
    ATECC_E_WAKE,      /* 0x11 where a result was expected, or no wake answer */
    ATECC_E_WATCHDOG,  /* 0xEE watchdog about to expire, not executed */
    ATECC_E_CRC,       /* 0xFF from the chip, or a response with a bad CRC */
    ATECC_E_STATUS,    /* a status byte no table knows */
    /* framing and bus */
    ATECC_E_COUNT,     /* response count byte out of range */
    ATECC_E_SIZE,      /* response of a length the command never gives */
    ATECC_E_BUSY,      /* chip still NACKing after the command's worst-case time */
    ATECC_E_COMM,      /* bus transfer failed */
    ATECC_E_ABSENT,    /* nothing ever acknowledged */
    ATECC_E_BUSLOCK,   /* device lock could not be taken */
    ATECC_E_CHIP,      /* something answered, but not an ATECC608 */
    /* host-side refusals */
    ATECC_E_ARGS,
    ATECC_E_NOMEM,
    ATECC_E_POLICY,    /* the slot's configuration forbids the operation */
    ATECC_E_LOCKED,    /* the zone lock state forbids it (or slot locked) */
};

/* Errors that a re-wake and a re-run of the whole sequence may cure. */
bool atecc_err_transient(int err);

const char *atecc_strerror(int err);

#endif
