/*
 * server.c - bootdrop-server: serves a bootdrop repository over HTTP with
 * libmicrohttpd (see http.h for the URL grammar), or, with --quick,
 * publishes files into a temporary repository and serves that.
 *
 *   bootdrop-server -r REPO [-l ADDR:PORT] [options]
 *   bootdrop-server --quick -s SECFILE [-l ADDR:PORT] [-c CHANNEL] NAME=FILE...
 *
 * Exit status: 0 stopped by SIGTERM/SIGINT (or --exit-after reached);
 * 1 usage, configuration, unreadable repository or key; 2 the listening
 * address could not be bound or the server could not start.
 *
 * Threading: the daemon runs MHD_USE_INTERNAL_POLLING_THREAD|MHD_USE_EPOLL
 * (with MHD_USE_TURBO) and a pool of one thread per core
 * (MHD_OPTION_THREAD_POOL_SIZE).  Measured on the 2-core test machine
 * (AMD EPYC, Linux 6.18, libmicrohttpd 0.9.75), wrk -t2 -d3s, req/s:
 *
 *                        epoll pool    thread per connection
 *   4 KiB blob,  64 conn    37,800          33,100
 *   4 KiB blob, 256 conn    33,700          26,500
 *   manifest,    64 conn    48,500          35,700
 *   manifest,   256 conn    35,400          30,200
 *
 * The pool wins at every concurrency and holds no stack per idle (or
 * slowloris) connection; --thread-per-connection stays for measuring.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "accesslog.h"
#include "cli.h"
#include "guard.h"
#include "html.h"
#include "http.h"
#include "index.h"
#include "key.h"
#include "layout.h"
#include "manifest.h"
#include "num.h"
#include "quick.h"
#include "repo.h"
#include "timefmt.h"

#define PROG			"bootdrop-server"
#define PUBKEY_ENV		"BOOTDROP_PUBKEY"
#define DEFAULT_LISTEN		"0.0.0.0:8080"
#define DEFAULT_MAX_CONN	1024
#define DEFAULT_MAX_PER_IP	64
#define DEFAULT_TIMEOUT_S	15
#define DEFAULT_HEADER_TIMEOUT_S	10
#define DEFAULT_MAX_PENDING	4096
#define FDS_RESERVED		(64 + 1024)	/* files, logs, lingering closes */
#define DEFAULT_MAX_REQUEST	(16u << 10)
#define DEFAULT_SHUTDOWN_S	10
#define LISTEN_BACKLOG		1024
#define URL_MAX_BYTES		512
#define EXIT_USAGE		1
#define EXIT_BIND		2

enum {
	OPT_PUBLIC_URL = 256, OPT_ACCESS_LOG, OPT_LOG_FORMAT, OPT_MAX_CONN,
	OPT_MAX_PER_IP, OPT_TIMEOUT, OPT_MAX_REQUEST, OPT_THREADS,
	OPT_THREAD_PER_CONN, OPT_SHUTDOWN, OPT_QUICK, OPT_PASSFILE,
	OPT_EXIT_AFTER, OPT_EXPIRES, OPT_HEADER_TIMEOUT, OPT_MAX_PENDING,
	OPT_QUICK_REPO
};

struct options {
	const char *repo;
	const char *listen;
	const char *public_url;
	const char *keyargs[HTTP_MAX_KEYS];	/* -P KEY or -p FILE, in order */
	bool keyfile[HTTP_MAX_KEYS];
	size_t nkeyargs;
	const char *access_log;
	enum accesslog_format log_format;
	uint64_t max_conn, max_per_ip, timeout_s, max_request, threads;
	uint64_t header_timeout_s, max_pending;
	uint64_t shutdown_s;
	bool thread_per_conn;
	bool quick;
	struct quick_opts q;
	struct sockaddr_storage addr;	/* parsed from listen */
	socklen_t addrlen;
};

