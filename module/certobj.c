/* Certificate objects (CKO_CERTIFICATE, CKC_X_509) and label/ID pairing.
 *
 * Where certificates live: the factory certificates a chip carries (ATECC608
 * Trust&GO, rebuilt by the driver; SE050 factory binary objects that parse as
 * X.509) are read-only; certificates the user stores go to the chip as binary
 * objects where it has room (SE050), else into the host store (ATECC608).
 *
 * Pairing: a certificate whose public key is a key pair's on the token shows
 * that pair's CKA_LABEL and CKA_ID — unless the user gave it a label and ID of
 * its own. Relabelling any member moves the pair and its certificate together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hal/log.h"
#include "module/cert.h"
#include "module/internal.h"

#define HOST_CERT_BASE 0x00010000u /* host-held certificates */
#define CHIP_CERT_BASE 0x61000001u /* certificates written to chip binary objects */
#define CHIP_CERT_END 0x6100FFFFu
#define FACTORY_BASE 0xF0000000u

static bool chip_has_room(const struct slot *s)
{
    return s->ops->data_write != NULL && s->ops->data_read != NULL;
}

static struct object *find_cert(struct slot *s, uint32_t cert_id)
{
    for (size_t i = 0; i < s->nobjs; i++)
        if (s->objs[i].owner == 0 && s->objs[i].cls == CKO_CERTIFICATE &&
            s->objs[i].chip_id == cert_id)
            return &s->objs[i];
    return NULL;
}

/* Makes (or keeps) the object of one certificate and parses its DER once. */
static CK_RV view_cert(struct slot *s, uint32_t cert_id, const uint8_t *der, size_t len,
                       bool factory)
{
    struct object *o = find_cert(s, cert_id);

    if (o != NULL && o->value_len == len && memcmp(o->value, der, len) == 0) {
        o->mark = true;
        return CKR_OK;
    }
    if (o != NULL)
        obj_remove(s, o);
    struct cert_fields *cf = malloc(sizeof *cf);
    if (cf == NULL)
        return CKR_HOST_MEMORY;
    if (cert_parse(der, len, cf) != 0) {
        log_error("cert", "token %s: certificate %x does not parse; not shown", s->conf.name,
                  cert_id);
        free(cf);
        return CKR_OK;
    }
    o = obj_add(s);
    if (o == NULL || (o->value = malloc(len)) == NULL) {
        if (o != NULL)
            obj_remove(s, o);
        free(cf);
        return CKR_HOST_MEMORY;
    }
    memcpy(o->value, der, len);
    o->value_len = len;
    o->cls = CKO_CERTIFICATE;
    o->chip_id = cert_id;
    o->cert = cf;
    o->pub = cf->pub;
    o->pub_loaded = true;
    if (factory)
        o->key.flags |= TOK_KEYF_PERMANENT;
    o->mark = true;
    return CKR_OK;
}

/* A chip's own certificates: the driver's list, and on chips with binary
 * objects the factory ones that are certificates. */
static CK_RV view_factory(struct slot *s)
{
    uint32_t ids[32];
    size_t n = sizeof ids / sizeof ids[0];
    uint8_t *der = malloc(CERT_MAX_DER);
    CK_RV rv = CKR_OK;

    if (der == NULL)
        return CKR_HOST_MEMORY;
    if (s->ops->cert_list != NULL && s->ops->cert_list(s->dev, ids, &n) == TOK_OK) {
        for (size_t i = 0; i < n && rv == CKR_OK; i++) {
            size_t len = CERT_MAX_DER;
            if (s->ops->cert_read(s->dev, ids[i], der, &len) == TOK_OK)
                rv = view_cert(s, ids[i], der, len, true);
        }
    }
    n = sizeof ids / sizeof ids[0];
    if (chip_has_room(s) && s->ops->data_list != NULL &&
        s->ops->data_list(s->dev, ids, &n) == TOK_OK) {
        for (size_t i = 0; i < n && rv == CKR_OK; i++) {
            size_t len = CERT_MAX_DER;
            struct cert_fields probe;
            if (ids[i] < FACTORY_BASE || s->ops->data_read(s->dev, ids[i], der, &len) != TOK_OK ||
                cert_parse(der, len, &probe) != 0)
                continue;
            rv = view_cert(s, ids[i], der, len, true);
        }
    }
    free(der);
    return rv;
}

