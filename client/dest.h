/*
 * dest.h - the boot slice bootdrop-fetch installs onto, behind one
 * interface with two implementations: a directory (-d DESTDIR,
 * dest_dir.c) and an unmounted ext2/ext4 file system on a device or an
 * image file (--ext2, dest_ext2.c over ext2.h).  fetch.c runs one pipeline
 * over it and never asks which kind it has.
 *
 * The install is one transaction (DESIGN.md, "Installing: one transaction,
 * every time"):
 *
 *	dest_open(cfg, &d)          finishes an interrupted install first
 *	dest_state(d)               what the slice has accepted
 *	dest_path_check(d, path)    per install path, nothing written
 *	dest_room(d, need)          "need N, have M" before any download
 *	dest_part_dir(d, &fd)       where the downloads go (resumable parts)
 *	dest_begin(d, judged)       first write: the state must be unchanged
 *	dest_stage_file(d, k, ...)  each verified file, staged and synced
 *	dest_plan_removals(d, ...)  files of older versions the new one drops
 *	dest_commit(d, pending)     intent record, renames, removals, state,
 *	                            record removed: all or nothing
 *	dest_close(d)
 *
 * A crash (or SIGKILL) at any instant leaves every installed file the old
 * or the new version; the next dest_open() in write mode finds the intent
 * record and finishes it, re-hashing every staged file first.  Every
 * function returns a bd_err with a bd_fail() detail naming the path.
 */
#ifndef BOOTDROP_DEST_H
#define BOOTDROP_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

struct dest_config {
	const char *target;	/* DESTDIR, or the ext2 device or image */
	bool ext2;
	const char *statedir;	/* directory only: --state DIR, or NULL */
	const char *tmpdir;	/* ext2 only: host directory for downloads */
	const char *channel;
	bool readonly;		/* --check: open nothing for writing */
};

/* Room the install needs on the destination, from the manifest. */
struct dest_need {
	size_t nfiles;
	const uint64_t *sizes;			/* every file to stage */
	const char *const *part_names;		/* "<hex>.part" or NULL */
};

struct dest;

/*
 * Opens the destination.  In write mode an intent record left by an
 * interrupted install is finished (or, when a staged file no longer
 * hashes as recorded, abandoned) before this returns; dest_note() tells
 * which.  Returns a new dest in *out; release it with dest_close().
 */
enum bd_err dest_open(const struct dest_config *cfg, struct dest **out);

/* What dest_open() did about an interrupted install, or NULL. */
const char *dest_note(const struct dest *d);

/* Something the user should know about the destination, or NULL. */
const char *dest_warning(const struct dest *d);

/* True when a read-only open found an unfinished install. */
bool dest_pending(const struct dest *d);

/* The accepted state of cfg->channel (after any finished record). */
const struct bd_state *dest_state(const struct dest *d);

/* Where the state lives, for messages ("DIR/.bootdrop/state/CH"). */
const char *dest_state_where(const struct dest *d);

/* The command that removes the state deliberately, for messages. */
const char *dest_state_reset_hint(const struct dest *d);

/* How install path reads in messages ("DIR/boot/kernel", "IMG:/boot/kernel"). */
void dest_path_name(const struct dest *d, const char *path, char *out,
    size_t cap);

/* Checks, writing nothing, that path can be installed. */
enum bd_err dest_path_check(struct dest *d, const char *path);

/*
 * Checks that the destination has room for need (bytes, and inodes where
 * the file system counts them), crediting parts already downloaded there.
 * BD_ERR_IO with "need N bytes, have M" otherwise.
 */
enum bd_err dest_room(struct dest *d, const struct dest_need *need);

/*
 * Whether the file installed at path holds exactly size bytes hashing to
 * sha256: read (re-hashed every time), never written; false on any doubt
 * (missing, not a regular file, unreadable).  For --check and repairs.
 */
bool dest_installed_same(struct dest *d, const char *path, uint64_t size,
    const uint8_t *sha256);

/*
 * The file a previous version installed at path, opened for reading as
 * the seed of a delta download (client/chunkfetch.c): found as an install
 * finds it (never through a symbolic link, never outside the slice), a
 * regular file or nothing (*out NULL, BD_OK).  Nothing is written: an
 * ext2 file system is opened again read-only, and must be sound
 * (BD_ERR_IO naming e2fsck -f otherwise).  Returns a new seed in *out;
 * dest_seed_close() it before dest_begin().
 */
