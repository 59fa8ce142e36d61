/*
 * heads.c - the recv() that libmicrohttpd reads served connections
 * through: only checked request heads reach it (see heads.h).
 *
 * Per connection: hold[] keeps bytes received but not yet given, the first
 * `ready` of them checked.  When nothing is held, bytes are received
 * straight into libmicrohttpd's buffer and checked there, so a request
 * that arrives whole costs one http_head_check() and no copy.
 *
 * libmicrohttpd treats a short read as "socket drained" and then waits for
 * the next epoll edge, so this recv() returns fewer bytes than asked only
 * when the socket was drained and nothing checked is left in hold[].  It
 * never blocks (the sockets of --thread-per-connection do): libmicrohttpd
 * calls it when poll() said readable, and takes EAGAIN as "wait again".
 */
#undef _FORTIFY_SOURCE	/* glibc's fortified recv() is an inline definition */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "guard.h"
#include "heads.h"
#include "http.h"

#define TABLE_MAX	((size_t)1 << 20)

struct hconn {
	char *hold;		/* head_max bytes, allocated when first needed */
	size_t held;		/* bytes in hold */
	size_t ready;		/* of them, checked and in order to be given */
	uint64_t body;		/* bytes of an announced body still to pass */
	bool through;		/* a chunked body: everything else passes */
	bool eof;		/* the peer ended its side */
	unsigned pending;	/* checked heads whose response is not done */
	unsigned refuse;	/* the status for the head after them, or 0 */
	bool refused;		/* answered: libmicrohttpd reads end of stream */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

static struct {
	struct guard *g;
	size_t head_max, n;
	bool level;		/* libmicrohttpd polls (thread per connection) */
	struct hconn **conns;	/* by descriptor; atomic loads and stores */
} heads;

enum bd_err
heads_init(struct guard *g, size_t head_max, size_t max_fds, bool polled)
{
	heads.g = g;
	heads.level = polled;
	heads.head_max = head_max;
	heads.n = max_fds < TABLE_MAX ? max_fds : TABLE_MAX;
	if ((heads.conns = calloc(heads.n, sizeof(*heads.conns))) == NULL)
		return bd_fail(BD_ERR_NOMEM, "out of memory");
	return BD_OK;
}

void
heads_fini(void)
{
	free(heads.conns);
	heads.conns = NULL;
	heads.n = 0;
}

static struct hconn *
conn_of(int fd)
{
	if (fd < 0 || (size_t)fd >= heads.n)
		return NULL;
	return __atomic_load_n(&heads.conns[fd], __ATOMIC_ACQUIRE);
}

bool
heads_open(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct hconn *c;

	if (fd < 0 || (size_t)fd >= heads.n ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return false;
	if (addrlen > sizeof(c->addr))
		addrlen = sizeof(c->addr);
	memcpy(&c->addr, addr, addrlen);
	c->addrlen = addrlen;
	__atomic_store_n(&heads.conns[fd], c, __ATOMIC_RELEASE);
	return true;
}

void
heads_close(int fd)
{
	struct hconn *c = conn_of(fd);

	if (c == NULL)
		return;
	__atomic_store_n(&heads.conns[fd], NULL, __ATOMIC_RELEASE);
	free(c->hold);
	free(c);
}

void
heads_request_done(int fd)
{
	struct hconn *c = conn_of(fd);

	if (c == NULL)
		return;
	if (c->pending > 0)
		c->pending--;
	/*
	 * The refused head waits for the earlier responses.  libmicrohttpd
	 * waits for an epoll edge before it reads again: shutting the
	 * receiving side gives it one (data still queued stays readable for
	 * the lingering close).
	 */
	if (c->pending == 0 && c->refuse != 0 && !c->refused)
		(void)shutdown(fd, SHUT_RD);
}

static bool
is_get_or_head(const struct http_head *h)
{
	return (h->method_len == 3 && memcmp(h->method, "GET", 3) == 0) ||
	    (h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0);
}

/*
 * Checks the n bytes at p, which follow everything checked before.
 * Returns how many of them may be given to libmicrohttpd: whole sound
 * heads and the bodies they announce.  Sets c->refuse when the next head
 * is refused.
 */
static size_t
scan(struct hconn *c, const char *p, size_t n)
{
	struct http_head h;
	unsigned status;
	size_t k = 0, m;

	while (k < n) {
		if (c->through)
			return n;
		if (c->body > 0) {
			m = c->body < n - k ? (size_t)c->body : n - k;
			c->body -= m;
			k += m;
			continue;
		}
		status = http_head_check(p + k, n - k, &h);
		if (status == 0 && h.len == 0) {
			if (n - k >= heads.head_max)
				c->refuse = MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
			return k;
		}
		if (status != 0) {
			c->refuse = status;
			return k;
		}
		c->pending++;
		k += h.len;
		/* libmicrohttpd answers other methods 405 and closes. */
		if (!is_get_or_head(&h)) {
			if (h.chunked)
				c->through = true;
			else
				c->body = h.body_length;
		}
	}
	return k;
}

/* Keeps n unchecked bytes (after c->held, which are all checked). */
static bool
stash(struct hconn *c, const char *p, size_t n)
{
	if (c->hold == NULL && (c->hold = malloc(heads.head_max)) == NULL)
		return false;
	if (n > heads.head_max - c->held)
		n = heads.head_max - c->held;	/* refused anyway */
	memcpy(c->hold + c->held, p, n);
	c->held += n;
	return true;
}

/* Moves up to cap checked bytes from hold to out; returns how many. */
static size_t
give(struct hconn *c, char *out, size_t cap)
{
	size_t m = c->ready < cap ? c->ready : cap;

	memcpy(out, c->hold, m);
	memmove(c->hold, c->hold + m, c->held - m);
	c->held -= m;
	c->ready -= m;
	return m;
}

/* Answers the refused head in hold; libmicrohttpd then reads EOF. */
static ssize_t
refuse_now(struct hconn *c, int fd)
{
	struct http_head h;

	memset(&h, 0, sizeof(h));
	if (c->held > 0)
		(void)http_head_check(c->hold, c->held, &h);	/* for the log */
	guard_refuse_served(heads.g, fd, (const struct sockaddr *)&c->addr,
	    c->addrlen, c->refuse, &h);
	c->refused = true;
	free(c->hold);
	c->hold = NULL;
	c->held = c->ready = 0;
	return 0;
}

/* recv() on a served connection: see the comment at the top. */
static ssize_t
conn_recv(struct hconn *c, int fd, char *buf, size_t len)
{
	size_t out = 0, k;
	bool drained = false;
	ssize_t n;

	if (c->refused)
		return 0;
	for (;;) {
		if (c->ready > 0)
			out += give(c, buf + out, len - out);
		if (out == len)
			return (ssize_t)out;
		if (c->refuse != 0) {
			if (out > 0) {
				/*
				 * With nothing left to answer first, no response
				 * will wake libmicrohttpd for the refusal: an
				 * edge now does (see heads_request_done()).
				 */
				if (c->pending == 0)
					(void)shutdown(fd, SHUT_RD);
				return (ssize_t)out;
			}
			if (c->pending == 0)
				return refuse_now(c, fd);
			errno = EAGAIN;
			return -1;
		}
		if (c->eof)
			return (ssize_t)out;
		if (drained) {
			if (out > 0)
				return (ssize_t)out;
			errno = EAGAIN;
			return -1;
		}
		if (c->held == 0) {
			/* Straight into libmicrohttpd's buffer. */
			n = recvfrom(fd, buf + out, len - out, MSG_DONTWAIT, NULL,
			    NULL);
			if (n <= 0)
				goto received_nothing;
			drained = (size_t)n < len - out;
			k = scan(c, buf + out, (size_t)n);
			if (k < (size_t)n && !stash(c, buf + out + k,
			    (size_t)n - k)) {
				errno = ENOMEM;
				return -1;
			}
			out += k;
		} else {
			/*
			 * After a partial head; hold has room for a whole one.
			 * With epoll (edge-triggered) read on: checked bytes
			 * that do not fit wait in hold, as a full buffer makes
			 * libmicrohttpd ask again.  With poll (level-triggered)
			 * it asks only when the socket is readable, so read
			 * no more than its buffer takes with the partial head:
			 * nothing checked then waits in hold.
			 */
			size_t room = heads.head_max - c->held;

			if (heads.level) {
				if (out > 0)
					return (ssize_t)out;
				if (len <= c->held) {
					c->refuse =
					    MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
					continue;
				}
				if (len - c->held < room)
					room = len - c->held;
			}
			n = recvfrom(fd, c->hold + c->held, room, MSG_DONTWAIT,
			    NULL, NULL);
			if (n <= 0)
				goto received_nothing;
			drained = (size_t)n < room;
			c->held += (size_t)n;
			c->ready = scan(c, c->hold, c->held);
		}
		continue;
received_nothing:
		if (n == 0) {
			c->eof = true;
			return (ssize_t)out;
		}
		return out > 0 ? (ssize_t)out : -1;
	}
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	struct hconn *c;

	if (flags != 0 || len == 0 || (c = conn_of(fd)) == NULL)
		return recvfrom(fd, buf, len, flags, NULL, NULL);
	return conn_recv(c, fd, buf, len);
}
