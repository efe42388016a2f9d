/*
 * The local mail store: one Maildir tree per account under data_dir, one
 * Maildir per folder, and an SQLite index (data_dir/index.sqlite) holding
 * the seen POP3 UIDLs and one row per stored message.
 *
 * Delivery is crash-safe in this order (see store-deliver.c for why):
 *   write each message into tmp/ -> flush the batch to disk -> record the
 *   batch (files and UIDLs) in one transaction -> rename into new/ ->
 *   flush the directory. Those steps run on a worker thread; only after
 *   store_commit's callback reports success may the messages be deleted
 *   on the server.
 */
#ifndef MAILCTL_STORE_H
#define MAILCTL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config;
struct event_base;
struct store;
struct store_msg;
struct uidset;

/* A message a commit made visible, as the index knows it. */
struct store_new {
	long long	 id;		/* stable message id */
	char		*folder;
	char		*from;		/* decoded header values (or NULL) */
	char		*subject;
	int		 notify;	/* the rule that filed it says so */
};

/*
 * A batch commit finished: rc 0 with the n messages now stored, or -1 with
 * cause. Runs on the loop; the array is valid during the call.
 */
typedef void (*store_commit_cb)(int rc, const char *cause,
    const struct store_new *, size_t n, void *arg);

int		 store_lock(const char *data_dir, long *holder, char **cause);
struct store	*store_open(const char *data_dir, struct event_base *,
		    char **cause);
void		 store_close(struct store *);
void		 store_configure(struct store *, const struct config *, int);

const struct uidset *store_seen(struct store *, const char *account,
		    char **cause);

int		 store_expect(struct store *, const char *account, size_t,
		    char **cause);
struct store_msg *store_msg_new(struct store *, const char *account,
		    const char *uidl, char **cause);
char		*store_msg_room(struct store_msg *, size_t *room);
int		 store_msg_fill(struct store_msg *, size_t);
int		 store_msg_close(struct store_msg *, char **cause);
void		 store_msg_set_uidl(struct store_msg *, const char *uidl);
void		 store_msg_set_folder(struct store_msg *, const char *folder);
uint64_t	 store_msg_size(const struct store_msg *);
void		 store_msg_abort(struct store_msg *);

void		 store_commit(struct store *, struct store_msg **, size_t n,
		    store_commit_cb, void *arg);
void		 store_release(struct store *, const char *account);
int		 store_recover(struct store *, const char *account,
		    char **cause);
int		 store_full(struct store *);
int		 store_count(struct store *, const char *account, int64_t *n,
		    int64_t *bytes);

/*
 * Mailbox operations (store-ops.c), run on a store thread: op is a method
 * name of DESIGN.md's control protocol whose params were checked by the
 * RPC layer. cb runs once, from the loop, with the result (stolen) or an
 * error code and message.
 */
typedef void (*store_reply_cb)(json_t *result, int code, const char *error,
    void *arg);
void		 store_request(struct store *, const char *op, json_t *params,
		    store_reply_cb, void *arg);
/* The same with a descriptor the client sent (fd, stolen; closed after). */
void		 store_request_fd(struct store *, const char *op,
		    json_t *params, int fd, store_reply_cb, void *arg);
/*
 * The same, for an answer that may be big (list): the result comes as
 * JSON text (text stolen, len bytes), written on the store's thread.
 */
typedef void (*store_text_cb)(char *text, size_t len, int code,
    const char *error, void *arg);
void		 store_request_text(struct store *, const char *op,
		    json_t *params, store_text_cb, void *arg);

/*
 * IMAP \Seen sync (store-imap.c), for the IMAP session of an account with
 * sync_seen. A message of an IMAP account is known by its seen key
 * "imap:UIDVALIDITY:UID:FOLDER" (imap.h), kept as its uidl; FOLDER is the
 * server's name of the folder. All of it is per account and server folder.
 *
 * Reads (folder_get, pending, known) run at once on the loop's connection
 * and see everything the writer committed before (WAL). Writes (folder_put,
 * pending_done, apply_seen) run in order on the writer thread, after every
 * change queued before them, and report through a store_done_cb on the
 * loop: rc 0, or -1 with cause (valid during the call).
 *
 * The outgoing queue: when mark (mailctl mark, and read marking a message
 * read) sets or clears the read flag of a message whose key starts with
 * "imap:" and whose account's imap block has sync_seen, the read state it
 * asked for is queued in the same transaction as the flag change: a crash
 * keeps both or neither. Every message mark names is queued, changed or
 * not: the user's latest word wins over what the server said last. One
 * row per key; a newer change replaces the row and its id.
 */
