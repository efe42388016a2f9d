/*
 * The store's side of keeping \Seen in step with an IMAP server (issue
 * #19, an account's imap.sync_seen): what the last sync of each server
 * folder learnt (table imap_folders), the read states changed here and not
 * yet pushed (imap_flag_queue), the read states the server reports applied
 * here, and the UIDs stored of a folder. The IMAP session drives it
 * (store.h); nothing here speaks IMAP.
 *
 * Never lost: mark (store-change.c) queues a change made here in the
 * transaction that records the new flag, so after a crash the flag and its
 * row are both there or both not. A row stays until the session says the
 * server took it (store_imap_pending_done, by id); a newer change of the
 * same message replaces the row under a new id (AUTOINCREMENT never reuses
 * one), so the acknowledgement of an older value never removes a newer.
 *
 * Who wins: a queued row means the user changed the message here after
 * the server last told us about it; store_imap_apply_seen leaves such a
 * message alone, and the push that follows makes the server agree.
 *
 * UIDVALIDITY: a UID means something only under its folder's UIDVALIDITY.
 * When store_imap_folder_put records a folder, the queued rows of that
 * folder under any other UIDVALIDITY are dropped in the same transaction,
 * with a log line: their UIDs name nothing on the server any more, and
 * store_imap_pending would never return them.
 *
 * Reads run on the loop's connection: the queue is small, and
 * store_imap_known is one range scan of the messages_uidl index (50,000
 * UIDs in a few milliseconds: tests/unit/test-store-imap.c prints it).
 * Writes are jobs on the writer thread, in order with every other change;
 * the server's read states are applied through mark's own code
 * (ops_change), a bounded number of messages per transaction.
 */
#include "autoconf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "store.h"
#include "store-int.h"
#include "uidset.h"

#define IMAP_KEY_MAX	1100	/* "imap:V:U:" and a folder name */
#define IMAP_CHUNK	128	/* messages apply_seen changes in one go */

/* A job of this file on the writer, and its answer on the loop. */
struct imap_job {
	struct store_job	 job;		/* first */
	char			*account;
	char			*folder;
	struct store_imap_folder state;		/* folder_put */
	long long		*ids;		/* pending_done */
	struct store_imap_seen	*changes;	/* apply_seen */
	struct store_imap_rekey	*rekeys;	/* rekey */
	uint32_t		 oldv, newv;
	size_t			 n;
	size_t			 changed;
	size_t			*changedp;	/* the caller's, or NULL */
	int			 rc;
	char			*cause;
	store_done_cb		 cb;
	void			*arg;
};

/* A message apply_seen changes. */
struct imap_todo {
	long long	 id;
	int		 seen;
};

/*
 * Split a seen key "imap:V:U:FOLDER" into its parts (*folder points into
 * key). Return -1 when key is no such key.
 */
static int
imap_key_parse(const char *key, uint32_t *v, uint32_t *uid,
    const char **folder)
{
	unsigned long long	 x[2];
	const char		*p = key + 5;
	char			*end;
	int			 i;

	if (strncmp(key, "imap:", 5) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		x[i] = strtoull(p, &end, 10);
		if (errno != 0 || x[i] > UINT32_MAX || *end != ':')
			return -1;
		p = end + 1;
	}
	*v = x[0];
	*uid = x[1];
	*folder = p;
	return 0;
}

/*
 * A scan, on the loop's connection, of the keys of one folder under one
 * UIDVALIDITY: a statement whose first column is the key and whose
 * parameters are the account and the range of keys "imap:V:" up to
 * "imap:V;" (';' follows ':'), which an index of (account, key) answers;
 * the other folders of that UIDVALIDITY are passed over here.
 */
struct imap_scan {
	sqlite3_stmt	*s;
	const char	*folder;	/* borrowed */
	const char	*what;		/* for an error */
	uint32_t	 v;
	uint32_t	 uid;		/* the current row's */
	char		 lo[32], hi[32];
};

