/*
 * fetch.c - bootdrop-fetch: verify everything first, then install onto the
 * boot slice in one transaction.
 *
 *   bootdrop-fetch (-P KEY | -p PUBFILE)... [-t THRESHOLD] -c CHANNEL
 *                  (-d DESTDIR | --ext2 DEVICE_OR_IMAGE) [options] URL...
 *
 * One pipeline (DESIGN.md), whatever the destination (client/dest.h):
 * options -> destination opened (an interrupted install is finished
 * first) -> manifest (capped) -> signatures and threshold -> payload ->
 * expiry -> rollback/equivocation against the slice's state -> selection
 * -> install paths, pvgrub and room checked -> every artifact downloaded,
 * capped and hashed as it streams -> kernel ELF facts -> staged -> commit
 * (intent record, renames, menu.lst, state).  Nothing installed changes
 * before the commit, and a crash inside it is finished by the next run.
 * Exit: 0 installed or current, 1 usage, 2 network or server, 3
 * verification refused, 4 local write error; with --check, 100 when an
 * update is available.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
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

#include "audit.h"
#include "dest.h"
#include "download.h"
#include "boot.h"
#include "chunkfetch.h"
#include "confirm.h"
#include "image.h"
#include "layout.h"
#include "install.h"
#include "key.h"
#include "manifest.h"
#include "num.h"
#include "progress.h"
#include "state.h"
#include "timefmt.h"
#include "walk.h"

#define FETCH_MAX_KEYS			MANIFEST_MAX_SIGNATURES
#define FETCH_CONNECT_TIMEOUT_SECONDS	30
#define FETCH_LOW_SPEED_SECONDS		30
#define FETCH_TIMEOUT_MAX_SECONDS	86400
#define FETCH_WHAT_BYTES		160
#define FETCH_MMAP_THRESHOLD_BYTES	(128 * 1024)	/* mallopt(3) */
#define FETCH_WHERE_BYTES		(DL_URL_MAX_BYTES + 64)
#define FETCH_DETAIL_BYTES		1024
#define FETCH_STATUS_UPDATE		100	/* --check: an update is available */
#define FETCH_MAX_CONFIG_FILES	(2 + BOOT_MAX_ENTRIES)	/* menu.lst, grub.cfg, bls */

struct options {
	struct bd_pubkey keys[FETCH_MAX_KEYS];
	size_t nkeys;
	unsigned threshold;
	const char *channel;
	const char *destdir;
	const char *statedir;	/* --state; NULL: DESTDIR/.bootdrop/state */
	const char *only[MANIFEST_MAX_ARTIFACTS];
	size_t nonly;
	const char *ext2;	/* --ext2 DEVICE_OR_IMAGE; NULL: -d */
	const char *tmpdir;	/* --tmpdir (--ext2 only) */
	const char *pvgrub;	/* --pvgrub i386|amd64, or NULL */
	const char *target;	/* DESTDIR or the ext2 device, for messages */
	bool check, allow_expired, quiet, json, no_keep_old;
	bool verbose;		/* -v: per-mirror bytes */
	bool audit, reset_trust;
	bool confirm;		/* --confirm: mark the installed version good */
	const char *efivars;	/* --confirm -d: the running system's EFI vars */
	bool report_done;	/* --report-done: tell quick mode we finished */
	struct dl_options dl;
	time_t now;
	char *mirrors[DL_MAX_MIRRORS];
	size_t nmirrors;
};

/* One run: what is open, what was fetched, and the failure to report. */
struct run {
	struct options o;
	struct report r;
	struct dl *dl;
	struct dest *dest;
	struct bd_manifest *m;
	const char *manifest_url;
	char manifest_url_buf[DL_URL_MAX_BYTES];
	size_t manifest_mirror;		/* the mirror that served it */
	struct bd_state state;		/* the state the manifest is judged by */
	struct bd_accepted anchor;	/* the trust and what it anchors to */
	int partfd;			/* the destination's download directory */
	bool selected[MANIFEST_MAX_ARTIFACTS];
	bool repair;			/* re-installing damaged files only */
	int fds[MANIFEST_MAX_ARTIFACTS];
	char parts[MANIFEST_MAX_ARTIFACTS][SHA256_HEX_BYTES + 8];
	struct bd_pending pending;
	/* the boot configuration to write (config_render()) */
	struct boot_file config[FETCH_MAX_CONFIG_FILES];
	size_t nconfig;
	struct bd_prev_boot prev;	/* the entry rendered second, if any */
	struct bd_boot_view view;	/* what config holds, for the state */
	bool has_view;
	/* the failure */
	enum bd_err rc;
	char what[FETCH_WHAT_BYTES];
	char where[FETCH_WHERE_BYTES];
	char detail[FETCH_DETAIL_BYTES];
};

/* Sets the failure's detail line (truncated to fit: it is a message). */
static void
run_detail(struct run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
run_detail(struct run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run->detail, sizeof(run->detail), fmt, ap);
	va_end(ap);
}

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
	run_detail(run, "%s", detail != NULL ? detail : bd_err_detail());
	return rc;
}

/*
 * SIGINT, SIGTERM and SIGHUP are held while the destination is written
 * (opening it may finish an interrupted install) and delivered, with
 * their default action, only while the network is waited on: a signal
 * never stops a run anywhere SIGKILL would not leave it safe.
 */
