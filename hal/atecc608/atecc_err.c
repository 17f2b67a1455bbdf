#include "hal/atecc608/atecc_err.h"

bool atecc_err_transient(int err)
{
    switch (err) {
    case ATECC_E_WAKE:
    case ATECC_E_WATCHDOG:
    case ATECC_E_CRC:
    case ATECC_E_COUNT:
    case ATECC_E_SIZE:
    case ATECC_E_BUSY:
    case ATECC_E_COMM:
    case ATECC_E_ABSENT:
        return true;
    default:
        return false;
    }
}

const char *atecc_strerror(int err)
{
    switch (err) {
    case ATECC_OK: return "ok";
    case ATECC_E_VERIFY: return "verify miscompare (0x01)";
    case ATECC_E_PARSE: return "parse error (0x03)";
    case ATECC_E_ECC: return "ECC fault (0x05)";
    case ATECC_E_SELFTEST: return "self-test failure (0x07)";
    case ATECC_E_HEALTH: return "RNG health test failure (0x08)";
    case ATECC_E_EXEC: return "execution error (0x0F)";
    case ATECC_E_WAKE: return "unexpected wake state (0x11)";
    case ATECC_E_WATCHDOG: return "watchdog about to expire (0xEE)";
    case ATECC_E_CRC: return "CRC or communication error";
    case ATECC_E_STATUS: return "unknown status byte";
    case ATECC_E_COUNT: return "response count out of range";
    case ATECC_E_SIZE: return "response of unexpected length";
    case ATECC_E_BUSY: return "chip busy past its worst-case time";
    case ATECC_E_COMM: return "bus transfer failed";
    case ATECC_E_ABSENT: return "chip does not answer";
    case ATECC_E_BUSLOCK: return "device lock unavailable";
    case ATECC_E_CHIP: return "not an ATECC608";
    case ATECC_E_ARGS: return "bad request";
    case ATECC_E_NOMEM: return "out of memory";
    case ATECC_E_POLICY: return "forbidden by slot configuration";
    case ATECC_E_LOCKED: return "forbidden by lock state";
    default: return "unknown error";
    }
}
