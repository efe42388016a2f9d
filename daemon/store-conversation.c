/*
 * Conversations: which messages answer which (JWZ's threading algorithm,
 * https://www.jwz.org/doc/threading.html, done incrementally as messages
 * arrive), kept in the index (schema version 8, store-index.c), and the
 * thread operation that lists one conversation.
 *
 * Every message id seen is a node of thread_nodes: a stored message's
 * own id, or a placeholder for an id another message's References names
 * (a parent not stored, or not yet). A node has at most one parent and
 * belongs to one conversation; messages.thread is the conversation of a
 * message. When a message is recorded (store_conversation_add, on the
 * writer, in the transaction that records it):
 *
 *   1. the conversations of its own id and of the ids it names (its
 *      ancestors, mime-thread.c) are looked up; it joins the one with the
 *      smallest id, and the others are merged into that one (a late
 *      parent, or a message that ties two branches together, joins them);
 *   2. when it names no ancestor, the conversation the subject fallback
 *      finds (below) is one of those too;
 *   3. none at all: it starts a conversation whose id is its own message id;
 *   4. its ancestors are linked oldest to newest, each to the one before,
 *      unless the node has a parent already or the link would close a
 *      loop; its own node gets the nearest ancestor as parent (its own
 *      header is the best witness), again unless that closes a loop.
 *
 * So the conversation id is the id of the first message stored in it (a
 * number that stays when that message is deleted), or the smallest of
 * those of the conversations merged into it. A message without a
 * Message-ID gets the node "#ID" (no real id starts so): it can have a
 * parent, and nothing can name it. A Message-ID stored twice is one node:
 * both messages are in its conversation. Removing a message leaves its
 * node, a placeholder now, so the others stay together.
 *
 * The subject fallback: a message that names no ancestor joins the
 * conversation of another that names none, with the same subject key
 * (mime-thread.c), dated within STORE_CONV_WINDOW of it, when one of the
 * two subjects is a reply's ("Re: x" joins "x", and "x" joins "Re: x",
 * whichever came first: only messages naming no ancestor keep their key
 * in messages.thread_subject, so each of the two finds the other); two
 * mails alike in subject alone (a daily report) stay apart, and so does
 * a message whose References point elsewhere. A message joined so is a
 * root of its conversation (depth 0).
 *
 * Walking up the parent links is bounded by STORE_CONV_WALK steps: a
 * chain that deep is treated as a loop and not linked. The index for a
 * store made before version 8 is filled in by store_conversation_fill, a
 * job on the writer that threads STORE_CONV_BATCH messages a transaction
 * and queues itself again behind whatever came meanwhile, reading each
 * message's header block. Reindex threads every message again, in id
 * order, from what the index keeps (thread_key, thread_refs,
 * thread_subject, thread_reply: store_conversation_keep), over the
 * conversations as they were: the nodes are made anew, the subject
 * fallback looks only at the messages before (by id), already done, and
 * a message's conversation is written only where it changed.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mime.h"
#include "mime-thread.h"
#include "store.h"
#include "store-int.h"

#define STORE_CONV_WINDOW	(30 * 86400)	/* subject fallback, seconds */
#define STORE_CONV_WALK		256	/* parent links walked at most */
#define STORE_CONV_BATCH	500	/* messages a fill transaction */
#define STORE_CONV_HEAD		(64 * 1024)	/* bytes read for headers */
#define STORE_CONV_MAX		100000	/* messages a thread lists */

/* The writer's statements (prepared on first use). */
struct store_conv {
	sqlite3		*db;
	sqlite3_stmt	*node_get;
	sqlite3_stmt	*node_put;
	sqlite3_stmt	*node_link;
	sqlite3_stmt	*by_subject;
	sqlite3_stmt	*merge_msgs;
	sqlite3_stmt	*merge_nodes;
	sqlite3_stmt	*set_msg;
	sqlite3_stmt	*set_thread;
	sqlite3_stmt	*keep;
};

/* Free the statements (NULL is fine). */
void
store_conversation_free(struct store_conv *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->node_get);
	sqlite3_finalize(c->node_put);
	sqlite3_finalize(c->node_link);
	sqlite3_finalize(c->by_subject);
	sqlite3_finalize(c->merge_msgs);
	sqlite3_finalize(c->merge_nodes);
	sqlite3_finalize(c->set_msg);
	sqlite3_finalize(c->keep);
	sqlite3_finalize(c->set_thread);
	free(c);
}

