/*
 * Fuzz target: the IMAP wire format (daemon/imap-wire.c) on bytes from a
 * server. The first byte chooses, bit by bit, whether each literal is
 * kept or streamed; the rest is cut into lines (LF, or CRLF) and fed to
 * one parser as a session would: after a literal's announce the next
 * min(n, what is left) bytes are the literal. Each complete response is
 * walked and checked: the bounds (depth, items, kept bytes), every string
 * NUL-terminated at its length, atoms without NULs or spaces outside a
 * section, the literals in it the ones handed in, the helpers on items
 * agreeing with the tree. A refused response must say why. Each line also
 * goes through imap_quote() (unquoted again, it is the line) and modified
 * UTF-7: valid UTF-8 encodes and decodes back to itself; a name that
 * decodes encodes back to itself unless it had two shifts in a row, and
 * in any case to a form that decodes to the same.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "daemon/imap-wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define LITERALS_MAX	64	/* literals remembered per response */

/* What was handed to the parser for one response. */
struct fed {
	const char	*kept[LITERALS_MAX];
	size_t		 keptlen[LITERALS_MAX];
	size_t		 nkept;
	size_t		 keptbytes;
	uint64_t	 streamed[LITERALS_MAX];	/* the first ones' sizes */
	size_t		 nstreamed;
	size_t		 nliterals;
	/* Found again while walking the tree. */
	size_t		 kept_seen;
	size_t		 streamed_seen;
	size_t		 items;
};

/* Check one atom: its string, and what the helpers say of it. */
static void
check_atom(const struct imap_item *it)
{
	char		 num[32];
	const char	*d;
	uint64_t	 v;
	size_t		 i, brackets = 0;

	if (it->s == NULL || it->len == 0 || it->s[it->len] != '\0' ||
	    strlen(it->s) != it->len || !imap_item_is(it, it->s))
		abort();
	for (i = 0; i < it->len; i++) {
		if ((unsigned char)it->s[i] < 0x20 || it->s[i] == 0x7f)
			abort();
		if (it->s[i] == '[')
			brackets = 1;
		if (!brackets && (it->s[i] == ' ' || it->s[i] == '(' ||
		    it->s[i] == ')' || it->s[i] == '"' || it->s[i] == '{'))
			abort();
	}
	if (it->len == 3 && strncasecmp(it->s, "NIL", 3) == 0)
		abort();	/* that is an IMAP_NIL */
	/* A number: digits only, its value printed is the atom. */
	d = it->s + strspn(it->s, "0");
	if (imap_item_number(it, &v) == 0) {
		if (strspn(it->s, "0123456789") != it->len)
			abort();
		snprintf(num, sizeof num, "%llu", (unsigned long long)v);
		if (strcmp(num, *d == '\0' ? "0" : d) != 0)
			abort();
	} else if (strspn(it->s, "0123456789") == it->len &&
	    (strlen(d) < 20 || (strlen(d) == 20 &&
	    strcmp(d, "18446744073709551615") <= 0)))
		abort();	/* refused a number that fits */
}

/* Walk items at depth, checking each. */
static void
check_items(const struct imap_item *first, int depth, struct fed *f)
{
	const struct imap_item	*it;
	unsigned		 n = 0;

	if (depth > IMAP_DEPTH_MAX)
		abort();
	for (it = first; it != NULL; it = it->next, n++) {
		if (++f->items > IMAP_ITEMS_MAX || imap_item_nth(first, n) !=
		    it)
			abort();
		switch (it->kind) {
		case IMAP_ATOM:
			check_atom(it);
			break;
		case IMAP_STRING:
			if (it->s == NULL || it->s[it->len] != '\0')
				abort();
			/* The kept literals, in order, are among them. */
			if (f->kept_seen < f->nkept && it->len ==
			    f->keptlen[f->kept_seen] && memcmp(it->s,
			    f->kept[f->kept_seen], it->len) == 0)
				f->kept_seen++;
			break;
		case IMAP_NIL:
			if (it->s != NULL || it->child != NULL)
				abort();
			break;
		case IMAP_LIST:
			if (it->s != NULL)
				abort();
			if (it->child != NULL && it->child->kind == IMAP_ATOM &&
			    it->child->next != NULL &&
			    imap_fetch_get(it, it->child->s) != it->child->next)
				abort();
			check_items(it->child, depth + 1, f);
			break;
		case IMAP_STREAMED:
			if (it->s != NULL || (f->streamed_seen < LITERALS_MAX &&
			    it->len != f->streamed[f->streamed_seen]))
				abort();
			f->streamed_seen++;
			break;
		default:
			abort();
		}
		if (it->kind != IMAP_LIST && it->child != NULL)
			abort();
	}
	if (imap_item_nth(first, n) != NULL)
		abort();
}

