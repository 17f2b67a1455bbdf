/* The Cryptoki front: the module context and what its files share.
 * module/ knows tokens only through module/token.h; it knows nothing of I2C. */
#ifndef SECCKI_MODULE_INTERNAL_H
#define SECCKI_MODULE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "conf/conf.h"
#include "module/pkcs11_3.h"
#include "module/store.h"
#include "module/token.h"

#define MOD_MAX_SESSIONS 64
#define MOD_PIN_MIN 4
#define MOD_PIN_MAX 64
#define MOD_PIN_TRIES 10
#define MOD_MAX_FIND 512

struct bus;
struct cert_fields;

/* One object the module shows. Token objects are views of chip keys (and, from
 * the store, their labels and IDs); session objects (derived secrets) live here. */
struct object {
    CK_OBJECT_HANDLE handle;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE key_type;
    uint32_t chip_id;           /* the chip's name for the key it views */
    struct tok_key key;         /* chip facts for key objects */
    bool pub_loaded;
    struct tok_pubkey pub;      /* read lazily, then cached */
    CK_SESSION_HANDLE owner;    /* session objects: their session; 0 for token objects */
    bool sensitive, extractable;
    uint8_t *value;             /* session secret keys: the key bytes (wiped on free) */
    size_t value_len;
    char label[STORE_LABEL_MAX + 1];
    uint8_t id[STORE_ID_MAX];
    size_t id_len;
    bool mark;                  /* refresh: still present */
    struct cert_fields *cert;   /* certificates: the parsed DER held in value */
    bool paired;                /* certificates: a key pair on the token has its key */
};

enum login_state { LOGIN_NONE = 0, LOGIN_USER, LOGIN_SO };

/* A slot: one configured chip. A slot whose chip does not answer (or whose
 * config section is broken) has no token. */
struct slot {
    CK_SLOT_ID id;
    struct conf_token conf;
    const struct token_ops *ops;
    struct bus *bus;
    struct tok_dev *dev;         /* NULL: no token */
    struct tok_info info;
    const struct tok_caps *caps;
    struct store store;          /* labels, IDs, PINs: the host store */
    enum login_state login;
    struct object *objs;
    size_t nobjs, capobjs;
    bool objs_loaded;
    bool info_stale;             /* objects changed: free memory may have too */
    /* Public-key handles whose key pair was destroyed with its private key:
     * destroying one of them again is a no-op that succeeds. */
    CK_OBJECT_HANDLE gone[16];
    size_t ngone;
};

enum op_kind { OP_NONE = 0, OP_FIND, OP_SIGN, OP_VERIFY, OP_DIGEST };

struct operation {
    enum op_kind kind;
    CK_MECHANISM_TYPE mech;
    CK_OBJECT_HANDLE key;
    EVP_MD_CTX *md;              /* hash-then-sign mechanisms and digests */
    uint8_t buf[1024];           /* raw-input mechanisms collect data here */
    size_t buf_len;
    bool multipart;              /* C_*Update was used: single-part calls refused */
    bool input_done;             /* C_Sign took its input (a length query came first) */
    CK_OBJECT_HANDLE *found;     /* find results */
    size_t nfound, found_pos;
};

struct session {
    CK_SESSION_HANDLE handle;    /* 0: free entry */
    CK_SLOT_ID slot;
    CK_FLAGS flags;
    struct operation find, sign, verify, digest;
};

struct mutex_ops {
    CK_CREATEMUTEX create;
    CK_DESTROYMUTEX destroy;
    CK_LOCKMUTEX lock;
    CK_UNLOCKMUTEX unlock;
};

/* The module context: the one piece of global state of the library. */
struct module {
    bool initialized;
    pid_t pid;                   /* a forked child must initialise anew */
    bool app_mutexes;            /* the application's mutex callbacks are in use */
    struct mutex_ops mops;
    void *app_lock;              /* mod_lock when the application's callbacks are used */
    struct conf conf;
    struct slot *slots;
    size_t nslots;
    struct session sessions[MOD_MAX_SESSIONS];
    CK_SESSION_HANDLE next_session;
    CK_OBJECT_HANDLE next_object;
    CK_INTERFACE ifaces[2];      /* handed out by C_GetInterface; callers may write them */
};

