/*
 * The long mailbox operations, run on the writer: reindex (make the index
 * agree with the Maildirs, finishing deliveries a crash cut short) and
 * refilter (apply the rules again and move what they now file elsewhere).
 * Both ask between messages whether the daemon is stopping and give up
 * if so.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "filter.h"
#include "store.h"
#include "store-int.h"

/* Run a statement without results; fail the request when it fails. */
static int
ops_exec(sqlite3 *db, struct ops_req *r, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	ops_fail_db(r, db);
	return -1;
}

/* The temporary disk table being filled by reindex. */
struct ops_scan {
	struct store	*st;
	sqlite3_stmt	*ins;
};

/* Record the message files of one folder in the temporary disk table. */
static int
ops_scan_cb(const char *account, const char *folder, void *arg)
{
	static const char *const subs[] = { "new", "cur" };
	struct ops_scan	*sc = arg;
	char		 path[OPS_PATH_MAX], base[OPS_NAME_MAX];
	char		 flags[OPS_FLAGS_MAX];
	struct dirent	*me;
	DIR		*md;
	size_t		 i;
	int		 dfd;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s/%s", account, folder,
		    subs[i]);
		if ((dfd = openat(sc->st->dirfd, path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			continue;
		if ((md = fdopendir(dfd)) == NULL) {
			close(dfd);
			continue;
		}
		while ((me = readdir(md)) != NULL) {
			if (me->d_name[0] == '.' || store_flags_parse(me->d_name,
			    base, sizeof base, flags, sizeof flags) != 0)
				continue;
			sqlite3_bind_text(sc->ins, 1, account, -1, SQLITE_STATIC);
			sqlite3_bind_text(sc->ins, 2, folder, -1, SQLITE_STATIC);
			sqlite3_bind_text(sc->ins, 3, subs[i], -1, SQLITE_STATIC);
			sqlite3_bind_text(sc->ins, 4, base, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(sc->ins, 5, flags, -1, SQLITE_TRANSIENT);
			sqlite3_step(sc->ins);
			sqlite3_reset(sc->ins);
		}
		closedir(md);
	}
	return 0;
}

/*
 * Finish deliveries a crash cut short between recording and renaming
 * (what store_recover does at the first poll): a recorded message whose
 * file is still in Inbox/tmp is moved into place before reindex would
 * otherwise forget it.
 */
static void
ops_reindex_tmp(struct store *st, sqlite3 *db, struct ops_req *r,
    sqlite3_stmt *ins)
{
	sqlite3_stmt	*s;
	char		 from[OPS_PATH_MAX], to[OPS_PATH_MAX];
	const char	*account, *folder, *file, *tmp;
	char		*cause = NULL;

	/* A delivery's final name is its tmp name, ",S=" and its size. */
	if ((s = ops_prepare(db, r, "SELECT account, folder, file, substr(file, "
	    "1, instr(file, ',S=') - 1) FROM messages m WHERE instr(file, "
	    "',S=') > 1 AND account IN (SELECT account FROM scanned) AND NOT "
	    "EXISTS (SELECT 1 FROM disk d WHERE d.account = m.account AND "
	    "d.base = m.file)")) == NULL)
		return;
	while (sqlite3_step(s) == SQLITE_ROW) {
		account = (const char *)sqlite3_column_text(s, 0);
		folder = (const char *)sqlite3_column_text(s, 1);
		file = (const char *)sqlite3_column_text(s, 2);
		tmp = (const char *)sqlite3_column_text(s, 3);
		snprintf(from, sizeof from, "%s/" FILTER_INBOX "/tmp/%s", account,
		    tmp);
		snprintf(to, sizeof to, "%s/%s/new/%s", account, folder, file);
		if (faccessat(st->dirfd, from, F_OK, 0) != 0 ||
		    store_mkfolder(st, account, folder, &cause) != 0 ||
		    renameat(st->dirfd, from, st->dirfd, to) != 0) {
			free(cause);
			cause = NULL;
			continue;
		}
		log_info("account=%s recovered %s into %s/new", account, from,
		    folder);
		sqlite3_bind_text(ins, 1, account, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 2, folder, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 3, "new", -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, file, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 5, "", -1, SQLITE_STATIC);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(s);
}

/* Read and record the header fields of one message file. */
static int
ops_digest_row(struct store *st, sqlite3_stmt *up, struct ops_row *row,
    long long id)
{
	struct store_info	 info;
	struct stat		 sb;
	char			 path[OPS_PATH_MAX], *cause = NULL;
	int			 fd, rc;

	ops_path(row, path, sizeof path);
	if ((fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) != 0 || store_digest(fd, sb.st_size, NULL,
	    &info, 1, NULL) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	store_bind_info(up, 1, &info);
	sqlite3_bind_int64(up, 8, sb.st_size);
	sqlite3_bind_int64(up, 9, sb.st_mtime);
	sqlite3_bind_text(up, 10, row->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(up, 11, row->folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(up, 12, row->file, -1, SQLITE_STATIC);
	sqlite3_bind_text(up, 13, row->dir, -1, SQLITE_STATIC);
	sqlite3_bind_text(up, 14, row->flags, -1, SQLITE_STATIC);
	if (id != 0)
		sqlite3_bind_int64(up, 15, id);
	rc = sqlite3_step(up) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(up);
	/* Its search text, in the same transaction. */
	if (rc == 0 && store_search_add(st, sqlite3_db_handle(up), id != 0 ?
	    id : sqlite3_last_insert_rowid(sqlite3_db_handle(up)), info.date,
	    info.text, &cause) != 0) {
		log_warnx("reindex: %s", cause);
		free(cause);
		rc = -1;
	}
	/* Threaded with the others, from the index, once all are in. */
	if (rc == 0 && store_conversation_keep(st, sqlite3_db_handle(up),
	    id != 0 ? id : sqlite3_last_insert_rowid(sqlite3_db_handle(up)),
	    &info) != 0)
		rc = -1;
	store_info_free(&info);
	return rc;
}

/* Give up a long job because the daemon is stopping. */
static void
ops_stopping(struct ops_req *r, const char *what)
{
	log_info("%s interrupted: the daemon is stopping", what);
	ops_fail(r, JSONRPC_ERR_TEMPFAIL, "%s interrupted: the daemon is "
	    "stopping", what);
}

/*
 * reindex: make the index agree with the Maildirs. A file is known by its
 * unique base name, so a message another program moved or flagged keeps
 * its id; a file the index lacks is read and added; a row whose file is
 * gone is dropped; rows from before the header fields were kept are
 * filled in; then every message is threaded again (store-conversation.c).
 * It is one transaction: stopped half-way, the index is as it was before.
 */
void
ops_reindex(struct store *st, sqlite3 *db, struct ops_req *r)
{
	const char	*account = json_string_value(json_object_get(r->params,
			    "account"));
	sqlite3_stmt	*ins = NULL, *sc = NULL, *sel = NULL, *up = NULL;
	sqlite3_stmt	*fill = NULL, *all = NULL;
	struct ops_scan	 scan;
	struct dirent	*ae;
	struct ops_row	 row;
	DIR		*ad;
	long long	 added = 0, removed = 0, updated = 0, filled = 0;
	long long	 threaded = 0;
	size_t		 nsel = 0;	/* rows of sel read */
	int		 dfd, rc;

	if (ops_exec(db, r, "CREATE TEMP TABLE IF NOT EXISTS disk (account "
	    "TEXT, folder TEXT, dir TEXT, base TEXT, flags TEXT, PRIMARY KEY "
	    "(account, base)) WITHOUT ROWID; CREATE TEMP TABLE IF NOT EXISTS "
	    "scanned (account TEXT PRIMARY KEY); DELETE FROM disk; "
	    "DELETE FROM scanned; BEGIN IMMEDIATE") != 0)
		return;
	if ((ins = ops_prepare(db, r, "INSERT OR IGNORE INTO disk VALUES "
	    "(?, ?, ?, ?, ?)")) == NULL || (sc = ops_prepare(db, r, "INSERT OR "
	    "IGNORE INTO scanned VALUES (?)")) == NULL)
		goto out;
	scan.st = st;
	scan.ins = ins;
	if ((dfd = dup(st->dirfd)) != -1 && (ad = fdopendir(dfd)) != NULL) {
		rewinddir(ad);
		while ((ae = readdir(ad)) != NULL) {
			if (ae->d_name[0] == '.' || ae->d_type == DT_REG ||
			    (account != NULL && strcmp(account, ae->d_name)))
				continue;
			sqlite3_bind_text(sc, 1, ae->d_name, -1, SQLITE_STATIC);
			sqlite3_step(sc);
			sqlite3_reset(sc);
			ops_walk(st, ae->d_name, ops_scan_cb, &scan);
		}
		closedir(ad);
	}
	if (r->error != NULL)
		goto out;
	ops_reindex_tmp(st, db, r, ins);
	if (ops_exec(db, r, "UPDATE messages SET folder = d.folder, dir = "
	    "d.dir, flags = d.flags FROM disk d WHERE messages.account = "
	    "d.account AND messages.file = d.base AND (messages.folder != "
	    "d.folder OR messages.dir != d.dir OR messages.flags != d.flags)")
	    != 0)
		goto out;
	updated = sqlite3_changes(db);
	if (ops_exec(db, r, "DELETE FROM messages WHERE account IN (SELECT "
	    "account FROM scanned) AND NOT EXISTS (SELECT 1 FROM disk d WHERE "
	    "d.account = messages.account AND d.base = messages.file)") != 0)
		goto out;
	removed = sqlite3_changes(db);
	/* New files, and rows from before version 2 of the index. */
	if ((sel = ops_prepare(db, r, "SELECT d.account, d.folder, d.dir, "
	    "d.base, d.flags, m.id FROM disk d LEFT JOIN messages m ON "
	    "m.account = d.account AND m.file = d.base WHERE m.id IS NULL OR "
	    "m.date IS NULL OR m.search_key IS NULL")) == NULL ||
	    (up = ops_prepare(db, r, "INSERT INTO messages (from_hdr, subject, "
	    "to_hdr, cc_hdr, date, message_id, attachments, size, added, "
	    "account, folder, file, dir, flags) VALUES (?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?)")) == NULL ||
	    (fill = ops_prepare(db, r, "UPDATE messages SET from_hdr = ?1, "
	    "subject = ?2, to_hdr = ?3, cc_hdr = ?4, date = ?5, message_id = "
	    "?6, attachments = ?7, size = ?8, added = coalesce(added, ?9), "
	    "folder = ?11, file = ?12, dir = ?13, flags = ?14 WHERE id = ?15 "
	    "AND account = ?10")) == NULL)
		goto out;
	while (sqlite3_step(sel) == SQLITE_ROW) {
		if (nsel++ % 64 == 0 && store_stopping(st)) {
			ops_stopping(r, "reindex");
			goto out;
		}
		memset(&row, 0, sizeof row);
		ops_col(sel, 0, row.account, sizeof row.account);
		ops_col(sel, 1, row.folder, sizeof row.folder);
		ops_col(sel, 2, row.dir, sizeof row.dir);
		ops_col(sel, 3, row.file, sizeof row.file);
		ops_col(sel, 4, row.flags, sizeof row.flags);
		if (sqlite3_column_type(sel, 5) == SQLITE_NULL) {
			if (ops_digest_row(st, up, &row, 0) == 0)
				added++;
		} else if (ops_digest_row(st, fill, &row,
		    sqlite3_column_int64(sel, 5)) == 0)
			filled++;
	}
	/* Every conversation again, in the order the messages came. */
	if (ops_exec(db, r, "DELETE FROM thread_nodes") != 0 ||
	    (all = ops_prepare(db, r, "SELECT id, "
	    "account, folder, dir, file, flags, coalesce(date, added), "
	    STORE_CONV_KEPT " FROM messages ORDER BY id")) == NULL)
		goto out;
	/*
	 * (A 64 MiB page cache for this cut its time by a third, but the
	 * daemon kept the memory after: 76 MiB resident instead of 12.)
	 */
	if ((rc = store_conversation_redo(st, db, all, &threaded)) == -1)
		ops_fail_db(r, db);
	else if (rc == 1)
		ops_stopping(r, "reindex");
	if (rc != 0)
		goto out;
	if (ops_exec(db, r, "COMMIT") != 0)
		goto out;
	r->result = json_pack("{s:I, s:I, s:I, s:I, s:I}", "added",
	    (json_int_t)added, "removed", (json_int_t)removed, "updated",
	    (json_int_t)updated, "refreshed", (json_int_t)filled, "threaded",
	    (json_int_t)threaded);
out:
	if (r->error != NULL)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(ins);
	sqlite3_finalize(sc);
	sqlite3_finalize(sel);
	sqlite3_finalize(up);
	sqlite3_finalize(fill);
	sqlite3_finalize(all);
}

/*
 * refilter: apply the rules again to the messages of one folder, or of
 * Inbox and the rules' own folders; move those the rules now file
 * elsewhere, except those the user filed by hand (mv). With dry_run, move
 * nothing: the result lists what would move.
 */
void
ops_refilter(struct store *st, sqlite3 *db, struct ops_req *r)
{
	const char	*name = json_string_value(json_object_get(r->params,
			    "folder"));
	int		 dry = json_is_true(json_object_get(r->params,
			    "dry_run"));
	struct filter	*f = store_filter(st);
	struct store_info info;
	struct store_rbuf rb = { NULL };
	struct ops_row	*rows = NULL;
	const char	**folders;
	sqlite3_stmt	*s;
	json_t		*moves = json_array();
	char		 canon[OPS_NAME_MAX];
	size_t		 n = 0, i, nf, k;
	int		 fd, in;
	long long	 checked = 0, moved = 0, by_hand = 0;

	if (name != NULL && ops_folder(st, r, name, canon, sizeof canon, 0) != 0)
		goto out;
	if ((s = ops_prepare(db, r, "SELECT id, folder, by_hand FROM messages "
	    "ORDER BY id")) == NULL)
		goto out;
	nf = f != NULL ? filter_folders(f, &folders) : 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *folder = (const char *)sqlite3_column_text(s, 1);

		in = name != NULL ? strcmp(folder, canon) == 0 :
		    strcmp(folder, FILTER_INBOX) == 0;
		for (k = 0; name == NULL && !in && k < nf; k++)
			in = strcmp(folder, folders[k]) == 0;
		if (!in)
			continue;
		if (sqlite3_column_int(s, 2) != 0) {
			by_hand++;	/* where the user put it */
			continue;
		}
		rows = xreallocarray(rows, n + 1, sizeof *rows);
		rows[n++].id = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	for (i = 0; i < n && r->error == NULL; i++) {
		if (i % 64 == 0 && store_stopping(st)) {
			ops_stopping(r, "refilter");
			break;
		}
		if (ops_row(db, r, rows[i].id, &rows[i]) != 0 ||
		    (fd = ops_open(st, r, &rows[i])) == -1)
			break;
		checked++;
		if (store_digest(fd, rows[i].size, f, &info, 0, &rb) == 0) {
			if (strcmp(info.folder, rows[i].folder) != 0) {
				struct ops_row one = rows[i];

				if (!dry) {
					ops_change(st, db, r, &one, 1,
					    info.folder, -1, 0);
					json_decref(r->result);
					r->result = NULL;
				}
				if (r->error == NULL) {
					json_array_append_new(moves, json_pack(
					    "{s:I, s:s, s:s, s:s?}", "id",
					    (json_int_t)rows[i].id,
					    "from_folder", rows[i].folder,
					    "to_folder", info.folder,
					    "subject", info.subject));
					moved += !dry;
				}
			}
			store_info_free(&info);
		}
		close(fd);
	}
	if (r->error == NULL)
		r->result = json_pack("{s:I, s:I, s:I, s:b, s:O}", "checked",
		    (json_int_t)checked, "moved", (json_int_t)moved, "by_hand",
		    (json_int_t)by_hand, "dry_run", dry, "moves", moves);
out:
	store_rbuf_free(&rb);
	json_decref(moves);
	free(rows);
	filter_free(f);
}
