/*
 * audit.c - bootdrop-fetch --audit.  Each mirror's chain is walked on its
 * own (a mirror is judged by what it serves, never by another's bytes);
 * only the payload hashes of verified versions are compared across
 * mirrors, so a fork means two validly chained payloads for one version.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "layout.h"
#include "manifest.h"
#include "sha256.h"
#include "walk.h"

#define AUDIT_DETAIL_BYTES	512
#define AUDIT_SHORT_HEX		12	/* hash digits shown in the table */

enum audit_status {
	AUDIT_OK,		/* every version 1..newest verified */
	AUDIT_UNREACHABLE,	/* transport failure (exit 2) */
	AUDIT_MISSING,		/* a version (or manifest.json) not found */
	AUDIT_BROKEN		/* a link that does not hold */
};

static const char *const status_names[] = {
	"ok", "unreachable", "missing", "broken"
};

/* What a version's keys were, for the table and the JSON. */
struct audit_keys {
	unsigned threshold;
	size_t nkeys;
	uint8_t ids[MANIFEST_MAX_KEYS][KEY_ID_BYTES];
};

struct audit_mirror {
	const char *url;
	uint64_t newest;	/* manifest.json's version; 0 unknown */
	uint64_t valid;		/* versions 1..valid verified */
	uint8_t (*hash)[SHA256_BYTES];	/* [v - 1] */
	struct audit_keys *keys;	/* [v - 1] */
	size_t cap;
	enum audit_status status;
	uint64_t bad;		/* the version that failed (0: manifest.json) */
	char detail[AUDIT_DETAIL_BYTES];
};

static void
json_emit(json_t *o)
{
	char *s;

	if (o == NULL)
		return;
	if ((s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) != NULL) {
		printf("%s\n", s);
		free(s);
	}
	json_decref(o);
}

/* Records the failure of mirror a at version v. */
static void __attribute__((format(printf, 4, 5)))
mirror_fail(struct audit_mirror *a, enum audit_status st, uint64_t v,
    const char *fmt, ...)
{
	va_list ap;

	a->status = st;
	a->bad = v;
	va_start(ap, fmt);
	vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
	va_end(ap);
}

static enum bd_err
mirror_record(struct audit_mirror *a, const struct bd_manifest *m)
{
	struct audit_keys *k;
	size_t i, cap;
	void *p;

	if (a->valid == a->cap) {
		cap = a->cap == 0 ? 64 : a->cap * 2;
		if ((p = realloc(a->hash, cap * sizeof(*a->hash))) == NULL)
			return BD_ERR_NOMEM;
		a->hash = p;
		if ((p = realloc(a->keys, cap * sizeof(*a->keys))) == NULL)
			return BD_ERR_NOMEM;
		a->keys = p;
		a->cap = cap;
	}
	memcpy(a->hash[a->valid], m->payload_sha256, SHA256_BYTES);
	k = &a->keys[a->valid];
	k->threshold = m->keys.threshold;
	k->nkeys = m->keys.nkeys;
	for (i = 0; i < m->keys.nkeys; i++)
		memcpy(k->ids[i], m->keys.keys[i].id, KEY_ID_BYTES);
	a->valid++;
	return BD_OK;
}

/* Version 1: against the given keys, else by its own. */
static enum bd_err
first_verify(const struct audit_opts *o, const uint8_t *buf, size_t len,
    struct bd_manifest **m)
{
	struct bd_trust trust = { o->keys, o->nkeys, o->threshold };
	enum bd_err rc;

	rc = o->nkeys > 0 ?
	    manifest_verify_load(buf, len, &trust, o->channel, m) :
	    manifest_verify_self(buf, len, o->channel, m);
	if (rc == BD_OK && (*m)->version != 1) {
		rc = bd_fail(BD_ERR_CHAIN, "1.json holds version %" PRIu64,
		    (*m)->version);
		manifest_free(*m);
		*m = NULL;
	}
	return rc;
}

