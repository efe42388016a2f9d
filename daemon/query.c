/*
 * The search query language (query.h): lexed into tokens, parsed by
 * recursive descent into a tree, compiled into FTS5 and SQL text.
 *
 * Compiling: a subtree made only of text terms (words, phrases, column
 * filters, joined by AND, OR and NOT below an AND with something positive
 * beside it) becomes one FTS5 expression. At the top, the text part of an
 * AND drives the search (match: the FTS5 index in key order, so the newest
 * 50 come without a sort); everything else is SQL over the message rows,
 * where a text subtree mixed in under OR or NOT is asked for as
 * "key IN (SELECT rowid FROM search WHERE search MATCH ?)".
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "common/xmalloc.h"
#include "query.h"

enum query_kind {
	Q_TEXT,		/* column (NULL: any), value, phrase, prefix */
	Q_FOLDER,
	Q_ACCOUNT,
	Q_FLAG,		/* flag set (on) or clear */
	Q_HAS,		/* attachments */
	Q_DATE,		/* [lo, hi) in seconds; -1 open */
	Q_AND,
	Q_OR,
	Q_NOT
};

struct query {
	enum query_kind	 kind;
	const char	*column;	/* Q_TEXT: an FTS5 column or NULL */
	char		*value;
	int		 prefix;
	char		**words;	/* a prefix's whole words (query_expand) */
	size_t		 nwords;
	char		 flag;		/* Q_FLAG: a Maildir flag */
	int		 on;
	long long	 lo, hi;
	struct query	**kids;
	size_t		 nkids;
};

enum query_tok {
	T_END, T_LP, T_RP, T_OR, T_AND, T_NOT, T_NEG, T_TERM
};

/* The parser's state over the query text. */
struct query_lex {
	const char	*text;
	size_t		 len;
	size_t		 pos;		/* next byte */
	enum query_tok	 tok;		/* the current token */
	size_t		 start;		/* its first byte */
	struct query	*term;		/* T_TERM: its node */
	size_t		 terms;
	int		 depth;
	char		*error;
};

/* The text fields and their FTS5 columns. */
static const struct {
	const char	*field;
	const char	*column;
} query_columns[] = {
	{ "from", "from_text" },
	{ "to", "to_text" },
	{ "cc", "cc_text" },
	{ "subject", "subject" },
	{ "body", "body" },
};

/* The values of is: and the flag each means. */
static const struct {
	const char	*name;
	char		 flag;
	int		 on;
} query_flags[] = {
	{ "unread", 'S', 0 },
	{ "read", 'S', 1 },
	{ "flagged", 'F', 1 },
	{ "replied", 'R', 1 },
	{ "forwarded", 'P', 1 },
};

/* Free a tree (NULL is fine). */
void
query_free(struct query *q)
{
	size_t	 i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nkids; i++)
		query_free(q->kids[i]);
	free(q->kids);
	for (i = 0; i < q->nwords; i++)
		free(q->words[i]);
	free(q->words);
	free(q->value);
	free(q);
}

/*
 * Put the prefix terms (word*) of q, at most max of them, in out, in the
 * order they are written; return how many there are in all.
 */
size_t
query_prefixes(struct query *q, struct query **out, size_t max)
{
	size_t	 i, n = 0;

	if (q->kind == Q_TEXT && q->prefix) {
		if (max > 0)
			out[0] = q;
		return 1;
	}
	for (i = 0; i < q->nkids; i++)
		n += query_prefixes(q->kids[i], out + (n < max ? n : max),
		    n < max ? max - n : 0);
	return n;
}

/* The text of a term, as the user wrote it (unquoted, without '*'). */
const char *
query_value(const struct query *t)
{
	return t->value;
}

/*
 * Give a prefix term the n (> 0) whole words of the index it stands for:
 * it is then compiled as an OR of them (see query.h).
 */
void
query_expand(struct query *t, char *const *words, size_t n)
{
	size_t	 i;

	if (t->kind != Q_TEXT || !t->prefix || n == 0)
		return;
	for (i = 0; i < t->nwords; i++)
		free(t->words[i]);
	free(t->words);
	t->words = xreallocarray(NULL, n, sizeof *t->words);
	for (i = 0; i < n; i++)
		t->words[i] = xstrdup(words[i]);
	t->nwords = n;
}

