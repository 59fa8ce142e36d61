/*
 * repo.c - writing and reading a repository of plain static files.
 *
 * Ordering is the whole point: blobs are complete and fsynced before the
 * versioned manifest names them, and manifest.json is replaced by rename
 * only after the versioned manifest is durable.
 */
#include <dirent.h>
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "boot.h"
#include "chunkpub.h"
#include "fsutil.h"
#include "image.h"
#include "layout.h"
#include "manifest.h"
#include "repo.h"
#include "sha256.h"
#include "sig.h"
#include "timefmt.h"
#include "units.h"

#define COPY_BUF_BYTES	(256u << 10)
#define STAGE_PREFIX	".incoming."
#define STAGE_NAME_BYTES	24

enum bd_err
repo_open(const char *path, bool create, int *out)
{
	bool made;
	int fd;

	*out = -1;
	made = create && mkdir(path, 0755) == 0;
	if (create && !made && errno != EEXIST)
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bd_fail(create ? BD_ERR_IO : BD_ERR_INPUT, "%s: %s", path,
		    strerror(errno));
	/* mkdir honours the umask; a repository is public by nature. */
	if (made && fchmod(fd, 0755) != 0) {
		close(fd);
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
	}
	*out = fd;
	return BD_OK;
}

/*
 * Copies the regular file at path into a temporary blobs/sha256/<tmp>
 * (mode 0644 whatever the umask), hashing as it streams; fills size and
 * digest.  commit_blob() gives it its name, or the caller unlinks it.
 */
static enum bd_err
stage_blob(int blobs, const char *path, struct bd_artifact *a,
    char tmp[STAGE_NAME_BYTES])
{
	struct sha256_ctx *h = NULL;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t total = 0;
	ssize_t n;
	int in, out = -1;
	enum bd_err rc = BD_OK;

	tmp[0] = '\0';
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return bd_fail(BD_ERR_INPUT, "%s: %s", path, strerror(errno));
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = bd_fail(BD_ERR_INPUT, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > ARTIFACT_MAX_SIZE) {
		rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %llu bytes", path,
		    (unsigned long long)ARTIFACT_MAX_SIZE);
		goto out;
	}
	snprintf(tmp, STAGE_NAME_BYTES, STAGE_PREFIX "%08x",
	    randombytes_random());
	out = openat(blobs, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (out < 0) {
		rc = bd_fail(BD_ERR_IO, LAYOUT_BLOBS_DIR "/%s: %s", tmp,
		    strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(out, 0644) != 0) {
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
			rc = bd_fail(BD_ERR_INPUT, "%s: %s", path, strerror(errno));
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
	rc = fd_sync(out);
out:
	if (out >= 0)
		close(out);
	if (rc != BD_OK && tmp[0] != '\0') {
		unlinkat(blobs, tmp, 0);
		tmp[0] = '\0';
	}
	sha256_free(h);
	free(buf);
	close(in);
	return rc;
}

/*
 * Renames a staged blob to its content address.  An existing blob of that
 * name is replaced by an identical one, so re-publishing repairs it.
 */
static enum bd_err
commit_blob(int blobs, char tmp[STAGE_NAME_BYTES], const char *hex)
{
	char final[LAYOUT_PATH_BYTES];

	if (renameat(blobs, tmp, blobs, hex) != 0) {
		layout_blob_path(hex, final);
		return bd_fail(BD_ERR_IO, "%s: %s", final, strerror(errno));
	}
	tmp[0] = '\0';
	return BD_OK;
}

/*
 * Takes the repository's writer lock on a descriptor of its own (a server
 * keeping repofd open never holds it); release with repo_unlock().
 */
static enum bd_err
repo_lock(int repofd, int *lockfd)
{
	*lockfd = openat(repofd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lockfd < 0)
		return bd_fail(BD_ERR_IO, "lock: %s", strerror(errno));
	while (flock(*lockfd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(*lockfd);
			*lockfd = -1;
			return bd_fail(BD_ERR_IO, "lock: %s", strerror(errno));
		}
	}
	return BD_OK;
}

static void
repo_unlock(int lockfd)
{
	if (lockfd >= 0)
		close(lockfd);
}

/* True when dir/name exists (without following a symlink). */
static bool
exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
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
	in->install = NULL;
	return BD_OK;
}

enum bd_err
repo_parse_install(char *arg, struct release_input *in, size_t n)
{
	char *eq = strchr(arg, '=');
	size_t i;

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return bd_fail(BD_ERR_USAGE, "--install wants NAME=PATH, got "
		    "'%s'", arg);
	*eq = '\0';
	for (i = 0; i < n; i++)
		if (strcmp(in[i].name, arg) == 0)
			break;
	if (i == n)
		return bd_fail(BD_ERR_USAGE, "--install %s: no artifact named "
		    "%s", arg, arg);
	if (in[i].install != NULL)
		return bd_fail(BD_ERR_USAGE, "--install %s given twice", arg);
	if (!install_path_valid(eq + 1))
		return bd_fail(BD_ERR_PATH, "--install %s=%s: not a relative "
		    "path of [A-Za-z0-9._-] components, at most %d deep", arg,
		    eq + 1, INSTALL_PATH_MAX_DEPTH);
	in[i].install = eq + 1;
	return BD_OK;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s == NULL ? path : s + 1;
}

/* The kind an artifact name gives: kernel, initrd, world, else file. */
static const char *
kind_of(const char *name)
{
	static const char *const named[] = { "kernel", "initrd", "world" };
	size_t i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strcmp(name, named[i]) == 0)
			return named[i];
	return "file";
}

