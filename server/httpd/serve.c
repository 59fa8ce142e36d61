/*
 * serve.c - answers a routed request of bootdrop-server (see serve.h):
 * file serving, Range, ETag and the conditional requests, the pages.
 *
 * Every file is opened relative to the repository directory with no
 * symlink anywhere on the way (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
 * or a component-by-component openat walk with O_NOFOLLOW where openat2
 * is missing), then fstat'ed: only regular files are served.  Blobs go out
 * through sendfile (libmicrohttpd's fd responses); manifests are small and
 * are served from memory with a strong ETag over their bytes, cached by
 * their file identity (fileid.h) - the publisher replaces manifest.json by
 * rename, so a new release is a new inode and is picked up by the next
 * request.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/openat2.h>
#endif

#include "accesslog.h"
#include "fileid.h"
#include "fsutil.h"
#include "html.h"
#include "http.h"
#include "index.h"
#include "layout.h"
#include "manifest.h"
#include "reqhead.h"
#include "serve.h"
#include "sha256.h"

#define ETAG_MAX_BYTES		(8 + SHA256_HEX_BYTES + 2)	/* "sha256:<hex>" */
#define MCACHE_SLOTS		64

/* A manifest file's bytes and ETag, keyed by what changes on replacement. */
struct mcache_slot {
	bool used;
	struct file_id id;
	char etag[ETAG_MAX_BYTES];
	uint8_t *buf;
};

static struct mcache_slot mcache[MCACHE_SLOTS];
static pthread_mutex_t mcache_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Complete 200 responses served from memory (small blobs, manifests),
 * keyed like mcache plus their Cache-Control: libmicrohttpd reference
 * counts a response, so one queued response serves every connection
 * without a copy, an allocation or a header list per request.  The file
 * is still opened and fstat'ed every time (a deleted or replaced file is
 * never served from here).  At most RCACHE_SLOTS * 64 KiB.
 */
#define RCACHE_SLOTS		64
struct rcache_slot {
	bool used;
	struct file_id id;
	const char *cache_control;
	struct MHD_Response *r;		/* the cache's reference */
};

static struct rcache_slot rcache[RCACHE_SLOTS];
static pthread_mutex_t rcache_lock = PTHREAD_MUTEX_INITIALIZER;

/* What send_entity() serves: an open file or bytes in memory. */
struct entity {
	int fd;				/* owned; -1 when buf is used */
	uint8_t *buf;			/* owned (malloc), or NULL */
	uint64_t size;
	const char *etag;
	const char *content_type;
	const char *cache_control;
	const struct file_id *id;	/* the file, for rcache; or NULL */
	time_t mtime;			/* If-Unmodified-Since; -1: none */
};

void
serve_caches_free(void)
{
	size_t i;

	pthread_mutex_lock(&mcache_lock);
	for (i = 0; i < MCACHE_SLOTS; i++) {
		free(mcache[i].buf);
		memset(&mcache[i], 0, sizeof(mcache[i]));
	}
	pthread_mutex_unlock(&mcache_lock);
	pthread_mutex_lock(&rcache_lock);
	for (i = 0; i < RCACHE_SLOTS; i++) {
		if (rcache[i].r != NULL)
			MHD_destroy_response(rcache[i].r);
		memset(&rcache[i], 0, sizeof(rcache[i]));
	}
	pthread_mutex_unlock(&rcache_lock);
}

/*
 * Opens rel below dirfd, read-only, with no symlink on the way and
 * without blocking on a FIFO.  Returns an fd or -1 with errno set.
 */
static int
open_beneath(int dirfd, const char *rel)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY;
	char comp[REQHEAD_URI_MAX_BYTES + 1];
	const char *p = rel, *slash;
	int fd = -1, next, save;
	size_t n;

#if defined(__linux__) && defined(SYS_openat2)
	{
		struct open_how how;

		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)flags;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return fd;
	}
#endif
	/* Portable walk: every directory component with O_NOFOLLOW. */
	fd = dirfd;
	while ((slash = strchr(p, '/')) != NULL) {
		n = (size_t)(slash - p);
		if (n == 0 || n >= sizeof(comp)) {
			errno = ENOENT;
			goto fail;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd != dirfd)
			close(fd);
		fd = next;
		if (fd == -1)
			return -1;
		p = slash + 1;
	}
	next = openat(fd, p, flags);
	save = errno;
	if (fd != dirfd)
		close(fd);
	errno = save;
	return next;
fail:
	save = errno;
	if (fd != dirfd && fd != -1)
		close(fd);
	errno = save;
	return -1;
}

