/* CKO_DATA objects, on chips with room for binary objects (SE050): the value
 * is a binary object on the chip; label, application, object ID and
 * CKA_PRIVATE are kept in the token's store (which the chip also holds a copy
 * of). The value is read from the chip when it is asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/log.h"
#include "module/internal.h"

#define DATA_BASE 0x62000001u
#define DATA_END 0x6200FFFFu
#define DATA_MAX 4096

bool data_supported(const struct slot *s)
{
    return s->ops->data_write != NULL && s->ops->data_read != NULL &&
           s->ops->data_delete != NULL && s->ops->data_list != NULL;
}

CK_RV data_refresh(struct slot *s)
{
    for (size_t i = 0; i < s->store.ndata; i++) {
        const struct store_data *d = &s->store.data[i];
        struct object *o = NULL;
        for (size_t j = 0; j < s->nobjs && o == NULL; j++)
            if (s->objs[j].owner == 0 && s->objs[j].cls == CKO_DATA &&
                s->objs[j].chip_id == d->data_id)
                o = &s->objs[j];
        if (o == NULL && (o = obj_add(s)) == NULL)
            return CKR_HOST_MEMORY;
        o->cls = CKO_DATA;
        o->chip_id = d->data_id;
        snprintf(o->label, sizeof o->label, "%s", d->label);
        o->mark = true;
    }
    return CKR_OK;
}

bool data_private(const struct slot *s, const struct object *o)
{
    for (size_t i = 0; i < s->store.ndata; i++)
        if (s->store.data[i].data_id == o->chip_id)
            return s->store.data[i].is_private;
    return false;
}

static CK_RV put(uint8_t *buf, size_t cap, size_t *len, const void *v, size_t n)
{
    *len = n;
    if (n > cap)
        return CKR_BUFFER_TOO_SMALL;
    if (n > 0)
        memcpy(buf, v, n);
    return CKR_OK;
}

static CK_RV put_bool(uint8_t *buf, size_t cap, size_t *len, bool v)
{
    CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
    return put(buf, cap, len, &b, sizeof b);
}

CK_RV data_attr(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE t, uint8_t *buf, size_t cap,
                size_t *len)
{
    const struct store_data *d = store_data_find(&s->store, o->chip_id);
    CK_OBJECT_CLASS cls = CKO_DATA;

    if (d == NULL)
        return CKR_OBJECT_HANDLE_INVALID;
    switch (t) {
    case CKA_CLASS:
        return put(buf, cap, len, &cls, sizeof cls);
    case CKA_TOKEN:
    case CKA_MODIFIABLE:
    case CKA_DESTROYABLE:
        return put_bool(buf, cap, len, true);
    case CKA_COPYABLE:
        return put_bool(buf, cap, len, false);
    case CKA_PRIVATE:
        return put_bool(buf, cap, len, d->is_private);
    case CKA_LABEL:
        return put(buf, cap, len, d->label, strlen(d->label));
    case CKA_APPLICATION:
        return put(buf, cap, len, d->app, strlen(d->app));
    case CKA_OBJECT_ID:
        return put(buf, cap, len, d->oid, d->oid_len);
    case CKA_VALUE: {
        size_t n = cap;
        int rc = s->ops->data_read(s->dev, o->chip_id, buf, &n);
        if (rc == TOK_E_FULL) {
            *len = n;
            return CKR_BUFFER_TOO_SMALL;
        }
        if (rc != TOK_OK) {
            log_error("data", "token %s: reading data object %x failed: %s", s->conf.name,
                      o->chip_id, tok_strerror(rc));
            return ckr_from_tok(rc, TCTX_OTHER);
        }
        *len = n;
        return CKR_OK;
    }
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
}

static CK_RV text_attr(const CK_ATTRIBUTE *a, char *out)
{
    if (a->ulValueLen > STORE_LABEL_MAX || (a->pValue == NULL && a->ulValueLen) ||
        (a->ulValueLen && memchr(a->pValue, '\0', a->ulValueLen)))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (a->ulValueLen)
        memcpy(out, a->pValue, a->ulValueLen);
    out[a->ulValueLen] = '\0';
    return CKR_OK;
}

static CK_RV parse_data_template(const CK_ATTRIBUTE *t, CK_ULONG n, struct store_data *d,
                                 const CK_ATTRIBUTE **value)
{
    CK_RV rv = CKR_OK;

    memset(d, 0, sizeof *d);
    *value = NULL;
    for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++) {
        const CK_ATTRIBUTE *a = &t[i];
        CK_BBOOL b;
        switch (a->type) {
        case CKA_CLASS:
            break; /* checked by the caller */
        case CKA_TOKEN:
        case CKA_PRIVATE:
        case CKA_MODIFIABLE:
        case CKA_DESTROYABLE:
        case CKA_COPYABLE:
            if (a->pValue == NULL || a->ulValueLen != sizeof b)
                return CKR_ATTRIBUTE_VALUE_INVALID;
            memcpy(&b, a->pValue, sizeof b);
            if (a->type == CKA_TOKEN && !b)
                return CKR_TEMPLATE_INCONSISTENT; /* kept on the chip */
            if (a->type == CKA_PRIVATE)
                d->is_private = b;
            break;
        case CKA_LABEL:
            rv = text_attr(a, d->label);
            break;
        case CKA_APPLICATION:
            rv = text_attr(a, d->app);
            break;
        case CKA_OBJECT_ID:
            if (a->ulValueLen > sizeof d->oid || (a->pValue == NULL && a->ulValueLen))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            if (a->ulValueLen)
                memcpy(d->oid, a->pValue, a->ulValueLen);
            d->oid_len = a->ulValueLen;
            break;
        case CKA_VALUE:
            if (a->ulValueLen > DATA_MAX || (a->pValue == NULL && a->ulValueLen))
                return CKR_ATTRIBUTE_VALUE_INVALID;
            *value = a;
            break;
        default:
            return CKR_ATTRIBUTE_TYPE_INVALID;
        }
    }
    if (rv == CKR_OK && (*value == NULL || (*value)->ulValueLen == 0))
        rv = CKR_TEMPLATE_INCOMPLETE; /* the chip keeps no empty binary object */
    return rv;
}

