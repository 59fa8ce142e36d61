/*
 * test_chunk.c - chunked artifacts (common/chunk*.c) and their assembly
 * on the client (client/delta.c): round trips, cut points that survive an
 * insertion, hostile indexes and zstd bombs refused with the right error,
 * seeds, lying and missing sources, and a resume that keeps only what
 * verifies.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include "check.h"
#include "chunk.h"
#include "chunkpub.h"
#include "fsutil.h"
#include "../../client/delta.c"

#define DATA_BYTES	(6u << 20)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * Fills buf with something like a tar of text and binaries: runs of words
 * (compressible) and runs of random bytes (not).
 */
static void
fill_data(uint8_t *buf, size_t len)
{
	static const char *const words[] = { "usr", "lib", "share", "doc",
	    "copyright", "the ", "of ", "GNU ", "General ", "Public ",
	    "License\n", "0000644 ", "root\0", "\0\0\0\0\0\0\0\0" };
	size_t i = 0, run, k;

	while (i < len) {
		run = 256 + next_rand() % 8192;
		if (next_rand() % 4 == 0) {
			for (k = 0; k < run && i < len; k++)
				buf[i++] = (uint8_t)next_rand();
		} else {
			while (run > 0 && i < len) {
				const char *w = words[next_rand() % 14];
				size_t n = strlen(w) + (w[0] == '\0' ? 8 : 0);

				for (k = 0; k < n && i < len && run > 0;
				    k++, run--)
					buf[i++] = (uint8_t)w[k];
			}
		}
	}
}

/* A new anonymous file holding len bytes of buf. */
static int
mem_file(const char *name, const uint8_t *buf, size_t len)
{
	int fd = memfd_create(name, 0);

	if (fd < 0 || (len > 0 && write(fd, buf, len) != (ssize_t)len) ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		printf("FAIL: memfd %s\n", name);
		exit(1);
	}
	return fd;
}

/* Reads a whole memfd back into a new buffer. */
static uint8_t *
file_bytes(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	uint8_t *buf = malloc(end > 0 ? (size_t)end : 1);

	if (buf == NULL || pread(fd, buf, (size_t)end, 0) != end) {
		printf("FAIL: read back\n");
		exit(1);
	}
	*len = (size_t)end;
	return buf;
}

/* Packs buf with p; returns the index, the pack in *pack. */
static struct chunk_index *
pack_buf(const uint8_t *buf, size_t len, const struct chunk_params *p,
    uint8_t **pack, size_t *pack_len, struct chunk_pack_stats *st)
{
	struct chunk_index *idx = NULL;
	int in = mem_file("artifact", buf, len), out = mem_file("pack", NULL, 0);

	CHECK_RC(chunk_pack_fd(in, out, p, 3, &idx, st), BD_OK, "pack");
	*pack = file_bytes(out, pack_len);
	close(in);
	close(out);
	return idx;
}

static void
test_roundtrip(const uint8_t *data, size_t len)
{
	struct chunk_pack_stats st;
	struct chunk_index *idx, *again = NULL, *scan = NULL;
	struct chunk_decoder *dec = chunk_decoder_new();
	uint8_t *pack, *enc, *enc2, *raw = malloc(CHUNK_RAW_MAX_BYTES), sha[32];
	size_t pack_len, enc_len, enc2_len;
	uint32_t i, bad = 0, small = 0, big = 0;
	int in;

	idx = pack_buf(data, len, &chunk_params_small, &pack, &pack_len, &st);
	CHECK(idx->artifact_size == len && st.raw_bytes == len,
	    "index covers the %zu bytes", len);
	CHECK(idx->pack_size == pack_len, "pack is %zu bytes as indexed",
	    pack_len);
	sha256_buf(pack, pack_len, sha);
	CHECK(memcmp(sha, idx->pack_sha256, 32) == 0, "pack hash as indexed");
	sha256_buf(data, len, sha);
	CHECK(memcmp(sha, st.artifact_sha256, 32) == 0, "artifact hash");
	CHECK(st.zstd_chunks > 0 && st.zstd_chunks < st.chunks,
	    "%u of %u chunks compressed, the random ones raw", st.zstd_chunks,
	    st.chunks);
	CHECK(pack_len < len, "pack %zu bytes smaller than %zu", pack_len, len);
	for (i = 0; i < idx->count; i++) {
		const struct chunk_entry *e = &idx->chunks[i];

		if (chunk_decode(dec, e, pack + e->pack_off, e->stored_len,
		    raw) != BD_OK || memcmp(raw, data + e->raw_off,
		    e->raw_len) != 0)
			bad++;
		if (i + 1 < idx->count && e->raw_len < chunk_params_small.min_len)
			small++;
		if (e->raw_len > chunk_params_small.max_len)
			big++;
	}
	CHECK(bad == 0, "every chunk decodes to its bytes (%u bad)", bad);
	CHECK(small == 0 && big == 0, "chunk lengths within [min, max]");
	CHECK(len / idx->count > 2048 && len / idx->count < 8192,
	    "average chunk %zu bytes, about 4 KiB", len / idx->count);

	CHECK_RC(chunk_index_encode(idx, &enc, &enc_len), BD_OK, "encode");
	CHECK(enc_len == CHUNK_INDEX_HEADER_BYTES + idx->count * 41u,
	    "index is header + 41 bytes a chunk");
	CHECK_RC(chunk_index_parse(enc, enc_len, &again), BD_OK, "parse");
	CHECK(again != NULL && again->count == idx->count &&
	    memcmp(again->chunks, idx->chunks,
	    idx->count * sizeof(*idx->chunks)) == 0,
	    "parsed index equals the packed one, offsets included");
	CHECK_RC(chunk_index_encode(again, &enc2, &enc2_len), BD_OK,
	    "encode again");
	CHECK(enc2_len == enc_len && memcmp(enc, enc2, enc_len) == 0,
	    "encoding is stable");

	in = mem_file("artifact", data, len);
	CHECK_RC(chunk_pack_fd(in, -1, &chunk_params_small, 3, &scan, NULL),
	    BD_OK, "scan without a pack");
	CHECK(scan != NULL && scan->count == idx->count &&
	    memcmp(scan->pack_sha256, idx->pack_sha256, 32) == 0,
	    "a scan describes the same pack");
	close(in);
	chunk_index_free(scan);
	free(enc2);
	free(enc);
	chunk_index_free(again);
	chunk_index_free(idx);
	chunk_decoder_free(dec);
	free(raw);
	free(pack);
}

