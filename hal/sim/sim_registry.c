/* The chips the emulator library can play. */
#include <string.h>

#include "hal/sim/sim_chip.h"
#include "hal/sim/sim_registry.h"

static const struct sim_chip *const chips[] = {
    &sim_chip_atecc608,
    &sim_chip_se050,
};

const struct sim_chip *sim_chip_find(const char *kind)
{
    for (size_t i = 0; i < sizeof chips / sizeof chips[0]; i++)
        if (kind != NULL && strcmp(chips[i]->kind, kind) == 0)
            return chips[i];
    return NULL;
}