/*
 * The capabilities of the atoms after the first, from the items and from
 * the same atoms as text, agree (when no atom holds a space).
 */
static void
check_caps(const struct imap_item *first)
{
	const struct imap_item	*it;
	char			 text[4096];
	size_t			 n = 0;

	for (it = first; it != NULL; it = it->next) {
		if (it->kind != IMAP_ATOM)
			continue;
		if (strchr(it->s, ' ') != NULL || n + it->len + 2 > sizeof text)
			return;
		memcpy(text + n, it->s, it->len);
		n += it->len;
		text[n++] = ' ';
	}
	text[n] = '\0';
	if (imap_caps_text(text) != imap_caps_items(first))
		abort();
}

/* Check a complete response against what was fed. */
static void
check_resp(const struct imap_resp *r, struct fed *f)
{
	const char	*c;

	if (r == NULL)
		abort();
	switch (r->type) {
	case IMAP_TAGGED:
		if (r->tag == NULL || r->tag[0] == '\0' ||
		    strpbrk(r->tag, " (){%*\"\\+") != NULL ||
		    (r->status != IMAP_ST_OK && r->status != IMAP_ST_NO &&
		    r->status != IMAP_ST_BAD))
			abort();
		break;
	case IMAP_UNTAGGED:
		if (r->tag != NULL)
			abort();
		break;
	case IMAP_CONTINUE:
		if (r->tag != NULL || r->text == NULL || r->items != NULL ||
		    r->status != IMAP_ST_NONE || r->code != NULL)
			abort();
		return;
	default:
		abort();
	}
	if (r->status != IMAP_ST_NONE) {
		if (r->text == NULL || r->items != NULL || r->has_number ||
		    f->nliterals != 0 || (r->code_args != NULL &&
		    r->code == NULL))
			abort();
		if (r->code != NULL) {
			if (r->code[0] == '\0')
				abort();
			for (c = r->code; *c != '\0'; c++)
				if ((*c >= 'a' && *c <= 'z') || *c == ' ' ||
				    *c == ']')
					abort();
			if (r->code_args != NULL)
				(void)imap_caps_text(r->code_args);
		}
		return;
	}
	if (r->text != NULL || r->code != NULL || r->items == NULL)
		abort();
	check_items(r->items, 0, f);
	if (f->kept_seen != f->nkept || f->streamed_seen != f->nstreamed ||
	    f->keptbytes > IMAP_KEPT_MAX)
		abort();
	check_caps(r->items->next);
}

/* A refused response: says why, has no response. */
static void
check_error(const struct imap_parser *p)
{
	const char	*e = imap_parse_error(p);

	if (e == NULL || e[0] == '\0' || imap_parse_resp(p) != NULL)
		abort();
}

/* Quote the line; unquoted again it must be the line. */
static void
fuzz_quote(const char *s, size_t len)
{
	char	*q;
	long	 n;
	size_t	 i, j;

	if ((q = malloc(2 * len + 3)) == NULL)
		return;
	n = imap_quote(q, 2 * len + 3, s, len);
	if (n < 0)
		abort();
	if (n == 0) {
		for (i = 0; i < len; i++)
			if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n' ||
			    (unsigned char)s[i] >= 0x80)
				break;
		if (i == len && len <= 1000)
			abort();	/* could have been quoted */
	} else {
		if (q[0] != '"' || q[n - 1] != '"' || q[n] != '\0')
			abort();
		for (i = 1, j = 0; i < (size_t)n - 1; i++, j++) {
			if (q[i] == '\\')
				i++;
			else if (q[i] == '"')
				abort();
			if (j >= len || q[i] != s[j])
				abort();
		}
		if (j != len)
			abort();
	}
	free(q);
}

/* Does a wire name hold a shift right after another ("-&" then base64)? */
static int
adjacent_shifts(const char *w)
{
	const char	*end = NULL;

	for (; *w != '\0'; w++) {
		if (*w != '&')
			continue;
		if (w[1] == '-') {
			w++;
			continue;
		}
		if (w == end)
			return 1;
		if ((w = strchr(w, '-')) == NULL)
			return 0;
		end = w + 1;
	}
	return 0;
}

/* Is s (len bytes, no NUL) valid UTF-8? */
static int
valid_utf8(const char *s, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len; i += n)
		if ((n = utf8_decode((const unsigned char *)s + i, len - i,
		    NULL)) == 0)
			return 0;
	return 1;
}

