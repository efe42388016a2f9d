/*
 * Outgoing connections to mail servers: asynchronous name resolution
 * (evdns), TCP connect to each address in turn, TLS (implicit, or an upgrade
 * for STLS/STARTTLS) with verification. Nothing here blocks the loop.
 *
 * The completion callback always runs from the event loop, never from inside
 * the call that started the work, with error NULL on success or a message a
 * person understands. After success the caller owns the bufferevent's
 * callbacks (conn_bev) until the next conn_starttls.
 *
 * What the sessions above share besides the connection: the one bounded
 * line reader for their replies (conn_readline), the copy of a peer's
 * text fit for a log line (conn_printable), what a failed connection's
 * event means (conn_event_text), and the numbers that name
 * sessions in the logs (conn_session_id: "session=N", one counter for
 * every protocol).
 */
#ifndef MAILCTL_CONN_H
#define MAILCTL_CONN_H

#include <stddef.h>

struct bufferevent;
struct evbuffer;
struct event_base;
struct conn;

typedef void (*conn_cb)(struct conn *, const char *error, void *arg);

struct conn	*conn_connect(const char *host, int port, int implicit_tls,
		    const char *ca_file, int timeout, conn_cb, void *arg);
void		 conn_starttls(struct conn *, conn_cb, void *arg);
struct bufferevent *conn_bev(struct conn *);
int		 conn_is_tls(const struct conn *);
int		 conn_read_more(struct conn *, size_t max);
int		 conn_readline(struct evbuffer *, char *buf, size_t max,
		    size_t *len);
void		 conn_printable(char *dst, size_t size, const char *src,
		    size_t len);
void		 conn_event_text(char *dst, size_t size, short what, int err,
		    int timeout, const char *state);
unsigned	 conn_session_id(void);
void		 conn_free(struct conn *);
void		 conn_init(struct event_base *);
void		 conn_shutdown(void);

#endif
