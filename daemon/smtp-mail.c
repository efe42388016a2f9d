/*
 * One message's mail transaction over an SMTP session (RFC 5321 section
 * 3.3; PIPELINING RFC 2920; SIZE RFC 1870; 8BITMIME RFC 6152; SMTPUTF8
 * RFC 6531). Part of the session in smtp.c (smtp-int.h).
 *
 *   IDLE -> [RSET] -> MAIL -> RCPT ... RCPT -> DATA -> BODY -> DOT -> IDLE
 *
 * With PIPELINING the commands RSET, MAIL, every RCPT and DATA go out in
 * one write, and the states MAIL, RCPT, DATA then only consume their
 * replies in order (RFC 2920 section 3.1); without it each command waits
 * for the previous reply. A refused RCPT is recorded and the others still
 * get the message; when no RCPT was accepted, a pipelined DATA is expected
 * to fail and its reply is ignored (RFC 2920 section 3.1), and the next
 * transaction starts with RSET.
 *
 * The message is streamed from its file in SMTP_CHUNK reads whenever the
 * output buffer drains below its low watermark (smtp.c's write callback),
 * encoded on the way (CRLF line ends, dot stuffing; smtp-wire.c). Memory
 * stays bounded whatever the message size; the TLS filter's own output
 * buffer is bounded too (see smtp_attach). A reply that comes before the
 * end of the message ends the message and the session.
 */
#include "autoconf.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "smtp-int.h"
#include "smtp-wire.h"
#include "smtp.h"

#define SMTP_CHUNK		(64 * 1024)	/* message file reads */
#define SMTP_ADDR_MAX		254		/* RFC 5321 4.5.3.1.3, no <> */

/* Check an address for the envelope: no line breaks, no brackets. */
int
smtp_addr_ok(const char *a, int *utf8)
{
	size_t	 i;

	if (strlen(a) > SMTP_ADDR_MAX)
		return 0;
	for (i = 0; a[i] != '\0'; i++) {
		unsigned char	 c = a[i];

		if (c < 0x20 || c == 0x7f || c == '<' || c == '>')
			return 0;
		if (c >= 0x80)
			*utf8 = 1;
	}
	return 1;
}

/* Send MAIL FROM with its parameters. */
static void
smtp_mail_cmd(struct smtp_session *s)
{
	char	 size[40] = "";

	if (s->ext.flags & SMTP_EXT_SIZE)
		snprintf(size, sizeof size, " SIZE=%llu",
		    (unsigned long long)s->env.size);
	smtp_cmd(s, "MAIL FROM:<%s>%s%s%s", s->env.from, size,
	    s->env.eightbit && (s->ext.flags & SMTP_EXT_8BITMIME) ?
	    " BODY=8BITMIME" : "", s->utf8 ? " SMTPUTF8" : "");
}

/* Send RCPT TO for recipient i. */
static void
smtp_rcpt_cmd(struct smtp_session *s, size_t i)
{
	smtp_cmd(s, "RCPT TO:<%s>", s->env.rcpts[i]);
}

/* Set recipient i's outcome from a reply. */
static void
smtp_rcpt_reply(struct smtp_session *s, size_t i, const struct smtp_reply *r,
    int temporary, int accepted)
{
	smtp_rcpt_set(s, i, r->code, r->enhanced, r->text, temporary,
	    accepted);
}

/*
 * Start the transaction of the message waiting: check SIZE, then RSET if
 * the last transaction was left open, MAIL, RCPT..., DATA: in one write
 * with PIPELINING.
 */
void
smtp_begin(struct smtp_session *s)
{
	size_t	 i;

	if ((s->ext.flags & SMTP_EXT_SIZE) && s->ext.size_max > 0 &&
	    s->env.size > s->ext.size_max) {
		snprintf(s->message, sizeof s->message, "message is %llu bytes, "
		    "%s:%d accepts at most %llu",
		    (unsigned long long)s->env.size, s->host, s->port,
		    (unsigned long long)s->ext.size_max);
		smtp_message_done(s, SMTP_ERR_REJECTED, 0);
		return;
	}
	if (s->utf8 && !(s->ext.flags & SMTP_EXT_SMTPUTF8)) {
		snprintf(s->message, sizeof s->message, "%s:%d does not accept "
		    "addresses with non-ASCII characters (no SMTPUTF8)",
		    s->host, s->port);
		smtp_message_done(s, SMTP_ERR_REJECTED, 0);
		return;
	}
	if (s->env.eightbit && !(s->ext.flags & SMTP_EXT_8BITMIME))
		log_info("smtp: session=%u host=%s:%d does not offer 8BITMIME; "
		    "sending 8-bit data anyway", s->id, s->host, s->port);
	s->batch = (s->ext.flags & SMTP_EXT_PIPELINING) != 0;
	s->mail_failed = 0;
	s->data_abort = 0;
	s->rcpt_next = 0;
	s->naccepted = 0;
	smtp_cork(s);
	if (s->need_rset)
		smtp_write(s, "RSET", NULL);
	if (!s->need_rset || s->batch)
		smtp_mail_cmd(s);
	if (s->batch) {
		for (i = 0; i < s->env.nrcpts; i++)
			smtp_rcpt_cmd(s, i);
		smtp_write(s, "DATA", NULL);
		log_debug("smtp: session=%u pipelined %sMAIL, %zu RCPT, DATA",
		    s->id, s->need_rset ? "RSET, " : "", s->env.nrcpts);
	}
	smtp_uncork(s);
	smtp_enter(s, s->need_rset ? SMTP_RSET : SMTP_MAIL);
}

