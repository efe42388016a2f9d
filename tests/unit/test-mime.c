/*
 * Unit tests for daemon/mime*.c: encoded words, folded headers, transfer
 * encodings, charsets, the multipart walk and its limits. Every check
 * compares the exact output.
 */
#include "autoconf.h"

#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "daemon/mime.h"
#include "tap.h"

/* Compare a result with what is expected, then free it. */
static void
is(char *got, const char *want, const char *what)
{
	if (!ok(want == NULL ? got == NULL : (got != NULL &&
	    strcmp(got, want) == 0), "%s", what))
		printf("# got:  '%s'\n# want: '%s'\n", got ? got : "(null)",
		    want ? want : "(null)");
	free(got);
}

/* Check mime_decode_header on one raw value. */
static void
dec(const char *raw, const char *want, const char *what)
{
	is(mime_decode_header(raw), want, what);
}

/* Parse a NUL-terminated message. */
static struct mime_msg *
parse(const char *text)
{
	char	*cause = NULL;

	return mime_parse(text, strlen(text), &cause);
}

/* Check the body text of a message. */
static void
body(const char *text, const char *want, const char *what)
{
	struct mime_msg	*m = parse(text);

	is(mime_body_text(m), want, what);
	mime_free(m);
}

/* Check that a message has exactly one notice and that it begins so. */
static void
warned(const struct mime_msg *m, const char *want, const char *what)
{
	const char	*w = m != NULL ? mime_warning(m, 0) : NULL;

	if (!ok(m != NULL && mime_nwarnings(m) == 1 && w != NULL &&
	    strncmp(w, want, strlen(want)) == 0, "%s", what))
		printf("# got %zu: '%s'\n# want: '%s'\n", m ?
		    mime_nwarnings(m) : 0, w ? w : "(none)", want);
}

/* Check the body text of a message and its one notice. */
static void
body_warned(const char *text, const char *want, const char *warning,
    const char *what)
{
	struct mime_msg	*m = parse(text);

	is(mime_body_text(m), want, what);
	warned(m, warning, what);
	mime_free(m);
}

/* Check attachment idx: name (NULL for none), type and data. */
static void
att(const struct mime_msg *m, size_t idx, const char *name, const char *type,
    const char *data, const char *what)
{
	struct mime_attachment	 a;
	char			*d;
	size_t			 len;

	if (!ok(mime_attachment(m, idx, &a) == 0, "%s: exists", what))
		return;
	ok(name == NULL ? a.filename == NULL : (a.filename != NULL &&
	    strcmp(a.filename, name) == 0), "%s: filename '%s'", what,
	    a.filename ? a.filename : "(null)");
	ok(strcmp(a.content_type, type) == 0, "%s: type '%s'", what,
	    a.content_type);
	d = mime_attachment_data(m, idx, &len);
	ok(len == strlen(data) && a.size == len && memcmp(d, data, len) == 0,
	    "%s: data (%zu bytes)", what, len);
	free(d);
}

static void
test_encoded_words(void)
{
	dec("=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9", "B word");
	dec("=?iso-8859-1?q?caf=E9_cr=E8me?=", "caf\xc3\xa9 cr\xc3\xa8me",
	    "Q word with underscores, ISO-8859-1");
	dec("=?windows-1258?q?Vi=EA=F2t?=", "Vi\xe1\xbb\x87t",
	    "Windows-1258 (tone mark composed)");
	dec("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=",
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "ISO-2022-JP");
	dec("=?utf-8?b?w6nD?= \r\n =?utf-8?b?qQ==?=", "\xc3\xa9\xc3\xa9",
	    "UTF-8 character split across two adjacent words");
	dec("Re: =?utf-8?q?a?= b =?utf-8?q?c?=  =?utf-8?q?d?=", "Re: a b cd",
	    "space kept next to text, dropped between words");
	dec("=?utf-8?x?abc?= =?utf-8?q?open", "=?utf-8?x?abc?= =?utf-8?q?open",
	    "broken words kept raw");
	dec("=?x-nonsense?q?abc?= =?utf-8?q?=C3=A9?=",
	    "=?x-nonsense?q?abc?= \xc3\xa9", "unknown charset kept raw");
	dec("=?utf-8*en?q?hi?=", "hi", "RFC 2231 language in a word");
	dec("a\xff" "b =?utf-8?b?/w==?=", "a\xc3\xbf" "b \xef\xbf\xbd",
	    "raw byte: windows-1252; invalid UTF-8 in a UTF-8 word: U+FFFD");
	dec("plain text", "plain text", "no word");
}

