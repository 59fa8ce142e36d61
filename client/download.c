/*
 * download.c - the fetch client's only user of libcurl.
 *
 * One easy handle carries every request so connections are reused.  The
 * write callback is where the untrusted bytes arrive: it decides, on the
 * first body byte, whether the response is the one asked for (200, or 206
 * with the exact Content-Range of a resume), then caps, hashes and writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#define DL_ERRBODY_MAX_BYTES	(64u << 10)	/* error bodies we swallow */
#define DL_BUF_INITIAL_BYTES	(64u << 10)
#define DL_LOW_SPEED_BYTES	1024L
#define DL_WHERE_BYTES		(DL_URL_MAX_BYTES + 64)
#define DL_DETAIL_BYTES		512
#define DL_REHASH_BYTES		(256u << 10)
#define DL_WRITE_BYTES		(512u << 10)
#define DL_FLUSH_SECONDS	1

/*
 * A .part file: its descriptor, bytes received (written or still in the
 * write buffer), and the hash over them.  curl hands the write callback
 * 16 KiB at a time; collecting DL_WRITE_BYTES before each write(2) cuts
 * the system calls 32-fold.  On a slow link the buffer is still written
 * every DL_FLUSH_SECONDS, so a killed run leaves its progress to resume.
 */
struct part {
	int fd;
	uint64_t have;
	struct sha256_ctx *ctx;
	uint8_t *wbuf;
	size_t wlen;
	time_t flushed;		/* CLOCK_MONOTONIC seconds of the last write */
	char name[SHA256_HEX_BYTES + 8];
};

enum sink { SINK_BUF, SINK_PART };

/* Per-request state shared by the header and write callbacks. */
struct xfer {
	enum sink sink;
	CURL *curl;
	enum bd_err rc;		/* set by a callback that aborted */
	bool restart;		/* resume impossible: start over from 0 */
	bool started;		/* first body byte seen and judged */
	bool error_body;	/* swallowing the body of an error status */
	size_t error_bytes;
	long status;
	uint64_t range_from;	/* Range asked for, 0 = none */
	bool cr_valid;		/* Content-Range parsed for this response */
	uint64_t cr_start, cr_end, cr_total;
	/* SINK_BUF */
	uint8_t *buf;
	size_t len, cap, max;
	/* SINK_PART */
	struct part *part;
	const struct dl_blob *blob;
};

struct dl {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char where[DL_WHERE_BYTES];
	char detail[DL_DETAIL_BYTES];
};

/* Remembers where and why the current request failed. */
static enum bd_err
dl_record(struct dl *d, enum bd_err rc, const char *where)
{
	const char *p;
	size_t i;

	snprintf(d->where, sizeof(d->where), "%s", where);
	snprintf(d->detail, sizeof(d->detail), "%s", bd_err_detail());
	for (i = 0, p = d->where; p[i] != '\0'; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			d->where[i] = '?';
	return rc;
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
	if ((d->curl = curl_easy_init()) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "curl_easy_init failed");
		goto out;
	}
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
	SET(CURLOPT_ERRORBUFFER, d->errbuf);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->cacert != NULL)
		SET(CURLOPT_CAINFO, o->cacert);
#undef SET
	if (cc != CURLE_OK) {
		rc = bd_fail(BD_ERR_USAGE, "libcurl: %s", curl_easy_strerror(cc));
		goto out;
	}
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
	if (d->curl != NULL)
		curl_easy_cleanup(d->curl);
	free(d);
}

