/*
 * Mailbox operations on the store (store_request): the table of them,
 * which thread runs each, and the answer on the loop; and what they
 * share: finding a message by id and on disk, opening and parsing it,
 * walking and naming folders. The operations themselves are in
 * store-read.c (list, folders, read, attachments, on the reader thread),
 * store-change.c (mark, move, delete), store-reindex.c (reindex,
 * refilter) and store-queue.c (the outbox), on the writer, one at a time
 * with deliveries.
 *
 * Changing a message is a rename first, then the index: a crash between
 * the two leaves an index row that names the old place, and every lookup
 * falls back to finding the file by its unique base name (which is also
 * how a flag another program set is found), so nothing is lost and
 * reindex puts the row right.
 */
#include "autoconf.h"

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
#include "config.h"
#include "filter.h"
#include "store.h"
#include "store-int.h"

/* Fail the request with a code and a message. */
void
ops_fail(struct ops_req *r, int code, const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;	/* of the call that failed, most often */

	if (r->error != NULL)
		return;
	r->code = code;
	r->err = err;
	va_start(ap, fmt);
	if (vasprintf(&r->error, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
}

/*
 * Fail r with the index's error. SQLite says SQLITE_FULL for a full disk
 * and keeps the errno of the write that failed: that is what counts.
 */
void
ops_fail_db(struct ops_req *r, sqlite3 *db)
{
	int	 err = sqlite3_system_errno(db);

	if (sqlite3_errcode(db) == SQLITE_FULL && err != EDQUOT)
		err = ENOSPC;
	errno = err;
	ops_fail(r, JSONRPC_ERR_FAILED, "index: %s", sqlite3_errmsg(db));
}

/* Copy a column's text into a fixed buffer ("" for NULL). */
void
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
		ops_fail_db(r, db);
		return NULL;
	}
	return s;
}

