# tests/fetch/common.sh - helpers for the bootdrop-fetch tests, sourced
# after tests/lib.sh: repositories, servers on 127.0.0.1 port 0, crafted
# manifests.
FETCHDIR=$BOOTDROP_SRCDIR/tests/fetch
EVIL=$FETCHDIR/evil_server.py
CRAFT=$FETCHDIR/craft.py
PUBKEY=$(tail -n 1 "$TEST_PUB")
CH=test
MK=$BOOTDROP_BUILDDIR/tests/mkkernel	# test kernels (tests/mkkernel.c)
RENDER=$BOOTDROP_BUILDDIR/tests/bootrender	# the boot entries a version should get

# need_server : skips the test (status 77) when bootdrop-server is not
# built; puts /sbin and /usr/sbin (mkfs.ext2, debugfs, e2fsck) on PATH.
need_server() {
	export PATH=$PATH:/sbin:/usr/sbin
	[ -x "$SERVER" ] || { echo "bootdrop-server not built"; exit 77; }
}

# M VERSION : the path of channel $CH's manifest VERSION in $T/repo.
M() { echo "$T/repo/channels/$CH/$1.json"; }

# wait_listening OUTFILE : prints the URL a server announced on OUTFILE.
wait_listening() {
	local i url
	for i in $(seq 200); do
		url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$1" 2>/dev/null | head -n 1)
		[ -n "$url" ] && { echo "${url%/}"; return 0; }
		sleep 0.05
	done
	echo "server did not start: $(cat "$1" "$1.err" 2>/dev/null)" >&2
	return 1
}

