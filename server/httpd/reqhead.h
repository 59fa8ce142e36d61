/*
 * reqhead.h - the rules bootdrop-server applies to a request head, on
 * plain strings: where a head ends (the connection guard's scan), which
 * heads are refused before routing (the framing rules), the URL grammar of
 * DESIGN.md, Range, the conditional headers and HTTP-dates.  No
 * libmicrohttpd and no HTML here: libmicrohttpd parses each head once and
 * the request handler (request.c) feeds its fields to these functions.
 *
 * The only URLs that exist:
 *
 *   /                                   HTML: the channels
 *   /channels/<c>/                      HTML: one channel
 *   /channels/<c>                       301 to <c>/ (relative, so it holds
 *                                       behind a proxy's path prefix)
 *   /channels/<c>/manifest.json         newest signed manifest
 *   /channels/<c>/<n>.json              manifest of version n
 *   /blobs/sha256/<64 lowercase hex>    artifact bytes
 *
 * Routing looks at the raw request target as the client sent it, before
 * libmicrohttpd percent-decodes it, so "%2e%2e", "%2f" and "%00" are
 * simply not in the grammar.  An absolute-form target ("http://host/...",
 * RFC 9112 3.2.2) is routed by its path.  Everything else is 404.
 */
#ifndef BOOTDROP_REQHEAD_H
#define BOOTDROP_REQHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "manifest.h"
#include "sha256.h"

#define REQHEAD_URI_MAX_BYTES	256	/* longer request targets are 404 */
#define REQHEAD_MAX_FIELDS	100	/* more header fields: 431 */

/* The statuses these rules answer with (RFC 9110 numbers). */
#define REQHEAD_BAD_REQUEST		400
#define REQHEAD_PRECONDITION_FAILED	412
#define REQHEAD_URI_TOO_LONG		414
#define REQHEAD_FIELDS_TOO_LARGE	431
#define REQHEAD_NOT_IMPLEMENTED		501
#define REQHEAD_VERSION_NOT_SUPPORTED	505

/*
 * The guard's one pass over the bytes a connection sent first (len bytes,
 * not NUL-terminated): where the head ends, and the bytes no parser may
 * be left to interpret.  Returns 0 with *head_len the length of the head
 * up to and with its empty line (0 while it has not ended), or 400 for a
 * NUL, another control byte or DEL, an obs-fold line, or a request line
 * with fewer than two spaces - libmicrohttpd 0.9.75 would cut the field,
 * join the lines or close without a status.  It parses no field:
 * libmicrohttpd does, once, and reqhead_framing() judges the result.
 */
unsigned reqhead_scan(const char *buf, size_t len, size_t *head_len);

/*
 * The status for a head that did not end within its cap: 414 while the
 * request line itself has not ended (the URL is too long, as nginx
 * answers), else 431.
 */
unsigned reqhead_overlong(const char *buf, size_t len);

/* One header field as libmicrohttpd parsed it. */
struct reqhead_field {
	const char *name, *value;
	size_t name_len, value_len;
};

/*
 * The framing rules (RFC 9112 for a server that takes no request body),
 * in one place: the status a request for target with these n fields gets
 * before routing, or 0 when it may be routed.  400 for an empty target or
 * one with a space, control or non-ASCII byte, a Content-Length other
 * than 0, a repeated Content-Length or Host, no Host in HTTP/1.1, a
 * Transfer-Encoding "chunked", a malformed field name or value; 501 for
 * any other transfer coding; 431 for more than REQHEAD_MAX_FIELDS fields;
 * 505 for an HTTP version other than 1.0 and 1.1.  Every non-zero answer
 * closes the connection: nothing after such a head is read.
 */
unsigned reqhead_framing(const char *target, const char *version,
    const struct reqhead_field *f, size_t n);

enum reqhead_route_kind {
	ROUTE_NONE,		/* not in the grammar: 404 */
	ROUTE_INDEX,
	ROUTE_CHANNEL,
	ROUTE_CHANNEL_REDIRECT,	/* the channel page without its slash */
	ROUTE_MANIFEST,		/* manifest.json */
	ROUTE_VERSION,		/* <n>.json */
	ROUTE_BLOB
};

struct reqhead_route {
	enum reqhead_route_kind kind;
	char channel[CHANNEL_MAX_BYTES + 1];
	uint64_t version;
	char hex[SHA256_HEX_BYTES];
};

/*
 * Matches a raw request target (origin-form, or absolute-form "http://"
 * or "https://" authority and path; a "?query" is ignored) against the
 * grammar.  Returns the route kind, ROUTE_NONE for anything else; fills r.
 */
enum reqhead_route_kind reqhead_route(const char *target,
    struct reqhead_route *r);

/*
 * Parses a Range header value against a body of size bytes.  Returns 0
 * when the whole body should be sent (no header, a syntax the server does
 * not honor, or several ranges), 1 with *first and *last set for a single
 * satisfiable range, -1 when it is unsatisfiable (416).
 */
int reqhead_range(const char *value, uint64_t size, uint64_t *first,
    uint64_t *last);

/*
 * True when the If-None-Match value lists etag (weak comparison) or is
 * "*".  etag includes its quotes.
 */
bool reqhead_etag_listed(const char *value, const char *etag);

/*
 * The preconditions of RFC 9110 13.2.2 that can fail a GET: true when
 * If-Match (strong comparison, or "*") does not list etag, or, without
 * If-Match, when If-Unmodified-Since is a valid HTTP-date older than
 * mtime (mtime < 0: not known, the header is ignored).  NULL: absent.
 */
bool reqhead_precondition_fails(const char *if_match,
    const char *if_unmodified_since, const char *etag, time_t mtime);

/*
 * Parses an HTTP-date in its preferred form (IMF-fixdate, "Sun, 06 Nov
 * 1994 08:49:37 GMT").  Returns false for anything else.
 */
bool reqhead_date(const char *s, time_t *t);

/* The reason phrase of the statuses this server sends. */
const char *reqhead_reason(unsigned status);

#endif
