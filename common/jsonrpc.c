/* JSON-RPC 2.0 messages and newline framing. */
#include "autoconf.h"

#include <sysexits.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "xmalloc.h"

/*
 * Parse one line. Duplicate keys are refused (two "id"s would make the reply
 * ambiguous); jansson bounds nesting depth and checks UTF-8 itself.
 */
json_t *
jsonrpc_parse(const char *buf, size_t len, char **cause)
{
	json_error_t	 err;
	json_t		*msg;

	msg = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	    &err);
	if (msg == NULL)
		xasprintf(cause, "parse error at byte %d: %s", err.position,
		    err.text);
	return msg;
}

/* Return the id of a message if it has a valid one, else JSON null. */
json_t *
jsonrpc_request_id(const json_t *msg)
{
	json_t	*id;

	if (json_is_object(msg) && (id = json_object_get(msg, "id")) != NULL &&
	    (json_is_string(id) || json_is_integer(id) || json_is_real(id) ||
	    json_is_null(id)))
		return json_incref(id);
	return json_null();
}

/*
 * Check that msg is a single JSON-RPC 2.0 request (section 4). Return 0 and
 * fill req, or a JSON-RPC error code with *cause set.
 */
int
jsonrpc_check_request(json_t *msg, struct jsonrpc_request *req, char **cause)
{
	json_t	*v, *id;

	memset(req, 0, sizeof *req);
	if (!json_is_object(msg)) {
		xasprintf(cause, "invalid request: expected a JSON object");
		return JSONRPC_INVALID_REQUEST;
	}
	v = json_object_get(msg, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
		xasprintf(cause, "invalid request: \"jsonrpc\" must be \"2.0\"");
		return JSONRPC_INVALID_REQUEST;
	}
	v = json_object_get(msg, "method");
	if (!json_is_string(v)) {
		xasprintf(cause, "invalid request: \"method\" must be a string");
		return JSONRPC_INVALID_REQUEST;
	}
	req->method = json_string_value(v);
	id = json_object_get(msg, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id) &&
	    !json_is_real(id) && !json_is_null(id)) {
		xasprintf(cause, "invalid request: \"id\" must be a string, "
		    "a number or null");
		return JSONRPC_INVALID_REQUEST;
	}
	req->id = id;
	v = json_object_get(msg, "params");
	if (v != NULL && !json_is_object(v) && !json_is_array(v)) {
		xasprintf(cause, "invalid params: \"params\" must be an object "
		    "or an array");
		return JSONRPC_INVALID_PARAMS;
	}
	req->params = v;
	return 0;
}

/* Build a success response; steals result. */
json_t *
jsonrpc_result(json_t *id, json_t *result)
{
	return json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result",
	    result != NULL ? result : json_null(), "id",
	    id != NULL ? id : json_null());
}

/* Build an error response. */
json_t *
jsonrpc_error(json_t *id, int code, const char *message)
{
	return json_pack("{s:s, s:{s:i, s:s}, s:O}", "jsonrpc", "2.0",
	    "error", "code", code, "message", message, "id",
	    id != NULL ? id : json_null());
}

/* Build a request; steals params (which may be NULL). */
json_t *
jsonrpc_request_new(const char *method, json_t *params, json_int_t id)
{
	json_t	*msg;

	msg = json_pack("{s:s, s:s, s:I}", "jsonrpc", "2.0", "method", method,
	    "id", id);
	if (params != NULL)
		json_object_set_new(msg, "params", params);
	return msg;
}

/* Build a notification (no id); steals params. */
json_t *
jsonrpc_notification_new(const char *method, json_t *params)
{
	json_t	*msg;

	msg = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	if (params != NULL)
		json_object_set_new(msg, "params", params);
	return msg;
}

