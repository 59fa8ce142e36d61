/*
 * fetch.c - bootdrop-fetch: verify everything first, then install onto the
 * boot slice.
 *
 *   bootdrop-fetch (-P KEY | -p PUBFILE)... [-t THRESHOLD] -c CHANNEL
 *                  (-d DESTDIR | --ext2 DEVICE_OR_IMAGE) [options] URL...
 *
 * Order (DESIGN.md): manifest (capped) -> signatures and threshold ->
 * payload -> expiry -> rollback/equivocation against the slice's state ->
 * every artifact to DESTDIR/.bootdrop/tmp, capped and hashed as it streams
 * -> kernel ELF facts -> fsync, rename into place, menu.lst, fsync
 * directories -> state.  Nothing in DESTDIR but .bootdrop/tmp changes
 * before the renames.  Exit: 0 installed or current, 1 usage, 2 network or
 * server, 3 verification refused, 4 local write error.
 *
 * With --ext2 the boot slice is an unmounted ext2 file system (client/
 * ext2.h).  It is opened at the start to read its state and check the
 * install paths, then closed - having written nothing - before the
 * artifacts are downloaded into a private host directory (--tmpdir), so no
 * libext2fs handle with cached bitmaps is held across a long download
 * while something else might mount or repair the device.  After every
 * verification it is opened again, its state must still be the one the
 * manifest was judged against, and the files, menu.lst and state are
 * written; ext2_close() makes them durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "download.h"
#include "elf.h"
#include "layout.h"
#include "ext2.h"
#include "fsutil.h"
#include "install.h"
#include "key.h"
#include "manifest.h"
#include "progress.h"
#include "state.h"
#include "timefmt.h"

#define FETCH_MAX_KEYS			MANIFEST_MAX_SIGNATURES
#define FETCH_CONNECT_TIMEOUT_SECONDS	30
#define FETCH_LOW_SPEED_SECONDS		30
#define FETCH_TIMEOUT_MAX_SECONDS	86400
#define FETCH_WHAT_BYTES		160
#define FETCH_WHERE_BYTES		(DL_URL_MAX_BYTES + 64)
#define FETCH_DETAIL_BYTES		512
#define MENU_LST_INSTALL_PATH		"boot/grub/menu.lst"

struct options {
	struct bd_pubkey keys[FETCH_MAX_KEYS];
	size_t nkeys;
	unsigned threshold;
	const char *channel;
	const char *destdir;
	const char *statedir;	/* --state; NULL: DESTDIR/.bootdrop/state */
	const char *only;
	const char *ext2;	/* --ext2 DEVICE_OR_IMAGE; NULL: -d */
	const char *tmpdir;	/* --tmpdir (--ext2 only) */
	const char *pvgrub;	/* --pvgrub i386|amd64, or NULL */
	const char *target;	/* DESTDIR or the ext2 device, for messages */
	bool check, allow_expired, quiet, json;
	struct dl_options dl;
	time_t now;
	char *mirrors[DL_MAX_MIRRORS];
	size_t nmirrors;
};

/* One run: what is open, what was made, and the failure to report. */
struct run {
	struct options o;
	struct report r;
	struct dl *dl;
	struct bd_manifest *m;
	const char *manifest_url;
	char manifest_url_buf[DL_URL_MAX_BYTES];
	struct bd_state state;
	char state_where[FETCH_WHERE_BYTES];
	int destfd, statefd, bootdropfd, tmpfd;
	bool made_bootdrop, made_tmp;
	struct ext2_target *ext2;	/* open only while reading or writing */
	int hostdirfd;			/* --ext2: the --tmpdir directory */
	char hosttmp[32];		/* --ext2: our directory below it */
	bool selected[MANIFEST_MAX_ARTIFACTS];
	int fds[MANIFEST_MAX_ARTIFACTS];
	bool fetched[MANIFEST_MAX_ARTIFACTS];
	/* the failure */
	enum bd_err rc;
	char what[FETCH_WHAT_BYTES];
	char where[FETCH_WHERE_BYTES];
	char detail[FETCH_DETAIL_BYTES];
};

/* Records a failure (what, where, and bd_err_detail()); returns rc. */
static enum bd_err
run_fail(struct run *run, enum bd_err rc, const char *where,
    const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum bd_err
run_fail(struct run *run, enum bd_err rc, const char *where,
    const char *detail, const char *fmt, ...)
{
	va_list ap;

	run->rc = rc;
	va_start(ap, fmt);
	vsnprintf(run->what, sizeof(run->what), fmt, ap);
	va_end(ap);
	snprintf(run->where, sizeof(run->where), "%s",
	    where != NULL ? where : "");
	snprintf(run->detail, sizeof(run->detail), "%s",
	    detail != NULL ? detail : bd_err_detail());
	return rc;
}

static void
usage(FILE *f)
{
	fputs(
"usage: bootdrop-fetch (-P KEY | -p PUBFILE)... [-t THRESHOLD] -c CHANNEL\n"
"                      (-d DESTDIR | --ext2 DEVICE_OR_IMAGE) [options]\n"
"                      URL [URL ...]\n"
"\n"
"Verifies CHANNEL's signed manifest from the repository at URL (further\n"
"URLs are mirrors, tried in order), downloads and verifies every artifact,\n"
"and only then installs them under DESTDIR or into the unmounted ext2 file\n"
"system on DEVICE_OR_IMAGE.\n"
"\n"
"  -P, --pubkey KEY         trusted public key (base64, as minisign prints)\n"
"  -p, --pubkey-file FILE   trusted public key file\n"
"  -t, --threshold N        distinct trusted keys that must sign (default 1)\n"
"  -c, --channel CHANNEL    channel to fetch\n"
"  -d, --destdir DIR        boot slice to install into\n"
"      --ext2 DEV           install into the unmounted ext2 file system on\n"
"                           DEV (a device or an image file) instead\n"
"      --tmpdir DIR         with --ext2: download into DIR/bootdrop-fetch.UID\n"
"                           (default $TMPDIR, else /tmp)\n"
"      --pvgrub ARCH        the kernel must be loadable by an ARCH pvgrub\n"
"                           (i386 or amd64)\n"
"      --check              verify the manifest, print the plan, write nothing\n"
"      --only NAME          fetch and install only artifact NAME\n"
"      --allow-expired      accept an expired manifest (warns)\n"
"      --state DIR          keep the accepted-version state in DIR\n"
"                           (default DESTDIR/.bootdrop/state)\n"
"      --cacert FILE        CA certificates for https\n"
"      --connect-timeout S  connect timeout in seconds (default 30)\n"
"      --low-speed-time S   abort a transfer slower than 1 KiB/s for S\n"
"                           seconds (default 30)\n"
"  -q, --quiet              no messages but errors\n"
"      --json               one JSON object per line on stdout\n"
"  -h, --help               this help\n"
"  -V, --version            print the version\n"
"\n"
"Exit status: 0 installed or up to date, 1 usage, 2 network or server\n"
"error, 3 verification refused, 4 local write error.\n", f);
}

/* Parses a positive number of seconds (1..FETCH_TIMEOUT_MAX_SECONDS). */
static bool
seconds_parse(const char *s, long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 ||
	    v > FETCH_TIMEOUT_MAX_SECONDS)
		return false;
	*out = (long)v;
	return true;
}

