#!/bin/bash
# bootdrop-publish as a new user meets it (issue 21): rotate and refresh
# keep the channel's lifetime, options after NAME=FILE, and the messages
# for a channel that is not there and a version prune emptied.
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
unset POSIXLY_CORRECT
C=lifetime

make_kernel kernel i386
echo "notes v1" > notes.txt
"$PUBLISH" keygen -W -p new.pub -s new.key >/dev/null

# expires - created of the newest version, in seconds.
lifetime() {
	"$PUBLISH" show -r repo -c "$1" >"$T/show.out" || return 1
	local c e
	c=$(sed -n 's/^created   //p' "$T/show.out")
	e=$(sed -n 's/^expires   \([^ ]*\).*/\1/p' "$T/show.out")
	echo $(( $(date -u -d "$e" +%s) - $(date -u -d "$c" +%s) ))
}

# Options after NAME=FILE are options (GNU getopt permutes).
expect_status 0 "release with -e 90d after NAME=FILE" "$PUBLISH" release \
	-r repo -c $C -s "$TEST_SEC" kernel=kernel notes=notes.txt -e 90d
expect_eq "$(lifetime $C)" $((90 * 86400)) "-e after NAME=FILE gives 90 days"

# Item 5: rotate and refresh keep the 90 days without -e.
expect_status 0 "refresh without -e" "$PUBLISH" refresh -r repo -c $C \
	-s "$TEST_SEC"
expect_eq "$(lifetime $C)" $((90 * 86400)) "refresh keeps the 90-day lifetime"
expect_status 0 "rotate without -e" "$PUBLISH" rotate -r repo -c $C \
	-s "$TEST_SEC" -s new.key --keys new.pub
expect_eq "$(lifetime $C)" $((90 * 86400)) "rotate keeps the 90-day lifetime"
expect_status 0 "refresh with -e 12h" "$PUBLISH" refresh -r repo -c $C \
	-s new.key -e 12h
expect_eq "$(lifetime $C)" $((12 * 3600)) "refresh -e 12h sets 12 hours"
expect_status 0 "refresh after -e 12h" "$PUBLISH" refresh -r repo -c $C \
	-s new.key
expect_eq "$(lifetime $C)" $((12 * 3600)) "the next refresh keeps 12 hours"
expect_status 0 "release without -e" "$PUBLISH" release -r repo -c $C \
	-s new.key -f kernel=kernel
expect_eq "$(lifetime $C)" $((30 * 86400)) "release without -e: 30 days"

expect_status 0 "--help" "$PUBLISH" --help
grep -q "Options may come before or" "$T/last.out" && grep -q "after NAME=FILE; '--' ends them" "$T/last.out" &&
	grep -q "rotate and refresh keep the channel's lifetime" "$T/last.out" &&
	ok "--help says where options go and that the lifetime is kept" || fail "--help silent"

# '--' still ends the options: what follows is NAME=FILE, and an option
# there is refused with a message saying where options go.
expect_status 1 "-e after --" "$PUBLISH" release -r repo2 -c $C \
	-s "$TEST_SEC" -- kernel=kernel -e 90d
expect_err "expected NAME=FILE, got '-e': options go before '--'" \
	"-e after -- is named and where options go is said"
[ ! -e repo2 ] && ok "the refused release made no repository" ||
	fail "repo2 left behind"
expect_status 0 "NAME=FILE starting with - after --" "$PUBLISH" release \
	-r repo2 -c $C -s "$TEST_SEC" -e 1d -- kernel=kernel -x=notes.txt
grep -q "artifact  -x " <("$PUBLISH" show -r repo2 -c $C) &&
	ok "-x=notes.txt after -- is an artifact" || fail "-x=FILE after -- lost"
expect_status 1 "POSIXLY_CORRECT: option after NAME=FILE" env \
	POSIXLY_CORRECT=1 "$PUBLISH" release -r repo2 -c $C -s "$TEST_SEC" \
	kernel=kernel -e 90d
expect_err "with POSIXLY_CORRECT set, before NAME=FILE" \
	"POSIXLY_CORRECT: the message says where options go"

# Item 14: a channel that is not there.
expect_status 1 "show -c nochan" "$PUBLISH" show -r repo -c nochan
expect_eq "$(cat "$T/last.err")" "bootdrop-publish: no channel nochan in repo" \
	"show names the channel and the repository"
expect_status 1 "verify -c nochan" "$PUBLISH" verify -r repo -c nochan
expect_eq "$(cat "$T/last.err")" "bootdrop-publish: no channel nochan in repo" \
	"verify names the channel and the repository"

# verify -n of a version whose blob prune removed.
P=pruned
echo "only in v1" > old.txt
expect_status 0 "release $P v1" "$PUBLISH" release -r repo -c $P \
	-s "$TEST_SEC" kernel=kernel old=old.txt
expect_status 0 "release $P v2" "$PUBLISH" release -r repo -c $P \
	-s "$TEST_SEC" kernel=kernel
expect_status 0 "prune -k 1" "$PUBLISH" prune -r repo -k 1
expect_status 3 "verify -n 1 after prune" "$PUBLISH" verify -r repo -c $P -n 1
expect_err "version 1 was pruned: repo/blobs/sha256/$(sha256sum old.txt | cut -d' ' -f1) \(artifact old\) is gone" \
	"names the pruned version and its blob"
grep -q "sha256 mismatch" "$T/last.err" && fail "still says sha256 mismatch" ||
	ok "no sha256 mismatch for a pruned version"
expect_status 0 "verify -n 2 after prune" "$PUBLISH" verify -r repo -c $P -n 2
# A blob of the newest version that is gone is still damage (exit 3).
rm "repo/blobs/sha256/$(sha256sum kernel | cut -d' ' -f1)"
expect_status 3 "verify with the newest version's blob gone" "$PUBLISH" \
	verify -r repo -c $P

finish
