/* The ATECC608 transport over a struct bus (hal/bus.h). */
#ifndef SECCKI_ATECC_BUS_H
#define SECCKI_ATECC_BUS_H

#include <stdint.h>

#include "hal/atecc608/atecc_io.h"

struct bus;

void atecc_io_from_bus(struct atecc_io *io, struct bus *bus, uint8_t addr);

#endif
