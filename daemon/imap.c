/*
 * IMAP sync session (RFC 9051 and RFC 3501, whichever the server speaks;
 * STARTTLS, SASL-IR RFC 4959, UIDPLUS RFC 4315) as a state machine on a
 * bufferevent, one command in flight at a time:
 *
 *   CONNECT -> GREETING -> CAPABILITY -+-> STARTTLS -> HANDSHAKE -+
 *                                      |                CAPABILITY_TLS
 *                                      +---------------------------+
 *                                                    |
 *                     LOGIN (LOGIN or AUTHENTICATE) [-> CAPABILITY_AUTH]
 *                                                    |
 *        for each folder: SELECT -> LIST (UID FETCH 1:* (UID)) -> FETCH
 *                  (UID FETCH set (UID FLAGS BODY.PEEK[]), streamed)
 *                  -> WAIT (commits) [-> STORE \Deleted -> EXPUNGE]
 *                                                    |
 *                                          LOGOUT -> DONE
 *
 * Responses are read a line at a time (conn_readline) and parsed by
 * imap-wire.c; a literal a line announces is either kept for the parser
 * (small: strings) or, when it is a message body (BODY[] in a FETCH),
 * streamed straight into the store with CRLF turned into LF, never held
 * whole in memory. The words are pop3.c's: imap_response acts on one
 * complete response, imap_enter changes state, imap_fail gives every error
 * a class and a message, imap_close ends the session, imap_report tells
 * the owner from the loop; a session freed while batches are at the store
 * is marked dead and reaped when the last one reports.
 *
 * This file is the conversation; imap-fetch.c the sync once logged in
 * (imap-int.h is what they share).
 *
 * Passwords are only sent over TLS, unless the account says tls "none".
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "conn.h"
#include "imap.h"
#include "imap-int.h"
#include "session.h"
#include "imap-wire.h"
#include "store.h"
#include "uidset.h"

static const char *const imap_state_names[] = {
	"CONNECT", "GREETING", "CAPABILITY", "STARTTLS", "HANDSHAKE",
	"CAPABILITY_TLS", "LOGIN", "CAPABILITY_AUTH", "ENABLE", "SELECT",
	"LIST", "FETCH", "WAIT", "STORE", "EXPUNGE", "PUSH", "IDLE",
	"IDLE_DONE", "LOGOUT", "DONE",
};
_Static_assert(sizeof imap_state_names / sizeof imap_state_names[0] ==
    IMAP_S_NSTATES, "a name for every IMAP state");

static void	imap_event_cb(struct bufferevent *, short, void *);
static void	imap_reap_cb(evutil_socket_t, short, void *);
static int	imap_reap_owner(void *);

static const struct session_ops imap_ops = {
	imap_committed, imap_reap_owner
};

/* Name an error class (for status and logs). */
const char *
imap_error_name(enum imap_error e)
{
	_Static_assert(IMAP_NERRORS == 7, "the classes of session.c");

	return session_error_name(e);
}

/* Deliver the result from the loop. */
static void
imap_report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session	*s = arg;

	s->result.message = s->result.error == IMAP_OK ? NULL : s->c.message;
	s->cb(s, &s->result, s->arg);
}

/* Report the end once the session is done and the store has answered. */
void
imap_report(struct imap_session *s)
{
	if (s->state == IMAP_S_DONE && s->c.commits == 0) {
		store_release(s->c.store, s->c.account);
		event_active(s->c.report_ev, EV_TIMEOUT, 1);
	}
}

/* Change state, logging the transition. */
void
imap_enter(struct imap_session *s, enum imap_state next)
{
	log_debug("account=%s session=%u %s -> %s", s->c.account, s->c.id,
	    imap_state_names[s->state], imap_state_names[next]);
	s->state = next;
}


/* End the session: commit what is complete, close, report. */
static void
imap_close(struct imap_session *s, enum imap_error err)
{
	if (s->state == IMAP_S_DONE)
		return;
	imap_enter(s, IMAP_S_DONE);
	evtimer_del(s->renew_ev);
	s->info.idling = 0;
	store_msg_abort(s->c.cur);
	s->c.cur = NULL;
	s->result.error = err;
	/* Messages received in full are kept even when the session fails. */
	imap_commit(s);
	if (s->c.bev != NULL)
		bufferevent_disable(s->c.bev, EV_READ | EV_WRITE);
	imap_report(s);
}

