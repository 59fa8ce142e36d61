# tests/boot/lib/client.sh - the matrix's slices, written by the real
# programs: bootdrop-publish releases each version into a repository per
# loader, bootdrop-server serves it, and bootdrop-fetch installs it and
# --confirm confirms it.  Sourced after tests/fetch/common.sh and slice.sh.
#
#   ext2 (pvgrub, grub): the slice is the disk's first partition, taken out
#         of the disk image (_ext2_out), given to --ext2, and put back.
#   esp (bls): bootdrop-fetch -d works on a directory kept beside the disk
#         (its .bootdrop state lives there); the ESP's entries are copied
#         into it first (systemd-boot renames them as it counts) and the
#         directory is mirrored onto the ESP with mtools afterwards.

declare -A CLIENT_URL

# client_release LOADER VERSION : publishes VERSION (VERSION_INITRD,
# VERSION_CMDLINE) into LOADER's repository, starting its server once.
# pvgrub gets a kernel of its own per version (zeros appended), so that
# the previous entry's kernel is a file of its own (boot/kernel.old) which
# the matrix's broken kernel does not touch.
client_release() {
	local l=$1 v=$2 kernel=$BOOT_CACHE/vmlinuz
	if [ "$l" = pvgrub ]; then
		kernel=$T/vmlinuz-$v
		{ cat "$BOOT_CACHE/vmlinuz"; head -c "$v" /dev/zero; } >"$kernel"
	fi
	"$PUBLISH" release -r "$T/repo-$l" -c "$CH" -s "$TEST_SEC" --loader "$l" \
		--title "$SLICE_TITLE" --cmdline "${VERSION_CMDLINE[$v]}" \
		kernel="$kernel" initrd="${VERSION_INITRD[$v]}" >"$T/publish.out" 2>&1 ||
		{ fail "$l: publishing v$v: $(cat "$T/publish.out")"; return 1; }
	if [ -z "${CLIENT_URL[$l]:-}" ]; then
		start_server "$T/repo-$l" || return 1
		CLIENT_URL[$l]=$url
	fi
}

# esp_to_dir DISK : the directory's loader/entries become the ESP's.
esp_to_dir() {
	local d=$T/esp-dir e
	rm -rf "$d/loader/entries"
	mkdir -p "$d/loader/entries"
	for e in $(slice_ls esp "$1" loader/entries); do
		mcopy -n -i "$1@@$SLICE_OFFSET" "::/loader/entries/$e" "$d/loader/entries/$e"
	done
}

# dir_to_esp DISK : the ESP's boot/ and loader/entries/ become the
# directory's (entries the directory no longer has are deleted).
dir_to_esp() {
	local d=$T/esp-dir e f
	for e in $(slice_ls esp "$1" loader/entries); do
		[ -e "$d/loader/entries/$e" ] || mdel -i "$1@@$SLICE_OFFSET" "::/loader/entries/$e"
	done
	(cd "$d" && find boot loader -type f) | while read -r f; do
		mcopy -o -i "$1@@$SLICE_OFFSET" "$d/$f" "::/$f"
	done
}

# client_run LOADER DISK DESC WANT-STATUS ARGS... : bootdrop-fetch ARGS on
# the disk's slice (--ext2 on the partition, or -d on the ESP's directory).
client_run() {
	local l=$1 disk=$2 desc=$3 want=$4 rc; shift 4
	case $l in
	pvgrub | grub)
		_ext2_out "$disk"
		expect_status "$want" "$l: $desc" fetch --ext2 "$T/part.img" --tmpdir "$T" "$@"
		rc=$?
		_ext2_in "$disk"
		;;
	bls)
		esp_to_dir "$disk"
		expect_status "$want" "$l: $desc" fetch -d "$T/esp-dir" "$@"
		rc=$?
		dir_to_esp "$disk"
		;;
	esac
	return $rc
}

# client_install LOADER DISK VERSION : publishes VERSION and installs it.
client_install() {
	client_release "$1" "$3" || return 1
	client_run "$1" "$2" "bootdrop-fetch installs v$3" 0 -q "${CLIENT_URL[$1]}"
}

# client_confirm LOADER DISK [WANT-STATUS] : bootdrop-fetch --confirm.
# The client runs on the test machine, not in the guest: -d reads an empty
# directory for EFI variables, never the machine's own.
client_confirm() {
	local efi=()
	[ "$1" = bls ] && mkdir -p "$T/noefi" && efi=(--efivars "$T/noefi")
	client_run "$1" "$2" "bootdrop-fetch --confirm" "${3:-0}" --confirm "${efi[@]}"
}
