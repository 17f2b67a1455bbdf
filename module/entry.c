/* The function lists and interfaces. C_GetFunctionList hands out the 2.40
 * table, whose version says 2.40 (aws-c-io refuses anything else); the 3.0
 * table is offered only through C_GetInterface / C_GetInterfaceList. Functions
 * with no meaning for a signing chip answer CKR_FUNCTION_NOT_SUPPORTED. */
#include <string.h>

#include "module/internal.h"

#define FUNCTIONS_2_40(X)                                                                          \
    X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList)               \
    X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo)                 \
    X(C_InitToken) X(C_InitPIN) X(C_SetPIN) X(C_OpenSession) X(C_CloseSession)                     \
    X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState) X(C_SetOperationState)        \
    X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject) X(C_DestroyObject)                    \
    X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit)          \
    X(C_FindObjects) X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate)        \
    X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal)           \
    X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey) X(C_DigestFinal)                  \
    X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit)                    \
    X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal)                \
    X(C_VerifyRecoverInit) X(C_VerifyRecover) X(C_DigestEncryptUpdate)                             \
    X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate) X(C_GenerateKey)      \
    X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey) X(C_SeedRandom)                \
    X(C_GenerateRandom) X(C_GetFunctionStatus) X(C_CancelFunction) X(C_WaitForSlotEvent)

#define ENTRY(name) name,
#define ENTRY_3_0(name, args) name,

static const CK_FUNCTION_LIST list_2_40 = {{2, 40}, FUNCTIONS_2_40(ENTRY)};
static const CK_FUNCTION_LIST_3_0 list_3_0 = {
    {3, 0}, FUNCTIONS_2_40(ENTRY) SECCKI_3_0_FUNCTIONS(ENTRY_3_0)};

/* Never written: handed out by pointer like the function lists. */
static const CK_INTERFACE ifaces[] = {
    {(CK_CHAR *)"PKCS 11", (CK_VOID_PTR)&list_3_0, 0},
    {(CK_CHAR *)"PKCS 11", (CK_VOID_PTR)&list_2_40, 0},
};

#define NINTERFACES (sizeof ifaces / sizeof ifaces[0])

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (ppFunctionList == NULL)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = (CK_FUNCTION_LIST_PTR)&list_2_40;
    return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    if (pInterfacesList == NULL) {
        *pulCount = NINTERFACES;
        return CKR_OK;
    }
    if (*pulCount < NINTERFACES) {
        *pulCount = NINTERFACES;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, ifaces, sizeof ifaces);
    *pulCount = NINTERFACES;
    return CKR_OK;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    if (ppInterface == NULL)
        return CKR_ARGUMENTS_BAD;
    if (pInterfaceName != NULL && strcmp((const char *)pInterfaceName, "PKCS 11") != 0)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < NINTERFACES; i++) {
        const CK_VERSION *v = ifaces[i].pFunctionList;
        if (pVersion != NULL && (pVersion->major != v->major || pVersion->minor != v->minor))
            continue;
        if ((flags & ifaces[i].flags) != flags)
            continue;
        *ppInterface = mod_interface(&ifaces[i], i);
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

/* ---- not supported by a signing secure element ---- */

#define NOT_SUPPORTED(name, args)                                                                  \
    CK_RV name args                                                                                \
    {                                                                                              \
        return CKR_FUNCTION_NOT_SUPPORTED;                                                         \
    }

/* Casts keep the unused parameters quiet without a body per function. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

NOT_SUPPORTED(C_EncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED(C_Encrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen))
NOT_SUPPORTED(C_EncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                                CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen))
NOT_SUPPORTED(C_EncryptFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                               CK_ULONG_PTR pulLastEncryptedPartLen))
NOT_SUPPORTED(C_DecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED(C_Decrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                          CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen))
NOT_SUPPORTED(C_DecryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                CK_ULONG_PTR pulPartLen))
NOT_SUPPORTED(C_DecryptFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                               CK_ULONG_PTR pulLastPartLen))
NOT_SUPPORTED(C_SignRecoverInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                  CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED(C_SignRecover, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                              CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen))
NOT_SUPPORTED(C_VerifyRecoverInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                    CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED(C_VerifyRecover, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                CK_ULONG ulSignatureLen, CK_BYTE_PTR pData,
                                CK_ULONG_PTR pulDataLen))
NOT_SUPPORTED(C_DigestEncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                      CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                      CK_ULONG_PTR pulEncryptedPartLen))
NOT_SUPPORTED(C_DecryptDigestUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                      CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                      CK_ULONG_PTR pulPartLen))
NOT_SUPPORTED(C_SignEncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                    CK_ULONG_PTR pulEncryptedPartLen))
NOT_SUPPORTED(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                      CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                      CK_ULONG_PTR pulPartLen))
NOT_SUPPORTED(C_GenerateKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                              CK_OBJECT_HANDLE_PTR phKey))
NOT_SUPPORTED(C_WrapKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                          CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen))
NOT_SUPPORTED(C_UnwrapKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                            CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                            CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                            CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey))

/* The 3.0 message-based functions: no AEAD or message signing on these chips. */
#define NOT_SUPPORTED_3_0(name, args) NOT_SUPPORTED(name, args)
NOT_SUPPORTED_3_0(C_MessageEncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                         CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED_3_0(C_EncryptMessage,
                  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
                   CK_BYTE_PTR pPlaintext, CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
                   CK_ULONG_PTR pulCiphertextLen))
NOT_SUPPORTED_3_0(C_EncryptMessageBegin,
                  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen))
