/*
 * SMTP submission client session (RFC 5321; STARTTLS RFC 3207; AUTH RFC
 * 4954 with PLAIN RFC 4616, LOGIN, XOAUTH2; PIPELINING RFC 2920; SIZE RFC
 * 1870; 8BITMIME RFC 6152; ENHANCEDSTATUSCODES RFC 2034 / RFC 3463) as a
 * state machine on a bufferevent. One session is one connection; messages
 * go over it one after another.
 *
 *   INIT -> CONNECT -> GREETING -> EHLO [-> HELO on 5xx]
 *     -> [STARTTLS -> HANDSHAKE -> EHLO_TLS]
 *     -> [AUTH | AUTH_USER -> AUTH_PASS -> AUTH] -> IDLE
 *
 *   IDLE -> [RSET] -> MAIL -> RCPT ... RCPT -> DATA -> BODY -> DOT -> IDLE
 *   IDLE -> QUIT -> DONE
 *
 * Any state may go to DONE (or to QUIT first, when the connection is still
 * in step with the server) through smtp_fail. With PIPELINING the
 * commands RSET, MAIL, every RCPT and DATA go out in one write, and the
 * states MAIL, RCPT, DATA then only consume their replies in order (RFC
 * 2920 section 3.1); without it each command waits for the previous
 * reply. A refused RCPT is recorded and the others still get the message;
 * when no RCPT was accepted, a pipelined DATA is expected to fail and its
 * reply is ignored (RFC 2920 section 3.1), and the next transaction starts
 * with RSET.
 *
 * The message is streamed from its file in SMTP_CHUNK reads whenever the
 * output buffer drains below SMTP_OUT_LOW (the write callback), encoded on
 * the way (CRLF line ends, dot stuffing; smtp-wire.c). Memory stays
 * bounded whatever the message size; the TLS filter's own output buffer
 * is bounded too (see smtp_attach).
 *
 * Every wait has a timeout: the account's, for each reply; at least
 * SMTP_DOT_TIMEOUT_MIN for the reply to the final dot (RFC 5321 section
 * 4.5.3.2.6 suggests 10 minutes: servers scan the message first). No read
 * timeout while idle or while sending the message: a write timeout covers
 * a server that stops reading.
 *
 * Credentials are only sent over TLS (unless tls is "none"); with tls
 * "starttls" a server that does not offer STARTTLS is left at once.
 *
 * The session's words, as in pop3.c: smtp_response acts on one complete
 * reply according to the state and moves on; smtp_enter changes the state
 * (logged old -> new); every error of the session goes through smtp_fail,
 * with a class and a message; smtp_close ends the session and its
 * traffic; smtp_report queues a message's outcome, which report_ev
 * delivers to the owner from the loop.
 *
 * Freeing, the same idiom as pop3.c: smtp_session_free may be called at
 * any time, from any callback. A session still in use (smtp_in_use: one
 * of its callbacks is running) is marked dead instead, and smtp_reap
 * frees it when the last use ends (the callback returns to the loop).
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "conn.h"
#include "smtp-wire.h"
#include "smtp.h"

#define SMTP_INPUT_HIGH		(64 * 1024)	/* stop reading beyond */
#define SMTP_CHUNK		(64 * 1024)	/* message file reads */
#define SMTP_OUT_LOW		(64 * 1024)	/* refill below this */
#define SMTP_OUT_HIGH		(256 * 1024)	/* stop refilling at this */
#define SMTP_DOT_TIMEOUT_MIN	60		/* seconds */
#define SMTP_ADDR_MAX		254		/* RFC 5321 4.5.3.1.3, no <> */
#define SMTP_MESSAGE_MAX	1024		/* result messages */

enum smtp_state {
	SMTP_INIT,
	SMTP_CONNECT,
	SMTP_GREETING,
	SMTP_EHLO,
	SMTP_HELO,
	SMTP_STARTTLS,
	SMTP_HANDSHAKE,
	SMTP_EHLO_TLS,
	SMTP_AUTH,
	SMTP_AUTH_USER,
	SMTP_AUTH_PASS,
	SMTP_IDLE,
	SMTP_RSET,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_BODY,
	SMTP_DOT,
	SMTP_QUIT,
	SMTP_DONE,
	SMTP_NSTATES
};

static const char *const smtp_state_names[] = {
	"INIT", "CONNECT", "GREETING", "EHLO", "HELO", "STARTTLS",
	"HANDSHAKE", "EHLO_TLS", "AUTH", "AUTH_USER", "AUTH_PASS", "IDLE",
	"RSET", "MAIL", "RCPT", "DATA", "BODY", "DOT", "QUIT", "DONE",
};
_Static_assert(sizeof smtp_state_names / sizeof smtp_state_names[0] ==
    SMTP_NSTATES, "a name for every SMTP state");

/* The storage behind one struct smtp_rcpt_result. */
struct smtp_rcpt_text {
	int		 final;		/* refused, or the dot was answered */
	char		 enhanced[16];
	char		 text[SMTP_TEXT_MAX];
};

struct smtp_session {
	unsigned		 id;		/* session=N in the logs */
	char			*host;
	int			 port;
	enum config_tls		 tls;
	char			*user;		/* or NULL */
	char			*secret;	/* password or token, or NULL;
						 * zeroed on free */
	char			*auth;
	char			*ca_file;
	char			*helo;		/* EHLO name; NULL: our address */
	int			 timeout;

	struct conn		*conn;
	struct bufferevent	*bev;		/* borrowed from conn */
	enum smtp_state		 state;
	struct smtp_ext		 ext;		/* from the last EHLO */
	struct smtp_reply	 reply;		/* being read */
	char			*line;		/* SMTP_LINE_MAX + 1 bytes */
	const char		*mech;		/* AUTH mechanism in use */
	int			 ending;	/* QUIT asked for, or failed:
						 * closed_cb follows */
	int			 quit_wanted;	/* QUIT once idle */
	int			 need_rset;	/* a transaction is open */

	/* The message in flight (busy until its result is set). */
	int			 busy;
	int			 utf8;		/* SMTPUTF8 addresses */
	struct smtp_envelope	 env;		/* its pointers are borrowed */
	smtp_sent_cb		 sent_cb;
	void			*sent_arg;
	int			 batch;		/* MAIL..DATA pipelined */
	struct evbuffer		*cork;		/* a pipelined group, until
						 * smtp_uncork sends it */
	int			 corked;
	int			 mail_failed;	/* MAIL refused (pipelined) */
	int			 data_abort;	/* "." sent after a wrong 354 */
	size_t			 rcpt_next;	/* RCPT replies read */
	size_t			 naccepted;	/* RCPTs accepted */
	uint64_t		 offset;	/* next file byte to read */
	uint64_t		 sent_bytes;	/* encoded bytes queued */
	struct smtp_stuff	 stuff;
	char			*chunk;		/* SMTP_CHUNK bytes in BODY */
	struct smtp_result	 result;
	struct smtp_rcpt_result	*rcpts;
	struct smtp_rcpt_text	*texts;
	char			 message[SMTP_MESSAGE_MAX];

