/*
 * Unit tests for daemon/imap-wire.c: greetings, capabilities, status
 * responses and their codes, FETCH with literals kept and streamed
 * (first, middle, last, empty, "{n+}", nested), quoted strings, NIL,
 * every bound and every kind of malformed response, continuations, the
 * parser reused after reset and after an error; the helpers on items;
 * quoting; modified UTF-7 both ways and what it refuses.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/imap-wire.h"
#include "tap.h"

/* A printed tree, for comparing a whole response at once. */
struct text {
	char	 buf[8192];
	size_t	 n;
};

/* Append s[0..len) to t, cut at the end of its buffer. */
static void
text_put(struct text *t, const char *s, size_t len)
{
	while (len-- > 0 && t->n < sizeof t->buf - 1)
		t->buf[t->n++] = *s++;
	t->buf[t->n] = '\0';
}

/*
 * Print items as the server could have sent them: strings quoted
 * (unescaped, a NUL as \0), streamed literals as <size>.
 */
static void
print_items(struct text *t, const struct imap_item *it)
{
	char	 num[32];
	size_t	 i;

	for (; it != NULL; it = it->next) {
		switch (it->kind) {
		case IMAP_ATOM:
			text_put(t, it->s, it->len);
			break;
		case IMAP_STRING:
			text_put(t, "\"", 1);
			for (i = 0; i < it->len; i++)
				text_put(t, it->s[i] == '\0' ? "\\0" :
				    it->s + i, it->s[i] == '\0' ? 2 : 1);
			text_put(t, "\"", 1);
			break;
		case IMAP_NIL:
			text_put(t, "NIL", 3);
			break;
		case IMAP_LIST:
			text_put(t, "(", 1);
			print_items(t, it->child);
			text_put(t, ")", 1);
			break;
		case IMAP_STREAMED:
			snprintf(num, sizeof num, "<%zu>", it->len);
			text_put(t, num, strlen(num));
			break;
		}
		if (it->next != NULL)
			text_put(t, " ", 1);
	}
}

/* The items of p's response, printed (static: one at a time). */
static const char *
printed(const struct imap_parser *p)
{
	static struct text	 t;
	const struct imap_resp	*r = imap_parse_resp(p);

	t.n = 0;
	t.buf[0] = '\0';
	if (r == NULL)
		return "(no response)";
	print_items(&t, r->items);
	return t.buf;
}

/*
 * Feed a response as it comes from a server: lines end in CRLF, a
 * literal's bytes follow its announce's line. Literals are kept, or
 * streamed when stream is set (every one, or from a bit mask: bit k for
 * the k-th literal). Return the last result; *key is the item before
 * the last literal announced, when key is not NULL.
 */
static enum imap_parse_result
feed_mask(struct imap_parser *p, const char *wire, size_t len,
    unsigned stream, const struct imap_item **key)
{
	enum imap_parse_result	 res = IMAP_PARSE_ERROR;
	const char		*end = wire + len, *crlf;
	uint64_t		 n;
	unsigned		 k = 0;

	do {
		crlf = memmem(wire, end - wire, "\r\n", 2);
		if (crlf == NULL)
			crlf = end;
		res = imap_parse_line(p, wire, crlf - wire);
		wire = crlf + (crlf < end ? 2 : 0);
		if (res != IMAP_PARSE_LITERAL)
			break;
		n = imap_parse_literal_len(p);
		if (key != NULL)
			*key = imap_parse_literal_key(p);
		if (n > (uint64_t)(end - wire))
			return IMAP_PARSE_ERROR;
		if (((stream >> k++) & 1) ?
		    imap_parse_literal_streamed(p) != 0 :
		    imap_parse_literal(p, wire, n) != 0)
			return IMAP_PARSE_ERROR;
		wire += n;
	} while (wire < end);
	return res;
}

static enum imap_parse_result
feed(struct imap_parser *p, const char *wire)
{
	imap_parser_reset(p);
	return feed_mask(p, wire, strlen(wire), 0, NULL);
}

/* Does wire parse to items printed as want? */
static int
parses_to(struct imap_parser *p, const char *wire, const char *want)
{
	enum imap_parse_result	 res = feed(p, wire);

	if (res == IMAP_PARSE_DONE && strcmp(printed(p), want) == 0)
		return 1;
	printf("# %s: result %d, items %s, error %s\n", wire, res,
	    printed(p), imap_parse_error(p) ? imap_parse_error(p) : "none");
	return 0;
}

/* Is wire refused with an error that says errpart? */
static int
refused(struct imap_parser *p, const char *wire, size_t len,
    const char *errpart)
{
	enum imap_parse_result	 res;
	const char		*e;

	imap_parser_reset(p);
	res = feed_mask(p, wire, len, 0, NULL);
	e = imap_parse_error(p);
	if (res == IMAP_PARSE_ERROR && e != NULL && strstr(e, errpart) != NULL &&
	    imap_parse_resp(p) == NULL)
		return 1;
	printf("# %.*s: result %d, error %s\n", (int)(len < 60 ? len : 60),
	    wire, res, e ? e : "none");
	return 0;
}

#define REFUSED(p, w, e)	refused((p), (w), strlen(w), (e))

/* A status response: its kind, status, code, args and text. */
static int
status_is(struct imap_parser *p, const char *wire, enum imap_resp_type type,
    const char *tag, enum imap_status st, const char *code, const char *args,
    const char *text)
{
	const struct imap_resp	*r;

#define SAME(a, b) ((a) == NULL ? (b) == NULL : (b) != NULL && strcmp(a, b) == 0)
	if (feed(p, wire) != IMAP_PARSE_DONE || (r = imap_parse_resp(p)) ==
	    NULL) {
		printf("# %s: %s\n", wire, imap_parse_error(p));
		return 0;
	}
	if (r->type == type && SAME(tag, r->tag) && r->status == st &&
	    SAME(code, r->code) && SAME(args, r->code_args) &&
	    SAME(text, r->text) && r->items == NULL && !r->has_number)
		return 1;
	printf("# %s: type %d tag %s status %d code %s args %s text %s\n",
	    wire, r->type, r->tag, r->status, r->code, r->code_args, r->text);
	return 0;
#undef SAME
}

