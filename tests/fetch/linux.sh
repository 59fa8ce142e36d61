#!/bin/bash
# Linux guests (issue 18): a bzImage, an initrd and a world published with
# grub and bls entries install into a directory and into an ext2 image;
# the installed grub.cfg and BLS entries are exactly what the renderers
# give (tests/bootrender), grub.cfg passes grub-script-check; the next
# version lists itself first and the previous version second, each with
# its own kernel, initrd and command line (the previous kernel and initrd
# kept as .old); --check names a damaged or foreign file (exit 100) and a
# plain run repairs only it; --no-keep-old leaves one entry.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
mkdir -p "$T/v1" "$T/v2" "$T/v3" "$T/v4"
for v in 1 2 3 4; do
	"$MK" bzimage xz efi,xen,pvh "$T/v$v/vmlinuz" $((v + 3)) || exit 1
	head -c $((40000 + v)) /dev/urandom >"$T/v$v/initrd.img"
done
echo world >"$T/world.tar"
release() {	# release N CMDLINE [OPTIONS...]
	local v=$1 cmd=$2; shift 2
	"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" --loader grub --loader bls \
		--title "Debian 12" --cmdline "$cmd" "$@" kernel="$T/v$v/vmlinuz" \
		initrd="$T/v$v/initrd.img" world="$T/world.tar" >/dev/null ||
		fail "release $v"
}
# installed DIR CHECK-DESC NEW [PREV] : grub.cfg and the BLS entries in DIR
# are the renderers' output for NEW over PREV.
installed() {
	local dir=$1 desc=$2 new=$3 prev=${4:-} want
	"$RENDER" grub 0 "$(M "$new")" ${prev:+"$(M "$prev")"} >"$T/want.cfg"
	cmp -s "$T/want.cfg" "$dir/boot/grub/grub.cfg" && ok "$desc: grub.cfg as rendered" ||
		fail "$desc: grub.cfg differs: $(diff "$T/want.cfg" "$dir/boot/grub/grub.cfg")"
	if command -v grub-script-check >/dev/null; then
		grub-script-check "$dir/boot/grub/grub.cfg" && ok "$desc: grub-script-check accepts it" ||
			fail "$desc: grub-script-check refused it"
	fi
	"$RENDER" bls 0 "$(M "$new")" ${prev:+"$(M "$prev")"} >"$T/want.conf"
	# the new version carries systemd-boot's counter when it has a previous one
	cmp -s "$T/want.conf" "$dir/loader/entries/bootdrop-$CH-$new${prev:++3}.conf" &&
		ok "$desc: BLS entry of version $new as rendered" || fail "$desc: BLS entry $new differs"
	if [ -n "$prev" ]; then
		"$RENDER" bls 1 "$(M "$new")" "$(M "$prev")" >"$T/want.conf"
		cmp -s "$T/want.conf" "$dir/loader/entries/bootdrop-$CH-$prev.conf" &&
			ok "$desc: BLS entry of version $prev as rendered" ||
			fail "$desc: BLS entry $prev differs"
	fi
}

release 1 "root=/dev/vda2 ro console=ttyS0"
start_server "$T/repo"
mkdir -p "$T/dest"
expect_status 0 "install version 1" fetch -d "$T/dest" "$url"
cmp -s "$T/dest/boot/kernel" "$T/v1/vmlinuz" && cmp -s "$T/dest/boot/initrd.img" "$T/v1/initrd.img" &&
	cmp -s "$T/dest/world.tar" "$T/world.tar" && ok "kernel, initrd and world installed" ||
	fail "installed files differ"
installed "$T/dest" "version 1" 1
[ "$(grep -c '^menuentry' "$T/dest/boot/grub/grub.cfg")" -eq 1 ] && ok "a first install: one entry" ||
	fail "first install entries: $(cat "$T/dest/boot/grub/grub.cfg")"
grep -q "^boot-kernel=[0-9a-f]\{64\} boot/kernel$" "$T/dest/.bootdrop/state/$CH" &&
	grep -qx "boot-cmdline=root=/dev/vda2 ro console=ttyS0" "$T/dest/.bootdrop/state/$CH" &&
	ok "the state records version 1's boot entry" || fail "state: $(cat "$T/dest/.bootdrop/state/$CH")"
[ ! -e "$T/dest/boot/grub/menu.lst" ] && ok "no menu.lst without pvgrub" || fail "menu.lst written"

release 2 "root=/dev/vda2 ro quiet"
expect_status 0 "install version 2" fetch -d "$T/dest" "$url"
installed "$T/dest" "version 2 over 1" 2 1
grep -q "^	linux /boot/kernel 'root=/dev/vda2' 'ro' 'quiet'$" "$T/dest/boot/grub/grub.cfg" &&
	grep -q "^	linux /boot/kernel.old 'root=/dev/vda2' 'ro' 'console=ttyS0'$" "$T/dest/boot/grub/grub.cfg" &&
	grep -q "^	initrd /boot/initrd.img.old$" "$T/dest/boot/grub/grub.cfg" &&
	ok "grub.cfg: version 2 first, version 1 second with its own kernel, initrd and command line" ||
	fail "grub.cfg: $(cat "$T/dest/boot/grub/grub.cfg")"
