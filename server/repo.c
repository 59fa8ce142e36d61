/*
 * repo.c - writing and reading a repository of plain static files.
 *
 * Ordering is the whole point: blobs are complete and fsynced before the
 * versioned manifest names them, and manifest.json is replaced by rename
 * only after the versioned manifest is durable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "elf.h"
#include "fsutil.h"
#include "layout.h"
#include "manifest.h"
#include "repo.h"
#include "sha256.h"
#include "sig.h"
#include "timefmt.h"

#define COPY_BUF_BYTES	(256u << 10)
#define PATH_BYTES	512

const char repo_default_menu_lst[] =
    "timeout 5\n"
    "default 0\n"
    "fallback 1\n"
    "\n"
    "title FreeBSD\n"
    "root (hd0,0)\n"
    "kernel /boot/kernel vfs.root.mountfrom=ufs:xbd0s2,machdep.idle_mwait=0,"
    "kern.hz=100\n"
    "\n"
    /* bootdrop-fetch keeps the kernel it replaces (--no-keep-old aside). */
    "title FreeBSD (previous kernel)\n"
    "root (hd0,0)\n"
    "kernel /boot/kernel.old vfs.root.mountfrom=ufs:xbd0s2,"
    "machdep.idle_mwait=0,kern.hz=100\n"
    "\n"
    "title FreeBSD (verbose)\n"
    "root (hd0,0)\n"
    "kernel /boot/kernel vfs.root.mountfrom=ufs:xbd0s2,machdep.idle_mwait=0,"
    "kern.hz=100,bootverbose=1\n";

enum bd_err
repo_open(const char *path, bool create, int *out)
{
	int fd, sub;
	enum bd_err rc;

	*out = -1;
	if (create && mkdir(path, 0755) != 0 && errno != EEXIST)
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
	if (create) {
		if ((rc = dir_open_path(fd, LAYOUT_BLOBS_DIR, true, &sub)) != BD_OK)
			goto fail;
		close(sub);
		if ((rc = dir_open_path(fd, LAYOUT_CHANNELS_DIR, true, &sub)) != BD_OK)
			goto fail;
		close(sub);
	}
	*out = fd;
	return BD_OK;
fail:
	close(fd);
	return rc;
}

/*
 * Copies the regular file at path into blobs/sha256/<hex>, hashing as it
 * streams; fills size and digest.  An existing blob with that name is
 * replaced by an identical one, so re-publishing is idempotent.
 */
