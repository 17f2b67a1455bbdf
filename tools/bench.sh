#!/usr/bin/env bash
# make bench: seccki's speed and memory targets, measured side by side with
# SoftHSMv2 in the same run and printed as one table. It reports; it is not a
# test: a missed target still exits 0, while a measurement that cannot be made
# (a module missing, a signature failing or not verifying) exits 1.
#
# Everything lives in one temporary directory: a seccki config per chip with
# its emulator state file, and a SoftHSMv2 token (SOFTHSM2_CONF). Both modules
# get the same PIN flow: token and user PIN set up, C_Login with the user PIN,
# the key found by CKA_ID, C_SignInit + C_Sign per signature.
#
#   BUILD        build directory (default build)
#   BENCH_SECONDS  timed window per throughput figure (default 3)
#   BENCH_KEEP=1 keep the temporary directory
set -euo pipefail
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/$BUILD/seccki-bench
MOD=$TOP/$BUILD/libseccki.so
SECS=${BENCH_SECONDS:-3}
export SECCKI_LOG=${SECCKI_LOG:-error}

SO_PIN=12345678
PIN=1234
MEM_N1=1000
MEM_N2=100000
VG_EC_SIGS=2000
VG_RSA_SIGS=100
COLD_RUNS=15

die() { echo "bench: $*" >&2; exit 1; }

for f in "$BIN" "$MOD"; do
    [ -x "$f" ] || [ -f "$f" ] || die "missing $f (run make BUILD=$BUILD all)"
done

find_softhsm() {
    local m
    for m in ${SOFTHSM_MODULE:-} /usr/lib/softhsm/libsofthsm2.so \
        /usr/lib/"$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"/softhsm/libsofthsm2.so \
        /usr/local/lib/softhsm/libsofthsm2.so; do
        [ -n "$m" ] && [ -f "$m" ] && { echo "$m"; return 0; }
    done
    return 1
}
if ! SOFT=$(find_softhsm) || ! command -v softhsm2-util >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null
    fi
    if ! SOFT=$(find_softhsm) || ! command -v softhsm2-util >/dev/null; then
        die "SoftHSMv2 is needed for the comparison: sudo apt-get install -y softhsm2"
    fi
fi

W=$(mktemp -d /tmp/seccki-bench.XXXXXX)
if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: files kept in $W"
else
    trap 'rm -rf "$W"' EXIT
fi
R=$W/results
mkdir -p "$R" "$W/softhsm"

# run NAME CMD...: CMD's KEY=VALUE lines go to $R/NAME; a failure ends the bench.
run() {
    local name=$1
    shift
    if ! "$@" >"$R/$name" 2>"$R/$name.err"; then
        echo "bench: $name failed:" >&2
        sed 's/^/  /' "$R/$name.err" >&2
        exit 1
    fi
}
# get NAME KEY: a value from a run's output, "-" when absent.
get() {
    local v
    v=$(sed -n "s/^$2=//p" "$R/$1" 2>/dev/null | head -n 1)
    echo "${v:--}"
}

# ---- setup ----
cat >"$W/atecc.conf" <<EOF
[token edge]
chip = atecc608
bus = sim:$W/edge.atecc
address = 0x60
login = pin
store = $W/store-edge
EOF
cat >"$W/se050.conf" <<EOF
[token gateway]
chip = se050
bus = sim:$W/gateway.se050
address = 0x48
login = pin
store = $W/store-gateway
EOF
cat >"$W/softhsm2.conf" <<EOF
directories.tokendir = $W/softhsm
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$W/softhsm2.conf

seccki_atecc() { SECCKI_CONF=$W/atecc.conf "$BIN" "$@" -m "$MOD" -t edge -p "$PIN"; }
seccki_se050() { SECCKI_CONF=$W/se050.conf "$BIN" "$@" -m "$MOD" -t gateway -p "$PIN"; }
softhsm() { "$BIN" "$@" -m "$SOFT" -t soft -p "$PIN"; }

echo "bench: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "bench: seccki $MOD"
echo "bench: SoftHSMv2 $SOFT ($(softhsm2-util --version 2>/dev/null || echo '?'))"
echo "bench: setting up tokens and keys in $W"
softhsm2-util --init-token --free --label soft --so-pin "$SO_PIN" --pin "$PIN" >"$W/softhsm-init.log" 2>&1 ||
    { cat "$W/softhsm-init.log" >&2; die "softhsm2-util --init-token failed"; }
