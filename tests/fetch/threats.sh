#!/bin/bash
# Every threat of DESIGN.md against a misbehaving server: each case checks
# the exit status, the error line, and that DESTDIR and a directory
# outside it are unchanged byte for byte.  The last part aims the blob
# threats at chunk indexes and packs, where each must end in an install
# (by chunks or whole), and adds forged chunks and zstd bombs.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

make_repo "$T/repo" -e 1h
env1=$T/repo/channels/$CH/manifest.json

# refused CASE STATUS REGEX REPO MODE [FETCH ARGS...] : serves REPO in MODE,
# fetches into a fresh DESTDIR and checks the refusal.
refused() {
	local desc=$1 want=$2 re=$3 repo=$4 mode=$5; shift 5
	fresh_dest
	ln -s "$T/outside" "$T/dest/link-out"
	start_evil "$mode" "$repo"
	snapshot
	expect_status "$want" "$desc" fetch -d "$T/dest" "$@" "$url" &&
		expect_err "$re" "$desc: message"
	expect_err "^bootdrop-fetch: .+ \(.+\): .+" "$desc: one error line with what and where"
	[ "$(grep -c . "$T/last.err")" -eq 1 ] && ok "$desc: exactly one line" ||
		fail "$desc: more than one line on stderr"
	[ "$want" -eq 2 ] && only_parts_left "$desc"
	unchanged "$desc"
	kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
}

# crafted NAME EDITS... : a copy of the repository whose manifest is
# re-signed (validly, with the test key) after EDITS.
crafted() {
	local name=$1; shift
	rm -rf "$T/$name"; cp -a "$T/repo" "$T/$name"
	python3 "$CRAFT" resign "$env1" "$TEST_SEC" \
		"$T/$name/channels/$CH/manifest.json" "$@" || fail "craft $name"
}

# wrong key
"$PUBLISH" keygen -W -p "$T/other.pub" -s "$T/other.key" >/dev/null
other=$(tail -n 1 "$T/other.pub")
fresh_dest; start_evil normal "$T/repo"; snapshot
expect_status 3 "wrong key" "$FETCH" -P "$other" -c "$CH" -d "$T/dest" "$url"
expect_err "manifest refused" "wrong key: message"
unchanged "wrong key"
kill "$evil_pid"

# threshold not met: two trusted keys, -t 2, one signature
fresh_dest; start_evil normal "$T/repo"; snapshot
expect_status 3 "threshold not met" "$FETCH" -P "$PUBKEY" -P "$other" -t 2 \
	-c "$CH" -d "$T/dest" "$url"
expect_err "threshold" "threshold: message"
unchanged "threshold"
kill "$evil_pid"
expect_status 1 "threshold above the number of keys" fetch -t 2 -d "$T/dest" "$url"

# tampered payload / trusted comment
rm -rf "$T/tp"; cp -a "$T/repo" "$T/tp"
python3 "$CRAFT" tamper-payload "$env1" "$T/tp/channels/$CH/manifest.json"
refused "tampered payload" 3 "signature" "$T/tp" normal
rm -rf "$T/tc"; cp -a "$T/repo" "$T/tc"
python3 "$CRAFT" tamper-comment "$env1" "$T/tc/channels/$CH/manifest.json"
refused "tampered trusted comment" 3 "trusted comment|signature" "$T/tc" normal

# expired: judged against a clock two days ahead (--now, deterministic)
later=$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)
refused "expired" 3 "expired" "$T/repo" normal --now "$later"
fresh_dest; start_evil normal "$T/repo"
expect_status 0 "expired with --allow-expired" fetch -d "$T/dest" --now "$later" --allow-expired "$url"
expect_err "warning: manifest expired" "--allow-expired warns"
kill "$evil_pid"

# rollback: the slice accepted version 2, the server offers version 1
rm -rf "$T/repo2"; cp -a "$T/repo" "$T/repo2"
"$PUBLISH" release -r "$T/repo2" -c "$CH" -s "$TEST_SEC" -e 1h -f kernel="$T/kernel" world="$T/world.tgz" >/dev/null
fresh_dest; start_evil normal "$T/repo2"
expect_status 0 "install version 2" fetch -d "$T/dest" "$url"
kill "$evil_pid"
start_evil normal "$T/repo"; snapshot
expect_status 3 "rollback to version 1" fetch -d "$T/dest" "$url"
expect_err "rollback" "rollback: message"
unchanged "rollback"
kill "$evil_pid"

