/*
 * POP3 client session (RFC 1939; CAPA RFC 2449; STLS RFC 2595; AUTH RFC
 * 5034) as a state machine on a bufferevent: the conversation. What the
 * poll does once logged in (listing, the mark, the plan, the second
 * connection, the transfer) is pop3-fetch.c's; the session struct the two
 * share is in pop3-int.h.
 *
 *   CONNECT -> GREETING -> CAPA -+-> STLS -> HANDSHAKE -> CAPA_TLS -+
 *                                |                                  |
 *                                +----------------------------------+
 *                                                 |
 *             USER -> PASS | AUTH (SASL PLAIN) | APOP
 *                                                 |
 *                    [STAT -> UIDL_ONE ->] UIDL [-> LIST without UIDL]
 *                                                 |
 *                                     TRANSFER -> QUIT -> DONE
 *
 * Any state may go to DONE through pop3_fail. Replies are read here: a
 * status line at a time through conn_readline; the lines of a multi-line
 * reply (CAPA, UIDL, LIST) many at a time by pop3_read_listing; message
 * data by pop3-fetch.c's decoder, straight from the input buffer. The
 * session ends (QUIT, or the done callback after a failure) only once
 * every commit it started has reported.
 *
 * Passwords are only sent over TLS, unless the account says tls "none".
 *
 * The session's words, as in smtp.c: pop3_response acts on one complete
 * reply according to the state and moves on; pop3_enter changes the state
 * (logged old -> new); every error goes through pop3_fail, with a class
 * and a message; pop3_close ends the session and its traffic; pop3_report
 * delivers the outcome to the owner from the loop. Log lines name the
 * account and the session: "account=NAME session=N".
 *
 * Freeing, the same idiom as smtp.c: pop3_session_free may be called at
 * any time, from the done callback too. A session still in use
 * (pop3_in_use: batches at the store point at it) is marked dead instead:
 * its connection closes at once, the owner hears nothing more, and
 * pop3_reap frees it when the last use ends (the last batch reports).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "conn.h"
#include "pop3.h"
#include "pop3-int.h"
#include "session.h"
#include "pop3-wire.h"
#include "store.h"
#include "uidset.h"

#define POP3_LINE_MAX		8192		/* status and listing lines */
#define POP3_INPUT_HIGH		(1024 * 1024)	/* stop reading beyond */
#define POP3_READ_BULK		(256 * 1024)	/* one direct read */
#define POP3_BULK_PER_CB	16		/* direct reads a callback */

static const char *const pop3_state_names[] = {
	"CONNECT", "GREETING", "CAPA", "STLS", "HANDSHAKE", "CAPA_TLS",
	"USER", "PASS", "AUTH", "APOP", "STAT", "UIDL_ONE", "UIDL", "LIST",
	"TRANSFER", "QUIT", "DONE",
};
_Static_assert(sizeof pop3_state_names / sizeof pop3_state_names[0] ==
    POP3_NSTATES, "a name for every POP3 state");

static void	pop3_read_cb(struct bufferevent *, void *);
static void	pop3_event_cb(struct bufferevent *, short, void *);
static void	pop3_connected_cb(struct conn *, const char *, void *);
static int	pop3_reap_owner(void *);
static void	pop3_report_cb(evutil_socket_t, short, void *);

/* Name an error class (for status and logs). */
const char *
pop3_error_name(enum pop3_error e)
{
	_Static_assert(POP3_NERRORS == 7, "the classes of session.c");

	return session_error_name(e);
}

/* Deliver the result from the loop. */
static void
pop3_report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session	*s = arg;

	s->result.message = s->result.error == POP3_OK ? NULL : s->c.message;
	if (s->result.error != POP3_OK)
		s->result.mark.valid = 0;
	s->cb(s, &s->result, s->arg);
}

/* Report the end once the session is done and the store has answered. */
void
pop3_report(struct pop3_session *s)
{
	if (s->state == POP3_DONE && s->c.commits == 0 && s->helper == NULL) {
		if (!s->second)
			store_release(s->c.store, s->c.account);
		event_active(s->c.report_ev, EV_TIMEOUT, 1);
	}
}

