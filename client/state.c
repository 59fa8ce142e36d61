/*
 * state.c - the accepted version and payload hash per channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "manifest.h"
#include "num.h"
#include "state.h"

#define STATE_MAGIC	"bootdrop-state/1"

/* Returns the value of "key=" on the line starting at *p and advances. */
static const char *
state_field(char **p, const char *key)
{
	char *line = *p, *nl;
	size_t klen = strlen(key);

	if ((nl = strchr(line, '\n')) == NULL)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	if (strncmp(line, key, klen) != 0 || line[klen] != '=')
		return NULL;
	return line + klen + 1;
}

/* The trust lines: threshold=<t>, then key=<string> for each key. */
static enum bd_err
state_keys_parse(const char *channel, char **p, struct bd_state *st)
{
	struct bd_keyset *ks = &st->keys;
	const char *v;
	uint64_t t;

	if ((v = state_field(p, "threshold")) == NULL || *v < '1' ||
	    *v > '9')
		return bd_fail(BD_ERR_FORMAT, "%s: bad threshold line", channel);
	if (num_u64_str(v, 1, MANIFEST_MAX_KEYS, &t) != BD_OK)
		return bd_fail(BD_ERR_FORMAT, "%s: bad threshold", channel);
	while (**p != '\0' && strncmp(*p, "key=", 4) == 0) {
		if (ks->nkeys == MANIFEST_MAX_KEYS ||
		    (v = state_field(p, "key")) == NULL ||
		    pubkey_from_base64(&ks->keys[ks->nkeys], v) != BD_OK ||
		    keyset_find(ks, ks->keys[ks->nkeys].id) >= 0)
			return bd_fail(BD_ERR_FORMAT, "%s: bad key line",
			    channel);
		ks->nkeys++;
	}
	if (ks->nkeys == 0 || t > ks->nkeys)
		return bd_fail(BD_ERR_FORMAT, "%s: threshold %" PRIu64 " of %zu keys",
		    channel, t, ks->nkeys);
	ks->threshold = (unsigned)t;
	st->has_keys = true;
	return BD_OK;
}

/* "<64 hex> <install path>" into sha and path (INSTALL_PATH_MAX_BYTES+1). */
static bool
state_file_ref(const char *v, uint8_t sha[SHA256_BYTES], char *path)
{
	char hex[SHA256_HEX_BYTES];

	if (strlen(v) < SHA256_HEX_BYTES || v[SHA256_HEX_BYTES - 1] != ' ')
		return false;
	memcpy(hex, v, SHA256_HEX_BYTES - 1);
	hex[SHA256_HEX_BYTES - 1] = '\0';
	v += SHA256_HEX_BYTES;
	if (sha256_parse_hex(hex, sha) != BD_OK || !state_path_valid(v))
		return false;
	memcpy(path, v, strlen(v) + 1);
	return true;
}

/* Reads "<prefix>-<key>" on the line at *p (key names the line). */
static const char *
boot_field(char **p, const char *prefix, const char *key)
{
	char name[32];

	snprintf(name, sizeof(name), "%s-%s", prefix, key);
	return state_field(p, name);
}

/*
 * One entry's lines, each name prefixed ("boot" or "prev-boot"):
 * [version,] title, kernel, [initrd,] cmdline.
 */
static enum bd_err
state_boot_parse(const char *channel, char **p, const char *prefix,
    bool with_version, struct state_boot *b)
{
	char name[32];
	const char *v;

	if (with_version) {
		if ((v = boot_field(p, prefix, "version")) == NULL ||
		    *v < '1' || *v > '9')
			return bd_fail(BD_ERR_FORMAT, "%s: bad %s-version line",
			    channel, prefix);
		if (num_u64_str(v, 1, MANIFEST_MAX_VERSION, &b->version) !=
		    BD_OK)
			return bd_fail(BD_ERR_FORMAT, "%s: bad %s-version",
			    channel, prefix);
	}
	if ((v = boot_field(p, prefix, "title")) == NULL ||
	    !boot_text_valid(v, BOOT_TITLE_MAX_BYTES))
		return bd_fail(BD_ERR_FORMAT, "%s: bad %s-title line", channel,
		    prefix);
	memcpy(b->title, v, strlen(v) + 1);
	if ((v = boot_field(p, prefix, "kernel")) == NULL ||
	    !state_file_ref(v, b->kernel_sha256, b->kernel))
		return bd_fail(BD_ERR_FORMAT, "%s: bad %s-kernel line", channel,
		    prefix);
	snprintf(name, sizeof(name), "%s-initrd=", prefix);
	if (strncmp(*p, name, strlen(name)) == 0) {
		if ((v = boot_field(p, prefix, "initrd")) == NULL ||
		    !state_file_ref(v, b->initrd_sha256, b->initrd))
			return bd_fail(BD_ERR_FORMAT, "%s: bad %s-initrd line",
			    channel, prefix);
		b->has_initrd = true;
	}
	if ((v = boot_field(p, prefix, "cmdline")) == NULL ||
	    !boot_text_valid(v, BOOT_CMDLINE_MAX_BYTES))
		return bd_fail(BD_ERR_FORMAT, "%s: bad %s-cmdline line",
		    channel, prefix);
	memcpy(b->cmdline, v, strlen(v) + 1);
	b->present = true;
	return BD_OK;
}

