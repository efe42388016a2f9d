/*
 * The outbox (DESIGN.md: send, queue.list, queue.flush, queue.cancel):
 * queued messages go out through their account's SMTP server, one
 * connection per account reused for every message that is due, retried
 * with exponential backoff after a temporary failure, failed at once after
 * a permanent one. The durable half is the store's (store-queue.c); this
 * module, on the loop, owns the SMTP sessions, decides what to send when,
 * records each outcome and tells the bus (BUS_SENT, BUS_DEFERRED,
 * BUS_SEND_FAILED).
 *
 * A message's states: queued -> sending -> sent | deferred (next try at T)
 * | failed. Each recipient has its own: pending, sent or failed.
 */
#ifndef MAILCTL_QUEUE_H
#define MAILCTL_QUEUE_H

#include <jansson.h>

struct bus;
struct config;
struct event_base;
struct store;

/*
 * An answer to queue_add, queue_list or queue_cancel: result (stolen) when
 * error is NULL, else a JSON-RPC error code and message. Runs once, from
 * the loop or before the call returns.
 */
typedef void (*queue_reply_cb)(json_t *result, int code, const char *error,
    void *arg);

void	 queue_init(struct event_base *, struct store *, struct bus *,
	    const struct config *);
void	 queue_reconfigure(const struct config *);
void	 queue_shutdown(void);
void	 queue_add(json_t *params, int wait, queue_reply_cb, void *arg);
void	 queue_list(queue_reply_cb, void *arg);
int	 queue_flush(void);
void	 queue_cancel(long long id, queue_reply_cb, void *arg);
json_t	*queue_status(void);

#endif
