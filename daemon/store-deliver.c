/*
 * Delivery into the Maildirs: a message is streamed into its account's
 * Inbox tmp/ (store_msg_*) through a pool of empty files the maker thread
 * makes ahead; a batch of them is read by the digester (header fields,
 * the folder the rules choose) and committed by the writer; after a crash
 * store_recover repairs what a commit left half done.
 *
 * Crash safety of a delivery batch, step by step:
 *
 *   1. each message is streamed into ACCOUNT/FOLDER/tmp/NAME (O_EXCL);
 *   2. the batch is flushed to disk: the files' data and tmp/'s entries;
 *   3. one transaction records every message (folder, final name: the
 *      tmp name, ",S=" and its size) and its UIDL as seen; SQLite (WAL,
 *      synchronous=FULL) makes the commit durable;
 *   4. each file is renamed from tmp/ into new/, and new/ is flushed:
 *      at once when no other batch waits for the writer; else by the
 *      next batch's flush of step 2 (which flushes the whole file
 *      system), and the batch is reported only after that flush.
 *
 * A crash before 3 leaves files in tmp/ that the index does not know:
 * store_recover deletes them and the next poll downloads those messages
 * again (not seen). A crash after 3 leaves recorded files in tmp/:
 * store_recover finishes their rename. So a message is never lost, never
 * stored twice, and never visible in new/ or cur/ half written. The caller
 * deletes messages on the server only after its batch is reported, so the
 * server copy outlives step 4. (Deferring new/'s flush when batches queue
 * up takes up to 6 flushes of directories out of a commit, one per folder
 * the rules filed into, into a flush that runs anyway: 0.07-0.12 s of the
 * writer's time in a 5,000-message sync, though the sync as a whole got
 * no faster that a run could tell.)
 *
 * Flushing: a batch is flushed with one syncfs() rather than one fsync()
 * per file, so the sync cost is paid once per batch. Once on disk, the
 * pages of the batch's files of STORE_EARLY_WRITE bytes and more leave the
 * page cache (POSIX_FADV_DONTNEED): a big poll does not push the user's
 * working set out, and the next batches are written into the pages just
 * freed rather than fresh ones (on a VM, the main loop then used a fifth
 * less CPU for a 200 MB poll). The same big files are written out as
 * soon as the digester has them (sync_file_range), so the flush mostly
 * waits for writes already done.
 *
 * Steps 2 to 4 wait for the disk, so they run on one worker thread, the
 * writer of store-thread.c (as Redis moves fsync off its loop in bio.c):
 * the loop hands over a batch and goes on receiving the next one; an
 * eventfd brings the result back. The worker has its own SQLite connection
 * for its writes; the loop's connection only reads (WAL lets both go on at
 * once). One thread keeps commits in order. At close the worker finishes
 * every queued batch.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "filter.h"
#include "store.h"
#include "uidset.h"
#include "store-int.h"

#define STORE_BUF	(64 * 1024)
#define STORE_EARLY_WRITE (64 * 1024)	/* written out before the flush */

/*
 * An open Maildir folder: its tmp/ and new/ directories, and a pool of
 * empty files in tmp/ made ahead by the maker threads (creating a file is
 * by far the slowest step of a delivery on some filesystems; making them
 * ahead keeps that off the loop and runs it in parallel).
 */
struct store_folder {
	char		*account;
	char		*folder;
	int		 tmpfd;
	int		 newfd;
	int		 pool_fd[STORE_POOL];	/* under store lock */
	char		*pool_name[STORE_POOL];
	size_t		 npool;
	size_t		 making;		/* being made now */
	size_t		 expect;		/* deliveries still to come */
};

/* The new/ directories a batch renames into. */
#define STORE_NEWDIRS	32
struct store_newdir {
	const char	*folder;	/* borrowed */
	int		 fd;
};

/* A delivery batch handed to the writer. */
struct store_batch {
	struct store_job	 job;		/* first */
	struct store_msg	**msgs;
	size_t			 n;
	int			 rc;
	char			*cause;
	store_commit_cb		 cb;
	void			*arg;
	char			*account;	/* for the seen cache */
	char			**uidls;	/* the batch's, or NULL each */
	struct store_new	*news;		/* filled by the writer */
	double			 seconds[3];	/* sync, index, rename */
	size_t			 committed;	/* messages in the commit */
	int			 deferred;	/* new/ flushed by the next */
	struct store_batch	*merged;	/* committed with this one */
};

/* The most messages one group commit takes (a bound on its work). */
#define STORE_MERGE_MAX	1024

struct store_msg {
	struct store	*st;		/* borrowed */
	char		*account;
	char		*folder;	/* where tmp/ is */
	char		*dest;		/* the folder it is filed into */
	char		*uidl;
	char		 name[256];	/* in tmp/ */
	char		 final[300];	/* in new/ */
	int		 tmpfd;		/* the folder's tmp/; borrowed */
	int		 newfd;		/* its new/; borrowed */
	int		 fd;
	char		*buf;
	size_t		 buflen;
	uint64_t	 size;
	int		 werrno;	/* first write error */
	struct store_info info;		/* from the digester */
};

