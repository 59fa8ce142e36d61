/*
 * chunkfetch.h - bootdrop-fetch's delta downloads (DESIGN.md, "Moving
 * only what changed"): for an artifact that names a chunk index, the
 * chunks the previous version's installed file (the seed) holds are
 * copied from it and re-hashed, the others are fetched from the chunk
 * pack with Range requests over the mirrors, each checked on arrival
 * (client/delta.c); the whole-artifact SHA-256 still decides.
 *
 * The previous version is the one the state accepted: its manifest
 * (channels/<c>/<v>.json) is fetched and verified by the state's keys,
 * and its payload must hash as the state recorded.  Anything missing or
 * refused on the way (no state, no seed, an index or pack missing,
 * damaged or refused, a mirror without Range, an ext2 slice that is not
 * sound) leaves the artifact to the whole download, as before: an index
 * never makes a fetch fail that would otherwise succeed.
 */
#ifndef BOOTDROP_CHUNKFETCH_H
#define BOOTDROP_CHUNKFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "dest.h"
#include "download.h"
#include "err.h"
#include "manifest.h"
#include "progress.h"
#include "state.h"

struct chunkfetch_opts {
	struct dl *dl;
	const char *const *mirrors;
	size_t nmirrors;
	const char *channel;
	const struct bd_state *state;	/* the accepted version (borrowed) */
	struct dest *dest;		/* where it was installed: the seeds */
	struct report *report;		/* what was reused and fetched, a
					   mirror named and dropped */
};

/* What one delta download moved. */
struct chunkfetch_stats {
	uint64_t reused_bytes;		/* copied from the seed or a part */
	uint32_t reused_chunks;
	uint64_t fetched_bytes;		/* index and pack bytes fetched */
	uint32_t fetched_chunks;
	uint32_t requests;		/* Range requests on the pack */
	uint32_t bad_chunks;		/* refused on arrival */
	uint64_t mirror_bytes[DL_MAX_MIRRORS];	/* pack bytes per mirror */
};

struct chunkfetch;

/*
 * Returns a new chunk fetcher in *out (the options' pointers are
 * borrowed); free with chunkfetch_free().  Nothing is fetched yet.
 */
enum bd_err chunkfetch_new(const struct chunkfetch_opts *o,
    struct chunkfetch **out);
void chunkfetch_free(struct chunkfetch *c);

/*
 * Fetches artifact a by chunks into partdir/<hex>.part (the part file the
 * whole download uses) and reports what was reused and fetched (with -v,
 * pack bytes per mirror).  BD_OK: *fd is the open part, holding exactly
 * a's verified bytes, at offset 0.  BD_ERR_NETWORK: every mirror failed
 * at the transport level while pack ranges were missing; the part keeps
 * every verified chunk for the next run and dl_where()/dl_detail() say
 * where.  Any other result: no delta is possible, or it was refused (then
 * reported, naming why), and the caller downloads whole: the part is left
 * as dl_fetch_part() resumes it, its trailer listing every chunk verified
 * and what an earlier whole download wrote (doc/chunks.md, "One part
 * file, two ways to fill it"), or emptied when the assembled bytes did
 * not hash.  Nothing in it is trusted without being hashed.
 */
enum bd_err chunkfetch_artifact(struct chunkfetch *c, int partdir,
    const struct bd_artifact *a, int *fd);

#endif