/* Copies a repository base URL, http(s) only, trailing slashes dropped. */
static enum bd_err
mirror_add(struct options *o, const char *url)
{
	size_t n = strlen(url);

	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		return bd_fail(BD_ERR_USAGE, "only http:// and https:// URLs");
	if (n > DL_URL_MAX_BYTES / 2)
		return bd_fail(BD_ERR_USAGE, "URL too long");
	if (strpbrk(url, " \t\r\n") != NULL)
		return bd_fail(BD_ERR_USAGE, "URL contains white space");
	if (o->nmirrors == DL_MAX_MIRRORS)
		return bd_fail(BD_ERR_USAGE, "more than %d URLs",
		    DL_MAX_MIRRORS);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if ((o->mirrors[o->nmirrors] = strndup(url, n)) == NULL)
		return BD_ERR_NOMEM;
	o->nmirrors++;
	return BD_OK;
}

enum {
	OPT_CHECK = 256, OPT_ONLY, OPT_ALLOW_EXPIRED, OPT_STATE, OPT_CACERT,
	OPT_CONNECT_TIMEOUT, OPT_LOW_SPEED_TIME, OPT_JSON, OPT_NOW, OPT_EXT2,
	OPT_TMPDIR, OPT_PVGRUB
};

/*
 * Parses argv into run->o.  Returns BD_OK, BD_ERR_USAGE (failure recorded
 * in run) or, for --help/--version, BD_OK with *done set.
 */
