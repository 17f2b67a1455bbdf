#!/usr/bin/env bash
# Interop tests: unmodified clients (pkcs11-tool, p11tool, OpenSSL with the
# libp11 engine) against libseccki.so on the emulated chips. Every signature is
# verified by OpenSSL against the public key read from the token.
#
# The flow runs twice: once with `bus = sim:` and once with `bus = /dev/i2c-N`
# through the Linux backend, the fake device node answered by the test-only
# LD_PRELOAD shim, so the real-board code path runs too.
set -u
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
MOD=$TOP/$BUILD/libseccki.so
SHIM=$TOP/$BUILD/seccki-i2c-shim.so
WORK=$(mktemp -d /tmp/seccki-interop.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export SECCKI_LOG=${SECCKI_LOG:-error}

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; [ -s "$W/last.log" ] && sed 's/^/       /' "$W/last.log" | tail -n 15; }
# check NAME CMD...: runs CMD with output to last.log; passes when it exits 0
check() {
    local name=$1
    shift
    if "$@" >"$W/last.log" 2>&1; then ok "$name"; else bad "$name"; fi
}

p11() { pkcs11-tool --module "$MOD" "$@"; }

engine_conf() {
    cat >"$W/engine.cnf" <<EOF
openssl_conf = oc
[oc]
engines = eng
[eng]
pkcs11 = p11
[p11]
engine_id = pkcs11
MODULE_PATH = $MOD
init = 0
EOF
}

# The issue's user flow, with a config as small as the README's.
flow() {
    local mode=$1 bus=$2
    W=$WORK/$mode
    mkdir -p "$W"
    cat >"$W/seccki.conf" <<EOF
[token edge]
chip = atecc608
bus = $bus
address = 0x60
store = $W/store
EOF
    export SECCKI_CONF=$W/seccki.conf
    engine_conf
    echo "# $mode: bus = $bus"

    check "$mode: list slots shows the configured chip" \
        sh -c "pkcs11-tool --module '$MOD' --list-slots | grep -q 'seccki edge atecc608'"
    check "$mode: init token" p11 --init-token --label edge --so-pin 12345678
    check "$mode: init user PIN" p11 --token-label edge --login --login-type so --so-pin 12345678 \
        --init-pin --pin 1234
    check "$mode: keypair generated in the chip" p11 --token-label edge --login --pin 1234 \
        --keypairgen --key-type EC:prime256v1 --label device --id 01
    check "$mode: public key exported" p11 --token-label edge --read-object --type pubkey --id 01 \
        -o "$W/pub.der"
    check "$mode: public key parses" openssl pkey -pubin -inform DER -in "$W/pub.der" -out "$W/pub.pem"

    head -c 32 /dev/urandom >"$W/digest.bin"
    check "$mode: ECDSA signature from the chip" p11 --token-label edge --login --pin 1234 \
        --sign -m ECDSA --id 01 -i "$W/digest.bin" -o "$W/sig.der" --signature-format openssl
    check "$mode: ECDSA signature verifies with OpenSSL" openssl pkeyutl -verify -pubin \
        -inkey "$W/pub.pem" -in "$W/digest.bin" -sigfile "$W/sig.der"

    head -c 1000 /dev/urandom >"$W/msg.bin"
    check "$mode: ECDSA-SHA256 signature from the chip" p11 --token-label edge --login --pin 1234 \
        --sign -m ECDSA-SHA256 --id 01 -i "$W/msg.bin" -o "$W/msg.sig" --signature-format openssl
    check "$mode: ECDSA-SHA256 signature verifies with OpenSSL" openssl dgst -sha256 \
        -verify "$W/pub.pem" -signature "$W/msg.sig" "$W/msg.bin"

    check "$mode: openssl req makes a CSR with the chip key (libp11 engine)" \
        env OPENSSL_CONF="$W/engine.cnf" openssl req -new -engine pkcs11 -keyform engine \
        -key "pkcs11:token=edge;object=device;type=private;pin-value=1234" -subj "/CN=dev1" \
        -out "$W/dev1.csr"
    check "$mode: CSR self-signature verifies" openssl req -in "$W/dev1.csr" -verify -noout
    check "$mode: CSR carries the chip's public key" sh -c \
        "openssl req -in '$W/dev1.csr' -pubkey -noout | openssl pkey -pubin -outform DER | cmp -s - '$W/pub.der'"

    check "$mode: p11tool lists private and public key 'device'" sh -c \
        "p11tool --provider '$MOD' --login --set-pin=1234 --list-all 'pkcs11:token=edge' > '$W/p11tool.txt' &&
         grep -q 'object=device;type=private' '$W/p11tool.txt' &&
         grep -q 'object=device;type=public' '$W/p11tool.txt' && grep -q 'ID: 01' '$W/p11tool.txt'"

    # ECDH with the chip key equals OpenSSL's derive with the peer key.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/peer.pem" 2>/dev/null
    openssl pkey -in "$W/peer.pem" -pubout -outform DER -out "$W/peer.pub.der" 2>/dev/null
    check "$mode: ECDH derive in the chip" p11 --token-label edge --login --pin 1234 --derive \
        -m ECDH1-DERIVE --id 01 -i "$W/peer.pub.der" -o "$W/secret.chip"
    check "$mode: ECDH secret equals OpenSSL's" sh -c \
        "openssl pkeyutl -derive -inkey '$W/peer.pem' -peerkey '$W/pub.pem' -out '$W/secret.host' &&
         cmp -s '$W/secret.chip' '$W/secret.host'"

    # Bad input: a wrong PIN is refused with the precise code.
    if p11 --token-label edge --login --pin 9999 --sign -m ECDSA --id 01 -i "$W/digest.bin" \
        -o "$W/x" >"$W/last.log" 2>&1; then
        bad "$mode: wrong PIN refused"
    elif grep -q CKR_PIN_INCORRECT "$W/last.log"; then
        ok "$mode: wrong PIN refused with CKR_PIN_INCORRECT"
    else
        bad "$mode: wrong PIN refused with CKR_PIN_INCORRECT"
    fi
    check "$mode: seccki-tool list prints the key's URI" sh -c \
        "SECCKI_PIN=1234 '$TOP/$BUILD/seccki-tool' list | grep -q 'pkcs11:.*object=device'"
    check "$mode: seccki-tool info shows the chip" sh -c \
        "'$TOP/$BUILD/seccki-tool' info edge | grep -q 'ATECC608B'"
}