static CK_RV view_stored(struct slot *s)
{
    uint8_t *der = malloc(CERT_MAX_DER);
    CK_RV rv = CKR_OK;

    if (der == NULL)
        return CKR_HOST_MEMORY;
    for (size_t i = 0; i < s->store.ncerts && rv == CKR_OK; i++) {
        const struct store_cert *c = &s->store.certs[i];
        size_t len = CERT_MAX_DER;
        struct object *f = find_cert(s, c->cert_id);
        if (f != NULL && f->mark)
            continue; /* a factory certificate the user relabelled */
        if (c->der != NULL) {
            rv = view_cert(s, c->cert_id, c->der, c->der_len, false);
        } else if (chip_has_room(s) && s->ops->data_read(s->dev, c->cert_id, der, &len) == TOK_OK) {
            rv = view_cert(s, c->cert_id, der, len, false);
        } else {
            log_error("cert", "token %s: certificate %x is recorded but not on the chip",
                      s->conf.name, c->cert_id);
        }
    }
    free(der);
    return rv;
}

/* The private key whose public key the certificate carries. */
static struct object *paired_key(struct slot *s, struct object *cert)
{
    for (size_t i = 0; i < s->nobjs; i++) {
        struct object *k = &s->objs[i];
        const struct tok_pubkey *pub;
        if (k->owner != 0 || k->cls != CKO_PRIVATE_KEY)
            continue;
        if (obj_pubkey(s, k, &pub) == CKR_OK && cert_key_matches(pub, &cert->pub))
            return k;
    }
    return NULL;
}

static void name_cert(struct slot *s, struct object *o)
{
    const struct store_cert *rec = store_cert_find(&s->store, o->chip_id);
    struct object *key = paired_key(s, o);

    o->paired = key != NULL;
    if (rec != NULL && rec->explicit_label) {
        snprintf(o->label, sizeof o->label, "%s", rec->label);
        memcpy(o->id, rec->id, rec->id_len);
        o->id_len = rec->id_len;
    } else if (key != NULL) {
        snprintf(o->label, sizeof o->label, "%s", key->label);
        memcpy(o->id, key->id, key->id_len);
        o->id_len = key->id_len;
    } else {
        snprintf(o->label, sizeof o->label, "cert%x", o->chip_id);
        o->id_len = obj_default_id(s, o->chip_id, o->id, sizeof o->id);
    }
}

CK_RV cert_refresh(struct slot *s)
{
    CK_RV rv = view_factory(s);

    if (rv == CKR_OK)
        rv = view_stored(s);
    for (size_t i = 0; i < s->nobjs && rv == CKR_OK; i++)
        if (s->objs[i].owner == 0 && s->objs[i].cls == CKO_CERTIFICATE && s->objs[i].mark)
            name_cert(s, &s->objs[i]);
    return rv;
}

/* ---- attributes ---- */

static CK_RV put(uint8_t *buf, size_t cap, size_t *len, const void *v, size_t n)
{
    *len = n;
    if (n > cap)
        return CKR_BUFFER_TOO_SMALL;
    if (n > 0)
        memcpy(buf, v, n);
    return CKR_OK;
}

static CK_RV put_ulong(uint8_t *buf, size_t cap, size_t *len, CK_ULONG v)
{
    return put(buf, cap, len, &v, sizeof v);
}

static CK_RV put_bool(uint8_t *buf, size_t cap, size_t *len, bool v)
{
    CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
    return put(buf, cap, len, &b, sizeof b);
}

