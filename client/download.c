/*
 * download.c - one blob from every mirror at once.
 *
 * A blob comes through libcurl's multi interface, one connection
 * ("source") per mirror.  The part file is a list of spans (span.c): free,
 * active (one source is filling it) or done; the scheduler (sched.c) says
 * which source asks for which bytes.  A source asks with Range and writes
 * what arrives in place with pwrite(2).  SHA-256 follows the contiguous
 * prefix: bytes arriving at the frontier are hashed as they come, bytes
 * beyond it are read back once the frontier reaches them.
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
 * b->size bytes a trailer (trailer.c) recording which spans were written,
 * so a killed run resumes them; without a trailer only the file's length
 * counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "download_impl.h"
#include "fsutil.h"
#include "layout.h"
#include "trailer.h"

#define DL_REHASH_BYTES		(256u << 10)
#define DL_POLL_MS		100
/* Receive and write buffers of all sources together stay below this. */
#define DL_BUFFER_BUDGET_BYTES	(4u << 20)
#define DL_BUFFER_MIN_BYTES	(64u << 10)
/* Evidence kept per blob: spans of mirrors whose assembly failed. */
#define DL_EVIDENCE_MAX		256

/* One free span, nothing hashed, nothing resumed. */
static enum bd_err
spans_fresh(struct job *j)
{
	uint8_t scratch[SHA256_BYTES];

	sha256_final(j->ctx, scratch);	/* resets the context */
	j->hashed = 0;
	j->resumed = 0;
	j->trailer = false;
	return span_list_reset(&j->spans, j->b->size) ? BD_OK : BD_ERR_NOMEM;
}

/* Everything free again, nothing trusted: the part is emptied. */
static enum bd_err
job_reset(struct job *j)
{
	enum bd_err rc = BD_OK;

	if (spans_fresh(j) != BD_OK)
		rc = BD_ERR_NOMEM;
	else if (ftruncate(j->fd, 0) != 0)
		rc = bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": %s", j->b->hex,
		    strerror(errno));
	return rc;
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

enum bd_err
src_flush(struct src *s)
{
	struct job *j = s->job;
	enum bd_err rc = BD_OK;

	if (s->wlen == 0)
		goto out;
	if (pwrite_all(j->fd, s->wbuf, s->wlen, s->wpos) != BD_OK) {
		rc = part_io_fail(j);
		goto out;
	}
	s->wpos += s->wlen;
	s->wlen = 0;
out:
	return rc;
}

/*
 * Records the written spans in the trailer.  Only flushed bytes are
 * listed; the data was written first.
 */
enum bd_err
job_trailer_write(struct job *j)
{
	struct trailer t;
	uint64_t end;
	size_t i;
	enum bd_err rc;

	t.size = j->b->size;
	t.n = 0;
	for (i = 0; i < j->spans.n && t.n < TRAILER_SPANS_MAX; i++) {
		const struct span *sp = &j->spans.v[i];

		if (sp->state == SPAN_FREE || sp->check)
			continue;
		end = sp->end;
		if (sp->state == SPAN_ACTIVE)
			end = j->src[sp->src].wpos > sp->start ?
			    j->src[sp->src].wpos : sp->start;
		if (end > sp->start)
			trailer_add(&t, sp->start, end);
	}
	if ((rc = trailer_write(j->fd, j->b->hex, &t)) == BD_OK)
		j->trailer = true;
	return rc;
}

/* Feeds the part's bytes [*pos, end) to c, advancing *pos as it reads. */
static enum bd_err
part_hash(struct job *j, struct sha256_ctx *c, uint64_t *pos, uint64_t end)
{
	uint64_t n;
	enum bd_err rc = BD_OK;

	while (rc == BD_OK && *pos < end) {
		n = end - *pos < DL_REHASH_BYTES ? end - *pos : DL_REHASH_BYTES;
		errno = 0;
		if (!pread_all(j->fd, j->scratch, (size_t)n, *pos))
			rc = errno != 0 ? part_io_fail(j) : bd_fail(BD_ERR_IO,
			    "%s" DL_PART_SUFFIX ": shorter than recorded",
			    j->b->hex);
		else {
			sha256_update(c, j->scratch, (size_t)n);
			*pos += n;
		}
	}
	return rc;
}

/*
 * Moves the hash frontier over every done byte after it, reading them
 * back; stops at a free span or at an active source's position (whose
 * next bytes are then hashed as they arrive).
 */