/* Start a scan with sql; return -1 with cause when it cannot. */
static int
imap_scan_start(struct store *st, struct imap_scan *sc, const char *sql,
    const char *account, const char *folder, uint32_t v, const char *what,
    char **cause)
{
	memset(sc, 0, sizeof *sc);
	sc->folder = folder;
	sc->what = what;
	sc->v = v;
	if (sqlite3_prepare_v2(st->db, sql, -1, &sc->s, NULL) != SQLITE_OK) {
		store_dberr(st->db, what, cause);
		return -1;
	}
	snprintf(sc->lo, sizeof sc->lo, "imap:%u:", v);
	snprintf(sc->hi, sizeof sc->hi, "imap:%u;", v);
	sqlite3_bind_text(sc->s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(sc->s, 2, sc->lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(sc->s, 3, sc->hi, -1, SQLITE_STATIC);
	return 0;
}

/*
 * Step to the scan's next row of its folder: 1; or, the scan over, 0 at
 * its end and -1 with cause on an error.
 */
static int
imap_scan_next(struct store *st, struct imap_scan *sc, char **cause)
{
	const char	*folder;
	uint32_t	 v;
	int		 rc;

	while ((rc = sqlite3_step(sc->s)) == SQLITE_ROW)
		if (imap_key_parse((const char *)sqlite3_column_text(sc->s, 0),
		    &v, &sc->uid, &folder) == 0 && v == sc->v &&
		    strcmp(folder, sc->folder) == 0)
			return 1;
	if (rc != SQLITE_DONE)
		store_dberr(st->db, sc->what, cause);
	sqlite3_finalize(sc->s);
	sc->s = NULL;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The names of cf's accounts whose imap block says so (by offset). */
static char **
imap_accounts(const struct config *cf, size_t offset, size_t *n)
{
	char	**names = NULL;
	size_t	  i;

	*n = 0;
	for (i = 0; cf != NULL && i < cf->naccounts; i++) {
		if (cf->accounts[i].imap == NULL ||
		    !*(const int *)((const char *)cf->accounts[i].imap +
		    offset))
			continue;
		names = xreallocarray(names, *n + 1, sizeof *names);
		names[(*n)++] = xstrdup(cf->accounts[i].name);
	}
	return names;
}

static void
imap_names_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Keep the accounts whose imap block syncs \Seen, and those that delete
 * on the server (cf NULL: none).
 */
void
store_imap_configure(struct store *st, const struct config *cf)
{
	char	**seen, **del, **oseen, **odel;
	size_t	  nseen, ndel, noseen, nodel;

	seen = imap_accounts(cf, offsetof(struct config_server, sync_seen),
	    &nseen);
	del = imap_accounts(cf, offsetof(struct config_server,
	    delete_on_server), &ndel);
	pthread_mutex_lock(&st->lock);
	oseen = st->sync_seen;
	noseen = st->nsync_seen;
	odel = st->delete_there;
	nodel = st->ndelete_there;
	st->sync_seen = seen;
	st->nsync_seen = nseen;
	st->delete_there = del;
	st->ndelete_there = ndel;
	pthread_mutex_unlock(&st->lock);
	imap_names_free(oseen, noseen);
	imap_names_free(odel, nodel);
}

/* Is account in the list (sync_seen, or delete_on_server)? */
static int
store_imap_listed(struct store *st, const char *account, int deleting)
{
	size_t	 i, n;
	int	 yes = 0;

	pthread_mutex_lock(&st->lock);
	n = deleting ? st->ndelete_there : st->nsync_seen;
	for (i = 0; i < n && !yes; i++)
		yes = strcmp((deleting ? st->delete_there : st->sync_seen)[i],
		    account) == 0;
	pthread_mutex_unlock(&st->lock);
	return yes;
}

/*
 * On the writer, inside mark's transaction: queue the read state of the
 * message of row when its account syncs \Seen and its key is an IMAP one,
 * replacing the key's row (and id). A POP3 UIDL that looks like an IMAP
 * key is never queued: a POP3 account has no imap block.
 */
int
store_imap_queue(struct store *st, sqlite3 *db, struct ops_req *r,
    const struct ops_row *row, int seen)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (!store_imap_listed(st, row->account, seen == STORE_IMAP_DELETE))
		return 0;
	if ((s = ops_prepare(db, r, "INSERT OR REPLACE INTO imap_flag_queue "
	    "(account, key, seen, added) SELECT account, uidl, ?, ? FROM "
	    "messages WHERE id = ? AND substr(uidl, 1, 5) = 'imap:'")) == NULL)
		return -1;
	sqlite3_bind_int(s, 1, seen == STORE_IMAP_DELETE ? STORE_IMAP_DELETE :
	    seen != 0);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(s, 3, row->id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	if (rc != 0)
		ops_fail_db(r, db);
	else if (sqlite3_changes(db) > 0 && r->queued == NULL)
		r->queued = xstrdup(row->account);
	sqlite3_finalize(s);
	return rc;
}

/*
 * Be told (on the loop) when a change made here was queued for an
 * account's IMAP server, so its owner can sync soon.
 */
void
store_on_queued(struct store *st, void (*cb)(const char *account, void *),
    void *arg)
{
	st->queued_cb = cb;
	st->queued_arg = arg;
}

/* Read what the store knows of a server folder (on the loop). */
int
store_imap_folder_get(struct store *st, const char *account,
    const char *folder, struct store_imap_folder *out, char **cause)
{
	sqlite3_stmt	*s;
	int		 rc;

	memset(out, 0, sizeof *out);
	if (sqlite3_prepare_v2(st->db, "SELECT uidvalidity, uidnext, "
	    "highestmodseq, synced FROM imap_folders WHERE account = ? AND "
	    "folder = ?", -1, &s, NULL) != SQLITE_OK) {
		store_dberr(st->db, "read of IMAP folders", cause);
		return -1;
	}
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, folder, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		out->uidvalidity = (uint32_t)sqlite3_column_int64(s, 0);
		out->uidnext = (uint32_t)sqlite3_column_int64(s, 1);
		out->highestmodseq = (uint64_t)sqlite3_column_int64(s, 2);
		out->synced = sqlite3_column_int64(s, 3);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_dberr(st->db, "read of IMAP folders", cause);
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}

/* A job for the writer, answered through cb. */
static struct imap_job *
imap_job_new(void (*run)(struct store *, sqlite3 *, struct store_job *),
    const char *account, const char *folder, store_done_cb cb, void *arg)
{
	struct imap_job	*j;

	j = xcalloc(1, sizeof *j);
	j->job.run = run;
	j->account = account != NULL ? xstrdup(account) : NULL;
	j->folder = folder != NULL ? xstrdup(folder) : NULL;
	j->cb = cb;
	j->arg = arg;
	return j;
}

/* On the loop: answer and free the job. */
static void
imap_job_done(struct store *st, struct store_job *job)
{
	struct imap_job	*j = (struct imap_job *)job;

	struct uidset	*u;
	char		 key[IMAP_KEY_MAX];
	size_t		 i;

	/* Rekeyed: the new keys are seen from now on. */
	if (j->rekeys != NULL && j->rc == 0 &&
	    (u = store_seen_cached(st, j->account)) != NULL)
		for (i = 0; i < j->n; i++) {
			snprintf(key, sizeof key, "imap:%u:%u:%s", j->newv,
			    j->rekeys[i].new_uid, j->folder);
			uidset_add(u, key);
		}
	free(j->rekeys);
	if (j->changedp != NULL)
		*j->changedp = j->changed;
	if (j->cb != NULL)
		j->cb(j->rc, j->cause, j->arg);
	free(j->account);
	free(j->folder);
	free(j->ids);
	free(j->changes);
	free(j->cause);
	free(j);
}

/* Queue a job on the writer. */
static void
imap_job_submit(struct store *st, struct imap_job *j)
{
	j->job.done = imap_job_done;
	store_submit(st, &st->writer, &j->job);
}

/* Fail a job with the index's error (the first one counts). */
static void
imap_job_dberr(struct imap_job *j, sqlite3 *db, const char *what)
{
	if (j->rc != 0)
		return;
	store_dberr(db, what, &j->cause);
	j->rc = -1;
}

/*
 * On the writer, in folder_put's transaction: drop the queued rows of the
 * job's folder under any UIDVALIDITY but its new one. Return how many, or
 * -1.
 */
static long
imap_drop_stale(sqlite3 *db, struct imap_job *j)
{
	sqlite3_stmt	*s, *del;
	const char	*folder;
	long long	*ids = NULL;
	uint32_t	 v, uid;
	size_t		 n = 0, size = 0, i;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT id, key FROM imap_flag_queue WHERE "
	    "account = ?", -1, &s, NULL) != SQLITE_OK) {
		imap_job_dberr(j, db, "read of the \\Seen queue");
		return -1;
	}
	sqlite3_bind_text(s, 1, j->account, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (imap_key_parse((const char *)sqlite3_column_text(s, 1), &v,
		    &uid, &folder) != 0 || strcmp(folder, j->folder) != 0 ||
		    v == j->state.uidvalidity)
			continue;
		if (n == size) {
			size = size == 0 ? 64 : size * 2;
			ids = xreallocarray(ids, size, sizeof *ids);
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		imap_job_dberr(j, db, "read of the \\Seen queue");
		free(ids);
		return -1;
	}
	if (n > 0 && sqlite3_prepare_v2(db, "DELETE FROM imap_flag_queue WHERE "
	    "id = ?", -1, &del, NULL) != SQLITE_OK) {
		imap_job_dberr(j, db, "update of the \\Seen queue");
		free(ids);
		return -1;
	}
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(del, 1, ids[i]);
		if (sqlite3_step(del) != SQLITE_DONE) {
			imap_job_dberr(j, db, "update of the \\Seen queue");
			break;
		}
		sqlite3_reset(del);
	}
	if (n > 0)
		sqlite3_finalize(del);
	free(ids);
	return j->rc == 0 ? (long)n : -1;
}

/* On the writer: record a folder's state, dropping stale queued rows. */
static void
imap_folder_put_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct imap_job	*j = (struct imap_job *)job;
	sqlite3_stmt	*s;
	long		 dropped = 0;

	(void)st;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		imap_job_dberr(j, db, "update of IMAP folders");
		return;
	}
	dropped = imap_drop_stale(db, j);
	if (j->rc == 0 && sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO "
	    "imap_folders (account, folder, uidvalidity, uidnext, "
	    "highestmodseq, synced) VALUES (?, ?, ?, ?, ?, ?)", -1, &s,
	    NULL) != SQLITE_OK)
		imap_job_dberr(j, db, "update of IMAP folders");
	else if (j->rc == 0) {
		sqlite3_bind_text(s, 1, j->account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, j->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, j->state.uidvalidity);
		sqlite3_bind_int64(s, 4, j->state.uidnext);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)j->state.highestmodseq);
		sqlite3_bind_int64(s, 6, j->state.synced);
		if (sqlite3_step(s) != SQLITE_DONE)
			imap_job_dberr(j, db, "update of IMAP folders");
		sqlite3_finalize(s);
	}
	if (j->rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		imap_job_dberr(j, db, "update of IMAP folders");
	if (j->rc != 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return;
	}
	if (dropped > 0)
		log_info("account=%s folder=\"%s\" uidvalidity=%u: %ld queued "
		    "\\Seen changes of another UIDVALIDITY dropped (their UIDs "
		    "are gone from the server)", j->account, j->folder,
		    j->state.uidvalidity, dropped);
}

