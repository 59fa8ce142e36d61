/*
 * chunktool.c - a developer's tool around common/chunk*.c and
 * client/delta.c, for tests/bench/delta.sh and for tuning:
 *
 *   chunktool pack BLOBS ARTIFACT [PREV_INDEX]
 *       writes ARTIFACT's pack and index into the directory BLOBS (as
 *       chunkpub_artifact() does for a repository's blobs/sha256/) and
 *       prints what a guest holding PREV_INDEX's artifact would move
 *   chunktool try AVG_KIB LEVEL OLD NEW
 *       cuts OLD and NEW with chunks of AVG_KIB average (min 1/4, max 8x)
 *       and zstd LEVEL, writes nothing, prints what NEW would move
 *   chunktool assemble INDEX PACK SEED SEED_INDEX OUT
 *       builds OUT from SEED and PACK (a file, or an http:// URL fetched
 *       with one Range request a merged range) with client/delta.c, and
 *       prints what was copied and fetched
 *
 *   chunktool unshared NEW_INDEX NEW OLD_INDEX DIR
 *       writes every chunk of NEW that OLD does not hold into DIR, one
 *       file a chunk (to try other compressions on exactly those bytes)
 *
 * CHUNK_LEVEL in the environment sets pack's zstd level.
 * Output: one line of key=value pairs.  Not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "chunk.h"
#include "chunkpub.h"
#include "fsutil.h"
#include "../../client/delta.c"

static int
fail(const char *what, enum bd_err rc)
{
	fprintf(stderr, "chunktool: %s: %s (%s)\n", what, bd_strerror(rc),
	    bd_err_detail());
	return 1;
}

static enum bd_err
index_load(const char *path, struct chunk_index **idx)
{
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc;

	if ((rc = file_read_capped(AT_FDCWD, path, CHUNK_INDEX_MAX_BYTES, &buf,
	    &len)) == BD_OK)
		rc = chunk_index_parse(buf, len, idx);
	free(buf);
	return rc;
}

/* Parses a decimal integer in [lo, hi], or returns -1. */
static long
number(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

static void
print_result(const struct chunkpub_result *r, const struct chunk_index *prev)
{
	char ih[SHA256_HEX_BYTES], ph[SHA256_HEX_BYTES];

	sha256_hex(r->index_sha256, ih);
	sha256_hex(r->pack_sha256, ph);
	printf("size=%llu chunks=%u avg_bits=%u pack=%llu pack_sha256=%s "
	    "index=%llu index_sha256=%s", (unsigned long long)r->artifact_size,
	    r->chunks, r->params.avg_bits, (unsigned long long)r->pack_size, ph,
	    (unsigned long long)r->index_size, ih);
	if (prev != NULL)
		printf(" shared_chunks=%u shared_bytes=%llu fetch_bytes=%llu "
		    "ranges=%u", r->shared_chunks,
		    (unsigned long long)r->shared_bytes,
		    (unsigned long long)r->fetch_bytes, r->fetch_ranges);
	printf("\n");
}

static int
cmd_pack(int argc, char **argv)
{
	struct chunk_index *prev = NULL;
	struct chunkpub_result r;
	int blobs = -1, fd = -1, status = 1;
	long level = 0;
	enum bd_err rc;

	/* CHUNK_LEVEL: the zstd level, for quick runs (default: the publisher's). */
	if (getenv("CHUNK_LEVEL") != NULL &&
	    (level = number(getenv("CHUNK_LEVEL"), 1, 19)) < 0) {
		fprintf(stderr, "chunktool: CHUNK_LEVEL is 1 to 19\n");
		goto out;
	}
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: chunktool pack BLOBS ARTIFACT [PREV_INDEX]\n");
		goto out;
	}
	if ((blobs = open(argv[2], O_RDONLY | O_DIRECTORY)) < 0 ||
	    (fd = open(argv[3], O_RDONLY)) < 0) {
		fprintf(stderr, "chunktool: %s\n", strerror(errno));
		goto out;
	}
	if (argc == 5 && (rc = index_load(argv[4], &prev)) != BD_OK) {
		status = fail(argv[4], rc);
		goto out;
	}
	if ((rc = chunkpub_artifact(blobs, fd, prev, -1, (int)level, &r)) != BD_OK) {
		status = fail(argv[3], rc);
		goto out;
	}
	print_result(&r, prev);
	status = 0;
out:
	chunk_index_free(prev);
	if (fd >= 0)
		close(fd);
	if (blobs >= 0)
		close(blobs);
	return status;
}

