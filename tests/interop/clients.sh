#!/usr/bin/env bash
# The clients that enforce the label rule, and the walkthroughs, on both
# emulated chips.
#
# - Java SunPKCS11 (what Greengrass uses): keytool lists the chip key as a
#   PrivateKeyEntry whose alias is its label, and KeyStoreSign.java signs
#   through that entry and verifies with the entry's certificate.
# - aws-crt (Debian python3-awscrt): an MQTT client with
#   TlsContextOptions.create_client_with_mtls_pkcs11 (token label + private
#   key label) connects to a local mosquitto that requires a client
#   certificate, and publishes a QoS 1 message that mosquitto_sub receives.
# - docs/walkthrough-*.sh run end to end.
#
# A client that is not installed is skipped with a message naming the package
# (.ci/run installs them all). Standalone: BUILD=build tests/interop/clients.sh.
# Sourced by run.sh, it adds its results to run.sh's counts.
set -u

if declare -F check >/dev/null; then
    clients_sourced=1
else
    clients_sourced=0
    BUILD=${BUILD:-build}
    TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    MOD=$TOP/$BUILD/libseccki.so
    WORK=$(mktemp -d /tmp/seccki-interop-clients.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    export SECCKI_LOG=${SECCKI_LOG:-error}
    pass=0
    fail=0
    ok() { pass=$((pass + 1)); echo "ok   - $*"; }
    bad() { fail=$((fail + 1)); echo "FAIL - $*"; [ -s "$W/last.log" ] && sed 's/^/       /' "$W/last.log" | tail -n 15; }
    check() {
        local name=$1
        shift
        if "$@" >"$W/last.log" 2>&1; then ok "$name"; else bad "$name"; fi
    }
fi
skipped=${skipped:-0}
skip() { skipped=$((skipped + 1)); echo "skip - $*"; }

CL_TOOL=$TOP/$BUILD/seccki-tool
CL_PIN=1234
# aws-crt is Debian's package: the system interpreter, whatever python3 is first in PATH.
CL_PY=/usr/bin/python3

cl_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One CA for every client certificate and for mosquitto's server certificate.
cl_ca() {
    local d=$WORK/clients-ca
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
        -out "$d/ca.crt" -subj /CN=seccki-clients-test-ca -days 2 2>/dev/null || return 1
    printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\n' >"$d/server.ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
            -days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=subscriber \
            -keyout "$d/sub.key" -out "$d/sub.csr" 2>/dev/null &&
        openssl x509 -req -in "$d/sub.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
            -days 2 -out "$d/sub.crt" 2>/dev/null
}

# A key pair made in the chip by seccki-tool, its CSR signed by the chip, the
# certificate from the test CA stored with import-cert (no label or ID given:
# it takes the key's), then exported back from the token.
cl_keypair() {
    local tok=$1 label=$2 type=$3 cn=$4 ca=$WORK/clients-ca
    "$CL_TOOL" keygen "$tok" --label "$label" --type "$type" &&
        "$CL_TOOL" csr "$tok" --label "$label" --subject "/CN=$cn" -o "$W/$label.csr" &&
        openssl x509 -req -in "$W/$label.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
            -CAcreateserial -days 2 -out "$W/$label.crt" &&
        "$CL_TOOL" import-cert "$tok" "$W/$label.crt" &&
        "$CL_TOOL" export-cert "$tok" --label "$label" -o "$W/$label.token.crt" &&
        cmp "$W/$label.crt" "$W/$label.token.crt" &&
        "$CL_TOOL" uri "$tok" --label "$label" | grep -q "object=$label;type=cert\$"
}

cl_java() {
    local chip=$1 label alg
    shift
    if ! command -v javac >/dev/null || ! command -v keytool >/dev/null; then
        skip "$chip: Java SunPKCS11 (javac/keytool not installed: apt-get install openjdk-17-jdk-headless)"
        return
    fi
    # slot: the section's position in seccki.conf (one section here)
    printf 'name = seccki\nlibrary = %s\nslot = 0\n' "$MOD" >"$W/java.cfg"
    check "$chip: keytool (SunPKCS11) lists the chip keys" \
        timeout 60 keytool -list -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
        -providerArg "$W/java.cfg" -storepass "$CL_PIN"
    cp "$W/last.log" "$W/keytool.txt"
    for label in "$@"; do
        check "$chip: keytool shows '$label' as a PrivateKeyEntry whose alias is the label" \
            grep -q "^$label, PrivateKeyEntry," "$W/keytool.txt"
    done
    check "$chip: KeyStoreSign.java compiles" \
        timeout 120 javac -d "$W/java" "$TOP/tests/interop/java/KeyStoreSign.java"
    check "$chip: SunPKCS11 SHA256withECDSA through entry 'device' verifies with its certificate" \
        timeout 60 java -cp "$W/java" KeyStoreSign "$W/java.cfg" "$CL_PIN" device SHA256withECDSA
    if [ "$chip" = se050 ]; then
        for alg in SHA256withRSA RSASSA-PSS; do
            check "$chip: SunPKCS11 $alg through entry 'device-rsa' verifies with its certificate" \
                timeout 60 java -cp "$W/java" KeyStoreSign "$W/java.cfg" "$CL_PIN" device-rsa "$alg"
        done
    fi
}

# The rule seen from the other side: a certificate stored with a label and ID
# of its own is no PrivateKeyEntry for SunPKCS11 (what makes Greengrass
# refuse to start); relabelling it pairs it again.
cl_java_mismatch() {
    local chip=$1 tok=$2 ca=$WORK/clients-ca
    command -v keytool >/dev/null || return 0
    check "$chip: certificate stored with a label and ID that differ from its key's" sh -c \
        "'$CL_TOOL' keygen $tok --label other --id 07 &&
         '$CL_TOOL' csr $tok --label other --subject /CN=other -o '$W/other.csr' &&
         openssl x509 -req -in '$W/other.csr' -CA '$ca/ca.crt' -CAkey '$ca/ca.key' -CAcreateserial \
             -days 2 -out '$W/other.crt' &&
         '$CL_TOOL' import-cert $tok '$W/other.crt' --label other-cert --id 99 &&
         '$CL_TOOL' list $tok | grep -q \"certificate 'other-cert' holds the public key of key 'other'\""
    timeout 60 keytool -list -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
        -providerArg "$W/java.cfg" -storepass "$CL_PIN" >"$W/last.log" 2>&1
    if grep -q "^device, PrivateKeyEntry," "$W/last.log" &&
        ! grep -Eq "^other(-cert)?, PrivateKeyEntry," "$W/last.log"; then
        ok "$chip: keytool shows no PrivateKeyEntry for the mismatched pair"
    else
        bad "$chip: keytool shows no PrivateKeyEntry for the mismatched pair"
    fi
    check "$chip: after relabelling the certificate, keytool shows 'other' as a PrivateKeyEntry" sh -c \
        "'$CL_TOOL' relabel $tok --type cert --label other-cert --new-label other --new-id 07 &&
         timeout 60 keytool -list -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
             -providerArg '$W/java.cfg' -storepass $CL_PIN | grep -q '^other, PrivateKeyEntry,'"
}

# The publisher: aws-crt's MQTT 3.1.1 client, TLS with the key in the chip.
cl_publisher() {
    cat >"$W/publish.py" <<'EOF'
import sys
from awscrt import io, mqtt

lib_path, pin, token, key_label, cert, ca, port, topic, payload = sys.argv[1:]
opts = io.TlsContextOptions.create_client_with_mtls_pkcs11(
    pkcs11_lib=io.Pkcs11Lib(file=lib_path), user_pin=pin, token_label=token,
    private_key_label=key_label, cert_file_path=cert)
opts.override_default_trust_store_from_path(None, ca)
elg = io.EventLoopGroup(1)
bootstrap = io.ClientBootstrap(elg, io.DefaultHostResolver(elg))
client = mqtt.Client(bootstrap, io.ClientTlsContext(opts))
conn = mqtt.Connection(client, "127.0.0.1", int(port), "seccki-" + token, keep_alive_secs=30,
                       ping_timeout_ms=3000, protocol_operation_timeout_ms=20000)
print("connected:", conn.connect().result(20))
done, packet_id = conn.publish(topic, payload.encode(), mqtt.QoS.AT_LEAST_ONCE)
print("puback:", done.result(20))
conn.disconnect().result(10)
EOF
}

cl_mqtt_stop() {
    local p
    for p in $cl_sub $cl_broker; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    for p in $cl_sub $cl_broker; do
        [ -n "$p" ] && wait "$p" 2>/dev/null
    done
    cl_sub=
    cl_broker=
}

cl_awscrt() {
    local chip=$1 tok=$2 ca=$WORK/clients-ca port topic payload
    if ! "$CL_PY" -c 'import awscrt.io, awscrt.mqtt' 2>/dev/null; then
        skip "$chip: aws-crt MQTT over TLS (python3-awscrt not installed for $CL_PY)"
        return
    fi
    if ! command -v mosquitto >/dev/null || ! command -v mosquitto_sub >/dev/null; then
        skip "$chip: aws-crt MQTT over TLS (apt-get install mosquitto mosquitto-clients)"
        return
    fi
    port=$(cl_free_port)
    topic=seccki/$chip/telemetry
    payload="hello from the $chip key $(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    # user root: mosquitto started by root otherwise switches to the
    # mosquitto user, which cannot read the test's private directory.
    cat >"$W/mosquitto.conf" <<EOF
per_listener_settings false
persistence false
user root
log_dest file $W/mosquitto.log
log_type all
listener $port 127.0.0.1
cafile $ca/ca.crt
certfile $ca/server.crt
keyfile $ca/server.key
require_certificate true
use_identity_as_username true
EOF
    cl_sub=
    cl_broker=
    trap 'cl_mqtt_stop; rm -rf "$WORK"' EXIT
    timeout 90 mosquitto -c "$W/mosquitto.conf" >"$W/mosquitto.out" 2>&1 &
    cl_broker=$!
    for _ in $(seq 1 100); do
        grep -q "Opening ipv4 listen socket on port $port" "$W/mosquitto.log" 2>/dev/null && break
        sleep 0.1
    done
    # The subscriber, with a software key, is subscribed before the publisher starts.
    timeout 60 mosquitto_sub -d -i seccki-sub -h 127.0.0.1 -p "$port" --cafile "$ca/ca.crt" --cert "$ca/sub.crt" \
        --key "$ca/sub.key" -t "$topic" -q 1 -C 1 -W 30 >"$W/sub.out" 2>&1 &
    cl_sub=$!
    # (mosquitto_sub's own output is block-buffered into the file: the broker's log tells)
    for _ in $(seq 1 100); do
        grep -q "Sending SUBACK to seccki-sub" "$W/mosquitto.log" 2>/dev/null && break
        sleep 0.1
    done
    check "$chip: mosquitto (require_certificate) up, mosquitto_sub subscribed" \
        grep -q "Sending SUBACK to seccki-sub" "$W/mosquitto.log"
    cl_publisher
    check "$chip: aws-crt connects with create_client_with_mtls_pkcs11 and publishes at QoS 1" \
        timeout 60 "$CL_PY" "$W/publish.py" "$MOD" "$CL_PIN" "$tok" device "$W/device.token.crt" \
        "$ca/ca.crt" "$port" "$topic" "$payload"
    for _ in $(seq 1 100); do
        kill -0 "$cl_sub" 2>/dev/null || break
        sleep 0.1
    done
    wait "$cl_sub" 2>/dev/null
    local src=$?
    cl_sub=
    { echo "## mosquitto_sub exit $src"; cat "$W/sub.out"; echo "## broker"; tail -n 8 "$W/mosquitto.log"; } >"$W/last.log"
    if [ "$src" -eq 0 ] && grep -qxF "$payload" "$W/sub.out" &&
        grep -q "received PUBLISH (d0, q1, r0, m[0-9]*, '$topic'" "$W/sub.out"; then
        ok "$chip: mosquitto_sub received the QoS 1 message, payload intact"
    else
        bad "$chip: mosquitto_sub received the QoS 1 message, payload intact"
    fi
    # use_identity_as_username: the broker names the client by its certificate's CN
    check "$chip: the broker authenticated the publisher by the chip's certificate" \
        grep -q "New client connected from 127.0.0.1:[0-9]* as seccki-$tok (.*u'$chip-device')" \
        "$W/mosquitto.log"
    cl_mqtt_stop
    trap 'rm -rf "$WORK"' EXIT
}

# One chip: token, PIN, keys with certificates, then the clients.
cl_chip() {
    local chip=$1 tok=client-$1
    W=$WORK/clients-$chip
    mkdir -p "$W"
    cat >"$W/seccki.conf" <<EOF
[token $tok]
chip = $chip
bus = sim:$W/$tok.$chip
store = $W/store
EOF
    export SECCKI_CONF=$W/seccki.conf
    echo "# clients on the $chip"
    check "$chip: token and user PIN set" sh -c \
        "pkcs11-tool --module '$MOD' --init-token --label $tok --so-pin 12345678 &&
         pkcs11-tool --module '$MOD' --token-label $tok --login --login-type so --so-pin 12345678 --init-pin --pin $CL_PIN"
    export SECCKI_PIN=$CL_PIN
    check "$chip: EC key 'device' in the chip, its certificate stored with the same label and ID" \
        cl_keypair "$tok" device ec "$chip-device"
    local labels=device
    if [ "$chip" = se050 ]; then
        check "$chip: RSA-2048 key 'device-rsa' in the chip, its certificate paired" \
            cl_keypair "$tok" device-rsa rsa2048 "$chip-device-rsa"
        labels="device device-rsa"
    fi
    # shellcheck disable=SC2086 # the labels are words
    cl_java "$chip" $labels
    [ "$chip" = atecc608 ] && cl_java_mismatch "$chip" "$tok"
    cl_awscrt "$chip" "$tok"
    unset SECCKI_PIN
}

cl_walkthroughs() {
    W=$WORK/walkthroughs
    mkdir -p "$W"
    echo "# walkthroughs (docs/walkthroughs.md)"
    check "walkthrough (a): blank ATECC608 to TLS client auth" \
        env BUILD="$BUILD" bash "$TOP/docs/walkthrough-tls.sh" "$W/tls"
    if command -v keytool >/dev/null; then
        check "walkthrough (b): SE050 key and certificate pass the Greengrass check" \
            env BUILD="$BUILD" bash "$TOP/docs/walkthrough-greengrass.sh" "$W/greengrass"
    else
        skip "walkthrough (b): needs keytool (apt-get install openjdk-17-jdk-headless)"
    fi
    local chip
    for chip in atecc608 se050; do
        check "walkthrough (c): bootstrap on the $chip, re-run changes nothing" \
            env BUILD="$BUILD" CHIP=$chip bash "$TOP/docs/walkthrough-bootstrap.sh" "$W/bootstrap-$chip"
        check "walkthrough (c): the whole script re-run on the $chip's files changes nothing" \
            env BUILD="$BUILD" CHIP=$chip bash "$TOP/docs/walkthrough-bootstrap.sh" "$W/bootstrap-$chip"
    done
}

W=$WORK/clients
mkdir -p "$W"
unset SECCKI_PIN
check "clients: test CA, mosquitto server and subscriber certificates" cl_ca
cl_chip atecc608
cl_chip se050
cl_walkthroughs

if [ "$clients_sourced" -eq 0 ]; then
    echo "clients: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
fi
