#include "hal/se050/t1.h"

#include <string.h>

#include "hal/log.h"
#include "hal/se050/t1_crc.h"

#define PCB_I_NS 0x40
#define PCB_I_MORE 0x20
#define PCB_R 0x80
#define PCB_R_NR 0x10
#define PCB_R_ERR_CRC 0x01
#define PCB_S 0xC0
#define PCB_S_RESP 0x20

#define S_RESYNC 0x00
#define S_WTX 0x03
#define S_END_SESSION 0x05
#define S_GET_ATR 0x07
#define S_SOFT_RESET 0x0F

enum rb { RB_OK, RB_NOANSWER, RB_BAD, RB_IO };

struct block {
    uint8_t pcb;
    uint8_t len;
    uint8_t inf[T1_IFS_MAX];
};

/* The last frame the host sent, for retransmission. */
struct sent {
    uint8_t buf[T1_FRAME_MAX];
    size_t len;
};

static bool is_i(uint8_t pcb) { return (pcb & 0x80) == 0; }
static bool is_r(uint8_t pcb) { return (pcb & 0xEC) == 0x80; }

const char *t1_strerror(int err)
{
    switch (err) {
    case T1_OK: return "ok";
    case T1_E_ABSENT: return "no answer from the chip";
    case T1_E_PROTO: return "T=1 protocol error";
    case T1_E_IO: return "transport error";
    case T1_E_OVERFLOW: return "response too long";
    case T1_E_ARGS: return "bad arguments";
    default: return "unknown T=1 error";
    }
}

void t1_init(struct t1 *t, const struct t1_transport *tr)
{
    memset(t, 0, sizeof *t);
    t->tr = *tr;
    t->ifsc = T1_IFS_MAX;
    t->bwt_ms = 1000;
    t->mpot_ms = 1;
}

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

int t1_atr_parse(const uint8_t *buf, size_t len, struct t1_atr *out)
{
    size_t pos = 0, n;

    memset(out, 0, sizeof *out);
    if (len < 7)
        return T1_E_PROTO;
    out->pver = buf[0];
    memcpy(out->vid, buf + 1, 5);
    pos = 6;

    n = buf[pos++]; /* data-link-layer parameters */
    if (n < 4 || pos + n > len)
        return T1_E_PROTO;
    out->bwt_ms = be16(buf + pos);
    out->ifsc = be16(buf + pos + 2);
    pos += n;

    if (pos + 2 > len)
        return T1_E_PROTO;
    out->plid = buf[pos++];
    n = buf[pos++]; /* physical-layer parameters */
    if (pos + n > len)
        return T1_E_PROTO;
    if (n >= 2)
        out->mcf_khz = be16(buf + pos);
    if (n >= 3)
        out->config = buf[pos + 2];
    if (n >= 4)
        out->mpot_ms = buf[pos + 3];
    if (n >= 9)
        out->segt_us = be16(buf + pos + 7);
    if (n >= 11)
        out->wut_us = be16(buf + pos + 9);
    pos += n;

    if (pos + 1 > len)
        return T1_E_PROTO;
    n = buf[pos++]; /* historical bytes */
    if (n > sizeof out->hist || pos + n != len)
        return T1_E_PROTO;
    memcpy(out->hist, buf + pos, n);
    out->hist_len = n;

    if (out->ifsc == 0)
        return T1_E_PROTO;
    return T1_OK;
}

size_t t1_block_build(uint8_t nad, uint8_t pcb, const uint8_t *inf, size_t len, uint8_t *out)
{
    out[0] = nad;
    out[1] = pcb;
    out[2] = (uint8_t)len;
    if (len > 0)
        memcpy(out + 3, inf, len);
    t1_crc16_put(out, 3 + len, out + 3 + len);
    return 3 + len + 2;
}

static int write_raw(struct t1 *t, const uint8_t *buf, size_t len)
{
    for (unsigned i = 0; i < T1_WRITE_TRIES; i++) {
        int rc = t->tr.write(t->tr.ctx, buf, len);

        if (rc == 0)
            return T1_OK;
        if (rc != T1_TR_NACK)
            return T1_E_IO;
        t->tr.delay_us(t->tr.ctx, T1_WRITE_DELAY_US);
    }
    return T1_E_ABSENT;
}

