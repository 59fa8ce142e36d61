#!/bin/bash
# What a new user and an adversarial trial hit (issue 8): room checked
# before any download (a 4 MiB ext2 image, a small file system), --pvgrub
# refused before any download, --only repeated, --json results for usage
# errors and the --check plan, --check's status 100, the 404 message, URLs
# with a query, --cacert (and its hint for an https server of an unknown
# CA), the way out named by rollback, equivocation and damaged-state
# errors, a .bootdrop/tmp that is not private, ENOSPC while downloading,
# a failed rename finished by the next run, SIGTERM during the commit,
# kernel.old and --no-keep-old, leftovers cleaned, an ext2 file system
# found not clean, --ext2 --check with read access.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
command -v strace >/dev/null || { echo "strace not installed"; exit 77; }
blobs() { grep -c 'GET /blobs/' "$T/server.log"; }
no_blobs_since() {
	[ "$(blobs)" -eq "$1" ] && ok "$2: nothing downloaded" ||
		fail "$2: downloaded $(( $(blobs) - $1 )) blobs"
}
cfetch() { local c=$1; shift; "$FETCH" -P "$PUBKEY" -c "$c" "$@"; }
state_file() { echo "$T/$1/.bootdrop/state/$CH"; }

make_repo "$T/repo"
mkdir -p "$T/big"
make_world "$T/big/world.tgz" 6
"$PUBLISH" release -r "$T/repo" -c big -s "$TEST_SEC" kernel="$T/kernel" \
	world="$T/big/world.tgz" >/dev/null
start_server "$T/repo"
mkdir -p "$T/tmp"

# Room: a 4 MiB ext2 image cannot take a 6 MiB world; nothing is fetched
# and the image stays byte for byte.
if command -v mkfs.ext2 >/dev/null; then
	mkfs.ext2 -q -F "$T/small.img" 4M >/dev/null
	before=$(sha256sum <"$T/small.img"); n=$(blobs)
	expect_status 4 "ext2 image too small" \
		cfetch big --ext2 "$T/small.img" --tmpdir "$T/tmp" "$url"
	expect_err "not enough room: need [0-9]+\.[0-9] MiB, have [0-9]+\.[0-9] MiB on $T/small.img" \
		"ext2: need N MiB, have M MiB"
	grep -q "I/O error" "$T/last.err" && fail "ext2 too small: still an I/O error" ||
		ok "ext2 too small: not called an I/O error"
	no_blobs_since "$n" "ext2 too small"
	[ "$(sha256sum <"$T/small.img")" = "$before" ] && ok "ext2 too small: image unchanged" ||
		fail "ext2 too small: image changed"
fi
# An image that holds no ext2 file system (a vfat one, zeros) is named so.
if command -v mkfs.vfat >/dev/null; then
	mkfs.vfat -C "$T/vfat.img" 8192 >/dev/null
	before=$(sha256sum <"$T/vfat.img"); n=$(blobs)
	expect_status 4 "--ext2 on a vfat image" \
		cfetch big --ext2 "$T/vfat.img" --tmpdir "$T/tmp" "$url"
	expect_err "not an ext2/3/4 file system: $T/vfat.img" "vfat: not an ext2/3/4 file system"
	grep -q "Bad magic" "$T/last.err" && fail "vfat: still 'Bad magic number'" ||
		ok "vfat: no 'Bad magic number'"
	no_blobs_since "$n" "vfat image"
	[ "$(sha256sum <"$T/vfat.img")" = "$before" ] && ok "vfat: image unchanged" ||
		fail "vfat: image changed"
fi
head -c 4194304 /dev/zero >"$T/zero.img"
expect_status 4 "--ext2 on an image of zeros" \
	cfetch big --ext2 "$T/zero.img" --tmpdir "$T/tmp" "$url"
