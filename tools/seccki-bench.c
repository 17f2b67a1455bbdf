/* seccki-bench: signing speed, cold start and memory of a PKCS#11 module,
 * measured the same way for libseccki.so and any other module (SoftHSMv2), so
 * tools/bench.sh can print them side by side. One measurement per run; each
 * prints KEY=VALUE lines on stdout for the script to read.
 *
 *   seccki-bench setup   -m MODULE -t TOKEN -s SOPIN -p PIN -g ec:ID|rsa:ID ...
 *   seccki-bench hot     -m MODULE -t TOKEN -p PIN -k ID -M MECH [-S SECONDS]
 *                        [--state FILE --chip KIND]
 *   seccki-bench cold    -m MODULE -t TOKEN -p PIN -k ID -M MECH
 *   seccki-bench coldrun -m MODULE -t TOKEN -p PIN -k ID -M MECH [-n RUNS]
 *   seccki-bench mem     -m MODULE -t TOKEN -p PIN -k ID -M MECH [-c N1] [-n N2]
 *
 * MECH: ecdsa (CKM_ECDSA over a SHA-256 digest), rsa-pkcs (CKM_SHA256_RSA_PKCS),
 * rsa-pss (CKM_RSA_PKCS_PSS over a SHA-256 digest, MGF1-SHA256, 32-byte salt).
 * ID is the key's CKA_ID in hex.
 *
 * hot signs for a warm-up, checks that signature with OpenSSL against the
 * public key object, then signs for a fixed wall-clock window. With --state
 * it also reads the emulator's persisted traffic counters around the first
 * signature and around the window (the chip's own count, not the driver's).
 * cold times dlopen to the first completed signature in the calling process;
 * coldrun starts cold in a fresh process RUNS times and prints the median.
 * mem prints the resident set and the heap in use after N1 and after N2
 * signatures, and finalizes and unloads the module so a leak checker sees
 * what it left behind. */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <p11-kit/pkcs11.h>

#include "hal/sim/sim.h"

#define EXIT_USAGE 2
#define MAX_GENS 4
#define MAX_ID 32
#define MAX_SIG 1024
#define MAX_COLD_RUNS 101

enum mode { MODE_SETUP, MODE_HOT, MODE_COLD, MODE_COLDRUN, MODE_MEM };

struct mech {
    const char *name;
    CK_MECHANISM_TYPE type;
    CK_KEY_TYPE key_type;
    bool pss;
};

static const struct mech mechs[] = {
    {"ecdsa", CKM_ECDSA, CKK_EC, false},
    {"rsa-pkcs", CKM_SHA256_RSA_PKCS, CKK_RSA, false},
    {"rsa-pss", CKM_RSA_PKCS_PSS, CKK_RSA, true},
};

struct gen {
    CK_KEY_TYPE type;
    uint8_t id[MAX_ID];
    size_t id_len;
};

struct opts {
    enum mode mode;
    const char *module;
    const char *token;
    const char *pin;
    const char *so_pin;
    uint8_t id[MAX_ID];
    size_t id_len;
    const struct mech *mech;
    double seconds;
    double warmup;
    unsigned long count1;
    unsigned long count2;
    unsigned runs;
    const char *state;
    const char *chip;
    struct gen gens[MAX_GENS];
    size_t ngens;
    char **argv; /* for coldrun, to start itself again */
};

struct p11 {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    bool initialized;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE sess;
    bool has_sess;
};

/* What one signature needs: the mechanism with its parameters and the input. */
struct signer {
    CK_OBJECT_HANDLE key;
    CK_MECHANISM m;
    CK_RSA_PKCS_PSS_PARAMS pss;
    uint8_t data[32];
    uint8_t sig[MAX_SIG];
    CK_ULONG sig_len;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool fail_rv(const char *what, CK_RV rv)
{
    fprintf(stderr, "seccki-bench: %s failed: CKR 0x%08lx\n", what, (unsigned long)rv);
    return false;
}

static bool p11_load(struct p11 *p, const char *path)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_RV rv;

    memset(p, 0, sizeof *p);
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        fprintf(stderr, "seccki-bench: cannot load %s: %s\n", path, dlerror());
        return false;
    }
    *(void **)&get_list = dlsym(p->dl, "C_GetFunctionList");
    if (get_list == NULL) {
        fprintf(stderr, "seccki-bench: %s has no C_GetFunctionList\n", path);
        return false;
    }
    rv = get_list(&p->f);
    if (rv != CKR_OK)
        return fail_rv("C_GetFunctionList", rv);
    return true;
}