static int send_block(struct t1 *t, struct sent *s, uint8_t pcb, const uint8_t *inf, size_t len)
{
    s->len = t1_block_build(T1_NAD_HOST, pcb, inf, len, s->buf);
    return write_raw(t, s->buf, s->len);
}

static unsigned poll_delay_us(const struct t1 *t)
{
    return t->mpot_ms > 0 ? t->mpot_ms * 1000u : T1_POLL_DELAY_US;
}

/* Reads exactly len bytes of a block already under way. */
static enum rb read_part(struct t1 *t, uint8_t *buf, size_t len)
{
    for (unsigned i = 0; i < T1_PART_TRIES; i++) {
        int rc = t->tr.read(t->tr.ctx, buf, len);

        if (rc == 0)
            return RB_OK;
        if (rc != T1_TR_NACK)
            return RB_IO;
        t->tr.delay_us(t->tr.ctx, poll_delay_us(t));
    }
    return RB_NOANSWER;
}

/* §1.6: poll 2 bytes (NAD, PCB) while the chip NACKs, then LEN, then INF and
 * CRC, each in its own read. A junk byte before the NAD is tolerated. */
static enum rb read_block(struct t1 *t, struct block *b, unsigned wtx_mult)
{
    uint8_t frame[T1_FRAME_MAX];
    unsigned polls = T1_POLL_MIN + t->bwt_ms * 1000u / poll_delay_us(t) * wtx_mult;
    unsigned i;
    enum rb rb;
    int rc = T1_TR_NACK;

    for (i = 0; i < polls; i++) {
        rc = t->tr.read(t->tr.ctx, frame, 2);
        if (rc != T1_TR_NACK)
            break;
        t->tr.delay_us(t->tr.ctx, poll_delay_us(t));
    }
    if (rc == T1_TR_NACK)
        return RB_NOANSWER;
    if (rc != 0)
        return RB_IO;

    if (frame[0] == T1_NAD_SE) {
        rb = read_part(t, frame + 2, 1);
    } else if (frame[1] == T1_NAD_SE) {
        frame[0] = T1_NAD_SE;
        rb = read_part(t, frame + 1, 2);
    } else {
        log_debug("se050", "T=1: no NAD in %02x %02x", frame[0], frame[1]);
        return RB_BAD;
    }
    if (rb != RB_OK)
        return rb;
    if (frame[2] > T1_IFS_MAX)
        return RB_BAD;
    rb = read_part(t, frame + 3, (size_t)frame[2] + 2);
    if (rb != RB_OK)
        return rb;
    if (!t1_crc16_ok(frame, (size_t)frame[2] + 5)) {
        log_debug("se050", "T=1: bad CRC on block pcb %02x", frame[1]);
        return RB_BAD;
    }
    b->pcb = frame[1];
    b->len = frame[2];
    memcpy(b->inf, frame + 3, b->len);
    return RB_OK;
}

/* Waits for the chip's next block, answering its WTX requests. With
 * nack_errors a bad or missing block is asked for again with an R-NACK
 * naming the I-block we expect; otherwise the error is returned at once. */
static int await_block(struct t1 *t, struct block *b, bool nack_errors)
{
    unsigned wtx = 0, nacks = 0, mult = 1;
    struct sent s;

    for (;;) {
        enum rb rb = read_block(t, b, mult);
        int rc;

        if (rb == RB_IO)
            return T1_E_IO;
        if (rb == RB_OK && b->pcb == (PCB_S | S_WTX)) {
            if (++wtx > T1_WTX_MAX)
                return T1_E_PROTO;
            mult = (b->len == 1 && b->inf[0] > 0) ? b->inf[0] : 1;
            /* Echo the multiplier: we then allow BWT x mult for the answer. */
            rc = send_block(t, &s, PCB_S | PCB_S_RESP | S_WTX, (uint8_t[]){(uint8_t)mult}, 1);
            if (rc != T1_OK)
                return rc;
            continue;
        }
        if (rb == RB_OK)
            return T1_OK;
        if (!nack_errors || ++nacks > T1_BLOCK_RETRIES)
            return rb == RB_NOANSWER ? T1_E_ABSENT : T1_E_PROTO;
        t->tr.delay_us(t->tr.ctx, T1_ERROR_DELAY_US);
        rc = send_block(t, &s, (uint8_t)(PCB_R | (t->nr ? PCB_R_NR : 0) | PCB_R_ERR_CRC), NULL,
                        0);
        if (rc != T1_OK)
            return rc;
    }
}

