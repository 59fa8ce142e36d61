/*
 * bootdrop-publish - the publisher's tool: make keys, publish releases into
 * a repository of static files, change a channel's keys (rotate) or
 * expiry (refresh), verify a channel's whole chain, show a manifest.
 *
 * Exit status: 0 success; 1 usage or configuration error; 3 verification
 * refused (verify); 4 local write error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chain.h"
#include "cli.h"
#include "fsutil.h"
#include "key.h"
#include "layout.h"
#include "manifest.h"
#include "repo.h"
#include "sha256.h"
#include "timefmt.h"
#include "units.h"

#define PROG			"bootdrop-publish"
#define DEFAULT_EXPIRY_S	(30 * 86400)
#define MAX_KEYS		MANIFEST_MAX_SIGNATURES

static const char usage_text[] =
"usage: bootdrop-publish keygen -p PUBFILE -s SECFILE [-W] [-f]\n"
"                               [--passphrase-file FILE | --passphrase-env VAR]\n"
"       bootdrop-publish release -r REPO -c CHANNEL -s SECFILE [-s SECFILE ...]\n"
"                               [-e EXPIRY] [--menu FILE | --no-menu]\n"
"                               [--keys PUB ... [-t THRESHOLD]]\n"
"                               [--passphrase-file FILE | --passphrase-env VAR]\n"
"                               kernel=FILE [world=FILE] [NAME=FILE ...]\n"
"       bootdrop-publish rotate -r REPO -c CHANNEL -s SECFILE [-s SECFILE ...]\n"
"                               --keys PUB [--keys PUB ...] [-t THRESHOLD]\n"
"                               [-e EXPIRY] [--passphrase-file FILE | ...]\n"
"       bootdrop-publish refresh -r REPO -c CHANNEL -s SECFILE [-s SECFILE ...]\n"
"                               [-e EXPIRY] [--passphrase-file FILE | ...]\n"
"       bootdrop-publish verify -r REPO -c CHANNEL [(-P KEY | -p PUBFILE)...\n"
"                               [-t THRESHOLD]]\n"
"       bootdrop-publish show -r REPO -c CHANNEL\n"
"       bootdrop-publish --help | --version\n";

static const char help_text[] =
"\n"
"Commands:\n"
"  keygen    make a minisign-compatible Ed25519 key pair.  The secret key is\n"
"            encrypted with a passphrase (scrypt) unless -W is given.\n"
"  release   store the files as content-addressed blobs in REPO and publish\n"
"            the next version of CHANNEL's manifest, signed by every -s key.\n"
"            kernel installs to boot/kernel (its ELF class, machine and Xen\n"
"            information are recorded); world and NAME=FILE install under\n"
"            their file names.  A pvgrub menu.lst is included by default.\n"
"            The new version keeps the previous version's keys (the first\n"
"            one: the -s keys, threshold 1 or -t) and names its hash.\n"
"  rotate    publish the next version with the same artifacts and new keys\n"
"            (--keys, threshold -t): enough of the old keys and of the new\n"
"            must sign (-s both), so every guest follows the change.\n"
"  refresh   publish the next version with the same artifacts, menu and\n"
"            keys and a new expiry (-e).\n"
"  verify    check the channel's whole chain of versions, the newest\n"
"            manifest and every blob it names (size and SHA-256); with -P\n"
"            or -p, that a guest holding those keys reaches the newest.\n"
"  show      print the newest manifest and its keys for people (signatures\n"
"            not checked).\n"
"\n"
"Options:\n"
"  -p PUBFILE        public key file (keygen: written; verify: trusted)\n"
"  -s SECFILE        secret key file (keygen: written; release: signs)\n"
"  -P KEY            trusted public key as a base64 string (verify)\n"
"  -W                keygen: do not encrypt the secret key\n"
"  -f                keygen: overwrite existing key files\n"
"  -r REPO           repository directory (created by release)\n"
"  -c CHANNEL        channel name, [a-z0-9][a-z0-9._-]{0,63}\n"
"  -e EXPIRY         release: a duration (90d, 12h, 30m) or an RFC 3339 UTC\n"
"                    time (2027-01-01T00:00:00Z); default 30d\n"
"  -t THRESHOLD      verify: distinct keys that must have signed (default 1);\n"
"                    release, rotate: the new keys' threshold\n"
"  --keys PUB        release, rotate: a key of the new version (a public key\n"
"                    file or a key string); repeat for each key\n"
"  --menu FILE       release: use FILE as boot/grub/menu.lst\n"
"  --no-menu         release: publish no menu.lst\n"
"  --passphrase-file FILE  read the passphrase from FILE's first line\n"
"  --passphrase-env VAR    read the passphrase from environment variable VAR\n"
"\n"
"Exit status: 0 success, 1 usage or configuration error, 3 verification\n"
"refused, 4 local write error.\n";

enum { OPT_MENU = 256, OPT_NO_MENU, OPT_PASSFILE, OPT_PASSENV, OPT_HELP,
	OPT_VERSION, OPT_KEYS };

static const struct option long_options[] = {
	{ "menu", required_argument, NULL, OPT_MENU },
	{ "no-menu", no_argument, NULL, OPT_NO_MENU },
	{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
	{ "passphrase-env", required_argument, NULL, OPT_PASSENV },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *pubfile, *repo, *channel, *expiry, *menu;
	const char *secfiles[MAX_KEYS];
	size_t nsec;
	struct bd_pubkey trusted[MAX_KEYS];
	size_t ntrusted;
	unsigned long threshold;
	const char *keyargs[MAX_KEYS];	/* --keys */
	size_t nkeyargs;
	bool unencrypted, force, no_menu;
	struct cli_pass pass;
	char **rest;
	int nrest;
};

