/*
 * POP3 client session (RFC 1939; CAPA RFC 2449; STLS RFC 2595; AUTH RFC
 * 5034) as a state machine on a bufferevent.
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
 * Any state may go to DONE through pop3_fail. In TRANSFER the session keeps
 * a FIFO of commands sent and not yet answered (RETR, DELE); with
 * PIPELINING up to POP3_WINDOW of them are in flight, otherwise one.
 *
 * Messages are streamed to the store as they arrive, parsed in place in the
 * input buffer: CRLF becomes LF, dot stuffing is undone, and nothing of a
 * message is held in memory beyond the bounded input buffer, whatever its
 * size or the length of its lines. Completed messages
 * are committed in batches (store_commit, on the store's worker thread,
 * while the next batch streams in); with keep=false a message is DELEted
 * only after its batch is committed, and deletion happens at QUIT. The
 * session ends (QUIT, or the done callback after a failure) only once
 * every commit it started has reported.
 *
 * A poll with many new messages (POP3_SPLIT_MIN, and an eighth of the
 * mailbox or more) opens a second connection to the same mailbox when the
 * server offers UIDL and PIPELINING and the account allows two
 * ("connections"): the server's work, and ours, then runs on two cores.
 * The first connection (the lead) plans the poll and takes messages from
 * the front of its list; the second logs in, lists UIDLs too, and takes
 * from the back, only a message its own listing numbers the same with the
 * same UIDL. Each commits and DELEtes what it received. Whatever the
 * second had asked for and not received when it ends goes back to the
 * lead. A server that refuses the second login (a maildrop lock, RFC 2449
 * [IN-USE]) leaves the lead doing it all. The poll reports once both have
 * ended.
 *
 * A poll that handled the whole mailbox (every message stored or seen
 * before, none deleted) leaves a mark: the message count and the last
 * message's UIDL. The next poll given that mark sends STAT and "UIDL n"
 * (pipelined when it can) and, when both match, has nothing new to fetch
 * without the full listing, which on a big mailbox is most of the server's
 * work. This relies on new mail being added at the end of the maildrop, as
 * servers do; the caller bounds how many polls in a row may trust a mark.
 *
 * De-duplication is by UIDL. A server without UIDL gets every message
 * downloaded and identified by the SHA-256 of its content; one already
 * stored is dropped (so keep=true on such a server costs a full download
 * per poll, but never stores a duplicate).
 *
 * Passwords are only sent over TLS, unless the account says tls "none".
 *
 * The session's words, as in smtp.c: pop3_response acts on one complete
 * reply according to the state and moves on; pop3_enter changes the state
 * (logged old -> new); every error goes through pop3_fail, with a class
 * and a message; pop3_close ends the session and its traffic; pop3_report
 * delivers the outcome to the owner from the loop.
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
#include "pop3-wire.h"
#include "store.h"
#include "uidset.h"

#define POP3_LINE_MAX		8192		/* status and listing lines */
#define POP3_INPUT_HIGH		(1024 * 1024)	/* stop reading beyond */
#define POP3_READ_BULK		(256 * 1024)	/* one direct read */
#define POP3_BULK_PER_CB	16		/* direct reads a callback */
#define POP3_WINDOW		32		/* pipelined commands */
#define POP3_BATCH_MSGS		64
#define POP3_BATCH_BYTES	(8 * 1024 * 1024)
/*
 * Batches at the store at once: past that, no new RETR goes out until
 * one is committed, so a slow disk bounds the open files and memory.
 */
#define POP3_MAX_COMMITS	16
#define POP3_MSG_MAX		(256ULL * 1024 * 1024)
#define POP3_MAILBOX_MAX	500000		/* messages on a server */
#define POP3_SPLIT_MIN		128		/* new messages for two links */

enum pop3_state {
	POP3_CONNECT,
	POP3_GREETING,
	POP3_CAPA,
	POP3_STLS,
	POP3_HANDSHAKE,
	POP3_CAPA_TLS,
	POP3_USER,
	POP3_PASS,
	POP3_AUTH,
	POP3_APOP,
	POP3_STAT,
	POP3_UIDL_ONE,
	POP3_UIDL,
	POP3_LIST,
	POP3_TRANSFER,
	POP3_QUIT,
	POP3_DONE,
	POP3_NSTATES
};

static const char *const pop3_state_names[] = {
	"CONNECT", "GREETING", "CAPA", "STLS", "HANDSHAKE", "CAPA_TLS",
	"USER", "PASS", "AUTH", "APOP", "STAT", "UIDL_ONE", "UIDL", "LIST",
	"TRANSFER", "QUIT", "DONE",
};
_Static_assert(sizeof pop3_state_names / sizeof pop3_state_names[0] ==
    POP3_NSTATES, "a name for every POP3 state");

struct pop3_msg {
	char		*uidl;		/* NULL until known */
	int		 present;	/* listed by UIDL or LIST */
	int		 seen;		/* its UIDL is already stored */
	int		 want;		/* to RETR; not asked for yet */
	int		 dele;		/* to DELE */
};

enum pop3_cmd_kind { CMD_RETR, CMD_DELE };

