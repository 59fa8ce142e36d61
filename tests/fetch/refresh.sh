#!/bin/bash
# Unchanged artifacts are neither downloaded nor rewritten (issue 18 item
# 6): after a `refresh` or a `rotate` a guest costs the server exactly one
# request - the manifest - and no blob, read from bootdrop-server's access
# log, on -d and on --ext2; the installed files are not rewritten (same
# inode, same modification time), while the version, the state and the
# rendered configuration advance.  An installed file that no longer holds
# its artifact's bytes is re-hashed, found and downloaded again - and only
# it.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
command -v debugfs >/dev/null || { echo "debugfs not installed"; exit 77; }
"$MK" bzimage xz efi,xen,pvh "$T/vmlinuz" 5 || exit 1
# above it: the initrd has a chunk index and pack, skipped all the same
head -c 1500000 /dev/urandom >"$T/initrd.img"
# below the size from which artifacts get chunk packs (1 MiB): a damaged
# world is then downloaded whole, one blob request
head -c 300000 /dev/urandom >"$T/world.tgz"
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" --loader grub --loader bls \
	--cmdline "root=/dev/vda2 ro" kernel="$T/vmlinuz" initrd="$T/initrd.img" \
	world="$T/world.tgz" >/dev/null || fail "release"
start_server "$T/repo"
mkdir -p "$T/dest" "$T/tmp"
mkfs.ext2 -q -F "$T/slice.img" 16M >/dev/null
expect_status 0 "-d: install version 1" fetch -d "$T/dest" "$url"
expect_status 0 "--ext2: install version 1" fetch --ext2 "$T/slice.img" --tmpdir "$T/tmp" "$url"

# lines : how many requests the server logged so far.
lines() { wc -l <"$T/server.log"; }
# requests_since N [COUNT] : the requests after line N, as "METHOD PATH
# STATUS".  The server logs a request once its answer is sent, which may be
# just after the client exited: first wait (5 s at most) for COUNT lines.
requests_since() {
	local i
	for i in $(seq 100); do
		[ "$(lines)" -ge $(($1 + ${2:-1})) ] && break
		sleep 0.05
	done
	tail -n +$(($1 + 1)) "$T/server.log" | sed -n 's/^[^"]*"\([A-Z]*\) \([^ ]*\) [^"]*" \([0-9]*\) .*/\1 \2 \3/p'
}
# stamp : inode and modification time of every installed artifact in -d.
stamp() {
	stat -c '%n %i %Y.%y' "$T/dest/boot/kernel" "$T/dest/boot/initrd.img" "$T/dest/world.tgz"
}
# one_manifest DESC N : exactly one request since line N, the manifest.
one_manifest() {
	local got
	got=$(requests_since "$2")
	expect_eq "$got" "GET /channels/$CH/manifest.json 200" "$1: exactly one request, the manifest"
}
# ext2_inodes : the inode numbers of the installed artifacts in the image.
ext2_inodes() {
	for f in boot/kernel boot/initrd.img world.tgz; do
		debugfs -R "stat /$f" "$T/slice.img" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p'
	done | tr '\n' ' '
}

