/*
 * The store's insides, shared by the store's files: store.c (open, close,
 * configure, folders, seen UIDLs), store-index.c (the SQLite index),
 * store-deliver.c (delivery and recovery), store-thread.c (the threads),
 * store-ops.c with store-read.c, store-change.c and store-reindex.c (the
 * mailbox operations behind list, read, mark, move, ...), store-queue.c
 * (the outbox), store-imap.c (IMAP folder state and the \Seen sync),
 * store-search.c with store-words.c (search) and store-conversation.c
 * (threads). Nothing else includes this but test-store-words.
 *
 * Threads: the loop hands jobs to three threads and gets them back through
 * one eventfd. The writer runs everything that changes the store (delivery
 * commits, mark, move, delete, reindex, refilter) one at a time, in order;
 * the reader runs what only reads (list, folders, read, attachments), so a
 * long reindex never holds up a listing. Each has its own SQLite
 * connection; WAL lets the reader go on while the writer writes. The
 * digester reads new messages (headers, rules) before their batch goes on
 * to the writer, so parsing one batch overlaps the disk flushes of the
 * one before.
 */
#ifndef MAILCTL_STORE_INT_H
#define MAILCTL_STORE_INT_H

#include <sys/queue.h>

#include <pthread.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"

#define STORE_POOL	256	/* empty files made ahead per folder */
#define STORE_READ_MAX	(256 * 1024)	/* read, not mapped, to parse */
/*
 * One maker: creates in one directory serialize on its inode lock, and a
 * second thread only spins on it (seen with perf on ext4).
 */
#define STORE_MAKERS	1

struct compose_part;
struct event;
struct event_base;
struct mime_msg;
struct filter;
struct store;
struct store_conv;
struct store_folder;
struct store_search;
struct store_text;
struct uidset;

/*
 * Work for a store thread: run there, then done on the loop; or, when run
 * sets next, queued on that thread to run again there (a pipeline).
 */
struct store_job {
	TAILQ_ENTRY(store_job)	 entry;
	void			(*run)(struct store *, sqlite3 *,
				    struct store_job *);
	void			(*done)(struct store *, struct store_job *);
	struct store_thread	*next;
	int			 hold;		/* run: keep it in held */
};
TAILQ_HEAD(store_jobs, store_job);

struct store_thread {
	struct store		*st;
	const char		*name;
	pthread_t		 thread;
	int			 running;
	struct store_jobs	 todo;		/* under store lock */
	pthread_cond_t		 wake;
	int			 stop;		/* under store lock: exit
						 * once todo is empty */
	struct store_jobs	 held;		/* done, reported later */
	sqlite3			*db;		/* this thread's connection */
};

/*
 * What the index keeps of a message besides where it is: its header
 * fields decoded to UTF-8 (or NULL) and the folder the rules chose.
 */
struct store_info {
	char		*from;
	char		*to;
	char		*cc;
	char		*subject;
	char		*message_id;
	time_t		 date;		/* Date:, else the file's time */
	long		 attachments;
	const char	*folder;	/* borrowed from the filter */
	int		 notify;
	struct store_text *text;	/* for the search index, or NULL */
	/* What threading reads (store-conversation.c, mime-thread.h). */
	char		*thread_id;	/* its Message-ID, or NULL */
	char		**thread_refs;	/* its ancestors, oldest first */
	size_t		 nthread_refs;
	char		*thread_subject;	/* the subject's key */
	int		 thread_reply;	/* the subject was a reply's */
};

struct store {
	char		*data_dir;
	int		 dirfd;
	struct store_folder **folders;	/* open until store_close */
	size_t		 nfolders;
	char		**recovered;	/* accounts checked since start */
	size_t		 nrecovered;
	struct store_seen *seen;	/* per account, loaded on first use */
	size_t		 nseen;
	sqlite3		*db;		/* the loop's: reads */
	sqlite3_stmt	*ins_seen;	/* on the writer's */
	sqlite3_stmt	*ins_msg;	/* on the writer's */
	sqlite3_stmt	*sel_last;	/* on the writer's: last id */
	sqlite3_stmt	*sel_seen;
	sqlite3_stmt	*sel_tmp;
	struct store_conv *conv;	/* the writer's statements */
	unsigned long	 counter;
	char		 host[128];
	struct filter	*filter;	/* under lock */
	char		**sync_seen;	/* under lock: accounts whose imap
					 * has sync_seen (store-imap.c) */
	size_t		 nsync_seen;
	char		**delete_there;	/* under lock: accounts whose imap
					 * has delete_on_server */
	size_t		 ndelete_there;
	void		(*queued_cb)(const char *, void *);	/* loop */
	void		*queued_arg;

