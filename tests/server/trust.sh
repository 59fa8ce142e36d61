#!/bin/bash
# One rule decides "does a guest holding this key reach this channel's
# newest version" (common/chain_verify.c), and the three programs give
# the same verdict with it:
#   bootdrop-fetch -P KEY (the walk over the mirror's versions),
#   bootdrop-server -P/-p KEY (the channel page's fetch command, the
#   index's "reached by key" column, the start-up warning),
#   bootdrop-publish verify -p KEY.
# Case 1: a chain valid only through a rotation (A signs 1-3, 3 hands the
# channel to B, B alone signs 4): key A reaches 4 by the walk in all three.
# Case 2: the same chain with one subtle link broken (version 3 carries
# only the new key's signature: the old keys never authorized the change):
# key A is refused in all three, each naming version 3.
# Then several keys (-p FILE holding two keys, -P, BOOTDROP_PUBKEY with
# a key and a file): each channel's page shows a key that reaches it, the
# index lists which channels each key reaches.  The verdict is cached by
# manifest.json's identity: removing the versions a walk read changes
# nothing until manifest.json is replaced.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

K=$TESTDATA/keys
A=$K/test.key B=$K/minisign.key BK=$K/backup.key
A_PUB=$K/test.pub B_PUB=$K/minisign.pub BK_PUB=$K/backup.pub
A_ID=2CAFF7EB9129F435 B_ID=3B9186251985061D BK_ID=60B7A6D32551EEFD
A_B64=$(tail -n 1 "$A_PUB") B_B64=$(tail -n 1 "$B_PUB") BK_B64=$(tail -n 1 "$BK_PUB")
C=rot
cd "$T" || exit 1
mkdir d1 d2 d3 d4
make_kernel kernel i386

# text FILE : a page's text, tags removed.
text() { sed 's/<[^>]*>//g' "$1"; }

"$PUBLISH" release -f -r repo -c $C -s "$A" kernel=kernel >/dev/null &&
"$PUBLISH" release -f -r repo -c $C -s "$A" kernel=kernel >/dev/null &&
"$PUBLISH" rotate -r repo -c $C -s "$A" -s "$B" --keys "$B_PUB" >/dev/null &&
"$PUBLISH" release -f -r repo -c $C -s "$B" kernel=kernel >/dev/null ||
	fail "publish the rotated chain"
"$PUBLISH" release -r repo -c aonly -s "$A" kernel=kernel >/dev/null &&
"$PUBLISH" release -r repo -c bkonly -s "$BK" kernel=kernel >/dev/null ||
	fail "publish the single-key channels"

# The forged link: version 3 without the old key's signature, payload
# (and so every prev after it) unchanged.
cp -a repo forged
python3 - "forged/channels/$C/3.json" "$A_ID" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
e["signatures"] = [s for s in e["signatures"] if s["keyid"] != sys.argv[2]]
assert len(e["signatures"]) == 1
json.dump(e, open(sys.argv[1], "w"))
PY

# --- case 1: valid only through the rotation ------------------------------
start_server valid -r repo -l 127.0.0.1:0 -P "$A_B64"
expect_status 0 "fetch with key A follows the rotation" "$FETCH" -P "$A_B64" -c $C -d "$T/d1" "$URL"
grep -q "following the chain of $C from version 1 to 4" "$T/last.out" && ok "fetch: accepted by the walk" ||
	fail "fetch: no walk: $(cat "$T/last.out")"
grep -q "keys changed at version 3" "$T/last.out" && ok "fetch: the rotation is named" || fail "fetch: no key change line"
curl -s "${URL}channels/$C/" >valid.html
grep -q 'id="fetch"' valid.html && text valid.html | grep -qF "bootdrop-fetch -P $A_B64 -c $C -d /mnt/boot $URL" &&
	ok "page: the command with key A is shown" || fail "page: no command with key A: $(text valid.html | grep -i 'key')"
grep -q 'id="keymismatch"' valid.html && fail "page: says key A would be refused" || ok "page: no refusal"
text valid.html | grep -qF "Key $A_ID did not sign this version: a guest holding it reaches version 4 by following the chain from version 1 (4 versions" &&
	ok "page: says the key reaches version 4 by the walk" || fail "page: no walk note: $(grep -o 'id="walk".*' valid.html)"
curl -s "$URL" >index.html
grep -qF "<td data-l=\"key\"><code>$A_ID</code></td>" index.html && ok "index: the channel is reached by key A" ||
	fail "index: key column: $(grep -o '<td data-l="key">[^/]*' index.html)"
grep -q "warning: channel $C" "$T/valid.err" && fail "start-up warning for a reachable channel" ||
	ok "no start-up warning for the rotated channel"
grep -q "warning: channel bkonly version 1 is signed by $BK_ID, not by the public key shown in fetch commands ($A_ID)" "$T/valid.err" &&
	ok "start-up warning for the channel key A does not reach" || fail "no warning for bkonly: $(cat "$T/valid.err")"
stop_server
expect_status 0 "verify -p A: reaches" "$PUBLISH" verify -r repo -c $C -p "$A_PUB"
grep -q "a guest holding the given keys reaches it by following the chain from version 1" "$T/last.out" &&
	ok "verify: by the walk" || fail "verify -p A: $(cat "$T/last.out")"

# --- case 2: one link broken ----------------------------------------------
start_server forged -r forged -l 127.0.0.1:0 -P "$A_B64"
expect_status 3 "fetch with key A: refused at the forged link" "$FETCH" -P "$A_B64" -c $C -d "$T/d2" "$URL"
expect_err "version 3: .*successor of version 2" "fetch: names version 3 and the successor rule"
[ ! -e "$T/d2/boot/kernel" ] && ok "fetch: nothing installed" || fail "fetch installed a refused chain"
curl -s "${URL}channels/$C/" >forged.html
grep -q 'id="fetch"\|bootdrop-fetch -P' forged.html && fail "page: a command for a refused chain" ||
	ok "page: no command"
