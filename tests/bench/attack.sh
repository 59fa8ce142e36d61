#!/bin/bash
# tests/bench/attack.sh [BUILDDIR] - bootdrop-server and nginx under each
# slowhttptest mode, side by side, on loopback.
#
#   -H slow headers (slowloris), -B slow body, -R range, -X slow read:
#   ATTACK_CONNS (default 1100) connections spread over 20 source addresses
#   127.0.0.10-29 (an LD_PRELOAD shim built here binds each connect), while
#   a probe from 127.0.0.200 GETs manifest.json every 0.5 s with a 1 s
#   deadline for the whole answer.
#
# Prints per server and mode: probes answered within 1 s, median and
# maximum latency.  A benchmark, not a test (each mode runs ATTACK_SECONDS,
# default 20; ATTACK_MODES picks modes, default "H B R X"): run it on a
# quiet machine.  Needs slowhttptest, cc, curl,
# python3; nginx missing is reported and skipped.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
SERVER=$BUILD/server/bootdrop-server
PUBLISH=$BUILD/server/bootdrop-publish
CONNS=${ATTACK_CONNS:-1100}
SECONDS_EACH=${ATTACK_SECONDS:-20}
for p in "$SERVER" "$PUBLISH" "$BUILD/tests/mkkernel"; do
	[ -x "$p" ] || { echo "missing $p: build first (meson compile -C $BUILD)" >&2; exit 1; }
done
command -v slowhttptest >/dev/null || { echo "slowhttptest not installed" >&2; exit 1; }

. "$SRC/tests/bench/benchlib.sh"

# connect() binds each new IPv4 socket to 127.0.0.(10 + n % 20) first.
cat >"$W/srcaddr.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	static unsigned n;
	struct sockaddr_in me = { .sin_family = AF_INET };

	if (real == NULL)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	if (sa->sa_family == AF_INET) {
		me.sin_addr.s_addr = htonl(0x7f00000a + __atomic_fetch_add(&n, 1, __ATOMIC_RELAXED) % 20);
		(void)bind(fd, (struct sockaddr *)&me, sizeof(me));
	}
	return real(fd, sa, len);
}
C
cc -shared -fPIC -O2 -o "$W/srcaddr.so" "$W/srcaddr.c" -ldl

"$BUILD/tests/mkkernel" i386 "$W/kernel"
"$PUBLISH" release -r "$W/repo" -c bench -s "$SRC/tests/data/keys/test.key" \
	kernel="$W/kernel" >/dev/null
MAN=channels/bench/manifest.json

start_bootdrop "$W/repo"
start_nginx "$W/repo"

# probe PORT SECONDS : prints "ok/total median_ms max_ms"
probe() {
	python3 - "$1" "$2" "$MAN" <<'PY'
import socket, sys, time
port, seconds, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
res = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.monotonic()
    ok = None
    s = socket.socket()
    try:
        s.settimeout(1.0)
        s.bind(("127.0.0.200", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(("GET /%s HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while time.monotonic() - t0 < 1.0:
            s.settimeout(max(0.001, 1.0 - (time.monotonic() - t0)))
            b = s.recv(65536)
            if not b:
                break
            data += b
        if data.startswith(b"HTTP/1.1 200 ") and time.monotonic() - t0 <= 1.0:
            ok = time.monotonic() - t0
    except OSError:
        pass
    finally:
        s.close()
    res.append(ok)
    time.sleep(max(0, 0.5 - (time.monotonic() - t0)))
good = sorted(r for r in res if r is not None)
med = good[len(good) // 2] * 1000 if good else 0
mx = good[-1] * 1000 if good else 0
print("%d/%d %.1f %.1f" % (len(good), len(res), med, mx))
PY
}

machine_line
printf '%-10s %-6s %14s %12s %10s\n' server mode 'within 1 s' 'median ms' 'max ms'
for mode in ${ATTACK_MODES:-H B R X}; do
	for srv in bootdrop nginx; do
		port=$BD_PORT
		[ "$srv" = nginx ] && port=$NG_PORT
		[ -n "$port" ] || continue
		extra=
		case $mode in
		H) extra="-i 10" ;;
		B) extra="-i 10 -s 8192" ;;
		R) extra="-a 10 -b 3000" ;;
		X) extra="-k 3 -n 1 -w 10 -y 20 -z 32" ;;
		esac
		LD_PRELOAD=$W/srcaddr.so timeout -s KILL $((SECONDS_EACH + 15)) \
			slowhttptest -"$mode" -c "$CONNS" -r 300 -l "$SECONDS_EACH" $extra \
			-u "http://127.0.0.1:$port/$MAN" -p 3 >"$W/slow-$srv-$mode.out" 2>&1 &
		sp=$!
		# let the attack build up for a quarter of its length, then probe
		sleep $((SECONDS_EACH / 4))
		read -r got med mx < <(probe "$port" $((SECONDS_EACH * 3 / 4 - 2)))
		wait "$sp" 2>/dev/null || true
		printf '%-10s %-6s %14s %12s %10s\n' "$srv" "-$mode" "$got" "$med" "$mx"
	done
done
kill -TERM "$BD_PID"; wait "$BD_PID" 2>/dev/null || true
grep 'connections:' "$W/bootdrop.err" || true
