/*
 * test_blsname.c - which file names are a version's BLS entry
 * (dest_bls_entry_version() in client/dest.c): exactly
 * "bootdrop-<channel>-<version>.conf", or as systemd-boot's boot counting
 * renames it ("+N", "+N-M" before ".conf"), and nothing else - so a
 * removal never takes another channel's, another version's or a user's
 * file for one of ours.  dest.c is included whole; its two destination
 * kinds are not needed here.
 */
#include "check.h"
#include "../../client/dest.c"

enum bd_err
dest_dir_new(struct dest **out)
{
	*out = NULL;
	return BD_ERR_IO;
}

enum bd_err
dest_ext2_new(struct dest **out)
{
	*out = NULL;
	return BD_ERR_IO;
}

/* name for channel: want its version (0: not an entry of channel). */
static void
entry(const char *name, const char *channel, uint64_t want)
{
	uint64_t v = 0;
	bool is = dest_bls_entry_version(name, channel, &v);

	CHECK(is == (want != 0) && (!is || v == want),
	    "\"%s\" for channel %s: %s, version %ju", name, channel,
	    is ? "an entry" : "not an entry", (uintmax_t)v);
}

int
main(void)
{
	entry("bootdrop-deb-7.conf", "deb", 7);
	entry("bootdrop-deb-7+3.conf", "deb", 7);
	entry("bootdrop-deb-7+2-1.conf", "deb", 7);
	entry("bootdrop-deb-7+0-3.conf", "deb", 7);
	entry("bootdrop-deb-12345+0.conf", "deb", 12345);
	entry("bootdrop-a-1-2.conf", "a-1", 2);
	entry("bootdrop-a-1-2.conf", "a", 0);	/* channel a-1's, not a's */
	entry("bootdrop-deb.x-7.conf", "deb", 0);
	entry("bootdrop-deb-7.conf.bak", "deb", 0);
	entry("bootdrop-deb-7+x.conf", "deb", 0);
	entry("bootdrop-deb-7+.conf", "deb", 0);
	entry("bootdrop-deb-7+1-.conf", "deb", 0);
	entry("bootdrop-deb-7+1-2-3.conf", "deb", 0);
	entry("bootdrop-deb-7-1.conf", "deb", 0);
	entry("bootdrop-deb-07.conf", "deb", 0);
	entry("bootdrop-deb-0.conf", "deb", 0);
	entry("bootdrop-deb-7+01.conf", "deb", 0);
	entry("bootdrop-deb-.conf", "deb", 0);
	entry("bootdrop-deb-7.CONF", "deb", 0);
	entry("bootdrop-deb-99999999999999999999.conf", "deb", 0);
	entry("xbootdrop-deb-7.conf", "deb", 0);
	entry("bootdrop-deb-7", "deb", 0);
	return check_done();
}
