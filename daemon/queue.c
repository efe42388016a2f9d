/*
 * The outbox on the loop: see queue.h. Outcomes are written back to the
 * store by one queue.update at a time, holding every outcome since the
 * last (the outcomes of several accounts' sessions share a commit). An
 * account's next message is on its way while the last one's outcome is
 * recorded, but its final dot only goes once that outcome is durable
 * (queue_resume, smtp_release), so a crash can make at most one message go
 * out twice. A sent message's outcome is first recorded alone
 * ("delivered": one commit), and it is filed into Sent later, in batches
 * (queue_file_now), so that filing's directory flushes do not stand
 * between one message and the next. The one message that may go twice:
 * the one whose final dot was sent and whose reply was not yet recorded,
 * the floor SMTP allows. A message that went out is only forgotten here
 * once the store has filed it into Sent.
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "bus.h"
#include "config.h"
#include "queue.h"
#include "secret.h"
#include "smtp.h"
#include "store.h"

#define QUEUE_UPDATE_RETRY	5	/* seconds, after a failed update */
/*
 * Sent mail waiting to be filed into Sent: while messages go out it is
 * filed this many at a time (filing flushes two directories, which must
 * not stand between each message and the next), else at once.
 */
#define QUEUE_FILE_BATCH	32

enum qstate { Q_QUEUED, Q_SENDING, Q_DEFERRED, Q_FAILED, Q_SENT };
enum qrstate { QR_PENDING, QR_SENT, QR_FAILED };

static const char *const qstate_names[] = { "queued", "sending",
    "deferred", "failed", "sent" };
static const char *const qrstate_names[] = { "pending", "sent", "failed" };

struct qrcpt {
	char		*addr;
	enum qrstate	 state;
	char		*reply;		/* the server's, or why not */
};

/* A send --wait: answered at the message's final outcome. */
struct qwait {
	TAILQ_ENTRY(qwait)	 entry;
	queue_reply_cb		 cb;
	void			*arg;
};
TAILQ_HEAD(qwaits, qwait);

struct qitem {
	TAILQ_ENTRY(qitem)	 entry;
	long long		 id;
	char			*account;
	char			*file;
	char			*sender;
	char			*subject;
	char			*message_id;
	long long		 size;
	int			 eightbit;
	time_t			 created;
	time_t			 next_try;
	int			 attempts;
	enum qstate		 state;
	char			*last_error;
	struct qrcpt		*rcpts;
	size_t			 nrcpts;
	int			 dirty;		/* outcome not yet stored */
	int			 storing;	/* in the update in flight */
	int			 recorded;	/* its last outcome is durable */
	int			 delivered;	/* Q_SENT recorded; to file */
	struct qwaits		 waiters;
};
TAILQ_HEAD(qitems, qitem);

/* An account's sending side: at most one session. */
struct qacct {
	TAILQ_ENTRY(qacct)	 entry;
	char			*name;
	struct smtp_session	*session;
	struct qitem		*cur;		/* being sent */
	enum qstate		 cur_was;	/* its state before */
	int			 fd;		/* its file */
	const char		**rcpts;	/* its envelope */
	struct secret		*secret;	/* the SMTP server's password */
	int			 asking;	/* for it, to open a session */
	long long		 recording;	/* the message whose outcome
						 * must be durable before the
						 * next one goes; 0: none */
};
TAILQ_HEAD(qaccts, qacct);

static struct event_base	*queue_base;
static struct store	*queue_store;
static struct bus	*queue_bus;
static const struct config *queue_config;	/* main's */
static struct qitems	 queue_items = TAILQ_HEAD_INITIALIZER(queue_items);
static struct qaccts	 queue_accts = TAILQ_HEAD_INITIALIZER(queue_accts);
static struct event	*queue_timer;
static int		 queue_loaded;
/* queue.list calls that came before the outbox was loaded. */
static struct qwaits	 queue_listers = TAILQ_HEAD_INITIALIZER(queue_listers);
/*
 * queue_shutdown ran: the store may still answer what was in flight as it
 * closes; those answers change nothing here any more.
 */
static int		 queue_stopped;
static int		 queue_updating;	/* a queue.update in flight */

static void	queue_kick(void);
static json_t	*queue_list_json(void);
static void	queue_resume(void);

/* The SMTP server of an account in the configuration, or NULL. */
static const struct config_server *
queue_server(const char *account)
{
	const struct config_account *ca;

	ca = config_find_account(queue_config, account);
	return ca != NULL ? ca->smtp : NULL;
}
static void	queue_store_outcomes(void);
static void	queue_send_next(struct qacct *);

/* Find a message by queue id. */
static struct qitem *
queue_find(long long id)
{
	struct qitem	*it;

	TAILQ_FOREACH(it, &queue_items, entry)
		if (it->id == id)
			return it;
	return NULL;
}

