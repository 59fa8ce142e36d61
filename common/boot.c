/*
 * boot.c - which loader can boot which kernel, and one renderer per
 * loader.  The renderers write only what they build themselves: fixed
 * keywords, install paths (already confined to [A-Za-z0-9._-/]), the
 * channel name and version number, and the title and command line,
 * quoted for the syntax or refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "manifest.h"
#include "grubenv.h"

#define PREVIOUS_SUFFIX	" (previous)"

static const struct {
	unsigned bit;
	const char *name;
} loaders[] = {
	{ BOOT_PVGRUB, "pvgrub" }, { BOOT_GRUB, "grub" }, { BOOT_BLS, "bls" },
};

const char *
boot_loader_name(unsigned loader)
{
	size_t i;

	for (i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++)
		if (loaders[i].bit == loader)
			return loaders[i].name;
	return NULL;
}

unsigned
boot_loader_parse(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(loaders) / sizeof(loaders[0]); i++)
		if (strcmp(loaders[i].name, s) == 0)
			return loaders[i].bit;
	return 0;
}

bool
boot_text_valid(const char *s, size_t max)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* Reads 1 to 3 digits at *p. */
static bool
digits(const char **p)
{
	size_t n = 0;

	while (**p >= '0' && **p <= '9' && n < 4) {
		(*p)++;
		n++;
	}
	return n >= 1 && n <= 3;
}

bool
boot_root_valid(const char *s)
{
	if (s == NULL || strncmp(s, "(hd", 3) != 0)
		return false;
	s += 3;
	if (!digits(&s))
		return false;
	if (*s == ',') {
		s++;
		if (!digits(&s))
			return false;
	}
	return strcmp(s, ")") == 0;
}

const char *
boot_pvgrub_arch(const char *image_arch)
{
	if (image_arch != NULL && strcmp(image_arch, "i386") == 0)
		return "i386";
	if (image_arch != NULL && strcmp(image_arch, "x86_64") == 0)
		return "amd64";
	return NULL;
}

/* "a Linux bzImage", "an i386 ELF kernel": the kernel, for a detail. */
static const char *
kernel_what(const struct image_info *k, char *buf, size_t cap)
{
	const char *arch = boot_pvgrub_arch(k->arch);

	if (strcmp(k->format, "bzimage") == 0)
		snprintf(buf, cap, "a Linux bzImage (%s)", k->arch);
	else
		snprintf(buf, cap, "%s %s %s kernel",
		    arch != NULL && arch[0] == 'a' ? "an" : "a",
		    arch != NULL ? arch : k->arch,
		    strcmp(k->format, "elf") == 0 ? "ELF" : "gzip-compressed ELF");
	return buf;
}

enum bd_err
boot_check_kernel(unsigned which, const struct image_info *k,
    const char *pvgrub_arch)
{
	char what[64];
	const char *arch;

	if (pvgrub_arch != NULL && strcmp(pvgrub_arch, "i386") != 0 &&
	    strcmp(pvgrub_arch, "amd64") != 0)
		return bd_fail(BD_ERR_USAGE, "--pvgrub must be i386 or amd64, "
		    "not \"%s\"", pvgrub_arch);
	if (k == NULL || k->format == NULL || k->arch == NULL)
		return bd_fail(BD_ERR_ELF, "the kernel's image facts are "
		    "unknown; no loader can be checked");
	arch = boot_pvgrub_arch(k->arch);
	if ((which & BOOT_PVGRUB) != 0 || pvgrub_arch != NULL) {
		if (!k->xen_pv)
			return bd_fail(BD_ERR_ELF, "%s with no Xen PV support: "
			    "pvgrub cannot boot it; use --loader grub",
			    kernel_what(k, what, sizeof(what)));
		if (pvgrub_arch != NULL && strcmp(pvgrub_arch, arch) != 0)
			return bd_fail(BD_ERR_ELF, "%s kernel cannot be loaded "
			    "by %s pvgrub", arch, pvgrub_arch);
	}
	if ((which & BOOT_BLS) != 0 &&
	    (strcmp(k->format, "bzimage") != 0 || !k->efi))
		return bd_fail(BD_ERR_ELF, "%s has no EFI stub: systemd-boot "
		    "(bls) cannot boot it; use --loader grub",
		    kernel_what(k, what, sizeof(what)));
	return BD_OK;
}

