/*
 * The outbox (DESIGN.md: send, queue.list, queue.flush, queue.cancel):
 * queued messages go out through their account's SMTP server, one
 * connection per account reused for every message that is due, retried
 * with exponential backoff after a temporary failure, failed at once after
 * a permanent one. The durable half is the store's (store-queue.c); this
 * module, on the loop, decides what to send when and records each outcome.
 *
 * A message's states: queued -> sending -> sent | deferred (next try at T)
 * | failed. Each recipient has its own: pending, sent or failed.
 */
#ifndef MAILCTL_QUEUE_H
#define MAILCTL_QUEUE_H

#include <jansson.h>

struct rpc_call;
struct store;

void	 queue_init(struct store *);
void	 queue_reconfigure(void);
void	 queue_shutdown(void);
void	 queue_add(json_t *params, int wait, struct rpc_call *);
json_t	*queue_list(void);
int	 queue_flush(void);
void	 queue_cancel(long long id, struct rpc_call *);
json_t	*queue_status(void);

#endif
