/*
 * HTML to text for the MIME reader: when a message has no text/plain body,
 * its text/html one is read as text here. What comes in is the UTF-8 that
 * mime_to_utf8() made of the part; what goes out is UTF-8 too.
 *
 * One pass over the text, as a browser's tokenizer reads it (the WHATWG
 * HTML standard, section 13.2), keeping only what a reader needs to see:
 * - head matter goes: the contents of title, style, script and template,
 *   comments, doctypes and processing instructions;
 * - a link is "text <url>", or "<url>" when it has no text, or only its
 *   text when that is the URL itself; javascript:, vbscript: and data:
 *   URLs and in-page "#" anchors are dropped;
 * - block elements end the line (paragraphs, headings, lists, tables and
 *   quotes with a blank line around), <br> breaks it, a list item starts
 *   "- " (or "N. " in an <ol>), indented by its list depth, table cells
 *   are separated by a space and quoted text starts "> ";
 * - white space collapses as a browser's does, except inside <pre>;
 * - character references are decoded: numeric ones, and the common named
 *   ones (a name not known is left as it is written).
 * Hostile input costs linear time and memory: no tag is looked at twice,
 * nesting is a counter (list numbering is kept for MIME_HTML_DEPTH lists,
 * indentation and quote marks are capped), a link's URL longer than
 * MIME_HTML_URL_MAX bytes is dropped, and an unclosed quote in a tag is
 * remembered so that the search for it is never repeated.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "mime-int.h"

#define MIME_HTML_DEPTH		16	/* nested lists whose numbers are kept */
#define MIME_HTML_INDENT	4	/* list levels and quote marks shown */
#define MIME_HTML_URL_MAX	2048	/* bytes of a link target kept */

struct mime_html {
	struct mime_buf	 b;
	int		 space;		/* white space seen since the last text */
	int		 nl;		/* line breaks wanted before the next text */
	size_t		 mark;		/* b.len just after a list marker */
	int		 pre;		/* depth of <pre> */
	int		 quote;		/* depth of <blockquote> */
	int		 lists;		/* depth of <ul>/<ol> */
	long		 num[MIME_HTML_DEPTH];	/* next item number; 0: <ul> */
	char		*href;		/* target of the open link, or NULL */
	size_t		 atext;		/* b.len where the link's text began */
	int		 inlink;	/* an <a> is open */
	int		 noquote[2];	/* no closing " (0) or ' (1) from here on */
};