static void
signals_block(bool block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	(void)sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static void
usage(FILE *f)
{
	fputs(
"usage: bootdrop-fetch (-P KEY | -p PUBFILE)... [-t THRESHOLD] -c CHANNEL\n"
"                      (-d DESTDIR | --ext2 DEVICE_OR_IMAGE) [options]\n"
"                      URL [URL ...]\n"
"       bootdrop-fetch --confirm -c CHANNEL (-d DESTDIR | --ext2 DEV)\n"
"\n"
"Verifies CHANNEL's signed manifest from the repository at URL (further\n"
"URLs are mirrors; an artifact over 8 MiB comes from all of them at once,\n"
"a smaller one from the first that answers), downloads and verifies every\n"
"artifact, and only then installs them under DESTDIR or into the unmounted\n"
"ext2 file system on DEVICE_OR_IMAGE, in one transaction a crash cannot\n"
"split.\n"
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
"                           (exit 0 up to date, 100 update available)\n"
"      --reset-trust        forget the keys recorded on the boot slice and\n"
"                           trust -P/-p/-t again (rollback is still refused)\n"
"      --audit              no destination, writes nothing: walk every\n"
"                           mirror's chain from version 1, compare mirrors\n"
"                           (exit 0 valid and agreeing, a mirror behind\n"
"                           only warned about; 2 a mirror unreachable;\n"
"                           3 a broken link, missing version or fork)\n"
"      --only NAME          fetch and install only artifact NAME (repeatable;\n"
"                           records no version)\n"
"      --confirm            no network: mark the installed version good\n"
"                           (ends its trial boot; exit 4 when it is not\n"
"                           installed, not booted yet or fell back)\n"
"      --no-keep-old        do not keep a replaced kernel as <path>.old\n"
"      --report-done        after a successful run, GET the installed\n"
"                           version's <version>.json once more (what\n"
"                           bootdrop-server --quick --exit-after counts)\n"
"      --allow-expired      accept an expired manifest (warns)\n"
"      --state DIR          keep the accepted-version state in DIR\n"
"                           (default DESTDIR/.bootdrop/state)\n"
"      --cacert FILE        CA certificates for https\n"
"      --connect-timeout S  connect timeout in seconds (default 30)\n"
"      --low-speed-time S   abort a transfer slower than 1 KiB/s for S\n"
"                           seconds (default 30)\n"
"  -q, --quiet              no messages but errors\n"
"  -v, --verbose            also say how many bytes each mirror sent\n"
"      --json               one JSON object per line on stdout\n"
"  -h, --help               this help\n"
"  -V, --version            print the version\n"
"\n"
"Exit status: 0 installed or up to date, 1 usage, 2 network or server\n"
"error, 3 verification refused, 4 local write error, 100 (--check) an\n"
"update is available.\n", f);
}

/* Parses a positive number of seconds (1..FETCH_TIMEOUT_MAX_SECONDS). */
static bool
seconds_parse(const char *s, long *out)
{
	uint64_t v;

	if (num_u64_str(s, 1, FETCH_TIMEOUT_MAX_SECONDS, &v) != BD_OK)
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
	/* Paths are appended to the base: a query or fragment would end up
	 * in the middle of every request. */
	if (strpbrk(url, "?#") != NULL)
		return bd_fail(BD_ERR_USAGE, "a repository URL has no query "
		    "(?) or fragment (#)");
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
	OPT_TMPDIR, OPT_PVGRUB, OPT_NO_KEEP_OLD, OPT_AUDIT, OPT_RESET_TRUST,
	OPT_CONFIRM, OPT_EFIVARS, OPT_REPORT_DONE
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
		{ "audit", no_argument, NULL, OPT_AUDIT },
		{ "reset-trust", no_argument, NULL, OPT_RESET_TRUST },
		{ "confirm", no_argument, NULL, OPT_CONFIRM },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "no-keep-old", no_argument, NULL, OPT_NO_KEEP_OLD },
		{ "report-done", no_argument, NULL, OPT_REPORT_DONE },
		{ "allow-expired", no_argument, NULL, OPT_ALLOW_EXPIRED },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "connect-timeout", required_argument, NULL,
		    OPT_CONNECT_TIMEOUT },
		{ "low-speed-time", required_argument, NULL,
		    OPT_LOW_SPEED_TIME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, OPT_JSON },
		/* Testing only: the clock expiry is judged against. */
		{ "now", required_argument, NULL, OPT_NOW },
		/* Testing only: where --confirm reads systemd-boot's EFI
		 * variables (default /sys/firmware/efi/efivars). */
		{ "efivars", required_argument, NULL, OPT_EFIVARS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct options *o = &run->o;
	const char *threshold = NULL;
	uint64_t v;
	enum bd_err rc;
	int ch, i;

	*done = false;
	o->dl.connect_timeout = FETCH_CONNECT_TIMEOUT_SECONDS;
	o->dl.low_speed_time = FETCH_LOW_SPEED_SECONDS;
	o->now = time(NULL);
	while ((ch = getopt_long(argc, argv, "P:p:t:c:d:qvhV", longopts,
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
			if (strcmp(optarg, "i386") != 0 &&
			    strcmp(optarg, "amd64") != 0)
				return run_fail(run, BD_ERR_USAGE, optarg, "",
				    "--pvgrub must be i386 or amd64");
			o->pvgrub = optarg;
			break;
		case OPT_AUDIT:
			o->audit = true;
			break;
		case OPT_RESET_TRUST:
			o->reset_trust = true;
			break;
		case OPT_CONFIRM:
			o->confirm = true;
			break;
		case OPT_EFIVARS:
			o->efivars = optarg;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case OPT_ONLY:
			if (!artifact_name_valid(optarg))
				return run_fail(run, BD_ERR_USAGE, optarg, "",
				    "--only: not an artifact name");
			if (o->nonly == MANIFEST_MAX_ARTIFACTS)
				return run_fail(run, BD_ERR_USAGE, optarg, "",
				    "more than %d --only", MANIFEST_MAX_ARTIFACTS);
			o->only[o->nonly++] = optarg;
			break;
		case OPT_NO_KEEP_OLD:
			o->no_keep_old = true;
			break;
		case OPT_REPORT_DONE:
			o->report_done = true;
			break;
		case OPT_ALLOW_EXPIRED:
			o->allow_expired = true;
			break;
		case OPT_STATE:
			o->statedir = optarg;
			break;
		case OPT_CACERT:
			if (access(optarg, R_OK) != 0)
				return run_fail(run, BD_ERR_USAGE, optarg,
				    strerror(errno), "--cacert: cannot read");
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
		case 'v':
			o->verbose = true;
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
	/* Without -P/-p the state's keys are the trust (walk_anchor()). */
	if (o->channel == NULL || !channel_name_valid(o->channel))
		return run_fail(run, BD_ERR_USAGE, o->channel, "",
		    "-c CHANNEL missing or not [a-z0-9][a-z0-9._-]{0,63}");
	if (o->audit && (o->destdir != NULL || o->ext2 != NULL ||
	    o->reset_trust || o->check))
		return run_fail(run, BD_ERR_USAGE, NULL, "", "--audit takes no "
		    "destination (-d, --ext2), --reset-trust or --check");
	if (!o->audit && (o->destdir == NULL) == (o->ext2 == NULL))
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
	o->threshold = 1;
	if (threshold != NULL) {
		if (num_u64_str(threshold, 1, o->nkeys, &v) != BD_OK)
			return run_fail(run, BD_ERR_USAGE, threshold, "",
			    "-t THRESHOLD must be 1..%zu (the number of keys)",
			    o->nkeys);
		o->threshold = (unsigned)v;
	}
	if (o->confirm && (o->audit || o->check || o->reset_trust ||
	    o->report_done || o->nonly > 0 || optind < argc))
		return run_fail(run, BD_ERR_USAGE, NULL, "", "--confirm takes "
		    "-c and -d or --ext2 only: no URL, --check, --only, "
		    "--audit, --reset-trust or --report-done");
	if (o->confirm)
		return BD_OK;
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


/* A 404 for the manifest: the channel is not there (or the URL is off). */
static void
manifest_404(struct run *run, const char *mirror)
{
	const char *ch = run->o.channel;
	size_t n = strlen(mirror), cl = strlen(ch);

	if (n > cl + 10 && strcmp(mirror + n - cl, ch) == 0 &&
	    strncmp(mirror + n - cl - 10, "/channels/", 10) == 0)
		run_detail(run, "no channel %s at "
		    "%s; give the repository's base URL, %.*s", ch, mirror,
		    (int)(n - cl - 10), mirror);
	else
		run_detail(run, "no channel %s at "
		    "%s (HTTP 404)", ch, mirror);
}

/*
 * Opens the destination (finishing an interrupted install in write mode)
 * and takes the state the manifest will be judged by.
 */
static enum bd_err
run_open(struct run *run)
{
	const struct options *o = &run->o;
	struct dest_config cfg = {
		.target = o->target, .ext2 = o->ext2 != NULL,
		.statedir = o->statedir, .tmpdir = o->tmpdir,
		.channel = o->channel, .readonly = o->check,
	};
	enum bd_err rc;

	if ((rc = dest_open(&cfg, &run->dest)) != BD_OK)
		return run_fail(run, rc, o->target, NULL,
		    "cannot open the destination");
	if (dest_warning(run->dest) != NULL)
		report_warn(&run->r, "%s: %s", o->target, dest_warning(run->dest));
	if (dest_note(run->dest) != NULL)
		report_warn(&run->r, "%s: %s", o->target, dest_note(run->dest));
	if (dest_pending(run->dest))
		report_info(&run->r, "an interrupted install is pending in %s; "
		    "a run without --check finishes it", o->target);
	run->state = *dest_state(run->dest);
	return BD_OK;
}

enum verdict { MANIFEST_NEW, MANIFEST_CURRENT };

/*
 * The manifest could not be had from url (rc): the failure, with what to
 * do about a 404 (the channel or the URL) or a certificate (--cacert).
 */
static void
manifest_get_failed(struct run *run, enum bd_err rc, const char *url,
    const char *mirror)
{
	const struct dl_failure *f = dl_failure(run->dl);

	run_fail(run, rc, url, dl_detail(run->dl), rc == BD_ERR_TOOBIG ?
	    "manifest refused" : "manifest download failed");
	if (f->kind == DL_FAIL_STATUS && f->status == 404)
		manifest_404(run, mirror);
	else if (run->o.dl.cacert == NULL && dl_failure_certificate(f))
		snprintf(run->detail + strlen(run->detail),
		    sizeof(run->detail) - strlen(run->detail), "; without a "
		    "usable system CA store, pass --cacert FILE with the CA "
		    "that signs the server");
}

/*
 * Rollback and equivocation: run->m against the state's version and
 * payload hash.  A failure is recorded in run, naming the way out.
 */
static enum bd_err
manifest_against_state(struct run *run, const char *url)
{
	char hex[SHA256_HEX_BYTES];

	if (!run->state.present)
		return BD_OK;
	sha256_hex(run->state.payload_sha256, hex);
	if (run->m->version < run->state.version) {
		run_fail(run, BD_ERR_ROLLBACK, url, "", "manifest refused");
		run_detail(run, "version %" PRIu64 " is older than the "
		    "accepted version %" PRIu64 "; to go back deliberately, "
		    "remove the state (%s) and run again", run->m->version,
		    run->state.version, dest_state_reset_hint(run->dest));
		return BD_ERR_ROLLBACK;
	}
	if (run->m->version == run->state.version &&
	    sodium_memcmp(run->m->payload_sha256, run->state.payload_sha256,
	    SHA256_BYTES) != 0) {
		run_fail(run, BD_ERR_EQUIVOCATION, url, "", "manifest refused");
		run_detail(run, "version %" PRIu64 " was accepted with payload "
		    "sha256 %s; this one differs (the publisher signed two "
		    "payloads for one version; if you trust this one, remove "
		    "the state: %s)", run->m->version, hex,
		    dest_state_reset_hint(run->dest));
		return BD_ERR_EQUIVOCATION;
	}
	return BD_OK;
}

/*
 * Fetches and verifies the manifest from one mirror and judges it against
 * the state.  BD_OK with *verdict, or a failure recorded in run.
 */
static enum bd_err
manifest_try(struct run *run, size_t mi, enum verdict *verdict)
{
	const struct options *o = &run->o;
	const char *mirror = o->mirrors[mi];
	char where[DL_URL_MAX_BYTES];
	struct walk_stats ws;
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
		manifest_get_failed(run, rc, url, mirror);
		goto out;
	}
	bd_err_clear();
	if ((rc = walk_accept(run->dl, &run->r,
	    (const char *const *)o->mirrors, o->nmirrors, mi, o->channel,
	    &run->anchor, buf, len, &run->m, &ws, where,
	    sizeof(where))) != BD_OK) {
		run_fail(run, rc, where[0] != '\0' ? where : url, NULL,
		    "manifest refused");
		goto out;
	}
	time_format(run->m->expires, when);
	if ((rc = manifest_check_fresh(run->m, o->now)) != BD_OK) {
		if (!o->allow_expired) {
			char clock[TIME_RFC3339_BYTES];

			time_format(o->now, clock);
			run_fail(run, rc, url, "", "manifest refused");
			run_detail(run, "expired at %s; this machine's clock "
			    "says %s (a rescue system's clock may be wrong: "
			    "set it, or pass --allow-expired to accept the "
			    "manifest anyway)", when, clock);
			goto out;
		}
		report_warn(&run->r, "manifest expired at %s; accepted because "
		    "of --allow-expired", when);
		rc = BD_OK;
	}
	if ((rc = manifest_against_state(run, url)) != BD_OK)
		goto out;
	*verdict = run->state.present && run->m->version == run->state.version ?
	    MANIFEST_CURRENT : MANIFEST_NEW;
	run->manifest_url = url;
	report_manifest(&run->r, o->channel, run->m->version, when, url,
	    run->m->nsigners);
out:
	free(buf);
	return rc;
}

/*
 * The trust of this run (walk_anchor()): the keys the state recorded, or
 * -P/-p/-t; a note when the state's keys overrule different ones.
 */
static enum bd_err
trust_choose(struct run *run)
{
	char ids[MANIFEST_MAX_KEYS * KEY_ID_HEX_BYTES], hex[KEY_ID_HEX_BYTES];
	struct bd_keyset cmd = { 0 };
	bool disagree;
	size_t i;
	enum bd_err rc;

	for (i = 0; i < run->o.nkeys; i++)
		if (keyset_find(&cmd, run->o.keys[i].id) < 0)
			cmd.keys[cmd.nkeys++] = run->o.keys[i];
	cmd.threshold = run->o.threshold;
	if ((rc = walk_anchor(&run->state, &cmd, run->o.reset_trust,
	    &run->anchor, &disagree)) != BD_OK)
		return run_fail(run, rc, dest_state_where(run->dest), NULL,
		    "no trust");
	if (disagree) {
		ids[0] = '\0';
		for (i = 0; i < run->anchor.keys.nkeys; i++) {
			keyid_hex(run->anchor.keys.keys[i].id, hex);
			strcat(ids, i > 0 ? " " : "");
			strcat(ids, hex);
		}
		report_warn(&run->r, "the boot slice's state (%s) holds the "
		    "trust: keys %s, threshold %u; the -P/-p/-t given differ "
		    "and only bootstrap a slice without state (--reset-trust "
		    "starts over from them)", dest_state_where(run->dest), ids,
		    run->anchor.keys.threshold);
	}
	return BD_OK;
}

/* Tries every mirror in order for a manifest this slice can accept. */
static enum bd_err
manifest_fetch(struct run *run, enum verdict *verdict)
{
	enum bd_err rc = BD_ERR_NETWORK;
	size_t i;

	if ((rc = trust_choose(run)) != BD_OK)
		return rc;
	signals_block(false);
	for (i = 0; i < run->o.nmirrors; i++) {
		if ((rc = manifest_try(run, i, verdict)) ==
		    BD_OK) {
			run->rc = BD_OK;	/* earlier mirrors' failures */
			run->manifest_mirror = i;
			break;
		}
		if (i + 1 < run->o.nmirrors && !run->o.quiet)
			report_warn(&run->r, "%s (%s): %s: %s; trying the next "
			    "mirror", run->what, run->where, bd_strerror(rc),
			    run->detail);
	}
	signals_block(true);
	return rc;
}

/* Whether --only names artifact name (every artifact without --only). */
static bool
only_names(const struct options *o, const char *name)
{
	size_t i;

	if (o->nonly == 0)
		return true;
	for (i = 0; i < o->nonly; i++)
		if (strcmp(o->only[i], name) == 0)
			return true;
	return false;
}

/* Marks the artifacts this run installs; each --only must name one. */
static enum bd_err
artifacts_select(struct run *run)
{
	const struct bd_manifest *m = run->m;
	size_t i, j;

	for (i = 0; i < m->nartifacts; i++) {
		run->selected[i] = only_names(&run->o, m->artifacts[i].name);
		snprintf(run->parts[i], sizeof(run->parts[i]), "%s"
		    DL_PART_SUFFIX, m->artifacts[i].sha256_hex);
	}
	for (j = 0; j < run->o.nonly; j++) {
		for (i = 0; i < m->nartifacts; i++)
			if (strcmp(run->o.only[j], m->artifacts[i].name) == 0)
				break;
		if (i == m->nartifacts)
			return run_fail(run, BD_ERR_USAGE, run->manifest_url, "",
			    "no artifact named %s in the manifest",
			    run->o.only[j]);
	}
	return BD_OK;
}

/*
 * The boot configuration a full run writes (--only touches named files):
 * a format-2 manifest's menu.lst as signed, or each format-3 loader's
 * files rendered by common/boot.c from the boot data, the new version
 * first and the one the state accepted second.
 */
static enum bd_err
config_render(struct run *run)
{
	const struct bd_manifest *m = run->m;
	struct boot_file files[BOOT_MAX_ENTRIES];
	struct bd_boot_view *v = &run->view;
	unsigned bit;
	size_t n, i;
	enum bd_err rc;

	if (run->o.nonly > 0)
		return BD_OK;
	if (m->format == 2) {
		if (m->menu_lst == NULL)
			return BD_OK;
		snprintf(run->config[0].path, sizeof(run->config[0].path), "%s",
		    BOOT_MENU_LST_PATH);
		run->config[0].len = strlen(m->menu_lst);
		if ((run->config[0].text = strdup(m->menu_lst)) == NULL)
			return run_fail(run, BD_ERR_NOMEM, NULL, NULL, "menu.lst");
		run->nconfig = 1;
		return BD_OK;
	}
	if (!m->has_boot || m->loaders == 0)
		return BD_OK;
	/* the second entry: the version the state accepted, as it recorded
	 * (or, re-rendering the accepted version, the one it rendered second) */
	if ((rc = manifest_boot_view(m, state_prev_boot(&run->state,
	    m->version, &run->prev) ? &run->prev : NULL, !run->o.no_keep_old,
	    v)) != BD_OK)
		return run_fail(run, rc, run->manifest_url, NULL,
		    "refused boot data");
	run->has_view = true;
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1) {
		if ((m->loaders & bit) == 0)
			continue;
		if ((rc = boot_render(bit, &v->config, files, &n)) != BD_OK)
			return run_fail(run, rc, run->manifest_url, NULL,
			    "refused boot data for %s", boot_loader_name(bit));
		for (i = 0; i < n; i++)
			run->config[run->nconfig++] = files[i];
	}
	return BD_OK;
}

/* Whether artifact a's replaced file is kept as <install>.old. */
static bool
keep_old(const struct run *run, const struct bd_artifact *a)
{
	/* a repair puts back the accepted version's own bytes: the .old
	 * files are the previous version's and stay */
	return !run->o.no_keep_old && !run->repair &&
	    (strcmp(a->kind, "kernel") == 0 || strcmp(a->kind, "initrd") == 0);
}

static const char *config_installed(struct run *run,
    const struct boot_file *f, char buf[FETCH_WHERE_BYTES]);

/*
 * The slice holds the accepted version: re-hashes every file it installed
 * (artifacts and rendered configuration) and names each that is missing
 * or holds other bytes (damaged, or replaced by someone else).  Only those
 * artifacts stay selected, for a repair; returns how many files differ.
 */
static size_t
installed_check(struct run *run)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	char path[FETCH_WHERE_BYTES];
	uint8_t sha[SHA256_BYTES];
	size_t i, bad = 0;

	for (i = 0; i < m->nartifacts; i++) {
		a = &m->artifacts[i];
		run->selected[i] = !dest_installed_same(run->dest, a->install,
		    a->size, a->sha256);
		if (!run->selected[i])
			continue;
		dest_path_name(run->dest, a->install, path, sizeof(path));
		report_warn(&run->r, "%s: damaged or foreign (not artifact %s "
		    "of %s version %" PRIu64 ")", path, a->name, m->channel,
		    m->version);
		bad++;
	}
	for (i = 0; i < run->nconfig; i++) {
		sha256_buf(run->config[i].text, run->config[i].len, sha);
		if (dest_installed_same(run->dest, config_installed(run,
		    &run->config[i], path), run->config[i].len, sha))
			continue;
		dest_path_name(run->dest, run->config[i].path, path,
		    sizeof(path));
		report_warn(&run->r, "%s: damaged or foreign (not the %s "
		    "version %" PRIu64 " renders)", path, m->channel,
		    m->version);
		bad++;
	}
	return bad;
}

/*
 * Where rendered file f is installed: its path, or for the new version's
 * counted BLS entry, the name systemd-boot's counting or --confirm gave
 * it since (buf holds it).
 */
static const char *
config_installed(struct run *run, const struct boot_file *f,
    char buf[FETCH_WHERE_BYTES])
{
	char found[BOOT_PATH_BYTES];
	bool booted;
	int left;

	if (!boot_bls_counted_path(f->path, run->o.channel, &run->m->version,
	    NULL) || confirm_bls_find(run->dest, run->o.channel,
	    run->m->version, found, &left, &booted) != BD_OK ||
	    found[0] == '\0')
		return f->path;
	snprintf(buf, FETCH_WHERE_BYTES, "%s", found);
	return buf;
}

/*
 * An artifact whose install path already holds exactly its bytes (read
 * and hashed now, never taken from the state) is neither downloaded nor
 * staged nor renamed: a refresh or a rotation moves no artifact.
 */
static void
unchanged_skip(struct run *run)
{
	const struct bd_artifact *a;
	char path[FETCH_WHERE_BYTES];
	size_t i;

	for (i = 0; i < run->m->nartifacts; i++) {
		a = &run->m->artifacts[i];
		if (!run->selected[i] || !dest_installed_same(run->dest,
		    a->install, a->size, a->sha256))
			continue;
		run->selected[i] = false;
		dest_path_name(run->dest, a->install, path, sizeof(path));
		report_unchanged(&run->r, a->name, path);
	}
}

/* "menu.lst", "grub.cfg", "bootdrop-c-7.conf": a config file in messages. */
static const char *
config_name(const struct boot_file *f)
{
	const char *s = strrchr(f->path, '/');

	return s == NULL ? f->path : s + 1;
}

/* --check: what would be installed, and nothing written. */
static void
plan_print(struct run *run, bool update)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	size_t i;

	if (!update) {
		report_info(&run->r, "up to date: %s version %" PRIu64
		    " is installed", m->channel, m->version);
		return;
	}
	for (i = 0; i < m->nartifacts; i++) {
		if (!run->selected[i])
			continue;
		a = &m->artifacts[i];
		report_plan(&run->r, a->name, a->size, a->sha256_hex, a->install,
		    keep_old(run, a));
	}
	for (i = 0; i < run->nconfig; i++)
		report_plan(&run->r, config_name(&run->config[i]),
		    run->config[i].len, NULL, run->config[i].path, false);
}

