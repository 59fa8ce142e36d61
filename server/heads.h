/*
 * heads.h - every request head libmicrohttpd reads is checked first.
 *
 * The connection guard checks a connection's first head on its raw bytes
 * before libmicrohttpd sees it (guard.h).  Later heads on a kept-alive
 * connection would be parsed by libmicrohttpd 0.9.75 itself, which cuts a
 * field value at a NUL, joins obs-fold lines, answers a bad Content-Length
 * with its header block twice and closes on a garbled request line without
 * a status.  So the server defines recv(): libmicrohttpd receives through
 * it, and on a served connection it hands libmicrohttpd only bytes of heads
 * that passed http_head_check() (and body bytes those heads announce).  A
 * partial head is held back until it is complete; a head that fails is
 * answered by the guard (status once, Connection: close, lingering close)
 * after every earlier request on the connection got its response, and
 * libmicrohttpd then reads the end of the stream.
 *
 * libmicrohttpd reads a connection only while it waits for a request, never
 * while it sends a response, so the answer never interleaves with one.
 * Every other caller of recv() (flags other than 0, or a descriptor that is
 * not a served connection) gets the system's recv unchanged.
 *
 * One table per process, indexed by descriptor: heads_init() once before
 * the daemon starts.  heads_open() and heads_close() come from
 * libmicrohttpd's connection notifications, heads_request_done() from its
 * request-completed callback, each on the thread serving that connection.
 */
#ifndef BOOTDROP_HEADS_H
#define BOOTDROP_HEADS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "err.h"

struct guard;

/*
 * Prepares the table for descriptors below max_fds (capped at 2^20);
 * refusals go through g; heads longer than head_max are refused with 431.
 * polled: libmicrohttpd polls its sockets (--thread-per-connection) rather
 * than waiting on epoll edges.
 */
enum bd_err heads_init(struct guard *g, size_t head_max, size_t max_fds,
    bool polled);

/* Frees the table; no connection may be open. */
void heads_fini(void);

/*
 * fd is now a connection libmicrohttpd serves, from addr.  Returns false
 * (out of memory, or fd beyond the table): the caller must end it.
 */
bool heads_open(int fd, const struct sockaddr *addr, socklen_t addrlen);

/* fd is being closed by libmicrohttpd. */
void heads_close(int fd);

/* A request on fd got its response (or was cut off). */
void heads_request_done(int fd);

#endif
