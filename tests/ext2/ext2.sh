#!/bin/bash
# client/ext2.c against real ext2 images: installs, replacements and
# refusals, each image then checked by `e2fsck -fn` and read back with
# debugfs - no mount anywhere.
. "$BOOTDROP_TESTLIB"
TOOL=$BOOTDROP_BUILDDIR/tests/ext2/ext2tool
export PATH=$PATH:/sbin:/usr/sbin
for p in mkfs.ext2 e2fsck debugfs; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done

img=$T/boot.img
mkfs.ext2 -q -F "$img" 16M
head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$T/kernel1"
head -c $((5 * 1024 * 1024 + 7)) /dev/urandom >"$T/kernel2"
printf 'timeout 5\ntitle test\n  kernel /boot/kernel\n' >"$T/menu.lst"

expect_status 0 "install boot/kernel (boot/ created)" "$TOOL" install "$img" boot/kernel "$T/kernel1"
expect_status 0 "install boot/grub/menu.lst (boot/grub/ created)" \
	"$TOOL" bytes "$img" boot/grub/menu.lst "$(cat "$T/menu.lst")"
fsck_clean "first install" "$img"
same_bytes "kernel" "$img" boot/kernel "$T/kernel1"
printf '%s' "$(cat "$T/menu.lst")" >"$T/menu.expect"
same_bytes "menu.lst" "$img" boot/grub/menu.lst "$T/menu.expect"
debugfs -R "stat /boot/kernel" "$img" 2>/dev/null | grep -q 'Mode:  0644' &&
	ok "kernel mode 0644" || fail "kernel mode: $(debugfs -R 'stat /boot/kernel' "$img" 2>/dev/null | head -3)"

