/*
 * The JSON-RPC control socket: listener, clients, framing and dispatch.
 *
 * Every client is a bufferevent for its output and an event of its own for
 * its input, read with recvmsg so that a request can bring an open
 * descriptor along (SCM_RIGHTS: attachments --save passes the directory
 * it saves into, so the daemon can write there even where its sandbox
 * makes the path read-only). Input is split at "\n"; a line longer than
 * JSONRPC_LINE_MAX gets one error and the connection is closed after it is
 * flushed. Replies are queued on the client's output; when a client does not
 * read and its output passes RPC_OUTPUT_HIGH, reading from it pauses until it
 * catches up, so a client can never make the daemon buffer without bound.
 *
 * A request becomes a struct rpc_call that lives until its method answers.
 * Batches (JSON-RPC 2.0 section 6) are answered with one array once every
 * member has answered. When a client goes away its calls are detached
 * (call->client = NULL) and their answers dropped; nothing else notices.
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/xmalloc.h"
#include "rpc.h"

#define RPC_CLIENTS_MAX		512	/* say so in the refusal too */
#define RPC_OUTPUT_HIGH		(8 * 1024 * 1024)
#define RPC_BATCH_MAX		10000
/*
 * The output budget of one request or one batch: the bytes of its answer
 * (a batch's answers add up as they come). An answer that does not fit is
 * replaced by an error that says so; a batch's calls not yet run when its
 * budget is spent are not run, and answered so.
 */
#define RPC_ANSWER_MAX		(64 * 1024 * 1024)
#define RPC_ANSWER_MIB		"64 MiB"
#define RPC_BATCH_RUNNING	8	/* members of one batch at work at once */
#define RPC_TRIM_AFTER		(1024 * 1024)	/* answer bytes, then trim */
#define RPC_ACCEPT_RETRY	1	/* seconds to pause after EMFILE */
#define RPC_SUBSCRIBER_MAX	(256 * 1024)	/* unread events, and ... */
#define RPC_SUBSCRIBER_STUCK	5		/* ... s without reading: drop */
#define RPC_SUBSCRIBER_HARD	(16 * 1024 * 1024)	/* drop regardless */
#define RPC_CLIENT_FDS		4	/* descriptors received, not yet taken */
#define RPC_READ_SIZE		65536

extern const struct rpc_method rpc_status_method;
extern const struct rpc_method rpc_reload_method;
extern const struct rpc_method rpc_fetch_method;
extern const struct rpc_method rpc_subscribe_method;
extern const struct rpc_method rpc_list_method;
extern const struct rpc_method rpc_folders_method;
extern const struct rpc_method rpc_read_method;
extern const struct rpc_method rpc_attachments_method;
extern const struct rpc_method rpc_mark_method;
extern const struct rpc_method rpc_move_method;
extern const struct rpc_method rpc_delete_method;
extern const struct rpc_method rpc_reindex_method;
extern const struct rpc_method rpc_refilter_method;
extern const struct rpc_method rpc_search_method;
extern const struct rpc_method rpc_send_method;
extern const struct rpc_method rpc_queue_list_method;
extern const struct rpc_method rpc_queue_flush_method;
extern const struct rpc_method rpc_queue_cancel_method;
extern const struct rpc_method rpc_reply_method;
extern const struct rpc_method rpc_forward_method;
extern const struct rpc_method rpc_thread_method;

/* The dispatch table: one line per method. */
static const struct rpc_method *const rpc_methods[] = {
	&rpc_status_method,
	&rpc_reload_method,
	&rpc_fetch_method,
	&rpc_subscribe_method,
	&rpc_list_method,
	&rpc_folders_method,
	&rpc_read_method,
	&rpc_attachments_method,
	&rpc_mark_method,
	&rpc_move_method,
	&rpc_delete_method,
	&rpc_reindex_method,
	&rpc_refilter_method,
	&rpc_search_method,
	&rpc_send_method,
	&rpc_queue_list_method,
	&rpc_queue_flush_method,
	&rpc_queue_cancel_method,
	&rpc_reply_method,
	&rpc_forward_method,
	&rpc_thread_method,
	NULL
};

