/* The seccki configuration: an INI file with one [token NAME] section per
 * chip. Path: $SECCKI_CONF, else /etc/seccki/seccki.conf.
 *
 *   [token edge]
 *   chip = atecc608            # atecc608 | se050
 *   bus = sim:/var/tmp/edge.atecc   # or /dev/i2c-1
 *   address = 0x60             # 7-bit I2C address; default per chip
 *   label = edge               # token label; default: the section name
 *   login = pin                # pin | none
 *   store = /var/lib/seccki    # host store directory for this token
 *   sim_profile = tls          # profile of a new emulator state file
 *   sim_faults = busy=2        # fault injection for tests (emulator only)
 *   object = 0:device:01       # a chip object's label and ID (repeatable)
 *
 * A malformed line is reported with file, line and reason; the section it is
 * in is disabled, and the other sections stay usable. */
#ifndef SECCKI_CONF_H
#define SECCKI_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_MAX_TOKENS 16
#define CONF_MAX_OBJECTS 16
#define CONF_DEFAULT_PATH "/etc/seccki/seccki.conf"
#define CONF_DEFAULT_STORE "/var/lib/seccki"

enum conf_login { CONF_LOGIN_PIN = 0, CONF_LOGIN_NONE = 1 };

/* `object = CHIP-ID:LABEL[:ID-HEX]`: the label and ID a chip object shows
 * until the user sets others (e.g. a key provisioned by another tool). */
struct conf_object {
    uint32_t chip_id;
    char label[129];
    uint8_t id[64];
    size_t id_len;
};

struct conf_token {
    char name[33];        /* section name */
    char label[33];       /* token label (<= 32 bytes, PKCS#11 limit) */
    char chip[16];
    char bus[256];
    uint8_t address;      /* 0 = the chip's default */
    enum conf_login login;
    char store[256];
    char sim_profile[32];
    char sim_faults[128];
    struct conf_object objects[CONF_MAX_OBJECTS];
    size_t nobjects;
    bool valid;           /* false: the section had an error; its slot has no token */
    char error[256];      /* why it is not valid ("file:line: reason") */
};

struct conf {
    char path[256];
    struct conf_token tokens[CONF_MAX_TOKENS];
    size_t ntokens;
};

/* Path to use: $SECCKI_CONF if set and non-empty, else CONF_DEFAULT_PATH. */
const char *conf_default_path(void);

/* Parses the file. Returns 0 when the file could be read (sections with
 * errors are kept with valid = false), -1 when it cannot be opened or read
 * (errno set, message logged). */
int conf_load(const char *path, struct conf *out);

/* Parses a config held in memory; `name` is used in messages. */
int conf_parse(const char *name, const char *text, size_t len, struct conf *out);

#endif
