#!/bin/bash
# Responses framed wrongly are transport errors that say what happened
# (exit 2), not "Out of memory" or "malformed input": a 10 MB header line,
# and two Content-Length headers that disagree.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

make_repo "$T/repo" -e 1h
# refused DESC MODE REGEX
refused() {
	fresh_dest
	start_evil "$2" "$T/repo"
	snapshot
	expect_status 2 "$1" fetch -d "$T/dest" "$url" &&
		expect_err "$3" "$1: message"
	unchanged "$1"
	kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
}
refused "a 10 MB response header" hugeheader "headers are too large"
refused "two different Content-Length headers" twolengths "two different Content-Length headers"
finish
