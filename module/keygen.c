/* C_GenerateKeyPair: the key pair is generated inside the chip; its label and
 * ID go to the host store, and the public half is read back with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/log.h"
#include "module/internal.h"

struct keygen_req {
    enum tok_key_type type;
    enum tok_curve curve;
    unsigned bits;
    bool has_label, has_id;
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len;
    bool want_sign, want_derive;
};

CK_RV tmpl_bool(const CK_ATTRIBUTE *a, bool *out)
{
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = *(const CK_BBOOL *)a->pValue != CK_FALSE;
    return CKR_OK;
}

CK_RV tmpl_ulong(const CK_ATTRIBUTE *a, CK_ULONG *out)
{
    if (a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = *(const CK_ULONG *)a->pValue;
    return CKR_OK;
}

CK_RV tmpl_label(const CK_ATTRIBUTE *a, char label[STORE_LABEL_MAX + 1])
{
    if (a->ulValueLen > STORE_LABEL_MAX || (a->pValue == NULL && a->ulValueLen) ||
        (a->ulValueLen && memchr(a->pValue, '\0', a->ulValueLen)))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (a->ulValueLen)
        memcpy(label, a->pValue, a->ulValueLen);
    label[a->ulValueLen] = '\0';
    return CKR_OK;
}

CK_RV tmpl_id(const CK_ATTRIBUTE *a, uint8_t id[STORE_ID_MAX], size_t *len)
{
    if (a->ulValueLen > STORE_ID_MAX || (a->pValue == NULL && a->ulValueLen))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (a->ulValueLen)
        memcpy(id, a->pValue, a->ulValueLen);
    *len = a->ulValueLen;
    return CKR_OK;
}

/* Attributes both templates may carry. CKR_ATTRIBUTE_TYPE_INVALID when the
 * attribute is not one of them. */
