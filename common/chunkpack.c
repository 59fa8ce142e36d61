/*
 * chunkpack.c - cuts an artifact into chunks and writes the chunk pack,
 * streaming: the artifact and the pack are read and written once, in order,
 * through one buffer of twice the largest chunk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "chunk.h"
#include "fsutil.h"

/* Chunk entries are allocated this many at first, then doubled. */
#define PACK_ENTRIES_FIRST	1024u
/*
 * zstd's window and tables are capped: left to the level, a chunk grown to
 * 1 MiB would take tens of MiB of tables at level 19.  A chunk smaller
 * than the window (all of them at the usual sizes) loses nothing.
 */
#define PACK_WINDOW_LOG		17
#define PACK_TABLE_LOG		17

struct packer {
	const struct chunk_params *p;
	int pack_fd;
	ZSTD_CCtx *cctx;
	uint8_t *zbuf;
	size_t zcap;
	struct sha256_ctx *pack_sha, *artifact_sha;
	struct chunk_entry *chunks;
	uint32_t count, cap;
	uint64_t raw_off, pack_off;
	uint32_t zstd_chunks;
};

/* Appends one entry, growing the array up to CHUNK_COUNT_MAX entries. */
static enum bd_err
packer_entry(struct packer *k, struct chunk_entry **e)
{
	struct chunk_entry *grown;
	uint32_t cap;

	if (k->count == CHUNK_COUNT_MAX)
		return bd_fail(BD_ERR_TOOBIG, "more than %u chunks",
		    CHUNK_COUNT_MAX);
	if (k->count == k->cap) {
		cap = k->cap == 0 ? PACK_ENTRIES_FIRST : k->cap * 2;
		if (cap > CHUNK_COUNT_MAX)
			cap = CHUNK_COUNT_MAX;
		if ((grown = realloc(k->chunks, cap * sizeof(*grown))) == NULL)
			return BD_ERR_NOMEM;
		k->chunks = grown;
		k->cap = cap;
	}
	*e = &k->chunks[k->count++];
	memset(*e, 0, sizeof(**e));
	return BD_OK;
}

/* Stores one chunk: compressed when that is smaller, raw otherwise. */
static enum bd_err
packer_chunk(struct packer *k, const uint8_t *raw, size_t len)
{
	struct chunk_entry *e = NULL;
	const uint8_t *stored = raw;
	size_t n, stored_len = len;
	enum bd_err rc;

	if ((rc = packer_entry(k, &e)) != BD_OK)
		return rc;
	n = ZSTD_compress2(k->cctx, k->zbuf, k->zcap, raw, len);
	e->encoding = CHUNK_RAW;
	if (!ZSTD_isError(n) && n < len) {
		stored = k->zbuf;
		stored_len = n;
		e->encoding = CHUNK_ZSTD;
		k->zstd_chunks++;
	}
	e->raw_off = k->raw_off;
	e->pack_off = k->pack_off;
	e->raw_len = (uint32_t)len;
	e->stored_len = (uint32_t)stored_len;
	sha256_buf(raw, len, e->sha256);
	sha256_update(k->artifact_sha, raw, len);
	sha256_update(k->pack_sha, stored, stored_len);
	if (k->pack_fd >= 0 &&
	    (rc = write_all(k->pack_fd, stored, stored_len)) != BD_OK)
		return rc;
	k->raw_off += len;
	k->pack_off += stored_len;
	return BD_OK;
}

/* Reads into buf[*fill..cap) until full or EOF; *eof set at EOF. */
static enum bd_err
fill_buf(int fd, uint8_t *buf, size_t cap, size_t *fill, int *eof)
{
	size_t got = 0;
	enum bd_err rc = BD_OK;

	if (*fill < cap && !*eof) {
		rc = read_full(fd, buf + *fill, cap - *fill, &got);
		*fill += got;
		if (rc == BD_OK && *fill < cap)
			*eof = 1;
	}
	return rc;
}

