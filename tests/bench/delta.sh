#!/bin/bash
# tests/bench/delta.sh [BUILDDIR] - bytes moved and wall time for a guest
# going from world N to world N+1, by bootdrop (whole blob, and chunk index
# + merged pack ranges seeded from N), zsync and casync, on the same files
# served by one nginx over loopback.
#
# World N is a debootstrap minbase (Debian 12); N+1 is the same with less,
# nano and procps installed, a user added and /etc edited.  Each is a plain
# tar, a `gzip -9 --rsyncable` tar.gz and an ordinary `gzip -9` tar.gz.
# Bytes are what nginx sent (headers included) for the run: the index or
# control file and every range.  bootdrop's delta is client/delta.c driven
# by tests/bench/chunktool.c, one Range request a merged range.
#
# Environment: RUNS (default 5; medians are reported), DELTA_BENCH_DIR
# (default /tmp/bootdrop-delta-bench: the worlds are kept there and reused),
# FORMATS (default "tar rs.tar.gz tar.gz").  Needs root the first time
# (apt-get install zsync casync debootstrap nginx-light, debootstrap, chroot).
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
W=${DELTA_BENCH_DIR:-/tmp/bootdrop-delta-bench}
RUNS=${RUNS:-5}
FORMATS=${FORMATS:-tar rs.tar.gz tar.gz}
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

[ -f "$build/common/libbdcommon.a" ] || { echo "delta: build $build first" >&2; exit 1; }
cc -O2 -D_GNU_SOURCE -I"$src/common" -I"$src/client" -o "$W/chunktool" \
	"$src/tests/bench/chunktool.c" "$build/common/libbdcommon.a" \
	-lzstd -lcrypto -lsodium -ljansson -lcurl -pthread
T=$W/chunktool

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

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
rm -rf www ng
mkdir -p www/blobs ng
for f in $FORMATS; do
	ln -f worldN1.$f www/
	r=$(CHUNK_LEVEL=${CHUNK_LEVEL:-9} $T pack www/blobs worldN.$f)
	echo "$r" >packN.$f.out
	idxN=$(echo "$r" | sed -n 's/.*index_sha256=\([0-9a-f]*\).*/\1/p')
	start=$(date +%s.%N)
	r=$(CHUNK_LEVEL=${CHUNK_LEVEL:-9} $T pack www/blobs worldN1.$f www/blobs/$idxN)
	echo "pack worldN1.$f: $(echo "$(date +%s.%N) - $start" | bc) s: $r"
	echo "$r" >packN1.$f.out
	idxN1=$(echo "$r" | sed -n 's/.*index_sha256=\([0-9a-f]*\).*/\1/p')
	pack=$(echo "$r" | sed -n 's/.*pack_sha256=\([0-9a-f]*\).*/\1/p')
	echo "$idxN $idxN1 $pack" >ids.$f
	zsyncmake -u "$url/worldN1.$f" -o www/worldN1.$f.zsync www/worldN1.$f >/dev/null 2>&1
	casync make --store=www/store www/worldN1.$f.caibx www/worldN1.$f >/dev/null
done

cat >ng/nginx.conf <<NGX
$([ "$(id -u)" -eq 0 ] && echo "user root;")
daemon off;
worker_processes 1;
pid $W/ng/nginx.pid;
error_log $W/ng/error.log;
events { worker_connections 256; }
http {
	log_format bytes '\$bytes_sent \$status \$request';
	access_log $W/ng/access.log bytes;
	client_body_temp_path $W/ng/body;
	proxy_temp_path $W/ng/proxy;
	fastcgi_temp_path $W/ng/fastcgi;
	uwsgi_temp_path $W/ng/uwsgi;
	scgi_temp_path $W/ng/scgi;
	default_type application/octet-stream;
	server { listen 127.0.0.1:$port; root $W/www; }
}
NGX
nginx -c "$W/ng/nginx.conf" &
ngpid=$!
trap 'kill $ngpid 2>/dev/null; wait $ngpid 2>/dev/null' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "$url/" && break; sleep 0.05; done

# run TOOL FORMAT: one transfer; appends "tool format bytes requests seconds"
run() {
	local tool=$1 f=$2 out=$W/out.$1 s e
	rm -f "$out"
	: >ng/access.log
	s=$(date +%s.%N)
	case $tool in
	full) curl -s -o "$out" "$url/worldN1.$f" ;;
	bootdrop)
		read -r idxN idxN1 pack <ids.$f
		curl -s -o "$W/idx.$f" "$url/blobs/$idxN1"
		$T assemble "$W/idx.$f" "$url/blobs/$pack" worldN.$f \
			www/blobs/$idxN "$out" >/dev/null ;;
	zsync) (cd "$W" && zsync -q -i worldN.$f -o "$out" "$url/worldN1.$f.zsync" >/dev/null 2>&1) ;;
	casync) casync extract --store="$url/store" --seed=worldN.$f \
		"$url/worldN1.$f.caibx" "$out" >/dev/null 2>&1 ;;
	esac
	e=$(date +%s.%N)
	cmp -s "$out" worldN1.$f || { echo "delta: $tool $f: wrong bytes" >&2; exit 1; }
	echo "$tool $f $(awk '{s+=$1; n++} END {print s, n}' ng/access.log) $(echo "$e - $s" | bc)" >>results
	rm -f "$out" "$out.zs-old"
}

: >results
for n in $(seq "$RUNS"); do
	for f in $FORMATS; do
		for tool in full bootdrop zsync casync; do
			run $tool $f
		done
	done
	echo "run $n done" >&2
done

# Medians of bytes, requests and seconds per tool and format, and ratios.
python3 - "$W/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    tool, f, b, n, t = line.split()
    rows.setdefault((f, tool), []).append((int(b), int(n), float(t)))
print("%-10s %-9s %12s %8s %9s %8s" % ("format", "tool", "bytes", "requests", "seconds", "runs"))
for f in dict.fromkeys(k[0] for k in rows):
    med = {}
    for tool in ("full", "bootdrop", "zsync", "casync"):
        r = rows.get((f, tool))
        if not r:
            continue
        med[tool] = tuple(statistics.median(x[i] for x in r) for i in range(3))
        print("%-10s %-9s %12d %8d %9.2f %8d" % (f, tool, med[tool][0], med[tool][1], med[tool][2], len(r)))
    best_b = min(med[t][0] for t in ("zsync", "casync"))
    best_t = min(med[t][2] for t in ("zsync", "casync"))
    print("%-10s bootdrop/best-peer bytes %.2fx  time %.2fx  bootdrop/full bytes %.3fx" % (
        f, med["bootdrop"][0] / best_b, med["bootdrop"][2] / best_t, med["bootdrop"][0] / med["full"][0]))
PY