/* Every error comes here, with its class and a message; see pop3_fail. */
void
imap_fail(struct imap_session *s, enum imap_error err, const char *fmt, ...)
{
	va_list	 ap;

	if (s->state == IMAP_S_DONE && s->result.error != IMAP_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(s->c.message, sizeof s->c.message, fmt, ap);
	va_end(ap);
	log_info("account=%s session=%u failed in %s: %s", s->c.account,
	    s->c.id, imap_state_names[s->state], s->c.message);
	if (s->state == IMAP_S_DONE)
		s->result.error = err;
	else
		imap_close(s, err);
}

/*
 * Send a command with a new tag (CRLF added). secret: log only its first
 * word. The tag is kept: the tagged response must carry it.
 */
void
imap_command(struct imap_session *s, int secret, const char *fmt, ...)
{
	struct evbuffer	*out = bufferevent_get_output(s->c.bev);
	va_list		 ap;
	char		*cmd;
	int		 n;

	snprintf(s->tag, sizeof s->tag, "m%u", ++s->tagn);
	s->untagged = 0;
	/* EXISTS as SELECT said: a flood of EXISTS cannot raise it. */
	s->untagged_max = IMAP_UNTAGGED_MAX + 2 * (uint64_t)s->selected;
	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatalx("out of memory");
	if (secret)
		log_debug("account=%s session=%u C: %s %.*s ********",
		    s->c.account, s->c.id, s->tag, (int)strcspn(cmd, " "), cmd);
	else
		log_debug("account=%s session=%u C: %s %.200s", s->c.account,
		    s->c.id, s->tag, cmd);
	evbuffer_add_printf(out, "%s %s\r\n", s->tag, cmd);
	explicit_bzero(cmd, n);
	free(cmd);
}

/* May a secret go over this connection? */
static int
imap_secure(struct imap_session *s)
{
	return conn_is_tls(s->c.conn) || s->c.tls == CONFIG_TLS_NONE;
}

/* Base64 of a SASL message (new memory; wiped by the caller). */
static char *
imap_b64(const char *raw, size_t len)
{
	char	*b64;

	b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw,
	    (int)len);
	return b64;
}

/* AUTHENTICATE PLAIN (RFC 4616) or XOAUTH2, with SASL-IR when offered. */
static void
imap_authenticate(struct imap_session *s, int xoauth2)
{
	char	*raw, *b64;
	int	 len;

	if (xoauth2)
		len = asprintf(&raw, "user=%s\001auth=Bearer %s\001\001",
		    s->c.user, s->c.password);
	else
		len = asprintf(&raw, "%c%s%c%s", 0, s->c.user, 0,
		    s->c.password);
	if (len == -1)
		fatalx("out of memory");
	b64 = imap_b64(raw, len);
	explicit_bzero(raw, len);
	free(raw);
	if (s->caps & IMAP_CAP_SASL_IR)
		imap_command(s, 1, "AUTHENTICATE %s %s", xoauth2 ? "XOAUTH2" :
		    "PLAIN", b64);
	else {
		/* The answer goes after the server's "+". */
		imap_command(s, 0, "AUTHENTICATE %s", xoauth2 ? "XOAUTH2" :
		    "PLAIN");
		s->sasl = b64;
		b64 = NULL;
	}
	if (b64 != NULL) {
		explicit_bzero(b64, strlen(b64));
		free(b64);
	}
	imap_enter(s, IMAP_S_LOGIN);
}

/* LOGIN user password, as quoted strings or LITERAL+ literals. */
static void
imap_login(struct imap_session *s)
{
	char	 user[2100], pass[2100], lit[32];
	long	 un, pn;

	un = imap_quote(user, sizeof user, s->c.user, strlen(s->c.user));
	pn = imap_quote(pass, sizeof pass, s->c.password,
	    strlen(s->c.password));
	if ((un <= 0 || pn <= 0) && !(s->caps & IMAP_CAP_LITERALPLUS)) {
		explicit_bzero(pass, sizeof pass);
		imap_fail(s, IMAP_ERR_AUTH, "the user name or password cannot "
		    "be sent with LOGIN as a quoted string, and the server "
		    "offers neither AUTH=PLAIN nor LITERAL+");
		return;
	}
	if (strlen(s->c.user) + 32 >= sizeof user ||
	    strlen(s->c.password) + 32 >= sizeof pass) {
		explicit_bzero(pass, sizeof pass);
		imap_fail(s, IMAP_ERR_AUTH, "the user name or password is too "
		    "long");
		return;
	}
	/* A literal "{n+}" CRLF goes in the command line (LITERAL+). */
	if (un <= 0) {
		snprintf(lit, sizeof lit, "{%zu+}\r\n", strlen(s->c.user));
		memcpy(user, lit, strlen(lit));
		memcpy(user + strlen(lit), s->c.user, strlen(s->c.user) + 1);
	}
	if (pn <= 0) {
		snprintf(lit, sizeof lit, "{%zu+}\r\n", strlen(s->c.password));
		memcpy(pass, lit, strlen(lit));
		memcpy(pass + strlen(lit), s->c.password,
		    strlen(s->c.password) + 1);
	}
	imap_command(s, 1, "LOGIN %s %s", user, pass);
	explicit_bzero(pass, sizeof pass);
	imap_enter(s, IMAP_S_LOGIN);
}

