/*
 * quick.h - bootdrop-server --quick, the woof replacement: publish the
 * given files into a temporary repository signed with the publisher's
 * key, serve it, and (with --exit-after N) stop once every artifact has
 * been served in full N times.  The temporary repository is removed when
 * the server stops, whatever the reason.
 */
#ifndef BOOTDROP_QUICK_H
#define BOOTDROP_QUICK_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "key.h"

#define QUICK_DEFAULT_CHANNEL	"quick"
#define QUICK_DEFAULT_EXPIRES_S	(24 * 3600)
#define QUICK_MAX_INPUTS	16

struct quick_opts {
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
 * Creates the temporary repository and publishes the inputs into it.
 * Returns a new quick state in *out (free with quick_cleanup(), which
 * also removes the repository); *repofd is the repository's directory
 * (owned by the state) and pubkey the signer's public key in base64.
 * On failure nothing is left behind.
 */
enum bd_err quick_publish(const struct quick_opts *o, struct quick **out,
    int *repofd, char pubkey[PUBKEY_B64_BYTES]);

/*
 * http_blob_served_fn for the quick state: counts full bodies (and
 * completed ranges by their bytes) per blob; when every blob reached
 * exit_after, raises SIGUSR1 in the process so main() stops the server.
 */
void quick_blob_served(void *arg, const char *hex, bool full, uint64_t bytes);

/* True once every blob has been served exit_after times (never if 0). */
bool quick_done(struct quick *q);

/* The temporary repository's path (for messages). */
const char *quick_repo_path(const struct quick *q);

/* Removes the temporary repository and frees q; NULL is allowed. */
void quick_cleanup(struct quick *q);

#endif