/* Chunks of b that a holds, in percent of b's chunks. */
static unsigned
shared_percent(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    const struct chunk_params *p)
{
	struct chunk_index *ia = NULL, *ib = NULL;
	struct chunk_seeds *s = NULL;
	struct chunk_src *src = NULL;
	struct chunk_plan_stats ps;
	int fa = mem_file("a", a, alen), fb = mem_file("b", b, blen);
	unsigned pct = 0;

	if (chunk_pack_fd(fa, -1, p, 1, &ia, NULL) == BD_OK &&
	    chunk_pack_fd(fb, -1, p, 1, &ib, NULL) == BD_OK &&
	    chunk_seeds_new((const struct chunk_index *const *)&ia, 1,
	    &s) == BD_OK && chunk_plan(ib, s, &src, &ps) == BD_OK)
		pct = (unsigned)(100u * ps.seed_chunks / ib->count);
	free(src);
	chunk_seeds_free(s);
	chunk_index_free(ib);
	chunk_index_free(ia);
	close(fa);
	close(fb);
	return pct;
}

static void
test_shift(const uint8_t *data, size_t len)
{
	uint8_t *b = malloc(len + 100);
	unsigned pct;

	memcpy(b, data, 1000);
	memset(b + 1000, 'X', 100);
	memcpy(b + 1100, data + 1000, len - 1000);
	pct = shared_percent(data, len, b, len + 100, &chunk_params_small);
	CHECK(pct >= 97, "100 bytes inserted near the front: %u%% of the "
	    "small chunks shared", pct);
	pct = shared_percent(data, len, b, len + 100, &chunk_params_large);
	CHECK(pct >= 90, "and %u%% of the large chunks", pct);
	memcpy(b, data, len);
	b[len / 2] ^= 1;
	pct = shared_percent(data, len, b, len, &chunk_params_small);
	CHECK(pct >= 98 && pct < 100, "one byte changed: %u%% shared", pct);
	free(b);
}

