#!/bin/bash
# tests/bench/server.sh [BUILDDIR] - bootdrop-server next to nginx and
# Python's http.server (woof's engine) on the same repository, on loopback.
#
#   wrk -t2 -d5s, 64 and 256 connections: manifest.json and a 4 KiB blob
#   curl: a 256 MiB blob, median of 3 runs
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

# rps PORT PATH CONNS : requests/s from wrk (0 when the server is absent)
rps() {
	[ -n "$1" ] || { echo 0; return; }
	wrk -t2 -c"$3" -d"$DURATION" "http://127.0.0.1:$1/$2" |
		awk '/^Requests\/sec:/ { print $2 }'
}
# mbps PORT PATH : median MB/s of three curl downloads
mbps() {
	[ -n "$1" ] || { echo 0; return; }
	for i in 1 2 3; do
		curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$1/$2"
	done | sort -n | sed -n 2p | awk '{ printf "%.1f\n", $1 / 1e6 }'
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
b=$(mbps "$BD_PORT" "$BIG")
n=$(mbps "$NG_PORT" "$BIG")
p=$(mbps "$PY_PORT" "$BIG")
printf '%-28s %12s %12s %12s %10s %10s\n' "256 MiB blob (MB/s)" "$b" "$n" "$p" \
	"$(ratio "$b" "$n")" "$(ratio "$b" "$p")"
echo "bootdrop-server peak RSS: $(sed -n 's/^VmHWM:\s*//p' "/proc/$BD_PID/status")"