/* Fills b from e (an entry as rendered) and the hashes of its files. */
static void
boot_from_prev(struct state_boot *b, uint64_t version, const char *title,
    const char *cmdline, const char *kernel, const uint8_t *ksha,
    const char *initrd, const uint8_t *isha)
{
	memset(b, 0, sizeof(*b));
	b->present = true;
	b->version = version;
	snprintf(b->title, sizeof(b->title), "%s", title);
	snprintf(b->cmdline, sizeof(b->cmdline), "%s", cmdline);
	snprintf(b->kernel, sizeof(b->kernel), "%s", kernel);
	memcpy(b->kernel_sha256, ksha, SHA256_BYTES);
	b->has_initrd = initrd != NULL;
	if (initrd != NULL) {
		snprintf(b->initrd, sizeof(b->initrd), "%s", initrd);
		memcpy(b->initrd_sha256, isha, SHA256_BYTES);
	}
}

void
state_set_boot(struct bd_state *st, const struct bd_manifest *m,
    const struct bd_boot_view *v, const struct bd_prev_boot *second)
{
	struct bd_prev_boot b;
	const struct boot_entry *e;

	memset(&st->boot, 0, sizeof(st->boot));
	memset(&st->prev_boot, 0, sizeof(st->prev_boot));
	if (!manifest_prev_boot(m, &b))
		return;
	boot_from_prev(&st->boot, m->version, b.title, b.cmdline, b.kernel,
	    b.kernel_sha256, b.initrd, b.initrd_sha256);
	if (v == NULL || second == NULL || v->config.nentries < 2)
		return;
	e = &v->config.entries[1];
	if (strlen(e->kernel) > INSTALL_PATH_MAX_BYTES || (e->initrd != NULL &&
	    strlen(e->initrd) > INSTALL_PATH_MAX_BYTES))
		return;	/* a <path>.old too long to record: a repair shows one */
	boot_from_prev(&st->prev_boot, e->version, e->title, e->cmdline,
	    e->kernel, second->kernel_sha256, e->initrd,
	    second->initrd_sha256);
}

/* b as the renderers' previous version (borrowed). */
static bool
boot_to_prev(const struct state_boot *b, struct bd_prev_boot *out)
{
	memset(out, 0, sizeof(*out));
	if (!b->present)
		return false;
	out->version = b->version;
	out->title = b->title;
	out->cmdline = b->cmdline;
	out->kernel = b->kernel;
	out->kernel_sha256 = b->kernel_sha256;
	if (b->has_initrd) {
		out->initrd = b->initrd;
		out->initrd_sha256 = b->initrd_sha256;
	}
	return true;
}

bool
state_prev_boot(const struct bd_state *st, uint64_t version,
    struct bd_prev_boot *out)
{
	memset(out, 0, sizeof(*out));
	if (!st->present)
		return false;
	if (version > st->version)
		return boot_to_prev(&st->boot, out);
	if (version == st->version)
		return boot_to_prev(&st->prev_boot, out);
	return false;
}

bool
state_files_add(struct state_files *l, uint64_t size,
    const uint8_t sha256[SHA256_BYTES], const char *path)
{
	struct state_file *f;

	if (state_files_find(l, path) != NULL)
		return true;
	if (l->n == STATE_MAX_FILES || !state_path_valid(path))
		return false;
	f = &l->f[l->n++];
	f->size = size;
	memcpy(f->sha256, sha256, SHA256_BYTES);
	memcpy(f->path, path, strlen(path) + 1);
	return true;
}

