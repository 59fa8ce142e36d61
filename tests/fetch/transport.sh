#!/bin/bash
# Responses framed wrongly are transport errors that say what happened
# (exit 2), not "Out of memory" or "malformed input": a 10 MB header line,
# and two Content-Length headers that disagree.  A manifest dripped above
# the low-speed limit meets a deadline (4 low-speed windows).
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"

make_repo "$T/repo" -e 1h
# refused DESC MODE REGEX [FETCH ARGS...]
refused() {
	local desc=$1 mode=$2 re=$3
	shift 3
	fresh_dest
	start_evil "$mode" "$T/repo"
	snapshot
	expect_status 2 "$desc" fetch -d "$T/dest" "$@" "$url" &&
		expect_err "$re" "$desc: message"
	unchanged "$desc"
	kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
}
refused "a 10 MB response header" hugeheader "headers are too large"
refused "two different Content-Length headers" twolengths "two different Content-Length headers"
start=$SECONDS
refused "a manifest dripped at 2 KiB/s" drip "not complete after 4 s" --low-speed-time 1
[ $((SECONDS - start)) -lt 30 ] && ok "the drip ended within the deadline" ||
	fail "the drip took $((SECONDS - start)) s"
finish
