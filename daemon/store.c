/*
 * The store's front: lock its data_dir for one daemon, open and close it,
 * take a configuration (the filing
 * rules, every account's default folders), make an account's Maildir
 * folders, keep the UIDLs each account has stored in memory, and count
 * an account's messages.
 *
 * The rest of the store lives beside it, all sharing store-int.h:
 *   store-index.c    the SQLite index: schema, connections, and what it
 *                    keeps of a message (header fields, folder, flags);
 *   store-deliver.c  delivery, batch commits and their crash safety,
 *                    recovery after a crash;
 *   store-thread.c   the worker threads and the eventfd back to the loop;
 *   store-ops.c      the mailbox operations (store_request), with
 *                    store-read.c, store-change.c and store-reindex.c;
 *   store-queue.c    the outbox;
 *   store-imap.c     IMAP folder state and the \Seen sync;
 *   store-conversation.c  conversations (threads) and the thread operation.
 */
#include "autoconf.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/paths.h"
#include "common/xmalloc.h"
#include "config.h"
#include "filter.h"
#include "store.h"
#include "uidset.h"
#include "store-int.h"

/*
 * The UIDLs an account has stored, kept in memory after the first poll so
 * that a poll finding nothing new reads nothing from disk. Commits add to
 * it (on the loop) once they are durable.
 */
struct store_seen {
	char		*account;
	struct uidset	*set;
};

#define STORE_ROOM_MIN	(16 * 1024 * 1024)	/* bytes: store_full */

const char *const store_default_folders[] = {
	FILTER_INBOX, "Important", "Work", "Project", "Spam", "Sent", "Trash",
	NULL
};

/*
 * One daemon per data_dir: take an exclusive flock on data_dir/lock
 * (making data_dir and its parents when missing) and write our pid in it.
 * Return the descriptor, to keep open for the daemon's life (the lock goes
 * with the process, however it ends); or -1 with cause, and *holder the pid
 * of the daemon that holds it when that is why (else 0).
 */
int
store_lock(const char *data_dir, long *holder, char **cause)
{
	char	*path, buf[32];
	ssize_t	 n;
	int	 fd;

	*holder = 0;
	if (paths_mkdirs(data_dir, cause) != 0)
		return -1;
	xasprintf(&path, "%s/lock", data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		/* The unit's sandbox makes the home read-only but for one. */
		xasprintf(cause, "cannot open %s: %s%s", path, strerror(errno),
		    errno == EROFS ? " (a data_dir outside ~/.local/share/"
		    "mailctl needs ReadWritePaths= in a drop-in of the "
		    "systemd unit: see the README)" : "");
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof buf - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			*holder = strtol(buf, NULL, 10);
			if (*holder > 0)
				xasprintf(cause, "%s is in use by another "
				    "mailctld (pid %ld)", data_dir, *holder);
			else
				xasprintf(cause, "%s is in use by another "
				    "mailctld", data_dir);
			if (*holder <= 0)
				*holder = -1;
		} else
			xasprintf(cause, "cannot lock %s: %s", path,
			    strerror(errno));
		free(path);
		close(fd);
		return -1;
	}
	free(path);
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, n, 0) != n)
		log_warn("cannot write our pid into %s/lock", data_dir);
	return fd;
}

/*
 * Is data_dir's filesystem (nearly) full? Asked after a delivery failed,
 * to tell a full disk, which is temporary, from other trouble: with less
 * than STORE_ROOM_MIN bytes or a few inodes left, it is that.
 */
int
store_full(struct store *st)
{
	struct statvfs	 sv;

	if (fstatvfs(st->dirfd, &sv) != 0)
		return 0;
	if ((unsigned long long)sv.f_bavail * sv.f_frsize < STORE_ROOM_MIN)
		return 1;
	/* Some filesystems have no inode count at all (f_files 0). */
	return sv.f_files > 0 && sv.f_favail < 16;
}

