/*
 * bootdrop-publish - the publisher's tool: make keys, publish releases into
 * a repository of static files, change a channel's keys (rotate) or expiry
 * (refresh), list, show and verify (the whole chain) what is published,
 * prune blobs no recent manifest names.
 *
 * Exit status (bd_err_exit_status(), the one mapping): 0 success; 1 usage,
 * configuration or an unreadable input; 3 refused (a kernel it cannot
 * read or a named loader cannot boot, a manifest or blob that does not
 * verify); 4 local write error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "boot.h"
#include "chain.h"
#include "chain_verify.h"
#include "chunkpub.h"
#include "cli.h"
#include "image.h"
#include "fsutil.h"
#include "key.h"
#include "layout.h"
#include "manifest.h"
#include "num.h"
#include "repo.h"
#include "sha256.h"
#include "timefmt.h"
#include "units.h"

#define PROG			"bootdrop-publish"
#define DEFAULT_EXPIRY_S	(30 * 86400)
#define MAX_KEYS		MANIFEST_MAX_SIGNATURES
#define MENU_ARTIFACT		"menu.lst"	/* --menu FILE's artifact */

static const char usage_text[] =
"usage: bootdrop-publish keygen -p PUBFILE -s SECFILE [-W] [-f]\n"
"                               [--passphrase-file FILE | --passphrase-env VAR]\n"
"       bootdrop-publish release -r REPO -c CHANNEL -s SECFILE [-s SECFILE ...]\n"
"                               [-e EXPIRY] [--loader pvgrub|grub|bls ...]\n"
"                               [--cmdline STR] [--title STR] [--root DEV]\n"
"                               [--menu FILE | --no-menu] [-f]\n"
"                               [--install NAME=PATH ...]\n"
"                               [--keys PUB ... [-t THRESHOLD]]\n"
"                               [--passphrase-file FILE ... | --passphrase-env VAR]\n"
"                               kernel=FILE [initrd=FILE] [world=FILE] [NAME=FILE ...]\n"
"       bootdrop-publish rotate -r REPO -c CHANNEL -s SECFILE [-s SECFILE ...]\n"
"                               --keys PUB [--keys PUB ...] [-t THRESHOLD]\n"
"                               [-e EXPIRY] [--loader ... --cmdline ... --title ...]\n"
"                               [--passphrase-file FILE ... | ...]\n"
"       bootdrop-publish refresh -r REPO -c CHANNEL -s SECFILE [-s SECFILE ...]\n"
"                               [-e EXPIRY] [--loader ... --cmdline ... --title ...]\n"
"                               [--passphrase-file FILE ... | ...]\n"
"       bootdrop-publish verify -r REPO -c CHANNEL [(-P KEY | -p PUBFILE)...\n"
"                               [-t THRESHOLD]] [-n VERSION]\n"
"       bootdrop-publish show -r REPO -c CHANNEL [-n VERSION]\n"
"       bootdrop-publish list -r REPO\n"
"       bootdrop-publish prune -r REPO -k N\n"
"       bootdrop-publish -h | --help | -V | --version\n";

static const char help_text[] =
"\n"
"Commands:\n"
"  keygen    make a minisign-compatible Ed25519 key pair.  The secret key is\n"
"            encrypted with a passphrase (scrypt) unless -W is given.\n"
"  release   store the files as content-addressed blobs in REPO and publish\n"
"            the next version of CHANNEL's manifest, signed by every -s key.\n"
"            The kernel's image facts are read from it (ELF, gzip ELF or\n"
"            x86 bzImage).  kernel installs to boot/kernel, initrd to\n"
"            boot/initrd.img, world and NAME=FILE under their file names\n"
"            (--install NAME=PATH chooses).  Options may come before or\n"
"            after NAME=FILE; '--' ends them.  The boot data names loaders\n"
"            whose configuration guests render: a FreeBSD Xen PV kernel\n"
"            gets pvgrub and its usual command line by default; any other\n"
"            needs --cmdline.\n"
"            The same files as the newest version are refused unless -f.\n"
"            The new version keeps the previous version's keys (the first\n"
"            one: the -s keys, threshold 1 or -t) and names its hash.\n"
"  rotate    publish the next version with the same artifacts and new keys\n"
"            (--keys, threshold -t): enough of the old keys and of the new\n"
"            must sign (-s both), so every guest follows the change.\n"
"  refresh   publish the next version with the same artifacts, boot data\n"
"            and keys and a new expiry (-e).\n"
"            rotate and refresh keep the channel's lifetime (the newest\n"
"            version's expires - created) unless -e is given.\n"
"  verify    check the channel's whole chain of versions, the newest\n"
"            manifest (or version -n) and every blob it names (size and\n"
"            SHA-256), and that a server running as another user can read\n"
"            every file it must serve; with -P or -p, that a guest holding\n"
"            those keys reaches the newest.\n"
"  show      print the newest manifest (or version -n), its keys, image\n"
"            facts and each loader's rendered configuration for people\n"
"            (signatures not checked).\n"
"  list      print every channel with its newest version and expiry.\n"
"  prune     remove the blobs that no manifest among the newest N versions\n"
"            of any channel names (manifests are never removed).\n"
"\n";

static const char options_text[] =
"Options:\n"
"  -p, --pubkey-file FILE    public key file (keygen: written; verify: trusted)\n"
"  -s, --seckey FILE         secret key file (keygen: written; release: signs)\n"
"  -P, --pubkey KEY          trusted public key as a base64 string (verify)\n"
"  -W, --unencrypted         keygen: do not encrypt the secret key\n"
"  -f, --force               keygen: overwrite existing key files;\n"
"                            release: publish even if nothing changed\n"
"  -r, --repo REPO           repository directory (created by release)\n"
"  -c, --channel CHANNEL     channel name, [a-z0-9][a-z0-9._-]{0,63}\n"
"  -e, --expires EXPIRY      a duration (90d, 12h, 30m) or an RFC 3339 UTC\n"
"                            time (2027-01-01T00:00:00Z); release: default\n"
"                            30d; rotate, refresh: default the channel's\n"
"                            lifetime (the newest version's expires - created)\n"
"  -t, --threshold N         verify: distinct keys that must have signed\n"
"                            (default 1); release, rotate: the new keys'\n"
"                            threshold\n"
"      --keys PUB            release, rotate: a key of the new version (a\n"
"                            public key file or a key string); repeat for\n"
"                            each key\n"
"  -n, --version VERSION     verify, show: that version instead of the newest\n"
"  -k, --keep N              prune: keep the blobs of each channel's newest N\n"
"      --loader LOADER       release, rotate, refresh: pvgrub (menu.lst), grub\n"
"                            (grub.cfg) or bls (loader/entries); repeatable\n"
"      --cmdline STR         the kernel's command line (1024 printable bytes)\n"
"      --title STR           the boot entry's title (128 printable bytes)\n"
"      --root DEV            pvgrub's root device (default (hd0,0))\n"
"      --install NAME=PATH   release: install artifact NAME at PATH\n"
"      --menu FILE           release: ship FILE as boot/grub/menu.lst, no loader\n"
"      --no-menu             release: no boot configuration\n"
"      --passphrase-file FILE  read the passphrase from FILE's first line;\n"
"                            once for every key, or once per -s key in order;\n"
"                            - is standard input (a line per key), and pipes\n"
"                            such as /dev/stdin or <(command) work\n"
"      --passphrase-env VAR  read the passphrase from environment variable VAR\n"
"  -h, --help                this help\n"
"  -V, --version             (before a command) print the program's version\n"
"\n"
"Exit status: 0 success, 1 usage, configuration or unreadable input,\n"
"3 refused (a kernel unread or unbootable by a named loader, a failed\n"
"verification), 4 local\n"
"write error.\n";

