/*
 * The mailbox operations that change where a message is or its flags,
 * run on the writer: mark (the read flag), move (into another folder) and
 * delete (into Trash, or for good). Each renames the files first, then
 * records the rows in one transaction, then flushes the directories it
 * renamed in; a crash in between is repaired as store-ops.c describes.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "store.h"
#include "store-int.h"

/* Directories a change renamed in, flushed once at its end. */
struct ops_dirs {
	char		**paths;
	size_t		  n;
};

/* Remember a directory to flush. */
static void
ops_dirs_add(struct ops_dirs *d, const char *account, const char *folder,
    const char *dir)
{
	char	*p;
	size_t	 i;

	xasprintf(&p, "%s/%s/%s", account, folder, dir);
	for (i = 0; i < d->n; i++) {
		if (strcmp(d->paths[i], p) == 0) {
			free(p);
			return;
		}
	}
	d->paths = xreallocarray(d->paths, d->n + 1, sizeof *d->paths);
	d->paths[d->n++] = p;
}

/* Flush and forget the directories; fail the request when one fails. */
static void
ops_dirs_sync(struct store *st, struct ops_req *r, struct ops_dirs *d)
{
	size_t	 i;
	int	 fd;

	for (i = 0; i < d->n; i++) {
		fd = openat(st->dirfd, d->paths[i], O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
		if (fd == -1 || fsync(fd) != 0)
			ops_fail(r, JSONRPC_ERR_FAILED, "cannot flush %s: %s",
			    d->paths[i], strerror(errno));
		if (fd != -1)
			close(fd);
		free(d->paths[i]);
	}
	free(d->paths);
	d->paths = NULL;
	d->n = 0;
}

/*
 * Move a message's file to FOLDER/DIR with flags (any of them may be the
 * same as now) and update the row in memory; the caller records it.
 */
static int
ops_relocate(struct store *st, struct ops_req *r, struct ops_row *row,
    const char *folder, const char *dir, const char *flags,
    struct ops_dirs *dirs)
{
	struct ops_row	 to = *row;
	char		 from[OPS_PATH_MAX], path[OPS_PATH_MAX];
	char		*cause = NULL;

	snprintf(to.folder, sizeof to.folder, "%s", folder);
	snprintf(to.dir, sizeof to.dir, "%s", dir);
	snprintf(to.flags, sizeof to.flags, "%s", flags);
	to.real[0] = '\0';
	if (strcmp(folder, row->folder) != 0 &&
	    store_mkfolder(st, row->account, folder, &cause) != 0) {
		ops_fail(r, JSONRPC_ERR_FAILED, "%s", cause);
		free(cause);
		return -1;
	}
	ops_path(row, from, sizeof from);
	ops_path(&to, path, sizeof path);
	if (strcmp(from, path) == 0)
		return 0;
	if (renameat(st->dirfd, from, st->dirfd, path) != 0) {
		if (errno != ENOENT || ops_search(st, row) != 0) {
			ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: cannot "
			    "move %s: %s", row->id, from, strerror(errno));
			return -1;
		}
		ops_path(row, from, sizeof from);
		if (strcmp(from, path) != 0 && renameat(st->dirfd, from,
		    st->dirfd, path) != 0) {
			ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: cannot "
			    "move %s: %s", row->id, from, strerror(errno));
			return -1;
		}
	}
	ops_dirs_add(dirs, row->account, row->folder, row->dir);
	ops_dirs_add(dirs, to.account, to.folder, to.dir);
	*row = to;
	return 0;
}

/* Record a row's place and flags. */
static int
ops_update(sqlite3 *db, struct ops_req *r, const struct ops_row *row)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = ops_prepare(db, r, "UPDATE messages SET folder = ?, dir = ?, "
	    "flags = ? WHERE id = ?")) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, row->folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, row->dir, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, row->flags, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, row->id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	if (rc != 0)
		ops_fail_db(r, db);
	sqlite3_finalize(s);
	return rc;
}

