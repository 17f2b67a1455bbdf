/* The emulator library core: state file, cross-process locking, fault
 * injection and traffic counters, for any chip behind struct sim_chip.
 *
 * The state file (layout in sim_file.h) is a header and two slots, mapped
 * MAP_SHARED by every handle. A save serialises the state into the inactive
 * slot, with its own length and checksum, and then publishes it by storing
 * the header's active word (slot, slot size, generation) in one aligned
 * atomic store. A process killed before that store leaves the old slot
 * active and untouched; after it, the new slot is complete. What a process
 * stores into a shared mapping is in the page cache the moment it is stored,
 * dead process or not, so no msync is needed for that. msync (or fsync; the
 * file is synced by neither) would only matter when the whole system goes
 * down, which can tear a slot: the checksum then reports the file at load,
 * and a reported file is never written.
 *
 * Growth: a state that no longer fits gets slots at least twice as large.
 * The file is extended and the state staged in slot 1 of the new size, which
 * starts past the end of both old slots; the flip switches size and slot in
 * its one store. Extending alone changes nothing a reader looks at, so a
 * crash in between leaves a longer file with the old state.
 *
 * Whether another handle saved is told by the word, read from the mapping
 * under the lock. One fstat per bracket catches what went around this
 * library: the file replaced or removed (no links left: the path is opened
 * again, and whatever is there now is loaded or refused), extended by another
 * handle (mapped again), or written in place (mtime or ctime moved: header
 * and slot are checked again, and loaded when they are not the ones this
 * handle knows). Stores through the mapping move the mtime too, once per
 * writeback; that costs a checksum, not a reload. Writes from outside while a
 * handle is inside its bracket, or a file cut short under a live mapping
 * (SIGBUS), are out of reach: writers go through this library. */
#include "hal/sim/sim.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hal/log.h"
#include "hal/sim/sim_chip.h"
#include "hal/sim/sim_file.h"
#include "hal/sim/sim_registry.h"

#define SIM_MAGIC "SECCKSIM"
#define SIM_MAGIC_LEN 8
#define SIM_KIND_OFF 12
#define SIM_KIND_LEN 16
/* No chip serialises to more than this. */
#define SIM_MAX_PAYLOAD (1u << 20)
#define SIM_MAX_FILE ((uint64_t)SIM_FILE_HDR_LEN + 2 * (uint64_t)SIM_FILE_MAX_SLOT)
#define SIM_GEN_MASK ((UINT64_C(1) << 47) - 1)

/* What fstat said at the last look: another inode, size or time means the
 * file went through something other than this library's saves. */
struct sim_file_id {
    bool valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
    struct timespec ctim;
};

struct sim {
    const struct sim_chip *chip;
    void *state;
    char *path;
    char *lock_path;
    char *tmp_path;
    int lock_fd;
    int fd;       /* the state file, -1 while detached */
    uint8_t *map; /* all of it, MAP_SHARED */
    size_t map_len;
    struct sim_file_id id;
    /* The active word and slot checksum of the state in memory; without
     * `synced` the memory is not known to match any slot. */
    bool synced;
    uint64_t word;
    uint64_t sum;
    bool staged; /* sim_save_stage filled the inactive slot */
    uint64_t staged_word;
    uint64_t staged_sum;
    unsigned depth;
    bool dirty;
    struct sim_counters counters;
    struct sim_counters saved; /* as in the active slot */
    struct sim_faults faults;
    char err[256];
};

static void set_err(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct sim *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    log_error("sim", "%s", s->err);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

/* ---- XXH64 ---- */

#define XXH_P1 UINT64_C(0x9E3779B185EBCA87)
#define XXH_P2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define XXH_P3 UINT64_C(0x165667B19E3779F9)
#define XXH_P4 UINT64_C(0x85EBCA77C2B2AE63)
#define XXH_P5 UINT64_C(0x27D4EB2F165667C5)

static uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t xxh_round(uint64_t acc, uint64_t lane)
{
    return rotl64(acc + lane * XXH_P2, 31) * XXH_P1;
}

static uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
    return (acc ^ xxh_round(0, v)) * XXH_P1 + XXH_P4;
}