/* A small valid index: chunks of 100 raw bytes, stored raw, n of them. */
static uint8_t *
small_index(uint32_t n, size_t *len)
{
	struct chunk_index idx = { .artifact_size = 100ull * n,
	    .pack_size = 100ull * n, .count = n };
	uint8_t *buf = NULL;
	uint32_t i;

	idx.chunks = calloc(n, sizeof(*idx.chunks));
	for (i = 0; i < n; i++) {
		idx.chunks[i].raw_len = idx.chunks[i].stored_len = 100;
		idx.chunks[i].sha256[0] = (uint8_t)i;
	}
	chunk_index_encode(&idx, &buf, len);
	free(idx.chunks);
	return buf;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
hostile(const char *what, const uint8_t *buf, size_t len, enum bd_err want)
{
	struct chunk_index *idx = (struct chunk_index *)1;

	CHECK_RC(chunk_index_parse(buf, len, &idx), want, what);
	if (want != BD_OK)
		CHECK(idx == NULL, "nothing returned: %s", what);
	chunk_index_free(idx);
}

/* Entry i's first byte in an index of small_index(). */
#define ENTRY(b, i) ((b) + CHUNK_INDEX_HEADER_BYTES + (i) * CHUNK_INDEX_ENTRY_BYTES)

static void
test_hostile(void)
{
	size_t len, big_len = CHUNK_INDEX_MAX_BYTES + 1;
	uint8_t *good = small_index(3, &len), *b = malloc(len + 1);
	uint8_t *big = calloc(1, big_len);

	hostile("the valid index", good, len, BD_OK);
#define MUTATE(what, stmt, want) do { \
	memcpy(b, good, len); stmt; hostile(what, b, len, want); } while (0)
	hostile("a truncated index", good, len - 1, BD_ERR_FORMAT);
	hostile("a header alone", good, CHUNK_INDEX_HEADER_BYTES, BD_ERR_FORMAT);
	hostile("7 bytes", good, 7, BD_ERR_FORMAT);
	memcpy(b, good, len);
	b[len] = 0;
	hostile("a byte too many", b, len + 1, BD_ERR_FORMAT);
	MUTATE("wrong magic", b[7] = '1', BD_ERR_FORMAT);
	MUTATE("count 0", put32(b + 16, 0), BD_ERR_FORMAT);
	MUTATE("count above the cap", put32(b + 16, CHUNK_COUNT_MAX + 1),
	    BD_ERR_TOOBIG);
	MUTATE("count above the artifact size",
	    (memset(b + 8, 0, 8), b[15] = 2), BD_ERR_TOOBIG);
	MUTATE("count 4 for 3 entries", put32(b + 16, 4), BD_ERR_FORMAT);
	MUTATE("an empty chunk", (put32(ENTRY(b, 1), 0),
	    put32(ENTRY(b, 1) + 4, 0)), BD_ERR_FORMAT);
	MUTATE("a chunk above 1 MiB raw", (put32(ENTRY(b, 0),
	    CHUNK_RAW_MAX_BYTES + 1), put32(ENTRY(b, 0) + 4,
	    CHUNK_RAW_MAX_BYTES + 1)), BD_ERR_FORMAT);
	MUTATE("an unknown encoding", ENTRY(b, 2)[8] = 2, BD_ERR_FORMAT);
	MUTATE("a raw chunk stored in fewer bytes", put32(ENTRY(b, 2) + 4, 99),
	    BD_ERR_FORMAT);
	MUTATE("a zstd chunk not smaller", ENTRY(b, 2)[8] = 1, BD_ERR_FORMAT);
	MUTATE("raw lengths not adding up", b[15]++, BD_ERR_SIZE);
	MUTATE("stored lengths not adding up", b[59]--, BD_ERR_SIZE);
	MUTATE("a length moved between chunks", (put32(ENTRY(b, 0), 150),
	    put32(ENTRY(b, 0) + 4, 150), put32(ENTRY(b, 1), 50),
	    put32(ENTRY(b, 1) + 4, 50)), BD_OK);
	memcpy(big, good, CHUNK_INDEX_HEADER_BYTES);
	hostile("an index over the cap", big, big_len, BD_ERR_TOOBIG);
#undef MUTATE
	free(big);
	free(b);
	free(good);
}

/* Compresses len bytes of src as one frame, with or without its size. */
static size_t
frame(uint8_t *out, size_t cap, const uint8_t *src, size_t len, int with_size)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_inBuffer in = { src, len, 0 };
	ZSTD_outBuffer o = { out, cap, 0 };

	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
	while (ZSTD_compressStream2(c, &o, &in, ZSTD_e_end) != 0)
		;
	ZSTD_freeCCtx(c);
	return o.pos;
}

static void
decode_case(const char *what, const struct chunk_entry *e, const uint8_t *s,
    size_t n, enum bd_err want)
{
	struct chunk_decoder *d = chunk_decoder_new();
	/* A guard after the raw length catches a write past it. */
	uint8_t *raw = malloc(e->raw_len + 64);

	memset(raw, 0xa5, e->raw_len + 64);
	CHECK_RC(chunk_decode(d, e, s, n, raw), want, what);
	CHECK(raw[e->raw_len] == 0xa5 && raw[e->raw_len + 63] == 0xa5,
	    "nothing written past the raw length: %s", what);
	free(raw);
	chunk_decoder_free(d);
}

