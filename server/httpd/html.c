/*
 * html.c - the HTML index of bootdrop-server (see html.h).
 *
 * Pages are built in one capped buffer (HTML_PAGE_MAX_BYTES); any text
 * that is not a literal of this file goes through hb_esc().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dynbuf.h"
#include "html.h"
#include "index.h"
#include "key.h"
#include "layout.h"
#include "manifest.h"
#include "repo.h"
#include "timefmt.h"
#include "units.h"

#define HTML_PAGE_FIRST_BYTES	8192

/* The page being built: a capped buffer; past its cap, failed is set. */
struct hbuf {
	struct dynbuf d;
	bool failed;
};

static void
hb_put(struct hbuf *b, const char *s, size_t n)
{
	if (!b->failed && dynbuf_add(&b->d, s, n) != BD_OK)
		b->failed = true;
}

static void
hb_str(struct hbuf *b, const char *s)
{
	hb_put(b, s, strlen(s));
}

/* Appends a literal format; every %s argument must already be safe HTML. */
static void __attribute__((format(printf, 2, 3)))
hb_printf(struct hbuf *b, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->failed = true;
		return;
	}
	hb_put(b, tmp, (size_t)n);
}

/* Appends s with &, <, >, " and ' escaped. */
static void
hb_esc(struct hbuf *b, const char *s)
{
	const char *run = s;

	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		const char *e;

		switch (*s) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: continue;
		}
		hb_put(b, run, (size_t)(s - run));
		hb_str(b, e);
		run = s + 1;
	}
	hb_put(b, run, (size_t)(s - run));
}

static const char style[] =
	"body{font-family:system-ui,sans-serif;margin:0 auto;max-width:56em;"
	"padding:1em;line-height:1.45;color:#222;background:#fff;"
	"overflow-wrap:anywhere}"
	"h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.5em;"
	"border-bottom:1px solid #ddd}"
	"code,pre{font-family:ui-monospace,monospace;font-size:.9em}"
	"pre{background:#f4f4f4;padding:.6em;overflow-x:auto;"
	"white-space:pre-wrap;word-break:break-all}"
	/* The command wraps between its words and inside the key, never
	 * inside the URL: a URL wider than the screen scrolls in its box. */
	"pre.cmd{word-break:normal}pre.cmd span{white-space:nowrap}"
	"pre.cmd span.key{white-space:normal;word-break:break-all}"
	".hash{word-break:break-all}"
	".scroll{overflow-x:auto}"
	"table{border-collapse:collapse;width:100%}"
	"td,th{text-align:left;padding:.3em .5em;border-bottom:1px solid #eee;"
	"vertical-align:top}"
	/* A timestamp or a column's name is read whole: never broken. */
	"th,time{white-space:nowrap;overflow-wrap:normal}"
	/* On a narrow screen each channel is a block, a labelled line a field. */
	"@media (max-width:30em){table.rows thead{display:none}"
	"table.rows tr,table.rows td{display:block}"
	"table.rows tr{border-bottom:1px solid #ddd;padding:.3em 0}"
	"table.rows td{border:0;padding:.1em .3em}"
	"table.rows td[data-l]::before{content:attr(data-l) \": \";"
	"font-weight:600}}"
	"dl{display:grid;grid-template-columns:max-content minmax(0,1fr);"
	"gap:.2em 1em}"
	"dt{font-weight:600}dd{margin:0;min-width:0}"
	".card{border:1px solid #ddd;border-radius:6px;padding:.5em .8em;"
	"margin:.6em 0}"
	".bad{color:#a00;font-weight:600}.note{color:#555;font-size:.9em}"
	"@media (max-width:30em){dl{grid-template-columns:minmax(0,1fr)}"
	"dt{margin-top:.4em}}";