/* Parses "bytes START-END/TOTAL" (value starts after the colon). */
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
	    v[n - 1] == ' '))
		n--;
	if (n >= sizeof(tmp) || n < 6 || strncasecmp(v, "bytes ", 6) != 0)
		return false;
	memcpy(tmp, v + 6, n - 6);
	tmp[n - 6] = '\0';
	p = tmp;
	for (i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return false;
		errno = 0;
		vals[i] = strtoull(p, &e, 10);
		if (errno != 0 || *e != seps[i])
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

static size_t
on_header(char *data, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems;
	static const char cr[] = "content-range:";

	/* A new status line starts a new response (redirects, 100). */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		x->cr_valid = false;
	else if (n > sizeof(cr) - 1 && strncasecmp(data, cr, sizeof(cr) - 1)
	    == 0)
		x->cr_valid = content_range_parse(data + sizeof(cr) - 1,
		    n - (sizeof(cr) - 1), &x->cr_start, &x->cr_end,
		    &x->cr_total);
	return n;
}

/* Writes out what the write buffer holds. */
static enum bd_err
part_flush(struct part *p)
{
	struct timespec ts;
	enum bd_err rc;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	p->flushed = ts.tv_sec;
	if (p->wlen == 0)
		return BD_OK;
	rc = write_all(p->fd, p->wbuf, p->wlen);
	p->wlen = 0;
	if (rc != BD_OK)
		return bd_fail(BD_ERR_IO, "%s: %s", p->name, bd_err_detail());
	return BD_OK;
}

/* Appends received bytes to the part, through the write buffer. */
static enum bd_err
part_append(struct part *p, const void *data, size_t n)
{
	struct timespec ts;
	enum bd_err rc;

	if (p->wlen + n > DL_WRITE_BYTES && (rc = part_flush(p)) != BD_OK)
		return rc;
	if (n >= DL_WRITE_BYTES) {
		if ((rc = write_all(p->fd, data, n)) != BD_OK)
			return bd_fail(BD_ERR_IO, "%s: %s", p->name,
			    bd_err_detail());
		return BD_OK;
	}
	memcpy(p->wbuf + p->wlen, data, n);
	p->wlen += n;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec - p->flushed >= DL_FLUSH_SECONDS)
		return part_flush(p);
	return BD_OK;
}

/* Throws away what a .part holds (bytes that cannot be trusted). */
static enum bd_err
part_reset(struct part *p)
{
	uint8_t scratch[SHA256_BYTES];

	sha256_final(p->ctx, scratch);	/* resets the context */
	p->have = 0;
	p->wlen = 0;
	if (ftruncate(p->fd, 0) != 0 || lseek(p->fd, 0, SEEK_SET) != 0)
		return bd_fail(BD_ERR_IO, "%s: %s", p->name, strerror(errno));
	return BD_OK;
}

/* Judges the response on its first body byte; false aborts the transfer. */
static bool
xfer_start(struct xfer *x)
{
	long status = 0;

	x->started = true;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	x->status = status;
	if (status == 200) {
		if (x->sink == SINK_PART && x->part->have > 0 &&
		    (x->rc = part_reset(x->part)) != BD_OK)
			return false;
		return true;
	}
	if (status == 206 && x->sink == SINK_PART && x->range_from > 0) {
		if (!x->cr_valid || x->cr_start != x->range_from ||
		    x->cr_total != x->blob->size ||
		    x->cr_end != x->blob->size - 1) {
			x->restart = true;
			return false;
		}
		return true;
	}
	if (status == 416 && x->sink == SINK_PART && x->range_from > 0) {
		x->restart = true;
		return false;
	}
	x->error_body = true;
	return true;
}

