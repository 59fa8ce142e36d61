#!/bin/bash
# deploy/bootdrop-mirror: after every one of its rsync runs the mirror is
# consistent (each manifest.json's blobs and earlier versions are there),
# also when a release lands on the source mid-sync and when the source
# dropped old blobs; and bootdrop-fetch reading the mirror through nginx in
# a loop while it syncs never meets a manifest whose blobs are missing.
# Controls show the checks catch the wrong order.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
. "$BOOTDROP_SRCDIR/tests/deploy/deploylib.sh"
command -v rsync >/dev/null || { echo "rsync not installed"; exit 77; }
CHECK="python3 $BOOTDROP_SRCDIR/tests/deploy/check_mirror.py"

# release REPO : one more version with a new 1 MiB world.
release() {
	make_world "$T/world.tgz" 1
	make_repo "$1"
}
# same_files A B : the same regular files with the same bytes.
same_files() {
	diff <(cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum) \
		<(cd "$2" && find . -type f | LC_ALL=C sort | xargs sha256sum) >/dev/null
}

# An rsync that checks the mirror after each run and can run a hook
# (a release on the source) after run N.
mkdir -p "$T/bin"
cat >"$T/bin/rsync" <<'EOF'
#!/bin/bash
/usr/bin/rsync "$@" || exit
n=$(( $(cat "$STEPS" 2>/dev/null || echo 0) + 1 )); echo "$n" >"$STEPS"
$CHECK "$MIRROR_DIR" | sed "s/^/after rsync run $n: /" >>"$VIOLATIONS"
if [ "$n" = "${HOOK_AT:-}" ]; then eval "$HOOK"; fi
exit 0
EOF
chmod +x "$T/bin/rsync"
export CHECK STEPS=$T/steps VIOLATIONS=$T/violations MIRROR_DIR=$T/mirror
export PUBLISH TEST_SEC CH T
# checked_sync DESC SOURCE : bootdrop-mirror through the checking rsync.
checked_sync() {
	rm -f "$STEPS"; : >"$VIOLATIONS"
	expect_status 0 "$1: bootdrop-mirror" env RSYNC="$T/bin/rsync" "$MIRROR" -q "$2" "$T/mirror"
	# five copying runs and the dry run comparing immutable files
	[ "$(cat "$STEPS")" = 6 ] && ok "$1: six rsync runs" || fail "$1: $(cat "$STEPS") rsync runs"
	[ -s "$VIOLATIONS" ] && fail "$1: $(cat "$VIOLATIONS")" || ok "$1: mirror consistent after every run"
}

for i in 1 2 3; do release "$T/src"; done
checked_sync "first sync" "$T/src"
same_files "$T/src" "$T/mirror" && ok "mirror holds the source's files" || fail "mirror differs"
[ -z "$(find "$T/mirror" \( -type f ! -perm 0644 \) -o \( -type d ! -perm 0755 \))" ] &&
	ok "mirror files 0644, directories 0755" || fail "modes: $(find "$T/mirror" -printf '%m %p\n')"

# A release lands on the source after the blobs were copied: the mirror
# must keep the manifest it started with, never the new one without its blob.
export HOOK_AT=2 HOOK='head -c 100000 /dev/urandom >"$T/w4" && "$PUBLISH" release -r "$T/src" -c "$CH" -s "$TEST_SEC" kernel="$T/kernel" world="$T/w4" >/dev/null'
checked_sync "release during sync" "$T/src"
unset HOOK_AT
[ -f "$T/src/channels/$CH/4.json" ] && cmp -s "$T/mirror/channels/$CH/manifest.json" "$T/src/channels/$CH/3.json" &&
	ok "the mirror serves version 3 until the next sync" || fail "mid-sync release handling"
checked_sync "next sync" "$T/src"
same_files "$T/src" "$T/mirror" && ok "next sync brings version 4" || fail "mirror differs after next sync"

