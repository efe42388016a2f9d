/*
 * The mailbox operations that only read, run on the reader thread: list
 * (messages, newest first), folders (every Maildir with its counts), read
 * (a message decoded, or the path of its file) and attachments (listed,
 * or saved into a directory). A message read is marked read afterwards,
 * on the writer (store-ops.c).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonrpc.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "compose.h"
#include "mime.h"
#include "store.h"
#include "store-int.h"

/*
 * A listing is written as JSON text (store_request_text, struct ops_text):
 * with 50,000 messages, building them as objects and encoding them took
 * the loop over a second; this writes each row straight into one buffer
 * on the reader thread.
 */

/* Make room for n more bytes. */
char *
ops_text_room(struct ops_text *t, size_t n)
{
	if (t->len + n > t->size) {
		t->size = t->size == 0 ? 65536 : t->size;
		while (t->len + n > t->size)
			t->size *= 2;
		t->buf = xreallocarray(t->buf, 1, t->size);
	}
	return t->buf + t->len;
}

/* Append a C string as it is. */
void
ops_text_raw(struct ops_text *t, const char *s)
{
	size_t	 n = strlen(s);

	memcpy(ops_text_room(t, n), s, n);
	t->len += n;
}

/*
 * Append s as a JSON string (null for NULL): quotes, backslashes and
 * control characters escaped, bytes that are not UTF-8 as U+FFFD.
 */
void
ops_text_string(struct ops_text *t, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 left, n;
	char			*o;

	if (s == NULL) {
		ops_text_raw(t, "null");
		return;
	}
	left = strlen(s);
	/* At most 6 bytes out per byte in ("\u001f"), and the quotes. */
	o = ops_text_room(t, 6 * left + 2);
	*o++ = '"';
	while (left > 0) {
		if (*p == '"' || *p == '\\') {
			*o++ = '\\';
			*o++ = *p++;
			left--;
		} else if (*p < 0x20) {
			o += sprintf(o, "\\u%04x", *p++);
			left--;
		} else if (*p < 0x80) {
			*o++ = *p++;
			left--;
		} else if ((n = utf8_decode(p, left, NULL)) > 0) {
			memcpy(o, p, n);
			o += n;
			p += n;
			left -= n;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
			p++;
			left--;
		}
	}
	*o++ = '"';
	t->len = o - t->buf;
}

/* A Maildir flag's state as JSON text. */
static const char *
ops_has(const char *flags, char flag)
{
	return flags != NULL && strchr(flags, flag) != NULL ? "true" : "false";
}

/*
 * Append a list entry from a row of a listing's query (OPS_LIST_COLUMNS:
 * ops_list's, a search's, a thread's), the object left open for more
 * members.
 */
void
ops_text_entry(struct ops_text *t, sqlite3_stmt *s)
{
	const char	*flags = (const char *)sqlite3_column_text(s, 7);
	time_t		 date = sqlite3_column_int64(s, 5);
	struct tm	 tm;
	char		 num[160];

	snprintf(num, sizeof num, "{\"id\":%lld,\"account\":",
	    (long long)sqlite3_column_int64(s, 0));
	ops_text_raw(t, num);
	ops_text_string(t, (const char *)sqlite3_column_text(s, 1));
	ops_text_raw(t, ",\"folder\":");
	ops_text_string(t, (const char *)sqlite3_column_text(s, 2));
	ops_text_raw(t, ",\"from\":");
	ops_text_string(t, (const char *)sqlite3_column_text(s, 3));
	ops_text_raw(t, ",\"subject\":");
	ops_text_string(t, (const char *)sqlite3_column_text(s, 4));
	/* As jsonrpc_time: ISO 8601 UTC, or null for 0. */
	if (date != 0 && gmtime_r(&date, &tm) != NULL)
		strftime(num, sizeof num, ",\"date\":\"%Y-%m-%dT%H:%M:%SZ\"",
		    &tm);
	else
		snprintf(num, sizeof num, ",\"date\":null");
	ops_text_raw(t, num);
	snprintf(num, sizeof num, ",\"size\":%lld,\"read\":%s,"
	    "\"flagged\":%s,\"replied\":%s,\"forwarded\":%s,"
	    "\"attachments\":%lld,\"flags\":",
	    (long long)sqlite3_column_int64(s, 6), ops_has(flags, 'S'),
	    ops_has(flags, 'F'), ops_has(flags, 'R'), ops_has(flags, 'P'),
	    (long long)sqlite3_column_int64(s, 8));
	ops_text_raw(t, num);
	ops_text_string(t, flags != NULL ? flags : "");
	if (sqlite3_column_type(s, 9) == SQLITE_NULL)
		ops_text_raw(t, ",\"thread\":null");
	else {
		snprintf(num, sizeof num, ",\"thread\":%lld",
		    (long long)sqlite3_column_int64(s, 9));
		ops_text_raw(t, num);
	}
}

