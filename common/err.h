/*
 * err.h - the one result code threaded through every common/ function.
 *
 * common/ never prints and never exits.  A function that fails returns a
 * bd_err and may record a short detail (which field, which file) with
 * bd_fail(); the program's main() prints bd_strerror() and bd_err_detail()
 * once and picks the exit status with bd_err_exit_status().
 */
#ifndef BOOTDROP_ERR_H
#define BOOTDROP_ERR_H

#include <stddef.h>

enum bd_err {
	BD_OK = 0,
	/* local / usage */
	BD_ERR_USAGE,		/* bad argument or configuration */
	BD_ERR_NOMEM,
	BD_ERR_IO,		/* read/write/open failed (errno in detail) */
	BD_ERR_EXISTS,		/* refusing to overwrite */
	BD_ERR_PASSPHRASE,	/* wrong passphrase (key checksum mismatch) */
	BD_ERR_INPUT,		/* an input file named by the user is unreadable */
	/* network / server (used by the fetch client) */
	BD_ERR_NETWORK,
	BD_ERR_HTTP,
	/* verification refused */
	BD_ERR_TOOBIG,		/* size cap exceeded */
	BD_ERR_FORMAT,		/* malformed key, signature or envelope */
	BD_ERR_BASE64,		/* base64 invalid or wrong decoded length */
	BD_ERR_ALG,		/* unsupported signature or KDF algorithm */
	BD_ERR_KEYID,		/* signature made by another key */
	BD_ERR_SIG,		/* signature does not verify */
	BD_ERR_GLOBALSIG,	/* trusted comment signature does not verify */
	BD_ERR_THRESHOLD,	/* too few distinct trusted keys verified */
	BD_ERR_JSON,		/* payload is not valid JSON */
	BD_ERR_SCHEMA,		/* missing, unknown or mistyped field */
	BD_ERR_RANGE,		/* number out of range */
	BD_ERR_PATH,		/* install path or name not allowed */
	BD_ERR_COMMENT,		/* trusted comment disagrees with payload */
	BD_ERR_CHANNEL,		/* manifest is for another channel */
	BD_ERR_TYPE,		/* unknown manifest type */
	BD_ERR_EXPIRED,
	BD_ERR_ROLLBACK,	/* version older than the one accepted */
	BD_ERR_EQUIVOCATION,	/* same version, different bytes */
	BD_ERR_HASH,		/* sha256 mismatch */
	BD_ERR_SIZE,		/* wrong artifact size */
	BD_ERR_ELF,		/* not an ELF executable, or wrong arch */
	BD_ERR_CHAIN,		/* not a valid successor: version, prev or keys */
	/* local, after the rest so their numbers stay */
	BD_ERR_NOSPACE,		/* the destination is too small */
	BD_ERR_NOTFS,		/* --ext2 target holds no ext2/3/4 file system */
	BD_ERR__COUNT
};

/* Returns a static, human-readable description of rc. */
const char *bd_strerror(enum bd_err rc);

/*
 * Records a detail for the failure being returned (printf-style) and
 * returns rc, so callers write `return bd_fail(BD_ERR_PATH, "%s", p);`.
 * The detail is per thread and overwritten by the next bd_fail().
 */
enum bd_err bd_fail(enum bd_err rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns the detail recorded by the last bd_fail() in this thread, or "". */
const char *bd_err_detail(void);

/* Clears the detail (call before an operation whose detail you will print). */
void bd_err_clear(void);

/*
 * DESIGN.md's exit statuses: 1 usage/configuration (an unreadable input
 * file included), 2 network/server,
 * 3 verification refused, 4 local write error.  BD_OK maps to 0.
 */
int bd_err_exit_status(enum bd_err rc);

#endif