static void
page_head(struct hbuf *b, const char *title)
{
	hb_str(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<title>");
	hb_esc(b, title);
	hb_str(b, "</title><style>");
	hb_str(b, style);
	hb_str(b, "</style></head><body>\n<p><a href=\"/\">bootdrop repository</a></p>\n");
}

static void
page_tail(const struct http_server *s, struct hbuf *b)
{
	hb_str(b, "<p class=\"note\">Manifests are signed; signatures verified by "
	    "bootdrop-fetch before anything is installed.");
	if (s->nkeys > 0)
		hb_str(b, " Whether a guest holding a key shown here reaches a "
		    "channel's newest version was judged by this server with "
		    "the rule bootdrop-fetch applies (the signatures, and the "
		    "chain of versions across changes of keys).");
	hb_str(b, "</p>\n</body></html>\n");
}

static void
time_cell(struct hbuf *b, time_t t, bool expiry, time_t now)
{
	char ts[TIME_RFC3339_BYTES];

	time_format(t, ts);
	hb_str(b, "<time>");
	hb_esc(b, ts);
	hb_str(b, "</time>");
	if (expiry && t <= now)
		hb_str(b, " <span class=\"bad\">expired</span>");
}

/* Appends key i's id as <code>. */
static void
key_code(const struct http_server *s, struct hbuf *b, size_t i)
{
	char kid[KEY_ID_HEX_BYTES];

	keyid_hex(s->keys[i].id, kid);
	hb_str(b, "<code>");
	hb_esc(b, kid);
	hb_str(b, "</code>");
}

/* The keys section of the index: each key and the channels it reaches. */
static void
render_keys_reached(const struct http_server *s, struct hbuf *b,
    char **names, size_t n, const bool *reached)
{
	char b64[PUBKEY_B64_BYTES], path[LAYOUT_PATH_BYTES];
	size_t i, k, shown;

	hb_str(b, "<h2>Keys</h2>\n<p class=\"note\">The public keys this "
	    "server shows in fetch commands, and the channels a guest holding "
	    "each one alone reaches.</p>\n");
	for (k = 0; k < s->nkeys; k++) {
		pubkey_to_base64(&s->keys[k], b64);
		hb_str(b, "<div class=\"card\"><dl><dt>key id</dt><dd>");
		key_code(s, b, k);
		hb_str(b, "</dd><dt>public key</dt><dd><code class=\"hash\">");
		hb_esc(b, b64);
		hb_str(b, "</code></dd><dt>reaches</dt><dd>");
		for (i = 0, shown = 0; i < n; i++) {
			if (!reached[i * s->nkeys + k])
				continue;
			layout_channel_dir(names[i], path);
			hb_str(b, shown++ ? ", <a href=\"/" : "<a href=\"/");
			hb_esc(b, path);
			hb_str(b, "/\">");
			hb_esc(b, names[i]);
			hb_str(b, "</a>");
		}
		if (shown == 0)
			hb_str(b, "<span class=\"bad\">no channel</span>");
		hb_str(b, "</dd></dl></div>\n");
	}
}

static void
render_index(const struct http_server *s, struct hbuf *b, char **names,
    size_t n)
{
	char path[LAYOUT_PATH_BYTES];
	struct index_reach reach[HTTP_MAX_KEYS];
	struct bd_manifest *m;
	bool *reached = NULL;
	time_t now = time(NULL);
	enum bd_err rc;
	size_t i, k, any;

	page_head(b, "bootdrop repository");
	hb_str(b, "<h1>Channels</h1>\n");
	if (n == 0) {
		hb_str(b, "<p>No channel has been published yet.</p>\n");
		page_tail(s, b);
		return;
	}
	if (s->nkeys > 0 && (reached = calloc(n, s->nkeys)) == NULL) {
		b->failed = true;
		return;
	}
	hb_str(b, "<div class=\"scroll\"><table class=\"rows\"><thead><tr>"
	    "<th>channel</th>"
	    "<th>version</th><th>created</th><th>expires</th>");
	if (s->nkeys > 0)
		hb_str(b, "<th>reached by key</th>");
	hb_str(b, "</tr></thead><tbody>\n");
	for (i = 0; i < n && !b->failed; i++) {
		layout_channel_dir(names[i], path);
		hb_str(b, "<tr><td><a href=\"/");
		hb_esc(b, path);
		hb_str(b, "/\">");
		hb_esc(b, names[i]);
		hb_str(b, "</a></td>");
		rc = index_channel_manifest(s->index, s->repofd, names[i], &m);
		if (rc != BD_OK) {
			hb_printf(b, "<td colspan=\"%d\" class=\"bad\">manifest "
			    "unreadable: ", s->nkeys > 0 ? 4 : 3);
			hb_esc(b, bd_strerror(rc));
			hb_str(b, "</td></tr>\n");
			continue;
		}
		hb_printf(b, "<td data-l=\"version\">%" PRIu64 "</td>"
		    "<td data-l=\"created\">", m->version);
		time_cell(b, m->created, false, now);
		hb_str(b, "</td><td data-l=\"expires\">");
		time_cell(b, m->expires, true, now);
		hb_str(b, "</td>");
		index_channel_release(s->index, m);
		if (s->nkeys > 0) {
			hb_str(b, "<td data-l=\"key\">");
			index_channel_reach(s->index, s->repofd, names[i],
			    s->keys, s->nkeys, reach);
			for (k = 0, any = 0; k < s->nkeys; k++) {
				if (reach[k].rc != BD_OK)
					continue;
				reached[i * s->nkeys + k] = true;
				hb_str(b, any++ ? ", " : "");
				key_code(s, b, k);
			}
			if (any == 0)
				hb_str(b, "<span class=\"bad\">none of the "
				    "keys shown</span>");
			hb_str(b, "</td>");
		}
		hb_str(b, "</tr>\n");
	}
	hb_str(b, "</tbody></table></div>\n");
	if (s->nkeys > 0)
		render_keys_reached(s, b, names, n, reached);
	free(reached);
	page_tail(s, b);
}

/* Writes the key ids that signed m, ", "-separated, into out. */
static void
signer_list(const struct bd_manifest *m, char *out, size_t cap)
{
	char kid[KEY_ID_HEX_BYTES];
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < m->nkeyids && i < MANIFEST_MAX_SIGNATURES; i++) {
		keyid_hex(m->keyids[i], kid);
		len += (size_t)snprintf(out + len, cap - len, "%s%s",
		    i ? ", " : "", kid);
		if (len >= cap)
			break;
	}
}