/*
 * A kernel's facts as image.h spells them: format 3's "image", or format
 * 2's "elf" of an i386 or amd64 ELF.  BD_ERR_ELF when there are none.
 */
static enum bd_err
kernel_facts(const struct bd_artifact *a, struct image_info *info)
{
	memset(info, 0, sizeof(*info));
	if (a->has_image) {
		*info = a->image;
		return BD_OK;
	}
	if (!a->has_elf)
		return bd_fail(BD_ERR_ELF, "the manifest records nothing about "
		    "kernel %s", a->name);
	info->format = "elf";
	info->xen_pv = a->elf.xen;
	info->arch = strcmp(a->elf.machine, "i386") == 0 ? "i386" :
	    strcmp(a->elf.machine, "amd64") == 0 ? "x86_64" : NULL;
	if (info->arch == NULL)
		return bd_fail(BD_ERR_ELF, "%u-bit %s kernel cannot be loaded by "
		    "pvgrub (i386 or amd64 only)", a->elf.class, a->elf.machine);
	return BD_OK;
}

/*
 * Before any download: every install path usable, the kernel loadable by
 * the pvgrub named (the manifest records its image facts, signed with the
 * hash the download must match), and room for every file on the
 * destination.
 */
static enum bd_err
install_checks(struct run *run)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	uint64_t sizes[MANIFEST_MAX_ARTIFACTS + FETCH_MAX_CONFIG_FILES];
	const char *parts[MANIFEST_MAX_ARTIFACTS + FETCH_MAX_CONFIG_FILES];
	struct dest_need need = { 0, sizes, parts };
	struct image_info info;
	enum bd_err rc;
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		if (!run->selected[i])
			continue;
		a = &m->artifacts[i];
		if ((rc = dest_path_check(run->dest, a->install)) != BD_OK)
			return run_fail(run, rc, run->o.target, NULL,
			    "install path refused");
		if (strcmp(a->kind, "kernel") == 0 && run->o.pvgrub != NULL) {
			if ((rc = kernel_facts(a, &info)) == BD_OK)
				rc = boot_check_kernel(0, &info, run->o.pvgrub);
			if (rc != BD_OK)
				return run_fail(run, rc, run->manifest_url, NULL,
				    "refused kernel %s", a->name);
		}
		sizes[need.nfiles] = a->size;
		parts[need.nfiles++] = run->parts[i];
	}
	for (i = 0; i < run->nconfig; i++) {
		if ((rc = dest_path_check(run->dest, run->config[i].path)) !=
		    BD_OK)
			return run_fail(run, rc, run->o.target, NULL,
			    "install path refused");
		sizes[need.nfiles] = run->config[i].len;
		parts[need.nfiles++] = NULL;
	}
	if ((rc = dest_room(run->dest, &need)) != BD_OK)
		return run_fail(run, rc, run->o.target, NULL,
		    "nothing downloaded or changed");
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
	struct chunkfetch *cf = NULL;
	struct dl_blob b;
	uint64_t resumed;
	enum bd_err rc, first = BD_OK;
	size_t i;

	if ((rc = dest_part_dir(run->dest, &run->partfd)) != BD_OK ||
	    (rc = chunkfetch_new(&(struct chunkfetch_opts){ run->dl,
	    (const char *const *)run->o.mirrors, run->o.nmirrors,
	    run->o.channel, &run->state, run->dest, &run->r }, &cf)) != BD_OK)
		return run_fail(run, rc, run->o.target, NULL,
		    "cannot make the download directory");
	signals_block(false);
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
		b.warn = report_mirror_excluded;
		b.progress_ctx = &run->r;
		report_artifact_start(&run->r, a->name, a->size, 0);
		resumed = 0;	/* by chunks when it can (chunkfetch.h) */
		rc = chunkfetch_artifact(cf, run->partfd, a, &run->fds[i]);
		if (rc != BD_OK && rc != BD_ERR_NETWORK)
			rc = dl_fetch_blob(run->dl,
			    (const char *const *)run->o.mirrors,
			    run->o.nmirrors, run->partfd, &b, &run->fds[i],
			    &resumed);
		if (rc != BD_OK) {
			int status = bd_err_exit_status(rc);

			if (status == 4) {
				first = run_fail(run, rc, dl_where(run->dl),
				    dl_detail(run->dl), "cannot write artifact "
				    "%s", a->name);
				break;
			}
			if (status != 2) {
				first = run_fail(run, rc, dl_where(run->dl),
				    dl_detail(run->dl), "refused artifact %s",
				    a->name);
				break;
			}
			if (first == BD_OK)
				first = run_fail(run, rc, dl_where(run->dl),
				    dl_detail(run->dl),
				    "cannot download artifact %s", a->name);
			continue;
		}
		run->r.resumed = resumed;
		report_artifact_done(&run->r, a->name, a->size, a->sha256_hex);
	}
	signals_block(true);
	chunkfetch_free(cf);
	return first;
}