enum {
	OPT_MENU = 256, OPT_NO_MENU, OPT_PASSFILE, OPT_PASSENV, OPT_KEYS,
	OPT_LOADER, OPT_CMDLINE, OPT_TITLE, OPT_ROOT, OPT_INSTALL
};

static const struct option long_options[] = {
	{ "pubkey-file", required_argument, NULL, 'p' },
	{ "seckey", required_argument, NULL, 's' },
	{ "pubkey", required_argument, NULL, 'P' },
	{ "unencrypted", no_argument, NULL, 'W' },
	{ "force", no_argument, NULL, 'f' },
	{ "repo", required_argument, NULL, 'r' },
	{ "channel", required_argument, NULL, 'c' },
	{ "expires", required_argument, NULL, 'e' },
	{ "threshold", required_argument, NULL, 't' },
	{ "version", required_argument, NULL, 'n' },
	{ "keep", required_argument, NULL, 'k' },
	{ "menu", required_argument, NULL, OPT_MENU },
	{ "no-menu", no_argument, NULL, OPT_NO_MENU },
	{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
	{ "passphrase-env", required_argument, NULL, OPT_PASSENV },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "loader", required_argument, NULL, OPT_LOADER },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "title", required_argument, NULL, OPT_TITLE },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "install", required_argument, NULL, OPT_INSTALL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *cmd;
	const char *pubfile, *repo, *channel, *expiry, *menu;
	const char *secfiles[MAX_KEYS];
	size_t nsec;
	const char *passfiles[MAX_KEYS];
	size_t npass;
	const char *passenv;
	struct bd_pubkey trusted[MAX_KEYS];
	size_t ntrusted;
	const char *keyargs[MAX_KEYS];	/* --keys */
	size_t nkeyargs;
	unsigned long threshold;
	uint64_t version, keep;
	bool unencrypted, force, no_menu;
	struct boot_opts boot;		/* --loader, --cmdline, --title, --root */
	char *installs[MANIFEST_MAX_ARTIFACTS];	/* --install NAME=PATH */
	size_t ninstalls;
	char **rest;
	int nrest;
};

/* Each command's options: its short letters; long-only ones by flag. */
struct command {
	const char *name;
	const char *optstring;
	bool menu, passphrase, keys, boot;	/* long options it takes */
	int (*run)(struct args *);
};

/*
 * Prints the complaint and a pointer to --help, or the usage when there is
 * no complaint; returns the exit status of a usage error.
 */
static int __attribute__((format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, PROG ": ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputs("\nTry '" PROG " --help'.\n", stderr);
	} else
		fputs(usage_text, stderr);
	return bd_err_exit_status(BD_ERR_USAGE);
}

/* Prints the one error line; returns the exit status the mapping picks. */
static int
fail(const char *what, enum bd_err rc)
{
	return cli_report(PROG, what, rc);
}

/* Adds a trusted key from -P (base64) or -p (file). */
static enum bd_err
add_trusted(struct args *a, const char *arg, bool is_file)
{
	enum bd_err rc;

	if (a->ntrusted == MAX_KEYS)
		return bd_fail(BD_ERR_USAGE, "at most %d keys", MAX_KEYS);
	rc = is_file ? cli_load_pubkey(arg, &a->trusted[a->ntrusted]) :
	    pubkey_from_base64(&a->trusted[a->ntrusted], arg);
	if (rc == BD_OK)
		a->ntrusted++;
	return rc;
}

/* Checked decimal in [min, max] for option opt. */
static bool
parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return num_u64_str(s, min, max, out) == BD_OK;
}

