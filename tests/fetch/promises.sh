#!/bin/bash
# Promises of bootdrop-fetch no other test holds it to: at most 5
# redirects; the uppercase HTTP_PROXY ignored (lowercase http_proxy, the
# control, used); room for inodes checked before any download, on ext2 and
# in a directory; an interrupted install finished even when no mirror
# answers, and abandoned (then installed afresh) when a staged file no
# longer matches its record; SIGINT and SIGHUP held during the commit;
# --ext2 refusing a mounted file system and one whose journal needs
# recovery, touching neither.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
for p in strace mkfs.ext2 mkfs.ext4 debugfs dumpe2fs; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done
blobs() { grep -c 'GET /blobs/' "$T/server.log"; }
no_blobs_since() {
	[ "$(blobs)" -eq "$1" ] && ok "$2: nothing downloaded" ||
		fail "$2: downloaded $(( $(blobs) - $1 )) blobs"
}
cfetch() { local c=$1; shift; "$FETCH" -P "$PUBKEY" -c "$c" "$@"; }
# need_root WHAT : true when root with mount namespaces; otherwise a note
# (a failure under CI=true, where the suite runs as root).
need_root() {
	[ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null && return 0
	if [ "${CI:-}" = true ]; then fail "$1 cannot run (needs root and mount namespaces)"
	else echo "note: $1 NOT RUN (needs root and mount namespaces)"; fi
	return 1
}

make_repo "$T/repo"
start_server "$T/repo"; url_server=$url
mkdir -p "$T/tmp" "$T/empty"
dead=http://127.0.0.1:$(free_port)	# nothing listens there

# --- redirects: 5 are followed, a 6th is refused
fresh_dest; start_evil redirect-5 "$T/repo" r5
expect_status 0 "a manifest behind 5 redirects" fetch -d "$T/dest" "$url"
expect_eq "$(grep -c '/manifest.json' "$T/r5.log")" 6 "5 redirects: the first request and 5 more"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
fresh_dest; start_evil redirect-6 "$T/repo" r6
expect_status 2 "a manifest behind 6 redirects" fetch -d "$T/dest" "$url"
expect_err 'refused: Maximum \(5\) redirects followed' "6 redirects: refused at the limit"
expect_eq "$(grep -c '/manifest.json' "$T/r6.log")" 6 "6 redirects: no request after the 5th redirect"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# --- proxies: a "proxy" that logs every request (absolute URLs) and
# answers 404; HTTP_PROXY (uppercase, the httpoxy hole) must not reach it.
start_evil normal "$T/empty" proxy; proxy=$url
fresh_dest
expect_status 0 "HTTP_PROXY set: fetched directly" env -u http_proxy -u no_proxy \
	-u NO_PROXY -u ALL_PROXY -u all_proxy HTTP_PROXY="$proxy" \
	"$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url_server"
expect_eq "$(grep -c . "$T/proxy.log")" 0 "HTTP_PROXY: the proxy saw no request"
fresh_dest
expect_status 2 "http_proxy (the control): the proxy answers 404" env -u HTTP_PROXY \
	-u no_proxy -u NO_PROXY -u ALL_PROXY -u all_proxy http_proxy="$proxy" \
	"$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url_server"
grep -q "^GET $url_server/channels/$CH/manifest.json" "$T/proxy.log" &&
	ok "http_proxy: the request went through the proxy" ||
	fail "http_proxy: the proxy saw: $(head -n 3 "$T/proxy.log")"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# --- room for inodes, checked before any download
mkfs.ext2 -q -F -N 16 "$T/few.img" 8M	# 5 inodes free, bytes plenty
before=$(sha256sum <"$T/few.img"); n=$(blobs)
expect_status 4 "ext2 with 5 free inodes" fetch --ext2 "$T/few.img" --tmpdir "$T/tmp" "$url_server"
expect_err "not enough inodes: need [0-9]+, have 5" "ext2 inodes: need N, have 5"
no_blobs_since "$n" "ext2 inodes"
[ "$(sha256sum <"$T/few.img")" = "$before" ] && ok "ext2 inodes: image unchanged" ||
	fail "ext2 inodes: image changed"
mkfs.ext2 -q -F -N 64 "$T/enough.img" 8M
expect_status 0 "ext2 with 53 free inodes (the control)" fetch --ext2 "$T/enough.img" \
	--tmpdir "$T/tmp" "$url_server"
if need_root "the directory inode check (a tmpfs with 4 inodes)"; then
	mkdir -p "$T/fewfs"; n=$(blobs)
	unshare -m bash -c 'mount -t tmpfs -o size=64m,nr_inodes=4 tmpfs "$1" || exit 99
		mkdir "$1/boot"; echo old >"$1/boot/kernel"
		"$2" -q -P "$3" -c test -d "$1" "$4" 2>"$5"; echo "status $?"
		cd "$1" && find . | LC_ALL=C sort' _ "$T/fewfs" "$FETCH" "$PUBKEY" \
		"$url_server" "$T/last.err" >"$T/fewfs.out"
	grep -qx "status 4" "$T/fewfs.out" && ok "tmpfs with 4 inodes: exit 4" ||
		fail "tmpfs with 4 inodes: $(cat "$T/fewfs.out" "$T/last.err")"
	expect_err "not enough inodes: need [0-9]+, have [0-9]+" "tmpfs inodes: need N, have M"
	[ "$(sed 1d "$T/fewfs.out" | tr '\n' ' ')" = ". ./boot ./boot/kernel " ] &&
		ok "tmpfs inodes: nothing changed" || fail "tmpfs inodes: $(cat "$T/fewfs.out")"
	no_blobs_since "$n" "tmpfs inodes"
fi

# --- an interrupted install: version 1, then version 2 interrupted by an
# EIO at the rename that puts world.tgz in place (the intent record stays).
mkdir -p "$T/v1" "$T/v2"
cp "$T/kernel" "$T/v1/kernel"; cp "$T/kernel" "$T/v2/kernel"; echo two >>"$T/v2/kernel"
cp "$T/world.tgz" "$T/v1/world.tgz"; make_world "$T/v2/world.tgz"
up_release() {
	"$PUBLISH" release -r "$T/repo" -c up -s "$TEST_SEC" kernel="$T/v$1/kernel" \
		world="$T/v$1/world.tgz" >/dev/null
}
up_release 1
mkdir -p "$T/up/boot"
cfetch up -q -d "$T/up" "$url_server" || fail "up: version 1"
up_release 2
v2_installed() {
	cmp -s "$T/$1/boot/kernel" "$T/v2/kernel" && cmp -s "$T/$1/world.tgz" "$T/v2/world.tgz" &&
		grep -qx "version=2" "$T/$1/.bootdrop/state/up" && [ ! -e "$T/$1/.bootdrop/pending" ]
}
cp -a "$T/up" "$T/count"
traced -o "$T/renames" -e trace=renameat "$FETCH" -q -P "$PUBKEY" -c up \
	-d "$T/count" "$url_server" || fail "counting renames"
nworld=$(grep -n '"world.tgz"' "$T/renames" | head -n 1 | cut -d: -f1)
[ -n "$nworld" ] || { fail "no rename of world.tgz seen"; finish; }
nrenames=$(grep -c 'renameat' "$T/renames")
# interrupt DIR : version 2 into a copy of version 1 at DIR, cut short by
# EIO at the rename that would put the world in place.  The renames are
# counted above, but which one is the world's is judged by what the slice
# holds afterwards (the world still version 1, its staged copy there, the
# intent record kept), trying the counted one first, then its neighbours.
interrupt() {
	local n st
	for n in "$nworld" $(seq "$nrenames" | grep -vx "$nworld"); do
		rm -rf "$T/$1"; cp -a "$T/up" "$T/$1"
		traced -o /dev/null -e trace=renameat \
			-e inject=renameat:error=EIO:when="$n" \
			"$FETCH" -P "$PUBKEY" -c up -d "$T/$1" "$url_server" \
			>"$T/last.out" 2>"$T/last.err"
		st=$?
		[ "$st" = 4 ] && [ -e "$T/$1/.bootdrop/pending" ] &&
			cmp -s "$T/$1/world.tgz" "$T/v1/world.tgz" &&
			for f in "$T/$1/.bootdrop/tmp"/stage.*; do cmp -s "$f" "$T/v2/world.tgz" && break; done &&
			cmp -s "$f" "$T/v2/world.tgz" || continue
		ok "$1: EIO at rename $n of $nrenames (the world's): exit 4, intent record kept, world staged"
		return 0
	done
	fail "$1: no rename of the $nrenames left the world staged and not in place"
}

# No mirror answers: the recorded install is still finished (the network
# failure is reported after it).
interrupt nomirror
expect_status 2 "finishing with no mirror answering" cfetch up -d "$T/nomirror" "$dead"
expect_err "finished an interrupted install of up version 2" "no mirror: says it finished"
v2_installed nomirror && ok "no mirror: version 2 installed from the staged files" ||
	fail "no mirror: not version 2"

# A staged file that no longer matches: the record is abandoned (the state
# stays version 1, every installed file old or new), then a run with a
# mirror installs version 2 afresh.
interrupt stale
staged=
for f in "$T/stale/.bootdrop/tmp"/stage.*; do
	cmp -s "$f" "$T/v2/world.tgz" && staged=$f
done
if [ -n "$staged" ]; then
	ok "stale: the world is staged at ${staged#"$T"/}"
	printf 'X' | dd of="$staged" bs=1 seek=100 conv=notrunc status=none
else
	fail "stale: no staged world found under .bootdrop: $(cd "$T/stale/.bootdrop" && find . -type f)"
fi
expect_status 2 "a stale staged file, no mirror answering" cfetch up -d "$T/stale" "$dead"
expect_err "abandoned an interrupted install: staged .*world.tgz" "stale: says it abandoned the install"
grep -qx "version=1" "$T/stale/.bootdrop/state/up" && ok "stale: the state is still version 1" ||
	fail "stale: state $(grep version "$T/stale/.bootdrop/state/up")"
[ ! -e "$T/stale/.bootdrop/pending" ] && ok "stale: the intent record is gone" ||
	fail "stale: intent record kept"
{ cmp -s "$T/stale/world.tgz" "$T/v1/world.tgz" || cmp -s "$T/stale/world.tgz" "$T/v2/world.tgz"; } &&
	{ cmp -s "$T/stale/boot/kernel" "$T/v1/kernel" || cmp -s "$T/stale/boot/kernel" "$T/v2/kernel"; } &&
	ok "stale: every installed file is old or new" || fail "stale: an installed file is neither"
expect_status 0 "stale: a run with a mirror" cfetch up -d "$T/stale" "$url_server"
v2_installed stale && ok "stale: version 2 installed afresh" || fail "stale: not version 2"

# --- SIGINT and SIGHUP during the commit are held until it is done.
for sig in INT HUP; do
	rm -rf "$T/sig$sig"; cp -a "$T/up" "$T/sig$sig"
	expect_status 0 "SIG$sig at the world's rename" traced -o /dev/null \
		-e trace=renameat -e inject=renameat:signal="$sig":when="$nworld" \
		"$FETCH" -P "$PUBKEY" -c up -d "$T/sig$sig" "$url_server"
	v2_installed "sig$sig" && ok "SIG$sig: the install completed" || fail "SIG$sig: not version 2"
done

# --- --ext2 refuses a journal that needs recovery, and a mounted file
# system; neither is touched.
mkfs.ext4 -q -F "$T/journal.img" 16M
debugfs -w -R "feature needs_recovery" "$T/journal.img" >/dev/null 2>&1
dumpe2fs -h "$T/journal.img" 2>/dev/null | grep -q needs_recovery ||
	fail "could not mark the image as needing recovery"
before=$(sha256sum <"$T/journal.img"); n=$(blobs)
expect_status 4 "ext2: journal needs recovery" fetch --ext2 "$T/journal.img" --tmpdir "$T/tmp" "$url_server"
expect_err "needs journal recovery \(run e2fsck\)" "journal: says to run e2fsck"
no_blobs_since "$n" "journal"
[ "$(sha256sum <"$T/journal.img")" = "$before" ] && ok "journal: image unchanged" ||
	fail "journal: image changed"
if need_root "the mounted-device check (a loop mount)"; then
	mkfs.ext2 -q -F "$T/mounted.img" 16M
	mkdir -p "$T/mnt"; n=$(blobs)
	unshare -m bash -c 'mount -o loop "$1" "$2" || exit 99
		dev=$(findmnt -n -o SOURCE "$2")
		echo "device $dev"
		"$3" -P "$4" -c test --ext2 "$dev" --tmpdir "$5" "$6" 2>"$7.dev"; echo "device-status $?"
		"$3" -P "$4" -c test --ext2 "$1" --tmpdir "$5" "$6" 2>"$7.img"; echo "image-status $?"
		find "$2" -mindepth 1 | grep -v lost+found | wc -l | sed "s/^/entries /"
		umount "$2"' _ "$T/mounted.img" "$T/mnt" "$FETCH" "$PUBKEY" "$T/tmp" "$url_server" \
		"$T/mounted.err" >"$T/mounted.out"
	if grep -q "^device /dev/loop" "$T/mounted.out"; then
		grep -qx "device-status 1" "$T/mounted.out" &&
			grep -q "is mounted; unmount it or use -d" "$T/mounted.err.dev" &&
			ok "--ext2 on a mounted device: exit 1, says it is mounted" ||
			fail "--ext2 on a mounted device: $(cat "$T/mounted.out" "$T/mounted.err.dev")"
		grep -qx "image-status 1" "$T/mounted.out" &&
			grep -q "is mounted; unmount it or use -d" "$T/mounted.err.img" &&
			ok "--ext2 on the image of a mounted loop device: exit 1, says it is mounted" ||
			fail "--ext2 on the image of a mounted loop device: $(cat "$T/mounted.out" "$T/mounted.err.img")"
		grep -qx "entries 0" "$T/mounted.out" && ok "mounted: nothing written" ||
			fail "mounted: $(grep entries "$T/mounted.out")"
		no_blobs_since "$n" "mounted"
	elif [ "${CI:-}" = true ]; then
		fail "cannot loop-mount an image: $(cat "$T/mounted.out")"
	else
		echo "note: the mounted-device check NOT RUN (no loop device): $(cat "$T/mounted.out")"
	fi
fi

finish
