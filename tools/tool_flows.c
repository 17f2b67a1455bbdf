/* seccki-tool commands for the flows of the field, each through the same
 * PKCS#11 interface the clients use: keygen, csr, import-cert, relabel,
 * delete, export-cert, uri. Every command checks its input first and changes
 * nothing on error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tools/tool.h"

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "seccki-tool: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 1;
}

static int ckr_fail(const char *what, CK_RV rv)
{
    fprintf(stderr, "seccki-tool: %s failed: %s (0x%lx)\n", what, tool_ckr_name(rv),
            (unsigned long)rv);
    return 1;
}

static int hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);

    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

struct session {
    CK_SESSION_HANDLE h;
    CK_TOKEN_INFO ti;
};

static int session_open(CK_SLOT_ID slot, const struct flow_opts *o, struct session *s)
{
    CK_RV rv = C_GetTokenInfo(slot, &s->ti);
    const char *pin = o->pin ? o->pin : getenv("SECCKI_PIN");

    if (rv != CKR_OK)
        return ckr_fail("reading the token", rv);
    rv = C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s->h);
    if (rv != CKR_OK)
        return ckr_fail("opening a session", rv);
    if (pin != NULL || (s->ti.flags & CKF_LOGIN_REQUIRED)) {
        if (pin == NULL)
            return fail("%s", "the token needs a PIN: give --pin or set SECCKI_PIN");
        rv = C_Login(s->h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
            return ckr_fail("login", rv);
    }
    return 0;
}

/* Exactly one object of the class with that label (and ID, when given). */
static int find_one(struct session *s, CK_OBJECT_CLASS cls, const struct flow_opts *o,
                    CK_OBJECT_HANDLE *out)
{
    uint8_t id[64];
    size_t id_len = 0;
    CK_ATTRIBUTE q[3] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_ULONG nq = 1, n = 0;
    CK_OBJECT_HANDLE found[2];

    if (o->label == NULL && o->id_hex == NULL)
        return fail("%s", "name the object with --label and/or --id");
    if (o->label != NULL)
        q[nq++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)o->label, strlen(o->label)};
    if (o->id_hex != NULL) {
        if (hex_decode(o->id_hex, id, sizeof id, &id_len) != 0)
            return fail("--id %s: not a hex string", o->id_hex);
        q[nq++] = (CK_ATTRIBUTE){CKA_ID, id, id_len};
    }
    if (C_FindObjectsInit(s->h, q, nq) != CKR_OK)
        return fail("%s", "searching objects failed");
    C_FindObjects(s->h, found, 2, &n);
    C_FindObjectsFinal(s->h);
    if (n == 0) {
        fprintf(stderr, "seccki-tool: no %s object with label '%s'%s%s\n", tool_class_name(cls),
                o->label ? o->label : "", o->id_hex ? " and id " : "", o->id_hex ? o->id_hex : "");
        return 1;
    }
    if (n > 1)
        return fail("several objects match '%s': add --id", o->label ? o->label : "");
    *out = found[0];
    return 0;
}

/* The SubjectPublicKeyInfo of a key on the token, as OpenSSL sees it. */
static EVP_PKEY *token_pubkey(struct session *s, CK_OBJECT_HANDLE key)
{
    uint8_t der[2048];
    CK_ATTRIBUTE a = {CKA_PUBLIC_KEY_INFO, der, sizeof der};
    const unsigned char *p = der;

    if (C_GetAttributeValue(s->h, key, &a, 1) != CKR_OK)
        return NULL;
    return d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
}

static void print_uris(struct session *s, CK_OBJECT_HANDLE h)
{
    CK_BYTE id[64];
    CK_ATTRIBUTE a = {CKA_ID, id, sizeof id};
    CK_OBJECT_HANDLE found[8];
    CK_ULONG n = 0;

    /* every object sharing the ID: the key pair and its certificate */
    if (C_GetAttributeValue(s->h, h, &a, 1) != CKR_OK || C_FindObjectsInit(s->h, &a, 1) != CKR_OK)
        return;
    C_FindObjects(s->h, found, 8, &n);
    C_FindObjectsFinal(s->h);
    for (CK_ULONG i = 0; i < n; i++)
        tool_print_object(s->h, found[i], &s->ti);
}