/* The statements of this connection (the writer's), or NULL. */
static struct store_conv *
store_conv_get(struct store *st, sqlite3 *db)
{
	struct store_conv	*c = st->conv;
	char			*cause = NULL;

	if (c != NULL && c->db == db)
		return c;
	store_conversation_free(c);
	st->conv = c = xcalloc(1, sizeof *c);
	c->db = db;
	if (store_prepare(db, "SELECT parent, thread FROM thread_nodes WHERE "
	    "msgid = ?", &c->node_get, &cause) != 0 ||
	    store_prepare(db, "INSERT INTO thread_nodes (msgid, parent, thread) "
	    "VALUES (?, ?, ?)", &c->node_put, &cause) != 0 ||
	    store_prepare(db, "UPDATE thread_nodes SET parent = ? WHERE msgid = "
	    "?", &c->node_link, &cause) != 0 ||
	    store_prepare(db, "SELECT thread FROM messages WHERE thread_subject "
	    "= ?1 AND date BETWEEN ?2 - ?3 AND ?2 + ?3 AND thread IS NOT NULL "
	    "AND id < ?5 AND (?4 OR thread_reply) ORDER BY abs(date - ?2) "
	    "LIMIT 1",
	    &c->by_subject, &cause) != 0 ||
	    store_prepare(db, "UPDATE messages SET thread = ?1 WHERE thread = ?2",
	    &c->merge_msgs, &cause) != 0 ||
	    store_prepare(db, "UPDATE thread_nodes SET thread = ?1 WHERE thread "
	    "= ?2", &c->merge_nodes, &cause) != 0 ||
	    store_prepare(db, "UPDATE messages SET thread_key = ?1, "
	    "thread_subject = ?2, thread_reply = ?3, thread_refs = ?4, thread "
	    "= ?6 WHERE id = ?5", &c->set_msg, &cause) != 0 ||
	    store_prepare(db, "UPDATE messages SET thread_key = ?1, "
	    "thread_subject = ?2, thread_reply = ?3, thread_refs = ?4 WHERE id "
	    "= ?5", &c->keep, &cause) != 0 ||
	    store_prepare(db, "UPDATE messages SET thread = ?1 WHERE id = ?2 AND "
	    "thread IS NOT ?1", &c->set_thread, &cause) != 0) {
		log_warnx("store: %s", cause);
		free(cause);
		store_conversation_free(c);
		st->conv = NULL;
		return NULL;
	}
	return c;
}

/* What threading reads of a parsed message, into info. */
void
store_conversation_info(const struct mime_msg *msg, struct store_info *info)
{
	char	*subject;

	info->thread_id = mime_thread_id(mime_header(msg, "message-id"));
	info->thread_refs = mime_thread_refs(mime_header(msg, "references"),
	    mime_header(msg, "in-reply-to"), info->thread_id,
	    &info->nthread_refs);
	subject = info->subject != NULL ? info->subject :
	    mime_header_text(msg, "subject");
	info->thread_subject = mime_thread_subject(subject,
	    &info->thread_reply);
	if (subject != info->subject)
		free(subject);
}

/*
 * Look a node up: 1 and its parent (copied into parent, "" for none) and
 * conversation when it exists, 0 when not, -1 on an error.
 */
