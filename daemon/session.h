/*
 * What the mailbox sessions (pop3.c, imap.c) share: the server they talk
 * to and how, the connection, and the messages on their way to the store.
 *
 * A session embeds a struct session (as its member c) and gives it its
 * own callbacks at init. Messages are streamed into c.cur
 * (store_msg_new), closed, then added to the batch with a key of the
 * protocol's (a POP3 message number, an IMAP UID); session_commit hands
 * the batch to the store. When the store answers, the core tells the
 * owner what was stored (stored_cb), counts the batch out, and then
 * either lets a dead session go (reap) or tells the protocol how the
 * batch went (committed), with its keys.
 *
 * The freeing rule of both: a session with batches at the store cannot be
 * freed; session_kill closes its connection at once and marks it dead, and
 * the protocol's reap frees it when the last batch reported.
 */
#ifndef MAILCTL_SESSION_H
#define MAILCTL_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SESSION_BATCH_MSGS	64		/* messages in a commit */
#define SESSION_BATCH_BYTES	(8 * 1024 * 1024)

struct bufferevent;
struct conn;
struct event;
struct event_base;
struct store;
struct store_msg;
struct store_new;
struct uidset;

/* The protocol's side of a batch that went to the store. */
struct session_ops {
	/* The batch is durable (rc 0), or not (rc -1, cause). */
	void	(*committed)(void *owner, int rc, const char *cause,
		    const uint32_t *keys, size_t n);
	/* The session is dead and no batch is left: free it (or not yet). */
	int	(*reap)(void *owner);
};

typedef void (*session_stored_cb)(const struct store_new *, size_t,
    void *arg);

struct session {
	unsigned		 id;		/* session=N in the logs */
	char			*account;
	char			*host;
	int			 port;
	enum config_tls		 tls;
	char			*user;
	char			*password;	/* secret: zeroed on free */
	char			*auth;
	char			*ca_file;
	int			 timeout;
	int			 keep;
	struct store		*store;		/* borrowed */
	const struct uidset	*seen;		/* borrowed from the store */
	struct uidset		*taken;		/* fetched in this session */

	struct conn		*conn;
	struct bufferevent	*bev;		/* borrowed from conn */
	struct store_msg	*cur;		/* message being received */
	struct store_msg	*batch[SESSION_BATCH_MSGS];
	uint32_t		 keys[SESSION_BATCH_MSGS];
	size_t			 nbatch;
	uint64_t		 batch_bytes;
	unsigned		 commits;	/* batches at the store */
	int			 dead;		/* freed while in use */

	char			 message[600];	/* the error, for the result */
	struct event		*report_ev;	/* the result, from the loop */
	session_stored_cb	 stored_cb;	/* the owner's */
	void			*stored_arg;
	const struct session_ops *ops;
	void			*owner;		/* the protocol's session */
};

void	 session_init(struct session *, struct event_base *,
	    const char *account, const struct config_server *,
	    const char *password, struct store *, const struct session_ops *,
	    void (*report_cb)(int, short, void *), void *owner);
void	 session_clear(struct session *);
void	 session_connect(struct session *,
	    void (*)(struct conn *, const char *, void *));
void	 session_attach(struct session *,
	    void (*)(struct bufferevent *, void *),
	    void (*)(struct bufferevent *, short, void *), size_t input_high);
int	 session_add(struct session *, uint32_t key);
void	 session_commit(struct session *);
void	 session_kill(struct session *);
const char *session_error_name(unsigned);

#endif
