/*
 * progress.c - messages, progress bar, JSON events and the error line.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>

#include "download.h"
#include "manifest.h"
#include "num.h"
#include "progress.h"
#include "units.h"

#define BAR_INTERVAL_SECONDS	0.1
#define INTERRUPT_TEXT_BYTES	160

/*
 * What the interrupt notice needs, readable from a signal handler: KiB of
 * downloads kept on the destination, and the output mode.
 */
static volatile sig_atomic_t interrupt_kept_kib;
static volatile sig_atomic_t interrupt_json, interrupt_quiet;
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
	r->have = resumed;
	r->reused = 0;
	r->start = now_seconds();
	r->last_draw = 0;
	r->last_event = r->start;
	r->bar_drawn = false;
	r->resume_told = false;
	r->nmirrors = 0;
}

/* The terminal's width: TIOCGWINSZ on stderr, else $COLUMNS, else 80. */
static int
terminal_columns(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	uint64_t v;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env != NULL && num_u64_str(env, 1, 9999, &v) == BD_OK)
		return (int)v;
	return 80;
}

/* "ETA 59:59", "ETA 1:40:00", "ETA >99h"; never wraps around. */
static void
eta_format(double left, char *out, size_t cap)
{
	unsigned long t = left < 0 ? 0 : (unsigned long)left;

	if (t < 100 * 60)
		snprintf(out, cap, "ETA %02lu:%02lu", t / 60, t % 60);
	else if (t < 100 * 3600)
		snprintf(out, cap, "ETA %lu:%02lu:%02lu", t / 3600,
		    t / 60 % 60, t % 60);
	else
		snprintf(out, cap, "ETA >99h");
}

/*
 * The progress line for a terminal `columns` wide, into out (at least
 * columns bytes): never longer than columns - 1, so it cannot wrap.
 */
static void
report_bar_format(char *out, size_t cap, int columns, const char *name,
    uint64_t have, uint64_t total, uint64_t reused, double bps)
{
	char hv[SIZE_TEXT_BYTES], tot[SIZE_TEXT_BYTES], rate[SIZE_TEXT_BYTES];
	char ru[SIZE_TEXT_BYTES], eta[32], tail[256];
	size_t width, nlen, i;
	int pct = total > 0 ? (int)(have * 100 / total) : 100;

	if (cap == 0)
		return;
	width = columns > 1 ? (size_t)columns - 1 : 0;
	if (width > REPORT_BAR_MAX_COLUMNS)
		width = REPORT_BAR_MAX_COLUMNS;
	if (width >= cap)
		width = cap - 1;
	size_format(have, false, hv);
	size_format(total, false, tot);
	size_format((uint64_t)bps, false, rate);
	size_format(reused, false, ru);
	if (have >= total)
		snprintf(eta, sizeof(eta), "done");
	else if (bps > 0)
		eta_format((double)(total - have) / bps, eta, sizeof(eta));
	else
		snprintf(eta, sizeof(eta), "ETA --:--");
	/* Drop what does not fit, least useful first. */
	for (i = reused > 0 ? 0 : 1; i < 5; i++) {
		if (i == 0)	/* a delta: how much the installed version gave */
			snprintf(tail, sizeof(tail), " %3d%% %s / %s (%s reused) "
			    "%s/s %s", pct, hv, tot, ru, rate, eta);
		else if (i == 1)
			snprintf(tail, sizeof(tail), " %3d%% %s / %s %s/s %s",
			    pct, hv, tot, rate, eta);
		else if (i == 2)
			snprintf(tail, sizeof(tail), " %3d%% %s/s %s", pct,
			    rate, eta);
		else if (i == 3)
			snprintf(tail, sizeof(tail), " %3d%% %s", pct, eta);
		else
			snprintf(tail, sizeof(tail), " %3d%%", pct);
		if (strlen(tail) + 8 <= width)
			break;
	}
	nlen = strlen(name);
	if (strlen(tail) > width) {
		tail[width] = '\0';
		nlen = 0;
	} else if (nlen > width - strlen(tail))
		nlen = width - strlen(tail);
	snprintf(out, cap, "%.*s%s", (int)nlen, name, tail);
	/* Pad over whatever a longer previous line left. */
	for (i = strlen(out); i < width; i++)
		out[i] = ' ';
	out[width] = '\0';
}

static void
bar_draw(struct report *r, double now)
{
	char line[REPORT_BAR_MAX_COLUMNS + 1];
	double secs = now - r->start, bps;

	bps = secs > 0 && r->have > r->resumed ?
	    (double)(r->have - r->resumed) / secs : 0;
	report_bar_format(line, sizeof(line), terminal_columns(), r->name,
	    r->have, r->total, r->reused, bps);
	fprintf(stderr, "\r%s", line);
	r->bar_drawn = true;
}

