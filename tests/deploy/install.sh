#!/bin/bash
# meson install into a scratch DESTDIR: the programs, their man pages, the
# systemd unit in systemd's unit directory, the rc.d script and the nginx
# rules under share/bootdrop, each naming the installed paths; the
# installed programs run.
. "$BOOTDROP_TESTLIB"

expect_status 0 "meson install" meson install -C "$BOOTDROP_BUILDDIR" --no-rebuild \
	--destdir "$T/root" --quiet
fetch=$(find "$T/root" -path '*/bin/bootdrop-fetch' -type f)
bindir=${fetch%/bootdrop-fetch} bindir=${bindir#"$T/root"}
[ -n "$fetch" ] && ok "bootdrop-fetch installed in $bindir" || { fail "no bootdrop-fetch installed"; finish; }
version=$(sed -n "s/^ *version : '\([^']*\)',*$/\1/p" "$BOOTDROP_SRCDIR/meson.build" | head -n 1)
for p in bootdrop-publish bootdrop-server bootdrop-fetch bootdrop-mirror; do
	[ -x "$T/root$bindir/$p" ] && [ "$("$T/root$bindir/$p" --version)" = "$p $version" ] &&
		ok "$p installed and prints its version" || fail "$p: $("$T/root$bindir/$p" --version 2>&1)"
done
for m in man1/bootdrop-publish.1 man1/bootdrop-mirror.1 man8/bootdrop-server.8 man8/bootdrop-fetch.8; do
	[ -n "$(find "$T/root" -path "*/share/man/$m")" ] && ok "man page $m" || fail "no man page $m"
done

unit=$(find "$T/root" -name bootdrop-server.service)
want=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
if [ -n "$want" ]; then
	[ "$unit" = "$T/root$want/bootdrop-server.service" ] && ok "unit in systemd's $want" ||
		fail "unit at '$unit', systemd says $want"
fi
grep -qx "ExecStart=$bindir/bootdrop-server .*" "$unit" && ok "unit runs $bindir/bootdrop-server" ||
	fail "unit: $(grep ExecStart "$unit")"
rcd=$(find "$T/root" -path '*/share/bootdrop/rc.d/bootdrop_server')
[ -x "$rcd" ] && grep -qx "procname=\"$bindir/bootdrop-server\"" "$rcd" &&
	ok "rc.d script in ${rcd#"$T/root"} runs $bindir/bootdrop-server" || fail "rc.d script: '$rcd'"
site=$(find "$T/root" -path '*/share/bootdrop/nginx/bootdrop.conf')
rules=$(find "$T/root" -path '*/share/bootdrop/nginx/bootdrop-repo.conf')
[ -n "$rules" ] && grep -q "include ${rules#"$T/root"};" "$site" &&
	ok "nginx site includes the installed rules" || fail "nginx files: '$site' '$rules'"
"$T/root$bindir/bootdrop-mirror" --help >/dev/null && ok "bootdrop-mirror --help" || fail "bootdrop-mirror --help"

finish
