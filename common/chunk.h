/*
 * chunk.h - content-defined chunks of an artifact, the chunk pack that
 * stores them and the binary chunk index that names them (DESIGN.md, third
 * round, "Moving only what changed").
 *
 *   chunk.c      the index format (encode, parse untrusted bytes), the
 *                chunker's cut points, the capped decoder of one chunk
 *   chunkpack.c  streaming writer: artifact fd -> pack fd + index
 *   chunkplan.c  which chunks a seed already holds, and the merged pack
 *                ranges to fetch for the rest
 *
 * Index layout (all integers big-endian):
 *   "BDCHUNK2" | artifact size u64 | count u32 | pack SHA-256 | pack size u64
 *   then count entries: raw length u32 | stored length u32 | encoding u8 |
 *   raw SHA-256
 * Offsets are running sums of the lengths.
 */
#ifndef BOOTDROP_CHUNK_H
#define BOOTDROP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define CHUNK_INDEX_MAGIC		"BDCHUNK2"
#define CHUNK_INDEX_MAGIC_BYTES		8
#define CHUNK_INDEX_HEADER_BYTES	(8 + 8 + 4 + SHA256_BYTES + 8)
#define CHUNK_INDEX_ENTRY_BYTES		(4 + 4 + 1 + SHA256_BYTES)
/* No chunk is empty or above this many raw bytes. */
#define CHUNK_RAW_MAX_BYTES		(1u << 20)
/*
 * At most this many chunks per index: a parsed index costs 64 bytes a
 * chunk, so 4 MiB at the cap, and the client's memory stays flat whatever
 * the artifact's size (the publisher grows its chunks to stay below).
 */
#define CHUNK_COUNT_MAX			65536u
#define CHUNK_INDEX_MAX_BYTES \
	(CHUNK_INDEX_HEADER_BYTES + (size_t)CHUNK_COUNT_MAX * CHUNK_INDEX_ENTRY_BYTES)
/* Artifacts smaller than this are not chunked (DESIGN.md). */
#define CHUNK_ARTIFACT_MIN_BYTES	(1u << 20)

enum chunk_encoding {
	CHUNK_RAW = 0,
	CHUNK_ZSTD = 1,
};

struct chunk_entry {
	uint64_t raw_off;		/* in the artifact */
	uint64_t pack_off;		/* in the pack */
	uint32_t raw_len;
	uint32_t stored_len;
	uint8_t encoding;		/* enum chunk_encoding */
	uint8_t sha256[SHA256_BYTES];	/* of the raw bytes */
};

struct chunk_index {
	uint64_t artifact_size;
	uint64_t pack_size;
	uint8_t pack_sha256[SHA256_BYTES];
	uint32_t count;
	struct chunk_entry *chunks;	/* count entries, offsets filled in */
};

/*
 * Parses len untrusted bytes of an index.  Refuses, before allocating
 * anything: more than CHUNK_INDEX_MAX_BYTES or a count above
 * CHUNK_COUNT_MAX or above the artifact size (BD_ERR_TOOBIG); a wrong magic,
 * a length other than header + count entries, an empty chunk, one above
 * CHUNK_RAW_MAX_BYTES, an unknown encoding, a raw chunk whose stored length
 * differs from its raw length or a zstd one not smaller (BD_ERR_FORMAT);
 * raw lengths not adding up to the artifact size or stored lengths to the
 * pack size (BD_ERR_SIZE).  Returns a new index; free with
 * chunk_index_free().
 */
enum bd_err chunk_index_parse(const uint8_t *buf, size_t len,
    struct chunk_index **out);

/*
 * Encodes idx (lengths, encodings and hashes; offsets are not stored) as
 * a new buffer of *len bytes; free with free().
 */
enum bd_err chunk_index_encode(const struct chunk_index *idx, uint8_t **out,
    size_t *len);

void chunk_index_free(struct chunk_index *idx);

/*
 * The chunker: FastCDC-style cut points from a gear rolling hash, with
 * normalised chunking (a harder condition before the average length, an
 * easier one after).  The parameters are the publisher's; the client never
 * cuts, it reads the cut points from the index.
 */
struct chunk_params {
	uint32_t min_len;
	uint32_t avg_bits;	/* average length about 1 << avg_bits */
	uint32_t max_len;	/* <= CHUNK_RAW_MAX_BYTES */
};

/* Compressed data (tar.gz, initrd, kernel): 4 KiB average. */
extern const struct chunk_params chunk_params_small;
/* Uncompressed data (plain tar, ext2 image): 8 KiB average. */
extern const struct chunk_params chunk_params_large;

/*
 * Picks the parameters for an artifact of size bytes whose first sample_len
 * bytes are sample (at most 256 KiB are looked at): small chunks when the
 * sample does not compress (the artifact is compressed already), large
 * ones otherwise; and whichever is
 * picked, an average grown in powers of two until the artifact makes at
 * most about CHUNK_COUNT_MAX / 2 chunks.
 */
enum bd_err chunk_params_choose(const uint8_t *sample, size_t sample_len,
    uint64_t size, struct chunk_params *p);

/*
 * The parameters idx was cut with, found by cutting head (the first
 * head_len bytes of the artifact idx indexes) with each set the publisher
 * can choose (chunk_params_small doubled 0 or more times; large is small
 * doubled once) and comparing the cut points with idx's first chunks:
 * the first set giving every one of them that head holds whole.
 * BD_ERR_FORMAT when none does (another chunker cut it).
 */
enum bd_err chunk_params_infer(const struct chunk_index *idx,
    const uint8_t *head, size_t head_len, struct chunk_params *p);