/* [{"url": ..., "bytes": N}, ...] for the mirrors of this artifact. */
static json_t *
mirrors_json(const struct report *r)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < r->nmirrors; i++)
		json_array_append_new(a, json_pack("{s:s, s:I}", "url",
		    r->mirrors[i].url, "bytes",
		    (json_int_t)r->mirrors[i].bytes));
	return a;
}

void
report_artifact_progress(void *ctx, const struct dl_progress *p)
{
	struct report *r = ctx;
	double now = now_seconds();
	size_t i;

	r->have = p->have;
	r->total = p->size;
	r->reused = p->reused;
	interrupt_kept_kib = (sig_atomic_t)((r->done_bytes + p->have) / 1024 >
	    INT32_MAX ? INT32_MAX : (r->done_bytes + p->have) / 1024);
	r->nmirrors = p->nmirrors < REPORT_MIRRORS ? p->nmirrors :
	    REPORT_MIRRORS;
	for (i = 0; i < r->nmirrors; i++) {
		snprintf(r->mirrors[i].url, sizeof(r->mirrors[i].url), "%s",
		    p->mirrors[i].url);
		r->mirrors[i].bytes = p->mirrors[i].bytes;
	}
	if (!r->resume_told) {
		/* The first call: the part file has been looked at. */
		r->resume_told = true;
		r->resumed = p->resumed;
		r->start = now;
		r->last_event = now;
		if (p->resumed > 0 && r->json)
			emit(json_pack("{s:s, s:s, s:I}", "event", "resume",
			    "name", r->name, "bytes", (json_int_t)p->resumed));
		else if (p->resumed > 0) {
			char kept[SIZE_TEXT_BYTES];

			size_format(p->resumed, true, kept);
			report_info(r, "%s: resuming: %s kept from an earlier "
			    "run", r->name, kept);
		}
	}
	if (p->resumed < r->resumed)
		r->resumed = p->resumed;	/* started over */
	if (r->bar && (now - r->last_draw >= BAR_INTERVAL_SECONDS ||
	    p->final)) {
		bar_draw(r, now);
		r->last_draw = now;
	}
	if (r->json && now - r->last_event >= EVENT_INTERVAL_SECONDS) {
		emit(json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "event",
		    "progress", "name", r->name, "bytes", (json_int_t)p->have,
		    "size", (json_int_t)p->size, "reused", (json_int_t)p->reused,
		    "mirrors", mirrors_json(r)));
		r->last_event = now;
	}
}

void
report_mirror_excluded(void *ctx, const char *mirror, const char *why)
{
	struct report *r = ctx;

	if (r->bar_drawn) {
		fputc('\n', stderr);
		r->bar_drawn = false;
	}
	if (r->json)
		emit(json_pack("{s:s, s:s, s:s, s:b, s:s}", "event", "mirror",
		    "name", r->name, "url", mirror, "excluded", 1, "reason",
		    why));
	report_warn(r, "mirror %s excluded for %s: %s", mirror, r->name, why);
}

void
report_artifact_done(struct report *r, const char *name, uint64_t size,
    const char *sha256_hex)
{
	char human[SIZE_TEXT_BYTES];
	size_t i;

	r->done_bytes += size;
	if (r->bar_drawn) {
		fputc('\n', stderr);
		r->bar_drawn = false;
	}
	if (r->json) {
		emit(json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "event",
		    "verified", "name", name, "size", (json_int_t)size,
		    "sha256", sha256_hex, "resumed", (json_int_t)r->resumed,
		    "mirrors", mirrors_json(r)));
		return;
	}
	size_format(size, false, human);
	report_info(r, "%s: %s verified (sha256 %s)", name, human, sha256_hex);
	for (i = 0; r->verbose && i < r->nmirrors; i++) {
		if (r->mirrors[i].bytes == 0)
			continue;
		size_format(r->mirrors[i].bytes, false, human);
		report_info(r, "  %s: %s from %s", name, human,
		    r->mirrors[i].url);
	}
}

void
report_delta(struct report *r, const char *name, uint64_t size,
    uint64_t reused, uint64_t fetched, unsigned requests)
{
	char a[SIZE_TEXT_BYTES], b[SIZE_TEXT_BYTES], c[SIZE_TEXT_BYTES];

	if (r->json) {
		emit(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "event",
		    "delta", "name", name, "size", (json_int_t)size,
		    "reused", (json_int_t)reused, "fetched", (json_int_t)fetched,
		    "requests", (json_int_t)requests));
		return;
	}
	size_format(reused, false, a);
	size_format(fetched, false, b);
	size_format(size, false, c);
	report_info(r, "%s: %s reused from the installed version, %s fetched "
	    "by chunks (%u requests) instead of %s", name, a, b, requests, c);
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
report_removed(struct report *r, const char *path)
{
	if (r->json)
		emit(json_pack("{s:s, s:s}", "event", "removed", "path", path));
	else
		report_info(r, "removed %s (no version kept bootable uses it)",
		    path);
}

