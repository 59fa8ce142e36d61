/*
 * chain.c - building version n+1 on version n.  The head is re-read from
 * the repository and verified every time (never remembered), and the
 * signed envelope is judged by the client's own rule before it is
 * written, so a publisher cannot write a version that a guest following
 * the chain would refuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chain.h"
#include "layout.h"
#include "manifest.h"
#include "repo.h"

#define IDS_TEXT_BYTES	(MANIFEST_MAX_KEYS * KEY_ID_HEX_BYTES)

void
chain_keyids_text(const struct bd_keyset *ks, char *out, size_t cap)
{
	char hex[KEY_ID_HEX_BYTES];
	size_t i, used = 0;
	int n;

	if (cap == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < ks->nkeys; i++) {
		keyid_hex(ks->keys[i].id, hex);
		n = snprintf(out + used, cap - used, "%s%s", i ? " " : "", hex);
		if (n < 0 || (size_t)n >= cap - used)
			return;
		used += (size_t)n;
	}
}

enum bd_err
chain_source_read(void *ctx, uint64_t v, uint8_t **buf, size_t *len)
{
	const struct chain_source *src = ctx;
	char name[LAYOUT_FILE_BYTES];

	layout_version_file(v, name);
	return repo_read_manifest(src->repofd, src->channel, name, buf, len);
}

void
chain_head_clear(struct chain_head *h)
{
	manifest_free(h->m);
	memset(h, 0, sizeof(*h));
}

/* True when channels/<channel>/manifest.json exists (a file or not). */
static bool
has_manifest_json(int repofd, const char *channel)
{
	char rel[LAYOUT_PATH_BYTES];
	struct stat st;

	layout_manifest_path(channel, rel);
	return fstatat(repofd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    errno != ENOENT;
}

enum bd_err
chain_head_load(int repofd, const char *channel, struct chain_head *h)
{
	char name[LAYOUT_FILE_BYTES], saved[256];
	struct bd_manifest *top = NULL;
	uint8_t *buf = NULL, *vbuf = NULL;
	uint64_t *versions = NULL, latest = 0;
	size_t n = 0, len = 0, vlen = 0;
	enum bd_err rc;

	memset(h, 0, sizeof(*h));
	if ((rc = repo_list_versions(repofd, channel, &versions, &n)) != BD_OK)
		goto out;
	if (n > 0)
		latest = versions[n - 1];
	if (has_manifest_json(repofd, channel)) {
		if ((rc = repo_read_manifest(repofd, channel, "manifest.json",
		    &buf, &len)) != BD_OK)
			goto out;
		if ((rc = manifest_load_unverified(buf, len, &top)) != BD_OK) {
			snprintf(saved, sizeof(saved), "%s", bd_err_detail());
			rc = bd_fail(BD_ERR_CHAIN, "channels/%s/manifest.json "
			    "cannot be read (%s: %s); refusing to publish on "
			    "top of it", channel, bd_strerror(rc), saved);
			goto out;
		}
		if (top->version > latest) {
			rc = bd_fail(BD_ERR_CHAIN, "manifest.json is version "
			    "%llu, but channels/%s/%llu.json is missing; "
			    "refusing to publish on top of a missing version",
			    (unsigned long long)top->version, channel,
			    (unsigned long long)top->version);
			goto out;
		}
	}
	if (latest == 0)
		goto out;
	layout_version_file(latest, name);
	if ((rc = repo_read_manifest(repofd, channel, name, &vbuf,
	    &vlen)) != BD_OK)
		goto out;
	if ((rc = manifest_verify_self(vbuf, vlen, channel, &h->m)) != BD_OK) {
		snprintf(saved, sizeof(saved), "%s", bd_err_detail());
		rc = bd_fail(BD_ERR_CHAIN, "channels/%s/%s was altered (%s: "
		    "%s); refusing to publish on top of it", channel, name,
		    bd_strerror(rc), saved);
		goto out;
	}
	if (h->m->version != latest) {
		rc = bd_fail(BD_ERR_CHAIN, "channels/%s/%s holds version %llu; "
		    "refusing to publish on top of it", channel, name,
		    (unsigned long long)h->m->version);
		goto out;
	}
	if (top != NULL && top->version == latest &&
	    (len != vlen || memcmp(buf, vbuf, len) != 0)) {
		rc = bd_fail(BD_ERR_CHAIN, "channels/%s/manifest.json differs "
		    "from %s; refusing to publish on top of either", channel,
		    name);
		goto out;
	}
	h->version = latest;
out:
	if (rc != BD_OK)
		chain_head_clear(h);
	manifest_free(top);
	free(versions);
	free(buf);
	free(vbuf);
	return rc;
}

/* How many of the signers hold a key of ks (distinct key ids). */
static size_t
signers_in(const struct bd_keyset *ks, struct bd_seckey *const *signers,
    size_t nsigners)
{
	struct bd_pubkey pk;
	bool counted[MANIFEST_MAX_KEYS] = { false };
	size_t i, n = 0;
	int j;

	for (i = 0; i < nsigners; i++) {
		seckey_public(signers[i], &pk);
		j = keyset_find(ks, pk.id);
		if (j < 0 || counted[j] ||
		    memcmp(ks->keys[j].pk, pk.pk, KEY_PK_BYTES) != 0)
			continue;
		counted[j] = true;
		n++;
	}
	return n;
}

/* The first version's keys: the signers' own, threshold t (0: 1). */
static enum bd_err
keys_of_signers(struct bd_seckey *const *signers, size_t nsigners,
    unsigned t, struct bd_keyset *ks)
{
	struct bd_pubkey pk;
	size_t i;

	memset(ks, 0, sizeof(*ks));
	for (i = 0; i < nsigners && ks->nkeys < MANIFEST_MAX_KEYS; i++) {
		seckey_public(signers[i], &pk);
		if (keyset_find(ks, pk.id) < 0)
			ks->keys[ks->nkeys++] = pk;
	}
	ks->threshold = t == 0 ? 1 : t;
	if (ks->nkeys == 0 || ks->threshold > ks->nkeys)
		return bd_fail(BD_ERR_USAGE, "threshold %u, but %zu signing "
		    "key%s", ks->threshold, ks->nkeys, ks->nkeys == 1 ? "" : "s");
	return BD_OK;
}

enum bd_err
chain_next(const struct chain_head *h, const struct bd_keyset *keys,
    unsigned threshold, struct bd_seckey *const *signers, size_t nsigners,
    struct bd_manifest *m)
{
	char ids[IDS_TEXT_BYTES];
	size_t have;
	enum bd_err rc;

	if (h->version >= MANIFEST_MAX_VERSION)
		return bd_fail(BD_ERR_RANGE, "channel has no versions left");
	m->version = h->version + 1;
	m->has_prev = h->m != NULL;
	if (h->m != NULL)
		memcpy(m->prev, h->m->payload_sha256, SHA256_BYTES);
	if (keys != NULL)
		m->keys = *keys;
	else if (h->m != NULL && threshold != 0 &&
	    threshold != h->m->keys.threshold)
		return bd_fail(BD_ERR_USAGE, "the channel's threshold is %u; "
		    "change it with rotate", h->m->keys.threshold);
	else if (h->m != NULL)
		m->keys = h->m->keys;
	else if ((rc = keys_of_signers(signers, nsigners, threshold,
	    &m->keys)) != BD_OK)
		return rc;
	if (h->m != NULL) {
		have = signers_in(&h->m->keys, signers, nsigners);
		if (have < h->m->keys.threshold) {
			chain_keyids_text(&h->m->keys, ids, sizeof(ids));
			return bd_fail(BD_ERR_THRESHOLD, "version %llu must be "
			    "signed by %u of the keys of version %llu (%s); "
			    "the -s keys hold %zu of them",
			    (unsigned long long)m->version,
			    h->m->keys.threshold, (unsigned long long)h->version,
			    ids, have);
		}
	}
	have = signers_in(&m->keys, signers, nsigners);
	if (have < m->keys.threshold) {
		chain_keyids_text(&m->keys, ids, sizeof(ids));
		return bd_fail(BD_ERR_THRESHOLD, "version %llu names keys of "
		    "which %u must sign it (%s); the -s keys hold %zu of them",
		    (unsigned long long)m->version, m->keys.threshold, ids,
		    have);
	}
	return BD_OK;
}

enum bd_err
chain_check_envelope(const struct chain_head *h, const char *channel,
    const char *envelope, size_t len)
{
	struct bd_accepted prev;
	struct bd_manifest *m = NULL;
	enum bd_err rc;

	if (h->m != NULL) {
		manifest_accepted(h->m, &prev);
		rc = manifest_verify_successor(&prev, (const uint8_t *)envelope,
		    len, channel, &m);
	} else {
		rc = manifest_verify_self((const uint8_t *)envelope, len,
		    channel, &m);
		if (rc == BD_OK && (m->version != 1 || m->has_prev))
			rc = bd_fail(BD_ERR_CHAIN, "the first version must be "
			    "version 1 with no prev");
	}
	manifest_free(m);
	return rc;
}

enum bd_err
chain_keyset_parse(const char *const *args, size_t n, unsigned threshold,
    struct bd_keyset *ks)
{
	char hex[KEY_ID_HEX_BYTES];
	struct bd_pubkey pk;
	size_t i;
	enum bd_err rc;

	memset(ks, 0, sizeof(*ks));
	if (n == 0 || n > MANIFEST_MAX_KEYS)
		return bd_fail(BD_ERR_USAGE, "between 1 and %d --keys",
		    MANIFEST_MAX_KEYS);
	for (i = 0; i < n; i++) {
		if (strlen(args[i]) == PUBKEY_B64_BYTES - 1 &&
		    pubkey_from_base64(&pk, args[i]) == BD_OK)
			rc = BD_OK;
		else if ((rc = pubkey_load_file(&pk, args[i])) != BD_OK)
			return bd_fail(BD_ERR_USAGE, "--keys %s: not a public "
			    "key file or key string (%s)", args[i],
			    bd_err_detail());
		if (keyset_find(ks, pk.id) >= 0) {
			keyid_hex(pk.id, hex);
			return bd_fail(BD_ERR_USAGE, "--keys: key %s named twice",
			    hex);
		}
		ks->keys[ks->nkeys++] = pk;
	}
	ks->threshold = threshold == 0 ? 1 : threshold;
	if (ks->threshold > ks->nkeys)
		return bd_fail(BD_ERR_USAGE, "threshold %u, but %zu key%s",
		    ks->threshold, ks->nkeys, ks->nkeys == 1 ? "" : "s");
	return rc;
}