/* Walks one mirror's chain from version 1 to its manifest.json. */
static void
mirror_walk(const struct audit_opts *o, struct audit_mirror *a,
    size_t *requests)
{
	char url[DL_URL_MAX_BYTES], rel[LAYOUT_PATH_BYTES];
	char h1[SHA256_HEX_BYTES], h2[SHA256_HEX_BYTES];
	struct bd_manifest *top = NULL, *m = NULL;
	struct bd_accepted cur;
	uint8_t *buf = NULL;
	size_t len;
	uint64_t v;
	bool missing;
	enum bd_err rc;

	layout_manifest_path(o->channel, rel);
	snprintf(url, sizeof(url), "%s/%s", a->url, rel);
	(*requests)++;
	if ((rc = dl_get_buf(o->dl, url, MANIFEST_MAX_BYTES, &buf, &len)) !=
	    BD_OK) {
		missing = dl_failure(o->dl)->kind == DL_FAIL_STATUS &&
		    dl_failure(o->dl)->status == 404;
		mirror_fail(a, missing ? AUDIT_MISSING :
		    bd_err_exit_status(rc) == 2 ? AUDIT_UNREACHABLE :
		    AUDIT_BROKEN, 0, "manifest.json: %s", dl_detail(o->dl));
		goto out;
	}
	if ((rc = manifest_load_unverified(buf, len, &top)) != BD_OK) {
		mirror_fail(a, AUDIT_BROKEN, 0, "manifest.json: %s",
		    bd_err_detail());
		goto out;
	}
	a->newest = top->version;
	if (a->newest > AUDIT_MAX_VERSIONS) {
		mirror_fail(a, AUDIT_BROKEN, 0, "manifest.json names version %"
		    PRIu64 ", more than %d", a->newest, AUDIT_MAX_VERSIONS);
		goto out;
	}
	memset(&cur, 0, sizeof(cur));
	for (v = 1; v <= a->newest; v++) {
		free(buf);
		(*requests)++;
		rc = walk_get_version(o->dl, a->url, o->channel, v, &buf, &len,
		    &missing, url, sizeof(url));
		if (rc != BD_OK) {
			mirror_fail(a, missing ? AUDIT_MISSING :
			    bd_err_exit_status(rc) == 2 ? AUDIT_UNREACHABLE :
			    AUDIT_BROKEN, v, "%s", bd_err_detail());
			goto out;
		}
		rc = v == 1 ? first_verify(o, buf, len, &m) :
		    manifest_verify_successor(&cur, buf, len, o->channel, &m);
		if (rc != BD_OK) {
			mirror_fail(a, AUDIT_BROKEN, v, "%s: %s", bd_strerror(rc),
			    bd_err_detail());
			goto out;
		}
		if (v == a->newest && memcmp(m->payload_sha256,
		    top->payload_sha256, SHA256_BYTES) != 0) {
			sha256_hex(top->payload_sha256, h1);
			sha256_hex(m->payload_sha256, h2);
			mirror_fail(a, AUDIT_BROKEN, v, "manifest.json has payload "
			    "sha256 %s, %" PRIu64 ".json %s", h1, v, h2);
			goto out;
		}
		if (mirror_record(a, m) != BD_OK) {
			mirror_fail(a, AUDIT_BROKEN, v, "%s", "out of memory");
			goto out;
		}
		manifest_accepted(m, &cur);
		manifest_free(m);
		m = NULL;
	}
out:
	manifest_free(m);
	manifest_free(top);
	free(buf);
}

/* The mirror whose verified version v the others are compared with. */
static const struct audit_mirror *
reference(const struct audit_mirror *as, size_t n, uint64_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (as[i].valid >= v)
			return &as[i];
	return NULL;
}

static bool
forked(const struct audit_mirror *ref, const struct audit_mirror *a,
    uint64_t v)
{
	return ref != NULL && a->valid >= v &&
	    memcmp(ref->hash[v - 1], a->hash[v - 1], SHA256_BYTES) != 0;
}

