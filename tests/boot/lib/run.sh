# tests/boot/lib/run.sh - boots a disk under qemu-system-x86_64 (software
# emulation, serial console to a file, a hard time limit) and says which
# markers booted.  Sourced; needs BOOT_CACHE (tests/boot/prepare.sh).

BOOT_SECONDS=${BOOTDROP_BOOT_SECONDS:-150}	# the limit for one boot (10-20 s on an idle machine)
BOOT_MEM_MIB=512

# boot_run LOADER DISK LOG BOOTS [no-reboot]
# Starts the machine once; it may reset (panic=1) and boot again, up to
# BOOTS boots in all within BOOTS * BOOT_SECONDS, and stops when the guest
# powers off.  LOADER: pvgrub (GRUB reading menu.lst with
# legacy_configfile), grub (GRUB reading grub.cfg with configfile), both
# handed to the guest as its kernel the way Xen hands over pvgrub / pvgrub2;
# bls (OVMF firmware, systemd-boot on the ESP).  With no-reboot, a reset
# ends the run (-no-reboot) instead of booting again.  The disk image is
# the same file across runs, so what GRUB or systemd-boot writes persists.
# Prints what booted, one word per boot: ok:MARKER or panic:MARKER, then
# "timeout" if the limit ended the run.  Returns 0 unless qemu failed.
boot_run() {
	local loader=$1 disk=$2 log=$3 boots=$4 limit rc
	local args=(-nographic -monitor none -serial "file:$log" -m "$BOOT_MEM_MIB")
	[ "${5:-}" = no-reboot ] && args+=(-no-reboot)
	case $loader in
	pvgrub | grub)
		args+=(-drive "file=$disk,format=raw,if=ide,index=0")
		[ "$loader" = pvgrub ] && args+=(-kernel "$BOOT_CACHE/grub-legacy.img")
		[ "$loader" = grub ] && args+=(-kernel "$BOOT_CACHE/grub-cfg.img")
		;;
	bls)
		[ -e "$disk.vars" ] || cp "$BOOT_CACHE/OVMF_VARS.fd" "$disk.vars"
		args+=(-machine q35 -drive "if=pflash,format=raw,readonly=on,file=$BOOT_CACHE/OVMF_CODE.fd"
			-drive "if=pflash,format=raw,file=$disk.vars")
		args+=(-drive "file=$disk,format=raw,if=none,id=esp" -device ide-hd,drive=esp,bus=ide.0)
		;;
	*) echo "boot_run: unknown loader $loader" >&2; return 2 ;;
	esac
	limit=$((boots * BOOT_SECONDS))
	: >"$log"
	# --foreground: qemu stays in the test's process group, so whoever kills
	# the test (meson on its own timeout) kills qemu too.
	timeout --foreground -k 5 "$limit" qemu-system-x86_64 "${args[@]}" </dev/null >"$log.qemu" 2>&1
	rc=$?
	boot_markers "$log"
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo timeout; return 0; fi
	if [ "$rc" -ne 0 ]; then
		echo "boot_run: qemu exit $rc" >&2; sed 's/^/    | /' "$log.qemu" >&2; return 1
	fi
	return 0
}

# boot_markers LOG : the boots a serial log shows, in order, one a line.
boot_markers() {
	tr -d '\r' <"$1" | sed -n 's/.*bootdrop-boot: \(ok\|panic\) marker=\([^ ]*\).*/\1:\2/p'
}
