/*
 * The outbox methods: send, queue.list, queue.flush, queue.cancel. send
 * checks everything that can be checked before anything is queued (the
 * account, every address, header injection, the attachments) and hands
 * the message to the queue, which answers once it is durable.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jsonrpc.h"
#include "common/xmalloc.h"
#include "compose.h"
#include "config.h"
#include "mime.h"
#include "queue.h"
#include "rpc.h"

/* The account to send from: the one named, else the first with SMTP. */
static const struct config_account *
send_account(struct rpc_call *call, const char *name)
{
	const struct config		*cf = rpc_call_env(call)->config;
	const struct config_account	*ca = NULL;
	size_t				 i;

	if (name != NULL) {
		if ((ca = config_find_account(cf, name)) == NULL)
			rpc_call_error(call, JSONRPC_ERR_NOT_FOUND, "account: "
			    "no account named \"%.64s\"", name);
		else if (ca->smtp == NULL) {
			rpc_call_error(call, JSONRPC_ERR_DATA, "account: %s "
			    "has no SMTP server (accounts[].smtp)", name);
			ca = NULL;
		}
		return ca;
	}
	for (i = 0; i < cf->naccounts && ca == NULL; i++)
		if (cf->accounts[i].smtp != NULL)
			ca = &cf->accounts[i];
	if (ca == NULL)
		rpc_call_error(call, JSONRPC_ERR_DATA, "no account has an SMTP "
		    "server (accounts[].smtp)");
	return ca;
}

/*
 * Split each entry of params[key] (an RFC 5322 address list: "Name <a@b>,
 * c@d") into its mailboxes, check each address, and add it to rcpts (the
 * envelope, each address once) and, unless addrs is NULL, to addrs and its
 * display name ("" for none) to names (the header). Return -1 (the call
 * answered) on a bad one.
 */
int
rpc_send_rcpts(struct rpc_call *call, json_t *params, const char *key,
    json_t *rcpts, json_t *addrs, json_t *names)
{
	struct mime_addr	*mb;
	json_t			*v, *have;
	const char		*addr;
	char			*cause = NULL;
	size_t			 i, j, k, n;
	int			 dup;

	json_array_foreach(json_object_get(params, key), i, v) {
		mb = compose_mailbox_list(json_string_value(v), &n);
		if (n == 0) {
			rpc_call_error(call, JSONRPC_ERR_DATA, "%s[%zu]: no "
			    "address in \"%.100s\"", key, i,
			    json_string_value(v));
			return -1;
		}
		for (k = 0; k < n; k++) {
			addr = mb[k].addr;
			if (compose_check_address(addr, &cause) != 0) {
				rpc_call_error(call, JSONRPC_ERR_DATA,
				    "%s[%zu]: %s", key, i, cause);
				free(cause);
				mime_addr_free(mb, n);
				return -1;
			}
			if (addrs != NULL) {
				json_array_append_new(addrs, json_string(addr));
				json_array_append_new(names,
				    json_string(mb[k].name));
			}
			dup = 0;
			json_array_foreach(rcpts, j, have)
				if (strcmp(json_string_value(have), addr) == 0)
					dup = 1;
			if (!dup)
				json_array_append_new(rcpts, json_string(addr));
		}
		mime_addr_free(mb, n);
	}
	return 0;
}

/*
 * The message's JSON form as the queue will compose it (hdr: to, to_names,
 * cc, cc_names as send_rcpts split them), checked; NULL when it cannot be
 * sent (the call answered).
 */
json_t *
rpc_send_compose(struct rpc_call *call, const struct config_account *ca,
    json_t *params, json_t *hdr)
{
	struct compose	 c;
	json_t		*o, *v;
	char		*cause = NULL;
	size_t		 i;
	int		 rc;

	json_array_foreach(json_object_get(params, "attach"), i, v) {
		if (json_string_value(v)[0] != '/') {
			rpc_call_error(call, JSONRPC_ERR_DATA, "attach[%zu]: "
			    "expected an absolute path", i);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:s?, s:O?, s:O?, s:O?, s:I}",
	    "from_addr", ca->email, "from_name", ca->display_name,
	    "subject", json_object_get(params, "subject"),
	    "body", json_object_get(params, "body"),
	    "attach", json_object_get(params, "attach"),
	    "attachment_max",
	    (json_int_t)rpc_call_env(call)->config->attachment_max_bytes);
	json_object_update(o, hdr);
	compose_from_json(&c, o);
	rc = compose_check(&c, &cause);
	compose_json_free(&c);
	if (rc != 0) {
		rpc_call_error(call, JSONRPC_ERR_DATA, "%s", cause);
		free(cause);
		json_decref(o);
		return NULL;
	}
	return o;
}

