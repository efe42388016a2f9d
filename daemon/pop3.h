/*
 * A POP3 fetch session: connect, authenticate, download every message not
 * seen before into the store, delete on the server when the account says
 * so, quit. One session per poll. It knows nothing above it: it reports
 * each batch the store made durable through the stored callback, and its
 * end through the done callback, which runs once, from the loop, after
 * which the caller frees the session.
 */
#ifndef MAILCTL_POP3_H
#define MAILCTL_POP3_H

#include <stddef.h>
#include <stdint.h>

struct config_account;
struct event_base;
struct pop3_session;
struct store;
struct store_new;

enum pop3_error {
	POP3_OK,
	POP3_ERR_NETWORK,	/* resolve, connect, timeout, lost connection */
	POP3_ERR_TLS,		/* handshake or certificate */
	POP3_ERR_AUTH,		/* login refused */
	POP3_ERR_PROTOCOL,	/* the server broke the protocol */
	POP3_ERR_LOCAL,		/* our disk or index */
	POP3_ERR_SPACE,		/* ... because it is full (the owner's
				 * verdict: temporary) */
	POP3_NERRORS
};

/*
 * What a poll saw of a mailbox it handled in full (every message stored or
 * seen before, none deleted): the next poll may then look at the message
 * count and the last message's UIDL only, instead of the whole listing.
 */
struct pop3_mark {
	int		 valid;
	char		 where[300];	/* "user@host:port" it was taken at */
	unsigned	 count;		/* messages in the mailbox */
	char		 uidl[70 + 1];	/* of the last one; "" when empty */
};

struct pop3_result {
	enum pop3_error	 error;
	const char	*message;	/* NULL on success; valid in the cb */
	unsigned	 new;		/* messages stored */
	uint64_t	 bytes;		/* bytes stored */
	unsigned	 on_server;	/* messages in the mailbox */
	unsigned	 deleted;	/* DELE accepted */
	int		 quick;		/* the mark matched: no listing */
	struct pop3_mark mark;		/* for the next poll */
};

/* A batch of messages is durable in the store: n of them, news[i]. */
typedef void (*pop3_stored_cb)(const struct store_new *news, size_t n,
    void *arg);
typedef void (*pop3_done_cb)(struct pop3_session *,
    const struct pop3_result *, void *arg);

struct pop3_session *pop3_session_start(struct event_base *,
		    const struct config_account *, const char *password,
		    const struct pop3_mark *, struct store *, pop3_stored_cb,
		    pop3_done_cb, void *arg);
void		 pop3_session_free(struct pop3_session *);
const char	*pop3_error_name(enum pop3_error);

#endif
