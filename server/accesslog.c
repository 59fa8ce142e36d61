/*
 * accesslog.c - the access log of bootdrop-server (see accesslog.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"

struct accesslog {
	int fd;
	bool owned;
	enum accesslog_format fmt;
};

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
	}
	*out = log;
	log = NULL;
out:
	free(log);
	return rc;
}

void
accesslog_close(struct accesslog *log)
{
	if (log == NULL)
		return;
	if (log->owned)
		close(log->fd);
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

void
accesslog_write(struct accesslog *log, const struct accesslog_entry *e)
{
	/* Each escaped field is at most 4 * FIELD_MAX + 4 bytes ("\u00HH" is 6 in JSON). */
	enum { F = 6 * ACCESSLOG_FIELD_MAX_BYTES + 8 };
	char method[64], uri[F], version[64], ref[F], ua[F];
	char when[64], line[ACCESSLOG_LINE_MAX_BYTES];
	bool json;
	struct tm tm;
	int n;

	if (log == NULL)
		return;
	json = log->fmt == ACCESSLOG_JSON;
	accesslog_escape(e->method, json, method, sizeof(method));
	accesslog_escape(e->uri, json, uri, sizeof(uri));
	accesslog_escape(e->version, json, version, sizeof(version));
	accesslog_escape(e->referer, json, ref, sizeof(ref));
	accesslog_escape(e->user_agent, json, ua, sizeof(ua));
	gmtime_r(&e->when, &tm);
	if (json) {
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = snprintf(line, sizeof(line),
		    "{\"time\":\"%s\",\"client\":\"%s\",\"method\":\"%s\","
		    "\"uri\":\"%s\",\"protocol\":\"%s\",\"status\":%u,"
		    "\"bytes\":%llu,\"referer\":\"%s\",\"user_agent\":\"%s\","
		    "\"completed\":%s,\"seconds\":%.6f}\n",
		    when, e->client ? e->client : "-", method, uri, version,
		    e->status, (unsigned long long)e->bytes, ref, ua,
		    e->completed ? "true" : "false", e->seconds);
	} else {
		strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
		n = snprintf(line, sizeof(line),
		    "%s - - [%s] \"%s %s %s\" %u %llu \"%s\" \"%s\"\n",
		    e->client ? e->client : "-", when, method, uri, version,
		    e->status, (unsigned long long)e->bytes, ref, ua);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* A failing log must not take the server down; the line is lost. */
	while (write(log->fd, line, (size_t)n) == -1 && errno == EINTR)
		;
}