/* An account as the store chooses among them for a sendmail message. */
static json_t *
send_candidate(const struct config_account *ca)
{
	json_t	*o, *aliases = json_array();
	size_t	 i;

	for (i = 0; ca->aliases != NULL && ca->aliases[i] != NULL; i++)
		json_array_append_new(aliases, json_string(ca->aliases[i]));
	o = json_pack("{s:s, s:s, s:s?, s:o, s:b}", "name", ca->name, "email",
	    ca->email, "display_name", ca->display_name, "aliases", aliases,
	    "default", ca->is_default);
	return o;
}

/*
 * The accounts a sendmail message may go out from: the one named
 * (ca, with --account), else every account with an SMTP server. The
 * store picks by -f or the message's From (DESIGN.md: never logged in as
 * one account to send as another), else the default, else the first.
 */
static json_t *
send_choose(struct rpc_call *call, const struct config_account *named)
{
	const struct config	*cf = rpc_call_env(call)->config;
	json_t			*a = json_array();
	size_t			 i;

	if (named != NULL) {
		json_array_append_new(a, send_candidate(named));
		return a;
	}
	for (i = 0; i < cf->naccounts; i++)
		if (cf->accounts[i].smtp != NULL)
			json_array_append_new(a, send_candidate(
			    &cf->accounts[i]));
	return a;
}

/*
 * send with raw: queue the complete message in that file as it is
 * (mailctl sendmail), to the recipients given and, with extract, those of
 * its To, Cc and Bcc fields (read by the store).
 */
static void
send_raw(struct rpc_call *call, const struct config_account *ca,
    json_t *params, json_t *rcpts)
{
	const char	*raw = json_string_value(json_object_get(params, "raw"));
	const char	*from = json_string_value(json_object_get(params, "from"));
	char		*cause = NULL;
	json_t		*add;
	int		 extract = json_is_true(json_object_get(params,
			    "extract"));

	if (raw[0] != '/') {
		rpc_call_error(call, JSONRPC_ERR_DATA, "raw: expected an "
		    "absolute path");
		json_decref(rcpts);
		return;
	}
	if (from != NULL && from[0] != '\0' && compose_check_address(from,
	    &cause) != 0) {
		rpc_call_error(call, JSONRPC_ERR_DATA, "from: %s", cause);
		free(cause);
		json_decref(rcpts);
		return;
	}
	if (!extract && json_array_size(rcpts) == 0) {
		rpc_call_error(call, JSONRPC_ERR_DATA, "no recipients: give "
		    "them, or extract them from the message (sendmail -t)");
		json_decref(rcpts);
		return;
	}
	add = json_pack("{s:o, s:o, s:s, s:b}", "choose", send_choose(call, ca),
	    "rcpts", rcpts, "raw", raw, "extract", extract);
	if (from != NULL && from[0] != '\0')
		json_object_set_new(add, "sender", json_string(from));
	queue_add(add, json_is_true(json_object_get(params, "wait")),
	    rpc_call_answer_cb, call);
	json_decref(add);
}

