/*
 * Header fields for the MIME reader: the header block of an entity
 * (RFC 5322 section 2.2, unfolded), structured values and their parameters
 * (RFC 2045 section 5.1, with the charsets and continuations of RFC 2231)
 * and encoded words (RFC 2047).
 *
 * A line that is not a header ends the header block (as Python's email
 * package does), except an mbox envelope line ("From ..."), which is
 * skipped wherever it is, and a parameter line that lost its indentation
 * after a field ending in ';', which continues it; a first line indented
 * by mistake is the header it holds. An encoded word that is broken or
 * names an unknown charset stays as it is; control characters decoded
 * from one are spaces. What a message controls is bounded: the number of
 * headers, of parameters and of RFC 2231 sections.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "mime.h"
#include "mime-int.h"

#define MIME_MAX_PARAMS		100
#define MIME_MAX_ADDRS		1000	/* addresses of one field */
#define MIME_MAX_IDS		1000	/* message ids of one field */
#define MIME_MAX_SECTIONS	100
#define MIME_CHARSET_MAX	64

struct mime_param {
	char		*attr;		/* lowercased */
	char		*value;		/* unquoted */
};

/* Lowercase a string in place. */
char *
mime_lower(char *s)
{
	char	*p;

	for (p = s; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	return s;
}

/*
 * Parse one encoded word "=?charset?enc?text?=" at p: on success decode its
 * bytes into word, copy the charset (without an RFC 2231 language) and
 * return the end; NULL when p does not hold a well-formed word.
 */
static const char *
mime_ew(const char *p, char *cs, struct mime_buf *word)
{
	const char	*q, *t, *e;
	char		 enc;
	size_t		 n;

	if (p[0] != '=' || p[1] != '?')
		return NULL;
	q = p + 2;
	n = strcspn(q, "? \t\r\n");
	if (n == 0 || n >= MIME_CHARSET_MAX || q[n] != '?')
		return NULL;
	memcpy(cs, q, n);
	cs[n] = '\0';
	cs[strcspn(cs, "*")] = '\0';
	if (*cs == '\0')
		return NULL;
	enc = q[n + 1];
	if (strchr("bBqQ", enc) == NULL || enc == '\0' || q[n + 2] != '?')
		return NULL;
	t = q + n + 3;
	if ((e = strstr(t, "?=")) == NULL ||
	    strcspn(t, " \t\r\n") < (size_t)(e - t))
		return NULL;
	word->len = 0;
	if (enc == 'b' || enc == 'B')
		mime_base64(word, t, e - t);
	else
		mime_qp(word, t, e - t, 1);
	return e + 2;
}

/* Return the end of a known encoded word at p, or NULL. */
static const char *
mime_ew_ok(const char *p, char *cs, struct mime_buf *word)
{
	const char	*e;

	if ((e = mime_ew(p, cs, word)) == NULL || !mime_charset_known(cs))
		return NULL;
	return e;
}

/*
 * Decode the encoded words of a header value to UTF-8. Whitespace between
 * two encoded words is dropped (RFC 2047 section 6.2) and adjacent words in
 * the same charset are converted together, so a character split across two
 * words survives. A word that is broken or names an unknown charset stays
 * as it is. Raw 8-bit text outside the words is UTF-8 when it is valid,
 * else in the charset fb (the message's own), else windows-1252.
 */
char *
mime_decode_header_cs(const char *raw, const char *fb)
{
	struct mime_buf	 out = { NULL, 0, 0 }, pend = { NULL, 0, 0 };
	struct mime_buf	 word = { NULL, 0, 0 };
	char		 cs[MIME_CHARSET_MAX], pcs[MIME_CHARSET_MAX];
	const char	*p = raw, *e, *q, *rs = NULL;
	size_t		 i;
	int		 havepend = 0;

	if (raw == NULL)
		return xstrdup("");
	while (*p != '\0') {
		if ((e = mime_ew_ok(p, cs, &word)) == NULL) {
			if (havepend) {
				mime_to_utf8(&out, pcs, pend.d, pend.len, fb);
				havepend = 0;
			}
			if (rs == NULL)
				rs = p;
			p++;
			continue;
		}
		if (rs != NULL) {
			mime_text_guess(&out, rs, p - rs, fb);
			rs = NULL;
		}
		if (havepend && strcasecmp(cs, pcs) != 0) {
			mime_to_utf8(&out, pcs, pend.d, pend.len, fb);
			havepend = 0;
		}
		if (!havepend) {
			pend.len = 0;
			memcpy(pcs, cs, sizeof pcs);
			havepend = 1;
		}
		mime_buf_add(&pend, word.d ? word.d : "", word.len);
		for (q = e; *q == ' ' || *q == '\t' || *q == '\r' ||
		    *q == '\n'; q++)
			;
		if (q != e && mime_ew_ok(q, cs, &word) != NULL)
			e = q;
		p = e;
	}
	if (rs != NULL)
		mime_text_guess(&out, rs, p - rs, fb);
	if (havepend)
		mime_to_utf8(&out, pcs, pend.d, pend.len, fb);
	free(word.d);
	free(pend.d);
	/*
	 * A field is one line (RFC 5322 section 2.2): a CR, LF or other
	 * control character an encoded word decodes to is shown as a space,
	 * so that it cannot start a line of its own in what is printed.
	 */
	for (i = 0; i < out.len; i++)
		if (((unsigned char)out.d[i] < 0x20 && out.d[i] != '\t') ||
		    out.d[i] == 0x7f)
			out.d[i] = ' ';
	return mime_buf_str(&out);
}

/* The same with no charset of the message to fall back on. */
char *
mime_decode_header(const char *raw)
{
	return mime_decode_header_cs(raw, NULL);
}

/* Find the end of the line at p: *next is the start of the next one. */
const char *
mime_eol(const char *p, const char *end, const char **next)
{
	const char	*nl;

	if ((nl = memchr(p, '\n', end - p)) == NULL) {
		*next = end;
		nl = end;
	} else
		*next = nl + 1;
	if (nl > p && nl[-1] == '\r')
		nl--;
	return nl;
}

/* Free an array of headers. */
void
mime_hdrs_free(struct mime_hdr *h, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

/* Append the text of a header line, NUL bytes as spaces. */
static void
mime_hdr_add(struct mime_buf *b, const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		mime_buf_addc(b, p[i] == '\0' ? ' ' : p[i]);
}

/* Store the header being built, trimming trailing whitespace. */
static void
mime_hdr_end(struct mime_hdr **hdrs, size_t *n, char *name,
    struct mime_buf *val, size_t *dropped)
{
	char	*v = mime_buf_str(val);
	size_t	 len = strlen(v);

	while (len > 0 && isspace((unsigned char)v[len - 1]))
		v[--len] = '\0';
	if (*n >= MIME_MAX_HEADERS) {
		free(name);
		free(v);
		(*dropped)++;
		return;
	}
	*hdrs = xreallocarray(*hdrs, *n + 1, sizeof **hdrs);
	(*hdrs)[*n].name = name;
	(*hdrs)[*n].value = v;
	(*n)++;
}

/* Return 1 when the value being built ends with ';': more should follow. */
static int
mime_hdr_open(const struct mime_buf *val)
{
	size_t	 i = val->len;

	while (i > 0 && isspace((unsigned char)val->d[i - 1]))
		i--;
	return i > 0 && val->d[i - 1] == ';';
}

/*
 * Parse the header block at p: return where the body starts. Folded lines
 * are unfolded by removing the line break only (RFC 5322 section 2.2.3).
 * Past MIME_MAX_HEADERS fields, the others are counted in *dropped.
 */
const char *
mime_headers(const char *p, const char *end, struct mime_hdr **hdrs,
    size_t *n, size_t *dropped)
{
	struct mime_buf	 val = { NULL, 0, 0 };
	const char	*le, *next, *colon, *ne, *s;
	char		*name = NULL;

	*hdrs = NULL;
	*n = 0;
	*dropped = 0;
	while (p < end) {
		le = mime_eol(p, end, &next);
		if (le == p) {
			p = next;
			break;
		}
		if ((*p == ' ' || *p == '\t') && name != NULL) {
			mime_hdr_add(&val, p, le - p);
			p = next;
			continue;
		}
		/* A first line indented by mistake: the header it holds. */
		for (s = p; name == NULL && *n == 0 && s < le && (*s == ' ' ||
		    *s == '\t'); s++)
			;
		colon = memchr(s, ':', le - s);
		for (ne = colon; ne != NULL && ne > s && (ne[-1] == ' ' ||
		    ne[-1] == '\t'); ne--)
			;
		if (colon == NULL || ne == s || memchr(s, ' ', ne - s) !=
		    NULL || memchr(s, '\t', ne - s) != NULL ||
		    memchr(s, '\0', ne - s) != NULL) {
			/*
			 * A parameter line that lost its indentation after a
			 * field ending in ';' ("name=x" under Content-Type):
			 * the continuation it is, or the part would lose its
			 * name and have its header taken for its content.
			 */
			if (name != NULL && mime_hdr_open(&val) &&
			    memchr(p, '=', le - p) != NULL) {
				mime_hdr_add(&val, p, le - p);
				p = next;
				continue;
			}
			/*
			 * An mbox envelope line ("From addr date") is no
			 * header, but mail copied between mailboxes carries
			 * them anywhere in the header block, not only first:
			 * skip it and read on, or every header after it would
			 * be lost to the body.
			 */
			if (le - p > 5 && strncmp(p, "From ", 5) == 0) {
				p = next;
				continue;
			}
			break;	/* not a header: the body starts here */
		}
		if (name != NULL)
			mime_hdr_end(hdrs, n, name, &val, dropped);
		name = xstrndup(s, ne - s);
		for (colon++; colon < le && (*colon == ' ' || *colon == '\t');
		    colon++)
			;
		mime_hdr_add(&val, colon, le - colon);
		p = next;
	}
	if (name != NULL)
		mime_hdr_end(hdrs, n, name, &val, dropped);
	free(val.d);
	return p;
}

/* Return the first header of that name, or NULL. */
const char *
mime_hdr_get(struct mime_hdr *h, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

/* Free parameters. */
static void
mime_params_free(struct mime_param *pa, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(pa[i].attr);
		free(pa[i].value);
	}
	free(pa);
}

/* Split the parameters of a structured value ("type; a=b; c="d""). */
static struct mime_param *
mime_params(const char *v, size_t *np)
{
	struct mime_param	*pa = NULL;
	struct mime_buf		 val = { NULL, 0, 0 };
	const char		*p, *a, *t;
	size_t			 alen;

	*np = 0;
	if (v == NULL || (p = strchr(v, ';')) == NULL)
		return NULL;
	while (*p != '\0' && *np < MIME_MAX_PARAMS) {
		while (*p == ';' || isspace((unsigned char)*p))
			p++;
		a = p;
		p += strcspn(p, "=;");
		for (alen = p - a; alen > 0 && isspace((unsigned char)
		    a[alen - 1]); alen--)
			;
		if (*p != '=')
			continue;
		for (p++; isspace((unsigned char)*p); p++)
			;
		val.len = 0;
		mime_buf_add(&val, "", 0);
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				mime_buf_addc(&val, *p);
			}
			if (*p == '"')
				p++;
			p += strcspn(p, ";");
		} else {
			t = p;
			p += strcspn(p, ";");
			mime_buf_add(&val, t, p - t);
			while (val.len > 0 && isspace((unsigned char)
			    val.d[val.len - 1]))
				val.d[--val.len] = '\0';
		}
		if (alen == 0)
			continue;
		pa = xreallocarray(pa, *np + 1, sizeof *pa);
		pa[*np].attr = mime_lower(xstrndup(a, alen));
		pa[*np].value = xstrdup(val.d);
		(*np)++;
	}
	free(val.d);
	return pa;
}

