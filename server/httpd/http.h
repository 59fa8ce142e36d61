/*
 * http.h - the request side of bootdrop-server as libmicrohttpd sees it:
 * the state every request handler shares, the callbacks, the graceful
 * stop.  A request goes guard (guard.h) -> libmicrohttpd -> the handler,
 * which judges its head (reqhead.h) and answers it (serve.h).
 * request.c implements this header.
 */
#ifndef BOOTDROP_HTTP_H
#define BOOTDROP_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "manifest.h"
#include "sha256.h"

#define HTTP_SMALL_BLOB_MAX_BYTES	(64u << 10)	/* served from memory */
#define HTTP_MAX_KEYS			64	/* -P/-p keys shown */

struct accesslog;

/*
 * Called when a response about a blob ends: full is true for a complete
 * 200 body, otherwise bytes is the length of a completed 206 range.
 */
typedef void (*http_blob_served_fn)(void *arg, const char *hex, bool full,
    uint64_t bytes);

/* Everything a request handler may look at; shared by all threads. */
struct http_server {
	int repofd;			/* the repository directory */
	const char *base_url;		/* shown in the HTML index, ends in '/' */
	/*
	 * The keys shown in fetch commands (-P/-p, in order; nkeys 0: none).
	 * A channel's page shows a command with the first key that reaches
	 * its manifest.json (chain_verify.h).
	 */
	const struct bd_pubkey *keys;
	size_t nkeys;
	struct accesslog *log;		/* NULL: no access log */
	struct index_cache *index;	/* the "/" page's cache, or NULL */
	http_blob_served_fn blob_served;	/* quick mode, or NULL */
	void *blob_served_arg;
	/* the connection guard: a connection is idle between requests */
	void (*conn_state)(void *arg, struct MHD_Connection *conn, bool idle);
	void *conn_state_arg;

	/* graceful stop: requests between URI callback and completion */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned inflight;
	bool stopping;
};

/* Initializes the locks of s (the caller fills the other fields). */
void http_server_init(struct http_server *s);
void http_server_fini(struct http_server *s);

/* libmicrohttpd callbacks; cls is the struct http_server. */
void *http_request_begin(void *cls, const char *uri,
    struct MHD_Connection *conn);
enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **req_cls);
void http_request_done(void *cls, struct MHD_Connection *conn,
    void **req_cls, enum MHD_RequestTerminationCode toe);

/*
 * Waits until no request is in flight or timeout_ms passed; returns the
 * number still in flight.  Sets s->stopping so responses close their
 * connections.
 */
unsigned http_drain(struct http_server *s, unsigned timeout_ms);

#endif