const struct state_file *
state_files_find(const struct state_files *l, const char *path)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->f[i].path, path) == 0)
			return &l->f[i];
	return NULL;
}

/* Parses a decimal in 1..max (or 0..max with zero_ok), digits only. */
static bool
pending_number(const char *s, const char **end, uint64_t max, bool zero_ok,
    uint64_t *out);

/* "<size> <64 hex> <install path>" (a file= or remove= value) into f. */
static bool
file_ref_parse(const char *v, struct state_file *f)
{
	const char *end;

	memset(f, 0, sizeof(*f));
	if (!pending_number(v, &end, (uint64_t)1 << 62, true, &f->size) ||
	    *end != ' ')
		return false;
	return state_file_ref(end + 1, f->sha256, f->path);
}

/* The lines "<key>=<size> <sha256> <path>" at *p, in order, into l. */
static enum bd_err
state_files_parse(const char *channel, char **p, const char *key,
    struct state_files *l)
{
	struct state_file f;
	size_t klen = strlen(key);
	const char *v;

	while (strncmp(*p, key, klen) == 0 && (*p)[klen] == '=') {
		if ((v = state_field(p, key)) == NULL || !file_ref_parse(v, &f) ||
		    state_files_find(l, f.path) != NULL ||
		    !state_files_add(l, f.size, f.sha256, f.path))
			return bd_fail(BD_ERR_FORMAT, "%s: bad %s line", channel,
			    key);
	}
	return BD_OK;
}

enum bd_err
state_parse(const char *channel, const uint8_t *buf, size_t len,
    struct bd_state *st)
{
	char text[STATE_MAX_BYTES + 1], *p;
	const char *v;

	memset(st, 0, sizeof(*st));
	if (len > STATE_MAX_BYTES)
		return bd_fail(BD_ERR_TOOBIG, "%s: state longer than %d bytes",
		    channel, STATE_MAX_BYTES);
	memcpy(text, buf, len);
	text[len] = '\0';
	p = text;
	if (strlen(p) != len || strncmp(p, STATE_MAGIC "\n",
	    sizeof(STATE_MAGIC)) != 0)
		return bd_fail(BD_ERR_FORMAT, "%s: not a bootdrop state file",
		    channel);
	p += sizeof(STATE_MAGIC);
	if ((v = state_field(&p, "channel")) == NULL || strcmp(v, channel))
		return bd_fail(BD_ERR_FORMAT, "%s: bad channel line", channel);
	if ((v = state_field(&p, "version")) == NULL || *v < '1' || *v > '9')
		return bd_fail(BD_ERR_FORMAT, "%s: bad version line", channel);
	if (num_u64_str(v, 1, MANIFEST_MAX_VERSION, &st->version) != BD_OK)
		return bd_fail(BD_ERR_FORMAT, "%s: bad version", channel);
	if ((v = state_field(&p, "payload-sha256")) == NULL ||
	    sha256_parse_hex(v, st->payload_sha256) != BD_OK)
		return bd_fail(BD_ERR_FORMAT, "%s: bad payload-sha256 line",
		    channel);
	if (*p != '\0' && strncmp(p, "threshold=", 10) == 0 &&
	    state_keys_parse(channel, &p, st) != BD_OK)
		return BD_ERR_FORMAT;
	if (*p != '\0' && strncmp(p, "boot-", 5) == 0) {
		if (state_boot_parse(channel, &p, "boot", false,
		    &st->boot) != BD_OK)
			return BD_ERR_FORMAT;
		st->boot.version = st->version;
	}
	if (*p != '\0' && st->boot.present && strncmp(p, "prev-boot-",
	    10) == 0 && state_boot_parse(channel, &p, "prev-boot", true,
	    &st->prev_boot) != BD_OK)
		return BD_ERR_FORMAT;
	if (strncmp(p, "file=", 5) == 0 || strncmp(p, "prev-file=", 10) == 0) {
		st->has_files = true;
		if (state_files_parse(channel, &p, "file", &st->files) !=
		    BD_OK || state_files_parse(channel, &p, "prev-file",
		    &st->prev_files) != BD_OK)
			return BD_ERR_FORMAT;
	}
	if (*p != '\0')
		return bd_fail(BD_ERR_FORMAT, "%s: unexpected line after "
		    "payload-sha256", channel);
	st->present = true;
	return BD_OK;
}