/* The sending side of an account (made on first use). */
static struct qacct *
queue_acct(const char *name)
{
	struct qacct	*qa;
	char		*what;

	TAILQ_FOREACH(qa, &queue_accts, entry)
		if (strcmp(qa->name, name) == 0)
			return qa;
	qa = xcalloc(1, sizeof *qa);
	qa->name = xstrdup(name);
	qa->fd = -1;
	xasprintf(&what, "account=%s smtp", name);
	qa->secret = secret_new(what);
	free(what);
	secret_configure(qa->secret, queue_server(name));
	TAILQ_INSERT_TAIL(&queue_accts, qa, entry);
	return qa;
}

/* The recipients, as queue.list shows them and the store keeps them. */
static json_t *
queue_rcpts_json(const struct qitem *it)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < it->nrcpts; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s?}",
		    "address", it->rcpts[i].addr, "state",
		    qrstate_names[it->rcpts[i].state], "reply",
		    it->rcpts[i].reply));
	return a;
}

/* A message as queue.list shows it. */
static json_t *
queue_item_json(const struct qitem *it)
{
	json_t	*o;

	o = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:I, s:o, s:i, "
	    "s:s?, s:o}", "id", (json_int_t)it->id, "account", it->account,
	    "state", qstate_names[it->state], "from", it->sender,
	    "subject", it->subject, "message_id", it->message_id,
	    "size", (json_int_t)it->size, "created",
	    jsonrpc_time(it->created), "attempts", it->attempts,
	    "last_error", it->last_error, "recipients", queue_rcpts_json(it));
	json_object_set_new(o, "next_attempt", (it->state == Q_QUEUED ||
	    it->state == Q_DEFERRED) ? jsonrpc_time(it->next_try) :
	    json_null());
	return o;
}

/* Read the recipients back from the store's JSON. */
static void
queue_rcpts_load(struct qitem *it, json_t *a)
{
	json_t		*r;
	const char	*state;
	size_t		 i;

	it->rcpts = xcalloc(json_array_size(a) + 1, sizeof *it->rcpts);
	json_array_foreach(a, i, r) {
		if (json_is_string(r))		/* as queue.add takes them */
			it->rcpts[i].addr = xstrdup(json_string_value(r));
		else {
			it->rcpts[i].addr = xstrdup(json_string_value(
			    json_object_get(r, "address")));
			if (json_string_value(json_object_get(r, "reply")))
				it->rcpts[i].reply = xstrdup(
				    json_string_value(json_object_get(r,
				    "reply")));
			state = json_string_value(json_object_get(r, "state"));
			if (state != NULL && strcmp(state, "sent") == 0)
				it->rcpts[i].state = QR_SENT;
			else if (state != NULL && strcmp(state, "failed") == 0)
				it->rcpts[i].state = QR_FAILED;
		}
	}
	it->nrcpts = json_array_size(a);
}

/* Duplicate a JSON string member, or NULL. */
static char *
queue_strdup(json_t *o, const char *key)
{
	const char	*v = json_string_value(json_object_get(o, key));

	return v != NULL ? xstrdup(v) : NULL;
}

/* Make a message from a store row (queue.load) or a queue.add answer. */
static struct qitem *
queue_item_new(json_t *row)
{
	struct qitem	*it;
	const char	*state = json_string_value(json_object_get(row,
			    "state"));

	it = xcalloc(1, sizeof *it);
	TAILQ_INIT(&it->waiters);
	it->id = json_integer_value(json_object_get(row, "id"));
	it->account = queue_strdup(row, "account");
	it->file = queue_strdup(row, "file");
	it->sender = queue_strdup(row, "sender");
	it->subject = queue_strdup(row, "subject");
	it->message_id = queue_strdup(row, "message_id");
	it->last_error = queue_strdup(row, "last_error");
	it->size = json_integer_value(json_object_get(row, "size"));
	it->eightbit = json_integer_value(json_object_get(row, "eightbit"));
	it->created = json_integer_value(json_object_get(row, "created"));
	it->next_try = json_integer_value(json_object_get(row, "next_try"));
	if (it->next_try == 0)
		it->next_try = it->created;
	it->attempts = json_integer_value(json_object_get(row, "attempts"));
	if (state != NULL && strcmp(state, "delivered") == 0) {
		/* Accepted by the server before a stop: filing is left. */
		it->state = Q_SENT;
		it->delivered = it->recorded = 1;
		it->dirty = 1;
	} else if (state != NULL && strcmp(state, "deferred") == 0)
		it->state = Q_DEFERRED;
	else if (state != NULL && strcmp(state, "failed") == 0)
		it->state = Q_FAILED;
	else
		it->state = Q_QUEUED;
	queue_rcpts_load(it, json_object_get(row, "rcpts"));
	TAILQ_INSERT_TAIL(&queue_items, it, entry);
	return it;
}