expect_err "not an ext2/3/4 file system: $T/zero.img" "zeros: not an ext2/3/4 file system"
# ... and a directory on a 2 MiB tmpfs (a private mount: root only).
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
    unshare -m true 2>/dev/null; then
	mkdir -p "$T/smallfs"; n=$(blobs)
	unshare -m bash -c 'mount -t tmpfs -o size=2m tmpfs "$1" || exit 99
		mkdir "$1/boot"; echo old >"$1/boot/kernel"
		"$2" -q -P "$3" -c big -d "$1" "$4" 2>"$5"; echo "status $?"
		cd "$1" && find . | LC_ALL=C sort' _ "$T/smallfs" "$FETCH" "$PUBKEY" \
		"$url" "$T/last.err" >"$T/smallfs.out"
	grep -qx "status 4" "$T/smallfs.out" && ok "small tmpfs: exit 4" ||
		fail "small tmpfs: $(cat "$T/smallfs.out")"
	expect_err "not enough room: need [0-9]+\.[0-9] MiB, have [0-9.]+ (MiB|KiB|B)" "tmpfs: need N MiB, have M MiB"
	[ "$(sed 1d "$T/smallfs.out" | tr '\n' ' ')" = ". ./boot ./boot/kernel " ] &&
		ok "small tmpfs: nothing changed" || fail "small tmpfs: $(cat "$T/smallfs.out")"
	no_blobs_since "$n" "small tmpfs"
elif [ "${CI:-}" = true ]; then
	fail "the tmpfs room check cannot run (needs root and mount namespaces)"
else
	echo "note: the tmpfs room check NOT RUN (needs root and mount namespaces)"
fi

# --pvgrub: the manifest records the kernel's ELF facts, so an i386
# kernel is refused for an amd64 pvgrub before anything is downloaded.
n=$(blobs)
mkdir -p "$T/pv"
expect_status 3 "--pvgrub amd64, i386 kernel" fetch --pvgrub amd64 -d "$T/pv" "$url"
expect_err "i386 kernel cannot be loaded by amd64 pvgrub" "pvgrub: says why"
no_blobs_since "$n" "--pvgrub refusal"

# --only twice installs both and records no version.
fresh_dest
expect_status 0 "--only kernel --only world" fetch --only kernel --only world -d "$T/dest" "$url"
cmp -s "$T/dest/boot/kernel" "$T/kernel" && cmp -s "$T/dest/world.tgz" "$T/world.tgz" &&
	ok "--only: both installed" || fail "--only: not both installed"
grep -q "records no version" "$T/last.out" && ok "--only says it records no version" ||
	fail "--only: $(cat "$T/last.out")"
[ ! -e "$(state_file dest)" ] && ok "--only: no state" || fail "--only wrote a state"
[ ! -e "$T/dest/boot/grub/menu.lst" ] && ok "--only: no menu.lst" || fail "--only wrote menu.lst"

# --json: a usage error still ends with a result object.
expect_status 1 "--json usage error" fetch --json --no-such-option -d "$T/dest" "$url"
grep -q '"event":"result".*"status":1' "$T/last.out" && ok "--json: usage error result" ||
	fail "--json usage: $(cat "$T/last.out")"
# --check --json: the plan and the verdict; 100 while an update is there.
rm -rf "$T/cj"
expect_status 100 "--check --json, update available" fetch --check --json -d "$T/cj" "$url"
grep -q '"event":"plan".*"path":"boot/kernel"' "$T/last.out" &&
	grep -q '"event":"check".*"update":true' "$T/last.out" &&
	ok "--check --json: plan and verdict" || fail "--check --json: $(cat "$T/last.out")"
fresh_dest
expect_status 0 "install" fetch -d "$T/dest" "$url"
expect_status 0 "--check when up to date" fetch --check --json -d "$T/dest" "$url"
grep -q '"event":"check".*"update":false' "$T/last.out" && ok "--check --json: up to date" ||
	fail "--check up to date: $(cat "$T/last.out")"

# 404, URLs with a query or fragment, --cacert.
expect_status 2 "no such channel" cfetch nochannel -d "$T/dest" "$url"
expect_err "no channel nochannel at $url" "404: names the channel and the URL"
expect_status 2 "channel URL given" fetch -d "$T/dest" "$url/channels/$CH/"
expect_err "give the repository's base URL, $url" "404: suggests the base URL"
expect_status 1 "URL with a query" fetch -d "$T/dest" "$url/?x=1"
expect_err "no query" "query refused"
expect_status 1 "URL with a fragment" fetch -d "$T/dest" "$url#top"
expect_status 1 "--cacert missing" fetch --cacert "$T/no-such-ca.pem" -d "$T/dest" "$url"
expect_err "cacert" "--cacert: names the option"