/* End the session: commit what is complete, close, report. */
void
pop3_close(struct pop3_session *s, enum pop3_error err)
{
	if (s->state == POP3_DONE)
		return;
	pop3_enter(s, POP3_DONE);
	if (s->second)
		pop3_give_back(s, err);
	s->body.dst = s->dst0 = NULL;
	s->body.room = 0;
	store_msg_abort(s->c.cur);
	s->c.cur = NULL;
	s->result.error = err;
	/* Messages received in full are kept even when the session fails. */
	session_commit(&s->c);
	/* The connection is closed when the caller frees the session. */
	if (s->c.bev != NULL)
		bufferevent_disable(s->c.bev, EV_READ | EV_WRITE);
	pop3_report(s);
}

/*
 * Fail the session: every error comes here, with its class and a message
 * for the owner, and closes the session. An error met after the end (a
 * batch the store could not commit) is still the outcome when it is the
 * first.
 */
void
pop3_fail(struct pop3_session *s, enum pop3_error err, const char *fmt, ...)
{
	va_list	 ap;

	if (s->state == POP3_DONE && s->result.error != POP3_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(s->c.message, sizeof s->c.message, fmt, ap);
	va_end(ap);
	log_info("account=%s session=%u failed in %s: %s", s->c.account,
	    s->c.id, pop3_state_names[s->state], s->c.message);
	if (s->state == POP3_DONE)
		s->result.error = err;
	else
		pop3_close(s, err);
}

/* Change state, logging the transition. */
void
pop3_enter(struct pop3_session *s, enum pop3_state next)
{
	log_debug("account=%s session=%u %s -> %s", s->c.account, s->c.id,
	    pop3_state_names[s->state], pop3_state_names[next]);
	s->state = next;
}

/* Send a command line (CRLF added). secret: log it masked. */
void
pop3_send(struct pop3_session *s, int secret, const char *fmt, ...)
{
	struct evbuffer	*out = bufferevent_get_output(s->c.bev);
	va_list		 ap;
	char		 cmd[1024];

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (secret)
		log_debug("account=%s session=%u C: %.4s ********",
		    s->c.account, s->c.id, cmd);
	else
		log_debug("account=%s session=%u C: %s", s->c.account, s->c.id,
		    cmd);
	evbuffer_add_printf(out, "%s\r\n", cmd);
	explicit_bzero(cmd, sizeof cmd);
}

/* May a secret go over this connection? */
static int
pop3_secure(struct pop3_session *s)
{
	return conn_is_tls(s->c.conn) || s->c.tls == CONFIG_TLS_NONE;
}

/* Send AUTH PLAIN with its initial response (RFC 5034, RFC 4616). */
static void
pop3_auth_plain(struct pop3_session *s)
{
	size_t		 ulen = strlen(s->c.user), plen = strlen(s->c.password);
	size_t		 rawlen = ulen + plen + 2;
	unsigned char	*raw, *b64;

	raw = xmalloc(rawlen);
	raw[0] = '\0';
	memcpy(raw + 1, s->c.user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, s->c.password, plen);
	b64 = xmalloc(4 * ((rawlen + 2) / 3) + 1);
	EVP_EncodeBlock(b64, raw, (int)rawlen);
	pop3_send(s, 1, "AUTH PLAIN %s", b64);
	explicit_bzero(raw, rawlen);
	explicit_bzero(b64, strlen((char *)b64));
	free(raw);
	free(b64);
	pop3_enter(s, POP3_AUTH);
}

/* Send APOP with MD5(timestamp password) (RFC 1939 section 7). */
static void
pop3_apop(struct pop3_session *s)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	char		 hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, s->apop_ts, strlen(s->apop_ts));
	EVP_DigestUpdate(ctx, s->c.password, strlen(s->c.password));
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	pop3_send(s, 1, "APOP %s %s", s->c.user, hex);
	explicit_bzero(hex, sizeof hex);
	pop3_enter(s, POP3_APOP);
}