/*
 * Answer every wait of ws with result (stolen) or, when it is NULL, the
 * error.
 */
static void
queue_answer_waits(struct qwaits *ws, json_t *result, int code,
    const char *error)
{
	struct qwait	*w;

	while ((w = TAILQ_FIRST(ws)) != NULL) {
		TAILQ_REMOVE(ws, w, entry);
		if (result != NULL)
			w->cb(json_incref(result), 0, NULL, w->arg);
		else
			w->cb(NULL, code, error != NULL ? error : "failed",
			    w->arg);
		free(w);
	}
	json_decref(result);
}

/*
 * Answer every waiter of a message: with result (stolen) when not NULL,
 * else with an error of that code.
 */
static void
queue_answer(struct qitem *it, json_t *result, int code, const char *error)
{
	queue_answer_waits(&it->waiters, result, code, error);
}

/* Forget a message. */
static void
queue_item_free(struct qitem *it)
{
	size_t	 i;

	TAILQ_REMOVE(&queue_items, it, entry);
	queue_answer(it, NULL, JSONRPC_ERR_FAILED,
	    "the message left the queue");
	for (i = 0; i < it->nrcpts; i++) {
		free(it->rcpts[i].addr);
		free(it->rcpts[i].reply);
	}
	free(it->rcpts);
	free(it->account);
	free(it->file);
	free(it->sender);
	free(it->subject);
	free(it->message_id);
	free(it->last_error);
	free(it);
}

/* A reply for events and --wait: the first failed recipient's, else. */
static const char *
queue_reply(const struct qitem *it, enum qrstate which)
{
	size_t	 i;

	for (i = 0; i < it->nrcpts; i++)
		if (it->rcpts[i].state == which && it->rcpts[i].reply != NULL)
			return it->rcpts[i].reply;
	return it->last_error != NULL ? it->last_error : "";
}

/* The addresses of a message's recipients in one state. */
static const char **
queue_rcpt_addrs(const struct qitem *it, enum qrstate which, size_t *n)
{
	const char	**v;
	size_t		  i;

	v = xcalloc(it->nrcpts + 1, sizeof *v);
	for (i = *n = 0; i < it->nrcpts; i++)
		if (it->rcpts[i].state == which)
			v[(*n)++] = it->rcpts[i].addr;
	return v;
}

/*
 * Tell the bus of a message's outcome: sent (filed as the Sent copy
 * message), deferred or failed for good.
 */
static void
queue_publish(const struct qitem *it, enum bus_type type, json_t *message)
{
	struct bus_event	 ev;
	const char		**rcpts, **failed = NULL;
	enum qrstate		 which;

	which = type == BUS_SENT ? QR_SENT : type == BUS_DEFERRED ?
	    QR_PENDING : QR_FAILED;
	memset(&ev, 0, sizeof ev);
	ev.type = type;
	ev.account = it->account;
	ev.id = it->id;
	ev.subject = it->subject;
	ev.rcpts = rcpts = queue_rcpt_addrs(it, which, &ev.nrcpts);
	ev.reply = queue_reply(it, which);
	if (type == BUS_SENT) {
		ev.failed = failed = queue_rcpt_addrs(it, QR_FAILED,
		    &ev.nfailed);
		ev.failed_reply = queue_reply(it, QR_FAILED);
		ev.message = json_integer_value(message);
	}
	ev.next_attempt = it->next_try;
	bus_publish(queue_bus, &ev);
	free(rcpts);
	free(failed);
}

/* Seconds before the next try after n attempts: doubling, capped. */
static time_t
queue_backoff(int n)
{
	const struct config	*cf = queue_config;
	time_t			 d = cf->queue_retry_min;

	while (--n > 0 && d < cf->queue_retry_max)
		d *= 2;
	return d < cf->queue_retry_max ? d : cf->queue_retry_max;
}

/* Free an account's current envelope and file. */
static void
queue_acct_release(struct qacct *qa)
{
	if (qa->fd != -1)
		close(qa->fd);
	qa->fd = -1;
	free(qa->rcpts);
	qa->rcpts = NULL;
	qa->cur = NULL;
}

/* A time for a log line: local, to the second. */
static const char *
queue_when(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
	return buf;
}

/*
 * Decide what a message's last attempt means once its recipients have
 * been updated: every recipient settled -> sent (when any got it) or
 * failed; else deferred, or failed when it has waited past the expiry.
 */
