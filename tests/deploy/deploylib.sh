# tests/deploy/deploylib.sh - helpers for the tests of deploy/, sourced
# after tests/lib.sh and tests/fetch/common.sh.
NGINX_REPO_CONF=$BOOTDROP_SRCDIR/deploy/nginx/bootdrop-repo.conf
MIRROR=$BOOTDROP_SRCDIR/deploy/bootdrop-mirror

# start_kit_nginx ROOT : nginx with the shipped deploy/nginx rules serving
# ROOT on a free port; sets $nginx_url, access log in $T/kit.access
# ("status method uri").
start_kit_nginx() {
	local n port
	for n in 1 2 3 4 5; do
		port=$(free_port)
		nginx_conf "$port" "
	log_format kit \"\$status \$request_method \$request_uri\";
	access_log $T/kit.access kit;
	server {
		listen 127.0.0.1:$port;
		root $1;
		include $NGINX_REPO_CONF;
	}"
		/usr/sbin/nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
			>/dev/null 2>&1 &
		nginx_pid=$!
		_bd_pids+=($nginx_pid)
		for _ in $(seq 100); do
			if [ "$(curl -s -o /dev/null -w '%{http_code}' \
			    "http://127.0.0.1:$port/")" != 000 ]; then
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
