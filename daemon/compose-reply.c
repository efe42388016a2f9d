/*
 * The parts of a reply or a forward that come from the original message:
 * the subject with one "Re: " or "Fwd: ", the References field (RFC 5322
 * 3.6.4), the recipients of a reply and of a reply to all, and the body
 * quoted below an attribution line (format=flowed text unflowed first,
 * RFC 3676 4.1 and 4.2) or, for a forward inline, below a block of the
 * original's header fields.
 *
 * Everything here reads text from a message, so from the outside: every
 * length is bounded, a message id that is not a plain msg-id is dropped,
 * and what goes into a header is one line of printable text.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/xmalloc.h"
#include "compose.h"
#include "mime.h"
#include "mime-thread.h"

#define REPLY_REFS_MAX		20	/* ids kept in References */
#define REPLY_REFS_BYTES	900	/* their length, with spaces */
#define REPLY_SUBJECT_MAX	900	/* bytes of the original's subject */
#define REPLY_LINE_MAX		200	/* a header of the original quoted */

/* A growing string. */
struct reply_buf {
	char	*d;
	size_t	 len;
	size_t	 size;
};

/* Append n bytes. */
static void
reply_add(struct reply_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->size) {
		b->size = b->size == 0 ? 256 : b->size;
		while (b->len + n + 1 > b->size)
			b->size *= 2;
		b->d = xreallocarray(b->d, 1, b->size);
	}
	memcpy(b->d + b->len, s, n);
	b->len += n;
	b->d[b->len] = '\0';
}

/* Append a string. */
static void
reply_adds(struct reply_buf *b, const char *s)
{
	reply_add(b, s, strlen(s));
}

/* The string, "" when nothing was added (new memory). */
static char *
reply_str(struct reply_buf *b)
{
	return b->d != NULL ? b->d : xstrdup("");
}

/*
 * The subject of a reply (fwd 0: "Re: ") or a forward (fwd 1: "Fwd: ") of
 * a message with this subject (or NULL): the leading prefixes of its kind
 * collapsed into one; other prefixes stay after it ("Re: Fwd: x"). One
 * line, cut at REPLY_SUBJECT_MAX bytes on a character boundary.
 */
char *
compose_reply_subject(const char *subject, int fwd)
{
	const char	*s = subject != NULL ? subject : "";
	char		*out, *p;
	size_t		 n, len;

	s += strspn(s, " \t");
	while ((n = mime_subject_prefix(s, fwd ? MIME_PREFIX_FORWARD :
	    MIME_PREFIX_REPLY)) > 0)
		s += n;
	len = strlen(s);
	if (len > REPLY_SUBJECT_MAX) {
		len = REPLY_SUBJECT_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	xasprintf(&out, "%s%s%.*s", fwd ? "Fwd:" : "Re:", len > 0 ? " " : "",
	    (int)len, s);
	/* Line breaks and controls (from a broken header) become spaces. */
	for (p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return out;
}

/* Is s (NULL or a string) a msg-id we write? */
static int
reply_msgid_ok(const char *s)
{
	return s != NULL && compose_msgid_ok(s, strlen(s));
}

/*
 * The References of a reply: the original's References (or, without
 * them, its In-Reply-To when that is one id), then its Message-ID, each
 * once, ids that are not plain msg-ids left out. A long list is trimmed
 * as RFC 5322 3.6.4 allows and RFC 5537 3.4.4 describes: the first id
 * and as many of the last ones as fit REPLY_REFS_MAX ids and
 * REPLY_REFS_BYTES bytes. NULL when there is none.
 */
char *
compose_reply_references(json_t *refs, const char *msgid)
{
	const char	**ids;
	json_t		 *v;
	struct reply_buf b = { NULL, 0, 0 };
	size_t		  i, j, n = 0, first, total;

	ids = xcalloc(json_array_size(refs) + 2, sizeof *ids);
	json_array_foreach(refs, i, v) {
		if (!reply_msgid_ok(json_string_value(v)))
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(ids[j], json_string_value(v)) == 0)
				break;
		if (j == n)
			ids[n++] = json_string_value(v);
	}
	if (reply_msgid_ok(msgid)) {
		for (j = 0; j < n; j++)
			if (strcmp(ids[j], msgid) == 0)
				break;
		if (j < n)	/* it goes last */
			memmove(&ids[j], &ids[j + 1], (n - j - 1) *
			    sizeof *ids), n--;
		ids[n++] = msgid;
	}
	if (n == 0) {
		free(ids);
		return NULL;
	}
	/* Keep ids[0], then the last ones from first on. */
	total = strlen(ids[0]);
	for (first = n; first > 1; first--) {
		if (n - first + 2 > REPLY_REFS_MAX || total + 1 +
		    strlen(ids[first - 1]) > REPLY_REFS_BYTES)
			break;
		total += 1 + strlen(ids[first - 1]);
	}
	reply_adds(&b, ids[0]);
	for (i = first; i < n; i++) {
		reply_add(&b, " ", 1);
		reply_adds(&b, ids[i]);
	}
	free(ids);
	return reply_str(&b);
}

/* The mailboxes of a top-level address field as [{name, addr}]. */
json_t *
compose_reply_mailboxes(const struct mime_msg *msg, const char *field)
{
	struct mime_addr	*list;
	json_t			*a = json_array();
	size_t			 i, n;

	list = mime_addresses(msg, field, &n);
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name",
		    list[i].name, "addr", list[i].addr));
	mime_addr_free(list, n);
	return a;
}