	/* Reports, delivered from the loop by report_ev. */
	struct event		*report_ev;
	int			 report_sent;	/* sent_cb is due */
	int			 report_closed;	/* closed_cb is due */
	struct smtp_result	 closed;
	char			 closed_msg[SMTP_MESSAGE_MAX];
	smtp_closed_cb		 closed_cb;
	void			*closed_arg;
	int			 in_cb;		/* inside a caller's callback */
	int			 dead;		/* freed while in use */
};

static void	smtp_read_cb(struct bufferevent *, void *);
static void	smtp_write_cb(struct bufferevent *, void *);
static void	smtp_event_cb(struct bufferevent *, short, void *);
static void	smtp_begin(struct smtp_session *);
static int	smtp_reap(struct smtp_session *);

/* Name an error class (for status and logs). */
const char *
smtp_error_name(enum smtp_error e)
{
	static const char *const names[] = { "ok", "network", "tls", "auth",
	    "protocol", "rejected", "local" };

	if ((size_t)e >= sizeof names / sizeof names[0])
		return "unknown";
	return names[e];
}

/* Set the timeouts for the wait of the current state. */
static void
smtp_timeouts(struct smtp_session *s)
{
	struct timeval	 r = { s->timeout, 0 }, w = { s->timeout, 0 };

	if (s->bev == NULL)
		return;
	if (s->state == SMTP_DOT && r.tv_sec < SMTP_DOT_TIMEOUT_MIN)
		r.tv_sec = SMTP_DOT_TIMEOUT_MIN;
	if (s->state == SMTP_IDLE || s->state == SMTP_BODY)
		bufferevent_set_timeouts(s->bev, NULL, &w);
	else
		bufferevent_set_timeouts(s->bev, &r, &w);
}

/* Change state, logging the transition; restart the timeouts. */
static void
smtp_enter(struct smtp_session *s, enum smtp_state next)
{
	if (next != s->state)
		log_debug("smtp: session=%u host=%s:%d %s -> %s", s->id,
		    s->host, s->port, smtp_state_names[s->state],
		    smtp_state_names[next]);
	s->state = next;
	smtp_timeouts(s);
}

/* Send a command line (CRLF added); log it, or logas instead. */
static void
smtp_write(struct smtp_session *s, const char *cmd, const char *logas)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);

	log_debug("smtp: session=%u C: %s", s->id, logas != NULL ? logas : cmd);
	/*
	 * One add per line: over TLS each add becomes a record at once, and
	 * a server that sees a command's end in a later record answers
	 * without waiting for the rest of a pipelined group (then Nagle and
	 * delayed ACKs cost tens of milliseconds per message).
	 */
	evbuffer_add_printf(s->corked ? s->cork : out, "%s\r\n", cmd);
}

/* Hold the next commands back, to send them as one write. */
static void
smtp_cork(struct smtp_session *s)
{
	s->corked = 1;
}

/* Send the commands held back in one piece. */
static void
smtp_uncork(struct smtp_session *s)
{
	size_t	 len = evbuffer_get_length(s->cork);

	s->corked = 0;
	if (len == 0)
		return;
	evbuffer_add(bufferevent_get_output(s->bev), evbuffer_pullup(s->cork,
	    -1), len);
	evbuffer_drain(s->cork, len);
}

/* Send a command line made with printf (never a secret). */
static void __attribute__((format(printf, 2, 3)))
smtp_cmd(struct smtp_session *s, const char *fmt, ...)
{
	va_list	 ap;
	char	 cmd[1024];

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	smtp_write(s, cmd, NULL);
}

/* Describe a reply: "host:port said 550 5.1.1 text". */
static void
smtp_said(struct smtp_session *s, char *buf, size_t size,
    const struct smtp_reply *r)
{
	snprintf(buf, size, "%s:%d said %d%s%s%s%s", s->host, s->port, r->code,
	    r->enhanced[0] != '\0' ? " " : "", r->enhanced,
	    r->textlen > 0 ? " " : "", r->text);
}

/* Is a 4xx reply (or, in RCPT, 552: RFC 5321 4.5.3.1.10) temporary? */
static int
smtp_temporary(const struct smtp_reply *r)
{
	return r->code / 100 == 4;
}

/* --- Reports --------------------------------------------------------------- */

/* Deliver what is due: the sent callback first, then the closed one. */
static void
smtp_report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session	*s = arg;
	struct smtp_result	 r;
	struct smtp_rcpt_result	*rcpts;
	struct smtp_rcpt_text	*texts;
	smtp_sent_cb		 cb;
	void			*cbarg;
	char			 msg[SMTP_MESSAGE_MAX];

	s->in_cb = 1;
	if (s->report_sent) {
		/*
		 * The caller may call smtp_send from its callback: hand it a
		 * copy, and take the per-recipient storage out of s.
		 */
		s->report_sent = 0;
		r = s->result;
		rcpts = s->rcpts;
		texts = s->texts;
		s->rcpts = NULL;
		s->texts = NULL;
		memcpy(msg, s->message, sizeof msg);
		r.message = s->result.message != NULL ? msg : NULL;
		r.closed = s->ending;
		cb = s->sent_cb;
		cbarg = s->sent_arg;
		s->sent_cb = NULL;
		cb(s, &r, cbarg);
		free(rcpts);
		free(texts);
	} else if (s->report_closed) {
		s->report_closed = 0;
		s->closed.message = s->closed.error == SMTP_OK ? NULL :
		    s->closed_msg;
		s->closed.closed = 1;
		s->closed_cb(s, &s->closed, s->closed_arg);
	}
	s->in_cb = 0;
	if (smtp_reap(s))
		return;
	if (s->report_sent || s->report_closed)
		event_active(s->report_ev, EV_TIMEOUT, 1);
}

/* Set the outcome for recipient i. */
static void
smtp_rcpt_set(struct smtp_session *s, size_t i, int code,
    const char *enhanced, const char *text, int temporary, int accepted)
{
	struct smtp_rcpt_result	*rr = &s->rcpts[i];
	struct smtp_rcpt_text	*t = &s->texts[i];

	rr->code = code;
	snprintf(t->enhanced, sizeof t->enhanced, "%s", enhanced);
	snprintf(t->text, sizeof t->text, "%s", text);
	rr->enhanced = t->enhanced[0] != '\0' ? t->enhanced : NULL;
	rr->text = t->text;
	rr->temporary = temporary;
	rr->accepted = accepted;
}