	struct store_thread writer;
	struct store_thread reader;
	struct store_thread digester;	/* no database */
	struct store_search *search;	/* store-search.c's */
	struct store_words *words;	/* store-words.c's, writer's */
	int		 queuefd;	/* data_dir/queue, writer's; or -1 */
	pthread_t	 makers[STORE_MAKERS];
	int		 nmakers;
	int		 threads;	/* lock and threads set up */
	pthread_mutex_t	 lock;
	pthread_cond_t	 make_wake;	/* a pool wants files */
	/*
	 * The turn at the tmp/ directories (store_tmp_enter): a maker takes
	 * it for each file it creates, the writer for each file it renames
	 * out of tmp/. Both take the directory's lock in the kernel, where a
	 * waiter spins on the CPU while the other runs; here it sleeps. When
	 * both want it they alternate: a batch's renames held the makers off
	 * for milliseconds, the pools ran dry and the loop waited for files
	 * (and the server for the loop). Speed only: correctness does not
	 * rest on it.
	 */
	pthread_mutex_t	 tmpdirs;	/* guards the turn */
	pthread_cond_t	 tmp_turn;
	int		 tmp_owner;	/* STORE_TMP_WRITER, _MAKER, or 0 */
	int		 tmp_for;	/* handed to, or 0 */
	int		 tmp_waiting[3];
	struct store_jobs done;		/* under lock */
	int		 stopping;	/* under lock */
	int		 efd;		/* threads -> loop: jobs done */
	struct event	*efd_ev;
};

/* A message file parsed where it is mapped (store_mime_open). */
struct store_mime {
	struct mime_msg	*msg;
	char		*buf;		/* read into memory (ours), or */
	void		*map;		/* mapped */
	size_t		 maplen;
};

/*
 * A buffer that a run over many messages lends store_mime_open for the
 * small ones, one after the other: allocating and freeing one per message
 * cost the digester a sixth of its time (malloc, and fresh pages to clear).
 * Zeroed to start; store_rbuf_free at the end.
 */
struct store_rbuf {
	char		*p;		/* STORE_READ_MAX + 1 bytes, or NULL */
};

/*
 * A mailbox operation (store_request): its params in, a result or an
 * error out; run on the writer when it changes the store, else the reader.
 */
struct ops_req;
struct ops_op {
	const char	*name;
	int		 writer;	/* changes the store */
	void		(*run)(struct store *, sqlite3 *, struct ops_req *);
};

struct ops_req {
	struct store_job	 job;		/* first */
	const struct ops_op	*op;
	json_t			*params;
	json_t			*result;
	int			 code;
	char			*error;
	int			 err;		/* errno when it failed */
	char			*text;		/* the result as JSON text */
	size_t			 textlen;
	store_text_cb		 text_cb;	/* wants it so (list) */
	store_reply_cb		 cb;
	void			*arg;
	long long		 mark_id;	/* read: mark it read next */
	char			*queued;	/* the account a change was
						   queued for, or NULL */
	int			 push_delete;	/* delete: queue the removal
						   for the IMAP server */
	int			 push_seen;	/* mark: queue the read state
						 * for the IMAP server */
	int			 fd;		/* came with the request, or -1 */
};

#define OPS_NAME_MAX	256	/* a Maildir file name */
#define OPS_FLAGS_MAX	32
#define OPS_PATH_MAX	1024	/* ACCOUNT/FOLDER/cur/FILE:2,FLAGS */

/* Where a message is, as the index (or a search) says. */
struct ops_row {
	long long	 id;
	char		 account[OPS_NAME_MAX];
	char		 folder[OPS_NAME_MAX];
	char		 dir[4];		/* "new" or "cur" */
	char		 file[OPS_NAME_MAX];	/* base name */
	char		 flags[OPS_FLAGS_MAX];
	long long	 size;
	char		 real[OPS_NAME_MAX];	/* found by a search, or "" */
	int		 stale;			/* the index says otherwise */
	int		 changed;		/* to record */
};

