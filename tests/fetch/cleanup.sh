#!/bin/bash
# Two bootable versions, and nothing more (issue 18 item 5): each install
# keeps the new version and the one it replaces, and removes in the same
# transaction the files of older versions and the files the new version
# no longer names - a renamed world, a dropped initrd, the BLS entry of a
# version two back (found whatever systemd-boot's boot counter made of
# its name) - and nothing the state did not record as bootdrop's: a file
# someone put there, a file of ours someone changed since, another
# channel's entry, a path the new version names again.  A refresh keeps
# the last different kernel as kernel.old.  Checked file by file after
# every version, on -d and on --ext2; --no-keep-old keeps its meaning.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
command -v debugfs >/dev/null || { echo "debugfs not installed"; exit 77; }
mkdir -p "$T/in"
for v in 1 2 3 4 5; do
	"$MK" bzimage xz efi,xen,pvh "$T/in/vmlinuz$v" $((v + 3)) || exit 1
	head -c $((30000 + v)) /dev/urandom >"$T/in/initrd$v"
done
echo "world a" >"$T/in/world-a.tar"
echo "world b" >"$T/in/world-b.tar"
echo "not a world" >"$T/in/readme"
# rel N ARTIFACTS... : version N with grub and bls entries.
rel() {
	local v=$1; shift
	"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" --loader grub \
		--loader bls --cmdline "root=/dev/vda2 ro v$v" "$@" >/dev/null ||
		fail "release $v"
}