static uint32_t free_data_id(struct slot *s)
{
    uint32_t ids[256];
    size_t n = sizeof ids / sizeof ids[0];

    if (s->ops->data_list(s->dev, ids, &n) != TOK_OK)
        return 0;
    for (uint32_t cand = DATA_BASE; cand < DATA_END; cand++) {
        bool used = store_data_find(&s->store, cand) != NULL;
        for (size_t i = 0; i < n && !used; i++)
            used = ids[i] == cand;
        if (!used)
            return cand;
    }
    return 0;
}

CK_RV data_create(struct slot *s, struct session *sess, const CK_ATTRIBUTE *t, CK_ULONG n,
                  CK_OBJECT_HANDLE *out)
{
    struct store_data d;
    const CK_ATTRIBUTE *value;
    CK_RV rv = parse_data_template(t, n, &d, &value);
    int rc;

    if (rv != CKR_OK)
        return rv;
    if (!data_supported(s)) {
        log_error("data", "token %s: the chip has no room for data objects", s->conf.name);
        return CKR_TEMPLATE_INCONSISTENT;
    }
    if (!(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (!slot_user_ok(s))
        return CKR_USER_NOT_LOGGED_IN;
    s->ops->lock(s->dev);
    store_refresh(&s->store);
    d.data_id = s->store.broken ? 0 : free_data_id(s);
    if (d.data_id == 0) {
        rv = s->store.broken ? CKR_DEVICE_ERROR : CKR_DEVICE_MEMORY;
    } else if ((rc = s->ops->data_write(s->dev, d.data_id, value->pValue, value->ulValueLen)) !=
               TOK_OK) {
        rv = ckr_from_tok(rc, TCTX_OTHER);
    } else if (store_data_put(&s->store, &d) == NULL || store_save(&s->store) != 0) {
        s->ops->data_delete(s->dev, d.data_id); /* nothing half-written stays */
        store_data_remove(&s->store, d.data_id);
        rv = CKR_DEVICE_MEMORY;
    }
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    if (rv == CKR_OK && (rv = obj_refresh(s)) == CKR_OK) {
        rv = CKR_GENERAL_ERROR;
        for (size_t i = 0; i < s->nobjs; i++) {
            if (s->objs[i].cls == CKO_DATA && s->objs[i].chip_id == d.data_id) {
                *out = s->objs[i].handle;
                rv = CKR_OK;
            }
        }
    }
    return rv;
}

CK_RV data_destroy(struct slot *s, struct object *o)
{
    CK_RV rv = CKR_OK;
    int rc;

    s->ops->lock(s->dev);
    rc = s->ops->data_delete(s->dev, o->chip_id);
    if (rc != TOK_OK && rc != TOK_E_NOT_FOUND) {
        rv = ckr_from_tok(rc, TCTX_DESTROY);
    } else {
        store_refresh(&s->store);
        store_data_remove(&s->store, o->chip_id);
        if (store_save(&s->store) != 0)
            rv = CKR_DEVICE_ERROR;
    }
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    return rv;
}

CK_RV data_relabel(struct slot *s, struct object *o, const char *label)
{
    CK_RV rv = CKR_OK;

    s->ops->lock(s->dev);
    store_refresh(&s->store);
    struct store_data *d = store_data_find(&s->store, o->chip_id);
    if (d == NULL) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    } else {
        snprintf(d->label, sizeof d->label, "%s", label);
        if (store_save(&s->store) != 0)
            rv = CKR_DEVICE_ERROR;
    }
    s->ops->unlock(s->dev);
    s->objs_loaded = false;
    return rv;
}
