/* Certificate objects and label/ID pairing through the C_* API, on the
 * emulated ATECC608 (host-held certificates), SE050 (certificates and the
 * store's copy on the chip) and a Trust&GO part (factory certificates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "module/pkcs11_3.h"

static char dir[] = "/tmp/seccki-certs-XXXXXX";
static const uint8_t p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};

#define SLOT_EDGE 0
#define SLOT_GW 1
#define SLOT_TNG 2

static int group_setup(void **state)
{
    char path[256];
    FILE *f;

    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/seccki.conf", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "[token edge]\nchip = atecc608\nbus = sim:%s/edge.atecc\nlogin = none\nstore = %s/store\n"
            "[token gw]\nchip = se050\nbus = sim:%s/gw.se050\nlogin = none\nstore = %s/store\n"
            "[token tng]\nchip = atecc608\nbus = sim:%s/tng.atecc\naddress = 0x35\n"
            "sim_profile = trustngo\nlogin = none\nstore = %s/store\nobject = 0:device:d0\n",
            dir, dir, dir, dir, dir, dir);
    fclose(f);
    setenv("SECCKI_CONF", path, 1);
    setenv("SECCKI_LOG", "none", 1);
    return C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[300];

    (void)state;
    C_Finalize(NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static CK_SESSION_HANDLE rw(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h;

    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
                     CKR_OK);
    return h;
}

static CK_OBJECT_HANDLE keygen(CK_SESSION_HANDLE h, const char *label, uint8_t id)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pubt[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
                           {CKA_LABEL, (void *)label, strlen(label)}, {CKA_ID, &id, 1}};
    CK_ATTRIBUTE privt[] = {{CKA_LABEL, (void *)label, strlen(label)}, {CKA_ID, &id, 1}};
    CK_OBJECT_HANDLE pub, priv;

    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 3, privt, 2, &pub, &priv), CKR_OK);
    return priv;
}

/* A certificate for the token key's public key, issued by a throwaway CA. */
static X509 *issue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, EVP_PKEY *ca_key, const char *cn)
{
    uint8_t spki[200];
    CK_ATTRIBUTE a = {CKA_PUBLIC_KEY_INFO, spki, sizeof spki};
    const unsigned char *p = spki;
    X509 *x = X509_new();
    EVP_PKEY *pub;

    assert_int_equal(C_GetAttributeValue(h, key, &a, 1), CKR_OK);
    pub = d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
    assert_non_null(pub);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test CA", -1, -1, 0);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pub);
    assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
    EVP_PKEY_free(pub);
    return x;
}

static CK_RV store_cert(CK_SESSION_HANDLE h, X509 *x, const char *label, CK_OBJECT_HANDLE *out)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                        {CKA_CERTIFICATE_TYPE, &ct, sizeof ct},
                        {CKA_TOKEN, &yes, sizeof yes},
                        {CKA_VALUE, der, (CK_ULONG)len},
                        {CKA_LABEL, (void *)label, label ? strlen(label) : 0}};
    CK_RV rv = C_CreateObject(h, t, label ? 5 : 4, out);
    OPENSSL_free(der);
    return rv;
}

static void label_id_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, char *label, uint8_t *id,
                        CK_ULONG *id_len)
{
    CK_ATTRIBUTE a[] = {{CKA_LABEL, label, 63}, {CKA_ID, id, 16}};

    assert_int_equal(C_GetAttributeValue(h, o, a, 2), CKR_OK);
    label[a[0].ulValueLen] = '\0';
    *id_len = a[1].ulValueLen;
}

