/*
 * grubenv.h - GRUB 2's environment block (boot/grub/grubenv), the one
 * file GRUB writes at boot: exactly GRUBENV_BYTES bytes, the header line,
 * then "name=value\n" lines, then '#' up to the end.  GRUB's save_env
 * overwrites the file's existing sectors and refuses one whose size
 * differs, so the client writes it in place, never a new file.
 *
 * The trial boot (doc/boot-scheme.md) keeps its record here:
 *   bootdrop_trial=N    installed, not booted yet (the client writes it)
 *   bootdrop_tried=N    booted once, not confirmed (GRUB writes it)
 *   bootdrop_failed=N   the previous entry booted since (GRUB writes it)
 *   bootdrop_good=N     confirmed (bootdrop-fetch --confirm writes it)
 *
 * The parser takes bytes another program (GRUB, grub-editenv, a damaged
 * disk) wrote: it refuses anything but the exact layout, names of
 * [A-Za-z0-9_] and values of printable ASCII without a backslash (GRUB's
 * escape character), with BD_ERR_FORMAT, and more than GRUBENV_MAX_VARS
 * variables with BD_ERR_TOOBIG.
 */
#ifndef BOOTDROP_GRUBENV_H
#define BOOTDROP_GRUBENV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GRUBENV_BYTES		1024
#define GRUBENV_HEADER		"# GRUB Environment Block\n"
#define GRUBENV_PATH		"boot/grub/grubenv"
#define GRUBENV_MAX_VARS	32
#define GRUBENV_NAME_MAX_BYTES	64
#define GRUBENV_VALUE_MAX_BYTES	256

#define GRUBENV_TRIAL		"bootdrop_trial"
#define GRUBENV_TRIED		"bootdrop_tried"
#define GRUBENV_FAILED		"bootdrop_failed"
#define GRUBENV_GOOD		"bootdrop_good"

struct grubenv_var {
	char name[GRUBENV_NAME_MAX_BYTES + 1];
	char value[GRUBENV_VALUE_MAX_BYTES + 1];
};

/* The variables, in the block's order. */
struct grubenv {
	size_t nvars;
	struct grubenv_var vars[GRUBENV_MAX_VARS];
};

/* Parses the len bytes of a block into env (see above for refusals). */
enum bd_err grubenv_parse(const uint8_t *buf, size_t len, struct grubenv *env);

/*
 * Formats env as a block of exactly GRUBENV_BYTES bytes into out;
 * BD_ERR_TOOBIG when the variables do not fit, BD_ERR_FORMAT when a name
 * or value could not be parsed back.
 */
enum bd_err grubenv_format(const struct grubenv *env,
    uint8_t out[GRUBENV_BYTES]);

/* name's value (borrowed from env), or NULL when not set. */
const char *grubenv_get(const struct grubenv *env, const char *name);

/*
 * Sets name to value (replacing it where it is, else appending);
 * BD_ERR_FORMAT for a name or value the block cannot hold, BD_ERR_TOOBIG
 * when env is full.
 */
enum bd_err grubenv_set(struct grubenv *env, const char *name,
    const char *value);

/* Removes name (nothing when it is not set). */
void grubenv_unset(struct grubenv *env, const char *name);

#endif
