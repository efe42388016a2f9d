/*
 * The IMAP wire format: see imap-wire.h. The grammar is RFC 9051 section
 * 9 (RFC 3501 section 9 for IMAP4rev1 servers); where servers are known to
 * stray from it harmlessly (several spaces between items, a status
 * response without text, "]" straight before the text) this reads what
 * they send, and anything that could make two readings of a response
 * possible is an error.
 *
 * A response's items, strings and kept literals live in an arena of
 * chunks that reset empties at once: nothing is freed item by item.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "imap-wire.h"

#define IMAP_CHUNK	8192	/* the arena's usual chunk; reset keeps one */
#define IMAP_QUOTE_MAX	1000	/* longer strings go as literals */

/* A piece of the arena; its bytes follow. */
struct imap_chunk {
	struct imap_chunk	*next;
	size_t			 size;
	size_t			 used;
	max_align_t		 data[];
};

/* Where the parser is between two calls. */
enum imap_state {
	ST_START,	/* the next line starts a response */
	ST_LITERAL,	/* a literal was announced: bytes or streamed next */
	ST_MORE,	/* after a literal: the next line continues the items */
	ST_DONE,
	ST_ERROR
};

struct imap_parser {
	enum imap_state		 state;
	struct imap_resp	 resp;
	/* The open lists: list[d] holds depth d's items (list[0] is none:
	 * the response's items), last[d] the last item at depth d. */
	struct imap_item	*list[IMAP_DEPTH_MAX + 1];
	struct imap_item	*last[IMAP_DEPTH_MAX + 1];
	int			 depth;
	size_t			 nitems;
	size_t			 kept;		/* literal bytes kept */
	size_t			 linebytes;	/* of this response's lines */
	uint64_t		 literal_len;
	const struct imap_item	*literal_key;
	struct imap_chunk	*chunks;	/* newest first */
	char			 error[128];
};

/* Say why the response is not one; the parser stays failed until reset. */
static enum imap_parse_result __attribute__((format(printf, 2, 3)))
imap_fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	p->state = ST_ERROR;
	return IMAP_PARSE_ERROR;
}

/* Take n bytes of the arena, aligned for any object when align is set. */
static void *
imap_alloc(struct imap_parser *p, size_t n, int align)
{
	struct imap_chunk	*c = p->chunks;
	size_t			 at, a = sizeof(max_align_t), size;

	if (c != NULL) {
		at = align ? (c->used + a - 1) / a * a : c->used;
		if (at <= c->size && n <= c->size - at) {
			c->used = at + n;
			return (char *)c->data + at;
		}
	}
	size = n > IMAP_CHUNK ? n : IMAP_CHUNK;
	if ((c = malloc(sizeof *c + size)) == NULL)
		return NULL;
	c->size = size;
	c->used = n;
	c->next = p->chunks;
	p->chunks = c;
	return c->data;
}