static void p11_unload(struct p11 *p)
{
    if (p->has_sess) {
        p->f->C_Logout(p->sess);
        p->f->C_CloseSession(p->sess);
    }
    if (p->initialized)
        p->f->C_Finalize(NULL);
    if (p->dl != NULL)
        dlclose(p->dl);
    memset(p, 0, sizeof *p);
}

static void pad_label(const char *label, CK_UTF8CHAR out[32])
{
    size_t n = strlen(label);

    memset(out, ' ', 32);
    memcpy(out, label, n > 32 ? 32 : n);
}

static bool find_slot(struct p11 *p, const char *label, CK_TOKEN_INFO *info)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_UTF8CHAR want[32];
    CK_RV rv;

    rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        return fail_rv("C_GetSlotList", rv);
    pad_label(label, want);
    for (CK_ULONG i = 0; i < n; i++) {
        if (p->f->C_GetTokenInfo(slots[i], info) != CKR_OK)
            continue;
        if (memcmp(info->label, want, 32) == 0) {
            p->slot = slots[i];
            return true;
        }
    }
    fprintf(stderr, "seccki-bench: no token labelled '%s'\n", label);
    return false;
}

static bool p11_init(struct p11 *p)
{
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv;

    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    rv = p->f->C_Initialize(&args);
    if (rv != CKR_OK)
        return fail_rv("C_Initialize", rv);
    p->initialized = true;
    return true;
}

static bool p11_session(struct p11 *p)
{
    CK_RV rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                   &p->sess);

    if (rv != CKR_OK)
        return fail_rv("C_OpenSession", rv);
    p->has_sess = true;
    return true;
}

/* Initialize, find the token by label and open a read-write session. */
static bool p11_open(struct p11 *p, const char *label, CK_TOKEN_INFO *info)
{
    return p11_init(p) && find_slot(p, label, info) && p11_session(p);
}

static bool p11_login(struct p11 *p, const char *pin)
{
    CK_RV rv = p->f->C_Login(p->sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));

    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        return fail_rv("C_Login", rv);
    return true;
}

static bool find_object(struct p11 *p, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len,
                        CK_OBJECT_HANDLE *out, bool *found)
{
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_ID, (void *)id, id_len},
    };
    CK_ULONG n = 0;
    CK_RV rv;

    *found = false;
    rv = p->f->C_FindObjectsInit(p->sess, t, 2);
    if (rv != CKR_OK)
        return fail_rv("C_FindObjectsInit", rv);
    rv = p->f->C_FindObjects(p->sess, out, 1, &n);
    p->f->C_FindObjectsFinal(p->sess);
    if (rv != CKR_OK)
        return fail_rv("C_FindObjects", rv);
    *found = n == 1;
    return true;
}

static bool find_key(struct p11 *p, CK_OBJECT_CLASS cls, const struct opts *o,
                     CK_OBJECT_HANDLE *out)
{
    bool found;

    if (!find_object(p, cls, o->id, o->id_len, out, &found))
        return false;
    if (!found) {
        fprintf(stderr, "seccki-bench: token '%s' has no %s key with that id\n", o->token,
                cls == CKO_PRIVATE_KEY ? "private" : "public");
        return false;
    }
    return true;
}

static void signer_init(struct signer *s, const struct mech *mech, CK_OBJECT_HANDLE key)
{
    memset(s, 0, sizeof *s);
    s->key = key;
    s->m.mechanism = mech->type;
    if (mech->pss) {
        s->pss.hashAlg = CKM_SHA256;
        s->pss.mgf = CKG_MGF1_SHA256;
        s->pss.sLen = 32;
        s->m.pParameter = &s->pss;
        s->m.ulParameterLen = sizeof s->pss;
    }
    /* Any fixed 32 bytes: a digest for ecdsa and rsa-pss, a message for rsa-pkcs. */
    for (size_t i = 0; i < sizeof s->data; i++)
        s->data[i] = (uint8_t)(0xA5 ^ (i * 7));
}

