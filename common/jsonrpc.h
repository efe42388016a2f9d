/*
 * JSON-RPC 2.0 framing and messages, shared by mailctld and mailctl.
 *
 * On the wire each message is one compact JSON text followed by "\n"; compact
 * JSON never contains a raw newline, so the newline is the frame boundary. A
 * line longer than JSONRPC_LINE_MAX is refused.
 *
 * Functions returning json_t * return a new reference the caller owns.
 * Functions that take a json_t * argument "stealing" it say so.
 */
#ifndef MAILCTL_JSONRPC_H
#define MAILCTL_JSONRPC_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

#define JSONRPC_LINE_MAX	(4 * 1024 * 1024)

/* Standard codes (JSON-RPC 2.0 section 5.1). */
#define JSONRPC_PARSE_ERROR		-32700
#define JSONRPC_INVALID_REQUEST		-32600
#define JSONRPC_METHOD_NOT_FOUND	-32601
#define JSONRPC_INVALID_PARAMS		-32602
#define JSONRPC_INTERNAL_ERROR		-32603

/*
 * mailctl's own codes, in the range the specification leaves to servers.
 * mailctl maps each to a sysexits(3) exit status (jsonrpc_exit_status).
 */
#define JSONRPC_ERR_FAILED		-32000	/* other failure: exit 1 */
#define JSONRPC_ERR_DATA		-32001	/* bad data: EX_DATAERR */
#define JSONRPC_ERR_NOT_FOUND		-32002	/* no such id/account: EX_DATAERR */
#define JSONRPC_ERR_TEMPFAIL		-32003	/* try again: EX_TEMPFAIL */
#define JSONRPC_ERR_UNAVAILABLE		-32004	/* service down: EX_UNAVAILABLE */
#define JSONRPC_ERR_PERMISSION		-32005	/* peer not allowed: EX_NOPERM */

/* A decoded, checked request; fields borrow from the message. */
struct jsonrpc_request {
	const char	*method;
	json_t		*params;	/* NULL when absent */
	json_t		*id;		/* NULL for a notification */
};

json_t	*jsonrpc_parse(const char *buf, size_t len, char **cause);
int	 jsonrpc_check_request(json_t *msg, struct jsonrpc_request *req,
	    char **cause);
json_t	*jsonrpc_request_id(const json_t *msg);

json_t	*jsonrpc_result(json_t *id, json_t *result);	/* steals result */
json_t	*jsonrpc_error(json_t *id, int code, const char *message);
json_t	*jsonrpc_request_new(const char *method, json_t *params,
	    json_int_t id);				/* steals params */
json_t	*jsonrpc_notification_new(const char *method, json_t *params);
char	*jsonrpc_encode(const json_t *msg, size_t *len);
json_t	*jsonrpc_time(time_t);
int	 jsonrpc_exit_status(int code);

/*
 * A bounded line splitter for a blocking reader (mailctl, tests, fuzzing).
 * Feed bytes in, take complete lines out; a line over the limit is an error.
 */
struct jsonrpc_framer;

#define JSONRPC_FRAME_MORE	0	/* no complete line yet */
#define JSONRPC_FRAME_LINE	1	/* line and len set, valid until the next call */
#define JSONRPC_FRAME_TOOLONG	-1	/* the current line passed the limit */

struct jsonrpc_framer *jsonrpc_framer_new(size_t limit);
void	 jsonrpc_framer_free(struct jsonrpc_framer *);
int	 jsonrpc_framer_feed(struct jsonrpc_framer *, const void *, size_t);
int	 jsonrpc_framer_next(struct jsonrpc_framer *, const char **line,
	    size_t *len);

#endif