/* Return the value of attr among the parameters, or NULL. */
static const char *
mime_param_get(struct mime_param *pa, size_t n, const char *attr)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(pa[i].attr, attr) == 0)
			return pa[i].value;
	return NULL;
}

/* Append a %-encoded RFC 2231 value as bytes; a stray '%' stays. */
static void
mime_pct(struct mime_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%' && mime_hex(s[1]) >= 0 && mime_hex(s[2]) >= 0) {
			mime_buf_addc(b, mime_hex(s[1]) << 4 | mime_hex(s[2]));
			s += 2;
		} else
			mime_buf_addc(b, *s);
	}
}

/*
 * Split "charset'language'value" (RFC 2231 section 4) into the charset
 * (copied to cs) and return the value; NULL without two quotes.
 */
static const char *
mime_pct_charset(const char *v, char *cs)
{
	const char	*q1, *q2;

	if ((q1 = strchr(v, '\'')) == NULL || (q2 = strchr(q1 + 1, '\'')) ==
	    NULL)
		return NULL;
	if ((size_t)(q1 - v) >= MIME_CHARSET_MAX)
		q1 = v;	/* too long to be a charset: take none */
	memcpy(cs, v, q1 - v);
	cs[q1 - v] = '\0';
	return q2 + 1;
}