/*
 * The change could not be recorded (a full disk, say): put each file it
 * moved back where it was (was[i]), so that the files and the index agree
 * as before. A rename needs no room.
 */
static void
ops_undo(struct store *st, struct ops_row *rows, size_t n, char **was)
{
	char	 path[OPS_PATH_MAX];
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (was[i] == NULL)
			continue;
		ops_path(&rows[i], path, sizeof path);
		if (renameat(st->dirfd, path, st->dirfd, was[i]) != 0)
			log_warn("message %lld: cannot move %s back to %s",
			    rows[i].id, path, was[i]);
		rows[i].changed = 0;
	}
}

/* Look up every id of params.ids; fail on the first unknown one. */
static struct ops_row *
ops_rows(sqlite3 *db, struct ops_req *r, size_t *n)
{
	json_t		*ids = json_object_get(r->params, "ids"), *v;
	struct ops_row	*rows;
	size_t		 i;

	*n = json_array_size(ids);
	if (*n == 0) {
		ops_fail(r, JSONRPC_INVALID_PARAMS, "ids: expected at least "
		    "one message id");
		return NULL;
	}
	rows = xcalloc(*n, sizeof *rows);
	json_array_foreach(ids, i, v) {
		if (ops_row(db, r, json_integer_value(v), &rows[i]) != 0) {
			free(rows);
			return NULL;
		}
	}
	return rows;
}

/* Add or remove one flag letter, keeping the flags in ASCII order. */
void
ops_flag(const char *flags, char flag, int on, char *out, size_t size)
{
	char	 set[128] = { 0 };
	size_t	 i, n = 0;

	for (i = 0; flags[i] != '\0'; i++)
		if ((unsigned char)flags[i] < 128)
			set[(unsigned char)flags[i]] = 1;
	set[(unsigned char)flag] = on;
	for (i = 33; i < 127 && n + 1 < size; i++)
		if (set[i])
			out[n++] = i;
	out[n] = '\0';
}

/* Is the integer id in the array ids? */
static int
ops_id_in(json_t *ids, json_t *id)
{
	json_t	*v;
	size_t	 i;

	json_array_foreach(ids, i, v)
		if (json_integer_value(v) == json_integer_value(id))
			return 1;
	return 0;
}

