/* The ATECC608B emulator as the I2C bus sees it: address match, wake pulse,
 * word-address bytes, the input buffer that fills until `count` bytes arrived,
 * the output buffer with its persistent read pointer, busy NACKs and the
 * watchdog.
 *
 * Reading past the end of the response group returns 0xFF for every further
 * byte and leaves the pointer at the end (the datasheet leaves it open; hosts
 * must use the count byte). */
#include <time.h>

#include "hal/log.h"
#include "hal/sim/atecc608_emu.h"
#include "hal/sim/sim.h"

#define A608_WATCHDOG_SHORT_NS 1300000000ull
#define A608_WATCHDOG_LONG_NS 13000000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t watchdog_ns(const struct a608 *c)
{
    return (c->config[A608_CFG_CHIPMODE] & 0x04) ? A608_WATCHDOG_LONG_NS : A608_WATCHDOG_SHORT_NS;
}

static void go_to_sleep(struct a608 *c)
{
    a608_volatile_reset(c);
    c->power = A608_ASLEEP;
    /* A new UserExtraAdd address takes effect only here. */
    c->active_addr = a608_address(c);
}

/* What happened to the chip since the last transaction: an injected reset,
 * or the watchdog (a wake time in the future means the host rebooted). */
static void tick(struct a608 *c, struct sim_ctx *ctx, uint64_t now)
{
    if (ctx->faults->reset > 0) {
        if (ctx->faults->reset == 1) {
            go_to_sleep(c);
            ctx->dirty = true;
        }
        ctx->faults->reset--;
    }
    if (c->power == A608_AWAKE && (now < c->wake_ns || now - c->wake_ns >= watchdog_ns(c))) {
        go_to_sleep(c);
        ctx->dirty = true;
    }
}

static void wake(struct a608 *c, uint64_t now)
{
    static const uint8_t wake_group[4] = {0x04, A608_ST_WAKE, 0x33, 0x43};

    c->power = A608_AWAKE;
    c->wake_ns = now;
    c->in_len = 0;
    c->busy = 0;
    for (unsigned i = 0; i < sizeof wake_group; i++)
        c->out[i] = wake_group[i];
    c->out_len = sizeof wake_group;
    c->out_pos = 0;
}

/* Milliseconds the watchdog still grants; 0 when expired. */
static uint64_t remaining_ms(const struct a608 *c, uint64_t now)
{
    uint64_t used = now - c->wake_ns, wd = watchdog_ns(c);

    return used >= wd ? 0 : (wd - used) / 1000000u;
}

/* Bytes after word address 0x03 fill the input buffer; the command runs
 * once `count` bytes are in. A count larger than the buffer is refused at
 * once and the rest of the transaction dropped. */
static void command_bytes(struct a608 *c, struct sim_ctx *ctx, const uint8_t *p, size_t n,
                          uint64_t now)
{
    for (size_t i = 0; i < n; i++) {
        c->in[c->in_len++] = p[i];
        if (c->in[0] > A608_CMD_MAX || c->in_len >= c->in[0]) {
            a608_execute(c, ctx, now);
            return;
        }
    }
}

int a608_i2c_write(void *chip, struct sim_ctx *ctx, uint8_t addr, const uint8_t *data,
                   size_t len)
{
    struct a608 *c = chip;
    uint64_t now = now_ns();

    tick(c, ctx, now);
    if (addr == 0x00) {
        /* General call: holds SDA low long enough to be the wake pulse. The
         * chip itself does not acknowledge it. */
        if (len > 0 && c->power != A608_AWAKE) {
            wake(c, now);
            ctx->dirty = true;
        }
        return SIM_NACK;
    }
    if (addr != (c->active_addr >> 1) || c->power != A608_AWAKE)
        return SIM_NACK;
    if (c->busy > 0) {
        c->busy--;
        ctx->dirty = true;
        return SIM_NACK;
    }
    if (len == 0)
        return SIM_OK;
    ctx->dirty = true;
    switch (data[0]) {
    case 0x00: /* reset the I/O buffer pointers */
        c->out_pos = 0;
        c->in_len = 0;
        return SIM_OK;
    case 0x01:
        go_to_sleep(c);
        return SIM_OK;
    case 0x02:
        c->power = A608_IDLE;
        c->in_len = 0;
        return SIM_OK;
    case 0x03:
        command_bytes(c, ctx, data + 1, len - 1, now);
        return SIM_OK;
    default:
        /* Reserved word addresses: the byte is not acknowledged. */
        log_debug("atecc608-emu", "reserved word address 0x%02x", data[0]);
        return SIM_NACK;
    }
}

int a608_i2c_read(void *chip, struct sim_ctx *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    struct a608 *c = chip;

    tick(c, ctx, now_ns());
    if (addr != (c->active_addr >> 1) || c->power != A608_AWAKE)
        return SIM_NACK;
    if (c->busy > 0) {
        c->busy--;
        ctx->dirty = true;
        return SIM_NACK;
    }
    if (c->in_len > 0) /* partial command: no data available */
        return SIM_NACK;
    for (size_t i = 0; i < len; i++)
        data[i] = c->out_pos < c->out_len ? c->out[c->out_pos++] : 0xFF;
    if (len > 0)
        ctx->dirty = true;
    return SIM_OK;
}

uint64_t a608_remaining_ms(const struct a608 *c, uint64_t now)
{
    return remaining_ms(c, now);
}

const struct sim_chip sim_chip_atecc608 = {
    .kind = "atecc608",
    .default_profile = "tls",
    .create = a608_create,
    .destroy = a608_destroy,
    .save = a608_save,
    .load = a608_load,
    .publish = a608_publish,
    .write = a608_i2c_write,
    .read = a608_i2c_read,
};