/* A fetch command with key (NULL: "-p PUBFILE"); id="fetch" on the first. */
static void
fetch_command(const struct http_server *s, struct hbuf *b,
    const char *channel, const struct bd_pubkey *key, bool first)
{
	char b64[PUBKEY_B64_BYTES];

	hb_str(b, first ? "<pre class=\"cmd\"><code id=\"fetch\">" :
	    "<pre class=\"cmd\"><code>");
	hb_str(b, "<span>bootdrop-fetch</span> ");
	if (key != NULL) {
		pubkey_to_base64(key, b64);
		hb_str(b, "<span class=\"key\">-P ");
		hb_esc(b, b64);
	} else {
		hb_str(b, "<span class=\"key\">-p PUBFILE");
	}
	hb_str(b, "</span> <span>-c ");
	hb_esc(b, channel);
	hb_str(b, "</span> <span>-d /mnt/boot</span> <span class=\"url\">");
	hb_esc(b, s->base_url);
	hb_str(b, "</span></code></pre>\n");
}

/* Writes the shown keys' ids, ", "-separated, into out. */
static void
shown_list(const struct http_server *s, char *out, size_t cap)
{
	char kid[KEY_ID_HEX_BYTES];
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < s->nkeys; i++) {
		keyid_hex(s->keys[i].id, kid);
		len += (size_t)snprintf(out + len, cap - len, "%s%s",
		    i ? ", " : "", kid);
		if (len >= cap)
			break;
	}
}

/*
 * The install command: with the first shown key that reaches m (reach[],
 * as index_channel_reach() judged it), or none and why.
 */