static int
store_conv_node(struct store_conv *c, const char *msgid, char *parent,
    size_t size, long long *thread)
{
	const unsigned char	*p;
	int			 rc;

	sqlite3_bind_text(c->node_get, 1, msgid, -1, SQLITE_STATIC);
	rc = sqlite3_step(c->node_get);
	if (rc == SQLITE_ROW) {
		p = sqlite3_column_text(c->node_get, 0);
		if (parent != NULL)
			snprintf(parent, size, "%s", p != NULL ?
			    (const char *)p : "");
		if (thread != NULL)
			*thread = sqlite3_column_int64(c->node_get, 1);
	}
	sqlite3_reset(c->node_get);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Would making from's parent to lead to a loop: is from an ancestor of
 * to (or to itself)? A chain longer than STORE_CONV_WALK counts as one.
 */
static int
store_conv_loops(struct store_conv *c, const char *to, const char *from)
{
	char	 cur[MIME_THREAD_ID_MAX + 1], next[MIME_THREAD_ID_MAX + 1];
	int	 i;

	snprintf(cur, sizeof cur, "%s", to);
	for (i = 0; i < STORE_CONV_WALK; i++) {
		if (strcmp(cur, from) == 0)
			return 1;
		if (store_conv_node(c, cur, next, sizeof next, NULL) != 1 ||
		    next[0] == '\0')
			return 0;
		memcpy(cur, next, sizeof cur);
	}
	return 1;
}

/* Run a statement of two integers. */
static int
store_conv_step2(sqlite3_stmt *s, long long a, long long b)
{
	int	 rc;

	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Add a node, or give one without a parent its parent; bound strings. */
static int
store_conv_link(struct store_conv *c, const char *msgid, const char *parent,
    long long thread, int force)
{
	char		 have[MIME_THREAD_ID_MAX + 1];
	sqlite3_stmt	*s;
	int		 rc;

	if ((rc = store_conv_node(c, msgid, have, sizeof have, NULL)) == -1)
		return -1;
	if (rc == 0) {
		/* New: nothing descends from it yet, so no loop. */
		s = c->node_put;
		sqlite3_bind_text(s, 1, msgid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, parent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, thread);
	} else if (parent != NULL && (force || have[0] == '\0') &&
	    strcmp(have, parent) != 0 && !store_conv_loops(c, parent, msgid)) {
		s = c->node_link;
		sqlite3_bind_text(s, 1, parent, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, msgid, -1, SQLITE_STATIC);
	} else
		return 0;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Add t to the set of conversations (at most max) unless there. */
static void
store_conv_touch(long long *set, size_t *n, long long t)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		if (set[i] == t)
			return;
	set[(*n)++] = t;
}

/*
 * Bind what the index keeps for threading a message again to parameters
 * first to first + 4 of s: its key (NULL for "#ID"), subject key (only
 * when it names no ancestor), reply, ancestors (joined by spaces) and id.
 * Return the joined ancestors, for the caller to free once s ran.
 */
static char *
store_conv_bind_keep(sqlite3_stmt *s, int first, long long id,
    const struct store_info *info)
{
	const char	*subj = info->thread_subject;
	char		*refs, *p;
	size_t		 i, len = 1;

	for (i = 0; i < info->nthread_refs; i++)
		len += strlen(info->thread_refs[i]) + 1;
	p = refs = xmalloc(len);
	*p = '\0';
	for (i = 0; i < info->nthread_refs; i++)
		p += sprintf(p, "%s%s", i > 0 ? " " : "",
		    info->thread_refs[i]);
	if (info->nthread_refs > 0 || (subj != NULL && *subj == '\0'))
		subj = NULL;
	sqlite3_bind_text(s, first, info->thread_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 1, subj, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, first + 2, info->thread_reply);
	sqlite3_bind_text(s, first + 3, refs, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, first + 4, id);
	return refs;
}

/*
 * Keep what threading the message id again needs, without threading it
 * now (reindex adds rows before it threads them all, in id order).
 */
int
store_conversation_keep(struct store *st, sqlite3 *db, long long id,
    const struct store_info *info)
{
	struct store_conv	*c;
	char			*refs;
	int			 rc;

	if ((c = store_conv_get(st, db)) == NULL)
		return -1;
	refs = store_conv_bind_keep(c->keep, 1, id, info);
	rc = sqlite3_step(c->keep);
	sqlite3_reset(c->keep);
	free(refs);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Find the conversation of message id (steps 1 to 4 at the top of this
 * file) and link its nodes, its key being key; the message's row is
 * written by the caller. Return -1 on an index error.
 */
static int
store_conv_find(struct store_conv *c, long long id,
    const struct store_info *info, const char *key, long long *conv)
{
	long long		 set[MIME_THREAD_REFS_MAX + 2], t, target;
	const char		*subj;
	size_t			 n = 0, i, nrefs = info->nthread_refs;
	int			 rc;

	/* 1: the conversations it touches. */
	if ((rc = store_conv_node(c, key, NULL, 0, &t)) == -1)
		return -1;
	if (rc == 1)
		store_conv_touch(set, &n, t);
	for (i = 0; i < nrefs; i++) {
		if ((rc = store_conv_node(c, info->thread_refs[i], NULL, 0,
		    &t)) == -1)
			return -1;
		if (rc == 1)
			store_conv_touch(set, &n, t);
	}
	/*
	 * 2: by subject, when it names no ancestor: among the messages that
	 * name none either (only they keep their subject's key), so that the
	 * order they come in does not matter.
	 */
	subj = nrefs == 0 ? info->thread_subject : NULL;
	if (subj != NULL && *subj != '\0') {
		sqlite3_bind_text(c->by_subject, 1, subj, -1, SQLITE_STATIC);
		sqlite3_bind_int64(c->by_subject, 2, info->date);
		sqlite3_bind_int64(c->by_subject, 3, STORE_CONV_WINDOW);
		sqlite3_bind_int(c->by_subject, 4, info->thread_reply);
		sqlite3_bind_int64(c->by_subject, 5, id);
		rc = sqlite3_step(c->by_subject);
		if (rc == SQLITE_ROW)
			store_conv_touch(set, &n,
			    sqlite3_column_int64(c->by_subject, 0));
		sqlite3_reset(c->by_subject);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return -1;
	}
	/* 3: the smallest, the others merged into it; or a new one. */
	target = id;
	for (i = 0; i < n; i++)
		if (set[i] < target)
			target = set[i];
	for (i = 0; i < n; i++) {
		if (set[i] == target)
			continue;
		if (store_conv_step2(c->merge_msgs, target, set[i]) != 0 ||
		    store_conv_step2(c->merge_nodes, target, set[i]) != 0)
			return -1;
	}
	/* 4: the links, oldest ancestor first, then its own. */
	for (i = 0; i < nrefs; i++)
		if (store_conv_link(c, info->thread_refs[i], i > 0 ?
		    info->thread_refs[i - 1] : NULL, target, 0) != 0)
			return -1;
	if (store_conv_link(c, key, nrefs > 0 ? info->thread_refs[nrefs - 1] :
	    NULL, target, 1) != 0)
		return -1;
	*conv = target;
	return 0;
}

/*
 * Thread the message recorded as id (see the top of this file), in the
 * caller's transaction on the writer, and write its threading columns:
 * with s NULL, by an UPDATE of its row; else s (an INSERT of the row, its
 * other values bound) takes them at parameters first to first + 5
 * (thread_key, thread_subject, thread_reply, thread_refs, id, thread).
 * kept: the index has what info holds already (only the conversation is
 * written: a third less work for reindex). Return -1 on an index error.
 */
static int
store_conv_add(struct store *st, sqlite3 *db, sqlite3_stmt *s, int first,
    long long id, const struct store_info *info, int kept)
{
	struct store_conv	*c;
	long long		 target;
	char			 own[32], *refs;
	const char		*key = info->thread_id;
	int			 rc;

	if ((c = store_conv_get(st, db)) == NULL)
		return -1;
	if (key == NULL) {
		snprintf(own, sizeof own, "#%lld", id);
		key = own;
	}
	if (store_conv_find(c, id, info, key, &target) != 0)
		return -1;
	if (kept)
		return store_conv_step2(c->set_thread, target, id);
	if (s == NULL) {
		s = c->set_msg;
		first = 1;
	}
	refs = store_conv_bind_keep(s, first, id, info);
	sqlite3_bind_text(s, first, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, first + 5, target);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	free(refs);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Thread the message recorded as id (see the top of this file), in the
 * caller's transaction on the writer. Return -1 on an index error.
 */
int
store_conversation_add(struct store *st, sqlite3 *db, long long id,
    const struct store_info *info)
{
	return store_conv_add(st, db, NULL, 0, id, info, 0);
}

/*
 * Thread a message about to be recorded as id, and record it: ins, an
 * INSERT into messages with its other values bound, takes the threading
 * columns at parameters first to first + 5 (store_conv_add). One INSERT
 * of the whole row instead of an INSERT and an UPDATE: a delivery writes
 * its row once. In the caller's transaction on the writer; -1 on an
 * index error.
 */
int
store_conversation_insert(struct store *st, sqlite3 *db, sqlite3_stmt *ins,
    int first, long long id, const struct store_info *info)
{
	return store_conv_add(st, db, ins, first, id, info, 0);
}

/*
 * Read what threading needs of a stored message: its header block only
 * (the first STORE_CONV_HEAD bytes at most), parsed. -1 when the file
 * cannot be read; info then holds only its date.
 */
static int
store_conv_read(int fd, struct store_info *info)
{
	struct mime_msg	*msg;
	char		*buf, *end, *cause = NULL;
	ssize_t		 n;
	size_t		 len = 0;

	buf = xmalloc(STORE_CONV_HEAD + 1);
	while (len < STORE_CONV_HEAD && (n = pread(fd, buf + len,
	    STORE_CONV_HEAD - len, len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			return -1;
		}
		len += n;
	}
	buf[len] = '\0';
	/* The header block and its blank line; no body to walk. */
	if ((end = strstr(buf, "\n\n")) != NULL ||
	    (end = strstr(buf, "\n\r\n")) != NULL) {
		len = end + 1 - buf;
		buf[len] = '\0';
	}
	if ((msg = mime_parse_inplace(buf, len, 0, &cause)) == NULL) {
		free(cause);
		free(buf);
		return -1;
	}
	(void)mime_date(mime_header(msg, "date"), &info->date);
	store_conversation_info(msg, info);
	mime_free(msg);
	free(buf);
	return 0;
}

/* What the index kept for threading a message again (row of s from 7). */
static void
store_conv_kept(sqlite3_stmt *s, struct store_info *info)
{
	const char	*key = (const char *)sqlite3_column_text(s, 7);
	const char	*refs = (const char *)sqlite3_column_text(s, 8);
	const char	*subj = (const char *)sqlite3_column_text(s, 9);
	const char	*sp;

	if (key != NULL && key[0] != '#')
		info->thread_id = xstrdup(key);
	info->thread_subject = xstrdup(subj != NULL ? subj : "");
	info->thread_reply = sqlite3_column_int(s, 10);
	while (*refs != '\0' && info->nthread_refs < MIME_THREAD_REFS_MAX) {
		if ((sp = strchr(refs, ' ')) == NULL)
			sp = refs + strlen(refs);
		info->thread_refs = xreallocarray(info->thread_refs,
		    info->nthread_refs + 1, sizeof *info->thread_refs);
		info->thread_refs[info->nthread_refs++] = xstrndup(refs,
		    sp - refs);
		refs = *sp != '\0' ? sp + 1 : sp;
	}
}

/*
 * Thread again each message of the query s (columns: id, account,
 * folder, dir, file, flags, date, then STORE_CONV_KEPT), from what the
 * index kept of it, else from the headers of its file, in the caller's
 * transaction; *done counts them. A message whose file cannot be read is
 * threaded as one without headers. Return -1 on an index error, 1 when
 * the daemon is stopping (what is done stays done).
 */
int
store_conversation_redo(struct store *st, sqlite3 *db, sqlite3_stmt *s,
    long long *done)
{
	struct store_info	 info;
	struct ops_row		 row;
	char			 path[OPS_PATH_MAX];
	int			 fd, rc, kept;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*done % 64 == 63 && store_stopping(st))
			return 1;
		memset(&row, 0, sizeof row);
		memset(&info, 0, sizeof info);
		row.id = sqlite3_column_int64(s, 0);
		ops_col(s, 1, row.account, sizeof row.account);
		ops_col(s, 2, row.folder, sizeof row.folder);
		ops_col(s, 3, row.dir, sizeof row.dir);
		ops_col(s, 4, row.file, sizeof row.file);
		ops_col(s, 5, row.flags, sizeof row.flags);
		info.date = sqlite3_column_int64(s, 6);
		if ((kept = sqlite3_column_type(s, 8) != SQLITE_NULL)) {
			store_conv_kept(s, &info);
			goto add;
		}
		ops_path(&row, path, sizeof path);
		fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC);
		if (fd == -1 && ops_search(st, &row) == 0) {
			ops_path(&row, path, sizeof path);
			fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC);
		}
		if (fd != -1) {
			store_conv_read(fd, &info);
			close(fd);
		}
add:
		rc = store_conv_add(st, db, NULL, 0, row.id, &info, kept);
		store_info_free(&info);
		if (rc != 0)
			return -1;
		(*done)++;
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The fill of a store from before conversations (a writer job). */
struct store_fill {
	struct store_job	 job;		/* first */
	long long		 done;
	int			 failed;
	struct timespec		 start;
};

/* On the writer: thread one batch; come back for the next. */
static void
store_fill_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct store_fill	*f = (struct store_fill *)job;
	sqlite3_stmt		*s = NULL;
	long long		 before = f->done;
	char			*cause = NULL;

	if (store_stopping(st))
		return;
	if (store_prepare(db, "SELECT id, account, folder, dir, file, flags, "
	    "coalesce(date, added), " STORE_CONV_KEPT " FROM messages WHERE "
	    "thread IS NULL ORDER BY id LIMIT ?", &s, &cause) != 0 ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		f->failed = 1;
		log_warnx("store: cannot thread the index: %s", cause != NULL ?
		    cause : sqlite3_errmsg(db));
		free(cause);
		sqlite3_finalize(s);
		return;
	}
	sqlite3_bind_int(s, 1, STORE_CONV_BATCH);
	if (store_conversation_redo(st, db, s, &f->done) == -1 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("store: cannot thread the index: %s",
		    sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		f->failed = 1;
	} else if (f->done - before == STORE_CONV_BATCH)
		job->next = &st->writer;	/* behind what came meanwhile */
	sqlite3_finalize(s);
}

/* On the loop: the fill is over (or given up). */
static void
store_fill_done(struct store *st, struct store_job *job)
{
	struct store_fill	*f = (struct store_fill *)job;
	struct timespec		 end;

	(void)st;
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (f->done > 0)
		log_info("store: threaded %lld messages of the index into "
		    "conversations in %.1f s%s", f->done, (end.tv_sec -
		    f->start.tv_sec) + (end.tv_nsec - f->start.tv_nsec) / 1e9,
		    f->failed ? " (stopped by an error)" : "");
	free(f);
}

/*
 * Thread the messages the index has not threaded yet (a store from
 * before version 8), in the background on the writer.
 */
void
store_conversation_fill(struct store *st)
{
	struct store_fill	*f;

	f = xcalloc(1, sizeof *f);
	f->job.run = store_fill_run;
	f->job.done = store_fill_done;
	clock_gettime(CLOCK_MONOTONIC, &f->start);
	store_submit(st, &st->writer, &f->job);
}

/* A message of a conversation, as the thread operation places it. */
struct store_conv_msg {
	long long	 id;
	char		*key;
	long long	 parent;	/* 0: a root */
	int		 depth;		/* -1: not known yet, -2: in work */
};

/* A node of a conversation. */
struct store_conv_node {
	char		*msgid;
	char		*parent;	/* or NULL */
};

static int
store_conv_node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_conv_node *)a)->msgid,
	    ((const struct store_conv_node *)b)->msgid);
}

