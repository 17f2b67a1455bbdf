#!/usr/bin/env bash
# make demo: a short end-to-end run on the built-in emulators. Creates an
# emulated ATECC608, initialises the token, generates a key inside the chip,
# signs with it, makes a CSR with OpenSSL, and lists the objects with their
# PKCS#11 URIs. Leaves its files in one directory, which it names.
set -euo pipefail
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
MOD=$TOP/$BUILD/libseccki.so
DEMO=${DEMO_DIR:-$(mktemp -d /tmp/seccki-demo.XXXXXX)}
export SECCKI_CONF=$DEMO/seccki.conf
export SECCKI_LOG=${SECCKI_LOG:-error}

missing=""
for c in pkcs11-tool:opensc p11tool:gnutls-bin openssl:openssl; do
    command -v "${c%%:*}" >/dev/null || missing="$missing ${c##*:}"
done
[ -e /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so ] || [ -n "$(find /usr/lib -name pkcs11.so -path '*engines-3*' 2>/dev/null)" ] ||
    missing="$missing libengine-pkcs11-openssl"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "demo needs:$missing"
        echo "install with: sudo apt-get install -y$missing"
        exit 1
    fi
fi

step() { printf '\n== %s\n' "$*"; }
p11() { pkcs11-tool --module "$MOD" "$@"; }

cat >"$SECCKI_CONF" <<CONF
[token edge]
chip = atecc608
bus = sim:$DEMO/edge.atecc
address = 0x60
store = $DEMO/store
CONF
step "config $SECCKI_CONF (the emulated chip lives in $DEMO/edge.atecc)"
cat "$SECCKI_CONF"

step "the chip"
"$TOP/$BUILD/seccki-tool" info edge

step "initialise the token and the user PIN"
p11 --init-token --label edge --so-pin 12345678
p11 --token-label edge --login --login-type so --so-pin 12345678 --init-pin --pin 1234

step "generate a P-256 key pair inside the chip"
p11 --token-label edge --login --pin 1234 --keypairgen --key-type EC:prime256v1 --label device --id 01

step "sign a digest with the chip and verify it with OpenSSL"
p11 --token-label edge --read-object --type pubkey --id 01 -o "$DEMO/device.pub.der"
openssl pkey -pubin -inform DER -in "$DEMO/device.pub.der" -out "$DEMO/device.pub.pem"
echo "hello from the gateway" >"$DEMO/msg.txt"
openssl dgst -sha256 -binary "$DEMO/msg.txt" >"$DEMO/msg.sha256"
p11 --token-label edge --login --pin 1234 --sign -m ECDSA --id 01 -i "$DEMO/msg.sha256" \
    -o "$DEMO/msg.sig" --signature-format openssl
openssl pkeyutl -verify -pubin -inkey "$DEMO/device.pub.pem" -in "$DEMO/msg.sha256" -sigfile "$DEMO/msg.sig"

step "a CSR signed by the key in the chip (OpenSSL, libp11 engine)"
cat >"$DEMO/engine.cnf" <<CNF
openssl_conf = oc
[oc]
engines = eng
[eng]
pkcs11 = p11
[p11]
engine_id = pkcs11
MODULE_PATH = $MOD
init = 0
CNF
OPENSSL_CONF=$DEMO/engine.cnf openssl req -new -engine pkcs11 -keyform engine \
    -key "pkcs11:token=edge;object=device;type=private;pin-value=1234" -subj "/CN=dev1" \
    -out "$DEMO/dev1.csr"
openssl req -in "$DEMO/dev1.csr" -verify -noout -subject

step "objects and their PKCS#11 URIs"
SECCKI_PIN=1234 "$TOP/$BUILD/seccki-tool" list edge

step "done; files are in $DEMO"
