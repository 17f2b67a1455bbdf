/* The host store of one token: its label, SO and user PIN verifiers and try
 * counters, and the label and ID of each key the module manages. One file per
 * chip, named after the chip's serial number, so a file copied to another
 * device never describes the wrong chip. Written whole to a temporary file and
 * renamed over the old one, so a crash leaves the old or the new state.
 * Callers hold the token's device lock around read-modify-write sequences. */
#ifndef SECCKI_STORE_H
#define SECCKI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_LABEL_MAX 128
#define STORE_ID_MAX 64
#define STORE_MAX_KEYS 64
#define STORE_SALT_LEN 16
#define STORE_HASH_LEN 32

struct store_pin {
    bool set;
    uint32_t iter;
    uint8_t salt[STORE_SALT_LEN];
    uint8_t hash[STORE_HASH_LEN];
    unsigned fails;
};

struct store_key {
    uint32_t chip_id;
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len;
};

struct store {
    char path[512];
    bool broken;           /* unreadable or malformed: never overwritten */
    ino_t ino;             /* what was last loaded, to notice other writers */
    off_t size;
    long mtime_sec, mtime_nsec;
    bool initialized;      /* C_InitToken was run */
    char label[33];        /* token label set by C_InitToken ("" = config's) */
    struct store_pin so, user;
    struct store_key keys[STORE_MAX_KEYS];
    size_t nkeys;
};

/* Binds the store to <dir>/<chip>-<serial>.store and loads it if present. */
int store_open(struct store *st, const char *dir, const char *chip, const char *serial);
/* Reloads when another process replaced the file: 1 changed, 0 not, -1 error. */
int store_refresh(struct store *st);
/* Writes the store atomically (creating dir if needed). 0 or -1 (logged). */
int store_save(struct store *st);

struct store_key *store_key_find(struct store *st, uint32_t chip_id);
/* Adds or replaces the record of chip_id; NULL when the store is full. */
struct store_key *store_key_put(struct store *st, uint32_t chip_id, const char *label,
                                const uint8_t *id, size_t id_len);
void store_key_remove(struct store *st, uint32_t chip_id);

/* PIN verifiers: PBKDF2-HMAC-SHA256 with a random salt. */
int store_pin_set(struct store_pin *p, const uint8_t *pin, size_t len);
bool store_pin_matches(const struct store_pin *p, const uint8_t *pin, size_t len);

#endif