/* Set recipient i's outcome from a reply. */
static void
smtp_rcpt_reply(struct smtp_session *s, size_t i, const struct smtp_reply *r,
    int temporary, int accepted)
{
	smtp_rcpt_set(s, i, r->code, r->enhanced, r->text, temporary,
	    accepted);
}

/*
 * The message is done: fill in the result and queue its callback. Every
 * recipient without a final outcome fails with err, temporary and the
 * message text.
 */
static void
smtp_report(struct smtp_session *s, enum smtp_error err, int temporary)
{
	size_t	 i, n = 0;

	for (i = 0; i < s->env.nrcpts; i++) {
		if (!s->texts[i].final)
			smtp_rcpt_set(s, i, 0, "", s->message, temporary, 0);
		s->texts[i].final = 1;
		n += s->rcpts[i].accepted;
	}
	free(s->chunk);
	s->chunk = NULL;
	s->result.error = err;
	s->result.temporary = err == SMTP_OK ? 0 : temporary;
	s->result.message = s->message[0] != '\0' ? s->message : NULL;
	s->result.rcpts = s->rcpts;
	s->result.nrcpts = s->env.nrcpts;
	s->result.naccepted = n;
	s->busy = 0;
	s->report_sent = 1;
	event_active(s->report_ev, EV_TIMEOUT, 1);
}

/* The session is over: stop the connection, queue closed_cb. */
static void
smtp_close(struct smtp_session *s)
{
	if (s->state == SMTP_DONE)
		return;
	smtp_enter(s, SMTP_DONE);
	s->ending = 1;
	if (s->bev != NULL)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	if (s->busy) {
		snprintf(s->message, sizeof s->message, "%s", s->closed_msg);
		smtp_report(s, SMTP_ERR_NETWORK, 1);
	}
	s->report_closed = 1;
	event_active(s->report_ev, EV_TIMEOUT, 1);
}

/*
 * Fail the session: the message in flight (if any) fails with the reason,
 * then the session ends. polite: the connection is in step with the
 * server, so say QUIT first (RFC 5321 section 4.1.1.10).
 */
static void __attribute__((format(printf, 5, 6)))
smtp_fail(struct smtp_session *s, enum smtp_error err, int temporary,
    int polite, const char *fmt, ...)
{
	va_list	 ap;

	if (s->state == SMTP_QUIT) {
		smtp_close(s);
		return;
	}
	if (s->state == SMTP_DONE)
		return;
	va_start(ap, fmt);
	vsnprintf(s->closed_msg, sizeof s->closed_msg, fmt, ap);
	va_end(ap);
	log_info("smtp: session=%u host=%s:%d failed in %s: %s", s->id, s->host,
	    s->port, smtp_state_names[s->state], s->closed_msg);
	s->closed.error = err;
	s->closed.temporary = temporary;
	s->ending = 1;
	if (s->busy) {
		snprintf(s->message, sizeof s->message, "%s", s->closed_msg);
		smtp_report(s, err, temporary);
	}
	if (polite && s->bev != NULL) {
		smtp_write(s, "QUIT", NULL);
		smtp_enter(s, SMTP_QUIT);
	} else
		smtp_close(s);
}

/* Send QUIT. */
static void
smtp_do_quit(struct smtp_session *s)
{
	s->ending = 1;
	smtp_write(s, "QUIT", NULL);
	smtp_enter(s, SMTP_QUIT);
}

/* The transaction is over: back to IDLE, or QUIT when asked to. */
static void
smtp_message_done(struct smtp_session *s, enum smtp_error err,
    int temporary)
{
	smtp_report(s, err, temporary);
	smtp_enter(s, SMTP_IDLE);
	if (s->quit_wanted)
		smtp_do_quit(s);
}

/* --- Connection, EHLO, STARTTLS, AUTH --------------------------------------- */

/* Take over the connection's bufferevent: callbacks, timeouts, limits. */
static void
smtp_attach(struct smtp_session *s)
{
	struct bufferevent	*under;

	s->bev = conn_bev(s->conn);
	bufferevent_setcb(s->bev, smtp_read_cb, smtp_write_cb, smtp_event_cb,
	    s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGH);
	bufferevent_setwatermark(s->bev, EV_WRITE, SMTP_OUT_LOW, 0);
	/*
	 * After STARTTLS the TLS filter writes into the plaintext
	 * bufferevent under it, and would take all we give it: a high
	 * watermark there makes it stop, so a message never sits in memory
	 * just because the network is slower than the disk.
	 */
	if ((under = bufferevent_get_underlying(s->bev)) != NULL)
		bufferevent_setwatermark(under, EV_WRITE, SMTP_OUT_LOW,
		    SMTP_OUT_HIGH);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	smtp_timeouts(s);
}

/* Use our address as the EHLO name when none is given (RFC 5321 4.1.4). */
static void
smtp_helo_literal(struct smtp_session *s)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;
	char			 addr[INET6_ADDRSTRLEN];
	evutil_socket_t		 fd = bufferevent_getfd(s->bev);

	if (s->helo != NULL)
		return;
	if (fd != -1 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET && inet_ntop(AF_INET,
		    &((struct sockaddr_in *)&ss)->sin_addr, addr,
		    sizeof addr) != NULL) {
			xasprintf(&s->helo, "[%s]", addr);
			return;
		}
		if (ss.ss_family == AF_INET6 && inet_ntop(AF_INET6,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr, addr,
		    sizeof addr) != NULL) {
			xasprintf(&s->helo, "[IPv6:%s]", addr);
			return;
		}
	}
	s->helo = xstrdup("localhost");
}

/* Send EHLO, forgetting what an earlier EHLO announced (RFC 3207 4.2). */
static void
smtp_ehlo(struct smtp_session *s, enum smtp_state next)
{
	memset(&s->ext, 0, sizeof s->ext);
	smtp_cmd(s, "EHLO %s", s->helo);
	smtp_enter(s, next);
}

/* Fail with the error of a connection step (connect, TLS). */
static void
smtp_conn_fail(struct smtp_session *s, const char *error)
{
	if (strstr(error, "timed out") != NULL)
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "%s", error);
	else if (strstr(error, "certificate") != NULL)
		smtp_fail(s, SMTP_ERR_TLS, 0, 0, "%s", error);
	else if (strstr(error, "TLS") != NULL)
		smtp_fail(s, SMTP_ERR_TLS, strstr(error, "connection closed") !=
		    NULL, 0, "%s", error);
	else
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "%s", error);
}

