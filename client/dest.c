/*
 * dest.c - the install transaction over either destination kind (see
 * dest.h).  The steps and their order live here once; dest_dir.c and
 * dest_ext2.c only know how to do each step on their kind.
 *
 * Every step of a commit is idempotent, so finishing a record repeats
 * whatever the interrupted run may or may not have done: a staged file
 * still present has not been put in place yet (its rename is the step);
 * the state is rewritten whole; the record goes last.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "boot.h"
#include "dest_impl.h"

#define DEST_LIST_MAX	64	/* names read per BLS look-up */

static enum bd_err dest_finish(struct dest *d, const struct bd_pending *p,
    bool rehash);

/*
 * Reads the state.  A damaged one (empty, NULs, truncated) is a local
 * error naming the file and the command that resets it: never ignored,
 * which would re-open rollback, and never a refusal to retry forever.
 */
static enum bd_err
state_read(struct dest *d, struct bd_state *st)
{
	enum bd_err rc = d->ops->state_read(d, st);

	if (rc == BD_ERR_FORMAT || rc == BD_ERR_TOOBIG)
		return bd_fail(BD_ERR_IO, "%s: damaged state file (%s); to "
		    "accept whatever version the repository offers next, "
		    "remove it: %s", d->state_where, bd_err_detail(),
		    d->reset_hint);
	return rc;
}

enum bd_err
dest_open(const struct dest_config *cfg, struct dest **out)
{
	struct dest *d = NULL;
	struct bd_pending *p = NULL;
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc;

	*out = NULL;
	rc = cfg->ext2 ? dest_ext2_new(&d) : dest_dir_new(&d);
	if (rc != BD_OK)
		return rc;
	d->cfg = *cfg;
	d->partfd = -1;
	if ((rc = d->ops->open(d)) != BD_OK)
		goto out;
	if ((rc = d->ops->record_read(d, &buf, &len)) != BD_OK)
		goto out;
	if (buf != NULL && cfg->readonly) {
		d->pending = true;
	} else if (buf != NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			rc = bd_fail(BD_ERR_NOMEM, "pending record");
			goto out;
		}
		if ((rc = pending_parse(buf, len, p)) != BD_OK) {
			rc = bd_fail(BD_ERR_IO, "%s: damaged intent record "
			    "(%s); to start over, remove it: %s - this abandons "
			    "the install it describes: until a run installs "
			    "again, the files it names may each be the old or "
			    "the new version, and the state stays at the old "
			    "one", cfg->target, bd_err_detail(), d->record_hint);
			goto out;
		}
		if ((rc = d->ops->begin(d)) != BD_OK)
			goto out;
		if ((rc = dest_finish(d, p, true)) != BD_OK)
			goto out;
	}
	if ((rc = state_read(d, &d->state)) != BD_OK)
		goto out;
	*out = d;
	d = NULL;
out:
	if (d != NULL)
		(void)d->ops->close(d, true);
	if (p != NULL) {
		sodium_memzero(p, sizeof(*p));
		free(p);
	}
	free(buf);
	return rc;
}

/* Whether p installs path, or keeps the file it replaces there. */
static bool
pending_names(const struct bd_pending *p, const char *path)
{
	const struct bd_pending_file *f;
	size_t i, n;

	for (i = 0; i < p->nfiles; i++) {
		f = &p->files[i];
		n = strlen(f->install);
		if (strcmp(f->install, path) == 0 || (f->keep_old &&
		    strncmp(f->install, path, n) == 0 &&
		    strcmp(path + n, ".old") == 0))
			return true;
	}
	return false;
}

/*
 * One removal step: r's path goes only while it holds exactly the bytes
 * recorded (gone already, or someone else's since: nothing to do), and
 * never a path p installs.  Idempotent, so a replay repeats it safely.
 */
static enum bd_err
remove_old(struct dest *d, const struct bd_pending *p,
    const struct state_file *r, bool *removed)
{
	*removed = false;
	if (pending_names(p, r->path))
		return BD_OK;
	return d->ops->remove_same(d, r->path, r->size, r->sha256, removed);
}

/*
 * The steps after the record is durable.  With rehash (finishing an
 * interrupted run) every staged file must still hash as recorded; if one
 * does not, the record is abandoned: the staged files go, the installed
 * files are each old or new, the state is the old one, and the run goes
 * on to install afresh.
 */