static CK_RV common_attr(const CK_ATTRIBUTE *a, struct keygen_req *r, CK_OBJECT_CLASS cls)
{
    CK_ULONG v;
    bool b;
    CK_RV rv;

    switch (a->type) {
    case CKA_CLASS:
        if ((rv = tmpl_ulong(a, &v)) != CKR_OK)
            return rv;
        return v == cls ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
    case CKA_KEY_TYPE:
        if ((rv = tmpl_ulong(a, &v)) != CKR_OK)
            return rv;
        return v == (r->type == TOK_KEY_RSA ? CKK_RSA : CKK_EC) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
    case CKA_TOKEN:
        if ((rv = tmpl_bool(a, &b)) != CKR_OK)
            return rv;
        return b ? CKR_OK : CKR_TEMPLATE_INCONSISTENT; /* chip keys are token objects */
    case CKA_LABEL:
        r->has_label = true;
        return tmpl_label(a, r->label);
    case CKA_ID:
        r->has_id = true;
        return tmpl_id(a, r->id, &r->id_len);
    case CKA_EC_PARAMS:
        if (r->type != TOK_KEY_EC || a->pValue == NULL)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        r->curve = attr_curve_from_params(a->pValue, a->ulValueLen);
        return r->curve == TOK_CURVE_NONE ? CKR_CURVE_NOT_SUPPORTED : CKR_OK;
    case CKA_DERIVE:
        if ((rv = tmpl_bool(a, &b)) != CKR_OK)
            return rv;
        r->want_derive |= b;
        return CKR_OK;
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
        return tmpl_bool(a, &b);
    case CKA_START_DATE:
    case CKA_END_DATE:
    case CKA_SUBJECT:
    case CKA_ALLOWED_MECHANISMS:
        return CKR_OK;
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
}

static CK_RV public_attr(const CK_ATTRIBUTE *a, struct keygen_req *r)
{
    static const uint8_t f4[] = {0x01, 0x00, 0x01};
    CK_ULONG v;
    bool b;
    CK_RV rv = common_attr(a, r, CKO_PUBLIC_KEY);

    if (rv != CKR_ATTRIBUTE_TYPE_INVALID)
        return rv;
    switch (a->type) {
    case CKA_MODULUS_BITS:
        if (r->type != TOK_KEY_RSA)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        if ((rv = tmpl_ulong(a, &v)) != CKR_OK)
            return rv;
        r->bits = (unsigned)v;
        return CKR_OK;
    case CKA_PUBLIC_EXPONENT: {
        if (r->type != TOK_KEY_RSA || a->pValue == NULL)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        /* Chips generate with e = 65537 only; leading zero bytes are allowed. */
        const uint8_t *p = a->pValue;
        size_t n = a->ulValueLen;
        while (n > 0 && *p == 0) {
            p++;
            n--;
        }
        return n == sizeof f4 && memcmp(p, f4, n) == 0 ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
    }
    case CKA_VERIFY:
        if ((rv = tmpl_bool(a, &b)) != CKR_OK)
            return rv;
        r->want_sign |= b;
        return CKR_OK;
    case CKA_ENCRYPT:
    case CKA_WRAP:
    case CKA_VERIFY_RECOVER:
    case CKA_TRUSTED:
        return tmpl_bool(a, &b); /* reported as what the chip really allows */
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
}

static CK_RV private_attr(const CK_ATTRIBUTE *a, struct keygen_req *r)
{
    bool b;
    CK_RV rv = common_attr(a, r, CKO_PRIVATE_KEY);

    if (rv != CKR_ATTRIBUTE_TYPE_INVALID)
        return rv;
    switch (a->type) {
    case CKA_SENSITIVE:
        if ((rv = tmpl_bool(a, &b)) != CKR_OK)
            return rv;
        return b ? CKR_OK : CKR_TEMPLATE_INCONSISTENT; /* a chip key never leaves the chip */
    case CKA_EXTRACTABLE:
    case CKA_ALWAYS_AUTHENTICATE:
        if ((rv = tmpl_bool(a, &b)) != CKR_OK)
            return rv;
        return b ? CKR_TEMPLATE_INCONSISTENT : CKR_OK;
    case CKA_SIGN:
        if ((rv = tmpl_bool(a, &b)) != CKR_OK)
            return rv;
        r->want_sign |= b;
        return CKR_OK;
    case CKA_DECRYPT:
    case CKA_UNWRAP:
    case CKA_SIGN_RECOVER:
    case CKA_WRAP_WITH_TRUSTED:
        return tmpl_bool(a, &b);
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
}

static CK_RV parse_templates(const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                             CK_ULONG npriv, struct keygen_req *r)
{
    CK_RV rv;

    for (CK_ULONG i = 0; i < npub; i++)
        if ((rv = public_attr(&pub[i], r)) != CKR_OK)
            return rv;
    for (CK_ULONG i = 0; i < npriv; i++)
        if ((rv = private_attr(&priv[i], r)) != CKR_OK)
            return rv;
    if (r->type == TOK_KEY_EC && r->curve == TOK_CURVE_NONE)
        return CKR_TEMPLATE_INCOMPLETE;
    if (r->type == TOK_KEY_RSA && r->bits == 0)
        return CKR_TEMPLATE_INCOMPLETE;
    return CKR_OK;
}

static bool fits(const struct tok_key *k, const struct key_place *p)
{
    if (!(k->flags & TOK_KEYF_PRIVATE) || !(k->flags & TOK_KEYF_GENERATE))
        return false;
    if (k->type != p->type || (p->type == TOK_KEY_EC && k->curve != p->curve))
        return false;
    if (p->sign && !(k->flags & TOK_KEYF_SIGN))
        return false;
    return !p->derive || (k->flags & TOK_KEYF_DERIVE);
}

/* Chips with free object ids: the keys the module generates and the keys it
 * imports take their ids from two ranges, so where a key was born survives in
 * its id, for every process (CKA_LOCAL, CKA_NEVER_EXTRACTABLE). */
#define ID_GENERATED_FIRST 0x60000001u
#define ID_IMPORTED_FIRST 0x60010001u
#define ID_RANGE_SIZE 0xFFFFu

static bool id_in(uint32_t id, uint32_t first)
{
    return id >= first && id - first < ID_RANGE_SIZE;
}

bool key_born_in_chip(struct slot *s, uint32_t chip_id)
{
    if (store_key_find(&s->store, chip_id) == NULL)
        return false;
    return s->caps->fixed_slots || id_in(chip_id, ID_GENERATED_FIRST);
}

CK_RV key_choose_position(struct slot *s, const struct key_place *p, uint32_t *id)
{
    struct tok_key *keys = NULL;
    size_t n = 0;
    uint32_t first = p->imported ? ID_IMPORTED_FIRST : ID_GENERATED_FIRST;
    int rc = obj_list_keys(s, &keys, &n);
    CK_RV rv = CKR_DEVICE_MEMORY;

    if (rc != TOK_OK)
        return ckr_from_tok(rc, TCTX_KEYGEN);
    if (s->caps->fixed_slots) {
        for (size_t i = 0; i < n && rv != CKR_OK; i++) {
            if (fits(&keys[i], p) && !obj_slot_in_use(s, keys[i].id)) {
                *id = keys[i].id;
                rv = CKR_OK;
            }
        }
        if (rv != CKR_OK)
            log_error("keygen", "token %s: no free key slot that allows%s%s (%zu slots in use)",
                      s->conf.name, p->sign ? " signing" : "", p->derive ? " ECDH" : "",
                      s->store.nkeys);
        free(keys);
        return rv;
    }
    for (uint32_t cand = first; cand - first < ID_RANGE_SIZE && rv != CKR_OK; cand++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = keys[i].id == cand;
        if (!used) {
            *id = cand;
            rv = CKR_OK;
        }
    }
    free(keys);
    return rv;
}

CK_RV key_record(struct slot *s, uint32_t id, const char *label, const uint8_t *ckid,
                 size_t ckid_len, bool has_label, bool has_id)
{
    char lbl[STORE_LABEL_MAX + 1];
    uint8_t idb[STORE_ID_MAX];
    size_t idb_len = ckid_len;

    if (has_label)
        snprintf(lbl, sizeof lbl, "%s", label);
    else
        obj_default_label(s, id, lbl, sizeof lbl);
    if (has_id)
        memcpy(idb, ckid, ckid_len);
    else
        idb_len = obj_default_id(s, id, idb, sizeof idb);
    if (store_key_put(&s->store, id, lbl, idb, idb_len) == NULL || store_save(&s->store) != 0) {
        log_error("keygen", "token %s: key at %u made but not recorded in %s", s->conf.name, id,
                  s->store.path);
        return CKR_DEVICE_ERROR;
    }
    return CKR_OK;
}

static CK_RV generate(struct slot *s, struct keygen_req *r, uint32_t *out_id,
                      struct tok_pubkey *pub)
{
    struct key_place p = {r->type, r->curve, r->want_sign, r->want_derive, false};
    uint32_t id = 0;
    int rc;
    CK_RV rv;

    store_refresh(&s->store);
    if (s->store.broken)
        return CKR_DEVICE_ERROR;
    /* A key the store cannot record would be left nameless on the chip. */
    if (s->store.nkeys >= STORE_MAX_KEYS)
        return CKR_DEVICE_MEMORY;
    if ((rv = key_choose_position(s, &p, &id)) != CKR_OK)
        return rv;
    rc = s->ops->generate(s->dev, id, r->type, r->curve, r->bits, pub);
    if (rc != TOK_OK) {
        log_error("keygen", "token %s: generating at %u failed: %s", s->conf.name, id,
                  tok_strerror(rc));
        /* Sizes inside the advertised range the chip still cannot make. */
        if (rc == TOK_E_UNSUPPORTED)
            return r->type == TOK_KEY_RSA ? CKR_KEY_SIZE_RANGE : CKR_CURVE_NOT_SUPPORTED;
        return ckr_from_tok(rc, TCTX_KEYGEN);
    }
    if ((rv = key_record(s, id, r->label, r->id, r->id_len, r->has_label, r->has_id)) != CKR_OK)
        return rv;
    *out_id = id;
    log_info("keygen", "token %s: key pair generated at %u", s->conf.name, id);
    return CKR_OK;
}

static CK_RV keygen_checks(struct slot *s, struct session *sess, CK_MECHANISM_PTR mech,
                           struct keygen_req *r)
{
    if (!slot_has_mechanism(s, mech->mechanism))
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    if (mech->mechanism == CKM_EC_KEY_PAIR_GEN)
        r->type = TOK_KEY_EC;
    else if (mech->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN)
        r->type = TOK_KEY_RSA;
    else
        return CKR_MECHANISM_INVALID;
    if (!(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (!slot_user_ok(s))
        return CKR_USER_NOT_LOGGED_IN;
    return CKR_OK;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
                        CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
                        CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct keygen_req r;
    struct tok_pubkey pub;
    uint32_t id = 0;
    CK_RV rv;

    if (pMechanism == NULL || phPublicKey == NULL || phPrivateKey == NULL ||
        (pPublicKeyTemplate == NULL && ulPublicKeyAttributeCount) ||
        (pPrivateKeyTemplate == NULL && ulPrivateKeyAttributeCount))
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    memset(&r, 0, sizeof r);
    rv = keygen_checks(s, sess, pMechanism, &r);
    if (rv == CKR_OK)
        rv = parse_templates(pPublicKeyTemplate, ulPublicKeyAttributeCount, pPrivateKeyTemplate,
                             ulPrivateKeyAttributeCount, &r);
    if (rv == CKR_OK && r.type == TOK_KEY_EC && !(s->caps->curves & (1u << r.curve)))
        rv = CKR_CURVE_NOT_SUPPORTED;
    if (rv == CKR_OK && r.type == TOK_KEY_RSA &&
        (r.bits < s->caps->rsa_min_bits || r.bits > s->caps->rsa_max_bits))
        rv = CKR_KEY_SIZE_RANGE;
    if (rv == CKR_OK) {
        s->ops->lock(s->dev);
        rv = generate(s, &r, &id, &pub);
        s->ops->unlock(s->dev);
        s->objs_loaded = false;
    }
    if (rv == CKR_OK)
        rv = obj_refresh(s);
    if (rv == CKR_OK) {
        struct object *opriv = NULL, *opub = NULL;
        for (size_t i = 0; i < s->nobjs; i++) {
            struct object *o = &s->objs[i];
            if (o->owner != 0 || o->chip_id != id)
                continue;
            o->pub = pub;
            o->pub_loaded = true;
            if (o->cls == CKO_PRIVATE_KEY)
                opriv = o;
            else if (o->cls == CKO_PUBLIC_KEY)
                opub = o;
        }
        if (opriv == NULL || opub == NULL) {
            rv = CKR_GENERAL_ERROR;
        } else {
            *phPrivateKey = opriv->handle;
            *phPublicKey = opub->handle;
        }
    }
    session_leave(m);
    return rv;
}
