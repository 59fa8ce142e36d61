/*
 * test_manifest3.c - payload format 3: a round trip of image facts, chunk
 * index, initrd and boot data; every schema rule refused (each tampered
 * payload signed again, so the refusal is the rule's, not the
 * signature's); unknown keys refused at every level; a chain whose first
 * five versions are the committed format-2 golden chain
 * (tests/data/chain) and whose sixth is format 3, walked from key A; and
 * the boot view a guest renders over the previous version.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "key.h"
#include "manifest.h"
#include "sha256.h"
#include "sig.h"
#include "timefmt.h"

#define CHANNEL		"debian-12"
#define CREATED		"2026-11-26T12:00:00Z"
#define EXPIRES		"2099-12-26T12:00:00Z"

static struct bd_seckey *sk;	/* keys/test */
static struct bd_pubkey pk;
static char *payload_text;

static void
die(const char *what)
{
	fprintf(stderr, "test_manifest3: %s failed\n", what);
	exit(2);
}

static void
sample_fill(struct bd_manifest *m, struct bd_artifact arts[3])
{
	memset(m, 0, sizeof(*m));
	memset(arts, 0, 3 * sizeof(*arts));
	m->channel = CHANNEL;
	m->version = 1;
	m->keys.threshold = 1;
	m->keys.nkeys = 1;
	m->keys.keys[0] = pk;
	time_parse(CREATED, &m->created);
	time_parse(EXPIRES, &m->expires);
	arts[0].name = "kernel";
	arts[0].kind = "kernel";
	arts[0].size = 8000000;
	sha256_buf("kernel", 6, arts[0].sha256);
	arts[0].install = "boot/vmlinuz";
	arts[0].has_image = true;
	arts[0].image.format = "bzimage";
	arts[0].image.arch = "x86_64";
	arts[0].image.xen_pv = true;
	arts[0].image.pvh = true;
	arts[0].image.efi = true;
	strcpy(arts[0].image.version, "6.1.0-28-amd64");
	arts[0].has_chunks = true;
	sha256_buf("index", 5, arts[0].chunks_sha256);
	arts[0].chunks_size = 580120;
	arts[1].name = "initrd";
	arts[1].kind = "initrd";
	arts[1].size = 30000000;
	sha256_buf("initrd", 6, arts[1].sha256);
	arts[1].install = "boot/initrd.img";
	arts[2].name = "world.tar";
	arts[2].kind = "world";
	arts[2].size = 1000;
	sha256_buf("world", 5, arts[2].sha256);
	arts[2].install = "world.tar";
	m->artifacts = arts;
	m->nartifacts = 3;
	m->has_boot = true;
	m->loaders = BOOT_GRUB | BOOT_BLS;
	m->boot_title = "Debian 12 (bootdrop)";
	m->boot_kernel = "kernel";
	m->boot_initrd = "initrd";
	m->boot_cmdline = "root=/dev/xvda2 ro console=hvc0";
	m->boot_root = "(hd0,0)";
}

/* Returns a new envelope of payload signed by key (version, expiry given). */
static char *
envelope(const char *payload, const char *channel, unsigned version,
    const char *expires, struct bd_seckey *key)
{
	char tc[SIG_COMMENT_MAX_BYTES], *sig = NULL, *out = NULL;
	uint8_t ids[1][KEY_ID_BYTES];

	snprintf(tc, sizeof(tc), "bootdrop channel=%s version=%u expires=%s",
	    channel, version, expires);
	if (sig_sign(key, (const uint8_t *)payload, strlen(payload), tc, NULL,
	    &sig) != BD_OK)
		die("sig_sign");
	memcpy(ids[0], key->id, KEY_ID_BYTES);
	if (manifest_envelope_encode((const uint8_t *)payload, strlen(payload),
	    (const char *const *)&sig, (const uint8_t (*)[KEY_ID_BYTES])ids, 1,
	    &out) != BD_OK)
		die("manifest_envelope_encode");
	free(sig);
	return out;
}

/* Loads payload p signed by the test key, trusting it; *out optional. */
static enum bd_err
load(const char *p, struct bd_manifest **out)
{
	struct bd_trust trust = { &pk, 1, 1 };
	struct bd_manifest *m = NULL;
	char *env = envelope(p, CHANNEL, 1, EXPIRES, sk);
	enum bd_err rc;

	bd_err_clear();
	rc = manifest_verify_load((const uint8_t *)env, strlen(env), &trust,
	    CHANNEL, &m);
	free(env);
	if (out != NULL)
		*out = m;
	else
		manifest_free(m);
	return rc;
}

