/*
 * chunkfetch.c - delta downloads of chunked artifacts (see chunkfetch.h):
 * the previous manifest, the seed and the indexes come from here; the
 * assembly of the part file from seed and pack is client/delta.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chunk.h"
#include "chunkfetch.h"
#include "delta.h"
#include "rangefetch.h"
#include "layout.h"
#include "units.h"

#define CF_WHY_BYTES	512

struct chunkfetch {
	struct chunkfetch_opts o;
	bool prev_tried;
	struct bd_manifest *prev;	/* the accepted version, verified */
	char why[CF_WHY_BYTES];
};

/* One artifact's pack fetch: ranges in flight over every mirror. */
struct pack_src {
	struct chunkfetch *c;
	struct rangefetch *rf;
	char pack_hex[SHA256_HEX_BYTES];
};

static void
why_set(struct chunkfetch *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
why_set(struct chunkfetch *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

enum bd_err
chunkfetch_new(const struct chunkfetch_opts *o, struct chunkfetch **out)
{
	struct chunkfetch *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return bd_fail(BD_ERR_NOMEM, "chunk fetcher");
	c->o = *o;
	*out = c;
	return BD_OK;
}

void
chunkfetch_free(struct chunkfetch *c)
{
	if (c == NULL)
		return;
	manifest_free(c->prev);
	free(c);
}

/*
 * The manifest of the version the state accepted, from the first mirror
 * that serves it verified by the state's keys and hashing as the state
 * recorded; NULL when there is none (no state, or none verifies).
 */
static const struct bd_manifest *
prev_manifest(struct chunkfetch *c)
{
	const struct bd_state *st = c->o.state;
	struct bd_manifest *m = NULL;
	struct bd_trust trust;
	char rel[LAYOUT_PATH_BYTES], url[DL_URL_MAX_BYTES];
	uint8_t *buf = NULL;
	size_t len, i;

	if (c->prev_tried || !st->present || !st->has_keys)
		goto out;
	c->prev_tried = true;
	keyset_trust(&st->keys, &trust);
	layout_version_path(c->o.channel, st->version, rel);
	for (i = 0; i < c->o.nmirrors && c->prev == NULL; i++) {
		if (snprintf(url, sizeof(url), "%s/%s", c->o.mirrors[i], rel) >=
		    (int)sizeof(url))
			continue;
		if (dl_get_buf(c->o.dl, url, MANIFEST_MAX_BYTES, &buf, &len) ==
		    BD_OK && manifest_verify_load(buf, len, &trust,
		    c->o.channel, &m) == BD_OK && m->version == st->version &&
		    sodium_memcmp(m->payload_sha256, st->payload_sha256,
		    SHA256_BYTES) == 0) {
			c->prev = m;
			m = NULL;
		}
		manifest_free(m);
		m = NULL;
		free(buf);
		buf = NULL;
	}
	bd_err_clear();
out:
	return c->prev;
}

/*
 * Fetches the chunk index blob hex (size bytes, hashing to sha256) from
 * the first mirror that has it, and parses it; its artifact size must be
 * artifact_size.  Counts the bytes in st.
 */
static enum bd_err
index_fetch(struct chunkfetch *c, const char *hex, const uint8_t *sha256,
    uint64_t size, uint64_t artifact_size, struct chunk_index **out,
    struct chunkfetch_stats *st)
{
	char rel[LAYOUT_PATH_BYTES], url[DL_URL_MAX_BYTES];
	uint8_t *buf = NULL, got[SHA256_BYTES];
	size_t len, i;
	enum bd_err rc = BD_ERR_NETWORK;

	*out = NULL;
	if (size > CHUNK_INDEX_MAX_BYTES)
		rc = bd_fail(BD_ERR_TOOBIG, "chunk index %s: %llu bytes", hex,
		    (unsigned long long)size);
	layout_blob_path(hex, rel);
	for (i = 0; size <= CHUNK_INDEX_MAX_BYTES && i < c->o.nmirrors &&
	    *out == NULL; i++) {
		if (snprintf(url, sizeof(url), "%s/%s", c->o.mirrors[i], rel) >=
		    (int)sizeof(url))
			continue;
		if ((rc = dl_get_buf(c->o.dl, url, (size_t)size, &buf, &len)) !=
		    BD_OK)
			continue;
		st->fetched_bytes += len;
		sha256_buf(buf, len, got);
		if (len != size ||
		    sodium_memcmp(got, sha256, SHA256_BYTES) != 0)
			rc = bd_fail(BD_ERR_HASH, "chunk index %s from %s: not "
			    "the bytes the manifest names", hex, c->o.mirrors[i]);
		else if ((rc = chunk_index_parse(buf, len, out)) == BD_OK &&
		    (*out)->artifact_size != artifact_size) {
			rc = bd_fail(BD_ERR_SIZE, "chunk index %s: for %llu "
			    "bytes, the artifact has %llu", hex,
			    (unsigned long long)(*out)->artifact_size,
			    (unsigned long long)artifact_size);
			chunk_index_free(*out);
			*out = NULL;
		}
		free(buf);
		buf = NULL;
	}
	return rc;
}

/* The delta_seed read: the seed on the destination (dest_seed_read()). */
static enum bd_err
seed_read(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
	return dest_seed_read(ctx, off, buf, len);
}

static bool
pack_ask(void *ctx, const struct chunk_range *r)
{
	struct pack_src *p = ctx;

	return rangefetch_ask(p->rf, r);
}

static enum bd_err
pack_next(void *ctx, struct chunk_range *r, const uint8_t **buf, int *source)
{
	struct pack_src *p = ctx;

	return rangefetch_next(p->rf, r, buf, source);
}

/*
 * The delta_source blame: a mirror whose chunk did not hash is named and
 * dropped; its ranges in flight go to the others.
 */
static void
pack_blame(void *ctx, int source, uint32_t i, uint64_t off, uint32_t len,
    enum bd_err why)
{
	struct pack_src *p = ctx;
	struct chunkfetch *c = p->c;
	char msg[256];

	if (source < 0 || (size_t)source >= c->o.nmirrors)
		return;
	snprintf(msg, sizeof(msg), "chunk %u of pack %.16s... (bytes %llu to "
	    "%llu) refused: %s; its chunks are fetched elsewhere", i,
	    p->pack_hex, (unsigned long long)off,
	    (unsigned long long)(off + len), bd_strerror(why));
	if (rangefetch_drop(p->rf, source, msg))
		report_mirror_excluded(c->o.report, c->o.mirrors[source], msg);
}

/* Whether fd holds exactly a's bytes, re-hashed from offset 0. */
static bool
part_verified(int fd, const struct bd_artifact *a)
{
	uint8_t got[SHA256_BYTES];
	uint64_t size = 0;

	return lseek(fd, 0, SEEK_SET) == 0 &&
	    sha256_fd(fd, a->size, got, &size) == BD_OK && size == a->size &&
	    sodium_memcmp(got, a->sha256, SHA256_BYTES) == 0 &&
	    lseek(fd, 0, SEEK_SET) == 0;
}

/* The previous version's artifact a is seeded from: the same name. */
static const struct bd_artifact *
seed_artifact(const struct bd_manifest *prev, const struct bd_artifact *a)
{
	size_t i;

	for (i = 0; prev != NULL && i < prev->nartifacts; i++)
		if (strcmp(prev->artifacts[i].name, a->name) == 0 &&
		    prev->artifacts[i].has_chunks)
			return &prev->artifacts[i];
	return NULL;
}

/*
 * What a delta of a needs, or BD_ERR_USAGE (no delta possible: no chunks,
 * seed or previous version) or a refusal: the seed opened in *ds and read
 * through *seed, and both indexes, new (*idx) and the seed's (*sidx),
 * fetched and parsed.
 */
static enum bd_err
delta_prepare(struct chunkfetch *c, const struct bd_artifact *a,
    struct dest_seed **ds, struct delta_seed *seed, struct chunk_index **idx,
    struct chunk_index **sidx, struct chunkfetch_stats *st)
{
	const struct bd_artifact *sa;
	enum bd_err rc;

	if (!a->has_chunks) {
		why_set(c, "no chunk index");
		rc = BD_ERR_USAGE;
		goto out;
	}
	if ((sa = seed_artifact(prev_manifest(c), a)) == NULL) {
		why_set(c, "the installed version has no chunked %s", a->name);
		rc = BD_ERR_USAGE;
		goto out;
	}
	if ((rc = dest_seed_open(c->o.dest, sa->install, ds)) != BD_OK) {
		why_set(c, "the installed %s: %s", sa->install, bd_err_detail());
		goto out;
	}
	if (*ds == NULL) {
		why_set(c, "no installed %s to seed from", sa->install);
		rc = BD_ERR_USAGE;
		goto out;
	}
	seed->read = seed_read;
	seed->ctx = *ds;
	if ((rc = index_fetch(c, a->chunks_hex, a->chunks_sha256,
	    a->chunks_size, a->size, idx, st)) != BD_OK ||
	    (rc = index_fetch(c, sa->chunks_hex, sa->chunks_sha256,
	    sa->chunks_size, sa->size, sidx, st)) != BD_OK) {
		why_set(c, "%s", bd_err_detail());
		if (rc == BD_ERR_NETWORK)	/* the index only: go whole */
			rc = BD_ERR_HTTP;
		goto out;
	}
	rc = BD_OK;
out:
	return rc;
}

/*
 * The longest DL_PART_SPANS_MAX runs of the part's bytes (a min-heap by
 * length): what fits in the part file's trailer.  Runs are appended in
 * file order; touching ones join.
 */
struct runs_kept {
	struct dl_span h[DL_PART_SPANS_MAX];
	size_t n;
	struct dl_span cur;	/* the run being extended */
};

static uint64_t
run_len(const struct dl_span *r)
{
	return r->end - r->start;
}

static void
runs_offer(struct runs_kept *k, struct dl_span r)
{
	size_t i, c;

	if (run_len(&r) == 0 || (k->n == DL_PART_SPANS_MAX &&
	    run_len(&r) <= run_len(&k->h[0])))
		return;
	if (k->n < DL_PART_SPANS_MAX) {
		for (i = k->n++; i > 0 && run_len(&k->h[(i - 1) / 2]) >
		    run_len(&r); i = (i - 1) / 2)
			k->h[i] = k->h[(i - 1) / 2];
	} else {
		for (i = 0; (c = 2 * i + 1) < k->n; i = c) {
			if (c + 1 < k->n &&
			    run_len(&k->h[c + 1]) < run_len(&k->h[c]))
				c++;
			if (run_len(&r) <= run_len(&k->h[c]))
				break;
			k->h[i] = k->h[c];
		}
	}
	k->h[i] = r;
}

static void
runs_append(struct runs_kept *k, uint64_t start, uint64_t end)
{
	if (start != k->cur.end) {
		runs_offer(k, k->cur);
		k->cur.start = start;
	}
	k->cur.end = end;
}

static int
run_cmp(const void *x, const void *y)
{
	const struct dl_span *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

/*
 * What the part file keeps for a whole download (doc/chunks.md, "One part
 * file, two ways to fill it"): the spans a whole download had written when
 * the delta found the part, and every chunk verified since.
 */
struct part_marks {
	const struct chunk_index *idx;
	int fd;
	struct dl_span carried[DL_PART_SPANS_MAX];
	size_t ncarried;
};

/*
 * The delta_source checkpoint: records in the part's trailer every chunk
 * done, and of the carried spans every byte not in a chunk that one of
 * them covers whole and that did not hash (those bytes are known wrong);
 * the longest DL_PART_SPANS_MAX runs when there are more.
 */
static enum bd_err
part_mark(void *ctx, const uint8_t *done)
{
	struct part_marks *pm = ctx;
	const struct chunk_index *idx = pm->idx;
	const struct dl_span *cs;
	struct runs_kept k;
	uint64_t s, e;
	size_t j = 0;
	uint32_t i;

	memset(&k, 0, sizeof(k));
	for (i = 0; i < idx->count; i++) {
		s = idx->chunks[i].raw_off;
		e = s + idx->chunks[i].raw_len;
		while (j < pm->ncarried && pm->carried[j].end <= s)
			j++;
		if (done[i]) {
			runs_append(&k, s, e);
			continue;
		}
		for (cs = &pm->carried[j]; cs < pm->carried + pm->ncarried &&
		    cs->start < e && !(cs->start <= s && cs->end >= e); cs++)
			runs_append(&k, cs->start > s ? cs->start : s,
			    cs->end < e ? cs->end : e);
	}
	runs_offer(&k, k.cur);
	qsort(k.h, k.n, sizeof(k.h[0]), run_cmp);
	return dl_part_mark(pm->fd, idx->artifact_size, k.h, k.n);
}

/*
 * Opens partdir/<hex>.part for a's delta (idx): what a whole download had
 * written is noted in pm, every chunk already there is re-hashed into
 * done, and the trailer records what is kept before anything is written.
 */
static enum bd_err
part_open(struct chunkfetch *c, int partdir, const struct bd_artifact *a,
    const struct chunk_index *idx, uint8_t *done, struct part_marks *pm,
    int *fd)
{
	char part[SHA256_HEX_BYTES + 8];
	struct stat sb;
	enum bd_err rc;

	snprintf(part, sizeof(part), "%s" DL_PART_SUFFIX, a->sha256_hex);
	*fd = openat(partdir, part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (*fd < 0 || fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", part, *fd >= 0 &&
		    fstat(*fd, &sb) == 0 ? "not a regular file" :
		    strerror(errno));
		why_set(c, "%s", bd_err_detail());
		if (*fd >= 0)	/* not ours to mark or empty */
			close(*fd);
		*fd = -1;
		return rc;
	}
	pm->idx = idx;
	pm->fd = *fd;
	if ((rc = dl_part_spans(*fd, a->size, pm->carried, &pm->ncarried)) !=
	    BD_OK)
		return rc;
	/* A part left by a killed run: every chunk is re-hashed first. */
	if (sb.st_size > 0 && (rc = delta_part_check(idx, *fd, done)) != BD_OK)
		return rc;
	return part_mark(pm, done);
}

/*
 * Leaves the part of a delta that did not succeed to the next run or the
 * whole download: the trailer lists what is kept, or, when the assembled
 * bytes do not hash (wrong), the part is emptied.
 */
static void
part_leave(struct chunkfetch *c, struct part_marks *pm, const uint8_t *done,
    bool wrong)
{
	if (!wrong && part_mark(pm, done) == BD_OK)
		return;
	if (ftruncate(pm->fd, 0) != 0)
		why_set(c, "part file: %s", strerror(errno));
}

/*
 * Fills the part fd with the chunks not done from the seed and the pack,
 * ranges in flight over every mirror, the part's marks kept by pm; counts
 * in st.  BD_ERR_NETWORK: the mirrors failed at the transport level only
 * (the part is kept); BD_ERR_HTTP: a mirror refused the ranges.
 */
static enum bd_err
pack_assemble(struct chunkfetch *c, const struct chunk_index *idx,
    const struct delta_seed *seed, int fd, uint8_t *done,
    struct part_marks *pm, struct chunkfetch_stats *st)
{
	struct pack_src p = { c, NULL, { 0 } };
	struct delta_source src = { NULL, pack_blame, &p, part_mark, pm,
	    pack_ask, pack_next };
	const struct rangefetch_stats *rs;
	struct delta_stats ds;
	size_t i;
	enum bd_err rc;

	sha256_hex(idx->pack_sha256, p.pack_hex);
	if ((rc = rangefetch_new(&(struct rangefetch_opts){ c->o.dl,
	    c->o.mirrors, c->o.nmirrors, p.pack_hex, idx->pack_size },
	    &p.rf)) != BD_OK)
		return rc;
	rc = delta_assemble(idx, seed, 1, fd, &src, done, &ds);
	rs = rangefetch_stats(p.rf);
	st->reused_chunks += ds.seed_chunks;
	st->reused_bytes += ds.seed_bytes;
	st->fetched_chunks = ds.pack_chunks;
	st->bad_chunks = ds.bad_chunks;
	st->requests = rs->requests;
	st->fetched_bytes += rs->bytes;
	for (i = 0; i < c->o.nmirrors && i < DL_MAX_MIRRORS; i++)
		st->mirror_bytes[i] = rs->mirror_bytes[i];
	if (rs->refused)
		why_set(c, "%s", rs->why);
	if (rc == BD_ERR_NETWORK && rs->refused)
		rc = BD_ERR_HTTP;	/* a mirror refused the ranges */
	rangefetch_free(p.rf);
	return rc;
}

static enum bd_err
delta_fetch(struct chunkfetch *c, int partdir, const struct bd_artifact *a,
    int *fd, struct chunkfetch_stats *st)
{
	struct chunk_index *idx = NULL, *sidx = NULL;
	struct delta_seed seed = { -1, NULL, NULL, NULL };
	struct dest_seed *dseed = NULL;
	struct part_marks pm = { NULL, -1, { { 0, 0 } }, 0 };
	uint8_t *done = NULL;
	uint32_t i;
	bool wrong = false;
	enum bd_err rc;

	*fd = -1;
	memset(st, 0, sizeof(*st));
	c->why[0] = '\0';
	if ((rc = delta_prepare(c, a, &dseed, &seed, &idx, &sidx, st)) != BD_OK)
		goto out;
	seed.idx = sidx;
	if ((done = calloc(idx->count ? idx->count : 1, 1)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	if ((rc = part_open(c, partdir, a, idx, done, &pm, fd)) != BD_OK)
		goto out;
	for (i = 0; i < idx->count; i++)
		if (done[i]) {
			st->reused_chunks++;
			st->reused_bytes += idx->chunks[i].raw_len;
		}
	rc = pack_assemble(c, idx, &seed, *fd, done, &pm, st);
	if (rc == BD_ERR_NETWORK)
		goto out;	/* transport only: keep the part, resume later */
	if (rc != BD_OK) {
		if (c->why[0] == '\0')	/* else: the mirror's refusal */
			why_set(c, "%s", bd_err_detail());
		goto out;
	}
	/* the trailer goes: the part is exactly a's bytes, or wrong */
	if (ftruncate(*fd, (off_t)a->size) != 0 || !part_verified(*fd, a)) {
		rc = bd_fail(BD_ERR_HASH, "the assembled %s does not hash as "
		    "the manifest says", a->name);
		why_set(c, "%s", bd_err_detail());
		wrong = true;
	}
out:
	if (rc != BD_OK && *fd >= 0) {
		part_leave(c, &pm, done, wrong);
		close(*fd);
		*fd = -1;
	}
	dest_seed_close(dseed);
	free(done);
	chunk_index_free(sidx);
	chunk_index_free(idx);
	return rc;
}

/* Reports a delta download: reused, fetched, and with -v per mirror. */
static void
stats_report(const struct chunkfetch *c, const struct bd_artifact *a,
    const struct chunkfetch_stats *st)
{
	char fetched[SIZE_TEXT_BYTES];
	size_t i;

	report_delta(c->o.report, a->name, a->size, st->reused_bytes,
	    st->fetched_bytes, st->requests);
	for (i = 0; c->o.report->verbose && i < c->o.nmirrors; i++) {
		size_format(st->mirror_bytes[i], false, fetched);
		report_info(c->o.report, "  %s: %s of chunk pack", c->o.mirrors[i],
		    fetched);
	}
}

enum bd_err
chunkfetch_artifact(struct chunkfetch *c, int partdir,
    const struct bd_artifact *a, int *fd)
{
	struct chunkfetch_stats st;
	enum bd_err rc;

	rc = delta_fetch(c, partdir, a, fd, &st);
	if (rc == BD_OK)
		stats_report(c, a, &st);
	else if (rc != BD_ERR_USAGE && rc != BD_ERR_NETWORK)
		report_warn(c->o.report, "%s: downloaded whole, not by chunks: "
		    "%s", a->name, c->why);
	return rc;
}
