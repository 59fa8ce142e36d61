/*
 * num.c - checked integer parsing (see num.h).
 */
#include <string.h>

#include "num.h"

enum bd_err
num_u64(const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t x = 0, d;
	enum bd_err rc = BD_OK;
	size_t i;

	if (n == 0)
		return BD_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return BD_ERR_FORMAT;
		d = (uint64_t)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			rc = BD_ERR_RANGE;	/* still check the rest is digits */
		else
			x = x * 10 + d;
	}
	if (rc == BD_OK && (x < min || x > max))
		rc = BD_ERR_RANGE;
	if (rc == BD_OK)
		*v = x;
	return rc;
}

enum bd_err
num_u64_str(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	return num_u64(s, strlen(s), min, max, v);
}
