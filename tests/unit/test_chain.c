/*
 * test_chain.c - chain_verify.h, the one decision of "does a holder of
 * this trust reach this manifest", on chains built here: key A signs
 * versions 1-3, version 4 hands the channel to key B (signed by A and B),
 * B alone signs version 5.  A reaches 5 only by the walk, B directly; a
 * version 4 without A's signature breaks the walk at 4; a refused copy
 * of a version leaves the walk where it was (the next mirror's copy is
 * accepted); the walk's length is capped before anything is read; and a
 * state anchor walks only what follows it.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "chain_verify.h"
#include "key.h"
#include "manifest.h"
#include "sha256.h"
#include "sig.h"
#include "timefmt.h"

#define CHANNEL		"chain-test"
#define NVERSIONS	5

static struct bd_seckey *ska, *skb;
static struct bd_pubkey pka, pkb;

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "test_chain: %s failed: %s\n", what, bd_err_detail());
	exit(2);
}

/*
 * Returns a new envelope of version v (prev: prev's payload hash, or
 * none for NULL) whose keys are keys[0..nkeys), signed by signers[0..n).
 * Its payload hash goes to sha.
 */
static char *
version_make(uint64_t v, const uint8_t *prev, const struct bd_pubkey *keys,
    size_t nkeys, struct bd_seckey **signers, size_t n,
    uint8_t sha[SHA256_BYTES])
{
	char *sigs[MANIFEST_MAX_SIGNATURES] = { NULL }, tc[256], *out = NULL;
	uint8_t ids[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES], *payload = NULL;
	struct bd_manifest m;
	struct bd_artifact art;
	size_t len, i;

	memset(&m, 0, sizeof(m));
	memset(&art, 0, sizeof(art));
	m.format = 2;
	m.channel = CHANNEL;
	m.version = v;
	m.has_prev = prev != NULL;
	if (prev != NULL)
		memcpy(m.prev, prev, SHA256_BYTES);
	m.keys.threshold = 1;
	m.keys.nkeys = nkeys;
	memcpy(m.keys.keys, keys, nkeys * sizeof(*keys));
	time_parse("2026-11-26T12:00:00Z", &m.created);
	time_parse("2099-12-31T00:00:00Z", &m.expires);
	art.name = "world.tgz";
	art.kind = "world";
	art.size = 1000;
	sha256_buf("world", 5, art.sha256);
	art.install = "world.tgz";
	m.artifacts = &art;
	m.nartifacts = 1;
	if (manifest_payload_encode(&m, &payload, &len) != BD_OK ||
	    manifest_trusted_comment(&m, tc, sizeof(tc)) != BD_OK)
		die("encode");
	sha256_buf(payload, len, sha);
	for (i = 0; i < n; i++) {
		if (sig_sign(signers[i], payload, len, tc, NULL, &sigs[i]) !=
		    BD_OK)
			die("sig_sign");
		memcpy(ids[i], signers[i]->id, KEY_ID_BYTES);
	}
	if (manifest_envelope_encode(payload, len, (const char *const *)sigs,
	    (const uint8_t (*)[KEY_ID_BYTES])ids, n, &out) != BD_OK)
		die("manifest_envelope_encode");
	for (i = 0; i < n; i++)
		free(sigs[i]);
	free(payload);
	return out;
}

/* The chain's versions 1..NVERSIONS, and a reader over them. */
static char *env[NVERSIONS + 1];
static uint8_t sha[NVERSIONS + 1][SHA256_BYTES];
static size_t reads;

static enum bd_err
read_version(void *ctx, uint64_t v, uint8_t **buf, size_t *len)
{
	char **envs = ctx;

	reads++;
	if (v < 1 || v > NVERSIONS || envs[v] == NULL)
		return bd_fail(BD_ERR_IO, "%" PRIu64 ".json: no such file", v);
	if ((*buf = (uint8_t *)strdup(envs[v])) == NULL)
		die("strdup");
	*len = strlen(envs[v]);
	return BD_OK;
}