/* Look a message up by id; fail the request when it does not exist. */
int
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
void
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
int
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
int
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
int
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
	else if (store_mime_open(fd, sb.st_size, sm, NULL, &cause) != 0) {
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

/* Open data_dir to read its entries (the accounts) from the start. */
static DIR *
ops_accounts(struct store *st)
{
	DIR	*ad;
	int	 dfd;

	if ((dfd = dup(st->dirfd)) == -1)
		return NULL;
	if ((ad = fdopendir(dfd)) == NULL) {
		close(dfd);
		return NULL;
	}
	rewinddir(ad);
	return ad;
}

/*
 * Call fn for every folder on disk (a directory ACCOUNT/FOLDER with a
 * name fit for a folder) of every account, or of one; stop at the first
 * non-zero return of fn and return it.
 */
int
ops_walk(struct store *st, const char *account,
    int (*fn)(const char *, const char *, void *), void *arg)
{
	struct dirent	*ae, *fe;
	DIR		*ad, *fd;
	int		 dfd, rc = 0;

	if ((ad = ops_accounts(st)) == NULL)
		return 0;
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

/*
 * Is name taken under some account by something that is no directory
 * (Dovecot's dovecot-uidvalidity, say)? A new folder may not be made there.
 */
static int
ops_taken(struct store *st, const char *name)
{
	struct dirent	*ae;
	struct stat	 sb;
	DIR		*ad;
	char		 path[OPS_PATH_MAX];
	int		 taken = 0;

	if ((ad = ops_accounts(st)) == NULL)
		return 0;
	while (!taken && (ae = readdir(ad)) != NULL) {
		if (ae->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", ae->d_name, name);
		taken = fstatat(st->dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) ==
		    0 && !S_ISDIR(sb.st_mode);
	}
	closedir(ad);
	return taken;
}

/* A folder on disk whose name matches one a user typed. */
struct ops_match {
	const char	*name;
	char		*out;
	size_t		 size;
};

/* For ops_walk: stop at a folder named like m->name, in any case. */
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
 * exists under some account. When it is none of those, a new folder of
 * that name with create (mv makes it; a name the configuration would take
 * for a rule's folder), else fail the request.
 */
int
ops_folder(struct store *st, struct ops_req *r, const char *name,
    char *out, size_t size, int create)
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
	if (create && config_component_ok(name) && ops_taken(st, name)) {
		ops_fail(r, JSONRPC_ERR_DATA, "cannot make folder \"%s\": a "
		    "file of that name is in the way", name);
		return -1;
	}
	if (create && config_component_ok(name)) {
		snprintf(out, size, "%s", name);
		return 0;
	}
	if (create) {
		ops_fail(r, JSONRPC_INVALID_PARAMS, "bad folder name \"%.100s\": "
		    "a new folder's name has no leading dot or dash and no "
		    "slash", name);
		return -1;
	}
	ops_fail(r, JSONRPC_ERR_NOT_FOUND, "no folder named \"%s\"", name);
	return -1;
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
	{ "reply.source", 0, ops_reply_source },
	{ "search",	 0, ops_query },
	{ "thread",	 0, ops_thread },
};

/* On a store thread: run the operation. */
static void
ops_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct ops_req	*r = (struct ops_req *)job;

	r->op->run(st, db, r);
	if (r->result == NULL && r->text == NULL && r->error == NULL)
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
	/*
	 * A full disk or quota is a temporary failure (DESIGN.md): nothing
	 * was damaged, and the same request works once there is room.
	 */
	if (r->error != NULL && (r->err == ENOSPC || r->err == EDQUOT) &&
	    (r->code == JSONRPC_ERR_FAILED || r->code == JSONRPC_ERR_DATA)) {
		free(r->error);
		xasprintf(&r->error, "no space left on %s (%s); nothing is "
		    "lost: try again once there is room", st->data_dir,
		    r->err == EDQUOT ? "disk quota exceeded" :
		    "the disk is full");
		r->code = JSONRPC_ERR_TEMPFAIL;
	}
	/* Each caller gets the form it asked for, whichever was made. */
	if (r->error == NULL && r->text != NULL && r->text_cb == NULL) {
		r->result = json_loadb(r->text, r->textlen, 0, NULL);
		free(r->text);
		r->text = NULL;
	} else if (r->error == NULL && r->text == NULL && r->text_cb != NULL) {
		r->text = json_dumps(r->result, JSON_COMPACT | JSON_ENCODE_ANY);
		r->textlen = strlen(r->text);
		json_decref(r->result);
		r->result = NULL;
	}
	if (r->text_cb != NULL) {
		if (r->error != NULL)
			r->text_cb(NULL, 0, r->code, r->error, r->arg);
		else
			r->text_cb(r->text, r->textlen, 0, NULL, r->arg);
		r->text = NULL;
	} else if ((result = json_object_get(r->params, "then")) != NULL) {
		if (r->error != NULL)
			log_warnx("cannot mark message read: %s", r->error);
		r->cb(json_incref(result), 0, NULL, r->arg);
		json_decref(r->result);
	} else if (r->error != NULL)
		r->cb(NULL, r->code, r->error, r->arg);
	else
		r->cb(r->result, 0, NULL, r->arg);
	json_decref(r->params);
	if (r->fd != -1)
		close(r->fd);
	/* A change waits for an IMAP server: its owner may push it now. */
	if (r->queued != NULL && r->error == NULL && st->queued_cb != NULL)
		st->queued_cb(r->queued, st->queued_arg);
	free(r->queued);
	free(r->error);
	free(r);
}

/*
 * Submit the operation named op (a broken invariant if none), answered
 * through cb, or text_cb for its JSON text.
 */
static void
ops_request(struct store *st, const char *op, json_t *params, int fd,
    store_reply_cb cb, store_text_cb text_cb, void *arg)
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
	r->fd = fd;
	r->cb = cb;
	r->text_cb = text_cb;
	r->arg = arg;
	ops_submit(st, r);
}

/* Run a mailbox operation whose answer cb takes as JSON text. */
void
store_request_text(struct store *st, const char *op, json_t *params,
    store_text_cb cb, void *arg)
{
	ops_request(st, op, params, -1, NULL, cb, arg);
}

/* Run a mailbox operation; cb answers from the loop. */
void
store_request(struct store *st, const char *op, json_t *params,
    store_reply_cb cb, void *arg)
{
	ops_request(st, op, params, -1, cb, NULL, arg);
}

void
store_request_fd(struct store *st, const char *op, json_t *params, int fd,
    store_reply_cb cb, void *arg)
{
	ops_request(st, op, params, fd, cb, NULL, arg);
}
