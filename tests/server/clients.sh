#!/bin/bash
# bootdrop-server under load and abuse: aria2c splitting a blob over
# several ranged connections, 200 concurrent clients, the per-address
# connection cap, idle timeouts, and slow (slowloris) clients that must
# not keep a normal client from being served promptly.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

REPO=$T/repo
make_repo "$REPO" load 4
start_server srv -r "$REPO" -l 127.0.0.1:0 --max-per-ip 0 --access-log "$T/access.log"
BLOB=${URL}blobs/sha256/$WORLD_SHA

# --- aria2c: one blob over 8 ranged connections
if aria2c -q -x 8 -s 8 -k 1M --min-split-size=1M --allow-overwrite=true \
	--auto-file-renaming=false -d "$T" -o aria.out "$BLOB"; then
	expect_eq "$(sha256sum <"$T/aria.out" | cut -c1-64)" "$WORLD_SHA" "aria2c -x 8: hash matches"
	n=$(grep -c "GET /blobs/sha256/$WORLD_SHA HTTP/1.1\" 206 " "$T/access.log")
	[ "$n" -ge 2 ] && ok "aria2c used $n ranged requests" || fail "aria2c made $n ranged requests"
else
	fail "aria2c failed"
fi

# --- 200 concurrent clients, every body checked
seq 200 | xargs -P 200 -I{} sh -c \
	'curl -sf --max-time 60 "$1" | sha256sum | cut -c1-64' _ "$BLOB" >"$T/many" 2>&1
expect_eq "$(grep -c "^$WORLD_SHA\$" "$T/many")" 200 "200 concurrent clients all got the right bytes"
seq 200 | xargs -P 100 -I{} curl -sf --max-time 60 -o /dev/null -w '%{http_code}\n' \
	"${URL}channels/load/manifest.json" >"$T/many2"
expect_eq "$(grep -c '^200$' "$T/many2")" 200 "200 manifest requests over 100 parallel clients"
stop_server
expect_eq "$STOP_STATUS" 0 "stopped cleanly after the load"

# --- caps: 4 connections per address.  Timeouts of 30 s and 60 s here,
# so that whatever closes a connection within the few seconds a check
# waits is the eviction under test, never a timeout.
start_server capped -r "$REPO" -l 127.0.0.1:0 --max-per-ip 4 --timeout 60 --header-timeout 30
# still_open FD : nothing (not even EOF) arrives on FD within 1 s.
still_open() { timeout 1 cat <&"$1" >/dev/null; [ $? -eq 124 ]; }
# Connections that have not sent a head take no served slot: four silent
# ones and a fifth is still served, the oldest silent one pushed out.
exec 11<>"/dev/tcp/127.0.0.1/$PORT" 12<>"/dev/tcp/127.0.0.1/$PORT" \
	13<>"/dev/tcp/127.0.0.1/$PORT" 14<>"/dev/tcp/127.0.0.1/$PORT"
expect_eq "$(http_code "${URL}channels/load/manifest.json" --max-time 5)" 200 \
	"four silent connections do not lock out a fifth from the address"
if timeout 5 cat <&11 >/dev/null; then ok "the oldest silent connection was closed to make room"
else fail "oldest silent connection still open (--header-timeout 30)"; fi
still_open 12 && still_open 14 && ok "the other silent connections stay open" ||
	fail "a silent connection other than the oldest was closed"
exec 11<&- 12<&- 13<&- 14<&-
# Four kept-alive connections between requests give way to a fifth client
# of the address: the oldest is closed, the others stay.
for fd in 11 12 13 14; do
	eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"
	printf 'HEAD /channels/load/manifest.json HTTP/1.1\r\nHost: x\r\n\r\n' >&$fd
	read -r -t 5 status <&$fd
	[ "${status%$'\r'}" = "HTTP/1.1 200 OK" ] || fail "kept-alive connection $fd: '$status'"
done
expect_eq "$(http_code "${URL}channels/load/manifest.json" --max-time 5)" 200 \
	"a kept-alive idle connection gives way to a new client of the address"
if timeout 5 cat <&11 >/dev/null; then ok "the oldest kept-alive connection was closed to make room"
else fail "oldest kept-alive connection still open (--timeout 60, --header-timeout 30)"; fi
still_open 12 && still_open 14 && ok "the other kept-alive connections stay open" ||
	fail "a kept-alive connection other than the oldest was closed"
exec 11<&- 12<&- 13<&- 14<&-
# Four downloads in progress hold every served slot of the address: a
# fifth client gets 503, another address is served.
# (python: readers with a small receive window that read nothing, so the
# 4 MiB answers stay in progress)
python3 - "$PORT" "/blobs/sha256/$WORLD_SHA" >"$T/readers.out" <<'PY' &
import socket, sys
socks = []
for i in range(4):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2]).encode())
    s.recv(100)
    socks.append(s)
print("reading", flush=True)
__import__("time").sleep(60)
PY
dl_pid=$!
_bd_pids+=("$dl_pid")
for i in $(seq 200); do grep -q reading "$T/readers.out" && break; sleep 0.05; done
code=$(http_code "${URL}channels/load/manifest.json" --max-time 5)
expect_eq "$code" 503 "5th served connection from one address refused"
code=$(http_code "${URL}channels/load/manifest.json" --interface 127.0.0.2 --max-time 5)
expect_eq "$code" 200 "another client address is still served"
kill "$dl_pid"; wait "$dl_pid" 2>/dev/null
code=$(code_within "${URL}channels/load/manifest.json")
expect_eq "$code" 200 "slots free again once the downloads end"
stop_server

