#!/bin/bash
# bootdrop-publish and chunked artifacts (DESIGN.md, "Moving only what
# changed"): release writes a chunk pack and index for every artifact of
# at least 1 MiB and says what a new version shares with the previous one;
# verify checks index and pack against the artifact; rotate and refresh
# keep them; prune keeps what live versions name through their indexes.
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
C=chunked
blobs=repo/blobs/sha256

# index_of ARTIFACT [VERSION] : the chunk index hex show prints for it.
index_of() {
	"$PUBLISH" show -r repo -c $C ${2:+-n "$2"} |
		awk -v a="$1" '$1 == "artifact" { cur = $2 } cur == a && $1 == "chunks" { print $2 }'
}
# pack_of INDEX_HEX : the pack hex an index names (bytes 20..51).
pack_of() {
	od -An -v -tx1 -j 20 -N 32 "$blobs/$1" | tr -d ' \n'
}
# flip FILE OFFSET : one byte of FILE changed in place.
flip() {
	chmod u+w "$1"
	printf '\x5a' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

make_kernel kernel i386
# A compressible world (its chunks zstd in the pack) and a random one
# (stored raw); N+1 of the first has an insertion in the middle.
seq 1 600000 > world.txt
{ head -c 2000000 world.txt; echo "an insertion"; tail -c +2000001 world.txt; } > world2.txt
head -c $((3 << 20)) /dev/urandom > rand.bin
head -c 500000 /dev/urandom > small.bin

expect_status 0 "release v1" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	kernel=kernel world=world.txt rand=rand.bin small=small.bin
grep -Eq '^  world: [0-9]+ chunks, pack .*nothing shared' "$T/last.out" &&
	ok "release v1 counts the world's chunks" || fail "release v1 says nothing of chunks"
w1=$(index_of world)
r1=$(index_of rand)
[ -n "$w1" ] && [ -n "$r1" ] && ok "artifacts of 1 MiB or more name a chunk index" ||
	fail "no chunks field (world '$w1', rand '$r1')"
[ -z "$(index_of kernel)" ] && [ -z "$(index_of small)" ] &&
	ok "artifacts below 1 MiB have no chunks" || fail "a small artifact was chunked"
[ "$(head -c 8 "$blobs/$w1")" = BDCHUNK2 ] && ok "the index blob starts BDCHUNK2" ||
	fail "index blob magic"
[ "$(sha256sum < "$blobs/$w1" | cut -d' ' -f1)" = "$w1" ] &&
	ok "the index is stored under its SHA-256" || fail "index blob name"
p1=$(pack_of "$w1")
[ -f "$blobs/$p1" ] && [ "$(sha256sum < "$blobs/$p1" | cut -d' ' -f1)" = "$p1" ] &&
	ok "the pack the index names is a blob under its SHA-256" || fail "pack blob $p1"
[ "$(stat -c %s "$blobs/$p1")" -lt "$(stat -c %s world.txt)" ] &&
	ok "the compressible world's pack is smaller than the world" || fail "pack not compressed"
[ "$(stat -c %a "$blobs/$p1")" = 644 ] && [ "$(stat -c %a "$blobs/$w1")" = 644 ] &&
	ok "pack and index are world-readable" || fail "pack or index mode"
leftovers=$(find repo -name '.incoming.*' | wc -l)
expect_eq "$leftovers" 0 "no temporary files left"

expect_status 0 "verify v1" "$PUBLISH" verify -r repo -c $C -p "$TEST_PUB"
grep -q "2 chunk indexes and packs agree" "$T/last.out" &&
	ok "verify checks both chunked artifacts" || fail "verify said nothing of chunks"

# N+1: what is shared, as the publisher sees it.
expect_status 0 "release v2" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	kernel=kernel world=world2.txt rand=rand.bin small=small.bin
line=$(grep '^  world:' "$T/last.out")
if [[ $line =~ shares\ ([0-9]+)\ chunks.*with\ version\ 1:\ a\ guest\ holding\ it\ fetches\ ([0-9.]+)\ KiB ]] &&
	[ "${BASH_REMATCH[1]}" -gt 100 ] && [ "${BASH_REMATCH[2]%.*}" -lt 200 ]; then
	ok "release v2 says the world shares ${BASH_REMATCH[1]} chunks and a guest fetches ${BASH_REMATCH[2]} KiB"
else
	fail "release v2's share line: '$line'"
fi
grep -q '^  rand: .*shares .* a guest holding it fetches' "$T/last.out" &&
	ok "an unchanged artifact is counted too" || fail "rand's share line"
w2=$(index_of world)
p2=$(pack_of "$w2")
[ "$w2" != "$w1" ] && ok "v2's world has its own index" || fail "v2 index = v1 index"
expect_status 0 "verify v2" "$PUBLISH" verify -r repo -c $C

# verify refuses a damaged index or pack (exit 3), naming what.
cp -a repo good
flip "$blobs/$p2" 5000
expect_status 3 "verify: a byte of the pack changed" "$PUBLISH" verify -r repo -c $C
expect_err "chunk pack $p2: chunk [0-9]+ .*does not decode to its hash" "the damaged chunk is named"
rm -rf repo; cp -a good repo
rm "$blobs/$p2"
expect_status 3 "verify: the pack is missing" "$PUBLISH" verify -r repo -c $C
expect_err "chunk pack $p2" "the missing pack is named"
rm -rf repo; cp -a good repo
chmod u+w "$blobs/$w2"; truncate -s 100 "$blobs/$w2"
expect_status 3 "verify: the index is truncated" "$PUBLISH" verify -r repo -c $C
expect_err "chunk index $w2" "the truncated index is named"
rm -rf repo; cp -a good repo
flip "$blobs/$w2" 200
expect_status 3 "verify: a byte of the index changed" "$PUBLISH" verify -r repo -c $C
expect_err "chunk index $w2: its bytes hash otherwise" "the altered index is named"
rm -rf repo; cp -a good repo
# Index and pack consistent with each other but describing other bytes
# of the same size: a signed manifest that swaps two artifacts' "chunks".
head -c $((2 << 20)) /dev/urandom > a.bin
head -c $((2 << 20)) /dev/urandom > b.bin
expect_status 0 "release a and b" "$PUBLISH" release -r swap -c s -s "$TEST_SEC" \
	kernel=kernel a=a.bin b=b.bin
python3 - swap/channels/s/1.json payload.json <<'PY'
import base64, json, sys
env = json.load(open(sys.argv[1]))
p = json.loads(base64.b64decode(env["payload"]))
arts = {a["name"]: a for a in p["artifacts"]}
arts["a"]["chunks"], arts["b"]["chunks"] = arts["b"]["chunks"], arts["a"]["chunks"]
open(sys.argv[2], "w").write(json.dumps(p))
PY
python3 "$BOOTDROP_SRCDIR/tests/craft_envelope.py" swapped.json payload.json --key "$TEST_SEC"
cp swapped.json swap/channels/s/1.json; cp swapped.json swap/channels/s/manifest.json
expect_status 3 "verify: a's index and pack describe b's bytes" "$PUBLISH" verify -r swap -c s
expect_err "chunk 0 \(artifact bytes 0 to [0-9]+\) is not the artifact's" \
	"verify names the first chunk that is not the artifact's"

# rotate and refresh keep the chunks; refresh over a missing pack drops
# them with a warning (guests then download whole) rather than failing.
expect_status 0 "refresh" "$PUBLISH" refresh -r repo -c $C -s "$TEST_SEC" -e 40d
expect_eq "$(index_of world)" "$w2" "refresh keeps the world's chunk index"
"$PUBLISH" keygen -W -p new.pub -s new.key >/dev/null
expect_status 0 "rotate" "$PUBLISH" rotate -r repo -c $C -s "$TEST_SEC" -s new.key --keys new.pub
expect_eq "$(index_of world)" "$w2" "rotate keeps the world's chunk index"
expect_status 0 "verify after rotate" "$PUBLISH" verify -r repo -c $C
cp -a repo good
rm "$blobs/$p2"
expect_status 0 "refresh with the world's pack gone" "$PUBLISH" refresh -r repo -c $C -s new.key
expect_err "world: published without chunks" "refresh warns that the world loses its chunks"
expect_eq "$(index_of world)" "" "the refreshed world has no chunks"
expect_eq "$(index_of rand)" "$r1" "the other artifact keeps its chunks"
expect_status 0 "verify a refresh without the pack" "$PUBLISH" verify -r repo -c $C
rm -rf repo; cp -a good repo

# prune keeps the index and pack of every kept version, removes the rest.
expect_status 0 "prune -k 1" "$PUBLISH" prune -r repo -k 1
[ -f "$blobs/$w2" ] && [ -f "$blobs/$p2" ] && ok "prune keeps v4's index and pack" ||
	fail "prune removed a live index or pack"
[ ! -e "$blobs/$w1" ] && [ ! -e "$blobs/$p1" ] && ok "prune removes v1's index and pack" ||
	fail "prune kept v1's chunks"
expect_status 0 "verify after prune" "$PUBLISH" verify -r repo -c $C
# An index that is there but unreadable refuses the prune: its pack is unknown.
flip "$blobs/$w2" 100
before=$(tree_digest repo)
expect_status 3 "prune with a damaged index" "$PUBLISH" prune -r repo -k 1
expect_err "nothing pruned" "the refusal says nothing was pruned"
expect_eq "$(tree_digest repo)" "$before" "the refused prune removed nothing"
# A version whose first 256 KiB stopped compressing would get small chunks
# of its own, sharing no cut point with the large ones before it: it keeps
# the previous version's parameters instead, and shares its chunks.
{ head -c 262144 /dev/urandom; tail -c +262145 world2.txt; } > world3.txt
expect_status 0 "release a world in a new channel" \
	"$PUBLISH" release -r repo -c sticky -s "$TEST_SEC" kernel=kernel world=world2.txt
expect_status 0 "release a world whose start no longer compresses" \
	"$PUBLISH" release -r repo -c sticky -s "$TEST_SEC" kernel=kernel world=world3.txt
line=$(grep '^  world:' "$T/last.out")
if [[ $line =~ ^\ \ world:\ ([0-9]+)\ chunks.*shares\ ([0-9]+)\ chunks ]] &&
	[ "${BASH_REMATCH[2]}" -gt $(( ${BASH_REMATCH[1]} * 3 / 4 )) ]; then
	ok "it is cut as before: ${BASH_REMATCH[2]} of ${BASH_REMATCH[1]} chunks shared"
else
	fail "cut anew, sharing little: $line"
fi
expect_status 0 "verify it" "$PUBLISH" verify -r repo -c sticky
finish
