/* Driver errors to PKCS#11 return codes, in one place. The context says what
 * the caller was doing, where the standard has a more precise code. */
#include "module/internal.h"

CK_RV ckr_from_tok(int err, enum tok_ctx ctx)
{
    switch (err) {
    case TOK_OK:
        return CKR_OK;
    case TOK_E_ARGS:
        return CKR_ARGUMENTS_BAD;
    case TOK_E_UNSUPPORTED:
        return ctx == TCTX_KEYGEN ? CKR_TEMPLATE_INCONSISTENT : CKR_FUNCTION_NOT_SUPPORTED;
    case TOK_E_NOT_FOUND:
        return ctx == TCTX_SIGN || ctx == TCTX_DERIVE ? CKR_KEY_HANDLE_INVALID
                                                      : CKR_OBJECT_HANDLE_INVALID;
    case TOK_E_EXISTS:
        return CKR_ATTRIBUTE_VALUE_INVALID;
    case TOK_E_FULL:
        return CKR_DEVICE_MEMORY;
    case TOK_E_POLICY:
    case TOK_E_LOCKED:
        if (ctx == TCTX_SIGN || ctx == TCTX_DERIVE)
            return CKR_KEY_FUNCTION_NOT_PERMITTED;
        /* C_GenerateKeyPair and C_CreateObject may not return ACTION_PROHIBITED */
        if (ctx == TCTX_KEYGEN)
            return CKR_TOKEN_WRITE_PROTECTED;
        return CKR_ACTION_PROHIBITED;
    case TOK_E_NOMEM:
        return CKR_HOST_MEMORY;
    case TOK_E_DATA_LEN:
        return CKR_DATA_LEN_RANGE;
    case TOK_E_DATA_INVALID:
        return ctx == TCTX_DERIVE ? CKR_MECHANISM_PARAM_INVALID : CKR_DATA_INVALID;
    case TOK_E_ABSENT:
    case TOK_E_DEVICE:
    default:
        return CKR_DEVICE_ERROR;
    }
}