/* Copy s[0..len) into the arena, NUL-terminated. */
static char *
imap_strdup(struct imap_parser *p, const char *s, size_t len)
{
	char	*d;

	if ((d = imap_alloc(p, len + 1, 0)) == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* Start a parser. */
struct imap_parser *
imap_parser_new(void)
{
	struct imap_parser	*p;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	imap_parser_reset(p);
	return p;
}

/* Free a parser and everything it parsed. */
void
imap_parser_free(struct imap_parser *p)
{
	struct imap_chunk	*c, *next;

	if (p == NULL)
		return;
	for (c = p->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(p);
}

/*
 * Forget the response. One chunk of the usual size is kept for the next
 * response, so a session reading small responses does not go to malloc;
 * larger ones (a big literal, a long SEARCH) are given back at once.
 */
void
imap_parser_reset(struct imap_parser *p)
{
	struct imap_chunk	*c, *next, *keep = NULL;

	for (c = p->chunks; c != NULL; c = next) {
		next = c->next;
		if (keep == NULL && c->size == IMAP_CHUNK) {
			keep = c;
			keep->used = 0;
			keep->next = NULL;
		} else
			free(c);
	}
	p->chunks = keep;
	memset(&p->resp, 0, sizeof p->resp);
	p->state = ST_START;
	p->depth = 0;
	p->last[0] = NULL;
	p->nitems = p->kept = p->linebytes = 0;
	p->literal_len = 0;
	p->literal_key = NULL;
	p->error[0] = '\0';
}

/* A new item of kind at the current depth, or NULL (p failed). */
static struct imap_item *
imap_add(struct imap_parser *p, enum imap_kind kind)
{
	struct imap_item	*it;
	int			 d = p->depth;

	if (p->nitems >= IMAP_ITEMS_MAX) {
		imap_fail(p, "more than %d items in one response",
		    IMAP_ITEMS_MAX);
		return NULL;
	}
	if ((it = imap_alloc(p, sizeof *it, 1)) == NULL) {
		imap_fail(p, "out of memory");
		return NULL;
	}
	memset(it, 0, sizeof *it);
	it->kind = kind;
	if (p->last[d] != NULL)
		p->last[d]->next = it;
	else if (d == 0)
		p->resp.items = it;
	else
		p->list[d]->child = it;
	p->last[d] = it;
	p->nitems++;
	return it;
}

/* A new atom or string item holding s[0..len). */
static struct imap_item *
imap_add_str(struct imap_parser *p, enum imap_kind kind, const char *s,
    size_t len)
{
	struct imap_item	*it;

	if ((it = imap_add(p, kind)) == NULL)
		return NULL;
	if ((it->s = imap_strdup(p, s, len)) == NULL) {
		imap_fail(p, "out of memory");
		return NULL;
	}
	it->len = len;
	return it;
}

/*
 * Can c be in an atom (RFC 9051 ATOM-CHAR, with "\" of flags, "]" of
 * ASTRING-CHAR and "*" and "%" of list-mailbox; bytes past 0x7f too, which
 * servers send in mailbox names)? "[" is handled by the caller.
 */
static int
imap_atom_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

/* Is c a control character, which only quoted strings and text carry? */
static int
imap_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * Read an atom at line[*i]. A "[" inside one opens a section that runs to
 * its "]" whatever it holds (spaces, parentheses, quoted header names:
 * "BODY[HEADER.FIELDS (FROM TO)]<0>" is one atom); "NIL" is its own kind.
 */
static int
imap_atom(struct imap_parser *p, const char *line, size_t len, size_t *i)
{
	size_t		 start = *i, j = *i;
	unsigned char	 c;
	int		 quoted;

	while (j < len && imap_atom_char(line[j])) {
		if (line[j++] != '[')
			continue;
		for (quoted = 0; j < len && (quoted || line[j] != ']'); j++) {
			c = line[j];
			if (imap_ctl(c))
				break;
			if (quoted && c == '\\' && j + 1 < len &&
			    !imap_ctl(line[j + 1]))
				j++;
			else if (c == '"')
				quoted = !quoted;
		}
		if (j < len && imap_ctl(line[j]))
			break;
		if (j == len)
			return imap_fail(p, "'[' without ']' in an atom");
		j++;
	}
	if (j < len && imap_ctl(line[j]))
		return imap_fail(p, "control character 0x%02x in an atom",
		    (unsigned char)line[j]);
	*i = j;
	if (j - start == 3 && strncasecmp(line + start, "NIL", 3) == 0)
		return imap_add(p, IMAP_NIL) != NULL ? 0 : -1;
	return imap_add_str(p, IMAP_ATOM, line + start, j - start) != NULL ?
	    0 : -1;
}

/*
 * Read a quoted string at line[*i] (the opening quote). RFC 9051 escapes
 * only "\" and the quote; any other escape is a server bug that would
 * leave the string's meaning open, so it is refused.
 */
static int
imap_quoted(struct imap_parser *p, const char *line, size_t len, size_t *i)
{
	struct imap_item	*it;
	size_t			 j, n = 0;
	char			*d;

	for (j = *i + 1; j < len && line[j] != '"'; j++) {
		if (line[j] == '\\') {
			if (++j == len)
				break;
			if (line[j] != '\\' && line[j] != '"')
				return imap_fail(p, "bad escape '\\%c' in a "
				    "quoted string", line[j]);
		}
		n++;
	}
	if (j >= len)
		return imap_fail(p, "quoted string not closed");
	if ((it = imap_add(p, IMAP_STRING)) == NULL)
		return -1;
	if ((d = imap_alloc(p, n + 1, 0)) == NULL)
		return imap_fail(p, "out of memory");
	it->s = d;
	it->len = n;
	for (j = *i + 1; line[j] != '"'; j++) {
		if (line[j] == '\\')
			j++;
		*d++ = line[j];
	}
	*d = '\0';
	*i = j + 1;
	return 0;
}

/*
 * Read a literal's announce "{n}" or "{n+}" at line[*i]: it must end the
 * line (the bytes follow the CRLF). A size past 2^32 - 1 (RFC 3501's
 * number) is refused before anyone allocates or waits for it.
 */
static enum imap_parse_result
imap_announce(struct imap_parser *p, const char *line, size_t len, size_t i)
{
	uint64_t	 n = 0;
	size_t		 j = i + 1;

	if (j == len || line[j] < '0' || line[j] > '9')
		return imap_fail(p, "bad literal size");
	for (; j < len && line[j] >= '0' && line[j] <= '9'; j++) {
		n = n * 10 + (line[j] - '0');
		if (n > UINT32_MAX)
			return imap_fail(p, "literal size above %lu",
			    (unsigned long)UINT32_MAX);
	}
	if (j < len && line[j] == '+')
		j++;
	if (j == len || line[j] != '}')
		return imap_fail(p, "bad literal size");
	if (j + 1 != len)
		return imap_fail(p, "literal announce not at the end of a line");
	p->literal_len = n;
	p->literal_key = p->last[p->depth];
	p->state = ST_LITERAL;
	return IMAP_PARSE_LITERAL;
}

/* Read items from line[i] to the end, or to a literal's announce. */
static enum imap_parse_result
imap_items(struct imap_parser *p, const char *line, size_t len, size_t i)
{
	struct imap_item	*it;

	while (i < len) {
		switch (line[i]) {
		case ' ':
			i++;
			break;
		case '(':
			if (p->depth == IMAP_DEPTH_MAX)
				return imap_fail(p, "list nesting deeper than "
				    "%d", IMAP_DEPTH_MAX);
			if ((it = imap_add(p, IMAP_LIST)) == NULL)
				return IMAP_PARSE_ERROR;
			p->depth++;
			p->list[p->depth] = it;
			p->last[p->depth] = NULL;
			i++;
			break;
		case ')':
			if (p->depth == 0)
				return imap_fail(p, "')' without '('");
			p->depth--;
			i++;
			break;
		case '"':
			if (imap_quoted(p, line, len, &i) != 0)
				return IMAP_PARSE_ERROR;
			break;
		case '{':
			return imap_announce(p, line, len, i);
		default:
			if (imap_ctl(line[i]))
				return imap_fail(p, "control character 0x%02x "
				    "between items", (unsigned char)line[i]);
			if (imap_atom(p, line, len, &i) != 0)
				return IMAP_PARSE_ERROR;
			break;
		}
	}
	if (p->depth > 0)
		return imap_fail(p, "%d list%s not closed", p->depth,
		    p->depth > 1 ? "s" : "");
	p->state = ST_DONE;
	return IMAP_PARSE_DONE;
}

/* A word of the protocol and what it stands for. */
struct imap_word {
	const char	*word;
	unsigned	 value;
};

/* The value of w[0..n) in table (any case), 0 when it is not there. */
static unsigned
imap_lookup(const struct imap_word *table, size_t nwords, const char *w,
    size_t n)
{
	size_t	 k;

	for (k = 0; k < nwords; k++)
		if (strlen(table[k].word) == n &&
		    strncasecmp(w, table[k].word, n) == 0)
			return table[k].value;
	return 0;
}

/* The status word w[0..n), IMAP_ST_NONE when it is none. */
static enum imap_status
imap_status_word(const char *w, size_t n)
{
	static const struct imap_word	 words[] = {
		{ "OK", IMAP_ST_OK }, { "NO", IMAP_ST_NO },
		{ "BAD", IMAP_ST_BAD }, { "BYE", IMAP_ST_BYE },
		{ "PREAUTH", IMAP_ST_PREAUTH }
	};

	return imap_lookup(words, sizeof words / sizeof words[0], w, n);
}

/*
 * Read the rest of a status response from line[i] (after its word):
 * [SP] ["[" CODE [SP args] "]" [SP]] text. The args run to the first "]"
 * outside a quoted string ([BADCHARSET ("a]b")] is one code).
 */
static enum imap_parse_result
imap_status_rest(struct imap_parser *p, const char *line, size_t len,
    size_t i)
{
	struct imap_resp	*r = &p->resp;
	size_t			 start, k;
	int			 quoted = 0;

	if (i < len && line[i] == ' ')
		i++;
	if (i < len && line[i] == '[') {
		start = ++i;
		while (i < len && line[i] != ' ' && line[i] != ']' &&
		    !imap_ctl(line[i]))
			i++;
		if (i == start)
			return imap_fail(p, "empty response code");
		if ((r->code = imap_strdup(p, line + start, i - start)) == NULL)
			return imap_fail(p, "out of memory");
		for (k = 0; r->code[k] != '\0'; k++)
			if (r->code[k] >= 'a' && r->code[k] <= 'z')
				r->code[k] -= 'a' - 'A';
		if (i < len && line[i] == ' ') {
			for (start = ++i; i < len && (quoted ||
			    line[i] != ']'); i++) {
				if (quoted && line[i] == '\\' && i + 1 < len)
					i++;
				else if (line[i] == '"')
					quoted = !quoted;
			}
			if (i < len && (r->code_args = imap_strdup(p,
			    line + start, i - start)) == NULL)
				return imap_fail(p, "out of memory");
		}
		if (i == len || line[i] != ']')
			return imap_fail(p, "response code without ']'");
		if (++i < len && line[i] == ' ')
			i++;
	}
	if ((r->text = imap_strdup(p, line + i, len - i)) == NULL)
		return imap_fail(p, "out of memory");
	p->state = ST_DONE;
	return IMAP_PARSE_DONE;
}

/*
 * Is c a tag's character (RFC 9051: ASTRING-CHAR but "+")? Tags are the
 * client's own, so one outside the grammar is garbage, not a tag.
 */
static int
imap_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '%' && c != '*' && c != '"' && c != '\\' && c != '+';
}

/* Read the first line of a response: its kind, tag, number or status. */
static enum imap_parse_result
imap_first_line(struct imap_parser *p, const char *line, size_t len)
{
	struct imap_resp	*r = &p->resp;
	size_t			 i = 0, j;
	uint64_t		 n = 0;

	if (len == 0)
		return imap_fail(p, "empty line");
	if (line[0] == '+') {
		if (len > 1 && line[1] != ' ')
			return imap_fail(p, "'+' not followed by a space");
		r->type = IMAP_CONTINUE;
		i = len > 1 ? 2 : 1;
		if ((r->text = imap_strdup(p, line + i, len - i)) == NULL)
			return imap_fail(p, "out of memory");
		p->state = ST_DONE;
		return IMAP_PARSE_DONE;
	}
	if (line[0] == '*') {
		if (len < 3 || line[1] != ' ')
			return imap_fail(p, "'*' not followed by a space and "
			    "data");
		r->type = IMAP_UNTAGGED;
		i = 2;
	} else {
		while (i < len && imap_tag_char(line[i]))
			i++;
		if (i == 0 || i == len || line[i] != ' ')
			return imap_fail(p, "bad tag");
		r->type = IMAP_TAGGED;
		if ((r->tag = imap_strdup(p, line, i)) == NULL)
			return imap_fail(p, "out of memory");
		i++;
	}

	/* "* N WORD": a message number, then the word and its data. */
	for (j = i; j < len && line[j] >= '0' && line[j] <= '9'; j++)
		n = n < UINT64_MAX / 10 ? n * 10 + (line[j] - '0') : n;
	if (r->type == IMAP_UNTAGGED && j > i && (j == len || line[j] == ' ')) {
		if (n > UINT32_MAX)
			return imap_fail(p, "message number above %lu",
			    (unsigned long)UINT32_MAX);
		if (j + 1 >= len || line[j + 1] == ' ')
			return imap_fail(p, "number without a word");
		r->has_number = 1;
		r->number = n;
		return imap_items(p, line, len, j + 1);
	}

	for (j = i; j < len && line[j] != ' '; j++)
		;
	if (j == i)
		return imap_fail(p, "no word after the tag");
	if ((r->status = imap_status_word(line + i, j - i)) != IMAP_ST_NONE) {
		if (r->type == IMAP_TAGGED && r->status != IMAP_ST_OK &&
		    r->status != IMAP_ST_NO && r->status != IMAP_ST_BAD)
			return imap_fail(p, "tagged %.*s", (int)(j - i),
			    line + i);
		return imap_status_rest(p, line, len, j);
	}
	if (r->type == IMAP_TAGGED)
		return imap_fail(p, "tagged response neither OK, NO nor BAD");
	return imap_items(p, line, len, i);
}

/* Feed one line of a response. */
enum imap_parse_result
imap_parse_line(struct imap_parser *p, const char *line, size_t len)
{
	switch (p->state) {
	case ST_ERROR:
		return IMAP_PARSE_ERROR;
	case ST_DONE:
		return imap_fail(p, "a line after a complete response");
	case ST_LITERAL:
		return imap_fail(p, "a line where a literal was announced");
	default:
		break;
	}
	if (memchr(line, '\0', len) != NULL)
		return imap_fail(p, "NUL byte in a line");
	if (len > IMAP_LINES_MAX - p->linebytes)
		return imap_fail(p, "lines of more than %d bytes in one "
		    "response", IMAP_LINES_MAX);
	p->linebytes += len;
	if (p->state == ST_START)
		return imap_first_line(p, line, len);
	return imap_items(p, line, len, 0);
}

/* The size of the literal announced. */
uint64_t
imap_parse_literal_len(const struct imap_parser *p)
{
	return p->state == ST_LITERAL ? p->literal_len : 0;
}

/* The item before the announced literal at its depth. */
const struct imap_item *
imap_parse_literal_key(const struct imap_parser *p)
{
	return p->state == ST_LITERAL ? p->literal_key : NULL;
}

/* Keep the announced literal's bytes, all of them, as a string. */
int
imap_parse_literal(struct imap_parser *p, const char *s, size_t len)
{
	if (p->state != ST_LITERAL) {
		if (p->state != ST_ERROR)
			imap_fail(p, "literal bytes without an announce");
		return -1;
	}
	if (len != p->literal_len) {
		imap_fail(p, "literal of %zu bytes where %llu were announced",
		    len, (unsigned long long)p->literal_len);
		return -1;
	}
	if (len > IMAP_KEPT_MAX - p->kept) {
		imap_fail(p, "literals of more than %d bytes kept in one "
		    "response", IMAP_KEPT_MAX);
		return -1;
	}
	if (imap_add_str(p, IMAP_STRING, s, len) == NULL)
		return -1;
	p->kept += len;
	p->state = ST_MORE;
	return 0;
}

/* Leave a placeholder for the literal the caller took elsewhere. */
int
imap_parse_literal_streamed(struct imap_parser *p)
{
	struct imap_item	*it;

	if (p->state != ST_LITERAL) {
		if (p->state != ST_ERROR)
			imap_fail(p, "literal streamed without an announce");
		return -1;
	}
	if ((it = imap_add(p, IMAP_STREAMED)) == NULL)
		return -1;
	it->len = p->literal_len;
	p->state = ST_MORE;
	return 0;
}

/* The response, once complete. */
const struct imap_resp *
imap_parse_resp(const struct imap_parser *p)
{
	return p->state == ST_DONE ? &p->resp : NULL;
}

/* Why the response was refused. */
const char *
imap_parse_error(const struct imap_parser *p)
{
	return p->state == ST_ERROR ? p->error : NULL;
}

/* The n-th item from first on. */
const struct imap_item *
imap_item_nth(const struct imap_item *it, unsigned n)
{
	while (it != NULL && n-- > 0)
		it = it->next;
	return it;
}

/* Is it the atom a, whatever the case? */
int
imap_item_is(const struct imap_item *it, const char *a)
{
	return it != NULL && it->kind == IMAP_ATOM && strcasecmp(it->s, a) == 0;
}

/* Read an atom of digits (no sign, not past 2^64 - 1) into *v. */
int
imap_item_number(const struct imap_item *it, uint64_t *v)
{
	uint64_t	 n = 0;
	size_t		 i;

	if (it == NULL || it->kind != IMAP_ATOM || it->len == 0)
		return -1;
	for (i = 0; i < it->len; i++) {
		if (it->s[i] < '0' || it->s[i] > '9' ||
		    n > (UINT64_MAX - (it->s[i] - '0')) / 10)
			return -1;
		n = n * 10 + (it->s[i] - '0');
	}
	*v = n;
	return 0;
}

/* The value after key in a FETCH list of pairs. */
const struct imap_item *
imap_fetch_get(const struct imap_item *list, const char *key)
{
	const struct imap_item	*k;

	if (list == NULL || list->kind != IMAP_LIST)
		return NULL;
	for (k = list->child; k != NULL && k->next != NULL; k = k->next->next)
		if (imap_item_is(k, key))
			return k->next;
	return NULL;
}

/* The capability one word w[0..n) names, 0 for any other. */
static unsigned
imap_cap_word(const char *w, size_t n)
{
	static const struct imap_word	 caps[] = {
		{ "IMAP4rev1", IMAP_CAP_IMAP4REV1 },
		{ "IMAP4rev2", IMAP_CAP_IMAP4REV2 },
		{ "STARTTLS", IMAP_CAP_STARTTLS },
		{ "LOGINDISABLED", IMAP_CAP_LOGINDISABLED },
		{ "AUTH=PLAIN", IMAP_CAP_AUTH_PLAIN },
		{ "AUTH=XOAUTH2", IMAP_CAP_AUTH_XOAUTH2 },
		{ "SASL-IR", IMAP_CAP_SASL_IR },
		{ "IDLE", IMAP_CAP_IDLE },
		{ "UIDPLUS", IMAP_CAP_UIDPLUS },
		{ "MOVE", IMAP_CAP_MOVE },
		{ "CONDSTORE", IMAP_CAP_CONDSTORE },
		{ "QRESYNC", IMAP_CAP_QRESYNC },
		{ "ENABLE", IMAP_CAP_ENABLE },
		{ "LITERAL+", IMAP_CAP_LITERALPLUS },
		{ "LITERAL-", IMAP_CAP_LITERALPLUS },
		{ "ID", IMAP_CAP_ID }
	};

	return imap_lookup(caps, sizeof caps / sizeof caps[0], w, n);
}

/* The capabilities of the atoms from first on. */
unsigned
imap_caps_items(const struct imap_item *first)
{
	unsigned	 caps = 0;

	for (; first != NULL; first = first->next)
		if (first->kind == IMAP_ATOM)
			caps |= imap_cap_word(first->s, first->len);
	return caps;
}

/* The capabilities of the words of s, separated by spaces. */
unsigned
imap_caps_text(const char *s)
{
	unsigned	 caps = 0;
	size_t		 n;

	while (*s != '\0') {
		n = strcspn(s, " ");
		caps |= imap_cap_word(s, n);
		s += n;
		s += strspn(s, " ");
	}
	return caps;
}

/*
 * Quote s[0..len) for a command. A quoted string holds 7-bit text without
 * CR, LF or NUL (RFC 9051 QUOTED-CHAR; 8-bit only with UTF8=ACCEPT, which
 * a literal works without); the rest, and long strings, go as literals.
 */
long
imap_quote(char *dst, size_t size, const char *s, size_t len)
{
	size_t	 i, n = 2;

	if (len > IMAP_QUOTE_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n' ||
		    (unsigned char)s[i] >= 0x80)
			return 0;
		n += s[i] == '"' || s[i] == '\\' ? 2 : 1;
	}
	if (n >= size)
		return -1;
	*dst++ = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*dst++ = '\\';
		*dst++ = s[i];
	}
	*dst++ = '"';
	*dst = '\0';
	return n;
}

