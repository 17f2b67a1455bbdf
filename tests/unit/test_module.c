/* The Cryptoki front end to end on the emulated ATECC608: the standard's
 * semantics (return codes, two-call convention, sessions, login) and real
 * outcomes (signatures verified by OpenSSL against CKA_EC_POINT). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "module/pkcs11_3.h"

static char dir[] = "/tmp/seccki-module-XXXXXX";
static const CK_UTF8CHAR so_pin[] = "12345678";
static const CK_UTF8CHAR user_pin[] = "1234";
static const uint8_t p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};

#define SLOT_EDGE 0
#define SLOT_DEAD 1
#define SLOT_BROKEN 2
#define SLOT_OPEN 3
#define SLOT_CORRUPT 4
#define SLOT_BLANK 5
static const char garbage[] = "not a chip state file, just bytes";

static void write_conf(void)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/seccki.conf", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "[token edge]\nchip = atecc608\nbus = sim:%s/edge.atecc\naddress = 0x60\n"
            "store = %s/store\n\n"
            "[token dead]\nchip = atecc608\nbus = sim:%s/dead.atecc\nsim_faults = dead\n"
            "store = %s/store\n\n"
            "[token broken]\nchip = atecc608\nbus = sim:%s/broken.atecc\nadress = 0x60\n\n"
            "[token open]\nchip = atecc608\nbus = sim:%s/open.atecc\nlogin = none\n"
            "store = %s/store\n\n"
            "[token corrupt]\nchip = atecc608\nbus = sim:%s/corrupt.atecc\n\n"
            "[token blank]\nchip = atecc608\nbus = sim:%s/blank.atecc\nsim_profile = blank\n"
            "store = %s/store\n",
            dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
    fclose(f);
    char state[256];
    snprintf(state, sizeof state, "%s/corrupt.atecc", dir);
    f = fopen(state, "w");
    assert_non_null(f);
    fwrite(garbage, 1, sizeof garbage, f);
    fclose(f);
    setenv("SECCKI_CONF", path, 1);
    setenv("SECCKI_LOG", "none", 1);
}

static int group_setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    write_conf();
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int init(void **state)
{
    (void)state;
    return C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

static int fini(void **state)
{
    (void)state;
    return C_Finalize(NULL) == CKR_OK ? 0 : -1;
}

static CK_SESSION_HANDLE open_rw(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE h = 0;

    assert_int_equal(C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
                     CKR_OK);
    return h;
}

/* Initialises the token and user PIN once; later calls just log in. */
static CK_SESSION_HANDLE user_session(void)
{
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_UTF8CHAR label[32];

    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    if (!(ti.flags & CKF_USER_PIN_INITIALIZED)) {
        memset(label, ' ', sizeof label);
        memcpy(label, "edge", 4);
        assert_int_equal(C_InitToken(SLOT_EDGE, (CK_UTF8CHAR_PTR)so_pin, 8, label), CKR_OK);
        h = open_rw(SLOT_EDGE);
        assert_int_equal(C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, 8), CKR_OK);
        assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_OK);
        assert_int_equal(C_Logout(h), CKR_OK);
        assert_int_equal(C_CloseSession(h), CKR_OK);
    }
    h = open_rw(SLOT_EDGE);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_OK);
    return h;
}

static void gen_p256(CK_SESSION_HANDLE h, const char *label, uint8_t id, CK_OBJECT_HANDLE *pub,
                     CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pubt[] = {
        {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, &id, 1},
    };
    CK_ATTRIBUTE privt[] = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_DERIVE, &yes, sizeof yes},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, &id, 1},
    };
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 5, privt, 5, pub, priv), CKR_OK);
}

/* The public key as OpenSSL sees it, from CKA_EC_POINT (DER OCTET STRING). */
static EVP_PKEY *pkey_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
    uint8_t der[80];
    CK_ATTRIBUTE a = {CKA_EC_POINT, der, sizeof der};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;

    assert_int_equal(C_GetAttributeValue(h, obj, &a, 1), CKR_OK);
    assert_int_equal(a.ulValueLen, 67);
    assert_int_equal(der[0], 0x04);
    assert_int_equal(der[1], 0x41);
    assert_int_equal(der[2], 0x04);
    assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0));
    assert_true(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, der + 2, 65));
    params = OSSL_PARAM_BLD_to_param(bld);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* Verifies raw r||s over a 32-byte digest with OpenSSL. */
static int openssl_verify(EVP_PKEY *pkey, const uint8_t *dig, size_t dlen, const uint8_t sig[64])
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    uint8_t *der = NULL;
    int len, ok;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);

    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    len = i2d_ECDSA_SIG(es, &der);
    EVP_PKEY_verify_init(ctx);
    ok = EVP_PKEY_verify(ctx, der, (size_t)len, dig, dlen);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* ---- function lists and interfaces ---- */