static enum bd_err
options_parse(struct run *run, int argc, char **argv, bool *done)
{
	static const struct option longopts[] = {
		{ "pubkey", required_argument, NULL, 'P' },
		{ "pubkey-file", required_argument, NULL, 'p' },
		{ "threshold", required_argument, NULL, 't' },
		{ "channel", required_argument, NULL, 'c' },
		{ "destdir", required_argument, NULL, 'd' },
		{ "ext2", required_argument, NULL, OPT_EXT2 },
		{ "tmpdir", required_argument, NULL, OPT_TMPDIR },
		{ "pvgrub", required_argument, NULL, OPT_PVGRUB },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "allow-expired", no_argument, NULL, OPT_ALLOW_EXPIRED },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "connect-timeout", required_argument, NULL,
		    OPT_CONNECT_TIMEOUT },
		{ "low-speed-time", required_argument, NULL,
		    OPT_LOW_SPEED_TIME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		/* Testing only: the clock expiry is judged against. */
		{ "now", required_argument, NULL, OPT_NOW },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct options *o = &run->o;
	const char *threshold = NULL;
	unsigned long long v;
	char *end;
	enum bd_err rc;
	int ch, i;

	*done = false;
	o->dl.connect_timeout = FETCH_CONNECT_TIMEOUT_SECONDS;
	o->dl.low_speed_time = FETCH_LOW_SPEED_SECONDS;
	o->now = time(NULL);
	while ((ch = getopt_long(argc, argv, "P:p:t:c:d:qhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'P':
		case 'p':
			if (o->nkeys == FETCH_MAX_KEYS)
				return run_fail(run, BD_ERR_USAGE, optarg, "",
				    "more than %d keys", FETCH_MAX_KEYS);
			rc = ch == 'P' ?
			    pubkey_from_base64(&o->keys[o->nkeys], optarg) :
			    pubkey_load_file(&o->keys[o->nkeys], optarg);
			if (rc != BD_OK)
				return run_fail(run, BD_ERR_USAGE, optarg, NULL,
				    "bad public key: %s", bd_strerror(rc));
			o->nkeys++;
			break;
		case 't':
			threshold = optarg;
			break;
		case 'c':
			o->channel = optarg;
			break;
		case 'd':
			o->destdir = optarg;
			break;
		case OPT_EXT2:
			o->ext2 = optarg;
			break;
		case OPT_TMPDIR:
			o->tmpdir = optarg;
			break;
		case OPT_PVGRUB:
			if (elf_pvgrub_arch(optarg) == NULL)
				return run_fail(run, BD_ERR_USAGE, optarg, "",
				    "--pvgrub must be i386 or amd64");
			o->pvgrub = optarg;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case OPT_ONLY:
			o->only = optarg;
			break;
		case OPT_ALLOW_EXPIRED:
			o->allow_expired = true;
			break;
		case OPT_STATE:
			o->statedir = optarg;
			break;
		case OPT_CACERT:
			o->dl.cacert = optarg;
			break;
		case OPT_CONNECT_TIMEOUT:
		case OPT_LOW_SPEED_TIME:
			if (!seconds_parse(optarg, ch == OPT_CONNECT_TIMEOUT ?
			    &o->dl.connect_timeout : &o->dl.low_speed_time))
				return run_fail(run, BD_ERR_USAGE, optarg, "",
				    "%s needs 1..%d seconds",
				    ch == OPT_CONNECT_TIMEOUT ?
				    "--connect-timeout" : "--low-speed-time",
				    FETCH_TIMEOUT_MAX_SECONDS);
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_NOW:
			if (time_parse(optarg, &o->now) != BD_OK)
				return run_fail(run, BD_ERR_USAGE, optarg, "",
				    "--now needs YYYY-MM-DDTHH:MM:SSZ");
			break;
		case 'h':
			usage(stdout);
			*done = true;
			return BD_OK;
		case 'V':
			printf("bootdrop-fetch %s\n", BOOTDROP_VERSION);
			*done = true;
			return BD_OK;
		default:
			return run_fail(run, BD_ERR_USAGE, NULL, "",
			    "bad option (see --help)");
		}
	}
	if (o->nkeys == 0)
		return run_fail(run, BD_ERR_USAGE, NULL, "",
		    "no trusted key: give -P KEY or -p PUBFILE");
	if (o->channel == NULL || !channel_name_valid(o->channel))
		return run_fail(run, BD_ERR_USAGE, o->channel, "",
		    "-c CHANNEL missing or not [a-z0-9][a-z0-9._-]{0,63}");
	if ((o->destdir == NULL) == (o->ext2 == NULL))
		return run_fail(run, BD_ERR_USAGE, NULL, "", o->ext2 == NULL ?
		    "-d DESTDIR or --ext2 DEVICE_OR_IMAGE missing" :
		    "-d and --ext2 exclude each other");
	if (o->ext2 != NULL && o->statedir != NULL)
		return run_fail(run, BD_ERR_USAGE, NULL, "", "--state is for "
		    "-d; with --ext2 the state is kept in the file system");
	if (o->ext2 == NULL && o->tmpdir != NULL)
		return run_fail(run, BD_ERR_USAGE, NULL, "", "--tmpdir is for "
		    "--ext2; -d downloads into DESTDIR/" BOOTDROP_DIR "/"
		    TMP_SUBDIR);
	if (o->ext2 != NULL && o->tmpdir == NULL) {
		o->tmpdir = getenv("TMPDIR");
		if (o->tmpdir == NULL || o->tmpdir[0] == '\0')
			o->tmpdir = "/tmp";
	}
	o->target = o->ext2 != NULL ? o->ext2 : o->destdir;
	if (o->only != NULL && !artifact_name_valid(o->only))
		return run_fail(run, BD_ERR_USAGE, o->only, "",
		    "--only: not an artifact name");
	o->threshold = 1;
	if (threshold != NULL) {
		errno = 0;
		v = strtoull(threshold, &end, 10);
		if (*threshold < '0' || *threshold > '9' || errno != 0 ||
		    *end != '\0' || v < 1 || v > o->nkeys)
			return run_fail(run, BD_ERR_USAGE, threshold, "",
			    "-t THRESHOLD must be 1..%zu (the number of keys)",
			    o->nkeys);
		o->threshold = (unsigned)v;
	}
	if (optind == argc)
		return run_fail(run, BD_ERR_USAGE, NULL, "",
		    "no repository URL");
	for (i = optind; i < argc; i++)
		if ((rc = mirror_add(o, argv[i])) != BD_OK)
			return run_fail(run, rc == BD_ERR_NOMEM ? rc :
			    BD_ERR_USAGE, argv[i], "", "bad URL: %s",
			    bd_err_detail());
	return BD_OK;
}

/*
 * Opens name below dirfd as a real directory without creating it; *fd is
 * -1 when it does not exist.
 */
static enum bd_err
subdir_open(int dirfd, const char *name, int *fd)
{
	*fd = -1;
	if (dirfd < 0)
		return BD_OK;
	*fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (*fd >= 0 || errno == ENOENT)
		return BD_OK;
	if (errno == ELOOP || errno == ENOTDIR)
		return bd_fail(BD_ERR_PATH, "%s is a symlink or not a "
		    "directory", name);
	return bd_fail(BD_ERR_IO, "%s: %s", name, strerror(errno));
}

/* The state of the channel kept in the open ext2 file system. */
static enum bd_err
ext2_state_read(struct run *run, struct bd_state *st)
{
	char path[INSTALL_PATH_MAX_BYTES + 1];
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), BOOTDROP_DIR "/" STATE_SUBDIR "/%s",
	    run->o.channel);
	if ((rc = ext2_read_file(run->ext2, path, STATE_MAX_BYTES, &buf,
	    &len)) == BD_OK && buf != NULL)
		rc = state_parse(run->o.channel, buf, len, st);
	free(buf);
	return rc;
}

/*
 * --ext2: opens the file system and reads the state (written to nothing;
 * the target stays open until the install paths are checked).
 */
