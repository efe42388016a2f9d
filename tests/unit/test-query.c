/*
 * Unit tests of the search query language (daemon/query.c): what each
 * term compiles to (the FTS5 expression and the SQL with its binds),
 * precedence of NOT, AND, OR and parentheses, how text and attribute
 * terms mix, dates as key ranges (in UTC here), CJK spacing, the errors
 * and the bounds. Every compiled query, including hostile ones, is also
 * run against an in-memory SQLite with the store's search tables: FTS5
 * syntax in a query must never reach FTS5 as syntax.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "daemon/query.h"
#include "tap.h"

static sqlite3	*db;

/* The store's search tables, with three messages. */
static void
setup(void)
{
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || sqlite3_exec(db,
	    "CREATE TABLE messages (id INTEGER PRIMARY KEY, account TEXT, "
	    "folder TEXT, flags TEXT, attachments INTEGER, search_key INTEGER);"
	    "CREATE TABLE search_text (key INTEGER PRIMARY KEY, from_text, "
	    "to_text, cc_text, subject, body, names);"
	    "CREATE VIRTUAL TABLE search USING fts5 (from_text, to_text, "
	    "cc_text, subject, body, names, content='search_text', "
	    "content_rowid='key', tokenize='unicode61 remove_diacritics 2');"
	    "INSERT INTO search_text VALUES (1048576, 'Alice <alice@x.test>', "
	    "'bob@x.test', '', 'Invoice March', 'pay the invoice, café', '');"
	    "INSERT INTO search_text VALUES (2097152, 'Bob <bob@x.test>', "
	    "'alice@x.test', '', 'Lunch', '東 京 lunch \"quoted\" NEAR AND', "
	    "'plan.pdf');"
	    "INSERT INTO search_text VALUES (3145728, 'Carol', '', 'dan', "
	    "'Hi', 'nothing', '');"
	    "INSERT INTO search (search) VALUES ('rebuild');"
	    "INSERT INTO messages VALUES (1, 'a', 'Inbox', 'S', 0, 1048576),"
	    " (2, 'a', 'Work', '', 1, 2097152), (3, 'b', 'Inbox', 'RF', 0, "
	    "3145728);", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "setup: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
}

/*
 * Run a query against the test database: the ids it finds as "1,2" in
 * buf, or the error ("ERR: ...").
 */
static const char *
run(const char *text, char *const *words, size_t nwords, char *buf,
    size_t size)
{
	struct query	*q, *pre[QUERY_TERMS_MAX];
	struct query_sql qs;
	sqlite3_stmt	*s;
	char		*cause = NULL, sql[8192];
	size_t		 i, len = 0, np;
	int		 n = 0, rc;

	if ((q = query_parse(text, &cause)) == NULL) {
		snprintf(buf, size, "ERR: %s", cause);
		free(cause);
		return buf;
	}
	np = query_prefixes(q, pre, QUERY_TERMS_MAX);
	for (i = 0; i < np && words != NULL; i++)
		query_expand(pre[i], words, nwords);
	query_compile(q, "search.rowid", &qs);
	if (qs.match == NULL) {
		query_sql_free(&qs);
		query_compile(q, "m.search_key", &qs);
	}
	query_free(q);
	if (qs.match != NULL)
		snprintf(sql, sizeof sql, "SELECT m.id FROM search CROSS JOIN "
		    "messages m ON m.search_key = search.rowid WHERE search "
		    "MATCH ? AND (%s) ORDER BY search.rowid DESC", qs.where);
	else
		snprintf(sql, sizeof sql, "SELECT m.id FROM messages m WHERE %s "
		    "ORDER BY m.search_key DESC", qs.where);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(buf, size, "SQL: %s", sqlite3_errmsg(db));
		query_sql_free(&qs);
		return buf;
	}
	if (qs.match != NULL)
		sqlite3_bind_text(s, ++n, qs.match, -1, SQLITE_STATIC);
	for (i = 0; i < qs.nbinds; i++) {
		if (qs.binds[i].text != NULL)
			sqlite3_bind_text(s, ++n, qs.binds[i].text, -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_int64(s, ++n, qs.binds[i].num);
	}
	buf[0] = '\0';
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		len += snprintf(buf + len, size - len, "%s%lld", len ? "," : "",
		    (long long)sqlite3_column_int64(s, 0));
	if (rc != SQLITE_DONE)
		snprintf(buf, size, "SQL: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	query_sql_free(&qs);
	return buf;
}

/* Check that a query finds exactly want (ids newest first, or an error). */
static void
finds(const char *text, const char *want)
{
	char	 buf[1024];

	run(text, NULL, 0, buf, sizeof buf);
	ok(strcmp(buf, want) == 0, "%s -> %s (got %s)", text, want, buf);
}

/*
 * Check that a query whose prefixes each stand for the n words given
 * (query_expand, as store-words.c does) has nprefix prefixes, compiles to
 * match and finds want.
 */
static void
expands(const char *text, size_t nprefix, char *const *words, size_t n,
    const char *match, const char *want)
{
	struct query	*q, *pre[QUERY_TERMS_MAX];
	struct query_sql qs;
	char		*cause = NULL, buf[1024];
	size_t		 i, np;

	if ((q = query_parse(text, &cause)) == NULL) {
		ok(0, "%s parses (%s)", text, cause);
		free(cause);
		return;
	}
	np = query_prefixes(q, pre, QUERY_TERMS_MAX);
	ok(np == nprefix, "%s has %zu prefixes (%zu)", text, nprefix, np);
	for (i = 0; i < np; i++)
		query_expand(pre[i], words, n);
	query_compile(q, "K", &qs);
	ok(qs.match != NULL && strcmp(qs.match, match) == 0,
	    "%s expanded compiles to %s (got %s)", text, match,
	    qs.match ? qs.match : "NULL");
	query_sql_free(&qs);
	query_free(q);
	run(text, words, n, buf, sizeof buf);
	ok(strcmp(buf, want) == 0, "%s expanded -> %s (got %s)", text, want,
	    buf);
}

/* Check what a query compiles to. */
static void
compiles(const char *text, const char *match, const char *where)
{
	struct query	*q;
	struct query_sql qs;
	char		*cause = NULL;

	if ((q = query_parse(text, &cause)) == NULL) {
		ok(0, "%s compiles (%s)", text, cause);
		free(cause);
		return;
	}
	query_compile(q, "K", &qs);
	ok((match == NULL ? qs.match == NULL : qs.match != NULL &&
	    strcmp(qs.match, match) == 0) && strcmp(qs.where, where) == 0,
	    "%s compiles to match %s where %s (got %s / %s)", text,
	    match ? match : "NULL", where, qs.match ? qs.match : "NULL",
	    qs.where);
	query_sql_free(&qs);
	query_free(q);
}

/* Check that a query fails with this message. */
static void
fails(const char *text, const char *want)
{
	struct query	*q;
	char		*cause = NULL;

	q = query_parse(text, &cause);
	ok(q == NULL && cause != NULL && strcmp(cause, want) == 0,
	    "%.60s fails: %s (got %s)", text, want, cause ? cause : "a query");
	query_free(q);
	free(cause);
}

int
main(void)
{
	char	 big[QUERY_LEN_MAX + 16], *sp;
	time_t	 a, b;
	size_t	 i, n;

	setenv("TZ", "UTC", 1);
	setup();

	/* What terms compile to. */
	compiles("invoice", "\"invoice\"", "1");
	compiles("inv*", "\"inv\" *", "1");
	compiles("\"pay the\"", "\"pay the\"", "1");
	compiles("from:alice@x.test", "from_text : \"alice@x.test\"", "1");
	compiles("a b", "(\"a\" AND \"b\")", "1");
	compiles("a AND b", "(\"a\" AND \"b\")", "1");
	compiles("a OR b c", "(\"a\" OR (\"b\" AND \"c\"))", "1");
	compiles("(a OR b) c", "((\"a\" OR \"b\") AND \"c\")", "1");
	compiles("a -b", "((\"a\") NOT \"b\")", "1");
	compiles("-a", NULL, "NOT K IN (SELECT rowid FROM search WHERE search "
	    "MATCH ?)");
	compiles("a is:unread", "(\"a\")", "instr(m.flags, 'S') = 0");
	compiles("a folder:Inbox -has:attachment", "(\"a\")",
	    "m.folder = ? COLLATE NOCASE AND NOT m.attachments > 0");
	compiles("a OR is:flagged", NULL, "(K IN (SELECT rowid FROM search "
	    "WHERE search MATCH ?) OR instr(m.flags, 'F') > 0)");
	compiles("date:2026", NULL, "(K >= ? AND K < ?)");
	fails("say \"\"\"hi\"", "nothing to search for in '\"\"' at column 5");
	compiles("\"a\"\"b\"", "(\"a\" AND \"b\")", "1");
	compiles("東京", "\"東 京 \"", "1");
	compiles("x\"NEAR(a b)\"", "(\"x\" AND \"NEAR(a b)\")", "1");

	/* What they find. */
	finds("invoice", "1");
	finds("INVOICE", "1");
	finds("CAFE", "1");
	finds("café", "1");
	finds("inv*", "1");
	finds("\"pay the invoice\"", "1");
	finds("\"the pay\"", "");

	/* A prefix given the words it stands for: an OR of them. */
	{
		char	*inv[] = { "invoice", "invent" };
		char	*lu[] = { "lunch" };
		char	*q[] = { "a\"b" };

		expands("inv*", 1, inv, 2, "(\"invoice\" OR \"invent\")",
		    "1");
		expands("subject:lu*", 1, lu, 1, "subject : (\"lunch\")", "2");
		expands("lu* OR inv*", 2, lu, 1, "((\"lunch\") OR (\"lunch\"))",
		    "2");
		expands("-lu* pay", 1, lu, 1, "((\"pay\") NOT (\"lunch\"))",
		    "1");
		expands("lu* is:read", 1, lu, 1, "((\"lunch\"))", "");
		expands("x*", 1, q, 1, "(\"a\"\"b\")", "");
		expands("\"pay the\" inv*", 1, inv, 2,
		    "(\"pay the\" AND (\"invoice\" OR \"invent\"))", "1");
		expands("inv", 0, inv, 2, "\"inv\"", "");
	}
	finds("from:alice", "1");
	finds("to:alice", "2");
	finds("cc:dan", "3");
	finds("subject:lunch", "2");
	finds("body:lunch", "2");
	finds("body:march", "");
	finds("plan", "2");
	finds("東京", "2");
	finds("京", "2");
	finds("x.test", "2,1");
	finds("-invoice", "3,2");
	finds("NOT invoice", "3,2");
	finds("invoice OR lunch", "2,1");
	finds("x.test -lunch", "1");
	finds("(invoice OR lunch) -folder:work", "1");
	finds("is:unread", "3,2");
	finds("is:read", "1");
	finds("is:replied is:flagged", "3");
	finds("is:forwarded", "");
	finds("has:attachment", "2");
	finds("folder:INBOX", "3,1");
	finds("account:b", "3");
	finds("account:b OR invoice", "3,1");
	finds("-(account:b OR invoice)", "2");
	finds("date:1970-01-01", "3,2,1");
	finds("after:1970-01-01", "3,2,1");
	finds("before:1970", "");
	finds("date:..1970", "3,2,1");
	finds("date:1971..", "");
	/* FTS5 syntax in a query is text. */
	finds("NEAR", "2");
	finds("\"NEAR(a b)\"", "");
	finds("quoted", "2");
	finds("\"\"\"quoted\"\"\"", "ERR: nothing to search for in '\"\"' at column 1");
	finds("* ^a", "ERR: nothing to search for in '*' at column 1");
	finds("a:b", "ERR: unknown field 'a:' at column 1");
	finds("from_text:x", "");
	finds("{from_text}:x", "");
	finds("\"a\" : \"b\" AND", "ERR: nothing to search for in ':' at "
	    "column 5");
	finds("lunch +", "ERR: nothing to search for in '+' at column 7");
	finds("invoice^", "1");
	finds("\xff\xfe", "");

	/* Errors name the term. */
	fails("frm:alice", "unknown field 'frm:' at column 1");
	fails("a frm:alice", "unknown field 'frm:' at column 3");
	fails("é frm:alice", "unknown field 'frm:' at column 3");
	fails("after:2026-13-01", "bad date '2026-13-01' in 'after:2026-13-01' "
	    "at column 1");
	fails("date:2026-02-30", "bad date '2026-02-30' in 'date:2026-02-30' "
	    "at column 1");
	fails("date:2026..x", "bad date 'x' in 'date:2026..x' at column 1");
	fails("before:2026..2027", "bad date '2026..2027' in "
	    "'before:2026..2027' at column 1");
	fails("date:..", "expected a date (YYYY, YYYY-MM or YYYY-MM-DD) in "
	    "'date:..' at column 1");
	fails("is:new", "expected is:unread, is:read, is:flagged, is:replied "
	    "or is:forwarded, not 'is:new' at column 1");
	fails("has:pdf", "expected has:attachment, not 'has:pdf' at column 1");
	fails("from:", "nothing after the field in 'from:' at column 1");
	fails("(a", "unbalanced parenthesis at column 1");
	fails("a)", "unbalanced parenthesis at column 2");
	fails("()", "empty parentheses at column 1");
	fails("a OR", "OR needs a term on each side at column 3");
	fails("OR a", "OR needs a term on each side at column 1");
	fails("a OR OR b", "OR needs a term on each side at column 6");
	fails("a AND", "AND needs a term on each side at column 6");
	fails("NOT", "NOT needs a term after it at column 1");
	fails("a -", "nothing to search for in '-' at column 3");
	fails("\"abc", "unbalanced quote in '\"abc' at column 1");
	fails("", "empty query: give a word or a term");
	fails("   ", "empty query: give a word or a term");

	/* Bounds. */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	fails(big, "query too long (at most 4096 bytes)");
	for (i = 0, n = 0; i < QUERY_TERMS_MAX + 1; i++)
		n += snprintf(big + n, sizeof big - n, "w%zu ", i);
	fails(big, "too many terms (at most 64) at column 247");
	for (i = 0, n = 0; i < QUERY_DEPTH_MAX + 1; i++)
		big[n++] = '(';
	big[n++] = 'a';
	for (i = 0; i < QUERY_DEPTH_MAX + 1; i++)
		big[n++] = ')';
	big[n] = '\0';
	fails(big, "query nested too deeply (at most 16) at column 17");
	big[0] = ' ';
	big[n - 1] = '\0';
	big[n - 2] = '\0';
	big[n - QUERY_DEPTH_MAX - 2] = '\0';
	strcat(big, "invoice");
	for (i = 0; i < QUERY_DEPTH_MAX; i++)
		strcat(big, ")");
	finds(big, "1");
	for (i = 0, n = 0; i < QUERY_DEPTH_MAX; i++)
		n += snprintf(big + n, sizeof big - n, "NOT ");
	snprintf(big + n, sizeof big - n, "invoice");
	finds(big, "1");
	for (i = 0, n = 0; i < QUERY_DEPTH_MAX + 1; i++)
		n += snprintf(big + n, sizeof big - n, "NOT ");
	snprintf(big + n, sizeof big - n, "invoice");
	fails(big, "query nested too deeply (at most 16) at column 65");

	/* Dates (UTC here). */
	ok(query_date("2026", 4, &a, &b) == 0 && a == 1767225600 &&
	    b == 1798761600, "2026 is a year");
	ok(query_date("2024-02", 7, &a, &b) == 0 && a == 1706745600 &&
	    b == 1709251200, "2024-02 is a month");
	ok(query_date("2024-02-29", 10, &a, &b) == 0 && b - a == 86400,
	    "2024-02-29 is a day");
	ok(query_date("2023-02-29", 10, &a, &b) == -1 &&
	    query_date("2026-1-01", 9, &a, &b) == -1 &&
	    query_date("20x6", 4, &a, &b) == -1, "bad dates are refused");

	/* CJK spacing. */
	sp = query_cjk_spaced("ab東京cd", strlen("ab東京cd"), &n);
	ok(sp != NULL && strcmp(sp, "ab 東 京 cd") == 0 && n == strlen(sp),
	    "CJK characters are spaced out (%s)", sp ? sp : "NULL");
	free(sp);
	sp = query_cjk_spaced("café — ok", strlen("café — ok"), &n);
	ok(sp == NULL, "text without CJK is left as it is");
	sp = query_cjk_spaced("한국어", strlen("한국어"), &n);
	ok(sp != NULL && strcmp(sp, "한 국 어 ") == 0, "hangul too");
	free(sp);

	sqlite3_close(db);
	return tap_done();
}