/* general.c */
struct module *mod_get(void);
CK_RV mod_lock(struct module *m);
void mod_unlock(struct module *m);
/* The interface record C_GetInterface hands out, reset from its template:
 * some callers (pkcs11-spy) write their own function list into it. */
CK_INTERFACE *mod_interface(const CK_INTERFACE *tmpl, size_t i);
/* CKR_OK when the library is initialised in this process. */
CK_RV mod_check(struct module *m);
/* The answer to a bad argument: CKR_CRYPTOKI_NOT_INITIALIZED comes first, as
 * the standard orders them. */
CK_RV args_bad(void);

/* slot.c */
struct slot *slot_get(struct module *m, CK_SLOT_ID id);
/* Opens the chip of a slot if it is not open yet; false when it has no token. */
bool slot_probe(struct module *m, struct slot *s);
void slot_close(struct slot *s);
CK_RV slot_mechanisms(const struct slot *s, CK_MECHANISM_TYPE *list, CK_ULONG *n);
CK_RV slot_mechanism_info(const struct slot *s, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);
bool slot_has_mechanism(const struct slot *s, CK_MECHANISM_TYPE type);
/* True when private objects are hidden and keys unusable without C_Login. */
bool slot_login_required(const struct slot *s);
bool slot_user_ok(const struct slot *s);
const char *slot_token_label(const struct slot *s);

/* session.c: entering a call on a session checks that the library is
 * initialised, takes mod_lock and finds the session and its slot. On CKR_OK the
 * lock is held until session_leave. */
CK_RV session_enter(CK_SESSION_HANDLE h, struct module **m, struct session **sess,
                    struct slot **slot);
CK_RV session_enter_op(CK_SESSION_HANDLE h, struct module **m, struct session **sess,
                       struct slot **slot);
void session_leave(struct module *m);
/* Same for calls on a slot ID (the token must be present). */
CK_RV slot_enter(CK_SLOT_ID id, struct module **m, struct slot **slot);

struct session *session_get(struct module *m, CK_SESSION_HANDLE h);
void session_free_ops(struct session *s);
size_t session_count(const struct module *m, CK_SLOT_ID slot, bool rw_only);
void session_close_all(struct module *m, CK_SLOT_ID slot);

/* object.c */
CK_RV obj_refresh(struct slot *s);
struct object *obj_get(struct slot *s, CK_OBJECT_HANDLE h);
/* Looks a handle up as the session may see it: CKR_OBJECT_HANDLE_INVALID or
 * (for keys) CKR_KEY_HANDLE_INVALID when absent or hidden. */
CK_RV obj_lookup(struct module *m, struct session *sess, CK_OBJECT_HANDLE h, bool key,
                 struct slot **slot_out, struct object **out);
bool obj_visible(const struct slot *s, const struct session *sess, const struct object *o);
CK_RV obj_pubkey(struct slot *s, struct object *o, const struct tok_pubkey **out);
struct object *obj_add(struct slot *s);
void obj_remove(struct slot *s, struct object *o);
void obj_remove_session(struct slot *s, CK_SESSION_HANDLE owner);
void obj_free_all(struct slot *s);
/* Value of one attribute into buf (cap bytes): CKR_OK with *len,
 * CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_SENSITIVE, or CKR_BUFFER_TOO_SMALL
 * with the needed *len. */
CK_RV obj_attr(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf,
               size_t cap, size_t *len);
void obj_default_label(const struct slot *s, uint32_t chip_id, char *label, size_t cap);
/* The label and ID the config gives a chip object (`object =` lines), if any. */
const struct conf_object *conf_object_of(const struct slot *s, uint32_t chip_id);
/* A fixed key position holds a key the module shows: recorded or mapped. */
bool obj_slot_in_use(struct slot *s, uint32_t chip_id);
size_t obj_default_id(const struct slot *s, uint32_t chip_id, uint8_t *id, size_t cap);

/* Lists the chip's keys into a malloc'ed array (*keys, *n), however many. */
int obj_list_keys(struct slot *s, struct tok_key **keys, size_t *n);

/* keygen.c: template values and where new keys go. The helpers answer
 * CKR_ATTRIBUTE_VALUE_INVALID for a malformed value. */
