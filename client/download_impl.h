/*
 * download_impl.h - what the files of the downloader share and nothing
 * else sees: the handle, a blob's job and its sources.
 *
 *	client/http.c		libcurl: the handle, failures as data,
 *				response headers, one-buffer requests
 *	client/span.c		the part file as a list of spans
 *	client/trailer.c	the part file's trailer, resuming a part
 *	client/sched.c		which source fetches which bytes
 *	client/download.c	one blob: transfers, hashing, blame
 */
#ifndef BOOTDROP_DOWNLOAD_IMPL_H
#define BOOTDROP_DOWNLOAD_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "download.h"
#include "span.h"

#define DL_ERRBODY_MAX_BYTES	(64u << 10)	/* error bodies we swallow */
#define DL_LOW_SPEED_BYTES	1024L
/* A manifest (or other capped response) must be complete within this many
 * low-speed windows: one dripped just above the limit would otherwise
 * hold the run for as long as its cap takes at 1 KiB/s. */
#define DL_BUF_DEADLINE_WINDOWS	4L
/* A blob request must average this rate, after the same slack of
 * DL_BUF_DEADLINE_WINDOWS low-speed windows: one trickled just above the
 * low-speed limit would otherwise hold the run for days.  The bytes it
 * brought stay in the part for the next mirror or the next run. */
#define DL_DEADLINE_RATE_BYTES	(16 * DL_LOW_SPEED_BYTES)
#define DL_WHERE_BYTES		(DL_URL_MAX_BYTES + 64)
#define DL_DETAIL_BYTES		512

struct dl {
	CURL *curl;		/* the manifest's handle, the template */
	CURLM *multi;		/* blobs */
	CURLSH *share;		/* one connection cache for every handle */
	char errbuf[CURL_ERROR_SIZE];
	char where[DL_WHERE_BYTES];
	char detail[DL_DETAIL_BYTES];
	struct dl_failure fail;	/* the last failure, as data */
	long buf_deadline;	/* seconds for a whole dl_get_buf() request */
	long low_speed_time;
};

/*
 * What a source is doing, or why it is out.  ASKED to CUT are a request
 * in flight (src_busy()); DEAD and BAD are never left.
 */
enum src_state {
	SRC_IDLE,		/* may be given work */
	SRC_ASKED,		/* request sent, no body byte yet */
	SRC_TAKING,		/* its status fits: the body is taken */
	SRC_ERROR_BODY,		/* an error status: the body is swallowed */
	SRC_RANGE_REFUSED,	/* a 200 or other bytes for a Range: ends */
	SRC_CUT,		/* reached bytes another source took: ends */
	SRC_DEAD,		/* out: a network or HTTP failure */
	SRC_BAD			/* out: its bytes were refused */
};

/* What a source may be asked for, whether busy or idle. */
enum src_takes {
	TAKES_RANGES,
	TAKES_RANGES_LAST,	/* stalled once: asked when no other is left */
	TAKES_WHOLE		/* refused a Range: whole-file duty only */
};

/* The kind of the request in flight. */
enum src_req {
	REQ_RANGE,		/* with Range: [req_start, req_end) */
	REQ_ALL,		/* without Range, all of [0, size) asked */
	REQ_WHOLE		/* without Range: the bytes below skip dropped */
};

struct job;

/* One mirror and its connection, for one blob. */
struct src {
	struct job *job;
	int idx;
	CURL *easy;
	char url[DL_URL_MAX_BYTES];	/* the mirror */
	char blob_url[DL_URL_MAX_BYTES];
	char errbuf[CURL_ERROR_SIZE];
	struct dl_response resp;
	enum src_state state;
	enum src_takes takes;
	/* the request in flight */
	enum src_req req;
	uint64_t req_start, req_end;	/* asked for [req_start, req_end) */
	uint64_t pos;		/* offset of the next byte to arrive */
	uint64_t end;		/* stop here (before req_end after a steal) */
	uint64_t skip;		/* whole-file duty: bytes below are dropped */
	long deadline;		/* seconds for the whole request */
	size_t error_bytes;
	enum bd_err rc;		/* a callback aborted: why, and fail */
	struct dl_failure fail;
	char rc_detail[DL_DETAIL_BYTES];
	/* write buffer: wlen bytes for offset wpos */
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint64_t wpos;
	/* speed */
	uint64_t bytes;		/* delivered for this blob */
	double since, last_byte, rate, rate_at;
	uint64_t rate_mark;
};

