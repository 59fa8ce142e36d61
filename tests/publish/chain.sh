#!/bin/bash
# Payload format 2 through bootdrop-publish: release writes prev and keys,
# refuses to build on a missing or altered version; rotate, refresh,
# verify of the whole chain, show of the trust.  Releases of the same
# files again use -f (without it they are refused as "nothing changed").
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
C=chain
K=$TESTDATA/keys
A=$K/test.key B=$K/minisign.key BK=$K/backup.key
A_PUB=$K/test.pub B_PUB=$K/minisign.pub BK_PUB=$K/backup.pub
A_ID=2CAFF7EB9129F435 B_ID=3B9186251985061D BK_ID=60B7A6D32551EEFD
make_kernel kernel i386

# payload FILE EXPR : prints a Python expression over the payload p of
# the envelope FILE (and its bytes b).
payload() {
	python3 -c 'import base64,hashlib,json,sys
b=base64.b64decode(json.load(open(sys.argv[1]))["payload"]); p=json.loads(b)
print(eval(sys.argv[2]))' "$1" "$2"
}
sha_of_payload() { payload "$1" 'hashlib.sha256(b).hexdigest()'; }
M() { echo "repo/channels/$C/$1.json"; }

expect_status 0 "release 1" "$PUBLISH" release -f -r repo -c $C -s "$A" kernel=kernel
[ "$(payload "$(M 1)" 'p["type"], p["prev"], p["keys"]')" = \
  "('bootdrop-manifest/3', None, {'threshold': 1, 'pubkeys': ['$(tail -n 1 "$A_PUB")']})" ] &&
	ok "version 1: format 3, prev null, keys = the signer's key, threshold 1" ||
	fail "version 1 payload: $(payload "$(M 1)" 'p["type"], p["prev"], p["keys"]')"
expect_status 0 "release 2" "$PUBLISH" release -f -r repo -c $C -s "$A" kernel=kernel
[ "$(payload "$(M 2)" 'p["prev"]')" = "$(sha_of_payload "$(M 1)")" ] &&
	ok "version 2's prev is the SHA-256 of version 1's payload" || fail "version 2 prev"
[ "$(payload "$(M 2)" 'p["keys"]')" = "$(payload "$(M 1)" 'p["keys"]')" ] &&
	ok "version 2 keeps version 1's keys" || fail "version 2 keys"
expect_status 1 "release -t on a channel with keys" "$PUBLISH" release -f -r repo -c $C -s "$A" -t 2 kernel=kernel
expect_err "change it with rotate" "-t refusal points at rotate"

# First release: several -s keys with -t
expect_status 0 "first release with two keys, -t 2" "$PUBLISH" release -f -r repo -c two -s "$A" -s "$B" -t 2 kernel=kernel
[ "$(payload repo/channels/two/1.json 'p["keys"]["threshold"], len(p["keys"]["pubkeys"])')" = "(2, 2)" ] &&
	ok "first release's keys: both signers, threshold 2" || fail "two-key first release"
expect_status 3 "then a release with one of the two keys" "$PUBLISH" release -f -r repo -c two -s "$A" kernel=kernel
expect_err "must be signed by 2 of the keys of version 1" "threshold 2 refusal"
expect_status 0 "first release --keys naming a backup key" "$PUBLISH" release -f -r repo -c withbackup -s "$A" --keys "$A_PUB" --keys "$BK_PUB" kernel=kernel
[ "$(payload repo/channels/withbackup/1.json 'len(p["keys"]["pubkeys"]), p["keys"]["threshold"]')" = "(2, 1)" ] &&
	ok "--keys on release sets the first version's keys" || fail "--keys on release"

