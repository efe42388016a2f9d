/*
 * Accounts at run time: one poll timer per POP3 account, the poll in
 * progress (never two at once), its password (from the config or from
 * password_command, run as a child), results and errors for status.
 */
#ifndef MAILCTL_ACCOUNT_H
#define MAILCTL_ACCOUNT_H

#include <jansson.h>

struct pop3_result;
struct store;

/* Called once when the poll a caller waits for ends. */
typedef void (*account_wait_cb)(const char *account,
    const struct pop3_result *, double seconds, void *arg);

void	 account_init(struct store *);
void	 account_reconfigure(void);
void	 account_shutdown(void);
int	 account_poll_now(const char *name, account_wait_cb, void *arg);
json_t	*account_status(const char *name);

#endif
