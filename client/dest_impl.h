/*
 * dest_impl.h - what each destination kind (dest_dir.c, dest_ext2.c)
 * provides to dest.c, which runs the transaction over these steps.  Only
 * dest*.c include this.
 */
#ifndef BOOTDROP_DEST_IMPL_H
#define BOOTDROP_DEST_IMPL_H

#include "dest.h"
#include "download.h"

#define DEST_WHERE_BYTES	(DL_URL_MAX_BYTES + 64)
#define DEST_NAME_BYTES		256	/* a directory entry's name and its NUL */

/* A seed (dest_seed_open()): each kind allocates its own, this first. */
struct dest_seed {
	enum bd_err (*read)(struct dest_seed *s, uint64_t off, uint8_t *buf,
	    size_t len);
	void (*close)(struct dest_seed *s);
};

struct dest_ops {
	/* Opens the destination (read-only when d->cfg.readonly). */
	enum bd_err (*open)(struct dest *d);
	/* The intent record's bytes, or *buf NULL when there is none. */
	enum bd_err (*record_read)(struct dest *d, uint8_t **buf, size_t *len);
	enum bd_err (*state_read)(struct dest *d, struct bd_state *st);
	enum bd_err (*path_check)(struct dest *d, const char *path);
	enum bd_err (*room)(struct dest *d, const struct dest_need *need);
	enum bd_err (*part_dir)(struct dest *d, int *fd);
	/* The regular file at install path, read-only; *out NULL if none. */
	enum bd_err (*seed_open)(struct dest *d, const char *path,
	    struct dest_seed **out);
	/* Ready to write (ext2: opened for writing, marked not clean); may
	 * be called again. */
	enum bd_err (*begin)(struct dest *d);
	/* Removes every staged leftover (no record exists). */
	enum bd_err (*clean)(struct dest *d);
	/* Stages from fd (>= 0, the download part) or buf, fsynced, as name. */
	enum bd_err (*stage)(struct dest *d, const char *name, int fd,
	    const char *part, const void *buf, uint64_t size);
	enum bd_err (*record_write)(struct dest *d, const char *text,
	    size_t len);
	/*
	 * Whether staged name is there; with sha256 non-NULL it must also
	 * hold size bytes hashing to it (BD_ERR_HASH otherwise).
	 */
	enum bd_err (*staged_check)(struct dest *d, const char *name,
	    uint64_t size, const uint8_t *sha256, bool *present);
	/*
	 * Whether install path holds size bytes hashing to sha256 (a staged
	 * file gone missing is judged by this, never assumed installed).
	 */
	enum bd_err (*installed)(struct dest *d, const char *path,
	    uint64_t size, const uint8_t *sha256, bool *same);
	/* Puts staged f in place; a missing staged file is done already. */
	enum bd_err (*apply)(struct dest *d, const struct bd_pending_file *f);
	/*
	 * The names in directory dir (an install path's directory) starting
	 * with prefix, at most cap; *n 0 when dir is missing.
	 */
	enum bd_err (*list)(struct dest *d, const char *dir, const char *prefix,
	    char (*names)[DEST_NAME_BYTES], size_t cap, size_t *n);
	/*
	 * Removes the regular file at install path, durably, only while it
	 * holds size bytes hashing to sha256 (or, on ext2, finishes a removal
	 * an interruption left half done); anything else, or nothing, there
	 * is done.  *removed tells whether this call removed it.
	 */
	enum bd_err (*remove_same)(struct dest *d, const char *path,
	    uint64_t size, const uint8_t *sha256, bool *removed);
	enum bd_err (*state_write)(struct dest *d, const char *channel,
	    const char *text, size_t len);
	enum bd_err (*record_remove)(struct dest *d);
	enum bd_err (*close)(struct dest *d, bool failed);
	/* Files outside the transaction (trial boot, --confirm): */
	/* the regular file at path, at most max bytes; *buf NULL if missing */
	enum bd_err (*file_read)(struct dest *d, const char *path, size_t max,
	    uint8_t **buf, size_t *len);
	/* path overwritten in place (created once when missing), durably */
	enum bd_err (*file_rewrite)(struct dest *d, const char *path,
	    const void *buf, size_t len);
	/* from renamed to to (replacing it), durably */
	enum bd_err (*file_rename)(struct dest *d, const char *from,
	    const char *to);
};

struct dest {
	const struct dest_ops *ops;
	struct dest_config cfg;
	struct bd_state state;
	bool pending;
	int partfd;		/* the download directory, once part_dir made it */
	const char *note;
	const char *warning;
	const char *path_sep;	/* between the target and an install path */
	bool removed[PENDING_MAX_REMOVES];	/* by the last commit */
	char notebuf[256];
	char state_where[DEST_WHERE_BYTES];
	char reset_hint[DEST_WHERE_BYTES + 64];
	char record_hint[DEST_WHERE_BYTES + 64];	/* removes the record */
};

/* The two kinds: allocate their own struct with struct dest first. */
enum bd_err dest_dir_new(struct dest **out);
enum bd_err dest_ext2_new(struct dest **out);

#endif
