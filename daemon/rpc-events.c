/* subscribe: turn the connection into a stream of event notifications. */
#include "autoconf.h"

#include <jansson.h>

#include "rpc.h"

static void
rpc_subscribe_exec(struct rpc_call *call, json_t *params)
{
	rpc_call_subscribe(call);
	rpc_call_reply(call, json_pack("{s:b}", "subscribed", 1));
}

const struct rpc_method rpc_subscribe_method = {
	"subscribe", NULL, NULL, rpc_subscribe_exec
};
