/*
 * Connecting to mail servers without blocking.
 *
 *   resolve (evdns_getaddrinfo) -> connect address 1, 2, ... -> [TLS
 *   handshake when implicit] -> done(NULL) | done("reason")
 *
 * conn_starttls wraps the open plaintext bufferevent in an OpenSSL filter and
 * runs the handshake. Any byte the server sent before the handshake (after
 * its STLS/STARTTLS reply) is refused: it could be an injected command.
 *
 * conn_readline is the line reader of every session's replies: one place
 * for the line limit a peer must respect and for the NUL byte rule.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "conn.h"
#include "tls.h"

enum conn_state {
	CONN_RESOLVING,
	CONN_CONNECTING,
	CONN_HANDSHAKE,
	CONN_OPEN,
	CONN_FAILED,
};

struct conn {
	char			*host;
	int			 port;
	char			*ca_file;
	int			 implicit_tls;
	int			 timeout;
	enum conn_state		 state;
	struct evdns_getaddrinfo_request *dns;
	struct evutil_addrinfo	*addrs;
	struct evutil_addrinfo	*addr;		/* being tried; borrowed */
	struct bufferevent	*bev;
	SSL			*ssl;		/* owned by bev once wrapped */
	int			 tls;
	char			 peer[INET6_ADDRSTRLEN + 8];
	char			 error[512];
	struct event		*deadline;
	struct event		*defer;		/* runs cb from the loop */
	conn_cb			 cb;
	void			*arg;
};

static struct event_base	*conn_base;
static struct evdns_base	*conn_dns;

static void	conn_try_next(struct conn *);

/* Set up the resolver (reads /etc/resolv.conf and /etc/hosts). */
void
conn_init(struct event_base *base)
{
	conn_base = base;
	conn_dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (conn_dns == NULL)
		conn_dns = evdns_base_new(base, 0);
	if (conn_dns == NULL)
		fatalx("cannot create the DNS resolver");
}

/* Free the resolver. */
void
conn_shutdown(void)
{
	if (conn_dns != NULL)
		evdns_base_free(conn_dns, 0);
	conn_dns = NULL;
	tls_shutdown();
}

/* Deliver the outcome to the caller from the loop. */
static void
conn_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	c->cb(c, c->state == CONN_FAILED ? c->error : NULL, c->arg);
}

static void	conn_tls_start(struct conn *);

/* Finish the current phase: error NULL for success. */
static void
conn_done(struct conn *c, const char *error)
{
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
	if (error != NULL) {
		c->state = CONN_FAILED;
		snprintf(c->error, sizeof c->error, "%s", error);
		if (c->bev != NULL)
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	} else {
		c->state = CONN_OPEN;
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	}
	event_active(c->defer, EV_TIMEOUT, 1);
}

/* The whole connect (or handshake) took too long. */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	char		 msg[256];

	if (c->dns != NULL) {
		evdns_getaddrinfo_cancel(c->dns);	/* calls back, ignored */
		c->dns = NULL;
	}
	snprintf(msg, sizeof msg, "%s %s:%d: timed out after %d s",
	    c->state == CONN_HANDSHAKE ? "TLS handshake with" :
	    c->state == CONN_RESOLVING ? "resolving" : "connecting to",
	    c->host, c->port, c->timeout);
	conn_done(c, msg);
}

/* Start (or restart) the phase deadline. */
static void
conn_arm(struct conn *c)
{
	struct timeval	 tv = { c->timeout, 0 };

	evtimer_add(c->deadline, &tv);
}

/* Events while connecting or in the TLS handshake. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 msg[600], tlsmsg[300];
	int		 one = 1, err;

	if ((what & BEV_EVENT_CONNECTED) && c->implicit_tls && c->ssl == NULL) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof one);
		conn_tls_start(c);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof one);
		log_debug("connected to %s:%d (%s)%s", c->host, c->port,
		    c->peer, c->tls ? " with TLS" : "");
		conn_done(c, NULL);
		return;
	}
	err = EVUTIL_SOCKET_ERROR();
	/*
	 * A TLS failure (bad certificate, protocol error) is final; a TCP
	 * failure moves on to the next address.
	 */
	if (c->ssl != NULL && (c->state == CONN_HANDSHAKE || err == 0 ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK ||
	    (what & BEV_EVENT_EOF))) {
		tls_describe_error(bev, c->ssl, tlsmsg, sizeof tlsmsg);
		snprintf(msg, sizeof msg, "%s:%d: %s", c->host, c->port,
		    tlsmsg);
		conn_done(c, msg);
		return;
	}
	log_debug("connect to %s:%d (%s) failed: %s", c->host, c->port,
	    c->peer, err ? strerror(err) : "closed");
	snprintf(c->error, sizeof c->error, "cannot connect to %s:%d: %s",
	    c->host, c->port, err ? strerror(err) : "connection closed");
	conn_try_next(c);
}