/* Record a server folder's state (on the writer). */
void
store_imap_folder_put(struct store *st, const char *account,
    const char *folder, const struct store_imap_folder *state,
    store_done_cb cb, void *arg)
{
	struct imap_job	*j;

	j = imap_job_new(imap_folder_put_run, account, folder, cb, arg);
	j->state = *state;
	imap_job_submit(st, j);
}

/* Order queued changes by UID. */
static int
imap_flag_cmp(const void *a, const void *b)
{
	const struct store_imap_flag	*x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* List the queued changes of a folder under uidvalidity (on the loop). */
int
store_imap_pending(struct store *st, const char *account, const char *folder,
    uint32_t uidvalidity, struct store_imap_flag **out, size_t *n,
    char **cause)
{
	struct imap_scan	 sc;
	struct store_imap_flag	*f = NULL;
	size_t			 nf = 0, size = 0;
	int			 rc;

	*out = NULL;
	*n = 0;
	if (imap_scan_start(st, &sc, "SELECT key, id, seen FROM "
	    "imap_flag_queue WHERE account = ? AND key >= ? AND key < ?",
	    account, folder, uidvalidity, "read of the \\Seen queue",
	    cause) != 0)
		return -1;
	while ((rc = imap_scan_next(st, &sc, cause)) == 1) {
		if (nf == size) {
			size = size == 0 ? 64 : size * 2;
			f = xreallocarray(f, size, sizeof *f);
		}
		f[nf].id = sqlite3_column_int64(sc.s, 1);
		f[nf].uid = sc.uid;
		f[nf++].seen = sqlite3_column_int(sc.s, 2);
	}
	if (rc != 0) {
		free(f);
		return -1;
	}
	if (nf > 1)
		qsort(f, nf, sizeof *f, imap_flag_cmp);
	*out = f;
	*n = nf;
	return 0;
}

/* Free what store_imap_pending returned (NULL is fine). */
void
store_imap_pending_free(struct store_imap_flag *f)
{
	free(f);
}

/* On the writer: delete acknowledged rows, by id. */
static void
imap_pending_done_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct imap_job	*j = (struct imap_job *)job;
	sqlite3_stmt	*s;
	size_t		 i;

	(void)st;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		imap_job_dberr(j, db, "update of the \\Seen queue");
		return;
	}
	if (sqlite3_prepare_v2(db, "DELETE FROM imap_flag_queue WHERE id = ?",
	    -1, &s, NULL) != SQLITE_OK)
		imap_job_dberr(j, db, "update of the \\Seen queue");
	else {
		for (i = 0; i < j->n && j->rc == 0; i++) {
			sqlite3_bind_int64(s, 1, j->ids[i]);
			if (sqlite3_step(s) != SQLITE_DONE)
				imap_job_dberr(j, db, "update of the \\Seen "
				    "queue");
			sqlite3_reset(s);
		}
		sqlite3_finalize(s);
	}
	if (j->rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		imap_job_dberr(j, db, "update of the \\Seen queue");
	if (j->rc != 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* The server took these queued changes: forget them (on the writer). */
void
store_imap_pending_done(struct store *st, const long long *ids, size_t n,
    store_done_cb cb, void *arg)
{
	struct imap_job	*j;

	j = imap_job_new(imap_pending_done_run, NULL, NULL, cb, arg);
	if (n > 0) {
		j->ids = xreallocarray(NULL, n, sizeof *j->ids);
		memcpy(j->ids, ids, n * sizeof *ids);
	}
	j->n = n;
	imap_job_submit(st, j);
}

/*
 * On the writer: set the read state of the messages ids to seen as mark
 * does (ops_change). When the group fails, try each message alone; one
 * that fails alone is logged and skipped, unless the disk is full, which
 * stops the job. Return -1 when it stopped.
 */
static int
imap_apply_ids(struct store *st, sqlite3 *db, struct imap_job *j,
    const long long *ids, size_t n, int seen)
{
	struct ops_req	 r;
	struct ops_row	*rows;
	size_t		 i, k = 0;
	int		 full;

	memset(&r, 0, sizeof r);
	r.fd = -1;
	rows = xcalloc(n, sizeof *rows);
	for (i = 0; i < n; i++) {
		if (ops_row(db, &r, ids[i], &rows[k]) == 0)
			k++;
		free(r.error);		/* gone meanwhile: nothing to do */
		r.error = NULL;
	}
	if (k > 0)
		ops_change(st, db, &r, rows, k, NULL, seen, 0);
	free(rows);
	if (r.error == NULL) {
		j->changed += json_integer_value(json_object_get(r.result,
		    "changed"));
		json_decref(r.result);
		return 0;
	}
	full = r.err == ENOSPC || r.err == EDQUOT;
	if (full && j->rc == 0) {
		j->rc = -1;
		xasprintf(&j->cause, "cannot apply \\Seen from the server: %s",
		    r.error);
	} else if (n == 1)
		log_warnx("account=%s folder=\"%s\": cannot %s \\Seen as "
		    "the server says: %s", j->account, j->folder,
		    seen ? "set" : "clear", r.error);
	free(r.error);
	if (full)
		return -1;
	for (i = 0; n > 1 && i < n; i++)
		if (imap_apply_ids(st, db, j, &ids[i], 1, seen) != 0)
			return -1;
	return 0;
}

/*
 * On the writer: find the message of each change by its key, leave those
 * with a queued change and those in that state already, and change the
 * rest, IMAP_CHUNK messages a transaction. What was found is read before
 * anything changes: no statement is open across ops_change's transaction.
 */
static void
imap_apply_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct imap_job		*j = (struct imap_job *)job;
	struct imap_todo	*todo = NULL;
	sqlite3_stmt		*s;
	const unsigned char	*flags;
	long long		 ids[IMAP_CHUNK];
	char			 key[IMAP_KEY_MAX];
	size_t			 i, n = 0, size = 0, k;
	int			 rc = SQLITE_DONE, seen, has;

	if (sqlite3_prepare_v2(db, "SELECT id, flags FROM messages WHERE "
	    "account = ?1 AND uidl = ?2 AND NOT EXISTS (SELECT 1 FROM "
	    "imap_flag_queue WHERE account = ?1 AND key = ?2)", -1, &s,
	    NULL) != SQLITE_OK) {
		imap_job_dberr(j, db, "read of messages");
		return;
	}
	sqlite3_bind_text(s, 1, j->account, -1, SQLITE_STATIC);
	for (i = 0; i < j->n && rc == SQLITE_DONE; i++) {
		snprintf(key, sizeof key, "imap:%u:%u:%s", j->state.uidvalidity,
		    j->changes[i].uid, j->folder);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			flags = sqlite3_column_text(s, 1);
			has = flags != NULL && strchr((const char *)flags,
			    'S') != NULL;
			if (has == (j->changes[i].seen != 0))
				continue;
			if (n == size) {
				size = size == 0 ? 64 : size * 2;
				todo = xreallocarray(todo, size, sizeof *todo);
			}
			todo[n].id = sqlite3_column_int64(s, 0);
			todo[n++].seen = !has;
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		imap_job_dberr(j, db, "read of messages");
		free(todo);
		return;
	}
	/* Those to mark read, then those to mark unread. */
	for (seen = 1; seen >= 0 && j->rc == 0; seen--) {
		for (i = k = 0; i <= n && j->rc == 0; i++) {
			if (k == IMAP_CHUNK || (i == n && k > 0)) {
				if (imap_apply_ids(st, db, j, ids, k, seen) != 0)
					break;
				k = 0;
			}
			if (i < n && todo[i].seen == seen)
				ids[k++] = todo[i].id;
		}
	}
	free(todo);
}

/* Apply the read states the server reports (on the writer). */
void
store_imap_apply_seen(struct store *st, const char *account,
    const char *folder, uint32_t uidvalidity,
    const struct store_imap_seen *changes, size_t n, size_t *changed,
    store_done_cb cb, void *arg)
{
	struct imap_job	*j;

	j = imap_job_new(imap_apply_run, account, folder, cb, arg);
	j->state.uidvalidity = uidvalidity;
	if (n > 0) {
		j->changes = xreallocarray(NULL, n, sizeof *j->changes);
		memcpy(j->changes, changes, n * sizeof *changes);
	}
	j->n = n;
	j->changedp = changed;
	imap_job_submit(st, j);
}

/*
 * Sort UIDs, a byte at a time from the lowest (a radix sort): for 50,000
 * of them a tenth of qsort's time, which was most of store_imap_known's.
 */
static void
imap_uid_sort(uint32_t *u, size_t n)
{
	uint32_t	*tmp, *from = u, *to, *swap;
	size_t		 count[256], i, sum, c;
	int		 shift;

	if (n < 2)
		return;
	to = tmp = xreallocarray(NULL, n, sizeof *tmp);
	for (shift = 0; shift < 32; shift += 8) {
		memset(count, 0, sizeof count);
		for (i = 0; i < n; i++)
			count[(from[i] >> shift) & 0xff]++;
		for (i = sum = 0; i < 256; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			to[count[(from[i] >> shift) & 0xff]++] = from[i];
		swap = from;
		from = to;
		to = swap;
	}
	/* Four passes: the last one wrote into u. */
	free(tmp);
}

/* List the UIDs stored of a folder under uidvalidity (on the loop). */
int
store_imap_known(struct store *st, const char *account, const char *folder,
    uint32_t uidvalidity, uint32_t **uids, size_t *n, char **cause)
{
	struct imap_scan sc;
	uint32_t	*u = NULL;
	size_t		 nu = 0, size = 0, i, j;
	int		 rc;

	*uids = NULL;
	*n = 0;
	if (imap_scan_start(st, &sc, "SELECT uidl FROM messages WHERE "
	    "account = ? AND uidl >= ? AND uidl < ?", account, folder,
	    uidvalidity, "read of messages", cause) != 0)
		return -1;
	while ((rc = imap_scan_next(st, &sc, cause)) == 1) {
		if (nu == size) {
			size = size == 0 ? 256 : size * 2;
			u = xreallocarray(u, size, sizeof *u);
		}
		u[nu++] = sc.uid;
	}
	if (rc != 0) {
		free(u);
		return -1;
	}
	/* The index keeps keys in text order: "10" before "9". */
	imap_uid_sort(u, nu);
	for (i = j = 0; i < nu; i++)
		if (j == 0 || u[j - 1] != u[i])
			u[j++] = u[i];
	*uids = u;
	*n = j;
	return 0;
}

/*
 * The messages stored of a folder under its old UIDVALIDITY that have a
 * Message-ID: after the server renumbered the folder, they are matched by
 * it rather than downloaded again (on the loop; free with
 * store_imap_old_free).
 */
int
store_imap_old(struct store *st, const char *account, const char *folder,
    uint32_t v, struct store_imap_old **out, size_t *n, char **cause)
{
	struct imap_scan	 sc;
	struct store_imap_old	*o = NULL;
	size_t			 size = 0;
	const char		*mid;
	int			 rc;

	*out = NULL;
	*n = 0;
	if (imap_scan_start(st, &sc, "SELECT uidl, message_id FROM messages "
	    "WHERE account = ? AND uidl >= ? AND uidl < ?", account, folder,
	    v, "read of stored IMAP messages", cause) != 0)
		return -1;
	while ((rc = imap_scan_next(st, &sc, cause)) == 1) {
		if ((mid = (const char *)sqlite3_column_text(sc.s, 1)) == NULL ||
		    *mid == '\0')
			continue;
		if (*n == size) {
			size = size ? 2 * size : 256;
			o = xreallocarray(o, size, sizeof *o);
		}
		o[*n].uid = sc.uid;
		o[(*n)++].message_id = xstrdup(mid);
	}
	if (rc != 0) {
		store_imap_old_free(o, *n);
		*n = 0;
		return -1;
	}
	*out = o;
	return 0;
}

void
store_imap_old_free(struct store_imap_old *o, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(o[i].message_id);
	free(o);
}

/* On the writer: move messages from their old keys to their new ones. */
static void
imap_rekey_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct imap_job	*j = (struct imap_job *)job;
	sqlite3_stmt	*up = NULL, *ins = NULL;
	char		 oldk[IMAP_KEY_MAX], newk[IMAP_KEY_MAX];
	size_t		 i;

	(void)st;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		imap_job_dberr(j, db, "rekey of IMAP messages");
		return;
	}
	if (sqlite3_prepare_v2(db, "UPDATE messages SET uidl = ? WHERE "
	    "account = ? AND uidl = ?", -1, &up, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO seen (account, uidl, "
	    "added) VALUES (?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
		imap_job_dberr(j, db, "rekey of IMAP messages");
	for (i = 0; j->rc == 0 && i < j->n; i++) {
		snprintf(oldk, sizeof oldk, "imap:%u:%u:%s", j->oldv,
		    j->rekeys[i].old_uid, j->folder);
		snprintf(newk, sizeof newk, "imap:%u:%u:%s", j->newv,
		    j->rekeys[i].new_uid, j->folder);
		sqlite3_bind_text(up, 1, newk, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 2, j->account, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 3, oldk, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 1, j->account, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, newk, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)time(NULL));
		if (sqlite3_step(up) != SQLITE_DONE ||
		    sqlite3_step(ins) != SQLITE_DONE)
			imap_job_dberr(j, db, "rekey of IMAP messages");
		sqlite3_reset(up);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(up);
	sqlite3_finalize(ins);
	if (sqlite3_exec(db, j->rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL,
	    NULL) != SQLITE_OK)
		imap_job_dberr(j, db, "rekey of IMAP messages");
}

/*
 * After a UIDVALIDITY change: record n messages matched on the server
 * under their new UIDs (seen keys and index rows), on the writer, ahead of
 * the downloads that follow; the seen set knows the new keys once cb runs.
 */
void
store_imap_rekey(struct store *st, const char *account, const char *folder,
    uint32_t oldv, uint32_t newv, const struct store_imap_rekey *rekeys,
    size_t n, store_done_cb cb, void *arg)
{
	struct imap_job	*j;

	j = imap_job_new(imap_rekey_run, account, folder, cb, arg);
	j->oldv = oldv;
	j->newv = newv;
	j->rekeys = xreallocarray(NULL, n > 0 ? n : 1, sizeof *j->rekeys);
	memcpy(j->rekeys, rekeys, n * sizeof *rekeys);
	j->n = n;
	imap_job_submit(st, j);
}
