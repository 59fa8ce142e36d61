#!/bin/bash
# bootdrop-fetch --ext2 against bootdrop-server: installs into a fresh
# mkfs.ext2 image as an unprivileged user (no mount anywhere), checked by
# `e2fsck -fn` and read back with debugfs; up to date, a new version,
# refusals that leave the image byte for byte unchanged, resume from the
# host temporary directory, --check; and --pvgrub refusing an i386 kernel
# for an amd64 pvgrub and the reverse, in both modes.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
for p in mkfs.ext2 e2fsck debugfs; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done

# As root (CI), the fetches run as nobody on an image nobody owns: --ext2
# needs no privileges, only write access to the image file.
AS=()
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null || { echo "setpriv not installed"; exit 77; }
	AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	chmod 711 "$T"
fi
U=$T/u				# the unprivileged user's directory
mkdir -p "$U/tmp"
[ ${#AS[@]} -eq 0 ] || chown -R nobody:nogroup "$U"
as_user() { "${AS[@]}" "$@"; }
efetch() { as_user "$FETCH" -P "$PUBKEY" -c "$CH" "$@"; }

# new_image IMG : a fresh 32 MiB ext2 image owned by the fetching user.
new_image() {
	rm -f "$1"
	mkfs.ext2 -q -F "$1" 32M >/dev/null
	[ ${#AS[@]} -eq 0 ] || chown nobody:nogroup "$1"
}
img_sum() { sha256sum <"$1"; }
# menu_of MANIFEST OUT : the menu.lst bootdrop-fetch renders from the
# manifest's boot data on a first install.
menu_of() { "$BOOTDROP_BUILDDIR/tests/bootrender" pvgrub 0 "$1" >"$2"; }
blobs() { grep -c 'GET /blobs/' "$T/server.log"; }

make_repo "$T/repo"
start_server "$T/repo"
img=$U/boot.img
new_image "$img"

# --check reads the image's (absent) state and writes nothing.
before=$(img_sum "$img")
expect_status 100 "--ext2 --check (update available)" efetch --check --ext2 "$img" "$url"
grep -q "would install kernel .* as boot/kernel" "$T/last.out" &&
	ok "--check prints the plan" || fail "--check plan: $(cat "$T/last.out")"
[ "$(img_sum "$img")" = "$before" ] && ok "--check: image unchanged" ||
	fail "--check changed the image"
[ "$(blobs)" -eq 0 ] && ok "--check downloaded no blob" || fail "--check downloaded blobs"

# Install as the unprivileged user.
expect_status 0 "--ext2 install (as $(as_user id -un))" \
	efetch --ext2 "$img" --tmpdir "$U/tmp" "$url"
grep -q "installed $CH version 1 into $img" "$T/last.out" && ok "says installed" ||
	fail "summary: $(cat "$T/last.out")"
fsck_clean "install" "$img"
same_bytes "install" "$img" boot/kernel "$T/kernel"
same_bytes "install" "$img" world.tgz "$T/world.tgz"
menu_of "$T/repo/channels/$CH/manifest.json" "$T/menu.lst"
same_bytes "install" "$img" boot/grub/menu.lst "$T/menu.lst"
debugfs -R "cat /.bootdrop/state/$CH" "$img" 2>/dev/null >"$T/state.out"
grep -qx "version=1" "$T/state.out" && ok "state in the image records version 1" ||
	fail "state: $(cat "$T/state.out")"
debugfs -R "stat /boot/kernel" "$img" 2>/dev/null | grep -q 'Mode:  0644' &&
	ok "kernel mode 0644" || fail "kernel mode"
[ -z "$(ls -A "$U/tmp")" ] && ok "host temporary directory left empty" ||
	fail "left in --tmpdir: $(ls -A "$U/tmp")"

# Rerun: up to date, nothing downloaded, the image byte for byte the same.
before=$(img_sum "$img")
n=$(blobs)
expect_status 0 "--ext2 already current" efetch --ext2 "$img" --tmpdir "$U/tmp" "$url"
grep -q "up to date" "$T/last.out" && ok "says up to date" || fail "no 'up to date'"
[ "$(blobs)" -eq "$n" ] && ok "nothing downloaded when current" || fail "blobs downloaded when current"
[ "$(img_sum "$img")" = "$before" ] && ok "up to date: image unchanged" ||
	fail "up to date: image changed"
expect_status 0 "--ext2 --check when current" efetch --check --ext2 "$img" "$url"
grep -q "up to date: $CH version 1 is installed" "$T/last.out" &&
	ok "--check reads the image's state" || fail "--check: $(cat "$T/last.out")"

# Refusals before anything is written: wrong key, usage.
"$PUBLISH" keygen -W -p "$T/other.pub" -s "$T/other.key" >/dev/null
other=$(tail -n 1 "$T/other.pub")
# (--reset-trust: the image's state holds the trust; only then does -P count.)
expect_status 3 "--ext2 wrong key" as_user "$FETCH" -P "$other" -c "$CH" \
	--reset-trust --ext2 "$img" --tmpdir "$U/tmp" "$url"
expect_err "manifest refused" "wrong key: message"
[ "$(img_sum "$img")" = "$before" ] && ok "wrong key: image byte for byte unchanged" ||
	fail "wrong key: image changed"
expect_status 1 "-d with --ext2" efetch -d "$T/dest" --ext2 "$img" "$url"
expect_status 1 "--state with --ext2" efetch --state "$T/st" --ext2 "$img" "$url"
expect_status 1 "--tmpdir without --ext2" efetch --tmpdir "$U/tmp" -d "$T/dest" "$url"
expect_status 1 "--pvgrub sparc" efetch --pvgrub sparc --ext2 "$img" "$url"
expect_status 4 "--ext2 on a missing image" efetch --ext2 "$U/none.img" "$url"
expect_status 1 "--ext2 on a directory" efetch --ext2 "$U/tmp" "$url"
[ "$(img_sum "$img")" = "$before" ] && ok "usage errors: image unchanged" ||
	fail "usage errors changed the image"

# Version 2 with another kernel: replaced in place, e2fsck clean.
cp -a "$T/repo" "$T/repo1"
"$BOOTDROP_BUILDDIR/tests/mkkernel" i386 "$T/kernel2" 300
cmp -s "$T/kernel" "$T/kernel2" && fail "kernel2 is the same as kernel"
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" kernel="$T/kernel2" \
	world="$T/world.tgz" >/dev/null
expect_status 0 "--ext2 version 2 (\$TMPDIR)" env TMPDIR="$U/tmp" \
	"${AS[@]}" "$FETCH" -P "$PUBKEY" -c "$CH" --ext2 "$img" "$url"
fsck_clean "version 2" "$img"
same_bytes "version 2" "$img" boot/kernel "$T/kernel2"
same_bytes "version 2" "$img" world.tgz "$T/world.tgz"
debugfs -R "cat /.bootdrop/state/$CH" "$img" 2>/dev/null | grep -qx "version=2" &&
	ok "state in the image records version 2" || fail "state not updated"

# Rollback and equivocation, judged against the state in the image: a
# server still offering version 1, and another payload signed as version 2.
srv=$url
start_evil normal "$T/repo1" old
before=$(img_sum "$img")
expect_status 3 "--ext2 rollback to version 1" efetch --ext2 "$img" "$url"
expect_err "version 1 is older than the accepted version 2" "rollback: message"
[ "$(img_sum "$img")" = "$before" ] && ok "rollback: image byte for byte unchanged" ||
	fail "rollback: image changed"
kill "$evil_pid"
rm -rf "$T/eq"; cp -a "$T/repo" "$T/eq"
python3 "$CRAFT" resign "$T/repo/channels/$CH/manifest.json" "$TEST_SEC" \
	"$T/eq/channels/$CH/manifest.json" --set 'boot.title="another title"'
start_evil normal "$T/eq" eq
expect_status 3 "--ext2 equivocation" efetch --ext2 "$img" "$url"
expect_err "equivocation|differs" "equivocation: message"
[ "$(img_sum "$img")" = "$before" ] && ok "equivocation: image byte for byte unchanged" ||
	fail "equivocation: image changed"
kill "$evil_pid"
url=$srv

# A resumed download from the host temporary directory: a verified part
# already there is not fetched again.
"$BOOTDROP_BUILDDIR/tests/mkkernel" i386 "$T/kernel3" 400
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" kernel="$T/kernel3" \
	world="$T/world.tgz" >/dev/null
k3=$(sha256sum <"$T/kernel3" | cut -d' ' -f1)
priv=$U/tmp/bootdrop-fetch.$(as_user id -u)
mkdir -m 700 "$priv"
head -c 1000 "$T/kernel3" >"$priv/$k3.part"
[ ${#AS[@]} -eq 0 ] || chown -R nobody:nogroup "$priv"
expect_status 0 "--ext2 resumes a .part in --tmpdir" efetch --ext2 "$img" --tmpdir "$U/tmp" "$url"
same_bytes "resumed" "$img" boot/kernel "$T/kernel3"
grep -q "GET /blobs/sha256/$k3 HTTP/1.1\" 206 " "$T/server.log" &&
	ok "resumed: the rest came as a 206 range" || fail "resumed: no 206 for the kernel"
fsck_clean "resumed" "$img"
[ ! -e "$priv" ] && ok "resumed: private temporary directory removed" ||
	fail "left: $(ls -A "$priv")"
# A private directory someone else can write is refused (exit 4).
mkdir -m 777 "$priv"
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" kernel="$T/kernel" \
	world="$T/world.tgz" >/dev/null
before=$(img_sum "$img")
expect_status 4 "--tmpdir with a shared bootdrop-fetch.UID" \
	efetch --ext2 "$img" --tmpdir "$U/tmp" "$url"
expect_err "not a private directory" "says not private"
[ "$(img_sum "$img")" = "$before" ] && ok "shared tmp: image unchanged" ||
	fail "shared tmp: image changed"
rmdir "$priv"

# A symbolic link planted at /boot: refused before any download (exit 3),
# the image byte for byte unchanged.
sym=$U/sym.img
new_image "$sym"
debugfs -w -R "symlink boot /tmp" "$sym" >/dev/null 2>&1
before=$(img_sum "$sym")
n=$(blobs)
expect_status 3 "--ext2 with a symlink at /boot" efetch --ext2 "$sym" --tmpdir "$U/tmp" "$url"
expect_err "install path refused.*boot is a symbolic link" "symlink: message"
[ "$(img_sum "$sym")" = "$before" ] && ok "symlink: image byte for byte unchanged" ||
	fail "symlink: image changed"
[ "$(blobs)" -eq "$n" ] && ok "symlink: nothing downloaded" || fail "symlink: blobs downloaded"

# --pvgrub: the classic mistake, after download, in both modes.  The repo
# now holds an i386 kernel (version 4).
pv=$U/pv.img
new_image "$pv"
before=$(img_sum "$pv")
expect_status 3 "--ext2 --pvgrub amd64 with an i386 kernel" \
	efetch --pvgrub amd64 --ext2 "$pv" --tmpdir "$U/tmp" "$url"
expect_err "i386 kernel cannot be loaded by amd64 pvgrub" "pvgrub: message says exactly that"
[ "$(img_sum "$pv")" = "$before" ] && ok "pvgrub: image byte for byte unchanged" ||
	fail "pvgrub: image changed"
[ -z "$(ls -A "$U/tmp")" ] && ok "pvgrub: refused parts removed" ||
	fail "pvgrub: left in --tmpdir: $(ls -A "$U/tmp")"
fresh_dest
snapshot
expect_status 3 "-d --pvgrub amd64 with an i386 kernel" fetch --pvgrub amd64 -d "$T/dest" "$url"
expect_err "i386 kernel cannot be loaded by amd64 pvgrub" "pvgrub -d: message says exactly that"
unchanged "pvgrub -d"
expect_status 0 "--pvgrub i386 with an i386 kernel" efetch --pvgrub i386 --ext2 "$pv" "$url"
fsck_clean "pvgrub i386" "$pv"
same_bytes "pvgrub i386" "$pv" boot/kernel "$T/kernel"

make_kernel "$T/kernel64" amd64
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" kernel="$T/kernel64" \
	world="$T/world.tgz" >/dev/null
before=$(img_sum "$pv")
expect_status 3 "--ext2 --pvgrub i386 with an amd64 kernel" \
	efetch --pvgrub i386 --ext2 "$pv" --tmpdir "$U/tmp" "$url"
expect_err "amd64 kernel cannot be loaded by i386 pvgrub" "pvgrub: the reverse message"
[ "$(img_sum "$pv")" = "$before" ] && ok "pvgrub reverse: image byte for byte unchanged" ||
	fail "pvgrub reverse: image changed"
fresh_dest
snapshot
expect_status 3 "-d --pvgrub i386 with an amd64 kernel" fetch --pvgrub i386 -d "$T/dest" "$url"
expect_err "amd64 kernel cannot be loaded by i386 pvgrub" "pvgrub -d: the reverse message"
unchanged "pvgrub reverse -d"
expect_status 0 "--pvgrub amd64 with an amd64 kernel" fetch --pvgrub amd64 -d "$T/dest" "$url"
cmp -s "$T/dest/boot/kernel" "$T/kernel64" && ok "amd64 kernel installed" || fail "amd64 kernel differs"

expect_status 0 "--help" "$FETCH" --help
for o in --ext2 --tmpdir --pvgrub; do
	grep -q -- "$o" "$T/last.out" && ok "--help lists $o" || fail "--help lacks $o"
done
finish
