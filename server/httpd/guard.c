/*
 * guard.c - the connection guard of bootdrop-server (see guard.h).
 *
 * One thread, one epoll set: the listening socket, an eventfd to stop,
 * and every connection whose first head is incomplete (edge-triggered:
 * the head is peeked, never consumed, so each arrival re-reads it from the
 * start; a head is at most head_max_bytes).  Incomplete heads sit in one
 * FIFO in accept order - which is deadline order - and in a FIFO per
 * address, so the timeout and both evictions are O(1).  Refused
 * connections linger (reading and dropping what the client still sends)
 * for LINGER_MS after the answer, so a client that sent more than its
 * head reads the status instead of a reset.
 *
 * The per-address table is shared with libmicrohttpd's threads, which
 * count connections past their head in guard_notify(); g->lock guards it.
 * libmicrohttpd calls the CLOSED notification before it closes the
 * socket, so a connection is never counted after its descriptor is gone.
 * A request marks its connection busy or idle with one atomic store (no
 * lock per request); the guard scans the served connections every
 * IDLE_SCAN_MS for kept-alive connections past the head deadline, and at
 * a full cap for the one idle longest.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "accesslog.h"
#include "guard.h"
#include "reqhead.h"

#define IP_BUCKETS		4096
#define LINGER_MS		1000
#define LINGER_MAX		1024	/* refused connections lingering at once */
#define EVENTS_PER_WAIT		256
#define ACCEPT_PAUSE_MS		100	/* after EMFILE with nothing to close */
#define IDLE_SCAN_MS		100	/* precision of the kept-alive deadline */

/* One client address: its incomplete heads and its served connections. */
struct gip {
	struct gip *next;		/* hash chain */
	sa_family_t family;
	uint8_t addr[16];
	unsigned pending, active;
	unsigned ending;		/* shut down by us, not yet closed */
	struct gconn *phead, *ptail;	/* its incomplete heads, oldest first */
};

enum gstate { G_HEAD, G_LINGER, G_DEAD };

struct gconn {
	int fd;
	enum gstate state;
	int64_t deadline_ms;
	struct gip *ip;			/* G_HEAD only */
	struct gconn *prev, *next;	/* the FIFO of its state */
	struct gconn *iprev, *inext;	/* its address's FIFO (G_HEAD) */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* A connection libmicrohttpd serves; idle while it has no complete head. */
struct gact {
	int fd;
	struct gip *ip;
	int64_t idle_since;		/* ms, 0 while busy; atomic */
	bool ending;			/* shut down, no longer counted */
	struct gact *prev, *next;
};

struct gconns {
	struct gact *head;
	int64_t next_scan_ms;		/* idle deadlines are checked this often */
};

struct gfifo {
	struct gconn *head, *tail;
	unsigned n;
};

struct guard {
	struct guard_opts o;
	struct accesslog *log;
	struct MHD_Daemon *d;
	int lfd, epfd, stopfd;
	int64_t accept_paused_until;	/* out of descriptors: 0 when accepting */
	pthread_t thread;
	bool running;
	char *buf;			/* head_max_bytes, the thread's */

	pthread_mutex_t lock;		/* ips, active, stats.busy */
	struct gip *ips[IP_BUCKETS];
	unsigned active;
	struct gconns conns;		/* every served connection */