/* After CAPABILITY: STARTTLS if asked for, then log in. */
static void
imap_after_caps(struct imap_session *s)
{
	const char	*auth = s->c.auth;

	if (s->c.tls == CONFIG_TLS_STARTTLS && !conn_is_tls(s->c.conn)) {
		if (!(s->caps & IMAP_CAP_STARTTLS)) {
			imap_fail(s, IMAP_ERR_TLS, "%s:%d does not offer "
			    "STARTTLS (tls is \"starttls\")", s->c.host,
			        s->c.port);
			return;
		}
		imap_command(s, 0, "STARTTLS");
		imap_enter(s, IMAP_S_STARTTLS);
		return;
	}
	if (!imap_secure(s)) {
		imap_fail(s, IMAP_ERR_TLS, "refusing to send a password over "
		    "an unencrypted connection");
		return;
	}
	if (strcmp(auth, "auto") == 0)
		auth = s->caps & IMAP_CAP_AUTH_PLAIN ? "plain" : "login";
	if (strcmp(auth, "login") == 0 && (s->caps & IMAP_CAP_LOGINDISABLED)) {
		imap_fail(s, IMAP_ERR_AUTH, "the server does not allow LOGIN "
		    "here (LOGINDISABLED)");
		return;
	}
	if (strcmp(auth, "plain") == 0)
		imap_authenticate(s, 0);
	else if (strcmp(auth, "xoauth2") == 0)
		imap_authenticate(s, 1);
	else
		imap_login(s);
}

/* TLS is up after STARTTLS: ask CAPABILITY again (RFC 9051 6.2.1). */
static void
imap_tls_cb(struct conn *c, const char *error, void *arg)
{
	struct imap_session	*s = arg;

	if (error != NULL) {
		imap_fail(s, IMAP_ERR_TLS, "%s", error);
		return;
	}
	session_attach(&s->c, imap_read_cb, imap_event_cb, IMAP_INPUT_HIGH);
	s->caps = 0;
	s->caps_known = 0;
	imap_enter(s, IMAP_S_CAPABILITY_TLS);
	imap_command(s, 0, "CAPABILITY");
}

/* Data of a status response's code: [UIDVALIDITY n], [CAPABILITY ...]. */
static void
imap_code(struct imap_session *s, const struct imap_resp *r)
{
	unsigned long long	 v;
	char			*end;

	if (r->code == NULL)
		return;
	if (strcmp(r->code, "CAPABILITY") == 0 && r->code_args != NULL) {
		s->caps = imap_caps_text(r->code_args);
		s->caps_known = 1;
	} else if (strcmp(r->code, "UIDVALIDITY") == 0 &&
	    r->code_args != NULL) {
		errno = 0;
		v = strtoull(r->code_args, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0 && v <= UINT32_MAX)
			s->uidvalidity = (uint32_t)v;
	} else if (strcmp(r->code, "UIDNEXT") == 0 && r->code_args != NULL) {
		errno = 0;
		v = strtoull(r->code_args, &end, 10);
		if (errno == 0 && *end == '\0' && v <= UINT32_MAX)
			s->uidnext = (uint32_t)v;
	} else if (strcmp(r->code, "HIGHESTMODSEQ") == 0 &&
	    r->code_args != NULL) {
		errno = 0;
		v = strtoull(r->code_args, &end, 10);
		if (errno == 0 && *end == '\0')
			s->modseq = v;
	} else if (strcmp(r->code, "ALERT") == 0)
		log_warnx("account=%s session=%u the server says: %s",
		    s->c.account, s->c.id, r->text != NULL ? r->text : "");
}

