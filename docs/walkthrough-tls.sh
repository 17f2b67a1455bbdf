#!/usr/bin/env bash
# Walkthrough (a): a blank ATECC608 to TLS client authentication.
#
#   blank chip -> seccki-tool provision -> token and PIN -> key in the chip
#   -> CSR signed by the chip -> certificate from a local test CA
#   -> seccki-tool import-cert -> openssl s_client (libp11 engine) against
#   openssl s_server -Verify 1, which checks the client certificate.
#
# Runs on the emulated chip (sim_profile = blank). On a board, replace the
# `bus = sim:...` line by `bus = /dev/i2c-1` and drop sim_profile.
#
# usage: docs/walkthrough-tls.sh [DIR]   (DIR: where everything goes; default a new temp dir)
# env:   BUILD (default build) picks the build directory of libseccki.so and seccki-tool.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
MOD=$TOP/$BUILD/libseccki.so
TOOL=$TOP/$BUILD/seccki-tool
DIR=${1:-$(mktemp -d /tmp/seccki-walkthrough-tls.XXXXXX)}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
export SECCKI_CONF=$DIR/seccki.conf
export SECCKI_LOG=${SECCKI_LOG:-error}
SO_PIN=12345678
PIN=1234

. "$TOP/tools/demo-lib.sh" # step, run, die and other helpers shared with make demo
need_commands "apt-get install openssl opensc libengine-pkcs11-openssl python3" openssl pkcs11-tool python3
[ -x "$TOOL" ] && [ -f "$MOD" ] || die "build first: make BUILD=$BUILD"

step "1. a config for a blank ATECC608 (files in $DIR)"
cat >"$SECCKI_CONF" <<EOF
[token device]
chip = atecc608
bus = sim:$DIR/device.atecc
sim_profile = blank
store = $DIR/store
EOF
cat "$SECCKI_CONF"

step "2. the chip arrives with its config zone unlocked"
run "$TOOL" info device | tee "$DIR/info-before.txt"
grep -q 'config zone unlocked' "$DIR/info-before.txt" || die "the chip is not blank"

step "3. provision: write the TLS layout, lock the config and data zones"
run "$TOOL" provision device
run "$TOOL" info device | tee "$DIR/info-after.txt"
grep -q 'data zone   locked' "$DIR/info-after.txt" || die "the data zone is not locked"

step "4. initialise the token and set the user PIN"
run pkcs11-tool --module "$MOD" --init-token --label device --so-pin "$SO_PIN"
run pkcs11-tool --module "$MOD" --token-label device --login --login-type so --so-pin "$SO_PIN" \
    --init-pin --pin "$PIN"
export SECCKI_PIN=$PIN # seccki-tool logs in with it

step "5. a P-256 key pair generated inside the chip"
run "$TOOL" keygen device --label device --id 01

step "6. a certificate request signed by the key in the chip"
run "$TOOL" csr device --label device --subject /CN=device-001/O=example -o "$DIR/device.csr"
run openssl req -in "$DIR/device.csr" -verify -noout -subject

step "7. a local test CA issues the client certificate"
run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=walkthrough-test-ca -keyout "$DIR/ca.key" -out "$DIR/ca.crt"
printf 'extendedKeyUsage = clientAuth\n' >"$DIR/client.ext"
run openssl x509 -req -in "$DIR/device.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
    -CAcreateserial -days 2 -extfile "$DIR/client.ext" -out "$DIR/device.crt"

step "8. store the certificate on the token: it takes the key's label and ID"
run "$TOOL" import-cert device "$DIR/device.crt"
run "$TOOL" list device | tee "$DIR/list.txt"
grep -q 'cert .*id=%01;object=device;type=cert' "$DIR/list.txt" || die "the certificate is not paired with the key"
run "$TOOL" export-cert device --label device -o "$DIR/device-from-token.crt"
run cmp "$DIR/device.crt" "$DIR/device-from-token.crt"

step "9. TLS client authentication with the key in the chip"
engine_conf "$DIR/engine.cnf" "$MOD" # loads libp11's pkcs11 engine with MODULE_PATH = $MOD
printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\n' >"$DIR/server.ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
    -days 2 -extfile "$DIR/server.ext" -out "$DIR/server.crt" 2>/dev/null
port=$(free_port)
# The server demands a client certificate from the test CA (-Verify 1) and
# answers one request (-www) with a page naming the client's certificate.
printf '$ openssl s_server -accept 127.0.0.1:%s -naccept 1 -www -Verify 1 -verify_return_error ... &\n' "$port"
timeout 30 openssl s_server -accept "127.0.0.1:$port" -naccept 1 -www -cert "$DIR/server.crt" \
    -key "$DIR/server.key" -CAfile "$DIR/ca.crt" -Verify 1 -verify_return_error \
    </dev/null >"$DIR/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
wait_for_line "$DIR/server.log" ACCEPT || die "s_server did not start: $(cat "$DIR/server.log")"
uri="pkcs11:token=device;object=device;type=private;pin-value=$PIN"
printf '$ OPENSSL_CONF=%s openssl s_client -connect 127.0.0.1:%s -engine pkcs11 -keyform engine -key "%s" -cert %s -CAfile %s\n' \
    "$DIR/engine.cnf" "$port" "$uri" "$DIR/device-from-token.crt" "$DIR/ca.crt"
printf 'GET / HTTP/1.0\r\n\r\n' | timeout 30 env OPENSSL_CONF="$DIR/engine.cnf" openssl s_client \
    -connect "127.0.0.1:$port" -engine pkcs11 -keyform engine -key "$uri" \
    -cert "$DIR/device-from-token.crt" -CAfile "$DIR/ca.crt" -verify_return_error -ign_eof \
    >"$DIR/client.log" 2>&1 || die "s_client failed: $(tail -n 20 "$DIR/client.log")"
wait $server || die "s_server failed: $(tail -n 20 "$DIR/server.log")"
trap - EXIT
grep -E '^(depth|verify return)' "$DIR/server.log" | sed 's/^/  server: /'
grep -m1 -E '^ *Protocol *:' "$DIR/client.log" | sed 's/^ */  client: /'
grep -m1 '^Verification' "$DIR/client.log" | sed 's/^/  client: /'
grep -m1 -A12 '^Client certificate' "$DIR/client.log" | grep -E 'Client certificate|Subject:' |
    sed 's/^ */  server page: /'
grep -q '^depth=0 CN = device-001, O = example' "$DIR/server.log" &&
    grep -q '^verify return:1' "$DIR/server.log" && ! grep -q 'verify error' "$DIR/server.log" ||
    die "the server did not verify the client certificate"
grep -q 'Verification: OK' "$DIR/client.log" || die "the client did not verify the server"
# The -www page shows the server side of the session: the client's certificate it accepted.
grep -A12 '^Client certificate' "$DIR/client.log" | grep -q 'Subject: CN=device-001, O=example' ||
    die "the server saw no client certificate"

step "done: the server accepted the client certificate; the private key never left the chip"
echo "files: $DIR"
