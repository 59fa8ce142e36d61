#!/bin/bash
# Interrupted downloads: a .part left behind is re-hashed and resumed with
# Range; a server that ignores Range, answers the wrong range or sends other
# bytes makes the client start over cleanly; a fetch killed with SIGKILL
# mid-download resumes on the next run.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

make_world "$T/world.tgz" 2
make_repo "$T/repo"
world_hex=$(sha256sum "$T/world.tgz" | cut -d' ' -f1)
kernel_hex=$(sha256sum "$T/kernel" | cut -d' ' -f1)
kpart=$T/dest/.bootdrop/tmp/$kernel_hex.part
part=$T/dest/.bootdrop/tmp/$world_hex.part

# cut_then MODE DESC : the first transfer of each blob is cut short (exit 2,
# the part stays); the rerun against the same server must install.
cut_then() {
	fresh_dest
	start_evil "$1" "$T/repo"
	expect_status 2 "$2: cut short" fetch -d "$T/dest" "$url"
	[ -s "$part" ] && ok "$2: partial download kept" || fail "$2: no .part kept"
	expect_status 0 "$2: rerun" fetch -d "$T/dest" "$url"
	cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "$2: world installed intact" ||
		fail "$2: world differs"
	[ ! -e "$T/dest/.bootdrop/tmp" ] && ok "$2: no temporary files left" ||
		fail "$2: .bootdrop/tmp left behind"
	kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
}

cut_then cut "resume"
grep -q "^GET /blobs/sha256/$world_hex range=bytes=[1-9][0-9]*-$" "$T/evil.log" &&
	ok "resume: the server got a Range request" || fail "resume: no Range request"
cut_then cut-norange "server ignores Range"
cut_then cut-badrange "server answers another range"
cut_then cut-rangelie "server sends other bytes for the range"
[ "$(grep -c "^GET /blobs/sha256/$world_hex" "$T/evil.log")" -eq 3 ] &&
	ok "other bytes: one resume, then one clean restart" ||
	fail "other bytes: $(grep -c "^GET /blobs/sha256/$world_hex" "$T/evil.log") requests"

# Parts from elsewhere: too long, or complete but wrong, start over.
start_evil normal "$T/repo"
fresh_dest; mkdir -p -m 700 "$T/dest/.bootdrop/tmp"
head -c $(( 3 * 1024 * 1024 )) /dev/zero >"$part"
expect_status 0 ".part longer than the blob" fetch -d "$T/dest" "$url"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok ".part too long: intact" || fail ".part too long: differs"
fresh_dest; mkdir -p -m 700 "$T/dest/.bootdrop/tmp"
head -c "$(stat -c %s "$T/world.tgz")" /dev/zero >"$part"
expect_status 0 "complete .part with other bytes" fetch -d "$T/dest" "$url"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "wrong .part: intact" || fail "wrong .part: differs"
# A verified .part is not downloaded again.
fresh_dest; mkdir -p -m 700 "$T/dest/.bootdrop/tmp"
cp "$T/world.tgz" "$part"
: >"$T/evil.log"
expect_status 0 "complete verified .part" fetch -d "$T/dest" "$url"
grep -q "$world_hex" "$T/evil.log" && fail "verified .part downloaded again" ||
	ok "verified .part not downloaded again"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# SIGKILL mid-download (slow server), then a rerun resumes and installs.
fresh_dest
start_evil slow "$T/repo" slow
# "$FETCH" itself, not the fetch function: SIGKILL must reach the program.
"$FETCH" -P "$PUBKEY" -c "$CH" -q -d "$T/dest" "$url" >/dev/null 2>&1 &
fpid=$!
half=$(( $(stat -c %s "$T/kernel") / 2 ))
for _ in $(seq 400); do
	[ -f "$kpart" ] && [ "$(stat -c %s "$kpart")" -ge "$half" ] && break
	sleep 0.05
done
kill -KILL "$fpid"; wait "$fpid" 2>/dev/null
have=$(stat -c %s "$kpart" 2>/dev/null || echo 0)
[ "$have" -ge "$half" ] && ok "killed with $have bytes in the .part" || fail "no partial download before SIGKILL"
[ ! -e "$T/dest/world.tgz" ] && [ "$(cat "$T/dest/boot/kernel")" = old ] &&
	[ -z "$(ls "$T/dest/.bootdrop" | grep -v '^tmp$')" ] &&
	ok "nothing installed by the killed run" || fail "killed run changed DESTDIR"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
start_evil normal "$T/repo" after
expect_status 0 "rerun after SIGKILL" fetch -d "$T/dest" "$url"
grep -q "^GET /blobs/sha256/$kernel_hex range=bytes=$have-$" "$T/after.log" &&
	ok "rerun asked for bytes=$have-" || fail "rerun did not resume: $(cat "$T/after.log")"
cmp -s "$T/dest/boot/kernel" "$T/kernel" && cmp -s "$T/dest/world.tgz" "$T/world.tgz" &&
	ok "installed after SIGKILL" || fail "files differ after SIGKILL"

finish