/* Modified base64 (RFC 3501 5.1.3): "," where base64 has "/". */
static const char imap_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* The value of a modified base64 character, -1 for another. */
static int
imap_b64_value(unsigned char c)
{
	const char	*q;

	if (c == '\0' || (q = strchr(imap_b64, c)) == NULL)
		return -1;
	return q - imap_b64;
}

/* An output buffer that remembers running out. */
struct imap_out {
	char	*p;
	size_t	 size;
	size_t	 n;
	int	 full;
};

/* Append s[0..len) to o. */
static void
imap_out_put(struct imap_out *o, const char *s, size_t len)
{
	if (o->full || len >= o->size - o->n) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->n, s, len);
	o->n += len;
}

/* End o with a NUL: its length, or -1 when it did not fit. */
static long
imap_out_end(struct imap_out *o)
{
	if (o->full || o->size == 0)
		return -1;
	o->p[o->n] = '\0';
	return o->n;
}

/* Append the UTF-16 unit u as modified base64, keeping partial bits. */
static void
imap_b64_unit(struct imap_out *o, unsigned u, uint32_t *bits, int *nbits)
{
	*bits = (*bits << 16) | u;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		imap_out_put(o, &imap_b64[(*bits >> *nbits) & 0x3f], 1);
	}
	*bits &= (1u << *nbits) - 1;
}