/* After CAPA: STLS if asked for, then log in. */
static void
pop3_after_capa(struct pop3_session *s)
{
	const char	*auth = s->c.auth;

	if (s->c.tls == CONFIG_TLS_STARTTLS && !conn_is_tls(s->c.conn)) {
		if ((s->caps & POP3_CAP_KNOWN) && !(s->caps & POP3_CAP_STLS)) {
			pop3_fail(s, POP3_ERR_TLS, "%s:%d does not offer STLS "
			    "(tls is \"starttls\")", s->c.host, s->c.port);
			return;
		}
		pop3_send(s, 0, "STLS");
		pop3_enter(s, POP3_STLS);
		return;
	}
	if (!pop3_secure(s)) {
		pop3_fail(s, POP3_ERR_TLS, "refusing to send a password over "
		    "an unencrypted connection");
		return;
	}
	if (strcmp(auth, "auto") == 0) {
		if (s->caps & POP3_CAP_SASL_PLAIN)
			auth = "plain";
		else if ((s->caps & POP3_CAP_USER) ||
		    !(s->caps & POP3_CAP_KNOWN) || s->apop_ts == NULL)
			auth = "user";
		else
			auth = "apop";
	}
	if (strcmp(auth, "plain") == 0)
		pop3_auth_plain(s);
	else if (strcmp(auth, "apop") == 0) {
		if (s->apop_ts == NULL) {
			pop3_fail(s, POP3_ERR_AUTH, "APOP asked for, but the "
			    "server's greeting has no APOP timestamp");
			return;
		}
		pop3_apop(s);
	} else {
		pop3_send(s, 0, "USER %s", s->c.user);
		pop3_enter(s, POP3_USER);
	}
}

/* TLS is up after STLS: ask CAPA again (it may change, RFC 2595). */
static void
pop3_tls_cb(struct conn *c, const char *error, void *arg)
{
	struct pop3_session	*s = arg;

	if (error != NULL) {
		pop3_fail(s, POP3_ERR_TLS, "%s", error);
		return;
	}
	session_attach(&s->c, pop3_read_cb, pop3_event_cb, POP3_INPUT_HIGH);
	s->caps = 0;
	pop3_enter(s, POP3_CAPA_TLS);
	pop3_send(s, 0, "CAPA");
}

/* Keep the greeting's APOP timestamp "<...>". */
static void
pop3_greeting(struct pop3_session *s, const char *line, size_t len)
{
	const char	*stamp;
	size_t		 n;

	if ((n = pop3_apop_stamp(line, len, &stamp)) > 0)
		s->apop_ts = xstrndup(stamp, n);
}

/* Handle the end of a multi-line reply. */
static void
pop3_multi_end(struct pop3_session *s)
{
	s->multi = 0;
	switch (s->state) {
	case POP3_CAPA:
	case POP3_CAPA_TLS:
		pop3_after_capa(s);
		break;
	case POP3_UIDL:
		if (!s->no_uidl) {
			pop3_plan(s);
			break;
		}
		pop3_enter(s, POP3_LIST);
		pop3_send(s, 0, "LIST");
		break;
	case POP3_LIST:
		pop3_plan(s);
		break;
	default:
		break;
	}
}

/* Handle one line of a multi-line reply (dot-unstuffed). */
static void
pop3_multi_line(struct pop3_session *s, char *line, size_t len)
{
	switch (s->state) {
	case POP3_CAPA:
	case POP3_CAPA_TLS:
		s->caps |= pop3_capa_parse(line);
		break;
	case POP3_UIDL:
	case POP3_LIST:
		if (pop3_listing_line(s, line, s->state == POP3_UIDL) != 0) {
			char	 q[256];

			conn_printable(q, sizeof q, line, len);
			pop3_fail(s, POP3_ERR_PROTOCOL, "bad %s line from the "
			    "server: \"%s\"", s->state == POP3_UIDL ? "UIDL" :
			    "LIST", q);
		}
		break;
	default:
		break;
	}
}

