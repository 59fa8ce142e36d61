/*
 * download.c - the fetch client's only user of libcurl.
 *
 * The manifest comes through one easy handle (dl_get_buf).  A blob comes
 * through the multi interface, one connection ("source") per mirror.  The
 * part file is a list of spans: free, active (one source is filling it) or
 * done.  An idle source takes the first free bytes in file order, asks for
 * them with Range and writes what arrives in place with pwrite(2); when
 * nothing is free it takes the far end of the span with the longest time
 * to go, or all of it from a source that stalled.  SHA-256 follows the
 * contiguous prefix: bytes arriving at the frontier are hashed as they
 * come, bytes beyond it are read back once the frontier reaches them.
 *
 * Nothing is trusted before the whole hash matches.  When it does not, the
 * bytes of a blob that came from one mirror condemn that mirror.  Bytes
 * from several (or from an earlier run) are kept as evidence, a SHA-256
 * per span and mirror, and fetched again, each span from a mirror other
 * than the one that served it (a last resort asks each mirror alone).
 * Once the artifact verifies, every mirror whose evidence differs from it
 * lied, a Range answered with the right Content-Range and other bytes
 * included, and is named.
 *
 * While a parallel download runs, the part file carries after its
 * b->size bytes a trailer recording which spans were written, so a killed
 * run resumes them; without a trailer only the file's length counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "download.h"
#include "fsutil.h"
#include "layout.h"
#include "num.h"

#define DL_ERRBODY_MAX_BYTES	(64u << 10)	/* error bodies we swallow */
#define DL_BUF_INITIAL_BYTES	(64u << 10)
#define DL_LOW_SPEED_BYTES	1024L
/* A manifest (or other capped response) must be complete within this many
 * low-speed windows: one dripped just above the limit would otherwise
 * hold the run for as long as its cap takes at 1 KiB/s. */
#define DL_BUF_DEADLINE_WINDOWS	4L
/* A blob request must average this rate, after the same slack of
 * DL_BUF_DEADLINE_WINDOWS low-speed windows: one trickled just above the
 * low-speed limit would otherwise hold the run for days.  The bytes it
 * brought stay in the part for the next mirror or the next run. */
#define DL_DEADLINE_RATE_BYTES	(16 * DL_LOW_SPEED_BYTES)
#define DL_WHERE_BYTES		(DL_URL_MAX_BYTES + 64)
#define DL_DETAIL_BYTES		512
#define DL_REHASH_BYTES		(256u << 10)
#define DL_FLUSH_SECONDS	1.0	/* slow link: write and record this often */
#define DL_PIECE_MIN_BYTES	(1ULL << 20)	/* smallest range asked for */
#define DL_STALL_SECONDS	2.0	/* silent this long: its range moves */
#define DL_POLL_MS		100
/* Receive and write buffers of all sources together stay below this. */
#define DL_BUFFER_BUDGET_BYTES	(4u << 20)
#define DL_BUFFER_MIN_BYTES	(64u << 10)
/* The trailer of a part file being filled in parallel. */
#define DL_TRAILER_MAGIC	"BDPART01"
#define DL_TRAILER_SPANS	DL_PART_SPANS_MAX
#define DL_TRAILER_BYTES	(8 + 8 + 8 + DL_TRAILER_SPANS * 16 + \
	SHA256_BYTES)
/* Evidence kept per blob: spans of mirrors whose assembly failed. */
#define DL_EVIDENCE_MAX		256
/* Span origins besides a mirror index. */
#define ORIGIN_NONE		(-1)
#define ORIGIN_EARLIER		(-2)	/* a previous run wrote it */

struct dl {
	CURL *curl;		/* the manifest's handle, the template */
	CURLM *multi;		/* blobs */
	CURLSH *share;		/* one connection cache for every handle */
	char errbuf[CURL_ERROR_SIZE];
	char where[DL_WHERE_BYTES];
	char detail[DL_DETAIL_BYTES];
	struct dl_failure fail;	/* the last failure, as data */
	long buf_deadline;	/* seconds for a whole dl_get_buf() request */
	long low_speed_time;
};

/* Per-request state of dl_get_buf. */
struct bufxfer {
	CURL *curl;
	enum bd_err rc;		/* a callback aborted: why, and fail */
	struct dl_failure fail;
	bool started, error_body;
	size_t error_bytes;
	uint8_t *buf;
	size_t len, cap, max;
	struct dl_response resp;
};

enum span_state { SPAN_FREE, SPAN_ACTIVE, SPAN_DONE };

/* [start, end) of the part file. */
struct span {
	uint64_t start, end;
	enum span_state state;
	int origin;		/* who wrote (done) or writes (active) it */
	int prev;		/* check: who wrote it before; may not serve it */
	bool check;		/* compare with the bytes on disk first */
	int src;		/* active: the source filling it */
};

struct job;

/* One mirror and its connection, for one blob. */
struct src {
	struct job *job;
	int idx;
	CURL *easy;
	char url[DL_URL_MAX_BYTES];	/* the mirror */
	char blob_url[DL_URL_MAX_BYTES];
	char errbuf[CURL_ERROR_SIZE];
	struct dl_response resp;
	bool busy;
	bool dead;		/* network or HTTP failure */
	bool bad;		/* its bytes were refused */
	bool norange;		/* no usable Range: whole-file duty only */
	bool slow;		/* lost a range by stalling */
	/* the request in flight */
	bool ranged, whole, started, error_body, cut, check;
	bool range_refused;	/* 200 or another range for a Range */
	int prev;
	uint64_t req_start, req_end;	/* asked for [req_start, req_end) */
	uint64_t pos;		/* offset of the next byte to arrive */
	uint64_t end;		/* stop here (before req_end after a steal) */
	uint64_t skip;		/* whole-file duty: bytes below are dropped */
	long deadline;		/* seconds for the whole request */
	size_t error_bytes;
	enum bd_err rc;		/* a callback aborted: why, and fail */
	struct dl_failure fail;
	char rc_detail[DL_DETAIL_BYTES];
	/* write buffer: wlen bytes for offset wpos */
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t wpos;
	/* speed */
	uint64_t bytes;		/* delivered for this blob */
	double since, last_byte, rate, rate_at;
	uint64_t rate_mark;
};

enum phase { PHASE_NORMAL, PHASE_CHECK, PHASE_SOLE };

/*
 * What a mirror served for an assembly the hash refused: its bytes
 * [start, end) hashed as they were on disk.  Judged once the artifact
 * verifies: bytes other than the verified ones name the mirror.
 */
struct evidence {
	int origin;
	uint64_t start, end;
	uint8_t sha256[SHA256_BYTES];
};

/* One blob being downloaded. */
struct job {
	struct dl *d;
	const struct dl_blob *b;
	int fd;
	struct span *spans;
	size_t nspans, capspans;
	struct sha256_ctx *ctx;
	uint64_t hashed;	/* [0, hashed) is done and hashed */
	uint8_t *scratch;	/* DL_REHASH_BYTES */
	struct src src[DL_MAX_MIRRORS];
	size_t nsrc;
	struct dl_mirror_stat stats[DL_MAX_MIRRORS];
	bool parallel;
	bool trailer;		/* the part carries a trailer */
	enum phase phase;
	int sole;		/* PHASE_SOLE: the one source used */
	struct evidence *ev;	/* DL_EVIDENCE_MAX */
	size_t nev;
	uint64_t resumed;
	enum bd_err fatal;	/* a local failure: stop everything */
	double last_flush, last_progress;
	enum bd_err last_rc;	/* the last source failure, for the caller */
};

static void
store_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Every kind of failure and what it is reported as; a new kind without a
 * line here does not build.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
#pragma GCC diagnostic error "-Wswitch-enum"
enum bd_err
dl_fail_err(enum dl_fail_kind k)
{
	switch (k) {
	case DL_FAIL_NONE:
		return BD_OK;
	case DL_FAIL_STATUS:
	case DL_FAIL_REFUSED:
		return BD_ERR_HTTP;
	case DL_FAIL_FRAMING:
	case DL_FAIL_TLS:
	case DL_FAIL_TRANSPORT:
	case DL_FAIL_DEADLINE:
		return BD_ERR_NETWORK;
	case DL_FAIL_TOOBIG:
		return BD_ERR_TOOBIG;
	case DL_FAIL_SIZE:
		return BD_ERR_SIZE;
	case DL_FAIL_HASH:
		return BD_ERR_HASH;
	case DL_FAIL_IO:
		return BD_ERR_IO;
	case DL_FAIL_NOMEM:
		return BD_ERR_NOMEM;
	case DL_FAIL_URL:
		return BD_ERR_USAGE;
	}
	return BD_ERR_NETWORK;	/* not an enumerator: cannot happen */
}
#pragma GCC diagnostic pop

const struct dl_failure *
dl_failure(const struct dl *d)
{
	return &d->fail;
}

bool
dl_failure_missing(const struct dl_failure *f)
{
	return f->kind == DL_FAIL_STATUS && (f->status == 404 ||
	    f->status == 410);
}