static int flow_keygen(struct session *s, const struct flow_opts *o)
{
    static const uint8_t p256[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
    static const uint8_t p384[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};
    static const uint8_t p521[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23};
    static const uint8_t f4[] = {0x01, 0x00, 0x01};
    const char *type = o->type ? o->type : "ec";
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = 0;
    uint8_t id[64];
    size_t id_len = 0;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub[6], priv[5];
    CK_ULONG np = 0, nv = 0;
    CK_OBJECT_HANDLE hpub, hpriv;
    CK_RV rv;

    if (o->label == NULL)
        return fail("%s", "keygen needs --label");
    if (o->id_hex != NULL && hex_decode(o->id_hex, id, sizeof id, &id_len) != 0)
        return fail("--id %s: not a hex string", o->id_hex);
    if (strcmp(type, "ec") == 0 || strcmp(type, "ec256") == 0)
        pub[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p256, sizeof p256};
    else if (strcmp(type, "ec384") == 0)
        pub[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p384, sizeof p384};
    else if (strcmp(type, "ec521") == 0)
        pub[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p521, sizeof p521};
    else if (sscanf(type, "rsa%lu", &bits) == 1 && bits >= 1024) {
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        pub[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof bits};
        pub[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, (void *)f4, sizeof f4};
    } else {
        return fail("--type %s: use ec, ec384, ec521, rsa2048, rsa3072 or rsa4096", type);
    }
    pub[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    pub[np++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)o->label, strlen(o->label)};
    priv[nv++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof yes};
    priv[nv++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)o->label, strlen(o->label)};
    if (id_len > 0) {
        pub[np++] = (CK_ATTRIBUTE){CKA_ID, id, id_len};
        priv[nv++] = (CK_ATTRIBUTE){CKA_ID, id, id_len};
    }
    rv = C_GenerateKeyPair(s->h, &mech, pub, np, priv, nv, &hpub, &hpriv);
    if (rv != CKR_OK)
        return ckr_fail("key generation", rv);
    printf("key pair '%s' generated in the chip\n", o->label);
    print_uris(s, hpriv);
    return 0;
}

/* Builds X509_NAME from "/CN=dev1/O=acme". */
static X509_NAME *parse_subject(const char *text)
{
    X509_NAME *name = X509_NAME_new();
    char *copy = strdup(text), *save = NULL;
    int ok = name != NULL && copy != NULL && text[0] == '/';

    for (char *part = ok ? strtok_r(copy + 1, "/", &save) : NULL; ok && part != NULL;
         part = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(part, '=');
        if (eq == NULL || eq == part || eq[1] == '\0') {
            ok = 0;
            break;
        }
        *eq = '\0';
        ok = X509_NAME_add_entry_by_txt(name, part, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1,
                                        0) == 1;
    }
    free(copy);
    if (!ok || X509_NAME_entry_count(name) == 0) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

/* Signs the request's to-be-signed part with the key in the chip. */
static int sign_request(struct session *s, CK_OBJECT_HANDLE key, EVP_PKEY *pub, X509_REQ *req)
{
    unsigned char *tbs = NULL;
    int tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
    uint8_t sig[1024], digest[32];
    CK_ULONG sig_len = sizeof sig;
    unsigned int dlen = 0;
    bool ec = EVP_PKEY_is_a(pub, "EC");
    CK_MECHANISM mech = {ec ? CKM_ECDSA : CKM_SHA256_RSA_PKCS, NULL, 0};
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
    unsigned char *der = NULL;
    int der_len = 0, rc = 1;
    CK_RV rv;

    if (tbs_len <= 0 || alg == NULL || bits == NULL)
        goto out;
    if (ec) {
        EVP_Digest(tbs, (size_t)tbs_len, digest, &dlen, EVP_sha256(), NULL);
        rv = C_SignInit(s->h, &mech, key);
        if (rv == CKR_OK)
            rv = C_Sign(s->h, digest, dlen, sig, &sig_len);
    } else {
        rv = C_SignInit(s->h, &mech, key);
        if (rv == CKR_OK)
            rv = C_Sign(s->h, tbs, (CK_ULONG)tbs_len, sig, &sig_len);
    }
    if (rv != CKR_OK) {
        rc = ckr_fail("signing the request", rv);
        goto out;
    }
    if (ec) {
        /* raw r||s from the token -> DER ECDSA-Sig-Value */
        ECDSA_SIG *es = ECDSA_SIG_new();
        size_t half = sig_len / 2;
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)half, NULL), BN_bin2bn(sig + half, (int)half, NULL));
        der_len = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL);
    } else {
        der = OPENSSL_memdup(sig, sig_len);
        der_len = (int)sig_len;
        X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL);
    }
    if (der == NULL || der_len <= 0 || ASN1_BIT_STRING_set(bits, der, der_len) != 1)
        goto out;
    /* a signature uses every bit of its last byte */
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    if (X509_REQ_set1_signature_algo(req, alg) != 1)
        goto out;
    X509_REQ_set0_signature(req, bits);
    bits = NULL;
    rc = X509_REQ_verify(req, pub) == 1 ? 0 : fail("%s", "the chip's signature does not verify");
out:
    ASN1_BIT_STRING_free(bits);
    X509_ALGOR_free(alg);
    OPENSSL_free(tbs);
    OPENSSL_free(der);
    return rc;
}

