/* C_InitToken, C_InitPIN, C_SetPIN. The PIN verifiers and try counters live
 * in the host store; a PIN itself is never stored or logged. */
#include <string.h>

#include <openssl/crypto.h>

#include "hal/log.h"
#include "module/internal.h"

CK_RV pin_check_length(CK_ULONG len)
{
    return len < MOD_PIN_MIN || len > MOD_PIN_MAX ? CKR_PIN_LEN_RANGE : CKR_OK;
}

/* C_InitToken destroys every key that can be destroyed: on fixed-slot chips
 * by regenerating it in place, so the old key is gone for real. */
static CK_RV destroy_user_keys(struct slot *sl)
{
    size_t i = 0;

    while (i < sl->store.nkeys) {
        uint32_t id = sl->store.keys[i].chip_id;
        int rc = sl->ops->destroy(sl->dev, id);
        if (rc != TOK_OK && rc != TOK_E_NOT_FOUND && rc != TOK_E_POLICY) {
            log_error("init-token", "token %s: destroying key %u failed: %s", sl->conf.name, id,
                      tok_strerror(rc));
            return ckr_from_tok(rc, TCTX_DESTROY);
        }
        store_key_remove(&sl->store, id);
    }
    return CKR_OK;
}

static CK_RV init_token(struct slot *sl, CK_UTF8CHAR_PTR pin, CK_ULONG len,
                        const CK_UTF8CHAR *label32)
{
    char label[33];
    size_t n = 32;
    CK_RV rv;

    memcpy(label, label32, 32);
    while (n > 0 && label[n - 1] == ' ')
        n--;
    label[n] = '\0';
    if (n == 0 || memchr(label, '\0', n) != NULL)
        return CKR_ARGUMENTS_BAD;

    store_refresh(&sl->store);
    if (sl->store.broken)
        return CKR_DEVICE_ERROR;
    if (sl->store.so.set) {
        rv = pin_verify(sl, &sl->store.so, pin, len);
        if (rv != CKR_OK)
            return rv;
    }
    rv = destroy_user_keys(sl);
    if (rv != CKR_OK)
        return rv;
    memcpy(sl->store.label, label, n + 1);
    if (store_pin_set(&sl->store.so, pin, len) != 0)
        return CKR_FUNCTION_FAILED;
    memset(&sl->store.user, 0, sizeof sl->store.user);
    sl->store.initialized = true;
    if (store_save(&sl->store) != 0)
        return CKR_DEVICE_ERROR;
    log_info("init-token", "token %s initialised with label '%s'", sl->conf.name, label);
    return CKR_OK;
}

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                  CK_UTF8CHAR_PTR pLabel)
{
    struct module *m;
    struct slot *sl;
    CK_RV rv;

    if (pLabel == NULL || (pPin == NULL && ulPinLen != 0))
        return args_bad();
    rv = slot_enter(slotID, &m, &sl);
    if (rv != CKR_OK)
        return rv;
    if (session_count(m, slotID, false) != 0) {
        rv = CKR_SESSION_EXISTS;
    } else if (pPin == NULL) {
        rv = CKR_PIN_INCORRECT; /* no protected authentication path */
    } else if ((rv = pin_check_length(ulPinLen)) == CKR_OK) {
        sl->ops->lock(sl->dev);
        rv = init_token(sl, pPin, ulPinLen, pLabel);
        sl->ops->unlock(sl->dev);
        sl->objs_loaded = false;
    }
    mod_unlock(m);
    return rv;
}

static CK_RV set_pin_locked(struct slot *sl, struct store_pin *which, CK_UTF8CHAR_PTR pin,
                            CK_ULONG len)
{
    struct store_pin fresh;

    if (store_pin_set(&fresh, pin, len) != 0)
        return CKR_FUNCTION_FAILED;
    sl->ops->lock(sl->dev);
    store_refresh(&sl->store);
    if (sl->store.broken) {
        sl->ops->unlock(sl->dev);
        return CKR_DEVICE_ERROR;
    }
    *which = fresh;
    int rc = store_save(&sl->store);
    sl->ops->unlock(sl->dev);
    OPENSSL_cleanse(&fresh, sizeof fresh);
    return rc == 0 ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    CK_RV rv;

    rv = session_enter(hSession, &m, &s, &sl);
    if (rv != CKR_OK)
        return rv;
    if (sl->login != LOGIN_SO)
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (!(s->flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_ONLY;
    else if (pPin == NULL)
        rv = ulPinLen ? CKR_ARGUMENTS_BAD : CKR_PIN_INVALID;
    else if ((rv = pin_check_length(ulPinLen)) == CKR_OK)
        rv = set_pin_locked(sl, &sl->store.user, pPin, ulPinLen);
    session_leave(m);
    return rv;
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
               CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    struct store_pin *which;
    CK_RV rv;

    rv = session_enter(hSession, &m, &s, &sl);
    if (rv != CKR_OK)
        return rv;
    which = sl->login == LOGIN_SO ? &sl->store.so : &sl->store.user;
    if (!(s->flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_ONLY;
    else if ((pOldPin == NULL && ulOldLen) || (pNewPin == NULL && ulNewLen))
        rv = CKR_ARGUMENTS_BAD;
    else if (pOldPin == NULL || pNewPin == NULL)
        rv = CKR_PIN_INVALID;
    else if (!which->set)
        rv = CKR_USER_PIN_NOT_INITIALIZED;
    else if ((rv = pin_verify(sl, which, pOldPin, ulOldLen)) == CKR_OK &&
             (rv = pin_check_length(ulNewLen)) == CKR_OK)
        rv = set_pin_locked(sl, which, pNewPin, ulNewLen);
    session_leave(m);
    return rv;
}