/* Parses a command's options; returns -1 on success or an exit status. */
static int
parse_args(int argc, char **argv, const struct command *cmd, struct args *a)
{
	char opt[48];
	uint64_t n;
	int c, li;
	enum bd_err rc;

	optind = 1;
	opterr = 0;
	for (;;) {
		li = -1;
		if ((c = getopt_long(argc, argv, cmd->optstring, long_options,
		    &li)) == -1)
			break;
		if (li >= 0)
			snprintf(opt, sizeof(opt), "--%s", long_options[li].name);
		else if ((c == '?' || c == ':') && (optopt == 0 ||
		    strncmp(argv[optind - 1], "--", 2) == 0))
			snprintf(opt, sizeof(opt), "%.*s",
			    (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
		else if (c == '?' || c == ':')
			snprintf(opt, sizeof(opt), "-%c", optopt);
		else
			snprintf(opt, sizeof(opt), "-%c", c);
		if ((c < 256 && c != '?' && c != ':' && c != 'h' &&
		    strchr(cmd->optstring + 1, c) == NULL) ||
		    ((c == OPT_MENU || c == OPT_NO_MENU) && !cmd->menu) ||
		    ((c == OPT_PASSFILE || c == OPT_PASSENV) && !cmd->passphrase) ||
		    (c == OPT_KEYS && !cmd->keys) ||
		    (c >= OPT_LOADER && c <= OPT_ROOT && !cmd->boot) ||
		    (c == OPT_INSTALL && !cmd->menu))
			return usage("%s does not take %s", cmd->name, opt);
		switch (c) {
		case 'p':
			if (strchr(cmd->optstring, 'P') != NULL) {
				if ((rc = add_trusted(a, optarg, true)) != BD_OK)
					return fail(optarg, rc);
			} else
				a->pubfile = optarg;
			break;
		case 'P':
			if ((rc = add_trusted(a, optarg, false)) != BD_OK)
				return fail("-P", rc);
			break;
		case 's':
			if (a->nsec == MAX_KEYS)
				return usage("at most %d -s keys", MAX_KEYS);
			a->secfiles[a->nsec++] = optarg;
			break;
		case 'W':
			a->unencrypted = true;
			break;
		case 'f':
			a->force = true;
			break;
		case 'r':
			a->repo = optarg;
			break;
		case 'c':
			a->channel = optarg;
			break;
		case 'e':
			a->expiry = optarg;
			break;
		case 't':
			if (!parse_count(optarg, 1, MAX_KEYS, &n))
				return usage("bad threshold '%s' (1 to %d)", optarg,
				    MAX_KEYS);
			a->threshold = (unsigned long)n;
			break;
		case 'n':
			if (!parse_count(optarg, 1, MANIFEST_MAX_VERSION,
			    &a->version))
				return usage("bad version '%s'", optarg);
			break;
		case 'k':
			if (!parse_count(optarg, 1, REPO_MAX_VERSIONS, &a->keep))
				return usage("bad --keep '%s' (1 to %d)", optarg,
				    REPO_MAX_VERSIONS);
			break;
		case OPT_MENU:
			a->menu = optarg;
			break;
		case OPT_NO_MENU:
			a->no_menu = true;
			break;
		case OPT_PASSFILE:
			if (a->npass == MAX_KEYS)
				return usage("at most %d --passphrase-file",
				    MAX_KEYS);
			a->passfiles[a->npass++] = optarg;
			break;
		case OPT_PASSENV:
			a->passenv = optarg;
			break;
		case OPT_LOADER:
			if (boot_loader_parse(optarg) == 0)
				return usage("--loader %s: want pvgrub, grub or bls",
				    optarg);
			if ((a->boot.loaders & boot_loader_parse(optarg)) != 0)
				return usage("--loader %s given twice", optarg);
			a->boot.loaders |= boot_loader_parse(optarg);
			a->boot.loaders_set = true;
			break;
		case OPT_CMDLINE:
			a->boot.cmdline = optarg;
			break;
		case OPT_TITLE:
			a->boot.title = optarg;
			break;
		case OPT_ROOT:
			a->boot.root = optarg;
			break;
		case OPT_INSTALL:
			if (a->ninstalls == MANIFEST_MAX_ARTIFACTS)
				return usage("at most %d --install",
				    MANIFEST_MAX_ARTIFACTS);
			a->installs[a->ninstalls++] = optarg;
			break;
		case OPT_KEYS:
			if (a->nkeyargs == MAX_KEYS)
				return usage("at most %d --keys", MAX_KEYS);
			a->keyargs[a->nkeyargs++] = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			fputs(options_text, stdout);
			exit(0);
		case ':':
			return usage("%s needs an argument", opt);
		default:
			return usage("%s: unknown option %s", cmd->name, opt);
		}
	}
	a->rest = argv + optind;
	a->nrest = argc - optind;
	if (a->npass > 0 && a->passenv != NULL)
		return usage("--passphrase-file and --passphrase-env exclude "
		    "each other");
	return -1;
}

/* The passphrase source for the i-th -s key. */
static struct cli_pass
pass_for(const struct args *a, size_t i)
{
	struct cli_pass p = { .env = a->passenv };

	if (a->npass == 1)
		p.file = a->passfiles[0];
	else if (i < a->npass)
		p.file = a->passfiles[i];
	return p;
}

static int
cmd_keygen(struct args *a)
{
	struct bd_seckey *sk = NULL;
	struct bd_pubkey pk;
	struct cli_pass pass = pass_for(a, 0);
	char b64[PUBKEY_B64_BYTES], kid[KEY_ID_HEX_BYTES];
	enum bd_err rc;
	int status = 0;

	if (a->pubfile == NULL || a->nsec != 1 || a->nrest != 0)
		return usage("keygen needs -p PUBFILE and -s SECFILE");
	if (a->npass > 1)
		return usage("keygen takes one --passphrase-file");
	if (!a->force) {
		struct stat st;

		if (stat(a->secfiles[0], &st) == 0 || stat(a->pubfile, &st) == 0)
			return usage("key file exists; use -f to overwrite");
	}
	if ((rc = seckey_generate(&sk, &pk)) != BD_OK) {
		status = fail("keygen", rc);
		goto out;
	}
	pass.key = a->secfiles[0];
	rc = seckey_save_file(sk, a->secfiles[0], a->force,
	    a->unencrypted ? NULL : cli_passphrase, &pass);
	if (rc != BD_OK) {
		status = fail(a->secfiles[0], rc);
		goto out;
	}
	if ((rc = pubkey_save_file(&pk, a->pubfile, a->force)) != BD_OK) {
		status = fail(a->pubfile, rc);
		goto out;
	}
	pubkey_to_base64(&pk, b64);
	keyid_hex(pk.id, kid);
	printf("key id %s\npublic key %s\n", kid, b64);
	printf("The secret key is in %s%s; keep it private.\n", a->secfiles[0],
	    a->unencrypted ? " (NOT encrypted)" : "");
	printf("Clients trust this key with: bootdrop-fetch -P %s ...\n", b64);
out:
	seckey_free(sk);
	return status;
}

/*
 * Splits NAME=FILE arguments into release inputs (*n of them), adds
 * --menu FILE as the file artifact menu.lst installed at
 * boot/grub/menu.lst, and applies every --install.
 */
static int
parse_inputs(struct args *a, struct release_input *in, size_t *n)
{
	enum bd_err rc;
	size_t i;

	*n = 0;
	for (i = 0; i < (size_t)a->nrest; i++) {
		if (a->rest[i][0] == '-' && strchr(a->rest[i], '=') == NULL)
			return usage("expected NAME=FILE, got '%s': options go "
			    "before '--'%s", a->rest[i],
			    getenv("POSIXLY_CORRECT") != NULL ? " and, with "
			    "POSIXLY_CORRECT set, before NAME=FILE" : "");
		if (repo_parse_input(a->rest[i], &in[i]) != BD_OK)
			return usage("%s", bd_err_detail());
		(*n)++;
	}
	if (a->menu != NULL) {
		if (*n == MANIFEST_MAX_ARTIFACTS)
			return usage("too many artifacts with --menu");
		in[*n].name = MENU_ARTIFACT;
		in[*n].path = a->menu;
		in[*n].install = BOOT_MENU_LST_PATH;
		(*n)++;
	}
	for (i = 0; i < a->ninstalls; i++)
		if ((rc = repo_parse_install(a->installs[i], in, *n)) != BD_OK)
			return rc == BD_ERR_PATH ? fail("--install", rc) :
			    usage("%s", bd_err_detail());
	return -1;
}

/* Prints a warning repo.c passes up. */
static void
warn_line(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, PROG ": warning: %s\n", msg);
}

/* Prints a note repo.c passes up (what chunked artifacts share). */
static void
note_line(void *ctx, const char *msg)
{
	(void)ctx;
	printf("  %s\n", msg);
}

/* Refuses one key file named twice, before any passphrase is asked. */
static int
check_distinct_files(const struct args *a)
{
	struct stat st[MAX_KEYS];
	size_t i, j;

	for (i = 0; i < a->nsec; i++) {
		if (stat(a->secfiles[i], &st[i]) != 0)
			return fail(a->secfiles[i], bd_fail(BD_ERR_INPUT, "%s",
			    strerror(errno)));
		for (j = 0; j < i; j++)
			if (st[i].st_dev == st[j].st_dev &&
			    st[i].st_ino == st[j].st_ino)
				return usage("-s %s and -s %s are the same key "
				    "file; each key signs once", a->secfiles[j],
				    a->secfiles[i]);
	}
	return -1;
}

/* Loads every -s key; refuses two copies of one key. */
static int
load_signers(struct args *a, struct bd_seckey **keys)
{
	char kid[KEY_ID_HEX_BYTES];
	struct cli_pass pass;
	size_t i, j;
	enum bd_err rc;

	if (a->npass > 1 && a->npass != a->nsec)
		return usage("give one --passphrase-file, or one per -s key "
		    "(%zu keys, %zu files)", a->nsec, a->npass);
	for (i = 0; i < a->nsec; i++) {
		pass = pass_for(a, i);
		if ((rc = cli_load_seckey(a->secfiles[i], &pass, &keys[i])) !=
		    BD_OK)
			return fail(a->secfiles[i], rc);
		for (j = 0; j < i; j++)
			if (memcmp(keys[i]->id, keys[j]->id, KEY_ID_BYTES) == 0) {
				keyid_hex(keys[i]->id, kid);
				return usage("-s %s and -s %s hold the same key "
				    "%s; each key signs once", a->secfiles[j],
				    a->secfiles[i], kid);
			}
	}
	return -1;
}

/* -e: a duration or an RFC 3339 time after now (default 30 days). */
static int
expiry_parse(const struct args *a, time_t now, time_t *expires)
{
	int64_t secs;

	*expires = now + DEFAULT_EXPIRY_S;
	if (a->expiry == NULL)
		return -1;
	if (duration_parse(a->expiry, &secs) == BD_OK)
		*expires = now + secs;
	else if (time_parse(a->expiry, expires) != BD_OK)
		return usage("bad expiry '%s' (want e.g. 90d, 12h or "
		    "2027-01-01T00:00:00Z)", a->expiry);
	if (*expires <= now)
		return usage("expiry '%s' is in the past", a->expiry);
	return -1;
}

/* --no-menu and --menu FILE write no boot configuration of bootdrop's. */
static int
boot_args(struct args *a)
{
	if (a->menu != NULL && a->no_menu)
		return usage("--menu and --no-menu exclude each other");
	if ((a->menu != NULL || a->no_menu) && a->boot.loaders != 0)
		return usage("--%s and --loader exclude each other",
		    a->no_menu ? "no-menu" : "menu");
	if (a->menu != NULL || a->no_menu)
		a->boot.loaders_set = true;
	return -1;
}

static int
cmd_release(struct args *a)
{
	struct release_input in[MANIFEST_MAX_ARTIFACTS];
	struct bd_seckey *keys[MAX_KEYS] = { NULL };
	struct release_opts o = { 0 };
	char when[TIME_RFC3339_BYTES], path[LAYOUT_PATH_BYTES];
	struct bd_keyset trust;
	struct stat st;
	size_t nin = 0, i;
	uint64_t version = 0;
	int repofd = -1, status = 0;
	bool made = false;
	enum bd_err rc;

	if (a->repo == NULL || a->channel == NULL || a->nsec == 0)
		return usage("release needs -r REPO, -c CHANNEL and -s SECFILE");
	if (a->nrest == 0 || a->nrest > MANIFEST_MAX_ARTIFACTS)
		return usage("release needs kernel=FILE and other NAME=FILE "
		    "arguments");
	if ((status = boot_args(a)) != -1 ||
	    (status = parse_inputs(a, in, &nin)) != -1 ||
	    (status = check_distinct_files(a)) != -1)
		return status;
	status = 0;
	o.now = time(NULL);
	if ((status = expiry_parse(a, o.now, &o.expires)) != -1)
		return status;
	status = 0;
	if (a->nkeyargs > 0) {
		if ((rc = chain_keyset_parse(a->keyargs, a->nkeyargs,
		    (unsigned)a->threshold, &trust)) != BD_OK)
			return fail("--keys", rc);
		o.trust = &trust;
	}
	o.threshold = (unsigned)a->threshold;
	o.channel = a->channel;
	o.boot = a->boot;
	o.warn = warn_line;
	o.note = note_line;
	o.force = a->force;
	if ((status = load_signers(a, keys)) != -1)
		goto out;
	status = 0;
	o.keys = keys;
	o.nkeys = a->nsec;
	made = stat(a->repo, &st) != 0 && errno == ENOENT;
	if ((rc = repo_open(a->repo, true, &repofd)) != BD_OK) {
		status = fail(a->repo, rc);
		goto out;
	}
	if ((rc = repo_release(repofd, &o, in, nin, &version)) != BD_OK) {
		status = fail("release", rc);
		goto out;
	}
	made = false;
	time_format(o.expires, when);
	printf("published %s version %" PRIu64 " (expires %s, %zu signature%s)\n",
	    a->channel, version, when, a->nsec, a->nsec == 1 ? "" : "s");
	layout_version_path(a->channel, version, path);
	printf("  %s/%s\n", a->repo, path);
out:
	for (i = 0; i < MAX_KEYS; i++)
		seckey_free(keys[i]);
	if (repofd >= 0)
		close(repofd);
	/* A refused release into a new directory leaves no directory. */
	if (made)
		rmdir(a->repo);
	return status;
}

/*
 * A format-2 newest version becomes format 3 when it is republished: its
 * kernel's "elf" facts become "image" facts, and its menu.lst gives way
 * to boot data with the defaults release would choose (the menu.lst says
 * whose kernel it is).  *kos gets that OS, or "".
 */
static enum bd_err
upgrade_format(struct bd_manifest *m, const char **kos)
{
	struct bd_artifact *k;
	size_t i;

	*kos = "";
	if (m->format != 2)
		return BD_OK;
	for (i = 0; i < m->nartifacts; i++) {
		k = &m->artifacts[i];
		if (!k->has_elf)
			continue;
		memset(&k->image, 0, sizeof(k->image));
		k->image.format = "elf";
		k->image.arch = strcmp(k->elf.machine, "i386") == 0 ? "i386" :
		    strcmp(k->elf.machine, "amd64") == 0 ? "x86_64" : NULL;
		k->image.xen_pv = k->elf.xen;
		if (k->image.arch == NULL)
			return bd_fail(BD_ERR_ELF, "kernel %s is a %s ELF, which "
			    "format 3 cannot describe; publish a release",
			    k->name, k->elf.machine);
		k->has_image = true;
		k->has_elf = false;
	}
	if (m->menu_lst != NULL && boot_cmdline_os(m->menu_lst) != NULL)
		*kos = boot_cmdline_os(m->menu_lst);
	free(m->menu_lst);
	free(m->boot_loader);
	free(m->boot_arch);
	m->menu_lst = m->boot_loader = m->boot_arch = NULL;
	m->has_boot = false;
	m->format = MANIFEST_FORMAT;
	return BD_OK;
}

/*
 * rotate (keys != NULL: the new trust) and refresh (keys NULL): the next
 * version with the newest version's artifacts, boot and menu.lst,
 * created now, with a new expiry.
 */
/*
 * rotate's new keys from --keys and -t (the threshold kept when -t is not
 * given and the new keys allow it); -1 when they are usable and differ
 * from head's, an exit status otherwise.
 */
static int
rotate_keys(const struct args *a, const struct bd_manifest *head,
    struct bd_keyset *trust)
{
	unsigned t = (unsigned)a->threshold;
	enum bd_err rc;

	if (t == 0)
		t = head->keys.threshold < a->nkeyargs ?
		    head->keys.threshold : (unsigned)a->nkeyargs;
	if ((rc = chain_keyset_parse(a->keyargs, a->nkeyargs, t, trust)) !=
	    BD_OK)
		return fail("--keys", rc);
	if (keyset_equal(trust, &head->keys))
		return usage("the keys and threshold are unchanged; use "
		    "refresh for a new expiry");
	return -1;
}

/* What refresh (was NULL) or rotate (was: the version before) made. */
static void
republish_print(const struct args *a, const struct bd_manifest *m,
    const struct bd_manifest *was)
{
	char when[TIME_RFC3339_BYTES], ids[MAX_KEYS * KEY_ID_HEX_BYTES];
	char old[MAX_KEYS * KEY_ID_HEX_BYTES], path[LAYOUT_PATH_BYTES];

	time_format(m->expires, when);
	chain_keyids_text(&m->keys, ids, sizeof(ids));
	printf("published %s version %" PRIu64 " (expires %s, %zu signature%s)\n",
	    a->channel, m->version, when, a->nsec, a->nsec == 1 ? "" : "s");
	if (was != NULL) {
		chain_keyids_text(&was->keys, old, sizeof(old));
		printf("  keys %s, threshold %u (were %s, threshold %u)\n", ids,
		    m->keys.threshold, old, was->keys.threshold);
	} else
		printf("  same artifacts and keys (%s, threshold %u)\n", ids,
		    m->keys.threshold);
	layout_version_path(a->channel, m->version, path);
	printf("  %s/%s\n", a->repo, path);
}

static int
republish(struct args *a, const char *cmd, bool rotate)
{
	struct bd_seckey *keys[MAX_KEYS] = { NULL };
	struct release_opts o = { 0 };
	struct chain_head head = { 0 };
	struct bd_manifest *m = NULL;
	struct bd_keyset trust;
	const char *kos;
	size_t i;
	int repofd = -1, status;
	enum bd_err rc;

	if (a->repo == NULL || a->channel == NULL || a->nsec == 0 ||
	    a->nrest != 0 || (rotate && a->nkeyargs == 0))
		return usage("%s needs -r REPO, -c CHANNEL, -s SECFILE%s", cmd,
		    rotate ? " and --keys PUB" : "");
	if (!rotate && (a->nkeyargs > 0 || a->threshold != 0))
		return usage("refresh keeps the keys; use rotate to change them");
	o.now = time(NULL);
	if ((status = expiry_parse(a, o.now, &o.expires)) != -1)
		return status;
	if ((status = check_distinct_files(a)) != -1 ||
	    (status = load_signers(a, keys)) != -1)
		goto out;
	status = 0;
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK) {
		status = fail(a->repo, rc);
		goto out;
	}
	if ((rc = chain_head_load(repofd, a->channel, &head)) != BD_OK) {
		status = fail(cmd, rc);
		goto out;
	}
	if (head.m == NULL) {
		status = usage("channel %s has no version to %s; publish a "
		    "release first", a->channel, cmd);
		goto out;
	}
	/* Without -e the channel keeps its lifetime: expires - created. */
	if (a->expiry == NULL && head.m->expires > head.m->created)
		o.expires = o.now + (head.m->expires - head.m->created);
	if (rotate) {
		if ((status = rotate_keys(a, head.m, &trust)) != -1)
			goto out;
		status = 0;
		o.trust = &trust;
	}
	o.boot = a->boot;
	o.warn = warn_line;
	if ((rc = manifest_copy(head.m, &m)) != BD_OK ||
	    (rc = repo_blobs_present(repofd, &o, m)) != BD_OK ||
	    (rc = upgrade_format(m, &kos)) != BD_OK ||
	    (rc = repo_boot_fill(m, &o, kos)) != BD_OK) {
		status = fail(cmd, rc);
		goto out;
	}
	m->created = o.now;
	m->expires = o.expires;
	o.channel = a->channel;
	o.keys = keys;
	o.nkeys = a->nsec;
	if ((rc = repo_publish_next(repofd, &o, &head, m)) != BD_OK) {
		status = fail(cmd, rc);
		goto out;
	}
	republish_print(a, m, rotate ? head.m : NULL);
out:
	for (i = 0; i < MAX_KEYS; i++)
		seckey_free(keys[i]);
	manifest_free(m);
	chain_head_clear(&head);
	if (repofd >= 0)
		close(repofd);
	return status;
}

