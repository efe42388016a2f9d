/*
 * Mailbox operations on the store: list, folders, read, attachments (on
 * the reader thread) and mark, move, delete, reindex, refilter (on the
 * writer, one at a time with deliveries).
 *
 * Changing a message is a rename first, then the index: a crash between
 * the two leaves an index row that names the old place, and every lookup
 * falls back to finding the file by its unique base name (which is also
 * how a flag another program set is found), so nothing is lost and
 * reindex puts the row right.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "filter.h"
#include "mime.h"
#include "store.h"
#include "store-int.h"

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

/* Fail the request with a code and a message. */
void
ops_fail(struct ops_req *r, int code, const char *fmt, ...)
{
	va_list	 ap;

	if (r->error != NULL)
		return;
	r->code = code;
	va_start(ap, fmt);
	if (vasprintf(&r->error, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
}

/* Copy a column's text into a fixed buffer ("" for NULL). */
static void
ops_col(sqlite3_stmt *s, int col, char *buf, size_t size)
{
	const unsigned char	*v = sqlite3_column_text(s, col);

	snprintf(buf, size, "%s", v != NULL ? (const char *)v : "");
}

/* Prepare a statement of this thread's connection or fail the request. */
sqlite3_stmt *
ops_prepare(sqlite3 *db, struct ops_req *r, const char *sql)
{
	sqlite3_stmt	*s;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		ops_fail(r, JSONRPC_ERR_FAILED, "index: %s",
		    sqlite3_errmsg(db));
		return NULL;
	}
	return s;
}

/* Look a message up by id; fail the request when it does not exist. */
static int
ops_row(sqlite3 *db, struct ops_req *r, long long id, struct ops_row *row)
{
	sqlite3_stmt	*s;
	int		 rc = -1;

	if ((s = ops_prepare(db, r, "SELECT account, folder, dir, file, "
	    "flags, size FROM messages WHERE id = ?")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		memset(row, 0, sizeof *row);
		row->id = id;
		ops_col(s, 0, row->account, sizeof row->account);
		ops_col(s, 1, row->folder, sizeof row->folder);
		ops_col(s, 2, row->dir, sizeof row->dir);
		ops_col(s, 3, row->file, sizeof row->file);
		ops_col(s, 4, row->flags, sizeof row->flags);
		row->size = sqlite3_column_int64(s, 5);
		rc = 0;
	} else
		ops_fail(r, JSONRPC_ERR_NOT_FOUND, "no message with id %lld",
		    id);
	sqlite3_finalize(s);
	return rc;
}

/*
 * The path of a message under data_dir: the name a search found, else the
 * name its row implies.
 */
static void
ops_path(const struct ops_row *row, char *buf, size_t size)
{
	if (row->real[0] != '\0')
		snprintf(buf, size, "%s/%s/%s/%s", row->account, row->folder,
		    row->dir, row->real);
	else if (strcmp(row->dir, "cur") == 0)
		snprintf(buf, size, "%s/%s/cur/%s:2,%s", row->account,
		    row->folder, row->file, row->flags);
	else
		snprintf(buf, size, "%s/%s/new/%s", row->account, row->folder,
		    row->file);
}

/*
 * Find a message whose file another program moved between new/ and cur/
 * or renamed for its flags: look for its base name in both. Update the
 * row (in memory) and return 0, or -1.
 */
static int
ops_search(struct store *st, struct ops_row *row)
{
	static const char *const dirs[] = { "cur", "new" };
	char		 path[OPS_PATH_MAX], base[OPS_NAME_MAX];
	char		 flags[OPS_FLAGS_MAX];
	struct dirent	*de;
	DIR		*d;
	size_t		 i;
	int		 fd, found = 0;

	for (i = 0; i < 2 && !found; i++) {
		snprintf(path, sizeof path, "%s/%s/%s", row->account,
		    row->folder, dirs[i]);
		if ((fd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			continue;
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if (store_flags_parse(de->d_name, base, sizeof base,
			    flags, sizeof flags) != 0 ||
			    strcmp(base, row->file) != 0)
				continue;
			snprintf(row->dir, sizeof row->dir, "%s", dirs[i]);
			snprintf(row->flags, sizeof row->flags, "%s", flags);
			snprintf(row->real, sizeof row->real, "%s", de->d_name);
			row->stale = 1;
			found = 1;
			break;
		}
		closedir(d);
	}
	return found ? 0 : -1;
}

/* Open a message for reading, searching for it when it moved. */
static int
ops_open(struct store *st, struct ops_req *r, struct ops_row *row)
{
	char	 path[OPS_PATH_MAX];
	int	 fd;

	ops_path(row, path, sizeof path);
	if ((fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC)) != -1)
		return fd;
	if (errno == ENOENT && ops_search(st, row) == 0) {
		ops_path(row, path, sizeof path);
		if ((fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC)) != -1)
			return fd;
	}
	ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: cannot open %s: %s",
	    row->id, path, strerror(errno));
	return -1;
}