	struct gfifo heads, lingers;	/* the thread's */
	struct gconn *dead;		/* closed during this batch of events */
	struct guard_stats stats;
};

/* Markers for the epoll set's two special descriptors. */
static char listen_mark, stop_mark;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fifo_push(struct gfifo *f, struct gconn *c)
{
	c->next = NULL;
	c->prev = f->tail;
	if (f->tail != NULL)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->n++;
}

static void
fifo_remove(struct gfifo *f, struct gconn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		f->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		f->tail = c->prev;
	c->prev = c->next = NULL;
	f->n--;
}

/*
 * Ends a served connection that has no request in progress: shutdown()
 * makes libmicrohttpd see EOF and close it.  The descriptor is still
 * libmicrohttpd's: its CLOSED notification (which takes g->lock) comes
 * before close().  Under g->lock.
 */
static void
idle_end(struct guard *g, struct gact *a)
{
	(void)shutdown(a->fd, SHUT_RDWR);
	a->ending = true;
	a->ip->active--;
	a->ip->ending++;
	g->active--;
}

/*
 * The oldest idle connection of ip, or of all when ip is NULL.  The list is
 * newest first, so among idle times equal to the millisecond the later
 * entry, the older connection, wins.  Under g->lock.
 */
static struct gact *
idle_oldest(struct guard *g, const struct gip *ip)
{
	struct gact *a, *best = NULL;
	int64_t since, best_since = 0;

	for (a = g->conns.head; a != NULL; a = a->next) {
		since = __atomic_load_n(&a->idle_since, __ATOMIC_RELAXED);
		if (since == 0 || a->ending || (ip != NULL && a->ip != ip))
			continue;
		if (best == NULL || since <= best_since) {
			best = a;
			best_since = since;
		}
	}
	return best;
}

/* The address bytes of ss (4 for IPv4, 16 for IPv6). */
static size_t
addr_key(const struct sockaddr *sa, const uint8_t **key)
{
	if (sa->sa_family == AF_INET6) {
		*key = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		return 16;
	}
	*key = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	return 4;
}

static size_t
ip_bucket(const uint8_t *key, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* The entry of sa's address, or NULL.  Under g->lock. */
static struct gip *
ip_find(struct guard *g, const struct sockaddr *sa)
{
	const uint8_t *key;
	size_t n = addr_key(sa, &key);
	struct gip *ip;

	for (ip = g->ips[ip_bucket(key, n)]; ip != NULL; ip = ip->next)
		if (ip->family == sa->sa_family && memcmp(ip->addr, key, n) == 0)
			return ip;
	return NULL;
}

/* The entry of sa's address, created when missing; NULL without memory.  Under g->lock. */
static struct gip *
ip_get(struct guard *g, const struct sockaddr *sa)
{
	const uint8_t *key;
	size_t n = addr_key(sa, &key), b = ip_bucket(key, n);
	struct gip *ip;

	if ((ip = ip_find(g, sa)) != NULL)
		return ip;
	if ((ip = calloc(1, sizeof(*ip))) == NULL)
		return NULL;
	ip->family = sa->sa_family;
	memcpy(ip->addr, key, n);
	ip->next = g->ips[b];
	g->ips[b] = ip;
	return ip;
}

/* Frees ip when nothing counts on it any more.  Under g->lock. */
static void
ip_put(struct guard *g, struct gip *ip)
{
	const uint8_t *key = ip->addr;
	struct gip **pp;

	if (ip->pending > 0 || ip->active > 0 || ip->ending > 0)
		return;
	for (pp = &g->ips[ip_bucket(key, ip->family == AF_INET6 ? 16 : 4)];
	    *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ip) {
			*pp = ip->next;
			free(ip);
			return;
		}
	}
}

/* Takes c out of the guard's lists (not out of epoll); under g->lock for G_HEAD. */
static void
conn_unlink(struct guard *g, struct gconn *c)
{
	if (c->state == G_HEAD) {
		fifo_remove(&g->heads, c);
		if (c->iprev != NULL)
			c->iprev->inext = c->inext;
		else
			c->ip->phead = c->inext;
		if (c->inext != NULL)
			c->inext->iprev = c->iprev;
		else
			c->ip->ptail = c->iprev;
		c->ip->pending--;
		ip_put(g, c->ip);
		c->ip = NULL;
	} else {
		fifo_remove(&g->lingers, c);
	}
}

/*
 * Closes c (its descriptor leaves the epoll set on close).  c itself is
 * freed after the current batch of events, which may still name it.
 */
static void
conn_close(struct guard *g, struct gconn *c)
{
	if (c->state == G_HEAD) {
		pthread_mutex_lock(&g->lock);
		conn_unlink(g, c);
		pthread_mutex_unlock(&g->lock);
	} else if (c->state == G_LINGER) {
		conn_unlink(g, c);
	}
	if (c->state != G_DEAD) {
		close(c->fd);
		c->fd = -1;
		c->state = G_DEAD;
		c->next = g->dead;
		g->dead = c;
	}
}

static void
free_dead(struct guard *g)
{
	struct gconn *c;

	while ((c = g->dead) != NULL) {
		g->dead = c->next;
		free(c);
	}
}

static void
client_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	const struct sockaddr *sa = (const struct sockaddr *)ss;
	const void *a = sa->sa_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;

