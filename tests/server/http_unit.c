/*
 * http_unit.c - table tests for the request parsing of bootdrop-server:
 * the URL grammar (http_route), Range (http_parse_range), If-None-Match
 * (http_etag_listed) and the access log's escaping (accesslog_escape).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "accesslog.h"
#include "http.h"

static int failures;

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
check_route(const char *target, enum http_route_kind want)
{
	struct http_route r;
	enum http_route_kind got = http_route(target, &r);

	if (got != want) {
		printf("FAIL: route %s: %d, want %d\n", target, got, want);
		failures++;
	}
}

static void
check_range(const char *v, uint64_t size, int want, uint64_t f, uint64_t l)
{
	uint64_t first = 0, last = 0;
	int got = http_parse_range(v, size, &first, &last);

	if (got != want || (got == 1 && (first != f || last != l))) {
		printf("FAIL: range '%s' of %" PRIu64 ": %d %" PRIu64 "-%" PRIu64
		    ", want %d %" PRIu64 "-%" PRIu64 "\n", v ? v : "(null)", size,
		    got, first, last, want, f, l);
		failures++;
	}
}

static void
check_etag(const char *v, bool want)
{
	if (http_etag_listed(v, "\"sha256:" H64 "\"") != want) {
		printf("FAIL: If-None-Match %s: want %d\n", v, want);
		failures++;
	}
}

static void
check_escape(const char *in, bool json, const char *want)
{
	char out[4 * ACCESSLOG_FIELD_MAX_BYTES + 16];

	accesslog_escape(in, json, out, sizeof(out));
	if (strcmp(out, want) != 0) {
		printf("FAIL: escape(%d) gave '%s', want '%s'\n", json, out, want);
		failures++;
	}
}

/* http_head_check on a literal: want status, and want_len bytes of head. */
static void
check_head(const char *buf, unsigned want, size_t want_len)
{
	struct http_head h;
	unsigned got = http_head_check(buf, strlen(buf), &h);

	if (got != want || h.len != want_len) {
		fprintf(stderr, "FAIL: http_head_check(%.40s...) = %u, len %zu; "
		    "want %u, len %zu\n", buf, got, h.len, want, want_len);
		failures++;
	}
}

