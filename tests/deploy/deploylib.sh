# tests/deploy/deploylib.sh - helpers for the tests of deploy/, sourced
# after tests/lib.sh and tests/fetch/common.sh.
NGINX_REPO_CONF=$BOOTDROP_SRCDIR/deploy/nginx/bootdrop-repo.conf
MIRROR=$BOOTDROP_SRCDIR/deploy/bootdrop-mirror

# start_kit_nginx ROOT : nginx with the shipped deploy/nginx rules serving
# ROOT on a free port; sets $nginx_url, access log in $T/kit.access
# ("status method uri").
start_kit_nginx() {
	nginx_start "
	log_format kit \"\$status \$request_method \$request_uri\";
	access_log $T/kit.access kit;
	server {
		listen 127.0.0.1:@PORT@;
		root $1;
		include $NGINX_REPO_CONF;
	}"
}