free_blocks() { dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Free blocks: *//p'; }
free1=$(free_blocks "$img")
expect_status 0 "replace boot/kernel with other bytes" "$TOOL" install "$img" boot/kernel "$T/kernel2"
fsck_clean "replacement" "$img"
same_bytes "replaced kernel" "$img" boot/kernel "$T/kernel2"
expect_status 0 "replace it back" "$TOOL" install "$img" boot/kernel "$T/kernel1"
fsck_clean "second replacement" "$img"
same_bytes "kernel again" "$img" boot/kernel "$T/kernel1"
[ "$(free_blocks "$img")" = "$free1" ] && ok "old kernel's blocks freed (no leak)" ||
	fail "free blocks $(free_blocks "$img"), want $free1"

# The state file: written, read back, capped; absent is not an error.
expect_status 0 "install .bootdrop/state/test" "$TOOL" bytes "$img" .bootdrop/state/test "version=1"
expect_status 0 "read the state file" "$TOOL" read "$img" .bootdrop/state/test 4096
[ "$(cat "$T/last.out")" = "version=1" ] && ok "state reads back" || fail "state read: $(cat "$T/last.out")"
expect_status 3 "read over its cap is refused" "$TOOL" read "$img" .bootdrop/state/test 4
expect_status 10 "absent state file" "$TOOL" read "$img" .bootdrop/state/other 4096
expect_status 10 "absent state directory" "$TOOL" read "$img" nothere/state 4096
fsck_clean "state" "$img"

# Refusals: symlinks on the path or at the destination, a directory at
# the destination, paths that escape; none changes the image.
mkfs.ext2 -q -F "$T/sym.img" 8M
debugfs -w -R "symlink boot /elsewhere" "$T/sym.img" >/dev/null 2>&1
debugfs -w -R "mkdir etc" "$T/sym.img" >/dev/null 2>&1
debugfs -w -R "symlink etc/kernel /boot/kernel" "$T/sym.img" >/dev/null 2>&1
debugfs -w -R "mkdir dir" "$T/sym.img" >/dev/null 2>&1
debugfs -w -R "mkdir dir/kernel" "$T/sym.img" >/dev/null 2>&1
before=$(sha256sum <"$T/sym.img")
expect_status 3 "symlink at boot/ is refused" "$TOOL" install "$T/sym.img" boot/kernel "$T/kernel1"
expect_err "boot is a symbolic link" "names the symlink"
expect_status 3 "symlink at the destination is refused" "$TOOL" install "$T/sym.img" etc/kernel "$T/kernel1"
expect_err "not a regular file" "says not a regular file"
expect_status 3 "directory at the destination is refused" "$TOOL" install "$T/sym.img" dir/kernel "$T/kernel1"
expect_status 3 "reading through a symlink is refused" "$TOOL" read "$T/sym.img" boot/grub/menu.lst 4096
for bad in ../kernel /boot/kernel boot/../kernel boot//kernel ./kernel; do
	expect_status 3 "path '$bad' refused" "$TOOL" install "$T/sym.img" "$bad" "$T/kernel1"
done
# A delta's seed is found by the same walk, read-only.
expect_status 3 "a seed through a symlink is refused" "$TOOL" seed "$T/sym.img" boot/grub/menu.lst 4096
expect_status 3 "a symlink as the seed is refused" "$TOOL" seed "$T/sym.img" etc/kernel 4096
expect_status 3 "a directory as the seed is refused" "$TOOL" seed "$T/sym.img" dir/kernel 4096
for bad in ../kernel /boot/kernel boot/../kernel; do
	expect_status 3 "seed path '$bad' refused" "$TOOL" seed "$T/sym.img" "$bad" 4096
done
[ "$(sha256sum <"$T/sym.img")" = "$before" ] && ok "refusals left the image byte for byte" ||
	fail "a refusal changed the image"
fsck_clean "after refusals" "$T/sym.img"

# A delta's seed read back at any offset, in pieces, from the end.
before=$(sha256sum <"$img")
expect_status 0 "read boot/kernel as a seed (pieces of 7777 bytes)" \
	"$TOOL" seed "$img" boot/kernel 7777
cmp -s "$T/last.out" "$T/kernel1" && ok "the seed reads back byte for byte" ||
	fail "the seed read back differs"
expect_status 10 "an absent seed" "$TOOL" seed "$img" boot/nothere 4096
[ "$(sha256sum <"$img")" = "$before" ] && ok "reading seeds left the image byte for byte" ||
	fail "reading a seed changed the image"

# A full file system: refused as a write error, the old kernel intact.
mkfs.ext2 -q -F "$T/small.img" 4M
expect_status 0 "install into a small image" "$TOOL" install "$T/small.img" boot/kernel "$T/kernel1"
expect_status 4 "no room for a second large kernel" "$TOOL" install "$T/small.img" boot/other "$T/kernel2"
fsck_clean "after ENOSPC" "$T/small.img"
same_bytes "kernel after ENOSPC" "$T/small.img" boot/kernel "$T/kernel1"

# A directory that outgrows its first block.
for i in $(seq 1 60); do
	n=$(printf 'file-with-a-rather-long-name-to-fill-directory-blocks-%03d' "$i")
	"$TOOL" bytes "$img" "many/$n" "$i" || { fail "many/$n"; break; }
done
[ "$(debugfs -R "cat /many/file-with-a-rather-long-name-to-fill-directory-blocks-060" "$img" 2>/dev/null)" = 60 ] &&
	ok "60 entries in one directory" || fail "directory expansion"
fsck_clean "many entries" "$img"

# ext4 (extents, journal) works too.
if command -v mkfs.ext4 >/dev/null; then
	mkfs.ext4 -q -F "$T/ext4.img" 32M
	expect_status 0 "install into ext4" "$TOOL" install "$T/ext4.img" boot/kernel "$T/kernel2"
	expect_status 0 "replace in ext4" "$TOOL" install "$T/ext4.img" boot/kernel "$T/kernel1"
	fsck_clean "ext4" "$T/ext4.img"
	same_bytes "ext4 kernel" "$T/ext4.img" boot/kernel "$T/kernel1"
fi

# Not a file system.
head -c 1048576 /dev/zero >"$T/zero.img"
expect_status 4 "not ext2 is a local error" "$TOOL" install "$T/zero.img" boot/kernel "$T/kernel1"
expect_err "not an ext2/3/4 file system: $T/zero.img" "names the cause"

# Unprivileged on an image file.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	mkdir "$T/user"
	chmod 755 "$T"
	mkfs.ext2 -q -F "$T/user/u.img" 8M
	cp "$T/kernel1" "$T/user/kernel"
	chown -R 65534:65534 "$T/user"
	expect_status 0 "install as an unprivileged user" setpriv --reuid=65534 \
		--regid=65534 --clear-groups "$TOOL" install "$T/user/u.img" boot/kernel "$T/user/kernel"
	fsck_clean "unprivileged" "$T/user/u.img"
	same_bytes "unprivileged" "$T/user/u.img" boot/kernel "$T/kernel1"
fi

finish
