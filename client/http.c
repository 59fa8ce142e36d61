/*
 * http.c - libcurl for the downloader: the handle (dl_new), failures as
 * data, the response headers a server sends, and the two requests that
 * fill one buffer (dl_get_buf, dl_get_range).  A blob's parallel
 * transfers are client/download.c's.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "download_impl.h"
#include "num.h"

#define DL_BUF_INITIAL_BYTES	(64u << 10)

/* How a one-buffer response goes, judged on its first body byte. */
enum xfer_state {
	XFER_WAITING,		/* no body byte yet */
	XFER_TAKING,		/* the status wanted: the body is taken */
	XFER_ERROR_BODY		/* another status: the body is not */
};

/* Per-request state of dl_get_buf and dl_get_range. */
struct bufxfer {
	CURL *curl;
	long want_status;	/* 200, or 206 for a Range */
	enum xfer_state state;
	enum bd_err rc;		/* a callback aborted: why, and fail */
	struct dl_failure fail;
	size_t error_bytes;
	uint8_t *buf;
	size_t len, cap, max;
	struct dl_response resp;
};

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

enum dl_fail_kind
local_kind(enum bd_err rc)
{
	return rc == BD_ERR_NOMEM ? DL_FAIL_NOMEM : DL_FAIL_IO;
}

enum bd_err
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

enum bd_err
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
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
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

enum bd_err
curl_failure(CURLcode cc, const char *errbuf, struct dl_failure *f)
{
	const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
	enum bd_err rc;

	if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_TOO_MANY_REDIRECTS)
		rc = fail_set(f, DL_FAIL_REFUSED, 0, cc, "refused: %s", why);
	/* libcurl's word for a header line over its limit (100 KiB). */
	else if (cc == CURLE_OUT_OF_MEMORY)
		rc = fail_set(f, DL_FAIL_FRAMING, 0, cc, "the response's "
		    "headers are too large to take in (libcurl: %s)", why);
	else
		rc = fail_set(f, curl_tls(cc) ? DL_FAIL_TLS :
		    DL_FAIL_TRANSPORT, 0, cc, "%s", why);
	return rc;
}

static size_t
buf_on_header(char *data, size_t size, size_t nitems, void *arg)
{
	struct bufxfer *x = arg;
	size_t n = size * nitems;

	dl_header_parse(&x->resp, data, n);
	if (x->resp.cl_conflict) {
		x->rc = fail_set(&x->fail, DL_FAIL_FRAMING, 0, CURLE_OK,
		    "two different Content-Length headers");
		n = 0;
	}
	return n;
}

/*
 * On the first body byte, judges the status: the one x wants, or an
 * error whose body is not taken.  True while the body is taken.
 */
static bool
bufxfer_taking(struct bufxfer *x)
{
	long status = 0;

	if (x->state == XFER_WAITING) {
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
		x->state = status == x->want_status ? XFER_TAKING :
		    XFER_ERROR_BODY;
	}
	return x->state == XFER_TAKING;
}

/* Room for need bytes (and a NUL) in x's buffer, at most x->max. */
static bool
bufxfer_grow(struct bufxfer *x, size_t need)
{
	size_t cap = x->cap == 0 ? DL_BUF_INITIAL_BYTES : x->cap;
	uint8_t *nb;
	bool ok = true;

	if (need > x->cap) {
		while (cap < need)
			cap *= 2;
		if (cap > x->max)
			cap = x->max;
		if ((nb = realloc(x->buf, cap + 1)) == NULL)
			ok = false;
		else {
			x->buf = nb;
			x->cap = cap;
		}
	}
	return ok;
}

