/*
 * trailer.h - the record a part file carries while it is filled in
 * parallel: written after the blob's size bytes, it lists which spans
 * were written, so a killed run resumes them.  The hash of the whole
 * artifact still decides; the trailer only says which bytes to keep.
 *
 * Layout, TRAILER_BYTES long, integers little-endian:
 *
 *	offset	bytes
 *	0	8	TRAILER_MAGIC
 *	8	8	the blob's size
 *	16	8	count, at most TRAILER_SPANS_MAX
 *	24	16 * TRAILER_SPANS_MAX
 *			count (start, end) pairs in increasing order,
 *			start < end <= size, the rest zero
 *	1048	32	SHA-256 of bytes [0, 1048)
 */
#ifndef BOOTDROP_TRAILER_H
#define BOOTDROP_TRAILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "download.h"
#include "err.h"
#include "sha256.h"
#include "span.h"

#define TRAILER_MAGIC		"BDPART01"
#define TRAILER_MAGIC_BYTES	8
#define TRAILER_MAGIC_OFF	0
#define TRAILER_SIZE_OFF	8
#define TRAILER_COUNT_OFF	16
#define TRAILER_SPANS_OFF	24
#define TRAILER_SPAN_BYTES	16	/* start, end */
#define TRAILER_SPANS_MAX	DL_PART_SPANS_MAX	/* 64 */
#define TRAILER_SUM_OFF		(TRAILER_SPANS_OFF + \
	TRAILER_SPANS_MAX * TRAILER_SPAN_BYTES)
#define TRAILER_BYTES		(TRAILER_SUM_OFF + SHA256_BYTES)

/* A trailer as data. */
struct trailer {
	uint64_t size;		/* the blob's */
	size_t n;
	struct span_range span[TRAILER_SPANS_MAX];
};

/*
 * Appends [start, end) to t, joined with the last range when they touch;
 * false (t unchanged) when it would be a range beyond TRAILER_SPANS_MAX.
 * Ranges are added in increasing order.
 */
bool trailer_add(struct trailer *t, uint64_t start, uint64_t end);

/* t as its TRAILER_BYTES bytes. */
void trailer_encode(const struct trailer *t, uint8_t out[TRAILER_BYTES]);

/*
 * Reads TRAILER_BYTES bytes into *t: true only for a trailer whose
 * checksum, magic and size (the blob's, given) match and whose ranges are
 * in order within the size.  *t is unspecified on false.
 */
bool trailer_decode(const uint8_t in[TRAILER_BYTES], uint64_t size,
    struct trailer *t);

/* Writes t after byte t->size of fd (the part file named hex.part). */
enum bd_err trailer_write(int fd, const char *hex, const struct trailer *t);

/* Reads and decodes the trailer after byte size of fd; false if none. */
bool trailer_read(int fd, uint64_t size, struct trailer *t);

/*
 * dl_part_spans() and dl_part_mark() (download.h), the part file as a
 * delta download (client/chunkfetch.c) shares it, are here too.
 *
 * Takes over what the part file fd (hex.part, for blob size bytes)
 * holds into l: a trailer's ranges as done spans of ORIGIN_EARLIER
 * (*trailer set), else its length as a done prefix.  A longer file
 * without a valid trailer is emptied; one that is not a regular file is
 * refused (BD_ERR_IO).  *resumed: the bytes kept.
 */
enum bd_err part_load(int fd, const char *hex, uint64_t size,
    struct span_list *l, uint64_t *resumed, bool *trailer);

#endif
