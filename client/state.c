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
	char *end;
	unsigned long t;

	if ((v = state_field(p, "threshold")) == NULL || *v < '1' ||
	    *v > '9')
		return bd_fail(BD_ERR_FORMAT, "%s: bad threshold line", channel);
	errno = 0;
	t = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || t > MANIFEST_MAX_KEYS)
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
		return bd_fail(BD_ERR_FORMAT, "%s: threshold %lu of %zu keys",
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
	if (sha256_parse_hex(hex, sha) != BD_OK || !install_path_valid(v))
		return false;
	memcpy(path, v, strlen(v) + 1);
	return true;
}

/* The boot entry lines: boot-title, boot-kernel, [boot-initrd], boot-cmdline. */
static enum bd_err
state_boot_parse(const char *channel, char **p, struct bd_state *st)
{
	const char *v;

	if ((v = state_field(p, "boot-title")) == NULL ||
	    !boot_text_valid(v, BOOT_TITLE_MAX_BYTES))
		return bd_fail(BD_ERR_FORMAT, "%s: bad boot-title line", channel);
	memcpy(st->boot_title, v, strlen(v) + 1);
	if ((v = state_field(p, "boot-kernel")) == NULL ||
	    !state_file_ref(v, st->boot_kernel_sha256, st->boot_kernel))
		return bd_fail(BD_ERR_FORMAT, "%s: bad boot-kernel line",
		    channel);
	if (strncmp(*p, "boot-initrd=", 12) == 0) {
		if ((v = state_field(p, "boot-initrd")) == NULL ||
		    !state_file_ref(v, st->boot_initrd_sha256, st->boot_initrd))
			return bd_fail(BD_ERR_FORMAT, "%s: bad boot-initrd line",
			    channel);
		st->boot_has_initrd = true;
	}
	if ((v = state_field(p, "boot-cmdline")) == NULL ||
	    !boot_text_valid(v, BOOT_CMDLINE_MAX_BYTES))
		return bd_fail(BD_ERR_FORMAT, "%s: bad boot-cmdline line",
		    channel);
	memcpy(st->boot_cmdline, v, strlen(v) + 1);
	st->has_boot = true;
	return BD_OK;
}

void
state_set_boot(struct bd_state *st, const struct bd_manifest *m)
{
	struct bd_prev_boot b;

	st->has_boot = manifest_prev_boot(m, &b);
	if (!st->has_boot)
		return;
	snprintf(st->boot_title, sizeof(st->boot_title), "%s", b.title);
	snprintf(st->boot_cmdline, sizeof(st->boot_cmdline), "%s", b.cmdline);
	snprintf(st->boot_kernel, sizeof(st->boot_kernel), "%s", b.kernel);
	memcpy(st->boot_kernel_sha256, b.kernel_sha256, SHA256_BYTES);
	st->boot_has_initrd = b.initrd != NULL;
	if (b.initrd != NULL) {
		snprintf(st->boot_initrd, sizeof(st->boot_initrd), "%s",
		    b.initrd);
		memcpy(st->boot_initrd_sha256, b.initrd_sha256, SHA256_BYTES);
	}
}

bool
state_prev_boot(const struct bd_state *st, struct bd_prev_boot *out)
{
	memset(out, 0, sizeof(*out));
	if (!st->present || !st->has_boot)
		return false;
	out->version = st->version;
	out->title = st->boot_title;
	out->cmdline = st->boot_cmdline;
	out->kernel = st->boot_kernel;
	out->kernel_sha256 = st->boot_kernel_sha256;
	if (st->boot_has_initrd) {
		out->initrd = st->boot_initrd;
		out->initrd_sha256 = st->boot_initrd_sha256;
	}
	return true;
}

enum bd_err
state_parse(const char *channel, const uint8_t *buf, size_t len,
    struct bd_state *st)
{
	char text[STATE_MAX_BYTES + 1], *p, *end;
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
	errno = 0;
	st->version = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || st->version > MANIFEST_MAX_VERSION)
		return bd_fail(BD_ERR_FORMAT, "%s: bad version", channel);
	if ((v = state_field(&p, "payload-sha256")) == NULL ||
	    sha256_parse_hex(v, st->payload_sha256) != BD_OK)
		return bd_fail(BD_ERR_FORMAT, "%s: bad payload-sha256 line",
		    channel);
	if (*p != '\0' && strncmp(p, "threshold=", 10) == 0 &&
	    state_keys_parse(channel, &p, st) != BD_OK)
		return BD_ERR_FORMAT;
	if (*p != '\0' && state_boot_parse(channel, &p, st) != BD_OK)
		return BD_ERR_FORMAT;
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

enum bd_err
state_format(const char *channel, const struct bd_state *st,
    char text[STATE_MAX_BYTES], size_t *len)
{
	char hex[SHA256_HEX_BYTES], b64[PUBKEY_B64_BYTES];
	size_t used, i;
	int n;

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
	if (st->has_boot) {
		char kh[SHA256_HEX_BYTES], ih[SHA256_HEX_BYTES];

		sha256_hex(st->boot_kernel_sha256, kh);
		sha256_hex(st->boot_initrd_sha256, ih);
		n = snprintf(text + used, STATE_MAX_BYTES - used,
		    "boot-title=%s\nboot-kernel=%s %s\n%s%s%s%s%s"
		    "boot-cmdline=%s\n", st->boot_title, kh, st->boot_kernel,
		    st->boot_has_initrd ? "boot-initrd=" : "",
		    st->boot_has_initrd ? ih : "",
		    st->boot_has_initrd ? " " : "",
		    st->boot_has_initrd ? st->boot_initrd : "",
		    st->boot_has_initrd ? "\n" : "", st->boot_cmdline);
		if (n < 0 || (size_t)n >= STATE_MAX_BYTES - used)
			return bd_fail(BD_ERR_IO, "%s: state too long", channel);
		used += (size_t)n;
	}
	*len = used;
	return BD_OK;
}

enum bd_err
state_save(int dirfd, const char *channel, const struct bd_state *st)
{
	char text[STATE_MAX_BYTES];
	size_t len;
	enum bd_err rc;

	if ((rc = state_format(channel, st, text, &len)) != BD_OK)
		return rc;
	return file_write_atomic(dirfd, channel, text, len, 0644, false);
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
	if (strlen(v) >= sizeof(f->install) || !install_path_valid(v))
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
	if (p->nfiles == 0 && !p->has_state)
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
