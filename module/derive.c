/* C_DeriveKey with CKM_ECDH1_DERIVE: the chip computes the shared secret with
 * its private key; the result becomes a session secret-key object. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hal/log.h"
#include "module/internal.h"

struct derive_req {
    CK_KEY_TYPE key_type;
    CK_ULONG value_len;      /* 0: the whole secret */
    bool sensitive, extractable;
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len;
};

static CK_RV bool_of(const CK_ATTRIBUTE *a, bool *out)
{
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = *(const CK_BBOOL *)a->pValue != CK_FALSE;
    return CKR_OK;
}

static CK_RV ulong_of(const CK_ATTRIBUTE *a, CK_ULONG *out)
{
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = *(const CK_ULONG *)a->pValue;
    return CKR_OK;
}

static CK_RV parse_template(const CK_ATTRIBUTE *t, CK_ULONG n, struct derive_req *r)
{
    CK_ULONG v;
    bool b;
    CK_RV rv = CKR_OK;

    r->key_type = CKK_GENERIC_SECRET;
    r->sensitive = false;
    r->extractable = true;
    for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++) {
        const CK_ATTRIBUTE *a = &t[i];
        switch (a->type) {
        case CKA_CLASS:
            if ((rv = ulong_of(a, &v)) == CKR_OK && v != CKO_SECRET_KEY)
                rv = CKR_TEMPLATE_INCONSISTENT;
            break;
        case CKA_KEY_TYPE:
            if ((rv = ulong_of(a, &v)) == CKR_OK && v != CKK_GENERIC_SECRET && v != CKK_AES)
                rv = CKR_TEMPLATE_INCONSISTENT;
            r->key_type = v;
            break;
        case CKA_VALUE_LEN:
            if ((rv = ulong_of(a, &v)) == CKR_OK && v == 0)
                rv = CKR_ATTRIBUTE_VALUE_INVALID;
            r->value_len = v;
            break;
        case CKA_TOKEN:
            /* The chip has no room for derived secrets. */
            if ((rv = bool_of(a, &b)) == CKR_OK && b)
                rv = CKR_TEMPLATE_INCONSISTENT;
            break;
        case CKA_SENSITIVE:
            rv = bool_of(a, &r->sensitive);
            break;
        case CKA_EXTRACTABLE:
            rv = bool_of(a, &r->extractable);
            break;
        case CKA_LABEL:
            if (a->ulValueLen > STORE_LABEL_MAX || (a->pValue == NULL && a->ulValueLen))
                rv = CKR_ATTRIBUTE_VALUE_INVALID;
            else if (a->ulValueLen)
                memcpy(r->label, a->pValue, a->ulValueLen);
            break;
        case CKA_ID:
            if (a->ulValueLen > STORE_ID_MAX || (a->pValue == NULL && a->ulValueLen))
                rv = CKR_ATTRIBUTE_VALUE_INVALID;
            else if (a->ulValueLen)
                memcpy(r->id, a->pValue, a->ulValueLen);
            r->id_len = a->ulValueLen;
            break;
        case CKA_PRIVATE:
        case CKA_MODIFIABLE:
        case CKA_ENCRYPT:
        case CKA_DECRYPT:
        case CKA_SIGN:
        case CKA_VERIFY:
        case CKA_WRAP:
        case CKA_UNWRAP:
        case CKA_DERIVE:
            rv = bool_of(a, &b);
            break;
        default:
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
        }
    }
    return rv;
}

static CK_RV derive(struct module *m, struct session *sess, struct slot *s, CK_MECHANISM_PTR mech,
                    CK_OBJECT_HANDLE hbase, const CK_ATTRIBUTE *t, CK_ULONG n,
                    CK_OBJECT_HANDLE *out)
{
    const CK_ECDH1_DERIVE_PARAMS *p = mech->pParameter;
    struct derive_req r;
    struct object *base, *o;
    const uint8_t *peer;
    size_t peer_len, sec_len;
    uint8_t secret[80];
    CK_RV rv;

    memset(&r, 0, sizeof r);
    if (mech->mechanism != CKM_ECDH1_DERIVE || !slot_has_mechanism(s, mech->mechanism))
        return CKR_MECHANISM_INVALID;
    if (p == NULL || mech->ulParameterLen != sizeof *p || p->kdf != CKD_NULL ||
        p->ulSharedDataLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    if ((rv = obj_lookup(m, sess, hbase, true, &s, &base)) != CKR_OK)
        return rv;
    if (base->cls != CKO_PRIVATE_KEY || base->key_type != CKK_EC)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!(base->key.flags & TOK_KEYF_DERIVE))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (!attr_ec_point_parse(p->pPublicData, p->ulPublicDataLen,
                             attr_curve_bytes(base->key.curve), &peer, &peer_len))
        return CKR_MECHANISM_PARAM_INVALID;
    if ((rv = parse_template(t, n, &r)) != CKR_OK)
        return rv;
    sec_len = sizeof secret;
    int rc = s->ops->ecdh(s->dev, base->chip_id, peer, peer_len, secret, &sec_len);
    if (rc != TOK_OK) {
        log_error("derive", "token %s: ECDH with key %u failed: %s", s->conf.name, base->chip_id,
                  tok_strerror(rc));
        return ckr_from_tok(rc, TCTX_DERIVE);
    }
    if (r.value_len > sec_len) {
        OPENSSL_cleanse(secret, sizeof secret);
        return CKR_TEMPLATE_INCONSISTENT;
    }
    if (r.value_len == 0)
        r.value_len = sec_len;
    o = obj_add(s);
    if (o == NULL || (o->value = malloc(r.value_len)) == NULL) {
        if (o != NULL)
            obj_remove(s, o);
        OPENSSL_cleanse(secret, sizeof secret);
        return CKR_HOST_MEMORY;
    }
    memcpy(o->value, secret, r.value_len);
    OPENSSL_cleanse(secret, sizeof secret);
    o->value_len = r.value_len;
    o->cls = CKO_SECRET_KEY;
    o->key_type = r.key_type;
    o->owner = sess->handle;
    o->sensitive = r.sensitive;
    o->extractable = r.extractable;
    memcpy(o->label, r.label, sizeof o->label);
    memcpy(o->id, r.id, r.id_len);
    o->id_len = r.id_len;
    *out = o->handle;
    return CKR_OK;
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
                  CK_OBJECT_HANDLE_PTR phKey)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if (pMechanism == NULL || phKey == NULL || (pTemplate == NULL && ulAttributeCount))
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    rv = derive(m, sess, s, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey);
    session_leave(m);
    return rv;
}
