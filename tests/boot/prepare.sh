#!/bin/bash
# tests/boot/prepare.sh - builds, once, what the boot matrix boots, in a cache
# outside the repository: a Debian kernel (linux-image-amd64's real package,
# fetched with apt-get download and unpacked with dpkg -x, never installed),
# two busybox initramfs images (one prints the marker from the command line
# and powers off, one panics), two GRUB images loaded like pvgrub / pvgrub2
# (the host hands them to the guest as a kernel), and OVMF + systemd-boot.
# usage: tests/boot/prepare.sh [--force]   (cache: $BOOTDROP_BOOT_CACHE or
#        ${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop/boot)
# Prints the cache directory; exit 0 when everything is there.
set -eu
export PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
cache=${BOOTDROP_BOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop/boot}
grubdir=/usr/lib/grub/i386-pc
busybox=/bin/busybox
sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
force=0
[ "${1:-}" = --force ] && force=1

die() { echo "prepare: $*" >&2; exit 1; }

for f in "$grubdir/lnxboot.img" "$busybox" "$sdboot" \
	/usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd; do
	[ -e "$f" ] || die "$f missing (deploy/deps.sh --tests installs it)"
done
"$busybox" --list | grep -qx poweroff || die "$busybox is not busybox-static"
for p in grub-mkimage cpio gzip apt-get dpkg-deb; do
	command -v "$p" >/dev/null || die "$p missing"
done

mkdir -p "$cache"
[ "$force" = 1 ] && rm -f "$cache"/*.done
tmp=$(mktemp -d "$cache/.prep.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The kernel: the package linux-image-amd64 points at, unpacked.
if [ ! -e "$cache/kernel.done" ]; then
	pkg=$(apt-cache depends linux-image-amd64 |
		sed -n 's/^  Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
	[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (apt-get update?)"
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) || die "apt-get download $pkg failed"
	dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/kx"
	cp "$tmp"/kx/boot/vmlinuz-* "$cache/vmlinuz"
	echo "$pkg" >"$cache/kernel.version"
	rm -rf "$tmp/kx" "$tmp"/*.deb
	touch "$cache/kernel.done"
fi

# mkinitrd NAME PANIC: an initramfs whose /init prints
# "bootdrop-boot: ok marker=M" (PANIC=0; then powers off) or
# "bootdrop-boot: panic marker=M" (PANIC=1; then init exits, the kernel panics)
# where M is bootdrop.marker=M from the kernel command line.
mkinitrd() {
	local name=$1 panic=$2 d=$tmp/$1
	mkdir -p "$d/bin" "$d/proc" "$d/dev" "$d/sys"
	cp "$busybox" "$d/bin/busybox"
	ln -s busybox "$d/bin/sh"
	{
		echo '#!/bin/busybox sh'
		echo '/bin/busybox mount -t proc proc /proc'
		echo '/bin/busybox mount -t devtmpfs dev /dev'
		echo 'exec >/dev/console 2>&1 </dev/console'
		echo 'm=none'
		echo 'read -r line </proc/cmdline'
		echo 'for w in $line; do case $w in bootdrop.marker=*) m=${w#*=} ;; esac; done'
		if [ "$panic" = 1 ]; then
			echo 'echo "bootdrop-boot: panic marker=$m"'
			echo 'exit 1'
		else
			echo 'echo "bootdrop-boot: ok marker=$m"'
			echo '/bin/busybox poweroff -f'
		fi
	} >"$d/init"
	chmod 755 "$d/init"
	(cd "$d" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9n >"$cache/$name"
}
if [ ! -e "$cache/initrd.done" ]; then
	mkinitrd initrd-ok.img 0
	mkinitrd initrd-panic.img 1
	touch "$cache/initrd.done"
fi

# mkgrub NAME CONFIG-COMMAND: a GRUB i386-pc image with lnxboot.img in
# front, so that qemu -kernel loads it the way Xen loads pvgrub: the loader
# comes from the host, the disk holds only the slice.  Its embedded
# configuration reads the slice's file with CONFIG-COMMAND.
mkgrub() {
	local name=$1 cmd=$2
	cat >"$tmp/$name.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set root=(hd0,msdos1)
echo "bootdrop-loader: $name"
$cmd
echo "bootdrop-loader: $name found nothing to boot"
halt
CFG
	grub-mkimage -O i386-pc -o "$tmp/$name.core" -c "$tmp/$name.cfg" \
		-p '(hd0,msdos1)/boot/grub' \
		biosdisk part_msdos ext2 normal configfile legacycfg linux linux16 \
		loadenv test echo halt reboot serial terminal
	cat "$grubdir/lnxboot.img" "$tmp/$name.core" >"$cache/$name"
}
if [ ! -e "$cache/grub.done" ]; then
	mkgrub grub-legacy.img 'legacy_configfile /boot/grub/menu.lst'
	mkgrub grub-cfg.img 'configfile /boot/grub/grub.cfg'
	touch "$cache/grub.done"
fi

if [ ! -e "$cache/efi.done" ]; then
	cp /usr/share/OVMF/OVMF_CODE_4M.fd "$cache/OVMF_CODE.fd"
	cp /usr/share/OVMF/OVMF_VARS_4M.fd "$cache/OVMF_VARS.fd"
	cp "$sdboot" "$cache/systemd-bootx64.efi"
	dpkg-query -W -f='${Version}\n' systemd-boot-efi >"$cache/systemd-boot.version"
	touch "$cache/efi.done"
fi
echo "$cache"
