/* NXP T=1 over I2C, UM11225 flavour: the link layer between the host and the
 * SE050. Blocks are NAD PCB LEN INF CRC(lo, hi); APDUs travel in I-blocks,
 * chained both ways up to IFSC bytes per block.
 *
 * The engine talks through a small transport (write, read, delay over a
 * context) so unit tests can replay exact bytes; production fills it from
 * struct bus. The sequence state lives in struct t1 (one per open device), but
 * the chip keeps its own across processes, so callers resynchronise
 * (t1_resync) whenever another process may have spoken to the chip since. */
#ifndef SECCKI_SE050_T1_H
#define SECCKI_SE050_T1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define T1_NAD_HOST 0x5A
#define T1_NAD_SE 0xA5
#define T1_IFS_MAX 254
#define T1_FRAME_MAX (3 + T1_IFS_MAX + 2)

/* Bounds of the recovery rules. Exported so tests can count frames. */
#define T1_WRITE_TRIES 8         /* a NACKed write is retried this often */
#define T1_WRITE_DELAY_US 1000
#define T1_POLL_DELAY_US 1000    /* between reads the chip NACKs (MPOT) */
#define T1_POLL_MIN 50           /* polls before giving up on a block, at least */
#define T1_PART_TRIES 8          /* NACKed reads in the middle of a block */
#define T1_BLOCK_RETRIES 3       /* R-NACKs sent / retransmissions per block */
#define T1_WTX_MAX 500           /* consecutive WTX requests answered */
#define T1_RECOVER_MAX 2         /* resync-and-resend rounds per APDU */
#define T1_ERROR_DELAY_US 3000   /* before answering an error */

enum t1_err {
    T1_OK = 0,
    T1_E_ABSENT = -1,   /* nothing acknowledges the address */
    T1_E_PROTO = -2,    /* the chip answers, but not as the protocol says */
    T1_E_IO = -3,       /* the transport failed */
    T1_E_OVERFLOW = -4, /* the response does not fit the caller's buffer */
    T1_E_ARGS = -5,
};

/* Transport results: 0 ok, T1_TR_NACK when the chip did not acknowledge,
 * anything else is an I/O error. */
#define T1_TR_NACK 1

struct t1_transport {
    void *ctx;
    int (*write)(void *ctx, const uint8_t *data, size_t len);
    int (*read)(void *ctx, uint8_t *data, size_t len);
    void (*delay_us)(void *ctx, unsigned us);
};

/* The answer to reset of §1.8, as far as the host needs it. */
struct t1_atr {
    uint8_t pver;
    uint8_t vid[5];
    unsigned bwt_ms;
    unsigned ifsc;
    uint8_t plid;
    unsigned mcf_khz;
    uint8_t config;
    unsigned mpot_ms;
    unsigned segt_us;
    unsigned wut_us;
    uint8_t hist[15];
    size_t hist_len;
};

struct t1 {
    struct t1_transport tr;
    uint8_t ns;       /* N(S) of the host's next I-block */
    uint8_t nr;       /* N(S) expected in the chip's next I-block */
    unsigned ifsc;    /* largest INF the chip takes */
    unsigned bwt_ms;
    unsigned mpot_ms;
};

const char *t1_strerror(int err);

/* Sets up the engine with the default link parameters (IFSC 254, BWT 1 s)
 * until an ATR says otherwise. */
void t1_init(struct t1 *t, const struct t1_transport *tr);

/* Parses an ATR; every length is checked against len. 0 or T1_E_PROTO. */
int t1_atr_parse(const uint8_t *buf, size_t len, struct t1_atr *out);

/* Builds one block into out (T1_FRAME_MAX bytes); returns its length. */
size_t t1_block_build(uint8_t nad, uint8_t pcb, const uint8_t *inf, size_t len,
                      uint8_t *out);

/* S(RESYNC): both sides start again at N(S) = 0. */
int t1_resync(struct t1 *t);
/* S(interface soft reset): resets the link and returns the ATR (atr may be
 * NULL); adopts IFSC, BWT and MPOT from it. */
int t1_soft_reset(struct t1 *t, struct t1_atr *atr);
/* S(Get ATR), no state change on the chip. */
int t1_get_atr(struct t1 *t, struct t1_atr *atr);
/* S(end of APDU session). */
int t1_end_session(struct t1 *t);

/* Sends one APDU and returns the chip's whole response (data and status
 * word). Recovers from NACKs, CRC errors and sequence errors within the bounds
 * above, resynchronising the link when the chip answers out of sequence. */
int t1_transceive(struct t1 *t, const uint8_t *apdu, size_t len, uint8_t *rsp, size_t cap,
                  size_t *rsp_len);

#endif