/*
 * Answer with the rows of a listing's statement s (OPS_LIST_COLUMNS first)
 * as a JSON array: each entry, what more(t, s, arg) adds to it (when more
 * is not NULL), closed. A database error fails the request instead.
 */
void
ops_text_rows(struct ops_req *r, sqlite3 *db, sqlite3_stmt *s,
    void (*more)(struct ops_text *, sqlite3_stmt *, void *), void *arg)
{
	struct ops_text	 text = { NULL, 0, 0 };
	size_t		 rows = 0;
	int		 rc;

	ops_text_raw(&text, "[");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (rows++ > 0)
			ops_text_raw(&text, ",");
		ops_text_entry(&text, s);
		if (more != NULL)
			more(&text, s, arg);
		ops_text_raw(&text, "}");
	}
	ops_text_raw(&text, "]");
	if (rc != SQLITE_DONE) {
		ops_fail_db(r, db);
		free(text.buf);
		return;
	}
	r->text = text.buf;
	r->textlen = text.len;
}

/*
 * list: messages, newest first, by folder, account, unread (as text).
 * With threads, one entry per conversation instead (ops_list_threads).
 */
void
ops_list(struct store *st, sqlite3 *db, struct ops_req *r)
{
	json_t		*p = r->params;
	const char	*folder, *account;
	char		 canon[OPS_NAME_MAX], sql[1024], where[128];
	sqlite3_stmt	*s;
	int		 n = 0, threads;

	folder = json_string_value(json_object_get(p, "folder"));
	account = json_string_value(json_object_get(p, "account"));
	threads = json_is_true(json_object_get(p, "threads"));
	if (folder != NULL && ops_folder(st, r, folder, canon,
	    sizeof canon, 0) != 0)
		return;
	snprintf(where, sizeof where, "1%s%s%s",
	    folder != NULL ? " AND folder = ?" : "",
	    account != NULL ? " AND account = ?" : "",
	    json_is_true(json_object_get(p, "unread")) ?
	    " AND instr(flags, 'S') = 0" : "");
	if (threads) {
		ops_list_threads(db, r, where, folder != NULL ? canon : NULL,
		    account);
		return;
	}
	snprintf(sql, sizeof sql, "SELECT " OPS_LIST_COLUMNS " FROM "
	    "messages m WHERE %s ORDER BY id DESC LIMIT ? OFFSET ?", where);
	if ((s = ops_prepare(db, r, sql)) == NULL)
		return;
	if (folder != NULL)
		sqlite3_bind_text(s, ++n, canon, -1, SQLITE_STATIC);
	if (account != NULL)
		sqlite3_bind_text(s, ++n, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, ++n, json_object_get(p, "limit") != NULL ?
	    json_integer_value(json_object_get(p, "limit")) : -1);
	sqlite3_bind_int64(s, ++n, json_integer_value(json_object_get(p,
	    "offset")));
	ops_text_rows(r, db, s, NULL, NULL);
	sqlite3_finalize(s);
}

/* The rank of a folder in listings: the default ones first, in order. */
static int
ops_rank(const char *folder)
{
	int	 i;

	for (i = 0; store_default_folders[i] != NULL; i++)
		if (strcmp(folder, store_default_folders[i]) == 0)
			return i;
	return i;
}

/* Order folder entries by account, then rank, then name. */
static int
ops_folder_cmp(const void *a, const void *b)
{
	json_t		*x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char	*fx, *fy;
	int		 c;

	if ((c = strcmp(json_string_value(json_object_get(x, "account")),
	    json_string_value(json_object_get(y, "account")))) != 0)
		return c;
	fx = json_string_value(json_object_get(x, "folder"));
	fy = json_string_value(json_object_get(y, "folder"));
	if ((c = ops_rank(fx) - ops_rank(fy)) != 0)
		return c;
	return strcmp(fx, fy);
}