/* Named character references: sorted by strcmp() for bsearch(). */
static const struct mime_html_ent {
	const char	*name;
	unsigned long	 cp;
} mime_html_ents[] = {
		{ "AElig", 0xc6 }, { "Aacute", 0xc1 }, { "Acirc", 0xc2 },
		{ "Agrave", 0xc0 }, { "Aring", 0xc5 }, { "Atilde", 0xc3 },
		{ "Auml", 0xc4 }, { "Ccedil", 0xc7 }, { "Dagger", 0x2021 },
		{ "ETH", 0xd0 }, { "Eacute", 0xc9 }, { "Ecirc", 0xca }, { "Egrave", 0xc8 },
		{ "Euml", 0xcb }, { "Iacute", 0xcd }, { "Icirc", 0xce },
		{ "Igrave", 0xcc }, { "Iuml", 0xcf }, { "Ntilde", 0xd1 },
		{ "OElig", 0x152 }, { "Oacute", 0xd3 }, { "Ocirc", 0xd4 },
		{ "Ograve", 0xd2 }, { "Oslash", 0xd8 }, { "Otilde", 0xd5 },
		{ "Ouml", 0xd6 }, { "Prime", 0x2033 }, { "Scaron", 0x160 },
		{ "THORN", 0xde }, { "Uacute", 0xda }, { "Ucirc", 0xdb },
		{ "Ugrave", 0xd9 }, { "Uuml", 0xdc }, { "Yacute", 0xdd },
		{ "Yuml", 0x178 }, { "aacute", 0xe1 }, { "acirc", 0xe2 },
		{ "acute", 0xb4 }, { "aelig", 0xe6 }, { "agrave", 0xe0 }, { "amp", 0x26 },
		{ "apos", 0x27 }, { "aring", 0xe5 }, { "asymp", 0x2248 },
		{ "atilde", 0xe3 }, { "auml", 0xe4 }, { "bdquo", 0x201e },
		{ "brvbar", 0xa6 }, { "bull", 0x2022 }, { "ccedil", 0xe7 },
		{ "cedil", 0xb8 }, { "cent", 0xa2 }, { "check", 0x2713 },
		{ "circ", 0x2c6 }, { "copy", 0xa9 }, { "curren", 0xa4 },
		{ "dagger", 0x2020 }, { "darr", 0x2193 }, { "deg", 0xb0 },
		{ "divide", 0xf7 }, { "eacute", 0xe9 }, { "ecirc", 0xea },
		{ "egrave", 0xe8 }, { "emsp", 0x2003 }, { "ensp", 0x2002 },
		{ "eth", 0xf0 }, { "euml", 0xeb }, { "euro", 0x20ac }, { "fnof", 0x192 },
		{ "frac12", 0xbd }, { "frac14", 0xbc }, { "frac34", 0xbe },
		{ "ge", 0x2265 }, { "gt", 0x3e }, { "harr", 0x2194 }, { "hearts", 0x2665 },
		{ "hellip", 0x2026 }, { "iacute", 0xed }, { "icirc", 0xee },
		{ "iexcl", 0xa1 }, { "igrave", 0xec }, { "infin", 0x221e },
		{ "iquest", 0xbf }, { "iuml", 0xef }, { "laquo", 0xab },
		{ "larr", 0x2190 }, { "ldquo", 0x201c }, { "le", 0x2264 },
		{ "lrm", 0x200e }, { "lsaquo", 0x2039 }, { "lsquo", 0x2018 },
		{ "lt", 0x3c }, { "macr", 0xaf }, { "mdash", 0x2014 }, { "micro", 0xb5 },
		{ "middot", 0xb7 }, { "minus", 0x2212 }, { "nbsp", 0xa0 },
		{ "ndash", 0x2013 }, { "ne", 0x2260 }, { "not", 0xac }, { "ntilde", 0xf1 },
		{ "oacute", 0xf3 }, { "ocirc", 0xf4 }, { "oelig", 0x153 },
		{ "ograve", 0xf2 }, { "oline", 0x203e }, { "ordf", 0xaa },
		{ "ordm", 0xba }, { "oslash", 0xf8 }, { "otilde", 0xf5 }, { "ouml", 0xf6 },
		{ "para", 0xb6 }, { "permil", 0x2030 }, { "plusmn", 0xb1 },
		{ "pound", 0xa3 }, { "prime", 0x2032 }, { "quot", 0x22 },
		{ "raquo", 0xbb }, { "rarr", 0x2192 }, { "rdquo", 0x201d },
		{ "reg", 0xae }, { "rlm", 0x200f }, { "rsaquo", 0x203a },
		{ "rsquo", 0x2019 }, { "sbquo", 0x201a }, { "scaron", 0x161 },
		{ "sect", 0xa7 }, { "shy", 0xad }, { "sup1", 0xb9 }, { "sup2", 0xb2 },
		{ "sup3", 0xb3 }, { "szlig", 0xdf }, { "thinsp", 0x2009 },
		{ "thorn", 0xfe }, { "tilde", 0x2dc }, { "times", 0xd7 },
		{ "trade", 0x2122 }, { "uacute", 0xfa }, { "uarr", 0x2191 },
		{ "ucirc", 0xfb }, { "ugrave", 0xf9 }, { "uml", 0xa8 }, { "uuml", 0xfc },
		{ "yacute", 0xfd }, { "yen", 0xa5 }, { "yuml", 0xff }, { "zwj", 0x200d },
		{ "zwnj", 0x200c },
};

/* Compare an entity name (a NUL-terminated key) with a table entry. */
static int
mime_html_ent_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct mime_html_ent *)elem)->name);
}

