#!/bin/bash
# Messages that name the way out (issue 21): an expired manifest names this
# machine's clock and --allow-expired; a key that never signed the channel
# is named beside the keys that did; a rotation followed by a guest is one
# line (and a JSON "keys" event).
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

K=$TESTDATA/keys
A=$TEST_SEC B=$K/minisign.key
A_ID=$(python3 -c 'import base64,sys; print(base64.b64decode(open(sys.argv[1]).read().split()[-1])[2:10][::-1].hex().upper())' "$TEST_PUB")
B_PUB=$(tail -n 1 "$K/minisign.pub") B_ID=3B9186251985061D
stop() { kill "$evil_pid"; wait "$evil_pid" 2>/dev/null; }

make_repo "$T/r" -e 1d
start_evil normal "$T/r"

# An expired manifest: the clock it was judged by, and the option.
later=2031-05-06T07:08:09Z
fresh_dest
expect_status 3 "expired manifest refused" fetch -d "$T/dest" --now "$later" "$url"
expect_err "expired at [0-9T:-]+Z; this machine's clock says $later" "the machine's clock is named"
expect_err "pass --allow-expired" "the override is named"

# -P of a key that never signed the channel: both sides named.
fresh_dest
expect_status 3 "a key that never signed" "$FETCH" -P "$B_PUB" -c "$CH" -d "$T/dest" "$url"
expect_err "version 1: signed by $A_ID; no trusted key \(trusted: $B_ID\)" "the signer and the trusted key are named"

# A rotation followed: first directly (version 2 signed by old and new
# keys), then through the walk (the slice is at 2, newest is 4).
fresh_dest
fetch -d "$T/dest" "$url" >/dev/null || fail "bootstrap at version 1"
"$PUBLISH" rotate -r "$T/r" -c "$CH" -s "$A" -s "$B" --keys "$B_PUB" >/dev/null || fail "rotate"
expect_status 0 "a direct rotation accepted" fetch -d "$T/dest" "$url"
grep -q "^keys changed at version 2: $B_ID (threshold 1), before $A_ID (threshold 1)$" "$T/last.out" &&
	ok "the rotation is one line" || fail "no rotation line: $(cat "$T/last.out")"
"$PUBLISH" rotate -r "$T/r" -c "$CH" -s "$B" -s "$A" --keys "$TEST_PUB" >/dev/null || fail "rotate back"
"$PUBLISH" refresh -r "$T/r" -c "$CH" -s "$A" >/dev/null || fail "refresh"
expect_status 0 "a rotation inside a walk, --json" "$FETCH" -c "$CH" -d "$T/dest" --json "$url"
python3 - "$T/last.out" "$A_ID" "$B_ID" <<'PY' && ok "one JSON keys event, version 3, B to A" || fail "keys events: $(grep keys "$T/last.out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
keys = [e for e in ev if e.get("event") == "keys"]
assert len(keys) == 1, keys
k = keys[0]
assert k["version"] == 3 and k["after"] == [sys.argv[2]] and k["before"] == [sys.argv[3]], k
assert k["after_threshold"] == 1 and k["before_threshold"] == 1, k
PY
expect_status 0 "no rotation: no keys line" fetch -d "$T/dest" "$url"
grep -q "keys changed" "$T/last.out" && fail "keys line without a rotation" || ok "no keys line when nothing rotated"
stop

# Ctrl-C while downloading: one line saying what is kept and what to do;
# the next run resumes and says how much it kept, in MiB.
rm -rf "$T/big"; rm -f "$T/world.tgz"; make_world "$T/world.tgz" 4; make_repo "$T/big"
start_evil normal "$T/big" big --rate 1000000
# (job control on: a background job's SIGINT is then not ignored)
set -m
for sig in INT TERM HUP; do
	fresh_dest
	"$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url" >"$T/int.out" 2>"$T/int.err" &
	pid=$!
	for _ in $(seq 200); do
		p=$(find "$T/dest/.bootdrop/tmp" -name '*.part' -size +1024k 2>/dev/null | head -n 1)
		[ -n "$p" ] && break
		sleep 0.05
	done
	kill -$sig "$pid"; wait "$pid"; st=$?
	expect_eq "$st" "$((128 + $(kill -l $sig)))" "SIG$sig ends the run by the signal"
	grep -Eq "^bootdrop-fetch: interrupted; run again to resume \([0-9]+\.[0-9] MiB kept\)$" "$T/int.err" &&
		ok "SIG$sig: what is kept is said" || fail "SIG$sig message: $(cat "$T/int.err")"
done
set +m
expect_status 0 "the next run resumes" fetch -d "$T/dest" "$url"
grep -Eq "world: resuming: [0-9.]+ MiB \([0-9]+ bytes\) kept from an earlier run" "$T/last.out" &&
	ok "resume told in MiB" || fail "resume message: $(cat "$T/last.out")"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "resumed world installed" || fail "world differs"
# nohup's ignored SIGHUP stays ignored.
fresh_dest
nohup "$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url" >"$T/int.out" 2>"$T/int.err" &
pid=$!
for _ in $(seq 200); do
	[ -n "$(find "$T/dest/.bootdrop/tmp" -name '*.part' -size +1024k 2>/dev/null)" ] && break
	sleep 0.05
done
kill -HUP "$pid"; wait "$pid"; st=$?
expect_eq "$st" 0 "under nohup, SIGHUP is ignored and the run completes"
fresh_dest
"$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" --json "$url" >"$T/int.out" 2>"$T/int.err" &
pid=$!
for _ in $(seq 200); do
	[ -n "$(find "$T/dest/.bootdrop/tmp" -name '*.part' -size +1024k 2>/dev/null)" ] && break
	sleep 0.05
done
kill -TERM "$pid"; wait "$pid"
python3 - "$T/int.out" <<'PY' && ok "--json: an interrupted event with kept_bytes" || fail "json: $(tail -n 2 "$T/int.out")"
import json, sys
last = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert last["event"] == "interrupted" and last["kept_bytes"] >= 1 << 20, last
PY
stop
finish
