/*
 * store-words.c — the words of the search index, for prefix queries.
 *
 * FTS5 answers "sched*" by merging the lists of messages of every word
 * that begins so before it gives the first row: with ORDER BY ... LIMIT 50
 * over a big store that merge is the whole cost (10 ms and more over
 * 100,000 messages, where one word takes 0.1 ms). An OR of those words
 * is read newest first and only as far as the limit. FTS5 cannot say
 * cheaply which words those are (its fts5vocab table reads every word's
 * list to count it), so the index keeps them itself: search_words holds
 * every word the tokenizer made of an indexed message (schema version 9,
 * store-index.c), filled on the writer as each message is indexed
 * (store_words_add, from store_search_add) and, for an index from before,
 * once from fts5vocab at the upgrade. A word longer than WORDS_MAX bytes
 * is kept cut to WORDS_MAX bytes: a prefix that reaches one of those is
 * left to FTS5, so an expansion is never short of a word. Words of
 * messages gone stay (an OR of a word no message has costs nothing).
 *
 * On the reader, store_words_expand gives each prefix of a query the
 * words it stands for (query_expand), when there are at most WORDS_EXPAND.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "query.h"
#include "store.h"
#include "store-int.h"

#define WORDS_MAX	64	/* bytes of a word kept */
#define WORDS_EXPAND	64	/* words a prefix may stand for */
#define WORDS_CACHE	16384	/* words known to be in the table */
#define WORDS_CACHED	32	/* bytes (with the NUL) of a cached word */

/*
 * The writer's tokenizer and statement, made for one connection, and a
 * cache of words it put in the table: most words of a message are common
 * ones, and a word found here needs no INSERT (with it, indexing 100,000
 * messages took 57.5 s instead of 38.8 s without search_words). A
 * rollback empties it (a word it holds may not be in the table then).
 */
struct store_words {
	sqlite3		*db;
	sqlite3_stmt	*ins;
	fts5_tokenizer	 tok;
	Fts5Tokenizer	*t;
	char		 cache[WORDS_CACHE][WORDS_CACHED];
};

/* The distinct words of one message: NUL-separated in buf, hashed. */
struct words_set {
	char		*buf;
	size_t		 len, size;
	uint32_t	*slot;		/* offset in buf + 1, or 0 */
	size_t		 nslot, n;
};

/* The index's tokenizer, as the search table is made with. */
static const char *words_args[] = { "remove_diacritics", "2" };

/* Make a unicode61 tokenizer of the index's kind. */
static int
words_tokenizer(sqlite3 *db, fts5_tokenizer *tok, Fts5Tokenizer **t)
{
	fts5_api	*api;
	void		*ud;

	if ((api = store_fts5_api(db)) == NULL ||
	    api->xFindTokenizer(api, "unicode61", &ud, tok) != SQLITE_OK ||
	    tok->xCreate(ud, words_args, 2, t) != SQLITE_OK)
		return -1;
	return 0;
}

/* Free the writer's part (NULL is fine). */
void
store_words_free(struct store_words *w)
{
	if (w == NULL)
		return;
	if (w->db != NULL)
		sqlite3_rollback_hook(w->db, NULL, NULL);
	sqlite3_finalize(w->ins);
	if (w->t != NULL)
		w->tok.xDelete(w->t);
	free(w);
}

static uint32_t
words_hash(const char *p, size_t n)
{
	uint32_t	 h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 16777619u;
	return h;
}

/* Add a word to the set unless it is there. */
static void
words_set_add(struct words_set *ws, const char *p, size_t n)
{
	uint32_t	*old;
	size_t		 i, j, oldn;
	const char	*w;

	if (2 * (ws->n + 1) > ws->nslot) {
		old = ws->slot;
		oldn = ws->nslot;
		ws->nslot = oldn ? 2 * oldn : 256;
		ws->slot = xcalloc(ws->nslot, sizeof *ws->slot);
		for (i = 0; i < oldn; i++) {
			if (old[i] == 0)
				continue;
			w = ws->buf + old[i] - 1;
			j = words_hash(w, strlen(w)) & (ws->nslot - 1);
			while (ws->slot[j] != 0)
				j = (j + 1) & (ws->nslot - 1);
			ws->slot[j] = old[i];
		}
		free(old);
	}
	for (i = words_hash(p, n) & (ws->nslot - 1); ws->slot[i] != 0;
	    i = (i + 1) & (ws->nslot - 1)) {
		w = ws->buf + ws->slot[i] - 1;
		if (strncmp(w, p, n) == 0 && w[n] == '\0')
			return;
	}
	if (ws->len + n + 1 > ws->size) {
		ws->size = (ws->len + n + 1) * 2;
		ws->buf = xreallocarray(ws->buf, 1, ws->size);
	}
	memcpy(ws->buf + ws->len, p, n);
	ws->buf[ws->len + n] = '\0';
	ws->slot[i] = (uint32_t)ws->len + 1;
	ws->len += n + 1;
	ws->n++;
}

static int
words_token(void *arg, int tflags, const char *token, int len, int start,
    int end)
{
	(void)start;
	(void)end;
	if (len > 0 && !(tflags & FTS5_TOKEN_COLOCATED))
		words_set_add(arg, token, len < WORDS_MAX ? (size_t)len :
		    WORDS_MAX);
	return SQLITE_OK;
}

/* A transaction of the writer was rolled back: forget what was put. */
static void
words_rolled_back(void *arg)
{
	struct store_words	*w = arg;

	memset(w->cache, 0, sizeof w->cache);
}

/*
 * Record the words of a message's ncols texts (on the writer, inside the
 * caller's transaction). Return -1 with cause on failure.
 */
