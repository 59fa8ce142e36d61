/*
 * test_timefmt.c - RFC 3339 timestamps and durations: the accepted forms
 * round-trip, everything else is refused with the documented code.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "err.h"
#include "timefmt.h"


static enum bd_err
parse(const char *s)
{
	time_t t;

	return time_parse(s, &t);
}

static enum bd_err
dur(const char *s)
{
	int64_t v;

	return duration_parse(s, &v);
}

static void
test_time(void)
{
	char buf[TIME_RFC3339_BYTES];
	time_t t;

	CHECK_THAT(time_parse("1970-01-01T00:00:00Z", &t) == BD_OK && t == 0);
	CHECK_THAT(time_parse("2026-11-26T12:00:00Z", &t) == BD_OK &&
	    t == 1795694400);
	time_format(t, buf);
	CHECK_THAT(strcmp(buf, "2026-11-26T12:00:00Z") == 0);
	CHECK_THAT(time_parse("2024-02-29T23:59:59Z", &t) == BD_OK);
	CHECK_THAT(time_parse("2000-02-29T00:00:00Z", &t) == BD_OK);
	CHECK_THAT(time_parse("9999-12-31T23:59:59Z", &t) == BD_OK &&
	    t == 253402300799);
	time_format(t, buf);
	CHECK_THAT(strcmp(buf, "9999-12-31T23:59:59Z") == 0);
	time_format(-5, buf);
	CHECK_THAT(strcmp(buf, "1970-01-01T00:00:00Z") == 0);
	time_format((time_t)1 << 40, buf);
	CHECK_THAT(strcmp(buf, "9999-12-31T23:59:59Z") == 0);

	/* shape */
	CHECK_THAT(parse("") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-11-26T12:00:00") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-11-26t12:00:00Z") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-11-26T12:00:00z") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-11-26 12:00:00Z") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-11-26T12:00:00+00:00") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-11-26T12:00:00.5Z") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-11-26T12:00:00ZZ") == BD_ERR_FORMAT);
	CHECK_THAT(parse(" 2026-11-26T12:00:00Z") == BD_ERR_FORMAT);
	CHECK_THAT(parse("+026-11-26T12:00:00Z") == BD_ERR_FORMAT);
	CHECK_THAT(parse("2026-1-026T12:00:00Z") == BD_ERR_FORMAT);
	CHECK_THAT(parse(NULL) == BD_ERR_FORMAT);
	/* ranges */
	CHECK_THAT(parse("1969-12-31T23:59:59Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("0000-01-01T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-00-01T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-13-01T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-01-00T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-01-32T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-04-31T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2025-02-29T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("1900-02-29T00:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-01-01T24:00:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-01-01T00:60:00Z") == BD_ERR_RANGE);
	CHECK_THAT(parse("2026-01-01T00:00:60Z") == BD_ERR_RANGE);
}

static void
test_duration(void)
{
	int64_t v;

	CHECK_THAT(duration_parse("90d", &v) == BD_OK && v == 90 * 86400);
	CHECK_THAT(duration_parse("12h", &v) == BD_OK && v == 12 * 3600);
	CHECK_THAT(duration_parse("30m", &v) == BD_OK && v == 1800);
	CHECK_THAT(duration_parse("45s", &v) == BD_OK && v == 45);
	CHECK_THAT(duration_parse("36525d", &v) == BD_OK &&
	    v == (int64_t)36525 * 86400);

	CHECK_THAT(dur("") == BD_ERR_FORMAT);
	CHECK_THAT(dur("d") == BD_ERR_FORMAT);
	CHECK_THAT(dur("90") == BD_ERR_FORMAT);
	CHECK_THAT(dur("90w") == BD_ERR_FORMAT);
	CHECK_THAT(dur("90D") == BD_ERR_FORMAT);
	CHECK_THAT(dur("-1d") == BD_ERR_FORMAT);
	CHECK_THAT(dur("+1d") == BD_ERR_FORMAT);
	CHECK_THAT(dur(" 1d") == BD_ERR_FORMAT);
	CHECK_THAT(dur("1 d") == BD_ERR_FORMAT);
	CHECK_THAT(dur("1.5d") == BD_ERR_FORMAT);
	CHECK_THAT(dur("0x10s") == BD_ERR_FORMAT);
	CHECK_THAT(dur(NULL) == BD_ERR_FORMAT);
	CHECK_THAT(dur("0d") == BD_ERR_RANGE);
	CHECK_THAT(dur("36526d") == BD_ERR_RANGE);
	CHECK_THAT(dur("3155760001s") == BD_ERR_RANGE);
	CHECK_THAT(dur("99999999999999999999999d") == BD_ERR_RANGE);
	CHECK_THAT(dur("18446744073709551615s") == BD_ERR_RANGE);
}

int
main(void)
{
	test_time();
	test_duration();
	if (check_failures > 0) {
		printf("%d check(s) failed\n", check_failures);
		return 1;
	}
	return 0;
}