/* Connect to the next resolved address, or fail with the last error. */
static void
conn_try_next(struct conn *c)
{
	char	 msg[600];

	if (c->bev != NULL) {
		bufferevent_free(c->bev);	/* frees c->ssl too */
		c->bev = NULL;
		c->ssl = NULL;
	}
	c->addr = c->addr == NULL ? c->addrs : c->addr->ai_next;
	if (c->addr == NULL) {
		snprintf(msg, sizeof msg, "%s", c->error);
		conn_done(c, msg);
		return;
	}
	evutil_inet_ntop(c->addr->ai_family, c->addr->ai_family == AF_INET ?
	    (void *)&((struct sockaddr_in *)c->addr->ai_addr)->sin_addr :
	    (void *)&((struct sockaddr_in6 *)c->addr->ai_addr)->sin6_addr,
	    c->peer, sizeof c->peer);
	c->state = CONN_CONNECTING;
	/* Implicit TLS starts once TCP is up (conn_event_cb). */
	c->bev = bufferevent_socket_new(conn_base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		conn_done(c, "cannot create a connection buffer");
		return;
	}
	bufferevent_setcb(c->bev, NULL, NULL, conn_event_cb, c);
	if (bufferevent_socket_connect(c->bev, c->addr->ai_addr,
	    (int)c->addr->ai_addrlen) != 0) {
		snprintf(c->error, sizeof c->error, "cannot connect to %s:%d: "
		    "%s", c->host, c->port, strerror(errno));
		conn_try_next(c);
	}
}

/* Names resolved (or not). */
static void
conn_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct conn	*c = arg;
	char		 msg[512];

	if (result == EVUTIL_EAI_CANCEL)
		return;
	c->dns = NULL;
	if (result != 0) {
		snprintf(msg, sizeof msg, "cannot resolve %s: %s", c->host,
		    evutil_gai_strerror(result));
		conn_done(c, msg);
		return;
	}
	c->addrs = res;
	c->addr = NULL;
	snprintf(c->error, sizeof c->error, "cannot connect to %s:%d: no "
	    "address", c->host, c->port);
	conn_try_next(c);
}

/* Start connecting to host:port; cb runs once, from the loop. */
struct conn *
conn_connect(const char *host, int port, int implicit_tls,
    const char *ca_file, int timeout, conn_cb cb, void *arg)
{
	struct evutil_addrinfo	 hints;
	struct conn		*c;
	char			 portstr[16];

	c = xcalloc(1, sizeof *c);
	c->host = xstrdup(host);
	c->port = port;
	c->ca_file = ca_file ? xstrdup(ca_file) : NULL;
	c->implicit_tls = implicit_tls;
	c->timeout = timeout;
	c->cb = cb;
	c->arg = arg;
	c->state = CONN_RESOLVING;
	c->deadline = evtimer_new(conn_base, conn_deadline_cb, c);
	c->defer = event_new(conn_base, -1, 0, conn_defer_cb, c);
	conn_arm(c);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(portstr, sizeof portstr, "%d", port);
	/* This may call conn_dns_cb at once (numeric hosts, /etc/hosts). */
	c->dns = evdns_getaddrinfo(conn_dns, host, portstr, &hints,
	    conn_dns_cb, c);
	return c;
}

/*
 * Start TLS over the connection's plain bufferevent: a filter, for both
 * implicit TLS and an upgrade. Reading the socket stays with the plain
 * bufferevent underneath, where a session can read it in large pieces
 * (libevent 2.1's OpenSSL bufferevent on a socket reads each record with
 * two reads, its header then its body).
 */
static void
conn_tls_start(struct conn *c)
{
	struct bufferevent	*tlsbev;
	char			*cause = NULL;

	c->state = CONN_HANDSHAKE;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0) {
		conn_done(c, "the server sent data before the TLS handshake "
		    "(possible command injection); refusing to continue");
		return;
	}
	if ((c->ssl = tls_client_new(c->host, c->ca_file, &cause)) == NULL) {
		conn_done(c, cause);
		free(cause);
		return;
	}
	tlsbev = bufferevent_openssl_filter_new(conn_base, c->bev, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tlsbev == NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		conn_done(c, "cannot start TLS");
		return;
	}
	/* Bound what the plaintext side buffers under the TLS filter. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 1024 * 1024);
	c->bev = tlsbev;
	c->tls = 1;
	bufferevent_setcb(c->bev, NULL, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_arm(c);
}

/* Upgrade an open plaintext connection to TLS (STLS, STARTTLS). */
void
conn_starttls(struct conn *c, conn_cb cb, void *arg)
{
	c->cb = cb;
	c->arg = arg;
	conn_tls_start(c);
}

