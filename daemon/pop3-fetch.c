/*
 * A POP3 poll once logged in (pop3.c holds the conversation up to there,
 * pop3-int.h the session): what to fetch and delete, and the transfer.
 *
 * A poll that handled the whole mailbox (every message stored or seen
 * before, none deleted) leaves a mark: the message count and the last
 * message's UIDL. The next poll given that mark sends STAT and "UIDL n"
 * (pipelined when it can) and, when both match, has nothing new to fetch
 * without the full listing, which on a big mailbox is most of the server's
 * work. This relies on new mail being added at the end of the maildrop, as
 * servers do; the caller bounds how many polls in a row may trust a mark.
 * Otherwise the listing (UIDL, or LIST without it) is parsed line by line
 * into the message table, and pop3_plan decides what to RETR and DELE.
 *
 * De-duplication is by UIDL. A server without UIDL gets every message
 * downloaded and identified by the SHA-256 of its content; one already
 * stored is dropped (so keep=true on such a server costs a full download
 * per poll, but never stores a duplicate).
 *
 * In TRANSFER the session keeps a FIFO of commands sent and not yet
 * answered (RETR, DELE); with PIPELINING up to POP3_WINDOW of them are in
 * flight, otherwise one. Messages are streamed to the store as they
 * arrive, parsed in place in the input buffer: CRLF becomes LF, dot
 * stuffing is undone, and nothing of a message is held in memory beyond
 * the bounded input buffer, whatever its size or the length of its lines.
 * Completed messages are committed in batches (store_commit, on the
 * store's worker thread, while the next batch streams in); with keep=false
 * a message is DELEted only after its batch is committed, and deletion
 * happens at QUIT.
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
 * ended. The second connection logs under its own session=N, named once
 * when it opens.
 */
#include "autoconf.h"

#include <errno.h>
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
#include "pop3.h"
#include "pop3-int.h"
#include "pop3-wire.h"
#include "store.h"
#include "uidset.h"

/*
 * Batches at the store at once: past that, no new RETR goes out until
 * one is committed, so a slow disk bounds the open files and memory.
 */
#define POP3_MAX_COMMITS	16
#define POP3_MSG_MAX		(256ULL * 1024 * 1024)
#define POP3_MAILBOX_MAX	500000		/* messages on a server */
#define POP3_SPLIT_MIN		128		/* new messages for two links */

static void	pop3_helper_start(struct pop3_session *);
static int	pop3_body_more(struct pop3_body *, void *);

/* Where the session logs in, as a mark records it: "user@host:port". */
void
pop3_where(const struct pop3_session *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s@%s:%d", s->c.user, s->c.host, s->c.port);
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
int
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
		if (!(m->seen = uidset_has(s->c.seen, arg)))
			m->uidl = xstrdup(arg);
	} else {
		/* LIST only numbers the messages; its sizes are not used. */
		(void)strtoull(arg, &end, 10);
		if (end == arg)
			return -1;
	}
	return 0;
}

