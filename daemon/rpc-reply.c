/*
 * reply and forward: a message composed from a stored one and queued as
 * send queues (same durable outbox, same wait, same answer). The store
 * reads the original on its reader thread (reply.source: recipients,
 * subject, In-Reply-To, References, the quoted or forwarded text); here
 * the account it came to is chosen as the sender, the user's text put
 * above, and the whole checked and handed to the queue, which composes it
 * on the store's writer (with the original's parts for a forward) and
 * marks the original answered (R) or passed (P) once it is queued.
 *
 * With draft, nothing is queued: the answer is the message as it would
 * go (To, Cc, Bcc, Subject, body) and where drafts are kept, for mailctl
 * to open in an editor and send back with quote false.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jsonrpc.h"
#include "common/xmalloc.h"
#include "compose.h"
#include "config.h"
#include "queue.h"
#include "rpc.h"
#include "store.h"

/* A reply or forward waiting for the store's reading of the original. */
struct reply_req {
	struct rpc_call	*call;
	json_t		*params;
	int		 forward;
};

/* Is c a character a display name can have unquoted (atext or space)? */
static int
reply_atext(unsigned char c)
{
	return c >= 0x80 || c == ' ' || (c > 0x20 && c < 0x7f &&
	    strchr("()<>[]:;@\\,.\"", c) == NULL);
}

/* Append "Name <addr>" (the name quoted as needed) to a list string. */
static void
reply_render(char **list, const char *name, const char *addr)
{
	char	*q, *s;
	size_t	 i, n = 0;
	int	 plain = 1;

	for (i = 0; name != NULL && name[i] != '\0'; i++)
		if (!reply_atext(name[i]))
			plain = 0;
	if (name == NULL || *name == '\0')
		q = xstrdup(addr);
	else if (plain)
		xasprintf(&q, "%s <%s>", name, addr);
	else {
		s = xmalloc(2 * strlen(name) + 1);
		for (i = 0; name[i] != '\0'; i++) {
			if (name[i] == '"' || name[i] == '\\')
				s[n++] = '\\';
			s[n++] = name[i];
		}
		s[n] = '\0';
		xasprintf(&q, "\"%s\" <%s>", s, addr);
		free(s);
	}
	if (*list == NULL)
		*list = q;
	else {
		xasprintf(&s, "%s, %s", *list, q);
		free(*list);
		free(q);
		*list = s;
	}
}

/* An address list param (strings) as one string, "" for none. */
static json_t *
reply_join(json_t *a)
{
	json_t	*v, *out;
	char	*s = NULL, *t;
	size_t	 i;

	json_array_foreach(a, i, v) {
		if (s == NULL)
			s = xstrdup(json_string_value(v));
		else {
			xasprintf(&t, "%s, %s", s, json_string_value(v));
			free(s);
			s = t;
		}
	}
	out = json_string(s != NULL ? s : "");
	free(s);
	return out;
}

/*
 * Answer with a draft: the fields as mailctl writes them in the file it
 * opens in an editor, and the directory drafts go in (data_dir/drafts).
 */
void
rpc_reply_draft(struct rpc_call *call, json_t *to, json_t *cc, json_t *bcc,
    const char *subject, const char *body)
{
	rpc_call_reply(call, json_pack("{s:{s:o, s:o, s:o, s:s, s:s}, s:s++}",
	    "draft", "to", json_is_string(to) ? json_incref(to) : reply_join(to),
	    "cc", json_is_string(cc) ? json_incref(cc) : reply_join(cc),
	    "bcc", reply_join(bcc), "subject", subject != NULL ? subject : "",
	    "body", body != NULL ? body : "", "drafts_dir",
	    rpc_call_env(call)->config->data_dir, "/", "drafts"));
}

/* Every address of ours: each account's email and aliases. */
static json_t *
reply_own(const struct config *cf)
{
	json_t	*own = json_array();
	size_t	 i, j;

	for (i = 0; i < cf->naccounts; i++) {
		json_array_append_new(own, json_string(cf->accounts[i].email));
		for (j = 0; cf->accounts[i].aliases != NULL &&
		    cf->accounts[i].aliases[j] != NULL; j++)
			json_array_append_new(own, json_string(
			    cf->accounts[i].aliases[j]));
	}
	return own;
}

/*
 * The recipients the store worked out ([{name, addr}] of src, each
 * checked) into the envelope and the header. -1 (answered) on a bad one.
 */
static int
reply_rcpts(struct rpc_call *call, json_t *src, const char *what,
    json_t *rcpts, json_t *addrs, json_t *names)
{
	json_t		*v;
	const char	*addr;
	char		*cause = NULL;
	size_t		 i;

	json_array_foreach(src, i, v) {
		addr = json_string_value(json_object_get(v, "addr"));
		if (compose_check_address(addr, &cause) != 0) {
			rpc_call_error(call, JSONRPC_ERR_DATA, "the original's "
			    "%s: %s (give the recipients with to and cc)", what,
			    cause);
			free(cause);
			return -1;
		}
		json_array_append_new(addrs, json_string(addr));
		json_array_append(names, json_object_get(v, "name"));
		json_array_append_new(rcpts, json_string(addr));
	}
	return 0;
}

