/*
 * repo.h - the publisher's view of a repository (its paths: layout.h).
 *
 * Publishing writes blobs first, then the versioned manifest, then
 * replaces manifest.json atomically, so a reader never sees a manifest
 * whose blobs are missing.
 */
#ifndef BOOTDROP_REPO_H
#define BOOTDROP_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "chain.h"
#include "err.h"
#include "key.h"
#include "manifest.h"

#define REPO_MAX_CHANNELS	1024
#define REPO_MAX_VERSIONS	100000

struct release_input {
	const char *name;	/* artifact name: "kernel", "initrd", "world"
				   or other (kind "file") */
	const char *path;	/* file to publish */
	const char *install;	/* --install NAME=PATH, or NULL: the kind's
				   default for its kind */
};

/*
 * Boot data for a release, rotate or refresh (DESIGN.md, "Boot"); each
 * field NULL / false leaves the default (release) or the newest version's
 * value (rotate, refresh).
 */
struct boot_opts {
	bool loaders_set;	/* --loader given (or --no-menu, --menu) */
	unsigned loaders;	/* BOOT_* bits */
	const char *cmdline;
	const char *title;
	const char *root;
};

/* Something the publisher should know, printed by the caller. */
typedef void (*repo_note_fn)(void *ctx, const char *msg);

struct release_opts {
	const char *channel;
	struct bd_seckey *const *keys;	/* one signature per key */
	size_t nkeys;
	time_t now;
	time_t expires;
	struct boot_opts boot;
	repo_note_fn warn;	/* NULL: warnings are dropped */
	void *warn_ctx;
	/*
	 * What each chunked artifact shares with the previous version
	 * (release only), one line each; NULL: dropped.  Same ctx as warn.
	 */
	repo_note_fn note;
	int chunk_level;	/* zstd level of chunk packs: 0 the default
				   (CHUNKPUB_LEVEL_DEFAULT), < 0 no chunks */
	const struct bd_keyset *trust;	/* new keys; NULL: the previous
					   version's (chain_next()) */
	unsigned threshold;	/* first version: of the signers' keys */
	bool force;		/* publish even when nothing changed */
};

struct repo_prune_stats {
	uint64_t removed;	/* blob files removed */
	uint64_t bytes;		/* their size */
	uint64_t kept;		/* blobs still named by a kept manifest */
};

/*
 * Called by repo_check_public() for a path others cannot read: mode is its
 * permission bits, dir whether it is a directory.
 */
typedef void (*repo_warn_fn)(void *ctx, const char *rel, unsigned mode,
    bool dir);

/* The seed guide's command line for a FreeBSD Xen PV guest. */
#define REPO_FREEBSD_CMDLINE \
	"vfs.root.mountfrom=ufs:xbd0s2,machdep.idle_mwait=0,kern.hz=100"

/*
 * Fills m's format-3 boot data from o over what m already holds (the
 * newest version's, for rotate and refresh; nothing, for a release):
 * defaults where the kernel says enough (a FreeBSD Xen PV kernel: pvgrub
 * with REPO_FREEBSD_CMDLINE; a Linux kernel: grub), a refusal with an
 * example where it does not (no --cmdline for a kernel that is not
 * FreeBSD's), the loaders' refusals (boot_check_kernel()), and a warning
 * through o->warn when a Linux kernel gets a FreeBSD-looking command line
 * or the reverse.  kos is the kernel's OS as image_inspect() read it ("",
 * unknown, when only a manifest's facts are at hand).
 */
enum bd_err repo_boot_fill(struct bd_manifest *m, const struct release_opts *o,
    const char *kos);

/*
 * Opens a repository directory, creating it (mode 0755) when create;
 * returns its fd.  BD_ERR_INPUT when it cannot be opened.
 */
enum bd_err repo_open(const char *path, bool create, int *fd);

/*
 * Publishes a release: inspects every input and the kernel's ELF (refusing
 * one pvgrub cannot boot) before writing anything, stages the blobs,
 * refuses a release identical to the newest version unless o->force,
 * writes the chunk pack and index of every artifact of at least
 * CHUNK_ARTIFACT_MIN_BYTES (named by its "chunks"; o->note says what each
 * shares with the newest version's artifact of the same name), then
 * names the blobs, re-reads and verifies version N (chain_head_load()),
 * writes version N+1 signed by each key and replaces manifest.json.
 * Files are 0644 and directories 0755 whatever the umask.
 * A refused or failed release leaves no file and no directory behind.
 * Holds the repository's writer lock (flock) while it writes.
 * *version gets the new version.
 */
enum bd_err repo_release(int repofd, const struct release_opts *o,
    const struct release_input *in, size_t nin, uint64_t *version);

/*
 * Publishes m, whose payload fields are set (rotate and refresh copy them
 * from the head), as the version after h: chain_next() with o->trust,
 * signed by o->keys, checked as h's successor, written like a release.
 */
enum bd_err repo_publish_next(int repofd, const struct release_opts *o,
    const struct chain_head *h, struct bd_manifest *m);

/*
 * Removes every blob that no manifest among the newest keep versions of
 * any channel (nor any channel's manifest.json) names, directly or through
 * an artifact's chunk index (the index and the pack it names), and
 * temporary files a crashed release left.  Manifests are never removed.
 * Refuses to prune anything when one of those manifests, or a chunk index
 * one names that is there, cannot be read.  Takes the writer lock, so a
 * release running meanwhile is not cut short.
 */
enum bd_err repo_prune(int repofd, size_t keep, struct repo_prune_stats *st);

/*
 * rotate, refresh: every blob m names is there at its size (BD_ERR_SIZE
 * otherwise, naming it); an artifact whose chunk index or pack is missing
 * or unreadable loses its "chunks" (guests then download it whole), with
 * a warning through o->warn.
 */
enum bd_err repo_blobs_present(int repofd, const struct release_opts *o,
    struct bd_manifest *m);

/*
 * Reports through warn every path that serving channel's manifest m needs
 * and that users other than the owner cannot read (a server, nginx or a
 * DynamicUser unit running as another user would answer 403); *nbad gets
 * their count.
 */
enum bd_err repo_check_public(int repofd, const char *channel,
    const struct bd_manifest *m, repo_warn_fn warn, void *ctx, size_t *nbad);

/*
 * Reads channels/<channel>/<file> ("manifest.json" or "<n>.json"),
 * capped at MANIFEST_MAX_BYTES.  Free *buf with free().
 */
enum bd_err repo_read_manifest(int repofd, const char *channel,
    const char *file, uint8_t **buf, size_t *len);

/* Lists valid channel names, sorted.  Free with repo_names_free(). */
enum bd_err repo_list_channels(int repofd, char ***names, size_t *n);
void repo_names_free(char **names, size_t n);

/* Lists published versions of a channel, ascending.  Free with free(). */
enum bd_err repo_list_versions(int repofd, const char *channel,
    uint64_t **versions, size_t *n);

/*
 * Splits a command line's "NAME=FILE" in place (the '=' becomes a NUL) into
 * in, which points into arg; refuses a missing part or a bad name.
 */
enum bd_err repo_parse_input(char *arg, struct release_input *in);

/*
 * Applies "--install NAME=PATH" (split in place) to the input named NAME;
 * refuses an unknown name, a second --install for it or a bad path.
 */
enum bd_err repo_parse_install(char *arg, struct release_input *in, size_t n);

#endif