/* "2 of 2CAFF7EB9129F435 3B9186251985061D" */
static void
keys_text(const struct audit_keys *k, char *out, size_t cap)
{
	char hex[KEY_ID_HEX_BYTES];
	size_t i, used;
	int n;

	n = snprintf(out, cap, "%u of", k->threshold);
	used = n > 0 ? (size_t)n : 0;
	for (i = 0; i < k->nkeys && used < cap; i++) {
		keyid_hex(k->ids[i], hex);
		n = snprintf(out + used, cap - used, " %s", hex);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static bool
keys_same(const struct audit_keys *a, const struct audit_keys *b)
{
	return a->threshold == b->threshold && a->nkeys == b->nkeys &&
	    memcmp(a->ids, b->ids, a->nkeys * KEY_ID_BYTES) == 0;
}

/* One table cell: what mirror a says about version v. */
static const char *
cell(const struct audit_mirror *as, size_t n, const struct audit_mirror *a,
    uint64_t v, char *out, size_t cap)
{
	char hex[SHA256_HEX_BYTES];

	if (a->valid >= v) {
		sha256_hex(a->hash[v - 1], hex);
		snprintf(out, cap, "%s%.*s", forked(reference(as, n, v), a, v) ?
		    "FORK " : "", AUDIT_SHORT_HEX, hex);
	} else if (a->status != AUDIT_OK && a->bad == v)
		snprintf(out, cap, "%s", a->status == AUDIT_MISSING ? "missing" :
		    a->status == AUDIT_BROKEN ? "BROKEN" : "unreachable");
	else
		snprintf(out, cap, "-");
	return out;
}

static void
table_print(const struct audit_opts *o, const struct audit_mirror *as,
    uint64_t top)
{
	char kt[MANIFEST_MAX_KEYS * KEY_ID_HEX_BYTES + 16], c[32];
	const struct audit_mirror *ref;
	const struct audit_keys *prev = NULL;
	uint64_t v;
	size_t i;

	printf("%-8s %-38s", "version", "keys (threshold of ids)");
	for (i = 0; i < o->nmirrors; i++)
		printf(" mirror %-10zu", i + 1);
	printf("\n");
	for (v = 1; v <= top; v++) {
		ref = reference(as, o->nmirrors, v);
		kt[0] = '\0';
		if (ref != NULL && (prev == NULL ||
		    !keys_same(prev, &ref->keys[v - 1]))) {
			keys_text(&ref->keys[v - 1], kt, sizeof(kt));
			prev = &ref->keys[v - 1];
		}
		printf("%-8" PRIu64 " %-38s", v, kt);
		for (i = 0; i < o->nmirrors; i++)
			printf(" %-17s", cell(as, o->nmirrors, &as[i], v, c,
			    sizeof(c)));
		printf("\n");
	}
	for (i = 0; i < o->nmirrors; i++) {
		printf("mirror %zu: %s, newest version %" PRIu64 ": ", i + 1,
		    as[i].url, as[i].newest);
		if (as[i].status == AUDIT_OK)
			printf("chain valid\n");
		else if (as[i].bad == 0)
			printf("%s (%s)\n", status_names[as[i].status],
			    as[i].detail);
		else
			printf("%s at version %" PRIu64 " (%s)\n",
			    status_names[as[i].status], as[i].bad, as[i].detail);
	}
}

static void
json_print(const struct audit_opts *o, const struct audit_mirror *as,
    uint64_t top)
{
	char hex[SHA256_HEX_BYTES], kid[KEY_ID_HEX_BYTES];
	const struct audit_mirror *a, *ref;
	json_t *obj, *ids;
	uint64_t v;
	size_t i, k;

	for (i = 0; i < o->nmirrors; i++) {
		a = &as[i];
		for (v = 1; v <= top; v++) {
			if (a->valid < v && !(a->status != AUDIT_OK &&
			    a->bad == v))
				continue;
			ref = reference(as, o->nmirrors, v);
			obj = json_pack("{s:s, s:s, s:I}", "event", "audit",
			    "mirror", a->url, "version", (json_int_t)v);
			if (obj == NULL)
				continue;
			if (a->valid >= v) {
				sha256_hex(a->hash[v - 1], hex);
				json_object_set_new(obj, "status", json_string(
				    forked(ref, a, v) ? "fork" : "ok"));
				json_object_set_new(obj, "payload_sha256",
				    json_string(hex));
				json_object_set_new(obj, "threshold",
				    json_integer(a->keys[v - 1].threshold));
				ids = json_array();
				for (k = 0; ids != NULL &&
				    k < a->keys[v - 1].nkeys; k++) {
					keyid_hex(a->keys[v - 1].ids[k], kid);
					json_array_append_new(ids,
					    json_string(kid));
				}
				json_object_set_new(obj, "keyids", ids);
			} else {
				json_object_set_new(obj, "status", json_string(
				    status_names[a->status]));
				json_object_set_new(obj, "detail",
				    json_string(a->detail));
			}
			json_emit(obj);
		}
		if (a->status != AUDIT_OK && a->bad == 0)
			json_emit(json_pack("{s:s, s:s, s:I, s:s, s:s}", "event",
			    "audit", "mirror", a->url, "version", (json_int_t)0,
			    "status", status_names[a->status], "detail",
			    a->detail));
	}
}

/*
 * Counts the versions on which some mirror forks from the reference, and
 * names the first fork (version and both hashes) on stderr.
 */
static size_t
forks_report(const struct audit_mirror *as, size_t n, uint64_t top)
{
	char h1[SHA256_HEX_BYTES], h2[SHA256_HEX_BYTES];
	const struct audit_mirror *ref;
	size_t i, forks = 0;
	uint64_t v;

	for (v = 1; v <= top; v++) {
		ref = reference(as, n, v);
		for (i = 0; i < n; i++) {
			if (!forked(ref, &as[i], v))
				continue;
			if (++forks == 1) {
				sha256_hex(ref->hash[v - 1], h1);
				sha256_hex(as[i].hash[v - 1], h2);
				fprintf(stderr, "bootdrop-fetch: audit: fork at "
				    "version %" PRIu64 ": %s has payload sha256 "
				    "%s, %s has %s\n", v, ref->url, h1,
				    as[i].url, h2);
			}
			break;
		}
	}
	return forks;
}

int
audit_run(const struct audit_opts *o)
{
	struct audit_mirror *as;
	size_t i, requests = 0, forks = 0, behind = 0;
	uint64_t top = 0;
	bool broken = false, unreachable = false;
	int status;

	if ((as = calloc(o->nmirrors, sizeof(*as))) == NULL) {
		fputs("bootdrop-fetch: audit: out of memory\n", stderr);
		return 4;
	}
	for (i = 0; i < o->nmirrors; i++) {
		as[i].url = o->mirrors[i];
		mirror_walk(o, &as[i], &requests);
		if (as[i].newest > top)
			top = as[i].newest;
		if (as[i].status == AUDIT_UNREACHABLE)
			unreachable = true;
		else if (as[i].status != AUDIT_OK)
			broken = true;
		if (as[i].status != AUDIT_OK)
			fprintf(stderr, "bootdrop-fetch: audit of %s: %s at "
			    "version %" PRIu64 ": %s\n", as[i].url,
			    status_names[as[i].status], as[i].bad,
			    as[i].detail);
	}
	forks = forks_report(as, o->nmirrors, top);
	/* Behind is not wrong (a mirror syncs later), but it is said. */
	for (i = 0; i < o->nmirrors; i++)
		if (as[i].status == AUDIT_OK && as[i].newest < top) {
			behind++;
			fprintf(stderr, "bootdrop-fetch: audit: warning: %s is "
			    "behind: its newest version is %" PRIu64 ", another "
			    "mirror has %" PRIu64 "\n", as[i].url, as[i].newest,
			    top);
		}
	if (o->json) {
		json_print(o, as, top);
	} else if (!o->quiet) {
		printf("audit of channel %s on %zu mirror%s (%zu requests)\n",
		    o->channel, o->nmirrors, o->nmirrors == 1 ? "" : "s",
		    requests);
		table_print(o, as, top);
	}
	status = broken || forks > 0 ? 3 : unreachable ? 2 : 0;
	if (o->json) {
		json_t *lag = json_array();

		for (i = 0; lag != NULL && i < o->nmirrors; i++)
			if (as[i].status == AUDIT_OK && as[i].newest < top)
				json_array_append_new(lag, json_pack("{s:s, s:I}",
				    "mirror", as[i].url, "newest",
				    (json_int_t)as[i].newest));
		json_emit(json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:I, s:o}",
		    "event", "result", "channel", o->channel, "audit",
		    status == 0 ? "agree" : status == 3 ? "refused" :
		    "incomplete", "forks", (json_int_t)forks, "requests",
		    (json_int_t)requests, "status", status, "newest",
		    (json_int_t)top, "behind", lag != NULL ? lag :
		    json_array()));
	}
	else if (!o->quiet)
		printf("%s\n", status == 0 ? "result: every chain is valid and "
		    "the mirrors agree on every version they share" :
		    status == 3 ? "result: REFUSED (see the lines above)" :
		    "result: incomplete, a mirror could not be reached");
	for (i = 0; i < o->nmirrors; i++) {
		free(as[i].hash);
		free(as[i].keys);
	}
	free(as);
	return status;
}
