#!/bin/bash
# End to end against nginx serving the same static repository: install,
# one kept-alive connection for the manifest and every blob, already
# current, and a partial download resumed with Range (206).
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
[ -x /usr/sbin/nginx ] || { echo "nginx not installed"; exit 77; }

make_world "$T/world.tgz" 2
make_repo "$T/repo"
start_nginx "$T/repo" || { fail "nginx did not start"; finish; }
world_hex=$(sha256sum "$T/world.tgz" | cut -d' ' -f1)

fresh_dest
expect_status 0 "install from nginx" fetch -d "$T/dest" "$url"
cmp -s "$T/dest/boot/kernel" "$T/kernel" && cmp -s "$T/dest/world.tgz" "$T/world.tgz" &&
	[ -s "$T/dest/boot/grub/menu.lst" ] && ok "installed byte for byte" || fail "installed files differ"
[ "$(grep -c ' 200 ' "$T/nginx.access")" -eq 3 ] && ok "manifest and two blobs fetched" ||
	fail "requests: $(cat "$T/nginx.access")"
[ "$(grep -v " /none " "$T/nginx.access" | cut -d" " -f1 | sort -u | wc -l)" -eq 1 ] &&
	ok "one connection reused for every request" || fail "connections: $(cat "$T/nginx.access")"

: >"$T/nginx.access"
snapshot
expect_status 0 "already current" fetch -d "$T/dest" "$url"
grep -q "up to date" "$T/last.out" && ok "up to date" || fail "not up to date"
grep -q "/blobs/" "$T/nginx.access" && fail "blobs fetched when current" || ok "no blob fetched"
unchanged "already current"

# A partial download left by an interrupted run resumes with Range.
fresh_dest
mkdir -p -m 700 "$T/dest/.bootdrop/tmp"
head -c 1000000 "$T/world.tgz" >"$T/dest/.bootdrop/tmp/$world_hex.part"
: >"$T/nginx.access"
expect_status 0 "resume from nginx" fetch -d "$T/dest" "$url"
grep -q "GET /blobs/sha256/$world_hex HTTP/1.1 206 bytes=1000000-" "$T/nginx.access" &&
	ok "resumed with Range: bytes=1000000- (206)" || fail "no 206: $(cat "$T/nginx.access")"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "resumed world intact" || fail "resumed world differs"

# Threats hold against a plain static server too: a tampered blob on disk.
cp -a "$T/repo" "$T/bad"
printf 'X' | dd of="$T/bad/blobs/sha256/$world_hex" bs=1 seek=100 conv=notrunc 2>/dev/null
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null
start_nginx "$T/bad" || fail "nginx restart"
fresh_dest; snapshot
expect_status 3 "tampered blob on nginx" fetch -d "$T/dest" "$url"
expect_err "sha256 mismatch" "tampered: message"
unchanged "tampered blob on nginx"

finish