/* An install path a kind installs to by default (file: base of path). */
static const char *
repo_default_install(const char *name, const char *path)
{
	const char *kind = kind_of(name);

	if (strcmp(kind, "kernel") == 0)
		return "boot/kernel";
	if (strcmp(kind, "initrd") == 0)
		return "boot/initrd.img";
	return base_name(path);
}

/*
 * Checks one release input and fills the artifact's name, kind and install
 * path; a kernel's image facts are read here, before anything is stored,
 * so a refused release leaves the repository untouched.
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
	install = in->install != NULL ? in->install :
	    repo_default_install(in->name, in->path);
	a->kind = strdup(kind_of(in->name));
	a->name = strdup(in->name);
	a->install = strdup(install);
	if (a->kind == NULL || a->name == NULL || a->install == NULL)
		return BD_ERR_NOMEM;
	if (!install_path_valid(a->install))
		return bd_fail(BD_ERR_PATH, "%s: file name '%s' is not a safe "
		    "install path (--install %s=PATH chooses one)", in->path,
		    a->install, in->name);
	if ((fd = open(in->path, O_RDONLY | O_CLOEXEC)) < 0)
		return bd_fail(BD_ERR_INPUT, "%s: %s", in->path, strerror(errno));
	if (strcmp(a->kind, "kernel") == 0) {
		if ((rc = image_inspect_fd(fd, &a->image)) != BD_OK)
			rc = bd_fail(rc, "%s is %s", in->path, bd_err_detail());
		a->has_image = rc == BD_OK;
	}
	close(fd);
	return rc;
}

/* Replaces *field with a copy of v (NULL leaves it). */
static enum bd_err
set_field(char **field, const char *v)
{
	char *c;

	if (v == NULL)
		return BD_OK;
	if ((c = strdup(v)) == NULL)
		return BD_ERR_NOMEM;
	free(*field);
	*field = c;
	return BD_OK;
}