/* True when word w (length n) appears in cmdline as a word or a key= prefix. */
static bool
has_word(const char *cmdline, const char *w)
{
	size_t n = strlen(w);
	const char *p = cmdline;

	while ((p = strstr(p, w)) != NULL) {
		if ((p == cmdline || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == ',' ||
		    w[n - 1] == '='))
			return true;
		p += n;
	}
	return false;
}

const char *
boot_cmdline_os(const char *cmdline)
{
	static const char *const freebsd[] = {
		"vfs.root.mountfrom=", "kern.hz=", "machdep.", "boot_verbose",
		"boot_single", "bootverbose=", NULL
	};
	static const char *const linux_words[] = {
		"root=", "console=", "ro", "rw", "init=", "quiet", "rootfstype=",
		"systemd.unit=", "earlyprintk=", NULL
	};
	size_t i;

	if (cmdline == NULL)
		return NULL;
	for (i = 0; freebsd[i] != NULL; i++)
		if (has_word(cmdline, freebsd[i]))
			return "FreeBSD";
	for (i = 0; linux_words[i] != NULL; i++)
		if (has_word(cmdline, linux_words[i]))
			return "Linux";
	return NULL;
}

/* A capped text buffer (curl's dynbuf idea): full means refused. */
struct text {
	char *buf;
	size_t len;
	bool full;
};

static void
emit(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
emit(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, BOOT_RENDER_MAX_BYTES - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= BOOT_RENDER_MAX_BYTES - t->len)
		t->full = true;
	else
		t->len += (size_t)n;
}

/* GRUB 2 single quotes: everything literal, ' written as '\''. */
static void
emit_grub_quoted(struct text *t, const char *s, size_t n)
{
	size_t i;

	emit(t, "'");
	for (i = 0; i < n; i++) {
		if (s[i] == '\'')
			emit(t, "'\\''");
		else
			emit(t, "%c", s[i]);
	}
	emit(t, "'");
}

/* The checks every renderer makes of an entry. */
static enum bd_err
entry_check(const struct boot_entry *e, const char *loader)
{
	if (!boot_text_valid(e->title, BOOT_TITLE_MAX_BYTES) ||
	    e->title[0] == '\0')
		return bd_fail(BD_ERR_SCHEMA, "%s: version %llu's title is "
		    "empty, longer than %u bytes or not printable ASCII",
		    loader, (unsigned long long)e->version,
		    BOOT_TITLE_MAX_BYTES);
	if (!boot_text_valid(e->cmdline, BOOT_CMDLINE_MAX_BYTES))
		return bd_fail(BD_ERR_SCHEMA, "%s: version %llu's command line "
		    "is longer than %u bytes or not printable ASCII", loader,
		    (unsigned long long)e->version, BOOT_CMDLINE_MAX_BYTES);
	if (e->kernel == NULL || e->kernel[0] == '\0' ||
	    strlen(e->kernel) > BOOT_PATH_BYTES ||
	    strspn(e->kernel, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
	    "WXYZ0123456789._-/") != strlen(e->kernel) ||
	    (e->initrd != NULL && (e->initrd[0] == '\0' ||
	    strlen(e->initrd) > BOOT_PATH_BYTES ||
	    strspn(e->initrd, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
	    "WXYZ0123456789._-/") != strlen(e->initrd))))
		return bd_fail(BD_ERR_PATH, "%s: version %llu's kernel or initrd "
		    "path is not an install path", loader,
		    (unsigned long long)e->version);
	return BD_OK;
}

