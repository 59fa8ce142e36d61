/*
 * rangefetch.c - ranges of one blob from every mirror at once (see
 * rangefetch.h).
 *
 * A range asked for waits in the pending list until a mirror has a free
 * slot; it then runs on one of the slots (an easy handle, kept from one
 * range to the next so its connection is reused), is judged on its first
 * body byte (a 206 for exactly that range), and once complete waits in its
 * slot until rangefetch_next() gives it back.  A range a mirror failed
 * goes back to the front of the pending list.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "layout.h"
#include "rangefetch.h"

#define RF_SLOTS_MAX		(DL_MAX_MIRRORS * RF_PER_MIRROR)
#define RF_POLL_MS		100
/* The deadline of a request, as download.c's for a blob range: four
 * low-speed windows, plus its length at 16 KiB/s. */
#define RF_DEADLINE_WINDOWS	4L
#define RF_DEADLINE_RATE_BYTES	(16u << 10)

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_READY, SLOT_GIVEN };

/* A range and the mirrors that failed it at the transport level. */
struct rf_range {
	struct chunk_range r;
	uint32_t tried;		/* bit m: mirror m failed it */
};

struct rf_mirror {
	char url[DL_URL_MAX_BYTES];	/* the blob's URL on this mirror */
	bool usable;		/* not dropped, and its URL fits */
	bool failing;		/* its last request failed: a last resort */
	unsigned inflight;
};

struct rf_slot {
	struct rangefetch *rf;
	CURL *easy;
	enum slot_state state;
	struct rf_range rr;
	int mirror;
	uint8_t *buf;		/* rr.r.pack_len bytes */
	size_t got;
	bool started;		/* judged: the first body byte came */
	bool refused;		/* not the range asked for */
	struct dl_response resp;
	char errbuf[CURL_ERROR_SIZE];
	char why[RF_WHY_BYTES];	/* refused: why */
};

struct rangefetch {
	struct rangefetch_opts o;
	struct rangefetch_stats st;
	CURLM *multi;
	long low_speed_time;
	struct rf_mirror mirrors[DL_MAX_MIRRORS];
	struct rf_slot slots[RF_SLOTS_MAX];
	size_t nslots;
	struct rf_range pending[RF_SLOTS_MAX];
	size_t npending;
	size_t outstanding;	/* ranges asked for, not given back */
	uint64_t outstanding_bytes;
	size_t rr;		/* round robin among equal mirrors */
	char where[DL_URL_MAX_BYTES];	/* the last transport failure */
	char detail[RF_WHY_BYTES];
};

static void
why_set(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
why_set(char *dst, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, RF_WHY_BYTES, fmt, ap);
	va_end(ap);
}

enum bd_err
rangefetch_new(const struct rangefetch_opts *o, struct rangefetch **out)
{
	struct rangefetch *rf;
	char rel[LAYOUT_PATH_BYTES];
	size_t i;
	enum bd_err rc = BD_OK;

	*out = NULL;
	if (o->nmirrors > DL_MAX_MIRRORS)
		return bd_fail(BD_ERR_USAGE, "%zu mirrors", o->nmirrors);
	if ((rf = calloc(1, sizeof(*rf))) == NULL ||
	    (rf->multi = curl_multi_init()) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "range fetcher");
		goto out;
	}
	rf->o = *o;
	rf->nslots = o->nmirrors * RF_PER_MIRROR;
	layout_blob_path(o->hex, rel);
	for (i = 0; i < o->nmirrors; i++)
		rf->mirrors[i].usable = snprintf(rf->mirrors[i].url,
		    sizeof(rf->mirrors[i].url), "%s/%s", o->mirrors[i], rel) <
		    (int)sizeof(rf->mirrors[i].url);
	*out = rf;
	rf = NULL;
out:
	rangefetch_free(rf);
	return rc;
}

void
rangefetch_free(struct rangefetch *rf)
{
	size_t i;

	if (rf == NULL)
		return;
	for (i = 0; i < rf->nslots; i++) {
		if (rf->slots[i].easy != NULL) {
			if (rf->slots[i].state == SLOT_BUSY)
				curl_multi_remove_handle(rf->multi,
				    rf->slots[i].easy);
			curl_easy_cleanup(rf->slots[i].easy);
		}
		free(rf->slots[i].buf);
	}
	if (rf->multi != NULL)
		curl_multi_cleanup(rf->multi);
	free(rf);
}

const struct rangefetch_stats *
rangefetch_stats(const struct rangefetch *rf)
{
	return &rf->st;
}