static void
test_greetings(struct imap_parser *p)
{
	const struct imap_resp	*r;

	ok(status_is(p, "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS "
	    "ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.", IMAP_UNTAGGED,
	    NULL, IMAP_ST_OK, "CAPABILITY", "IMAP4rev1 SASL-IR LOGIN-REFERRALS "
	    "ID ENABLE IDLE LITERAL+ AUTH=PLAIN", "Dovecot ready."),
	    "Dovecot's greeting: code, args and text");
	r = imap_parse_resp(p);
	ok(r != NULL && imap_caps_text(r->code_args) == (IMAP_CAP_IMAP4REV1 |
	    IMAP_CAP_SASL_IR | IMAP_CAP_ID | IMAP_CAP_ENABLE | IMAP_CAP_IDLE |
	    IMAP_CAP_LITERALPLUS | IMAP_CAP_AUTH_PLAIN),
	    "its capabilities, from the code's args");
	ok(status_is(p, "* OK Gimap ready for requests from 192.0.2.1 "
	    "t10mb3423778wrl", IMAP_UNTAGGED, NULL, IMAP_ST_OK, NULL, NULL,
	    "Gimap ready for requests from 192.0.2.1 t10mb3423778wrl"),
	    "a greeting without a code");
	ok(status_is(p, "* PREAUTH IMAP4rev2 server logged in as Smith",
	    IMAP_UNTAGGED, NULL, IMAP_ST_PREAUTH, NULL, NULL,
	    "IMAP4rev2 server logged in as Smith"), "PREAUTH");
	ok(status_is(p, "* BYE Autologout; idle for too long", IMAP_UNTAGGED,
	    NULL, IMAP_ST_BYE, NULL, NULL, "Autologout; idle for too long"),
	    "BYE");
	ok(status_is(p, "* bye [UNAVAILABLE]", IMAP_UNTAGGED, NULL, IMAP_ST_BYE,
	    "UNAVAILABLE", NULL, ""), "bye in lower case, a code, no text");
	ok(status_is(p, "* OK", IMAP_UNTAGGED, NULL, IMAP_ST_OK, NULL, NULL,
	    ""), "OK alone");
}

static void
test_capability(struct imap_parser *p)
{
	const struct imap_resp	*r;
	unsigned		 all = 0x7fff;

	ok(feed(p, "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID "
	    "XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE "
	    "CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- "
	    "SPECIAL-USE APPENDLIMIT=35651584 AUTH=XOAUTH2 starttls "
	    "LoginDisabled qresync imap4REV2 sasl-ir auth=plain") ==
	    IMAP_PARSE_DONE && (r = imap_parse_resp(p)) != NULL &&
	    r->status == IMAP_ST_NONE && imap_item_is(r->items, "capability"),
	    "a CAPABILITY response is items");
	r = imap_parse_resp(p);
	ok(r != NULL && imap_caps_items(r->items) == all,
	    "every capability known, whatever its case (%#x)",
	    r != NULL ? imap_caps_items(r->items) : 0);
	ok(imap_caps_items(r != NULL ? r->items->next : NULL) == all,
	    "the same from the item after CAPABILITY");
	ok(imap_caps_text("IMAP4rev1 LITERAL+") == (IMAP_CAP_IMAP4REV1 |
	    IMAP_CAP_LITERALPLUS) && imap_caps_text("literal-") ==
	    IMAP_CAP_LITERALPLUS, "LITERAL+ and LITERAL- are one flag");
	ok(imap_caps_text("AUTH=PLAINX IDLEX XIDLE AUTH= LITERAL ID=1 "
	    "IMAP4") == 0 && imap_caps_text("") == 0 &&
	    imap_caps_text("  IDLE   MOVE ") == (IMAP_CAP_IDLE | IMAP_CAP_MOVE),
	    "near misses count for nothing; spaces anywhere");
	ok(imap_caps_items(NULL) == 0, "no items, no capabilities");
	ok(feed(p, "* CAPABILITY \"IDLE\" (MOVE) NIL ID") == IMAP_PARSE_DONE &&
	    imap_caps_items(imap_parse_resp(p)->items) == IMAP_CAP_ID,
	    "only atoms are capabilities");
}

