#!/bin/bash
# bootdrop-server with the real curl and wget: GET, HEAD, Range, If-Range,
# If-None-Match, 404 and 405, traversal attempts, symlinks and special
# files in the repository, a release published while running, the access
# log's escaping.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

REPO=$T/repo
make_repo "$REPO" test 1
start_server srv -r "$REPO" -l 127.0.0.1:0 --access-log "$T/access.log"
BLOB=${URL}blobs/sha256/$WORLD_SHA
SIZE=$(stat -c %s "$WORLD")

# --- GET and HEAD of a blob
curl -s -D "$T/h" -o "$T/got" "$BLOB"
expect_eq "$(sha256sum <"$T/got" | cut -c1-64)" "$WORLD_SHA" "curl GET blob: bytes match"
expect_eq "$(header ETag "$T/h")" "\"sha256:$WORLD_SHA\"" "blob ETag"
expect_eq "$(header Cache-Control "$T/h")" "public, max-age=31536000, immutable" "blob Cache-Control"
expect_eq "$(header Accept-Ranges "$T/h")" "bytes" "blob Accept-Ranges"
expect_eq "$(header Content-Type "$T/h")" "application/octet-stream" "blob Content-Type"
expect_eq "$(header Content-Encoding "$T/h")" "" "no Content-Encoding"
curl -s -D "$T/h" -o /dev/null -H 'Accept-Encoding: gzip, br' "$BLOB"
expect_eq "$(header Content-Encoding "$T/h")" "" "no Content-Encoding even when gzip is accepted"
curl -s -I -o "$T/h" "$BLOB"
expect_eq "$(head -n1 "$T/h" | tr -d '\r')" "HTTP/1.1 200 OK" "curl HEAD blob"
expect_eq "$(header Content-Length "$T/h")" "$SIZE" "HEAD Content-Length is the blob size"

wget -q -O "$T/wget.out" "$BLOB"
expect_eq "$(sha256sum <"$T/wget.out" | cut -c1-64)" "$WORLD_SHA" "wget GET blob"
wget -q -S --spider "$BLOB" 2>"$T/wget.h"
grep -q "ETag: \"sha256:$WORLD_SHA\"" "$T/wget.h" && ok "wget --spider (HEAD) sees the ETag" ||
	fail "wget --spider: no ETag"

# --- Range
curl -s -D "$T/h" -o "$T/part" -r 100-199 "$BLOB"
expect_eq "$(head -n1 "$T/h" | tr -d '\r')" "HTTP/1.1 206 Partial Content" "Range: 206"
expect_eq "$(header Content-Range "$T/h")" "bytes 100-199/$SIZE" "Range: Content-Range"
cmp -s "$T/part" <(tail -c +101 "$WORLD" | head -c 100) && ok "Range: the right bytes" ||
	fail "Range: wrong bytes"
curl -s -D "$T/h" -o "$T/part" -r -10 "$BLOB"
cmp -s "$T/part" <(tail -c 10 "$WORLD") && ok "suffix Range: last 10 bytes" || fail "suffix Range"
curl -s -D "$T/h" -o /dev/null -r "$SIZE"- "$BLOB"
expect_eq "$(head -n1 "$T/h" | cut -d' ' -f2)" "416" "Range past the end: 416"
expect_eq "$(header Content-Range "$T/h")" "bytes */$SIZE" "416 Content-Range: bytes */size"
expect_eq "$(http_code "$BLOB" -r 0-1,5-6)" 200 "several ranges: the whole body (200)"
expect_eq "$(http_code "$BLOB" -r 9-3)" 200 "invalid range ignored (200)"

# wget -c resumes a partial file with Range
head -c 12345 "$WORLD" >"$T/resume"
wget -q -c -O "$T/resume" "$BLOB"
expect_eq "$(sha256sum <"$T/resume" | cut -c1-64)" "$WORLD_SHA" "wget -c resumes with Range"