/* Connected (and TLS up when implicit): wait for the greeting. */
static void
smtp_connected_cb(struct conn *c, const char *error, void *arg)
{
	struct smtp_session	*s = arg;

	if (error != NULL) {
		smtp_conn_fail(s, error);
		return;
	}
	smtp_attach(s);
	smtp_helo_literal(s);
	smtp_enter(s, SMTP_GREETING);
	smtp_read_cb(s->bev, s);
}

/* STARTTLS handshake done: EHLO again over TLS. */
static void
smtp_tls_cb(struct conn *c, const char *error, void *arg)
{
	struct smtp_session	*s = arg;

	if (error != NULL) {
		smtp_conn_fail(s, error);
		return;
	}
	smtp_attach(s);
	smtp_ehlo(s, SMTP_EHLO_TLS);
}

/* Base64-encode len bytes (RFC 4648), NUL-terminated; free it. */
static char *
smtp_base64(const void *data, size_t len)
{
	char	*b64;

	b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
	return b64;
}

/* Send "AUTH MECH base64(raw)" (or a bare base64 line when mech is NULL). */
static void
smtp_auth_send(struct smtp_session *s, const char *mech, char *raw,
    size_t rawlen)
{
	char	*b64, *line, logas[64];

	b64 = smtp_base64(raw, rawlen);
	if (mech != NULL) {
		xasprintf(&line, "AUTH %s %s", mech, b64);
		snprintf(logas, sizeof logas, "AUTH %s ********", mech);
	} else {
		line = xstrdup(b64);
		snprintf(logas, sizeof logas, "********");
	}
	smtp_write(s, line, logas);
	explicit_bzero(raw, rawlen);
	explicit_bzero(b64, strlen(b64));
	explicit_bzero(line, strlen(line));
	free(b64);
	free(line);
}

/* Start AUTH PLAIN (RFC 4616, initial response), LOGIN or XOAUTH2. */
static void
smtp_auth_start(struct smtp_session *s, const char *mech)
{
	size_t	 ulen = strlen(s->user), plen = strlen(s->secret), rawlen;
	char	*raw;

	s->mech = mech;
	if (strcmp(mech, "PLAIN") == 0) {
		rawlen = ulen + plen + 2;
		raw = xmalloc(rawlen);
		raw[0] = '\0';
		memcpy(raw + 1, s->user, ulen);
		raw[1 + ulen] = '\0';
		memcpy(raw + 2 + ulen, s->secret, plen);
		smtp_auth_send(s, "PLAIN", raw, rawlen);
		free(raw);
		smtp_enter(s, SMTP_AUTH);
	} else if (strcmp(mech, "XOAUTH2") == 0) {
		rawlen = xasprintf(&raw, "user=%s\001auth=Bearer %s\001\001",
		    s->user, s->secret);
		smtp_auth_send(s, "XOAUTH2", raw, rawlen);
		free(raw);
		smtp_enter(s, SMTP_AUTH);
	} else {
		smtp_write(s, "AUTH LOGIN", NULL);
		smtp_enter(s, SMTP_AUTH_USER);
	}
}

/* Ready for messages: send the one waiting, or QUIT. */
static void
smtp_ready(struct smtp_session *s)
{
	smtp_enter(s, SMTP_IDLE);
	log_info("smtp: session=%u host=%s:%d ready (%s%s%s)", s->id, s->host,
	    s->port, conn_is_tls(s->conn) ? "TLS" : "no TLS",
	    s->mech != NULL ? ", AUTH " : "", s->mech != NULL ? s->mech : "");
	if (s->busy)
		smtp_begin(s);
	else if (s->quit_wanted)
		smtp_do_quit(s);
}

/* Choose the AUTH mechanism, or none. */
static void
smtp_auth(struct smtp_session *s)
{
	const char	*how = s->auth;

	if (strcmp(how, "none") == 0 || (strcmp(how, "auto") == 0 &&
	    (s->user == NULL || s->secret == NULL))) {
		smtp_ready(s);
		return;
	}
	if (s->user == NULL || s->secret == NULL) {
		smtp_fail(s, SMTP_ERR_AUTH, 0, 1, "auth \"%s\" needs a user "
		    "and a password", how);
		return;
	}
	if (!conn_is_tls(s->conn) && s->tls != CONFIG_TLS_NONE) {
		smtp_fail(s, SMTP_ERR_TLS, 0, 1, "refusing to send a password "
		    "over an unencrypted connection");
		return;
	}
	if (!(s->ext.flags & SMTP_EXT_AUTH)) {
		smtp_fail(s, SMTP_ERR_AUTH, 0, 1, "%s:%d does not offer AUTH "
		    "(it answered %s)", s->host, s->port,
		    s->state == SMTP_HELO ? "HELO, not EHLO" : "EHLO without "
		    "AUTH");
		return;
	}
	if (strcmp(how, "plain") == 0)
		smtp_auth_start(s, "PLAIN");
	else if (strcmp(how, "login") == 0)
		smtp_auth_start(s, "LOGIN");
	else if (strcmp(how, "xoauth2") == 0)
		smtp_auth_start(s, "XOAUTH2");
	else if (s->ext.auth & SMTP_AUTH_PLAIN)
		smtp_auth_start(s, "PLAIN");
	else if (s->ext.auth & SMTP_AUTH_LOGIN)
		smtp_auth_start(s, "LOGIN");
	else
		smtp_fail(s, SMTP_ERR_AUTH, 0, 1, "%s:%d offers neither AUTH "
		    "PLAIN nor LOGIN (it offers: %s); set auth", s->host,
		    s->port, s->ext.mechs[0] != '\0' ? s->ext.mechs : "none");
}

/* After EHLO (or HELO): STARTTLS when asked for, then AUTH. */
static void
smtp_after_ehlo(struct smtp_session *s)
{
	if (s->tls == CONFIG_TLS_STARTTLS && !conn_is_tls(s->conn)) {
		/* Never fall back to plaintext (RFC 3207 section 4.1). */
		if (!(s->ext.flags & SMTP_EXT_STARTTLS)) {
			smtp_fail(s, SMTP_ERR_TLS, 0, 1, "%s:%d does not offer "
			    "STARTTLS (tls is \"starttls\"); nothing was sent",
			    s->host, s->port);
			return;
		}
		smtp_write(s, "STARTTLS", NULL);
		smtp_enter(s, SMTP_STARTTLS);
		return;
	}
	smtp_auth(s);
}

/* --- The transaction ------------------------------------------------------- */

/* Check an address for the envelope: no line breaks, no brackets. */
static int
smtp_addr_ok(const char *a, int *utf8)
{
	size_t	 i;

	if (strlen(a) > SMTP_ADDR_MAX)
		return 0;
	for (i = 0; a[i] != '\0'; i++) {
		unsigned char	 c = a[i];

		if (c < 0x20 || c == 0x7f || c == '<' || c == '>')
			return 0;
		if (c >= 0x80)
			*utf8 = 1;
	}
	return 1;
}

