/*
 * fuzz_names.c - the repository's name grammar (common/layout.c) fed
 * arbitrary bytes: repository paths, version files ("<n>.json", n in
 * 1..LAYOUT_VERSION_MAX, no leading zero) and channel names.  Each parser
 * is compared with a reference written here another way (strtoull,
 * strspn over a character set), and every accepted path must be the one
 * the path builders write, so a parser that accepts a name the grammar
 * refuses, or the other way round, stops the run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference: is s the canonical "<n>.json" of some n in range? */
static bool
ref_version_name(const char *s, uint64_t *v)
{
	char again[32];
	unsigned long long n;
	char *end;

	if (s[0] < '1' || s[0] > '9')
		return false;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || n > LAYOUT_VERSION_MAX || strcmp(end, ".json") != 0)
		return false;
	snprintf(again, sizeof(again), "%llu.json", n);
	if (strcmp(again, s) != 0)
		return false;
	*v = n;
	return true;
}

/* Reference: [a-z0-9][a-z0-9._-]{0,63}. */
static bool
ref_channel_name(const char *s)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static const char rest[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
	size_t n = strlen(s);

	return n >= 1 && n <= 64 && strchr(first, s[0]) != NULL &&
	    strspn(s, rest) == n;
}

/* Reference: the kind of rel, filling what it names. */
static enum layout_kind
ref_layout(const char *rel, char *channel, uint64_t *v, const char **hex)
{
	const char *rest, *slash;
	size_t clen;

	if (strncmp(rel, "blobs/sha256/", 13) == 0) {
		*hex = rel + 13;
		return strlen(*hex) == 64 && strspn(*hex, "0123456789abcdef") == 64 ?
		    LAYOUT_BLOB : LAYOUT_NONE;
	}
	if (strncmp(rel, "channels/", 9) != 0)
		return LAYOUT_NONE;
	rest = rel + 9;
	slash = strchr(rest, '/');
	clen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (clen > 64)
		return LAYOUT_NONE;
	memcpy(channel, rest, clen);
	channel[clen] = '\0';
	if (!ref_channel_name(channel))
		return LAYOUT_NONE;
	if (slash == NULL)
		return LAYOUT_CHANNEL_BARE;
	if (slash[1] == '\0')
		return LAYOUT_CHANNEL;
	if (strcmp(slash + 1, "manifest.json") == 0)
		return LAYOUT_MANIFEST;
	return ref_version_name(slash + 1, v) ? LAYOUT_VERSION : LAYOUT_NONE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char channel[65], path[LAYOUT_PATH_BYTES], file[LAYOUT_FILE_BYTES];
	struct layout_ref ref;
	enum layout_kind kind;
	uint64_t v = 0, want = 0;
	const char *hex = NULL;
	bool ok;
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* As a file name in a channel directory. */
	ok = layout_version_file_parse(s, &v);
	if (ok != ref_version_name(s, &want) || (ok && v != want))
		__builtin_trap();
	if (ok) {
		layout_version_file(v, file);
		if (strcmp(file, s) != 0)
			__builtin_trap();
	}
	if (layout_manifest_file_valid(s) != (ok || strcmp(s, "manifest.json") == 0))
		__builtin_trap();
	if (channel_name_valid(s) != ref_channel_name(s))
		__builtin_trap();

	/* As a path below the repository root. */
	kind = layout_parse(s, &ref);
	if (kind != ref_layout(s, channel, &want, &hex))
		__builtin_trap();
	path[0] = '\0';
	switch (kind) {
	case LAYOUT_BLOB:
		if (strcmp(ref.hex, hex) != 0)
			__builtin_trap();
		layout_blob_path(ref.hex, path);
		break;
	case LAYOUT_CHANNEL:
	case LAYOUT_CHANNEL_BARE:
		layout_channel_dir(ref.channel, path);
		if (kind == LAYOUT_CHANNEL)
			strcat(path, "/");
		break;
	case LAYOUT_MANIFEST:
		layout_manifest_path(ref.channel, path);
		break;
	case LAYOUT_VERSION:
		if (ref.version != want)
			__builtin_trap();
		layout_version_path(ref.channel, ref.version, path);
		break;
	case LAYOUT_NONE:
		break;
	}
	/* Whatever is accepted is exactly what the builders write. */
	if (kind != LAYOUT_NONE && (strcmp(path, s) != 0 ||
	    (kind != LAYOUT_BLOB && strcmp(ref.channel, channel) != 0)))
		__builtin_trap();
	free(s);
	return 0;
}