static void
test_headers(void)
{
	struct mime_msg	*m;
	char		*cause = NULL;

	m = parse("From mbox line\nSubject: hello\r\n world\r\n\tagain\r\n"
	    "X-A: 1\nx-a: 2\nFrom: =?utf-8?q?J=C3=B6rg?= <j@x.test>\n\nbody\n");
	ok(strcmp(mime_header(m, "subject"), "hello world\tagain") == 0,
	    "folded header unfolded");
	ok(strcmp(mime_header(m, "X-A"), "1") == 0, "first occurrence");
	ok(mime_header(m, "To") == NULL, "absent header");
	is(mime_decode_header(mime_header(m, "from")),
	    "J\xc3\xb6rg <j@x.test>", "From decoded");
	is(mime_body_text(m), "body\n", "body after the header");
	mime_free(m);
	m = parse("Return-Path: <a@x.test>\nFrom a@x.test  Mon Jan  1 "
	    "00:00:00 2024\nSubject: after\nFrom b@x.test Tue Jan  2 00:00:00 "
	    "2024\nFrom : spaced <c@x.test>\n\nbody\n");
	ok(strcmp(mime_header(m, "subject"), "after") == 0,
	    "envelope lines inside the header block skipped");
	ok(strcmp(mime_header(m, "from"), "spaced <c@x.test>") == 0,
	    "\"From :\" is a header, not an envelope line");
	is(mime_body_text(m), "body\n", "envelope lines: the body");
	mime_free(m);
	mime_free(NULL);
	m = mime_parse("", (size_t)MIME_MAX_SIZE + 1, &cause);
	ok(m == NULL && cause != NULL, "absurd size refused: %s",
	    cause ? cause : "(no cause)");
	free(cause);
	m = parse("");
	is(mime_body_text(m), "", "empty message");
	ok(mime_nattachments(m) == 0, "empty message: no attachment");
	mime_free(m);
}

static void
test_bodies(void)
{
	body("Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "caf=C3=A9 =\nlong line=  \r\n continues=3D =ZZ\n",
	    "caf\xc3\xa9 long line continues= =ZZ\n", "QP soft line breaks");
	body("Content-Type: text/plain; charset=\"UTF-8\"\n"
	    "Content-Transfer-Encoding: BASE64\n\n"
	    "SGVsbG8gd29y!bGQsIGhlbGxvIHdvcmxkLCBoZWxsbyB3b3JsZA==\n",
	    "Hello world, hello world, hello world", "base64 with a stray byte");
	body_warned("Content-Transfer-Encoding: base64\n\nHello there, this "
	    "is no base64.\n", "Hello there, this is no base64.\n",
	    "a text/plain part labelled base64 is not base64: shown as it is",
	    "text labelled base64 that is not: as it is");
	body_warned("Content-Transfer-Encoding: quoted-printable\n\n"
	    "a=b&c=3D\n", "a=b&c=\n",
	    "a text/plain part labelled quoted-printable has 1 '=' escaping",
	    "quoted-printable with a bad escape");
	body_warned("Content-Transfer-Encoding: x-uuencode\n\nbegin\n",
	    "begin\n", "unknown transfer encoding \"x-uuencode\" of a text/plain",
	    "unknown transfer encoding: as it is");
	body_warned("Content-Type: text/plain; charset=x-nope\n\nok\n", "ok\n",
	    "unknown charset \"x-nope\"", "unknown charset: announced");
	body("Subject: x\n\ncaf\xe9\r\n", "caf\xc3\xa9\n",
	    "no charset, not UTF-8: ISO-8859-1; CRLF to LF");
	body("Content-Type: t\xe9xt/html\n\n<b>x</b>", "<b>x</b>",
	    "8-bit content type: invalid, so text/plain");
	body("Content-Type: text/plain; charset=x-foo\n\na\xff" "b",
	    "a\xc3\xbf" "b", "unknown charset, not UTF-8: windows-1252");
	body("Content-Type: text/plain; charset=x-foo\n\n\xc3\xa9",
	    "\xc3\xa9", "unknown charset, valid UTF-8: UTF-8");
	body("Content-Type: text/plain; charset=iso-2022-jp\n\n"
	    "\x1b$BF|K\\8l\x1b(B\n", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n",
	    "ISO-2022-JP body");
	body("Content-Type: text/html; charset=utf-8\n\n"
	    "<html><head><title>T</title><style>p { x: 1 }</style>"
	    "<script>alert('<p>')</script></head>\n<body><!-- c <p> -->"
	    "<p>Hello &amp;\n   welcome</p><p>caf&#233; &lt;3&#x21;"
	    "<br>end &bogus;</p></body></html>\n",
	    "Hello & welcome\n\ncaf\xc3\xa9 <3!\nend &bogus;",
	    "html only: tags, script, style, entities");
}

/* Check the text read from an HTML-only message. */
static void
html(const char *markup, const char *want, const char *what)
{
	char	*text;

	xasprintf(&text, "Content-Type: text/html; charset=utf-8\n\n%s",
	    markup);
	body(text, want, what);
	free(text);
}

/* Build a string of n copies of unit between head and tail. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t	 hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char	*s = xmalloc(hl + ul * n + tl + 1), *p = s;

	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

/* Check the length of the text of an HTML-only message and its start. */
static void
html_big(char *markup, const char *start, size_t max, const char *what)
{
	struct mime_msg	*m;
	char		*text, *got;

	xasprintf(&text, "Content-Type: text/html\n\n%s", markup);
	free(markup);
	m = parse(text);
	got = mime_body_text(m);
	if (!ok(got != NULL && strncmp(got, start, strlen(start)) == 0 &&
	    strlen(got) <= max, "%s", what))
		printf("# got %zu bytes: '%.60s'\n", got ? strlen(got) : 0,
		    got ? got : "(null)");
	free(got);
	mime_free(m);
	free(text);
}

