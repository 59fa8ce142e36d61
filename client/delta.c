/*
 * delta.c - assembles a chunked artifact from its seeds and its chunk pack
 * (see delta.h).  Every byte written to the part file was hashed first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta.h"
#include "fsutil.h"

/*
 * Whether the raw_len bytes of file s (a seed, or the part when s->read is
 * NULL) at off are chunk e (BD_ERR_IO aside).
 */
static enum bd_err
chunk_at(const struct delta_seed *s, uint64_t off, const struct chunk_entry *e,
    uint8_t *buf, bool *ok)
{
	uint8_t got[SHA256_BYTES];
	enum bd_err rc;

	*ok = false;
	if (s->read != NULL)
		rc = s->read(s->ctx, off, buf, e->raw_len);
	else
		rc = pread_exact(s->fd, buf, e->raw_len, off);
	if (rc == BD_ERR_SIZE)
		return BD_OK;
	if (rc != BD_OK)
		return rc;
	sha256_buf(buf, e->raw_len, got);
	*ok = memcmp(got, e->sha256, SHA256_BYTES) == 0;
	return BD_OK;
}

enum bd_err
delta_part_check(const struct chunk_index *idx, int fd, uint8_t *done)
{
	struct delta_seed part = { fd, idx, NULL, NULL };
	uint8_t *buf;
	uint32_t i;
	bool ok;
	enum bd_err rc = BD_OK;

	if ((buf = malloc(CHUNK_RAW_MAX_BYTES)) == NULL)
		return BD_ERR_NOMEM;
	for (i = 0; i < idx->count; i++) {
		const struct chunk_entry *e = &idx->chunks[i];

		if ((rc = chunk_at(&part, e->raw_off, e, buf, &ok)) != BD_OK)
			break;
		done[i] = ok;
	}
	free(buf);
	return rc;
}

/* Copies every chunk not done that a seed holds, re-hashing each. */
static enum bd_err
copy_seeds(const struct chunk_index *idx, const struct delta_seed *seeds,
    size_t nseeds, int out_fd, uint8_t *done, uint8_t *buf,
    struct delta_stats *st)
{
	const struct chunk_index **list = NULL;
	struct chunk_seeds *table = NULL;
	uint64_t off;
	uint32_t i, seed;
	size_t k;
	bool ok;
	enum bd_err rc;

