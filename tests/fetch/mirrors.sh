#!/bin/bash
# Every mirror at once: a world larger than SEGMENT_MIN_BYTES (8 MiB) comes
# in ranges from three mirrors and assembles byte for byte; a mirror that
# dies, stalls, ignores Range or serves corrupted bytes costs nothing but
# its share (the corrupting one is named); a parallel download killed
# with SIGKILL resumes what it had written.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

make_world "$T/world.tgz" 20
make_repo "$T/repo"
world_hex=$(sha256sum "$T/world.tgz" | cut -d' ' -f1)
world_size=$(stat -c %s "$T/world.tgz")
part=$T/dest/.bootdrop/tmp/$world_hex.part
mpids=()


# world_requests LOG : the Range values asked of one mirror for the world.
world_requests() {
	sed -n "s|^GET /blobs/sha256/$world_hex range=||p" "$1"
}

# verified_mirrors : "bytes bytes bytes" per mirror from the world's
# verified event in $T/last.out (--json).
verified_mirrors() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "verified" and e.get("name") == "world":
        print(" ".join(str(m["bytes"]) for m in e["mirrors"]))
        print(e["resumed"])
' "$T/last.out"
}

installed() {
	cmp -s "$T/dest/world.tgz" "$T/world.tgz" && cmp -s "$T/dest/boot/kernel" "$T/kernel" &&
		ok "$1: installed byte for byte" || fail "$1: installed files differ"
	[ ! -e "$T/dest/.bootdrop/tmp" ] && ok "$1: no part left" || fail "$1: parts left"
}

# Three good mirrors share the work.
fresh_dest
mirrors normal normal normal
expect_status 0 "three mirrors" fetch --json -d "$T/dest" "${m[@]}"
installed "three mirrors"
{ read -r b0 b1 b2; read -r _; } < <(verified_mirrors)
[ "${b0:-0}" -gt 0 ] && [ "${b1:-0}" -gt 0 ] && [ "${b2:-0}" -gt 0 ] &&
	ok "three mirrors: each sent part of the world ($b0 $b1 $b2)" ||
	fail "three mirrors: per-mirror bytes $b0 $b1 $b2"
[ $(( b0 + b1 + b2 )) -eq "$world_size" ] && ok "three mirrors: no byte fetched twice" ||
	fail "three mirrors: $(( b0 + b1 + b2 )) bytes for $world_size"
for i in 0 1 2; do
	world_requests "$T/m$i.log" | grep -Eq '^bytes=[0-9]+-[0-9]*$' &&
		ok "mirror $i asked for a range" || fail "mirror $i: $(world_requests "$T/m$i.log")"
done
fresh_dest
expect_status 0 "-v" fetch -v -d "$T/dest" "${m[@]}"
for i in 0 1 2; do
	grep -Eq "^  world: [0-9.]+ [KM]iB from ${m[$i]}\$" "$T/last.out" &&
		ok "-v: says what mirror $i sent" || fail "-v: nothing about mirror $i: $(cat "$T/last.out")"
done
stop_mirrors

# One dies after 3 MB: the others take what it had left.
fresh_dest
mirrors normal normal:--die-after,3000000 normal
expect_status 0 "a mirror dies mid-way" fetch --json -d "$T/dest" "${m[@]}"
installed "mirror dies"
kill -0 "${mpids[1]}" 2>/dev/null && fail "the dying mirror is still up" || ok "the dying mirror died"
stop_mirrors

# One flips a byte in its first range: found by the hash, refetched from
# the others, named.
fresh_dest
mirrors normal normal:--corrupt-once normal
expect_status 0 "a mirror corrupts one range" fetch --json -d "$T/dest" "${m[@]}"
installed "corrupt range"
grep -F "\"event\":\"mirror\"" "$T/last.out" | grep -qF "\"url\":\"${m[1]}\"" &&
	ok "corrupt range: the mirror is named (json)" || fail "corrupt range: not named: $(cat "$T/last.out")"
grep -F "\"event\":\"mirror\"" "$T/last.out" | grep -vqF "${m[1]}" &&
	fail "corrupt range: an honest mirror was named" || ok "corrupt range: no honest mirror named"
expect_err "warning: mirror ${m[1]} excluded for world" "corrupt range: warning names it"
stop_mirrors
fresh_dest
mirrors normal:--corrupt-once normal
expect_status 0 "two mirrors, the first corrupts" fetch -d "$T/dest" "${m[@]}"
installed "two mirrors, corrupt first"
expect_err "warning: mirror ${m[0]} excluded" "two mirrors: the first is named"
grep -q "${m[1]}" "$T/last.err" && fail "two mirrors: the honest one named" ||
	ok "two mirrors: the honest one not named"
stop_mirrors

