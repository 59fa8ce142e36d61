/*
 * reqhead.c - the request-head rules of bootdrop-server (see reqhead.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "layout.h"
#include "num.h"
#include "reqhead.h"

/* The end of the line starting at p (its LF), or NULL past end. */
static const char *
line_end(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

/*
 * A byte no head may hold, wherever it is: a control other than HTAB
 * (CR only before LF), or DEL.  libmicrohttpd would cut a field at a NUL
 * and let the rest through.
 */
static bool
bad_byte(const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;

	if (c == '\r')
		return p + 1 < end && p[1] != '\n';
	return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
}

unsigned
reqhead_scan(const char *buf, size_t len, size_t *head_len)
{
	const char *p = buf, *end = buf + len, *line;
	unsigned spaces = 0;

	*head_len = 0;
	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	for (line = p; p < end && *p != '\n'; p++) {
		if (bad_byte(p, end))
			return REQHEAD_BAD_REQUEST;
		spaces += *p == ' ';
	}
	if (p == end)
		return 0;
	/* method SP request-target SP HTTP-version, at the least */
	if (spaces < 2 || *line == ' ')
		return REQHEAD_BAD_REQUEST;
	for (line = ++p; p < end; p++) {
		if (*p == '\n') {
			if (p == line || (p == line + 1 && *line == '\r')) {
				*head_len = (size_t)(p + 1 - buf);
				return 0;
			}
			line = p + 1;
		} else if (bad_byte(p, end) ||
		    (p == line && (*p == ' ' || *p == '\t'))) {
			return REQHEAD_BAD_REQUEST;	/* obs-fold too */
		}
	}
	return 0;
}

unsigned
reqhead_overlong(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	return line_end(p, end) == NULL ? REQHEAD_URI_TOO_LONG :
	    REQHEAD_FIELDS_TOO_LARGE;
}

/* RFC 9110 token characters. */
static bool
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field values: visible ASCII, SP, HTAB and obs-text; no other control. */
static bool
field_value_ok(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static bool
field_name_ok(const char *name, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!is_tchar((unsigned char)name[i]))
			return false;
	return true;
}

static bool
name_is(const struct reqhead_field *f, const char *want)
{
	return f->name_len == strlen(want) &&
	    strncasecmp(f->name, want, f->name_len) == 0;
}

unsigned
reqhead_framing(const char *target, const char *version,
    const struct reqhead_field *f, size_t n)
{
	unsigned hosts = 0, lengths = 0, chunked = 0, codings = 0;
	uint64_t length;
	bool http11, bad = false;
	size_t i;

	if (target == NULL || target[0] == '\0')
		return REQHEAD_BAD_REQUEST;
	for (i = 0; target[i] != '\0'; i++)
		if ((unsigned char)target[i] <= 0x20 ||
		    (unsigned char)target[i] >= 0x7f)
			return REQHEAD_BAD_REQUEST;
	if (version == NULL || strlen(version) != 8 ||
	    strncmp(version, "HTTP/", 5) != 0 || version[6] != '.')
		return REQHEAD_BAD_REQUEST;
	if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
		return REQHEAD_VERSION_NOT_SUPPORTED;
	http11 = version[7] == '1';
	if (n > REQHEAD_MAX_FIELDS)
		return REQHEAD_FIELDS_TOO_LARGE;
	for (i = 0; i < n; i++) {
		if (!field_name_ok(f[i].name, f[i].name_len) ||
		    !field_value_ok(f[i].value, f[i].value_len))
			bad = true;
		if (name_is(&f[i], "Host")) {
			hosts++;
		} else if (name_is(&f[i], "Content-Length")) {
			/* Only an empty body: the value must be 0. */
			if (lengths++ > 0 || num_u64(f[i].value, f[i].value_len,
			    0, 0, &length) != BD_OK)
				bad = true;
		} else if (name_is(&f[i], "Transfer-Encoding")) {
			if (f[i].value_len == 7 &&
			    strncasecmp(f[i].value, "chunked", 7) == 0)
				chunked++;
			else
				codings++;
		}
	}
	if (bad || hosts > 1 || (http11 && hosts == 0) || lengths > 1 ||
	    (lengths > 0 && chunked + codings > 0) ||
	    (chunked > 0 && codings == 0))
		return REQHEAD_BAD_REQUEST;
	if (codings > 0)
		return REQHEAD_NOT_IMPLEMENTED;
	return 0;
}

/* The path of an absolute-form target, or target itself. */
static const char *
origin_form(const char *target)
{
	const char *p;

	if (strncasecmp(target, "http://", 7) == 0)
		p = target + 7;
	else if (strncasecmp(target, "https://", 8) == 0)
		p = target + 8;
	else
		return target;
	p += strcspn(p, "/?#");
	/* An empty path is "/" (RFC 9112 3.2.2). */
	return *p == '/' ? p : *p == '?' || *p == '\0' ? "/" : "";
}

enum reqhead_route_kind
reqhead_route(const char *target, struct reqhead_route *r)
{
	char path[REQHEAD_URI_MAX_BYTES + 1];
	struct layout_ref ref;
	size_t len;

	memset(r, 0, sizeof(*r));
	r->kind = ROUTE_NONE;
	target = origin_form(target);
	len = strcspn(target, "?");
	if (len > REQHEAD_URI_MAX_BYTES || target[0] != '/')
		return ROUTE_NONE;
	memcpy(path, target, len);
	path[len] = '\0';
	if (strcmp(path, "/") == 0)
		return r->kind = ROUTE_INDEX;
	switch (layout_parse(path + 1, &ref)) {
	case LAYOUT_CHANNEL:
		r->kind = ROUTE_CHANNEL;
		break;
	case LAYOUT_MANIFEST:
		r->kind = ROUTE_MANIFEST;
		break;
	case LAYOUT_VERSION:
		r->kind = ROUTE_VERSION;
		break;
	case LAYOUT_BLOB:
		r->kind = ROUTE_BLOB;
		break;
	case LAYOUT_CHANNEL_BARE:
		r->kind = ROUTE_CHANNEL_REDIRECT;
		break;
	case LAYOUT_NONE:
		return ROUTE_NONE;
	}
	memcpy(r->channel, ref.channel, sizeof(r->channel));
	memcpy(r->hex, ref.hex, sizeof(r->hex));
	r->version = ref.version;
	return r->kind;
}

int
reqhead_range(const char *value, uint64_t size, uint64_t *first,
    uint64_t *last)
{
	const char *spec, *dash, *end;
	uint64_t a, b;

	if (value == NULL || strncmp(value, "bytes=", 6) != 0)
		return 0;
	spec = value + 6;
	while (*spec == ' ' || *spec == '\t')
		spec++;
	end = spec + strlen(spec);
	while (end > spec && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (memchr(spec, ',', (size_t)(end - spec)) != NULL)
		return 0;	/* several ranges: the whole body, 200 */
	if ((dash = memchr(spec, '-', (size_t)(end - spec))) == NULL)
		return 0;
	if (dash == spec) {
		/* suffix range "-n": the last n bytes */
		if (num_u64(dash + 1, (size_t)(end - dash - 1), 0, UINT64_MAX,
		    &b) != BD_OK)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (num_u64(spec, (size_t)(dash - spec), 0, UINT64_MAX, &a) != BD_OK)
		return 0;
	if (dash + 1 == end) {
		b = UINT64_MAX;
	} else {
		if (num_u64(dash + 1, (size_t)(end - dash - 1), 0, UINT64_MAX,
		    &b) != BD_OK)
			return 0;
		if (b < a)
			return 0;	/* invalid: ignored, as RFC 9110 says */
	}
	if (a >= size)
		return -1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}

/*
 * True when the list value names etag or is "*"; weak: a W/ tag
 * matches too (If-None-Match), else it never does (If-Match).
 */
static bool
etag_in_list(const char *value, const char *etag, bool weak)
{
	const char *p = value, *tag;
	size_t elen = strlen(etag), n;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return false;
		if (*p == '*')
			return true;
		tag = p;
		if (strncmp(tag, "W/", 2) == 0)
			tag += 2;
		if (*tag != '"') {
			p += strcspn(p, ",");
			continue;
		}
		n = strcspn(tag + 1, "\"");
		if (tag[1 + n] != '"')
			return false;
		if ((weak || tag == p) && n + 2 == elen &&
		    memcmp(tag, etag, elen) == 0)
			return true;
		p = tag + n + 2;
	}
}

bool
reqhead_etag_listed(const char *value, const char *etag)
{
	return value != NULL && etag_in_list(value, etag, true);
}

bool
reqhead_precondition_fails(const char *if_match,
    const char *if_unmodified_since, const char *etag, time_t mtime)
{
	time_t t;

	if (if_match != NULL)
		return !etag_in_list(if_match, etag, false);
	return if_unmodified_since != NULL && mtime >= 0 &&
	    reqhead_date(if_unmodified_since, &t) && mtime > t;
}

bool
reqhead_date(const char *s, time_t *t)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char wday[4], mon[4], gmt[4];
	unsigned d, y, hh, mm, ss;
	const char *m;
	struct tm tm;
	int n = 0;

	/* "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes, fixed widths. */
	if (strlen(s) != 29 ||
	    sscanf(s, "%3[A-Za-z], %2u %3[A-Za-z] %4u %2u:%2u:%2u %3[A-Z]%n",
	    wday, &d, mon, &y, &hh, &mm, &ss, gmt, &n) != 8 || n != 29 ||
	    strcmp(gmt, "GMT") != 0 || strlen(wday) != 3 ||
	    strstr(days, wday) == NULL || (strstr(days, wday) - days) % 3 != 0)
		return false;
	if (strlen(mon) != 3 || (m = strstr(months, mon)) == NULL ||
	    (m - months) % 3 != 0 || d < 1 || d > 31 || y < 1970 ||
	    hh > 23 || mm > 59 || ss > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)hh;
	tm.tm_min = (int)mm;
	tm.tm_sec = (int)ss;
	*t = timegm(&tm);
	return *t != (time_t)-1;
}

const char *
reqhead_reason(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 412: return "Precondition Failed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}
