#!/bin/bash
# tests/boot/boot.sh - the boot matrix: for each loader (pvgrub emulated by
# GRUB's legacy reader, GRUB 2 / pvgrub2, systemd-boot under OVMF) versions
# 1..4 are installed into one disk image in turn and booted under
# qemu-system-x86_64 (software emulation, a hard limit per run):
#   v1 boots; v2 boots; v3, whose init panics (panic=1), is tried and the
#   machine comes back on v2 by itself (grub: once; bls: three tries) - or,
#   for pvgrub, panics on every boot (legacy pvgrub cannot record a try);
#   v4 boots, is confirmed, and boots again.
# Every slice is written by the real programs (lib/client.sh):
# bootdrop-publish releases each version, bootdrop-server serves it,
# bootdrop-fetch installs it (--ext2 on the partition, -d for the ESP) and
# --confirm confirms it; a --confirm after a fallback must refuse (exit 4).
# Needs tests/boot/prepare.sh's cache; skips (77) without it or without qemu,
# unless CI is set, where it prepares the cache and a missing piece fails.
# BOOTDROP_BOOT_LOADERS="grub bls" runs a subset.
# shellcheck source=tests/lib.sh
source "$BOOTDROP_TESTLIB"
here=$(dirname "${BASH_SOURCE[0]}")
export PATH=$PATH:/usr/sbin:/sbin
ci=0
case ${CI:-} in '' | 0 | false) ;; *) ci=1 ;; esac

# unavailable WHY : skip outside CI, fail in CI.
unavailable() {
	if [ "$ci" = 1 ]; then echo "FAIL: $1 (CI is set: the boot matrix must run)" >&2; exit 1; fi
	echo "$1: skipped"; exit 77
}
command -v qemu-system-x86_64 >/dev/null || unavailable "qemu-system-x86_64 not installed"
BOOT_CACHE=${BOOTDROP_BOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop/boot}
# cache_ready : every part prepare.sh builds is in the cache.
cache_ready() {
	local part
	for part in kernel initrd grub efi; do [ -e "$BOOT_CACHE/$part.done" ] || return 1; done
}
if ! cache_ready && [ "$ci" = 1 ]; then
	"$here/prepare.sh" >/dev/null || unavailable "tests/boot/prepare.sh failed"
fi
cache_ready || unavailable "no boot cache in $BOOT_CACHE (run tests/boot/prepare.sh)"
for p in debugfs mke2fs dumpe2fs grub-script-check mkfs.vfat mcopy mren mdel mdir mtype; do
	command -v "$p" >/dev/null || unavailable "$p not installed"
done
[ -x "$SERVER" ] && [ -x "$PUBLISH" ] || unavailable "bootdrop-server or bootdrop-publish not built"
# shellcheck source=tests/fetch/common.sh
source "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
# shellcheck source=tests/boot/lib/slice.sh
source "$here/lib/slice.sh"
# shellcheck source=tests/boot/lib/run.sh
source "$here/lib/run.sh"
# shellcheck source=tests/boot/lib/client.sh
source "$here/lib/client.sh"

cmdline() { echo "console=ttyS0 quiet panic=1 bootdrop.marker=v$1"; }
for v in 1 2 3 4; do
	VERSION_INITRD[v]=$BOOT_CACHE/initrd-ok.img
	VERSION_CMDLINE[v]=$(cmdline $v)
done
VERSION_INITRD[3]=$BOOT_CACHE/initrd-panic.img

boots_total=0 seconds_total=0

# expect_boots LOADER DISK DESC BOOTS WANT [no-reboot] : one qemu run of at
# most BOOTS boots; WANT is what booted, in order ("panic:v3 ok:v2").
expect_boots() {
	local loader=$1 disk=$2 desc=$3 boots=$4 want=$5 got t0 t1 n
	t0=$(date +%s%N)
	got=$(boot_run "$loader" "$disk" "$T/serial.log" "$boots" "${6:-}" | tr '\n' ' ')
	t1=$(date +%s%N)
	got=${got% }
	n=$(boot_markers "$T/serial.log" | wc -l)
	boots_total=$((boots_total + n)) seconds_total=$((seconds_total + (t1 - t0) / 1000000))
	echo "   ($loader: $n boot(s) in $(((t1 - t0) / 1000000)) ms)"
	if [ "$got" = "$want" ]; then ok "$loader: $desc: $got"; return 0; fi
	fail "$loader: $desc: booted '$got', want '$want'"
	tr -d '\r' <"$T/serial.log" | sed 's/\x1b\[[0-9;?=]*[a-zA-Z]//g' | tail -25 | sed 's/^/    | /' >&2
	return 1
}

# grubenv_where DISK : the block number and size of boot/grub/grubenv.
grubenv_where() {
	_ext2_out "$1"
	printf '%s %s\n' "$(debugfs -R 'bmap boot/grub/grubenv 0' "$T/part.img" 2>/dev/null)" \
		"$(debugfs -R 'stat boot/grub/grubenv' "$T/part.img" 2>/dev/null | sed -n 's/.*Size: \([0-9]*\).*/\1/p')"
}