/* The sample payload with the first from replaced by to (must apply). */
static char *
tamper(const char *from, const char *to)
{
	return check_replace(payload_text, from, to);
}

static void
refused(const char *what, const char *from, const char *to, enum bd_err want)
{
	char *p = tamper(from, to);
	enum bd_err rc = load(p, NULL);

	check_rc(rc, want, what, what);
	free(p);
}

static void
test_round_trip(void)
{
	struct bd_manifest in, *m = NULL;
	struct bd_artifact arts[3];
	uint8_t *p = NULL;
	size_t len = 0;

	sample_fill(&in, arts);
	CHECK_RC(manifest_payload_encode(&in, &p, &len), BD_OK,
	    "format 3 encodes");
	if (p == NULL)
		die("encode");
	payload_text = strndup((const char *)p, len);
	free(p);
	CHECK(strstr(payload_text, "\"type\": \"bootdrop-manifest/3\"") != NULL,
	    "publishers write bootdrop-manifest/3");
	CHECK(strstr(payload_text, "\"elf\"") == NULL &&
	    strstr(payload_text, "menu_lst") == NULL, "no format-2 fields");
	CHECK_RC(load(payload_text, &m), BD_OK, "format 3 loads");
	if (m == NULL)
		return;
	CHECK(m->format == 3 && m->nartifacts == 3, "format 3, 3 artifacts");
	CHECK(m->artifacts[0].has_image &&
	    strcmp(m->artifacts[0].image.format, "bzimage") == 0 &&
	    strcmp(m->artifacts[0].image.arch, "x86_64") == 0 &&
	    m->artifacts[0].image.xen_pv && m->artifacts[0].image.pvh &&
	    m->artifacts[0].image.efi &&
	    strcmp(m->artifacts[0].image.version, "6.1.0-28-amd64") == 0,
	    "image facts round-trip");
	CHECK(m->artifacts[0].has_chunks && m->artifacts[0].chunks_size ==
	    580120 && memcmp(m->artifacts[0].chunks_sha256, arts[0].chunks_sha256,
	    SHA256_BYTES) == 0 && !m->artifacts[1].has_chunks,
	    "chunks round-trip (sha256 and size)");
	CHECK(strcmp(m->artifacts[1].kind, "initrd") == 0 &&
	    !m->artifacts[1].has_image, "initrd kind");
	CHECK(m->has_boot && m->loaders == (BOOT_GRUB | BOOT_BLS) &&
	    strcmp(m->boot_title, "Debian 12 (bootdrop)") == 0 &&
	    strcmp(m->boot_kernel, "kernel") == 0 &&
	    strcmp(m->boot_initrd, "initrd") == 0 &&
	    strcmp(m->boot_cmdline, "root=/dev/xvda2 ro console=hvc0") == 0 &&
	    strcmp(m->boot_root, "(hd0,0)") == 0, "boot data round-trips");
	manifest_free(m);
}