static void test_function_lists(void **state)
{
    CK_FUNCTION_LIST_PTR fl;
    CK_INTERFACE_PTR it;
    CK_INTERFACE list[2];
    CK_ULONG n = 0;
    CK_VERSION v240 = {2, 40}, v32 = {3, 2};

    (void)state;
    assert_int_equal(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetFunctionList(&fl), CKR_OK);
    assert_int_equal(fl->version.major, 2);
    assert_int_equal(fl->version.minor, 40);
    assert_ptr_equal(fl->C_Sign, C_Sign);

    assert_int_equal(C_GetInterface(NULL, NULL, &it, 0), CKR_OK);
    assert_string_equal((char *)it->pInterfaceName, "PKCS 11");
    const CK_FUNCTION_LIST_3_0 *f3 = it->pFunctionList;
    assert_int_equal(f3->version.major, 3);
    assert_ptr_equal(f3->C_LoginUser, C_LoginUser);
    assert_ptr_equal(f3->C_SessionCancel, C_SessionCancel);
    assert_ptr_equal(f3->C_WaitForSlotEvent, C_WaitForSlotEvent);
    assert_int_equal(f3->C_MessageSignInit(1, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);

    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &it, 0), CKR_OK);
    assert_ptr_equal(it->pFunctionList, fl);
    assert_int_equal(C_GetInterface(NULL, &v32, &it, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetInterface((CK_UTF8CHAR_PTR) "Vendor", NULL, &it, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetInterface(NULL, NULL, &it, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);

    assert_int_equal(C_GetInterfaceList(NULL, &n), CKR_OK);
    assert_int_equal(n, 2);
    n = 1;
    assert_int_equal(C_GetInterfaceList(list, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 2);
    assert_int_equal(C_GetInterfaceList(list, &n), CKR_OK);
}

/* ---- C_Initialize ---- */

static int mutex_calls;
static CK_RV mx_create(CK_VOID_PTR_PTR m)
{
    *m = malloc(1);
    mutex_calls++;
    return CKR_OK;
}
static CK_RV mx_destroy(CK_VOID_PTR m)
{
    free(m);
    return CKR_OK;
}
static CK_RV mx_lock(CK_VOID_PTR m)
{
    (void)m;
    mutex_calls++;
    return CKR_OK;
}
static CK_RV mx_unlock(CK_VOID_PTR m)
{
    (void)m;
    return CKR_OK;
}

static void test_initialize(void **state)
{
    CK_C_INITIALIZE_ARGS args;
    CK_INFO info;
    CK_ULONG n;

    (void)state;
    assert_int_equal(C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

    memset(&args, 0, sizeof args);
    args.CreateMutex = mx_create; /* some callbacks but not all */
    assert_int_equal(C_Initialize(&args), CKR_ARGUMENTS_BAD);

    args = (CK_C_INITIALIZE_ARGS){mx_create, mx_destroy, mx_lock, mx_unlock, 0, NULL};
    mutex_calls = 0;
    assert_int_equal(C_Initialize(&args), CKR_OK);
    assert_int_equal(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    assert_true(mutex_calls >= 2); /* the application's mutexes are used */
    assert_int_equal(C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    assert_int_equal(C_Finalize((void *)1), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_Finalize(NULL), CKR_OK);

    args = (CK_C_INITIALIZE_ARGS){mx_create, mx_destroy, mx_lock, mx_unlock,
                                  CKF_OS_LOCKING_OK, (void *)"pkcs11 init args"};
    assert_int_equal(C_Initialize(&args), CKR_OK);
    assert_int_equal(C_GetInfo(&info), CKR_OK);
    assert_int_equal(info.cryptokiVersion.major, 2);
    assert_int_equal(info.cryptokiVersion.minor, 40);
    assert_memory_equal(info.manufacturerID, "seccki ", 7);
    assert_int_equal(C_Finalize(NULL), CKR_OK);

    args = (CK_C_INITIALIZE_ARGS){NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL};
    assert_int_equal(C_Initialize(&args), CKR_OK);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
}

/* ---- slots ---- */

static void test_slots(void **state)
{
    CK_SLOT_ID slots[8];
    CK_ULONG n = 0;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;

    (void)state;
    assert_int_equal(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    assert_int_equal(n, 6); /* one per section, broken ones included: IDs stay stable */
    n = 1;
    assert_int_equal(C_GetSlotList(CK_FALSE, slots, &n), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 6);
    n = 8;
    assert_int_equal(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(slots[0], SLOT_EDGE);
    assert_int_equal(slots[1], SLOT_OPEN);

    assert_int_equal(C_GetSlotInfo(SLOT_EDGE, &si), CKR_OK);
    assert_true(si.flags & CKF_TOKEN_PRESENT);
    assert_true(si.flags & CKF_HW_SLOT);
    assert_int_equal(C_GetSlotInfo(SLOT_DEAD, &si), CKR_OK);
    assert_false(si.flags & CKF_TOKEN_PRESENT);
    assert_int_equal(C_GetSlotInfo(SLOT_BROKEN, &si), CKR_OK);
    assert_false(si.flags & CKF_TOKEN_PRESENT);
    /* a corrupt emulator state file: no token, and the file is left as it was */
    assert_int_equal(C_GetSlotInfo(SLOT_CORRUPT, &si), CKR_OK);
    assert_false(si.flags & CKF_TOKEN_PRESENT);
    char path[256], back[sizeof garbage + 8];
    snprintf(path, sizeof path, "%s/corrupt.atecc", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(back, 1, sizeof back, f), sizeof garbage);
    fclose(f);
    assert_memory_equal(back, garbage, sizeof garbage);
    assert_int_equal(C_GetSlotInfo(99, &si), CKR_SLOT_ID_INVALID);
    assert_int_equal(C_GetSlotInfo(SLOT_EDGE, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GetTokenInfo(SLOT_DEAD, &ti), CKR_TOKEN_NOT_PRESENT);
    assert_int_equal(C_GetTokenInfo(99, &ti), CKR_SLOT_ID_INVALID);

    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_memory_equal(ti.model, "ATECC608B       ", 16);
    assert_true(ti.flags & CKF_RNG);
    assert_true(ti.ulMaxSessionCount >= 16);
    assert_int_equal(ti.ulMaxRwSessionCount, ti.ulMaxSessionCount);
    assert_int_equal(ti.ulMinPinLen, 4);
    for (int i = 0; i < 16; i++)
        assert_true(ti.serialNumber[i] != ' ');
}

static void test_mechanisms(void **state)
{
    CK_MECHANISM_TYPE list[32];
    CK_ULONG n = 0;
    CK_MECHANISM_INFO mi;
    bool ecdsa = false, sha256 = false, ecdh = false, gen = false;

    (void)state;
    assert_int_equal(C_GetMechanismList(SLOT_EDGE, NULL, &n), CKR_OK);
    assert_true(n >= 5);
    CK_ULONG small = 1;
    assert_int_equal(C_GetMechanismList(SLOT_EDGE, list, &small), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(C_GetMechanismList(SLOT_EDGE, list, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        ecdsa |= list[i] == CKM_ECDSA;
        sha256 |= list[i] == CKM_ECDSA_SHA256;
        ecdh |= list[i] == CKM_ECDH1_DERIVE;
        gen |= list[i] == CKM_EC_KEY_PAIR_GEN;
        assert_int_not_equal(list[i], CKM_RSA_PKCS); /* P-256 only on this chip */
        assert_int_not_equal(list[i], CKM_ECDSA_SHA384);
    }
    assert_true(ecdsa && sha256 && ecdh && gen);
    assert_int_equal(C_GetMechanismInfo(SLOT_EDGE, CKM_ECDSA, &mi), CKR_OK);
    assert_int_equal(mi.ulMinKeySize, 256); /* bits, as SunPKCS11 expects */
    assert_int_equal(mi.ulMaxKeySize, 256);
    assert_true(mi.flags & CKF_SIGN);
    assert_true(mi.flags & CKF_HW);
    assert_int_equal(C_GetMechanismInfo(SLOT_EDGE, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);
}

/* An unprovisioned ATECC608: present, write-protected, no key generation. */
static void test_blank_chip(void **state)
{
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pubt[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid}};
    CK_OBJECT_HANDLE pub, priv;
    uint8_t rnd[16];

    (void)state;
    assert_int_equal(C_GetTokenInfo(SLOT_BLANK, &ti), CKR_OK);
    assert_true(ti.flags & CKF_WRITE_PROTECTED);
    assert_false(ti.flags & CKF_RNG);
    h = open_rw(SLOT_BLANK);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &pub, &priv),
                     CKR_DEVICE_MEMORY); /* no key slot before provisioning */
    /* the RNG answers a fixed test pattern before the config zone is locked: refused */
    assert_int_equal(C_GenerateRandom(h, rnd, sizeof rnd), CKR_FUNCTION_FAILED);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* ---- sessions and login ---- */

static void test_sessions(void **state)
{
    CK_SESSION_HANDLE hs[20];
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;

    (void)state;
    for (int i = 0; i < 20; i++)
        assert_int_equal(C_OpenSession(SLOT_EDGE, CKF_SERIAL_SESSION | (i % 2 ? CKF_RW_SESSION : 0),
                                       NULL, NULL, &hs[i]),
                         CKR_OK);
    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_int_equal(ti.ulSessionCount, 20);
    assert_int_equal(ti.ulRwSessionCount, 10);
    assert_int_equal(C_GetSessionInfo(hs[0], &si), CKR_OK);
    assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);
    assert_int_equal(C_GetSessionInfo(hs[1], &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_PUBLIC_SESSION);
    assert_int_equal(C_OpenSession(SLOT_EDGE, 0, NULL, NULL, &hs[0]),
                     CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    assert_int_equal(C_OpenSession(SLOT_DEAD, CKF_SERIAL_SESSION, NULL, NULL, &hs[0]),
                     CKR_TOKEN_NOT_PRESENT);
    assert_int_equal(C_OpenSession(SLOT_EDGE, CKF_SERIAL_SESSION, NULL, NULL, NULL),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(C_CloseSession(hs[0]), CKR_OK);
    assert_int_equal(C_CloseSession(hs[0]), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_GetSessionInfo(12345, &si), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_CloseAllSessions(SLOT_EDGE), CKR_OK);
    assert_int_equal(C_GetSessionInfo(hs[5], &si), CKR_SESSION_HANDLE_INVALID);
}

static void test_login_and_pins(void **state)
{
    CK_SESSION_HANDLE h, ro;
    CK_TOKEN_INFO ti;
    CK_SESSION_INFO si;
    CK_UTF8CHAR label[32];

    (void)state;
    memset(label, ' ', sizeof label);
    memcpy(label, "edge", 4);
    assert_int_equal(C_InitToken(SLOT_EDGE, (CK_UTF8CHAR_PTR)so_pin, 3, label), CKR_PIN_LEN_RANGE);
    assert_int_equal(C_InitToken(SLOT_EDGE, (CK_UTF8CHAR_PTR)so_pin, 8, label), CKR_OK);
    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_true(ti.flags & CKF_TOKEN_INITIALIZED);
    assert_false(ti.flags & CKF_USER_PIN_INITIALIZED);
    assert_false(ti.flags & CKF_LOGIN_REQUIRED);
    assert_memory_equal(ti.label, "edge    ", 8);

    h = open_rw(SLOT_EDGE);
    assert_int_equal(C_InitToken(SLOT_EDGE, (CK_UTF8CHAR_PTR)so_pin, 8, label), CKR_SESSION_EXISTS);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 4),
                     CKR_USER_PIN_NOT_INITIALIZED);
    assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR) "87654321", 8), CKR_PIN_INCORRECT);
    assert_int_equal(C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, 8), CKR_OK);
    assert_int_equal(C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, 8), CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 4),
                     CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    assert_int_equal(C_GetSessionInfo(h, &si), CKR_OK);
    assert_int_equal(si.state, CKS_RW_SO_FUNCTIONS);
    assert_int_equal(C_OpenSession(SLOT_EDGE, CKF_SERIAL_SESSION, NULL, NULL, &ro),
                     CKR_SESSION_READ_WRITE_SO_EXISTS);
    assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR) "12", 2), CKR_PIN_LEN_RANGE);
    assert_int_equal(C_InitPIN(h, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_OK);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_Logout(h), CKR_USER_NOT_LOGGED_IN);

    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_INITIALIZED);
    assert_true(ti.flags & CKF_LOGIN_REQUIRED);

    /* wrong PINs count, persistently; the flags say so */
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "0000", 4), CKR_PIN_INCORRECT);
    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_COUNT_LOW);
    assert_int_equal(C_Login(h, CKU_USER, NULL, 4), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_Login(h, 7, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_USER_TYPE_INVALID);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_OK);
    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_false(ti.flags & CKF_USER_PIN_COUNT_LOW);

    /* C_SetPIN changes the user PIN */
    assert_int_equal(C_SetPIN(h, (CK_UTF8CHAR_PTR) "9999", 4, (CK_UTF8CHAR_PTR) "5678", 4),
                     CKR_PIN_INCORRECT);
    assert_int_equal(C_SetPIN(h, (CK_UTF8CHAR_PTR)user_pin, 4, (CK_UTF8CHAR_PTR) "5678", 4), CKR_OK);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "5678", 4), CKR_OK);
    assert_int_equal(C_SetPIN(h, (CK_UTF8CHAR_PTR) "5678", 4, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_OK);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_pin_lockout(void **state)
{
    CK_SESSION_HANDLE h;
    CK_TOKEN_INFO ti;
    CK_UTF8CHAR label[32];

    (void)state;
    h = user_session();
    assert_int_equal(C_Logout(h), CKR_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "0000", 4), CKR_PIN_INCORRECT);
    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_false(ti.flags & CKF_USER_PIN_FINAL_TRY);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "0000", 4), CKR_PIN_INCORRECT);
    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_FINAL_TRY);
    /* the counter survives a restart of the library (it is in the store) */
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    h = open_rw(SLOT_EDGE);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "0000", 4), CKR_PIN_LOCKED);
    assert_int_equal(C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, 4), CKR_PIN_LOCKED);
    assert_int_equal(C_GetTokenInfo(SLOT_EDGE, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_LOCKED);
    /* the SO re-initialises the token */
    assert_int_equal(C_CloseSession(h), CKR_OK);
    memset(label, ' ', sizeof label);
    memcpy(label, "edge", 4);
    assert_int_equal(C_InitToken(SLOT_EDGE, (CK_UTF8CHAR_PTR)so_pin, 8, label), CKR_OK);
    h = user_session();
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* ---- keys, sign, verify ---- */

static void test_keygen_sign_verify(void **state)
{
    CK_SESSION_HANDLE h = user_session();
    CK_OBJECT_HANDLE pub, priv;
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0}, ecdsa256 = {CKM_ECDSA_SHA256, NULL, 0};
    uint8_t dig[48], sig[64], msg[100];
    CK_ULONG siglen;
    EVP_PKEY *pkey;

    (void)state;
    gen_p256(h, "device", 0x01, &pub, &priv);
    pkey = pkey_of(h, pub);
    for (size_t i = 0; i < sizeof dig; i++)
        dig[i] = (uint8_t)(i * 7 + 1);

    /* two-call convention: the length query keeps the operation */
    assert_int_equal(C_SignInit(h, &ecdsa, priv), CKR_OK);
    assert_int_equal(C_SignInit(h, &ecdsa, priv), CKR_OPERATION_ACTIVE);
    siglen = 0;
    assert_int_equal(C_Sign(h, dig, 32, NULL, &siglen), CKR_OK);
    assert_int_equal(siglen, 64);
    siglen = 10;
    assert_int_equal(C_Sign(h, dig, 32, sig, &siglen), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(siglen, 64);
    assert_int_equal(C_Sign(h, dig, 32, sig, &siglen), CKR_OK);
    assert_int_equal(siglen, 64);
    assert_int_equal(openssl_verify(pkey, dig, 32, sig), 1);
    assert_int_equal(C_Sign(h, dig, 32, sig, &siglen), CKR_OPERATION_NOT_INITIALIZED);

    /* long input is truncated to the leftmost 32 bytes; short input refused */
    assert_int_equal(C_SignInit(h, &ecdsa, priv), CKR_OK);
    siglen = sizeof sig;
    assert_int_equal(C_Sign(h, dig, 48, sig, &siglen), CKR_OK);
    assert_int_equal(openssl_verify(pkey, dig, 32, sig), 1);
    assert_int_equal(C_SignInit(h, &ecdsa, priv), CKR_OK);
    assert_int_equal(C_Sign(h, dig, 31, sig, &siglen), CKR_DATA_LEN_RANGE);
    assert_int_equal(C_Sign(h, dig, 32, sig, &siglen), CKR_OPERATION_NOT_INITIALIZED);

    /* CKM_ECDSA_SHA256, single- and multi-part */
    memset(msg, 'm', sizeof msg);
    uint8_t md[32];
    unsigned int mdlen;
    EVP_Digest(msg, sizeof msg, md, &mdlen, EVP_sha256(), NULL);
    assert_int_equal(C_SignInit(h, &ecdsa256, priv), CKR_OK);
    siglen = sizeof sig;
    assert_int_equal(C_Sign(h, msg, sizeof msg, sig, &siglen), CKR_OK);
    assert_int_equal(openssl_verify(pkey, md, 32, sig), 1);
    assert_int_equal(C_SignInit(h, &ecdsa256, priv), CKR_OK);
    assert_int_equal(C_SignUpdate(h, msg, 40), CKR_OK);
    assert_int_equal(C_SignUpdate(h, msg + 40, 60), CKR_OK);
    siglen = 0;
    assert_int_equal(C_SignFinal(h, NULL, &siglen), CKR_OK);
    assert_int_equal(siglen, 64);
    assert_int_equal(C_SignFinal(h, sig, &siglen), CKR_OK);
    assert_int_equal(openssl_verify(pkey, md, 32, sig), 1);

    /* C_Verify on the host: good and bad signatures */
    assert_int_equal(C_VerifyInit(h, &ecdsa256, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof msg, sig, 64), CKR_OK);
    sig[10] ^= 1;
    assert_int_equal(C_VerifyInit(h, &ecdsa256, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof msg, sig, 64), CKR_SIGNATURE_INVALID);
    assert_int_equal(C_VerifyInit(h, &ecdsa, priv), CKR_OK);
    assert_int_equal(C_Verify(h, dig, 32, sig, 63), CKR_SIGNATURE_LEN_RANGE);

    /* misuse */
    CK_MECHANISM bad = {CKM_RSA_PKCS, NULL, 0}, withparam = {CKM_ECDSA, dig, 4};
    assert_int_equal(C_SignInit(h, &bad, priv), CKR_MECHANISM_INVALID);
    assert_int_equal(C_SignInit(h, &withparam, priv), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(C_SignInit(h, &ecdsa, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(C_SignInit(h, &ecdsa, 999999), CKR_KEY_HANDLE_INVALID);
    assert_int_equal(C_SignInit(h, NULL, priv), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_SignInit(424242, &ecdsa, priv), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_SignUpdate(h, msg, 4), CKR_OPERATION_NOT_INITIALIZED);

    /* logged out: the private key is hidden and unusable */
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_SignInit(h, &ecdsa, priv), CKR_USER_NOT_LOGGED_IN);
    EVP_PKEY_free(pkey);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_attributes_and_find(void **state)
{
    CK_SESSION_HANDLE h = user_session();
    CK_OBJECT_HANDLE found[8], priv;
    CK_ULONG n = 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    const char *label = "device";
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, 6}};

    (void)state;
    assert_int_equal(C_FindObjectsInit(h, q, 2), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h, q, 2), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_FindObjects(h, found, 8, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    priv = found[0];

    CK_BBOOL sens = 0, extr = 1, always = 1, local = 0;
    CK_KEY_TYPE kt = 0;
    uint8_t params[16], id[8], value[64];
    CK_ATTRIBUTE a[] = {
        {CKA_SENSITIVE, &sens, 1},        {CKA_EXTRACTABLE, &extr, 1},
        {CKA_ALWAYS_AUTHENTICATE, &always, 1}, {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_EC_PARAMS, params, sizeof params}, {CKA_ID, id, sizeof id},
        {0x80001234UL, value, sizeof value}, {CKA_VALUE, value, sizeof value},
        {CKA_LOCAL, &local, 1},
    };
    /* every entry is processed; the first failing one names the result */
    assert_int_equal(C_GetAttributeValue(h, priv, a, 9), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_true(sens && !extr && !always && local);
    assert_int_equal(kt, CKK_EC);
    assert_int_equal(a[4].ulValueLen, sizeof p256_oid);
    assert_memory_equal(params, p256_oid, sizeof p256_oid);
    assert_int_equal(a[5].ulValueLen, 1);
    assert_int_equal(id[0], 0x01);
    assert_int_equal(a[6].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(a[7].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CK_ATTRIBUTE secret = {CKA_VALUE, value, sizeof value};
    assert_int_equal(C_GetAttributeValue(h, priv, &secret, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(secret.ulValueLen, CK_UNAVAILABLE_INFORMATION);

    /* only the unknown attribute: CKR_ATTRIBUTE_TYPE_INVALID, the rest filled */
    CK_ATTRIBUTE b[] = {{0x80001234UL, value, sizeof value}, {CKA_KEY_TYPE, &kt, sizeof kt}};
    kt = 99;
    assert_int_equal(C_GetAttributeValue(h, priv, b, 2), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(kt, CKK_EC);
    /* length query, then a too small buffer */
    CK_ATTRIBUTE c = {CKA_PUBLIC_KEY_INFO, NULL, 0};
    assert_int_equal(C_GetAttributeValue(h, priv, &c, 1), CKR_OK);
    assert_int_equal(c.ulValueLen, 91);
    c.pValue = value;
    c.ulValueLen = 10;
    assert_int_equal(C_GetAttributeValue(h, priv, &c, 1), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(c.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(C_GetAttributeValue(h, 777777, &c, 1), CKR_OBJECT_HANDLE_INVALID);

    /* the pair shares label and ID; all objects are listed */
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(C_FindObjects(h, found, 8, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(C_FindObjects(h, found, 8, &n), CKR_OPERATION_NOT_INITIALIZED);

    /* logged out: only the public key is found */
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(C_FindObjects(h, found, 8, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_digest_random(void **state)
{
    CK_SESSION_HANDLE h = open_rw(SLOT_EDGE);
    CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
    uint8_t out[32], ref[32], r1[64], r2[64];
    CK_ULONG len = 0;
    unsigned int rl;

    (void)state;
    EVP_Digest("abc", 3, ref, &rl, EVP_sha256(), NULL);
    assert_int_equal(C_DigestInit(h, &sha), CKR_OK);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR) "abc", 3, NULL, &len), CKR_OK);
    assert_int_equal(len, 32);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &len), CKR_OK);
    assert_memory_equal(out, ref, 32);
    assert_int_equal(C_DigestInit(h, &sha), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, (CK_BYTE_PTR) "a", 1), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, (CK_BYTE_PTR) "bc", 2), CKR_OK);
    len = sizeof out;
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OK);
    assert_memory_equal(out, ref, 32);

    assert_int_equal(C_GenerateRandom(h, r1, sizeof r1), CKR_OK);
    assert_int_equal(C_GenerateRandom(h, r2, sizeof r2), CKR_OK);
    assert_memory_not_equal(r1, r2, sizeof r1);
    assert_int_equal(C_GenerateRandom(h, NULL, 4), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_SeedRandom(h, r1, 4), CKR_RANDOM_SEED_NOT_SUPPORTED);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_ecdh(void **state)
{
    CK_SESSION_HANDLE h = user_session();
    CK_OBJECT_HANDLE pub, priv, secret;
    EVP_PKEY *peer = EVP_EC_gen("P-256"), *chip_pub;
    uint8_t peer_pt[65], value[32], ref[32];
    size_t plen = sizeof peer_pt, rlen = sizeof ref;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                           {CKA_TOKEN, &no, 1}, {CKA_SENSITIVE, &no, 1},
                           {CKA_EXTRACTABLE, &yes, 1}};

    (void)state;
    gen_p256(h, "kx", 0x02, &pub, &priv);
    chip_pub = pkey_of(h, pub);
    EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, peer_pt, sizeof peer_pt, &plen);
    CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 0, NULL, plen, peer_pt};
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &p, sizeof p};
    assert_int_equal(C_DeriveKey(h, &mech, priv, tmpl, 5, &secret), CKR_OK);
    CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof value};
    assert_int_equal(C_GetAttributeValue(h, secret, &v, 1), CKR_OK);
    assert_int_equal(v.ulValueLen, 32);

    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(peer, NULL);
    EVP_PKEY_derive_init(ctx);
    EVP_PKEY_derive_set_peer(ctx, chip_pub);
    assert_int_equal(EVP_PKEY_derive(ctx, ref, &rlen), 1);
    assert_memory_equal(value, ref, 32);
    EVP_PKEY_CTX_free(ctx);

    /* a point that is not on the curve, a KDF we do not do */
    peer_pt[40] ^= 0x55;
    assert_int_not_equal(C_DeriveKey(h, &mech, priv, tmpl, 5, &secret), CKR_OK);
    p.kdf = CKD_SHA256_KDF;
    assert_int_equal(C_DeriveKey(h, &mech, priv, tmpl, 5, &secret), CKR_MECHANISM_PARAM_INVALID);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(chip_pub);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

static void test_destroy_and_full(void **state)
{
    CK_SESSION_HANDLE h = user_session(), ro;
    CK_OBJECT_HANDLE pubs[8], privs[8];
    int made = 0;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pubt[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid}};
    CK_RV rv;

    (void)state;
    /* fill the free key slots; the next one is refused with CKR_DEVICE_MEMORY */
    while ((rv = C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &pubs[made], &privs[made])) ==
           CKR_OK)
        made++;
    assert_int_equal(rv, CKR_DEVICE_MEMORY);
    assert_true(made >= 1);
    /* defaults: label "slotN", ID one byte N */
    char label[16] = "";
    CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof label - 1};
    assert_int_equal(C_GetAttributeValue(h, privs[0], &a, 1), CKR_OK);
    assert_memory_equal(label, "slot", 4);

    assert_int_equal(C_DestroyObject(h, pubs[0]), CKR_ACTION_PROHIBITED);
    assert_int_equal(C_OpenSession(SLOT_EDGE, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
    assert_int_equal(C_DestroyObject(ro, privs[0]), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_GenerateKeyPair(ro, &mech, pubt, 1, NULL, 0, &pubs[7], &privs[7]),
                     CKR_SESSION_READ_ONLY);
    assert_int_equal(C_CloseSession(ro), CKR_OK);
    assert_int_equal(C_DestroyObject(h, privs[0]), CKR_OK);
    assert_int_equal(C_DestroyObject(h, privs[0]), CKR_OBJECT_HANDLE_INVALID);
    /* the slot is free again */
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &pubs[0], &privs[0]), CKR_OK);

    /* templates */
    uint8_t p384[] = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};
    CK_ATTRIBUTE t384[] = {{CKA_EC_PARAMS, p384, sizeof p384}};
    assert_int_equal(C_GenerateKeyPair(h, &mech, t384, 1, NULL, 0, &pubs[7], &privs[7]),
                     CKR_CURVE_NOT_SUPPORTED);
    assert_int_equal(C_GenerateKeyPair(h, &mech, NULL, 0, NULL, 0, &pubs[7], &privs[7]),
                     CKR_TEMPLATE_INCOMPLETE);
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE extract[] = {{CKA_EXTRACTABLE, &yes, 1}};
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 1, extract, 1, &pubs[7], &privs[7]),
                     CKR_TEMPLATE_INCONSISTENT);
    CK_ATTRIBUTE unknown[] = {{0x8000abcdUL, &yes, 1}};
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 1, unknown, 1, &pubs[7], &privs[7]),
                     CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* login = none: no PIN gates the keys; C_Login accepts anything, NULL too. */