static void __attribute__((format(printf, 1, 2)))
warnx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: %s -r REPO [-l ADDR:PORT] [options]\n"
"       %s --quick -s SECFILE [-l ADDR:PORT] [-c CHANNEL] NAME=FILE...\n"
"\n"
"Serves a bootdrop repository over HTTP.\n"
"\n"
"  -r, --repo DIR             repository to serve (read-only)\n"
"  -l, --listen ADDR:PORT     address to listen on (default " DEFAULT_LISTEN ");\n"
"                             [ADDR]:PORT for IPv6, port 0 picks a free port\n"
"      --public-url URL       base URL shown in the HTML index and the fetch\n"
"                             command (default: from the listening address)\n"
"  -P, --pubkey BASE64        public key shown in fetch commands; repeat\n"
"                             for several (a key per customer)\n"
"  -p, --pubkey-file FILE     public key file (one or more keys) shown in\n"
"                             fetch commands; repeatable\n"
"                             (without either: $BOOTDROP_PUBKEY, if set:\n"
"                             keys or key files, separated by spaces)\n"
"      --access-log FILE      access log file (default: standard output)\n"
"      --log-format FMT       combined (default) or json\n"
"      --max-connections N    connections being served (default %d)\n"
"      --max-pending N        connections still sending their first request\n"
"                             head; over it the oldest is closed (default %d)\n"
"      --max-per-ip N         both of these per client address, 0 = no cap\n"
"                             (default %d)\n"
"      --header-timeout SECONDS  time from connect to the end of the first\n"
"                             request head (default %d)\n"
"      --timeout SECONDS      idle connection timeout (default %d)\n"
"      --max-request-bytes N  memory per connection; caps request headers\n"
"                             (default %u)\n"
"      --threads N            worker threads (default: one per core)\n"
"      --thread-per-connection  one thread per connection instead of a pool\n"
"      --shutdown-timeout SECONDS  how long SIGTERM waits for responses in\n"
"                             flight (default %d)\n"
"\n"
"Quick mode: publish files as the next version of a channel in the quick\n"
"repository (kept between runs) and serve it.\n"
"      --quick                quick mode; NAME=FILE arguments name the\n"
"                             artifacts (kernel=FILE world=FILE)\n"
"      --quick-repo DIR       the quick repository (default\n"
"                             $XDG_STATE_HOME/bootdrop/quick, else\n"
"                             ~/.local/state/bootdrop/quick)\n"
"  -s, --seckey FILE          secret key that signs the manifest\n"
"      --passphrase-file FILE read the key's passphrase from FILE\n"
"  -c, --channel NAME         channel (default " QUICK_DEFAULT_CHANNEL ")\n"
"      --expires DURATION     manifest lifetime, e.g. 12h, 7d (default 24h)\n"
"      --exit-after N         exit once every artifact was served N times\n"
"\n"
"  -h, --help                 this help\n"
"  -V, --version              print the version\n"
"\n"
"Exit status: 0 stopped by a signal or --exit-after; 1 usage, configuration\n"
"or unreadable repository/key; 2 cannot listen on the address.\n",
	    PROG, PROG, DEFAULT_MAX_CONN, DEFAULT_MAX_PENDING, DEFAULT_MAX_PER_IP,
	    DEFAULT_HEADER_TIMEOUT_S, DEFAULT_TIMEOUT_S,
	    DEFAULT_MAX_REQUEST, DEFAULT_SHUTDOWN_S);
}

/* Checked decimal in [min, max]. */
static bool
parse_number(const char *opt, const char *s, uint64_t min, uint64_t max,
    uint64_t *out)
{
	if (num_u64_str(s, min, max, out) == BD_OK)
		return true;
	warnx("%s: want a number from %" PRIu64 " to %" PRIu64 ", not '%s'",
	    opt, min, max, s);
	return false;
}

static bool
public_url_valid(const char *u)
{
	size_t i, n = strlen(u);

	if (n == 0 || n >= URL_MAX_BYTES - 1)
		return false;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return false;
	return true;
}