static CK_ULONG find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label,
                     CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ULONG n = 0;

    assert_int_equal(C_FindObjectsInit(h, q, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, out, 4, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    return n;
}

static void pairing_on(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h = rw(slot);
    EVP_PKEY *ca = EVP_EC_gen("P-256");
    CK_OBJECT_HANDLE key = keygen(h, "device", 0x11), cert, again, found[4];
    X509 *x = issue(h, key, ca, "dev1");
    char label[64];
    uint8_t id[16];
    CK_ULONG id_len;

    /* stored without a label: it takes the key pair's label and ID */
    assert_int_equal(store_cert(h, x, NULL, &cert), CKR_OK);
    label_id_of(h, cert, label, id, &id_len);
    assert_string_equal(label, "device");
    assert_int_equal(id_len, 1);
    assert_int_equal(id[0], 0x11);
    assert_int_equal(find(h, CKO_CERTIFICATE, "device", found), 1);

    /* what PKCS#11 derives from the DER */
    unsigned char *der = NULL, *subj = NULL, *iss = NULL, *ser = NULL;
    int dl = i2d_X509(x, &der), sl = i2d_X509_NAME(X509_get_subject_name(x), &subj);
    int il = i2d_X509_NAME(X509_get_issuer_name(x), &iss);
    int nl = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &ser);
    uint8_t value[2048], s[256], is[256], sn[32], cv[3], sha[SHA_DIGEST_LENGTH];
    CK_ULONG cat = 9;
    CK_ATTRIBUTE a[] = {{CKA_VALUE, value, sizeof value},  {CKA_SUBJECT, s, sizeof s},
                        {CKA_ISSUER, is, sizeof is},       {CKA_SERIAL_NUMBER, sn, sizeof sn},
                        {CKA_CHECK_VALUE, cv, sizeof cv},  {CKA_CERTIFICATE_CATEGORY, &cat, sizeof cat}};
    assert_int_equal(C_GetAttributeValue(h, cert, a, 6), CKR_OK);
    assert_int_equal(a[0].ulValueLen, dl);
    assert_memory_equal(value, der, (size_t)dl);
    assert_int_equal(a[1].ulValueLen, sl);
    assert_memory_equal(s, subj, (size_t)sl);
    assert_int_equal(a[2].ulValueLen, il);
    assert_memory_equal(is, iss, (size_t)il);
    assert_int_equal(a[3].ulValueLen, nl);
    assert_memory_equal(sn, ser, (size_t)nl);
    SHA1(der, (size_t)dl, sha);
    assert_memory_equal(cv, sha, 3);
    assert_int_equal(cat, 1); /* token user: its key is on the token */

    /* the same certificate again: nothing new */
    assert_int_equal(store_cert(h, x, NULL, &again), CKR_OK);
    assert_int_equal(again, cert);

    /* relabelling the certificate moves the key pair with it */
    uint8_t nid[] = {0xAB, 0xCD};
    CK_ATTRIBUTE rl[] = {{CKA_LABEL, "greengrass", 10}, {CKA_ID, nid, 2}};
    assert_int_equal(C_SetAttributeValue(h, cert, rl, 2), CKR_OK);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, "greengrass", found), 1);
    label_id_of(h, found[0], label, id, &id_len);
    assert_int_equal(id_len, 2);
    assert_memory_equal(id, nid, 2);
    assert_int_equal(find(h, CKO_PUBLIC_KEY, "greengrass", found), 1);
    assert_int_equal(find(h, CKO_CERTIFICATE, "greengrass", found), 1);
    /* and relabelling the key moves the certificate */
    CK_ATTRIBUTE rk[] = {{CKA_LABEL, "device", 6}};
    assert_int_equal(find(h, CKO_PRIVATE_KEY, "greengrass", found), 1);
    assert_int_equal(C_SetAttributeValue(h, found[0], rk, 1), CKR_OK);
    assert_int_equal(find(h, CKO_CERTIFICATE, "device", found), 1);

    /* it survives a restart */
    assert_int_equal(C_CloseSession(h), CKR_OK);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    h = rw(slot);
    assert_int_equal(find(h, CKO_CERTIFICATE, "device", found), 1);

    /* an explicit label at import is honoured */
    CK_OBJECT_HANDLE k2 = keygen(h, "second", 0x12), c2;
    X509 *x2 = issue(h, k2, ca, "dev2");
    assert_int_equal(store_cert(h, x2, "other-name", &c2), CKR_OK);
    label_id_of(h, c2, label, id, &id_len);
    assert_string_equal(label, "other-name");

    /* destroying the certificate leaves the key */
    assert_int_equal(C_DestroyObject(h, c2), CKR_OK);
    assert_int_equal(find(h, CKO_CERTIFICATE, "other-name", found), 0);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, "second", found), 1);

    OPENSSL_free(der);
    OPENSSL_free(subj);
    OPENSSL_free(iss);
    OPENSSL_free(ser);
    X509_free(x);
    X509_free(x2);
    EVP_PKEY_free(ca);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_pairing_atecc608(void **state)
{
    (void)state;
    pairing_on(SLOT_EDGE);
}