/* The one place an errno from opening a repository file becomes a status. */
static unsigned
errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
	case ELOOP:	/* a symlink: not served */
	case EXDEV:	/* openat2 refused to leave the repository */
	case ENAMETOOLONG:
		return MHD_HTTP_NOT_FOUND;
	case EACCES:
	case EPERM:
		return MHD_HTTP_FORBIDDEN;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static void
add_header(struct MHD_Response *r, const char *name, const char *value)
{
	/* Fails only on bad characters or no memory; the response still goes out. */
	(void)MHD_add_response_header(r, name, value);
}

/* Queues r with status, records it for the log, and drops our reference. */
static enum MHD_Result
respond(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, unsigned status, struct MHD_Response *r,
    uint64_t body)
{
	enum MHD_Result ret;
	bool stopping;

	if (r == NULL)
		return MHD_NO;
	add_header(r, "X-Content-Type-Options", "nosniff");
	stopping = __atomic_load_n(&s->stopping, __ATOMIC_RELAXED);
	if (stopping)
		add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	q->status = status;
	q->body_bytes = q->head ? 0 : body;
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
respond_text(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, unsigned status, const char *text)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		add_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	return respond(s, conn, q, status, r, strlen(text));
}

/* 301 from /channels/<c> to its page, "<c>/" relative to the request. */
static enum MHD_Result
respond_redirect(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, const struct reqhead_route *rt)
{
	static const char text[] = "301 moved permanently\n";
	char location[CHANNEL_MAX_BYTES + 2];
	struct MHD_Response *r;

	snprintf(location, sizeof(location), "%s/", rt->channel);
	r = MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	add_header(r, MHD_HTTP_HEADER_LOCATION, location);
	add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=3600");
	return respond(s, conn, q, MHD_HTTP_MOVED_PERMANENTLY, r,
	    sizeof(text) - 1);
}

enum MHD_Result
serve_status(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, unsigned status)
{
	switch (status) {
	case MHD_HTTP_NOT_FOUND:
		return respond_text(s, conn, q, status, "404 not found\n");
	case MHD_HTTP_METHOD_NOT_ALLOWED:
		return respond_text(s, conn, q, status,
		    "405 method not allowed: GET and HEAD only\n");
	case MHD_HTTP_FORBIDDEN:
		return respond_text(s, conn, q, status, "403 forbidden\n");
	case MHD_HTTP_SERVICE_UNAVAILABLE:
		return respond_text(s, conn, q, status,
		    "503 service unavailable\n");
	case MHD_HTTP_PRECONDITION_FAILED:
		return respond_text(s, conn, q, status,
		    "412 precondition failed\n");
	default:
		return respond_text(s, conn, q, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "500 internal server error\n");
	}
}

/*
 * Answers status ("400 Bad Request" as text) and closes the connection:
 * nothing after this request is read.
 */
enum MHD_Result
serve_refusal(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, unsigned status)
{
	struct MHD_Response *r;
	char text[64];
	int n;

	n = snprintf(text, sizeof(text), "%u %s\n", status,
	    reqhead_reason(status));
	if (n < 0 || (size_t)n >= sizeof(text))
		return MHD_NO;
	r = MHD_create_response_from_buffer((size_t)n, text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	return respond(s, conn, q, status, r, (uint64_t)n);
}

static void
entity_release(struct entity *e)
{
	if (e->fd != -1)
		close(e->fd);
	e->fd = -1;
	free(e->buf);
	e->buf = NULL;
}

/* A response for bytes [first, first+len) of e; consumes e's fd or buffer. */
static struct MHD_Response *
entity_response(struct entity *e, uint64_t first, uint64_t len)
{
	struct MHD_Response *r = NULL;

	if (e->fd != -1 && len > 0) {
		r = MHD_create_response_from_fd_at_offset64(len, e->fd,
		    first);
		if (r != NULL)
			e->fd = -1;	/* libmicrohttpd closes it */
	} else if (e->buf != NULL && first == 0 && len == e->size) {
		r = MHD_create_response_from_buffer(len, e->buf,
		    MHD_RESPMEM_MUST_FREE);
		if (r != NULL)
			e->buf = NULL;
	} else {
		r = MHD_create_response_from_buffer(len,
		    e->buf != NULL ? e->buf + first : (uint8_t *)"",
		    MHD_RESPMEM_MUST_COPY);
	}
	entity_release(e);
	return r;
}

static void
entity_headers(struct MHD_Response *r, const struct entity *e)
{
	add_header(r, MHD_HTTP_HEADER_ETAG, e->etag);
	add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, e->cache_control);
	add_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
}