/* Parses ADDR:PORT or [ADDR]:PORT (numeric or a name) into ss. */
static bool
parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints, *res = NULL;
	size_t hlen;
	uint64_t pnum;
	bool ok = false;

	if (spec[0] == '[') {
		colon = strstr(spec, "]:");
		if (colon == NULL)
			goto out;
		hlen = (size_t)(colon - spec - 1);
		memcpy(host, spec + 1, hlen < sizeof(host) ? hlen : 0);
		port = colon + 2;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			goto out;
		hlen = (size_t)(colon - spec);
		memcpy(host, spec, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto out;
	host[hlen] = '\0';
	if (!parse_number("-l port", port, 0, 65535, &pnum))
		goto out;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		goto out;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	ok = true;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return ok;
}

static bool
is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* "http://ADDR:PORT/" for a socket address; IPv6 in brackets. */
static void
format_url(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(out, cap, "http://[%s]:%u/", host, port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(out, cap, "http://%s:%u/", host, port);
	}
}

/*
 * The URL a guest should use when we listen on a wildcard address: the
 * first non-loopback IPv4 address of this host, else loopback.
 */
static void
reachable_url(const struct sockaddr_storage *bound, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	struct ifaddrs *ifa = NULL, *i;
	unsigned port = ntohs(bound->ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)bound)->sin6_port :
	    ((const struct sockaddr_in *)bound)->sin_port);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			const struct sockaddr_in *a =
			    (const struct sockaddr_in *)i->ifa_addr;
			if (a == NULL || a->sin_family != AF_INET ||
			    (ntohl(a->sin_addr.s_addr) >> 24) == 127)
				continue;
			s4->sin_addr = a->sin_addr;
			break;
		}
		freeifaddrs(ifa);
	}
	s4->sin_port = htons((uint16_t)port);
	format_url((struct sockaddr *)&ss, out, cap);
}

/* Binds and listens on o's address; returns the socket or -1 after printing why. */
static int
listen_on(const struct options *o, struct sockaddr_storage *bound)
{
	const char *spec = o->listen;
	socklen_t blen = sizeof(*bound);
	int fd = -1, one = 1, zero = 0;

	fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (o->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)&o->addr, o->addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1 ||
	    getsockname(fd, (struct sockaddr *)bound, &blen) == -1)
		goto fail;
	return fd;
fail:
	warnx("listen on %s: %s", spec, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/*
 * libmicrohttpd's error messages; the format is its own.  Each format is
 * one kind: under attack the same few messages repeat thousands of times,
 * so only the first of each and then powers of two are printed.
 */
static void __attribute__((format(printf, 2, 0)))
mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	errlog_vprint((uintptr_t)fmt, fmt, ap);
}