/* Handle a status line (+OK or -ERR) according to the state. */
static void
pop3_response(struct pop3_session *s, char *line, size_t len)
{
	int	 okay;
	char	 q[256];

	if (len >= 3 && strncmp(line, "+OK", 3) == 0)
		okay = 1;
	else if (len >= 4 && strncmp(line, "-ERR", 4) == 0)
		okay = 0;
	else {
		conn_printable(q, sizeof q, line, len);
		pop3_fail(s, POP3_ERR_PROTOCOL, "unexpected reply from the "
		    "server in %s: \"%s\"", pop3_state_names[s->state], q);
		return;
	}
	conn_printable(q, sizeof q, line, len);
	log_debug("account=%s session=%u S: \"%s\"", s->c.account, s->c.id, q);
	switch (s->state) {
	case POP3_GREETING:
		if (!okay) {
			pop3_fail(s, POP3_ERR_PROTOCOL, "the server refused "
			    "the connection: \"%s\"", q);
			return;
		}
		pop3_greeting(s, line, len);
		pop3_send(s, 0, "CAPA");
		pop3_enter(s, POP3_CAPA);
		break;
	case POP3_CAPA:
	case POP3_CAPA_TLS:
		if (okay) {
			s->caps |= POP3_CAP_KNOWN;
			s->multi = 1;
		} else
			pop3_after_capa(s);
		break;
	case POP3_STLS:
		if (!okay) {
			pop3_fail(s, POP3_ERR_TLS, "the server refused STLS: "
			    "\"%s\"", q);
			return;
		}
		pop3_enter(s, POP3_HANDSHAKE);
		bufferevent_setcb(s->c.bev, NULL, NULL, NULL, NULL);
		conn_starttls(s->c.conn, pop3_tls_cb, s);
		break;
	case POP3_USER:
		if (!okay) {
			pop3_fail(s, POP3_ERR_AUTH, "login failed (USER): "
			    "\"%s\"", q);
			return;
		}
		pop3_send(s, 1, "PASS %s", s->c.password);
		pop3_enter(s, POP3_PASS);
		break;
	case POP3_PASS:
	case POP3_AUTH:
	case POP3_APOP:
		if (!okay) {
			pop3_fail(s, POP3_ERR_AUTH, "login failed: \"%s\"", q);
			return;
		}
		pop3_look(s);
		break;
	case POP3_STAT:
		pop3_stat_response(s, line);
		break;
	case POP3_UIDL_ONE:
		pop3_uidl_one_response(s, line);
		break;
	case POP3_UIDL:
		if (okay) {
			s->multi = 1;
			break;
		}
		if (s->second) {
			pop3_fail(s, POP3_ERR_PROTOCOL, "UIDL refused: "
			    "\"%s\"", q);
			return;
		}
		log_info("account=%s session=%u the server has no UIDL; "
		    "identifying messages by their content", s->c.account,
		        s->c.id);
		s->no_uidl = 1;
		pop3_multi_end(s);
		break;
	case POP3_LIST:
		if (!okay) {
			pop3_fail(s, POP3_ERR_PROTOCOL, "LIST refused: \"%s\"",
			    q);
			return;
		}
		s->multi = 1;
		break;
	case POP3_TRANSFER:
		pop3_transfer_response(s, okay, q);
		break;
	case POP3_QUIT:
		pop3_close(s, POP3_OK);
		break;
	default:
		pop3_fail(s, POP3_ERR_PROTOCOL, "unexpected reply in %s: "
		    "\"%s\"", pop3_state_names[s->state], q);
		break;
	}
}

/*
 * Read the lines of a multi-line reply (CAPA, UIDL, LIST) straight from the
 * input buffer, many per call: a 50,000-line UIDL listing must not cost a
 * buffer operation per line. Return 1 to go on reading, 0 to wait or stop.
 */