/* The values of an object of folder entries as a sorted array. */
static json_t *
ops_sorted(json_t *o)
{
	const char	*key;
	json_t		*v, **all, *list;
	size_t		 n = 0, i;

	all = xcalloc(json_object_size(o) + 1, sizeof *all);
	json_object_foreach(o, key, v)
		all[n++] = v;
	qsort(all, n, sizeof *all, ops_folder_cmp);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append(list, all[i]);
	free(all);
	return list;
}

/* Add a folder on disk to the listing unless it has messages. */
static int
ops_empty_cb(const char *account, const char *folder, void *arg)
{
	char	 key[OPS_NAME_MAX * 2];

	snprintf(key, sizeof key, "%s/%s", account, folder);
	if (json_object_get(arg, key) == NULL)
		json_object_set_new(arg, key, json_pack("{s:s, s:s, s:i, s:i}",
		    "account", account, "folder", folder, "total", 0,
		    "unread", 0));
	return 0;
}

/* folders: every Maildir of every account, with total and unread. */
void
ops_folders(struct store *st, sqlite3 *db, struct ops_req *r)
{
	sqlite3_stmt	*s;
	json_t		*o;
	char		 key[OPS_NAME_MAX * 2];

	if ((s = ops_prepare(db, r, "SELECT account, folder, count(*), "
	    "sum(instr(flags, 'S') = 0) FROM messages GROUP BY account, "
	    "folder")) == NULL)
		return;
	/* Counts by "account/folder", then every Maildir on disk. */
	o = json_object();
	while (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(key, sizeof key, "%s/%s", sqlite3_column_text(s, 0),
		    sqlite3_column_text(s, 1));
		json_object_set_new(o, key, json_pack("{s:s, s:s, s:I, s:I}",
		    "account", (const char *)sqlite3_column_text(s, 0),
		    "folder", (const char *)sqlite3_column_text(s, 1),
		    "total", (json_int_t)sqlite3_column_int64(s, 2),
		    "unread", (json_int_t)sqlite3_column_int64(s, 3)));
	}
	sqlite3_finalize(s);
	ops_walk(st, NULL, ops_empty_cb, o);
	r->result = ops_sorted(o);
	json_decref(o);
}

/*
 * The name `attachments --save` gives attachment i (from 1): the safe form
 * of its own, else "attachment-N", with ".eml" for a message without one.
 */
static char *
ops_save_as(const struct mime_attachment *a, size_t i)
{
	char	*s;

	if (a->filename == NULL && strcmp(a->content_type,
	    "message/rfc822") == 0) {
		xasprintf(&s, "attachment-%zu.eml", i);
		return s;
	}
	return mime_safe_filename(a->filename, i);
}

/* An attachment's entry (index counts from 1); filename null when none. */
static json_t *
ops_attachment(const struct mime_msg *msg, size_t i)
{
	struct mime_attachment	 a;
	json_t			*o;
	char			*save_as;

	if (mime_attachment(msg, i, &a) != 0)
		return NULL;
	save_as = ops_save_as(&a, i + 1);
	o = json_pack("{s:I, s:s?, s:s, s:I, s:s}", "index", (json_int_t)i + 1,
	    "filename", a.filename, "content_type", a.content_type,
	    "size", (json_int_t)a.size, "save_as", save_as);
	free(save_as);
	return o;
}

/* The message ids of a top-level field, as an array of "<id>". */
json_t *
ops_msgids(const struct mime_msg *msg, const char *field)
{
	json_t	*a = json_array();
	char	**ids;
	size_t	 i, n;

	ids = mime_msgids(mime_header(msg, field), &n);
	for (i = 0; i < n; i++) {
		json_array_append_new(a, json_string(ids[i]));
		free(ids[i]);
	}
	free(ids);
	return a;
}

