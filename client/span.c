/*
 * span.c - the part file's span list (span.h).
 */
#include <stdlib.h>
#include <string.h>

#include "span.h"

void
span_list_free(struct span_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

bool
span_insert(struct span_list *l, size_t i, const struct span *s)
{
	struct span *ns;
	size_t cap;
	bool ok = true;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		if ((ns = realloc(l->v, cap * sizeof(*ns))) == NULL)
			ok = false;
		else {
			l->v = ns;
			l->cap = cap;
		}
	}
	if (ok) {
		memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(*l->v));
		l->v[i] = *s;
		l->n++;
	}
	return ok;
}

void
span_remove(struct span_list *l, size_t i)
{
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
	l->n--;
}

bool
span_split(struct span_list *l, size_t i, uint64_t off)
{
	struct span tail = l->v[i];
	bool ok;

	tail.start = off;
	if ((ok = span_insert(l, i + 1, &tail)))
		l->v[i].end = off;
	return ok;
}

void
span_tidy(struct span_list *l)
{
	size_t i = 0;
	struct span *a, *b;

	while (i < l->n) {
		if (l->v[i].start >= l->v[i].end) {
			span_remove(l, i);
			continue;
		}
		if (i > 0) {
			a = &l->v[i - 1];
			b = &l->v[i];
			if (a->state == b->state && b->state != SPAN_ACTIVE &&
			    a->origin == b->origin && a->prev == b->prev &&
			    a->check == b->check && a->end == b->start) {
				a->end = b->end;
				span_remove(l, i);
				continue;
			}
		}
		i++;
	}
}

size_t
span_find(const struct span_list *l, uint64_t off)
{
	size_t lo = 0, hi = l->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

bool
span_of_src(const struct span_list *l, int src, size_t *out)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].state == SPAN_ACTIVE && l->v[i].src == src)
			break;
	*out = i;
	return i < l->n;
}

/* A span [start, end) in state st, written by origin, nothing to check. */
static struct span
span_make(uint64_t start, uint64_t end, enum span_state st, int origin)
{
	return (struct span){ start, end, st, origin, ORIGIN_NONE, false, -1 };
}

bool
span_list_reset(struct span_list *l, uint64_t size)
{
	struct span all = span_make(0, size, SPAN_FREE, ORIGIN_NONE);

	l->n = 0;
	return span_insert(l, 0, &all);
}

bool
span_list_from_done(struct span_list *l, uint64_t size,
    const struct span_range *r, size_t n, int origin)
{
	struct span sp;
	uint64_t last = 0;
	size_t i;
	bool ok = true;

	l->n = 0;
	for (i = 0; ok && i < n; i++) {
		if (r[i].start > last) {
			sp = span_make(last, r[i].start, SPAN_FREE,
			    ORIGIN_NONE);
			ok = span_insert(l, l->n, &sp);
		}
		sp = span_make(r[i].start, r[i].end, SPAN_DONE, origin);
		ok = ok && span_insert(l, l->n, &sp);
		last = r[i].end;
	}
	if (ok && last < size) {
		sp = span_make(last, size, SPAN_FREE, ORIGIN_NONE);
		ok = span_insert(l, l->n, &sp);
	}
	return ok;
}

uint64_t
span_free_bytes(const struct span_list *l)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].state == SPAN_FREE)
			n += l->v[i].end - l->v[i].start;
	return n;
}

bool
span_list_complete(const struct span_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].state != SPAN_DONE || l->v[i].check)
			break;
	return i == l->n;
}
