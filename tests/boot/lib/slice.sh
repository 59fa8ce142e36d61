# tests/boot/lib/slice.sh - the boot slices the matrix boots, written by hand
# the way doc/boot-scheme.md says the client writes them.  Sourced.
#
# Two kinds of disk:
#   ext2: an MBR disk whose first partition ((hd0,0) in menu.lst,
#         (hd0,msdos1) in GRUB 2) is the ext2 slice; GRUB reads and writes it.
#   esp:  an MBR disk whose first partition (type ef) is a FAT EFI system
#         partition.
# The one function a real client replaces is slice_install: "make version V
# the new one and the version before it the previous one".  Everything it
# writes goes through slice_put / slice_mv / slice_rm / grubenv_write, which
# act on the partition inside the disk image in place, so GRUB's save_env
# writes and ours land in the same file across boots.

SLICE_CHANNEL="test"
SLICE_OFFSET=$((2048 * 512))	# the partition starts at 1 MiB
SLICE_DISK_MIB=64
GRUBENV_BYTES=1024

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

# slice_mv KIND DISK FROM TO : renames FROM to TO, replacing TO; no FROM, no-op.
slice_mv() {
	if ! slice_exists "$1" "$2" "$3"; then return 0; fi
	slice_rm "$1" "$2" "$4"
	case $1 in
	ext2) _ext2_out "$2"; _debugfs "ln $3 $4" >/dev/null; _debugfs "unlink $3" >/dev/null; _ext2_in "$2" ;;
	esp) mren -i "$2@@$SLICE_OFFSET" "::/$3" "${4##*/}" ;;
	esac
}

# slice_rm KIND DISK PATH : removes PATH if it is there.
slice_rm() {
	if ! slice_exists "$1" "$2" "$3"; then return 0; fi
	case $1 in
	ext2) _ext2_out "$2"; _debugfs "rm $3" >/dev/null; _ext2_in "$2" ;;
	esp) mdel -i "$2@@$SLICE_OFFSET" "::/$3" ;;
	esac
}

# slice_exists KIND DISK PATH
slice_exists() {
	case $1 in
	ext2) _ext2_out "$2"; debugfs -R "stat $3" "$T/part.img" 2>/dev/null | grep -q '^Inode:' ;;
	esp) mdir -b -i "$2@@$SLICE_OFFSET" "::/$3" >/dev/null 2>&1 ;;
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

# grubenv_block VAR=VALUE... : GRUB's environment block on stdout: the
# header line, one line per variable, '#' up to exactly 1024 bytes.
grubenv_block() {
	local body
	body=$(printf '# GRUB Environment Block\n'; for kv in "$@"; do printf '%s\n' "$kv"; done)
	body=$body$'\n'
	[ "${#body}" -le "$GRUBENV_BYTES" ] || return 1
	printf '%s' "$body"
	head -c "$((GRUBENV_BYTES - ${#body}))" /dev/zero | tr '\0' '#'
}

# grubenv_write DISK VAR=VALUE... : rewrites boot/grub/grubenv in place: the
# same inode and the same data block, overwritten where it lies (found with
# debugfs bmap), so the blocks GRUB's save_env writes stay the file's.  The
# first write creates the file.
grubenv_write() {
	local disk=$1 blk bs; shift
	grubenv_block "$@" >"$T/grubenv.new" || return 1
	if ! slice_exists ext2 "$disk" boot/grub/grubenv; then
		slice_put ext2 "$disk" "$T/grubenv.new" boot/grub/grubenv
		return
	fi
	_ext2_out "$disk"
	bs=$(dumpe2fs -h "$T/part.img" 2>/dev/null | sed -n 's/^Block size: *//p')
	blk=$(debugfs -R 'bmap boot/grub/grubenv 0' "$T/part.img" 2>/dev/null)
	[ "$bs" -ge "$GRUBENV_BYTES" ] && [ "${blk:-0}" -gt 0 ] || return 1
	dd if="$T/grubenv.new" of="$disk" bs=1024 seek=$((SLICE_OFFSET + blk * bs)) oflag=seek_bytes \
		conv=notrunc status=none
}

# grubenv_get DISK VAR : the variable's value in the slice's grubenv.
grubenv_get() {
	slice_cat ext2 "$1" boot/grub/grubenv | sed -n "s/^$2=//p"
}

# What each version installs; the matrix fills these in.
declare -a VERSION_INITRD VERSION_CMDLINE
SLICE_TITLE=Debian
SLICE_ROOT='(hd0,0)'
SLICE_KERNEL=boot/vmlinuz
SLICE_INITRD=boot/initrd.img