static void
queue_settle(struct qitem *it, time_t now)
{
	const struct config	*cf = queue_config;
	size_t			 i, pending = 0, sent = 0;
	char			 when[32];

	for (i = 0; i < it->nrcpts; i++) {
		pending += it->rcpts[i].state == QR_PENDING;
		sent += it->rcpts[i].state == QR_SENT;
	}
	if (pending > 0 && now - it->created >= cf->queue_expire) {
		for (i = 0; i < it->nrcpts; i++) {
			if (it->rcpts[i].state != QR_PENDING)
				continue;
			it->rcpts[i].state = QR_FAILED;
			free(it->rcpts[i].reply);
			xasprintf(&it->rcpts[i].reply, "gave up after %lld "
			    "hours in the queue: %s", (long long)(now -
			    it->created) / 3600, it->last_error ?
			    it->last_error : "not delivered");
		}
		pending = 0;
	}
	if (pending > 0) {
		it->state = Q_DEFERRED;
		it->next_try = now + queue_backoff(it->attempts);
		log_info("queue: account=%s msg=%lld deferred until %s: %s",
		    it->account, it->id, queue_when(it->next_try, when,
		    sizeof when), it->last_error ? it->last_error : "");
		queue_publish(it, BUS_DEFERRED, NULL);
		/* A --wait is not kept for days: it hears the first delay. */
		if (!TAILQ_EMPTY(&it->waiters)) {
			char	*msg;

			xasprintf(&msg, "deferred, still queued as %lld (next "
			    "try in %lld s): %s", it->id, (long long)(
			    it->next_try - now), queue_reply(it, QR_PENDING));
			queue_answer(it, NULL, JSONRPC_ERR_TEMPFAIL, msg);
			free(msg);
		}
	} else if (sent > 0)
		it->state = Q_SENT;		/* announced once filed */
	else {
		it->state = Q_FAILED;
		log_warnx("queue: account=%s msg=%lld failed: %s",
		    it->account, it->id, queue_reply(it, QR_FAILED));
		queue_publish(it, BUS_SEND_FAILED, NULL);
		queue_answer(it, NULL, JSONRPC_ERR_FAILED,
		    queue_reply(it, QR_FAILED));
	}
	it->dirty = 1;
}

/*
 * Put what an attempt did into the message. A recipient the server
 * answered gets its answer; otherwise the message's error decides:
 * temporary ones, and trouble with credentials or TLS (a person can fix
 * the configuration and flush), keep the recipient pending; the rest fail
 * it.
 */
static void
queue_apply(struct qitem *it, const struct smtp_result *res,
    const char **rcpts, size_t nrcpts)
{
	const struct smtp_rcpt_result *rr;
	struct qrcpt	*qr;
	size_t		 i, j;
	int		 keep;

	free(it->last_error);
	it->last_error = res->message != NULL ? xstrdup(res->message) : NULL;
	keep = res->temporary || res->error == SMTP_ERR_AUTH ||
	    res->error == SMTP_ERR_TLS;
	for (i = 0; i < nrcpts && i < res->nrcpts; i++) {
		rr = &res->rcpts[i];
		for (j = 0; j < it->nrcpts; j++)
			if (it->rcpts[j].addr == rcpts[i])
				break;
		if (j == it->nrcpts)
			continue;
		qr = &it->rcpts[j];
		free(qr->reply);
		qr->reply = NULL;
		if (rr->accepted)
			qr->state = QR_SENT;
		else if (rr->code != 0 && !rr->temporary)
			qr->state = QR_FAILED;
		else if (rr->code == 0 && !keep)
			qr->state = QR_FAILED;
		if (rr->code != 0)
			xasprintf(&qr->reply, "%d%s%s %s", rr->code,
			    rr->enhanced != NULL ? " " : "", rr->enhanced ?
			    rr->enhanced : "", rr->text ? rr->text : "");
		else if (rr->text != NULL || res->message != NULL)
			qr->reply = xstrdup(rr->text != NULL ? rr->text :
			    res->message);
	}
}

/* Is a message waiting for a try now (or at all)? */
static int
queue_due(const struct qitem *it, time_t now)
{
	return (it->state == Q_QUEUED || it->state == Q_DEFERRED) &&
	    it->next_try <= now;
}

/*
 * The account's server cannot be reached, or no session can be opened
 * (why): each due message of the account but skip counts an attempt that
 * failed so, and is settled (deferred, with the event, and the answer to
 * a send --wait) as if it had been tried.
 */
static void
queue_fail_due(struct qacct *qa, const struct qitem *skip, const char *why,
    time_t now)
{
	struct qitem	*it;

	TAILQ_FOREACH(it, &queue_items, entry) {
		if (it == skip || strcmp(it->account, qa->name) != 0 ||
		    !queue_due(it, now))
			continue;
		free(it->last_error);
		it->last_error = why != NULL ? xstrdup(why) : NULL;
		it->attempts++;
		queue_settle(it, now);
	}
}

