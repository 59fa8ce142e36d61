/*
 * chunkpub.h - the publisher's side of chunked artifacts: writes an
 * artifact's chunk pack and chunk index into a repository's blobs/sha256/
 * and says what the new version shares with the previous one.
 */
#ifndef BOOTDROP_CHUNKPUB_H
#define BOOTDROP_CHUNKPUB_H

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
	/* Against the previous version's index (all 0 without one): */
	uint32_t shared_chunks;		/* chunks a guest copies from its seed */
	uint64_t shared_bytes;		/* their raw bytes */
	uint64_t fetch_bytes;		/* what a guest fetches: the index and
					   the pack ranges of the rest */
	uint32_t fetch_ranges;		/* in that many Range requests */
};

/*
 * Chunks the artifact read from artifact_fd (from its current offset to
 * EOF) with parameters chosen for its bytes (chunk_params_choose()), writes
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
    const struct chunk_index *prev, int level, struct chunkpub_result *res);

/*
 * The share and fetch counts of res for a guest holding the artifact prev
 * and installing idx (used by chunkpub_artifact(), and by tools measuring
 * other pairs).
 */
enum bd_err chunkpub_compare(const struct chunk_index *idx,
    const struct chunk_index *prev, uint64_t index_size,
    struct chunkpub_result *res);

#endif
