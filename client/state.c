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
state_load(int dirfd, const char *channel, struct bd_state *st)
{
	uint8_t *buf = NULL;
	size_t len;
	char *p, *end;
	const char *v;
	enum bd_err rc = BD_OK;

	memset(st, 0, sizeof(*st));
	if (dirfd < 0)
		return BD_OK;
	if (faccessat(dirfd, channel, F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT)
		return BD_OK;
	if ((rc = file_read_capped(dirfd, channel, STATE_MAX_BYTES, &buf,
	    &len)) != BD_OK)
		goto out;
	p = (char *)buf;
	if (strlen(p) != len || strncmp(p, STATE_MAGIC "\n",
	    sizeof(STATE_MAGIC)) != 0) {
		rc = bd_fail(BD_ERR_FORMAT, "%s: not a bootdrop state file",
		    channel);
		goto out;
	}
	p += sizeof(STATE_MAGIC);
	if ((v = state_field(&p, "channel")) == NULL || strcmp(v, channel)) {
		rc = bd_fail(BD_ERR_FORMAT, "%s: bad channel line", channel);
		goto out;
	}
	if ((v = state_field(&p, "version")) == NULL || *v < '1' ||
	    *v > '9') {
		rc = bd_fail(BD_ERR_FORMAT, "%s: bad version line", channel);
		goto out;
	}
	errno = 0;
	st->version = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || st->version > MANIFEST_MAX_VERSION) {
		rc = bd_fail(BD_ERR_FORMAT, "%s: bad version", channel);
		goto out;
	}
	if ((v = state_field(&p, "payload-sha256")) == NULL ||
	    sha256_parse_hex(v, st->payload_sha256) != BD_OK || *p != '\0') {
		rc = bd_fail(BD_ERR_FORMAT, "%s: bad payload-sha256 line",
		    channel);
		goto out;
	}
	st->present = true;
out:
	free(buf);
	return rc;
}

enum bd_err
state_save(int dirfd, const char *channel, const struct bd_state *st)
{
	char text[STATE_MAX_BYTES], hex[SHA256_HEX_BYTES];
	int n;

	sha256_hex(st->payload_sha256, hex);
	n = snprintf(text, sizeof(text), STATE_MAGIC "\nchannel=%s\n"
	    "version=%" PRIu64 "\npayload-sha256=%s\n", channel, st->version,
	    hex);
	if (n < 0 || (size_t)n >= sizeof(text))
		return bd_fail(BD_ERR_IO, "%s: state too long", channel);
	return file_write_atomic(dirfd, channel, text, (size_t)n, 0644, false);
}
