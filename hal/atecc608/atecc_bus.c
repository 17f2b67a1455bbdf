#include "hal/atecc608/atecc_bus.h"

#include "hal/atecc608/atecc.h"
#include "hal/bus.h"

static int io_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    return bus_write(ctx, addr, data, len);
}

static int io_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    return bus_read(ctx, addr, data, len);
}

static void io_delay_us(void *ctx, unsigned us)
{
    bus_delay_us(ctx, us);
}

static int io_lock(void *ctx)
{
    return bus_lock(ctx);
}

static void io_unlock(void *ctx)
{
    bus_unlock(ctx);
}

void atecc_io_from_bus(struct atecc_io *io, struct bus *bus, uint8_t addr)
{
    io->ctx = bus;
    io->write = io_write;
    io->read = io_read;
    io->delay_us = io_delay_us;
    io->lock = io_lock;
    io->unlock = io_unlock;
    io->addr = addr;
    io->clock = 0;
}

int atecc_open(struct bus *bus, uint8_t addr, struct atecc_dev **out)
{
    struct atecc_io io;

    atecc_io_from_bus(&io, bus, addr);
    return atecc_open_io(&io, out);
}
