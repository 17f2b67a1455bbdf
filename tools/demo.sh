#!/usr/bin/env bash
# make demo: the field's flows, end to end, on an emulated ATECC608 and an
# emulated SE050. Installs what is missing (as root; otherwise prints the one
# apt-get line and stops), builds, makes the two chips, provisions keys and
# certificates from a local test CA, then shows: a CSR from the chip, a TLS 1.3
# handshake with the key in the chip, an MQTT message published through
# aws-crt, and the Greengrass-style KeyStore entry. Each step prints what it
# does, its commands and its result in one line; the first step that fails
# stops the demo with a non-zero exit.
#
# env: BUILD (default build), DEMO_DIR (default a new /tmp/seccki-demo.XXXXXX;
#      a directory left by an earlier demo is emptied and reused),
#      DEMO_INSTALL=no (never install: print the apt-get line and exit 2).
set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
. "$TOP/tools/demo-lib.sh"
MOD=$TOP/$BUILD/libseccki.so
SO_PIN=12345678
PIN=1234
# aws-crt is Debian's python3-awscrt: the system interpreter, not the first python3 in PATH.
PY=/usr/bin/python3
export SECCKI_LOG=${SECCKI_LOG:-error}
# seccki-tool as it would be on an installed system
export PATH=$TOP/$BUILD:$PATH

# Everything the build, the demo's clients and `make test` use.
PACKAGES=(make gcc libc6-dev pkg-config libssl-dev libp11-kit-dev libcmocka-dev p11-kit
    openssl opensc gnutls-bin libengine-pkcs11-openssl openjdk-17-jdk-headless
    python3 python3-awscrt mosquitto mosquitto-clients curl)

# --- the demo's directory ----------------------------------------------------
MARK=.seccki-demo
if [ -n "${DEMO_DIR:-}" ]; then
    mkdir -p "$DEMO_DIR" || exit 1
    if [ -n "$(ls -A "$DEMO_DIR")" ]; then
        [ -e "$DEMO_DIR/$MARK" ] || die "DEMO_DIR=$DEMO_DIR is not empty and holds no earlier demo: not touching it"
        find "$DEMO_DIR" -mindepth 1 -delete || exit 1
    fi
    DEMO=$(cd "$DEMO_DIR" && pwd)
else
    DEMO=$(mktemp -d /tmp/seccki-demo.XXXXXX) || exit 1
fi
: >"$DEMO/$MARK"
mkdir -p "$DEMO/log"
cd "$DEMO" || exit 1
echo "seccki demo: every file goes to $DEMO"

# --- how a step is shown -----------------------------------------------------
n=0
LOG=/dev/null
OUT=$DEMO/log/last.out
PIDS=
cmd_timeout=60

