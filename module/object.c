/* The object table of a token, attributes and find. Token objects are views of
 * the chip's keys: a private key and its public key per key pair, with label
 * and ID from the host store. Attribute values are served from memory; only a
 * key's public half is read from the chip, once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hal/log.h"
#include "module/internal.h"

#define ATTR_BUF 4096

struct object *obj_add(struct slot *s)
{
    if (s->nobjs == s->capobjs) {
        size_t cap = s->capobjs ? 2 * s->capobjs : 16;
        struct object *n = realloc(s->objs, cap * sizeof *n);
        if (n == NULL)
            return NULL;
        s->objs = n;
        s->capobjs = cap;
    }
    struct object *o = &s->objs[s->nobjs++];
    memset(o, 0, sizeof *o);
    o->handle = mod_get()->next_object++;
    return o;
}

static void obj_wipe(struct object *o)
{
    free(o->cert);
    if (o->value != NULL) {
        OPENSSL_cleanse(o->value, o->value_len);
        free(o->value);
    }
    memset(o, 0, sizeof *o);
}

void obj_remove(struct slot *s, struct object *o)
{
    size_t i = (size_t)(o - s->objs);

    obj_wipe(o);
    memmove(&s->objs[i], &s->objs[i + 1], (s->nobjs - i - 1) * sizeof *o);
    s->nobjs--;
}

void obj_remove_session(struct slot *s, CK_SESSION_HANDLE owner)
{
    for (size_t i = s->nobjs; i-- > 0;)
        if (s->objs[i].owner == owner)
            obj_remove(s, &s->objs[i]);
}

void obj_free_all(struct slot *s)
{
    for (size_t i = 0; i < s->nobjs; i++)
        obj_wipe(&s->objs[i]);
    free(s->objs);
    s->objs = NULL;
    s->nobjs = s->capobjs = 0;
    s->objs_loaded = false;
}

struct object *obj_get(struct slot *s, CK_OBJECT_HANDLE h)
{
    for (size_t i = 0; i < s->nobjs; i++)
        if (s->objs[i].handle == h)
            return &s->objs[i];
    return NULL;
}

void obj_default_label(const struct slot *s, uint32_t chip_id, char *label, size_t cap)
{
    if (s->caps != NULL && s->caps->fixed_slots)
        snprintf(label, cap, "slot%u", chip_id);
    else
        snprintf(label, cap, "obj%08x", chip_id);
}

size_t obj_default_id(const struct slot *s, uint32_t chip_id, uint8_t *id, size_t cap)
{
    if (s->caps != NULL && s->caps->fixed_slots && cap >= 1) {
        id[0] = (uint8_t)chip_id;
        return 1;
    }
    if (cap < 4)
        return 0;
    id[0] = (uint8_t)(chip_id >> 24);
    id[1] = (uint8_t)(chip_id >> 16);
    id[2] = (uint8_t)(chip_id >> 8);
    id[3] = (uint8_t)chip_id;
    return 4;
}

static struct object *find_token_obj(struct slot *s, CK_OBJECT_CLASS cls, uint32_t chip_id)
{
    for (size_t i = 0; i < s->nobjs; i++) {
        struct object *o = &s->objs[i];
        if (o->owner == 0 && o->cls == cls && o->chip_id == chip_id)
            return o;
    }
    return NULL;
}

const struct conf_object *conf_object_of(const struct slot *s, uint32_t chip_id)
{
    for (size_t i = 0; i < s->conf.nobjects; i++)
        if (s->conf.objects[i].chip_id == chip_id)
            return &s->conf.objects[i];
    return NULL;
}

bool obj_slot_in_use(struct slot *s, uint32_t chip_id)
{
    return store_key_find(&s->store, chip_id) != NULL || conf_object_of(s, chip_id) != NULL;
}

static CK_RV view_key(struct slot *s, const struct tok_key *k, CK_OBJECT_CLASS cls)
{
    struct object *o = find_token_obj(s, cls, k->id);
    const struct store_key *rec = store_key_find(&s->store, k->id);

    if (o == NULL) {
        o = obj_add(s);
        if (o == NULL)
            return CKR_HOST_MEMORY;
        o->cls = cls;
        o->chip_id = k->id;
    }
    o->key = *k;
    if (key_born_in_chip(s, k->id))
        o->key.flags |= TOK_KEYF_LOCAL;
    o->key_type = k->type == TOK_KEY_RSA ? CKK_RSA : CKK_EC;
    o->pub_loaded = false; /* another process may have regenerated the key */
    o->sensitive = true;
    o->extractable = false;
    const struct conf_object *map = rec == NULL ? conf_object_of(s, k->id) : NULL;
    if (rec != NULL) {
        snprintf(o->label, sizeof o->label, "%s", rec->label);
        memcpy(o->id, rec->id, rec->id_len);
        o->id_len = rec->id_len;
    } else if (map != NULL) {
        snprintf(o->label, sizeof o->label, "%s", map->label);
        memcpy(o->id, map->id, map->id_len);
        o->id_len = map->id_len;
        if (o->id_len == 0)
            o->id_len = obj_default_id(s, k->id, o->id, sizeof o->id);
    } else {
        obj_default_label(s, k->id, o->label, sizeof o->label);
        o->id_len = obj_default_id(s, k->id, o->id, sizeof o->id);
    }
    o->mark = true;
    return CKR_OK;
}