static int write_pem_or_der(const char *out, int (*pem)(BIO *, void *), int (*der)(BIO *, void *),
                            void *obj, bool as_der)
{
    BIO *b = out ? BIO_new_file(out, "wb") : BIO_new_fp(stdout, BIO_NOCLOSE);
    int ok;

    if (b == NULL)
        return fail("cannot write %s", out);
    ok = as_der ? der(b, obj) : pem(b, obj);
    BIO_free(b);
    return ok == 1 ? 0 : fail("writing %s failed", out ? out : "the output");
}

static int pem_req(BIO *b, void *r) { return PEM_write_bio_X509_REQ(b, r); }
static int der_req(BIO *b, void *r) { return i2d_X509_REQ_bio(b, r); }
static int pem_cert(BIO *b, void *c) { return PEM_write_bio_X509(b, c); }
static int der_cert(BIO *b, void *c) { return i2d_X509_bio(b, c); }

static int flow_csr(struct session *s, const struct flow_opts *o)
{
    CK_OBJECT_HANDLE key;
    EVP_PKEY *pub = NULL;
    X509_REQ *req = NULL;
    X509_NAME *name;
    int rc = 1;

    if (o->subject == NULL)
        return fail("%s", "csr needs --subject, e.g. --subject /CN=device-1");
    name = parse_subject(o->subject);
    if (name == NULL)
        return fail("--subject %s: expected /KEY=value/KEY=value", o->subject);
    if (find_one(s, CKO_PRIVATE_KEY, o, &key) != 0)
        goto out;
    pub = token_pubkey(s, key);
    req = X509_REQ_new();
    if (pub == NULL || req == NULL || X509_REQ_set_version(req, 0) != 1 ||
        X509_REQ_set_subject_name(req, name) != 1 || X509_REQ_set_pubkey(req, pub) != 1) {
        fail("%s", "cannot build the request");
        goto out;
    }
    if (sign_request(s, key, pub, req) != 0)
        goto out;
    rc = write_pem_or_der(o->out, pem_req, der_req, req, o->der);
out:
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(pub);
    return rc;
}

static X509 *read_cert_file(const char *path)
{
    BIO *b = BIO_new_file(path, "rb");
    X509 *x = NULL;

    if (b == NULL)
        return NULL;
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (x == NULL) {
        ERR_clear_error();
        BIO_reset(b);
        x = d2i_X509_bio(b, NULL);
    }
    BIO_free(b);
    ERR_clear_error();
    return x;
}

/* The private key whose public key the certificate carries, or 0. */
static CK_OBJECT_HANDLE matching_key(struct session *s, X509 *x)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE q = {CKA_CLASS, &cls, sizeof cls};
    CK_OBJECT_HANDLE keys[64], match = 0;
    CK_ULONG n = 0;

    if (C_FindObjectsInit(s->h, &q, 1) != CKR_OK)
        return 0;
    C_FindObjects(s->h, keys, 64, &n);
    C_FindObjectsFinal(s->h);
    for (CK_ULONG i = 0; i < n && match == 0; i++) {
        EVP_PKEY *k = token_pubkey(s, keys[i]);
        if (k != NULL && EVP_PKEY_eq(k, X509_get0_pubkey(x)) == 1)
            match = keys[i];
        EVP_PKEY_free(k);
    }
    return match;
}

static int flow_import_cert(struct session *s, const struct flow_opts *o)
{
    X509 *x;
    unsigned char *der = NULL;
    int der_len;
    uint8_t id[64];
    size_t id_len = 0;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[6];
    CK_ULONG nt = 0;
    CK_OBJECT_HANDLE h, key;
    CK_RV rv;
    int rc = 1;

    if (o->file == NULL)
        return fail("%s", "import-cert needs a certificate file (PEM or DER)");
    if (o->id_hex != NULL && hex_decode(o->id_hex, id, sizeof id, &id_len) != 0)
        return fail("--id %s: not a hex string", o->id_hex);
    x = read_cert_file(o->file);
    if (x == NULL)
        return fail("%s: not a PEM or DER X.509 certificate", o->file);
    key = matching_key(s, x);
    if (key == 0 && !o->unpaired) {
        fail("%s: its public key matches no key on the token (use --unpaired to store it anyway)",
             o->file);
        goto out;
    }
    der_len = i2d_X509(x, &der);
    if (der_len <= 0)
        goto out;
    t[nt++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
    t[nt++] = (CK_ATTRIBUTE){CKA_CERTIFICATE_TYPE, &ct, sizeof ct};
    t[nt++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof yes};
    t[nt++] = (CK_ATTRIBUTE){CKA_VALUE, der, (CK_ULONG)der_len};
    /* Without a label and ID the certificate takes its key's. */
    if (o->label != NULL)
        t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)o->label, strlen(o->label)};
    if (id_len > 0)
        t[nt++] = (CK_ATTRIBUTE){CKA_ID, id, id_len};
    rv = C_CreateObject(s->h, t, nt, &h);
    if (rv != CKR_OK) {
        ckr_fail("storing the certificate", rv);
        goto out;
    }
    printf("certificate stored%s\n", key ? " next to its key" : " (no matching key)");
    print_uris(s, h);
    rc = 0;