/* An untagged response. */
static void
imap_untagged(struct imap_session *s, const struct imap_resp *r)
{
	const struct imap_item	*word, *list;
	uint64_t		 uid;
	char			 key[400];

	/* A server that floods us never times out: count. */
	if (++s->untagged > s->untagged_max) {
		imap_fail(s, IMAP_ERR_PROTOCOL, "the server sent more than "
		    "%llu responses to one command",
		    (unsigned long long)s->untagged_max);
		return;
	}
	imap_code(s, r);
	if (r->status == IMAP_ST_BYE && s->state != IMAP_S_LOGOUT) {
		imap_fail(s, IMAP_ERR_NETWORK, "the server closed the session: "
		    "%.200s", r->text != NULL ? r->text : "");
		return;
	}
	if (s->state == IMAP_S_GREETING) {
		if (r->status != IMAP_ST_OK && r->status != IMAP_ST_PREAUTH) {
			imap_fail(s, IMAP_ERR_PROTOCOL, "unexpected greeting");
			return;
		}
		if (r->status == IMAP_ST_PREAUTH) {
			if (s->c.tls == CONFIG_TLS_STARTTLS &&
			    !conn_is_tls(s->c.conn)) {
				imap_fail(s, IMAP_ERR_TLS, "the server skipped "
				    "login (PREAUTH) on a connection that is "
				    "not encrypted yet");
				return;
			}
			imap_next_folder(s);
			return;
		}
		if (s->caps_known) {
			imap_after_caps(s);
			return;
		}
		imap_command(s, 0, "CAPABILITY");
		imap_enter(s, IMAP_S_CAPABILITY);
		return;
	}
	if (r->status != IMAP_ST_NONE || (word = r->items) == NULL)
		return;
	if (imap_item_is(word, "CAPABILITY")) {
		s->caps = imap_caps_items(word->next);
		s->caps_known = 1;
	} else if (r->has_number && imap_item_is(word, "EXISTS")) {
		/* New mail while idling: end the IDLE, sync. */
		if (r->number > s->exists && (s->state == IMAP_S_IDLE ||
		    s->state == IMAP_S_IDLE_DONE)) {
			s->again = s->pushed = 1;
			if (s->info.idling)
				imap_idle_done(s);
		} else if (r->number > s->exists &&
		    s->state >= IMAP_S_LIST && s->state <= IMAP_S_EXPUNGE)
			s->again = 1;
		s->exists = r->number;
	} else if (r->has_number && imap_item_is(word, "EXPUNGE") &&
	    s->exists > 0)
		s->exists--;
	else if (r->has_number && imap_item_is(word, "FETCH") &&
	    (list = word->next) != NULL && list->kind == IMAP_LIST) {
		if (s->state == IMAP_S_FETCH)
			imap_fetch_msg(s, list);
		else if ((s->state == IMAP_S_IDLE || s->state ==
		    IMAP_S_IDLE_DONE) && s->sync_seen)
			imap_flag_news(s, list);
		else if (s->state == IMAP_S_LIST &&
		    (word = imap_fetch_get(list, "UID")) != NULL &&
		    imap_item_number(word, &uid) == 0 && uid > 0 &&
		    uid <= UINT32_MAX) {
			if (uid >= s->next_uid)
				s->next_uid = (uint32_t)uid + 1;
			imap_key(s, (uint32_t)uid, key, sizeof key);
			if (s->sync_seen && uidset_has(s->c.seen, key))
				imap_pull_add(s, (uint32_t)uid, list);
			/*
			 * Stored before: with keep false it goes now (a crash
			 * came between the store and the expunge).
			 */
			if (s->remap_from != 0 && !uidset_has(s->c.seen, key))
				imap_remap_add(s, (uint32_t)uid, list);
			if (uidset_has(s->c.seen, key) ? !s->c.keep &&
			    imap_uids_add(&s->del, (uint32_t)uid) != 0 :
			    imap_uids_add(&s->want, (uint32_t)uid) != 0)
				imap_fail(s, IMAP_ERR_PROTOCOL, "more than %d "
				    "messages in one folder", IMAP_UIDS_MAX);
		}
	}
}