static bool sign_once(struct p11 *p, struct signer *s)
{
    CK_RV rv = p->f->C_SignInit(p->sess, &s->m, s->key);

    if (rv != CKR_OK)
        return fail_rv("C_SignInit", rv);
    s->sig_len = sizeof s->sig;
    rv = p->f->C_Sign(p->sess, s->data, sizeof s->data, s->sig, &s->sig_len);
    if (rv != CKR_OK)
        return fail_rv("C_Sign", rv);
    return true;
}

/* ---- checking a signature with OpenSSL against the token's public key ---- */

static bool get_attr(struct p11 *p, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, uint8_t *buf,
                     size_t cap, size_t *len)
{
    CK_ATTRIBUTE a = {type, buf, cap};
    CK_RV rv = p->f->C_GetAttributeValue(p->sess, h, &a, 1);

    if (rv != CKR_OK)
        return fail_rv("C_GetAttributeValue", rv);
    *len = a.ulValueLen;
    return true;
}

/* CKA_EC_POINT is a DER OCTET STRING around the uncompressed point. */
static EVP_PKEY *ec_pub(const uint8_t *der, size_t len)
{
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pk = NULL;
    size_t off = 2;

    if (len < 2 || der[0] != 0x04)
        return NULL;
    if (der[1] == 0x81)
        off = 3;
    if (len <= off || der[off - 1] != len - off)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)(der + off),
                                                  len - off);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static EVP_PKEY *rsa_pub(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;

    if (bld == NULL || bn == NULL || be == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pk;
}

/* Raw r||s to the DER form OpenSSL verifies. */
static int ecdsa_der(const uint8_t *rs, size_t len, uint8_t **der)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL), *s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
    int n = -1;

    if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL;
        *der = NULL;
        n = i2d_ECDSA_SIG(es, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return n;
}

static bool check_sig(struct p11 *p, const struct opts *o, const struct signer *s)
{
    uint8_t a1[600], a2[16];
    size_t l1 = 0, l2 = 0;
    CK_OBJECT_HANDLE pub;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *der = NULL;
    const uint8_t *sig = s->sig;
    size_t sig_len = s->sig_len;
    uint8_t digest[32];
    unsigned dlen = 0;
    bool ok = false;

    if (!find_key(p, CKO_PUBLIC_KEY, o, &pub))
        return false;
    if (o->mech->key_type == CKK_EC) {
        if (!get_attr(p, pub, CKA_EC_POINT, a1, sizeof a1, &l1))
            return false;
        pk = ec_pub(a1, l1);
        int n = ecdsa_der(s->sig, s->sig_len, &der);
        if (n <= 0)
            goto out;
        sig = der;
        sig_len = (size_t)n;
    } else {
        if (!get_attr(p, pub, CKA_MODULUS, a1, sizeof a1, &l1) ||
            !get_attr(p, pub, CKA_PUBLIC_EXPONENT, a2, sizeof a2, &l2))
            return false;
        pk = rsa_pub(a1, l1, a2, l2);
    }
    if (pk == NULL)
        goto out;
    /* ecdsa and rsa-pss sign the 32 bytes as a digest; rsa-pkcs hashes them. */
    if (o->mech->type == CKM_SHA256_RSA_PKCS) {
        if (EVP_Digest(s->data, sizeof s->data, digest, &dlen, EVP_sha256(), NULL) != 1)
            goto out;
    } else {
        memcpy(digest, s->data, sizeof digest);
        dlen = sizeof digest;
    }
    ctx = EVP_PKEY_CTX_new(pk, NULL);
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0)
        goto out;
    if (o->mech->key_type == CKK_RSA &&
        (EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
         EVP_PKEY_CTX_set_rsa_padding(ctx, o->mech->pss ? RSA_PKCS1_PSS_PADDING
                                                        : RSA_PKCS1_PADDING) <= 0 ||
         (o->mech->pss && (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) <= 0 ||
                           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0))))
        goto out;
    ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, dlen) == 1;
out:
    if (!ok)
        fprintf(stderr, "seccki-bench: the %s signature does not verify with OpenSSL\n",
                o->mech->name);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    OPENSSL_free(der);
    return ok;
}

/* ---- modes ---- */

