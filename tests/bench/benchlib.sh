# tests/bench/benchlib.sh - sourced by the server benchmarks: a scratch
# directory $W, background processes stopped on exit, free ports, and nginx
# serving a repository next to bootdrop-server.

W=$(mktemp -d "${TMPDIR:-/tmp}/bootdrop-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	local i
	for i in $(seq 200); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
		sleep 0.05
	done
	echo "nothing listening on port $1" >&2
	return 1
}

# start_nginx ROOT : nginx on a free port serving ROOT; sets NG_PORT
# (empty when nginx is missing or does not start).
start_nginx() {
	NG_PORT=
	command -v nginx >/dev/null || { echo "nginx not installed: no nginx column"; return 0; }
	NG_PORT=$(free_port)
	mkdir -p "$W/nginx"
	# As root, nginx workers would switch to nobody and not read $W.
	local user=
	[ "$(id -u)" -eq 0 ] && user="user root;"
	cat >"$W/nginx/nginx.conf" <<NGX
$user
daemon off;
worker_processes auto;
worker_rlimit_nofile 16384;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 8192; }
http {
	access_log $W/nginx/access.log;
	client_body_temp_path $W/nginx/body;
	proxy_temp_path $W/nginx/proxy;
	fastcgi_temp_path $W/nginx/fastcgi;
	uwsgi_temp_path $W/nginx/uwsgi;
	scgi_temp_path $W/nginx/scgi;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 100000;
	types { application/json json; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$NG_PORT;
		root $1;
		etag on;
	}
}
NGX
	nginx -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" 2>"$W/nginx/start.err" &
	pids+=($!)
	wait_port "$NG_PORT" || NG_PORT=
}

# start_bootdrop REPO ARGS... : bootdrop-server on a free port; sets BD_PORT, BD_PID.
start_bootdrop() {
	local repo=$1; shift
	"$SERVER" -r "$repo" -l 127.0.0.1:0 "$@" --access-log "$W/bootdrop.log" \
		>"$W/bootdrop.out" 2>"$W/bootdrop.err" &
	BD_PID=$!
	pids+=("$BD_PID")
	for i in $(seq 200); do grep -q "^listening" "$W/bootdrop.out" 2>/dev/null && break; sleep 0.05; done
	BD_PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$W/bootdrop.out")
}

machine_line() {
	echo "== machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)," \
		"$(uname -sr), $(nginx -v 2>&1 | sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
