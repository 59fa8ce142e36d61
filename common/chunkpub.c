/*
 * chunkpub.c - writes an artifact's chunk pack and index as blobs, and
 * counts what a guest holding the previous version would move.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chunkpub.h"
#include "fsutil.h"

/* The same prefix as the publisher's staged blobs, so prune clears both. */
#define PUB_TEMP_PREFIX		".incoming."
#define PUB_TEMP_BYTES		24
#define PUB_SAMPLE_BYTES	(256u << 10)
/*
 * Bytes of the previous version's artifact cut again to find its
 * parameters: four chunks of the largest, hundreds of the smallest.
 */
#define PUB_PREV_HEAD_BYTES	(4u << 20)

enum bd_err
chunkpub_compare(const struct chunk_index *idx, const struct chunk_index *prev,
    uint64_t index_size, struct chunkpub_result *res)
{
	struct chunk_seeds *seeds = NULL;
	struct chunk_range r;
	uint8_t *need = NULL;
	uint64_t off;
	uint32_t i, pos = 0, seed;
	enum bd_err rc;

	res->shared_chunks = 0;
	res->shared_bytes = 0;
	res->fetch_bytes = index_size;
	res->fetch_ranges = 0;
	if (prev != NULL && (rc = chunk_seeds_new(&prev, 1, &seeds)) != BD_OK)
		goto out;
	if ((need = malloc(idx->count)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	/* What chunk_plan() decides, without its array of sources. */
	for (i = 0; i < idx->count; i++) {
		need[i] = seeds == NULL ||
		    !chunk_seeds_find(seeds, &idx->chunks[i], &seed, &off);
		if (!need[i]) {
			res->shared_chunks++;
			res->shared_bytes += idx->chunks[i].raw_len;
		}
	}
	while (chunk_range_next(idx, need, &pos, CHUNK_GAP_BYTES,
	    CHUNK_RANGE_MAX_BYTES, &r)) {
		res->fetch_bytes += r.pack_len;
		res->fetch_ranges++;
	}
	rc = BD_OK;
out:
	free(need);
	chunk_seeds_free(seeds);
	return rc;
}

/* Writes the pack of artifact_fd into a new temporary file of blobs. */
static enum bd_err
pack_to_temp(int blobs, int artifact_fd, const struct chunk_params *p,
    int level, char tmp[PUB_TEMP_BYTES], struct chunk_index **idx,
    struct chunk_pack_stats *st)
{
	int fd;
	enum bd_err rc;

	snprintf(tmp, PUB_TEMP_BYTES, PUB_TEMP_PREFIX "%08x",
	    randombytes_random());
	fd = openat(blobs, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	/* openat honours the umask; a repository is public by nature. */
	if (fchmod(fd, 0644) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((rc = chunk_pack_fd(artifact_fd, fd, p, level, idx, st)) != BD_OK ||
	    (rc = fd_sync(fd)) != BD_OK)
		goto out;
out:
	if (fd >= 0 && close(fd) != 0 && rc == BD_OK)
		rc = bd_fail(BD_ERR_IO, "%s: %s", tmp, strerror(errno));
	return rc;
}

/*
 * The parameters chunk_params_choose() picks for the size bytes of fd from
 * offset start: the first PUB_SAMPLE_BYTES of them are its sample.
 */
static enum bd_err
params_of(int fd, off_t start, uint64_t size, struct chunk_params *p)
{
	uint8_t *sample;
	size_t n;
	enum bd_err rc;

	if ((sample = malloc(PUB_SAMPLE_BYTES)) == NULL)
		return BD_ERR_NOMEM;
	if (pread_full(fd, sample, PUB_SAMPLE_BYTES, (uint64_t)start, &n) != BD_OK)
		rc = bd_fail(BD_ERR_IO, "artifact: %s", strerror(errno));
	else
		rc = chunk_params_choose(sample, n, size, p);
	free(sample);
	return rc;
}

/*
 * res->params: those the previous version's artifact (index prev, bytes
 * prev_fd) was cut with while they fit (chunk_params_fit()), so that its
 * chunks stay shared; else chosen anew for this artifact's own bytes.
 */
static enum bd_err
params_pick(int artifact_fd, off_t start, uint64_t size,
    const struct chunk_index *prev, int prev_fd, struct chunkpub_result *res)
{
	struct chunk_params p;
	uint8_t *head = NULL;
	size_t n = 0;

	if (prev != NULL && prev_fd >= 0 &&
	    (head = malloc(PUB_PREV_HEAD_BYTES)) != NULL &&
	    pread_full(prev_fd, head, PUB_PREV_HEAD_BYTES, 0, &n) != BD_OK)
		n = 0;
	if (n > 0 && chunk_params_infer(prev, head, n, &p) == BD_OK &&
	    chunk_params_fit(&p, size)) {
		res->params = p;
		res->params_kept = true;
	}
	free(head);
	bd_err_clear();
	if (res->params_kept)
		return BD_OK;
	return params_of(artifact_fd, start, size, &res->params);
}

enum bd_err
chunkpub_artifact(int blobs_dirfd, int artifact_fd,
    const struct chunk_index *prev, int prev_fd, int level,
    struct chunkpub_result *res)
{
	struct chunk_index *idx = NULL;
	struct chunk_pack_stats st;
	char tmp[PUB_TEMP_BYTES] = "", hex[SHA256_HEX_BYTES];
	uint8_t *ibuf = NULL;
	size_t ilen;
	struct stat sb;
	off_t start;
	enum bd_err rc;

	memset(res, 0, sizeof(*res));
	if (level == 0)
		level = CHUNKPUB_LEVEL_DEFAULT;
	if ((start = lseek(artifact_fd, 0, SEEK_CUR)) < 0 ||
	    fstat(artifact_fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size < start) {
		rc = bd_fail(BD_ERR_INPUT, "artifact: not a regular file");
		goto out;
	}
	if ((rc = params_pick(artifact_fd, start,
	    (uint64_t)(sb.st_size - start), prev, prev_fd, res)) != BD_OK)
		goto out;
	rc = pack_to_temp(blobs_dirfd, artifact_fd, &res->params, level, tmp,
	    &idx, &st);
	if (rc != BD_OK)
		goto out;
	sha256_hex(idx->pack_sha256, hex);
	res->pack_existed = faccessat(blobs_dirfd, hex, F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0;
	if (renameat(blobs_dirfd, tmp, blobs_dirfd, hex) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", hex, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if ((rc = chunk_index_encode(idx, &ibuf, &ilen)) != BD_OK)
		goto out;
	sha256_buf(ibuf, ilen, res->index_sha256);
	sha256_hex(res->index_sha256, hex);
	res->index_existed = faccessat(blobs_dirfd, hex, F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0;
	if ((rc = file_write_atomic(blobs_dirfd, hex, ibuf, ilen, 0644,
	    false)) != BD_OK)
		goto out;
	free(ibuf);
	ibuf = NULL;
	res->artifact_size = st.raw_bytes;
	memcpy(res->artifact_sha256, st.artifact_sha256, SHA256_BYTES);
	res->chunks = st.chunks;
	res->pack_size = st.pack_bytes;
	memcpy(res->pack_sha256, idx->pack_sha256, SHA256_BYTES);
	res->index_size = ilen;
	if (prev != NULL)
		rc = chunkpub_compare(idx, prev, ilen, res);
out:
	if (tmp[0] != '\0')
		unlinkat(blobs_dirfd, tmp, 0);
	free(ibuf);
	chunk_index_free(idx);
	return rc;
}

enum bd_err
chunkpub_index_load(int blobs_dirfd, const uint8_t sha256[SHA256_BYTES],
    uint64_t size, struct chunk_index **out)
{
	char hex[SHA256_HEX_BYTES];
	uint8_t *buf = NULL, got[SHA256_BYTES];
	size_t len = 0;
	enum bd_err rc;

	*out = NULL;
	sha256_hex(sha256, hex);
	if (size > CHUNK_INDEX_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "chunk index %s: %llu bytes, more "
		    "than %zu", hex, (unsigned long long)size,
		    (size_t)CHUNK_INDEX_MAX_BYTES);
		goto out;
	}
	if ((rc = file_read_capped(blobs_dirfd, hex, (size_t)size, &buf,
	    &len)) != BD_OK) {
		if (rc == BD_ERR_TOOBIG)
			rc = BD_ERR_SIZE;
		rc = bd_fail(rc, "chunk index %s: %s", hex, bd_err_detail());
		goto out;
	}
	if (len != size) {
		rc = bd_fail(BD_ERR_SIZE, "chunk index %s: %zu bytes, the "
		    "manifest says %llu", hex, len, (unsigned long long)size);
		goto out;
	}
	sha256_buf(buf, len, got);
	if (sodium_memcmp(got, sha256, SHA256_BYTES) != 0) {
		rc = bd_fail(BD_ERR_HASH, "chunk index %s: its bytes hash "
		    "otherwise", hex);
		goto out;
	}
	if ((rc = chunk_index_parse(buf, len, out)) != BD_OK)
		rc = bd_fail(rc, "chunk index %s: %s", hex, bd_err_detail());
out:
	free(buf);
	return rc;
}

/* Opens blob hex of blobs_dirfd for reading: a regular file of size bytes. */
static enum bd_err
blob_open(int blobs_dirfd, const char *what, const char *hex, uint64_t size,
    int *fd)
{
	struct stat sb;

	*fd = openat(blobs_dirfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return bd_fail(BD_ERR_HASH, "%s %s: %s", what, hex,
		    strerror(errno));
	if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return bd_fail(BD_ERR_HASH, "%s %s: not a regular file", what,
		    hex);
	if ((uint64_t)sb.st_size != size)
		return bd_fail(BD_ERR_SIZE, "%s %s: %llu bytes, the index says "
		    "%llu", what, hex, (unsigned long long)sb.st_size,
		    (unsigned long long)size);
	return BD_OK;
}

/*
 * chunkpub_verify()'s walk: every chunk of pack decoded (its SHA-256 the
 * index's) and compared with the artifact's bytes, then the pack's own
 * SHA-256; stored, raw and orig hold CHUNK_RAW_MAX_BYTES each.
 */
static enum bd_err
verify_chunks(const struct chunk_index *idx, int pack, int art,
    const char *phex, uint8_t *stored, uint8_t *raw, uint8_t *orig)
{
	struct chunk_decoder *dec = NULL;
	struct sha256_ctx *h = NULL;
	uint8_t got[SHA256_BYTES];
	uint32_t i;
	enum bd_err rc;

	if ((dec = chunk_decoder_new()) == NULL || (h = sha256_new()) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < idx->count; i++) {
		const struct chunk_entry *e = &idx->chunks[i];

		if ((rc = pread_exact(pack, stored, e->stored_len,
		    e->pack_off)) != BD_OK ||
		    (rc = pread_exact(art, orig, e->raw_len, e->raw_off)) !=
		    BD_OK) {
			if (rc == BD_ERR_SIZE)
				rc = bd_fail(rc, "chunk %u: a blob ended early",
				    i);
			goto out;
		}
		sha256_update(h, stored, e->stored_len);
		if ((rc = chunk_decode(dec, e, stored, e->stored_len, raw)) !=
		    BD_OK) {
			rc = bd_fail(rc, "chunk pack %s: chunk %u (at %llu, %u "
			    "bytes) does not decode to its hash: %s", phex, i,
			    (unsigned long long)e->pack_off, e->stored_len,
			    bd_strerror(rc));
			goto out;
		}
		if (memcmp(raw, orig, e->raw_len) != 0) {
			rc = bd_fail(BD_ERR_HASH, "chunk %u (artifact bytes %llu "
			    "to %llu) is not the artifact's", i,
			    (unsigned long long)e->raw_off,
			    (unsigned long long)(e->raw_off + e->raw_len));
			goto out;
		}
	}
	sha256_final(h, got);
	if (sodium_memcmp(got, idx->pack_sha256, SHA256_BYTES) != 0) {
		rc = bd_fail(BD_ERR_HASH, "chunk pack %s: its bytes hash "
		    "otherwise", phex);
		goto out;
	}
	rc = BD_OK;
out:
	sha256_free(h);
	chunk_decoder_free(dec);
	return rc;
}

enum bd_err
chunkpub_verify(int blobs_dirfd, const uint8_t index_sha256[SHA256_BYTES],
    uint64_t index_size, const uint8_t artifact_sha256[SHA256_BYTES],
    uint64_t artifact_size, struct chunkpub_result *res)
{
	struct chunk_index *idx = NULL;
	char phex[SHA256_HEX_BYTES], ahex[SHA256_HEX_BYTES];
	uint8_t *stored = NULL, *raw = NULL, *orig = NULL;
	int pack = -1, art = -1;
	enum bd_err rc;

	memset(res, 0, sizeof(*res));
	if ((rc = chunkpub_index_load(blobs_dirfd, index_sha256, index_size,
	    &idx)) != BD_OK)
		goto out;
	sha256_hex(idx->pack_sha256, phex);
	if (idx->artifact_size != artifact_size) {
		sha256_hex(index_sha256, ahex);
		rc = bd_fail(BD_ERR_SIZE, "chunk index %s: for %llu bytes, the "
		    "artifact has %llu", ahex, (unsigned long long)
		    idx->artifact_size, (unsigned long long)artifact_size);
		goto out;
	}
	sha256_hex(artifact_sha256, ahex);
	if ((rc = blob_open(blobs_dirfd, "chunk pack", phex, idx->pack_size,
	    &pack)) != BD_OK ||
	    (rc = blob_open(blobs_dirfd, "artifact", ahex, artifact_size,
	    &art)) != BD_OK)
		goto out;
	if ((stored = malloc(CHUNK_RAW_MAX_BYTES)) == NULL ||
	    (raw = malloc(CHUNK_RAW_MAX_BYTES)) == NULL ||
	    (orig = malloc(CHUNK_RAW_MAX_BYTES)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	if ((rc = verify_chunks(idx, pack, art, phex, stored, raw, orig)) !=
	    BD_OK)
		goto out;
	res->artifact_size = artifact_size;
	memcpy(res->artifact_sha256, artifact_sha256, SHA256_BYTES);
	res->chunks = idx->count;
	res->pack_size = idx->pack_size;
	memcpy(res->pack_sha256, idx->pack_sha256, SHA256_BYTES);
	res->index_size = index_size;
	memcpy(res->index_sha256, index_sha256, SHA256_BYTES);
	rc = BD_OK;
out:
	if (pack >= 0)
		close(pack);
	if (art >= 0)
		close(art);
	free(orig);
	free(raw);
	free(stored);
	chunk_index_free(idx);
	return rc;
}