/* Encode a message as one compact line ending in "\n". */
char *
jsonrpc_encode(const json_t *msg, size_t *len)
{
	char	*s, *line;
	size_t	 n;

	/* Compact output escapes control characters: never a raw newline. */
	if ((s = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return NULL;
	n = strlen(s);
	line = xmalloc(n + 2);
	memcpy(line, s, n);
	line[n++] = '\n';
	line[n] = '\0';
	free(s);
	*len = n;
	return line;
}

/* A time as ISO 8601 in UTC ("2026-11-22T03:52:06Z"), or null for 0. */
json_t *
jsonrpc_time(time_t t)
{
	struct tm	 tm;
	char		 buf[32];

	if (t == 0)
		return json_null();
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* Map an error code to the sysexits(3) status mailctl exits with. */
int
jsonrpc_exit_status(int code)
{
	switch (code) {
	case JSONRPC_INVALID_PARAMS:
		return EX_USAGE;
	case JSONRPC_ERR_DATA:
	case JSONRPC_ERR_NOT_FOUND:
		return EX_DATAERR;
	case JSONRPC_ERR_TEMPFAIL:
		return EX_TEMPFAIL;
	case JSONRPC_ERR_UNAVAILABLE:
		return EX_UNAVAILABLE;
	case JSONRPC_ERR_PERMISSION:
		return EX_NOPERM;
	case JSONRPC_METHOD_NOT_FOUND:
		/* The daemon is older than this mailctl. */
		return EX_UNAVAILABLE;
	default:
		return 1;
	}
}

struct jsonrpc_framer {
	char	*buf;
	size_t	 len;		/* bytes held */
	size_t	 off;		/* start of the first unconsumed byte */
	size_t	 scanned;	/* bytes after off known to hold no newline */
	size_t	 size;
	size_t	 limit;
	int	 toolong;
};

/* Create a framer refusing lines longer than limit bytes. */
struct jsonrpc_framer *
jsonrpc_framer_new(size_t limit)
{
	struct jsonrpc_framer	*f;

	f = xcalloc(1, sizeof *f);
	f->limit = limit;
	return f;
}

/* Free a framer (NULL is fine). */
void
jsonrpc_framer_free(struct jsonrpc_framer *f)
{
	if (f == NULL)
		return;
	free(f->buf);
	free(f);
}

/*
 * Append bytes. Refuse (JSONRPC_FRAME_TOOLONG) once the unfinished line
 * passes the limit, so a peer cannot make us buffer without bound.
 */
int
jsonrpc_framer_feed(struct jsonrpc_framer *f, const void *data, size_t n)
{
	size_t	 need;

	if (f->toolong)
		return JSONRPC_FRAME_TOOLONG;
	if (n == 0)
		return JSONRPC_FRAME_MORE;
	if (f->off > 0) {
		memmove(f->buf, f->buf + f->off, f->len - f->off);
		f->len -= f->off;
		f->off = 0;
	}
	need = f->len + n;
	if (need > f->size) {
		f->size = need < 4096 ? 4096 : need + need / 2;
		f->buf = xreallocarray(f->buf, 1, f->size);
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return JSONRPC_FRAME_MORE;
}

/* Take the next complete line (without its "\n", nor a "\r" before it). */
int
jsonrpc_framer_next(struct jsonrpc_framer *f, const char **line, size_t *len)
{
	char	*start, *nl;
	size_t	 avail, n;

	if (f->toolong)
		return JSONRPC_FRAME_TOOLONG;
	if (f->buf == NULL)
		return JSONRPC_FRAME_MORE;	/* nothing fed yet */
	start = f->buf + f->off;
	avail = f->len - f->off;
	nl = avail > f->scanned ?
	    memchr(start + f->scanned, '\n', avail - f->scanned) : NULL;
	if (nl == NULL) {
		f->scanned = avail;
		if (avail > f->limit) {
			f->toolong = 1;
			return JSONRPC_FRAME_TOOLONG;
		}
		return JSONRPC_FRAME_MORE;
	}
	n = nl - start;
	if (n > f->limit) {
		f->toolong = 1;
		return JSONRPC_FRAME_TOOLONG;
	}
	f->off += n + 1;
	f->scanned = 0;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	*line = start;
	*len = n;
	return JSONRPC_FRAME_LINE;
}