/* The body: the user's text, a blank line, then the original's text. */
static json_t *
reply_body(json_t *params, const char *text)
{
	const char	*user = json_string_value(json_object_get(params,
			    "body"));
	size_t		 n = user != NULL ? strlen(user) : 0;
	char		*s;
	json_t		*b;

	if (json_is_false(json_object_get(params, "quote")) || *text == '\0')
		return json_string(user != NULL ? user : "");
	xasprintf(&s, "%s%s%s%s", user != NULL ? user : "",
	    n > 0 && user[n - 1] != '\n' ? "\n" : "", n > 0 ? "\n" : "",
	    text);
	b = json_string(s);
	free(s);
	return b;
}

/* Draft: the message as it would be queued, for an editor. */
static void
reply_draft(struct reply_req *q, json_t *src)
{
	json_t		*p = q->params, *to, *cc, *v;
	const char	*subject, *user;
	char		*sto = NULL, *scc = NULL, *body;
	size_t		 i;

	json_array_foreach(json_object_get(src, "to"), i, v)
		reply_render(&sto, json_string_value(json_object_get(v, "name")),
		    json_string_value(json_object_get(v, "addr")));
	json_array_foreach(json_object_get(src, "cc"), i, v)
		reply_render(&scc, json_string_value(json_object_get(v, "name")),
		    json_string_value(json_object_get(v, "addr")));
	to = sto != NULL ? json_string(sto) : json_incref(json_object_get(p,
	    "to"));
	cc = scc != NULL ? json_string(scc) : json_incref(json_object_get(p,
	    "cc"));
	subject = json_string_value(json_object_get(p, "subject"));
	if (subject == NULL)
		subject = json_string_value(json_object_get(src, "subject"));
	user = json_string_value(json_object_get(p, "body"));
	/* The user's text (or room for it) above the original's. */
	xasprintf(&body, "%s\n%s", user != NULL ? user : "",
	    json_string_value(json_object_get(src, "text")));
	rpc_reply_draft(q->call, to, cc, json_object_get(p, "bcc"), subject,
	    body);
	json_decref(to);
	json_decref(cc);
	free(sto);
	free(scc);
	free(body);
}

/* The store read the original: compose, check and queue the message. */
static void
reply_source_cb(json_t *src, int code, const char *error, void *arg)
{
	struct reply_req		*q = arg;
	struct rpc_call			*call = q->call;
	json_t				*p = q->params, *rcpts, *hdr, *c;
	json_t				*msg, *compose, *add;
	const struct config_account	*ca;
	const char			*account;

	if (error != NULL) {
		rpc_call_error(call, code, "%s", error);
		goto out;
	}
	if (json_is_true(json_object_get(p, "draft"))) {
		reply_draft(q, src);
		goto out;
	}
	account = json_string_value(json_object_get(src, "account"));
	ca = config_find_account(rpc_call_env(call)->config, account);
	if (ca == NULL || ca->smtp == NULL) {
		rpc_call_error(call, JSONRPC_ERR_DATA, "account: %s, which "
		    "message %lld came to, %s", account,
		    (long long)json_integer_value(json_object_get(p, "id")),
		    ca == NULL ? "is no longer configured" : "has no SMTP "
		    "server to send with (accounts[].smtp)");
		goto out;
	}
	rcpts = json_array();
	hdr = json_pack("{s:[], s:[], s:[], s:[]}", "to", "to_names", "cc",
	    "cc_names");
	/* Recipients given (a forward, or an edited draft) win. */
	if (q->forward || json_object_get(p, "to") != NULL ||
	    json_object_get(p, "cc") != NULL) {
		if (rpc_send_rcpts(call, p, "to", rcpts, json_object_get(hdr,
		    "to"), json_object_get(hdr, "to_names")) != 0 ||
		    rpc_send_rcpts(call, p, "cc", rcpts, json_object_get(hdr,
		    "cc"), json_object_get(hdr, "cc_names")) != 0)
			goto fail;
	} else if (reply_rcpts(call, json_object_get(src, "to"), "Reply-To "
	    "or From", rcpts, json_object_get(hdr, "to"), json_object_get(hdr,
	    "to_names")) != 0 || reply_rcpts(call, json_object_get(src, "cc"),
	    "To or Cc", rcpts, json_object_get(hdr, "cc"),
	    json_object_get(hdr, "cc_names")) != 0)
		goto fail;
	if (rpc_send_rcpts(call, p, "bcc", rcpts, NULL, NULL) != 0)
		goto fail;
	if (json_array_size(rcpts) == 0) {
		rpc_call_error(call, JSONRPC_ERR_DATA, q->forward ?
		    "no recipients: give at least one of to, cc, bcc" :
		    "no one to reply to: the original names no address but "
		    "our own (give to)");
		goto fail;
	}
	msg = json_pack("{s:O, s:o, s:O?}", "subject",
	    json_object_get(p, "subject") != NULL ? json_object_get(p,
	    "subject") : json_object_get(src, "subject"),
	    "body", reply_body(p, json_string_value(json_object_get(src,
	    "text"))), "attach", json_object_get(p, "attach"));
	compose = rpc_send_compose(call, ca, msg, hdr);
	if (compose == NULL) {
		json_decref(msg);
		goto fail;
	}
	if ((c = json_object_get(src, "in_reply_to")) != NULL)
		json_object_set(compose, "in_reply_to", c);
	if ((c = json_object_get(src, "references")) != NULL)
		json_object_set(compose, "references", c);
	if (q->forward) {
		json_object_set(compose, "original", json_object_get(p, "id"));
		json_object_set_new(compose, "inline", json_boolean(
		    json_is_true(json_object_get(p, "inline"))));
	}
	add = json_pack("{s:s, s:s, s:o, s:O, s:o, s:{s:O, s:s}}",
	    "account", ca->name, "sender", ca->email, "rcpts", rcpts,
	    "subject", json_object_get(msg, "subject"), "compose", compose,
	    "mark", "id", json_object_get(p, "id"), "flag",
	    q->forward ? "P" : "R");
	queue_add(add, json_is_true(json_object_get(p, "wait")),
	    rpc_call_answer_cb, call);
	json_decref(add);
	json_decref(msg);
	json_decref(hdr);
	goto out;
fail:
	json_decref(rcpts);
	json_decref(hdr);
out:
	json_decref(src);
	json_decref(p);
	free(q);
}

