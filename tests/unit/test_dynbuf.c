/*
 * test_dynbuf.c - the capped growable buffer (common/dynbuf.c): the cap
 * holds for every way of adding, the NUL follows the bytes, a refused
 * append changes nothing, and take/free leave a usable empty buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dynbuf.h"

int
main(void)
{
	struct dynbuf b;
	uint8_t *p;
	size_t len, total = 0, i;
	enum bd_err rc = BD_OK;

	dynbuf_init(&b, 10, 4);
	CHECK_THAT(dynbuf_room(&b) == 0 && b.p == NULL);
	CHECK_RC(dynbuf_add(&b, "hello", 5), BD_OK, "5 bytes");
	CHECK_THAT(b.len == 5 && memcmp(b.p, "hello", 6) == 0);
	CHECK_RC(dynbuf_add(&b, "world", 5), BD_OK, "to the cap exactly");
	CHECK_THAT(b.len == 10 && strcmp((char *)b.p, "helloworld") == 0);
	CHECK_RC(dynbuf_add(&b, "!", 1), BD_ERR_TOOBIG, "one past the cap");
	CHECK_THAT(b.len == 10 && strcmp((char *)b.p, "helloworld") == 0);
	CHECK_RC(dynbuf_reserve(&b, SIZE_MAX), BD_ERR_TOOBIG, "SIZE_MAX");
	CHECK_RC(dynbuf_grow(&b), BD_ERR_TOOBIG, "grow at the cap");
	CHECK_THAT(b.cap == 11);
	p = dynbuf_take(&b, &len);
	CHECK_THAT(len == 10 && memcmp(p, "helloworld", 11) == 0);
	CHECK_THAT(b.p == NULL && b.len == 0 && b.max == 10);
	free(p);

	/* A streaming writer filling whatever room there is stops at max. */
	dynbuf_init(&b, 1000, 16);
	for (i = 0; i < 1000 && (rc = dynbuf_grow(&b)) == BD_OK; i++) {
		size_t n = dynbuf_room(&b);

		memset(b.p + b.len, 'x', n);
		dynbuf_added(&b, n);
		total += n;
	}
	CHECK(rc == BD_ERR_TOOBIG && total == 1000 && b.len == 1000 &&
	    b.p[1000] == '\0', "streamed %zu bytes, rc %d", total, (int)rc);
	dynbuf_free(&b);
	CHECK_THAT(b.p == NULL && b.len == 0);
	CHECK_RC(dynbuf_add(&b, "a", 1), BD_OK, "usable after free");
	dynbuf_free(&b);

	/* A cap of zero holds nothing, but reserving nothing is fine. */
	dynbuf_init(&b, 0, 0);
	CHECK_RC(dynbuf_reserve(&b, 0), BD_OK, "reserve 0 at cap 0");
	CHECK_THAT(b.p != NULL && b.p[0] == '\0');
	CHECK_RC(dynbuf_add(&b, "a", 1), BD_ERR_TOOBIG, "cap 0");
	dynbuf_free(&b);
	return check_done();
}