/* HTML to text: head matter, links, lists, blocks, entities, white space. */
static void
test_html(void)
{
	html("<html><head><title>Invoice 42</title><meta charset=utf-8>"
	    "</head><body><p>Dear customer,</p></body></html>",
	    "Dear customer,", "html: the title is not the first line");
	html("<head><style type=text/css>\np { color: red }\n</style>"
	    "<script>var a = '<p>no</p>';</script></head>"
	    "<body><template><p>hidden</p></template>shown</body>",
	    "shown", "html: no style, script or template content");
	html("<p>See <a href=\"https://shop.test/o?id=1&amp;k=2\">your "
	    "order</a>.</p>", "See your order <https://shop.test/o?id=1&k=2>.",
	    "html: a link is text <url>, its &amp; decoded");
	html("<a href=\"https://shop.test/\">https://shop.test/</a> "
	    "<a href='http://www.shop.test'>www.shop.test</a> "
	    "<a href=mailto:bob@shop.test>bob@shop.test</a>",
	    "https://shop.test/ www.shop.test bob@shop.test",
	    "html: no URL twice when the text is the URL");
	html("<a href=\"javascript:alert(1)\">Run</a> <a href=\" JaVa"
	    "script:x\">x</a> <a href=\"data:text/html,<b>\">y</a> "
	    "<a href=\"#top\">top</a>", "Run x y top",
	    "html: javascript:, data: and # targets dropped, text kept");
	html("<a href=\"https://t.test/c\"><img src=\"x.png\"></a>",
	    "<https://t.test/c>", "html: a link without text is its URL");
	html("<p>Items:</p><ul><li>one</li><li>two<ol><li>first<li>second"
	    "</ol></li><li>three</ul><p>After</p>",
	    "Items:\n\n- one\n- two\n  1. first\n  2. second\n- three\n\n"
	    "After", "html: lists, numbered in <ol>, nested ones indented");
	html("<ol start=\"7\"><li><p>seven</p></li><li>eight</li></ol>",
	    "7. seven\n8. eight", "html: <ol start>, a paragraph in an item");
	html("<div>one</div><div>two</div>line<br>break<br><br>gap"
	    "<h2>Head</h2>text<hr>end", "one\ntwo\nline\nbreak\n\ngap\n\n"
	    "Head\n\ntext\n\nend", "html: blocks, headings and <br>");
	html("<table><tr><th>Item</th><th>Price</th></tr><tr><td>Tea</td>"
	    "<td>3</td></tr></table>", "Item Price\nTea 3",
	    "html: table rows are lines, cells apart");
	html("<p>Bob wrote:</p><blockquote><p>Hello<br>there</p>"
	    "</blockquote><p>Hi</p>", "Bob wrote:\n\n> Hello\n> there\n\nHi",
	    "html: quoted text marked");
	html("  Lots   of\n\t white \r\n space  <b> bold </b>  here ",
	    "Lots of white space bold here",
	    "html: white space collapses as in a browser");
	html("<pre>\n  x = 1;\n\n  y  =  2;\n</pre>after",
	    "  x = 1;\n\n  y  =  2;\n\nafter", "html: <pre> kept as it is");
	html("&lt;&gt;&amp;&quot;&apos; &eacute;&Eacute;&euro;&hellip;"
	    "&#233;&#xE9;&#X263a;&#128;&#0;&#1114112;&#x41 x&shy;y",
	    "<>&\"' \xc3\xa9\xc3\x89\xe2\x82\xac\xe2\x80\xa6\xc3\xa9"
	    "\xc3\xa9\xe2\x98\xba\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd" "A xy",
	    "html: named and numeric references");
	html("&bogus; &amp &#; &#x; & x AT&T &Eacute", "&bogus; &amp &#; &#x; "
	    "& x AT&T &Eacute", "html: what is no reference stays as text");
	html("a&nbsp;&nbsp;b", "a  b", "html: no-break spaces do not collapse");
	html("<!DOCTYPE html><!-- a <p> comment --><?xml x?><![if !mso]>"
	    "a < b, 1<2<!--[if mso]>x<![endif]-->", "a < b, 1<2",
	    "html: doctype, comments, conditionals; a lone < is text");
	html("<p>x<script>never closed <p>y", "x",
	    "html: an unclosed script hides the rest, as in a browser");
	html("<b title=\"a>b\">x</b> <i title='it''s'>y</i>", "x y",
	    "html: a > inside a quoted attribute");
	html("<img alt=\"unclosed>text <b>more</b>", "text more",
	    "html: an unclosed quote runs to the next >");
	html("<a href=\"https://a.test/\">one<a href=\"https://b.test/\">"
	    "two", "one <https://a.test/> two <https://b.test/>",
	    "html: a link opened in a link closes it; an unclosed one ends");
	/* Hostile: each would cost quadratic time or memory if read naively. */
	html_big(repeat("", "<div><blockquote><ol><li>", 200000, "deep"),
	    "> 1.\n> >   1.", 8000000, "html: 200000 nested lists and quotes");
	html_big(repeat("<a href=\"", "x", 4000000, "\">text</a>z"),
	    "textz", 16, "html: a 4 MB link target is dropped");
	html_big(repeat("", "<a href=\"x", 200000, ""), "", 100,
	    "html: 200000 tags with unclosed quotes");
	html_big(repeat("", "<p title='x", 200000, ""), "", 0,
	    "html: 200000 tags with unclosed single quotes");
	html_big(repeat("<!--", "<p>", 300000, ""), "", 0,
	    "html: an unclosed comment");
	html_big(repeat("a", "<", 1000000, ""), "a<<<", 1000001,
	    "html: a million lone <");
	html_big(repeat("", "&#x1111111111111111111", 100000, ""),
	    "\xef\xbf\xbd", 300000, "html: huge numeric references");
}