/* Adds one file to the intent record. */
static void
pending_add(struct bd_pending *p, size_t k, uint64_t size,
    const uint8_t sha256[SHA256_BYTES], bool keep, const char *install)
{
	struct bd_pending_file *f = &p->files[p->nfiles++];

	snprintf(f->stage, sizeof(f->stage), "stage.%zu", k);
	f->size = size;
	memcpy(f->sha256, sha256, SHA256_BYTES);
	f->keep_old = keep;
	snprintf(f->install, sizeof(f->install), "%s", install);
}

/* The size of a file the state st lists with bytes sha256, or false. */
static bool
state_size_of(const struct bd_state *st, const uint8_t *sha256,
    uint64_t *size)
{
	const struct state_files *lists[2] = { &st->files, &st->prev_files };
	size_t i, j;

	for (j = 0; j < 2; j++)
		for (i = 0; i < lists[j]->n; i++)
			if (memcmp(lists[j]->f[i].sha256, sha256,
			    SHA256_BYTES) == 0) {
				*size = lists[j]->f[i].size;
				return true;
			}
	return false;
}

/* Adds the previous version's file (path, sha256) to l, sized by old. */
static void
prev_file_add(struct state_files *l, const struct bd_state *old,
    const char *path, const uint8_t *sha256)
{
	uint64_t size;

	/* unknown to the old state: never recorded, so never removed */
	if (state_size_of(old, sha256, &size))
		(void)state_files_add(l, size, sha256, path);
}