/* The session finished a message. */
static void
queue_sent_cb(struct smtp_session *s, const struct smtp_result *res,
    void *arg)
{
	struct qacct	*qa = arg;
	struct qitem	*it = qa->cur;
	time_t		 now = time(NULL);

	(void)s;
	/*
	 * A password the server refused that came from password_command's
	 * cache: the command is asked again and the message tried again at
	 * once (the session is over; its closed_cb starts the next), before
	 * the attempt counts as failed.
	 */
	if (it != NULL && res->error == SMTP_ERR_AUTH &&
	    secret_refused(qa->secret)) {
		it->state = qa->cur_was;
		queue_acct_release(qa);
		if (!res->closed)
			smtp_quit(qa->session);
		return;
	}
	if (it != NULL) {
		it->attempts++;
		queue_apply(it, res, qa->rcpts, res->nrcpts);
		queue_settle(it, now);
		log_debug("queue: account=%s msg=%lld: %s", it->account,
		    it->id, qstate_names[it->state]);
		if (res->closed && it->state == Q_DEFERRED)
			queue_fail_due(qa, it, it->last_error, now);
		qa->recording = it->id;
		it->recorded = 0;
	}
	queue_acct_release(qa);
	queue_store_outcomes();
	if (!res->closed)
		queue_send_next(qa);
}

/* The session is over. */
static void
queue_closed_cb(struct smtp_session *s, const struct smtp_result *res,
    void *arg)
{
	struct qacct	*qa = arg;

	if (res->error != SMTP_OK && res->message != NULL)
		log_debug("queue: account=%s session ended: %s", qa->name,
		    res->message);
	smtp_session_free(s);
	qa->session = NULL;
	queue_store_outcomes();		/* sent mail may wait to be filed */
	queue_kick();
}

/* Open a message's file under data_dir/queue. */
static int
queue_open(const struct qitem *it)
{
	char	*path;
	int	 fd;

	xasprintf(&path, "%s/queue/%s", queue_config->data_dir, it->file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	return fd;
}

/* Send the account's next due message on its session, or end it. */
static void
queue_send_next(struct qacct *qa)
{
	struct smtp_envelope	 env;
	struct qitem		*it;
	time_t			 now = time(NULL);
	size_t			 i, n;

	if (qa->session == NULL || qa->cur != NULL)
		return;
	TAILQ_FOREACH(it, &queue_items, entry)
		if (strcmp(it->account, qa->name) == 0 && queue_due(it, now))
			break;
	if (it == NULL) {
		smtp_quit(qa->session);
		return;
	}
	if ((qa->fd = queue_open(it)) == -1) {
		free(it->last_error);
		xasprintf(&it->last_error, "cannot open queue/%s: %s",
		    it->file, strerror(errno));
		for (i = 0; i < it->nrcpts; i++)
			if (it->rcpts[i].state == QR_PENDING)
				it->rcpts[i].state = QR_FAILED;
		queue_settle(it, now);
		queue_store_outcomes();
		queue_send_next(qa);
		return;
	}
	qa->rcpts = xcalloc(it->nrcpts + 1, sizeof *qa->rcpts);
	for (i = n = 0; i < it->nrcpts; i++)
		if (it->rcpts[i].state == QR_PENDING)
			qa->rcpts[n++] = it->rcpts[i].addr;
	qa->cur = it;
	qa->cur_was = it->state;
	it->state = Q_SENDING;
	memset(&env, 0, sizeof env);
	env.from = it->sender;
	env.rcpts = qa->rcpts;
	env.nrcpts = n;
	env.fd = qa->fd;
	env.size = it->size;
	env.eightbit = it->eightbit;
	/* Its final dot waits until the last outcome is durable. */
	env.hold_dot = qa->recording != 0;
	smtp_send(qa->session, &env, queue_sent_cb, qa);
}

/* Defer an account's due messages without trying (no server, no password). */
static void
queue_acct_fail(struct qacct *qa, const char *why)
{
	queue_fail_due(qa, NULL, why, time(NULL));
	queue_store_outcomes();
}

/* The password is in hand (or none is needed): open the session, send. */
static void
queue_secret_cb(const char *password, const char *error, void *arg)
{
	struct qacct			*qa = arg;
	const struct config_server	*srv = queue_server(qa->name);

	qa->asking = 0;
	if (srv == NULL) {
		queue_acct_fail(qa, config_find_account(queue_config,
		    qa->name) == NULL ? "no such account in the "
		    "configuration" : "the account has no SMTP server");
		return;
	}
	if (password == NULL && error != NULL) {
		queue_acct_fail(qa, error);
		return;
	}
	qa->session = smtp_session_new(queue_base, srv, password, NULL,
	    queue_closed_cb, qa);
	queue_send_next(qa);
}

/* Begin sending an account's due messages unless it already is. */
static void
queue_acct_begin(struct qacct *qa)
{
	if (qa->session != NULL || qa->asking || qa->recording != 0)
		return;
	qa->asking = 1;
	secret_get(qa->secret, queue_secret_cb, qa);
}

/* Start sessions for accounts with due messages; time the next try. */
static void
queue_kick(void)
{
	struct qitem	*it;
	struct timeval	 tv = { 0, 0 };
	time_t		 now = time(NULL), next = 0;

	if (!queue_loaded)
		return;
	TAILQ_FOREACH(it, &queue_items, entry) {
		if (queue_due(it, now))
			queue_acct_begin(queue_acct(it->account));
		else if ((it->state == Q_QUEUED || it->state == Q_DEFERRED) &&
		    (next == 0 || it->next_try < next))
			next = it->next_try;
	}
	evtimer_del(queue_timer);
	if (next != 0) {
		tv.tv_sec = next > now ? next - now : 0;
		evtimer_add(queue_timer, &tv);
	}
}

/* The retry timer. */
static void
queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (queue_updating == 0 && queue_loaded)
		queue_store_outcomes();		/* a failed update, again */
	queue_kick();
}

