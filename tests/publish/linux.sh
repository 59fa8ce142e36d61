#!/bin/bash
# Linux kernels and boot data (issue 18): a bzImage and an initrd publish
# with grub and bls entries; the image facts come from the kernel's own
# bytes; a Linux kernel without --cmdline is refused with an example; a
# loader that cannot boot the kernel is refused naming what was found; a
# FreeBSD-looking command line on a Linux kernel warns; --install chooses
# a path; show prints the facts and the rendered entries, which GRUB's own
# grub-script-check accepts.  A stock Debian kernel, when cached by
# tests/real-kernel.sh, is published too.
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
MK=$BOOTDROP_BUILDDIR/tests/mkkernel
C=debian-12
"$MK" bzimage xz efi,xen,pvh vmlinuz || exit 1
"$MK" bzimage gzip none kvm-only || exit 1
"$MK" bzimage zstd xen no-efi || exit 1
head -c 70000 /dev/urandom >initrd.img
echo w >world.tar

expect_status 1 "a Linux kernel without --cmdline" "$PUBLISH" release -r repo -c $C \
	-s "$TEST_SEC" kernel=vmlinuz initrd=initrd.img
expect_err "Linux kernel needs a command line: e\.g\. --cmdline 'root=" "the refusal gives an example"
[ ! -e repo ] && ok "a refused release leaves no repository" || fail "repo left behind"

expect_status 3 "--loader pvgrub with a bzImage without Xen PV" "$PUBLISH" release -r repo \
	-c $C -s "$TEST_SEC" --loader pvgrub --cmdline "root=/dev/xvda1 ro" kernel=kvm-only
expect_err "a Linux bzImage \(x86_64\) with no Xen PV support: pvgrub cannot boot it; use --loader grub" \
	"the refusal names what was found and what to do"
expect_status 3 "--loader bls with a bzImage without EFI stub" "$PUBLISH" release -r repo \
	-c $C -s "$TEST_SEC" --loader bls --cmdline "root=/dev/vda1 ro" kernel=no-efi
expect_err "has no EFI stub: systemd-boot \(bls\) cannot boot it" "bls refusal says why"
expect_status 1 "--loader lilo" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	--loader lilo kernel=vmlinuz
expect_status 1 "--cmdline with a newline" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	--cmdline "$(printf 'ro\ninit=/bin/sh')" kernel=vmlinuz
expect_status 1 "--root nonsense" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	--root /dev/sda --cmdline ro kernel=vmlinuz
expect_status 3 "--install outside the slice" "$PUBLISH" release -r repo -c $C \
	-s "$TEST_SEC" --cmdline ro --install kernel=../vmlinuz kernel=vmlinuz
expect_status 1 "--install of an unknown artifact" "$PUBLISH" release -r repo -c $C \
	-s "$TEST_SEC" --cmdline ro --install nothing=x kernel=vmlinuz

expect_status 0 "release with grub and bls" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	--loader grub --loader bls --title "Debian 12" \
	--cmdline "root=/dev/vda2 ro console=ttyS0" \
	--install world=srv/world.tar kernel=vmlinuz initrd=initrd.img world=world.tar
[ ! -s "$T/last.err" ] && ok "no warning for a Linux command line" || fail "warned: $(cat "$T/last.err")"
expect_status 0 "show" "$PUBLISH" show -r repo -c $C
out=$T/last.out
grep -q "image   bzImage x86_64, Xen PV, PVH, EFI stub, Linux 6.1.0-99-test" "$out" &&
	ok "show: image facts read from the kernel" || fail "show: $(grep image "$out")"
grep -q "install boot/kernel$" "$out" && grep -q "install boot/initrd.img$" "$out" &&
	grep -q "install srv/world.tar$" "$out" && ok "default install paths, --install honoured" ||
	fail "install paths: $(grep install "$out")"
grep -q "^boot      grub bls$" "$out" && grep -q "cmdline root=/dev/vda2 ro console=ttyS0" "$out" &&
	ok "show: boot data" || fail "show: boot data missing"
# the text between its header and the next file's header
awk '/^[a-z][^ ]*:$/ { on = ($0 == "boot/grub/grub.cfg:"); next } on' "$out" >grub.cfg
grep -q "linux /boot/kernel 'root=/dev/vda2' 'ro' 'console=ttyS0'" grub.cfg &&
	grep -q "initrd /boot/initrd.img" grub.cfg && ok "show: the rendered grub.cfg" ||
	fail "grub.cfg: $(cat grub.cfg)"
if command -v grub-script-check >/dev/null; then
	grub-script-check grub.cfg && ok "grub-script-check accepts the rendered grub.cfg" ||
		fail "grub-script-check refused it"
else
	echo "skip: grub-script-check not installed"
fi
grep -q "^loader/entries/bootdrop-$C-1.conf:$" "$out" && grep -q "^options root=/dev/vda2 ro console=ttyS0$" "$out" &&
	ok "show: the rendered BLS entry" || fail "show: no BLS entry"