int obj_list_keys(struct slot *s, struct tok_key **keys, size_t *n)
{
    size_t cap = s->caps->max_keys > 16 ? s->caps->max_keys : 16;

    /* The chip may gain keys between the two calls (another process). */
    for (int pass = 0; pass < 3; pass++) {
        struct tok_key *buf = calloc(cap, sizeof *buf);
        size_t got = cap;
        int rc;

        if (buf == NULL)
            return TOK_E_NOMEM;
        rc = s->ops->list_keys(s->dev, buf, &got);
        if (rc == TOK_OK) {
            *keys = buf;
            *n = got;
            return TOK_OK;
        }
        free(buf);
        if (rc != TOK_E_FULL || got <= cap)
            return rc;
        cap = got + 8;
    }
    return TOK_E_DEVICE;
}

CK_RV obj_refresh(struct slot *s)
{
    struct tok_key *keys = NULL;
    size_t n = 0;
    int rc;
    CK_RV rv = CKR_OK;

    if (s->objs_loaded)
        return CKR_OK;
    s->info_stale = true;
    rc = obj_list_keys(s, &keys, &n);
    if (rc != TOK_OK) {
        log_error("object", "token %s: listing keys failed: %s", s->conf.name, tok_strerror(rc));
        return ckr_from_tok(rc, TCTX_OTHER);
    }
    for (size_t i = 0; i < s->nobjs; i++)
        s->objs[i].mark = s->objs[i].owner != 0;
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        const struct tok_key *k = &keys[i];
        /* A fixed position always holds some key; it is ours to show only when
         * it is a factory key or the store says the module put it there. */
        if (s->caps->fixed_slots && !(k->flags & TOK_KEYF_PERMANENT) &&
            !obj_slot_in_use(s, k->id))
            continue;
        if (k->flags & TOK_KEYF_PRIVATE)
            rv = view_key(s, k, CKO_PRIVATE_KEY);
        if (rv == CKR_OK)
            rv = view_key(s, k, CKO_PUBLIC_KEY);
    }
    free(keys);
    if (rv == CKR_OK)
        rv = cert_refresh(s);
    if (rv == CKR_OK)
        rv = data_refresh(s);
    for (size_t i = s->nobjs; i-- > 0;)
        if (!s->objs[i].mark)
            obj_remove(s, &s->objs[i]);
    if (rv == CKR_OK)
        s->objs_loaded = true;
    return rv;
}

static bool obj_private(const struct slot *s, const struct object *o)
{
    if (s->conf.login != CONF_LOGIN_PIN)
        return false;
    if (o->cls == CKO_DATA)
        return data_private(s, o);
    return o->cls == CKO_PRIVATE_KEY || o->cls == CKO_SECRET_KEY;
}

bool obj_visible(const struct slot *s, const struct session *sess, const struct object *o)
{
    (void)sess;
    return !obj_private(s, o) || slot_user_ok(s);
}

CK_RV obj_lookup(struct module *m, struct session *sess, CK_OBJECT_HANDLE h, bool key,
                 struct slot **slot_out, struct object **out)
{
    struct slot *s = slot_get(m, sess->slot);
    struct object *o;
    CK_RV rv = obj_refresh(s);

