/* The NIST curves the driver uses: their SE050 ids, sizes, and the domain
 * parameters the applet needs before a curve's first use (§3.7.14). */
#ifndef SECCKI_SE050_CURVES_H
#define SECCKI_SE050_CURVES_H

#include <stddef.h>
#include <stdint.h>

#include "module/token.h"

struct se_curve_params {
    uint8_t a[66], b[66], prime[66], order[66];
    uint8_t g[133]; /* 04 || Gx || Gy */
    size_t field_len, order_len, g_len;
};

/* SE050 curve id of a token curve, 0 when none. */
uint8_t se_curve_id(enum tok_curve curve);
/* Token curve of an SE050 curve id, TOK_CURVE_NONE when not one of ours. */
enum tok_curve se_curve_from_id(uint8_t id);
/* Field size in bytes (32, 48, 66), 0 for an unknown curve. */
size_t se_curve_bytes(enum tok_curve curve);
unsigned se_curve_bits(enum tok_curve curve);
/* Fills the domain parameters, big-endian at the field's width. 0 or -1. */
int se_curve_params(enum tok_curve curve, struct se_curve_params *out);

#endif