/* The mark matched: nothing new, no listing needed. */
static void
pop3_quick_done(struct pop3_session *s)
{
	log_info("account=%s session=%u %u messages on the server, none new "
	    "(the count and the last UIDL are as the last poll left them)",
	    s->c.account, s->c.id, s->stat_count);
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
void
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
void
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
void
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

/* The listings are in: decide what to fetch and delete. */
void
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
			m->dele = !s->c.keep;
		} else if (m->uidl == NULL)
			continue;	/* listed by LIST only: skip it */
		else if (!uidset_has(s->c.taken, m->uidl)) {
			/* A UIDL listed twice is fetched once. */
			m->want = 1;
			uidset_add(s->c.taken, m->uidl);
		}
		want += m->want;
	}
	log_info("account=%s session=%u %u messages on the server, %u new, %u "
	    "seen", s->c.account, s->c.id, s->result.on_server, want, seen);
	/* Handled in full once the poll ends well: the next may check. */
	if (!s->no_uidl && s->result.on_server == s->nmsgs &&
	    (s->c.keep || s->nmsgs == 0)) {
		s->result.mark.valid = 1;
		pop3_where(s, s->result.mark.where,
		    sizeof s->result.mark.where);
		s->result.mark.count = s->nmsgs;
		memcpy(s->result.mark.uidl, s->last_uidl, sizeof s->last_uidl);
	}
	if (want > 0 && store_expect(s->c.store, s->c.account, want,
	    &cause) != 0) {
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

/* The store committed a batch (session.c): count it, queue its DELEs. */
void
pop3_committed(void *arg, int rc, const char *cause, const uint32_t *num,
    size_t n)
{
	struct pop3_session	*s = arg;
	size_t			 i;

	if (rc != 0)
		pop3_fail(s, POP3_ERR_LOCAL, "%s", cause);
	else {
		s->result.new += n;
		/* Numbers in a batch go down on the second connection. */
		for (i = 0; i < n && !s->c.keep; i++) {
			s->msgs[num[i] - 1].dele = 1;
			if (s->next_dele > num[i] - 1)
				s->next_dele = num[i] - 1;
		}
	}
	if (s->state == POP3_DONE)
		pop3_report(s);
	else
		pop3_pump(s);
}

/* Start receiving message num. */
static void
pop3_retr_begin(struct pop3_session *s, unsigned num)
{
	char	*cause = NULL;

	s->cur_num = num;
	pop3_body_init(&s->body, pop3_body_more, s);
	s->c.cur = store_msg_new(s->c.store, s->c.account, s->msgs[num
	    - 1].uidl, &cause);
	if (s->c.cur == NULL) {
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
	if (store_msg_fill(s->c.cur, n) != 0) {
		pop3_disk_error(s);
		return -1;
	}
	if (store_msg_size(s->c.cur) > POP3_MSG_MAX) {
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
	if ((b->dst = store_msg_room(s->c.cur, &b->room)) == NULL) {
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
		if (uidset_has(s->c.seen, uid) || uidset_has(s->c.taken, uid)) {
			store_msg_abort(s->c.cur);
			s->c.cur = NULL;
			m->dele = !s->c.keep;
			return;
		}
		store_msg_set_uidl(s->c.cur, uid);
		uidset_add(s->c.taken, uid);
		free(m->uidl);
		m->uidl = xstrdup(uid);
	}
	if (store_msg_close(s->c.cur, &cause) != 0) {
		pop3_fail(s, POP3_ERR_LOCAL, "%s", cause);
		free(cause);
		return;
	}
	s->result.bytes += store_msg_size(s->c.cur);
	if (session_add(&s->c, s->cur_num))
		session_commit(&s->c);
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
int
pop3_retr_data(struct pop3_session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->c.bev);
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

/* Message num goes back to the lead (both number it alike). */
static void
pop3_return(struct pop3_session *l, unsigned num)
{
	l->msgs[num - 1].want = 1;
	if (l->next_retr > num - 1)
		l->next_retr = num - 1;
}

/* Send more commands if the window allows; QUIT when all is done. */
void
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
		if (s->c.commits >= POP3_MAX_COMMITS)
			return;		/* pop3_committed pumps again */
		if ((num = s->second ? pop3_take(s) : pop3_next(s)) != 0) {
			c->kind = CMD_RETR;
			c->num = num;
			pop3_send(s, 0, "RETR %u", c->num);
			s->fifo_len++;
			continue;
		}
		break;
	}
	if (s->state != POP3_TRANSFER || s->fifo_len > 0 || s->c.cur != NULL)
		return;
	/* Every RETR answered: commit the rest, which may queue DELEs. */
	session_commit(&s->c);
	if (s->c.commits > 0)
		return;		/* pop3_committed pumps again */
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
void
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
			    "\"%s\"", s->c.account, s->c.id, c.num, q);
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

/*
 * The second connection ends (err): the messages it asked for and has not
 * received go back to the lead, which fetches them if it is still at it;
 * otherwise they wait on the server for the next poll, and the poll says
 * why.
 */
void
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
	if (h->c.cur != NULL) {
		pop3_return(l, h->cur_num);
		n++;
	}
	if (n == 0)
		return;
	log_info("account=%s session=%u %u messages go back to the first "
	    "connection", h->c.account, h->c.id, n);
	if (l->state == POP3_TRANSFER)
		pop3_pump(l);
	else if (l->result.error == POP3_OK) {
		snprintf(l->c.message, sizeof l->c.message, "the second "
		    "connection failed (%.400s); %u messages are left for the "
		    "next poll", h->c.message, n);
		l->result.error = err;
	}
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
	    h->c.account, h->c.id, r->new, (unsigned long long)r->bytes,
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
	srv.host = l->c.host;
	srv.port = l->c.port;
	srv.tls = l->c.tls;
	srv.user = l->c.user;
	srv.auth = l->c.auth;
	srv.ca_file = l->c.ca_file;
	srv.timeout = l->c.timeout;
	srv.keep = l->c.keep;
	srv.connections = 1;
	h = pop3_session_new(event_get_base(l->c.report_ev), l->c.account, &srv,
	    l->c.password, l->c.store, pop3_helper_done, l);
	h->c.stored_cb = l->c.stored_cb;
	h->c.stored_arg = l->c.stored_arg;
	h->second = 1;
	h->lead = l;
	h->c.seen = l->c.seen;
	l->helper = h;
	l->back = l->nmsgs;
	log_info("account=%s session=%u opening a second connection to share "
	    "the work of session=%u", h->c.account, h->c.id, l->c.id);
	pop3_connect(h);
}