/* Prints an optional complaint and the usage; returns exit status 1. */
static int __attribute__((format(printf, 1, 2)))
usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, PROG ": ");
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(usage_text, stderr);
	return 1;
}

/* A refusal to build on the channel's history or its keys: exit 3. */
static bool
chain_refusal(enum bd_err rc)
{
	return rc == BD_ERR_CHAIN || rc == BD_ERR_THRESHOLD ||
	    rc == BD_ERR_KEYID;
}

/* Prints the one error line and returns the given exit status. */
static int
fail(const char *what, enum bd_err rc, int status)
{
	cli_report(PROG, what, rc);
	return status;
}

/* Adds a trusted key from -P (base64) or -p (file). */
static enum bd_err
add_trusted(struct args *a, const char *arg, bool is_file)
{
	enum bd_err rc;

	if (a->ntrusted == MAX_KEYS)
		return bd_fail(BD_ERR_USAGE, "at most %d keys", MAX_KEYS);
	rc = is_file ? pubkey_load_file(&a->trusted[a->ntrusted], arg) :
	    pubkey_from_base64(&a->trusted[a->ntrusted], arg);
	if (rc == BD_OK)
		a->ntrusted++;
	return rc;
}

/* Parses a subcommand's options; returns -1 on success or an exit status. */
static int
parse_args(int argc, char **argv, const char *optstring, struct args *a)
{
	char *end;
	int c;
	enum bd_err rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, optstring, long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'p':
			if (strchr(optstring, 'P') != NULL) {
				if ((rc = add_trusted(a, optarg, true)) != BD_OK)
					return fail(optarg, rc, 1);
			} else
				a->pubfile = optarg;
			break;
		case 'P':
			if ((rc = add_trusted(a, optarg, false)) != BD_OK)
				return fail("-P", rc, 1);
			break;
		case 's':
			if (a->nsec == MAX_KEYS)
				return usage("too many -s keys");
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
			errno = 0;
			a->threshold = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || a->threshold == 0 ||
			    a->threshold > MAX_KEYS || optarg[0] == '-')
				return usage("bad threshold '%s'", optarg);
			break;
		case OPT_MENU:
			a->menu = optarg;
			break;
		case OPT_NO_MENU:
			a->no_menu = true;
			break;
		case OPT_PASSFILE:
			a->pass.file = optarg;
			break;
		case OPT_PASSENV:
			a->pass.env = optarg;
			break;
		case OPT_KEYS:
			if (a->nkeyargs == MAX_KEYS)
				return usage("at most %d --keys", MAX_KEYS);
			a->keyargs[a->nkeyargs++] = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			exit(0);
		default:
			return usage(NULL);
		}
	}
	a->rest = argv + optind;
	a->nrest = argc - optind;
	return -1;
}

