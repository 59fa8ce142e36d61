#!/bin/bash
# tests/bench/delta_rss.sh [BUILDDIR] - peak RSS of bootdrop-fetch while it
# installs version 2 of a world by delta from the version 1 it installed,
# for worlds of SIZES MiB (default "16 256 1024").  Version 1 is random
# bytes (so every chunk is stored raw and the pack is as large as the
# world); version 2 is version 1 with 64 KiB of new bytes inserted at
# each of 32 places, so the delta has work in every part of the world.
# Issue 22 item 4: peak RSS stays <= 16 MiB, flat from 16 MiB to 1 GiB.
# Needs (1 GiB row) about 6 GiB of free space in TMPDIR.  Prints one row per size: world, chunks
# reused/fetched as the client reports them, bytes sent by the server,
# peak RSS of the delta run and of a whole download of the same version.
. "$(dirname "$0")/lib.sh"
bench_need /usr/bin/time python3
SIZES=${SIZES:-16 256 1024}
D=$T	# tests/lib.sh's temporary directory, removed at exit
FETCH=$build/client/bootdrop-fetch
PUBLISH=$build/server/bootdrop-publish
SERVER=$build/server/bootdrop-server

# worlds MIB : $D/w1 and $D/w2 as described above.
worlds() {
	head -c "$(( $1 * 1048576 ))" /dev/urandom >"$D/w1"
	python3 - "$D/w1" "$D/w2" <<'EOF'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
size = os.path.getsize(src)
step = size // 32
with open(src, 'rb') as f, open(dst, 'wb') as g:
    for i in range(32):
        g.write(f.read(step))
        g.write(os.urandom(65536))
    g.write(f.read())
EOF
}

# sent LOG : body bytes in a bootdrop-server access log.
sent() { awk '{ s += $10 } END { print s + 0 }' "$1"; }

# rss_of DESC CMD... : the peak RSS in KiB of CMD (its output in $D/DESC.out).
rss_of() {
	local desc=$1; shift
	/usr/bin/time -v "$@" >"$D/$desc.out" 2>&1
	sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$D/$desc.out"
}

printf '%-6s %-100s %12s %10s %10s\n' world "reused / fetched (client)" "server sent" \
	"delta RSS" "whole RSS"
for mib in $SIZES; do
	rm -rf "${D:?}"/*
	worlds "$mib"
	"$MK" i386 "$D/kernel" >/dev/null
	"$PUBLISH" release -r "$D/repo" -c "$CH" -s "$TEST_SEC" kernel="$D/kernel" \
		world="$D/w1" >/dev/null || { echo "bench: release 1 failed" >&2; exit 1; }
	start_server "$D/repo"
	mkdir "$D/dest" "$D/fresh"
	"$FETCH" -q -P "$PUBKEY" -c "$CH" -d "$D/dest" "$url" ||
		{ echo "bench: install of version 1 failed" >&2; exit 1; }
	"$PUBLISH" release -r "$D/repo" -c "$CH" -s "$TEST_SEC" kernel="$D/kernel" \
		world="$D/w2" >/dev/null || { echo "bench: release 2 failed" >&2; exit 1; }
	: >"$T/server.log"
	rd=$(rss_of delta "$FETCH" -P "$PUBKEY" -c "$CH" -d "$D/dest" "$url")
	moved=$(sent "$T/server.log")
	rw=$(rss_of whole "$FETCH" -q -P "$PUBKEY" -c "$CH" -d "$D/fresh" "$url")
	cmp -s "$D/dest/w2" "$D/w2" && cmp -s "$D/fresh/w2" "$D/w2" ||
		{ echo "bench: $mib MiB: installed world differs" >&2; exit 1; }
	reuse=$(sed -n 's/^world: \(.*reused.*fetched[^,]*\).*/\1/p' "$D/delta.out" | head -n 1)
	printf '%-6s %-100s %12s %7s KiB %7s KiB\n' "${mib}M" "${reuse:-(no delta reported)}" \
		"$moved" "$rd" "$rw"
	stop_servers
done
