/*
 * manifest.c - the signed manifest: envelope, signatures, payload schema.
 *
 * Order matters and is the point of this file: cap the envelope, parse
 * only the envelope, verify signatures over the exact payload bytes, count
 * distinct trusted keys, and only then parse the payload.  Nothing read
 * from the payload is looked at before the threshold is met.  The
 * payload's own keys are then counted over the same signatures (a
 * signature already verified with the same public key is not verified
 * twice).
 *
 * Refusal codes chosen here: a duplicate key anywhere in the payload is
 * BD_ERR_JSON (jansson refuses it while parsing); a malformed envelope is
 * BD_ERR_FORMAT; a missing, mistyped or unknown payload field is
 * BD_ERR_SCHEMA; a float, negative or oversized number is BD_ERR_RANGE.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "b64.h"
#include "boot.h"
#include "err.h"
#include "image.h"
#include "key.h"
#include "manifest.h"
#include "sha256.h"
#include "sig.h"
#include "timefmt.h"

#define DETAIL_STR_BYTES	65	/* an untrusted string quoted in a detail */
#define WHERE_BYTES		48	/* "artifacts[63].elf" */
#define MENU_LST_PATH		"boot/grub/menu.lst"
#define STATE_DIR		".bootdrop"	/* the client's state on the slice */
#define TC_PREFIX		"trusted comment: "

/* The envelope, parsed; minisig strings are borrowed from root. */
struct envelope {
	json_t *root;
	size_t nsigs;
	struct {
		const char *text;
		size_t len;
		uint8_t id[KEY_ID_BYTES];
		bool verified;			/* with verified_pk */
		uint8_t verified_pk[KEY_PK_BYTES];
	} sigs[MANIFEST_MAX_SIGNATURES];
};

static const char *const top_keys[] = {
	"type", "channel", "version", "prev", "keys", "created", "expires",
	"artifacts", "boot", NULL
};
static const char *const keyset_keys[] = { "threshold", "pubkeys", NULL };
static const char *const artifact_keys_2[] = {
	"name", "kind", "size", "sha256", "install", "elf", NULL
};
static const char *const artifact_keys_3[] = {
	"name", "kind", "size", "sha256", "install", "image", "chunks", NULL
};
static const char *const elf_keys[] = { "class", "machine", "xen", NULL };
static const char *const image_keys[] = {
	"format", "arch", "xen_pv", "pvh", "efi", "version", NULL
};
static const char *const chunks_keys[] = { "sha256", "size", NULL };
static const char *const boot_keys_2[] = {
	"loader", "arch", "menu_lst", NULL
};
static const char *const boot_keys_3[] = {
	"loaders", "title", "kernel", "initrd", "cmdline", "root", NULL
};
static const char *const kinds_2[] = { "kernel", "world", "file", NULL };
static const char *const kinds_3[] = {
	"kernel", "initrd", "world", "file", NULL
};
static const char *const boot_arches[] = { "i386", "amd64", NULL };

/* The machine names a format-2 "elf" object may carry; elf.machine points here. */
static const char *const elf_machines[] = {
	"i386", "amd64", "arm", "aarch64", "powerpc", "powerpc64", "riscv",
	"mips", "sparc", "sparc64", "unknown", NULL
};

/*
 * Copies at most cap-1 bytes of untrusted s into buf for an error detail,
 * replacing anything but printable ASCII with '?'.
 */
static const char *
printable(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < cap - 1; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* Returns the entry of list equal to s, or NULL. */
static const char *
lookup(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return *list;
	return NULL;
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool
artifact_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= ARTIFACT_NAME_MAX_BYTES || !name_char(s[i]))
			return false;
	return true;
}

bool
install_path_valid(const char *s)
{
	size_t i, start = 0, depth = 0;

	if (s == NULL)
		return false;
	for (i = 0;; i++) {
		if (i > INSTALL_PATH_MAX_BYTES)
			return false;
		if (s[i] == '/' || s[i] == '\0') {
			/* the component is s[start..i) */
			if (i == start)
				return false;
			if (i - start == 1 && s[start] == '.')
				return false;
			if (i - start == 2 && s[start] == '.' &&
			    s[start + 1] == '.')
				return false;
			if (++depth > INSTALL_PATH_MAX_DEPTH)
				return false;
			if (s[i] == '\0')
				return true;
			start = i + 1;
		} else if (!name_char(s[i]))
			return false;
	}
}

/* Refuses (BD_ERR_SCHEMA) any key of object o that is not in allowed. */
static enum bd_err
check_keys(json_t *o, const char *const *allowed, const char *where)
{
	char buf[DETAIL_STR_BYTES];
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		if (lookup(allowed, key) == NULL)
			return bd_fail(BD_ERR_SCHEMA, "%s: unknown key \"%s\"",
			    where, printable(key, buf, sizeof(buf)));
	}
	return BD_OK;
}

/* Fetches the required string o[key]; BD_ERR_SCHEMA when absent or mistyped. */
static enum bd_err
get_string(json_t *o, const char *key, const char *where, const char **out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return bd_fail(BD_ERR_SCHEMA, "%s: missing \"%s\"", where, key);
	if (!json_is_string(v))
		return bd_fail(BD_ERR_SCHEMA, "%s.%s: not a string", where, key);
	/* jansson refuses \u0000 unless told otherwise; be sure anyway */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bd_fail(BD_ERR_SCHEMA, "%s.%s: contains NUL", where, key);
	*out = json_string_value(v);
	return BD_OK;
}

/*
 * Fetches the required integer o[key] in [min, max]: BD_ERR_SCHEMA when
 * absent or not a number, BD_ERR_RANGE for a float or out of range.
 */
