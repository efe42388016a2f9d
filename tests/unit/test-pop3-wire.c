/*
 * Unit tests for daemon/pop3-wire.c: the RETR body decoder (whatever the
 * split of its input and of the space it writes into), listing lines,
 * UIDLs, the STAT and single-UIDL answers, CAPA lines and the APOP
 * timestamp.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pop3-wire.h"
#include "tap.h"

struct space {
	char	 buf[4096];
	size_t	 given;
	size_t	 step;
};

/* Hand out the next step bytes of the buffer. */
static int
space_more(struct pop3_body *b, void *arg)
{
	struct space	*sp = arg;
	size_t		 n = sizeof sp->buf - sp->given;

	if (n > sp->step)
		n = sp->step;
	b->dst = sp->buf + sp->given;
	b->room = n;
	sp->given += n;
	return 0;
}

/*
 * Decode wire in pieces of piece bytes into space step bytes at a time;
 * the decoded text is NUL-terminated in out. Return the bytes consumed,
 * -1 on failure; *end as the decoder says.
 */
static long
decode(const char *wire, size_t piece, size_t step, char *out, int *end)
{
	struct pop3_body	 b;
	struct space		 sp;
	size_t			 off = 0, len = strlen(wire), n;
	ssize_t			 used;

	memset(&sp, 0, sizeof sp);
	sp.step = step;
	pop3_body_init(&b, space_more, &sp);
	*end = 0;
	while (off < len && !*end) {
		n = len - off < piece ? len - off : piece;
		if ((used = pop3_body_decode(&b, wire + off, n, end)) < 0)
			return -1;
		off += used;
	}
	n = sp.given - b.room;
	memcpy(out, sp.buf, n);
	out[n] = '\0';
	return off;
}

/* Decode wire with every piece size and a few space sizes; all agree? */
static int
decodes_to(const char *wire, const char *want, long want_used, int want_end)
{
	static const size_t	 steps[] = { 1, 2, 3, 64, 4096 };
	char			 out[4096];
	size_t			 piece, i;
	long			 used;
	int			 end;

	for (piece = 1; piece <= strlen(wire) + 1; piece++)
		for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
			used = decode(wire, piece, steps[i], out, &end);
			if (used != want_used || end != want_end ||
			    strcmp(out, want) != 0) {
				printf("# pieces of %zu, space %zu: \"%s\" "
				    "used %ld end %d\n", piece, steps[i], out,
				    used, end);
				return 0;
			}
		}
	return 1;
}

static void
test_body(void)
{
	ok(decodes_to("Subject: a\r\n\r\nbody\r\n.\r\n",
	    "Subject: a\n\nbody\n", 23, 1), "CRLF becomes LF; \".\" ends");
	ok(decodes_to("..x\r\n...\r\n.\r\n", ".x\n..\n", 13, 1),
	    "dot stuffing is undone");
	ok(decodes_to("a\rb\r\n\r\r\n.\r\n", "a\rb\n\r\n", 11, 1),
	    "a lone CR is content, and so is all but the last of CR CR LF");
	ok(decodes_to(".\r\rx\r\n.\r\n", "\r\rx\n", 9, 1),
	    "\".\" CR then more: a stuffed line starting with CR");
	ok(decodes_to("a\n.\nrest", "a\n", 4, 1),
	    "bare LF line ends, and \".\" LF ends too");
	ok(decodes_to("a\r\n.\r\nRETR 2 answer", "a\n", 6, 1),
	    "what follows the end is not consumed");
	ok(decodes_to("line\r", "line", 5, 0),
	    "a CR at the end waits for what follows");
	ok(decodes_to("x\r\n.", "x\n", 4, 0),
	    "a dot at the end of the input waits too");
	ok(decodes_to("x\r\n.\r", "x\n", 5, 0), "and so does \".\" CR");
	ok(decodes_to("", "", 0, 0), "nothing in, nothing out");
}

/* more() that refuses: the decoder reports it. */
static int
space_refuse(struct pop3_body *b, void *arg)
{
	(void)b;
	(void)arg;
	return -1;
}

static void
test_body_refused(void)
{
	struct pop3_body	 b;
	int			 end;

	pop3_body_init(&b, space_refuse, NULL);
	ok(pop3_body_decode(&b, "text\r\n", 6, &end) == -1,
	    "no space to write into: -1");
	pop3_body_init(&b, space_refuse, NULL);
	ok(pop3_body_decode(&b, ".\r\n", 3, &end) == 3 && end == 1,
	    "an empty message needs no space");
}