static bool gen_key(struct p11 *p, const struct gen *g)
{
    static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const uint8_t f4[] = {0x01, 0x00, 0x01};
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = 2048;
    char label[2 * MAX_ID + 8];
    CK_OBJECT_HANDLE pub, priv, h;
    bool found;
    CK_MECHANISM m = {g->type == CKK_EC ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_RV rv;

    if (!find_object(p, CKO_PRIVATE_KEY, g->id, g->id_len, &h, &found))
        return false;
    if (found)
        return true;
    snprintf(label, sizeof label, "bench-%s", g->type == CKK_EC ? "ec" : "rsa");
    CK_ATTRIBUTE pub_ec[] = {
        {CKA_TOKEN, &yes, sizeof yes},          {CKA_VERIFY, &yes, sizeof yes},
        {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
        {CKA_LABEL, label, strlen(label)},      {CKA_ID, (void *)g->id, g->id_len},
    };
    CK_ATTRIBUTE pub_rsa[] = {
        {CKA_TOKEN, &yes, sizeof yes},          {CKA_VERIFY, &yes, sizeof yes},
        {CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof f4},
        {CKA_LABEL, label, strlen(label)},      {CKA_ID, (void *)g->id, g->id_len},
    };
    CK_ATTRIBUTE priv_t[] = {
        {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_SIGN, &yes, sizeof yes},
        {CKA_LABEL, label, strlen(label)}, {CKA_ID, (void *)g->id, g->id_len},
    };
    if (g->type == CKK_EC)
        rv = p->f->C_GenerateKeyPair(p->sess, &m, pub_ec, 5, priv_t, 6, &pub, &priv);
    else
        rv = p->f->C_GenerateKeyPair(p->sess, &m, pub_rsa, 6, priv_t, 6, &pub, &priv);
    if (rv != CKR_OK)
        return fail_rv("C_GenerateKeyPair", rv);
    return true;
}

/* Initializes the token and the user PIN when they are not yet, then
 * generates each requested key pair that is not there yet. */
static bool run_setup(const struct opts *o)
{
    struct p11 p;
    CK_TOKEN_INFO info;
    CK_UTF8CHAR label[32];
    CK_RV rv;
    bool ok = false;

    if (!p11_load(&p, o->module))
        goto out;
    memset(&info, 0, sizeof info);
    if (!p11_open(&p, o->token, &info))
        goto out;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) {
        p.f->C_CloseSession(p.sess);
        p.has_sess = false;
        pad_label(o->token, label);
        rv = p.f->C_InitToken(p.slot, (CK_UTF8CHAR_PTR)o->so_pin, strlen(o->so_pin), label);
        if (rv != CKR_OK) {
            fail_rv("C_InitToken", rv);
            goto out;
        }
        rv = p.f->C_OpenSession(p.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p.sess);
        if (rv != CKR_OK) {
            fail_rv("C_OpenSession", rv);
            goto out;
        }
        p.has_sess = true;
        if ((rv = p.f->C_GetTokenInfo(p.slot, &info)) != CKR_OK) {
            fail_rv("C_GetTokenInfo", rv);
            goto out;
        }
    }
    if (!(info.flags & CKF_USER_PIN_INITIALIZED)) {
        rv = p.f->C_Login(p.sess, CKU_SO, (CK_UTF8CHAR_PTR)o->so_pin, strlen(o->so_pin));
        if (rv == CKR_OK)
            rv = p.f->C_InitPIN(p.sess, (CK_UTF8CHAR_PTR)o->pin, strlen(o->pin));
        if (rv != CKR_OK) {
            fail_rv("SO login and C_InitPIN", rv);
            goto out;
        }
        p.f->C_Logout(p.sess);
    }
    if (!p11_login(&p, o->pin))
        goto out;
    for (size_t i = 0; i < o->ngens; i++) {
        double t0 = now_s();
        if (!gen_key(&p, &o->gens[i]))
            goto out;
        printf("keygen_%s_s=%.3f\n", o->gens[i].type == CKK_EC ? "ec" : "rsa", now_s() - t0);
    }
    ok = true;
out:
    p11_unload(&p);
    return ok;
}

static bool open_signer(struct p11 *p, const struct opts *o, struct signer *s)
{
    CK_TOKEN_INFO info;
    CK_OBJECT_HANDLE key;

    if (!p11_load(p, o->module) || !p11_open(p, o->token, &info) || !p11_login(p, o->pin) ||
        !find_key(p, CKO_PRIVATE_KEY, o, &key))
        return false;
    signer_init(s, o->mech, key);
    return true;
}

static bool counters(struct sim *sim, struct sim_counters *c)
{
    if (sim == NULL)
        return true;
    if (sim_get_counters(sim, c) != SIM_OK) {
        fprintf(stderr, "seccki-bench: emulator counters: %s\n", sim_last_error(sim));
        return false;
    }
    return true;
}

static void print_traffic(const char *prefix, const struct sim_counters *a,
                          const struct sim_counters *b, unsigned long n)
{
    double d = (double)n;

    printf("%scmds=%.2f\n", prefix, (double)(b->commands - a->commands) / d);
    printf("%stx=%.2f\n", prefix, (double)(b->transactions - a->transactions) / d);
    printf("%sto_chip=%.1f\n", prefix, (double)(b->bytes_to_chip - a->bytes_to_chip) / d);
    printf("%sfrom_chip=%.1f\n", prefix, (double)(b->bytes_from_chip - a->bytes_from_chip) / d);
    printf("%snacks=%.2f\n", prefix, (double)(b->nacks - a->nacks) / d);
}

static bool run_hot(const struct opts *o)
{
    struct p11 p;
    struct signer s;
    struct sim *sim = NULL;
    struct sim_counters c0, c1, c2, c3;
    char err[256] = "";
    unsigned long n = 0;
    double t0, t1, end;
    bool ok = false;

    memset(&p, 0, sizeof p);
    if (o->state != NULL &&
        sim_open(o->state, o->chip, NULL, &sim, err, sizeof err) != SIM_OK) {
        fprintf(stderr, "seccki-bench: %s: %s\n", o->state, err);
        return false;
    }
    if (!open_signer(&p, o, &s))
        goto out;
    /* The first signature may set things up (config read, key cached). */
    if (!counters(sim, &c0) || !sign_once(&p, &s) || !counters(sim, &c1))
        goto out;
    if (!check_sig(&p, o, &s))
        goto out;
    end = now_s() + o->warmup;
    while (now_s() < end)
        if (!sign_once(&p, &s))
            goto out;
    if (!check_sig(&p, o, &s) || !counters(sim, &c2))
        goto out;
    t0 = now_s();
    end = t0 + o->seconds;
    do {
        if (!sign_once(&p, &s))
            goto out;
        n++;
        t1 = now_s();
    } while (t1 < end);
    if (!counters(sim, &c3))
        goto out;
    printf("signs=%lu\nseconds=%.3f\nsign_per_s=%.1f\nsig_len=%lu\n", n, t1 - t0,
           (double)n / (t1 - t0), (unsigned long)s.sig_len);
    if (sim != NULL) {
        print_traffic("first_", &c0, &c1, 1);
        print_traffic("per_sign_", &c2, &c3, n);
    }
    ok = true;
out:
    p11_unload(&p);
    sim_close(sim);
    return ok;
}

/* The steps of a cold start, timed one by one so a slow start can be
 * explained: each is the time from the end of the previous one. */
static const char *const cold_phases[] = {"dlopen", "initialize", "slot",  "session",
                                          "login",  "find_key",   "sign"};
#define NPHASES (sizeof cold_phases / sizeof cold_phases[0])

static bool run_cold(const struct opts *o)
{
    struct p11 p;
    struct signer s;
    CK_TOKEN_INFO info;
    CK_OBJECT_HANDLE key;
    double t[NPHASES + 1];
    size_t n = 0;
    bool ok;

    t[n++] = now_s();
    ok = p11_load(&p, o->module);
    t[n++] = now_s();
    ok = ok && p11_init(&p);
    t[n++] = now_s();
    ok = ok && find_slot(&p, o->token, &info);
    t[n++] = now_s();
    ok = ok && p11_session(&p);
    t[n++] = now_s();
    ok = ok && p11_login(&p, o->pin);
    t[n++] = now_s();
    ok = ok && find_key(&p, CKO_PRIVATE_KEY, o, &key);
    t[n++] = now_s();
    if (ok) {
        signer_init(&s, o->mech, key);
        ok = sign_once(&p, &s);
    }
    t[n++] = now_s();
    if (ok) {
        printf("cold_us=%.0f\n", (t[NPHASES] - t[0]) * 1e6);
        for (size_t i = 0; i < NPHASES; i++)
            printf("phase_%s_us=%.0f\n", cold_phases[i], (t[i + 1] - t[i]) * 1e6);
    }
    p11_unload(&p);
    return ok;
}

/* Runs this program in cold mode in a new process and reads its answer:
 * us[0] the total, us[1..] the phases. */
static bool cold_child(const struct opts *o, double us[NPHASES + 1])
{
    int fd[2];
    pid_t pid;
    char buf[1024], key[64];
    size_t len = 0;
    ssize_t r;
    int status;
    const char *v;

    if (pipe(fd) != 0)
        return false;
    pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return false;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        o->argv[1] = (char *)"cold";
        execv("/proc/self/exe", o->argv);
        _exit(127);
    }
    close(fd[1]);
    while (len < sizeof buf - 1 && (r = read(fd[0], buf + len, sizeof buf - 1 - len)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fd[0]);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return false;
    for (size_t i = 0; i <= NPHASES; i++) {
        if (i == 0)
            snprintf(key, sizeof key, "cold_us=");
        else
            snprintf(key, sizeof key, "phase_%s_us=", cold_phases[i - 1]);
        v = strstr(buf, key);
        if (v == NULL)
            return false;
        us[i] = strtod(v + strlen(key), NULL);
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool run_coldrun(const struct opts *o)
{
    double us[NPHASES + 1][MAX_COLD_RUNS];
    double one[NPHASES + 1];

    for (unsigned i = 0; i < o->runs; i++) {
        if (!cold_child(o, one)) {
            fprintf(stderr, "seccki-bench: cold run %u failed\n", i + 1);
            return false;
        }
        for (size_t k = 0; k <= NPHASES; k++)
            us[k][i] = one[k];
    }
    printf("cold_runs=%u\ncold_median_us=%.0f\n", o->runs, median(us[0], o->runs));
    printf("cold_min_us=%.0f\ncold_max_us=%.0f\n", us[0][0], us[0][o->runs - 1]);
    for (size_t k = 1; k <= NPHASES; k++)
        printf("cold_phase_%s_us=%.0f\n", cold_phases[k - 1], median(us[k], o->runs));
    return true;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

static bool run_mem(const struct opts *o)
{
    struct p11 p;
    struct signer s;
    struct mallinfo2 m1, m2;
    long r1, r2;
    unsigned long i;
    double t0 = now_s();
    bool ok = false;

    if (!open_signer(&p, o, &s))
        goto out;
    for (i = 0; i < o->count1; i++)
        if (!sign_once(&p, &s))
            goto out;
    if (!check_sig(&p, o, &s))
        goto out;
    r1 = rss_kb();
    m1 = mallinfo2();
    for (; i < o->count2; i++)
        if (!sign_once(&p, &s))
            goto out;
    if (!check_sig(&p, o, &s))
        goto out;
    r2 = rss_kb();
    m2 = mallinfo2();
    printf("mem_n1=%lu\nmem_n2=%lu\nrss1_kb=%ld\nrss2_kb=%ld\nrss_growth_kb=%ld\n", o->count1,
           o->count2, r1, r2, r2 - r1);
    printf("heap1_b=%zu\nheap2_b=%zu\nheap_growth_b=%lld\nmem_seconds=%.1f\n", m1.uordblks,
           m2.uordblks, (long long)m2.uordblks - (long long)m1.uordblks, now_s() - t0);
    ok = true;
out:
    p11_unload(&p);
    return ok;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seccki-bench MODE -m MODULE -t TOKEN -p PIN [options]\n"
            "modes: setup, hot, cold, coldrun, mem\n"
            "  -m, --module PATH    PKCS#11 module to load\n"
            "  -t, --token LABEL    token label\n"
            "  -p, --pin PIN        user PIN\n"
            "  -s, --so-pin PIN     SO PIN (setup)\n"
            "  -g, --gen ec:ID|rsa:ID  key pair to generate when missing (setup, repeatable)\n"
            "  -k, --key ID         CKA_ID of the key, hex\n"
            "  -M, --mech NAME      ecdsa | rsa-pkcs | rsa-pss\n"
            "  -S, --seconds S      timed window (hot; default 3)\n"
            "  -w, --warmup S       warm-up before it (hot; default 0.5)\n"
            "      --state FILE     emulator state file, for its traffic counters (hot)\n"
            "      --chip KIND      atecc608 | se050 (with --state)\n"
            "  -n, --runs N         processes (coldrun; default 15) or total signatures (mem)\n"
            "  -c, --count N        signatures before the first memory reading (mem)\n");
}

static bool parse_hex(const char *s, uint8_t *out, size_t *len)
{
    size_t n = strlen(s);

    if (n == 0 || n % 2 || n / 2 > MAX_ID)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return true;
}

static bool parse_gen(const char *s, struct gen *g)
{
    if (strncmp(s, "ec:", 3) == 0)
        g->type = CKK_EC;
    else if (strncmp(s, "rsa:", 4) == 0)
        g->type = CKK_RSA;
    else
        return false;
    return parse_hex(strchr(s, ':') + 1, g->id, &g->id_len);
}

static bool parse_mode(const char *s, enum mode *m)
{
    static const char *const names[] = {"setup", "hot", "cold", "coldrun", "mem"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (enum mode)i;
            return true;
        }
    return false;
}

static bool parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"module", required_argument, NULL, 'm'}, {"token", required_argument, NULL, 't'},
        {"pin", required_argument, NULL, 'p'},    {"so-pin", required_argument, NULL, 's'},
        {"gen", required_argument, NULL, 'g'},    {"key", required_argument, NULL, 'k'},
        {"mech", required_argument, NULL, 'M'},   {"seconds", required_argument, NULL, 'S'},
        {"warmup", required_argument, NULL, 'w'}, {"state", required_argument, NULL, 1},
        {"chip", required_argument, NULL, 2},     {"runs", required_argument, NULL, 'n'},
        {"count", required_argument, NULL, 'c'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof *o);
    o->seconds = 3.0;
    o->warmup = 0.5;
    o->runs = 15;
    o->count1 = 1000;
    o->count2 = 100000;
    o->argv = argv;
    if (argc < 2 || !parse_mode(argv[1], &o->mode))
        return false;
    optind = 2;
    while ((c = getopt_long(argc, argv, "m:t:p:s:g:k:M:S:w:n:c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->module = optarg; break;
        case 't': o->token = optarg; break;
        case 'p': o->pin = optarg; break;
        case 's': o->so_pin = optarg; break;
        case 'g':
            if (o->ngens == MAX_GENS || !parse_gen(optarg, &o->gens[o->ngens++]))
                return false;
            break;
        case 'k':
            if (!parse_hex(optarg, o->id, &o->id_len))
                return false;
            break;
        case 'M':
            o->mech = NULL;
            for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
                if (strcmp(optarg, mechs[i].name) == 0)
                    o->mech = &mechs[i];
            if (o->mech == NULL)
                return false;
            break;
        case 'S': o->seconds = strtod(optarg, NULL); break;
        case 'w': o->warmup = strtod(optarg, NULL); break;
        case 1: o->state = optarg; break;
        case 2: o->chip = optarg; break;
        case 'n':
            o->runs = (unsigned)strtoul(optarg, NULL, 10);
            o->count2 = strtoul(optarg, NULL, 10);
            break;
        case 'c': o->count1 = strtoul(optarg, NULL, 10); break;
        default: return false;
        }
    }
    if (optind != argc || o->module == NULL || o->token == NULL || o->pin == NULL)
        return false;
    if (o->mode == MODE_SETUP)
        return o->so_pin != NULL;
    if (o->id_len == 0 || o->mech == NULL || o->seconds <= 0 || o->warmup < 0)
        return false;
    if (o->mode == MODE_COLDRUN && (o->runs == 0 || o->runs > MAX_COLD_RUNS))
        return false;
    if (o->mode == MODE_MEM && (o->count1 == 0 || o->count2 < o->count1))
        return false;
    return o->state == NULL || o->chip != NULL;
}

int main(int argc, char **argv)
{
    struct opts o;
    bool ok = false;

    if (!parse_args(argc, argv, &o)) {
        usage(stderr);
        return EXIT_USAGE;
    }
    switch (o.mode) {
    case MODE_SETUP: ok = run_setup(&o); break;
    case MODE_HOT: ok = run_hot(&o); break;
    case MODE_COLD: ok = run_cold(&o); break;
    case MODE_COLDRUN: ok = run_coldrun(&o); break;
    case MODE_MEM: ok = run_mem(&o); break;
    }
    fflush(stdout);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