bool
dl_failure_certificate(const struct dl_failure *f)
{
	return f->kind == DL_FAIL_TLS &&
	    (f->curl == CURLE_PEER_FAILED_VERIFICATION ||
	    f->curl == CURLE_SSL_CACERT_BADFILE ||
	    f->curl == CURLE_SSL_ISSUER_ERROR);
}

/* A local failure's kind: the part file, or memory. */
static enum dl_fail_kind
local_kind(enum bd_err rc)
{
	return rc == BD_ERR_NOMEM ? DL_FAIL_NOMEM : DL_FAIL_IO;
}

/*
 * Fills *f and records the detail (printf-style) with bd_fail(); returns
 * the enum bd_err of kind.
 */
static enum bd_err
fail_set(struct dl_failure *f, enum dl_fail_kind kind, long status,
    CURLcode cc, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum bd_err
fail_set(struct dl_failure *f, enum dl_fail_kind kind, long status,
    CURLcode cc, const char *fmt, ...)
{
	char buf[DL_DETAIL_BYTES];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	f->kind = kind;
	f->status = status;
	f->curl = (int)cc;
	return bd_fail(dl_fail_err(kind), "%s", buf);
}

/* Remembers where and why the current request failed, and as what. */
static enum bd_err
dl_record_failure(struct dl *d, const struct dl_failure *f,
    const char *where, const char *detail)
{
	size_t i;

	d->fail = *f;
	snprintf(d->where, sizeof(d->where), "%s", where);
	snprintf(d->detail, sizeof(d->detail), "%s", detail);
	for (i = 0; d->where[i] != '\0'; i++)
		if ((unsigned char)d->where[i] < 0x20 || d->where[i] == 0x7f)
			d->where[i] = '?';
	return dl_fail_err(f->kind);
}

/* dl_record_failure() of a kind that has no status or curl code. */
enum bd_err
dl_record(struct dl *d, enum dl_fail_kind kind, const char *where,
    const char *detail)
{
	const struct dl_failure f = { kind, 0, 0 };

	return dl_record_failure(d, &f, where, detail);
}

const char *
dl_where(const struct dl *d)
{
	return d->where;
}

const char *
dl_detail(const struct dl *d)
{
	return d->detail;
}

enum bd_err
dl_new(const struct dl_options *o, struct dl **out)
{
	struct dl *d;
	enum bd_err rc = BD_OK;
	CURLcode cc = CURLE_OK;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return BD_ERR_NOMEM;
	if ((d->curl = curl_easy_init()) == NULL ||
	    (d->multi = curl_multi_init()) == NULL ||
	    (d->share = curl_share_init()) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "curl_easy_init failed");
		goto out;
	}
	if (curl_share_setopt(d->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_CONNECT) != CURLSHE_OK)
		cc = CURLE_UNKNOWN_OPTION;
#define SET(opt, val) do { if (cc == CURLE_OK) \
	cc = curl_easy_setopt(d->curl, opt, val); } while (0)
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, (long)DL_MAX_REDIRS);
	SET(CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
	SET(CURLOPT_LOW_SPEED_LIMIT, DL_LOW_SPEED_BYTES);
	SET(CURLOPT_LOW_SPEED_TIME, o->low_speed_time);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FAILONERROR, 0L);
	SET(CURLOPT_BUFFERSIZE, DL_BUFFER_BYTES);
	SET(CURLOPT_USERAGENT, "bootdrop-fetch/" BOOTDROP_VERSION);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->cacert != NULL)
		SET(CURLOPT_CAINFO, o->cacert);
	SET(CURLOPT_SHARE, d->share);
#undef SET
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->errbuf);
	if (cc != CURLE_OK) {
		rc = bd_fail(BD_ERR_USAGE, "libcurl: %s", curl_easy_strerror(cc));
		goto out;
	}
	d->buf_deadline = o->low_speed_time * DL_BUF_DEADLINE_WINDOWS;
	d->low_speed_time = o->low_speed_time;
	*out = d;
	d = NULL;
out:
	dl_free(d);
	return rc;
}

void
dl_free(struct dl *d)
{
	if (d == NULL)
		return;
	if (d->multi != NULL)
		curl_multi_cleanup(d->multi);
	if (d->curl != NULL)
		curl_easy_cleanup(d->curl);
	if (d->share != NULL)
		curl_share_cleanup(d->share);
	free(d);
}

/* Parses "bytes START-END/TOTAL" (v starts after the colon). */
static bool
content_range_parse(const char *v, size_t n, uint64_t *start, uint64_t *end,
    uint64_t *total)
{
	char tmp[128], *p, *e;
	uint64_t vals[3];
	const char seps[3] = { '-', '/', '\0' };
	int i;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	    v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= sizeof(tmp) || n < 6 || strncasecmp(v, "bytes ", 6) != 0)
		return false;
	memcpy(tmp, v + 6, n - 6);
	tmp[n - 6] = '\0';
	if (memchr(tmp, '\0', n - 6) != NULL)
		return false;
	p = tmp;
	for (i = 0; i < 3; i++) {
		if ((e = strchr(p, seps[i])) == NULL ||
		    num_u64(p, (size_t)(e - p), 0, UINT64_MAX, &vals[i]) !=
		    BD_OK)
			return false;
		p = e + 1;
	}
	if (vals[0] > vals[1] || vals[1] >= vals[2])
		return false;
	*start = vals[0];
	*end = vals[1];
	*total = vals[2];
	return true;
}

/* Two Content-Length headers that disagree: a broken or lying server. */
static void
content_length_parse(struct dl_response *r, const char *v, size_t n)
{
	uint64_t val = 0;
	size_t i = 0;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
		if (val > (UINT64_MAX - 9) / 10) {
			r->cl_conflict = true;	/* no length is that long */
			return;
		}
		val = val * 10 + (uint64_t)(v[i] - '0');
	}
	if (r->cl_seen && r->cl != val)
		r->cl_conflict = true;
	r->cl_seen = true;
	r->cl = val;
}

void
dl_header_parse(struct dl_response *r, const char *line, size_t n)
{
	static const char cr[] = "content-range:";
	static const char ar[] = "accept-ranges:";
	static const char cl[] = "content-length:";
	const char *v;
	size_t vn;

	/* A new status line starts a new response (redirects, 100). */
	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		memset(r, 0, sizeof(*r));
		return;
	}
	if (n > sizeof(cr) - 1 && strncasecmp(line, cr, sizeof(cr) - 1) == 0) {
		r->cr_valid = content_range_parse(line + sizeof(cr) - 1,
		    n - (sizeof(cr) - 1), &r->cr_start, &r->cr_end,
		    &r->cr_total);
		return;
	}
	if (n > sizeof(cl) - 1 && strncasecmp(line, cl, sizeof(cl) - 1) == 0) {
		content_length_parse(r, line + sizeof(cl) - 1, n - (sizeof(cl) - 1));
		return;
	}
	if (n > sizeof(ar) - 1 && strncasecmp(line, ar, sizeof(ar) - 1) == 0) {
		v = line + sizeof(ar) - 1;
		vn = n - (sizeof(ar) - 1);
		while (vn > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vn--;
		}
		r->accept_ranges = vn >= 5 && strncasecmp(v, "bytes", 5) == 0;
	}
}

/* libcurl's codes for a TLS handshake or certificate that failed. */
static bool
curl_tls(CURLcode cc)
{
	return cc == CURLE_SSL_CONNECT_ERROR ||
	    cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CIPHER ||
	    cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CRL_BADFILE ||
	    cc == CURLE_SSL_ISSUER_ERROR ||
	    cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	    cc == CURLE_SSL_INVALIDCERTSTATUS ||
	    cc == CURLE_SSL_ENGINE_NOTFOUND ||
	    cc == CURLE_SSL_ENGINE_SETFAILED ||
	    cc == CURLE_SSL_ENGINE_INITFAILED;
}

/* Fails a request whose transfer reported cc, in curl's words. */
static enum bd_err
curl_failure(CURLcode cc, const char *errbuf, struct dl_failure *f)
{
	const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);

	if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_TOO_MANY_REDIRECTS)
		return fail_set(f, DL_FAIL_REFUSED, 0, cc, "refused: %s", why);
	/* libcurl's word for a header line over its limit (100 KiB). */
	if (cc == CURLE_OUT_OF_MEMORY)
		return fail_set(f, DL_FAIL_FRAMING, 0, cc, "the response's "
		    "headers are too large to take in (libcurl: %s)", why);
	return fail_set(f, curl_tls(cc) ? DL_FAIL_TLS : DL_FAIL_TRANSPORT, 0,
	    cc, "%s", why);
}

static size_t
buf_on_header(char *data, size_t size, size_t nitems, void *arg)
{
	struct bufxfer *x = arg;

	dl_header_parse(&x->resp, data, size * nitems);
	if (x->resp.cl_conflict) {
		x->rc = fail_set(&x->fail, DL_FAIL_FRAMING, 0, CURLE_OK,
		    "two different Content-Length headers");
		return 0;
	}
	return size * nitems;
}

