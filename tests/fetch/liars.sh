#!/bin/bash
# A mirror that answers a Range with the right status, Content-Range and
# Content-Length but other bytes is a liar, and is named: the artifact
# still installs from the honest mirrors, and the warning names the liar
# and nobody else.  A liar alone is a hash failure (exit 3) naming it.
# Blobs have a deadline: a mirror trickling above the low-speed limit is
# given up on, and the next mirror serves the blob.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

make_world "$T/world.tgz" 20
make_repo "$T/repo"
world_hex=$(sha256sum "$T/world.tgz" | cut -d' ' -f1)
mpids=()

installed() {
	cmp -s "$T/dest/world.tgz" "$T/world.tgz" && cmp -s "$T/dest/boot/kernel" "$T/kernel" &&
		ok "$1: installed byte for byte" || fail "$1: installed files differ"
}
# named DESC LIAR HONEST... : the warning names the liar, none names an
# honest mirror.
named() {
	local desc=$1 liar=$2 h
	shift 2
	expect_err "warning: mirror $liar excluded for world: sent bytes [0-9]+-[0-9]+ other than" \
		"$desc: the liar is named"
	for h in "$@"; do
		grep -F "warning: mirror $h " "$T/last.err" &&
			fail "$desc: honest $h named" || ok "$desc: honest $h not named"
	done
}
ranges_asked() {
	grep -c "^GET /blobs/sha256/$world_hex range=bytes=" "$1"
}

# Three mirrors, the middle one lies on every Range.
fresh_dest
mirrors normal rangelie normal
expect_status 0 "three mirrors, one lies on ranges" fetch --json -d "$T/dest" "${m[@]}"
installed "three mirrors"
[ "$(ranges_asked "$T/m1.log")" -gt 0 ] && ok "three mirrors: the liar was asked for ranges" ||
	fail "three mirrors: the liar never got a Range"
named "three mirrors" "${m[1]}" "${m[0]}" "${m[2]}"
grep -F '"event":"mirror"' "$T/last.out" | grep -qF "\"url\":\"${m[1]}\"" &&
	ok "three mirrors: named in the json events" || fail "three mirrors: no json event for the liar"
stop_mirrors

# Two mirrors, the liar first (it is the first one asked alone, and
# answers a whole request honestly: still named).
fresh_dest
mirrors rangelie normal
expect_status 0 "two mirrors, the first lies on ranges" fetch -d "$T/dest" "${m[@]}"
installed "two mirrors"
named "two mirrors" "${m[0]}" "${m[1]}"
stop_mirrors

# A liar on every response among honest mirrors.
fresh_dest
mirrors normal normal:--lie normal
expect_status 0 "three mirrors, one lies on everything" fetch -d "$T/dest" "${m[@]}"
installed "liar on everything"
named "liar on everything" "${m[1]}" "${m[0]}" "${m[2]}"
stop_mirrors

# One mirror resumed by a Range it answers with other bytes: the restart
# from byte 0 verifies, and the mirror is named for its range.
fresh_dest
mirrors cut-rangelie
expect_status 2 "resume from a liar: first run cut" fetch -d "$T/dest" "${m[@]}"
expect_status 0 "resume from a liar: rerun" fetch -d "$T/dest" "${m[@]}"
installed "resume from a liar"
named "resume from a liar" "${m[0]}"
stop_mirrors

# The liar alone: a hash failure, exit 3, the error line naming its URL.
fresh_dest
snapshot
mirrors normal:--lie
expect_status 3 "the liar alone" fetch -d "$T/dest" "${m[@]}"
expect_err "^bootdrop-fetch: refused artifact [a-z.]+ \\(${m[0]}/blobs/sha256/[0-9a-f]{64}\\): sha256 mismatch" "the liar alone: the error names it"
[ ! -e "$T/dest/.bootdrop/tmp" ] || [ -z "$(ls -A "$T/dest/.bootdrop/tmp")" ] &&
	ok "the liar alone: no refused bytes kept" || fail "the liar alone: parts left"
stop_mirrors

finish
