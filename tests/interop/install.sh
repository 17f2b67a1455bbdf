# Sourced by run.sh: `make install` into a temporary prefix, then clients that
# find the module only through p11-kit: p11-kit list-modules, p11tool without
# --provider, and pkcs11-tool through p11-kit-proxy.so. `make uninstall` undoes it.
# The module file goes to the user's p11-kit directory; p11-kit reads no user
# configuration for root, so as root those clients run as nobody.
as_user() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$W/home" "$@"
    else
        env HOME="$W/home" "$@"
    fi
}

install_flow() {
    W=$WORK/install
    local prefix=$W/prefix cfgdir=$W/home/.config
    mkdir -p "$W" "$cfgdir/pkcs11/modules"
    cat >"$W/seccki.conf" <<CONF
[token inst]
chip = atecc608
bus = sim:$W/inst.atecc
login = none
store = $W/store

[token inst-se]
chip = se050
bus = sim:$W/inst.se050
login = none
store = $W/store
CONF
    export SECCKI_CONF=$W/seccki.conf
    chmod a+x "$WORK"
    check "install: make install PREFIX=... into a temporary prefix" \
        make -s -C "$TOP" BUILD="$BUILD" install PREFIX="$prefix" SYSCONFDIR="$prefix/etc" \
        P11KITDIR="$cfgdir/pkcs11/modules"
    local mod
    mod=$(find "$prefix" -name libseccki.so | head -n 1)
    chmod -R a+rwX "$W"
    check "install: module, tool, man pages and example config are in place" sh -c \
        "[ -n '$mod' ] && [ -x '$prefix/bin/seccki-tool' ] && [ -f '$prefix/share/man/man1/seccki-tool.1' ] &&
         [ -f '$prefix/share/man/man5/seccki.conf.5' ] && [ -f '$prefix/share/man/man7/seccki.7' ] &&
         [ -f '$prefix/etc/seccki/seccki.conf' ] && grep -q '^critical: no' '$cfgdir/pkcs11/modules/seccki.module'"
    check "install: p11-kit list-modules shows both tokens" sh -c \
        "$(declare -f as_user); W='$W' as_user p11-kit list-modules > '$W/mods.txt' &&
         grep -q 'token: inst\$' '$W/mods.txt' && grep -q 'token: inst-se' '$W/mods.txt'"
    check "install: p11tool finds the token through p11-kit" sh -c \
        "$(declare -f as_user); W='$W' as_user p11tool --list-tokens | grep -q 'token=inst'"
    local proxy
    proxy=$(find /usr/lib -name p11-kit-proxy.so 2>/dev/null | head -n 1)
    check "install: pkcs11-tool through p11-kit-proxy generates and signs" sh -c \
        "$(declare -f as_user); W='$W'
         as_user pkcs11-tool --module '$mod' --init-token --label inst --so-pin 12345678 &&
         as_user pkcs11-tool --module '$proxy' --token-label inst --keypairgen \
             --key-type EC:prime256v1 --label viaproxy --id 31 >/dev/null &&
         head -c 32 /dev/urandom > '$W/d.bin' && chmod a+r '$W/d.bin' &&
         as_user pkcs11-tool --module '$proxy' --token-label inst --sign -m ECDSA \
             --id 31 -i '$W/d.bin' -o '$W/s.der' --signature-format openssl &&
         as_user p11tool --export-pubkey 'pkcs11:token=inst;object=viaproxy' > '$W/pub.pem' &&
         openssl pkeyutl -verify -pubin -inkey '$W/pub.pem' -in '$W/d.bin' -sigfile '$W/s.der'"
    check "install: make uninstall removes it" sh -c \
        "make -s -C '$TOP' BUILD='$BUILD' uninstall PREFIX='$prefix' SYSCONFDIR='$prefix/etc' P11KITDIR='$cfgdir/pkcs11/modules' &&
         [ ! -e '$mod' ] && [ ! -e '$prefix/bin/seccki-tool' ] && [ ! -e '$cfgdir/pkcs11/modules/seccki.module' ]"
}
install_flow