static void
test_status_codes(struct imap_parser *p)
{
	ok(status_is(p, "* OK [UIDVALIDITY 3857529045] UIDs valid",
	    IMAP_UNTAGGED, NULL, IMAP_ST_OK, "UIDVALIDITY", "3857529045",
	    "UIDs valid"), "UIDVALIDITY");
	ok(status_is(p, "* OK [UIDNEXT 4392] Predicted next UID",
	    IMAP_UNTAGGED, NULL, IMAP_ST_OK, "UIDNEXT", "4392",
	    "Predicted next UID"), "UIDNEXT");
	ok(status_is(p, "* OK [HIGHESTMODSEQ 715194045007] Highest",
	    IMAP_UNTAGGED, NULL, IMAP_ST_OK, "HIGHESTMODSEQ", "715194045007",
	    "Highest"), "HIGHESTMODSEQ");
	ok(status_is(p, "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] "
	    "Limited", IMAP_UNTAGGED, NULL, IMAP_ST_OK, "PERMANENTFLAGS",
	    "(\\Deleted \\Seen \\*)", "Limited"), "PERMANENTFLAGS, raw");
	ok(status_is(p, "A003 OK [COPYUID 38505 304,319:320 3956:3958] Done",
	    IMAP_TAGGED, "A003", IMAP_ST_OK, "COPYUID",
	    "38505 304,319:320 3956:3958", "Done"), "COPYUID, tagged");
	ok(status_is(p, "A142 OK [READ-WRITE] SELECT completed", IMAP_TAGGED,
	    "A142", IMAP_ST_OK, "READ-WRITE", NULL, "SELECT completed"),
	    "a code without args");
	ok(status_is(p, "a1 no [uidnext 5] lower", IMAP_TAGGED, "a1",
	    IMAP_ST_NO, "UIDNEXT", "5", "lower"),
	    "status and code in lower case; the code upper-cased");
	ok(status_is(p, "A2 BAD", IMAP_TAGGED, "A2", IMAP_ST_BAD, NULL, NULL,
	    ""), "BAD without text");
	ok(status_is(p, "A3 NO [ALERT]Quota exceeded", IMAP_TAGGED, "A3",
	    IMAP_ST_NO, "ALERT", NULL, "Quota exceeded"),
	    "no space between \"]\" and the text");
	ok(status_is(p, "* NO [BADCHARSET (\"a]b\" UTF-8)] x", IMAP_UNTAGGED,
	    NULL, IMAP_ST_NO, "BADCHARSET", "(\"a]b\" UTF-8)", "x"),
	    "a \"]\" inside a quoted string in the args");
	ok(status_is(p, "* OK [CODE ] t", IMAP_UNTAGGED, NULL, IMAP_ST_OK,
	    "CODE", "", "t"), "empty args");
	ok(status_is(p, "A4 OK done [not a code] {5}", IMAP_TAGGED, "A4",
	    IMAP_ST_OK, NULL, NULL, "done [not a code] {5}"),
	    "brackets and braces in the text are text");
	ok(REFUSED(p, "* OK [UIDNEXT 5 text", "without ']'"),
	    "a code not closed");
	ok(REFUSED(p, "* OK [] x", "empty response code"), "an empty code");
	ok(REFUSED(p, "* OK [ALERT\x01] x", "without ']'"),
	    "a control character in a code");
}

static void
test_numbers(struct imap_parser *p)
{
	const struct imap_resp	*r;

	ok(parses_to(p, "* 23 EXISTS", "EXISTS") &&
	    (r = imap_parse_resp(p))->has_number && r->number == 23 &&
	    r->status == IMAP_ST_NONE && r->type == IMAP_UNTAGGED,
	    "* 23 EXISTS");
	ok(parses_to(p, "* 0 EXISTS", "EXISTS") &&
	    (r = imap_parse_resp(p))->has_number && r->number == 0,
	    "* 0 EXISTS");
	ok(parses_to(p, "* 4294967295 EXPUNGE", "EXPUNGE") &&
	    imap_parse_resp(p)->number == 4294967295u, "the largest number");
	ok(REFUSED(p, "* 4294967296 EXISTS", "above 4294967295"),
	    "a number past 32 bits");
	ok(REFUSED(p, "* 3", "without a word") &&
	    REFUSED(p, "* 3 ", "without a word") &&
	    REFUSED(p, "* 3  ", "without a word") &&
	    REFUSED(p, "* 3  EXISTS", "without a word"),
	    "a number without a word, or two spaces before it");
	ok(parses_to(p, "* 3abc x", "3abc x") &&
	    !imap_parse_resp(p)->has_number, "digits in an atom: no number");
	ok(parses_to(p, "* SEARCH 2 84 882", "SEARCH 2 84 882") &&
	    !imap_parse_resp(p)->has_number, "SEARCH: numbers are items");
}