stop_servers() {
    local p
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    PIDS=
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

begin() {
    n=$((n + 1))
    LOG=$DEMO/log/$(printf %02d $n).log
    : >"$LOG"
    printf '\n[%d] %s\n' $n "$*"
}

# The command as the reader would type it in $DEMO after `. ./env.sh`.
show() {
    local a line='' sep=''
    for a in "$@"; do
        case $a in
        "$MOD") line+="$sep\$MOD" ;;
        "$DEMO"/*) line+="$sep$(shell_quote "${a#"$DEMO"/}")" ;;
        *) line+="$sep$(shell_quote "$a")" ;;
        esac
        sep=' '
    done
    printf '    $ %s\n' "$line"
}

fail() {
    printf '    FAILED: %s\n' "$*"
    [ -s "$LOG" ] && tail -n 15 "$LOG" | sed 's/^/      | /' && echo "      (all of it: ${LOG#"$DEMO"/})"
    printf '\nseccki demo: stopped at step %d; files and logs in %s\n' $n "$DEMO"
    exit 1
}

# cmd ARGS...: show, run bounded in time; output to $OUT and the step's log.
cmd() {
    show "$@"
    timeout "$cmd_timeout" "$@" </dev/null >"$OUT" 2>&1
    local rc=$?
    cat "$OUT" >>"$LOG"
    [ $rc -eq 0 ] || fail "$1 exited with status $rc"
}

# bg NAME ARGS...: a server, in the background for at most 60 s, output to NAME.log.
bg() {
    local name=$1
    shift
    printf '    $ %s &\n' "$(show "$@" | sed 's/^    \$ //')"
    timeout 60 "$@" </dev/null >"$DEMO/$name.log" 2>&1 &
    PIDS="$PIDS $!"
}

ensure() {
    local why=$1
    shift
    "$@" >>"$LOG" 2>&1 || fail "$why"
}

result() { printf '    -> %s\n' "$*"; }

# The part of a URI that names the object, without model/manufacturer/serial.
short_uri() { sed -n "s/.*\\(token=[^;]*;.*type=$1\\)\$/pkcs11:\\1/p" "$2" | head -n 1; }

# --- 1. packages -------------------------------------------------------------
missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        case $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) in
        ii*) ;;
        *) printf '%s ' "$p" ;;
        esac
    done
}

begin "packages: the build's, the clients the demo runs, and what make test uses"
if ! command -v dpkg-query >/dev/null; then
    result "not a Debian system: no check; needs the equivalents of: ${PACKAGES[*]}"
else
    missing=$(missing_packages)
    missing=${missing% }
    if [ -z "$missing" ]; then
        result "all ${#PACKAGES[@]} packages are installed"
    elif [ "$(id -u)" = 0 ] && [ "${DEMO_INSTALL:-yes}" != no ]; then
        cmd_timeout=1800
        cmd apt-get update -qq
        # The JDK's postinst needs the man directory that slim images leave out.
        mkdir -p /usr/share/man/man1
        # shellcheck disable=SC2086 # package names are words
        cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
        cmd_timeout=60
        result "installed: $missing"
    else
        sudo='' as=''
        if [ "$(id -u)" != 0 ]; then
            if command -v sudo >/dev/null; then sudo="sudo "; else as=" as root"; fi
        fi
        echo "    missing: $missing"
        echo "    run this$as, then make demo again:"
        echo
        echo "${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends $missing"
        echo
        echo "seccki demo: stopped before the build; files in $DEMO"
        exit 2
    fi
fi

# --- 2. build ----------------------------------------------------------------
begin "build the module, seccki-tool and the emulators"
jobs=
case ${MAKEFLAGS:-} in
*jobserver*) ;; # the calling make shares its job slots
*) jobs=-j$(nproc 2>/dev/null || echo 2) ;;
esac
cmd_timeout=600
cmd "$MAKE" -C "$TOP" BUILD="$BUILD" ${jobs:+"$jobs"} all
cmd_timeout=60
result "$BUILD/libseccki.so (the PKCS#11 module) and $BUILD/seccki-tool are built"
cat >"$DEMO/env.sh" <<EOF
# . ./env.sh: the demo's environment, to run its commands by hand in $DEMO
export SECCKI_CONF=$DEMO/seccki.conf SECCKI_PIN=$PIN SECCKI_LOG=$SECCKI_LOG
MOD=$MOD
PATH=$TOP/$BUILD:\$PATH
EOF
echo "    (commands below run in $DEMO; . ./env.sh there sets \$MOD, SECCKI_CONF and PATH)"

# --- 3. two emulated chips ---------------------------------------------------
begin "two emulated chips in seccki.conf: an ATECC608 (blank) and an SE050"
cat >"$DEMO/seccki.conf" <<EOF
# On a board: bus = /dev/i2c-1 (the chip's bus) instead of sim:FILE, no sim_profile.
[token edge]
chip = atecc608
bus = sim:$DEMO/edge.atecc
address = 0x60
sim_profile = blank
store = $DEMO/store

[token gateway]
chip = se050
bus = sim:$DEMO/gateway.se050
address = 0x48
store = $DEMO/store
EOF
sed 's/^/      /' "$DEMO/seccki.conf"
export SECCKI_CONF=$DEMO/seccki.conf
cmd pkcs11-tool --module "$MOD" --list-slots
ensure "pkcs11-tool does not list both chips" grep -q 'seccki gateway se050' "$OUT"
result "$(grep '^Slot' "$OUT" | sed 's/^Slot \([0-9]*\) ([^)]*): seccki \([^ ]*\) \([^ ]*\).*/slot \1 = \2 (\3)/' | paste -sd, - | sed 's/,/, /g')"

# --- 4. provision the blank ATECC608 -----------------------------------------
begin "the ATECC608 arrives blank (config zone unlocked): provision and lock it"
cmd seccki-tool info edge
ensure "the ATECC608 is not blank" grep -q 'config zone unlocked' "$OUT"
cmd seccki-tool provision edge
cmd seccki-tool info edge
ensure "the data zone is not locked" grep -q 'data zone   locked' "$OUT"
result "$(awk '$1 == "model" {print $2} $1 == "serial" {print "serial " $2}' "$OUT" | paste -sd' ' -): config and data zones locked, key slots 0-4 ready"

# --- 5. tokens and PINs ------------------------------------------------------
begin "initialise both tokens and set their user PIN"
for tok in edge gateway; do
    cmd pkcs11-tool --module "$MOD" --token-label $tok --init-token --label $tok --so-pin $SO_PIN
    cmd pkcs11-tool --module "$MOD" --token-label $tok --login --login-type so --so-pin $SO_PIN \
        --init-pin --pin $PIN
done
export SECCKI_PIN=$PIN # seccki-tool logs in with it
result "tokens 'edge' and 'gateway' ready, user PIN $PIN (SECCKI_PIN for seccki-tool)"

# --- 6. a key in the ATECC608 ------------------------------------------------
begin "a P-256 key pair generated inside the ATECC608"
cmd seccki-tool keygen edge --label device --id 01
ensure "no private key 'device'" grep -q 'object=device;type=private$' "$OUT"
result "$(short_uri private "$OUT") — the private key never leaves the chip"

# --- 7. CSR from the chip ----------------------------------------------------
begin "CSR from the chip: a PKCS#10 request signed by the key in the ATECC608"
cmd seccki-tool csr edge --label device --subject /CN=edge-001/O=seccki-demo -o edge.csr
cmd openssl req -in edge.csr -verify -noout -subject
ensure "the CSR does not verify" grep -q 'verify OK' "$OUT"
result "edge.csr: $(grep '^subject=' "$OUT" | sed 's/^subject=//'), signature verified"

# --- 8. a local test CA ------------------------------------------------------
begin "a local test CA issues the device's certificate, a server's and an MQTT subscriber's"
cmd openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=seccki-demo-ca -keyout ca.key -out ca.crt
printf 'extendedKeyUsage = clientAuth\n' >client.ext
printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' >server.ext
cmd openssl x509 -req -in edge.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile client.ext -out edge.crt
for who in server sub; do
    cmd openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$who \
        -keyout $who.key -out $who.csr
done
cmd openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt
cmd openssl x509 -req -in sub.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile client.ext -out sub.crt
cmd openssl verify -CAfile ca.crt edge.crt server.crt sub.crt
result "ca.crt (CN=seccki-demo-ca) issued edge.crt (the chip's key), server.crt (127.0.0.1), sub.crt"

# --- 9. the certificate next to its key --------------------------------------
begin "store the certificate on the token: it takes its key's label and ID"
cmd seccki-tool import-cert edge edge.crt
cmd seccki-tool uri edge --label device
cp "$OUT" edge-uris.txt
ensure "key and certificate do not share label and ID" \
    test "$(uri_field edge-uris.txt private object);$(uri_field edge-uris.txt private id)" = \
    "$(uri_field edge-uris.txt cert object);$(uri_field edge-uris.txt cert id)"
cmd seccki-tool export-cert edge --label device -o edge-from-chip.crt
ensure "the exported certificate differs from the imported one" cmp edge.crt edge-from-chip.crt
result "$(short_uri cert edge-uris.txt) — same object= and id= as the private key"

# --- 10. TLS 1.3 -------------------------------------------------------------
begin "TLS 1.3 with client authentication, the client's key in the ATECC608"
engine_conf engine.cnf "$MOD"
echo "    (engine.cnf loads libp11's pkcs11 engine with MODULE_PATH = \$MOD)"
port=$(free_port) || fail "no free port"
bg s_server openssl s_server -accept 127.0.0.1:"$port" -naccept 1 -www -cert server.crt -key server.key \
    -CAfile ca.crt -Verify 1 -verify_return_error
server=$!
wait_for_line s_server.log ACCEPT || fail "s_server did not start: $(cat s_server.log)"
printf 'GET / HTTP/1.0\r\n\r\n' >request.txt
show env OPENSSL_CONF=engine.cnf openssl s_client -connect 127.0.0.1:"$port" -tls1_3 -engine pkcs11 \
    -keyform engine -key "pkcs11:token=edge;object=device;type=private;pin-value=$PIN" \
    -cert edge-from-chip.crt -CAfile ca.crt -verify_return_error -ign_eof
timeout 30 env OPENSSL_CONF=engine.cnf openssl s_client -connect 127.0.0.1:"$port" -tls1_3 -engine pkcs11 \
    -keyform engine -key "pkcs11:token=edge;object=device;type=private;pin-value=$PIN" \
    -cert edge-from-chip.crt -CAfile ca.crt -verify_return_error -ign_eof <request.txt >s_client.log 2>&1
rc=$?
cat s_client.log >>"$LOG"
[ $rc -eq 0 ] || fail "s_client exit $rc"
wait $server || fail "s_server exit $?: $(tail -n 5 s_server.log)"
cat s_server.log >>"$LOG"
ensure "the session is not TLS 1.3" grep -Eq '^ *Protocol *: TLSv1.3' s_client.log
ensure "the client did not verify the server" grep -q 'Verification: OK' s_client.log
ensure "the server did not verify the client certificate" grep -q '^depth=0 CN = edge-001, O = seccki-demo' s_server.log
ensure "the server reported a verify error" bash -c '! grep -q "verify error" s_server.log'
ensure "the server's page names no client certificate" grep -q 'Subject: CN=edge-001, O=seccki-demo' s_client.log
result "$(grep -Eo 'TLSv1.3, Cipher is [A-Z0-9_]+' s_client.log | head -n 1); s_server verified the client CN = edge-001, signed in the chip"

# --- 11. a key for a Greengrass core in the SE050 ----------------------------
begin "a key for a Greengrass core in the SE050, its certificate stored next to it"
cmd seccki-tool keygen gateway --label greengrass-core --id 0a --type ec
cmd seccki-tool csr gateway --label greengrass-core --subject /CN=gateway-001/O=seccki-demo -o gateway.csr
cmd openssl x509 -req -in gateway.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile client.ext -out gateway.crt
cmd seccki-tool import-cert gateway gateway.crt
cmd seccki-tool export-cert gateway --label greengrass-core -o gateway-from-chip.crt
ensure "the exported certificate differs from the imported one" cmp gateway.crt gateway-from-chip.crt
result "key 'greengrass-core' (id 0a) and its certificate (CN=gateway-001) are on the SE050"

# --- 12. MQTT through aws-crt ------------------------------------------------
begin "an MQTT message published through aws-crt, the TLS key in the SE050, to a local mosquitto"
port=$(free_port) || fail "no free port"
topic=seccki/demo/telemetry
payload="hello from the SE050 $(date -u +%H:%M:%S)"
# user root: a mosquitto started by root otherwise runs as user mosquitto,
# which cannot read the demo's directory.
cat >mosquitto.conf <<EOF
per_listener_settings false
persistence false
user root
log_dest file $DEMO/mosquitto.log
log_type all
listener $port 127.0.0.1
cafile $DEMO/ca.crt
certfile $DEMO/server.crt
keyfile $DEMO/server.key
require_certificate true
use_identity_as_username true
EOF
echo "    (mosquitto.conf: listener $port on 127.0.0.1, client certificates from ca.crt required)"
bg mosquitto-run mosquitto -c mosquitto.conf
wait_for_line mosquitto.log "Opening ipv4 listen socket on port $port" ||
    fail "mosquitto did not start: $(cat mosquitto-run.log mosquitto.log 2>/dev/null | tail -n 5)"
bg mosquitto_sub mosquitto_sub -i seccki-demo-sub -h 127.0.0.1 -p "$port" --cafile ca.crt --cert sub.crt \
    --key sub.key -t $topic -q 1 -C 1 -W 30
sub=$!
wait_for_line mosquitto.log "Sending SUBACK to seccki-demo-sub" || fail "mosquitto_sub did not subscribe"
cat >publish.py <<'EOF'
# Publish one QoS 1 message with aws-crt, the TLS client key on a PKCS#11 token
# (the way the AWS IoT device SDKs and Greengrass connect).
import sys
from awscrt import io, mqtt

module, pin, token, key_label, cert, ca, port, topic, payload = sys.argv[1:]
tls = io.TlsContextOptions.create_client_with_mtls_pkcs11(
    pkcs11_lib=io.Pkcs11Lib(file=module), user_pin=pin, token_label=token,
    private_key_label=key_label, cert_file_path=cert)
tls.override_default_trust_store_from_path(None, ca)
loop = io.EventLoopGroup(1)
bootstrap = io.ClientBootstrap(loop, io.DefaultHostResolver(loop))
conn = mqtt.Connection(mqtt.Client(bootstrap, io.ClientTlsContext(tls)), "127.0.0.1", int(port),
                       "seccki-demo-" + token, keep_alive_secs=30, ping_timeout_ms=3000,
                       protocol_operation_timeout_ms=20000)
conn.connect().result(20)
done, _ = conn.publish(topic, payload.encode(), mqtt.QoS.AT_LEAST_ONCE)
done.result(20)
conn.disconnect().result(10)
print("published and acknowledged:", payload)
EOF
cmd $PY publish.py "$MOD" $PIN gateway greengrass-core gateway-from-chip.crt ca.crt "$port" $topic "$payload"
wait $sub || fail "mosquitto_sub exit $?: $(cat mosquitto_sub.log)"
cat mosquitto_sub.log >>"$LOG"
ensure "mosquitto_sub did not receive the message intact" grep -qxF "$payload" mosquitto_sub.log
ensure "the broker did not name the publisher by the chip's certificate" \
    grep -q "as seccki-demo-gateway (.*u'gateway-001')" mosquitto.log
stop_servers
result "mosquitto_sub received \"$payload\"; the broker authenticated user gateway-001 by the chip's certificate"

# --- 13. the Greengrass-style KeyStore entry ---------------------------------
begin "the Greengrass check: one label for key and certificate, a PrivateKeyEntry in SunPKCS11"
cmd seccki-tool uri gateway --label greengrass-core
cp "$OUT" gateway-uris.txt
key="$(uri_field gateway-uris.txt private object);$(uri_field gateway-uris.txt private id)"
cert="$(uri_field gateway-uris.txt cert object);$(uri_field gateway-uris.txt cert id)"
ensure "key ($key) and certificate ($cert) URIs differ" test "$key" = "$cert"
ensure "the URI does not carry the label" test "${key%%;*}" = object=greengrass-core
# slot = the section's position in seccki.conf: gateway is the second
printf 'name = seccki\nlibrary = %s\nslot = 1\n' "$MOD" >java.cfg
echo "    (java.cfg: name = seccki, library = \$MOD, slot = 1 — Greengrass's Pkcs11Provider settings)"
cmd keytool -list -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 -providerArg java.cfg \
    -storepass $PIN
ensure "keytool does not list greengrass-core as a PrivateKeyEntry" grep -q '^greengrass-core, PrivateKeyEntry,' "$OUT"
cat >greengrass-config.yaml <<EOF
system:
  privateKeyPath: "pkcs11:object=greengrass-core;type=private"
  certificateFilePath: "pkcs11:object=greengrass-core;type=cert"
services:
  aws.greengrass.crypto.Pkcs11Provider:
    configuration:
      name: "seccki"
      library: "$MOD"
      slot: 1
      userPin: "$PIN"
EOF
result "key and certificate URIs share $key; keytool: 'greengrass-core, PrivateKeyEntry' (nucleus lines: greengrass-config.yaml)"

printf '\nseccki demo: all %d steps passed in %d s; files in %s\n' $n $SECONDS "$DEMO"
