/*
 * timefmt.h - RFC 3339 UTC timestamps ("2026-11-26T12:00:00Z") and
 * durations ("90d", "12h", "30m", "45s").
 */
#ifndef BOOTDROP_TIMEFMT_H
#define BOOTDROP_TIMEFMT_H

#include <stdint.h>
#include <time.h>

#include "err.h"

#define TIME_RFC3339_BYTES	21	/* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* Formats t as RFC 3339 UTC with a 'Z' suffix. */
void time_format(time_t t, char out[TIME_RFC3339_BYTES]);

/*
 * Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC only, no fractions, fields
 * range-checked, years 1970-9999).
 */
enum bd_err time_parse(const char *s, time_t *t);

/* Parses a positive duration "<n>d|h|m|s" into seconds (at most 100 years). */
enum bd_err duration_parse(const char *s, int64_t *seconds);

#endif
