/*
 * The owner of the fetching sessions: one poll timer per POP3 or IMAP
 * account, the poll in progress (never two at once: a pop3 session, or an
 * imap session syncing every folder), its password (secret.c), results and
 * errors for status. It starts each session with what it needs, hears back
 * through callbacks, and tells the bus: a stored batch of new mail, the
 * end of a poll.
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "account.h"
#include "bus.h"
#include "config.h"
#include "imap.h"
#include "pop3.h"
#include "secret.h"
#include "store.h"

#define ACCOUNT_FIRST_POLL	3	/* seconds after start-up */
#define ACCOUNT_RETRY_MIN	15	/* first retry after a network error */
/*
 * Polls in a row that may trust the last one's mark (count and last UIDL)
 * instead of listing the mailbox: a server that files new mail anywhere
 * but at the end is seen through at the next full listing.
 */
#define ACCOUNT_QUICK_MAX	11

struct account_waiter {
	TAILQ_ENTRY(account_waiter)	 entry;
	account_wait_cb			 cb;
	void				*arg;
};

struct account {
	TAILQ_ENTRY(account)	 entry;
	char			*name;
	struct event		*timer;
	struct pop3_session	*session;	/* poll in progress (POP3) */
	struct imap_session	*sync;		/* or sync (IMAP) */
	struct secret		*secret;	/* the server's password */
	int			 asking;	/* for the password, to poll */
	struct timespec		 started;	/* of the poll in progress */
	time_t			 next_poll;
	time_t			 last_poll;	/* end of the last poll */
	int			 last_ok;
	const char		*last_kind;	/* static; NULL when ok */
	char			*last_message;
	unsigned		 last_new;
	unsigned		 last_on_server;
	int			 last_listed;	/* the whole mailbox listed */
	unsigned long long	 last_bytes;
	double			 last_seconds;
	unsigned long long	 total_new;
	unsigned long long	 total_bytes;
	unsigned		 failures;	/* network failures in a row */
	struct pop3_mark	 mark;		/* the last poll's */
	unsigned		 quick;		/* polls in a row that used it */
	int			 removed;	/* no longer configured */
	TAILQ_HEAD(, account_waiter) waiters;
};

static TAILQ_HEAD(, account) accounts = TAILQ_HEAD_INITIALIZER(accounts);
static struct event_base	*account_base;
static struct store		*account_store;
static struct bus		*account_bus;
static const struct config	*account_config;	/* main's */

static void	account_poll(struct account *);

/* The account's configuration, or NULL when it fetches from no server. */
static const struct config_account *
account_conf(struct account *a)
{
	const struct config_account *ca;

	ca = config_find_account(account_config, a->name);
	return ca != NULL && (ca->pop3 != NULL || ca->imap != NULL) ? ca :
	    NULL;
}

/* The server an account fetches from. */
static const struct config_server *
account_server(const struct config_account *ca)
{
	return ca->pop3 != NULL ? ca->pop3 : ca->imap;
}

/* Is a poll running (or waiting for its password)? */
static int
account_busy(const struct account *a)
{
	return a->session != NULL || a->sync != NULL || a->asking;
}

/* Find a run-time account by name. */
static struct account *
account_find(const char *name)
{
	struct account	*a;

	TAILQ_FOREACH(a, &accounts, entry)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* Arm the poll timer: delay seconds from now, plus a little jitter. */
static void
account_schedule(struct account *a, int delay)
{
	struct timeval	 tv;
	int		 jitter;

	jitter = delay >= 20 ? random() % (delay / 20 + 1) : 0;
	if (jitter > 30)
		jitter = 30;
	tv.tv_sec = delay + jitter;
	tv.tv_usec = random() % 1000000;
	evtimer_add(a->timer, &tv);
	a->next_poll = time(NULL) + tv.tv_sec;
}

/* Timer: time to poll. */
static void
account_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	account_poll(arg);
}