CK_RV cert_attr(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE t, uint8_t *buf, size_t cap,
                size_t *len)
{
    const struct cert_fields *cf = o->cert;
    bool factory = (o->key.flags & TOK_KEYF_PERMANENT) != 0;

    switch (t) {
    case CKA_CLASS:
        return put_ulong(buf, cap, len, CKO_CERTIFICATE);
    case CKA_TOKEN:
        return put_bool(buf, cap, len, true);
    case CKA_PRIVATE:
    case CKA_TRUSTED:
    case CKA_COPYABLE:
        return put_bool(buf, cap, len, false);
    case CKA_MODIFIABLE: /* label and ID, also of factory certificates */
        return put_bool(buf, cap, len, true);
    case CKA_DESTROYABLE:
        return put_bool(buf, cap, len, !factory);
    case CKA_LABEL:
        return put(buf, cap, len, o->label, strlen(o->label));
    case CKA_ID:
        return put(buf, cap, len, o->id, o->id_len);
    case CKA_CERTIFICATE_TYPE:
        return put_ulong(buf, cap, len, CKC_X_509);
    case CKA_CERTIFICATE_CATEGORY:
        return put_ulong(buf, cap, len, o->paired ? 1 : cf->is_ca ? 2 : 0);
    case CKA_CHECK_VALUE:
        return put(buf, cap, len, cf->check_value, sizeof cf->check_value);
    case CKA_START_DATE:
        return put(buf, cap, len, cf->start, sizeof cf->start);
    case CKA_END_DATE:
        return put(buf, cap, len, cf->end, sizeof cf->end);
    case CKA_SUBJECT:
        return put(buf, cap, len, cf->subject, cf->subject_len);
    case CKA_ISSUER:
        return put(buf, cap, len, cf->issuer, cf->issuer_len);
    case CKA_SERIAL_NUMBER:
        return put(buf, cap, len, cf->serial, cf->serial_len);
    case CKA_VALUE:
        return put(buf, cap, len, o->value, o->value_len);
    case CKA_URL:
    case CKA_HASH_OF_SUBJECT_PUBLIC_KEY:
    case CKA_HASH_OF_ISSUER_PUBLIC_KEY:
        return put(buf, cap, len, NULL, 0);
    case CKA_JAVA_MIDP_SECURITY_DOMAIN:
        return put_ulong(buf, cap, len, 0);
    case CKA_PUBLIC_KEY_INFO: {
        size_t n = attr_spki(&o->pub, buf, cap);
        if (n == 0)
            return CKR_GENERAL_ERROR;
        *len = n;
        return n > cap ? CKR_BUFFER_TOO_SMALL : CKR_OK;
    }
    default:
        (void)s;
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
}

/* ---- create, relabel, destroy ---- */

struct cert_req {
    const CK_ATTRIBUTE *value, *label, *id, *subject, *issuer, *serial;
};

static CK_RV parse_cert_template(const CK_ATTRIBUTE *t, CK_ULONG n, struct cert_req *r)
{
    memset(r, 0, sizeof *r);
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_ATTRIBUTE *a = &t[i];
        CK_ULONG v;
        CK_BBOOL b;
        switch (a->type) {
        case CKA_CLASS:
        case CKA_CERTIFICATE_TYPE:
        case CKA_CERTIFICATE_CATEGORY:
        case CKA_JAVA_MIDP_SECURITY_DOMAIN:
            if (a->pValue == NULL || a->ulValueLen != sizeof v)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&v, a->pValue, sizeof v);
            if ((a->type == CKA_CLASS && v != CKO_CERTIFICATE) ||
                (a->type == CKA_CERTIFICATE_TYPE && v != CKC_X_509))
                return CKR_TEMPLATE_INCONSISTENT;
            break;
        case CKA_TOKEN:
        case CKA_PRIVATE:
        case CKA_TRUSTED:
        case CKA_MODIFIABLE:
        case CKA_COPYABLE:
        case CKA_DESTROYABLE:
            if (a->pValue == NULL || a->ulValueLen != sizeof b)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&b, a->pValue, sizeof b);
            /* stored on the token, public, and only the SO may set trust */
            if ((a->type == CKA_TOKEN && !b) || (a->type == CKA_PRIVATE && b))
                return CKR_TEMPLATE_INCONSISTENT;
            if (a->type == CKA_TRUSTED && b)
                return CKR_ATTRIBUTE_READ_ONLY;
            break;
        case CKA_VALUE:
            r->value = a;
            break;
        case CKA_LABEL:
            if (a->ulValueLen > STORE_LABEL_MAX || (a->pValue == NULL && a->ulValueLen) ||
                (a->ulValueLen && memchr(a->pValue, '\0', a->ulValueLen)))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            r->label = a;
            break;
        case CKA_ID:
            if (a->ulValueLen > STORE_ID_MAX || (a->pValue == NULL && a->ulValueLen))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            r->id = a;
            break;
        case CKA_SUBJECT:
            r->subject = a;
            break;
        case CKA_ISSUER:
            r->issuer = a;
            break;
        case CKA_SERIAL_NUMBER:
            r->serial = a;
            break;
        case CKA_START_DATE:
        case CKA_END_DATE:
        case CKA_URL:
        case CKA_CHECK_VALUE:
            break;
        default:
            return CKR_ATTRIBUTE_TYPE_INVALID;
        }
    }
    if (r->value == NULL || r->value->pValue == NULL || r->value->ulValueLen == 0)
        return CKR_TEMPLATE_INCOMPLETE;
    return CKR_OK;
}