# --- conditional requests
ET="\"sha256:$WORLD_SHA\""
expect_eq "$(http_code "$BLOB" -H "If-None-Match: $ET")" 304 "If-None-Match: 304"
expect_eq "$(http_code "$BLOB" -H "If-None-Match: \"x\", W/$ET")" 304 "If-None-Match list with a weak tag: 304"
expect_eq "$(http_code "$BLOB" -H 'If-None-Match: "sha256:0000"')" 200 "If-None-Match other tag: 200"
expect_eq "$(http_code "$BLOB" -H 'If-None-Match: *')" 304 "If-None-Match *: 304"
expect_eq "$(http_code "$BLOB" -r 0-9 -H "If-Range: $ET")" 206 "If-Range same ETag: 206"
expect_eq "$(http_code "$BLOB" -r 0-9 -H 'If-Range: "sha256:0000"')" 200 "If-Range other ETag: 200"
expect_eq "$(http_code "$BLOB" -r 0-9 -H 'If-Range: Sat, 01 Jan 2000 00:00:00 GMT')" 200 "If-Range date: 200"
# preconditions that fail: 412, as nginx answers (RFC 9110 13.1.1, 13.1.4)
expect_eq "$(http_code "$BLOB" -H "If-Match: $ET")" 200 "If-Match same ETag: 200"
expect_eq "$(http_code "$BLOB" -H 'If-Match: "x", *')" 200 "If-Match *: 200"
expect_eq "$(http_code "$BLOB" -H 'If-Match: "sha256:0000"')" 412 "If-Match other ETag: 412"
expect_eq "$(http_code "$BLOB" -H "If-Match: W/$ET")" 412 "If-Match weak tag (strong comparison): 412"
expect_eq "$(http_code "$BLOB" -r 0-9 -H 'If-Match: "x"')" 412 "If-Match fails before Range: 412"
OLD='Sat, 01 Jan 2000 00:00:00 GMT' NEW='Fri, 01 Jan 2100 00:00:00 GMT'
expect_eq "$(http_code "$BLOB" -H "If-Unmodified-Since: $OLD")" 412 "If-Unmodified-Since before its mtime: 412"
expect_eq "$(http_code "$BLOB" -H "If-Unmodified-Since: $NEW")" 200 "If-Unmodified-Since after its mtime: 200"
expect_eq "$(http_code "$BLOB" -H "If-Unmodified-Since: yesterday")" 200 "If-Unmodified-Since not a date: ignored"
expect_eq "$(http_code "$BLOB" -H "If-Match: $ET" -H "If-Unmodified-Since: $OLD")" 200 \
	"If-Match that holds: If-Unmodified-Since ignored"
# an absolute-form target (RFC 9112 3.2.2: a server MUST accept it) is served
curl -s -o "$T/abs" --request-target "http://example.org/blobs/sha256/$WORLD_SHA" "$BLOB"
expect_eq "$(sha256sum <"$T/abs" | cut -c1-64)" "$WORLD_SHA" "absolute-form target: the blob"
# a request line past the head's cap: 414 (the URL), not 431
expect_eq "$(http_code "${URL}$(head -c 9000 /dev/zero | tr '\0' a)")" 414 "URL past the cap: 414"
expect_eq "$(http_code "$BLOB" -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)")" 431 \
	"header field past the cap: 431"

# --- manifests
MAN=${URL}channels/test/manifest.json
curl -s -D "$T/h" -o "$T/m1" "$MAN"
cmp -s "$T/m1" "$REPO/channels/test/manifest.json" && ok "manifest.json bytes" || fail "manifest.json bytes"
expect_eq "$(header Content-Type "$T/h")" "application/json" "manifest Content-Type"
expect_eq "$(header Cache-Control "$T/h")" "public, max-age=60" "manifest short max-age"
MET=$(header ETag "$T/h")
expect_eq "$MET" "\"sha256:$(sha256sum <"$T/m1" | cut -c1-64)\"" "manifest ETag is its sha256"
expect_eq "$(http_code "$MAN" -H "If-None-Match: $MET")" 304 "manifest If-None-Match: 304"
expect_eq "$(http_code "$MAN" -H 'If-Match: "x"')" 412 "manifest If-Match other ETag: 412"
expect_eq "$(http_code "$MAN" -H "If-Match: $MET")" 200 "manifest If-Match its ETag: 200"
expect_eq "$(http_code "${URL}channels/test/1.json")" 200 "versioned manifest 1.json"
expect_eq "$(http_code "${URL}channels/test/2.json")" 404 "2.json not yet"
expect_eq "$(http_code "$MAN?cachebust=1")" 200 "query string ignored"