struct pop3_cmd {
	enum pop3_cmd_kind	 kind;
	unsigned		 num;	/* message number, 1-based */
};

struct pop3_session {
	unsigned		 id;		/* session=N in the logs */
	char			*account;
	char			*host;
	int			 port;
	enum config_tls		 tls;
	char			*user;
	char			*password;	/* secret: zeroed on free */
	char			*auth;
	char			*ca_file;
	int			 timeout;
	int			 keep;
	int			 connections;	/* allowed for a big poll */
	struct store		*store;		/* borrowed */
	const struct uidset	*seen;		/* borrowed from the store */
	struct uidset		*taken;		/* fetched in this session */

	int			 second;	/* the second connection */
	struct pop3_session	*lead;		/* second: the first one */
	struct pop3_session	*helper;	/* lead: the second one */
	unsigned		 back;		/* lead: second takes below */

	struct conn		*conn;
	struct bufferevent	*bev;		/* borrowed from conn */
	enum pop3_state		 state;
	int			 multi;		/* inside a multi-line reply */
	unsigned		 caps;
	int			 no_uidl;	/* UIDL refused: hash content */
	char			*apop_ts;
	struct pop3_mark	 mark;		/* the last poll's, to check */
	unsigned		 stat_count;	/* STAT's, when stat_ok */
	int			 stat_ok;
	int			 one_sent;	/* "UIDL n" sent with STAT */
	char			 last_uidl[POP3_UIDL_MAX + 1]; /* of nmsgs */

	struct pop3_msg		*msgs;		/* index = number - 1 */
	size_t			 nmsgs;
	size_t			 msgs_size;	/* allocated */
	unsigned		 next_retr;	/* next number to consider */
	unsigned		 next_dele;
	struct pop3_cmd		 fifo[POP3_WINDOW + 1];
	size_t			 fifo_head;
	size_t			 fifo_len;

	struct store_msg	*cur;		/* message being received */
	unsigned		 cur_num;
	struct pop3_body	 body;		/* decodes into cur's buffer */
	char			*dst0;		/* the first not counted in */
	EVP_MD_CTX		*cur_hash;	/* without UIDL */
	struct store_msg	*batch[POP3_BATCH_MSGS];
	unsigned		 batch_num[POP3_BATCH_MSGS];
	size_t			 nbatch;
	uint64_t		 batch_bytes;
	unsigned		 commits;	/* batches at the store */
	int			 dead;		/* freed while in use */

	char			*line;		/* POP3_LINE_MAX + 1 bytes */
	struct pop3_result	 result;
	char			 message[600];
	struct event		*report_ev;
	pop3_stored_cb		 stored_cb;	/* the owner's, for both */
	void			*stored_arg;
	pop3_done_cb		 cb;
	void			*arg;
};

static void	pop3_pump(struct pop3_session *);
static void	pop3_read_cb(struct bufferevent *, void *);
static void	pop3_event_cb(struct bufferevent *, short, void *);
static void	pop3_connected_cb(struct conn *, const char *, void *);
static int	pop3_reap(struct pop3_session *);

