/*
 * fuzz_trailer.c - the part file's trailer (client/trailer.c): bytes a
 * killed run, a full disk or anyone with write access to the temporary
 * directory may have left after a part's data.  Each input is decoded as
 * it is and, since a random checksum almost never matches, once more with
 * its checksum made right, so the checks behind it are reached too.
 * Whatever decodes must lie within the blob, encode and decode back to
 * itself, and make a span list covering the blob without gaps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "trailer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* t decoded for blob size: everything it says must hold. */
static void
check(const struct trailer *t, uint64_t size)
{
	uint8_t again[TRAILER_BYTES];
	struct trailer u;
	struct span_list l = { NULL, 0, 0 };
	uint64_t at = 0;
	size_t i;

	if (t->n > TRAILER_SPANS_MAX || t->size != size)
		abort();
	for (i = 0; i < t->n; i++) {
		if (t->span[i].start < at ||
		    t->span[i].end <= t->span[i].start ||
		    t->span[i].end > size)
			abort();
		at = t->span[i].end;
	}
	trailer_encode(t, again);
	if (!trailer_decode(again, size, &u) || u.n != t->n ||
	    memcmp(u.span, t->span, t->n * sizeof(t->span[0])) != 0)
		abort();
	if (!span_list_from_done(&l, size, t->span, t->n, ORIGIN_EARLIER))
		return;
	span_tidy(&l);
	for (at = 0, i = 0; i < l.n; i++) {
		if (l.v[i].start != at || l.v[i].end <= l.v[i].start)
			abort();
		at = l.v[i].end;
	}
	if (at != size)
		abort();
	span_list_free(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b;
	struct trailer t;
	uint64_t blob;

	/* An exact-size copy, so reading past the trailer is caught. */
	if ((b = calloc(1, TRAILER_BYTES)) == NULL)
		return 0;
	memcpy(b, data, size < TRAILER_BYTES ? size : TRAILER_BYTES);
	blob = get_le64(b + TRAILER_SIZE_OFF);
	if (trailer_decode(b, blob, &t))
		check(&t, blob);
	sha256_buf(b, TRAILER_SUM_OFF, b + TRAILER_SUM_OFF);
	if (trailer_decode(b, blob, &t))
		check(&t, blob);
	free(b);
	return 0;
}