/* Check the time mime_date() reads (-1: none). */
static void
date(const char *value, long long want, const char *what)
{
	time_t	 t = 0;
	int	 rc = mime_date(value, &t);

	if (!ok(want == -1 ? rc == -1 : (rc == 0 && (long long)t == want),
	    "date: %s: \"%s\"", what, value))
		printf("# rc %d, got %lld, want %lld\n", rc, (long long)t, want);
}

/* Dates: RFC 5322 with its obsolete forms, and what real mail sends. */
static void
test_dates(void)
{
	/* 2002-04-03 05:56:00 UTC */
	const long long	 t = 1017813360;

	date("Wed, 03 Apr 2002 05:56:00 +0000", t, "RFC 5322");
	date("Wed, 3 Apr 2002 07:56:00 +0200 (CEST)", t, "zone and comment");
	date("Wed, 3 Apr 2002 05:56 +0000", t, "no seconds");
	date("Wednesday, April 03, 2002 5:56 AM", t,
	    "long names, month first, 12-hour clock");
	date("Wednesday, April 03, 2002 5:56 PM", t + 12 * 3600, "PM");
	date("April 3, 2002 12:56 am", t - 5 * 3600, "12 AM is midnight");
	date("03 Apr 2002 05:56:00", t, "no zone: UTC");
	date("Mon Apr  3 05:56:00 2002", t, "asctime");
	date("2002-04-03T05:56:00Z", t, "ISO 8601 with Z");
	date("2002-04-03 07:56:00 +0200", t, "ISO 8601, space, zone");
	date("2002-04-03T07:56:00.250+02:00", t, "ISO 8601, fraction, +hh:mm");
	date("2002-04-03T00:56-05", t, "ISO 8601, no seconds, -hh");
	date("Wed, 3 Apr 02 05:56:00 GMT", t, "two-digit year 02 is 2002");
	date("Sat, 3 Apr 99 05:56:00 GMT", 923118960, "99 is 1999");
	date("3 Apr 102 05:56:00 UT", t, "three-digit year 102 is 2002");
	date("3 Apr 2002 00:56:00 EST", t, "EST");
	date("3 Apr 2002 01:56:00 edt", t, "edt");
	date("2 apr 2002 22:56:00 PDT", t, "PDT, lowercase month");
	date("2 APR 2002 21:56:00 pst", t, "pst, uppercase month");
	date("3 Apr 2002 05:56:00 Z", t, "Z");
	date("3 Apr 2002 05:56:00 UTC", t, "UTC");
	date("3 Apr 2002 07:56:00 CEST", t, "CEST");
	date("3 Apr 2002 05:56:00 A", t, "a military zone: UTC");
	date("  Wed ,  3   Apr  2002 \t 05:56:00  ( a (nested) comment ) "
	    "+0000  ", t, "extra spaces and comments");
	date("3-Apr-2002 05:56:00 -0000", t, "hyphens");
	date("3 Sept 2002 05:56:00 +0000", 1031032560, "Sept");
	date("3 Apr 2002", -1, "a date without a time");
	date("Thu, 31 Dec 1998 23:59:60 +0000", 915148799, "a leap second");
	date("31 Apr 2002 05:56:00", -1, "31 April");
	date("3 Apr 2002 24:00:00", -1, "hour 24");
	date("3 Apr 2002 05:60:00", -1, "minute 60");
	date("3 Foo 2002 05:56:00", -1, "no month");
	date("3 Apr 99999 05:56:00", -1, "a five-digit year");
	date("Apr 2002 05:56:00", -1, "no day");
	date("3 Apr 2002 05:56:00 +2500", -1, "a zone past 24 hours");
	date("03/04/2002 05:56", -1, "numbers only: which is the month?");
	date("next tuesday", -1, "words");
	date("", -1, "empty");
	date("3 Apr 2002 5:56:00 1 2 3", -1, "numbers with no place");
}

/* Check a header read with the message's charset. */
static void
hdr(const char *text, const char *name, const char *want, const char *what)
{
	struct mime_msg	*m = parse(text);

	is(mime_header_text(m, name), want, what);
	mime_free(m);
}

