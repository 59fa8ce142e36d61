/*
 * layout.c - repository names and paths.  See layout.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"

bool
channel_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || !((s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= CHANNEL_MAX_BYTES)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	}
	return true;
}

bool
layout_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; i < LAYOUT_HEX_BYTES; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

bool
layout_version_file_parse(const char *name, uint64_t *version)
{
	uint64_t n = 0;
	size_t i;

	if (name[0] < '1' || name[0] > '9')
		return false;
	for (i = 0; name[i] >= '0' && name[i] <= '9'; i++) {
		if (i >= 16)	/* 2^53 has 16 digits */
			return false;
		n = n * 10 + (uint64_t)(name[i] - '0');
	}
	if (strcmp(name + i, ".json") != 0 || n > LAYOUT_VERSION_MAX)
		return false;
	*version = n;
	return true;
}

bool
layout_manifest_file_valid(const char *name)
{
	uint64_t v;

	return strcmp(name, LAYOUT_MANIFEST_FILE) == 0 ||
	    layout_version_file_parse(name, &v);
}

enum layout_kind
layout_parse(const char *rel, struct layout_ref *ref)
{
	static const char blobs[] = LAYOUT_BLOBS_DIR "/";
	static const char channels[] = LAYOUT_CHANNELS_DIR "/";
	enum layout_kind kind = LAYOUT_NONE;
	const char *rest, *slash;
	size_t clen;

	memset(ref, 0, sizeof(*ref));
	if (strncmp(rel, blobs, sizeof(blobs) - 1) == 0) {
		rest = rel + sizeof(blobs) - 1;
		if (layout_hex_valid(rest)) {
			memcpy(ref->hex, rest, LAYOUT_HEX_BYTES + 1);
			kind = LAYOUT_BLOB;
		}
	} else if (strncmp(rel, channels, sizeof(channels) - 1) == 0) {
		rest = rel + sizeof(channels) - 1;
		slash = strchr(rest, '/');
		clen = slash == NULL ? strlen(rest) : (size_t)(slash - rest);
		if (clen == 0 || clen > CHANNEL_MAX_BYTES)
			goto out;
		memcpy(ref->channel, rest, clen);
		ref->channel[clen] = '\0';
		if (!channel_name_valid(ref->channel))
			goto out;
		if (slash == NULL)
			kind = LAYOUT_CHANNEL_BARE;
		else if (slash[1] == '\0')
			kind = LAYOUT_CHANNEL;
		else if (strcmp(slash + 1, LAYOUT_MANIFEST_FILE) == 0)
			kind = LAYOUT_MANIFEST;
		else if (layout_version_file_parse(slash + 1, &ref->version))
			kind = LAYOUT_VERSION;
	}
out:
	if (kind == LAYOUT_NONE)
		memset(ref, 0, sizeof(*ref));
	return kind;
}

void
layout_blob_path(const char *hex, char out[LAYOUT_PATH_BYTES])
{
	snprintf(out, LAYOUT_PATH_BYTES, LAYOUT_BLOBS_DIR "/%s", hex);
}

void
layout_channel_dir(const char *channel, char out[LAYOUT_PATH_BYTES])
{
	snprintf(out, LAYOUT_PATH_BYTES, LAYOUT_CHANNELS_DIR "/%s", channel);
}

void
layout_manifest_path(const char *channel, char out[LAYOUT_PATH_BYTES])
{
	snprintf(out, LAYOUT_PATH_BYTES, LAYOUT_CHANNELS_DIR "/%s/"
	    LAYOUT_MANIFEST_FILE, channel);
}

void
layout_version_path(const char *channel, uint64_t version,
    char out[LAYOUT_PATH_BYTES])
{
	snprintf(out, LAYOUT_PATH_BYTES, LAYOUT_CHANNELS_DIR "/%s/%" PRIu64
	    ".json", channel, version);
}

void
layout_version_file(uint64_t version, char out[LAYOUT_FILE_BYTES])
{
	snprintf(out, LAYOUT_FILE_BYTES, "%" PRIu64 ".json", version);
}