static size_t
usable_mirrors(const struct rangefetch *rf)
{
	size_t i, n = 0;

	for (i = 0; i < rf->o.nmirrors; i++)
		n += rf->mirrors[i].usable;
	return n;
}

/* The range given back last is done with: its slot is free again. */
static void
given_release(struct rangefetch *rf)
{
	size_t k;

	for (k = 0; k < rf->nslots; k++)
		if (rf->slots[k].state == SLOT_GIVEN) {
			rf->outstanding--;
			rf->outstanding_bytes -= rf->slots[k].rr.r.pack_len;
			free(rf->slots[k].buf);
			rf->slots[k].buf = NULL;
			rf->slots[k].state = SLOT_FREE;
		}
}

bool
rangefetch_ask(struct rangefetch *rf, const struct chunk_range *r)
{
	size_t room = usable_mirrors(rf) * RF_PER_MIRROR;

	given_release(rf);
	if (rf->outstanding > 0 && (rf->outstanding >= room ||
	    rf->npending >= RF_SLOTS_MAX ||
	    rf->outstanding_bytes + r->pack_len > RF_BUDGET_BYTES))
		return false;
	rf->pending[rf->npending].r = *r;
	rf->pending[rf->npending].tried = 0;
	rf->npending++;
	rf->outstanding++;
	rf->outstanding_bytes += r->pack_len;
	return true;
}

/* Puts rr back at the front of the pending list (it was asked first). */
static void
pending_push_front(struct rangefetch *rf, const struct rf_range *rr)
{
	memmove(&rf->pending[1], &rf->pending[0],
	    rf->npending * sizeof(rf->pending[0]));
	rf->pending[0] = *rr;
	rf->npending++;
}

static void
pending_remove(struct rangefetch *rf, size_t i)
{
	memmove(&rf->pending[i], &rf->pending[i + 1],
	    (rf->npending - i - 1) * sizeof(rf->pending[0]));
	rf->npending--;
}

/*
 * The mirror to ask for rr: a usable one that has not failed it, with the
 * fewest ranges in flight; one whose last request failed only when no
 * healthy one is left.  -1 and *none when no mirror may ever be asked for
 * it; -1 alone when they are all busy.
 */
static int
mirror_pick(struct rangefetch *rf, const struct rf_range *rr, bool *none)
{
	const struct rf_mirror *m, *best = NULL;
	bool healthy = false;
	size_t k, i;
	int pick = -1;

	*none = true;
	for (k = 0; k < rf->o.nmirrors; k++) {
		i = (rf->rr + k) % rf->o.nmirrors;
		m = &rf->mirrors[i];
		if (!m->usable || (rr->tried & (1u << i)) != 0)
			continue;
		*none = false;
		healthy |= !m->failing;
		if (m->inflight >= RF_PER_MIRROR)
			continue;
		if (best == NULL || (best->failing && !m->failing) ||
		    (best->failing == m->failing &&
		    m->inflight < best->inflight)) {
			best = m;
			pick = (int)i;
		}
	}
	return best != NULL && best->failing && healthy ? -1 : pick;
}

static size_t
slot_on_header(char *data, size_t size, size_t nitems, void *arg)
{
	struct rf_slot *s = arg;

	dl_header_parse(&s->resp, data, size * nitems);
	if (s->resp.cl_conflict) {
		s->refused = true;
		why_set(s->why, "two different Content-Length headers");
		return 0;
	}
	return size * nitems;
}

/* Whether the response is exactly the range asked for (else: why). */
static bool
slot_judge(struct rf_slot *s)
{
	const struct chunk_range *r = &s->rr.r;
	long status = 0;

	s->started = true;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 206) {
		why_set(s->why, "HTTP status %ld to a Range request", status);
		s->refused = true;
	} else if (!s->resp.cr_valid || s->resp.cr_start != r->pack_off ||
	    s->resp.cr_end != r->pack_off + r->pack_len - 1 ||
	    s->resp.cr_total != s->rf->o.size) {
		why_set(s->why, "the answer to Range bytes=%" PRIu64 "-%" PRIu64
		    " is not that range", r->pack_off,
		    r->pack_off + r->pack_len - 1);
		s->refused = true;
	}
	return !s->refused;
}

