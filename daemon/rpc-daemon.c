/* Methods about the daemon itself: status, reload. */
#include "autoconf.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/jsonrpc.h"
#include "account.h"
#include "config.h"
#include "rpc.h"
#include "queue.h"
#include "store.h"

/* status: version, pid, uptime, paths, accounts without secrets. */
static void
rpc_status_exec(struct rpc_call *call, json_t *params)
{
	const struct rpc_env	*env = rpc_call_env(call);
	const struct config	*cf = env->config;
	json_t			*r, *accounts, *a, *poll;
	struct timespec		 now;
	int64_t			 n, bytes;
	size_t			 i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	r = json_pack("{s:s, s:i, s:f, s:o, s:s?, s:s, s:s, s:I, s:o}",
	    "version", PACKAGE_VERSION,
	    "pid", (int)getpid(),
	    "uptime", (double)(now.tv_sec - env->started_mono.tv_sec) +
	    (now.tv_nsec - env->started_mono.tv_nsec) / 1e9,
	    "started", jsonrpc_time(env->started),
	    "config", cf->path,
	    "socket", cf->socket,
	    "data_dir", cf->data_dir,
	    "clients", (json_int_t)rpc_client_count(),
	    "accounts", accounts = config_describe(cf));
	json_array_foreach(accounts, i, a) {
		const char *name = json_string_value(json_object_get(a, "name"));

		if ((poll = account_status(name)) != NULL)
			json_object_set_new(a, "poll", poll);
		if (store_count(env->store, name, &n, &bytes) == 0)
			json_object_set_new(a, "store", json_pack("{s:I, s:I}",
			    "messages", (json_int_t)n, "bytes",
			    (json_int_t)bytes));
	}
	json_object_set_new(r, "queue", queue_status());
	rpc_call_reply(call, r);
}

const struct rpc_method rpc_status_method = {
	"status", NULL, NULL, rpc_status_exec
};

/* reload: reread the configuration; a bad one leaves the old in force. */
static void
rpc_reload_exec(struct rpc_call *call, json_t *params)
{
	const struct config	*cf;
	char			*cause = NULL;

	if (rpc_call_env(call)->reload(&cause) != 0) {
		rpc_call_error(call, JSONRPC_ERR_DATA, "configuration not "
		    "reloaded, the previous one stays in force: %s", cause);
		free(cause);
		return;
	}
	cf = rpc_call_env(call)->config;
	rpc_call_reply(call, json_pack("{s:b, s:s?, s:I}", "reloaded", 1,
	    "config", cf->path, "accounts", (json_int_t)cf->naccounts));
}

const struct rpc_method rpc_reload_method = {
	"reload", NULL, NULL, rpc_reload_exec
};