struct rpc_client {
	TAILQ_ENTRY(rpc_client)	 entry;
	unsigned long		 id;
	struct bufferevent	*bev;		/* its output */
	struct event		*rd;		/* its input */
	struct evbuffer		*in;
	size_t			 consumed;	/* input bytes taken off in */
	size_t			 received;	/* input bytes read */
	int			 fds[RPC_CLIENT_FDS];	/* received */
	size_t			 fd_at[RPC_CLIENT_FDS];	/* with byte ... */
	unsigned		 nfds;
	int			 line_fd;	/* the line's; -1: none */
	uid_t			 uid;
	pid_t			 pid;
	int			 flags;
#define RPC_CLIENT_CLOSING	0x1	/* free once output and calls are done */
#define RPC_CLIENT_PAUSED	0x2	/* reading paused: output backlog */
#define RPC_CLIENT_SUBSCRIBED	0x4	/* receives events */
	TAILQ_HEAD(, rpc_call)	 calls;	/* in flight */
	size_t			 ev_pending;	/* events unsent, last time */
	time_t			 ev_read;	/* when it last took some */
};

/*
 * A batch: its members are run RPC_BATCH_RUNNING at a time, and each
 * answer is encoded as it comes into one buffer, counted against the
 * budget; nothing of an answer is kept but its text.
 */
struct rpc_batch {
	struct rpc_client	*client;	/* borrowed; NULL once gone */
	json_t			*members;	/* the request's array */
	size_t			 next;		/* the next member to run */
	unsigned		 running;	/* members not answered yet */
	int			 pumping;	/* in rpc_batch_pump */
	struct evbuffer		*out;		/* answers, comma-separated */
	size_t			 nanswers;
	size_t			 bytes;
	int			 spent;		/* the budget is */
};

struct rpc_call {
	TAILQ_ENTRY(rpc_call)	 entry;
	struct rpc_client	*client;	/* borrowed; NULL once gone */
	struct rpc_batch	*batch;		/* or NULL */
	json_t			*id;		/* NULL: a notification */
	const char		*method;	/* borrowed from the table */
	int			 fd;		/* came with it; -1: none */
};

static TAILQ_HEAD(, rpc_client) rpc_clients =
    TAILQ_HEAD_INITIALIZER(rpc_clients);
static size_t			 rpc_nclients;
static unsigned long		 rpc_next_client_id;
static struct evconnlistener	*rpc_listener;
static struct event		*rpc_accept_timer;
static char			*rpc_socket_path;	/* unlinked at shutdown */
static struct rpc_env		 rpc_env;

/* Take what the methods work with. */
void
rpc_init(const struct rpc_env *env)
{
	rpc_env = *env;
}

/* The configuration in force changed. */
void
rpc_reconfigure(const struct config *cf)
{
	rpc_env.config = cf;
}

static void	rpc_client_read(struct rpc_client *);
static void	rpc_client_free(struct rpc_client *);

/* Stop or restart reading a client's input. */
static void
rpc_client_pause(struct rpc_client *c)
{
	event_del(c->rd);
}

static void
rpc_client_resume(struct rpc_client *c)
{
	event_add(c->rd, NULL);
}

/* Queue one encoded line on the client's output. */
static void
rpc_client_write(struct rpc_client *c, const char *line, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	evbuffer_add(out, line, len);
	if (evbuffer_get_length(out) > RPC_OUTPUT_HIGH &&
	    !(c->flags & RPC_CLIENT_PAUSED)) {
		log_debug("client=%lu output backlog, pausing reads", c->id);
		c->flags |= RPC_CLIENT_PAUSED;
		rpc_client_pause(c);
	}
}

/* Queue one message on the client's output. */
static void
rpc_client_send(struct rpc_client *c, json_t *msg)
{
	char	*line;
	size_t	 len;

	if ((line = jsonrpc_encode(msg, &len)) == NULL) {
		log_warnx("client=%lu cannot encode a reply", c->id);
		return;
	}
	rpc_client_write(c, line, len);
	free(line);
}

