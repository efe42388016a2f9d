/*
 * The search query language of DESIGN.md, as pure functions so it can be
 * unit tested and fuzzed: a query is parsed into a tree and compiled into
 * an SQLite FTS5 MATCH expression (the parts that are pure text) and an
 * SQL WHERE fragment with ? parameters (the rest), for store-search.c.
 *
 *   query   := or
 *   or      := and ("OR" and)*
 *   and     := unary (["AND"] unary)*          implicit AND
 *   unary   := ("NOT" | "-") unary | "(" or ")" | term
 *   term    := word | word* | "a phrase" | field:value
 *   field   := from to cc subject body          (text in that column)
 *            | folder account                   (names, exact, any case)
 *            | is (unread read flagged replied forwarded)
 *            | has (attachment)
 *            | date (A..B, A.., ..B, A) before after
 *   date    := YYYY | YYYY-MM | YYYY-MM-DD      (local time)
 *
 * Every word of the user's is quoted for FTS5, so FTS5's own syntax in a
 * query is only ever text. Ideographs, kana and hangul become one token
 * each (query_cjk_spaced, used on indexed text too): a CJK word is then a
 * phrase of its characters. Dates select a range of the search key, which
 * is the message's date in seconds times QUERY_KEY_SCALE.
 *
 * A prefix (word*) is FTS5's prefix query unless the store gives it the
 * index's words it stands for (query_prefixes, query_expand): then it is
 * an OR of those words, which FTS5 reads newest first and only as far as
 * the limit, where its own prefix query merges the lists of messages of
 * every such word before the first row comes out.
 *
 * Bounds: QUERY_LEN_MAX bytes of query, QUERY_TERMS_MAX terms, nesting
 * (parentheses and NOT) QUERY_DEPTH_MAX deep. A query that breaks one or
 * the grammar is an error naming the term and its column (1-based, in
 * characters).
 */
#ifndef MAILCTL_QUERY_H
#define MAILCTL_QUERY_H

#include <stddef.h>
#include <time.h>

#define QUERY_LEN_MAX	4096
#define QUERY_TERMS_MAX	64
#define QUERY_DEPTH_MAX	16
#define QUERY_KEY_SHIFT	20	/* key = seconds << 20 | low bits */

struct query;

/* A value for one ? of query_sql.where, in order. */
struct query_bind {
	const char	*text;		/* NULL: num */
	long long	 num;
};

/*
 * A compiled query: match (NULL: no text to drive the search) and where
 * (never NULL; "1" when nothing) with its binds. The strings are owned.
 */
struct query_sql {
	char		*match;
	char		*where;
	struct query_bind *binds;
	size_t		 nbinds;
	char		**texts;	/* the binds' strings */
	size_t		 ntexts;
};

struct query	*query_parse(const char *text, char **cause);
void		 query_free(struct query *);
void		 query_compile(const struct query *, const char *key,
		    struct query_sql *);
void		 query_sql_free(struct query_sql *);
size_t		 query_prefixes(struct query *, struct query **, size_t max);
const char	*query_value(const struct query *);
void		 query_expand(struct query *, char *const *words, size_t n);
char		*query_cjk_spaced(const char *, size_t len, size_t *outlen);
int		 query_date(const char *, size_t len, time_t *start,
		    time_t *end);

#endif
