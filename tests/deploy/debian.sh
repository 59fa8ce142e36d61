#!/bin/bash
# deploy/mkdeb.sh builds bootdrop-publish, bootdrop-server and
# bootdrop-fetch .debs that lintian passes with no error; unpacked into a
# scratch root, the installed programs make a key, publish, serve, fetch
# and mirror.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
command -v dpkg-buildpackage >/dev/null || { echo "dpkg-buildpackage not installed"; exit 77; }

TMPDIR=$T expect_status 0 "mkdeb.sh" "$BOOTDROP_SRCDIR/deploy/mkdeb.sh" "$T/deb" ||
	{ tail -n 30 "$T/last.out" "$T/last.err"; finish; }
for p in publish server fetch; do
	compgen -G "$T/deb/bootdrop-${p}_*.deb" >/dev/null && ok "bootdrop-$p package built" || fail "no bootdrop-$p .deb"
done
expect_status 0 "lintian: no errors" lintian --fail-on error "$T"/deb/*.changes ||
	cat "$T/last.out"

for d in "$T"/deb/bootdrop-{publish,server,fetch}_*.deb; do dpkg -x "$d" "$T/root"; done
R=$T/root
version=$(sed -n "s/^ *version : '\([^']*\)',*$/\1/p" "$BOOTDROP_SRCDIR/meson.build" | head -n 1)
for p in bootdrop-publish bootdrop-server bootdrop-fetch bootdrop-mirror; do
	[ "$("$R/usr/bin/$p" --version)" = "$p $version" ] && "$R/usr/bin/$p" --help >/dev/null 2>&1 &&
		ok "/usr/bin/$p: --version and --help" || fail "/usr/bin/$p does not run"
done
grep -qx 'ExecStart=/usr/bin/bootdrop-server .*' "$R/lib/systemd/system/bootdrop-server.service" &&
	ok "unit in /lib/systemd/system runs /usr/bin/bootdrop-server" || fail "unit"
grep -qx 'procname="/usr/bin/bootdrop-server"' "$R/usr/share/bootdrop/rc.d/bootdrop_server" &&
	ok "rc.d script in /usr/share/bootdrop/rc.d" || fail "rc.d script"
grep -q 'include /usr/share/bootdrop/nginx/bootdrop-repo.conf;' "$R/usr/share/bootdrop/nginx/bootdrop.conf" &&
	ok "nginx rules in /usr/share/bootdrop/nginx" || fail "nginx rules"

# The installed programs do the job end to end.
cd "$T" || exit 1
expect_status 0 "installed keygen" "$R/usr/bin/bootdrop-publish" keygen -W -p k.pub -s k.key
make_kernel "$T/kernel"
make_world "$T/world.tgz" 1
expect_status 0 "installed release" "$R/usr/bin/bootdrop-publish" release -r repo -c "$CH" \
	-s k.key kernel=kernel world=world.tgz
SERVER=$R/usr/bin/bootdrop-server start_server "$T/repo" || { fail "installed server did not start"; finish; }
fresh_dest
expect_status 0 "installed fetch" "$R/usr/bin/bootdrop-fetch" -p k.pub -c "$CH" -d "$T/dest" "$url"
cmp -s "$T/dest/world.tgz" world.tgz && ok "world installed byte for byte" || fail "world differs"
expect_status 0 "installed bootdrop-mirror" "$R/usr/bin/bootdrop-mirror" -q repo mirror
cmp -s repo/channels/$CH/manifest.json mirror/channels/$CH/manifest.json && ok "mirror made" ||
	fail "mirror differs"

finish
