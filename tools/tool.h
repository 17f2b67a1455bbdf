/* seccki-tool's parts: the chip commands (seccki-tool.c) and the PKCS#11
 * flows (tool_flows.c). */
#ifndef SECCKI_TOOL_H
#define SECCKI_TOOL_H

#include <stdbool.h>

#include "module/pkcs11_3.h"

struct flow_opts {
    const char *label, *id_hex;         /* the object to act on */
    const char *new_label, *new_id_hex; /* relabel */
    const char *type;                   /* keygen: ec|ec384|ec521|rsaN; others: private|public|cert */
    const char *subject;                /* csr */
    const char *out;                    /* output file (stdout when NULL) */
    const char *pin;                    /* else $SECCKI_PIN */
    const char *file;                   /* import-cert input */
    bool der;                           /* write DER rather than PEM */
    bool unpaired;                      /* import-cert: no key needs to match */
};

/* Runs a flow on the token in slot; -1 when cmd is not a flow. */
int flow_run(const char *cmd, CK_SLOT_ID slot, const struct flow_opts *o);

/* One line: class, label, PKCS#11 URI. */
void tool_print_object(CK_SESSION_HANDLE sh, CK_OBJECT_HANDLE oh, const CK_TOKEN_INFO *ti);
const char *tool_class_name(CK_OBJECT_CLASS cls);
const char *tool_ckr_name(CK_RV rv);

#endif