static enum bd_err
get_uint(json_t *o, const char *key, const char *where, uint64_t min,
    uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t n;

	if (v == NULL)
		return bd_fail(BD_ERR_SCHEMA, "%s: missing \"%s\"", where, key);
	if (json_is_real(v))
		return bd_fail(BD_ERR_RANGE, "%s.%s: not an integer", where,
		    key);
	if (!json_is_integer(v))
		return bd_fail(BD_ERR_SCHEMA, "%s.%s: not a number", where, key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return bd_fail(BD_ERR_RANGE, "%s.%s: %lld not in %llu..%llu",
		    where, key, (long long)n, (unsigned long long)min,
		    (unsigned long long)max);
	*out = (uint64_t)n;
	return BD_OK;
}

/* Fetches the required string o[key] into a new copy in *out. */
static enum bd_err
dup_string(json_t *o, const char *key, const char *where, char **out)
{
	const char *s;
	enum bd_err rc;

	if ((rc = get_string(o, key, where, &s)) != BD_OK)
		return rc;
	if ((*out = strdup(s)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "%s.%s", where, key);
	return BD_OK;
}

static enum bd_err
elf_parse(json_t *o, const char *where, struct bd_elf *elf)
{
	char buf[DETAIL_STR_BYTES];
	const char *machine;
	uint64_t class;
	json_t *xen;
	enum bd_err rc;

	if (!json_is_object(o))
		return bd_fail(BD_ERR_SCHEMA, "%s: not an object", where);
	if ((rc = check_keys(o, elf_keys, where)) != BD_OK ||
	    (rc = get_uint(o, "class", where, 32, 64, &class)) != BD_OK ||
	    (rc = get_string(o, "machine", where, &machine)) != BD_OK)
		return rc;
	if (class != 32 && class != 64)
		return bd_fail(BD_ERR_RANGE, "%s.class: not 32 or 64", where);
	if ((elf->machine = lookup(elf_machines, machine)) == NULL)
		return bd_fail(BD_ERR_SCHEMA, "%s.machine: unknown \"%s\"",
		    where, printable(machine, buf, sizeof(buf)));
	xen = json_object_get(o, "xen");
	if (!json_is_boolean(xen))
		return bd_fail(BD_ERR_SCHEMA, "%s.xen: missing or not a boolean",
		    where);
	elf->class = (unsigned)class;
	elf->xen = json_is_true(xen);
	return BD_OK;
}

/* Fetches the required boolean o[key]. */
static enum bd_err
get_bool(json_t *o, const char *key, const char *where, bool *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return bd_fail(BD_ERR_SCHEMA, "%s.%s: missing or not a boolean",
		    where, key);
	*out = json_is_true(v);
	return BD_OK;
}

/* Format 3's "image": what the publisher read from the kernel. */
static enum bd_err
image_parse(json_t *o, const char *where, struct image_info *im)
{
	char buf[DETAIL_STR_BYTES];
	const char *format, *arch, *version;
	enum bd_err rc;

	if (!json_is_object(o))
		return bd_fail(BD_ERR_SCHEMA, "%s: not an object", where);
	if ((rc = check_keys(o, image_keys, where)) != BD_OK ||
	    (rc = get_string(o, "format", where, &format)) != BD_OK ||
	    (rc = get_string(o, "arch", where, &arch)) != BD_OK ||
	    (rc = get_bool(o, "xen_pv", where, &im->xen_pv)) != BD_OK ||
	    (rc = get_bool(o, "pvh", where, &im->pvh)) != BD_OK ||
	    (rc = get_bool(o, "efi", where, &im->efi)) != BD_OK)
		return rc;
	if ((im->format = image_format_name(format)) == NULL)
		return bd_fail(BD_ERR_SCHEMA, "%s.format: unknown \"%s\"", where,
		    printable(format, buf, sizeof(buf)));
	if ((im->arch = image_arch_name(arch)) == NULL)
		return bd_fail(BD_ERR_SCHEMA, "%s.arch: unknown \"%s\"", where,
		    printable(arch, buf, sizeof(buf)));
	if (im->efi && strcmp(im->format, "bzimage") != 0)
		return bd_fail(BD_ERR_SCHEMA, "%s.efi: only a bzImage has an "
		    "EFI stub", where);
	if (json_object_get(o, "version") != NULL) {
		if ((rc = get_string(o, "version", where, &version)) != BD_OK)
			return rc;
		if (strcmp(im->format, "bzimage") != 0 ||
		    !image_version_valid(version))
			return bd_fail(BD_ERR_SCHEMA, "%s.version: \"%s\" not "
			    "allowed (a bzImage's [A-Za-z0-9._+~-]{1,64})",
			    where, printable(version, buf, sizeof(buf)));
		memcpy(im->version, version, strlen(version) + 1);
	}
	return BD_OK;
}

/* Format 3's "chunks": the chunk index blob (read by a later client). */
static enum bd_err
chunks_parse(json_t *o, const char *where, struct bd_artifact *a)
{
	const char *hex;
	enum bd_err rc;

	if (!json_is_object(o))
		return bd_fail(BD_ERR_SCHEMA, "%s: not an object", where);
	if ((rc = check_keys(o, chunks_keys, where)) != BD_OK ||
	    (rc = get_string(o, "sha256", where, &hex)) != BD_OK ||
	    (rc = get_uint(o, "size", where, 1, ARTIFACT_MAX_SIZE,
	    &a->chunks_size)) != BD_OK)
		return rc;
	if (strlen(hex) != SHA256_HEX_BYTES - 1 ||
	    sha256_parse_hex(hex, a->chunks_sha256) != BD_OK)
		return bd_fail(BD_ERR_SCHEMA,
		    "%s.sha256: not 64 lowercase hex digits", where);
	memcpy(a->chunks_hex, hex, SHA256_HEX_BYTES);
	a->has_chunks = true;
	return BD_OK;
}

/* An artifact's facts: "elf" (format 2), "image" and "chunks" (3). */
static enum bd_err
artifact_facts(json_t *o, unsigned format, const char *where,
    struct bd_artifact *a)
{
	char sub[WHERE_BYTES + 8];
	json_t *v;
	enum bd_err rc;

	if (format == 2) {
		if ((v = json_object_get(o, "elf")) == NULL)
			return BD_OK;
		snprintf(sub, sizeof(sub), "%s.elf", where);
		if ((rc = elf_parse(v, sub, &a->elf)) != BD_OK)
			return rc;
		a->has_elf = true;
		return BD_OK;
	}
	if ((v = json_object_get(o, "image")) != NULL) {
		snprintf(sub, sizeof(sub), "%s.image", where);
		if (strcmp(a->kind, "kernel") != 0)
			return bd_fail(BD_ERR_SCHEMA, "%s: only a kernel has "
			    "image facts", sub);
		if ((rc = image_parse(v, sub, &a->image)) != BD_OK)
			return rc;
		a->has_image = true;
	} else if (strcmp(a->kind, "kernel") == 0)
		return bd_fail(BD_ERR_SCHEMA, "%s: a kernel without \"image\"",
		    where);
	if ((v = json_object_get(o, "chunks")) != NULL) {
		snprintf(sub, sizeof(sub), "%s.chunks", where);
		if ((rc = chunks_parse(v, sub, a)) != BD_OK)
			return rc;
	}
	return BD_OK;
}

static enum bd_err
artifact_parse(json_t *o, unsigned format, size_t idx, struct bd_artifact *a)
{
	char where[WHERE_BYTES], buf[DETAIL_STR_BYTES];
	const char *kind, *hex;
	enum bd_err rc;

	snprintf(where, sizeof(where), "artifacts[%zu]", idx);
	if (!json_is_object(o))
		return bd_fail(BD_ERR_SCHEMA, "%s: not an object", where);
	if ((rc = check_keys(o, format == 2 ? artifact_keys_2 :
	    artifact_keys_3, where)) != BD_OK ||
	    (rc = dup_string(o, "name", where, &a->name)) != BD_OK ||
	    (rc = get_string(o, "kind", where, &kind)) != BD_OK ||
	    (rc = get_uint(o, "size", where, 0, ARTIFACT_MAX_SIZE,
	    &a->size)) != BD_OK ||
	    (rc = get_string(o, "sha256", where, &hex)) != BD_OK ||
	    (rc = dup_string(o, "install", where, &a->install)) != BD_OK)
		return rc;
	if (!artifact_name_valid(a->name))
		return bd_fail(BD_ERR_PATH, "%s.name: \"%s\" not allowed", where,
		    printable(a->name, buf, sizeof(buf)));
	if (lookup(format == 2 ? kinds_2 : kinds_3, kind) == NULL)
		return bd_fail(BD_ERR_SCHEMA, "%s.kind: unknown \"%s\"", where,
		    printable(kind, buf, sizeof(buf)));
	if ((a->kind = strdup(kind)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "%s.kind", where);
	if (strlen(hex) != SHA256_HEX_BYTES - 1 ||
	    sha256_parse_hex(hex, a->sha256) != BD_OK)
		return bd_fail(BD_ERR_SCHEMA,
		    "%s.sha256: not 64 lowercase hex digits", where);
	memcpy(a->sha256_hex, hex, SHA256_HEX_BYTES);
	if (!install_path_valid(a->install))
		return bd_fail(BD_ERR_PATH, "%s.install: \"%s\" not allowed",
		    where, printable(a->install, buf, sizeof(buf)));
	return artifact_facts(o, format, where, a);
}

static enum bd_err
boot_parse_2(json_t *o, struct bd_manifest *m)
{
	char buf[DETAIL_STR_BYTES];
	json_t *menu;
	enum bd_err rc;

	if ((rc = check_keys(o, boot_keys_2, "boot")) != BD_OK ||
	    (rc = dup_string(o, "loader", "boot", &m->boot_loader)) != BD_OK ||
	    (rc = dup_string(o, "arch", "boot", &m->boot_arch)) != BD_OK)
		return rc;
	if (strcmp(m->boot_loader, "pvgrub") != 0)
		return bd_fail(BD_ERR_SCHEMA, "boot.loader: unknown \"%s\"",
		    printable(m->boot_loader, buf, sizeof(buf)));
	if (lookup(boot_arches, m->boot_arch) == NULL)
		return bd_fail(BD_ERR_SCHEMA, "boot.arch: unknown \"%s\"",
		    printable(m->boot_arch, buf, sizeof(buf)));
	if ((menu = json_object_get(o, "menu_lst")) != NULL) {
		if (!json_is_string(menu))
			return bd_fail(BD_ERR_SCHEMA, "boot.menu_lst: not a string");
		if (json_string_length(menu) > MENU_LST_MAX_BYTES)
			return bd_fail(BD_ERR_TOOBIG,
			    "boot.menu_lst: more than %u bytes",
			    MENU_LST_MAX_BYTES);
		if ((rc = dup_string(o, "menu_lst", "boot", &m->menu_lst)) !=
		    BD_OK)
			return rc;
	}
	return BD_OK;
}

/* The optional string o[key], checked as printable text of at most max. */
static enum bd_err
boot_text(json_t *o, const char *key, size_t max, char **out)
{
	enum bd_err rc;

	if (json_object_get(o, key) == NULL)
		return BD_OK;
	if ((rc = dup_string(o, key, "boot", out)) != BD_OK)
		return rc;
	if (!boot_text_valid(*out, max))
		return bd_fail(BD_ERR_SCHEMA, "boot.%s: longer than %zu bytes or "
		    "not printable ASCII", key, max);
	return BD_OK;
}

/* Format 3's boot data: loaders, title, kernel, initrd, cmdline, root. */
static enum bd_err
boot_parse_3(json_t *o, struct bd_manifest *m)
{
	char buf[DETAIL_STR_BYTES];
	json_t *list, *v;
	unsigned bit;
	size_t i;
	enum bd_err rc;

	if ((rc = check_keys(o, boot_keys_3, "boot")) != BD_OK)
		return rc;
	list = json_object_get(o, "loaders");
	if (!json_is_array(list))
		return bd_fail(BD_ERR_SCHEMA, "boot.loaders: missing or not an "
		    "array");
	json_array_foreach(list, i, v) {
		if (!json_is_string(v))
			return bd_fail(BD_ERR_SCHEMA, "boot.loaders[%zu]: not a "
			    "string", i);
		if ((bit = boot_loader_parse(json_string_value(v))) == 0)
			return bd_fail(BD_ERR_SCHEMA, "boot.loaders[%zu]: unknown "
			    "\"%s\" (pvgrub, grub or bls)", i,
			    printable(json_string_value(v), buf, sizeof(buf)));
		if ((m->loaders & bit) != 0)
			return bd_fail(BD_ERR_SCHEMA, "boot.loaders: %s named "
			    "twice", boot_loader_name(bit));
		m->loaders |= bit;
	}
	if ((rc = boot_text(o, "title", BOOT_TITLE_MAX_BYTES,
	    &m->boot_title)) != BD_OK ||
	    (rc = boot_text(o, "cmdline", BOOT_CMDLINE_MAX_BYTES,
	    &m->boot_cmdline)) != BD_OK ||
	    (rc = boot_text(o, "root", BOOT_ROOT_MAX_BYTES,
	    &m->boot_root)) != BD_OK)
		return rc;
	if (m->boot_root != NULL && !boot_root_valid(m->boot_root))
		return bd_fail(BD_ERR_SCHEMA, "boot.root: \"%s\" is not (hdN) "
		    "or (hdN,M)", printable(m->boot_root, buf, sizeof(buf)));
	if (json_object_get(o, "kernel") != NULL &&
	    (rc = dup_string(o, "kernel", "boot", &m->boot_kernel)) != BD_OK)
		return rc;
	if (json_object_get(o, "initrd") != NULL &&
	    (rc = dup_string(o, "initrd", "boot", &m->boot_initrd)) != BD_OK)
		return rc;
	if (m->loaders != 0 && m->boot_kernel == NULL)
		return bd_fail(BD_ERR_SCHEMA, "boot: loaders named but no "
		    "\"kernel\"");
	return BD_OK;
}

static enum bd_err
boot_parse(json_t *o, struct bd_manifest *m)
{
	enum bd_err rc;

	if (!json_is_object(o))
		return bd_fail(BD_ERR_SCHEMA, "boot: not an object");
	rc = m->format == 2 ? boot_parse_2(o, m) : boot_parse_3(o, m);
	if (rc == BD_OK)
		m->has_boot = true;
	return rc;
}

/* True when path a is b or a directory above b (or the reverse). */
static bool
paths_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > lb)
		return paths_overlap(b, a);
	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

const struct bd_artifact *
manifest_artifact(const struct bd_manifest *m, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < m->nartifacts; i++)
		if (strcmp(m->artifacts[i].name, name) == 0)
			return &m->artifacts[i];
	return NULL;
}

/*
 * Where the previous version's file (path, sha256) is after m is
 * installed: its own path, <path>.old when m puts other bytes of a kernel
 * or initrd there and keep_old, or NULL when it is overwritten.
 */
static const char *
kept_path(const struct bd_manifest *m, const char *path,
    const uint8_t *sha256, bool keep_old, char *out, size_t cap)
{
	const struct bd_artifact *a;
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		a = &m->artifacts[i];
		if (strcmp(a->install, path) != 0 ||
		    memcmp(a->sha256, sha256, SHA256_BYTES) == 0)
			continue;
		if (!keep_old || (strcmp(a->kind, "kernel") != 0 &&
		    strcmp(a->kind, "initrd") != 0))
			return NULL;
		snprintf(out, cap, "%s.old", path);
		return out;
	}
	return path;
}

