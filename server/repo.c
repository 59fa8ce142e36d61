/*
 * repo.c - writing and reading a repository of plain static files.
 *
 * Ordering is the whole point: blobs are complete and fsynced before the
 * versioned manifest names them, and manifest.json is replaced by rename
 * only after the versioned manifest is durable.
 */
#include <ctype.h>
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
    "\n"
    "title FreeBSD\n"
    "root (hd0,0)\n"
    "kernel /boot/kernel vfs.root.mountfrom=ufs:xbd0s2,machdep.idle_mwait=0,"
    "kern.hz=100\n"
    "\n"
    "title FreeBSD (verbose)\n"
    "root (hd0,0)\n"
    "kernel /boot/kernel vfs.root.mountfrom=ufs:xbd0s2,machdep.idle_mwait=0,"
    "kern.hz=100,bootverbose=1\n";

void
repo_blob_path(const char *hex, char *out, size_t cap)
{
	snprintf(out, cap, "blobs/sha256/%s", hex);
}

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
		if ((rc = dir_open_path(fd, "blobs/sha256", true, &sub)) != BD_OK)
			goto fail;
		close(sub);
		if ((rc = dir_open_path(fd, "channels", true, &sub)) != BD_OK)
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
	char tmp[PATH_BYTES], final[PATH_BYTES];
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
	if ((rc = dir_open_path(repofd, "blobs/sha256", true, &blobs)) != BD_OK)
		goto out;
	snprintf(tmp, sizeof(tmp), ".incoming.%08x", randombytes_random());
	out = openat(blobs, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (out < 0) {
		rc = bd_fail(BD_ERR_IO, "blobs/sha256/%s: %s", tmp,
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
		repo_blob_path(a->sha256_hex, final, sizeof(final));
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

/* Returns the newest published version of a channel, 0 if none. */
static enum bd_err
latest_version(int repofd, const char *channel, uint64_t *latest)
{
	uint64_t *v = NULL;
	size_t n = 0;
	enum bd_err rc;

	*latest = 0;
	rc = repo_list_versions(repofd, channel, &v, &n);
	if (rc == BD_OK && n > 0)
		*latest = v[n - 1];
	free(v);
	return rc;
}

/* Checks that the kernel suits the pvgrub the manifest declares. */
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
	if (!k->elf.xen)
		return bd_fail(BD_ERR_ELF, "kernel carries no Xen PV guest "
		    "information (no __xen_guest section or Xen note); pvgrub "
		    "cannot boot it");
	if (elf_pvgrub_arch(k->elf.machine) == NULL)
		return bd_fail(BD_ERR_ELF, "kernel machine %s: pvgrub boots "
		    "only i386 and amd64 kernels", k->elf.machine);
	return BD_OK;
}

static enum bd_err
sign_and_write(int repofd, const struct release_opts *o, struct bd_manifest *m)
{
	char tc[SIG_COMMENT_MAX_BYTES], uc[128], name[PATH_BYTES], kid[KEY_ID_HEX_BYTES];
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
	    o->nkeys, &envelope)) != BD_OK)
		goto out;

	snprintf(name, sizeof(name), "channels/%s", m->channel);
	if ((rc = dir_open_path(repofd, name, true, &chfd)) != BD_OK)
		goto out;
	snprintf(name, sizeof(name), "%llu.json",
	    (unsigned long long)m->version);
	/* Exclusive: a concurrent publisher of the same version loses. */
	if ((rc = file_write_atomic(chfd, name, envelope, strlen(envelope),
	    0644, true)) != BD_OK) {
		if (rc == BD_ERR_EXISTS)
			rc = bd_fail(rc, "channels/%s/%s already published "
			    "(concurrent release?)", m->channel, name);
		goto out;
	}
	rc = file_write_atomic(chfd, "manifest.json", envelope,
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
repo_release(int repofd, const struct release_opts *o,
    const struct release_input *in, size_t nin, uint64_t *version)
{
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
	if ((rc = check_boot(m)) != BD_OK)
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
	if ((rc = latest_version(repofd, o->channel, &m->version)) != BD_OK)
		goto out;
	if (m->version >= MANIFEST_MAX_VERSION) {
		rc = bd_fail(BD_ERR_RANGE, "channel %s has no versions left",
		    o->channel);
		goto out;
	}
	m->version++;
	if ((rc = sign_and_write(repofd, o, m)) != BD_OK)
		goto out;
	*version = m->version;
out:
	manifest_free(m);
	return rc;
}

enum bd_err
repo_read_manifest(int repofd, const char *channel, const char *file,
    uint8_t **buf, size_t *len)
{
	char dir[PATH_BYTES];
	const char *p;
	int fd;
	enum bd_err rc;

	*buf = NULL;
	*len = 0;
	if (!channel_name_valid(channel))
		return bd_fail(BD_ERR_USAGE, "bad channel name '%s'", channel);
	if (strcmp(file, "manifest.json") != 0) {
		for (p = file; isdigit((unsigned char)*p); p++)
			;
		if (p == file || *file == '0' || strcmp(p, ".json") != 0)
			return bd_fail(BD_ERR_USAGE, "bad manifest name '%s'",
			    file);
	}
	snprintf(dir, sizeof(dir), "channels/%s", channel);
	if ((rc = dir_open_path(repofd, dir, false, &fd)) != BD_OK)
		return rc;
	rc = file_read_capped(fd, file, MANIFEST_MAX_BYTES, buf, len);
	if (rc != BD_OK)
		rc = bd_fail(rc, "channels/%s/%s", channel, bd_err_detail());
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

/* Opens a directory below repofd for listing; NULL with *rc set on failure. */
static DIR *
open_listing(int repofd, const char *rel, enum bd_err *rc)
{
	DIR *d;
	int fd;

	if ((*rc = dir_open_path(repofd, rel, false, &fd)) != BD_OK)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		*rc = bd_fail(BD_ERR_IO, "%s: %s", rel, strerror(errno));
		close(fd);
	}
	return d;
}

enum bd_err
repo_list_channels(int repofd, char ***names, size_t *n)
{
	struct dirent *e;
	char **v = NULL;
	size_t count = 0;
	DIR *d;
	enum bd_err rc = BD_OK;

	*names = NULL;
	*n = 0;
	if ((d = open_listing(repofd, "channels", &rc)) == NULL)
		return rc;
	if ((v = calloc(REPO_MAX_CHANNELS, sizeof(*v))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		if (!channel_name_valid(e->d_name) || e->d_type != DT_DIR)
			continue;
		if (count == REPO_MAX_CHANNELS) {
			rc = bd_fail(BD_ERR_TOOBIG, "more than %d channels",
			    REPO_MAX_CHANNELS);
			goto out;
		}
		if ((v[count] = strdup(e->d_name)) == NULL) {
			rc = BD_ERR_NOMEM;
			goto out;
		}
		count++;
	}
	qsort(v, count, sizeof(*v), cmp_names);
	*names = v;
	*n = count;
	v = NULL;
out:
	if (v != NULL)
		repo_names_free(v, count);
	closedir(d);
	return rc;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Parses "<n>.json" with n in 1..MANIFEST_MAX_VERSION, no leading zero. */
static bool
parse_version_name(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	const char *p;

	if (*s < '1' || *s > '9')
		return false;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > MANIFEST_MAX_VERSION)
			return false;
	}
	if (strcmp(p, ".json") != 0)
		return false;
	*v = n;
	return true;
}

enum bd_err
repo_list_versions(int repofd, const char *channel, uint64_t **versions,
    size_t *n)
{
	char rel[PATH_BYTES];
	struct stat st;
	struct dirent *e;
	uint64_t *v = NULL, ver;
	size_t count = 0, cap = 0;
	DIR *d;
	enum bd_err rc = BD_OK;

	*versions = NULL;
	*n = 0;
	if (!channel_name_valid(channel))
		return bd_fail(BD_ERR_USAGE, "bad channel name '%s'", channel);
	snprintf(rel, sizeof(rel), "channels/%s", channel);
	/* A channel that was never published has no versions. */
	if (fstatat(repofd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT)
		return BD_OK;
	if ((d = open_listing(repofd, rel, &rc)) == NULL)
		return rc;
	while ((e = readdir(d)) != NULL) {
		if (!parse_version_name(e->d_name, &ver))
			continue;
		if (count == REPO_MAX_VERSIONS) {
			rc = bd_fail(BD_ERR_TOOBIG, "more than %d versions",
			    REPO_MAX_VERSIONS);
			goto out;
		}
		if (count == cap) {
			uint64_t *nv;

			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = BD_ERR_NOMEM;
				goto out;
			}
			v = nv;
		}
		v[count++] = ver;
	}
	qsort(v, count, sizeof(*v), cmp_u64);
	*versions = v;
	*n = count;
	v = NULL;
out:
	free(v);
	closedir(d);
	return rc;
}