/* The store recorded a batch of outcomes. */
static void
queue_updated_cb(json_t *result, int code, const char *error, void *arg)
{
	struct qitem	*it, *next;
	json_t		*filed = json_object_get(result, "filed"), *mid;
	char		 key[32];
	struct timeval	 tv = { QUEUE_UPDATE_RETRY, 0 };

	(void)code;
	(void)arg;
	queue_updating = 0;
	if (queue_stopped) {
		json_decref(result);
		return;
	}
	for (it = TAILQ_FIRST(&queue_items); it != NULL; it = next) {
		next = TAILQ_NEXT(it, entry);
		if (!it->storing)
			continue;
		it->storing = 0;
		if (error != NULL) {
			it->dirty = 1;
			continue;
		}
		it->recorded = 1;
		if (it->state != Q_SENT)
			continue;
		if (!it->delivered) {
			/* Its outcome is durable; filing into Sent is next. */
			it->delivered = 1;
			it->dirty = 1;
			continue;
		}
		snprintf(key, sizeof key, "%lld", it->id);
		mid = json_object_get(filed, key);
		log_info("queue: account=%s msg=%lld sent%s", it->account,
		    it->id, mid != NULL ? ", filed into Sent" : "");
		queue_publish(it, BUS_SENT, mid);
		queue_answer(it, queue_item_json(it), 0, NULL);
		queue_item_free(it);
	}
	json_decref(result);
	if (error != NULL) {
		log_warnx("queue: cannot record outcomes (trying again in "
		    "%d s): %s", QUEUE_UPDATE_RETRY, error);
		evtimer_add(queue_timer, &tv);
		return;
	}
	/* Sending goes on first: then filing knows whether it may wait. */
	queue_resume();
	queue_store_outcomes();
	queue_kick();
}

/*
 * Go on sending for each account whose last outcome is now durable: let
 * the held final dot of its next message go, or start that message. Only
 * then can the server deliver the next one (DESIGN.md: an outcome recorded
 * before the next is sent): after a crash, the one message that may go out
 * twice is the one whose final dot was sent and whose reply was not
 * recorded.
 */
static void
queue_resume(void)
{
	struct qacct	*qa;
	struct qitem	*it;

	TAILQ_FOREACH(qa, &queue_accts, entry) {
		if (qa->recording == 0)
			continue;
		it = queue_find(qa->recording);
		if (it != NULL && !it->recorded)
			continue;
		qa->recording = 0;
		if (qa->cur != NULL && qa->session != NULL)
			smtp_release(qa->session);
		else
			queue_send_next(qa);
	}
}

/*
 * Is it time to file sent mail into Sent? At once when no message is on
 * its way or waiting for its outcome to be recorded; else once
 * QUEUE_FILE_BATCH are waiting (the rest go when the sending stops).
 */
static int
queue_file_now(void)
{
	struct qacct	*qa;
	struct qitem	*it;
	int		 n = 0;

	TAILQ_FOREACH(it, &queue_items, entry)
		n += it->delivered && it->dirty;
	if (n >= QUEUE_FILE_BATCH)
		return 1;
	TAILQ_FOREACH(qa, &queue_accts, entry)
		if (qa->cur != NULL || qa->recording != 0)
			return 0;
	return 1;
}