# A release published while the server runs is served without restart.
echo "v2" >>"$WORLD"
WORLD_SHA=$(sha256sum "$WORLD" | cut -c1-64)
"$PUBLISH" release -r "$REPO" -c test -s "$TEST_SEC" kernel="$KERNEL" world="$WORLD" >/dev/null
curl -s -D "$T/h" -o "$T/m2" "$MAN"
cmp -s "$T/m2" "$REPO/channels/test/manifest.json" && ok "new manifest.json served after release" ||
	fail "stale manifest.json after release"
[ "$(header ETag "$T/h")" != "$MET" ] && ok "new manifest, new ETag" || fail "ETag did not change"
expect_eq "$(http_code "$MAN" -H "If-None-Match: $MET")" 200 "old ETag no longer 304"
expect_eq "$(http_code "${URL}channels/test/2.json")" 200 "2.json after release"
expect_eq "$(http_code "${URL}blobs/sha256/$WORLD_SHA")" 200 "new blob after release"

# Small blobs and manifests are answered from a cache of whole responses;
# the file is still looked at each time.  (The server serves the file as it
# is: bytes changed in place are served changed, never stale.)
head -c 4096 /dev/urandom >"$T/small"
"$PUBLISH" release -r "$REPO" -c test -s "$TEST_SEC" kernel="$KERNEL" world="$WORLD" \
	small="$T/small" >/dev/null
SMALL_SHA=$(sha256sum "$T/small" | cut -c1-64)
KBLOB=$REPO/blobs/sha256/$SMALL_SHA
curl -s -o /dev/null "${URL}blobs/sha256/$SMALL_SHA"
curl -s -o "$T/k2" "${URL}blobs/sha256/$SMALL_SHA"
cmp -s "$T/k2" "$KBLOB" && ok "small blob twice: same bytes" || fail "small blob differs on the second GET"
cp "$KBLOB" "$T/kernel.keep"
printf 'X' | dd of="$KBLOB" bs=1 seek=100 conv=notrunc status=none
touch -r "$T/kernel.keep" "$KBLOB"	# same size and mtime: only ctime moved
curl -s -o "$T/k3" "${URL}blobs/sha256/$SMALL_SHA"
cmp -s "$T/k3" "$KBLOB" && ok "a small blob changed in place is not answered from the cache" ||
	fail "stale cached bytes for a changed small blob"
rm "$KBLOB"
expect_eq "$(http_code "${URL}blobs/sha256/$SMALL_SHA")" 404 "a deleted small blob: 404, not the cache"
cp "$T/kernel.keep" "$KBLOB"

# --- 405 and 404
for m in POST PUT DELETE OPTIONS PATCH; do
	curl -s -D "$T/h" -o /dev/null -X "$m" "$BLOB"
	expect_eq "$(head -n1 "$T/h" | tr -d '\r' | cut -d' ' -f2)" 405 "$m: 405"
done
expect_eq "$(header Allow "$T/h")" "GET, HEAD" "405 carries Allow: GET, HEAD"
# A request that carries a body is refused before its method: 400, closed.
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$WORLD" "$BLOB")" 400 "POST with a body: 400"

KH=$KERNEL_SHA
for p in \
	"/blobs/sha256/%2e%2e/%2e%2e/channels/test/manifest.json" \
	"/%2e%2e/%2e%2e/etc/passwd" \
	"/channels/%2e%2e/blobs/" \
	"/channels/test/..%2fmanifest.json" \
	"/channels/test/%2e%2e/test/manifest.json" \
	"/channels/../channels/test/manifest.json" \
	"/channels/test/./manifest.json" \
	"//channels/test/manifest.json" \
	"/channels//test/manifest.json" \
	"/channels/test//manifest.json" \
	"/blobs/sha256//$KH" \
	"/blobs/sha256/$KH/" \
	"/blobs/sha256/${KH^^}" \
	"/blobs/sha256/${KH:0:63}" \
	"/blobs/sha256/${KH}0" \
	"/blobs/sha256/%${KH:0:2}${KH:2}" \
	"/channels/test/manifest.json%00" \
	"/channels/test/manifest.json%00.html" \
	"/channels/test/manifest%2ejson" \
	"/channels/test/01.json" \
	"/channels/test/0.json" \
	"/channels/test/1.json.bak" \
	"/channels/Test/manifest.json" \
	"/channels/.test/manifest.json" \
	"/channels/Test" \
	"/blobs/" \
	"/blobs/sha256/" \
	"/channels/" \
	"/index.html" \
	"/etc/passwd" \
	"/blobs/sha256/$KH%20" \
	"/$(head -c 3000 /dev/zero | tr '\0' a)" \
	"/channels/$(head -c 65 /dev/zero | tr '\0' a)/manifest.json" \
	; do
	expect_eq "$(http_code "${URL%/}$p")" 404 "404: ${p:0:80}"