# grub_cfg_checked DISK DESC : GRUB's own parser accepts the slice's grub.cfg.
grub_cfg_checked() {
	slice_cat ext2 "$1" boot/grub/grub.cfg >"$T/grub.cfg.check"
	if grub-script-check "$T/grub.cfg.check" >"$T/last.err" 2>&1; then ok "grub: $2: grub-script-check";
	else fail "grub: $2: grub-script-check: $(cat "$T/last.err")"; fi
}

# bls_entries DISK : the ESP's entry file names, space-separated.
bls_entries() { slice_ls esp "$1" loader/entries | tr '\n' ' ' | sed 's/ $//'; }

matrix() {
	local l=$1 disk=$T/$1.img kind=ext2 where
	[ "$l" = bls ] && kind=esp
	echo "=== $l"
	slice_create $kind "$disk"

	rm -rf "$T/esp-dir"
	client_install "$l" "$disk" 1
	expect_boots "$l" "$disk" "v1 installed" 1 "ok:v1"
	client_confirm "$l" "$disk"

	client_install "$l" "$disk" 2
	if [ "$l" = grub ]; then
		where=$(grubenv_where "$disk")
		grub_cfg_checked "$disk" "v2 over v1"
	fi
	expect_boots "$l" "$disk" "v2 installed" 1 "ok:v2"
	client_confirm "$l" "$disk"

	client_install "$l" "$disk" 3
	case $l in
	pvgrub)
		# Legacy pvgrub cannot write: a kernel that loads and then panics
		# is booted again on every reset, and fallback never triggers.
		expect_boots "$l" "$disk" "v3 panics" 1 "panic:v3" no-reboot
		expect_boots "$l" "$disk" "v3 panics again (no fallback without a write)" 1 "panic:v3" no-reboot
		# What fallback does catch: a kernel that does not load.
		printf 'not a kernel\n' >"$T/garbage"
		slice_put ext2 "$disk" "$T/garbage" "$SLICE_KERNEL"
		expect_boots "$l" "$disk" "v3's kernel unloadable: fallback to v2" 1 "ok:v2"
		;;
	grub)
		expect_boots "$l" "$disk" "v3 tried once, back on v2 by itself" 2 "panic:v3 ok:v2"
		expect_boots "$l" "$disk" "v3 not tried again" 1 "ok:v2"
		expect_eq "$(grubenv_get "$disk" bootdrop_tried)" 3 "grub: grubenv records v3 tried"
		expect_eq "$(grubenv_get "$disk" bootdrop_failed)" 3 "grub: grubenv records v3 fell back"
		expect_eq "$(grubenv_where "$disk")" "$where" "grub: grubenv is the same 1024-byte block after GRUB's save_env"
		client_confirm "$l" "$disk" 4 && expect_err "version 3 failed its trial boot" \
			"grub: --confirm on the fallback refuses: v3 failed its trial"
		;;
	bls)
		expect_boots "$l" "$disk" "v3 tried three times, back on v2 by itself" 4 \
			"panic:v3 panic:v3 panic:v3 ok:v2"
		expect_boots "$l" "$disk" "v3 not tried again" 1 "ok:v2"
		expect_eq "$(bls_entries "$disk")" "bootdrop-test-2.conf bootdrop-test-3+0-3.conf" \
			"bls: v3's counter spent, v2's entry untouched"
		client_confirm "$l" "$disk" 4 && expect_err "version 3 has no boot tries left" \
			"bls: --confirm on the fallback refuses: v3 has no tries left"
		;;
	esac

	client_install "$l" "$disk" 4
	expect_boots "$l" "$disk" "v4 installed" 1 "ok:v4"
	[ "$l" = bls ] && expect_eq "$(bls_entries "$disk")" "bootdrop-test-3.conf bootdrop-test-4+2-1.conf" \
		"bls: v4 booted once on its counter"
	client_confirm "$l" "$disk"
	case $l in
	grub)
		expect_eq "$(grubenv_get "$disk" bootdrop_good)" 4 "grub: grubenv records v4 good"
		expect_eq "$(grubenv_where "$disk")" "$where" "grub: grubenv rewritten in place by the confirm"
		;;
	bls) expect_eq "$(bls_entries "$disk")" "bootdrop-test-3.conf bootdrop-test-4.conf" "bls: v4 confirmed, no counter" ;;
	esac
	expect_boots "$l" "$disk" "v4 confirmed, reboot" 1 "ok:v4"
	expect_boots "$l" "$disk" "v4 confirmed, another reboot" 1 "ok:v4"
}

t_start=$(date +%s)
for l in ${BOOTDROP_BOOT_LOADERS:-pvgrub grub bls}; do
	matrix "$l"
done
t_end=$(date +%s)
echo "boot matrix: $boots_total boots in $((t_end - t_start)) s" \
	"(qemu $((seconds_total / 1000)) s, $((boots_total ? seconds_total / boots_total : 0)) ms a boot)"
finish
