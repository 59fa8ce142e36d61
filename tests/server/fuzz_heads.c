/*
 * fuzz_heads.c - libFuzzer target for server/heads.c, the recv() through
 * which libmicrohttpd reads served connections.  The input is a byte
 * stream sent over a socketpair in chunks and read back in reads of
 * varying sizes (both chosen by a generator seeded from the first bytes),
 * the test acting as libmicrohttpd: it answers each request it received.
 *
 * Invariants: what recv() gives is a prefix of the stream; every head in
 * it passes http_head_check(); a refusal comes at most once, only when
 * every request before it was answered, and is followed by end of stream;
 * after the sender's end, reading ends within a bounded number of calls.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include "guard.h"
#include "heads.h"
#include "http.h"

#define HEAD_MAX	512
#define STREAM_MAX	8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	unsigned refusals;
	unsigned unanswered;	/* requests given, not yet answered */
} seen;

/* The guard's answer, as heads.c calls it: only counted here. */
void
guard_refuse_served(struct guard *g, int fd, const struct sockaddr *addr,
    socklen_t addrlen, unsigned status, const struct http_head *h)
{
	(void)g;
	(void)fd;
	(void)addr;
	(void)addrlen;
	(void)h;
	if (status != 400 && status != 431 && status != 501 && status != 505)
		abort();
	if (seen.unanswered != 0)
		abort();	/* answered before an earlier request */
	seen.refusals++;
}

static uint32_t
next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * libmicrohttpd's side: counts the requests complete in got[*parsed..n),
 * checking each, and answers them all.  Mirrors heads.c's rule for bodies.
 */
static void
answer_requests(int fd, const uint8_t *got, size_t n, size_t *parsed,
    uint64_t *body, bool *through)
{
	struct http_head h;
	unsigned status;

	while (*parsed < n && !*through) {
		if (*body > 0) {
			size_t m = *body < n - *parsed ? (size_t)*body :
			    n - *parsed;
			*body -= m;
			*parsed += m;
			continue;
		}
		status = http_head_check((const char *)got + *parsed,
		    n - *parsed, &h);
		if (status != 0)
			abort();	/* a refused head reached libmicrohttpd */
		if (h.len == 0)
			return;		/* the rest comes later */
		*parsed += h.len;
		if (!((h.method_len == 3 && memcmp(h.method, "GET", 3) == 0) ||
		    (h.method_len == 4 && memcmp(h.method, "HEAD", 4) == 0))) {
			if (h.chunked)
				*through = true;
			else
				*body = h.body_length;
		}
		seen.unanswered++;
	}
	while (seen.unanswered > 0) {
		seen.unanswered--;
		heads_request_done(fd);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t got[STREAM_MAX];
	struct sockaddr_in sin;
	uint64_t body = 0;
	bool through = false, ended = false, shut = false, level;
	bool last_full = false;
	size_t sent = 0, have = 0, parsed = 0;
	uint32_t x;
	unsigned calls;
	int sv[2];
	ssize_t n;

	if (size < 5 || size - 5 > STREAM_MAX)
		return 0;
	x = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
	    (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24 | 1u;
	level = (data[0] & 1) != 0;
	if (heads_init(NULL, HEAD_MAX, 1024, level) != BD_OK)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		heads_fini();
		return 0;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (!heads_open(sv[0], (struct sockaddr *)&sin, sizeof(sin)))
		abort();
	memset(&seen, 0, sizeof(seen));
	data += 5;
	size -= 5;

	for (calls = 0; !ended; calls++) {
		if (calls > 100000)
			abort();	/* reading never ended */
		if (sent < size) {
			size_t chunk = 1 + next(&x) % 700;

			if (chunk > size - sent)
				chunk = size - sent;
			n = send(sv[1], data + sent, chunk,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		} else if (!shut) {
			(void)shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		for (;;) {
			/*
			 * libmicrohttpd polling reads with an empty buffer
			 * (whole heads only); with epoll it may have part of
			 * a checked head and less room.
			 */
			size_t want = level ? HEAD_MAX + next(&x) % HEAD_MAX :
			    1 + next(&x) % (2 * HEAD_MAX);
			struct pollfd p = { .fd = sv[0], .events = POLLIN };
			bool readable = poll(&p, 1, 0) == 1;

			if (want > STREAM_MAX - have)
				want = STREAM_MAX - have;
			if (want == 0)
				abort();
			n = recv(sv[0], got + have, want, 0);
			/*
			 * libmicrohttpd asks again only when the socket is
			 * readable, or (epoll) after a read that filled its
			 * buffer: anything else it would never read.
			 */
			if (!readable && !(last_full && !level) && n != -1)
				abort();	/* bytes left behind: a stall */
			last_full = n > 0 && (size_t)n == want;
			if (n == 0) {
				ended = shut || seen.refusals > 0;
				if (seen.refusals == 0 && !shut)
					abort();	/* end of stream too early */
				break;
			}
			if (n < 0) {
				if (errno != EAGAIN)
					abort();
				break;
			}
			if ((size_t)n > want || memcmp(got + have,
			    data + have, (size_t)n) != 0)
				abort();	/* not the stream's next bytes */
			if (seen.refusals > 0)
				abort();	/* bytes after the refusal */
			have += (size_t)n;
			answer_requests(sv[0], got, have, &parsed, &body,
			    &through);
		}
	}
	if (seen.refusals > 1)
		abort();
	heads_close(sv[0]);
	close(sv[0]);
	close(sv[1]);
	heads_fini();
	return 0;
}
