/*
 * download.h - libcurl, used carefully: one easy handle reused for the
 * manifest and every blob (keep-alive), http/https only (redirects
 * included, at most DL_MAX_REDIRS), connect and low-speed timeouts, size
 * caps enforced in the write callback, HTTP status checked by us.
 *
 * Blobs stream into DESTDIR/.bootdrop/tmp/<sha256hex>.part through
 * SHA-256 as they arrive; a .part left by an interrupted run is re-hashed
 * and resumed with Range.  Mirrors are tried in order for every request.
 */
#ifndef BOOTDROP_DOWNLOAD_H
#define BOOTDROP_DOWNLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define DL_MAX_REDIRS		5
#define DL_BUFFER_BYTES		(512L << 10)	/* curl's receive buffer */
#define DL_URL_MAX_BYTES	2048
#define DL_MAX_MIRRORS		16
#define DL_PART_SUFFIX		".part"

struct dl_options {
	long connect_timeout;	/* seconds */
	long low_speed_time;	/* abort below 1 KiB/s for this many seconds */
	const char *cacert;	/* NULL: the system's CA store */
};

/* Called as bytes of a blob arrive (done includes resumed bytes). */
typedef void (*dl_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct dl_blob {
	const char *name;	/* artifact name, for messages */
	uint64_t size;
	uint8_t sha256[SHA256_BYTES];
	char hex[SHA256_HEX_BYTES];
	dl_progress_fn progress;
	void *progress_ctx;
};

struct dl;

/*
 * Makes a downloader around one curl easy handle.  curl_global_init() is
 * the caller's (once, in main).  Returns a new dl in *out; free with
 * dl_free().
 */
enum bd_err dl_new(const struct dl_options *o, struct dl **out);
void dl_free(struct dl *d);

/*
 * GETs url into a new buffer of at most max bytes (BD_ERR_TOOBIG beyond,
 * the transfer is aborted as soon as the cap is passed).  The buffer is
 * NUL-terminated after *len bytes; free with free().
 */
enum bd_err dl_get_buf(struct dl *d, const char *url, size_t max,
    uint8_t **buf, size_t *len);

/*
 * Downloads a blob from <mirror>/blobs/sha256/<hex>, trying mirrors in
 * order, into tmpdirfd/<hex>.part, capped at b->size and verified against
 * b->sha256.  An existing .part is re-hashed and resumed.  On success the
 * .part is complete and verified and *fd is an open read/write descriptor
 * of it (the caller closes it).  *resumed_from tells how many bytes were
 * already there.  A .part whose bytes failed verification is removed; one
 * left by a network failure is kept for the next run.
 */
enum bd_err dl_fetch_blob(struct dl *d, const char *const *mirrors,
    size_t nmirrors, int tmpdirfd, const struct dl_blob *b, int *fd,
    uint64_t *resumed_from);

/* The URL (or path) of the last failure, for the error line. */
const char *dl_where(const struct dl *d);

/* Last failure's detail, saved before cleanup could overwrite it. */
const char *dl_detail(const struct dl *d);

#endif