/* A poll ended: record it, tell the waiters, schedule the next. */
static void
account_poll_done(struct account *a, const struct account_result *r)
{
	const struct config_account	*ca = account_conf(a);
	struct account_waiter		*w;
	struct bus_event		 ev;
	struct timespec			 now;
	int				 interval, delay;

	clock_gettime(CLOCK_MONOTONIC, &now);
	a->last_seconds = (now.tv_sec - a->started.tv_sec) +
	    (now.tv_nsec - a->started.tv_nsec) / 1e9;
	a->last_poll = time(NULL);
	a->last_ok = r->ok;
	a->last_kind = r->error_kind;
	free(a->last_message);
	a->last_message = r->message ? xstrdup(r->message) : NULL;
	a->last_new = r->new;
	a->last_on_server = r->on_server;
	a->last_listed = !r->quick;
	a->last_bytes = r->bytes;
	a->total_new += r->new;
	a->total_bytes += r->bytes;
	if (r->ok)
		log_info("account=%s poll done: %u new, %llu bytes, %u "
		    "deleted on the server, %.2f s", a->name, r->new,
		    (unsigned long long)r->bytes, r->deleted, a->last_seconds);
	memset(&ev, 0, sizeof ev);
	ev.type = BUS_POLL_DONE;
	ev.account = a->name;
	ev.nnew = r->new;
	if (!r->ok) {
		ev.error = r->message ? r->message : "failed";
		ev.error_kind = r->error_kind;
	}
	bus_publish(account_bus, &ev);
	while ((w = TAILQ_FIRST(&a->waiters)) != NULL) {
		TAILQ_REMOVE(&a->waiters, w, entry);
		w->cb(a->name, r, a->last_seconds, w->arg);
		free(w);
	}
	if (a->removed || ca == NULL)
		return;
	interval = account_server(ca)->poll_interval;
	delay = interval;
	if (!r->ok && (strcmp(r->error_kind, "network") == 0 ||
	    strcmp(r->error_kind, "tls") == 0 ||
	    strcmp(r->error_kind, "space") == 0)) {
		/* Retry sooner after a network failure, backing off. */
		a->failures++;
		delay = ACCOUNT_RETRY_MIN << (a->failures < 10 ?
		    a->failures - 1 : 9);
		if (delay > interval)
			delay = interval;
	} else
		a->failures = 0;
	account_schedule(a, delay);
}

static void	account_ask(struct account *);

/* The session stored a batch: tell the bus. */
static void
account_stored_cb(const struct store_new *news, size_t n, void *arg)
{
	struct account	*a = arg;
	struct bus_mail	*mail;
	struct bus_event ev;
	size_t		 i;

	if (n == 0)
		return;
	mail = xcalloc(n, sizeof *mail);
	for (i = 0; i < n; i++) {
		mail[i].id = news[i].id;
		mail[i].folder = news[i].folder;
		mail[i].from = news[i].from;
		mail[i].subject = news[i].subject;
		mail[i].notify = news[i].notify;
	}
	memset(&ev, 0, sizeof ev);
	ev.type = BUS_NEW_MAIL;
	ev.account = a->name;
	ev.mail = mail;
	ev.nmail = n;
	bus_publish(account_bus, &ev);
	free(mail);
}

/*
 * The session reports its end. A password the server refused that came
 * from password_command's cache is asked for again, and the poll tried
 * once more at once, before the poll counts as failed: the password may
 * have been changed, or the token expired, since it was cached.
 */
/*
 * A session ended with r. A full disk is temporary (DESIGN.md): say so,
 * and try sooner. A password the server refused that came from
 * password_command's cache is asked for again, and the poll tried once
 * more at once, before the poll counts as failed: the password may have
 * been changed, or the token expired, since it was cached. Return 1 when
 * the poll goes on.
 */
static int
account_session_end(struct account *a, struct account_result *r)
{
	char	*msg = NULL;

	if (!r->ok && strcmp(r->error_kind, "local") == 0 &&
	    store_full(account_store)) {
		r->error_kind = "space";
		xasprintf(&msg, "no space left on %s: %s",
		    account_config->data_dir, r->message);
		r->message = msg;
	}
	if (!r->ok && strcmp(r->error_kind, "auth") == 0 && r->new == 0 &&
	    secret_refused(a->secret)) {
		account_ask(a);
		return 1;
	}
	account_poll_done(a, r);
	free(msg);
	return 0;
}

