/*
 * accesslog.c - the access log of bootdrop-server (see accesslog.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"

struct accesslog {
	int fd;			/* its file replaced by accesslog_reopen() */
	bool owned;
	enum accesslog_format fmt;
	char *path;		/* NULL for standard output */
};

#define ERRLOG_KINDS		128
#define ERRLOG_LINE_BYTES	1024

/*
 * How often each kind of error message was seen; once the table is full,
 * new kinds share slot 0, so the log stays bounded whatever the input.
 */
static struct {
	uintptr_t kind;
	uint64_t count;
} errlog_seen[ERRLOG_KINDS];
static pthread_mutex_t errlog_lock = PTHREAD_MUTEX_INITIALIZER;

enum bd_err
accesslog_open(const char *path, enum accesslog_format fmt,
    struct accesslog **out)
{
	struct accesslog *log = NULL;
	enum bd_err rc = BD_OK;

	*out = NULL;
	if ((log = calloc(1, sizeof(*log))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "access log");
		goto out;
	}
	log->fmt = fmt;
	if (path == NULL || strcmp(path, "-") == 0) {
		log->fd = STDOUT_FILENO;
	} else {
		log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOCTTY, 0640);
		if (log->fd == -1) {
			rc = bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		log->owned = true;
		if ((log->path = strdup(path)) == NULL) {
			rc = bd_fail(BD_ERR_NOMEM, "access log");
			goto out;
		}
	}
	*out = log;
	log = NULL;
out:
	if (log != NULL) {
		if (log->owned && log->fd != -1)
			close(log->fd);
		free(log->path);
	}
	free(log);
	return rc;
}

enum bd_err
accesslog_reopen(struct accesslog *log)
{
	int fd;

	if (log == NULL || log->path == NULL)
		return BD_OK;
	fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640);
	if (fd == -1)
		return bd_fail(BD_ERR_IO, "%s: %s", log->path, strerror(errno));
	/*
	 * dup2 swaps the file under the same descriptor atomically: a line
	 * written concurrently lands whole in the old file or the new one.
	 */
	if (dup2(fd, log->fd) == -1) {
		close(fd);
		return bd_fail(BD_ERR_IO, "%s: %s", log->path, strerror(errno));
	}
	close(fd);
	return BD_OK;
}

/* Counts one message of kind; true when it is to be printed. */
static bool
errlog_count(uintptr_t kind, uint64_t *count)
{
	size_t i, slot = 0;
	uint64_t n;

	pthread_mutex_lock(&errlog_lock);
	for (i = 1; i < ERRLOG_KINDS; i++) {
		if (errlog_seen[i].kind == kind || errlog_seen[i].count == 0) {
			slot = i;
			break;
		}
	}
	errlog_seen[slot].kind = kind;
	n = ++errlog_seen[slot].count;
	pthread_mutex_unlock(&errlog_lock);
	*count = n;
	return (n & (n - 1)) == 0;
}

void
errlog_vprint(uintptr_t kind, const char *fmt, va_list ap)
{
	char line[ERRLOG_LINE_BYTES];
	uint64_t count, h = 14695981039346656037ull;
	size_t n, i;
	int len;

	len = snprintf(line, sizeof(line), "bootdrop-server: ");
	if (len < 0)
		return;
	n = (size_t)len;
	len = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (len < 0)
		return;
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	/* One kind per distinct text: the first line of each survives. */
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)line[i]) * 1099511628211ull;
	if (!errlog_count(kind ^ (uintptr_t)h, &count))
		return;
	if (count > 1)
		snprintf(line + n, sizeof(line) - n, " (%llu times)",
		    (unsigned long long)count);
	n = strlen(line);
	if (n + 1 < sizeof(line)) {
		line[n++] = '\n';
	} else {
		line[sizeof(line) - 2] = '\n';
		n = sizeof(line) - 1;
	}
	(void)!write(STDERR_FILENO, line, n);
}

void
errlog_print(uintptr_t kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlog_vprint(kind, fmt, ap);
	va_end(ap);
}

void
accesslog_close(struct accesslog *log)
{
	if (log == NULL)
		return;
	if (log->owned)
		close(log->fd);
	free(log->path);
	free(log);
}

