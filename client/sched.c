/*
 * sched.c - which source fetches which bytes of a blob.  An idle source
 * takes the first free bytes in file order (a share of them when every
 * mirror is asked at once); when nothing is free it takes the far end of
 * the span with the longest time to go, or all of it from a source that
 * stalled.  A mirror without Range support fetches the whole blob, only
 * when no other takes ranges.
 */
#include "download_impl.h"

#define DL_PIECE_MIN_BYTES	(1ULL << 20)	/* smallest range asked for */
#define DL_STALL_SECONDS	2.0	/* silent this long: its range moves */
#define DL_FLUSH_SECONDS	1.0	/* slow link: write and record this often */

static bool
src_usable(const struct job *j, const struct src *s)
{
	return !src_out(s) && (j->phase != PHASE_SOLE || s->idx == j->sole);
}

/* Usable sources that take ranges; count_slow: stalled ones too. */
static size_t
ranged_sources(const struct job *j, bool count_slow)
{
	size_t i, n = 0;

	for (i = 0; i < j->nsrc; i++)
		if (src_usable(j, &j->src[i]) &&
		    (j->src[i].takes == TAKES_RANGES || (count_slow &&
		    j->src[i].takes == TAKES_RANGES_LAST)))
			n++;
	return n;
}

static double
src_rate(const struct src *s, double now)
{
	return src_busy(s) && now - s->last_byte >= DL_STALL_SECONDS ? 0 :
	    s->rate;
}

/*
 * The source whose span has the longest time to go and that thief t may
 * take from (its span is *span, its time to go *left), or NULL.
 */
static struct src *
steal_victim(struct job *j, const struct src *t, double now, size_t *span,
    double *left)
{
	struct src *v = NULL, *s;
	double vr, l;
	size_t i;

	for (i = 0; i < j->spans.n; i++) {
		const struct span *sp = &j->spans.v[i];

		if (sp->state != SPAN_ACTIVE || (sp->check && sp->prev ==
		    t->idx))
			continue;
		s = &j->src[sp->src];
		if (s->req == REQ_WHOLE || s->end <= s->pos)
			continue;
		vr = src_rate(s, now);
		l = vr > 0 ? (double)(s->end - s->pos) / vr : 1e300;
		if (v == NULL || l > *left) {
			v = s;
			*left = l;
			*span = i;
		}
	}
	return v;
}

/*
 * Takes the far end of the span with the longest time to go for thief t:
 * all of it when its source stalled, else a share by speed, at least
 * DL_PIECE_MIN_BYTES.
 */
static enum bd_err
job_steal(struct job *j, struct src *t)
{
	size_t best = 0;
	double now = now_seconds(), worst = 0, vr, tr;
	struct src *v;
	uint64_t cut;
	enum bd_err rc = BD_OK;

	if ((v = steal_victim(j, t, now, &best, &worst)) == NULL)
		goto out;
	vr = src_rate(v, now);
	if (vr == 0 && now - v->since >= DL_STALL_SECONDS) {
		/* Stalled: its whole remainder moves (next round), its
		 * transfer ends, and it is asked again only as a last
		 * resort. */
		if (v->takes == TAKES_RANGES)
			v->takes = TAKES_RANGES_LAST;
		rc = src_release(j, v);
		goto out;
	}
	tr = t->rate > 0 ? t->rate : vr;
	if (vr == 0 || tr == 0)
		goto out;
	cut = v->pos + (uint64_t)((double)(v->end - v->pos) * vr / (vr + tr));
	/* Not worth it unless t finishes its part well before v would. */
	if (v->end - cut < DL_PIECE_MIN_BYTES || cut <= v->pos ||
	    cut <= j->spans.v[best].start ||
	    (double)(v->end - cut) / tr >= worst * 0.75)
		goto out;
	if (!span_split(&j->spans, best, cut)) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	v->end = cut;
	j->spans.v[best + 1].state = SPAN_FREE;
	j->spans.v[best + 1].origin = ORIGIN_NONE;
	rc = src_request(j, t, best + 1, cut, j->spans.v[best + 1].end, false);
out:
	return rc;
}

/*
 * Gives s, which takes no ranges, the whole blob when no mirror takes
 * ranges and nothing is in flight: the bytes below the hash frontier are
 * kept (dropped as they arrive again), the rest is free again.
 */