static enum bd_err
ext2_run_open(struct run *run)
{
	const struct options *o = &run->o;
	enum bd_err rc;

	snprintf(run->state_where, sizeof(run->state_where),
	    "%s:/" BOOTDROP_DIR "/" STATE_SUBDIR "/%s", o->ext2, o->channel);
	if ((rc = ext2_open(o->ext2, &run->ext2)) != BD_OK)
		return run_fail(run, rc, o->ext2, NULL,
		    "cannot open ext2 file system");
	if ((rc = ext2_state_read(run, &run->state)) != BD_OK)
		return run_fail(run, rc, run->state_where, NULL,
		    "cannot read state");
	return BD_OK;
}

/* Opens DESTDIR and the state directory (nothing is created). */
static enum bd_err
run_open(struct run *run)
{
	const struct options *o = &run->o;
	enum bd_err rc;

	if (o->ext2 != NULL)
		return ext2_run_open(run);
	run->destfd = open(o->destdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->destfd < 0 && !(o->check && errno == ENOENT))
		return run_fail(run, BD_ERR_IO, o->destdir, strerror(errno),
		    "cannot open destination directory");
	if (o->statedir != NULL) {
		snprintf(run->state_where, sizeof(run->state_where), "%s/%s",
		    o->statedir, o->channel);
		run->statefd = open(o->statedir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (run->statefd < 0 && errno != ENOENT)
			return run_fail(run, BD_ERR_IO, o->statedir,
			    strerror(errno), "cannot open state directory");
	} else {
		snprintf(run->state_where, sizeof(run->state_where),
		    "%s/" BOOTDROP_DIR "/" STATE_SUBDIR "/%s", o->destdir,
		    o->channel);
		if ((rc = subdir_open(run->destfd, BOOTDROP_DIR,
		    &run->bootdropfd)) != BD_OK ||
		    (rc = subdir_open(run->bootdropfd, STATE_SUBDIR,
		    &run->statefd)) != BD_OK)
			return run_fail(run, rc, run->state_where, NULL,
			    "cannot open state directory");
	}
	if ((rc = state_load(run->statefd, o->channel, &run->state)) != BD_OK)
		return run_fail(run, rc, run->state_where, NULL,
		    "cannot read state");
	return BD_OK;
}

enum verdict { MANIFEST_NEW, MANIFEST_CURRENT };

/*
 * Fetches and verifies the manifest from one mirror and judges it against
 * the state.  BD_OK with *verdict, or a failure recorded in run.
 */
static enum bd_err
manifest_try(struct run *run, const char *mirror, enum verdict *verdict)
{
	const struct options *o = &run->o;
	struct bd_trust trust = { o->keys, o->nkeys, o->threshold };
	char *url = run->manifest_url_buf, when[TIME_RFC3339_BYTES];
	char rel[LAYOUT_PATH_BYTES];
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc;

	manifest_free(run->m);
	run->m = NULL;
	layout_manifest_path(o->channel, rel);
	if (snprintf(url, DL_URL_MAX_BYTES, "%s/%s", mirror, rel) >=
	    DL_URL_MAX_BYTES)
		return run_fail(run, BD_ERR_USAGE, mirror, "", "URL too long");
	if ((rc = dl_get_buf(run->dl, url, MANIFEST_MAX_BYTES, &buf, &len)) !=
	    BD_OK) {
		run_fail(run, rc, url, dl_detail(run->dl), rc == BD_ERR_TOOBIG ?
		    "manifest refused" : "manifest download failed");
		goto out;
	}
	bd_err_clear();
	if ((rc = manifest_verify_load(buf, len, &trust, o->channel,
	    &run->m)) != BD_OK) {
		run_fail(run, rc, url, NULL, "manifest refused");
		goto out;
	}
	time_format(run->m->expires, when);
	if ((rc = manifest_check_fresh(run->m, o->now)) != BD_OK) {
		if (!o->allow_expired) {
			run_fail(run, rc, url, "", "manifest refused");
			snprintf(run->detail, sizeof(run->detail), "expired at "
			    "%s (--allow-expired overrides)", when);
			goto out;
		}
		report_warn(&run->r, "manifest expired at %s; accepted because "
		    "of --allow-expired", when);
		rc = BD_OK;
	}
	if (run->state.present) {
		char hex[SHA256_HEX_BYTES];

		sha256_hex(run->state.payload_sha256, hex);
		if (run->m->version < run->state.version) {
			rc = run_fail(run, BD_ERR_ROLLBACK, url, "", "manifest "
			    "refused");
			snprintf(run->detail, sizeof(run->detail), "version %"
			    PRIu64 " is older than the accepted version %"
			    PRIu64, run->m->version, run->state.version);
			goto out;
		}
		if (run->m->version == run->state.version &&
		    sodium_memcmp(run->m->payload_sha256,
		    run->state.payload_sha256, SHA256_BYTES) != 0) {
			rc = run_fail(run, BD_ERR_EQUIVOCATION, url, "",
			    "manifest refused");
			snprintf(run->detail, sizeof(run->detail), "version %"
			    PRIu64 " was accepted with payload sha256 %s; this "
			    "one differs", run->m->version, hex);
			goto out;
		}
	}
	*verdict = run->state.present && run->m->version == run->state.version ?
	    MANIFEST_CURRENT : MANIFEST_NEW;
	run->manifest_url = url;
	report_manifest(&run->r, o->channel, run->m->version, when, url,
	    run->m->nsigners);
out:
	free(buf);
	return rc;
}

/* Tries every mirror in order for a manifest this slice can accept. */
static enum bd_err
manifest_fetch(struct run *run, enum verdict *verdict)
{
	enum bd_err rc = BD_ERR_NETWORK;
	size_t i;

	for (i = 0; i < run->o.nmirrors; i++) {
		if ((rc = manifest_try(run, run->o.mirrors[i], verdict)) ==
		    BD_OK) {
			run->rc = BD_OK;	/* earlier mirrors' failures */
			break;
		}
		if (i + 1 < run->o.nmirrors && !run->o.quiet)
			report_warn(&run->r, "%s (%s): %s: %s; trying the next "
			    "mirror", run->what, run->where, bd_strerror(rc),
			    run->detail);
	}
	return rc;
}

/* Marks the artifacts this run installs; --only must name one. */
static enum bd_err
artifacts_select(struct run *run)
{
	const struct bd_manifest *m = run->m;
	size_t i, n = 0;

	for (i = 0; i < m->nartifacts; i++) {
		run->selected[i] = run->o.only == NULL ||
		    strcmp(run->o.only, m->artifacts[i].name) == 0;
		n += run->selected[i];
	}
	if (n == 0)
		return run_fail(run, BD_ERR_USAGE, run->manifest_url, "",
		    "no artifact named %s in the manifest", run->o.only);
	return BD_OK;
}

/* --check: what would be installed, and nothing written. */
static void
plan_print(struct run *run, enum verdict verdict)
{
	const struct bd_manifest *m = run->m;
	size_t i;

	if (verdict == MANIFEST_CURRENT && run->o.only == NULL) {
		report_info(&run->r, "up to date: %s version %" PRIu64
		    " is installed", m->channel, m->version);
		return;
	}
	for (i = 0; i < m->nartifacts; i++)
		if (run->selected[i])
			report_info(&run->r, "would install %s (%" PRIu64
			    " bytes, sha256 %s) as %s", m->artifacts[i].name,
			    m->artifacts[i].size, m->artifacts[i].sha256_hex,
			    m->artifacts[i].install);
	if (m->menu_lst != NULL && run->o.only == NULL)
		report_info(&run->r, "would write %s", MENU_LST_INSTALL_PATH);
}

/*
 * --ext2: checks, writing nothing, that path can be installed: a read
 * capped at 0 bytes walks it as an install would and refuses a symbolic
 * link or non-directory on the way and anything but a regular file at
 * the end (BD_ERR_PATH); a regular file with bytes is merely too big to
 * read, which is fine.
 */
static enum bd_err
ext2_path_check(struct ext2_target *t, const char *path)
{
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc;

	rc = ext2_read_file(t, path, 0, &buf, &len);
	free(buf);
	if (rc == BD_ERR_TOOBIG) {
		bd_err_clear();
		rc = BD_OK;
	}
	return rc;
}

/* One install path, in the directory or the ext2 file system. */
static enum bd_err
path_check(struct run *run, const char *path)
{
	if (run->ext2 != NULL)
		return ext2_path_check(run->ext2, path);
	return install_check(run->destfd, path);
}

/* Every install path must be usable before anything is downloaded. */
static enum bd_err
paths_check(struct run *run)
{
	const struct bd_manifest *m = run->m;
	enum bd_err rc;
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		if (!run->selected[i])
			continue;
		if ((rc = path_check(run, m->artifacts[i].install)) != BD_OK)
			return run_fail(run, rc, run->o.target, NULL,
			    "install path refused");
	}
	if (m->menu_lst != NULL && run->o.only == NULL &&
	    (rc = path_check(run, MENU_LST_INSTALL_PATH)) != BD_OK)
		return run_fail(run, rc, run->o.target, NULL,
		    "install path refused");
	return BD_OK;
}

