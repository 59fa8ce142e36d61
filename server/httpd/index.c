/*
 * index.c - the cache of the "/" page and of the channels' verdicts (see
 * index.h).
 *
 * One mutex serializes rebuilds and walks and guards everything here;
 * html.c's renderer runs under it and borrows the cached manifests.  It
 * is recursive because the index's renderer asks for verdicts while
 * index_page() holds it, and a channel's page asks without it.  Order matters
 * for correctness: pending inotify events are drained and a directory's
 * watch is added before its files are read, so a change made during a
 * rebuild leaves an event behind and the next request rebuilds again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "chain.h"
#include "chain_verify.h"
#include "fileid.h"
#include "html.h"
#include "http.h"
#include "index.h"
#include "layout.h"
#include "repo.h"

#define CHAN_BUCKETS		1024

/* One channel's manifest.json as last read. */
struct chan {
	struct chan *next;
	char name[CHANNEL_MAX_BYTES + 1];
	bool have_stat;
	struct file_id id;		/* identity of the bytes parsed */
	struct bd_manifest *m;		/* NULL when rc != BD_OK */
	enum bd_err rc;
	unsigned gen;			/* rebuild that last looked at it */
	struct index_reach *reach;	/* nreach verdicts of that file */
	size_t nreach;
};

struct index_cache {
	pthread_mutex_t lock;
	int repofd;
	int ino;			/* inotify descriptor, -1 without */
	bool watch_failed;		/* out of watches: poll instead */
	char *page;			/* NULL until the first build */
	size_t len;
	time_t built;			/* without inotify: rebuilt each second */
	time_t next_expiry;		/* 0: none shown */
	unsigned gen;
	struct chan *chans[CHAN_BUCKETS];
};

/* Watches repository-relative directory rel (may not exist yet). */
static void
watch_dir(struct index_cache *c, const char *rel)
{
#ifdef __linux__
	char path[64 + LAYOUT_PATH_BYTES];

	if (c->ino == -1)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", c->repofd, rel);
	if (inotify_add_watch(c->ino, path, IN_CREATE | IN_DELETE |
	    IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY |
	    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) == -1 &&
	    errno != ENOENT && errno != ENOTDIR)
		c->watch_failed = true;
#else
	(void)c;
	(void)rel;
#endif
}

/* True when an event arrived since the last call (drains them). */
static bool
changed(struct index_cache *c)
{
	char buf[4096];
	bool any = false;
	ssize_t n;

	if (c->ino == -1)
		return false;
	while ((n = read(c->ino, buf, sizeof(buf))) > 0)
		any = true;
	return any;
}

static size_t
chan_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % CHAN_BUCKETS;
}

enum bd_err
index_manifest_load(int repofd, const char *channel, const char *file,
    struct bd_manifest **m)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	enum bd_err rc;

	*m = NULL;
	rc = repo_read_manifest(repofd, channel, file, &buf, &len);
	if (rc == BD_OK)
		rc = manifest_load_unverified(buf, len, m);
	free(buf);
	return rc;
}

static void
chan_free(struct chan *ch)
{
	manifest_free(ch->m);
	free(ch->reach);
	free(ch);
}

/* Drops channels the last rebuild did not list. */
static void
sweep(struct index_cache *c)
{
	struct chan **pp, *ch;
	size_t i;

	for (i = 0; i < CHAN_BUCKETS; i++) {
		for (pp = &c->chans[i]; (ch = *pp) != NULL;) {
			if (ch->gen != c->gen) {
				*pp = ch->next;
				chan_free(ch);
			} else {
				pp = &ch->next;
			}
		}
	}
}

/*
 * The cache's entry for channel, created if new, emptied when its
 * manifest.json is another file than the one parsed (c->lock held).
 */