static int
cmd_rotate(struct args *a)
{
	return republish(a, "rotate", true);
}

static int
cmd_refresh(struct args *a)
{
	return republish(a, "refresh", false);
}

/* Re-hashes one blob and compares size and digest with the manifest. */
static enum bd_err
check_blob(int repofd, const struct bd_artifact *art)
{
	char path[LAYOUT_PATH_BYTES];
	uint8_t d[SHA256_BYTES];
	uint64_t size;
	int fd;
	enum bd_err rc;

	layout_blob_path(art->sha256_hex, path);
	fd = openat(repofd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bd_fail(BD_ERR_HASH, "%s: %s", path, strerror(errno));
	rc = sha256_fd(fd, art->size, d, &size);
	close(fd);
	if (rc == BD_ERR_TOOBIG)
		return bd_fail(BD_ERR_SIZE, "%s: longer than %llu bytes", path,
		    (unsigned long long)art->size);
	if (rc != BD_OK)
		return rc;
	if (size != art->size)
		return bd_fail(BD_ERR_SIZE, "%s: %llu bytes, manifest says %llu",
		    path, (unsigned long long)size,
		    (unsigned long long)art->size);
	if (sodium_memcmp(d, art->sha256, SHA256_BYTES) != 0)
		return bd_fail(BD_ERR_HASH, "%s", path);
	return BD_OK;
}

/*
 * Checks artifact art's chunk index and pack against its blob
 * (chunkpub_verify()); counts a checked one in *nchunked.
 */
static enum bd_err
check_chunks(int repofd, const struct bd_artifact *art, size_t *nchunked)
{
	struct chunkpub_result res;
	int blobs = -1;
	enum bd_err rc = BD_OK;

	if (!art->has_chunks ||
	    (rc = dir_open_path(repofd, LAYOUT_BLOBS_DIR, false, &blobs)) !=
	    BD_OK)
		goto out;
	rc = chunkpub_verify(blobs, art->chunks_sha256, art->chunks_size,
	    art->sha256, art->size, &res);
	if (rc == BD_OK)
		(*nchunked)++;
	else if (rc != BD_ERR_IO && rc != BD_ERR_NOMEM && rc != BD_ERR_SIZE &&
	    rc != BD_ERR_HASH)	/* anything else the blobs say is refused */
		rc = bd_fail(BD_ERR_HASH, "%s", bd_err_detail());
out:
	if (blobs >= 0)
		close(blobs);
	return rc;
}

/* An older version's blob that is not there: prune removed it. */
static bool
pruned(int repofd, const struct bd_artifact *art)
{
	char path[LAYOUT_PATH_BYTES];
	struct stat st;

	layout_blob_path(art->sha256_hex, path);
	return fstatat(repofd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT;
}

/* verify -n of a version whose blobs prune removed; returns the status. */
static int
pruned_report(const struct args *a, const struct bd_artifact *art)
{
	char path[LAYOUT_PATH_BYTES];

	layout_blob_path(art->sha256_hex, path);
	fprintf(stderr, PROG ": version %" PRIu64 " was pruned: %s/%s "
	    "(artifact %s) is gone; prune keeps only the blobs of each "
	    "channel's newest versions\n", a->version, a->repo, path,
	    art->name);
	return bd_err_exit_status(BD_ERR_HASH);	/* not verified: refused */
}

/*
 * verify, show: a channel that is not in the repository is named as such;
 * any other trouble is left to the read that follows.
 */
static int
channel_missing(int repofd, const struct args *a)
{
	char path[LAYOUT_PATH_BYTES];
	struct stat st;

	if (!channel_name_valid(a->channel))
		return -1;
	layout_channel_dir(a->channel, path);
	if (fstatat(repofd, path, &st, 0) == 0 || errno != ENOENT)
		return -1;
	fprintf(stderr, PROG ": no channel %s in %s\n", a->channel, a->repo);
	return bd_err_exit_status(BD_ERR_INPUT);
}

/* Reads the manifest verify or show looks at: -n VERSION, else the newest. */
static enum bd_err
read_chosen(int repofd, const struct args *a, uint8_t **buf, size_t *len)
{
	char file[LAYOUT_FILE_BYTES];
	enum bd_err rc;

	if (a->version != 0)
		layout_version_file(a->version, file);
	else
		snprintf(file, sizeof(file), "%s", LAYOUT_MANIFEST_FILE);
	rc = repo_read_manifest(repofd, a->channel, file, buf, len);
	/* Naming a channel or version that is not there is the caller's. */
	if (rc == BD_ERR_IO)
		rc = bd_fail(BD_ERR_INPUT, "%s", bd_err_detail());
	return rc;
}

static void
warn_public(void *ctx, const char *rel, unsigned mode, bool dir)
{
	const char *repo = ctx;

	fprintf(stderr, PROG ": warning: %s/%s: mode %04o: a server running as "
	    "another user cannot %s it (chmod o+%s)\n", repo, rel, mode,
	    dir ? "enter" : "read", dir ? "rx" : "r");
}

/* Reads channels/<c>/<v>.json. */
static enum bd_err
read_version(int repofd, const char *channel, uint64_t v, uint8_t **buf,
    size_t *len)
{
	char name[LAYOUT_FILE_BYTES];

	layout_version_file(v, name);
	return repo_read_manifest(repofd, channel, name, buf, len);
}

/*
 * Walks versions 1..newest of a channel, as chain_verify.h walks a
 * channel's own chain: version 1 by its own keys, each later one as the
 * successor of the one before.  Returns the newest in *newest and its
 * envelope bytes in *buf; prints each change of keys.
 */
static enum bd_err
verify_chain(int repofd, const char *channel, struct bd_manifest **newest,
    uint8_t **buf, size_t *len, size_t *changes)
{
	char ids[MANIFEST_MAX_KEYS * KEY_ID_HEX_BYTES], saved[256];
	struct chain_walk w = { 0 };
	uint8_t *vbuf;
	uint64_t *versions = NULL, v;
	size_t n = 0, i, vlen;
	enum bd_err rc;

	*newest = NULL;
	*buf = NULL;
	*changes = 0;
	if ((rc = repo_list_versions(repofd, channel, &versions, &n)) != BD_OK)
		goto out;
	if (n == 0) {
		rc = bd_fail(BD_ERR_CHAIN, "channel %s has no versions", channel);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (versions[i] != i + 1) {
			rc = bd_fail(BD_ERR_CHAIN, "version %zu is missing "
			    "(channels/%s/%zu.json)", i + 1, channel, i + 1);
			goto out;
		}
	if ((rc = read_version(repofd, channel, n, buf, len)) != BD_OK)
		goto out;
	if ((rc = chain_walk_begin(&w, NULL, channel, *buf, *len)) !=
	    BD_OK || w.newest != n) {
		snprintf(saved, sizeof(saved), "%s", rc != BD_OK ?
		    bd_err_detail() : "");
		rc = rc != BD_OK ? bd_fail(rc, "version %zu: %s", n, saved) :
		    bd_fail(BD_ERR_CHAIN, "version %zu: %zu.json holds version "
		    "%" PRIu64, n, n, w.newest);
		goto out;
	}
	for (;;) {
		if ((v = chain_walk_next(&w)) != 0) {
			if ((rc = read_version(repofd, channel, v, &vbuf,
			    &vlen)) != BD_OK)
				goto out;
			rc = chain_walk_offer(&w, vbuf, vlen);
			free(vbuf);
		} else {
			rc = chain_walk_finish(&w, newest);
		}
		if (rc != BD_OK)
			goto out;
		if (chain_walk_keys_changed(&w)) {
			chain_keyids_text(&w.last->keys, ids, sizeof(ids));
			printf("version %llu: keys %s, threshold %u\n",
			    (unsigned long long)w.last->version, ids,
			    w.last->keys.threshold);
			(*changes)++;
		}
		if (v == 0)
			break;
	}
out:
	chain_walk_clear(&w);
	if (rc != BD_OK) {
		free(*buf);
		*buf = NULL;
	}
	free(versions);
	return rc;
}

/*
 * With -P/-p: a guest holding only those keys (threshold -t) must reach
 * the newest version, directly or by the walk from version 1 - decided
 * by chain_reach(), as bootdrop-fetch and bootdrop-server decide it.
 */
static enum bd_err
verify_reachable(int repofd, struct args *a, const uint8_t *buf, size_t len,
    struct bd_manifest **by, size_t *steps)
{
	struct chain_source src = { repofd, a->channel };
	struct bd_accepted anchor;
	char saved[512];
	size_t i;
	enum bd_err rc;

	memset(&anchor, 0, sizeof(anchor));
	for (i = 0; i < a->ntrusted && anchor.keys.nkeys < MANIFEST_MAX_KEYS;
	    i++)
		if (keyset_find(&anchor.keys, a->trusted[i].id) < 0)
			anchor.keys.keys[anchor.keys.nkeys++] = a->trusted[i];
	anchor.keys.threshold = a->threshold == 0 ? 1 : (unsigned)a->threshold;
	bd_err_clear();
	if ((rc = chain_reach(&anchor, a->channel, buf, len,
	    chain_source_read, &src, by, steps)) == BD_OK)
		return BD_OK;
	snprintf(saved, sizeof(saved), "%s", bd_err_detail());
	return bd_fail(rc, "a guest holding only the given keys does not "
	    "reach the newest version: %s", saved);
}

/* A repository file that cannot be read is input, not a write error. */
static enum bd_err
input_err(enum bd_err rc)
{
	return rc == BD_ERR_IO ? bd_fail(BD_ERR_INPUT, "%s", bd_err_detail()) :
	    rc;
}

/*
 * -n N for verify: version N (older than the newest, m) read for its
 * blobs - the chain walk already verified it.  -1, or an exit status.
 */
static int
verify_older(int repofd, const struct args *a, const struct bd_manifest *m,
    struct bd_manifest **old)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	enum bd_err rc;
	int status = -1;

	if (a->version > m->version)
		return fail(a->channel, bd_fail(BD_ERR_INPUT, "no version %"
		    PRIu64 " (the newest is %" PRIu64 ")", a->version,
		    m->version));
	if ((rc = read_version(repofd, a->channel, a->version, &buf, &len)) !=
	    BD_OK || (rc = manifest_load_unverified(buf, len, old)) != BD_OK)
		status = fail("manifest", input_err(rc));
	free(buf);
	return status;
}

/* What verify found, for verify_print(). */
struct verify_out {
	const struct bd_manifest *m;	/* the newest version */
	const struct bd_manifest *old;	/* -n N's version, or NULL */
	const struct bd_manifest *by;	/* reached with -P/-p keys, or NULL */
	size_t changes, nchunked, nbad, steps;
};

/* Checks every artifact blob (and chunk pack) checked names. */
static int
verify_artifacts(int repofd, const struct args *a,
    const struct bd_manifest *checked, bool older, size_t *nchunked)
{
	enum bd_err rc;
	size_t i;

	for (i = 0; i < checked->nartifacts; i++) {
		if (older && pruned(repofd, &checked->artifacts[i]))
			return pruned_report(a, &checked->artifacts[i]);
		if ((rc = check_blob(repofd, &checked->artifacts[i])) != BD_OK ||
		    (rc = check_chunks(repofd, &checked->artifacts[i],
		    nchunked)) != BD_OK)
			return fail(checked->artifacts[i].name, rc);
	}
	return 0;
}

/* verify's report of what it checked. */
static void
verify_print(const struct args *a, const struct verify_out *v)
{
	char kid[KEY_ID_HEX_BYTES], when[TIME_RFC3339_BYTES];
	size_t i, shown;

	printf("%s: versions 1 to %" PRIu64 " form one chain (%zu change%s of "
	    "keys)\n", a->channel, v->m->version, v->changes,
	    v->changes == 1 ? "" : "s");
	printf("%s version %" PRIu64 ": %zu signature%s verified (", a->channel,
	    v->m->version, v->m->nself, v->m->nself == 1 ? "" : "s");
	for (i = 0, shown = 0; i < v->m->nkeyids; i++) {
		if (keyset_find(&v->m->keys, v->m->keyids[i]) < 0)
			continue;
		keyid_hex(v->m->keyids[i], kid);
		printf("%s%s", shown++ ? ", " : "", kid);
	}
	printf("), %zu artifact%s intact\n", v->m->nartifacts,
	    v->m->nartifacts == 1 ? "" : "s");
	if (v->nchunked > 0)
		printf("%zu chunk ind%s and pack%s agree with %s artifact%s\n",
		    v->nchunked, v->nchunked == 1 ? "ex" : "exes",
		    v->nchunked == 1 ? "" : "s",
		    v->nchunked == 1 ? "its" : "their",
		    v->nchunked == 1 ? "" : "s");
	if (v->old != NULL) {
		time_format(v->old->expires, when);
		printf("%s version %" PRIu64 ": verified in the chain, %zu "
		    "artifact%s intact%s%s\n", a->channel, v->old->version,
		    v->old->nartifacts, v->old->nartifacts == 1 ? "" : "s",
		    v->old->expires <= time(NULL) ? ", expired " : "",
		    v->old->expires <= time(NULL) ? when : "");
	}
	if (v->nbad > 0)
		printf("%zu path%s not readable by other users (see the "
		    "warnings)\n", v->nbad, v->nbad == 1 ? "" : "s");
	if (v->by != NULL)
		printf("a guest holding the given keys reaches it%s\n",
		    v->steps == 0 ? " directly" :
		    " by following the chain from version 1");
}

static int
cmd_verify(struct args *a)
{
	struct bd_manifest *m = NULL, *by = NULL, *old = NULL;
	const struct bd_manifest *checked;
	uint8_t *buf = NULL, *vbuf = NULL;
	struct verify_out v = { .m = NULL };
	size_t len = 0, vlen = 0;
	int repofd = -1, status = 0;
	enum bd_err rc;

	if (a->repo == NULL || a->channel == NULL || a->nrest != 0)
		return usage("verify needs -r REPO and -c CHANNEL");
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK) {
		status = fail(a->repo, rc);
		goto out;
	}
	if ((status = channel_missing(repofd, a)) != -1)
		goto out;
	status = 0;
	if ((rc = repo_read_manifest(repofd, a->channel, LAYOUT_MANIFEST_FILE,
	    &buf, &len)) != BD_OK) {
		status = fail("manifest", input_err(rc));
		goto out;
	}
	if ((rc = verify_chain(repofd, a->channel, &m, &vbuf, &vlen,
	    &v.changes)) != BD_OK) {
		status = fail("chain", input_err(rc));
		goto out;
	}
	/* manifest.json must be the newest versioned copy, byte for byte */
	if (vlen != len || memcmp(buf, vbuf, len) != 0) {
		rc = bd_fail(BD_ERR_EQUIVOCATION, "channels/%s/manifest.json "
		    "differs from %" PRIu64 ".json", a->channel, m->version);
		status = fail("manifest.json", rc);
		goto out;
	}
	if ((rc = manifest_check_fresh(m, time(NULL))) != BD_OK) {
		status = fail("manifest.json", rc);
		goto out;
	}
	if (a->ntrusted > 0 && (rc = verify_reachable(repofd, a, buf, len,
	    &by, &v.steps)) != BD_OK) {
		status = fail("-P/-p keys", rc);
		goto out;
	}
	/* -n: an older version, verified by the walk; its blobs checked. */
	if (a->version != 0 && a->version != m->version &&
	    (status = verify_older(repofd, a, m, &old)) != -1)
		goto out;
	status = 0;
	checked = old != NULL ? old : m;
	if ((status = verify_artifacts(repofd, a, checked, checked == old,
	    &v.nchunked)) != 0)
		goto out;
	repo_check_public(repofd, a->channel, checked, warn_public,
	    (void *)a->repo, &v.nbad);
	v.m = m;
	v.old = old;
	v.by = by;
	verify_print(a, &v);
out:
	manifest_free(m);
	manifest_free(by);
	manifest_free(old);
	free(buf);
	free(vbuf);
	if (repofd >= 0)
		close(repofd);
	return status;
}

/* show: the trust the manifest states and the version it follows. */
static void
print_trust(const struct bd_manifest *m)
{
	char b64[PUBKEY_B64_BYTES], kid[KEY_ID_HEX_BYTES], hex[SHA256_HEX_BYTES];
	size_t i;

	if (m->has_prev) {
		sha256_hex(m->prev, hex);
		printf("prev      %s (sha256 of version %llu's payload)\n", hex,
		    (unsigned long long)m->version - 1);
	} else
		printf("prev      none (the first version)\n");
	printf("keys      %u of %zu must sign this version and the next\n",
	    m->keys.threshold, m->keys.nkeys);
	for (i = 0; i < m->keys.nkeys; i++) {
		keyid_hex(m->keys.keys[i].id, kid);
		pubkey_to_base64(&m->keys.keys[i], b64);
		printf("  key     %s %s\n", kid, b64);
	}
}

/* show: format 3's boot data. */
static void
print_boot(const struct bd_manifest *m)
{
	unsigned bit;

	printf("boot     ");
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1)
		if ((m->loaders & bit) != 0)
			printf(" %s", boot_loader_name(bit));
	printf("%s\n", m->loaders == 0 ? " no configuration" : "");
	if (m->boot_title != NULL)
		printf("  title   %s\n", m->boot_title);
	if (m->boot_kernel != NULL)
		printf("  kernel  %s%s%s\n", m->boot_kernel,
		    m->boot_initrd != NULL ? ", initrd " : "",
		    m->boot_initrd != NULL ? m->boot_initrd : "");
	if (m->boot_cmdline != NULL)
		printf("  cmdline %s\n", m->boot_cmdline);
	if (m->boot_root != NULL && (m->loaders & BOOT_PVGRUB) != 0)
		printf("  root    %s\n", m->boot_root);
}

