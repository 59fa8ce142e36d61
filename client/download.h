/*
 * download.h - libcurl, used carefully: http/https only (redirects
 * included, at most DL_MAX_REDIRS), connect and low-speed timeouts, size
 * caps enforced in the write callbacks, HTTP status and Content-Range
 * checked by us.
 *
 * Every request has a deadline: four low-speed windows for a manifest,
 * as many plus its size at 16 KiB/s for a blob request.
 *
 * The manifest comes through one easy handle.  A blob larger than
 * SEGMENT_MIN_BYTES comes from every mirror at once: libcurl's multi
 * interface, one connection per mirror, each asking for ranges that are
 * written in place into the part file, while SHA-256 follows the
 * contiguous prefix.  The hash alone decides; a mirror whose bytes it
 * refuses is found, named and not asked again.  A smaller blob comes from
 * one mirror at a time, in the order given.
 */
#ifndef BOOTDROP_DOWNLOAD_H
#define BOOTDROP_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define DL_MAX_REDIRS		5
#define DL_BUFFER_BYTES		(512L << 10)	/* curl's receive buffer */
#define DL_URL_MAX_BYTES	2048
#define DL_MAX_MIRRORS		16
#define DL_PART_SUFFIX		".part"
/* Spans a part file's trailer lists (dl_part_mark()). */
#define DL_PART_SPANS_MAX	64
/* Blobs above this size are fetched from every mirror in parallel. */
#define SEGMENT_MIN_BYTES	(8ULL << 20)

struct dl_options {
	long connect_timeout;	/* seconds */
	long low_speed_time;	/* abort below 1 KiB/s for this many seconds */
	const char *cacert;	/* NULL: the system's CA store */
};

/* Bytes one mirror delivered for the current blob. */
struct dl_mirror_stat {
	const char *url;	/* the mirror's base URL */
	uint64_t bytes;
	bool active;		/* a transfer is running now */
	bool excluded;		/* failed or refused; not asked again */
};

/* What a progress callback sees; pointers valid during the call only. */
struct dl_progress {
	uint64_t have;		/* bytes of the blob on disk, resumed included */
	uint64_t size;
	uint64_t resumed;	/* of have, bytes kept from an earlier run */
	size_t nmirrors;
	const struct dl_mirror_stat *mirrors;
	bool final;		/* the last call for this blob */
};

/*
 * Called once before the first byte is asked for (resumed known), then as
 * bytes arrive, at most every DL_PROGRESS_SECONDS, and once at the end.
 */
typedef void (*dl_progress_fn)(void *ctx, const struct dl_progress *p);
/* Called when a mirror is excluded because its bytes were refused. */
typedef void (*dl_warn_fn)(void *ctx, const char *mirror, const char *why);
#define DL_PROGRESS_SECONDS	0.1

struct dl_blob {
	const char *name;	/* artifact name, for messages */
	uint64_t size;
	uint8_t sha256[SHA256_BYTES];
	char hex[SHA256_HEX_BYTES];
	dl_progress_fn progress;
	dl_warn_fn warn;
	void *progress_ctx;	/* for progress and warn */
};

struct dl;

/*
 * Makes a downloader.  curl_global_init() is the caller's (once, in
 * main).  Returns a new dl in *out; free with dl_free().
 */
enum bd_err dl_new(const struct dl_options *o, struct dl **out);
void dl_free(struct dl *d);

/*
 * GETs url into a new buffer of at most max bytes (BD_ERR_TOOBIG beyond,
 * the transfer is aborted as soon as the cap is passed).  The buffer is
 * NUL-terminated after *len bytes; free with free().
 */
enum bd_err dl_get_buf(struct dl *d, const char *url, size_t max,
    uint8_t **buf, size_t *len);

/*
 * Downloads blob b from <mirror>/blobs/sha256/<hex> of the given mirrors
 * into fd, an open read/write part file the caller owns, and verifies it
 * against b->sha256.  What fd holds from an interrupted run is resumed:
 * its contiguous prefix, plus ranges its own trailer record says were
 * written (a parallel download keeps that record after byte b->size while
 * it runs); everything is still judged by the hash, and a resume that
 * does not verify starts over from 0.  On success fd holds exactly the
 * b->size verified bytes.  On a network failure fd keeps what a next run
 * can resume; when bytes were refused it is emptied.  *resumed_from tells
 * how many bytes were kept from before.
 */
enum bd_err dl_fetch_part(struct dl *d, const char *const *mirrors,
    size_t nmirrors, int fd, const struct dl_blob *b, uint64_t *resumed_from);

/*
 * dl_fetch_part() into tmpdirfd/<hex>.part, created (0600) when missing;
 * on success *fd is the open part (the caller closes it).  An empty part
 * is removed on failure.
 */
enum bd_err dl_fetch_blob(struct dl *d, const char *const *mirrors,
    size_t nmirrors, int tmpdirfd, const struct dl_blob *b, int *fd,
    uint64_t *resumed_from);