static int
pop3_read_listing(struct pop3_session *s, struct evbuffer *in)
{
	size_t		 avail = evbuffer_get_length(in), chunk, used = 0, len;
	const char	*p, *q, *nl;
	int		 ended = 0;

	if (avail == 0)
		return 0;
	chunk = avail < 4 * POP3_LINE_MAX ? avail : 4 * POP3_LINE_MAX;
	p = (const char *)evbuffer_pullup(in, chunk);
	while ((nl = memchr(p + used, '\n', chunk - used)) != NULL) {
		q = p + used;
		len = nl - q;
		used = nl - p + 1;
		if (len > 0 && q[len - 1] == '\r')
			len--;
		if (len > POP3_LINE_MAX || memchr(q, '\0', len) != NULL) {
			pop3_fail(s, POP3_ERR_PROTOCOL, "the server sent a bad "
			    "line (too long, or with a NUL byte)");
			return 0;
		}
		if (len == 1 && q[0] == '.') {
			ended = 1;
			break;
		}
		if (q[0] == '.') {
			q++;
			len--;
		}
		memcpy(s->line, q, len);
		s->line[len] = '\0';
		pop3_multi_line(s, s->line, len);
		if (s->state == POP3_DONE)
			return 0;
	}
	evbuffer_drain(in, used);
	if (ended) {
		pop3_multi_end(s);
		return 1;
	}
	if (used == 0) {
		if (chunk > POP3_LINE_MAX)
			pop3_fail(s, POP3_ERR_PROTOCOL, "the server sent a "
			    "line longer than %d bytes", POP3_LINE_MAX);
		return 0;
	}
	return evbuffer_get_length(in) > 0;
}

/*
 * The connection failed while reading or writing (err: the errno); a read
 * error is seen once only (after a reset the next read finds an end of
 * file), so it is reported where it is met.
 */
static void
pop3_conn_error(struct pop3_session *s, int err)
{
	char	 msg[300];

	conn_event_text(msg, sizeof msg, BEV_EVENT_ERROR, err, s->c.timeout,
	    pop3_state_names[s->state]);
	pop3_fail(s, POP3_ERR_NETWORK, "%s", msg);
}

/* Is the session reading replies (not ended, not in a TLS handshake)? */
static int
pop3_reading(const struct pop3_session *s)
{
	return s->state != POP3_DONE && s->state != POP3_HANDSHAKE;
}

/* Read callback: feed whole lines (or message data) to the machine. */
static void
pop3_read_cb(struct bufferevent *bev, void *arg)
{
	struct pop3_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 len;
	int			 n, bulk = 0;

	while (pop3_reading(s)) {
		if (s->c.cur != NULL) {
			n = pop3_retr_data(s);
			if (n == 1) {
				pop3_pump(s);
				continue;
			}
			if (n == -1)
				break;
			if (evbuffer_get_length(in) > 0)
				continue;	/* more chunks to parse */
		} else if (s->multi) {
			if (pop3_read_listing(s, in) != 0)
				continue;
		} else {
			n = conn_readline(in, s->line, POP3_LINE_MAX, &len);
			if (n == -1) {
				pop3_fail(s, POP3_ERR_PROTOCOL, "the server "
				    "sent a line longer than %d bytes",
				    POP3_LINE_MAX);
				break;
			}
			if (n == -2) {
				pop3_fail(s, POP3_ERR_PROTOCOL, "the server "
				    "sent a NUL byte in a reply");
				break;
			}
			if (n == 1) {
				pop3_response(s, s->line, len);
				continue;
			}
		}
		/*
		 * Out of input: read on while the server sends, in large
		 * reads (conn_read_more); bytes for the TLS filter come back
		 * decrypted through this callback on the loop's next turn.
		 */
		if (!pop3_reading(s) || bulk++ == POP3_BULK_PER_CB)
			break;
		if ((n = conn_read_more(s->c.conn, POP3_READ_BULK)) == -1)
			pop3_conn_error(s, errno);
		if (n != 1)
			break;
	}
}

/* Event callback: timeouts, errors and end of file all end the session. */
static void
pop3_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pop3_session	*s = arg;
	char			 msg[300];

	/* After the end, what the connection does is of no interest. */
	if (s->state == POP3_DONE)
		return;
	if (s->state == POP3_QUIT && (what & BEV_EVENT_EOF)) {
		pop3_close(s, POP3_OK);
		return;
	}
	conn_event_text(msg, sizeof msg, what, EVUTIL_SOCKET_ERROR(),
	    s->c.timeout, pop3_state_names[s->state]);
	pop3_fail(s, POP3_ERR_NETWORK, "%s", msg);
}

/* Connected (and TLS up when implicit): wait for the greeting. */
static void
pop3_connected_cb(struct conn *c, const char *error, void *arg)
{
	struct pop3_session	*s = arg;

	if (error != NULL) {
		pop3_fail(s, strstr(error, "TLS") != NULL ? POP3_ERR_TLS :
		    POP3_ERR_NETWORK, "%s", error);
		return;
	}
	session_attach(&s->c, pop3_read_cb, pop3_event_cb, POP3_INPUT_HIGH);
	pop3_enter(s, POP3_GREETING);
	pop3_read_cb(s->c.bev, s);
}