/*
 * Encode a UTF-8 mailbox name. Printable ASCII stands for itself ("&" as
 * "&-"); each run of other characters is one shift "&...-" of UTF-16
 * (surrogate pairs past U+FFFF) in modified base64, its last bits padded
 * with zeros: the one canonical form, which the decoder insists on.
 */
long
imap_mutf7_encode(char *dst, size_t size, const char *utf8)
{
	struct imap_out		 o = { dst, size, 0, 0 };
	const unsigned char	*s = (const unsigned char *)utf8;
	size_t			 len = strlen(utf8), i = 0, n;
	uint32_t		 c, bits = 0;
	int			 nbits = 0, shifted = 0;
	char			 ascii;

	while (i < len) {
		if ((n = utf8_decode(s + i, len - i, &c)) == 0)
			return -1;
		i += n;
		if (c >= 0x20 && c <= 0x7e) {
			if (shifted) {
				if (nbits > 0)
					imap_out_put(&o, &imap_b64[(bits <<
					    (6 - nbits)) & 0x3f], 1);
				imap_out_put(&o, "-", 1);
				shifted = 0;
				bits = nbits = 0;
			}
			ascii = c;
			imap_out_put(&o, c == '&' ? "&-" : &ascii,
			    c == '&' ? 2 : 1);
			continue;
		}
		if (!shifted) {
			imap_out_put(&o, "&", 1);
			shifted = 1;
		}
		if (c >= 0x10000) {
			c -= 0x10000;
			imap_b64_unit(&o, 0xd800 | (c >> 10), &bits, &nbits);
			imap_b64_unit(&o, 0xdc00 | (c & 0x3ff), &bits, &nbits);
		} else
			imap_b64_unit(&o, c, &bits, &nbits);
	}
	if (shifted) {
		if (nbits > 0)
			imap_out_put(&o, &imap_b64[(bits << (6 - nbits)) &
			    0x3f], 1);
		imap_out_put(&o, "-", 1);
	}
	return imap_out_end(&o);
}

