#!/bin/bash
# tests/bench/delta.sh [BUILDDIR] - bytes moved and wall time for a guest
# going from world N to world N+1: bootdrop-fetch end to end (whole, on a
# fresh slice; and delta, on a slice holding N), zsync and casync, all on the
# same files from one nginx, over loopback and over a shaped link.
#
# World N is a debootstrap minbase (Debian 12); N+1 is the same with less,
# nano and procps installed, a user added and /etc edited.  Each is a plain
# tar, a `gzip -9 --rsyncable` tar.gz and an ordinary `gzip -9` tar.gz.
#
# bootdrop: one repository per format, published by bootdrop-publish
# (kernel + world; N then N+1, so N+1's world has a chunk index and pack),
# served by nginx as static files.  "full" is bootdrop-fetch into an empty
# slice; "bootdrop" is bootdrop-fetch into a copy of a slice that installed
# N from the same repository (so its state names N and its seed is N's
# world).  zsync: `zsync -i worldN URL/worldN1.zsync`.  casync:
# `casync extract --store=URL/store --seed=worldN URL/worldN1.caibx`.
# Bytes are what nginx sent for the run, headers included (bootdrop: the
# manifests, the kernel for "full", both chunk indexes and every pack
# range); connections are distinct nginx connection numbers in the run;
# on a proxied link, "delivered" is what the proxy handed the client.
#
# Links (this kernel has no sch_netem, so no tc): "loopback" is nginx on
# 127.0.0.1 as is.  "shaped" is tests/bench/delayproxy.py in front of it:
# one link of RATE bytes/s (default 2500000, 20 Mbit/s) shared by all
# connections, and DELAY_MS (default 20) each way, a 40 ms round trip.
# "limitrate" (not run by default) is nginx's own limit_rate RATE behind
# the proxy's delay alone: nginx limits each request, not the link, and lets
# every request send its first second's worth (RATE bytes) at once, so a
# client making many requests of less than RATE bytes is not slowed at all;
# kept to show that.  The connections column says who opened several.
#
# Environment: RUNS (default 5; medians), DELTA_BENCH_DIR (default
# ~/.cache/bootdrop/delta: worlds, repositories and control files are made
# once and reused; remove its bd.* and www/bd.* after changing the
# publisher), FORMATS (default "tar rs.tar.gz tar.gz"), LINKS (default
# "loopback shaped"; or limitrate), TOOLS (default "full bootdrop zsync
# casync"), SKIP (LINK:FORMAT or LINK:FORMAT:TOOL items not run; default
# "shaped:tar.gz": that row's
# target is bytes against the whole file, which the loopback run measures,
# and zsync alone spends a minute of CPU on it), RATE (bytes/s, default
# 2500000), DELAY_MS (each way, default 20).  Needs root the first time
# (apt-get install zsync casync debootstrap nginx-light, debootstrap,
# chroot).
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
W=${DELTA_BENCH_DIR:-$HOME/.cache/bootdrop/delta}
RUNS=${RUNS:-5}
FORMATS=${FORMATS:-tar rs.tar.gz tar.gz}
LINKS=${LINKS:-loopback shaped}
TOOLS=${TOOLS:-full bootdrop zsync casync}
SKIP=${SKIP-shaped:tar.gz}
RATE=${RATE:-2500000}
DELAY_MS=${DELAY_MS:-20}
FETCH=$build/client/bootdrop-fetch
PUBLISH=$build/server/bootdrop-publish
KEY=$src/tests/data/keys/test.key
PK=$(tail -n 1 "$src/tests/data/keys/test.pub")
mkdir -p "$W"
cd "$W"

need=
for p in zsync casync debootstrap nginx-light bc; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q '^install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
	echo "delta: installing$need" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $need >/dev/null
fi
for p in "$FETCH" "$PUBLISH" "$build/tests/mkkernel"; do
	[ -x "$p" ] || { echo "delta: $p missing: build $build first" >&2; exit 1; }
done