/* Send MAIL FROM with its parameters. */
static void
smtp_mail_cmd(struct smtp_session *s)
{
	char	 size[40] = "";

	if (s->ext.flags & SMTP_EXT_SIZE)
		snprintf(size, sizeof size, " SIZE=%llu",
		    (unsigned long long)s->env.size);
	smtp_cmd(s, "MAIL FROM:<%s>%s%s%s", s->env.from, size,
	    s->env.eightbit && (s->ext.flags & SMTP_EXT_8BITMIME) ?
	    " BODY=8BITMIME" : "", s->utf8 ? " SMTPUTF8" : "");
}

/* Send RCPT TO for recipient i. */
static void
smtp_rcpt_cmd(struct smtp_session *s, size_t i)
{
	smtp_cmd(s, "RCPT TO:<%s>", s->env.rcpts[i]);
}

/*
 * Start the transaction of the message waiting: check SIZE, then RSET if
 * the last transaction was left open, MAIL, RCPT..., DATA: in one write
 * with PIPELINING.
 */
static void
smtp_begin(struct smtp_session *s)
{
	size_t	 i;

	if ((s->ext.flags & SMTP_EXT_SIZE) && s->ext.size_max > 0 &&
	    s->env.size > s->ext.size_max) {
		snprintf(s->message, sizeof s->message, "message is %llu bytes, "
		    "%s:%d accepts at most %llu",
		    (unsigned long long)s->env.size, s->host, s->port,
		    (unsigned long long)s->ext.size_max);
		smtp_message_done(s, SMTP_ERR_REJECTED, 0);
		return;
	}
	if (s->utf8 && !(s->ext.flags & SMTP_EXT_SMTPUTF8)) {
		snprintf(s->message, sizeof s->message, "%s:%d does not accept "
		    "addresses with non-ASCII characters (no SMTPUTF8)",
		    s->host, s->port);
		smtp_message_done(s, SMTP_ERR_REJECTED, 0);
		return;
	}
	if (s->env.eightbit && !(s->ext.flags & SMTP_EXT_8BITMIME))
		log_info("smtp: session=%u host=%s:%d does not offer 8BITMIME; "
		    "sending 8-bit data anyway", s->id, s->host, s->port);
	s->batch = (s->ext.flags & SMTP_EXT_PIPELINING) != 0;
	s->mail_failed = 0;
	s->data_abort = 0;
	s->rcpt_next = 0;
	s->naccepted = 0;
	smtp_cork(s);
	if (s->need_rset)
		smtp_write(s, "RSET", NULL);
	if (!s->need_rset || s->batch)
		smtp_mail_cmd(s);
	if (s->batch) {
		for (i = 0; i < s->env.nrcpts; i++)
			smtp_rcpt_cmd(s, i);
		smtp_write(s, "DATA", NULL);
		log_debug("smtp: session=%u pipelined %sMAIL, %zu RCPT, DATA",
		    s->id, s->need_rset ? "RSET, " : "", s->env.nrcpts);
	}
	smtp_uncork(s);
	smtp_enter(s, s->need_rset ? SMTP_RSET : SMTP_MAIL);
}

/*
 * No recipient was accepted (or MAIL was refused): the message failed
 * with the recipients' own replies. The transaction is left open: RSET
 * before the next.
 */
static void
smtp_refused(struct smtp_session *s)
{
	size_t	 i, n = 0, used;
	int	 temporary = 0;

	s->need_rset = 1;
	for (i = 0; i < s->env.nrcpts; i++)
		temporary |= s->rcpts[i].temporary;
	if (s->message[0] == '\0' && s->env.nrcpts == 1)
		snprintf(s->message, sizeof s->message, "%s:%d said %d%s%s %s",
		    s->host, s->port, s->rcpts[0].code,
		    s->rcpts[0].enhanced != NULL ? " " : "",
		    s->rcpts[0].enhanced != NULL ? s->rcpts[0].enhanced : "",
		    s->rcpts[0].text);
	else if (s->message[0] == '\0') {
		used = snprintf(s->message, sizeof s->message, "%s:%d refused "
		    "every recipient:", s->host, s->port);
		for (i = 0; i < s->env.nrcpts && used < sizeof s->message;
		    i++, n++)
			used += snprintf(s->message + used, sizeof s->message -
			    used, "%s <%s> %d%s%s %s", n > 0 ? ";" : "",
			    s->env.rcpts[i], s->rcpts[i].code,
			    s->texts[i].enhanced[0] != '\0' ? " " : "",
			    s->texts[i].enhanced, s->rcpts[i].text);
	}
	smtp_message_done(s, SMTP_ERR_REJECTED, temporary);
}

/* The final reply to the message (or to DATA): end the transaction. */
static void
smtp_data_done(struct smtp_session *s, const struct smtp_reply *r)
{
	size_t	 i, used, refused = s->env.nrcpts - s->naccepted;
	int	 ok = r->code / 100 == 2;

	for (i = 0; i < s->env.nrcpts; i++) {
		if (s->texts[i].final)
			continue;
		smtp_rcpt_reply(s, i, r, smtp_temporary(r), ok);
		s->texts[i].final = 1;
	}
	if (!ok) {
		smtp_said(s, s->message, sizeof s->message, r);
		smtp_message_done(s, SMTP_ERR_REJECTED, smtp_temporary(r));
		return;
	}
	log_info("smtp: session=%u host=%s:%d message accepted for %zu of %zu "
	    "recipients (%llu bytes)", s->id, s->host, s->port, s->naccepted,
	    s->env.nrcpts, (unsigned long long)s->sent_bytes);
	if (refused > 0) {
		used = snprintf(s->message, sizeof s->message, "%s:%d refused "
		    "%zu of %zu recipients:", s->host, s->port, refused,
		    s->env.nrcpts);
		for (i = 0; i < s->env.nrcpts && used < sizeof s->message; i++)
			if (!s->rcpts[i].accepted)
				used += snprintf(s->message + used,
				    sizeof s->message - used, " <%s> %d%s%s %s%s",
				    s->env.rcpts[i], s->rcpts[i].code,
				    s->texts[i].enhanced[0] != '\0' ? " " : "",
				    s->texts[i].enhanced, s->rcpts[i].text,
				    --refused > 0 ? ";" : "");
	}
	smtp_message_done(s, SMTP_OK, 0);
}