/*
 * Return the decoded value of parameter name as UTF-8, or NULL: "name*"
 * (RFC 2231 charset), "name*0", "name*1*", ... (continuations), else plain
 * "name", whose RFC 2047 words are decoded as many mailers write them.
 * Raw 8-bit text that is not UTF-8 is read in the charset fb if it can be.
 */
char *
mime_param_cs(const char *hval, const char *name, const char *fb)
{
	struct mime_param	*pa;
	struct mime_buf		 raw = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	char			 key[128], cs[MIME_CHARSET_MAX] = "";
	const char		*v, *rest;
	char			*r = NULL;
	size_t			 n, k;

	if ((pa = mime_params(hval, &n)) == NULL)
		return NULL;
	snprintf(key, sizeof key, "%s*", name);
	if ((v = mime_param_get(pa, n, key)) != NULL) {
		if ((rest = mime_pct_charset(v, cs)) == NULL)
			rest = v;
		mime_pct(&raw, rest);
	} else {
		for (k = 0; k < MIME_MAX_SECTIONS; k++) {
			snprintf(key, sizeof key, "%s*%zu*", name, k);
			if ((v = mime_param_get(pa, n, key)) != NULL) {
				if (k == 0 && (rest = mime_pct_charset(v,
				    cs)) != NULL)
					v = rest;
				mime_pct(&raw, v);
				continue;
			}
			snprintf(key, sizeof key, "%s*%zu", name, k);
			if ((v = mime_param_get(pa, n, key)) == NULL)
				break;
			mime_buf_add(&raw, v, strlen(v));
		}
		if (k == 0) {
			if ((v = mime_param_get(pa, n, name)) != NULL)
				r = mime_decode_header_cs(v, fb);
			goto done;
		}
	}
	mime_to_utf8(&out, *cs != '\0' ? cs : NULL, raw.d ? raw.d : "",
	    raw.len, fb);
	r = mime_buf_str(&out);
done:
	free(raw.d);
	mime_params_free(pa, n);
	return r;
}