# One stalls after 1 MB of its first range: that range moves.
fresh_dest
mirrors normal normal:--stall-after,1000000 normal
expect_status 0 "a mirror stalls" fetch -d "$T/dest" "${m[@]}"
installed "stalled mirror"
first=$(world_requests "$T/m1.log" | head -n 1)
s=${first#bytes=}; s=${s%-*}; e=${first##*-}; [ -n "$e" ] || e=$world_size
moved=no
for r in $(world_requests "$T/m0.log") $(world_requests "$T/m2.log"); do
	x=${r#bytes=}; x=${x%-*}
	[ "$x" -gt "$s" ] && [ "$x" -le "$e" ] && moved=yes
done
[ "$moved" = yes ] && ok "stalled mirror: its range ($first) went to another" ||
	fail "stalled mirror: nobody took over $first"
stop_mirrors

# One ignores Range: it is never asked for a range again.
fresh_dest
mirrors normal norange normal
expect_status 0 "a mirror without Range" fetch -d "$T/dest" "${m[@]}"
installed "no Range"
[ "$(world_requests "$T/m1.log" | wc -l)" -eq 1 ] && ok "no Range: asked once, then left out" ||
	fail "no Range: $(world_requests "$T/m1.log" | tr '\n' ' ')"
stop_mirrors
# Only mirrors without Range: one does the whole file.
fresh_dest
mirrors norange norange
expect_status 0 "only mirrors without Range" fetch -d "$T/dest" "${m[@]}"
installed "only no Range"
cat "$T/m0.log" "$T/m1.log" | grep -q "^GET /blobs/sha256/$world_hex range=-$" &&
	ok "only no Range: the whole file from one" || fail "only no Range: no whole-file request"
stop_mirrors

# Killed mid-way: what the trailer records is kept, the rest is asked for.
fresh_dest
mirrors normal:--rate,2000000 normal:--rate,2000000 normal:--rate,2000000
"$FETCH" -P "$PUBKEY" -c "$CH" -q -d "$T/dest" "${m[@]}" >/dev/null 2>&1 &
fpid=$!
recorded() {
	python3 - "$part" "$world_size" <<'PY'
import struct, sys
p, size = sys.argv[1], int(sys.argv[2])
try:
    d = open(p, "rb").read()
except OSError:
    print(0); sys.exit()
t = d[size:]
if len(t) < 24 or t[:8] != b"BDPART01":
    print(0); sys.exit()
n = struct.unpack("<Q", t[16:24])[0]
print(sum(struct.unpack("<QQ", t[24 + 16 * i:40 + 16 * i])[1] -
          struct.unpack("<QQ", t[24 + 16 * i:40 + 16 * i])[0] for i in range(n)))
PY
}
for _ in $(seq 300); do
	[ "$(recorded)" -ge $((4 << 20)) ] && break
	sleep 0.05
done
kill -KILL "$fpid"; wait "$fpid" 2>/dev/null
kept=$(recorded)
[ "$kept" -ge $((4 << 20)) ] && [ "$kept" -lt "$world_size" ] &&
	ok "killed with $kept bytes recorded in the part's trailer" || fail "killed: $kept bytes recorded"
stop_mirrors
mirrors normal normal normal
expect_status 0 "rerun after SIGKILL" fetch --json -d "$T/dest" "${m[@]}"
installed "rerun after SIGKILL"
resumed=$(verified_mirrors | tail -n 1)
[ "$resumed" -ge "$kept" ] && ok "rerun kept the $kept recorded bytes" || fail "rerun resumed $resumed of $kept"
{ read -r b0 b1 b2; read -r _; } < <(verified_mirrors)
asked=$(( b0 + b1 + b2 ))
[ "$asked" -le $(( world_size - kept )) ] && ok "rerun fetched only the missing bytes ($asked)" ||
	fail "rerun fetched $asked bytes, $(( world_size - kept )) were missing"
stop_mirrors

# A trailer is believed only as far as the hash: one that claims every
# range over a part of zeros, and one whose checksum is wrong, both end in
# a clean download.
mirrors normal normal
for lie in claims-all bad-sum; do
	fresh_dest; mkdir -p -m 700 "$T/dest/.bootdrop/tmp"
	python3 - "$part" "$world_size" "$lie" <<'PY'
import hashlib, struct, sys
p, size, lie = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = b"BDPART01" + struct.pack("<QQ", size, 1) + struct.pack("<QQ", 0, size)
t += bytes(8 + 8 + 8 + 64 * 16 - len(t))
t += hashlib.sha256(t).digest()
if lie == "bad-sum":
    t = t[:-1] + bytes([t[-1] ^ 1])
with open(p, "wb") as f:
    f.write(bytes(size) + t)
PY
	expect_status 0 "trailer that $lie" fetch -d "$T/dest" "${m[@]}"
	installed "trailer that $lie"
	if [ "$lie" = claims-all ]; then
		grep -q "world: resuming: .* ($world_size bytes) kept" "$T/last.out" &&
			ok "claims-all: read, then refused by the hash" || fail "claims-all: trailer not read"
	else
		grep -q "world: resuming" "$T/last.out" && fail "bad-sum: trailer believed" ||
			ok "bad-sum: trailer not believed"
	fi
done
stop_mirrors

# Every mirror serves the same wrong bytes: each is tried alone, each is
# refused, nothing is installed.
fresh_dest; snapshot
mirrors tamper tamper
expect_status 3 "every mirror tampered" fetch -d "$T/dest" "${m[@]}"
expect_err "sha256 mismatch" "every mirror tampered: refused by the hash"
[ "$(cat "$T/dest/boot/kernel")" = old ] && [ ! -e "$T/dest/world.tgz" ] &&
	ok "every mirror tampered: nothing installed" || fail "every mirror tampered: something installed"
stop_mirrors

finish
