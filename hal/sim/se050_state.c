/* The SE050 emulator's state as bytes: everything the chip holds, volatile
 * state included, in an explicit versioned layout (integers big-endian).
 *
 *   "SE050EMU" u16 version(1)
 *   u8 applet selected
 *   17 x (u8 curve created, u8 parameters set)
 *   link: u8 ns, u8 nr, u8 ifsd, u8 wtx_left, u32 busy_left, u8 cmd_overflow,
 *         u16 len + command bytes, u16 len + response bytes, u16 response offset,
 *         u16 len + last block sent, u16 read cursor, u8 readable
 *   u32 object count, each:
 *         u32 id, u8 type, u8 origin, u8 curve, u8 rsa_crt, u16 rsa_bits,
 *         u8 complete, u16 len + policy, 8 x (u32 len + part bytes)
 *
 * Loading checks every length against the buffer and every field against
 * what the chip could hold. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hal/se050/t1_crc.h"
#include "hal/sim/se050_emu.h"

static const uint8_t magic[8] = {'S', 'E', '0', '5', '0', 'E', 'M', 'U'};
#define STATE_VERSION 1
#define MAX_OBJECTS 65536u
#define BINARY_MAX 0x7FFF

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool fail;
};

static void w_bytes(struct wbuf *w, const void *v, size_t n)
{
    if (w->fail)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        uint8_t *np;

        while (cap < w->len + n)
            cap *= 2;
        np = malloc(cap);
        if (np == NULL) {
            w->fail = true;
            return;
        }
        if (w->p != NULL) {
            memcpy(np, w->p, w->len);
            OPENSSL_clear_free(w->p, w->cap);
        }
        w->p = np;
        w->cap = cap;
    }
    if (n > 0)
        memcpy(w->p + w->len, v, n);
    w->len += n;
}

static void w_u8(struct wbuf *w, unsigned v)
{
    uint8_t b = (uint8_t)v;

    w_bytes(w, &b, 1);
}

static void w_u16(struct wbuf *w, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    w_bytes(w, b, 2);
}

static void w_u32(struct wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    w_bytes(w, b, 4);
}

int se050_state_save(const struct se050_chip *c, uint8_t **buf, size_t *len)
{
    const struct se050_link *l = &c->link;
    struct wbuf w = {0};
    uint8_t *out;

    w_bytes(&w, magic, sizeof magic);
    w_u16(&w, STATE_VERSION);
    w_u8(&w, c->selected);
    for (size_t i = 0; i < SE050_CURVE_SLOTS; i++) {
        w_u8(&w, c->curve[i].created);
        w_u8(&w, c->curve[i].params);
    }
    w_u8(&w, l->ns);
    w_u8(&w, l->nr);
    w_u8(&w, l->ifsd);
    w_u8(&w, l->wtx_left);
    w_u32(&w, l->busy_left);
    w_u8(&w, l->cmd_overflow);
    w_u16(&w, l->cmd_len);
    w_bytes(&w, l->cmd, l->cmd_len);
    w_u16(&w, l->rsp_len);
    w_bytes(&w, l->rsp, l->rsp_len);
    w_u16(&w, l->rsp_off);
    w_u16(&w, l->last_len);
    w_bytes(&w, l->last, l->last_len);
    w_u16(&w, l->read_pos);
    w_u8(&w, l->readable);
    w_u32(&w, (uint32_t)c->nobj);
    for (size_t i = 0; i < c->nobj; i++) {
        const struct se050_obj *o = &c->obj[i];

        w_u32(&w, o->id);
        w_u8(&w, o->type);
        w_u8(&w, o->origin);
        w_u8(&w, o->curve);
        w_u8(&w, o->rsa_crt);
        w_u16(&w, o->rsa_bits);
        w_u8(&w, o->complete);
        w_u16(&w, o->policy_len);
        w_bytes(&w, o->policy, o->policy_len);
        for (size_t k = 0; k < SE050_PARTS; k++) {
            w_u32(&w, (uint32_t)o->part[k].len);
            w_bytes(&w, o->part[k].buf, o->part[k].len);
        }
    }
    if (w.fail) {
        if (w.p != NULL)
            OPENSSL_clear_free(w.p, w.cap);
        return -1;
    }
    /* Exactly sized, so the caller may free it with free(). */
    out = malloc(w.len);
    if (out == NULL) {
        OPENSSL_clear_free(w.p, w.cap);
        return -1;
    }
    memcpy(out, w.p, w.len);
    OPENSSL_clear_free(w.p, w.cap);
    *buf = out;
    *len = w.len;
    return 0;
}

/* ---- loading ----------------------------------------------------------- */

struct rbuf {
    const uint8_t *p;
    size_t len, pos;
    char *err;
    size_t errlen;
    bool fail;
};

