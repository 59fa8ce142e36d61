/*
 * http_unit.c - table tests for the request-head rules of bootdrop-server
 * (reqhead.h): where a head ends, the framing rules, the URL grammar,
 * Range, If-None-Match, the preconditions (If-Match, If-Unmodified-Since)
 * and HTTP-dates; and the access log's escaping (accesslog_escape).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "accesslog.h"
#include "reqhead.h"

static int failures;

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
check_route(const char *target, enum reqhead_route_kind want)
{
	struct reqhead_route r;
	enum reqhead_route_kind got = reqhead_route(target, &r);

	if (got != want) {
		printf("FAIL: route %s: %d, want %d\n", target, got, want);
		failures++;
	}
}

static void
check_range(const char *v, uint64_t size, int want, uint64_t f, uint64_t l)
{
	uint64_t first = 0, last = 0;
	int got = reqhead_range(v, size, &first, &last);

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
	if (reqhead_etag_listed(v, "\"sha256:" H64 "\"") != want) {
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

/* reqhead_scan on a literal: want status and want_len bytes of head. */
static void
check_scan(const char *buf, unsigned want, size_t want_len)
{
	size_t len = 99;
	unsigned got = reqhead_scan(buf, strlen(buf), &len);

	if (got != want || len != want_len) {
		printf("FAIL: reqhead_scan(%.40s...) = %u, len %zu; want %u, "
		    "len %zu\n", buf, got, len, want, want_len);
		failures++;
	}
}

static void
check_overlong(const char *buf, unsigned want)
{
	unsigned got = reqhead_overlong(buf, strlen(buf));

	if (got != want) {
		printf("FAIL: reqhead_overlong(%.40s...) = %u, want %u\n", buf,
		    got, want);
		failures++;
	}
}

/*
 * reqhead_framing on fields written "Name: value" one per string (the
 * value is what follows ": "; a string without ": " is a name with an
 * empty value), ended by NULL.
 */
static void
check_framing(const char *version, unsigned want, ...)
{
	struct reqhead_field f[REQHEAD_MAX_FIELDS + 2];
	const char *line, *sep;
	unsigned got;
	size_t n = 0;
	va_list ap;

	va_start(ap, want);
	while ((line = va_arg(ap, const char *)) != NULL) {
		sep = strstr(line, ": ");
		f[n].name = line;
		f[n].name_len = sep != NULL ? (size_t)(sep - line) : strlen(line);
		f[n].value = sep != NULL ? sep + 2 : "";
		f[n].value_len = strlen(f[n].value);
		n++;
	}
	va_end(ap);
	got = reqhead_framing("/", version, f, n);
	if (got != want) {
		printf("FAIL: framing %s with %zu field(s), first '%s': %u, "
		    "want %u\n", version ? version : "(null)", n,
		    n > 0 ? f[0].name : "", got, want);
		failures++;
	}
}

static void
check_precondition(const char *im, const char *ius, time_t mtime, bool want)
{
	if (reqhead_precondition_fails(im, ius, "\"sha256:" H64 "\"",
	    mtime) != want) {
		printf("FAIL: If-Match %s, If-Unmodified-Since %s, mtime %lld: "
		    "want %s\n", im ? im : "-", ius ? ius : "-",
		    (long long)mtime, want ? "412" : "pass");
		failures++;
	}
}

static void
check_date(const char *s, bool ok, time_t want)
{
	time_t t = 0;
	bool got = reqhead_date(s, &t);

	if (got != ok || (ok && t != want)) {
		printf("FAIL: date '%s': %d %lld, want %d %lld\n", s, got,
		    (long long)t, ok, (long long)want);
		failures++;
	}
}