int
main(void)
{
	struct http_route r;
	char longpath[400];

	check_route("/", ROUTE_INDEX);
	check_route("/?x=1", ROUTE_INDEX);
	check_route("/channels/freebsd-9.0-i386/", ROUTE_CHANNEL);
	check_route("/channels/a/manifest.json", ROUTE_MANIFEST);
	check_route("/channels/a/1.json", ROUTE_VERSION);
	check_route("/channels/a/9007199254740992.json", ROUTE_VERSION);
	check_route("/channels/a/9007199254740993.json", ROUTE_NONE);
	check_route("/channels/a/0.json", ROUTE_NONE);
	check_route("/channels/a/01.json", ROUTE_NONE);
	check_route("/channels/a/1.jso", ROUTE_NONE);
	check_route("/channels/a/-1.json", ROUTE_NONE);
	check_route("/channels/a/+1.json", ROUTE_NONE);
	check_route("/channels/a", ROUTE_CHANNEL_REDIRECT);
	check_route("/channels/a?x", ROUTE_CHANNEL_REDIRECT);
	check_route("/channels/A", ROUTE_NONE);
	check_route("/channels/", ROUTE_NONE);
	check_route("/channels//manifest.json", ROUTE_NONE);
	check_route("/channels/../manifest.json", ROUTE_NONE);
	check_route("/channels/./manifest.json", ROUTE_NONE);
	check_route("/channels/a/../a/manifest.json", ROUTE_NONE);
	check_route("/channels/a/manifest.json/", ROUTE_NONE);
	check_route("/channels/%61/manifest.json", ROUTE_NONE);
	check_route("/channels/A/manifest.json", ROUTE_NONE);
	check_route("/blobs/sha256/" H64, ROUTE_BLOB);
	check_route("/blobs/sha256/" H64 "?dl=1", ROUTE_BLOB);
	check_route("/blobs/sha256/" H64 "/", ROUTE_NONE);
	check_route("/blobs/sha256/" H64 "0", ROUTE_NONE);
	check_route("/blobs/sha256/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	    ROUTE_NONE);
	check_route("/blobs/sha256/%30123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
	    ROUTE_NONE);
	check_route("/blobs/sha256//" H64, ROUTE_NONE);
	check_route("//", ROUTE_NONE);
	check_route("", ROUTE_NONE);
	check_route("*", ROUTE_NONE);
	check_route("http://host/", ROUTE_NONE);
	check_route("/%2e%2e/etc/passwd", ROUTE_NONE);
	check_route("/index.html", ROUTE_NONE);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	check_route(longpath, ROUTE_NONE);
	if (http_route("/channels/x.y_z-1/7.json", &r) != ROUTE_VERSION ||
	    strcmp(r.channel, "x.y_z-1") != 0 || r.version != 7) {
		printf("FAIL: route fields\n");
		failures++;
	}

	check_range(NULL, 100, 0, 0, 0);
	check_range("bytes=0-9", 100, 1, 0, 9);
	check_range("bytes=90-", 100, 1, 90, 99);
	check_range("bytes=90-1000", 100, 1, 90, 99);
	check_range("bytes=-10", 100, 1, 90, 99);
	check_range("bytes=-1000", 100, 1, 0, 99);
	check_range("bytes=100-", 100, -1, 0, 0);
	check_range("bytes=-0", 100, -1, 0, 0);
	check_range("bytes=0-", 0, -1, 0, 0);
	check_range("bytes=9-0", 100, 0, 0, 0);
	check_range("bytes=0-1,5-6", 100, 0, 0, 0);
	check_range("bytes=a-b", 100, 0, 0, 0);
	check_range("bytes=-", 100, 0, 0, 0);
	check_range("bytes=+1-2", 100, 0, 0, 0);
	check_range("bytes=99999999999999999999-", 100, 0, 0, 0);
	check_range("items=0-1", 100, 0, 0, 0);
	check_range("bytes= 1-2 ", 100, 1, 1, 2);

	check_etag("\"sha256:" H64 "\"", true);
	check_etag("W/\"sha256:" H64 "\"", true);
	check_etag("\"a\", \"sha256:" H64 "\"", true);
	check_etag("*", true);
	check_etag("\"sha256:" H64, false);
	check_etag("\"other\"", false);
	check_etag("", false);
	check_etag("sha256:" H64, false);

	check_escape("GET", false, "GET");
	check_escape("a\"b\\c", false, "a\\\"b\\\\c");
	check_escape("\x1b[31m\n", false, "\\x1b[31m\\x0a");
	check_escape("\xff", false, "\\xff");
	check_escape("\x01\"\xc3", true, "\\u0001\\\"\\u00c3");
	check_escape(NULL, false, "-");

	/* incomplete heads wait; complete ones report their length */
	check_head("GET / HTTP/1.1\r\nHost: x\r\n", 0, 0);
	check_head("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 27);
	check_head("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", 0, 29);
	check_head("GET / HTTP/1.1\nHost: x\n\n", 0, 24);
	check_head("GET / HTTP/1.0\r\n\r\n", 0, 18);
	/* refused only once the whole head is in */
	check_head("GET /a b HTTP/1.1\r\nHost: x\r\n", 0, 0);
	check_head("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, 30);
	check_head("GET / HTTP/1.1\r\n\r\n", 400, 18);
	check_head("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, 36);
	check_head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", 400, 48);
	check_head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 0, 46);
	check_head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n", 0, 47);
	check_head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, 62);
	check_head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 56);
	check_head("GET / HTTP/1.1\r\nHost: a\r\nX:\x7f\r\n\r\n", 400, 32);
	check_head("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, 35);
	check_head("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, 27);
	check_head("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400, 28);
	check_head("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 27);

	if (failures == 0)
		printf("ok: http_route, http_parse_range, http_etag_listed, "
		    "http_head_check, accesslog_escape\n");
	return failures ? 1 : 0;
}