__attribute__((format(printf, 2, 3))) static void bad(struct rbuf *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->fail)
        return;
    r->fail = true;
    n = snprintf(r->err, r->errlen, "se050 state: ");
    if (n < 0 || (size_t)n >= r->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static const uint8_t *r_bytes(struct rbuf *r, size_t n)
{
    const uint8_t *p;

    if (r->fail)
        return NULL;
    if (n > r->len - r->pos) {
        bad(r, "truncated at byte %zu", r->pos);
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += n;
    return p;
}

static unsigned r_u8(struct rbuf *r)
{
    const uint8_t *p = r_bytes(r, 1);

    return p ? p[0] : 0;
}

static unsigned r_u16(struct rbuf *r)
{
    const uint8_t *p = r_bytes(r, 2);

    return p ? (unsigned)p[0] << 8 | p[1] : 0;
}

static uint32_t r_u32(struct rbuf *r)
{
    const uint8_t *p = r_bytes(r, 4);

    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static bool r_bool(struct rbuf *r, const char *what)
{
    unsigned v = r_u8(r);

    if (v > 1)
        bad(r, "%s is %u, not 0 or 1", what, v);
    return v == 1;
}

/* A u16 length and that many bytes into dst[cap]. */
static uint16_t r_field(struct rbuf *r, uint8_t *dst, size_t cap, const char *what)
{
    unsigned n = r_u16(r);
    const uint8_t *p;

    if (n > cap) {
        bad(r, "%s of %u bytes (at most %zu)", what, n, cap);
        return 0;
    }
    p = r_bytes(r, n);
    if (p == NULL)
        return 0;
    memcpy(dst, p, n);
    return (uint16_t)n;
}

static void load_link(struct rbuf *r, struct se050_link *l)
{
    l->ns = (uint8_t)r_bool(r, "N(S)");
    l->nr = (uint8_t)r_bool(r, "N(R)");
    l->ifsd = (uint8_t)r_u8(r);
    l->wtx_left = (uint8_t)r_u8(r);
    l->busy_left = r_u32(r);
    l->cmd_overflow = r_bool(r, "command overflow");
    l->cmd_len = r_field(r, l->cmd, sizeof l->cmd, "pending command");
    l->rsp_len = r_field(r, l->rsp, sizeof l->rsp, "pending response");
    l->rsp_off = (uint16_t)r_u16(r);
    l->last_len = r_field(r, l->last, sizeof l->last, "last block");
    l->read_pos = (uint16_t)r_u16(r);
    l->readable = r_bool(r, "readable");
    if (r->fail)
        return;
    if (l->ifsd == 0 || l->ifsd > SE050_IFS_MAX)
        bad(r, "IFSD %u", l->ifsd);
    else if (l->rsp_off > l->rsp_len || (l->rsp_len > 0 && l->rsp_off == l->rsp_len) ||
             (l->rsp_len == 0 && l->rsp_off != 0))
        bad(r, "response offset %u of %u", l->rsp_off, l->rsp_len);
    else if (l->wtx_left > 0 && (l->rsp_len == 0 || l->rsp_off != 0))
        bad(r, "waiting-time extension without a response");
    else if (l->rsp_len == 1)
        bad(r, "response of 1 byte");
    else if (l->last_len != 0 &&
             (l->last_len < 5 || l->last[0] != SE050_NAD_CHIP ||
              (size_t)l->last[2] + 5 != l->last_len || !t1_crc16_ok(l->last, l->last_len)))
        bad(r, "malformed last block");
    else if (l->read_pos > l->last_len || (l->readable && l->read_pos == l->last_len))
        bad(r, "read cursor %u of %u", l->read_pos, l->last_len);
}

static void load_part(struct rbuf *r, struct se050_blob *b, size_t max)
{
    uint32_t n = r_u32(r);
    const uint8_t *p;

    if (r->fail)
        return;
    if (n > max) {
        bad(r, "object part of %u bytes (at most %zu)", (unsigned)n, max);
        return;
    }
    p = r_bytes(r, n);
    if (p != NULL && se050_blob_set(b, p, n) != 0)
        bad(r, "out of memory");
}

static void check_ec(struct rbuf *r, const struct se050_obj *o)
{
    size_t f = se050_curve_bytes(o->curve);
    const struct se050_blob *pub = &o->part[SE050_EC_PUB], *priv = &o->part[SE050_EC_PRIV];

    if (f == 0) {
        bad(r, "object %08X on curve %u", o->id, o->curve);
        return;
    }
    if (pub->len != 1 + 2 * f || pub->buf[0] != 0x04 ||
        priv->len != (o->type == SE050_T_EC_PUB ? 0 : f) || !o->complete)
        bad(r, "EC object %08X malformed", o->id);
    for (size_t k = 2; k < SE050_PARTS; k++)
        if (o->part[k].len != 0)
            bad(r, "EC object %08X with extra parts", o->id);
}

static void check_rsa(struct rbuf *r, const struct se050_obj *o)
{
    unsigned need = se050_rsa_needed(o), have = 0;
    size_t full = (size_t)o->rsa_bits / 8;

    if (o->rsa_bits != 2048 && o->rsa_bits != 3072 && o->rsa_bits != 4096) {
        bad(r, "RSA object %08X of %u bits", o->id, o->rsa_bits);
        return;
    }
    if ((o->type == SE050_T_RSA_PAIR_CRT || o->type == SE050_T_RSA_PRIV_CRT) != o->rsa_crt) {
        bad(r, "RSA object %08X: format and type disagree", o->id);
        return;
    }
    for (unsigned k = 0; k < SE050_PARTS; k++) {
        size_t max = k == SE050_RSA_N || k == SE050_RSA_E || k == SE050_RSA_D ? full : full / 2;

        if (o->part[k].len == 0)
            continue;
        have |= 1u << k;
        if (o->part[k].len > max)
            bad(r, "RSA object %08X: component %u too long", o->id, k);
    }
    if (have & ~need)
        bad(r, "RSA object %08X with extra components", o->id);
    else if (o->complete && have != need)
        bad(r, "RSA object %08X complete without all components", o->id);
    else if (o->complete && o->part[SE050_RSA_N].len != full)
        bad(r, "RSA object %08X: modulus length", o->id);
}

static void load_object(struct rbuf *r, struct se050_chip *c)
{
    uint32_t id = r_u32(r);
    struct se050_obj *o;

    if (r->fail)
        return;
    if (id == 0 || se050_find(c, id) != NULL) {
        bad(r, "object id %08X zero or repeated", id);
        return;
    }
    o = se050_add(c, id);
    if (o == NULL) {
        bad(r, "out of memory");
        return;
    }
    o->type = (uint8_t)r_u8(r);
    o->origin = (uint8_t)r_u8(r);
    o->curve = (uint8_t)r_u8(r);
    o->rsa_crt = r_bool(r, "RSA format");
    o->rsa_bits = (uint16_t)r_u16(r);
    o->complete = r_bool(r, "complete");
    o->policy_len = r_field(r, o->policy, sizeof o->policy, "policy");
    for (size_t k = 0; k < SE050_PARTS; k++)
        load_part(r, &o->part[k], BINARY_MAX);
    if (r->fail)
        return;
    if (!se050_type_known(o->type) || o->origin < SE050_ORIGIN_EXTERNAL ||
        o->origin > SE050_ORIGIN_NXP) {
        bad(r, "object %08X of type %u origin %u", id, o->type, o->origin);
        return;
    }
    if (o->policy_len > 0 && !se050_policy_valid(o->policy, o->policy_len)) {
        bad(r, "object %08X with a malformed policy", id);
        return;
    }
    if (se050_is_ec(o->type))
        check_ec(r, o);
    else if (se050_is_rsa(o->type))
        check_rsa(r, o);
    else {
        if (o->part[SE050_BIN_DATA].len == 0 || !o->complete)
            bad(r, "binary object %08X malformed", id);
        for (size_t k = 1; k < SE050_PARTS; k++)
            if (o->part[k].len != 0)
                bad(r, "binary object %08X with extra parts", id);
    }
}

struct se050_chip *se050_state_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    struct rbuf r = {buf, len, 0, err, errlen, false};
    struct se050_chip *c;
    const uint8_t *m;
    unsigned version;
    uint32_t nobj;

    if (buf == NULL) {
        snprintf(err, errlen, "se050 state: empty");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "se050 state: out of memory");
        return NULL;
    }
    m = r_bytes(&r, sizeof magic);
    if (m != NULL && memcmp(m, magic, sizeof magic) != 0)
        bad(&r, "not an SE050 emulator state");
    version = r_u16(&r);
    if (!r.fail && version != STATE_VERSION)
        bad(&r, "layout version %u (this emulator reads %u)", version, STATE_VERSION);
    c->selected = r_bool(&r, "applet selected");
    for (size_t i = 0; i < SE050_CURVE_SLOTS && !r.fail; i++) {
        c->curve[i].created = r_bool(&r, "curve created");
        c->curve[i].params = (uint8_t)r_u8(&r);
        if (!r.fail && (c->curve[i].params & ~SE050_CURVE_PARAMS_ALL ||
                        (!c->curve[i].created && c->curve[i].params != 0) ||
                        (c->curve[i].created && se050_curve_bytes((uint8_t)(i + 1)) == 0)))
            bad(&r, "curve %zu state", i + 1);
    }
    load_link(&r, &c->link);
    nobj = r_u32(&r);
    if (!r.fail && nobj > MAX_OBJECTS)
        bad(&r, "%u objects", (unsigned)nobj);
    for (uint32_t i = 0; i < nobj && !r.fail; i++)
        load_object(&r, c);
    if (!r.fail && r.pos != len)
        bad(&r, "%zu trailing bytes", len - r.pos);
    if (r.fail) {
        se050_chip_free(c);
        return NULL;
    }
    return c;
}