    if (rv != CKR_OK)
        return rv;
    o = obj_get(s, h);
    if (o == NULL)
        return key ? CKR_KEY_HANDLE_INVALID : CKR_OBJECT_HANDLE_INVALID;
    if (!obj_visible(s, sess, o))
        return CKR_USER_NOT_LOGGED_IN;
    *slot_out = s;
    *out = o;
    return CKR_OK;
}

/* Object calls (attributes, destroy, size, copy): a private object the
 * session may not see is, to it, no object at all. */
static CK_RV obj_find(struct module *m, struct session *sess, CK_OBJECT_HANDLE h,
                      struct slot **slot_out, struct object **out)
{
    CK_RV rv = obj_lookup(m, sess, h, false, slot_out, out);

    return rv == CKR_USER_NOT_LOGGED_IN ? CKR_OBJECT_HANDLE_INVALID : rv;
}

CK_RV obj_pubkey(struct slot *s, struct object *o, const struct tok_pubkey **out)
{
    if (o->owner != 0)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!o->pub_loaded) {
        int rc = s->ops->read_public(s->dev, o->chip_id, &o->pub);
        if (rc != TOK_OK) {
            log_error("object", "token %s: reading the public key of %u failed: %s",
                      s->conf.name, o->chip_id, tok_strerror(rc));
            return ckr_from_tok(rc, TCTX_OTHER);
        }
        o->pub_loaded = true;
        /* The other half of the pair shares it. */
        struct object *twin = find_token_obj(
            s, o->cls == CKO_PRIVATE_KEY ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY, o->chip_id);
        if (twin != NULL) {
            twin->pub = o->pub;
            twin->pub_loaded = true;
        }
    }
    *out = &o->pub;
    return CKR_OK;
}

/* ---- attribute values ---- */

struct abuf {
    uint8_t *p;
    size_t cap, len;
};

static CK_RV put(struct abuf *b, const void *v, size_t n)
{
    b->len = n;
    if (n > b->cap)
        return CKR_BUFFER_TOO_SMALL;
    if (n > 0)
        memcpy(b->p, v, n);
    return CKR_OK;
}

static CK_RV put_bool(struct abuf *b, bool v)
{
    CK_BBOOL x = v ? CK_TRUE : CK_FALSE;
    return put(b, &x, sizeof x);
}

static CK_RV put_ulong(struct abuf *b, CK_ULONG v)
{
    return put(b, &v, sizeof v);
}

static CK_RV put_mechs(struct slot *s, struct object *o, struct abuf *b)
{
    static const CK_MECHANISM_TYPE ec_sign[] = {CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
                                                CKM_ECDSA_SHA512};
    static const CK_MECHANISM_TYPE rsa_sign[] = {
        CKM_RSA_PKCS,     CKM_SHA256_RSA_PKCS,     CKM_SHA384_RSA_PKCS,     CKM_SHA512_RSA_PKCS,
        CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS};
    CK_MECHANISM_TYPE list[16];
    size_t n = 0;
    bool rsa = o->key_type == CKK_RSA;
    const CK_MECHANISM_TYPE *sign = rsa ? rsa_sign : ec_sign;
    size_t nsign = rsa ? sizeof rsa_sign / sizeof rsa_sign[0] : sizeof ec_sign / sizeof ec_sign[0];

    if (o->key.flags & TOK_KEYF_SIGN)
        for (size_t i = 0; i < nsign; i++)
            if (slot_has_mechanism(s, sign[i]))
                list[n++] = sign[i];
    if (o->cls == CKO_PRIVATE_KEY && (o->key.flags & TOK_KEYF_DERIVE) &&
        slot_has_mechanism(s, CKM_ECDH1_DERIVE))
        list[n++] = CKM_ECDH1_DERIVE;
    return put(b, list, n * sizeof list[0]);
}