/* The version before m, unverified, or NULL (show's second entry). */
static struct bd_manifest *
load_previous(int repofd, const struct bd_manifest *m)
{
	struct bd_manifest *prev = NULL;
	uint8_t *buf = NULL;
	size_t len;

	if (m->version > 1 && read_version(repofd, m->channel, m->version - 1,
	    &buf, &len) == BD_OK &&
	    manifest_load_unverified(buf, len, &prev) != BD_OK)
		prev = NULL;
	free(buf);
	return prev;
}

/*
 * show: every loader's configuration exactly as a guest that had the
 * previous version writes it (the renderers of common/boot.c).
 */
static enum bd_err
print_rendered(const struct bd_manifest *m, const struct bd_manifest *prev)
{
	struct boot_file files[BOOT_MAX_ENTRIES];
	struct bd_prev_boot pb;
	struct bd_boot_view v;
	size_t n, i;
	unsigned bit;
	enum bd_err rc;

	if ((rc = manifest_boot_view(m, prev != NULL &&
	    manifest_prev_boot(prev, &pb) ? &pb : NULL, true, &v)) != BD_OK)
		return rc;
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1) {
		if ((m->loaders & bit) == 0)
			continue;
		if ((rc = boot_render(bit, &v.config, files, &n)) != BD_OK)
			return rc;
		for (i = 0; i < n; i++)
			printf("\n%s:\n%.*s", files[i].path, (int)files[i].len,
			    files[i].text);
		boot_files_free(files, n);
	}
	return BD_OK;
}