/*
 * The file lists of the state st a full install of m writes: every file
 * m puts on the slice (unchanged ones too), and the previous version's
 * files kept with it - those its boot entry names, the <install>.old
 * copies this install makes, and, where m's kernel or initrd is the one
 * installed already (a refresh), the <install>.old left by the version
 * before: a refresh must not cost the guest its fallback kernel.
 */
static void
state_lists(const struct run *run, struct bd_state *st)
{
	const struct bd_manifest *m = run->m;
	const struct bd_state *old = &run->state;
	const struct bd_artifact *a;
	const struct state_file *f;
	char oldpath[INSTALL_PATH_MAX_BYTES + 8];
	uint8_t sha[SHA256_BYTES];
	size_t i;

	st->has_files = true;
	for (i = 0; i < m->nartifacts; i++) {
		a = &m->artifacts[i];
		(void)state_files_add(&st->files, a->size, a->sha256, a->install);
	}
	for (i = 0; i < run->nconfig; i++) {
		sha256_buf(run->config[i].text, run->config[i].len, sha);
		(void)state_files_add(&st->files, run->config[i].len, sha,
		    run->config[i].path);
	}
	if (run->repair) {	/* the same version: the same previous one */
		st->prev_files = old->prev_files;
		return;
	}
	if (st->prev_boot.present) {
		prev_file_add(&st->prev_files, old, st->prev_boot.kernel,
		    st->prev_boot.kernel_sha256);
		if (st->prev_boot.has_initrd)
			prev_file_add(&st->prev_files, old, st->prev_boot.initrd,
			    st->prev_boot.initrd_sha256);
	}
	for (i = 0; i < m->nartifacts; i++) {
		a = &m->artifacts[i];
		if (!keep_old(run, a))
			continue;
		snprintf(oldpath, sizeof(oldpath), "%s.old", a->install);
		if ((f = state_files_find(&old->files, a->install)) == NULL)
			continue;
		if (memcmp(f->sha256, a->sha256, SHA256_BYTES) != 0)
			(void)state_files_add(&st->prev_files, f->size, f->sha256,
			    oldpath);
		else if ((f = state_files_find(&old->prev_files, oldpath)) !=
		    NULL)
			(void)state_files_add(&st->prev_files, f->size, f->sha256,
			    oldpath);
	}
}

