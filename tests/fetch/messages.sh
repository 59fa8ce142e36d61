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
finish