static void
test_fetch(struct imap_parser *p)
{
	const struct imap_item	*f, *v, *key = NULL;
	const struct imap_resp	*r;
	uint64_t		 n = 0;
	static const char	 body[] = "Subject: hi\r\n\r\nbody\r\n";
	static const char	 nul[] =
	    "* 5 FETCH (BODY[]<0> {4}\r\na\0b\n FLAGS ())\r\n";
	static const char	 deep[] = "* 6 FETCH (ENVELOPE (NIL {3}\r\nabc "
	    "NIL ({2}\r\nxy)) BODY[1] {4}\r\nbody BODY[2] {2}\r\nzz)\r\n";
	char			 wire[256];

	ok(parses_to(p, "* 12 FETCH (UID 4827313 FLAGS (\\Seen \\Answered "
	    "$Forwarded) RFC822.SIZE 44827 MODSEQ (12121231000))",
	    "FETCH (UID 4827313 FLAGS (\\Seen \\Answered $Forwarded) "
	    "RFC822.SIZE 44827 MODSEQ (12121231000))"),
	    "FETCH of UID, FLAGS, RFC822.SIZE, MODSEQ");
	r = imap_parse_resp(p);
	f = r != NULL ? imap_item_nth(r->items, 1) : NULL;
	ok(r != NULL && r->number == 12 && imap_item_is(r->items, "fetch") &&
	    f != NULL && f->kind == IMAP_LIST, "number, word, list");
	ok(imap_item_number(imap_fetch_get(f, "uid"), &n) == 0 &&
	    n == 4827313, "UID from the list, key in any case");
	ok(imap_item_number(imap_fetch_get(f, "RFC822.SIZE"), &n) == 0 &&
	    n == 44827, "RFC822.SIZE");
	v = imap_fetch_get(f, "FLAGS");
	ok(v != NULL && v->kind == IMAP_LIST && imap_item_is(v->child,
	    "\\SEEN") && imap_item_is(imap_item_nth(v->child, 2),
	    "$Forwarded") && imap_item_nth(v->child, 3) == NULL, "FLAGS");
	ok(imap_fetch_get(f, "BODY[]") == NULL && imap_fetch_get(f,
	    "12121231000") == NULL && imap_fetch_get(r->items, "UID") == NULL &&
	    imap_fetch_get(NULL, "UID") == NULL,
	    "no such key; a value is no key; not a list");
	ok(parses_to(p, "* 1 FETCH (X-LABEL UID UID 9)",
	    "FETCH (X-LABEL UID UID 9)") && imap_item_number(imap_fetch_get(
	    imap_item_nth(imap_parse_resp(p)->items, 1), "UID"), &n) == 0 &&
	    n == 9, "a value that looks like a key is a value");

	snprintf(wire, sizeof wire, "* 1 FETCH (UID 7 BODY[] {%zu}\r\n%s)\r\n",
	    sizeof body - 1, body);
	imap_parser_reset(p);
	ok(feed_mask(p, wire, strlen(wire), 0, &key) == IMAP_PARSE_DONE &&
	    strcmp(printed(p), "FETCH (UID 7 BODY[] \"Subject: hi\r\n\r\n"
	    "body\r\n\")") == 0, "BODY[] literal kept");
	ok(imap_item_is(key, "BODY[]"), "the literal's key was BODY[]");
	f = imap_item_nth(imap_parse_resp(p)->items, 1);
	v = imap_fetch_get(f, "body[]");
	ok(v != NULL && v->kind == IMAP_STRING && v->len == sizeof body - 1 &&
	    memcmp(v->s, body, v->len) == 0 && v->s[v->len] == '\0',
	    "its bytes, NUL-terminated");
	imap_parser_reset(p);
	ok(feed_mask(p, wire, strlen(wire), 1, NULL) == IMAP_PARSE_DONE &&
	    strcmp(printed(p), "FETCH (UID 7 BODY[] <21>)") == 0,
	    "BODY[] literal streamed");
	v = imap_fetch_get(imap_item_nth(imap_parse_resp(p)->items, 1),
	    "BODY[]");
	ok(v != NULL && v->kind == IMAP_STREAMED && v->len == 21 &&
	    v->s == NULL, "a placeholder of its size");

	imap_parser_reset(p);
	ok(imap_parse_line(p, "* 2 FETCH (BODY[HEADER.FIELDS (FROM TO)] {26}",
	    45) == IMAP_PARSE_LITERAL && imap_parse_literal_len(p) == 26 &&
	    imap_item_is(imap_parse_literal_key(p),
	    "BODY[HEADER.FIELDS (FROM TO)]"),
	    "a section atom with spaces is one atom, and the key");
	ok(imap_parse_literal(p, "From: a@b\r\nTo: c@d\r\n\r\n1234", 26) == 0 &&
	    imap_parse_line(p, " UID 8 FLAGS (\\Seen))", 21) ==
	    IMAP_PARSE_DONE && strcmp(printed(p), "FETCH (BODY[HEADER.FIELDS "
	    "(FROM TO)] \"From: a@b\r\nTo: c@d\r\n\r\n1234\" UID 8 FLAGS "
	    "(\\Seen))") == 0, "a literal in a list, items after it");

	ok(parses_to(p, "* LIST () \"/\" {5}\r\nINBOX\r\n",
	    "LIST () \"/\" \"INBOX\""), "a literal as the last item");
	ok(parses_to(p, "* 3 FETCH (BODY[] {0}\r\n)\r\n",
	    "FETCH (BODY[] \"\")"), "an empty literal");
	ok(parses_to(p, "* 4 FETCH (BODY[TEXT] {3+}\r\nabc)\r\n",
	    "FETCH (BODY[TEXT] \"abc\")"), "{n+}");
	imap_parser_reset(p);
	ok(feed_mask(p, nul, sizeof nul - 1, 0, NULL) == IMAP_PARSE_DONE &&
	    strcmp(printed(p),
	    "FETCH (BODY[]<0> \"a\\0b\n\" FLAGS ())") == 0,
	    "a literal keeps NULs; <0> stays in the atom");
	imap_parser_reset(p);
	ok(feed_mask(p, deep, sizeof deep - 1, 0x6, &key) ==
	    IMAP_PARSE_DONE && strcmp(printed(p), "FETCH (ENVELOPE (NIL "
	    "\"abc\" NIL (<2>)) BODY[1] <4> BODY[2] \"zz\")") == 0,
	    "literals in nested lists, some kept, some streamed");
	ok(imap_item_is(key, "BODY[2]"), "the last literal's key");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* LIST ({1}", 11) == IMAP_PARSE_LITERAL &&
	    imap_parse_literal_key(p) == NULL, "a literal first in a list: "
	    "no key");
}