done
# The channel page without its slash is a redirect, not a file.
expect_eq "$(http_code "${URL}channels/test")" 301 "/channels/test: 301 to test/"
# A raw NUL byte or a request target MHD cannot parse never reaches a file.
code=$(printf 'GET /channels/test/manifest.json\0x HTTP/1.1\r\nHost: x\r\n\r\n' |
	timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; head -n1 <&3" | cut -d' ' -f2)
expect_eq "$code" 400 "raw NUL byte inside the request target: 400"
# Headers past the memory cap are refused, not buffered.
code=$(http_code "$MAN" -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)")
[ "$code" -ge 400 ] && ok "oversized request headers refused ($code)" || fail "oversized headers: $code"

# --- symlinks, directories and FIFOs inside the repository are not served
FAKE=$(printf '%064d' 0 | tr 0 a)
ln -s /etc/passwd "$REPO/blobs/sha256/$FAKE"
expect_eq "$(http_code "${URL}blobs/sha256/$FAKE")" 404 "symlinked blob: 404"
mkdir -p "$REPO/elsewhere" && cp "$REPO/channels/test/manifest.json" "$REPO/elsewhere/"
ln -s ../elsewhere "$REPO/channels/linked"
expect_eq "$(http_code "${URL}channels/linked/manifest.json")" 404 "symlinked channel directory: 404"
FIFO=$(printf '%064d' 0 | tr 0 b)
mkfifo "$REPO/blobs/sha256/$FIFO"
expect_eq "$(http_code "${URL}blobs/sha256/$FIFO" --max-time 10)" 404 "FIFO blob: 404 without blocking"
DIRB=$(printf '%064d' 0 | tr 0 c)
mkdir "$REPO/blobs/sha256/$DIRB"
expect_eq "$(http_code "${URL}blobs/sha256/$DIRB")" 404 "directory as blob: 404"

# --- access log: one line per request, client strings escaped
curl -s -o /dev/null -A $'evil"agent\xff\\ ' "${URL}blobs/sha256/$KH"
# Control bytes in a field or the target are refused (400) - and still logged escaped.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n' >&5
expect_eq "$(head -n1 <&5 | tr -d '\r')" "HTTP/1.1 400 Bad Request" "ESC in the target: 400"
exec 5<&-
expect_eq "$(http_code "$MAN" -A $'evil\x1b[31m')" 400 "ESC in a header value: 400"
stop_server
expect_eq "$STOP_STATUS" 0 "SIGTERM: exit 0"
line=$(grep 'evil' "$T/access.log")
case $line in
*'"evil\"agent\xff\\ "'*) ok "combined log escapes quotes, backslashes and non-ASCII bytes" ;;
*) fail "access log line not escaped: $line" ;;
esac
grep -qF '"GET /\x1b[31m HTTP/1.1" 400 ' "$T/access.log" &&
	ok "a refused target is logged with its control bytes escaped" ||
	fail "refused target not logged escaped: $(grep ' 400 ' "$T/access.log")"
grep -q $'\x1b' "$T/access.log" && fail "raw ESC in the access log" || ok "no raw control bytes in the log"
grep -Eq "^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] \"GET /blobs/sha256/$KH HTTP/1\.1\" 200 [0-9]+ " "$T/access.log" &&
	ok "combined log format" || fail "combined log format"
grep -q '"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1" 404' "$T/access.log" &&
	ok "log shows the raw request target" || fail "raw target not logged"

# JSON lines
start_server json -r "$REPO" -l 127.0.0.1:0 --log-format json
curl -s -o /dev/null -A $'json"\\\xff' "${URL}channels/test/manifest.json"
stop_server
if jq -e 'select(.user_agent == "json\"\\\u00ff") | .status == 200 and .method == "GET" and .completed' \
	<(grep '^{' "$T/json.out") >/dev/null; then ok "JSON log lines parse and keep the escaped agent"
else fail "JSON log: $(grep '^{' "$T/json.out")"; fi

finish