/* reply and forward: read the original on the store's reader first. */
static void
reply_start(struct rpc_call *call, json_t *params, int forward)
{
	const struct config	*cf = rpc_call_env(call)->config;
	struct reply_req	*q;
	json_t			*src;

	if (forward && !json_is_true(json_object_get(params, "draft")) &&
	    json_object_get(params, "to") == NULL &&
	    json_object_get(params, "cc") == NULL &&
	    json_object_get(params, "bcc") == NULL) {
		rpc_call_error(call, JSONRPC_ERR_DATA, "no recipients: give at "
		    "least one of to, cc, bcc");
		return;
	}
	q = xcalloc(1, sizeof *q);
	q->call = call;
	q->params = json_incref(params);
	q->forward = forward;
	src = json_pack("{s:O, s:b, s:b, s:b, s:o}", "id",
	    json_object_get(params, "id"), "forward", forward, "inline",
	    json_is_true(json_object_get(params, "inline")), "all",
	    json_is_true(json_object_get(params, "all")), "own", reply_own(cf));
	store_request(rpc_call_env(call)->store, "reply.source", src,
	    reply_source_cb, q);
	json_decref(src);
}

static void
reply_exec(struct rpc_call *call, json_t *params)
{
	reply_start(call, params, 0);
}

static void
forward_exec(struct rpc_call *call, json_t *params)
{
	reply_start(call, params, 1);
}

/* The message to answer is a message id (>= 1). */
static int
reply_check(json_t *params, char **cause)
{
	if (json_integer_value(json_object_get(params, "id")) < 1) {
		*cause = xstrdup("id: expected a message id (an integer >= 1)");
		return -1;
	}
	return 0;
}

static const struct rpc_param reply_params[] = {
	{ "id",		RPC_INTEGER,	1 },
	{ "all",	RPC_BOOLEAN,	0 },	/* reply to all */
	{ "body",	RPC_STRING,	0 },
	{ "quote",	RPC_BOOLEAN,	0 },	/* false: body has it all */
	{ "attach",	RPC_STRINGS,	0 },
	{ "to",		RPC_STRINGS,	0 },	/* instead of the worked out */
	{ "cc",		RPC_STRINGS,	0 },
	{ "bcc",	RPC_STRINGS,	0 },
	{ "subject",	RPC_STRING,	0 },
	{ "wait",	RPC_BOOLEAN,	0 },
	{ "draft",	RPC_BOOLEAN,	0 },	/* answer it, queue nothing */
	{ NULL,		0,		0 }
};

const struct rpc_method rpc_reply_method = {
	"reply", reply_params, reply_check, reply_exec
};

static const struct rpc_param forward_params[] = {
	{ "id",		RPC_INTEGER,	1 },
	{ "to",		RPC_STRINGS,	0 },
	{ "cc",		RPC_STRINGS,	0 },
	{ "bcc",	RPC_STRINGS,	0 },
	{ "body",	RPC_STRING,	0 },
	{ "quote",	RPC_BOOLEAN,	0 },
	{ "inline",	RPC_BOOLEAN,	0 },	/* text in the body */
	{ "attach",	RPC_STRINGS,	0 },
	{ "subject",	RPC_STRING,	0 },
	{ "wait",	RPC_BOOLEAN,	0 },
	{ "draft",	RPC_BOOLEAN,	0 },
	{ NULL,		0,		0 }
};

const struct rpc_method rpc_forward_method = {
	"forward", forward_params, reply_check, forward_exec
};