/* The tagged response to the command in flight. */
static void
imap_tagged(struct imap_session *s, const struct imap_resp *r)
{
	char	*cause = NULL;

	imap_code(s, r);
	if (strcmp(r->tag, s->tag) != 0) {
		imap_fail(s, IMAP_ERR_PROTOCOL, "a response to a command never "
		    "sent (tag %.40s)", r->tag);
		return;
	}
	if (r->status != IMAP_ST_OK) {
		switch (s->state) {
		case IMAP_S_LOGIN:
			imap_fail(s, IMAP_ERR_AUTH, "login refused: %.300s",
			    r->text != NULL ? r->text : "");
			break;
		case IMAP_S_STARTTLS:
			imap_fail(s, IMAP_ERR_TLS, "STARTTLS refused: %.300s",
			    r->text != NULL ? r->text : "");
			break;
		case IMAP_S_ENABLE:
			imap_next_folder(s);
			break;
		case IMAP_S_SELECT:
			imap_fail(s, IMAP_ERR_PROTOCOL, "cannot select \"%s\": "
			    "%.300s", s->folders[s->folder], r->text != NULL ?
			    r->text : "");
			break;
		default:
			imap_fail(s, IMAP_ERR_PROTOCOL, "the server refused in "
			    "%s: %.300s", imap_state_names[s->state],
			    r->text != NULL ? r->text : "");
		}
		return;
	}
	switch (s->state) {
	case IMAP_S_CAPABILITY:
	case IMAP_S_CAPABILITY_TLS:
		imap_after_caps(s);
		break;
	case IMAP_S_STARTTLS:
		imap_enter(s, IMAP_S_HANDSHAKE);
		bufferevent_disable(s->c.bev, EV_READ);
		conn_starttls(s->c.conn, imap_tls_cb, s);
		break;
	case IMAP_S_LOGIN:
		if (!s->caps_known) {
			imap_command(s, 0, "CAPABILITY");
			imap_enter(s, IMAP_S_CAPABILITY_AUTH);
			break;
		}
		/* FALLTHROUGH */
	case IMAP_S_CAPABILITY_AUTH:
		log_debug("account=%s session=%u logged in", s->c.account,
		    s->c.id);
		/* QRESYNC: flag changes told while idling carry their UID. */
		if (s->sync_seen && (s->caps & IMAP_CAP_QRESYNC)) {
			imap_command(s, 0, "ENABLE QRESYNC");
			imap_enter(s, IMAP_S_ENABLE);
			break;
		}
		imap_next_folder(s);
		break;
	case IMAP_S_ENABLE:
		s->qresync = 1;
		imap_next_folder(s);
		break;
	case IMAP_S_SELECT:
		if (s->uidvalidity == 0) {
			imap_fail(s, IMAP_ERR_PROTOCOL, "\"%s\" has no "
			    "UIDVALIDITY", s->folders[s->folder]);
			break;
		}
		s->result.on_server += s->exists;
		s->selected = s->exists;
		imap_list(s);
		break;
	case IMAP_S_LIST:
		log_info("account=%s session=%u folder %s: %u messages, %zu "
		    "new", s->c.account, s->c.id, s->folders[s->folder],
		        s->exists,
		    s->want.n);
		if (s->remap_from != 0)
			imap_remap_match(s);
		if (s->want.n > 1)
			qsort(s->want.v, s->want.n, sizeof *s->want.v,
			    imap_uid_cmp);
		if (s->want.n > 0 && store_expect(s->c.store, s->c.account,
		    s->want.n, &cause) != 0) {
			imap_fail(s, IMAP_ERR_LOCAL, "%s", cause);
			free(cause);
			break;
		}
		imap_fetch_next(s);
		break;
	case IMAP_S_FETCH:
		imap_fetch_next(s);
		break;
	case IMAP_S_STORE:
		/* Without UIDPLUS, EXPUNGE takes every \Deleted message. */
		if (s->caps & IMAP_CAP_UIDPLUS)
			imap_command(s, 0, "UID EXPUNGE %s", s->set);
		else
			imap_command(s, 0, "EXPUNGE");
		imap_enter(s, IMAP_S_EXPUNGE);
		break;
	case IMAP_S_EXPUNGE:
		s->result.deleted += s->set_uids;
		imap_after_fetch(s);
		break;
	case IMAP_S_PUSH:
		imap_push_next(s);
		break;
	case IMAP_S_IDLE:
	case IMAP_S_IDLE_DONE:
		/* DONE answered: the connection lives. */
		s->info.idling = 0;
		s->info.last_renewal = time(NULL);
		s->done_sent = 0;
		if (s->again)
			imap_round_start(s);
		else
			imap_idle_enter(s);
		break;
	case IMAP_S_LOGOUT:
		imap_close(s, IMAP_OK);
		break;
	default:
		imap_fail(s, IMAP_ERR_PROTOCOL, "unexpected response in %s",
		    imap_state_names[s->state]);
	}
}