static void
render_fetch_command(const struct http_server *s, struct hbuf *b,
    const char *channel, const struct bd_manifest *m,
    const struct index_reach *reach)
{
	char signers[HTML_SIGNERS_BYTES], given[HTTP_MAX_KEYS * 18 + 1];
	size_t i, first = s->nkeys;

	hb_str(b, "<h2>Install it</h2>\n");
	for (i = 0; i < s->nkeys && first == s->nkeys; i++)
		if (reach[i].rc == BD_OK)
			first = i;
	if (s->nkeys > 0 && first == s->nkeys) {
		signer_list(m, signers, sizeof(signers));
		shown_list(s, given, sizeof(given));
		hb_str(b, s->nkeys == 1 ? "<p class=\"bad\" id=\"keymismatch\">"
		    "This server was given the public key <code>" :
		    "<p class=\"bad\" id=\"keymismatch\">This server was given "
		    "the public keys <code>");
		hb_esc(b, given);
		hb_str(b, "</code>, but this version is signed by <code>");
		hb_esc(b, signers);
		hb_str(b, s->nkeys == 1 ? "</code>. bootdrop-fetch would refuse "
		    "it with that key, so no command is shown: get the "
		    "publisher's key (key id " : "</code>. bootdrop-fetch would "
		    "refuse it with each of those keys, so no command is shown: "
		    "get the publisher's key (key id ");
		hb_esc(b, signers);
		hb_str(b, ") by a trusted channel, or restart the server with "
		    "it (-P or -p).</p>\n<ul class=\"note\">\n");
		for (i = 0; i < s->nkeys; i++) {
			hb_str(b, "<li>with key ");
			key_code(s, b, i);
			hb_str(b, ": ");
			hb_esc(b, bd_strerror(reach[i].rc));
			hb_str(b, ": ");
			hb_esc(b, reach[i].detail);
			hb_str(b, "</li>\n");
		}
		hb_str(b, "</ul>\n");
		return;
	}
	hb_str(b, "<p>In the guest's rescue system, with the boot slice mounted "
	    "on /mnt/boot:</p>\n");
	fetch_command(s, b, channel, s->nkeys > 0 ? &s->keys[first] : NULL,
	    true);
	if (s->nkeys == 0) {
		hb_str(b, "<p class=\"note\">PUBFILE is the publisher's public "
		    "key file, obtained from the publisher by a trusted "
		    "channel (bootdrop-server -P shows it here).</p>\n");
		return;
	}
	if (reach[first].steps > 0) {
		hb_str(b, "<p class=\"note\" id=\"walk\">Key ");
		key_code(s, b, first);
		hb_printf(b, " did not sign this version: a guest holding it "
		    "reaches version %" PRIu64 " by following the chain from "
		    "version 1 (%zu version%s, each signed by the keys of the "
		    "one before), as bootdrop-fetch does.</p>\n",
		    reach[first].version, reach[first].steps,
		    reach[first].steps == 1 ? "" : "s");
	}
	for (i = first + 1; i < s->nkeys; i++) {
		if (reach[i].rc != BD_OK)
			continue;
		hb_str(b, "<p>Or with key ");
		key_code(s, b, i);
		hb_str(b, ":</p>\n");
		fetch_command(s, b, channel, &s->keys[i], false);
	}
}

static void
render_artifact(struct hbuf *b, const struct bd_artifact *a)
{
	char size[SIZE_TEXT_BYTES], path[LAYOUT_PATH_BYTES];

	size_format(a->size, true, size);
	layout_blob_path(a->sha256_hex, path);
	hb_str(b, "<div class=\"card\"><dl><dt>name</dt><dd><a href=\"/");
	hb_esc(b, path);
	hb_str(b, "\">");
	hb_esc(b, a->name);
	hb_str(b, "</a></dd><dt>kind</dt><dd>");
	hb_esc(b, a->kind);
	hb_str(b, "</dd><dt>size</dt><dd>");
	hb_esc(b, size);
	hb_str(b, "</dd><dt>sha256</dt><dd><code class=\"hash\">");
	hb_esc(b, a->sha256_hex);
	hb_str(b, "</code></dd><dt>install</dt><dd><code>");
	hb_esc(b, a->install);
	hb_str(b, "</code></dd>");
	if (a->has_elf) {
		hb_printf(b, "<dt>ELF</dt><dd>%u-bit ", a->elf.class);
		hb_esc(b, a->elf.machine ? a->elf.machine : "unknown");
		hb_str(b, a->elf.xen ? ", Xen PV guest" : ", no Xen PV notes");
		hb_str(b, "</dd>");
	}
	if (a->has_image) {
		char facts[160];

		image_describe(&a->image, facts, sizeof(facts));
		hb_str(b, "<dt>image</dt><dd>");
		hb_esc(b, facts);
		hb_str(b, "</dd>");
	}
	hb_str(b, "</dl></div>\n");
}