/* Free the client once it is closing with nothing left to do. */
static void
rpc_client_maybe_free(struct rpc_client *c)
{
	if ((c->flags & RPC_CLIENT_CLOSING) && TAILQ_EMPTY(&c->calls) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		rpc_client_free(c);
}

/* Stop reading from a client; free it when its output is flushed. */
static void
rpc_client_close_after_flush(struct rpc_client *c)
{
	c->flags |= RPC_CLIENT_CLOSING;
	rpc_client_pause(c);
	/* Calls in flight will not be answered to a closing client. */
	rpc_client_maybe_free(c);
}

/* Create a call; id (borrowed) is NULL for a notification. */
static struct rpc_call *
rpc_call_new(struct rpc_client *c, struct rpc_batch *batch, json_t *id)
{
	struct rpc_call	*call;

	call = xcalloc(1, sizeof *call);
	call->client = c;
	call->batch = batch;
	call->id = id != NULL ? json_incref(id) : NULL;
	call->fd = -1;
	if (batch == NULL) {
		call->fd = c->line_fd;	/* a batch's members get none */
		c->line_fd = -1;
	}
	TAILQ_INSERT_TAIL(&c->calls, call, entry);
	return call;
}

/* Give the heap back after a big answer: its memory was the request's. */
static void
rpc_trim(size_t bytes)
{
	if (bytes >= RPC_TRIM_AFTER)
		malloc_trim(0);
}

/* The error that replaces an answer past the budget (of a batch's). */
static json_t *
rpc_over_budget(json_t *id, int batch)
{
	return jsonrpc_error(id, JSONRPC_ERR_FAILED, batch ?
	    "not sent: this answer would pass the output budget of one batch "
	    "(" RPC_ANSWER_MIB ")" : "not sent: the answer passes the output "
	    "budget of one request (" RPC_ANSWER_MIB ")");
}

/* Send a batch's answers, as one array, and free it. */
static void
rpc_batch_free(struct rpc_batch *b)
{
	struct rpc_client	*c = b->client;
	size_t			 bytes = b->bytes;

	/* A batch of notifications only gets no answer at all. */
	if (c != NULL && b->nanswers > 0) {
		evbuffer_add(bufferevent_get_output(c->bev), "[", 1);
		evbuffer_add_buffer(bufferevent_get_output(c->bev), b->out);
		evbuffer_add(bufferevent_get_output(c->bev), "]\n", 2);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    RPC_OUTPUT_HIGH && !(c->flags & RPC_CLIENT_PAUSED)) {
			c->flags |= RPC_CLIENT_PAUSED;
			rpc_client_pause(c);
		}
	}
	if (c != NULL)
		rpc_client_maybe_free(c);
	evbuffer_free(b->out);
	json_decref(b->members);
	free(b);
	rpc_trim(bytes);
}

/*
 * Add one member's answer to its batch: line (stolen; len bytes without
 * a newline), an error when error is set. Errors are small and bounded:
 * they always fit; a result past the budget is replaced.
 */
static void
rpc_batch_answer(struct rpc_batch *b, json_t *id, char *line, size_t len,
    int error)
{
	json_t	*over;

	if (b->bytes + len + 1 > RPC_ANSWER_MAX && !error) {
		free(line);
		b->spent = 1;
		over = rpc_over_budget(id, 1);
		line = jsonrpc_encode(over, &len);
		json_decref(over);
		len--;
	}
	if (b->nanswers++ > 0)
		evbuffer_add(b->out, ",", 1);
	evbuffer_add(b->out, line, len);
	b->bytes += len + 1;
	free(line);
}

/* Add a member's answer given as a message (stolen) to its batch. */
static void
rpc_batch_json(struct rpc_batch *b, json_t *id, json_t *msg, int error)
{
	char	*line;
	size_t	 len;

	line = jsonrpc_encode(msg, &len);
	json_decref(msg);
	if (line != NULL)
		rpc_batch_answer(b, id, line, len - 1, error);
}

static void	rpc_handle(struct rpc_client *, json_t *, struct rpc_batch *);

/*
 * Run the batch's next members while fewer than RPC_BATCH_RUNNING are at
 * work; once all have answered, send the batch. After the budget is
 * spent, or the client is gone, the rest are not run.
 */
static void
rpc_batch_pump(struct rpc_batch *b)
{
	json_t	*e, *id, *err;

	if (b->pumping)
		return;		/* the loop below goes on */
	b->pumping = 1;
	while (b->next < json_array_size(b->members) &&
	    b->running < RPC_BATCH_RUNNING) {
		e = json_array_get(b->members, b->next++);
		if (b->client == NULL)
			continue;
		if (b->spent) {
			id = jsonrpc_request_id(e);
			err = jsonrpc_error(id, JSONRPC_ERR_FAILED, "not run: "
			    "the batch's answers had passed its output budget "
			    "(" RPC_ANSWER_MIB ") before this call");
			if (json_object_get(e, "id") != NULL)
				rpc_batch_json(b, id, err, 1);
			else
				json_decref(err);
			json_decref(id);
			continue;
		}
		b->running++;
		rpc_handle(b->client, e, b);
	}
	b->pumping = 0;
	if (b->running == 0 && b->next == json_array_size(b->members))
		rpc_batch_free(b);
}

/*
 * Finish a call with its answer, line (stolen; len bytes, its newline
 * included; NULL for none), an error when error is set.
 */
