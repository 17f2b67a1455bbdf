/* The IoT applet's TLVs (§3.2): a 1-byte tag and a BER length — 0x00..0x7F,
 * 0x81 LL, 0x82 HH LL — then the value. The writer emits the shortest form;
 * the reader accepts the three forms and never reads past its buffer. */
#ifndef SECCKI_SE050_TLV_H
#define SECCKI_SE050_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tlv_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool overflow; /* sticky: a value did not fit */
};

void tlv_writer_init(struct tlv_writer *w, uint8_t *buf, size_t cap);
/* Encodes a length into out (3 bytes); returns how many bytes it took, 0 when
 * the length is above 0xFFFF. */
size_t tlv_len_encode(size_t len, uint8_t out[3]);
void tlv_put(struct tlv_writer *w, uint8_t tag, const uint8_t *val, size_t len);
void tlv_put_u8(struct tlv_writer *w, uint8_t tag, uint8_t v);
void tlv_put_u16(struct tlv_writer *w, uint8_t tag, uint16_t v);
void tlv_put_u32(struct tlv_writer *w, uint8_t tag, uint32_t v);

struct tlv_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
};

void tlv_reader_init(struct tlv_reader *r, const uint8_t *buf, size_t len);
/* Reads the next TLV. 0 ok; -1 malformed or truncated; 1 at the end. */
int tlv_next(struct tlv_reader *r, uint8_t *tag, const uint8_t **val, size_t *len);
/* Reads the next TLV and requires it to carry this tag. 0 ok, -1 otherwise. */
int tlv_expect(struct tlv_reader *r, uint8_t tag, const uint8_t **val, size_t *len);
/* Same for a value of exactly n bytes. */
int tlv_expect_n(struct tlv_reader *r, uint8_t tag, size_t n, const uint8_t **val);
bool tlv_at_end(const struct tlv_reader *r);

#endif