CK_RV tmpl_bool(const CK_ATTRIBUTE *a, bool *out);
CK_RV tmpl_ulong(const CK_ATTRIBUTE *a, CK_ULONG *out);
CK_RV tmpl_label(const CK_ATTRIBUTE *a, char label[STORE_LABEL_MAX + 1]);
CK_RV tmpl_id(const CK_ATTRIBUTE *a, uint8_t id[STORE_ID_MAX], size_t *len);

/* What a new key needs from its position. */
struct key_place {
    enum tok_key_type type;
    enum tok_curve curve;
    bool sign, derive;
    bool imported;           /* written from outside rather than generated */
};
/* Chooses the chip id of a new key: a free fixed position, or an unused
 * object id. Under the device lock, with a fresh store that has room. */
CK_RV key_choose_position(struct slot *s, const struct key_place *p, uint32_t *id);
/* Records a new key's label and ID (defaults when absent) in the store. */
CK_RV key_record(struct slot *s, uint32_t id, const char *label, const uint8_t *ckid,
                 size_t ckid_len, bool has_label, bool has_id);
/* True when the module knows the key at chip_id was generated in the chip. */
bool key_born_in_chip(struct slot *s, uint32_t chip_id);

/* certobj.c: certificate objects and pairing */
CK_RV cert_refresh(struct slot *s);
CK_RV cert_attr(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE t, uint8_t *buf, size_t cap,
                size_t *len);
CK_RV cert_create(struct slot *s, struct session *sess, const CK_ATTRIBUTE *t, CK_ULONG n,
                  CK_OBJECT_HANDLE *out);
CK_RV cert_relabel(struct slot *s, struct object *o, const char *label, const uint8_t *id,
                   size_t id_len);
CK_RV cert_destroy(struct slot *s, struct object *o);

/* dataobj.c: CKO_DATA objects on chips with room for binary objects */
bool data_supported(const struct slot *s);
CK_RV data_refresh(struct slot *s);
bool data_private(const struct slot *s, const struct object *o);
CK_RV data_attr(struct slot *s, struct object *o, CK_ATTRIBUTE_TYPE t, uint8_t *buf, size_t cap,
                size_t *len);
CK_RV data_create(struct slot *s, struct session *sess, const CK_ATTRIBUTE *t, CK_ULONG n,
                  CK_OBJECT_HANDLE *out);
CK_RV data_destroy(struct slot *s, struct object *o);
CK_RV data_relabel(struct slot *s, struct object *o, const char *label);

/* attrs.c: DER pieces of EC keys (via OpenSSL) */
const uint8_t *attr_curve_oid(enum tok_curve curve, size_t *len);
enum tok_curve attr_curve_from_params(const uint8_t *der, size_t len);
size_t attr_curve_bytes(enum tok_curve curve);
/* 04||X||Y -> OCTET STRING; 0 when it does not fit. */
size_t attr_ec_point_der(const uint8_t *point, size_t plen, uint8_t *out, size_t cap);
/* Accepts a DER OCTET STRING wrapping 04||X||Y, or the raw point. */
bool attr_ec_point_parse(const uint8_t *in, size_t len, size_t field_bytes, const uint8_t **pt,
                         size_t *ptlen);
EVP_PKEY *attr_pkey_from_pub(const struct tok_pubkey *pub);
size_t attr_spki(const struct tok_pubkey *pub, uint8_t *out, size_t cap);

/* pin.c, session.c */
CK_RV pin_check_length(CK_ULONG len);
CK_RV pin_verify(struct slot *sl, struct store_pin *p, const CK_UTF8CHAR *pin, CK_ULONG len);
/* sign.c: one more part into the session's operation of that kind. */
CK_RV op_part(CK_SESSION_HANDLE h, enum op_kind kind, const uint8_t *part, CK_ULONG len);
/* Ends an operation, freeing and wiping what it held. */
void op_end(struct operation *op);

/* errors.c: one table from driver errors to return codes. */
enum tok_ctx { TCTX_OTHER = 0, TCTX_SIGN, TCTX_KEYGEN, TCTX_DESTROY, TCTX_DERIVE };
CK_RV ckr_from_tok(int err, enum tok_ctx ctx);

/* Copies src into a blank-padded fixed field (PKCS#11 info strings). */
void pad_copy(CK_UTF8CHAR *dst, size_t dstlen, const char *src);

#endif