/* A new node. */
static struct query *
query_node(enum query_kind kind)
{
	struct query	*q = xcalloc(1, sizeof *q);

	q->kind = kind;
	q->lo = q->hi = -1;
	return q;
}

/* Add a child to an AND or OR node. */
static void
query_add(struct query *q, struct query *kid)
{
	q->kids = xreallocarray(q->kids, q->nkids + 1, sizeof *q->kids);
	q->kids[q->nkids++] = kid;
}

/* The column (1-based, in characters) of byte off of the text. */
static size_t
query_column(const struct query_lex *lx, size_t off)
{
	size_t	 i, col = 1;

	for (i = 0; i < off && i < lx->len; i++)
		if (((unsigned char)lx->text[i] & 0xc0) != 0x80)
			col++;
	return col;
}

/* Fail with a message about the text from off, n bytes (first only). */
static void __attribute__((format(printf, 4, 5)))
query_fail(struct query_lex *lx, size_t off, size_t n, const char *fmt, ...)
{
	va_list	 ap;
	char	*what;

	if (lx->error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) == -1)
		what = NULL;
	va_end(ap);
	if (n > 0)
		xasprintf(&lx->error, "%s '%.*s' at column %zu",
		    what != NULL ? what : "bad query", (int)(n > 200 ? 200 : n),
		    lx->text + off, query_column(lx, off));
	else
		xasprintf(&lx->error, "%s at column %zu", what != NULL ? what :
		    "bad query", query_column(lx, off));
	free(what);
}

/* Is c a byte that ends a bare word? */
static int
query_stop(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '(' || c == ')' || c == '"';
}

/*
 * Number of days in a month of a year.
 */