/* Hand every outcome not yet stored to the store (one update at a time). */
static void
queue_store_outcomes(void)
{
	struct qitem	*it;
	const struct config_account *ca;
	json_t		*items, *params;
	const char	*state;
	int		 file;

	if (queue_updating)
		return;
	file = queue_file_now();
	items = json_array();
	TAILQ_FOREACH(it, &queue_items, entry) {
		if (!it->dirty || (it->delivered && !file))
			continue;
		/* A sent message is first recorded as delivered, then filed. */
		state = it->state == Q_SENDING ? "queued" :
		    it->state == Q_SENT && !it->delivered ? "delivered" :
		    qstate_names[it->state];
		ca = config_find_account(queue_config, it->account);
		json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s, "
		    "s:i, s:I, s:s?, s:o, s:b}", "id", (json_int_t)it->id,
		    "account", it->account, "file", it->file, "state", state,
		    "attempts", it->attempts, "next_try",
		    (json_int_t)it->next_try, "last_error", it->last_error,
		    "rcpts", queue_rcpts_json(it), "save_sent", ca == NULL ||
		    ca->save_sent));
		it->dirty = 0;
		it->storing = 1;
	}
	if (json_array_size(items) == 0) {
		json_decref(items);
		return;
	}
	queue_updating = 1;
	params = json_pack("{s:o}", "items", items);
	store_request(queue_store, "queue.update", params, queue_updated_cb,
	    NULL);
	json_decref(params);
}

/* The store's rows are in: the queue starts. */
static void
queue_loaded_cb(json_t *result, int code, const char *error, void *arg)
{
	json_t	*row;
	size_t	 i;

	(void)code;
	(void)arg;
	if (queue_stopped) {
		json_decref(result);
		return;
	}
	if (error != NULL) {
		log_warnx("queue: cannot load the outbox: %s", error);
		queue_answer_waits(&queue_listers, NULL, JSONRPC_ERR_FAILED,
		    "the outbox could not be loaded");
		json_decref(result);
		return;
	}
	json_array_foreach(json_object_get(result, "items"), i, row)
		queue_item_new(row);
	json_decref(result);
	queue_loaded = 1;
	queue_answer_waits(&queue_listers, queue_list_json(), 0, NULL);
	if (!TAILQ_EMPTY(&queue_items))
		log_info("queue: %zu message%s in the outbox", i,
		    i == 1 ? "" : "s");
	queue_kick();
}

/* Load the outbox from st and start sending on base, as cf says. */
void
queue_init(struct event_base *base, struct store *st, struct bus *bus,
    const struct config *cf)
{
	queue_base = base;
	queue_store = st;
	queue_bus = bus;
	queue_config = cf;
	queue_timer = evtimer_new(base, queue_timer_cb, NULL);
	store_request(st, "queue.load", NULL, queue_loaded_cb, NULL);
}

/* The configuration cf is in force: accounts may have changed; try. */
void
queue_reconfigure(const struct config *cf)
{
	struct qacct	*qa;

	queue_config = cf;
	TAILQ_FOREACH(qa, &queue_accts, entry)
		secret_configure(qa->secret, queue_server(qa->name));
	queue_kick();
}

/* Stop: sessions dropped (what was in flight goes again after a start). */
void
queue_shutdown(void)
{
	struct qacct	*qa;

	queue_stopped = 1;
	queue_loaded = 0;
	while ((qa = TAILQ_FIRST(&queue_accts)) != NULL) {
		TAILQ_REMOVE(&queue_accts, qa, entry);
		if (qa->session != NULL)
			smtp_session_free(qa->session);
		queue_acct_release(qa);
		secret_free(qa->secret);
		free(qa->name);
		free(qa);
	}
	while (!TAILQ_EMPTY(&queue_items))
		queue_item_free(TAILQ_FIRST(&queue_items));
	queue_answer_waits(&queue_listers, NULL, JSONRPC_ERR_FAILED,
	    "the daemon is stopping");
	if (queue_timer != NULL)
		event_free(queue_timer);
	queue_timer = NULL;
}

/* A send waits for the store. */
struct queue_add_req {
	queue_reply_cb	 cb;
	void		*arg;
	int		 wait;
	json_t		*params;
};

/* The message is durable: answer (or wait for the outcome) and send. */
static void
queue_added_cb(json_t *result, int code, const char *error, void *arg)
{
	struct queue_add_req	*q = arg;
	struct qitem		*it;
	struct qwait		*w;

	if (error == NULL && queue_stopped) {
		json_decref(result);
		result = NULL;
		code = JSONRPC_ERR_TEMPFAIL;
		error = "queued, but the daemon is stopping: it goes out after "
		    "the next start";
	}
	if (error != NULL) {
		q->cb(NULL, code, error, q->arg);
		json_decref(q->params);
		free(q);
		return;
	}
	/* What the store answered, with what the request said. */
	json_object_update_missing(result, q->params);
	it = queue_item_new(result);
	log_info("queue: account=%s msg=%lld queued for %zu recipient%s, "
	    "%lld bytes", it->account, it->id, it->nrcpts, it->nrcpts == 1 ?
	    "" : "s", it->size);
	if (q->wait) {
		w = xcalloc(1, sizeof *w);
		w->cb = q->cb;
		w->arg = q->arg;
		TAILQ_INSERT_TAIL(&it->waiters, w, entry);
	} else
		q->cb(json_pack("{s:I, s:s, s:s?, s:I, "
		    "s:I}", "id", (json_int_t)it->id, "state", "queued",
		    "message_id", it->message_id, "size",
		    (json_int_t)it->size, "recipients",
		    (json_int_t)it->nrcpts), 0, NULL, q->arg);
	json_decref(q->params);
	json_decref(result);
	free(q);
	queue_kick();
}

