/*
 * The IMAP wire format (RFC 9051, RFC 3501), as pure functions without I/O
 * so they can be unit tested and fuzzed: a server response parsed into a
 * tree of items, one line at a time, with the literals that lines announce
 * ("{n}" at a line's end) either handed in whole (small ones) or streamed
 * elsewhere by the caller (a message body) and left in the tree as a
 * placeholder; the response codes of status responses; capabilities;
 * strings quoted for commands; modified UTF-7 mailbox names.
 *
 * Every size a server controls is bounded here: the depth of lists, the
 * items of one response, the bytes of the literals kept in memory. A
 * response that breaks a bound or the grammar is an error with a message
 * a person understands; the parser then needs imap_parser_reset().
 */
#ifndef MAILCTL_IMAP_WIRE_H
#define MAILCTL_IMAP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_DEPTH_MAX		16	/* nested lists of one response */
#define IMAP_ITEMS_MAX		20000	/* items of one response */
#define IMAP_KEPT_MAX		(1024 * 1024)	/* literal bytes kept in memory,
						   per response */
#define IMAP_LINES_MAX		(4 * 1024 * 1024) /* bytes of the lines of
						   one response */

enum imap_kind {
	IMAP_ATOM,	/* also numbers, flags (\Seen), BODY[...]<n> */
	IMAP_STRING,	/* quoted or literal, unquoted; may hold NULs */
	IMAP_NIL,
	IMAP_LIST,	/* ( ... ); items in child */
	IMAP_STREAMED	/* a literal the caller took elsewhere; len = size */
};

struct imap_item {
	enum imap_kind	 kind;
	char		*s;		/* NUL-terminated (atoms, strings);
					   NULL for NIL, lists, streamed */
	size_t		 len;
	struct imap_item *child;	/* first item of a list */
	struct imap_item *next;		/* next item at this depth */
};

enum imap_resp_type {
	IMAP_TAGGED,		/* "A1 OK ..." */
	IMAP_UNTAGGED,		/* "* ..." */
	IMAP_CONTINUE		/* "+ ..." */
};

enum imap_status {
	IMAP_ST_NONE,		/* not a status response: "* 3 EXISTS" */
	IMAP_ST_OK, IMAP_ST_NO, IMAP_ST_BAD, IMAP_ST_BYE, IMAP_ST_PREAUTH
};

/*
 * One parsed response.
 *  - tag: the tag of a tagged response, else NULL.
 *  - status: OK/NO/BAD/BYE/PREAUTH of a status response (tagged, or
 *    untagged "* OK ..."). Its optional response code "[CODE args]" is in
 *    code (the atom, upper-cased) and code_args (the rest up to "]", raw,
 *    NUL-terminated, or NULL), the human text after it in text.
 *  - number: for "* N WORD ..." (EXISTS, EXPUNGE, FETCH, RECENT) N and
 *    has_number; the word is then items' first atom.
 *  - items: the response's data after the tag (and after N), as a list:
 *    "* CAPABILITY IMAP4rev1 IDLE" gives atoms CAPABILITY, IMAP4rev1,
 *    IDLE; "* 5 FETCH (UID 9 FLAGS (\Seen))" gives number 5, then atom
 *    FETCH and a list. Status responses have no items.
 *  - text: for a continuation, the text after "+ " (may be empty).
 */
struct imap_resp {
	enum imap_resp_type type;
	char		*tag;
	enum imap_status status;
	char		*code;
	char		*code_args;
	char		*text;		/* "" when none; NULL but for status
					   and continuation responses */
	int		 has_number;
	uint32_t	 number;
	struct imap_item *items;
};

/* What imap_parse_line() and imap_parse_literal() say. */
enum imap_parse_result {
	IMAP_PARSE_ERROR = -1,
	IMAP_PARSE_DONE = 0,	/* resp complete: read it, then reset */
	IMAP_PARSE_LITERAL = 1	/* a literal of literal_len bytes comes next */
};

struct imap_parser;

/* NULL when out of memory. */
struct imap_parser *imap_parser_new(void);
void	imap_parser_free(struct imap_parser *);
/* Forget the response being built (after DONE or an error). */
void	imap_parser_reset(struct imap_parser *);

/*
 * Feed one line of the response, without its CRLF (the caller's line
 * reader bounds its length). The first line starts a response; after
 * IMAP_PARSE_LITERAL and the literal, the next line continues it.
 */
enum imap_parse_result imap_parse_line(struct imap_parser *,
	    const char *line, size_t len);

