/*
 * bootread.h - strict readers of what common/boot.c renders, written from
 * each syntax's own rules (not from the renderer), for the unit tests and
 * tests/fuzz/fuzz_boot.c:
 *
 *   menu.lst   legacy GRUB: one command per line, "title" starts an entry,
 *              the rest of a line is its argument (leading blanks dropped)
 *   grub.cfg   GRUB 2 script words: blanks separate, '...' literal,
 *              "..." with \ escapes, \x outside quotes, $ expands (refused
 *              here: a rendered file never expands anything), { } ; and #
 *   BLS        Boot Loader Specification type 1: "key value" lines, # and
 *              blank lines ignored, known keys only, title/version/linux/
 *              sort-key once, linux required
 *
 * Each fills a list of entries (title, kernel, initrd, cmdline as the
 * kernel would receive it) or returns false for anything it does not
 * accept.  Header-only, static functions: one test program includes it.
 */
#ifndef BOOTDROP_BOOTREAD_H
#define BOOTDROP_BOOTREAD_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define BR_MAX_ENTRIES	8
#define BR_TEXT		2048

struct br_entry {
	char title[BR_TEXT];
	char kernel[BR_TEXT];
	char initrd[BR_TEXT];
	char cmdline[BR_TEXT];
};

struct br_config {
	size_t n;
	unsigned long long trial;	/* grub.cfg: the version on trial, or 0 */
	struct br_entry e[BR_MAX_ENTRIES];
};

/* Copies [s, s+n) into out (BR_TEXT); false when it does not fit. */
static bool
br_copy(char *out, const char *s, size_t n)
{
	if (n >= BR_TEXT)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* Appends word to out with one space between words. */
static bool
br_append(char *out, const char *word)
{
	size_t l = strlen(out), w = strlen(word);

	if (l + w + 2 >= BR_TEXT)
		return false;
	if (l > 0)
		out[l++] = ' ';
	memcpy(out + l, word, w + 1);
	return true;
}

/* Legacy GRUB's menu.lst. */
static bool
br_menu_lst(const char *text, size_t len, struct br_config *c)
{
	const char *p = text, *end = text + len, *eol, *arg;
	struct br_entry *e = NULL;
	char cmd[32];
	size_t n;

	memset(c, 0, sizeof(*c));
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			return false;	/* rendered files end with a newline */
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		if (p == eol || *p == '#') {
			p = eol + 1;
			continue;
		}
		n = strcspn(p, " \t=\n");
		if (n >= sizeof(cmd) || p + n > eol)
			return false;
		memcpy(cmd, p, n);
		cmd[n] = '\0';
		arg = p + n;
		while (arg < eol && (*arg == ' ' || *arg == '\t' || *arg == '='))
			arg++;
		if (strcmp(cmd, "title") == 0) {
			if (c->n == BR_MAX_ENTRIES)
				return false;
			e = &c->e[c->n++];
			if (!br_copy(e->title, arg, (size_t)(eol - arg)))
				return false;
		} else if (strcmp(cmd, "kernel") == 0 && e != NULL) {
			n = strcspn(arg, " \n");
			if (!br_copy(e->kernel, arg, n) || arg + n > eol)
				return false;
			arg += n;
			if (arg < eol)
				arg++;
			if (!br_copy(e->cmdline, arg, (size_t)(eol - arg)))
				return false;
		} else if (strcmp(cmd, "initrd") == 0 && e != NULL) {
			if (!br_copy(e->initrd, arg, (size_t)(eol - arg)))
				return false;
		} else if (strcmp(cmd, "root") != 0 && e != NULL)
			return false;	/* only root/kernel/initrd in an entry */
		else if (e == NULL && strcmp(cmd, "timeout") != 0 &&
		    strcmp(cmd, "default") != 0 && strcmp(cmd, "fallback") != 0)
			return false;
		p = eol + 1;
	}
	return true;
}

/*
 * One GRUB 2 word at *p (blanks skipped first) into out; *p advances.
 * Returns 1 for a word, 0 at the end of the line, -1 on refusal.
 * A bare { } or ; is returned as that word with *special set.
 */
