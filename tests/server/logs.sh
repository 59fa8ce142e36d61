#!/bin/bash
# bootdrop-server's logs and signals: SIGHUP reopens the access log after a
# rotation (rename + HUP), SIGTERM/SIGINT stop with status 0; a 403 or 500
# names its cause on standard error; libmicrohttpd's messages are bounded
# (the first of each kind kept); a directory that is not a repository is
# refused with the usage status.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

REPO=$T/repo
make_repo "$REPO" test 1
MAN_PATH=channels/test/manifest.json

# --- not a repository: says so, exit 1
mkdir "$T/plain"
expect_status 1 "a directory that is not a repository: exit 1" \
	"$SERVER" -r "$T/plain" -l 127.0.0.1:0
expect_err "not a bootdrop repository" "it says the directory is not a repository"

# --- SIGHUP: rename the log, HUP, the next lines go to a new file
start_server hup -r "$REPO" -l 127.0.0.1:0 --access-log "$T/access.log"
expect_eq "$(http_code "${URL}$MAN_PATH?before")" 200 "request before the rotation"
mv "$T/access.log" "$T/access.log.1"
kill -HUP "$SERVER_PID"
# wait for the server to say it reopened (bounded), then log one more line
for i in $(seq 200); do grep -q 'access log reopened' "$T/hup.err" && break; sleep 0.02; done
kill -0 "$SERVER_PID" 2>/dev/null && ok "SIGHUP does not stop the server" || fail "SIGHUP killed the server"
expect_eq "$(http_code "${URL}$MAN_PATH?after")" 200 "request after the rotation"
grep -q 'before' "$T/access.log.1" && ok "old lines stay in the renamed file" ||
	fail "renamed log lacks the first request"
grep -q 'after' "$T/access.log" 2>/dev/null && ok "SIGHUP reopened the access log at its path" ||
	fail "no new access log after SIGHUP"
grep -q 'after' "$T/access.log.1" && fail "a line after SIGHUP went to the renamed file" ||
	ok "nothing after SIGHUP went to the old file"
kill -INT "$SERVER_PID"
wait "$SERVER_PID"
expect_eq "$?" 0 "SIGINT: exit 0"
sanitizer_check

# --- a 403 names its cause (a blob the server cannot read)
chmod 000 "$REPO/blobs/sha256/$KERNEL_SHA"
if [ "$(id -u)" -eq 0 ]; then
	# root reads anything: drop the capabilities that bypass permissions
	SERVER_AS=(setpriv --bounding-set -dac_override,-dac_read_search "$SERVER")
else
	SERVER_AS=("$SERVER")
fi
SERVER_NAME=perm
"${SERVER_AS[@]}" -r "$REPO" -l 127.0.0.1:0 >"$T/perm.out" 2>"$T/perm.err" &
SERVER_PID=$!
_bd_pids+=("$SERVER_PID")
for i in $(seq 200); do grep -q '^listening' "$T/perm.out" && break; sleep 0.025; done
URL=$(sed -n 's|^listening on \(http://.*/\)$|\1|p' "$T/perm.out")
expect_eq "$(http_code "${URL}blobs/sha256/$KERNEL_SHA")" 403 "unreadable blob: 403"
grep -q "blobs/sha256/$KERNEL_SHA: Permission denied (answered 403)" "$T/perm.err" &&
	ok "the 403 is logged with its cause" || fail "403 cause not logged: $(cat "$T/perm.err")"
stop_server
chmod 644 "$REPO/blobs/sha256/$KERNEL_SHA"

# --- libmicrohttpd's messages are bounded: 300 clients that reset the
# connection in the middle of a blob (libmicrohttpd logs each failed send).
# Malformed heads no longer reach libmicrohttpd at all (tests/server/framing.py).
rm -f "$T/world.tgz"
make_repo "$T/bigrepo" test 16
start_server flood -r "$T/bigrepo" -l 127.0.0.1:0
python3 - "$PORT" "$WORLD_SHA" <<'PY'
import socket, struct, sys
port, sha = int(sys.argv[1]), sys.argv[2]
req = b"GET /blobs/sha256/%s HTTP/1.1\r\nHost: x\r\n\r\n" % sha.encode()
for i in range(300):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    s.recv(100)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
stop_server
n=$(grep -c "Failed to send" "$T/flood.err")
first=$(grep -m1 "Failed to send" "$T/flood.err")
[ "$n" -ge 1 ] && [ "$n" -le 10 ] && ok "300 errors of one kind: $n lines" ||
	fail "300 errors of one kind: $n lines"
case $first in
*times\)*) fail "the first line of the kind is not the first message: $first" ;;
*) ok "the first message of the kind is kept: ${first:0:60}" ;;
esac
# Not every reset fails a send (some land before the body starts; how many
# depends on timing), so the lines counted are: the first, then "(2 times)",
# "(4 times)", ... one per power of two, in order; at least two failures.
counts=$(grep "Failed to send" "$T/flood.err" | sed -n 's/.*(\([0-9]*\) times)$/\1/p' | tr '\n' ' ')
want= p=2
for _ in $(seq $((n - 1))); do want="$want$p "; p=$((p * 2)); done
[ "$n" -ge 2 ] && [ "$counts" = "$want" ] &&
	ok "the count is reported at powers of two: ${counts% }" ||
	fail "count lines: '$counts', want '$want' (at least one)"

finish
