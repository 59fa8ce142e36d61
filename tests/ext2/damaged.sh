#!/bin/bash
# Damaged boot slices: a table of hand-corrupted ext2 and ext4 images,
# each one e2fsck -fn calls damaged, given to bootdrop-fetch --ext2 with
# a new version to install.  Every one must end in exit 4 naming
# "e2fsck -f", with the image byte for byte as it was: nothing is
# written into a file system that is not sound; and none is read as a
# delta's seed (ext2tool seed: exit 4 naming "e2fsck -f").  (Run by the sanitizer
# build too, where a crash or a leak fails it.)
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
EXT2TOOL=$BOOTDROP_BUILDDIR/tests/ext2/ext2tool
export PATH=$PATH:/sbin:/usr/sbin
[ -x "$SERVER" ] || { echo "bootdrop-server not built"; exit 77; }
for p in mkfs.ext2 mkfs.ext4 e2fsck debugfs; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done

mkdir -p "$T/v1" "$T/v2" "$T/v3" "$T/w/etc" "$T/tmp"
make_kernel "$T/kernel"
for v in 1 2 3; do
	cp "$T/kernel" "$T/v$v/kernel"; echo "kernel $v" >>"$T/v$v/kernel"
	echo $v >"$T/w/etc/version"; tar -C "$T/w" -czf "$T/v$v/world.tgz" .
done
release() {
	"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" \
		kernel="$T/v$1/kernel" world="$T/v$1/world.tgz" >/dev/null
}
release 1
start_server "$T/repo"
mkfs.ext2 -q -F -b 1024 "$T/ext2.img" 4M
mkfs.ext4 -q -F -b 1024 -O ^has_journal,metadata_csum "$T/ext4.img" 4M
# Version 1, then 2: boot/kernel.old exists.
for v in 1 2; do
	[ $v = 1 ] || release $v
	for i in ext2 ext4; do
		fetch -q --ext2 "$T/$i.img" --tmpdir "$T/tmp" "$url" ||
			{ echo "v$v install on $i failed"; exit 1; }
	done
done
for i in ext2 ext4; do
	debugfs -w -R "mkdir /extra" "$T/$i.img" 2>/dev/null
	debugfs -w -R "mkdir /extra/sub" "$T/$i.img" 2>/dev/null
	e2fsck -fn "$T/$i.img" >/dev/null 2>&1 || { echo "$i base image unsound"; exit 1; }
done
release 3

