/* The emulator library core: state file, cross-process locking, fault
 * injection and traffic counters, for any chip behind struct sim_chip.
 *
 * State file layout (all integers little-endian):
 *   off  0  magic "SECCKSIM" (8 bytes)
 *   off  8  format version, u32 (SIM_FILE_VERSION)
 *   off 12  chip kind, 16 bytes, NUL-padded
 *   off 28  counters: transactions, bytes_to_chip, bytes_from_chip, commands,
 *           nacks, 5 x u64
 *   off 68  payload length, u32
 *   off 72  payload (the chip's own serialisation)
 *   then    SHA-256 over every byte before it (32 bytes)
 *
 * Saving writes the spare file PATH.tmp in place and swaps it with PATH
 * (renameat2 RENAME_EXCHANGE, plain rename where that is unsupported): a
 * crash leaves the old or the new state, and the replaced inode lives on as
 * the next spare. Freeing an inode on every save would cost a synchronous
 * block discard on some mounts (about a millisecond). The spare needs no pid
 * in its name because only the lock holder touches it.
 *
 * Whether another process changed the file is decided by stat alone: inode,
 * size and mtime. Each save sets the mtime explicitly to a value later than
 * the one it replaces, so a version is never mistaken for an older one even
 * when inodes are reused or the clock's granularity is coarse. */
#include "hal/sim/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hal/log.h"
#include "hal/sim/sim_chip.h"
#include "hal/sim/sim_registry.h"

#define SIM_MAGIC "SECCKSIM"
#define SIM_MAGIC_LEN 8
#define SIM_FILE_VERSION 1u
#define SIM_KIND_LEN 16
#define SIM_HDR_LEN (SIM_MAGIC_LEN + 4 + SIM_KIND_LEN + 5 * 8 + 4)
#define SIM_HASH_LEN 32
/* No chip serialises to more than this; a larger file is not ours. */
#define SIM_MAX_PAYLOAD (1u << 20)

struct sim_file_id {
    bool valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
};

