/*
 * HTML to text for the MIME reader: when a message has no text/plain body,
 * its text/html one is read as text here. What comes in is the UTF-8 that
 * mime_to_utf8() made of the part; what goes out is UTF-8 too.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "mime-int.h"

/* Return the entity of a named character reference, or NULL. */
static const char *
mime_html_entity(const char *name, size_t n)
{
	static const struct {
		const char	*name;
		const char	*utf8;
	} ents[] = {
		{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
		{ "apos", "'" }, { "nbsp", " " }, { "copy", "\xc2\xa9" },
		{ "reg", "\xc2\xae" }, { "hellip", "\xe2\x80\xa6" },
		{ "mdash", "\xe2\x80\x94" }, { "ndash", "\xe2\x80\x93" },
		{ "laquo", "\xc2\xab" }, { "raquo", "\xc2\xbb" },
		{ "euro", "\xe2\x82\xac" }, { "rsquo", "\xe2\x80\x99" },
		{ "lsquo", "\xe2\x80\x98" }, { "rdquo", "\xe2\x80\x9d" },
		{ "ldquo", "\xe2\x80\x9c" },
	};
	size_t	 i;

	for (i = 0; i < sizeof ents / sizeof ents[0]; i++)
		if (strlen(ents[i].name) == n && strncmp(ents[i].name, name,
		    n) == 0)
			return ents[i].utf8;
	return NULL;
}

/* Append a code point as UTF-8 (invalid ones as U+FFFD). */
static void
mime_utf8_put(struct mime_buf *b, unsigned long cp)
{
	char	 o[4];

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	mime_buf_add(b, o, utf8_encode(cp, o));
}

/* Return 1 when the tag at s (after '<') is named name. */
static int
mime_tag_is(const char *s, const char *name)
{
	size_t	 n = strlen(name);

	if (*s == '/')
		s++;
	return (strncasecmp(s, name, n) == 0 && !isalnum((unsigned char)s[n]));
}

/*
 * Turn HTML into readable text: tags go, block-level tags end a line, script
 * and style contents and comments are dropped, runs of whitespace collapse
 * and the common character references are decoded.
 */
char *
mime_html_text(const char *s)
{
	static const char *const blocks[] = { "br", "p", "div", "tr", "li",
	    "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
	    "blockquote", "pre", "hr", "title", NULL };
	struct mime_buf	 b = { NULL, 0, 0 };
	const char	*e, *amp;
	unsigned long	 cp;
	size_t		 i, n;
	int		 space = 0;
	char		*end;

	while (*s != '\0') {
		if (*s == '<') {
			if (strncmp(s, "<!--", 4) == 0) {
				e = strstr(s + 4, "-->");
				s = e ? e + 3 : s + strlen(s);
				continue;
			}
			if (mime_tag_is(s + 1, "script") ||
			    mime_tag_is(s + 1, "style")) {
				if (s[1] != '/') {
					e = strcasestr(s + 1, mime_tag_is(s + 1,
					    "script") ? "</script" : "</style");
					s = e ? e : s + strlen(s);
				}
				if (*s == '\0')
					break;	/* never closed: the rest goes */
			}
			for (i = 0; blocks[i] != NULL; i++)
				if (mime_tag_is(s + 1, blocks[i]))
					break;
			if (blocks[i] != NULL) {
				while (b.len > 0 && b.d[b.len - 1] == ' ')
					b.d[--b.len] = '\0';
				if (b.len > 0 && !(b.len >= 2 &&
				    b.d[b.len - 1] == '\n' &&
				    b.d[b.len - 2] == '\n'))
					mime_buf_addc(&b, '\n');
				space = 0;
			}
			e = strchr(s, '>');
			s = e ? e + 1 : s + strlen(s);
			continue;
		}
		if (isspace((unsigned char)*s)) {
			space = 1;
			s++;
			continue;
		}
		if (space && b.len > 0 && b.d[b.len - 1] != '\n')
			mime_buf_addc(&b, ' ');
		space = 0;
		if (*s == '&') {
			amp = s + 1;
			n = strspn(amp, "#xXabcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
			if (amp[n] == ';' && *amp == '#') {
				if (amp[1] == 'x' || amp[1] == 'X')
					cp = strtoul(amp + 2, &end, 16);
				else
					cp = strtoul(amp + 1, &end, 10);
				if (end == amp + n && n > 1) {
					mime_utf8_put(&b, cp);
					s = amp + n + 1;
					continue;
				}
			} else if (amp[n] == ';' && (e = mime_html_entity(amp,
			    n)) != NULL) {
				mime_buf_add(&b, e, strlen(e));
				s = amp + n + 1;
				continue;
			}
		}
		mime_buf_addc(&b, *s++);
	}
	while (b.len > 0 && isspace((unsigned char)b.d[b.len - 1]))
		b.d[--b.len] = '\0';
	return mime_buf_str(&b);
}
