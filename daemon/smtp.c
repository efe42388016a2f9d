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
 * in step with the server) through smtp_fail. The AUTH states are
 * smtp-auth.c's, the transaction's (RSET to DOT) smtp-mail.c's; the
 * session struct the three share is in smtp-int.h. Replies are read here,
 * a line at a time through conn_readline, and dispatched by state.
 *
 * Every wait has a timeout: the account's, for each reply; at least
 * SMTP_DOT_TIMEOUT_MIN for the reply to the final dot (RFC 5321 section
 * 4.5.3.2.6 suggests 10 minutes: servers scan the message first). No read
 * timeout while idle or while sending the message: a write timeout covers
 * a server that stops reading.
 *
 * With tls "starttls" a server that does not offer STARTTLS is left
 * before anything else is sent.
 *
 * The session's words, as in pop3.c: smtp_response acts on one complete
 * reply according to the state and moves on; smtp_enter changes the state
 * (logged old -> new); every error of the session goes through smtp_fail,
 * with a class and a message; smtp_close ends the session and its
 * traffic; smtp_report queues a message's outcome, which report_ev
 * delivers to the owner from the loop. Log lines name the session:
 * "smtp: session=N".
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

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "conn.h"
#include "smtp-int.h"
#include "smtp-wire.h"
#include "smtp.h"

#define SMTP_INPUT_HIGH		(64 * 1024)	/* stop reading beyond */
#define SMTP_DOT_TIMEOUT_MIN	60		/* seconds */

static const char *const smtp_state_names[] = {
	"INIT", "CONNECT", "GREETING", "EHLO", "HELO", "STARTTLS",
	"HANDSHAKE", "EHLO_TLS", "AUTH", "AUTH_USER", "AUTH_PASS", "IDLE",
	"RSET", "MAIL", "RCPT", "DATA", "BODY", "DOT", "QUIT", "DONE",
};
_Static_assert(sizeof smtp_state_names / sizeof smtp_state_names[0] ==
    SMTP_NSTATES, "a name for every SMTP state");

static void	smtp_read_cb(struct bufferevent *, void *);
static void	smtp_write_cb(struct bufferevent *, void *);
static void	smtp_event_cb(struct bufferevent *, short, void *);
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
void
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
void
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
void
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
void
smtp_cork(struct smtp_session *s)
{
	s->corked = 1;
}

/* Send the commands held back in one piece. */
void
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
void
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
void
smtp_said(struct smtp_session *s, char *buf, size_t size,
    const struct smtp_reply *r)
{
	snprintf(buf, size, "%s:%d said %d%s%s%s%s", s->host, s->port, r->code,
	    r->enhanced[0] != '\0' ? " " : "", r->enhanced,
	    r->textlen > 0 ? " " : "", r->text);
}

/* Is a 4xx reply (or, in RCPT, 552: RFC 5321 4.5.3.1.10) temporary? */
int
smtp_temporary(const struct smtp_reply *r)
{
	return r->code / 100 == 4;
}

/* --- Reports ------------------------------------------------------- */

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
void
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
void
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
void
smtp_message_done(struct smtp_session *s, enum smtp_error err,
    int temporary)
{
	smtp_report(s, err, temporary);
	smtp_enter(s, SMTP_IDLE);
	if (s->quit_wanted)
		smtp_do_quit(s);
}

/* --- Connection, EHLO, STARTTLS ------------------------------------ */

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

/* Ready for messages: send the one waiting, or QUIT. */
void
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

/* --- Replies ------------------------------------------------------- */

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
	else if ((what & BEV_EVENT_EOF) && s->state == SMTP_IDLE)
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "the server closed the "
		    "idle connection");
	else if (!(what & (BEV_EVENT_TIMEOUT | BEV_EVENT_EOF)) &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(e, err, sizeof err);
		while (bufferevent_get_openssl_error(bev) != 0)
			;
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "TLS error in %s: %s",
		    smtp_state_names[s->state], err);
	} else {
		conn_event_text(err, sizeof err, what, EVUTIL_SOCKET_ERROR(),
		    wait, smtp_state_names[s->state]);
		smtp_fail(s, SMTP_ERR_NETWORK, 1, 0, "%s", err);
	}
}

/* --- Public API ---------------------------------------------------- */

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

/* Let the final dot of the message in flight go (smtp_envelope.hold_dot). */
void
smtp_release(struct smtp_session *s)
{
	if (!s->env.hold_dot)
		return;
	s->env.hold_dot = 0;
	if (s->state == SMTP_BODY)
		smtp_body_pump(s);
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