/* Parse a stored message (its first MIME_MAX_SIZE bytes) into sm. */
static int
ops_parse(struct store *st, struct ops_req *r, struct ops_row *row,
    struct store_mime *sm)
{
	struct stat	 sb;
	char		*cause = NULL;
	int		 fd, rc = -1;

	if ((fd = ops_open(st, r, row)) == -1)
		return -1;
	if (fstat(fd, &sb) != 0)
		ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: %s", row->id,
		    strerror(errno));
	else if (store_mime_open(fd, sb.st_size, sm, &cause) != 0) {
		ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: %s", row->id,
		    cause);
		free(cause);
	} else
		rc = 0;
	close(fd);
	return rc;
}

/* Is an entry of the directory d a directory itself? */
static int
ops_isdir(DIR *d, const char *name)
{
	struct stat	 sb;

	return fstatat(dirfd(d), name, &sb, 0) == 0 && S_ISDIR(sb.st_mode);
}

/* Is a folder name one component, fit to be a directory? */
static int
ops_folder_ok(const char *s)
{
	size_t	 len = strlen(s);

	if (len == 0 || len > 64 || s[0] == '.' || strchr(s, '/') != NULL)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/*
 * Call fn for every folder on disk (a directory ACCOUNT/FOLDER with a
 * name fit for a folder) of every account, or of one; stop at the first
 * non-zero return of fn and return it.
 */
static int
ops_walk(struct store *st, const char *account,
    int (*fn)(const char *, const char *, void *), void *arg)
{
	struct dirent	*ae, *fe;
	DIR		*ad, *fd;
	int		 dfd, rc = 0;

	if ((dfd = dup(st->dirfd)) == -1)
		return 0;
	if ((ad = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	rewinddir(ad);
	while (rc == 0 && (ae = readdir(ad)) != NULL) {
		if (ae->d_name[0] == '.' || (account != NULL &&
		    strcmp(account, ae->d_name) != 0) ||
		    (dfd = openat(st->dirfd, ae->d_name, O_RDONLY |
		    O_DIRECTORY | O_CLOEXEC)) == -1)
			continue;
		if ((fd = fdopendir(dfd)) == NULL) {
			close(dfd);
			continue;
		}
		while (rc == 0 && (fe = readdir(fd)) != NULL)
			if (ops_folder_ok(fe->d_name) && ops_isdir(fd,
			    fe->d_name))
				rc = fn(ae->d_name, fe->d_name, arg);
		closedir(fd);
	}
	closedir(ad);
	return rc;
}

/* A folder on disk whose name matches one a user typed. */
struct ops_match {
	const char	*name;
	char		*out;
	size_t		 size;
};

static int
ops_match_cb(const char *account, const char *folder, void *arg)
{
	struct ops_match	*m = arg;

	if (strcasecmp(folder, m->name) != 0)
		return 0;
	snprintf(m->out, m->size, "%s", folder);
	return 1;
}

/*
 * Resolve a folder name a user typed ("inbox", "INBOX") to the folder's
 * own spelling: a default folder, a folder of the rules, or a Maildir that
 * exists under some account. Fail the request when it is none of those.
 */
static int
ops_folder(struct store *st, struct ops_req *r, const char *name,
    char *out, size_t size)
{
	struct ops_match m = { name, out, size };
	const char	**rules;
	struct filter	*f;
	size_t		 i, n;
	int		 found = 0;

	if (!ops_folder_ok(name)) {
		ops_fail(r, JSONRPC_INVALID_PARAMS, "bad folder name \"%.100s\"",
		    name);
		return -1;
	}
	for (i = 0; store_default_folders[i] != NULL; i++) {
		if (strcasecmp(name, store_default_folders[i]) == 0) {
			snprintf(out, size, "%s", store_default_folders[i]);
			return 0;
		}
	}
	if ((f = store_filter(st)) != NULL) {
		n = filter_folders(f, &rules);
		for (i = 0; i < n && !found; i++)
			if (strcasecmp(name, rules[i]) == 0)
				found = snprintf(out, size, "%s", rules[i]) > 0;
		filter_free(f);
		if (found)
			return 0;
	}
	if (ops_walk(st, NULL, ops_match_cb, &m) != 0)
		return 0;
	ops_fail(r, JSONRPC_ERR_NOT_FOUND, "no folder named \"%s\"", name);
	return -1;
}

/* A message's list entry from a row of ops_list's query. */
static json_t *
ops_entry(sqlite3_stmt *s)
{
	const char	*flags = (const char *)sqlite3_column_text(s, 7);

	return json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:o, s:I, s:b, s:I, "
	    "s:s}", "id", (json_int_t)sqlite3_column_int64(s, 0),
	    "account", (const char *)sqlite3_column_text(s, 1),
	    "folder", (const char *)sqlite3_column_text(s, 2),
	    "from", (const char *)sqlite3_column_text(s, 3),
	    "subject", (const char *)sqlite3_column_text(s, 4),
	    "date", jsonrpc_time(sqlite3_column_int64(s, 5)),
	    "size", (json_int_t)sqlite3_column_int64(s, 6),
	    "read", flags != NULL && strchr(flags, 'S') != NULL,
	    "attachments", (json_int_t)sqlite3_column_int64(s, 8),
	    "flags", flags != NULL ? flags : "");
}

/* list: messages, newest first, by folder, account, unread. */
static void
ops_list(struct store *st, sqlite3 *db, struct ops_req *r)
{
	json_t		*p = r->params;
	const char	*folder, *account;
	char		 canon[OPS_NAME_MAX], sql[512];
	sqlite3_stmt	*s;
	json_t		*list;
	int		 rc, n = 0;

	folder = json_string_value(json_object_get(p, "folder"));
	account = json_string_value(json_object_get(p, "account"));
	if (folder != NULL && ops_folder(st, r, folder, canon,
	    sizeof canon) != 0)
		return;
	snprintf(sql, sizeof sql, "SELECT id, account, folder, from_hdr, "
	    "subject, coalesce(date, added), size, flags, attachments FROM "
	    "messages WHERE 1%s%s%s ORDER BY id DESC LIMIT ? OFFSET ?",
	    folder != NULL ? " AND folder = ?" : "",
	    account != NULL ? " AND account = ?" : "",
	    json_is_true(json_object_get(p, "unread")) ?
	    " AND instr(flags, 'S') = 0" : "");
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
	list = json_array();
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(list, ops_entry(s));
	if (rc != SQLITE_DONE) {
		ops_fail(r, JSONRPC_ERR_FAILED, "index: %s", sqlite3_errmsg(db));
		json_decref(list);
	} else
		r->result = list;
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
static void
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

static void	ops_flag(const char *, char, int, char *, size_t);

/* An attachment's entry (index counts from 1). */
static json_t *
ops_attachment(const struct mime_msg *msg, size_t i)
{
	struct mime_attachment	 a;

	if (mime_attachment(msg, i, &a) != 0)
		return NULL;
	return json_pack("{s:I, s:s?, s:s, s:I}", "index", (json_int_t)i + 1,
	    "filename", a.filename, "content_type", a.content_type,
	    "size", (json_int_t)a.size);
}

/* read: the decoded message (or where its bytes are, with raw). */
static void
ops_read(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	 row;
	struct store_mime	 sm;
	struct mime_msg	*msg;
	json_t		*atts, *o;
	char		 path[OPS_PATH_MAX];
	char		*body, *v[5];
	const char	*names[] = { "from", "to", "cc", "subject",
			    "message-id" };
	time_t		 date;
	size_t		 i;
	int		 fd;

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
		if (strchr(row.flags, 'S') == NULL) {
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
		for (i = 0; i < 5; i++) {
			v[i] = mime_header(msg, names[i]) != NULL ?
			    mime_decode_header(mime_header(msg, names[i])) :
			    NULL;
		}
		if (mime_date(mime_header(msg, "date"), &date) != 0)
			date = 0;
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
		free(body);
		for (i = 0; i < 5; i++)
			free(v[i]);
		store_mime_close(&sm);
	}
	if (strchr(row.flags, 'S') == NULL || row.stale)
		r->mark_id = row.id;
}

/*
 * Write one attachment into the directory dfd under a safe form of its
 * name: never through a symlink, never over an existing file (a "-N"
 * suffix before the extension instead). Return the name used, or NULL.
 */
static char *
ops_save(struct ops_req *r, int dfd, const char *dir, const char *filename,
    size_t idx, const char *data, size_t len)
{
	char		*safe, *name, *dot;
	size_t		 off;
	ssize_t		 n;
	int		 fd = -1, i;

	safe = mime_safe_filename(filename, idx);
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
	free(safe);
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
static void
ops_attachments(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	 row;
	struct store_mime	 sm;
	struct mime_msg	*msg;
	json_t		*list, *o;
	const char	*dir, *fname;
	char		*data, *name;
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
	if (dir != NULL && (dfd = open(dir, O_RDONLY | O_DIRECTORY |
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
		fname = json_string_value(json_object_get(o, "filename"));
		if ((name = ops_save(r, dfd, dir, fname, i + 1, data,
		    len)) != NULL) {
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
		ops_fail(r, JSONRPC_ERR_FAILED, "index: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc;
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
static void
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

/*
 * Apply one change to each row: with folder NULL the message stays where
 * it is. Renames first, then one transaction, then the directories are
 * flushed.
 */
static void
ops_change(struct store *st, sqlite3 *db, struct ops_req *r,
    struct ops_row *rows, size_t n, const char *folder, int read)
{
	struct ops_dirs	 dirs = { NULL, 0 };
	char		 flags[OPS_FLAGS_MAX], path[OPS_PATH_MAX];
	size_t		 i, changed = 0;
	json_t		*ids = json_array();

	for (i = 0; i < n && r->error == NULL; i++) {
		/* Start from the flags the file has now, if it moved. */
		ops_path(&rows[i], path, sizeof path);
		if (faccessat(st->dirfd, path, F_OK, 0) != 0 && errno == ENOENT)
			ops_search(st, &rows[i]);
		if (read != -1)
			ops_flag(rows[i].flags, 'S', read, flags, sizeof flags);
		else
			snprintf(flags, sizeof flags, "%s", rows[i].flags);
		/* A message a reader has seen belongs in cur/. */
		if ((folder == NULL || strcmp(folder, rows[i].folder) == 0) &&
		    strcmp(flags, rows[i].flags) == 0 && (read == -1 ||
		    strcmp(rows[i].dir, "cur") == 0)) {
			/* In place already; the index may still lag. */
			rows[i].changed = rows[i].stale;
			continue;
		}
		if (ops_relocate(st, r, &rows[i], folder != NULL ? folder :
		    rows[i].folder, read != -1 ? "cur" : rows[i].dir, flags,
		    &dirs) != 0)
			break;
		rows[i].changed = 1;
		changed++;
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		ops_fail(r, JSONRPC_ERR_FAILED, "index: %s", sqlite3_errmsg(db));
	for (i = 0; i < n; i++) {
		if (rows[i].changed && ops_update(db, r, &rows[i]) == 0)
			json_array_append_new(ids, json_integer(rows[i].id));
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		ops_fail(r, JSONRPC_ERR_FAILED, "index: %s", sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	ops_dirs_sync(st, r, &dirs);
	if (r->error == NULL)
		r->result = json_pack("{s:I, s:o}", "changed",
		    (json_int_t)changed, "ids", ids);
	else
		json_decref(ids);
}

/* mark: set or clear the read (S) flag. */
static void
ops_mark(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	*rows;
	size_t		 n;

	if ((rows = ops_rows(db, r, &n)) == NULL)
		return;
	ops_change(st, db, r, rows, n, NULL,
	    json_is_true(json_object_get(r->params, "read")));
	free(rows);
}

/* move: file messages into another folder of their account. */
static void
ops_move(struct store *st, sqlite3 *db, struct ops_req *r)
{
	struct ops_row	*rows;
	char		 folder[OPS_NAME_MAX];
	size_t		 n;

	if (ops_folder(st, r, json_string_value(json_object_get(r->params,
	    "folder")), folder, sizeof folder) != 0 ||
	    (rows = ops_rows(db, r, &n)) == NULL)
		return;
	ops_change(st, db, r, rows, n, folder, -1);
	if (r->result != NULL)
		json_object_set_new(r->result, "folder", json_string(folder));
	free(rows);
}

/*
 * delete: move messages to Trash; with purge, or when they are in Trash
 * already, remove them for good (file first, then the row).
 */
static void
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
	for (i = 0; i < n && r->error == NULL; i++) {
		if (!purge && strcmp(rows[i].folder, "Trash") != 0)
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
			sqlite3_bind_int64(s, 1, rows[i].id);
			if (sqlite3_step(s) != SQLITE_DONE)
				ops_fail(r, JSONRPC_ERR_FAILED, "index: %s",
				    sqlite3_errmsg(db));
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
		ops_change(st, db, r, rows, n, "Trash", -1);
		if (r->result != NULL)
			json_object_set_new(r->result, "purged", purged);
	} else if (r->error == NULL)
		r->result = json_pack("{s:i, s:[], s:o}", "changed", 0, "ids",
		    "purged", purged);
	if (r->result == NULL)
		json_decref(purged);
	free(rows);
}

/* Run a statement without results; fail the request when it fails. */
static int
ops_exec(sqlite3 *db, struct ops_req *r, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	ops_fail(r, JSONRPC_ERR_FAILED, "index: %s", sqlite3_errmsg(db));
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

	if ((s = ops_prepare(db, r, "SELECT account, folder, file, tmpname "
	    "FROM messages m WHERE tmpname IS NOT NULL AND account IN (SELECT "
	    "account FROM scanned) AND NOT EXISTS (SELECT 1 FROM disk d WHERE "
	    "d.account = m.account AND d.base = m.file)")) == NULL)
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
	char			 path[OPS_PATH_MAX];
	int			 fd, rc;

	ops_path(row, path, sizeof path);
	if ((fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) != 0 || store_digest(fd, sb.st_size, NULL,
	    &info) != 0) {
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
 * filled in. It is one transaction: stopped half-way, the index is as it
 * was before.
 */
static void
ops_reindex(struct store *st, sqlite3 *db, struct ops_req *r)
{
	const char	*account = json_string_value(json_object_get(r->params,
			    "account"));
	sqlite3_stmt	*ins = NULL, *sc = NULL, *sel = NULL, *up = NULL;
	sqlite3_stmt	*fill = NULL;
	struct ops_scan	 scan;
	struct dirent	*ae;
	struct ops_row	 row;
	DIR		*ad;
	long long	 added = 0, removed = 0, updated = 0, filled = 0;
	size_t		 nsel = 0;	/* rows of sel read */
	int		 dfd;

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
	    "m.date IS NULL")) == NULL ||
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
	if (ops_exec(db, r, "COMMIT") != 0)
		goto out;
	r->result = json_pack("{s:I, s:I, s:I, s:I}", "added",
	    (json_int_t)added, "removed", (json_int_t)removed, "updated",
	    (json_int_t)updated, "refreshed", (json_int_t)filled);
out:
	if (r->error != NULL)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(ins);
	sqlite3_finalize(sc);
	sqlite3_finalize(sel);
	sqlite3_finalize(up);
	sqlite3_finalize(fill);
}

/*
 * refilter: apply the rules again to the messages of one folder, or of
 * Inbox and the rules' own folders; move those the rules now file
 * elsewhere.
 */
static void
ops_refilter(struct store *st, sqlite3 *db, struct ops_req *r)
{
	const char	*name = json_string_value(json_object_get(r->params,
			    "folder"));
	struct filter	*f = store_filter(st);
	struct store_info info;
	struct ops_row	*rows = NULL;
	const char	**folders;
	sqlite3_stmt	*s;
	char		 canon[OPS_NAME_MAX];
	size_t		 n = 0, i, nf, k;
	int		 fd, in;
	long long	 checked = 0;

	if (name != NULL && ops_folder(st, r, name, canon, sizeof canon) != 0)
		goto out;
	if ((s = ops_prepare(db, r, "SELECT id, folder FROM messages ORDER BY "
	    "id")) == NULL)
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
		if (store_digest(fd, rows[i].size, f, &info) == 0) {
			rows[i].changed = 0;
			if (strcmp(info.folder, rows[i].folder) != 0) {
				struct ops_row one = rows[i];

				ops_change(st, db, r, &one, 1, info.folder, -1);
				json_decref(r->result);
				r->result = NULL;
				rows[i].changed = 1;
			}
			store_info_free(&info);
		}
		close(fd);
	}
	if (r->error == NULL) {
		long long moved = 0;

		for (i = 0; i < n; i++)
			moved += rows[i].changed;
		r->result = json_pack("{s:I, s:I}", "checked",
		    (json_int_t)checked, "moved", (json_int_t)moved);
	}
out:
	free(rows);
	filter_free(f);
}

static const struct ops_op ops_table[] = {
	{ "list",	 0, ops_list },
	{ "folders",	 0, ops_folders },
	{ "read",	 0, ops_read },
	{ "attachments", 0, ops_attachments },
	{ "mark",	 1, ops_mark },
	{ "move",	 1, ops_move },
	{ "delete",	 1, ops_delete },
	{ "reindex",	 1, ops_reindex },
	{ "refilter",	 1, ops_refilter },
	{ "queue.add",	 1, ops_queue_add },
	{ "queue.load",	 1, ops_queue_load },
	{ "queue.update", 1, ops_queue_update },
	{ "queue.cancel", 1, ops_queue_cancel },
};

/* On a store thread: run the operation. */
static void
ops_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct ops_req	*r = (struct ops_req *)job;

	r->op->run(st, db, r);
	if (r->result == NULL && r->error == NULL)
		ops_fail(r, JSONRPC_ERR_FAILED, "%s failed", r->op->name);
}

static void	ops_done(struct store *, struct store_job *);

/* Queue a request on the thread its operation belongs to. */
static void
ops_submit(struct store *st, struct ops_req *r)
{
	r->job.run = ops_run;
	r->job.done = ops_done;
	store_submit(st, r->op->writer ? &st->writer : &st->reader, &r->job);
}

/*
 * On the loop: answer. A message just read is marked read first (on the
 * writer), so a listing right after the answer shows it read.
 */
static void
ops_done(struct store *st, struct store_job *job)
{
	struct ops_req	*r = (struct ops_req *)job;
	json_t		*result;

	if (r->mark_id != 0 && r->error == NULL) {
		result = r->result;
		r->result = NULL;
		json_decref(r->params);
		r->params = json_pack("{s:[I], s:b, s:o}", "ids",
		    (json_int_t)r->mark_id, "read", 1, "then", result);
		r->mark_id = 0;
		r->op = &ops_table[4];
		ops_submit(st, r);
		return;
	}
	if ((result = json_object_get(r->params, "then")) != NULL) {
		if (r->error != NULL)
			log_warnx("cannot mark message read: %s", r->error);
		r->cb(json_incref(result), 0, NULL, r->arg);
		json_decref(r->result);
	} else if (r->error != NULL)
		r->cb(NULL, r->code, r->error, r->arg);
	else
		r->cb(r->result, 0, NULL, r->arg);
	json_decref(r->params);
	free(r->error);
	free(r);
}

/* Run a mailbox operation; cb answers from the loop. */
void
store_request(struct store *st, const char *op, json_t *params,
    store_reply_cb cb, void *arg)
{
	struct ops_req	*r;
	size_t		 i;

	for (i = 0; i < sizeof ops_table / sizeof ops_table[0]; i++)
		if (strcmp(op, ops_table[i].name) == 0)
			break;
	if (i == sizeof ops_table / sizeof ops_table[0])
		fatalx("store_request: no operation %s", op);
	r = xcalloc(1, sizeof *r);
	r->op = &ops_table[i];
	r->params = params != NULL ? json_incref(params) : json_object();
	r->cb = cb;
	r->arg = arg;
	ops_submit(st, r);
}
