/*
 * http.h - the request side of bootdrop-server: the fixed URL grammar of
 * DESIGN.md, file serving relative to the repository directory, Range,
 * ETag and conditional requests, and the per-request bookkeeping
 * (access log, in-flight count for a graceful stop, quick mode's count of
 * served blobs).
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
 * simply not in the grammar.  Everything else is 404; methods other than
 * GET and HEAD are 405.
 */
#ifndef BOOTDROP_HTTP_H
#define BOOTDROP_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "manifest.h"
#include "sha256.h"

#define HTTP_URI_MAX_BYTES	256	/* longer request targets are 404 */
#define HTTP_BLOB_MAX_AGE	31536000
#define HTTP_MANIFEST_MAX_AGE	60
#define HTTP_SMALL_BLOB_MAX_BYTES	(64u << 10)	/* served from memory */

enum http_route_kind {
	ROUTE_NONE,		/* not in the grammar: 404 */
	ROUTE_INDEX,
	ROUTE_CHANNEL,
	ROUTE_CHANNEL_REDIRECT,	/* the channel page without its slash */
	ROUTE_MANIFEST,		/* manifest.json */
	ROUTE_VERSION,		/* <n>.json */
	ROUTE_BLOB
};

struct http_route {
	enum http_route_kind kind;
	char channel[CHANNEL_MAX_BYTES + 1];
	uint64_t version;
	char hex[SHA256_HEX_BYTES];
};

struct accesslog;

/*
 * Called when a response about a blob ends: full is true for a complete
 * 200 body, otherwise bytes is the length of a completed 206 range.
 */
typedef void (*http_blob_served_fn)(void *arg, const char *hex, bool full,
    uint64_t bytes);

/* Everything a request handler may look at; shared by all threads. */
struct http_server {
	int repofd;			/* the repository directory */
	const char *base_url;		/* shown in the HTML index, ends in '/' */
	const char *pubkey_b64;		/* shown in the fetch command, or NULL */
	struct accesslog *log;		/* NULL: no access log */
	struct index_cache *index;	/* the "/" page's cache, or NULL */
	http_blob_served_fn blob_served;	/* quick mode, or NULL */
	void *blob_served_arg;
	/* the connection guard: a connection is idle between requests */
	void (*conn_state)(void *arg, struct MHD_Connection *conn, bool idle);
	void *conn_state_arg;

	/* graceful stop: requests between URI callback and completion */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned inflight;
	bool stopping;
};

/*
 * Request framing (RFC 9112) as bootdrop-server enforces it, fed one
 * header field at a time - from the raw bytes of a request head
 * (http_head_check) or from libmicrohttpd's parsed fields (the handler) -
 * so both apply one rule set.
 */
struct http_framing {
	unsigned hosts, lengths, encodings, fields;
	bool bad;		/* a field that is malformed on its own */
	bool chunked_only;	/* every Transfer-Encoding is "chunked" */
	uint64_t length;	/* Content-Length, when lengths == 1 */
};

#define HTTP_HEAD_MAX_FIELDS	100	/* more header fields: 431 */

/* Counts one field (name and value without surrounding whitespace). */
void http_framing_field(struct http_framing *f, const char *name, size_t nlen,
    const char *value, size_t vlen);

/*
 * The status a request with these fields gets before routing: 0 when the
 * framing is sound, 400 (duplicate or malformed Content-Length, Content-
 * Length with Transfer-Encoding, no or several Host in HTTP/1.1, a body on
 * GET or HEAD, a bad field), 431 (too many fields) or 501 (a transfer
 * coding other than chunked).  Each of these answers closes the connection.
 */
unsigned http_framing_status(const struct http_framing *f, bool http11,
    bool get_or_head);

/* What http_head_check() found in a request head. */
struct http_head {
	size_t len;			/* bytes up to and with the empty line */
	const char *method, *target, *version;	/* into the buffer */
	size_t method_len, target_len, version_len;	/* 0 when unparsed */
	uint64_t body_length;		/* Content-Length of a sound head */
	bool chunked;			/* a sound head with Transfer-Encoding */
};

/*
 * Looks at the first request in buf (len bytes, as received, not
 * NUL-terminated).  Returns 0 and h->len == 0 when the head is not
 * complete yet; 0 with h->len set when it is complete and sound; else the
 * status to answer with before closing: 400 for a malformed request line,
 * a space or control byte in the target, a control byte (NUL included) in
 * a field, whitespace before a colon, obs-fold, and everything
 * http_framing_status() refuses; 431, 501 as there; 505 for an HTTP
 * version other than 1.0 and 1.1.  h's method/target/version are filled
 * as far as the request line parsed, for the access log.
 */
unsigned http_head_check(const char *buf, size_t len, struct http_head *h);

/* The reason phrase of the statuses this server sends. */
const char *http_reason(unsigned status);

/* Initializes the locks of s (the caller fills the other fields). */
void http_server_init(struct http_server *s);
void http_server_fini(struct http_server *s);

/*
 * Matches a raw request target (path, optionally "?query", which is
 * ignored) against the grammar.  Returns the route kind, ROUTE_NONE for
 * anything else; fills r.
 */
enum http_route_kind http_route(const char *target, struct http_route *r);

/*
 * Parses a Range header value against a body of size bytes.  Returns 0
 * when the whole body should be sent (no header, a syntax the server does
 * not honor, or several ranges), 1 with *first and *last set for a single
 * satisfiable range, -1 when it is unsatisfiable (416).
 */
int http_parse_range(const char *value, uint64_t size, uint64_t *first,
    uint64_t *last);

/*
 * True when the If-None-Match value lists etag (weak comparison) or is
 * "*".  etag includes its quotes.
 */
bool http_etag_listed(const char *value, const char *etag);

/* libmicrohttpd callbacks; cls is the struct http_server. */
void *http_request_begin(void *cls, const char *uri,
    struct MHD_Connection *conn);
enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **req_cls);
void http_request_done(void *cls, struct MHD_Connection *conn,
    void **req_cls, enum MHD_RequestTerminationCode toe);

/*
 * Waits until no request is in flight or timeout_ms passed; returns the
 * number still in flight.  Sets s->stopping so responses close their
 * connections.
 */
unsigned http_drain(struct http_server *s, unsigned timeout_ms);

#endif