uint64_t sim_file_sum(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t h;

    if (len >= 32) {
        uint64_t v1 = XXH_P1 + XXH_P2, v2 = XXH_P2, v3 = 0, v4 = (uint64_t)0 - XXH_P1;

        for (; end - p >= 32; p += 32) {
            v1 = xxh_round(v1, get_u64(p));
            v2 = xxh_round(v2, get_u64(p + 8));
            v3 = xxh_round(v3, get_u64(p + 16));
            v4 = xxh_round(v4, get_u64(p + 24));
        }
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxh_merge(h, v1);
        h = xxh_merge(h, v2);
        h = xxh_merge(h, v3);
        h = xxh_merge(h, v4);
    } else {
        h = XXH_P5;
    }
    h += (uint64_t)len;
    for (; end - p >= 8; p += 8)
        h = rotl64(h ^ xxh_round(0, get_u64(p)), 27) * XXH_P1 + XXH_P4;
    if (end - p >= 4) {
        h = rotl64(h ^ (uint64_t)get_u32(p) * XXH_P1, 23) * XXH_P2 + XXH_P3;
        p += 4;
    }
    for (; p < end; p++)
        h = rotl64(h ^ (uint64_t)*p * XXH_P5, 11) * XXH_P1;
    h ^= h >> 33;
    h *= XXH_P2;
    h ^= h >> 29;
    h *= XXH_P3;
    h ^= h >> 32;
    return h;
}

/* ---- the file ---- */

static void counters_encode(uint8_t *p, const struct sim_counters *c)
{
    put_u64(p, c->transactions);
    put_u64(p + 8, c->bytes_to_chip);
    put_u64(p + 16, c->bytes_from_chip);
    put_u64(p + 24, c->commands);
    put_u64(p + 32, c->nacks);
}

static void counters_decode(const uint8_t *p, struct sim_counters *c)
{
    c->transactions = get_u64(p);
    c->bytes_to_chip = get_u64(p + 8);
    c->bytes_from_chip = get_u64(p + 16);
    c->commands = get_u64(p + 24);
    c->nacks = get_u64(p + 32);
}

static void id_from_stat(struct sim_file_id *id, const struct stat *st)
{
    id->valid = true;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtim = st->st_mtim;
    id->ctim = st->st_ctim;
}

static bool id_same(const struct sim_file_id *id, const struct stat *st)
{
    return id->valid && id->dev == st->st_dev && id->ino == st->st_ino &&
           id->size == st->st_size && id->mtim.tv_sec == st->st_mtim.tv_sec &&
           id->mtim.tv_nsec == st->st_mtim.tv_nsec && id->ctim.tv_sec == st->st_ctim.tv_sec &&
           id->ctim.tv_nsec == st->st_ctim.tv_nsec;
}

/* The word is the one field two handles touch as a unit: an aligned 8-byte
 * atomic, the release ordering every slot store before it. */
static uint64_t word_load(const struct sim *s)
{
    return le64toh(__atomic_load_n((const uint64_t *)(s->map + SIM_FILE_WORD_OFF),
                                   __ATOMIC_ACQUIRE));
}

static void word_store(struct sim *s, uint64_t w)
{
    __atomic_store_n((uint64_t *)(s->map + SIM_FILE_WORD_OFF), htole64(w), __ATOMIC_RELEASE);
}

static size_t word_slot_size(uint64_t w)
{
    return SIM_WORD_UNITS(w) * SIM_FILE_UNIT;
}

static size_t slot_off(uint64_t w, unsigned slot)
{
    return SIM_FILE_HDR_LEN + slot * word_slot_size(w);
}

/* Magic, version and chip kind of the first len bytes of a file of fsize
 * bytes; a message names what is wrong. */