static void
rpc_call_finish_line(struct rpc_call *call, char *line, size_t len,
    int error)
{
	struct rpc_client	*c = call->client;
	struct rpc_batch	*b = call->batch;
	json_t			*over;

	if (c != NULL)
		TAILQ_REMOVE(&c->calls, call, entry);
	if (call->id == NULL) {
		free(line);	/* notifications are never answered */
		line = NULL;
	}
	if (b != NULL) {
		if (line != NULL)
			rpc_batch_answer(b, call->id, line, len - 1, error);
		b->running--;
		rpc_batch_pump(b);
	} else if (line != NULL) {
		if (c != NULL) {
			if (len > RPC_ANSWER_MAX && !error) {
				free(line);
				over = rpc_over_budget(call->id, 0);
				line = jsonrpc_encode(over, &len);
				json_decref(over);
			}
			rpc_client_write(c, line, len);
			rpc_trim(len);
		}
		free(line);
		if (c != NULL)
			rpc_client_maybe_free(c);
	} else if (c != NULL)
		rpc_client_maybe_free(c);
	json_decref(call->id);
	if (call->fd != -1)
		close(call->fd);
	free(call);
}

/* Finish a call with a response message (stolen; NULL for none). */
static void
rpc_call_finish(struct rpc_call *call, json_t *msg)
{
	char	*line = NULL;
	size_t	 len = 0;
	int	 error = msg != NULL && json_object_get(msg, "error") != NULL;

	if (msg != NULL && call->id != NULL)
		line = jsonrpc_encode(msg, &len);
	json_decref(msg);
	rpc_call_finish_line(call, line, len, error);
}

/*
 * Answer a call with a result already encoded as JSON text (stolen): a
 * big listing is written as text off the loop, never built as objects.
 */
void
rpc_call_reply_text(struct rpc_call *call, char *text, size_t len)
{
	char	*id, *line;
	size_t	 n;

	if (call->id == NULL) {
		free(text);
		rpc_call_finish_line(call, NULL, 0, 0);
		return;
	}
	id = json_dumps(call->id, JSON_COMPACT | JSON_ENCODE_ANY);
	n = len + strlen(id) + 40;
	line = xmalloc(n);
	n = snprintf(line, 30, "{\"jsonrpc\":\"2.0\",\"result\":");
	memcpy(line + n, text, len);
	n += len;
	n += sprintf(line + n, ",\"id\":%s}\n", id);
	free(id);
	free(text);
	rpc_call_finish_line(call, line, n, 0);
}

/* Answer a call with a result (stolen). */
void
rpc_call_reply(struct rpc_call *call, json_t *result)
{
	rpc_call_finish(call, jsonrpc_result(call->id, result));
}

/* Answer a call with an error. */
void
rpc_call_error(struct rpc_call *call, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("vasprintf");
	va_end(ap);
	if (call->client != NULL && code != JSONRPC_INVALID_PARAMS &&
	    code != JSONRPC_METHOD_NOT_FOUND)
		log_debug("client=%lu method=%s error=%d \"%s\"",
		    call->client->id, call->method ? call->method : "-", code,
		    msg);
	rpc_call_finish(call, jsonrpc_error(call->id, code, msg));
	free(msg);
}

/*
 * Answer call (the arg) as a store or queue reply says: with result
 * (stolen) when error is NULL, else with the error.
 */
void
rpc_call_answer_cb(json_t *result, int code, const char *error, void *call)
{
	if (error != NULL) {
		json_decref(result);
		rpc_call_error(call, code, "%s", error);
	} else
		rpc_call_reply(call, result);
}

/* What a method works with. */
const struct rpc_env *
rpc_call_env(const struct rpc_call *call)
{
	(void)call;
	return &rpc_env;
}

/*
 * The descriptor the client sent with this request (SCM_RIGHTS), now the
 * caller's to close; -1 when none came.
 */
int
rpc_call_take_fd(struct rpc_call *call)
{
	int	 fd = call->fd;

	call->fd = -1;
	return fd;
}

/* Make the caller's connection receive events from now on. */
void
rpc_call_subscribe(struct rpc_call *call)
{
	if (call->client != NULL)
		call->client->flags |= RPC_CLIENT_SUBSCRIBED;
}

/*
 * Send a notification to every subscriber. One stuck client must not hold
 * the daemon's memory, but a reader must not be dropped because a commit
 * of a thousand messages sends a thousand events in one turn of the loop:
 * a subscriber is dropped when more than RPC_SUBSCRIBER_MAX bytes of
 * events wait and it has taken none for RPC_SUBSCRIBER_STUCK seconds (its
 * backlog did not shrink between two events), or when RPC_SUBSCRIBER_HARD
 * bytes wait.
 */