/* Attributes every object has. CKR_ATTRIBUTE_TYPE_INVALID when not one. */
static CK_RV attr_common(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE t, struct abuf *b)
{
    switch (t) {
    case CKA_CLASS:
        return put_ulong(b, o->cls);
    case CKA_TOKEN:
        return put_bool(b, o->owner == 0);
    case CKA_PRIVATE:
        return put_bool(b, obj_private(s, o));
    case CKA_MODIFIABLE:
        return put_bool(b, o->owner == 0); /* label and ID are host metadata */
    case CKA_LABEL:
        return put(b, o->label, strlen(o->label));
    case CKA_COPYABLE:
        return put_bool(b, false);
    case CKA_DESTROYABLE:
        return put_bool(b, o->cls != CKO_PUBLIC_KEY && !(o->key.flags & TOK_KEYF_PERMANENT));
    case CKA_KEY_TYPE:
        return put_ulong(b, o->key_type);
    case CKA_ID:
        return put(b, o->id, o->id_len);
    case CKA_START_DATE:
    case CKA_END_DATE:
        return put(b, NULL, 0);
    case CKA_LOCAL:
        return put_bool(b, (o->key.flags & TOK_KEYF_LOCAL) != 0);
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
}

static CK_RV attr_public_part(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE t,
                              struct abuf *b)
{
    const struct tok_pubkey *pub;
    size_t len;
    CK_RV rv;

    switch (t) {
    case CKA_EC_PARAMS:
    case CKA_EC_POINT:
        if (o->key_type != CKK_EC)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        break;
    case CKA_MODULUS:
    case CKA_MODULUS_BITS:
    case CKA_PUBLIC_EXPONENT:
        if (o->key_type != CKK_RSA)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        break;
    case CKA_PUBLIC_KEY_INFO:
        break;
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (t == CKA_EC_PARAMS) {
        const uint8_t *oid = attr_curve_oid(o->key.curve, &len);
        return oid ? put(b, oid, len) : CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (t == CKA_MODULUS_BITS)
        return put_ulong(b, o->key.bits);
    rv = obj_pubkey(s, o, &pub);
    if (rv != CKR_OK)
        return rv;
    switch (t) {
    case CKA_EC_POINT: {
        uint8_t der[140];
        len = attr_ec_point_der(pub->point, pub->point_len, der, sizeof der);
        return len ? put(b, der, len) : CKR_GENERAL_ERROR;
    }
    case CKA_MODULUS:
        return put(b, pub->modulus, pub->modulus_len);
    case CKA_PUBLIC_EXPONENT:
        return put(b, pub->exponent, pub->exponent_len);
    default: {
        uint8_t der[1024];
        len = attr_spki(pub, der, sizeof der);
        return len && len <= sizeof der ? put(b, der, len) : CKR_GENERAL_ERROR;
    }
    }
}

static CK_RV attr_key(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE t, struct abuf *b)
{
    bool sign = (o->key.flags & TOK_KEYF_SIGN) != 0;
    bool priv = o->cls == CKO_PRIVATE_KEY;

    switch (t) {
    case CKA_KEY_GEN_MECHANISM:
        if (!(o->key.flags & TOK_KEYF_LOCAL))
            return put_ulong(b, CK_UNAVAILABLE_INFORMATION);
        return put_ulong(b, o->key_type == CKK_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN);
    case CKA_DERIVE:
        return put_bool(b, priv && (o->key.flags & TOK_KEYF_DERIVE));
    case CKA_ALLOWED_MECHANISMS:
        return put_mechs(s, o, b);
    case CKA_SUBJECT: {
        const struct store_key *rec = store_key_find(&s->store, o->chip_id);
        return rec ? put(b, rec->subject, rec->subject_len) : put(b, NULL, 0);
    }
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_SIGN_RECOVER:
    case CKA_VERIFY_RECOVER:
    case CKA_TRUSTED:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_AUTHENTICATE:
        if ((t == CKA_ALWAYS_AUTHENTICATE || t == CKA_WRAP_WITH_TRUSTED || t == CKA_SIGN_RECOVER ||
             t == CKA_DECRYPT || t == CKA_UNWRAP) != priv)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        return put_bool(b, false);
    case CKA_SIGN:
        return priv ? put_bool(b, sign) : CKR_ATTRIBUTE_TYPE_INVALID;
    case CKA_VERIFY:
        return priv ? CKR_ATTRIBUTE_TYPE_INVALID : put_bool(b, sign);
    case CKA_SENSITIVE:
        return priv ? put_bool(b, true) : CKR_ATTRIBUTE_TYPE_INVALID;
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
        /* An imported key (or one of unknown origin) was outside the chip once;
         * factory keys are taken to have been born in it. */
        if (!priv)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        return put_bool(b, (o->key.flags & (TOK_KEYF_LOCAL | TOK_KEYF_PERMANENT)) != 0);
    case CKA_EXTRACTABLE:
        return priv ? put_bool(b, false) : CKR_ATTRIBUTE_TYPE_INVALID;
    case CKA_VALUE:
    case CKA_PRIVATE_EXPONENT:
    case CKA_PRIME_1:
    case CKA_PRIME_2:
    case CKA_EXPONENT_1:
    case CKA_EXPONENT_2:
    case CKA_COEFFICIENT:
        if (!priv || (t != CKA_VALUE && o->key_type != CKK_RSA) ||
            (t == CKA_VALUE && o->key_type != CKK_EC))
            return CKR_ATTRIBUTE_TYPE_INVALID;
        return CKR_ATTRIBUTE_SENSITIVE;
    default:
        return attr_public_part(s, o, t, b);
    }
}

static CK_RV attr_secret(struct object *o, CK_ATTRIBUTE_TYPE t, struct abuf *b)
{
    switch (t) {
    case CKA_SENSITIVE:
    case CKA_ALWAYS_SENSITIVE:
        return put_bool(b, o->sensitive);
    case CKA_EXTRACTABLE:
        return put_bool(b, o->extractable);
    case CKA_NEVER_EXTRACTABLE:
        return put_bool(b, !o->extractable);
    case CKA_VALUE_LEN:
        return put_ulong(b, o->value_len);
    case CKA_VALUE:
        if (o->sensitive || !o->extractable)
            return CKR_ATTRIBUTE_SENSITIVE;
        return put(b, o->value, o->value_len);
    case CKA_KEY_GEN_MECHANISM:
        return put_ulong(b, CKM_ECDH1_DERIVE);
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_SIGN:
    case CKA_VERIFY:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_DERIVE:
    case CKA_TRUSTED:
    case CKA_WRAP_WITH_TRUSTED:
        return put_bool(b, false);
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
}

CK_RV obj_attr(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
               size_t *len)
{
    struct abuf b = {buf, cap, 0};
    CK_RV rv;

    if (o->cls == CKO_CERTIFICATE)
        return cert_attr(s, o, type, buf, cap, len);
    if (o->cls == CKO_DATA)
        return data_attr(s, o, type, buf, cap, len);
    rv = attr_common(s, o, type, &b);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
        if (o->cls == CKO_SECRET_KEY)
            rv = attr_secret(o, type, &b);
        else
            rv = attr_key(s, o, type, &b);
    }
    *len = b.len;
    return rv;
}

/* ---- C_GetAttributeValue, C_SetAttributeValue ---- */

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct object *o;
    uint8_t *buf;
    CK_RV rv, result = CKR_OK;

    if (pTemplate == NULL && ulCount != 0)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    rv = obj_find(m, sess, hObject, &s, &o);
    buf = rv == CKR_OK ? malloc(ATTR_BUF) : NULL;
    if (rv == CKR_OK && buf == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        session_leave(m);
        return rv;
    }
    for (CK_ULONG i = 0; i < ulCount; i++) {
        CK_ATTRIBUTE *a = &pTemplate[i];
        size_t len = 0;
        rv = obj_attr(s, o, a->type, buf, ATTR_BUF, &len);
        if (rv == CKR_BUFFER_TOO_SMALL)
            rv = CKR_GENERAL_ERROR; /* no attribute is larger than ATTR_BUF */
        if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE) {
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (result == CKR_OK || result == CKR_BUFFER_TOO_SMALL)
                result = rv;
            continue;
        }
        if (rv != CKR_OK) {
            result = rv; /* the chip failed: report it, not a wrong value */
            break;
        }
        if (a->pValue == NULL) {
            a->ulValueLen = len;
        } else if (a->ulValueLen < len) {
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (result == CKR_OK)
                result = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(a->pValue, buf, len);
            a->ulValueLen = len;
        }
    }
    OPENSSL_cleanse(buf, ATTR_BUF);
    free(buf);
    session_leave(m);
    return result;
}

static bool valid_label(const CK_ATTRIBUTE *a)
{
    return a->ulValueLen <= STORE_LABEL_MAX && (a->pValue != NULL || a->ulValueLen == 0) &&
           (a->ulValueLen == 0 || memchr(a->pValue, '\0', a->ulValueLen) == NULL);
}

/* Relabels a key pair: both objects share CKA_LABEL and CKA_ID. */
static CK_RV set_label_id(struct slot *s, struct object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len = o->id_len;
    const CK_ATTRIBUTE *subject = NULL;

    snprintf(label, sizeof label, "%s", o->label);
    memcpy(id, o->id, o->id_len);
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *a = &tmpl[i];
        if (a->type == CKA_LABEL) {
            if (!valid_label(a))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(label, a->pValue, a->ulValueLen);
            label[a->ulValueLen] = '\0';
        } else if (a->type == CKA_SUBJECT && (o->cls == CKO_PRIVATE_KEY || o->cls == CKO_PUBLIC_KEY)) {
            if (a->ulValueLen > STORE_SUBJECT_MAX || (a->pValue == NULL && a->ulValueLen))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            subject = a;
        } else if (a->type == CKA_ID && o->cls != CKO_DATA) {
            if (a->ulValueLen > STORE_ID_MAX || (a->pValue == NULL && a->ulValueLen))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            if (a->ulValueLen)
                memcpy(id, a->pValue, a->ulValueLen);
            id_len = a->ulValueLen;
        } else {
            uint8_t cur[256];
            size_t len;
            CK_RV rv = obj_attr(s, o, a->type, cur, sizeof cur, &len);
            if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
                return rv;
            /* Setting an attribute to the value it has changes nothing. */
            if (rv != CKR_OK || len != a->ulValueLen || a->pValue == NULL ||
                memcmp(cur, a->pValue, len) != 0)
                return CKR_ATTRIBUTE_READ_ONLY;
        }
    }
    if (o->cls == CKO_CERTIFICATE)
        return cert_relabel(s, o, label, id, id_len);
    if (o->cls == CKO_DATA)
        return data_relabel(s, o, label);
    s->ops->lock(s->dev);
    store_refresh(&s->store);
    CK_RV rv = CKR_OK;
    if (s->store.broken)
        rv = CKR_DEVICE_ERROR;
    struct store_key *k = rv == CKR_OK ? store_key_put(&s->store, o->chip_id, label, id, id_len)
                                       : NULL;
    if (rv == CKR_OK && k == NULL)
        rv = CKR_DEVICE_MEMORY;
    if (k != NULL && subject != NULL) {
        if (subject->ulValueLen)
            memcpy(k->subject, subject->pValue, subject->ulValueLen);
        k->subject_len = subject->ulValueLen;
    }
    else if (store_save(&s->store) != 0)
        rv = CKR_DEVICE_ERROR;
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct object *o;
    CK_RV rv;

    if (pTemplate == NULL && ulCount != 0)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    rv = obj_find(m, sess, hObject, &s, &o);
    if (rv == CKR_OK && o->owner == 0 && !(sess->flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_ONLY;
    else if (rv == CKR_OK && o->owner != 0)
        rv = CKR_ACTION_PROHIBITED;
    else if (rv == CKR_OK && !slot_user_ok(s))
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (rv == CKR_OK)
        rv = set_label_id(s, o, pTemplate, ulCount);
    session_leave(m);
    return rv;
}

/* ---- find ---- */

static bool obj_matches(struct slot *s, struct object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        uint8_t *buf)
{
    for (CK_ULONG i = 0; i < n; i++) {
        size_t len;
        if (obj_attr(s, o, tmpl[i].type, buf, ATTR_BUF, &len) != CKR_OK)
            return false;
        if (len != tmpl[i].ulValueLen || (len && memcmp(buf, tmpl[i].pValue, len) != 0))
            return false;
    }
    return true;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    uint8_t *buf = NULL;
    CK_RV rv;

    if (pTemplate == NULL && ulCount != 0)
        return args_bad();
    for (CK_ULONG i = 0; i < ulCount; i++)
        if (pTemplate[i].pValue == NULL && pTemplate[i].ulValueLen != 0)
            return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->find.kind != OP_NONE) {
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    rv = obj_refresh(s);
    if (rv != CKR_OK)
        goto out;
    buf = malloc(ATTR_BUF);
    sess->find.found = calloc(s->nobjs ? s->nobjs : 1, sizeof *sess->find.found);
    if (buf == NULL || sess->find.found == NULL) {
        op_end(&sess->find);
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < s->nobjs; i++) {
        struct object *o = &s->objs[i];
        if (obj_visible(s, sess, o) && obj_matches(s, o, pTemplate, ulCount, buf))
            sess->find.found[sess->find.nfound++] = o->handle;
    }
    sess->find.kind = OP_FIND;
out:
    free(buf);
    session_leave(m);
    return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if (phObject == NULL || pulObjectCount == NULL)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    if (sess->find.kind != OP_FIND) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else {
        CK_ULONG n = 0;
        while (n < ulMaxObjectCount && sess->find.found_pos < sess->find.nfound)
            phObject[n++] = sess->find.found[sess->find.found_pos++];
        *pulObjectCount = n;
    }
    session_leave(m);
    return rv;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv = session_enter(hSession, &m, &sess, &s);

    if (rv != CKR_OK)
        return rv;
    if (sess->find.kind != OP_FIND)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        op_end(&sess->find);
    session_leave(m);
    return rv;
}

/* ---- destroy, size, create, copy ---- */

static CK_RV destroy_key(struct slot *s, struct object *o)
{
    int rc;

    s->ops->lock(s->dev);
    rc = s->ops->destroy(s->dev, o->chip_id);
    if (rc == TOK_OK || rc == TOK_E_NOT_FOUND) {
        store_refresh(&s->store);
        store_key_remove(&s->store, o->chip_id);
        if (store_save(&s->store) != 0)
            log_error("object", "token %s: the key at %u is destroyed but the store was not updated",
                      s->conf.name, o->chip_id);
    }
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    if (rc != TOK_OK && rc != TOK_E_NOT_FOUND) {
        log_error("object", "token %s: destroying key %u failed: %s", s->conf.name, o->chip_id,
                  tok_strerror(rc));
        return ckr_from_tok(rc, TCTX_DESTROY);
    }
    log_info("object", "token %s: key %u destroyed", s->conf.name, o->chip_id);
    return CKR_OK;
}

/* The public half goes with its private key; clients that then destroy it
 * by its handle get what they asked for. */
static void remember_gone_public(struct slot *s, uint32_t chip_id)
{
    for (size_t i = 0; i < s->nobjs; i++) {
        const struct object *p = &s->objs[i];
        if (p->owner == 0 && p->cls == CKO_PUBLIC_KEY && p->chip_id == chip_id) {
            if (s->ngone == sizeof s->gone / sizeof s->gone[0]) {
                memmove(s->gone, s->gone + 1, sizeof s->gone - sizeof s->gone[0]);
                s->ngone--;
            }
            s->gone[s->ngone++] = p->handle;
        }
    }
}

static bool forget_gone(struct slot *s, CK_OBJECT_HANDLE h)
{
    for (size_t i = 0; i < s->ngone; i++) {
        if (s->gone[i] == h) {
            memmove(&s->gone[i], &s->gone[i + 1], (s->ngone - i - 1) * sizeof s->gone[0]);
            s->ngone--;
            return true;
        }
    }
    return false;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct object *o = NULL;
    CK_RV rv = session_enter(hSession, &m, &sess, &s);

    if (rv != CKR_OK)
        return rv;
    rv = obj_find(m, sess, hObject, &s, &o);
    if (rv == CKR_OBJECT_HANDLE_INVALID && (sess->flags & CKF_RW_SESSION) && forget_gone(s, hObject))
        rv = CKR_OK;
    if (rv != CKR_OK || o == NULL)
        goto out;
    if (o->owner != 0) {
        obj_remove(s, o);
        goto out;
    }
    if (!(sess->flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_ONLY;
    else if (!slot_user_ok(s))
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (o->cls == CKO_CERTIFICATE)
        rv = cert_destroy(s, o);
    else if (o->cls == CKO_DATA)
        rv = data_destroy(s, o);
    else if (o->cls == CKO_PUBLIC_KEY || (o->key.flags & TOK_KEYF_PERMANENT))
        rv = CKR_ACTION_PROHIBITED; /* a pair's public half goes with its private key */
    else {
        uint32_t chip_id = o->chip_id;
        rv = destroy_key(s, o);
        if (rv == CKR_OK)
            remember_gone_public(s, chip_id);
    }
out:
    session_leave(m);
    return rv;
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct object *o;
    CK_RV rv;

    if (pulSize == NULL)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    rv = obj_find(m, sess, hObject, &s, &o);
    if (rv == CKR_OK)
        *pulSize = CK_UNAVAILABLE_INFORMATION; /* keys live in the chip */
    session_leave(m);
    return rv;
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    struct object *o;
    CK_RV rv;

    (void)pTemplate;
    (void)ulCount;
    if (phNewObject == NULL)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    rv = obj_find(m, sess, hObject, &s, &o);
    if (rv == CKR_OK)
        rv = CKR_ACTION_PROHIBITED; /* CKA_COPYABLE is FALSE: keys stay in the chip */
    session_leave(m);
    return rv;
}