/* The channel's current trust: "<dt>keys</dt><dd>2 of A, B, C" (no </dd>). */
static void
render_keys(struct hbuf *b, const struct bd_manifest *m)
{
	char kid[KEY_ID_HEX_BYTES];
	size_t i;

	hb_printf(b, "</dd><dt>keys (sign the next version)</dt><dd>%u of ",
	    m->keys.threshold);
	for (i = 0; i < m->keys.nkeys; i++) {
		keyid_hex(m->keys.keys[i].id, kid);
		hb_str(b, i ? ", <code>" : "<code>");
		hb_esc(b, kid);
		hb_str(b, "</code>");
	}
}

/* Format 3's boot data: the loaders, title and command line (escaped). */
static void
render_boot(struct hbuf *b, const struct bd_manifest *m)
{
	unsigned bit;
	bool any = false;

	hb_str(b, "<dt>boot</dt><dd>");
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1)
		if ((m->loaders & bit) != 0) {
			hb_str(b, any ? ", " : "");
			hb_esc(b, boot_loader_name(bit));
			any = true;
		}
	hb_str(b, any ? "" : "no configuration");
	if (m->boot_title != NULL) {
		hb_str(b, "</dd><dt>title</dt><dd>");
		hb_esc(b, m->boot_title);
	}
	if (m->boot_cmdline != NULL) {
		hb_str(b, "</dd><dt>command line</dt><dd><code>");
		hb_esc(b, m->boot_cmdline);
		hb_str(b, "</code>");
	}
	hb_str(b, "</dd>");
}

static void
render_channel(const struct http_server *s, struct hbuf *b,
    const char *channel, const struct bd_manifest *m,
    const struct index_reach *reach, const uint64_t *versions,
    size_t nversions)
{
	char kid[KEY_ID_HEX_BYTES], file[LAYOUT_FILE_BYTES];
	time_t now = time(NULL);
	size_t i, shown;

	page_head(b, channel);
	hb_str(b, "<h1>");
	hb_esc(b, channel);
	hb_str(b, "</h1>\n<dl><dt>newest version</dt><dd>");
	hb_printf(b, "%" PRIu64, m->version);
	hb_str(b, " (<a href=\"" LAYOUT_MANIFEST_FILE "\">" LAYOUT_MANIFEST_FILE
	    "</a>)</dd><dt>created</dt><dd>");
	time_cell(b, m->created, false, now);
	hb_str(b, "</dd><dt>expires</dt><dd>");
	time_cell(b, m->expires, true, now);
	hb_str(b, "</dd><dt>signed by key</dt><dd>");
	for (i = 0; i < m->nkeyids && i < MANIFEST_MAX_SIGNATURES; i++) {
		keyid_hex(m->keyids[i], kid);
		hb_str(b, i ? ", <code>" : "<code>");
		hb_esc(b, kid);
		hb_str(b, "</code>");
	}
	render_keys(b, m);
	hb_str(b, "</dd><dt>trusted comment</dt><dd><code>");
	hb_esc(b, m->trusted_comment ? m->trusted_comment : "");
	hb_str(b, "</code></dd>");
	if (m->has_boot && m->format == 2) {
		hb_str(b, "<dt>boot</dt><dd>");
		hb_esc(b, m->boot_loader);
		hb_str(b, " ");
		hb_esc(b, m->boot_arch);
		hb_str(b, "</dd>");
	}
	if (m->has_boot && m->format != 2)
		render_boot(b, m);
	hb_str(b, "</dl>\n");

	render_fetch_command(s, b, channel, m, reach);

	hb_str(b, "<h2>Artifacts</h2>\n");
	for (i = 0; i < m->nartifacts; i++)
		render_artifact(b, &m->artifacts[i]);
	if (m->menu_lst != NULL) {
		hb_str(b, "<h2>boot/grub/menu.lst</h2>\n<pre>");
		hb_esc(b, m->menu_lst);
		hb_str(b, "</pre>\n");
	}

	hb_str(b, "<h2>Versions</h2>\n<ul>\n");
	shown = 0;
	for (i = nversions; i > 0 && shown < HTML_MAX_VERSIONS_SHOWN; i--, shown++) {
		layout_version_file(versions[i - 1], file);
		hb_printf(b, "<li><a href=\"%s\">version %" PRIu64 "</a></li>\n",
		    file, versions[i - 1]);
	}
	hb_str(b, "</ul>\n");
	if (nversions > shown)
		hb_printf(b, "<p class=\"note\">%zu older versions not listed.</p>\n",
		    nversions - shown);
	page_tail(s, b);
}