NOT_SUPPORTED_3_0(C_EncryptMessageNext,
                  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                   CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
                   CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen,
                   CK_FLAGS flags))
NOT_SUPPORTED_3_0(C_MessageEncryptFinal, (CK_SESSION_HANDLE hSession))
NOT_SUPPORTED_3_0(C_MessageDecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                         CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED_3_0(C_DecryptMessage,
                  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
                   CK_BYTE_PTR pCiphertext, CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
                   CK_ULONG_PTR pulPlaintextLen))
NOT_SUPPORTED_3_0(C_DecryptMessageBegin,
                  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                   CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen))
NOT_SUPPORTED_3_0(C_DecryptMessageNext,
                  (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                   CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen,
                   CK_BYTE_PTR pPlaintextPart, CK_ULONG_PTR pulPlaintextPartLen,
                   CK_FLAGS flags))
NOT_SUPPORTED_3_0(C_MessageDecryptFinal, (CK_SESSION_HANDLE hSession))
NOT_SUPPORTED_3_0(C_MessageSignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                      CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED_3_0(C_SignMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                  CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                  CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen))
NOT_SUPPORTED_3_0(C_SignMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                       CK_ULONG ulParameterLen))
NOT_SUPPORTED_3_0(C_SignMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
                                      CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                      CK_ULONG_PTR pulSignatureLen))
NOT_SUPPORTED_3_0(C_MessageSignFinal, (CK_SESSION_HANDLE hSession))
NOT_SUPPORTED_3_0(C_MessageVerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                        CK_OBJECT_HANDLE hKey))
NOT_SUPPORTED_3_0(C_VerifyMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen))
NOT_SUPPORTED_3_0(C_VerifyMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                         CK_ULONG ulParameterLen))
NOT_SUPPORTED_3_0(C_VerifyMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                        CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
                                        CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                        CK_ULONG ulSignatureLen))
NOT_SUPPORTED_3_0(C_MessageVerifyFinal, (CK_SESSION_HANDLE hSession))

/* Legacy parallel-function calls: the standard's answer is fixed. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
    return mod_check(mod_get()) != CKR_OK ? CKR_CRYPTOKI_NOT_INITIALIZED
                                          : CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
    return mod_check(mod_get()) != CKR_OK ? CKR_CRYPTOKI_NOT_INITIALIZED
                                          : CKR_FUNCTION_NOT_PARALLEL;
}

#pragma GCC diagnostic pop
