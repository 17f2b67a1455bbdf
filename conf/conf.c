/* The config parser. Every problem is reported with file, line and reason;
 * a problem inside a [token NAME] section disables that section only, so one
 * typo never takes the other tokens down. Nothing is ever truncated: a value
 * that does not fit is an error. */
#include "conf/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/log.h"

#define LINE_MAX_BYTES 1024       /* longest line accepted, without its newline */
#define FILE_MAX_BYTES (1u << 20) /* a config is a few lines; refuse anything huge */
#define NAME_MAX_BYTES 32
#define SECTION_KIND "token"

enum where {
    IN_NONE,  /* before the first section */
    IN_TOKEN, /* inside a [token NAME] section kept in out->tokens */
    IN_SKIP,  /* inside a section that was reported and dropped */
};

enum key_id {
    K_CHIP, K_BUS, K_ADDRESS, K_LABEL, K_LOGIN, K_STORE, K_PROFILE, K_FAULTS, K_OBJECT, K_COUNT
};

struct parser {
    const char *name;
    struct conf *out;
    size_t lineno;
    enum where where;
    struct conf_token *cur;
    size_t header_line[CONF_MAX_TOKENS];
    size_t key_line[K_COUNT]; /* 0: not seen in the current section */
};

typedef int (*key_setter)(struct conf_token *t, const char *key, const char *value, char *why,
                          size_t whylen);

struct key_def {
    const char *name;
    key_setter set;
};