/*
 * Windows-1252 for numeric references to 0x80-0x9f, as browsers read them
 * (the HTML standard's table of replacements); 0: U+FFFD.
 */
static const unsigned short mime_html_c1[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/*
 * Read the character reference at s (on '&'). Return the code point and
 * set *end past it, or return 0 when it is none we decode (left as text).
 */
static unsigned long
mime_html_ref(const char *s, const char **end)
{
	const struct mime_html_ent	*e;
	unsigned long			 cp = 0;
	const char			*p = s + 1;
	char				 name[12];
	size_t				 n;
	int				 hex, digits = 0;

	if (*p == '#') {
		p++;
		if ((hex = (*p == 'x' || *p == 'X')))
			p++;
		for (; hex ? isxdigit((unsigned char)*p) :
		    isdigit((unsigned char)*p); p++, digits++)
			if (cp <= 0x10ffff)
				cp = cp * (hex ? 16 : 10) + (hex ?
				    (unsigned long)mime_hex(*p) :
				    (unsigned long)(*p - '0'));
		if (digits == 0)
			return 0;
		if (*p == ';')
			p++;
		*end = p;
		if (cp >= 0x80 && cp <= 0x9f)
			cp = mime_html_c1[cp - 0x80];
		if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			cp = 0xfffd;
		return cp;
	}
	for (n = 0; n < sizeof name - 1 && isalnum((unsigned char)p[n]); n++)
		name[n] = p[n];
	name[n] = '\0';
	if (n == 0 || p[n] != ';')
		return 0;
	if ((e = bsearch(name, mime_html_ents, sizeof mime_html_ents /
	    sizeof mime_html_ents[0], sizeof mime_html_ents[0],
	    mime_html_ent_cmp)) == NULL)
		return 0;
	*end = p + n + 1;
	return e->cp;
}

/* Append a code point as UTF-8; a no-break space is a space. */
static void
mime_html_put(struct mime_buf *b, unsigned long cp)
{
	char	 o[4];

	if (cp == 0xa0)
		cp = ' ';
	mime_buf_add(b, o, utf8_encode(cp, o));
}

/* Drop the spaces that end the text so far. */
static void
mime_html_trim(struct mime_html *h)
{
	while (h->b.len > 0 && h->b.d[h->b.len - 1] == ' ' &&
	    h->b.len != h->mark)
		h->b.d[--h->b.len] = '\0';
}

/* Return 1 when the text so far ends a line (or there is none). */
static int
mime_html_bol(const struct mime_html *h)
{
	return h->b.len == 0 || h->b.d[h->b.len - 1] == '\n';
}

/* End the line now (a <br>): quote marks go with the next text. */
static void
mime_html_br(struct mime_html *h)
{
	mime_html_trim(h);
	mime_buf_addc(&h->b, '\n');
	h->space = 0;
	h->nl = 0;
	h->mark = (size_t)-1;
}

/* Ask for n line breaks (1: a new line, 2: a blank line) before more text. */
static void
mime_html_block(struct mime_html *h, int n)
{
	if (h->nl < n)
		h->nl = n;
	h->space = 0;
}

/*
 * Make way for text: the line breaks and the space asked for, then the
 * quote marks of a new line.
 */
static void
mime_html_flush(struct mime_html *h)
{
	size_t	 i, have;
	int	 q;

	if (h->nl > 0 && h->b.len > 0 && h->b.len != h->mark) {
		mime_html_trim(h);
		for (have = 0, i = h->b.len; i > 0 && h->b.d[i - 1] == '\n';
		    i--)
			have++;
		for (; have < (size_t)h->nl; have++)
			mime_buf_addc(&h->b, '\n');
		h->space = 0;
	}
	h->nl = 0;
	if (h->space && !mime_html_bol(h) && h->b.d[h->b.len - 1] != ' ')
		mime_buf_addc(&h->b, ' ');
	h->space = 0;
	if (mime_html_bol(h))
		for (q = 0; q < h->quote && q < MIME_HTML_INDENT; q++)
			mime_buf_add(&h->b, "> ", 2);
}

/* Start a list item: its marker, indented by the depth of its list. */
static void
mime_html_item(struct mime_html *h)
{
	char	 num[32];
	int	 i, depth = h->lists > 0 ? h->lists : 1;

	mime_html_block(h, 1);
	h->mark = (size_t)-1;
	mime_html_flush(h);
	for (i = 1; i < depth && i < MIME_HTML_INDENT; i++)
		mime_buf_add(&h->b, "  ", 2);
	if (h->lists > 0 && h->lists <= MIME_HTML_DEPTH &&
	    h->num[h->lists - 1] > 0) {
		snprintf(num, sizeof num, "%ld. ", h->num[h->lists - 1]);
		if (h->num[h->lists - 1] < 1000000000L)
			h->num[h->lists - 1]++;
		mime_buf_add(&h->b, num, strlen(num));
	} else
		mime_buf_add(&h->b, "- ", 2);
	h->mark = h->b.len;
}

/* Return the scheme-less, slash-less form of a URL or link text. */
static size_t
mime_html_bare(const char *s, size_t n, const char **out)
{
	static const char *const schemes[] = { "http://", "https://",
	    "mailto:", NULL };
	size_t	 i, k;

	for (i = 0; schemes[i] != NULL; i++) {
		k = strlen(schemes[i]);
		if (n >= k && strncasecmp(s, schemes[i], k) == 0) {
			s += k;
			n -= k;
			break;
		}
	}
	while (n > 0 && s[n - 1] == '/')
		n--;
	*out = s;
	return n;
}

/*
 * Close the open link: its URL after its text, unless the text is it.
 * Return 1 when the URL was written.
 */
static int
mime_html_link_end(struct mime_html *h)
{
	const char	*t, *u;
	size_t		 tn, un, start = h->atext;
	int		 shown = 0;

	if (!h->inlink)
		return 0;
	h->inlink = 0;
	if (h->href == NULL)
		return 0;
	if (start > h->b.len)
		start = h->b.len;
	t = h->b.d != NULL ? h->b.d + start : "";
	tn = h->b.len - start;
	while (tn > 0 && (*t == ' ' || *t == '\n')) {
		t++;
		tn--;
	}
	while (tn > 0 && (t[tn - 1] == ' ' || t[tn - 1] == '\n'))
		tn--;
	tn = mime_html_bare(t, tn, &t);
	un = mime_html_bare(h->href, strlen(h->href), &u);
	if (tn == 0 || tn != un || strncasecmp(t, u, tn) != 0) {
		if (h->b.len > start && h->b.len != h->mark)
			h->space = 1;
		mime_html_flush(h);
		mime_buf_addc(&h->b, '<');
		mime_buf_add(&h->b, h->href, strlen(h->href));
		mime_buf_addc(&h->b, '>');
		shown = 1;
	}
	free(h->href);
	h->href = NULL;
	return shown;
}

/*
 * Keep the target of a link: references decoded, white space and control
 * characters taken out (as browsers do with URLs), NULL when it is too
 * long or runs script, holds data, or stays in the page.
 */
static char *
mime_html_href(const char *v, size_t n)
{
	static const char *const bad[] = { "javascript:", "vbscript:",
	    "data:", NULL };
	struct mime_buf	 u = { NULL, 0, 0 };
	const char	*p, *end = v + n, *e;
	unsigned long	 cp;
	size_t		 i;

	if (n > MIME_HTML_URL_MAX)
		return NULL;
	for (p = v; p < end; p++) {
		if (*p == '&' && (cp = mime_html_ref(p, &e)) != 0 && e <= end) {
			if (cp > ' ' && cp != 0x7f)
				mime_html_put(&u, cp);
			p = e - 1;
		} else if ((unsigned char)*p > ' ' && *p != 0x7f)
			mime_buf_addc(&u, *p);
	}
	if (u.d == NULL || *u.d == '#') {
		free(u.d);
		return NULL;
	}
	for (i = 0; bad[i] != NULL; i++)
		if (strncasecmp(u.d, bad[i], strlen(bad[i])) == 0) {
			free(u.d);
			return NULL;
		}
	return u.d;
}

/*
 * Read the attributes of a tag from p (after its name) to its end: keep
 * the value of the one named want (when not NULL) in *val and *vlen. Return
 * where the text after the tag begins.
 */
static const char *
mime_html_attrs(struct mime_html *h, const char *p, const char *want,
    const char **val, size_t *vlen)
{
	const char	*name, *v, *e;
	size_t		 nlen, n;
	int		 q;

	*val = NULL;
	*vlen = 0;
	for (;;) {
		while (isspace((unsigned char)*p) || *p == '/')
			p++;
		if (*p == '\0')
			return p;
		if (*p == '>')
			return p + 1;
		name = p;
		while (*p != '\0' && *p != '>' && *p != '=' && *p != '/' &&
		    !isspace((unsigned char)*p))
			p++;
		if (p == name)		/* a stray '=' */
			p++;
		nlen = p - name;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (isspace((unsigned char)*p))
			p++;
		if ((*p == '"' || *p == '\'') && !h->noquote[*p == '\'']) {
			q = *p == '\'';
			v = p + 1;
			if ((e = strchr(v, *p)) == NULL) {
				/* No end anywhere: never look again. */
				h->noquote[q] = 1;
				e = v + strcspn(v, ">");
				n = e - v;
				p = e;
			} else {
				n = e - v;
				p = e + 1;
			}
		} else {
			v = p;
			n = strcspn(v, " \t\n\r\f>");
			p = v + n;
		}
		if (want != NULL && nlen == strlen(want) &&
		    strncasecmp(name, want, nlen) == 0 && *val == NULL) {
			*val = v;
			*vlen = n;
		}
	}
}

/* Skip the contents of a raw text element up to its end tag, or all. */
static const char *
mime_html_skip(const char *p, const char *name)
{
	const char	*e;
	char		 end[24];

	snprintf(end, sizeof end, "</%s", name);
	if ((e = strcasestr(p, end)) == NULL)
		return p + strlen(p);
	return e;
}

/* Act on the tag name (lowercase) at p, after its '<' or "</". */
static const char *
mime_html_tag(struct mime_html *h, const char *p, const char *name, int close)
{
	static const char *const paras[] = { "p", "h1", "h2", "h3", "h4",
	    "h5", "h6", "table", "hr", "dl", "blockquote", "pre", "ul", "ol",
	    "address", "figure", "fieldset", "center", NULL };
	static const char *const lines[] = { "div", "tr", "li", "dt", "dd",
	    "section", "article", "header", "footer", "nav", "aside", "main",
	    "form", "figcaption", "caption", "tbody", "thead", "tfoot",
	    "body", "html", "legend", "summary", "details", "option", NULL };
	static const char *const raw[] = { "title", "style", "script",
	    "template", "iframe", "noembed", "noframes", NULL };
	const char	*v;
	size_t		 n, i;
	char		*end;
	long		 start;

	p = mime_html_attrs(h, p, close ? NULL : strcmp(name, "a") == 0 ?
	    "href" : strcmp(name, "ol") == 0 ? "start" : NULL, &v, &n);
	if (!close)
		for (i = 0; raw[i] != NULL; i++)
			if (strcmp(name, raw[i]) == 0)
				return mime_html_skip(p, name);
	if (strcmp(name, "br") == 0) {
		mime_html_flush(h);
		mime_html_br(h);
		return p;
	}
	if (strcmp(name, "a") == 0) {
		if (mime_html_link_end(h) && !close)
			h->space = 1;	/* "<url1> text2" */
		if (!close) {
			h->href = v != NULL ? mime_html_href(v, n) : NULL;
			mime_html_flush(h);
			h->atext = h->b.len;
			h->inlink = 1;
		}
		return p;
	}
	if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		h->space = 1;
		return p;
	}
	if (strcmp(name, "li") == 0 && !close) {
		mime_html_item(h);
		return p;
	}
	if (strcmp(name, "ul") == 0 || strcmp(name, "ol") == 0) {
		if (!close) {
			h->lists++;
			start = v != NULL ? strtol(v, &end, 10) : 1;
			if (h->lists <= MIME_HTML_DEPTH)
				h->num[h->lists - 1] = name[0] == 'u' ? 0 :
				    start > 0 && start < 1000000000L ? start : 1;
		} else if (h->lists > 0)
			h->lists--;
		mime_html_block(h, h->lists > (close ? 0 : 1) ? 1 : 2);
		return p;
	}
	if (strcmp(name, "pre") == 0) {
		if (!close) {
			h->pre++;
			/* A line break just after <pre> is not content. */
			if (*p == '\n')
				p++;
			else if (p[0] == '\r' && p[1] == '\n')
				p += 2;
		} else if (h->pre > 0)
			h->pre--;
	}
	if (strcmp(name, "blockquote") == 0) {
		if (!close)
			h->quote++;
		else if (h->quote > 0)
			h->quote--;
		/* The marks of the lines of the quote come with its text. */
		mime_html_block(h, h->lists > 0 ? 1 : 2);
		return p;
	}
	for (i = 0; paras[i] != NULL; i++)
		if (strcmp(name, paras[i]) == 0) {
			/* In a list, one line each, even for paragraphs. */
			mime_html_block(h, h->lists > 0 ? 1 : 2);
			return p;
		}
	for (i = 0; lines[i] != NULL; i++)
		if (strcmp(name, lines[i]) == 0) {
			mime_html_block(h, 1);
			return p;
		}
	return p;			/* inline or unknown: nothing to show */
}

