/*
 * The mailbox methods: list, folders, read, attachments, mark, move,
 * delete, reindex, refilter, search, thread. Each hands its checked params
 * to the store, which runs it on a store thread and answers through
 * rpc_call_answer_cb.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jsonrpc.h"
#include "common/xmalloc.h"
#include "config.h"
#include "rpc.h"
#include "store.h"

/* Hand the call to the store (the method name is the operation's). */
#define RPC_MAIL_EXEC(op)						\
static void								\
rpc_mail_##op##_exec(struct rpc_call *call, json_t *params)		\
{									\
	store_request(rpc_call_env(call)->store, #op, params,		\
	    rpc_call_answer_cb, call);					\
}
/* The store answered a listing as JSON text. */
static void
rpc_mail_text_cb(char *text, size_t len, int code, const char *error,
    void *arg)
{
	if (error != NULL)
		rpc_call_error(arg, code, "%s", error);
	else
		rpc_call_reply_text(arg, text, len);
}

RPC_MAIL_EXEC(folders)
RPC_MAIL_EXEC(read)
RPC_MAIL_EXEC(mark)
RPC_MAIL_EXEC(move)
RPC_MAIL_EXEC(delete)
RPC_MAIL_EXEC(refilter)

/* attachments: --save's directory may come as a descriptor. */
static void
rpc_mail_attachments_exec(struct rpc_call *call, json_t *params)
{
	store_request_fd(rpc_call_env(call)->store, "attachments", params,
	    rpc_call_take_fd(call), rpc_call_answer_cb, call);
}

/*
 * Answer "not found" for an account the configuration does not name, rather
 * than let the store answer with nothing: a typo is not an empty mailbox.
 */
static int
rpc_mail_unknown_account(struct rpc_call *call, json_t *params)
{
	const char	*name;

	name = json_string_value(json_object_get(params, "account"));
	if (name == NULL ||
	    config_find_account(rpc_call_env(call)->config, name) != NULL)
		return 0;
	rpc_call_error(call, JSONRPC_ERR_NOT_FOUND, "no account named \"%.100s\"",
	    name);
	return 1;
}

/* list: its answer, maybe 50,000 entries, comes as text. */
static void
rpc_mail_list_exec(struct rpc_call *call, json_t *params)
{
	if (!rpc_mail_unknown_account(call, params))
		store_request_text(rpc_call_env(call)->store, "list", params,
		    rpc_mail_text_cb, call);
}

/* thread: one conversation, as text like list. */
static void
rpc_mail_thread_exec(struct rpc_call *call, json_t *params)
{
	store_request_text(rpc_call_env(call)->store, "thread", params,
	    rpc_mail_text_cb, call);
}

static void
rpc_mail_reindex_exec(struct rpc_call *call, json_t *params)
{
	if (!rpc_mail_unknown_account(call, params))
		store_request(rpc_call_env(call)->store, "reindex", params,
		    rpc_call_answer_cb, call);
}

/* Message ids start at 1. */
static int
rpc_mail_check_id(json_t *params, char **cause)
{
	if (json_integer_value(json_object_get(params, "id")) < 1) {
		*cause = xstrdup("id: expected a message id (an integer >= 1)");
		return -1;
	}
	return 0;
}

/* A non-empty list of message ids, each >= 1, at most 100000. */
static int
rpc_mail_check_ids(json_t *params, char **cause)
{
	json_t	*ids = json_object_get(params, "ids"), *v;
	size_t	 i;

	if (json_array_size(ids) == 0 || json_array_size(ids) > 100000) {
		*cause = xstrdup("ids: expected 1 to 100000 message ids");
		return -1;
	}
	json_array_foreach(ids, i, v) {
		if (json_integer_value(v) < 1) {
			xasprintf(cause, "ids[%zu]: expected a message id (an "
			    "integer >= 1)", i);
			return -1;
		}
	}
	return 0;
}

/* mark: the ids, and at least one flag to set or clear. */
static int
rpc_mail_check_mark(json_t *params, char **cause)
{
	if (json_object_get(params, "read") == NULL &&
	    json_object_get(params, "flagged") == NULL &&
	    json_object_get(params, "replied") == NULL &&
	    json_object_get(params, "forwarded") == NULL) {
		*cause = xstrdup("expected at least one of read, flagged, "
		    "replied, forwarded");
		return -1;
	}
	return rpc_mail_check_ids(params, cause);
}