static size_t
on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems;

	if (!x->started && !xfer_start(x))
		return 0;
	if (x->error_body) {
		x->error_bytes += n;
		return x->error_bytes > DL_ERRBODY_MAX_BYTES ? 0 : n;
	}
	if (x->sink == SINK_BUF) {
		if (n > x->max - x->len) {
			x->rc = bd_fail(BD_ERR_TOOBIG,
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
	if (n > x->blob->size - x->part->have) {
		x->rc = bd_fail(BD_ERR_SIZE, "server sent more than the "
		    "manifest's %" PRIu64 " bytes", x->blob->size);
		return 0;
	}
	sha256_update(x->part->ctx, data, n);
	if ((x->rc = part_append(x->part, data, n)) != BD_OK)
		return 0;
	x->part->have += n;
	if (x->blob->progress != NULL)
		x->blob->progress(x->blob->progress_ctx, x->part->have,
		    x->blob->size);
	return n;
}

/*
 * Performs one GET of url into x's sink.  Returns BD_OK for a complete 200
 * or 206 response; the callbacks' verdict, BD_ERR_NETWORK or BD_ERR_HTTP
 * otherwise (x->restart set when a resume must start over).
 */
static enum bd_err
xfer_run(struct dl *d, struct xfer *x, const char *url)
{
	char range[48];
	CURLcode cc;
	long status = 0;

	x->curl = d->curl;
	d->errbuf[0] = '\0';
	if (x->range_from > 0)
		snprintf(range, sizeof(range), "%" PRIu64 "-", x->range_from);
	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_RANGE,
	    x->range_from > 0 ? range : NULL);
	curl_easy_setopt(d->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(d->curl, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, x);
	cc = curl_easy_perform(d->curl);
	if (x->rc != BD_OK || x->restart)
		return x->rc;
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK && !(x->error_body && cc == CURLE_WRITE_ERROR)) {
		const char *why = d->errbuf[0] != '\0' ? d->errbuf :
		    curl_easy_strerror(cc);

		if (cc == CURLE_UNSUPPORTED_PROTOCOL ||
		    cc == CURLE_TOO_MANY_REDIRECTS)
			return bd_fail(BD_ERR_HTTP, "refused: %s", why);
		return bd_fail(BD_ERR_NETWORK, "%s", why);
	}
	if (!x->started && status == 416 && x->range_from > 0) {
		x->restart = true;
		return BD_OK;
	}
	if (x->error_body || (status != 200 && status != 206)) {
		return bd_fail(BD_ERR_HTTP, "HTTP status %ld", status);
	}
	if (!x->started && status == 206) {
		/* 206 with an empty body: nothing judged, nothing usable. */
		x->restart = x->range_from > 0;
		return x->restart ? BD_OK :
		    bd_fail(BD_ERR_HTTP, "unexpected 206");
	}
	return BD_OK;
}

enum bd_err
dl_get_buf(struct dl *d, const char *url, size_t max, uint8_t **buf,
    size_t *len)
{
	struct xfer x;
	enum bd_err rc;

	*buf = NULL;
	*len = 0;
	memset(&x, 0, sizeof(x));
	x.sink = SINK_BUF;
	x.max = max;
	bd_err_clear();
	if ((rc = xfer_run(d, &x, url)) != BD_OK)
		goto out;
	if (x.buf == NULL && (x.buf = malloc(1)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	x.buf[x.len] = '\0';
	*buf = x.buf;
	*len = x.len;
	x.buf = NULL;
out:
	if (rc != BD_OK)
		dl_record(d, rc, url);
	free(x.buf);
	return rc;
}

/*
 * Opens (creating) tmpdirfd/<hex>.part and hashes what it holds; a file
 * longer than the blob is emptied.
 */
static enum bd_err
part_open(int tmpdirfd, const struct dl_blob *b, struct part *p)
{
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	enum bd_err rc = BD_OK;

	p->have = 0;
	snprintf(p->name, sizeof(p->name), "%s" DL_PART_SUFFIX, b->hex);
	if ((p->ctx = sha256_new()) == NULL ||
	    (p->wbuf = malloc(DL_WRITE_BYTES)) == NULL)
		return BD_ERR_NOMEM;
	p->fd = openat(tmpdirfd, p->name, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (p->fd < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", p->name, strerror(errno));
	if (fstat(p->fd, &st) != 0)
		return bd_fail(BD_ERR_IO, "%s: %s", p->name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bd_fail(BD_ERR_IO, "%s: not a regular file", p->name);
	if ((uint64_t)st.st_size > b->size)
		return part_reset(p);
	if ((buf = malloc(DL_REHASH_BYTES)) == NULL)
		return BD_ERR_NOMEM;
	for (;;) {
		n = read(p->fd, buf, DL_REHASH_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bd_fail(BD_ERR_IO, "%s: %s", p->name,
			    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > b->size - p->have) {
			rc = part_reset(p);	/* grew under us */
			break;
		}
		sha256_update(p->ctx, buf, (size_t)n);
		p->have += (uint64_t)n;
	}
	free(buf);
	return rc;
}

/* Finishes the hash of a complete .part: BD_ERR_HASH when it differs. */
static enum bd_err
part_verify(struct part *p, const struct dl_blob *b)
{
	struct sha256_ctx *c;
	uint8_t got[SHA256_BYTES];
	char hex[SHA256_HEX_BYTES];

	if ((c = sha256_dup(p->ctx)) == NULL)
		return BD_ERR_NOMEM;
	sha256_final(c, got);
	sha256_free(c);
	if (sodium_memcmp(got, b->sha256, SHA256_BYTES) != 0) {
		sha256_hex(got, hex);
		return bd_fail(BD_ERR_HASH, "%s: got sha256 %s, manifest says "
		    "%s", b->name, hex, b->hex);
	}
	return BD_OK;
}

/*
 * One mirror: GET (resuming when the .part has bytes), then verify size
 * and hash.  A resume the server cannot honour, or whose result does not
 * verify, starts over from 0 once on the same mirror.
 */
static enum bd_err
blob_try(struct dl *d, const char *url, struct part *p,
    const struct dl_blob *b)
{
	struct xfer x;
	int attempt;
	bool resumed;
	enum bd_err rc = BD_OK;

	for (attempt = 0; attempt < 2; attempt++) {
		resumed = p->have > 0;
		memset(&x, 0, sizeof(x));
		x.sink = SINK_PART;
		x.part = p;
		x.blob = b;
		x.range_from = p->have;
		if (p->have < b->size) {
			bd_err_clear();
			rc = xfer_run(d, &x, url);
			if (rc != BD_ERR_IO && part_flush(p) != BD_OK)
				rc = BD_ERR_IO;
			if (x.restart) {
				if ((rc = part_reset(p)) != BD_OK)
					return rc;
				continue;
			}
			if (rc == BD_ERR_SIZE || rc == BD_ERR_HTTP) {
				enum bd_err rc2 = part_reset(p);

				return rc2 != BD_OK ? rc2 : rc;
			}
			if (rc != BD_OK)
				return rc;	/* network: keep for resume */
			if (p->have < b->size) {
				rc = bd_fail(BD_ERR_SIZE, "%s: server sent %"
				    PRIu64 " of %" PRIu64 " bytes", b->name,
				    p->have, b->size);
				return part_reset(p) != BD_OK ? BD_ERR_IO : rc;
			}
		}
		if ((rc = part_verify(p, b)) == BD_OK)
			return BD_OK;
		if (rc != BD_ERR_HASH)
			return rc;
		{
			enum bd_err rc2 = part_reset(p);

			if (rc2 != BD_OK)
				return rc2;
		}
		if (!resumed)
			return rc;
	}
	return rc;
}

enum bd_err
dl_fetch_blob(struct dl *d, const char *const *mirrors, size_t nmirrors,
    int tmpdirfd, const struct dl_blob *b, int *fd, uint64_t *resumed_from)
{
	struct part p = { .fd = -1 };
	char url[DL_URL_MAX_BYTES], rel[LAYOUT_PATH_BYTES];
	size_t i;
	enum bd_err rc;

	*fd = -1;
	*resumed_from = 0;
	bd_err_clear();
	if ((rc = part_open(tmpdirfd, b, &p)) != BD_OK) {
		dl_record(d, rc, p.name);
		goto out;
	}
	*resumed_from = p.have;
	layout_blob_path(b->hex, rel);
	rc = BD_ERR_NETWORK;
	for (i = 0; i < nmirrors; i++) {
		if (snprintf(url, sizeof(url), "%s/%s", mirrors[i], rel) >=
		    (int)sizeof(url)) {
			rc = dl_record(d, bd_fail(BD_ERR_USAGE, "URL too long"),
			    mirrors[i]);
			continue;
		}
		rc = blob_try(d, url, &p, b);
		if (rc == BD_OK)
			break;
		dl_record(d, rc, rc == BD_ERR_IO ? p.name : url);
		if (rc == BD_ERR_IO || rc == BD_ERR_NOMEM)
			break;
	}
out:
	if (rc == BD_OK) {
		*fd = p.fd;
		p.fd = -1;
	} else if (p.fd >= 0 && p.have == 0) {
		/*
		 * Bytes that failed verification were already thrown away;
		 * leave no empty .part behind.  Bytes from a network failure
		 * stay for the next run to resume.
		 */
		unlinkat(tmpdirfd, p.name, 0);
	}
	if (p.fd >= 0)
		close(p.fd);
	sha256_free(p.ctx);
	free(p.wbuf);
	return rc;
}
