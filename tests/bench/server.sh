#!/bin/bash
# tests/bench/server.sh [BUILDDIR] - bootdrop-server next to nginx and
# Python's http.server (woof's engine) on the same repository, on loopback.
#
#   wrk -t2 -d5s, 64 and 256 connections: manifest.json and a 4 KiB blob
#   curl: a 256 MiB blob, 7 downloads per server in turn (python: 3),
#         medians, and the servers' CPU time per GiB (nginx/bootdrop)
#   wrk: "/" with 1000 channels against bootdrop's own manifest rate
#
# Prints requests/s (or MB/s), the ratios bootdrop/nginx and
# bootdrop/python, and bootdrop-server's peak RSS (VmHWM).  A benchmark,
# not a test: run it on a quiet machine.  Needs wrk, curl, nginx (Debian
# nginx-light) and python3; nginx or python3 missing is reported and
# skipped.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
SERVER=$BUILD/server/bootdrop-server
PUBLISH=$BUILD/server/bootdrop-publish
DURATION=${BENCH_DURATION:-5s}
for p in "$SERVER" "$PUBLISH" "$BUILD/tests/mkkernel"; do
	[ -x "$p" ] || { echo "missing $p: build first (meson compile -C $BUILD)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }

. "$SRC/tests/bench/benchlib.sh"

echo "== building the repository"
"$BUILD/tests/mkkernel" i386 "$W/kernel"
head -c 4096 /dev/urandom >"$W/small"
head -c $((256 << 20)) /dev/urandom >"$W/big"
"$PUBLISH" release -r "$W/repo" -c bench -s "$SRC/tests/data/keys/test.key" \
	kernel="$W/kernel" small="$W/small" big="$W/big" >/dev/null
SMALL=blobs/sha256/$(sha256sum "$W/small" | cut -c1-64)
BIG=blobs/sha256/$(sha256sum "$W/big" | cut -c1-64)
MAN=channels/bench/manifest.json

echo "== starting the servers"
start_bootdrop "$W/repo" --max-per-ip 0
start_nginx "$W/repo"

PY_PORT=
if command -v python3 >/dev/null; then
	PY_PORT=$(free_port)
	(cd "$W/repo" && exec python3 -m http.server --bind 127.0.0.1 "$PY_PORT" >/dev/null 2>&1) &
	pids+=($!)
	wait_port "$PY_PORT" || PY_PORT=
fi

# rps PORT PATH CONNS : requests/s from wrk (0 when the server is absent);
# wrk's socket errors and non-2xx counts are kept for the end of the report.
rps() {
	[ -n "$1" ] || { echo 0; return; }
	wrk -t2 -c"$3" -d"$DURATION" --latency "http://127.0.0.1:$1/$2" >"$W/wrk.out"
	grep -E 'Socket errors|Non-2xx' "$W/wrk.out" | sed "s|^|port $1 /$2 -c$3: |" >>"$W/wrk.errors" || true
	awk '/^Requests\/sec:/ { r = $2 } /^ +99%/ { p = $2 } END { print r; print "port '"$1"' /'"$2"' -c'"$3"': " r " req/s, 99% latency " p >>"'"$W/wrk.lat"'" }' "$W/wrk.out"
}
# big PATH : the 256 MiB blob, 7 curl downloads from each server taken in
# turn (a single run varies by up to 2x with whether the scheduler puts curl
# and the server on one core or two), and each server's CPU time for them.
# Sets BIG_BD BIG_NG BIG_PY (median MB/s) and CPU_BD CPU_NG (ms per GiB).
ticks() {	# PIDS... : user + system clock ticks of the processes
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
	echo "$t"
}
big() {
	local i port tb=0 tn=0 t0 ng_pids
	ng_pids=$(pgrep -f "nginx: worker" || true)
	: >"$W/big.bd"; : >"$W/big.ng"; : >"$W/big.py"
	for i in 1 2 3 4 5 6 7; do
		t0=$(ticks "$BD_PID")
		curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$BD_PORT/$1" >>"$W/big.bd"
		tb=$((tb + $(ticks "$BD_PID") - t0))
		if [ -n "$NG_PORT" ]; then
			t0=$(ticks $ng_pids)
			curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$NG_PORT/$1" >>"$W/big.ng"
			tn=$((tn + $(ticks $ng_pids) - t0))
		fi
		[ -z "$PY_PORT" ] || [ "$i" -gt 3 ] ||
			curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$PY_PORT/$1" >>"$W/big.py"
	done
	med() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", v[int((NR + 1) / 2)] / 1e6; else print 0 }'; }
	BIG_BD=$(med "$W/big.bd") BIG_NG=$(med "$W/big.ng") BIG_PY=$(med "$W/big.py")
	# 7 x 256 MiB = 1.75 GiB; a tick is 1/CLK_TCK s
	CPU_BD=$(awk -v t="$tb" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t * 1000 / hz / 1.75 }')
	CPU_NG=$(awk -v t="$tn" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t * 1000 / hz / 1.75 }')
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

machine_line
printf '%-28s %12s %12s %12s %10s %10s\n' test bootdrop nginx python bd/nginx bd/python
for c in 64 256; do
	for what in "manifest.json:$MAN" "4 KiB blob:$SMALL"; do
		label=${what%%:*} path=${what#*:}
		b=$(rps "$BD_PORT" "$path" "$c")
		n=$(rps "$NG_PORT" "$path" "$c")
		p=$(rps "$PY_PORT" "$path" "$c")
		printf '%-28s %12s %12s %12s %10s %10s\n' "$label, $c conn (req/s)" "$b" "$n" "$p" \
			"$(ratio "$b" "$n")" "$(ratio "$b" "$p")"
	done
done
# The index: "/" with 1000 channels, cached, next to the manifest rate.
for i in $(seq 1000); do
	mkdir "$W/repo/channels/c$i"
	cp "$W/repo/$MAN" "$W/repo/channels/c$i/manifest.json"
done
curl -s -o /dev/null "http://127.0.0.1:$BD_PORT/"
b=$(rps "$BD_PORT" "" 64)
m=$(rps "$BD_PORT" "$MAN" 64)
printf '%-28s %12s %12s %12s %10s %10s\n' "/ 1000 channels, 64 conn" "$b" "-" "-" \
	"$(ratio "$b" "$m") of manifest" ""
big "$BIG"
printf '%-28s %12s %12s %12s %10s %10s\n' "256 MiB blob (MB/s)" "$BIG_BD" "$BIG_NG" "$BIG_PY" \
	"$(ratio "$BIG_BD" "$BIG_NG")" "$(ratio "$BIG_BD" "$BIG_PY")"
printf '%-28s %12s %12s %12s %10s\n' "  server CPU (ms per GiB)" "$CPU_BD" "$CPU_NG" "-" \
	"$(ratio "$CPU_NG" "$CPU_BD")"
echo "bootdrop-server peak RSS: $(sed -n 's/^VmHWM:\s*//p' "/proc/$BD_PID/status")"
echo "ports: bootdrop $BD_PORT, nginx ${NG_PORT:--}, python ${PY_PORT:--}"
if [ -s "$W/wrk.errors" ]; then
	echo "wrk reported errors:"
	sed 's/^/  /' "$W/wrk.errors"
fi
[ -z "${BENCH_LATENCY:-}" ] || sed 's/^/  /' "$W/wrk.lat"