static const struct rpc_param rpc_list_params[] = {
	{ "folder", RPC_STRING, 0 },
	{ "account", RPC_STRING, 0 },
	{ "unread", RPC_BOOLEAN, 0 },
	{ "limit", RPC_INTEGER, 0 },
	{ "offset", RPC_INTEGER, 0 },
	{ "threads", RPC_BOOLEAN, 0 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_thread_params[] = {
	{ "id", RPC_INTEGER, 1 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_read_params[] = {
	{ "id", RPC_INTEGER, 1 },
	{ "raw", RPC_BOOLEAN, 0 },
	{ "keep_unread", RPC_BOOLEAN, 0 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_attachments_params[] = {
	{ "id", RPC_INTEGER, 1 },
	{ "index", RPC_INTEGER, 0 },
	{ "save", RPC_STRING, 0 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_mark_params[] = {
	{ "ids", RPC_INTEGERS, 1 },
	{ "read", RPC_BOOLEAN, 0 },
	{ "flagged", RPC_BOOLEAN, 0 },
	{ "replied", RPC_BOOLEAN, 0 },
	{ "forwarded", RPC_BOOLEAN, 0 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_move_params[] = {
	{ "ids", RPC_INTEGERS, 1 },
	{ "folder", RPC_STRING, 1 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_delete_params[] = {
	{ "ids", RPC_INTEGERS, 1 },
	{ "purge", RPC_BOOLEAN, 0 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_reindex_params[] = {
	{ "account", RPC_STRING, 0 },
	{ NULL, 0, 0 }
};
static const struct rpc_param rpc_refilter_params[] = {
	{ "folder", RPC_STRING, 0 },
	{ "dry_run", RPC_BOOLEAN, 0 },
	{ NULL, 0, 0 }
};

const struct rpc_method rpc_list_method = {
	"list", rpc_list_params, NULL, rpc_mail_list_exec
};
const struct rpc_method rpc_folders_method = {
	"folders", NULL, NULL, rpc_mail_folders_exec
};
const struct rpc_method rpc_read_method = {
	"read", rpc_read_params, rpc_mail_check_id, rpc_mail_read_exec
};
const struct rpc_method rpc_attachments_method = {
	"attachments", rpc_attachments_params, rpc_mail_check_id,
	rpc_mail_attachments_exec
};
const struct rpc_method rpc_mark_method = {
	"mark", rpc_mark_params, rpc_mail_check_mark, rpc_mail_mark_exec
};
const struct rpc_method rpc_move_method = {
	"move", rpc_move_params, rpc_mail_check_ids, rpc_mail_move_exec
};
const struct rpc_method rpc_delete_method = {
	"delete", rpc_delete_params, rpc_mail_check_ids, rpc_mail_delete_exec
};
const struct rpc_method rpc_reindex_method = {
	"reindex", rpc_reindex_params, NULL, rpc_mail_reindex_exec
};
const struct rpc_method rpc_refilter_method = {
	"refilter", rpc_refilter_params, NULL, rpc_mail_refilter_exec
};

/* search: the query is parsed on the reader; its answer comes as text. */
static void
rpc_mail_search_exec(struct rpc_call *call, json_t *params)
{
	store_request_text(rpc_call_env(call)->store, "search", params,
	    rpc_mail_text_cb, call);
}

/* limit and offset are counts. */
static int
rpc_mail_check_search(json_t *params, char **cause)
{
	if (json_integer_value(json_object_get(params, "limit")) < 0 ||
	    json_integer_value(json_object_get(params, "offset")) < 0) {
		*cause = xstrdup("limit, offset: expected an integer >= 0");
		return -1;
	}
	return 0;
}

static const struct rpc_param rpc_search_params[] = {
	{ "query", RPC_STRING, 1 },
	{ "limit", RPC_INTEGER, 0 },
	{ "offset", RPC_INTEGER, 0 },
	{ NULL, 0, 0 }
};
const struct rpc_method rpc_search_method = {
	"search", rpc_search_params, rpc_mail_check_search,
	rpc_mail_search_exec
};

const struct rpc_method rpc_thread_method = {
	"thread", rpc_thread_params, rpc_mail_check_id, rpc_mail_thread_exec
};
