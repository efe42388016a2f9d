/*
 * The inside of an IMAP session, private to the two files that make it:
 * imap.c, the conversation (connect, greeting, CAPABILITY, STARTTLS,
 * login, the responses read, literals taken or streamed, and dispatched by
 * state, the end and the freeing), and imap-fetch.c, the sync once logged
 * in (select, listing, the messages streamed into the store, batches and
 * commits, deletions, read states both ways, a new UIDVALIDITY, and a
 * watching session's rounds and IDLE). Nothing else includes it.
 */
#ifndef MAILCTL_IMAP_INT_H
#define MAILCTL_IMAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "config.h"
#include "imap.h"
#include "imap-wire.h"
#include "session.h"
#include "store.h"

struct bufferevent;
struct conn;
struct event;
struct uidset;

#define IMAP_LINE_MAX		(64 * 1024)	/* a response line */
#define IMAP_INPUT_HIGH		(1024 * 1024)	/* stop reading beyond */
#define IMAP_READ_BULK		(256 * 1024)	/* one direct read */
#define IMAP_BULK_PER_CB	16		/* direct reads a callback */
#define IMAP_MSG_MAX		(256ULL * 1024 * 1024)
/*
 * Batches at the store at once: reading pauses beyond, as each message of
 * a batch holds a descriptor until its commit (a fast server outruns the
 * disk, and a 50,000-message sync ran out of descriptors without this).
 */
#define IMAP_MAX_COMMITS	16
#define IMAP_SET_MAX		4000		/* bytes of a UID set */
#define IMAP_UIDS_MAX		10000000	/* UIDs of one folder */
/* Untagged responses to one command, beyond two per message selected. */
#define IMAP_UNTAGGED_MAX	100000

enum imap_state {
	IMAP_S_CONNECT,
	IMAP_S_GREETING,
	IMAP_S_CAPABILITY,
	IMAP_S_STARTTLS,
	IMAP_S_HANDSHAKE,
	IMAP_S_CAPABILITY_TLS,
	IMAP_S_LOGIN,
	IMAP_S_CAPABILITY_AUTH,
	IMAP_S_ENABLE,
	IMAP_S_SELECT,
	IMAP_S_LIST,
	IMAP_S_FETCH,
	IMAP_S_WAIT,
	IMAP_S_STORE,
	IMAP_S_EXPUNGE,
	IMAP_S_PUSH,
	IMAP_S_IDLE,
	IMAP_S_IDLE_DONE,
	IMAP_S_LOGOUT,
	IMAP_S_DONE,
	IMAP_S_NSTATES
};


/* A list of UIDs, and how far a command has consumed it. */
struct imap_uids {
	uint32_t	*v;
	size_t		 n;
	size_t		 size;
	size_t		 next;		/* the first not sent yet */
};

/* A message listed after a UIDVALIDITY change, and its Message-ID. */
struct imap_remap {
	uint32_t	 uid;
	char		*mid;		/* normalized: without <> */
};

struct imap_session {
	struct session		 c;		/* server, connection, batches */
	char			**folders;	/* server names */
	size_t			 nfolders;
	size_t			 folder;	/* the one selected */
	char			*local;		/* its local twin; NULL: rules */

	enum imap_state		 state;
	unsigned		 caps;
	int			 caps_known;
	unsigned		 tagn;
	char			 tag[16];	/* of the command in flight */
	uint64_t		 untagged;	/* responses to it so far */
	uint64_t		 untagged_max;	/* ... allowed */
	struct imap_parser	*parser;
	char			*line;		/* IMAP_LINE_MAX + 1 bytes */
	uint64_t		 lit_left;	/* literal bytes still to come */
	int			 lit_stream;	/* into the store, not kept */
	char			*lit;		/* a kept literal */
	size_t			 lit_len;
	char			*sasl;		/* the answer to "+" */
	char			 set[IMAP_SET_MAX];	/* STORE's, EXPUNGE's */
	size_t			 set_uids;	/* UIDs in it */