/*
 * No recipient was accepted (or MAIL was refused): the message failed
 * with the recipients' own replies. The transaction is left open: RSET
 * before the next.
 */
static void
smtp_refused(struct smtp_session *s)
{
	size_t	 i, n = 0, used;
	int	 temporary = 0;

	s->need_rset = 1;
	for (i = 0; i < s->env.nrcpts; i++)
		temporary |= s->rcpts[i].temporary;
	if (s->message[0] == '\0' && s->env.nrcpts == 1)
		snprintf(s->message, sizeof s->message, "%s:%d said %d%s%s %s",
		    s->host, s->port, s->rcpts[0].code,
		    s->rcpts[0].enhanced != NULL ? " " : "",
		    s->rcpts[0].enhanced != NULL ? s->rcpts[0].enhanced : "",
		    s->rcpts[0].text);
	else if (s->message[0] == '\0') {
		used = snprintf(s->message, sizeof s->message, "%s:%d refused "
		    "every recipient:", s->host, s->port);
		for (i = 0; i < s->env.nrcpts && used < sizeof s->message;
		    i++, n++)
			used += snprintf(s->message + used, sizeof s->message -
			    used, "%s <%s> %d%s%s %s", n > 0 ? ";" : "",
			    s->env.rcpts[i], s->rcpts[i].code,
			    s->texts[i].enhanced[0] != '\0' ? " " : "",
			    s->texts[i].enhanced, s->rcpts[i].text);
	}
	smtp_message_done(s, SMTP_ERR_REJECTED, temporary);
}

/* The final reply to the message (or to DATA): end the transaction. */
static void
smtp_data_done(struct smtp_session *s, const struct smtp_reply *r)
{
	size_t	 i, used, refused = s->env.nrcpts - s->naccepted;
	int	 ok = r->code / 100 == 2;

	for (i = 0; i < s->env.nrcpts; i++) {
		if (s->texts[i].final)
			continue;
		smtp_rcpt_reply(s, i, r, smtp_temporary(r), ok);
		s->texts[i].final = 1;
	}
	if (!ok) {
		smtp_said(s, s->message, sizeof s->message, r);
		smtp_message_done(s, SMTP_ERR_REJECTED, smtp_temporary(r));
		return;
	}
	log_info("smtp: session=%u host=%s:%d message accepted for %zu of %zu "
	    "recipients (%llu bytes)", s->id, s->host, s->port, s->naccepted,
	    s->env.nrcpts, (unsigned long long)s->sent_bytes);
	if (refused > 0) {
		used = snprintf(s->message, sizeof s->message, "%s:%d refused "
		    "%zu of %zu recipients:", s->host, s->port, refused,
		    s->env.nrcpts);
		for (i = 0; i < s->env.nrcpts && used < sizeof s->message; i++)
			if (!s->rcpts[i].accepted)
				used += snprintf(s->message + used,
				    sizeof s->message - used, " <%s> %d%s%s %s%s",
				    s->env.rcpts[i], s->rcpts[i].code,
				    s->texts[i].enhanced[0] != '\0' ? " " : "",
				    s->texts[i].enhanced, s->rcpts[i].text,
				    --refused > 0 ? ";" : "");
	}
	smtp_message_done(s, SMTP_OK, 0);
}

/* Queue more of the message while the output buffer is low. */
void
smtp_body_pump(struct smtp_session *s)
{
	struct evbuffer		*out = bufferevent_get_output(s->bev);
	struct evbuffer_iovec	 v;
	ssize_t			 n;
	size_t			 len;

	while (s->state == SMTP_BODY &&
	    evbuffer_get_length(out) < SMTP_OUT_HIGH) {
		n = pread(s->env.fd, s->chunk, SMTP_CHUNK, (off_t)s->offset);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* Half a message went out: only closing is safe. */
			smtp_fail(s, SMTP_ERR_LOCAL, 0, 0, "cannot read the "
			    "message at byte %llu: %s",
			    (unsigned long long)s->offset, strerror(errno));
			return;
		}
		/*
		 * Nothing the server would deliver goes out before the
		 * owner says so: without the final dot the transaction
		 * dies with the connection.
		 */
		if (n == 0 && s->env.hold_dot)
			return;
		len = n > 0 ? SMTP_STUFF_MAX((size_t)n) : SMTP_STUFF_END_MAX;
		if (evbuffer_reserve_space(out, len, &v, 1) < 1)
			fatalx("evbuffer_reserve_space failed");
		if (n == 0)
			v.iov_len = smtp_stuff_end(&s->stuff, v.iov_base);
		else
			v.iov_len = smtp_stuff(&s->stuff, s->chunk, n,
			    v.iov_base);
		evbuffer_commit_space(out, &v, 1);
		s->sent_bytes += v.iov_len;
		if (n == 0) {
			free(s->chunk);
			s->chunk = NULL;
			smtp_enter(s, SMTP_DOT);
			return;
		}
		s->offset += n;
	}
}