/* Modified UTF-7 both ways on the line s (a C string of len bytes). */
static void
fuzz_mutf7(const char *s, size_t len)
{
	size_t	 size = 6 * len + 8;
	char	*a, *b, *c;
	long	 na, nb, nc;

	a = malloc(size);
	b = malloc(size);
	c = malloc(size);
	if (a == NULL || b == NULL || c == NULL)
		goto out;

	/* As a wire name. */
	if ((na = imap_mutf7_decode(a, size, s)) >= 0) {
		if ((size_t)na != strlen(a) || !valid_utf8(a, na))
			abort();
		if ((nb = imap_mutf7_encode(b, size, a)) < 0 ||
		    (!adjacent_shifts(s) && strcmp(b, s) != 0) ||
		    (adjacent_shifts(s) && strcmp(b, s) == 0) ||
		    adjacent_shifts(b))
			abort();
		if ((nc = imap_mutf7_decode(c, size, b)) != na ||
		    strcmp(c, a) != 0)
			abort();
		/* Room for all but the NUL: refused. */
		if (imap_mutf7_decode(c, na, s) != -1)
			abort();
	}

	/* As a UTF-8 name. */
	na = imap_mutf7_encode(a, size, s);
	if ((na >= 0) != valid_utf8(s, len))
		abort();
	if (na >= 0) {
		if ((nb = imap_mutf7_decode(b, size, a)) != (long)len ||
		    strcmp(b, s) != 0 || imap_mutf7_encode(c, na, s) != -1)
			abort();
	}
out:
	free(a);
	free(b);
	free(c);
}

/* Per line: the helpers that take any string. */
static void
fuzz_line(const char *line, size_t len)
{
	char	*s;

	fuzz_quote(line, len);
	if (memchr(line, '\0', len) != NULL || len > 2048 ||
	    (s = malloc(len + 1)) == NULL)
		return;
	memcpy(s, line, len);
	s[len] = '\0';
	fuzz_mutf7(s, len);
	(void)imap_caps_text(s);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser	*p;
	struct fed		 f;
	const struct imap_item	*key;
	const char		*in, *nl;
	size_t			 len, off = 0, ll, take;
	uint64_t		 n;
	enum imap_parse_result	 res;
	uint8_t			 seed;
	int			 keep, r;

	if (size == 0)
		return 0;
	seed = data[0];
	in = (const char *)data + 1;
	len = size - 1;
	if ((p = imap_parser_new()) == NULL)
		return 0;
	memset(&f, 0, sizeof f);
	while (off < len) {
		nl = memchr(in + off, '\n', len - off);
		ll = (nl != NULL ? (size_t)(nl - in) : len) - off;
		take = ll + (nl != NULL);
		if (ll > 0 && in[off + ll - 1] == '\r')
			ll--;
		fuzz_line(in + off, ll);
		res = imap_parse_line(p, in + off, ll);
		off += take;
		if (res == IMAP_PARSE_LITERAL) {
			n = imap_parse_literal_len(p);
			if (n > UINT32_MAX || imap_parse_resp(p) != NULL)
				abort();
			take = n < len - off ? n : len - off;
			key = imap_parse_literal_key(p);
			keep = !((seed >> (f.nliterals % 8)) & 1);
			if (keep) {
				r = imap_parse_literal(p, in + off, take);
				if (r == 0 && (take != n ||
				    f.keptbytes + n > IMAP_KEPT_MAX))
					abort();
				if (r == 0 && f.nkept < LITERALS_MAX) {
					f.kept[f.nkept] = in + off;
					f.keptlen[f.nkept++] = take;
				}
				if (r == 0)
					f.keptbytes += take;
			} else {
				r = imap_parse_literal_streamed(p);
				if (r == 0 && f.nstreamed < LITERALS_MAX)
					f.streamed[f.nstreamed] = n;
				if (r == 0)
					f.nstreamed++;
			}
			/* The literal's item follows its key at once. */
			if (r == 0 && key != NULL && (key->next == NULL ||
			    key->next->kind != (keep ? IMAP_STRING :
			    IMAP_STREAMED) || key->next->len != n))
				abort();
			f.nliterals++;
			off += take;
			if (r == 0 && imap_parse_literal_len(p) != 0)
				abort();
			if (r == 0)
				continue;
			res = IMAP_PARSE_ERROR;
		}
		if (res == IMAP_PARSE_DONE)
			check_resp(imap_parse_resp(p), &f);
		else if (res == IMAP_PARSE_ERROR)
			check_error(p);
		else
			abort();
		imap_parser_reset(p);
		if (imap_parse_resp(p) != NULL || imap_parse_error(p) != NULL)
			abort();
		memset(&f, 0, sizeof f);
	}
	imap_parser_free(p);
	return 0;
}