# equivocation: another payload under the accepted version 2
rm -rf "$T/eq"; cp -a "$T/repo2" "$T/eq"
python3 "$CRAFT" resign "$T/repo2/channels/$CH/manifest.json" "$TEST_SEC" \
	"$T/eq/channels/$CH/manifest.json" --set 'boot.title="another title"'
start_evil normal "$T/eq"; snapshot
expect_status 3 "equivocation" fetch -d "$T/dest" "$url"
expect_err "equivocation" "equivocation: message"
unchanged "equivocation"
kill "$evil_pid"

# artifacts: hash mismatch, longer than size, endless, short, HTTP error
refused "tampered blob (hash mismatch)" 3 "sha256 mismatch" "$T/repo" tamper
refused "blob longer than its size" 3 "more than the manifest" "$T/repo" extra
refused "endless blob" 3 "more than the manifest" "$T/repo" endless
crafted short --set "artifacts.1.size=$(( $(stat -c %s "$T/world.tgz") + 10 ))"
refused "blob shorter than its size" 3 "size mismatch" "$T/short" normal
refused "blob missing (404)" 2 "HTTP status 404" "$T/repo" 404
refused "slow server" 2 "network error" "$T/repo" slow --low-speed-time 2

# protocol downgrade and redirect loops
# (curl's own refusal, not a failed connection to the ftp port: in the
# words of Debian's libcurl, or of the static client's, built with neither
# ftp nor file; the loop stops at the limit of 5 redirects: the first
# request and 5 more)
refused "redirect to ftp://" 2 'refused: ([Pp]rotocol "ftp" not supported|The redirect target URL could not be parsed: Unsupported URL scheme)' "$T/repo" redirect-ftp
refused "redirect to file://" 2 'refused: [Pp]rotocol "file" not supported|network error: URL using bad/illegal format' "$T/repo" redirect-file
refused "redirect loop" 2 'refused: Maximum \(5\) redirects followed' "$T/repo" redirect-loop
expect_eq "$(grep -c '^GET /channels/' "$T/evil.log")" 6 "redirect loop: 1 request and 5 redirects followed"

# endless manifest
refused "oversized manifest" 3 "size limit" "$T/repo" bigmanifest

# install path escape, validly signed
crafted escape1 --set 'artifacts.1.install="../x"'
refused "install path ../x" 3 "schema|path" "$T/escape1" normal
crafted escape2 --set 'artifacts.1.install="/etc/x"'
refused "install path /etc/x" 3 "schema|path" "$T/escape2" normal
crafted escape3 --set 'artifacts.1.install=".bootdrop/state/test"'
refused "install path over the state" 3 "path" "$T/escape3" normal

# kernel image facts: signed facts that pvgrub cannot boot are refused
crafted elf --set 'artifacts.0.image.xen_pv=false'
refused "a pvgrub boot section over a kernel without Xen PV" 3 "no Xen PV support" "$T/elf" normal

# symlink planted at an install path's parent: refused, target untouched
fresh_dest; rm -rf "$T/dest/boot"; ln -s "$T/outside" "$T/dest/boot"
start_evil normal "$T/repo"; snapshot
expect_status 3 "symlinked parent directory" fetch -d "$T/dest" "$url"
expect_err "symlink" "symlinked parent: message"
unchanged "symlinked parent"
kill "$evil_pid"

# symlink planted at the install path itself: replaced, never followed
fresh_dest; ln -s "$T/outside/file" "$T/dest/world.tgz"
start_evil normal "$T/repo"
before_out=$(tree_digest "$T/outside")
expect_status 0 "symlink at the install path" fetch -d "$T/dest" "$url"
[ ! -L "$T/dest/world.tgz" ] && cmp -s "$T/dest/world.tgz" "$T/world.tgz" &&
	ok "symlink replaced by the file" || fail "symlink not replaced"