/* Open (creating) the store under data_dir. */
struct store *
store_open(const char *data_dir, struct event_base *base, char **cause)
{
	struct store	*st;
	char		*path, *p;

	if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
		xasprintf(cause, "cannot create %s: %s", data_dir,
		    strerror(errno));
		return NULL;
	}
	st = xcalloc(1, sizeof *st);
	st->dirfd = -1;
	st->efd = -1;
	st->queuefd = -1;
	st->data_dir = xstrdup(data_dir);
	st->writer.st = st->reader.st = st->digester.st = st;
	st->writer.name = "writer";
	st->reader.name = "reader";
	st->digester.name = "digester";
	st->dirfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd == -1) {
		xasprintf(cause, "cannot open %s: %s", data_dir,
		    strerror(errno));
		store_close(st);
		return NULL;
	}
	/* Maildir names carry the host name: no '/' or ':' in it. */
	if (gethostname(st->host, sizeof st->host) != 0 || st->host[0] == '\0')
		snprintf(st->host, sizeof st->host, "localhost");
	st->host[sizeof st->host - 1] = '\0';
	for (p = st->host; *p != '\0'; p++)
		if (*p == '/' || *p == ':' || *p == ',')
			*p = '_';

	xasprintf(&path, "%s/index.sqlite", data_dir);
	if (store_dbopen(path, &st->db, cause) != 0 ||
	    store_migrate(st->db, cause) != 0 ||
	    store_dbopen(path, &st->writer.db, cause) != 0 ||
	    store_dbopen(path, &st->reader.db, cause) != 0 ||
	    store_search_init(st->reader.db, cause) != 0) {
		free(path);
		store_close(st);
		return NULL;
	}
	free(path);
	if (store_prepare(st->writer.db, "INSERT OR IGNORE INTO seen (account, "
	    "uidl, added) VALUES (?, ?, ?)", &st->ins_seen, cause) != 0 ||
	    store_prepare(st->writer.db, "INSERT INTO messages (account, "
	    "folder, file, size, uidl, added, from_hdr, subject, to_hdr, "
	    "cc_hdr, date, message_id, attachments, thread_key, "
	    "thread_subject, thread_reply, thread_refs, id, thread) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    &st->ins_msg, cause) != 0 ||
	    store_prepare(st->writer.db, "SELECT max(coalesce((SELECT seq FROM "
	    "sqlite_sequence WHERE name = 'messages'), 0), coalesce((SELECT "
	    "max(id) FROM messages), 0))", &st->sel_last, cause) != 0 ||
	    store_prepare(st->db, "SELECT uidl FROM seen WHERE account = ?",
	    &st->sel_seen, cause) != 0 ||
	    store_prepare(st->db, "SELECT folder, file FROM messages WHERE "
	    "account = ?1 AND file >= ?2 || ',S=' AND file < ?2 || ',S>'",
	    &st->sel_tmp, cause) != 0) {
		store_close(st);
		return NULL;
	}
	if (store_threads_start(st, base, cause) != 0) {
		store_close(st);
		return NULL;
	}
	store_search_start(st, base);
	/* Conversations for what an older mailctld stored. */
	store_conversation_fill(st);
	return st;
}

/* Close the store (NULL is fine). */
void
store_close(struct store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	store_threads_stop(st);
	if (st->queuefd != -1)
		close(st->queuefd);
	for (i = 0; i < st->nfolders; i++)
		store_folder_close(st->folders[i]);
	free(st->folders);
	for (i = 0; i < st->nrecovered; i++)
		free(st->recovered[i]);
	free(st->recovered);
	for (i = 0; i < st->nseen; i++) {
		free(st->seen[i].account);
		uidset_free(st->seen[i].set);
	}
	free(st->seen);
	sqlite3_finalize(st->ins_seen);
	sqlite3_finalize(st->ins_msg);
	sqlite3_finalize(st->sel_last);
	sqlite3_finalize(st->sel_seen);
	sqlite3_finalize(st->sel_tmp);
	store_search_free(st->search);
	store_words_free(st->words);
	store_conversation_free(st->conv);
	sqlite3_close(st->db);
	sqlite3_close(st->writer.db);
	sqlite3_close(st->reader.db);
	filter_free(st->filter);
	if (st->threads)
		store_imap_configure(st, NULL);
	if (st->dirfd != -1)
		close(st->dirfd);
	free(st->data_dir);
	free(st);
}

/* Find the account's cached seen set, or NULL. */
struct uidset *
store_seen_cached(struct store *st, const char *account)
{
	size_t	 i;

	for (i = 0; i < st->nseen; i++)
		if (strcmp(st->seen[i].account, account) == 0)
			return st->seen[i].set;
	return NULL;
}

/*
 * Return the UIDLs of account already stored (borrowed: the store owns and
 * updates the set).
 */