/*
 * The state p commits: m accepted, its boot data and the files of both
 * bootable versions, and the removals of what they no longer need.
 */
static enum bd_err
pending_accept(struct run *run, struct bd_pending *p)
{
	const struct bd_manifest *m = run->m;

	p->has_state = true;
	p->state.present = true;
	p->state.version = m->version;
	memcpy(p->state.payload_sha256, m->payload_sha256, SHA256_BYTES);
	p->state.has_keys = true;
	p->state.keys = m->keys;
	state_set_boot(&p->state, m, run->has_view ? &run->view : NULL,
	    &run->prev);
	state_lists(run, &p->state);
	return dest_plan_removals(run->dest, &run->state, p);
}

/*
 * Checks every kernel, stages every verified file and menu.lst on the
 * destination, and commits them with the new state in one transaction.
 */
static enum bd_err
artifacts_install(struct run *run)
{
	const struct bd_manifest *m = run->m;
	const struct bd_artifact *a;
	struct bd_pending *p = &run->pending;
	const char *names[PENDING_MAX_FILES];
	char path[FETCH_WHERE_BYTES];
	uint8_t sha[SHA256_BYTES];
	enum bd_err rc;
	size_t i;

	if ((rc = dest_begin(run->dest, &run->state)) != BD_OK)
		return run_fail(run, rc, run->o.target, NULL,
		    "nothing installed");
	memset(p, 0, sizeof(*p));
	snprintf(p->channel, sizeof(p->channel), "%s", run->o.channel);
	for (i = 0; i < m->nartifacts; i++) {
		if (!run->selected[i])
			continue;
		a = &m->artifacts[i];
		if ((rc = dest_stage_file(run->dest, i, run->fds[i],
		    run->parts[i], a->size)) != BD_OK)
			return run_fail(run, rc, run->o.target, NULL,
			    "cannot stage %s; nothing installed", a->name);
		names[p->nfiles] = a->name;
		pending_add(p, i, a->size, a->sha256, keep_old(run, a),
		    a->install);
	}
	for (i = 0; i < run->nconfig; i++) {
		sha256_buf(run->config[i].text, run->config[i].len, sha);
		/* already exactly these bytes (a refresh of format 2's menu) */
		if (dest_installed_same(run->dest, run->config[i].path,
		    run->config[i].len, sha))
			continue;
		if ((rc = dest_stage_bytes(run->dest, m->nartifacts + i,
		    run->config[i].text, run->config[i].len)) != BD_OK)
			return run_fail(run, rc, run->o.target, NULL,
			    "cannot stage %s; nothing installed",
			    config_name(&run->config[i]));
		names[p->nfiles] = config_name(&run->config[i]);
		pending_add(p, m->nartifacts + i, run->config[i].len, sha,
		    false, run->config[i].path);
	}
	/* a partial install accepts no version */
	if (run->o.nonly == 0 && (rc = pending_accept(run, p)) != BD_OK)
		return run_fail(run, rc, run->o.target, NULL,
		    "nothing installed");
	if (p->has_state && !run->repair && run->has_view &&
	    (m->loaders & BOOT_GRUB) != 0 &&
	    (rc = confirm_arm(run->dest, m->version,
	    run->view.config.nentries > 1)) != BD_OK)
		return run_fail(run, rc, run->o.target, NULL, "cannot write "
		    "the trial boot record; nothing installed");
	/* --only of unchanged files: nothing to commit, and a record naming
	 * nothing would be refused by the next run */
	if ((p->nfiles > 0 || p->has_state) &&
	    (rc = dest_commit(run->dest, p)) != BD_OK)
		return run_fail(run, rc, run->o.target, NULL, "install "
		    "interrupted; the next run finishes it");
	for (i = 0; i < p->nfiles; i++) {
		dest_path_name(run->dest, p->files[i].install, path,
		    sizeof(path));
		report_installed(&run->r, names[i], path);
	}
	for (i = 0; i < p->nremoves; i++) {
		if (!dest_removed(run->dest, i))
			continue;
		dest_path_name(run->dest, p->removes[i].path, path,
		    sizeof(path));
		report_removed(&run->r, path);
	}
	return BD_OK;
}