	if (nseeds == 0)
		return BD_OK;
	if ((list = calloc(nseeds, sizeof(*list))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	for (k = 0; k < nseeds; k++)
		list[k] = seeds[k].idx;
	if ((rc = chunk_seeds_new(list, nseeds, &table)) != BD_OK)
		goto out;
	for (i = 0; i < idx->count; i++) {
		const struct chunk_entry *e = &idx->chunks[i];

		if (done[i] || !chunk_seeds_find(table, e, &seed, &off))
			continue;
		if ((rc = chunk_at(&seeds[seed], off, e, buf, &ok)) != BD_OK)
			goto out;
		if (!ok) {
			/* The seed changed since its version was installed. */
			st->seed_misses++;
			continue;
		}
		if ((rc = pwrite_all(out_fd, buf, e->raw_len,
		    e->raw_off)) != BD_OK)
			goto out;
		done[i] = 1;
		st->seed_chunks++;
		st->seed_bytes += e->raw_len;
	}
	rc = BD_OK;
out:
	chunk_seeds_free(table);
	free(list);
	return rc;
}

/*
 * Decodes, checks and writes the needed chunks of one fetched range;
 * chunks the source lied about are blamed on it and stay not done.
 */
static enum bd_err
store_range(const struct chunk_index *idx, const struct chunk_range *r,
    const uint8_t *pack, int source, int out_fd, const struct delta_source *src,
    struct chunk_decoder *dec, uint8_t *need, uint8_t *done, uint8_t *raw,
    struct delta_stats *st)
{
	uint32_t k;
	enum bd_err rc;

	for (k = r->first; k < r->end; k++) {
		const struct chunk_entry *e = &idx->chunks[k];

		if (!need[k])
			continue;
		rc = chunk_decode(dec, e, pack + (e->pack_off - r->pack_off),
		    e->stored_len, raw);
		if (rc == BD_ERR_NOMEM)
			return rc;
		if (rc != BD_OK) {
			st->bad_chunks++;
			if (src->blame != NULL)
				src->blame(src->ctx, source, k, e->pack_off,
				    e->stored_len, rc);
			continue;
		}
		if ((rc = pwrite_all(out_fd, raw, e->raw_len,
		    e->raw_off)) != BD_OK)
			return rc;
		done[k] = 1;
		need[k] = 0;
		st->pack_chunks++;
	}
	return BD_OK;
}

static enum bd_err
checkpoint_call(const struct delta_source *src, const uint8_t *done)
{
	if (src->checkpoint == NULL)
		return BD_OK;
	return src->checkpoint(src->checkpoint_ctx, done);
}

/* The ranges of a source, in flight or, with fetch, one at a time. */
struct feed {
	const struct delta_source *src;
	uint8_t *pack;		/* fetch: CHUNK_RANGE_MAX_BYTES */
	bool held;		/* fetch: r was asked for */
	struct chunk_range r;
};

static bool
feed_ask(struct feed *f, const struct chunk_range *r)
{
	if (f->src->ask != NULL)
		return f->src->ask(f->src->ctx, r);
	if (f->held)
		return false;
	f->held = true;
	f->r = *r;
	return true;
}

static enum bd_err
feed_next(struct feed *f, struct chunk_range *r, const uint8_t **buf,
    int *source)
{
	if (f->src->ask != NULL)
		return f->src->next(f->src->ctx, r, buf, source);
	if (!f->held)
		return bd_fail(BD_ERR_USAGE, "no range asked for");
	f->held = false;
	*r = f->r;
	*buf = f->pack;
	*source = f->src->fetch(f->src->ctx, r->pack_off, (size_t)r->pack_len,
	    f->pack);
	return *source < 0 ? BD_ERR_NETWORK : BD_OK;
}

/*
 * One round: every range of the needed chunks asked for, and stored as it
 * arrives.  *unreachable: some range could not be fetched.
 */
static enum bd_err
round_run(const struct chunk_index *idx, struct feed *f, int out_fd,
    struct chunk_decoder *dec, uint8_t *need, uint8_t *done, uint8_t *raw,
    struct delta_stats *st, bool *unreachable)
{
	struct chunk_range r, got;
	const uint8_t *buf;
	uint32_t pos = 0;
	size_t outstanding = 0;
	bool have = false;
	int source;
	enum bd_err rc;

	*unreachable = false;
	for (;;) {
		while (have || chunk_range_next(idx, need, &pos,
		    CHUNK_GAP_BYTES, CHUNK_RANGE_MAX_BYTES, &r)) {
			if (!feed_ask(f, &r)) {
				have = true;	/* asked for once one is back */
				break;
			}
			have = false;
			outstanding++;
			st->requests++;
		}
		if (outstanding == 0 && have)	/* against its word */
			return bd_fail(BD_ERR_USAGE, "the source took no range");
		if (outstanding == 0)
			return BD_OK;
		rc = feed_next(f, &got, &buf, &source);
		if (rc == BD_ERR_NETWORK) {
			outstanding--;
			*unreachable = true;
			continue;
		}
		if (rc != BD_OK)
			return rc;
		outstanding--;
		st->pack_bytes += got.pack_len;
		if ((rc = store_range(idx, &got, buf, source, out_fd, f->src,
		    dec, need, done, raw, st)) != BD_OK ||
		    (rc = checkpoint_call(f->src, done)) != BD_OK)
			return rc;
	}
}

enum bd_err
delta_assemble(const struct chunk_index *idx, const struct delta_seed *seeds,
    size_t nseeds, int out_fd, const struct delta_source *src, uint8_t *done,
    struct delta_stats *st)
{
	struct delta_stats sum = { 0 };
	struct chunk_decoder *dec = NULL;
	struct feed f = { src, NULL, false, { 0, 0, 0, 0 } };
	struct stat sb;
	uint8_t *raw = NULL, *need = NULL;
	uint32_t i, missing = 0;
	bool unreachable = false;
	int round;
	enum bd_err rc;

	if (fstat(out_fd, &sb) != 0 ||
	    ((uint64_t)sb.st_size < idx->artifact_size &&
	    ftruncate(out_fd, (off_t)idx->artifact_size) != 0)) {
		rc = bd_fail(BD_ERR_IO, "part file: %s", strerror(errno));
		goto out;
	}
	if ((raw = malloc(CHUNK_RAW_MAX_BYTES)) == NULL ||
	    (src->ask == NULL &&
	    (f.pack = malloc(CHUNK_RANGE_MAX_BYTES)) == NULL) ||
	    (need = malloc(idx->count ? idx->count : 1)) == NULL ||
	    (dec = chunk_decoder_new()) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	if ((rc = copy_seeds(idx, seeds, nseeds, out_fd, done, raw,
	    &sum)) != BD_OK || (rc = checkpoint_call(src, done)) != BD_OK)
		goto out;
	for (round = 0; round < DELTA_ROUNDS; round++) {
		for (i = 0, missing = 0; i < idx->count; i++)
			missing += (need[i] = !done[i]);
		if (missing == 0)
			break;
		if ((rc = round_run(idx, &f, out_fd, dec, need, done, raw, &sum,
		    &unreachable)) != BD_OK)
			goto out;
	}
	for (i = 0, missing = 0; i < idx->count; i++)
		missing += !done[i];
	if (missing == 0)
		rc = BD_OK;
	else if (unreachable)
		rc = bd_fail(BD_ERR_NETWORK, "%u chunks could not be fetched",
		    missing);
	else
		rc = bd_fail(BD_ERR_HASH, "%u chunks refused from every source",
		    missing);
out:
	if (st != NULL)
		*st = sum;
	chunk_decoder_free(dec);
	free(need);
	free(f.pack);
	free(raw);
	return rc;
}