/* The POP3 session reports its end. */
static void
account_session_cb(struct pop3_session *s, const struct pop3_result *r,
    void *arg)
{
	struct account		*a = arg;
	struct account_result	 ar;

	a->session = NULL;
	memset(&ar, 0, sizeof ar);
	ar.ok = r->error == POP3_OK;
	ar.message = r->message;
	ar.error_kind = ar.ok ? NULL : pop3_error_name(r->error);
	ar.new = r->new;
	ar.bytes = r->bytes;
	ar.on_server = r->on_server;
	ar.deleted = r->deleted;
	ar.quick = r->quick;
	if (!account_session_end(a, &ar)) {
		a->mark = r->mark;
		a->quick = r->quick ? a->quick + 1 : 0;
	}
	pop3_session_free(s);
}

/* The IMAP sync reports its end. */
static void
account_sync_cb(struct imap_session *s, const struct imap_result *r,
    void *arg)
{
	struct account		*a = arg;
	struct account_result	 ar;

	a->sync = NULL;
	memset(&ar, 0, sizeof ar);
	ar.ok = r->error == IMAP_OK;
	ar.message = r->message;
	ar.error_kind = ar.ok ? NULL : imap_error_name(r->error);
	ar.new = r->new;
	ar.bytes = r->bytes;
	ar.on_server = r->on_server;
	ar.deleted = r->deleted;
	account_session_end(a, &ar);
	imap_session_free(s);
}

/* End a poll that never reached the server. */
static void
account_poll_failed(struct account *a, const char *msg)
{
	struct account_result	 r;

	memset(&r, 0, sizeof r);
	r.error_kind = "local";
	r.message = msg;
	log_warnx("account=%s poll failed: %s", a->name, msg);
	account_poll_done(a, &r);
}

/* The password is in hand (or not): connect. */
static void
account_secret_cb(const char *password, const char *error, void *arg)
{
	struct account			*a = arg;
	const struct config_account	*ca = account_conf(a);
	const struct pop3_mark		*mark = NULL;

	a->asking = 0;
	if (ca == NULL) {
		account_poll_failed(a, "the account has no POP3 or IMAP server "
		    "any more");
		return;
	}
	if (password == NULL) {
		account_poll_failed(a, error != NULL ? error : ca->pop3 != NULL ?
		    "no password: give pop3.password or pop3.password_command" :
		    "no password: give imap.password or imap.password_command");
		return;
	}
	if (ca->imap != NULL) {
		a->sync = imap_session_start(account_base, ca, password,
		    account_store, account_stored_cb, account_sync_cb, a);
		return;
	}
	if (ca->pop3->quick_check && a->quick < ACCOUNT_QUICK_MAX)
		mark = &a->mark;
	a->session = pop3_session_start(account_base, ca, password, mark,
	    account_store, account_stored_cb, account_session_cb, a);
}

/* Ask for the password; the poll goes on in account_secret_cb. */
static void
account_ask(struct account *a)
{
	a->asking = 1;
	secret_get(a->secret, account_secret_cb, a);
}

/* Start a poll unless one is running. */
static void
account_poll(struct account *a)
{
	if (account_busy(a) || account_conf(a) == NULL)
		return;
	evtimer_del(a->timer);
	a->next_poll = 0;
	clock_gettime(CLOCK_MONOTONIC, &a->started);
	log_debug("account=%s poll starts", a->name);
	account_ask(a);
}

/* Create the run-time state of a configured account. */
static struct account *
account_new(const char *name, const char *proto)
{
	struct account	*a;
	char		*what;

	a = xcalloc(1, sizeof *a);
	a->name = xstrdup(name);
	a->timer = evtimer_new(account_base, account_timer_cb, a);
	xasprintf(&what, "account=%s %s", name, proto);
	a->secret = secret_new(what);
	free(what);
	TAILQ_INIT(&a->waiters);
	TAILQ_INSERT_TAIL(&accounts, a, entry);
	return a;
}