/*
 * --ext2: closes the target.  When nothing was written libext2fs writes
 * nothing back; after a failure part way through an install it writes
 * back a consistent file system.
 */
static enum bd_err
ext2_release(struct run *run)
{
	enum bd_err rc;

	rc = ext2_close(run->ext2);
	run->ext2 = NULL;
	if (rc != BD_OK)
		return run_fail(run, rc, run->o.ext2, NULL,
		    "cannot close ext2 file system");
	return BD_OK;
}

/*
 * --ext2: makes (or opens) TMPDIR/bootdrop-fetch.UID, mode 0700.  It must
 * be a real directory of ours that nobody else can write: the parts in it
 * are read back after verification.
 */
static enum bd_err
host_tmpdir_open(struct run *run)
{
	const char *dir = run->o.tmpdir;
	struct stat st;

	snprintf(run->hosttmp, sizeof(run->hosttmp), "bootdrop-fetch.%lu",
	    (unsigned long)geteuid());
	run->hostdirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->hostdirfd < 0)
		return run_fail(run, BD_ERR_IO, dir, strerror(errno),
		    "cannot open temporary directory");
	if (mkdirat(run->hostdirfd, run->hosttmp, 0700) == 0)
		run->made_tmp = true;
	else if (errno != EEXIST)
		return run_fail(run, BD_ERR_IO, dir, strerror(errno),
		    "cannot create %s", run->hosttmp);
	run->tmpfd = openat(run->hostdirfd, run->hosttmp, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (run->tmpfd < 0)
		return run_fail(run, BD_ERR_IO, dir, strerror(errno),
		    "cannot open %s", run->hosttmp);
	if (fstat(run->tmpfd, &st) != 0)
		return run_fail(run, BD_ERR_IO, dir, strerror(errno),
		    "cannot stat %s", run->hosttmp);
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(run->tmpfd);	/* not ours to clean up either */
		run->tmpfd = -1;
		return run_fail(run, BD_ERR_IO, dir, "", "%s is not a private "
		    "directory (owner %lu, mode %03o)", run->hosttmp,
		    (unsigned long)st.st_uid, (unsigned)(st.st_mode & 0777));
	}
	return BD_OK;
}

