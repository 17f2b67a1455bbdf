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
#define STORE_MAX_CERTS 16
#define STORE_CERT_MAX 8192
#define STORE_MAX_DATA 16
#define STORE_SALT_LEN 16
#define STORE_HASH_LEN 32

struct store_pin {
    bool set;
    uint32_t iter;
    uint8_t salt[STORE_SALT_LEN];
    uint8_t hash[STORE_HASH_LEN];
    unsigned fails;
};

#define STORE_SUBJECT_MAX 512

struct store_key {
    uint32_t chip_id;
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len;
    uint8_t subject[STORE_SUBJECT_MAX]; /* CKA_SUBJECT the user set (DER name) */
    size_t subject_len;
};

/* A certificate the module manages. Its label and ID follow the key pair it
 * belongs to unless the user gave them explicitly. */
struct store_cert {
    uint32_t cert_id;
    bool explicit_label;
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len;
    uint8_t *der;          /* held on the host; NULL when the chip holds it */
    size_t der_len;
};

/* A CKO_DATA object whose value lives on the chip; its attributes here. */
struct store_data {
    uint32_t data_id;
    bool is_private;
    char label[STORE_LABEL_MAX + 1];
    char app[STORE_LABEL_MAX + 1];
    uint8_t oid[STORE_ID_MAX];
    size_t oid_len;
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
    struct store_cert certs[STORE_MAX_CERTS];
    size_t ncerts;
    struct store_data data[STORE_MAX_DATA];
    size_t ndata;
    /* Where a copy of the store also lives (a binary object on chips with
     * room), so labels and IDs survive a reflash of the host. */
    int (*mirror)(void *ctx, const uint8_t *blob, size_t len);
    void *mirror_ctx;
};

/* Binds the store to <dir>/<chip>-<serial>.store and loads it if present. */
int store_open(struct store *st, const char *dir, const char *chip, const char *serial);
/* Frees what the store holds. */
void store_close(struct store *st);
/* The host file is missing but the chip kept a copy: take it and write the
 * file. 0, or -1 when the copy does not parse. */
int store_restore(struct store *st, const uint8_t *blob, size_t len);
/* Reloads when another process replaced the file: 1 changed, 0 not, -1 error. */
int store_refresh(struct store *st);
/* Writes the store atomically (creating dir if needed). 0 or -1 (logged). */
int store_save(struct store *st);

struct store_key *store_key_find(struct store *st, uint32_t chip_id);
/* Adds or replaces the record of chip_id (keeping a subject it had); NULL
 * when the store is full. */
struct store_key *store_key_put(struct store *st, uint32_t chip_id, const char *label,
                                const uint8_t *id, size_t id_len);
void store_key_remove(struct store *st, uint32_t chip_id);

struct store_cert *store_cert_find(struct store *st, uint32_t cert_id);
/* label NULL: the label and ID follow the paired key. der NULL: the chip holds
 * the certificate. NULL when the store is full or the input too large. */
struct store_cert *store_cert_put(struct store *st, uint32_t cert_id, const char *label,
                                  const uint8_t *id, size_t id_len, const uint8_t *der,
                                  size_t der_len);
void store_cert_remove(struct store *st, uint32_t cert_id);

struct store_data *store_data_find(struct store *st, uint32_t data_id);
/* Adds or replaces a record; NULL when the store is full. */
struct store_data *store_data_put(struct store *st, const struct store_data *d);
void store_data_remove(struct store *st, uint32_t data_id);

/* PIN verifiers: PBKDF2-HMAC-SHA256 with a random salt. */
int store_pin_set(struct store_pin *p, const uint8_t *pin, size_t len);
bool store_pin_matches(const struct store_pin *p, const uint8_t *pin, size_t len);

#endif