bool
manifest_prev_boot(const struct bd_manifest *prev, struct bd_prev_boot *out)
{
	const struct bd_artifact *k, *i;

	memset(out, 0, sizeof(*out));
	if (prev->format == 2 || !prev->has_boot ||
	    (k = manifest_artifact(prev, prev->boot_kernel)) == NULL)
		return false;
	i = manifest_artifact(prev, prev->boot_initrd);
	out->version = prev->version;
	out->title = prev->boot_title != NULL ? prev->boot_title :
	    prev->channel;
	out->cmdline = prev->boot_cmdline != NULL ? prev->boot_cmdline : "";
	out->kernel = k->install;
	out->kernel_sha256 = k->sha256;
	if (i != NULL) {
		out->initrd = i->install;
		out->initrd_sha256 = i->sha256;
	}
	return true;
}

enum bd_err
manifest_boot_view(const struct bd_manifest *m,
    const struct bd_prev_boot *prev, bool keep_old, struct bd_boot_view *v)
{
	struct boot_config *c = &v->config;
	struct boot_entry *e;
	struct bd_prev_boot now;

	memset(v, 0, sizeof(*v));
	c->channel = m->channel;
	c->root = m->boot_root != NULL ? m->boot_root : BOOT_DEFAULT_ROOT;
	if (!manifest_prev_boot(m, &now))
		return bd_fail(BD_ERR_SCHEMA, "version %llu carries no boot "
		    "data with a kernel", (unsigned long long)m->version);
	e = &c->entries[0];
	e->version = m->version;
	e->title = now.title;
	e->cmdline = now.cmdline;
	e->kernel = now.kernel;
	e->initrd = now.initrd;
	c->nentries = 1;
	if (prev == NULL || prev->version >= m->version)
		return BD_OK;
	e = &c->entries[1];
	e->version = prev->version;
	e->title = prev->title;
	e->cmdline = prev->cmdline;
	e->kernel = kept_path(m, prev->kernel, prev->kernel_sha256, keep_old,
	    v->old_kernel, sizeof(v->old_kernel));
	e->initrd = prev->initrd == NULL ? NULL : kept_path(m, prev->initrd,
	    prev->initrd_sha256, keep_old, v->old_initrd,
	    sizeof(v->old_initrd));
	if (e->kernel != NULL && (prev->initrd == NULL || e->initrd != NULL))
		c->nentries = 2;
	return BD_OK;
}

/* True when install path p overlaps a file format 3's loaders write. */
static const char *
rendered_overlap(const struct bd_manifest *m, const char *p)
{
	if (m->format == 2)
		return m->menu_lst != NULL && paths_overlap(p, MENU_LST_PATH) ?
		    MENU_LST_PATH : NULL;
	if ((m->loaders & BOOT_PVGRUB) != 0 &&
	    paths_overlap(p, BOOT_MENU_LST_PATH))
		return BOOT_MENU_LST_PATH;
	if ((m->loaders & BOOT_GRUB) != 0 &&
	    paths_overlap(p, BOOT_GRUB_CFG_PATH))
		return BOOT_GRUB_CFG_PATH;
	if ((m->loaders & BOOT_BLS) != 0 && paths_overlap(p, BOOT_BLS_DIR))
		return BOOT_BLS_DIR;
	return NULL;
}

/*
 * Format 3's boot data against the artifacts: boot.kernel names the
 * kernel, boot.initrd the initrd, and every loader named can boot the
 * kernel the image facts describe.
 */
static enum bd_err
boot_check_3(const struct bd_manifest *m)
{
	char buf[DETAIL_STR_BYTES];
	const struct bd_artifact *k, *i;

	if (!m->has_boot)
		return BD_OK;
	k = manifest_artifact(m, m->boot_kernel);
	if (m->boot_kernel != NULL && (k == NULL ||
	    strcmp(k->kind, "kernel") != 0))
		return bd_fail(BD_ERR_SCHEMA, "boot.kernel: \"%s\" is not a "
		    "kernel artifact", printable(m->boot_kernel, buf,
		    sizeof(buf)));
	i = manifest_artifact(m, m->boot_initrd);
	if (m->boot_initrd != NULL && (i == NULL ||
	    strcmp(i->kind, "initrd") != 0))
		return bd_fail(BD_ERR_SCHEMA, "boot.initrd: \"%s\" is not an "
		    "initrd artifact", printable(m->boot_initrd, buf,
		    sizeof(buf)));
	if (k != NULL && m->loaders != 0)
		return boot_check_kernel(m->loaders, &k->image, NULL);
	return BD_OK;
}