static enum bd_err
dest_finish(struct dest *d, const struct bd_pending *p, bool rehash)
{
	const struct bd_pending_file *f;
	char text[STATE_MAX_BYTES];
	bool present[PENDING_MAX_FILES], same;
	size_t i, len;
	enum bd_err rc;

	for (i = 0; i < p->nfiles; i++) {
		f = &p->files[i];
		rc = d->ops->staged_check(d, f->stage, f->size,
		    rehash ? f->sha256 : NULL, &present[i]);
		/* A staged file is gone only once it is in place - unless a
		 * power cut or a repair lost it: what the install path holds
		 * decides. */
		if (rc == BD_OK && !present[i] && rehash) {
			rc = d->ops->installed(d, f->install, f->size,
			    f->sha256, &same);
			if (rc == BD_OK && !same)
				rc = bd_fail(BD_ERR_HASH, "is gone, and %s does "
				    "not hold the new version", f->install);
		}
		if (rc == BD_ERR_HASH || rc == BD_ERR_SIZE) {
			snprintf(d->notebuf, sizeof(d->notebuf), "abandoned "
			    "an interrupted install: staged %s for %s %s",
			    f->stage, f->install, bd_err_detail());
			d->note = d->notebuf;
			if ((rc = d->ops->record_remove(d)) != BD_OK)
				return rc;
			return d->ops->clean(d);
		}
		if (rc != BD_OK)
			return rc;
	}
	for (i = 0; i < p->nfiles; i++)
		if ((rc = d->ops->apply(d, &p->files[i])) != BD_OK)
			return rc;
	for (i = 0; i < p->nremoves; i++)
		if ((rc = remove_old(d, p, &p->removes[i], &d->removed[i])) !=
		    BD_OK)
			return rc;
	if (p->has_state) {
		if ((rc = state_format(p->channel, &p->state, text, &len)) !=
		    BD_OK || (rc = d->ops->state_write(d, p->channel, text,
		    len)) != BD_OK)
			return rc;
	}
	if ((rc = d->ops->record_remove(d)) != BD_OK)
		return rc;
	if (rehash) {
		snprintf(d->notebuf, sizeof(d->notebuf), "finished an "
		    "interrupted install of %s%s%" PRIu64, p->channel,
		    p->has_state ? " version " : "",
		    p->has_state ? p->state.version : 0);
		if (!p->has_state)
			d->notebuf[strlen(d->notebuf) - 1] = '\0';
		d->note = d->notebuf;
	}
	return d->ops->clean(d);
}

const char *
dest_note(const struct dest *d)
{
	return d->note;
}

const char *
dest_warning(const struct dest *d)
{
	return d->warning;
}

bool
dest_pending(const struct dest *d)
{
	return d->pending;
}

const struct bd_state *
dest_state(const struct dest *d)
{
	return &d->state;
}

const char *
dest_state_where(const struct dest *d)
{
	return d->state_where;
}

const char *
dest_state_reset_hint(const struct dest *d)
{
	return d->reset_hint;
}

void
dest_path_name(const struct dest *d, const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s", d->cfg.target, d->path_sep, path);
}

enum bd_err
dest_path_check(struct dest *d, const char *path)
{
	return d->ops->path_check(d, path);
}

bool
dest_installed_same(struct dest *d, const char *path, uint64_t size,
    const uint8_t *sha256)
{
	bool same = false;

	/* Unreadable or not ours counts as "not the same": it is rewritten. */
	if (d->ops->installed(d, path, size, sha256, &same) != BD_OK)
		same = false;
	bd_err_clear();
	return same;
}

enum bd_err
dest_room(struct dest *d, const struct dest_need *need)
{
	return d->ops->room(d, need);
}

enum bd_err
dest_part_dir(struct dest *d, int *fd)
{
	enum bd_err rc = d->ops->part_dir(d, fd);

	d->partfd = rc == BD_OK ? *fd : -1;
	return rc;
}

enum bd_err
dest_seed_open(struct dest *d, const char *path, struct dest_seed **out)
{
	*out = NULL;
	return d->ops->seed_open(d, path, out);
}

enum bd_err
dest_seed_read(struct dest_seed *s, uint64_t off, uint8_t *buf, size_t len)
{
	return s->read(s, off, buf, len);
}

void
dest_seed_close(struct dest_seed *s)
{
	if (s != NULL)
		s->close(s);
}

enum bd_err
dest_begin(struct dest *d, const struct bd_state *judged)
{
	struct bd_state now;
	enum bd_err rc;

	/* Again after an interrupted install was finished: the download
	 * closed what that opened. */
	if ((rc = d->ops->begin(d)) != BD_OK)
		return rc;
	if ((rc = state_read(d, &now)) != BD_OK)
		return rc;
	if (now.present != judged->present || (now.present &&
	    (now.version != judged->version ||
	    sodium_memcmp(now.payload_sha256, judged->payload_sha256,
	    SHA256_BYTES) != 0)))
		return bd_fail(BD_ERR_IO, "%s: the state changed during the "
		    "download; nothing installed, run again", d->state_where);
	return d->ops->clean(d);
}