/* Allocates k's compressor, buffers and hashes (BD_ERR_NOMEM). */
static enum bd_err
packer_init(struct packer *k, int level, int artifact_fd)
{
	const struct chunk_params *p = k->p;
	struct stat sb;
	uint64_t expect;

	k->zcap = ZSTD_compressBound(p->max_len);
	if ((k->zbuf = malloc(k->zcap)) == NULL ||
	    (k->cctx = ZSTD_createCCtx()) == NULL ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(k->cctx,
	    ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(k->cctx, ZSTD_c_windowLog,
	    PACK_WINDOW_LOG)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(k->cctx, ZSTD_c_hashLog,
	    PACK_TABLE_LOG)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(k->cctx, ZSTD_c_chainLog,
	    PACK_TABLE_LOG)) ||
	    (k->pack_sha = sha256_new()) == NULL ||
	    (k->artifact_sha = sha256_new()) == NULL)
		return BD_ERR_NOMEM;
	/* Room for the expected count and a quarter more: no copy on growth. */
	if (fstat(artifact_fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		expect = ((uint64_t)sb.st_size >> p->avg_bits) * 5 / 4 + 16;
		k->cap = expect > CHUNK_COUNT_MAX ? CHUNK_COUNT_MAX :
		    (uint32_t)expect;
		if ((k->chunks = malloc(k->cap * sizeof(*k->chunks))) == NULL)
			return BD_ERR_NOMEM;
	}
	return BD_OK;
}

/* Cuts everything artifact_fd holds into chunks, packing each. */
static enum bd_err
packer_run(struct packer *k, int artifact_fd)
{
	const struct chunk_params *p = k->p;
	size_t cap = 2 * (size_t)p->max_len, pos = 0, fill = 0, n;
	uint8_t *buf;
	int eof = 0;
	enum bd_err rc = BD_OK;

	if ((buf = malloc(cap)) == NULL)
		return BD_ERR_NOMEM;
	for (;;) {
		if (fill - pos < p->max_len && !eof) {
			memmove(buf, buf + pos, fill - pos);
			fill -= pos;
			pos = 0;
			if ((rc = fill_buf(artifact_fd, buf, cap, &fill,
			    &eof)) != BD_OK)
				break;
		}
		if (fill == pos)
			break;
		n = chunk_cut(p, buf + pos, fill - pos);
		if ((rc = packer_chunk(k, buf + pos, n)) != BD_OK)
			break;
		pos += n;
	}
	free(buf);
	return rc;
}

enum bd_err
chunk_pack_fd(int artifact_fd, int pack_fd, const struct chunk_params *p,
    int level, struct chunk_index **out, struct chunk_pack_stats *st)
{
	struct packer k = { .p = p, .pack_fd = pack_fd };
	struct chunk_index *idx = NULL;
	enum bd_err rc;

	*out = NULL;
	if (p->max_len == 0 || p->max_len > CHUNK_RAW_MAX_BYTES ||
	    p->min_len >= p->max_len || p->avg_bits < 4 || p->avg_bits > 30) {
		rc = bd_fail(BD_ERR_USAGE, "bad chunk parameters");
		goto out;
	}
	if ((rc = packer_init(&k, level, artifact_fd)) != BD_OK ||
	    (rc = packer_run(&k, artifact_fd)) != BD_OK)
		goto out;
	if (k.count == 0) {
		rc = bd_fail(BD_ERR_SIZE, "an empty artifact has no chunks");
		goto out;
	}
	if ((idx = calloc(1, sizeof(*idx))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	idx->artifact_size = k.raw_off;
	idx->pack_size = k.pack_off;
	idx->count = k.count;
	idx->chunks = k.chunks;
	k.chunks = NULL;
	sha256_final(k.pack_sha, idx->pack_sha256);
	if (st != NULL) {
		st->raw_bytes = idx->artifact_size;
		st->pack_bytes = idx->pack_size;
		st->chunks = idx->count;
		st->zstd_chunks = k.zstd_chunks;
		sha256_final(k.artifact_sha, st->artifact_sha256);
	}
	*out = idx;
	idx = NULL;
out:
	chunk_index_free(idx);
	free(k.chunks);
	sha256_free(k.artifact_sha);
	sha256_free(k.pack_sha);
	ZSTD_freeCCtx(k.cctx);
	free(k.zbuf);
	return rc;
}
