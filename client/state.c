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
	    sha256_parse_hex(v, st->payload_sha256) != BD_OK || *p != '\0')
		return bd_fail(BD_ERR_FORMAT, "%s: bad payload-sha256 line",
		    channel);
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
	char hex[SHA256_HEX_BYTES];
	int n;

	*len = 0;
	sha256_hex(st->payload_sha256, hex);
	n = snprintf(text, STATE_MAX_BYTES, STATE_MAGIC "\nchannel=%s\n"
	    "version=%" PRIu64 "\npayload-sha256=%s\n", channel, st->version,
	    hex);
	if (n < 0 || n >= STATE_MAX_BYTES)
		return bd_fail(BD_ERR_IO, "%s: state too long", channel);
	*len = (size_t)n;
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