struct dest_seed;
enum bd_err dest_seed_open(struct dest *d, const char *path,
    struct dest_seed **out);

/* Reads exactly len bytes of the seed at off (BD_ERR_SIZE past its end). */
enum bd_err dest_seed_read(struct dest_seed *s, uint64_t off, uint8_t *buf,
    size_t len);

/* Closes the seed; s may be NULL. */
void dest_seed_close(struct dest_seed *s);

/* Opens (making it when missing) the private directory downloads go to. */
enum bd_err dest_part_dir(struct dest *d, int *fd);

/*
 * Before the first write: the state must still be judged (the one the
 * manifest was checked against), and leftovers of an earlier run of our
 * own kind are removed.
 */
enum bd_err dest_begin(struct dest *d, const struct bd_state *judged);

/*
 * Stages the verified download srcfd (size bytes; part is its name in the
 * download directory) as "stage.<k>", fsynced.  srcfd stays the caller's.
 */
enum bd_err dest_stage_file(struct dest *d, size_t k, int srcfd,
    const char *part, uint64_t size);

/* As dest_stage_file(), from len bytes at buf. */
enum bd_err dest_stage_bytes(struct dest *d, size_t k, const void *buf,
    size_t len);

/*
 * Whether name (a file name, no directory) is exactly a BLS entry of
 * channel as bootdrop names them, "bootdrop-<channel>-<version>.conf",
 * or as systemd-boot's boot counting renames them ("...-<version>+N.conf",
 * "...-<version>+N-M.conf"); *version gets the version.
 */
bool dest_bls_entry_version(const char *name, const char *channel,
    uint64_t *version);

#define DEST_BLS_MAX_ENTRIES	4	/* one version's entries handled */

/*
 * Finds version's BLS entries of channel on the slice whatever their boot
 * counter suffix (dest_bls_entry_version()): their install paths
 * ("loader/entries/<name>", regular files only) in paths, *n of them.
 */
enum bd_err dest_bls_entries(struct dest *d, const char *channel,
    uint64_t version, char (*paths)[INSTALL_PATH_MAX_BYTES + 1],
    size_t *n);

/*
 * Fills p->removes for a full install (p->has_state) over the state old:
 * every file old lists as the accepted or the previous version's that p
 * neither installs nor keeps (p->state's lists, the <install>.old files
 * p makes) - a BLS entry found by its version whatever its counter
 * suffix, and never one of a version p keeps.  Nothing else is ever
 * named: a file not in old's lists is not bootdrop's.
 */
enum bd_err dest_plan_removals(struct dest *d, const struct bd_state *old,
    struct bd_pending *p);

/*
 * Commits p: writes the intent record, puts every staged file in place
 * (keeping a replaced file as <install>.old where asked), removes each
 * file of p->removes that still holds the bytes recorded, writes the state
 * and removes the record.  After a failure part way the record stays and
 * the next run finishes it.
 */
enum bd_err dest_commit(struct dest *d, const struct bd_pending *p);

/* Whether the last dest_commit() removed file i of its p->removes. */
bool dest_removed(const struct dest *d, size_t i);

/* Removes the named parts from the download directory (after success). */
void dest_parts_remove(struct dest *d, const char *const *part_names,
    size_t n);

/*
 * Files outside the install transaction, for the trial boot and
 * --confirm (client/confirm.c).  dest_file_read(): the regular file at
 * path, at most max bytes, a new buffer (free()) or NULL when missing.
 * dest_file_rewrite(): overwrites path in place - the same file, the same
 * blocks, never a new file renamed over it (GRUB's save_env writes those
 * blocks) - creating it once when missing.  dest_file_rename(): renames
 * from to to in its directory, durably.
 */
enum bd_err dest_file_read(struct dest *d, const char *path, size_t max,
    uint8_t **buf, size_t *len);
enum bd_err dest_file_rewrite(struct dest *d, const char *path,
    const void *buf, size_t len);
enum bd_err dest_file_rename(struct dest *d, const char *from,
    const char *to);

/*
 * Closes the destination; for ext2 writes everything back and marks the
 * file system clean when it was found clean and every step succeeded.
 * failed: a step failed (the destination stays marked as needing care).
 * d may be NULL.
 */
enum bd_err dest_close(struct dest *d, bool failed);

#endif