static int
cmd_try(int argc, char **argv)
{
	struct chunk_params p;
	struct chunk_index *old = NULL, *new = NULL;
	struct chunkpub_result r;
	int fo = -1, fn = -1, status = 1;
	long kib = -1, level = -1;
	enum bd_err rc;

	if (argc == 6) {
		kib = number(argv[2], 1, 256);
		level = number(argv[3], 1, 19);
	}
	if (kib < 0 || (kib & (kib - 1)) != 0 || level < 0) {
		fprintf(stderr, "usage: chunktool try AVG_KIB(power of 2) LEVEL OLD NEW\n");
		goto out;
	}
	p.avg_bits = 10;
	while ((1 << (p.avg_bits - 10)) < kib)
		p.avg_bits++;
	p.min_len = (1u << p.avg_bits) / 4;
	p.max_len = (1u << p.avg_bits) * 8;
	if (p.max_len > CHUNK_RAW_MAX_BYTES)
		p.max_len = CHUNK_RAW_MAX_BYTES;
	if ((fo = open(argv[4], O_RDONLY)) < 0 ||
	    (fn = open(argv[5], O_RDONLY)) < 0) {
		fprintf(stderr, "chunktool: %s\n", strerror(errno));
		goto out;
	}
	if ((rc = chunk_pack_fd(fo, -1, &p, (int)level, &old, NULL)) != BD_OK ||
	    (rc = chunk_pack_fd(fn, -1, &p, (int)level, &new, NULL)) != BD_OK) {
		status = fail("pack", rc);
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.params = p;
	r.artifact_size = new->artifact_size;
	r.chunks = new->count;
	r.pack_size = new->pack_size;
	r.index_size = CHUNK_INDEX_HEADER_BYTES +
	    (uint64_t)new->count * CHUNK_INDEX_ENTRY_BYTES;
	if ((rc = chunkpub_compare(new, old, r.index_size, &r)) != BD_OK) {
		status = fail("compare", rc);
		goto out;
	}
	print_result(&r, old);
	status = 0;
out:
	chunk_index_free(new);
	chunk_index_free(old);
	if (fn >= 0)
		close(fn);
	if (fo >= 0)
		close(fo);
	return status;
}

/* Serves the pack from a file, as one honest mirror. */
static int
file_fetch(void *ctx, uint64_t off, size_t len, uint8_t *buf)
{
	return pread_exact(*(int *)ctx, buf, len, off) == BD_OK ? 0 : -1;
}

struct http_pack {
	CURL *curl;
	const char *url;
	uint8_t *buf;
	size_t len, got;
};

static size_t
http_body(char *p, size_t size, size_t n, void *ctx)
{
	struct http_pack *h = ctx;

	if (size * n > h->len - h->got)
		return 0;
	memcpy(h->buf + h->got, p, size * n);
	h->got += size * n;
	return size * n;
}

/* Serves the pack from an HTTP server, one Range request a range. */
static int
http_fetch(void *ctx, uint64_t off, size_t len, uint8_t *buf)
{
	struct http_pack *h = ctx;
	char range[64];
	long code = 0;

	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off,
	    (unsigned long long)(off + len - 1));
	h->buf = buf;
	h->len = len;
	h->got = 0;
	curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
	curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	if (curl_easy_perform(h->curl) != CURLE_OK ||
	    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code) !=
	    CURLE_OK || code != 206 || h->got != len)
		return -1;
	return 0;
}