# The worlds, made once.
if [ ! -f worldN1.tar.gz ]; then
	[ -d rootN/etc ] || debootstrap --variant=minbase bookworm rootN \
		http://deb.debian.org/debian >debootstrap.log
	rm -rf rootN1
	cp -a rootN rootN1
	mount -t proc proc rootN1/proc
	chroot rootN1 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends less nano procps' >apt-n1.log
	umount rootN1/proc
	for r in rootN rootN1; do
		chroot $r apt-get clean
		rm -rf $r/var/lib/apt/lists/*
	done
	echo world-n1 >rootN1/etc/hostname
	echo "Welcome to release N+1" >>rootN1/etc/motd
	chroot rootN1 useradd -m builder
	echo "export EDITOR=nano" >>rootN1/etc/profile
	for v in N N1; do
		tar --sort=name --numeric-owner -C root$v -cf world$v.tar .
		gzip -n -9 --rsyncable -c world$v.tar >world$v.rs.tar.gz
		gzip -n -9 -c world$v.tar >world$v.tar.gz
	done
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_url() {
	for _ in $(seq 200); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.05
	done
	echo "delta: nothing answers at $1" >&2
	exit 1
}

# One nginx, two servers on the same root: unlimited, and limited per
# request to RATE (the "limitrate" link).  Delaying proxies in front: the
# "shaped" link (RATE shared by all connections, DELAY_MS each way), the
# "limitrate" link (DELAY_MS only, in front of the limited server), and one
# with neither that only measures the proxy's own ceiling (its CPU).
PY=/usr/bin/python3  # not a pyenv shim: its PID must be the proxy's
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM
p_fast=$(free_port)
p_slow=$(free_port)
rm -rf ng
mkdir -p www ng
cat >ng/nginx.conf <<NGX
$([ "$(id -u)" -eq 0 ] && echo "user root;")
daemon off;
worker_processes 1;
pid $W/ng/nginx.pid;
error_log $W/ng/error.log;
events { worker_connections 1024; }
http {
	log_format bytes '\$bytes_sent \$status \$connection \$request';
	access_log $W/ng/access.log bytes;
	client_body_temp_path $W/ng/body;
	proxy_temp_path $W/ng/proxy;
	fastcgi_temp_path $W/ng/fastcgi;
	uwsgi_temp_path $W/ng/uwsgi;
	scgi_temp_path $W/ng/scgi;
	sendfile on;
	keepalive_requests 100000;
	default_type application/octet-stream;
	server { listen 127.0.0.1:$p_fast; root $W/www; }
	server { listen 127.0.0.1:$p_slow; root $W/www; limit_rate $RATE; }
}
NGX
nginx -c "$W/ng/nginx.conf" -e "$W/ng/error.log" &
pids+=($!)
wait_url "http://127.0.0.1:$p_fast/"
# start_proxy TARGET_PORT DELAY_MS RATE : a delaying proxy (RATE 0: none)
# logging to $W/ng/link.log; sets PROXY_PORT
start_proxy() {
	local out=$W/ng/proxy.$1.$2.$3 pid
	$PY "$src/tests/bench/delayproxy.py" 0 "$1" "$2" "$3" "$W/ng/link.log" >"$out" &
	pids+=($!)
	for _ in $(seq 100); do grep -q '^listening' "$out" 2>/dev/null && break; sleep 0.05; done
	read -r _ PROXY_PORT pid <"$out" || true
	[ -n "$PROXY_PORT" ] || { echo "delta: the delaying proxy did not start" >&2; exit 1; }
	[ "$pid" = "${pids[-1]}" ] || pids+=("$pid")
}
declare -A URL
URL[loopback]=http://127.0.0.1:$p_fast
start_proxy "$p_fast" "$DELAY_MS" "$RATE"
URL[shaped]=http://127.0.0.1:$PROXY_PORT
start_proxy "$p_slow" "$DELAY_MS" 0
URL[limitrate]=http://127.0.0.1:$PROXY_PORT
start_proxy "$p_fast" 0 0
p_calib=$PROXY_PORT

# Per format, made once: zsync's and casync's control files and store, and
# a bootdrop repository holding N and N+1 with a slice that installed N.
for f in $FORMATS; do
	ln -f worldN1.$f www/
	[ -s www/worldN1.$f.zsync ] ||
		zsyncmake -u "worldN1.$f" -o www/worldN1.$f.zsync www/worldN1.$f >/dev/null 2>&1
	[ -s www/worldN1.$f.caibx ] ||
		casync make --store=www/store www/worldN1.$f.caibx www/worldN1.$f >/dev/null
	d=$W/bd.$f
	if [ ! -f "$d/ready" ]; then
		rm -rf "$d" "www/bd.$f"
		mkdir -p "$d/n" "$d/n1" "$d/sliceN"
		"$build/tests/mkkernel" i386 "$d/kernel"
		ln -s "$W/worldN.$f" "$d/n/world.$f"
		ln -s "$W/worldN1.$f" "$d/n1/world.$f"
		"$PUBLISH" release -r "www/bd.$f" -c w -s "$KEY" kernel="$d/kernel" \
			world="$d/n/world.$f" >"$d/releaseN.out"
		"$FETCH" -q -P "$PK" -c w -d "$d/sliceN" "${URL[loopback]}/bd.$f/"
		"$PUBLISH" release -r "www/bd.$f" -c w -s "$KEY" kernel="$d/kernel" \
			world="$d/n1/world.$f" >"$d/releaseN1.out"
		touch "$d/ready"
	fi
	cmp -s "$d/sliceN/world.$f" "worldN.$f" ||
		{ echo "delta: $d/sliceN does not hold world N: remove $d" >&2; exit 1; }
	echo "publish N+1 ($f): $(grep '^  world' "$d/releaseN1.out" | sed 's/^ *//')"