	if (inet_ntop(sa->sa_family, a, out, (socklen_t)cap) == NULL)
		snprintf(out, cap, "-");
}

/* A copy of n bytes of s for the access log (NUL-terminated, cut to fit). */
static void
field_copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

/*
 * The access log's method, target and version of a refused head: its
 * first line cut at its first two spaces (n bytes at p; a line without a
 * space lands in version).  Only for the log: libmicrohttpd parses every
 * head that is served.
 */
static void
line_for_log(const char *p, size_t n, char *method, size_t mcap,
    char *target, size_t tcap, char *version, size_t vcap)
{
	const char *end, *sp;

	while (n > 0 && (*p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	if ((end = memchr(p, '\n', n)) == NULL)
		end = p + n;
	if (end > p && end[-1] == '\r')
		end--;
	method[0] = target[0] = version[0] = '\0';
	if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL) {
		field_copy(version, vcap, p, (size_t)(end - p));
		return;
	}
	field_copy(method, mcap, p, (size_t)(sp - p));
	p = sp + 1;
	if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL)
		sp = end;
	field_copy(target, tcap, p, (size_t)(sp - p));
	if (sp < end)
		field_copy(version, vcap, sp + 1, (size_t)(end - sp - 1));
}

/*
 * Answers on fd with status and Connection: close, ends the sending side
 * and logs the request.  head: the n bytes received of it (for the log).
 */
static void
send_refusal(struct guard *g, int fd, const struct sockaddr_storage *addr,
    unsigned status, const char *head, size_t n)
{
	char resp[512], body[96], date[64], client[INET6_ADDRSTRLEN];
	char method[16], target[ACCESSLOG_FIELD_MAX_BYTES + 1];
	char version[ACCESSLOG_FIELD_MAX_BYTES + 1];	/* all of a bad line */
	struct accesslog_entry e;
	struct tm tm;
	time_t now = time(NULL);
	bool is_head;
	int len, blen;

	line_for_log(head, n, method, sizeof(method), target, sizeof(target),
	    version, sizeof(version));
	is_head = strcmp(method, "HEAD") == 0;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	blen = snprintf(body, sizeof(body), "%u %s\n", status,
	    reqhead_reason(status));
	len = snprintf(resp, sizeof(resp), "HTTP/1.1 %u %s\r\n"
	    "Date: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\nCache-Control: no-cache\r\n"
	    "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n%s",
	    status, reqhead_reason(status), date, blen, is_head ? "" : body);
	if (len > 0 && (size_t)len < sizeof(resp))
		(void)!send(fd, resp, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)shutdown(fd, SHUT_WR);

	client_text(addr, client, sizeof(client));
	memset(&e, 0, sizeof(e));
	e.when = now;
	e.client = client;
	e.method = method[0] ? method : NULL;
	e.uri = target[0] ? target : NULL;
	e.version = version[0] ? version : NULL;
	e.status = status;
	e.bytes = is_head ? 0 : (uint64_t)blen;
	e.completed = true;
	accesslog_write(g->log, &e);
}

/* Puts c, in G_LINGER, on the lingering list of the guard's thread. */
static void
linger_push(struct guard *g, struct gconn *c)
{
	if (g->lingers.n >= LINGER_MAX)
		conn_close(g, g->lingers.head);
	fifo_push(&g->lingers, c);
}

/*
 * Answers c with status, logs the request, and moves c to the lingering
 * close.  The n bytes in g->buf are what arrived of its head; a complete
 * head (len > 0) is consumed first.
 */