const struct uidset *
store_seen(struct store *st, const char *account, char **cause)
{
	struct uidset	*u;
	int		 rc;

	if ((u = store_seen_cached(st, account)) != NULL)
		return u;
	u = uidset_new();
	sqlite3_bind_text(st->sel_seen, 1, account, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st->sel_seen)) == SQLITE_ROW)
		uidset_add(u, (const char *)sqlite3_column_text(st->sel_seen,
		    0));
	sqlite3_reset(st->sel_seen);
	if (rc != SQLITE_DONE) {
		store_dberr(st->db, "read of seen messages", cause);
		uidset_free(u);
		return NULL;
	}
	st->seen = xreallocarray(st->seen, st->nseen + 1, sizeof *st->seen);
	st->seen[st->nseen].account = xstrdup(account);
	st->seen[st->nseen++].set = u;
	return u;
}

/* Create one directory under dirfd unless it exists. */
static int
store_mkdirat(int dirfd, const char *path, char **cause)
{
	if (mkdirat(dirfd, path, 0700) == 0 || errno == EEXIST)
		return 0;
	xasprintf(cause, "cannot create %s: %s", path, strerror(errno));
	return -1;
}

/* Make the Maildir ACCOUNT/FOLDER/{tmp,new,cur} unless it exists. */
int
store_mkfolder(struct store *st, const char *account, const char *folder,
    char **cause)
{
	char	 path[512];
	char	*sub[] = { "tmp", "new", "cur" };
	size_t	 i;

	if (store_mkdirat(st->dirfd, account, cause) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", account, folder);
	if (store_mkdirat(st->dirfd, path, cause) != 0)
		return -1;
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s/%s", account, folder,
		    sub[i]);
		if (store_mkdirat(st->dirfd, path, cause) != 0)
			return -1;
	}
	return 0;
}

/* Return a reference to the rules in force (NULL: none yet). */
struct filter *
store_filter(struct store *st)
{
	struct filter	*f;

	pthread_mutex_lock(&st->lock);
	f = st->filter != NULL ? filter_ref(st->filter) : NULL;
	pthread_mutex_unlock(&st->lock);
	return f;
}

/* Count an account's stored messages and bytes. */
int
store_count(struct store *st, const char *account, int64_t *n,
    int64_t *bytes)
{
	sqlite3_stmt	*s;
	int		 rc = -1;

	*n = *bytes = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT count(*), coalesce(sum(size),"
	    " 0) FROM messages WHERE account = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*n = sqlite3_column_int64(s, 0);
		*bytes = sqlite3_column_int64(s, 1);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Making the default folders of the configured accounts, on the writer. */
struct store_mkjob {
	struct store_job	 job;		/* first */
	char			**accounts;
	size_t			 n;
};

/* On the writer: make every account's default folders. */
static void
store_mkjob_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct store_mkjob	*mk = (struct store_mkjob *)job;
	char			*cause = NULL;
	size_t			 i, j;

	for (i = 0; i < mk->n; i++) {
		for (j = 0; store_default_folders[j] != NULL; j++) {
			if (store_mkfolder(st, mk->accounts[i],
			    store_default_folders[j], &cause) != 0) {
				log_warnx("account=%s %s", mk->accounts[i],
				    cause);
				free(cause);
				cause = NULL;
				break;
			}
		}
	}
}

/* On the loop: free the job. */
static void
store_mkjob_done(struct store *st, struct store_job *job)
{
	struct store_mkjob	*mk = (struct store_mkjob *)job;
	size_t			 i;

	for (i = 0; i < mk->n; i++)
		free(mk->accounts[i]);
	free(mk->accounts);
	free(mk);
}

/*
 * Take a configuration (at start and on every reload): its filing rules
 * and the accounts that sync \Seen with IMAP from now on, and every
 * account's default folders made. At start (now
 * set) the folders are made before returning, so the first listing shows
 * them; on a reload the writer makes them.
 */
void
store_configure(struct store *st, const struct config *cf, int now)
{
	struct store_mkjob	*mk;
	struct filter		*old;
	size_t			 i;

	pthread_mutex_lock(&st->lock);
	old = st->filter;
	st->filter = filter_new(cf->filters, cf->nfilters);
	pthread_mutex_unlock(&st->lock);
	filter_free(old);
	store_imap_configure(st, cf);

	mk = xcalloc(1, sizeof *mk);
	mk->job.run = store_mkjob_run;
	mk->job.done = store_mkjob_done;
	mk->accounts = xcalloc(cf->naccounts + 1, sizeof *mk->accounts);
	for (i = 0; i < cf->naccounts; i++)
		mk->accounts[mk->n++] = xstrdup(cf->accounts[i].name);
	if (now) {
		store_mkjob_run(st, NULL, &mk->job);
		store_mkjob_done(st, &mk->job);
	} else
		store_submit(st, &st->writer, &mk->job);
}