/* show's lines for one artifact. */
static void
show_artifact(const struct bd_artifact *art)
{
	char size[SIZE_TEXT_BYTES], facts[160];

	size_format(art->size, true, size);
	printf("\nartifact  %s (%s)\n  size    %s\n  sha256  %s\n"
	    "  install %s\n", art->name, art->kind, size, art->sha256_hex,
	    art->install);
	if (art->has_elf)
		printf("  elf     %u-bit %s%s\n", art->elf.class,
		    art->elf.machine, art->elf.xen ?
		    ", Xen PV guest" : ", no Xen information");
	if (art->has_image) {
		image_describe(&art->image, facts, sizeof(facts));
		printf("  image   %s\n", facts);
	}
	if (art->has_chunks)
		printf("  chunks  %s (%llu bytes)\n", art->chunks_hex,
		    (unsigned long long)art->chunks_size);
}

static int
cmd_show(struct args *a)
{
	struct bd_manifest *m = NULL;
	char t1[TIME_RFC3339_BYTES], t2[TIME_RFC3339_BYTES], kid[KEY_ID_HEX_BYTES];
	struct bd_manifest *prev = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	int repofd = -1, status = 0;
	enum bd_err rc;

	if (a->repo == NULL || a->channel == NULL || a->nrest != 0)
		return usage("show needs -r REPO and -c CHANNEL");
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK) {
		status = fail(a->repo, rc);
		goto out;
	}
	if ((status = channel_missing(repofd, a)) != -1)
		goto out;
	status = 0;
	if ((rc = read_chosen(repofd, a, &buf, &len)) != BD_OK) {
		status = fail(a->channel, rc);
		goto out;
	}
	if ((rc = manifest_load_unverified(buf, len, &m)) != BD_OK) {
		status = fail("manifest", rc);
		goto out;
	}
	time_format(m->created, t1);
	time_format(m->expires, t2);
	printf("channel   %s\nversion   %" PRIu64 "\ncreated   %s\nexpires   %s%s\n",
	    m->channel, m->version, t1, t2,
	    m->expires <= time(NULL) ? "  (EXPIRED)" : "");
	printf("signed by");
	for (i = 0; i < m->nkeyids; i++) {
		keyid_hex(m->keyids[i], kid);
		printf(" %s", kid);
	}
	printf("  (not checked here; use 'bootdrop-publish verify')\n");
	print_trust(m);
	if (m->trusted_comment != NULL)
		printf("comment   %s\n", m->trusted_comment);
	if (m->has_boot && m->format == 2)
		printf("boot      %s, %s\n", m->boot_loader, m->boot_arch);
	if (m->has_boot && m->format != 2)
		print_boot(m);
	for (i = 0; i < m->nartifacts; i++)
		show_artifact(&m->artifacts[i]);
	if (m->menu_lst != NULL)
		printf("\nboot/grub/menu.lst:\n%s%s", m->menu_lst,
		    m->menu_lst[0] != '\0' &&
		    m->menu_lst[strlen(m->menu_lst) - 1] == '\n' ? "" : "\n");
	if (m->has_boot && m->format != 2 && m->loaders != 0) {
		prev = load_previous(repofd, m);
		if ((rc = print_rendered(m, prev)) != BD_OK)
			status = fail("boot configuration", rc);
	}