cmp -s "$T/dest/boot/kernel.old" "$T/v1/vmlinuz" && cmp -s "$T/dest/boot/initrd.img.old" "$T/v1/initrd.img" &&
	ok "version 1's kernel and initrd kept as .old" || fail "kernel.old or initrd.img.old wrong"

# --check re-hashes what is installed: a damaged or foreign file is named
# (exit 100) and a plain run puts back only it, the .old files untouched.
printf 'x' >>"$T/dest/boot/initrd.img"
before=$(tree_digest "$T/dest")
expect_status 100 "--check with a damaged initrd" fetch --check -d "$T/dest" "$url"
expect_err "dest/boot/initrd.img: damaged or foreign" "--check names the damaged file"
[ "$(tree_digest "$T/dest")" = "$before" ] && ok "--check wrote nothing" || fail "--check changed DESTDIR"
blobs=$(grep -c 'GET /blobs/' "$T/server.log")
expect_status 0 "a plain run repairs it" fetch -d "$T/dest" "$url"
grep -q "repaired $CH version 2" "$T/last.out" && ok "says repaired" || fail "summary: $(cat "$T/last.out")"
expect_eq "$(( $(grep -c 'GET /blobs/' "$T/server.log") - blobs ))" 1 "the repair downloads the damaged artifact only"
cmp -s "$T/dest/boot/initrd.img" "$T/v2/initrd.img" && cmp -s "$T/dest/boot/initrd.img.old" "$T/v1/initrd.img" &&
	cmp -s "$T/dest/boot/kernel.old" "$T/v1/vmlinuz" &&
	ok "initrd repaired, the previous version's .old files kept" || fail "repair: wrong files"
installed "$T/dest" "after the repair" 2 1
echo "# someone else's" >"$T/dest/boot/grub/grub.cfg"
expect_status 100 "--check with a foreign grub.cfg" fetch --check -d "$T/dest" "$url"
expect_err "boot/grub/grub.cfg: damaged or foreign" "--check names grub.cfg"
expect_status 0 "a plain run rewrites grub.cfg" fetch -d "$T/dest" "$url"
installed "$T/dest" "grub.cfg repaired" 2 1
expect_status 0 "intact: up to date" fetch --check -d "$T/dest" "$url"

release 3 "root=/dev/vda2 ro"
expect_status 0 "install version 3 with --no-keep-old" fetch --no-keep-old -d "$T/dest" "$url"
[ "$(grep -c '^menuentry' "$T/dest/boot/grub/grub.cfg")" -eq 1 ] &&
	ok "--no-keep-old: version 2 cannot boot any more, one entry" ||
	fail "--no-keep-old entries: $(cat "$T/dest/boot/grub/grub.cfg")"

# The same on an ext2 image: version 3, then 4 over it.
mkfs.ext2 -q -F "$T/slice.img" 16M >/dev/null
expect_status 0 "--ext2 install version 3" fetch --ext2 "$T/slice.img" --tmpdir "$T" "$url"
release 4 "root=/dev/vda2 ro"
expect_status 0 "--ext2 install version 4" fetch --ext2 "$T/slice.img" --tmpdir "$T" "$url"
fsck_clean "ext2" "$T/slice.img"
"$RENDER" grub 0 "$(M 4)" "$(M 3)" >"$T/want.cfg"
same_bytes "ext2 grub.cfg" "$T/slice.img" boot/grub/grub.cfg "$T/want.cfg"
"$RENDER" bls 1 "$(M 4)" "$(M 3)" >"$T/want.conf"
same_bytes "ext2 BLS entry of version 3" "$T/slice.img" "loader/entries/bootdrop-$CH-3.conf" "$T/want.conf"
same_bytes "ext2 initrd.img.old" "$T/slice.img" boot/initrd.img.old "$T/v3/initrd.img"
debugfs -w -R "rm /boot/kernel" "$T/slice.img" >/dev/null 2>&1
expect_status 100 "--ext2 --check with the kernel removed" fetch --check --ext2 "$T/slice.img" "$url"
expect_err "boot/kernel: damaged or foreign" "--ext2 --check names the missing kernel"
expect_status 0 "--ext2 plain run repairs it" fetch --ext2 "$T/slice.img" --tmpdir "$T" "$url"
same_bytes "ext2 kernel repaired" "$T/slice.img" boot/kernel "$T/v4/vmlinuz"
same_bytes "ext2 kernel.old kept" "$T/slice.img" boot/kernel.old "$T/v3/vmlinuz"
same_bytes "ext2 grub.cfg unchanged by the repair" "$T/slice.img" boot/grub/grub.cfg "$T/want.cfg"
fsck_clean "ext2 after the repair" "$T/slice.img"
finish
