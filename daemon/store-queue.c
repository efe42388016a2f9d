/*
 * The outbox's durable half, run on the store's writer thread (the loop's
 * half, sending and retrying, is queue.c). A queued message is the file
 * queue/NAME under data_dir plus a row of the queue table.
 *
 *   queue.add     compose the message (or copy a complete one) into a new
 *                 file, fsync it and the directory, then insert its row:
 *                 once the row is committed the message is durable, and
 *                 only then does send answer.
 *   queue.update  record attempts ("delivered": accepted by the server,
 *                 not yet filed, a plain row update). A message that went
 *                 out (state "sent") is renamed
 *                 into ACCOUNT/Sent/cur (read), its directories flushed,
 *                 then in one transaction it is indexed there and its row
 *                 deleted. A crash in between leaves a row whose file is
 *                 already in Sent: queue.load finishes the job. With
 *                 save_sent false the row is deleted, then the file
 *                 (a crash in between leaves an orphan queue.load
 *                 removes).
 *   queue.load    every row, after that repair; files that no row names
 *                 (a crash during queue.add, before its commit) are
 *                 removed.
 *   queue.cancel  the row, then the file.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "compose.h"
#include "store.h"
#include "store-int.h"

#define SQ_NAME_MAX	256
#define SQ_COLUMNS	"id, account, file, sender, rcpts, subject, " \
			"message_id, size, eightbit, created, state, " \
			"attempts, next_try, last_error"

/* Open data_dir/queue (made on first use); the writer keeps it open. */
static int
sq_dir(struct store *st, struct ops_req *r)
{
	if (st->queuefd != -1)
		return st->queuefd;
	if (mkdirat(st->dirfd, "queue", 0700) != 0 && errno != EEXIST) {
		ops_fail(r, JSONRPC_ERR_FAILED, "cannot create %s/queue: %s",
		    st->data_dir, strerror(errno));
		return -1;
	}
	st->queuefd = openat(st->dirfd, "queue", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (st->queuefd == -1)
		ops_fail(r, JSONRPC_ERR_FAILED, "cannot open %s/queue: %s",
		    st->data_dir, strerror(errno));
	return st->queuefd;
}

/* Does buf hold a byte over 127 (the SMTP body needs 8BITMIME)? */
static int
sq_eightbit(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (buf[i] & 0x80)
			return 1;
	return 0;
}

/*
 * Write the composed message of params' "compose" object into fd, with
 * the parts of the original it forwards; *eightbit set when one went as
 * 8bit. -1 with *cause, or with the request failed (the original gone).
 */
static int
sq_compose(struct store *st, sqlite3 *db, struct ops_req *r, json_t *o,
    int fd, int *eightbit, char **message_id, char **cause)
{
	struct compose			c;
	struct store_reply_parts	fp;
	int				rc;

	if (store_reply_parts(st, db, r, o, &fp) != 0)
		return -1;
	compose_from_json(&c, o);
	c.parts = fp.parts;
	c.nparts = fp.n;
	c.eightbit = eightbit;
	rc = compose_write(&c, fd, message_id, cause);
	compose_json_free(&c);
	store_reply_parts_free(&fp);
	return rc;
}

/* Where a complete message is copied to. */
struct sq_out {
	int	 fd;
	int	 eightbit;	/* a byte over 127 was written */
};

/* Write all of buf; 0 or -1 with *cause. */
static int
sq_write(struct sq_out *out, const char *buf, size_t len, char **cause)
{
	ssize_t	 w;
	int	 err;

	out->eightbit |= sq_eightbit(buf, len);
	for (; len > 0; buf += w, len -= w) {
		if ((w = write(out->fd, buf, len)) == -1) {
			err = errno;
			xasprintf(cause, "cannot write the queue: %s",
			    strerror(err));
			errno = err;	/* for a full disk: ops_done */
			return -1;
		}
	}
	return 0;
}

/* Does the field at line (length len) have this name (any case)? */
static int
sq_field(const char *line, size_t len, const char *name)
{
	size_t	 n = strlen(name);

	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/*
 * The length of the header field at field (a line and its continuation
 * lines), or 0 at the blank line that ends the header, or at end.
 */
static size_t
sq_next_field(const char *field, const char *end)
{
	const char	*p, *eol = field;

	if (field >= end || *field == '\n' || *field == '\r')
		return 0;
	for (p = field; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end - 1;
		if (eol + 1 >= end || (eol[1] != ' ' && eol[1] != '\t'))
			break;
	}
	return eol + 1 - field;
}

/* The first address of the header's From field (new memory), or NULL. */
static char *
sq_from_addr(const char *hdr, const char *end)
{
	const char	*field;
	char		*value, **list, *addr = NULL;
	size_t		 flen, i;

	for (field = hdr; (flen = sq_next_field(field, end)) > 0;
	    field += flen) {
		if (!sq_field(field, flen, "from"))
			continue;
		value = xstrndup(field + 5, flen - 5);
		list = compose_address_list(value);
		for (i = 0; list[i] != NULL; i++) {
			if (addr == NULL)
				addr = list[i];
			else
				free(list[i]);
		}
		free(list);
		free(value);
		break;
	}
	return addr;
}

/* Does the candidate account c (queue.add's "choose") own addr? */
static int
sq_owns(json_t *c, const char *addr)
{
	json_t	*a;
	size_t	 i;

	if (strcasecmp(json_string_value(json_object_get(c, "email")),
	    addr) == 0)
		return 1;
	json_array_foreach(json_object_get(c, "aliases"), i, a)
		if (strcasecmp(json_string_value(a), addr) == 0)
			return 1;
	return 0;
}

/*
 * sendmail without an account named: the account is the one whose email
 * or alias is addr (-f, else the From field's), else the default, else
 * the first of p's "choose" list; set p's account and, without -f,
 * sender (addr when an account owns it, else that account's email).
 * Return the chosen candidate.
 */
static json_t *
sq_choose(json_t *p, const char *addr)
{
	json_t	*c, *pick = NULL, *def = NULL, *choose;
	size_t	 i;
	int	 owned = 0;

	choose = json_object_get(p, "choose");
	json_array_foreach(choose, i, c) {
		if (addr != NULL && sq_owns(c, addr)) {
			pick = c;
			owned = 1;
			break;
		}
		if (def == NULL && json_is_true(json_object_get(c, "default")))
			def = c;
	}
	if (pick == NULL)
		pick = def != NULL ? def : json_array_get(choose, 0);
	json_object_set(p, "account", json_object_get(pick, "name"));
	if (json_object_get(p, "sender") == NULL)
		json_object_set_new(p, "sender", json_string(owned ? addr :
		    json_string_value(json_object_get(pick, "email"))));
	return pick;
}

/*
 * The header of a complete message (sendmail): copy its fields into fd
 * but Bcc (never passed on); with extract, add the addresses of To, Cc
 * and Bcc to rcpts; add From (from_name, from_addr), Date and Message-ID
 * when missing. hdr holds the header and the blank line after it (or the
 * whole message).
 */
static int
sq_header(const char *hdr, size_t len, struct sq_out *out,
    const char *sender, const char *from_name, const char *from_addr,
    int extract, json_t *rcpts, char **message_id, char **cause)
{
	const char	*end = hdr + len, *field;
	char		*value, **list, date[80];
	size_t		 flen, i;
	int		 has_date = 0, has_mid = 0, has_from = 0, rc = 0;

	for (field = hdr; (flen = sq_next_field(field, end)) > 0;
	    field += flen) {
		has_date |= sq_field(field, flen, "date");
		has_from |= sq_field(field, flen, "from");
		if (sq_field(field, flen, "message-id")) {
			has_mid = 1;
			value = xstrndup(field + 11, flen - 11);
			*message_id = xstrdup(value + strspn(value, " \t"));
			(*message_id)[strcspn(*message_id, "\r\n")] = '\0';
			free(value);
		}
		if (extract && (sq_field(field, flen, "to") ||
		    sq_field(field, flen, "cc") ||
		    sq_field(field, flen, "bcc"))) {
			value = xstrndup(strchr(field, ':') + 1,
			    flen - (strchr(field, ':') + 1 - field));
			list = compose_address_list(value);
			for (i = 0; list[i] != NULL; i++) {
				if (rc == 0 && compose_check_address(list[i],
				    cause) != 0)
					rc = -1;
				else if (rc == 0)
					json_array_append_new(rcpts,
					    json_string(list[i]));
				free(list[i]);
			}
			free(list);
			free(value);
			if (rc != 0)
				return -1;
		}
		if (sq_field(field, flen, "bcc"))
			continue;
		if (sq_write(out, field, flen, cause) != 0)
			return -1;
	}
	/* Fields a submission should have, after the others (as Postfix
	 * would add them); then the blank line and whatever followed. */
	if (!has_from && from_addr != NULL &&
	    compose_write_from(out->fd, from_name, from_addr, cause) != 0)
		return -1;
	if (!has_date) {
		compose_date_header(0, date, sizeof date);
		if (sq_write(out, date, strlen(date), cause) != 0)
			return -1;
	}
	if (!has_mid) {
		if ((*message_id = compose_message_id(sender, cause)) == NULL)
			return -1;
		xasprintf(&value, "Message-ID: %s\n", *message_id);
		rc = sq_write(out, value, strlen(value), cause);
		free(value);
		if (rc != 0)
			return -1;
	}
	return sq_write(out, field, end - field, cause);
}

#define SQ_HEADER_MAX	(1024 * 1024)

/*
 * Queue a complete message from the file at path (sendmail): its header
 * through sq_header, the rest copied as it is.
 */
static int
sq_copy(const char *path, struct sq_out *out, json_t *p, char **message_id,
    char **cause)
{
	json_t	*pick;
	char	*buf, *body, *from;
	size_t	 len = 0;
	ssize_t	 n;
	int	 in, rc;

	if ((in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		xasprintf(cause, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	buf = xmalloc(SQ_HEADER_MAX + 1);
	/* Read until the blank line that ends the header, or EOF. */
	while (len < SQ_HEADER_MAX && (n = read(in, buf + len,
	    SQ_HEADER_MAX - len)) > 0) {
		len += n;
		buf[len] = '\0';
		if (strstr(buf, "\n\n") != NULL ||
		    strstr(buf, "\n\r\n") != NULL)
			break;
	}
	buf[len] = '\0';
	if ((body = strstr(buf, "\n\n")) == NULL)
		body = strstr(buf, "\n\r\n");
	if (body == NULL && len == SQ_HEADER_MAX) {
		xasprintf(cause, "the message's header is over %d bytes (or "
		    "it has no blank line after it)", SQ_HEADER_MAX);
		rc = -1;
	} else {
		if (body == NULL)
			body = buf + len;
		else
			body++;
		from = sq_from_addr(buf, body);
		pick = sq_choose(p, json_string_value(json_object_get(p,
		    "sender")) != NULL ? json_string_value(json_object_get(p,
		    "sender")) : from);
		rc = sq_header(buf, body - buf, out, json_string_value(
		    json_object_get(p, "sender")), json_string_value(
		    json_object_get(pick, "display_name")), json_string_value(
		    json_object_get(pick, "email")), json_is_true(
		    json_object_get(p, "extract")), json_object_get(p,
		    "rcpts"), message_id, cause);
		free(from);
		if (rc == 0)
			rc = sq_write(out, body, buf + len - body, cause);
		while (rc == 0 && (n = read(in, buf, SQ_HEADER_MAX)) > 0)
			rc = sq_write(out, buf, n, cause);
		if (rc == 0 && n == -1) {
			xasprintf(cause, "cannot read %s: %s", path,
			    strerror(errno));
			rc = -1;
		}
	}
	free(buf);
	close(in);
	return rc;
}

/*
 * queue.add: {account, sender, rcpts: [..], subject?, compose: {..},
 * mark?: {id, flag}} or
 * {choose: [{name, email, display_name?, aliases?, default?}], sender?,
 * rcpts, raw: PATH, extract?} -> {id, file, message_id, size, eightbit,
 * created, rcpts, account, sender}. With raw the account is chosen among
 * choose by the sender (-f) or the message's From (sq_choose).
 */
void
ops_queue_add(struct store *st, sqlite3 *db, struct ops_req *r)
{
	json_t		*p = r->params, *compose;
	const char	*raw;
	char		 name[SQ_NAME_MAX], *mid = NULL, *cause = NULL, *rcpts;
	struct stat	 sb;
	struct sq_out	 out = { -1, 0 };
	sqlite3_stmt	*s = NULL;
	time_t		 now = time(NULL);
	long long	 qid;
	int		 dfd, fd, rc = -1;

	if ((dfd = sq_dir(st, r)) == -1)
		return;
	if ((fd = out.fd = store_make_file(st, dfd, name,
	    sizeof name)) == -1) {
		ops_fail(r, JSONRPC_ERR_FAILED, "cannot create a file in "
		    "%s/queue: %s", st->data_dir, strerror(errno));
		return;
	}
	compose = json_object_get(p, "compose");
	raw = json_string_value(json_object_get(p, "raw"));
	if (compose != NULL)
		rc = sq_compose(st, db, r, compose, fd, &out.eightbit, &mid,
		    &cause);
	else if (raw != NULL && (rc = sq_copy(raw, &out, p, &mid,
	    &cause)) == 0) {
		if (json_array_size(json_object_get(p, "rcpts")) == 0) {
			cause = xstrdup("no recipients: none given and none "
			    "in To, Cc or Bcc");
			rc = -1;
		}
	}
	if (rc == 0 && (fsync(fd) != 0 || fstat(fd, &sb) != 0 ||
	    fsync(dfd) != 0)) {
		xasprintf(&cause, "cannot flush %s/queue/%s: %s",
		    st->data_dir, name, strerror(errno));
		rc = -1;
	}
	close(fd);
	if (rc != 0) {
		/* (Failed already when the original of a forward is gone.) */
		ops_fail(r, JSONRPC_ERR_DATA, "%s", cause != NULL ? cause :
		    "nothing to queue");
		goto fail;
	}
	if ((s = ops_prepare(db, r, "INSERT INTO queue (account, file, "
	    "sender, rcpts, subject, message_id, size, eightbit, created, "
	    "next_try) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) == NULL)
		goto fail;
	rcpts = json_dumps(json_object_get(p, "rcpts"), JSON_COMPACT);
	sqlite3_bind_text(s, 1, json_string_value(json_object_get(p,
	    "account")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, json_string_value(json_object_get(p,
	    "sender")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, rcpts, -1, free);
	sqlite3_bind_text(s, 5, json_string_value(json_object_get(p,
	    "subject")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, mid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, sb.st_size);
	sqlite3_bind_int(s, 8, out.eightbit);
	sqlite3_bind_int64(s, 9, now);
	sqlite3_bind_int64(s, 10, now);
	if (sqlite3_step(s) != SQLITE_DONE) {
		ops_fail_db(r, db);
		goto fail;
	}
	qid = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(s);
	s = NULL;
	/* Queued: the original of a reply or forward is marked so. */
	store_reply_mark(st, db, json_object_get(p, "mark"));
	r->result = json_pack("{s:I, s:s, s:s?, s:I, s:i, s:I, s:O, s:O, "
	    "s:O}", "id", (json_int_t)qid, "file",
	    name, "message_id", mid, "size", (json_int_t)sb.st_size,
	    "eightbit", out.eightbit, "created", (json_int_t)now, "rcpts",
	    json_object_get(p, "rcpts"), "account", json_object_get(p,
	    "account"), "sender", json_object_get(p, "sender"));
	sqlite3_finalize(s);
	free(mid);
	free(cause);
	return;
fail:
	sqlite3_finalize(s);
	unlinkat(dfd, name, 0);
	free(mid);
	free(cause);
}

/* A row as JSON, keyed by column name (rcpts parsed back). */
static json_t *
sq_row(sqlite3_stmt *s)
{
	json_t		*o, *v;
	const char	*name, *text;
	int		 i;

	o = json_object();
	for (i = 0; i < sqlite3_column_count(s); i++) {
		name = sqlite3_column_name(s, i);
		switch (sqlite3_column_type(s, i)) {
		case SQLITE_INTEGER:
			v = json_integer(sqlite3_column_int64(s, i));
			break;
		case SQLITE_NULL:
			continue;
		default:
			text = (const char *)sqlite3_column_text(s, i);
			if (strcmp(name, "rcpts") != 0)
				v = json_string(text);
			else if ((v = json_loads(text, 0, NULL)) == NULL)
				v = json_array();
		}
		json_object_set_new(o, name, v);
	}
	return o;
}

/* Open ACCOUNT/Sent/cur (made on first use). */
static int
sq_sentdir(struct store *st, struct ops_req *r, const char *account)
{
	char	 path[SQ_NAME_MAX * 2], *cause = NULL;
	int	 fd;

	if (store_mkfolder(st, account, "Sent", &cause) != 0) {
		ops_fail(r, JSONRPC_ERR_FAILED, "%s", cause);
		free(cause);
		return -1;
	}
	snprintf(path, sizeof path, "%s/Sent/cur", account);
	if ((fd = openat(st->dirfd, path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		ops_fail(r, JSONRPC_ERR_FAILED, "cannot open %s: %s", path,
		    strerror(errno));
	return fd;
}

/* Does a sent item of queue.update go into Sent (save_sent, default)? */
static int
sq_save_sent(json_t *it)
{
	return !json_is_false(json_object_get(it, "save_sent"));
}

/* Drop a queue row (inside the caller's transaction). */
static int
sq_delete_row(sqlite3 *db, struct ops_req *r, long long qid)
{
	sqlite3_stmt	*s;
	int		 rc = 0;

	if ((s = ops_prepare(db, r, "DELETE FROM queue WHERE id = ?")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, qid);
	if (sqlite3_step(s) != SQLITE_DONE) {
		ops_fail_db(r, db);
		rc = -1;
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Index a sent message already in ACCOUNT/Sent/cur as FILE:2,S and drop
 * its queue row (inside the caller's transaction). Return its message id.
 */
static long long
sq_index_sent(struct store *st, sqlite3 *db, struct ops_req *r,
    long long qid, const char *account, const char *file)
{
	struct store_info	 info;
	struct stat		 sb;
	sqlite3_stmt		*s;
	char			 path[SQ_NAME_MAX * 3], *cause = NULL;
	long long		 id = -1;
	int			 fd;

	snprintf(path, sizeof path, "%s/Sent/cur/%s:2,S", account, file);
	if ((fd = openat(st->dirfd, path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) != 0) {
		ops_fail(r, JSONRPC_ERR_FAILED, "cannot open %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (store_digest(fd, sb.st_size, NULL, &info, 1, NULL) != 0)
		memset(&info, 0, sizeof info);
	close(fd);
	if ((s = ops_prepare(db, r, "INSERT INTO messages (account, folder, "
	    "file, size, added, from_hdr, subject, to_hdr, cc_hdr, date, "
	    "message_id, attachments, dir, flags) VALUES (?, 'Sent', ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, 'cur', 'S')")) == NULL) {
		store_info_free(&info);
		return -1;
	}
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, sb.st_size);
	sqlite3_bind_int64(s, 4, time(NULL));
	store_bind_info(s, 5, &info);
	if (sqlite3_step(s) == SQLITE_DONE &&
	    store_conversation_add(st, db, sqlite3_last_insert_rowid(db),
	    &info) == 0)
		id = sqlite3_last_insert_rowid(db);
	else
		ops_fail_db(r, db);
	sqlite3_finalize(s);
	if (id != -1 && store_search_add(st, db, id, info.date, info.text,
	    &cause) != 0) {
		ops_fail(r, JSONRPC_ERR_FAILED, "%s", cause);
		free(cause);
		id = -1;
	}
	store_info_free(&info);
	if (id != -1 && sq_delete_row(db, r, qid) != 0)
		id = -1;
	return id;
}

/* Move a sent message's file from queue/ into ACCOUNT/Sent/cur. */
static int
sq_move_sent(struct store *st, struct ops_req *r, int curfd,
    const char *account, const char *file)
{
	char	 name[SQ_NAME_MAX + 8];

	snprintf(name, sizeof name, "%s:2,S", file);
	if (renameat(st->queuefd, file, curfd, name) == 0)
		return 0;
	ops_fail(r, JSONRPC_ERR_FAILED, "cannot move queue/%s into "
	    "%s/Sent/cur: %s", file, account, strerror(errno));
	return -1;
}

/* Bind an update of one row's attempt to the statement s and run it. */
static int
sq_update_row(sqlite3 *db, struct ops_req *r, sqlite3_stmt *s, json_t *it)
{
	char	*rcpts = json_dumps(json_object_get(it, "rcpts"),
		    JSON_COMPACT);

	sqlite3_bind_text(s, 1, json_string_value(json_object_get(it,
	    "state")), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, json_integer_value(json_object_get(it,
	    "attempts")));
	sqlite3_bind_int64(s, 3, json_integer_value(json_object_get(it,
	    "next_try")));
	sqlite3_bind_text(s, 4, json_string_value(json_object_get(it,
	    "last_error")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, rcpts != NULL ? rcpts : "[]", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 6, json_integer_value(json_object_get(it,
	    "id")));
	free(rcpts);
	if (sqlite3_step(s) != SQLITE_DONE) {
		ops_fail_db(r, db);
		return -1;
	}
	sqlite3_reset(s);
	return 0;
}

/*
 * queue.update: {items: [{id, account, file, state, attempts, next_try,
 * last_error, rcpts}]}; state "sent" files the message into Sent. ->
 * {filed: {QUEUE-ID: MESSAGE-ID, ...}}.
 */
void
ops_queue_update(struct store *st, sqlite3 *db, struct ops_req *r)
{
	json_t		*items = json_object_get(r->params, "items"), *it;
	json_t		*filed = json_object();
	sqlite3_stmt	*up;
	const char	*state, *account, *file;
	char		 key[32];
	size_t		 i;
	long long	 id;
	int		 curfd = -1, moved = 0;
	char		 curacct[SQ_NAME_MAX] = "";

	if (sq_dir(st, r) == -1 || (up = ops_prepare(db, r, "UPDATE queue "
	    "SET state = ?, attempts = ?, next_try = ?, last_error = ?, "
	    "rcpts = ? WHERE id = ?")) == NULL) {
		json_decref(filed);
		return;
	}
	/* The renames first, then their directories flushed. */
	json_array_foreach(items, i, it) {
		state = json_string_value(json_object_get(it, "state"));
		account = json_string_value(json_object_get(it, "account"));
		file = json_string_value(json_object_get(it, "file"));
		if (strcmp(state, "sent") != 0 || !sq_save_sent(it))
			continue;
		if (strcmp(curacct, account) != 0) {
			if (curfd != -1 && fsync(curfd) != 0)
				ops_fail(r, JSONRPC_ERR_FAILED, "cannot flush "
				    "%s/Sent/cur: %s", curacct,
				    strerror(errno));
			if (curfd != -1)
				close(curfd);
			snprintf(curacct, sizeof curacct, "%s", account);
			if ((curfd = sq_sentdir(st, r, account)) == -1)
				break;
		}
		if (sq_move_sent(st, r, curfd, account, file) != 0)
			break;
		moved++;
	}
	if (curfd != -1) {
		if (fsync(curfd) != 0)
			ops_fail(r, JSONRPC_ERR_FAILED, "cannot flush "
			    "%s/Sent/cur: %s", curacct, strerror(errno));
		close(curfd);
	}
	if (moved > 0 && fsync(st->queuefd) != 0)
		ops_fail(r, JSONRPC_ERR_FAILED, "cannot flush %s/queue: %s",
		    st->data_dir, strerror(errno));
	if (r->error != NULL || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL,
	    NULL, NULL) != SQLITE_OK) {
		/* Moved files are found in Sent by the next queue.load. */
		ops_fail_db(r, db);
		sqlite3_finalize(up);
		json_decref(filed);
		return;
	}
	json_array_foreach(items, i, it) {
		state = json_string_value(json_object_get(it, "state"));
		account = json_string_value(json_object_get(it, "account"));
		if (strcmp(state, "sent") != 0) {
			if (sq_update_row(db, r, up, it) != 0)
				break;
			continue;
		}
		if (!sq_save_sent(it)) {
			if (sq_delete_row(db, r, json_integer_value(
			    json_object_get(it, "id"))) != 0)
				break;
			continue;
		}
		id = sq_index_sent(st, db, r, json_integer_value(
		    json_object_get(it, "id")), account, json_string_value(
		    json_object_get(it, "file")));
		if (id == -1)
			break;
		snprintf(key, sizeof key, "%lld", (long long)
		    json_integer_value(json_object_get(it, "id")));
		json_object_set_new(filed, key, json_integer(id));
	}
	sqlite3_finalize(up);
	if (r->error == NULL && sqlite3_exec(db, "COMMIT", NULL, NULL,
	    NULL) != SQLITE_OK)
		ops_fail_db(r, db);
	if (r->error != NULL) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		json_decref(filed);
		return;
	}
	/* Sent and not to be kept: the row is gone, now the file. */
	json_array_foreach(items, i, it) {
		file = json_string_value(json_object_get(it, "file"));
		if (strcmp(json_string_value(json_object_get(it, "state")),
		    "sent") == 0 && !sq_save_sent(it) &&
		    unlinkat(st->queuefd, file, 0) != 0 && errno != ENOENT)
			log_warn("cannot remove queue/%s", file);
	}
	r->result = json_pack("{s:o}", "filed", filed);
}

/* Compare two strings through pointers (qsort, bsearch). */
static int
sq_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Remove files of queue/ that no row names (left by a crash). */
static void
sq_orphans(struct store *st, json_t *rows)
{
	const char	**names, *key;
	struct dirent	*de;
	json_t		*row;
	size_t		  i, n = json_array_size(rows);
	DIR		 *d;
	int		  fd;

	if ((fd = dup(st->queuefd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	names = xcalloc(n + 1, sizeof *names);
	json_array_foreach(rows, i, row)
		names[i] = json_string_value(json_object_get(row, "file"));
	qsort(names, n, sizeof *names, sq_strcmp);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		key = de->d_name;
		if (bsearch(&key, names, n, sizeof *names, sq_strcmp) != NULL)
			continue;
		log_info("removing queue/%s: never queued (the daemon "
		    "stopped while it was being written)", de->d_name);
		unlinkat(st->queuefd, de->d_name, 0);
	}
	closedir(d);
	free(names);
}

/*
 * Finish filing a row whose file is already in ACCOUNT/Sent/cur (a crash
 * after the rename). Return 1 when it was, 0 when not, -1 on error.
 */
static int
sq_repair(struct store *st, sqlite3 *db, struct ops_req *r, json_t *row)
{
	const char	*account = json_string_value(json_object_get(row,
			    "account"));
	const char	*file = json_string_value(json_object_get(row,
			    "file"));
	char		 path[SQ_NAME_MAX * 3];
	long long	 id;

	snprintf(path, sizeof path, "%s/Sent/cur/%s:2,S", account, file);
	if (faccessat(st->dirfd, path, F_OK, 0) != 0)
		return 0;
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	id = sq_index_sent(st, db, r, json_integer_value(
	    json_object_get(row, "id")), account, file);
	if (id == -1 || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	log_info("queue: account=%s msg=%lld had been sent; filed into Sent",
	    account, (long long)json_integer_value(json_object_get(row,
	    "id")));
	return 1;
}

/* queue.load: -> {items: [every row]}, after repairs. */
void
ops_queue_load(struct store *st, sqlite3 *db, struct ops_req *r)
{
	sqlite3_stmt	*s;
	json_t		*rows = json_array(), *keep = json_array(), *row;
	const char	*file;
	size_t		 i;
	int		 rc;

	if (sq_dir(st, r) == -1 || (s = ops_prepare(db, r, "SELECT "
	    SQ_COLUMNS " FROM queue ORDER BY id")) == NULL) {
		json_decref(rows);
		json_decref(keep);
		return;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(rows, sq_row(s));
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		ops_fail_db(r, db);
	json_array_foreach(rows, i, row) {
		if (r->error != NULL)
			break;
		file = json_string_value(json_object_get(row, "file"));
		if (faccessat(st->queuefd, file, F_OK, 0) == 0) {
			json_array_append(keep, row);
			continue;
		}
		if ((rc = sq_repair(st, db, r, row)) == 1)
			continue;
		if (rc == 0) {
			/* Shown as failed, never silently dropped. */
			json_object_set_new(row, "state", json_string("failed"));
			json_object_set_new(row, "last_error", json_string(
			    "the queued message file is missing"));
			json_array_append(keep, row);
		}
	}
	if (r->error == NULL) {
		sq_orphans(st, keep);
		r->result = json_pack("{s:o}", "items", keep);
	} else
		json_decref(keep);
	json_decref(rows);
}

/* queue.cancel: {id} -> {id}: the row, then its file. */
void
ops_queue_cancel(struct store *st, sqlite3 *db, struct ops_req *r)
{
	json_int_t	 id = json_integer_value(json_object_get(r->params,
			    "id"));
	sqlite3_stmt	*s;
	char		 file[SQ_NAME_MAX] = "";

	if (sq_dir(st, r) == -1 || (s = ops_prepare(db, r, "DELETE FROM "
	    "queue WHERE id = ? RETURNING file")) == NULL)
		return;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(file, sizeof file, "%s", (const char *)
		    sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (file[0] == '\0') {
		ops_fail(r, JSONRPC_ERR_NOT_FOUND, "no queued message %lld",
		    (long long)id);
		return;
	}
	if (unlinkat(st->queuefd, file, 0) != 0 && errno != ENOENT)
		log_warn("cannot remove queue/%s", file);
	fsync(st->queuefd);
	r->result = json_pack("{s:I}", "id", id);
}