static void
conn_refuse(struct guard *g, struct gconn *c, unsigned status, size_t n,
    size_t len)
{
	struct epoll_event ev;

	send_refusal(g, c->fd, &c->addr, status, g->buf, n);
	if (len > 0)
		(void)!recv(c->fd, g->buf, len, MSG_DONTWAIT);

	pthread_mutex_lock(&g->lock);
	conn_unlink(g, c);
	pthread_mutex_unlock(&g->lock);
	c->state = G_LINGER;
	c->deadline_ms = now_ms() + LINGER_MS;
	linger_push(g, c);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	(void)epoll_ctl(g->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Hands c, whose head is complete and sound, to libmicrohttpd. */
static void
conn_hand_over(struct guard *g, struct gconn *c, size_t n, size_t len)
{
	struct gip *ip = c->ip;
	struct gact *a;
	bool busy;

	pthread_mutex_lock(&g->lock);
	/* Kept-alive connections waiting for a next request give way. */
	if (g->o.max_per_ip != 0 && ip->active >= g->o.max_per_ip &&
	    (a = idle_oldest(g, ip)) != NULL) {
		g->stats.evicted++;
		idle_end(g, a);
	}
	if (g->active >= g->o.max_active && (a = idle_oldest(g, NULL)) != NULL) {
		g->stats.evicted++;
		idle_end(g, a);
	}
	busy = g->active >= g->o.max_active ||
	    (g->o.max_per_ip != 0 && ip->active >= g->o.max_per_ip);
	if (busy) {
		g->stats.busy++;
		pthread_mutex_unlock(&g->lock);
		conn_refuse(g, c, MHD_HTTP_SERVICE_UNAVAILABLE, n, len);
		return;
	}
	conn_unlink(g, c);
	pthread_mutex_unlock(&g->lock);
	(void)epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	g->stats.handed++;
	/* On failure libmicrohttpd closes the socket itself. */
	(void)MHD_add_connection(g->d, c->fd, (struct sockaddr *)&c->addr,
	    c->addrlen);
	c->fd = -1;
	c->state = G_DEAD;
	c->next = g->dead;
	g->dead = c;
}

/*
 * New data on an incomplete head: hand it over once it ends, refuse it
 * for a byte no parser may see or when it grew to its cap, or wait on.
 * The head is peeked, not read: libmicrohttpd reads and parses it.
 */
static void
conn_readable(struct guard *g, struct gconn *c)
{
	unsigned status;
	size_t len;
	ssize_t n;

	if (c->state == G_DEAD)
		return;
	if (c->state == G_LINGER) {
		while ((n = recv(c->fd, g->buf, g->o.head_max_bytes,
		    MSG_DONTWAIT)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(g, c);
		return;
	}
	n = recv(c->fd, g->buf, g->o.head_max_bytes, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(g, c);
		return;
	}
	if (n < 0)
		return;
	if ((status = reqhead_scan(g->buf, (size_t)n, &len)) != 0) {
		g->stats.refused++;
		conn_refuse(g, c, status, (size_t)n, len);
	} else if (len > 0) {
		conn_hand_over(g, c, (size_t)n, len);
	} else if ((size_t)n >= g->o.head_max_bytes) {
		g->stats.refused++;
		conn_refuse(g, c, reqhead_overlong(g->buf, (size_t)n),
		    (size_t)n, 0);
	}
}

/* Pushes out the oldest incomplete head of ip, or of all when ip is NULL. */
static void
evict_oldest(struct guard *g, struct gip *ip)
{
	struct gconn *c = ip != NULL ? ip->phead : g->heads.head;

	if (c == NULL)
		return;
	g->stats.evicted++;
	conn_close(g, c);
}

/*
 * Takes a new connection c (fd accepted from c->addr) into the incomplete
 * heads, pushing out the oldest one of its address, or of all, when a cap
 * is reached.  False when out of memory: the caller closes it.
 */
static bool
conn_admit(struct guard *g, struct gconn *c)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	struct epoll_event ev;
	struct gip *ip;
	bool over;

	/* Make room: the oldest incomplete head goes, never a served client. */
	/*
	 * Read under the lock: a served connection closing on another
	 * thread may free an address with nothing pending.  One with
	 * heads pending is kept alive by them (this thread's).
	 */
	pthread_mutex_lock(&g->lock);
	ip = ip_find(g, sa);
	over = ip != NULL && g->o.max_per_ip != 0 &&
	    ip->pending >= g->o.max_per_ip;
	pthread_mutex_unlock(&g->lock);
	if (over)
		evict_oldest(g, ip);
	if (g->heads.n >= g->o.max_pending)
		evict_oldest(g, NULL);

	pthread_mutex_lock(&g->lock);
	if ((ip = ip_get(g, sa)) == NULL) {
		pthread_mutex_unlock(&g->lock);
		return false;
	}
	c->ip = ip;
	c->iprev = ip->ptail;
	if (ip->ptail != NULL)
		ip->ptail->inext = c;
	else
		ip->phead = c;
	ip->ptail = c;
	ip->pending++;
	fifo_push(&g->heads, c);
	pthread_mutex_unlock(&g->lock);

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		conn_close(g, c);
	return true;
}

static void
accept_all(struct guard *g)
{
	struct gconn *c;
	int fd;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		fd = accept4(g->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    g->heads.n > 0) {
				evict_oldest(g, NULL);
				continue;
			}
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* level-triggered: pause instead of spinning */
				(void)epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->lfd, NULL);
				g->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
			}
			return;	/* EAGAIN, or a pause: next event */
		}
		g->stats.accepted++;
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = G_HEAD;
		c->deadline_ms = now_ms() + g->o.header_timeout_ms;
		memcpy(&c->addr, &ss, sizeof(ss));
		c->addrlen = sl;
		if (!conn_admit(g, c)) {
			close(fd);
			free(c);
		}
	}
}