static size_t
buf_on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct bufxfer *x = arg;
	size_t n = size * nitems;

	if (!bufxfer_taking(x)) {
		x->error_bytes += n;
		if (x->error_bytes > DL_ERRBODY_MAX_BYTES)
			n = 0;
	} else if (n > x->max - x->len) {
		x->rc = fail_set(&x->fail, DL_FAIL_TOOBIG, 0, CURLE_OK,
		    "response larger than %zu bytes", x->max);
		n = 0;
	} else if (!bufxfer_grow(x, x->len + n)) {
		x->fail.kind = DL_FAIL_NOMEM;
		x->rc = BD_ERR_NOMEM;
		n = 0;
	} else {
		memcpy(x->buf + x->len, data, n);
		x->len += n;
	}
	return n;
}

/*
 * Runs x's request for url, with Range range (NULL: none), within the
 * deadline of a one-buffer request; *status is the HTTP status.
 */
static CURLcode
bufxfer_perform(struct dl *d, struct bufxfer *x, const char *url,
    const char *range, curl_write_callback on_body, long *status)
{
	CURLcode cc;

	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_RANGE, range);
	curl_easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, buf_on_header);
	curl_easy_setopt(d->curl, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, d->buf_deadline);
	cc = curl_easy_perform(d->curl);
	/* blob handles are copies of d->curl: no deadline, no Range */
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT, 0L);
	curl_easy_setopt(d->curl, CURLOPT_RANGE, NULL);
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, status);
	return cc;
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
	x.want_status = 200;
	x.max = max;
	d->fail = x.fail;
	bd_err_clear();
	d->errbuf[0] = '\0';
	cc = bufxfer_perform(d, &x, url, NULL, buf_on_body, &status);
	if (x.rc != BD_OK)
		rc = x.rc;
	else if (cc == CURLE_OPERATION_TIMEDOUT &&
	    x.state != XFER_WAITING)
		rc = fail_set(&x.fail, DL_FAIL_DEADLINE, 0, cc, "not complete "
		    "after %ld s (%zu bytes), the deadline for a response of "
		    "at most %zu bytes", d->buf_deadline, x.len, max);
	else if (cc != CURLE_OK && !(x.state == XFER_ERROR_BODY &&
	    cc == CURLE_WRITE_ERROR))
		rc = curl_failure(cc, d->errbuf, &x.fail);
	else if (x.state == XFER_ERROR_BODY || status != 200)
		rc = fail_set(&x.fail, DL_FAIL_STATUS, status, CURLE_OK,
		    "HTTP status %ld", status);
	else if (x.buf == NULL && (x.buf = malloc(1)) == NULL) {
		x.fail.kind = DL_FAIL_NOMEM;
		rc = BD_ERR_NOMEM;
	}
	if (rc != BD_OK) {
		dl_record_failure(d, &x.fail, url, bd_err_detail());
		free(x.buf);
	} else {
		x.buf[x.len] = '\0';
		*buf = x.buf;
		*len = x.len;
	}
	return rc;
}

/* ---- one range of a blob into the caller's buffer (client/delta.c) ---- */

static size_t
range_on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct bufxfer *x = arg;
	size_t n = size * nitems;

	/* a 200 to a Range request is the whole blob: refused */
	if (!bufxfer_taking(x))
		n = 0;
	else if (n > x->max - x->len) {
		x->rc = fail_set(&x->fail, DL_FAIL_REFUSED, 0, CURLE_OK,
		    "more than the %zu bytes asked for", x->max);
		n = 0;
	} else {
		memcpy(x->buf + x->len, data, n);
		x->len += n;
	}
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
	x.want_status = 206;
	x.buf = buf;
	x.max = len;
	bd_err_clear();
	d->errbuf[0] = '\0';
	if (len == 0) {
		rc = dl_record(d, DL_FAIL_URL, url, "empty range");
		goto out;
	}
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off,
	    (unsigned long long)(off + len - 1));
	cc = bufxfer_perform(d, &x, url, range, range_on_body, &status);
	if (x.rc != BD_OK)
		rc = x.rc;
	else if (x.state == XFER_ERROR_BODY || (cc == CURLE_OK &&
	    status != 206))
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
out:
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
