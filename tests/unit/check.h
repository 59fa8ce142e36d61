/*
 * check.h - the unit tests' assertions.  Each check prints one line
 * ("ok: ..." or "FAIL: ...") and check_done() turns the count of failures
 * into the exit status.  Header-only: every test is one program.
 */
#ifndef BOOTDROP_CHECK_H
#define BOOTDROP_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static int check_failures, check_passes;

#define CHECK(cond, ...) check((cond), #cond, __VA_ARGS__)
/* The condition is its own description. */
#define CHECK_THAT(cond) check((cond), #cond, "%s", #cond)
#define CHECK_RC(expr, want, what) check_rc((expr), (want), #expr, (what))

static inline void __attribute__((format(printf, 3, 4)))
check(bool ok, const char *expr, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok) {
		printf(" [%s]", expr);
		check_failures++;
	} else
		check_passes++;
	printf("\n");
}

static inline void
check_rc(enum bd_err got, enum bd_err want, const char *expr, const char *what)
{
	printf("%s: %s: %s", got == want ? "ok" : "FAIL", what,
	    bd_strerror(got));
	if (got != BD_OK)
		printf(" (%s)", bd_err_detail());
	if (got != want) {
		printf(" [%s, want %s]", expr, bd_strerror(want));
		check_failures++;
	} else
		check_passes++;
	printf("\n");
}

/* Returns "dir/name" in one of four rotating static buffers. */
static inline const char *
join_path(const char *dir, const char *name)
{
	static char buf[4][1024];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* Reads a whole small file into buf (NUL-terminated); returns its length. */
static inline size_t
slurp(const char *path, char *buf, size_t cap)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		printf("FAIL: open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

/*
 * s with the first from replaced by to, in new memory (exit 2 when out
 * of memory).  A from that is not in s is a failed check, so a test whose
 * replacement does not apply fails rather than passing on an untouched
 * input.
 */
static inline char *
check_replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *out;
	size_t n;

	if (at == NULL) {
		printf("FAIL: \"%s\" not found in the input\n", from);
		check_failures++;
		at = s + strlen(s);
		from = to = "";
	}
	n = strlen(s) - strlen(from) + strlen(to) + 1;
	if ((out = malloc(n)) == NULL) {
		fprintf(stderr, "check_replace: out of memory\n");
		exit(2);
	}
	snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static inline int
check_done(void)
{
	printf("%d passed, %d failed\n", check_passes, check_failures);
	return check_failures == 0 ? 0 : 1;
}

#endif
