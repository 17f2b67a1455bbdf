#!/usr/bin/env bash
# `make demo` as a newcomer runs it: every step passes, the directory is named
# at the start and the end, no server it started is left behind, and a second
# run on the same directory works too. DEMO_INSTALL=no keeps the suite from
# installing packages: when some are missing the demo is skipped, naming them.
#
# Standalone: BUILD=build tests/interop/demo.sh. Sourced by run.sh, it adds
# its results to run.sh's counts.
set -u

if declare -F check >/dev/null; then
    demo_sourced=1
else
    demo_sourced=0
    BUILD=${BUILD:-build}
    TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    WORK=$(mktemp -d /tmp/seccki-interop-demo.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
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
declare -F skip >/dev/null || skip() { skipped=$((${skipped:-0} + 1)); echo "skip - $*"; }

# demo_run N: make demo into $W/dir, output in $W/run-N.out; its exit status.
demo_run() {
    env DEMO_DIR="$W/dir" DEMO_INSTALL=no timeout 300 make -s -C "$TOP" BUILD="$BUILD" demo \
        >"$W/run-$1.out" 2>&1
}

# demo_expect N NAME CMD...: passes when CMD exits 0; on failure, shows run N's output.
demo_expect() {
    local out=$W/run-$1.out name=$2
    shift 2
    if "$@" >/dev/null 2>&1; then
        ok "$name"
    else
        cp "$out" "$W/last.log"
        bad "$name"
    fi
}

# Processes working in the demo's directory: its servers, if any outlived it.
demo_leftovers() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/cwd" 2>/dev/null)" = "$W/dir" ] && echo "${p#/proc/}"
    done
    return 0
}

# demo_checks N: what run N printed and left behind.
demo_checks() {
    local n=$1 out=$W/run-$1.out steps
    demo_expect "$n" "demo run $n: names its directory on its first and last line" sh -c \
        "head -n 1 '$out' | grep -qF 'goes to $W/dir' && tail -n 1 '$out' | grep -qF 'files in $W/dir'"
    steps=$(grep -c '^\[[0-9]*\] ' "$out")
    demo_expect "$n" "demo run $n: each of its $steps numbered steps ends with a one-line result" sh -c \
        "[ $steps -ge 13 ] && [ \$(grep -c '^    -> ' '$out') -eq $steps ] &&
         tail -n 1 '$out' | grep -q 'all $steps steps passed'"
    demo_expect "$n" "demo run $n: TLS 1.3 handshake, the server verified the chip's certificate" \
        grep -q -- '-> TLSv1.3, .* s_server verified the client CN = edge-001' "$out"
    demo_expect "$n" "demo run $n: mosquitto_sub received the message aws-crt published" \
        grep -q -- '-> mosquitto_sub received "hello from the SE050' "$out"
    demo_expect "$n" "demo run $n: keytool lists greengrass-core as a PrivateKeyEntry, URIs agree" \
        grep -q -- "-> key and certificate URIs share object=greengrass-core;id=%0A; keytool: 'greengrass-core, PrivateKeyEntry'" "$out"
    demo_expect "$n" "demo run $n: the CSR it left verifies and names the device" sh -c \
        "openssl req -in '$W/dir/edge.csr' -verify -noout -subject 2>&1 | grep -q 'CN = edge-001'"
    demo_expect "$n" "demo run $n: no server it started is still running" \
        test -z "$(demo_leftovers)"
}

demo_flow() {
    W=$WORK/demo
    mkdir -p "$W"
    echo "# make demo"
    demo_run 1
    local rc=$?
    if [ $rc -eq 2 ] && grep -q 'apt-get install' "$W/run-1.out"; then
        skip "make demo: $(grep 'missing:' "$W/run-1.out" | sed 's/^ *//') (the demo installs them as root)"
        return
    fi
    demo_expect 1 "make demo exits 0 (run 1)" test $rc -eq 0
    demo_checks 1
    demo_run 2
    rc=$?
    demo_expect 2 "make demo exits 0 again on the same DEMO_DIR (run 2)" test $rc -eq 0
    demo_checks 2
}
demo_flow

if [ "$demo_sourced" -eq 0 ]; then
    echo "demo: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
fi