/*
 * The checks that span artifacts: unique names, install paths that neither
 * repeat nor nest (nor touch a file the boot section writes, nor the
 * client's state directory), at most one kernel and one initrd, and a
 * kernel every loader named can boot.
 */
static enum bd_err
artifacts_check(const struct bd_manifest *m)
{
	const struct bd_artifact *a, *b, *kernel = NULL, *initrd = NULL;
	const char *rendered;
	size_t i, j;

	for (i = 0; i < m->nartifacts; i++) {
		a = &m->artifacts[i];
		if (paths_overlap(a->install, STATE_DIR))
			return bd_fail(BD_ERR_PATH, "%s: reserved for the "
			    "client's state", a->install);
		if ((rendered = rendered_overlap(m, a->install)) != NULL)
			return bd_fail(BD_ERR_PATH, "%s: overlaps %s", a->install,
			    rendered);
		for (j = 0; j < i; j++) {
			b = &m->artifacts[j];
			if (strcmp(a->name, b->name) == 0)
				return bd_fail(BD_ERR_PATH,
				    "artifact name %s repeated", a->name);
			if (paths_overlap(a->install, b->install))
				return bd_fail(BD_ERR_PATH,
				    "install paths %s and %s overlap",
				    b->install, a->install);
		}
		if (strcmp(a->kind, "kernel") == 0) {
			if (kernel != NULL)
				return bd_fail(BD_ERR_SCHEMA,
				    "more than one kernel artifact");
			kernel = a;
		}
		if (strcmp(a->kind, "initrd") == 0) {
			if (initrd != NULL)
				return bd_fail(BD_ERR_SCHEMA,
				    "more than one initrd artifact");
			initrd = a;
		}
	}
	if (m->format != 2)
		return boot_check_3(m);
	if (m->has_boot && kernel != NULL && kernel->has_elf) {
		const char *arch = kernel->elf.machine;

		if ((strcmp(arch, "i386") != 0 && strcmp(arch, "amd64") != 0) ||
		    strcmp(arch, m->boot_arch) != 0 || !kernel->elf.xen)
			return bd_fail(BD_ERR_ELF, "%s pvgrub cannot load "
			    "kernel %s (%u-bit %s%s)", m->boot_arch,
			    kernel->name, kernel->elf.class, kernel->elf.machine,
			    kernel->elf.xen ? ", Xen" : ", no Xen notes");
	}
	return BD_OK;
}

/* A malformed time is a schema violation; a month 13 is out of range. */
static enum bd_err
time_get(const char *s, const char *key, time_t *t)
{
	char buf[DETAIL_STR_BYTES];

	switch (time_parse(s, t)) {
	case BD_OK:
		return BD_OK;
	case BD_ERR_RANGE:
		return bd_fail(BD_ERR_RANGE, "payload.%s: \"%s\" out of range",
		    key, printable(s, buf, sizeof(buf)));
	default:
		return bd_fail(BD_ERR_SCHEMA, "payload.%s: \"%s\" is not "
		    "YYYY-MM-DDTHH:MM:SSZ", key, printable(s, buf, sizeof(buf)));
	}
}

int
keyset_find(const struct bd_keyset *ks, const uint8_t id[KEY_ID_BYTES])
{
	size_t i;

	for (i = 0; i < ks->nkeys; i++)
		if (memcmp(ks->keys[i].id, id, KEY_ID_BYTES) == 0)
			return (int)i;
	return -1;
}

bool
keyset_equal(const struct bd_keyset *a, const struct bd_keyset *b)
{
	size_t i;
	int j;

	if (a->threshold != b->threshold || a->nkeys != b->nkeys)
		return false;
	for (i = 0; i < a->nkeys; i++) {
		j = keyset_find(b, a->keys[i].id);
		if (j < 0 || memcmp(a->keys[i].pk, b->keys[j].pk,
		    KEY_PK_BYTES) != 0)
			return false;
	}
	return true;
}

void
keyset_trust(const struct bd_keyset *ks, struct bd_trust *trust)
{
	trust->keys = ks->keys;
	trust->nkeys = ks->nkeys;
	trust->threshold = ks->threshold;
}

/*
 * "prev": null for version 1, else 64 lowercase hex digits; anything else
 * (a hash on version 1, null later) is a schema violation.
 */
static enum bd_err
prev_parse(json_t *root, struct bd_manifest *m)
{
	json_t *v = json_object_get(root, "prev");
	const char *hex;

	if (v == NULL)
		return bd_fail(BD_ERR_SCHEMA, "payload: missing \"prev\"");
	if (json_is_null(v)) {
		if (m->version != 1)
			return bd_fail(BD_ERR_SCHEMA, "payload.prev: null, but "
			    "version %llu must name version %llu's hash",
			    (unsigned long long)m->version,
			    (unsigned long long)m->version - 1);
		return BD_OK;
	}
	if (!json_is_string(v))
		return bd_fail(BD_ERR_SCHEMA, "payload.prev: not null or a "
		    "string");
	hex = json_string_value(v);
	if (json_string_length(v) != SHA256_HEX_BYTES - 1 ||
	    sha256_parse_hex(hex, m->prev) != BD_OK)
		return bd_fail(BD_ERR_SCHEMA,
		    "payload.prev: not 64 lowercase hex digits");
	if (m->version == 1)
		return bd_fail(BD_ERR_SCHEMA, "payload.prev: version 1 has no "
		    "previous version (want null)");
	m->has_prev = true;
	return BD_OK;
}

/* "keys": { "threshold": t, "pubkeys": [distinct key strings] }, 1 <= t <= n. */
static enum bd_err
keyset_parse(json_t *root, struct bd_keyset *ks)
{
	char hex[KEY_ID_HEX_BYTES];
	json_t *o = json_object_get(root, "keys"), *list, *v;
	struct bd_pubkey *pk;
	uint64_t t;
	size_t i;
	enum bd_err rc;

	if (o == NULL)
		return bd_fail(BD_ERR_SCHEMA, "payload: missing \"keys\"");
	if (!json_is_object(o))
		return bd_fail(BD_ERR_SCHEMA, "payload.keys: not an object");
	if ((rc = check_keys(o, keyset_keys, "payload.keys")) != BD_OK ||
	    (rc = get_uint(o, "threshold", "payload.keys", 1,
	    MANIFEST_MAX_KEYS, &t)) != BD_OK)
		return rc;
	list = json_object_get(o, "pubkeys");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return bd_fail(BD_ERR_SCHEMA,
		    "payload.keys.pubkeys: missing, empty or not an array");
	if (json_array_size(list) > MANIFEST_MAX_KEYS)
		return bd_fail(BD_ERR_TOOBIG, "payload.keys.pubkeys: more than "
		    "%d keys", MANIFEST_MAX_KEYS);
	json_array_foreach(list, i, v) {
		pk = &ks->keys[i];
		if (!json_is_string(v) ||
		    json_string_length(v) != PUBKEY_B64_BYTES - 1 ||
		    pubkey_from_base64(pk, json_string_value(v)) != BD_OK)
			return bd_fail(BD_ERR_SCHEMA, "payload.keys.pubkeys[%zu]: "
			    "not a minisign public key string", i);
		if (keyset_find(ks, pk->id) >= 0) {
			keyid_hex(pk->id, hex);
			return bd_fail(BD_ERR_SCHEMA, "payload.keys.pubkeys[%zu]: "
			    "key id %s named twice", i, hex);
		}
		ks->nkeys = i + 1;
	}
	if (t > ks->nkeys)
		return bd_fail(BD_ERR_RANGE, "payload.keys.threshold: %llu, but "
		    "only %zu key%s", (unsigned long long)t, ks->nkeys,
		    ks->nkeys == 1 ? "" : "s");
	ks->threshold = (unsigned)t;
	return BD_OK;
}

/*
 * Parses payload bytes into m's payload fields (channel..menu_lst).  The
 * caller has verified the bytes, or has said it does not care.
 */
