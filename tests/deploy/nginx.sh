#!/bin/bash
# The shipped nginx rules (deploy/nginx/bootdrop-repo.conf) with the real
# nginx, side by side with bootdrop-server on the same repository: the same
# status for every request in and out of the URL grammar, the same headers
# on what is served, and bootdrop-fetch installing and upgrading through it.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
. "$BOOTDROP_SRCDIR/tests/deploy/deploylib.sh"
[ -x /usr/sbin/nginx ] || { echo "nginx not installed"; exit 77; }

make_world "$T/world.tgz" 1
make_repo "$T/repo"
make_world "$T/world.tgz" 1
make_repo "$T/repo"
start_server "$T/repo" || { fail "bootdrop-server did not start"; finish; }
server_url=$url
start_kit_nginx "$T/repo" || { fail "nginx did not start"; finish; }
blob=$(sha256sum "$T/world.tgz" | cut -d' ' -f1)
upper=$(echo "$blob" | tr a-f A-F)
ln -s "$blob" "$T/repo/blobs/sha256/$(printf '%064d' 7)"
mkdir "$T/repo/blobs/sha256/$(printf '%064d' 8)"
: >"$T/repo/channels/$CH/1.json.tmp"

# head_of URL [CURL ARGS...] : status line and headers, one per line, CR-free.
head_of() {
	local u=$1; shift
	curl -s --path-as-is -o /dev/null -D - "$@" "$u" | tr -d '\r'
}
# header NAME : the value of NAME in the headers on stdin.
header() {
	grep -i "^$1:" | head -n 1 | cut -d' ' -f2-
}
status_of() {
	local u=$1; shift
	curl -s --path-as-is -o /dev/null -w '%{http_code}' "$@" "$u"
}

# Same status from both, for requests in and out of the grammar.
while read -r want method path extra extra2; do
	[ -n "$want" ] || continue
	args=(-X "$method")
	[ "$method" = HEAD ] && args=(-I)
	[ -n "${extra:-}" ] && args+=(-H "${extra//_/ }")
	[ -n "${extra2:-}" ] && args+=(-H "${extra2//_/ }") extra="$extra $extra2"
	s=$(status_of "$server_url$path" "${args[@]}")
	n=$(status_of "$nginx_url$path" "${args[@]}")
	if [ "$s" = "$want" ] && [ "$n" = "$want" ]; then
		ok "$method $path ${extra:-}: $want from both"
	else
		fail "$method $path ${extra:-}: bootdrop-server $s, nginx $n, want $want"
	fi
done <<EOF
200 GET /channels/$CH/manifest.json
200 HEAD /channels/$CH/manifest.json
200 GET /channels/$CH/1.json
200 GET /channels/$CH/2.json
200 GET /blobs/sha256/$blob
200 HEAD /blobs/sha256/$blob
200 GET /channels/$CH/manifest.json?cache=bust
206 GET /blobs/sha256/$blob Range:_bytes=0-9
206 GET /blobs/sha256/$blob Range:_bytes=-10
200 GET /blobs/sha256/$blob Range:_bytes=0-1,5-6
416 GET /blobs/sha256/$blob Range:_bytes=99999999-
304 GET /blobs/sha256/$blob If-None-Match:_"sha256:$blob"
304 GET /blobs/sha256/$blob If-None-Match:_*
206 GET /blobs/sha256/$blob Range:_bytes=0-9 If-Range:_"sha256:$blob"
200 GET /blobs/sha256/$blob Range:_bytes=0-9 If-Range:_"sha256:0"
200 GET /blobs/sha256/$blob If-None-Match:_"sha256:0"
404 GET /channels/$CH/3.json
404 GET /channels/$CH/01.json
404 GET /channels/$CH/1.json.tmp
404 GET /channels/$CH/manifest.json/
404 GET /channels/Test/1.json
404 GET /channels/$CH//manifest.json
404 GET /channels/$CH/../$CH/manifest.json
404 GET /channels/$CH/./manifest.json
404 GET /channels/%74est/manifest.json
404 GET /blobs/sha256/$upper
404 GET /blobs/sha256/${blob}/
404 GET /blobs/sha256/${blob:0:63}
404 GET /blobs/sha256/$(printf '%064d' 7)
404 GET /blobs/sha256/$(printf '%064d' 8)
404 GET /blobs/sha256/
404 GET /blobs/
404 GET /channels/
404 GET /nope
404 GET /index.html
404 GET /channels/$CH/index.html
404 HEAD /nope
405 POST /channels/$CH/manifest.json
405 PUT /blobs/sha256/$blob
405 DELETE /
405 OPTIONS /nope
412 GET /blobs/sha256/$blob If-Match:_"sha256:0"
412 GET /blobs/sha256/$blob If-Unmodified-Since:_Sat,_01_Jan_2000_00:00:00_GMT
200 GET /blobs/sha256/$blob If-Unmodified-Since:_Fri,_01_Jan_2100_00:00:00_GMT
412 GET /channels/$CH/manifest.json If-Match:_"x"
EOF