static void
test_decode(void)
{
	size_t zlen = 4u << 20, cap = ZSTD_compressBound(zlen), n;
	uint8_t *zeros = calloc(1, zlen), *z = malloc(2 * cap);
	struct chunk_entry e = { .raw_len = 4096, .encoding = CHUNK_ZSTD };

	sha256_buf(zeros, 4096, e.sha256);
	n = frame(z, cap, zeros, 4096, 1);
	e.stored_len = (uint32_t)n;
	decode_case("4096 zeros", &e, z, n, BD_OK);
	decode_case("a stored length other than indexed", &e, z, n - 1,
	    BD_ERR_SIZE);
	n = frame(z, cap, zeros, zlen, 1);
	e.stored_len = (uint32_t)n;
	decode_case("4 MiB of zeros declared as 4096 bytes (bomb)", &e, z, n,
	    BD_ERR_TOOBIG);
	n = frame(z, cap, zeros, zlen, 0);
	e.stored_len = (uint32_t)n;
	decode_case("the same bomb without a declared size", &e, z, n,
	    BD_ERR_TOOBIG);
	n = frame(z, cap, zeros, 4000, 1);
	e.stored_len = (uint32_t)n;
	decode_case("a frame of 4000 bytes for 4096", &e, z, n, BD_ERR_FORMAT);
	n = frame(z, cap, zeros, 2048, 1);
	n += frame(z + n, cap, zeros, 2048, 1);
	e.stored_len = (uint32_t)n;
	decode_case("two frames of 2048", &e, z, n, BD_ERR_FORMAT);
	memset(z, 'x', 64);
	e.stored_len = 64;
	decode_case("not zstd", &e, z, 64, BD_ERR_FORMAT);
	zeros[0] = 1;
	n = frame(z, cap, zeros, 4096, 1);
	e.stored_len = (uint32_t)n;
	decode_case("other bytes than hashed", &e, z, n, BD_ERR_HASH);
	e.encoding = CHUNK_RAW;
	e.stored_len = 4096;
	decode_case("raw, other bytes than hashed", &e, zeros, 4096,
	    BD_ERR_HASH);
	zeros[0] = 0;
	decode_case("raw", &e, zeros, 4096, BD_OK);
	free(z);
	free(zeros);
}

static void
test_params(const uint8_t *text)
{
	uint8_t *noise = malloc(1u << 20);
	struct chunk_params p;
	size_t i;

	for (i = 0; i < 1u << 20; i++)
		noise[i] = (uint8_t)next_rand();
	CHECK_RC(chunk_params_choose(noise, 1u << 20, 100u << 20, &p), BD_OK,
	    "choose for 100 MiB of noise");
	CHECK(p.avg_bits == 12 && p.max_len == 32u << 10,
	    "incompressible bytes get 4 KiB chunks");
	CHECK_RC(chunk_params_choose(text, 1u << 20, 150u << 20, &p), BD_OK,
	    "choose for 150 MiB of text");
	CHECK(p.avg_bits == 13, "compressible bytes get 8 KiB chunks");
	CHECK_RC(chunk_params_choose(noise, 1u << 20, 1ull << 30, &p), BD_OK,
	    "choose for 1 GiB of noise");
	CHECK(p.avg_bits == 15 && (1ull << 30 >> p.avg_bits) <= CHUNK_COUNT_MAX / 2,
	    "1 GiB of noise: chunks grown to %u KiB", (1u << p.avg_bits) >> 10);
	CHECK_RC(chunk_params_choose(text, 1u << 20, 64ull << 30, &p), BD_OK,
	    "choose for 64 GiB");
	CHECK(p.max_len == CHUNK_RAW_MAX_BYTES, "never above 1 MiB a chunk");
	free(noise);
}

static void
test_ranges(void)
{
	struct chunk_index idx = { .count = 6 };
	struct chunk_entry c[6];
	static const uint32_t lens[6] = { 100, 5000, 100, 100, 2000, 100 };
	uint8_t need[6] = { 1, 0, 1, 1, 0, 1 };
	struct chunk_range r;
	uint64_t off = 0;
	uint32_t i, pos = 0;

	memset(c, 0, sizeof(c));
	for (i = 0; i < 6; i++) {
		c[i].pack_off = off;
		c[i].stored_len = lens[i];
		off += lens[i];
	}
	idx.chunks = c;
	/* A 5000-byte gap splits; a 2000-byte one is bridged at gap 2048. */
	CHECK(chunk_range_next(&idx, need, &pos, 2048, 1 << 20, &r) &&
	    r.first == 0 && r.end == 1 && r.pack_off == 0 && r.pack_len == 100,
	    "first range is chunk 0 alone");
	CHECK(chunk_range_next(&idx, need, &pos, 2048, 1 << 20, &r) &&
	    r.first == 2 && r.end == 6 && r.pack_off == 5100 &&
	    r.pack_len == 2300, "second range bridges the 2000-byte gap");
	CHECK(!chunk_range_next(&idx, need, &pos, 2048, 1 << 20, &r),
	    "no third range");
	pos = 0;
	CHECK(chunk_range_next(&idx, need, &pos, 2048, 1 << 20, &r) &&
	    chunk_range_next(&idx, need, &pos, 1000, 1 << 20, &r) &&
	    r.first == 2 && r.end == 4, "gap 1000 does not bridge 2000");
	pos = 0;
	CHECK(chunk_range_next(&idx, need, &pos, 1u << 20, 250, &r) &&
	    r.end == 1 && chunk_range_next(&idx, need, &pos, 1u << 20, 250,
	    &r) && r.first == 2 && r.end == 4 && r.pack_len == 200,
	    "max_len 250 caps a range at two chunks");
	memset(need, 0, sizeof(need));
	pos = 0;
	CHECK(!chunk_range_next(&idx, need, &pos, 0, 1 << 20, &r),
	    "nothing needed, no range");
}