# Refusal to build on a missing or altered previous version
cp -a repo repo-missing; rm "repo-missing/channels/$C/2.json"
before=$(tree_digest repo-missing)
expect_status 3 "release on top of a missing version" "$PUBLISH" release -f -r repo-missing -c $C -s "$A" kernel=kernel
expect_err "version 2, but channels/$C/2.json is missing" "missing-version message"
[ "$(tree_digest repo-missing)" = "$before" ] && ok "missing version: repository unchanged" || fail "repository changed"
cp -a repo repo-altered
python3 - "repo-altered/channels/$C/2.json" <<'PY'
import base64, json, sys
e = json.load(open(sys.argv[1]))
b = base64.b64decode(e["payload"]).replace(b'"size": ', b'"size": 1', 1)
e["payload"] = base64.b64encode(b).decode()
json.dump(e, open(sys.argv[1], "w"))
PY
cp "repo-altered/channels/$C/2.json" "repo-altered/channels/$C/manifest.json"
before=$(tree_digest repo-altered)
expect_status 3 "release on top of an altered version" "$PUBLISH" release -f -r repo-altered -c $C -s "$A" kernel=kernel
expect_err "2.json was altered" "altered-version message"
[ "$(tree_digest repo-altered)" = "$before" ] && ok "altered version: repository unchanged" || fail "repository changed"
cp -a repo repo-diff; cp "repo-diff/channels/$C/1.json" "repo-diff/channels/$C/manifest.json"
expect_status 0 "manifest.json older than the newest N.json (a crash between the two) is built on" \
	"$PUBLISH" release -f -r repo-diff -c $C -s "$A" kernel=kernel

# Rotation from A to B + backup: both old and new must sign
before=$(tree_digest repo)
expect_status 3 "rotation signed only by the old key" "$PUBLISH" rotate -r repo -c $C -s "$A" --keys "$B_PUB" --keys "$BK_PUB"
expect_err "names keys of which 1 must sign it" "only-old refusal names the new keys' rule"
expect_status 3 "rotation signed only by the new key" "$PUBLISH" rotate -r repo -c $C -s "$B" --keys "$B_PUB" --keys "$BK_PUB"
expect_err "must be signed by 1 of the keys of version 2 \($A_ID\)" "only-new refusal names the old keys' rule"
expect_status 1 "rotation to the same keys" "$PUBLISH" rotate -r repo -c $C -s "$A" --keys "$A_PUB"
expect_err "use refresh" "same-keys refusal points at refresh"
[ "$(tree_digest repo)" = "$before" ] && ok "refused rotations left the repository unchanged" || fail "repository changed"
expect_status 0 "rotation signed by old and new" "$PUBLISH" rotate -r repo -c $C -s "$A" -s "$B" \
	--keys "$B_PUB" --keys "$BK_PUB" -t 1
grep -q "keys $B_ID $BK_ID, threshold 1 (were $A_ID, threshold 1)" "$T/last.out" &&
	ok "rotate reports the new and old trust" || fail "rotate output: $(cat "$T/last.out")"
[ "$(payload "$(M 3)" 'p["artifacts"]')" = "$(payload "$(M 2)" 'p["artifacts"]')" ] &&
	[ "$(payload "$(M 3)" 'p["boot"]')" = "$(payload "$(M 2)" 'p["boot"]')" ] &&
	ok "rotation keeps the artifacts and boot" || fail "rotation changed artifacts"
expect_status 0 "show prints the trust" "$PUBLISH" show -r repo -c $C
grep -q "^keys      1 of 2 must sign" "$T/last.out" && grep -q "key     $B_ID $(tail -n 1 "$B_PUB")" "$T/last.out" &&
	grep -q "^prev      $(sha_of_payload "$(M 2)")" "$T/last.out" && ok "show: keys, threshold, prev" ||
	fail "show output: $(cat "$T/last.out")"

# The removed key is revoked; the backup key alone can sign
expect_status 3 "release signed by the revoked key" "$PUBLISH" release -f -r repo -c $C -s "$A" kernel=kernel
expect_status 0 "release signed by the backup key alone" "$PUBLISH" release -f -r repo -c $C -s "$BK" kernel=kernel

# Thresholds across a rotation: to 2 of A B backup
expect_status 3 "rotation to threshold 2 signed by one new key" "$PUBLISH" rotate -r repo -c $C -s "$B" \
	--keys "$A_PUB" --keys "$B_PUB" --keys "$BK_PUB" -t 2
expect_err "of which 2 must sign it" "threshold-2 refusal"
expect_status 0 "rotation to threshold 2 signed by two" "$PUBLISH" rotate -r repo -c $C -s "$B" -s "$A" \
	--keys "$A_PUB" --keys "$B_PUB" --keys "$BK_PUB" -t 2
expect_status 3 "refresh with 1 of the 2 required signatures" "$PUBLISH" refresh -r repo -c $C -s "$BK" -e 90d
expect_err "must be signed by 2 of the keys of version 5" "refresh threshold refusal"