text forged.html | grep -qF "This server was given the public key $A_ID, but this version is signed by $B_ID" &&
	ok "page: says key A would be refused" || fail "page: no refusal: $(text forged.html | grep -i key)"
text forged.html | grep -q "with key $A_ID: .*version 3: .*successor of version 2" &&
	ok "page: the refusal names version 3, as fetch does" || fail "page: reason: $(text forged.html | grep 'with key')"
grep -q "warning: channel $C version 4 is signed by $B_ID, not by the public key shown in fetch commands ($A_ID)" "$T/forged.err" &&
	ok "server: start-up warning for the forged chain" || fail "no start-up warning: $(cat "$T/forged.err")"
stop_server
expect_status 3 "verify -p A: refused" "$PUBLISH" verify -r forged -c $C -p "$A_PUB"
expect_err "version 3: .*successor of version 2" "verify: names version 3 and the successor rule"

# --- several keys (6b) ----------------------------------------------------
cat "$BK_PUB" "$A_PUB" >two.pub
start_server many -r repo -l 127.0.0.1:0 -p two.pub -P "$B_B64"
curl -s "$URL" >many.html
for k in "$BK_ID" "$A_ID" "$B_ID"; do
	grep -qF "<dt>key id</dt><dd><code>$k</code>" many.html && ok "index lists key $k" || fail "index: no key $k"
done
# per key: the channels it reaches (the rotated one: A by the walk, B directly)
# reached ID : the channels the index says key ID reaches, ", "-separated
reached() {
	python3 -c 'import re,sys
p = open(sys.argv[1]).read()
m = re.search(r"<dt>key id</dt><dd><code>%s</code>.*?<dt>reaches</dt><dd>(.*?)</dd>" % sys.argv[2], p)
print(re.sub(r"<[^>]*>", "", m.group(1)) if m else "(no card)")' many.html "$1"
}
expect_eq "$(reached "$A_ID")" "aonly, $C" "index: key A reaches aonly and $C (by the walk)"
expect_eq "$(reached "$BK_ID")" "bkonly" "index: the backup key reaches bkonly only"
expect_eq "$(reached "$B_ID")" "$C" "index: key B reaches $C only"
curl -s "${URL}channels/bkonly/" >bk.html
text bk.html | grep -qF "bootdrop-fetch -P $BK_B64 -c bkonly -d /mnt/boot $URL" &&
	ok "bkonly's page: the command with the backup key" || fail "bkonly: $(text bk.html | grep fetch)"
curl -s "${URL}channels/$C/" >rot.html
# the first key given that reaches it is A (from two.pub); B reaches it too
text rot.html | grep -qF "bootdrop-fetch -P $A_B64 -c $C" && text rot.html | grep -qF "Or with key $B_ID:" &&
	text rot.html | grep -qF "bootdrop-fetch -P $B_B64 -c $C" &&
	ok "$C's page: A's command (by the walk), and B's" || fail "$C page: $(text rot.html | grep -i 'fetch\|key')"
expect_status 0 "fetch with the backup key, as bkonly's page says" "$FETCH" -P "$BK_B64" -c bkonly -d "$T/d3" "$URL"
expect_status 3 "fetch of aonly with the backup key, which the index does not list for it" \
	"$FETCH" -P "$BK_B64" -c aonly -d "$T/d4" "$URL"

# The verdict is kept while manifest.json is the same file: without the
# versions the walk read, the page still says A reaches it; a new
# manifest.json (same bytes, new file) is judged again and refused.
mkdir hidden
mv repo/channels/$C/[123].json hidden/
curl -s "${URL}channels/$C/" >cached.html
text cached.html | grep -qF "bootdrop-fetch -P $A_B64 -c $C" && ok "cached: the same manifest.json is not walked again" ||
	fail "cached: $(text cached.html | grep -i 'key')"
cp repo/channels/$C/manifest.json new.json && mv new.json repo/channels/$C/manifest.json
curl -s "${URL}channels/$C/" >rejudged.html
text rejudged.html | grep -qF "bootdrop-fetch -P $A_B64 -c $C" && fail "rejudged: A still shown without versions 1-3" ||
	ok "a replaced manifest.json is judged again: A no longer reaches it"
text rejudged.html | grep -qF "bootdrop-fetch -P $B_B64 -c $C" && ok "rejudged: B still reaches it directly" ||
	fail "rejudged: $(text rejudged.html | grep -i 'key')"
mv hidden/*.json repo/channels/$C/
stop_server

# BOOTDROP_PUBKEY: a key string and a key file, separated by spaces
BOOTDROP_PUBKEY="$B_B64 $T/two.pub" start_server envkeys -r repo -l 127.0.0.1:0
curl -s "$URL" >env.html
n=$(grep -o '<dt>key id</dt>' env.html | wc -l)
expect_eq "$n" 3 "BOOTDROP_PUBKEY: three keys from a string and a file"
stop_server
expect_status 1 "a key given twice is refused" "$SERVER" -r repo -l 127.0.0.1:0 -p two.pub -P "$A_B64"
expect_err "key $A_ID is given twice" "the refusal names the key"
printf 'untrusted comment: x\nnot a key\n' >bad.pub
expect_status 1 "a key file with a line that is not a key" "$SERVER" -r repo -l 127.0.0.1:0 -p bad.pub
expect_err "bad.pub line 2: not a public key" "the refusal names the file and line"
finish