/*
 * Whether p, the parameters a previous version of an artifact was cut
 * with, still suit an artifact of size bytes: it makes at most about
 * CHUNK_COUNT_MAX * 3 / 4 chunks.  The publisher then keeps them, since
 * other parameters move every cut point and the versions share nothing;
 * the slack above chunk_params_choose()'s half means an artifact growing
 * across one of its powers of two is not cut anew at every release.
 */
bool chunk_params_fit(const struct chunk_params *p, uint64_t size);

/*
 * Returns the length of the chunk starting at buf[0], given len bytes
 * available: a cut point found by the hash, or max_len, or len when len
 * is shorter than that (the caller passes at least max_len bytes unless it
 * is at the end of the data).
 */
size_t chunk_cut(const struct chunk_params *p, const uint8_t *buf, size_t len);

/*
 * A decoder for chunks of a pack, reused from one chunk to the next.
 * Returns a new decoder or NULL; free with chunk_decoder_free().
 */
struct chunk_decoder *chunk_decoder_new(void);
void chunk_decoder_free(struct chunk_decoder *d);

/*
 * Decodes the stored_len bytes of chunk e into raw (e->raw_len bytes) and
 * checks the result's SHA-256.  Never writes more than e->raw_len bytes and
 * never asks zstd for a window above CHUNK_RAW_MAX_BYTES.  Returns
 * BD_ERR_SIZE when stored_len is not e->stored_len, BD_ERR_TOOBIG when the
 * data would decode to more than e->raw_len (a zstd bomb), BD_ERR_FORMAT
 * when it is not one valid zstd frame or decodes to fewer bytes,
 * BD_ERR_HASH when the bytes are not the chunk's.
 */
enum bd_err chunk_decode(struct chunk_decoder *d, const struct chunk_entry *e,
    const uint8_t *stored, size_t stored_len, uint8_t *raw);

/* Packing (chunkpack.c). */
struct chunk_pack_stats {
	uint64_t raw_bytes;
	uint64_t pack_bytes;
	uint32_t chunks;
	uint32_t zstd_chunks;	/* the rest are stored raw */
	uint8_t artifact_sha256[SHA256_BYTES];
};

/*
 * Reads artifact_fd from its current offset to EOF (at most
 * CHUNK_COUNT_MAX chunks, BD_ERR_TOOBIG beyond), cuts it with p and writes
 * every chunk to pack_fd one after another, zstd-compressed at level
 * (1..19) when that is smaller, raw otherwise.  pack_fd -1 writes no pack
 * (a scan: encodings, stored lengths and the pack's size and hash then
 * describe the pack that would have been written).  Memory stays below
 * about 3 * p->max_len plus 64 bytes a chunk.  Returns a new index; free
 * with chunk_index_free().
 */
enum bd_err chunk_pack_fd(int artifact_fd, int pack_fd,
    const struct chunk_params *p, int level, struct chunk_index **out,
    struct chunk_pack_stats *st);

/* Planning (chunkplan.c). */

/* A lookup table of the chunks of one or more seeds' indexes, by hash. */
struct chunk_seeds;

/*
 * Returns in *out a new table of the chunks of the n (at most 16) seed
 * indexes, copied out of them (28 bytes a chunk: the indexes may be freed
 * once it is built); free with chunk_seeds_free().
 */
enum bd_err chunk_seeds_new(const struct chunk_index *const *seeds, size_t n,
    struct chunk_seeds **out);
void chunk_seeds_free(struct chunk_seeds *s);

/*
 * Finds a chunk of the seeds with e's raw length and the first 64 bits of
 * its SHA-256: returns true with the seed's number and the chunk's offset
 * in it.  The caller re-hashes what it copies from there.
 */
bool chunk_seeds_find(const struct chunk_seeds *s, const struct chunk_entry *e,
    uint32_t *seed, uint64_t *off);

#define CHUNK_FROM_PACK	UINT32_MAX

/* Where one chunk of the new artifact comes from. */
struct chunk_src {
	uint32_t seed;		/* CHUNK_FROM_PACK, or the seed's number */
	uint64_t seed_off;	/* the chunk's offset in that seed */
};

struct chunk_plan_stats {
	uint32_t seed_chunks, pack_chunks;
	uint64_t seed_bytes;		/* raw bytes copied from seeds */
	uint64_t pack_chunk_bytes;	/* stored bytes of the chunks fetched */
};

/*
 * Decides for every chunk of idx: copy from a seed of s (s may be NULL:
 * no seed), or fetch from the pack.  Returns a new array of idx->count
 * entries in *out; free with free().  st may be NULL.
 */
enum bd_err chunk_plan(const struct chunk_index *idx,
    const struct chunk_seeds *s, struct chunk_src **out,
    struct chunk_plan_stats *st);

/* One Range request on the pack: chunks [first, end), some maybe unneeded. */
struct chunk_range {
	uint64_t pack_off;
	uint64_t pack_len;
	uint32_t first;
	uint32_t end;
};

/*
 * The client's merging of ranges: needed chunks less than CHUNK_GAP_BYTES
 * of pack apart go in one request (a request and its response headers cost
 * about 400 bytes and a round trip), up to CHUNK_RANGE_MAX_BYTES a request.
 */
#define CHUNK_GAP_BYTES		(1u << 10)
#define CHUNK_RANGE_MAX_BYTES	(1u << 20)

/*
 * Finds the next range to fetch from chunk *pos on: it starts at the first
 * chunk with need[i] set and takes in later needed chunks while the pack
 * bytes of unneeded chunks between them are at most gap and the range stays
 * within max_len (a single chunk larger than max_len is a range of its
 * own).  Advances *pos past the range.  Returns false when no needed chunk
 * is left.
 */
bool chunk_range_next(const struct chunk_index *idx, const uint8_t *need,
    uint32_t *pos, uint64_t gap, uint64_t max_len, struct chunk_range *r);

#endif