static size_t
slot_on_body(char *data, size_t size, size_t nitems, void *arg)
{
	struct rf_slot *s = arg;
	size_t n = size * nitems;

	if (!s->started && !slot_judge(s))
		return 0;
	if (s->refused)
		return 0;
	if (n > s->rr.r.pack_len - s->got) {
		why_set(s->why, "more than the %" PRIu64 " bytes asked for",
		    s->rr.r.pack_len);
		s->refused = true;
		return 0;
	}
	memcpy(s->buf + s->got, data, n);
	s->got += n;
	return n;
}

/* Makes slot s's easy handle, the first time it is used. */
static enum bd_err
slot_init(struct rangefetch *rf, struct rf_slot *s)
{
	CURLcode cc = CURLE_OK;

	s->rf = rf;
	if (s->easy != NULL)
		return BD_OK;
	if ((s->easy = dl_easy_dup(rf->o.dl, &rf->low_speed_time)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "libcurl handle");
#define SET(opt, val) do { if (cc == CURLE_OK) \
	cc = curl_easy_setopt(s->easy, opt, val); } while (0)
	SET(CURLOPT_BUFFERSIZE, RF_CURL_BUFFER_BYTES);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_PRIVATE, (char *)s);
	SET(CURLOPT_HEADERFUNCTION, slot_on_header);
	SET(CURLOPT_HEADERDATA, s);
	SET(CURLOPT_WRITEFUNCTION, slot_on_body);
	SET(CURLOPT_WRITEDATA, s);
#undef SET
	if (cc != CURLE_OK)
		return bd_fail(BD_ERR_NOMEM, "libcurl: %s",
		    curl_easy_strerror(cc));
	return BD_OK;
}

/* Starts range rr on mirror m in slot s. */
static enum bd_err
slot_start(struct rangefetch *rf, struct rf_slot *s, const struct rf_range *rr,
    int m)
{
	char range[48];
	const struct chunk_range *r = &rr->r;
	enum bd_err rc;

	if ((rc = slot_init(rf, s)) != BD_OK)
		return rc;
	if ((s->buf = malloc((size_t)r->pack_len)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "a range of %" PRIu64 " bytes",
		    r->pack_len);
	s->rr = *rr;
	s->mirror = m;
	s->got = 0;
	s->started = s->refused = false;
	s->errbuf[0] = s->why[0] = '\0';
	memset(&s->resp, 0, sizeof(s->resp));
	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, r->pack_off,
	    r->pack_off + r->pack_len - 1);
	curl_easy_setopt(s->easy, CURLOPT_URL, rf->mirrors[m].url);
	curl_easy_setopt(s->easy, CURLOPT_RANGE, range);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, rf->low_speed_time *
	    RF_DEADLINE_WINDOWS + (long)(r->pack_len / RF_DEADLINE_RATE_BYTES));
	if (curl_multi_add_handle(rf->multi, s->easy) != CURLM_OK) {
		free(s->buf);
		s->buf = NULL;
		return bd_fail(BD_ERR_NOMEM, "libcurl: cannot add a transfer");
	}
	s->state = SLOT_BUSY;
	rf->mirrors[m].inflight++;
	rf->st.requests++;
	return BD_OK;
}

/*
 * Starts every pending range a mirror has a free slot for.  Sets *lost to
 * the index of a pending range no mirror may be asked for, or leaves it.
 */
static enum bd_err
pending_start(struct rangefetch *rf, size_t *lost)
{
	size_t i = 0, k;
	bool none;
	int m;
	enum bd_err rc;

	while (i < rf->npending) {
		const struct rf_range *rr = &rf->pending[i];

		if ((m = mirror_pick(rf, rr, &none)) < 0 && none) {
			*lost = i;	/* given back before anything moves */
			break;
		}
		if (m < 0) {
			i++;
			continue;
		}
		for (k = 0; k < rf->nslots && rf->slots[k].state != SLOT_FREE;
		    k++)
			;
		if (k == rf->nslots)
			break;
		if ((rc = slot_start(rf, &rf->slots[k], rr, m)) != BD_OK)
			return rc;
		rf->rr = (size_t)m + 1;
		pending_remove(rf, i);
	}
	return BD_OK;
}

/* Ends slot s's transfer; its range goes back to the pending list. */
static void
slot_requeue(struct rangefetch *rf, struct rf_slot *s)
{
	if (s->state == SLOT_BUSY) {
		curl_multi_remove_handle(rf->multi, s->easy);
		rf->mirrors[s->mirror].inflight--;
	}
	free(s->buf);
	s->buf = NULL;
	s->state = SLOT_FREE;
	pending_push_front(rf, &s->rr);
}

