# tests/boot/lib/slice.sh - the disks the matrix boots and file operations
# on their slice (the real client writes the slices: lib/client.sh).
# Sourced.
#
# Two kinds of disk:
#   ext2: an MBR disk whose first partition ((hd0,0) in menu.lst,
#         (hd0,msdos1) in GRUB 2) is the ext2 slice; GRUB reads and writes it.
#   esp:  an MBR disk whose first partition (type ef) is a FAT EFI system
#         partition.
# slice_put acts on the partition inside the disk
# image in place, so what GRUB's save_env and systemd-boot write persists
# across boots and installs.

SLICE_CHANNEL="test"
SLICE_OFFSET=$((2048 * 512))	# the partition starts at 1 MiB
SLICE_DISK_MIB=64

# le32 N : N as four little-endian bytes, in printf's \x notation.
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }

# mbr_write DISK TYPE : an MBR with one partition of hex TYPE from 1 MiB to
# the end of DISK (LBA only; CHS fields saturated).
mbr_write() {
	local sectors=$(($(stat -c %s "$1") / 512 - 2048))
	# shellcheck disable=SC2059 # the format is built from escapes on purpose
	printf "\x00\xfe\xff\xff\x$2\xfe\xff\xff$(le32 2048)$(le32 $sectors)" |
		dd of="$1" bs=1 seek=446 conv=notrunc status=none
	printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

# slice_create KIND DISK : an empty disk with one empty file system.
slice_create() {
	local kind=$1 disk=$2 part=$T/part.$$
	rm -f "$disk"
	truncate -s "${SLICE_DISK_MIB}M" "$disk"
	case $kind in
	ext2)
		mbr_write "$disk" 83
		truncate -s "$((SLICE_DISK_MIB - 1))M" "$part"
		mke2fs -q -F -t ext2 -b 1024 -L bootdrop "$part"
		debugfs -w -R 'mkdir boot' "$part" >/dev/null 2>&1
		debugfs -w -R 'mkdir boot/grub' "$part" >/dev/null 2>&1
		dd if="$part" of="$disk" bs=1M seek=1 conv=notrunc status=none
		rm -f "$part"
		;;
	esp)
		mbr_write "$disk" ef
		mkfs.vfat -F 32 --offset=2048 -n BOOTDROP "$disk" >/dev/null
		mmd -i "$disk@@$SLICE_OFFSET" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/boot
		mcopy -i "$disk@@$SLICE_OFFSET" "$BOOT_CACHE/systemd-bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
		printf 'timeout 0\n' >"$T/loader.conf"
		mcopy -i "$disk@@$SLICE_OFFSET" "$T/loader.conf" ::/loader/loader.conf
		;;
	esac
}

# The ext2 partition is edited with debugfs on a copy taken out of the disk
# and put back; both copies are byte-for-byte the partition.
_ext2_out() { dd if="$1" of="$T/part.img" bs=1M skip=1 status=none; }
_ext2_in() { dd if="$T/part.img" of="$1" bs=1M seek=1 conv=notrunc status=none; }
_debugfs() { debugfs -w -R "$1" "$T/part.img" 2>&1 | grep -v '^debugfs ' || true; }

# slice_put KIND DISK SRC PATH : writes SRC's bytes at PATH (replacing it).
slice_put() {
	case $1 in
	ext2) _ext2_out "$2"; _debugfs "rm $4" >/dev/null; _debugfs "write $3 $4" >/dev/null; _ext2_in "$2" ;;
	esp) mcopy -o -i "$2@@$SLICE_OFFSET" "$3" "::/$4" ;;
	esac
}

# slice_cat KIND DISK PATH : prints the file's bytes.
slice_cat() {
	case $1 in
	ext2) _ext2_out "$2"; debugfs -R "cat $3" "$T/part.img" 2>/dev/null ;;
	esp) mtype -i "$2@@$SLICE_OFFSET" "::/$3" ;;
	esac
}

# slice_ls KIND DISK DIR : the names in DIR, one a line, sorted.
slice_ls() {
	case $1 in
	ext2) _ext2_out "$2"; debugfs -R "ls -p $3" "$T/part.img" 2>/dev/null |
		awk -F/ 'NF > 5 && $6 != "." && $6 != ".." { print $6 }' | LC_ALL=C sort ;;
	esp) mdir -b -i "$2@@$SLICE_OFFSET" "::/$3" 2>/dev/null | sed 's|.*/||' | LC_ALL=C sort ;;
	esac
}

# grubenv_get DISK VAR : the variable's value in the slice's grubenv.
grubenv_get() {
	slice_cat ext2 "$1" boot/grub/grubenv | sed -n "s/^$2=//p"
}

# What each version installs; the matrix fills these in.
declare -a VERSION_INITRD VERSION_CMDLINE
SLICE_TITLE=Debian
SLICE_KERNEL=boot/kernel	# the publisher's default install paths