/* Raises the open-file limit to its hard maximum; returns the soft limit. */
static uint64_t
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "public-url", required_argument, NULL, OPT_PUBLIC_URL },
		{ "pubkey", required_argument, NULL, 'P' },
		{ "pubkey-file", required_argument, NULL, 'p' },
		{ "access-log", required_argument, NULL, OPT_ACCESS_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONN },
		{ "max-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
		{ "max-pending", required_argument, NULL, OPT_MAX_PENDING },
		{ "max-request-bytes", required_argument, NULL, OPT_MAX_REQUEST },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "thread-per-connection", no_argument, NULL, OPT_THREAD_PER_CONN },
		{ "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "quick-repo", required_argument, NULL, OPT_QUICK_REPO },
		{ "seckey", required_argument, NULL, 's' },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ "channel", required_argument, NULL, 'c' },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "exit-after", required_argument, NULL, OPT_EXIT_AFTER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ch;

	memset(o, 0, sizeof(*o));
	o->listen = DEFAULT_LISTEN;
	o->max_conn = DEFAULT_MAX_CONN;
	o->max_per_ip = DEFAULT_MAX_PER_IP;
	o->timeout_s = DEFAULT_TIMEOUT_S;
	o->header_timeout_s = DEFAULT_HEADER_TIMEOUT_S;
	o->max_pending = DEFAULT_MAX_PENDING;
	o->max_request = DEFAULT_MAX_REQUEST;
	o->shutdown_s = DEFAULT_SHUTDOWN_S;
	o->threads = ncpu > 0 ? (uint64_t)ncpu : 1;
	o->q.channel = QUICK_DEFAULT_CHANNEL;
	o->q.expires_s = QUICK_DEFAULT_EXPIRES_S;

	while ((ch = getopt_long(argc, argv, "+r:l:P:p:s:c:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'r': o->repo = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'P':
		case 'p':
			if (o->nkeyargs == HTTP_MAX_KEYS) {
				warnx("-%c: at most %d keys", ch, HTTP_MAX_KEYS);
				return -1;
			}
			o->keyfile[o->nkeyargs] = ch == 'p';
			o->keyargs[o->nkeyargs++] = optarg;
			break;
		case 's': o->q.seckey_path = optarg; break;
		case 'c': o->q.channel = optarg; break;
		case OPT_PUBLIC_URL: o->public_url = optarg; break;
		case OPT_ACCESS_LOG: o->access_log = optarg; break;
		case OPT_PASSFILE: o->q.passphrase_file = optarg; break;
		case OPT_QUICK: o->quick = true; break;
		case OPT_QUICK_REPO: o->q.repo = optarg; break;
		case OPT_THREAD_PER_CONN: o->thread_per_conn = true; break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "combined") == 0 ||
			    strcmp(optarg, "common") == 0)
				o->log_format = ACCESSLOG_COMBINED;
			else if (strcmp(optarg, "json") == 0)
				o->log_format = ACCESSLOG_JSON;
			else {
				warnx("--log-format: want combined or json");
				return -1;
			}
			break;
		case OPT_MAX_CONN:
			if (!parse_number("--max-connections", optarg, 1, 1000000,
			    &o->max_conn))
				return -1;
			break;
		case OPT_MAX_PER_IP:
			if (!parse_number("--max-per-ip", optarg, 0, 1000000,
			    &o->max_per_ip))
				return -1;
			break;
		case OPT_TIMEOUT:
			if (!parse_number("--timeout", optarg, 1, 86400,
			    &o->timeout_s))
				return -1;
			break;
		case OPT_HEADER_TIMEOUT:
			if (!parse_number("--header-timeout", optarg, 1, 3600,
			    &o->header_timeout_s))
				return -1;
			break;
		case OPT_MAX_PENDING:
			if (!parse_number("--max-pending", optarg, 1, 1000000,
			    &o->max_pending))
				return -1;
			break;
		case OPT_MAX_REQUEST:
			if (!parse_number("--max-request-bytes", optarg, 4096,
			    1u << 20, &o->max_request))
				return -1;
			break;
		case OPT_THREADS:
			if (!parse_number("--threads", optarg, 1, 1024,
			    &o->threads))
				return -1;
			break;
		case OPT_SHUTDOWN:
			if (!parse_number("--shutdown-timeout", optarg, 0, 3600,
			    &o->shutdown_s))
				return -1;
			break;
		case OPT_EXIT_AFTER:
			if (!parse_number("--exit-after", optarg, 1, 1000000,
			    &o->q.exit_after))
				return -1;
			break;
		case OPT_EXPIRES:
			if (duration_parse(optarg, &o->q.expires_s) != BD_OK) {
				warnx("--expires %s: want a duration like 12h or 7d",
				    optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("%s %s\n", PROG, BOOTDROP_VERSION); return 0;
		default: usage(stderr); return -1;
		}
	}
	if (o->quick) {
		if (o->repo != NULL || o->q.seckey_path == NULL || optind == argc) {
			warnx("--quick wants -s SECFILE and NAME=FILE arguments, "
			    "and no -r");
			return -1;
		}
		if (!channel_name_valid(o->q.channel)) {
			warnx("-c %s: not a channel name", o->q.channel);
			return -1;
		}
		o->q.inputs = argv + optind;
		o->q.ninputs = (size_t)(argc - optind);
	} else if (o->repo == NULL || optind != argc) {
		usage(stderr);
		return -1;
	} else if (o->q.seckey_path || o->q.exit_after || o->q.passphrase_file ||
	    o->q.repo) {
		warnx("-s, --passphrase-file, --quick-repo and --exit-after need "
		    "--quick");
		return -1;
	}
	if (!parse_listen(o->listen, &o->addr, &o->addrlen)) {
		warnx("-l %s: want ADDR:PORT or [ADDR]:PORT", o->listen);
		return -1;
	}
	if (o->public_url != NULL && !public_url_valid(o->public_url)) {
		warnx("--public-url: want an http:// or https:// URL");
		return -1;
	}
	return 1;
}