static enum bd_err
store_blob(int repofd, const char *path, struct bd_artifact *a)
{
	char tmp[PATH_BYTES], final[LAYOUT_PATH_BYTES];
	struct sha256_ctx *h = NULL;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t total = 0;
	ssize_t n;
	int in, out = -1, blobs = -1;
	enum bd_err rc = BD_OK;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = bd_fail(BD_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > ARTIFACT_MAX_SIZE) {
		rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %llu bytes", path,
		    (unsigned long long)ARTIFACT_MAX_SIZE);
		goto out;
	}
	if ((rc = dir_open_path(repofd, LAYOUT_BLOBS_DIR, true, &blobs)) != BD_OK)
		goto out;
	snprintf(tmp, sizeof(tmp), ".incoming.%08x", randombytes_random());
	out = openat(blobs, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (out < 0) {
		rc = bd_fail(BD_ERR_IO, LAYOUT_BLOBS_DIR "/%s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	h = sha256_new();
	buf = malloc(COPY_BUF_BYTES);
	if (h == NULL || buf == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		n = read(in, buf, COPY_BUF_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > ARTIFACT_MAX_SIZE) {
			rc = bd_fail(BD_ERR_TOOBIG, "%s: grew while reading",
			    path);
			goto out;
		}
		sha256_update(h, buf, (size_t)n);
		if ((rc = write_all(out, buf, (size_t)n)) != BD_OK)
			goto out;
	}
	sha256_final(h, a->sha256);
	sha256_hex(a->sha256, a->sha256_hex);
	a->size = total;
	if ((rc = fd_sync(out)) != BD_OK)
		goto out;
	if (renameat(blobs, tmp, blobs, a->sha256_hex) != 0) {
		layout_blob_path(a->sha256_hex, final);
		rc = bd_fail(BD_ERR_IO, "%s: %s", final, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	rc = fd_sync(blobs);
out:
	if (out >= 0) {
		close(out);
		if (tmp[0] != '\0')
			unlinkat(blobs, tmp, 0);
	}
	if (blobs >= 0)
		close(blobs);
	sha256_free(h);
	free(buf);
	close(in);
	return rc;
}

enum bd_err
repo_parse_input(char *arg, struct release_input *in)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return bd_fail(BD_ERR_USAGE, "expected NAME=FILE, got '%s'", arg);
	*eq = '\0';
	if (!artifact_name_valid(arg)) {
		*eq = '=';
		return bd_fail(BD_ERR_USAGE, "bad artifact name in '%s' (use "
		    "letters, digits, '.', '_', '-')", arg);
	}
	in->name = arg;
	in->path = eq + 1;
	return BD_OK;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s == NULL ? path : s + 1;
}

/*
 * Checks one release input and fills the artifact's name, kind and install
 * path; a kernel's ELF facts are read here, before anything is stored, so
 * a refused release leaves the repository untouched.
 */
static enum bd_err
check_input(const struct release_input *in, struct bd_artifact *a)
{
	const char *install;
	int fd;
	enum bd_err rc = BD_OK;

	if (!artifact_name_valid(in->name))
		return bd_fail(BD_ERR_USAGE, "bad artifact name '%s' (use "
		    "letters, digits, '.', '_', '-')", in->name);
	if (strcmp(in->name, "kernel") == 0) {
		a->kind = strdup("kernel");
		install = "boot/kernel";
	} else {
		a->kind = strdup(strcmp(in->name, "world") == 0 ? "world" :
		    "file");
		install = base_name(in->path);
	}
	a->name = strdup(in->name);
	a->install = strdup(install);
	if (a->kind == NULL || a->name == NULL || a->install == NULL)
		return BD_ERR_NOMEM;
	if (!install_path_valid(a->install))
		return bd_fail(BD_ERR_PATH, "%s: file name '%s' is not a safe "
		    "install path", in->path, a->install);
	if ((fd = open(in->path, O_RDONLY | O_CLOEXEC)) < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", in->path, strerror(errno));
	if (strcmp(a->kind, "kernel") == 0) {
		if ((rc = elf_inspect_fd(fd, &a->elf)) != BD_OK)
			rc = bd_fail(rc, "%s: %s", in->path, bd_err_detail());
		a->has_elf = rc == BD_OK;
	}
	close(fd);
	return rc;
}

/* Checks that the release has a kernel pvgrub can load. */
static enum bd_err
check_boot(const struct bd_manifest *m)
{
	const struct bd_artifact *k = NULL;
	size_t i;

	for (i = 0; i < m->nartifacts; i++)
		if (strcmp(m->artifacts[i].kind, "kernel") == 0)
			k = &m->artifacts[i];
	if (k == NULL)
		return bd_fail(BD_ERR_USAGE, "a release needs kernel=FILE");
	return elf_pvgrub_check(&k->elf, NULL, NULL);
}

static enum bd_err
sign_and_write(int repofd, const struct release_opts *o,
    const struct chain_head *h, struct bd_manifest *m)
{
	char tc[SIG_COMMENT_MAX_BYTES], uc[128], kid[KEY_ID_HEX_BYTES];
	char dir[LAYOUT_PATH_BYTES], name[LAYOUT_FILE_BYTES];
	char *sigs[MANIFEST_MAX_SIGNATURES] = { NULL };
	uint8_t ids[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
	uint8_t *payload = NULL;
	char *envelope = NULL;
	size_t plen, i;
	int chfd = -1;
	enum bd_err rc;

	if (o->nkeys == 0 || o->nkeys > MANIFEST_MAX_SIGNATURES)
		return bd_fail(BD_ERR_USAGE, "between 1 and %d signing keys",
		    MANIFEST_MAX_SIGNATURES);
	if ((rc = manifest_payload_encode(m, &payload, &plen)) != BD_OK ||
	    (rc = manifest_trusted_comment(m, tc, sizeof(tc))) != BD_OK)
		goto out;
	for (i = 0; i < o->nkeys; i++) {
		keyid_hex(o->keys[i]->id, kid);
		snprintf(uc, sizeof(uc), "signature from bootdrop secret key %s",
		    kid);
		memcpy(ids[i], o->keys[i]->id, KEY_ID_BYTES);
		if ((rc = sig_sign(o->keys[i], payload, plen, tc, uc,
		    &sigs[i])) != BD_OK)
			goto out;
	}
	if ((rc = manifest_envelope_encode(payload, plen,
	    (const char *const *)sigs, (const uint8_t (*)[KEY_ID_BYTES])ids,
	    o->nkeys, &envelope)) != BD_OK ||
	    (rc = chain_check_envelope(h, m->channel, envelope,
	    strlen(envelope))) != BD_OK)
		goto out;

	layout_channel_dir(m->channel, dir);
	if ((rc = dir_open_path(repofd, dir, true, &chfd)) != BD_OK)
		goto out;
	layout_version_file(m->version, name);
	/* Exclusive: a concurrent publisher of the same version loses. */
	if ((rc = file_write_atomic(chfd, name, envelope, strlen(envelope),
	    0644, true)) != BD_OK) {
		if (rc == BD_ERR_EXISTS)
			rc = bd_fail(rc, "%s/%s already published "
			    "(concurrent release?)", dir, name);
		goto out;
	}
	rc = file_write_atomic(chfd, LAYOUT_MANIFEST_FILE, envelope,
	    strlen(envelope), 0644, false);
out:
	if (chfd >= 0)
		close(chfd);
	for (i = 0; i < MANIFEST_MAX_SIGNATURES; i++)
		free(sigs[i]);
	free(payload);
	free(envelope);
	return rc;
}

enum bd_err
repo_publish_next(int repofd, const struct release_opts *o,
    const struct chain_head *h, struct bd_manifest *m)
{
	enum bd_err rc;

	if ((rc = chain_next(h, o->trust, o->threshold, o->keys, o->nkeys,
	    m)) != BD_OK)
		return rc;
	return sign_and_write(repofd, o, h, m);
}

enum bd_err
repo_release(int repofd, const struct release_opts *o,
    const struct release_input *in, size_t nin, uint64_t *version)
{
	struct chain_head head = { 0 };
	struct bd_manifest *m;
	size_t i, j;
	enum bd_err rc;

	if (!channel_name_valid(o->channel))
		return bd_fail(BD_ERR_USAGE, "bad channel name '%s' (want "
		    "[a-z0-9][a-z0-9._-]{0,63})", o->channel);
	if (nin == 0 || nin > MANIFEST_MAX_ARTIFACTS)
		return bd_fail(BD_ERR_USAGE, "between 1 and %d artifacts",
		    MANIFEST_MAX_ARTIFACTS);
	if (o->expires <= o->now)
		return bd_fail(BD_ERR_USAGE, "expiry is not in the future");
	for (i = 0; i < nin; i++)
		for (j = i + 1; j < nin; j++)
			if (strcmp(in[i].name, in[j].name) == 0)
				return bd_fail(BD_ERR_USAGE, "artifact '%s' "
				    "named twice", in[i].name);

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->artifacts = calloc(nin, sizeof(*m->artifacts))) == NULL) {
		free(m);
		return BD_ERR_NOMEM;
	}
	m->nartifacts = nin;
	if ((m->channel = strdup(o->channel)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	m->created = o->now;
	m->expires = o->expires;
	for (i = 0; i < nin; i++)
		if ((rc = check_input(&in[i], &m->artifacts[i])) != BD_OK)
			goto out;
	for (i = 0; i < nin; i++)
		for (j = i + 1; j < nin; j++)
			if (strcmp(m->artifacts[i].install,
			    m->artifacts[j].install) == 0) {
				rc = bd_fail(BD_ERR_USAGE, "artifacts '%s' and "
				    "'%s' install to the same path %s",
				    m->artifacts[i].name, m->artifacts[j].name,
				    m->artifacts[i].install);
				goto out;
			}
	if ((rc = check_boot(m)) != BD_OK ||
	    (rc = chain_head_load(repofd, o->channel, &head)) != BD_OK ||
	    (rc = chain_next(&head, o->trust, o->threshold, o->keys, o->nkeys,
	    m)) != BD_OK)
		goto out;
	/* Blobs first: a manifest never names a blob that is not there. */
	for (i = 0; i < nin; i++)
		if ((rc = store_blob(repofd, in[i].path, &m->artifacts[i])) !=
		    BD_OK)
			goto out;
	m->has_boot = true;
	for (i = 0; i < nin; i++)
		if (m->artifacts[i].has_elf)
			m->boot_arch = strdup(elf_pvgrub_arch(
			    m->artifacts[i].elf.machine));
	m->boot_loader = strdup("pvgrub");
	if (!o->no_menu)
		m->menu_lst = strdup(o->menu_lst != NULL ? o->menu_lst :
		    repo_default_menu_lst);
	if (m->boot_arch == NULL || m->boot_loader == NULL ||
	    (!o->no_menu && m->menu_lst == NULL)) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	if ((rc = sign_and_write(repofd, o, &head, m)) != BD_OK)
		goto out;
	*version = m->version;
out:
	chain_head_clear(&head);
	manifest_free(m);
	return rc;
}

enum bd_err
repo_read_manifest(int repofd, const char *channel, const char *file,
    uint8_t **buf, size_t *len)
{
	char dir[LAYOUT_PATH_BYTES];
	int fd;
	enum bd_err rc;

	*buf = NULL;
	*len = 0;
	if (!channel_name_valid(channel))
		return bd_fail(BD_ERR_USAGE, "bad channel name '%s'", channel);
	if (!layout_manifest_file_valid(file))
		return bd_fail(BD_ERR_USAGE, "bad manifest name '%s'", file);
	layout_channel_dir(channel, dir);
	if ((rc = dir_open_path(repofd, dir, false, &fd)) != BD_OK)
		return rc;
	rc = file_read_capped(fd, file, MANIFEST_MAX_BYTES, buf, len);
	if (rc != BD_OK)
		rc = bd_fail(rc, "%s/%s", dir, bd_err_detail());
	close(fd);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
repo_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct name_list {
	char **v;
	size_t n;
};

static enum bd_err
add_channel(void *ctx, int dirfd, const char *name, unsigned char type)
{
	struct name_list *l = ctx;

	(void)dirfd;
	if (!channel_name_valid(name) || type != DT_DIR)
		return BD_OK;
	if (l->n == REPO_MAX_CHANNELS)
		return bd_fail(BD_ERR_TOOBIG, "more than %d channels",
		    REPO_MAX_CHANNELS);
	if ((l->v[l->n] = strdup(name)) == NULL)
		return BD_ERR_NOMEM;
	l->n++;
	return BD_OK;
}

enum bd_err
repo_list_channels(int repofd, char ***names, size_t *n)
{
	struct name_list l = { 0 };
	enum bd_err rc;

	*names = NULL;
	*n = 0;
	if ((l.v = calloc(REPO_MAX_CHANNELS, sizeof(*l.v))) == NULL)
		return BD_ERR_NOMEM;
	if ((rc = dir_each(repofd, LAYOUT_CHANNELS_DIR, add_channel,
	    &l)) != BD_OK) {
		repo_names_free(l.v, l.n);
		return rc;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_names);
	*names = l.v;
	*n = l.n;
	return BD_OK;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct version_list {
	uint64_t *v;
	size_t n, cap;
};

static enum bd_err
add_version(void *ctx, int dirfd, const char *name, unsigned char type)
{
	struct version_list *l = ctx;
	uint64_t ver, *nv;

	(void)dirfd;
	(void)type;
	if (!layout_version_file_parse(name, &ver))
		return BD_OK;
	if (l->n == REPO_MAX_VERSIONS)
		return bd_fail(BD_ERR_TOOBIG, "more than %d versions",
		    REPO_MAX_VERSIONS);
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 64 : l->cap * 2;
		if ((nv = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			return BD_ERR_NOMEM;
		l->v = nv;
	}
	l->v[l->n++] = ver;
	return BD_OK;
}

enum bd_err
repo_list_versions(int repofd, const char *channel, uint64_t **versions,
    size_t *n)
{
	char rel[LAYOUT_PATH_BYTES];
	struct version_list l = { 0 };
	struct stat st;
	enum bd_err rc;

	*versions = NULL;
	*n = 0;
	if (!channel_name_valid(channel))
		return bd_fail(BD_ERR_USAGE, "bad channel name '%s'", channel);
	layout_channel_dir(channel, rel);
	/* A channel that was never published has no versions. */
	if (fstatat(repofd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT)
		return BD_OK;
	if ((rc = dir_each(repofd, rel, add_version, &l)) != BD_OK) {
		free(l.v);
		return rc;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_u64);
	*versions = l.v;
	*n = l.n;
	return BD_OK;
}