static size_t
buf_on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct bufxfer *x = arg;
	size_t n = size * nitems;
	long status = 0;

	if (!x->started) {
		x->started = true;
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
		x->error_body = status != 200;
	}
	if (x->error_body) {
		x->error_bytes += n;
		return x->error_bytes > DL_ERRBODY_MAX_BYTES ? 0 : n;
	}
	if (n > x->max - x->len) {
		x->rc = fail_set(&x->fail, DL_FAIL_TOOBIG, 0, CURLE_OK,
		    "response larger than %zu bytes", x->max);
		return 0;
	}
	if (x->len + n > x->cap) {
		size_t cap = x->cap == 0 ? DL_BUF_INITIAL_BYTES : x->cap;
		uint8_t *nb;

		while (cap < x->len + n)
			cap *= 2;
		if (cap > x->max)
			cap = x->max;
		if ((nb = realloc(x->buf, cap + 1)) == NULL) {
			x->fail.kind = DL_FAIL_NOMEM;
			x->rc = BD_ERR_NOMEM;
			return 0;
		}
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	return n;
}

enum bd_err
dl_get_buf(struct dl *d, const char *url, size_t max, uint8_t **buf,
    size_t *len)
{
	struct bufxfer x;
	enum bd_err rc = BD_OK;
	CURLcode cc;
	long status = 0;

	*buf = NULL;
	*len = 0;
	memset(&x, 0, sizeof(x));
	x.curl = d->curl;
	x.max = max;
	d->fail = x.fail;
	bd_err_clear();
	d->errbuf[0] = '\0';
	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_RANGE, NULL);
	curl_easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, buf_on_header);
	curl_easy_setopt(d->curl, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, buf_on_body);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, d->buf_deadline);
	cc = curl_easy_perform(d->curl);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, 0L);	/* blobs copy d->curl */
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x.rc != BD_OK)
		rc = x.rc;
	else if (cc == CURLE_OPERATION_TIMEDOUT && x.started)
		rc = fail_set(&x.fail, DL_FAIL_DEADLINE, 0, cc, "not complete "
		    "after %ld s (%zu bytes), the deadline for a response of "
		    "at most %zu bytes", d->buf_deadline, x.len, max);
	else if (cc != CURLE_OK && !(x.error_body && cc == CURLE_WRITE_ERROR))
		rc = curl_failure(cc, d->errbuf, &x.fail);
	else if (x.error_body || status != 200)
		rc = fail_set(&x.fail, DL_FAIL_STATUS, status, CURLE_OK,
		    "HTTP status %ld", status);
	else if (x.buf == NULL && (x.buf = malloc(1)) == NULL) {
		x.fail.kind = DL_FAIL_NOMEM;
		rc = BD_ERR_NOMEM;
	}
	if (rc != BD_OK) {
		dl_record_failure(d, &x.fail, url, bd_err_detail());
		free(x.buf);
		return rc;
	}
	x.buf[x.len] = '\0';
	*buf = x.buf;
	*len = x.len;
	return BD_OK;
}

/* ---- spans ---- */

/* Inserts a span at index i; false when the list is full. */
static bool
span_insert(struct job *j, size_t i, const struct span *s)
{
	struct span *ns;
	size_t cap;

	if (j->nspans == j->capspans) {
		cap = j->capspans == 0 ? 16 : j->capspans * 2;
		if ((ns = realloc(j->spans, cap * sizeof(*ns))) == NULL)
			return false;
		j->spans = ns;
		j->capspans = cap;
	}
	memmove(&j->spans[i + 1], &j->spans[i],
	    (j->nspans - i) * sizeof(*j->spans));
	j->spans[i] = *s;
	j->nspans++;
	return true;
}

static void
span_remove(struct job *j, size_t i)
{
	memmove(&j->spans[i], &j->spans[i + 1],
	    (j->nspans - i - 1) * sizeof(*j->spans));
	j->nspans--;
}

/* Splits span i at off (start < off < end); the new span is i + 1. */
static bool
span_split(struct job *j, size_t i, uint64_t off)
{
	struct span tail = j->spans[i];

	tail.start = off;
	if (!span_insert(j, i + 1, &tail))
		return false;
	j->spans[i].end = off;
	return true;
}

/* Joins neighbours that say the same thing; drops empty spans. */
static void
span_tidy(struct job *j)
{
	size_t i = 0;
	struct span *a, *b;

	while (i < j->nspans) {
		if (j->spans[i].start >= j->spans[i].end) {
			span_remove(j, i);
			continue;
		}
		if (i > 0) {
			a = &j->spans[i - 1];
			b = &j->spans[i];
			if (a->state == b->state && b->state != SPAN_ACTIVE &&
			    a->origin == b->origin && a->prev == b->prev &&
			    a->check == b->check && a->end == b->start) {
				a->end = b->end;
				span_remove(j, i);
				continue;
			}
		}
		i++;
	}
}

/* Index of the span holding off (the list covers [0, size)). */
static size_t
span_find(const struct job *j, uint64_t off)
{
	size_t lo = 0, hi = j->nspans;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (j->spans[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static bool
span_of_src(const struct job *j, int src, size_t *out)
{
	size_t i;

	for (i = 0; i < j->nspans; i++)
		if (j->spans[i].state == SPAN_ACTIVE && j->spans[i].src == src) {
			*out = i;
			return true;
		}
	return false;
}

/* One free span, nothing hashed, nothing resumed. */
static enum bd_err
spans_fresh(struct job *j)
{
	struct span all = { 0, j->b->size, SPAN_FREE, ORIGIN_NONE, ORIGIN_NONE,
	    false, -1 };
	uint8_t scratch[SHA256_BYTES];

	sha256_final(j->ctx, scratch);	/* resets the context */
	j->hashed = 0;
	j->resumed = 0;
	j->trailer = false;
	j->nspans = 0;
	return span_insert(j, 0, &all) ? BD_OK : BD_ERR_NOMEM;
}

/* Everything free again, nothing trusted: the part is emptied. */
static enum bd_err
job_reset(struct job *j)
{
	if (spans_fresh(j) != BD_OK)
		return BD_ERR_NOMEM;
	if (ftruncate(j->fd, 0) != 0)
		return bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": %s", j->b->hex,
		    strerror(errno));
	return BD_OK;
}

static enum bd_err
part_io_fail(const struct job *j)
{
	return bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": %s", j->b->hex,
	    strerror(errno));
}

/* Reads exactly n bytes at off; false on a short read or error. */
static bool
pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
	size_t got;

	return pread_full(fd, p, n, off, &got) == BD_OK && got == n;
}

/* Writes out what s's write buffer holds. */
static enum bd_err
src_flush(struct src *s)
{
	struct job *j = s->job;

	if (s->wlen == 0)
		return BD_OK;
	if (pwrite_all(j->fd, s->wbuf, s->wlen, s->wpos) != BD_OK)
		return part_io_fail(j);
	s->wpos += s->wlen;
	s->wlen = 0;
	return BD_OK;
}

/*
 * The trailer after byte size of part fd: magic, size, count, count
 * (start, end) pairs, zero padding, SHA-256 of all that.
 */
static enum bd_err
trailer_put(int fd, uint64_t size, const struct dl_span *spans, size_t n)
{
	uint8_t t[DL_TRAILER_BYTES];
	size_t i, k = DL_TRAILER_BYTES - SHA256_BYTES;
	struct sha256_ctx *c;

	memset(t, 0, sizeof(t));
	memcpy(t, DL_TRAILER_MAGIC, 8);
	store_le64(t + 8, size);
	store_le64(t + 16, n);
	for (i = 0; i < n; i++) {
		store_le64(t + 24 + i * 16, spans[i].start);
		store_le64(t + 24 + i * 16 + 8, spans[i].end);
	}
	if ((c = sha256_new()) == NULL)
		return BD_ERR_NOMEM;
	sha256_update(c, t, k);
	sha256_final(c, t + k);
	sha256_free(c);
	return pwrite_all(fd, t, sizeof(t), size);
}

/*
 * Reads the trailer after byte size of part fd into spans (sorted,
 * disjoint, within size); false when it is not a valid one for size.
 */
static bool
trailer_get(int fd, uint64_t size, struct dl_span *spans, size_t *n)
{
	uint8_t t[DL_TRAILER_BYTES], sum[SHA256_BYTES];
	uint64_t count, i, last = 0;
	size_t k = DL_TRAILER_BYTES - SHA256_BYTES;
	struct sha256_ctx *c;

	*n = 0;
	if (!pread_all(fd, t, sizeof(t), size) ||
	    memcmp(t, DL_TRAILER_MAGIC, 8) != 0 || load_le64(t + 8) != size)
		return false;
	if ((c = sha256_new()) == NULL)
		return false;
	sha256_update(c, t, k);
	sha256_final(c, sum);
	sha256_free(c);
	if (sodium_memcmp(sum, t + k, SHA256_BYTES) != 0)
		return false;
	count = load_le64(t + 16);
	if (count > DL_TRAILER_SPANS)
		return false;
	for (i = 0; i < count; i++) {
		spans[i].start = load_le64(t + 24 + i * 16);
		spans[i].end = load_le64(t + 24 + i * 16 + 8);
		if (spans[i].start < last || spans[i].start >= spans[i].end ||
		    spans[i].end > size)
			return false;
		last = spans[i].end;
	}
	*n = (size_t)count;
	return true;
}

