/*
 * Accounts at run time, the owner of the fetching sessions: one poll timer
 * per POP3 or IMAP account, the poll in progress (never two at once), its password
 * (secret.c), results and errors for status. News goes on the bus: each
 * stored batch of new mail (BUS_NEW_MAIL) and the end of each poll
 * (BUS_POLL_DONE).
 */
#ifndef MAILCTL_ACCOUNT_H
#define MAILCTL_ACCOUNT_H

#include <stdint.h>

#include <jansson.h>

struct bus;
struct config;
struct event_base;
struct store;

/* How a poll (POP3) or sync (IMAP) ended, whichever the account has. */
struct account_result {
	int		 ok;
	const char	*message;	/* NULL when ok */
	const char	*error_kind;	/* network, tls, auth, protocol,
					   local, space; NULL when ok */
	unsigned	 new;		/* messages stored */
	uint64_t	 bytes;
	unsigned	 on_server;
	unsigned	 deleted;
	int		 quick;		/* POP3: the mark matched */
};

/* Called once when the poll a caller waits for ends. */
typedef void (*account_wait_cb)(const char *account,
    const struct account_result *, double seconds, void *arg);

void	 account_init(struct event_base *, struct store *, struct bus *,
	    const struct config *);
void	 account_reconfigure(const struct config *);
void	 account_shutdown(void);
int	 account_poll_now(const char *name, account_wait_cb, void *arg);
void	 account_resume(void);
void	 account_sleep(void);
json_t	*account_status(const char *name);

#endif