static void test_login_none(void **state)
{
    CK_SESSION_HANDLE h;
    CK_TOKEN_INFO ti;
    CK_OBJECT_HANDLE pub, priv;
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
    uint8_t dig[32] = {1}, sig[64];
    CK_ULONG siglen = sizeof sig;
    CK_BBOOL priv_flag = CK_TRUE;
    CK_ATTRIBUTE a = {CKA_PRIVATE, &priv_flag, 1};

    (void)state;
    assert_int_equal(C_GetTokenInfo(SLOT_OPEN, &ti), CKR_OK);
    assert_false(ti.flags & CKF_LOGIN_REQUIRED);
    h = open_rw(SLOT_OPEN);
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pubt[] = {{CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid}};
    assert_int_equal(C_GenerateKeyPair(h, &mech, pubt, 1, NULL, 0, &pub, &priv), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, priv, &a, 1), CKR_OK);
    assert_false(priv_flag);
    assert_int_equal(C_SignInit(h, &ecdsa, priv), CKR_OK);
    assert_int_equal(C_Sign(h, dig, 32, sig, &siglen), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, NULL, 0), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, NULL, 0), CKR_USER_ALREADY_LOGGED_IN);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* A key generated by one process is used by the next: the chip state is in
 * the emulator's state file and the label in the host store. */