/* Check the mailboxes of a To field: "name|addr" joined by ", ". */
static void
addrs(const char *to, const char *want, const char *what)
{
	struct mime_msg		*m;
	struct mime_addr	*list;
	struct { char *d; } out = { NULL };
	char			*s, *t;
	size_t			 i, n;

	xasprintf(&s, "To: %s\n\n", to);
	m = parse(s);
	free(s);
	list = mime_addresses(m, "to", &n);
	for (i = 0; i < n; i++) {
		xasprintf(&t, "%s%s%s|%s", out.d ? out.d : "", i ? ", " : "",
		    list[i].name, list[i].addr);
		free(out.d);
		out.d = t;
	}
	is(out.d ? out.d : xstrdup(""), want, what);
	mime_addr_free(list, n);
	mime_free(m);
}

static void
test_addresses(void)
{
	char	**ids;
	size_t	 n;

	addrs("\"Last, First\" <a@x.test>, b@x.test (Bee Gee)",
	    "Last, First|a@x.test, Bee Gee|b@x.test",
	    "quoted name with a comma; a comment names an address");
	addrs("=?utf-8?q?J=C3=B6rg?= <j@x.test>, \"=?utf-8?b?w6k=?=\" <e@x>",
	    "J\xc3\xb6rg|j@x.test, \xc3\xa9|e@x", "encoded words, quoted too");
	addrs("grp: a@x, B <b@x>;, empty:;, c@x", "|a@x, B|b@x, |c@x",
	    "groups flattened, empty groups give nothing");
	addrs("Ren\xe9" "e <r@x>", "Ren\xc3\xa9" "e|r@x", "raw 8-bit name");
	addrs("<@route,@r2:a@x>, ,, \"unclosed <u@x>", "|a@x, |unclosed <u@x>",
	    "source route dropped; empty entries skipped; unclosed quote");
	addrs("", "", "empty field");
	ids = mime_msgids("<a@x> (comment <not) <b@x>\n <c@x>", &n);
	ok(n == 3 && strcmp(ids[0], "<a@x>") == 0 && strcmp(ids[1],
	    "<b@x>") == 0 && strcmp(ids[2], "<c@x>") == 0,
	    "message ids in order, a stray '<' skipped (%zu)", n);
	while (n > 0)
		free(ids[--n]);
	free(ids);
	ok(mime_msgids(NULL, &n) == NULL && n == 0, "no field: no ids");
}

/* Check the safe name of a name. */
static void
safe(const char *name, const char *want, const char *what)
{
	is(mime_safe_filename(name, 3), want, what);
}

static void
test_invisible(void)
{
	struct mime_msg	*m;

	m = parse("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nt\n--b\n"
	    "Content-Type: application/octet-stream\nContent-Disposition: "
	    "attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\n\nMZ\n"
	    "--b--\n");
	att(m, 0, "invoicefdp.exe", "application/octet-stream", "MZ",
	    "a right-to-left override is removed from the listed name");
	mime_free(m);
	safe("invoice\xe2\x80\xae" "fdp.exe", "invoicefdp.exe",
	    "saved name without the right-to-left override");
	safe("a\xe2\x80\x8b" "b\xe2\x80\x8f" "c\xe2\x81\xa6" "d\xe2\x81\xa0"
	    "e\xef\xbb\xbf.txt\xe2\x80\x8e", "abcde.txt",
	    "zero-width, isolates, marks and BOM removed");
	safe("\xe2\x80\xae\xe2\x80\x8b", "attachment-3",
	    "nothing visible left: a neutral name");
	safe("\xe2\x80\x94" "dash.txt", "\xe2\x80\x94" "dash.txt",
	    "other characters of the same block kept");
}

