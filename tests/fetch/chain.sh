#!/bin/bash
# Trust that evolves, through bootdrop-fetch: the walk over versioned
# manifests, the state's keys as the trust, --reset-trust, and --audit.
# Every refusal is checked to leave DESTDIR (and a directory beside it)
# byte for byte unchanged.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
command -v minisign >/dev/null || { echo "minisign not installed"; exit 77; }

K=$TESTDATA/keys
A=$TEST_SEC B=$K/minisign.key C=$K/backup.key
A_PUB=$(tail -n 1 "$K/test.pub") B_PUB=$(tail -n 1 "$K/minisign.pub") C_PUB=$(tail -n 1 "$K/backup.pub")
B_ID=3B9186251985061D C_ID=60B7A6D32551EEFD
later=$(date -u -d '+10 days' +%Y-%m-%dT%H:%M:%SZ)
man() { echo "$1/channels/$CH/$2.json"; }

# psha ENV : the SHA-256 of an envelope's payload bytes.
psha() {
	python3 -c 'import base64,hashlib,json,sys; print(hashlib.sha256(base64.b64decode(json.load(open(sys.argv[1]))["payload"])).hexdigest())' "$1"
}
# next_of ENV KEYS OUT [EDITS...] : ENV's payload as the next version
# (version + 1, prev = its hash), changed by EDITS, signed by KEYS.
next_of() {
	local env=$1 keys=$2 out=$3 v; shift 3
	v=$(python3 -c 'import base64,json,sys; print(json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["version"])' "$env")
	python3 "$CRAFT" resign "$env" "$keys" "$out" --set "version=$((v + 1))" \
		--set "prev=\"$(psha "$env")\"" "$@" || fail "craft $out"
}
keys_json() { local t=$1; shift; printf '{"threshold": %s, "pubkeys": [%s]}' "$t" "$(printf '"%s",' "$@" | sed 's/,$//')"; }
# install MANIFEST REPO : makes MANIFEST the newest (manifest.json and <n>.json).
install_newest() {
	local v
	v=$(python3 -c 'import base64,json,sys; print(json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["version"])' "$1")
	cp "$1" "$(man "$2" manifest)"; cp "$1" "$(man "$2" "$v")"
}
state_has() { grep -qx "$1" "$T/dest/.bootdrop/state/$CH"; }
stop() { kill "$evil_pid"; wait "$evil_pid" 2>/dev/null; }
# refused_here DESC STATUS REGEX ARGS... : a refusal that leaves DESTDIR
# as it was (the server at $url is already running).
refused_here() {
	local desc=$1 want=$2 re=$3; shift 3
	snapshot
	expect_status "$want" "$desc" "$@" && expect_err "$re" "$desc: message"
	unchanged "$desc"
}

# Repository r: version 1 by A (expires in a day), version 2 rotates to B
# and C (signed by A and B, expires in a day), version 3 a refresh by C.
make_repo "$T/r" -e 1d
"$PUBLISH" rotate -r "$T/r" -c "$CH" -s "$A" -s "$B" --keys "$B_PUB" --keys "$C_PUB" -e 1d >/dev/null ||
	fail "rotate"
"$PUBLISH" refresh -r "$T/r" -c "$CH" -s "$C" -e 90d >/dev/null || fail "refresh"

# 1. A guest bootstrapped with the rotated-away key A follows the chain;
# versions 1 and 2 have expired by then (judged at +10 days), 3 has not.
fresh_dest; start_evil normal "$T/r"
expect_status 0 "rotation followed from the old key (expired intermediates)" \
	fetch -d "$T/dest" --now "$later" "$url"
grep -q "following the chain of $CH from version 1 to 3" "$T/last.out" && ok "the walk is announced" ||
	fail "no walk message: $(cat "$T/last.out")"
state_has "version=3" && state_has "threshold=1" && state_has "key=$B_PUB" && state_has "key=$C_PUB" &&
	! state_has "key=$A_PUB" && ok "the state records version 3's keys" ||
	fail "state: $(cat "$T/dest/.bootdrop/state/$CH")"