/* Decimal digits at *s (1 to 19, no leading zero; 0 itself if zero_ok). */
static bool
bls_number(const char **s, bool zero_ok, uint64_t *v)
{
	const char *p = *s;
	size_t n = 0;

	*v = 0;
	if (*p == '0' && (!zero_ok || (p[1] >= '0' && p[1] <= '9')))
		return false;
	for (; *p >= '0' && *p <= '9' && n < 19; p++, n++)
		*v = *v * 10 + (uint64_t)(*p - '0');
	if (n == 0 || (*p >= '0' && *p <= '9'))
		return false;
	*s = p;
	return true;
}

bool
dest_bls_entry_version(const char *name, const char *channel,
    uint64_t *version)
{
	size_t cl = strlen(channel);
	const char *p = name;
	uint64_t v, tries;

	if (strncmp(p, "bootdrop-", 9) != 0 || strncmp(p + 9, channel, cl) != 0 ||
	    p[9 + cl] != '-')
		return false;
	p += 9 + cl + 1;
	if (!bls_number(&p, false, &v) || v == 0)
		return false;
	if (*p == '+') {	/* systemd-boot's tries left, then tries done */
		p++;
		if (!bls_number(&p, true, &tries))
			return false;
		if (*p == '-') {
			p++;
			if (!bls_number(&p, true, &tries))
				return false;
		}
	}
	if (strcmp(p, ".conf") != 0)
		return false;
	*version = v;
	return true;
}

enum bd_err
dest_bls_entries(struct dest *d, const char *channel, uint64_t version,
    char (*paths)[INSTALL_PATH_MAX_BYTES + 1], size_t *n)
{
	char (*names)[DEST_NAME_BYTES], prefix[DEST_NAME_BYTES];
	uint64_t v;
	size_t i, got = 0;
	enum bd_err rc;

	*n = 0;
	snprintf(prefix, sizeof(prefix), "bootdrop-%s-%" PRIu64, channel,
	    version);
	if ((names = calloc(DEST_LIST_MAX, sizeof(*names))) == NULL)
		return bd_fail(BD_ERR_NOMEM, "BLS entries");
	rc = d->ops->list(d, BOOT_BLS_DIR, prefix, names, DEST_LIST_MAX, &got);
	for (i = 0; rc == BD_OK && i < got && *n < DEST_BLS_MAX_ENTRIES; i++) {
		if (!dest_bls_entry_version(names[i], channel, &v) ||
		    v != version || strlen(BOOT_BLS_DIR) + 1 + strlen(names[i]) >
		    INSTALL_PATH_MAX_BYTES)
			continue;
		snprintf(paths[*n], INSTALL_PATH_MAX_BYTES + 1, BOOT_BLS_DIR
		    "/%s", names[i]);
		(*n)++;
	}
	free(names);
	return rc;
}

/* The version of the BLS entry of channel at install path, or 0. */
static uint64_t
bls_path_version(const char *path, const char *channel)
{
	size_t dl = strlen(BOOT_BLS_DIR);
	uint64_t v;

	if (strncmp(path, BOOT_BLS_DIR "/", dl + 1) != 0 ||
	    !dest_bls_entry_version(path + dl + 1, channel, &v))
		return 0;
	return v;
}

/* Whether path is one the install p writes or keeps. */
static bool
plan_keeps(const struct bd_pending *p, const char *path)
{
	uint64_t v;
	size_t i;

	if (pending_names(p, path) ||
	    state_files_find(&p->state.files, path) != NULL ||
	    state_files_find(&p->state.prev_files, path) != NULL)
		return true;
	/* a BLS entry of a version p renders with a boot counter, whatever
	 * systemd-boot's counting or --confirm made of its name since; a
	 * version p renders without one (the previous entry) keeps only
	 * that name */
	if ((v = bls_path_version(path, p->channel)) == 0)
		return false;
	for (i = 0; i < p->state.files.n; i++)
		if (bls_path_version(p->state.files.f[i].path, p->channel) == v &&
		    boot_bls_counted_path(p->state.files.f[i].path, NULL, NULL,
		    NULL))
			return true;
	return false;
}