/* Makes (or opens) DESTDIR/.bootdrop/tmp, remembering what it created. */
static enum bd_err
tmpdir_open(struct run *run)
{
	enum bd_err rc;

	if (run->o.ext2 != NULL)
		return host_tmpdir_open(run);
	if (run->bootdropfd < 0) {
		if (mkdirat(run->destfd, BOOTDROP_DIR, 0755) == 0)
			run->made_bootdrop = true;
		else if (errno != EEXIST)
			return run_fail(run, BD_ERR_IO, run->o.destdir,
			    strerror(errno), "cannot create " BOOTDROP_DIR);
		if ((rc = subdir_open(run->destfd, BOOTDROP_DIR,
		    &run->bootdropfd)) != BD_OK || run->bootdropfd < 0)
			return run_fail(run, rc != BD_OK ? rc : BD_ERR_IO,
			    run->o.destdir, NULL, "cannot open " BOOTDROP_DIR);
	}
	if (mkdirat(run->bootdropfd, TMP_SUBDIR, 0700) == 0)
		run->made_tmp = true;
	else if (errno != EEXIST)
		return run_fail(run, BD_ERR_IO, run->o.destdir, strerror(errno),
		    "cannot create " BOOTDROP_DIR "/" TMP_SUBDIR);
	if ((rc = subdir_open(run->bootdropfd, TMP_SUBDIR, &run->tmpfd)) !=
	    BD_OK || run->tmpfd < 0)
		return run_fail(run, rc != BD_OK ? rc : BD_ERR_IO,
		    run->o.destdir, NULL, "cannot open " BOOTDROP_DIR "/"
		    TMP_SUBDIR);
	return BD_OK;
}

/*
 * Downloads every selected artifact.  A verification refusal stops at
 * once; a network failure moves on to the next artifact, so one run makes
 * all the progress it can and the next resumes every part.
 */
static enum bd_err
artifacts_download(struct run *run)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	struct dl_blob b;
	uint64_t resumed;
	enum bd_err rc, first = BD_OK;
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		if (!run->selected[i])
			continue;
		a = &m->artifacts[i];
		memset(&b, 0, sizeof(b));
		b.name = a->name;
		b.size = a->size;
		memcpy(b.sha256, a->sha256, SHA256_BYTES);
		memcpy(b.hex, a->sha256_hex, SHA256_HEX_BYTES);
		b.progress = report_artifact_progress;
		b.progress_ctx = &run->r;
		report_artifact_start(&run->r, a->name, a->size, 0);
		rc = dl_fetch_blob(run->dl, (const char *const *)run->o.mirrors,
		    run->o.nmirrors, run->tmpfd, &b, &run->fds[i], &resumed);
		if (rc != BD_OK) {
			if (bd_err_exit_status(rc) != 2)
				return run_fail(run, rc, dl_where(run->dl),
				    dl_detail(run->dl), "refused artifact %s",
				    a->name);
			if (first == BD_OK)
				first = run_fail(run, rc, dl_where(run->dl),
				    dl_detail(run->dl),
				    "cannot download artifact %s", a->name);
			continue;
		}
		run->fetched[i] = true;
		run->r.resumed = resumed;
		report_artifact_done(&run->r, a->name, a->size, a->sha256_hex);
	}
	return first;
}

/*
 * The kernel that arrived must be what the manifest says, and loadable by
 * the pvgrub of the manifest's boot arch and of --pvgrub.
 */
static enum bd_err
kernel_check(const struct bd_manifest *m, const struct bd_artifact *a, int fd,
    const char *pvgrub)
{
	struct elf_info info;
	const char *boot_arch;
	enum bd_err rc;

	if ((rc = elf_inspect_fd(fd, &info)) != BD_OK)
		return rc;
	if (a->has_elf && (info.class != a->elf.class ||
	    strcmp(info.machine, a->elf.machine) != 0 ||
	    info.xen != a->elf.xen))
		return bd_fail(BD_ERR_ELF, "%s is a %u-bit %s ELF%s, the "
		    "manifest says %u-bit %s%s", a->name, info.class,
		    info.machine, info.xen ? " with Xen notes" : "",
		    a->elf.class, a->elf.machine, a->elf.xen ?
		    " with Xen notes" : "");
	boot_arch = m->has_boot ? m->boot_arch : NULL;
	if (boot_arch != NULL || pvgrub != NULL)
		return elf_pvgrub_check(&info, boot_arch, pvgrub);
	return BD_OK;
}

/*
 * fsync every verified file and check the kernel before any rename.  With
 * --ext2 the parts are only sources to copy from: no chmod, no fsync.
 */
static enum bd_err
artifacts_settle(struct run *run)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	bool ext2 = run->o.ext2 != NULL;
	enum bd_err rc;
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		if (!run->fetched[i])
			continue;
		a = &m->artifacts[i];
		if (strcmp(a->kind, "kernel") == 0 &&
		    (rc = kernel_check(m, a, run->fds[i], run->o.pvgrub)) !=
		    BD_OK)
			return run_fail(run, rc, run->manifest_url, NULL,
			    "refused kernel %s", a->name);
		if (ext2)
			continue;
		if (fchmod(run->fds[i], INSTALL_FILE_MODE) != 0)
			return run_fail(run, BD_ERR_IO, a->sha256_hex,
			    strerror(errno), "cannot chmod artifact %s",
			    a->name);
		if ((rc = fd_sync(run->fds[i])) != BD_OK)
			return run_fail(run, rc, a->sha256_hex, NULL,
			    "cannot sync artifact %s", a->name);
	}
	if (!ext2 && (rc = fd_sync(run->tmpfd)) != BD_OK)
		return run_fail(run, rc, BOOTDROP_DIR "/" TMP_SUBDIR, NULL,
		    "cannot sync");
	return BD_OK;
}

