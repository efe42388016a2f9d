/* Events: build them once, hand them to the subscribers. */
#include "autoconf.h"

#include <time.h>

#include "common/jsonrpc.h"
#include "event.h"
#include "rpc.h"

/* Send an event of type with fields (stolen) to every subscriber. */
void
event_emit(const char *type, json_t *fields)
{
	json_t	*msg;

	if (fields == NULL)
		fields = json_object();
	json_object_set_new(fields, "type", json_string(type));
	json_object_set_new(fields, "time", jsonrpc_time(time(NULL)));
	msg = jsonrpc_notification_new("event", fields);
	rpc_broadcast(msg);
	json_decref(msg);
}

/* A message was stored. */
void
event_new_mail(const char *account, const char *folder, long long id,
    const char *from, const char *subject)
{
	event_emit("new_mail", json_pack("{s:I, s:s, s:s, s:s, s:s}",
	    "id", (json_int_t)id, "account", account, "folder", folder,
	    "from", from ? from : "", "subject", subject ? subject : ""));
}
