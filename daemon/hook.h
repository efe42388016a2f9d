/*
 * Telling the user through hooks: a consumer of the bus that runs argv
 * for each new message and each outbox outcome, no shell. Nothing here
 * can block the loop or be steered by a message's content: values from a
 * stranger's mail are passed as whole argument strings and environment
 * values, never interpreted.
 */
#ifndef MAILCTL_HOOK_H
#define MAILCTL_HOOK_H

struct bus;
struct config;

void	hook_init(struct bus *, const struct config *);
void	hook_reconfigure(const struct config *);
void	hook_shutdown(void);

#endif