/*
 * Who takes a turn at the tmp/ directories (struct store's tmpdirs), and
 * how many files one may create or rename before it lets the other in: a
 * turn handed over costs both a wake-up, so not one a file.
 */
#define STORE_TMP_WRITER	1
#define STORE_TMP_MAKER		2
#define STORE_TMP_SLICE		16

/* Wait for a turn at the tmp/ directories. */
static void
store_tmp_enter(struct store *st, int who)
{
	pthread_mutex_lock(&st->tmpdirs);
	/* Atomic as store_tmp_wanted reads it without the lock. */
	__atomic_add_fetch(&st->tmp_waiting[who], 1, __ATOMIC_RELAXED);
	while (st->tmp_owner != 0 || (st->tmp_for != 0 && st->tmp_for != who))
		pthread_cond_wait(&st->tmp_turn, &st->tmpdirs);
	__atomic_sub_fetch(&st->tmp_waiting[who], 1, __ATOMIC_RELAXED);
	st->tmp_owner = who;
	st->tmp_for = 0;
	pthread_mutex_unlock(&st->tmpdirs);
}

/* Is the other side waiting for a turn? (A hint, read without lock.) */
static int
store_tmp_wanted(struct store *st, int who)
{
	return __atomic_load_n(&st->tmp_waiting[who], __ATOMIC_RELAXED) > 0;
}

/* End a turn; the other side has the next one if it is waiting. */
static void
store_tmp_leave(struct store *st, int who)
{
	int	 other = who == STORE_TMP_WRITER ? STORE_TMP_MAKER :
		    STORE_TMP_WRITER;

	pthread_mutex_lock(&st->tmpdirs);
	st->tmp_owner = 0;
	if (st->tmp_waiting[other] > 0)
		st->tmp_for = other;
	if (st->tmp_waiting[STORE_TMP_WRITER] > 0 ||
	    st->tmp_waiting[STORE_TMP_MAKER] > 0)
		pthread_cond_broadcast(&st->tmp_turn);
	pthread_mutex_unlock(&st->tmpdirs);
}

/* Remove the unused files of a folder's pool (store lock held). */
static void
store_pool_empty(struct store_folder *f)
{
	while (f->npool > 0) {
		f->npool--;
		close(f->pool_fd[f->npool]);
		unlinkat(f->tmpfd, f->pool_name[f->npool], 0);
		free(f->pool_name[f->npool]);
	}
}

/* Close a cached folder, removing the unused files of its pool. */
void
store_folder_close(struct store_folder *f)
{
	store_pool_empty(f);
	close(f->tmpfd);
	close(f->newfd);
	free(f->account);
	free(f->folder);
	free(f);
}