static enum bd_err
payload_parse(const uint8_t *p, size_t len, struct bd_manifest *m)
{
	char buf[DETAIL_STR_BYTES];
	const char *type, *created, *expires;
	json_error_t jerr;
	json_t *root = NULL, *arts, *a, *boot;
	size_t i;
	enum bd_err rc;

	if (memchr(p, '\0', len) != NULL) {
		rc = bd_fail(BD_ERR_JSON, "payload contains a NUL byte");
		goto out;
	}
	root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rc = json_error_code(&jerr) == json_error_numeric_overflow ?
		    BD_ERR_RANGE : BD_ERR_JSON;
		rc = bd_fail(rc, "payload line %d: %s", jerr.line,
		    printable(jerr.text, buf, sizeof(buf)));
		goto out;
	}
	if (!json_is_object(root)) {
		rc = bd_fail(BD_ERR_SCHEMA, "payload: not an object");
		goto out;
	}
	/* type first: another type may legitimately carry other keys */
	if ((rc = get_string(root, "type", "payload", &type)) != BD_OK)
		goto out;
	if (strcmp(type, MANIFEST_TYPE) == 0)
		m->format = 3;
	else if (strcmp(type, MANIFEST_TYPE_2) == 0)
		m->format = 2;
	else {
		rc = bd_fail(BD_ERR_TYPE, "\"%s\" (this client reads "
		    MANIFEST_TYPE_2 " and " MANIFEST_TYPE ")",
		    printable(type, buf, sizeof(buf)));
		goto out;
	}
	if ((rc = check_keys(root, top_keys, "payload")) != BD_OK ||
	    (rc = dup_string(root, "channel", "payload", &m->channel)) !=
	    BD_OK ||
	    (rc = get_uint(root, "version", "payload", 1, MANIFEST_MAX_VERSION,
	    &m->version)) != BD_OK ||
	    (rc = prev_parse(root, m)) != BD_OK ||
	    (rc = keyset_parse(root, &m->keys)) != BD_OK ||
	    (rc = get_string(root, "created", "payload", &created)) != BD_OK ||
	    (rc = get_string(root, "expires", "payload", &expires)) != BD_OK)
		goto out;
	if (!channel_name_valid(m->channel)) {
		rc = bd_fail(BD_ERR_CHANNEL, "channel name \"%s\" not allowed",
		    printable(m->channel, buf, sizeof(buf)));
		goto out;
	}
	if ((rc = time_get(created, "created", &m->created)) != BD_OK ||
	    (rc = time_get(expires, "expires", &m->expires)) != BD_OK)
		goto out;
	if (m->expires <= m->created) {
		rc = bd_fail(BD_ERR_RANGE, "payload.expires: not after created");
		goto out;
	}

	arts = json_object_get(root, "artifacts");
	if (!json_is_array(arts) || json_array_size(arts) == 0) {
		rc = bd_fail(BD_ERR_SCHEMA,
		    "payload.artifacts: missing, empty or not an array");
		goto out;
	}
	if (json_array_size(arts) > MANIFEST_MAX_ARTIFACTS) {
		rc = bd_fail(BD_ERR_TOOBIG, "more than %d artifacts",
		    MANIFEST_MAX_ARTIFACTS);
		goto out;
	}
	m->artifacts = calloc(json_array_size(arts), sizeof(*m->artifacts));
	if (m->artifacts == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "artifacts");
		goto out;
	}
	json_array_foreach(arts, i, a) {
		m->nartifacts = i + 1;
		if ((rc = artifact_parse(a, m->format, i,
		    &m->artifacts[i])) != BD_OK)
			goto out;
	}
	if ((boot = json_object_get(root, "boot")) != NULL &&
	    (rc = boot_parse(boot, m)) != BD_OK)
		goto out;
	rc = artifacts_check(m);
out:
	json_decref(root);
	return rc;
}

/* Adds id to the list (at most MANIFEST_MAX_SIGNATURES) unless present. */
static void
keyid_add(uint8_t (*list)[KEY_ID_BYTES], size_t *n, const uint8_t *id)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (memcmp(list[i], id, KEY_ID_BYTES) == 0)
			return;
	memcpy(list[(*n)++], id, KEY_ID_BYTES);
}

/*
 * Parses the envelope only: its shape, the payload's base64 (decoded into
 * m->payload) and each signature's key id, which must match the key id
 * inside its minisig.  Fills m->keyids.  Release env with envelope_release().
 */
static enum bd_err
envelope_parse(const uint8_t *buf, size_t len, struct envelope *env,
    struct bd_manifest *m)
{
	char detail[DETAIL_STR_BYTES], hex[KEY_ID_HEX_BYTES];
	const char *b64, *b64_end;
	json_error_t jerr;
	json_t *payload, *sigs, *s, *keyid, *minisig;
	size_t b64_len, cap, i;
	uint8_t id[KEY_ID_BYTES];
	enum bd_err rc;

	if (len > MANIFEST_MAX_BYTES)
		return bd_fail(BD_ERR_TOOBIG, "manifest larger than %u bytes",
		    MANIFEST_MAX_BYTES);
	if (buf == NULL || len == 0)
		return bd_fail(BD_ERR_FORMAT, "empty manifest");
	if (memchr(buf, '\0', len) != NULL)
		return bd_fail(BD_ERR_FORMAT, "manifest contains a NUL byte");
	env->root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (env->root == NULL)
		return bd_fail(BD_ERR_FORMAT, "manifest line %d: %s", jerr.line,
		    printable(jerr.text, detail, sizeof(detail)));
	payload = json_object_get(env->root, "payload");
	sigs = json_object_get(env->root, "signatures");
	if (!json_is_object(env->root) || json_object_size(env->root) != 2 ||
	    !json_is_string(payload) || !json_is_array(sigs))
		return bd_fail(BD_ERR_FORMAT, "manifest is not an object of "
		    "exactly \"payload\" (string) and \"signatures\" (array)");