static void
test_refusals(void)
{
	char big[BOOT_CMDLINE_MAX_BYTES + 40];

	/* unknown keys, at every level of format 3 */
	refused("unknown top-level key", "\"created\"", "\"x\": 1, \"created\"",
	    BD_ERR_SCHEMA);
	refused("unknown artifact key", "\"install\": \"world.tar\"",
	    "\"install\": \"world.tar\", \"x\": 1", BD_ERR_SCHEMA);
	refused("unknown image key", "\"efi\": true", "\"efi\": true, \"x\": 1",
	    BD_ERR_SCHEMA);
	refused("unknown chunks key", "\"size\": 580120",
	    "\"size\": 580120, \"x\": 1", BD_ERR_SCHEMA);
	refused("unknown boot key", "\"root\": \"(hd0,0)\"",
	    "\"root\": \"(hd0,0)\", \"menu_lst\": \"x\"", BD_ERR_SCHEMA);
	refused("format 2's elf in format 3", "\"install\": \"world.tar\"",
	    "\"install\": \"world.tar\", \"elf\": {}", BD_ERR_SCHEMA);
	refused("format 2's boot.loader in format 3", "\"loaders\"",
	    "\"loader\": \"pvgrub\", \"loaders\"", BD_ERR_SCHEMA);
	refused("format 3 fields under format 2", "bootdrop-manifest/3",
	    "bootdrop-manifest/2", BD_ERR_SCHEMA);
	/* image */
	refused("kernel without image", "\"image\"", "\"imagex\"",
	    BD_ERR_SCHEMA);
	refused("unknown image format", "\"format\": \"bzimage\"",
	    "\"format\": \"pe\"", BD_ERR_SCHEMA);
	refused("unknown image arch", "\"arch\": \"x86_64\"",
	    "\"arch\": \"aarch64\"", BD_ERR_SCHEMA);
	refused("image.xen_pv not a boolean", "\"xen_pv\": true",
	    "\"xen_pv\": 1", BD_ERR_SCHEMA);
	refused("image.version with a blank", "\"6.1.0-28-amd64\"",
	    "\"6.1.0 28\"", BD_ERR_SCHEMA);
	refused("efi on an ELF", "\"format\": \"bzimage\"", "\"format\": \"elf\"",
	    BD_ERR_SCHEMA);
	/* chunks: sha256 and size both checked */
	{
		struct bd_manifest in;
		struct bd_artifact arts[3];
		char hex[SHA256_HEX_BYTES], *p;

		sample_fill(&in, arts);
		sha256_hex(arts[0].chunks_sha256, hex);
		p = tamper(hex, "zz");
		check_rc(load(p, NULL), BD_ERR_SCHEMA, "chunks.sha256 not 64 hex",
		    "chunks.sha256 not 64 hex");
		free(p);
	}
	refused("chunks.size 0", "\"size\": 580120", "\"size\": 0",
	    BD_ERR_RANGE);
	refused("chunks.size above the cap", "\"size\": 580120",
	    "\"size\": 1099511627777", BD_ERR_RANGE);
	refused("chunks without size", ",\n        \"size\": 580120", "",
	    BD_ERR_SCHEMA);
	/* kinds and boot data */
	refused("two initrds", "\"kind\": \"world\"", "\"kind\": \"initrd\"",
	    BD_ERR_SCHEMA);
	refused("unknown kind", "\"kind\": \"world\"", "\"kind\": \"efi\"",
	    BD_ERR_SCHEMA);
	refused("boot.kernel names the world", "\"kernel\": \"kernel\"",
	    "\"kernel\": \"world.tar\"", BD_ERR_SCHEMA);
	refused("boot.initrd names nothing", "\"initrd\": \"initrd\"",
	    "\"initrd\": \"nothing\"", BD_ERR_SCHEMA);
	refused("unknown loader", "\"grub\",", "\"lilo\",", BD_ERR_SCHEMA);
	refused("a loader twice", "\"grub\",", "\"bls\",", BD_ERR_SCHEMA);
	refused("loaders without a kernel", ",\n    \"kernel\": \"kernel\"", "",
	    BD_ERR_SCHEMA);
	refused("bls and a kernel without EFI stub", "\"efi\": true",
	    "\"efi\": false", BD_ERR_ELF);
	{
		char *p = tamper("\"xen_pv\": true", "\"xen_pv\": false");
		char *q;
		const char *at = strstr(p, "\"grub\",");

		if (at != NULL) {
			size_t n = strlen(p) + 16;

			if ((q = malloc(n)) == NULL)
				die("malloc");
			snprintf(q, n, "%.*s\"pvgrub\", %s", (int)(at - p), p, at);
			check_rc(load(q, NULL), BD_ERR_ELF,
			    "pvgrub and a kernel without Xen PV",
			    "pvgrub and a kernel without Xen PV");
			free(q);
		}
		free(p);
	}
	refused("cmdline with a tab", "ro console", "ro\\tconsole",
	    BD_ERR_SCHEMA);
	memset(big, 'a', sizeof(big));
	memcpy(big, "\"cmdline\": \"", 12);
	big[12 + BOOT_CMDLINE_MAX_BYTES + 1] = '"';
	big[12 + BOOT_CMDLINE_MAX_BYTES + 2] = '\0';
	refused("cmdline of 1025 bytes", "\"cmdline\": \"root=/dev/xvda2 ro "
	    "console=hvc0\"", big, BD_ERR_SCHEMA);
	big[12 + BOOT_CMDLINE_MAX_BYTES] = '"';
	big[12 + BOOT_CMDLINE_MAX_BYTES + 1] = '\0';
	refused("cmdline of 1024 bytes", "\"cmdline\": \"root=/dev/xvda2 ro "
	    "console=hvc0\"", big, BD_OK);
	refused("title of non-ASCII", "Debian 12 (bootdrop)", "D\\u00e9bian",
	    BD_ERR_SCHEMA);
	refused("bad root", "\"(hd0,0)\"", "\"(hd0,0)x\"", BD_ERR_SCHEMA);
	refused("install over grub.cfg", "\"install\": \"world.tar\"",
	    "\"install\": \"boot/grub/grub.cfg\"", BD_ERR_PATH);
	refused("install under loader/entries", "\"install\": \"world.tar\"",
	    "\"install\": \"loader/entries/x.conf\"", BD_ERR_PATH);
	refused("menu.lst is free without pvgrub", "\"install\": \"world.tar\"",
	    "\"install\": \"boot/grub/menu.lst\"", BD_OK);
	refused("no loaders: no configuration", "\"grub\",\n      \"bls\"", "",
	    BD_OK);
}