/* After IMAP_PARSE_LITERAL: the size announced ({n} or {n+}). */
uint64_t imap_parse_literal_len(const struct imap_parser *);

/*
 * The item just before the announced literal at the same depth, or NULL
 * (so a caller can tell "BODY[] {n}" in a FETCH list and stream it).
 */
const struct imap_item *imap_parse_literal_key(const struct imap_parser *);

/*
 * After IMAP_PARSE_LITERAL: hand the literal's bytes in whole (kept as a
 * string; error when the kept total would pass IMAP_KEPT_MAX), or say the
 * caller took them elsewhere (an IMAP_STREAMED item of that length).
 * Either returns 0, or -1 (an error, as after IMAP_PARSE_ERROR); the
 * caller then feeds the line that continues the response with
 * imap_parse_line().
 */
int	imap_parse_literal(struct imap_parser *, const char *, size_t);
int	imap_parse_literal_streamed(struct imap_parser *);

/* After DONE: the response (owned by the parser until reset), else NULL. */
const struct imap_resp *imap_parse_resp(const struct imap_parser *);

/*
 * After ERROR: why, for a log line ("list nesting deeper than 16"); NULL
 * when the parser has not failed.
 */
const char *imap_parse_error(const struct imap_parser *);

/*
 * Items: the n-th (0-based) counting from first along next (pass
 * resp->items, or a list's child), or NULL; whether an item is the atom
 * given, ignoring case (NULL, strings and NIL are not atoms).
 */
const struct imap_item *imap_item_nth(const struct imap_item *first,
	    unsigned n);
int	imap_item_is(const struct imap_item *, const char *atom);
/*
 * An atom that is a number (RFC 9051 number / number64: digits only, no
 * sign, at most 2^64 - 1) into *v: 0, or -1 for anything else.
 */
int	imap_item_number(const struct imap_item *, uint64_t *v);

/*
 * In a FETCH response's list "(KEY value KEY value ...)" (the IMAP_LIST
 * item itself): the value of KEY (case-insensitive, the whole atom:
 * "BODY[]", "BODY[HEADER.FIELDS (FROM)]"), or NULL.
 */
const struct imap_item *imap_fetch_get(const struct imap_item *list,
	    const char *key);

/* Capabilities, from a CAPABILITY response or response code. */
#define IMAP_CAP_IMAP4REV1	0x0001
#define IMAP_CAP_IMAP4REV2	0x0002
#define IMAP_CAP_STARTTLS	0x0004
#define IMAP_CAP_LOGINDISABLED	0x0008
#define IMAP_CAP_AUTH_PLAIN	0x0010
#define IMAP_CAP_AUTH_XOAUTH2	0x0020
#define IMAP_CAP_SASL_IR	0x0040
#define IMAP_CAP_IDLE		0x0080
#define IMAP_CAP_UIDPLUS	0x0100
#define IMAP_CAP_MOVE		0x0200
#define IMAP_CAP_CONDSTORE	0x0400
#define IMAP_CAP_QRESYNC	0x0800
#define IMAP_CAP_ENABLE		0x1000
#define IMAP_CAP_LITERALPLUS	0x2000	/* LITERAL+ or LITERAL- */
#define IMAP_CAP_ID		0x4000

/*
 * From the atoms after "CAPABILITY" (items list or code_args text);
 * unknown words, the word CAPABILITY itself included, count for nothing.
 */
unsigned imap_caps_items(const struct imap_item *first);
unsigned imap_caps_text(const char *);

/*
 * A string for a command argument: written to dst (size bytes) as a quoted
 * string when it can be one ("..." with \" and \\, NUL-terminated), else
 * the caller must send a literal: returns the length written, 0 when a
 * literal is needed (CR, LF, NUL or 8-bit bytes, or longer than 1000), -1
 * when dst is too small.
 */
long	imap_quote(char *dst, size_t size, const char *s, size_t len);

/*
 * Mailbox names (RFC 3501 5.1.3, modified UTF-7): UTF-8 to the wire form
 * and back. Return the length written (NUL-terminated), -1 on invalid
 * input (bad UTF-8, bad base64 or padding bits that are not zero, a shift
 * that is not closed, an encoded printable ASCII or NUL, an unpaired
 * surrogate, a raw byte outside 0x20-0x7e on the wire) or dst too small.
 * A name decoded and encoded again is the same but where two shifts
 * followed each other ("&AOQ-&APY-" comes back as "&AOQA9g-").
 */
long	imap_mutf7_encode(char *dst, size_t size, const char *utf8);
long	imap_mutf7_decode(char *dst, size_t size, const char *wire);

#endif