/* A pack served from memory by up to three mirrors. */
struct mirrors {
	const uint8_t *pack;
	size_t len;
	int liar;		/* mirror that flips a byte at lie_off, or -1 */
	uint64_t lie_off;
	int bomb;		/* mirror that serves a bomb for chunk bomb_chunk */
	const struct chunk_entry *bomb_chunk;
	uint64_t hole_off;	/* no mirror serves a range holding this */
	int next;		/* the mirror asked next */
	int dropped[3];
	int blamed_source;
	uint32_t blamed_chunk, blames;
	enum bd_err blamed_why;
};

static int
mirrors_fetch(void *ctx, uint64_t off, size_t len, uint8_t *buf)
{
	struct mirrors *m = ctx;
	int id = m->next;

	if (off <= m->hole_off && m->hole_off < off + len)
		return -1;
	while (m->dropped[id])
		if ((id = (id + 1) % 3) == m->next)
			return -1;
	memcpy(buf, m->pack + off, len);
	if (id == m->liar && off <= m->lie_off && m->lie_off < off + len)
		buf[m->lie_off - off] ^= 0x40;
	if (id == m->bomb && m->bomb_chunk != NULL &&
	    off <= m->bomb_chunk->pack_off &&
	    m->bomb_chunk->pack_off < off + len) {
		/* Same stored length, a frame that claims 1 GiB. */
		static const uint8_t head[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x84,
		    0x00, 0x00, 0x00, 0x00, 0x40 };

		memcpy(buf + (m->bomb_chunk->pack_off - off), head,
		    sizeof(head));
	}
	return id;
}

static void
mirrors_blame(void *ctx, int source, uint32_t i, uint64_t off, uint32_t len,
    enum bd_err why)
{
	struct mirrors *m = ctx;

	(void)off;
	(void)len;
	m->blamed_source = source;
	m->blamed_chunk = i;
	m->blamed_why = why;
	m->blames++;
	m->dropped[source] = 1;
}

/*
 * The same mirrors with ranges in flight (as client/rangefetch.c): up to
 * three asked for at once, given back last first.
 */
struct inflight {
	struct mirrors *m;
	struct chunk_range r[3];
	size_t n;
	size_t most;		/* most outstanding at once */
	uint8_t *buf;		/* CHUNK_RANGE_MAX_BYTES */
};

static bool
inflight_ask(void *ctx, const struct chunk_range *r)
{
	struct inflight *f = ctx;

	if (f->n == 3)
		return false;
	f->r[f->n++] = *r;
	if (f->n > f->most)
		f->most = f->n;
	return true;
}

static enum bd_err
inflight_next(void *ctx, struct chunk_range *r, const uint8_t **buf,
    int *source)
{
	struct inflight *f = ctx;

	if (f->n == 0)
		return BD_ERR_USAGE;
	*r = f->r[--f->n];
	*buf = f->buf;
	*source = mirrors_fetch(f->m, r->pack_off, (size_t)r->pack_len, f->buf);
	return *source < 0 ? BD_ERR_NETWORK : BD_OK;
}

static void
inflight_blame(void *ctx, int source, uint32_t i, uint64_t off, uint32_t len,
    enum bd_err why)
{
	struct inflight *f = ctx;

	mirrors_blame(f->m, source, i, off, len, why);
}

/* The chunk of idx holding artifact byte off. */
static uint32_t
chunk_holding(const struct chunk_index *idx, uint64_t off)
{
	uint32_t i = 0;

	while (i + 1 < idx->count && idx->chunks[i + 1].raw_off <= off)
		i++;
	return i;
}

/* Whether fd holds exactly len bytes of want. */
static bool
holds(int fd, const uint8_t *want, size_t len)
{
	size_t got_len;
	uint8_t *got = file_bytes(fd, &got_len);
	bool same = got_len == len && memcmp(got, want, len) == 0;

	free(got);
	return same;
}