# Refresh: same artifacts, menu and keys, a new expiry
old_exp=$(payload "$(M 5)" 'p["expires"]')
expect_status 0 "refresh -e 90d" "$PUBLISH" refresh -r repo -c $C -s "$BK" -s "$A" -e 90d
for f in artifacts boot keys; do
	[ "$(payload "$(M 6)" "p[\"$f\"]")" = "$(payload "$(M 5)" "p[\"$f\"]")" ] &&
		ok "refresh keeps $f" || fail "refresh changed $f"
done
new_exp=$(payload "$(M 6)" 'p["expires"]')
[ "$new_exp" \> "$old_exp" ] && [ "$new_exp" = "$(date -u -d "@$(( $(date +%s) + 90*86400 ))" +%Y-%m-%dT%H:%M:%SZ)" -o "$new_exp" \> "$(date -u -d '+89 days' +%Y-%m-%dT%H:%M:%SZ)" ] &&
	ok "refresh sets a 90-day expiry ($new_exp)" || fail "refresh expiry $new_exp (was $old_exp)"
expect_status 1 "refresh refuses --keys" "$PUBLISH" refresh -r repo -c $C -s "$BK" --keys "$A_PUB"
cp -a repo repo-noblob; rm -f repo-noblob/blobs/sha256/*
expect_status 3 "refresh when a blob is gone" "$PUBLISH" refresh -r repo-noblob -c $C -s "$BK" -s "$A"
expect_err "missing" "missing-blob message"

# minisign checks every signature of a rotation
python3 - "$(M 5)" <<'PY'
import base64, json, sys
e = json.load(open(sys.argv[1]))
open("p5", "wb").write(base64.b64decode(e["payload"]))
for i, s in enumerate(e["signatures"]):
    open("p5.%d.minisig" % i, "w").write(s["minisig"])
PY
if command -v minisign >/dev/null; then
	minisign -Vm p5 -x p5.0.minisig -p "$B_PUB" >/dev/null && minisign -Vm p5 -x p5.1.minisig -p "$A_PUB" >/dev/null &&
		ok "minisign verifies both signatures of the rotation" || fail "minisign refuses a rotation signature"
fi

# verify: the whole chain
expect_status 0 "verify the chain" "$PUBLISH" verify -r repo -c $C
grep -q "versions 1 to 6 form one chain (2 changes of keys)" "$T/last.out" && ok "verify counts the key changes" ||
	fail "verify output: $(cat "$T/last.out")"
expect_status 0 "verify: a guest with the backup key reaches the newest" "$PUBLISH" verify -r repo -c $C -p "$BK_PUB"
grep -q "reaches it directly" "$T/last.out" && ok "directly" || fail "verify -p: $(cat "$T/last.out")"
expect_status 3 "verify: a guest with only B does not (the newest lacks B, version 1 too)" \
	"$PUBLISH" verify -r repo -c $C -p "$B_PUB"
cp -a repo repo-old
"$PUBLISH" refresh -r repo-old -c $C -s "$B" -s "$BK" >/dev/null || fail "refresh by B and backup"
expect_status 0 "verify: a guest with the old key A reaches a newest it did not sign" "$PUBLISH" verify -r repo-old -c $C -p "$A_PUB"
grep -q "by following the chain from version 1" "$T/last.out" && ok "by the chain" || fail "verify -p: $(cat "$T/last.out")"
expect_status 3 "verify: a guest with an unrelated key does not" "$PUBLISH" verify -r repo -c $C -p "$K/test-enc.pub"
cp -a repo repo-gap; rm "repo-gap/channels/$C/3.json"
expect_status 3 "verify: a version missing in the middle" "$PUBLISH" verify -r repo-gap -c $C
expect_err "version 3 is missing" "gap message"
cp -a repo repo-broken
python3 "$BOOTDROP_SRCDIR/tests/fetch/craft.py" resign "$(M 2)" "$A" "repo-broken/channels/$C/2.json" \
	--set 'prev="'"$(printf '0%.0s' $(seq 64))"'"'
expect_status 3 "verify: a broken prev at version 2" "$PUBLISH" verify -r repo-broken -c $C
expect_err "version 2: .*prev is 0{64}, but version 1's payload sha256 is" "broken-prev message names the version and both hashes"
finish