/* The fields read --json adds to the headers, body and attachments. */
static void
ops_read_more(json_t *o, const struct mime_msg *msg)
{
	json_t	*warns, *irt;
	size_t	 i;

	warns = json_array();
	for (i = 0; i < mime_nwarnings(msg); i++)
		json_array_append_new(warns, json_string(mime_warning(msg, i)));
	irt = ops_msgids(msg, "in-reply-to");
	json_object_set_new(o, "from_addresses",
	    compose_reply_mailboxes(msg, "from"));
	json_object_set_new(o, "to_addresses",
	    compose_reply_mailboxes(msg, "to"));
	json_object_set_new(o, "cc_addresses",
	    compose_reply_mailboxes(msg, "cc"));
	json_object_set_new(o, "body_type", mime_body_type(msg) != NULL ?
	    json_string(mime_body_type(msg)) : json_null());
	json_object_set(o, "in_reply_to", json_array_size(irt) > 0 ?
	    json_array_get(irt, 0) : json_null());
	json_decref(irt);
	json_object_set_new(o, "references", ops_msgids(msg, "references"));
	json_object_set_new(o, "warnings", warns);
}

/* The conversation a message belongs to (null until it is known). */
static json_t *
ops_thread_of(sqlite3 *db, long long id)
{
	sqlite3_stmt	*s;
	json_t		*v = json_null();

	if (sqlite3_prepare_v2(db, "SELECT thread FROM messages WHERE id = ? "
	    "AND thread IS NOT NULL", -1, &s, NULL) != SQLITE_OK)
		return v;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = json_integer(sqlite3_column_int64(s, 0));
	sqlite3_finalize(s);
	return v;
}

/*
 * read: the decoded message (or where its bytes are, with raw), marked
 * read once answered unless keep_unread.
 */
void
ops_read(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	 row;
	struct store_mime	 sm;
	struct mime_msg	*msg;
	json_t		*atts, *o;
	char		 path[OPS_PATH_MAX];
	char		*body, *v[6] = { NULL };
	const char	*names[] = { "from", "to", "cc", "subject",
			    "message-id" };
	time_t		 date;
	size_t		 i;
	int		 fd, keep = json_is_true(json_object_get(r->params,
			    "keep_unread"));

	if (ops_row(db, r, json_integer_value(json_object_get(r->params,
	    "id")), &row) != 0)
		return;
	if (json_is_true(json_object_get(r->params, "raw"))) {
		struct ops_row	 seen = row;

		if ((fd = ops_open(st, r, &row)) == -1)
			return;
		close(fd);
		/* Where it will be once marked read, before the answer. */
		seen = row;
		if (strchr(row.flags, 'S') == NULL && !keep) {
			seen.real[0] = '\0';
			snprintf(seen.dir, sizeof seen.dir, "cur");
			ops_flag(row.flags, 'S', 1, seen.flags,
			    sizeof seen.flags);
		}
		ops_path(&seen, path, sizeof path);
		r->result = json_pack("{s:I, s:s++, s:I}", "id",
		    (json_int_t)row.id, "path", st->data_dir, "/", path,
		    "size", (json_int_t)row.size);
	} else {
		if (ops_parse(st, r, &row, &sm) != 0)
			return;
		msg = sm.msg;
		for (i = 0; i < 5; i++)
			v[i] = mime_header_text(msg, names[i]);
		if (mime_date(mime_header(msg, "date"), &date) != 0) {
			date = 0;
			/* A date not understood is shown as it is written. */
			v[5] = mime_header_text(msg, "date");
		}
		atts = json_array();
		for (i = 0; i < mime_nattachments(msg); i++)
			if ((o = ops_attachment(msg, i)) != NULL)
				json_array_append_new(atts, o);
		body = mime_body_text(msg);
		r->result = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s?, "
		    "s:o, s:s?, s:s, s:o, s:I, s:b}", "id", (json_int_t)row.id,
		    "account", row.account, "folder", row.folder,
		    "from", v[0], "to", v[1], "cc", v[2], "subject", v[3],
		    "date", jsonrpc_time(date), "message_id", v[4],
		    "body", body != NULL ? body : "", "attachments", atts,
		    "size", (json_int_t)row.size, "read", 1);
		if (v[5] != NULL)
			json_object_set_new(r->result, "date_raw",
			    json_string(v[5]));
		ops_read_more(r->result, msg);
		json_object_set_new(r->result, "thread", ops_thread_of(db,
		    row.id));
		free(body);
		for (i = 0; i < 6; i++)
			free(v[i]);
		store_mime_close(&sm);
	}
	/* keep_unread: read it without marking it read. */
	if (keep) {
		if (r->result != NULL && json_object_get(r->result, "read"))
			json_object_set_new(r->result, "read",
			    json_boolean(strchr(row.flags, 'S') != NULL));
		return;
	}
	if (strchr(row.flags, 'S') == NULL || row.stale)
		r->mark_id = row.id;
}