/* Read the markup at p (on '<'); return where reading goes on. */
static const char *
mime_html_markup(struct mime_html *h, const char *p)
{
	const char	*e;
	char		 name[16];
	size_t		 n;
	int		 close = 0;

	if (strncmp(p, "<!--", 4) == 0) {
		e = strstr(p + 4, "-->");
		return e != NULL ? e + 3 : p + strlen(p);
	}
	if (p[1] == '!' || p[1] == '?') {	/* doctype, CDATA, PI, [if] */
		e = strchr(p, '>');
		return e != NULL ? e + 1 : p + strlen(p);
	}
	p++;
	if (*p == '/') {
		close = 1;
		p++;
	}
	for (n = 0; isalnum((unsigned char)*p) || *p == '-' || *p == ':' ||
	    *p == '_'; p++)
		if (n < sizeof name - 1)
			name[n++] = tolower((unsigned char)*p);
	name[n] = '\0';
	return mime_html_tag(h, p, name, close);
}

/* Turn HTML into readable text (see the top of this file). */
char *
mime_html_text(const char *s)
{
	struct mime_html	 h;
	const char		*e;
	unsigned long		 cp;

	memset(&h, 0, sizeof h);
	h.mark = (size_t)-1;
	while (*s != '\0') {
		if (*s == '<' && (isalpha((unsigned char)s[1]) ||
		    s[1] == '!' || s[1] == '?' || (s[1] == '/' &&
		    isalpha((unsigned char)s[2])))) {
			s = mime_html_markup(&h, s);
			continue;
		}
		if (h.pre > 0 && (*s == '\n' || *s == ' ' || *s == '\t')) {
			mime_html_flush(&h);
			if (*s == '\n')
				mime_html_br(&h);
			else
				mime_buf_addc(&h.b, *s);
			s++;
			continue;
		}
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
		    *s == '\f') {
			h.space = 1;
			s++;
			continue;
		}
		mime_html_flush(&h);
		if (*s == '&' && (cp = mime_html_ref(s, &e)) != 0) {
			if (cp != 0xad)		/* a soft hyphen shows nothing */
				mime_html_put(&h.b, cp);
			s = e;
			continue;
		}
		mime_buf_addc(&h.b, *s++);
	}
	mime_html_link_end(&h);
	free(h.href);
	while (h.b.len > 0 && isspace((unsigned char)h.b.d[h.b.len - 1]))
		h.b.d[--h.b.len] = '\0';
	return mime_buf_str(&h.b);
}
