#!/bin/bash
# deploy/bootdrop-mirror and immutable files: a versioned manifest (or,
# with --check-blobs, a blob) on the mirror whose bytes differ from the
# source's is named and makes the run exit 3; --replace overwrites it; -n
# names it and changes nothing.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
. "$BOOTDROP_SRCDIR/tests/deploy/deploylib.sh"
command -v rsync >/dev/null || { echo "rsync not installed"; exit 77; }

for i in 1 2 3; do make_world "$T/world.tgz" 1; make_repo "$T/src"; done
expect_status 0 "first sync" "$MIRROR" -q "$T/src" "$T/mirror"

# A stale 2.json on the mirror: same name, other bytes (a version the
# mirror kept from a forked history).
cp "$T/src/channels/$CH/1.json" "$T/mirror/channels/$CH/2.json"
touch -r "$T/src/channels/$CH/2.json" "$T/mirror/channels/$CH/2.json"
expect_status 3 "a versioned manifest that differs: exit 3" "$MIRROR" -q "$T/src" "$T/mirror"
expect_err "channels/$CH/2\.json on the mirror differs" "the file is named"
expect_err "--replace" "the way out is named"
cmp -s "$T/mirror/channels/$CH/2.json" "$T/src/channels/$CH/1.json" &&
	ok "without --replace the file is left as it was" || fail "file changed without --replace"

expect_status 3 "-n --replace names it, exit 3" "$MIRROR" -q -n --replace "$T/src" "$T/mirror"
cmp -s "$T/mirror/channels/$CH/2.json" "$T/src/channels/$CH/1.json" &&
	ok "-n changes nothing" || fail "-n replaced the file"

expect_status 0 "--replace overwrites it" "$MIRROR" -q --replace "$T/src" "$T/mirror"
expect_err "replacing channels/$CH/2\.json" "the replacement is named"
cmp -s "$T/mirror/channels/$CH/2.json" "$T/src/channels/$CH/2.json" &&
	ok "the mirror's 2.json is the source's" || fail "2.json not replaced"
expect_status 0 "next sync is clean" "$MIRROR" -q "$T/src" "$T/mirror"

# A blob of the right size with other bytes: found only with --check-blobs.
blob=$(ls "$T/src/blobs/sha256" | head -n 1)
size=$(stat -c %s "$T/src/blobs/sha256/$blob")
head -c "$size" /dev/zero >"$T/mirror/blobs/sha256/$blob"
touch -r "$T/src/blobs/sha256/$blob" "$T/mirror/blobs/sha256/$blob"
expect_status 0 "blobs not compared by default" "$MIRROR" -q "$T/src" "$T/mirror"
expect_status 3 "--check-blobs finds the altered blob" "$MIRROR" -q --check-blobs "$T/src" "$T/mirror"
expect_err "blobs/sha256/$blob on the mirror differs" "the blob is named"
expect_status 0 "--check-blobs --replace" "$MIRROR" -q --check-blobs --replace "$T/src" "$T/mirror"
cmp -s "$T/mirror/blobs/sha256/$blob" "$T/src/blobs/sha256/$blob" &&
	ok "the blob is the source's again" || fail "blob not replaced"
finish