static enum bd_err
hash_catch_up(struct job *j)
{
	uint64_t to;
	bool more = true;
	enum bd_err rc = BD_OK;

	while (rc == BD_OK && more && j->hashed < j->b->size) {
		const struct span *sp =
		    &j->spans.v[span_find(&j->spans, j->hashed)];

		to = sp->end;
		if (sp->state == SPAN_FREE || (sp->state == SPAN_DONE &&
		    sp->check))
			more = false;
		else if (sp->state == SPAN_ACTIVE) {
			struct src *s = &j->src[sp->src];

			if (s->pos <= j->hashed || s->req == REQ_WHOLE)
				more = false;
			else if ((rc = src_flush(s)) == BD_OK)
				to = s->pos;
		}
		if (more && rc == BD_OK)
			rc = part_hash(j, j->ctx, &j->hashed, to);
	}
	return rc;
}

static uint64_t
job_have(const struct job *j)
{
	uint64_t have = 0;
	size_t i;

	for (i = 0; i < j->spans.n; i++) {
		const struct span *sp = &j->spans.v[i];

		if (sp->state == SPAN_DONE && !sp->check)
			have += sp->end - sp->start;
		else if (sp->state == SPAN_ACTIVE) {
			const struct src *s = &j->src[sp->src];
			uint64_t from = s->req == REQ_WHOLE ? s->skip :
			    sp->start;

			if (s->pos > from)
				have += s->pos - from;
		}
	}
	return have;
}

void
job_progress(struct job *j, bool final)
{
	struct dl_progress p;
	size_t i;

	if (j->b->progress == NULL)
		return;
	for (i = 0; i < j->nsrc; i++) {
		j->stats[i].url = j->src[i].url;
		j->stats[i].bytes = j->src[i].bytes;
		j->stats[i].active = src_busy(&j->src[i]);
		j->stats[i].excluded = src_out(&j->src[i]);
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

/*
 * Names a mirror whose bytes were refused; it is not asked again.  When
 * it was the last one, the error line names it instead.
 */
static void
src_condemn(struct job *j, struct src *s, const char *why)
{
	if (s->state == SRC_BAD)
		return;
	s->state = SRC_BAD;
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
		n = 0;
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
	bool go = true;

	s->state = SRC_TAKING;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (s->req != REQ_RANGE) {
		if (status == 206)
			go = src_abort(s, fail_set(&s->fail, DL_FAIL_REFUSED,
			    status, CURLE_OK, "206 for a request without "
			    "Range"));
		else if (status != 200)
			s->state = SRC_ERROR_BODY;
	} else if (status == 200 || (status == 206 && (!s->resp.cr_valid ||
	    s->resp.cr_start != s->req_start ||
	    s->resp.cr_end != s->req_end - 1 ||
	    s->resp.cr_total != j->b->size))) {
		/* Range ignored or answered with other bytes. */
		s->takes = TAKES_WHOLE;
		s->state = SRC_RANGE_REFUSED;
		go = false;
	} else if (status != 206)
		s->state = SRC_ERROR_BODY;
	return go;
}

/* Takes n bytes for offset s->pos: hash, buffer, write. */
static enum bd_err
src_accept(struct src *s, const uint8_t *data, size_t n)
{
	struct job *j = s->job;
	enum bd_err rc = BD_OK;

	if (s->pos == j->hashed) {
		sha256_update(j->ctx, data, n);
		j->hashed += n;
	}
	if (s->wlen > 0 && s->wlen + n > s->wcap && (rc = src_flush(s)) !=
	    BD_OK)
		goto out;
	if (n >= s->wcap) {
		if (pwrite_all(j->fd, data, n, s->pos) != BD_OK) {
			rc = part_io_fail(j);
			goto out;
		}
		s->wpos = s->pos + n;
	} else {
		if (s->wlen == 0)
			s->wpos = s->pos;
		memcpy(s->wbuf + s->wlen, data, n);
		s->wlen += n;
	}
	s->pos += n;
	s->bytes += n;
out:
	return rc;
}

/* A body longer than asked for: the mirror's answer is refused. */
static void
src_overrun(struct src *s)
{
	const struct job *j = s->job;

	if (s->req_start == 0 && s->req_end == j->b->size)
		src_abort(s, fail_set(&s->fail, DL_FAIL_SIZE, 0, CURLE_OK,
		    "server sent more than the manifest's %" PRIu64 " bytes",
		    j->b->size));
	else
		src_abort(s, fail_set(&s->fail, DL_FAIL_SIZE, 0, CURLE_OK,
		    "server sent more than the %" PRIu64 " bytes asked for",
		    s->req_end - s->req_start));
}

/*
 * Takes n body bytes at s->pos up to s->end: dropped below a whole-file
 * request's skip, cut where another source took over.  Returns n, or 0
 * to end the transfer.
 */
static size_t
src_take(struct src *s, const char *data, size_t n)
{
	struct job *j = s->job;
	size_t take, drop = 0;
	enum bd_err rc;

	s->last_byte = now_seconds();
	if (s->req == REQ_WHOLE && s->pos < s->skip) {
		drop = s->skip - s->pos < n ? (size_t)(s->skip - s->pos) : n;
		s->pos += drop;
	}
	take = n - drop;
	if (take > s->req_end - s->pos && s->end == s->req_end) {
		src_overrun(s);
		n = 0;
	} else {
		if (take > s->end - s->pos) {
			take = (size_t)(s->end - s->pos);
			s->state = SRC_CUT;	/* the rest went elsewhere */
		}
		if (take > 0 && (rc = src_accept(s, (const uint8_t *)data +
		    drop, take)) != BD_OK) {
			s->fail.kind = local_kind(rc);
			src_abort(s, rc);
			j->fatal = dl_record(j->d, s->fail.kind, j->b->hex,
			    s->rc_detail);
			n = 0;
		} else if (s->state == SRC_CUT)
			n = 0;
	}
	return n;
}

static size_t
src_on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct src *s = arg;
	size_t n = size * nitems;

	if (s->state == SRC_ASKED && !src_start(s))
		n = 0;
	else if (s->state == SRC_ERROR_BODY) {
		s->error_bytes += n;
		if (s->error_bytes > DL_ERRBODY_MAX_BYTES)
			n = 0;
	} else
		n = src_take(s, data, n);
	return n;
}

enum bd_err
src_request(struct job *j, struct src *s, size_t span, uint64_t start,
    uint64_t end, bool whole)
{
	char range[64];
	struct span *sp = &j->spans.v[span];
	CURLMcode mc;
	enum bd_err rc = BD_OK;

	s->req = whole ? REQ_WHOLE : start == 0 && end == j->b->size ?
	    REQ_ALL : REQ_RANGE;
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
	curl_easy_setopt(s->easy, CURLOPT_RANGE, s->req == REQ_RANGE ? range :
	    NULL);
	s->deadline = j->d->low_speed_time * DL_BUF_DEADLINE_WINDOWS +
	    (long)((end - s->req_start + DL_DEADLINE_RATE_BYTES - 1) /
	    DL_DEADLINE_RATE_BYTES);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, s->deadline);
	s->since = s->last_byte = now_seconds();
	if ((mc = curl_multi_add_handle(j->d->multi, s->easy)) != CURLM_OK)
		rc = bd_fail(BD_ERR_NOMEM, "libcurl: %s",
		    curl_multi_strerror(mc));
	else
		s->state = SRC_ASKED;
	return rc;
}