static bool
rcache_match(const struct rcache_slot *m, const struct file_id *id,
    const char *cache_control)
{
	return m->used && file_id_same(&m->id, id) &&
	    m->cache_control == cache_control;
}

/* True when a plain 200 of the whole entity may come from rcache. */
static bool
rcache_usable(struct http_server *s, struct MHD_Connection *conn)
{
	return !__atomic_load_n(&s->stopping, __ATOMIC_RELAXED) &&
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH) == NULL &&
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_RANGE) == NULL &&
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_MATCH) == NULL &&
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_UNMODIFIED_SINCE) == NULL;
}

/*
 * Queues the cached 200 for st when there is one (true, *ret set).  The
 * queueing happens under the lock: it takes the connection's reference
 * before a replacement can drop the cache's.
 */
static bool
rcache_queue(struct MHD_Connection *conn, struct http_req *q,
    const struct file_id *id, const char *cache_control, enum MHD_Result *ret)
{
	struct rcache_slot *m = &rcache[file_id_slot(id, RCACHE_SLOTS)];
	bool hit;

	pthread_mutex_lock(&rcache_lock);
	if ((hit = rcache_match(m, id, cache_control))) {
		q->status = MHD_HTTP_OK;
		q->body_bytes = q->head ? 0 : (uint64_t)id->size;
		*ret = MHD_queue_response(conn, MHD_HTTP_OK, m->r);
	}
	pthread_mutex_unlock(&rcache_lock);
	return hit;
}

/* Stores r (complete, with every header) for st and queues it; takes r. */
static enum MHD_Result
rcache_store_queue(struct MHD_Connection *conn, struct http_req *q,
    const struct file_id *id, const char *cache_control, struct MHD_Response *r)
{
	struct rcache_slot *m = &rcache[file_id_slot(id, RCACHE_SLOTS)];
	struct MHD_Response *old;
	enum MHD_Result ret;

	q->status = MHD_HTTP_OK;
	q->body_bytes = q->head ? 0 : (uint64_t)id->size;
	pthread_mutex_lock(&rcache_lock);
	old = m->r;
	m->used = true;
	m->id = *id;
	m->cache_control = cache_control;
	m->r = r;
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	pthread_mutex_unlock(&rcache_lock);
	if (old != NULL)
		MHD_destroy_response(old);	/* connections keep their own */
	return ret;
}

/*
 * Answers a GET/HEAD for e: 304 when If-None-Match lists its ETag, 206
 * for one satisfiable Range (unless If-Range names another ETag), 416
 * for an unsatisfiable one, else 200.  Consumes e.
 */
static enum MHD_Result
send_entity(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, struct entity *e)
{
	struct MHD_Response *r = NULL;
	const char *inm, *range, *ifrange;
	char crange[96];
	uint64_t first = 0, last = 0;
	int ranged = 0;
	bool cacheable;
	const struct file_id *id;
	const char *cache_control;

	if (reqhead_precondition_fails(MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH),
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_UNMODIFIED_SINCE), e->etag,
	    e->mtime)) {
		entity_release(e);
		return serve_status(s, conn, q, MHD_HTTP_PRECONDITION_FAILED);
	}
	inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm != NULL && reqhead_etag_listed(inm, e->etag)) {
		entity_release(e);
		r = MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		entity_headers(r, e);
		return respond(s, conn, q, MHD_HTTP_NOT_MODIFIED, r, 0);
	}

	range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_RANGE);
	ifrange = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_RANGE);
	/* If-Range with a date or another ETag: the whole (changed) body. */
	if (range != NULL && (ifrange == NULL || strcmp(ifrange, e->etag) == 0))
		ranged = reqhead_range(range, e->size, &first, &last);

	if (ranged < 0) {
		entity_release(e);
		r = MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		snprintf(crange, sizeof(crange), "bytes */%" PRIu64, e->size);
		add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
		entity_headers(r, e);
		return respond(s, conn, q, MHD_HTTP_RANGE_NOT_SATISFIABLE, r, 0);
	}
	if (ranged > 0) {
		r = entity_response(e, first, last - first + 1);
		if (r == NULL)
			return MHD_NO;
		snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64
		    "/%" PRIu64, first, last, e->size);
		add_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
		add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type);
		entity_headers(r, e);
		q->blob_full = false;
		return respond(s, conn, q, MHD_HTTP_PARTIAL_CONTENT, r,
		    last - first + 1);
	}
	cacheable = e->id != NULL && e->fd == -1 && e->buf != NULL &&
	    !__atomic_load_n(&s->stopping, __ATOMIC_RELAXED);
	id = e->id;
	cache_control = e->cache_control;
	r = entity_response(e, 0, e->size);
	if (r == NULL)
		return MHD_NO;
	add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type);
	entity_headers(r, e);
	q->blob_full = true;
	if (cacheable) {
		add_header(r, "X-Content-Type-Options", "nosniff");
		return rcache_store_queue(conn, q, id, cache_control, r);
	}
	return respond(s, conn, q, MHD_HTTP_OK, r, e->size);
}

