# tests/bench/lib.sh - what the fetch benchmark scripts share.  Sourced
# first, with the script's arguments: goes to the top of the source tree,
# builds BUILDDIR ($1, default build), sets RUNS (BENCH_RUNS, default 5)
# and sources the test helpers.  bench_median and bench_rss_kib work in
# $out, emptied before each run.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
top=$PWD
build=${1:-${BOOTDROP_BUILD:-$top/build}}
RUNS=${BENCH_RUNS:-5}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null || exit 1
export BOOTDROP_SRCDIR=$top BOOTDROP_BUILDDIR=$build \
	BOOTDROP_TESTDATA=$top/tests/data BOOTDROP_TESTLIB=$top/tests/lib.sh
. "$top/tests/lib.sh"
. "$top/tests/fetch/common.sh"

# bench_need TOOL... : ends the benchmark unless every TOOL is there.
bench_need() {
	local tool
	for tool; do
		command -v "$tool" >/dev/null || { echo "bench: $tool missing" >&2; exit 1; }
	done
}

# bench_median CMD... : median wall seconds of $RUNS runs of CMD, each into
# a fresh, empty $out with the page cache's dirty data flushed first; a
# failing run ends the benchmark.
bench_median() {
	local i t0 t1 times=()
	for i in $(seq "$RUNS"); do
		rm -rf "$out"; mkdir -p "$out"; sync
		t0=$(date +%s.%N)
		"$@" || { echo "bench: $* failed" >&2; exit 1; }
		t1=$(date +%s.%N)
		times+=("$(echo "$t1 - $t0" | bc -l)")
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

# bench_rss_kib CMD... : the maximum resident set size of one run of CMD
# (a program, not a shell function) into a fresh $out.
bench_rss_kib() {
	rm -rf "$out"; mkdir -p "$out"; sync
	/usr/bin/time -v "$@" 2>&1 >/dev/null |
		sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p'
}