/*
 * The part file shared with a delta download (client/chunkfetch.c):
 * dl_part_spans() gives the spans of part fd (of a blob of size bytes)
 * that dl_fetch_part() would resume - its trailer's, or its length as one
 * span from 0 when it is no longer than size, or none (*n 0) - at most
 * DL_PART_SPANS_MAX.  dl_part_mark() writes the trailer listing spans
 * (sorted, disjoint, within size, at most DL_PART_SPANS_MAX) after byte
 * size and cuts the file there, so a dl_fetch_part() resumes them.  What a
 * trailer lists is resumed, never trusted: the blob's SHA-256 decides.
 */
struct dl_span {
	uint64_t start, end;	/* [start, end) */
};
enum bd_err dl_part_spans(int fd, uint64_t size, struct dl_span *spans,
    size_t *n);
enum bd_err dl_part_mark(int fd, uint64_t size, const struct dl_span *spans,
    size_t n);

/*
 * What the last failure was, as data: callers decide by it (a 404, a
 * certificate), never by the words of dl_detail().  Each kind has one
 * enum bd_err, and so one exit status (dl_fail_err()).
 */
enum dl_fail_kind {
	DL_FAIL_NONE,		/* the last request succeeded */
	DL_FAIL_STATUS,		/* an HTTP status other than 200/206 */
	DL_FAIL_REFUSED,	/* not followed or not taken: a redirect to
				 * another scheme, too many redirects, a 206
				 * for a request without Range */
	DL_FAIL_FRAMING,	/* two Content-Lengths, headers too large */
	DL_FAIL_TLS,		/* certificate or TLS handshake: curl */
	DL_FAIL_TRANSPORT,	/* no connection, reset, too slow: curl */
	DL_FAIL_DEADLINE,	/* still arriving at the request's deadline */
	DL_FAIL_TOOBIG,		/* a capped response beyond its cap */
	DL_FAIL_SIZE,		/* a blob longer or shorter than asked */
	DL_FAIL_HASH,		/* bytes the manifest's sha256 refuses */
	DL_FAIL_IO,		/* the part file */
	DL_FAIL_NOMEM,
	DL_FAIL_URL		/* a URL too long */
};

struct dl_failure {
	enum dl_fail_kind kind;
	long status;		/* DL_FAIL_STATUS: the HTTP status */
	int curl;		/* libcurl's CURLcode, 0 when none */
};

/* The enum bd_err a failure of kind k is reported as. */
enum bd_err dl_fail_err(enum dl_fail_kind k);

/* The last failure (kind DL_FAIL_NONE after a success). */
const struct dl_failure *dl_failure(const struct dl *d);

/* True when f is a 404 or 410: the file is not on that server. */
bool dl_failure_missing(const struct dl_failure *f);

/* True when f is a server certificate that could not be verified. */
bool dl_failure_certificate(const struct dl_failure *f);

/* The URL (or path) of the last failure, for the error line. */
const char *dl_where(const struct dl *d);

/* Last failure's detail, saved before cleanup could overwrite it. */
const char *dl_detail(const struct dl *d);

/*
 * The response a header callback has seen so far; dl_header_parse() feeds
 * it one raw header line (CRLF included or not) as libcurl delivers it.
 * Exposed for the fuzz target: these are the server's untrusted bytes.
 */
struct dl_response {
	bool cr_valid;		/* "Content-Range: bytes A-B/T" parsed */
	uint64_t cr_start, cr_end, cr_total;
	bool accept_ranges;	/* "Accept-Ranges: bytes" */
	bool cl_seen;		/* a "Content-Length: N" header */
	uint64_t cl;
	bool cl_conflict;	/* a second one saying otherwise */
};
void dl_header_parse(struct dl_response *r, const char *line, size_t n);

/*
 * GETs bytes [off, off + len) of url into buf with one Range request:
 * only a 206 whose Content-Range is exactly that range and whose body is
 * exactly len bytes is taken.  BD_ERR_HTTP for any other answer (a server
 * without Range support answers 200), BD_ERR_NETWORK for a transport
 * failure.  Chunk packs (client/delta.c) are fetched this way.
 */
enum bd_err dl_get_range(struct dl *d, const char *url, uint64_t off,
    size_t len, uint8_t *buf);

/*
 * Records a failure of kind (no HTTP status, no curl code) at where, as
 * dl_failure(), dl_where() and dl_detail() then report it; returns the
 * enum bd_err of kind.
 */
enum bd_err dl_record(struct dl *d, enum dl_fail_kind kind, const char *where,
    const char *detail);

/*
 * For client/rangefetch.c: a new libcurl easy handle (a CURL *) set up as
 * the manifest's (http/https only, redirects, connect and low-speed
 * timeouts, TLS, the shared connection cache); *low_speed_time is its
 * low-speed window in seconds.  NULL when out of memory; free with
 * curl_easy_cleanup().
 */
void *dl_easy_dup(struct dl *d, long *low_speed_time);

#endif