/* Does the addr-spec a (case-insensitively) equal one of list? */
static int
reply_addr_in(const char *a, json_t *list)
{
	json_t		*v;
	const char	*b;
	size_t		 i;

	json_array_foreach(list, i, v) {
		b = json_is_object(v) ? json_string_value(json_object_get(v,
		    "addr")) : json_string_value(v);
		if (b != NULL && strcasecmp(a, b) == 0)
			return 1;
	}
	return 0;
}

/*
 * Add the mailboxes of from ([{name, addr}]) to to, leaving out those in
 * skip (addresses or mailboxes), in not (mailboxes) and those there
 * already.
 */
static void
reply_add_rcpts(json_t *to, json_t *from, json_t *skip, json_t *not)
{
	json_t		*v;
	const char	*a;
	char		*name, *p;
	size_t		 i;

	json_array_foreach(from, i, v) {
		a = json_string_value(json_object_get(v, "addr"));
		if (a == NULL || *a == '\0' || reply_addr_in(a, skip) ||
		    reply_addr_in(a, to) || (not != NULL &&
		    reply_addr_in(a, not)))
			continue;
		/* A name goes into our header: one line, no controls. */
		name = xstrdup(json_string_value(json_object_get(v, "name")) ?
		    json_string_value(json_object_get(v, "name")) : "");
		for (p = name; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		json_array_append_new(to, json_pack("{s:s, s:s}", "name", name,
		    "addr", a));
		free(name);
	}
}

/*
 * The recipients of a reply to orig ({reply_to, from, to, cc}, each
 * [{name, addr}]) from someone whose addresses are own (strings): To is
 * Reply-To, else From; a reply to one's own message goes to its To
 * instead. With all, Cc is the original's To and Cc. Our own addresses
 * are left out, and every address is there once. Returns {to, cc}.
 */
json_t *
compose_reply_rcpts(json_t *orig, json_t *own, int all)
{
	json_t	*to = json_array(), *cc = json_array();

	reply_add_rcpts(to, json_object_get(orig, "reply_to"), own, NULL);
	if (json_array_size(to) == 0)
		reply_add_rcpts(to, json_object_get(orig, "from"), own, NULL);
	if (json_array_size(to) == 0)
		reply_add_rcpts(to, json_object_get(orig, "to"), own, NULL);
	if (all) {
		reply_add_rcpts(cc, json_object_get(orig, "to"), own, to);
		reply_add_rcpts(cc, json_object_get(orig, "cc"), own, to);
	}
	return json_pack("{s:o, s:o}", "to", to, "cc", cc);
}

/*
 * Undo format=flowed (RFC 3676 4.1, 4.2): a line that ends in a space
 * goes on in the next one of the same quote depth (less that space with
 * delsp); stuffed spaces go. The signature separator "-- " stays a line.
 */
char *
compose_reply_unflow(const char *text, int delsp)
{
	struct reply_buf b = { NULL, 0, 0 };
	const char	*p = text, *nl, *t;
	size_t		 i, n, depth, open = 0, odepth = 0;
	int		 soft;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		for (depth = 0; depth < n && p[depth] == '>'; depth++)
			;
		t = p + depth;
		n -= depth;
		if (n > 0 && *t == ' ') {	/* stuffed */
			t++;
			n--;
		}
		soft = n > 0 && t[n - 1] == ' ' && !(n == 3 &&
		    memcmp(t, "-- ", 3) == 0);
		if (open && depth != odepth)
			reply_add(&b, "\n", 1);	/* a flowed line cut short */
		if (!open || depth != odepth) {
			for (i = 0; i < depth; i++)
				reply_add(&b, ">", 1);
			if (depth > 0)
				reply_add(&b, " ", 1);
		}
		reply_add(&b, t, soft && delsp ? n - 1 : n);
		if (!soft)
			reply_add(&b, "\n", 1);
		open = soft;
		odepth = depth;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (open)
		reply_add(&b, "\n", 1);
	return reply_str(&b);
}

/*
 * The text quoted for a reply: the attribution line, then each line of
 * text after "> " (">" before a line quoted already or empty), at most
 * max bytes of it (a note says where it was cut).
 */
char *
compose_reply_quote(const char *attribution, const char *text, size_t max)
{
	struct reply_buf b = { NULL, 0, 0 };
	const char	*p = text, *nl;
	size_t		 n, done = 0;

	reply_adds(&b, attribution);
	reply_add(&b, "\n", 1);
	while (*p != '\0') {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (done + n > max) {
			reply_adds(&b, "> [...]\n");
			break;
		}
		done += n + 1;
		if (n == 0 || *p == '>')
			reply_add(&b, ">", 1);
		else
			reply_add(&b, "> ", 2);
		reply_add(&b, p, n);
		reply_add(&b, "\n", 1);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return reply_str(&b);
}

/* Append one line of header text, controls as spaces, cut short. */
static void
reply_add_line(struct reply_buf *b, const char *s)
{
	size_t	 i, n = strlen(s);

	if (n > REPLY_LINE_MAX) {
		n = REPLY_LINE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		reply_add(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? " " :
		    s + i, 1);
}

/*
 * The attribution line above quoted text: "On DATE, NAME wrote:" with
 * the original's Date as written and its sender's name (else address);
 * "NAME wrote:" without a date.
 */
char *
compose_reply_attribution(const char *date, const char *name)
{
	struct reply_buf b = { NULL, 0, 0 };

	if (date != NULL && *date != '\0') {
		reply_adds(&b, "On ");
		reply_add_line(&b, date);
		reply_adds(&b, ", ");
	}
	reply_add_line(&b, name != NULL && *name != '\0' ? name :
	    "someone");
	reply_adds(&b, " wrote:");
	return reply_str(&b);
}

/*
 * The body of a forward inline: a block of the original's header fields
 * (fields: pairs of name and value, NULL-terminated; values NULL or ""
 * left out), then its text as it is, at most max bytes.
 */
char *
compose_reply_forward(const char *const *fields, const char *text,
    size_t max)
{
	struct reply_buf b = { NULL, 0, 0 };
	size_t		 i, n = strlen(text);

	reply_adds(&b, "---------- Forwarded message ----------\n");
	for (i = 0; fields[i] != NULL; i += 2) {
		if (fields[i + 1] == NULL || *fields[i + 1] == '\0')
			continue;
		reply_adds(&b, fields[i]);
		reply_adds(&b, ": ");
		reply_add_line(&b, fields[i + 1]);
		reply_add(&b, "\n", 1);
	}
	reply_add(&b, "\n", 1);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	reply_add(&b, text, n);
	if (n > 0 && text[n - 1] != '\n')
		reply_add(&b, "\n", 1);
	if (n < strlen(text))
		reply_adds(&b, "[...]\n");
	return reply_str(&b);
}