out:
	manifest_free(prev);
	manifest_free(m);
	free(buf);
	if (repofd >= 0)
		close(repofd);
	return status;
}

static int
cmd_list(struct args *a)
{
	struct bd_manifest *m;
	char when[TIME_RFC3339_BYTES], **names = NULL;
	uint8_t *buf;
	size_t n = 0, len, i;
	time_t now = time(NULL);
	int repofd = -1, status = 0;
	enum bd_err rc;

	if (a->repo == NULL || a->nrest != 0)
		return usage("list needs -r REPO");
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK) {
		status = fail(a->repo, rc);
		goto out;
	}
	if (faccessat(repofd, LAYOUT_CHANNELS_DIR, F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0 &&
	    (rc = repo_list_channels(repofd, &names, &n)) != BD_OK) {
		status = fail(a->repo, rc);
		goto out;
	}
	for (i = 0; i < n; i++) {
		buf = NULL;
		m = NULL;
		rc = repo_read_manifest(repofd, names[i], LAYOUT_MANIFEST_FILE,
		    &buf, &len);
		if (rc == BD_OK)
			rc = manifest_load_unverified(buf, len, &m);
		if (rc != BD_OK) {
			printf("%-24s unreadable: %s\n", names[i], bd_strerror(rc));
			status = bd_err_exit_status(rc);
		} else {
			time_format(m->expires, when);
			printf("%-24s version %-6" PRIu64 " expires %s%s\n",
			    names[i], m->version, when,
			    m->expires <= now ? " (EXPIRED)" : "");
		}
		manifest_free(m);
		free(buf);
	}
	if (n == 0)
		printf("no channel published in %s\n", a->repo);
out:
	repo_names_free(names, n);
	if (repofd >= 0)
		close(repofd);
	return status;
}