/* send: compose and queue a message. */
static void
send_exec(struct rpc_call *call, json_t *params)
{
	const struct config_account	*ca;
	json_t				*rcpts, *hdr, *compose, *add;
	const char			*raw = json_string_value(
					    json_object_get(params, "raw"));

	if ((ca = send_account(call, json_string_value(json_object_get(params,
	    "account")))) == NULL)
		return;
	if (json_is_true(json_object_get(params, "draft"))) {
		rpc_reply_draft(call, json_object_get(params, "to"),
		    json_object_get(params, "cc"), json_object_get(params,
		    "bcc"), json_string_value(json_object_get(params,
		    "subject")), json_string_value(json_object_get(params,
		    "body")));
		return;
	}
	rcpts = json_array();
	hdr = json_pack("{s:[], s:[], s:[], s:[]}", "to", "to_names", "cc",
	    "cc_names");
	if (rpc_send_rcpts(call, params, "to", rcpts, json_object_get(hdr, "to"),
	    json_object_get(hdr, "to_names")) != 0 ||
	    rpc_send_rcpts(call, params, "cc", rcpts, json_object_get(hdr, "cc"),
	    json_object_get(hdr, "cc_names")) != 0 ||
	    rpc_send_rcpts(call, params, "bcc", rcpts, NULL, NULL) != 0) {
		json_decref(rcpts);
		json_decref(hdr);
		return;
	}
	if (raw != NULL) {
		/* Named, the account decides; else the message does. */
		json_decref(hdr);
		send_raw(call, json_object_get(params, "account") != NULL ? ca :
		    NULL, params, rcpts);
		return;
	}
	if (json_array_size(rcpts) == 0) {
		rpc_call_error(call, JSONRPC_ERR_DATA, "no recipients: give at "
		    "least one of to, cc, bcc");
		json_decref(rcpts);
		json_decref(hdr);
		return;
	}
	compose = rpc_send_compose(call, ca, params, hdr);
	json_decref(hdr);
	if (compose == NULL) {
		json_decref(rcpts);
		return;
	}
	add = json_pack("{s:s, s:s, s:o, s:O?, s:o}", "account", ca->name,
	    "sender", ca->email, "rcpts", rcpts, "subject",
	    json_object_get(params, "subject"), "compose", compose);
	queue_add(add, json_is_true(json_object_get(params, "wait")),
	    rpc_call_answer_cb, call);
	json_decref(add);
}

static const struct rpc_param send_params[] = {
	{ "account",	RPC_STRING,	0 },
	{ "to",		RPC_STRINGS,	0 },
	{ "cc",		RPC_STRINGS,	0 },
	{ "bcc",	RPC_STRINGS,	0 },
	{ "subject",	RPC_STRING,	0 },
	{ "body",	RPC_STRING,	0 },
	{ "attach",	RPC_STRINGS,	0 },
	{ "wait",	RPC_BOOLEAN,	0 },
	{ "raw",	RPC_STRING,	0 },	/* sendmail: a whole message */
	{ "extract",	RPC_BOOLEAN,	0 },	/* its recipients too (-t) */
	{ "from",	RPC_STRING,	0 },	/* its envelope sender (-f) */
	{ "draft",	RPC_BOOLEAN,	0 },	/* answer it, queue nothing */
	{ NULL,		0,		0 }
};

const struct rpc_method rpc_send_method = {
	"send", send_params, NULL, send_exec
};

/* queue.list: every message in the outbox. */
static void
queue_list_exec(struct rpc_call *call, json_t *params)
{
	(void)params;
	queue_list(rpc_call_answer_cb, call);
}

const struct rpc_method rpc_queue_list_method = {
	"queue.list", NULL, NULL, queue_list_exec
};

/* queue.flush: try every waiting message now. */
static void
queue_flush_exec(struct rpc_call *call, json_t *params)
{
	(void)params;
	rpc_call_reply(call, json_pack("{s:i}", "flushed", queue_flush()));
}

const struct rpc_method rpc_queue_flush_method = {
	"queue.flush", NULL, NULL, queue_flush_exec
};

/* queue.cancel: drop a message that is not being sent. */
static void
queue_cancel_exec(struct rpc_call *call, json_t *params)
{
	queue_cancel(json_integer_value(json_object_get(params, "id")),
	    rpc_call_answer_cb, call);
}

static const struct rpc_param queue_cancel_params[] = {
	{ "id",		RPC_INTEGER,	1 },
	{ NULL,		0,		0 }
};

const struct rpc_method rpc_queue_cancel_method = {
	"queue.cancel", queue_cancel_params, NULL, queue_cancel_exec
};