/* async: the source takes ranges with ask and next, else with fetch. */
static void
test_assemble(const uint8_t *a, size_t alen, bool async)
{
	size_t blen = alen + 5000, pack_len;
	uint8_t *b = malloc(blen), *pack, *done;
	struct chunk_index *ia, *ib;
	struct chunk_pack_stats st;
	struct delta_stats ds;
	struct delta_seed seed = { -1, NULL, NULL, NULL };
	struct mirrors m;
	struct delta_source src = { mirrors_fetch, mirrors_blame, &m, NULL,
	    NULL, NULL, NULL };
	struct inflight f = { &m, { { 0, 0, 0, 0 } }, 0, 0, NULL };
	void (*blame)(void *, int, uint32_t, uint64_t, uint32_t,
	    enum bd_err) = async ? inflight_blame : mirrors_blame;
	uint8_t *apack;
	size_t apack_len;
	uint32_t i, n_done, k;
	int fa, out;
	enum bd_err rc;

	/* B: A with an insertion, a deletion and a rewritten stretch. */
	memcpy(b, a, 200000);
	for (i = 0; i < 10000; i++)
		b[200000 + i] = (uint8_t)next_rand();
	memcpy(b + 210000, a + 205000, alen - 205000);
	for (i = 0; i < 64; i++)
		b[3000000 + i] = 'Z';
	if (async) {
		f.buf = malloc(CHUNK_RANGE_MAX_BYTES);
		src = (struct delta_source){ NULL, blame, &f, NULL, NULL,
		    inflight_ask, inflight_next };
	}
	fa = mem_file("seed", a, alen);
	ia = pack_buf(a, alen, &chunk_params_small, &apack, &apack_len,
	    &st);
	ib = pack_buf(b, blen, &chunk_params_small, &pack, &pack_len, &st);
	seed.fd = fa;
	seed.idx = ia;
	done = calloc(ib->count, 1);

	memset(&m, 0, sizeof(m));
	m.pack = pack;
	m.len = pack_len;
	m.liar = m.bomb = -1;
	m.hole_off = UINT64_MAX;
	out = mem_file("part", NULL, 0);
	CHECK_RC(delta_assemble(ib, &seed, 1, out, &src, done, &ds), BD_OK,
	    "assemble B from seed A and an honest mirror");
	CHECK(holds(out, b, blen), "part file holds B");
	CHECK(ds.seed_chunks > ib->count * 9 / 10 && ds.pack_chunks > 0 &&
	    ds.seed_chunks + ds.pack_chunks == ib->count,
	    "%u chunks from the seed, %u fetched in %u requests", ds.seed_chunks,
	    ds.pack_chunks, ds.requests);
	CHECK(ds.pack_bytes < pack_len / 10, "%llu of %zu pack bytes fetched",
	    (unsigned long long)ds.pack_bytes, pack_len);
	close(out);

	/* The seed was altered where chunk k of B comes from. */
	memset(done, 0, ib->count);
	k = chunk_holding(ib, 100000);
	CHECK(pwrite(fa, "altered", 7, 100000) == 7, "alter the seed");
	out = mem_file("part", NULL, 0);
	CHECK_RC(delta_assemble(ib, &seed, 1, out, &src, done, &ds), BD_OK,
	    "assemble from an altered seed");
	CHECK(holds(out, b, blen) && ds.seed_misses == 1,
	    "part file holds B, %u seed chunk refused and fetched",
	    ds.seed_misses);
	close(out);
	CHECK(pwrite(fa, a + 100000, 7, 100000) == 7, "restore the seed");

	/* Mirror 0 flips a byte in chunk k: blamed, dropped, fetched again. */
	memset(done, 0, ib->count);
	k = chunk_holding(ib, 205000);
	m.liar = 0;
	m.lie_off = ib->chunks[k].pack_off + ib->chunks[k].stored_len / 2;
	out = mem_file("part", NULL, 0);
	rc = delta_assemble(ib, &seed, 1, out, &src, done, &ds);
	CHECK_RC(rc, BD_OK, "assemble with a lying mirror");
	CHECK(holds(out, b, blen), "part file holds B");
	CHECK(m.blames == 1 && m.blamed_source == 0 && m.blamed_chunk == k &&
	    m.blamed_why == BD_ERR_HASH, "mirror 0 blamed for chunk %u (%u)",
	    m.blamed_chunk, k);
	close(out);

	/* Every mirror lies: refused after the last round. */
	memset(done, 0, ib->count);
	memset(m.dropped, 0, sizeof(m.dropped));
	m.blames = 0;
	src.blame = NULL;
	out = mem_file("part", NULL, 0);
	CHECK_RC(delta_assemble(ib, &seed, 1, out, &src, done, &ds),
	    BD_ERR_HASH, "a chunk no mirror gives right");
	CHECK(!done[k] && ds.bad_chunks == DELTA_ROUNDS,
	    "chunk %u not done, refused %u times", k, ds.bad_chunks);
	close(out);
	src.blame = blame;
	m.liar = -1;

	/* A zstd bomb in place of a compressed chunk. */
	for (k = 0; k < ib->count && (ib->chunks[k].encoding != CHUNK_ZSTD ||
	    ib->chunks[k].raw_off < 200000); k++)
		;
	memset(done, 0, ib->count);
	memset(m.dropped, 0, sizeof(m.dropped));
	m.blames = 0;
	m.bomb = 0;
	m.bomb_chunk = &ib->chunks[k];
	out = mem_file("part", NULL, 0);
	CHECK_RC(delta_assemble(ib, &seed, 1, out, &src, done, &ds), BD_OK,
	    "assemble with a mirror serving a zstd bomb");
	CHECK(k < ib->count && m.blames == 1 && m.blamed_chunk == k &&
	    m.blamed_why == BD_ERR_TOOBIG, "bomb refused as too big, blamed "
	    "(%u blames, chunk %u of %u, %s)", m.blames, m.blamed_chunk, k,
	    bd_strerror(m.blamed_why));
	CHECK(holds(out, b, blen), "part file holds B");
	close(out);
	m.bomb = -1;

	/* A range no mirror serves, then a resume that keeps what verified. */
	memset(done, 0, ib->count);
	memset(m.dropped, 0, sizeof(m.dropped));
	k = chunk_holding(ib, 3000000);
	m.hole_off = ib->chunks[k].pack_off;
	out = mem_file("part", NULL, 0);
	CHECK_RC(delta_assemble(ib, &seed, 1, out, &src, done, &ds),
	    BD_ERR_NETWORK, "a range missing from every mirror");
	for (i = 0, n_done = 0; i < ib->count; i++)
		n_done += done[i];
	CHECK(!done[k] && n_done == ib->count - 1,
	    "all chunks but %u done", k);
	memset(done, 1, ib->count);
	CHECK_RC(delta_part_check(ib, out, done), BD_OK, "check the part file");
	for (i = 0, n_done = 0; i < ib->count; i++)
		n_done += done[i];
	CHECK(!done[k] && n_done == ib->count - 1,
	    "re-hashing keeps exactly the verified chunks");
	m.hole_off = UINT64_MAX;
	CHECK_RC(delta_assemble(ib, NULL, 0, out, &src, done, &ds), BD_OK,
	    "resume without seeds");
	CHECK(ds.pack_chunks == 1 && ds.seed_chunks == 0,
	    "resume fetched only the missing chunk (%u)", ds.pack_chunks);
	CHECK(holds(out, b, blen), "part file holds B");
	close(out);

	/* Shrinking: A (shorter) from seed B, into a part file holding B. */
	{
		struct delta_seed sb = { mem_file("seed-b", b, blen), ib, NULL,
		    NULL };
		uint8_t *adone = calloc(ia->count, 1);

		memset(&m, 0, sizeof(m));
		m.pack = apack;
		m.len = apack_len;
		m.liar = m.bomb = -1;
		m.hole_off = UINT64_MAX;
		out = mem_file("part", b, blen);
		CHECK_RC(delta_assemble(ia, &sb, 1, out, &src, adone, &ds), BD_OK,
		    "assemble the shorter A from seed B over a longer part file");
		/* what follows A's bytes (a trailer) is the caller's */
		CHECK(lseek(out, 0, SEEK_END) == (off_t)blen,
		    "the bytes after A's are left as they were");
		CHECK(ftruncate(out, (off_t)alen) == 0 && holds(out, a, alen) &&
		    ds.seed_chunks > ia->count * 9 / 10,
		    "part file holds A's %zu bytes, %u chunks from seed B", alen,
		    ds.seed_chunks);
		close(out);
		close(sb.fd);
		free(adone);
		m.pack = pack;
		m.len = pack_len;
	}

	/* No seed at all: everything from the pack. */
	memset(done, 0, ib->count);
	out = mem_file("part", NULL, 0);
	CHECK_RC(delta_assemble(ib, NULL, 0, out, &src, done, &ds), BD_OK,
	    "assemble without seeds");
	CHECK(holds(out, b, blen) && ds.pack_bytes == pack_len,
	    "whole pack fetched once");
	close(out);
	CHECK(!async || f.most == 3, "%zu ranges outstanding at most", f.most);
	free(f.buf);

	free(done);
	chunk_index_free(ib);
	chunk_index_free(ia);
	free(apack);
	free(pack);
	free(b);
	close(fa);
}