/* One S-block request and its response; the request is simply repeated when
 * the answer is garbled (all our S requests are idempotent). */
static int s_exchange(struct t1 *t, uint8_t cmd, struct block *rsp)
{
    int rc = T1_E_PROTO;
    struct sent s;

    for (unsigned i = 0; i <= T1_BLOCK_RETRIES; i++) {
        if (i > 0)
            t->tr.delay_us(t->tr.ctx, T1_ERROR_DELAY_US);
        rc = send_block(t, &s, (uint8_t)(PCB_S | cmd), NULL, 0);
        if (rc != T1_OK)
            return rc;
        rc = await_block(t, rsp, false);
        if (rc == T1_E_IO)
            return rc;
        if (rc == T1_OK && rsp->pcb == (PCB_S | PCB_S_RESP | cmd))
            return T1_OK;
        if (rc == T1_OK) {
            log_debug("se050", "T=1: pcb %02x in answer to S(%02x)", rsp->pcb, cmd);
            rc = T1_E_PROTO;
        }
    }
    return rc;
}

int t1_resync(struct t1 *t)
{
    struct block b;
    int rc = s_exchange(t, S_RESYNC, &b);

    if (rc != T1_OK)
        return rc;
    if (b.len != 0)
        return T1_E_PROTO;
    t->ns = 0;
    t->nr = 0;
    return T1_OK;
}

static int atr_exchange(struct t1 *t, uint8_t cmd, struct t1_atr *atr)
{
    struct t1_atr tmp;
    struct block b;
    int rc = s_exchange(t, cmd, &b);

    if (rc != T1_OK)
        return rc;
    if (atr == NULL)
        atr = &tmp;
    if (t1_atr_parse(b.inf, b.len, atr) != T1_OK) {
        log_error("se050", "T=1: malformed ATR (%u bytes)", b.len);
        return T1_E_PROTO;
    }
    t->ifsc = atr->ifsc > T1_IFS_MAX ? T1_IFS_MAX : atr->ifsc;
    if (atr->bwt_ms > 0)
        t->bwt_ms = atr->bwt_ms;
    if (atr->mpot_ms > 0)
        t->mpot_ms = atr->mpot_ms;
    return T1_OK;
}

int t1_soft_reset(struct t1 *t, struct t1_atr *atr)
{
    int rc = atr_exchange(t, S_SOFT_RESET, atr);

    if (rc == T1_OK) {
        t->ns = 0;
        t->nr = 0;
    }
    return rc;
}

int t1_get_atr(struct t1 *t, struct t1_atr *atr) { return atr_exchange(t, S_GET_ATR, atr); }

int t1_end_session(struct t1 *t)
{
    struct block b;
    int rc = s_exchange(t, S_END_SESSION, &b);

    if (rc == T1_OK) {
        t->ns = 0;
        t->nr = 0;
    }
    return rc;
}

/* Sends the APDU as I-blocks of at most IFSC bytes; each chained block must be
 * acknowledged by an R-block naming the next N(S). Leaves the answer to the
 * last block in *b. */