/* Step 5: renames, menu.lst, directory fsyncs, then the state. */
static enum bd_err
artifacts_install(struct run *run)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	char part[SHA256_HEX_BYTES + 8], path[FETCH_WHERE_BYTES];
	struct bd_state st;
	int statefd = -1;
	enum bd_err rc = BD_OK;
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		if (!run->fetched[i])
			continue;
		a = &m->artifacts[i];
		snprintf(part, sizeof(part), "%s" DL_PART_SUFFIX,
		    a->sha256_hex);
		snprintf(path, sizeof(path), "%s/%s", run->o.destdir,
		    a->install);
		if ((rc = install_file(run->destfd, a->install, run->tmpfd,
		    part)) != BD_OK)
			return run_fail(run, rc, path, NULL,
			    "cannot install %s", a->name);
		report_installed(&run->r, a->name, path);
	}
	if (m->menu_lst != NULL && run->o.only == NULL) {
		snprintf(path, sizeof(path), "%s/%s", run->o.destdir,
		    MENU_LST_INSTALL_PATH);
		if ((rc = install_write(run->destfd, MENU_LST_INSTALL_PATH,
		    m->menu_lst, strlen(m->menu_lst))) != BD_OK)
			return run_fail(run, rc, path, NULL,
			    "cannot write menu.lst");
		report_installed(&run->r, "menu.lst", path);
	}
	if ((rc = fd_sync(run->destfd)) != BD_OK)
		return run_fail(run, rc, run->o.destdir, NULL, "cannot sync");
	if (run->o.only != NULL)
		return BD_OK;	/* a partial install accepts no version */
	if (run->o.statedir != NULL) {
		if (mkdir(run->o.statedir, 0755) != 0 && errno != EEXIST)
			return run_fail(run, BD_ERR_IO, run->o.statedir,
			    strerror(errno), "cannot create state directory");
		statefd = open(run->o.statedir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (statefd < 0)
			return run_fail(run, BD_ERR_IO, run->o.statedir,
			    strerror(errno), "cannot open state directory");
	} else if ((rc = dir_open_path(run->destfd, BOOTDROP_DIR "/"
	    STATE_SUBDIR, true, &statefd)) != BD_OK)
		return run_fail(run, rc, run->state_where, NULL,
		    "cannot open state directory");
	st.present = true;
	st.version = m->version;
	memcpy(st.payload_sha256, m->payload_sha256, SHA256_BYTES);
	if ((rc = state_save(statefd, run->o.channel, &st)) != BD_OK)
		run_fail(run, rc, run->state_where, NULL, "cannot record state");
	close(statefd);
	return rc;
}

/*
 * --ext2 step 5: opens the file system again, makes sure its state is
 * still the one the manifest was judged against, writes every file,
 * menu.lst and the state, and closes it - only then is anything durable.
 * A failure part way leaves each file old or new, never half written, and
 * the state unchanged (main closes the target, consistent).
 */
static enum bd_err
ext2_artifacts_install(struct run *run)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	char path[FETCH_WHERE_BYTES], text[STATE_MAX_BYTES];
	char statepath[INSTALL_PATH_MAX_BYTES + 1];
	struct bd_state st;
	size_t i, len;
	enum bd_err rc;

	if ((rc = ext2_open(run->o.ext2, &run->ext2)) != BD_OK)
		return run_fail(run, rc, run->o.ext2, NULL,
		    "cannot open ext2 file system");
	if ((rc = ext2_state_read(run, &st)) != BD_OK)
		return run_fail(run, rc, run->state_where, NULL,
		    "cannot read state");
	if (st.present != run->state.present || (st.present &&
	    (st.version != run->state.version ||
	    sodium_memcmp(st.payload_sha256, run->state.payload_sha256,
	    SHA256_BYTES) != 0)))
		return run_fail(run, BD_ERR_IO, run->state_where, "", "state "
		    "changed during the download; nothing installed, run "
		    "again");
	for (i = 0; i < m->nartifacts; i++) {
		if (!run->fetched[i])
			continue;
		a = &m->artifacts[i];
		if ((rc = ext2_install_file(run->ext2, a->install, run->fds[i],
		    a->size, INSTALL_FILE_MODE)) != BD_OK)
			return run_fail(run, rc, run->o.ext2, NULL,
			    "cannot install %s", a->name);
	}
	if (m->menu_lst != NULL && run->o.only == NULL &&
	    (rc = ext2_install_bytes(run->ext2, MENU_LST_INSTALL_PATH,
	    m->menu_lst, strlen(m->menu_lst), INSTALL_FILE_MODE)) != BD_OK)
		return run_fail(run, rc, run->o.ext2, NULL,
		    "cannot write menu.lst");
	if (run->o.only == NULL) {	/* a partial install accepts none */
		st.present = true;
		st.version = m->version;
		memcpy(st.payload_sha256, m->payload_sha256, SHA256_BYTES);
		snprintf(statepath, sizeof(statepath), BOOTDROP_DIR "/"
		    STATE_SUBDIR "/%s", run->o.channel);
		if ((rc = state_format(run->o.channel, &st, text, &len)) !=
		    BD_OK || (rc = ext2_install_bytes(run->ext2, statepath,
		    text, len, INSTALL_FILE_MODE)) != BD_OK)
			return run_fail(run, rc, run->state_where, NULL,
			    "cannot record state");
	}
	rc = ext2_close(run->ext2);
	run->ext2 = NULL;
	if (rc != BD_OK)
		return run_fail(run, rc, run->o.ext2, NULL,
		    "cannot write back the ext2 file system");
	for (i = 0; i < m->nartifacts; i++) {
		if (!run->fetched[i])
			continue;
		snprintf(path, sizeof(path), "%s:/%s", run->o.ext2,
		    m->artifacts[i].install);
		report_installed(&run->r, m->artifacts[i].name, path);
	}
	if (m->menu_lst != NULL && run->o.only == NULL) {
		snprintf(path, sizeof(path), "%s:/%s", run->o.ext2,
		    MENU_LST_INSTALL_PATH);
		report_installed(&run->r, "menu.lst", path);
	}
	return BD_OK;
}

