/* Unit tests for daemon/smtp-wire.c: replies, EHLO keywords, DATA encoding. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/smtp-wire.h"
#include "tap.h"

/* Feed lines (separated by \n) to a fresh reply; return the last status. */
static enum smtp_reply_status
feed(struct smtp_reply *r, const char *lines, int enhanced, const char **why)
{
	enum smtp_reply_status	 st = SMTP_REPLY_MORE;
	const char		*p = lines, *nl, *text;
	size_t			 len, textlen;

	smtp_reply_reset(r);
	*why = "";
	while (*p != '\0') {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		st = smtp_reply_line(r, p, len, enhanced, &text, &textlen, why);
		if (st != SMTP_REPLY_MORE || nl == NULL)
			break;
		p = nl + 1;
	}
	return st;
}

static void
test_replies(void)
{
	struct smtp_reply	 r;
	const char		*why;
	char			 big[8000];
	int			 i;

	ok(feed(&r, "220 mail.test ESMTP", 0, &why) == SMTP_REPLY_DONE &&
	    r.code == 220 && strcmp(r.text, "mail.test ESMTP") == 0,
	    "a one-line reply");
	ok(feed(&r, "250", 0, &why) == SMTP_REPLY_DONE && r.code == 250 &&
	    r.textlen == 0, "a code without text");
	ok(feed(&r, "250-mail.test\n250-PIPELINING\n250 SIZE 100", 0, &why) ==
	    SMTP_REPLY_DONE && r.nlines == 3 &&
	    strcmp(r.text, "mail.test PIPELINING SIZE 100") == 0,
	    "a multi-line reply, texts joined");
	ok(feed(&r, "250-a\n250-b", 0, &why) == SMTP_REPLY_MORE,
	    "an unfinished multi-line reply wants more");
	ok(feed(&r, "550 5.1.1 <bob@x>: Recipient address rejected", 1, &why)
	    == SMTP_REPLY_DONE && strcmp(r.enhanced, "5.1.1") == 0 &&
	    strcmp(r.text, "<bob@x>: Recipient address rejected") == 0,
	    "an enhanced status code is taken out of the text");
	ok(feed(&r, "550 5.1.1 <bob@x>: rejected", 0, &why) ==
	    SMTP_REPLY_DONE && r.enhanced[0] == '\0' &&
	    strncmp(r.text, "5.1.1 ", 6) == 0,
	    "not without ENHANCEDSTATUSCODES");
	ok(feed(&r, "550 4.1.1 mismatch", 1, &why) == SMTP_REPLY_DONE &&
	    r.enhanced[0] == '\0', "an enhanced code of another class is text");
	ok(feed(&r, "452-4.5.3 too many\n452 4.5.3 recipients", 1, &why) ==
	    SMTP_REPLY_DONE && strcmp(r.enhanced, "4.5.3") == 0 &&
	    strcmp(r.text, "too many recipients") == 0,
	    "enhanced codes on every line are removed");
	ok(feed(&r, "250 2.1234.5 x", 1, &why) == SMTP_REPLY_DONE &&
	    r.enhanced[0] == '\0', "a 4-digit subject is not an enhanced code");
	ok(feed(&r, "abc hello", 0, &why) == SMTP_REPLY_BAD, "letters: bad (%s)",
	    why);
	ok(feed(&r, "999 hello", 0, &why) == SMTP_REPLY_BAD, "999: bad");
	ok(feed(&r, "199 hello", 0, &why) == SMTP_REPLY_BAD, "1yz: bad");
	ok(feed(&r, "260 hello", 0, &why) == SMTP_REPLY_BAD, "26x: bad");
	ok(feed(&r, "25", 0, &why) == SMTP_REPLY_BAD, "two digits: bad");
	ok(feed(&r, "250xhello", 0, &why) == SMTP_REPLY_BAD,
	    "no separator: bad (%s)", why);
	ok(feed(&r, "250-a\n251 b", 0, &why) == SMTP_REPLY_BAD,
	    "codes differ in a multi-line reply: bad (%s)", why);
	ok(feed(&r, "250 caf\xc3\xa9\x01", 0, &why) == SMTP_REPLY_DONE &&
	    strcmp(r.text, "caf???") == 0, "text is made printable");
	memset(big, 'x', sizeof big);
	memcpy(big, "250 ", 4);
	big[sizeof big - 1] = '\0';
	ok(feed(&r, big, 0, &why) == SMTP_REPLY_DONE &&
	    r.textlen == sizeof r.text - 1, "long text is truncated");
	smtp_reply_reset(&r);
	for (i = 0; i < SMTP_REPLY_LINES_MAX + 5; i++) {
		const char	*text;
		size_t		 tl;

		if (smtp_reply_line(&r, "250-x", 5, 0, &text, &tl, &why) ==
		    SMTP_REPLY_BAD)
			break;
	}
	ok(i == SMTP_REPLY_LINES_MAX, "at most %d lines in a reply (%s)",
	    SMTP_REPLY_LINES_MAX, why);
}