int
main(void)
{
	struct reqhead_route r;
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
	check_route("http://host/", ROUTE_INDEX);	/* absolute-form */
	check_route("/%2e%2e/etc/passwd", ROUTE_NONE);
	check_route("/index.html", ROUTE_NONE);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	check_route(longpath, ROUTE_NONE);
	if (reqhead_route("/channels/x.y_z-1/7.json", &r) != ROUTE_VERSION ||
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

	/* the guard's scan: where the first head ends, nothing else */
	check_scan("GET / HTTP/1.1\r\nHost: x\r\n", 0, 0);
	check_scan("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 27);
	check_scan("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", 0, 29);
	check_scan("GET / HTTP/1.1\nHost: x\n\n", 0, 24);
	check_scan("GET / HTTP/1.0\r\n\r\n", 0, 18);
	check_scan("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 0, 30);
	check_scan("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 0, 36);
	check_scan("\r\n\r\n", 0, 0);
	check_scan("GET / HTTP/1.1\r", 0, 0);
	/* bytes no parser may interpret: refused as soon as seen */
	check_scan("HELLO\r\n\r\n", 400, 0);
	check_scan("GET /\r\n\r\n", 400, 0);
	check_scan(" GET / HTTP/1.1\r\n\r\n", 400, 0);
	check_scan("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400, 0);
	check_scan("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 400, 0);
	check_scan("GET / HTTP/1.1\r\nHost: a\r\nX:\x7f\r\n\r\n", 400, 0);
	check_scan("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, 0);
	check_scan("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01", 400, 0);
	check_scan("GET /\x1b HTTP/1.1\r\n", 400, 0);
	check_scan("GET / HTTP/1.1\r\nHost: x\r\nX-A: a", 0, 0);
	{
		static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
		size_t len = 99;

		if (reqhead_scan(nul, sizeof(nul) - 1, &len) != 400) {
			printf("FAIL: reqhead_scan: a NUL in a field passed\n");
			failures++;
		}
	}
	check_overlong("GET /aaaaaaaa", REQHEAD_URI_TOO_LONG);
	check_overlong("\r\nGET /aaaaaaaa", REQHEAD_URI_TOO_LONG);
	check_overlong("GET / HTTP/1.1\r\nX: aaaa", REQHEAD_FIELDS_TOO_LARGE);

	/* the framing rules: one table */
	check_framing("HTTP/1.1", 0, "Host: x", NULL);
	if (reqhead_framing("/a b", "HTTP/1.1", NULL, 0) != 400 ||
	    reqhead_framing("", "HTTP/1.0", NULL, 0) != 400 ||
	    reqhead_framing("/\x80", "HTTP/1.0", NULL, 0) != 400 ||
	    reqhead_framing("/a", "HTTP/1.0", NULL, 0) != 0) {
		printf("FAIL: framing of the request target\n");
		failures++;
	}
	check_framing("HTTP/1.0", 0, NULL);
	check_framing("HTTP/1.1", 0, "Host: x", "Content-Length: 0", NULL);
	check_framing("HTTP/1.1", 0, "Host: x", "content-length: 00", NULL);
	check_framing("HTTP/1.1", 400, NULL);
	check_framing("HTTP/1.1", 400, "Accept: */*", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "host: b", NULL);
	check_framing("HTTP/1.0", 400, "Host: a", "Host: a", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: 5", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: 007", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: -1", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: 1x", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: ", NULL);
	check_framing("HTTP/1.1", 400, "Host: a",
	    "Content-Length: 99999999999999999999999", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: 0",
	    "Content-Length: 0", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: 0",
	    "Content-Length: 5", NULL);
	check_framing("HTTP/1.1", 400, "Host: a",
	    "Transfer-Encoding: chunked", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: 0",
	    "Transfer-Encoding: chunked", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "Content-Length: 0",
	    "Transfer-Encoding: gzip", NULL);
	check_framing("HTTP/1.1", 501, "Host: a", "Transfer-Encoding: gzip",
	    NULL);
	check_framing("HTTP/1.1", 501, "Host: a",
	    "Transfer-Encoding: gzip, chunked", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "X: a\x01" "b", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "X: \x7f", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "X: a\rb", NULL);
	check_framing("HTTP/1.1", 0, "Host: a", "X: a\tb \x80", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", "X Y: b", NULL);
	check_framing("HTTP/1.1", 400, "Host: a", ": b", NULL);
	check_framing("HTTP/2.0", 505, "Host: a", NULL);
	check_framing("HTTP/1.2", 505, "Host: a", NULL);
	check_framing("HTTP/0.9", 505, NULL);
	check_framing("HTTPS/1.1", 400, "Host: a", NULL);
	check_framing("", 400, NULL);
	check_framing(NULL, 400, NULL);
	{
		struct reqhead_field f[REQHEAD_MAX_FIELDS + 1];
		size_t i;

		for (i = 0; i < REQHEAD_MAX_FIELDS + 1; i++) {
			f[i].name = i == 0 ? "Host" : "X-A";
			f[i].name_len = strlen(f[i].name);
			f[i].value = "a";
			f[i].value_len = 1;
		}
		if (reqhead_framing("/", "HTTP/1.1", f, REQHEAD_MAX_FIELDS) != 0 ||
		    reqhead_framing("/", "HTTP/1.1", f, REQHEAD_MAX_FIELDS + 1) !=
		    REQHEAD_FIELDS_TOO_LARGE) {
			printf("FAIL: framing with %d and %d fields\n",
			    REQHEAD_MAX_FIELDS, REQHEAD_MAX_FIELDS + 1);
			failures++;
		}
	}

	/* absolute-form targets are routed by their path (RFC 9112 3.2.2) */
	check_route("http://host/channels/a/manifest.json", ROUTE_MANIFEST);
	check_route("HTTP://host:8080/blobs/sha256/" H64, ROUTE_BLOB);
	check_route("https://host/", ROUTE_INDEX);
	check_route("http://host", ROUTE_INDEX);
	check_route("http://host?x", ROUTE_INDEX);
	check_route("http://host/channels/../x", ROUTE_NONE);
	check_route("ftp://host/", ROUTE_NONE);
	check_route("http:/host/", ROUTE_NONE);

	/* preconditions: If-Match (strong), else If-Unmodified-Since */
	check_precondition(NULL, NULL, 1000, false);
	check_precondition("\"sha256:" H64 "\"", NULL, 1000, false);
	check_precondition("\"x\", \"sha256:" H64 "\"", NULL, 1000, false);
	check_precondition("*", NULL, 1000, false);
	check_precondition("\"x\"", NULL, 1000, true);
	check_precondition("W/\"sha256:" H64 "\"", NULL, 1000, true);
	check_precondition("", NULL, 1000, true);
	check_precondition(NULL, "Thu, 01 Jan 1970 00:16:40 GMT", 1000, false);
	check_precondition(NULL, "Thu, 01 Jan 1970 00:16:39 GMT", 1000, true);
	check_precondition(NULL, "Thu, 01 Jan 1970 00:16:39 GMT", -1, false);
	check_precondition(NULL, "yesterday", 1000, false);
	check_precondition("\"sha256:" H64 "\"",
	    "Thu, 01 Jan 1970 00:00:00 GMT", 1000, false);

	check_date("Sun, 06 Nov 1994 08:49:37 GMT", true, 784111777);
	check_date("Thu, 01 Jan 1970 00:00:00 GMT", true, 0);
	check_date("Sunday, 06-Nov-94 08:49:37 GMT", false, 0);
	check_date("Sun Nov  6 08:49:37 1994", false, 0);
	check_date("Sun, 06 Nov 1994 08:49:37 UTC", false, 0);
	check_date("Sun, 06 Xyz 1994 08:49:37 GMT", false, 0);
	check_date("Sun, 06 Nov 1994 24:49:37 GMT", false, 0);
	check_date("Sun, 06 Nov 1994 08:49:37 GMT ", false, 0);
	check_date("", false, 0);

	if (failures == 0)
		printf("ok: reqhead_scan, reqhead_framing, reqhead_route, "
		    "reqhead_range, preconditions, dates, accesslog_escape\n");
	return failures ? 1 : 0;
}
