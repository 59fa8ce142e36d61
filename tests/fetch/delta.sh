#!/bin/bash
# Delta downloads (DESIGN.md, "Moving only what changed"): a guest holding
# version 1 installs version 2 of a chunked world from its installed file
# and Range requests on the chunk pack; each chunk is checked on arrival
# (a lying mirror is named, its chunks fetched elsewhere); anything wrong
# with index, pack or mirror downloads the artifact whole, as before; a
# delta cut short keeps its verified chunks; an altered seed only costs its
# chunks; an artifact growing (insertions) and shrinking.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

chunked_worlds


# Range requests in flight per mirror, as client/rangefetch.h says.
PER_MIRROR=$(sed -n 's/^#define RF_PER_MIRROR[[:space:]]*\([0-9]*\).*/\1/p' \
	"$BOOTDROP_SRCDIR/client/rangefetch.h")
[ -n "$PER_MIRROR" ] || { echo "no RF_PER_MIRROR in client/rangefetch.h"; exit 1; }

# v1_dest : a DESTDIR holding version 1, installed from repo1.
v1_dest() {
	fresh_dest
	serve "$T/repo1"
	expect_status 0 "install version 1" fetch -d "$T/dest" "$url" >/dev/null
	stop_servers
}

# installed_v2 DESC : version 2's world is on the slice, and nothing is left.
installed_v2() {
	cmp -s "$T/dest/world.txt" "$T/v2/world.txt" && ok "$1: version 2's world installed" ||
		fail "$1: world differs from version 2's"
	[ ! -e "$T/dest/.bootdrop/tmp" ] && ok "$1: no temporary files left" ||
		fail "$1: .bootdrop/tmp left behind"
}

# --- a second version moves far fewer bytes than the artifact
v1_dest
: > "$T/server.log"
serve "$T/repo"
expect_status 0 "install version 2 by chunks" fetch -v -d "$T/dest" "$url"
grep -Eq "^world: .* reused from the installed version, .* fetched by chunks \([0-9]+ requests\) instead of" \
	"$T/last.out" && ok "the run says what was reused and fetched" ||
	fail "no delta line: $(cat "$T/last.out")"
grep -Eq "^  $url: .* of chunk pack" "$T/last.out" && ok "-v names the pack bytes per mirror" ||
	fail "-v: no bytes per mirror"
installed_v2 "delta"
stop_servers
delta_moved
[ "$full" -gt 1 ] && ok "$full pack ranges answered 206" || fail "$full Range requests on the pack"

# --- on a terminal the bar says how much the installed version gave
v1_dest
serve "$T/repo"
python3 "$FETCHDIR/pty_run.py" 100 0 "$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url" \
	>"$T/pty.out"
[ $? -eq 0 ] && cmp -s "$T/dest/world.txt" "$T/v2/world.txt" && ok "delta on a terminal" ||
	fail "delta on a terminal: $(cat "$T/pty.out")"
grep -Eaq "world +100% [0-9.]+ [KM]iB / [0-9.]+ [KM]iB \([0-9.]+ [KM]iB reused\)" "$T/pty.out" &&
	ok "the bar shows the bytes reused from the installed version" ||
	fail "no reused bytes on the bar: $(tr '\r' '\n' <"$T/pty.out" | grep -a '%' | tail -n 2)"
stop_servers

# --- a mirror lying about the pack's bytes is named; the chunks come from another
v1_dest
start_evil rangelie "$T/repo" liar
liar=$url
serve "$T/repo"
expect_status 0 "a lying pack mirror first, an honest one second" \
	fetch -d "$T/dest" "$liar" "$url"
expect_err "warning: .*$liar.*chunk [0-9]+ of pack .* refused: (sha256 mismatch|malformed input)" \
	"the lying mirror is named with the chunk it lied about"
grep -q "reused from the installed version" "$T/last.out" &&
	ok "the artifact still came by chunks" || fail "the lie forced a whole download"
installed_v2 "lying mirror"
# up to RF_PER_MIRROR ranges go to a mirror at once: the liar gets no
# more than those it had in flight when its first lie was caught
asked=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/liar.log")
[ "$asked" -ge 1 ] && [ "$asked" -le "$PER_MIRROR" ] && [ "$full" -gt "$asked" ] &&
	ok "the liar was asked for $asked of $full ranges (those in flight), then dropped" ||
	fail "the liar got $asked pack requests of $full"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
stop_servers

