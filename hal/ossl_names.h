/* Key type names for EVP_PKEY_CTX_new_from_name(). The OIDs, never "EC" or
 * "RSA": a short name maps to a legacy NID, and OpenSSL then hands the context
 * to whatever ENGINE the host application made default (openssl -engine
 * pkcs11, curl, mosquitto), whose methods cannot build keys from data. An OID
 * name goes straight to the provider. seccki runs inside such applications,
 * emulators included. For the same reason keys are never made with
 * EVP_EC_gen() or EVP_PKEY_Q_keygen(). */
#ifndef SECCKI_OSSL_NAMES_H
#define SECCKI_OSSL_NAMES_H

#define OSSL_KEYTYPE_EC "1.2.840.10045.2.1"
#define OSSL_KEYTYPE_RSA "1.2.840.113549.1.1.1"

#endif