# If-Match with a blob's own ETag: bootdrop-server 200.  nginx answers 412:
# the shipped rules turn its ETag off for blobs and add "sha256:<hex>" as a
# plain header, which its If-Match check does not see.
s=$(status_of "$server_url/blobs/sha256/$blob" -H "If-Match: \"sha256:$blob\"")
[ "$s" = 200 ] && ok "If-Match with the blob's ETag: 200" || fail "If-Match with the blob's ETag: $s"

# An absolute-form target (RFC 9112 3.2.2) is served by both; a request
# line past the head's cap is 414 from both, not 431.
for t in "http://example.org/blobs/sha256/$blob" "http://example.org/channels/$CH/1.json"; do
	s=$(status_of "$server_url/" --request-target "$t")
	n=$(status_of "$nginx_url/" --request-target "$t")
	[ "$s" = 200 ] && [ "$n" = 200 ] && ok "absolute-form $t: 200 from both" ||
		fail "absolute-form $t: bootdrop-server $s, nginx $n, want 200"
done
long=/blobs/$(head -c 9000 /dev/zero | tr '\0' a)
s=$(status_of "$server_url$long") n=$(status_of "$nginx_url$long")
[ "$s" = 414 ] && [ "$n" = 414 ] && ok "9 KB URL: 414 from both" ||
	fail "9 KB URL: bootdrop-server $s, nginx $n, want 414"

# The headers of what is served agree.
for path in "/channels/$CH/manifest.json" "/channels/$CH/1.json" "/blobs/sha256/$blob"; do
	head_of "$server_url$path" >"$T/h.server"
	head_of "$nginx_url$path" >"$T/h.nginx"
	for h in Content-Type Cache-Control X-Content-Type-Options Accept-Ranges Content-Length; do
		s=$(header "$h" <"$T/h.server") n=$(header "$h" <"$T/h.nginx")
		[ -n "$s" ] && [ "$s" = "$n" ] && ok "$path: $h: $n" ||
			fail "$path: $h: bootdrop-server '$s', nginx '$n'"
	done
	grep -qi '^content-encoding:' "$T/h.nginx" && fail "$path: nginx sends Content-Encoding" ||
		ok "$path: no Content-Encoding"
done
head_of "$nginx_url/blobs/sha256/$blob" >"$T/h.nginx"
[ "$(header ETag <"$T/h.nginx")" = "\"sha256:$blob\"" ] &&
	ok "blob ETag is \"sha256:<hex>\", as bootdrop-server sends it" ||
	fail "blob ETag: $(header ETag <"$T/h.nginx")"
[ "$(header Cache-Control <"$T/h.nginx")" = "public, max-age=31536000, immutable" ] &&
	ok "blob immutable for a year" || fail "blob Cache-Control"
head_of "$nginx_url/blobs/sha256/$blob" -H 'Range: bytes=0-9' >"$T/h.nginx"
head_of "$server_url/blobs/sha256/$blob" -H 'Range: bytes=0-9' >"$T/h.server"
[ "$(header Content-Range <"$T/h.nginx")" = "$(header Content-Range <"$T/h.server")" ] &&
	ok "Content-Range agrees: $(header Content-Range <"$T/h.nginx")" || fail "Content-Range differs"
