/*
 * dynbuf.h - a growable byte buffer created with its maximum.
 *
 * Every buffer that grows with input (a file read whole, a decompressed
 * kernel, a generated page, a response body) is one of these, so the cap
 * is decided when the buffer is made and cannot be forgotten at a later
 * append.  The bytes are always followed by a NUL (not counted in len),
 * so text can be handed to string functions without a copy.
 */
#ifndef BOOTDROP_DYNBUF_H
#define BOOTDROP_DYNBUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct dynbuf {
	uint8_t *p;	/* NULL until the first byte; p[len] == 0 after */
	size_t len;
	size_t cap;	/* bytes allocated, the NUL included */
	size_t max;	/* len never exceeds this */
	size_t first;	/* the first allocation's size (grows by doubling) */
};

/* An empty buffer that will hold at most max bytes; allocates nothing. */
void dynbuf_init(struct dynbuf *b, size_t max, size_t first);

/*
 * Makes room for n more bytes (and the NUL).  BD_ERR_TOOBIG when len + n
 * would pass max, BD_ERR_NOMEM when memory ran out; b is unchanged then.
 * No detail is recorded: the caller knows what it was reading.
 */
enum bd_err dynbuf_reserve(struct dynbuf *b, size_t n);

/*
 * Makes room for at least one more byte, growing geometrically up to max,
 * for writers that fill whatever space there is (decompressors, read()).
 * The room is cap - len - 1 bytes at p + len.  BD_ERR_TOOBIG at max.
 */
enum bd_err dynbuf_grow(struct dynbuf *b);

/* Bytes that can be written at p + len without dynbuf_grow(). */
size_t dynbuf_room(const struct dynbuf *b);

/* After n bytes were written at p + len: counts them, writes the NUL. */
void dynbuf_added(struct dynbuf *b, size_t n);

/* Appends n bytes at src (dynbuf_reserve() then a copy). */
enum bd_err dynbuf_add(struct dynbuf *b, const void *src, size_t n);

/* Hands the bytes to the caller (free() them), leaving b empty. */
uint8_t *dynbuf_take(struct dynbuf *b, size_t *len);

/* Frees the bytes; b stays usable with the same max. */
void dynbuf_free(struct dynbuf *b);

#endif
