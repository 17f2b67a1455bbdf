/* The SE050 as seen from the I2C bus: address 0x48, T=1 over I2C (UM11225)
 * on the chip's side, in front of the IoT applet (se050_applet.c).
 *
 * Each write transaction carries one whole block. The chip's answer waits in
 * `last` until the host reads it, in as many read transactions as it likes
 * (the NXP host reads 2 + 1 + LEN+2 bytes, others 3 + LEN+2); reads NACK while
 * the chip is busy or has nothing (left) to send. The whole link state lives
 * in the chip state, so every process sharing a state file meets the same
 * sequence numbers, as on a board. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/log.h"
#include "hal/se050/t1_crc.h"
#include "hal/sim/se050_emu.h"
#include "hal/sim/sim.h"
#include "hal/sim/sim_chip.h"

#define AREA "se050-emu"

/* What the bus returns when the host reads past the end of a block: the
 * chip releases SDA and the pull-ups read as ones. */
#define PAD_BYTE 0xFF

/* PCB of R-blocks and S-blocks (specs/se050.md §1.3). */
#define R_ACK 0x00
#define R_ERR_CRC 0x01
#define R_ERR_OTHER 0x02
#define S_RESYNC 0x00
#define S_IFS 0x01
#define S_ABORT 0x02
#define S_WTX 0x03
#define S_END_SESSION 0x05
#define S_CHIP_RESET 0x06
#define S_GET_ATR 0x07
#define S_SOFT_RESET 0x0F
#define S_RESPONSE 0x20

/* Observed on a real SE050 (§1.8): JCOP4 ATPO, BWT 1000 ms, IFSC 254. */
const uint8_t se050_atr[SE050_ATR_LEN] = {
    0x00, 0xA0, 0x00, 0x00, 0x03, 0x96, 0x04, 0x03, 0xE8, 0x00, 0xFE, 0x02,
    0x0B, 0x03, 0xE8, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00,
    0x0A, 0x4A, 0x43, 0x4F, 0x50, 0x34, 0x20, 0x41, 0x54, 0x50, 0x4F,
};

void se050_link_reset(struct se050_link *l)
{
    l->ns = 0;
    l->nr = 0;
    l->ifsd = SE050_IFS_MAX;
    l->wtx_left = 0;
    l->busy_left = 0;
    l->cmd_overflow = false;
    l->cmd_len = 0;
    l->rsp_len = 0;
    l->rsp_off = 0;
}

/* Puts a block on the wire: it becomes the one the host reads next and the
 * one retransmitted on request. */
static void send_block(struct se050_link *l, uint8_t pcb, const uint8_t *inf, size_t len)
{
    l->last[0] = SE050_NAD_CHIP;
    l->last[1] = pcb;
    l->last[2] = (uint8_t)len;
    if (len > 0)
        memcpy(l->last + 3, inf, len);
    t1_crc16_put(l->last, 3 + len, l->last + 3 + len);
    l->last_len = (uint16_t)(5 + len);
    l->read_pos = 0;
    l->readable = true;
}

static void send_r(struct se050_link *l, uint8_t err)
{
    send_block(l, (uint8_t)(0x80 | (l->nr << 4) | err), NULL, 0);
}

static void send_s(struct se050_link *l, uint8_t code, const uint8_t *inf, size_t len)
{
    send_block(l, (uint8_t)(0xC0 | S_RESPONSE | code), inf, len);
}

static void retransmit(struct se050_link *l)
{
    if (l->last_len == 0) {
        send_r(l, R_ERR_OTHER);
        return;
    }
    l->read_pos = 0;
    l->readable = true;
}

static bool rsp_pending(const struct se050_link *l)
{
    return l->rsp_off < l->rsp_len;
}

static void send_wtx_request(struct se050_link *l)
{
    static const uint8_t mult = 1;

    send_block(l, 0xC0 | S_WTX, &mult, 1);
}

static void send_fragment(struct se050_link *l)
{
    size_t left = (size_t)(l->rsp_len - l->rsp_off);
    size_t n = left < l->ifsd ? left : l->ifsd;
    bool more = n < left;

    send_block(l, (uint8_t)((l->ns << 6) | (more ? 0x20 : 0)), l->rsp + l->rsp_off, n);
    l->ns ^= 1;
    l->rsp_off = (uint16_t)(l->rsp_off + n);
    if (!more) {
        l->rsp_len = 0;
        l->rsp_off = 0;
    }
}