/*
 * Decode one shift of a mailbox name: the base64 at w[*i] up to its "-",
 * as UTF-8 into o. Refused: a shift not closed, a character not of
 * modified base64, bits left over that are not zero padding (another
 * encoder's form, not the canonical one), an unpaired surrogate, and a
 * printable ASCII character or NUL, which must not be encoded.
 */
static int
imap_mutf7_shift(struct imap_out *o, const char *w, size_t *i)
{
	uint32_t	 bits = 0, hi = 0, c;
	int		 nbits = 0, v;
	size_t		 j;
	char		 u[4];

	for (j = *i; w[j] != '-'; j++) {
		if ((v = imap_b64_value(w[j])) < 0)
			return -1;
		bits = (bits << 6) | v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		c = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (hi != 0) {
			if (c < 0xdc00 || c > 0xdfff)
				return -1;
			c = 0x10000 + ((hi - 0xd800) << 10) + (c - 0xdc00);
			hi = 0;
		} else if (c >= 0xd800 && c <= 0xdbff) {
			hi = c;
			continue;
		} else if (c >= 0xdc00 && c <= 0xdfff)
			return -1;
		if (c == 0 || (c >= 0x20 && c <= 0x7e))
			return -1;
		imap_out_put(o, u, utf8_encode(c, u));
	}
	if (j == *i || hi != 0 || nbits >= 6 || bits != 0)
		return -1;
	*i = j + 1;
	return 0;
}

/* Decode a mailbox name of the wire into UTF-8. */
long
imap_mutf7_decode(char *dst, size_t size, const char *wire)
{
	struct imap_out	 o = { dst, size, 0, 0 };
	size_t		 i = 0;

	while (wire[i] != '\0') {
		if ((unsigned char)wire[i] < 0x20 ||
		    (unsigned char)wire[i] > 0x7e)
			return -1;
		if (wire[i] != '&') {
			imap_out_put(&o, wire + i++, 1);
			continue;
		}
		if (wire[++i] == '-') {
			imap_out_put(&o, "&", 1);
			i++;
		} else if (imap_mutf7_shift(&o, wire, &i) != 0)
			return -1;
	}
	return imap_out_end(&o);
}