/*
 * Records the written spans after byte size (trailer_put()).  Only
 * flushed bytes are listed; the data was written first.
 */
static enum bd_err
trailer_write(struct job *j)
{
	struct dl_span list[DL_TRAILER_SPANS];
	uint64_t start, end;
	size_t i, n = 0;

	for (i = 0; i < j->nspans && n < DL_TRAILER_SPANS; i++) {
		const struct span *sp = &j->spans[i];

		if (sp->state == SPAN_FREE || (sp->state == SPAN_DONE &&
		    sp->check))
			continue;
		start = sp->start;
		end = sp->end;
		if (sp->state == SPAN_ACTIVE) {
			const struct src *s = &j->src[sp->src];

			if (s->check)
				continue;
			end = s->wpos > start ? s->wpos : start;
		}
		if (end <= start)
			continue;
		/* Join with the previous entry when they touch. */
		if (n > 0 && list[n - 1].end == start) {
			list[n - 1].end = end;
			continue;
		}
		list[n].start = start;
		list[n++].end = end;
	}
	if (trailer_put(j->fd, j->b->size, list, n) != BD_OK)
		return part_io_fail(j);
	j->trailer = true;
	return BD_OK;
}

/*
 * Reads a trailer into done spans (origin ORIGIN_EARLIER); false when it
 * is not a valid one for this blob.
 */
static bool
trailer_read(struct job *j)
{
	struct dl_span list[DL_TRAILER_SPANS];
	struct span sp;
	uint64_t last = 0;
	size_t i, n;

	if (!trailer_get(j->fd, j->b->size, list, &n))
		return false;
	j->nspans = 0;
	for (i = 0; i < n; i++) {
		if (list[i].start > last) {
			sp = (struct span){ last, list[i].start, SPAN_FREE,
			    ORIGIN_NONE, ORIGIN_NONE, false, -1 };
			if (!span_insert(j, j->nspans, &sp))
				return false;
		}
		sp = (struct span){ list[i].start, list[i].end, SPAN_DONE,
		    ORIGIN_EARLIER, ORIGIN_NONE, false, -1 };
		if (!span_insert(j, j->nspans, &sp))
			return false;
		j->resumed += list[i].end - list[i].start;
		last = list[i].end;
	}
	if (last < j->b->size) {
		sp = (struct span){ last, j->b->size, SPAN_FREE, ORIGIN_NONE,
		    ORIGIN_NONE, false, -1 };
		if (!span_insert(j, j->nspans, &sp))
			return false;
	}
	j->trailer = true;
	return true;
}

enum bd_err
dl_part_spans(int fd, uint64_t size, struct dl_span *spans, size_t *n)
{
	struct stat st;

	*n = 0;
	if (fstat(fd, &st) != 0)
		return bd_fail(BD_ERR_IO, "part file: %s", strerror(errno));
	if ((uint64_t)st.st_size == size + DL_TRAILER_BYTES &&
	    trailer_get(fd, size, spans, n))
		return BD_OK;
	*n = 0;
	if (st.st_size > 0 && (uint64_t)st.st_size <= size) {
		spans[0].start = 0;
		spans[0].end = (uint64_t)st.st_size;
		*n = 1;
	}
	return BD_OK;
}

enum bd_err
dl_part_mark(int fd, uint64_t size, const struct dl_span *spans, size_t n)
{
	if (n > DL_PART_SPANS_MAX)
		return bd_fail(BD_ERR_USAGE, "part file: %zu spans", n);
	if (trailer_put(fd, size, spans, n) != BD_OK ||
	    ftruncate(fd, (off_t)(size + DL_TRAILER_BYTES)) != 0)
		return bd_fail(BD_ERR_IO, "part file: %s", strerror(errno));
	return BD_OK;
}

/*
 * Takes over what the part file holds: a trailer's spans, else its
 * length as a prefix.  Anything else (longer without a valid trailer, not
 * a regular file) is refused or emptied.
 */
static enum bd_err
part_load(struct job *j)
{
	struct stat st;
	struct span sp;
	uint64_t have;

	if (fstat(j->fd, &st) != 0)
		return part_io_fail(j);
	if (!S_ISREG(st.st_mode))
		return bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": not a regular "
		    "file", j->b->hex);
	have = (uint64_t)st.st_size;
	if (have == j->b->size + DL_TRAILER_BYTES && trailer_read(j)) {
		span_tidy(j);
		return BD_OK;
	}
	if (have > j->b->size)
		return job_reset(j);
	if (spans_fresh(j) != BD_OK)
		return BD_ERR_NOMEM;
	if (have > 0) {
		j->spans[0].end = have;
		j->spans[0].state = SPAN_DONE;
		j->spans[0].origin = ORIGIN_EARLIER;
		if (have < j->b->size) {
			sp = (struct span){ have, j->b->size, SPAN_FREE,
			    ORIGIN_NONE, ORIGIN_NONE, false, -1 };
			if (!span_insert(j, 1, &sp))
				return BD_ERR_NOMEM;
		}
		j->resumed = have;
	}
	return BD_OK;
}

/*
 * Moves the hash frontier over every done byte after it, reading them
 * back; stops at a free span or at an active source's position (whose
 * next bytes are then hashed as they arrive).
 */
static enum bd_err
hash_catch_up(struct job *j)
{
	size_t i;
	uint64_t to, n;
	enum bd_err rc;

	while (j->hashed < j->b->size) {
		const struct span *sp;

		i = span_find(j, j->hashed);
		sp = &j->spans[i];
		if (sp->state == SPAN_FREE || (sp->state == SPAN_DONE &&
		    sp->check))
			return BD_OK;
		to = sp->end;
		if (sp->state == SPAN_ACTIVE) {
			struct src *s = &j->src[sp->src];

			if (s->pos <= j->hashed || s->whole)
				return BD_OK;
			if ((rc = src_flush(s)) != BD_OK)
				return rc;
			to = s->pos;
		}
		while (j->hashed < to) {
			n = to - j->hashed;
			if (n > DL_REHASH_BYTES)
				n = DL_REHASH_BYTES;
			errno = 0;
			if (!pread_all(j->fd, j->scratch, (size_t)n, j->hashed))
				return errno != 0 ? part_io_fail(j) :
				    bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX
				    ": shorter than recorded", j->b->hex);
			sha256_update(j->ctx, j->scratch, (size_t)n);
			j->hashed += n;
		}
	}
	return BD_OK;
}

static uint64_t
job_have(const struct job *j)
{
	uint64_t have = 0;
	size_t i;

	for (i = 0; i < j->nspans; i++) {
		const struct span *sp = &j->spans[i];

		if (sp->state == SPAN_DONE && !sp->check)
			have += sp->end - sp->start;
		else if (sp->state == SPAN_ACTIVE) {
			const struct src *s = &j->src[sp->src];
			uint64_t from = s->whole ? s->skip : sp->start;

			if (s->pos > from)
				have += s->pos - from;
		}
	}
	return have;
}

static void
job_progress(struct job *j, bool final)
{
	struct dl_progress p;
	size_t i;

	if (j->b->progress == NULL)
		return;
	for (i = 0; i < j->nsrc; i++) {
		j->stats[i].url = j->src[i].url;
		j->stats[i].bytes = j->src[i].bytes;
		j->stats[i].active = j->src[i].busy;
		j->stats[i].excluded = j->src[i].dead || j->src[i].bad;
	}
	memset(&p, 0, sizeof(p));
	p.have = job_have(j);
	p.size = j->b->size;
	p.resumed = j->resumed;
	p.nmirrors = j->nsrc;
	p.mirrors = j->stats;
	p.final = final;
	j->b->progress(j->b->progress_ctx, &p);
}

static size_t usable_count(const struct job *j);

/*
 * Names a mirror whose bytes were refused; it is not asked again.  When
 * it was the last one, the error line names it instead.
 */
static void
src_condemn(struct job *j, struct src *s, const char *why)
{
	if (s->bad)
		return;
	s->bad = true;
	if (j->b->warn != NULL && usable_count(j) > 0)
		j->b->warn(j->b->progress_ctx, s->url, why);
	j->last_rc = dl_record(j->d, DL_FAIL_HASH, s->blob_url, why);
}

/* ---- one source's transfer ---- */

static bool src_abort(struct src *s, enum bd_err rc);

static size_t
src_on_header(char *data, size_t size, size_t nitems, void *arg)
{
	struct src *s = arg;
	size_t n = size * nitems;

	dl_header_parse(&s->resp, data, n);
	if (s->resp.cl_conflict) {
		src_abort(s, fail_set(&s->fail, DL_FAIL_FRAMING, 0, CURLE_OK,
		    "%s: two different Content-Length headers", s->url));
		return 0;
	}
	return n;
}

static bool
src_abort(struct src *s, enum bd_err rc)
{
	snprintf(s->rc_detail, sizeof(s->rc_detail), "%s", bd_err_detail());
	s->rc = rc;
	return false;
}

