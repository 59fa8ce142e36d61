/*
 * fuzz_http.c - libFuzzer target for the parsers bootdrop-server runs on
 * request bytes: the connection guard's request-head check, the URL
 * grammar, Range, If-None-Match and the access log's escaping.  Checks
 * the invariants, not only the absence of crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[6 * ACCESSLOG_FIELD_MAX_BYTES + 16];
	struct http_route r;
	uint64_t first, last, total;
	struct http_head h;
	unsigned status;
	char *s;
	size_t i;

	/* The head check reads only size bytes (no NUL needed). */
	status = http_head_check((const char *)data, size, &h);
	if (h.len > size || (status != 0 && status != 400 && status != 431 &&
	    status != 501 && status != 505) ||
	    h.method_len > size || h.target_len > size || h.version_len > size)
		abort();
	/* A sound head is a request line with a clean target, and complete. */
	if (status == 0 && h.len > 0) {
		if (h.target_len == 0 || h.method_len == 0)
			abort();
		for (i = 0; i < h.target_len; i++)
			if ((unsigned char)h.target[i] <= 0x20 ||
			    (unsigned char)h.target[i] >= 0x7f)
				abort();
	}

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	switch (http_route(s, &r)) {
	case ROUTE_BLOB:
		if (strlen(r.hex) != 64)
			abort();
		/* FALLTHROUGH */
	case ROUTE_INDEX:
	case ROUTE_CHANNEL:
	case ROUTE_CHANNEL_REDIRECT:
	case ROUTE_MANIFEST:
	case ROUTE_VERSION:
		/* nothing routed holds a "." or ".." component, "//" or '%' */
		s[strcspn(s, "?")] = '\0';
		if (strstr(s, "/../") != NULL || strstr(s, "/./") != NULL ||
		    strstr(s, "//") != NULL || strchr(s, '%') != NULL)
			abort();
		memcpy(s, data, size);
		break;
	case ROUTE_NONE:
		break;
	}

	total = size * 997u;
	if (http_parse_range(s, total, &first, &last) == 1 &&
	    (first > last || last >= total))
		abort();
	(void)http_etag_listed(s, "\"sha256:0\"");

	accesslog_escape(s, false, out, sizeof(out));
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			abort();
	accesslog_escape(s, true, out, sizeof(out));
	free(s);
	return 0;
}