# --- several ranges in flight to one mirror: the server counts the
# requests it is answering at once (each range, about 1 kB, at 20 kB/s
# takes a while)
v1_dest
start_evil normal "$T/repo" counting --log-active --rate 20000
expect_status 0 "one mirror, ranges at 20 kB/s" fetch -d "$T/dest" "$url"
installed_v2 "ranges in flight"
most=$(grep "^GET /blobs/sha256/$pack2 " "$T/counting.log" |
	sed -n 's/.* active=\([0-9]*\)$/\1/p' | sort -n | tail -n 1)
[ "${most:-0}" -ge 2 ] && [ "$most" -le "$PER_MIRROR" ] &&
	ok "up to $most pack ranges in flight to one mirror at once" ||
	fail "at most ${most:-0} pack ranges in flight to one mirror"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# --- two mirrors both serve pack ranges
for spec in "normal normal"; do
	v1_dest
	mirrors $spec
	expect_status 0 "two mirrors ($spec)" fetch -d "$T/dest" "${m[@]}"
	grep -q "reused from the installed version" "$T/last.out" &&
		ok "$spec: by chunks" || fail "$spec: not by chunks: $(cat "$T/last.err")"
	installed_v2 "two mirrors ($spec)"
	n0=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/m0.log")
	n1=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/m1.log")
	[ "$n0" -ge 1 ] && [ "$n1" -ge 1 ] && [ $((n0 + n1)) -eq "$full" ] &&
		ok "$spec: both mirrors served pack ranges ($n0 and $n1 of $full)" ||
		fail "$spec: pack ranges per mirror $n0 and $n1, $full in all"
	stop_mirrors
done

# --- a slow mirror takes fewer: with more ranges than both mirrors' slots
# (an insertion every 50 kB), the fast one frees its slots sooner.  In
# $T/many, so that the worlds above stay as they are.
T0=$T
saved=("$blobs" "$index2" "$pack2" "$world2" "$size2")
T=$T0/many
mkdir -p "$T"
chunked_worlds 50000
v1_dest
mirrors normal:--rate,5000 normal
expect_status 0 "a slow and a fast mirror, many ranges" fetch -d "$T/dest" "${m[@]}"
installed_v2 "a slow and a fast mirror"
n0=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/m0.log")
n1=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/m1.log")
[ "$n1" -gt "$n0" ] && [ $((n0 + n1)) -gt $((2 * PER_MIRROR)) ] &&
	ok "the faster mirror took more ranges ($n1 to $n0)" ||
	fail "the slow mirror took $n0 ranges, the fast one $n1"
stop_mirrors
T=$T0
blobs=${saved[0]} index2=${saved[1]} pack2=${saved[2]} world2=${saved[3]} size2=${saved[4]}

# --- a mirror without Range: the world downloads whole, as before
v1_dest
start_evil norange "$T/repo" norange
expect_status 0 "a mirror without Range support" fetch -d "$T/dest" "$url"
expect_err "world: downloaded whole, not by chunks: .*HTTP status 200 to a Range request" \
	"the run says why the world came whole"
grep -q "^GET /blobs/sha256/$world2 range=-" "$T/norange.log" &&
	ok "the world's blob was fetched whole" || fail "no whole download"
installed_v2 "no Range"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# --- the pack missing, the index truncated or altered: whole downloads
for damage in "pack missing" "index truncated" "index altered"; do
	v1_dest
	rm -rf "$T/repo-bad"; cp -a "$T/repo" "$T/repo-bad"
	case $damage in
	"pack missing") rm "$T/repo-bad/blobs/sha256/$pack2" ;;
	"index truncated") truncate -s 100 "$T/repo-bad/blobs/sha256/$index2" ;;
	"index altered") printf 'X' | dd of="$T/repo-bad/blobs/sha256/$index2" bs=1 seek=300 \
		conv=notrunc status=none ;;
	esac
	: > "$T/server.log"
	serve "$T/repo-bad"
	expect_status 0 "$damage: installs" fetch -d "$T/dest" "$url"
	expect_err "world: downloaded whole, not by chunks" "$damage: the run says the world came whole"
	if [ "$damage" = "pack missing" ]; then
		# the chunks copied from the seed before the pack was found
		# missing are kept for the whole download, which resumes them
		# with Range requests on the world's blob
		wbytes=$(grep "GET /blobs/sha256/$world2 .* 206 " "$T/server.log" |
			awk '{ s += $10 } END { print s + 0 }')
		[ "$wbytes" -gt 0 ] && [ "$wbytes" -lt $((size2 / 4)) ] &&
			! grep -q "GET /blobs/sha256/$world2 .* 200 " "$T/server.log" &&
			ok "$damage: the whole download resumed the seed's chunks ($wbytes bytes of the blob)" ||
			fail "$damage: the whole download did not resume the seed's chunks ($wbytes bytes in 206s)"
	else
		grep -q "GET /blobs/sha256/$world2 .* 200 " "$T/server.log" &&
			ok "$damage: the world's blob was fetched whole" ||
			fail "$damage: no whole download"
	fi
	installed_v2 "$damage"
	stop_servers