grep -c "GET /channels/$CH/" "$T/evil.log" | grep -qx 3 && ok "3 manifest requests (manifest.json, 1.json, 2.json)" ||
	fail "requests: $(grep channels "$T/evil.log" | tr '\n' ' ')"
cmp -s "$T/dest/boot/kernel" "$T/kernel" && ok "kernel installed" || fail "kernel"
stop

# 2. The state's trust beats a stale -P, and needs no -P at all.
"$PUBLISH" release -f -r "$T/r" -c "$CH" -s "$C" -e 90d kernel="$T/kernel" world="$T/world.tgz" >/dev/null
fresh_dest; start_evil normal "$T/r"
fetch -d "$T/dest" --now "$later" "$url" >/dev/null 2>&1 || fail "bootstrap for the stale -P case"
"$PUBLISH" refresh -r "$T/r" -c "$CH" -s "$C" -e 90d >/dev/null
expect_status 0 "state trust beats a stale -P A" fetch -d "$T/dest" "$url"
expect_err "holds the trust: keys $B_ID $C_ID, threshold 1; the -P/-p/-t given differ" "a note says the state wins"
state_has "version=5" && ok "version 5 accepted directly under the state's keys" || fail "state not at 5"
expect_status 0 "no -P once the state holds keys" "$FETCH" -c "$CH" -d "$T/dest" "$url"
grep -q "up to date" "$T/last.out" && ok "up to date without -P" || fail "$(cat "$T/last.out")"
fresh_dest
expect_status 1 "no -P and no state: a usage error" "$FETCH" -c "$CH" -d "$T/dest" "$url"
expect_err "no trusted key" "no-trust message"
stop

# 3. A version signed only by the revoked key A is refused once the slice
# followed the rotation; --reset-trust -P A accepts it deliberately.
rm -rf "$T/rv"; cp -a "$T/r" "$T/rv"
next_of "$(man "$T/r" 5)" "$A" "$T/v6a.json" --set "keys=$(keys_json 1 "$A_PUB")"
install_newest "$T/v6a.json" "$T/rv"
fresh_dest; start_evil normal "$T/r"
fetch -d "$T/dest" --now "$later" "$url" >/dev/null 2>&1 || fail "follow to version 5"
stop; start_evil normal "$T/rv"
refused_here "revoked key refused after rotation" 3 "manifest refused.*untrusted key" \
	fetch -d "$T/dest" "$url"
expect_status 0 "--reset-trust -P A starts over deliberately" fetch --reset-trust -d "$T/dest" "$url"
state_has "version=6" && state_has "key=$A_PUB" && ok "state now trusts A at version 6" || fail "reset state"
stop

# 4. A rotation signed only by the old key, or only by the new, is refused.
rm -rf "$T/s"; make_repo "$T/s"
fresh_dest; start_evil normal "$T/s"
fetch -d "$T/dest" "$url" >/dev/null 2>&1 || fail "slice at s version 1"
v1=$(man "$T/s" 1)
next_of "$v1" "$A" "$T/s2old.json" --set "keys=$(keys_json 1 "$B_PUB" "$C_PUB")"
install_newest "$T/s2old.json" "$T/s"
refused_here "rotation signed only by the old key" 3 "of which 1 must sign it; 0 did" fetch -d "$T/dest" "$url"
next_of "$v1" "$B" "$T/s2new.json" --set "keys=$(keys_json 1 "$B_PUB" "$C_PUB")"
install_newest "$T/s2new.json" "$T/s"
refused_here "rotation signed only by the new key" 3 "untrusted key" fetch -d "$T/dest" "$url"
next_of "$v1" "$A,$B" "$T/s2both.json" --set "keys=$(keys_json 1 "$B_PUB" "$C_PUB")"
install_newest "$T/s2both.json" "$T/s"
expect_status 0 "rotation signed by old and new" fetch -d "$T/dest" "$url"