enum bd_err
html_render(const struct http_server *s, const char *channel, char **page,
    size_t *len)
{
	struct hbuf b = { .failed = false };
	struct index_reach reach[HTTP_MAX_KEYS];
	struct bd_manifest *m = NULL;
	char **names = NULL;
	uint64_t *versions = NULL;
	size_t nnames = 0, nversions = 0;
	enum bd_err rc;

	*page = NULL;
	*len = 0;
	dynbuf_init(&b.d, HTML_PAGE_MAX_BYTES, HTML_PAGE_FIRST_BYTES);
	if (channel == NULL) {
		/* A repository nothing was published to yet has no channels/. */
		if (faccessat(s->repofd, LAYOUT_CHANNELS_DIR, F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT)
			rc = BD_OK;
		else if ((rc = repo_list_channels(s->repofd, &names, &nnames)) != BD_OK)
			goto out;
		render_index(s, &b, names, nnames);
	} else {
		rc = index_manifest_load(s->repofd, channel, LAYOUT_MANIFEST_FILE, &m);
		if (rc == BD_ERR_IO) {
			rc = bd_fail(BD_ERR_PATH, "no channel %s", channel);
			goto out;
		}
		if (rc != BD_OK)
			goto out;
		rc = repo_list_versions(s->repofd, channel, &versions, &nversions);
		if (rc != BD_OK)
			goto out;
		index_channel_reach(s->index, s->repofd, channel, s->keys,
		    s->nkeys, reach);
		render_channel(s, &b, channel, m, reach, versions, nversions);
	}
	if (b.failed) {
		rc = bd_fail(BD_ERR_TOOBIG, "HTML page");
		goto out;
	}
	*page = (char *)dynbuf_take(&b.d, len);
out:
	dynbuf_free(&b.d);
	free(versions);
	if (names != NULL)
		repo_names_free(names, nnames);
	manifest_free(m);
	return rc;
}

size_t
html_check_keys(const struct http_server *s, html_key_warn_fn warn)
{
	char **names = NULL, signers[HTML_SIGNERS_BYTES];
	char given[HTTP_MAX_KEYS * 18 + 1];
	struct index_reach reach[HTTP_MAX_KEYS];
	struct bd_manifest *m;
	size_t n = 0, i, k, bad = 0;

	if (s->nkeys == 0 ||
	    faccessat(s->repofd, LAYOUT_CHANNELS_DIR, F_OK,
	    AT_SYMLINK_NOFOLLOW) != 0 ||
	    repo_list_channels(s->repofd, &names, &n) != BD_OK)
		return 0;
	shown_list(s, given, sizeof(given));
	for (i = 0; i < n; i++) {
		if (index_manifest_load(s->repofd, names[i], LAYOUT_MANIFEST_FILE,
		    &m) != BD_OK)
			continue;
		index_channel_reach(s->index, s->repofd, names[i], s->keys,
		    s->nkeys, reach);
		for (k = 0; k < s->nkeys && reach[k].rc != BD_OK; k++)
			;
		if (k == s->nkeys) {
			signer_list(m, signers, sizeof(signers));
			warn(names[i], m->version, given, s->nkeys, signers);
			bad++;
		}
		manifest_free(m);
	}
	repo_names_free(names, n);
	return bad;
}