static void test_pairing_se050(void **state)
{
    (void)state;
    pairing_on(SLOT_GW);
}

static void test_bad_certificates(void **state)
{
    CK_SESSION_HANDLE h = rw(SLOT_EDGE), ro;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE;
    uint8_t junk[40] = {0x30, 0x26};
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_CERTIFICATE_TYPE, &ct, sizeof ct},
                        {CKA_VALUE, junk, sizeof junk}, {CKA_TRUSTED, &yes, 1}};

    (void)state;
    assert_int_equal(C_CreateObject(h, t, 3, &o), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(C_CreateObject(h, t, 2, &o), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(C_CreateObject(h, t, 4, &o), CKR_ATTRIBUTE_READ_ONLY);

    /* given fields must be the certificate's */
    EVP_PKEY *ca = EVP_EC_gen("P-256");
    X509 *x = issue(h, keygen(h, "k3", 0x13), ca, "dev3");
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    CK_ATTRIBUTE t2[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_VALUE, der, (CK_ULONG)len},
                         {CKA_SUBJECT, junk, 8}};
    assert_int_equal(C_CreateObject(h, t2, 3, &o), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(C_OpenSession(SLOT_EDGE, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    assert_int_equal(C_CreateObject(ro, t2, 2, &o), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
    /* a certificate no key matches: stored, with a label of its own */
    X509 *ca_cert = X509_new();
    X509_set_pubkey(ca_cert, ca);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(ca_cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test CA", -1, -1, 0);
    X509_set_issuer_name(ca_cert, X509_get_subject_name(ca_cert));
    X509_gmtime_adj(X509_getm_notBefore(ca_cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(ca_cert), 86400);
    assert_true(X509_sign(ca_cert, ca, EVP_sha256()) > 0);
    assert_int_equal(store_cert(h, ca_cert, NULL, &o), CKR_OK);
    char label[64];
    uint8_t id[16];
    CK_ULONG id_len;
    label_id_of(h, o, label, id, &id_len);
    assert_memory_equal(label, "cert", 4);
    OPENSSL_free(der);
    X509_free(x);
    X509_free(ca_cert);
    EVP_PKEY_free(ca);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* CKO_DATA objects where the chip has room (SE050); refused on the ATECC608. */
static void test_data_objects(void **state)
{
    CK_SESSION_HANDLE h = rw(SLOT_GW), a = rw(SLOT_EDGE);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    uint8_t value[1500], back[2000], oid[] = {0x06, 0x03, 0x2A, 0x03, 0x04};
    CK_OBJECT_HANDLE o, found[4];
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &yes, 1},
                        {CKA_LABEL, "config-blob", 11}, {CKA_APPLICATION, "agent", 5},
                        {CKA_OBJECT_ID, oid, sizeof oid}, {CKA_VALUE, value, sizeof value}};

    (void)state;
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)(i * 13);
    assert_int_equal(C_CreateObject(h, t, 6, &o), CKR_OK);
    assert_int_equal(find(h, CKO_DATA, "config-blob", found), 1);
    CK_ATTRIBUTE r[] = {{CKA_VALUE, back, sizeof back}, {CKA_APPLICATION, back + 1600, 64}};
    assert_int_equal(C_GetAttributeValue(h, found[0], r, 2), CKR_OK);
    assert_int_equal(r[0].ulValueLen, sizeof value);
    assert_memory_equal(back, value, sizeof value);
    assert_int_equal(r[1].ulValueLen, 5);
    CK_ATTRIBUTE rl = {CKA_LABEL, "renamed", 7};
    assert_int_equal(C_SetAttributeValue(h, found[0], &rl, 1), CKR_OK);
    assert_int_equal(find(h, CKO_DATA, "renamed", found), 1);
    assert_int_equal(C_DestroyObject(h, found[0]), CKR_OK);
    assert_int_equal(find(h, CKO_DATA, "renamed", found), 0);
    /* an empty value, and a chip without room */
    t[5].ulValueLen = 0;
    assert_int_equal(C_CreateObject(h, t, 6, &o), CKR_TEMPLATE_INCOMPLETE);
    t[5].ulValueLen = 10;
    assert_int_equal(C_CreateObject(a, t, 6, &o), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(C_CloseSession(h), CKR_OK);
    assert_int_equal(C_CloseSession(a), CKR_OK);
}

/* The SE050 keeps a copy of the store: a host reflash loses nothing. */
static void test_se050_labels_survive_host_reflash(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE found[4];
    char cmd[400];

    (void)state;
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    snprintf(cmd, sizeof cmd, "rm -f %s/store/se050-*.store", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    h = rw(SLOT_GW);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, "device", found), 1);
    assert_int_equal(find(h, CKO_CERTIFICATE, "device", found), 1);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* Trust&GO: the factory device certificate, rebuilt by the driver, pairs with
 * the slot-0 key and chains to the part's root. */
static void test_trust_and_go(void **state)
{
    CK_SESSION_HANDLE h = rw(SLOT_TNG);
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE q = {CKA_CLASS, &cls, sizeof cls};
    CK_OBJECT_HANDLE certs[4], dev = 0;
    CK_ULONG n = 0;
    char label[64], root_path[256];
    uint8_t id[16], slot0_id[16];
    CK_ULONG id_len, slot0_len;

    (void)state;
    assert_int_equal(C_FindObjectsInit(h, &q, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, certs, 4, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 2); /* device and signer */
    /* the config names the factory key; its certificate follows */
    assert_int_equal(find(h, CKO_PRIVATE_KEY, "device", certs + 2), 1);
    label_id_of(h, certs[2], label, slot0_id, &slot0_len);
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *device = NULL;
    for (CK_ULONG i = 0; i < n; i++) {
        uint8_t der[1024];
        CK_ULONG cat = 0;
        CK_ATTRIBUTE a[] = {{CKA_VALUE, der, sizeof der}, {CKA_CERTIFICATE_CATEGORY, &cat, sizeof cat}};
        assert_int_equal(C_GetAttributeValue(h, certs[i], a, 2), CKR_OK);
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long)a[0].ulValueLen);
        assert_non_null(x);
        label_id_of(h, certs[i], label, id, &id_len);
        if (cat == 1) {
            dev = certs[i];
            device = x;
            assert_string_equal(label, "device");
            assert_int_equal(id[0], 0xd0);
            assert_int_equal(id_len, slot0_len);
            assert_memory_equal(id, slot0_id, id_len);
        } else {
            sk_X509_push(chain, x);
        }
    }
    assert_int_not_equal(dev, 0);
    assert_int_equal(C_DestroyObject(h, dev), CKR_ACTION_PROHIBITED);

    snprintf(root_path, sizeof root_path, "%s/tng.atecc.root.pem", dir);
    FILE *f = fopen(root_path, "r");
    assert_non_null(f);
    X509 *root = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    X509_STORE *trust = X509_STORE_new();
    X509_STORE_add_cert(trust, root);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, trust, device, chain);
    assert_int_equal(X509_verify_cert(ctx), 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(trust);
    X509_free(root);
    X509_free(device);
    sk_X509_pop_free(chain, X509_free);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairing_atecc608),
        cmocka_unit_test(test_pairing_se050),
        cmocka_unit_test(test_bad_certificates),
        cmocka_unit_test(test_data_objects),
        cmocka_unit_test(test_se050_labels_survive_host_reflash),
        cmocka_unit_test(test_trust_and_go),
    };
    return cmocka_run_group_tests_name("module: certificates and pairing", tests, group_setup,
                                       group_teardown);
}