static void
test_lists_strings(struct imap_parser *p)
{
	const struct imap_item	*it;

	ok(parses_to(p, "* 6 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" "
	    "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" "
	    "\"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
	    "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" "
	    "\"BASE64\" 4554 73) \"MIXED\"))", "FETCH (BODYSTRUCTURE "
	    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	    "1152 23) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" "
	    "\"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" "
	    "\"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\"))"),
	    "BODYSTRUCTURE of RFC 9051, lists side by side");
	ok(parses_to(p, "* NAMESPACE ((\"\" \"/\")) NIL NIL",
	    "NAMESPACE ((\"\" \"/\")) NIL NIL"), "NAMESPACE");
	ok(parses_to(p, "* FLAGS ()", "FLAGS ()") && imap_item_nth(
	    imap_parse_resp(p)->items, 1)->child == NULL, "an empty list");
	ok(parses_to(p, "* X nil Nil NILS \"NIL\" NIL[x]",
	    "X NIL NIL NILS \"NIL\" NIL[x]"), "NIL in any case; not NILS, "
	    "\"NIL\" or NIL[x]");
	it = imap_item_nth(imap_parse_resp(p)->items, 1);
	ok(it != NULL && it->kind == IMAP_NIL && it->s == NULL &&
	    imap_item_nth(imap_parse_resp(p)->items, 4)->kind == IMAP_STRING,
	    "NIL has no string");
	ok(parses_to(p, "* LIST (\\Noselect) \"\\\\\" \"a \\\"b\\\" \\\\c\"",
	    "LIST (\\Noselect) \"\\\" \"a \"b\" \\c\""),
	    "quoted strings with \\\\ and \\\" escapes");
	it = imap_item_nth(imap_parse_resp(p)->items, 3);
	ok(it != NULL && it->len == 8 && strcmp(it->s, "a \"b\" \\c") == 0,
	    "the unescaped string and its length");
	ok(parses_to(p, "* LIST () \"/\" \"Entw\xc3\xbcrfe\t1\"",
	    "LIST () \"/\" \"Entw\xc3\xbcrfe\t1\""),
	    "8-bit and a tab in a quoted string");
	ok(parses_to(p, "* X  a   (b  c)  ", "X a (b c)"),
	    "several spaces between items");
	ok(parses_to(p, "* X \"\"\"a\"(b)(c)", "X \"\" \"a\" (b) (c)"),
	    "items without spaces between them");
	ok(parses_to(p, "* X BODY[HEADER.FIELDS (\"X-]\" SUBJECT)]<0.100> y",
	    "X BODY[HEADER.FIELDS (\"X-]\" SUBJECT)]<0.100> y"),
	    "a quoted \"]\" inside a section");
	ok(parses_to(p, "* X a]b [c] %* \\*", "X a]b [c] %* \\*"),
	    "\"]\", \"%%\", \"*\" and \"\\\" in atoms");
	ok(REFUSED(p, "* X \"abc", "quoted string not closed") &&
	    REFUSED(p, "* X \"abc\\\"", "quoted string not closed") &&
	    REFUSED(p, "* X \"abc\\", "quoted string not closed"),
	    "unterminated quoted strings");
	ok(REFUSED(p, "* X \"a\\nb\"", "bad escape"), "an escape of RFC none");
	ok(REFUSED(p, "* X BODY[HEADER", "'[' without ']'") &&
	    REFUSED(p, "* X BODY[\"]", "'[' without ']'"),
	    "a section not closed");
	ok(REFUSED(p, "* X BODY[\"\\\x1e\"]", "control character 0x1e") &&
	    REFUSED(p, "* X BODY[\t]", "control character 0x09"),
	    "a control character in a section, escaped or not");
	ok(REFUSED(p, "* X a\x01", "control character") &&
	    REFUSED(p, "* X \x7f", "control character"),
	    "control characters between items");
}

/* "* X " and depth opening parentheses, then as many closing. */
static int
nested(struct imap_parser *p, int depth)
{
	char	 line[64];
	int	 i, n;

	n = snprintf(line, sizeof line, "* X ");
	for (i = 0; i < depth; i++)
		line[n++] = '(';
	for (i = 0; i < depth; i++)
		line[n++] = ')';
	imap_parser_reset(p);
	return imap_parse_line(p, line, n);
}

static void
test_bounds(struct imap_parser *p)
{
	char			*big;
	size_t			 i, n;
	const char		*e;

	ok(nested(p, IMAP_DEPTH_MAX) == IMAP_PARSE_DONE,
	    "lists nested 16 deep");
	ok(nested(p, IMAP_DEPTH_MAX + 1) == IMAP_PARSE_ERROR &&
	    (e = imap_parse_error(p)) != NULL &&
	    strcmp(e, "list nesting deeper than 16") == 0, "17: refused");

	/* "* SEARCH" and numbers: IMAP_ITEMS_MAX items, then one more. */
	big = malloc(IMAP_LINES_MAX + 2);
	n = snprintf(big, 16, "* SEARCH");
	for (i = 1; i < IMAP_ITEMS_MAX; i++)
		n += snprintf(big + n, 16, " %zu", i);
	imap_parser_reset(p);
	ok(imap_parse_line(p, big, n) == IMAP_PARSE_DONE &&
	    imap_item_nth(imap_parse_resp(p)->items, IMAP_ITEMS_MAX - 1) !=
	    NULL, "%d items", IMAP_ITEMS_MAX);
	n += snprintf(big + n, 16, " 0");
	ok(refused(p, big, n, "more than 20000 items"), "one more: refused");
	n = snprintf(big, 32, "* X ({1}\r\na ");
	memset(big + n, '(', IMAP_DEPTH_MAX);
	ok(refused(p, big, n + IMAP_DEPTH_MAX - 1, "not closed") &&
	    refused(p, big, n + IMAP_DEPTH_MAX, "nesting deeper than 16"),
	    "the depth counts across a literal");

	/* Kept literals: IMAP_KEPT_MAX bytes in all, streamed ones free. */
	memset(big, 'x', IMAP_KEPT_MAX + 1);
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* 1 FETCH (BODY[] {1048576}", 27) ==
	    IMAP_PARSE_LITERAL && imap_parse_literal(p, big, IMAP_KEPT_MAX) ==
	    0 && imap_parse_line(p, " X {4294967295}", 15) ==
	    IMAP_PARSE_LITERAL && imap_parse_literal_len(p) == 4294967295u &&
	    imap_parse_literal_streamed(p) == 0 &&
	    imap_parse_line(p, " Y {0}", 6) == IMAP_PARSE_LITERAL &&
	    imap_parse_literal(p, "", 0) == 0 &&
	    imap_parse_line(p, ")", 1) == IMAP_PARSE_DONE,
	    "1 MiB kept, 4 GiB - 1 streamed, 0 kept");
	ok(imap_parse_resp(p) != NULL && imap_item_nth(imap_item_nth(
	    imap_parse_resp(p)->items, 1)->child, 3)->len == 4294967295u &&
	    imap_item_nth(imap_item_nth(imap_parse_resp(p)->items,
	    1)->child, 1)->len == IMAP_KEPT_MAX, "the sizes of both");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* 1 FETCH (A {1048576}", 22) ==
	    IMAP_PARSE_LITERAL && imap_parse_literal(p, big, IMAP_KEPT_MAX) ==
	    0 && imap_parse_line(p, " B {1}", 6) == IMAP_PARSE_LITERAL &&
	    imap_parse_literal(p, "x", 1) == -1 && strstr(imap_parse_error(p),
	    "more than 1048576 bytes kept") != NULL,
	    "one byte kept past 1 MiB: refused");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* 1 FETCH (A {1048577}", 22) ==
	    IMAP_PARSE_LITERAL && imap_parse_literal(p, big,
	    IMAP_KEPT_MAX + 1) == -1, "one literal past 1 MiB: refused");

	/* The lines of a response. */
	memset(big, 'a', IMAP_LINES_MAX + 1);
	memcpy(big, "* X ", 4);
	ok(refused(p, big, IMAP_LINES_MAX + 1, "lines of more than"),
	    "a line past 4 MiB");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* X {0}", 7) == IMAP_PARSE_LITERAL &&
	    imap_parse_literal(p, "", 0) == 0 &&
	    imap_parse_line(p, big, IMAP_LINES_MAX - 7) == IMAP_PARSE_DONE,
	    "lines up to 4 MiB in all");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* X {0}", 7) == IMAP_PARSE_LITERAL &&
	    imap_parse_literal(p, "", 0) == 0 &&
	    imap_parse_line(p, big, IMAP_LINES_MAX - 6) == IMAP_PARSE_ERROR,
	    "lines past 4 MiB in all");
	free(big);

	ok(REFUSED(p, "* X {abc}", "bad literal size") &&
	    REFUSED(p, "* X {}", "bad literal size") &&
	    REFUSED(p, "* X {12", "bad literal size") &&
	    REFUSED(p, "* X {1 2}", "bad literal size") &&
	    REFUSED(p, "* X {-1}", "bad literal size") &&
	    REFUSED(p, "* X {+}", "bad literal size") &&
	    REFUSED(p, "* X {5++}", "bad literal size"),
	    "malformed literal announces");
	ok(REFUSED(p, "* X {99999999999}", "literal size above 4294967295") &&
	    REFUSED(p, "* X {4294967296}", "literal size above"),
	    "literal sizes past 2^32 - 1");
	ok(REFUSED(p, "* X {5}x", "not at the end of a line") &&
	    REFUSED(p, "* X {5} ", "not at the end of a line"),
	    "an announce not at the end of its line");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* X {3}", 7) == IMAP_PARSE_LITERAL &&
	    imap_parse_literal(p, "ab", 2) == -1 &&
	    strstr(imap_parse_error(p), "2 bytes where 3") != NULL,
	    "literal bytes fewer than announced");
	ok(REFUSED(p, "* LIST (\\Noselect \"/\" INBOX", "1 list not closed") &&
	    REFUSED(p, "* X ((a)", "1 list not closed") &&
	    REFUSED(p, "* X (((", "3 lists not closed"),
	    "lists not closed");
	ok(REFUSED(p, "* X (a))", "')' without '('") &&
	    REFUSED(p, "* )", "')' without '('"), "\")\" too many");
	ok(REFUSED(p, "* X {2}\r\nab)", "')' without '('"),
	    "\")\" too many after a literal");
}