# start_evil MODE ROOT [NAME [OPTIONS...]] : starts evil_server.py; sets
# $url and the request log $T/NAME.log.
start_evil() {
	local mode=$1 root=$2 name=${3:-evil}
	shift $(( $# < 3 ? $# : 3 ))
	: >"$T/$name.log"; : >"$T/$name.out"	# no stale URL from a reused NAME
	python3 "$EVIL" --root "$root" --mode "$mode" --log "$T/$name.log" "$@" \
		>"$T/$name.out" 2>"$T/$name.out.err" &
	_bd_pids+=($!)
	evil_pid=$!
	url=$(wait_listening "$T/$name.out")
}

# mirrors SPEC... : one evil_server per "MODE[:OPTION,...]" serving
# $T/repo; their URLs in ${m[@]}, request logs $T/m0.log, $T/m1.log, ...;
# stop_mirrors ends them.
mirrors() {
	local i=0 spec opts
	m=(); mpids=()
	for spec in "$@"; do
		IFS=, read -r -a opts <<<"${spec#*:}"
		[ "$spec" = "${spec#*:}" ] && opts=()
		start_evil "${spec%%:*}" "$T/repo" "m$i" "${opts[@]}"
		m+=("$url"); mpids+=("$evil_pid")
		i=$((i + 1))
	done
}
stop_mirrors() {
	local p
	for p in "${mpids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	mpids=()
}

# start_server ROOT : starts bootdrop-server; sets $url, log in $T/server.log.
start_server() {
	"$SERVER" -r "$1" -l 127.0.0.1:0 --access-log "$T/server.log" \
		>"$T/server.out" 2>"$T/server.out.err" &
	_bd_pids+=($!)
	watch_server $! server "$T/server.out.err"
	url=$(wait_listening "$T/server.out")
}

# start_nginx ROOT : nginx-light with a temporary config as the current
# user on a free port; sets $url, access log in $T/nginx.access.
start_nginx() {
	nginx_start "
	log_format bd \"\$connection \$request \$status \$http_range\";
	access_log $T/nginx.access bd;
	types { application/json json; }
	default_type application/octet-stream;
	sendfile on;
	server { listen 127.0.0.1:@PORT@; root $1; }" && url=$nginx_url
}

# make_repo REPO [EXTRA RELEASE ARGS...] : publishes a kernel and a world.
make_repo() {
	local repo=$1; shift
	[ -f "$T/kernel" ] || make_kernel "$T/kernel"
	[ -f "$T/world.tgz" ] || make_world "$T/world.tgz"
	"$PUBLISH" release -r "$repo" -c "$CH" -s "$TEST_SEC" "$@" \
		kernel="$T/kernel" world="$T/world.tgz" >/dev/null
}

# fetch ARGS... : bootdrop-fetch with the test key and channel.
fetch() {
	"$FETCH" -P "$PUBKEY" -c "$CH" "$@"
}

# snapshot / unchanged : DESTDIR and a sibling outside it, byte for byte.
snapshot() {
	before_dest=$(tree_digest "$T/dest")
	before_out=$(tree_digest "$T/outside")
}
unchanged() {
	[ "$(tree_digest "$T/dest")" = "$before_dest" ] &&
		[ "$(tree_digest "$T/outside")" = "$before_out" ] &&
		ok "$1: DESTDIR and outside unchanged" ||
		fail "$1: DESTDIR or outside changed"
}

# only_parts_left DESC : after a network failure DESTDIR may hold partial
# downloads in .bootdrop/tmp (kept for resume) and nothing else new; they
# are checked and removed so unchanged can compare the rest.
only_parts_left() {
	if [ -e "$T/dest/.bootdrop" ]; then
		if (cd "$T/dest/.bootdrop" && find . -mindepth 1 | grep -Ev '^\./tmp(/[0-9a-f]{64}\.part)?$' | grep -q .); then
			fail "$1: unexpected files in .bootdrop"
		else
			ok "$1: only resumable parts in .bootdrop/tmp"
		fi
		rm -rf "$T/dest/.bootdrop"
	fi
}

# fresh_dest : an empty DESTDIR with some prior content and a sibling.
fresh_dest() {
	rm -rf "$T/dest" "$T/outside"
	mkdir -p "$T/dest/boot" "$T/outside"
	echo old >"$T/dest/boot/kernel"
	echo keep >"$T/outside/file"
}

# traced STRACE-ARGS... : strace -f -qq; LeakSanitizer cannot run under
# ptrace, so it is off for the traced program only.
traced() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq "$@"
}

# two_versions : $T/v1 and $T/v2, two small versions in which every file
# differs (kernel, world.tgz).  Version 1 also installs extra.txt, which
# version 2 no longer names: the install removes it, a step of the
# transaction like the renames.
two_versions() {
	mkdir -p "$T/v1" "$T/v2" "$T/w/etc"
	make_kernel "$T/v1/kernel"
	cp "$T/v1/kernel" "$T/v2/kernel"; echo "kernel two" >>"$T/v2/kernel"
	echo one >"$T/w/etc/version"; tar -C "$T/w" -czf "$T/v1/world.tgz" .
	echo two >"$T/w/etc/version"; head -c 30000 /dev/urandom >"$T/w/blob"
	tar -C "$T/w" -czf "$T/v2/world.tgz" .
	echo "version one only" >"$T/v1/extra.txt"
}

# chunked_versions : $T/v1 and $T/v2 like two_versions, but the world
# (world.txt) is 1.2 MB of text, above the 1 MiB from which the publisher
# chunks an artifact: version 2's world is version 1's with nine short
# insertions, so a guest holding version 1 fetches nine chunks or so of the
# pack and copies the rest from its installed world.
chunked_versions() {
	mkdir -p "$T/v1" "$T/v2"
	make_kernel "$T/v1/kernel"
	cp "$T/v1/kernel" "$T/v2/kernel"; echo "kernel two" >>"$T/v2/kernel"
	seq 1 200000 >"$T/v1/world.txt"
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(b"".join(d[i:i + 150000] + b"insertion %d\n" % i
    for i in range(0, len(d), 150000)))' "$T/v1/world.txt" "$T/v2/world.txt"
	echo "version one only" >"$T/v1/extra.txt"
}

# chunk_blobs REPO : after version 2's release, the hex names of version
# 1's and 2's world index ($index1, $index2), of version 2's pack ($pack2)
# and of version 2's world ($world2); $index1 must be set before.
chunk_blobs() {
	index2=$("$PUBLISH" show -r "$1" -c "$CH" | awk '$1 == "chunks" { print $2 }')
	pack2=$(od -An -v -tx1 -j 20 -N 32 "$1/blobs/sha256/$index2" | tr -d ' \n')
	world2=$(sha256sum <"$T/v2/world.txt" | cut -d' ' -f1)
}

# log_bytes LOG PATH : the body bytes bootdrop-server's access log LOG says
# it sent for PATH, once the log has settled (a request is logged when its
# connection is done, which can be just after the client exits).
log_bytes() {
	log_settle "$1"
	awk -v p="$2" '$7 == p { s += $10 } END { print s + 0 }' "$1"
}
# log_gets LOG PATH : how many requests for PATH LOG holds.
log_gets() {
	log_settle "$1"
	awk -v p="$2" '$7 == p { n++ } END { print n + 0 }' "$1"
}
log_settle() {
	local i a b
	a=$(stat -c %s "$1")
	for i in $(seq 20); do
		sleep 0.05
		b=$(stat -c %s "$1")
		[ "$a" = "$b" ] && return 0
		a=$b
	done
}

# version_menu N OUT [fresh] : the menu.lst bootdrop-fetch renders for
# version N of channel $CH over N-1 (fresh: N installed on an empty slice,
# no previous entry).
version_menu() {
	"$BOOTDROP_BUILDDIR/tests/bootrender" pvgrub 0 "$T/repo/channels/$CH/$1.json" \
		$([ "$1" -gt 1 ] && [ -z "${3:-}" ] && echo "$T/repo/channels/$CH/$(($1 - 1)).json") >"$2"
}

# chunked_worlds [STEP] : two worlds of about 4 MB that share all but an
# insertion every STEP bytes (default 400000: ten insertions) ($T/world.txt,
# $T/v2/world.txt, size2 bytes), published with
# a kernel as version 1 ($T/repo1) and 2 ($T/repo, blobs in $blobs);
# version 2's world hashes to $world2, its index is $index2, its pack $pack2.
chunked_worlds() {
	seq 1 600000 > "$T/world.txt"
	mkdir -p "$T/v2"
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read()
s = int(sys.argv[3])
open(sys.argv[2], "wb").write(b"".join(d[i:i + s] + b"insertion %d\n" % i
    for i in range(0, len(d), s)))' "$T/world.txt" "$T/v2/world.txt" "${1:-400000}"
	size2=$(stat -c %s "$T/v2/world.txt")
	make_kernel "$T/kernel"
	"$PUBLISH" release -r "$T/repo" -c $CH -s "$TEST_SEC" kernel="$T/kernel" \
		world="$T/world.txt" >/dev/null || fail "release v1"
	cp -a "$T/repo" "$T/repo1"
	"$PUBLISH" release -r "$T/repo" -c $CH -s "$TEST_SEC" kernel="$T/kernel" \
		world="$T/v2/world.txt" >/dev/null || fail "release v2"
	blobs=$T/repo/blobs/sha256
	index2=$("$PUBLISH" show -r "$T/repo" -c $CH | awk '$1 == "chunks" { print $2 }')
	pack2=$(od -An -v -tx1 -j 20 -N 32 "$blobs/$index2" | tr -d ' \n')
	world2=$(sha256sum < "$T/v2/world.txt" | cut -d' ' -f1)
	[ -n "$index2" ] && [ -f "$blobs/$pack2" ] &&
		ok "version 2's world has an index and a pack" ||
		fail "no chunks for version 2's world"
}

# serve REPO : start_server, with no URL of an earlier server left to read
# before the new one has truncated its output.
serve() {
	rm -f "$T/server.out"
	start_server "$1"
}

# bytes_sent LOG : what bootdrop-server's access log says it sent.
bytes_sent() {
	awk '{ s += $10 } END { print s + 0 }' "$1"
}

# delta_moved : after version 2's world came by chunks from
# bootdrop-server ($T/server.log): less than a quarter of its bytes sent,
# its own blob never asked for; sets full (pack ranges answered 206) and
# rbytes (their bytes).
delta_moved() {
	local sent
	sent=$(bytes_sent "$T/server.log")
	if [ "$sent" -gt 0 ] && [ "$sent" -lt $((size2 / 4)) ]; then
		ok "the server sent $sent bytes for a $size2-byte world (less than a quarter)"
	else
		fail "the server sent $sent bytes for a $size2-byte world"
	fi
	grep -q "GET /blobs/sha256/$world2 " "$T/server.log" &&
		fail "the world's own blob was fetched" || ok "the world's own blob was not fetched"
	full=$(grep -c "GET /blobs/sha256/$pack2 .* 206 " "$T/server.log")
	rbytes=$(grep "GET /blobs/sha256/$pack2 .* 206 " "$T/server.log" |
		awk '{ s += $10 } END { print s + 0 }')
}