static void
test_lines(void)
{
	char		 l[200], *arg;
	unsigned long	 n;

	strcpy(l, "12 uid-12");
	ok(pop3_listing_parse(l, &n, &arg) == 0 && n == 12 &&
	    strcmp(arg, "uid-12") == 0, "a listing line");
	strcpy(l, "3 4711");
	ok(pop3_listing_parse(l, &n, &arg) == 0 && n == 3 &&
	    strcmp(arg, "4711") == 0, "a LIST line");
	strcpy(l, " 1 x");
	ok(pop3_listing_parse(l, &n, &arg) == -1, "a leading blank is refused");
	strcpy(l, "+1 x");
	ok(pop3_listing_parse(l, &n, &arg) == -1, "so is a sign");
	strcpy(l, "-1 x");
	ok(pop3_listing_parse(l, &n, &arg) == -1, "a negative number too");
	strcpy(l, "1");
	ok(pop3_listing_parse(l, &n, &arg) == -1, "a number alone");
	strcpy(l, "99999999999999999999999 x");
	ok(pop3_listing_parse(l, &n, &arg) == -1, "a number that overflows");

	ok(pop3_uidl_valid("uid-1", 5), "a UIDL");
	ok(!pop3_uidl_valid("", 0), "not an empty one");
	memset(l, 'u', 71);
	ok(pop3_uidl_valid(l, 70) && !pop3_uidl_valid(l, 71),
	    "70 characters at most");
	ok(!pop3_uidl_valid("a b", 3) && !pop3_uidl_valid("a\x7f", 2),
	    "printable ASCII without space only");

	ok(pop3_stat_parse("+OK 3 6000", &n) == 0 && n == 3, "STAT");
	ok(pop3_stat_parse("+OK 0 0", &n) == 0 && n == 0, "STAT, empty");
	ok(pop3_stat_parse("+OK 3", &n) == -1, "STAT without octets");
	ok(pop3_stat_parse("+OK -3 6000", &n) == -1, "a negative count");
	ok(pop3_stat_parse("-ERR no", &n) == -1, "STAT refused");

	strcpy(l, "+OK 7 uid-7");
	ok(pop3_uidl_one_parse(l, &n, &arg) == 0 && n == 7 &&
	    strcmp(arg, "uid-7") == 0, "UIDL n");
	strcpy(l, "+OK 7 uid-7 more");
	ok(pop3_uidl_one_parse(l, &n, &arg) == 0 && strcmp(arg, "uid-7") == 0,
	    "UIDL n: what follows the UIDL is not part of it");
	strcpy(l, "+OK 7");
	ok(pop3_uidl_one_parse(l, &n, &arg) == -1, "UIDL n without a UIDL");
	strcpy(l, "-ERR no such message");
	ok(pop3_uidl_one_parse(l, &n, &arg) == -1, "UIDL n refused");
	snprintf(l, sizeof l, "+OK 1 %071d", 0);
	ok(pop3_uidl_one_parse(l, &n, &arg) == -1, "a UIDL too long");
}

static void
test_capa_greeting(void)
{
	const char	*st = NULL;
	char		 g[400];
	size_t		 n;

	ok(pop3_capa_parse("PIPELINING") == POP3_CAP_PIPELINING &&
	    pop3_capa_parse("stls") == POP3_CAP_STLS &&
	    pop3_capa_parse("USER") == POP3_CAP_USER &&
	    pop3_capa_parse("UIDL") == POP3_CAP_UIDL,
	    "CAPA keywords, any case");
	ok(pop3_capa_parse("SASL LOGIN PLAIN") == POP3_CAP_SASL_PLAIN &&
	    pop3_capa_parse("SASL  plain") == POP3_CAP_SASL_PLAIN,
	    "SASL PLAIN among the mechanisms");
	ok(pop3_capa_parse("SASL LOGIN PLAINX") == 0 &&
	    pop3_capa_parse("PLAIN") == 0 && pop3_capa_parse("USERS") == 0 &&
	    pop3_capa_parse("") == 0, "no more than the words say");
	ok(pop3_capa_parse("TOP") == 0 && pop3_capa_parse("RESP-CODES") == 0,
	    "others are ignored");
	n = pop3_apop_stamp("+OK ready <1896.697170952@dbc.mtview.ca.us>",
	    43, &st);
	ok(n == 33 && strncmp(st, "<1896.697170952@dbc.mtview.ca.us>", n) == 0,
	    "the APOP timestamp of RFC 1939's example");
	ok(pop3_apop_stamp("+OK ready <no-at-sign>", 22, &st) == 0 &&
	    pop3_apop_stamp("+OK ready <x@y", 14, &st) == 0 &&
	    pop3_apop_stamp("+OK ready", 9, &st) == 0,
	    "no timestamp: no @, no >, nothing");
	snprintf(g, sizeof g, "+OK <%0252d@x>", 0);
	ok(pop3_apop_stamp(g, strlen(g), &st) == 256,
	    "a timestamp of 256 characters is taken");
	snprintf(g, sizeof g, "+OK <%0253d@x>", 0);
	ok(pop3_apop_stamp(g, strlen(g), &st) == 0,
	    "one of 257 is too long");
}

int
main(void)
{
	test_body();
	test_body_refused();
	test_lines();
	test_capa_greeting();
	return tap_done();
}