/* Given fields must be the ones the certificate carries. */
static bool same(const CK_ATTRIBUTE *a, const uint8_t *v, size_t len)
{
    return a == NULL || (a->ulValueLen == len && a->pValue != NULL && memcmp(a->pValue, v, len) == 0);
}

static uint32_t free_cert_id(struct slot *s, bool on_chip)
{
    uint32_t ids[256];
    size_t n = sizeof ids / sizeof ids[0];

    if (on_chip && (s->ops->data_list == NULL || s->ops->data_list(s->dev, ids, &n) != TOK_OK))
        return 0;
    for (uint32_t cand = on_chip ? CHIP_CERT_BASE : HOST_CERT_BASE;
         cand < (on_chip ? CHIP_CERT_END : HOST_CERT_BASE + 0x10000u); cand++) {
        bool used = store_cert_find(&s->store, cand) != NULL;
        for (size_t i = 0; on_chip && i < n && !used; i++)
            used = ids[i] == cand;
        if (!used)
            return cand;
    }
    return 0;
}

static CK_RV store_cert(struct slot *s, const struct cert_req *r, uint32_t *out)
{
    char label[STORE_LABEL_MAX + 1] = "";
    bool on_chip = chip_has_room(s);
    const uint8_t *der = r->value->pValue;
    size_t len = r->value->ulValueLen;
    uint32_t id;

    store_refresh(&s->store);
    if (s->store.broken)
        return CKR_DEVICE_ERROR;
    id = free_cert_id(s, on_chip);
    if (id == 0)
        return CKR_DEVICE_MEMORY;
    if (on_chip) {
        int rc = s->ops->data_write(s->dev, id, der, len);
        if (rc != TOK_OK) {
            log_error("cert", "token %s: writing certificate %x failed: %s", s->conf.name, id,
                      tok_strerror(rc));
            return ckr_from_tok(rc, TCTX_OTHER);
        }
    }
    if (r->label != NULL && r->label->ulValueLen)
        memcpy(label, r->label->pValue, r->label->ulValueLen);
    /* Without a label and ID of its own it follows its key pair. */
    bool explicit_name = r->label != NULL || r->id != NULL;
    if (store_cert_put(&s->store, id, explicit_name ? label : NULL,
                       r->id ? r->id->pValue : NULL, r->id ? r->id->ulValueLen : 0,
                       on_chip ? NULL : der, on_chip ? 0 : len) == NULL ||
        store_save(&s->store) != 0) {
        if (on_chip)
            s->ops->data_delete(s->dev, id);
        return CKR_DEVICE_MEMORY;
    }
    *out = id;
    return CKR_OK;
}

