#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static _Thread_local char detail[512];

static const char *const messages[BD_ERR__COUNT] = {
	[BD_OK] = "success",
	[BD_ERR_USAGE] = "usage error",
	[BD_ERR_NOMEM] = "out of memory",
	[BD_ERR_IO] = "I/O error",
	[BD_ERR_EXISTS] = "file exists",
	[BD_ERR_PASSPHRASE] = "wrong passphrase",
	[BD_ERR_INPUT] = "cannot read input",
	[BD_ERR_NETWORK] = "network error",
	[BD_ERR_HTTP] = "server error",
	[BD_ERR_TOOBIG] = "size limit exceeded",
	[BD_ERR_FORMAT] = "malformed input",
	[BD_ERR_BASE64] = "invalid base64",
	[BD_ERR_ALG] = "unsupported algorithm",
	[BD_ERR_KEYID] = "signature made by an untrusted key",
	[BD_ERR_SIG] = "signature verification failed",
	[BD_ERR_GLOBALSIG] = "trusted comment signature verification failed",
	[BD_ERR_THRESHOLD] = "signature threshold not met",
	[BD_ERR_JSON] = "invalid JSON",
	[BD_ERR_SCHEMA] = "manifest schema violation",
	[BD_ERR_RANGE] = "number out of range",
	[BD_ERR_PATH] = "path not allowed",
	[BD_ERR_COMMENT] = "trusted comment disagrees with payload",
	[BD_ERR_CHANNEL] = "manifest is for another channel",
	[BD_ERR_TYPE] = "unknown manifest type",
	[BD_ERR_EXPIRED] = "manifest expired",
	[BD_ERR_ROLLBACK] = "rollback refused",
	[BD_ERR_EQUIVOCATION] = "equivocation refused",
	[BD_ERR_HASH] = "sha256 mismatch",
	[BD_ERR_SIZE] = "size mismatch",
	[BD_ERR_ELF] = "kernel ELF refused",
	[BD_ERR_CHAIN] = "broken chain of versions",
	[BD_ERR_NOSPACE] = "not enough room",
	[BD_ERR_NOTFS] = "not an ext2/3/4 file system",
};

const char *
bd_strerror(enum bd_err rc)
{
	if ((unsigned)rc >= BD_ERR__COUNT || messages[rc] == NULL)
		return "unknown error";
	return messages[rc];
}

enum bd_err
bd_fail(enum bd_err rc, const char *fmt, ...)
{
	va_list ap;

	char *p;

	char buf[sizeof(detail)];

	/* Formats aside first: the arguments may quote the old detail. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(detail, buf, sizeof(detail));
	/* Details quote untrusted names: never let them steer a terminal. */
	for (p = detail; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return rc;
}

const char *
bd_err_detail(void)
{
	return detail;
}

void
bd_err_clear(void)
{
	detail[0] = '\0';
}

/*
 * Every error has its exit status here, and no default: with
 * -Wswitch and -Wswitch-enum made errors, an error added without one
 * does not build.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
#pragma GCC diagnostic error "-Wswitch-enum"
int
bd_err_exit_status(enum bd_err rc)
{
	switch (rc) {
	case BD_OK:
		return 0;
	case BD_ERR_USAGE:
	case BD_ERR_PASSPHRASE:
	case BD_ERR_INPUT:
		return 1;
	case BD_ERR_NETWORK:
	case BD_ERR_HTTP:
		return 2;
	case BD_ERR_TOOBIG:
	case BD_ERR_FORMAT:
	case BD_ERR_BASE64:
	case BD_ERR_ALG:
	case BD_ERR_KEYID:
	case BD_ERR_SIG:
	case BD_ERR_GLOBALSIG:
	case BD_ERR_THRESHOLD:
	case BD_ERR_JSON:
	case BD_ERR_SCHEMA:
	case BD_ERR_RANGE:
	case BD_ERR_PATH:
	case BD_ERR_COMMENT:
	case BD_ERR_CHANNEL:
	case BD_ERR_TYPE:
	case BD_ERR_EXPIRED:
	case BD_ERR_ROLLBACK:
	case BD_ERR_EQUIVOCATION:
	case BD_ERR_HASH:
	case BD_ERR_SIZE:
	case BD_ERR_ELF:
	case BD_ERR_CHAIN:
		return 3;
	case BD_ERR_NOMEM:
	case BD_ERR_IO:
	case BD_ERR_EXISTS:
	case BD_ERR_NOSPACE:
	case BD_ERR_NOTFS:
		return 4;
	case BD_ERR__COUNT:
		break;
	}
	return 3;	/* not an error code: refuse, as before */
}
#pragma GCC diagnostic pop