/* Mirror m is not asked again: what it has in flight goes to the others. */
static void
mirror_drop(struct rangefetch *rf, int m)
{
	size_t k;

	rf->mirrors[m].usable = false;
	rf->st.refused = true;
	for (k = 0; k < rf->nslots; k++)
		if (rf->slots[k].state == SLOT_BUSY &&
		    rf->slots[k].mirror == m)
			slot_requeue(rf, &rf->slots[k]);
}

bool
rangefetch_drop(struct rangefetch *rf, int source, const char *why)
{
	if (source < 0 || (size_t)source >= rf->o.nmirrors ||
	    !rf->mirrors[source].usable)
		return false;
	why_set(rf->st.why, "%s: %s", rf->o.mirrors[source], why);
	mirror_drop(rf, source);
	return true;
}

/* curl says s's transfer ended with cc: ready, refused or failed. */
static void
slot_done(struct rangefetch *rf, struct rf_slot *s, CURLcode cc)
{
	int m = s->mirror;

	if (!s->started && !s->refused && cc == CURLE_OK)
		slot_judge(s);
	if (s->refused) {
		why_set(rf->st.why, "chunk pack from %s: %s", rf->o.mirrors[m],
		    s->why);
		mirror_drop(rf, m);	/* s's range goes back too */
		return;
	}
	if (cc == CURLE_OK && s->got == s->rr.r.pack_len) {
		curl_multi_remove_handle(rf->multi, s->easy);
		rf->mirrors[m].inflight--;
		rf->mirrors[m].failing = false;
		rf->st.mirror_bytes[m] += s->got;
		rf->st.bytes += s->got;
		s->state = SLOT_READY;
		return;
	}
	snprintf(rf->where, sizeof(rf->where), "%s", rf->mirrors[m].url);
	if (cc != CURLE_OK)
		why_set(rf->detail, "%s", s->errbuf[0] != '\0' ? s->errbuf :
		    curl_easy_strerror(cc));
	else
		why_set(rf->detail, "%zu of %" PRIu64 " bytes", s->got,
		    s->rr.r.pack_len);
	rf->mirrors[m].failing = true;
	s->rr.tried |= 1u << m;
	slot_requeue(rf, s);
}

/* Gives back a range that has arrived, or a pending one lost. */
static bool
give_back(struct rangefetch *rf, size_t lost, struct chunk_range *r,
    const uint8_t **buf, int *source, enum bd_err *rc)
{
	size_t k;

	for (k = 0; k < rf->nslots; k++)
		if (rf->slots[k].state == SLOT_READY) {
			rf->slots[k].state = SLOT_GIVEN;
			*r = rf->slots[k].rr.r;
			*buf = rf->slots[k].buf;
			*source = rf->slots[k].mirror;
			*rc = BD_OK;
			return true;
		}
	if (lost == SIZE_MAX)
		return false;
	*r = rf->pending[lost].r;
	pending_remove(rf, lost);
	rf->outstanding--;
	rf->outstanding_bytes -= r->pack_len;
	*rc = dl_record(rf->o.dl, DL_FAIL_TRANSPORT, rf->where[0] != '\0' ?
	    rf->where : rf->o.hex, rf->detail[0] != '\0' ? rf->detail :
	    "no mirror left to ask");
	return true;
}

enum bd_err
rangefetch_next(struct rangefetch *rf, struct chunk_range *r,
    const uint8_t **buf, int *source)
{
	struct rf_slot *s;
	CURLMsg *msg;
	size_t lost, k, busy;
	int running = 0, left;
	enum bd_err rc = BD_OK;

	*buf = NULL;
	*source = -1;
	given_release(rf);
	for (;;) {
		lost = SIZE_MAX;
		if ((rc = pending_start(rf, &lost)) != BD_OK ||
		    give_back(rf, lost, r, buf, source, &rc))
			break;
		for (busy = 0, k = 0; k < rf->nslots; k++)
			busy += rf->slots[k].state == SLOT_BUSY;
		if (busy == 0) {
			rc = bd_fail(BD_ERR_USAGE, "no range outstanding");
			break;
		}
		curl_multi_perform(rf->multi, &running);
		while ((msg = curl_multi_info_read(rf->multi, &left)) != NULL) {
			s = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			if (s != NULL && s->state == SLOT_BUSY)
				slot_done(rf, s, msg->data.result);
		}
		if (give_back(rf, SIZE_MAX, r, buf, source, &rc))
			break;
		if (running > 0)
			curl_multi_poll(rf->multi, NULL, 0, RF_POLL_MS, NULL);
	}
	return rc;
}
