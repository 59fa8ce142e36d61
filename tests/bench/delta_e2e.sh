#!/bin/bash
# tests/bench/delta_e2e.sh FORMAT - bytes a guest moves for world N -> N+1
# (FORMAT: tar, rs.tar.gz or tar.gz; the worlds tests/bench/delta.sh keeps
# in DELTA_BENCH_DIR) with bootdrop-fetch by chunks from the installed N,
# and whole on a fresh slice, from bootdrop-server's access log (body
# bytes), wall seconds and peak RSS (kB, /usr/bin/time's %M).  BUILD: the
# build directory (default build).  E2E_DIR: where the repositories and
# slices go (default /tmp/bootdrop-delta-e2e).  E2E_REUSE=1 keeps the
# repositories an earlier run published there (the slices are redone).
# E2E_DELAY_MS=N: the delta goes through tests/bench/latency_proxy.py,
# every request N ms later (a link's latency; no netem here).
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-$src/build}
W=${DELTA_BENCH_DIR:-/tmp/bootdrop-delta-bench}
K=$src/tests/data/keys/test.key
PK=$(tail -n 1 "$src/tests/data/keys/test.pub")
f=$1
d=${E2E_DIR:-/tmp/bootdrop-delta-e2e}/$f
if [ "${E2E_REUSE:-}" = 1 ] && [ -d "$d/repo1" ] && [ -s "$d/rel2.out" ]; then
	cd "$d" && rm -rf dest fresh s[123].log* || exit 1
else
	rm -rf "$d"; mkdir -p "$d" && cd "$d" || exit 1
	"$B/tests/mkkernel" i386 kernel
	mkdir n n1
	ln -s "$W/worldN.$f" "n/world.$f"
	ln -s "$W/worldN1.$f" "n1/world.$f"
	"$B/server/bootdrop-publish" release -r repo -c w -s "$K" kernel=kernel \
		world="n/world.$f" >rel1.out
	cp -a repo repo1
	"$B/server/bootdrop-publish" release -r repo -c w -s "$K" kernel=kernel \
		world="n1/world.$f" >rel2.out
fi

# serve REPO LOG : starts bootdrop-server, prints its URL
serve() {
	"$B/server/bootdrop-server" -r "$1" -l 127.0.0.1:0 --access-log "$2" \
		>"$2.out" 2>&1 &
	echo $! >"$2.pid"
	listening "$2.out"
}
# listening FILE : the URL FILE says is listening, waiting up to 10 s
listening() {
	local i
	for i in $(seq 100); do
		grep -qs '^listening on ' "$1" && break
		sleep 0.1
	done
	sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$1"
}
fetch() {
	"$B/client/bootdrop-fetch" -P "$PK" -c w "$@"
}
sent() {
	awk '{ s += $10 } END { print s, NR }' "$1"
}

mkdir dest fresh
u=$(serve repo1 s1.log); fetch -q -d dest "$u"; kill "$(cat s1.log.pid)"
u=$(serve repo s2.log)
if [ -n "${E2E_DELAY_MS:-}" ]; then
	rm -f proxy.out	# no URL of an earlier proxy read before it is cut
	python3 "$src/tests/bench/latency_proxy.py" "$(echo "$u" |
		sed 's|.*:\([0-9]*\)/*$|\1|')" "$E2E_DELAY_MS" >proxy.out &
	proxy=$!
	u=$(listening proxy.out)
fi
/usr/bin/time -f "%e s %M kB" -o t2 "$B/client/bootdrop-fetch" -v -P "$PK" -c w -d dest "$u" >f2.out 2>&1
kill "$(cat s2.log.pid)"
[ -n "${E2E_DELAY_MS:-}" ] && kill "$proxy"
u=$(serve repo s3.log)
/usr/bin/time -f "%e s %M kB" -o t3 "$B/client/bootdrop-fetch" -q -P "$PK" -c w -d fresh "$u"
kill "$(cat s3.log.pid)"
cmp "dest/world.$f" "$W/worldN1.$f" && cmp "fresh/world.$f" "$W/worldN1.$f" ||
	echo "$f: MISMATCH"
echo "$f: size $(stat -L -c %s "$W/worldN1.$f") delta $(sent s2.log) $(cat t2)" \
	"whole $(sent s3.log) $(cat t3)"
grep "^  world" rel2.out
grep "reused" f2.out
