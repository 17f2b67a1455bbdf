/* Slots and tokens: probing the configured chips, slot/token information and
 * the mechanism list, which is built from each driver's capabilities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/bus.h"
#include "hal/log.h"
#include "module/internal.h"

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

enum mech_need { NEED_NONE, NEED_EC, NEED_EC384, NEED_ECDH, NEED_RSA, NEED_PSS };

struct mech_def {
    CK_MECHANISM_TYPE type;
    enum mech_need need;
    CK_FLAGS flags;
    bool key_sized; /* min/max key size apply */
};

static const struct mech_def mechs[] = {
    {CKM_EC_KEY_PAIR_GEN, NEED_EC, CKF_HW | CKF_GENERATE_KEY_PAIR | EC_FLAGS, true},
    {CKM_ECDSA, NEED_EC, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS, true},
    {CKM_ECDSA_SHA1, NEED_EC, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS, true},
    {CKM_ECDSA_SHA256, NEED_EC, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS, true},
    {CKM_ECDSA_SHA384, NEED_EC384, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS, true},
    {CKM_ECDSA_SHA512, NEED_EC384, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS, true},
    {CKM_ECDH1_DERIVE, NEED_ECDH, CKF_HW | CKF_DERIVE | EC_FLAGS, true},
    {CKM_RSA_PKCS_KEY_PAIR_GEN, NEED_RSA, CKF_HW | CKF_GENERATE_KEY_PAIR, true},
    {CKM_RSA_PKCS, NEED_RSA, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_SHA256_RSA_PKCS, NEED_RSA, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_SHA384_RSA_PKCS, NEED_RSA, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_SHA512_RSA_PKCS, NEED_RSA, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_RSA_PKCS_PSS, NEED_PSS, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_SHA256_RSA_PKCS_PSS, NEED_PSS, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_SHA384_RSA_PKCS_PSS, NEED_PSS, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_SHA512_RSA_PKCS_PSS, NEED_PSS, CKF_HW | CKF_SIGN | CKF_VERIFY, true},
    {CKM_SHA256, NEED_NONE, CKF_DIGEST, false},
    {CKM_SHA384, NEED_NONE, CKF_DIGEST, false},
    {CKM_SHA512, NEED_NONE, CKF_DIGEST, false},
};

static const unsigned curve_bits[] = {0, 256, 384, 521};

static void ec_range(const struct tok_caps *c, CK_ULONG *min, CK_ULONG *max)
{
    *min = 0;
    *max = 0;
    for (unsigned cv = TOK_CURVE_P256; cv <= TOK_CURVE_P521; cv++) {
        if (!(c->curves & (1u << cv)))
            continue;
        if (*min == 0)
            *min = curve_bits[cv];
        *max = curve_bits[cv];
    }
}

static bool mech_available(const struct tok_caps *c, const struct mech_def *d)
{
    switch (d->need) {
    case NEED_NONE:
        return true;
    case NEED_EC:
        return c->curves != 0;
    case NEED_EC384:
        return (c->curves & ((1u << TOK_CURVE_P384) | (1u << TOK_CURVE_P521))) != 0;
    case NEED_ECDH:
        return c->curves != 0 && c->ecdh;
    case NEED_RSA:
        return c->rsa_max_bits != 0;
    case NEED_PSS:
        return c->rsa_max_bits != 0 && c->rsa_pss;
    }
    return false;
}

static const struct mech_def *mech_find(const struct slot *s, CK_MECHANISM_TYPE type)
{
    if (s->caps == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
        if (mechs[i].type == type && mech_available(s->caps, &mechs[i]))
            return &mechs[i];
    return NULL;
}

bool slot_has_mechanism(const struct slot *s, CK_MECHANISM_TYPE type)
{
    return mech_find(s, type) != NULL;
}

CK_RV slot_mechanisms(const struct slot *s, CK_MECHANISM_TYPE *list, CK_ULONG *n)
{
    CK_ULONG count = 0;
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++) {
        if (s->caps == NULL || !mech_available(s->caps, &mechs[i]))
            continue;
        if (list != NULL && count < *n)
            list[count] = mechs[i].type;
        else if (list != NULL)
            rv = CKR_BUFFER_TOO_SMALL;
        count++;
    }
    *n = count;
    return rv;
}