/* Record that the user filed a message by hand (refilter leaves it). */
static int
ops_by_hand(sqlite3 *db, struct ops_req *r, long long id)
{
	sqlite3_stmt	*s;
	int		 rc;

	if ((s = ops_prepare(db, r, "UPDATE messages SET by_hand = 1 WHERE "
	    "id = ?")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	if (rc != 0)
		ops_fail_db(r, db);
	sqlite3_finalize(s);
	return rc;
}

/*
 * Apply one change to each row: with folder NULL the message stays where
 * it is; with flag, that Maildir flag is set (on) or cleared, and the
 * message goes to cur/; with by_hand, each row is recorded as filed by the
 * user (mv), in the same transaction; with r->push_seen, a read state (S)
 * is queued for the IMAP server in it too (store-imap.c). Renames first,
 * then one transaction, then the directories are flushed.
 */
void
ops_change_flag(struct store *st, sqlite3 *db, struct ops_req *r,
    struct ops_row *rows, size_t n, const char *folder, char flag, int on,
    int by_hand)
{
	struct ops_dirs	 dirs = { NULL, 0 };
	char		 flags[OPS_FLAGS_MAX], path[OPS_PATH_MAX], **was;
	size_t		 i, changed = 0;
	json_t		*ids = json_array();

	was = xcalloc(n + 1, sizeof *was);	/* where a moved file was */

	for (i = 0; i < n && r->error == NULL; i++) {
		/* Start from the flags the file has now, if it moved. */
		ops_path(&rows[i], path, sizeof path);
		if (faccessat(st->dirfd, path, F_OK, 0) != 0 && errno == ENOENT)
			ops_search(st, &rows[i]);
		if (flag != 0)
			ops_flag(rows[i].flags, flag, on, flags, sizeof flags);
		else
			snprintf(flags, sizeof flags, "%s", rows[i].flags);
		/* A message a reader has seen belongs in cur/. */
		if ((folder == NULL || strcmp(folder, rows[i].folder) == 0) &&
		    strcmp(flags, rows[i].flags) == 0 && (flag == 0 ||
		    strcmp(rows[i].dir, "cur") == 0)) {
			/* In place already; the index may still lag. */
			rows[i].changed = rows[i].stale;
			continue;
		}
		ops_path(&rows[i], path, sizeof path);
		if (ops_relocate(st, r, &rows[i], folder != NULL ? folder :
		    rows[i].folder, flag != 0 ? "cur" : rows[i].dir, flags,
		    &dirs) != 0)
			break;
		was[i] = xstrdup(path);
		rows[i].changed = 1;
		changed++;
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		ops_fail_db(r, db);
	for (i = 0; i < n && r->error == NULL; i++) {
		if (rows[i].changed && ops_update(db, r, &rows[i]) == 0)
			json_array_append_new(ids, json_integer(rows[i].id));
		if (by_hand && r->error == NULL)
			ops_by_hand(db, r, rows[i].id);
		/* In this transaction: a crash keeps both or neither. */
		if (r->push_seen && flag == 'S' && r->error == NULL)
			store_imap_queue(st, db, r, &rows[i], on);
		if (r->push_delete && r->error == NULL)
			store_imap_queue(st, db, r, &rows[i],
			    STORE_IMAP_DELETE);
	}
	if (r->error != NULL || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		ops_fail_db(r, db);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		ops_undo(st, rows, n, was);
	}
	ops_dirs_sync(st, r, &dirs);
	for (i = 0; i < n; i++)
		free(was[i]);
	free(was);
	if (r->error == NULL)
		r->result = json_pack("{s:I, s:o}", "changed",
		    (json_int_t)changed, "ids", ids);
	else
		json_decref(ids);
}

/* The same, for the read flag: read 1 or 0 sets or clears S, -1 none. */
void
ops_change(struct store *st, sqlite3 *db, struct ops_req *r,
    struct ops_row *rows, size_t n, const char *folder, int read, int by_hand)
{
	ops_change_flag(st, db, r, rows, n, folder, read != -1 ? 'S' : 0,
	    read, by_hand);
}

/* The flags mark sets or clears, by its params' names (Maildir letters). */
static const struct {
	const char	*param;
	char		 flag;
} ops_mark_flags[] = {
	{ "read", 'S' }, { "flagged", 'F' }, { "replied", 'R' },
	{ "forwarded", 'P' },
};

/*
 * mark: set or clear the read (S), flagged (F), replied (R) or forwarded
 * (P) flags, and queue the read state for the IMAP server of an account
 * that syncs it. One change per flag; changed counts the messages changed.
 */
void
ops_mark(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	*rows;
	json_t		*v, *ids = json_array(), *id;
	json_int_t	 changed = 0;
	size_t		 n, i, j;

	if ((rows = ops_rows(db, r, &n)) == NULL) {
		json_decref(ids);
		return;
	}
	r->push_seen = 1;
	for (i = 0; i < sizeof ops_mark_flags / sizeof ops_mark_flags[0] && r->error == NULL; i++) {
		if ((v = json_object_get(r->params,
		    ops_mark_flags[i].param)) == NULL)
			continue;
		json_decref(r->result);
		r->result = NULL;
		ops_change_flag(st, db, r, rows, n, NULL,
		    ops_mark_flags[i].flag, json_is_true(v), 0);
		if (r->result == NULL)
			break;
		changed += json_integer_value(json_object_get(r->result,
		    "changed"));
		json_array_foreach(json_object_get(r->result, "ids"), j, id)
			if (!ops_id_in(ids, id))
				json_array_append(ids, id);
	}
	if (r->result != NULL) {
		json_object_set_new(r->result, "changed", json_integer(changed));
		json_object_set_new(r->result, "ids", ids);
	} else
		json_decref(ids);
	free(rows);
}

/*
 * move: file messages into another folder of their account, recorded as
 * placed by hand.
 */
void
ops_move(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	*rows;
	char		 folder[OPS_NAME_MAX];
	size_t		 n;

	if (ops_folder(st, r, json_string_value(json_object_get(r->params,
	    "folder")), folder, sizeof folder, 1) != 0 ||
	    (rows = ops_rows(db, r, &n)) == NULL)
		return;
	ops_change(st, db, r, rows, n, folder, -1, 1);
	if (r->result != NULL)
		json_object_set_new(r->result, "folder", json_string(folder));
	free(rows);
}

/*
 * delete: move messages to Trash; with purge, remove them for good (file
 * first, then the row). A message in Trash already is removed only with
 * purge: without it the request is refused before anything changes, so a
 * second rm never destroys mail silently.
 */
void
ops_delete(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	*rows;
	struct ops_dirs	 dirs = { NULL, 0 };
	sqlite3_stmt	*s;
	char		 path[OPS_PATH_MAX];
	int		 purge = json_is_true(json_object_get(r->params, "purge"));
	size_t		 n, i, j, npurge = 0;
	json_t		*purged;

	if ((rows = ops_rows(db, r, &n)) == NULL)
		return;
	for (i = 0; i < n && !purge; i++) {
		if (strcmp(rows[i].folder, "Trash") == 0) {
			ops_fail(r, JSONRPC_ERR_DATA, "message %lld is in Trash "
			    "already: remove it for good with purge (mailctl rm "
			    "--purge); nothing was changed", rows[i].id);
			free(rows);
			return;
		}
	}
	for (i = 0; i < n && r->error == NULL; i++) {
		if (!purge)
			continue;
		ops_path(&rows[i], path, sizeof path);
		if (unlinkat(st->dirfd, path, 0) != 0 && (errno != ENOENT ||
		    (ops_search(st, &rows[i]) == 0 && (ops_path(&rows[i], path,
		    sizeof path), unlinkat(st->dirfd, path, 0) != 0)))) {
			ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: cannot "
			    "remove %s: %s", rows[i].id, path, strerror(errno));
			break;
		}
		ops_dirs_add(&dirs, rows[i].account, rows[i].folder,
		    rows[i].dir);
		rows[i].size = -1;	/* purged */
		npurge++;
	}
	purged = json_array();
	if (npurge > 0 && (s = ops_prepare(db, r, "DELETE FROM messages WHERE "
	    "id = ?")) != NULL) {
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		for (i = 0; i < n; i++) {
			if (rows[i].size != -1)
				continue;
			/* Queued before its row goes, in one transaction. */
			if (r->error == NULL)
				store_imap_queue(st, db, r, &rows[i],
				    STORE_IMAP_DELETE);
			sqlite3_bind_int64(s, 1, rows[i].id);
			if (sqlite3_step(s) != SQLITE_DONE)
				ops_fail_db(r, db);
			sqlite3_reset(s);
			json_array_append_new(purged, json_integer(rows[i].id));
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_finalize(s);
	}
	ops_dirs_sync(st, r, &dirs);
	/* The rest go to Trash. */
	for (i = j = 0; i < n; i++)
		if (rows[i].size != -1)
			rows[j++] = rows[i];
	n = j;
	if (r->error == NULL && n > 0) {
		r->push_delete = 1;
		ops_change(st, db, r, rows, n, "Trash", -1, 0);
		if (r->result != NULL)
			json_object_set_new(r->result, "purged", purged);
	} else if (r->error == NULL)
		r->result = json_pack("{s:i, s:[], s:o}", "changed", 0, "ids",
		    "purged", purged);
	if (r->result == NULL)
		json_decref(purged);
	free(rows);
}