static void execute(struct se050_chip *c, struct sim_ctx *ctx)
{
    struct se050_link *l = &c->link;
    unsigned wtx = 0;
    size_t n;

    if (l->cmd_overflow) {
        log_info(AREA, "command APDU longer than %d bytes", SE050_CMD_MAX);
        l->rsp[0] = SW_WRONG_LENGTH >> 8;
        l->rsp[1] = SW_WRONG_LENGTH & 0xff;
        n = 2;
    } else {
        n = se050_apdu(c, l->cmd, l->cmd_len, l->rsp, &wtx);
    }
    if (ctx->commands != NULL)
        (*ctx->commands)++;
    l->cmd_len = 0;
    l->cmd_overflow = false;
    l->rsp_len = (uint16_t)n;
    l->rsp_off = 0;
    l->wtx_left = (uint8_t)(wtx > 255 ? 255 : wtx);
    l->busy_left = ctx->faults != NULL ? ctx->faults->busy : 0;
    if (l->wtx_left > 0)
        send_wtx_request(l);
    else
        send_fragment(l);
}

static void on_iblock(struct se050_chip *c, struct sim_ctx *ctx, uint8_t pcb, const uint8_t *inf,
                      size_t len)
{
    struct se050_link *l = &c->link;
    uint8_t ns = (pcb >> 6) & 1;
    bool more = (pcb & 0x20) != 0;

    if ((pcb & 0x1F) != 0 || rsp_pending(l) || l->wtx_left > 0) {
        /* A reserved bit, or a new command while the chip still owes (part
         * of) its answer. */
        send_r(l, R_ERR_OTHER);
        return;
    }
    if (ns != l->nr) {
        /* The host did not get the chip's last block: send it again rather
         * than executing anything twice. */
        retransmit(l);
        return;
    }
    if ((size_t)l->cmd_len + len > sizeof l->cmd)
        l->cmd_overflow = true;
    else {
        memcpy(l->cmd + l->cmd_len, inf, len);
        l->cmd_len = (uint16_t)(l->cmd_len + len);
    }
    l->nr ^= 1;
    if (more)
        send_r(l, R_ACK);
    else
        execute(c, ctx);
}

static void on_rblock(struct se050_link *l, uint8_t pcb, size_t len)
{
    uint8_t nr = (pcb >> 4) & 1;
    uint8_t err = pcb & 0x03;

    if ((pcb & 0x2C) != 0 || len != 0) {
        send_r(l, R_ERR_OTHER);
        return;
    }
    if (err == 0 && l->wtx_left == 0 && rsp_pending(l) && nr == l->ns) {
        send_fragment(l);
        return;
    }
    /* A NACK, or an ACK naming the block the chip sent last: the host lost it. */
    retransmit(l);
}

static void on_sblock(struct se050_chip *c, uint8_t pcb, const uint8_t *inf, size_t len)
{
    struct se050_link *l = &c->link;
    uint8_t code = pcb & 0x1F;

    if (pcb & S_RESPONSE) {
        if (code == S_WTX && len == 1 && l->wtx_left > 0 && l->last_len > 1 &&
            l->last[1] == (0xC0 | S_WTX)) {
            if (--l->wtx_left > 0)
                send_wtx_request(l);
            else
                send_fragment(l);
            return;
        }
        send_r(l, R_ERR_OTHER);
        return;
    }
    switch (code) {
    case S_RESYNC:
    case S_ABORT:
    case S_END_SESSION:
    case S_CHIP_RESET:
    case S_GET_ATR:
    case S_SOFT_RESET:
        if (len != 0) {
            send_r(l, R_ERR_OTHER);
            return;
        }
        break;
    case S_IFS:
        if (len != 1 || inf[0] == 0 || inf[0] > SE050_IFS_MAX) {
            send_r(l, R_ERR_OTHER);
            return;
        }
        break;
    default:
        send_r(l, R_ERR_OTHER);
        return;
    }
    switch (code) {
    case S_RESYNC:
        se050_link_reset(l);
        send_s(l, code, NULL, 0);
        break;
    case S_IFS:
        l->ifsd = inf[0];
        send_s(l, code, inf, 1);
        break;
    case S_ABORT:
        l->cmd_len = 0;
        l->cmd_overflow = false;
        l->rsp_len = 0;
        l->rsp_off = 0;
        l->wtx_left = 0;
        send_s(l, code, NULL, 0);
        break;
    case S_END_SESSION:
        /* The applet stays selected; the host re-selects after reopening. */
        se050_link_reset(l);
        send_s(l, code, NULL, 0);
        break;
    case S_CHIP_RESET:
        se050_power_on(c);
        send_s(l, code, NULL, 0);
        break;
    case S_GET_ATR:
        send_s(l, code, se050_atr, sizeof se050_atr);
        break;
    case S_SOFT_RESET:
        se050_link_reset(l);
        send_s(l, code, se050_atr, sizeof se050_atr);
        break;
    }
}

