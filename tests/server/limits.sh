#!/bin/bash
# Promises of bootdrop-server no other test holds it to: --max-connections
# answers 503 once that many connections are being served, from any
# address, and serves again when they end; SIGTERM lets a response in
# flight finish, and --shutdown-timeout bounds how long it waits for one
# that does not; the Host header a client sends never reaches a page, a
# redirect or a header.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

REPO=$T/repo
make_repo "$REPO" test 4
BLOB=/blobs/sha256/$WORLD_SHA

# hold N OUT : N connections from 127.0.0.1 start downloading the world and
# then read nothing (a small receive window keeps each answer in flight)
# until killed; prints "holding" to OUT once all of them have begun.
hold() {
	python3 - "$PORT" "$BLOB" "$1" >"$2" <<'PY' &
import socket, sys, time
socks = []
for i in range(int(sys.argv[3])):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % sys.argv[2]).encode())
    s.recv(100)
    socks.append(s)
print("holding", flush=True)
time.sleep(120)
PY
	hold_pid=$!
	_bd_pids+=("$hold_pid")
	for _ in $(seq 200); do grep -q holding "$2" && return 0; sleep 0.05; done
	return 1
}

# --- --max-connections 2: a third client is refused, from any address
start_server maxconn -r "$REPO" -l 127.0.0.1:0 --max-connections 2 --max-per-ip 0
hold 2 "$T/hold.out" || fail "the two downloads did not start"
expect_eq "$(http_code "${URL}channels/test/manifest.json" --interface 127.0.0.2 --max-time 5)" 503 \
	"--max-connections 2: a third connection (another address) gets 503"
expect_eq "$(http_code "${URL}channels/test/manifest.json" --max-time 5)" 503 \
	"--max-connections 2: a third connection (same address) gets 503"
kill "$hold_pid"; wait "$hold_pid" 2>/dev/null
code=$(code_within "${URL}channels/test/manifest.json")
expect_eq "$code" 200 "served again once the downloads end"
stop_server
expect_eq "$STOP_STATUS" 0 "stopped cleanly after --max-connections"

# --- SIGTERM with a download in flight that ends on its own: it finishes
# (every byte, the right hash) before the server exits.
start_server drain -r "$REPO" -l 127.0.0.1:0 --shutdown-timeout 30
python3 - "$PORT" "$BLOB" >"$T/drain.out" <<'PY' &
import hashlib, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % sys.argv[2]).encode())
data = s.recv(65536)
print("started", flush=True)
time.sleep(1.5)                      # SIGTERM arrives meanwhile
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
print("status %s bytes %d sha256 %s" % (head.split(b" ")[1].decode(), len(body),
      hashlib.sha256(body).hexdigest()), flush=True)
PY
drain_pid=$!
for _ in $(seq 200); do grep -q started "$T/drain.out" && break; sleep 0.05; done
kill -TERM "$SERVER_PID"
wait "$drain_pid"
expect_eq "$(sed -n 's/^status \([0-9]*\) bytes [0-9]* sha256 //p' "$T/drain.out")" "$WORLD_SHA" \
	"SIGTERM: the download in flight finished with every byte ($(grep -o 'bytes [0-9]*' "$T/drain.out"))"
wait "$SERVER_PID"
expect_eq "$?" 0 "SIGTERM: exit 0 once the download ended"
sanitizer_check

# --- --shutdown-timeout 2 with a download that never ends: SIGTERM ends
# the server after about 2 s, not the default 10 (the time is printed; the
# bounds are generous for a loaded machine).
start_server stall -r "$REPO" -l 127.0.0.1:0 --shutdown-timeout 2
hold 1 "$T/stall.out" || fail "the stalled download did not start"
t0=$(date +%s%N)
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
st=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))
sanitizer_check
expect_eq "$st" 0 "--shutdown-timeout 2: exit 0 with a download still in flight"
[ "$ms" -ge 1500 ] && [ "$ms" -lt 8000 ] && ok "--shutdown-timeout 2: exited after $ms ms" ||
	fail "--shutdown-timeout 2: exited after $ms ms (want 2 s: at least 1.5, under 8)"
kill "$hold_pid"; wait "$hold_pid" 2>/dev/null

# --- the Host header: never echoed, in any page, redirect or header.
start_server host -r "$REPO" -l 127.0.0.1:0
evil=attacker.example
for path in "" "channels/test/" "channels/test" "channels/test/manifest.json" \
    "channels/none/" "no/such/path" "blobs/sha256/$WORLD_SHA"; do
	curl -s --path-as-is -H "Host: $evil:8080" -D "$T/host.head" -o "$T/host.body" \
		--max-time 10 -r 0-99 "$URL$path"
	if grep -qi "$evil" "$T/host.head" "$T/host.body"; then
		fail "Host: $evil echoed by /$path: $(grep -hi "$evil" "$T/host.head" "$T/host.body" | head -n 2)"
	else
		ok "Host: $evil not echoed by /$path ($(head -n 1 "$T/host.head" | tr -d '\r'))"
	fi
done
# The channel page's fetch command names the listening address instead.
curl -s -H "Host: $evil" "${URL}channels/test/" | grep -qF "${URL%/}" &&
	ok "the channel page names the listening address" ||
	fail "the channel page does not name ${URL%/}"
curl -s -H "Host: $evil" -D "$T/redir.head" -o /dev/null "${URL}channels/test"
grep -qi "^Location: " "$T/redir.head" && ok "/channels/test redirects: $(grep -i '^Location' "$T/redir.head" | tr -d '\r')" ||
	fail "/channels/test: no redirect"
stop_server

finish
