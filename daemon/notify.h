/*
 * Telling the user through hooks: argv run for each new message and each
 * outbox outcome, no shell. Nothing here can block the loop or be
 * steered by a message's content: values from a stranger's mail are passed
 * as whole argument strings and environment values, never interpreted.
 */
#ifndef MAILCTL_NOTIFY_H
#define MAILCTL_NOTIFY_H

void	notify_new_mail(const char *account, const char *folder, long long id,
	    const char *from, const char *subject);
void	notify_send(int, const char *, long long, const char *,
	    const char *, const char *);
void	notify_shutdown(void);

#endif