static void
test_charsets(void)
{
	body("Content-Type: text/plain; charset=iso-8859-1\n\n"
	    "\x93q\x94 \x96 \x80\x85 \xe9\x81\n",
	    "\xe2\x80\x9cq\xe2\x80\x9d \xe2\x80\x93 \xe2\x82\xac\xe2\x80\xa6 "
	    "\xc3\xa9\xc2\x81\n", "ISO-8859-1 read as windows-1252 (WHATWG)");
	body("Content-Type: text/plain; charset=latin1\n\n\xc3\xa9",
	    "\xc3\x83\xc2\xa9", "ISO-8859-1 is not guessed to be UTF-8");
	body("Content-Type: text/plain; charset=us-ascii\n\nit\x92s",
	    "it\xe2\x80\x99s", "US-ASCII with 8-bit bytes: windows-1252");
	body("Content-Type: text/plain; charset=us-ascii\n\n\xe2\x9c\x93",
	    "\xe2\x9c\x93", "US-ASCII with valid UTF-8: UTF-8");
	body("Subject: x\n\n\x84tsch\x93", "\xe2\x80\x9etsch\xe2\x80\x9c",
	    "unlabelled 8-bit text: windows-1252");
	body("Content-Type: text/plain; charset=windows-1252\n\n\x9c\x9f",
	    "\xc5\x93\xc5\xb8", "windows-1252 itself");
	body("Content-Type: text/plain; charset=utf-8\n\na\xff" "b",
	    "a\xef\xbf\xbd" "b", "invalid UTF-8 labelled UTF-8: U+FFFD");
	dec("=?iso-8859-1?q?=93hi=94?=", "\xe2\x80\x9chi\xe2\x80\x9d",
	    "encoded word in ISO-8859-1: windows-1252");
	dec("caf\xe9 \x93x\x94", "caf\xc3\xa9 \xe2\x80\x9cx\xe2\x80\x9d",
	    "raw 8-bit header, no charset: windows-1252");
	hdr("Subject: \xf0\xd2\xc9\xd7\xc5\xd4\nContent-Type: text/plain; "
	    "charset=koi8-r\n\nx\n", "subject",
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
	    "raw 8-bit header in the charset the message declares");
	hdr("Subject: \xf0\xd2\xc9\xd7\xc5\xd4 =?utf-8?q?=C3=A9?=\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: text/plain; charset=KOI8-R\n\nx\n--b--\n",
	    "subject", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xc3\xa9",
	    "raw 8-bit header in the charset of the first text part");
	hdr("Subject: Gr\xc3\xbc\xc3\x9f" "e\nContent-Type: text/plain; "
	    "charset=koi8-r\n\nx\n", "subject", "Gr\xc3\xbc\xc3\x9f" "e",
	    "raw 8-bit header that is valid UTF-8: UTF-8");
	hdr("Subject: caf\xe9\nContent-Type: text/plain; charset=utf-8\n\n",
	    "subject", "caf\xc3\xa9",
	    "raw 8-bit header, declared UTF-8 but not: windows-1252");
	hdr("Subject: x\n\n", "to", NULL, "absent header: NULL");
	dec("caf\xe9 \xc3\xb6\xc3\xb6", "caf\xc3\xa9 \xc3\xb6\xc3\xb6",
	    "raw header mostly UTF-8 with a stray byte: both read right");
}