# https with a CA the system store lacks: the error says to pass --cacert,
# and with it the TLS handshake succeeds (the page served then is no
# manifest, so the run is refused instead of failing to connect).
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 >/dev/null 2>&1
	tport=$(free_port)
	openssl s_server -quiet -accept "127.0.0.1:$tport" -cert "$T/tls.crt" \
		-key "$T/tls.key" -www >/dev/null 2>&1 &
	_bd_pids+=($!)
	for _ in $(seq 100); do
		curl -sk -o /dev/null "https://127.0.0.1:$tport/" && break
		sleep 0.05
	done
	expect_status 2 "https, unknown CA" fetch -d "$T/dest" "https://127.0.0.1:$tport"
	expect_err "pass --cacert FILE" "unknown CA: suggests --cacert"
	expect_status 3 "https with --cacert" fetch --cacert "$T/tls.crt" -d "$T/dest" \
		"https://127.0.0.1:$tport"
fi

# Rollback and equivocation name the way out; a damaged state is exit 4
# naming the file and the command that resets it.
cp "$(state_file dest)" "$T/state.good"
sed -i 's/^version=.*/version=99/' "$(state_file dest)"
expect_status 3 "rollback" fetch -d "$T/dest" "$url"
expect_err "remove the state \(rm '$(state_file dest)'\)" "rollback: names the way out"
sed -i 's/^payload-sha256=./payload-sha256=0/; s/^version=.*/version=1/' "$(state_file dest)"
cmp -s "$(state_file dest)" "$T/state.good" &&
	sed -i 's/^payload-sha256=0/payload-sha256=1/' "$(state_file dest)"
expect_status 3 "equivocation" fetch -d "$T/dest" "$url"
expect_err "remove the state: rm '$(state_file dest)'" "equivocation: names the way out"
for bad in empty nul truncated; do
	case $bad in
	empty) : >"$(state_file dest)" ;;
	nul) printf 'bootdrop-state/1\n\0\0\0' >"$(state_file dest)" ;;
	truncated) head -c 30 "$T/state.good" >"$(state_file dest)" ;;
	esac
	expect_status 4 "damaged state ($bad)" fetch -d "$T/dest" "$url"
	expect_err "$(state_file dest): damaged state file.*remove it: rm '$(state_file dest)'" \
		"damaged state ($bad): names the file and the reset"
done
rm "$(state_file dest)"
expect_status 0 "after removing the damaged state" fetch -d "$T/dest" "$url"

# .bootdrop/tmp must be private, as --tmpdir is.
fresh_dest; mkdir -p "$T/dest/.bootdrop"; mkdir -m 777 "$T/dest/.bootdrop/tmp"
n=$(blobs)
expect_status 4 "world-writable .bootdrop/tmp" fetch -d "$T/dest" "$url"
expect_err "not a private directory" "says not private"
no_blobs_since "$n" "shared .bootdrop/tmp"

# ENOSPC while a part is written (pwrite) is a local write error, not a
# refusal.
fresh_dest
expect_status 4 "ENOSPC writing a part" traced -o /dev/null -e trace=pwrite64 \
	-e inject=pwrite64:error=ENOSPC:when=1 "$FETCH" -q -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url"
expect_err "cannot write artifact .*No space left on device" "ENOSPC: says cannot write"
cmp -s "$T/dest/boot/kernel" - <<<old && ok "ENOSPC: nothing installed" ||
	fail "ENOSPC: boot/kernel changed"