CK_RV cert_create(struct slot *s, struct session *sess, const CK_ATTRIBUTE *t, CK_ULONG n,
                  CK_OBJECT_HANDLE *out)
{
    struct cert_req r;
    struct cert_fields cf;
    uint32_t id = 0;
    CK_RV rv = parse_cert_template(t, n, &r);

    if (rv != CKR_OK)
        return rv;
    if (!(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (!slot_user_ok(s))
        return CKR_USER_NOT_LOGGED_IN;
    if (cert_parse(r.value->pValue, r.value->ulValueLen, &cf) != 0) {
        log_error("cert", "token %s: CKA_VALUE is not a DER X.509 certificate", s->conf.name);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (!same(r.subject, cf.subject, cf.subject_len) || !same(r.issuer, cf.issuer, cf.issuer_len) ||
        !same(r.serial, cf.serial, cf.serial_len))
        return CKR_TEMPLATE_INCONSISTENT;
    if ((rv = obj_refresh(s)) != CKR_OK)
        return rv;
    /* The same certificate again: the one already stored. */
    for (size_t i = 0; i < s->nobjs; i++) {
        struct object *o = &s->objs[i];
        if (o->owner == 0 && o->cls == CKO_CERTIFICATE && o->value_len == r.value->ulValueLen &&
            memcmp(o->value, r.value->pValue, o->value_len) == 0) {
            *out = o->handle;
            return CKR_OK;
        }
    }
    s->ops->lock(s->dev);
    rv = store_cert(s, &r, &id);
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    if (rv == CKR_OK && (rv = obj_refresh(s)) == CKR_OK) {
        struct object *o = find_cert(s, id);
        if (o == NULL)
            return CKR_GENERAL_ERROR;
        *out = o->handle;
        log_info("cert", "token %s: certificate stored as %x (%s)", s->conf.name, id,
                 o->paired ? "paired with its key" : "no key on the token matches it");
    }
    return rv;
}

/* Relabels a certificate: when it belongs to a key pair the pair moves with
 * it, so all three keep one label and one ID. */
CK_RV cert_relabel(struct slot *s, struct object *o, const char *label, const uint8_t *id,
                   size_t id_len)
{
    struct object *key = paired_key(s, o);
    CK_RV rv = CKR_OK;

    s->ops->lock(s->dev);
    store_refresh(&s->store);
    if (s->store.broken) {
        rv = CKR_DEVICE_ERROR;
    } else if (key != NULL) {
        if (store_key_put(&s->store, key->chip_id, label, id, id_len) == NULL ||
            (store_cert_find(&s->store, o->chip_id) != NULL &&
             store_cert_put(&s->store, o->chip_id, NULL, NULL, 0, NULL, 0) == NULL))
            rv = CKR_DEVICE_MEMORY;
    } else if (store_cert_put(&s->store, o->chip_id, label, id, id_len, NULL, 0) == NULL) {
        rv = CKR_DEVICE_MEMORY;
    }
    if (rv == CKR_OK && store_save(&s->store) != 0)
        rv = CKR_DEVICE_ERROR;
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    return rv;
}

CK_RV cert_destroy(struct slot *s, struct object *o)
{
    uint32_t id = o->chip_id;
    CK_RV rv = CKR_OK;

    if (o->key.flags & TOK_KEYF_PERMANENT)
        return CKR_ACTION_PROHIBITED;
    s->ops->lock(s->dev);
    store_refresh(&s->store);
    const struct store_cert *rec = store_cert_find(&s->store, id);
    if (rec != NULL && rec->der == NULL && chip_has_room(s) && s->ops->data_delete != NULL) {
        int rc = s->ops->data_delete(s->dev, id);
        if (rc != TOK_OK && rc != TOK_E_NOT_FOUND)
            rv = ckr_from_tok(rc, TCTX_DESTROY);
    }
    if (rv == CKR_OK) {
        store_cert_remove(&s->store, id);
        if (store_save(&s->store) != 0)
            rv = CKR_DEVICE_ERROR;
    }
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    return rv;
}