static void report(struct parser *p, struct conf_token *t, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Logs "name:line: reason" and, for a section, disables it keeping the first
 * reason as the one the module shows. */
static void report(struct parser *p, struct conf_token *t, size_t line, const char *fmt, ...)
{
    char reason[384];
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s:%zu: %s", p->name, line, reason);
    log_error("conf", "%s", msg);
    if (t != NULL && t->valid) {
        /* The log has the whole message; the slot shows what fits. */
        size_t n = strnlen(msg, sizeof t->error - 1);
        t->valid = false;
        memcpy(t->error, msg, n);
        t->error[n] = '\0';
    }
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

static int has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static char *trim(char *s)
{
    size_t n;

    while (is_blank(*s))
        s++;
    n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A comment starts with '#' or ';' at the start of the line or after a
 * blank, so "a#b" stays a value. */
static void strip_comment(char *s)
{
    for (size_t i = 0; s[i] != '\0'; i++) {
        if ((s[i] == '#' || s[i] == ';') && (i == 0 || is_blank(s[i - 1]))) {
            s[i] = '\0';
            return;
        }
    }
}

static int copy_value(char *dst, size_t dstsize, const char *key, const char *value, char *why,
                      size_t whylen)
{
    size_t n = strlen(value);

    if (n >= dstsize) {
        snprintf(why, whylen, "value of '%s' too long (%zu bytes, at most %zu)", key, n,
                 dstsize - 1);
        return -1;
    }
    memcpy(dst, value, n + 1);
    return 0;
}

static int set_chip(struct conf_token *t, const char *key, const char *value, char *why,
                    size_t whylen)
{
    if (strcmp(value, "atecc608") != 0 && strcmp(value, "se050") != 0) {
        snprintf(why, whylen, "unknown chip '%.64s' (atecc608 or se050)", value);
        return -1;
    }
    return copy_value(t->chip, sizeof t->chip, key, value, why, whylen);
}

static int set_bus(struct conf_token *t, const char *key, const char *value, char *why,
                   size_t whylen)
{
    int sim = strncmp(value, "sim:", 4) == 0 && value[4] != '\0';
    int dev = strncmp(value, "/dev/", 5) == 0 && value[5] != '\0';

    if ((!sim && !dev) || has_control(value)) {
        snprintf(why, whylen, "bus '%.64s' is neither sim:PATH nor a /dev/ I2C device", value);
        return -1;
    }
    return copy_value(t->bus, sizeof t->bus, key, value, why, whylen);
}

static int digit_value(char c, unsigned base)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (base == 16 && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int set_address(struct conf_token *t, const char *key, const char *value, char *why,
                       size_t whylen)
{
    const char *s = value;
    unsigned base = 10, v = 0;

    (void)key;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0') {
        snprintf(why, whylen, "address '%.64s' is not a number (hex 0x.. or decimal)", value);
        return -1;
    }
    for (; *s != '\0'; s++) {
        int d = digit_value(*s, base);
        if (d < 0) {
            snprintf(why, whylen, "address '%.64s' is not a number (hex 0x.. or decimal)",
                     value);
            return -1;
        }
        if (v <= 0xFF) /* past that it is out of range anyway; never overflows */
            v = v * base + (unsigned)d;
    }
    if (v < 0x08 || v > 0x77) {
        snprintf(why, whylen, "address '%.64s' is not a 7-bit device address (0x08..0x77)",
                 value);
        return -1;
    }
    t->address = (uint8_t)v;
    return 0;
}

static int set_label(struct conf_token *t, const char *key, const char *value, char *why,
                     size_t whylen)
{
    if (has_control(value)) {
        snprintf(why, whylen, "label contains a control character");
        return -1;
    }
    return copy_value(t->label, sizeof t->label, key, value, why, whylen);
}

static int set_login(struct conf_token *t, const char *key, const char *value, char *why,
                     size_t whylen)
{
    (void)key;
    if (strcmp(value, "pin") == 0) {
        t->login = CONF_LOGIN_PIN;
    } else if (strcmp(value, "none") == 0) {
        t->login = CONF_LOGIN_NONE;
    } else {
        snprintf(why, whylen, "login '%.64s' is neither pin nor none", value);
        return -1;
    }
    return 0;
}

static int set_store(struct conf_token *t, const char *key, const char *value, char *why,
                     size_t whylen)
{
    if (value[0] != '/' || has_control(value)) {
        snprintf(why, whylen, "store '%.64s' is not an absolute path", value);
        return -1;
    }
    return copy_value(t->store, sizeof t->store, key, value, why, whylen);
}

static int set_profile(struct conf_token *t, const char *key, const char *value, char *why,
                       size_t whylen)
{
    for (const char *s = value; *s != '\0'; s++) {
        if (!is_name_char(*s)) {
            snprintf(why, whylen, "sim_profile '%.64s' has a character outside A-Z a-z 0-9 . _ -",
                     value);
            return -1;
        }
    }
    return copy_value(t->sim_profile, sizeof t->sim_profile, key, value, why, whylen);
}

static int set_faults(struct conf_token *t, const char *key, const char *value, char *why,
                      size_t whylen)
{
    /* The emulator checks the list itself when it opens; here only its shape. */
    if (has_control(value)) {
        snprintf(why, whylen, "sim_faults contains a control character");
        return -1;
    }
    return copy_value(t->sim_faults, sizeof t->sim_faults, key, value, why, whylen);
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* object = CHIP-ID:LABEL[:ID-HEX], CHIP-ID decimal or 0x-hex. */
static int set_object(struct conf_token *t, const char *key, const char *value, char *why,
                      size_t whylen)
{
    char buf[512];
    char *end, *label, *idhex;
    unsigned long id;
    struct conf_object *o;

    (void)key;
    if (t->nobjects >= CONF_MAX_OBJECTS) {
        snprintf(why, whylen, "more than %d object lines", CONF_MAX_OBJECTS);
        return -1;
    }
    if (strlen(value) >= sizeof buf || has_control(value)) {
        snprintf(why, whylen, "object line too long or with a control character");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", value);
    label = strchr(buf, ':');
    if (label == NULL) {
        snprintf(why, whylen, "object '%.64s': expected CHIP-ID:LABEL[:ID-HEX]", value);
        return -1;
    }
    *label++ = '\0';
    idhex = strchr(label, ':');
    if (idhex != NULL)
        *idhex++ = '\0';
    errno = 0;
    id = strtoul(buf, &end, 0);
    if (errno != 0 || end == buf || *end != '\0' || id > 0xFFFFFFFFul || buf[0] == '-') {
        snprintf(why, whylen, "object '%.64s': '%.16s' is not a chip object id", value, buf);
        return -1;
    }
    if (*label == '\0' || strlen(label) > sizeof o->label - 1) {
        snprintf(why, whylen, "object '%.64s': the label must be 1..128 bytes", value);
        return -1;
    }
    o = &t->objects[t->nobjects];
    memset(o, 0, sizeof *o);
    o->chip_id = (uint32_t)id;
    snprintf(o->label, sizeof o->label, "%s", label);
    if (idhex != NULL) {
        size_t n = strlen(idhex);
        if (n == 0 || n % 2 != 0 || n / 2 > sizeof o->id) {
            snprintf(why, whylen, "object '%.64s': the ID must be 1..64 bytes of hex", value);
            return -1;
        }
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hex_nibble(idhex[2 * i]), lo = hex_nibble(idhex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                snprintf(why, whylen, "object '%.64s': the ID is not hex", value);
                return -1;
            }
            o->id[i] = (uint8_t)(hi << 4 | lo);
        }
        o->id_len = n / 2;
    }
    for (size_t i = 0; i < t->nobjects; i++) {
        if (t->objects[i].chip_id == o->chip_id) {
            snprintf(why, whylen, "object %lu is mapped twice", id);
            return -1;
        }
    }
    t->nobjects++;
    return 0;
}

static const struct key_def keys[K_COUNT] = {
    [K_CHIP] = {"chip", set_chip},
    [K_BUS] = {"bus", set_bus},
    [K_ADDRESS] = {"address", set_address},
    [K_LABEL] = {"label", set_label},
    [K_LOGIN] = {"login", set_login},
    [K_STORE] = {"store", set_store},
    [K_PROFILE] = {"sim_profile", set_profile},
    [K_FAULTS] = {"sim_faults", set_faults},
    [K_OBJECT] = {"object", set_object},
};

/* Checks what a section needs as a whole, once its last line is read. */
static void finish_section(struct parser *p)
{
    struct conf_token *t = p->cur;
    size_t line;

    if (p->where != IN_TOKEN || t == NULL)
        return;
    line = p->header_line[t - p->out->tokens];
    if (p->key_line[K_CHIP] == 0)
        report(p, t, line, "no 'chip' in [token %s]", t->name);
    if (p->key_line[K_BUS] == 0)
        report(p, t, line, "no 'bus' in [token %s]", t->name);
    if (p->key_line[K_LABEL] == 0)
        memcpy(t->label, t->name, sizeof t->label); /* both hold at most 32 bytes */
    p->cur = NULL;
}

static void start_section(struct parser *p, char *line)
{
    size_t n = strlen(line);
    char *inner, *kind, *name;
    struct conf_token *t;

    finish_section(p);
    p->where = IN_SKIP;
    memset(p->key_line, 0, sizeof p->key_line);

    if (line[n - 1] != ']') {
        report(p, NULL, p->lineno, "malformed section header (no closing ']'); section ignored");
        return;
    }
    line[n - 1] = '\0';
    inner = trim(line + 1);
    kind = inner;
    name = inner;
    while (*name != '\0' && !is_blank(*name))
        name++;
    if (*name != '\0')
        *name++ = '\0';
    name = trim(name);

    if (strcmp(kind, SECTION_KIND) != 0) {
        report(p, NULL, p->lineno,
               "unknown section kind '%.64s' (expected [token NAME]); section ignored", kind);
        return;
    }
    n = strlen(name);
    if (n == 0 || n > NAME_MAX_BYTES) {
        report(p, NULL, p->lineno,
               "token name must be 1 to %d characters, got %zu; section ignored", NAME_MAX_BYTES,
               n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_name_char(name[i])) {
            report(p, NULL, p->lineno,
                   "token name '%.64s' has a character outside A-Z a-z 0-9 . _ -; section ignored",
                   name);
            return;
        }
    }
    if (p->out->ntokens == CONF_MAX_TOKENS) {
        report(p, NULL, p->lineno, "more than %d token sections; [token %s] ignored",
               CONF_MAX_TOKENS, name);
        return;
    }

    t = &p->out->tokens[p->out->ntokens];
    p->header_line[p->out->ntokens] = p->lineno;
    p->out->ntokens++;
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, n + 1);
    t->login = CONF_LOGIN_PIN;
    snprintf(t->store, sizeof t->store, "%s", CONF_DEFAULT_STORE);
    t->valid = true;
    p->cur = t;
    p->where = IN_TOKEN;

    for (size_t i = 0; i + 1 < p->out->ntokens; i++) {
        if (strcmp(p->out->tokens[i].name, name) == 0) {
            report(p, t, p->lineno, "duplicate section [token %s] (first at line %zu)", name,
                   p->header_line[i]);
            break;
        }
    }
}

static void key_value(struct parser *p, char *line)
{
    struct conf_token *t = p->cur;
    char *eq, *key, *value;
    char why[320];
    size_t k;

    if (p->where == IN_SKIP)
        return; /* the section header was reported already */
    if (p->where == IN_NONE) {
        report(p, NULL, p->lineno, "line outside any [token NAME] section ignored");
        return;
    }
    eq = strchr(line, '=');
    if (eq == NULL) {
        report(p, t, p->lineno, "expected 'key = value' in [token %s]", t->name);
        return;
    }
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    if (*key == '\0') {
        report(p, t, p->lineno, "missing key before '=' in [token %s]", t->name);
        return;
    }
    for (k = 0; k < K_COUNT; k++)
        if (strcmp(key, keys[k].name) == 0)
            break;
    if (k == K_COUNT) {
        report(p, t, p->lineno, "unknown key '%.64s' in [token %s]", key, t->name);
        return;
    }
    if (p->key_line[k] != 0 && k != K_OBJECT) { /* object lines repeat */
        report(p, t, p->lineno, "duplicate key '%s' in [token %s] (first at line %zu)", key,
               t->name, p->key_line[k]);
        return;
    }
    p->key_line[k] = p->lineno;
    if (*value == '\0') {
        report(p, t, p->lineno, "empty value for '%s' in [token %s]", key, t->name);
        return;
    }
    if (keys[k].set(t, key, value, why, sizeof why) != 0)
        report(p, t, p->lineno, "%s in [token %s]", why, t->name);
}

static void parse_line(struct parser *p, const char *text, size_t len)
{
    char buf[LINE_MAX_BYTES + 1];
    char *line;

    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (len > LINE_MAX_BYTES) {
        report(p, p->where == IN_TOKEN ? p->cur : NULL, p->lineno,
               "line longer than %d bytes", LINE_MAX_BYTES);
        return;
    }
    if (memchr(text, '\0', len) != NULL) {
        report(p, p->where == IN_TOKEN ? p->cur : NULL, p->lineno, "NUL byte in line");
        return;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    strip_comment(buf);
    line = trim(buf);
    if (*line == '\0')
        return;
    if (*line == '[')
        start_section(p, line);
    else
        key_value(p, line);
}

const char *conf_default_path(void)
{
    const char *env = getenv("SECCKI_CONF");

    return env != NULL && env[0] != '\0' ? env : CONF_DEFAULT_PATH;
}

int conf_parse(const char *name, const char *text, size_t len, struct conf *out)
{
    struct parser p;
    size_t pos = 0;

    if (out == NULL || (text == NULL && len > 0)) {
        errno = EINVAL;
        return -1;
    }
    if (name == NULL)
        name = "(config)";
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", name);
    memset(&p, 0, sizeof p);
    p.name = name;
    p.out = out;
    p.where = IN_NONE;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;

        p.lineno++;
        parse_line(&p, text + pos, end - pos);
        pos = nl != NULL ? end + 1 : len;
    }
    finish_section(&p);
    return 0;
}

int conf_load(const char *path, struct conf *out)
{
    FILE *f;
    char *buf;
    size_t n = 0;
    int e, rc;

    if (path == NULL || out == NULL) {
        errno = EINVAL;
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (strlen(path) >= sizeof out->path) {
        log_error("conf", "config path too long (%zu bytes)", strlen(path));
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    f = fopen(path, "re");
    if (f == NULL) {
        e = errno;
        log_error("conf", "cannot open %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    buf = malloc(FILE_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        log_error("conf", "cannot read %s: out of memory", path);
        errno = ENOMEM;
        return -1;
    }
    n = fread(buf, 1, FILE_MAX_BYTES + 1, f);
    if (ferror(f)) {
        e = errno;
        log_error("conf", "cannot read %s: %s", path, strerror(e));
        free(buf);
        fclose(f);
        errno = e;
        return -1;
    }
    fclose(f);
    if (n > FILE_MAX_BYTES) {
        log_error("conf", "%s is larger than %u bytes; not a config file", path,
                  FILE_MAX_BYTES);
        free(buf);
        errno = EFBIG;
        return -1;
    }
    rc = conf_parse(path, buf, n, out);
    free(buf);
    return rc;
}
