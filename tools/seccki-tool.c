/* seccki-tool: inspect and provision the secure elements of seccki.conf.
 *
 *   seccki-tool [-c CONF] info [TOKEN]       chip model, serial, locks, key slots
 *   seccki-tool [-c CONF] list [TOKEN]       objects with their PKCS#11 URIs
 *   seccki-tool [-c CONF] provision TOKEN    program and lock a blank ATECC608
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "conf/conf.h"
#include "hal/atecc608/atecc.h"
#include "hal/bus.h"
#include "module/pkcs11_3.h"
#include "module/store.h"
#include "module/token.h"
#include "tools/tool.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
    fprintf(f, "usage: seccki-tool [-c CONF] COMMAND [ARGS]\n"
               "commands:\n"
               "  info [TOKEN]        chip model, serial, revision, lock state, free key slots\n"
               "  list [TOKEN]        every object with its PKCS#11 URI\n"
               "  provision TOKEN     program and lock a blank ATECC608 with the TLS layout\n"
               "  keygen TOKEN --label L [--id HEX] [--type ec|ec384|ec521|rsa2048|rsa3072|rsa4096]\n"
               "                      generate a key pair in the chip, print its URIs\n"
               "  csr TOKEN --label L --subject /CN=name [-o FILE] [--der]\n"
               "                      a PKCS#10 request signed by the key in the chip\n"
               "  import-cert TOKEN FILE [--label L --id HEX] [--unpaired]\n"
               "                      store a certificate next to its key (same label and ID)\n"
               "  relabel TOKEN --label L [--id HEX] [--type private|cert] --new-label L2 [--new-id HEX]\n"
               "  delete TOKEN --label L [--id HEX] [--type private|cert]\n"
               "  export-cert TOKEN --label L [-o FILE] [--der]\n"
               "  uri TOKEN --label L [--id HEX]   the PKCS#11 URIs of a key pair and its certificate\n"
               "Options: --pin PIN (else $SECCKI_PIN).\n"
               "CONF defaults to $SECCKI_CONF, else " CONF_DEFAULT_PATH ".\n");
}

struct chip {
    const struct conf_token *ct;
    const struct token_ops *ops;
    struct bus *bus;
    struct tok_dev *dev;
};

static int chip_open(const struct conf_token *ct, struct chip *c)
{
    struct bus_opts bo = {.chip = ct->chip,
                          .sim_profile = ct->sim_profile[0] ? ct->sim_profile : NULL,
                          .sim_faults = ct->sim_faults[0] ? ct->sim_faults : NULL};
    char err[256] = "";
    int rc;

    memset(c, 0, sizeof *c);
    c->ct = ct;
    if (!ct->valid) {
        fprintf(stderr, "seccki-tool: token %s: %s\n", ct->name, ct->error);
        return -1;
    }
    c->ops = token_driver_find(ct->chip);
    if (c->ops == NULL) {
        fprintf(stderr, "seccki-tool: token %s: no driver for chip '%s'\n", ct->name, ct->chip);
        return -1;
    }
    rc = bus_open(ct->bus, &bo, &c->bus, err, sizeof err);
    if (rc != BUS_OK) {
        fprintf(stderr, "seccki-tool: token %s: cannot open %s: %s\n", ct->name, ct->bus,
                err[0] ? err : bus_strerror(rc));
        return -1;
    }
    return 0;
}

static void chip_close(struct chip *c)
{
    if (c->dev != NULL)
        c->ops->close(c->dev);
    if (c->bus != NULL)
        bus_close(c->bus);
}

static uint8_t chip_address(const struct chip *c)
{
    return c->ct->address ? c->ct->address : c->ops->default_address;
}

static int open_token(struct chip *c)
{
    struct tok_opts to = {.address = chip_address(c)};
    int rc = c->ops->open(c->bus, &to, &c->dev);

    if (rc != TOK_OK) {
        fprintf(stderr, "seccki-tool: token %s: %s at 0x%02x on %s: %s\n", c->ct->name,
                c->ct->chip, to.address, c->ct->bus, tok_strerror(rc));
        c->dev = NULL;
        return -1;
    }
    return 0;
}

static void print_atecc_details(struct chip *c)
{
    struct atecc_dev *dev;
    uint8_t rev[4];

    if (atecc_open(c->bus, chip_address(c), &dev) != ATECC_OK)
        return;
    atecc_revision(dev, rev);
    printf("  revision    %02x %02x %02x %02x\n", rev[0], rev[1], rev[2], rev[3]);
    printf("  config zone %s\n", atecc_is_config_locked(dev) ? "locked" : "unlocked");
    printf("  data zone   %s\n", atecc_is_data_locked(dev) ? "locked" : "unlocked");
    atecc_close(dev);
}

static int cmd_info(const struct conf_token *ct)
{
    struct chip c;
    struct tok_info info;
    struct tok_key keys[64];
    size_t n = sizeof keys / sizeof keys[0];
    struct store st;
    int ret = 0;

    if (chip_open(ct, &c) != 0 || open_token(&c) != 0) {
        chip_close(&c);
        return 1;
    }
    if (c.ops->info(c.dev, &info) != TOK_OK) {
        fprintf(stderr, "seccki-tool: token %s: cannot read chip information\n", ct->name);
        chip_close(&c);
        return 1;
    }
    const struct tok_caps *caps = c.ops->caps(c.dev);
    printf("token %s: %s on %s at 0x%02x\n", ct->name, ct->chip, ct->bus, chip_address(&c));
    printf("  model       %s (%s)\n", info.model, info.manufacturer);
    printf("  serial      %s\n", info.serial);
    printf("  firmware    %u.%u\n", info.fw_major, info.fw_minor);
    printf("  provisioned %s\n", info.provisioned ? "yes" : "no (run: seccki-tool provision)");
    if (strcmp(ct->chip, "atecc608") == 0)
        print_atecc_details(&c);
    if (info.free_memory >= 0)
        printf("  free memory %ld bytes\n", info.free_memory);
    store_open(&st, ct->store, ct->chip, info.serial);
    if (c.ops->list_keys(c.dev, keys, &n) == TOK_OK) {
        printf(caps->fixed_slots ? "  key slots  " : "  key objects");
        for (size_t i = 0; i < n; i++) {
            bool used = !caps->fixed_slots || (keys[i].flags & TOK_KEYF_PERMANENT) ||
                        store_key_find(&st, keys[i].id) != NULL;
            for (size_t m = 0; m < ct->nobjects; m++)
                used |= ct->objects[m].chip_id == keys[i].id;
            if (caps->fixed_slots)
                printf(" %u:%s", keys[i].id,
                       used ? "used" : (keys[i].flags & TOK_KEYF_GENERATE) ? "free" : "fixed");
            else
                printf(" 0x%08x%s", keys[i].id,
                       (keys[i].flags & TOK_KEYF_PERMANENT) ? "(factory)" : "");
        }
        printf("\n");
    } else {
        ret = 1;
    }
    printf("  store       %s%s\n", st.path, st.broken ? " (malformed)" : "");
    chip_close(&c);
    return ret;
}

static int cmd_provision(const struct conf_token *ct)
{
    struct chip c;
    struct atecc_dev *dev;
    int rc;

    if (strcmp(ct->chip, "atecc608") != 0) {
        fprintf(stderr, "seccki-tool: provision: token %s is a %s; only a blank ATECC608 is "
                        "provisioned\n", ct->name, ct->chip);
        return 1;
    }
    if (chip_open(ct, &c) != 0) {
        chip_close(&c);
        return 1;
    }
    rc = atecc_open(c.bus, chip_address(&c), &dev);
    if (rc != ATECC_OK) {
        fprintf(stderr, "seccki-tool: token %s: %s\n", ct->name, atecc_strerror(rc));
        chip_close(&c);
        return 1;
    }
    if (atecc_is_config_locked(dev)) {
        fprintf(stderr, "seccki-tool: token %s: the config zone is already locked; nothing done\n",
                ct->name);
        rc = ATECC_E_LOCKED;
    } else {
        rc = atecc_provision(dev);
        if (rc == ATECC_OK)
            printf("token %s: provisioned (config and data zones locked, keys in slots 0-4)\n",
                   ct->name);
        else
            fprintf(stderr, "seccki-tool: token %s: provisioning failed: %s\n", ct->name,
                    atecc_strerror(rc));
    }
    atecc_close(dev);
    chip_close(&c);
    return rc == ATECC_OK ? 0 : 1;
}

/* ---- list, through the PKCS#11 interface the clients use ---- */

