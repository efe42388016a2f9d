/*
 * What a reply or a forward takes from the stored original, on the
 * store's threads (never the loop: the original is read and parsed):
 *
 *   reply.source  (reader) the original read for a reply or a forward:
 *                 its recipients worked out, the subject, In-Reply-To,
 *                 References, and the text that goes below the user's
 *                 (the original quoted, or the forwarded block);
 *   on the writer, while queue.add composes the message: the parts of
 *                 the original a forward carries (the message itself as
 *                 message/rfc822, or its attachments, each byte for
 *                 byte), and afterwards the original's flag (R answered,
 *                 P passed) once the new message is queued.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "compose.h"
#include "mime.h"
#include "store.h"
#include "store-int.h"

#define REPLY_QUOTE_MAX	(1024 * 1024)	/* bytes of the original quoted */

/* The first msg-id of a field, or NULL (new memory). */
static char *
reply_first_id(const struct mime_msg *msg, const char *field)
{
	json_t	*a = ops_msgids(msg, field);
	char	*id = NULL;

	if (json_array_size(a) > 0)
		id = xstrdup(json_string_value(json_array_get(a, 0)));
	json_decref(a);
	return id;
}

/* The text that goes below the user's in a reply: the original quoted. */
static char *
reply_quoted(const struct mime_msg *msg, json_t *from)
{
	char		*date, *body, *flat, *who, *q;
	const char	*name;
	int		 flowed = mime_body_flowed(msg);

	date = mime_header_text(msg, "date");
	name = json_string_value(json_object_get(json_array_get(from, 0),
	    "name"));
	if (name == NULL || *name == '\0')
		name = json_string_value(json_object_get(json_array_get(from,
		    0), "addr"));
	who = compose_reply_attribution(date, name);
	body = mime_body_text(msg);
	if (flowed & MIME_FLOWED) {
		flat = compose_reply_unflow(body, (flowed & MIME_DELSP) != 0);
		free(body);
		body = flat;
	}
	q = compose_reply_quote(who, body, REPLY_QUOTE_MAX);
	free(body);
	free(who);
	free(date);
	return q;
}

/* The text of a forward inline: the original's fields, then its text. */
static char *
reply_forwarded(const struct mime_msg *msg)
{
	const char	*names[] = { "From", "Date", "Subject", "To", "Cc" };
	const char	*fields[11];
	char		*v[5], *body, *text;
	size_t		 i;

	for (i = 0; i < 5; i++) {
		v[i] = mime_header_text(msg, names[i]);
		fields[2 * i] = names[i];
		fields[2 * i + 1] = v[i];
	}
	fields[10] = NULL;
	body = mime_body_text(msg);
	text = compose_reply_forward(fields, body, REPLY_QUOTE_MAX);
	free(body);
	for (i = 0; i < 5; i++)
		free(v[i]);
	return text;
}

/*
 * reply.source: {id, forward?, inline?, all?, own: [addresses]} ->
 * {id, account, to, cc, subject, in_reply_to, references, text}: what a
 * reply (to and cc worked out) or a forward (none) takes from message id.
 */
void
ops_reply_source(struct store *st, sqlite3 *db, struct ops_req *r)
{
	json_t		*p = r->params, *orig, *rcpts = NULL, *refs;
	struct ops_row	 row;
	struct store_mime sm;
	char		*subject, *rsubject, *msgid, *irt, *references = NULL;
	char		*text;
	int		 fwd = json_is_true(json_object_get(p, "forward"));

	if (ops_row(db, r, json_integer_value(json_object_get(p, "id")),
	    &row) != 0 || ops_parse(st, r, &row, &sm) != 0)
		return;
	orig = json_pack("{s:o, s:o, s:o, s:o}",
	    "reply_to", compose_reply_mailboxes(sm.msg, "reply-to"),
	    "from", compose_reply_mailboxes(sm.msg, "from"),
	    "to", compose_reply_mailboxes(sm.msg, "to"),
	    "cc", compose_reply_mailboxes(sm.msg, "cc"));
	subject = mime_header_text(sm.msg, "subject");
	msgid = reply_first_id(sm.msg, "message-id");
	if (!fwd) {
		rcpts = compose_reply_rcpts(orig, json_object_get(p, "own"),
		    json_is_true(json_object_get(p, "all")));
		refs = ops_msgids(sm.msg, "references");
		/* Without References, a lone In-Reply-To is the parent. */
		if (json_array_size(refs) == 0 && (irt = reply_first_id(sm.msg,
		    "in-reply-to")) != NULL) {
			json_array_append_new(refs, json_string(irt));
			free(irt);
		}
		references = compose_reply_references(refs, msgid);
		json_decref(refs);
		text = reply_quoted(sm.msg, json_object_get(orig, "from"));
	} else if (json_is_true(json_object_get(p, "inline")))
		text = reply_forwarded(sm.msg);
	else
		text = xstrdup("");
	rsubject = compose_reply_subject(subject, fwd);
	r->result = json_pack("{s:I, s:s, s:o, s:o, s:s, s:s?, s:s?, s:s}",
	    "id", (json_int_t)row.id, "account", row.account,
	    "to", rcpts != NULL ? json_incref(json_object_get(rcpts, "to")) :
	    json_array(),
	    "cc", rcpts != NULL ? json_incref(json_object_get(rcpts, "cc")) :
	    json_array(),
	    "subject", rsubject,
	    "in_reply_to", fwd || msgid == NULL ||
	    !compose_msgid_ok(msgid, strlen(msgid)) ? NULL : msgid,
	    "references", references, "text", text);
	json_decref(rcpts);
	json_decref(orig);
	free(subject);
	free(rsubject);
	free(msgid);
	free(references);
	free(text);
	store_mime_close(&sm);
}

