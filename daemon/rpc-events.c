/*
 * Events for clients (DESIGN.md "Control protocol": subscribe): the
 * subscribe method turns a connection into a stream of event
 * notifications, and a consumer of the bus sends each event's JSON form
 * (bus_event_json) to every subscribed connection.
 */
#include "autoconf.h"

#include <jansson.h>

#include "bus.h"
#include "rpc.h"

static struct bus	*rpc_events_bus;
static struct bus_sub	*rpc_events_sub;

static void
rpc_subscribe_exec(struct rpc_call *call, json_t *params)
{
	(void)params;
	rpc_call_subscribe(call);
	rpc_call_reply(call, json_pack("{s:b}", "subscribed", 1));
}

const struct rpc_method rpc_subscribe_method = {
	"subscribe", NULL, NULL, rpc_subscribe_exec
};

/* The bus tells of an event: send its notifications to the subscribers. */
static int
rpc_events_cb(const struct bus_event *ev, void *arg)
{
	json_t	*msgs, *msg;
	size_t	 i;

	(void)arg;
	msgs = bus_event_json(ev);
	json_array_foreach(msgs, i, msg)
		rpc_broadcast(msg);
	json_decref(msgs);
	return 0;
}

/* Start sending the bus's events to subscribed clients. */
void
rpc_events_init(struct bus *bus)
{
	rpc_events_bus = bus;
	rpc_events_sub = bus_subscribe(bus, "rpc subscribers", rpc_events_cb,
	    NULL);
}

/* Stop. */
void
rpc_events_shutdown(void)
{
	if (rpc_events_bus != NULL)
		bus_unsubscribe(rpc_events_bus, rpc_events_sub);
	rpc_events_bus = NULL;
	rpc_events_sub = NULL;
}
