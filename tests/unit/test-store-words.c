/*
 * Unit test of the search index's words (daemon/store-words.c) on an
 * index of the store's schema: the words of a message go in folded as the
 * index folds them, once each; a rolled-back transaction leaves none and
 * does not keep the writer's cache from putting them in again; a word
 * over 64 bytes is kept cut; a prefix becomes an OR of its words only
 * when it has 1 to 64 of them, none of them cut.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "daemon/query.h"
#include "daemon/store-int.h"
#include "tap.h"

static sqlite3	*db;

/* One value of a query on the test index, as an integer. */
static long long
num(const char *sql)
{
	sqlite3_stmt	*s;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Add the words of two texts in a transaction ending with end. */
static int
add(struct store *st, const char *a, const char *b, const char *end)
{
	char	*col[2] = { (char *)a, (char *)b }, *cause = NULL;
	size_t	 len[2] = { strlen(a), strlen(b) };
	int	 rc;

	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if ((rc = store_words_add(st, db, col, len, 2, &cause)) != 0)
		printf("# store_words_add: %s\n", cause);
	free(cause);
	sqlite3_exec(db, end, NULL, NULL, NULL);
	return rc;
}

/* Check what a query compiles to once its prefixes are expanded. */
static void
expands(const char *text, const char *match)
{
	struct query	*q;
	struct query_sql qs;
	char		*cause = NULL;

	if ((q = query_parse(text, &cause)) == NULL) {
		ok(0, "%s parses (%s)", text, cause);
		free(cause);
		return;
	}
	store_words_expand(db, q);
	query_compile(q, "K", &qs);
	ok(qs.match != NULL && strcmp(qs.match, match) == 0,
	    "%s is searched as %s (got %s)", text, match,
	    qs.match ? qs.match : "NULL");
	query_sql_free(&qs);
	query_free(q);
}

int
main(void)
{
	struct store	*st = xcalloc(1, sizeof *st);
	char		 sql[256], *cause = NULL;
	size_t		 i;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    store_migrate(db, &cause) != 0) {
		printf("Bail out! %s\n", cause ? cause : "no index");
		return 1;
	}
	ok(num("PRAGMA user_version") == 10, "the index is at version 10");

	ok(add(st, "Schedule the meeting", "Ärger im Büro, SCHEDULE",
	    "ROLLBACK") == 0, "words added in a transaction rolled back");
	ok(num("SELECT count(*) FROM search_words") == 0,
	    "the rollback leaves no word");
	ok(add(st, "Schedule the meeting", "Ärger im Büro, SCHEDULE",
	    "COMMIT") == 0, "the same words added again and committed");
	ok(num("SELECT count(*) FROM search_words") == 6,
	    "six words, each once, though the cache saw them before (%lld)",
	    num("SELECT count(*) FROM search_words"));
	ok(num("SELECT count(*) FROM search_words WHERE word IN ('schedule', "
	    "'the', 'meeting', 'arger', 'im', 'buro')") == 6,
	    "folded as the index folds them (case, accents)");

	ok(add(st, "zyzzogeton" "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
	    "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "", "COMMIT") == 0,
	    "a word of 100 bytes");
	ok(num("SELECT length(word) FROM search_words WHERE word >= 'zyzz' "
	    "AND word < 'zyz{'") == 64, "is kept cut to 64 bytes");

	/* 65 words beginning with "w". */
	for (i = 0; i < 65; i++) {
		snprintf(sql, sizeof sql, "INSERT INTO search_words VALUES "
		    "('w%03zu')", i);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}

	expands("sched*", "(\"schedule\")");
	expands("SCHÉD*", "(\"schedule\")");
	expands("subject:me*", "subject : (\"meeting\")");
	expands("b* -a*", "(((\"buro\")) NOT (\"arger\"))");
	expands("zyzzo*", "\"zyzzo\" *");
	expands("w0*", "\"w0\" *");
	expands("w06*", "(\"w060\" OR \"w061\" OR \"w062\" OR \"w063\" OR "
	    "\"w064\")");
	expands("nothing*", "\"nothing\" *");
	expands("foo-bar*", "\"foo-bar\" *");
	expands("東京*", "\"東 京 \" *");

	store_words_free(st->words);
	free(st);
	sqlite3_close(db);
	return tap_done();
}