/* Reads path whole into a new string. */
static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = -1;

	if (f == NULL)
		die(path);
	if (fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (n < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n)
		die(path);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * The committed format-2 chain (versions 1..5, keys end at B C), then a
 * format-3 version 6 signed by B: walked from key A across the formats.
 */
static void
test_cross_formats(const char *data)
{
	struct bd_seckey *b = NULL;
	struct bd_pubkey a_pk;
	struct bd_manifest in, *m = NULL, *prev5 = NULL;
	struct bd_artifact arts[3];
	struct bd_accepted acc;
	struct bd_trust trust;
	struct bd_boot_view v;
	char path[4096], *env, *payload6;
	uint8_t *p = NULL;
	size_t len;
	unsigned ver;

	snprintf(path, sizeof(path), "%s/keys/minisign.key", data);
	if (seckey_load_file(&b, path, NULL, NULL) != BD_OK)
		die(path);
	snprintf(path, sizeof(path), "%s/keys/test.pub", data);
	if (pubkey_load_file(&a_pk, path) != BD_OK)
		die(path);
	trust.keys = &a_pk;
	trust.nkeys = 1;
	trust.threshold = 1;
	snprintf(path, sizeof(path), "%s/chain/1.json", data);
	env = read_text(path);
	CHECK_RC(manifest_verify_load((const uint8_t *)env, strlen(env), &trust,
	    "chain-test", &m), BD_OK, "format-2 version 1 from key A");
	free(env);
	if (m == NULL)
		goto out;
	CHECK(m->format == 2, "version 1 is format 2");
	manifest_accepted(m, &acc);
	manifest_free(m);
	m = NULL;
	for (ver = 2; ver <= 5; ver++) {
		snprintf(path, sizeof(path), "%s/chain/%u.json", data, ver);
		env = read_text(path);
		check_rc(manifest_verify_successor(&acc, (const uint8_t *)env,
		    strlen(env), "chain-test", &m), BD_OK, "format 2 link",
		    "a format-2 version follows");
		free(env);
		if (m == NULL)
			goto out;
		manifest_accepted(m, &acc);
		if (ver == 5)
			prev5 = m;
		else
			manifest_free(m);
		m = NULL;
	}
	/* version 6: format 3, prev = sha256(payload 5), keys of version 5 */
	sample_fill(&in, arts);
	in.channel = "chain-test";
	in.version = 6;
	in.has_prev = true;
	memcpy(in.prev, acc.payload_sha256, SHA256_BYTES);
	in.keys = acc.keys;
	arts[0].install = "boot/kernel";	/* where version 5's kernel is */
	CHECK_RC(manifest_payload_encode(&in, &p, &len), BD_OK,
	    "format-3 version 6 encodes");
	if (p == NULL)
		goto out;
	payload6 = strndup((const char *)p, len);
	free(p);
	env = envelope(payload6, "chain-test", 6, EXPIRES, b);
	CHECK_RC(manifest_verify_successor(&acc, (const uint8_t *)env,
	    strlen(env), "chain-test", &m), BD_OK,
	    "format-3 version 6 follows format-2 version 5");
	CHECK(m != NULL && m->format == 3 && m->version == 6,
	    "the walk ends on format 3");
	if (m != NULL) {
		/* a guest with version 5 renders 6, then 5 (format 2: none) */
		struct bd_prev_boot pb;

		CHECK(!manifest_prev_boot(prev5, &pb), "format 2 has no boot "
		    "entry to carry");
		CHECK_RC(manifest_boot_view(m, NULL, true, &v), BD_OK,
		    "boot view");
		CHECK(v.config.nentries == 1, "a format-2 previous version gives "
		    "no second entry (its menu.lst was its own)");
	}
	free(env);
	/* a broken link across formats is still a broken link */
	in.prev[0] ^= 1;
	p = NULL;
	if (manifest_payload_encode(&in, &p, &len) == BD_OK) {
		char *bad = strndup((const char *)p, len);
		struct bd_manifest *x = NULL;

		env = envelope(bad, "chain-test", 6, EXPIRES, b);
		CHECK_RC(manifest_verify_successor(&acc, (const uint8_t *)env,
		    strlen(env), "chain-test", &x), BD_ERR_CHAIN,
		    "a format-3 version naming the wrong prev");
		manifest_free(x);
		free(env);
		free(bad);
	}
	free(p);
	free(payload6);
out:
	manifest_free(m);
	manifest_free(prev5);
	seckey_free(b);
}

/* Two format-3 versions: the second entry is the previous version's. */
static void
test_boot_view(void)
{
	struct bd_manifest a, b;
	struct bd_artifact aa[3], ba[3];
	struct bd_boot_view v;
	struct bd_prev_boot pb;

	sample_fill(&a, aa);
	sample_fill(&b, ba);
	b.version = 2;
	b.boot_cmdline = "root=/dev/xvda2 ro quiet";
	sha256_buf("kernel 2", 8, ba[0].sha256);	/* a new kernel */
	ba[1].install = "boot/initrd-2.img";	/* the initrd moves */
	CHECK(manifest_prev_boot(&a, &pb), "version 1's entry");
	CHECK_RC(manifest_boot_view(&b, &pb, true, &v), BD_OK, "boot view");
	CHECK(v.config.nentries == 2 && v.config.entries[0].version == 2 &&
	    strcmp(v.config.entries[0].kernel, "boot/vmlinuz") == 0 &&
	    strcmp(v.config.entries[0].initrd, "boot/initrd-2.img") == 0 &&
	    strcmp(v.config.entries[0].cmdline, "root=/dev/xvda2 ro quiet") == 0,
	    "first entry: the new version");
	CHECK(v.config.entries[1].version == 1 &&
	    strcmp(v.config.entries[1].kernel, "boot/vmlinuz.old") == 0 &&
	    strcmp(v.config.entries[1].initrd, "boot/initrd.img") == 0 &&
	    strcmp(v.config.entries[1].cmdline,
	    "root=/dev/xvda2 ro console=hvc0") == 0,
	    "second entry: the previous version, its kernel kept as .old, its "
	    "initrd where it was, its own command line");
	CHECK_RC(manifest_boot_view(&b, NULL, true, &v), BD_OK, "first install");
	CHECK(v.config.nentries == 1, "a first install has one entry");
	CHECK_RC(manifest_boot_view(&b, &pb, false, &v), BD_OK, "--no-keep-old");
	CHECK(v.config.nentries == 1, "--no-keep-old: the previous kernel is "
	    "overwritten, so no second entry");
	ba[0].sha256[0] = aa[0].sha256[0];
	memcpy(ba[0].sha256, aa[0].sha256, SHA256_BYTES);	/* same kernel */
	CHECK_RC(manifest_boot_view(&b, &pb, false, &v), BD_OK, "same kernel");
	CHECK(v.config.nentries == 2 &&
	    strcmp(v.config.entries[1].kernel, "boot/vmlinuz") == 0,
	    "an unchanged kernel: the previous entry boots it where it is");
}

int
main(void)
{
	const char *data = getenv("BOOTDROP_TESTDATA");
	char path[4096];

	if (data == NULL)
		die("BOOTDROP_TESTDATA");
	snprintf(path, sizeof(path), "%s/keys/test.key", data);
	if (seckey_load_file(&sk, path, NULL, NULL) != BD_OK)
		die(path);
	seckey_public(sk, &pk);
	test_round_trip();
	if (payload_text != NULL)
		test_refusals();
	test_cross_formats(data);
	test_boot_view();
	free(payload_text);
	seckey_free(sk);
	return check_done();
}
