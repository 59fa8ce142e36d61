#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"

#define DYNBUF_FIRST_DEFAULT	4096

void
dynbuf_init(struct dynbuf *b, size_t max, size_t first)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->first = first == 0 ? DYNBUF_FIRST_DEFAULT : first;
}

/* Grows the allocation to at least want bytes (the NUL included). */
static enum bd_err
dynbuf_alloc(struct dynbuf *b, size_t want)
{
	size_t cap = b->cap == 0 ? b->first : b->cap;
	uint8_t *p;

	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if ((p = realloc(b->p, cap)) == NULL)
		return BD_ERR_NOMEM;
	b->p = p;
	b->cap = cap;
	b->p[b->len] = '\0';
	return BD_OK;
}

enum bd_err
dynbuf_reserve(struct dynbuf *b, size_t n)
{
	if (n > b->max - b->len)
		return BD_ERR_TOOBIG;
	if (b->cap != 0 && n < b->cap - b->len)
		return BD_OK;
	return dynbuf_alloc(b, b->len + n + 1);
}

enum bd_err
dynbuf_grow(struct dynbuf *b)
{
	if (b->cap != 0 && b->cap - b->len > 1)
		return BD_OK;
	if (b->len >= b->max)
		return BD_ERR_TOOBIG;
	return dynbuf_alloc(b, b->cap == 0 ? b->first : b->cap + 1);
}

size_t
dynbuf_room(const struct dynbuf *b)
{
	return b->cap == 0 ? 0 : b->cap - b->len - 1;
}

void
dynbuf_added(struct dynbuf *b, size_t n)
{
	b->len += n;
	b->p[b->len] = '\0';
}

enum bd_err
dynbuf_add(struct dynbuf *b, const void *src, size_t n)
{
	enum bd_err rc;

	if (n == 0)
		return BD_OK;
	if ((rc = dynbuf_reserve(b, n)) != BD_OK)
		return rc;
	memcpy(b->p + b->len, src, n);
	dynbuf_added(b, n);
	return BD_OK;
}

uint8_t *
dynbuf_take(struct dynbuf *b, size_t *len)
{
	uint8_t *p = b->p;

	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
dynbuf_free(struct dynbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