/* Judges the response on its first body byte; false aborts it. */
static bool
src_start(struct src *s)
{
	const struct job *j = s->job;
	long status = 0;

	s->started = true;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 && !s->ranged)
		return true;
	if (status == 206 && !s->ranged) {
		return src_abort(s, fail_set(&s->fail, DL_FAIL_REFUSED, status,
		    CURLE_OK, "206 for a request without Range"));
	}
	if (status == 200 || (status == 206 && (!s->resp.cr_valid ||
	    s->resp.cr_start != s->req_start ||
	    s->resp.cr_end != s->req_end - 1 ||
	    s->resp.cr_total != j->b->size))) {
		/* Range ignored or answered with other bytes. */
		s->norange = s->range_refused = true;
		return false;
	}
	if (status == 206)
		return true;
	s->error_body = true;
	return true;
}

/* Takes n bytes for offset s->pos: hash, buffer, write. */
static enum bd_err
src_accept(struct src *s, const uint8_t *data, size_t n)
{
	struct job *j = s->job;
	enum bd_err rc;

	if (s->pos == j->hashed) {
		sha256_update(j->ctx, data, n);
		j->hashed += n;
	}
	if (s->wlen > 0 && s->wlen + n > s->wcap && (rc = src_flush(s)) !=
	    BD_OK)
		return rc;
	if (n >= s->wcap) {
		if (pwrite_all(j->fd, data, n, s->pos) != BD_OK)
			return part_io_fail(j);
		s->wpos = s->pos + n;
	} else {
		if (s->wlen == 0)
			s->wpos = s->pos;
		memcpy(s->wbuf + s->wlen, data, n);
		s->wlen += n;
	}
	s->pos += n;
	s->bytes += n;
	return BD_OK;
}

static size_t
src_on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct src *s = arg;
	struct job *j = s->job;
	size_t n = size * nitems, take, drop = 0;
	uint64_t stop;
	enum bd_err rc;

	if (!s->started && !src_start(s))
		return 0;
	if (s->error_body) {
		s->error_bytes += n;
		return s->error_bytes > DL_ERRBODY_MAX_BYTES ? 0 : n;
	}
	s->last_byte = now_seconds();
	if (s->whole && s->pos < s->skip) {
		drop = s->skip - s->pos < n ? (size_t)(s->skip - s->pos) : n;
		s->pos += drop;
	}
	take = n - drop;
	stop = s->end;
	if (take > s->req_end - s->pos && s->end == s->req_end) {
		if (s->req_start == 0 && s->req_end == j->b->size)
			return src_abort(s, fail_set(&s->fail, DL_FAIL_SIZE, 0,
			    CURLE_OK, "server sent more than the manifest's %"
			    PRIu64 " bytes", j->b->size));
		return src_abort(s, fail_set(&s->fail, DL_FAIL_SIZE, 0,
		    CURLE_OK, "server sent more than the %" PRIu64 " bytes "
		    "asked for", s->req_end - s->req_start));
	}
	if (take > stop - s->pos) {
		take = (size_t)(stop - s->pos);
		s->cut = true;	/* the rest went to another mirror */
	}
	if (take > 0 && (rc = src_accept(s, (const uint8_t *)data + drop,
	    take)) != BD_OK) {
		s->fail.kind = local_kind(rc);
		src_abort(s, rc);
		j->fatal = dl_record(j->d, s->fail.kind, j->b->hex,
		    s->rc_detail);
		return 0;
	}
	return s->cut ? 0 : n;
}

/* Asks s for [start, end); whole: no Range, the body starts at byte 0. */
static enum bd_err
src_request(struct job *j, struct src *s, size_t span, uint64_t start,
    uint64_t end, bool whole)
{
	char range[64];
	struct span *sp = &j->spans[span];
	CURLMcode mc;

	s->whole = whole;
	s->ranged = !whole && !(start == 0 && end == j->b->size);
	s->started = s->error_body = s->cut = false;
	s->range_refused = false;
	s->check = sp->check;
	s->prev = sp->prev;
	s->req_start = whole ? 0 : start;
	s->req_end = end;
	s->pos = s->req_start;
	s->end = end;
	s->skip = whole ? start : 0;
	s->wlen = 0;
	s->wpos = start;
	s->error_bytes = 0;
	s->rc = BD_OK;
	memset(&s->fail, 0, sizeof(s->fail));
	s->rc_detail[0] = '\0';
	s->errbuf[0] = '\0';
	memset(&s->resp, 0, sizeof(s->resp));
	sp->state = SPAN_ACTIVE;
	sp->src = s->idx;
	sp->origin = s->idx;
	if (end == j->b->size)
		snprintf(range, sizeof(range), "%" PRIu64 "-", start);
	else
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, start,
		    end - 1);
	curl_easy_setopt(s->easy, CURLOPT_RANGE, s->ranged ? range : NULL);
	s->deadline = j->d->low_speed_time * DL_BUF_DEADLINE_WINDOWS +
	    (long)((end - s->req_start + DL_DEADLINE_RATE_BYTES - 1) /
	    DL_DEADLINE_RATE_BYTES);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, s->deadline);
	s->since = s->last_byte = now_seconds();
	if ((mc = curl_multi_add_handle(j->d->multi, s->easy)) != CURLM_OK)
		return bd_fail(BD_ERR_NOMEM, "libcurl: %s",
		    curl_multi_strerror(mc));
	s->busy = true;
	return BD_OK;
}

/*
 * Ends s's transfer (already finished by curl, or abandoned): flushes,
 * and gives back what it did not fill as free bytes.
 */
static enum bd_err
src_release(struct job *j, struct src *s)
{
	size_t i;
	uint64_t filled;
	enum bd_err rc = src_flush(s);

	curl_multi_remove_handle(j->d->multi, s->easy);
	s->busy = false;
	if (!span_of_src(j, s->idx, &i))
		return rc;
	filled = s->pos;
	if (s->whole && filled < s->skip)
		filled = s->skip;
	if (filled < j->spans[i].start)
		filled = j->spans[i].start;
	if (filled > j->spans[i].end)
		filled = j->spans[i].end;
	if (filled < j->spans[i].end) {
		if (!span_split(j, i, filled))
			return BD_ERR_NOMEM;
		j->spans[i + 1].state = SPAN_FREE;
		j->spans[i + 1].origin = ORIGIN_NONE;
	}
	j->spans[i].state = SPAN_DONE;
	j->spans[i].check = false;
	j->spans[i].prev = ORIGIN_NONE;
	j->spans[i].origin = s->idx;
	span_tidy(j);
	return rc;
}

/* curl says s's transfer ended with cc: what it means for the mirror. */
static enum bd_err
src_done(struct job *j, struct src *s, CURLcode cc)
{
	struct dl_failure f = { DL_FAIL_NONE, 0, 0 };
	long status = 0;
	enum bd_err rc = BD_OK, rel;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	bd_err_clear();
	if (s->rc != BD_OK) {
		f = s->fail;
		rc = bd_fail(s->rc, "%s", s->rc_detail);
	} else if (s->cut || s->range_refused)
		rc = BD_OK;
	else if (cc == CURLE_OPERATION_TIMEDOUT &&
	    now_seconds() - s->since >= (double)s->deadline - 0.5)
		rc = fail_set(&f, DL_FAIL_DEADLINE, 0, cc, "not complete after "
		    "%ld s (%" PRIu64 " of %" PRIu64 " bytes), the deadline "
		    "for %" PRIu64 " bytes at %ld KiB/s on average",
		    s->deadline,
		    s->pos - s->req_start, s->req_end - s->req_start,
		    s->req_end - s->req_start, DL_DEADLINE_RATE_BYTES / 1024);
	else if (cc != CURLE_OK && !(s->error_body && cc == CURLE_WRITE_ERROR))
		rc = curl_failure(cc, s->errbuf, &f);
	else if (s->error_body || (status != 200 && status != 206))
		rc = fail_set(&f, DL_FAIL_STATUS, status, CURLE_OK,
		    "HTTP status %ld", status);
	else if (s->pos < s->end)
		rc = fail_set(&f, DL_FAIL_SIZE, 0, CURLE_OK, "%s: server sent %"
		    PRIu64 " of %" PRIu64 " bytes", j->b->name,
		    s->pos - s->req_start, s->req_end - s->req_start);
	if (rc != BD_OK && j->fatal == BD_OK) {
		if (f.kind == DL_FAIL_SIZE)
			s->bad = true;
		else
			s->dead = true;
		j->last_rc = dl_record_failure(j->d, &f, s->blob_url,
		    bd_err_detail());
		if (f.kind == DL_FAIL_SIZE && j->b->warn != NULL &&
		    usable_count(j) > 0)
			j->b->warn(j->b->progress_ctx, s->url, bd_err_detail());
	}
	if ((rel = src_release(j, s)) != BD_OK && j->fatal == BD_OK) {
		j->fatal = rel;
		dl_record(j->d, local_kind(rel), j->b->hex, bd_err_detail());
	}
	return rc;
}

/* ---- scheduling ---- */

static bool
src_usable(const struct job *j, const struct src *s)
{
	if (s->dead || s->bad)
		return false;
	if (j->phase == PHASE_SOLE)
		return s->idx == j->sole;
	return true;
}