static void
test_garbage(struct imap_parser *p)
{
	ok(REFUSED(p, "", "empty line"), "an empty line");
	ok(REFUSED(p, "A(1 OK done", "bad tag") &&
	    REFUSED(p, "A\"1 OK done", "bad tag") &&
	    REFUSED(p, "A{1} OK done", "bad tag") &&
	    REFUSED(p, "A\\1 OK done", "bad tag") &&
	    REFUSED(p, "A%1 OK done", "bad tag") &&
	    REFUSED(p, "\x01 OK done", "bad tag") &&
	    REFUSED(p, "\xc3\xa9 OK done", "bad tag") &&
	    REFUSED(p, " A1 OK done", "bad tag"), "tags outside the grammar");
	ok(REFUSED(p, "A1", "bad tag") && REFUSED(p, "A1OK", "bad tag"),
	    "a tag alone");
	ok(REFUSED(p, "A1 FOO bar", "neither OK, NO nor BAD") &&
	    REFUSED(p, "A1 OKAY", "neither OK, NO nor BAD") &&
	    REFUSED(p, "A1 (OK)", "neither OK, NO nor BAD"),
	    "a tagged response that is no status");
	ok(REFUSED(p, "A1 BYE x", "tagged BYE") &&
	    REFUSED(p, "A1 PREAUTH", "tagged PREAUTH"), "tagged BYE, PREAUTH");
	ok(REFUSED(p, "A1  OK x", "no word after the tag") &&
	    REFUSED(p, "*  X", "no word after the tag"), "two spaces after "
	    "the tag");
	ok(REFUSED(p, "+OK POP3 ready", "'+' not followed") &&
	    REFUSED(p, "*OK", "'*' not followed") &&
	    REFUSED(p, "* ", "'*' not followed") &&
	    REFUSED(p, "*", "'*' not followed"),
	    "a POP3 server, \"*\" without data");
	ok(refused(p, "* OK a\0b", 8, "NUL byte") &&
	    refused(p, "* X {1}\r\na \0", 13, "NUL byte"),
	    "NUL in a line, first or continuing");
}

static void
test_continuation(struct imap_parser *p)
{
	const struct imap_resp	*r;

	ok(feed(p, "+ idling") == IMAP_PARSE_DONE &&
	    (r = imap_parse_resp(p)) != NULL && r->type == IMAP_CONTINUE &&
	    r->tag == NULL && r->status == IMAP_ST_NONE && r->items == NULL &&
	    strcmp(r->text, "idling") == 0, "+ idling");
	ok(feed(p, "+") == IMAP_PARSE_DONE &&
	    (r = imap_parse_resp(p)) != NULL && r->type == IMAP_CONTINUE &&
	    strcmp(r->text, "") == 0, "+ alone");
	ok(feed(p, "+ ") == IMAP_PARSE_DONE &&
	    strcmp(imap_parse_resp(p)->text, "") == 0, "+ and a space");
	ok(feed(p, "+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0"
	    "SR0fAQAgAAQEBAQ=") == IMAP_PARSE_DONE && strcmp(imap_parse_resp(
	    p)->text, "YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0"
	    "SR0fAQAgAAQEBAQ=") == 0, "+ and a SASL challenge, raw");
	ok(feed(p, "+ Ready for literal data (x) {5}") == IMAP_PARSE_DONE &&
	    strcmp(imap_parse_resp(p)->text, "Ready for literal data (x) {5}") ==
	    0, "a continuation's text is not items");
}

