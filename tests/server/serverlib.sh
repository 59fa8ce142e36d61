# tests/server/serverlib.sh - helpers shared by the bootdrop-server tests;
# sourced after tests/lib.sh.

# make_repo DIR CHANNEL [WORLD_MIB] : publishes a kernel and a world into
# DIR with the committed test key; sets KERNEL, WORLD, KERNEL_SHA, WORLD_SHA.
make_repo() {
	KERNEL=$T/kernel WORLD=$T/world.tgz
	[ -f "$KERNEL" ] || make_kernel "$KERNEL"
	[ -f "$WORLD" ] || make_world "$WORLD" "${3:-1}"
	KERNEL_SHA=$(sha256sum "$KERNEL" | cut -c1-64)
	WORLD_SHA=$(sha256sum "$WORLD" | cut -c1-64)
	"$PUBLISH" release -r "$1" -c "$2" -s "$TEST_SEC" \
		kernel="$KERNEL" world="$WORLD" >/dev/null ||
		{ echo "cannot publish a test repository" >&2; exit 1; }
}

# start_server NAME ARGS... : starts bootdrop-server in the background
# (stdout to $T/NAME.out, stderr to $T/NAME.err), waits for its
# "listening on" line and sets URL (ending in /), PORT and SERVER_PID.
start_server() {
	local name=$1 i; shift
	SERVER_NAME=$name
	"$SERVER" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	SERVER_PID=$!
	_bd_pids+=("$SERVER_PID")
	watch_server "$SERVER_PID" "$name" "$T/$name.err"
	URL=
	for i in $(seq 400); do
		URL=$(sed -n 's|^listening on \(http://.*/\)$|\1|p' "$T/$name.out")
		[ -n "$URL" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.025
	done
	if [ -z "$URL" ]; then
		echo "bootdrop-server did not start:" >&2
		sed 's/^/    | /' "$T/$name.err" >&2
		exit 1
	fi
	PORT=${URL##*:}
	PORT=${PORT%/}
}

# stop_server : SIGTERM, and the exit status in STOP_STATUS.
stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID"
	STOP_STATUS=$?
	sanitizer_check
}

# sanitizer_check : fails the test when the server's stderr has a
# sanitizer report (sanitizer builds).
sanitizer_check() {
	no_sanitizer_report "bootdrop-server ($SERVER_NAME)" "$T/$SERVER_NAME.err"
}

# http_code URL [CURL ARGS...] : prints only the status code.
http_code() {
	local u=$1; shift
	curl -s --path-as-is -o /dev/null -w '%{http_code}' "$@" "$u"
}

# code_within URL : the status code of URL once it is 200, or the last
# one after 10 s of trying (slots a finished download held come free).
code_within() {
	local code
	for _ in $(seq 100); do
		code=$(http_code "$1" --max-time 5)
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	echo "$code"
}

# header NAME FILE : the value of a response header in a curl -D dump.
header() {
	tr -d '\r' <"$2" | sed -n "s/^$1: //Ip" | tail -n 1
}