/* Take over the connection's bufferevent: callbacks, timeouts, limits. */
static void
pop3_attach(struct pop3_session *s)
{
	struct timeval	 tv = { s->timeout, 0 };

	s->bev = conn_bev(s->conn);
	bufferevent_setcb(s->bev, pop3_read_cb, NULL, pop3_event_cb, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_setwatermark(s->bev, EV_READ, 0, POP3_INPUT_HIGH);
	/* libevent reads 4 KiB at a time unless told otherwise. */
	bufferevent_set_max_single_read(s->bev, POP3_INPUT_HIGH / 4);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* Name an error class (for status and logs). */
const char *
pop3_error_name(enum pop3_error e)
{
	static const char *const names[] = { "ok", "network", "tls", "auth",
	    "protocol", "local" };

	return names[e];
}

/* Deliver the result from the loop. */
static void
pop3_report_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session	*s = arg;

	s->result.message = s->result.error == POP3_OK ? NULL : s->message;
	if (s->result.error != POP3_OK)
		s->result.mark.valid = 0;
	s->cb(s, &s->result, s->arg);
}

/* A batch handed to the store, and what to do once it is durable. */
struct pop3_commit {
	struct pop3_session	*s;
	unsigned		 n;
	unsigned		 num[POP3_BATCH_MSGS];
};

static void	pop3_report(struct pop3_session *);
static void	pop3_close(struct pop3_session *, enum pop3_error);
static void	pop3_enter(struct pop3_session *, enum pop3_state);
static void	pop3_fail(struct pop3_session *, enum pop3_error, const char *,
		    ...) __attribute__((format(printf, 3, 4)));

/* The store reports a batch: count it, queue its DELEs, go on. */
static void
pop3_committed_cb(int rc, const char *cause, const struct store_new *news,
    size_t nnews, void *arg)
{
	struct pop3_commit	*c = arg;
	struct pop3_session	*s = c->s;
	unsigned		 i;

	/* Once freed, the owner hears nothing more: it may be gone. */
	if (nnews > 0 && !s->dead)
		s->stored_cb(news, nnews, s->stored_arg);
	else if (nnews > 0)
		log_info("account=%s session=%u %zu messages stored after the "
		    "poll was abandoned", s->account, s->id, nnews);
	s->commits--;
	if (s->dead) {
		free(c);
		pop3_reap(s);
		return;
	}
	if (rc != 0)
		pop3_fail(s, POP3_ERR_LOCAL, "%s", cause);
	else {
		s->result.new += c->n;
		log_debug("account=%s session=%u committed %u messages",
		    s->account, s->id, c->n);
		/* Numbers in a batch go down on the second connection. */
		for (i = 0; i < c->n && !s->keep; i++) {
			s->msgs[c->num[i] - 1].dele = 1;
			if (s->next_dele > c->num[i] - 1)
				s->next_dele = c->num[i] - 1;
		}
	}
	free(c);
	if (s->state == POP3_DONE)
		pop3_report(s);
	else
		pop3_pump(s);
}

/* Hand the completed messages of the batch to the store. */
static void
pop3_commit(struct pop3_session *s)
{
	struct pop3_commit	*c;

	if (s->nbatch == 0)
		return;
	c = xcalloc(1, sizeof *c);
	c->s = s;
	c->n = s->nbatch;
	memcpy(c->num, s->batch_num, s->nbatch * sizeof *c->num);
	s->commits++;
	store_commit(s->store, s->batch, s->nbatch, pop3_committed_cb, c);
	s->nbatch = 0;
	s->batch_bytes = 0;
}

/* Report the end once the session is done and the store has answered. */
static void
pop3_report(struct pop3_session *s)
{
	if (s->state == POP3_DONE && s->commits == 0 && s->helper == NULL) {
		if (!s->second)
			store_release(s->store, s->account);
		event_active(s->report_ev, EV_TIMEOUT, 1);
	}
}

/* Message num goes back to the lead (both number it alike). */
static void
pop3_return(struct pop3_session *l, unsigned num)
{
	l->msgs[num - 1].want = 1;
	if (l->next_retr > num - 1)
		l->next_retr = num - 1;
}

/*
 * The second connection ends (err): the messages it asked for and has not
 * received go back to the lead, which fetches them if it is still at it;
 * otherwise they wait on the server for the next poll, and the poll says
 * why.
 */
static void
pop3_give_back(struct pop3_session *h, enum pop3_error err)
{
	struct pop3_session	*l = h->lead;
	const struct pop3_cmd	*c;
	unsigned		 n = 0;
	size_t			 i;

	if (l == NULL)
		return;
	/* RETRs not answered yet, and the message being received. */
	for (i = 0; i < h->fifo_len; i++) {
		c = &h->fifo[(h->fifo_head + i) % (POP3_WINDOW + 1)];
		if (c->kind == CMD_RETR) {
			pop3_return(l, c->num);
			n++;
		}
	}
	if (h->cur != NULL) {
		pop3_return(l, h->cur_num);
		n++;
	}
	if (n == 0)
		return;
	log_info("account=%s session=%u %u messages go back to the first "
	    "connection", h->account, h->id, n);
	if (l->state == POP3_TRANSFER)
		pop3_pump(l);
	else if (l->result.error == POP3_OK) {
		snprintf(l->message, sizeof l->message, "the second "
		    "connection failed (%.400s); %u messages are left for the "
		    "next poll", h->message, n);
		l->result.error = err;
	}
}

/* End the session: commit what is complete, close, report. */
static void
pop3_close(struct pop3_session *s, enum pop3_error err)
{
	if (s->state == POP3_DONE)
		return;
	pop3_enter(s, POP3_DONE);
	if (s->second)
		pop3_give_back(s, err);
	s->body.dst = s->dst0 = NULL;
	s->body.room = 0;
	store_msg_abort(s->cur);
	s->cur = NULL;
	s->result.error = err;
	/* Messages received in full are kept even when the session fails. */
	pop3_commit(s);
	/* The connection is closed when the caller frees the session. */
	if (s->bev != NULL)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	pop3_report(s);
}

/*
 * Fail the session: every error comes here, with its class and a message
 * for the owner, and closes the session. An error met after the end (a
 * batch the store could not commit) is still the outcome when it is the
 * first.
 */
static void __attribute__((format(printf, 3, 4)))
pop3_fail(struct pop3_session *s, enum pop3_error err, const char *fmt, ...)
{
	va_list	 ap;

	if (s->state == POP3_DONE && s->result.error != POP3_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(s->message, sizeof s->message, fmt, ap);
	va_end(ap);
	log_info("account=%s session=%u failed in %s: %s", s->account, s->id,
	    pop3_state_names[s->state], s->message);
	if (s->state == POP3_DONE)
		s->result.error = err;
	else
		pop3_close(s, err);
}

/* Change state, logging the transition. */
static void
pop3_enter(struct pop3_session *s, enum pop3_state next)
{
	log_debug("account=%s session=%u %s -> %s", s->account, s->id,
	    pop3_state_names[s->state], pop3_state_names[next]);
	s->state = next;
}

/* Send a command line (CRLF added). secret: log it masked. */
static void
pop3_send(struct pop3_session *s, int secret, const char *fmt, ...)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	va_list		 ap;
	char		 cmd[1024];

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (secret)
		log_debug("account=%s session=%u C: %.4s ********",
		    s->account, s->id, cmd);
	else
		log_debug("account=%s session=%u C: %s", s->account, s->id,
		    cmd);
	evbuffer_add_printf(out, "%s\r\n", cmd);
	explicit_bzero(cmd, sizeof cmd);
}

/* May a secret go over this connection? */
static int
pop3_secure(struct pop3_session *s)
{
	return conn_is_tls(s->conn) || s->tls == CONFIG_TLS_NONE;
}

/* Send AUTH PLAIN with its initial response (RFC 5034, RFC 4616). */
static void
pop3_auth_plain(struct pop3_session *s)
{
	size_t		 ulen = strlen(s->user), plen = strlen(s->password);
	size_t		 rawlen = ulen + plen + 2;
	unsigned char	*raw, *b64;

	raw = xmalloc(rawlen);
	raw[0] = '\0';
	memcpy(raw + 1, s->user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, s->password, plen);
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
	EVP_DigestUpdate(ctx, s->password, strlen(s->password));
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	pop3_send(s, 1, "APOP %s %s", s->user, hex);
	explicit_bzero(hex, sizeof hex);
	pop3_enter(s, POP3_APOP);
}

/* After CAPA: STLS if asked for, then log in. */
static void
pop3_after_capa(struct pop3_session *s)
{
	const char	*auth = s->auth;

	if (s->tls == CONFIG_TLS_STARTTLS && !conn_is_tls(s->conn)) {
		if ((s->caps & POP3_CAP_KNOWN) && !(s->caps & POP3_CAP_STLS)) {
			pop3_fail(s, POP3_ERR_TLS, "%s:%d does not offer STLS "
			    "(tls is \"starttls\")", s->host, s->port);
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
		pop3_send(s, 0, "USER %s", s->user);
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
	pop3_attach(s);
	s->caps = 0;
	pop3_enter(s, POP3_CAPA_TLS);
	pop3_send(s, 0, "CAPA");
}

/* Where the session logs in, as a mark records it: "user@host:port". */
static void
pop3_where(const struct pop3_session *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s@%s:%d", s->user, s->host, s->port);
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

/* Grow the message table to hold number num. */
static struct pop3_msg *
pop3_msg_at(struct pop3_session *s, unsigned long num)
{
	size_t	 old = s->msgs_size;

	if (num == 0 || num > POP3_MAILBOX_MAX)
		return NULL;
	if (num > s->msgs_size) {
		s->msgs_size = num > 2 * old ? num : 2 * old;
		s->msgs = xreallocarray(s->msgs, s->msgs_size, sizeof *s->msgs);
		memset(s->msgs + old, 0, (s->msgs_size - old) *
		    sizeof *s->msgs);
	}
	if (num > s->nmsgs)
		s->nmsgs = num;
	return &s->msgs[num - 1];
}

/* Parse "N UIDL" or "N SIZE" of a listing. */
static int
pop3_listing_line(struct pop3_session *s, char *line, int uidl)
{
	struct pop3_msg	*m;
	char		*end, *arg;
	unsigned long	 num;
	size_t		 len;

	if (pop3_listing_parse(line, &num, &arg) != 0)
		return -1;
	if (num > POP3_MAILBOX_MAX) {
		pop3_fail(s, POP3_ERR_PROTOCOL, "the server lists more than %d "
		    "messages; refusing to go on", POP3_MAILBOX_MAX);
		return 0;
	}
	if ((m = pop3_msg_at(s, num)) == NULL)
		return -1;
	m->present = 1;
	if (uidl) {
		/* RFC 1939: 1 to 70 characters in 0x21..0x7e. */
		if ((end = strchr(arg, ' ')) != NULL)
			*end = '\0';
		if (!pop3_uidl_valid(arg, len = strlen(arg)))
			return -1;
		if (num == s->nmsgs)
			memcpy(s->last_uidl, arg, len + 1);
		free(m->uidl);
		m->uidl = NULL;
		/* Most of a big mailbox is seen: keep no copy of those. */
		if (!(m->seen = uidset_has(s->seen, arg)))
			m->uidl = xstrdup(arg);
	} else {
		/* LIST only numbers the messages; its sizes are not used. */
		(void)strtoull(arg, &end, 10);
		if (end == arg)
			return -1;
	}
	return 0;
}

static void	pop3_helper_start(struct pop3_session *);

/* The listings are in: decide what to fetch and delete. */
static void
pop3_plan(struct pop3_session *s)
{
	struct pop3_msg	*m;
	size_t		 i;
	unsigned	 want = 0, seen = 0;
	char		*cause = NULL;

	if (s->second) {
		/* The second connection takes its work from the lead. */
		pop3_enter(s, POP3_TRANSFER);
		pop3_pump(s);
		return;
	}
	for (i = 0; i < s->nmsgs; i++) {
		m = &s->msgs[i];
		if (!m->present)
			continue;
		s->result.on_server++;
		if (s->no_uidl)
			m->want = 1;
		else if (m->seen) {
			seen++;
			m->dele = !s->keep;
		} else if (m->uidl == NULL)
			continue;	/* listed by LIST only: skip it */
		else if (!uidset_has(s->taken, m->uidl)) {
			/* A UIDL listed twice is fetched once. */
			m->want = 1;
			uidset_add(s->taken, m->uidl);
		}
		want += m->want;
	}
	log_info("account=%s session=%u %u messages on the server, %u new, %u "
	    "seen", s->account, s->id, s->result.on_server, want, seen);
	/* Handled in full once the poll ends well: the next may check. */
	if (!s->no_uidl && s->result.on_server == s->nmsgs &&
	    (s->keep || s->nmsgs == 0)) {
		s->result.mark.valid = 1;
		pop3_where(s, s->result.mark.where,
		    sizeof s->result.mark.where);
		s->result.mark.count = s->nmsgs;
		memcpy(s->result.mark.uidl, s->last_uidl, sizeof s->last_uidl);
	}
	if (want > 0 && store_expect(s->store, s->account, want, &cause) != 0) {
		pop3_fail(s, POP3_ERR_LOCAL, "%s", cause);
		free(cause);
		return;
	}
	pop3_enter(s, POP3_TRANSFER);
	if (s->connections > 1 && !s->no_uidl &&
	    (s->caps & POP3_CAP_PIPELINING) && want >= POP3_SPLIT_MIN &&
	    (size_t)want * 8 >= s->result.on_server)
		pop3_helper_start(s);
	pop3_pump(s);
}

/* The mark matched: nothing new, no listing needed. */
static void
pop3_quick_done(struct pop3_session *s)
{
	log_info("account=%s session=%u %u messages on the server, none new "
	    "(the count and the last UIDL are as the last poll left them)",
	    s->account, s->id, s->stat_count);
	s->result.on_server = s->stat_count;
	s->result.quick = 1;
	s->result.mark = s->mark;
	pop3_enter(s, POP3_TRANSFER);
	pop3_pump(s);
}

/* List the whole mailbox: UIDL (then LIST when the server has no UIDL). */
static void
pop3_list_all(struct pop3_session *s)
{
	/* LIST is only needed to number messages without UIDL. */
	pop3_send(s, 0, "UIDL");
	pop3_enter(s, POP3_UIDL);
}

/*
 * Logged in: with the last poll's mark, STAT and the last message's UIDL
 * first (one round trip with PIPELINING); otherwise the full listing.
 */
static void
pop3_look(struct pop3_session *s)
{
	if (!s->mark.valid) {
		pop3_list_all(s);
		return;
	}
	pop3_send(s, 0, "STAT");
	if (s->mark.count > 0 && (s->caps & POP3_CAP_PIPELINING)) {
		pop3_send(s, 0, "UIDL %u", s->mark.count);
		s->one_sent = 1;
	}
	pop3_enter(s, POP3_STAT);
}

/* STAT answered: "+OK count octets". */
static void
pop3_stat_response(struct pop3_session *s, const char *line)
{
	unsigned long	 n;

	if (pop3_stat_parse(line, &n) == 0 && n <= POP3_MAILBOX_MAX) {
		s->stat_ok = 1;
		s->stat_count = n;
	}
	if (s->one_sent)
		pop3_enter(s, POP3_UIDL_ONE);	/* its answer is next */
	else if (!s->stat_ok || s->stat_count != s->mark.count)
		pop3_list_all(s);
	else if (s->stat_count == 0)
		pop3_quick_done(s);
	else {
		pop3_send(s, 0, "UIDL %u", s->stat_count);
		pop3_enter(s, POP3_UIDL_ONE);
	}
}

/* "UIDL n" answered: "+OK n uidl"; the same as the mark's, nothing new. */
static void
pop3_uidl_one_response(struct pop3_session *s, char *line)
{
	unsigned long	 n;
	char		*uidl;

	if (s->stat_ok && s->stat_count == s->mark.count &&
	    pop3_uidl_one_parse(line, &n, &uidl) == 0 &&
	    n == s->mark.count && strcmp(uidl, s->mark.uidl) == 0)
		pop3_quick_done(s);
	else
		pop3_list_all(s);
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

static int	pop3_body_more(struct pop3_body *, void *);

/* Start receiving message num. */
static void
pop3_retr_begin(struct pop3_session *s, unsigned num)
{
	char	*cause = NULL;

	s->cur_num = num;
	pop3_body_init(&s->body, pop3_body_more, s);
	s->cur = store_msg_new(s->store, s->account, s->msgs[num - 1].uidl,
	    &cause);
	if (s->cur == NULL) {
		pop3_fail(s, POP3_ERR_LOCAL, "%s", cause);
		free(cause);
		return;
	}
	if (s->no_uidl) {
		s->cur_hash = EVP_MD_CTX_new();
		EVP_DigestInit_ex(s->cur_hash, EVP_sha256(), NULL);
	}
}

/* Writing the current message failed: end the session. */
static void
pop3_disk_error(struct pop3_session *s)
{
	pop3_fail(s, POP3_ERR_LOCAL, "cannot write message %u to disk: %s",
	    s->cur_num, strerror(errno));
}

/*
 * Count the message bytes put since the last call into the current
 * message (and its hash, without UIDL). Return -1 when the session ended.
 */
static int
pop3_put_done(struct pop3_session *s)
{
	char	*p = s->dst0;
	size_t	 n = s->body.dst - s->dst0;

	s->body.dst = s->dst0 = NULL;
	s->body.room = 0;
	if (n == 0)
		return 0;
	if (s->cur_hash != NULL)
		EVP_DigestUpdate(s->cur_hash, p, n);
	if (store_msg_fill(s->cur, n) != 0) {
		pop3_disk_error(s);
		return -1;
	}
	if (store_msg_size(s->cur) > POP3_MSG_MAX) {
		pop3_fail(s, POP3_ERR_PROTOCOL, "message %u is larger than "
		    "%llu bytes; giving up", s->cur_num,
		    (unsigned long long)POP3_MSG_MAX);
		return -1;
	}
	return 0;
}

/*
 * The body decoder wants space: count in what it put since the last call,
 * and give it the free part of the current message's buffer (the store
 * writes the buffer out when full): no call into the store per line.
 */
static int
pop3_body_more(struct pop3_body *b, void *arg)
{
	struct pop3_session	*s = arg;

	if (b->dst != NULL && pop3_put_done(s) != 0)
		return -1;
	if ((b->dst = store_msg_room(s->cur, &b->room)) == NULL) {
		pop3_disk_error(s);
		return -1;
	}
	s->dst0 = b->dst;
	return 0;
}

/* The current message is complete: add it to the batch. */
static void
pop3_retr_end(struct pop3_session *s)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	char		 uid[80], *cause = NULL;
	struct pop3_msg	*m = &s->msgs[s->cur_num - 1];

	if (s->cur_hash != NULL) {
		EVP_DigestFinal_ex(s->cur_hash, md, &mdlen);
		EVP_MD_CTX_free(s->cur_hash);
		s->cur_hash = NULL;
		memcpy(uid, "sha256:", 7);
		for (i = 0; i < mdlen && i < 32; i++)
			snprintf(uid + 7 + 2 * i, 3, "%02x", md[i]);
		if (uidset_has(s->seen, uid) || uidset_has(s->taken, uid)) {
			store_msg_abort(s->cur);
			s->cur = NULL;
			m->dele = !s->keep;
			return;
		}
		store_msg_set_uidl(s->cur, uid);
		uidset_add(s->taken, uid);
		free(m->uidl);
		m->uidl = xstrdup(uid);
	}
	if (store_msg_close(s->cur, &cause) != 0) {
		pop3_fail(s, POP3_ERR_LOCAL, "%s", cause);
		free(cause);
		return;
	}
	s->result.bytes += store_msg_size(s->cur);
	s->batch_bytes += store_msg_size(s->cur);
	s->batch_num[s->nbatch] = s->cur_num;
	s->batch[s->nbatch++] = s->cur;
	s->cur = NULL;
	if (s->nbatch == POP3_BATCH_MSGS || s->batch_bytes >= POP3_BATCH_BYTES)
		pop3_commit(s);
}

/*
 * Decode a chunk of RETR data (dot stuffing undone, CRLF turned into LF)
 * into the current message and count its bytes in. Return the bytes
 * consumed (fewer when the message ended, setting *end); 0 when the
 * session ended.
 */
static size_t
pop3_retr_parse(struct pop3_session *s, const char *p, size_t len, int *end)
{
	ssize_t	 used;

	used = pop3_body_decode(&s->body, p, len, end);
	if (used < 0 || s->state != POP3_TRANSFER || pop3_put_done(s) != 0)
		return 0;
	return used;
}

/*
 * Stream RETR data from the input buffer, chunk by chunk, without copying
 * it into lines. Return 1 when the message ended, 0 when more input is
 * needed, -1 when the session ended.
 */
static int
pop3_retr_data(struct pop3_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec	 v[16];
	int			 n, i, end = 0;
	size_t			 used, total = 0;

	n = evbuffer_peek(in, -1, NULL, v, 16);
	if (n > 16)
		n = 16;
	for (i = 0; i < n && !end && s->state == POP3_TRANSFER; i++) {
		used = pop3_retr_parse(s, v[i].iov_base, v[i].iov_len, &end);
		total += used;
		if (used < v[i].iov_len && !end)
			break;		/* the session failed */
	}
	evbuffer_drain(in, total);
	if (s->state != POP3_TRANSFER)
		return -1;
	if (end) {
		pop3_retr_end(s);
		return s->state == POP3_DONE ? -1 : 1;
	}
	return 0;
}

/* The lead's next message to fetch, from the front; 0 when none is left. */
static unsigned
pop3_next(struct pop3_session *s)
{
	while (s->next_retr < s->nmsgs && !s->msgs[s->next_retr].want)
		s->next_retr++;
	if (s->next_retr == s->nmsgs)
		return 0;
	s->msgs[s->next_retr].want = 0;
	return ++s->next_retr;
}

/*
 * The second connection's next message, from the back of the lead's list,
 * and only one its own listing numbers the same with the same UIDL (a
 * message that arrived between the two listings may shift the numbers);
 * 0 when the two have met.
 */
static unsigned
pop3_take(struct pop3_session *h)
{
	struct pop3_session	*l = h->lead;
	struct pop3_msg		*m;
	size_t			 i;

	while (l != NULL && l->back > l->next_retr) {
		i = --l->back;
		m = &l->msgs[i];
		if (!m->want || i >= h->nmsgs || h->msgs[i].uidl == NULL ||
		    strcmp(h->msgs[i].uidl, m->uidl) != 0)
			continue;
		m->want = 0;
		return i + 1;
	}
	return 0;
}

/* Send more commands if the window allows; QUIT when all is done. */
static void
pop3_pump(struct pop3_session *s)
{
	size_t	 window = (s->caps & POP3_CAP_PIPELINING) ? POP3_WINDOW : 1;
	struct pop3_cmd	*c;
	unsigned	 num;

	while (s->state == POP3_TRANSFER && s->fifo_len < window) {
		while (s->next_dele < s->nmsgs && !s->msgs[s->next_dele].dele)
			s->next_dele++;
		/* DELEs only go out for committed messages (dele set). */
		c = &s->fifo[(s->fifo_head + s->fifo_len) % (POP3_WINDOW + 1)];
		if (s->next_dele < s->nmsgs) {
			c->kind = CMD_DELE;
			c->num = ++s->next_dele;
			s->msgs[c->num - 1].dele = 0;
			pop3_send(s, 0, "DELE %u", c->num);
			s->fifo_len++;
			continue;
		}
		if (s->commits >= POP3_MAX_COMMITS)
			return;		/* pop3_committed_cb pumps again */
		if ((num = s->second ? pop3_take(s) : pop3_next(s)) != 0) {
			c->kind = CMD_RETR;
			c->num = num;
			pop3_send(s, 0, "RETR %u", c->num);
			s->fifo_len++;
			continue;
		}
		break;
	}
	if (s->state != POP3_TRANSFER || s->fifo_len > 0 || s->cur != NULL)
		return;
	/* Every RETR answered: commit the rest, which may queue DELEs. */
	pop3_commit(s);
	if (s->commits > 0)
		return;		/* pop3_committed_cb pumps again */
	for (; s->next_dele < s->nmsgs; s->next_dele++)
		if (s->msgs[s->next_dele].dele)
			break;
	if (s->next_dele < s->nmsgs) {
		pop3_pump(s);
		return;
	}
	pop3_send(s, 0, "QUIT");
	pop3_enter(s, POP3_QUIT);
}

/* A status line (+OK / -ERR) in TRANSFER: the answer to the FIFO head. */
static void
pop3_transfer_response(struct pop3_session *s, int okay, const char *q)
{
	struct pop3_cmd	 c = s->fifo[s->fifo_head];

	s->fifo_head = (s->fifo_head + 1) % (POP3_WINDOW + 1);
	s->fifo_len--;
	if (c.kind == CMD_DELE) {
		if (okay)
			s->result.deleted++;
		else
			log_warnx("account=%s session=%u msg=%u DELE refused: "
			    "\"%s\"", s->account, s->id, c.num, q);
		pop3_pump(s);
		return;
	}
	if (!okay) {
		pop3_fail(s, POP3_ERR_PROTOCOL, "the server refused message %u "
		    "(RETR): \"%s\"", c.num, q);
		return;
	}
	pop3_retr_begin(s, c.num);
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
	log_debug("account=%s session=%u S: \"%s\"", s->account, s->id, q);
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
		bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
		conn_starttls(s->conn, pop3_tls_cb, s);
		break;
	case POP3_USER:
		if (!okay) {
			pop3_fail(s, POP3_ERR_AUTH, "login failed (USER): "
			    "\"%s\"", q);
			return;
		}
		pop3_send(s, 1, "PASS %s", s->password);
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
		    "identifying messages by their content", s->account, s->id);
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
	pop3_fail(s, POP3_ERR_NETWORK, "connection error in %s: %s",
	    pop3_state_names[s->state], strerror(err));
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
		if (s->cur != NULL) {
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
		if ((n = conn_read_more(s->conn, POP3_READ_BULK)) == -1)
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

	/* After the end, what the connection does is of no interest. */
	if (s->state == POP3_DONE)
		return;
	if (s->state == POP3_QUIT && (what & BEV_EVENT_EOF)) {
		pop3_close(s, POP3_OK);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		pop3_fail(s, POP3_ERR_NETWORK, "timed out after %d s waiting "
		    "for the server (in %s)", s->timeout,
		    pop3_state_names[s->state]);
	else if (what & BEV_EVENT_EOF)
		pop3_fail(s, POP3_ERR_NETWORK, "the server closed the "
		    "connection (in %s)", pop3_state_names[s->state]);
	else
		pop3_conn_error(s, EVUTIL_SOCKET_ERROR());
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
	pop3_attach(s);
	pop3_enter(s, POP3_GREETING);
	pop3_read_cb(s->bev, s);
}

/* A session for the account's server srv, not connected yet. */
static struct pop3_session *
pop3_session_new(struct event_base *base, const char *account,
    const struct config_server *srv, const char *password,
    struct store *store, pop3_done_cb cb, void *arg)
{
	struct pop3_session	*s;

	s = xcalloc(1, sizeof *s);
	s->id = conn_session_id();
	s->account = xstrdup(account);
	s->host = xstrdup(srv->host);
	s->port = srv->port;
	s->tls = srv->tls;
	s->user = xstrdup(srv->user);
	s->password = xstrdup(password);
	s->auth = xstrdup(srv->auth);
	s->ca_file = srv->ca_file ? xstrdup(srv->ca_file) : NULL;
	s->timeout = srv->timeout;
	s->keep = srv->keep;
	s->connections = srv->connections;
	s->store = store;
	s->cb = cb;
	s->arg = arg;
	s->line = xmalloc(POP3_LINE_MAX + 1);
	s->report_ev = event_new(base, -1, 0, pop3_report_cb, s);
	s->taken = uidset_new();
	return s;
}

/* Connect (TLS up at once when implicit); the greeting comes next. */
static void
pop3_connect(struct pop3_session *s)
{
	log_debug("account=%s session=%u connecting to %s:%d tls=%s",
	    s->account, s->id, s->host, s->port, config_tls_name(s->tls));
	s->conn = conn_connect(s->host, s->port, s->tls == CONFIG_TLS_IMPLICIT,
	    s->ca_file, s->timeout, pop3_connected_cb, s);
}

/* The second connection ended: add up, and let the lead report. */
static void
pop3_helper_done(struct pop3_session *h, const struct pop3_result *r,
    void *arg)
{
	struct pop3_session	*l = arg;

	l->result.new += r->new;
	l->result.bytes += r->bytes;
	l->result.deleted += r->deleted;
	log_info("account=%s session=%u done: %u messages, %llu bytes%s%s",
	    h->account, h->id, r->new, (unsigned long long)r->bytes,
	    r->error == POP3_OK ? "" : "; it ended early: ",
	    r->error == POP3_OK ? "" : r->message);
	l->helper = NULL;
	pop3_session_free(h);
	pop3_report(l);
}

/* Open the second connection of lead l, as l's account and server. */
static void
pop3_helper_start(struct pop3_session *l)
{
	struct config_server	 srv;
	struct pop3_session	*h;

	memset(&srv, 0, sizeof srv);
	srv.host = l->host;
	srv.port = l->port;
	srv.tls = l->tls;
	srv.user = l->user;
	srv.auth = l->auth;
	srv.ca_file = l->ca_file;
	srv.timeout = l->timeout;
	srv.keep = l->keep;
	srv.connections = 1;
	h = pop3_session_new(event_get_base(l->report_ev), l->account, &srv,
	    l->password, l->store, pop3_helper_done, l);
	h->stored_cb = l->stored_cb;
	h->stored_arg = l->stored_arg;
	h->second = 1;
	h->lead = l;
	h->seen = l->seen;
	l->helper = h;
	l->back = l->nmsgs;
	log_info("account=%s session=%u opening a second connection to share "
	    "the work of session=%u", h->account, h->id, l->id);
	pop3_connect(h);
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
	s->stored_cb = stored_cb;
	s->stored_arg = arg;
	pop3_where(s, where, sizeof where);
	/*
	 * A mark taken at another server or login means nothing here; nor
	 * does one of a non-empty mailbox once keep is false (the account
	 * said keep=true when it was taken): seen messages are to go.
	 */
	if (mark != NULL && mark->valid && strcmp(mark->where, where) == 0 &&
	    (s->keep || mark->count == 0))
		s->mark = *mark;
	if ((s->seen = store_seen(store, s->account, &cause)) == NULL ||
	    store_recover(store, s->account, &cause) != 0) {
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
	return s->commits > 0;
}

/* Free everything. */
static void
pop3_destroy(struct pop3_session *s)
{
	size_t	 i;

	store_msg_abort(s->cur);
	for (i = 0; i < s->nbatch; i++)
		store_msg_abort(s->batch[i]);
	if (!s->second)
		store_release(s->store, s->account);
	if (s->cur_hash != NULL)
		EVP_MD_CTX_free(s->cur_hash);
	conn_free(s->conn);
	event_free(s->report_ev);
	uidset_free(s->taken);
	for (i = 0; i < s->nmsgs; i++)
		free(s->msgs[i].uidl);
	free(s->msgs);
	explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->account);
	free(s->host);
	free(s->user);
	free(s->auth);
	free(s->ca_file);
	free(s->apop_ts);
	free(s->line);
	free(s);
}

/*
 * A use of the session ended: free it if it is dead and nothing uses it
 * any more. Return 1 when it is gone.
 */
static int
pop3_reap(struct pop3_session *s)
{
	if (!s->dead || pop3_in_use(s))
		return 0;
	pop3_destroy(s);
	return 1;
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
		s->dead = 1;
		conn_free(s->conn);
		s->conn = NULL;
		s->bev = NULL;
		return;
	}
	pop3_destroy(s);
}