static void
test_reuse(struct imap_parser *p)
{
	const struct imap_resp	*r;

	imap_parser_reset(p);
	ok(imap_parse_resp(p) == NULL && imap_parse_error(p) == NULL &&
	    imap_parse_literal_len(p) == 0 && imap_parse_literal_key(p) ==
	    NULL, "a fresh parser: no response, no error, no literal");
	ok(imap_parse_literal(p, "x", 1) == -1 && imap_parse_error(p) != NULL,
	    "literal bytes without an announce");
	imap_parser_reset(p);
	ok(imap_parse_literal_streamed(p) == -1 && imap_parse_error(p) != NULL,
	    "a streamed literal without an announce");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "* X {2}", 7) == IMAP_PARSE_LITERAL &&
	    imap_parse_line(p, "ab", 2) == IMAP_PARSE_ERROR,
	    "a line where a literal was announced");
	ok(imap_parse_line(p, "A1 OK", 5) == IMAP_PARSE_ERROR &&
	    imap_parse_resp(p) == NULL && imap_parse_literal(p, "ab", 2) == -1,
	    "after an error, everything fails until reset");
	imap_parser_reset(p);
	ok(imap_parse_line(p, "A1 OK done", 10) == IMAP_PARSE_DONE &&
	    (r = imap_parse_resp(p)) != NULL && strcmp(r->tag, "A1") == 0 &&
	    imap_parse_error(p) == NULL, "after reset, a response again");
	ok(imap_parse_line(p, "A2 OK done", 10) == IMAP_PARSE_ERROR &&
	    strstr(imap_parse_error(p), "complete") != NULL,
	    "a line after DONE without reset");
	ok(parses_to(p, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n",
	    "FETCH (BODY[] \"abc\")") && parses_to(p, "* 2 EXISTS", "EXISTS") &&
	    imap_parse_resp(p)->number == 2 && parses_to(p,
	    "* 1 FETCH (BODY[] {3}\r\nabc)\r\n", "FETCH (BODY[] \"abc\")"),
	    "reused, the old response is gone");
	ok(REFUSED(p, "* X ((", "not closed") && parses_to(p, "* X (a)",
	    "X (a)"), "reused after an error");
}

static void
test_item_helpers(struct imap_parser *p)
{
	const struct imap_item	*it;
	uint64_t		 v = 7;

	ok(parses_to(p, "* X 0 18446744073709551615 18446744073709551616 -1 "
	    "+1 1a \"5\" NIL 0042 99999999999999999999",
	    "X 0 18446744073709551615 18446744073709551616 -1 +1 1a \"5\" NIL "
	    "0042 99999999999999999999"), "numbers and not");
	it = imap_parse_resp(p)->items;
	ok(imap_item_number(imap_item_nth(it, 1), &v) == 0 && v == 0, "0");
	ok(imap_item_number(imap_item_nth(it, 2), &v) == 0 &&
	    v == UINT64_MAX, "2^64 - 1");
	v = 7;
	ok(imap_item_number(imap_item_nth(it, 3), &v) == -1 && v == 7,
	    "2^64: refused, *v untouched");
	ok(imap_item_number(imap_item_nth(it, 4), &v) == -1 &&
	    imap_item_number(imap_item_nth(it, 5), &v) == -1 &&
	    imap_item_number(imap_item_nth(it, 6), &v) == -1,
	    "signs and letters");
	ok(imap_item_number(imap_item_nth(it, 7), &v) == -1 &&
	    imap_item_number(imap_item_nth(it, 8), &v) == -1 &&
	    imap_item_number(NULL, &v) == -1, "a string, NIL, nothing");
	ok(imap_item_number(imap_item_nth(it, 9), &v) == 0 && v == 42,
	    "leading zeros");
	ok(imap_item_number(imap_item_nth(it, 10), &v) == -1,
	    "20 nines: past 2^64");
	ok(imap_item_nth(it, 11) == NULL && imap_item_nth(NULL, 0) == NULL &&
	    imap_item_nth(it, 0) == it, "nth past the end, of nothing, first");
	ok(imap_item_is(it, "x") && !imap_item_is(imap_item_nth(it, 7), "5") &&
	    !imap_item_is(imap_item_nth(it, 8), "NIL") &&
	    !imap_item_is(NULL, "X") && !imap_item_is(it, "XX"),
	    "imap_item_is: atoms only, whole");
}

static void
test_quote(void)
{
	char	 q[1100], s[1002];

	ok(imap_quote(q, sizeof q, "INBOX", 5) == 7 &&
	    strcmp(q, "\"INBOX\"") == 0, "a plain string");
	ok(imap_quote(q, sizeof q, "a\"b\\c", 5) == 9 &&
	    strcmp(q, "\"a\\\"b\\\\c\"") == 0, "quote and backslash escaped");
	ok(imap_quote(q, sizeof q, "", 0) == 2 && strcmp(q, "\"\"") == 0,
	    "the empty string");
	ok(imap_quote(q, sizeof q, "a\r\nb", 4) == 0 &&
	    imap_quote(q, sizeof q, "a\rb", 3) == 0 &&
	    imap_quote(q, sizeof q, "a\nb", 3) == 0 &&
	    imap_quote(q, sizeof q, "a\0b", 3) == 0 &&
	    imap_quote(q, sizeof q, "p\xc3\xa4ss", 5) == 0,
	    "CR, LF, NUL, 8-bit: a literal");
	ok(imap_quote(q, sizeof q, "a\tb~", 4) == 6, "a tab can be quoted");
	memset(s, 'a', sizeof s);
	ok(imap_quote(q, sizeof q, s, 1000) == 1002 && q[1001] == '"' &&
	    q[1002] == '\0', "1000 bytes quoted");
	ok(imap_quote(q, sizeof q, s, 1001) == 0, "1001: a literal");
	ok(imap_quote(q, 7, "INBOX", 5) == -1 &&
	    imap_quote(q, 8, "INBOX", 5) == 7 && imap_quote(q, 0, "", 0) == -1,
	    "room for the NUL or -1");
	ok(imap_quote(q, 3, "a\nb", 3) == 0,
	    "a literal is needed whatever the room");
}

