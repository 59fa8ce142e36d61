#!/bin/bash
# --confirm (issue 19): the trial boot's record on the slice.  An install
# with a previous version arms the trial (grubenv bootdrop_trial=N, BLS
# entry N+3) rewriting grubenv in place; --confirm marks the installed
# version good only once it has booted, and refuses (exit 4) when nothing
# is installed, when the version was never booted, and when the loader's
# record shows the previous version runs; it is idempotent and changes
# nothing else.  On ext2 grubenv keeps its inode and its data block through
# installs, GRUB's own write and --confirm (debugfs stat/blocks).
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
E=loader/entries/bootdrop-$CH

# block BODY : GRUB's environment block holding BODY ("name=value\n"...).
block() {
	printf '# GRUB Environment Block\n%b' "$1"
	head -c $((1024 - 25 - $(printf '%b' "$1" | wc -c))) /dev/zero | tr '\0' '#'
}
release() {	# release N
	local v=$1
	mkdir -p "$T/v$v"
	"$MK" bzimage xz efi,xen,pvh "$T/v$v/vmlinuz" $((v + 3)) || exit 1
	head -c $((30000 + v)) /dev/urandom >"$T/v$v/initrd.img"
	"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" --loader grub --loader bls \
		--title "Debian 12" --cmdline "root=/dev/vda2 ro v=$v" kernel="$T/v$v/vmlinuz" \
		initrd="$T/v$v/initrd.img" >/dev/null || fail "release $v"
}
# others DIR : a digest of everything but grubenv and the BLS entries.
others() {
	(cd "$1" && find . -path ./loader/entries -prune -o -path ./boot/grub/grubenv -prune -o \
		-type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum
}

# efivar ID : systemd-boot's LoaderEntrySelected naming entry ID, as the
# running system's efivarfs shows it (attributes, UTF-16LE, NUL); the -d
# runs read $T/efi, never the host's own variables.
mkdir -p "$T/efi"
efivar() {
	{ printf '\x07\x00\x00\x00'; printf '%s' "$1" |
		iconv -f ascii -t utf-16le; printf '\x00\x00'; } \
		>"$T/efi/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
}

# Nothing installed: exit 4, nothing written.
mkdir -p "$T/empty"
expect_status 4 "--confirm on an empty directory" fetch --confirm --efivars "$T/efi" -d "$T/empty"
expect_err "no bootdrop install of channel $CH" "says there is no install"
[ -z "$(ls -A "$T/empty")" ] && ok "the empty directory stays empty" || fail "wrote into it: $(ls -A "$T/empty")"
expect_status 4 "--confirm on a missing directory" fetch --confirm --efivars "$T/efi" -d "$T/nowhere"
[ ! -e "$T/nowhere" ] && ok "no directory made" || fail "made $T/nowhere"
expect_status 1 "--confirm with a URL" fetch --confirm --efivars "$T/efi" -d "$T/empty" http://127.0.0.1:1
expect_status 1 "--confirm with --check" fetch --confirm --check --efivars "$T/efi" -d "$T/empty"

release 1
start_server "$T/repo"
mkdir -p "$T/dest"
expect_status 0 "install version 1" fetch -d "$T/dest" "$url"
block "" >"$T/want.env"
cmp -s "$T/dest/boot/grub/grubenv" "$T/want.env" && ok "a first install writes an empty 1024-byte grubenv" ||
	fail "grubenv after version 1: $(head -c 200 "$T/dest/boot/grub/grubenv")"
ino=$(stat -c %i "$T/dest/boot/grub/grubenv")
[ -e "$T/dest/$E-1.conf" ] && ok "version 1's entry has no counter (nothing to fall back to)" ||
	fail "entries: $(ls "$T/dest/loader/entries")"

release 2
expect_status 0 "install version 2" fetch -d "$T/dest" "$url"
block 'bootdrop_trial=2\n' >"$T/want.env"
cmp -s "$T/dest/boot/grub/grubenv" "$T/want.env" && ok "installing version 2 arms its trial: bootdrop_trial=2" ||
	fail "grubenv after version 2: $(head -c 200 "$T/dest/boot/grub/grubenv")"
expect_eq "$(stat -c %i "$T/dest/boot/grub/grubenv")" "$ino" "grubenv rewritten in place (same inode)"
[ -e "$T/dest/$E-2+3.conf" ] && [ -e "$T/dest/$E-1.conf" ] &&
	ok "version 2's entry carries +3, version 1's none" || fail "entries: $(ls "$T/dest/loader/entries")"
"$RENDER" grub 0 "$(M 2)" "$(M 1)" >"$T/want.cfg"
cmp -s "$T/want.cfg" "$T/dest/boot/grub/grub.cfg" && grep -q 'bootdrop_trial}" = "2"' "$T/dest/boot/grub/grub.cfg" &&
	ok "grub.cfg as rendered, trying version 2" || fail "grub.cfg: $(cat "$T/dest/boot/grub/grub.cfg")"

# Not booted yet: refused, nothing changed.
before=$(tree_digest "$T/dest")
expect_status 4 "--confirm before version 2 has booted" fetch --confirm --efivars "$T/efi" -d "$T/dest"
expect_err "version 2 has not been booted yet" "says it has not booted"
expect_eq "$(tree_digest "$T/dest")" "$before" "nothing changed"

# GRUB's save_env of the trial boot, systemd-boot's first count: booted.
block 'bootdrop_trial=\nbootdrop_tried=2\n' | dd of="$T/dest/boot/grub/grubenv" conv=notrunc status=none
mv "$T/dest/$E-2+3.conf" "$T/dest/$E-2+2-1.conf"
before=$(others "$T/dest")
expect_status 0 "--confirm while version 2 runs" fetch --confirm --efivars "$T/efi" -d "$T/dest"
grep -q "$CH version 2 confirmed" "$T/last.out" && ok "says confirmed" || fail "summary: $(cat "$T/last.out")"
block 'bootdrop_good=2\n' >"$T/want.env"
cmp -s "$T/dest/boot/grub/grubenv" "$T/want.env" && ok "grubenv: bootdrop_good=2, the trial gone" ||
	fail "grubenv after --confirm: $(head -c 200 "$T/dest/boot/grub/grubenv")"
expect_eq "$(stat -c %i "$T/dest/boot/grub/grubenv")" "$ino" "--confirm rewrites grubenv in place"
"$RENDER" bls 0 "$(M 2)" "$(M 1)" >"$T/want.conf"
cmp -s "$T/want.conf" "$T/dest/$E-2.conf" && [ ! -e "$T/dest/$E-2+2-1.conf" ] &&
	ok "BLS: 2+2-1 renamed to bootdrop-$CH-2.conf, same text" || fail "entries: $(ls "$T/dest/loader/entries")"
expect_eq "$(others "$T/dest")" "$before" "nothing else changed"
before=$(tree_digest "$T/dest")
expect_status 0 "--confirm again" fetch --confirm --efivars "$T/efi" -d "$T/dest"
grep -q "was confirmed already" "$T/last.out" && ok "says already confirmed" || fail "summary: $(cat "$T/last.out")"
expect_eq "$(tree_digest "$T/dest")" "$before" "idempotent: nothing changed"
expect_status 0 "--check after --confirm: up to date (the renamed entry is version 2's)" \
	fetch --check -d "$T/dest" "$url"
expect_status 0 "a plain run after --confirm" fetch -d "$T/dest" "$url"
expect_eq "$(tree_digest "$T/dest")" "$before" "a plain run neither repairs nor re-arms the confirmed version"

# Version 3 fell back: GRUB recorded it; systemd-boot used up its tries.
release 3
expect_status 0 "install version 3" fetch -d "$T/dest" "$url"
expect_eq "$(ls "$T/dest/loader/entries" | tr '\n' ' ')" "bootdrop-$CH-2.conf bootdrop-$CH-3+3.conf " \
	"entries after version 3: 3 counted, 2 plain, version 1's removed"
block 'bootdrop_trial=\nbootdrop_tried=3\nbootdrop_failed=3\n' | dd of="$T/dest/boot/grub/grubenv" conv=notrunc status=none
mv "$T/dest/$E-3+3.conf" "$T/dest/$E-3+0-3.conf"
before=$(tree_digest "$T/dest")
expect_status 4 "--confirm after GRUB fell back to version 2" fetch --confirm --efivars "$T/efi" -d "$T/dest"
expect_err "version 3 failed its trial boot" "says version 3 failed its trial"
expect_eq "$(tree_digest "$T/dest")" "$before" "nothing changed"
block 'bootdrop_trial=\nbootdrop_tried=3\n' | dd of="$T/dest/boot/grub/grubenv" conv=notrunc status=none
before=$(tree_digest "$T/dest")
expect_status 4 "--confirm with version 3's entry out of tries" fetch --confirm --efivars "$T/efi" -d "$T/dest"
expect_err "version 3 has no boot tries left" "says no tries left"
expect_eq "$(tree_digest "$T/dest")" "$before" "nothing changed"

# The firmware says which entry booted: it decides over the counter.
mv "$T/dest/$E-3+0-3.conf" "$T/dest/$E-3+1-2.conf"
efivar "bootdrop-$CH-2.conf"
before=$(tree_digest "$T/dest")
expect_status 4 "--confirm when systemd-boot booted version 2's entry" fetch --confirm --efivars "$T/efi" -d "$T/dest"
expect_err "systemd-boot booted entry bootdrop-$CH-2.conf, not version 3's" "names the entry that booted"
expect_eq "$(tree_digest "$T/dest")" "$before" "nothing changed"
mv "$T/dest/$E-3+1-2.conf" "$T/dest/$E-3+0-3.conf"
efivar "bootdrop-$CH-3.conf"
expect_status 0 "--confirm on version 3's last try, systemd-boot saying it booted" \
	fetch --confirm --efivars "$T/efi" -d "$T/dest"
[ -e "$T/dest/$E-3.conf" ] && [ ! -e "$T/dest/$E-3+0-3.conf" ] && ok "3+0-3 renamed to bootdrop-$CH-3.conf" ||
	fail "entries: $(ls "$T/dest/loader/entries")"
rm -f "$T/efi"/*

# A grubenv of another size is not GRUB's: the install refuses to arm a trial in it.
release 4
printf 'x' >>"$T/dest/boot/grub/grubenv"
expect_status 4 "install with a 1025-byte grubenv" fetch -d "$T/dest" "$url"
expect_err "grubenv is not a regular file of 1024 bytes" "names grubenv"
truncate -s 1024 "$T/dest/boot/grub/grubenv"
# Version 4 over 3: 3's entry is rewritten as the previous one without a
# counter, and its counted name goes (as version 2's entry does).
mv "$T/dest/$E-3.conf" "$T/dest/$E-3+0-3.conf"
expect_status 0 "install version 4 over version 3's counted entry" fetch -d "$T/dest" "$url"
expect_eq "$(ls "$T/dest/loader/entries" | tr '\n' ' ')" "bootdrop-$CH-3.conf bootdrop-$CH-4+3.conf " \
	"entries: version 4 counted, version 3 plain, nothing else"

# --ext2: the same, and grubenv keeps its inode and block throughout.
envstat() {	# envstat IMG : "inode block" of /boot/grub/grubenv
	local i b
	i=$(debugfs -R "stat /boot/grub/grubenv" "$1" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
	b=$(debugfs -R "blocks /boot/grub/grubenv" "$1" 2>/dev/null | tr -d ' \n')
	echo "$i $b"
}
envwrite() {	# envwrite IMG FILE : GRUB's save_env: FILE over the block, in place
	local bs b
	bs=$(dumpe2fs -h "$1" 2>/dev/null | sed -n 's/^Block size: *//p')
	b=$(debugfs -R "blocks /boot/grub/grubenv" "$1" 2>/dev/null | tr -d ' \n')
	dd if="$2" of="$1" bs=1 seek=$((b * bs)) conv=notrunc status=none
}
mkfs.ext2 -q -F "$T/slice.img" 16M >/dev/null
cp "$T/slice.img" "$T/blank.img"
expect_status 4 "--ext2 --confirm on an empty file system" fetch --confirm --ext2 "$T/slice.img"
cmp -s "$T/slice.img" "$T/blank.img" && ok "the image is unchanged" || fail "--confirm wrote into an empty image"
head -c 1M /dev/zero >"$T/zero.img"
expect_status 4 "--ext2 --confirm on no file system" fetch --confirm --ext2 "$T/zero.img"
expect_status 0 "--ext2 install version 4" fetch --ext2 "$T/slice.img" --tmpdir "$T" "$url"
first=$(envstat "$T/slice.img")
[ -n "${first#* }" ] && ok "grubenv at inode/block $first" || fail "no grubenv in the image"
release 5
expect_status 0 "--ext2 install version 5" fetch --ext2 "$T/slice.img" --tmpdir "$T" "$url"
expect_eq "$(envstat "$T/slice.img")" "$first" "ext2: installing keeps grubenv's inode and block"
block 'bootdrop_trial=5\n' >"$T/want.env"
same_bytes "ext2 grubenv armed" "$T/slice.img" boot/grub/grubenv "$T/want.env"
cp "$T/slice.img" "$T/before.img"
expect_status 4 "--ext2 --confirm before version 5 has booted" fetch --confirm --ext2 "$T/slice.img"
cmp -s "$T/slice.img" "$T/before.img" && ok "the image is unchanged" || fail "refused --confirm wrote"
block 'bootdrop_trial=\nbootdrop_tried=5\n' >"$T/grub.env"
envwrite "$T/slice.img" "$T/grub.env"
debugfs -w -R "ln /$E-5+3.conf /$E-5+2-1.conf" "$T/slice.img" >/dev/null 2>&1
debugfs -w -R "unlink /$E-5+3.conf" "$T/slice.img" >/dev/null 2>&1
fsck_clean "ext2 after GRUB and systemd-boot wrote" "$T/slice.img"
expect_status 0 "--ext2 --confirm while version 5 runs" fetch --confirm --ext2 "$T/slice.img"
block 'bootdrop_good=5\n' >"$T/want.env"
same_bytes "ext2 grubenv confirmed" "$T/slice.img" boot/grub/grubenv "$T/want.env"
expect_eq "$(envstat "$T/slice.img")" "$first" "ext2: --confirm keeps grubenv's inode and block"
"$RENDER" bls 0 "$(M 5)" "$(M 4)" >"$T/want.conf"
same_bytes "ext2 entry renamed without its counter" "$T/slice.img" "$E-5.conf" "$T/want.conf"
debugfs -R "stat /$E-5+2-1.conf" "$T/slice.img" 2>&1 | grep -q "File not found" &&
	ok "ext2: 5+2-1 is gone" || fail "ext2: 5+2-1 still there"
fsck_clean "ext2 after --confirm" "$T/slice.img"
cp "$T/slice.img" "$T/before.img"
expect_status 0 "--ext2 --confirm again" fetch --confirm --ext2 "$T/slice.img"
cmp -s "$T/slice.img" "$T/before.img" && ok "ext2: idempotent, the image byte for byte unchanged" ||
	fail "ext2: a second --confirm changed the image"
finish
