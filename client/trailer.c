/*
 * trailer.c - the part file's trailer (trailer.h) and what a part file
 * holds when a download starts.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "download.h"
#include "fsutil.h"
#include "trailer.h"

_Static_assert(TRAILER_SPANS_MAX == 64 && TRAILER_BYTES == 8 + 8 + 8 +
    64 * 16 + SHA256_BYTES, "the trailer's layout");
_Static_assert(sizeof(TRAILER_MAGIC) - 1 == TRAILER_MAGIC_BYTES,
    "the trailer's magic");

bool
trailer_add(struct trailer *t, uint64_t start, uint64_t end)
{
	bool ok = true;

	if (t->n > 0 && t->span[t->n - 1].end == start)
		t->span[t->n - 1].end = end;
	else if (t->n == TRAILER_SPANS_MAX)
		ok = false;
	else {
		t->span[t->n].start = start;
		t->span[t->n].end = end;
		t->n++;
	}
	return ok;
}

void
trailer_encode(const struct trailer *t, uint8_t out[TRAILER_BYTES])
{
	size_t i;

	memset(out, 0, TRAILER_BYTES);
	memcpy(out + TRAILER_MAGIC_OFF, TRAILER_MAGIC, TRAILER_MAGIC_BYTES);
	put_le64(out + TRAILER_SIZE_OFF, t->size);
	put_le64(out + TRAILER_COUNT_OFF, t->n);
	for (i = 0; i < t->n && i < TRAILER_SPANS_MAX; i++) {
		put_le64(out + TRAILER_SPANS_OFF + i * TRAILER_SPAN_BYTES,
		    t->span[i].start);
		put_le64(out + TRAILER_SPANS_OFF + i * TRAILER_SPAN_BYTES + 8,
		    t->span[i].end);
	}
	sha256_buf(out, TRAILER_SUM_OFF, out + TRAILER_SUM_OFF);
}

bool
trailer_decode(const uint8_t in[TRAILER_BYTES], uint64_t size,
    struct trailer *t)
{
	uint8_t sum[SHA256_BYTES];
	uint64_t n, i, last = 0;
	const uint8_t *p;
	bool ok;

	sha256_buf(in, TRAILER_SUM_OFF, sum);
	n = get_le64(in + TRAILER_COUNT_OFF);
	ok = memcmp(in + TRAILER_MAGIC_OFF, TRAILER_MAGIC,
	    TRAILER_MAGIC_BYTES) == 0 &&
	    get_le64(in + TRAILER_SIZE_OFF) == size &&
	    sodium_memcmp(sum, in + TRAILER_SUM_OFF, SHA256_BYTES) == 0 &&
	    n <= TRAILER_SPANS_MAX;
	t->size = size;
	t->n = 0;
	for (i = 0; ok && i < n; i++) {
		p = in + TRAILER_SPANS_OFF + i * TRAILER_SPAN_BYTES;
		t->span[i].start = get_le64(p);
		t->span[i].end = get_le64(p + 8);
		ok = t->span[i].start >= last &&
		    t->span[i].start < t->span[i].end &&
		    t->span[i].end <= size;
		last = t->span[i].end;
		t->n++;
	}
	return ok;
}

enum bd_err
trailer_write(int fd, const char *hex, const struct trailer *t)
{
	uint8_t b[TRAILER_BYTES];
	enum bd_err rc = BD_OK;

	trailer_encode(t, b);
	if (pwrite_all(fd, b, sizeof(b), t->size) != BD_OK)
		rc = bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": %s", hex,
		    strerror(errno));
	return rc;
}

bool
trailer_read(int fd, uint64_t size, struct trailer *t)
{
	uint8_t b[TRAILER_BYTES];
	size_t got;

	return pread_full(fd, b, sizeof(b), size, &got) == BD_OK &&
	    got == sizeof(b) && trailer_decode(b, size, t);
}

/* A trailer's ranges as the spans of l; false if memory is short. */
static bool
part_from_trailer(const struct trailer *t, struct span_list *l,
    uint64_t *resumed)
{
	size_t i;
	bool ok = span_list_from_done(l, t->size, t->span, t->n,
	    ORIGIN_EARLIER);

	for (i = 0; ok && i < t->n; i++)
		*resumed += t->span[i].end - t->span[i].start;
	if (ok)
		span_tidy(l);
	return ok;
}

enum bd_err
part_load(int fd, const char *hex, uint64_t size, struct span_list *l,
    uint64_t *resumed, bool *trailer)
{
	struct trailer t;
	struct span_range prefix = { 0, 0 };
	struct stat st;
	enum bd_err rc = BD_OK;

	*resumed = 0;
	*trailer = false;
	if (fstat(fd, &st) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": %s", hex,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": not a regular "
		    "file", hex);
		goto out;
	}
	prefix.end = (uint64_t)st.st_size;
	if (prefix.end == size + TRAILER_BYTES && trailer_read(fd, size, &t) &&
	    part_from_trailer(&t, l, resumed)) {
		*trailer = true;
		goto out;
	}
	*resumed = 0;
	if (prefix.end > size) {
		/* Longer, and no trailer: nothing in it is trusted. */
		if (!span_list_reset(l, size))
			rc = BD_ERR_NOMEM;
		else if (ftruncate(fd, 0) != 0)
			rc = bd_fail(BD_ERR_IO, "%s" DL_PART_SUFFIX ": %s", hex,
			    strerror(errno));
	} else if (!span_list_from_done(l, size, &prefix, prefix.end > 0,
	    ORIGIN_EARLIER))
		rc = BD_ERR_NOMEM;
	else
		*resumed = prefix.end;
out:
	return rc;
}

enum bd_err
dl_part_spans(int fd, uint64_t size, struct dl_span *spans, size_t *n)
{
	struct trailer t;
	struct stat st;
	size_t i;
	enum bd_err rc = BD_OK;

	*n = 0;
	if (fstat(fd, &st) != 0)
		rc = bd_fail(BD_ERR_IO, "part file: %s", strerror(errno));
	else if ((uint64_t)st.st_size == size + TRAILER_BYTES &&
	    trailer_read(fd, size, &t)) {
		for (i = 0; i < t.n; i++) {
			spans[i].start = t.span[i].start;
			spans[i].end = t.span[i].end;
		}
		*n = t.n;
	} else if (st.st_size > 0 && (uint64_t)st.st_size <= size) {
		spans[0].start = 0;
		spans[0].end = (uint64_t)st.st_size;
		*n = 1;
	}
	return rc;
}

enum bd_err
dl_part_mark(int fd, uint64_t size, const struct dl_span *spans, size_t n)
{
	uint8_t b[TRAILER_BYTES];
	struct trailer t;
	size_t i;
	enum bd_err rc = BD_OK;

	if (n > TRAILER_SPANS_MAX) {
		rc = bd_fail(BD_ERR_USAGE, "part file: %zu spans", n);
		goto out;
	}
	t.size = size;
	t.n = n;
	for (i = 0; i < n; i++) {
		t.span[i].start = spans[i].start;
		t.span[i].end = spans[i].end;
	}
	trailer_encode(&t, b);
	if (pwrite_all(fd, b, sizeof(b), size) != BD_OK ||
	    ftruncate(fd, (off_t)(size + TRAILER_BYTES)) != 0)
		rc = bd_fail(BD_ERR_IO, "part file: %s", strerror(errno));
out:
	return rc;
}
