/*
 * progress.h - everything bootdrop-fetch tells people and scripts:
 * messages on stdout (unless quiet), a progress bar on stderr when it is
 * a terminal, one JSON object per line on stdout with --json, and the one
 * error line "bootdrop-fetch: <what failed> (<where>): <reason>".
 */
#ifndef BOOTDROP_PROGRESS_H
#define BOOTDROP_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define REPORT_NAME_BYTES	160
#define REPORT_MIRRORS		16
#define REPORT_URL_BYTES	256
#define REPORT_BAR_MAX_COLUMNS	400

struct dl_progress;

struct report {
	bool quiet;
	bool json;
	bool verbose;		/* -v: per-mirror bytes */
	bool bar;		/* stderr is a terminal and not quiet */
	bool bar_drawn;
	bool resume_told;	/* "resuming: N kept" printed */
	char name[REPORT_NAME_BYTES];
	uint64_t total, resumed, have;
	uint64_t reused;	/* of have, from the installed version */
	uint64_t done_bytes;	/* of the artifacts verified so far */
	/* A successful run's verdict for report_result(): */
	const char *outcome;	/* "installed", "up-to-date", ... */
	int ok_status;		/* its exit status (0, or 100 for --check) */
	double start, last_draw, last_event;
	/* per-mirror bytes of the current artifact, from the downloader */
	size_t nmirrors;
	struct {
		char url[REPORT_URL_BYTES];
		uint64_t bytes;
	} mirrors[REPORT_MIRRORS];
};

/*
 * SIGINT, SIGTERM and SIGHUP, when delivered, first say what the run
 * leaves behind ("interrupted; run again to resume (N MiB kept)", or a
 * JSON "interrupted" event), then take their default action.
 */
void report_interrupts(struct report *r);

/* Decides the modes (the bar only when isatty(2) and not quiet). */
void report_init(struct report *r, bool quiet, bool json);

/* Information for people (stdout; nothing when quiet or json). */
void report_info(struct report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A warning: always on stderr ("bootdrop-fetch: warning: ..."). */
void report_warn(struct report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void report_manifest(struct report *r, const char *channel, uint64_t version,
    const char *expires, const char *url, size_t nsigners);
void report_artifact_start(struct report *r, const char *name,
    uint64_t size, uint64_t resumed);
/* dl_progress_fn-compatible: ctx is the struct report. */
void report_artifact_progress(void *ctx, const struct dl_progress *p);
/* dl_warn_fn-compatible: a mirror was excluded; says which and why. */
void report_mirror_excluded(void *ctx, const char *mirror, const char *why);

void report_artifact_done(struct report *r, const char *name, uint64_t size,
    const char *sha256_hex);
/*
 * A delta download of artifact name (size bytes): reused bytes copied from
 * the installed version, fetched bytes (chunk indexes and pack ranges) in
 * that many Range requests.
 */
void report_delta(struct report *r, const char *name, uint64_t size,
    uint64_t reused, uint64_t fetched, unsigned requests);
void report_installed(struct report *r, const char *name, const char *path);
/* A file of an older version, removed by the install. */
void report_removed(struct report *r, const char *path);
/* Artifact name is installed at path byte for byte: not downloaded. */
void report_unchanged(struct report *r, const char *name, const char *path);
/* --check's plan, one file per call; with --json a "plan" event. */
void report_plan(struct report *r, const char *name, uint64_t size,
    const char *sha256_hex, const char *path, bool keep_old);
/*
 * The channel's keys changed at version (a rotation followed): one line
 * "keys changed at version N: ...", or with --json a "keys" event.
 */
void report_keys_changed(struct report *r, uint64_t version,
    const struct bd_keyset *before, const struct bd_keyset *after);
/* --check's verdict: with --json a "check" event (update true or false). */
void report_check(struct report *r, const char *channel, uint64_t version,
    bool update);

/*
 * The end: for a failure prints the one error line on stderr; with --json
 * also a "result" object ("status" the exit status; on success "outcome"
 * from r->outcome).  Returns the exit status: for rc, or r->ok_status when
 * rc is BD_OK.
 */
int report_result(struct report *r, enum bd_err rc, const char *what,
    const char *where, const char *detail, const char *summary);

#endif