/* Closes heads past their deadline and lingering connections past theirs. */
static int
expire(struct guard *g)
{
	int64_t now = now_ms(), next = now + 1000;

	while (g->heads.head != NULL && g->heads.head->deadline_ms <= now) {
		g->stats.timed_out++;
		conn_close(g, g->heads.head);
	}
	while (g->lingers.head != NULL && g->lingers.head->deadline_ms <= now)
		conn_close(g, g->lingers.head);
	/*
	 * A next request on a kept-alive connection has the same deadline.
	 * Requests only store a time (no lock per request), so the served
	 * connections are scanned here, at most every IDLE_SCAN_MS.
	 */
	if (now >= g->conns.next_scan_ms) {
		struct gact *a;
		int64_t since;

		g->conns.next_scan_ms = now + IDLE_SCAN_MS;
		pthread_mutex_lock(&g->lock);
		for (a = g->conns.head; a != NULL; a = a->next) {
			since = __atomic_load_n(&a->idle_since, __ATOMIC_RELAXED);
			if (since != 0 && !a->ending &&
			    since + g->o.header_timeout_ms <= now) {
				g->stats.timed_out++;
				idle_end(g, a);
			}
		}
		pthread_mutex_unlock(&g->lock);
	}
	if (g->conns.next_scan_ms < next)
		next = g->conns.next_scan_ms;
	if (g->accept_paused_until != 0) {
		if (g->accept_paused_until <= now) {
			struct epoll_event ev;

			memset(&ev, 0, sizeof(ev));
			ev.events = EPOLLIN;
			ev.data.ptr = &listen_mark;
			(void)epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->lfd, &ev);
			g->accept_paused_until = 0;
		} else if (g->accept_paused_until < next) {
			next = g->accept_paused_until;
		}
	}
	if (g->heads.head != NULL && g->heads.head->deadline_ms < next)
		next = g->heads.head->deadline_ms;
	if (g->lingers.head != NULL && g->lingers.head->deadline_ms < next)
		next = g->lingers.head->deadline_ms;
	return (int)(next - now);
}

static void *
guard_main(void *arg)
{
	struct guard *g = arg;
	struct epoll_event ev[EVENTS_PER_WAIT];
	int i, n, wait_ms = 1000;

	for (;;) {
		n = epoll_wait(g->epfd, ev, EVENTS_PER_WAIT, wait_ms);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &stop_mark)
				return NULL;
			if (ev[i].data.ptr == &listen_mark)
				accept_all(g);
			else
				conn_readable(g, ev[i].data.ptr);
		}
		wait_ms = expire(g);
		free_dead(g);
	}
}