enum bd_err
src_release(struct job *j, struct src *s)
{
	size_t i;
	uint64_t filled;
	enum bd_err rc = src_flush(s);

	curl_multi_remove_handle(j->d->multi, s->easy);
	if (src_busy(s))
		s->state = SRC_IDLE;
	if (!span_of_src(&j->spans, s->idx, &i))
		goto out;
	filled = s->pos;
	if (s->req == REQ_WHOLE && filled < s->skip)
		filled = s->skip;
	if (filled < j->spans.v[i].start)
		filled = j->spans.v[i].start;
	if (filled > j->spans.v[i].end)
		filled = j->spans.v[i].end;
	if (filled < j->spans.v[i].end) {
		if (!span_split(&j->spans, i, filled)) {
			rc = BD_ERR_NOMEM;
			goto out;
		}
		j->spans.v[i + 1].state = SPAN_FREE;
		j->spans.v[i + 1].origin = ORIGIN_NONE;
	}
	j->spans.v[i].state = SPAN_DONE;
	j->spans.v[i].check = false;
	j->spans.v[i].prev = ORIGIN_NONE;
	j->spans.v[i].origin = s->idx;
	span_tidy(&j->spans);
out:
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
	} else if (s->state == SRC_CUT || s->state == SRC_RANGE_REFUSED)
		rc = BD_OK;
	else if (cc == CURLE_OPERATION_TIMEDOUT &&
	    now_seconds() - s->since >= (double)s->deadline - 0.5)
		rc = fail_set(&f, DL_FAIL_DEADLINE, 0, cc, "not complete after "
		    "%ld s (%" PRIu64 " of %" PRIu64 " bytes), the deadline "
		    "for %" PRIu64 " bytes at %ld KiB/s on average",
		    s->deadline,
		    s->pos - s->req_start, s->req_end - s->req_start,
		    s->req_end - s->req_start, DL_DEADLINE_RATE_BYTES / 1024);
	else if (cc != CURLE_OK && !(s->state == SRC_ERROR_BODY &&
	    cc == CURLE_WRITE_ERROR))
		rc = curl_failure(cc, s->errbuf, &f);
	else if (s->state == SRC_ERROR_BODY || (status != 200 &&
	    status != 206))
		rc = fail_set(&f, DL_FAIL_STATUS, status, CURLE_OK,
		    "HTTP status %ld", status);
	else if (s->pos < s->end)
		rc = fail_set(&f, DL_FAIL_SIZE, 0, CURLE_OK, "%s: server sent %"
		    PRIu64 " of %" PRIu64 " bytes", j->b->name,
		    s->pos - s->req_start, s->req_end - s->req_start);
	if (rc != BD_OK && j->fatal == BD_OK) {
		s->state = f.kind == DL_FAIL_SIZE ? SRC_BAD : SRC_DEAD;
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

static bool
job_complete(const struct job *j)
{
	return span_list_complete(&j->spans);
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

/*
 * Nothing in flight: every byte is there and hashed, or no mirror is
 * left to ask (the last failure, or BD_ERR_NETWORK).
 */
static enum bd_err
job_idle(struct job *j)
{
	enum bd_err rc;

	span_tidy(&j->spans);
	if ((rc = hash_catch_up(j)) == BD_OK && !job_complete(j)) {
		if (j->last_rc == BD_OK) {
			bd_fail(BD_ERR_NETWORK, "no mirror left to ask");
			j->last_rc = dl_record(j->d, DL_FAIL_TRANSPORT,
			    j->b->name, bd_err_detail());
		}
		rc = j->last_rc;
	}
	return rc;
}

/*
 * One turn of the transfers: ends those curl finished and those cut
 * short, hashes, ticks, and waits for the next bytes.
 */
static enum bd_err
job_turn(struct job *j)
{
	CURLMsg *msg;
	int running, left;
	size_t i;
	enum bd_err rc;

	curl_multi_perform(j->d->multi, &running);
	while ((msg = curl_multi_info_read(j->d->multi, &left)) != NULL) {
		struct src *s = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&s);
		if (s != NULL && src_busy(s))
			src_done(j, s, msg->data.result);
	}
	if ((rc = j->fatal) != BD_OK)
		goto out;
	for (i = 0; i < j->nsrc; i++)
		if (j->src[i].state == SRC_CUT &&
		    j->src[i].pos >= j->src[i].end)
			src_release(j, &j->src[i]);
	if ((rc = hash_catch_up(j)) == BD_OK && (rc = job_tick(j)) == BD_OK &&
	    running > 0)
		curl_multi_poll(j->d->multi, NULL, 0, DL_POLL_MS, NULL);
out:
	return rc;
}

static enum bd_err
job_run_(struct job *j)
{
	size_t i, busy = 1;
	enum bd_err rc = BD_OK;

	while (rc == BD_OK && busy > 0) {
		if ((rc = job_assign(j)) != BD_OK)
			continue;
		for (busy = 0, i = 0; i < j->nsrc; i++)
			busy += src_busy(&j->src[i]);
		rc = busy == 0 ? job_idle(j) : job_turn(j);
	}
	return rc;
}

/* Every byte is there and hashed: does it match? */
static enum bd_err
job_verify(struct job *j)
{
	struct sha256_ctx *c = NULL;
	uint8_t got[SHA256_BYTES];
	char hex[SHA256_HEX_BYTES];
	enum bd_err rc = BD_OK;

	if (j->hashed != j->b->size)
		rc = bd_fail(BD_ERR_IO, "%s: hashed %" PRIu64 " of %" PRIu64
		    " bytes", j->b->name, j->hashed, j->b->size);
	else if ((c = sha256_dup(j->ctx)) == NULL)
		rc = BD_ERR_NOMEM;
	else {
		sha256_final(c, got);
		if (sodium_memcmp(got, j->b->sha256, SHA256_BYTES) != 0) {
			sha256_hex(got, hex);
			rc = bd_fail(BD_ERR_HASH, "%s: got sha256 %s, manifest "
			    "says %s", j->b->name, hex, j->b->hex);
		}
	}
	sha256_free(c);
	return rc;
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
	for (i = 0; i < j->spans.n; i++) {
		int o = j->spans.v[i].origin;

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
	enum bd_err rc;

	if ((c = sha256_new()) == NULL)
		rc = BD_ERR_NOMEM;
	else if ((rc = part_hash(j, c, &start, end)) == BD_OK)
		sha256_final(c, out);
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
	enum bd_err rc = BD_OK;

	if (j->ev == NULL &&
	    (j->ev = calloc(DL_EVIDENCE_MAX, sizeof(*j->ev))) == NULL)
		rc = BD_ERR_NOMEM;
	for (i = 0; rc == BD_OK && i < j->spans.n &&
	    j->nev < DL_EVIDENCE_MAX; i++) {
		const struct span *sp = &j->spans.v[i];
		struct evidence *e = &j->ev[j->nev];

		if (sp->state != SPAN_DONE || sp->check || sp->origin < 0)
			continue;
		e->origin = sp->origin;
		e->start = sp->start;
		e->end = sp->end;
		if ((rc = part_range_hash(j, sp->start, sp->end,
		    e->sha256)) == BD_OK)
			j->nev++;
	}
	return rc;
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
	enum bd_err rc = BD_OK;

	for (i = 0; rc == BD_OK && i < j->nev; i++) {
		const struct evidence *e = &j->ev[i];

		s = &j->src[e->origin];
		if (s->state == SRC_BAD)
			continue;
		if ((rc = part_range_hash(j, e->start, e->end, got)) != BD_OK ||
		    sodium_memcmp(got, e->sha256, SHA256_BYTES) == 0)
			continue;
		s->state = SRC_BAD;
		snprintf(why, sizeof(why), "sent bytes %" PRIu64 "-%" PRIu64
		    " other than those of the artifact that verified",
		    e->start, e->end - 1);
		if (j->b->warn != NULL)
			j->b->warn(j->b->progress_ctx, s->url, why);
	}
	return rc;
}

/* The check pass: every span again, from a mirror that did not serve it. */
static void
job_check_setup(struct job *j)
{
	uint8_t scratch[SHA256_BYTES];
	size_t i;

	sha256_final(j->ctx, scratch);
	j->hashed = 0;
	for (i = 0; i < j->spans.n; i++) {
		j->spans.v[i].prev = j->spans.v[i].origin;
		j->spans.v[i].origin = ORIGIN_NONE;
		j->spans.v[i].state = SPAN_FREE;
		j->spans.v[i].check = true;
	}
	j->trailer = true;
	j->phase = PHASE_CHECK;
}

/*
 * Downloads until the hash matches, deciding after each refusal whose
 * bytes to distrust.  See the top of the file.
 */
/*
 * A round failed other than by the hash (stuck in a check, or the one
 * mirror failed): the next mirror alone, *again, unless it was a local
 * failure or no mirror is left.
 */
static enum bd_err
job_after_failure(struct job *j, enum bd_err rc, bool *again)
{
	if (j->phase == PHASE_NORMAL || j->fatal != BD_OK ||
	    rc == BD_ERR_NOMEM || bd_err_exit_status(rc) == 4)
		goto out;
	j->sole = next_sole(j, j->phase == PHASE_SOLE ? j->sole : -1);
	j->phase = PHASE_SOLE;
	if (j->sole < 0)
		rc = j->last_rc;
	else if ((rc = job_reset(j)) == BD_OK)
		*again = true;
out:
	return rc;
}

/*
 * The hash refused the bytes: decides whose bytes to distrust and how
 * to go on (*again), keeping evidence when several mirrors wrote them.
 */
static enum bd_err
job_after_refusal(struct job *j, bool *retried, bool *again)
{
	char why[DL_DETAIL_BYTES];
	bool earlier;
	int one;
	size_t n = job_origins(j, &one, &earlier);
	enum bd_err rc = BD_OK;

	snprintf(why, sizeof(why), "%s", bd_err_detail());
	if (j->phase != PHASE_SOLE && (n > 1 || earlier) &&
	    (rc = evidence_collect(j)) != BD_OK)
		goto out;
	if (j->phase == PHASE_SOLE) {
		src_condemn(j, &j->src[j->sole], why);
		if ((j->sole = next_sole(j, j->sole)) < 0) {
			rc = BD_ERR_HASH;
			goto out;
		}
	} else if (earlier && !*retried) {
		/* Bytes of an earlier run: start over once. */
		*retried = true;
	} else if (n == 1 && j->phase == PHASE_NORMAL) {
		src_condemn(j, &j->src[one], why);
	} else if (j->phase == PHASE_NORMAL && n > 1) {
		job_check_setup(j);
		*again = true;
		goto out;
	} else {
		j->phase = PHASE_SOLE;
		if ((j->sole = next_sole(j, -1)) < 0) {
			rc = dl_record(j->d, DL_FAIL_HASH, j->b->name, why);
			goto out;
		}
	}
	if (usable_count(j) == 0)
		rc = j->last_rc != BD_OK ? j->last_rc : BD_ERR_HASH;
	else if ((rc = job_reset(j)) == BD_OK)
		*again = true;
out:
	return rc;
}

/* One round of transfers and its verdict; *again: another round. */
static enum bd_err
job_round(struct job *j, bool *retried, bool *again)
{
	enum bd_err rc = BD_OK;

	*again = false;
	j->parallel = j->phase != PHASE_SOLE &&
	    j->b->size > SEGMENT_MIN_BYTES && usable_count(j) > 1;
	if ((j->parallel || j->trailer) && !job_complete(j) &&
	    (rc = job_trailer_write(j)) != BD_OK)
		goto out;
	rc = job_run(j);
	if (rc == BD_OK)
		rc = job_verify(j);
	if (rc == BD_OK)
		rc = evidence_judge(j);
	else if (rc != BD_ERR_HASH)
		rc = job_after_failure(j, rc, again);
	else
		rc = job_after_refusal(j, retried, again);
out:
	return rc;
}

static enum bd_err
job_download(struct job *j)
{
	bool retried = false, again;
	enum bd_err rc = BD_OK;

	again = !(job_complete(j) && hash_catch_up(j) == BD_OK &&
	    job_verify(j) == BD_OK);
	while (again)
		rc = job_round(j, &retried, &again);
	return rc;
}

/* The curl handle of one mirror, set up from the manifest's template. */
static enum bd_err
src_init(struct job *j, struct src *s, int idx, const char *mirror,
    size_t bufbytes)
{
	CURLcode cc = CURLE_OK;
	char rel[LAYOUT_PATH_BYTES];
	enum bd_err rc = BD_OK;

	s->job = j;
	s->idx = idx;
	snprintf(s->url, sizeof(s->url), "%s", mirror);
	layout_blob_path(j->b->hex, rel);
	if (strlen(mirror) + 1 + strlen(rel) >= sizeof(s->blob_url)) {
		s->state = SRC_DEAD;
		j->last_rc = dl_record(j->d, DL_FAIL_URL, mirror,
		    "URL too long");
		goto out;
	}
	if ((s->easy = curl_easy_duphandle(j->d->curl)) == NULL ||
	    (s->wbuf = malloc(bufbytes)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
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
		rc = bd_fail(BD_ERR_NOMEM, "libcurl: %s",
		    curl_easy_strerror(cc));
out:
	return rc;
}

static void
job_free(struct job *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->nsrc; i++) {
		if (j->src[i].easy != NULL) {
			if (src_busy(&j->src[i]))
				curl_multi_remove_handle(j->d->multi,
				    j->src[i].easy);
			curl_easy_cleanup(j->src[i].easy);
		}
		free(j->src[i].wbuf);
	}
	sha256_free(j->ctx);
	free(j->ev);
	free(j->scratch);
	span_list_free(&j->spans);
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
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
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
	if ((rc = part_load(fd, b->hex, b->size, &j->spans, &j->resumed,
	    &j->trailer)) != BD_OK ||
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
		if (src_busy(&j->src[i]))
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
	} else if (j->trailer && !job_complete(j) && job_trailer_write(j) !=
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
		bd_fail(BD_ERR_IO, "%s: %s", name, strerror(errno));
		rc = dl_record(d, DL_FAIL_IO, name, bd_err_detail());
	} else if ((rc = dl_fetch_part(d, mirrors, nmirrors, pfd, b,
	    resumed_from)) == BD_OK)
		*fd = pfd;
	else {
		/* Leave no empty part behind; bytes kept for a resume stay. */
		if (fstat(pfd, &st) == 0 && st.st_size == 0)
			unlinkat(tmpdirfd, name, 0);
		close(pfd);
	}
	return rc;
}