	b64 = json_string_value(payload);
	b64_len = json_string_length(payload);
	if (b64_len > sodium_base64_ENCODED_LEN(MANIFEST_PAYLOAD_MAX_BYTES,
	    sodium_base64_VARIANT_ORIGINAL) - 1)
		return bd_fail(BD_ERR_TOOBIG, "payload larger than %u bytes",
		    MANIFEST_PAYLOAD_MAX_BYTES);
	cap = b64_len / 4 * 3 + 1;
	if ((m->payload = malloc(cap)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "payload");
	if (!b64_chars_valid(b64, b64_len) ||
	    sodium_base642bin(m->payload, cap, b64, b64_len, NULL,
	    &m->payload_len, &b64_end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    b64_end != b64 + b64_len)
		return bd_fail(BD_ERR_BASE64,
		    "payload is not padded standard base64");
	if (m->payload_len == 0)
		return bd_fail(BD_ERR_FORMAT, "empty payload");
	if (m->payload_len > MANIFEST_PAYLOAD_MAX_BYTES)
		return bd_fail(BD_ERR_TOOBIG, "payload larger than %u bytes",
		    MANIFEST_PAYLOAD_MAX_BYTES);

	if (json_array_size(sigs) == 0)
		return bd_fail(BD_ERR_FORMAT, "manifest has no signatures");
	if (json_array_size(sigs) > MANIFEST_MAX_SIGNATURES)
		return bd_fail(BD_ERR_TOOBIG, "more than %d signatures",
		    MANIFEST_MAX_SIGNATURES);
	json_array_foreach(sigs, i, s) {
		keyid = json_object_get(s, "keyid");
		minisig = json_object_get(s, "minisig");
		if (!json_is_object(s) || json_object_size(s) != 2 ||
		    !json_is_string(keyid) || !json_is_string(minisig))
			return bd_fail(BD_ERR_FORMAT, "signatures[%zu] is not an "
			    "object of exactly \"keyid\" and \"minisig\"", i);
		if (json_string_length(keyid) != KEY_ID_HEX_BYTES - 1 ||
		    keyid_parse(json_string_value(keyid), env->sigs[i].id) !=
		    BD_OK)
			return bd_fail(BD_ERR_FORMAT,
			    "signatures[%zu].keyid is not 16 hex digits", i);
		env->sigs[i].text = json_string_value(minisig);
		env->sigs[i].len = json_string_length(minisig);
		if (env->sigs[i].len > SIG_MINISIG_MAX_BYTES)
			return bd_fail(BD_ERR_TOOBIG, "signatures[%zu].minisig "
			    "larger than %d bytes", i, SIG_MINISIG_MAX_BYTES);
		if (strlen(env->sigs[i].text) != env->sigs[i].len)
			return bd_fail(BD_ERR_FORMAT,
			    "signatures[%zu].minisig contains NUL", i);
		if ((rc = sig_keyid(env->sigs[i].text, env->sigs[i].len, id)) !=
		    BD_OK)
			return rc;
		if (memcmp(id, env->sigs[i].id, KEY_ID_BYTES) != 0) {
			keyid_hex(id, hex);
			return bd_fail(BD_ERR_KEYID, "signatures[%zu]: keyid %s "
			    "but the signature is by key %s", i,
			    json_string_value(keyid), hex);
		}
		keyid_add(m->keyids, &m->nkeyids, id);
		env->nsigs = i + 1;
	}
	return BD_OK;
}

static void
envelope_release(struct envelope *env)
{
	json_decref(env->root);
	env->root = NULL;
}

static const struct bd_pubkey *
key_lookup(const struct bd_pubkey *keys, size_t nkeys,
    const uint8_t id[KEY_ID_BYTES])
{
	size_t i;

	for (i = 0; i < nkeys; i++)
		if (memcmp(keys[i].id, id, KEY_ID_BYTES) == 0)
			return &keys[i];
	return NULL;
}

/*
 * Verifies every signature made by one of keys (a failing one refuses the
 * manifest; the others are ignored) and collects the distinct key ids
 * that verified into ids (*n of them); *named counts the signatures by a
 * key of the set.  Verified trusted comments must all agree; the first
 * is kept in m->trusted_comment.  A signature verified before with the
 * same public key is counted without verifying it again.
 */
static enum bd_err
signatures_count(struct envelope *env, const struct bd_pubkey *keys,
    size_t nkeys, struct bd_manifest *m, uint8_t (*ids)[KEY_ID_BYTES],
    size_t *n, size_t *named)
{
	char tc[SIG_COMMENT_MAX_BYTES], saved[256], hex[KEY_ID_HEX_BYTES];
	const struct bd_pubkey *pk;
	size_t i;
	enum bd_err rc;

	*n = *named = 0;
	for (i = 0; i < env->nsigs; i++) {
		if ((pk = key_lookup(keys, nkeys, env->sigs[i].id)) == NULL)
			continue;
		(*named)++;
		if (env->sigs[i].verified && memcmp(env->sigs[i].verified_pk,
		    pk->pk, KEY_PK_BYTES) == 0) {
			keyid_add(ids, n, pk->id);
			continue;
		}
		rc = sig_verify(pk, m->payload, m->payload_len,
		    env->sigs[i].text, env->sigs[i].len, tc, sizeof(tc));
		if (rc != BD_OK) {
			snprintf(saved, sizeof(saved), "%s", bd_err_detail());
			keyid_hex(pk->id, hex);
			return bd_fail(rc, "key %s: %s", hex, saved);
		}
		if (m->trusted_comment == NULL) {
			if ((m->trusted_comment = strdup(tc)) == NULL)
				return bd_fail(BD_ERR_NOMEM, "trusted comment");
		} else if (strcmp(m->trusted_comment, tc) != 0)
			return bd_fail(BD_ERR_COMMENT,
			    "signers' trusted comments differ");
		env->sigs[i].verified = true;
		memcpy(env->sigs[i].verified_pk, pk->pk, KEY_PK_BYTES);
		keyid_add(ids, n, pk->id);
	}
	return BD_OK;
}

/* "A B C": the key ids of list, for a detail. */
static const char *
keyids_text(const uint8_t (*list)[KEY_ID_BYTES], size_t n,
    char out[MANIFEST_MAX_SIGNATURES * KEY_ID_HEX_BYTES])
{
	char hex[KEY_ID_HEX_BYTES];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < n && i < MANIFEST_MAX_SIGNATURES; i++) {
		keyid_hex(list[i], hex);
		if (i > 0)
			strcat(out, " ");
		strcat(out, hex);
	}
	return out;
}

/*
 * The trust's part: distinct trusted keys that verified, into m->signers,
 * must reach the trust's threshold.
 */
static enum bd_err
signatures_verify(struct envelope *env, const struct bd_trust *trust,
    struct bd_manifest *m)
{
	char list[MANIFEST_MAX_SIGNATURES * KEY_ID_HEX_BYTES];
	char trusted[MANIFEST_MAX_SIGNATURES * KEY_ID_HEX_BYTES];
	uint8_t ids[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
	size_t named, i;
	enum bd_err rc;

	if ((rc = signatures_count(env, trust->keys, trust->nkeys, m,
	    m->signers, &m->nsigners, &named)) != BD_OK)
		return rc;
	if (named == 0) {
		for (i = 0; i < trust->nkeys && i < MANIFEST_MAX_SIGNATURES;
		    i++)
			memcpy(ids[i], trust->keys[i].id, KEY_ID_BYTES);
		return bd_fail(BD_ERR_KEYID, "signed by %s; no trusted key "
		    "(trusted: %s)",
		    keyids_text((const uint8_t (*)[KEY_ID_BYTES])m->keyids,
		    m->nkeyids, list),
		    keyids_text((const uint8_t (*)[KEY_ID_BYTES])ids, i,
		    trusted));
	}
	if (m->nsigners < trust->threshold)
		return bd_fail(BD_ERR_THRESHOLD,
		    "%zu of %u required keys verified", m->nsigners,
		    trust->threshold);
	return BD_OK;
}

/*
 * The payload's own part, after it is parsed: its own keys must have
 * signed it, at least its own threshold of them.
 */
static enum bd_err
own_signatures_verify(struct envelope *env, struct bd_manifest *m)
{
	uint8_t ids[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
	char list[MANIFEST_MAX_SIGNATURES * KEY_ID_HEX_BYTES];
	size_t named;
	enum bd_err rc;

	if ((rc = signatures_count(env, m->keys.keys, m->keys.nkeys, m, ids,
	    &m->nself, &named)) != BD_OK)
		return rc;
	if (m->nself < m->keys.threshold)
		return bd_fail(BD_ERR_THRESHOLD, "version %llu names keys of "
		    "which %u must sign it; %zu did (signed by %s)",
		    (unsigned long long)m->version, m->keys.threshold, m->nself,
		    keyids_text((const uint8_t (*)[KEY_ID_BYTES])m->keyids,
		    m->nkeyids, list));
	return BD_OK;
}

enum bd_err
manifest_verify_load(const uint8_t *envelope, size_t len,
    const struct bd_trust *trust, const char *channel,
    struct bd_manifest **out)
{
	char expect[SIG_COMMENT_MAX_BYTES], buf[SIG_COMMENT_MAX_BYTES];
	struct envelope env = { 0 };
	struct bd_manifest *m = NULL;
	enum bd_err rc;

	*out = NULL;
	if (len > MANIFEST_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "manifest larger than %u bytes",
		    MANIFEST_MAX_BYTES);
		goto out;
	}
	if (trust == NULL || trust->threshold < 1 || channel == NULL) {
		rc = bd_fail(BD_ERR_USAGE, "no trusted keys, threshold or channel");
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "manifest");
		goto out;
	}
	if ((rc = envelope_parse(envelope, len, &env, m)) != BD_OK ||
	    (rc = signatures_verify(&env, trust, m)) != BD_OK ||
	    (rc = payload_parse(m->payload, m->payload_len, m)) != BD_OK)
		goto out;
	if (strcmp(m->channel, channel) != 0) {
		rc = bd_fail(BD_ERR_CHANNEL, "manifest is for channel %s, not %s",
		    m->channel, printable(channel, buf, sizeof(buf)));
		goto out;
	}
	if ((rc = manifest_trusted_comment(m, expect, sizeof(expect))) != BD_OK)
		goto out;
	if (strcmp(expect, m->trusted_comment) != 0) {
		rc = bd_fail(BD_ERR_COMMENT, "trusted comment is \"%s\", "
		    "payload says \"%s\"", printable(m->trusted_comment, buf, sizeof(buf)),
		    expect);
		goto out;
	}
	if ((rc = own_signatures_verify(&env, m)) != BD_OK)
		goto out;
	sha256_buf(m->payload, m->payload_len, m->payload_sha256);
	*out = m;
	m = NULL;
out:
	envelope_release(&env);
	manifest_free(m);
	return rc;
}

void
manifest_accepted(const struct bd_manifest *m, struct bd_accepted *out)
{
	memset(out, 0, sizeof(*out));
	out->version = m->version;
	memcpy(out->payload_sha256, m->payload_sha256, SHA256_BYTES);
	out->keys = m->keys;
}

enum bd_err
manifest_check_link(const struct bd_accepted *prev,
    const struct bd_manifest *m)
{
	char want[SHA256_HEX_BYTES], got[SHA256_HEX_BYTES];

	if (prev->version >= MANIFEST_MAX_VERSION ||
	    m->version != prev->version + 1)
		return bd_fail(BD_ERR_CHAIN, "version %llu cannot follow "
		    "version %llu (the next is %llu)",
		    (unsigned long long)m->version,
		    (unsigned long long)prev->version,
		    (unsigned long long)prev->version + 1);
	sha256_hex(prev->payload_sha256, want);
	if (!m->has_prev)
		return bd_fail(BD_ERR_CHAIN, "version %llu has no prev; "
		    "version %llu's payload sha256 is %s",
		    (unsigned long long)m->version,
		    (unsigned long long)prev->version, want);
	if (sodium_memcmp(m->prev, prev->payload_sha256, SHA256_BYTES) != 0) {
		sha256_hex(m->prev, got);
		return bd_fail(BD_ERR_CHAIN, "version %llu's prev is %s, but "
		    "version %llu's payload sha256 is %s",
		    (unsigned long long)m->version, got,
		    (unsigned long long)prev->version, want);
	}
	return BD_OK;
}

enum bd_err
manifest_verify_successor(const struct bd_accepted *prev,
    const uint8_t *envelope, size_t len, const char *channel,
    struct bd_manifest **out)
{
	char saved[256];
	struct bd_trust trust;
	struct bd_manifest *m = NULL;
	enum bd_err rc;

