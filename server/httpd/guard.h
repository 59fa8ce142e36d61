/*
 * guard.h - the connection guard of bootdrop-server: it owns the listening
 * socket and holds every new connection until its first request head is
 * complete, then hands it to libmicrohttpd (MHD_add_connection).
 *
 * libmicrohttpd 0.9.75 has only an idle timeout that each byte resets and
 * one connection limit for clients that are still sending their head and
 * clients being served alike, so slow-header clients (slowloris) fill it.
 * The guard keeps the two apart:
 *
 *   - a head must be complete within header_timeout of the accept, or the
 *     connection is closed (whatever trickles in meanwhile);
 *   - heads being received are capped (max_pending, and max_per_ip per
 *     address): a new connection over either cap pushes out the oldest
 *     incomplete head (of its address, or of all), never a client that is
 *     being served;
 *   - connections past their head are libmicrohttpd's, capped by
 *     max_active and max_per_ip per address: over either, the oldest
 *     kept-alive connection waiting for its next request (of the address,
 *     or of all) is closed to make room, and failing that the client gets
 *     503 and the connection closes;
 *   - a next request on a kept-alive connection gets the same deadline,
 *     counted from the end of the previous response.
 *
 * The guard only looks for where a connection's first head ends, in one
 * pass that also refuses bytes no parser may be left to interpret
 * (reqhead_scan), and refuses a head that grows past head_max_bytes: 414
 * while its request line has not ended, else 431, as nginx answers.
 * libmicrohttpd reads and parses every head, the first included, and the
 * request handler applies the framing rules (reqhead.h).
 */
#ifndef BOOTDROP_GUARD_H
#define BOOTDROP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "err.h"

struct accesslog;

struct guard_opts {
	unsigned max_pending;		/* heads being received, all addresses */
	unsigned max_active;		/* connections past their head */
	unsigned max_per_ip;		/* both, per address; 0 = no cap */
	unsigned header_timeout_ms;	/* from accept to the end of the head */
	size_t head_max_bytes;		/* longer heads: 414 or 431 */
};

/* Counters since start, for the log at shutdown and for tests. */
struct guard_stats {
	unsigned long long accepted, handed, timed_out, evicted, refused,
	    busy;
};

struct guard;

/*
 * A new guard; nothing runs until guard_start().  log may be NULL.
 * Returns NULL when out of memory.  Free with guard_free().
 */
struct guard *guard_new(const struct guard_opts *o, struct accesslog *log);

/*
 * Starts the guard's thread on the listening socket lfd (non-blocking),
 * handing complete heads to d.  d must be started with
 * MHD_OPTION_NOTIFY_CONNECTION, guard_notify, g.
 */
enum bd_err guard_start(struct guard *g, int lfd, struct MHD_Daemon *d);

/* Stops accepting, closes every connection still in the guard, joins. */
void guard_stop(struct guard *g, struct guard_stats *stats);

void guard_free(struct guard *g);

/* libmicrohttpd's connection notification: counts connections past their head. */
void guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code);

/*
 * From the request handler: a served connection is idle (its response is
 * done and no next head is complete) or busy again.  Idle connections are
 * closed header_timeout after they went idle, and the oldest idle one
 * gives way when a new client would otherwise be answered 503.
 */
void guard_conn_state(void *cls, struct MHD_Connection *conn, bool idle);

#endif