static int send_apdu(struct t1 *t, const uint8_t *apdu, size_t len, struct block *b)
{
    size_t off = 0;
    struct sent s;

    for (;;) {
        size_t chunk = len - off > t->ifsc ? t->ifsc : len - off;
        bool more = off + chunk < len;
        uint8_t pcb = (uint8_t)((t->ns ? PCB_I_NS : 0) | (more ? PCB_I_MORE : 0));
        unsigned tries = 0;
        int rc = send_block(t, &s, pcb, apdu + off, chunk);

        for (;;) {
            if (rc != T1_OK)
                return rc;
            rc = await_block(t, b, true);
            if (rc != T1_OK)
                return rc;
            if (!is_r(b->pcb))
                break;
            if (more && (b->pcb & 0x03) == 0 && ((b->pcb & PCB_R_NR) != 0) != (t->ns != 0))
                break; /* acknowledged: the chip wants N(S)^1 next */
            /* An R-block naming this block again, or an error: resend it. */
            if (++tries > T1_BLOCK_RETRIES)
                return T1_E_PROTO;
            t->tr.delay_us(t->tr.ctx, T1_ERROR_DELAY_US);
            rc = write_raw(t, s.buf, s.len);
        }
        if (!more)
            return T1_OK;
        if (!is_r(b->pcb)) {
            log_debug("se050", "T=1: pcb %02x in the middle of a chain", b->pcb);
            return T1_E_PROTO;
        }
        t->ns ^= 1;
        off += chunk;
    }
}

/* Collects the response I-blocks, acknowledging each chained one. */
static int recv_response(struct t1 *t, struct block *b, uint8_t *rsp, size_t cap,
                         size_t *rsp_len)
{
    size_t total = 0;
    bool overflow = false;
    struct sent s = {.len = 0};
    int rc;

    for (;;) {
        unsigned tries = 0;

        while (!is_i(b->pcb) || ((b->pcb & PCB_I_NS) != 0) != (t->nr != 0)) {
            /* Our acknowledgement got lost: the chip repeats its block or
             * asks again. Anything else means the two sides disagree. */
            bool repeat = is_i(b->pcb) || (is_r(b->pcb) && total > 0);

            if (!repeat || total == 0 || ++tries > T1_BLOCK_RETRIES) {
                log_debug("se050", "T=1: out of sequence: pcb %02x, expected N(S)=%u",
                          b->pcb, t->nr);
                return T1_E_PROTO;
            }
            t->tr.delay_us(t->tr.ctx, T1_ERROR_DELAY_US);
            rc = write_raw(t, s.buf, s.len);
            if (rc == T1_OK)
                rc = await_block(t, b, true);
            if (rc != T1_OK)
                return rc;
        }
        if (total == 0)
            t->ns ^= 1; /* the chip answered, so it took our last I-block */
        t->nr ^= 1;
        if (!overflow && total + b->len <= cap)
            memcpy(rsp + total, b->inf, b->len);
        else
            overflow = true;
        total += b->len;
        if (!(b->pcb & PCB_I_MORE))
            break;
        rc = send_block(t, &s, (uint8_t)(PCB_R | (t->nr ? PCB_R_NR : 0)), NULL, 0);
        if (rc == T1_OK)
            rc = await_block(t, b, true);
        if (rc != T1_OK)
            return rc;
    }
    if (overflow)
        return T1_E_OVERFLOW;
    *rsp_len = total;
    return T1_OK;
}

int t1_transceive(struct t1 *t, const uint8_t *apdu, size_t len, uint8_t *rsp, size_t cap,
                  size_t *rsp_len)
{
    int rc = T1_E_PROTO;

    if (len == 0 || apdu == NULL || rsp == NULL)
        return T1_E_ARGS;
    for (unsigned round = 0; round <= T1_RECOVER_MAX; round++) {
        struct block b;

        if (round > 0) {
            /* The sides disagree: start the sequence again, harder if need be. */
            int rrc = t1_resync(t);

            if (rrc != T1_OK)
                rrc = t1_soft_reset(t, NULL);
            if (rrc != T1_OK)
                return rrc == T1_E_IO ? rrc : rc;
            log_info("se050", "T=1: link resynchronised, resending the APDU");
        }
        rc = send_apdu(t, apdu, len, &b);
        if (rc == T1_OK)
            rc = recv_response(t, &b, rsp, cap, rsp_len);
        if (rc == T1_OK || rc == T1_E_IO || rc == T1_E_OVERFLOW)
            return rc;
    }
    log_error("se050", "T=1: exchange failed: %s", t1_strerror(rc));
    return rc;
}