void
report_unchanged(struct report *r, const char *name, const char *path)
{
	if (r->json)
		emit(json_pack("{s:s, s:s, s:s}", "event", "unchanged", "name",
		    name, "path", path));
	else
		report_info(r, "%s: unchanged, kept (%s)", name, path);
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

/* "A B C": the key ids of ks, into out; also a JSON array when arr. */
static void
keyset_text(const struct bd_keyset *ks, char *out, size_t cap, json_t *arr)
{
	char hex[KEY_ID_HEX_BYTES];
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < ks->nkeys; i++) {
		keyid_hex(ks->keys[i].id, hex);
		if (arr != NULL)
			json_array_append_new(arr, json_string(hex));
		n = snprintf(out + used, cap - used, "%s%s", i > 0 ? " " : "",
		    hex);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
}

/* Appends the decimal digits of v to out at *at (async-signal-safe). */
static void
put_uint(char *out, size_t cap, size_t *at, unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof(digits));
	while (n > 0 && *at + 1 < cap)
		out[(*at)++] = digits[--n];
}

static void
put_str(char *out, size_t cap, size_t *at, const char *s)
{
	while (*s != '\0' && *at + 1 < cap)
		out[(*at)++] = *s++;
}

/*
 * Says what an interrupt leaves behind, then lets the signal's default
 * action end the process (so the exit status still tells the signal).
 * Only write() and raise(): it runs where the network is waited on.
 */
static void
interrupt_notice(int sig)
{
	char msg[INTERRUPT_TEXT_BYTES];
	unsigned long kib = (unsigned long)interrupt_kept_kib;
	size_t at = 0;
	int fd = STDERR_FILENO;

	if (interrupt_json) {
		put_str(msg, sizeof(msg), &at, "{\"event\":\"interrupted\","
		    "\"kept_bytes\":");
		put_uint(msg, sizeof(msg), &at, kib * 1024);
		put_str(msg, sizeof(msg), &at, "}\n");
		fd = STDOUT_FILENO;
	} else if (kib >= 1024) {
		put_str(msg, sizeof(msg), &at, "\nbootdrop-fetch: interrupted; "
		    "run again to resume (");
		put_uint(msg, sizeof(msg), &at, kib / 1024);
		put_str(msg, sizeof(msg), &at, ".");
		put_uint(msg, sizeof(msg), &at, kib % 1024 * 10 / 1024);
		put_str(msg, sizeof(msg), &at, " MiB kept)\n");
	} else if (kib > 0) {
		put_str(msg, sizeof(msg), &at, "\nbootdrop-fetch: interrupted; "
		    "run again to resume (");
		put_uint(msg, sizeof(msg), &at, kib);
		put_str(msg, sizeof(msg), &at, " KiB kept)\n");
	} else
		put_str(msg, sizeof(msg), &at, "\nbootdrop-fetch: interrupted; "
		    "nothing was installed\n");
	if (!interrupt_quiet || interrupt_json)
		(void)!write(fd, msg, at);
	raise(sig);
}

void
report_interrupts(struct report *r)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;
	size_t i;

	interrupt_json = r->json;
	interrupt_quiet = r->quiet;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = interrupt_notice;
	sa.sa_flags = (int)SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	/* An ignored signal stays ignored (nohup, a shell's background job). */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			(void)sigaction(sigs[i], &sa, NULL);
}

void
report_keys_changed(struct report *r, uint64_t version,
    const struct bd_keyset *before, const struct bd_keyset *after)
{
	char was[MANIFEST_MAX_KEYS * KEY_ID_HEX_BYTES];
	char now[MANIFEST_MAX_KEYS * KEY_ID_HEX_BYTES];
	json_t *a = NULL, *b = NULL;

	if (r->json) {
		a = json_array();
		b = json_array();
	}
	keyset_text(before, was, sizeof(was), a);
	keyset_text(after, now, sizeof(now), b);
	if (r->json)
		emit(json_pack("{s:s, s:I, s:o, s:I, s:o, s:I}", "event", "keys",
		    "version", (json_int_t)version, "before", a,
		    "before_threshold", (json_int_t)before->threshold, "after",
		    b, "after_threshold", (json_int_t)after->threshold));
	else
		report_info(r, "keys changed at version %" PRIu64 ": %s "
		    "(threshold %u), before %s (threshold %u)", version, now,
		    after->threshold, was, before->threshold);
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
	int status = rc == BD_OK ? r->ok_status : bd_err_exit_status(rc);
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
		} else if (o != NULL) {
			if (r->outcome != NULL)
				json_object_set_new(o, "outcome",
				    json_string(r->outcome));
			if (summary != NULL)
				json_object_set_new(o, "summary",
				    json_string(summary));
		}
		emit(o);
	}
	return status;
}