/* Make ACCOUNT/FOLDER/{tmp,new,cur} and open tmp/ and new/. */
static int
store_maildir(struct store *st, const char *account, const char *folder,
    int *tmpfd, int *newfd, char **cause)
{
	char	 path[512];

	if (store_mkfolder(st, account, folder, cause) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s/tmp", account, folder);
	if ((*tmpfd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		xasprintf(cause, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s/new", account, folder);
	if ((*newfd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		xasprintf(cause, "cannot open %s: %s", path, strerror(errno));
		close(*tmpfd);
		return -1;
	}
	return 0;
}

/*
 * Create an empty, unique Maildir file in the tmp/ directory tmpfd and put
 * its name in name. Safe on any thread. Return the descriptor or -1.
 */
int
store_make_file(struct store *st, int tmpfd, char *name, size_t size)
{
	struct timeval	 tv;
	unsigned long	 q;

	gettimeofday(&tv, NULL);
	q = __atomic_add_fetch(&st->counter, 1, __ATOMIC_RELAXED);
	snprintf(name, size, "%lld.M%06ldP%dQ%lu.%s", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (int)getpid(), q, st->host);
	return openat(tmpfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600);
}

/*
 * How many files a folder's pool should hold: as many as deliveries are
 * still expected, at most STORE_POOL. No more is made than will be used,
 * so none is left to remove after a poll (removing files is costly too: on
 * some filesystems every later creation steps over recently freed inodes
 * one by one).
 */
static size_t
store_pool_target(const struct store_folder *f)
{
	return f->expect < STORE_POOL ? f->expect : STORE_POOL;
}

/* A maker thread: keep the pools of folders expecting mail filled. */
void *
store_maker(void *arg)
{
	struct store		*st = arg;
	struct store_folder	*f;
	char			 name[256];
	size_t			 i, made = 0;
	int			 fd, turn = 0;

	pthread_mutex_lock(&st->lock);
	while (!st->stopping) {
		f = NULL;
		for (i = 0; i < st->nfolders; i++) {
			if (st->folders[i]->npool + st->folders[i]->making <
			    store_pool_target(st->folders[i])) {
				f = st->folders[i];
				break;
			}
		}
		if (f == NULL) {
			/* The pools are full: the writer may rename. */
			if (turn)
				store_tmp_leave(st, STORE_TMP_MAKER);
			turn = 0;
			pthread_cond_wait(&st->make_wake, &st->lock);
			continue;
		}
		f->making++;
		pthread_mutex_unlock(&st->lock);
		if (turn && ++made >= STORE_TMP_SLICE &&
		    store_tmp_wanted(st, STORE_TMP_WRITER)) {
			store_tmp_leave(st, STORE_TMP_MAKER);
			turn = 0;
		}
		if (!turn) {
			store_tmp_enter(st, STORE_TMP_MAKER);
			turn = 1;
			made = 0;
		}
		fd = store_make_file(st, f->tmpfd, name, sizeof name);
		pthread_mutex_lock(&st->lock);
		f->making--;
		if (fd == -1) {
			/* The loop creates its own and reports the error. */
			f->expect = 0;
			continue;
		}
		if (f->npool >= f->expect) {
			/* Released (or overtaken) while being made. */
			close(fd);
			unlinkat(f->tmpfd, name, 0);
			continue;
		}
		f->pool_fd[f->npool] = fd;
		f->pool_name[f->npool] = xstrdup(name);
		f->npool++;
	}
	if (turn)
		store_tmp_leave(st, STORE_TMP_MAKER);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/*
 * Return the open tmp/ and new/ of a folder, creating the Maildir on first
 * use. The descriptors stay open until store_close (two per folder).
 */
static struct store_folder *
store_folder(struct store *st, const char *account, const char *folder,
    char **cause)
{
	struct store_folder	*f;
	size_t			 i;
	int			 tmpfd, newfd;

	for (i = 0; i < st->nfolders; i++) {
		f = st->folders[i];
		if (strcmp(f->account, account) == 0 &&
		    strcmp(f->folder, folder) == 0)
			return f;
	}
	if (store_maildir(st, account, folder, &tmpfd, &newfd, cause) != 0)
		return NULL;
	f = xcalloc(1, sizeof *f);
	pthread_mutex_lock(&st->lock);
	st->folders = xreallocarray(st->folders, st->nfolders + 1,
	    sizeof *st->folders);
	st->folders[st->nfolders++] = f;
	pthread_mutex_unlock(&st->lock);
	f->account = xstrdup(account);
	f->folder = xstrdup(folder);
	f->tmpfd = tmpfd;
	f->newfd = newfd;
	return f;
}

/*
 * A poll of the account is about to deliver n messages: have the makers
 * create their files ahead (a creation is by far the slowest step of a
 * delivery on some filesystems; made ahead it stays off the loop and runs
 * beside it). Return -1 when the Inbox cannot be opened.
 */
int
store_expect(struct store *st, const char *account, size_t n, char **cause)
{
	struct store_folder	*f;

	if ((f = store_folder(st, account, FILTER_INBOX, cause)) == NULL)
		return -1;
	pthread_mutex_lock(&st->lock);
	f->expect = n;
	pthread_cond_broadcast(&st->make_wake);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

/* Start a message in the account's Inbox tmp/. */
struct store_msg *
store_msg_new(struct store *st, const char *account, const char *uidl,
    char **cause)
{
	struct store_msg	*m;
	struct store_folder	*f;
	size_t			 have, target;

	if ((f = store_folder(st, account, FILTER_INBOX, cause)) == NULL)
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->st = st;
	m->fd = -1;
	m->tmpfd = f->tmpfd;
	m->newfd = f->newfd;
	m->account = xstrdup(account);
	m->folder = xstrdup(FILTER_INBOX);
	m->uidl = uidl ? xstrdup(uidl) : NULL;
	pthread_mutex_lock(&st->lock);
	if (f->expect > 0)
		f->expect--;
	/*
	 * An empty pool: the loop makes its own file rather than wait for a
	 * maker's. The maker may be waiting for its turn, or for a CPU: in a
	 * 5,000-message sync the loop waited 10 to 23 times, 25 to 44 ms in
	 * all, while the server waited for the loop.
	 */
	if (f->npool > 0) {
		f->npool--;
		m->fd = f->pool_fd[f->npool];
		snprintf(m->name, sizeof m->name, "%s", f->pool_name[f->npool]);
		free(f->pool_name[f->npool]);
	}
	/* Wake a maker when half the pool is gone: it fills it up again in
	 * one go (not one wake-up, one file, one sleep per message). */
	have = f->npool + f->making;
	target = store_pool_target(f);
	if (have < target && have <= target / 2)
		pthread_cond_signal(&st->make_wake);
	pthread_mutex_unlock(&st->lock);
	if (m->fd == -1)
		m->fd = store_make_file(st, m->tmpfd, m->name, sizeof m->name);
	if (m->fd == -1) {
		xasprintf(cause, "cannot create %s/%s/tmp/%s: %s", account,
		    m->folder, m->name, strerror(errno));
		store_msg_abort(m);
		return NULL;
	}
	m->buf = xmalloc(STORE_BUF);
	return m;
}

/* Write out the buffered bytes; remember the first error. */
static int
store_msg_flush(struct store_msg *m)
{
	const char	*p = m->buf;
	size_t		 n = m->buflen;
	ssize_t		 w;

	while (n > 0 && m->werrno == 0) {
		w = write(m->fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			m->werrno = errno;
		else {
			p += w;
			n -= w;
		}
	}
	m->buflen = 0;
	return m->werrno ? -1 : 0;
}

/*
 * Where the message's next bytes go: *room bytes (at least one) in its
 * buffer; store_msg_fill then counts in those written. The file grows by
 * whole buffers of STORE_BUF bytes (only its end may be shorter): no write
 * starts or ends inside a page, which would make the kernel clear the rest
 * of that page (or of the larger folio) before copying in. NULL after a
 * write error.
 */
char *
store_msg_room(struct store_msg *m, size_t *room)
{
	if (m->werrno != 0)
		return NULL;
	*room = STORE_BUF - m->buflen;
	return m->buf + m->buflen;
}

/* Count in n bytes written at store_msg_room; a full buffer goes out. */
int
store_msg_fill(struct store_msg *m, size_t n)
{
	m->buflen += n;
	m->size += n;
	if (m->buflen == STORE_BUF)
		return store_msg_flush(m);
	return m->werrno ? -1 : 0;
}

/* Finish writing (no sync yet): the message is complete in tmp/. */
int
store_msg_close(struct store_msg *m, char **cause)
{
	if (store_msg_flush(m) != 0) {
		xasprintf(cause, "cannot write %s/%s/tmp/%s: %s", m->account,
		    m->folder, m->name, strerror(m->werrno));
		return -1;
	}
	snprintf(m->final, sizeof m->final, "%s,S=%llu", m->name,
	    (unsigned long long)m->size);
	/* A batch holds many closed messages: keep no buffer for them. */
	free(m->buf);
	m->buf = NULL;
	return 0;
}

/*
 * The account's delivery is over for now: stop making files ahead for it
 * and remove the ones made, so tmp/ stays empty between polls.
 */
void
store_release(struct store *st, const char *account)
{
	struct store_folder	*f;
	size_t			 i;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->nfolders; i++) {
		f = st->folders[i];
		if (strcmp(f->account, account) != 0)
			continue;
		f->expect = 0;
		store_pool_empty(f);
	}
	pthread_mutex_unlock(&st->lock);
}

/* Set the UIDL recorded with the message (known only at its end). */
void
store_msg_set_uidl(struct store_msg *m, const char *uidl)
{
	free(m->uidl);
	m->uidl = xstrdup(uidl);
}

/*
 * File the message into this folder of its account instead of where the
 * rules say (an IMAP server folder other than INBOX has a local twin).
 */
void
store_msg_set_folder(struct store_msg *m, const char *folder)
{
	free(m->dest);
	m->dest = xstrdup(folder);
}

/* Return the bytes written so far. */
uint64_t
store_msg_size(const struct store_msg *m)
{
	return m->size;
}

/* Free a message; its tmp/ file is removed unless it was committed. */
static void
store_msg_free(struct store_msg *m, int unlink_tmp)
{
	if (m->fd != -1)
		close(m->fd);
	if (unlink_tmp && m->name[0] != '\0')
		unlinkat(m->tmpfd, m->name, 0);
	free(m->buf);
	free(m->account);
	free(m->folder);
	free(m->dest);
	free(m->uidl);
	store_info_free(&m->info);
	free(m);
}

/* Give up a message: remove its tmp/ file (NULL is fine). */
void
store_msg_abort(struct store_msg *m)
{
	if (m != NULL)
		store_msg_free(m, 1);
}

/* Record a batch in one transaction (step 3). */
static int
store_record(struct store *st, sqlite3 *db, struct store_msg **msgs,
    size_t n, struct store_new *news, char **cause)
{
	struct store_msg	*m;
	struct store_info	*info;
	sqlite3_int64		 now = time(NULL), id;
	size_t			 i;
	int			 rc;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	/* The ids AUTOINCREMENT would give (only the writer inserts while
	 * this transaction runs): threading needs its row's id first. */
	rc = sqlite3_step(st->sel_last);
	id = sqlite3_column_int64(st->sel_last, 0);
	sqlite3_reset(st->sel_last);
	if (rc != SQLITE_ROW)
		goto fail;
	for (i = 0; i < n; i++) {
		m = msgs[i];
		info = &m->info;
		sqlite3_bind_text(st->ins_msg, 1, m->account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st->ins_msg, 2, m->dest, -1, SQLITE_STATIC);
		sqlite3_bind_text(st->ins_msg, 3, m->final, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st->ins_msg, 4, (sqlite3_int64)m->size);
		sqlite3_bind_text(st->ins_msg, 5, m->uidl, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st->ins_msg, 6, now);
		store_bind_info(st->ins_msg, 7, info);
		news[i].id = ++id;
		if (store_conversation_insert(st, db, st->ins_msg, 14, id,
		    info) != 0)
			goto fail;
		news[i].folder = xstrdup(m->dest);
		news[i].notify = info->notify;
		news[i].from = info->from;
		news[i].subject = info->subject;
		info->from = info->subject = NULL;
		store_info_free(info);
		if (m->uidl == NULL)
			continue;
		sqlite3_bind_text(st->ins_seen, 1, m->account, -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(st->ins_seen, 2, m->uidl, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st->ins_seen, 3, now);
		if (sqlite3_step(st->ins_seen) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(st->ins_seen);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
fail:
	store_dberr(db, "write", cause);
	sqlite3_reset(st->ins_msg);
	sqlite3_reset(st->ins_seen);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Open ACCOUNT/FOLDER/new (making the Maildir on first use), keeping up to
 * a few open for a batch in dirs[]. Return the descriptor or -1.
 */
static int
store_newdir(struct store *st, const char *account, const char *folder,
    struct store_newdir *dirs, size_t *ndirs, char **cause)
{
	char	 path[512];
	size_t	 i;
	int	 fd;

	for (i = 0; i < *ndirs; i++)
		if (strcmp(dirs[i].folder, folder) == 0)
			return dirs[i].fd;
	if (*ndirs == STORE_NEWDIRS) {
		xasprintf(cause, "too many folders in one batch");
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s/new", account, folder);
	fd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && store_mkfolder(st, account, folder,
	    cause) == 0)
		fd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	if (fd == -1) {
		if (*cause == NULL)
			xasprintf(cause, "cannot open %s: %s", path,
			    strerror(errno));
		return -1;
	}
	dirs[*ndirs].folder = folder;
	dirs[(*ndirs)++].fd = fd;
	return fd;
}

static void	store_batch_run(struct store *, sqlite3 *, struct store_job *);

/*
 * Is a delivery batch queued for the writer, next, whose flush will cover
 * m's directories (on the same file system)?
 */
static int
store_batch_waiting(struct store *st, const struct store_msg *m)
{
	struct store_job	*j;
	struct stat		 a, b;
	int			 fd = -1;

	pthread_mutex_lock(&st->lock);
	j = TAILQ_FIRST(&st->writer.todo);
	if (j != NULL && j->run == store_batch_run)
		fd = ((struct store_batch *)j)->msgs[0]->tmpfd;
	pthread_mutex_unlock(&st->lock);
	return fd != -1 && fstat(fd, &a) == 0 && fstat(m->tmpfd, &b) == 0 &&
	    a.st_dev == b.st_dev;
}

/*
 * On the writer, after a flush of the file system: report the batches
 * held for it (their new/ is on disk now); with why, the flush failed and
 * so do they.
 */
static void
store_batch_release(struct store *st, const char *why)
{
	struct store_job	*j;
	struct store_batch	*b;

	if (why != NULL)
		TAILQ_FOREACH(j, &st->writer.held, entry)
			for (b = (struct store_batch *)j; b != NULL;
			    b = b->merged) {
				b->rc = -1;
				free(b->cause);
				b->cause = xstrdup(why);
			}
	store_thread_release(st, &st->writer);
}

/*
 * Make a batch of closed messages durable and visible (steps 2 to 4), on
 * the writer thread. On failure before the index records them, their files
 * are removed and nothing is recorded. The messages are freed in every case.
 */
static int
store_commit_batch(struct store *st, sqlite3 *db, struct store_msg **msgs,
    size_t n, struct store_new *news, char **cause, double *seconds,
    int *defer)
{
	struct store_newdir	 dirs[STORE_NEWDIRS];
	struct timespec		 t0, t1, t2, t3;
	size_t			 i, ndirs = 0;
	int			 rc = 0, recorded = 0, fd, turn, held;

	*defer = 0;
	if (n == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Step 2: one flush for the whole batch, and for the new/ of the
	 * batches held for it (store_batch_release). */
	held = !TAILQ_EMPTY(&st->writer.held);
	if ((n == 1 && !held ? fsync(msgs[0]->fd) != 0 ||
	    fsync(msgs[0]->tmpfd) != 0 : syncfs(msgs[0]->fd) != 0)) {
		xasprintf(cause, "cannot flush new messages to disk: %s",
		    strerror(errno));
		rc = -1;
	}
	if (held)
		store_batch_release(st, rc == 0 ? NULL : *cause);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Step 3. */
	if (rc == 0 && store_record(st, db, msgs, n, news, cause) != 0)
		rc = -1;
	recorded = rc == 0;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	/* Step 4, into the folder the rules chose. */
	if ((turn = rc == 0))
		store_tmp_enter(st, STORE_TMP_WRITER);
	for (i = 0; rc == 0 && i < n; i++) {
		if (i > 0 && i % STORE_TMP_SLICE == 0 &&
		    store_tmp_wanted(st, STORE_TMP_MAKER)) {
			store_tmp_leave(st, STORE_TMP_WRITER);
			store_tmp_enter(st, STORE_TMP_WRITER);
		}
		if (strcmp(msgs[i]->dest, msgs[i]->folder) == 0)
			fd = msgs[i]->newfd;
		else if ((fd = store_newdir(st, msgs[i]->account,
		    msgs[i]->dest, dirs, &ndirs, cause)) == -1) {
			rc = -1;
			break;
		}
		if (renameat(msgs[i]->tmpfd, msgs[i]->name, fd,
		    msgs[i]->final) != 0) {
			xasprintf(cause, "cannot move %s/%s/tmp/%s into %s/new/ "
			    "(left for recovery): %s", msgs[i]->account,
			    msgs[i]->folder, msgs[i]->name, msgs[i]->dest,
			    strerror(errno));
			rc = -1;
		}
	}
	if (turn)
		store_tmp_leave(st, STORE_TMP_WRITER);
	*defer = rc == 0 && store_batch_waiting(st, msgs[0]);
	for (i = 0; i < ndirs; i++) {
		if (rc == 0 && !*defer && fsync(dirs[i].fd) != 0) {
			xasprintf(cause, "cannot flush %s/new: %s",
			    dirs[i].folder, strerror(errno));
			rc = -1;
		}
		close(dirs[i].fd);
	}
	/* Each delivery folder's new/ and tmp/ (a group commit may hold
	 * batches of several accounts, each in one run). */
	for (i = 0; rc == 0 && !*defer && i < n; i++) {
		if (i > 0 && msgs[i]->newfd == msgs[i - 1]->newfd)
			continue;
		if (fsync(msgs[i]->newfd) != 0 || fsync(msgs[i]->tmpfd) != 0) {
			xasprintf(cause, "cannot flush the Maildir: %s",
			    strerror(errno));
			rc = -1;
		}
	}
	for (i = 0; i < n; i++) {
		/* Clean now: dropping the pages writes nothing. The small
		 * files' few pages are not worth a call each. */
		if (rc == 0 && msgs[i]->fd != -1 &&
		    msgs[i]->size >= STORE_EARLY_WRITE)
			(void)posix_fadvise(msgs[i]->fd, 0, 0,
			    POSIX_FADV_DONTNEED);
		store_msg_free(msgs[i], !recorded);
	}
	clock_gettime(CLOCK_MONOTONIC, &t3);
	seconds[0] = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	seconds[1] = (t2.tv_sec - t1.tv_sec) + (t2.tv_nsec - t1.tv_nsec) / 1e9;
	seconds[2] = (t3.tv_sec - t2.tv_sec) + (t3.tv_nsec - t2.tv_nsec) / 1e9;
	return rc;
}

/*
 * On the digester: read what the index keeps of each message of a batch
 * and the folder the rules choose, then pass the batch on to the writer.
 */
static void
store_batch_digest(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct store_batch	*b = (struct store_batch *)job;
	struct filter		*f = store_filter(st);
	struct store_rbuf	 rb = { NULL };
	struct store_msg	*m;
	size_t			 i;

	(void)db;
	/*
	 * Start writing the batch's big files out now: the disk works while
	 * this thread reads them and while the writer finishes the batch
	 * before, and its flush then mostly waits for writes already done.
	 * (A hint only: the flush is what makes them durable.) Each call
	 * sends its file's writes to the disk on its own, and on a VM each
	 * sending costs an exit to the host: the small files (in a 200 MiB
	 * poll, a seventh of the bytes in eight times as many files) are
	 * left to the flush, which sends many files' writes at once.
	 */
	for (i = 0; i < b->n; i++)
		if (b->msgs[i]->size >= STORE_EARLY_WRITE)
			sync_file_range(b->msgs[i]->fd, 0, 0,
			    SYNC_FILE_RANGE_WRITE);
	for (i = 0; i < b->n; i++) {
		m = b->msgs[i];
		/* On failure the headers are unknown: Inbox. */
		store_digest(m->fd, m->size, f, &m->info, 0, &rb);
		if (m->dest == NULL)
			m->dest = xstrdup(m->info.folder);
		m->info.folder = NULL;		/* the filter's, freed below */
	}
	store_rbuf_free(&rb);
	filter_free(f);
	job->run = store_batch_run;
	job->next = &st->writer;
}

/*
 * On the writer: commit a delivery batch, together with the delivery
 * batches queued right behind it (a group commit: when the disk is the
 * bottleneck, batches queue up and one flush serves them all).
 */
static void
store_batch_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct store_batch	*b = (struct store_batch *)job, *x, *last = b;
	struct store_job	*j;
	struct store_msg	**msgs;
	struct store_new	*news;
	char			*cause = NULL;
	size_t			 n = b->n, off;
	int			 rc;

	pthread_mutex_lock(&st->lock);
	while ((j = TAILQ_FIRST(&st->writer.todo)) != NULL &&
	    j->run == store_batch_run &&
	    n + ((struct store_batch *)j)->n <= STORE_MERGE_MAX) {
		TAILQ_REMOVE(&st->writer.todo, j, entry);
		last = last->merged = (struct store_batch *)j;
		n += last->n;
	}
	pthread_mutex_unlock(&st->lock);
	b->committed = n;
	if (b->merged == NULL) {
		b->rc = store_commit_batch(st, db, b->msgs, b->n, b->news,
		    &b->cause, b->seconds, &job->hold);
		b->deferred = job->hold;
		return;
	}
	msgs = xreallocarray(NULL, n, sizeof *msgs);
	news = xcalloc(n, sizeof *news);
	for (off = 0, x = b; x != NULL; off += x->n, x = x->merged)
		memcpy(msgs + off, x->msgs, x->n * sizeof *msgs);
	rc = store_commit_batch(st, db, msgs, n, news, &cause, b->seconds,
	    &job->hold);
	b->deferred = job->hold;
	for (off = 0, x = b; x != NULL; off += x->n, x = x->merged) {
		memcpy(x->news, news + off, x->n * sizeof *news);
		x->rc = rc;
		x->cause = cause != NULL ? xstrdup(cause) : NULL;
	}
	free(cause);
	free(news);
	free(msgs);
}

/* On the loop: a batch is committed (or not); tell its owner. */
static void
store_batch_report(struct store *st, struct store_batch *b)
{
	struct uidset		*u = store_seen_cached(st, b->account);
	size_t			 i;

	for (i = 0; i < b->n; i++) {
		if (b->rc == 0 && u != NULL && b->uidls[i] != NULL)
			uidset_add(u, b->uidls[i]);
		free(b->uidls[i]);
	}
	free(b->uidls);
	b->cb(b->rc, b->cause, b->news, b->rc == 0 ? b->n : 0, b->arg);
	for (i = 0; i < b->n; i++) {
		free(b->news[i].folder);
		free(b->news[i].from);
		free(b->news[i].subject);
	}
	free(b->news);
	free(b->cause);
	free(b->msgs);
	free(b->account);
	free(b);
}

/* On the loop: a group commit is over; report each of its batches. */
static void
store_batch_done(struct store *st, struct store_job *job)
{
	struct store_batch	*b = (struct store_batch *)job, *next;

	log_debug("store commit of %zu messages: sync %.3f s, index %.3f s, "
	    "rename %.3f s%s", b->committed, b->seconds[0], b->seconds[1],
	    b->seconds[2], b->deferred ? " (new/ flushed by the next)" : "");
	for (; b != NULL; b = next) {
		next = b->merged;
		store_batch_report(st, b);
	}
	/* Their text goes into the search index once deliveries pause. */
	store_search_delivered(st);
}

/*
 * Commit a batch of closed messages (the array is copied; the messages
 * belong to the store from now on). cb reports the outcome from the loop.
 */
void
store_commit(struct store *st, struct store_msg **msgs, size_t n,
    store_commit_cb cb, void *arg)
{
	struct store_batch	*b;
	size_t			 i;

	b = xcalloc(1, sizeof *b);
	b->job.run = store_batch_digest;
	b->job.done = store_batch_done;
	b->msgs = xreallocarray(NULL, n, sizeof *msgs);
	memcpy(b->msgs, msgs, n * sizeof *msgs);
	b->account = xstrdup(msgs[0]->account);
	b->uidls = xcalloc(n, sizeof *b->uidls);
	b->news = xcalloc(n, sizeof *b->news);
	for (i = 0; i < n; i++)
		if (msgs[i]->uidl != NULL)
			b->uidls[i] = xstrdup(msgs[i]->uidl);
	b->n = n;
	b->cb = cb;
	b->arg = arg;
	store_submit(st, &st->digester, &b->job);
}

/*
 * Keep the first failure of a recovery for the caller; log the later ones
 * (recovery goes on with the other files).
 */
static void __attribute__((format(printf, 3, 4)))
store_recover_fail(char **why, const char *account, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	if (*why == NULL)
		*why = s;
	else {
		log_warnx("account=%s %s", account, s);
		free(s);
	}
}

/*
 * Move a recorded file left in ACCOUNT/FROM/tmp (tmpfd) into the new/ of
 * the folder recorded for it, under its final name file.
 */
static void
store_recover_file(struct store *st, const char *account, int tmpfd,
    const char *from, const char *name, const char *folder, const char *file,
    char **why)
{
	char	 path[512], *mk = NULL;
	int	 newfd;

	log_info("account=%s recovering %s/tmp/%s into %s/new", account, from,
	    name, folder);
	if (store_mkfolder(st, account, folder, &mk) != 0) {
		store_recover_fail(why, account, "%s", mk);
		free(mk);
		return;
	}
	snprintf(path, sizeof path, "%s/%s/new", account, folder);
	if ((newfd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		store_recover_fail(why, account, "cannot open %s/%s: %s",
		    st->data_dir, path, strerror(errno));
		return;
	}
	if (renameat(tmpfd, name, newfd, file) != 0)
		store_recover_fail(why, account, "cannot move %s/%s/%s/tmp/%s "
		    "into %s/%s: %s", st->data_dir, account, from, name,
		    st->data_dir, path, strerror(errno));
	else if (fsync(newfd) != 0)
		store_recover_fail(why, account, "cannot flush %s/%s: %s",
		    st->data_dir, path, strerror(errno));
	close(newfd);
}

/*
 * Repair the account's Maildirs after a crash: a file in tmp/ that the
 * index records is moved into the new/ of the folder recorded for it (the
 * rules may have chosen another than the one whose tmp/ it is in); any
 * other file of ours in tmp/ was never recorded and is removed (its
 * message is fetched again). Runs once per account after start-up, before
 * this process puts anything in tmp/. A folder whose tmp/ cannot be read,
 * or a file that cannot be moved, fails the recovery with a cause (the
 * other files are still repaired).
 */
int
store_recover(struct store *st, const char *account, char **cause)
{
	DIR		*d, *t;
	struct dirent	*fe, *te;
	struct stat	 sb;
	char		 path[512], *why = NULL;
	int		 fd, tmpfd, rc;
	size_t		 i;

	/* Only a crash leaves work here: once per account and start-up. */
	for (i = 0; i < st->nrecovered; i++)
		if (strcmp(st->recovered[i], account) == 0)
			return 0;
	st->recovered = xreallocarray(st->recovered, st->nrecovered + 1,
	    sizeof *st->recovered);
	st->recovered[st->nrecovered++] = xstrdup(account);
	if ((fd = openat(st->dirfd, account, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		xasprintf(cause, "cannot recover messages of %s: cannot open "
		    "%s/%s: %s", account, st->data_dir, account,
		    strerror(errno));
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		xasprintf(cause, "cannot recover messages of %s: cannot read "
		    "%s/%s: %s", account, st->data_dir, account,
		    strerror(errno));
		close(fd);
		return -1;
	}
	while ((fe = readdir(d)) != NULL) {
		/* Folders only; one without tmp/ has nothing to repair. */
		if (fe->d_name[0] == '.' || fstatat(dirfd(d), fe->d_name, &sb,
		    0) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		snprintf(path, sizeof path, "%s/%s/tmp", account, fe->d_name);
		if ((tmpfd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1) {
			if (errno != ENOENT)
				store_recover_fail(&why, account, "cannot open "
				    "%s/%s: %s", st->data_dir, path,
				    strerror(errno));
			continue;
		}
		if ((t = fdopendir(dup(tmpfd))) == NULL) {
			store_recover_fail(&why, account, "cannot read %s/%s: "
			    "%s", st->data_dir, path, strerror(errno));
			close(tmpfd);
			continue;
		}
		while ((te = readdir(t)) != NULL) {
			if (te->d_name[0] == '.' || strstr(te->d_name, ".M") ==
			    NULL)
				continue;
			sqlite3_bind_text(st->sel_tmp, 1, account, -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(st->sel_tmp, 2, te->d_name, -1,
			    SQLITE_STATIC);
			if ((rc = sqlite3_step(st->sel_tmp)) == SQLITE_ROW)
				store_recover_file(st, account, tmpfd,
				    fe->d_name, te->d_name, (const char *)
				    sqlite3_column_text(st->sel_tmp, 0),
				    (const char *)sqlite3_column_text(
				    st->sel_tmp, 1), &why);
			else if (rc == SQLITE_DONE) {
				log_info("account=%s removing unfinished "
				    "%s/tmp/%s", account, fe->d_name,
				    te->d_name);
				unlinkat(tmpfd, te->d_name, 0);
			} else {
				/* Unknown: keep the file for the next try. */
				store_recover_fail(&why, account, "index read "
				    "of %s/tmp/%s: %s", fe->d_name, te->d_name,
				    sqlite3_errmsg(st->db));
			}
			sqlite3_reset(st->sel_tmp);
		}
		closedir(t);
		fsync(tmpfd);
		close(tmpfd);
	}
	closedir(d);
	if (why == NULL)
		return 0;
	xasprintf(cause, "cannot recover messages of %s: %s", account, why);
	free(why);
	return -1;
}