/*
 * Read what the socket holds, up to max bytes, in one read. libevent 2.1
 * reads a socket 4 KiB at a time whatever a bufferevent's limits say (a
 * syscall, an ioctl and a loop turn for each 4 KiB), so a session taking
 * in a large transfer reads on itself with this while the server keeps
 * sending: on a plain connection into conn_bev()'s input; under TLS into
 * the plain bufferevent beneath the TLS filter, which is then told to
 * decrypt it on the loop's next turn (its read callback runs then, not
 * from inside this call). Return 1 when bytes were added to conn_bev()'s
 * input, 2 when they wait for the TLS filter, 0 when there are none yet or
 * at end of file (which libevent meets again on its next read), -1 on a
 * read error, with errno set (the caller reports it: a reset is not seen
 * twice, the next read finds an end of file).
 */
int
conn_read_more(struct conn *c, size_t max)
{
	struct bufferevent	*raw;
	struct evbuffer		*in;
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	evutil_socket_t		 fd;
	ssize_t			 r;
	size_t			 left;
	int			 n, i, err;

	raw = c->tls ? bufferevent_get_underlying(c->bev) : c->bev;
	if (c->state != CONN_OPEN || raw == NULL ||
	    (fd = bufferevent_getfd(raw)) == -1)
		return 0;
	in = bufferevent_get_input(raw);
	/* A socket bufferevent keeps the end frozen but for its own reads. */
	evbuffer_unfreeze(in, 0);
	if ((n = evbuffer_reserve_space(in, max, v, 2)) <= 0) {
		evbuffer_freeze(in, 0);
		return 0;
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	r = readv(fd, iov, n);
	err = errno;
	left = r > 0 ? (size_t)r : 0;
	for (i = 0; i < n && left > 0; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(in, v, i);
	evbuffer_freeze(in, 0);
	if (r == -1 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
		errno = err;
		return -1;
	}
	if (r <= 0)
		return 0;
	if (!c->tls)
		return 1;
	bufferevent_trigger(raw, EV_READ, BEV_TRIG_DEFER_CALLBACKS |
	    BEV_TRIG_IGNORE_WATERMARKS);
	return 2;
}

/* Return the connection's bufferevent (TLS or plain). */
struct bufferevent *
conn_bev(struct conn *c)
{
	return c->bev;
}

/* Return 1 when the connection is encrypted. */
int
conn_is_tls(const struct conn *c)
{
	return c->tls && c->state == CONN_OPEN;
}

/* Close and free a connection (NULL is fine), at any stage. */
void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->dns != NULL)
		evdns_getaddrinfo_cancel(c->dns);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	else if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->addrs != NULL)
		evutil_freeaddrinfo(c->addrs);
	event_free(c->deadline);
	event_free(c->defer);
	free(c->host);
	free(c->ca_file);
	free(c);
}

/*
 * Take one line (LF or CRLF ended) off in, into buf (max + 1 bytes):
 * 1: the line is in buf without its end, NUL-terminated, *len bytes long;
 * 0: no whole line yet (and what there is fits in max); -1: the line is
 * longer than max bytes (nothing is taken); -2: as 1, but the line has a
 * NUL byte, which a caller working on C strings must refuse. One search
 * and one copy a line: for replies, not for bulk data.
 */
int
conn_readline(struct evbuffer *in, char *buf, size_t max, size_t *len)
{
	struct evbuffer_ptr	 eol;
	size_t			 eol_len, n;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	n = eol.pos == -1 ? evbuffer_get_length(in) : (size_t)eol.pos;
	if (n > max)
		return -1;
	if (eol.pos == -1)
		return 0;
	evbuffer_remove(in, buf, n);
	evbuffer_drain(in, eol_len);
	buf[n] = '\0';
	*len = n;
	return memchr(buf, '\0', n) != NULL ? -2 : 1;
}

/*
 * What an event of a session's connection (what: BEV_EVENT_*, err: the
 * socket's errno) means, for the session's one error line; state names
 * where the session was, timeout the seconds it waited.
 */
void
conn_event_text(char *dst, size_t size, short what, int err, int timeout,
    const char *state)
{
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(dst, size, "timed out after %d s waiting for the server "
		    "(in %s)", timeout, state);
	else if (what & BEV_EVENT_EOF)
		snprintf(dst, size, "the server closed the connection (in %s)",
		    state);
	else
		snprintf(dst, size, "connection error in %s: %s", state,
		    err != 0 ? strerror(err) : "connection lost");
}

/*
 * Copy a peer's text for a log line or a message: printable ASCII only
 * (any other byte becomes '?'), at most 200 bytes, NUL-terminated within
 * size.
 */
void
conn_printable(char *dst, size_t size, const char *src, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && i + 1 < size && i < 200; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* Number a new session for its log lines (session=N), unique per process. */
unsigned
conn_session_id(void)
{
	static unsigned	 last;

	return ++last;
}