# The reTerminal case: the chip arrives with its config zone unlocked.
provision_flow() {
    W=$WORK/blank
    mkdir -p "$W"
    cat >"$W/seccki.conf" <<EOF
[token fresh]
chip = atecc608
bus = sim:$W/fresh.atecc
sim_profile = blank
store = $W/store
EOF
    export SECCKI_CONF=$W/seccki.conf
    check "blank: seccki-tool info says not provisioned" sh -c \
        "'$TOP/$BUILD/seccki-tool' info fresh | grep -q 'config zone unlocked'"
    if p11 --init-token --label fresh --so-pin 12345678 >/dev/null 2>&1 &&
        p11 --token-label fresh --keypairgen --key-type EC:prime256v1 --label k >"$W/last.log" 2>&1; then
        bad "blank: no key generation before provisioning"
    else
        ok "blank: no key generation before provisioning"
    fi
    check "blank: seccki-tool provision" "$TOP/$BUILD/seccki-tool" provision fresh
    check "blank: config and data zones locked" sh -c \
        "'$TOP/$BUILD/seccki-tool' info fresh | grep -q 'data zone   locked'"
    if "$TOP/$BUILD/seccki-tool" provision fresh >"$W/last.log" 2>&1; then
        bad "blank: a second provision is refused"
    else
        ok "blank: a second provision is refused"
    fi
    check "blank: key generated after provisioning" p11 --token-label fresh --keypairgen \
        --key-type EC:prime256v1 --label device --id 01
    head -c 32 /dev/urandom >"$W/d.bin"
    check "blank: signature after provisioning verifies" sh -c \
        "pkcs11-tool --module '$MOD' --token-label fresh --read-object --type pubkey --id 01 -o '$W/pub.der' &&
         openssl pkey -pubin -inform DER -in '$W/pub.der' -out '$W/pub.pem' &&
         pkcs11-tool --module '$MOD' --token-label fresh --sign -m ECDSA --id 01 -i '$W/d.bin' -o '$W/s.der' --signature-format openssl &&
         openssl pkeyutl -verify -pubin -inkey '$W/pub.pem' -in '$W/d.bin' -sigfile '$W/s.der'"
}

# Trust&GO: the factory device certificate, rebuilt from the chip's compressed
# form, is handed out by p11tool --export and chains to the part's root.
trustngo_flow() {
    W=$WORK/tng
    mkdir -p "$W"
    cat >"$W/seccki.conf" <<EOF
[token tng]
chip = atecc608
bus = sim:$W/tng.atecc
address = 0x35
sim_profile = trustngo
login = none
store = $W/store
EOF
    export SECCKI_CONF=$W/seccki.conf
    check "trustngo: p11tool lists the device and signer certificates" sh -c \
        "p11tool --provider '$MOD' --list-all-certs 'pkcs11:token=tng' > '$W/certs.txt' &&
         [ \$(grep -c 'type=cert' '$W/certs.txt') -eq 2 ]"
    check "trustngo: p11tool --export hands out the device certificate" sh -c \
        "p11tool --provider '$MOD' --export 'pkcs11:token=tng;object=slot0;type=cert' > '$W/device.pem' &&
         p11tool --provider '$MOD' --export 'pkcs11:token=tng;object=certc;type=cert' > '$W/signer.pem' &&
         openssl x509 -in '$W/device.pem' -noout -subject | grep -q 'CN = sn0123'"
    check "trustngo: the device certificate chains to the part's root" \
        openssl verify -CAfile "$W/tng.atecc.root.pem" -untrusted "$W/signer.pem" "$W/device.pem"
    check "trustngo: the device certificate carries the slot-0 key" sh -c \
        "p11tool --provider '$MOD' --export-pubkey 'pkcs11:token=tng;object=slot0;type=private' > '$W/k.pem' &&
         openssl x509 -in '$W/device.pem' -pubkey -noout | cmp -s - '$W/k.pem'"
}

flow sim "sim:$WORK/sim/edge.atecc"
provision_flow
trustngo_flow

export LD_PRELOAD=$SHIM
export SECCKI_I2C_SHIM="/dev/i2c-7=$WORK/i2c/edge.atecc:atecc608:tls"
flow i2c /dev/i2c-7
unset LD_PRELOAD SECCKI_I2C_SHIM

. "$TOP/tests/interop/se050.sh" # the SE050 flow and TLS, counted with the rest
. "$TOP/tests/interop/matrix.sh" # p11tool, pkcs11-tool's self-tests, dgst, TLS and curl on both chips
. "$TOP/tests/interop/clients.sh" # Java SunPKCS11, aws-crt MQTT, the walkthroughs
. "$TOP/tests/interop/demo.sh" # make demo, twice on one directory: every step passes, nothing left running
. "$TOP/tests/interop/install.sh" # make install, then clients that find the module through p11-kit
echo "interop: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
