/*
 * An IMAP sync session: connect, authenticate, and for each server folder
 * of the account select it, find the messages not stored before, download
 * them into the store, remove them on the server when the account says
 * so; then log out. One session per sync. A leaf like pop3.c: it reports
 * each batch the store made durable through the stored callback, and its
 * end through the done callback, which runs once, from the loop, after
 * which the caller frees the session.
 *
 * A watching session (imap_session_watch) keeps one folder: it syncs it,
 * then waits in IDLE (RFC 2177); new mail (EXISTS) ends the IDLE and syncs
 * again, as does imap_session_sync_now. IDLE is renewed every idle_renew
 * seconds (DONE, then IDLE again), and the server must answer the DONE
 * within the account's timeout: a connection that died silently is
 * noticed that way. Each sync of a watching session is reported through
 * the round callback; the done callback only comes when it ends (an error,
 * or a server without IDLE after its first round).
 *
 * A message's identity is its server folder, the folder's UIDVALIDITY and
 * its UID, recorded as the store's seen key "imap:V:U:FOLDER" (so one
 * seen set serves POP3 and IMAP accounts alike).
 */
#ifndef MAILCTL_IMAP_H
#define MAILCTL_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct config_account;
struct event_base;
struct imap_session;
struct store;
struct store_new;

enum imap_error {
	IMAP_OK,
	IMAP_ERR_NETWORK,	/* resolve, connect, timeout, lost connection */
	IMAP_ERR_TLS,		/* handshake or certificate */
	IMAP_ERR_AUTH,		/* login refused */
	IMAP_ERR_PROTOCOL,	/* the server broke the protocol */
	IMAP_ERR_LOCAL,		/* our disk or index */
	IMAP_ERR_SPACE,		/* ... because it is full */
	IMAP_NERRORS
};

struct imap_result {
	enum imap_error	 error;
	const char	*message;	/* NULL on success; valid in the cb */
	unsigned	 new;		/* messages stored */
	uint64_t	 bytes;		/* bytes stored */
	unsigned	 on_server;	/* messages in the folders, summed */
	unsigned	 deleted;	/* removed on the server */
	unsigned	 folders;	/* folders synced in full */
	int		 pushed;	/* a watching session's round began with
					   the server's EXISTS */
	int		 no_idle;	/* the server does not offer IDLE */
};

/* What a watching session is doing, for status. */
struct imap_watch_info {
	int		 idling;	/* in IDLE now */
	time_t		 idling_since;	/* this connection's first IDLE */
	time_t		 last_renewal;	/* the last DONE answered */
	time_t		 last_sync;	/* the last round's end */
	unsigned	 rounds;
	uint32_t	 uidvalidity;
	int		 round_pushed;	/* the round now: EXISTS began it */
};

typedef void (*imap_stored_cb)(const struct store_new *news, size_t n,
    void *arg);
typedef void (*imap_done_cb)(struct imap_session *,
    const struct imap_result *, void *arg);

struct imap_session *imap_session_start(struct event_base *,
		    const struct config_account *, const char *password,
		    struct store *, imap_stored_cb, imap_done_cb, void *arg);
struct imap_session *imap_session_watch(struct event_base *,
		    const struct config_account *, const char *password,
		    const char *folder, struct store *, imap_stored_cb,
		    imap_done_cb round_cb, imap_done_cb done_cb, void *arg);
void		 imap_session_sync_now(struct imap_session *);
void		 imap_session_info(const struct imap_session *,
		    struct imap_watch_info *);
void		 imap_session_free(struct imap_session *);
const char	*imap_error_name(enum imap_error);

#endif