static int
query_mdays(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Read n digits of s into *v; -1 if they are not all digits. */
static int
query_digits(const char *s, size_t n, int *v)
{
	size_t	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/*
 * Parse YYYY, YYYY-MM or YYYY-MM-DD (len bytes) as local time: the
 * period's first second in *start and the first second after it in *end.
 * Return -1 when it is no such date.
 */
int
query_date(const char *s, size_t len, time_t *start, time_t *end)
{
	struct tm	 a, b;
	int		 y, m = 1, d = 1;

	if ((len != 4 && len != 7 && len != 10) || query_digits(s, 4, &y) != 0 ||
	    y < 1900 || y > 9999)
		return -1;
	if (len >= 7 && (s[4] != '-' || query_digits(s + 5, 2, &m) != 0 ||
	    m < 1 || m > 12))
		return -1;
	if (len == 10 && (s[7] != '-' || query_digits(s + 8, 2, &d) != 0 ||
	    d < 1 || d > query_mdays(y, m)))
		return -1;
	memset(&a, 0, sizeof a);
	a.tm_year = y - 1900;
	a.tm_mon = m - 1;
	a.tm_mday = d;
	a.tm_isdst = -1;
	b = a;
	if (len == 4)
		b.tm_year++;
	else if (len == 7)
		b.tm_mon++;
	else
		b.tm_mday++;
	*start = mktime(&a);
	*end = mktime(&b);
	return 0;
}

/* Read the value of a date field (date:, before:, after:) into q. */
static int
query_dates(struct query_lex *lx, struct query *q, const char *field,
    const char *v, size_t n, size_t off, size_t rawlen)
{
	const char	*dots = NULL;
	time_t		 s1, e1, s2, e2;
	size_t		 i, an, bn;

	for (i = 0; i + 1 < n; i++)
		if (v[i] == '.' && v[i + 1] == '.') {
			dots = v + i;
			break;
		}
	if (dots != NULL && strcmp(field, "date") != 0)
		dots = NULL;		/* bad date below */
	an = dots != NULL ? (size_t)(dots - v) : n;
	bn = dots != NULL ? n - an - 2 : 0;
	if ((an == 0 && bn == 0) || (an > 0 && query_date(v, an, &s1,
	    &e1) != 0) || (bn > 0 && query_date(dots + 2, bn, &s2, &e2) != 0)) {
		if (an > 0 && query_date(v, an, &s1, &e1) != 0)
			query_fail(lx, off, rawlen, "bad date '%.*s' in",
			    (int)(an > 100 ? 100 : an), v);
		else if (bn > 0)
			query_fail(lx, off, rawlen, "bad date '%.*s' in",
			    (int)(bn > 100 ? 100 : bn), dots + 2);
		else
			query_fail(lx, off, rawlen, "expected a date "
			    "(YYYY, YYYY-MM or YYYY-MM-DD) in");
		return -1;
	}
	if (strcmp(field, "before") == 0)
		q->hi = s1;
	else if (strcmp(field, "after") == 0)
		q->lo = s1;
	else if (dots == NULL) {
		q->lo = s1;
		q->hi = e1;
	} else {
		if (an > 0)
			q->lo = s1;
		if (bn > 0)
			q->hi = e2;
	}
	return 0;
}

/* Does a bare ASCII word hold nothing to search for (no letter, digit)? */
static int
query_empty_word(const char *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (isalnum((unsigned char)v[i]) || (unsigned char)v[i] >= 0x80)
			return 0;
	return 1;
}

/*
 * Make the node of a term: field (n bytes, may be 0), its value v (vn
 * bytes), quoted or not, ending in '*' or not; the term's text is at off,
 * rawlen bytes. NULL on error.
 */
static struct query *
query_term(struct query_lex *lx, const char *field, size_t fn, const char *v,
    size_t vn, int quoted, int prefix, size_t off, size_t rawlen)
{
	struct query	*q;
	char		 name[16];
	size_t		 i;

	if (fn >= sizeof name) {
		query_fail(lx, off, fn + 1, "unknown field");
		return NULL;
	}
	for (i = 0; i < fn; i++)
		name[i] = tolower((unsigned char)field[i]);
	name[fn] = '\0';
	if (fn > 0 && vn == 0 && !quoted) {
		query_fail(lx, off, rawlen, "nothing after the field in");
		return NULL;
	}
	if (fn == 0 || strcmp(name, "from") == 0 || strcmp(name, "to") == 0 ||
	    strcmp(name, "cc") == 0 || strcmp(name, "subject") == 0 ||
	    strcmp(name, "body") == 0) {
		if ((!quoted && query_empty_word(v, vn)) ||
		    (quoted && vn == 0 && fn == 0)) {
			query_fail(lx, off, rawlen, "nothing to search for in");
			return NULL;
		}
		q = query_node(Q_TEXT);
		for (i = 0; fn > 0 && i < sizeof query_columns /
		    sizeof query_columns[0]; i++)
			if (strcmp(name, query_columns[i].field) == 0)
				q->column = query_columns[i].column;
		q->value = xstrndup(v, vn);
		q->prefix = prefix;
		return q;
	}
	if (strcmp(name, "folder") == 0 || strcmp(name, "account") == 0) {
		if (vn == 0) {
			query_fail(lx, off, rawlen, "empty name in");
			return NULL;
		}
		q = query_node(name[0] == 'f' ? Q_FOLDER : Q_ACCOUNT);
		q->value = xstrndup(v, vn);
		return q;
	}
	if (strcmp(name, "is") == 0) {
		for (i = 0; i < sizeof query_flags / sizeof query_flags[0]; i++)
			if (vn == strlen(query_flags[i].name) &&
			    strncasecmp(v, query_flags[i].name, vn) == 0) {
				q = query_node(Q_FLAG);
				q->flag = query_flags[i].flag;
				q->on = query_flags[i].on;
				return q;
			}
		query_fail(lx, off, rawlen, "expected is:unread, is:read, "
		    "is:flagged, is:replied or is:forwarded, not");
		return NULL;
	}
	if (strcmp(name, "has") == 0) {
		if ((vn == 10 && strncasecmp(v, "attachment", 10) == 0) ||
		    (vn == 11 && strncasecmp(v, "attachments", 11) == 0))
			return query_node(Q_HAS);
		query_fail(lx, off, rawlen, "expected has:attachment, not");
		return NULL;
	}
	if (strcmp(name, "date") == 0 || strcmp(name, "before") == 0 ||
	    strcmp(name, "after") == 0) {
		q = query_node(Q_DATE);
		if (query_dates(lx, q, name, v, vn, off, rawlen) != 0) {
			query_free(q);
			return NULL;
		}
		return q;
	}
	query_fail(lx, off, fn + 1, "unknown field");
	return NULL;
}

/* Read a term starting at lx->pos into lx->term (T_TERM), or fail. */
static void
query_lex_term(struct query_lex *lx)
{
	const char	*t = lx->text, *v, *field = NULL;
	size_t		 p = lx->pos, fn = 0, vn, off = lx->pos;
	int		 quoted = 0, prefix = 0;

	/* field: letters, then a colon. */
	while (p < lx->len && isalpha((unsigned char)t[p]))
		p++;
	if (p > off && p < lx->len && t[p] == ':') {
		field = t + off;
		fn = p - off;
		p++;
	} else
		p = off;
	if (p < lx->len && t[p] == '"') {
		v = t + p + 1;
		for (p++; p < lx->len && t[p] != '"'; p++)
			;
		if (p == lx->len) {
			query_fail(lx, off, lx->len - off, "unbalanced quote in");
			return;
		}
		vn = t + p - v;
		p++;
		quoted = 1;
		if (p < lx->len && t[p] == '*') {
			prefix = 1;
			p++;
		}
	} else {
		v = t + p;
		while (p < lx->len && !query_stop(t[p]))
			p++;
		vn = t + p - v;
		if (vn > 0 && v[vn - 1] == '*' && (field == NULL || fn != 4 ||
		    strncasecmp(field, "date", 4) != 0)) {
			prefix = 1;
			vn--;
		}
	}
	lx->pos = p;
	if (++lx->terms > QUERY_TERMS_MAX) {
		query_fail(lx, off, 0, "too many terms (at most %d)",
		    QUERY_TERMS_MAX);
		return;
	}
	lx->term = query_term(lx, field, fn, v, vn, quoted, prefix, off,
	    p - off);
	if (lx->term != NULL)
		lx->tok = T_TERM;
}

/* Move to the next token. */
static void
query_next(struct query_lex *lx)
{
	const char	*t = lx->text;
	size_t		 p = lx->pos, n;

	query_free(lx->term);
	lx->term = NULL;
	while (p < lx->len && (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' ||
	    t[p] == '\r'))
		p++;
	lx->start = lx->pos = p;
	lx->tok = T_END;
	if (p == lx->len)
		return;
	if (t[p] == '(' || t[p] == ')') {
		lx->tok = t[p] == '(' ? T_LP : T_RP;
		lx->pos = p + 1;
		return;
	}
	if (t[p] == '-' && p + 1 < lx->len && !query_stop(t[p + 1]) &&
	    t[p + 1] != '-') {
		lx->tok = T_NEG;
		lx->pos = p + 1;
		return;
	}
	if (t[p] == '-' && p + 1 < lx->len && (t[p + 1] == '(' ||
	    t[p + 1] == '"')) {
		lx->tok = T_NEG;
		lx->pos = p + 1;
		return;
	}
	for (n = 0; p + n < lx->len && !query_stop(t[p + n]); n++)
		;
	if ((n == 2 && strncmp(t + p, "OR", 2) == 0) ||
	    (n == 3 && strncmp(t + p, "AND", 3) == 0) ||
	    (n == 3 && strncmp(t + p, "NOT", 3) == 0)) {
		lx->tok = t[p] == 'O' ? T_OR : t[p] == 'A' ? T_AND : T_NOT;
		lx->pos = p + n;
		return;
	}
	query_lex_term(lx);
	if (lx->error != NULL)
		lx->tok = T_END;
}

static struct query *query_or(struct query_lex *);

/* unary := ("NOT" | "-") unary | "(" or ")" | term */
static struct query *
query_unary(struct query_lex *lx)
{
	struct query	*q, *kid;
	size_t		 at = lx->start;

	if (lx->error != NULL)
		return NULL;
	switch (lx->tok) {
	case T_NOT:
	case T_NEG:
		if (++lx->depth > QUERY_DEPTH_MAX) {
			query_fail(lx, at, 0, "query nested too deeply (at "
			    "most %d)", QUERY_DEPTH_MAX);
			return NULL;
		}
		query_next(lx);
		if (lx->tok == T_END || lx->tok == T_RP || lx->tok == T_OR ||
		    lx->tok == T_AND) {
			query_fail(lx, at, 0, "NOT needs a term after it");
			return NULL;
		}
		if ((kid = query_unary(lx)) == NULL)
			return NULL;
		lx->depth--;
		q = query_node(Q_NOT);
		query_add(q, kid);
		return q;
	case T_LP:
		if (++lx->depth > QUERY_DEPTH_MAX) {
			query_fail(lx, at, 0, "query nested too deeply (at "
			    "most %d)", QUERY_DEPTH_MAX);
			return NULL;
		}
		query_next(lx);
		if (lx->tok == T_RP) {
			query_fail(lx, at, 0, "empty parentheses");
			return NULL;
		}
		if ((q = query_or(lx)) == NULL)
			return NULL;
		if (lx->tok != T_RP) {
			query_free(q);
			query_fail(lx, at, 0, "unbalanced parenthesis");
			return NULL;
		}
		lx->depth--;
		query_next(lx);
		return q;
	case T_TERM:
		q = lx->term;
		lx->term = NULL;
		query_next(lx);
		return q;
	case T_RP:
		query_fail(lx, at, 0, "unbalanced parenthesis");
		return NULL;
	default:
		query_fail(lx, at, 0, "%s needs a term on each side",
		    lx->tok == T_OR ? "OR" : "AND");
		return NULL;
	}
}

/* Collapse an AND or OR of one child into the child. */
static struct query *
query_single(struct query *q)
{
	struct query	*kid;

	if (q->nkids != 1)
		return q;
	kid = q->kids[0];
	q->nkids = 0;
	query_free(q);
	return kid;
}

/* and := unary (["AND"] unary)* */
static struct query *
query_and(struct query_lex *lx)
{
	struct query	*q = query_node(Q_AND), *kid;

	for (;;) {
		if ((kid = query_unary(lx)) == NULL) {
			query_free(q);
			return NULL;
		}
		query_add(q, kid);
		if (lx->tok == T_AND) {
			query_next(lx);
			if (lx->tok == T_END || lx->tok == T_RP ||
			    lx->tok == T_OR) {
				query_fail(lx, lx->start, 0, "AND needs a term "
				    "on each side");
				query_free(q);
				return NULL;
			}
			continue;
		}
		if (lx->tok == T_END || lx->tok == T_RP || lx->tok == T_OR)
			return query_single(q);
	}
}

/* or := and ("OR" and)* */
static struct query *
query_or(struct query_lex *lx)
{
	struct query	*q = query_node(Q_OR), *kid;
	size_t		 at;

	for (;;) {
		if (lx->tok == T_OR || lx->tok == T_END) {
			query_fail(lx, lx->start, 0, "OR needs a term on each "
			    "side");
			query_free(q);
			return NULL;
		}
		if ((kid = query_and(lx)) == NULL) {
			query_free(q);
			return NULL;
		}
		query_add(q, kid);
		if (lx->tok != T_OR)
			return query_single(q);
		at = lx->start;
		query_next(lx);
		if (lx->tok == T_END || lx->tok == T_RP) {
			query_fail(lx, at, 0, "OR needs a term on each side");
			query_free(q);
			return NULL;
		}
	}
}

/* Parse a query; NULL with *cause (to free) when it is not one. */
struct query *
query_parse(const char *text, char **cause)
{
	struct query_lex	 lx;
	struct query		*q;

	memset(&lx, 0, sizeof lx);
	lx.text = text;
	lx.len = strlen(text);
	if (lx.len > QUERY_LEN_MAX) {
		xasprintf(cause, "query too long (at most %d bytes)",
		    QUERY_LEN_MAX);
		return NULL;
	}
	query_next(&lx);
	if (lx.tok == T_END && lx.error == NULL) {
		*cause = xstrdup("empty query: give a word or a term");
		return NULL;
	}
	q = query_or(&lx);
	if (q != NULL && lx.error != NULL) {
		query_free(q);
		q = NULL;
	}
	if (q != NULL && lx.tok != T_END) {
		query_free(q);
		q = NULL;
		query_fail(&lx, lx.start, 0, "unbalanced parenthesis");
	}
	query_free(lx.term);
	if (q == NULL) {
		*cause = lx.error != NULL ? lx.error : xstrdup("bad query");
		return NULL;
	}
	free(lx.error);
	return q;
}

/* A growing string. */
struct query_buf {
	char	*s;
	size_t	 len;
	size_t	 size;
};

/* Append n bytes. */
static void
query_put(struct query_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->size) {
		b->size = b->size == 0 ? 256 : b->size;
		while (b->len + n + 1 > b->size)
			b->size *= 2;
		b->s = xreallocarray(b->s, 1, b->size);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Append a C string. */
static void
query_puts(struct query_buf *b, const char *s)
{
	query_put(b, s, strlen(s));
}

/* Is a character one the index keeps as a token of its own (CJK)? */
static int
query_cjk(uint32_t c)
{
	return (c >= 0x2e80 && c <= 0x2fdf) ||	/* radicals */
	    (c >= 0x3040 && c <= 0x30ff) ||	/* hiragana, katakana */
	    (c >= 0x3100 && c <= 0x31ff) ||	/* bopomofo, hangul jamo... */
	    (c >= 0x3400 && c <= 0x4dbf) ||	/* CJK extension A */
	    (c >= 0x4e00 && c <= 0x9fff) ||	/* CJK unified ideographs */
	    (c >= 0xac00 && c <= 0xd7af) ||	/* hangul syllables */
	    (c >= 0xf900 && c <= 0xfaff) ||	/* compatibility ideographs */
	    (c >= 0xff66 && c <= 0xff9f) ||	/* halfwidth katakana */
	    (c >= 0x20000 && c <= 0x3134f);	/* extensions B to G */
}

/*
 * The text (len bytes) with a space after each CJK character and before
 * one that follows other text, so the FTS5 tokenizer sees each as a word
 * (it would take a run of them as one). NULL when the text has none
 * (nothing to change); else new memory, its length in *outlen.
 */
char *
query_cjk_spaced(const char *text, size_t len, size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)text;
	struct query_buf	 b = { NULL, 0, 0 };
	uint32_t		 c;
	size_t			 i, n, from = 0;
	int			 any = 0, prev = 0;

	for (i = 0; i < len; i += n) {
		if (p[i] < 0xe2) {
			n = 1;
			prev = 0;
			continue;
		}
		if ((n = utf8_decode(p + i, len - i, &c)) == 0) {
			n = 1;
			prev = 0;
			continue;
		}
		if (!query_cjk(c)) {
			prev = 0;
			continue;
		}
		any = 1;
		query_put(&b, text + from, i - from);
		if (!prev && i > 0 && p[i - 1] != ' ')
			query_put(&b, " ", 1);
		query_put(&b, text + i, n);
		query_put(&b, " ", 1);
		from = i + n;
		prev = 1;
	}
	if (!any)
		return NULL;
	query_put(&b, text + from, len - from);
	*outlen = b.len;
	return b.s;
}

/* Can the subtree be one FTS5 expression? */
static int
query_fts_ok(const struct query *q)
{
	size_t	 i;
	int	 pos = 0;

	switch (q->kind) {
	case Q_TEXT:
		return 1;
	case Q_OR:
		for (i = 0; i < q->nkids; i++)
			if (!query_fts_ok(q->kids[i]))
				return 0;
		return 1;
	case Q_AND:
		for (i = 0; i < q->nkids; i++) {
			if (query_fts_ok(q->kids[i]))
				pos = 1;
			else if (q->kids[i]->kind != Q_NOT ||
			    !query_fts_ok(q->kids[i]->kids[0]))
				return 0;
		}
		return pos;
	default:
		return 0;
	}
}

/* Append a string quoted for FTS5. */
static void
query_fts_quoted(struct query_buf *b, const char *v)
{
	const char	*s;

	query_puts(b, "\"");
	for (s = v; *s != '\0'; s++) {
		if (*s == '"')
			query_put(b, "\"", 1);	/* "" is a quote in FTS5 */
		query_put(b, s, 1);
	}
	query_puts(b, "\"");
}

/*
 * Append one text term, quoted for FTS5; a prefix given its words, as
 * ("w1" OR "w2" ...).
 */
static void
query_fts_term(struct query_buf *b, const struct query *q)
{
	const char	*v = q->value;
	char		*spaced;
	size_t		 i, n;

	if (q->column != NULL) {
		query_puts(b, q->column);
		query_puts(b, " : ");
	}
	if (q->nwords > 0) {
		query_puts(b, "(");
		for (i = 0; i < q->nwords; i++) {
			if (i > 0)
				query_puts(b, " OR ");
			query_fts_quoted(b, q->words[i]);
		}
		query_puts(b, ")");
		return;
	}
	spaced = query_cjk_spaced(v, strlen(v), &n);
	if (spaced != NULL)
		v = spaced;
	query_fts_quoted(b, v);
	if (q->prefix)
		query_puts(b, " *");
	free(spaced);
}

static void	query_fts(struct query_buf *, const struct query *);

/*
 * Append an AND of FTS5-able kids: the positive ones joined by AND, then
 * each negated one after NOT (FTS5's NOT is binary).
 */
static void
query_fts_and(struct query_buf *b, struct query *const *kids, size_t n)
{
	size_t	 i, pos = 0, neg = 0;

	for (i = 0; i < n; i++)
		neg += kids[i]->kind == Q_NOT;
	query_puts(b, neg > 0 ? "((" : "(");
	for (i = 0; i < n; i++) {
		if (kids[i]->kind == Q_NOT)
			continue;
		if (pos++ > 0)
			query_puts(b, " AND ");
		query_fts(b, kids[i]);
	}
	query_puts(b, ")");
	for (i = 0; i < n; i++) {
		if (kids[i]->kind != Q_NOT)
			continue;
		query_puts(b, " NOT ");
		query_fts(b, kids[i]->kids[0]);
	}
	if (neg > 0)
		query_puts(b, ")");
}

/* Append an FTS5-able subtree as an FTS5 expression. */
static void
query_fts(struct query_buf *b, const struct query *q)
{
	size_t	 i;

	switch (q->kind) {
	case Q_TEXT:
		query_fts_term(b, q);
		break;
	case Q_OR:
		query_puts(b, "(");
		for (i = 0; i < q->nkids; i++) {
			if (i > 0)
				query_puts(b, " OR ");
			query_fts(b, q->kids[i]);
		}
		query_puts(b, ")");
		break;
	case Q_AND:
		query_fts_and(b, q->kids, q->nkids);
		break;
	default:
		break;
	}
}

/* Add a bind (text copied, or a number). */
static void
query_bind(struct query_sql *out, const char *text, long long num)
{
	out->binds = xreallocarray(out->binds, out->nbinds + 1,
	    sizeof *out->binds);
	out->binds[out->nbinds].text = NULL;
	out->binds[out->nbinds].num = num;
	if (text != NULL) {
		out->texts = xreallocarray(out->texts, out->ntexts + 1,
		    sizeof *out->texts);
		out->texts[out->ntexts] = xstrdup(text);
		out->binds[out->nbinds].text = out->texts[out->ntexts++];
	}
	out->nbinds++;
}

/* The key of a time: its seconds (0 at least) shifted up. */
static long long
query_key(long long t)
{
	if (t < 0)
		t = 0;
	if (t > (INT64_MAX >> QUERY_KEY_SHIFT) - 1)
		t = (INT64_MAX >> QUERY_KEY_SHIFT) - 1;
	return t << QUERY_KEY_SHIFT;
}

/* Append a subtree as SQL over messages m, its key column named key. */
static void
query_sql(struct query_buf *b, const struct query *q, const char *key,
    struct query_sql *out)
{
	struct query_buf	 f = { NULL, 0, 0 };
	char			 s[64];
	size_t			 i;

	if (query_fts_ok(q)) {
		query_fts(&f, q);
		query_puts(b, key);
		query_puts(b, " IN (SELECT rowid FROM search WHERE search "
		    "MATCH ?)");
		query_bind(out, f.s, 0);
		free(f.s);
		return;
	}
	switch (q->kind) {
	case Q_AND:
	case Q_OR:
		query_puts(b, "(");
		for (i = 0; i < q->nkids; i++) {
			if (i > 0)
				query_puts(b, q->kind == Q_AND ? " AND " :
				    " OR ");
			query_sql(b, q->kids[i], key, out);
		}
		query_puts(b, ")");
		break;
	case Q_NOT:
		query_puts(b, "NOT ");
		query_sql(b, q->kids[0], key, out);
		break;
	case Q_FOLDER:
		query_puts(b, "m.folder = ? COLLATE NOCASE");
		query_bind(out, q->value, 0);
		break;
	case Q_ACCOUNT:
		query_puts(b, "m.account = ?");
		query_bind(out, q->value, 0);
		break;
	case Q_FLAG:
		snprintf(s, sizeof s, "instr(m.flags, '%c') %s 0", q->flag,
		    q->on ? ">" : "=");
		query_puts(b, s);
		break;
	case Q_HAS:
		query_puts(b, "m.attachments > 0");
		break;
	case Q_DATE:
		query_puts(b, "(");
		if (q->lo != -1) {
			query_puts(b, key);
			query_puts(b, " >= ?");
			query_bind(out, NULL, query_key(q->lo));
		}
		if (q->hi != -1) {
			query_puts(b, q->lo != -1 ? " AND " : "");
			query_puts(b, key);
			query_puts(b, " < ?");
			query_bind(out, NULL, query_key(q->hi));
		}
		query_puts(b, ")");
		break;
	default:
		break;
	}
}

/*
 * Compile a query. key names the search key column in the SQL (the FTS5
 * table's rowid when the query has a match, so date ranges narrow the
 * index scan; else the messages' own).
 */
void
query_compile(const struct query *q, const char *key, struct query_sql *out)
{
	struct query_buf	 m = { NULL, 0, 0 }, w = { NULL, 0, 0 };
	struct query		*pos[QUERY_TERMS_MAX + 1];
	size_t			 i, np = 0, nw = 0;

	memset(out, 0, sizeof *out);
	if (query_fts_ok(q)) {
		query_fts(&m, q);
		out->match = m.s;
		out->where = xstrdup("1");
		return;
	}
	if (q->kind == Q_AND) {
		for (i = 0; i < q->nkids && np < QUERY_TERMS_MAX; i++)
			if (query_fts_ok(q->kids[i]))
				pos[np++] = q->kids[i];
	}
	if (np == 0) {
		query_sql(&w, q, key, out);
		out->where = w.s;
		return;
	}
	/* The text part drives; the negated text goes with it. */
	for (i = 0; i < q->nkids && np < QUERY_TERMS_MAX; i++)
		if (q->kids[i]->kind == Q_NOT &&
		    query_fts_ok(q->kids[i]->kids[0]))
			pos[np++] = q->kids[i];
	query_fts_and(&m, pos, np);
	out->match = m.s;
	for (i = 0; i < q->nkids; i++) {
		if (query_fts_ok(q->kids[i]) || (q->kids[i]->kind == Q_NOT &&
		    query_fts_ok(q->kids[i]->kids[0])))
			continue;
		if (nw++ > 0)
			query_puts(&w, " AND ");
		query_sql(&w, q->kids[i], key, out);
	}
	out->where = w.s != NULL ? w.s : xstrdup("1");
}

/* Free what query_compile made. */
void
query_sql_free(struct query_sql *out)
{
	size_t	 i;

	free(out->match);
	free(out->where);
	for (i = 0; i < out->ntexts; i++)
		free(out->texts[i]);
	free(out->texts);
	free(out->binds);
	memset(out, 0, sizeof *out);
}