/* A complete response. */
static void
imap_response(struct imap_session *s, const struct imap_resp *r)
{
	if (r->type == IMAP_UNTAGGED)
		imap_untagged(s, r);
	else if (r->type == IMAP_TAGGED)
		imap_tagged(s, r);
	else if (s->state == IMAP_S_IDLE) {
		/* Idling: a wait as long as the server likes, until DONE. */
		s->info.idling = 1;
		if (s->info.idling_since == 0)
			s->info.idling_since = time(NULL);
		imap_timeouts(s, 0);
		imap_renew_arm(s);
		if (s->again)
			imap_idle_done(s);
	} else if (s->state == IMAP_S_LOGIN && s->sasl != NULL) {
		/* AUTHENTICATE without SASL-IR: the answer to "+". */
		evbuffer_add_printf(bufferevent_get_output(s->c.bev), "%s\r\n",
		    s->sasl);
		explicit_bzero(s->sasl, strlen(s->sasl));
		free(s->sasl);
		s->sasl = NULL;
	} else if (s->state == IMAP_S_LOGIN)
		/* A challenge after our answer: cancel, see the tagged NO. */
		evbuffer_add(bufferevent_get_output(s->c.bev), "*\r\n", 3);
	else
		imap_fail(s, IMAP_ERR_PROTOCOL, "an unexpected continuation "
		    "request in %s", imap_state_names[s->state]);
}

/*
 * Take literal bytes from the input: into the store for a message body,
 * else kept for the parser. Return 1 when the literal is complete, 0 when
 * more must come, -1 when the session failed.
 */
static int
imap_literal(struct imap_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec	 v[8];
	size_t			 want, took = 0;
	int			 i, n;

	want = evbuffer_get_length(in) < s->lit_left ?
	    evbuffer_get_length(in) : s->lit_left;
	n = evbuffer_peek(in, want, NULL, v, 8);
	for (i = 0; i < n && took < want; i++) {
		if (v[i].iov_len > want - took)
			v[i].iov_len = want - took;
		if (s->lit_stream) {
			if (imap_put(s, v[i].iov_base, v[i].iov_len) != 0)
				return -1;
		} else {
			memcpy(s->lit + s->lit_len, v[i].iov_base,
			    v[i].iov_len);
			s->lit_len += v[i].iov_len;
		}
		took += v[i].iov_len;
	}
	evbuffer_drain(in, took);
	s->lit_left -= took;
	if (s->lit_left > 0)
		return 0;
	if (s->lit_stream)
		n = imap_parse_literal_streamed(s->parser);
	else {
		n = imap_parse_literal(s->parser, s->lit, s->lit_len);
		free(s->lit);
		s->lit = NULL;
		s->lit_len = 0;
	}
	if (n != 0) {
		imap_fail(s, IMAP_ERR_PROTOCOL, "%s",
		    imap_parse_error(s->parser));
		return -1;
	}
	return 1;
}

/* A line announced a literal: decide where it goes. */
static int
imap_literal_start(struct imap_session *s)
{
	const struct imap_item	*key;
	uint64_t		 len = imap_parse_literal_len(s->parser);

	key = imap_parse_literal_key(s->parser);
	s->lit_left = len;
	s->lit_stream = s->state == IMAP_S_FETCH && key != NULL &&
	    imap_item_is(key, "BODY[]");
	if (s->lit_stream) {
		if (len > IMAP_MSG_MAX) {
			imap_fail(s, IMAP_ERR_PROTOCOL, "the server announced "
			    "a message of %llu bytes, more than the limit of "
			    "%llu", (unsigned long long)len,
			    (unsigned long long)IMAP_MSG_MAX);
			return -1;
		}
		return imap_msg_begin(s);
	}
	if (len > IMAP_KEPT_MAX) {
		imap_fail(s, IMAP_ERR_PROTOCOL, "the server announced a "
		    "literal of %llu bytes where no message was asked for",
		    (unsigned long long)len);
		return -1;
	}
	free(s->lit);
	s->lit = xmalloc(len + 1);
	s->lit_len = 0;
	return 0;
}

/* Feed one response line to the parser; act on a complete response. */
static void
imap_line(struct imap_session *s, const char *line, size_t len)
{
	char	 shown[120];

	conn_printable(shown, sizeof shown, line, len);
	log_debug("account=%s session=%u S: %s", s->c.account, s->c.id, shown);
	switch (imap_parse_line(s->parser, line, len)) {
	case IMAP_PARSE_ERROR:
		imap_fail(s, IMAP_ERR_PROTOCOL, "bad response: %s",
		    imap_parse_error(s->parser));
		break;
	case IMAP_PARSE_LITERAL:
		imap_literal_start(s);
		break;
	case IMAP_PARSE_DONE:
		imap_response(s, imap_parse_resp(s->parser));
		imap_parser_reset(s->parser);
		break;
	}
}

