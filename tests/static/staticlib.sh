# tests/static/staticlib.sh - helpers of the static-client tests, sourced
# after tests/lib.sh and tests/fetch/common.sh.

# static_binary --must-be-static|--may-skip BINARY : sets BIN; a binary
# that is missing or not statically linked ends the test - a failure in a
# -Dstatic_client=true build (--must-be-static), a skip (77) otherwise.
static_binary() {
	local mode=${1:?} why=
	BIN=${2:?usage: $0 --must-be-static|--may-skip BINARY}
	if [ ! -f "$BIN" ]; then
		why="no static binary at $BIN (for i386: deploy/static-deps.sh --arch i386)"
	elif ! file -b "$BIN" | grep -q 'statically linked'; then
		why="$BIN is not statically linked (configure with -Dstatic_client=true)"
	fi
	[ -z "$why" ] && return 0
	if [ "$mode" = --must-be-static ]; then
		echo "FAIL: $why" >&2
		exit 1
	fi
	echo "$why"
	exit 77
}

# tls_front PORT : a test CA ($T/tls/ca.pem), a certificate for repo.test
# and 127.0.0.1 signed by it, an unrelated CA ($T/tls/other.pem), and nginx
# terminating TLS in front of 127.0.0.1:PORT; sets tport.
tls_front() {
	local port=$1 tls=
	mkdir -p "$T/tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 2 -subj "/CN=bootdrop test CA" -keyout "$T/tls/ca.key" \
		-out "$T/tls/ca.pem" 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=repo.test" -keyout "$T/tls/srv.key" -out "$T/tls/srv.csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:repo.test,IP:127.0.0.1\n' >"$T/tls/ext" &&
	openssl x509 -req -in "$T/tls/srv.csr" -CA "$T/tls/ca.pem" -CAkey "$T/tls/ca.key" \
		-CAcreateserial -days 2 -extfile "$T/tls/ext" -out "$T/tls/srv.pem" 2>/dev/null &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 2 -subj "/CN=other CA" -keyout "$T/tls/other.key" \
		-out "$T/tls/other.pem" 2>/dev/null ||
		{ echo "openssl could not make the test certificates" >&2; return 1; }
	for _ in 1 2 3 4 5; do
		tport=$(free_port)
		nginx_conf "$tport" "
	access_log $T/nginx/access.log;
	server {
		listen 127.0.0.1:$tport ssl;
		ssl_certificate $T/tls/srv.pem;
		ssl_certificate_key $T/tls/srv.key;
		location / { proxy_pass http://127.0.0.1:$port; }
	}"
		/usr/sbin/nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" >/dev/null 2>&1 &
		nginx_pid=$!
		_bd_pids+=("$nginx_pid")
		for _ in $(seq 100); do
			if curl -sf --cacert "$T/tls/ca.pem" -o /dev/null \
			    "https://127.0.0.1:$tport/channels/$CH/manifest.json"; then
				tls=ok; break 2
			fi
			kill -0 "$nginx_pid" 2>/dev/null || break
			sleep 0.05
		done
	done
	[ "$tls" = ok ] && return 0
	echo "nginx TLS front did not start: $(cat "$T/nginx/error.log")" >&2
	return 1
}