struct guard *
guard_new(const struct guard_opts *o, struct accesslog *log)
{
	struct guard *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->o = *o;
	if (g->o.max_pending == 0)
		g->o.max_pending = 1;
	g->log = log;
	g->lfd = g->epfd = g->stopfd = -1;
	if ((g->buf = malloc(o->head_max_bytes)) == NULL) {
		free(g);
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

enum bd_err
guard_start(struct guard *g, int lfd, struct MHD_Daemon *d)
{
	struct epoll_event ev;
	int e;

	g->lfd = lfd;
	g->d = d;
	if ((g->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (g->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_mark;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, lfd, &ev) == -1)
		goto fail;
	ev.data.ptr = &stop_mark;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->stopfd, &ev) == -1)
		goto fail;
	if ((e = pthread_create(&g->thread, NULL, guard_main, g)) != 0) {
		errno = e;
		goto fail;
	}
	g->running = true;
	return BD_OK;
fail:
	return bd_fail(BD_ERR_IO, "connection guard: %s", strerror(errno));
}

void
guard_stop(struct guard *g, struct guard_stats *stats)
{
	uint64_t one = 1;

	if (g == NULL)
		return;
	if (g->running) {
		(void)!write(g->stopfd, &one, sizeof(one));
		pthread_join(g->thread, NULL);
		g->running = false;
	}
	while (g->heads.head != NULL)
		conn_close(g, g->heads.head);
	while (g->lingers.head != NULL)
		conn_close(g, g->lingers.head);
	free_dead(g);
	if (stats != NULL) {
		pthread_mutex_lock(&g->lock);
		*stats = g->stats;
		pthread_mutex_unlock(&g->lock);
	}
}

void
guard_free(struct guard *g)
{
	size_t i;
	struct gip *ip, *next;

	if (g == NULL)
		return;
	guard_stop(g, NULL);
	if (g->epfd != -1)
		close(g->epfd);
	if (g->stopfd != -1)
		close(g->stopfd);
	for (i = 0; i < IP_BUCKETS; i++)
		for (ip = g->ips[i]; ip != NULL; ip = next) {
			next = ip->next;
			free(ip);
		}
	pthread_mutex_destroy(&g->lock);
	free(g->buf);
	free(g);
}

void
guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct guard *g = cls;
	const union MHD_ConnectionInfo *ci, *fi;
	struct gact *a;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		fi = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL || ci->client_addr == NULL || fi == NULL ||
		    (a = calloc(1, sizeof(*a))) == NULL)
			return;
		a->fd = fi->connect_fd;
		pthread_mutex_lock(&g->lock);
		if ((a->ip = ip_get(g, ci->client_addr)) != NULL) {
			a->ip->active++;
			g->active++;
			a->next = g->conns.head;
			if (a->next != NULL)
				a->next->prev = a;
			g->conns.head = a;
		}
		pthread_mutex_unlock(&g->lock);
		if (a->ip == NULL) {
			(void)shutdown(a->fd, SHUT_RDWR);
			free(a);
			return;
		}
		*socket_context = a;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED &&
	    (a = *socket_context) != NULL) {
		pthread_mutex_lock(&g->lock);
		if (a->prev != NULL)
			a->prev->next = a->next;
		else
			g->conns.head = a->next;
		if (a->next != NULL)
			a->next->prev = a->prev;
		if (a->ending) {
			a->ip->ending--;
		} else {
			a->ip->active--;
			g->active--;
		}
		ip_put(g, a->ip);
		pthread_mutex_unlock(&g->lock);
		free(a);
		*socket_context = NULL;
	}
}

void
guard_conn_state(void *cls, struct MHD_Connection *conn, bool idle)
{
	const union MHD_ConnectionInfo *ci;
	struct gact *a;

	(void)cls;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (a = ci->socket_context) == NULL)
		return;
	__atomic_store_n(&a->idle_since, idle ? now_ms() : 0, __ATOMIC_RELAXED);
}