static int
br_grub_word(const char **p, const char *eol, char *out, bool *special)
{
	const char *s = *p;
	size_t n = 0;
	bool any = false;

	*special = false;
	while (s < eol && (*s == ' ' || *s == '\t'))
		s++;
	if (s == eol || *s == '#') {
		*p = eol;
		return 0;
	}
	if (*s == '{' || *s == '}' || *s == ';') {
		out[0] = *s;
		out[1] = '\0';
		*special = true;
		*p = s + 1;
		return 1;
	}
	while (s < eol && *s != ' ' && *s != '\t' && *s != ';' &&
	    *s != '{' && *s != '}') {
		if (*s == '$' || *s == '|' || *s == '&' || *s == '<' ||
		    *s == '>')
			return -1;	/* expansion or a metacharacter */
		if (*s == '\'') {
			const char *q = memchr(s + 1, '\'', (size_t)(eol - s - 1));

			if (q == NULL || n + (size_t)(q - s - 1) >= BR_TEXT)
				return -1;
			memcpy(out + n, s + 1, (size_t)(q - s - 1));
			n += (size_t)(q - s - 1);
			s = q + 1;
		} else if (*s == '"') {
			for (s++; s < eol && *s != '"'; s++) {
				if (*s == '$')
					return -1;
				if (*s == '\\' && s + 1 < eol)
					s++;
				if (n + 1 >= BR_TEXT)
					return -1;
				out[n++] = *s;
			}
			if (s == eol)
				return -1;
			s++;
		} else {
			if (*s == '\\') {
				if (s + 1 >= eol)
					return -1;
				s++;
			}
			if (n + 1 >= BR_TEXT)
				return -1;
			out[n++] = *s++;
		}
		any = true;
	}
	if (!any)
		return -1;
	out[n] = '\0';
	*p = s;
	return 1;
}

/*
 * GRUB 2's trial block (doc/boot-scheme.md), the one place a grub.cfg may
 * expand a variable: only exactly these lines, for one decimal N, are
 * accepted, N stored in *trial.  Returns the bytes it spans, or 0.
 */
static size_t
br_grub_trial(const char *p, const char *end, unsigned long long *trial)
{
	static char want[2048];
	const char *key = "\tif [ \"${bootdrop_trial}\" = \"";
	const char *head = "if load_env -f \"${config_directory}/grubenv\" "
	    "bootdrop_trial bootdrop_tried bootdrop_failed; then\n";
	const char *q;
	unsigned long long n = 0;
	size_t hl = strlen(head), kl = strlen(key), d = 0, wl;
	int r;

	if ((size_t)(end - p) < hl + kl || memcmp(p, head, hl) != 0 ||
	    memcmp(p + hl, key, kl) != 0)
		return 0;
	for (q = p + hl + kl; q < end && *q >= '0' && *q <= '9' && d < 19;
	    q++, d++)
		n = n * 10 + (unsigned long long)(*q - '0');
	if (d == 0 || n == 0 || p[hl + kl] == '0')
		return 0;
	r = snprintf(want, sizeof(want), "%s"
	    "\tif [ \"${bootdrop_trial}\" = \"%llu\" ]; then\n"
	    "\t\tset bootdrop_trial=\n"
	    "\t\tset bootdrop_tried=%llu\n"
	    "\t\tif save_env -f \"${config_directory}/grubenv\" "
	    "bootdrop_trial bootdrop_tried; then\n"
	    "\t\t\tset default=0\n\t\telse\n\t\t\tset default=1\n\t\tfi\n"
	    "\telif [ \"${bootdrop_tried}\" = \"%llu\" ]; then\n"
	    "\t\tset default=1\n"
	    "\t\tif [ \"${bootdrop_failed}\" != \"%llu\" ]; then\n"
	    "\t\t\tset bootdrop_failed=%llu\n"
	    "\t\t\tsave_env -f \"${config_directory}/grubenv\" "
	    "bootdrop_failed\n\t\tfi\n"
	    "\tfi\nfi\n", head, n, n, n, n, n);
	if (r < 0 || (size_t)r >= sizeof(want))
		return 0;
	wl = (size_t)r;
	if ((size_t)(end - p) < wl || memcmp(p, want, wl) != 0)
		return 0;
	*trial = n;
	return wl;
}