typedef void (*store_done_cb)(int rc, const char *cause, void *arg);

/* What the last sync learnt of a server folder (0: not known). */
struct store_imap_folder {
	uint32_t	 uidvalidity;	/* 0: the folder was never synced */
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;	/* 0: no CONDSTORE */
	int64_t		 synced;	/* time of the sync, seconds */
};

/* A read state changed here, to push (store_imap_pending). */
struct store_imap_flag {
	long long	 id;		/* for store_imap_pending_done */
	uint32_t	 uid;
	int		 seen;		/* 1: set \Seen, 0: clear it,
					   STORE_IMAP_DELETE: remove it */
};
#define STORE_IMAP_DELETE	2	/* rm here, delete_on_server */

/* A message's read state on the server (store_imap_apply_seen). */
struct store_imap_seen {
	uint32_t	 uid;
	int		 seen;
};

/*
 * Read what the store knows of a folder into out: 0 (out->uidvalidity 0
 * when nothing), or -1 with cause.
 */
int		 store_imap_folder_get(struct store *, const char *account,
		    const char *folder, struct store_imap_folder *out,
		    char **cause);
/*
 * Record a folder's state (on the writer). When its UIDVALIDITY is not the
 * one recorded, the queued changes of the folder under any other
 * UIDVALIDITY are dropped in the same transaction (logged): those UIDs
 * name nothing on the server any more.
 */
void		 store_imap_folder_put(struct store *, const char *account,
		    const char *folder, const struct store_imap_folder *,
		    store_done_cb, void *arg);
/*
 * The queued changes of folder under uidvalidity, sorted by UID, into *out
 * (*n of them; free with store_imap_pending_free): 0, or -1 with cause.
 * Rows of another UIDVALIDITY are never returned.
 */
int		 store_imap_pending(struct store *, const char *account,
		    const char *folder, uint32_t uidvalidity,
		    struct store_imap_flag **out, size_t *n, char **cause);
void		 store_imap_pending_free(struct store_imap_flag *);
/*
 * The server acknowledged these changes: delete their rows (on the
 * writer), by id only, so a row a newer change replaced meanwhile (a new
 * id) stays queued. Unknown ids are no error.
 */
void		 store_imap_pending_done(struct store *, const long long *ids,
		    size_t n, store_done_cb, void *arg);
/*
 * Apply read states the server reports (on the writer), as mark does:
 * rename the Maildir file (cur/, :2,S set or cleared) and update the
 * index. A key with a queued change is left alone (the change made here,
 * not yet pushed, wins); a key with no stored message, or whose message
 * has that state already, is skipped. Before cb runs, *changed (may be
 * NULL; must live until cb) is set to the number of messages changed. A
 * message that cannot be changed (its file gone) is logged and skipped;
 * rc is -1 only when the index could not be read or the disk is full
 * (what changed before that stays changed, and is counted).
 * Messages a commit stored are found once store_commit's callback has
 * run (not before: the batch may still be on its way to the writer).
 */
void		 store_imap_apply_seen(struct store *, const char *account,
		    const char *folder, uint32_t uidvalidity,
		    const struct store_imap_seen *changes, size_t n,
		    size_t *changed, store_done_cb, void *arg);
/*
 * The UIDs of the stored messages of folder under uidvalidity, sorted
 * ascending, into *uids (*n; free() it; NULL when none): 0, or -1 with
 * cause.
 */
/* A message stored under a folder's old UIDVALIDITY (store_imap_old). */
struct store_imap_old {
	uint32_t	 uid;
	char		*message_id;
};
/* A message matched on the server under a new UID (store_imap_rekey). */
struct store_imap_rekey {
	uint32_t	 old_uid;
	uint32_t	 new_uid;
};
int		 store_imap_old(struct store *, const char *account,
		    const char *folder, uint32_t uidvalidity,
		    struct store_imap_old **out, size_t *n, char **cause);
void		 store_imap_old_free(struct store_imap_old *, size_t);
void		 store_on_queued(struct store *, void (*)(const char *account,
		    void *), void *arg);
void		 store_imap_rekey(struct store *, const char *account,
		    const char *folder, uint32_t oldv, uint32_t newv,
		    const struct store_imap_rekey *, size_t n, store_done_cb,
		    void *arg);
int		 store_imap_known(struct store *, const char *account,
		    const char *folder, uint32_t uidvalidity, uint32_t **uids,
		    size_t *n, char **cause);

#endif