void
rpc_broadcast(const json_t *msg)
{
	struct rpc_client	*c, *next;
	struct timespec		 ts;
	char			*line;
	size_t			 len, pending;

	if ((line = jsonrpc_encode(msg, &len)) == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (c = TAILQ_FIRST(&rpc_clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (!(c->flags & RPC_CLIENT_SUBSCRIBED) ||
		    (c->flags & RPC_CLIENT_CLOSING))
			continue;
		pending = evbuffer_get_length(bufferevent_get_output(c->bev));
		if (pending == 0 || pending < c->ev_pending)
			c->ev_read = ts.tv_sec;
		if (pending + len > RPC_SUBSCRIBER_HARD ||
		    (pending + len > RPC_SUBSCRIBER_MAX &&
		    ts.tv_sec - c->ev_read >= RPC_SUBSCRIBER_STUCK)) {
			log_warnx("client=%lu does not read its events; "
			    "dropping it", c->id);
			rpc_client_free(c);
			continue;
		}
		evbuffer_add(bufferevent_get_output(c->bev), line, len);
		c->ev_pending = pending + len;
	}
	free(line);
}

/* Find a method by name. */
static const struct rpc_method *
rpc_find_method(const char *name)
{
	size_t	 i;

	for (i = 0; rpc_methods[i] != NULL; i++)
		if (strcmp(rpc_methods[i]->name, name) == 0)
			return rpc_methods[i];
	return NULL;
}

/* Check one parameter value against its declared type. */
static int
rpc_param_ok(const struct rpc_param *p, json_t *v)
{
	json_t	*e;
	size_t	 i;

	switch (p->type) {
	case RPC_STRING:
		return json_is_string(v);
	case RPC_INTEGER:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case RPC_BOOLEAN:
		return json_is_boolean(v);
	case RPC_OBJECT:
		return json_is_object(v);
	case RPC_STRINGS:
	case RPC_INTEGERS:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, e) {
			if (p->type == RPC_STRINGS ? !json_is_string(e) :
			    !json_is_integer(e) || json_integer_value(e) < 0)
				return 0;
		}
		return 1;
	}
	return 0;
}

/* Describe a parameter type for an error message. */
static const char *
rpc_ptype_name(enum rpc_ptype t)
{
	switch (t) {
	case RPC_STRING:
		return "a string";
	case RPC_INTEGER:
		return "a non-negative integer";
	case RPC_BOOLEAN:
		return "true or false";
	case RPC_STRINGS:
		return "an array of strings";
	case RPC_INTEGERS:
		return "an array of non-negative integers";
	case RPC_OBJECT:
		return "an object";
	}
	return "?";
}

/* Check params against a method's declaration; 0 or -1 with *cause. */
static int
rpc_check_params(const struct rpc_method *m, json_t *params, char **cause)
{
	const struct rpc_param	*p;
	const char		*key;
	json_t			*v;

	if (params == NULL || (json_is_array(params) &&
	    json_array_size(params) == 0))
		params = NULL;
	else if (json_is_array(params)) {
		xasprintf(cause, "invalid params: %s takes named parameters "
		    "(an object), not an array", m->name);
		return -1;
	}
	if (params != NULL) {
		json_object_foreach(params, key, v) {
			for (p = m->params; p != NULL && p->name != NULL; p++)
				if (strcmp(p->name, key) == 0)
					break;
			if (p == NULL || p->name == NULL) {
				xasprintf(cause, "invalid params: %s has no "
				    "parameter \"%.64s\"", m->name, key);
				return -1;
			}
			if (!rpc_param_ok(p, v)) {
				xasprintf(cause, "invalid params: %s: expected "
				    "%s", p->name, rpc_ptype_name(p->type));
				return -1;
			}
		}
	}
	for (p = m->params; p != NULL && p->name != NULL; p++) {
		if (p->required && json_object_get(params, p->name) == NULL) {
			xasprintf(cause, "invalid params: %s is required",
			    p->name);
			return -1;
		}
	}
	if (m->check != NULL && m->check(params, cause) != 0)
		return -1;
	return 0;
}

/* Handle one request object (alone or a member of a batch). */
static void
rpc_handle(struct rpc_client *c, json_t *msg, struct rpc_batch *batch)
{
	struct jsonrpc_request	 req;
	const struct rpc_method	*m;
	struct rpc_call		*call;
	json_t			*id, *params;
	char			*cause = NULL;
	int			 code;

	code = jsonrpc_check_request(msg, &req, &cause);
	if (code == JSONRPC_INVALID_REQUEST) {
		/* Always answered, with whatever usable id it carried. */
		id = jsonrpc_request_id(msg);
		call = rpc_call_new(c, batch, id);
		json_decref(id);
		rpc_call_error(call, code, "%s", cause);
		free(cause);
		return;
	}
	call = rpc_call_new(c, batch, req.id);
	call->method = req.method;
	if (code != 0) {
		rpc_call_error(call, code, "%s", cause);
		free(cause);
		return;
	}
	if ((m = rpc_find_method(req.method)) == NULL) {
		rpc_call_error(call, JSONRPC_METHOD_NOT_FOUND,
		    "method not found: \"%.100s\"", req.method);
		return;
	}
	call->method = m->name;
	if (rpc_check_params(m, req.params, &cause) != 0) {
		rpc_call_error(call, JSONRPC_INVALID_PARAMS, "%s", cause);
		free(cause);
		return;
	}
	params = req.params != NULL && json_is_object(req.params) ?
	    req.params : NULL;
	log_debug("client=%lu method=%s", c->id, m->name);
	m->exec(call, params);
}

/* Handle one line: a request or a batch. */
static void
rpc_client_line(struct rpc_client *c, const char *line, size_t len)
{
	struct rpc_batch	*batch;
	json_t			*msg, *err;
	size_t			 i;
	char			*cause = NULL;

	for (i = 0; i < len; i++)
		if (strchr(" \t\r", line[i]) == NULL)
			break;
	if (i == len)
		return;		/* blank lines are ignored */
	if ((msg = jsonrpc_parse(line, len, &cause)) == NULL) {
		err = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, cause);
		rpc_client_send(c, err);
		json_decref(err);
		free(cause);
		return;
	}
	if (!json_is_array(msg)) {
		rpc_handle(c, msg, NULL);
		json_decref(msg);
		return;
	}
	if (json_array_size(msg) == 0 || json_array_size(msg) > RPC_BATCH_MAX) {
		err = jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
		    json_array_size(msg) == 0 ? "invalid request: empty batch" :
		    "invalid request: batch of more than 10000 requests");
		rpc_client_send(c, err);
		json_decref(err);
		json_decref(msg);
		return;
	}
	batch = xcalloc(1, sizeof *batch);
	batch->client = c;
	batch->members = msg;
	if ((batch->out = evbuffer_new()) == NULL)
		fatalx("out of memory");
	rpc_batch_pump(batch);
}