	*out = NULL;
	keyset_trust(&prev->keys, &trust);
	if ((rc = manifest_verify_load(envelope, len, &trust, channel,
	    &m)) != BD_OK) {
		snprintf(saved, sizeof(saved), "%s", bd_err_detail());
		return bd_fail(rc, "as the successor of version %llu, signed "
		    "by %u of its %zu key%s: %s",
		    (unsigned long long)prev->version, prev->keys.threshold,
		    prev->keys.nkeys, prev->keys.nkeys == 1 ? "" : "s", saved);
	}
	if ((rc = manifest_check_link(prev, m)) != BD_OK) {
		manifest_free(m);
		return rc;
	}
	*out = m;
	return BD_OK;
}

enum bd_err
manifest_verify_self(const uint8_t *envelope, size_t len,
    const char *channel, struct bd_manifest **out)
{
	struct bd_manifest *u = NULL;
	struct bd_trust trust;
	enum bd_err rc;

	*out = NULL;
	if ((rc = manifest_load_unverified(envelope, len, &u)) != BD_OK)
		return rc;
	keyset_trust(&u->keys, &trust);
	rc = manifest_verify_load(envelope, len, &trust, channel, out);
	manifest_free(u);
	return rc;
}

/* Copies the trusted comment line of a minisig text, unverified. */
static enum bd_err
minisig_comment(const char *text, size_t len, char **out)
{
	const char *p, *end;

	for (p = text; p != NULL && p < text + len;) {
		end = memchr(p, '\n', (size_t)(text + len - p));
		if (end == NULL)
			end = text + len;
		if ((size_t)(end - p) >= strlen(TC_PREFIX) &&
		    memcmp(p, TC_PREFIX, strlen(TC_PREFIX)) == 0) {
			p += strlen(TC_PREFIX);
			if ((*out = strndup(p, (size_t)(end - p))) == NULL)
				return bd_fail(BD_ERR_NOMEM, "trusted comment");
			return BD_OK;
		}
		p = end + 1;
	}
	return bd_fail(BD_ERR_FORMAT, "signature has no trusted comment");
}

enum bd_err
manifest_load_unverified(const uint8_t *envelope, size_t len,
    struct bd_manifest **out)
{
	struct envelope env = { 0 };
	struct bd_manifest *m = NULL;
	enum bd_err rc;

	*out = NULL;
	if (len > MANIFEST_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "manifest larger than %u bytes",
		    MANIFEST_MAX_BYTES);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "manifest");
		goto out;
	}
	if ((rc = envelope_parse(envelope, len, &env, m)) != BD_OK ||
	    (rc = minisig_comment(env.sigs[0].text, env.sigs[0].len,
	    &m->trusted_comment)) != BD_OK ||
	    (rc = payload_parse(m->payload, m->payload_len, m)) != BD_OK)
		goto out;
	sha256_buf(m->payload, m->payload_len, m->payload_sha256);
	*out = m;
	m = NULL;
out:
	envelope_release(&env);
	manifest_free(m);
	return rc;
}

enum bd_err
manifest_copy(const struct bd_manifest *m, struct bd_manifest **out)
{
	struct bd_manifest *c;
	enum bd_err rc;

	*out = NULL;
	if (m->payload == NULL || m->payload_len == 0)
		return bd_fail(BD_ERR_USAGE, "manifest has no payload bytes");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->payload = malloc(m->payload_len)) == NULL) {
		free(c);
		return bd_fail(BD_ERR_NOMEM, "manifest");
	}
	memcpy(c->payload, m->payload, m->payload_len);
	c->payload_len = m->payload_len;
	memcpy(c->payload_sha256, m->payload_sha256, SHA256_BYTES);
	if ((rc = payload_parse(c->payload, c->payload_len, c)) != BD_OK) {
		manifest_free(c);
		return rc;
	}
	*out = c;
	return BD_OK;
}

enum bd_err
manifest_check_fresh(const struct bd_manifest *m, time_t now)
{
	char t[TIME_RFC3339_BYTES];

	if (m->expires <= now) {
		time_format(m->expires, t);
		return bd_fail(BD_ERR_EXPIRED, "version %llu expired at %s",
		    (unsigned long long)m->version, t);
	}
	return BD_OK;
}

/* Frees what m owns, leaving m itself. */
static void
manifest_clear(struct bd_manifest *m)
{
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		free(m->artifacts[i].name);
		free(m->artifacts[i].kind);
		free(m->artifacts[i].install);
	}
	free(m->artifacts);
	free(m->channel);
	free(m->boot_loader);
	free(m->boot_arch);
	free(m->menu_lst);
	free(m->boot_title);
	free(m->boot_kernel);
	free(m->boot_initrd);
	free(m->boot_cmdline);
	free(m->boot_root);
	free(m->payload);
	free(m->trusted_comment);
}

void
manifest_free(struct bd_manifest *m)
{
	if (m == NULL)
		return;
	manifest_clear(m);
	free(m);
}

/* Sets o[key] = v (consumed); false when v is NULL or on allocation failure. */
static bool
set(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0;
}