/* A usable source that takes ranges (and did not stall), other than s? */
static size_t
ranged_sources(const struct job *j, bool count_slow)
{
	size_t i, n = 0;

	for (i = 0; i < j->nsrc; i++)
		if (src_usable(j, &j->src[i]) && !j->src[i].norange &&
		    (count_slow || !j->src[i].slow))
			n++;
	return n;
}

static uint64_t
free_bytes(const struct job *j)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < j->nspans; i++)
		if (j->spans[i].state == SPAN_FREE)
			n += j->spans[i].end - j->spans[i].start;
	return n;
}

static double
src_rate(const struct src *s, double now)
{
	if (s->busy && now - s->last_byte >= DL_STALL_SECONDS)
		return 0;
	return s->rate;
}

/*
 * Takes the far end of the span with the longest time to go for thief t:
 * all of it when its source stalled, else a share by speed, at least
 * DL_PIECE_MIN_BYTES.  Returns true when t got work.
 */
static enum bd_err
job_steal(struct job *j, struct src *t, bool *got)
{
	size_t i, best = 0;
	double now = now_seconds(), worst = 0, left, vr, tr;
	struct src *v = NULL;
	uint64_t cut;
	enum bd_err rc;

	*got = false;
	for (i = 0; i < j->nspans; i++) {
		const struct span *sp = &j->spans[i];
		struct src *s;

		if (sp->state != SPAN_ACTIVE || (sp->check && sp->prev ==
		    t->idx))
			continue;
		s = &j->src[sp->src];
		if (s->whole || s->end <= s->pos)
			continue;
		vr = src_rate(s, now);
		left = vr > 0 ? (double)(s->end - s->pos) / vr : 1e300;
		if (v == NULL || left > worst) {
			v = s;
			worst = left;
			best = i;
		}
	}
	if (v == NULL)
		return BD_OK;
	vr = src_rate(v, now);
	if (vr == 0 && now - v->since >= DL_STALL_SECONDS) {
		/* Stalled: its whole remainder moves, its transfer ends. */
		v->slow = true;
		v->cut = true;
		if ((rc = src_release(j, v)) != BD_OK)
			return rc;
		*got = true;	/* the freed bytes go out next round */
		return BD_OK;
	}
	tr = t->rate > 0 ? t->rate : vr;
	if (vr == 0 || tr == 0)
		return BD_OK;
	cut = v->pos + (uint64_t)((double)(v->end - v->pos) * vr / (vr + tr));
	if (v->end - cut < DL_PIECE_MIN_BYTES || cut <= v->pos ||
	    cut <= j->spans[best].start)
		return BD_OK;
	/* Not worth it unless t finishes its part well before v would. */
	if ((double)(v->end - cut) / tr >= worst * 0.75)
		return BD_OK;
	if (!span_split(j, best, cut))
		return BD_ERR_NOMEM;
	v->end = cut;
	j->spans[best + 1].state = SPAN_FREE;
	j->spans[best + 1].origin = ORIGIN_NONE;
	if ((rc = src_request(j, t, best + 1, cut, j->spans[best + 1].end,
	    false)) != BD_OK)
		return rc;
	*got = true;
	return BD_OK;
}

/* Gives idle source s work, if there is any it may take. */
static enum bd_err
src_assign(struct job *j, struct src *s, size_t nranged)
{
	size_t i;
	uint64_t len, share;
	struct span *sp;
	bool got;

	if (s->norange) {
		/* Whole-file duty: only when no mirror takes ranges. */
		if (nranged > 0 || j->hashed >= j->b->size)
			return BD_OK;
		for (i = 0; i < j->nspans; i++)
			if (j->spans[i].state == SPAN_ACTIVE)
				return BD_OK;
		j->nspans = 1;
		j->spans[0] = (struct span){ 0, j->hashed, SPAN_DONE,
		    ORIGIN_EARLIER, ORIGIN_NONE, false, -1 };
		if (j->hashed > 0) {
			struct span rest = { j->hashed, j->b->size, SPAN_FREE,
			    ORIGIN_NONE, ORIGIN_NONE, false, -1 };

			if (!span_insert(j, 1, &rest))
				return BD_ERR_NOMEM;
			i = 1;
		} else {
			j->spans[0].end = j->b->size;
			i = 0;
		}
		return src_request(j, s, i, j->hashed, j->b->size, true);
	}
	for (i = 0; i < j->nspans; i++) {
		sp = &j->spans[i];
		if (sp->state != SPAN_FREE || (sp->check && sp->prev == s->idx))
			continue;
		len = sp->end - sp->start;
		if (j->parallel) {
			share = free_bytes(j) / (2 * (nranged > 0 ? nranged : 1));
			if (share > SEGMENT_MIN_BYTES)
				share = SEGMENT_MIN_BYTES;
			if (share < DL_PIECE_MIN_BYTES)
				share = DL_PIECE_MIN_BYTES;
			if (len > share && len - share >= DL_PIECE_MIN_BYTES) {
				if (!span_split(j, i, sp->start + share))
					return BD_ERR_NOMEM;
				sp = &j->spans[i];
			}
		}
		return src_request(j, s, i, sp->start, sp->end, false);
	}
	if (j->parallel)
		return job_steal(j, s, &got);
	return BD_OK;
}

/* Hands out work to every idle source that may take some. */
static enum bd_err
job_assign(struct job *j)
{
	size_t i, nranged, busy = 0, nfast;
	enum bd_err rc;

	for (i = 0; i < j->nsrc; i++)
		busy += j->src[i].busy;
	nranged = ranged_sources(j, true);
	nfast = ranged_sources(j, false);
	for (i = 0; i < j->nsrc; i++) {
		struct src *s = &j->src[i];

		if (s->busy || !src_usable(j, s))
			continue;
		/* A stalled mirror waits unless nothing else is left. */
		if (s->slow && nfast > 0)
			continue;
		if (!j->parallel && busy > 0)
			break;
		if ((rc = src_assign(j, s, nranged)) != BD_OK)
			return rc;
		busy += s->busy;
	}
	return BD_OK;
}

/* Speeds, periodic flush and trailer, progress. */
static enum bd_err
job_tick(struct job *j)
{
	double now = now_seconds(), dt;
	size_t i;
	enum bd_err rc;

	for (i = 0; i < j->nsrc; i++) {
		struct src *s = &j->src[i];

		dt = now - s->rate_at;
		if (dt >= 0.25) {
			double inst = (double)(s->bytes - s->rate_mark) / dt;

			s->rate = s->rate == 0 ? inst : (s->rate + inst) / 2;
			s->rate_mark = s->bytes;
			s->rate_at = now;
		}
	}
	if (now - j->last_flush >= DL_FLUSH_SECONDS) {
		j->last_flush = now;
		for (i = 0; i < j->nsrc; i++)
			if ((rc = src_flush(&j->src[i])) != BD_OK)
				return rc;
		if (j->trailer && (rc = trailer_write(j)) != BD_OK)
			return rc;
	}
	if (now - j->last_progress >= DL_PROGRESS_SECONDS) {
		j->last_progress = now;
		job_progress(j, false);
	}
	return BD_OK;
}

static bool
job_complete(const struct job *j)
{
	size_t i;

	for (i = 0; i < j->nspans; i++)
		if (j->spans[i].state != SPAN_DONE || j->spans[i].check)
			return false;
	return true;
}

/*
 * Runs transfers until every span is done, or no mirror can make
 * progress (BD_ERR_NETWORK or the last failure), or a local failure.
 */
static enum bd_err job_run_(struct job *j);

static enum bd_err
job_run(struct job *j)
{
	enum bd_err rc = job_run_(j);

	if (rc != BD_OK && j->fatal == BD_OK && (rc == BD_ERR_NOMEM ||
	    bd_err_exit_status(rc) == 4))
		dl_record(j->d, local_kind(rc), j->b->hex, bd_err_detail());
	return rc;
}

static enum bd_err
job_run_(struct job *j)
{
	CURLMsg *msg;
	int running, left;
	size_t i, busy;
	enum bd_err rc;

	for (;;) {
		if ((rc = job_assign(j)) != BD_OK)
			return rc;
		for (busy = 0, i = 0; i < j->nsrc; i++)
			busy += j->src[i].busy;
		if (busy == 0) {
			span_tidy(j);
			if ((rc = hash_catch_up(j)) != BD_OK)
				return rc;
			if (job_complete(j))
				return BD_OK;
			if (j->last_rc == BD_OK) {
				bd_fail(BD_ERR_NETWORK, "no mirror left to "
				    "ask");
				j->last_rc = dl_record(j->d, DL_FAIL_TRANSPORT,
				    j->b->name, bd_err_detail());
			}
			return j->last_rc;
		}
		curl_multi_perform(j->d->multi, &running);
		while ((msg = curl_multi_info_read(j->d->multi, &left)) !=
		    NULL) {
			struct src *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			if (s != NULL && s->busy)
				src_done(j, s, msg->data.result);
		}
		if (j->fatal != BD_OK)
			return j->fatal;
		for (i = 0; i < j->nsrc; i++)
			if (j->src[i].busy && j->src[i].cut &&
			    j->src[i].pos >= j->src[i].end)
				src_release(j, &j->src[i]);
		if ((rc = hash_catch_up(j)) != BD_OK ||
		    (rc = job_tick(j)) != BD_OK)
			return rc;
		if (running > 0)
			curl_multi_poll(j->d->multi, NULL, 0, DL_POLL_MS, NULL);
	}
}