/*
 * Write one attachment into the directory dfd under its safe name (its
 * save_as): never through a symlink, never over an existing file (a "-N"
 * suffix before the extension instead). Return the name used, or NULL.
 */
static char *
ops_save(struct ops_req *r, int dfd, const char *dir, const char *safe,
    const char *data, size_t len)
{
	char		*name, *dot;
	size_t		 off;
	ssize_t		 n;
	int		 fd = -1, i;

	name = xstrdup(safe);
	for (i = 1; i < 1000; i++) {
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
		free(name);
		dot = strrchr(safe, '.');
		if (dot != NULL && dot != safe)
			xasprintf(&name, "%.*s-%d%s", (int)(dot - safe), safe, i,
			    dot);
		else
			xasprintf(&name, "%s-%d", safe, i);
	}
	if (fd == -1) {
		ops_fail(r, JSONRPC_ERR_FAILED, "cannot create %s in %s: %s",
		    name, dir, strerror(errno));
		free(name);
		return NULL;
	}
	for (off = 0; off < len; off += n) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			ops_fail(r, JSONRPC_ERR_FAILED, "cannot write %s/%s: %s",
			    dir, name, strerror(errno));
			close(fd);
			unlinkat(dfd, name, 0);
			free(name);
			return NULL;
		}
	}
	close(fd);
	return name;
}

/* attachments: list a message's attachments; save them into a directory. */
void
ops_attachments(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	 row;
	struct store_mime	 sm;
	struct mime_msg	*msg;
	json_t		*list, *o;
	const char	*dir, *fname;
	char		*data, *name;
	struct stat	 sb;
	size_t		 i, len, want;
	int		 dfd = -1;

	if (ops_row(db, r, json_integer_value(json_object_get(r->params,
	    "id")), &row) != 0)
		return;
	dir = json_string_value(json_object_get(r->params, "save"));
	want = json_integer_value(json_object_get(r->params, "index"));
	if (dir != NULL && dir[0] != '/') {
		ops_fail(r, JSONRPC_INVALID_PARAMS, "save: expected an absolute "
		    "directory path");
		return;
	}
	/*
	 * A directory the client opened and sent is written through as it
	 * is: its path may be read-only or hidden in the daemon's sandbox
	 * (ProtectHome, PrivateTmp), and save then only names it.
	 */
	if (r->fd != -1) {
		if (fstat(r->fd, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
			ops_fail(r, JSONRPC_INVALID_PARAMS, "the descriptor sent "
			    "with the request is not a directory");
			return;
		}
		dfd = r->fd;
		r->fd = -1;
		if (dir == NULL)
			dir = ".";
	} else if (dir != NULL && (dfd = open(dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		ops_fail(r, JSONRPC_ERR_DATA, "cannot open directory %s: %s",
		    dir, strerror(errno));
		return;
	}
	if (ops_parse(st, r, &row, &sm) != 0) {
		if (dfd != -1)
			close(dfd);
		return;
	}
	msg = sm.msg;
	if (want > mime_nattachments(msg))
		ops_fail(r, JSONRPC_ERR_NOT_FOUND, "message %lld has no "
		    "attachment %zu (it has %zu)", row.id, want,
		    mime_nattachments(msg));
	list = json_array();
	for (i = 0; r->error == NULL && i < mime_nattachments(msg); i++) {
		if ((want != 0 && want != i + 1) ||
		    (o = ops_attachment(msg, i)) == NULL)
			continue;
		json_array_append_new(list, o);
		if (dfd == -1)
			continue;
		data = mime_attachment_data(msg, i, &len);
		fname = json_string_value(json_object_get(o, "save_as"));
		if ((name = ops_save(r, dfd, dir, fname, data, len)) != NULL) {
			json_object_set_new(o, "saved", json_pack("s++", dir,
			    "/", name));
			free(name);
		}
		free(data);
	}
	store_mime_close(&sm);
	if (dfd != -1)
		close(dfd);
	if (r->error == NULL)
		r->result = list;
	else
		json_decref(list);
}