	uint32_t		 uidvalidity;
	uint32_t		 exists;
	uint32_t		 uidnext;	/* SELECT's [UIDNEXT] */
	uint64_t		 modseq;	/* SELECT's [HIGHESTMODSEQ] */
	int			 sync_seen;
	int			 qresync;	/* enabled: flag news carry UIDs */
	struct imap_uids	 push_on;	/* \Seen to set there */
	struct imap_uids	 push_off;	/* ... to clear */
	struct imap_uids	 push_del;	/* removed here: remove there */
	int			 expunging;	/* push_del: UID EXPUNGE next */
	int			 delete_there;	/* delete_on_server */
	long long		*push_ids;	/* their queue rows */
	size_t			 npush;
	uint32_t		 remap_from;	/* the folder's old UIDVALIDITY */
	struct imap_remap	*remap;		/* listed: UID, Message-ID */
	size_t			 nremap;
	size_t			 remapsize;
	struct store_imap_seen	*pull;		/* read state there */
	size_t			 npull;
	size_t			 pullsize;
	uint32_t		 selected;	/* EXISTS when SELECT ended */
	struct imap_uids	 want;		/* to download */
	struct imap_uids	 del;		/* stored, to remove there */

	int			 cr;		/* a CR waits for its LF */

	/* A watching session (one folder, IDLE between syncs). */
	int			 watch;
	int			 idle_renew;	/* seconds */
	struct event		*renew_ev;
	struct event		*reap_ev;	/* freed in a callback */
	uint32_t		 next_uid;	/* above every UID seen */
	int			 again;		/* sync once more after this */
	int			 pushed;	/* this round: EXISTS began it */
	int			 done_sent;	/* DONE went, its OK to come */
	int			 in_cb;		/* in the owner's round_cb */
	int			 in_read;	/* in imap_read_cb */
	int			 paused;	/* reading waits for commits */
	struct imap_watch_info	 info;
	imap_done_cb		 round_cb;

	struct imap_result	 result;
	imap_done_cb		 cb;
	void			*arg;
};

/* imap.c: the conversation. */
void	imap_report(struct imap_session *s);
void	imap_enter(struct imap_session *s, enum imap_state next);
void	imap_fail(struct imap_session *s, enum imap_error err, const char *fmt,
	    ...)
	    __attribute__((format(printf, 3, 4)));
void	imap_command(struct imap_session *s, int secret, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	imap_read_cb(struct bufferevent *bev, void *arg);
int	imap_reap(struct imap_session *s);

/* imap-fetch.c: the sync once logged in, and a watching session's rounds. */
int	imap_uids_add(struct imap_uids *u, uint32_t uid);
int	imap_uid_cmp(const void *a, const void *b);
void	imap_key(const struct imap_session *s, uint32_t uid, char *key,
	    size_t size);
void	imap_commit(struct imap_session *s);
void	imap_committed(void *, int, const char *, const uint32_t *, size_t);
int	imap_put(struct imap_session *s, const char *p, size_t n);
int	imap_msg_begin(struct imap_session *s);
void	imap_fetch_msg(struct imap_session *s, const struct imap_item *list);
void	imap_fetch_next(struct imap_session *s);
void	imap_after_fetch(struct imap_session *s);
void	imap_timeouts(struct imap_session *s, int reading);
void	imap_idle_done(struct imap_session *s);
void	imap_renew_cb(evutil_socket_t fd, short what, void *arg);
void	imap_renew_arm(struct imap_session *s);
void	imap_idle_enter(struct imap_session *s);
void	imap_round_start(struct imap_session *s);
void	imap_remap_clear(struct imap_session *s);
void	imap_remap_add(struct imap_session *s, uint32_t uid,
	    const struct imap_item *list);
void	imap_remap_match(struct imap_session *s);
void	imap_list(struct imap_session *s);
void	imap_pull_add(struct imap_session *s, uint32_t uid,
	    const struct imap_item *list);
void	imap_flag_news(struct imap_session *s, const struct imap_item *list);
void	imap_push_next(struct imap_session *s);
void	imap_next_folder(struct imap_session *s);

#endif
