/*
 * Telling the user: hooks (argv run for each new message, no shell) and,
 * later, desktop notifications. Nothing here can block the loop or be
 * steered by a message's content: values from a stranger's mail are passed
 * as whole argument strings and environment values, never interpreted.
 */
#ifndef MAILCTL_NOTIFY_H
#define MAILCTL_NOTIFY_H

void	notify_new_mail(const char *account, const char *folder, long long id,
	    const char *from, const char *subject);
void	notify_shutdown(void);

#endif