/*
 * Legacy GRUB (pvgrub) reads a line's rest as the title or the kernel's
 * arguments, so any printable text is carried; blanks and '=' between
 * a command and its argument are skipped by it, so a title starting with
 * one is refused.
 */
static enum bd_err
render_pvgrub(const struct boot_config *c, struct text *t)
{
	const struct boot_entry *e;
	size_t i;

	for (i = 0; i < c->nentries; i++) {
		e = &c->entries[i];
		if (e->title[0] == ' ' || e->title[0] == '=')
			return bd_fail(BD_ERR_SCHEMA, "pvgrub: a title starting "
			    "with a blank or '=' cannot be written in menu.lst "
			    "(legacy GRUB skips them)");
	}
	emit(t, "# %s version %llu, written by bootdrop-fetch\n", c->channel,
	    (unsigned long long)c->entries[0].version);
	emit(t, "timeout 5\ndefault 0\n");
	if (c->nentries > 1)
		emit(t, "fallback 1\n");
	for (i = 0; i < c->nentries; i++) {
		e = &c->entries[i];
		emit(t, "\ntitle %s%s\nroot %s\nkernel /%s%s%s\n", e->title,
		    i > 0 ? PREVIOUS_SUFFIX : "", c->root, e->kernel,
		    e->cmdline[0] != '\0' ? " " : "", e->cmdline);
		if (e->initrd != NULL)
			emit(t, "initrd /%s\n", e->initrd);
	}
	return BD_OK;
}

/*
 * The trial boot (doc/boot-scheme.md): grubenv's bootdrop_trial=N means N
 * was installed and not yet booted.  GRUB boots it once, recording
 * bootdrop_tried=N first, and the previous entry on every later boot
 * until bootdrop-fetch --confirm writes the block without either; the
 * first of those fallback boots records bootdrop_failed=N, so that a
 * --confirm run by the previous version knows N is not what runs.  When
 * the first save_env fails, N is not booted unrecorded: the previous
 * entry boots.
 */
static void
emit_grub_trial(struct text *t, uint64_t n)
{
	unsigned long long v = (unsigned long long)n;

	emit(t, "# Trial boot: grubenv's " GRUBENV_TRIAL "=N means not yet "
	    "booted; boot it once,\n"
	    "# recorded as " GRUBENV_TRIED "=N, and the previous entry on every "
	    "later boot\n"
	    "# until bootdrop-fetch --confirm clears both.  No record written, "
	    "no trial.\n"
	    "if load_env -f \"${config_directory}/grubenv\" " GRUBENV_TRIAL
	    " " GRUBENV_TRIED " " GRUBENV_FAILED "; then\n");
	emit(t, "\tif [ \"${" GRUBENV_TRIAL "}\" = \"%llu\" ]; then\n"
	    "\t\tset " GRUBENV_TRIAL "=\n"
	    "\t\tset " GRUBENV_TRIED "=%llu\n"
	    "\t\tif save_env -f \"${config_directory}/grubenv\" "
	    GRUBENV_TRIAL " " GRUBENV_TRIED "; then\n"
	    "\t\t\tset default=0\n"
	    "\t\telse\n"
	    "\t\t\tset default=1\n"
	    "\t\tfi\n"
	    "\telif [ \"${" GRUBENV_TRIED "}\" = \"%llu\" ]; then\n"
	    "\t\tset default=1\n"
	    "\t\tif [ \"${" GRUBENV_FAILED "}\" != \"%llu\" ]; then\n"
	    "\t\t\tset " GRUBENV_FAILED "=%llu\n"
	    "\t\t\tsave_env -f \"${config_directory}/grubenv\" "
	    GRUBENV_FAILED "\n"
	    "\t\tfi\n"
	    "\tfi\n"
	    "fi\n", v, v, v, v, v);
}

/*
 * GRUB 2: the title is one single-quoted word; the command line is split
 * at spaces into single-quoted words, which GRUB's linux command joins
 * with one space.  GRUB puts a backslash before every ', " and \ it passes
 * to a kernel, so a command line holding one is refused.
 */