# An upgrade channel: version 1, then version 2 with other bytes.
mkdir -p "$T/v1" "$T/v2"
cp "$T/kernel" "$T/v1/kernel"; cp "$T/kernel" "$T/v2/kernel"; echo two >>"$T/v2/kernel"
cp "$T/world.tgz" "$T/v1/world.tgz"; make_world "$T/v2/world.tgz"
up_release() {
	"$PUBLISH" release -r "$T/repo" -c up -s "$TEST_SEC" kernel="$T/v$1/kernel" \
		world="$T/v$1/world.tgz" >/dev/null
}
up_release 1
for d in up1 up2 up3; do
	mkdir -p "$T/$d/boot"
	cfetch up -q -d "$T/$d" "$url" || fail "up: version 1 into $d"
done
have_ext2=; command -v mkfs.ext2 >/dev/null && have_ext2=1
if [ -n "$have_ext2" ]; then
	mkfs.ext2 -q -F "$T/kold.img" 8M >/dev/null
	cfetch up -q --ext2 "$T/kold.img" --tmpdir "$T/tmp" "$url" ||
		fail "up: version 1 into an ext2 image"
fi
up_release 2
v2_installed() {
	cmp -s "$T/$1/boot/kernel" "$T/v2/kernel" && cmp -s "$T/$1/world.tgz" "$T/v2/world.tgz" &&
		grep -qx "version=2" "$T/$1/.bootdrop/state/up" && [ ! -e "$T/$1/.bootdrop/pending" ]
}
# Which renameat of an upgrade puts world.tgz in place (counted once).
cp -a "$T/up1" "$T/count"
traced -o "$T/renames" -e trace=renameat "$FETCH" -q -P "$PUBKEY" -c up \
	-d "$T/count" "$url" || fail "counting renames"
nworld=$(grep -n '"world.tgz"' "$T/renames" | head -n 1 | cut -d: -f1)
if [ -n "$nworld" ]; then
	# A transient EIO there: exit 4, the kernel already new; the next run
	# finishes the recorded install without needing room for a copy.
	expect_status 4 "EIO at the world's rename" traced -o /dev/null \
		-e trace=renameat -e inject=renameat:error=EIO:when="$nworld" \
		"$FETCH" -P "$PUBKEY" -c up -d "$T/up1" "$url"
	expect_err "the next run finishes it" "EIO: says the next run finishes it"
	[ -e "$T/up1/.bootdrop/pending" ] && ok "EIO: intent record kept" ||
		fail "EIO: no intent record"
	expect_status 0 "re-run after EIO" cfetch up -d "$T/up1" "$url"
	grep -q "finished an interrupted install of up version 2" "$T/last.err" &&
		ok "re-run says it finished the interrupted install" ||
		fail "re-run: $(cat "$T/last.out" "$T/last.err")"
	v2_installed up1 && ok "EIO: rolled forward to version 2" || fail "EIO: not version 2"
	# SIGTERM there: held until the commit is done.
	expect_status 0 "SIGTERM at the world's rename" traced -o /dev/null \
		-e trace=renameat -e inject=renameat:signal=TERM:when="$nworld" \
		"$FETCH" -P "$PUBKEY" -c up -d "$T/up2" "$url"
	v2_installed up2 && ok "SIGTERM: the install completed" || fail "SIGTERM: not version 2"
else
	fail "no rename of world.tgz seen"
fi
cmp -s "$T/up2/boot/kernel.old" "$T/v1/kernel" && ok "kernel.old is the previous kernel" ||
	fail "kernel.old missing or wrong"
grep -q "^kernel /boot/kernel.old" "$T/up2/boot/grub/menu.lst" &&
	ok "menu.lst offers kernel.old" || fail "menu.lst has no kernel.old entry"
# --no-keep-old, and leftovers of older runs cleaned on the way.
touch "$T/up3/boot/.bootdrop.0badc0de.new" "$T/up3/world.tgz.x"
mkdir -p "$T/up3/boot/grub"; touch "$T/up3/boot/grub/.menu.lst.12345678.tmp"
expect_status 0 "--no-keep-old" cfetch up --no-keep-old -d "$T/up3" "$url"
[ ! -e "$T/up3/boot/kernel.old" ] && ok "--no-keep-old: no kernel.old" ||
	fail "--no-keep-old kept kernel.old"
[ ! -e "$T/up3/boot/.bootdrop.0badc0de.new" ] && [ ! -e "$T/up3/boot/grub/.menu.lst.12345678.tmp" ] &&
	ok "leftovers of our own kind removed" || fail "leftovers remain"
