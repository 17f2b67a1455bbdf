#include "module/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hal/log.h"

#define STORE_MAGIC "seccki-store 1"
#define STORE_PIN_ITER 10000u
#define STORE_FILE_MAX (256 * 1024)

static void hex_put(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses a hex field ("-" = empty) of at most cap bytes; -1 if malformed. */
static long hex_get(const char *in, uint8_t *out, size_t cap)
{
    size_t n = strlen(in);

    if (strcmp(in, "-") == 0)
        return 0;
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

static void store_clear(struct store *st)
{
    char path[sizeof st->path];
    int (*mirror)(void *, const uint8_t *, size_t) = st->mirror;
    void *mirror_ctx = st->mirror_ctx;

    for (size_t i = 0; i < st->ncerts; i++)
        free(st->certs[i].der);
    memcpy(path, st->path, sizeof path);
    OPENSSL_cleanse(st, sizeof *st);
    memcpy(st->path, path, sizeof path);
    st->mirror = mirror;
    st->mirror_ctx = mirror_ctx;
}

void store_close(struct store *st)
{
    store_clear(st);
}

static int parse_pin(char *rest, struct store_pin *p)
{
    char salt[2 * STORE_SALT_LEN + 1], hash[2 * STORE_HASH_LEN + 1];
    unsigned iter, fails;

    if (sscanf(rest, "%u %32s %64s %u", &iter, salt, hash, &fails) != 4 || iter == 0 ||
        iter > 10000000u)
        return -1;
    if (hex_get(salt, p->salt, sizeof p->salt) != STORE_SALT_LEN ||
        hex_get(hash, p->hash, sizeof p->hash) != STORE_HASH_LEN)
        return -1;
    p->set = true;
    p->iter = iter;
    p->fails = fails;
    return 0;
}

static int parse_key(struct store *st, char *rest)
{
    char label[2 * STORE_LABEL_MAX + 2], id[2 * STORE_ID_MAX + 2],
        subject[2 * STORE_SUBJECT_MAX + 2] = "-";
    uint8_t lbl[STORE_LABEL_MAX], idb[STORE_ID_MAX], subj[STORE_SUBJECT_MAX];
    unsigned long chip_id;
    long ll, il, sl;
    int fields = sscanf(rest, "%lx %257s %129s %1025s", &chip_id, label, id, subject);

    if ((fields != 3 && fields != 4) || chip_id > 0xFFFFFFFFul)
        return -1;
    ll = hex_get(label, lbl, sizeof lbl);
    il = hex_get(id, idb, sizeof idb);
    sl = hex_get(subject, subj, sizeof subj);
    if (ll < 0 || il < 0 || sl < 0 || memchr(lbl, '\0', (size_t)ll) != NULL)
        return -1;
    if (store_key_find(st, (uint32_t)chip_id) != NULL || st->nkeys >= STORE_MAX_KEYS)
        return -1;
    struct store_key *k = &st->keys[st->nkeys++];
    k->chip_id = (uint32_t)chip_id;
    memcpy(k->label, lbl, (size_t)ll);
    k->label[ll] = '\0';
    memcpy(k->id, idb, (size_t)il);
    k->id_len = (size_t)il;
    memcpy(k->subject, subj, (size_t)sl);
    k->subject_len = (size_t)sl;
    return 0;
}

static int parse_cert(struct store *st, char *rest)
{
    char kind[2], label[2 * STORE_LABEL_MAX + 2], id[2 * STORE_ID_MAX + 2];
    uint8_t lbl[STORE_LABEL_MAX], idb[STORE_ID_MAX];
    unsigned long cert_id;
    int used = 0;
    long ll, il, dl = 0;

    if (sscanf(rest, "%lx %1s %257s %129s %n", &cert_id, kind, label, id, &used) != 4 ||
        cert_id > 0xFFFFFFFFul || (kind[0] != 'e' && kind[0] != 'f') || used == 0)
        return -1;
    ll = hex_get(label, lbl, sizeof lbl);
    il = hex_get(id, idb, sizeof idb);
    if (ll < 0 || il < 0 || memchr(lbl, '\0', (size_t)ll) != NULL ||
        store_cert_find(st, (uint32_t)cert_id) != NULL || st->ncerts >= STORE_MAX_CERTS)
        return -1;
    const char *derhex = rest + used;
    uint8_t *der = NULL;
    if (strcmp(derhex, "-") != 0) {
        der = malloc(STORE_CERT_MAX);
        if (der == NULL || (dl = hex_get(derhex, der, STORE_CERT_MAX)) <= 0) {
            free(der);
            return -1;
        }
    }
    struct store_cert *c = &st->certs[st->ncerts++];
    c->cert_id = (uint32_t)cert_id;
    c->explicit_label = kind[0] == 'e';
    memcpy(c->label, lbl, (size_t)ll);
    c->label[ll] = '\0';
    memcpy(c->id, idb, (size_t)il);
    c->id_len = (size_t)il;
    c->der = der;
    c->der_len = (size_t)dl;
    return 0;
}

static int parse_data(struct store *st, char *rest)
{
    char priv[2], label[2 * STORE_LABEL_MAX + 2], app[2 * STORE_LABEL_MAX + 2],
        oid[2 * STORE_ID_MAX + 2];
    struct store_data d;
    unsigned long id;
    long ll, al, ol;

    memset(&d, 0, sizeof d);
    if (sscanf(rest, "%lx %1s %257s %257s %129s", &id, priv, label, app, oid) != 5 ||
        id > 0xFFFFFFFFul || (priv[0] != 'p' && priv[0] != '-') ||
        store_data_find(st, (uint32_t)id) != NULL || st->ndata >= STORE_MAX_DATA)
        return -1;
    ll = hex_get(label, (uint8_t *)d.label, STORE_LABEL_MAX);
    al = hex_get(app, (uint8_t *)d.app, STORE_LABEL_MAX);
    ol = hex_get(oid, d.oid, sizeof d.oid);
    if (ll < 0 || al < 0 || ol < 0 || memchr(d.label, '\0', (size_t)ll) != NULL ||
        memchr(d.app, '\0', (size_t)al) != NULL)
        return -1;
    d.label[ll] = '\0';
    d.app[al] = '\0';
    d.oid_len = (size_t)ol;
    d.data_id = (uint32_t)id;
    d.is_private = priv[0] == 'p';
    st->data[st->ndata++] = d;
    return 0;
}

static int parse_line(struct store *st, char *line, unsigned lineno)
{
    if (lineno == 1)
        return strcmp(line, STORE_MAGIC) == 0 ? 0 : -1;
    if (line[0] == '\0')
        return 0;
    if (strncmp(line, "initialized ", 12) == 0) {
        st->initialized = strcmp(line + 12, "1") == 0;
        return 0;
    }
    if (strncmp(line, "label ", 6) == 0) {
        uint8_t buf[32];
        long n = hex_get(line + 6, buf, sizeof buf);
        if (n < 0 || memchr(buf, '\0', (size_t)n) != NULL)
            return -1;
        memcpy(st->label, buf, (size_t)n);
        st->label[n] = '\0';
        return 0;
    }
    if (strncmp(line, "pin so ", 7) == 0)
        return parse_pin(line + 7, &st->so);
    if (strncmp(line, "pin user ", 9) == 0)
        return parse_pin(line + 9, &st->user);
    if (strncmp(line, "key ", 4) == 0)
        return parse_key(st, line + 4);
    if (strncmp(line, "cert ", 5) == 0)
        return parse_cert(st, line + 5);
    if (strncmp(line, "data ", 5) == 0)
        return parse_data(st, line + 5);
    return -1;
}

/* Parses a whole store text (NUL-terminated, modified in place). */
static int parse_text(struct store *st, char *text, const char *origin)
{
    unsigned lineno = 0;

    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (parse_line(st, line, ++lineno) != 0) {
            log_error("store", "%s:%u: malformed record; the token store is left untouched",
                      origin, lineno);
            return -1;
        }
    }
    if (lineno == 0) {
        log_error("store", "%s: empty", origin);
        return -1;
    }
    return 0;
}

static int store_load(struct store *st)
{
    struct stat sb;
    char *text = NULL;
    int fd = open(st->path, O_RDONLY | O_CLOEXEC);

    store_clear(st);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        log_error("store", "%s: %s", st->path, strerror(errno));
        st->broken = true;
        return -1;
    }
    if (fstat(fd, &sb) != 0 || sb.st_size > STORE_FILE_MAX) {
        log_error("store", "%s: unreadable or larger than %d bytes", st->path, STORE_FILE_MAX);
        goto bad;
    }
    text = malloc((size_t)sb.st_size + 1);
    if (text == NULL)
        goto bad;
    ssize_t got = read(fd, text, (size_t)sb.st_size);
    if (got != sb.st_size) {
        log_error("store", "%s: short read", st->path);
        goto bad;
    }
    text[got] = '\0';
    if (parse_text(st, text, st->path) != 0)
        goto bad;
    st->ino = sb.st_ino;
    st->size = sb.st_size;
    st->mtime_sec = (long)sb.st_mtim.tv_sec;
    st->mtime_nsec = sb.st_mtim.tv_nsec;
    OPENSSL_cleanse(text, (size_t)sb.st_size);
    free(text);
    close(fd);
    return 0;
bad:
    if (text != NULL) {
        OPENSSL_cleanse(text, (size_t)sb.st_size);
        free(text);
    }
    close(fd);
    store_clear(st);
    st->broken = true;
    return -1;
}