static int check_header(struct sim *s, const uint8_t *h, size_t len, uint64_t fsize)
{
    char kind[SIM_KIND_LEN + 1];

    if (len < SIM_MAGIC_LEN || memcmp(h, SIM_MAGIC, SIM_MAGIC_LEN) != 0) {
        set_err(s, "%s: not an emulator state file", s->path);
        return -1;
    }
    if (len < SIM_MAGIC_LEN + 4) {
        set_err(s, "%s: truncated state file (%llu bytes)", s->path, (unsigned long long)fsize);
        return -1;
    }
    uint32_t version = get_u32(h + SIM_MAGIC_LEN);
    if (version != SIM_FILE_VERSION) {
        set_err(s,
                "%s: state file format version %u, this build reads %u only "
                "(remove the file to start a fresh chip)",
                s->path, (unsigned)version, SIM_FILE_VERSION);
        return -1;
    }
    if (len < SIM_FILE_HDR_LEN) {
        set_err(s, "%s: truncated state file (%llu bytes)", s->path, (unsigned long long)fsize);
        return -1;
    }
    if (fsize > SIM_MAX_FILE) {
        set_err(s, "%s: oversized state file (%llu bytes)", s->path, (unsigned long long)fsize);
        return -1;
    }
    memcpy(kind, h + SIM_KIND_OFF, SIM_KIND_LEN);
    kind[SIM_KIND_LEN] = '\0';
    if (strcmp(kind, s->chip->kind) != 0) {
        set_err(s, "%s: state file of chip '%.16s', not '%s'", s->path, kind, s->chip->kind);
        return -1;
    }
    return 0;
}

/* The slot a word names, checked against the mapping: where it is, its
 * payload length and the checksum it carries (verified). */
static int check_slot(struct sim *s, uint64_t w, const uint8_t **slot, uint32_t *plen,
                      uint64_t *sum)
{
    size_t size = word_slot_size(w);

    if (size == 0 || size > SIM_FILE_MAX_SLOT) {
        set_err(s, "%s: state file names a slot of %zu bytes (corrupt)", s->path, size);
        return -1;
    }
    if (s->map_len < SIM_FILE_HDR_LEN + 2 * size) {
        set_err(s, "%s: truncated state file (%zu bytes, slots of %zu)", s->path, s->map_len,
                size);
        return -1;
    }
    const uint8_t *p = s->map + slot_off(w, SIM_WORD_SLOT(w));
    uint32_t n = get_u32(p + 48);
    if (n > SIM_MAX_PAYLOAD || SIM_FILE_SLOT_HDR + (size_t)n + SIM_FILE_SUM_LEN > size) {
        set_err(s, "%s: state file slot with a payload of %u bytes (corrupt)", s->path,
                (unsigned)n);
        return -1;
    }
    uint64_t want = get_u64(p + SIM_FILE_SLOT_HDR + n);
    if (sim_file_sum(p, SIM_FILE_SLOT_HDR + n) != want) {
        set_err(s, "%s: state file checksum mismatch (corrupt)", s->path);
        return -1;
    }
    if (get_u64(p) != SIM_WORD_GEN(w)) {
        set_err(s, "%s: state file slot of generation %llu, the header names %llu (corrupt)",
                s->path, (unsigned long long)get_u64(p), (unsigned long long)SIM_WORD_GEN(w));
        return -1;
    }
    *slot = p;
    *plen = n;
    *sum = want;
    return 0;
}

/* Brings the memory in line with the active slot of the mapped file: checks
 * it, and loads it unless it is the one the memory already holds. */
static int sync_slot(struct sim *s, const struct stat *st)
{
    const uint8_t *slot;
    uint32_t plen;
    uint64_t sum, w;
    char cerr[160] = "";

    if (check_header(s, s->map, s->map_len, s->map_len) != 0)
        return -1;
    w = word_load(s);
    if (check_slot(s, w, &slot, &plen, &sum) != 0)
        return -1;
    if (!s->synced || w != s->word || sum != s->sum) {
        void *state = s->chip->load(slot + SIM_FILE_SLOT_HDR, plen, cerr, sizeof cerr);
        if (state == NULL) {
            set_err(s, "%s: bad chip state: %s", s->path, cerr);
            return -1;
        }
        if (s->state != NULL)
            s->chip->destroy(s->state);
        s->state = state;
        counters_decode(slot + 8, &s->counters);
        s->saved = s->counters;
    }
    s->word = w;
    s->sum = sum;
    s->synced = true;
    id_from_stat(&s->id, st);
    return 0;
}

static void detach(struct sim *s)
{
    if (s->map != NULL)
        munmap(s->map, s->map_len);
    if (s->fd >= 0)
        close(s->fd);
    s->map = NULL;
    s->map_len = 0;
    s->fd = -1;
    s->id.valid = false;
}