/* The same with no charset to fall back on. */
char *
mime_param(const char *hval, const char *name)
{
	return mime_param_cs(hval, name, NULL);
}

/* Return the lowercased first token of a structured value, or NULL. */
char *
mime_token(const char *v)
{
	size_t	 n;

	if (v == NULL)
		return NULL;
	while (isspace((unsigned char)*v))
		v++;
	n = strcspn(v, "; \t");
	if (n == 0)
		return NULL;
	return mime_lower(xstrndup(v, n));
}

/* Return 1 when s holds only RFC 2045 token characters (and '/'). */
static int
mime_is_token(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    strchr("()<>@,;:\\\"[]?=", *s))
			return 0;
	return 1;
}

/*
 * Return the lowercased content type: deftype when absent, text/plain when
 * invalid (RFC 2045 section 5.2).
 */
char *
mime_ctype(const char *v, const char *deftype)
{
	char	*t, *p;

	if ((t = mime_token(v)) == NULL)
		return xstrdup(deftype);
	p = strchr(t, '/');
	if (p == NULL || p == t || p[1] == '\0' || strchr(p + 1, '/') != NULL ||
	    !mime_is_token(t)) {
		free(t);
		return xstrdup("text/plain");
	}
	return t;
}

/* Empty a growing string, keeping its memory. */
static void
mime_addr_clear(struct mime_buf *b)
{
	b->len = 0;
	if (b->d != NULL)
		b->d[0] = '\0';
}