enum bd_err
state_load(int dirfd, const char *channel, struct bd_state *st)
{
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc = BD_OK;

	memset(st, 0, sizeof(*st));
	if (dirfd < 0)
		goto out;
	if (faccessat(dirfd, channel, F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT)
		goto out;
	if ((rc = file_read_capped(dirfd, channel, STATE_MAX_BYTES, &buf,
	    &len)) != BD_OK)
		goto out;
	rc = state_parse(channel, buf, len, st);
out:
	free(buf);
	return rc;
}

/* Appends entry b's lines, prefixed, at text + *used. */
static enum bd_err
boot_format(const char *channel, const struct state_boot *b,
    const char *prefix, bool with_version, char *text, size_t *used)
{
	char kh[SHA256_HEX_BYTES], ih[SHA256_HEX_BYTES], ver[32] = "";
	int n;

	sha256_hex(b->kernel_sha256, kh);
	sha256_hex(b->initrd_sha256, ih);
	if (with_version)
		snprintf(ver, sizeof(ver), "%s-version=%" PRIu64 "\n", prefix,
		    b->version);
	n = snprintf(text + *used, STATE_MAX_BYTES - *used,
	    "%s%s-title=%s\n%s-kernel=%s %s\n", ver, prefix, b->title, prefix,
	    kh, b->kernel);
	if (n < 0 || (size_t)n >= STATE_MAX_BYTES - *used)
		return bd_fail(BD_ERR_IO, "%s: state too long", channel);
	*used += (size_t)n;
	if (b->has_initrd) {
		n = snprintf(text + *used, STATE_MAX_BYTES - *used,
		    "%s-initrd=%s %s\n", prefix, ih, b->initrd);
		if (n < 0 || (size_t)n >= STATE_MAX_BYTES - *used)
			return bd_fail(BD_ERR_IO, "%s: state too long", channel);
		*used += (size_t)n;
	}
	n = snprintf(text + *used, STATE_MAX_BYTES - *used, "%s-cmdline=%s\n",
	    prefix, b->cmdline);
	if (n < 0 || (size_t)n >= STATE_MAX_BYTES - *used)
		return bd_fail(BD_ERR_IO, "%s: state too long", channel);
	*used += (size_t)n;
	return BD_OK;
}

/* Appends "<key>=<size> <sha256> <path>" for each file of l. */
static enum bd_err
files_format(const char *channel, const struct state_files *l,
    const char *key, char *text, size_t *used)
{
	char hex[SHA256_HEX_BYTES];
	size_t i;
	int n;

	for (i = 0; i < l->n; i++) {
		sha256_hex(l->f[i].sha256, hex);
		n = snprintf(text + *used, STATE_MAX_BYTES - *used,
		    "%s=%" PRIu64 " %s %s\n", key, l->f[i].size, hex,
		    l->f[i].path);
		if (n < 0 || (size_t)n >= STATE_MAX_BYTES - *used)
			return bd_fail(BD_ERR_IO, "%s: state too long", channel);
		*used += (size_t)n;
	}
	return BD_OK;
}

enum bd_err
state_format(const char *channel, const struct bd_state *st,
    char text[STATE_MAX_BYTES], size_t *len)
{
	char hex[SHA256_HEX_BYTES], b64[PUBKEY_B64_BYTES];
	size_t used, i;
	int n;
	enum bd_err rc;

	*len = 0;
	sha256_hex(st->payload_sha256, hex);
	n = snprintf(text, STATE_MAX_BYTES, STATE_MAGIC "\nchannel=%s\n"
	    "version=%" PRIu64 "\npayload-sha256=%s\n", channel, st->version,
	    hex);
	if (n < 0 || n >= STATE_MAX_BYTES)
		return bd_fail(BD_ERR_IO, "%s: state too long", channel);
	used = (size_t)n;
	if (st->has_keys) {
		n = snprintf(text + used, STATE_MAX_BYTES - used,
		    "threshold=%u\n", st->keys.threshold);
		if (n < 0 || (size_t)n >= STATE_MAX_BYTES - used)
			return bd_fail(BD_ERR_IO, "%s: state too long", channel);
		used += (size_t)n;
		for (i = 0; i < st->keys.nkeys; i++) {
			pubkey_to_base64(&st->keys.keys[i], b64);
			n = snprintf(text + used, STATE_MAX_BYTES - used,
			    "key=%s\n", b64);
			if (n < 0 || (size_t)n >= STATE_MAX_BYTES - used)
				return bd_fail(BD_ERR_IO, "%s: state too long",
				    channel);
			used += (size_t)n;
		}
	}
	if (st->boot.present &&
	    ((rc = boot_format(channel, &st->boot, "boot", false, text,
	    &used)) != BD_OK || (st->prev_boot.present &&
	    (rc = boot_format(channel, &st->prev_boot, "prev-boot", true, text,
	    &used)) != BD_OK)))
		return rc;
	if (st->has_files &&
	    ((rc = files_format(channel, &st->files, "file", text, &used)) !=
	    BD_OK || (rc = files_format(channel, &st->prev_files, "prev-file",
	    text, &used)) != BD_OK))
		return rc;
	*len = used;
	return BD_OK;
}

/* Parses a decimal in 1..max (or 0..max with zero_ok), digits only. */
static bool
pending_number(const char *s, const char **end, uint64_t max, bool zero_ok,
    uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v == 0 && !zero_ok)
		return false;
	*end = p;
	*out = v;
	return true;
}