static void
imap_conn_error(struct imap_session *s, int err)
{
	char	 msg[300];

	conn_event_text(msg, sizeof msg, BEV_EVENT_ERROR, err, s->c.timeout,
	    imap_state_names[s->state]);
	imap_fail(s, IMAP_ERR_NETWORK, "%s", msg);
}

/* Is the session reading responses (not ended, not in a handshake)? */
static int
imap_reading(const struct imap_session *s)
{
	return s->state != IMAP_S_DONE && s->state != IMAP_S_HANDSHAKE &&
	    !s->c.dead && !s->paused;
}

/* Read callback: literals, then whole lines. */
void
imap_read_cb(struct bufferevent *bev, void *arg)
{
	struct imap_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 len;
	int			 n, bulk = 0;

	/*
	 * Draining the input lets the TLS filter decrypt more at once, and
	 * it calls us again from inside: the outer call reads on, so the
	 * inner returns (else the stack grows by a frame cycle per record
	 * of a big transfer, until it overflows).
	 */
	if (s->in_read)
		return;
	s->in_read = 1;
	while (imap_reading(s)) {
		if (s->lit_left > 0) {
			if ((n = imap_literal(s, in)) == 1)
				continue;
			if (n == -1)
				break;
		} else if ((n = conn_readline(in, s->line, IMAP_LINE_MAX,
		    &len)) == 1) {
			imap_line(s, s->line, len);
			continue;
		} else if (n == -1) {
			imap_fail(s, IMAP_ERR_PROTOCOL,
			    "the server sent a line "
			    "longer than %d bytes", IMAP_LINE_MAX);
			break;
		} else if (n == -2) {
			imap_fail(s, IMAP_ERR_PROTOCOL, "the server sent a NUL "
			    "byte in a response line");
			break;
		}
		/* Out of input: read on in large reads (see pop3.c). */
		if (bulk++ == IMAP_BULK_PER_CB)
			break;
		if ((n = conn_read_more(s->c.conn, IMAP_READ_BULK)) == -1)
			imap_conn_error(s, errno);
		if (n != 1)
			break;
	}
	s->in_read = 0;
}

/* Event callback: timeouts, errors and end of file end the session. */
static void
imap_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct imap_session	*s = arg;
	char			 msg[300];

	if (s->state == IMAP_S_DONE)
		return;
	if (s->state == IMAP_S_LOGOUT && (what & BEV_EVENT_EOF)) {
		imap_close(s, IMAP_OK);
		return;
	}
	conn_event_text(msg, sizeof msg, what, EVUTIL_SOCKET_ERROR(),
	    s->c.timeout, imap_state_names[s->state]);
	imap_fail(s, IMAP_ERR_NETWORK, "%s", msg);
}

/* Connected (and TLS up when implicit): wait for the greeting. */
static void
imap_connected_cb(struct conn *c, const char *error, void *arg)
{
	struct imap_session	*s = arg;

	if (error != NULL) {
		imap_fail(s, strstr(error, "TLS") != NULL ? IMAP_ERR_TLS :
		    IMAP_ERR_NETWORK, "%s", error);
		return;
	}
	session_attach(&s->c, imap_read_cb, imap_event_cb, IMAP_INPUT_HIGH);
	imap_enter(s, IMAP_S_GREETING);
	imap_read_cb(s->c.bev, s);
}

/* A session for account a, its folders given, not connected yet. */
static struct imap_session *
imap_session_new(struct event_base *base, const struct config_account *a,
    const char *password, const char *const *folders, struct store *store,
    imap_stored_cb stored_cb, imap_done_cb cb, void *arg)
{
	const struct config_server *srv = a->imap;
	struct imap_session	*s;
	size_t			 i;

	s = xcalloc(1, sizeof *s);
	session_init(&s->c, base, a->name, srv, password, store, &imap_ops,
	    imap_report_cb, s);
	s->idle_renew = srv->idle_renew;
	s->sync_seen = srv->sync_seen;
	s->delete_there = srv->delete_on_server;
	for (i = 0; folders[i] != NULL; i++)
		;
	s->nfolders = i;
	s->folders = xcalloc(i, sizeof *s->folders);
	for (i = 0; i < s->nfolders; i++)
		s->folders[i] = xstrdup(folders[i]);
	s->c.stored_cb = stored_cb;
	s->c.stored_arg = arg;
	s->cb = cb;
	s->arg = arg;
	s->line = xmalloc(IMAP_LINE_MAX + 1);
	s->untagged_max = IMAP_UNTAGGED_MAX;	/* the greeting's */
	s->parser = imap_parser_new();
	s->renew_ev = evtimer_new(base, imap_renew_cb, s);
	s->reap_ev = event_new(base, -1, 0, imap_reap_cb, s);
	return s;
}

