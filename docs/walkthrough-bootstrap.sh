#!/usr/bin/env bash
# Walkthrough (c): bootstrap a device certificate, and run it again.
#
# The device generates its key in the chip and writes a CSR; the CSR is sent
# to a CA (here: copied into the CA's incoming/ directory); the CA returns a
# certificate (into the device's directory); the device stores it on the
# token next to its key. Each side does only what is not done yet, so the
# whole process can be re-run — after a reboot, a lost network, a second
# provisioning run — and the second round changes nothing: same key, same
# certificate, same objects, byte for byte the same host store.
#
# usage: docs/walkthrough-bootstrap.sh [DIR]   (default a new temp dir)
# env:   BUILD (default build); CHIP = atecc608 (default) or se050
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
CHIP=${CHIP:-atecc608}
MOD=$TOP/$BUILD/libseccki.so
TOOL=$TOP/$BUILD/seccki-tool
DIR=${1:-$(mktemp -d /tmp/seccki-walkthrough-bootstrap.XXXXXX)}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
DEV=$DIR/device # what lives on the device
CA=$DIR/ca      # what lives at the CA
NAME=device-001
export SECCKI_CONF=$DEV/seccki.conf
export SECCKI_LOG=${SECCKI_LOG:-error}
export SECCKI_PIN=1234

. "$TOP/tools/demo-lib.sh" # step, run, die and other helpers shared with make demo
need_commands "apt-get install openssl opensc" openssl pkcs11-tool
[ -x "$TOOL" ] && [ -f "$MOD" ] || die "build first: make BUILD=$BUILD"
case $CHIP in
atecc608 | se050) ;;
*) die "CHIP=$CHIP: use atecc608 or se050" ;;
esac

# --- the device side -------------------------------------------------------
device_setup() {
    [ -f "$SECCKI_CONF" ] && return 0
    mkdir -p "$DEV"
    cat >"$SECCKI_CONF" <<EOF
[token $NAME]
chip = $CHIP
bus = sim:$DEV/$NAME.$CHIP
store = $DEV/store
EOF
    cat "$SECCKI_CONF"
    run pkcs11-tool --module "$MOD" --init-token --label "$NAME" --so-pin 12345678
    run pkcs11-tool --module "$MOD" --token-label "$NAME" --login --login-type so \
        --so-pin 12345678 --init-pin --pin "$SECCKI_PIN"
}

# A key is made once; a later run finds it by its label.
device_key() {
    if "$TOOL" uri "$NAME" --label device >/dev/null 2>&1; then
        echo "key 'device' is already in the chip: kept"
    else
        run "$TOOL" keygen "$NAME" --label device
    fi
}

device_csr() {
    run "$TOOL" csr "$NAME" --label device --subject "/CN=$NAME/O=example" -o "$DEV/$NAME.csr"
    run cp "$DEV/$NAME.csr" "$CA/incoming/$NAME.csr" # "send" it
}

device_store_cert() {
    run cp "$CA/issued/$NAME.crt" "$DEV/$NAME.crt" # "receive" it
    run "$TOOL" import-cert "$NAME" "$DEV/$NAME.crt"
}

# --- the CA side -----------------------------------------------------------
ca_setup() {
    mkdir -p "$CA/incoming" "$CA/issued"
    [ -f "$CA/ca.crt" ] && return 0
    run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=walkthrough-test-ca -keyout "$CA/ca.key" -out "$CA/ca.crt"
}

# The CA checks the request's signature; a request for a key it has already
# certified gets the certificate it issued then, not a second one.
ca_sign() {
    local csr=$CA/incoming/$NAME.csr crt=$CA/issued/$NAME.crt
    run openssl req -in "$csr" -verify -noout
    if [ -f "$crt" ] && cmp -s <(openssl req -in "$csr" -pubkey -noout) \
        <(openssl x509 -in "$crt" -pubkey -noout); then
        echo "CA: $NAME's key is already certified: returning the certificate issued before"
    else
        run openssl x509 -req -in "$csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" -CAcreateserial \
            -days 2 -out "$crt"
    fi
    rm -f "$csr"
}

# What a re-run must not change: the token's objects and certificate, and
# the host store (the ATECC608's labels, IDs and certificates live there).
snapshot() {
    "$TOOL" list "$NAME" >"$1.list"
    "$TOOL" export-cert "$NAME" --label device -o "$1.crt" 2>/dev/null || : >"$1.crt"
    cat "$DEV"/store/* 2>/dev/null | sha256sum >"$1.store"
}

bootstrap() {
    step "round $1: device setup (once)"
    device_setup
    ca_setup
    step "round $1: the key, generated in the chip"
    device_key
    step "round $1: CSR signed by the chip, sent to the CA"
    device_csr
    step "round $1: the CA issues (or re-issues) the certificate"
    ca_sign
    step "round $1: the certificate comes back and is stored next to its key"
    device_store_cert
    run "$TOOL" list "$NAME"
    run openssl verify -CAfile "$CA/ca.crt" "$DEV/$NAME.crt"
}

bootstrap 1
grep -q 'cert .*object=device;type=cert' <("$TOOL" list "$NAME") || die "no certificate next to the key"
snapshot "$DIR/after-round-1"

bootstrap 2
snapshot "$DIR/after-round-2"

step "the second round changed nothing"
for what in list crt store; do
    run cmp "$DIR/after-round-1.$what" "$DIR/after-round-2.$what" ||
        die "the second round changed the token ($what)"
done
# (an SE050 also lists its factory key and certificate)
[ "$(grep -c 'object=device;type=cert$' "$DIR/after-round-2.list")" = 1 ] ||
    die "not exactly one certificate 'device' on the token"
[ "$(grep -c 'object=device;type=private$' "$DIR/after-round-2.list")" = 1 ] ||
    die "not exactly one private key 'device' on the token"
echo "one key, one certificate, same label and ID; the store is byte for byte the same"

step "done ($CHIP)"
echo "files: $DIR"