/* Removes every downloaded part of this manifest's artifacts. */
static void
parts_remove(struct run *run)
{
	const char *names[MANIFEST_MAX_ARTIFACTS];
	size_t i;

	for (i = 0; i < run->m->nartifacts; i++) {
		if (run->fds[i] >= 0)
			close(run->fds[i]);
		run->fds[i] = -1;
		names[i] = run->parts[i];
	}
	dest_parts_remove(run->dest, names, run->m->nartifacts);
}

/*
 * The whole run after option parsing.  Returns BD_OK with summary set, or
 * the failure recorded in run; *update tells --check's verdict.
 */
static enum bd_err
run_pipeline(struct run *run, char *summary, size_t cap, bool *update)
{
	const struct options *o = &run->o;
	enum verdict verdict = MANIFEST_NEW;
	int fd;

	*update = false;
	if (run_open(run) != BD_OK || manifest_fetch(run, &verdict) != BD_OK ||
	    artifacts_select(run) != BD_OK || config_render(run) != BD_OK)
		return run->rc;
	*update = verdict != MANIFEST_CURRENT || o->nonly > 0;
	/* Up to date: every installed file is re-hashed, never assumed. */
	if (!*update && installed_check(run) > 0) {
		*update = true;
		run->repair = true;
	}
	if (o->check) {
		plan_print(run, *update);
		report_check(&run->r, o->channel, run->m->version, *update);
		snprintf(summary, cap, "checked %s version %" PRIu64 ": %s; "
		    "nothing written", o->channel, run->m->version,
		    run->repair ? "installed files differ (a plain run repairs "
		    "them)" : *update ? "update available" : "up to date");
		run->r.outcome = run->repair ? "repair-needed" : *update ?
		    "update-available" : "up-to-date";
		run->r.ok_status = *update ? FETCH_STATUS_UPDATE : 0;
		return BD_OK;
	}
	if (!*update) {
		/* Parts a run killed after its state write left behind. */
		if (dest_part_dir(run->dest, &fd) == BD_OK)
			parts_remove(run);
		snprintf(summary, cap, "up to date: %s version %" PRIu64,
		    o->channel, run->m->version);
		run->r.outcome = "up-to-date";
		return BD_OK;
	}
	if (!run->repair)
		unchanged_skip(run);
	if (install_checks(run) != BD_OK || artifacts_download(run) != BD_OK ||
	    artifacts_install(run) != BD_OK)
		return run->rc;
	parts_remove(run);
	run->r.outcome = run->repair ? "repaired" : o->nonly > 0 ?
	    "installed-only" : "installed";
	if (run->repair)
		snprintf(summary, cap, "repaired %s version %" PRIu64 " in %s",
		    o->channel, run->m->version, o->target);
	else if (o->nonly > 0)
		snprintf(summary, cap, "installed %zu artifact%s of %s version %"
		    PRIu64 " into %s; --only records no version", o->nonly,
		    o->nonly == 1 ? "" : "s", o->channel, run->m->version,
		    o->target);
	else
		snprintf(summary, cap, "installed %s version %" PRIu64 " into %s",
		    o->channel, run->m->version, o->target);
	return BD_OK;
}