# v2: refresh, v3: rotate to the same key plus a backup key.
for step in 2 3; do
	if [ $step = 2 ]; then
		"$PUBLISH" refresh -r "$T/repo" -c "$CH" -s "$TEST_SEC" -e 30d >/dev/null || fail "refresh"
		what=refresh
	else
		"$PUBLISH" rotate -r "$T/repo" -c "$CH" -s "$TEST_SEC" --keys "$TEST_PUB" \
			--keys "$TESTDATA/keys/backup.pub" >/dev/null || fail "rotate"
		what=rotate
	fi
	before=$(stamp)
	n=$(lines)
	expect_status 0 "-d: after $what, install version $step" fetch -d "$T/dest" "$url"
	one_manifest "-d: $what" "$n"
	expect_eq "$(stamp)" "$before" "-d: $what: no installed artifact rewritten (inode and mtime kept)"
	grep -q "^version=$step$" "$T/dest/.bootdrop/state/$CH" && ok "-d: $what: the state is at version $step" ||
		fail "-d: $what: state $(cat "$T/dest/.bootdrop/state/$CH")"
	"$RENDER" grub 0 "$(M $step)" "$(M $((step - 1)))" >"$T/want.cfg"
	cmp -s "$T/want.cfg" "$T/dest/boot/grub/grub.cfg" && ok "-d: $what: grub.cfg rendered for version $step" ||
		fail "-d: $what: grub.cfg: $(diff "$T/want.cfg" "$T/dest/boot/grub/grub.cfg")"
	[ -e "$T/dest/loader/entries/bootdrop-$CH-$step+3.conf" ] && ok "-d: $what: BLS entry of version $step (on trial)" ||
		fail "-d: $what: no BLS entry $step"
	[ ! -e "$T/dest/boot/kernel.old" ] && ok "-d: $what: the same kernel is not kept as .old" ||
		fail "-d: $what: kernel.old made"
	grep -q "unchanged, kept" "$T/last.out" && ok "-d: $what: says the artifacts are unchanged" ||
		fail "-d: $what: output: $(cat "$T/last.out")"

	before=$(ext2_inodes)
	n=$(lines)
	expect_status 0 "--ext2: after $what, install version $step" \
		fetch --ext2 "$T/slice.img" --tmpdir "$T/tmp" "$url"
	one_manifest "--ext2: $what" "$n"
	expect_eq "$(ext2_inodes)" "$before" "--ext2: $what: no installed artifact rewritten (inodes kept)"
	same_bytes "--ext2: $what: grub.cfg rendered for version $step" "$T/slice.img" boot/grub/grub.cfg "$T/want.cfg"
	fsck_clean "--ext2: $what" "$T/slice.img"
done

# --only of an artifact installed byte for byte: nothing to do, no blob.
n=$(lines)
expect_status 0 "-d: --only kernel, unchanged" fetch --only kernel -d "$T/dest" "$url"
one_manifest "-d: --only kernel, unchanged" "$n"
[ ! -e "$T/dest/.bootdrop/pending" ] && ok "-d: --only kernel, unchanged: no record left" ||
	fail "-d: --only kernel, unchanged: a record was left"

# Damage: the installed world on -d, the initrd on --ext2; a refresh
# downloads exactly that artifact again.
printf 'x' | dd of="$T/dest/world.tgz" bs=1 seek=100 conv=notrunc 2>/dev/null
head -c 1500000 /dev/urandom >"$T/other"
debugfs -w -R "rm /boot/initrd.img" "$T/slice.img" >/dev/null 2>&1
debugfs -w -R "write $T/other /boot/initrd.img" "$T/slice.img" >/dev/null 2>&1
"$PUBLISH" refresh -r "$T/repo" -c "$CH" -s "$TEST_SEC" -e 30d >/dev/null || fail "refresh 4"
WSHA=$(sha256sum <"$T/world.tgz" | cut -c1-64)
n=$(lines)
expect_status 0 "-d: a damaged world with version 4" fetch -d "$T/dest" "$url"
expect_eq "$(requests_since "$n" 2 | tr '\n' ';')" \
	"GET /channels/$CH/manifest.json 200;GET /blobs/sha256/$WSHA 200;" \
	"-d: the manifest and the damaged world's blob, nothing else"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "-d: the world is repaired" || fail "-d: world still damaged"
n=$(lines)
KSHA=$(sha256sum <"$T/vmlinuz" | cut -c1-64)
expect_status 0 "--ext2: a foreign initrd with version 4" fetch --ext2 "$T/slice.img" --tmpdir "$T/tmp" "$url"
# the initrd comes whole or by its chunks; the kernel and world not at all
got=$(requests_since "$n" 2)
echo "$got" | grep -q "^GET /blobs/" && ! echo "$got" | grep -qE "$KSHA|$WSHA" &&
	ok "--ext2: only the replaced initrd is downloaded" ||
	fail "--ext2: requests after a replaced initrd: $got"
same_bytes "--ext2: the initrd is repaired" "$T/slice.img" boot/initrd.img "$T/initrd.img"
fsck_clean "--ext2: after the repair" "$T/slice.img"
finish