/* By key, then id: the first of a key is the message that stands for it. */
static int
store_conv_key_cmp(const void *a, const void *b)
{
	const struct store_conv_msg *x = *(struct store_conv_msg *const *)a;
	const struct store_conv_msg *y = *(struct store_conv_msg *const *)b;
	int	 c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
store_conv_id_cmp(const void *a, const void *b)
{
	const struct store_conv_msg *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The parent of a node, or NULL. */
static const char *
store_conv_parent(struct store_conv_node *nodes, size_t n, const char *msgid)
{
	struct store_conv_node	 k, *f;

	k.msgid = (char *)msgid;
	f = bsearch(&k, nodes, n, sizeof *nodes, store_conv_node_cmp);
	return f != NULL ? f->parent : NULL;
}

/* The message that stands for a key (the first stored), or NULL. */
static struct store_conv_msg *
store_conv_by_key(struct store_conv_msg **bykey, size_t n, const char *key)
{
	size_t	 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (strcmp(bykey[mid]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(bykey[lo]->key, key) == 0 ? bykey[lo] : NULL;
}

/* A message by id, or NULL. */
static struct store_conv_msg *
store_conv_by_id(struct store_conv_msg *msgs, size_t n, long long id)
{
	struct store_conv_msg	 k;

	k.id = id;
	return bsearch(&k, msgs, n, sizeof *msgs, store_conv_id_cmp);
}

/*
 * Place each message: its parent, the nearest ancestor that is a stored
 * message, and its depth below the roots. Walks are bounded by the
 * number of nodes; a loop (which the links never make, but a store is
 * outside input too) ends as a root.
 */
static void
store_conv_place(struct store_conv_msg *msgs, size_t n,
    struct store_conv_node *nodes, size_t nnodes)
{
	struct store_conv_msg	**bykey, *m, *p, **stack;
	const char		*k;
	size_t			 i, steps, depth;

	bykey = xreallocarray(NULL, n, sizeof *bykey);
	for (i = 0; i < n; i++)
		bykey[i] = &msgs[i];
	qsort(bykey, n, sizeof *bykey, store_conv_key_cmp);
	for (i = 0; i < n; i++) {
		m = &msgs[i];
		k = store_conv_parent(nodes, nnodes, m->key);
		for (steps = 0; k != NULL && steps <= nnodes; steps++) {
			if ((p = store_conv_by_key(bykey, n, k)) != NULL &&
			    p != m) {
				m->parent = p->id;
				break;
			}
			k = store_conv_parent(nodes, nnodes, k);
		}
	}
	/* Depths: up to a known one (or a root), then down again. */
	stack = xreallocarray(NULL, n + 1, sizeof *stack);
	for (i = 0; i < n; i++) {
		depth = 0;
		for (m = &msgs[i]; m != NULL && m->depth == -1; m = p) {
			m->depth = -2;
			stack[depth++] = m;
			p = m->parent != 0 ? store_conv_by_id(msgs, n,
			    m->parent) : NULL;
			if (p != NULL && p->depth == -2) {
				m->parent = 0;	/* a loop: a root */
				p = NULL;
			}
		}
		while (depth > 0) {
			m = stack[--depth];
			p = m->parent != 0 ? store_conv_by_id(msgs, n,
			    m->parent) : NULL;
			m->depth = p != NULL && p->depth >= 0 ? p->depth + 1 : 0;
		}
	}
	free(stack);
	free(bykey);
}

/* A conversation's messages placed in their tree (ops_thread). */
struct store_conv_placed {
	struct store_conv_msg	*msgs;
	size_t			 n;
};

/* A message's place after its list entry: depth and parent. */
static void
store_conv_entry(struct ops_text *t, sqlite3_stmt *s, void *arg)
{
	struct store_conv_placed *p = arg;
	struct store_conv_msg	*m;
	char			 num[96];

	m = store_conv_by_id(p->msgs, p->n, sqlite3_column_int64(s, 0));
	if (m != NULL && m->parent != 0)
		snprintf(num, sizeof num, ",\"depth\":%d,\"parent\":%lld",
		    m->depth, m->parent);
	else
		snprintf(num, sizeof num, ",\"depth\":0,\"parent\":null");
	ops_text_raw(t, num);
}

/*
 * thread: the conversation of a message, oldest first, each as in list
 * plus its depth and its parent (the id of the message it answers, or
 * null). One read transaction: the links and the messages agree.
 */
void
ops_thread(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct store_conv_msg	*msgs = NULL;
	struct store_conv_node	*nodes = NULL;
	struct store_conv_placed placed;
	struct ops_row		 row;
	sqlite3_stmt		*s = NULL;
	size_t			 n = 0, nnodes = 0, i;
	long long		 thread = -1;
	char			 sql[512];
	const char		*which;
	int			 rc = SQLITE_DONE;

	(void)st;
	if (ops_row(db, r, json_integer_value(json_object_get(r->params,
	    "id")), &row) != 0)
		return;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		ops_fail_db(r, db);
		return;
	}
	/* The conversation (one of its own until it is threaded). */
	if ((s = ops_prepare(db, r, "SELECT coalesce(thread, -id) FROM "
	    "messages WHERE id = ?")) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, row.id);
	if (sqlite3_step(s) == SQLITE_ROW)
		thread = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	/* By the index on thread; an unthreaded message is alone. */
	which = thread > 0 ? "thread = ?1" : "id = -?1";
	snprintf(sql, sizeof sql, "SELECT id, coalesce(thread_key, '') FROM "
	    "messages WHERE %s ORDER BY id LIMIT ?2", which);
	if ((s = ops_prepare(db, r, sql)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, thread);
	sqlite3_bind_int64(s, 2, STORE_CONV_MAX);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		msgs = xreallocarray(msgs, n + 1, sizeof *msgs);
		msgs[n].id = sqlite3_column_int64(s, 0);
		msgs[n].key = xstrdup((const char *)sqlite3_column_text(s, 1));
		msgs[n].parent = 0;
		msgs[n++].depth = -1;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || (s = ops_prepare(db, r, "SELECT msgid, parent "
	    "FROM thread_nodes WHERE thread = ?")) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, thread);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		nodes = xreallocarray(nodes, nnodes + 1, sizeof *nodes);
		nodes[nnodes].msgid = xstrdup((const char *)
		    sqlite3_column_text(s, 0));
		nodes[nnodes++].parent = sqlite3_column_type(s, 1) ==
		    SQLITE_NULL ? NULL : xstrdup((const char *)
		    sqlite3_column_text(s, 1));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		goto fail;
	qsort(nodes, nnodes, sizeof *nodes, store_conv_node_cmp);
	store_conv_place(msgs, n, nodes, nnodes);
	snprintf(sql, sizeof sql, "SELECT " OPS_LIST_COLUMNS " FROM messages "
	    "m WHERE %s ORDER BY coalesce(date, added), id LIMIT ?2", which);
	if ((s = ops_prepare(db, r, sql)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, thread);
	sqlite3_bind_int64(s, 2, STORE_CONV_MAX);
	placed.msgs = msgs;
	placed.n = n;
	ops_text_rows(r, db, s, store_conv_entry, &placed);
	sqlite3_finalize(s);
	goto out;
fail:
	ops_fail_db(r, db);
out:
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	for (i = 0; i < n; i++)
		free(msgs[i].key);
	free(msgs);
	for (i = 0; i < nnodes; i++) {
		free(nodes[i].msgid);
		free(nodes[i].parent);
	}
	free(nodes);
}

/* A set of conversation ids (open addressing; 0 is never one). */
struct store_conv_set {
	long long	*v;
	size_t		 size;		/* a power of two */
	size_t		 n;
};

/* Add t; return 0 when it was there already. */
static int
store_conv_set_add(struct store_conv_set *set, long long t)
{
	struct store_conv_set	 big;
	size_t			 i, h;

	if (2 * (set->n + 1) > set->size) {
		big.size = set->size == 0 ? 256 : 2 * set->size;
		big.v = xcalloc(big.size, sizeof *big.v);
		big.n = 0;
		for (i = 0; i < set->size; i++)
			if (set->v[i] != 0)
				store_conv_set_add(&big, set->v[i]);
		free(set->v);
		*set = big;
	}
	h = (size_t)((unsigned long long)t * 0x9e3779b97f4a7c15ULL) &
	    (set->size - 1);
	while (set->v[h] != 0) {
		if (set->v[h] == t)
			return 0;
		h = (h + 1) & (set->size - 1);
	}
	set->v[h] = t;
	set->n++;
	return 1;
}

/* Bind the filters of a listing from 1 on; return the next index. */
static int
store_conv_bind(sqlite3_stmt *s, const char *folder, const char *account)
{
	int	 n = 0;

	if (folder != NULL)
		sqlite3_bind_text(s, ++n, folder, -1, SQLITE_STATIC);
	if (account != NULL)
		sqlite3_bind_text(s, ++n, account, -1, SQLITE_STATIC);
	return n + 1;
}

/*
 * list with threads (ops_list chose the messages: where, with folder and
 * account to bind): walk the chosen messages newest first, and for each
 * conversation met the first time, its newest chosen message with the
 * number of chosen messages and of those unread. A short listing reads
 * a few rows and a few small conversations, not the whole index.
 */
void
ops_list_threads(sqlite3 *db, struct ops_req *r, const char *where,
    const char *folder, const char *account)
{
	struct store_conv_set	 seen = { NULL, 0, 0 };
	struct ops_text		 text = { NULL, 0, 0 };
	sqlite3_stmt		*walk = NULL, *one[2] = { NULL, NULL }, *s;
	json_t			*p = r->params;
	long long		 limit = -1, offset, t, skipped = 0, rows = 0;
	char			 sql[1024], num[96];
	int			 rc, i, k;

	if (json_object_get(p, "limit") != NULL)
		limit = json_integer_value(json_object_get(p, "limit"));
	offset = json_integer_value(json_object_get(p, "offset"));
	snprintf(sql, sizeof sql, "SELECT coalesce(thread, -id) FROM messages "
	    "WHERE %s ORDER BY id DESC", where);
	if ((walk = ops_prepare(db, r, sql)) == NULL)
		return;
	for (i = 0; i < 2; i++) {
		snprintf(sql, sizeof sql, "SELECT " OPS_LIST_COLUMNS ", g.n, "
		    "g.unread FROM (SELECT max(id) AS top, count(*) AS n, "
		    "sum(instr(flags, 'S') = 0) AS unread FROM messages WHERE %s "
		    "AND %s) g JOIN messages m ON m.id = g.top", where,
		    i == 0 ? "thread = ?" : "id = ?");
		if ((one[i] = ops_prepare(db, r, sql)) == NULL)
			goto out;
	}
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	store_conv_bind(walk, folder, account);
	ops_text_raw(&text, "[");
	while (limit != 0 && (rc = sqlite3_step(walk)) == SQLITE_ROW) {
		t = sqlite3_column_int64(walk, 0);
		if (!store_conv_set_add(&seen, t) || skipped++ < offset)
			continue;
		s = one[t < 0];
		k = store_conv_bind(s, folder, account);
		sqlite3_bind_int64(s, k, t < 0 ? -t : t);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (rows++ > 0)
				ops_text_raw(&text, ",");
			ops_text_entry(&text, s);
			snprintf(num, sizeof num, ",\"count\":%lld,\"unread\":"
			    "%lld}", (long long)sqlite3_column_int64(s, 10),
			    (long long)sqlite3_column_int64(s, 11));
			ops_text_raw(&text, num);
		}
		sqlite3_reset(s);
		if (rc != SQLITE_ROW)
			break;
		if (limit > 0 && rows == limit) {
			rc = SQLITE_DONE;
			break;
		}
	}
	ops_text_raw(&text, "]");
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (limit == 0 || rc == SQLITE_DONE) {
		r->text = text.buf;
		r->textlen = text.len;
		text.buf = NULL;
		goto out;
	}
fail:
	ops_fail_db(r, db);
out:
	free(text.buf);
	free(seen.v);
	sqlite3_finalize(walk);
	sqlite3_finalize(one[0]);
	sqlite3_finalize(one[1]);
}