/* Does utf8 encode to wire and wire decode back to utf8? */
static int
mutf7_both(const char *utf8, const char *wire)
{
	char	 e[256], d[256];
	long	 ne, nd;

	ne = imap_mutf7_encode(e, sizeof e, utf8);
	nd = imap_mutf7_decode(d, sizeof d, wire);
	if (ne == (long)strlen(wire) && strcmp(e, wire) == 0 &&
	    nd == (long)strlen(utf8) && strcmp(d, utf8) == 0)
		return 1;
	printf("# %s -> %ld %s; %s -> %ld %s\n", utf8, ne, ne < 0 ? "" : e,
	    wire, nd, nd < 0 ? "" : d);
	return 0;
}

static void
test_mutf7(void)
{
	char	 out[256];

	ok(mutf7_both("Entw\xc3\xbcrfe", "Entw&APw-rfe"), "Entw\xc3\xbcrfe");
	ok(mutf7_both("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5"
	    "\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
	    "RFC 3501's example, \",\" for \"/\"");
	ok(mutf7_both("&", "&-") && mutf7_both("a&b&&", "a&-b&-&-"), "&");
	ok(mutf7_both("", "") && mutf7_both("INBOX", "INBOX") &&
	    mutf7_both(" !~", " !~"), "printable ASCII as itself");
	ok(mutf7_both("\xf0\x9f\x98\x80", "&2D3eAA-"),
	    "past U+FFFF: a surrogate pair");
	ok(mutf7_both("\t\x7f", "&AAkAfw-"), "controls and DEL are encoded");
	ok(mutf7_both("\xc3\xa4&\xc3\xb6", "&AOQ-&-&APY-"),
	    "& between two shifts");
	ok(mutf7_both("\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-"),
	    "three characters in one shift");
	ok(imap_mutf7_decode(out, sizeof out, "&AOQ-&APY-") == 4 &&
	    strcmp(out, "\xc3\xa4\xc3\xb6") == 0 &&
	    imap_mutf7_encode(out, sizeof out, "\xc3\xa4\xc3\xb6") == 8 &&
	    strcmp(out, "&AOQA9g-") == 0,
	    "two shifts in a row decode; they encode as one");

	ok(imap_mutf7_decode(out, sizeof out, "&Jjo!") == -1, "&Jjo!");
	ok(imap_mutf7_decode(out, sizeof out, "&U,BTFw") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "a&") == -1,
	    "a shift not closed");
	ok(imap_mutf7_decode(out, sizeof out, "&AGE-") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "&ACY-") == -1,
	    "an encoded printable ASCII ('a', '&')");
	ok(imap_mutf7_decode(out, sizeof out, "&AAA-") == -1, "encoded NUL");
	ok(imap_mutf7_decode(out, sizeof out, "&2D0-") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "&3gA-") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "&2D3YPQ-") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "&2D0AOQ-") == -1,
	    "unpaired surrogates");
	ok(imap_mutf7_decode(out, sizeof out, "&APx-") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "&APwA-") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "&AP-") == -1,
	    "padding bits not zero, a character too many or too few");
	ok(imap_mutf7_decode(out, sizeof out, "&AP/-") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "&&-") == -1,
	    "'/' and '&' are not modified base64");
	ok(imap_mutf7_decode(out, sizeof out, "Entw\xc3\xbcrfe") == -1 &&
	    imap_mutf7_decode(out, sizeof out, "a\tb") == -1,
	    "raw 8-bit or a control on the wire");
	ok(imap_mutf7_encode(out, sizeof out, "\xc3") == -1 &&
	    imap_mutf7_encode(out, sizeof out, "\xc0\xaf") == -1 &&
	    imap_mutf7_encode(out, sizeof out, "\xed\xa0\x80") == -1 &&
	    imap_mutf7_encode(out, sizeof out, "a\xff") == -1 &&
	    imap_mutf7_encode(out, sizeof out, "\xf4\x90\x80\x80") == -1,
	    "bad UTF-8: cut, overlong, a surrogate, 0xff, past U+10FFFF");
	ok(imap_mutf7_encode(out, 13, "Entw\xc3\xbcrfe") == 12 &&
	    imap_mutf7_encode(out, 12, "Entw\xc3\xbcrfe") == -1 &&
	    imap_mutf7_encode(out, 0, "") == -1,
	    "encode: room for the NUL or -1");
	ok(imap_mutf7_decode(out, 10, "Entw&APw-rfe") == 9 &&
	    imap_mutf7_decode(out, 9, "Entw&APw-rfe") == -1 &&
	    imap_mutf7_decode(out, 5, "Entw&APw-rfe") == -1,
	    "decode: room for the NUL or -1");
}

int
main(void)
{
	struct imap_parser	*p;

	if ((p = imap_parser_new()) == NULL)
		return 1;
	test_greetings(p);
	test_capability(p);
	test_status_codes(p);
	test_numbers(p);
	test_fetch(p);
	test_lists_strings(p);
	test_bounds(p);
	test_garbage(p);
	test_continuation(p);
	test_reuse(p);
	test_item_helpers(p);
	imap_parser_free(p);
	imap_parser_free(NULL);
	test_quote();
	test_mutf7();
	return tap_done();
}