CK_RV slot_mechanism_info(const struct slot *s, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    const struct mech_def *d = mech_find(s, type);

    if (d == NULL)
        return CKR_MECHANISM_INVALID;
    memset(info, 0, sizeof *info);
    info->flags = d->flags;
    if (!d->key_sized)
        return CKR_OK;
    if (d->need == NEED_RSA || d->need == NEED_PSS) {
        info->ulMinKeySize = s->caps->rsa_min_bits;
        info->ulMaxKeySize = s->caps->rsa_max_bits;
    } else {
        ec_range(s->caps, &info->ulMinKeySize, &info->ulMaxKeySize);
    }
    return CKR_OK;
}

bool slot_login_required(const struct slot *s)
{
    return s->conf.login == CONF_LOGIN_PIN && s->store.user.set;
}

bool slot_user_ok(const struct slot *s)
{
    return !slot_login_required(s) || s->login == LOGIN_USER;
}

void slot_close(struct slot *s)
{
    if (s->dev != NULL)
        s->ops->close(s->dev);
    if (s->bus != NULL)
        bus_close(s->bus);
    store_close(&s->store);
    s->dev = NULL;
    s->bus = NULL;
    s->caps = NULL;
    s->login = LOGIN_NONE;
}

/* Chips with room keep a copy of the token's store in this binary object, so
 * labels, IDs and PIN verifiers survive a reflash of the host. */
#define STORE_OBJECT_ID 0x7A5EC000u
#define STORE_COPY_MAX (32 * 1024)

static int store_mirror(void *ctx, const uint8_t *blob, size_t len)
{
    struct slot *s = ctx;

    return s->ops->data_write(s->dev, STORE_OBJECT_ID, blob, len) == TOK_OK ? 0 : -1;
}

static void store_attach_chip(struct slot *s)
{
    uint8_t *copy;
    size_t len = STORE_COPY_MAX;

    if (s->ops->data_read == NULL || s->ops->data_write == NULL)
        return;
    s->store.mirror = store_mirror;
    s->store.mirror_ctx = s;
    if (s->store.broken || s->store.ino != 0)
        return; /* the host file exists: it is the one in use */
    copy = malloc(len);
    if (copy != NULL && s->ops->data_read(s->dev, STORE_OBJECT_ID, copy, &len) == TOK_OK) {
        if (store_restore(&s->store, copy, len) == 0)
            log_info("slot", "token %s: labels and PINs restored from the chip's copy into %s",
                     s->conf.name, s->store.path);
        else
            log_error("slot", "token %s: the chip's copy of the store does not parse",
                      s->conf.name);
    }
    free(copy);
}

bool slot_probe(struct module *m, struct slot *s)
{
    struct bus_opts bo;
    char err[256] = "";
    int rc;

    (void)m;
    if (s->dev != NULL)
        return true;
    if (!s->conf.valid || s->ops == NULL)
        return false;
    if (s->bus == NULL) {
        bo = (struct bus_opts){.chip = s->conf.chip,
                               .sim_profile = s->conf.sim_profile[0] ? s->conf.sim_profile : NULL,
                               .sim_faults = s->conf.sim_faults[0] ? s->conf.sim_faults : NULL};
        rc = bus_open(s->conf.bus, &bo, &s->bus, err, sizeof err);
        if (rc != BUS_OK) {
            log_error("slot", "token %s: cannot open bus %s: %s", s->conf.name, s->conf.bus,
                      err[0] ? err : bus_strerror(rc));
            s->bus = NULL;
            return false;
        }
    }
    struct tok_opts to = {.address = s->conf.address ? s->conf.address : s->ops->default_address};
    rc = s->ops->open(s->bus, &to, &s->dev);
    if (rc != TOK_OK) {
        log_warn("slot", "token %s: %s at 0x%02x on %s does not answer (%s); slot %lu has no token",
                 s->conf.name, s->conf.chip, to.address, s->conf.bus, tok_strerror(rc),
                 (unsigned long)s->id);
        s->dev = NULL;
        return false;
    }
    if (s->ops->info(s->dev, &s->info) != TOK_OK) {
        log_error("slot", "token %s: cannot read chip information", s->conf.name);
        slot_close(s);
        return false;
    }
    s->caps = s->ops->caps(s->dev);
    store_open(&s->store, s->conf.store, s->conf.chip, s->info.serial);
    store_attach_chip(s);
    s->objs_loaded = false;
    log_info("slot", "token %s: %s serial %s on %s", s->conf.name, s->info.model, s->info.serial,
             s->conf.bus);
    return true;
}