static int
cmd_prune(struct args *a)
{
	struct repo_prune_stats st;
	char size[SIZE_TEXT_BYTES];
	int repofd = -1, status = 0;
	enum bd_err rc;

	if (a->repo == NULL || a->keep == 0 || a->nrest != 0)
		return usage("prune needs -r REPO and -k N");
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK) {
		status = fail(a->repo, rc);
		goto out;
	}
	if ((rc = repo_prune(repofd, (size_t)a->keep, &st)) != BD_OK) {
		status = fail("prune", rc);
		goto out;
	}
	size_format(st.bytes, true, size);
	printf("removed %" PRIu64 " blob%s (%s), kept %" PRIu64 "\n",
	    st.removed, st.removed == 1 ? "" : "s", size, st.kept);
out:
	if (repofd >= 0)
		close(repofd);
	return status;
}

static const struct command commands[] = {
	{ "keygen", ":p:s:Wfh", false, true, false, false, cmd_keygen },
	{ "release", ":r:c:s:e:t:fh", true, true, true, true, cmd_release },
	{ "rotate", ":r:c:s:e:t:h", false, true, true, true, cmd_rotate },
	{ "refresh", ":r:c:s:e:h", false, true, false, true, cmd_refresh },
	{ "verify", ":r:c:P:p:t:n:h", false, false, false, false, cmd_verify },
	{ "show", ":r:c:n:h", false, false, false, false, cmd_show },
	{ "list", ":r:h", false, false, false, false, cmd_list },
	{ "prune", ":r:k:h", false, false, false, false, cmd_prune },
};

int
main(int argc, char **argv)
{
	struct args a = { 0 };
	const char *cmd;
	size_t i;
	int status;

	if (sodium_init() < 0) {
		fprintf(stderr, PROG ": cannot initialise libsodium\n");
		return bd_err_exit_status(BD_ERR_NOMEM);
	}
	if (argc < 2)
		return usage(NULL);
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		fputs(help_text, stdout);
		fputs(options_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf(PROG " %s\n", BOOTDROP_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		a.cmd = cmd;
		status = parse_args(argc - 1, argv + 1, &commands[i], &a);
		if (status != -1)
			return status;
		return commands[i].run(&a);
	}
	return usage("unknown command '%s'", cmd);
}
