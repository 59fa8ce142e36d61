/*
 * units.c - byte counts for people.  See units.h.
 */
#include <inttypes.h>
#include <stdio.h>

#include "units.h"

void
size_format(uint64_t n, bool exact, char out[SIZE_TEXT_BYTES])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n / 1024;
	size_t u = 0;

	if (n < 1024) {
		snprintf(out, SIZE_TEXT_BYTES, "%" PRIu64 " %s", n,
		    exact ? "bytes" : "B");
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (exact)
		snprintf(out, SIZE_TEXT_BYTES, "%.1f %s (%" PRIu64 " bytes)", v,
		    units[u], n);
	else
		snprintf(out, SIZE_TEXT_BYTES, "%.1f %s", v, units[u]);
}