/* Opens a regular file below the repository; status 0 on success. */
static unsigned
open_regular(struct http_server *s, const char *rel, int *fd,
    struct stat *st)
{
	unsigned status;
	int e;

	*fd = open_beneath(s->repofd, rel);
	if (*fd == -1) {
		e = errno;
		status = errno_status(e);
		/* A 404 is the client's business; these are the publisher's. */
		if (status != MHD_HTTP_NOT_FOUND)
			errlog_print(status, "%s: %s (answered %u)", rel,
			    strerror(e), status);
		return status;
	}
	if (fstat(*fd, st) == -1 || !S_ISREG(st->st_mode)) {
		close(*fd);
		*fd = -1;
		return MHD_HTTP_NOT_FOUND;
	}
	return 0;
}

/*
 * The first n bytes of the file open at fd (n small) in a new buffer of
 * n + 1 bytes, or NULL with errno ENOMEM, or EIO for a short file.
 */
static uint8_t *
read_small(int fd, size_t n)
{
	uint8_t *buf;
	size_t got;
	enum bd_err rc;
	int e;

	if ((buf = malloc(n + 1)) == NULL)
		return NULL;
	if ((rc = pread_full(fd, buf, n, 0, &got)) != BD_OK || got < n) {
		e = rc != BD_OK ? errno : EIO;
		free(buf);
		errno = e;
		return NULL;
	}
	return buf;
}

static enum MHD_Result
serve_blob(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, const struct reqhead_route *rt)
{
	char rel[LAYOUT_PATH_BYTES], etag[ETAG_MAX_BYTES];
	struct entity e = { .fd = -1 };
	struct file_id id;
	struct stat st;
	unsigned status;
	enum MHD_Result ret;

	layout_blob_path(rt->hex, rel);
	if ((status = open_regular(s, rel, &e.fd, &st)) != 0)
		return serve_status(s, conn, q, status);
	file_id_of(&st, &id);
	e.mtime = st.st_mtime;
	e.cache_control = "public, max-age=31536000, immutable";
	q->blob = true;
	memcpy(q->hex, rt->hex, sizeof(q->hex));
	if (st.st_size > 0 && st.st_size <= (off_t)HTTP_SMALL_BLOB_MAX_BYTES &&
	    rcache_usable(s, conn)) {
		e.id = &id;
		if (rcache_queue(conn, q, &id, e.cache_control, &ret)) {
			close(e.fd);
			q->blob_full = true;
			return ret;
		}
	}
	snprintf(etag, sizeof(etag), "\"sha256:%s\"", rt->hex);
	e.size = (uint64_t)st.st_size;
	/*
	 * A small blob goes out from memory with its header block in one
	 * write; sendfile would cost a separate write and, in libmicrohttpd
	 * 0.9.75, socket option calls around it, more than the copy costs at
	 * this size (tests/bench/server.sh, 4 KiB rows).
	 */
	if (e.size > 0 && e.size <= HTTP_SMALL_BLOB_MAX_BYTES &&
	    (e.buf = read_small(e.fd, (size_t)e.size)) != NULL) {
		close(e.fd);
		e.fd = -1;
	}
	e.etag = etag;
	e.content_type = "application/octet-stream";
	return send_entity(s, conn, q, &e);
}

/*
 * Returns in *buf a new copy of the manifest open at fd and its ETag, from
 * the cache when the file is the one cached.  Status 0 on success.
 */