/*
 * Queue a message: params as queue.add takes them (store-queue.c), their
 * recipients checked. Answer once it is durable, or with wait once it is
 * sent or failed for good.
 */
void
queue_add(json_t *params, int wait, queue_reply_cb cb, void *arg)
{
	struct queue_add_req	*q;

	q = xcalloc(1, sizeof *q);
	q->cb = cb;
	q->arg = arg;
	q->wait = wait;
	/* A sendmail message's account and sender come back from the store. */
	q->params = json_pack("{s:O?, s:O?, s:O, s:O?}", "account",
	    json_object_get(params, "account"), "sender",
	    json_object_get(params, "sender"), "rcpts",
	    json_object_get(params, "rcpts"), "subject",
	    json_object_get(params, "subject"));
	store_request(queue_store, "queue.add", params, queue_added_cb, q);
}

/* Every message in the outbox, as JSON. */
static json_t *
queue_list_json(void)
{
	struct qitem	*it;
	json_t		*a = json_array();

	TAILQ_FOREACH(it, &queue_items, entry)
		json_array_append_new(a, queue_item_json(it));
	return a;
}

/*
 * Every message in the outbox, to cb (result stolen). Until the store has
 * loaded the outbox at a start, the list is not known: the answer waits
 * for the load, never saying the outbox is empty when it is not.
 */
void
queue_list(queue_reply_cb cb, void *arg)
{
	struct qwait	*w;

	if (queue_loaded) {
		cb(queue_list_json(), 0, NULL, arg);
		return;
	}
	if (queue_stopped) {
		cb(NULL, JSONRPC_ERR_FAILED, "the daemon is stopping", arg);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&queue_listers, w, entry);
}

/* Retry every waiting message now; return how many. */
int
queue_flush(void)
{
	struct qitem	*it;
	time_t		 now = time(NULL);
	int		 n = 0;

	TAILQ_FOREACH(it, &queue_items, entry) {
		if (it->state != Q_QUEUED && it->state != Q_DEFERRED)
			continue;
		it->next_try = now;
		n++;
	}
	queue_kick();
	return n;
}

/* A cancel waits for the store. */
struct queue_cancel_req {
	queue_reply_cb	 cb;
	void		*arg;
};

/* queue.cancel answered by the store. */
static void
queue_cancelled_cb(json_t *result, int code, const char *error, void *arg)
{
	struct queue_cancel_req	*q = arg;
	struct qitem		*it;

	if (error == NULL && !queue_stopped && (it = queue_find(
	    json_integer_value(json_object_get(result, "id")))) != NULL) {
		queue_answer(it, NULL, JSONRPC_ERR_FAILED, "cancelled");
		queue_item_free(it);
	}
	q->cb(result, code, error, q->arg);
	free(q);
}

/* Remove a message that is not being sent; cb answers (result stolen). */
void
queue_cancel(long long id, queue_reply_cb cb, void *arg)
{
	struct qitem		*it = queue_find(id);
	struct queue_cancel_req	*q;
	json_t			*params;
	char			 msg[128];

	if (it == NULL) {
		snprintf(msg, sizeof msg, "no queued message %lld", id);
		cb(NULL, JSONRPC_ERR_NOT_FOUND, msg, arg);
		return;
	}
	if (it->state == Q_SENDING || it->state == Q_SENT || it->storing) {
		snprintf(msg, sizeof msg, "message %lld is being sent; try "
		    "again in a moment", id);
		cb(NULL, JSONRPC_ERR_TEMPFAIL, msg, arg);
		return;
	}
	q = xcalloc(1, sizeof *q);
	q->cb = cb;
	q->arg = arg;
	params = json_pack("{s:I}", "id", (json_int_t)id);
	store_request(queue_store, "queue.cancel", params, queue_cancelled_cb,
	    q);
	json_decref(params);
}

/* Counts by state, for status. */
json_t *
queue_status(void)
{
	struct qitem	*it;
	json_int_t	 n[5] = { 0, 0, 0, 0, 0 };

	TAILQ_FOREACH(it, &queue_items, entry)
		n[it->state]++;
	return json_pack("{s:I, s:I, s:I, s:I}", "queued", n[Q_QUEUED],
	    "sending", n[Q_SENDING] + n[Q_SENT], "deferred", n[Q_DEFERRED],
	    "failed", n[Q_FAILED]);
}