/* Every byte is there and hashed: does it match? */
static enum bd_err
job_verify(struct job *j)
{
	struct sha256_ctx *c;
	uint8_t got[SHA256_BYTES];
	char hex[SHA256_HEX_BYTES];

	if (j->hashed != j->b->size)
		return bd_fail(BD_ERR_IO, "%s: hashed %" PRIu64 " of %" PRIu64
		    " bytes", j->b->name, j->hashed, j->b->size);
	if ((c = sha256_dup(j->ctx)) == NULL)
		return BD_ERR_NOMEM;
	sha256_final(c, got);
	sha256_free(c);
	if (sodium_memcmp(got, j->b->sha256, SHA256_BYTES) != 0) {
		sha256_hex(got, hex);
		return bd_fail(BD_ERR_HASH, "%s: got sha256 %s, manifest says "
		    "%s", j->b->name, hex, j->b->hex);
	}
	return BD_OK;
}

/*
 * Who wrote the bytes: *one is the single mirror when only one did,
 * -1 otherwise; *earlier when an earlier run wrote some.
 */
static size_t
job_origins(const struct job *j, int *one, bool *earlier)
{
	bool seen[DL_MAX_MIRRORS] = { false };
	size_t i, n = 0;

	*one = -1;
	*earlier = false;
	for (i = 0; i < j->nspans; i++) {
		int o = j->spans[i].origin;

		if (o == ORIGIN_EARLIER)
			*earlier = true;
		else if (o >= 0 && !seen[o]) {
			seen[o] = true;
			n++;
			*one = o;
		}
	}
	if (n != 1)
		*one = -1;
	return n;
}

/* SHA-256 of the part's bytes [start, end). */
static enum bd_err
part_range_hash(struct job *j, uint64_t start, uint64_t end,
    uint8_t out[SHA256_BYTES])
{
	struct sha256_ctx *c;
	uint64_t n;
	enum bd_err rc = BD_OK;

	if ((c = sha256_new()) == NULL)
		return BD_ERR_NOMEM;
	while (start < end) {
		n = end - start < DL_REHASH_BYTES ? end - start :
		    DL_REHASH_BYTES;
		errno = 0;
		if (!pread_all(j->fd, j->scratch, (size_t)n, start)) {
			rc = errno != 0 ? part_io_fail(j) : bd_fail(BD_ERR_IO,
			    "%s" DL_PART_SUFFIX ": shorter than recorded",
			    j->b->hex);
			goto out;
		}
		sha256_update(c, j->scratch, (size_t)n);
		start += n;
	}
	sha256_final(c, out);
out:
	sha256_free(c);
	return rc;
}

/*
 * The hash refused bytes that several mirrors (or an earlier run) wrote:
 * keeps what each mirror served, to be judged by the artifact that
 * finally verifies.  Beyond DL_EVIDENCE_MAX spans the rest goes unjudged.
 */
static enum bd_err
evidence_collect(struct job *j)
{
	size_t i;
	enum bd_err rc;

	if (j->ev == NULL &&
	    (j->ev = calloc(DL_EVIDENCE_MAX, sizeof(*j->ev))) == NULL)
		return BD_ERR_NOMEM;
	for (i = 0; i < j->nspans && j->nev < DL_EVIDENCE_MAX; i++) {
		const struct span *sp = &j->spans[i];
		struct evidence *e = &j->ev[j->nev];

		if (sp->state != SPAN_DONE || sp->check || sp->origin < 0)
			continue;
		e->origin = sp->origin;
		e->start = sp->start;
		e->end = sp->end;
		if ((rc = part_range_hash(j, sp->start, sp->end,
		    e->sha256)) != BD_OK)
			return rc;
		j->nev++;
	}
	return BD_OK;
}

/*
 * The artifact verified: every mirror whose kept bytes differ from it
 * lied (a Range answered with the right Content-Range and other bytes,
 * say).  Each is named in a warning and not asked again.
 */
static enum bd_err
evidence_judge(struct job *j)
{
	uint8_t got[SHA256_BYTES];
	char why[DL_DETAIL_BYTES];
	size_t i;
	struct src *s;
	enum bd_err rc;

	for (i = 0; i < j->nev; i++) {
		const struct evidence *e = &j->ev[i];

		s = &j->src[e->origin];
		if (s->bad)
			continue;
		if ((rc = part_range_hash(j, e->start, e->end, got)) != BD_OK)
			return rc;
		if (sodium_memcmp(got, e->sha256, SHA256_BYTES) == 0)
			continue;
		s->bad = true;
		snprintf(why, sizeof(why), "sent bytes %" PRIu64 "-%" PRIu64
		    " other than those of the artifact that verified",
		    e->start, e->end - 1);
		if (j->b->warn != NULL)
			j->b->warn(j->b->progress_ctx, s->url, why);
	}
	return BD_OK;
}

/* The check pass: every span again, from a mirror that did not serve it. */
static void
job_check_setup(struct job *j)
{
	uint8_t scratch[SHA256_BYTES];
	size_t i;

	sha256_final(j->ctx, scratch);
	j->hashed = 0;
	for (i = 0; i < j->nspans; i++) {
		j->spans[i].prev = j->spans[i].origin;
		j->spans[i].origin = ORIGIN_NONE;
		j->spans[i].state = SPAN_FREE;
		j->spans[i].check = true;
	}
	j->trailer = true;
	j->phase = PHASE_CHECK;
}

/* The next mirror to try alone, or -1. */
static int
next_sole(const struct job *j, int after)
{
	size_t i;

	for (i = (size_t)(after + 1); i < j->nsrc; i++)
		if (!j->src[i].dead && !j->src[i].bad)
			return (int)i;
	return -1;
}

static size_t
usable_count(const struct job *j)
{
	size_t i, n = 0;

	for (i = 0; i < j->nsrc; i++)
		n += !j->src[i].dead && !j->src[i].bad;
	return n;
}

/*
 * Downloads until the hash matches, deciding after each refusal whose
 * bytes to distrust.  See the top of the file.
 */
static enum bd_err
job_download(struct job *j)
{
	bool retried = false, earlier;
	char why[DL_DETAIL_BYTES];
	size_t n;
	int one;
	enum bd_err rc;

	if (job_complete(j) && (rc = hash_catch_up(j)) == BD_OK &&
	    job_verify(j) == BD_OK)
		return BD_OK;
	for (;;) {
		j->parallel = j->phase != PHASE_SOLE &&
		    j->b->size > SEGMENT_MIN_BYTES && usable_count(j) > 1;
		if ((j->parallel || j->trailer) && !job_complete(j) &&
		    (rc = trailer_write(j)) != BD_OK)
			return rc;
		rc = job_run(j);
		if (rc == BD_OK)
			rc = job_verify(j);
		if (rc == BD_OK)
			return evidence_judge(j);
		if (rc != BD_ERR_HASH) {
			/* Stuck in a check, or the one mirror failed: next. */
			if (j->phase == PHASE_NORMAL || j->fatal != BD_OK ||
			    rc == BD_ERR_NOMEM || bd_err_exit_status(rc) == 4)
				return rc;
			j->sole = next_sole(j, j->phase == PHASE_SOLE ?
			    j->sole : -1);
			j->phase = PHASE_SOLE;
			if (j->sole < 0 || (rc = job_reset(j)) != BD_OK)
				return j->sole < 0 ? j->last_rc : rc;
			continue;
		}
		snprintf(why, sizeof(why), "%s", bd_err_detail());
		n = job_origins(j, &one, &earlier);
		if (j->phase != PHASE_SOLE && (n > 1 || earlier) &&
		    (rc = evidence_collect(j)) != BD_OK)
			return rc;
		if (j->phase == PHASE_SOLE) {
			src_condemn(j, &j->src[j->sole], why);
			j->sole = next_sole(j, j->sole);
			if (j->sole < 0)
				return BD_ERR_HASH;
		} else if (earlier && !retried) {
			/* Bytes of an earlier run: start over once. */
			retried = true;
		} else if (n == 1 && j->phase == PHASE_NORMAL) {
			src_condemn(j, &j->src[one], why);
		} else if (j->phase == PHASE_NORMAL && n > 1) {
			job_check_setup(j);
			continue;
		} else {
			j->phase = PHASE_SOLE;
			j->sole = next_sole(j, -1);
			if (j->sole < 0)
				return dl_record(j->d, DL_FAIL_HASH, j->b->name,
				    why);
		}
		if (usable_count(j) == 0)
			return j->last_rc != BD_OK ? j->last_rc : BD_ERR_HASH;
		if ((rc = job_reset(j)) != BD_OK)
			return rc;
	}
}

