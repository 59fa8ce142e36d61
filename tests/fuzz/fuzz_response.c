/*
 * fuzz_response.c - the fetch client's reading of response headers
 * (client/http.c: Content-Range, Accept-Ranges, status lines starting
 * a new response), fed arbitrary bytes cut into lines as libcurl hands
 * them over.  A parsed Content-Range must describe a real range.
 * The client file is included whole, as fuzz_state.c does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/http.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dl_response r;
	const uint8_t *p = data, *nl;
	size_t left = size, n;
	char *line;

	memset(&r, 0, sizeof(r));
	while (left > 0) {
		nl = memchr(p, '\n', left);
		n = nl != NULL ? (size_t)(nl - p) + 1 : left;
		/* An exact-size copy, so reading past the line is caught. */
		if ((line = malloc(n)) == NULL)
			return 0;
		memcpy(line, p, n);
		dl_header_parse(&r, line, n);
		free(line);
		if (r.cr_valid && (r.cr_start > r.cr_end ||
		    r.cr_end >= r.cr_total))
			abort();
		p += n;
		left -= n;
	}
	return 0;
}