int store_open(struct store *st, const char *dir, const char *chip, const char *serial)
{
    memset(st, 0, sizeof *st);
    int n = snprintf(st->path, sizeof st->path, "%s/%s-%s.store", dir, chip, serial);
    if (n < 0 || (size_t)n >= sizeof st->path) {
        log_error("store", "store path too long in %s", dir);
        st->broken = true;
        return -1;
    }
    return store_load(st);
}

int store_refresh(struct store *st)
{
    struct stat sb;

    if (stat(st->path, &sb) != 0) {
        if (errno != ENOENT || st->ino == 0)
            return 0;
        store_load(st); /* removed by someone: start empty */
        return 1;
    }
    if (!st->broken && sb.st_ino == st->ino && sb.st_size == st->size &&
        (long)sb.st_mtim.tv_sec == st->mtime_sec && sb.st_mtim.tv_nsec == st->mtime_nsec)
        return 0;
    return store_load(st) == 0 ? 1 : -1;
}

static int ensure_dir(const char *path)
{
    char dir[sizeof ((struct store *)0)->path];
    char *slash;

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static size_t format_pin(char *out, size_t cap, const char *who, const struct store_pin *p)
{
    char salt[2 * STORE_SALT_LEN + 1], hash[2 * STORE_HASH_LEN + 1];
    int n;

    if (!p->set)
        return 0;
    hex_put(salt, p->salt, sizeof p->salt);
    hex_put(hash, p->hash, sizeof p->hash);
    n = snprintf(out, cap, "pin %s %u %s %s %u\n", who, p->iter, salt, hash, p->fails);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The store as text; *len its length. NULL when it does not fit. */
static char *store_format(const struct store *st, size_t *len)
{
    size_t cap = STORE_FILE_MAX, n = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return NULL;
    n += (size_t)snprintf(buf + n, cap - n, "%s\ninitialized %d\n", STORE_MAGIC,
                          st->initialized ? 1 : 0);
    if (st->label[0] != '\0') {
        char hex[65];
        hex_put(hex, (const uint8_t *)st->label, strlen(st->label));
        n += (size_t)snprintf(buf + n, cap - n, "label %s\n", hex);
    }
    n += format_pin(buf + n, cap - n, "so", &st->so);
    n += format_pin(buf + n, cap - n, "user", &st->user);
    for (size_t i = 0; i < st->nkeys; i++) {
        const struct store_key *k = &st->keys[i];
        char lh[2 * STORE_LABEL_MAX + 1], ih[2 * STORE_ID_MAX + 1];
        hex_put(lh, (const uint8_t *)k->label, strlen(k->label));
        hex_put(ih, k->id, k->id_len);
        n += (size_t)snprintf(buf + n, cap - n, "key %x %s %s", k->chip_id, lh[0] ? lh : "-",
                              ih[0] ? ih : "-");
        if (k->subject_len > 0 && n + 2 * k->subject_len + 2 < cap) {
            buf[n++] = ' ';
            hex_put(buf + n, k->subject, k->subject_len);
            n += 2 * k->subject_len;
        }
        if (n < cap)
            buf[n++] = '\n';
    }
    for (size_t i = 0; i < st->ncerts && n < cap; i++) {
        const struct store_cert *c = &st->certs[i];
        char lh[2 * STORE_LABEL_MAX + 1], ih[2 * STORE_ID_MAX + 1];
        hex_put(lh, (const uint8_t *)c->label, strlen(c->label));
        hex_put(ih, c->id, c->id_len);
        n += (size_t)snprintf(buf + n, cap - n, "cert %x %c %s %s ", c->cert_id,
                              c->explicit_label ? 'e' : 'f', lh[0] ? lh : "-", ih[0] ? ih : "-");
        if (c->der == NULL) {
            n += (size_t)snprintf(buf + n, cap - n, "-\n");
        } else if (n + 2 * c->der_len + 2 < cap) {
            hex_put(buf + n, c->der, c->der_len);
            n += 2 * c->der_len;
            buf[n++] = '\n';
        } else {
            n = cap;
        }
    }
    for (size_t i = 0; i < st->ndata && n < cap; i++) {
        const struct store_data *d = &st->data[i];
        char lh[2 * STORE_LABEL_MAX + 1], ah[2 * STORE_LABEL_MAX + 1], oh[2 * STORE_ID_MAX + 1];
        hex_put(lh, (const uint8_t *)d->label, strlen(d->label));
        hex_put(ah, (const uint8_t *)d->app, strlen(d->app));
        hex_put(oh, d->oid, d->oid_len);
        n += (size_t)snprintf(buf + n, cap - n, "data %x %c %s %s %s\n", d->data_id,
                              d->is_private ? 'p' : '-', lh[0] ? lh : "-", ah[0] ? ah : "-",
                              oh[0] ? oh : "-");
    }
    if (n >= cap) {
        log_error("store", "%s: the store would exceed %d bytes", st->path, STORE_FILE_MAX);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int write_file(struct store *st, const char *buf, size_t len)
{
    char tmp[sizeof st->path + 32];
    struct stat sb;
    int fd;

    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", st->path, (long)getpid());
    if (ensure_dir(st->path) != 0) {
        log_error("store", "cannot create the directory of %s: %s", st->path, strerror(errno));
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("store", "%s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        log_error("store", "%s: write failed: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, st->path) != 0) {
        log_error("store", "%s: rename failed: %s", st->path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (stat(st->path, &sb) == 0) {
        st->ino = sb.st_ino;
        st->size = sb.st_size;
        st->mtime_sec = (long)sb.st_mtim.tv_sec;
        st->mtime_nsec = sb.st_mtim.tv_nsec;
    }
    return 0;
}

int store_save(struct store *st)
{
    size_t len = 0;
    char *buf;
    int rc;

    if (st->broken) {
        log_error("store", "%s: not written, the existing file is malformed", st->path);
        return -1;
    }
    buf = store_format(st, &len);
    if (buf == NULL)
        return -1;
    rc = write_file(st, buf, len);
    if (rc == 0 && st->mirror != NULL && st->mirror(st->mirror_ctx, (const uint8_t *)buf, len) != 0)
        log_warn("store", "%s: saved on the host; the copy on the chip was not updated", st->path);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

int store_restore(struct store *st, const uint8_t *blob, size_t len)
{
    char *text = malloc(len + 1);
    int rc = -1;

    if (text == NULL || len == 0 || len > STORE_FILE_MAX || memchr(blob, '\0', len) != NULL) {
        free(text);
        return -1;
    }
    memcpy(text, blob, len);
    text[len] = '\0';
    store_clear(st);
    if (parse_text(st, text, "the chip's copy of the store") == 0) {
        char *buf = store_format(st, &len);
        rc = buf != NULL ? write_file(st, buf, len) : -1;
        if (buf != NULL) {
            OPENSSL_cleanse(buf, len);
            free(buf);
        }
    } else {
        store_clear(st);
    }
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

struct store_key *store_key_find(struct store *st, uint32_t chip_id)
{
    for (size_t i = 0; i < st->nkeys; i++)
        if (st->keys[i].chip_id == chip_id)
            return &st->keys[i];
    return NULL;
}

struct store_key *store_key_put(struct store *st, uint32_t chip_id, const char *label,
                                const uint8_t *id, size_t id_len)
{
    struct store_key *k = store_key_find(st, chip_id);
    size_t ll = strlen(label);

    if (ll > STORE_LABEL_MAX || id_len > STORE_ID_MAX)
        return NULL;
    uint8_t subject[STORE_SUBJECT_MAX];
    size_t subject_len = 0;

    if (k == NULL) {
        if (st->nkeys >= STORE_MAX_KEYS)
            return NULL;
        k = &st->keys[st->nkeys++];
    } else {
        subject_len = k->subject_len;
        memcpy(subject, k->subject, subject_len);
    }
    memset(k, 0, sizeof *k);
    memcpy(k->subject, subject, subject_len);
    k->subject_len = subject_len;
    k->chip_id = chip_id;
    memcpy(k->label, label, ll + 1);
    if (id_len > 0)
        memcpy(k->id, id, id_len);
    k->id_len = id_len;
    return k;
}

void store_key_remove(struct store *st, uint32_t chip_id)
{
    struct store_key *k = store_key_find(st, chip_id);

    if (k == NULL)
        return;
    size_t i = (size_t)(k - st->keys);
    memmove(&st->keys[i], &st->keys[i + 1], (st->nkeys - i - 1) * sizeof st->keys[0]);
    st->nkeys--;
}

static int pin_hash(const struct store_pin *p, const uint8_t *pin, size_t len,
                    uint8_t out[STORE_HASH_LEN])
{
    return PKCS5_PBKDF2_HMAC((const char *)pin, (int)len, p->salt, sizeof p->salt, (int)p->iter,
                             EVP_sha256(), STORE_HASH_LEN, out) == 1
               ? 0
               : -1;
}

int store_pin_set(struct store_pin *p, const uint8_t *pin, size_t len)
{
    struct store_pin n = {.set = true, .iter = STORE_PIN_ITER};

    if (RAND_bytes(n.salt, sizeof n.salt) != 1 || pin_hash(&n, pin, len, n.hash) != 0)
        return -1;
    *p = n;
    OPENSSL_cleanse(&n, sizeof n);
    return 0;
}

bool store_pin_matches(const struct store_pin *p, const uint8_t *pin, size_t len)
{
    uint8_t h[STORE_HASH_LEN];
    bool ok;

    if (!p->set || pin_hash(p, pin, len, h) != 0)
        return false;
    ok = CRYPTO_memcmp(h, p->hash, sizeof h) == 0;
    OPENSSL_cleanse(h, sizeof h);
    return ok;
}

struct store_cert *store_cert_find(struct store *st, uint32_t cert_id)
{
    for (size_t i = 0; i < st->ncerts; i++)
        if (st->certs[i].cert_id == cert_id)
            return &st->certs[i];
    return NULL;
}

struct store_cert *store_cert_put(struct store *st, uint32_t cert_id, const char *label,
                                  const uint8_t *id, size_t id_len, const uint8_t *der,
                                  size_t der_len)
{
    struct store_cert *c = store_cert_find(st, cert_id);
    uint8_t *copy = NULL;

    if ((label != NULL && strlen(label) > STORE_LABEL_MAX) || id_len > STORE_ID_MAX ||
        der_len > STORE_CERT_MAX)
        return NULL;
    if (der != NULL && (copy = malloc(der_len)) == NULL)
        return NULL;
    if (c == NULL) {
        if (st->ncerts >= STORE_MAX_CERTS) {
            free(copy);
            return NULL;
        }
        c = &st->certs[st->ncerts++];
    } else if (der == NULL) {
        copy = c->der; /* relabelling keeps the certificate */
        der_len = c->der_len;
    } else {
        free(c->der);
    }
    memset(c, 0, sizeof *c);
    c->cert_id = cert_id;
    c->explicit_label = label != NULL;
    if (label != NULL)
        memcpy(c->label, label, strlen(label) + 1);
    if (label != NULL && id_len > 0)
        memcpy(c->id, id, id_len);
    c->id_len = label != NULL ? id_len : 0;
    if (copy != NULL && der != NULL)
        memcpy(copy, der, der_len);
    c->der = copy;
    c->der_len = copy != NULL ? der_len : 0;
    return c;
}

void store_cert_remove(struct store *st, uint32_t cert_id)
{
    struct store_cert *c = store_cert_find(st, cert_id);

    if (c == NULL)
        return;
    free(c->der);
    size_t i = (size_t)(c - st->certs);
    memmove(&st->certs[i], &st->certs[i + 1], (st->ncerts - i - 1) * sizeof st->certs[0]);
    st->ncerts--;
}

struct store_data *store_data_find(struct store *st, uint32_t data_id)
{
    for (size_t i = 0; i < st->ndata; i++)
        if (st->data[i].data_id == data_id)
            return &st->data[i];
    return NULL;
}

struct store_data *store_data_put(struct store *st, const struct store_data *d)
{
    struct store_data *slot = store_data_find(st, d->data_id);

    if (slot == NULL) {
        if (st->ndata >= STORE_MAX_DATA)
            return NULL;
        slot = &st->data[st->ndata++];
    }
    *slot = *d;
    return slot;
}

void store_data_remove(struct store *st, uint32_t data_id)
{
    struct store_data *d = store_data_find(st, data_id);

    if (d == NULL)
        return;
    size_t i = (size_t)(d - st->data);
    memmove(&st->data[i], &st->data[i + 1], (st->ndata - i - 1) * sizeof st->data[0]);
    st->ndata--;
}