# A release, then the source drops the blob of the version the mirror
# still serves (prune --keep 1): deleted last, once manifest.json moved on.
release "$T/src"
old=$(python3 -c 'import base64,json,sys; p=json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"])); print([a["sha256"] for a in p["artifacts"] if a["name"] != "kernel"][0])' "$T/src/channels/$CH/4.json")
rm "$T/src/blobs/sha256/$old"
checked_sync "sync after prune" "$T/src"
[ ! -e "$T/mirror/blobs/sha256/$old" ] && ok "dropped blob deleted on the mirror" || fail "dropped blob kept"
same_files "$T/src" "$T/mirror" && ok "mirror equals the source" || fail "mirror differs after prune"
expect_status 0 "--no-delete" "$MIRROR" -q --no-delete "$T/src" "$T/mirror"
touch "$T/mirror/blobs/sha256/$old"
"$MIRROR" -q --no-delete "$T/src" "$T/mirror"
[ -e "$T/mirror/blobs/sha256/$old" ] && ok "--no-delete keeps extra files" || fail "--no-delete deleted"
"$MIRROR" -q -n "$T/src" "$T/mirror"
[ -e "$T/mirror/blobs/sha256/$old" ] && ok "-n changes nothing" || fail "-n deleted"
expect_status 1 "usage error" "$MIRROR" "$T/src"

# Control: the checker sees a mirror updated manifests-first.
mkdir -p "$T/wrong"
/usr/bin/rsync -r "$T/src/channels" "$T/wrong/"
$CHECK "$T/wrong" >/dev/null && fail "control: checker missed manifests without blobs" ||
	ok "control: checker catches manifests copied before blobs"

# A reader in a loop through nginx while a slowed sync fills an empty mirror.
[ -x /usr/sbin/nginx ] || { echo "nginx not installed: skipping the reader loop"; finish; }
rm -rf "$T/src" "$T/mirror"
for i in 1 2 3 4 5 6; do release "$T/src"; done
mkdir -p "$T/mirror"
start_kit_nginx "$T/mirror" || { fail "nginx did not start"; finish; }
# reader : fetches into a fresh directory until $T/stop exists; one line
# per attempt in $T/reader.log.
reader() {
	while [ ! -e "$T/stop" ]; do
		rm -rf "$T/r"; mkdir -p "$T/r"
		"$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/r" "$nginx_url" >/dev/null 2>&1
		echo "$?" >>"$T/reader.log"
	done
}
# attempts_after N : waits until the reader finished N more attempts.
attempts_after() {
	local want=$(( $(wc -l <"$T/reader.log") + $1 )) i
	for i in $(seq 600); do
		[ "$(wc -l <"$T/reader.log")" -ge "$want" ] && return 0
		sleep 0.05
	done
	return 1
}
# blob_misses : requests for a blob or a versioned manifest that were 404.
blob_misses() {
	grep -cE '^404 GET /(blobs/|channels/[^/]+/[0-9]+\.json)' "$T/kit.access"
}
start_reader() {
	rm -f "$T/stop"; : >"$T/reader.log"; : >"$T/kit.access"
	reader & reader_pid=$!; _bd_pids+=($reader_pid)
	attempts_after 1
}
stop_reader() {
	attempts_after 2; touch "$T/stop"; wait "$reader_pid"
}

start_reader
before=$(wc -l <"$T/reader.log")
expect_status 0 "slowed sync of six versions" "$MIRROR" -q "$T/src" "$T/mirror" -- --bwlimit=4000
during=$(( $(wc -l <"$T/reader.log") - before ))
release "$T/src"
expect_status 0 "slowed sync of a seventh" "$MIRROR" -q "$T/src" "$T/mirror" -- --bwlimit=4000
stop_reader
total=$(wc -l <"$T/reader.log") good=$(grep -cx 0 "$T/reader.log")
# (how many depends on the machine's load: at least one must have ended
# while the sync ran, or the reader proved nothing about it)
[ "$during" -ge 1 ] && ok "$during fetches ended during the first sync" || fail "no fetch ended during the sync"
[ "$good" -ge 2 ] && ok "$good of $total fetches installed" || fail "$good of $total fetches installed"
[ "$(blob_misses)" -eq 0 ] && ok "no fetch met a manifest whose blobs were missing" ||
	fail "$(blob_misses) blob requests were 404: $(grep '^404' "$T/kit.access" | head -3)"
grep -qE '^200 GET /channels/[^/]+/manifest\.json' "$T/kit.access" && [ "$(tail -n 1 "$T/reader.log")" = 0 ] &&
	ok "the last fetch installed from the synced mirror" || fail "reader never installed at the end"

# Control: the same reader against a sync in the wrong order (manifests,
# then blobs) meets missing blobs, so the check above has teeth.
rm -rf "$T/mirror"/*
start_reader
/usr/bin/rsync -r "$T/src/channels" "$T/mirror/"
attempts_after 2
/usr/bin/rsync -r "$T/src/blobs" "$T/mirror/"
stop_reader
[ "$(blob_misses)" -ge 1 ] && ok "control: manifests-first sync shows readers missing blobs" ||
	fail "control: the reader missed the wrong order"

finish