/* "stage.<k>" with k in 0..PENDING_MAX_FILES-1 */
static bool
pending_stage_valid(const char *s, size_t n)
{
	char buf[PENDING_STAGE_BYTES];
	const char *end;
	uint64_t k;

	if (n < 7 || n >= sizeof(buf) || strncmp(s, "stage.", 6) != 0)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return pending_number(buf + 6, &end, PENDING_MAX_FILES - 1, true, &k) &&
	    *end == '\0';
}

/* One "file=" value: "<stage> <size> <hex> <0|1> <install>". */
static enum bd_err
pending_file_parse(char *v, struct bd_pending_file *f)
{
	char *sp, *hex;
	const char *end;

	if ((sp = strchr(v, ' ')) == NULL || !pending_stage_valid(v,
	    (size_t)(sp - v)))
		return bd_fail(BD_ERR_FORMAT, "pending: bad stage name");
	memcpy(f->stage, v, (size_t)(sp - v));
	f->stage[sp - v] = '\0';
	v = sp + 1;
	if (!pending_number(v, &end, (uint64_t)1 << 62, true, &f->size) ||
	    *end != ' ')
		return bd_fail(BD_ERR_FORMAT, "pending: bad size");
	hex = (char *)end + 1;
	if (strlen(hex) < SHA256_HEX_BYTES + 2 || hex[SHA256_HEX_BYTES - 1] !=
	    ' ')
		return bd_fail(BD_ERR_FORMAT, "pending: bad sha256");
	hex[SHA256_HEX_BYTES - 1] = '\0';
	if (sha256_parse_hex(hex, f->sha256) != BD_OK)
		return bd_fail(BD_ERR_FORMAT, "pending: bad sha256");
	v = hex + SHA256_HEX_BYTES;
	if ((v[0] != '0' && v[0] != '1') || v[1] != ' ')
		return bd_fail(BD_ERR_FORMAT, "pending: bad keep-old flag");
	f->keep_old = v[0] == '1';
	v += 2;
	if (strlen(v) >= sizeof(f->install) || !state_path_valid(v))
		return bd_fail(BD_ERR_FORMAT, "pending: bad install path");
	memcpy(f->install, v, strlen(v) + 1);
	return BD_OK;
}