[ "$(tree_digest "$T/outside")" = "$before_out" ] && ok "symlink target untouched" ||
	fail "symlink target changed"
kill "$evil_pid"

# a bad mirror first costs time, never safety
fresh_dest
start_evil tamper "$T/repo" bad; bad=$url
start_evil normal "$T/repo" good; good=$url
expect_status 0 "tampering mirror, then a good one" fetch -d "$T/dest" "$bad" "$good"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "good mirror's bytes installed" || fail "world differs"
start_evil normal "$T/tp" badm; badm=$url
fresh_dest
expect_status 0 "forged manifest on the first mirror" fetch -d "$T/dest" "$badm" "$good"
expect_err "trying the next mirror" "mirror failover warns"

# ---- The blob threats against chunk indexes and packs (issue 22) --------
# A guest holding version 1 of a chunked world (chunked_versions) installs
# version 2 from a mirror misbehaving on one blob alone: version 2's index,
# version 1's (the seed's, fetched again for the delta) or version 2's
# pack.  Every case ends with version 2 installed byte for byte, by chunks
# or by a whole download of the world (which one each case says; a whole
# download says why), never a refusal, a wrong install or a crash, and no
# part is left.  A pack threat before an honest mirror costs nothing: the
# delta completes from the honest one.  A mirror serving zstd bombs in the
# pack (a chunk's frame declaring, or expanding to, 64 times its raw
# length, at the chunk's stored length) is refused chunk by chunk and named,
# as is one forging chunks.
CHUNKS=$FETCHDIR/chunks.py
chunked_versions
crelease() {
	"$PUBLISH" release -r "$T/crepo" -c "$CH" -s "$TEST_SEC" -e 1h \
		kernel="$T/v$1/kernel" world="$T/v$1/world.txt" \
		$([ "$1" = 1 ] && echo extra="$T/v1/extra.txt") >/dev/null || fail "chunked release $1"
}
crelease 1
index1=$("$PUBLISH" show -r "$T/crepo" -c "$CH" | awk '$1 == "chunks" { print $2 }')
cp -a "$T/crepo" "$T/crepo1"
crelease 2
chunk_blobs "$T/crepo"
cblobs=$T/crepo/blobs/sha256
[ -n "$index1" ] && [ -s "$cblobs/$pack2" ] && ok "chunked world: indexes and pack published" ||
	fail "chunked world: no index or pack"
start_evil normal "$T/crepo1" cv1
rm -rf "$T/cbase"; mkdir -p "$T/cbase"
expect_status 0 "chunked world: version 1 installed" fetch -d "$T/cbase" "$url"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# chunk_threat DESC HOW MODE BLOB [MIRROR OPTIONS...] : version 2 from a
# mirror in MODE for BLOB alone (its hex name), serving $crepo (default
# $T/crepo), followed by the mirror $good when set; fetch gets ${cargs[@]}.
# HOW: delta or whole.
chunk_threat() {
	local desc=$1 want=$2 mode=$3 blob=$4 whole packs got ms
	shift 4
	rm -rf "$T/dest"; cp -a "$T/cbase" "$T/dest"
	start_evil "$mode" "${crepo:-$T/crepo}" cbad --only "$blob" "$@"
	ms=("$url")
	[ -z "${good:-}" ] || ms+=("$good")
	: >"$T/cgood.log"
	expect_status 0 "chunks: $desc" fetch -d "$T/dest" "${cargs[@]}" "${ms[@]}"
	kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
	cmp -s "$T/dest/world.txt" "$T/v2/world.txt" && cmp -s "$T/dest/boot/kernel" "$T/v2/kernel" ||
		fail "chunks: $desc: not version 2"
	whole=$(cat "$T/cbad.log" "$T/cgood.log" | grep -c "^GET /blobs/sha256/$world2 ")
	packs=$(cat "$T/cbad.log" "$T/cgood.log" | grep -c "^GET /blobs/sha256/$pack2 ")
	if [ "$whole" -eq 0 ] && [ "$packs" -gt 0 ]; then got=delta
	elif [ "$whole" -gt 0 ]; then got=whole
	else got="no download"; fi
	if [ "$got" = "$want" ]; then
		ok "chunks: $desc: version 2 installed, $got"
	else
		fail "chunks: $desc: version 2's world came by $got, want $want"
		sed 's/^/    | /' "$T/last.err" >&2
	fi
	if [ "$got" = whole ]; then
		expect_err "warning: world: downloaded whole, not by chunks: " "chunks: $desc: the run says why it went whole"
	fi
	[ -z "$(find "$T/dest/.bootdrop" -name '*.part')" ] || fail "chunks: $desc: a part left behind"
}