static const struct session_ops pop3_ops = {
	pop3_committed, pop3_reap_owner
};

/* A session for the account's server srv, not connected yet. */
struct pop3_session *
pop3_session_new(struct event_base *base, const char *account,
    const struct config_server *srv, const char *password,
    struct store *store, pop3_done_cb cb, void *arg)
{
	struct pop3_session	*s;

	s = xcalloc(1, sizeof *s);
	session_init(&s->c, base, account, srv, password, store, &pop3_ops,
	    pop3_report_cb, s);
	s->connections = srv->connections;
	s->cb = cb;
	s->arg = arg;
	s->line = xmalloc(POP3_LINE_MAX + 1);
	return s;
}

/* Connect (TLS up at once when implicit); the greeting comes next. */
void
pop3_connect(struct pop3_session *s)
{
	session_connect(&s->c, pop3_connected_cb);
}

/*
 * Start a poll of account a with its password; mark (or NULL) is what the
 * last poll left, to be checked instead of listing the whole mailbox.
 */
struct pop3_session *
pop3_session_start(struct event_base *base, const struct config_account *a,
    const char *password, const struct pop3_mark *mark, struct store *store,
    pop3_stored_cb stored_cb, pop3_done_cb cb, void *arg)
{
	struct pop3_session	*s;
	char			*cause = NULL, where[sizeof mark->where];

	s = pop3_session_new(base, a->name, a->pop3, password, store, cb, arg);
	s->c.stored_cb = stored_cb;
	s->c.stored_arg = arg;
	pop3_where(s, where, sizeof where);
	/*
	 * A mark taken at another server or login means nothing here; nor
	 * does one of a non-empty mailbox once keep is false (the account
	 * said keep=true when it was taken): seen messages are to go.
	 */
	if (mark != NULL && mark->valid && strcmp(mark->where, where) == 0 &&
	    (s->c.keep || mark->count == 0))
		s->mark = *mark;
	if ((s->c.seen = store_seen(store, s->c.account, &cause)) == NULL ||
	    store_recover(store, s->c.account, &cause) != 0) {
		pop3_fail(s, POP3_ERR_LOCAL, "%s", cause);
		free(cause);
		return s;
	}
	pop3_connect(s);
	return s;
}

/* Is something still pointing at the session (a batch at the store)? */
static int
pop3_in_use(const struct pop3_session *s)
{
	return s->c.commits > 0;
}

/* Free everything. */
static void
pop3_destroy(struct pop3_session *s)
{
	size_t	 i;

	if (!s->second)
		store_release(s->c.store, s->c.account);
	if (s->cur_hash != NULL)
		EVP_MD_CTX_free(s->cur_hash);
	for (i = 0; i < s->nmsgs; i++)
		free(s->msgs[i].uidl);
	free(s->msgs);
	session_clear(&s->c);
	free(s->apop_ts);
	free(s->line);
	free(s);
}

/*
 * A use of the session ended: free it if it is dead and nothing uses it
 * any more. Return 1 when it is gone.
 */
int
pop3_reap(struct pop3_session *s)
{
	if (!s->c.dead || pop3_in_use(s))
		return 0;
	pop3_destroy(s);
	return 1;
}

/* pop3_reap for session.c. */
static int
pop3_reap_owner(void *s)
{
	return pop3_reap(s);
}

/*
 * Free a session (NULL is fine) at any time; a poll in progress is
 * abandoned. One still in use is marked dead: its connection closes now,
 * the owner hears nothing more, and pop3_reap frees it.
 */
void
pop3_session_free(struct pop3_session *s)
{
	if (s == NULL)
		return;
	if (s->helper != NULL) {
		s->helper->lead = NULL;
		pop3_session_free(s->helper);
		s->helper = NULL;
	}
	if (pop3_in_use(s)) {
		session_kill(&s->c);
		return;
	}
	pop3_destroy(s);
}
