/*
 * The owner of the fetching sessions: one poll timer per POP3 or IMAP
 * account, the poll in progress (never two at once: a pop3 session, or an
 * imap session syncing every folder), its password (secret.c), results and
 * errors for status. It starts each session with what it needs, hears back
 * through callbacks, and tells the bus: a stored batch of new mail, the
 * end of a poll.
 *
 * An IMAP account with idle true is watched instead: one imap session per
 * folder stays in IDLE and syncs its folder at each change. A poll of such
 * an account (the timer, fetch, a resume) asks each of them to sync now
 * and ends when each has; one that is down is reconnected at once. One
 * that fails is reconnected after a backoff with jitter (2 s, then 15 s
 * doubling to 5 min). A server without IDLE turns the account back to polling.
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
#define ACCOUNT_WATCH_RETRY_MAX	300	/* seconds between reconnects, at most */

struct account;

/* One watched folder of an IMAP account with idle. */
struct account_watch {
	struct account		*a;
	char			*folder;
	struct imap_session	*s;		/* NULL: down */
	struct event		*retry;		/* reconnect timer */
	unsigned		 failures;	/* in a row */
	unsigned		 reconnects;
	int			 asked;		/* to sync for a poll */
	char			*error;		/* the last failure */
	const char		*error_kind;
};

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
	const char		*via;		/* this poll's: poll, fetch */
	struct account_watch	*watches;	/* idle: one per folder */
	size_t			 nwatches;
	int			 watching;	/* the watches run */
	int			 no_idle;	/* the server has none: poll */
	unsigned		 asked;		/* watches to sync for a poll */
	struct account_result	 sum;		/* their results, summed */
	char			*sum_error;
	TAILQ_HEAD(, account_waiter) waiters;
};

static TAILQ_HEAD(, account) accounts = TAILQ_HEAD_INITIALIZER(accounts);
static struct event_base	*account_base;
static struct store		*account_store;
static struct bus		*account_bus;
static const struct config	*account_config;	/* main's */

static void	account_poll(struct account *);
static void	account_ask(struct account *);
static int	account_session_end(struct account *, struct account_result *);
static void	account_watch_retry_cb(evutil_socket_t, short, void *);

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
	return a->session != NULL || a->sync != NULL || a->asking ||
	    a->asked > 0;
}