# --- --header-timeout 1 (and a 60 s idle timeout, so that only the head
# deadline can close a connection within the 5 s waited here)
start_server headto -r "$REPO" -l 127.0.0.1:0 --max-per-ip 4 --timeout 60 --header-timeout 1
# closed_within FD SECONDS : EOF on FD within SECONDS; prints the time.
closed_within() {
	local t0=$(date +%s%N)
	timeout "$2" cat <&"$1" >/dev/null || return 1
	printf '%d ms' $(( ($(date +%s%N) - t0) / 1000000 ))
}
exec 11<>"/dev/tcp/127.0.0.1/$PORT"
if took=$(closed_within 11 5); then ok "silent connection closed by --header-timeout 1 (after $took)"
else fail "silent connection open after 5 s with --header-timeout 1"; fi
exec 11<&-
# ... and an idle kept-alive connection is closed --header-timeout after
# its last response (the read sees the rest of the answer, then EOF).
exec 14<>"/dev/tcp/127.0.0.1/$PORT"
printf 'HEAD /channels/load/manifest.json HTTP/1.1\r\nHost: x\r\n\r\n' >&14
if took=$(closed_within 14 5); then ok "idle kept-alive connection closed by --header-timeout 1 (after $took)"
else fail "idle kept-alive connection still open after 5 s"; fi
exec 14<&-
# ... and a next head that trickles in (a byte every 0.2 s, each one
# resetting libmicrohttpd's idle timer; 17 s for all of it) is cut at
# --header-timeout: not before 1 s, and well before the head is complete.
python3 - "$PORT" >"$T/trickle.out" <<'PY'
import socket, sys, time
req = b"HEAD /channels/load/manifest.json HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 60 + b"\r\n\r\n"
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(req)
s.settimeout(5)
s.recv(4096)
start = time.time()
try:
    for b in req:
        s.sendall(bytes([b]))
        time.sleep(0.2)
    print("not closed after %.1f s" % (time.time() - start))
except OSError:
    print("closed after %.1f s" % (time.time() - start))
PY
if awk '$1 == "closed" && $3 >= 1.0 && $3 < 10 { found = 1 } END { exit !found }' "$T/trickle.out"; then
	ok "a trickling next head is cut by --header-timeout 1: $(cat "$T/trickle.out")"
else
	fail "a trickling next head with --header-timeout 1: $(cat "$T/trickle.out") (want 1 to 10 s)"
fi
stop_server

# established : how many client connections to the server are established;
# sockets : how many client sockets to it exist, in any state.
established() {
	ss -Htn state established "( dport = :$PORT )" | wc -l
}
sockets() {
	ss -Htn "( dport = :$PORT )" | wc -l
}
# wait_established N SECONDS : until N client connections to the server
# are established, or SECONDS passed.
wait_established() {
	local end=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(established)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# --- slowloris: 40 clients dribbling header bytes from 127.0.0.1 ...
start_server slow -r "$REPO" -l 127.0.0.1:0 --max-per-ip 32 --timeout 5
BLOB=${URL}blobs/sha256/$WORLD_SHA
dribble() {
	exec 3<>/dev/tcp/127.0.0.1/"$PORT" || return
	printf 'GET /channels/load/manifest.json HTTP/1.1\r\nHost: x\r\n' >&3
	# read -t on the silent socket waits without forking a sleep(1)
	for i in $(seq 30); do printf 'X-%d: a\r\n' "$i" >&3 2>/dev/null || return; read -r -t 0.5 -u 3; done
}
slow_pids=()
for i in $(seq 40); do dribble & slow_pids+=($!); _bd_pids+=($!); done
# Let the dribblers connect (bounded wait on the kernel's view): the
# check below means nothing unless they hold their connections.
wait_established 32 10 && ok "slow clients connected: $(established)" ||
	fail "only $(established) slow clients connected within 10 s"
# ... a normal client from another address still gets a whole blob quickly.
start=$(date +%s%N)
code=$(http_code "$BLOB" --interface 127.0.0.2 --max-time 5)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "$code" 200 "normal client served while 40 slow clients dribble (${ms} ms)"
[ "$(established)" -ge 32 ] && ok "the slow clients were still connected: $(established)" ||
	fail "the slow clients were gone: $(established) connected"
for p in "${slow_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
# slowhttptest, bounded, as a second opinion (alone: the dribblers are gone;
# its 200 connections from one address push each other out, so about 32
# are established at any moment).
if command -v slowhttptest >/dev/null; then
	for i in $(seq 100); do [ "$(established)" -eq 0 ] && break; sleep 0.05; done
	timeout -s KILL 10 slowhttptest -H -c 200 -r 100 -i 2 -l 4 -s 8192 -t GET \
		-u "${URL}channels/load/manifest.json" -p 3 -o "$T/slowhttp" >"$T/slowhttp.log" 2>&1 &
	sp=$!
	_bd_pids+=("$sp")
	wait_established 20 10 && ok "slowhttptest under way: $(established) connections" ||
		{ fail "slowhttptest: only $(established) connections within 10 s"; tail -n 12 "$T/slowhttp.log" | sed "s/^/    | /" >&2; }
	code=$(http_code "${URL}channels/load/manifest.json" --interface 127.0.0.3 --max-time 5)
	expect_eq "$code" 200 "normal client served during slowhttptest ($(established) connections)"
	wait "$sp" 2>/dev/null	# bounded by -l 4 and timeout
fi
stop_server
expect_eq "$STOP_STATUS" 0 "stopped cleanly after the slow clients"

finish
