#!/usr/bin/env bash
# Walkthrough (b): an SE050 key and certificate that Greengrass accepts.
#
# AWS IoT Greengrass v2 (its PKCS#11 provider, aws.greengrass.crypto.Pkcs11Provider)
# refuses to start with "Private key and certificate labels must be the same":
# it looks the key up in Java's SunPKCS11 KeyStore, where a key is usable
# only as a PrivateKeyEntry whose alias is the label it shares with its
# certificate. This script makes that pair on the SE050 and checks it the way
# Greengrass does:
#   - the private-key URI and the certificate URI (seccki-tool uri) carry the
#     same object= and id=;
#   - keytool (SunPKCS11) lists the key as a PrivateKeyEntry whose alias is
#     the label — also after a relabel, which moves key and certificate together.
#
# usage: docs/walkthrough-greengrass.sh [DIR]   (default a new temp dir)
# env:   BUILD (default build)
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
MOD=$TOP/$BUILD/libseccki.so
TOOL=$TOP/$BUILD/seccki-tool
DIR=${1:-$(mktemp -d /tmp/seccki-walkthrough-greengrass.XXXXXX)}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
export SECCKI_CONF=$DIR/seccki.conf
export SECCKI_LOG=${SECCKI_LOG:-error}
SO_PIN=12345678
PIN=1234
LABEL=greengrass-core
ID=0a

. "$TOP/tools/demo-lib.sh" # step, run, die and other helpers shared with make demo
need_commands "apt-get install openssl opensc openjdk-17-jdk-headless" openssl pkcs11-tool keytool
[ -x "$TOOL" ] && [ -f "$MOD" ] || die "build first: make BUILD=$BUILD"

# keytool's view of the token; the SunPKCS11 config is Greengrass's too
# (name, library, slot = the section's position in seccki.conf).
keytool_list() {
    run keytool -list -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
        -providerArg "$DIR/java.cfg" -storepass "$PIN" | tee "$DIR/keytool.txt"
}
# Greengrass's rule: the key's and the certificate's URIs name one object and
# one ID, and keytool shows the label as a PrivateKeyEntry.
check_pair() {
    local label=$1 po pi co ci
    run "$TOOL" uri gateway --label "$label" | tee "$DIR/uris.txt"
    po=$(uri_field "$DIR/uris.txt" private object)
    pi=$(uri_field "$DIR/uris.txt" private id)
    co=$(uri_field "$DIR/uris.txt" cert object)
    ci=$(uri_field "$DIR/uris.txt" cert id)
    echo "  private key: $po $pi"
    echo "  certificate: $co $ci"
    [ -n "$po" ] && [ -n "$pi" ] || die "no private key URI"
    [ "$po" = "$co" ] && [ "$pi" = "$ci" ] || die "key and certificate URIs differ"
    [ "$po" = "object=$label" ] || die "the URI does not carry the label $label"
    keytool_list
    grep -q "^$label, PrivateKeyEntry," "$DIR/keytool.txt" ||
        die "keytool does not list '$label' as a PrivateKeyEntry"
}

step "1. a config for the SE050 (files in $DIR)"
cat >"$SECCKI_CONF" <<EOF
[token gateway]
chip = se050
bus = sim:$DIR/gateway.se050
store = $DIR/store
EOF
cat "$SECCKI_CONF"

step "2. initialise the token and set the user PIN"
run pkcs11-tool --module "$MOD" --init-token --label gateway --so-pin "$SO_PIN"
run pkcs11-tool --module "$MOD" --token-label gateway --login --login-type so --so-pin "$SO_PIN" \
    --init-pin --pin "$PIN"
export SECCKI_PIN=$PIN

step "3. a P-256 key pair in the chip, with the label and ID Greengrass will use"
run "$TOOL" keygen gateway --label "$LABEL" --id "$ID" --type ec

step "4. CSR, certificate from a local test CA (AWS IoT would issue it), stored on the chip"
run "$TOOL" csr gateway --label "$LABEL" --subject "/CN=$LABEL" -o "$DIR/core.csr"
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=walkthrough-test-ca -keyout "$DIR/ca.key" -out "$DIR/ca.crt"
run openssl x509 -req -in "$DIR/core.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
    -CAcreateserial -days 2 -out "$DIR/core.crt"
# No --label/--id: the certificate takes its key's.
run "$TOOL" import-cert gateway "$DIR/core.crt"

step "5. the Greengrass check: same object= and id=, and a PrivateKeyEntry named by the label"
printf 'name = seccki\nlibrary = %s\nslot = 0\n' "$MOD" >"$DIR/java.cfg"
cat "$DIR/java.cfg"
check_pair "$LABEL"

step "6. relabel the key: its certificate follows, and Greengrass's check still holds"
run "$TOOL" relabel gateway --label "$LABEL" --new-label gg-core --new-id 0b
check_pair gg-core
grep -q "^$LABEL, " "$DIR/keytool.txt" && die "the old label is still listed"

step "7. what goes into the Greengrass nucleus config"
cat <<EOF | tee "$DIR/greengrass-config.yaml"
system:
  privateKeyPath: "pkcs11:object=gg-core;type=private"
  certificateFilePath: "pkcs11:object=gg-core;type=cert"
services:
  aws.greengrass.crypto.Pkcs11Provider:
    configuration:
      name: "seccki"
      library: "$MOD"
      slot: 0
      userPin: "$PIN"
EOF

step "done: key and certificate share label and ID; SunPKCS11 sees a PrivateKeyEntry"
echo "files: $DIR"
