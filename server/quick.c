/*
 * quick.c - bootdrop-server --quick (see quick.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "layout.h"
#include "manifest.h"
#include "quick.h"
#include "repo.h"
#include "sha256.h"

struct quick_blob {
	char hex[SHA256_HEX_BYTES];
	uint64_t size;
	uint64_t full;		/* complete 200 bodies */
	uint64_t range_bytes;	/* bytes of completed 206 bodies */
};

struct quick {
	char path[PATH_MAX];
	int repofd;
	uint64_t version;
	uint64_t exit_after;
	char channel[CHANNEL_MAX_BYTES + 1];
	pthread_mutex_t lock;
	uint64_t finished;	/* guests that reported a successful run */
	bool done;
	size_t nblobs;
	struct quick_blob blobs[MANIFEST_MAX_ARTIFACTS];
};

void
quick_cleanup(struct quick *q)
{
	if (q == NULL)
		return;
	if (q->repofd != -1)
		close(q->repofd);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

const char *
quick_repo_path(const struct quick *q)
{
	return q->path;
}

uint64_t
quick_version(const struct quick *q)
{
	return q->version;
}

/* mkdir -p for the parents of path (mode 0700, as XDG asks of state). */
static enum bd_err
make_parents(char *path)
{
	char *p;

	for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			enum bd_err rc = bd_fail(BD_ERR_IO, "%s: %s", path,
			    strerror(errno));

			*p = '/';
			return rc;
		}
		*p = '/';
	}
	return BD_OK;
}

/*
 * Writes the quick repository's path into out: given (--quick-repo), else
 * the XDG default, whose missing parents are created (mode 0700).
 */
static enum bd_err
quick_repo_resolve(const char *given, char out[PATH_MAX])
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (given != NULL)
		n = snprintf(out, PATH_MAX, "%s", given);
	else if (state != NULL && state[0] == '/')
		n = snprintf(out, PATH_MAX, "%s/" QUICK_STATE_SUBDIR, state);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, PATH_MAX, "%s/.local/state/" QUICK_STATE_SUBDIR,
		    home);
	else
		return bd_fail(BD_ERR_USAGE, "no HOME or XDG_STATE_HOME for the "
		    "quick repository (use --quick-repo DIR)");
	if (n < 0 || n >= PATH_MAX || out[0] == '\0')
		return bd_fail(BD_ERR_USAGE, "quick repository path too long");
	return out[0] == '/' ? make_parents(out) : BD_OK;
}

/* Records the distinct blobs of the published manifest. */
static enum bd_err
note_blobs(struct quick *q, const char *channel)
{
	struct bd_manifest *m = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, i, j;
	enum bd_err rc;

	rc = repo_read_manifest(q->repofd, channel, LAYOUT_MANIFEST_FILE, &buf,
	    &len);
	if (rc != BD_OK)
		goto out;
	if ((rc = manifest_load_unverified(buf, len, &m)) != BD_OK)
		goto out;
	for (i = 0; i < m->nartifacts && q->nblobs < MANIFEST_MAX_ARTIFACTS; i++) {
		for (j = 0; j < q->nblobs; j++)
			if (strcmp(q->blobs[j].hex, m->artifacts[i].sha256_hex) == 0)
				break;
		if (j < q->nblobs)
			continue;
		memcpy(q->blobs[q->nblobs].hex, m->artifacts[i].sha256_hex,
		    SHA256_HEX_BYTES);
		q->blobs[q->nblobs].size = m->artifacts[i].size;
		q->nblobs++;
	}
out:
	manifest_free(m);
	free(buf);
	return rc;
}

/*
 * The channel in the quick repository belongs to other keys (a run with
 * another -s before): the refusal names the repository and the ways out.
 */
static enum bd_err
other_keys(enum bd_err rc, const char *path, const char *channel)
{
	char saved[256];

	snprintf(saved, sizeof(saved), "%s", bd_err_detail());
	return bd_fail(rc, "the quick repository %s holds channel %s of "
	    "other keys: %s; use --quick-repo DIR for a repository of this "
	    "key, -c CHANNEL for another channel, or move the channel to "
	    "this key with bootdrop-publish rotate", path, channel, saved);
}

