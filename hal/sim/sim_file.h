/* The emulator state file (hal/sim/sim.c), format version 2: its layout and
 * the two halves of a save, for sim.c and for the tests that check what a
 * crash between the halves leaves. Not part of the library's interface.
 *
 * All integers little-endian.
 *   header, SIM_FILE_HDR_LEN bytes:
 *     off  0  magic "SECCKSIM"
 *     off  8  format version, u32 (SIM_FILE_VERSION)
 *     off 12  chip kind, 16 bytes, NUL-padded
 *     off 64  the active word, u64, stored and loaded atomically:
 *               bits  0..15  slot size in SIM_FILE_UNIT units (>= 1)
 *               bit  16      the active slot, 0 or 1
 *               bits 17..63  generation of the state in that slot
 *     the rest zero
 *   slot i at SIM_FILE_HDR_LEN + i * slot size:
 *     off  0  generation, u64 (the one the word names when it is active)
 *     off  8  counters: transactions, bytes_to_chip, bytes_from_chip,
 *             commands, nacks, 5 x u64
 *     off 48  payload length, u32
 *     off 52  zero, u32
 *     off 56  payload (the chip's own serialisation)
 *     then    checksum, u64: sim_file_sum over the slot's bytes before it
 * The file may be longer than the header and two slots (a growth that
 * never got published), never shorter. */
#ifndef SECCKI_SIM_FILE_H
#define SECCKI_SIM_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "hal/sim/sim.h"

#define SIM_FILE_VERSION 2u
#define SIM_FILE_UNIT 4096u
#define SIM_FILE_HDR_LEN 4096u
#define SIM_FILE_WORD_OFF 64u
#define SIM_FILE_SLOT_HDR 56u
#define SIM_FILE_SUM_LEN 8u
/* Largest slot: the largest payload always fits after doubling. */
#define SIM_FILE_MAX_SLOT (4u << 20)

#define SIM_WORD_UNITS(w) ((size_t)((w)&0xFFFFu))
#define SIM_WORD_SLOT(w) ((unsigned)(((w) >> 16) & 1u))
#define SIM_WORD_GEN(w) ((w) >> 17)
#define SIM_WORD(gen, slot, units)                                                     \
    (((uint64_t)(gen) << 17) | ((uint64_t)(slot) << 16) | (uint64_t)(units))

/* XXH64 with seed 0 (the published xxHash 64-bit algorithm): torn or damaged
 * slots are to be caught, not forgers; over a 3 KiB state it takes 0.17 us
 * where SHA-256 (with the CPU's SHA instructions) takes 1.9 us. */
uint64_t sim_file_sum(const uint8_t *p, size_t len);

/* Saving is the two calls in a row, inside a bracket (sim_begin), as sim_end
 * does. stage serialises the state into the inactive slot (growing the file
 * when it does not fit) and changes nothing a reader looks at; flip
 * publishes it with one atomic store of the active word. */
int sim_save_stage(struct sim *s);
int sim_save_flip(struct sim *s);

#endif
