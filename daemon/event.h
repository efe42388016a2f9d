/*
 * Events for subscribers (DESIGN.md "Control protocol": subscribe): new
 * mail, failed polls, reloads, and later the outbox's. Each event goes to
 * every subscribed client as a JSON-RPC notification
 * {"jsonrpc":"2.0","method":"event","params":{"type":...,"time":...,...}}.
 */
#ifndef MAILCTL_EVENT_H
#define MAILCTL_EVENT_H

#include <jansson.h>

void	event_emit(const char *type, json_t *fields);	/* steals fields */
void	event_new_mail(const char *account, const char *folder, long long id,
	    const char *from, const char *subject);

#endif
