/* Sessions and login state. Login state belongs to the token and is shared by
 * all sessions of the application, as the standard says. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hal/log.h"
#include "module/internal.h"

static void op_reset(struct operation *op)
{
    EVP_MD_CTX_free(op->md);
    free(op->found);
    OPENSSL_cleanse(op->buf, sizeof op->buf);
    memset(op, 0, sizeof *op);
}

void session_free_ops(struct session *s)
{
    op_reset(&s->find);
    op_reset(&s->sign);
    op_reset(&s->verify);
    op_reset(&s->digest);
}

struct session *session_get(struct module *m, CK_SESSION_HANDLE h)
{
    if (h == 0)
        return NULL;
    for (size_t i = 0; i < MOD_MAX_SESSIONS; i++)
        if (m->sessions[i].handle == h)
            return &m->sessions[i];
    return NULL;
}

size_t session_count(const struct module *m, CK_SLOT_ID slot, bool rw_only)
{
    size_t n = 0;

    for (size_t i = 0; i < MOD_MAX_SESSIONS; i++) {
        const struct session *s = &m->sessions[i];
        if (s->handle != 0 && s->slot == slot && (!rw_only || (s->flags & CKF_RW_SESSION)))
            n++;
    }
    return n;
}

static CK_RV enter(CK_SESSION_HANDLE h, bool refresh, struct module **mp, struct session **sp,
                   struct slot **slp)
{
    struct module *m = mod_get();
    struct session *s;
    struct slot *sl;
    CK_RV rv;

    if (mod_check(m) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    rv = mod_lock(m);
    if (rv != CKR_OK)
        return rv;
    s = session_get(m, h);
    if (s == NULL) {
        mod_unlock(m);
        return CKR_SESSION_HANDLE_INVALID;
    }
    sl = slot_get(m, s->slot);
    if (sl == NULL || sl->dev == NULL) {
        mod_unlock(m);
        return CKR_DEVICE_REMOVED;
    }
    /* Another process may have changed labels, keys or PIN counters. */
    if (refresh && store_refresh(&sl->store) > 0)
        sl->objs_loaded = false;
    *mp = m;
    *sp = s;
    *slp = sl;
    return CKR_OK;
}

CK_RV session_enter(CK_SESSION_HANDLE h, struct module **mp, struct session **sp,
                    struct slot **slp)
{
    return enter(h, true, mp, sp, slp);
}

/* The later calls of an operation (C_Sign after C_SignInit, ...): what they
 * use was checked when it began, so the store is not looked at again. */
CK_RV session_enter_op(CK_SESSION_HANDLE h, struct module **mp, struct session **sp,
                       struct slot **slp)
{
    return enter(h, false, mp, sp, slp);
}

void session_leave(struct module *m)
{
    mod_unlock(m);
}

static void session_close(struct module *m, struct session *s)
{
    struct slot *sl = slot_get(m, s->slot);

    if (sl != NULL)
        obj_remove_session(sl, s->handle);
    session_free_ops(s);
    memset(s, 0, sizeof *s);
    if (sl != NULL && session_count(m, sl->id, false) == 0)
        sl->login = LOGIN_NONE;
}