out:
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

static CK_OBJECT_CLASS class_of(const struct flow_opts *o)
{
    if (o->type == NULL || strcmp(o->type, "private") == 0)
        return CKO_PRIVATE_KEY;
    if (strcmp(o->type, "cert") == 0)
        return CKO_CERTIFICATE;
    if (strcmp(o->type, "public") == 0)
        return CKO_PUBLIC_KEY;
    return (CK_OBJECT_CLASS)-1;
}

static int flow_relabel(struct session *s, const struct flow_opts *o)
{
    CK_OBJECT_HANDLE h;
    uint8_t id[64];
    size_t id_len = 0;
    CK_ATTRIBUTE t[2];
    CK_ULONG nt = 0;
    CK_RV rv;

    if (o->new_label == NULL && o->new_id_hex == NULL)
        return fail("%s", "relabel needs --new-label and/or --new-id");
    if (o->new_id_hex != NULL && hex_decode(o->new_id_hex, id, sizeof id, &id_len) != 0)
        return fail("--new-id %s: not a hex string", o->new_id_hex);
    if (class_of(o) == (CK_OBJECT_CLASS)-1)
        return fail("--type %s: use private, public or cert", o->type);
    if (find_one(s, class_of(o), o, &h) != 0)
        return 1;
    if (o->new_label != NULL)
        t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)o->new_label, strlen(o->new_label)};
    if (o->new_id_hex != NULL)
        t[nt++] = (CK_ATTRIBUTE){CKA_ID, id, id_len};
    rv = C_SetAttributeValue(s->h, h, t, nt);
    if (rv != CKR_OK)
        return ckr_fail("relabelling", rv);
    print_uris(s, h);
    return 0;
}

static int flow_delete(struct session *s, const struct flow_opts *o)
{
    CK_OBJECT_HANDLE h;
    CK_RV rv;

    if (class_of(o) == (CK_OBJECT_CLASS)-1)
        return fail("--type %s: use private or cert", o->type);
    if (find_one(s, class_of(o), o, &h) != 0)
        return 1;
    rv = C_DestroyObject(s->h, h);
    if (rv != CKR_OK)
        return ckr_fail("deleting", rv);
    printf("deleted\n");
    return 0;
}

static int flow_export_cert(struct session *s, const struct flow_opts *o)
{
    CK_OBJECT_HANDLE h;
    uint8_t der[8192];
    CK_ATTRIBUTE a = {CKA_VALUE, der, sizeof der};
    const unsigned char *p = der;
    X509 *x;
    int rc;

    if (find_one(s, CKO_CERTIFICATE, o, &h) != 0)
        return 1;
    if (C_GetAttributeValue(s->h, h, &a, 1) != CKR_OK)
        return fail("%s", "reading the certificate failed");
    x = d2i_X509(NULL, &p, (long)a.ulValueLen);
    if (x == NULL)
        return fail("%s", "the token's certificate does not parse");
    rc = write_pem_or_der(o->out, pem_cert, der_cert, x, o->der);
    X509_free(x);
    return rc;
}

static int flow_uri(struct session *s, const struct flow_opts *o)
{
    CK_OBJECT_HANDLE h;

    if (find_one(s, class_of(o) == (CK_OBJECT_CLASS)-1 ? CKO_PRIVATE_KEY : class_of(o), o, &h) != 0)
        return 1;
    print_uris(s, h);
    return 0;
}

int flow_run(const char *cmd, CK_SLOT_ID slot, const struct flow_opts *o)
{
    static const struct {
        const char *name;
        int (*run)(struct session *, const struct flow_opts *);
    } flows[] = {
        {"keygen", flow_keygen},       {"csr", flow_csr},       {"import-cert", flow_import_cert},
        {"relabel", flow_relabel},     {"delete", flow_delete}, {"export-cert", flow_export_cert},
        {"uri", flow_uri},
    };
    struct session s;
    int rc = -1;

    for (size_t i = 0; i < sizeof flows / sizeof flows[0]; i++) {
        if (strcmp(flows[i].name, cmd) != 0)
            continue;
        if (C_Initialize(NULL) != CKR_OK)
            return fail("%s", "the module did not start");
        rc = session_open(slot, o, &s);
        if (rc == 0)
            rc = flows[i].run(&s, o);
        C_Finalize(NULL);
        return rc;
    }
    return -1;
}