/* Free an account, failing its waiters. */
static void
account_free(struct account *a)
{
	struct account_result	 r;

	a->removed = 1;
	memset(&r, 0, sizeof r);
	r.error_kind = "local";
	r.message = "the account was removed from the configuration";
	pop3_session_free(a->session);
	a->session = NULL;
	imap_session_free(a->sync);
	a->sync = NULL;
	secret_cancel(a->secret);
	a->asking = 0;
	if (!TAILQ_EMPTY(&a->waiters))
		account_poll_done(a, &r);
	TAILQ_REMOVE(&accounts, a, entry);
	event_free(a->timer);
	secret_free(a->secret);
	free(a->last_message);
	free(a->name);
	free(a);
}

/* Match the run-time accounts to the configuration cf, now in force. */
void
account_reconfigure(const struct config *cf)
{
	const struct config_server *srv;
	struct account		*a, *next;
	size_t			 i;

	account_config = cf;
	for (a = TAILQ_FIRST(&accounts); a != NULL; a = next) {
		next = TAILQ_NEXT(a, entry);
		if (account_conf(a) == NULL)
			account_free(a);
	}
	for (i = 0; i < cf->naccounts; i++) {
		if (cf->accounts[i].pop3 == NULL && cf->accounts[i].imap == NULL)
			continue;
		srv = account_server(&cf->accounts[i]);
		if ((a = account_find(cf->accounts[i].name)) != NULL) {
			/* A new password may have come with the reload. */
			secret_configure(a->secret, srv);
			if (!account_busy(a) && a->next_poll > time(NULL) +
			    srv->poll_interval)
				account_schedule(a, srv->poll_interval);
			continue;
		}
		a = account_new(cf->accounts[i].name, srv->proto == CONFIG_IMAP ?
		    "imap" : "pop3");
		secret_configure(a->secret, srv);
		account_schedule(a, cf->poll_at_start ? ACCOUNT_FIRST_POLL :
		    srv->poll_interval);
	}
}

/* Start the accounts of cf: polls on base, into st, told on bus. */
void
account_init(struct event_base *base, struct store *st, struct bus *bus,
    const struct config *cf)
{
	account_base = base;
	account_store = st;
	account_bus = bus;
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	account_reconfigure(cf);
}

/* Stop every poll and free all accounts. */
void
account_shutdown(void)
{
	while (!TAILQ_EMPTY(&accounts))
		account_free(TAILQ_FIRST(&accounts));
}

/*
 * The machine woke up from sleep: connections may be dead and mail has
 * waited. Every account polls now (one already polling goes on).
 */
void
account_resume(void)
{
	struct account	*a;

	log_info("resumed from sleep: polling every account");
	TAILQ_FOREACH(a, &accounts, entry)
		account_poll(a);
}

/*
 * Poll an account now (or join the poll in progress); cb runs when it ends.
 * Return -1 when there is no such POP3 account.
 */
int
account_poll_now(const char *name, account_wait_cb cb, void *arg)
{
	struct account		*a;
	struct account_waiter	*w;

	if ((a = account_find(name)) == NULL || account_conf(a) == NULL)
		return -1;
	w = xcalloc(1, sizeof *w);
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&a->waiters, w, entry);
	account_poll(a);
	return 0;
}

/* The poll state of an account for status, or NULL when it has none. */
json_t *
account_status(const char *name)
{
	struct account	*a;
	json_t		*o, *last;

	if ((a = account_find(name)) == NULL)
		return NULL;
	last = json_null();
	if (a->last_poll != 0) {
		last = json_pack("{s:o, s:b, s:i, s:I, s:f, s:i, s:b}",
		    "time", jsonrpc_time(a->last_poll),
		    "ok", a->last_ok,
		    "new", (int)a->last_new,
		    "bytes", (json_int_t)a->last_bytes,
		    "seconds", a->last_seconds,
		    "on_server", (int)a->last_on_server,
		    "listed", a->last_listed);
		if (!a->last_ok) {
			json_object_set_new(last, "error", json_string(
			    a->last_message ? a->last_message : "failed"));
			json_object_set_new(last, "error_kind", json_string(
			    a->last_kind));
		}
	}
	o = json_pack("{s:b, s:o, s:o, s:I, s:I}",
	    "polling", account_busy(a),
	    "last_poll", last,
	    "next_poll", jsonrpc_time(a->next_poll),
	    "fetched_messages", (json_int_t)a->total_new,
	    "fetched_bytes", (json_int_t)a->total_bytes);
	return o;
}