static int
cmd_keygen(struct args *a)
{
	struct bd_seckey *sk = NULL;
	struct bd_pubkey pk;
	char b64[PUBKEY_B64_BYTES], kid[KEY_ID_HEX_BYTES];
	enum bd_err rc;
	int status = 0;

	if (a->pubfile == NULL || a->nsec != 1 || a->nrest != 0)
		return usage("keygen needs -p PUBFILE and -s SECFILE");
	if (!a->force) {
		struct stat st;

		if (stat(a->secfiles[0], &st) == 0 || stat(a->pubfile, &st) == 0)
			return usage("key file exists; use -f to overwrite");
	}
	if ((rc = seckey_generate(&sk, &pk)) != BD_OK) {
		status = cli_report(PROG, "keygen", rc);
		goto out;
	}
	rc = seckey_save_file(sk, a->secfiles[0], a->force,
	    a->unencrypted ? NULL : cli_passphrase, &a->pass);
	if (rc != BD_OK) {
		status = cli_report(PROG, a->secfiles[0], rc);
		goto out;
	}
	if ((rc = pubkey_save_file(&pk, a->pubfile, a->force)) != BD_OK) {
		status = cli_report(PROG, a->pubfile, rc);
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

/* Splits NAME=FILE arguments into release inputs. */
static int
parse_inputs(struct args *a, struct release_input *in)
{
	int i;

	for (i = 0; i < a->nrest; i++)
		if (repo_parse_input(a->rest[i], &in[i]) != BD_OK)
			return usage("%s", bd_err_detail());
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

/* Loads every -s key into keys[] (freed by the caller). */
static int
load_signers(struct args *a, struct bd_seckey **keys)
{
	enum bd_err rc;
	size_t i;
	int status;

	for (i = 0; i < a->nsec; i++) {
		if ((rc = cli_load_seckey(a->secfiles[i], &a->pass,
		    &keys[i])) != BD_OK) {
			status = cli_report(PROG, a->secfiles[i], rc);
			return rc == BD_ERR_IO ? 1 : status;
		}
	}
	return -1;
}

static int
cmd_release(struct args *a)
{
	struct release_input in[MANIFEST_MAX_ARTIFACTS];
	struct bd_seckey *keys[MAX_KEYS] = { NULL };
	struct release_opts o = { 0 };
	char when[TIME_RFC3339_BYTES];
	struct bd_keyset trust;
	uint8_t *menu = NULL;
	size_t menu_len = 0, i;
	uint64_t version = 0;
	int repofd = -1, status = 0;
	enum bd_err rc;

	if (a->repo == NULL || a->channel == NULL || a->nsec == 0)
		return usage("release needs -r REPO, -c CHANNEL and -s SECFILE");
	if (a->nrest == 0 || a->nrest > MANIFEST_MAX_ARTIFACTS)
		return usage("release needs kernel=FILE and other NAME=FILE "
		    "arguments");
	if (a->menu != NULL && a->no_menu)
		return usage("--menu and --no-menu exclude each other");
	if ((status = parse_inputs(a, in)) != -1)
		return status;
	status = 0;
	o.now = time(NULL);
	if ((status = expiry_parse(a, o.now, &o.expires)) != -1)
		return status;
	status = 0;
	if (a->nkeyargs > 0) {
		if ((rc = chain_keyset_parse(a->keyargs, a->nkeyargs,
		    (unsigned)a->threshold, &trust)) != BD_OK)
			return fail("--keys", rc, 1);
		o.trust = &trust;
	}
	o.threshold = (unsigned)a->threshold;
	if (a->menu != NULL) {
		rc = file_read_capped(AT_FDCWD, a->menu, MENU_LST_MAX_BYTES - 1,
		    &menu, &menu_len);
		if (rc != BD_OK) {
			status = fail("--menu", rc, 1);
			goto out;
		}
		if (strlen((char *)menu) != menu_len) {
			status = usage("%s contains a NUL byte", a->menu);
			goto out;
		}
	}
	o.channel = a->channel;
	o.menu_lst = (const char *)menu;
	o.no_menu = a->no_menu;
	if ((status = load_signers(a, keys)) != -1)
		goto out;
	status = 0;
	o.keys = keys;
	o.nkeys = a->nsec;
	if ((rc = repo_open(a->repo, true, &repofd)) != BD_OK) {
		status = cli_report(PROG, a->repo, rc);
		goto out;
	}
	if ((rc = repo_release(repofd, &o, in, (size_t)a->nrest,
	    &version)) != BD_OK) {
		status = cli_report(PROG, "release", rc);
		/* A refused kernel or bad name is the caller's input. */
		if (rc != BD_ERR_IO && rc != BD_ERR_NOMEM &&
		    rc != BD_ERR_EXISTS && !chain_refusal(rc))
			status = 1;
		goto out;
	}
	time_format(o.expires, when);
	printf("published %s version %llu (expires %s, %zu signature%s)\n",
	    a->channel, (unsigned long long)version, when, a->nsec,
	    a->nsec == 1 ? "" : "s");
	printf("  %s/channels/%s/%llu.json\n", a->repo, a->channel,
	    (unsigned long long)version);
out:
	for (i = 0; i < MAX_KEYS; i++)
		seckey_free(keys[i]);
	free(menu);
	if (repofd >= 0)
		close(repofd);
	return status;
}

/* rotate, refresh: every blob the head names is still there, full size. */
static enum bd_err
blobs_present(int repofd, const struct bd_manifest *m)
{
	char path[LAYOUT_PATH_BYTES];
	struct stat st;
	size_t i;

	for (i = 0; i < m->nartifacts; i++) {
		layout_blob_path(m->artifacts[i].sha256_hex, path);
		if (fstatat(repofd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size != m->artifacts[i].size)
			return bd_fail(BD_ERR_SIZE, "%s (artifact %s) is missing "
			    "or not %llu bytes; publish a release instead", path,
			    m->artifacts[i].name,
			    (unsigned long long)m->artifacts[i].size);
	}
	return BD_OK;
}

/*
 * rotate (keys != NULL: the new trust) and refresh (keys NULL): the next
 * version with the newest version's artifacts, boot and menu.lst,
 * created now, with a new expiry.
 */
static int
republish(struct args *a, const char *cmd, bool rotate)
{
	struct bd_seckey *keys[MAX_KEYS] = { NULL };
	char when[TIME_RFC3339_BYTES], ids[MAX_KEYS * KEY_ID_HEX_BYTES];
	char was[MAX_KEYS * KEY_ID_HEX_BYTES];
	struct release_opts o = { 0 };
	struct chain_head head = { 0 };
	struct bd_manifest *m = NULL;
	struct bd_keyset trust;
	unsigned t;
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
	if ((status = load_signers(a, keys)) != -1)
		goto out;
	status = 0;
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK) {
		status = fail(a->repo, rc, 1);
		goto out;
	}
	if ((rc = chain_head_load(repofd, a->channel, &head)) != BD_OK) {
		status = fail(cmd, rc, 3);
		goto out;
	}
	if (head.m == NULL) {
		status = usage("channel %s has no version to %s; publish a "
		    "release first", a->channel, cmd);
		goto out;
	}
	if (rotate) {
		t = (unsigned)a->threshold;
		if (t == 0)	/* keep the threshold, if the new keys allow */
			t = head.m->keys.threshold < a->nkeyargs ?
			    head.m->keys.threshold : (unsigned)a->nkeyargs;
		if ((rc = chain_keyset_parse(a->keyargs, a->nkeyargs, t,
		    &trust)) != BD_OK) {
			status = fail("--keys", rc, 1);
			goto out;
		}
		if (keyset_equal(&trust, &head.m->keys)) {
			status = usage("the keys and threshold are unchanged; use "
			    "refresh for a new expiry");
			goto out;
		}
		o.trust = &trust;
	}
	if ((rc = manifest_copy(head.m, &m)) != BD_OK ||
	    (rc = blobs_present(repofd, m)) != BD_OK) {
		status = fail(cmd, rc, 3);
		goto out;
	}
	m->created = o.now;
	m->expires = o.expires;
	o.channel = a->channel;
	o.keys = keys;
	o.nkeys = a->nsec;
	if ((rc = repo_publish_next(repofd, &o, &head, m)) != BD_OK) {
		status = cli_report(PROG, cmd, rc);
		if (rc != BD_ERR_IO && rc != BD_ERR_NOMEM &&
		    rc != BD_ERR_EXISTS && !chain_refusal(rc))
			status = 1;
		goto out;
	}
	time_format(o.expires, when);
	chain_keyids_text(&m->keys, ids, sizeof(ids));
	printf("published %s version %llu (expires %s, %zu signature%s)\n",
	    a->channel, (unsigned long long)m->version, when, a->nsec,
	    a->nsec == 1 ? "" : "s");
	if (rotate) {
		chain_keyids_text(&head.m->keys, was, sizeof(was));
		printf("  keys %s, threshold %u (were %s, threshold %u)\n", ids,
		    m->keys.threshold, was, head.m->keys.threshold);
	} else
		printf("  same artifacts and keys (%s, threshold %u)\n", ids,
		    m->keys.threshold);
	printf("  %s/channels/%s/%llu.json\n", a->repo, a->channel,
	    (unsigned long long)m->version);
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
 * Walks versions 1..newest of a channel: version 1 by its own keys, each
 * later one as the successor of the one before.  Returns the newest in
 * *newest and its envelope bytes in *buf; prints each change of keys.
 */
static enum bd_err
verify_chain(int repofd, const char *channel, struct bd_manifest **newest,
    uint8_t **buf, size_t *len, size_t *changes)
{
	char ids[MANIFEST_MAX_KEYS * KEY_ID_HEX_BYTES], saved[256];
	struct bd_accepted prev;
	struct bd_manifest *m = NULL;
	uint64_t *versions = NULL;
	size_t n = 0, i;
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
	for (i = 0; i < n; i++) {
		if (versions[i] != i + 1) {
			rc = bd_fail(BD_ERR_CHAIN, "version %zu is missing "
			    "(channels/%s/%zu.json)", i + 1, channel, i + 1);
			goto out;
		}
		free(*buf);
		if ((rc = read_version(repofd, channel, i + 1, buf, len)) !=
		    BD_OK)
			goto out;
		if (i == 0)
			rc = manifest_verify_self(*buf, *len, channel, &m);
		else
			rc = manifest_verify_successor(&prev, *buf, *len,
			    channel, &m);
		if (rc == BD_OK && i == 0 && (m->version != 1 || m->has_prev))
			rc = bd_fail(BD_ERR_CHAIN, "1.json holds version %llu",
			    (unsigned long long)m->version);
		if (rc != BD_OK) {
			snprintf(saved, sizeof(saved), "%s", bd_err_detail());
			rc = bd_fail(rc, "version %zu: %s", i + 1, saved);
			goto out;
		}
		if (i > 0 && !keyset_equal(&prev.keys, &m->keys)) {
			chain_keyids_text(&m->keys, ids, sizeof(ids));
			printf("version %llu: keys %s, threshold %u\n",
			    (unsigned long long)m->version, ids,
			    m->keys.threshold);
			(*changes)++;
		}
		manifest_accepted(m, &prev);
		if (i + 1 < n) {
			manifest_free(m);
			m = NULL;
		}
	}
	*newest = m;
	m = NULL;
out:
	manifest_free(m);
	if (rc != BD_OK) {
		free(*buf);
		*buf = NULL;
	}
	free(versions);
	return rc;
}

/*
 * With -P/-p: a guest holding only those keys must reach the newest
 * version, directly or by the walk from version 1.
 */
static enum bd_err
verify_reachable(int repofd, struct args *a, const uint8_t *buf, size_t len,
    struct bd_manifest **by)
{
	struct bd_trust trust;
	uint8_t *first = NULL;
	size_t flen = 0;
	char saved[256];
	enum bd_err rc, rc1;

	trust.keys = a->trusted;
	trust.nkeys = a->ntrusted;
	trust.threshold = a->threshold == 0 ? 1 : (unsigned)a->threshold;
	bd_err_clear();
	if ((rc = manifest_verify_load(buf, len, &trust, a->channel, by)) ==
	    BD_OK)
		return BD_OK;
	snprintf(saved, sizeof(saved), "%s", bd_err_detail());
	if ((rc1 = read_version(repofd, a->channel, 1, &first, &flen)) ==
	    BD_OK && (rc1 = manifest_verify_load(first, flen, &trust,
	    a->channel, by)) == BD_OK) {
		free(first);
		return BD_OK;
	}
	free(first);
	return bd_fail(rc, "neither the newest version nor version 1 is "
	    "signed by the given keys: %s", saved);
}

static int
cmd_verify(struct args *a)
{
	struct bd_manifest *m = NULL, *by = NULL;
	char kid[KEY_ID_HEX_BYTES];
	uint8_t *buf = NULL, *vbuf = NULL;
	size_t len = 0, vlen = 0, i, shown, changes = 0;
	int repofd = -1, status = 0;
	enum bd_err rc;

	if (a->repo == NULL || a->channel == NULL || a->nrest != 0)
		return usage("verify needs -r REPO and -c CHANNEL");
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK) {
		status = fail(a->repo, rc, 1);
		goto out;
	}
	if ((rc = repo_read_manifest(repofd, a->channel, LAYOUT_MANIFEST_FILE, &buf,
	    &len)) != BD_OK) {
		status = fail("manifest", rc, 3);
		goto out;
	}
	if ((rc = verify_chain(repofd, a->channel, &m, &vbuf, &vlen,
	    &changes)) != BD_OK) {
		status = fail("chain", rc, 3);
		goto out;
	}
	/* manifest.json must be the newest versioned copy, byte for byte */
	if (vlen != len || memcmp(buf, vbuf, len) != 0) {
		rc = bd_fail(BD_ERR_EQUIVOCATION, "channels/%s/manifest.json "
		    "differs from %llu.json", a->channel,
		    (unsigned long long)m->version);
		status = fail("manifest.json", rc, 3);
		goto out;
	}
	if ((rc = manifest_check_fresh(m, time(NULL))) != BD_OK) {
		status = fail("manifest.json", rc, 3);
		goto out;
	}
	if (a->ntrusted > 0 && (rc = verify_reachable(repofd, a, buf, len,
	    &by)) != BD_OK) {
		status = fail("-P/-p keys", rc, 3);
		goto out;
	}
	for (i = 0; i < m->nartifacts; i++) {
		if ((rc = check_blob(repofd, &m->artifacts[i])) != BD_OK) {
			status = fail(m->artifacts[i].name, rc, 3);
			goto out;
		}
	}
	printf("%s: versions 1 to %llu form one chain (%zu change%s of "
	    "keys)\n", a->channel, (unsigned long long)m->version, changes,
	    changes == 1 ? "" : "s");
	printf("%s version %llu: %zu signature%s verified (", a->channel,
	    (unsigned long long)m->version, m->nself,
	    m->nself == 1 ? "" : "s");
	for (i = 0, shown = 0; i < m->nkeyids; i++) {
		if (keyset_find(&m->keys, m->keyids[i]) < 0)
			continue;
		keyid_hex(m->keyids[i], kid);
		printf("%s%s", shown++ ? ", " : "", kid);
	}
	printf("), %zu artifact%s intact\n", m->nartifacts,
	    m->nartifacts == 1 ? "" : "s");
	if (by != NULL)
		printf("a guest holding the given keys reaches it%s\n",
		    by->version == m->version ? " directly" :
		    " by following the chain from version 1");
out:
	manifest_free(m);
	manifest_free(by);
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

static int
cmd_show(struct args *a)
{
	struct bd_manifest *m = NULL;
	char t1[TIME_RFC3339_BYTES], t2[TIME_RFC3339_BYTES], kid[KEY_ID_HEX_BYTES];
	char size[SIZE_TEXT_BYTES];
	uint8_t *buf = NULL;
	size_t len = 0, i;
	int repofd = -1, status = 0;
	enum bd_err rc;

	if (a->repo == NULL || a->channel == NULL || a->nrest != 0)
		return usage("show needs -r REPO and -c CHANNEL");
	if ((rc = repo_open(a->repo, false, &repofd)) != BD_OK ||
	    (rc = repo_read_manifest(repofd, a->channel, LAYOUT_MANIFEST_FILE, &buf,
	    &len)) != BD_OK) {
		status = fail(a->repo, rc, 1);
		goto out;
	}
	if ((rc = manifest_load_unverified(buf, len, &m)) != BD_OK) {
		status = cli_report(PROG, "manifest.json", rc);
		goto out;
	}
	time_format(m->created, t1);
	time_format(m->expires, t2);
	printf("channel   %s\nversion   %llu\ncreated   %s\nexpires   %s%s\n",
	    m->channel, (unsigned long long)m->version, t1, t2,
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
	if (m->has_boot)
		printf("boot      %s, %s\n", m->boot_loader, m->boot_arch);
	for (i = 0; i < m->nartifacts; i++) {
		const struct bd_artifact *art = &m->artifacts[i];

		size_format(art->size, true, size);
		printf("\nartifact  %s (%s)\n  size    %s\n  sha256  %s\n"
		    "  install %s\n", art->name, art->kind, size,
		    art->sha256_hex, art->install);
		if (art->has_elf)
			printf("  elf     %u-bit %s%s\n", art->elf.class,
			    art->elf.machine, art->elf.xen ?
			    ", Xen PV guest" : ", no Xen information");
	}
	if (m->menu_lst != NULL)
		printf("\nboot/grub/menu.lst:\n%s%s", m->menu_lst,
		    m->menu_lst[0] != '\0' &&
		    m->menu_lst[strlen(m->menu_lst) - 1] == '\n' ? "" : "\n");
out:
	manifest_free(m);
	free(buf);
	if (repofd >= 0)
		close(repofd);
	return status;
}

int
main(int argc, char **argv)
{
	struct args a = { 0 };
	const char *cmd;
	int status;

	if (sodium_init() < 0) {
		fprintf(stderr, PROG ": cannot initialise libsodium\n");
		return 1;
	}
	if (argc < 2)
		return usage(NULL);
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		fputs(help_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf(PROG " %s\n", BOOTDROP_VERSION);
		return 0;
	}
	argc--;
	argv++;
	if (strcmp(cmd, "keygen") == 0)
		status = parse_args(argc, argv, "+p:s:Wf", &a);
	else if (strcmp(cmd, "release") == 0 || strcmp(cmd, "rotate") == 0)
		status = parse_args(argc, argv, "+r:c:s:e:t:", &a);
	else if (strcmp(cmd, "refresh") == 0)
		status = parse_args(argc, argv, "+r:c:s:e:", &a);
	else if (strcmp(cmd, "verify") == 0)
		status = parse_args(argc, argv, "+r:c:P:p:t:", &a);
	else if (strcmp(cmd, "show") == 0)
		status = parse_args(argc, argv, "+r:c:", &a);
	else
		return usage("unknown command '%s'", cmd);
	if (status != -1)
		return status;
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(&a);
	if (strcmp(cmd, "release") == 0)
		return cmd_release(&a);
	if (strcmp(cmd, "rotate") == 0)
		return cmd_rotate(&a);
	if (strcmp(cmd, "refresh") == 0)
		return cmd_refresh(&a);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(&a);
	return cmd_show(&a);
}