done

# --- a seed altered on the slice: its chunks are fetched instead
v1_dest
printf 'ALTERED' | dd of="$T/dest/world.txt" bs=1 seek=1000000 conv=notrunc status=none
serve "$T/repo"
expect_status 0 "an altered seed (--json)" fetch --json -d "$T/dest" "$url"
python3 -c 'import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
d = [e for e in ev if e.get("event") == "delta"]
assert len(d) == 1 and d[0]["name"] == "world", d
assert 0 < d[0]["fetched"] < d[0]["size"] // 4 and d[0]["reused"] > d[0]["size"] // 2, d
' "$T/last.out" && ok "altered seed: still by chunks; --json has a delta event with reused and fetched bytes" ||
	fail "altered seed: no delta event: $(cat "$T/last.out")"
installed_v2 "altered seed"
stop_servers

# --- a delta cut short keeps its verified chunks; the rerun reuses them
v1_dest
index1=$("$PUBLISH" show -r "$T/repo1" -c $CH | awk '$1 == "chunks" { print $2 }')
isz=$(( $(stat -c %s "$blobs/$index2") + $(stat -c %s "$blobs/$index1") ))
# the server dies after both indexes and half the pack ranges (the kernel,
# installed already byte for byte, is not downloaded)
start_evil normal "$T/repo" dying --die-after $((isz + rbytes / 2))
expect_status 2 "the only mirror dies in the middle of the delta" fetch -d "$T/dest" "$url"
part=$T/dest/.bootdrop/tmp/$world2.part
[ -s "$part" ] && ok "the part file is kept" || fail "no part kept"
cmp -s "$T/dest/world.txt" "$T/world.txt" && ok "version 1's world is untouched" ||
	fail "version 1's world changed"
kill "$evil_pid" 2>/dev/null; wait "$evil_pid" 2>/dev/null
# no unverified byte is trusted: a kept chunk altered in the part is fetched again
head -c 4096 /dev/zero | dd of="$part" bs=1 seek=100000 conv=notrunc status=none
start_evil normal "$T/repo" second
expect_status 0 "rerun after the cut" fetch -d "$T/dest" "$url"
grep -q "reused from the installed version" "$T/last.out" &&
	ok "rerun: by chunks, the altered bytes of the part caught chunk by chunk" ||
	fail "rerun: not by chunks: $(cat "$T/last.err")"
installed_v2 "rerun"
got=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/second.log")
first=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/dying.log")
[ "$first" -gt 1 ] && [ "$got" -lt "$full" ] &&
	ok "the rerun asked for $got pack ranges of $full, the cut run had received $((first - 1))" ||
	fail "rerun: $got pack requests, cut run $first, a full delta $full"
kill "$evil_pid" 2>/dev/null; wait "$evil_pid" 2>/dev/null

# --- a mirror dying in the middle of the ranges: the other serves the rest
v1_dest
mirrors "normal:--die-after,$((isz + rbytes / 3))" normal
expect_status 0 "the first of two mirrors dies in the middle of the delta" \
	fetch -d "$T/dest" "${m[@]}"
grep -q "reused from the installed version" "$T/last.out" &&
	ok "a mirror died: still by chunks" || fail "a mirror died: not by chunks: $(cat "$T/last.err")"
installed_v2 "a mirror died"
n0=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/m0.log")
n1=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/m1.log")
[ "$n0" -ge 1 ] && [ "$n1" -ge 1 ] && [ $((n0 + n1)) -ge "$full" ] &&
	ok "the dead mirror's ranges went to the other ($n0 asked of it, $n1 of the other, $full in all)" ||
	fail "a mirror died: pack ranges $n0 and $n1 of $full"
stop_mirrors

# One part file serves both ways of downloading (doc/chunks.md): what one
# way verified or wrote is resumed by the other.
rm -rf "$T/repo-nopack"; cp -a "$T/repo" "$T/repo-nopack"
rm "$T/repo-nopack/blobs/sha256/$pack2"
# world_bytes LOG : body bytes of the world's blob in a server's log.
world_bytes() {
	grep "GET /blobs/sha256/$world2 " "$1" | awk '{ s += $10 } END { print s + 0 }'
}

