/*
 * span.h - the part file as a list of spans: [start, end) ranges in file
 * order, each free, active (one source is filling it) or done, covering
 * [0, size) without gaps once set up.  Plain memory, no I/O: the download
 * (client/download.c) and the trailer (client/trailer.c) keep it.
 */
#ifndef BOOTDROP_SPAN_H
#define BOOTDROP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Span origins besides a mirror index. */
#define ORIGIN_NONE		(-1)
#define ORIGIN_EARLIER		(-2)	/* a previous run wrote it */

enum span_state { SPAN_FREE, SPAN_ACTIVE, SPAN_DONE };

/* [start, end) of the part file. */
struct span {
	uint64_t start, end;
	enum span_state state;
	int origin;		/* who wrote (done) or writes (active) it */
	int prev;		/* check: who wrote it before; may not serve it */
	bool check;		/* the check pass: fetch again, not from prev */
	int src;		/* active: the source filling it */
};

/* A range of bytes without more to say: [start, end). */
struct span_range {
	uint64_t start, end;
};

/* The list; zeroed is empty.  Free with span_list_free(). */
struct span_list {
	struct span *v;
	size_t n, cap;
};

void span_list_free(struct span_list *l);

/* Inserts a span at index i; false when memory is short. */
bool span_insert(struct span_list *l, size_t i, const struct span *s);
void span_remove(struct span_list *l, size_t i);

/* Splits span i at off (start < off < end); the new span is i + 1. */
bool span_split(struct span_list *l, size_t i, uint64_t off);

/* Joins neighbours that say the same thing; drops empty spans. */
void span_tidy(struct span_list *l);

/* Index of the span holding off (the list covers [0, size)). */
size_t span_find(const struct span_list *l, uint64_t off);

/* The active span source src is filling, in *out; false when none. */
bool span_of_src(const struct span_list *l, int src, size_t *out);

/* One free span [0, size); false when memory is short. */
bool span_list_reset(struct span_list *l, uint64_t size);

/*
 * [0, size) as done spans of origin for the n ranges r (in order, not
 * overlapping, within size) and free spans between them; false when
 * memory is short.  Neighbours are not joined: span_tidy() does.
 */
bool span_list_from_done(struct span_list *l, uint64_t size,
    const struct span_range *r, size_t n, int origin);

/* Bytes in free spans. */
uint64_t span_free_bytes(const struct span_list *l);

/* Every span done and none waiting for its check. */
bool span_list_complete(const struct span_list *l);

#endif
