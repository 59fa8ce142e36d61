/*
 * quick.h - bootdrop-server --quick, the woof replacement: publish the
 * given files as the next version of a channel in the quick repository
 * (kept between runs: --quick-repo DIR, default
 * ${XDG_STATE_HOME:-$HOME/.local/state}/bootdrop/quick) signed with the
 * publisher's key, prune the blobs no newest manifest names, serve it, and
 * (with --exit-after N) stop once N guests have reported a finished run
 * (the printed command's --report-done: a last request for this version's
 * <version>.json, which no other step of a fetch makes), or once every
 * artifact has been served in full N times (wget, curl).  A guest that
 * already holds every artifact downloads none, so the blobs alone could
 * never tell that it finished.  Successive runs are successive versions, so a guest re-fetches
 * with the same command and no reset.
 */
#ifndef BOOTDROP_QUICK_H
#define BOOTDROP_QUICK_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "key.h"

#define QUICK_DEFAULT_CHANNEL	"quick"
#define QUICK_DEFAULT_EXPIRES_S	(24 * 3600)
#define QUICK_MAX_INPUTS	16
#define QUICK_STATE_SUBDIR	"bootdrop/quick"

struct quick_opts {
	const char *repo;		/* NULL: the default quick repository */
	const char *seckey_path;
	const char *passphrase_file;	/* NULL: ask on the terminal if needed */
	const char *channel;
	int64_t expires_s;		/* lifetime of the manifest */
	uint64_t exit_after;		/* 0: serve until signalled */
	char *const *inputs;		/* "name=FILE" */
	size_t ninputs;
};

struct quick;

/*
 * Opens (creating) the quick repository and publishes the inputs as the
 * channel's next version, then prunes blobs no channel's newest manifest
 * names.  Returns a new quick state in *out (free with quick_cleanup());
 * *repofd is the repository's directory (owned by the state) and pubkey
 * the signer's public key in base64.  A refused release changes nothing.
 */
enum bd_err quick_publish(const struct quick_opts *o, struct quick **out,
    int *repofd, char pubkey[PUBKEY_B64_BYTES]);

/*
 * http_blob_served_fn for the quick state: counts full bodies (and
 * completed ranges by their bytes) per blob; when every blob reached
 * exit_after, raises SIGUSR1 in the process so main() stops the server.
 */
void quick_blob_served(void *arg, const char *hex, bool full, uint64_t bytes);

/*
 * http_version_served_fn for the quick state: a 200 answer for this run's
 * channel and version counts one finished guest; exit_after of them raise
 * SIGUSR1 as above.
 */
void quick_version_served(void *arg, const char *channel, uint64_t version);

/* The repository's path (for messages). */
const char *quick_repo_path(const struct quick *q);

/* The version this run published. */
uint64_t quick_version(const struct quick *q);

/* Closes the repository and frees q; NULL is allowed. */
void quick_cleanup(struct quick *q);

#endif