payload() {
	python3 -c 'import base64,json,sys
print(eval(sys.argv[2], {"p": json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))}))' "$1" "$2"
}
expect_eq "$(payload repo/channels/$C/1.json 'p["type"], p["artifacts"][0]["image"], p["boot"]')" \
	"('bootdrop-manifest/3', {'format': 'bzimage', 'arch': 'x86_64', 'xen_pv': True, 'pvh': True, 'efi': True, 'version': '6.1.0-99-test'}, {'loaders': ['grub', 'bls'], 'title': 'Debian 12', 'kernel': 'kernel', 'initrd': 'initrd', 'cmdline': 'root=/dev/vda2 ro console=ttyS0', 'root': '(hd0,0)'})" \
	"the manifest carries the image facts and boot data"

# refresh keeps the boot data; --cmdline changes it; the second entry
# shown is version 1's own command line.
expect_status 0 "refresh" "$PUBLISH" refresh -r repo -c $C -s "$TEST_SEC" -e 40d
expect_eq "$(payload repo/channels/$C/2.json 'p["boot"]["cmdline"], p["boot"]["loaders"]')" \
	"('root=/dev/vda2 ro console=ttyS0', ['grub', 'bls'])" "refresh keeps the boot data"
expect_status 0 "refresh --cmdline" "$PUBLISH" refresh -r repo -c $C -s "$TEST_SEC" \
	--cmdline "root=/dev/vda2 ro quiet"
expect_status 0 "show v3" "$PUBLISH" show -r repo -c $C
grep -q "^options root=/dev/vda2 ro quiet$" "$T/last.out" &&
	grep -q "^loader/entries/bootdrop-$C-2.conf:$" "$T/last.out" &&
	grep -q "^options root=/dev/vda2 ro console=ttyS0$" "$T/last.out" &&
	ok "v3 entries: its own command line, then version 2's" || fail "show v3: $(cat "$T/last.out")"

# A FreeBSD-looking command line on a Linux kernel warns, and publishes.
expect_status 0 "release with FreeBSD's arguments on Linux" "$PUBLISH" release -r repo -c other \
	-s "$TEST_SEC" --cmdline "vfs.root.mountfrom=ufs:xbd0s2,kern.hz=100" kernel=vmlinuz
expect_err "warning: the kernel is Linux's, but the command line looks like FreeBSD's" \
	"the cmdline warning"
# A FreeBSD Xen PV kernel still gets pvgrub with the seed guide's arguments.
"$BOOTDROP_BUILDDIR/tests/mkkernel" i386 fbsd
expect_status 0 "FreeBSD kernel, no boot options" "$PUBLISH" release -r repo -c fbsd -s "$TEST_SEC" kernel=fbsd
expect_eq "$(payload repo/channels/fbsd/1.json 'p["boot"]["loaders"], p["boot"]["cmdline"]')" \
	"(['pvgrub'], 'vfs.root.mountfrom=ufs:xbd0s2,machdep.idle_mwait=0,kern.hz=100')" \
	"FreeBSD: pvgrub and the seed guide's command line by default"
expect_status 3 "FreeBSD with Linux's arguments warns, bls refused" "$PUBLISH" release -r repo -c fbsd \
	-s "$TEST_SEC" --loader bls --cmdline "root=/dev/xvda1 ro" kernel=fbsd
"$BOOTDROP_BUILDDIR/tests/mkkernel" elf.gz amd64 fbsd.gz
expect_status 0 "a gzip-compressed ELF kernel" "$PUBLISH" release -r repo -c gz -s "$TEST_SEC" kernel=fbsd.gz
expect_eq "$(payload repo/channels/gz/1.json 'p["artifacts"][0]["image"]["format"], p["artifacts"][0]["image"]["arch"]')" \
	"('elf.gz', 'x86_64')" "elf.gz facts"

# A stock Debian kernel, when one is cached (tests/real-kernel.sh).
REAL=${BOOTDROP_REAL_KERNEL:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/bootdrop/vmlinuz}
if [ -r "$REAL" ]; then
	expect_status 0 "a stock Debian kernel with grub and bls" "$PUBLISH" release -r repo -c real \
		-s "$TEST_SEC" --loader grub --loader bls --cmdline "root=/dev/vda1 ro" \
		kernel="$REAL" initrd=initrd.img
	expect_status 0 "show the Debian kernel" "$PUBLISH" show -r repo -c real
	grep -Eq "image   bzImage x86_64, Xen PV, PVH, EFI stub, Linux 6\." "$T/last.out" &&
		ok "Debian kernel facts: $(grep 'image ' "$T/last.out")" || fail "Debian kernel: $(grep 'image ' "$T/last.out")"
else
	echo "skip: no cached Debian kernel at $REAL (run tests/real-kernel.sh)"
fi
finish