/* The curl handle of one mirror, set up from the manifest's template. */
static enum bd_err
src_init(struct job *j, struct src *s, int idx, const char *mirror,
    size_t bufbytes)
{
	CURLcode cc = CURLE_OK;
	char rel[LAYOUT_PATH_BYTES];

	s->job = j;
	s->idx = idx;
	snprintf(s->url, sizeof(s->url), "%s", mirror);
	layout_blob_path(j->b->hex, rel);
	if (strlen(mirror) + 1 + strlen(rel) >= sizeof(s->blob_url)) {
		s->dead = true;
		j->last_rc = dl_record(j->d, DL_FAIL_URL, mirror,
		    "URL too long");
		return BD_OK;
	}
	if ((s->easy = curl_easy_duphandle(j->d->curl)) == NULL ||
	    (s->wbuf = malloc(bufbytes)) == NULL)
		return BD_ERR_NOMEM;
	s->wcap = bufbytes;
	s->rate_at = now_seconds();
#define SET(opt, val) do { if (cc == CURLE_OK) \
	cc = curl_easy_setopt(s->easy, opt, val); } while (0)
	memcpy(s->blob_url, mirror, strlen(mirror));
	s->blob_url[strlen(mirror)] = '/';
	memcpy(s->blob_url + strlen(mirror) + 1, rel, strlen(rel) + 1);
	SET(CURLOPT_URL, s->blob_url);
	SET(CURLOPT_BUFFERSIZE, (long)bufbytes);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_SHARE, j->d->share);
	SET(CURLOPT_PRIVATE, (char *)s);
	SET(CURLOPT_HEADERFUNCTION, src_on_header);
	SET(CURLOPT_HEADERDATA, s);
	SET(CURLOPT_WRITEFUNCTION, src_on_body);
	SET(CURLOPT_WRITEDATA, s);
#undef SET
	if (cc != CURLE_OK)
		return bd_fail(BD_ERR_NOMEM, "libcurl: %s",
		    curl_easy_strerror(cc));
	return BD_OK;
}

static void
job_free(struct job *j)
{
	size_t i;

	for (i = 0; i < j->nsrc; i++) {
		if (j->src[i].easy != NULL) {
			if (j->src[i].busy)
				curl_multi_remove_handle(j->d->multi,
				    j->src[i].easy);
			curl_easy_cleanup(j->src[i].easy);
		}
		free(j->src[i].wbuf);
	}
	sha256_free(j->ctx);
	free(j->ev);
	free(j->scratch);
	free(j->spans);
	free(j);
}

enum bd_err
dl_fetch_part(struct dl *d, const char *const *mirrors, size_t nmirrors,
    int fd, const struct dl_blob *b, uint64_t *resumed_from)
{
	struct job *j;
	size_t i, bufbytes;
	enum bd_err rc;

	*resumed_from = 0;
	bd_err_clear();
	memset(&d->fail, 0, sizeof(d->fail));
	if (nmirrors > DL_MAX_MIRRORS)
		nmirrors = DL_MAX_MIRRORS;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return BD_ERR_NOMEM;
	j->d = d;
	j->b = b;
	j->fd = fd;
	j->sole = -1;
	j->last_progress = j->last_flush = now_seconds();
	if ((j->ctx = sha256_new()) == NULL ||
	    (j->scratch = malloc(DL_REHASH_BYTES)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	if ((rc = part_load(j)) != BD_OK ||
	    (rc = hash_catch_up(j)) != BD_OK) {
		dl_record(d, local_kind(rc), b->hex, bd_err_detail());
		goto out;
	}
	*resumed_from = j->resumed;
	bufbytes = DL_BUFFER_BUDGET_BYTES / 2 / (nmirrors > 0 ? nmirrors : 1);
	if (bufbytes > DL_BUFFER_BYTES)
		bufbytes = DL_BUFFER_BYTES;
	if (bufbytes < DL_BUFFER_MIN_BYTES)
		bufbytes = DL_BUFFER_MIN_BYTES;
	for (i = 0; i < nmirrors; i++, j->nsrc++)
		if ((rc = src_init(j, &j->src[i], (int)i, mirrors[i],
		    bufbytes)) != BD_OK) {
			j->nsrc++;
			dl_record(d, local_kind(rc), mirrors[i],
			    bd_err_detail());
			goto out;
		}
	job_progress(j, false);
	rc = job_download(j);
	for (i = 0; i < j->nsrc; i++)
		if (j->src[i].busy)
			src_release(j, &j->src[i]);
	if (rc == BD_OK) {
		if (ftruncate(fd, (off_t)b->size) != 0) {
			rc = part_io_fail(j);
			dl_record(d, local_kind(rc), b->hex, bd_err_detail());
		}
	} else if (bd_err_exit_status(rc) == 3) {
		/* Refused bytes are not kept for a next run. */
		if (job_reset(j) != BD_OK)
			rc = BD_ERR_IO;
	} else if (j->trailer && !job_complete(j) && trailer_write(j) !=
	    BD_OK)
		rc = BD_ERR_IO;
	job_progress(j, true);
out:
	job_free(j);
	return rc;
}

enum bd_err
dl_fetch_blob(struct dl *d, const char *const *mirrors, size_t nmirrors,
    int tmpdirfd, const struct dl_blob *b, int *fd, uint64_t *resumed_from)
{
	char name[SHA256_HEX_BYTES + sizeof(DL_PART_SUFFIX)];
	struct stat st;
	enum bd_err rc;
	int pfd;

	*fd = -1;
	*resumed_from = 0;
	snprintf(name, sizeof(name), "%s" DL_PART_SUFFIX, b->hex);
	pfd = openat(tmpdirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (pfd < 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", name, strerror(errno));
		return dl_record(d, DL_FAIL_IO, name, bd_err_detail());
	}
	rc = dl_fetch_part(d, mirrors, nmirrors, pfd, b, resumed_from);
	if (rc == BD_OK) {
		*fd = pfd;
		return BD_OK;
	}
	/* Leave no empty part behind; bytes kept for a resume stay. */
	if (fstat(pfd, &st) == 0 && st.st_size == 0)
		unlinkat(tmpdirfd, name, 0);
	close(pfd);
	return rc;
}

/* ---- one range of a blob into the caller's buffer (client/delta.c) ---- */

static size_t
range_on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct bufxfer *x = arg;
	size_t n = size * nitems;
	long status = 0;

	if (!x->started) {
		x->started = true;
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
		/* a 200 to a Range request is the whole blob: refused */
		x->error_body = status != 206;
	}
	if (x->error_body)
		return 0;
	if (n > x->max - x->len) {
		x->rc = fail_set(&x->fail, DL_FAIL_REFUSED, 0, CURLE_OK,
		    "more than the %zu bytes asked for", x->max);
		return 0;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	return n;
}

enum bd_err
dl_get_range(struct dl *d, const char *url, uint64_t off, size_t len,
    uint8_t *buf)
{
	struct bufxfer x;
	char range[48];
	enum bd_err rc = BD_OK;
	CURLcode cc;
	long status = 0;

	memset(&x, 0, sizeof(x));
	x.curl = d->curl;
	x.buf = buf;
	x.max = len;
	bd_err_clear();
	d->errbuf[0] = '\0';
	if (len == 0)
		return dl_record(d, DL_FAIL_URL, url, "empty range");
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off,
	    (unsigned long long)(off + len - 1));
	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_RANGE, range);
	curl_easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, buf_on_header);
	curl_easy_setopt(d->curl, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, range_on_body);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, d->buf_deadline);
	cc = curl_easy_perform(d->curl);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, 0L);
	curl_easy_setopt(d->curl, CURLOPT_RANGE, NULL);
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x.rc != BD_OK)
		rc = x.rc;
	else if (x.error_body || (cc == CURLE_OK && status != 206))
		rc = fail_set(&x.fail, DL_FAIL_STATUS, status, CURLE_OK,
		    "HTTP status %ld to a Range request", status);
	else if (cc != CURLE_OK)
		rc = curl_failure(cc, d->errbuf, &x.fail);
	else if (!x.resp.cr_valid || x.resp.cr_start != off ||
	    x.resp.cr_end != off + len - 1)
		rc = fail_set(&x.fail, DL_FAIL_REFUSED, 0, CURLE_OK, "the "
		    "answer to Range bytes=%s is not that range", range);
	else if (x.len != len)
		rc = fail_set(&x.fail, DL_FAIL_TRANSPORT, 0, CURLE_OK,
		    "%zu of %zu bytes", x.len, len);
	d->fail = x.fail;
	if (rc != BD_OK)
		dl_record_failure(d, &x.fail, url, bd_err_detail());
	return rc;
}

void *
dl_easy_dup(struct dl *d, long *low_speed_time)
{
	CURL *e = curl_easy_duphandle(d->curl);

	*low_speed_time = d->low_speed_time;
	if (e != NULL && (curl_easy_setopt(e, CURLOPT_SHARE, d->share) !=
	    CURLE_OK || curl_easy_setopt(e, CURLOPT_TIMEOUT, 0L) != CURLE_OK)) {
		curl_easy_cleanup(e);
		e = NULL;
	}
	return e;
}