# field FS PATH FIELD : a number from debugfs stat (e.g. "(IND)", "Inode").
blk() { debugfs -R "bmap $2 $3" "$1" 2>/dev/null; }
ino() { debugfs -R "stat $2" "$1" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p'; }
ind() { debugfs -R "stat $2" "$1" 2>/dev/null | sed -n 's/.*(IND):\([0-9]*\).*/\1/p'; }
itable() { dumpe2fs "$1" 2>/dev/null | sed -n 's/^ *Inode table at \([0-9]*\)-.*/\1/p' | head -n 1; }
# dw IMG CMD... : debugfs -w commands, one per argument.
dw() { local img=$1; shift; printf '%s\n' "$@" | debugfs -w -f - "$img" >/dev/null 2>&1; }
# poke IMG BYTE-OFFSET HEX : overwrites bytes.
poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# damage NAME BASE : copies BASE to $T/d.img for the commands that follow.
tried=0
check() {
	local name=$1 before after
	tried=$((tried + 1))
	# (e2fsck -n only asks about a device shorter than the file system,
	# "Abort? no", and exits 0: its question is the finding then)
	if e2fsck -fn "$T/d.img" >"$T/fsck.out" 2>&1 &&
	    ! grep -q 'physical size of the device' "$T/fsck.out"; then
		fail "$name: e2fsck -fn finds nothing wrong (bad test)"; return
	fi
	before=$(sha256sum <"$T/d.img")
	# a delta's seed is read only from a sound file system
	"$EXT2TOOL" seed "$T/d.img" boot/kernel 65536 >/dev/null 2>"$T/seed.err"
	local src=$?
	if [ $src -ne 4 ] || ! grep -q 'e2fsck -f' "$T/seed.err"; then
		fail "$name: seeding read it (exit $src), want exit 4 naming e2fsck -f"
	fi
	rm -rf "$T/tmp"; mkdir -p "$T/tmp"
	fetch -q --ext2 "$T/d.img" --tmpdir "$T/tmp" "$url" >"$T/out" 2>&1
	local rc=$?
	after=$(sha256sum <"$T/d.img")
	if [ $rc -ne 4 ] || ! grep -q 'e2fsck -f' "$T/out"; then
		fail "$name: exit $rc, want 4 naming e2fsck -f"; sed 's/^/    | /' "$T/out" >&2
	elif [ "$before" != "$after" ]; then
		fail "$name: the image was written"
	else
		ok "$name: exit 4, nothing written ($(sed 's/.*damaged (\(.*\)); nothing.*/\1/' "$T/out" | head -c 100))"
	fi
}
for fs in ext2 ext4; do
	base=$T/$fs.img
	k=$(ino "$base" /boot/kernel); ko=$(ino "$base" /boot/kernel.old)
	kb=$(blk "$base" /boot/kernel 0); kob=$(blk "$base" /boot/kernel.old 0)
	world=$(ino "$base" /world.tgz); boot=$(ino "$base" /boot)
	sub=$(ino "$base" /extra/sub); extra=$(ino "$base" /extra)
	bootblk=$(blk "$base" /boot 0)

	cp "$base" "$T/d.img"; dw "$T/d.img" "ln /extra /extra/sub/loop" "sif /extra links_count 4"
	check "$fs: directory loop"
	# An image cut short (found by fuzz_ext2): its last blocks read as
	# nothing, and were handed out over what they held.
	head -c $((3 * 1024 * 1024)) "$base" >"$T/d.img"
	check "$fs: an image shorter than its file system"
	cp "$base" "$T/d.img"; dw "$T/d.img" "sif /extra/sub block[0] $bootblk"
	check "$fs: a directory cross-linked with /boot"
	cp "$base" "$T/d.img"; dw "$T/d.img" "sif /world.tgz block[0] $kb"
	check "$fs: cross-linked blocks (world.tgz and boot/kernel)"
	cp "$base" "$T/d.img"; dw "$T/d.img" "sif /boot/kernel size 100"
	check "$fs: file size below its blocks"
	cp "$base" "$T/d.img"; dw "$T/d.img" "sif /boot size 12345"
	check "$fs: directory size not whole blocks"
	cp "$base" "$T/d.img"; dw "$T/d.img" "freeb $kb"
	check "$fs: a block of boot/kernel free in the bitmap"
	cp "$base" "$T/d.img"; dw "$T/d.img" "freeb $kob 32"
	check "$fs: 32 bits of boot/kernel.old flipped free"
	cp "$base" "$T/d.img"; dw "$T/d.img" "setb 3000 40"
	check "$fs: 40 free blocks marked used"
	cp "$base" "$T/d.img"; dw "$T/d.img" "freei <$world>"
	check "$fs: world.tgz's inode free in the bitmap"
	cp "$base" "$T/d.img"; dw "$T/d.img" "sif <2> mode 0100644"
	check "$fs: root not a directory"
	cp "$base" "$T/d.img"; dw "$T/d.img" "ln <40> /boot/ghost"
	check "$fs: an entry naming an unused inode"
	cp "$base" "$T/d.img"; dw "$T/d.img" "sif /boot/kernel links_count 3"
	check "$fs: a link count too high on a clean file system"
	cp "$base" "$T/d.img"; dw "$T/d.img" "unlink /world.tgz"
	check "$fs: an inode in use with no name"
	cp "$base" "$T/d.img"; dw "$T/d.img" "set_bg 0 free_blocks_count 7"
	check "$fs: a group descriptor's free count"
	cp "$base" "$T/d.img"; dw "$T/d.img" "set_bg 0 inode_table $kb"
	check "$fs: a group descriptor's inode table on a file"
	cp "$base" "$T/d.img"; poke "$T/d.img" $((bootblk * 1024 + 4)) '\x00\x00'
	check "$fs: a /boot directory block with a zero record length"
	if [ $fs = ext2 ]; then
		cp "$base" "$T/d.img"; dw "$T/d.img" "sif /boot/kernel.old block[2] 99999"
		check "$fs: a block beyond the end of the file system"
		cp "$base" "$T/d.img"; dw "$T/d.img" "sif /boot/kernel.old block[IND] $(itable "$base")"
		check "$fs: kernel.old's indirect block on the inode table"
		# (found by fuzz_ext2: inode writes then read as its block map)
		cp "$base" "$T/d.img"; dw "$T/d.img" "sif <7> block[IND] $(itable "$base")"
		check "$fs: the resize inode's indirect block on the inode table"
	else
		cp "$base" "$T/d.img"; dw "$T/d.img" "sif /boot/kernel.old block[0] 0x1234"
		check "$fs: a bad extent header"
		cp "$base" "$T/d.img"; poke "$T/d.img" $((1024 + 100)) '\xff'
		check "$fs: a superblock checksum that does not match"
		cp "$base" "$T/d.img"; poke "$T/d.img" $(( $(itable "$base") * 1024 + (k - 1) * 256 + 40)) '\x77'
		check "$fs: an inode checksum that does not match"
	fi
done
echo "$tried damaged images tried"

# A damaged intent record: exit 4 naming the command that clears it and
# what that costs; that command, run as given, lets the next run install.
cp "$T/ext2.img" "$T/d.img"
printf 'garbage\n' >"$T/garbage"
dw "$T/d.img" "write $T/garbage /.bootdrop/pending"
rm -rf "$T/tmp"; mkdir -p "$T/tmp"
fetch -q --ext2 "$T/d.img" --tmpdir "$T/tmp" "$url" >"$T/out" 2>&1
rc=$?
cmd=$(sed -n "s/.*remove it: \(debugfs -w -R 'rm \/.bootdrop\/pending' '[^']*'\) - this abandons.*/\1/p" "$T/out")
if [ $rc -ne 4 ] || [ -z "$cmd" ] || ! grep -q "the state stays at the old one" "$T/out"; then
	fail "damaged record: exit $rc, want 4 naming the command and its cost"
	sed 's/^/    | /' "$T/out" >&2
else
	ok "damaged record: exit 4 naming: $cmd"
	eval "$cmd" >/dev/null 2>&1
	fetch -q --ext2 "$T/d.img" --tmpdir "$T/tmp" "$url" >"$T/out" 2>&1 &&
		ok "damaged record: after that command the install runs" ||
		{ fail "damaged record: the run after the command failed"; sed 's/^/    | /' "$T/out" >&2; }
fi
finish