struct slot *slot_get(struct module *m, CK_SLOT_ID id)
{
    return id < m->nslots ? &m->slots[id] : NULL;
}

CK_RV slot_enter(CK_SLOT_ID id, struct module **mp, struct slot **sp)
{
    struct module *m = mod_get();
    struct slot *s;
    CK_RV rv;

    if (mod_check(m) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    rv = mod_lock(m);
    if (rv != CKR_OK)
        return rv;
    s = slot_get(m, id);
    if (s == NULL) {
        mod_unlock(m);
        return CKR_SLOT_ID_INVALID;
    }
    if (!slot_probe(m, s)) {
        mod_unlock(m);
        return CKR_TOKEN_NOT_PRESENT;
    }
    if (store_refresh(&s->store) > 0)
        s->objs_loaded = false;
    *mp = m;
    *sp = s;
    return CKR_OK;
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
    struct module *m = mod_get();
    CK_ULONG n = 0;
    CK_RV rv;

    if (mod_check(m) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = mod_lock(m);
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < m->nslots; i++) {
        if (tokenPresent && !slot_probe(m, &m->slots[i]))
            continue;
        if (pSlotList != NULL && n < *pulCount)
            pSlotList[n] = m->slots[i].id;
        else if (pSlotList != NULL)
            rv = CKR_BUFFER_TOO_SMALL;
        n++;
    }
    *pulCount = n;
    mod_unlock(m);
    return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    struct module *m = mod_get();
    struct slot *s;
    char desc[320];
    CK_RV rv;

    if (mod_check(m) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = mod_lock(m);
    if (rv != CKR_OK)
        return rv;
    s = slot_get(m, slotID);
    if (s == NULL) {
        mod_unlock(m);
        return CKR_SLOT_ID_INVALID;
    }
    memset(pInfo, 0, sizeof *pInfo);
    snprintf(desc, sizeof desc, "seccki %s %s %s", s->conf.name, s->conf.chip, s->conf.bus);
    pad_copy(pInfo->slotDescription, sizeof pInfo->slotDescription, desc);
    pad_copy(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "seccki");
    pInfo->flags = CKF_HW_SLOT;
    if (slot_probe(m, s)) {
        pInfo->flags |= CKF_TOKEN_PRESENT;
        pInfo->hardwareVersion.major = s->info.hw_major;
        pInfo->hardwareVersion.minor = s->info.hw_minor;
        pInfo->firmwareVersion.major = s->info.fw_major;
        pInfo->firmwareVersion.minor = s->info.fw_minor;
    }
    mod_unlock(m);
    return CKR_OK;
}

static CK_FLAGS pin_flags(const struct store_pin *p, CK_FLAGS low, CK_FLAGS final, CK_FLAGS locked)
{
    if (!p->set || p->fails == 0)
        return 0;
    if (p->fails >= MOD_PIN_TRIES)
        return locked;
    if (p->fails == MOD_PIN_TRIES - 1)
        return low | final;
    return low;
}

const char *slot_token_label(const struct slot *s)
{
    return s->store.label[0] ? s->store.label : s->conf.label;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    struct module *m;
    struct slot *s;
    size_t sl;
    CK_RV rv;

    if (pInfo == NULL)
        return args_bad();
    rv = slot_enter(slotID, &m, &s);
    if (rv != CKR_OK)
        return rv;
    /* After objects changed, the chip's free memory is read again (once). */
    if (obj_refresh(s) == CKR_OK && s->info_stale && s->info.free_memory >= 0 &&
        s->ops->info(s->dev, &s->info) == TOK_OK)
        s->info_stale = false;
    memset(pInfo, 0, sizeof *pInfo);
    pad_copy(pInfo->label, sizeof pInfo->label, slot_token_label(s));
    pad_copy(pInfo->manufacturerID, sizeof pInfo->manufacturerID, s->info.manufacturer);
    pad_copy(pInfo->model, sizeof pInfo->model, s->info.model);
    /* The field holds 16 characters; the end of a chip serial is what varies. */
    sl = strlen(s->info.serial);
    pad_copy(pInfo->serialNumber, sizeof pInfo->serialNumber,
             s->info.serial + (sl > 16 ? sl - 16 : 0));
    /* an ATECC608 before seccki-tool provision: no key slots, RNG in test mode */
    pInfo->flags = s->info.provisioned ? CKF_RNG : CKF_WRITE_PROTECTED;
    if (s->store.initialized)
        pInfo->flags |= CKF_TOKEN_INITIALIZED;
    if (s->store.user.set)
        pInfo->flags |= CKF_USER_PIN_INITIALIZED;
    if (slot_login_required(s))
        pInfo->flags |= CKF_LOGIN_REQUIRED;
    pInfo->flags |= pin_flags(&s->store.user, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                              CKF_USER_PIN_LOCKED);
    pInfo->flags |= pin_flags(&s->store.so, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
                              CKF_SO_PIN_LOCKED);
    pInfo->ulMaxSessionCount = MOD_MAX_SESSIONS;
    pInfo->ulSessionCount = session_count(m, slotID, false);
    pInfo->ulMaxRwSessionCount = MOD_MAX_SESSIONS;
    pInfo->ulRwSessionCount = session_count(m, slotID, true);
    pInfo->ulMaxPinLen = MOD_PIN_MAX;
    pInfo->ulMinPinLen = MOD_PIN_MIN;
    pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePublicMemory = s->info.free_memory >= 0 ? (CK_ULONG)s->info.free_memory
                                                         : CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePrivateMemory = pInfo->ulFreePublicMemory;
    pInfo->hardwareVersion.major = s->info.hw_major;
    pInfo->hardwareVersion.minor = s->info.hw_minor;
    pInfo->firmwareVersion.major = s->info.fw_major;
    pInfo->firmwareVersion.minor = s->info.fw_minor;
    mod_unlock(m);
    return CKR_OK;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                         CK_ULONG_PTR pulCount)
{
    struct module *m;
    struct slot *s;
    CK_RV rv;

    if (pulCount == NULL)
        return args_bad();
    rv = slot_enter(slotID, &m, &s);
    if (rv != CKR_OK)
        return rv;
    rv = slot_mechanisms(s, pMechanismList, pulCount);
    mod_unlock(m);
    return rv;
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
    struct module *m;
    struct slot *s;
    CK_RV rv;

    if (pInfo == NULL)
        return args_bad();
    rv = slot_enter(slotID, &m, &s);
    if (rv != CKR_OK)
        return rv;
    rv = slot_mechanism_info(s, type, pInfo);
    mod_unlock(m);
    return rv;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    (void)pSlot;
    if (mod_check(mod_get()) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    /* Chips are soldered on: no insertion or removal events. */
    return (flags & CKF_DONT_BLOCK) ? CKR_NO_EVENT : CKR_FUNCTION_NOT_SUPPORTED;
}