static unsigned
manifest_bytes(int fd, const struct file_id *id, uint8_t **buf, char *etag)
{
	struct mcache_slot *m;
	uint8_t digest[SHA256_BYTES], *copy = NULL, *keep = NULL;
	char hex[SHA256_HEX_BYTES];
	size_t size = (size_t)id->size;
	unsigned status = 0;

	*buf = NULL;
	if (id->size > (off_t)MANIFEST_MAX_BYTES)
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	m = &mcache[file_id_slot(id, MCACHE_SLOTS)];

	pthread_mutex_lock(&mcache_lock);
	if (m->used && file_id_same(&m->id, id) &&
	    (copy = malloc(size + 1)) != NULL) {
		memcpy(copy, m->buf, size);
		memcpy(etag, m->etag, ETAG_MAX_BYTES);
	}
	pthread_mutex_unlock(&mcache_lock);
	if (copy != NULL)
		goto out;

	if ((copy = read_small(fd, size)) == NULL) {
		status = errno == ENOMEM ? MHD_HTTP_SERVICE_UNAVAILABLE :
		    MHD_HTTP_INTERNAL_SERVER_ERROR;
		goto out;
	}
	sha256_buf(copy, size, digest);
	sha256_hex(digest, hex);
	snprintf(etag, ETAG_MAX_BYTES, "\"sha256:%s\"", hex);

	if ((keep = malloc(size + 1)) != NULL) {
		memcpy(keep, copy, size);
		pthread_mutex_lock(&mcache_lock);
		free(m->buf);
		m->used = true;
		m->id = *id;
		memcpy(m->etag, etag, ETAG_MAX_BYTES);
		m->buf = keep;
		pthread_mutex_unlock(&mcache_lock);
	}
out:
	if (status != 0) {
		free(copy);
		copy = NULL;
	}
	*buf = copy;
	return status;
}

static enum MHD_Result
serve_manifest(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, const struct reqhead_route *rt)
{
	char rel[LAYOUT_PATH_BYTES], etag[ETAG_MAX_BYTES];
	struct entity e = { .fd = -1 };
	struct file_id id;
	struct stat st;
	unsigned status;
	enum MHD_Result ret;
	int fd;

	if (rt->kind == ROUTE_MANIFEST)
		layout_manifest_path(rt->channel, rel);
	else
		layout_version_path(rt->channel, rt->version, rel);
	if ((status = open_regular(s, rel, &fd, &st)) != 0)
		return serve_status(s, conn, q, status);
	file_id_of(&st, &id);
	e.mtime = st.st_mtime;
	/* A versioned manifest never changes; manifest.json moves on. */
	e.cache_control = rt->kind == ROUTE_MANIFEST ?
	    "public, max-age=60" : "public, max-age=31536000, immutable";
	if (rcache_usable(s, conn)) {
		e.id = &id;
		if (rcache_queue(conn, q, &id, e.cache_control, &ret)) {
			close(fd);
			return ret;
		}
	}
	status = manifest_bytes(fd, &id, &e.buf, etag);
	close(fd);
	if (status != 0) {
		errlog_print(status, "%s: cannot read the manifest (%jd bytes) "
		    "(answered %u)", rel, (intmax_t)st.st_size, status);
		return serve_status(s, conn, q, status);
	}
	e.size = (uint64_t)st.st_size;
	e.etag = etag;
	e.content_type = "application/json";
	return send_entity(s, conn, q, &e);
}

static enum MHD_Result
serve_html(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q, const struct reqhead_route *rt)
{
	struct MHD_Response *r;
	char *page = NULL;
	size_t len = 0;
	enum bd_err rc;

	if (rt->kind == ROUTE_INDEX)
		rc = index_page(s, &page, &len);
	else
		rc = html_render(s, rt->channel, &page, &len);
	if (rc == BD_ERR_PATH)
		return serve_status(s, conn, q, MHD_HTTP_NOT_FOUND);
	if (rc != BD_OK) {
		errlog_print(0, "%s: %s: %s (answered 500)", q->target,
		    bd_strerror(rc), bd_err_detail());
		return serve_status(s, conn, q, MHD_HTTP_INTERNAL_SERVER_ERROR);
	}
	r = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(page);
		return MHD_NO;
	}
	add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	add_header(r, "Content-Security-Policy", "default-src 'none'; "
	    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
	    "frame-ancestors 'none'");
	add_header(r, "Referrer-Policy", "no-referrer");
	return respond(s, conn, q, MHD_HTTP_OK, r, len);
}

enum MHD_Result
serve_request(struct http_server *s, struct MHD_Connection *conn,
    struct http_req *q)
{
	struct reqhead_route rt;

	if (q->target_cut)
		return serve_status(s, conn, q, MHD_HTTP_NOT_FOUND);
	switch (reqhead_route(q->target, &rt)) {
	case ROUTE_INDEX:
	case ROUTE_CHANNEL:
		return serve_html(s, conn, q, &rt);
	case ROUTE_CHANNEL_REDIRECT:
		return respond_redirect(s, conn, q, &rt);
	case ROUTE_MANIFEST:
	case ROUTE_VERSION:
		return serve_manifest(s, conn, q, &rt);
	case ROUTE_BLOB:
		return serve_blob(s, conn, q, &rt);
	case ROUTE_NONE:
	default:
		return serve_status(s, conn, q, MHD_HTTP_NOT_FOUND);
	}
}