/* GRUB 2's grub.cfg, the subset a renderer may write. */
static bool
br_grub_cfg(const char *text, size_t len, struct br_config *c)
{
	static char w[BR_TEXT];
	const char *p = text, *end = text + len, *eol, *q;
	struct br_entry *e = NULL;
	bool special, first;
	int r;

	memset(c, 0, sizeof(*c));
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			return false;
		if (*p == 'i' && e == NULL && c->n == 0 && c->trial == 0) {
			size_t tl = br_grub_trial(p, end, &c->trial);

			if (tl == 0)
				return false;
			p += tl;
			continue;
		}
		q = p;
		first = true;
		while ((r = br_grub_word(&q, eol, w, &special)) == 1) {
			if (special && w[0] == '}' && e != NULL && first) {
				e = NULL;
				first = false;
				continue;
			}
			if (!first || special)
				return false;
			first = false;
			if (strcmp(w, "menuentry") == 0 && e == NULL) {
				if (c->n == BR_MAX_ENTRIES ||
				    br_grub_word(&q, eol, w, &special) != 1 ||
				    special)
					return false;
				e = &c->e[c->n++];
				strcpy(e->title, w);
				if (br_grub_word(&q, eol, w, &special) != 1 ||
				    strcmp(w, "--id") != 0 ||
				    br_grub_word(&q, eol, w, &special) != 1 ||
				    special ||
				    br_grub_word(&q, eol, w, &special) != 1 ||
				    !special || w[0] != '{')
					return false;
			} else if (strcmp(w, "linux") == 0 && e != NULL) {
				if (br_grub_word(&q, eol, w, &special) != 1 ||
				    special)
					return false;
				strcpy(e->kernel, w);
				while ((r = br_grub_word(&q, eol, w,
				    &special)) == 1 && !special)
					if (!br_append(e->cmdline, w))
						return false;
				if (r != 0)
					return false;
			} else if (strcmp(w, "initrd") == 0 && e != NULL) {
				if (br_grub_word(&q, eol, w, &special) != 1 ||
				    special)
					return false;
				strcpy(e->initrd, w);
			} else if (strcmp(w, "set") == 0 && e == NULL) {
				if (br_grub_word(&q, eol, w, &special) != 1 ||
				    (strncmp(w, "timeout=", 8) != 0 &&
				    strncmp(w, "default=", 8) != 0 &&
				    strncmp(w, "fallback=", 9) != 0))
					return false;
			} else
				return false;
		}
		if (r != 0)
			return false;
		p = eol + 1;
	}
	return e == NULL;
}

/* One BLS type 1 entry file, as one entry appended to c. */
static bool
br_bls(const char *text, size_t len, struct br_config *c)
{
	static const char *const keys[] = {
		"title", "version", "machine-id", "sort-key", "linux", "initrd",
		"efi", "options", "devicetree", "devicetree-overlay",
		"architecture", NULL
	};
	const char *p = text, *end = text + len, *eol, *v, *ve;
	struct br_entry *e;
	char key[32];
	unsigned seen = 0;
	size_t n, k;

	if (c->n == BR_MAX_ENTRIES)
		return false;
	e = &c->e[c->n];
	memset(e, 0, sizeof(*e));
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			return false;
		if (p == eol || *p == '#') {
			p = eol + 1;
			continue;
		}
		n = strcspn(p, " \t\n");
		if (n == 0 || n >= sizeof(key) || p + n >= eol)
			return false;	/* a key, blanks, then a value */
		memcpy(key, p, n);
		key[n] = '\0';
		for (k = 0; keys[k] != NULL && strcmp(keys[k], key) != 0; k++)
			;
		if (keys[k] == NULL)
			return false;
		v = p + n;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		ve = eol;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (v == ve)
			return false;
		if (k <= 4 || k == 6) {	/* single-valued keys */
			if ((seen & (1u << k)) != 0)
				return false;
			seen |= 1u << k;
		}
		if (k == 0 && !br_copy(e->title, v, (size_t)(ve - v)))
			return false;
		if (k == 4 && !br_copy(e->kernel, v, (size_t)(ve - v)))
			return false;
		if (k == 5 && (e->initrd[0] != '\0' ||
		    !br_copy(e->initrd, v, (size_t)(ve - v))))
			return false;
		if (k == 7) {
			char opt[BR_TEXT];

			if (!br_copy(opt, v, (size_t)(ve - v)) ||
			    !br_append(e->cmdline, opt))
				return false;
		}
		p = eol + 1;
	}
	if ((seen & (1u << 4)) == 0)
		return false;	/* a type 1 entry boots a linux or efi image */
	c->n++;
	return true;
}

#endif
