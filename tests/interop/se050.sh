#!/usr/bin/env bash
# Interop on the emulated SE050: pkcs11-tool, p11tool and OpenSSL with the
# libp11 engine against libseccki.so, every signature mechanism verified by
# OpenSSL, a private key imported, and TLS 1.2 and 1.3 mutual authentication
# against `openssl s_server -Verify 1` with EC and RSA client keys held in the
# chip. Runs with `bus = sim:` and with `bus = /dev/i2c-8` through the test
# shim, like run.sh.
#
# Standalone: BUILD=build tests/interop/se050.sh. Sourced by run.sh, it adds
# its results to run.sh's counts.
set -u

if declare -F check >/dev/null; then
    se050_sourced=1
else
    se050_sourced=0
    BUILD=${BUILD:-build}
    TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    MOD=$TOP/$BUILD/libseccki.so
    SHIM=$TOP/$BUILD/seccki-i2c-shim.so
    WORK=$(mktemp -d /tmp/seccki-interop-se050.XXXXXX)
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

se_p11() { pkcs11-tool --module "$MOD" --token-label gateway "$@"; }
se_user() { se_p11 --login --pin 1234 "$@"; }
se_uri() { echo "pkcs11:token=gateway;object=$1;type=$2;pin-value=1234"; }

# The public key of an object, as PEM, through p11tool (any key type).
se_pubkey() {
    p11tool --provider "$MOD" --login --set-pin=1234 --export-pubkey \
        "pkcs11:token=gateway;object=$1;type=public" --outfile "$2"
}