enum bd_err
pending_parse(const uint8_t *buf, size_t len, struct bd_pending *p)
{
	char *text, *line, *nl, *v;
	const char *end;
	uint64_t n;
	size_t off;
	enum bd_err rc = BD_OK;

	memset(p, 0, sizeof(*p));
	if (len > PENDING_MAX_BYTES)
		return bd_fail(BD_ERR_TOOBIG, "pending: longer than %d bytes",
		    PENDING_MAX_BYTES);
	if ((text = malloc(len + 1)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "pending");
	memcpy(text, buf, len);
	text[len] = '\0';
	if (strlen(text) != len || strncmp(text, PENDING_MAGIC "\n",
	    sizeof(PENDING_MAGIC)) != 0) {
		rc = bd_fail(BD_ERR_FORMAT, "not a bootdrop pending record");
		goto out;
	}
	line = text + sizeof(PENDING_MAGIC);
	if ((nl = strchr(line, '\n')) == NULL || strncmp(line, "channel=",
	    8) != 0) {
		rc = bd_fail(BD_ERR_FORMAT, "pending: bad channel line");
		goto out;
	}
	*nl = '\0';
	if (!channel_name_valid(line + 8)) {
		rc = bd_fail(BD_ERR_FORMAT, "pending: bad channel");
		goto out;
	}
	memcpy(p->channel, line + 8, strlen(line + 8) + 1);
	line = nl + 1;
	while (*line != '\0') {
		if ((nl = strchr(line, '\n')) == NULL) {
			rc = bd_fail(BD_ERR_FORMAT, "pending: unterminated line");
			goto out;
		}
		*nl = '\0';
		if (strncmp(line, "file=", 5) == 0) {
			if (p->nfiles == PENDING_MAX_FILES) {
				rc = bd_fail(BD_ERR_FORMAT, "pending: more "
				    "than %d files", PENDING_MAX_FILES);
				goto out;
			}
			if ((rc = pending_file_parse(line + 5,
			    &p->files[p->nfiles])) != BD_OK)
				goto out;
			p->nfiles++;
			line = nl + 1;
			continue;
		}
		if (strncmp(line, "remove=", 7) == 0) {
			if (p->nremoves == PENDING_MAX_REMOVES ||
			    !file_ref_parse(line + 7,
			    &p->removes[p->nremoves])) {
				rc = bd_fail(BD_ERR_FORMAT, "pending: bad remove "
				    "line");
				goto out;
			}
			p->nremoves++;
			line = nl + 1;
			continue;
		}
		if (strncmp(line, "state=", 6) != 0) {
			rc = bd_fail(BD_ERR_FORMAT, "pending: unknown line");
			goto out;
		}
		v = line + 6;
		if (!pending_number(v, &end, STATE_MAX_BYTES, false, &n) ||
		    *end != '\0') {
			rc = bd_fail(BD_ERR_FORMAT, "pending: bad state length");
			goto out;
		}
		off = (size_t)(nl + 1 - text);
		if (n != len - off) {
			rc = bd_fail(BD_ERR_FORMAT, "pending: state length "
			    "disagrees");
			goto out;
		}
		if ((rc = state_parse(p->channel, buf + off, (size_t)n,
		    &p->state)) != BD_OK)
			goto out;
		p->has_state = true;
		break;
	}
	if (p->nfiles == 0 && p->nremoves == 0 && !p->has_state)
		rc = bd_fail(BD_ERR_FORMAT, "pending: nothing to do");
out:
	free(text);
	return rc;
}

enum bd_err
pending_format(const struct bd_pending *p, char *text, size_t cap,
    size_t *len)
{
	char hex[SHA256_HEX_BYTES], st[STATE_MAX_BYTES];
	const struct bd_pending_file *f;
	size_t i, n, stlen = 0;
	int w;
	enum bd_err rc;

	*len = 0;
	if (p->has_state && (rc = state_format(p->channel, &p->state, st,
	    &stlen)) != BD_OK)
		return rc;
	w = snprintf(text, cap, PENDING_MAGIC "\nchannel=%s\n", p->channel);
	if (w < 0 || (size_t)w >= cap)
		return bd_fail(BD_ERR_IO, "pending record too long");
	n = (size_t)w;
	for (i = 0; i < p->nfiles; i++) {
		f = &p->files[i];
		sha256_hex(f->sha256, hex);
		w = snprintf(text + n, cap - n, "file=%s %" PRIu64 " %s %c %s\n",
		    f->stage, f->size, hex, f->keep_old ? '1' : '0',
		    f->install);
		if (w < 0 || (size_t)w >= cap - n)
			return bd_fail(BD_ERR_IO, "pending record too long");
		n += (size_t)w;
	}
	for (i = 0; i < p->nremoves; i++) {
		sha256_hex(p->removes[i].sha256, hex);
		w = snprintf(text + n, cap - n, "remove=%" PRIu64 " %s %s\n",
		    p->removes[i].size, hex, p->removes[i].path);
		if (w < 0 || (size_t)w >= cap - n)
			return bd_fail(BD_ERR_IO, "pending record too long");
		n += (size_t)w;
	}
	if (p->has_state) {
		w = snprintf(text + n, cap - n, "state=%zu\n", stlen);
		if (w < 0 || (size_t)w + stlen > cap - n)
			return bd_fail(BD_ERR_IO, "pending record too long");
		n += (size_t)w;
		memcpy(text + n, st, stlen);
		n += stlen;
	}
	*len = n;
	return BD_OK;
}
