/*
 * chunkpub.h - the publisher's side of chunked artifacts: writes an
 * artifact's chunk pack and chunk index into a repository's blobs/sha256/
 * and says what the new version shares with the previous one.
 */
#ifndef BOOTDROP_CHUNKPUB_H
#define BOOTDROP_CHUNKPUB_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk.h"
#include "err.h"

/*
 * zstd level of every chunk: 9 moves 2% fewer bytes than 3 and 3% more than
 * 12, which is 4 times slower; 19 is 20 times slower (doc/chunks.md).
 */
#define CHUNKPUB_LEVEL_DEFAULT	9

struct chunkpub_result {
	uint64_t artifact_size;
	uint8_t artifact_sha256[SHA256_BYTES];
	uint32_t chunks;
	uint64_t pack_size;
	uint8_t pack_sha256[SHA256_BYTES];
	uint64_t index_size;		/* the artifact's "chunks" field */
	uint8_t index_sha256[SHA256_BYTES];
	struct chunk_params params;	/* as chosen for this artifact */
	bool params_kept;		/* the previous version's (prev_fd) */
	/* Against the previous version's index (all 0 without one): */
	uint32_t shared_chunks;		/* chunks a guest copies from its seed */
	uint64_t shared_bytes;		/* their raw bytes */
	uint64_t fetch_bytes;		/* what a guest fetches: the index and
					   the pack ranges of the rest */
	uint32_t fetch_ranges;		/* in that many Range requests */
	bool pack_existed;		/* the pack and the index were blobs */
	bool index_existed;		/* already (another version's) */
};

/*
 * Chunks the artifact read from artifact_fd (from its current offset to
 * EOF) with the parameters the previous version's artifact prev_fd (its
 * whole file; -1 for none) was cut with while they fit (chunk_params_fit():
 * other parameters would share nothing with it), else with parameters
 * chosen for its own bytes (chunk_params_choose()), writes
 * the pack and the index into blobs_dirfd (a repository's blobs/sha256/)
 * under their SHA-256 hex names, each through a temporary ".incoming."
 * file, fsynced and renamed (an existing blob of the same name is the
 * same bytes and is kept), and fills res.  prev, when not NULL, is the
 * previous version's index of the same artifact: res then counts what a
 * guest holding that version shares and fetches, with pack ranges merged
 * as the client merges them (CHUNK_GAP_BYTES).  level 0 means
 * CHUNKPUB_LEVEL_DEFAULT.
 */
enum bd_err chunkpub_artifact(int blobs_dirfd, int artifact_fd,
    const struct chunk_index *prev, int prev_fd, int level,
    struct chunkpub_result *res);

/*
 * The share and fetch counts of res for a guest holding the artifact prev
 * and installing idx (used by chunkpub_artifact(), and by tools measuring
 * other pairs).
 */
enum bd_err chunkpub_compare(const struct chunk_index *idx,
    const struct chunk_index *prev, uint64_t index_size,
    struct chunkpub_result *res);

/*
 * Reads the chunk index blob named sha256 from blobs_dirfd (a repository's
 * blobs/sha256/): at most size bytes (the manifest's "chunks" size, itself
 * capped at CHUNK_INDEX_MAX_BYTES), exactly size bytes, hashing to sha256,
 * then parsed (chunk_index_parse()).  BD_ERR_IO when it cannot be opened
 * (errno ENOENT: missing), BD_ERR_SIZE / BD_ERR_HASH / the parser's codes
 * otherwise.  Returns a new index; free with chunk_index_free().
 */
enum bd_err chunkpub_index_load(int blobs_dirfd,
    const uint8_t sha256[SHA256_BYTES], uint64_t size,
    struct chunk_index **out);

/*
 * Checks an artifact's chunks in blobs_dirfd against the artifact's own
 * blob: the index (chunkpub_index_load()) says the artifact's size; the
 * pack is there with the size and SHA-256 the index names; every chunk of
 * the pack decodes (capped) to bytes hashing as the index says; and those
 * bytes are the artifact's, chunk by chunk.  Memory: three buffers of
 * CHUNK_RAW_MAX_BYTES plus the parsed index.  Fills res's sizes, hashes
 * and counts (res->chunks).  The failure's detail names the blob and the
 * chunk.
 */
enum bd_err chunkpub_verify(int blobs_dirfd,
    const uint8_t index_sha256[SHA256_BYTES], uint64_t index_size,
    const uint8_t artifact_sha256[SHA256_BYTES], uint64_t artifact_size,
    struct chunkpub_result *res);

#endif