static int map_fd(struct sim *s, size_t len)
{
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);

    if (m == MAP_FAILED) {
        set_err(s, "%s: mmap: %s", s->path, strerror(errno));
        return -1;
    }
    s->map = m;
    s->map_len = len;
    return 0;
}

/* Opens and maps the file at the path, after a look at its header through
 * read(2) (a foreign file is never mapped). 1, with no message, when there
 * is no file. */
static int attach(struct sim *s, struct stat *st)
{
    uint8_t h[SIM_FILE_HDR_LEN];
    size_t got = 0;

    detach(s);
    s->fd = open(s->path, O_RDWR | O_CLOEXEC);
    if (s->fd < 0) {
        if (errno == ENOENT)
            return 1;
        set_err(s, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    if (fstat(s->fd, st) != 0) {
        set_err(s, "%s: %s", s->path, strerror(errno));
        goto fail;
    }
    while (got < sizeof h && (off_t)got < st->st_size) {
        ssize_t n = pread(s->fd, h + got, sizeof h - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(s, "%s: read: %s", s->path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (check_header(s, h, got, (uint64_t)st->st_size) != 0 || map_fd(s, (size_t)st->st_size) != 0)
        goto fail;
    return 0;
fail:
    detach(s);
    return -1;
}

/* Under the lock, at the start of a bracket. */
static int refresh(struct sim *s)
{
    struct stat st;

    if (s->map != NULL) {
        if (fstat(s->fd, &st) != 0) {
            set_err(s, "%s: %s", s->path, strerror(errno));
            return -1;
        }
        /* replaced or removed (the path is the truth), or resized */
        if (st.st_nlink == 0 || (uint64_t)st.st_size != s->map_len)
            detach(s);
    }
    if (s->map == NULL) {
        int rc = attach(s, &st);
        if (rc > 0)
            set_err(s, "%s: %s", s->path, strerror(ENOENT));
        if (rc != 0)
            return -1;
    }
    if (s->synced && id_same(&s->id, &st) && word_load(s) == s->word)
        return 0;
    return sync_slot(s, &st);
}

/* Fills the slot at p with a generation, the counters and the payload;
 * returns its checksum. */
static uint64_t fill_slot(uint8_t *p, uint64_t gen, const struct sim_counters *c,
                          const uint8_t *payload, size_t plen)
{
    uint64_t sum;

    put_u64(p, gen);
    counters_encode(p + 8, c);
    put_u32(p + 48, (uint32_t)plen);
    put_u32(p + 52, 0);
    memcpy(p + SIM_FILE_SLOT_HDR, payload, plen);
    sum = sim_file_sum(p, SIM_FILE_SLOT_HDR + plen);
    put_u64(p + SIM_FILE_SLOT_HDR + plen, sum);
    return sum;
}

/* Extends the file (never shrinks it) and maps all of it. */
static int grow(struct sim *s, size_t len)
{
    if (len <= s->map_len)
        return 0;
    if (ftruncate(s->fd, (off_t)len) != 0) {
        set_err(s, "%s: cannot extend to %zu bytes: %s", s->path, len, strerror(errno));
        return -1;
    }
    munmap(s->map, s->map_len);
    s->map = NULL;
    if (map_fd(s, len) != 0) {
        detach(s);
        return -1;
    }
    return 0;
}

int sim_save_stage(struct sim *s)
{
    uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = SIM_ERR;

    if (s == NULL)
        return SIM_ERR;
    s->staged = false;
    if (s->depth == 0 || s->map == NULL || !s->synced || word_load(s) != s->word) {
        set_err(s, "%s: save outside a bracket or after a failed one", s->path);
        return SIM_ERR;
    }
    if (s->chip->save(s->state, &payload, &plen) != 0 || plen > SIM_MAX_PAYLOAD) {
        set_err(s, "%s: cannot serialise the chip state", s->path);
        goto out;
    }
    uint64_t w = s->word;
    size_t need = SIM_FILE_SLOT_HDR + plen + SIM_FILE_SUM_LEN, size = word_slot_size(w);
    unsigned slot = SIM_WORD_SLOT(w) ^ 1u;
    if (need > size) {
        /* at least double: slot 1 then starts past both old slots */
        size_t grown = (need + SIM_FILE_UNIT - 1) / SIM_FILE_UNIT * SIM_FILE_UNIT;
        if (grown < 2 * size)
            grown = 2 * size;
        if (grown > SIM_FILE_MAX_SLOT) {
            set_err(s, "%s: a state of %zu bytes does not fit a slot", s->path, plen);
            goto out;
        }
        if (grow(s, SIM_FILE_HDR_LEN + 2 * grown) != 0)
            goto out;
        size = grown;
        slot = 1;
    }
    uint64_t gen = (SIM_WORD_GEN(w) + 1) & SIM_GEN_MASK;
    s->staged_word = SIM_WORD(gen, slot, size / SIM_FILE_UNIT);
    s->staged_sum = fill_slot(s->map + slot_off(s->staged_word, slot), gen, &s->counters,
                              payload, plen);
    s->staged = true;
    rc = SIM_OK;
out:
    free(payload);
    return rc;
}

int sim_save_flip(struct sim *s)
{
    if (s == NULL)
        return SIM_ERR;
    if (!s->staged || s->depth == 0 || s->map == NULL) {
        set_err(s, "%s: nothing staged to publish", s->path);
        return SIM_ERR;
    }
    word_store(s, s->staged_word);
    s->staged = false;
    s->word = s->staged_word;
    s->sum = s->staged_sum;
    s->saved = s->counters;
    return SIM_OK;
}

/* A fresh file: written whole beside the path and renamed onto it, so no
 * other process ever sees it half made. */
static int create_file(struct sim *s)
{
    uint8_t *payload = NULL, *img = NULL;
    size_t plen = 0, len = 0, done = 0;
    int fd = -1, rc = -1;
    struct stat st;

    if (s->chip->save(s->state, &payload, &plen) != 0 || plen > SIM_MAX_PAYLOAD) {
        set_err(s, "%s: cannot serialise the chip state", s->path);
        goto out;
    }
    /* room for the state to double before the first growth */
    size_t need = SIM_FILE_SLOT_HDR + plen + SIM_FILE_SUM_LEN;
    size_t size = (2 * need + SIM_FILE_UNIT - 1) / SIM_FILE_UNIT * SIM_FILE_UNIT;
    uint64_t w = SIM_WORD(1, 0, size / SIM_FILE_UNIT);
    len = SIM_FILE_HDR_LEN + 2 * size;
    img = calloc(1, len);
    if (img == NULL) {
        set_err(s, "out of memory");
        goto out;
    }
    memcpy(img, SIM_MAGIC, SIM_MAGIC_LEN);
    put_u32(img + SIM_MAGIC_LEN, SIM_FILE_VERSION);
    memcpy(img + SIM_KIND_OFF, s->chip->kind, strnlen(s->chip->kind, SIM_KIND_LEN));
    put_u64(img + SIM_FILE_WORD_OFF, w);
    uint64_t sum = fill_slot(img + slot_off(w, 0), 1, &s->counters, payload, plen);
    fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        set_err(s, "%s: %s", s->tmp_path, strerror(errno));
        goto out;
    }
    while (done < len) {
        ssize_t n = write(fd, img + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            set_err(s, "%s: write: %s", s->tmp_path, n < 0 ? strerror(errno) : "no progress");
            goto out;
        }
        done += (size_t)n;
    }
    if (close(fd) != 0) {
        fd = -1;
        set_err(s, "%s: write: %s", s->tmp_path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(s->tmp_path, s->path) != 0) {
        set_err(s, "%s: rename: %s", s->path, strerror(errno));
        goto out;
    }
    if (attach(s, &st) != 0)
        goto out;
    s->word = w;
    s->sum = sum;
    s->synced = true;
    s->saved = s->counters;
    rc = sync_slot(s, &st); /* checks what landed; no reload */
out:
    if (fd >= 0) {
        close(fd);
        unlink(s->tmp_path);
    }
    free(img);
    free(payload);
    return rc;
}

static int lock_file(struct sim *s)
{
    while (flock(s->lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            set_err(s, "%s: flock: %s", s->lock_path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void unlock_file(struct sim *s)
{
    flock(s->lock_fd, LOCK_UN);
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);

    if (p != NULL) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

static void sim_free(struct sim *s)
{
    if (s == NULL)
        return;
    if (s->state != NULL)
        s->chip->destroy(s->state);
    detach(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->path);
    free(s->lock_path);
    free(s->tmp_path);
    free(s);
}

/* Under the lock: loads the existing file or creates it with the profile. */
static int open_or_create(struct sim *s, const char *profile)
{
    struct stat st;
    int rc = attach(s, &st);

    if (rc == 0)
        return sync_slot(s, &st);
    if (rc < 0)
        return -1;
    char cerr[160] = "";
    const char *prof = profile != NULL ? profile : s->chip->default_profile;
    s->state = s->chip->create(prof, cerr, sizeof cerr);
    if (s->state == NULL) {
        set_err(s, "%s: cannot create a '%s' chip: %s", s->path, prof, cerr);
        return -1;
    }
    if (s->chip->publish != NULL && s->chip->publish(s->state, s->path, cerr, sizeof cerr) != 0) {
        set_err(s, "%s: cannot publish the new '%s' chip's files: %s", s->path, prof, cerr);
        return -1;
    }
    memset(&s->counters, 0, sizeof s->counters);
    return create_file(s);
}

int sim_open(const char *path, const char *chip, const char *profile, struct sim **out,
             char *err, size_t errlen)
{
    struct sim *s;
    const struct sim_chip *c;

    if (out != NULL)
        *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (path == NULL || *path == '\0' || chip == NULL || out == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "sim_open: missing path, chip or output");
        return SIM_ERR;
    }
    c = sim_chip_find(chip);
    if (c == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "no emulator for chip '%s'", chip);
        log_error("sim", "no emulator for chip '%s'", chip);
        return SIM_ERR;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return SIM_ERR;
    s->chip = c;
    s->lock_fd = -1;
    s->fd = -1;
    s->path = strdup(path);
    s->lock_path = concat(path, ".lock");
    s->tmp_path = concat(path, ".tmp");
    if (s->path == NULL || s->lock_path == NULL || s->tmp_path == NULL) {
        set_err(s, "out of memory");
        goto fail;
    }
    s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        set_err(s, "%s: %s", s->lock_path, strerror(errno));
        goto fail;
    }
    if (lock_file(s) != 0)
        goto fail;
    int rc = open_or_create(s, profile);
    unlock_file(s);
    if (rc != 0)
        goto fail;
    *out = s;
    return SIM_OK;
fail:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", s->err);
    sim_free(s);
    return SIM_ERR;
}

void sim_close(struct sim *s)
{
    if (s == NULL)
        return;
    if (s->depth > 0) {
        s->depth = 1;
        sim_end(s);
    }
    sim_free(s);
}

int sim_begin(struct sim *s)
{
    if (s == NULL)
        return SIM_ERR;
    if (s->depth > 0) {
        s->depth++;
        return SIM_OK;
    }
    if (lock_file(s) != 0)
        return SIM_ERR;
    if (refresh(s) != 0) {
        unlock_file(s);
        return SIM_ERR;
    }
    s->depth = 1;
    s->dirty = false;
    return SIM_OK;
}

int sim_end(struct sim *s)
{
    int rc = SIM_OK;

    if (s == NULL || s->depth == 0)
        return SIM_ERR;
    if (s->depth > 1) {
        s->depth--;
        return SIM_OK;
    }
    if (s->dirty || memcmp(&s->counters, &s->saved, sizeof s->counters) != 0) {
        if (sim_save_stage(s) != SIM_OK || sim_save_flip(s) != SIM_OK) {
            s->synced = false; /* memory and file differ: reload at the next begin */
            rc = SIM_ERR;
        }
    }
    s->dirty = false;
    s->depth = 0;
    unlock_file(s);
    return rc;
}

/* Moves the chip-side reset countdown for a transaction the chip never sees,
 * without firing it: the reset then lands on the next one it does see. */
static void skip_reset_tick(struct sim *s)
{
    if (s->faults.reset > 1)
        s->faults.reset--;
}

static int transact(struct sim *s, bool is_read, uint8_t addr, uint8_t *rbuf,
                    const uint8_t *wbuf, size_t len)
{
    int rc, erc;

    if (s == NULL || (len > 0 && (is_read ? rbuf == NULL : wbuf == NULL)))
        return SIM_ERR;
    if (sim_begin(s) != SIM_OK)
        return SIM_ERR;
    s->counters.transactions++;
    if (s->faults.dead) {
        skip_reset_tick(s);
        rc = SIM_NACK;
    } else if (s->faults.nack > 0) {
        s->faults.nack--;
        skip_reset_tick(s);
        rc = SIM_NACK;
    } else {
        struct sim_ctx ctx = {.faults = &s->faults, .commands = &s->counters.commands};
        if (is_read)
            rc = s->chip->read(s->state, &ctx, addr, rbuf, len);
        else
            rc = s->chip->write(s->state, &ctx, addr, wbuf, len);
        if (ctx.dirty)
            s->dirty = true;
    }
    if (rc == SIM_OK) {
        if (is_read) {
            s->counters.bytes_from_chip += len;
            /* A 1-byte read is the count of a split read; the fault is kept
             * for the payload part, where the CRC can reveal it. */
            if (s->faults.crc > 0 && len > 1) {
                s->faults.crc--;
                rbuf[len - 1] ^= 0x01;
            }
            if (s->faults.shortread > 0 && len > 0) {
                s->faults.shortread--;
                memset(rbuf + len / 2, 0xFF, len - len / 2); /* released bus reads 1s */
            }
        } else {
            s->counters.bytes_to_chip += len;
        }
    } else {
        s->counters.nacks++;
    }
    erc = sim_end(s);
    return erc == SIM_OK ? rc : SIM_ERR;
}

int sim_write(struct sim *s, uint8_t addr, const uint8_t *data, size_t len)
{
    return transact(s, false, addr, NULL, data, len);
}

int sim_read(struct sim *s, uint8_t addr, uint8_t *data, size_t len)
{
    return transact(s, true, addr, data, NULL, len);
}

static int parse_count(const char *v, size_t n, unsigned *out)
{
    unsigned long x = 0;

    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (unsigned long)(v[i] - '0');
    }
    *out = (unsigned)x;
    return 0;
}

int sim_set_faults(struct sim *s, const char *spec)
{
    struct sim_faults f = {0};
    const char *p = spec != NULL ? spec : "";

    if (s == NULL)
        return SIM_ERR;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t klen = eq != NULL ? (size_t)(eq - p) : n;
        unsigned v = 0;

        if (klen == 4 && memcmp(p, "dead", 4) == 0 && eq == NULL) {
            f.dead = true;
        } else if (eq == NULL || parse_count(eq + 1, n - klen - 1, &v) != 0) {
            set_err(s, "fault spec: bad item '%.*s'", (int)n, p);
            return SIM_ERR;
        } else if (klen == 4 && memcmp(p, "nack", 4) == 0) {
            f.nack = v;
        } else if (klen == 3 && memcmp(p, "crc", 3) == 0) {
            f.crc = v;
        } else if (klen == 5 && memcmp(p, "short", 5) == 0) {
            f.shortread = v;
        } else if (klen == 4 && memcmp(p, "busy", 4) == 0) {
            f.busy = v;
        } else if (klen == 5 && memcmp(p, "reset", 5) == 0) {
            f.reset = v;
        } else {
            set_err(s, "fault spec: unknown fault '%.*s'", (int)klen, p);
            return SIM_ERR;
        }
        if (end == NULL)
            break;
        p = end + 1;
        if (*p == '\0') {
            set_err(s, "fault spec: trailing comma");
            return SIM_ERR;
        }
    }
    s->faults = f;
    return SIM_OK;
}

int sim_get_counters(struct sim *s, struct sim_counters *c)
{
    if (s == NULL || c == NULL)
        return SIM_ERR;
    if (sim_begin(s) != SIM_OK)
        return SIM_ERR;
    *c = s->counters;
    return sim_end(s);
}

const char *sim_last_error(const struct sim *s)
{
    return s != NULL ? s->err : "no emulator handle";
}
