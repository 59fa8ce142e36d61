/*
 * accesslog.h - one line per request, in the combined log format
 *
 *   127.0.0.1 - - [26/Nov/2026:12:00:00 +0000] "GET /path HTTP/1.1" 200 512 "-" "curl/7.88"
 *
 * or as JSON lines.  Every string that came from the client (method, URI,
 * version, referer, user agent) is escaped: quotes, backslashes, control
 * characters and non-ASCII bytes never reach the log unescaped, so a
 * client cannot forge lines or terminal escapes.  Each line is written
 * with one write(2) so lines from concurrent requests never interleave.
 */
#ifndef BOOTDROP_ACCESSLOG_H
#define BOOTDROP_ACCESSLOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

#define ACCESSLOG_FIELD_MAX_BYTES	512	/* longer client strings are cut */
#define ACCESSLOG_LINE_MAX_BYTES	8192

enum accesslog_format {
	ACCESSLOG_COMBINED,
	ACCESSLOG_JSON
};

/* What one finished request contributes to the log; strings may be NULL. */
struct accesslog_entry {
	time_t when;
	const char *client;	/* numeric address */
	const char *method;
	const char *uri;	/* raw, as received */
	const char *version;
	unsigned status;
	uint64_t bytes;		/* body bytes of the response, 0 for HEAD */
	const char *referer;
	const char *user_agent;
	bool completed;		/* the response was sent to the end */
	double seconds;		/* time from request line to completion */
};

struct accesslog;

/*
 * Opens the log: path NULL or "-" is standard output, otherwise the file
 * is opened for appending (created 0640).  Returns a new log in *out; free
 * with accesslog_close().
 */
enum bd_err accesslog_open(const char *path, enum accesslog_format fmt,
    struct accesslog **out);

/* Writes one line; safe from any thread.  A NULL log writes nothing. */
void accesslog_write(struct accesslog *log, const struct accesslog_entry *e);

/* Closes the log (never standard output); NULL is allowed. */
void accesslog_close(struct accesslog *log);

/*
 * Escapes src for a quoted log field into dst (cap bytes, always
 * NUL-terminated): '"' and '\\' are backslashed, other bytes outside
 * 0x20..0x7e become \xHH.  json selects JSON escapes (\" \\ \u00HH).
 * Input longer than ACCESSLOG_FIELD_MAX_BYTES is cut and marked "...".
 */
void accesslog_escape(const char *src, bool json, char *dst, size_t cap);

/*
 * Reopens the log file at the path it was opened with (SIGHUP after a
 * rotation): lines written meanwhile go to the old file or the new one,
 * never lost.  Standard output is left alone.  On failure the old file
 * stays in use.
 */
enum bd_err accesslog_reopen(struct accesslog *log);

/*
 * The server's error log on standard error, bounded: a message of a kind
 * not seen before is printed in full; later ones of that kind only when
 * their count reaches a power of two, with the count ("(1024 times)"), so
 * a flood of one error costs log2(n) lines and the first line of every
 * kind survives.  A kind is the message's text together with kind (any
 * key, e.g. the format string's address); past 127 kinds the rest count
 * as one.  Thread-safe.
 */
void errlog_vprint(uintptr_t kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void errlog_print(uintptr_t kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
