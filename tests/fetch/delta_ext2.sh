#!/bin/bash
# Delta downloads into an --ext2 slice: the seed is the file version 1
# installed inside the (unmounted) image, read through the install's own
# checked walk on a read-only, checked-sound open of the image.  Version
# 2 moves far fewer bytes than its world, the image stays sound and holds
# version 2's world byte for byte; a seed altered inside the image costs
# only its chunks; a delta cut short leaves the image byte for byte as it
# was (seeding writes nothing) and its part resumes.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server
for p in mkfs.ext2 e2fsck debugfs; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done

mkdir -p "$T/tmp"
chunked_worlds
img=$T/boot.img

# v1_image : a fresh image holding version 1, installed from repo1.
v1_image() {
	rm -f "$img"; rm -rf "$T/tmp"; mkdir -p "$T/tmp"
	mkfs.ext2 -q -F "$img" 32M >/dev/null
	serve "$T/repo1"
	expect_status 0 "install version 1 into the image" \
		fetch --ext2 "$img" --tmpdir "$T/tmp" "$url" >/dev/null
	stop_servers
}
# delta_event FILE : "reused fetched size" of the one delta event of --json.
delta_event() {
	python3 -c 'import json, sys
d = [e for e in (json.loads(l) for l in open(sys.argv[1]) if l.strip())
     if e.get("event") == "delta"]
assert len(d) == 1 and d[0]["name"] == "world", d
print(d[0]["reused"], d[0]["fetched"], d[0]["size"])' "$1"
}
# installed_v2 DESC : the image is sound and holds version 2's world.
installed_v2() {
	fsck_clean "$1" "$img"
	same_bytes "$1" "$img" world.txt "$T/v2/world.txt"
}

# --- version 1 -> 2 by chunks, the seed read out of the image
v1_image
: > "$T/server.log"
serve "$T/repo"
expect_status 0 "install version 2 into the image by chunks" \
	fetch --json --ext2 "$img" --tmpdir "$T/tmp" "$url"
if read -r reused fetched size < <(delta_event "$T/last.out") &&
    [ "$fetched" -gt 0 ] && [ "$fetched" -lt $((size / 4)) ] &&
    [ "$reused" -gt $((size / 2)) ]; then
	ok "--json: $reused bytes reused from the image, $fetched fetched, of $size"
else
	fail "no delta event, or not by chunks: $(cat "$T/last.out" "$T/last.err")"
fi
clean_fetched=${fetched:-0}
installed_v2 "delta"
stop_servers
delta_moved
[ "$(find "$T/tmp" -type f | wc -l)" -eq 0 ] && ok "no part left in --tmpdir" ||
	fail "parts left: $(ls -R "$T/tmp")"

# --- a seed altered inside the image: only its chunks are fetched
v1_image
cp "$T/world.txt" "$T/altered.txt"
printf 'ALTERED' | dd of="$T/altered.txt" bs=1 seek=1000000 conv=notrunc status=none
printf '%s\n' "rm /world.txt" "write $T/altered.txt /world.txt" |
	debugfs -w -f - "$img" >/dev/null 2>&1
same_bytes "altered seed: debugfs wrote it" "$img" world.txt "$T/altered.txt"
serve "$T/repo"
expect_status 0 "an altered seed inside the image" \
	fetch --json --ext2 "$img" --tmpdir "$T/tmp" "$url"
if read -r reused fetched size < <(delta_event "$T/last.out") &&
    [ "$fetched" -gt "$clean_fetched" ] &&
    [ "$fetched" -lt $((clean_fetched + 256 * 1024)) ]; then
	ok "altered seed: $fetched bytes fetched against $clean_fetched unaltered (its chunks only)"
else
	fail "altered seed: fetched ${fetched:-?} against $clean_fetched: $(cat "$T/last.err")"
fi
installed_v2 "altered seed"
stop_servers

# --- a delta cut short: nothing written to the image, the part resumes
v1_image
index1=$("$PUBLISH" show -r "$T/repo1" -c $CH | awk '$1 == "chunks" { print $2 }')
isz=$(( $(stat -c %s "$blobs/$index2") + $(stat -c %s "$blobs/$index1") ))
before=$(sha256sum < "$img")
start_evil normal "$T/repo" dying --die-after $((isz + rbytes / 2))
expect_status 2 "the only mirror dies in the middle of the delta" \
	fetch --ext2 "$img" --tmpdir "$T/tmp" "$url"
[ "$(sha256sum < "$img")" = "$before" ] &&
	ok "cut short: the image is byte for byte as it was (seeding wrote nothing)" ||
	fail "cut short: the image was written"
part=$(find "$T/tmp" -name "$world2.part")
[ -n "$part" ] && [ -s "$part" ] && ok "cut short: the part is kept in --tmpdir" ||
	fail "cut short: no part kept"
kill "$evil_pid" 2>/dev/null; wait "$evil_pid" 2>/dev/null
start_evil normal "$T/repo" second
expect_status 0 "rerun after the cut" fetch --ext2 "$img" --tmpdir "$T/tmp" "$url"
got=$(grep -c "^GET /blobs/sha256/$pack2 " "$T/second.log")
[ "$got" -lt "$full" ] && ok "rerun: $got pack ranges of $full" ||
	fail "rerun: $got pack requests, a full delta $full"
installed_v2 "rerun"
kill "$evil_pid" 2>/dev/null; wait "$evil_pid" 2>/dev/null
finish
