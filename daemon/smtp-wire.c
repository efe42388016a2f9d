/*
 * SMTP wire format: reply lines, EHLO keywords, DATA encoding. No I/O, no
 * allocation: everything works on caller-provided, bounded memory.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp-wire.h"

/* Start reading a new reply. */
void
smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	r->enhanced[0] = '\0';
	r->text[0] = '\0';
	r->textlen = 0;
}

/* Count the digits at p (at most max), 0 when there is none. */
static size_t
smtp_digits(const char *p, size_t len, size_t max)
{
	size_t	 n = 0;

	while (n < len && n <= max && p[n] >= '0' && p[n] <= '9')
		n++;
	return n > max ? 0 : n;
}

/*
 * Return the length of an enhanced status code "class.subject.detail" at
 * the start of p (RFC 3463: class 2, 4 or 5 and the same as the reply's
 * first digit, then 1-3 digits twice), followed by a space or the end; 0
 * when there is none.
 */
static size_t
smtp_enhanced_len(const char *p, size_t len, char class)
{
	size_t	 i, n;

	if (len < 5 || p[0] != class || p[1] != '.')
		return 0;
	i = 2;
	if ((n = smtp_digits(p + i, len - i, 3)) == 0)
		return 0;
	i += n;
	if (i >= len || p[i] != '.')
		return 0;
	i++;
	if ((n = smtp_digits(p + i, len - i, 3)) == 0)
		return 0;
	i += n;
	if (i < len && p[i] != ' ')
		return 0;
	return i;
}

