# tests/lib.sh - sourced by every shell test.  Provides a scratch directory,
# the programs under test, and assertions that name what failed.
set -u
: "${BOOTDROP_SRCDIR:?run through meson test}"
# Debian's own tools first (a version manager's shims cost a second a call).
export PATH=/usr/bin:/bin:$PATH
TESTDATA=$BOOTDROP_TESTDATA
PUBLISH=${BOOTDROP_PUBLISH:-$BOOTDROP_BUILDDIR/server/bootdrop-publish}
SERVER=${BOOTDROP_SERVER:-$BOOTDROP_BUILDDIR/server/bootdrop-server}
FETCH=${BOOTDROP_FETCH:-$BOOTDROP_BUILDDIR/client/bootdrop-fetch}
# The committed test key pair (unencrypted secret key; see tests/data/keys).
TEST_PUB=$TESTDATA/keys/test.pub
TEST_SEC=$TESTDATA/keys/test.key
# Sanitizers (a -Db_sanitize build) exit 86, never 1 - the status of a
# usage error, which many checks expect - and never abort; deploy/test.sh
# sets the same.  A report on stderr fails a check whatever the status.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:abort_on_error=0:exitcode=86
export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=86
SANITIZER_RE='ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|LeakSanitizer|SUMMARY: [A-Za-z]+Sanitizer'
T=$(mktemp -d "${TMPDIR:-/tmp}/bootdrop-test.XXXXXX")
_bd_pids=()
_bd_servers=()	# "PID NAME STDERR-FILE" of every bootdrop-server started
_bd_reported=()	# files whose sanitizer report already failed a check
cleanup() {
	for p in "${_bd_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# sanitizer_report FILE : true when FILE holds a sanitizer's report.
sanitizer_report() {
	grep -Eqs -- "$SANITIZER_RE" "$1"
}

# no_sanitizer_report DESC FILE : fails DESC when FILE holds a report.
no_sanitizer_report() {
	sanitizer_report "$2" || return 0
	_bd_reported+=("$2")
	fail "$1: sanitizer report"
	grep -E -A 30 -- "$SANITIZER_RE" "$2" | head -n 40 | sed 's/^/    | /' >&2
	return 1
}

# expect_status WANT DESC CMD... : runs CMD, checks its exit status and
# that its stderr holds no sanitizer report; the command's stderr is kept
# in $T/last.err for expect_err.
expect_status() {
	local want=$1 desc=$2; shift 2
	"$@" >"$T/last.out" 2>"$T/last.err"
	local got=$?
	no_sanitizer_report "$desc (exit $got)" "$T/last.err" || return 1
	if [ "$got" -ne "$want" ]; then
		fail "$desc: exit $got, want $want"
		sed 's/^/    | /' "$T/last.err" >&2
		return 1
	fi
	ok "$desc (exit $got)"
}

# watch_server PID NAME STDERR-FILE : a bootdrop-server the test started;
# finish stops it (SIGTERM must end it with status 0) and fails on a
# sanitizer report in STDERR-FILE.
watch_server() {
	_bd_servers+=("$1 $2 $3")
}

# stop_servers : stops every watched server still running and checks
# their stderr (called by finish).
stop_servers() {
	local s pid name err st
	for s in "${_bd_servers[@]}"; do
		read -r pid name err <<<"$s"
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			st=$?
			[ "$st" -eq 0 ] || fail "bootdrop-server $name: exit $st after SIGTERM"
		fi
		[[ " ${_bd_reported[*]} " = *" $err "* ]] ||
			no_sanitizer_report "bootdrop-server $name" "$err"
	done
	_bd_servers=()
}

# expect_eq GOT WANT DESC
expect_eq() {
	if [ "$1" = "$2" ]; then ok "$3"; else fail "$3: got '$1', want '$2'"; fi
}

# expect_err REGEX DESC : the last command's stderr matches REGEX.
expect_err() {
	if grep -Eq -- "$1" "$T/last.err"; then ok "$2"; else
		fail "$2: stderr does not match /$1/"; sed 's/^/    | /' "$T/last.err" >&2; fi
}

# tree_digest DIR : one hash over every path, type, mode and content.
tree_digest() {
	(cd "$1" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum
}

# make_kernel FILE [i386|amd64] : a small ELF executable carrying a Xen
# PV guest note, built on the fly with the test data generator.
make_kernel() {
	"$BOOTDROP_BUILDDIR/tests/mkkernel" "${2:-i386}" "$1"
}

# make_world FILE [MiB] : a small gzip'd tarball.
make_world() {
	local d; d=$(mktemp -d "$T/world.XXXXXX")
	mkdir -p "$d/etc" "$d/bin"
	echo "hostname=\"bootdrop-test\"" > "$d/etc/rc.conf"
	head -c "$(( ${2:-1} * 1024 * 1024 ))" /dev/urandom > "$d/bin/blob"
	tar -C "$d" -czf "$1" .
	rm -rf "$d"
}

# fsck_clean DESC IMG : e2fsck -fn finds nothing to fix in the ext2 image.
fsck_clean() {
	if e2fsck -fn "$2" >"$T/fsck.out" 2>&1; then
		ok "$1: e2fsck -fn clean"
	else
		fail "$1: e2fsck -fn reports problems"
		sed 's/^/    | /' "$T/fsck.out" >&2
	fi
}

# same_bytes DESC IMG PATH FILE : debugfs reads exactly FILE's bytes at PATH.
same_bytes() {
	debugfs -R "cat /$3" "$2" 2>/dev/null >"$T/read.out"
	cmp -s "$T/read.out" "$4" && ok "$1: /$3 is byte for byte the expected file" ||
		fail "$1: /$3 differs ($(stat -c %s "$T/read.out") bytes read)"
}

# nginx_conf PORT HTTP_BODY : writes $T/nginx/nginx.conf for nginx-light
# run as the current user on 127.0.0.1:PORT, every path under $T/nginx;
# HTTP_BODY goes inside http { } and may use $T/nginx paths.
nginx_conf() {
	local user=
	[ "$(id -u)" -eq 0 ] && user="user root;"	# workers must read $T
	mkdir -p "$T/nginx"
	cat >"$T/nginx/nginx.conf" <<NGX
$user
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 64; }
http {
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
$2
}
NGX
}

# nginx_start HTTP_BODY : nginx_conf with HTTP_BODY on a free port (each
# @PORT@ in it becomes the port), starts nginx and waits until it answers;
# sets nginx_pid and nginx_url.  Another port is tried if that one was taken.
nginx_start() {
	local n port
	for n in 1 2 3 4 5; do
		port=$(free_port)
		nginx_conf "$port" "${1//@PORT@/$port}"
		/usr/sbin/nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
			>/dev/null 2>&1 &
		nginx_pid=$!
		_bd_pids+=($nginx_pid)
		for _ in $(seq 100); do
			if [ "$(curl -s -o /dev/null -w '%{http_code}' \
			    "http://127.0.0.1:$port/none")" != 000 ]; then
				nginx_url=http://127.0.0.1:$port
				return 0
			fi
			kill -0 "$nginx_pid" 2>/dev/null || break
			sleep 0.05
		done
	done
	echo "nginx did not start: $(cat "$T/nginx/error.log")" >&2
	return 1
}

# free_port : prints a port that was free on 127.0.0.1 a moment ago.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# finish : stops the watched servers, looks for a sanitizer report left in
# any file of the scratch directory (a program whose stderr went to a file
# no check read), then exits 1 if any check failed.
finish() {
	local f
	stop_servers
	while IFS= read -r f; do
		[[ " ${_bd_reported[*]} " = *" $f "* ]] ||
			no_sanitizer_report "stderr kept in ${f#"$T"/}" "$f"
	done < <(grep -rlsIE -- "$SANITIZER_RE" "$T")
	if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed" >&2; exit 1; fi
	exit 0
}
