/*
 * timefmt.c - RFC 3339 UTC timestamps and short durations, parsed strictly:
 * one spelling per instant, so a timestamp read from a signed payload
 * formats back to the same bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "num.h"
#include "timefmt.h"

#define TIME_YEAR_MIN		1970
#define TIME_YEAR_MAX		9999
#define TIME_MAX		((time_t)253402300799)	/* 9999-12-31T23:59:59Z */
#define DURATION_MAX_SECONDS	((uint64_t)36525 * 86400)	/* 100 years */

/* Clamps t into years 1970-9999 so the result always fits the buffer. */
void
time_format(time_t t, char out[TIME_RFC3339_BYTES])
{
	struct tm tm;

	if (t < 0)
		t = 0;
	if (t > TIME_MAX)
		t = TIME_MAX;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, TIME_RFC3339_BYTES, "%Y-%m-%dT%H:%M:%SZ", &tm) !=
	    TIME_RFC3339_BYTES - 1)
		snprintf(out, TIME_RFC3339_BYTES, "1970-01-01T00:00:00Z");
}

/* Reads exactly n decimal digits at s; false on anything else. */
static bool
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month == 2 && leap)
		return 29;
	return days[month - 1];
}

/*
 * Accepts exactly "YYYY-MM-DDTHH:MM:SSZ": no lowercase 't'/'z', no offsets,
 * no fractions, no leap second.  BD_ERR_FORMAT for the shape, BD_ERR_RANGE
 * for a field out of range.
 */
enum bd_err
time_parse(const char *s, time_t *t)
{
	struct tm tm;
	int year, mon, day, hour, min, sec;
	time_t v;

	if (s == NULL || strlen(s) != TIME_RFC3339_BYTES - 1 ||
	    !digits(s, 4, &year) || s[4] != '-' ||
	    !digits(s + 5, 2, &mon) || s[7] != '-' ||
	    !digits(s + 8, 2, &day) || s[10] != 'T' ||
	    !digits(s + 11, 2, &hour) || s[13] != ':' ||
	    !digits(s + 14, 2, &min) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec) || s[19] != 'Z')
		return bd_fail(BD_ERR_FORMAT,
		    "time is not YYYY-MM-DDTHH:MM:SSZ");
	if (year < TIME_YEAR_MIN || year > TIME_YEAR_MAX ||
	    mon < 1 || mon > 12 || day < 1 ||
	    day > days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 59)
		return bd_fail(BD_ERR_RANGE, "time field out of range");

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	v = timegm(&tm);
	if (v == (time_t)-1)
		return bd_fail(BD_ERR_RANGE, "time not representable");
	*t = v;
	return BD_OK;
}

/*
 * "<n><unit>" with n a positive decimal (no sign, no space) and unit one of
 * d, h, m, s.  BD_ERR_FORMAT for the shape, BD_ERR_RANGE for 0 or more
 * than 100 years.
 */
enum bd_err
duration_parse(const char *s, int64_t *seconds)
{
	uint64_t n, unit;
	size_t len;
	enum bd_err rc;

	if (s == NULL || (len = strlen(s)) < 2 || s[0] < '0' || s[0] > '9')
		return bd_fail(BD_ERR_FORMAT, "duration is not <n>d|h|m|s");
	switch (s[len - 1]) {
	case 'd':
		unit = 86400;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'm':
		unit = 60;
		break;
	case 's':
		unit = 1;
		break;
	default:
		return bd_fail(BD_ERR_FORMAT, "duration unit is not d, h, m or s");
	}
	rc = num_u64(s, len - 1, 1, DURATION_MAX_SECONDS / unit, &n);
	if (rc == BD_ERR_FORMAT)
		return bd_fail(BD_ERR_FORMAT, "duration is not <n>d|h|m|s");
	if (rc != BD_OK)
		return bd_fail(BD_ERR_RANGE,
		    "duration must be positive and at most 100 years");
	*seconds = (int64_t)(n * unit);
	return BD_OK;
}
