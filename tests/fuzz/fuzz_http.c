/*
 * fuzz_http.c - libFuzzer target for the rules bootdrop-server applies to
 * request bytes (reqhead.h): the connection guard's scan for a head's
 * end, the framing rules on the fields of a head, the URL grammar, Range,
 * If-None-Match, the preconditions and HTTP-dates, and the access log's
 * escaping.  Checks the invariants, not only the absence of crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "reqhead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fields of a head as libmicrohttpd would hand them over: "name: value" lines. */
static size_t
split_fields(char *s, struct reqhead_field *f, size_t cap)
{
	char *line = s, *eol, *colon;
	size_t n = 0;

	while (n < cap && *line != '\0') {
		eol = line + strcspn(line, "\n");
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon != NULL) {
			f[n].name = line;
			f[n].name_len = (size_t)(colon - line);
			f[n].value = colon + 1;
			f[n].value_len = (size_t)(eol - colon - 1);
			n++;
		}
		if (*eol == '\0')
			break;
		line = eol + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[6 * ACCESSLOG_FIELD_MAX_BYTES + 16];
	struct reqhead_field f[REQHEAD_MAX_FIELDS + 1];
	struct reqhead_route r;
	uint64_t first, last, total;
	unsigned status;
	size_t i, len, n;
	const char *path;
	time_t t;
	char *s;

	/* The scan reads only size bytes (no NUL needed). */
	status = reqhead_scan((const char *)data, size, &len);
	if ((status != 0 && status != 400) || len > size ||
	    (status != 0 && len != 0))
		abort();
	/* A head that ended holds no NUL and ends in an empty line. */
	if (len > 0) {
		if (memchr(data, '\0', len) != NULL || len < 2 ||
		    data[len - 1] != '\n' || (data[len - 2] != '\n' &&
		    (data[len - 2] != '\r' || len < 3 || data[len - 3] != '\n')))
			abort();
	}
	status = reqhead_overlong((const char *)data, size);
	if (status != 414 && status != 431)
		abort();

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	n = split_fields(s, f, REQHEAD_MAX_FIELDS + 1);
	status = reqhead_framing("/", "HTTP/1.1", f, n);
	if (status != 0 && status != 400 && status != 431 && status != 501)
		abort();
	/* A sound head has exactly one Host and no body. */
	if (status == 0 && n == 0)
		abort();

	switch (reqhead_route(s, &r)) {
	case ROUTE_BLOB:
		if (strlen(r.hex) != 64)
			abort();
		/* FALLTHROUGH */
	case ROUTE_INDEX:
	case ROUTE_CHANNEL:
	case ROUTE_CHANNEL_REDIRECT:
	case ROUTE_MANIFEST:
	case ROUTE_VERSION:
		/*
		 * nothing routed holds a "." or ".." component, "//" or '%'
		 * in its path (after an absolute-form authority)
		 */
		s[strcspn(s, "?")] = '\0';
		path = strstr(s, "://");
		path = path != NULL ? path + 3 + strcspn(path + 3, "/") : s;
		if (strstr(path, "/../") != NULL || strstr(path, "/./") != NULL ||
		    strchr(path, '%') != NULL || strstr(path, "//") != NULL)
			abort();
		memcpy(s, data, size);
		break;
	case ROUTE_NONE:
		break;
	}

	total = size * 997u;
	if (reqhead_range(s, total, &first, &last) == 1 &&
	    (first > last || last >= total))
		abort();
	(void)reqhead_etag_listed(s, "\"sha256:0\"");
	/* "*" always holds; a list without the tag fails */
	if (reqhead_precondition_fails("*", s, "\"sha256:0\"", 0))
		abort();
	if (reqhead_date(s, &t) && strlen(s) != 29)
		abort();

	accesslog_escape(s, false, out, sizeof(out));
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			abort();
	accesslog_escape(s, true, out, sizeof(out));
	free(s);
	return 0;
}