static enum bd_err
render_grub(const struct boot_config *c, struct text *t)
{
	const struct boot_entry *e;
	const char *p, *w;
	size_t i;

	for (i = 0; i < c->nentries; i++)
		if (strpbrk(c->entries[i].cmdline, "'\"\\") != NULL)
			return bd_fail(BD_ERR_SCHEMA, "grub: version %llu's command "
			    "line holds a quote or backslash, which GRUB passes "
			    "to the kernel with a backslash added",
			    (unsigned long long)c->entries[i].version);
	emit(t, "# %s version %llu, written by bootdrop-fetch\n", c->channel,
	    (unsigned long long)c->entries[0].version);
	emit(t, "set timeout=5\nset default=0\n");
	if (c->nentries > 1) {
		emit(t, "set fallback=1\n");
		emit_grub_trial(t, c->entries[0].version);
	}
	for (i = 0; i < c->nentries; i++) {
		e = &c->entries[i];
		emit(t, "\nmenuentry ");
		emit_grub_quoted(t, e->title, strlen(e->title));
		if (i > 0)
			emit(t, "'" PREVIOUS_SUFFIX "'");
		emit(t, " --id 'bootdrop-%s-%llu' {\n\tlinux /%s", c->channel,
		    (unsigned long long)e->version, e->kernel);
		for (p = e->cmdline; *p != '\0';) {
			if (*p == ' ') {
				p++;
				continue;
			}
			w = p;
			while (*p != '\0' && *p != ' ')
				p++;
			emit(t, " ");
			emit_grub_quoted(t, w, (size_t)(p - w));
		}
		emit(t, "\n");
		if (e->initrd != NULL)
			emit(t, "\tinitrd /%s\n", e->initrd);
		emit(t, "}\n");
	}
	return BD_OK;
}

/*
 * A Boot Loader Specification type 1 entry: "key value" lines, the value
 * the rest of the line with surrounding blanks stripped by readers, so a
 * title or command line with leading or trailing blanks is refused.
 * systemd-boot sorts entries of one sort-key by version, newest first.
 */
static enum bd_err
render_bls(const struct boot_config *c, const struct boot_entry *e,
    bool previous, struct text *t)
{
	size_t tl = strlen(e->title), cl = strlen(e->cmdline);

	if (e->title[0] == ' ' || e->title[tl - 1] == ' ' ||
	    (cl > 0 && (e->cmdline[0] == ' ' || e->cmdline[cl - 1] == ' ')))
		return bd_fail(BD_ERR_SCHEMA, "bls: version %llu's title or "
		    "command line starts or ends with a blank, which a BLS "
		    "entry cannot carry", (unsigned long long)e->version);
	emit(t, "# %s version %llu, written by bootdrop-fetch\n", c->channel,
	    (unsigned long long)e->version);
	emit(t, "title %s%s\nversion %llu\nsort-key bootdrop-%s\nlinux /%s\n",
	    e->title, previous ? PREVIOUS_SUFFIX : "",
	    (unsigned long long)e->version, c->channel, e->kernel);
	if (e->initrd != NULL)
		emit(t, "initrd /%s\n", e->initrd);
	if (cl > 0)
		emit(t, "options %s\n", e->cmdline);
	return BD_OK;
}

void
boot_files_free(struct boot_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(files[i].text);
		files[i].text = NULL;
	}
}

enum bd_err
boot_render(unsigned loader, const struct boot_config *c,
    struct boot_file files[BOOT_MAX_ENTRIES], size_t *n)
{
	const char *name = boot_loader_name(loader);
	struct text t = { 0 };
	size_t i, nfiles = loader == BOOT_BLS ? c->nentries : 1;
	enum bd_err rc = BD_OK;