static void
test_multipart(void)
{
	struct mime_msg	*m;
	size_t		 len;
	char		*data;

	m = parse("Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
	    "preamble\n--outer\n"
	    "Content-Type: multipart/alternative; boundary=inner\n\n"
	    "--inner\nContent-Type: text/plain; charset=utf-8\n\nplain\n"
	    "--inner\nContent-Type: text/html\n\n<p>html</p>\n--inner--\n"
	    "--outer\nContent-Type: application/pdf; name=\"a.pdf\"\n"
	    "Content-Disposition: attachment; filename=\"r.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
	    "--outer\nContent-Type: message/rfc822\n\nSubject: in\n\nhi\n"
	    "--outer\nContent-Type: application/octet-stream\n"
	    "Content-Disposition: attachment; "
	    "filename*0*=utf-8''r%C3%A9sum; filename*1*=%C3%A9; "
	    "filename*2=\".txt\"\n\nx\n"
	    "--outer\nContent-Type: image/png; "
	    "name=\"=?utf-8?q?=C3=A9t=C3=A9.png?=\"\n\nPNG\n"
	    "--outer\nContent-Type: text/plain\nContent-Disposition: inline; "
	    "filename*=iso-8859-1'fr'caf%E9.txt\n\nnote\n"
	    "--outer--\nepilogue\n");
	is(mime_body_text(m), "plain", "nested: the text/plain part");
	ok(mime_nattachments(m) == 5, "nested: 5 attachments (%zu)",
	    mime_nattachments(m));
	att(m, 0, "r.pdf", "application/pdf", "%PDF-", "pdf");
	att(m, 1, NULL, "message/rfc822", "Subject: in\n\nhi",
	    "message/rfc822");
	att(m, 2, "r\xc3\xa9sum\xc3\xa9.txt", "application/octet-stream", "x",
	    "RFC 2231 continuations with charset");
	att(m, 3, "\xc3\xa9t\xc3\xa9.png", "image/png", "PNG",
	    "RFC 2047 in name=");
	att(m, 4, "caf\xc3\xa9.txt", "text/plain", "note",
	    "inline text with a file name, RFC 2231 ISO-8859-1");
	ok(mime_attachment(m, 5, &(struct mime_attachment){ 0 }) == -1,
	    "no attachment 5");
	ok(mime_attachment_data(m, 5, &len) == NULL && len == 0,
	    "no data for attachment 5");
	mime_free(m);

	m = parse("Content-Type: multipart/mixed; boundary=XX\n\npreamble\n"
	    "--XX\nContent-Type: text/plain\n\nfirst\n--XX  \n"
	    "Content-Type: application/octet-stream\n\nrest of data\n-XX\n");
	is(mime_body_text(m), "first", "boundary never closed: body");
	ok(mime_nattachments(m) == 1, "boundary never closed: 1 attachment");
	warned(m, "boundary \"XX\" of a multipart/mixed part never closed",
	    "boundary never closed: announced");
	att(m, 0, NULL, "application/octet-stream", "rest of data\n-XX\n",
	    "boundary never closed: part ends with the data");
	mime_free(m);

	m = parse("Content-Type: multipart/mixed; boundary=XX\n\n"
	    "--XX\nContent-Type: text/plain\n\nfirst\n--XXtrailing text\n"
	    "Content-Type: application/pdf; name=a.pdf\n\n%PDF\n"
	    "--XX--and more\nepilogue\n--XX\nContent-Type: image/png\n\nx\n");
	is(mime_body_text(m), "first", "delimiters with trailing text: body");
	ok(mime_nattachments(m) == 1, "the epilogue reaches no part (%zu)",
	    mime_nattachments(m));
	att(m, 0, "a.pdf", "application/pdf", "%PDF",
	    "a close delimiter with text after it ends the multipart");
	mime_free(m);

	m = parse("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: multipart/alternative; boundary=\"b-in\"\n\n"
	    "--b-in\nContent-Type: text/plain\n\nplain\n--b-in\n"
	    "Content-Type: text/html\n\n<p>h</p>\n--b-in--\n--b\n"
	    "Content-Type: image/png; name=p.png\n\nPNG\n--b--\n");
	is(mime_body_text(m), "plain", "nested boundary beginning with ours");
	ok(mime_nattachments(m) == 1, "nested boundary: 1 attachment");
	att(m, 0, "p.png", "image/png", "PNG", "nested boundary: the image");
	mime_free(m);

	/* Unquoted, "Boundary", after a mention of ours that declares
	 * nothing ("b=b-x" is no parameter of that name). */
	m = parse("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: multipart/alternative;\n X-Note: b=b-x;\n"
	    " Boundary=b-x\n\n--b-x\nContent-Type: text/plain\n\nplain\n"
	    "--b-x\nContent-Type: text/html\n\n<p>h</p>\n--b-x--\n--b\n"
	    "Content-Type: image/png; name=q.png\n\nPNG\n--b--\n");
	is(mime_body_text(m), "plain", "nested Boundary= unquoted");
	ok(mime_nattachments(m) == 1, "nested Boundary=: 1 attachment (%zu)",
	    mime_nattachments(m));
	att(m, 0, "q.png", "image/png", "PNG", "nested Boundary=: the image");
	mime_free(m);

	m = parse("Content-Type: multipart/alternative; boundary=b\n\n"
	    "--b\nContent-Type: text/html\n\n<b>bold</b> text\n--b--\n");
	is(mime_body_text(m), "bold text", "alternative with html only");
	ok(mime_nattachments(m) == 0, "the html body is no attachment");
	mime_free(m);

	m = parse("Content-Type: multipart/mixed\n\n--x\n\nbody\n");
	is(mime_body_text(m), "", "multipart without boundary: opaque");
	ok(mime_nattachments(m) == 1, "multipart without boundary: attachment");
	warned(m, "a multipart/mixed part has no boundary: its 10 bytes",
	    "multipart without boundary: announced");
	mime_free(m);

	m = parse("Content-Type: multipart/mixed; boundary=nope\n\n--x\n\nb\n");
	data = mime_attachment_data(m, 0, &len);
	ok(mime_nattachments(m) == 1 && data != NULL,
	    "boundary not found: the body is one attachment");
	free(data);
	ok(len == 7, "boundary not found: all of it (%zu bytes)", len);
	warned(m, "boundary \"nope\" of a multipart/mixed part not found",
	    "boundary not found: announced");
	mime_free(m);
}

/* Build a message nested depth multiparts deep around a text part. */
static char *
nested(int depth)
{
	char	*s = xstrdup("Content-Type: text/plain\n\ndeep\n"), *t;
	int	 i;

	for (i = depth - 1; i >= 0; i--) {
		xasprintf(&t, "Content-Type: multipart/mixed; boundary=b%d\n\n"
		    "--b%d\n%s\n--b%d--\n", i, i, s, i);
		free(s);
		s = t;
	}
	return s;
}

