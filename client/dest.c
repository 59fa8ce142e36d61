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

#include "dest_impl.h"

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
