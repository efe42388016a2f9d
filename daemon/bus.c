/*
 * The event bus (see bus.h): a list of consumers and a FIFO of events.
 *
 * bus_publish copies the event onto the FIFO and, unless a delivery is
 * already running further up the stack, delivers the FIFO in order. So an
 * event a consumer publishes while it handles another waits until every
 * consumer has heard the first: all consumers hear all events in one
 * order. A consumer unsubscribed during a delivery is only marked; it is
 * freed once the delivery is over, so the walk never touches freed memory.
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "bus.h"

struct bus_sub {
	TAILQ_ENTRY(bus_sub)	 entry;
	char			*name;		/* for logs */
	bus_cb			 cb;
	void			*arg;
	int			 dead;		/* unsubscribed */
};

/* A published event and the copies of everything it points to. */
struct bus_item {
	STAILQ_ENTRY(bus_item)	 entry;
	struct bus_event	 ev;
	struct bus_mail		*mail;
	char			**strs;		/* every string copied */
	size_t			 nstrs;
	const char		**rcpts;
	const char		**failed;
};

struct bus {
	TAILQ_HEAD(, bus_sub)	 subs;
	STAILQ_HEAD(, bus_item)	 fifo;
	int			 delivering;
	int			 reap;		/* a sub is dead */
};

static const char *const bus_type_names[] = {
	"new_mail", "poll_done", "sent", "deferred", "send_failed",
	"reloaded",
};
_Static_assert(sizeof bus_type_names / sizeof bus_type_names[0] ==
    BUS_NTYPES, "bus_type_names matches enum bus_type");

/* Name an event type (the JSON "type" of most). */
const char *
bus_type_name(enum bus_type t)
{
	return t < BUS_NTYPES ? bus_type_names[t] : "unknown";
}

/* Make an empty bus. */
struct bus *
bus_new(void)
{
	struct bus	*b;

	b = xcalloc(1, sizeof *b);
	TAILQ_INIT(&b->subs);
	STAILQ_INIT(&b->fifo);
	return b;
}

/* Free a subscription. */
static void
bus_sub_free(struct bus_sub *sub)
{
	free(sub->name);
	free(sub);
}

/* Free an event copy. */
static void
bus_item_free(struct bus_item *it)
{
	size_t	 i;

	for (i = 0; i < it->nstrs; i++)
		free(it->strs[i]);
	free(it->strs);
	free(it->mail);
	free(it->rcpts);
	free(it->failed);
	free(it);
}

/* Free a bus and its consumers (NULL is fine); queued events are lost. */
void
bus_free(struct bus *b)
{
	struct bus_sub	*sub;
	struct bus_item	*it;

	if (b == NULL)
		return;
	while ((sub = TAILQ_FIRST(&b->subs)) != NULL) {
		TAILQ_REMOVE(&b->subs, sub, entry);
		bus_sub_free(sub);
	}
	while ((it = STAILQ_FIRST(&b->fifo)) != NULL) {
		STAILQ_REMOVE_HEAD(&b->fifo, entry);
		bus_item_free(it);
	}
	free(b);
}

/* Add a consumer; it hears every event published from now on. */
struct bus_sub *
bus_subscribe(struct bus *b, const char *name, bus_cb cb, void *arg)
{
	struct bus_sub	*sub;

	sub = xcalloc(1, sizeof *sub);
	sub->name = xstrdup(name);
	sub->cb = cb;
	sub->arg = arg;
	TAILQ_INSERT_TAIL(&b->subs, sub, entry);
	return sub;
}

/* Remove a consumer (NULL is fine); safe from inside any consumer. */
void
bus_unsubscribe(struct bus *b, struct bus_sub *sub)
{
	if (sub == NULL)
		return;
	if (b->delivering) {
		sub->dead = 1;
		b->reap = 1;
		return;
	}
	TAILQ_REMOVE(&b->subs, sub, entry);
	bus_sub_free(sub);
}

/* Copy a string into the item; NULL stays NULL. */
static const char *
bus_item_str(struct bus_item *it, const char *s, size_t *cap)
{
	if (s == NULL)
		return NULL;
	if (it->nstrs == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		it->strs = xreallocarray(it->strs, *cap, sizeof *it->strs);
	}
	return it->strs[it->nstrs++] = xstrdup(s);
}

/* Copy an array of strings into the item. */
static const char **
bus_item_strs(struct bus_item *it, const char *const *v, size_t n,
    size_t *cap)
{
	const char	**out;
	size_t		  i;

	out = xcalloc(n + 1, sizeof *out);
	for (i = 0; i < n; i++)
		out[i] = bus_item_str(it, v[i], cap);
	return out;
}

/* A copy of ev that owns everything it points to. */
static struct bus_item *
bus_item_new(const struct bus_event *ev)
{
	struct bus_item	*it;
	struct bus_mail	*m;
	size_t		 i, cap = 0;

	it = xcalloc(1, sizeof *it);
	it->ev = *ev;
	if (it->ev.time == 0)
		it->ev.time = time(NULL);
	it->ev.account = bus_item_str(it, ev->account, &cap);
	it->ev.error = bus_item_str(it, ev->error, &cap);
	it->ev.error_kind = bus_item_str(it, ev->error_kind, &cap);
	it->ev.via = bus_item_str(it, ev->via, &cap);
	it->ev.subject = bus_item_str(it, ev->subject, &cap);
	it->ev.reply = bus_item_str(it, ev->reply, &cap);
	it->ev.failed_reply = bus_item_str(it, ev->failed_reply, &cap);
	it->ev.config = bus_item_str(it, ev->config, &cap);
	it->rcpts = bus_item_strs(it, ev->rcpts, ev->nrcpts, &cap);
	it->failed = bus_item_strs(it, ev->failed, ev->nfailed, &cap);
	it->ev.rcpts = it->rcpts;
	it->ev.failed = it->failed;
	it->mail = xcalloc(ev->nmail + 1, sizeof *it->mail);
	for (i = 0; i < ev->nmail; i++) {
		m = &it->mail[i];
		m->id = ev->mail[i].id;
		m->notify = ev->mail[i].notify;
		m->folder = bus_item_str(it, ev->mail[i].folder, &cap);
		m->from = bus_item_str(it, ev->mail[i].from, &cap);
		m->subject = bus_item_str(it, ev->mail[i].subject, &cap);
	}
	it->ev.mail = it->mail;
	return it;
}

