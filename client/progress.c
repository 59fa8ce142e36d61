/*
 * progress.c - messages, progress bar, JSON events and the error line.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "progress.h"
#include "units.h"

#define BAR_INTERVAL_SECONDS	0.1
#define EVENT_INTERVAL_SECONDS	1.0

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints one event object as a line on stdout; takes ownership of o. */
static void
emit(json_t *o)
{
	char *s;

	if (o == NULL)
		return;
	if ((s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) != NULL) {
		printf("%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(o);
}

void
report_init(struct report *r, bool quiet, bool json)
{
	memset(r, 0, sizeof(*r));
	r->quiet = quiet;
	r->json = json;
	r->bar = !quiet && isatty(STDERR_FILENO);
}

void
report_info(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->quiet || r->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void
report_warn(struct report *r, const char *fmt, ...)
{
	va_list ap;

	(void)r;
	fflush(stdout);
	fputs("bootdrop-fetch: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
report_manifest(struct report *r, const char *channel, uint64_t version,
    const char *expires, const char *url, size_t nsigners)
{
	if (r->json)
		emit(json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "event",
		    "manifest", "channel", channel, "version",
		    (json_int_t)version, "expires", expires, "url", url,
		    "signers", (json_int_t)nsigners));
	else
		report_info(r, "manifest %s version %" PRIu64 " verified "
		    "(%zu signature%s, expires %s)", channel, version,
		    nsigners, nsigners == 1 ? "" : "s", expires);
}

void
report_artifact_start(struct report *r, const char *name, uint64_t size,
    uint64_t resumed)
{
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->total = size;
	r->resumed = resumed;
	r->start = now_seconds();
	r->last_draw = 0;
	r->last_event = r->start;
	r->bar_drawn = false;
	if (resumed > 0 && !r->json)
		report_info(r, "%s: resuming at byte %" PRIu64, name, resumed);
}

static void
bar_draw(struct report *r, uint64_t done, double now)
{
	char have[SIZE_TEXT_BYTES], total[SIZE_TEXT_BYTES], rate[SIZE_TEXT_BYTES];
	char eta[32];
	double secs = now - r->start, bps;

	bps = secs > 0 ? (double)(done - r->resumed) / secs : 0;
	size_format(done, false, have);
	size_format(r->total, false, total);
	size_format((uint64_t)bps, false, rate);
	if (bps > 0 && done < r->total) {
		double left = (double)(r->total - done) / bps;

		snprintf(eta, sizeof(eta), "ETA %02d:%02d",
		    (int)(left / 60) % 100, (int)left % 60);
	} else
		snprintf(eta, sizeof(eta), "%s", done >= r->total ?
		    "done     " : "ETA --:--");
	fprintf(stderr, "\r%-24.24s %3d%% %10s / %-10s %10s/s %s ", r->name,
	    r->total > 0 ? (int)(done * 100 / r->total) : 100, have, total,
	    rate, eta);
	r->bar_drawn = true;
}

void
report_artifact_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct report *r = ctx;
	double now;

	if (!r->bar && !r->json)
		return;
	now = now_seconds();
	if (r->bar && (now - r->last_draw >= BAR_INTERVAL_SECONDS ||
	    done == total)) {
		bar_draw(r, done, now);
		r->last_draw = now;
	}
	if (r->json && now - r->last_event >= EVENT_INTERVAL_SECONDS) {
		emit(json_pack("{s:s, s:s, s:I, s:I}", "event", "progress",
		    "name", r->name, "bytes", (json_int_t)done, "size",
		    (json_int_t)total));
		r->last_event = now;
	}
}

void
report_artifact_done(struct report *r, const char *name, uint64_t size,
    const char *sha256_hex)
{
	char human[SIZE_TEXT_BYTES];

	if (r->bar_drawn) {
		fputc('\n', stderr);
		r->bar_drawn = false;
	}
	if (r->json) {
		emit(json_pack("{s:s, s:s, s:I, s:s, s:I}", "event", "verified",
		    "name", name, "size", (json_int_t)size, "sha256",
		    sha256_hex, "resumed", (json_int_t)r->resumed));
		return;
	}
	size_format(size, false, human);
	report_info(r, "%s: %s verified (sha256 %s)", name, human, sha256_hex);
}

void
report_installed(struct report *r, const char *name, const char *path)
{
	if (r->json)
		emit(json_pack("{s:s, s:s, s:s}", "event", "installed", "name",
		    name, "path", path));
	else
		report_info(r, "installed %s", path);
}

void
report_plan(struct report *r, const char *name, uint64_t size,
    const char *sha256_hex, const char *path, bool keep_old)
{
	json_t *o;

	if (!r->json) {
		if (sha256_hex != NULL)
			report_info(r, "would install %s (%" PRIu64 " bytes, "
			    "sha256 %s) as %s%s", name, size, sha256_hex, path,
			    keep_old ? ", keeping the old one as .old" : "");
		else
			report_info(r, "would write %s", path);
		return;
	}
	o = json_pack("{s:s, s:s, s:s, s:I, s:b}", "event", "plan", "name",
	    name, "path", path, "size", (json_int_t)size, "keep_old",
	    keep_old);
	if (o != NULL && sha256_hex != NULL)
		json_object_set_new(o, "sha256", json_string(sha256_hex));
	emit(o);
}

void
report_check(struct report *r, const char *channel, uint64_t version,
    bool update)
{
	if (r->json)
		emit(json_pack("{s:s, s:s, s:I, s:b}", "event", "check",
		    "channel", channel, "version", (json_int_t)version,
		    "update", update));
}

int
report_result(struct report *r, enum bd_err rc, const char *what,
    const char *where, const char *detail, const char *summary)
{
	int status = bd_err_exit_status(rc);
	char reason[1024];

	if (r->bar_drawn) {
		fputc('\n', stderr);
		r->bar_drawn = false;
	}
	if (rc != BD_OK) {
		if (detail != NULL && detail[0] != '\0')
			snprintf(reason, sizeof(reason), "%s: %s",
			    bd_strerror(rc), detail);
		else
			snprintf(reason, sizeof(reason), "%s", bd_strerror(rc));
		fflush(stdout);
		if (where != NULL && where[0] != '\0')
			fprintf(stderr, "bootdrop-fetch: %s (%s): %s\n", what,
			    where, reason);
		else
			fprintf(stderr, "bootdrop-fetch: %s: %s\n", what,
			    reason);
	} else if (summary != NULL)
		report_info(r, "%s", summary);
	if (r->json) {
		json_t *o = json_pack("{s:s, s:i, s:b}", "event", "result",
		    "status", status, "ok", rc == BD_OK);

		if (o != NULL && rc != BD_OK) {
			json_object_set_new(o, "what", json_string(what));
			json_object_set_new(o, "where", json_string(
			    where != NULL ? where : ""));
			json_object_set_new(o, "reason", json_string(reason));
		} else if (o != NULL && summary != NULL)
			json_object_set_new(o, "summary", json_string(summary));
		emit(o);
	}
	return status;
}