/*
 * --confirm, no network: the slice is opened read-only first, so that an
 * interrupted install is named rather than finished behind the user's
 * back, then for writing the trial record (client/confirm.c).
 */
static enum bd_err
run_confirm(struct run *run, char *summary, size_t cap)
{
	const struct options *o = &run->o;
	struct dest_config cfg = {
		.target = o->target, .ext2 = o->ext2 != NULL,
		.statedir = o->statedir, .tmpdir = o->tmpdir,
		.channel = o->channel, .readonly = true,
	};
	bool pending, present, changed;
	enum bd_err rc;

	if ((rc = dest_open(&cfg, &run->dest)) != BD_OK)
		return run_fail(run, rc, o->target, NULL, "nothing confirmed");
	pending = dest_pending(run->dest);
	present = dest_state(run->dest)->present;
	(void)dest_close(run->dest, false);
	run->dest = NULL;
	if (pending)
		return run_fail(run, BD_ERR_IO, o->target, "an interrupted "
		    "install is pending; a run without --confirm finishes it",
		    "nothing confirmed");
	if (!present)
		return run_fail(run, BD_ERR_IO, o->target, "", "no bootdrop "
		    "install of channel %s; nothing confirmed", o->channel);
	cfg.readonly = false;
	if ((rc = dest_open(&cfg, &run->dest)) != BD_OK)
		return run_fail(run, rc, o->target, NULL, "nothing confirmed");
	/* systemd-boot reads only an ESP, which --ext2 never is */
	if ((rc = confirm_run(run->dest, o->channel, o->ext2 != NULL ? NULL :
	    o->efivars != NULL ? o->efivars : "/sys/firmware/efi/efivars",
	    summary, cap, &changed)) != BD_OK)
		return run_fail(run, rc, o->target, NULL, "not confirmed");
	run->r.outcome = changed ? "confirmed" : "unchanged";
	return BD_OK;
}

/*
 * --report-done: the last request of a successful run, a GET of the
 * accepted version's <version>.json from the mirror that served the
 * manifest - a request no other step makes, so quick mode's --exit-after
 * can count a guest that finished even when it downloaded no artifact.
 * What it answers is not used, and a failure is no failure of the run
 * (quick mode may have stopped already, on the blobs served): only -v
 * mentions it.
 */
static void
done_report(struct run *run)
{
	char url[DL_URL_MAX_BYTES];
	uint8_t *buf = NULL;
	size_t len;

	if (!walk_version_url(run->o.mirrors[run->manifest_mirror],
	    run->o.channel, run->m->version, url, sizeof(url)))
		return;
	if (dl_get_buf(run->dl, url, MANIFEST_MAX_BYTES, &buf, &len) != BD_OK &&
	    run->o.verbose)
		report_warn(&run->r, "%s: --report-done: %s", url,
		    dl_detail(run->dl));
	free(buf);
	bd_err_clear();
}

int
main(int argc, char **argv)
{
	struct run *run;
	char summary[320];
	bool done = false, curl_ready = false, update = false;
	enum bd_err rc;
	int status;
	size_t i;

	/*
	 * Buffers of 128 KiB or more (indexes, chunks, ranges in flight) are
	 * mapped and given back when freed: with glibc's moving threshold a
	 * freed chunk index stayed resident under the next one (peak RSS).
	 */
	mallopt(M_MMAP_THRESHOLD, FETCH_MMAP_THRESHOLD_BYTES);
	if ((run = calloc(1, sizeof(*run))) == NULL) {
		fputs("bootdrop-fetch: out of memory\n", stderr);
		return 4;
	}
	run->partfd = -1;
	for (i = 0; i < MANIFEST_MAX_ARTIFACTS; i++)
		run->fds[i] = -1;
	summary[0] = '\0';
	signals_block(true);
	if (options_parse(run, argc, argv, &done) != BD_OK) {
		report_init(&run->r, false, run->o.json);
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
	run->r.verbose = run->o.verbose;
	report_interrupts(&run->r);
	if (sodium_init() < 0)
		run_fail(run, BD_ERR_NOMEM, NULL, "", "libsodium init failed");
	else if (run->o.confirm) {
		if (run_confirm(run, summary, sizeof(summary)) != BD_OK)
			summary[0] = '\0';
	} else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		run_fail(run, BD_ERR_NOMEM, NULL, "", "libcurl init failed");
	else if ((curl_ready = true, dl_new(&run->o.dl, &run->dl)) != BD_OK)
		run_fail(run, BD_ERR_USAGE, NULL, NULL, "libcurl setup failed");
	else if (run->o.audit) {
		signals_block(false);	/* nothing to finish: stop at once */
		status = audit_run(&(struct audit_opts){ run->dl,
		    (const char *const *)run->o.mirrors, run->o.nmirrors,
		    run->o.channel, run->o.keys, run->o.nkeys,
		    run->o.threshold, run->o.json, run->o.quiet });
		goto out;
	} else if (run_pipeline(run, summary, sizeof(summary), &update) != BD_OK)
		summary[0] = '\0';
	for (i = 0; i < MANIFEST_MAX_ARTIFACTS; i++)
		if (run->fds[i] >= 0)
			close(run->fds[i]);
	/* A refusal leaves no part behind; network and local failures keep
	 * them to resume. */
	if (run->m != NULL && bd_err_exit_status(run->rc) == 3 &&
	    run->dest != NULL)
		parts_remove(run);
	rc = dest_close(run->dest, run->rc != BD_OK);
	if (rc != BD_OK && run->rc == BD_OK) {
		run_fail(run, rc, run->o.target, NULL, "cannot close the "
		    "destination");
		summary[0] = '\0';
	}
	if (run->rc == BD_OK && run->o.report_done && !run->o.check &&
	    run->m != NULL)
		done_report(run);
	status = report_result(&run->r, run->rc, run->what, run->where,
	    run->detail, summary[0] != '\0' ? summary : NULL);
out:
	boot_files_free(run->config, run->nconfig);
	manifest_free(run->m);
	dl_free(run->dl);
	if (curl_ready)
		curl_global_cleanup();
	for (i = 0; i < run->o.nmirrors; i++)
		free(run->o.mirrors[i]);
	sodium_memzero(run, sizeof(*run));
	free(run);
	return status;
}