/* Refuse the rest of a client's input: its line is too long. */
static void
rpc_client_toolong(struct rpc_client *c)
{
	json_t	*err;
	char	 msg[128];

	log_warnx("client=%lu sent a line longer than %d bytes; closing",
	    c->id, JSONRPC_LINE_MAX);
	snprintf(msg, sizeof msg, "invalid request: line longer than the "
	    "limit of %d bytes", JSONRPC_LINE_MAX);
	err = jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST, msg);
	rpc_client_send(c, err);
	json_decref(err);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	rpc_client_close_after_flush(c);
}

/*
 * The descriptors that came with the line ending at input byte end: the
 * first becomes the line's (its call's), any other is closed.
 */
static void
rpc_client_line_fds(struct rpc_client *c, size_t end)
{
	unsigned	 i, n = 0;

	for (i = 0; i < c->nfds; i++) {
		if (c->fd_at[i] > end) {
			c->fds[n] = c->fds[i];
			c->fd_at[n++] = c->fd_at[i];
		} else if (c->line_fd == -1)
			c->line_fd = c->fds[i];
		else
			close(c->fds[i]);
	}
	c->nfds = n;
}

/* Process every complete line in the client's input. */
static void
rpc_client_read(struct rpc_client *c)
{
	struct evbuffer		*in = c->in;
	struct evbuffer_ptr	 eol;
	unsigned char		*line;
	size_t			 eol_len;

	while (!(c->flags & (RPC_CLIENT_CLOSING | RPC_CLIENT_PAUSED))) {
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			if (evbuffer_get_length(in) > JSONRPC_LINE_MAX)
				rpc_client_toolong(c);
			return;
		}
		if ((size_t)eol.pos > JSONRPC_LINE_MAX) {
			rpc_client_toolong(c);
			return;
		}
		line = evbuffer_pullup(in, eol.pos + 1);
		rpc_client_line_fds(c, c->consumed + eol.pos);
		rpc_client_line(c, (char *)line, eol.pos);
		if (c->line_fd != -1) {
			close(c->line_fd);	/* no call took it */
			c->line_fd = -1;
		}
		evbuffer_drain(in, eol.pos + 1);
		c->consumed += eol.pos + 1;
	}
}