	*n = 0;
	memset(files, 0, sizeof(*files) * BOOT_MAX_ENTRIES);
	if (name == NULL || c->nentries < 1 || c->nentries > BOOT_MAX_ENTRIES)
		return bd_fail(BD_ERR_USAGE, "no such loader, or not 1 or 2 "
		    "entries");
	if (c->channel == NULL || strlen(c->channel) > 64 ||
	    strspn(c->channel, "abcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(c->channel) || !boot_root_valid(c->root))
		return bd_fail(BD_ERR_SCHEMA, "%s: bad channel or root", name);
	for (i = 0; i < c->nentries; i++)
		if ((rc = entry_check(&c->entries[i], name)) != BD_OK)
			return rc;
	for (i = 0; i < nfiles && rc == BD_OK; i++) {
		if ((t.buf = malloc(BOOT_RENDER_MAX_BYTES)) == NULL) {
			rc = bd_fail(BD_ERR_NOMEM, "%s", name);
			break;
		}
		t.len = 0;
		t.full = false;
		if (loader == BOOT_PVGRUB) {
			snprintf(files[i].path, BOOT_PATH_BYTES, "%s",
			    BOOT_MENU_LST_PATH);
			rc = render_pvgrub(c, &t);
		} else if (loader == BOOT_GRUB) {
			snprintf(files[i].path, BOOT_PATH_BYTES, "%s",
			    BOOT_GRUB_CFG_PATH);
			rc = render_grub(c, &t);
		} else {
			/* the new version, when there is a previous one to
			 * fall back to, carries systemd-boot's counter */
			snprintf(files[i].path, BOOT_PATH_BYTES,
			    BOOT_BLS_DIR "/bootdrop-%s-%llu%s.conf", c->channel,
			    (unsigned long long)c->entries[i].version,
			    i == 0 && c->nentries > 1 ? BOOT_BLS_TRIES : "");
			rc = render_bls(c, &c->entries[i], i > 0, &t);
		}
		files[i].text = t.buf;
		files[i].len = t.len;
		*n = i + 1;
		if (rc == BD_OK && t.full)
			rc = bd_fail(BD_ERR_TOOBIG, "%s: more than %u bytes",
			    name, BOOT_RENDER_MAX_BYTES);
	}
	if (rc != BD_OK) {
		boot_files_free(files, *n);
		*n = 0;
	}
	return rc;
}

/* Reads 1 to 3 digits at *p into *v. */
static bool
counter_digits(const char **p, unsigned *v)
{
	const char *s = *p;

	*v = 0;
	if (!digits(p))
		return false;
	for (; s < *p; s++)
		*v = *v * 10 + (unsigned)(*s - '0');
	return true;
}

bool
boot_bls_counted_path(const char *path, const char *channel,
    const uint64_t *version, unsigned *left)
{
	char plain[BOOT_PATH_BYTES], want[BOOT_PATH_BYTES];
	const char *plus, *p;
	unsigned l, d;
	size_t n;

	if (path == NULL || (plus = strrchr(path, '+')) == NULL ||
	    (n = (size_t)(plus - path)) + sizeof(".conf") > sizeof(plain))
		return false;
	p = plus + 1;
	if (!counter_digits(&p, &l) || (*p == '-' && (p++,
	    !counter_digits(&p, &d))) || strcmp(p, ".conf") != 0)
		return false;
	memcpy(plain, path, n);
	memcpy(plain + n, ".conf", sizeof(".conf"));
	if (strncmp(plain, BOOT_BLS_DIR "/bootdrop-",
	    sizeof(BOOT_BLS_DIR "/bootdrop-") - 1) != 0 ||
	    strchr(plain, '+') != NULL || !install_path_valid(plain))
		return false;
	if (version != NULL && (snprintf(want, sizeof(want), BOOT_BLS_DIR
	    "/bootdrop-%s-%llu.conf", channel != NULL ? channel : "",
	    (unsigned long long)*version) >= (int)sizeof(want) ||
	    strcmp(want, plain) != 0))
		return false;
	if (left != NULL)
		*left = l;
	return true;
}