/* idx as chunk_cut() with p cuts data: raw lengths only. */
static void
cut_index(const struct chunk_params *p, const uint8_t *data, size_t len,
    struct chunk_index *idx)
{
	size_t off = 0, n;

	idx->artifact_size = len;
	idx->count = 0;
	while (off < len) {
		n = chunk_cut(p, data + off, len - off);
		idx->chunks[idx->count++].raw_len = (uint32_t)n;
		off += n;
	}
}

/*
 * The publisher finds the parameters a previous version was cut with from
 * its index and its first bytes, and keeps them while they fit.
 */
static void
test_infer(const uint8_t *data, size_t len)
{
	struct chunk_index idx = { 0 };
	struct chunk_params c = chunk_params_small, p;
	unsigned k;

	idx.chunks = calloc(len / 1024 + 1, sizeof(*idx.chunks));
	for (k = 0; c.max_len <= CHUNK_RAW_MAX_BYTES; k++) {
		cut_index(&c, data, len, &idx);
		memset(&p, 0, sizeof(p));
		CHECK(chunk_params_infer(&idx, data, len, &p) == BD_OK &&
		    memcmp(&p, &c, sizeof(p)) == 0,
		    "small doubled %u times found again from the whole artifact", k);
		memset(&p, 0, sizeof(p));
		CHECK(chunk_params_infer(&idx, data, 3u << 20, &p) == BD_OK &&
		    memcmp(&p, &c, sizeof(p)) == 0,
		    "small doubled %u times found again from its first 3 MiB", k);
		c.avg_bits++;
		c.min_len *= 2;
		c.max_len *= 2;
	}
	cut_index(&chunk_params_large, data, len, &idx);
	idx.chunks[0].raw_len++;	/* another chunker's first cut */
	idx.chunks[1].raw_len--;
	CHECK_RC(chunk_params_infer(&idx, data, len, &p), BD_ERR_FORMAT,
	    "cut points no parameters give");
	bd_err_clear();
	c = chunk_params_small;
	CHECK(chunk_params_fit(&c, (uint64_t)CHUNK_COUNT_MAX * 3 / 4 << 12) &&
	    !chunk_params_fit(&c, ((uint64_t)CHUNK_COUNT_MAX * 3 / 4 + 1) << 12),
	    "4 KiB chunks fit up to 3/4 of the count cap");
	free(idx.chunks);
}

