/*
 * Fuzz target: what reply and forward take from an original message
 * (compose-reply.c over mime.c), then the message composed from it. The
 * subject, References, attribution, quoted and forwarded text made from
 * any input must pass the composer's own checks: a failure to compose is
 * a bug, and aborts.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon/compose.h"
#include "daemon/mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Compose a message of subject, references and body with parts, to the
 * mailboxes of rcpts ([{name, addr}]) whose address is good (a bad one
 * is refused by reply before composing) and a@example.test.
 */
static void
compose(json_t *rcpts, const char *subject, const char *refs,
    const char *body, const struct compose_part *parts, size_t nparts)
{
	const char	**to, **names;
	struct compose	 c;
	json_t		*v;
	char		*mid = NULL, *cause = NULL;
	size_t		 i, n = 0;
	int		 fd;

	to = calloc(json_array_size(rcpts) + 2, sizeof *to);
	names = calloc(json_array_size(rcpts) + 2, sizeof *names);
	json_array_foreach(rcpts, i, v) {
		if (compose_check_address(json_string_value(json_object_get(v,
		    "addr")), &cause) != 0) {
			free(cause);
			cause = NULL;
			continue;
		}
		to[n] = json_string_value(json_object_get(v, "addr"));
		names[n++] = json_string_value(json_object_get(v, "name"));
	}
	to[n] = "a@example.test";
	names[n] = "";
	memset(&c, 0, sizeof c);
	c.from_addr = "me@example.test";
	c.to = to;
	c.to_names = names;
	c.subject = subject;
	c.references = refs;
	c.body = body;
	c.body_len = strlen(body);
	c.parts = parts;
	c.nparts = nparts;
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		abort();
	if (compose_write(&c, fd, &mid, &cause) != 0) {
		fprintf(stderr, "cannot compose: %s\n", cause);
		abort();
	}
	close(fd);
	free(mid);
	free(to);
	free(names);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "From", "Date", "Subject", "To",
	    "Cc" };
	struct mime_msg		*m;
	struct mime_attachment	 a;
	struct compose_part	*parts;
	json_t			*orig, *own, *rcpts, *refs, *r;
	char			*cause = NULL, *subject, *sub, *s, *body, *flat;
	char			*who, *q, *date, **ids, *fields[5];
	const char		*fv[11];
	size_t			 i, n, len;

	if ((m = mime_parse((const char *)data, size, &cause)) == NULL) {
		free(cause);
		return 0;
	}
	orig = json_pack("{s:o, s:o, s:o, s:o}", "reply_to",
	    compose_reply_mailboxes(m, "reply-to"), "from",
	    compose_reply_mailboxes(m, "from"), "to",
	    compose_reply_mailboxes(m, "to"), "cc",
	    compose_reply_mailboxes(m, "cc"));
	own = json_pack("[s]", "me@example.test");
	rcpts = compose_reply_rcpts(orig, own, 1);
	refs = json_array();
	ids = mime_msgids(mime_header(m, "references"), &n);
	for (i = 0; i < n; i++) {
		json_array_append_new(refs, json_string(ids[i]));
		free(ids[i]);
	}
	free(ids);
	ids = mime_msgids(mime_header(m, "message-id"), &n);
	s = compose_reply_references(refs, n > 0 ? ids[0] : NULL);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	body = mime_body_text(m);
	flat = compose_reply_unflow(body, mime_body_flowed(m) & MIME_DELSP);
	date = mime_header_text(m, "date");
	who = compose_reply_attribution(date, json_string_value(json_object_get(
	    json_array_get(json_object_get(orig, "from"), 0), "name")));
	q = compose_reply_quote(who, flat, 4096);
	if ((r = json_string(q)) == NULL)
		abort();	/* not UTF-8 */
	json_decref(r);
	subject = mime_header_text(m, "subject");
	for (i = 0; i < 2; i++) {
		sub = compose_reply_subject(subject, (int)i);
		compose(json_object_get(rcpts, i == 0 ? "to" : "cc"), sub,
		    i == 0 ? s : NULL, q, NULL, 0);
		free(sub);
	}
	/* A forward inline: the fields, the text, the attachments again. */
	for (i = 0; i < 5; i++) {
		fields[i] = mime_header_text(m, names[i]);
		fv[2 * i] = names[i];
		fv[2 * i + 1] = fields[i];
	}
	fv[10] = NULL;
	free(q);
	q = compose_reply_forward(fv, body, 4096);
	n = mime_nattachments(m);
	parts = calloc(n + 2, sizeof *parts);
	for (i = 0; i < n; i++) {
		if (mime_attachment(m, i, &a) != 0)
			continue;
		parts[i].data = mime_attachment_data(m, i, &len);
		parts[i].len = len;
		parts[i].type = a.content_type;
		parts[i].filename = a.filename;
	}
	parts[n].data = (const char *)data;	/* as message/rfc822 */
	parts[n].len = size;
	parts[n].type = "message/rfc822";
	compose(NULL, "Fwd:", NULL, q, parts, n + 1);
	for (i = 0; i < n; i++)
		free((char *)parts[i].data);
	free(parts);
	for (i = 0; i < 5; i++)
		free(fields[i]);
	free(subject);
	free(q);
	free(who);
	free(date);
	free(flat);
	free(body);
	free(s);
	json_decref(rcpts);
	json_decref(own);
	json_decref(refs);
	json_decref(orig);
	mime_free(m);
	return 0;
}
