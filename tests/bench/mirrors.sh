#!/bin/bash
# tests/bench/mirrors.sh - bootdrop-fetch given one, two and three mirrors
# against aria2c given the same mirrors and curl given one, over loopback:
# three nginx mirrors of one repository (a 64 MiB world, a small kernel),
# each capped per connection with `limit_rate` (default 16m).
#
#   curl -o F URL1                           one mirror, the world only
#   aria2c -sN -xN --min-split-size=1M ...   N mirrors, the world only
#   bootdrop-fetch URL1..URLN                verify manifest, kernel and
#                                            world, fsync, install, state
#
# Prints the median of RUNS runs (default 5) of each and the ratios, then
# bootdrop-fetch's peak RSS with three unthrottled mirrors for a 16 MiB and
# a 1 GiB artifact (target <= 16 MiB, flat).
# Targets: bootdrop-fetch <= 1.05x aria2c with 2 and 3 mirrors and
# <= 1.05x curl with one.  (Unthrottled, one mirror: tests/bench/fetch.sh.)
#
# Usage: tests/bench/mirrors.sh [BUILDDIR]
#        (default: build; BENCH_RUNS=N, BENCH_RATE=16m, BENCH_MIB=64)
. "$(dirname "$0")/lib.sh" "$@"
bench_need curl aria2c /usr/sbin/nginx bc /usr/bin/time
RATE=${BENCH_RATE:-16m}
MIB=${BENCH_MIB:-64}

echo "preparing: a $MIB MiB world in $T, three nginx mirrors at limit_rate $RATE"
make_kernel "$T/kernel" || exit 1
head -c $((MIB << 20)) /dev/urandom >"$T/world.tgz"
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" \
	kernel="$T/kernel" world="$T/world.tgz" >/dev/null || exit 1
whex=$(sha256sum "$T/world.tgz" | cut -d' ' -f1)
head -c $((16 << 20)) /dev/urandom >"$T/small"
head -c $((1024 << 20)) /dev/urandom >"$T/large"
"$PUBLISH" release -r "$T/repo" -c small -s "$TEST_SEC" \
	kernel="$T/kernel" world="$T/small" >/dev/null || exit 1
"$PUBLISH" release -r "$T/repo" -c large -s "$TEST_SEC" \
	kernel="$T/kernel" world="$T/large" >/dev/null || exit 1

# One nginx, three servers (mirrors) on three ports, one rate cap each,
# and three more without a cap for the RSS runs.
ports=() servers=""
for i in 1 2 3 4 5 6; do
	ports+=("$(free_port)")
	cap="limit_rate $RATE;"
	[ "$i" -gt 3 ] && cap=
	servers="$servers
	server { listen 127.0.0.1:${ports[$((i - 1))]}; root $T/repo; $cap }"
done
nginx_conf "${ports[0]}" "
	access_log off;
	types { application/json json; }
	default_type application/octet-stream;
	sendfile on;$servers"
/usr/sbin/nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" >/dev/null 2>&1 &
_bd_pids+=($!)
mirror=() fast=()
for p in "${ports[@]}"; do
	if [ "${#mirror[@]}" -lt 3 ]; then mirror+=("http://127.0.0.1:$p")
	else fast+=("http://127.0.0.1:$p"); fi
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/none")" != 000 ] && break
		sleep 0.05
	done
done
out=$T/out

run_curl() {
	curl -sf -o "$out/world" "${mirror[0]}/blobs/sha256/$whex"
}
run_aria2c() {
	local n=$1 urls=() i
	for ((i = 0; i < n; i++)); do urls+=("${mirror[$i]}/blobs/sha256/$whex"); done
	aria2c -q -s "$n" -x "$n" --min-split-size=1M --file-allocation=none \
		--allow-overwrite=true -d "$out" -o world "${urls[@]}"
}
run_fetch() {
	"$FETCH" -q -P "$PUBKEY" -c "$CH" -d "$out" "${mirror[@]:0:$1}"
}

# checked CMD... : CMD, then the world it left in $out must be intact.
checked() {
	"$@" && cmp -s "$out/world"* "$T/world.tgz"
}

echo "runs: $RUNS per method (median), mirrors ${mirror[*]}"
c1=$(bench_median checked run_curl)
f1=$(bench_median checked run_fetch 1)
a2=$(bench_median checked run_aria2c 2)
f2=$(bench_median checked run_fetch 2)
a3=$(bench_median checked run_aria2c 3)
f3=$(bench_median checked run_fetch 3)
rs=$(bench_rss_kib "$FETCH" -q -P "$PUBKEY" -c small -d "$out" "${fast[@]}")
rl=$(bench_rss_kib "$FETCH" -q -P "$PUBKEY" -c large -d "$out" "${fast[@]}")

printf '\n%-44s %9s\n' "method ($MIB MiB world, limit_rate $RATE)" "median s"
printf '%-44s %9.3f\n' "curl, one mirror" "$c1"
printf '%-44s %9.3f\n' "bootdrop-fetch, one mirror" "$f1"
printf '%-44s %9.3f\n' "aria2c -s2 -x2, two mirrors" "$a2"
printf '%-44s %9.3f\n' "bootdrop-fetch, two mirrors" "$f2"
printf '%-44s %9.3f\n' "aria2c -s3 -x3, three mirrors" "$a3"
printf '%-44s %9.3f\n' "bootdrop-fetch, three mirrors" "$f3"
printf '\nbootdrop-fetch / curl,   one mirror    = %.2fx   (target <= 1.05x)\n' \
	"$(echo "$f1 / $c1" | bc -l)"
printf 'bootdrop-fetch / aria2c, two mirrors   = %.2fx   (target <= 1.05x)\n' \
	"$(echo "$f2 / $a2" | bc -l)"
printf 'bootdrop-fetch / aria2c, three mirrors = %.2fx   (target <= 1.05x)\n' \
	"$(echo "$f3 / $a3" | bc -l)"
printf '\nbootdrop-fetch peak RSS, three mirrors: %d KiB with a 16 MiB artifact, %d KiB with a 1 GiB artifact (target <= 16384 KiB)\n' \
	"$rs" "$rl"