# 5. A broken prev at the next version (direct acceptance checks the link).
next_of "$T/s2both.json" "$B" "$T/s3bad.json" --set "prev=\"$(printf '0%.0s' $(seq 64))\""
install_newest "$T/s3bad.json" "$T/s"
refused_here "a broken prev at the next version" 3 "version 3's prev is 0{64}, but version 2's payload sha256 is $(psha "$T/s2both.json")" \
	fetch -d "$T/dest" "$url"
stop

# 6. Thresholds across a rotation: to 2 of A B C.
rm -rf "$T/t"; make_repo "$T/t"
"$PUBLISH" rotate -r "$T/t" -c "$CH" -s "$A" -s "$B" --keys "$K/test.pub" --keys "$K/minisign.pub" \
	--keys "$K/backup.pub" -t 2 >/dev/null || fail "rotate to threshold 2"
fresh_dest; start_evil normal "$T/t"
expect_status 0 "the rotation to threshold 2 is accepted" fetch -d "$T/dest" "$url"
state_has "threshold=2" && ok "the state records threshold 2" || fail "threshold not recorded"
next_of "$(man "$T/t" 2)" "$B" "$T/t3one.json"
install_newest "$T/t3one.json" "$T/t"
refused_here "one signature where the state requires 2" 3 "1 of 2 required keys verified" fetch -d "$T/dest" "$url"
stop; rm -f "$(man "$T/t" 3)"; cp "$(man "$T/t" 2)" "$(man "$T/t" manifest)"
"$PUBLISH" refresh -r "$T/t" -c "$CH" -s "$A" -s "$C" >/dev/null || fail "refresh by two"
start_evil normal "$T/t"
expect_status 0 "two of A B C sign the next version" fetch -d "$T/dest" "$url"
stop

# 7. Walk refusals: a broken prev in the walk, a version on no mirror, a
# skipped version number, a walk too long; format 1.
rm -rf "$T/rb"; cp -a "$T/r" "$T/rb"
next_of "$(man "$T/r" 1)" "$A,$B" "$(man "$T/rb" 2)" --set "keys=$(keys_json 1 "$B_PUB" "$C_PUB")" \
	--set "prev=\"$(printf 'f%.0s' $(seq 64))\"" --set 'expires="2099-01-01T00:00:00Z"'
fresh_dest; start_evil normal "$T/rb"
refused_here "a broken prev in the walk" 3 "version 2: .*prev is f{64}, but version 1's payload sha256 is $(psha "$(man "$T/r" 1)")" \
	fetch -d "$T/dest" "$url"
stop
rm -rf "$T/rm"; cp -a "$T/r" "$T/rm"; rm "$(man "$T/rm" 2)"
start_evil normal "$T/rm" miss; miss=$url
start_evil normal "$T/r" full; full=$url
fresh_dest
expect_status 0 "version 2 missing on one mirror, present on the next" fetch -d "$T/dest" "$miss" "$full"
expect_err "channels/$CH/2.json: not found: .*; trying the next mirror" "the walk says it moved on"
fresh_dest
refused_here "version 2 on no mirror" 3 "no chain of versions from the trusted keys: version 2 is on no mirror" \
	fetch -d "$T/dest" "$miss" "$miss"