/* Connect, once the store's view of the account is in hand. */
static void
imap_connect(struct imap_session *s)
{
	char	*cause = NULL;

	if ((s->c.seen = store_seen(s->c.store, s->c.account,
	    &cause)) == NULL) {
		imap_fail(s, IMAP_ERR_LOCAL, "%s", cause);
		free(cause);
		return;
	}
	session_connect(&s->c, imap_connected_cb);
}

/*
 * Start a sync of every folder of account a. It repairs what a crash
 * left in the account's tmp/ first: no other session of the account may
 * be running (the owner's rule).
 */
struct imap_session *
imap_session_start(struct event_base *base, const struct config_account *a,
    const char *password, struct store *store, imap_stored_cb stored_cb,
    imap_done_cb cb, void *arg)
{
	struct imap_session	*s;
	char			*cause = NULL;

	s = imap_session_new(base, a, password, a->imap->folders, store,
	    stored_cb, cb, arg);
	if (store_recover(store, s->c.account, &cause) != 0) {
		imap_fail(s, IMAP_ERR_LOCAL, "%s", cause);
		free(cause);
		return s;
	}
	imap_connect(s);
	return s;
}

/*
 * Watch one folder of account a: sync it, then IDLE and sync again at
 * each change, reporting each round through round_cb, until freed or
 * failed (done_cb). The owner runs store_recover before it starts the
 * account's watching sessions (several run at once, one per folder).
 */
struct imap_session *
imap_session_watch(struct event_base *base, const struct config_account *a,
    const char *password, const char *folder, struct store *store,
    imap_stored_cb stored_cb, imap_done_cb round_cb, imap_done_cb done_cb,
    void *arg)
{
	struct imap_session	*s;
	const char		*folders[2] = { folder, NULL };

	s = imap_session_new(base, a, password, folders, store, stored_cb,
	    done_cb, arg);
	s->watch = 1;
	s->round_cb = round_cb;
	imap_connect(s);
	return s;
}

/* Sync a watching session's folder now (or once more after this round). */
void
imap_session_sync_now(struct imap_session *s)
{
	if (s->state == IMAP_S_DONE || s->c.dead)
		return;
	s->again = 1;
	if (s->state == IMAP_S_IDLE && s->info.idling)
		imap_idle_done(s);
}

/* What a watching session is doing. */
void
imap_session_info(const struct imap_session *s, struct imap_watch_info *info)
{
	*info = s->info;
}

/* Free everything. */
static void
imap_destroy(struct imap_session *s)
{
	size_t	 i;

	store_release(s->c.store, s->c.account);
	event_free(s->renew_ev);
	event_free(s->reap_ev);
	imap_parser_free(s->parser);
	for (i = 0; i < s->nfolders; i++)
		free(s->folders[i]);
	free(s->folders);
	free(s->want.v);
	free(s->del.v);
	free(s->push_on.v);
	free(s->push_off.v);
	free(s->push_del.v);
	free(s->push_ids);
	free(s->pull);
	imap_remap_clear(s);
	free(s->remap);
	free(s->lit);
	if (s->sasl != NULL) {
		explicit_bzero(s->sasl, strlen(s->sasl));
		free(s->sasl);
	}
	session_clear(&s->c);
	free(s->local);
	free(s->line);
	free(s);
}

static void
imap_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	imap_reap(arg);
}

/* Free a dead session once nothing uses it; 1 when it is gone. */
int
imap_reap(struct imap_session *s)
{
	if (!s->c.dead || s->c.commits > 0 || s->in_cb)
		return 0;
	imap_destroy(s);
	return 1;
}

/* imap_reap for session.c. */
static int
imap_reap_owner(void *s)
{
	return imap_reap(s);
}

/*
 * Free a session (NULL is fine) at any time; a sync in progress is
 * abandoned. One with batches at the store is marked dead: its connection
 * closes now, the owner hears nothing more, and imap_reap frees it.
 */
void
imap_session_free(struct imap_session *s)
{
	if (s == NULL)
		return;
	if (s->c.commits > 0 || s->in_cb) {
		if (s->in_cb)
			event_active(s->reap_ev, EV_TIMEOUT, 1);
		session_kill(&s->c);
		return;
	}
	imap_destroy(s);
}