static void
anchor_of(struct bd_accepted *a, const struct bd_pubkey *pk)
{
	memset(a, 0, sizeof(*a));
	a->keys.threshold = 1;
	a->keys.nkeys = 1;
	a->keys.keys[0] = *pk;
}

/* chain_reach() of envs' newest from anchor; *steps and reads counted. */
static enum bd_err
reach(const struct bd_accepted *anchor, char **envs, const char *newest,
    size_t *steps, uint64_t *version)
{
	struct bd_manifest *m = NULL;
	enum bd_err rc;

	reads = 0;
	*version = 0;
	rc = chain_reach(anchor, CHANNEL, (const uint8_t *)newest,
	    strlen(newest), read_version, envs, &m, steps);
	if (m != NULL)
		*version = m->version;
	manifest_free(m);
	return rc;
}

int
main(void)
{
	struct bd_seckey *a[] = { NULL }, *ab[] = { NULL, NULL }, *b[] = { NULL };
	struct bd_accepted anchor;
	struct bd_manifest *m;
	struct chain_walk w;
	char *forged[NVERSIONS + 1], *far;
	uint8_t tmp[SHA256_BYTES];
	uint64_t v, got;
	size_t steps;
	enum bd_err rc;

	if (seckey_generate(&ska, &pka) != BD_OK ||
	    seckey_generate(&skb, &pkb) != BD_OK)
		die("seckey_generate");
	a[0] = ska;
	ab[0] = ska;
	ab[1] = skb;
	b[0] = skb;
	env[1] = version_make(1, NULL, &pka, 1, a, 1, sha[1]);
	env[2] = version_make(2, sha[1], &pka, 1, a, 1, sha[2]);
	env[3] = version_make(3, sha[2], &pka, 1, a, 1, sha[3]);
	env[4] = version_make(4, sha[3], &pkb, 1, ab, 2, sha[4]);
	env[5] = version_make(5, sha[4], &pkb, 1, b, 1, sha[5]);

	/* A reaches 5 only by the walk: 1..4 read, 5 is the bytes given */
	anchor_of(&anchor, &pka);
	CHECK_RC(reach(&anchor, env, env[5], &steps, &got), BD_OK,
	    "key A reaches version 5 across the rotation");
	CHECK(steps == 5 && reads == 4 && got == 5, "by a walk of %zu steps, "
	    "%zu reads (want 5, 4), ending at version %" PRIu64, steps, reads,
	    got);
	/* B directly, nothing read */
	anchor_of(&anchor, &pkb);
	CHECK_RC(reach(&anchor, env, env[5], &steps, &got), BD_OK,
	    "key B reaches version 5");
	CHECK(steps == 0 && reads == 0, "directly: %zu steps, %zu reads",
	    steps, reads);
	/* B does not reach version 3, which it never signed */
	CHECK_RC(reach(&anchor, env, env[3], &steps, &got), BD_ERR_KEYID,
	    "key B does not reach version 3");
	/* the chain's own walk: every version, from version 1's own keys */
	CHECK_RC(reach(NULL, env, env[5], &steps, &got), BD_OK,
	    "the chain's own walk");
	CHECK(steps == 5 && reads == 4, "every version: %zu steps, %zu reads",
	    steps, reads);

	/* version 4 without the old key's signature: the walk breaks at 4 */
	memcpy(forged, env, sizeof(forged));
	forged[4] = version_make(4, sha[3], &pkb, 1, b, 1, tmp);
	CHECK(memcmp(tmp, sha[4], SHA256_BYTES) == 0, "the forged version 4 "
	    "has the same payload (version 5's prev still matches)");
	anchor_of(&anchor, &pka);
	rc = reach(&anchor, forged, env[5], &steps, &got);
	CHECK(rc == BD_ERR_KEYID && strstr(bd_err_detail(), "version 4: as "
	    "the successor of version 3") != NULL, "key A: refused at version "
	    "4: %s: %s", bd_strerror(rc), bd_err_detail());
	CHECK_RC(reach(NULL, forged, env[5], &steps, &got), BD_ERR_KEYID,
	    "the chain's own walk: refused too");

	/* a refused copy leaves the walk at its version; a good one moves it */
	anchor_of(&anchor, &pka);
	CHECK_RC(chain_walk_begin(&w, &anchor, CHANNEL, (const uint8_t *)env[5],
	    strlen(env[5])), BD_OK, "begin the walk from key A");
	CHECK(chain_walk_next(&w) == 1, "it wants version 1 first");
	CHECK_RC(chain_walk_offer(&w, (const uint8_t *)env[2], strlen(env[2])),
	    BD_ERR_CHAIN, "version 2's bytes offered as version 1");
	CHECK(chain_walk_next(&w) == 1, "still wants version 1");
	CHECK_RC(chain_walk_offer(&w, (const uint8_t *)env[1], strlen(env[1])),
	    BD_OK, "version 1");
	for (v = 2; (got = chain_walk_next(&w)) != 0 && v < 10; v++) {
		CHECK(got == v, "wants version %" PRIu64 " (got %" PRIu64 ")",
		    v, got);
		if (chain_walk_offer(&w, (const uint8_t *)env[got],
		    strlen(env[got])) != BD_OK)
			break;
		if (got == 4)
			CHECK(chain_walk_keys_changed(&w), "keys changed at 4");
		else
			CHECK(!chain_walk_keys_changed(&w), "keys unchanged at %"
			    PRIu64, got);
	}
	CHECK_RC(chain_walk_finish(&w, &m), BD_OK, "the walk ends at 5");
	CHECK(m != NULL && m->version == 5 && w.steps == 5, "version 5, 5 steps");
	manifest_free(m);
	chain_walk_clear(&w);

	/* a state anchor: accepted version 3 walks 4 and ends at 5 */
	anchor_of(&anchor, &pka);
	anchor.version = 3;
	memcpy(anchor.payload_sha256, sha[3], SHA256_BYTES);
	CHECK_RC(reach(&anchor, env, env[5], &steps, &got), BD_OK,
	    "from the state of version 3");
	CHECK(steps == 2 && reads == 1, "walks only 4 and 5: %zu steps, %zu "
	    "reads", steps, reads);
	/* the next version accepted directly must still name it as prev */
	far = version_make(4, sha[2], &pka, 1, a, 1, tmp);
	CHECK_RC(reach(&anchor, env, far, &steps, &got), BD_ERR_CHAIN,
	    "version 4 signed by A but not built on version 3");
	free(far);

	/* the cap: decided from the newest's version, before any read */
	anchor_of(&anchor, &pka);
	far = version_make(CHAIN_MAX_VERSIONS + 1, sha[5], &pkb, 1, b, 1, tmp);
	rc = reach(&anchor, env, far, &steps, &got);
	CHECK(rc == BD_ERR_CHAIN && reads == 0 && strstr(bd_err_detail(),
	    "more than 1024") != NULL, "version %d from key A: refused "
	    "without a read (%zu): %s", CHAIN_MAX_VERSIONS + 1, reads,
	    bd_err_detail());
	free(far);
	far = version_make(CHAIN_MAX_VERSIONS, sha[5], &pkb, 1, b, 1, tmp);
	CHECK_RC(chain_walk_begin(&w, &anchor, CHANNEL, (const uint8_t *)far,
	    strlen(far)), BD_OK, "version 1024 from key A: a walk is allowed");
	CHECK(chain_walk_next(&w) == 1, "and starts at version 1");
	chain_walk_clear(&w);
	free(far);

	for (v = 1; v <= NVERSIONS; v++)
		free(env[v]);
	free(forged[4]);
	seckey_free(ska);
	seckey_free(skb);
	return check_done();
}
