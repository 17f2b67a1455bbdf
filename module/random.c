/* C_GenerateRandom from the chip's RNG; C_SeedRandom is refused: a chip RNG
 * takes no seed from the host. */
#include "hal/log.h"
#include "module/internal.h"

#define RANDOM_CHUNK 256

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if (pRandomData == NULL && ulRandomLen != 0)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    for (CK_ULONG done = 0; done < ulRandomLen && rv == CKR_OK;) {
        CK_ULONG n = ulRandomLen - done < RANDOM_CHUNK ? ulRandomLen - done : RANDOM_CHUNK;
        int rc = s->ops->random(s->dev, pRandomData + done, n);
        if (rc != TOK_OK) {
            log_error("random", "token %s: %s", s->conf.name, tok_strerror(rc));
            /* an unprovisioned chip's RNG is not to be used; the token says CKF_RNG only after */
            rv = rc == TOK_E_LOCKED ? CKR_FUNCTION_FAILED : ckr_from_tok(rc, TCTX_OTHER);
        }
        done += n;
    }
    session_leave(m);
    return rv;
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    struct module *m;
    struct session *sess;
    struct slot *s;
    CK_RV rv;

    if (pSeed == NULL && ulSeedLen != 0)
        return args_bad();
    rv = session_enter(hSession, &m, &sess, &s);
    if (rv != CKR_OK)
        return rv;
    session_leave(m);
    return CKR_RANDOM_SEED_NOT_SUPPORTED;
}