const char *tool_ckr_name(CK_RV rv)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
        {CKR_OK, "CKR_OK"},
        {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
        {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
        {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY"},
        {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED"},
        {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
        {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
        {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
        {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"},
        {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
        {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
        {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
        {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
        {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
        {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].rv == rv)
            return names[i].name;
    return "error";
}

const char *tool_class_name(CK_OBJECT_CLASS cls)
{
    switch (cls) {
    case CKO_PRIVATE_KEY: return "private";
    case CKO_PUBLIC_KEY: return "public";
    case CKO_CERTIFICATE: return "cert";
    case CKO_SECRET_KEY: return "secret-key";
    case CKO_DATA: return "data";
    default: return "other";
    }
}

void tool_print_object(CK_SESSION_HANDLE sh, CK_OBJECT_HANDLE oh, const CK_TOKEN_INFO *ti)
{
    CK_OBJECT_CLASS cls = 0;
    char label[129] = "";
    uint8_t id[64];
    CK_ATTRIBUTE attrs[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_LABEL, label, sizeof label - 1},
        {CKA_ID, id, sizeof id},
    };
    P11KitUri *uri = p11_kit_uri_new();
    char *text = NULL;

    if (C_GetAttributeValue(sh, oh, attrs, 3) != CKR_OK || uri == NULL) {
        p11_kit_uri_free(uri);
        return;
    }
    label[attrs[1].ulValueLen] = '\0';
    memcpy(p11_kit_uri_get_token_info(uri), ti, sizeof *ti);
    p11_kit_uri_set_attribute(uri, &attrs[0]);
    p11_kit_uri_set_attribute(uri, &attrs[1]);
    p11_kit_uri_set_attribute(uri, &attrs[2]);
    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &text) == P11_KIT_URI_OK) {
        printf("  %-8s %-24s %s\n", tool_class_name(cls), label, text);
        free(text);
    }
    p11_kit_uri_free(uri);
}

/* The label and ID a certificate shows when they are not its key pair's (the
 * user gave them explicitly at import): pairing-aware clients will not pair
 * the two. */
struct named {
    CK_OBJECT_CLASS cls;
    char label[129];
    uint8_t id[64], spki[1024];
    CK_ULONG id_len, spki_len;
};

static void read_named(CK_SESSION_HANDLE sh, CK_OBJECT_HANDLE oh, struct named *o)
{
    CK_ATTRIBUTE a[] = {{CKA_CLASS, &o->cls, sizeof o->cls},
                        {CKA_LABEL, o->label, sizeof o->label - 1},
                        {CKA_ID, o->id, sizeof o->id},
                        {CKA_PUBLIC_KEY_INFO, o->spki, sizeof o->spki}};

    memset(o, 0, sizeof *o);
    C_GetAttributeValue(sh, oh, a, 4);
    o->label[a[1].ulValueLen < sizeof o->label ? a[1].ulValueLen : 0] = '\0';
    o->id_len = a[2].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[2].ulValueLen;
    o->spki_len = a[3].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[3].ulValueLen;
}

static void flag_mismatch(const struct named *all, CK_ULONG n, CK_ULONG cert)
{
    const struct named *c = &all[cert];

    for (CK_ULONG i = 0; i < n; i++) {
        const struct named *k = &all[i];
        if (k->cls != CKO_PRIVATE_KEY || k->spki_len == 0 || k->spki_len != c->spki_len ||
            memcmp(k->spki, c->spki, c->spki_len) != 0)
            continue;
        if (strcmp(k->label, c->label) != 0 || k->id_len != c->id_len ||
            memcmp(k->id, c->id, c->id_len) != 0)
            printf("  ! certificate '%s' holds the public key of key '%s' but not its label and "
                   "ID: clients that pair by label/ID will not pair them (seccki-tool relabel)\n",
                   c->label, k->label);
    }
}

static int list_slot(CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE sh;
    CK_OBJECT_HANDLE objs[64];
    CK_ULONG n = 0;

    if (C_GetTokenInfo(slot, &ti) != CKR_OK ||
        C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &sh) != CKR_OK)
        return 1;
    int ll = 32;
    while (ll > 0 && ti.label[ll - 1] == ' ')
        ll--;
    printf("slot %lu: token \"%.*s\"\n", (unsigned long)slot, ll, (const char *)ti.label);
    if (ti.flags & CKF_LOGIN_REQUIRED) {
        const char *pin = getenv("SECCKI_PIN");
        if (pin == NULL || C_Login(sh, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK)
            printf("  (private keys hidden: set SECCKI_PIN to list them)\n");
    }
    if (C_FindObjectsInit(sh, NULL, 0) == CKR_OK) {
        C_FindObjects(sh, objs, sizeof objs / sizeof objs[0], &n);
        C_FindObjectsFinal(sh);
    }
    struct named *all = calloc(n ? n : 1, sizeof *all);
    for (CK_ULONG i = 0; i < n; i++) {
        tool_print_object(sh, objs[i], &ti);
        if (all != NULL)
            read_named(sh, objs[i], &all[i]);
    }
    for (CK_ULONG i = 0; all != NULL && i < n; i++)
        if (all[i].cls == CKO_CERTIFICATE)
            flag_mismatch(all, n, i);
    free(all);
    if (n == 0)
        printf("  (no objects)\n");
    C_CloseSession(sh);
    return 0;
}

static int cmd_list(const struct conf *conf, const char *only)
{
    CK_SLOT_ID slots[CONF_MAX_TOKENS];
    CK_ULONG n = CONF_MAX_TOKENS;
    int ret = 0;

    if (C_Initialize(NULL) != CKR_OK || C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) {
        fprintf(stderr, "seccki-tool: the module did not start\n");
        return 1;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (only != NULL && (slots[i] >= conf->ntokens ||
                             strcmp(conf->tokens[slots[i]].name, only) != 0))
            continue;
        ret |= list_slot(slots[i]);
    }
    C_Finalize(NULL);
    return ret;
}

static int parse_flow_opts(int argc, char **argv, int i, struct flow_opts *o)
{
    static const struct {
        const char *flag;
        size_t off;
    } with_arg[] = {
        {"--label", offsetof(struct flow_opts, label)},
        {"--id", offsetof(struct flow_opts, id_hex)},
        {"--new-label", offsetof(struct flow_opts, new_label)},
        {"--new-id", offsetof(struct flow_opts, new_id_hex)},
        {"--type", offsetof(struct flow_opts, type)},
        {"--subject", offsetof(struct flow_opts, subject)},
        {"-o", offsetof(struct flow_opts, out)},
        {"--out", offsetof(struct flow_opts, out)},
        {"--pin", offsetof(struct flow_opts, pin)},
    };

    for (; i < argc; i++) {
        bool known = false;
        if (strcmp(argv[i], "--der") == 0) {
            o->der = known = true;
        } else if (strcmp(argv[i], "--unpaired") == 0) {
            o->unpaired = known = true;
        } else if (argv[i][0] != '-') {
            o->file = argv[i];
            known = true;
        }
        for (size_t k = 0; !known && k < sizeof with_arg / sizeof with_arg[0]; k++) {
            if (strcmp(argv[i], with_arg[k].flag) != 0)
                continue;
            if (i + 1 >= argc) {
                fprintf(stderr, "seccki-tool: %s needs a value\n", argv[i]);
                return -1;
            }
            *(const char **)((char *)o + with_arg[k].off) = argv[++i];
            known = true;
        }
        if (!known) {
            fprintf(stderr, "seccki-tool: unknown option '%s'\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

static const struct conf_token *find_token(const struct conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->ntokens; i++)
        if (strcmp(conf->tokens[i].name, name) == 0)
            return &conf->tokens[i];
    fprintf(stderr, "seccki-tool: no token named '%s' in %s\n", name, conf->path);
    return NULL;
}

int main(int argc, char **argv)
{
    static struct conf conf;
    const char *path = NULL;
    int i = 1, ret = 0;

    if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
        path = argv[i + 1];
        setenv("SECCKI_CONF", path, 1); /* the module reads the same file for `list` */
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? EXIT_USAGE : 0;
    }
    if (path == NULL)
        path = conf_default_path();
    if (conf_load(path, &conf) != 0) {
        fprintf(stderr, "seccki-tool: cannot read %s\n", path);
        return 1;
    }
    const char *cmd = argv[i++];
    const char *name = i < argc ? argv[i] : NULL;
    const struct conf_token *one = NULL;
    if (name != NULL && (one = find_token(&conf, name)) == NULL)
        return 1;

    if (strcmp(cmd, "list") == 0)
        return cmd_list(&conf, name);
    if (one != NULL) {
        struct flow_opts fo = {0};
        if (parse_flow_opts(argc, argv, i + 1, &fo) != 0)
            return EXIT_USAGE;
        int rc = flow_run(cmd, (CK_SLOT_ID)(one - conf.tokens), &fo);
        if (rc >= 0)
            return rc;
    }
    if (strcmp(cmd, "provision") == 0) {
        if (one == NULL) {
            fprintf(stderr, "seccki-tool: provision needs a TOKEN name\n");
            return EXIT_USAGE;
        }
        return cmd_provision(one);
    }
    if (strcmp(cmd, "info") == 0) {
        for (size_t t = 0; t < conf.ntokens; t++)
            if (one == NULL || one == &conf.tokens[t])
                ret |= cmd_info(&conf.tokens[t]);
        return ret;
    }
    fprintf(stderr, "seccki-tool: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