/* What the operations share (store-ops.c). */
void		 ops_fail(struct ops_req *, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
void		 ops_fail_db(struct ops_req *, sqlite3 *);
sqlite3_stmt	*ops_prepare(sqlite3 *, struct ops_req *, const char *sql);
void		 ops_col(sqlite3_stmt *, int col, char *buf, size_t size);
int		 ops_row(sqlite3 *, struct ops_req *, long long id,
		    struct ops_row *);
void		 ops_path(const struct ops_row *, char *buf, size_t size);
int		 ops_search(struct store *, struct ops_row *);
int		 ops_open(struct store *, struct ops_req *, struct ops_row *);
int		 ops_parse(struct store *, struct ops_req *, struct ops_row *,
		    struct store_mime *);
int		 ops_walk(struct store *, const char *account,
		    int (*)(const char *, const char *, void *), void *);
int		 ops_folder(struct store *, struct ops_req *, const char *name,
		    char *out, size_t size, int create);

/*
 * A listing written as JSON text (store_request_text): with 50,000
 * messages, building them as objects and encoding them took the loop
 * over a second; this writes each row straight into one buffer on the
 * reader thread.
 */
struct ops_text {
	char	*buf;
	size_t	 len;
	size_t	 size;
};
char		*ops_text_room(struct ops_text *, size_t);
void		 ops_text_string(struct ops_text *, const char *);

/* The columns ops_text_entry reads, in its order. */
#define OPS_LIST_COLUMNS "m.id, m.account, m.folder, m.from_hdr, " \
	"m.subject, coalesce(m.date, m.added), m.size, m.flags, " \
	"m.attachments, m.thread"

/* The operations that only read (store-read.c). */
void		 ops_text_raw(struct ops_text *, const char *);
void		 ops_text_entry(struct ops_text *, sqlite3_stmt *);
void		 ops_text_rows(struct ops_req *, sqlite3 *, sqlite3_stmt *,
		    void (*)(struct ops_text *, sqlite3_stmt *, void *), void *);
void		 ops_list(struct store *, sqlite3 *, struct ops_req *);
void		 ops_folders(struct store *, sqlite3 *, struct ops_req *);
void		 ops_read(struct store *, sqlite3 *, struct ops_req *);
void		 ops_attachments(struct store *, sqlite3 *, struct ops_req *);
json_t		*ops_msgids(const struct mime_msg *, const char *field);

/* Mark, move, delete (store-change.c). */
void		 ops_flag(const char *flags, char flag, int on, char *out,
		    size_t size);
void		 ops_change(struct store *, sqlite3 *, struct ops_req *,
		    struct ops_row *, size_t n, const char *folder, int read,
		    int by_hand);
void		 ops_change_flag(struct store *, sqlite3 *, struct ops_req *,
		    struct ops_row *, size_t n, const char *folder, char flag,
		    int on, int by_hand);
void		 ops_mark(struct store *, sqlite3 *, struct ops_req *);
void		 ops_move(struct store *, sqlite3 *, struct ops_req *);
void		 ops_delete(struct store *, sqlite3 *, struct ops_req *);

/* Reindex, refilter (store-reindex.c). */
void		 ops_reindex(struct store *, sqlite3 *, struct ops_req *);
void		 ops_refilter(struct store *, sqlite3 *, struct ops_req *);

/* Replies and forwards (store-reply.c). */
struct store_reply_parts {
	struct compose_part	*parts;		/* for struct compose */
	size_t			 n;
	char			**data;		/* attachments decoded */
	char			*buf;		/* the original, as it is */
	struct store_mime	 sm;		/* parsed, when parsed */
	int			 parsed;
};
void		 ops_reply_source(struct store *, sqlite3 *, struct ops_req *);
int		 store_reply_parts(struct store *, sqlite3 *, struct ops_req *,
		    json_t *compose, struct store_reply_parts *);
void		 store_reply_parts_free(struct store_reply_parts *);
void		 store_reply_mark(struct store *, sqlite3 *, json_t *mark);

/* The outbox's operations (store-queue.c). */
void		 ops_queue_add(struct store *, sqlite3 *, struct ops_req *);
void		 ops_queue_load(struct store *, sqlite3 *, struct ops_req *);
void		 ops_queue_update(struct store *, sqlite3 *, struct ops_req *);
void		 ops_queue_cancel(struct store *, sqlite3 *, struct ops_req *);

/* The IMAP \Seen queue and the accounts that sync it (store-imap.c). */
void		 store_imap_configure(struct store *, const struct config *);
int		 store_imap_queue(struct store *, sqlite3 *, struct ops_req *,
		    const struct ops_row *, int seen);

/* store.c: the folders every account has from the start. */
extern const char *const store_default_folders[];

/* store.c */
int		 store_mkfolder(struct store *, const char *account,
		    const char *folder, char **cause);
struct filter	*store_filter(struct store *);
struct uidset	*store_seen_cached(struct store *, const char *account);

/* store-index.c */
void		 store_dberr(sqlite3 *, const char *, char **);
int		 store_dbopen(const char *path, sqlite3 **, char **cause);
int		 store_migrate(sqlite3 *, char **cause);
int		 store_prepare(sqlite3 *, const char *sql, sqlite3_stmt **,
		    char **cause);
int		 store_mime_open(int fd, size_t size, struct store_mime *,
		    struct store_rbuf *, char **cause);
void		 store_mime_close(struct store_mime *);
void		 store_rbuf_free(struct store_rbuf *);
int		 store_digest(int fd, size_t size, const struct filter *,
		    struct store_info *, int text, struct store_rbuf *);
void		 store_info_free(struct store_info *);
void		 store_bind_info(sqlite3_stmt *, int, const struct store_info *);
int		 store_flags_parse(const char *name, char *base, size_t size,
		    char *flags, size_t fsize);

/* The search index (store-search.c). */
struct store_text *store_search_text(const struct mime_msg *);
void		 store_text_free(struct store_text *);
int		 store_search_add(struct store *, sqlite3 *, long long id,
		    time_t date, const struct store_text *, char **cause);
void		 store_search_free(struct store_search *);
struct query;
void		 store_words_free(struct store_words *);
int		 store_words_add(struct store *, sqlite3 *, char *const *,
		    const size_t *, int, char **);
void		 store_words_expand(sqlite3 *, struct query *);
void		 store_search_start(struct store *, struct event_base *);
void		 store_search_kick(struct store *, int startup);
void		 store_search_delivered(struct store *);
int		 store_search_init(sqlite3 *, char **cause);
fts5_api	*store_fts5_api(sqlite3 *);
void		 ops_query(struct store *, sqlite3 *, struct ops_req *);

/* store-deliver.c */
int		 store_make_file(struct store *, int dirfd, char *name,
		    size_t size);
void		*store_maker(void *);
void		 store_folder_close(struct store_folder *);

/* store-conversation.c: threads of messages (conversations). */
void		 store_conversation_info(const struct mime_msg *,
		    struct store_info *);
int		 store_conversation_add(struct store *, sqlite3 *,
		    long long id, const struct store_info *);
int		 store_conversation_keep(struct store *, sqlite3 *,
		    long long id, const struct store_info *);
/* What store_conversation_redo reads after the message's place. */
#define STORE_CONV_KEPT	"thread_key, thread_refs, thread_subject, " \
	"thread_reply"
int		 store_conversation_redo(struct store *, sqlite3 *,
		    sqlite3_stmt *, long long *done);
int		 store_conversation_insert(struct store *, sqlite3 *,
		    sqlite3_stmt *, int, long long, const struct store_info *);
void		 store_conversation_fill(struct store *);
void		 store_conversation_free(struct store_conv *);
void		 ops_thread(struct store *, sqlite3 *, struct ops_req *);
void		 ops_list_threads(sqlite3 *, struct ops_req *, const char *where,
		    const char *folder, const char *account);

/* store-thread.c */
int		 store_threads_start(struct store *, struct event_base *,
		    char **cause);
void		 store_threads_stop(struct store *);
void		 store_submit(struct store *, struct store_thread *,
		    struct store_job *);
int		 store_stopping(struct store *);
void		 store_thread_release(struct store *, struct store_thread *);

#endif
