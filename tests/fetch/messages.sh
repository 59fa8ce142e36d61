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
# (env --default-signal: the suite itself may run under nohup, whose
# ignored SIGHUP the client would rightly keep)
for sig in INT TERM HUP; do
	fresh_dest
	env --default-signal=HUP "$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url" >"$T/int.out" 2>"$T/int.err" &
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

# --json results: "status" is the exit status, "outcome" what happened.
# json_result FILE KEY : a field of the last "result" event.
json_result() {
	python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]; assert r["event"] == "result"; print(r.get(sys.argv[2]))' "$1" "$2"
}
rm -rf "$T/j"; rm -f "$T/world.tgz"; make_repo "$T/j"
start_evil normal "$T/j" j
fresh_dest
expect_status 100 "--check --json with an update available" fetch -d "$T/dest" --check --json "$url"
expect_eq "$(json_result "$T/last.out" status)" 100 "--check --json: result status is the exit status"
expect_eq "$(json_result "$T/last.out" outcome)" update-available "--check --json: outcome update-available"
expect_status 0 "--json install" fetch -d "$T/dest" --json "$url"
expect_eq "$(json_result "$T/last.out" outcome)" installed "--json: outcome installed"
expect_eq "$(json_result "$T/last.out" status)" 0 "--json: status 0"
expect_status 0 "--json again" fetch -d "$T/dest" --json "$url"
expect_eq "$(json_result "$T/last.out" outcome)" up-to-date "--json: outcome up-to-date"
expect_status 0 "--check --json up to date" fetch -d "$T/dest" --check --json "$url"
expect_eq "$(json_result "$T/last.out" outcome)" up-to-date "--check --json: outcome up-to-date"
expect_status 3 "--json refusal" fetch -d "$T/dest" --json --now 2031-01-01T00:00:00Z "$url"
expect_eq "$(json_result "$T/last.out" status)" 3 "--json refusal: status 3"
j_url=$url

# --audit: a mirror behind the other is a warning and a JSON field; the
# exit statuses --help gives are the man page's.
rm -rf "$T/lag"; cp -a "$T/j" "$T/lag"
"$PUBLISH" refresh -r "$T/j" -c "$CH" -s "$TEST_SEC" >/dev/null || fail "refresh"
start_evil normal "$T/lag" lag
expect_status 0 "audit: a mirror behind is not an error" fetch --audit "$j_url" "$url"
expect_err "warning: $url is behind: its newest version is 1, another mirror has 2" "the lagging mirror is named"
expect_status 0 "audit --json with a mirror behind" fetch --audit --json "$j_url" "$url"
python3 - "$T/last.out" "$url" <<'PY' && ok "audit --json: behind lists the mirror" || fail "audit json: $(tail -n 1 "$T/last.out")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
assert r["event"] == "result" and r["status"] == 0 and r["newest"] == 2, r
assert r["behind"] == [{"mirror": sys.argv[2], "newest": 1}], r
PY
"$FETCH" --help >"$T/help" 2>&1
grep -A4 -- "--audit  " "$T/help" | tr -s ' \n' ' ' | grep -q "exit 0 valid and agreeing.* 2 a mirror unreachable; 3 a broken link, missing version or fork" &&
	ok "--help: --audit's exit statuses" || fail "--help --audit: $(grep -A3 -- --audit "$T/help")"
man_text=$(MANWIDTH=200 man -l "$BOOTDROP_SRCDIR/doc/bootdrop-fetch.8" 2>/dev/null | tr -s ' \n' ' ')
if [ -n "$man_text" ]; then
	grep -q "Exit 0: every chain is valid and the mirrors agree on every version they share; 3: a broken link, a missing version, or a fork" <<<"$man_text" &&
		grep -q "2: a mirror could not be reached" <<<"$man_text" &&
		ok "the man page tells --audit's statuses as --help does" || fail "man page --audit statuses"
	grep -q -- "--check .*Exits 0 when the slice is up to date and 100 when an update is available" <<<"$man_text" &&
		grep -A1 -- "--check  " "$T/help" | tr -s ' \n' ' ' | grep -q "exit 0 up to date, 100 update available" &&
		ok "--check's statuses in both" || fail "--check statuses"
else
	fail "man could not render doc/bootdrop-fetch.8"
fi
finish
