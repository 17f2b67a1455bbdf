#ifndef SECCKI_SIM_REGISTRY_H
#define SECCKI_SIM_REGISTRY_H

#include "hal/sim/sim_chip.h"

/* The emulator of that chip kind ("atecc608", "se050"), or NULL. */
const struct sim_chip *sim_chip_find(const char *kind);

#endif