static void test_across_processes(void **state)
{
    CK_SESSION_HANDLE h = user_session();
    CK_OBJECT_HANDLE pub, priv;
    pid_t pid;
    int status;

    (void)state;
    assert_int_equal(C_CloseSession(h), CKR_OK);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child must initialise anew; then it makes a key */
        CK_ULONG n;
        if (C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
            _exit(2);
        if (C_Initialize(NULL) != CKR_OK)
            _exit(3);
        h = user_session();
        gen_p256(h, "from-child", 0x42, &pub, &priv);
        C_Finalize(NULL);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    h = user_session();
    uint8_t id = 0x42;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &id, 1}};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    assert_int_equal(C_FindObjectsInit(h, q, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, found, 2, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
    uint8_t dig[32] = {9}, sig[64];
    CK_ULONG siglen = sizeof sig;
    assert_int_equal(C_SignInit(h, &ecdsa, found[0]), CKR_OK);
    assert_int_equal(C_Sign(h, dig, 32, sig, &siglen), CKR_OK);
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest no_init[] = {
        cmocka_unit_test(test_function_lists),
        cmocka_unit_test(test_initialize),
    };
    const struct CMUnitTest with_init[] = {
        cmocka_unit_test_setup_teardown(test_slots, init, fini),
        cmocka_unit_test_setup_teardown(test_mechanisms, init, fini),
        cmocka_unit_test_setup_teardown(test_blank_chip, init, fini),
        cmocka_unit_test_setup_teardown(test_sessions, init, fini),
        cmocka_unit_test_setup_teardown(test_login_and_pins, init, fini),
        cmocka_unit_test_setup_teardown(test_pin_lockout, init, fini),
        cmocka_unit_test_setup_teardown(test_keygen_sign_verify, init, fini),
        cmocka_unit_test_setup_teardown(test_attributes_and_find, init, fini),
        cmocka_unit_test_setup_teardown(test_digest_random, init, fini),
        cmocka_unit_test_setup_teardown(test_ecdh, init, fini),
        cmocka_unit_test_setup_teardown(test_login_none, init, fini),
        cmocka_unit_test_setup_teardown(test_across_processes, init, fini),
        cmocka_unit_test_setup_teardown(test_destroy_and_full, init, fini),
    };
    int fails = 0;

    if (group_setup(NULL) != 0)
        return 1;
    fails += cmocka_run_group_tests_name("module: entry points", no_init, NULL, NULL);
    fails += cmocka_run_group_tests_name("module: on the emulated ATECC608", with_init, NULL, NULL);
    group_teardown(NULL);
    return fails;
}