int
store_words_add(struct store *st, sqlite3 *db, char *const *col,
    const size_t *len, int ncols, char **cause)
{
	struct store_words	*w = st->words;
	struct words_set	 ws = { NULL, 0, 0, NULL, 0, 0 };
	const char		*word;
	char			*slot;
	size_t			 off, n;
	int			 i, rc = 0;

	if (w == NULL || w->db != db) {
		store_words_free(w);
		w = st->words = xcalloc(1, sizeof *w);
		if (store_prepare(db, "INSERT OR IGNORE INTO search_words "
		    "(word) VALUES (?)", &w->ins, cause) != 0)
			return -1;
		if (words_tokenizer(db, &w->tok, &w->t) != 0) {
			xasprintf(cause, "index: no unicode61 tokenizer");
			return -1;
		}
		sqlite3_rollback_hook(db, words_rolled_back, w);
		w->db = db;
	}
	for (i = 0; i < ncols; i++)
		if (len[i] > 0)
			w->tok.xTokenize(w->t, &ws, FTS5_TOKENIZE_DOCUMENT,
			    col[i], (int)len[i], words_token);
	for (off = 0; off < ws.len && rc == 0; off += n + 1) {
		word = ws.buf + off;
		n = strlen(word);
		slot = n < WORDS_CACHED ? w->cache[words_hash(word, n) %
		    WORDS_CACHE] : NULL;
		if (slot != NULL && strcmp(slot, word) == 0)
			continue;
		sqlite3_bind_text(w->ins, 1, word, (int)n, SQLITE_STATIC);
		if (sqlite3_step(w->ins) != SQLITE_DONE) {
			store_dberr(db, "search words", cause);
			rc = -1;
		} else if (slot != NULL)
			memcpy(slot, word, n + 1);
		sqlite3_reset(w->ins);
	}
	free(ws.buf);
	free(ws.slot);
	return rc;
}

/* The one word a prefix's text makes (the first token), or NULL. */
struct words_fold {
	char	*word;
	int	 n;
};

static int
words_fold_token(void *arg, int tflags, const char *token, int len,
    int start, int end)
{
	struct words_fold *f = arg;

	(void)start;
	(void)end;
	if (!(tflags & FTS5_TOKEN_COLOCATED) && f->n++ == 0)
		f->word = xstrndup(token, len);
	return SQLITE_OK;
}

/*
 * Fold the text of a prefix with the index's tokenizer. NULL when it is
 * not one word (FTS5 then reads it as a phrase), or too long to look up.
 */
static char *
words_fold(sqlite3 *db, const char *text)
{
	struct words_fold f = { NULL, 0 };
	fts5_tokenizer	 tok;
	Fts5Tokenizer	*t;
	char		*spaced;
	size_t		 n;

	if ((spaced = query_cjk_spaced(text, strlen(text), &n)) != NULL) {
		free(spaced);
		return NULL;
	}
	if (words_tokenizer(db, &tok, &t) != 0)
		return NULL;
	tok.xTokenize(t, &f, FTS5_TOKENIZE_QUERY | FTS5_TOKENIZE_PREFIX, text,
	    (int)strlen(text), words_fold_token);
	tok.xDelete(t);
	if (f.n != 1 || strlen(f.word) >= WORDS_MAX) {
		free(f.word);
		return NULL;
	}
	return f.word;
}

/*
 * Look up the words that begin with prefix: put them in words (room for
 * WORDS_EXPAND + 1) and return how many, or -1 when one of them was cut
 * (the prefix is then left to FTS5).
 */
static int
words_lookup(sqlite3_stmt *s, const char *prefix, char **words)
{
	char	*hi = xstrdup(prefix);
	int	 n, cut = 0;

	/* From the prefix up to (not with) its last byte plus one. */
	hi[strlen(hi) - 1]++;
	sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, WORDS_EXPAND + 1);
	for (n = 0; sqlite3_step(s) == SQLITE_ROW; n++) {
		words[n] = xstrdup((const char *)sqlite3_column_text(s, 0));
		if (strlen(words[n]) >= WORDS_MAX)
			cut = 1;
	}
	sqlite3_reset(s);
	free(hi);
	if (cut) {
		while (n > 0)
			free(words[--n]);
		return -1;
	}
	return n;
}

/*
 * Give each prefix of the query the index's words it stands for, when
 * there are 1 to WORDS_EXPAND of them; the others stay FTS5's prefix
 * queries (on the reader).
 */
void
store_words_expand(sqlite3 *db, struct query *q)
{
	struct query	*pre[QUERY_TERMS_MAX];
	sqlite3_stmt	*s = NULL;
	char		*words[WORDS_EXPAND + 1], *prefix;
	size_t		 npre, i;
	int		 n;

	npre = query_prefixes(q, pre, QUERY_TERMS_MAX);
	for (i = 0; i < npre && i < QUERY_TERMS_MAX; i++) {
		if ((prefix = words_fold(db, query_value(pre[i]))) == NULL)
			continue;
		if (s == NULL && sqlite3_prepare_v2(db, "SELECT word FROM "
		    "search_words WHERE word >= ?1 AND word < ?2 LIMIT ?3", -1,
		    &s, NULL) != SQLITE_OK) {
			free(prefix);
			break;
		}
		n = words_lookup(s, prefix, words);
		if (n > 0 && n <= WORDS_EXPAND) {
			query_expand(pre[i], words, (size_t)n);
			log_debug("search: %s* stands for %d words", prefix,
			    n);
		} else
			log_debug("search: %s* is left to FTS5: %s", prefix,
			    n == -1 ? "a word of it is cut" : n == 0 ?
			    "no word" : "too many words");
		while (n > 0)
			free(words[--n]);
		free(prefix);
	}
	sqlite3_finalize(s);
}