/* Is the account watched with IDLE (rather than polled)? */
static int
account_watched(const struct account *a, const struct config_account *ca)
{
	return ca != NULL && ca->imap != NULL && ca->imap->idle && !a->no_idle;
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
	ev.via = a->via;
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

static void	account_publish_new(struct account *, const struct store_new *,
		    size_t, const char *via);

/* The session stored a batch: tell the bus. */
static void
account_stored_cb(const struct store_new *news, size_t n, void *arg)
{
	struct account	*a = arg;

	account_publish_new(a, news, n, a->via);
}

/* A watching session stored a batch: pushed, or asked for. */
static void
account_watch_stored_cb(const struct store_new *news, size_t n, void *arg)
{
	struct account_watch	*w = arg;
	struct imap_watch_info	 info;

	imap_session_info(w->s, &info);
	account_publish_new(w->a, news, n, info.round_pushed ? "idle" :
	    w->asked ? w->a->via : "poll");
}

/* Publish a batch of new mail. */
static void
account_publish_new(struct account *a, const struct store_new *news,
    size_t n, const char *via)
{
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
	ev.via = via;
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

/* The account's watches: one per server folder, down at first. */
static void
account_watches_make(struct account *a, const struct config_account *ca)
{
	size_t	 i, n;

	if (a->nwatches > 0)
		return;
	for (n = 0; ca->imap->folders[n] != NULL; n++)
		;
	a->watches = xcalloc(n, sizeof *a->watches);
	a->nwatches = n;
	for (i = 0; i < n; i++) {
		a->watches[i].a = a;
		a->watches[i].folder = xstrdup(ca->imap->folders[i]);
		a->watches[i].retry = evtimer_new(account_base,
		    account_watch_retry_cb, &a->watches[i]);
	}
}

/* Stop and forget every watch (reload, resume, removal, no IDLE). */
static void
account_watches_free(struct account *a)
{
	size_t	 i;

	for (i = 0; i < a->nwatches; i++) {
		imap_session_free(a->watches[i].s);
		event_free(a->watches[i].retry);
		free(a->watches[i].folder);
		free(a->watches[i].error);
	}
	free(a->watches);
	a->watches = NULL;
	a->nwatches = 0;
	a->asked = 0;
	a->watching = 0;
}

/* A watch answered the poll's request (a round, or its end). */
static void
account_watch_answered(struct account_watch *w, const struct imap_result *r)
{
	struct account	*a = w->a;

	if (!w->asked)
		return;
	w->asked = 0;
	a->sum.new += r->new;
	a->sum.bytes += r->bytes;
	a->sum.on_server += r->on_server;
	a->sum.deleted += r->deleted;
	if (r->error != IMAP_OK && a->sum.ok) {
		a->sum.ok = 0;
		a->sum.error_kind = imap_error_name(r->error);
		free(a->sum_error);
		xasprintf(&a->sum_error, "%s: %s", w->folder, r->message ?
		    r->message : "failed");
		a->sum.message = a->sum_error;
	}
	if (--a->asked == 0)
		account_session_end(a, &a->sum);
}

/* A watching session synced its folder. */
static void
account_watch_round_cb(struct imap_session *s, const struct imap_result *r,
    void *arg)
{
	struct account_watch	*w = arg;

	w->failures = 0;
	free(w->error);
	w->error = NULL;
	log_debug("account=%s folder=%s synced: %u new%s", w->a->name,
	    w->folder, r->new, r->pushed ? " (pushed)" : "");
	account_watch_answered(w, r);
}

/*
 * Reconnect a watch later: 2 s after the first failure (a server that
 * restarts), then 15 s doubling to 5 min, with a quarter of jitter.
 */
static void
account_watch_later(struct account_watch *w)
{
	struct timeval	 tv;
	int		 delay;

	w->failures++;
	delay = w->failures == 1 ? 2 : ACCOUNT_RETRY_MIN <<
	    (w->failures < 7 ? w->failures - 2 : 5);
	if (delay > ACCOUNT_WATCH_RETRY_MAX)
		delay = ACCOUNT_WATCH_RETRY_MAX;
	tv.tv_sec = delay + random() % (delay / 4 + 1);
	tv.tv_usec = random() % 1000000;
	evtimer_add(w->retry, &tv);
	log_info("account=%s folder=%s reconnecting in %lld s", w->a->name,
	    w->folder, (long long)tv.tv_sec);
}

/* A watching session ended: a failure, or a server without IDLE. */
static void
account_watch_done_cb(struct imap_session *s, const struct imap_result *r,
    void *arg)
{
	struct account_watch	*w = arg;
	struct account		*a = w->a;

	/* r lives in s: s is freed last. */
	w->s = NULL;
	if (r->error == IMAP_OK && r->no_idle) {
		account_watch_answered(w, r);
		a->no_idle = 1;		/* poll from now on */
		account_watches_free(a);
		/* A poll in progress ends as a sync session. */
		if (!TAILQ_EMPTY(&a->waiters) && !a->asking)
			account_ask(a);
		imap_session_free(s);
		return;
	}
	free(w->error);
	w->error = xstrdup(r->message ? r->message : "ended");
	w->error_kind = imap_error_name(r->error);
	account_watch_answered(w, r);
	if (r->error == IMAP_ERR_AUTH && secret_refused(a->secret) &&
	    !a->asking)
		account_ask(a);
	else
		account_watch_later(w);
	imap_session_free(s);
}

/* The retry timer of a watch. */
static void
account_watch_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct account_watch	*w = arg;

	if (!w->a->asking)
		account_ask(w->a);
}

/*
 * Start the watches that are down, with the password in hand: those a
 * poll asked for, and those whose retry time came.
 */
static void
account_watches_start(struct account *a, const struct config_account *ca,
    const char *password)
{
	struct account_watch	*w;
	struct imap_result	 r;
	char			*cause = NULL;
	size_t			 i;

	account_watches_make(a, ca);
	/* What a crash left in tmp/, while no session of it writes there. */
	if (!a->watching && store_recover(account_store, a->name,
	    &cause) != 0) {
		memset(&r, 0, sizeof r);
		r.error = IMAP_ERR_LOCAL;
		r.message = cause;
		for (i = 0; i < a->nwatches; i++)
			account_watch_answered(&a->watches[i], &r);
		free(cause);
		return;
	}
	a->watching = 1;
	for (i = 0; i < a->nwatches; i++) {
		w = &a->watches[i];
		if (w->s != NULL || (!w->asked && evtimer_pending(w->retry,
		    NULL)))
			continue;
		evtimer_del(w->retry);
		if (w->error != NULL)
			w->reconnects++;
		w->s = imap_session_watch(account_base, ca, password, w->folder,
		    account_store, account_watch_stored_cb,
		    account_watch_round_cb, account_watch_done_cb, w);
	}
}

/* A poll of a watched account: each watch syncs now. */
static void
account_watches_poll(struct account *a, const struct config_account *ca)
{
	size_t	 i;
	int	 down = 0;

	account_watches_make(a, ca);
	memset(&a->sum, 0, sizeof a->sum);
	a->sum.ok = 1;
	for (i = 0; i < a->nwatches; i++) {
		a->watches[i].asked = 1;
		a->asked++;
	}
	for (i = 0; i < a->nwatches; i++) {
		if (a->watches[i].s != NULL)
			imap_session_sync_now(a->watches[i].s);
		else
			down = 1;
	}
	if (down && !a->asking)
		account_ask(a);
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
	if (account_watched(a, ca)) {
		account_watches_start(a, ca, password);
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
	const struct config_account *ca = account_conf(a);

	if (account_busy(a) || ca == NULL)
		return;
	evtimer_del(a->timer);
	a->next_poll = 0;
	a->via = TAILQ_EMPTY(&a->waiters) ? "poll" : "fetch";
	clock_gettime(CLOCK_MONOTONIC, &a->started);
	log_debug("account=%s poll starts", a->name);
	if (account_watched(a, ca)) {
		account_watches_poll(a, ca);
		return;
	}
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
	account_watches_free(a);
	secret_cancel(a->secret);
	a->asking = 0;
	if (!TAILQ_EMPTY(&a->waiters))
		account_poll_done(a, &r);
	TAILQ_REMOVE(&accounts, a, entry);
	event_free(a->timer);
	secret_free(a->secret);
	free(a->last_message);
	free(a->sum_error);
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
			/* Folders or idle may have changed: watch anew. */
			if (a->nwatches > 0 && a->asked == 0) {
				account_watches_free(a);
				a->no_idle = 0;
				account_poll(a);
			}
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

/*
 * A change made here (read, unread, rm) waits in the store's queue for
 * the account's IMAP server: sync now, so it reaches the server (and the
 * user's other devices) at once rather than at the next poll.
 */
static void
account_queued_cb(const char *name, void *arg)
{
	struct account	*a;

	if ((a = account_find(name)) != NULL) {
		log_debug("account=%s a change waits for the server: syncing",
		    name);
		account_poll(a);
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
	store_on_queued(st, account_queued_cb, NULL);
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
 * The machine goes to sleep: close the IDLE connections (a server or NAT
 * may drop them meanwhile, and a silent dead one would wait for its next
 * renewal); account_resume opens them anew. Their retries wait too.
 */
void
account_sleep(void)
{
	struct account	*a;
	size_t		 i;

	TAILQ_FOREACH(a, &accounts, entry) {
		if (a->nwatches == 0 || a->asked > 0)
			continue;
		log_info("account=%s closing its IDLE connections for the "
		    "sleep", a->name);
		for (i = 0; i < a->nwatches; i++) {
			imap_session_free(a->watches[i].s);
			a->watches[i].s = NULL;
			evtimer_del(a->watches[i].retry);
		}
	}
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
	TAILQ_FOREACH(a, &accounts, entry) {
		/* Their connections slept too: open them anew. */
		if (a->nwatches > 0 && a->asked == 0)
			account_watches_free(a);
		account_poll(a);
	}
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

/* Each watched folder: IDLE state, last sync, reconnects, last error. */
static json_t *
account_watch_status(const struct account *a)
{
	struct imap_watch_info	 info;
	const struct account_watch *w;
	json_t			*arr = json_array(), *o;
	size_t			 i;

	for (i = 0; i < a->nwatches; i++) {
		w = &a->watches[i];
		memset(&info, 0, sizeof info);
		if (w->s != NULL)
			imap_session_info(w->s, &info);
		o = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:i, s:i}",
		    "folder", w->folder,
		    "state", w->s == NULL ? "down" : info.idling ? "idle" :
		    "syncing",
		    "idling", info.idling,
		    "idling_since", jsonrpc_time(info.idling_since),
		    "last_renewal", jsonrpc_time(info.last_renewal),
		    "last_sync", jsonrpc_time(info.last_sync),
		    "reconnects", (int)w->reconnects,
		    "syncs", (int)info.rounds);
		json_object_set_new(o, "uidvalidity", info.uidvalidity ?
		    json_integer(info.uidvalidity) : json_null());
		if (w->error != NULL) {
			json_object_set_new(o, "error", json_string(w->error));
			json_object_set_new(o, "error_kind",
			    json_string(w->error_kind));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

/* What the last full sync of each server folder found. */
static json_t *
account_folders_status(const struct account *a,
    const struct config_account *ca)
{
	struct store_imap_folder st;
	json_t			*arr = json_array();
	char			*cause = NULL;
	size_t			 i;

	for (i = 0; ca->imap->folders[i] != NULL; i++) {
		if (store_imap_folder_get(account_store, a->name,
		    ca->imap->folders[i], &st, &cause) != 0) {
			log_warnx("account=%s %s", a->name, cause);
			free(cause);
			cause = NULL;
			memset(&st, 0, sizeof st);
		}
		json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:o}",
		    "folder", ca->imap->folders[i],
		    "uidvalidity", st.uidvalidity ? json_integer(st.uidvalidity) :
		    json_null(),
		    "uidnext", st.uidnext ? json_integer(st.uidnext) :
		    json_null(),
		    "last_sync", jsonrpc_time((time_t)st.synced)));
	}
	return arr;
}

/* The poll state of an account for status, or NULL when it has none. */
json_t *
account_status(const char *name)
{
	struct account	*a;
	const struct config_account *ca;
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
	    "polling", a->session != NULL || a->sync != NULL || a->asking ||
	    a->asked > 0,
	    "last_poll", last,
	    "next_poll", jsonrpc_time(a->next_poll),
	    "fetched_messages", (json_int_t)a->total_new,
	    "fetched_bytes", (json_int_t)a->total_bytes);
	if (a->nwatches > 0)
		json_object_set_new(o, "watch", account_watch_status(a));
	if ((ca = account_conf(a)) != NULL && ca->imap != NULL)
		json_object_set_new(o, "folders", account_folders_status(a,
		    ca));
	return o;
}