static void
test_limits(void)
{
	struct mime_msg		*m;
	struct mime_attachment	 a;
	char			*s, *cause = NULL;
	size_t			 i, len = 0, size;

	s = nested(10);
	m = parse(s);
	is(mime_body_text(m), "deep\n", "10 deep: text found");
	mime_free(m);
	free(s);

	s = nested(40);
	m = parse(s);
	is(mime_body_text(m), "", "40 deep: text below the bound not read");
	ok(mime_nattachments(m) == 1 && mime_attachment(m, 0, &a) == 0 &&
	    strcmp(a.content_type, "multipart/mixed") == 0,
	    "40 deep: the part at the bound is one opaque leaf");
	warned(m, "multiparts nested deeper than 32: a multipart/mixed part",
	    "40 deep: the bound is announced");
	mime_free(m);
	free(s);

	/* 1,000 attachments and a body: all listed, no notice. */
	size = 1001 * 80 + 100;
	s = xmalloc(size);
	len = snprintf(s, size, "Content-Type: multipart/mixed; boundary=z\n\n"
	    "--z\n\ntext\n");
	for (i = 0; i < 1000; i++)
		len += snprintf(s + len, size - len, "--z\nContent-Type: "
		    "image/gif; name=%zu.gif\n\nGIF\n", i);
	len += snprintf(s + len, size - len, "--z--\n");
	m = mime_parse(s, len, &cause);
	ok(m != NULL && mime_nattachments(m) == 1000 && mime_nwarnings(m) == 0,
	    "1,000 attachments: all listed (%zu), no notice (%zu)",
	    m ? mime_nattachments(m) : 0, m ? mime_nwarnings(m) : 0);
	is(mime_body_text(m), "text", "1,000 attachments: the text");
	mime_free(m);
	free(s);

	size = (MIME_MAX_PARTS + 500) * 64 + 100;
	s = xmalloc(size);
	len = snprintf(s, size, "Content-Type: multipart/mixed; boundary=z\n\n");
	for (i = 0; i < MIME_MAX_PARTS + 500; i++)
		len += snprintf(s + len, size - len, "--z\nContent-Type: "
		    "image/gif\n\nGIF\n");
	m = mime_parse(s, len, &cause);
	ok(m != NULL && mime_nattachments(m) == MIME_MAX_PARTS,
	    "%d parts: bounded to %d leaves (%zu attachments)",
	    MIME_MAX_PARTS + 500, MIME_MAX_PARTS, m ? mime_nattachments(m) : 0);
	warned(m, "stopped at the limit of 10000 parts: the last 16496 bytes",
	    "the bound on parts is announced with what it left out");
	mime_free(m);
	free(s);

	m = mime_parse("Subject: a\0b\n\nx\0y", 17, &cause);
	ok(strcmp(mime_header(m, "subject"), "a b") == 0,
	    "NUL in a header: a space");
	is(mime_body_text(m), "x\xef\xbf\xbdy", "NUL in the body: U+FFFD");
	mime_free(m);

	size = 1024 * 1024;
	s = xmalloc(size);
	memset(s, 'a', size);
	memcpy(s, "Subject: ", 9);
	m = mime_parse(s, size, &cause);
	ok(m != NULL && strlen(mime_header(m, "subject")) == size - 9,
	    "a 1 MiB header line");
	mime_free(m);
	free(s);
}

/*
 * A message read from a file mapping with MIME_DROP (pages behind the scan
 * given back) reads exactly as the same bytes parsed from memory; a body
 * prefix stops where it is told.
 */
static void
test_mapped(void)
{
	struct mime_msg	*mem, *map;
	struct mime_attachment a;
	FILE		*fp;
	char		*s, *p, *cause = NULL, *d1, *d2;
	size_t		 len, l1, l2, i, page = sysconf(_SC_PAGESIZE);
	int		 same;

	/* Text, then a 6 MB quoted-printable attachment, then an image. */
	fp = tmpfile();
	fprintf(fp, "Subject: mapped\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n"
	    "--b\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "Content-Disposition: attachment; filename=big.bin\n\n");
	for (i = 0; i < 100000; i++)
		fprintf(fp, "line %06zu =3D %040zu\n", i, i);
	fprintf(fp, "--b\nContent-Type: image/png; name=p.png\n\nPNG\n"
	    "--b--\n");
	fflush(fp);
	len = ftell(fp);
	s = xmalloc(len + 1);
	rewind(fp);
	ok(fread(s, 1, len, fp) == len, "mapped: %zu bytes written", len);
	s[len] = '\0';
	p = mmap(NULL, (len / page + 1) * page, PROT_READ, MAP_PRIVATE,
	    fileno(fp), 0);
	mem = mime_parse(s, len, &cause);
	map = mime_parse_inplace(p, len, MIME_DROP, &cause);
	ok(mem != NULL && map != NULL && mime_nattachments(map) == 2 &&
	    mime_nattachments(mem) == 2, "mapped: two attachments both ways");
	is(mime_body_text(map), "hello", "mapped: body text");
	same = 1;
	for (i = 0; i < 2; i++) {
		d1 = mime_attachment_data(mem, i, &l1);
		d2 = mime_attachment_data(map, i, &l2);
		same = same && l1 == l2 && memcmp(d1, d2, l1) == 0;
		free(d1);
		free(d2);
	}
	/* 55 decoded bytes a line; the last line break is the delimiter's. */
	ok(same && mime_attachment(map, 0, &a) == 0 &&
	    strcmp(a.filename, "big.bin") == 0 && a.size == 100000 * 55 - 1,
	    "mapped: attachments byte-identical after the pages were dropped");
	is(mime_body_prefix(mem, 3), "hel", "body prefix: 3 bytes");
	mime_free(mem);
	mime_free(map);
	munmap(p, (len / page + 1) * page);
	fclose(fp);
	free(s);

	mem = parse("Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQ=\n");
	is(mime_body_prefix(mem, 6), "hell", "body prefix: a cut base64 quantum "
	    "is dropped");
	is(mime_body_prefix(mem, SIZE_MAX), "hello world", "body prefix: all");
	mime_free(mem);
}

int
main(void)
{
	test_encoded_words();
	test_headers();
	test_bodies();
	test_charsets();
	test_html();
	test_dates();
	test_addresses();
	test_invisible();
	test_multipart();
	test_limits();
	test_mapped();
	return tap_done();
}