void
accesslog_escape(const char *src, bool json, char *dst, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)(src ? src : "-");
	size_t o = 0, n;

	if (cap == 0)
		return;
	for (n = 0; s[n] != '\0'; n++) {
		char e[8];
		size_t elen;
		unsigned char ch = s[n];

		if (n == ACCESSLOG_FIELD_MAX_BYTES) {
			memcpy(e, "...", 3);
			elen = 3;
			if (o + elen < cap) {
				memcpy(dst + o, e, elen);
				o += elen;
			}
			break;
		}
		if (ch == '"' || ch == '\\') {
			e[0] = '\\';
			e[1] = (char)ch;
			elen = 2;
		} else if (ch >= 0x20 && ch < 0x7f) {
			e[0] = (char)ch;
			elen = 1;
		} else if (json) {
			memcpy(e, "\\u00", 4);
			e[4] = hex[ch >> 4];
			e[5] = hex[ch & 15];
			elen = 6;
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[ch >> 4];
			e[3] = hex[ch & 15];
			elen = 4;
		}
		if (o + elen >= cap)
			break;
		memcpy(dst + o, e, elen);
		o += elen;
	}
	dst[o] = '\0';
}

/*
 * The formatted times of the current second, per thread: gmtime_r takes
 * glibc's time-zone lock and strftime is slow, once per request each.
 */
static __thread time_t log_when = (time_t)-1;
static __thread char log_clf[64], log_iso[64];

static const char *
log_time(time_t when, bool json)
{
	struct tm tm;

	if (when != log_when) {
		gmtime_r(&when, &tm);
		strftime(log_clf, sizeof(log_clf), "%d/%b/%Y:%H:%M:%S +0000", &tm);
		strftime(log_iso, sizeof(log_iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
		log_when = when;
	}
	return json ? log_iso : log_clf;
}

/* A line being built: appends are cut at cap. */
struct linebuf {
	char *p;
	size_t n, cap;
};

static void
lb_put(struct linebuf *b, const char *s, size_t len)
{
	if (len > b->cap - b->n)
		len = b->cap - b->n;
	memcpy(b->p + b->n, s, len);
	b->n += len;
}

static void
lb_str(struct linebuf *b, const char *s)
{
	lb_put(b, s, strlen(s));
}

static void
lb_u64(struct linebuf *b, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	lb_put(b, d + i, sizeof(d) - i);
}

void
accesslog_write(struct accesslog *log, const struct accesslog_entry *e)
{
	/* Each escaped field is at most 4 * FIELD_MAX + 4 bytes ("\u00HH" is 6 in JSON). */
	enum { F = 6 * ACCESSLOG_FIELD_MAX_BYTES + 8 };
	char method[64], uri[F], version[64], ref[F], ua[F];
	char line[ACCESSLOG_LINE_MAX_BYTES];
	struct linebuf b = { line, 0, sizeof(line) - 1 };
	bool json;
	int n;

	if (log == NULL)
		return;
	json = log->fmt == ACCESSLOG_JSON;
	accesslog_escape(e->method, json, method, sizeof(method));
	accesslog_escape(e->uri, json, uri, sizeof(uri));
	accesslog_escape(e->version, json, version, sizeof(version));
	accesslog_escape(e->referer, json, ref, sizeof(ref));
	accesslog_escape(e->user_agent, json, ua, sizeof(ua));
	if (json) {
		n = snprintf(line, sizeof(line),
		    "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\","
		    "\"uri\":\"%s\",\"protocol\":\"%s\",\"status\":%u,"
		    "\"bytes\":%llu,\"referer\":\"%s\",\"user_agent\":\"%s\","
		    "\"completed\":%s,\"seconds\":%.6f}\n",
		    log_time(e->when, true), e->client ? e->client : "-", method,
		    uri, version, e->status, (unsigned long long)e->bytes, ref, ua,
		    e->completed ? "true" : "false", e->seconds);
		if (n < 0)
			return;
		if ((size_t)n >= sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
	} else {
		/* "%s - - [%s] \"%s %s %s\" %u %llu \"%s\" \"%s\"\n", by hand */
		lb_str(&b, e->client ? e->client : "-");
		lb_put(&b, " - - [", 6);
		lb_str(&b, log_time(e->when, false));
		lb_put(&b, "] \"", 3);
		lb_str(&b, method);
		lb_put(&b, " ", 1);
		lb_str(&b, uri);
		lb_put(&b, " ", 1);
		lb_str(&b, version);
		lb_put(&b, "\" ", 2);
		lb_u64(&b, e->status);
		lb_put(&b, " ", 1);
		lb_u64(&b, e->bytes);
		lb_put(&b, " \"", 2);
		lb_str(&b, ref);
		lb_put(&b, "\" \"", 3);
		lb_str(&b, ua);
		lb_put(&b, "\"\n", 2);
		if (b.n == b.cap)
			line[b.n - 1] = '\n';
		n = (int)b.n;
	}
	/* A failing log must not take the server down; the line is lost. */
	while (write(log->fd, line, (size_t)n) == -1 && errno == EINTR)
		;
}