static enum bd_err
src_assign_whole(struct job *j, struct src *s, size_t nranged)
{
	struct span rest = { j->hashed, j->b->size, SPAN_FREE, ORIGIN_NONE,
	    ORIGIN_NONE, false, -1 };
	size_t i;
	enum bd_err rc = BD_OK;

	if (nranged > 0 || j->hashed >= j->b->size)
		goto out;
	for (i = 0; i < j->spans.n; i++)
		if (j->spans.v[i].state == SPAN_ACTIVE)
			goto out;
	j->spans.n = 1;
	j->spans.v[0] = (struct span){ 0, j->hashed, SPAN_DONE,
	    ORIGIN_EARLIER, ORIGIN_NONE, false, -1 };
	i = 0;
	if (j->hashed == 0)
		j->spans.v[0].end = j->b->size;
	else if (!span_insert(&j->spans, 1, &rest)) {
		rc = BD_ERR_NOMEM;
		goto out;
	} else
		i = 1;
	rc = src_request(j, s, i, j->hashed, j->b->size, true);
out:
	return rc;
}

/* The first free span s may fill: one it did not serve before a check. */
static size_t
first_free(const struct job *j, const struct src *s)
{
	size_t i;

	for (i = 0; i < j->spans.n; i++) {
		const struct span *sp = &j->spans.v[i];

		if (sp->state == SPAN_FREE && !(sp->check && sp->prev ==
		    s->idx))
			break;
	}
	return i;
}

/*
 * Every mirror at once: free span i keeps only a share of the free bytes
 * (between DL_PIECE_MIN_BYTES and SEGMENT_MIN_BYTES), the rest is split
 * off for the others; false when memory is short.
 */
static bool
share_split(struct job *j, size_t i, size_t nranged)
{
	const struct span *sp = &j->spans.v[i];
	uint64_t len = sp->end - sp->start, share;

	share = span_free_bytes(&j->spans) / (2 * (nranged > 0 ? nranged : 1));
	if (share > SEGMENT_MIN_BYTES)
		share = SEGMENT_MIN_BYTES;
	if (share < DL_PIECE_MIN_BYTES)
		share = DL_PIECE_MIN_BYTES;
	return !(len > share && len - share >= DL_PIECE_MIN_BYTES) ||
	    span_split(&j->spans, i, sp->start + share);
}

/* Gives idle source s work, if there is any it may take. */
static enum bd_err
src_assign(struct job *j, struct src *s, size_t nranged)
{
	size_t i;
	enum bd_err rc;

	if (s->takes == TAKES_WHOLE)
		rc = src_assign_whole(j, s, nranged);
	else if ((i = first_free(j, s)) == j->spans.n)
		rc = j->parallel ? job_steal(j, s) : BD_OK;
	else if (j->parallel && !share_split(j, i, nranged))
		rc = BD_ERR_NOMEM;
	else
		rc = src_request(j, s, i, j->spans.v[i].start,
		    j->spans.v[i].end, false);
	return rc;
}

enum bd_err
job_assign(struct job *j)
{
	size_t i, nranged, busy = 0, nfast;
	enum bd_err rc = BD_OK;

	for (i = 0; i < j->nsrc; i++)
		busy += src_busy(&j->src[i]);
	nranged = ranged_sources(j, true);
	nfast = ranged_sources(j, false);
	for (i = 0; i < j->nsrc && rc == BD_OK; i++) {
		struct src *s = &j->src[i];

		if (src_busy(s) || !src_usable(j, s))
			continue;
		/* A stalled mirror waits unless nothing else is left. */
		if (s->takes == TAKES_RANGES_LAST && nfast > 0)
			continue;
		if (!j->parallel && busy > 0)
			break;
		rc = src_assign(j, s, nranged);
		busy += src_busy(s);
	}
	return rc;
}

enum bd_err
job_tick(struct job *j)
{
	double now = now_seconds(), dt;
	size_t i;
	enum bd_err rc = BD_OK;

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
		for (i = 0; i < j->nsrc && rc == BD_OK; i++)
			rc = src_flush(&j->src[i]);
		if (rc == BD_OK && j->trailer)
			rc = job_trailer_write(j);
	}
	if (rc == BD_OK && now - j->last_progress >= DL_PROGRESS_SECONDS) {
		j->last_progress = now;
		job_progress(j, false);
	}
	return rc;
}

int
next_sole(const struct job *j, int after)
{
	size_t i;

	for (i = (size_t)(after + 1); i < j->nsrc; i++)
		if (!src_out(&j->src[i]))
			break;
	return i < j->nsrc ? (int)i : -1;
}

size_t
usable_count(const struct job *j)
{
	size_t i, n = 0;

	for (i = 0; i < j->nsrc; i++)
		n += !src_out(&j->src[i]);
	return n;
}

