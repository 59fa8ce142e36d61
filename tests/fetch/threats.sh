#!/bin/bash
# Every threat of DESIGN.md against a misbehaving server: each case checks
# the exit status, the error line, and that DESTDIR and a directory
# outside it are unchanged byte for byte.
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

finish