/* Append text to b with runs of white space as one space, none leading. */
static void
mime_addr_put(struct mime_buf *b, const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (isspace((unsigned char)p[i])) {
			if (b->len > 0 && b->d[b->len - 1] != ' ')
				mime_buf_addc(b, ' ');
		} else
			mime_buf_addc(b, p[i]);
	}
}

/*
 * Return text as trimmed, valid UTF-8 (encoded words decoded with ew),
 * white space collapsed again after decoding (a word may hold some).
 */
static char *
mime_addr_text(struct mime_buf *b, const char *fb, int ew)
{
	struct mime_buf	 out = { NULL, 0, 0 };
	char		*s;

	if (ew)
		s = mime_decode_header_cs(b->d ? b->d : "", fb);
	else {
		mime_text_guess(&out, b->d ? b->d : "", b->len, fb);
		s = mime_buf_str(&out);
	}
	mime_addr_clear(b);
	mime_addr_put(b, s, strlen(s));
	free(s);
	while (b->len > 0 && b->d[b->len - 1] == ' ')
		b->d[--b->len] = '\0';
	s = xstrdup(b->d != NULL ? b->d : "");
	mime_addr_clear(b);
	return s;
}

/* End one mailbox: add {name, addr} unless it is empty. */
static void
mime_addr_end(struct mime_addr **list, size_t *n, struct mime_buf *phrase,
    struct mime_buf *angle, struct mime_buf *comment, int had_angle,
    const char *fb)
{
	struct mime_addr	 a;
	char			*route;

	if (had_angle) {
		a.name = mime_addr_text(phrase, fb, 1);
		/* An obsolete source route "@a,@b:" before the address. */
		if (angle->d != NULL && (route = strrchr(angle->d, ':')) !=
		    NULL && angle->d[0] == '@') {
			memmove(angle->d, route + 1, strlen(route + 1) + 1);
			angle->len = strlen(angle->d);
		}
		a.addr = mime_addr_text(angle, fb, 0);
		free(mime_addr_text(comment, fb, 0));
	} else {
		a.addr = mime_addr_text(phrase, fb, 0);
		a.name = mime_addr_text(comment, fb, 1);
	}
	if ((*a.addr == '\0' && *a.name == '\0') || *n >= MIME_MAX_ADDRS) {
		free(a.name);
		free(a.addr);
		return;
	}
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = a;
}

/*
 * Split an address list field (RFC 5322 section 3.4) into mailboxes
 * {name, addr}: display names unquoted and their encoded words decoded
 * (inside quotes too, as mailers write them), groups flattened to their
 * members, a comment the name of an address that has no other. Raw 8-bit
 * text is read as mime_decode_header_cs() does with fb. At most
 * MIME_MAX_ADDRS; return them (NULL when none) with their number in *n.
 */