head_of "$nginx_url/channels/$CH/manifest.json" >"$T/h.nginx"
etag=$(header ETag <"$T/h.nginx")
case $etag in
'"'*'"') ok "manifest.json has a strong ETag ($etag)" ;;
*) fail "manifest.json ETag '$etag'" ;;
esac
[ "$(status_of "$nginx_url/channels/$CH/manifest.json" -H "If-None-Match: $etag")" = 304 ] &&
	ok "manifest.json: If-None-Match with its ETag is 304" || fail "manifest.json: no 304"
[ "$(status_of "$nginx_url/channels/$CH/manifest.json" -H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT')" = 200 ] &&
	ok "If-Modified-Since is ignored (ETags decide)" || fail "If-Modified-Since answered"
grep -qi '^last-modified:' "$T/h.nginx" && fail "Last-Modified sent" || ok "no Last-Modified"
head_of "$nginx_url/nope" -X DELETE >"$T/h.nginx"
[ "$(header Allow <"$T/h.nginx")" = "GET, HEAD" ] && ok "405 names Allow: GET, HEAD" || fail "405 Allow header"
curl -s "$nginx_url/nope" >"$T/body"
head_of "$nginx_url/nope" >"$T/h.nginx"
[ "$(cat "$T/body")" = "404 not found" ] && [ "$(header Content-Type <"$T/h.nginx")" = "text/plain; charset=utf-8" ] &&
	ok "404 is bootdrop-server's plain text" || fail "404 body: $(head -c 200 "$T/body")"

# / and /channels/<c>/: 404 until the operator puts an index.html there.
for p in / "/channels/$CH/"; do
	[ "$(status_of "$nginx_url$p")" = 404 ] && ok "$p is 404 without index.html" || fail "$p without index.html"
done
[ "$(status_of "$nginx_url/channels/$CH")" = 404 ] && ok "/channels/$CH is 404 without index.html" ||
	fail "/channels/$CH without index.html"
curl -s -o "$T/repo/index.html" "$server_url/"
curl -s -o "$T/repo/channels/$CH/index.html" "$server_url/channels/$CH/"
for p in / "/channels/$CH/"; do
	head_of "$nginx_url$p" >"$T/h.nginx"
	head -n 1 "$T/h.nginx" | grep -q ' 200' &&
		[ "$(header Content-Type <"$T/h.nginx")" = "text/html; charset=utf-8" ] &&
		[ "$(header Cache-Control <"$T/h.nginx")" = "no-cache" ] &&
		header Content-Security-Policy <"$T/h.nginx" | grep -q "default-src 'none'" &&
		ok "$p serves the saved index.html as bootdrop-server does" ||
		fail "$p with index.html: $(cat "$T/h.nginx")"
done
head_of "$nginx_url/channels/$CH?x=1" >"$T/h.nginx"
head -n 1 "$T/h.nginx" | grep -q ' 301' && [ "$(header Location <"$T/h.nginx")" = "$nginx_url/channels/$CH/" ] &&
	ok "/channels/$CH redirects to /channels/$CH/ once it has a page" || fail "bare channel: $(cat "$T/h.nginx")"
curl -s "$nginx_url/channels/$CH/" | grep -q "bootdrop-fetch" && ok "saved channel page holds the fetch command" ||
	fail "saved channel page"

# bootdrop-fetch through the shipped rules: install, then an upgrade.
fresh_dest
expect_status 0 "install through nginx" fetch -d "$T/dest" "$nginx_url"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "world installed byte for byte" || fail "world differs"
make_world "$T/world.tgz" 1
make_repo "$T/repo"
expect_status 0 "upgrade through nginx" fetch -d "$T/dest" "$nginx_url"
cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "new world installed" || fail "new world differs"
expect_status 0 "current through nginx" fetch -d "$T/dest" "$nginx_url"
grep -q "up to date" "$T/last.out" && ok "up to date" || fail "not up to date: $(cat "$T/last.out")"

finish