/* Adds a removal of (r's bytes at path) to p unless it is named already. */
static enum bd_err
plan_remove(struct bd_pending *p, const struct state_file *r,
    const char *path)
{
	struct state_file *x;
	size_t i;

	for (i = 0; i < p->nremoves; i++)
		if (strcmp(p->removes[i].path, path) == 0)
			return BD_OK;
	if (p->nremoves == PENDING_MAX_REMOVES)
		return bd_fail(BD_ERR_IO, "more than %d files to remove",
		    PENDING_MAX_REMOVES);
	x = &p->removes[p->nremoves++];
	*x = *r;
	snprintf(x->path, sizeof(x->path), "%s", path);
	return BD_OK;
}

/* Plans the removal of old file r (its BLS entries wherever they are). */
static enum bd_err
plan_one(struct dest *d, struct bd_pending *p, const struct state_file *r)
{
	char paths[DEST_BLS_MAX_ENTRIES][INSTALL_PATH_MAX_BYTES + 1];
	uint64_t v;
	size_t i, n;
	enum bd_err rc;

	if (plan_keeps(p, r->path))
		return BD_OK;
	if ((v = bls_path_version(r->path, p->channel)) == 0)
		return plan_remove(p, r, r->path);
	if ((rc = dest_bls_entries(d, p->channel, v, paths, &n)) != BD_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (!plan_keeps(p, paths[i]) &&
		    (rc = plan_remove(p, r, paths[i])) != BD_OK)
			return rc;
	return BD_OK;
}

enum bd_err
dest_plan_removals(struct dest *d, const struct bd_state *old,
    struct bd_pending *p)
{
	size_t i;
	enum bd_err rc;

	p->nremoves = 0;
	if (!p->has_state || !old->present || !old->has_files)
		return BD_OK;
	for (i = 0; i < old->files.n; i++)
		if ((rc = plan_one(d, p, &old->files.f[i])) != BD_OK)
			return rc;
	for (i = 0; i < old->prev_files.n; i++)
		if ((rc = plan_one(d, p, &old->prev_files.f[i])) != BD_OK)
			return rc;
	return BD_OK;
}

/* "stage.<k>" */
static void
stage_name(size_t k, char name[PENDING_STAGE_BYTES])
{
	snprintf(name, PENDING_STAGE_BYTES, "stage.%zu", k);
}

enum bd_err
dest_stage_file(struct dest *d, size_t k, int srcfd, const char *part,
    uint64_t size)
{
	char name[PENDING_STAGE_BYTES];

	stage_name(k, name);
	return d->ops->stage(d, name, srcfd, part, NULL, size);
}

enum bd_err
dest_stage_bytes(struct dest *d, size_t k, const void *buf, size_t len)
{
	char name[PENDING_STAGE_BYTES];

	stage_name(k, name);
	return d->ops->stage(d, name, -1, NULL, buf, len);
}

enum bd_err
dest_commit(struct dest *d, const struct bd_pending *p)
{
	char *text;
	size_t len;
	enum bd_err rc;

	if ((text = malloc(PENDING_MAX_BYTES)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "pending record");
	if ((rc = pending_format(p, text, PENDING_MAX_BYTES, &len)) == BD_OK &&
	    (rc = d->ops->record_write(d, text, len)) == BD_OK)
		rc = dest_finish(d, p, false);
	free(text);
	return rc;
}

bool
dest_removed(const struct dest *d, size_t i)
{
	return i < PENDING_MAX_REMOVES && d->removed[i];
}

void
dest_parts_remove(struct dest *d, const char *const *part_names, size_t n)
{
	size_t i;

	for (i = 0; i < n && d->partfd >= 0; i++)
		if (part_names[i] != NULL)
			(void)unlinkat(d->partfd, part_names[i], 0);
}

enum bd_err
dest_close(struct dest *d, bool failed)
{
	if (d == NULL)
		return BD_OK;
	return d->ops->close(d, failed);
}

enum bd_err
dest_file_read(struct dest *d, const char *path, size_t max, uint8_t **buf,
    size_t *len)
{
	return d->ops->file_read(d, path, max, buf, len);
}

enum bd_err
dest_file_rewrite(struct dest *d, const char *path, const void *buf,
    size_t len)
{
	enum bd_err rc;

	if ((rc = d->ops->begin(d)) != BD_OK)
		return rc;
	return d->ops->file_rewrite(d, path, buf, len);
}

enum bd_err
dest_file_rename(struct dest *d, const char *from, const char *to)
{
	enum bd_err rc;

	if ((rc = d->ops->begin(d)) != BD_OK)
		return rc;
	return d->ops->file_rename(d, from, to);
}