# DigestInfo of a SHA-256 digest (RFC 8017 §9.2 note 1), for CKM_RSA_PKCS.
se_digest_info() {
    { printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$1"; } >"$2"
}

se050_signatures() {
    local mode=$1 md

    head -c 777 /dev/urandom >"$W/msg"
    openssl dgst -sha256 -binary "$W/msg" >"$W/msg.sha256"
    # RSA: hash-and-sign mechanisms, PKCS#1 v1.5 and PSS
    for md in SHA256 SHA384 SHA512; do
        check "$mode: $md-RSA-PKCS signature verifies with OpenSSL" sh -c \
            "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m $md-RSA-PKCS --id 10 -i '$W/msg' -o '$W/sig' &&
             openssl dgst -$(echo $md | tr A-Z a-z) -verify '$W/rsa.pem' -signature '$W/sig' '$W/msg'"
        check "$mode: $md-RSA-PKCS-PSS signature verifies with OpenSSL" sh -c \
            "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m $md-RSA-PKCS-PSS --id 10 -i '$W/msg' -o '$W/sig' &&
             openssl dgst -$(echo $md | tr A-Z a-z) -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:auto -verify '$W/rsa.pem' -signature '$W/sig' '$W/msg'"
    done
    se_digest_info "$W/msg.sha256" "$W/msg.di"
    check "$mode: RSA-PKCS over a DigestInfo verifies with OpenSSL" sh -c \
        "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m RSA-PKCS --id 10 -i '$W/msg.di' -o '$W/sig' &&
         openssl pkeyutl -verify -pubin -inkey '$W/rsa.pem' -in '$W/msg.sha256' -sigfile '$W/sig' -pkeyopt digest:sha256"
    check "$mode: RSA-PKCS-PSS over a digest verifies with OpenSSL" sh -c \
        "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 10 -i '$W/msg.sha256' -o '$W/sig' &&
         openssl pkeyutl -verify -pubin -inkey '$W/rsa.pem' -in '$W/msg.sha256' -sigfile '$W/sig' -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:auto"
    # EC P-384: raw ECDSA on a shorter digest, and the hash-and-sign mechanisms
    check "$mode: ECDSA (P-384, SHA-256 digest) verifies with OpenSSL" sh -c \
        "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m ECDSA --id 11 -i '$W/msg.sha256' -o '$W/sig' --signature-format openssl &&
         openssl pkeyutl -verify -pubin -inkey '$W/ec.pem' -in '$W/msg.sha256' -sigfile '$W/sig'"
    for md in SHA256 SHA384 SHA512; do
        check "$mode: ECDSA-$md (P-384) verifies with OpenSSL" sh -c \
            "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m ECDSA-$md --id 11 -i '$W/msg' -o '$W/sig' --signature-format openssl &&
             openssl dgst -$(echo $md | tr A-Z a-z) -verify '$W/ec.pem' -signature '$W/sig' '$W/msg'"
    done
}

# One mutual-auth handshake: $2 TLS version option, $3 key label, $4 client
# cert, $5 the signature type the server must see, $6 extra s_client options.
# The server must have seen and verified the client certificate.
se050_tls() {
    local mode=$1 ver=$2 label=$3 crt=$4 sigtype=$5 extra=$6 name port spid hold v
    v=${ver#-tls}
    name="$mode: TLS ${v/_/.} mutual auth with the chip's $label key ($sigtype)"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # s_server ends at EOF on its stdin: a fifo held open keeps it serving.
    rm -f "$W/server.in"
    mkfifo "$W/server.in"
    sleep 60 >"$W/server.in" &
    hold=$!
    timeout 60 openssl s_server -accept "127.0.0.1:$port" -naccept 1 "$ver" -cert "$W/server.crt" \
        -key "$W/server.key" -CAfile "$W/ca.crt" -Verify 1 -verify_return_error \
        <"$W/server.in" >"$W/server.log" 2>&1 &
    spid=$!
    for _ in $(seq 1 100); do
        grep -q ACCEPT "$W/server.log" 2>/dev/null && break
        sleep 0.1
    done
    # The client holds the connection until the server has answered.
    (sleep 2; echo Q) | timeout 30 env OPENSSL_CONF="$W/engine.cnf" openssl s_client \
        -connect "127.0.0.1:$port" "$ver" -engine pkcs11 -keyform engine -key "$(se_uri "$label" private)" \
        -cert "$crt" -CAfile "$W/ca.crt" -verify_return_error $extra >"$W/client.log" 2>&1
    local crc=$?
    for _ in $(seq 1 50); do
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$spid" "$hold" 2>/dev/null
    wait "$spid" "$hold" 2>/dev/null
    { echo "## server"; grep -E "^(depth|verify|subject|Protocol|CIPHER)|error" "$W/server.log"; echo "## client"; grep -Ev "^ *[0-9A-Za-z+/=]{60,}$" "$W/client.log" | tail -n 8; } >"$W/last.log"
    local proto=TLSv1.3
    [ "$ver" = -tls1_2 ] && proto=TLSv1.2
    if [ $crc -eq 0 ] && grep -q "Protocol *: *$proto" "$W/client.log" &&
        grep -q "Verification: OK" "$W/client.log" &&
        grep -q "^depth=0 CN = gw-$label" "$W/server.log" &&
        ! grep -q "verify error" "$W/server.log" &&
        grep -q "^verify return:1" "$W/server.log" &&
        grep -q "^subject=CN = gw-$label" "$W/server.log" &&
        grep -q "^Peer signature type: $sigtype\$" "$W/server.log"; then
        ok "$name"
    else
        bad "$name"
    fi
}

se050_flow() {
    local mode=$1 bus=$2
    W=$WORK/se050-$mode
    mkdir -p "$W"
    cat >"$W/seccki.conf" <<EOF
[token gateway]
chip = se050
bus = $bus
address = 0x48
store = $W/store
EOF
    export SECCKI_CONF=$W/seccki.conf
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
    echo "# se050 $mode: bus = $bus"

    check "se050 $mode: list slots shows the chip" \
        sh -c "pkcs11-tool --module '$MOD' --list-slots | grep -q 'seccki gateway se050'"
    check "se050 $mode: init token" pkcs11-tool --module "$MOD" --init-token --label gateway --so-pin 12345678
    check "se050 $mode: init user PIN" se_p11 --login --login-type so --so-pin 12345678 --init-pin --pin 1234
    check "se050 $mode: RSA-2048 key pair generated in the chip" se_user --keypairgen \
        --key-type rsa:2048 --label tls-rsa --id 10
    check "se050 $mode: RSA public key exported" se_pubkey tls-rsa "$W/rsa.pem"
    check "se050 $mode: RSA public key is 2048 bits, e = 65537" sh -c \
        "openssl pkey -pubin -in '$W/rsa.pem' -text -noout | grep -q 'Public-Key: (2048 bit)' &&
         openssl pkey -pubin -in '$W/rsa.pem' -text -noout | grep -q 'Exponent: 65537'"
    check "se050 $mode: EC P-384 key pair generated in the chip" se_user --keypairgen \
        --key-type EC:secp384r1 --label tls-ec --id 11
    check "se050 $mode: EC public key exported" sh -c \
        "p11tool --provider '$MOD' --login --set-pin=1234 --export-pubkey 'pkcs11:token=gateway;object=tls-ec;type=public' --outfile '$W/ec.pem' &&
         openssl pkey -pubin -in '$W/ec.pem' -text -noout | grep -q 'NIST CURVE: P-384'"
    se050_signatures "se050 $mode"

    # Import: a key made outside, written into the chip, never readable again.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -outform DER \
        -out "$W/key.der" 2>/dev/null
    openssl pkey -inform DER -in "$W/key.der" -pubout -out "$W/imported.pem" 2>/dev/null
    check "se050 $mode: private key imported (write-object)" se_user --write-object "$W/key.der" \
        --type privkey --label imported --id 12
    check "se050 $mode: imported key signs, OpenSSL verifies with the original" sh -c \
        "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m ECDSA-SHA256 --id 12 -i '$W/msg' -o '$W/sig' --signature-format openssl &&
         openssl dgst -sha256 -verify '$W/imported.pem' -signature '$W/sig' '$W/msg'"
    check "se050 $mode: imported key is sensitive, not extractable, not local" sh -c \
        "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --list-objects --type privkey --id 12 > '$W/objs.txt' &&
         grep -q 'label: *imported' '$W/objs.txt' && grep -q 'Access: *sensitive$' '$W/objs.txt'"
    check "se050 $mode: generated key is never extractable and local" sh -c \
        "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --list-objects --type privkey --id 10 |
         grep -q 'Access: *sensitive, always sensitive, never extractable, local'"
    check "se050 $mode: p11tool shows the imported key without CKA_EXTRACTABLE" sh -c \
        "p11tool --provider '$MOD' --login --set-pin=1234 --list-all-privkeys 'pkcs11:token=gateway;object=imported' > '$W/p11.txt' &&
         grep -q 'CKA_SENSITIVE' '$W/p11.txt' && ! grep -q 'CKA_EXTRACTABLE' '$W/p11.txt'"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -outform DER \
        -out "$W/rkey.der" 2>/dev/null
    openssl pkey -inform DER -in "$W/rkey.der" -pubout -out "$W/rimported.pem" 2>/dev/null
    check "se050 $mode: RSA private key imported, PSS signature verifies" sh -c \
        "pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --write-object '$W/rkey.der' --type privkey --label rimported --id 13 &&
         pkcs11-tool --module '$MOD' --token-label gateway --login --pin 1234 --sign -m SHA256-RSA-PKCS-PSS --id 13 -i '$W/msg' -o '$W/sig' &&
         openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:auto -verify '$W/rimported.pem' -signature '$W/sig' '$W/msg'"

    # The factory key cannot go.
    if se_user --delete-object --type privkey --id f0000100 >"$W/last.log" 2>&1; then
        bad "se050 $mode: factory key refused for deletion"
    elif grep -Eq "CKR_ACTION_PROHIBITED|\(0x1b\)" "$W/last.log"; then
        ok "se050 $mode: factory key refused for deletion with CKR_ACTION_PROHIBITED"
    else
        bad "se050 $mode: factory key refused for deletion with CKR_ACTION_PROHIBITED"
    fi

    # TLS: a throwaway CA, a server, and client certificates for chip keys.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ca.key" \
        -out "$W/ca.crt" -subj /CN=seccki-test-ca -days 2 >/dev/null 2>&1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/server.key" \
        -out "$W/server.csr" -subj /CN=localhost >/dev/null 2>&1
    openssl x509 -req -in "$W/server.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial \
        -days 2 -out "$W/server.crt" >/dev/null 2>&1
    local label pem
    for label in tls-rsa tls-ec; do
        check "se050 $mode: CSR for $label made with the chip key (libp11 engine)" \
            env OPENSSL_CONF="$W/engine.cnf" openssl req -new -engine pkcs11 -keyform engine \
            -key "$(se_uri $label private)" -subj "/CN=gw-$label" -out "$W/$label.csr"
        pem=$W/ec.pem
        [ $label = tls-rsa ] && pem=$W/rsa.pem
        check "se050 $mode: $label CSR verifies and carries the chip's key" sh -c \
            "openssl req -in '$W/$label.csr' -verify -noout &&
             openssl req -in '$W/$label.csr' -pubkey -noout | cmp -s - '$pem'"
        check "se050 $mode: $label client certificate issued by the test CA" \
            openssl x509 -req -in "$W/$label.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" \
            -CAcreateserial -days 2 -out "$W/$label.crt"
    done
    # TLS 1.2 with RSA: PKCS#1 v1.5 (CKM_RSA_PKCS on a DigestInfo) when asked
    # for, else RSA-PSS, which TLS 1.3 requires.
    se050_tls "se050 $mode" -tls1_2 tls-rsa "$W/tls-rsa.crt" RSA "-client_sigalgs RSA+SHA256"
    se050_tls "se050 $mode" -tls1_2 tls-rsa "$W/tls-rsa.crt" RSA-PSS ""
    se050_tls "se050 $mode" -tls1_3 tls-rsa "$W/tls-rsa.crt" RSA-PSS ""
    se050_tls "se050 $mode" -tls1_2 tls-ec "$W/tls-ec.crt" ECDSA ""
    se050_tls "se050 $mode" -tls1_3 tls-ec "$W/tls-ec.crt" ECDSA ""
}

se050_flow sim "sim:$WORK/se050-sim/gateway.se050"
mkdir -p "$WORK/se050-i2c-state"
export LD_PRELOAD=$SHIM
export SECCKI_I2C_SHIM="/dev/i2c-8=$WORK/se050-i2c-state/gateway.se050:se050"
se050_flow i2c /dev/i2c-8
unset LD_PRELOAD SECCKI_I2C_SHIM

if [ "$se050_sourced" -eq 0 ]; then
    echo "se050: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
fi