/* Queue more of the message while the output buffer is low. */
static void
smtp_body_pump(struct smtp_session *s)
{
	struct evbuffer		*out = bufferevent_get_output(s->bev);
	struct evbuffer_iovec	 v;
	ssize_t			 n;
	size_t			 len;

	while (s->state == SMTP_BODY &&
	    evbuffer_get_length(out) < SMTP_OUT_HIGH) {
		n = pread(s->env.fd, s->chunk, SMTP_CHUNK, (off_t)s->offset);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* Half a message went out: only closing is safe. */
			smtp_fail(s, SMTP_ERR_LOCAL, 0, 0, "cannot read the "
			    "message at byte %llu: %s",
			    (unsigned long long)s->offset, strerror(errno));
			return;
		}
		len = n > 0 ? SMTP_STUFF_MAX((size_t)n) : SMTP_STUFF_END_MAX;
		if (evbuffer_reserve_space(out, len, &v, 1) < 1)
			fatalx("evbuffer_reserve_space failed");
		if (n == 0)
			v.iov_len = smtp_stuff_end(&s->stuff, v.iov_base);
		else
			v.iov_len = smtp_stuff(&s->stuff, s->chunk, n,
			    v.iov_base);
		evbuffer_commit_space(out, &v, 1);
		s->sent_bytes += v.iov_len;
		if (n == 0) {
			free(s->chunk);
			s->chunk = NULL;
			smtp_enter(s, SMTP_DOT);
			return;
		}
		s->offset += n;
	}
}

/* --- Replies ----------------------------------------------------------------- */

/* A reply to MAIL, RCPT or DATA while the transaction is running. */
static void
smtp_mail_response(struct smtp_session *s, const struct smtp_reply *r)
{
	size_t	 i = s->rcpt_next;
	int	 temporary;

	switch (s->state) {
	case SMTP_RSET:
		if (r->code / 100 != 2) {
			smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "RSET refused: %s",
			    r->text);
			return;
		}
		s->need_rset = 0;
		if (!s->batch)
			smtp_mail_cmd(s);
		smtp_enter(s, SMTP_MAIL);
		break;
	case SMTP_MAIL:
		s->need_rset = 1;
		if (r->code / 100 != 2) {
			smtp_said(s, s->message, sizeof s->message, r);
			for (i = 0; i < s->env.nrcpts; i++) {
				smtp_rcpt_reply(s, i, r, smtp_temporary(r), 0);
				s->texts[i].final = 1;
			}
			if (!s->batch) {
				smtp_refused(s);
				return;
			}
			/* The RCPT and DATA replies still come. */
			s->mail_failed = 1;
		} else if (!s->batch)
			smtp_rcpt_cmd(s, 0);
		smtp_enter(s, SMTP_RCPT);
		break;
	case SMTP_RCPT:
		if (!s->mail_failed) {
			temporary = smtp_temporary(r) || r->code == 552;
			if (r->code / 100 == 2) {
				smtp_rcpt_reply(s, i, r, 0, 1);
				s->naccepted++;
			} else {
				smtp_rcpt_reply(s, i, r, temporary, 0);
				s->texts[i].final = 1;
				log_info("smtp: session=%u recipient <%s> "
				    "refused: %d%s%s \"%s\"", s->id,
				    s->env.rcpts[i], r->code,
				    r->enhanced[0] != '\0' ? " " : "",
				    r->enhanced, r->text);
			}
		}
		if (++s->rcpt_next < s->env.nrcpts) {
			if (!s->batch)
				smtp_rcpt_cmd(s, s->rcpt_next);
			smtp_timeouts(s);
			break;
		}
		if (s->batch)
			smtp_enter(s, SMTP_DATA);
		else if (s->naccepted == 0)
			smtp_refused(s);
		else {
			smtp_write(s, "DATA", NULL);
			smtp_enter(s, SMTP_DATA);
		}
		break;
	case SMTP_DATA:
		if (s->mail_failed || s->naccepted == 0) {
			if (r->code == 354) {
				/* Wrong, but the way out is an empty message. */
				smtp_write(s, ".", NULL);
				s->data_abort = 1;
				smtp_enter(s, SMTP_DOT);
				return;
			}
			smtp_refused(s);
			return;
		}
		if (r->code != 354) {
			s->need_rset = 1;
			smtp_data_done(s, r);
			return;
		}
		smtp_stuff_init(&s->stuff);
		s->offset = 0;
		s->sent_bytes = 0;
		s->chunk = xmalloc(SMTP_CHUNK);
		smtp_enter(s, SMTP_BODY);
		smtp_body_pump(s);
		break;
	case SMTP_DOT:
		s->need_rset = 0;
		if (s->data_abort)
			smtp_refused(s);
		else
			smtp_data_done(s, r);
		break;
	default:
		break;
	}
}

/* An AUTH reply: 334 continues, 235 succeeds. */
static void
smtp_auth_response(struct smtp_session *s, const struct smtp_reply *r)
{
	char	 said[SMTP_MESSAGE_MAX];
	char	*raw;

	if (r->code == 334 && s->state == SMTP_AUTH_USER) {
		raw = xstrdup(s->user);
		smtp_auth_send(s, NULL, raw, strlen(s->user));
		free(raw);
		smtp_enter(s, SMTP_AUTH_PASS);
		return;
	}
	if (r->code == 334 && s->state == SMTP_AUTH_PASS) {
		raw = xstrdup(s->secret);
		smtp_auth_send(s, NULL, raw, strlen(s->secret));
		free(raw);
		smtp_enter(s, SMTP_AUTH);
		return;
	}
	if (r->code == 334) {
		/*
		 * A challenge after our initial response: XOAUTH2's error
		 * report, which wants an empty line back; anything else is
		 * cancelled with "*" (RFC 4954 section 4). The final reply
		 * follows.
		 */
		smtp_write(s, strcmp(s->mech, "XOAUTH2") == 0 ? "" : "*", NULL);
		smtp_timeouts(s);
		return;
	}
	if (r->code == 235) {
		log_info("smtp: session=%u host=%s:%d authenticated as \"%s\" "
		    "(%s)", s->id, s->host, s->port, s->user, s->mech);
		smtp_ready(s);
		return;
	}
	smtp_said(s, said, sizeof said, r);
	smtp_fail(s, SMTP_ERR_AUTH, smtp_temporary(r), 1, "authentication as "
	    "\"%s\" (%s) failed: %s", s->user, s->mech, said);
}

/* A reply ends the message: it is the outcome of every open recipient. */
static void
smtp_rcpts_final(struct smtp_session *s, const struct smtp_reply *r)
{
	size_t	 i;

	if (!s->busy)
		return;
	for (i = 0; i < s->env.nrcpts; i++) {
		if (s->texts[i].final)
			continue;
		smtp_rcpt_reply(s, i, r, smtp_temporary(r), 0);
		s->texts[i].final = 1;
	}
}

