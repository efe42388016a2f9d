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

#endif