static void on_frame(struct se050_chip *c, struct sim_ctx *ctx, const uint8_t *f, size_t n)
{
    struct se050_link *l = &c->link;
    uint8_t pcb;
    size_t len;

    if (n < 5 || n != (size_t)f[2] + 5 || !t1_crc16_ok(f, n)) {
        log_debug(AREA, "block of %zu bytes with a bad length or CRC", n);
        send_r(l, R_ERR_CRC);
        return;
    }
    pcb = f[1];
    len = f[2];
    if (f[0] != SE050_NAD_HOST || len > SE050_IFS_MAX) {
        send_r(l, R_ERR_OTHER);
        return;
    }
    if ((pcb & 0x80) == 0)
        on_iblock(c, ctx, pcb, f + 3, len);
    else if ((pcb & 0xC0) == 0x80)
        on_rblock(l, pcb, len);
    else
        on_sblock(c, pcb, f + 3, len);
}

/* The fault countdown of sim_faults.reset: at 1 the chip loses power. */
static void apply_reset_fault(struct se050_chip *c, struct sim_ctx *ctx)
{
    if (ctx->faults == NULL || ctx->faults->reset == 0)
        return;
    if (ctx->faults->reset == 1) {
        log_debug(AREA, "injected power loss");
        se050_power_on(c);
        ctx->dirty = true;
    }
    ctx->faults->reset--;
}

/* True (and one poll consumed) while the chip is still working. */
static bool busy(struct se050_chip *c, struct sim_ctx *ctx)
{
    if (c->link.busy_left == 0)
        return false;
    c->link.busy_left--;
    ctx->dirty = true;
    return true;
}

static int se050_write(void *chip, struct sim_ctx *ctx, uint8_t addr, const uint8_t *data,
                       size_t len)
{
    struct se050_chip *c = chip;

    if (addr != SE050_I2C_ADDR)
        return SIM_NACK;
    apply_reset_fault(c, ctx);
    if (busy(c, ctx))
        return SIM_NACK;
    if (len == 0)
        return SIM_OK; /* an address probe */
    on_frame(c, ctx, data, len);
    ctx->dirty = true;
    return SIM_OK;
}

static int se050_read(void *chip, struct sim_ctx *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    struct se050_chip *c = chip;
    struct se050_link *l = &c->link;
    size_t left, n;

    if (addr != SE050_I2C_ADDR)
        return SIM_NACK;
    apply_reset_fault(c, ctx);
    if (busy(c, ctx))
        return SIM_NACK;
    if (!l->readable || l->read_pos >= l->last_len)
        return SIM_NACK;
    left = (size_t)(l->last_len - l->read_pos);
    n = len < left ? len : left;
    memcpy(data, l->last + l->read_pos, n);
    if (len > n)
        memset(data + n, PAD_BYTE, len - n);
    l->read_pos = (uint16_t)(l->read_pos + n);
    if (l->read_pos >= l->last_len)
        l->readable = false;
    if (n > 0)
        ctx->dirty = true;
    return SIM_OK;
}

static void *se050_create(const char *profile, char *err, size_t errlen)
{
    struct se050_chip *c;

    if (profile != NULL && strcmp(profile, "default") != 0) {
        snprintf(err, errlen, "se050: unknown profile \"%s\" (known: default)", profile);
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "se050: out of memory");
        return NULL;
    }
    se050_power_on(c);
    if (se050_factory(c) != 0) {
        se050_chip_free(c);
        snprintf(err, errlen, "se050: cannot create the factory objects");
        return NULL;
    }
    return c;
}

static void se050_destroy(void *chip)
{
    se050_chip_free(chip);
}

static int se050_save(const void *chip, uint8_t **buf, size_t *len)
{
    return se050_state_save(chip, buf, len);
}

static void *se050_load(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    return se050_state_load(buf, len, err, errlen);
}

const struct sim_chip sim_chip_se050 = {
    .kind = "se050",
    .default_profile = "default",
    .create = se050_create,
    .destroy = se050_destroy,
    .save = se050_save,
    .load = se050_load,
    .write = se050_write,
    .read = se050_read,
};