/*
 * Read what the client sent, and the descriptors that came with it: the
 * kernel ties them to the first byte of this read, so they belong to the
 * line that byte is in.
 */
static void
rpc_client_recv_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_client	*c = arg;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(RPC_CLIENT_FDS * sizeof(int))];
	}			 control;
	char			 buf[RPC_READ_SIZE];
	ssize_t			 n;
	size_t			 i, nfd;
	int			 got;

	memset(&msg, 0, sizeof msg);
	iov.iov_base = buf;
	iov.iov_len = sizeof buf;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	if ((n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("client=%lu connection error: %s", c->id,
		    strerror(errno));
		rpc_client_free(c);
		return;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof got);
			if (c->nfds == RPC_CLIENT_FDS || n == 0) {
				close(got);
				continue;
			}
			c->fds[c->nfds] = got;
			c->fd_at[c->nfds++] = c->received;
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		log_warnx("client=%lu sent more than %d descriptors at once; "
		    "the rest were dropped", c->id, RPC_CLIENT_FDS);
	if (n == 0) {
		/* A half-closed client still gets its pending answers. */
		log_debug("client=%lu end of input", c->id);
		rpc_client_close_after_flush(c);
		return;
	}
	c->received += n;
	evbuffer_add(c->in, buf, n);
	rpc_client_read(c);
}

/* Write callback: output drained below the low watermark, or to empty. */
static void
rpc_client_write_cb(struct bufferevent *bev, void *arg)
{
	struct rpc_client	*c = arg;

	if ((c->flags & RPC_CLIENT_PAUSED) && !(c->flags & RPC_CLIENT_CLOSING)) {
		c->flags &= ~RPC_CLIENT_PAUSED;
		rpc_client_resume(c);
		rpc_client_read(c);
	}
	rpc_client_maybe_free(c);
}

/* Event callback of the output: an error (input is read elsewhere). */
static void
rpc_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rpc_client	*c = arg;

	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		log_debug("client=%lu connection error: %s", c->id,
		    strerror(EVUTIL_SOCKET_ERROR()));
		rpc_client_free(c);
	}
}

/* Free a client, detaching its calls in flight. */
static void
rpc_client_free(struct rpc_client *c)
{
	struct rpc_call	*call;

	while ((call = TAILQ_FIRST(&c->calls)) != NULL) {
		TAILQ_REMOVE(&c->calls, call, entry);
		call->client = NULL;
		if (call->batch != NULL)
			call->batch->client = NULL;
	}
	TAILQ_REMOVE(&rpc_clients, c, entry);
	rpc_nclients--;
	log_debug("client=%lu closed (%zu left)", c->id, rpc_nclients);
	while (c->nfds > 0)
		close(c->fds[--c->nfds]);
	event_free(c->rd);
	evbuffer_free(c->in);
	bufferevent_free(c->bev);
	free(c);
}

/* Send one error to a connection we refuse, then close it. */
static void
rpc_client_refuse(struct rpc_client *c, int code, const char *why)
{
	json_t	*err;

	err = jsonrpc_error(NULL, code, why);
	rpc_client_send(c, err);
	json_decref(err);
	rpc_client_close_after_flush(c);
}

/* Accept a connection: check the peer's uid, then serve it. */
static void
rpc_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct event_base	*base = evconnlistener_get_base(l);
	struct rpc_client	*c;
	struct ucred		 cred;
	socklen_t		 len = sizeof cred;
	char			 why[128];

	c = xcalloc(1, sizeof *c);
	c->id = ++rpc_next_client_id;
	TAILQ_INIT(&c->calls);
	c->line_fd = -1;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->rd = event_new(base, fd, EV_READ | EV_PERSIST, rpc_client_recv_cb,
	    c);
	c->in = evbuffer_new();
	if (c->bev == NULL || c->rd == NULL || c->in == NULL) {
		log_warnx("client=%lu cannot create a bufferevent", c->id);
		if (c->rd != NULL)
			event_free(c->rd);
		if (c->in != NULL)
			evbuffer_free(c->in);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&rpc_clients, c, entry);
	rpc_nclients++;
	bufferevent_setwatermark(c->bev, EV_WRITE, RPC_OUTPUT_HIGH / 2, 0);
	bufferevent_setcb(c->bev, NULL, rpc_client_write_cb,
	    rpc_client_event_cb, c);
	bufferevent_enable(c->bev, EV_WRITE);
	rpc_client_resume(c);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_warn("client=%lu SO_PEERCRED", c->id);
		rpc_client_refuse(c, JSONRPC_ERR_PERMISSION,
		    "permission denied: cannot check peer credentials");
		return;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	if (cred.uid != geteuid()) {
		log_warnx("client=%lu refused: uid %u pid %d is not the "
		    "daemon's user (uid %u)", c->id, (unsigned)cred.uid,
		    (int)cred.pid, (unsigned)geteuid());
		snprintf(why, sizeof why, "permission denied: uid %u is not "
		    "the daemon's user", (unsigned)cred.uid);
		rpc_client_refuse(c, JSONRPC_ERR_PERMISSION, why);
		return;
	}
	if (rpc_nclients > RPC_CLIENTS_MAX) {
		log_warnx("client=%lu refused: %d clients already",
		    c->id, RPC_CLIENTS_MAX);
		rpc_client_refuse(c, JSONRPC_ERR_TEMPFAIL,
		    "too many clients: the daemon serves at most 512 "
		    "connections at once; try again later");
		return;
	}
	log_debug("client=%lu connected pid=%d", c->id, (int)cred.pid);
}