run setup_atecc seccki_atecc setup -s "$SO_PIN" -g ec:01
run setup_se050 seccki_se050 setup -s "$SO_PIN" -g ec:01 -g rsa:02
run setup_soft softhsm setup -s "$SO_PIN" -g ec:01 -g rsa:02

# ---- throughput, with the emulator's counters around the timed window ----
echo "bench: throughput, ${SECS}s per figure after a warm-up"
run hot_atecc seccki_atecc hot -k 01 -M ecdsa -S "$SECS" --state "$W/edge.atecc" --chip atecc608
run hot_soft_ec softhsm hot -k 01 -M ecdsa -S "$SECS"
run hot_se_ec seccki_se050 hot -k 01 -M ecdsa -S "$SECS" --state "$W/gateway.se050" --chip se050
run hot_se_pkcs seccki_se050 hot -k 02 -M rsa-pkcs -S "$SECS" --state "$W/gateway.se050" --chip se050
run hot_se_pss seccki_se050 hot -k 02 -M rsa-pss -S "$SECS" --state "$W/gateway.se050" --chip se050
run hot_soft_pkcs softhsm hot -k 02 -M rsa-pkcs -S "$SECS"
run hot_soft_pss softhsm hot -k 02 -M rsa-pss -S "$SECS"

# ---- cold start: dlopen to the first signature, fresh process each run ----
echo "bench: cold start, median of $COLD_RUNS processes each"
run cold_atecc seccki_atecc coldrun -k 01 -M ecdsa -n "$COLD_RUNS"
run cold_se seccki_se050 coldrun -k 01 -M ecdsa -n "$COLD_RUNS"
run cold_soft softhsm coldrun -k 01 -M ecdsa -n "$COLD_RUNS"

# ---- memory over many signatures ----
echo "bench: memory over $MEM_N2 signatures"
run mem_atecc seccki_atecc mem -k 01 -M ecdsa -c "$MEM_N1" -n "$MEM_N2"
run mem_soft softhsm mem -k 01 -M ecdsa -c "$MEM_N1" -n "$MEM_N2"

# vg NAME CMD...: CMD under memcheck; stores definitely-lost bytes and errors.
vg() {
    local name=$1 log=$R/$1.vg lost errs
    shift
    valgrind --leak-check=full --log-file="$log" "$@" >"$R/$name" 2>"$R/$name.err" ||
        { sed 's/^/  /' "$R/$name.err" "$log" >&2; die "$name failed under valgrind"; }
    lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | head -n 1)
    grep -q 'All heap blocks were freed' "$log" && lost=0
    errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tr -d , | tail -n 1)
    echo "vg_lost=${lost:--}" >>"$R/$name"
    echo "vg_errors=${errs:--}" >>"$R/$name"
}
VG=0
if command -v valgrind >/dev/null; then
    VG=1
    echo "bench: valgrind memcheck ($VG_EC_SIGS ATECC608 ECDSA, $VG_RSA_SIGS SE050 RSA-PSS signatures)"
    SECCKI_CONF=$W/atecc.conf vg vg_atecc "$BIN" mem -m "$MOD" -t edge -p "$PIN" -k 01 -M ecdsa \
        -c 100 -n "$VG_EC_SIGS"
    SECCKI_CONF=$W/se050.conf vg vg_se "$BIN" mem -m "$MOD" -t gateway -p "$PIN" -k 02 -M rsa-pss \
        -c 10 -n "$VG_RSA_SIGS"
else
    echo "bench: valgrind not installed; the leak check is skipped (apt-get install valgrind)"
fi

