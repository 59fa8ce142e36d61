#!/bin/bash
# tests/bench/fetch.sh - bootdrop-fetch against plain downloaders, over
# loopback from nginx: a 256 MiB world and an 8 MiB kernel.
#
#   bootdrop-fetch        verify manifest, stream+hash, fsync, rename, state
#   curl -o F && sync F   no verification at all
#   wget -O F && sha256sum F && sync F
#
# Prints the median of RUNS runs (default 5) of each, the ratios, and peak
# RSS (/usr/bin/time -v); then bootdrop-fetch's peak RSS for a 16 MiB and a
# 1 GiB artifact, to show memory stays flat.  Targets: <= 1.15x curl+sync,
# >= 2.4x faster than the wget pipeline, peak RSS <= 16 MiB at any size.
#
# Usage: tests/bench/fetch.sh [BUILDDIR]   (default: build; BENCH_RUNS=N)
. "$(dirname "$0")/lib.sh" "$@"
bench_need curl wget /usr/sbin/nginx /usr/bin/time bc

echo "preparing: 8 MiB kernel, 256 MiB world, 16 MiB and 1 GiB artifacts in $T"
"$build/tests/mkkernel" i386 "$T/kernel" 8192 || exit 1
head -c $((256 << 20)) /dev/urandom >"$T/world.tgz"
head -c $((16 << 20)) /dev/urandom >"$T/small"
head -c $((1024 << 20)) /dev/urandom >"$T/large"
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" \
	kernel="$T/kernel" world="$T/world.tgz" >/dev/null || exit 1
"$PUBLISH" release -r "$T/repo" -c small -s "$TEST_SEC" \
	kernel="$T/kernel" world="$T/small" >/dev/null || exit 1
"$PUBLISH" release -r "$T/repo" -c large -s "$TEST_SEC" \
	kernel="$T/kernel" world="$T/large" >/dev/null || exit 1
start_nginx "$T/repo" || exit 1
kurl=$url/blobs/sha256/$(sha256sum "$T/kernel" | cut -d' ' -f1)
wurl=$url/blobs/sha256/$(sha256sum "$T/world.tgz" | cut -d' ' -f1)
out=$T/out

run_fetch() {
	"$FETCH" -q -P "$PUBKEY" -c "${1:-$CH}" -d "$out" "$url"
}
run_curl() {
	curl -sf -o "$out/kernel" "$kurl" && curl -sf -o "$out/world" "$wurl" &&
		sync "$out/kernel" "$out/world"
}
run_wget() {
	wget -q -O "$out/kernel" "$kurl" && wget -q -O "$out/world" "$wurl" &&
		sha256sum "$out/kernel" "$out/world" >/dev/null &&
		sync "$out/kernel" "$out/world"
}

# peak_rss_kib FN : maximum resident set size of one run (bash included).
peak_rss_kib() {
	export -f run_fetch run_curl run_wget
	export FETCH PUBKEY CH out url kurl wurl
	bench_rss_kib bash -c "$*"
}

# bootdrop-fetch alone (not the bash around it).
fetch_rss_kib() {
	bench_rss_kib "$FETCH" -q -P "$PUBKEY" -c "$1" -d "$out" "$url"
}

echo "runs: $RUNS per method (median), nginx on $url"
tf=$(bench_median run_fetch)
tc=$(bench_median run_curl)
tw=$(bench_median run_wget)
rf=$(fetch_rss_kib "$CH")
rc=$(peak_rss_kib run_curl)
rw=$(peak_rss_kib run_wget)
rs=$(fetch_rss_kib small)
rl=$(fetch_rss_kib large)

printf '\n%-34s %9s %12s\n' "method (8 MiB kernel + 256 MiB world)" "median s" "peak RSS"
printf '%-34s %9.3f %9d KiB\n' "bootdrop-fetch (verify+install)" "$tf" "$rf"
printf '%-34s %9.3f %9d KiB\n' "curl -o && sync" "$tc" "$rc"
printf '%-34s %9.3f %9d KiB\n' "wget -O && sha256sum && sync" "$tw" "$rw"
printf '\nbootdrop-fetch / curl+sync      = %.2fx   (target <= 1.15x)\n' \
	"$(echo "$tf / $tc" | bc -l)"
printf 'wget pipeline / bootdrop-fetch  = %.2fx   (target >= 2.4x)\n' \
	"$(echo "$tw / $tf" | bc -l)"
printf '\nbootdrop-fetch peak RSS: %d KiB with a 16 MiB artifact, %d KiB with a 1 GiB artifact (target <= 16384 KiB)\n' \
	"$rs" "$rl"
