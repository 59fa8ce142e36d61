#!/bin/bash
# bootdrop-server under attack, on loopback: the framing table of RFC 9112
# cases (status, one answer, connection closed or kept), slowloris with
# 1100 connections from 20 addresses while a probe from another address
# must get >= 99% of its answers (within a generous 5 s; the figures within
# 1 s are printed) also with the pending-head cap forcing evictions, and the "/" page with 300 channels: cached (no file
# opened per request) and invalidated by a release at once.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"
HERE=$(dirname "$0")

REPO=$T/repo
make_repo "$REPO" test 1

# --- framing table (tests/server/framing.py prints ok/FAIL per check)
start_server framing -r "$REPO" -l 127.0.0.1:0 --access-log "$T/framing.log"
if python3 "$HERE/framing.py" "$PORT" >"$T/framing.out" 2>&1; then
	ok "framing table: $(grep -c '^ok' "$T/framing.out") checks"
else
	fail "framing table:"
	grep -v '^ok' "$T/framing.out" | sed 's/^/    | /' >&2
fi
stop_server
# the same table with a thread per connection (libmicrohttpd polls there)
start_server framing-tpc -r "$REPO" -l 127.0.0.1:0 --thread-per-connection
if python3 "$HERE/framing.py" "$PORT" >"$T/framing-tpc.out" 2>&1; then
	ok "framing table, thread per connection: $(grep -c '^ok' "$T/framing-tpc.out") checks"
else
	fail "framing table, thread per connection:"
	grep -v '^ok' "$T/framing-tpc.out" | sed 's/^/    | /' >&2
fi
stop_server
# refused requests are logged like the others: the space-in-target case
grep -q '"GET /channels/te st/manifest.json HTTP/1.1" 400 ' "$T/framing.log" &&
	ok "refused requests are in the access log" ||
	fail "space-in-target 400 not logged: $(grep -c ' 400 ' "$T/framing.log") lines with 400"

# --- slowloris: 1100 connections over 127.0.0.10-29, probe from 127.0.0.200
MAN=/channels/test/manifest.json
start_server slow -r "$REPO" -l 127.0.0.1:0 --header-timeout 2
if python3 "$HERE/slowloris.py" "$PORT" "$MAN" 1100 20 6 >"$T/slow.res" 2>&1; then
	ok "slowloris, 1100 connections from 20 addresses: $(tr '\n' ';' <"$T/slow.res")"
else
	fail "slowloris, 1100 connections from 20 addresses: $(tr '\n' ';' <"$T/slow.res")"
fi
stop_server
expect_eq "$STOP_STATUS" 0 "stopped cleanly after the slowloris run"
grep -Eq 'connections: .* [1-9][0-9]* head timeouts' "$T/slow.err" &&
	ok "incomplete heads were closed at --header-timeout" ||
	fail "no head timeouts counted: $(grep connections: "$T/slow.err")"
# With room for only 300 pending heads (and 20 per address) the attack
# pushes heads out; the probe still gets through.
start_server slowcap -r "$REPO" -l 127.0.0.1:0 --max-pending 300 --max-per-ip 20
if python3 "$HERE/slowloris.py" "$PORT" "$MAN" 1100 20 4 >"$T/slowcap.res" 2>&1; then
	ok "slowloris over --max-pending 300: $(tr '\n' ';' <"$T/slowcap.res")"
else
	fail "slowloris over --max-pending 300: $(tr '\n' ';' <"$T/slowcap.res")"
fi
stop_server
grep -Eq 'connections: .* [1-9][0-9]* pushed out' "$T/slowcap.err" &&
	ok "the oldest incomplete heads were pushed out" ||
	fail "nothing pushed out: $(grep connections: "$T/slowcap.err")"

# --- the index with 300 channels
for i in $(seq 300); do
	mkdir "$REPO/channels/c$i"
	cp "$REPO/channels/test/manifest.json" "$REPO/channels/c$i/manifest.json"
done
start_server index -r "$REPO" -l 127.0.0.1:0
curl -s "$URL" >"$T/index.html"
expect_eq "$(grep -o 'href="/channels/c[0-9]*/"' "$T/index.html" | sort -u | wc -l)" 300 \
	"the index lists 300 channels"
# Cached: answering "/" again opens no file and stats none.
# strace marks its own start and end with a request for a missing blob
# (an openat of blobs/sha256/<marker>), so no sleep is needed.
mark() {
	local m=$(printf '%064d' "$1")
	curl -s -o /dev/null "${URL}blobs/sha256/$m"
	for i in $(seq 500); do grep -q "$m" "$T/strace" 2>/dev/null && return 0; sleep 0.01; done
	return 1
}
if command -v strace >/dev/null; then
	strace -f -qq -e trace=openat,openat2,newfstatat,statx,open -p "$SERVER_PID" -o "$T/strace" &
	st=$!
	for i in 1 2 3 4 5; do mark 1 && break; done
	grep -q "$(printf '%064d' 1)" "$T/strace" || fail "strace never saw the start marker"
	for i in $(seq 20); do curl -s -o /dev/null "$URL"; done
	mark 2 || fail "strace lost the end marker"
	kill "$st"; wait "$st" 2>/dev/null
	n=$(sed -n "/$(printf '%064d' 1)/,/$(printf '%064d' 2)/p" "$T/strace" | grep -c 'channels')
	expect_eq "$n" 0 "20 index requests open or stat no channel file"
fi
# A release shows at once (inotify), without waiting.
echo v2 >>"$WORLD"
"$PUBLISH" release -r "$REPO" -c test -s "$TEST_SEC" kernel="$KERNEL" world="$WORLD" >/dev/null ||
	fail "cannot publish version 2"
curl -s "$URL" | tr -d '\n' | grep -q 'href="/channels/test/">test</a></td><td data-l="version">2</td>' &&
	ok "a release (version 2 of test) shows on the next request" || fail "stale index after a release"
mkdir "$REPO/channels/new"
cp "$REPO/channels/test/manifest.json" "$REPO/channels/new/manifest.json"
curl -s "$URL" | grep -q 'href="/channels/new/"' && ok "a new channel shows on the next request" ||
	fail "new channel missing from the index"
rm -r "$REPO/channels/c9"
curl -s "$URL" | grep -q 'href="/channels/c9/"' && fail "a removed channel is still listed" ||
	ok "a removed channel is gone on the next request"
stop_server

finish