static enum bd_err
chan_get(struct index_cache *c, int repofd, const char *channel,
    struct chan **out)
{
	char rel[LAYOUT_PATH_BYTES];
	struct chan *ch;
	struct file_id id;
	struct stat st;
	bool have;
	size_t b;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	if (!channel_name_valid(channel))
		return bd_fail(BD_ERR_PATH, "channel name");
	layout_channel_dir(channel, rel);
	watch_dir(c, rel);
	layout_manifest_path(channel, rel);
	have = fstatat(repofd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
	file_id_of(&st, &id);

	b = chan_bucket(channel);
	for (ch = c->chans[b]; ch != NULL; ch = ch->next)
		if (strcmp(ch->name, channel) == 0)
			break;
	if (ch == NULL) {
		if ((ch = calloc(1, sizeof(*ch))) == NULL)
			return bd_fail(BD_ERR_NOMEM, "index cache");
		memcpy(ch->name, channel, strlen(channel) + 1);
		ch->gen = c->gen;
		ch->next = c->chans[b];
		c->chans[b] = ch;
	} else if (!(have && ch->have_stat && file_id_same(&id, &ch->id))) {
		manifest_free(ch->m);
		ch->m = NULL;
		free(ch->reach);
		ch->reach = NULL;
		ch->nreach = 0;
		ch->have_stat = false;
	}
	if (!ch->have_stat) {
		/* stat before read: a replacement in between is re-read next time */
		ch->rc = index_manifest_load(repofd, channel,
		    LAYOUT_MANIFEST_FILE, &ch->m);
		ch->have_stat = have;
		ch->id = id;
		if (ch->rc != BD_OK)
			ch->have_stat = false;	/* retried on the next rebuild */
	}
	*out = ch;
	return BD_OK;
}

enum bd_err
index_channel_manifest(struct index_cache *c, int repofd,
    const char *channel, struct bd_manifest **m)
{
	struct chan *ch;
	enum bd_err rc;

	if (c == NULL)
		return index_manifest_load(repofd, channel, LAYOUT_MANIFEST_FILE,
		    m);
	*m = NULL;
	if ((rc = chan_get(c, repofd, channel, &ch)) != BD_OK)
		return rc;
	ch->gen = c->gen;
	if (ch->rc == BD_OK && ch->m->expires > time(NULL) &&
	    (c->next_expiry == 0 || ch->m->expires < c->next_expiry))
		c->next_expiry = ch->m->expires;
	*m = ch->m;
	return ch->rc;
}

/* Judges, now, each key's reach of channel's manifest.json into out. */
static enum bd_err
reach_judge(int repofd, const char *channel, const struct bd_pubkey *keys,
    size_t nkeys, struct index_reach *out)
{
	struct chain_source src = { repofd, channel };
	struct bd_accepted anchor;
	struct bd_manifest *m;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	enum bd_err rc;

	memset(out, 0, nkeys * sizeof(*out));
	rc = repo_read_manifest(repofd, channel, LAYOUT_MANIFEST_FILE, &buf,
	    &len);
	for (i = 0; i < nkeys; i++) {
		if (rc != BD_OK) {
			out[i].rc = rc;
			snprintf(out[i].detail, sizeof(out[i].detail), "%s",
			    bd_err_detail());
			continue;
		}
		memset(&anchor, 0, sizeof(anchor));
		anchor.keys.threshold = 1;
		anchor.keys.nkeys = 1;
		anchor.keys.keys[0] = keys[i];
		bd_err_clear();
		out[i].rc = chain_reach(&anchor, channel, buf, len,
		    chain_source_read, &src, &m, &out[i].steps);
		if (out[i].rc == BD_OK)
			out[i].version = m->version;
		else
			snprintf(out[i].detail, sizeof(out[i].detail), "%s",
			    bd_err_detail());
		manifest_free(m);
	}
	free(buf);
	return rc;
}

enum bd_err
index_channel_reach(struct index_cache *c, int repofd, const char *channel,
    const struct bd_pubkey *keys, size_t nkeys, struct index_reach *out)
{
	struct chan *ch;
	size_t i;
	enum bd_err rc;

	if (nkeys == 0)
		return BD_OK;
	if (nkeys > HTTP_MAX_KEYS)
		return bd_fail(BD_ERR_USAGE, "more than %d keys", HTTP_MAX_KEYS);
	if (c == NULL)
		return reach_judge(repofd, channel, keys, nkeys, out);
	pthread_mutex_lock(&c->lock);
	if ((rc = chan_get(c, repofd, channel, &ch)) != BD_OK) {
		for (i = 0; i < nkeys; i++) {
			memset(&out[i], 0, sizeof(out[i]));
			out[i].rc = rc;
			snprintf(out[i].detail, sizeof(out[i].detail), "%s",
			    bd_err_detail());
		}
		goto out;
	}
	if (ch->reach != NULL && ch->nreach == nkeys) {
		memcpy(out, ch->reach, nkeys * sizeof(*out));
		goto out;
	}
	rc = reach_judge(repofd, channel, keys, nkeys, out);
	/* kept only for a file whose identity and bytes were read */
	if (rc == BD_OK && ch->have_stat && (ch->reach = malloc(nkeys *
	    sizeof(*out))) != NULL) {
		memcpy(ch->reach, out, nkeys * sizeof(*out));
		ch->nreach = nkeys;
	}
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void
index_channel_release(struct index_cache *c, struct bd_manifest *m)
{
	if (c == NULL)
		manifest_free(m);
}

enum bd_err
index_page(struct http_server *s, char **page, size_t *len)
{
	struct index_cache *c = s->index;
	char *fresh = NULL;
	size_t flen = 0;
	enum bd_err rc = BD_OK;
	bool stale;
	time_t now = time(NULL);

	*page = NULL;
	*len = 0;
	if (c == NULL)
		return html_render(s, NULL, page, len);
	pthread_mutex_lock(&c->lock);
	stale = changed(c) || c->page == NULL ||
	    ((c->ino == -1 || c->watch_failed) && now != c->built) ||
	    (c->next_expiry != 0 && now >= c->next_expiry);
	if (stale) {
		c->gen++;
		c->next_expiry = 0;
		c->watch_failed = false;
		watch_dir(c, ".");
		watch_dir(c, LAYOUT_CHANNELS_DIR);
		rc = html_render(s, NULL, &fresh, &flen);
		if (rc == BD_OK) {
			free(c->page);
			c->page = fresh;
			c->len = flen;
			c->built = now;
			sweep(c);
		} else {
			/* not cached: a failure is answered and retried */
			free(c->page);
			c->page = NULL;
		}
	}
	if (rc == BD_OK) {
		if ((*page = malloc(c->len + 1)) == NULL) {
			rc = bd_fail(BD_ERR_NOMEM, "index page");
		} else {
			memcpy(*page, c->page, c->len + 1);
			*len = c->len;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

struct index_cache *
index_cache_new(int repofd)
{
	struct index_cache *c;
	pthread_mutexattr_t attr;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&c->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	c->repofd = repofd;
#ifdef __linux__
	c->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
#else
	c->ino = -1;
#endif
	return c;
}

void
index_cache_free(struct index_cache *c)
{
	size_t i;
	struct chan *ch, *next;

	if (c == NULL)
		return;
	for (i = 0; i < CHAN_BUCKETS; i++)
		for (ch = c->chans[i]; ch != NULL; ch = next) {
			next = ch->next;
			chan_free(ch);
		}
	if (c->ino != -1)
		close(c->ino);
	free(c->page);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