done

machine() {
	echo "$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)," \
		"$(uname -sr), $(nginx -v 2>&1 | sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "== machine: $(machine)"
echo "== build: $build ($(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "== links: loopback ${URL[loopback]} (nginx); shaped ${URL[shaped]} (delayproxy.py: $RATE bytes/s shared, ${DELAY_MS} ms each way);" \
	"limitrate ${URL[limitrate]} (delayproxy.py ${DELAY_MS} ms each way -> nginx limit_rate $RATE a request)"
echo "== running: RUNS=$RUNS LINKS='$LINKS' FORMATS='$FORMATS' TOOLS='$TOOLS' SKIP='$SKIP'"
echo "== commands (URL: one of the links)"
echo "   full:     bootdrop-fetch -q -P KEY -c w -d EMPTY_SLICE URL/bd.FORMAT/"
echo "   bootdrop: bootdrop-fetch -q -P KEY -c w -d COPY_OF_SLICE_WITH_N URL/bd.FORMAT/"
echo "   zsync:    zsync -q -i worldN.FORMAT -o OUT URL/worldN1.FORMAT.zsync"
echo "   casync:   casync extract --store=URL/store --seed=worldN.FORMAT URL/worldN1.FORMAT.caibx OUT"

# The proxy's own ceiling: one whole download through it from the
# unlimited server.
f=${FORMATS%% *}
: >ng/access.log
s=$(date +%s.%N)
curl -s -o /dev/null "http://127.0.0.1:$p_calib/worldN1.$f"
e=$(date +%s.%N)
echo "== delaying proxy alone (no delay, no rate, unlimited nginx): worldN1.$f in $(echo "$e - $s" | bc) s," \
	"$(echo "scale=1; $(stat -c %s "worldN1.$f") / ($e - $s) / 1000000" | bc) MB/s (the shaped link asks for $(echo "scale=1; $RATE / 1000000" | bc))"

# run LINK TOOL FORMAT: one transfer; appends "link tool format bytes
# requests connections seconds delivered" to results (delivered: the bytes
# the proxy handed the client, "-" on loopback)
run() {
	local link=$1 tool=$2 f=$3 url=${URL[$1]} out=$W/out s e got
	rm -rf "$out"
	case $tool in
	full) mkdir "$out" ;;
	bootdrop) cp -a "$W/bd.$f/sliceN" "$out" ;;
	esac
	sync
	: >ng/access.log
	: >ng/link.log
	s=$(date +%s.%N)
	case $tool in
	full|bootdrop) "$FETCH" -q -P "$PK" -c w -d "$out" "$url/bd.$f/" ;;
	zsync) (cd "$W" && zsync -q -i worldN.$f -o "$out" "$url/worldN1.$f.zsync" >/dev/null 2>&1) ;;
	casync) casync extract --store="$url/store" --seed=worldN.$f \
		"$url/worldN1.$f.caibx" "$out" >/dev/null 2>&1 ;;
	esac
	e=$(date +%s.%N)
	got=$out
	[ -d "$out" ] && got=$out/world.$f
	cmp -s "$got" worldN1.$f || { echo "delta: $link $tool $f: wrong bytes" >&2; exit 1; }
	# nginx writes the log line when the response is done; the client may
	# have its bytes a moment earlier.
	sleep 0.2
	echo "$link $tool $f $(awk '{s+=$1; n++; c[$3]=1} END {print s, n, length(c)}' ng/access.log)" \
		"$(echo "$e - $s" | bc) $([ "$link" = loopback ] && echo - || awk '{s+=$1} END {print s+0}' ng/link.log)" >>results
	rm -rf "$out" "$out.zs-old"
}

skipped() {
	case " $SKIP " in *" $1:$3 "*|*" $1:$3:$2 "*) return 0 ;; esac
	return 1
}

start=$(date +%s)
: >results
for n in $(seq "$RUNS"); do
	for link in $LINKS; do
		for f in $FORMATS; do
			for tool in $TOOLS; do
				skipped "$link" "$tool" "$f" || run "$link" "$tool" "$f"
			done
		done
	done
	echo "run $n done, $(( $(date +%s) - start )) s, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
echo "== after $(( $(date +%s) - start )) s of runs: load average $(cut -d' ' -f1-3 /proc/loadavg)"

sizes=
for f in $FORMATS; do sizes="$sizes $f=$(stat -c %s worldN1.$f)"; done
python3 "$src/tests/bench/deltareport.py" results $sizes
