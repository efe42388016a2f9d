/*
 * The control socket: JSON-RPC 2.0 over a UNIX stream socket, one message
 * per line (DESIGN.md "Control protocol").
 *
 * A method is one struct rpc_method in its own rpc-<family>.c file and one
 * line in the table in rpc.c. Its parameters are checked against the
 * method's rpc_param list (and its check function, when it has one) before
 * exec runs. exec answers through rpc_call_reply or rpc_call_error, exactly
 * once, at once or later from another callback: a call whose client has gone
 * away still has to be finished, and its answer is then dropped.
 */
#ifndef MAILCTL_RPC_H
#define MAILCTL_RPC_H

#include <time.h>

#include <jansson.h>

struct bus;
struct config;
struct event_base;
struct rpc_call;
struct store;

/*
 * What the methods work with, given by main.c (rpc_init) and kept current
 * (rpc_reconfigure); a method reaches it through its call, never up into
 * main.
 */
struct rpc_env {
	struct store		*store;
	const struct config	*config;	/* the configuration in force */
	time_t			 started;	/* wall clock */
	struct timespec		 started_mono;
	int			(*reload)(char **cause);	/* main's */
};

enum rpc_ptype {
	RPC_STRING,
	RPC_INTEGER,		/* >= 0 */
	RPC_BOOLEAN,
	RPC_STRINGS,		/* array of strings */
	RPC_INTEGERS,		/* array of integers >= 0 */
	RPC_OBJECT,
};

struct rpc_param {
	const char	*name;
	enum rpc_ptype	 type;
	int		 required;
};

struct rpc_method {
	const char		*name;
	const struct rpc_param	*params;	/* ends with name == NULL */
	int			(*check)(json_t *params, char **cause);
	void			(*exec)(struct rpc_call *, json_t *params);
};

void	rpc_init(const struct rpc_env *);
void	rpc_reconfigure(const struct config *);
int	rpc_listen(struct event_base *, const char *path, char **cause);
int	rpc_listen_fd(struct event_base *, int fd, char **cause);
void	rpc_shutdown(void);
size_t	rpc_client_count(void);

void	rpc_call_reply(struct rpc_call *, json_t *result);	/* steals */
void	rpc_call_reply_text(struct rpc_call *, char *json, size_t len);
void	rpc_call_error(struct rpc_call *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	rpc_call_answer_cb(json_t *result, int code, const char *error,
	    void *call);
const struct rpc_env *rpc_call_env(const struct rpc_call *);
int	rpc_call_take_fd(struct rpc_call *);
void	rpc_call_subscribe(struct rpc_call *);
void	rpc_broadcast(const json_t *msg);

/* rpc-send.c, for rpc-reply.c: recipients and the message checked. */
struct config_account;
int	rpc_send_rcpts(struct rpc_call *, json_t *params, const char *key,
	    json_t *rcpts, json_t *addrs, json_t *names);
json_t	*rpc_send_compose(struct rpc_call *, const struct config_account *,
	    json_t *params, json_t *hdr);
/* rpc-reply.c, for rpc-send.c: a draft for mailctl's editor. */
void	rpc_reply_draft(struct rpc_call *, json_t *to, json_t *cc,
	    json_t *bcc, const char *subject, const char *body);

void	rpc_events_init(struct bus *);
void	rpc_events_shutdown(void);

#endif
