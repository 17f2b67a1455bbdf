/* The chip drivers this build knows, by their config name. */
#include <string.h>

#include "module/token.h"

extern const struct token_ops token_ops_atecc608;
extern const struct token_ops token_ops_se050;

static const struct token_ops *const drivers[] = {
    &token_ops_atecc608,
    &token_ops_se050,
};

const struct token_ops *token_driver_find(const char *chip)
{
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (chip != NULL && strcmp(drivers[i]->chip, chip) == 0)
            return drivers[i];
    return NULL;
}

const char *tok_strerror(int err)
{
    switch (err) {
    case TOK_OK: return "ok";
    case TOK_E_ARGS: return "request the chip cannot take";
    case TOK_E_UNSUPPORTED: return "not supported by this chip";
    case TOK_E_NOT_FOUND: return "no such object on the chip";
    case TOK_E_EXISTS: return "object id in use";
    case TOK_E_FULL: return "chip full";
    case TOK_E_POLICY: return "forbidden by the chip's policy";
    case TOK_E_LOCKED: return "locked or not provisioned";
    case TOK_E_DEVICE: return "device error";
    case TOK_E_ABSENT: return "chip does not answer";
    case TOK_E_NOMEM: return "out of memory";
    case TOK_E_DATA_LEN: return "input length out of range";
    case TOK_E_DATA_INVALID: return "input rejected by the chip";
    default: return "unknown error";
    }
}