/* Append text to the reply's text: printable ASCII, bounded. */
static void
smtp_reply_append(struct smtp_reply *r, const char *p, size_t len)
{
	size_t	 i;

	while (len > 0 && *p == ' ') {
		p++;
		len--;
	}
	if (len == 0)
		return;
	if (r->textlen > 0 && r->textlen + 1 < sizeof r->text)
		r->text[r->textlen++] = ' ';
	for (i = 0; i < len && r->textlen + 1 < sizeof r->text; i++) {
		unsigned char	 c = p[i];

		r->text[r->textlen++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	r->text[r->textlen] = '\0';
}

/*
 * Read one reply line (without its CRLF) into r. RFC 5321 section 4.2:
 * a three-digit code (2-5, 0-5, 0-9), then "-" when more lines follow,
 * else a space or nothing; every line of a reply has the same code. With
 * enhanced set (the server announced ENHANCEDSTATUSCODES), a status code
 * "5.1.1" at the start of the text is taken out of the text and the
 * first one kept. *text and *textlen: this line's text (raw, after the code).
 */
enum smtp_reply_status
smtp_reply_line(struct smtp_reply *r, const char *line, size_t len,
    int enhanced, const char **text, size_t *textlen, const char **why)
{
	const char	*t;
	size_t		 tlen, elen;
	int		 code, last;

	*text = "";
	*textlen = 0;
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || line[2] < '0' || line[2] > '9') {
		*why = "no valid reply code";
		return SMTP_REPLY_BAD;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (len == 3)
		last = 1;
	else if (line[3] == ' ')
		last = 1;
	else if (line[3] == '-')
		last = 0;
	else {
		*why = "no space or dash after the reply code";
		return SMTP_REPLY_BAD;
	}
	if (r->nlines > 0 && code != r->code) {
		*why = "the lines of a multi-line reply have different codes";
		return SMTP_REPLY_BAD;
	}
	if (r->nlines >= SMTP_REPLY_LINES_MAX) {
		*why = "a multi-line reply has too many lines";
		return SMTP_REPLY_BAD;
	}
	r->code = code;
	r->nlines++;
	t = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	*text = t;
	*textlen = tlen;
	if (enhanced && (elen = smtp_enhanced_len(t, tlen, line[0])) > 0) {
		if (r->enhanced[0] == '\0' && elen < sizeof r->enhanced) {
			memcpy(r->enhanced, t, elen);
			r->enhanced[elen] = '\0';
		}
		t += elen;
		tlen -= elen;
	}
	smtp_reply_append(r, t, tlen);
	return last ? SMTP_REPLY_DONE : SMTP_REPLY_MORE;
}

/* Compare the word at p (length len) with a keyword, ignoring case. */
static int
smtp_word_is(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(p, word, len) == 0;
}

/* Record one AUTH mechanism. */
static void
smtp_ext_mech(struct smtp_ext *e, const char *p, size_t len)
{
	size_t	 used = strlen(e->mechs);

	if (smtp_word_is(p, len, "PLAIN"))
		e->auth |= SMTP_AUTH_PLAIN;
	else if (smtp_word_is(p, len, "LOGIN"))
		e->auth |= SMTP_AUTH_LOGIN;
	else if (smtp_word_is(p, len, "XOAUTH2"))
		e->auth |= SMTP_AUTH_XOAUTH2;
	if (used + len + 2 < sizeof e->mechs) {
		snprintf(e->mechs + used, sizeof e->mechs - used, "%s%.*s",
		    used > 0 ? " " : "", (int)len, p);
	}
}

/*
 * Read one line of an EHLO reply after the first (RFC 5321 section
 * 4.1.1.1: a keyword and parameters separated by spaces). "AUTH=LOGIN
 * PLAIN" is the old form some servers still send alongside "AUTH".
 */
void
smtp_ext_line(struct smtp_ext *e, const char *text, size_t len)
{
	const char	*p = text, *end = text + len, *w;
	size_t		 klen;
	uint64_t	 n;

	while (p < end && *p == ' ')
		p++;
	for (w = p; p < end && *p != ' ' && *p != '='; p++)
		;
	klen = p - w;
	if (smtp_word_is(w, klen, "PIPELINING"))
		e->flags |= SMTP_EXT_PIPELINING;
	else if (smtp_word_is(w, klen, "STARTTLS"))
		e->flags |= SMTP_EXT_STARTTLS;
	else if (smtp_word_is(w, klen, "8BITMIME"))
		e->flags |= SMTP_EXT_8BITMIME;
	else if (smtp_word_is(w, klen, "ENHANCEDSTATUSCODES"))
		e->flags |= SMTP_EXT_ENHANCED;
	else if (smtp_word_is(w, klen, "SMTPUTF8"))
		e->flags |= SMTP_EXT_SMTPUTF8;
	else if (smtp_word_is(w, klen, "SIZE")) {
		e->flags |= SMTP_EXT_SIZE;
		while (p < end && *p == ' ')
			p++;
		/* RFC 1870: no number, or 0, means no fixed limit. */
		for (n = 0; p < end && *p >= '0' && *p <= '9'; p++) {
			if (n > UINT64_MAX / 10 - 10) {
				n = 0;
				break;
			}
			n = n * 10 + (*p - '0');
		}
		e->size_max = n;
	} else if (smtp_word_is(w, klen, "AUTH")) {
		e->flags |= SMTP_EXT_AUTH;
		while (p < end) {
			while (p < end && (*p == ' ' || *p == '='))
				p++;
			for (w = p; p < end && *p != ' '; p++)
				;
			if (p > w)
				smtp_ext_mech(e, w, p - w);
		}
	}
}

/* Start encoding a message. */
void
smtp_stuff_init(struct smtp_stuff *st)
{
	st->bol = 1;
	st->cr = 0;
}

/*
 * Encode a chunk of a message for DATA into out (room for
 * SMTP_STUFF_MAX(len) bytes); return the bytes written. A bare LF becomes
 * CRLF, a CRLF stays, a dot starting a line is doubled (RFC 5321 section
 * 4.5.2). A CR alone inside a line is passed on. Chunks may split the
 * message anywhere, even between a CR and its LF.
 */
size_t
smtp_stuff(struct smtp_stuff *st, const char *in, size_t len, char *out)
{
	const char	*p = in, *end = in + len, *nl;
	char		*o = out;
	size_t		 run;

	while (p < end) {
		if (st->bol && *p == '.')
			*o++ = '.';
		nl = memchr(p, '\n', end - p);
		run = (nl != NULL ? nl : end) - p;
		memcpy(o, p, run);
		o += run;
		p += run;
		if (nl == NULL) {
			st->bol = 0;
			st->cr = o[-1] == '\r';
			break;
		}
		if (!(run > 0 ? p[-1] == '\r' : st->cr))
			*o++ = '\r';
		*o++ = '\n';
		p++;
		st->bol = 1;
		st->cr = 0;
	}
	return o - out;
}

/*
 * End the message in out (room for SMTP_STUFF_END_MAX bytes): complete the
 * last line when it has no line end, then the terminating ".CRLF".
 */
size_t
smtp_stuff_end(struct smtp_stuff *st, char *out)
{
	char	*o = out;

	if (!st->bol) {
		if (!st->cr)
			*o++ = '\r';
		*o++ = '\n';
	}
	memcpy(o, ".\r\n", 3);
	o += 3;
	st->bol = 1;
	st->cr = 0;
	return o - out;
}