void session_close_all(struct module *m, CK_SLOT_ID slot)
{
    for (size_t i = 0; i < MOD_MAX_SESSIONS; i++)
        if (m->sessions[i].handle != 0 && m->sessions[i].slot == slot)
            session_close(m, &m->sessions[i]);
}

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                    CK_SESSION_HANDLE_PTR phSession)
{
    struct module *m;
    struct slot *sl;
    struct session *s = NULL;
    CK_RV rv;

    (void)pApplication;
    (void)Notify; /* no callbacks are ever made: operations do not block for user input */
    if (phSession == NULL)
        return args_bad();
    if (!(flags & CKF_SERIAL_SESSION))
        return mod_check(mod_get()) != CKR_OK ? CKR_CRYPTOKI_NOT_INITIALIZED
                                              : CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    rv = slot_enter(slotID, &m, &sl);
    if (rv != CKR_OK)
        return rv;
    if (!(flags & CKF_RW_SESSION) && sl->login == LOGIN_SO) {
        mod_unlock(m);
        return CKR_SESSION_READ_WRITE_SO_EXISTS;
    }
    for (size_t i = 0; i < MOD_MAX_SESSIONS; i++) {
        if (m->sessions[i].handle == 0) {
            s = &m->sessions[i];
            break;
        }
    }
    if (s == NULL) {
        mod_unlock(m);
        return CKR_SESSION_COUNT;
    }
    memset(s, 0, sizeof *s);
    s->handle = m->next_session++;
    if (m->next_session == 0)
        m->next_session = 1;
    s->slot = slotID;
    s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
    *phSession = s->handle;
    mod_unlock(m);
    return CKR_OK;
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    struct module *m = mod_get();
    struct session *s;
    CK_RV rv;

    if (mod_check(m) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    rv = mod_lock(m);
    if (rv != CKR_OK)
        return rv;
    s = session_get(m, hSession);
    if (s == NULL)
        rv = CKR_SESSION_HANDLE_INVALID;
    else
        session_close(m, s);
    mod_unlock(m);
    return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    struct module *m = mod_get();
    CK_RV rv;

    if (mod_check(m) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    rv = mod_lock(m);
    if (rv != CKR_OK)
        return rv;
    if (slot_get(m, slotID) == NULL)
        rv = CKR_SLOT_ID_INVALID;
    else
        session_close_all(m, slotID);
    mod_unlock(m);
    return rv;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    CK_RV rv;

    if (pInfo == NULL)
        return args_bad();
    rv = session_enter(hSession, &m, &s, &sl);
    if (rv != CKR_OK)
        return rv;
    bool rw = (s->flags & CKF_RW_SESSION) != 0;
    memset(pInfo, 0, sizeof *pInfo);
    pInfo->slotID = s->slot;
    pInfo->flags = s->flags;
    if (sl->login == LOGIN_SO)
        pInfo->state = CKS_RW_SO_FUNCTIONS;
    else if (sl->login == LOGIN_USER)
        pInfo->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        pInfo->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    session_leave(m);
    return CKR_OK;
}

/* One wrong PIN more; the counter lives in the store so that restarting the
 * process does not reset it. */
static void pin_failed(struct slot *sl, struct store_pin *p)
{
    sl->ops->lock(sl->dev);
    store_refresh(&sl->store);
    p->fails++;
    store_save(&sl->store);
    sl->ops->unlock(sl->dev);
}

static void pin_succeeded(struct slot *sl, struct store_pin *p)
{
    if (p->fails == 0)
        return;
    sl->ops->lock(sl->dev);
    store_refresh(&sl->store);
    p->fails = 0;
    store_save(&sl->store);
    sl->ops->unlock(sl->dev);
}

/* Checks a PIN against a verifier, counting failures: CKR_OK, CKR_PIN_INCORRECT
 * or CKR_PIN_LOCKED. */
CK_RV pin_verify(struct slot *sl, struct store_pin *p, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    if (p->fails >= MOD_PIN_TRIES)
        return CKR_PIN_LOCKED;
    if (pin == NULL || !store_pin_matches(p, pin, len)) {
        pin_failed(sl, p);
        log_warn("login", "token %s: wrong PIN (%u of %d tries used)", sl->conf.name, p->fails,
                 MOD_PIN_TRIES);
        return p->fails >= MOD_PIN_TRIES ? CKR_PIN_LOCKED : CKR_PIN_INCORRECT;
    }
    pin_succeeded(sl, p);
    return CKR_OK;
}

static bool ro_session_exists(const struct module *m, CK_SLOT_ID slot)
{
    return session_count(m, slot, false) != session_count(m, slot, true);
}

static CK_RV login(struct module *m, struct slot *sl, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin,
                   CK_ULONG len)
{
    CK_RV rv;

    if (type == CKU_CONTEXT_SPECIFIC)
        return CKR_OPERATION_NOT_INITIALIZED; /* no key here needs re-authentication */
    if (type != CKU_USER && type != CKU_SO)
        return CKR_USER_TYPE_INVALID;
    if (sl->login != LOGIN_NONE)
        return (sl->login == LOGIN_USER) == (type == CKU_USER) ? CKR_USER_ALREADY_LOGGED_IN
                                                               : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    if (type == CKU_USER && sl->conf.login == CONF_LOGIN_NONE) {
        /* No PIN gates the keys; any PIN, NULL included, is accepted. */
        sl->login = LOGIN_USER;
        return CKR_OK;
    }
    if (pin == NULL && len != 0)
        return CKR_ARGUMENTS_BAD;
    if (type == CKU_SO) {
        if (ro_session_exists(m, sl->id))
            return CKR_SESSION_READ_ONLY_EXISTS;
        if (!sl->store.so.set)
            return CKR_USER_PIN_NOT_INITIALIZED;
        rv = pin_verify(sl, &sl->store.so, pin, len);
    } else {
        if (!sl->store.user.set)
            return CKR_USER_PIN_NOT_INITIALIZED;
        rv = pin_verify(sl, &sl->store.user, pin, len);
    }
    if (rv == CKR_OK)
        sl->login = type == CKU_SO ? LOGIN_SO : LOGIN_USER;
    return rv;
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
              CK_ULONG ulPinLen)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    CK_RV rv = session_enter(hSession, &m, &s, &sl);

    if (rv != CKR_OK)
        return rv;
    rv = login(m, sl, userType, pPin, ulPinLen);
    session_leave(m);
    return rv;
}

CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                  CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen)
{
    (void)pUsername;
    (void)ulUsernameLen; /* tokens here have no user names: the standard says ignore it */
    return C_Login(hSession, userType, pPin, ulPinLen);
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    CK_RV rv = session_enter(hSession, &m, &s, &sl);

    if (rv != CKR_OK)
        return rv;
    if (sl->login == LOGIN_NONE) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else {
        sl->login = LOGIN_NONE;
        /* Operations on private keys end with the login that allowed them. */
        for (size_t i = 0; i < MOD_MAX_SESSIONS; i++) {
            if (m->sessions[i].handle != 0 && m->sessions[i].slot == sl->id)
                session_free_ops(&m->sessions[i]);
        }
    }
    session_leave(m);
    return rv;
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG_PTR pulOperationStateLen)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    CK_RV rv;

    (void)pOperationState;
    if (pulOperationStateLen == NULL)
        return args_bad();
    rv = session_enter(hSession, &m, &s, &sl);
    if (rv != CKR_OK)
        return rv;
    /* Signing state lives partly in the chip: it cannot be saved. */
    if (s->sign.kind || s->verify.kind || s->digest.kind || s->find.kind)
        rv = CKR_STATE_UNSAVEABLE;
    else
        rv = CKR_OPERATION_NOT_INITIALIZED;
    session_leave(m);
    return rv;
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                          CK_OBJECT_HANDLE hAuthenticationKey)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    CK_RV rv;

    (void)ulOperationStateLen;
    (void)hEncryptionKey;
    (void)hAuthenticationKey;
    if (pOperationState == NULL)
        return args_bad();
    rv = session_enter(hSession, &m, &s, &sl);
    if (rv != CKR_OK)
        return rv;
    session_leave(m);
    return CKR_SAVED_STATE_INVALID; /* never produced by this module */
}

CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    struct module *m;
    struct session *s;
    struct slot *sl;
    CK_RV rv = session_enter(hSession, &m, &s, &sl);

    if (rv != CKR_OK)
        return rv;
    if (flags & CKF_SIGN)
        op_reset(&s->sign);
    if (flags & CKF_VERIFY)
        op_reset(&s->verify);
    if (flags & CKF_DIGEST)
        op_reset(&s->digest);
    if (flags & CKF_FIND_OBJECTS)
        op_reset(&s->find);
    session_leave(m);
    return CKR_OK;
}

void op_end(struct operation *op)
{
    op_reset(op);
}