/* A reply before the end of the message: the message and session are over. */
static void
smtp_early_reply(struct smtp_session *s, const struct smtp_reply *r,
    const char *said)
{
	if (r->code / 100 == 4 || r->code / 100 == 5) {
		smtp_rcpts_final(s, r);
		smtp_fail(s, SMTP_ERR_REJECTED, smtp_temporary(r), 0,
		    "%s (while the message was sent)", said);
	} else
		smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "unexpected reply while "
		    "the message was sent: %s", said);
}

/* Handle a complete reply according to the state. */
static void
smtp_response(struct smtp_session *s, const struct smtp_reply *r)
{
	char	 said[SMTP_MESSAGE_MAX];

	smtp_said(s, said, sizeof said, r);
	if (s->state == SMTP_QUIT) {
		smtp_close(s);
		return;
	}
	/* 421: the server is closing the connection (RFC 5321 3.8). */
	if (r->code == 421) {
		smtp_rcpts_final(s, r);
		smtp_fail(s, SMTP_ERR_REJECTED, 1, 0, "%s", said);
		return;
	}
	switch (s->state) {
	case SMTP_GREETING:
		if (r->code == 220)
			smtp_ehlo(s, SMTP_EHLO);
		else if (r->code / 100 == 5 || r->code / 100 == 4)
			smtp_fail(s, SMTP_ERR_REJECTED, smtp_temporary(r), 1,
			    "refused the connection: %s", said);
		else
			smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "unexpected "
			    "greeting: %s", said);
		break;
	case SMTP_EHLO:
	case SMTP_EHLO_TLS:
		if (r->code == 250)
			smtp_after_ehlo(s);
		else if (r->code / 100 == 5) {
			/* An old server: HELO, without extensions. */
			memset(&s->ext, 0, sizeof s->ext);
			smtp_cmd(s, "HELO %s", s->helo);
			smtp_enter(s, SMTP_HELO);
		} else
			smtp_fail(s, SMTP_ERR_REJECTED, smtp_temporary(r), 1,
			    "EHLO refused: %s", said);
		break;
	case SMTP_HELO:
		if (r->code == 250)
			smtp_after_ehlo(s);
		else
			smtp_fail(s, SMTP_ERR_REJECTED, smtp_temporary(r), 1,
			    "HELO refused: %s", said);
		break;
	case SMTP_STARTTLS:
		if (r->code != 220) {
			smtp_fail(s, SMTP_ERR_TLS, smtp_temporary(r), 1,
			    "STARTTLS refused: %s", said);
			break;
		}
		smtp_enter(s, SMTP_HANDSHAKE);
		bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
		s->bev = NULL;
		conn_starttls(s->conn, smtp_tls_cb, s);
		break;
	case SMTP_AUTH:
	case SMTP_AUTH_USER:
	case SMTP_AUTH_PASS:
		smtp_auth_response(s, r);
		break;
	case SMTP_RSET:
	case SMTP_MAIL:
	case SMTP_RCPT:
	case SMTP_DATA:
		smtp_mail_response(s, r);
		break;
	case SMTP_DOT:
		/*
		 * The server cannot answer a dot it has not received: with
		 * the end of the message still unsent, this is an early reply
		 * as in BODY, and what is left of the message must never be
		 * read as commands.
		 */
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
			smtp_mail_response(s, r);
		else
			smtp_early_reply(s, r, said);
		break;
	case SMTP_BODY:
		smtp_early_reply(s, r, said);
		break;
	default:
		smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "unexpected reply in %s: "
		    "%s", smtp_state_names[s->state], said);
		break;
	}
}

/* Read callback: feed whole lines to the reply parser, replies to the machine. */
static void
smtp_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	enum smtp_reply_status	 st;
	const char		*text, *why;
	size_t			 len, textlen;
	char			*l = s->line, q[201];
	int			 n;

	while (s->state != SMTP_DONE && s->state != SMTP_HANDSHAKE) {
		/* A NUL byte (-2) shows as '?' like any other control byte. */
		if ((n = conn_readline(in, l, SMTP_LINE_MAX, &len)) == 0)
			break;
		if (n == -1) {
			smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "the server sent "
			    "a line longer than %d bytes (in %s)",
			    SMTP_LINE_MAX, smtp_state_names[s->state]);
			break;
		}
		conn_printable(q, sizeof q, l, len);
		log_debug("smtp: session=%u S: \"%s\"", s->id, q);
		st = smtp_reply_line(&s->reply, l, len,
		    (s->ext.flags & SMTP_EXT_ENHANCED) != 0, &text, &textlen,
		    &why);
		if (st == SMTP_REPLY_BAD) {
			smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "the server sent "
			    "a bad reply in %s (%s): \"%s\"",
			    smtp_state_names[s->state], why, q);
			break;
		}
		if ((s->state == SMTP_EHLO || s->state == SMTP_EHLO_TLS) &&
		    s->reply.code == 250 && s->reply.nlines > 1)
			smtp_ext_line(&s->ext, text, textlen);
		if (st == SMTP_REPLY_MORE)
			continue;
		smtp_response(s, &s->reply);
		smtp_reply_reset(&s->reply);
	}
}

/* Write callback: the output buffer drained below SMTP_OUT_LOW. */
static void
smtp_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;

	if (s->state == SMTP_BODY)
		smtp_body_pump(s);
}

/* Event callback: timeouts, errors and end of file all end the session. */
static void
smtp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session	*s = arg;
	unsigned long		 e;
	char			 err[256];
	int			 wait = s->timeout;

	if (s->state == SMTP_QUIT || s->state == SMTP_DONE) {
		smtp_close(s);
		return;
	}
	if (s->state == SMTP_DOT && wait < SMTP_DOT_TIMEOUT_MIN)
		wait = SMTP_DOT_TIMEOUT_MIN;
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_WRITING))
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "timed out after %d s "
		    "sending to the server (in %s)", s->timeout,
		    smtp_state_names[s->state]);
	else if (what & BEV_EVENT_TIMEOUT)
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "timed out after %d s "
		    "waiting for the server (in %s)", wait,
		    smtp_state_names[s->state]);
	else if ((what & BEV_EVENT_EOF) && s->state == SMTP_IDLE)
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "the server closed the "
		    "idle connection");
	else if (what & BEV_EVENT_EOF)
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "the server closed the "
		    "connection (in %s)", smtp_state_names[s->state]);
	else if ((e = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(e, err, sizeof err);
		while (bufferevent_get_openssl_error(bev) != 0)
			;
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "TLS error in %s: %s",
		    smtp_state_names[s->state], err);
	} else
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "connection error in %s: "
		    "%s", smtp_state_names[s->state],
		    EVUTIL_SOCKET_ERROR() ? strerror(EVUTIL_SOCKET_ERROR()) :
		    "connection lost");
}