struct sim {
    const struct sim_chip *chip;
    void *state;
    char *path;
    char *lock_path;
    char *spare_path;
    int lock_fd;
    struct sim_file_id id;
    unsigned depth;
    bool dirty;
    struct sim_counters counters;
    struct sim_counters saved; /* as in the file */
    struct sim_faults faults;
    /* SHA-256 fetched once: an implicit fetch on every save costs a tenth
     * of the hashing itself */
    EVP_MD *sha;
    EVP_MD_CTX *md;
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
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* SHA-256 over a || b. */
static int sha256(struct sim *s, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                  uint8_t out[SIM_HASH_LEN])
{
    unsigned int n = 0;

    if (EVP_DigestInit_ex(s->md, s->sha, NULL) != 1 || EVP_DigestUpdate(s->md, a, alen) != 1 ||
        EVP_DigestUpdate(s->md, b, blen) != 1 || EVP_DigestFinal_ex(s->md, out, &n) != 1 ||
        n != SIM_HASH_LEN)
        return -1;
    return 0;
}

static void id_from_stat(struct sim_file_id *id, const struct stat *st)
{
    id->valid = true;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtim = st->st_mtim;
}

static bool id_same(const struct sim_file_id *id, const struct stat *st)
{
    return id->valid && id->dev == st->st_dev && id->ino == st->st_ino &&
           id->size == st->st_size && id->mtim.tv_sec == st->st_mtim.tv_sec &&
           id->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

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

/* Parses a whole state file image; on success hands over the chip state. */
static int parse_file(struct sim *s, const uint8_t *buf, size_t len, void **state,
                      struct sim_counters *c)
{
    uint8_t hash[SIM_HASH_LEN];
    char kind[SIM_KIND_LEN + 1];
    char cerr[160] = "";

    if (len < SIM_MAGIC_LEN || memcmp(buf, SIM_MAGIC, SIM_MAGIC_LEN) != 0) {
        set_err(s, "%s: not an emulator state file", s->path);
        return -1;
    }
    if (len < SIM_HDR_LEN + SIM_HASH_LEN) {
        set_err(s, "%s: truncated state file (%zu bytes)", s->path, len);
        return -1;
    }
    uint32_t version = get_u32(buf + SIM_MAGIC_LEN);
    if (version != SIM_FILE_VERSION) {
        set_err(s, "%s: state file format version %u, this build reads %u", s->path,
                (unsigned)version, SIM_FILE_VERSION);
        return -1;
    }
    memcpy(kind, buf + SIM_MAGIC_LEN + 4, SIM_KIND_LEN);
    kind[SIM_KIND_LEN] = '\0';
    if (strcmp(kind, s->chip->kind) != 0) {
        set_err(s, "%s: state file of chip '%.16s', not '%s'", s->path, kind, s->chip->kind);
        return -1;
    }
    uint32_t plen = get_u32(buf + SIM_HDR_LEN - 4);
    if (plen > SIM_MAX_PAYLOAD || len != SIM_HDR_LEN + (size_t)plen + SIM_HASH_LEN) {
        set_err(s, "%s: truncated or oversized state file (%zu bytes, payload %u)", s->path,
                len, (unsigned)plen);
        return -1;
    }
    if (sha256(s, buf, SIM_HDR_LEN, buf + SIM_HDR_LEN, plen, hash) != 0 ||
        memcmp(hash, buf + SIM_HDR_LEN + plen, SIM_HASH_LEN) != 0) {
        set_err(s, "%s: state file checksum mismatch (corrupt)", s->path);
        return -1;
    }
    void *st = s->chip->load(buf + SIM_HDR_LEN, plen, cerr, sizeof cerr);
    if (st == NULL) {
        set_err(s, "%s: bad chip state: %s", s->path, cerr);
        return -1;
    }
    counters_decode(buf + SIM_MAGIC_LEN + 4 + SIM_KIND_LEN, c);
    *state = st;
    return 0;
}

/* Loads the file behind an open descriptor, replacing the in-memory state. */
static int load_fd(struct sim *s, int fd)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    void *state = NULL;
    struct sim_counters c;
    int rc = -1;

    if (fstat(fd, &st) != 0) {
        set_err(s, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > SIM_HDR_LEN + SIM_MAX_PAYLOAD + SIM_HASH_LEN) {
        set_err(s, "%s: not an emulator state file (size %lld)", s->path,
                (long long)st.st_size);
        return -1;
    }
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL) {
        set_err(s, "out of memory");
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(s, "%s: read: %s", s->path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (parse_file(s, buf, got, &state, &c) != 0)
        goto out;
    if (s->state != NULL)
        s->chip->destroy(s->state);
    s->state = state;
    s->counters = c;
    s->saved = c;
    id_from_stat(&s->id, &st);
    rc = 0;
out:
    free(buf);
    return rc;
}

static int load_path(struct sim *s)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        set_err(s, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    int rc = load_fd(s, fd);
    close(fd);
    return rc;
}

/* A modification time later than the current version's. */
static struct timespec next_mtime(const struct sim *s)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    if (s->id.valid && (t.tv_sec < s->id.mtim.tv_sec ||
                        (t.tv_sec == s->id.mtim.tv_sec && t.tv_nsec <= s->id.mtim.tv_nsec))) {
        t = s->id.mtim;
        if (++t.tv_nsec >= 1000000000L) {
            t.tv_nsec = 0;
            t.tv_sec++;
        }
    }
    return t;
}

/* Writes the three parts of the image to the top of fd. */
static int write_image(int fd, const uint8_t *hdr, const uint8_t *payload, size_t plen,
                       const uint8_t *hash)
{
    struct iovec iov[3] = {{(void *)hdr, SIM_HDR_LEN}, {(void *)payload, plen},
                           {(void *)hash, SIM_HASH_LEN}};
    size_t len = SIM_HDR_LEN + plen + SIM_HASH_LEN, done = 0;
    unsigned first = 0;

    while (done < len) {
        ssize_t n = pwritev(fd, iov + first, (int)(3 - first), (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
        /* a short write: skip what went out and go on from there */
        while (first < 3 && (size_t)n >= iov[first].iov_len) {
            n -= (ssize_t)iov[first].iov_len;
            first++;
        }
        if (first < 3) {
            iov[first].iov_base = (uint8_t *)iov[first].iov_base + n;
            iov[first].iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* Serialises the state and replaces the file atomically (spare + exchange). */
static int save(struct sim *s)
{
    uint8_t *payload = NULL;
    uint8_t hdr[SIM_HDR_LEN], hash[SIM_HASH_LEN];
    size_t plen = 0;
    int fd = -1, rc = -1;
    struct stat st;

    if (s->chip->save(s->state, &payload, &plen) != 0 || plen > SIM_MAX_PAYLOAD) {
        set_err(s, "%s: cannot serialise the chip state", s->path);
        goto out;
    }
    size_t len = SIM_HDR_LEN + plen + SIM_HASH_LEN;
    memcpy(hdr, SIM_MAGIC, SIM_MAGIC_LEN);
    put_u32(hdr + SIM_MAGIC_LEN, SIM_FILE_VERSION);
    memset(hdr + SIM_MAGIC_LEN + 4, 0, SIM_KIND_LEN);
    memcpy(hdr + SIM_MAGIC_LEN + 4, s->chip->kind, strnlen(s->chip->kind, SIM_KIND_LEN));
    counters_encode(hdr + SIM_MAGIC_LEN + 4 + SIM_KIND_LEN, &s->counters);
    put_u32(hdr + SIM_HDR_LEN - 4, (uint32_t)plen);
    if (sha256(s, hdr, sizeof hdr, payload, plen, hash) != 0) {
        set_err(s, "SHA-256 failed");
        goto out;
    }
    fd = open(s->spare_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        set_err(s, "%s: %s", s->spare_path, strerror(errno));
        goto out;
    }
    /* The spare is rewritten in place; it is cut only when it was longer
     * (cutting changes the mtime, so the mtime is set after it), and the
     * fstat that follows gives both the size check and the identity. */
    struct timespec times[2] = {{0, UTIME_OMIT}, next_mtime(s)};
    if (write_image(fd, hdr, payload, plen, hash) != 0 || futimens(fd, times) != 0 ||
        fstat(fd, &st) != 0 ||
        (st.st_size != (off_t)len &&
         (ftruncate(fd, (off_t)len) != 0 || futimens(fd, times) != 0 || fstat(fd, &st) != 0))) {
        set_err(s, "%s: write: %s", s->spare_path, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (renameat2(AT_FDCWD, s->spare_path, AT_FDCWD, s->path, RENAME_EXCHANGE) != 0) {
        if ((errno != ENOENT && errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) ||
            rename(s->spare_path, s->path) != 0) {
            set_err(s, "%s: rename: %s", s->path, strerror(errno));
            goto out;
        }
    }
    id_from_stat(&s->id, &st);
    s->saved = s->counters;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        s->id.valid = false; /* memory and file differ: reload at the next begin */
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
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->path);
    free(s->lock_path);
    free(s->spare_path);
    EVP_MD_CTX_free(s->md);
    EVP_MD_free(s->sha);
    free(s);
}

/* Under the lock: loads the existing file or creates it with the profile. */
static int open_or_create(struct sim *s, const char *profile)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        int rc = load_fd(s, fd);
        close(fd);
        return rc;
    }
    if (errno != ENOENT) {
        set_err(s, "%s: %s", s->path, strerror(errno));
        return -1;
    }
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
    return save(s);
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
    s->path = strdup(path);
    s->lock_path = concat(path, ".lock");
    s->spare_path = concat(path, ".tmp");
    if (s->path == NULL || s->lock_path == NULL || s->spare_path == NULL) {
        set_err(s, "out of memory");
        goto fail;
    }
    s->sha = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->md = EVP_MD_CTX_new();
    if (s->sha == NULL || s->md == NULL) {
        set_err(s, "no SHA-256 from libcrypto");
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
    /* The spare is recreated by whoever saves next. */
    if (lock_file(s) == 0) {
        unlink(s->spare_path);
        unlock_file(s);
    }
    sim_free(s);
}

int sim_begin(struct sim *s)
{
    struct stat st;

    if (s == NULL)
        return SIM_ERR;
    if (s->depth > 0) {
        s->depth++;
        return SIM_OK;
    }
    if (lock_file(s) != 0)
        return SIM_ERR;
    if (stat(s->path, &st) != 0) {
        set_err(s, "%s: %s", s->path, strerror(errno));
        unlock_file(s);
        return SIM_ERR;
    }
    if (!id_same(&s->id, &st) && load_path(s) != 0) {
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
    if (--s->depth > 0)
        return SIM_OK;
    if (s->dirty || memcmp(&s->counters, &s->saved, sizeof s->counters) != 0) {
        if (save(s) != 0)
            rc = SIM_ERR;
    }
    s->dirty = false;
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
    const char *p = spec;

    if (s == NULL)
        return SIM_ERR;
    while (p != NULL && *p != '\0') {
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