struct mime_addr *
mime_addr_list(const char *v, const char *fb, size_t *n)
{
	struct mime_addr	*list = NULL;
	struct mime_buf		 phrase = { NULL, 0, 0 }, angle = { NULL, 0, 0 };
	struct mime_buf		 comment = { NULL, 0, 0 };
	struct mime_buf		*to;
	int			 depth, keep, in_angle = 0, had_angle = 0;

	*n = 0;
	for (; v != NULL && *v != '\0'; v++) {
		/*
		 * "A <a> B <b>": a mailbox goes on after its angle address
		 * only with comments and white space; anything else starts
		 * the next one, as if the comma were there (as mutt reads it).
		 */
		if (had_angle && !in_angle && !isspace((unsigned char)*v) &&
		    *v != ',' && *v != ';' && *v != '(') {
			mime_addr_end(&list, n, &phrase, &angle, &comment,
			    had_angle, fb);
			had_angle = 0;
		}
		to = in_angle ? &angle : &phrase;
		if (*v == '"') {
			/* A quoted string: its content, unescaped. */
			for (v++; *v != '\0' && *v != '"'; v++) {
				if (*v == '\\' && v[1] != '\0')
					v++;
				mime_addr_put(to, v, 1);
			}
			if (*v == '\0')
				break;
		} else if (*v == '(') {
			/* A comment: the first one may name the address. */
			keep = comment.len == 0;
			for (depth = 1, v++; *v != '\0'; v++) {
				if (*v == '\\' && v[1] != '\0')
					v++;
				else if (*v == '(')
					depth++;
				else if (*v == ')' && --depth == 0)
					break;
				if (keep)
					mime_addr_put(&comment, v, 1);
			}
			if (*v == '\0')
				break;
			mime_addr_put(to, " ", 1);
		} else if (*v == '<' && !in_angle) {
			in_angle = had_angle = 1;
			mime_addr_clear(&angle);
		} else if (*v == '>' && in_angle)
			in_angle = 0;
		else if (in_angle) {
			if (!isspace((unsigned char)*v))
				mime_addr_put(&angle, v, 1);
		} else if (*v == ':' && !had_angle) {
			mime_addr_clear(&phrase);	/* a group's name */
			mime_addr_clear(&comment);
		} else if (*v == ',' || *v == ';') {
			mime_addr_end(&list, n, &phrase, &angle, &comment,
			    had_angle, fb);
			had_angle = 0;
		} else
			mime_addr_put(&phrase, v, 1);
	}
	mime_addr_end(&list, n, &phrase, &angle, &comment, had_angle, fb);
	free(phrase.d);
	free(angle.d);
	free(comment.d);
	return list;
}

/* Free what mime_addr_list() returned. */
void
mime_addr_free(struct mime_addr *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(list[i].name);
		free(list[i].addr);
	}
	free(list);
}

/*
 * Return the message ids ("<id>", brackets kept) of a field such as
 * References or In-Reply-To, in order, at most MIME_MAX_IDS; NULL when
 * there are none. Text between them (comments, phrases) is skipped.
 */
char **
mime_msgids(const char *v, size_t *n)
{
	struct mime_buf	 b = { NULL, 0, 0 };
	char		**ids = NULL;
	const char	*lt, *gt;

	*n = 0;
	while (v != NULL && *n < MIME_MAX_IDS && (lt = strchr(v, '<')) !=
	    NULL && (gt = strpbrk(lt + 1, "<>")) != NULL) {
		if (*gt == '<') {	/* "<" alone: look again from there */
			v = gt;
			continue;
		}
		b.len = 0;
		mime_text_guess(&b, lt, gt + 1 - lt, NULL);
		ids = xreallocarray(ids, *n + 1, sizeof *ids);
		ids[(*n)++] = mime_buf_str(&b);
		v = gt + 1;
	}
	return ids;
}
