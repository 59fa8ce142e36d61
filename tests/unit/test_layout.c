/*
 * test_layout.c - the repository's one grammar (common/layout.c): channel
 * names, version files, blob names, and the paths built from them parse
 * back to what built them.
 */
#include <stdint.h>

#include "check.h"
#include "layout.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
kind(const char *rel, enum layout_kind want)
{
	struct layout_ref r;

	CHECK(layout_parse(rel, &r) == want, "layout_parse(\"%s\") is %d", rel,
	    (int)want);
}

int
main(void)
{
	char path[LAYOUT_PATH_BYTES], file[LAYOUT_FILE_BYTES];
	char longest[CHANNEL_MAX_BYTES + 1];
	struct layout_ref r;
	uint64_t v = 0;

	CHECK_THAT(channel_name_valid("freebsd-9.0-i386"));
	CHECK_THAT(channel_name_valid("0"));
	CHECK_THAT(!channel_name_valid(""));
	CHECK_THAT(!channel_name_valid(".hidden"));
	CHECK_THAT(!channel_name_valid("-x"));
	CHECK_THAT(!channel_name_valid("Upper"));
	CHECK_THAT(!channel_name_valid("a/b"));
	memset(longest, 'a', CHANNEL_MAX_BYTES);
	longest[CHANNEL_MAX_BYTES] = '\0';
	CHECK(channel_name_valid(longest), "a %d-byte channel name is valid",
	    CHANNEL_MAX_BYTES);
	CHECK_THAT(!channel_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));

	CHECK_THAT(layout_hex_valid(H64));
	CHECK_THAT(!layout_hex_valid(H64 "0"));
	CHECK_THAT(!layout_hex_valid("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
	CHECK_THAT(!layout_hex_valid("0123"));

	CHECK_THAT(layout_version_file_parse("1.json", &v) && v == 1);
	CHECK_THAT(layout_version_file_parse("9007199254740992.json", &v) &&
	    v == LAYOUT_VERSION_MAX);
	CHECK_THAT(!layout_version_file_parse("9007199254740993.json", &v));
	CHECK_THAT(!layout_version_file_parse("99999999999999999999.json", &v));
	CHECK_THAT(!layout_version_file_parse("0.json", &v));
	CHECK_THAT(!layout_version_file_parse("01.json", &v));
	CHECK_THAT(!layout_version_file_parse("+1.json", &v));
	CHECK_THAT(!layout_version_file_parse("1.json.tmp", &v));
	CHECK_THAT(!layout_version_file_parse("1", &v));
	CHECK_THAT(!layout_version_file_parse(".1.json.1234abcd.tmp", &v));
	CHECK_THAT(layout_manifest_file_valid("manifest.json"));
	CHECK_THAT(layout_manifest_file_valid("12.json"));
	CHECK_THAT(!layout_manifest_file_valid("../manifest.json"));
	CHECK_THAT(!layout_manifest_file_valid("manifest.json.tmp"));

	kind("channels/a/", LAYOUT_CHANNEL);
	kind("channels/a", LAYOUT_CHANNEL_BARE);
	kind("channels/a/manifest.json", LAYOUT_MANIFEST);
	kind("channels/a/7.json", LAYOUT_VERSION);
	kind("blobs/sha256/" H64, LAYOUT_BLOB);
	kind("blobs/sha256/" H64 "/", LAYOUT_NONE);
	kind("blobs/sha256/", LAYOUT_NONE);
	kind("channels/", LAYOUT_NONE);
	kind("channels//", LAYOUT_NONE);
	kind("channels/../manifest.json", LAYOUT_NONE);
	kind("channels/a/b/manifest.json", LAYOUT_NONE);
	kind("channels/a/manifest.json/", LAYOUT_NONE);
	kind("channels/a/0.json", LAYOUT_NONE);
	kind("blobs/md5/" H64, LAYOUT_NONE);
	kind("", LAYOUT_NONE);

	/* Every builder's output parses back to its arguments. */
	layout_blob_path(H64, path);
	CHECK(strcmp(path, "blobs/sha256/" H64) == 0, "blob path %s", path);
	CHECK_THAT(layout_parse(path, &r) == LAYOUT_BLOB &&
	    strcmp(r.hex, H64) == 0);
	layout_manifest_path(longest, path);
	CHECK_THAT(layout_parse(path, &r) == LAYOUT_MANIFEST &&
	    strcmp(r.channel, longest) == 0);
	layout_version_path(longest, LAYOUT_VERSION_MAX, path);
	CHECK(layout_parse(path, &r) == LAYOUT_VERSION &&
	    r.version == LAYOUT_VERSION_MAX && strcmp(r.channel, longest) == 0,
	    "the longest versioned path %s fits and parses back", path);
	layout_channel_dir("c", path);
	CHECK(strcmp(path, "channels/c") == 0, "channel dir %s", path);
	layout_version_file(42, file);
	CHECK_THAT(strcmp(file, "42.json") == 0);
	layout_version_file(LAYOUT_VERSION_MAX, file);
	CHECK_THAT(layout_version_file_parse(file, &v) && v == LAYOUT_VERSION_MAX);
	return check_done();
}
