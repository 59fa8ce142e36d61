/*
 * test_span.c - the part file's span list (client/span.c): splitting,
 * joining, finding, building from done ranges, and what counts as
 * complete.
 */
#include <stdint.h>

#include "check.h"
#include "span.h"

/* The list is in order, without gaps, from 0 to size. */
static bool
covers(const struct span_list *l, uint64_t size)
{
	uint64_t at = 0;
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].start != at || l->v[i].end <= l->v[i].start)
			return false;
		at = l->v[i].end;
	}
	return at == size;
}

static void
test_split_find_tidy(void)
{
	struct span_list l = { NULL, 0, 0 };
	struct span empty;
	size_t i = 99;

	CHECK_THAT(span_list_reset(&l, 100));
	CHECK(l.n == 1 && l.v[0].state == SPAN_FREE && covers(&l, 100),
	    "reset: one free span [0, 100)");
	CHECK_THAT(span_split(&l, 0, 30));
	CHECK(l.n == 2 && l.v[0].end == 30 && l.v[1].start == 30 &&
	    covers(&l, 100), "split at 30: [0, 30) [30, 100)");
	CHECK(span_find(&l, 0) == 0 && span_find(&l, 29) == 0 &&
	    span_find(&l, 30) == 1 && span_find(&l, 99) == 1,
	    "find: each offset in its span");
	span_tidy(&l);
	CHECK(l.n == 1 && covers(&l, 100), "tidy joins two free spans");

	CHECK_THAT(span_split(&l, 0, 30) && span_split(&l, 1, 60));
	l.v[0].state = l.v[1].state = SPAN_DONE;
	l.v[0].origin = l.v[1].origin = 3;
	l.v[2].state = SPAN_ACTIVE;
	l.v[2].src = 4;
	span_tidy(&l);
	CHECK(l.n == 2 && l.v[0].end == 60 && l.v[0].origin == 3,
	    "tidy joins done spans of one origin");
	CHECK(span_of_src(&l, 4, &i) && i == 1, "the active span of source 4");
	CHECK(!span_of_src(&l, 3, &i), "source 3 fills nothing");

	CHECK_THAT(span_split(&l, 1, 80));
	l.v[2].src = 4;
	span_tidy(&l);
	CHECK(l.n == 3, "tidy never joins active spans");
	CHECK_THAT(span_split(&l, 0, 20));
	l.v[1].origin = 5;
	span_tidy(&l);
	CHECK(l.n == 4, "tidy keeps done spans of two origins apart");
	l.v[1].origin = 3;
	l.v[1].check = true;
	span_tidy(&l);
	CHECK(l.n == 4, "tidy keeps a span waiting for its check apart");

	empty = l.v[1];
	empty.start = empty.end = 20;
	CHECK_THAT(span_insert(&l, 1, &empty));
	span_tidy(&l);
	CHECK(l.n == 4 && covers(&l, 100), "tidy drops an empty span");
	if (l.n == 4)
		span_remove(&l, 3);
	CHECK(l.n == 3 && l.v[2].end == 80, "remove drops the last span");
	span_list_free(&l);
	CHECK(l.v == NULL && l.n == 0, "free empties the list");
}

static void
test_from_done(void)
{
	struct span_list l = { NULL, 0, 0 };
	const struct span_range r[] = { { 10, 20 }, { 20, 30 }, { 50, 100 } };
	const struct span_range all = { 0, 40 };

	CHECK_THAT(span_list_from_done(&l, 100, r, 3, ORIGIN_EARLIER));
	CHECK(l.n == 5 && covers(&l, 100) && l.v[0].state == SPAN_FREE &&
	    l.v[1].state == SPAN_DONE && l.v[2].state == SPAN_DONE &&
	    l.v[3].state == SPAN_FREE && l.v[4].state == SPAN_DONE,
	    "free [0,10) done [10,20) done [20,30) free [30,50) done [50,100)");
	CHECK(l.v[1].origin == ORIGIN_EARLIER && l.v[0].origin == ORIGIN_NONE,
	    "done spans carry the origin, free ones none");
	CHECK(span_free_bytes(&l) == 30, "30 free bytes: %ju",
	    (uintmax_t)span_free_bytes(&l));
	span_tidy(&l);
	CHECK(l.n == 4 && l.v[1].start == 10 && l.v[1].end == 30,
	    "touching done ranges join");
	CHECK(!span_list_complete(&l), "free bytes: not complete");

	CHECK_THAT(span_list_from_done(&l, 40, &all, 1, 2));
	CHECK(l.n == 1 && covers(&l, 40) && span_list_complete(&l),
	    "all of it done: complete");
	l.v[0].check = true;
	CHECK(!span_list_complete(&l), "waiting for its check: not complete");
	CHECK_THAT(span_list_from_done(&l, 40, NULL, 0, 2));
	CHECK(l.n == 1 && l.v[0].state == SPAN_FREE && covers(&l, 40),
	    "no range: one free span");
	span_list_free(&l);
}

/* Many spans: the list grows past its first allocation and stays whole. */
static void
test_growth(void)
{
	struct span_list l = { NULL, 0, 0 };
	size_t i;
	bool ok = span_list_reset(&l, 1000);

	for (i = 0; ok && i < 200; i++)
		ok = span_split(&l, i, (uint64_t)(i + 1) * 4);
	CHECK(ok && l.n == 201 && covers(&l, 1000), "200 splits: %zu spans",
	    l.n);
	CHECK(span_find(&l, 0) == 0 && span_find(&l, 799) == 199 &&
	    span_find(&l, 800) == 200 && span_find(&l, 999) == 200,
	    "find over many spans");
	span_tidy(&l);
	CHECK(l.n == 1 && covers(&l, 1000), "tidy joins them all back");
	span_list_free(&l);
}

int
main(void)
{
	test_split_find_tidy();
	test_from_done();
	test_growth();
	return check_done();
}