cargs=()
for b in index2 index1 pack2; do
	h=${!b}
	chunk_threat "$b: hash mismatch" whole tamper "$h"
	chunk_threat "$b: longer than its size" whole extra "$h"
	chunk_threat "$b: endless" whole endless "$h"
	chunk_threat "$b: missing (404)" whole 404 "$h"
	chunk_threat "$b: cut in the middle" whole cut "$h"
	chunk_threat "$b: redirect to ftp://" whole redirect-ftp "$h"
	chunk_threat "$b: redirect to file://" whole redirect-file "$h"
	chunk_threat "$b: redirect loop" whole redirect-loop "$h"
	cargs=(--low-speed-time 2)
	chunk_threat "$b: slow" whole slow "$h"
	cargs=()
done
chunk_threat "pack2: Range ignored" whole norange "$pack2"
chunk_threat "pack2: ranges from one byte early" whole badrange "$pack2"
chunk_threat "pack2: ranges of zeros" whole rangelie "$pack2"
# shorter than its size: the blobs cut on the mirror
for b in index2 index1 pack2; do
	h=${!b}
	rm -rf "$T/cshort"; cp -a "$T/crepo" "$T/cshort"
	truncate -s $(( $(stat -c %s "$cblobs/$h") / 2 )) "$T/cshort/blobs/sha256/$h"
	crepo=$T/cshort chunk_threat "$b: shorter than its size" whole normal "$h"
done
# before an honest mirror, a lying pack costs only its own requests
start_evil normal "$T/crepo" cgood; good=$url goodpid=$evil_pid
chunk_threat "pack2: ranges of zeros, then an honest mirror" delta rangelie "$pack2"
chunk_threat "pack2: ranges from one byte early, then an honest mirror" delta badrange "$pack2"
chunk_threat "pack2: missing (404), then an honest mirror" delta 404 "$pack2"
cargs=(--low-speed-time 2)
chunk_threat "pack2: slow, then an honest mirror" delta slow "$pack2"
cargs=()

# Forged chunks (valid zstd frames of the raw length, other bytes: only
# each chunk's hash tells) and zstd bombs in every chunk the guest fetches:
# alone the world downloads whole; before an honest mirror the delta
# completes, the forger named for the first chunk it sent.
for k in forge 0 1; do
	rm -rf "$T/cbomb"; cp -a "$T/crepo" "$T/cbomb"
	case $k in
	forge) what="forged chunks" why="sha256 mismatch" ;;
	0) what="zstd bombs declaring 64 times their chunk" why="size limit exceeded" ;;
	1) what="zstd bombs expanding to 64 times their chunk" why="size limit exceeded" ;;
	esac
	"$CHUNKS" bomb "$cblobs/$index2" "$cblobs/$index1" "$cblobs/$pack2" \
		"$T/cbomb/blobs/sha256/$pack2" "$k" >"$T/bombs" || fail "cannot make $what"
	[ -s "$T/bombs" ] && ok "$what: $(grep -c . "$T/bombs") chunks of the pack" ||
		fail "no chunk to make $what of"
	good= crepo=$T/cbomb chunk_threat "$what" whole normal "$pack2"
	expect_err "warning: .*chunk [0-9]+ of pack .* refused: $why" "chunks: $what: refused ($why)"
	crepo=$T/cbomb chunk_threat "$what, then an honest mirror" delta normal "$pack2"
	expect_err "warning: .*${url}.*chunk [0-9]+ of pack .* refused: $why" \
		"chunks: $what: their mirror named"
done
good=
kill "$goodpid"; wait "$goodpid" 2>/dev/null

finish