/* --- Public API -------------------------------------------------------------- */

/* Create a session for server srv; it connects on the first smtp_send. */
struct smtp_session *
smtp_session_new(struct event_base *base, const struct config_server *srv,
    const char *password, const char *helo_name, smtp_closed_cb cb, void *arg)
{
	struct smtp_session	*s;
	size_t			 i;

	s = xcalloc(1, sizeof *s);
	s->id = conn_session_id();
	s->host = xstrdup(srv->host);
	s->port = srv->port;
	s->tls = srv->tls;
	s->user = srv->user != NULL ? xstrdup(srv->user) : NULL;
	s->secret = password != NULL ? xstrdup(password) : NULL;
	s->auth = xstrdup(srv->auth != NULL ? srv->auth : "auto");
	s->ca_file = srv->ca_file != NULL ? xstrdup(srv->ca_file) : NULL;
	s->timeout = srv->timeout > 0 ? srv->timeout : 60;
	if (helo_name != NULL) {
		/* A domain or an address literal: nothing to inject. */
		for (i = 0; helo_name[i] != '\0'; i++)
			if (helo_name[i] <= 0x20 || helo_name[i] >= 0x7f)
				break;
		if (i > 0 && i < 256 && helo_name[i] == '\0')
			s->helo = xstrdup(helo_name);
		else
			log_warnx("smtp: session=%u bad EHLO name; using our "
			    "address", s->id);
	}
	s->closed_cb = cb;
	s->closed_arg = arg;
	s->line = xmalloc(SMTP_LINE_MAX + 1);
	if ((s->cork = evbuffer_new()) == NULL)
		fatalx("out of memory");
	s->report_ev = event_new(base, -1, 0, smtp_report_cb, s);
	smtp_reply_reset(&s->reply);
	return s;
}

/* Fail a message before its transaction started. */
static void __attribute__((format(printf, 4, 5)))
smtp_refuse(struct smtp_session *s, enum smtp_error err, int temporary,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(s->message, sizeof s->message, fmt, ap);
	va_end(ap);
	smtp_report(s, err, temporary);
}

/*
 * Send a message: connect first when needed. sent_cb runs once, from the
 * loop. Only one message at a time.
 */
void
smtp_send(struct smtp_session *s, const struct smtp_envelope *env,
    smtp_sent_cb cb, void *arg)
{
	size_t	 i;

	if (s->busy || s->report_sent)
		fatalx("smtp_send: a message is already in flight");
	s->busy = 1;
	s->utf8 = 0;
	s->env = *env;
	if (s->env.from == NULL)
		s->env.from = "";
	s->sent_cb = cb;
	s->sent_arg = arg;
	s->message[0] = '\0';
	memset(&s->result, 0, sizeof s->result);
	s->rcpts = xcalloc(env->nrcpts > 0 ? env->nrcpts : 1,
	    sizeof *s->rcpts);
	s->texts = xcalloc(env->nrcpts > 0 ? env->nrcpts : 1,
	    sizeof *s->texts);
	for (i = 0; i < env->nrcpts; i++)
		s->rcpts[i].addr = env->rcpts[i];

	if (s->ending) {
		smtp_refuse(s, SMTP_ERR_NETWORK, 1, "the session with %s:%d is "
		    "closed%s%s", s->host, s->port,
		    s->closed_msg[0] != '\0' ? ": " : "", s->closed_msg);
		return;
	}
	if (env->nrcpts == 0) {
		smtp_refuse(s, SMTP_ERR_LOCAL, 0, "the message has no "
		    "recipients");
		return;
	}
	if (!smtp_addr_ok(s->env.from, &s->utf8)) {
		smtp_refuse(s, SMTP_ERR_LOCAL, 0, "bad sender address");
		return;
	}
	for (i = 0; i < env->nrcpts; i++) {
		if (!smtp_addr_ok(env->rcpts[i], &s->utf8)) {
			smtp_refuse(s, SMTP_ERR_LOCAL, 0, "bad recipient "
			    "address (number %zu)", i + 1);
			return;
		}
	}
	if (env->fd < 0) {
		smtp_refuse(s, SMTP_ERR_LOCAL, 0, "no message file");
		return;
	}
	switch (s->state) {
	case SMTP_INIT:
		log_debug("smtp: session=%u connecting to %s:%d tls=%s", s->id,
		    s->host, s->port, config_tls_name(s->tls));
		smtp_enter(s, SMTP_CONNECT);
		s->conn = conn_connect(s->host, s->port,
		    s->tls == CONFIG_TLS_IMPLICIT, s->ca_file, s->timeout,
		    smtp_connected_cb, s);
		break;
	case SMTP_IDLE:
		smtp_begin(s);
		break;
	default:
		fatalx("smtp_send: session %u in state %s", s->id,
		    smtp_state_names[s->state]);
	}
}

/* End the session once idle: QUIT, then closed_cb. */
void
smtp_quit(struct smtp_session *s)
{
	if (s->ending)
		return;
	s->ending = 1;
	s->quit_wanted = 1;
	if (s->state == SMTP_INIT)
		smtp_close(s);
	else if (s->state == SMTP_IDLE && !s->busy)
		smtp_do_quit(s);
	/* Otherwise QUIT goes out when the message in flight is done. */
}

/* Is something still pointing at the session (a callback running)? */
static int
smtp_in_use(const struct smtp_session *s)
{
	return s->in_cb;
}

/* Free everything. */
static void
smtp_destroy(struct smtp_session *s)
{
	conn_free(s->conn);
	event_free(s->report_ev);
	free(s->rcpts);
	free(s->texts);
	free(s->chunk);
	if (s->secret != NULL) {
		explicit_bzero(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s->host);
	free(s->user);
	free(s->auth);
	free(s->ca_file);
	free(s->helo);
	free(s->line);
	evbuffer_free(s->cork);
	free(s);
}

/*
 * A use of the session ended: free it if it is dead and nothing uses it
 * any more. Return 1 when it is gone.
 */
static int
smtp_reap(struct smtp_session *s)
{
	if (!s->dead || smtp_in_use(s))
		return 0;
	smtp_destroy(s);
	return 1;
}

/*
 * Free a session (NULL is fine) at any time; a message in flight is
 * abandoned without its callback. One still in use (inside one of its
 * callbacks) is marked dead, and smtp_reap frees it once the callback
 * returns.
 */
void
smtp_session_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	if (smtp_in_use(s)) {
		s->dead = 1;
		return;
	}
	smtp_destroy(s);
}