enum phase { PHASE_NORMAL, PHASE_CHECK, PHASE_SOLE };

/*
 * What a mirror served for an assembly the hash refused: its bytes
 * [start, end) hashed as they were on disk.  Judged once the artifact
 * verifies: bytes other than the verified ones name the mirror.
 */
struct evidence {
	int origin;
	uint64_t start, end;
	uint8_t sha256[SHA256_BYTES];
};

/* One blob being downloaded. */
struct job {
	struct dl *d;
	const struct dl_blob *b;
	int fd;
	struct span_list spans;
	struct sha256_ctx *ctx;
	uint64_t hashed;	/* [0, hashed) is done and hashed */
	uint8_t *scratch;	/* DL_REHASH_BYTES */
	struct src src[DL_MAX_MIRRORS];
	size_t nsrc;
	struct dl_mirror_stat stats[DL_MAX_MIRRORS];
	bool parallel;		/* this round: every mirror at once */
	bool trailer;		/* the part file carries a trailer */
	enum phase phase;
	int sole;		/* PHASE_SOLE: the one source used */
	struct evidence *ev;	/* DL_EVIDENCE_MAX */
	size_t nev;
	uint64_t resumed;
	enum bd_err fatal;	/* a local failure: stop everything */
	double last_flush, last_progress;
	enum bd_err last_rc;	/* the last source failure, for the caller */
};

static inline double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A request is in flight. */
static inline bool
src_busy(const struct src *s)
{
	return s->state >= SRC_ASKED && s->state <= SRC_CUT;
}

/* Failed or refused: not asked again. */
static inline bool
src_out(const struct src *s)
{
	return s->state == SRC_DEAD || s->state == SRC_BAD;
}

/* ---- client/http.c ---- */

/* A local failure's kind: the part file, or memory. */
enum dl_fail_kind local_kind(enum bd_err rc);

/*
 * Fills *f and records the detail (printf-style) with bd_fail(); returns
 * the enum bd_err of kind.
 */
enum bd_err fail_set(struct dl_failure *f, enum dl_fail_kind kind,
    long status, CURLcode cc, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Fails a request whose transfer reported cc, in curl's words. */
enum bd_err curl_failure(CURLcode cc, const char *errbuf,
    struct dl_failure *f);

/* Remembers where and why the current request failed, and as what. */
enum bd_err dl_record_failure(struct dl *d, const struct dl_failure *f,
    const char *where, const char *detail);

/* dl_record() (download.h): dl_record_failure() of a kind that has no
 * status or curl code. */

/* ---- client/sched.c ---- */

/* Hands out work to every idle source that may take some. */
enum bd_err job_assign(struct job *j);

/* Speeds, periodic flush and trailer, progress. */
enum bd_err job_tick(struct job *j);

/* Sources not out. */
size_t usable_count(const struct job *j);

/* The next source after index after that is not out, or -1. */
int next_sole(const struct job *j, int after);

/* ---- client/download.c ---- */

/*
 * Asks s for [start, end) of span; whole: without Range, the body starts
 * at byte 0 and what comes before start is dropped.
 */
enum bd_err src_request(struct job *j, struct src *s, size_t span,
    uint64_t start, uint64_t end, bool whole);

/*
 * Ends s's transfer (already finished by curl, or abandoned): flushes,
 * and gives back what it did not fill as free bytes.
 */
enum bd_err src_release(struct job *j, struct src *s);

/* Writes out what s's write buffer holds. */
enum bd_err src_flush(struct src *s);

/* Records the written spans in the part's trailer. */
enum bd_err job_trailer_write(struct job *j);

/* Tells the blob's progress callback. */
void job_progress(struct job *j, bool final);

#endif