static int
cmd_assemble(int argc, char **argv)
{
	struct chunk_index *idx = NULL, *sidx = NULL;
	struct delta_stats st;
	struct delta_seed seed = { -1, NULL, NULL, NULL };
	struct delta_source src = { file_fetch, NULL, NULL, NULL, NULL, NULL,
	    NULL };
	struct http_pack http = { NULL, NULL, NULL, 0, 0 };
	uint8_t *done = NULL;
	int pack = -1, out = -1, status = 1;
	enum bd_err rc;

	if (argc != 7) {
		fprintf(stderr, "usage: chunktool assemble INDEX PACK SEED SEED_INDEX OUT\n");
		goto out;
	}
	if ((rc = index_load(argv[2], &idx)) != BD_OK ||
	    (rc = index_load(argv[5], &sidx)) != BD_OK) {
		status = fail("index", rc);
		goto out;
	}
	if (strncmp(argv[3], "http://", 7) == 0) {
		if ((http.curl = curl_easy_init()) == NULL)
			goto out;
		http.url = argv[3];
		src.fetch = http_fetch;
		src.ctx = &http;
	} else if ((pack = open(argv[3], O_RDONLY)) < 0) {
		fprintf(stderr, "chunktool: %s\n", strerror(errno));
		goto out;
	} else
		src.ctx = &pack;
	if ((seed.fd = open(argv[4], O_RDONLY)) < 0 ||
	    (out = open(argv[6], O_RDWR | O_CREAT | O_EXCL, 0644)) < 0 ||
	    (done = calloc(idx->count, 1)) == NULL) {
		fprintf(stderr, "chunktool: %s\n", strerror(errno));
		goto out;
	}
	seed.idx = sidx;
	if ((rc = delta_assemble(idx, &seed, 1, out, &src, done, &st)) != BD_OK) {
		status = fail("assemble", rc);
		goto out;
	}
	printf("seed_chunks=%u seed_bytes=%llu pack_chunks=%u pack_bytes=%llu "
	    "requests=%u\n", st.seed_chunks, (unsigned long long)st.seed_bytes,
	    st.pack_chunks, (unsigned long long)st.pack_bytes, st.requests);
	status = 0;
out:
	if (http.curl != NULL)
		curl_easy_cleanup(http.curl);
	free(done);
	if (out >= 0)
		close(out);
	if (seed.fd >= 0)
		close(seed.fd);
	if (pack >= 0)
		close(pack);
	chunk_index_free(sidx);
	chunk_index_free(idx);
	return status;
}

static int
cmd_unshared(int argc, char **argv)
{
	struct chunk_index *idx = NULL, *old = NULL;
	struct chunk_seeds *seeds = NULL;
	uint8_t *buf = NULL;
	uint64_t off;
	uint32_t i, seed;
	char name[64];
	int fd = -1, dir = -1, status = 1;
	enum bd_err rc;

	if (argc != 6) {
		fprintf(stderr, "usage: chunktool unshared NEW_INDEX NEW OLD_INDEX DIR\n");
		goto out;
	}
	if ((rc = index_load(argv[2], &idx)) != BD_OK ||
	    (rc = index_load(argv[4], &old)) != BD_OK ||
	    (rc = chunk_seeds_new((const struct chunk_index *const *)&old, 1,
	    &seeds)) != BD_OK) {
		status = fail("index", rc);
		goto out;
	}
	if ((fd = open(argv[3], O_RDONLY)) < 0 ||
	    (dir = open(argv[5], O_RDONLY | O_DIRECTORY)) < 0 ||
	    (buf = malloc(CHUNK_RAW_MAX_BYTES)) == NULL) {
		fprintf(stderr, "chunktool: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < idx->count; i++) {
		const struct chunk_entry *e = &idx->chunks[i];

		if (chunk_seeds_find(seeds, e, &seed, &off))
			continue;
		snprintf(name, sizeof(name), "%08u", i);
		if (pread_exact(fd, buf, e->raw_len, e->raw_off) != BD_OK ||
		    file_write_atomic(dir, name, buf, e->raw_len, 0644,
		    false) != BD_OK) {
			fprintf(stderr, "chunktool: chunk %u\n", i);
			goto out;
		}
	}
	status = 0;
out:
	free(buf);
	if (dir >= 0)
		close(dir);
	if (fd >= 0)
		close(fd);
	chunk_seeds_free(seeds);
	chunk_index_free(old);
	chunk_index_free(idx);
	return status;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "unshared") == 0)
		return cmd_unshared(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "pack") == 0)
		return cmd_pack(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "try") == 0)
		return cmd_try(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "assemble") == 0)
		return cmd_assemble(argc, argv);
	fprintf(stderr, "usage: chunktool pack|try|assemble ...\n");
	return 1;
}