[ -e "$T/up3/world.tgz.x" ] && ok "other files kept" || fail "removed a file not ours"

# A refreshed manifest names the same kernel: it is not kept as .old, so
# the previous kernel stays the fallback (a daily refresh must not lose it).
if [ -n "$have_ext2" ]; then
	cfetch up -q --ext2 "$T/kold.img" --tmpdir "$T/tmp" "$url" ||
		fail "up: version 2 into the ext2 image"
fi
"$PUBLISH" refresh -r "$T/repo" -c up -s "$TEST_SEC" -e 30d >/dev/null ||
	fail "refresh of channel up"
expect_status 0 "fetch of a refresh" cfetch up -d "$T/up2" "$url"
grep -qx "version=3" "$T/up2/.bootdrop/state/up" && ok "refresh: version 3 accepted" ||
	fail "refresh: version 3 not recorded"
cmp -s "$T/up2/boot/kernel.old" "$T/v1/kernel" && cmp -s "$T/up2/boot/kernel" "$T/v2/kernel" &&
	ok "refresh: kernel.old is still the previous kernel" ||
	fail "refresh: the unchanged kernel replaced kernel.old"
if [ -n "$have_ext2" ]; then
	expect_status 0 "ext2: fetch of a refresh" cfetch up --ext2 "$T/kold.img" \
		--tmpdir "$T/tmp" "$url"
	same_bytes "ext2 refresh: kernel.old is still the previous kernel" "$T/kold.img" \
		boot/kernel.old "$T/v1/kernel"
	same_bytes "ext2 refresh: kernel is version 2's" "$T/kold.img" boot/kernel "$T/v2/kernel"
	e2fsck -fn "$T/kold.img" >/dev/null 2>&1 && ok "ext2 refresh: e2fsck clean" ||
		fail "ext2 refresh: e2fsck found errors"
fi

# An ext2 file system found not clean is written (a plain re-run must
# converge) but left marked not clean for e2fsck -p, with a warning.
if command -v mkfs.ext2 >/dev/null; then
	mkfs.ext2 -q -F "$T/dirty.img" 8M >/dev/null
	debugfs -w -R "ssv state 0" "$T/dirty.img" >/dev/null 2>&1
	expect_status 0 "ext2 not clean" cfetch up --ext2 "$T/dirty.img" --tmpdir "$T/tmp" "$url"
	expect_err "not marked clean .*e2fsck -p" "not clean: warns"
	dumpe2fs -h "$T/dirty.img" 2>/dev/null | grep -q '^Filesystem state: *not clean' &&
		ok "not clean: left marked not clean" || fail "not clean: marked clean"
	mkfs.ext2 -q -F "$T/clean.img" 8M >/dev/null
	cfetch up -q --ext2 "$T/clean.img" --tmpdir "$T/tmp" "$url" >/dev/null 2>&1
	dumpe2fs -h "$T/clean.img" 2>/dev/null | grep -q '^Filesystem state: *clean' &&
		ok "clean: marked clean after the install" || fail "clean: left not clean"
fi

# --ext2 --check and reading the state need only read access.
if command -v mkfs.ext2 >/dev/null; then
	mkfs.ext2 -q -F "$T/ro.img" 8M >/dev/null
	cfetch up -q --ext2 "$T/ro.img" --tmpdir "$T/tmp" "$url" || fail "ext2 install for --check"
	chmod 444 "$T/ro.img"
	AS=()
	if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
		AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
		chmod 755 "$T"
	fi
	before=$(sha256sum <"$T/ro.img")
	expect_status 0 "--ext2 --check, read-only image" "${AS[@]}" "$FETCH" -P "$PUBKEY" \
		-c up --check --ext2 "$T/ro.img" "$url"
	grep -q "up to date" "$T/last.out" && ok "read-only --check reads the state" ||
		fail "read-only --check: $(cat "$T/last.out")"
	[ "$(sha256sum <"$T/ro.img")" = "$before" ] && ok "read-only --check: unchanged" ||
		fail "read-only --check changed the image"
fi
finish