# view KIND : the slice's files (regular files, .bootdrop excepted) as
# "PATH SHA256" lines in $T/view.txt; with --ext2 through debugfs rdump.
view() {
	local root=$T/dest
	if [ "$1" = e ]; then
		rm -rf "$T/rd"; mkdir "$T/rd"
		debugfs -R "rdump / $T/rd" "$T/slice.img" >/dev/null 2>&1
		root=$T/rd
	fi
	(cd "$root" && find . -path ./.bootdrop -prune -o -path ./lost+found -prune \
		-o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
		while read -r f; do echo "$f $(sha256sum <"$f" | cut -c1-16)"; done) >"$T/view.txt"
}
# h FILE : the short hash view prints.
h() { sha256sum <"$1" | cut -c1-16; }
# expect_files KIND DESC "PATH FILE|PATH=" ... : exactly these files remain
# (besides the rendered grub.cfg and BLS entries checked by name only,
# written as PATH=).
expect_files() {
	local kind=$1 desc=$2 want=$T/want.txt e; shift 2
	view "$kind"
	for e in "$@"; do
		if [ "${e%=}" != "$e" ]; then
			grep -m1 "^${e%=} " "$T/view.txt" || echo "${e%=} MISSING"
		else
			echo "${e%% *} $(h "${e#* }")"
		fi
	done | LC_ALL=C sort >"$want"
	if cmp -s "$want" "$T/view.txt"; then
		ok "$kind: $desc: exactly the expected files"
	else
		fail "$kind: $desc: files differ (- want, + got):"
		diff "$want" "$T/view.txt" | grep '^[<>]' | sed 's/^/    | /' >&2
	fi
}
target() {
	if [ "$1" = d ]; then echo "-d $T/dest"; else echo "--ext2 $T/slice.img --tmpdir $T/tmp"; fi
}
# put KIND PATH FILE : someone else's file on the slice.
put() {
	if [ "$1" = d ]; then
		mkdir -p "$(dirname "$T/dest/$2")"; cp "$3" "$T/dest/$2"
	else
		debugfs -w -R "rm /$2" "$T/slice.img" >/dev/null 2>&1
		debugfs -w -R "write $3 /$2" "$T/slice.img" >/dev/null 2>&1
	fi
}
# mv_entry KIND FROM TO : systemd-bless-boot renaming a BLS entry.
mv_entry() {
	if [ "$1" = d ]; then
		mv "$T/dest/loader/entries/$2" "$T/dest/loader/entries/$3"
	else
		debugfs -w -R "ln /loader/entries/$2 /loader/entries/$3" "$T/slice.img" >/dev/null 2>&1
		debugfs -w -R "unlink /loader/entries/$2" "$T/slice.img" >/dev/null 2>&1
	fi
}
E=loader/entries
echo "mine" >"$T/in/mine"
echo "title another channel" >"$T/in/other.conf"
echo "changed by hand" >"$T/in/hand"

for kind in d e; do
	CH=test-$kind	# one channel per destination kind
	rel 1 kernel="$T/in/vmlinuz1" initrd="$T/in/initrd1" world="$T/in/world-a.tar"
	[ -n "${url:-}" ] || start_server "$T/repo"
	rm -rf "$T/dest" "$T/tmp"; mkdir -p "$T/dest" "$T/tmp"
	mkfs.ext2 -q -F "$T/slice.img" 8M >/dev/null
	# shellcheck disable=SC2046
	expect_status 0 "$kind: install version 1" fetch $(target $kind) "$url"
	put $kind boot/mine "$T/in/mine"
	put $kind $E/bootdrop-$CH-1.conf.bak "$T/in/mine"
	put $kind $E/bootdrop-$CH.x-1.conf "$T/in/other.conf"
	USER_FILES=("boot/mine $T/in/mine" "$E/bootdrop-$CH-1.conf.bak $T/in/mine"
		"$E/bootdrop-$CH.x-1.conf $T/in/other.conf")
	expect_files $kind "version 1" "boot/kernel $T/in/vmlinuz1" "boot/initrd.img $T/in/initrd1" \
		"world-a.tar $T/in/world-a.tar" boot/grub/grub.cfg= boot/grub/grubenv= $E/bootdrop-$CH-1.conf= "${USER_FILES[@]}"
	grep -q "^file=[0-9]* [0-9a-f]\{64\} world-a.tar$" "$T/dest/.bootdrop/state/$CH" 2>/dev/null ||
		[ $kind = e ] || fail "d: the state lists version 1's files: $(cat "$T/dest/.bootdrop/state/$CH")"

	# 2: the world renamed; readme lands where version 1's world was.
	rel 2 kernel="$T/in/vmlinuz2" initrd="$T/in/initrd2" world="$T/in/world-b.tar" \
		readme="$T/in/readme" --install readme=world-a.tar
	# shellcheck disable=SC2046
	expect_status 0 "$kind: install version 2" fetch $(target $kind) "$url"
	expect_files $kind "version 2 (world renamed, its old path named again)" \
		"boot/kernel $T/in/vmlinuz2" "boot/initrd.img $T/in/initrd2" \
		"boot/kernel.old $T/in/vmlinuz1" "boot/initrd.img.old $T/in/initrd1" \
		"world-b.tar $T/in/world-b.tar" "world-a.tar $T/in/readme" \
		boot/grub/grub.cfg= boot/grub/grubenv= $E/bootdrop-$CH-2+3.conf= $E/bootdrop-$CH-1.conf= "${USER_FILES[@]}"

	# 3: the initrd dropped, readme dropped (but changed by hand first:
	# no longer bootdrop's bytes, it stays); the world unchanged.
	put $kind world-a.tar "$T/in/hand"
	rel 3 kernel="$T/in/vmlinuz3" world="$T/in/world-b.tar"
	# shellcheck disable=SC2046
	expect_status 0 "$kind: install version 3" fetch $(target $kind) "$url"
	grep -q "^removed .*boot/initrd.img.old " "$T/last.out" &&
		grep -q "^removed .*$E/bootdrop-$CH-1.conf " "$T/last.out" &&
		! grep -q "^removed .*world-a.tar" "$T/last.out" &&
		ok "$kind: version 3 names what it removed, and only that" ||
		fail "$kind: version 3 output: $(cat "$T/last.out")"
	expect_files $kind "version 3 (initrd dropped: version 2's kept for its entry, version 1's gone)" \
		"boot/kernel $T/in/vmlinuz3" "boot/kernel.old $T/in/vmlinuz2" \
		"boot/initrd.img $T/in/initrd2" "world-b.tar $T/in/world-b.tar" \
		"world-a.tar $T/in/hand" \
		boot/grub/grub.cfg= boot/grub/grubenv= $E/bootdrop-$CH-3+3.conf= $E/bootdrop-$CH-2.conf= "${USER_FILES[@]}"

	# version 2's entry (written plain as version 3's previous one) renamed
	# as systemd-boot's boot counting would; version 4 removes it under its
	# new name, and version 2's initrd with it.
	mv_entry $kind bootdrop-$CH-2.conf bootdrop-$CH-2+2-1.conf
	put $kind $E/bootdrop-$CH-2+x.conf "$T/in/mine"
	USER_FILES+=("$E/bootdrop-$CH-2+x.conf $T/in/mine")
	rel 4 kernel="$T/in/vmlinuz4" world="$T/in/world-b.tar"
	# shellcheck disable=SC2046
	expect_status 0 "$kind: install version 4" fetch $(target $kind) "$url"
	expect_files $kind "version 4 (version 2's counted entry and initrd gone)" \
		"boot/kernel $T/in/vmlinuz4" "boot/kernel.old $T/in/vmlinuz3" \
		"world-b.tar $T/in/world-b.tar" "world-a.tar $T/in/hand" \
		boot/grub/grub.cfg= boot/grub/grubenv= $E/bootdrop-$CH-4+3.conf= $E/bootdrop-$CH-3.conf= "${USER_FILES[@]}"
	# shellcheck disable=SC2046
	expect_status 0 "$kind: version 4 again: up to date" fetch $(target $kind) "$url"
	grep -q "up to date" "$T/last.out" && ok "$kind: up to date after the removals" ||
		fail "$kind: not up to date: $(cat "$T/last.out")"

	# 5, a refresh: version 3's entry goes, but its kernel.old, the last
	# different kernel, stays (a refresh never costs the fallback).
	"$PUBLISH" refresh -r "$T/repo" -c "$CH" -s "$TEST_SEC" >/dev/null || fail "refresh 5"
	# shellcheck disable=SC2046
	expect_status 0 "$kind: install version 5 (a refresh)" fetch $(target $kind) "$url"
	expect_files $kind "version 5, a refresh (kernel.old kept)" \
		"boot/kernel $T/in/vmlinuz4" "boot/kernel.old $T/in/vmlinuz3" \
		"world-b.tar $T/in/world-b.tar" "world-a.tar $T/in/hand" \
		boot/grub/grub.cfg= boot/grub/grubenv= $E/bootdrop-$CH-5+3.conf= $E/bootdrop-$CH-4.conf= "${USER_FILES[@]}"

	# 6 with --no-keep-old: that kernel.old goes, version 6 alone boots.
	rel 6 kernel="$T/in/vmlinuz5" world="$T/in/world-b.tar"
	# shellcheck disable=SC2046
	expect_status 0 "$kind: install version 6 --no-keep-old" fetch --no-keep-old $(target $kind) "$url"
	expect_files $kind "version 6 with --no-keep-old (one version bootable)" \
		"boot/kernel $T/in/vmlinuz5" "world-b.tar $T/in/world-b.tar" "world-a.tar $T/in/hand" \
		boot/grub/grub.cfg= boot/grub/grubenv= $E/bootdrop-$CH-6.conf= "${USER_FILES[@]}"
	[ $kind = d ] || fsck_clean "e: after six versions" "$T/slice.img"
done
finish
