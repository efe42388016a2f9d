/*
 * The core of a mailbox session (session.h): its server, its connection
 * and its batches to the store, shared by pop3.c and imap.c.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "conn.h"
#include "session.h"
#include "store.h"
#include "uidset.h"

/* A batch at the store, and the keys of its messages. */
struct session_batch {
	struct session	*c;
	size_t		 n;
	uint32_t	 keys[SESSION_BATCH_MSGS];
};

/* Set up the core of a session for the account's server srv. */
void
session_init(struct session *c, struct event_base *base, const char *account,
    const struct config_server *srv, const char *password,
    struct store *store, const struct session_ops *ops,
    void (*report_cb)(int, short, void *), void *owner)
{
	c->id = conn_session_id();
	c->account = xstrdup(account);
	c->host = xstrdup(srv->host);
	c->port = srv->port;
	c->tls = srv->tls;
	c->user = xstrdup(srv->user != NULL ? srv->user : "");
	c->password = xstrdup(password);
	c->auth = xstrdup(srv->auth);
	c->ca_file = srv->ca_file ? xstrdup(srv->ca_file) : NULL;
	c->timeout = srv->timeout;
	c->keep = srv->keep;
	c->store = store;
	c->ops = ops;
	c->owner = owner;
	c->taken = uidset_new();
	c->report_ev = event_new(base, -1, 0, report_cb, owner);
	if (c->report_ev == NULL)
		fatalx("out of memory");
}

/* Free what the core holds: messages not committed, the connection. */
void
session_clear(struct session *c)
{
	size_t	 i;

	store_msg_abort(c->cur);
	for (i = 0; i < c->nbatch; i++)
		store_msg_abort(c->batch[i]);
	conn_free(c->conn);
	event_free(c->report_ev);
	uidset_free(c->taken);
	explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->account);
	free(c->host);
	free(c->user);
	free(c->auth);
	free(c->ca_file);
}

/* Connect (TLS up at once when implicit); cb says how it went. */
void
session_connect(struct session *c,
    void (*cb)(struct conn *, const char *, void *))
{
	log_debug("account=%s session=%u connecting to %s:%d tls=%s",
	    c->account, c->id, c->host, c->port, config_tls_name(c->tls));
	c->conn = conn_connect(c->host, c->port, c->tls == CONFIG_TLS_IMPLICIT,
	    c->ca_file, c->timeout, cb, c->owner);
}

/*
 * Take over the connection's bufferevent: callbacks, the timeout both
 * ways, and a bound on the input waiting to be read (reads of a quarter
 * of it: libevent reads 4 KiB at a time unless told otherwise).
 */
void
session_attach(struct session *c, void (*read_cb)(struct bufferevent *, void *),
    void (*event_cb)(struct bufferevent *, short, void *), size_t input_high)
{
	struct timeval	 tv = { c->timeout, 0 };

	c->bev = conn_bev(c->conn);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c->owner);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setwatermark(c->bev, EV_READ, 0, input_high);
	bufferevent_set_max_single_read(c->bev, input_high / 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/*
 * Add the current message (closed) to the batch under key. Return 1 when
 * the batch is full and wants session_commit.
 */
int
session_add(struct session *c, uint32_t key)
{
	c->batch_bytes += store_msg_size(c->cur);
	c->keys[c->nbatch] = key;
	c->batch[c->nbatch++] = c->cur;
	c->cur = NULL;
	return c->nbatch == SESSION_BATCH_MSGS ||
	    c->batch_bytes >= SESSION_BATCH_BYTES;
}

/* The store answered for a batch. */
static void
session_committed_cb(int rc, const char *cause, const struct store_new *news,
    size_t nnews, void *arg)
{
	struct session_batch	*b = arg;
	struct session		*c = b->c;

	/* Once freed, the owner hears nothing more: it may be gone. */
	if (nnews > 0 && !c->dead)
		c->stored_cb(news, nnews, c->stored_arg);
	else if (nnews > 0)
		log_info("account=%s session=%u %zu messages stored after the "
		    "session was abandoned", c->account, c->id, nnews);
	c->commits--;
	if (c->dead)
		c->ops->reap(c->owner);
	else {
		if (rc == 0)
			log_debug("account=%s session=%u committed %zu "
			    "messages", c->account, c->id, b->n);
		c->ops->committed(c->owner, rc, cause, b->keys, b->n);
	}
	free(b);
}

/* Hand the completed messages of the batch to the store. */
void
session_commit(struct session *c)
{
	struct session_batch	*b;

	if (c->nbatch == 0)
		return;
	b = xcalloc(1, sizeof *b);
	b->c = c;
	b->n = c->nbatch;
	memcpy(b->keys, c->keys, c->nbatch * sizeof *b->keys);
	c->commits++;
	store_commit(c->store, c->batch, c->nbatch, session_committed_cb, b);
	c->nbatch = 0;
	c->batch_bytes = 0;
}

/* The session is freed while batches are at the store: close, wait. */
void
session_kill(struct session *c)
{
	c->dead = 1;
	conn_free(c->conn);
	c->conn = NULL;
	c->bev = NULL;
}

/* Name an error class (for status and logs): pop3_error, imap_error. */
const char *
session_error_name(unsigned e)
{
	static const char *const names[] = { "ok", "network", "tls", "auth",
	    "protocol", "local", "space" };

	return e < sizeof names / sizeof names[0] ? names[e] : "unknown";
}