/* Adds pk to keys (*n of them); refuses a key named twice. */
static bool
key_add(struct bd_pubkey *keys, size_t *n, const struct bd_pubkey *pk,
    const char *from)
{
	char hex[KEY_ID_HEX_BYTES];
	size_t i;

	keyid_hex(pk->id, hex);
	for (i = 0; i < *n; i++)
		if (memcmp(keys[i].id, pk->id, KEY_ID_BYTES) == 0) {
			warnx("%s: key %s is given twice", from, hex);
			return false;
		}
	if (*n == HTTP_MAX_KEYS) {
		warnx("%s: at most %d keys", from, HTTP_MAX_KEYS);
		return false;
	}
	keys[(*n)++] = *pk;
	return true;
}

/* One -P string or -p file (which may hold several keys), into keys. */
static bool
key_load(const char *arg, bool file, const char *from,
    struct bd_pubkey *keys, size_t *n)
{
	struct bd_pubkey got[HTTP_MAX_KEYS];
	size_t ngot = 0, i;
	enum bd_err rc;

	if (!file)
		rc = pubkey_from_base64(&got[0], arg);
	else
		rc = cli_load_pubkeys(arg, got, HTTP_MAX_KEYS, &ngot);
	if (rc != BD_OK) {
		cli_report(PROG, from, rc);
		return false;
	}
	if (!file)
		ngot = 1;
	for (i = 0; i < ngot; i++)
		if (!key_add(keys, n, &got[i], from))
			return false;
	return true;
}

/*
 * The public keys to show: -P strings and -p files in order, else the
 * words of $BOOTDROP_PUBKEY, each a key string or a key file.
 */
static bool
load_display_keys(const struct options *o, struct bd_pubkey *keys,
    size_t *n)
{
	char words[4096], *w, *save = NULL;
	struct bd_pubkey pk;
	const char *env;
	size_t i;

	*n = 0;
	for (i = 0; i < o->nkeyargs; i++)
		if (!key_load(o->keyargs[i], o->keyfile[i], o->keyfile[i] ?
		    o->keyargs[i] : "-P", keys, n))
			return false;
	if (o->nkeyargs > 0 || (env = getenv(PUBKEY_ENV)) == NULL)
		return true;
	/* The systemd unit's environment file sets it. */
	if (strlen(env) >= sizeof(words)) {
		warnx("%s: longer than %zu bytes", PUBKEY_ENV, sizeof(words) - 1);
		return false;
	}
	memcpy(words, env, strlen(env) + 1);
	for (w = strtok_r(words, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		/* a key string (56 base64 characters), else a key file */
		if (strlen(w) == PUBKEY_B64_BYTES - 1 &&
		    pubkey_from_base64(&pk, w) == BD_OK) {
			if (!key_add(keys, n, &pk, PUBKEY_ENV))
				return false;
		} else if (!key_load(w, true, PUBKEY_ENV, keys, n)) {
			return false;
		}
	}
	return true;
}

/*
 * Starts libmicrohttpd without a listening socket: the guard accepts and
 * hands over connections whose first head is complete.  libmicrohttpd
 * parses every head once; the handler judges it (reqhead_framing).  Its
 * strict mode stays off: in 0.9.75 it adds two checks, both already in
 * reqhead_framing, and answers both wrongly with no callback of ours run
 * first, so neither the guard nor the handler can mend a later head on a
 * kept-alive connection.  A space in the target is refused before the
 * URI callback by closing without a status or log line
 * (parse_initial_message_line); an HTTP/1.1 head without Host - "Host :"
 * too, which 0.9.75 stores as another field - gets its own 400, whose
 * state the caller overwrites, so the status line and header block go
 * out twice (parse_connection_headers and the HEADERS_RECEIVED case of
 * MHD_connection_handle_idle).  tests/server/framing.py fails on both.
 */
static struct MHD_Daemon *
start_daemon(const struct options *o, struct http_server *s, struct guard *g,
    const struct sockaddr_storage *bound)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;
	unsigned pool = 0;

	if (bound->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (o->thread_per_conn) {
		flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	} else {
		flags |= MHD_USE_EPOLL | MHD_USE_TURBO;
		pool = (unsigned)o->threads;
	}
	/* The guard enforces the limits; libmicrohttpd's only backs them up. */
	return MHD_start_daemon(flags, 0, NULL, NULL, http_handle, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, guard_notify, g,
	    MHD_OPTION_URI_LOG_CALLBACK, http_request_begin, s,
	    MHD_OPTION_NOTIFY_COMPLETED, http_request_done, s,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conn + 64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->max_request,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)0,
	    pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, pool,
	    MHD_OPTION_END);
}

