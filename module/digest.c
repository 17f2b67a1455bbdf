/* C_Digest*: hashing on the host with OpenSSL. */
#include <string.h>

#include "module/internal.h"

static const char *digest_name(CK_MECHANISM_TYPE t)
{
    switch (t) {
    case CKM_SHA256: return "SHA256";
    case CKM_SHA384: return "SHA384";
    case CKM_SHA512: return "SHA512";
    default: return NULL;
    }
}

CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    const char *name;
    CK_RV rv;

    if (pMechanism == NULL)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    name = digest_name(pMechanism->mechanism);
    if (sess->digest.kind != OP_NONE) {
        rv = CKR_OPERATION_ACTIVE;
    } else if (name == NULL || !slot_has_mechanism(s, pMechanism->mechanism)) {
        rv = CKR_MECHANISM_INVALID;
    } else if (pMechanism->pParameter != NULL || pMechanism->ulParameterLen != 0) {
        rv = CKR_MECHANISM_PARAM_INVALID;
    } else {
        EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
        memset(&sess->digest, 0, sizeof sess->digest);
        sess->digest.md = EVP_MD_CTX_new();
        if (md == NULL || sess->digest.md == NULL ||
            EVP_DigestInit_ex(sess->digest.md, md, NULL) != 1) {
            op_end(&sess->digest);
            rv = CKR_HOST_MEMORY;
        } else {
            sess->digest.kind = OP_DIGEST;
            sess->digest.mech = pMechanism->mechanism;
        }
        EVP_MD_free(md);
    }
    session_leave(m);
    return rv;
}

/* The two-call convention: a NULL or short buffer leaves the operation as it is. */
static CK_RV digest_out(struct session *sess, CK_BYTE_PTR out, CK_ULONG_PTR out_len, bool *ready)
{
    CK_ULONG need = (CK_ULONG)EVP_MD_CTX_get_size(sess->digest.md);

    *ready = false;
    if (out == NULL) {
        *out_len = need;
        return CKR_OK;
    }
    if (*out_len < need) {
        *out_len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    *ready = true;
    return CKR_OK;
}

static CK_RV digest_final(struct session *sess, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    unsigned int n = 0;
    CK_RV rv = EVP_DigestFinal_ex(sess->digest.md, out, &n) == 1 ? CKR_OK : CKR_GENERAL_ERROR;

    if (rv == CKR_OK)
        *out_len = n;
    op_end(&sess->digest);
    return rv;
}

CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    bool ready;
    CK_RV rv;

    if ((pData == NULL && ulDataLen) || pulDigestLen == NULL)
        return args_bad();
    rv = session_enter_op(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->digest.kind != OP_DIGEST)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if (sess->digest.multipart)
        rv = CKR_OPERATION_ACTIVE;
    else if ((rv = digest_out(sess, pDigest, pulDigestLen, &ready)) == CKR_OK && ready) {
        if (EVP_DigestUpdate(sess->digest.md, pData, ulDataLen) != 1) {
            op_end(&sess->digest);
            rv = CKR_GENERAL_ERROR;
        } else {
            rv = digest_final(sess, pDigest, pulDigestLen);
        }
    }
    session_leave(m);
    return rv;
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    return op_part(hSession, OP_DIGEST, pPart, ulPartLen);
}

CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct object *o;
    CK_RV rv = session_enter(hSession, &m, &sess, &s);

    if (rv != CKR_OK)
        return rv;
    if (sess->digest.kind != OP_DIGEST) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if ((rv = obj_lookup(m, sess, hKey, true, &s, &o)) != CKR_OK) {
        /* reported as is */
    } else if (o->cls != CKO_SECRET_KEY || o->value == NULL) {
        rv = CKR_KEY_INDIGESTIBLE; /* chip keys never leave the chip */
    } else {
        sess->digest.multipart = true;
        if (EVP_DigestUpdate(sess->digest.md, o->value, o->value_len) != 1)
            rv = CKR_GENERAL_ERROR;
    }
    session_leave(m);
    return rv;
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    bool ready;
    CK_RV rv;

    if (pulDigestLen == NULL)
        return args_bad();
    rv = session_enter_op(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->digest.kind != OP_DIGEST)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if ((rv = digest_out(sess, pDigest, pulDigestLen, &ready)) == CKR_OK && ready)
        rv = digest_final(sess, pDigest, pulDigestLen);
    session_leave(m);
    return rv;
}
