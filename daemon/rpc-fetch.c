/* fetch: poll one account or all of them now, answer when they are done. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jsonrpc.h"
#include "common/xmalloc.h"
#include "account.h"
#include "config.h"
#include "rpc.h"

struct fetch_wait {
	struct rpc_call	*call;
	unsigned	 pending;
	json_t		*results;
	json_int_t	 total;
};

/* Answer once every account polled has reported. */
static void
fetch_release(struct fetch_wait *fw)
{
	if (--fw->pending > 0)
		return;
	rpc_call_reply(fw->call, json_pack("{s:o, s:I}", "accounts",
	    fw->results, "new", fw->total));
	free(fw);
}

/* One account's poll ended. */
static void
fetch_done_cb(const char *account, const struct account_result *r,
    double seconds, void *arg)
{
	struct fetch_wait	*fw = arg;
	json_t			*o;

	o = json_pack("{s:s, s:b, s:i, s:I, s:f}", "account", account,
	    "ok", r->ok, "new", (int)r->new,
	    "bytes", (json_int_t)r->bytes, "seconds", seconds);
	if (!r->ok) {
		json_object_set_new(o, "error", json_string(r->message ?
		    r->message : "failed"));
		json_object_set_new(o, "error_kind",
		    json_string(r->error_kind));
	}
	json_array_append_new(fw->results, o);
	fw->total += r->new;
	fetch_release(fw);
}

static void
rpc_fetch_exec(struct rpc_call *call, json_t *params)
{
	const struct config	*cf = rpc_call_env(call)->config;
	const struct config_account *a;
	const char		*name;
	struct fetch_wait	*fw;
	size_t			 i;

	name = json_string_value(json_object_get(params, "account"));
	if (name != NULL) {
		if ((a = config_find_account(cf, name)) == NULL) {
			rpc_call_error(call, JSONRPC_ERR_NOT_FOUND, "no account "
			    "named \"%.100s\"", name);
			return;
		}
		if (a->pop3 == NULL && a->imap == NULL) {
			rpc_call_error(call, JSONRPC_ERR_DATA, "account \"%s\" "
			    "has no pop3 or imap server to fetch from", name);
			return;
		}
	}
	fw = xcalloc(1, sizeof *fw);
	fw->call = call;
	fw->results = json_array();
	fw->pending = 1;	/* held until every poll is started */
	for (i = 0; i < cf->naccounts; i++) {
		a = &cf->accounts[i];
		if ((a->pop3 == NULL && a->imap == NULL) || (name != NULL &&
		    strcmp(name, a->name) != 0))
			continue;
		fw->pending++;
		if (account_poll_now(a->name, fetch_done_cb, fw) != 0)
			fw->pending--;
	}
	fetch_release(fw);
}

static const struct rpc_param rpc_fetch_params[] = {
	{ "account", RPC_STRING, 0 },
	{ NULL, 0, 0 }
};

const struct rpc_method rpc_fetch_method = {
	"fetch", rpc_fetch_params, NULL, rpc_fetch_exec
};