static void
test_ext(void)
{
	struct smtp_ext	 e;
	const char	*lines[] = { "PIPELINING", "SIZE 10240000", "STARTTLS",
	    "AUTH PLAIN LOGIN CRAM-MD5", "AUTH=LOGIN XOAUTH2", "8bitmime",
	    "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8" };
	size_t		 i;

	memset(&e, 0, sizeof e);
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
		smtp_ext_line(&e, lines[i], strlen(lines[i]));
	ok(e.flags == (SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_STARTTLS |
	    SMTP_EXT_AUTH | SMTP_EXT_8BITMIME | SMTP_EXT_ENHANCED |
	    SMTP_EXT_SMTPUTF8), "every extension seen (flags 0x%x)", e.flags);
	ok(e.size_max == 10240000, "SIZE limit");
	ok(e.auth == (SMTP_AUTH_PLAIN | SMTP_AUTH_LOGIN | SMTP_AUTH_XOAUTH2),
	    "AUTH mechanisms, both forms");
	ok(strcmp(e.mechs, "PLAIN LOGIN CRAM-MD5 LOGIN XOAUTH2") == 0,
	    "mechanisms listed for messages: %s", e.mechs);
	memset(&e, 0, sizeof e);
	smtp_ext_line(&e, "SIZE", 4);
	ok((e.flags & SMTP_EXT_SIZE) && e.size_max == 0, "SIZE without limit");
	smtp_ext_line(&e, "SIZE 99999999999999999999999999", 31);
	ok(e.size_max == 0, "an overflowing SIZE means no limit");
	memset(&e, 0, sizeof e);
	smtp_ext_line(&e, "PIPELININGX", 11);
	smtp_ext_line(&e, "AUTHX PLAIN", 11);
	ok(e.flags == 0 && e.auth == 0, "keywords match whole words only");
}

/* Encode in chunks of size step; return a static string. */
static const char *
encode(const char *in, size_t step)
{
	static char		 out[4096];
	struct smtp_stuff	 st;
	size_t			 len = strlen(in), i, n = 0, k;

	smtp_stuff_init(&st);
	for (i = 0; i < len; i += k) {
		k = len - i < step ? len - i : step;
		n += smtp_stuff(&st, in + i, k, out + n);
	}
	n += smtp_stuff_end(&st, out + n);
	out[n] = '\0';
	return out;
}

static void
test_stuff(void)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "", ".\r\n" },
		{ "a\n", "a\r\n.\r\n" },
		{ "a\r\n", "a\r\n.\r\n" },
		{ "a", "a\r\n.\r\n" },
		{ "a\r", "a\r\n.\r\n" },
		{ ".\n", "..\r\n.\r\n" },
		{ "a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n" },
		{ "..x\r\n.y", "...x\r\n..y\r\n.\r\n" },
		{ "a\rb\n", "a\rb\r\n.\r\n" },
		{ "\n\n", "\r\n\r\n.\r\n" },
		{ "a\r\r\n", "a\r\r\n.\r\n" },
		{ "x\r.\n", "x\r.\r\n.\r\n" },
	};
	size_t	 i, step;
	int	 good;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		good = 1;
		for (step = 1; step <= 8; step++)
			good &= strcmp(encode(cases[i].in, step),
			    cases[i].out) == 0;
		ok(good, "DATA encoding of case %zu, any chunking", i);
	}
}

int
main(void)
{
	test_replies();
	test_ext();
	test_stuff();
	return tap_done();
}