/* Read all of a message file into memory (at most MIME_MAX_SIZE bytes). */
static char *
reply_slurp(struct store *st, struct ops_req *r, struct ops_row *row,
    size_t *len)
{
	struct stat	 sb;
	char		*buf = NULL;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = ops_open(st, r, row)) == -1)
		return NULL;
	if (fstat(fd, &sb) != 0)
		ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: %s", row->id,
		    strerror(errno));
	else if (sb.st_size > MIME_MAX_SIZE)
		ops_fail(r, JSONRPC_ERR_DATA, "message %lld is too large to "
		    "forward (%lld bytes, limit %d)", row->id,
		    (long long)sb.st_size, MIME_MAX_SIZE);
	else {
		buf = xmalloc(sb.st_size + 1);
		while (got < (size_t)sb.st_size && (n = read(fd, buf + got,
		    sb.st_size - got)) != 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				ops_fail(r, JSONRPC_ERR_FAILED, "message %lld: "
				    "%s", row->id, strerror(errno));
				free(buf);
				buf = NULL;
				break;
			}
			got += n;
		}
	}
	close(fd);
	if (buf != NULL) {
		buf[got] = '\0';
		*len = got;
	}
	return buf;
}

/*
 * The parts of the original a forward carries (compose: "original", the
 * message id, and "inline"), into fp: the message as it is, or, inline,
 * each of its attachments decoded. 0 (nothing to add without
 * "original"), or -1 with the request failed.
 */
int
store_reply_parts(struct store *st, sqlite3 *db, struct ops_req *r,
    json_t *compose, struct store_reply_parts *fp)
{
	json_t			*id = json_object_get(compose, "original");
	struct ops_row		 row;
	struct mime_attachment	 a;
	size_t			 i, n, len;

	memset(fp, 0, sizeof *fp);
	if (id == NULL)
		return 0;
	if (ops_row(db, r, json_integer_value(id), &row) != 0)
		return -1;
	if (!json_is_true(json_object_get(compose, "inline"))) {
		if ((fp->buf = reply_slurp(st, r, &row, &len)) == NULL)
			return -1;
		fp->parts = xcalloc(1, sizeof *fp->parts);
		fp->parts[0].data = fp->buf;
		fp->parts[0].len = len;
		fp->parts[0].type = "message/rfc822";
		fp->n = 1;
		return 0;
	}
	if (ops_parse(st, r, &row, &fp->sm) != 0)
		return -1;
	fp->parsed = 1;
	n = mime_nattachments(fp->sm.msg);
	fp->parts = xcalloc(n + 1, sizeof *fp->parts);
	fp->data = xcalloc(n + 1, sizeof *fp->data);
	for (i = 0; i < n; i++) {
		if (mime_attachment(fp->sm.msg, i, &a) != 0)
			continue;
		fp->data[fp->n] = mime_attachment_data(fp->sm.msg, i, &len);
		fp->parts[fp->n].data = fp->data[fp->n];
		fp->parts[fp->n].len = len;
		fp->parts[fp->n].type = a.content_type;
		fp->parts[fp->n].filename = a.filename;
		fp->n++;
	}
	return 0;
}

/* Free what store_reply_parts made. */
void
store_reply_parts_free(struct store_reply_parts *fp)
{
	size_t	 i;

	for (i = 0; fp->data != NULL && i < fp->n; i++)
		free(fp->data[i]);
	free(fp->data);
	free(fp->parts);
	free(fp->buf);
	if (fp->parsed)
		store_mime_close(&fp->sm);
	memset(fp, 0, sizeof *fp);
}

/*
 * Set the flag of mark ({id, flag}: "R" answered, "P" passed) on the
 * original of a reply or forward just queued, as mark does (file name and
 * index). The mail is queued whatever happens here: a failure (the
 * original deleted meanwhile, say) is logged.
 */
void
store_reply_mark(struct store *st, sqlite3 *db, json_t *mark)
{
	struct ops_req	 m;
	struct ops_row	 row;
	const char	*flag = json_string_value(json_object_get(mark,
			    "flag"));

	if (mark == NULL || flag == NULL || (strcmp(flag, "R") != 0 &&
	    strcmp(flag, "P") != 0))
		return;
	memset(&m, 0, sizeof m);
	m.fd = -1;
	if (ops_row(db, &m, json_integer_value(json_object_get(mark, "id")),
	    &row) == 0)
		ops_change_flag(st, db, &m, &row, 1, NULL, flag[0], 1, 0);
	if (m.error != NULL)
		log_warnx("message %lld: cannot mark it %s: %s",
		    (long long)json_integer_value(json_object_get(mark, "id")),
		    flag[0] == 'R' ? "answered" : "forwarded", m.error);
	free(m.error);
	json_decref(m.result);
}