/* Start-up warning for a channel that no shown key reaches. */
static void
warn_key(const char *channel, uint64_t version, const char *key_ids,
    size_t nkeys, const char *signers)
{
	warnx("warning: channel %s version %" PRIu64 " is signed by %s, not by "
	    "%s shown in fetch commands (%s); its page says so instead of "
	    "showing a command", channel, version, signers, nkeys == 1 ?
	    "the public key" : "any of the public keys", key_ids);
}

/*
 * Blocks until SIGTERM/SIGINT, or SIGUSR1 from quick mode; SIGHUP reopens
 * the access log (after a rotation) and waits on.
 */
static int
wait_for_stop(const sigset_t *set, struct accesslog *log)
{
	enum bd_err rc;
	int sig = 0;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			return sig;
		if ((rc = accesslog_reopen(log)) != BD_OK)
			warnx("SIGHUP: %s: %s; logging on to the old file",
			    bd_strerror(rc), bd_err_detail());
		else
			warnx("SIGHUP: access log reopened");
	}
}

/* A repository has blobs/sha256/ or channels/ (a new one may lack channels/). */
static bool
is_repository(int repofd)
{
	return faccessat(repofd, LAYOUT_BLOBS_DIR, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(repofd, LAYOUT_CHANNELS_DIR, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct http_server s;
	struct accesslog *log = NULL;
	struct quick *quick = NULL;
	struct MHD_Daemon *d = NULL;
	struct guard *guard = NULL;
	struct guard_opts go;
	struct guard_stats gs;
	struct sockaddr_storage bound;
	char base_url[URL_MAX_BYTES], listen_url[URL_MAX_BYTES];
	char quickkey[PUBKEY_B64_BYTES];
	struct bd_pubkey keys[HTTP_MAX_KEYS];
	size_t nkeys = 0;
	sigset_t set;
	uint64_t nofile;
	unsigned left;
	int repofd = -1, lfd = -1, status = EXIT_USAGE, r, sig;
	enum bd_err rc;

	memset(&s, 0, sizeof(s));
	http_server_init(&s);
	quickkey[0] = '\0';

	if ((r = parse_options(argc, argv, &o)) <= 0) {
		status = r == 0 ? 0 : EXIT_USAGE;
		goto out;
	}
	if (!load_display_keys(&o, keys, &nkeys))
		goto out;

	/* Signals are taken by sigwait() here; every thread inherits the mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	/* Every connection is a descriptor, whether served or pending. */
	nofile = raise_nofile();
	if (o.max_conn + o.max_pending + FDS_RESERVED > nofile) {
		uint64_t room = nofile > FDS_RESERVED + 128 ?
		    nofile - FDS_RESERVED : 128;
		if (o.max_conn > room / 2)
			o.max_conn = room / 2;
		o.max_pending = room - o.max_conn;
		warnx("open-file limit %" PRIu64 ": --max-connections %" PRIu64
		    ", --max-pending %" PRIu64, nofile, o.max_conn,
		    o.max_pending);
	}

	if ((rc = accesslog_open(o.access_log, o.log_format, &log)) != BD_OK) {
		cli_report(PROG, "--access-log", rc);
		goto out;
	}
	if (o.quick) {
		o.q.inputs = argv + optind;
		rc = quick_publish(&o.q, &quick, &repofd, quickkey);
		if (rc != BD_OK) {
			status = cli_report(PROG, "quick publish", rc);
			goto out;
		}
		if (nkeys == 0 && pubkey_from_base64(&keys[0], quickkey) ==
		    BD_OK)
			nkeys = 1;
		s.blob_served = quick_blob_served;
		s.version_served = quick_version_served;
		s.blob_served_arg = quick;
	} else {
		rc = repo_open(o.repo, false, &repofd);
		if (rc != BD_OK) {
			cli_report(PROG, o.repo, rc);
			goto out;
		}
		if (!is_repository(repofd)) {
			warnx("%s: not a bootdrop repository (no blobs/ or "
			    "channels/); bootdrop-publish release creates one",
			    o.repo);
			goto out;
		}
	}

	if ((lfd = listen_on(&o, &bound)) == -1) {
		status = EXIT_BIND;
		goto out;
	}
	format_url((struct sockaddr *)&bound, listen_url, sizeof(listen_url));
	if (o.public_url != NULL)
		snprintf(base_url, sizeof(base_url), "%s%s", o.public_url,
		    o.public_url[strlen(o.public_url) - 1] == '/' ? "" : "/");
	else if (is_wildcard(&bound))
		reachable_url(&bound, base_url, sizeof(base_url));
	else
		memcpy(base_url, listen_url, sizeof(base_url));

	s.repofd = repofd;
	if ((s.index = index_cache_new(repofd)) == NULL) {
		warnx("out of memory");
		goto out;
	}
	s.base_url = base_url;
	s.keys = keys;
	s.nkeys = nkeys;
	s.log = log;
	html_check_keys(&s, warn_key);
	memset(&go, 0, sizeof(go));
	go.max_pending = (unsigned)o.max_pending;
	go.max_active = (unsigned)o.max_conn;
	go.max_per_ip = (unsigned)o.max_per_ip;
	go.header_timeout_ms = (unsigned)o.header_timeout_s * 1000;
	go.head_max_bytes = (size_t)o.max_request / 2;
	if ((guard = guard_new(&go, log)) == NULL) {
		warnx("out of memory");
		goto out;
	}
	s.conn_state = guard_conn_state;
	s.conn_state_arg = guard;
	if ((d = start_daemon(&o, &s, guard, &bound)) == NULL) {
		warnx("cannot start the HTTP daemon on %s", listen_url);
		status = EXIT_BIND;
		goto out;
	}
	if ((rc = guard_start(guard, lfd, d)) != BD_OK) {
		cli_report(PROG, "start", rc);
		status = EXIT_BIND;
		goto out;
	}
	status = 0;

	if (o.quick)
		fprintf(stderr, "%s: published %s version %" PRIu64 " in %s\n",
		    PROG, o.q.channel, quick_version(quick),
		    quick_repo_path(quick));
	fprintf(stderr, "%s: serving %s with %s\n", PROG,
	    o.quick ? quick_repo_path(quick) : o.repo,
	    o.thread_per_conn ? "a thread per connection" : "an epoll thread pool");
	printf("listening on %s\n", listen_url);
	/* --report-done lets --exit-after count a guest that needed no
	 * artifact (quick.h) */
	if (o.quick)
		printf("bootdrop-fetch -P %s -c %s%s -d /mnt/boot %s\n", quickkey,
		    o.q.channel, o.q.exit_after > 0 ? " --report-done" : "",
		    base_url);
	fflush(stdout);

	sig = wait_for_stop(&set, log);
	if (sig == SIGUSR1)
		fprintf(stderr, "%s: every artifact served %" PRIu64
		    " time(s); stopping\n", PROG, o.q.exit_after);
	else
		fprintf(stderr, "%s: %s; stopping\n", PROG, strsignal(sig));
	guard_stop(guard, &gs);
	left = http_drain(&s, (unsigned)o.shutdown_s * 1000);
	if (left > 0)
		fprintf(stderr, "%s: %u response(s) cut off at shutdown\n", PROG,
		    left);
	fprintf(stderr, "%s: connections: %llu accepted, %llu served, %llu "
	    "refused, %llu busy (503), %llu head timeouts, %llu pushed out\n",
	    PROG, gs.accepted, gs.handed, gs.refused, gs.busy, gs.timed_out,
	    gs.evicted);
out:
	guard_stop(guard, NULL);
	if (d != NULL)
		MHD_stop_daemon(d);
	guard_free(guard);
	if (lfd != -1)
		close(lfd);
	if (quick != NULL)
		quick_cleanup(quick);	/* also closes repofd */
	else if (repofd != -1)
		close(repofd);
	accesslog_close(log);
	index_cache_free(s.index);
	http_server_fini(&s);
	return status;
}