/* Format 3's "image" object. */
static json_t *
image_encode(const struct image_info *im)
{
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (!set(o, "format", json_string(im->format)) ||
	    !set(o, "arch", json_string(im->arch)) ||
	    !set(o, "xen_pv", json_boolean(im->xen_pv)) ||
	    !set(o, "pvh", json_boolean(im->pvh)) ||
	    !set(o, "efi", json_boolean(im->efi)) ||
	    (im->version[0] != '\0' &&
	    !set(o, "version", json_string(im->version)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
chunks_encode(const struct bd_artifact *a)
{
	char hex[SHA256_HEX_BYTES];
	json_t *o;

	sha256_hex(a->chunks_sha256, hex);
	if ((o = json_object()) == NULL)
		return NULL;
	if (!set(o, "sha256", json_string(hex)) ||
	    !set(o, "size", json_integer((json_int_t)a->chunks_size))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Builds the JSON of one artifact; NULL on bad or missing fields. */
static json_t *
artifact_encode(const struct bd_artifact *a, unsigned format)
{
	char hex[SHA256_HEX_BYTES];
	json_t *o, *elf;

	sha256_hex(a->sha256, hex);
	if (a->sha256_hex[0] != '\0' && strcmp(a->sha256_hex, hex) != 0)
		return NULL;	/* the two spellings of the hash disagree */
	if ((o = json_object()) == NULL)
		return NULL;
	if (!set(o, "name", json_string(a->name)) ||
	    !set(o, "kind", json_string(a->kind)) ||
	    !set(o, "size", json_integer((json_int_t)a->size)) ||
	    !set(o, "sha256", json_string(hex)) ||
	    !set(o, "install", json_string(a->install)))
		goto fail;
	if (format == 2 && a->has_elf) {
		if ((elf = json_object()) == NULL || !set(o, "elf", elf) ||
		    !set(elf, "class", json_integer(a->elf.class)) ||
		    !set(elf, "machine", json_string(a->elf.machine)) ||
		    !set(elf, "xen", json_boolean(a->elf.xen)))
			goto fail;
	}
	if (format == 3 && a->has_image &&
	    !set(o, "image", image_encode(&a->image)))
		goto fail;
	if (format == 3 && a->has_chunks && !set(o, "chunks", chunks_encode(a)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The boot object of m's format; NULL on bad or missing fields. */
static json_t *
boot_encode(const struct bd_manifest *m, unsigned format)
{
	json_t *o, *list;
	unsigned bit;

	if ((o = json_object()) == NULL)
		return NULL;
	if (format == 2) {
		if (!set(o, "loader", json_string(m->boot_loader)) ||
		    !set(o, "arch", json_string(m->boot_arch)) ||
		    (m->menu_lst != NULL &&
		    !set(o, "menu_lst", json_string(m->menu_lst))))
			goto fail;
		return o;
	}
	if ((list = json_array()) == NULL || !set(o, "loaders", list))
		goto fail;
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1)
		if ((m->loaders & bit) != 0 && json_array_append_new(list,
		    json_string(boot_loader_name(bit))) != 0)
			goto fail;
	if ((m->boot_title != NULL &&
	    !set(o, "title", json_string(m->boot_title))) ||
	    (m->boot_kernel != NULL &&
	    !set(o, "kernel", json_string(m->boot_kernel))) ||
	    (m->boot_initrd != NULL &&
	    !set(o, "initrd", json_string(m->boot_initrd))) ||
	    (m->boot_cmdline != NULL &&
	    !set(o, "cmdline", json_string(m->boot_cmdline))) ||
	    (m->boot_root != NULL &&
	    !set(o, "root", json_string(m->boot_root))))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *
prev_encode(const struct bd_manifest *m)
{
	char hex[SHA256_HEX_BYTES];

	if (!m->has_prev)
		return json_null();
	sha256_hex(m->prev, hex);
	return json_string(hex);
}

/* Builds "keys"; NULL when ks is empty (the parse-back check names it). */
static json_t *
keyset_encode(const struct bd_keyset *ks)
{
	char b64[PUBKEY_B64_BYTES];
	json_t *o, *list;
	size_t i;

	if (ks->nkeys == 0 || ks->nkeys > MANIFEST_MAX_KEYS ||
	    (o = json_object()) == NULL)
		return NULL;
	if (!set(o, "threshold", json_integer(ks->threshold)) ||
	    (list = json_array()) == NULL || !set(o, "pubkeys", list))
		goto fail;
	for (i = 0; i < ks->nkeys; i++) {
		pubkey_to_base64(&ks->keys[i], b64);
		if (json_array_append_new(list, json_string(b64)) != 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/*
 * Serializes m's payload fields in DESIGN.md's order, then parses the
 * result back so that nothing this writes is refused by a client.
 */
enum bd_err
manifest_payload_encode(const struct bd_manifest *m, uint8_t **out,
    size_t *len)
{
	char created[TIME_RFC3339_BYTES], expires[TIME_RFC3339_BYTES];
	struct bd_manifest check = { 0 };
	json_t *root = NULL, *arts, *a, *boot;
	char *text = NULL;
	uint8_t *buf = NULL;
	size_t i, n = 0;
	unsigned format = m->format == 0 ? MANIFEST_FORMAT : m->format;
	enum bd_err rc;

	*out = NULL;
	*len = 0;
	if (format != 2 && format != 3) {
		rc = bd_fail(BD_ERR_USAGE, "no payload format %u", format);
		goto out;
	}
	if (m->version < 1 || m->version > MANIFEST_MAX_VERSION) {
		rc = bd_fail(BD_ERR_RANGE, "version %llu not in 1..%llu",
		    (unsigned long long)m->version,
		    (unsigned long long)MANIFEST_MAX_VERSION);
		goto out;
	}
	for (i = 0; i < m->nartifacts; i++) {
		if (m->artifacts[i].size > ARTIFACT_MAX_SIZE) {
			rc = bd_fail(BD_ERR_RANGE, "artifacts[%zu].size too large",
			    i);
			goto out;
		}
	}
	time_format(m->created, created);
	time_format(m->expires, expires);
	rc = BD_ERR_SCHEMA;
	if ((root = json_object()) == NULL || (arts = json_array()) == NULL ||
	    !set(root, "type", json_string(format == 2 ? MANIFEST_TYPE_2 :
	    MANIFEST_TYPE)) ||
	    !set(root, "channel", json_string(m->channel)) ||
	    !set(root, "version", json_integer((json_int_t)m->version)) ||
	    !set(root, "prev", prev_encode(m)) ||
	    !set(root, "keys", keyset_encode(&m->keys)) ||
	    !set(root, "created", json_string(created)) ||
	    !set(root, "expires", json_string(expires)) ||
	    !set(root, "artifacts", arts)) {
		rc = bd_fail(rc, "payload: missing field (or no keys)");
		goto out;
	}
	for (i = 0; i < m->nartifacts; i++) {
		if ((a = artifact_encode(&m->artifacts[i], format)) == NULL ||
		    json_array_append_new(arts, a) != 0) {
			rc = bd_fail(rc, "artifacts[%zu]: missing field, "
			    "invalid UTF-8 or conflicting sha256", i);
			goto out;
		}
	}
	if (m->has_boot) {
		if ((boot = boot_encode(m, format)) == NULL ||
		    !set(root, "boot", boot)) {
			rc = bd_fail(rc, "boot: missing field or invalid UTF-8");
			goto out;
		}
	}
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "payload");
		goto out;
	}
	n = strlen(text) + 1;	/* a trailing newline, for people who cat it */
	if (n > MANIFEST_PAYLOAD_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "payload larger than %u bytes",
		    MANIFEST_PAYLOAD_MAX_BYTES);
		goto out;
	}
	if ((buf = malloc(n)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "payload");
		goto out;
	}
	memcpy(buf, text, n - 1);
	buf[n - 1] = '\n';
	if ((rc = payload_parse(buf, n, &check)) != BD_OK)
		goto out;
	*out = buf;
	*len = n;
	buf = NULL;
out:
	manifest_clear(&check);
	free(buf);
	free(text);
	json_decref(root);
	return rc;
}

enum bd_err
manifest_trusted_comment(const struct bd_manifest *m, char *out, size_t cap)
{
	char expires[TIME_RFC3339_BYTES];
	int n;

	if (m->channel == NULL)
		return bd_fail(BD_ERR_USAGE, "manifest has no channel");
	time_format(m->expires, expires);
	n = snprintf(out, cap, "bootdrop channel=%s version=%llu expires=%s",
	    m->channel, (unsigned long long)m->version, expires);
	if (n < 0 || (size_t)n >= cap)
		return bd_fail(BD_ERR_TOOBIG, "trusted comment too long");
	return BD_OK;
}

enum bd_err
manifest_envelope_encode(const uint8_t *payload, size_t len,
    const char *const *minisigs, const uint8_t (*ids)[KEY_ID_BYTES],
    size_t n, char **out)
{
	char hex[KEY_ID_HEX_BYTES];
	json_t *root = NULL, *sigs, *s;
	char *b64 = NULL, *text = NULL;
	size_t b64_cap, i, tlen;
	enum bd_err rc = BD_OK;

	*out = NULL;
	if (n < 1 || n > MANIFEST_MAX_SIGNATURES || len == 0) {
		rc = bd_fail(BD_ERR_USAGE, "envelope needs a payload and "
		    "1..%d signatures", MANIFEST_MAX_SIGNATURES);
		goto out;
	}
	if (len > MANIFEST_PAYLOAD_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "payload larger than %u bytes",
		    MANIFEST_PAYLOAD_MAX_BYTES);
		goto out;
	}
	b64_cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(b64_cap)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "envelope");
		goto out;
	}
	sodium_bin2base64(b64, b64_cap, payload, len,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((root = json_object()) == NULL || (sigs = json_array()) == NULL ||
	    !set(root, "payload", json_string(b64)) ||
	    !set(root, "signatures", sigs)) {
		rc = bd_fail(BD_ERR_NOMEM, "envelope");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (minisigs[i] == NULL ||
		    strlen(minisigs[i]) > SIG_MINISIG_MAX_BYTES) {
			rc = bd_fail(BD_ERR_USAGE, "signature %zu missing or "
			    "too large", i);
			goto out;
		}
		keyid_hex(ids[i], hex);
		if ((s = json_object()) == NULL ||
		    json_array_append_new(sigs, s) != 0 ||
		    !set(s, "keyid", json_string(hex)) ||
		    !set(s, "minisig", json_string(minisigs[i]))) {
			rc = bd_fail(BD_ERR_FORMAT, "signature %zu not encodable",
			    i);
			goto out;
		}
	}
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "envelope");
		goto out;
	}
	tlen = strlen(text);
	if (tlen + 1 > MANIFEST_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "manifest larger than %u bytes",
		    MANIFEST_MAX_BYTES);
		goto out;
	}
	if ((*out = malloc(tlen + 2)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "envelope");
		goto out;
	}
	memcpy(*out, text, tlen);
	memcpy(*out + tlen, "\n", 2);
out:
	free(text);
	free(b64);
	json_decref(root);
	return rc;
}