# ---- the table ----
met=0
missed=0
row() { printf '%-50s %12s %12s %7s %8s  %s\n' "$@"; }
# ratio A B: A/B with two decimals, "-" when either is missing or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# judge VALUE OP LIMIT: sets OK to yes/NO and counts it (not in a subshell,
# so the counts survive).
judge() {
    OK=$(awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v == "-") { print "NO"; exit }
        if (op == ">=") r = v + 0 >= l + 0; else if (op == "<=") r = v + 0 <= l + 0; else r = v + 0 == l + 0
        print r ? "yes" : "NO" }')
    if [ "$OK" = yes ]; then met=$((met + 1)); else missed=$((missed + 1)); fi
}
ms() { awk -v u="$1" 'BEGIN { if (u == "-") print "-"; else printf "%.2f", u / 1000 }'; }
# rate_row LABEL SECCKI_RUN SOFT_RUN [TARGET]
rate_row() {
    local a b r
    a=$(get "$2" sign_per_s)
    b=$(get "$3" sign_per_s)
    r=$(ratio "$a" "$b")
    if [ -n "${4:-}" ]; then
        judge "$r" ">=" "$4"
        row "$1" "$a" "$b" "$r" ">=$4" "$OK"
    else
        row "$1" "$a" "$b" "$r" "-" "-"
    fi
}
# traffic_rows CHIP NAME RUN UNIT: per-C_Sign emulator counters after the first.
traffic_rows() {
    local cmds
    cmds=$(get "$3" per_sign_cmds)
    judge "$cmds" "=" "$5"
    row "$4 / C_Sign, $2 ($1)" "$cmds" "-" "-" "=$5" "$OK"
    row "  transactions / C_Sign" "$(get "$3" per_sign_tx)" "-" "-" "-" "-"
    row "  bytes to chip / C_Sign" "$(get "$3" per_sign_to_chip)" "-" "-" "-" "-"
    row "  bytes from chip / C_Sign" "$(get "$3" per_sign_from_chip)" "-" "-" "-" "-"
    row "  $4, first C_Sign of the process" "$(get "$3" first_cmds)" "-" "-" "-" "-"
}

echo
row "metric" "seccki" "SoftHSMv2" "ratio" "target" "ok"
rate_row "ECDSA P-256 sign/s (ATECC608)" hot_atecc hot_soft_ec 2.0
ca=$(get cold_atecc cold_median_us)
cs=$(get cold_soft cold_median_us)
r=$(ratio "$cs" "$ca")
judge "$r" ">=" 1.0
row "cold start ms, dlopen to 1st sig (ATECC608)" "$(ms "$ca")" "$(ms "$cs")" "$r" ">=1.0" "$OK"
for p in dlopen initialize slot session login find_key sign; do
    row "  $p ms" "$(ms "$(get cold_atecc "cold_phase_${p}_us")")" \
        "$(ms "$(get cold_soft "cold_phase_${p}_us")")" "-" "-" "-"
done
traffic_rows ATECC608 ECDSA hot_atecc "chip commands" 2
row "RSS kB after $MEM_N1 sigs (ATECC608)" "$(get mem_atecc rss1_kb)" "$(get mem_soft rss1_kb)" "-" "-" "-"
row "RSS kB after $MEM_N2 sigs" "$(get mem_atecc rss2_kb)" "$(get mem_soft rss2_kb)" "-" "-" "-"
g=$(get mem_atecc rss_growth_kb)
judge "$g" "<=" 64
row "RSS growth kB" "$g" "$(get mem_soft rss_growth_kb)" "-" "<=64" "$OK"
row "heap in use growth bytes (mallinfo2)" "$(get mem_atecc heap_growth_b)" "$(get mem_soft heap_growth_b)" "-" "-" "-"
if [ "$VG" = 1 ]; then
    l=$(get vg_atecc vg_lost)
    judge "$l" "=" 0
    row "valgrind definitely lost B ($VG_EC_SIGS sigs ATECC)" "$l" "-" "-" "=0" "$OK"
    row "  valgrind errors" "$(get vg_atecc vg_errors)" "-" "-" "-" "-"
    l=$(get vg_se vg_lost)
    judge "$l" "=" 0
    row "valgrind definitely lost B ($VG_RSA_SIGS sigs SE050 PSS)" "$l" "-" "-" "=0" "$OK"
    row "  valgrind errors" "$(get vg_se vg_errors)" "-" "-" "-" "-"
else
    row "valgrind definitely lost B" "skipped" "-" "-" "=0" "-"
fi
rate_row "ECDSA P-256 sign/s (SE050)" hot_se_ec hot_soft_ec
rate_row "RSA-2048 PKCS#1 v1.5 sign/s (SE050)" hot_se_pkcs hot_soft_pkcs 2.0
rate_row "RSA-2048 PSS sign/s (SE050)" hot_se_pss hot_soft_pss 2.0
ca=$(get cold_se cold_median_us)
row "cold start ms, dlopen to 1st sig (SE050)" "$(ms "$ca")" "$(ms "$cs")" "$(ratio "$cs" "$ca")" "-" "-"
traffic_rows SE050 ECDSA hot_se_ec APDUs 1
traffic_rows SE050 "RSA PKCS#1" hot_se_pkcs APDUs 1
traffic_rows SE050 "RSA PSS" hot_se_pss APDUs 1
echo
echo "ratio: how many times better seccki is (rates: seccki/SoftHSMv2; times: SoftHSMv2/seccki)"
echo "bench: $met targets met, $missed missed"
