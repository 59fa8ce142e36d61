#!/bin/bash
# tests/bench/walk.sh - how long bootdrop-fetch takes to follow a channel's
# chain: a repository whose version 1 is signed by key A, version 2 rotates
# to key B and every later version is a refresh by B, served by
# bootdrop-server on 127.0.0.1.  A guest holding only A must walk every
# version; one holding B accepts the newest directly.  Both run with
# --check (verify, write nothing), so the difference is the walk.
#
# Prints, for each length, the median of RUNS runs (default 5) of the walk
# and of the direct acceptance, and the requests the walk made (from the
# server's access log).  Target (issue 9): 100 versions well under 1 s.
#
# Usage: tests/bench/walk.sh [BUILDDIR]   (BENCH_RUNS=N, WALK_LENGTHS="100 1000")
. "$(dirname "$0")/lib.sh" "$@"
LENGTHS=${WALK_LENGTHS:-100 1000}
bench_need bc
K=$TESTDATA/keys
B_PUB=$(tail -n 1 "$K/minisign.pub")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timed ARGS... : seconds one bootdrop-fetch --check run takes (exit 0 or
# 100, "an update is available", count as success)
timed() {
	local t0 t1 rc
	t0=$(date +%s.%N)
	"$FETCH" "$@" >/dev/null 2>"$T/timed.err"
	rc=$?
	t1=$(date +%s.%N)
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 100 ]; then
		cat "$T/timed.err" >&2; echo fail; return
	fi
	echo "$t1 - $t0" | bc
}

printf '%-9s %12s %12s %9s\n' versions "walk (s)" "direct (s)" requests
for n in $LENGTHS; do
	repo=$T/repo$n
	make_repo "$repo" -e 90d
	"$PUBLISH" rotate -r "$repo" -c "$CH" -s "$TEST_SEC" -s "$K/minisign.key" \
		--keys "$K/minisign.pub" >/dev/null || exit 1
	for _ in $(seq 3 "$n"); do
		"$PUBLISH" refresh -r "$repo" -c "$CH" -s "$K/minisign.key" -e 90d >/dev/null || exit 1
	done
	"$SERVER" -r "$repo" -l 127.0.0.1:0 --access-log "$T/walk$n.log" \
		>"$T/server$n.out" 2>&1 &
	pid=$!
	url=$(wait_listening "$T/server$n.out") || exit 1
	mkdir -p "$T/dest$n"
	walk=$(for _ in $(seq "$RUNS"); do timed -P "$PUBKEY" -c "$CH" -d "$T/dest$n" --check "$url"; done | median)
	: >"$T/walk$n.log"
	"$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest$n" --check "$url" >/dev/null 2>&1
	requests=$(grep -c 'GET /channels/' "$T/walk$n.log")
	direct=$(for _ in $(seq "$RUNS"); do timed -P "$B_PUB" -c "$CH" -d "$T/dest$n" --check "$url"; done | median)
	printf '%-9s %12s %12s %9s\n' "$n" "$walk" "$direct" "$requests"
	kill "$pid"; wait "$pid" 2>/dev/null
done
