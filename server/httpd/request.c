/*
 * request.c - a request's life in libmicrohttpd for bootdrop-server (see
 * http.h): its record from the URI callback to the completion callback,
 * the framing rules on the head libmicrohttpd parsed, the access log
 * line, the in-flight count a graceful stop waits for.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "accesslog.h"
#include "http.h"
#include "reqhead.h"
#include "serve.h"

void
http_server_init(struct http_server *s)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->idle, &ca);
	pthread_condattr_destroy(&ca);
	s->inflight = 0;
	s->stopping = false;
}

void
http_server_fini(struct http_server *s)
{
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	serve_caches_free();
}

static void
copy_capped(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The numeric text of an IPv4 address, without printf. */
static void
ipv4_text(const struct sockaddr_in *sin, char *out)
{
	const uint8_t *a = (const uint8_t *)&sin->sin_addr;
	char *p = out;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

/* The header fields of a request, for reqhead_framing(): one past its cap. */
struct field_list {
	struct reqhead_field f[REQHEAD_MAX_FIELDS + 1];
	size_t n;
};

static enum MHD_Result
field_collect(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct field_list *l = cls;

	(void)kind;
	if (l->n == REQHEAD_MAX_FIELDS + 1)
		return MHD_NO;
	l->f[l->n].name = key;
	l->f[l->n].name_len = key_size;
	l->f[l->n].value = value != NULL ? value : "";
	l->f[l->n].value_len = value != NULL ? value_size : 0;
	l->n++;
	return MHD_YES;
}

/* The framing rules on the head libmicrohttpd parsed: 0 or a status. */
static unsigned
framing_status(struct MHD_Connection *conn, const char *target,
    const char *version)
{
	struct field_list l;

	l.n = 0;
	(void)MHD_get_connection_values_n(conn, MHD_HEADER_KIND, field_collect,
	    &l);
	return reqhead_framing(target, version, l.f, l.n);
}

void *
http_request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *s = cls;
	struct http_req *q;
	const union MHD_ConnectionInfo *ci;
	size_t ulen = strlen(uri);

	/* Not calloc: the struct is mostly string buffers, set here or in the handler. */
	if ((q = malloc(sizeof(*q))) == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &q->start);
	q->when = time(NULL);
	q->status = MHD_HTTP_BAD_REQUEST;	/* until the handler answers */
	q->body_bytes = 0;
	q->head = q->headers_done = q->blob = q->blob_full = false;
	q->versioned = false;
	q->method[0] = q->version[0] = q->referer[0] = q->user_agent[0] = '\0';
	copy_capped(q->target, sizeof(q->target), uri);
	q->target_cut = ulen >= sizeof(q->target);
	strcpy(q->client, "-");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		if (ci->client_addr->sa_family == AF_INET) {
			ipv4_text((const struct sockaddr_in *)(const void *)
			    ci->client_addr, q->client);
		} else if (getnameinfo(ci->client_addr,
		    sizeof(struct sockaddr_in6), q->client, sizeof(q->client),
		    NULL, 0, NI_NUMERICHOST) != 0) {
			strcpy(q->client, "-");
		}
	}
	__atomic_add_fetch(&s->inflight, 1, __ATOMIC_SEQ_CST);
	return q;
}

enum MHD_Result
http_handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct http_server *s = cls;
	struct http_req *q = *req_cls;
	unsigned status;

	(void)url;	/* already percent-decoded: routing uses the raw target */
	(void)upload_data;
	if (q == NULL)
		return MHD_NO;	/* out of memory in http_request_begin() */
	if (*upload_data_size != 0) {
		/* A request body means nothing here: discarded. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	copy_capped(q->method, sizeof(q->method), method);
	copy_capped(q->version, sizeof(q->version), version);
	copy_capped(q->referer, sizeof(q->referer), MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_REFERER));
	copy_capped(q->user_agent, sizeof(q->user_agent),
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_USER_AGENT));

	q->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	if (!q->headers_done && s->conn_state != NULL)
		s->conn_state(s->conn_state_arg, conn, false);
	if (!q->headers_done && (status = framing_status(conn, q->target,
	    version)) != 0)
		return serve_refusal(s, conn, q, status);
	if (!q->head && strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
		/* Answered at once; libmicrohttpd then closes the connection. */
		return serve_status(s, conn, q, MHD_HTTP_METHOD_NOT_ALLOWED);
	}
	if (!q->headers_done) {
		/*
		 * A response queued before the request is fully received
		 * forbids keep-alive in libmicrohttpd: answer on the next call.
		 */
		q->headers_done = true;
		return MHD_YES;
	}
	return serve_request(s, conn, q);
}

void
http_request_done(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *q = *req_cls;
	struct accesslog_entry e;
	struct timespec now;
	bool completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;

	if (s->conn_state != NULL)
		s->conn_state(s->conn_state_arg, conn, true);
	if (q == NULL)
		return;
	*req_cls = NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);

	if (completed && q->blob && !q->head && s->blob_served != NULL &&
	    (q->status == MHD_HTTP_OK || q->status == MHD_HTTP_PARTIAL_CONTENT))
		s->blob_served(s->blob_served_arg, q->hex, q->blob_full,
		    q->body_bytes);
	if (completed && q->versioned && q->status == MHD_HTTP_OK &&
	    s->version_served != NULL)
		s->version_served(s->blob_served_arg, q->channel,
		    q->manifest_version);

	memset(&e, 0, sizeof(e));
	e.when = q->when;
	e.client = q->client;
	e.method = q->method[0] ? q->method : NULL;
	e.uri = q->target;
	e.version = q->version[0] ? q->version : NULL;
	e.status = q->status;
	e.bytes = q->body_bytes;
	e.referer = q->referer[0] ? q->referer : NULL;
	e.user_agent = q->user_agent[0] ? q->user_agent : NULL;
	e.completed = completed;
	e.seconds = (double)(now.tv_sec - q->start.tv_sec) +
	    (double)(now.tv_nsec - q->start.tv_nsec) / 1e9;
	accesslog_write(s->log, &e);
	free(q);

	/*
	 * No lock per request: inflight and stopping are atomic (sequentially
	 * consistent, so either this sees stopping or http_drain sees the
	 * decrement); only a stop in progress is woken, under the lock.
	 */
	if (__atomic_sub_fetch(&s->inflight, 1, __ATOMIC_SEQ_CST) == 0 &&
	    __atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&s->lock);
		pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->lock);
	}
}

unsigned
http_drain(struct http_server *s, unsigned timeout_ms)
{
	struct timespec deadline;
	unsigned left;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->stopping, true, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST) > 0 &&
	    pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == 0)
		;
	left = __atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&s->lock);
	return left;
}
