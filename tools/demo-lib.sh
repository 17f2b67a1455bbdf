# shellcheck shell=bash
# Shell helpers shared by tools/demo.sh and docs/walkthrough-*.sh: how a
# command is shown to the reader, where a script stops, and the plumbing of
# a TLS test (engine config, a free port, waiting for a server's log line).
# Sourced, not run; bash only.

# One argument as the reader would type it: plain words as they are,
# anything else single-quoted (a PKCS#11 URI has ';', a subject may have ' ').
shell_quote() {
    local q="'\\''"
    if [[ $1 =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/$q}"
    fi
}

# A command line, each argument quoted so that it can be pasted back.
shell_words() {
    local a sep=
    for a in "$@"; do
        printf '%s' "$sep"
        shell_quote "$a"
        sep=' '
    done
    printf '\n'
}

step() { printf '\n== %s\n' "$*"; }

# Show a command, then run it.
run() {
    printf '$ '
    shell_words "$@"
    "$@"
}

die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

# need_commands HINT CMD...: stop, naming the packages in HINT, when one is missing.
need_commands() {
    local hint=$1 c
    shift
    for c in "$@"; do
        command -v "$c" >/dev/null || die "needs $c ($hint)"
    done
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_line FILE PATTERN: up to 10 s (100 polls) for a server's log to
# show that it is ready; fails when it never does.
wait_for_line() {
    local i
    for i in $(seq 1 100); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        [ "$i" -lt 100 ] && sleep 0.1
    done
    return 1
}

# engine_conf FILE MODULE: an OpenSSL config that makes libp11's "pkcs11"
# engine load MODULE, for `openssl ... -engine pkcs11 -keyform engine`.
engine_conf() {
    cat >"$1" <<EOF
openssl_conf = oc
[oc]
engines = eng
[eng]
pkcs11 = p11
[p11]
engine_id = pkcs11
MODULE_PATH = $2
init = 0
EOF
}

# uri_field FILE TYPE FIELD: FIELD=value of the TYPE line of `seccki-tool uri`
# output in FILE (e.g. "object=device"), empty when there is none.
uri_field() {
    grep "type=$2\$" "$1" | head -n 1 | grep -o "[;:]$3=[^;]*" | cut -c2-
}