# --- a whole download cut short (pack missing, a seed that shares nothing),
# then a delta that falls back again: the whole download resumes
v1_dest
head -c "$size2" /dev/urandom > "$T/dest/world.txt"
start_evil normal "$T/repo-nopack" dying --die-after $((isz + 8192 + size2 / 2))
expect_status 2 "pack missing, the mirror dies in the middle of the whole download" \
	fetch -d "$T/dest" "$url"
kill "$evil_pid" 2>/dev/null; wait "$evil_pid" 2>/dev/null
: > "$T/server.log"
serve "$T/repo-nopack"
expect_status 0 "rerun: a delta again, falling back again" fetch -d "$T/dest" "$url"
expect_err "world: downloaded whole, not by chunks" "rerun: the world came whole"
stop_servers
wb=$(world_bytes "$T/server.log")
[ "$wb" -gt 0 ] && [ "$wb" -lt $((size2 * 3 / 4)) ] &&
	ok "the whole download resumed: $wb bytes of the $size2-byte blob fetched on the rerun" ||
	fail "the whole download restarted: $wb bytes of the $size2-byte blob on the rerun"
installed_v2 "whole, cut, rerun"

# --- a delta killed (SIGKILL) once the seed is copied, then a whole
# download (the seed gone): it resumes the chunks the delta verified.  The
# ranges come at 2 kB/s each, so the kill lands while they are in flight
# (at 50 kB/s all of them, 8 at once, could be done before it).
v1_dest
start_evil normal "$T/repo" slow --rate 2000
fetch -d "$T/dest" "$url" >"$T/kill.out" 2>&1 &
fpid=$!
for i in $(seq 400); do
	grep -q "^GET /blobs/sha256/$pack2 " "$T/slow.log" && break
	sleep 0.05
done
kill -KILL "$fpid"; wait "$fpid" 2>/dev/null
kill -KILL "$evil_pid" 2>/dev/null; wait "$evil_pid" 2>/dev/null	# not its slow answers
grep -q "^GET /blobs/sha256/$pack2 " "$T/slow.log" && ok "killed during the pack ranges" ||
	fail "the delta never reached the pack"
rm "$T/dest/world.txt"
: > "$T/server.log"
serve "$T/repo"
expect_status 0 "rerun without a seed: a whole download" fetch -d "$T/dest" "$url"
stop_servers
wb=$(world_bytes "$T/server.log")
[ "$wb" -gt 0 ] && [ "$wb" -lt $((size2 / 4)) ] &&
	ok "the whole download resumed the delta's chunks: $wb bytes of $size2 fetched" ||
	fail "the whole download did not resume the delta's chunks: $wb bytes of $size2"
installed_v2 "delta killed, then whole"

# --- a part that is not a regular file: refused (exit 4), never marked
v1_dest
mkdir -p -m 0700 "$T/dest/.bootdrop/tmp"
mkfifo "$T/dest/.bootdrop/tmp/$world2.part"
serve "$T/repo"
expect_status 4 "a FIFO as the part file is refused" fetch -d "$T/dest" "$url"
expect_err "$world2.part: not a regular file" "the run names the part"
stop_servers

# --- no state (a fresh slice): the world downloads whole, no word of chunks
fresh_dest
serve "$T/repo"
expect_status 0 "a fresh slice" fetch -d "$T/dest" "$url"
grep -q "chunks" "$T/last.out" "$T/last.err" && fail "a fresh slice talks of chunks" ||
	ok "a fresh slice downloads whole, silently"
installed_v2 "fresh slice"
stop_servers

# --- an artifact shrinking: version 3's world is the first 2.5 MB of version 2's
mkdir -p "$T/v3"
head -c 2500000 "$T/v2/world.txt" > "$T/v3/world.txt"
cp -a "$T/repo" "$T/repo3"
"$PUBLISH" release -r "$T/repo3" -c $CH -s "$TEST_SEC" kernel="$T/kernel" \
	world="$T/v3/world.txt" >/dev/null || fail "release v3"
serve "$T/repo3"
expect_status 0 "a shrunk world" fetch -d "$T/dest" "$url"
grep -q "world: .* reused from the installed version" "$T/last.out" &&
	ok "shrunk world: by chunks" || fail "shrunk world: not by chunks: $(cat "$T/last.err")"
cmp -s "$T/dest/world.txt" "$T/v3/world.txt" && ok "shrunk world: version 3's world installed" ||
	fail "shrunk world: world differs from version 3's"
stop_servers
finish
