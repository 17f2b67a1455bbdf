/* Internal to hal/atecc608: the device handle and the steps that the
 * provisioning code shares with the key operations. */
#ifndef SECCKI_ATECC_DEV_H
#define SECCKI_ATECC_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "hal/atecc608/atecc.h"

struct atecc_dev {
    struct atecc_io io;
    uint8_t config[ATECC_CONFIG_SIZE];
    uint8_t revision[4];
};

/* Inside a sequence: reads the whole config zone into the cache. */
int atecc_dev_read_config(const struct atecc_io *io, struct atecc_dev *dev);
/* Inside a sequence: re-reads what can change. Without `always`, nothing is
 * read once both zones are locked (only SlotLocked could change then). */
int atecc_dev_refresh(const struct atecc_io *io, struct atecc_dev *dev, bool always);
/* Logs an error of a chip operation unless a lower step already did. */
int atecc_dev_report(int rc, const char *what, int slot);

#endif