/*
 * Leaves DESTDIR as it found it, except for bytes worth resuming: after a
 * success or a refusal every part this run fetched goes; after a network
 * failure they stay.  Directories this run made go when empty.
 */
static void
run_cleanup(struct run *run, bool keep_parts)
{
	char part[SHA256_HEX_BYTES + 8];
	size_t i;

	for (i = 0; run->m != NULL && i < run->m->nartifacts; i++) {
		if (run->fds[i] >= 0)
			close(run->fds[i]);
		run->fds[i] = -1;
		if (run->tmpfd < 0 || !run->selected[i] || keep_parts)
			continue;
		snprintf(part, sizeof(part), "%s" DL_PART_SUFFIX,
		    run->m->artifacts[i].sha256_hex);
		unlinkat(run->tmpfd, part, 0);
	}
	if (run->tmpfd >= 0) {
		close(run->tmpfd);
		run->tmpfd = -1;
		/* Fails, harmlessly, while parts remain. */
		if (run->o.ext2 != NULL)
			unlinkat(run->hostdirfd, run->hosttmp, AT_REMOVEDIR);
		else if (run->made_tmp || run->rc == BD_OK)
			unlinkat(run->bootdropfd, TMP_SUBDIR, AT_REMOVEDIR);
	}
	if (run->made_bootdrop && run->destfd >= 0)
		unlinkat(run->destfd, BOOTDROP_DIR, AT_REMOVEDIR);
}

int
main(int argc, char **argv)
{
	struct run *run;
	enum verdict verdict = MANIFEST_NEW;
	char summary[256];
	bool done = false, curl_ready = false;
	int status;
	size_t i;

	if ((run = calloc(1, sizeof(*run))) == NULL) {
		fputs("bootdrop-fetch: out of memory\n", stderr);
		return 4;
	}
	run->destfd = run->statefd = run->bootdropfd = run->tmpfd = -1;
	run->hostdirfd = -1;
	for (i = 0; i < MANIFEST_MAX_ARTIFACTS; i++)
		run->fds[i] = -1;
	summary[0] = '\0';
	if (options_parse(run, argc, argv, &done) != BD_OK) {
		report_init(&run->r, false, false);
		status = report_result(&run->r, run->rc, run->what, run->where,
		    run->detail, NULL);
		fputs("usage: bootdrop-fetch (-P KEY | -p PUBFILE)... "
		    "[-t THRESHOLD] -c CHANNEL\n"
		    "                      (-d DESTDIR | --ext2 DEVICE_OR_IMAGE) "
		    "[options] URL...\n",
		    stderr);
		goto out;
	}
	if (done) {
		status = 0;
		goto out;
	}
	report_init(&run->r, run->o.quiet, run->o.json);
	if (sodium_init() < 0) {
		run_fail(run, BD_ERR_NOMEM, NULL, "", "libsodium init failed");
		goto report;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		run_fail(run, BD_ERR_NOMEM, NULL, "", "libcurl init failed");
		goto report;
	}
	curl_ready = true;
	if (dl_new(&run->o.dl, &run->dl) != BD_OK) {
		run_fail(run, BD_ERR_USAGE, NULL, NULL, "libcurl setup failed");
		goto report;
	}
	if (run_open(run) != BD_OK || manifest_fetch(run, &verdict) != BD_OK ||
	    artifacts_select(run) != BD_OK)
		goto report;
	if (run->o.check) {
		plan_print(run, verdict);
		snprintf(summary, sizeof(summary), "checked %s version %" PRIu64
		    "; nothing written", run->o.channel, run->m->version);
		goto report;
	}
	if (verdict == MANIFEST_CURRENT && run->o.only == NULL) {
		snprintf(summary, sizeof(summary), "up to date: %s version %"
		    PRIu64, run->o.channel, run->m->version);
		goto report;
	}
	if (paths_check(run) != BD_OK || (run->ext2 != NULL &&
	    ext2_release(run) != BD_OK) || tmpdir_open(run) != BD_OK ||
	    artifacts_download(run) != BD_OK || artifacts_settle(run) !=
	    BD_OK || (run->o.ext2 != NULL ? ext2_artifacts_install(run) :
	    artifacts_install(run)) != BD_OK)
		goto report;
	snprintf(summary, sizeof(summary), "installed %s version %" PRIu64
	    " into %s", run->o.channel, run->m->version, run->o.target);
report:
	/* --ext2 still open: see ext2_release(). */
	if (run->ext2 != NULL && run->rc != BD_OK) {
		(void)ext2_close(run->ext2);	/* the first failure is reported */
		run->ext2 = NULL;
	} else if (run->ext2 != NULL && ext2_release(run) != BD_OK)
		summary[0] = '\0';
	run_cleanup(run, bd_err_exit_status(run->rc) == 2);
	status = report_result(&run->r, run->rc, run->what, run->where,
	    run->detail, summary[0] != '\0' ? summary : NULL);
out:
	manifest_free(run->m);
	dl_free(run->dl);
	if (curl_ready)
		curl_global_cleanup();
	for (i = 0; i < run->o.nmirrors; i++)
		free(run->o.mirrors[i]);
	if (run->statefd >= 0)
		close(run->statefd);
	if (run->bootdropfd >= 0)
		close(run->bootdropfd);
	if (run->destfd >= 0)
		close(run->destfd);
	if (run->hostdirfd >= 0)
		close(run->hostdirfd);
	sodium_memzero(run, sizeof(*run));
	free(run);
	return status;
}