kill "$evil_pid"
start_evil versions-500 "$T/r" broken500
fresh_dest
snapshot
expect_status 2 "versioned manifests fail at every mirror (transport)" fetch -d "$T/dest" "$url"
only_parts_left "transport failure"; unchanged "transport failure"
stop
rm -rf "$T/rs"; cp -a "$T/r" "$T/rs"
next_of "$(man "$T/r" 2)" "$C" "$T/rs4.json" --set 'version=4'
rm "$(man "$T/rs" 3)" "$(man "$T/rs" 4)" "$(man "$T/rs" 5)"; install_newest "$T/rs4.json" "$T/rs"
start_evil normal "$T/rs"; fresh_dest
refused_here "a version number skipped (3)" 3 "version 3 is on no mirror" fetch -d "$T/dest" "$url"
cp "$T/rs4.json" "$(man "$T/rs" 3)"
refused_here "3.json holding version 4" 3 "version 3: version 4 cannot follow version 2" fetch -d "$T/dest" "$url"
stop
rm -rf "$T/rl"; cp -a "$T/r" "$T/rl"
python3 "$CRAFT" resign "$(man "$T/r" 5)" "$C" "$(man "$T/rl" manifest)" --set 'version=2000'
start_evil normal "$T/rl"; fresh_dest
refused_here "a walk of more than 1024 versions" 3 "takes 2000 steps, more than 1024" fetch -d "$T/dest" "$url"
stop
rm -rf "$T/f1"; cp -a "$T/r" "$T/f1"
python3 "$CRAFT" resign "$(man "$T/r" 1)" "$A" "$(man "$T/f1" manifest)" --set 'type="bootdrop-manifest/1"' \
	--del prev --del keys
start_evil normal "$T/f1"; fresh_dest
refused_here "format 1 refused" 3 "unknown manifest type" fetch -d "$T/dest" "$url"
stop

# 8. The walk into an unmounted ext2 image records the keys there too.
if command -v mkfs.ext2 >/dev/null && command -v debugfs >/dev/null; then
	mkfs.ext2 -q -F "$T/boot.img" 32M >/dev/null
	start_evil normal "$T/r"
	expect_status 0 "--ext2: rotation followed" fetch --ext2 "$T/boot.img" --tmpdir "$T" --now "$later" "$url"
	debugfs -R "cat /.bootdrop/state/$CH" "$T/boot.img" 2>/dev/null | grep -qx "key=$C_PUB" &&
		ok "--ext2: the state records the keys" || fail "--ext2 state lacks the keys"
	stop
fi

# 9. --audit: agreeing mirrors, a fork, a broken link.
rm -rf "$T/r2"; cp -a "$T/r" "$T/r2"
start_evil normal "$T/r" a1; m1=$url
start_evil normal "$T/r2" a2; m2=$url
expect_status 0 "audit of agreeing mirrors" "$FETCH" --audit -c "$CH" -P "$A_PUB" "$m1" "$m2"
grep -q "mirror 2: $m2, newest version 5: chain valid" "$T/last.out" && grep -q "agree on every version" "$T/last.out" &&
	ok "audit table says so" || fail "audit output: $(cat "$T/last.out")"
expect_status 0 "audit --json" "$FETCH" --audit --json -c "$CH" "$m1" "$m2"
python3 - "$T/last.out" "$m1" "$m2" <<'PY' && ok "audit --json: one object per mirror and version" || fail "audit --json"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
audit = [r for r in rows if r["event"] == "audit"]
assert {(r["mirror"], r["version"]) for r in audit} == {(m, v) for m in sys.argv[2:] for v in range(1, 6)}
assert all(r["status"] == "ok" and len(r["payload_sha256"]) == 64 for r in audit)
assert rows[-1]["event"] == "result" and rows[-1]["status"] == 0
PY
"$PUBLISH" refresh -r "$T/r" -c "$CH" -s "$C" -e 7d >/dev/null
"$PUBLISH" refresh -r "$T/r2" -c "$CH" -s "$C" -e 9d >/dev/null
expect_status 3 "audit of a fork across mirrors" "$FETCH" --audit -c "$CH" "$m1" "$m2"
expect_err "fork at version 6: $m1 has payload sha256 $(psha "$(man "$T/r" 6)"), $m2 has $(psha "$(man "$T/r2" 6)")" \
	"the fork names the version and both hashes"
grep -q "^6 .*FORK" "$T/last.out" && ok "the table marks the fork" || fail "table: $(cat "$T/last.out")"
stop; kill "$evil_pid" 2>/dev/null
start_evil normal "$T/rb" a3
expect_status 3 "audit of a broken link" "$FETCH" --audit -c "$CH" "$url"
expect_err "broken at version 2: .*prev is f{64}" "the broken link is named"
stop
finish
