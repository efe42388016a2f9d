/*
 * Fuzz target: the search query language (daemon/query.c) on text from a
 * user. Each input is parsed; a refused one must say why. An accepted one
 * is compiled both ways (key named for the FTS5 table and for messages)
 * and checked: the WHERE fragment is made only of our own SQL (the user's
 * text goes in binds: one ? per bind, no quote but the flag literals),
 * and the MATCH expression quotes every word (its quotes pair up, and its
 * parentheses balance outside quoted strings). The input also goes through
 * query_cjk_spaced: the result is the input plus spaces.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/query.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Abort with a message: the fuzzer reports it as a crash. */
static void
fail(const char *what, const char *text)
{
	fprintf(stderr, "fuzz-query: %s: %s\n", what, text);
	abort();
}

/* Check a WHERE fragment: our SQL only, one ? per bind. */
static void
check_where(const struct query_sql *qs)
{
	const char	*p;
	size_t		 marks = 0;

	for (p = qs->where; *p != '\0'; p++) {
		if (*p == '?')
			marks++;
		else if (*p == '\'') {
			/* Only the flag letters of is: are literals. */
			if (p[1] == '\0' || strchr("SFRP", p[1]) == NULL ||
			    p[2] != '\'')
				fail("a quote in the SQL", qs->where);
			p += 2;
		}
		else if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_ .()=<>,'", *p) == NULL)
			fail("a character the compiler does not write",
			    qs->where);
	}
	if (marks != qs->nbinds)
		fail("binds and ? differ", qs->where);
}

/* Check an FTS5 expression: quotes pair up, parentheses balance. */
static void
check_match(const char *m)
{
	const char	*p;
	int		 in = 0, depth = 0;

	for (p = m; *p != '\0'; p++) {
		if (*p == '"') {
			if (in && p[1] == '"')
				p++;
			else
				in = !in;
			continue;
		}
		if (in)
			continue;
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			fail("unbalanced parentheses", m);
		else if (strchr("( )*:ANDORTabcdefghijklmnopqrstuvwxyz_",
		    *p) == NULL)
			fail("text outside quotes", m);
	}
	if (in || depth != 0)
		fail("unbalanced quotes or parentheses", m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct query	*q;
	struct query_sql qs;
	char		*text, *cause = NULL, *sp;
	size_t		 n, i, j;

	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	if ((q = query_parse(text, &cause)) == NULL) {
		if (cause == NULL || *cause == '\0')
			fail("refused without a reason", text);
		free(cause);
	} else {
		query_compile(q, "search.rowid", &qs);
		check_where(&qs);
		if (qs.match != NULL)
			check_match(qs.match);
		query_sql_free(&qs);
		query_compile(q, "m.search_key", &qs);
		check_where(&qs);
		query_sql_free(&qs);
		query_free(q);
	}
	n = strlen(text);
	if ((sp = query_cjk_spaced(text, n, &i)) != NULL) {
		/* Take the spaces out: the input is left. */
		for (i = j = 0; sp[i] != '\0'; i++)
			if (sp[i] != ' ' || (j < n && text[j] == ' '))
				sp[j++] = sp[i];
		if (j < n || memcmp(sp, text, n) != 0)
			fail("spacing changed the text", text);
		free(sp);
	}
	free(text);
	return 0;
}