/* Resume accepting after a pause for lack of descriptors. */
static void
rpc_accept_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	if (rpc_listener != NULL)
		evconnlistener_enable(rpc_listener);
}

/* Accept failed: out of descriptors, back off for a moment. */
static void
rpc_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	 tv = { RPC_ACCEPT_RETRY, 0 };
	int		 err = EVUTIL_SOCKET_ERROR();

	log_warnx("accept: %s", strerror(err));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		evconnlistener_disable(l);
		evtimer_add(rpc_accept_timer, &tv);
	}
}

/* Serve an already listening socket (ours or systemd's). */
int
rpc_listen_fd(struct event_base *base, int fd, char **cause)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		xasprintf(cause, "fcntl: %s", strerror(errno));
		return -1;
	}
	rpc_listener = evconnlistener_new(base, rpc_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (rpc_listener == NULL) {
		xasprintf(cause, "cannot listen on the control socket");
		return -1;
	}
	evconnlistener_set_error_cb(rpc_listener, rpc_accept_error_cb);
	rpc_accept_timer = evtimer_new(base, rpc_accept_timer_cb, NULL);
	return 0;
}

/*
 * Make sure the socket's directory and its parents exist; directories we
 * create are 0700 so that nobody else can even reach the socket.
 */
static int
rpc_socket_dir(const char *path, char **cause)
{
	char	*dir, *p;
	int	 rc = 0;

	dir = xstrdup(path);
	if ((p = strrchr(dir, '/')) != NULL && p != dir) {
		*p = '\0';
		rc = paths_mkdirs(dir, cause);
	}
	free(dir);
	return rc;
}

/*
 * Remove a socket left by a daemon that died; refuse when another daemon
 * still answers on it.
 */
static int
rpc_socket_stale(const char *path, struct sockaddr_un *sun, char **cause)
{
	struct stat	 st;
	int		 fd, rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		xasprintf(cause, "%s exists and is not a socket", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)sun, sizeof *sun);
	close(fd);
	if (rc == 0) {
		xasprintf(cause, "another mailctld is already listening on %s",
		    path);
		return -1;
	}
	log_info("removing stale socket %s", path);
	if (unlink(path) != 0 && errno != ENOENT) {
		xasprintf(cause, "cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Create the control socket at path (mode 0600) and serve it. */
int
rpc_listen(struct event_base *base, const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (rpc_socket_dir(path, cause) != 0 ||
	    rpc_socket_stale(path, &sun, cause) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * No umask dance: it is process-wide and would also strip the modes
	 * of directories the store threads make meanwhile. Until the chmod
	 * the socket has the daemon's umask, and the peer uid check refuses
	 * anyone else in any case.
	 */
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		xasprintf(cause, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, 0600) != 0 || listen(fd, 128) != 0) {
		xasprintf(cause, "listen %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	rpc_socket_path = xstrdup(path);
	if (rpc_listen_fd(base, fd, cause) != 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

/* Close every client and the listener; remove our socket. */
void
rpc_shutdown(void)
{
	struct rpc_client	*c;

	while ((c = TAILQ_FIRST(&rpc_clients)) != NULL)
		rpc_client_free(c);
	if (rpc_listener != NULL)
		evconnlistener_free(rpc_listener);
	rpc_listener = NULL;
	if (rpc_accept_timer != NULL)
		event_free(rpc_accept_timer);
	rpc_accept_timer = NULL;
	if (rpc_socket_path != NULL)
		unlink(rpc_socket_path);
	free(rpc_socket_path);
	rpc_socket_path = NULL;
}

/* Return the number of connected clients. */
size_t
rpc_client_count(void)
{
	return rpc_nclients;
}