/* A reply ends the message: it is the outcome of every open recipient. */
void
smtp_rcpts_final(struct smtp_session *s, const struct smtp_reply *r)
{
	size_t	 i;

	if (!s->busy)
		return;
	for (i = 0; i < s->env.nrcpts; i++) {
		if (s->texts[i].final)
			continue;
		smtp_rcpt_reply(s, i, r, smtp_temporary(r), 0);
		s->texts[i].final = 1;
	}
}

/* A reply before the end of the message: the message and session are over. */
void
smtp_early_reply(struct smtp_session *s, const struct smtp_reply *r,
    const char *said)
{
	if (r->code / 100 == 4 || r->code / 100 == 5) {
		smtp_rcpts_final(s, r);
		smtp_fail(s, SMTP_ERR_REJECTED, smtp_temporary(r), 0,
		    "%s (while the message was sent)", said);
	} else
		smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "unexpected reply while "
		    "the message was sent: %s", said);
}

/* A reply to MAIL, RCPT or DATA while the transaction is running. */
void
smtp_mail_response(struct smtp_session *s, const struct smtp_reply *r)
{
	size_t	 i = s->rcpt_next;
	int	 temporary;

	switch (s->state) {
	case SMTP_RSET:
		if (r->code / 100 != 2) {
			smtp_fail(s, SMTP_ERR_PROTOCOL, 1, 0, "RSET refused: %s",
			    r->text);
			return;
		}
		s->need_rset = 0;
		if (!s->batch)
			smtp_mail_cmd(s);
		smtp_enter(s, SMTP_MAIL);
		break;
	case SMTP_MAIL:
		s->need_rset = 1;
		if (r->code / 100 != 2) {
			smtp_said(s, s->message, sizeof s->message, r);
			for (i = 0; i < s->env.nrcpts; i++) {
				smtp_rcpt_reply(s, i, r, smtp_temporary(r), 0);
				s->texts[i].final = 1;
			}
			if (!s->batch) {
				smtp_refused(s);
				return;
			}
			/* The RCPT and DATA replies still come. */
			s->mail_failed = 1;
		} else if (!s->batch)
			smtp_rcpt_cmd(s, 0);
		smtp_enter(s, SMTP_RCPT);
		break;
	case SMTP_RCPT:
		if (!s->mail_failed) {
			temporary = smtp_temporary(r) || r->code == 552;
			if (r->code / 100 == 2) {
				smtp_rcpt_reply(s, i, r, 0, 1);
				s->naccepted++;
			} else {
				smtp_rcpt_reply(s, i, r, temporary, 0);
				s->texts[i].final = 1;
				log_info("smtp: session=%u recipient <%s> "
				    "refused: %d%s%s \"%s\"", s->id,
				    s->env.rcpts[i], r->code,
				    r->enhanced[0] != '\0' ? " " : "",
				    r->enhanced, r->text);
			}
		}
		if (++s->rcpt_next < s->env.nrcpts) {
			if (!s->batch)
				smtp_rcpt_cmd(s, s->rcpt_next);
			smtp_timeouts(s);
			break;
		}
		if (s->batch)
			smtp_enter(s, SMTP_DATA);
		else if (s->naccepted == 0)
			smtp_refused(s);
		else {
			smtp_write(s, "DATA", NULL);
			smtp_enter(s, SMTP_DATA);
		}
		break;
	case SMTP_DATA:
		if (s->mail_failed || s->naccepted == 0) {
			if (r->code == 354) {
				/* Wrong, but the way out is an empty message. */
				smtp_write(s, ".", NULL);
				s->data_abort = 1;
				smtp_enter(s, SMTP_DOT);
				return;
			}
			smtp_refused(s);
			return;
		}
		if (r->code != 354) {
			s->need_rset = 1;
			smtp_data_done(s, r);
			return;
		}
		smtp_stuff_init(&s->stuff);
		s->offset = 0;
		s->sent_bytes = 0;
		s->chunk = xmalloc(SMTP_CHUNK);
		smtp_enter(s, SMTP_BODY);
		smtp_body_pump(s);
		break;
	case SMTP_DOT:
		s->need_rset = 0;
		if (s->data_abort)
			smtp_refused(s);
		else
			smtp_data_done(s, r);
		break;
	default:
		break;
	}
}