/* Formats a line for fn (o->warn or o->note), if the caller gave one. */
static void
vsay(repo_note_fn fn, void *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
vsay(repo_note_fn fn, void *ctx, const char *fmt, va_list ap)
{
	char msg[512];

	if (fn == NULL)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fn(ctx, msg);
}

static void
warnf(const struct release_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warnf(const struct release_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(o->warn, o->warn_ctx, fmt, ap);
	va_end(ap);
}

static void
notef(const struct release_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notef(const struct release_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(o->note, o->warn_ctx, fmt, ap);
	va_end(ap);
}

enum bd_err
repo_boot_fill(struct bd_manifest *m, const struct release_opts *o,
    const char *kos)
{
	const struct boot_opts *b = &o->boot;
	const struct bd_artifact *k = NULL, *initrd = NULL;
	const char *looks, *kname;
	char title[BOOT_TITLE_MAX_BYTES + 1];
	size_t i;
	bool freebsd;
	enum bd_err rc;

	for (i = 0; i < m->nartifacts; i++) {
		if (strcmp(m->artifacts[i].kind, "kernel") == 0)
			k = &m->artifacts[i];
		if (strcmp(m->artifacts[i].kind, "initrd") == 0)
			initrd = &m->artifacts[i];
	}
	if (k == NULL || !k->has_image)
		return bd_fail(BD_ERR_USAGE, "a release needs kernel=FILE");
	freebsd = kos != NULL && strcmp(kos, "FreeBSD") == 0;
	kname = kos != NULL && kos[0] != '\0' ? kos : "this";
	if (b->cmdline != NULL && !boot_text_valid(b->cmdline,
	    BOOT_CMDLINE_MAX_BYTES))
		return bd_fail(BD_ERR_USAGE, "--cmdline: at most %u printable "
		    "ASCII bytes", BOOT_CMDLINE_MAX_BYTES);
	if (b->title != NULL && (!boot_text_valid(b->title,
	    BOOT_TITLE_MAX_BYTES) || b->title[0] == '\0'))
		return bd_fail(BD_ERR_USAGE, "--title: 1 to %u printable ASCII "
		    "bytes", BOOT_TITLE_MAX_BYTES);
	if (b->root != NULL && !boot_root_valid(b->root))
		return bd_fail(BD_ERR_USAGE, "--root: want (hdN) or (hdN,M), "
		    "e.g. (hd0,0)");
	m->format = MANIFEST_FORMAT;
	if (!m->has_boot) {
		m->has_boot = true;
		/* FreeBSD's (and an unknown OS's Xen PV) kernel: pvgrub,
		 * which refuses it below when it has no Xen PV support. */
		m->loaders = freebsd || (strcmp(kname, "Linux") != 0 &&
		    k->image.xen_pv) ? BOOT_PVGRUB : BOOT_GRUB;
		snprintf(title, sizeof(title), "%s%s%s", freebsd ? "FreeBSD" :
		    kos != NULL && kos[0] != '\0' ? kos : m->channel,
		    k->image.version[0] != '\0' ? " " : "", k->image.version);
		if ((rc = set_field(&m->boot_title, title)) != BD_OK ||
		    (rc = set_field(&m->boot_root, BOOT_DEFAULT_ROOT)) != BD_OK ||
		    (freebsd && (rc = set_field(&m->boot_cmdline,
		    REPO_FREEBSD_CMDLINE)) != BD_OK))
			return rc;
	}
	if (b->loaders_set)
		m->loaders = b->loaders;
	if ((rc = set_field(&m->boot_kernel, k->name)) != BD_OK ||
	    (rc = set_field(&m->boot_cmdline, b->cmdline)) != BD_OK ||
	    (rc = set_field(&m->boot_title, b->title)) != BD_OK ||
	    (rc = set_field(&m->boot_root, b->root)) != BD_OK)
		return rc;
	free(m->boot_initrd);
	m->boot_initrd = NULL;
	if (initrd != NULL && (rc = set_field(&m->boot_initrd,
	    initrd->name)) != BD_OK)
		return rc;
	if (m->loaders != 0 && m->boot_cmdline == NULL)
		return bd_fail(BD_ERR_USAGE, "%s kernel needs a command line: "
		    "e.g. --cmdline 'root=/dev/vda1 ro console=ttyS0' (KVM), "
		    "'root=/dev/xvda1 ro console=hvc0' (Xen); --no-menu writes "
		    "no boot configuration", kname);
	if ((rc = boot_check_kernel(m->loaders, &k->image, NULL)) != BD_OK)
		return rc;
	looks = m->boot_cmdline != NULL ? boot_cmdline_os(m->boot_cmdline) :
	    NULL;
	if (looks != NULL && kos != NULL && kos[0] != '\0' &&
	    strcasecmp(looks, kos) != 0)
		warnf(o, "the kernel is %s's, but the command line looks like "
		    "%s's: '%s'", kos, looks, m->boot_cmdline);
	return BD_OK;
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

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* True when m would publish exactly what old already says. */
static bool
same_release(const struct bd_manifest *m, const struct bd_manifest *old)
{
	const struct bd_artifact *a, *b;
	size_t i, j;

	if (m->format != old->format || m->nartifacts != old->nartifacts ||
	    m->loaders != old->loaders ||
	    !same_str(m->boot_title, old->boot_title) ||
	    !same_str(m->boot_kernel, old->boot_kernel) ||
	    !same_str(m->boot_initrd, old->boot_initrd) ||
	    !same_str(m->boot_cmdline, old->boot_cmdline) ||
	    !same_str(m->boot_root, old->boot_root))
		return false;
	for (i = 0; i < m->nartifacts; i++) {
		a = &m->artifacts[i];
		for (j = 0; j < old->nartifacts; j++)
			if (strcmp(a->name, old->artifacts[j].name) == 0)
				break;
		if (j == old->nartifacts)
			return false;
		b = &old->artifacts[j];
		if (a->size != b->size || strcmp(a->kind, b->kind) != 0 ||
		    strcmp(a->install, b->install) != 0 ||
		    memcmp(a->sha256, b->sha256, SHA256_BYTES) != 0)
			return false;
	}
	return true;
}

/* True when the signers of o are exactly the key ids old names. */
static bool
same_signers(const struct release_opts *o, const struct bd_manifest *old)
{
	size_t i, j;

	if (o->nkeys != old->nkeyids)
		return false;
	for (i = 0; i < o->nkeys; i++) {
		for (j = 0; j < old->nkeyids; j++)
			if (memcmp(o->keys[i]->id, old->keyids[j],
			    KEY_ID_BYTES) == 0)
				break;
		if (j == old->nkeyids)
			return false;
	}
	return true;
}

/*
 * BD_ERR_USAGE when the newest version (h, verified) already says m, signed
 * by the same keys, and the release changes no trust.
 */
static enum bd_err
check_changed(const struct release_opts *o, const struct chain_head *h,
    const struct bd_manifest *m)
{
	if (h->m == NULL || o->trust != NULL || !same_release(m, h->m) ||
	    !same_signers(o, h->m))
		return BD_OK;
	return bd_fail(BD_ERR_USAGE, "nothing changed since %s version %llu "
	    "(--force publishes the same files again)", m->channel,
	    (unsigned long long)h->version);
}

/* Blobs a release wrote that were not there before (removed on failure). */
struct made_blobs {
	char hex[2 * MANIFEST_MAX_ARTIFACTS][SHA256_HEX_BYTES];
	size_t n;
};

/* The previous version's chunk index of the artifact named name, or NULL. */
static struct chunk_index *
prev_index(int blobs, const struct bd_manifest *prev, const char *name,
    const struct release_opts *o)
{
	const struct bd_artifact *p;
	struct chunk_index *idx = NULL;
	size_t i;

	if (prev == NULL)
		return NULL;
	for (i = 0; i < prev->nartifacts; i++)
		if (strcmp(prev->artifacts[i].name, name) == 0)
			break;
	if (i == prev->nartifacts || !prev->artifacts[i].has_chunks)
		return NULL;
	p = &prev->artifacts[i];
	if (chunkpub_index_load(blobs, p->chunks_sha256, p->chunks_size,
	    &idx) != BD_OK) {
		warnf(o, "%s: version %llu's chunk index cannot be used, so "
		    "what the versions share is not counted: %s", name,
		    (unsigned long long)prev->version, bd_err_detail());
		bd_err_clear();
		idx = NULL;
	}
	return idx;
}

/*
 * The previous version's blob of the artifact named name, opened for
 * reading (its chunk parameters are kept while they fit), or -1.
 */
static int
prev_blob(int blobs, const struct bd_manifest *prev, const char *name)
{
	size_t i;

	for (i = 0; prev != NULL && i < prev->nartifacts; i++)
		if (strcmp(prev->artifacts[i].name, name) == 0)
			return openat(blobs, prev->artifacts[i].sha256_hex,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return -1;
}

/*
 * Writes the chunk pack and index of the staged blob tmp (artifact a),
 * names the index in a's "chunks" and notes what a guest holding prev
 * moves.  An artifact too large for an index is left unchunked.
 */
static enum bd_err
chunk_artifact(int blobs, const char *tmp, struct bd_artifact *a,
    const struct bd_manifest *prev, const struct release_opts *o,
    struct made_blobs *made)
{
	struct chunkpub_result res;
	struct chunk_index *pidx = NULL;
	char pack[SIZE_TEXT_BYTES], idx[SIZE_TEXT_BYTES];
	char shared[SIZE_TEXT_BYTES], moved[SIZE_TEXT_BYTES];
	int fd, pfd;
	enum bd_err rc;

	fd = openat(blobs, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bd_fail(BD_ERR_IO, LAYOUT_BLOBS_DIR "/%s: %s", tmp,
		    strerror(errno));
	pidx = prev_index(blobs, prev, a->name, o);
	pfd = pidx != NULL ? prev_blob(blobs, prev, a->name) : -1;
	rc = chunkpub_artifact(blobs, fd, pidx, pfd, o->chunk_level, &res);
	close(fd);
	if (pfd >= 0)
		close(pfd);
	if (rc == BD_ERR_TOOBIG) {
		warnf(o, "%s: not chunked (guests download it whole): %s",
		    a->name, bd_err_detail());
		bd_err_clear();
		rc = BD_OK;
		goto out;
	}
	if (rc != BD_OK)
		goto out;
	if (!res.pack_existed)
		sha256_hex(res.pack_sha256, made->hex[made->n++]);
	if (!res.index_existed)
		sha256_hex(res.index_sha256, made->hex[made->n++]);
	if (res.artifact_size != a->size ||
	    sodium_memcmp(res.artifact_sha256, a->sha256, SHA256_BYTES) != 0) {
		rc = bd_fail(BD_ERR_HASH, "%s changed while it was chunked",
		    a->name);
		goto out;
	}
	a->has_chunks = true;
	memcpy(a->chunks_sha256, res.index_sha256, SHA256_BYTES);
	sha256_hex(res.index_sha256, a->chunks_hex);
	a->chunks_size = res.index_size;
	size_format(res.pack_size, false, pack);
	size_format(res.index_size, false, idx);
	size_format(res.shared_bytes, false, shared);
	size_format(res.fetch_bytes, false, moved);
	if (pidx == NULL)
		notef(o, "%s: %u chunks, pack %s, index %s; nothing shared with "
		    "the previous version", a->name, res.chunks, pack, idx);
	else
		notef(o, "%s: %u chunks, pack %s, index %s; shares %u chunks "
		    "(%s) with version %llu: a guest holding it fetches %s in "
		    "%u range%s, index included", a->name, res.chunks, pack,
		    idx, res.shared_chunks, shared,
		    (unsigned long long)prev->version, moved, res.fetch_ranges,
		    res.fetch_ranges == 1 ? "" : "s");
out:
	chunk_index_free(pidx);
	return rc;
}

/*
 * Writes m's blobs: each input staged and hashed, refused when nothing
 * changed (unless forced), chunked, then committed under its hash.
 */
static enum bd_err
release_blobs(int blobs, const struct release_opts *o,
    const struct release_input *in, const struct chain_head *head,
    struct bd_manifest *m, char (*staged)[STAGE_NAME_BYTES],
    struct made_blobs *made)
{
	enum bd_err rc;
	size_t i, nin = m->nartifacts;

	for (i = 0; i < nin; i++)
		if ((rc = stage_blob(blobs, in[i].path, &m->artifacts[i],
		    staged[i])) != BD_OK)
			return rc;
	if (!o->force && (rc = check_changed(o, head, m)) != BD_OK)
		return rc;
	for (i = 0; i < nin && o->chunk_level >= 0; i++)
		if (m->artifacts[i].size >= CHUNK_ARTIFACT_MIN_BYTES &&
		    (rc = chunk_artifact(blobs, staged[i], &m->artifacts[i],
		    head->m, o, made)) != BD_OK)
			return rc;
	for (i = 0; i < nin; i++)
		if ((rc = commit_blob(blobs, staged[i],
		    m->artifacts[i].sha256_hex)) != BD_OK)
			return rc;
	return fd_sync(blobs);
}

/* release's arguments, before anything is read. */
static enum bd_err
release_check_args(const struct release_opts *o,
    const struct release_input *in, size_t nin)
{
	size_t i, j;

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
	return BD_OK;
}

/*
 * m's artifacts from the input files (each read and judged), no two
 * installed to one path, and its boot section from the kernel's facts.
 */
static enum bd_err
release_fill(struct bd_manifest *m, const struct release_opts *o,
    const struct release_input *in, size_t nin)
{
	enum bd_err rc;
	size_t i, j;

	for (i = 0; i < nin; i++)
		if ((rc = check_input(&in[i], &m->artifacts[i])) != BD_OK)
			return rc;
	for (i = 0; i < nin; i++)
		for (j = i + 1; j < nin; j++)
			if (strcmp(m->artifacts[i].install,
			    m->artifacts[j].install) == 0)
				return bd_fail(BD_ERR_USAGE, "artifacts '%s' "
				    "and '%s' install to the same path %s",
				    m->artifacts[i].name, m->artifacts[j].name,
				    m->artifacts[i].install);
	for (i = 0; i < nin && strcmp(m->artifacts[i].kind, "kernel") != 0;
	    i++)
		;
	return repo_boot_fill(m, o, i < nin ? m->artifacts[i].image.os :
	    NULL);
}

enum bd_err
repo_release(int repofd, const struct release_opts *o,
    const struct release_input *in, size_t nin, uint64_t *version)
{
	char staged[MANIFEST_MAX_ARTIFACTS][STAGE_NAME_BYTES];
	char chdir_rel[LAYOUT_PATH_BYTES];
	struct chain_head head = { 0 };
	struct made_blobs made = { .n = 0 };
	struct bd_manifest *m;
	bool had_blobs, had_channel;
	size_t i;
	int blobs = -1, lockfd = -1;
	enum bd_err rc;

	if ((rc = release_check_args(o, in, nin)) != BD_OK)
		return rc;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->artifacts = calloc(nin, sizeof(*m->artifacts))) == NULL) {
		free(m);
		return BD_ERR_NOMEM;
	}
	for (i = 0; i < nin; i++)
		staged[i][0] = '\0';
	layout_channel_dir(o->channel, chdir_rel);
	had_blobs = exists_at(repofd, LAYOUT_BLOBS_DIR);
	had_channel = exists_at(repofd, chdir_rel);
	m->nartifacts = nin;
	if ((m->channel = strdup(o->channel)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	m->created = o->now;
	m->expires = o->expires;
	/* Everything that can refuse the release happens before a write. */
	if ((rc = release_fill(m, o, in, nin)) != BD_OK)
		goto out;
	/* The new version builds on the verified newest one (chain.h). */
	if ((rc = repo_lock(repofd, &lockfd)) != BD_OK ||
	    (rc = chain_head_load(repofd, o->channel, &head)) != BD_OK ||
	    (rc = chain_next(&head, o->trust, o->threshold, o->keys, o->nkeys,
	    m)) != BD_OK)
		goto out;
	/* Blobs first: a manifest never names a blob that is not there. */
	if ((rc = dir_open_path(repofd, LAYOUT_BLOBS_DIR, true, &blobs)) != BD_OK)
		goto out;
	if ((rc = release_blobs(blobs, o, in, &head, m, staged, &made)) !=
	    BD_OK || (rc = sign_and_write(repofd, o, &head, m)) != BD_OK)
		goto out;
	*version = m->version;
out:
	if (blobs >= 0) {
		for (i = 0; i < nin; i++)
			if (staged[i][0] != '\0')
				unlinkat(blobs, staged[i], 0);
		for (i = 0; rc != BD_OK && i < made.n; i++)
			unlinkat(blobs, made.hex[i], 0);
		close(blobs);
	}
	/* A refused release leaves the repository as it found it. */
	if (rc != BD_OK && !had_blobs) {
		unlinkat(repofd, LAYOUT_BLOBS_DIR, AT_REMOVEDIR);
		unlinkat(repofd, LAYOUT_BLOBS_TOP, AT_REMOVEDIR);
	}
	if (rc != BD_OK && !had_channel) {
		unlinkat(repofd, chdir_rel, AT_REMOVEDIR);
		unlinkat(repofd, LAYOUT_CHANNELS_DIR, AT_REMOVEDIR);
	}
	repo_unlock(lockfd);
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
	if (l.n > 0)	/* qsort wants a non-NULL array even for none */
		qsort(l.v, l.n, sizeof(*l.v), cmp_u64);
	*versions = l.v;
	*n = l.n;
	return BD_OK;
}

/* The blobs named by the newest keep manifests of every channel, sorted. */
struct keep_set {
	char (*hex)[SHA256_HEX_BYTES];
	size_t n, cap;
};

static enum bd_err
keep_add(struct keep_set *k, const char *hex)
{
	char (*nh)[SHA256_HEX_BYTES];

	if (k->n == k->cap) {
		k->cap = k->cap == 0 ? 256 : k->cap * 2;
		if ((nh = realloc(k->hex, k->cap * sizeof(*nh))) == NULL)
			return BD_ERR_NOMEM;
		k->hex = nh;
	}
	memcpy(k->hex[k->n++], hex, SHA256_HEX_BYTES);
	return BD_OK;
}

/*
 * Keeps artifact a's chunk index and the pack it names.  An index that is
 * not there names nothing (guests download the artifact whole); one that
 * is there but cannot be read refuses the prune, since its pack is not
 * known.
 */
static enum bd_err
keep_chunks(int blobs, const struct bd_artifact *a, struct keep_set *k)
{
	struct chunk_index *idx = NULL;
	char hex[SHA256_HEX_BYTES];
	enum bd_err rc;

	if ((rc = keep_add(k, a->chunks_hex)) != BD_OK ||
	    blobs < 0 || !exists_at(blobs, a->chunks_hex))
		return rc;
	if ((rc = chunkpub_index_load(blobs, a->chunks_sha256, a->chunks_size,
	    &idx)) != BD_OK)
		return rc;
	sha256_hex(idx->pack_sha256, hex);
	chunk_index_free(idx);
	return keep_add(k, hex);
}

static enum bd_err
keep_manifest(int repofd, int blobs, const char *channel, const char *file,
    struct keep_set *k)
{
	struct bd_manifest *m = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	enum bd_err rc;

	if ((rc = repo_read_manifest(repofd, channel, file, &buf, &len)) != BD_OK ||
	    (rc = manifest_load_unverified(buf, len, &m)) != BD_OK)
		goto out;
	for (i = 0; i < m->nartifacts && rc == BD_OK; i++) {
		rc = keep_add(k, m->artifacts[i].sha256_hex);
		if (rc == BD_OK && m->artifacts[i].has_chunks)
			rc = keep_chunks(blobs, &m->artifacts[i], k);
	}
out:
	if (rc != BD_OK)
		rc = bd_fail(rc, "channels/%s/%s: %s (nothing pruned)", channel,
		    file, bd_err_detail());
	manifest_free(m);
	free(buf);
	return rc;
}

static int
cmp_hex(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct prune_walk {
	const struct keep_set *keep;
	struct repo_prune_stats *st;
};

static enum bd_err
prune_entry(void *ctx, int dirfd, const char *name, unsigned char type)
{
	struct prune_walk *w = ctx;
	struct stat st;

	(void)type;
	if (strncmp(name, STAGE_PREFIX, sizeof(STAGE_PREFIX) - 1) != 0) {
		if (!layout_hex_valid(name))
			return BD_OK;	/* not ours: never touched */
		if (w->keep->n > 0 && bsearch(name, w->keep->hex, w->keep->n,
		    sizeof(*w->keep->hex), cmp_hex) != NULL) {
			w->st->kept++;
			return BD_OK;
		}
	}
	/* Unreferenced, or left by a release that crashed (we hold the lock). */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode))
		return BD_OK;
	if (unlinkat(dirfd, name, 0) != 0)
		return bd_fail(BD_ERR_IO, LAYOUT_BLOBS_DIR "/%s: %s", name,
		    strerror(errno));
	w->st->removed++;
	w->st->bytes += (uint64_t)st.st_size;
	return BD_OK;
}

enum bd_err
repo_prune(int repofd, size_t keep, struct repo_prune_stats *st)
{
	struct keep_set k = { 0 };
	struct prune_walk w = { &k, st };
	char **names = NULL, file[LAYOUT_FILE_BYTES];
	uint64_t *v = NULL;
	size_t nnames = 0, nv = 0, i, j;
	int blobs = -1, lockfd = -1;
	enum bd_err rc;

	memset(st, 0, sizeof(*st));
	if (keep == 0)
		return bd_fail(BD_ERR_USAGE, "--keep must be at least 1");
	if ((rc = repo_lock(repofd, &lockfd)) != BD_OK)
		return rc;
	if (exists_at(repofd, LAYOUT_BLOBS_DIR) &&
	    (rc = dir_open_path(repofd, LAYOUT_BLOBS_DIR, false, &blobs)) !=
	    BD_OK)
		goto out;
	if (exists_at(repofd, LAYOUT_CHANNELS_DIR) &&
	    (rc = repo_list_channels(repofd, &names, &nnames)) != BD_OK)
		goto out;
	for (i = 0; i < nnames; i++) {
		if ((rc = repo_list_versions(repofd, names[i], &v, &nv)) != BD_OK)
			goto out;
		for (j = nv > keep ? nv - keep : 0; j < nv; j++) {
			layout_version_file(v[j], file);
			if ((rc = keep_manifest(repofd, blobs, names[i], file,
			    &k)) != BD_OK)
				goto out;
		}
		free(v);
		v = NULL;
		/* What is served as newest is kept even if it is no version. */
		if ((rc = keep_manifest(repofd, blobs, names[i],
		    LAYOUT_MANIFEST_FILE, &k)) != BD_OK)
			goto out;
	}
	if (k.n > 0)	/* qsort wants a non-NULL array even for none */
		qsort(k.hex, k.n, sizeof(*k.hex), cmp_hex);
	if (blobs < 0)
		goto out;
	if ((rc = dir_each(repofd, LAYOUT_BLOBS_DIR, prune_entry, &w)) != BD_OK)
		goto out;
	rc = fd_sync(blobs);
out:
	if (blobs >= 0)
		close(blobs);
	free(v);
	free(k.hex);
	repo_names_free(names, nnames);
	repo_unlock(lockfd);
	return rc;
}

/* Mode bits others need: r-x for a directory, r-- for a file. */
static enum bd_err
check_public(int repofd, const char *rel, bool dir, repo_warn_fn warn,
    void *ctx, size_t *nbad)
{
	mode_t need = dir ? (S_IROTH | S_IXOTH) : S_IROTH;
	struct stat st;

	if (fstatat(repofd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return BD_OK;	/* missing files are verify's own finding */
	if ((st.st_mode & need) == need)
		return BD_OK;
	(*nbad)++;
	warn(ctx, rel, (unsigned)(st.st_mode & 07777), dir);
	return BD_OK;
}

/* check_public() for artifact a's chunk index and the pack it names. */
static void
check_public_chunks(int repofd, const struct bd_artifact *a,
    repo_warn_fn warn, void *ctx, size_t *nbad)
{
	char rel[LAYOUT_PATH_BYTES], hex[SHA256_HEX_BYTES];
	struct chunk_index *idx = NULL;
	int blobs = -1;

	layout_blob_path(a->chunks_hex, rel);
	check_public(repofd, rel, false, warn, ctx, nbad);
	/* An index that cannot be read is verify's own finding. */
	if (dir_open_path(repofd, LAYOUT_BLOBS_DIR, false, &blobs) == BD_OK &&
	    chunkpub_index_load(blobs, a->chunks_sha256, a->chunks_size,
	    &idx) == BD_OK) {
		sha256_hex(idx->pack_sha256, hex);
		layout_blob_path(hex, rel);
		/* raw chunks only: the pack is the artifact's own blob */
		if (strcmp(hex, a->sha256_hex) != 0)
			check_public(repofd, rel, false, warn, ctx, nbad);
	}
	bd_err_clear();
	chunk_index_free(idx);
	if (blobs >= 0)
		close(blobs);
}

enum bd_err
repo_check_public(int repofd, const char *channel,
    const struct bd_manifest *m, repo_warn_fn warn, void *ctx, size_t *nbad)
{
	char rel[LAYOUT_PATH_BYTES];
	size_t i;

	*nbad = 0;
	check_public(repofd, ".", true, warn, ctx, nbad);
	check_public(repofd, LAYOUT_BLOBS_TOP, true, warn, ctx, nbad);
	check_public(repofd, LAYOUT_BLOBS_DIR, true, warn, ctx, nbad);
	check_public(repofd, LAYOUT_CHANNELS_DIR, true, warn, ctx, nbad);
	layout_channel_dir(channel, rel);
	check_public(repofd, rel, true, warn, ctx, nbad);
	layout_manifest_path(channel, rel);
	check_public(repofd, rel, false, warn, ctx, nbad);
	layout_version_path(channel, m->version, rel);
	check_public(repofd, rel, false, warn, ctx, nbad);
	for (i = 0; i < m->nartifacts; i++) {
		layout_blob_path(m->artifacts[i].sha256_hex, rel);
		check_public(repofd, rel, false, warn, ctx, nbad);
		if (m->artifacts[i].has_chunks)
			check_public_chunks(repofd, &m->artifacts[i], warn, ctx,
			    nbad);
	}
	return BD_OK;
}

enum bd_err
repo_blobs_present(int repofd, const struct release_opts *o,
    struct bd_manifest *m)
{
	char path[LAYOUT_PATH_BYTES], hex[SHA256_HEX_BYTES];
	struct chunk_index *idx = NULL;
	struct bd_artifact *a;
	struct stat st;
	size_t i;
	int blobs = -1;
	enum bd_err rc = BD_OK;

	for (i = 0; i < m->nartifacts && rc == BD_OK; i++) {
		a = &m->artifacts[i];
		layout_blob_path(a->sha256_hex, path);
		if (fstatat(repofd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || (uint64_t)st.st_size != a->size)
			rc = bd_fail(BD_ERR_SIZE, "%s (artifact %s) is missing "
			    "or not %llu bytes; publish a release instead", path,
			    a->name, (unsigned long long)a->size);
	}
	if (rc != BD_OK ||
	    (rc = dir_open_path(repofd, LAYOUT_BLOBS_DIR, false, &blobs)) !=
	    BD_OK)
		goto out;
	for (i = 0; i < m->nartifacts; i++) {
		a = &m->artifacts[i];
		if (!a->has_chunks)
			continue;
		if ((rc = chunkpub_index_load(blobs, a->chunks_sha256,
		    a->chunks_size, &idx)) == BD_OK) {
			sha256_hex(idx->pack_sha256, hex);
			if (fstatat(blobs, hex, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode) ||
			    (uint64_t)st.st_size != idx->pack_size)
				rc = bd_fail(BD_ERR_SIZE, "chunk pack %s is "
				    "missing or not %llu bytes", hex,
				    (unsigned long long)idx->pack_size);
			chunk_index_free(idx);
			idx = NULL;
		}
		if (rc != BD_OK) {
			warnf(o, "%s: published without chunks (guests download "
			    "it whole): %s", a->name, bd_err_detail());
			bd_err_clear();
			a->has_chunks = false;
		}
	}
	rc = BD_OK;
out:
	if (blobs >= 0)
		close(blobs);
	return rc;
}