# slice_install LOADER DISK VERSION [PREVIOUS]
# Installs VERSION as the new version and keeps PREVIOUS (installed before)
# bootable, as the client's transaction does: PREVIOUS's files move to
# <install>.old (replacing older ones), VERSION's files land at their
# install paths, and LOADER's configuration is rendered: pvgrub menu.lst;
# grub grub.cfg + grubenv marking VERSION on trial; bls VERSION's entry with
# the counter +3, PREVIOUS's entry without one, no other bootdrop entry.
# This is the function to replace with a publish + bootdrop-fetch run.
slice_install() {
	local loader=$1 disk=$2 v=$3 p=${4:-} kind=ext2 k=$SLICE_KERNEL i=$SLICE_INITRD
	[ "$loader" = bls ] && kind=esp
	if [ -n "$p" ]; then
		slice_mv $kind "$disk" $k $k.old
		slice_mv $kind "$disk" $i $i.old
	fi
	slice_put $kind "$disk" "$BOOT_CACHE/vmlinuz" $k
	slice_put $kind "$disk" "${VERSION_INITRD[$v]}" $i
	case $loader in
	pvgrub)
		if [ -n "$p" ]; then
			render_menu_lst "$SLICE_ROOT" $SLICE_CHANNEL "$SLICE_TITLE" "$v" $k $i "${VERSION_CMDLINE[$v]}" \
				"$p" $k.old $i.old "${VERSION_CMDLINE[$p]}"
		else
			render_menu_lst "$SLICE_ROOT" $SLICE_CHANNEL "$SLICE_TITLE" "$v" $k $i "${VERSION_CMDLINE[$v]}"
		fi >"$T/menu.lst"
		slice_put ext2 "$disk" "$T/menu.lst" boot/grub/menu.lst
		;;
	grub)
		if [ -n "$p" ]; then
			render_grub_cfg $SLICE_CHANNEL "$SLICE_TITLE" "$v" $k $i "${VERSION_CMDLINE[$v]}" \
				"$p" $k.old $i.old "${VERSION_CMDLINE[$p]}" >"$T/grub.cfg"
			grubenv_write "$disk" "bootdrop_trial=$v"
		else
			render_grub_cfg $SLICE_CHANNEL "$SLICE_TITLE" "$v" $k $i "${VERSION_CMDLINE[$v]}" >"$T/grub.cfg"
			grubenv_write "$disk"
		fi
		slice_put ext2 "$disk" "$T/grub.cfg" boot/grub/grub.cfg
		;;
	bls)
		local e
		for e in $(slice_ls esp "$disk" loader/entries); do
			case $e in bootdrop-$SLICE_CHANNEL-*.conf) slice_rm esp "$disk" "loader/entries/$e" ;; esac
		done
		if [ -n "$p" ]; then
			render_bls_entry $SLICE_CHANNEL "$SLICE_TITLE" "$p" $k.old $i.old "${VERSION_CMDLINE[$p]}" >"$T/prev.conf"
			slice_put esp "$disk" "$T/prev.conf" "loader/entries/$(bls_entry_name $SLICE_CHANNEL "$p")"
			render_bls_entry $SLICE_CHANNEL "$SLICE_TITLE" "$v" $k $i "${VERSION_CMDLINE[$v]}" >"$T/new.conf"
			slice_put esp "$disk" "$T/new.conf" "loader/entries/$(bls_entry_name $SLICE_CHANNEL "$v" 3)"
		else
			render_bls_entry $SLICE_CHANNEL "$SLICE_TITLE" "$v" $k $i "${VERSION_CMDLINE[$v]}" >"$T/new.conf"
			slice_put esp "$disk" "$T/new.conf" "loader/entries/$(bls_entry_name $SLICE_CHANNEL "$v")"
		fi
		;;
	esac
}

# slice_confirm LOADER DISK VERSION : what bootdrop-fetch --confirm does:
# grub: grubenv rewritten in place with the trial marks cleared and
# bootdrop_good=VERSION; bls: VERSION's entry renamed without its counter
# (+LEFT or +LEFT-DONE); pvgrub: nothing to mark.  Returns 1 when the
# slice holds no install of VERSION.
slice_confirm() {
	local loader=$1 disk=$2 v=$3 e found=
	case $loader in
	grub)
		slice_cat ext2 "$disk" boot/grub/grub.cfg | grep -q "^# .* version $v\$" || return 1
		grubenv_write "$disk" "bootdrop_good=$v"
		;;
	bls)
		for e in $(slice_ls esp "$disk" loader/entries); do
			case $e in
			"bootdrop-$SLICE_CHANNEL-$v.conf") found=1 ;;
			"bootdrop-$SLICE_CHANNEL-$v+"*.conf)
				found=1
				slice_mv esp "$disk" "loader/entries/$e" "loader/entries/$(bls_entry_name $SLICE_CHANNEL "$v")"
				;;
			esac
		done
		[ -n "$found" ]
		;;
	pvgrub) slice_cat ext2 "$disk" boot/grub/menu.lst | grep -q "^# .* version $v\$" ;;
	esac
}