enum bd_err
quick_publish(const struct quick_opts *o, struct quick **out, int *repofd,
    char pubkey[PUBKEY_B64_BYTES])
{
	struct release_input in[QUICK_MAX_INPUTS];
	char *args[QUICK_MAX_INPUTS] = { 0 };
	struct cli_pass pass = { .file = o->passphrase_file };
	struct release_opts ro;
	struct bd_seckey *sk = NULL;
	struct bd_pubkey pk;
	struct quick *q = NULL;
	struct repo_prune_stats pruned;
	uint64_t version = 0;
	size_t i;
	enum bd_err rc = BD_OK;

	*out = NULL;
	*repofd = -1;
	if (o->ninputs == 0 || o->ninputs > QUICK_MAX_INPUTS) {
		rc = bd_fail(BD_ERR_USAGE, "quick mode wants 1 to %d NAME=FILE "
		    "arguments", QUICK_MAX_INPUTS);
		goto out;
	}
	for (i = 0; i < o->ninputs; i++) {
		if ((args[i] = strdup(o->inputs[i])) == NULL) {
			rc = bd_fail(BD_ERR_NOMEM, "arguments");
			goto out;
		}
		if ((rc = repo_parse_input(args[i], &in[i])) != BD_OK)
			goto out;
	}
	if ((rc = cli_load_seckey(o->seckey_path, &pass, &sk)) != BD_OK)
		goto out;
	seckey_public(sk, &pk);
	pubkey_to_base64(&pk, pubkey);

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "quick");
		goto out;
	}
	q->repofd = -1;
	q->exit_after = o->exit_after;
	pthread_mutex_init(&q->lock, NULL);
	if ((rc = quick_repo_resolve(o->repo, q->path)) != BD_OK ||
	    (rc = repo_open(q->path, true, &q->repofd)) != BD_OK)
		goto out;

	memset(&ro, 0, sizeof(ro));
	ro.channel = o->channel;
	ro.keys = &sk;
	ro.nkeys = 1;
	ro.now = time(NULL);
	ro.expires = ro.now + (time_t)o->expires_s;
	/* Every run is the next version, even of the same files. */
	ro.force = true;
	/*
	 * No chunk packs: --exit-after ends the run once every artifact's
	 * blob was served whole, which a guest fetching by chunks never asks.
	 */
	ro.chunk_level = -1;
	rc = repo_release(q->repofd, &ro, in, o->ninputs, &version);
	if (rc == BD_ERR_THRESHOLD)
		rc = other_keys(rc, q->path, o->channel);
	if (rc != BD_OK)
		goto out;
	/* Only the newest version of each channel is served from here on. */
	if ((rc = repo_prune(q->repofd, 1, &pruned)) != BD_OK)
		goto out;
	q->version = version;
	snprintf(q->channel, sizeof(q->channel), "%s", o->channel);
	if ((rc = note_blobs(q, o->channel)) != BD_OK)
		goto out;
	*repofd = q->repofd;
	*out = q;
	q = NULL;
out:
	quick_cleanup(q);
	seckey_free(sk);
	for (i = 0; i < QUICK_MAX_INPUTS; i++)
		free(args[i]);
	return rc;
}

/*
 * With q->lock held: once the run is over (all: every blob was served
 * exit_after times, or exit_after guests reported a finished run), marks
 * it done; true the first time, when the caller raises SIGUSR1.
 */
static bool
quick_over(struct quick *q, bool all)
{
	if (q->exit_after == 0 || q->done ||
	    (!all && q->finished < q->exit_after))
		return false;
	q->done = true;
	return true;
}

void
quick_version_served(void *arg, const char *channel, uint64_t version)
{
	struct quick *q = arg;
	bool fire;

	pthread_mutex_lock(&q->lock);
	if (version == q->version && strcmp(channel, q->channel) == 0)
		q->finished++;
	fire = quick_over(q, false);
	pthread_mutex_unlock(&q->lock);
	if (fire)
		kill(getpid(), SIGUSR1);
}

void
quick_blob_served(void *arg, const char *hex, bool full, uint64_t bytes)
{
	struct quick *q = arg;
	bool all = true, fire;
	size_t i;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->nblobs; i++) {
		struct quick_blob *b = &q->blobs[i];

		if (strcmp(b->hex, hex) == 0) {
			if (full)
				b->full++;
			else
				b->range_bytes += bytes;
		}
		/* Ranges count by volume: a resumed or split download counts too. */
		if (b->full + (b->size ? b->range_bytes / b->size : 0) <
		    q->exit_after)
			all = false;
	}
	fire = quick_over(q, all);
	pthread_mutex_unlock(&q->lock);
	if (fire)
		kill(getpid(), SIGUSR1);
}

