#!/bin/bash
# Responses framed wrongly are transport errors that say what happened
# (exit 2), not "Out of memory" or "malformed input": a 10 MB header line,
# and two Content-Length headers that disagree.  A manifest dripped above
# the low-speed limit meets a deadline (4 low-speed windows), and so does
# a blob request (4 low-speed windows plus its size at 16 KiB/s).
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

# A blob trickled at 2 KiB/s, above the low-speed limit: each request has
# a deadline of 4 low-speed windows plus its size at 16 KiB/s (for the
# 70024-byte kernel and --low-speed-time 1: 4 + 5 = 9 s).  Alone: exit 2
# naming the deadline, the bytes kept for a next run.  Before an honest
# mirror: the honest one finishes the blob.
"$PUBLISH" release -r "$T/krepo" -c "$CH" -s "$TEST_SEC" -e 1h kernel="$T/kernel" >/dev/null
kernel_size=$(stat -c %s "$T/kernel")
kernel_hex=$(sha256sum "$T/kernel" | cut -d' ' -f1)
fresh_dest
start_evil normal "$T/krepo" trickle --rate 2048
trickle=$url
start=$SECONDS
expect_status 2 "a blob trickled at 2 KiB/s" fetch -d "$T/dest" --low-speed-time 1 "$trickle" &&
	expect_err "not complete after 9 s \\([0-9]+ of $kernel_size bytes\\), the deadline for $kernel_size bytes at 16 KiB/s" \
		"trickled blob: the message names the deadline"
took=$((SECONDS - start))
[ "$took" -ge 8 ] && [ "$took" -lt 20 ] && ok "trickled blob: given up after $took s" ||
	fail "trickled blob: took $took s"
[ -s "$T/dest/.bootdrop/tmp/$kernel_hex.part" ] && ok "trickled blob: the bytes it sent are kept" ||
	fail "trickled blob: no part kept"
[ "$(cat "$T/dest/boot/kernel")" = old ] && ok "trickled blob: nothing installed" ||
	fail "trickled blob: kernel replaced"
fresh_dest
start_server "$T/krepo"
start=$SECONDS
expect_status 0 "a trickling mirror before an honest one" fetch -d "$T/dest" --low-speed-time 1 "$trickle" "$url"
took=$((SECONDS - start))
cmp -s "$T/dest/boot/kernel" "$T/kernel" && ok "trickling mirror: installed from the honest one" ||
	fail "trickling mirror: kernel differs"
[ "$took" -lt 20 ] && ok "trickling mirror: done in $took s" || fail "trickling mirror: took $took s"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
finish
