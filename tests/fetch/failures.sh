#!/bin/bash
# Failures are decided by what happened, not by the words that describe
# it: an HTTP status as a number (404 and 410 mean "not on this mirror",
# 500 means the mirror failed), whatever the message says.  Through the
# walk over versioned manifests and through --audit.  And a damaged intent
# record in a directory names the command that clears it.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

K=$TESTDATA/keys
B=$K/minisign.key
B_PUB=$(tail -n 1 "$K/minisign.pub")
man() { echo "$1/channels/$CH/$2.json"; }
stop() { kill "$evil_pid"; wait "$evil_pid" 2>/dev/null; }

# Version 1 by the test key, version 2 rotates to B: a guest that trusts
# the test key must walk 1.json and 2.json.
make_repo "$T/r" -e 1d
"$PUBLISH" rotate -r "$T/r" -c "$CH" -s "$TEST_SEC" -s "$B" --keys "$B_PUB" -e 1d >/dev/null ||
	fail "rotate"
"$PUBLISH" refresh -r "$T/r" -c "$CH" -s "$B" -e 1d >/dev/null || fail "refresh"

# The walk: a version answered 410 Gone everywhere is missing (exit 3,
# the chain refused); answered 500 it is a failed mirror (exit 2).
fresh_dest; snapshot
start_evil versions-410 "$T/r" gone
expect_status 3 "walk: versions 410 Gone on every mirror" fetch -d "$T/dest" "$url" &&
	expect_err "no chain of versions from the trusted keys: version 1 is on no mirror" \
		"walk: 410 counts as missing"
unchanged "walk 410"
gone=$url
start_evil versions-500 "$T/r" broken
expect_status 2 "walk: versions 500 on every mirror" fetch -d "$T/dest" "$url" &&
	expect_err "HTTP status 500" "walk: 500 is the mirror's failure"
broken=$url
expect_status 3 "walk: 410 on one mirror, 500 on the other" fetch -d "$T/dest" "$broken" "$gone" &&
	expect_err "version 1 is on no mirror" "walk: the 410 decides, not the 500"
unchanged "walk 410 and 500"

# --audit: 404 and 410 are "missing" (exit 3), 500 "unreachable" (exit 2).
rm -rf "$T/r404"; cp -a "$T/r" "$T/r404"; rm "$(man "$T/r404" 2)"
start_evil normal "$T/r404" r404
expect_status 3 "audit: 2.json 404" "$FETCH" --audit -c "$CH" "$url" &&
	expect_err "audit of $url: missing at version 2: HTTP status 404" "audit: 404 is missing"
expect_status 3 "audit: versions 410" "$FETCH" --audit -c "$CH" "$gone" &&
	expect_err "audit of $gone: missing at version 1: HTTP status 410" "audit: 410 is missing"
expect_status 2 "audit: versions 500" "$FETCH" --audit -c "$CH" "$broken" &&
	expect_err "audit of $broken: unreachable at version 1: HTTP status 500" "audit: 500 is unreachable"
expect_status 3 "audit: no such channel (manifest.json 404)" "$FETCH" --audit -c other "$url" &&
	expect_err "audit of $url: missing at version 0: manifest.json: HTTP status 404" \
		"audit: manifest.json 404 is missing"

# A damaged intent record in a directory: exit 4 naming the command that
# clears it and what that costs; that command, run as given, lets the
# next run install (tests/ext2/damaged.sh does the same for --ext2).
stop
start_evil normal "$T/r" plain
fresh_dest
mkdir -p -m 700 "$T/dest/.bootdrop"
printf 'garbage\n' >"$T/dest/.bootdrop/pending"
expect_status 4 "-d: a damaged intent record" fetch -d "$T/dest" "$url" &&
	expect_err "damaged intent record .*remove it: rm '$T/dest/.bootdrop/pending' - this abandons.*the state stays at the old one" \
		"-d: damaged record: names the command and its cost"
cmd=$(sed -n "s/.*remove it: \(rm '[^']*'\) - this abandons.*/\1/p" "$T/last.err")
eval "$cmd"
expect_status 0 "-d: after the command the install runs" fetch -d "$T/dest" "$url"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "-d: installed after the damaged record" ||
	fail "-d: world differs after the damaged record"
finish
