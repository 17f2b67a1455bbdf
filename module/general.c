/* C_Initialize, C_Finalize, C_GetInfo: the module context, its lock and the
 * life cycle across fork. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/log.h"
#include "module/internal.h"

#define SECCKI_VERSION_MAJOR 0
#define SECCKI_VERSION_MINOR 1

/* The module context and the OS lock that guards it (`mod_lock`): the only
 * global state of the library. */
static struct module the_module;
static pthread_mutex_t mod_lock_os = PTHREAD_MUTEX_INITIALIZER;

struct module *mod_get(void)
{
    return &the_module;
}

CK_RV mod_lock(struct module *m)
{
    if (m->app_mutexes)
        return m->mops.lock(m->app_lock);
    return pthread_mutex_lock(&mod_lock_os) == 0 ? CKR_OK : CKR_CANT_LOCK;
}

void mod_unlock(struct module *m)
{
    if (m->app_mutexes)
        m->mops.unlock(m->app_lock);
    else
        pthread_mutex_unlock(&mod_lock_os);
}

CK_RV mod_check(struct module *m)
{
    if (!m->initialized || m->pid != getpid())
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    return CKR_OK;
}

CK_INTERFACE *mod_interface(const CK_INTERFACE *tmpl, size_t i)
{
    CK_INTERFACE *it = &the_module.ifaces[i];

    *it = *tmpl;
    return it;
}

CK_RV args_bad(void)
{
    return mod_check(mod_get()) != CKR_OK ? CKR_CRYPTOKI_NOT_INITIALIZED : CKR_ARGUMENTS_BAD;
}

void pad_copy(CK_UTF8CHAR *dst, size_t dstlen, const char *src)
{
    size_t n = strlen(src);

    memset(dst, ' ', dstlen);
    memcpy(dst, src, n < dstlen ? n : dstlen);
}

/* Frees everything the context holds. In a forked child the chips are left
 * alone: the parent still uses them. */
static void mod_teardown(struct module *m)
{
    for (size_t i = 0; i < MOD_MAX_SESSIONS; i++)
        if (m->sessions[i].handle != 0)
            session_free_ops(&m->sessions[i]);
    for (size_t i = 0; i < m->nslots; i++) {
        obj_free_all(&m->slots[i]);
        slot_close(&m->slots[i]);
    }
    free(m->slots);
    if (m->app_mutexes && m->app_lock != NULL)
        m->mops.destroy(m->app_lock);
    /* Interface records outlive C_Finalize: callers keep their pointers. */
    CK_INTERFACE keep[sizeof m->ifaces / sizeof m->ifaces[0]];
    memcpy(keep, m->ifaces, sizeof keep);
    memset(m, 0, sizeof *m);
    memcpy(m->ifaces, keep, sizeof keep);
}

static CK_RV check_init_args(const CK_C_INITIALIZE_ARGS *a, bool *use_app)
{
    int given = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
                (a->UnlockMutex != NULL);

    if (given != 0 && given != 4)
        return CKR_ARGUMENTS_BAD;
    /* With CKF_OS_LOCKING_OK the library may use either; the OS's is cheaper.
     * Without it, supplied callbacks must be used. */
    *use_app = given == 4 && !(a->flags & CKF_OS_LOCKING_OK);
    if (a->pReserved != NULL)
        log_debug("init", "pReserved given and ignored");
    return CKR_OK;
}

static void mod_open_slots(struct module *m)
{
    const char *path = conf_default_path();

    if (conf_load(path, &m->conf) != 0) {
        log_warn("init", "no configuration at %s: no slots", path);
        m->conf.ntokens = 0;
    }
    m->nslots = m->conf.ntokens;
    m->slots = m->nslots ? calloc(m->nslots, sizeof *m->slots) : NULL;
    if (m->nslots && m->slots == NULL) {
        m->nslots = 0;
        return;
    }
    for (size_t i = 0; i < m->nslots; i++) {
        struct slot *s = &m->slots[i];
        s->id = (CK_SLOT_ID)i;
        s->conf = m->conf.tokens[i];
        s->ops = s->conf.valid ? token_driver_find(s->conf.chip) : NULL;
        if (s->conf.valid && s->ops == NULL)
            log_error("init", "token %s: no driver for chip '%s'", s->conf.name, s->conf.chip);
        slot_probe(m, s);
    }
}

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    struct module *m = mod_get();
    bool use_app = false;
    CK_RV rv;

    if (pInitArgs != NULL) {
        rv = check_init_args((const CK_C_INITIALIZE_ARGS *)pInitArgs, &use_app);
        if (rv != CKR_OK)
            return rv;
    }
    if (pthread_mutex_lock(&mod_lock_os) != 0)
        return CKR_CANT_LOCK;
    if (m->initialized && m->pid == getpid()) {
        pthread_mutex_unlock(&mod_lock_os);
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    }
    if (m->initialized)
        mod_teardown(m);
    if (use_app) {
        const CK_C_INITIALIZE_ARGS *a = pInitArgs;
        m->mops = (struct mutex_ops){a->CreateMutex, a->DestroyMutex, a->LockMutex,
                                     a->UnlockMutex};
        if (m->mops.create(&m->app_lock) != CKR_OK) {
            m->app_mutexes = false;
            pthread_mutex_unlock(&mod_lock_os);
            return CKR_CANT_LOCK;
        }
        m->app_mutexes = true;
    }
    m->pid = getpid();
    m->next_session = 1;
    m->next_object = 1;
    mod_open_slots(m);
    m->initialized = true;
    pthread_mutex_unlock(&mod_lock_os);
    return CKR_OK;
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    struct module *m = mod_get();

    if (pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    if (pthread_mutex_lock(&mod_lock_os) != 0)
        return CKR_CANT_LOCK;
    if (mod_check(m) != CKR_OK) {
        pthread_mutex_unlock(&mod_lock_os);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    /* Calls from other threads hold the application's lock if they use one. */
    if (m->app_mutexes && m->mops.lock(m->app_lock) == CKR_OK)
        m->mops.unlock(m->app_lock);
    mod_teardown(m);
    pthread_mutex_unlock(&mod_lock_os);
    return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    struct module *m = mod_get();

    if (mod_check(m) != CKR_OK)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(pInfo, 0, sizeof *pInfo);
    pInfo->cryptokiVersion.major = 2;
    pInfo->cryptokiVersion.minor = 40;
    pad_copy(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "seccki");
    pad_copy(pInfo->libraryDescription, sizeof pInfo->libraryDescription,
             "seccki secure element module");
    pInfo->libraryVersion.major = SECCKI_VERSION_MAJOR;
    pInfo->libraryVersion.minor = SECCKI_VERSION_MINOR;
    return CKR_OK;
}
