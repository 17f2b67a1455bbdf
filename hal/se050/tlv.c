#include "hal/se050/tlv.h"

#include <string.h>

void tlv_writer_init(struct tlv_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
}

size_t tlv_len_encode(size_t len, uint8_t out[3])
{
    if (len < 0x80) {
        out[0] = (uint8_t)len;
        return 1;
    }
    if (len <= 0xFF) {
        out[0] = 0x81;
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[0] = 0x82;
        out[1] = (uint8_t)(len >> 8);
        out[2] = (uint8_t)len;
        return 3;
    }
    return 0;
}

void tlv_put(struct tlv_writer *w, uint8_t tag, const uint8_t *val, size_t len)
{
    uint8_t l[3];
    size_t ll = tlv_len_encode(len, l);

    if (w->overflow || ll == 0 || w->cap - w->len < 1 + ll || w->cap - w->len - 1 - ll < len) {
        w->overflow = true;
        return;
    }
    w->buf[w->len++] = tag;
    memcpy(w->buf + w->len, l, ll);
    w->len += ll;
    if (len > 0)
        memcpy(w->buf + w->len, val, len);
    w->len += len;
}

void tlv_put_u8(struct tlv_writer *w, uint8_t tag, uint8_t v) { tlv_put(w, tag, &v, 1); }

void tlv_put_u16(struct tlv_writer *w, uint8_t tag, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    tlv_put(w, tag, b, 2);
}

void tlv_put_u32(struct tlv_writer *w, uint8_t tag, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    tlv_put(w, tag, b, 4);
}

void tlv_reader_init(struct tlv_reader *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
}

bool tlv_at_end(const struct tlv_reader *r) { return r->pos >= r->len; }

int tlv_next(struct tlv_reader *r, uint8_t *tag, const uint8_t **val, size_t *len)
{
    size_t left, n, hdr;

    if (r->pos >= r->len)
        return 1;
    left = r->len - r->pos;
    if (left < 2)
        return -1;
    *tag = r->buf[r->pos];
    n = r->buf[r->pos + 1];
    hdr = 2;
    if (n == 0x81) {
        if (left < 3)
            return -1;
        n = r->buf[r->pos + 2];
        hdr = 3;
    } else if (n == 0x82) {
        if (left < 4)
            return -1;
        n = (size_t)r->buf[r->pos + 2] << 8 | r->buf[r->pos + 3];
        hdr = 4;
    } else if (n >= 0x80) {
        return -1;
    }
    if (left - hdr < n)
        return -1;
    *val = r->buf + r->pos + hdr;
    *len = n;
    r->pos += hdr + n;
    return 0;
}

int tlv_expect(struct tlv_reader *r, uint8_t tag, const uint8_t **val, size_t *len)
{
    uint8_t t;

    if (tlv_next(r, &t, val, len) != 0 || t != tag)
        return -1;
    return 0;
}

int tlv_expect_n(struct tlv_reader *r, uint8_t tag, size_t n, const uint8_t **val)
{
    size_t len;

    if (tlv_expect(r, tag, val, &len) != 0 || len != n)
        return -1;
    return 0;
}