/* Free the consumers unsubscribed during the delivery just over. */
static void
bus_reap(struct bus *b)
{
	struct bus_sub	*sub, *next;

	for (sub = TAILQ_FIRST(&b->subs); sub != NULL; sub = next) {
		next = TAILQ_NEXT(sub, entry);
		if (sub->dead) {
			TAILQ_REMOVE(&b->subs, sub, entry);
			bus_sub_free(sub);
		}
	}
	b->reap = 0;
}

/* Tell every consumer about ev, in order; events published meanwhile wait. */
void
bus_publish(struct bus *b, const struct bus_event *ev)
{
	struct bus_item	*it;
	struct bus_sub	*sub;

	it = bus_item_new(ev);
	STAILQ_INSERT_TAIL(&b->fifo, it, entry);
	if (b->delivering)
		return;
	b->delivering = 1;
	while ((it = STAILQ_FIRST(&b->fifo)) != NULL) {
		TAILQ_FOREACH(sub, &b->subs, entry) {
			if (sub->dead)
				continue;
			if (sub->cb(&it->ev, sub->arg) != 0)
				log_warnx("bus: %s failed to handle a %s event",
				    sub->name, bus_type_name(it->ev.type));
		}
		STAILQ_REMOVE_HEAD(&b->fifo, entry);
		bus_item_free(it);
	}
	b->delivering = 0;
	if (b->reap)
		bus_reap(b);
}

/* A JSON array of strings. */
static json_t *
bus_json_strs(const char *const *v, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* Add "type" and "time", and wrap params as an event notification. */
static json_t *
bus_json_wrap(const struct bus_event *ev, const char *type, json_t *params)
{
	json_object_set_new(params, "type", json_string(type));
	json_object_set_new(params, "time", jsonrpc_time(ev->time));
	return jsonrpc_notification_new("event", params);
}

/*
 * The JSON-RPC notifications subscribers get for ev: a new array, empty
 * when the event has none (a poll that went well), one per message for a
 * batch of new mail, one otherwise.
 */
json_t *
bus_event_json(const struct bus_event *ev)
{
	const struct bus_mail	*m;
	json_t			*out = json_array(), *p = NULL;
	const char		*type = bus_type_name(ev->type);
	size_t			 i;

	switch (ev->type) {
	case BUS_NEW_MAIL:
		for (i = 0; i < ev->nmail; i++) {
			m = &ev->mail[i];
			p = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id",
			    (json_int_t)m->id, "account", ev->account,
			    "folder", m->folder, "from", m->from ? m->from :
			    "", "subject", m->subject ? m->subject : "");
			if (ev->via != NULL)
				json_object_set_new(p, "via",
				    json_string(ev->via));
			json_array_append_new(out, bus_json_wrap(ev, type, p));
		}
		return out;
	case BUS_POLL_DONE:
		if (ev->error == NULL)
			return out;
		type = "poll_failed";
		p = json_pack("{s:s, s:s, s:s}", "account", ev->account,
		    "error", ev->error, "error_kind", ev->error_kind ?
		    ev->error_kind : "local");
		if (ev->via != NULL)
			json_object_set_new(p, "via", json_string(ev->via));
		break;
	case BUS_SENT:
		p = json_pack("{s:I, s:s, s:o, s:o, s:s}", "id",
		    (json_int_t)ev->id, "account", ev->account, "recipients",
		    bus_json_strs(ev->rcpts, ev->nrcpts), "failed",
		    bus_json_strs(ev->failed, ev->nfailed), "reply",
		    ev->reply ? ev->reply : "");
		json_object_set_new(p, "message", ev->message > 0 ?
		    json_integer(ev->message) : json_null());
		break;
	case BUS_DEFERRED:
		p = json_pack("{s:I, s:s, s:o, s:s, s:o}", "id",
		    (json_int_t)ev->id, "account", ev->account, "recipients",
		    bus_json_strs(ev->rcpts, ev->nrcpts), "reply",
		    ev->reply ? ev->reply : "", "next_attempt",
		    jsonrpc_time(ev->next_attempt));
		break;
	case BUS_SEND_FAILED:
		p = json_pack("{s:I, s:s, s:o, s:s}", "id", (json_int_t)ev->id,
		    "account", ev->account, "recipients",
		    bus_json_strs(ev->rcpts, ev->nrcpts), "reply",
		    ev->reply ? ev->reply : "");
		break;
	case BUS_RELOADED:
		p = json_pack("{s:s?, s:I}", "config", ev->config, "accounts",
		    (json_int_t)ev->naccounts);
		break;
	default:
		return out;
	}
	json_array_append_new(out, bus_json_wrap(ev, type, p));
	return out;
}
