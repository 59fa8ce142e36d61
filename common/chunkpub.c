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

enum bd_err
chunkpub_artifact(int blobs_dirfd, int artifact_fd,
    const struct chunk_index *prev, int level, struct chunkpub_result *res)
{
	struct chunk_index *idx = NULL;
	struct chunk_pack_stats st;
	char tmp[PUB_TEMP_BYTES] = "", hex[SHA256_HEX_BYTES];
	uint8_t *sample = NULL, *ibuf = NULL;
	size_t ilen;
	ssize_t n;
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
	if ((sample = malloc(PUB_SAMPLE_BYTES)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	if ((n = pread(artifact_fd, sample, PUB_SAMPLE_BYTES, start)) < 0) {
		rc = bd_fail(BD_ERR_IO, "artifact: %s", strerror(errno));
		goto out;
	}
	if ((rc = chunk_params_choose(sample, (size_t)n,
	    (uint64_t)(sb.st_size - start), &res->params)) != BD_OK)
		goto out;
	free(sample);
	sample = NULL;
	rc = pack_to_temp(blobs_dirfd, artifact_fd, &res->params, level, tmp,
	    &idx, &st);
	if (rc != BD_OK)
		goto out;
	sha256_hex(idx->pack_sha256, hex);
	if (renameat(blobs_dirfd, tmp, blobs_dirfd, hex) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", hex, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if ((rc = chunk_index_encode(idx, &ibuf, &ilen)) != BD_OK)
		goto out;
	sha256_buf(ibuf, ilen, res->index_sha256);
	sha256_hex(res->index_sha256, hex);
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
	free(sample);
	chunk_index_free(idx);
	return rc;
}
