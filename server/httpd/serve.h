/*
 * serve.h - between a request's life (request.c) and the answers to it
 * (serve.c): the record of one request and what may be answered.
 */
#ifndef BOOTDROP_SERVE_H
#define BOOTDROP_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>

#include "accesslog.h"
#include "http.h"
#include "sha256.h"

#define CLIENT_MAX_BYTES	64

/* One request, from the URI callback to the completion callback. */
struct http_req {
	struct timespec start;
	time_t when;
	char target[ACCESSLOG_FIELD_MAX_BYTES + 1];
	bool target_cut;		/* longer than target[] */
	char method[16];
	char version[16];
	char client[CLIENT_MAX_BYTES];
	char referer[ACCESSLOG_FIELD_MAX_BYTES + 1];
	char user_agent[ACCESSLOG_FIELD_MAX_BYTES + 1];
	unsigned status;
	uint64_t body_bytes;		/* body of the queued response */
	bool head;
	bool headers_done;		/* the handler was called once */
	bool blob;			/* a blob body (full or range) was queued */
	bool blob_full;
	char hex[SHA256_HEX_BYTES];
	bool versioned;			/* /channels/<channel>/<version>.json */
	char channel[CHANNEL_MAX_BYTES + 1];
	uint64_t manifest_version;
};

/*
 * Routes q->target (reqhead_route) and queues the answer: a page, a
 * manifest, a blob, a redirect or 404.  Returns libmicrohttpd's result.
 */
enum MHD_Result serve_request(struct http_server *s,
    struct MHD_Connection *conn, struct http_req *q);

/* Queues a short text answer with status (404, 405, 412, 500, 503...). */
enum MHD_Result serve_status(struct http_server *s,
    struct MHD_Connection *conn, struct http_req *q, unsigned status);

/*
 * Queues status for a head the framing rules refused, with Connection:
 * close: nothing after it is read.
 */
enum MHD_Result serve_refusal(struct http_server *s,
    struct MHD_Connection *conn, struct http_req *q, unsigned status);

/* Frees the caches of whole responses and manifests (at shutdown). */
void serve_caches_free(void);

#endif