/*
 * B is A with noise over its first 256 KiB, which alone would get B small
 * chunks: published after A (index prev, bytes fa) it keeps A's large ones
 * and shares A's chunks past the noise; without A's bytes it is cut anew
 * and shares none of them.
 */
static void
test_keep(int blobs, const uint8_t *a, size_t alen, int fa,
    const struct chunk_index *prev)
{
	struct chunkpub_result r;
	uint8_t *b = malloc(alen);
	size_t i;
	int fb;

	memcpy(b, a, alen);
	for (i = 0; i < 256u << 10; i++)
		b[i] = (uint8_t)next_rand();
	fb = mem_file("b", b, alen);
	CHECK_RC(chunkpub_artifact(blobs, fb, prev, fa, 3, &r), BD_OK,
	    "publish B after A");
	CHECK(r.params_kept && r.params.avg_bits == chunk_params_large.avg_bits,
	    "B keeps A's parameters (%u)", r.params.avg_bits);
	CHECK(r.shared_bytes > alen / 2, "B shares %llu bytes with A",
	    (unsigned long long)r.shared_bytes);
	lseek(fb, 0, SEEK_SET);
	CHECK_RC(chunkpub_artifact(blobs, fb, prev, -1, 3, &r), BD_OK,
	    "publish B without A's bytes");
	CHECK(!r.params_kept && r.params.avg_bits == chunk_params_small.avg_bits,
	    "B alone gets small chunks (%u)", r.params.avg_bits);
	CHECK(r.shared_bytes < alen / 8, "cut anew, B shares %llu bytes with A",
	    (unsigned long long)r.shared_bytes);
	close(fb);
	free(b);
}

static void
test_publish(const uint8_t *a, size_t alen)
{
	char dir[] = "/tmp/bootdrop-chunk.XXXXXX", hex[SHA256_HEX_BYTES];
	struct chunkpub_result r1, r2;
	struct chunk_index *prev = NULL;
	uint8_t *ibuf = NULL;
	size_t ilen;
	int blobs, fa;
	char cmd[256];

	if (mkdtemp(dir) == NULL ||
	    (blobs = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		exit(1);
	fa = mem_file("a", a, alen);
	CHECK_RC(chunkpub_artifact(blobs, fa, NULL, -1, 3, &r1), BD_OK,
	    "publish A");
	sha256_hex(r1.index_sha256, hex);
	CHECK_RC(file_read_capped(blobs, hex, CHUNK_INDEX_MAX_BYTES, &ibuf,
	    &ilen), BD_OK, "index blob is named by its hash");
	CHECK(ilen == r1.index_size, "index is %zu bytes", ilen);
	CHECK_RC(chunk_index_parse(ibuf, ilen, &prev), BD_OK,
	    "index blob parses");
	sha256_hex(r1.pack_sha256, hex);
	CHECK(faccessat(blobs, hex, R_OK, 0) == 0, "pack blob is there");
	CHECK(r1.params.avg_bits == chunk_params_large.avg_bits,
	    "large chunks for this compressible artifact (%u)",
	    r1.params.avg_bits);
	lseek(fa, 0, SEEK_SET);
	CHECK_RC(chunkpub_artifact(blobs, fa, prev, -1, 3, &r2), BD_OK,
	    "publish A again against A");
	CHECK(r2.shared_chunks == r2.chunks && r2.fetch_bytes == r2.index_size &&
	    r2.fetch_ranges == 0, "everything shared, only the index moves");
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 2", dir);
	CHECK(system(cmd) == 0, "two blobs, no temporary file left");
	test_keep(blobs, a, alen, fa, prev);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "clean up");
	chunk_index_free(prev);
	free(ibuf);
	close(fa);
	close(blobs);
}

int
main(void)
{
	uint8_t *data = malloc(DATA_BYTES);

	fill_data(data, DATA_BYTES);
	test_roundtrip(data, DATA_BYTES);
	test_shift(data, DATA_BYTES);
	test_hostile();
	test_decode();
	test_params(data);
	test_ranges();
	test_assemble(data, DATA_BYTES, false);
	test_assemble(data, DATA_BYTES, true);
	test_publish(data, DATA_BYTES);
	test_infer(data, DATA_BYTES);
	free(data);
	return check_done();
}
