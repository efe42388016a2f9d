/*
 * The full-text search index (schema version 7, store-index.c): what it
 * keeps of a message, filling it at delivery and reindex, building it in
 * the background for a store older than the index, and the search
 * operation itself.
 *
 * Layout. search_text holds the text of each message (decoded From, To,
 * Cc with names and addresses, Subject, the body text read shows, at most
 * STORE_SEARCH_BODY_MAX bytes of it, and the attachments' file names),
 * under a key that follows date order: the date in seconds times 2^20
 * plus the low bits of the message id (probing upwards on a collision).
 * The FTS5 table search indexes it as external content, rowid = key, so
 * "newest first" is FTS5's own index order: ORDER BY rowid DESC LIMIT n
 * reads n hits, never sorts them all, and dates are rowid ranges. The
 * message row points at its text by messages.search_key. What changes
 * (folder, flags, attachment count) stays on the message row and is
 * joined: move and mark never touch the index. A trigger on the message
 * row removes its text and index entries (FTS5's 'delete' with the
 * stored values, so always exact) in the transaction that deletes the row
 * or gives it a new key.
 *
 * Threads: the text is extracted on the digester (delivery) or the writer
 * (reindex, the background build) and written by the writer in the
 * message row's transaction; searches run on the reader.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mime.h"
#include "query.h"
#include "store.h"
#include "store-int.h"

#define STORE_SEARCH_BODY_MAX	(1024 * 1024)	/* body bytes indexed */
#define STORE_SEARCH_BATCH	256	/* messages per background commit */
#define STORE_SEARCH_SNIPPET	16	/* words around a hit */
#define STORE_SEARCH_MARK_OPEN	"["	/* before a hit in a snippet */
#define STORE_SEARCH_MARK_CLOSE	"]"	/* after it */

/* The columns of search_text and search, in order. */
enum {
	SEARCH_FROM, SEARCH_TO, SEARCH_CC, SEARCH_SUBJECT, SEARCH_BODY,
	SEARCH_NAMES, SEARCH_NCOLS
};

/* What the index keeps of a message's text (UTF-8, CJK spaced). */
struct store_text {
	char	*col[SEARCH_NCOLS];
	size_t	 len[SEARCH_NCOLS];
};

/*
 * The search index's state: the writer's statements for adding text
 * (prepared on first use), and the background build.
 */
struct store_search {
	sqlite3		*db;
	sqlite3_stmt	*ins_text;
	sqlite3_stmt	*ins_fts;
	sqlite3_stmt	*set_key;
	long long	 after;		/* writer: the last id the build saw */
	int		 building;	/* loop: a build is queued or running */
	int		 again;		/* loop: more was stored meanwhile */
	int		 startup;	/* loop: the build started at open */
	struct event	*quiet;		/* loop: deliveries paused a while */
};

/* Keep text (len bytes) in a column, CJK characters spaced out. */
static void
store_text_set(struct store_text *t, int col, char *text, size_t len)
{
	char	*spaced;
	size_t	 n;

	if (text == NULL) {
		text = xstrdup("");
		len = 0;
	}
	if ((spaced = query_cjk_spaced(text, len, &n)) != NULL) {
		free(text);
		text = spaced;
		len = n;
	}
	t->col[col] = text;
	t->len[col] = len;
}

/* Read a header's decoded text for the index. */
static void
store_text_header(struct store_text *t, int col, const struct mime_msg *msg,
    const char *name)
{
	char	*v = mime_header_text(msg, name);

	store_text_set(t, col, v, v != NULL ? strlen(v) : 0);
}

/*
 * Take what the search index keeps of a parsed message: its headers'
 * text, the body text (the first STORE_SEARCH_BODY_MAX bytes, cut on a
 * character boundary) and the attachments' names, one a line.
 */
struct store_text *
store_search_text(const struct mime_msg *msg)
{
	struct store_text	*t = xcalloc(1, sizeof *t);
	struct mime_attachment	 a;
	const char		*body;
	char			*copy, *names = NULL;
	size_t			 n, i, len = 0;

	store_text_header(t, SEARCH_FROM, msg, "from");
	store_text_header(t, SEARCH_TO, msg, "to");
	store_text_header(t, SEARCH_CC, msg, "cc");
	store_text_header(t, SEARCH_SUBJECT, msg, "subject");
	n = mime_body_search(msg, STORE_SEARCH_BODY_MAX, &body, &copy);
	if (n >= STORE_SEARCH_BODY_MAX) {
		n = STORE_SEARCH_BODY_MAX;
		while (n > 0 && ((unsigned char)body[n] & 0xc0) == 0x80)
			n--;
	}
	store_text_set(t, SEARCH_BODY, xstrndup(body, n), n);
	free(copy);
	for (i = 0; i < mime_nattachments(msg); i++) {
		if (mime_attachment(msg, i, &a) != 0 || a.filename == NULL)
			continue;
		n = strlen(a.filename);
		if (len + n + 2 > 64 * 1024)
			break;
		names = xreallocarray(names, 1, len + n + 2);
		memcpy(names + len, a.filename, n);
		len += n;
		names[len++] = '\n';
		names[len] = '\0';
	}
	store_text_set(t, SEARCH_NAMES, names, len);
	return t;
}

/* Free what store_search_text took (NULL is fine). */
void
store_text_free(struct store_text *t)
{
	int	 i;

	if (t == NULL)
		return;
	for (i = 0; i < SEARCH_NCOLS; i++)
		free(t->col[i]);
	free(t);
}

/* Free the writer's statements (NULL is fine). */
void
store_search_free(struct store_search *s)
{
	if (s == NULL)
		return;
	if (s->quiet != NULL)
		event_free(s->quiet);
	sqlite3_finalize(s->ins_text);
	sqlite3_finalize(s->ins_fts);
	sqlite3_finalize(s->set_key);
	free(s);
}

/* The writer's statements, prepared on first use. */
static struct store_search *
store_search_stmts(struct store *st, sqlite3 *db, char **cause)
{
	struct store_search	*s = st->search;

	if (s->db == db)
		return s;
	sqlite3_finalize(s->ins_text);
	sqlite3_finalize(s->ins_fts);
	sqlite3_finalize(s->set_key);
	s->ins_text = s->ins_fts = s->set_key = NULL;
	s->db = NULL;
	if (store_prepare(db, "INSERT OR IGNORE INTO search_text (key, "
	    "from_text, to_text, cc_text, subject, body, names) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?)", &s->ins_text, cause) != 0 ||
	    store_prepare(db, "INSERT INTO search (rowid, from_text, to_text, "
	    "cc_text, subject, body, names) VALUES (?, ?, ?, ?, ?, ?, ?)",
	    &s->ins_fts, cause) != 0 ||
	    store_prepare(db, "UPDATE messages SET search_key = ? WHERE id = ?",
	    &s->set_key, cause) != 0)
		return NULL;
	s->db = db;
	return s;
}

/* Bind the text's columns from parameter 2 on. */
static void
store_search_bind(sqlite3_stmt *s, const struct store_text *t)
{
	int	 i;

	for (i = 0; i < SEARCH_NCOLS; i++)
		sqlite3_bind_text(s, i + 2, t->col[i], (int)t->len[i],
		    SQLITE_STATIC);
}

/*
 * Index the text of message id (dated date) on the writer, inside the
 * caller's transaction. A message indexed before gets a new key, and the
 * trigger removes its old entries. Return -1 with cause on failure.
 */
int
store_search_add(struct store *st, sqlite3 *db, long long id, time_t date,
    const struct store_text *t, char **cause)
{
	struct store_search	*s;
	long long		 key, secs = date;
	int			 probes;

	if (t == NULL)
		return 0;
	if ((s = store_search_stmts(st, db, cause)) == NULL)
		return -1;
	if (secs < 0)
		secs = 0;
	if (secs > (1LL << 42))
		secs = 1LL << 42;
	key = (secs << QUERY_KEY_SHIFT) | (id & ((1LL << QUERY_KEY_SHIFT) - 1));
	store_search_bind(s->ins_text, t);
	for (probes = 0; probes < 1000; probes++, key++) {
		sqlite3_bind_int64(s->ins_text, 1, key);
		if (sqlite3_step(s->ins_text) != SQLITE_DONE) {
			sqlite3_reset(s->ins_text);
			store_dberr(db, "search write", cause);
			return -1;
		}
		sqlite3_reset(s->ins_text);
		if (sqlite3_changes(db) == 1)
			break;
	}
	sqlite3_clear_bindings(s->ins_text);
	if (probes == 1000) {
		xasprintf(cause, "index search write: no free key near the date "
		    "of message %lld", id);
		return -1;
	}
	if (store_words_add(st, db, t->col, t->len, SEARCH_NCOLS, cause) != 0)
		return -1;
	sqlite3_bind_int64(s->ins_fts, 1, key);
	store_search_bind(s->ins_fts, t);
	sqlite3_bind_int64(s->set_key, 1, key);
	sqlite3_bind_int64(s->set_key, 2, id);
	if (sqlite3_step(s->ins_fts) != SQLITE_DONE ||
	    sqlite3_step(s->set_key) != SQLITE_DONE) {
		store_dberr(db, "search write", cause);
		sqlite3_reset(s->ins_fts);
		sqlite3_reset(s->set_key);
		return -1;
	}
	sqlite3_reset(s->ins_fts);
	sqlite3_reset(s->set_key);
	sqlite3_clear_bindings(s->ins_fts);
	return 0;
}

/*
 * The background build: messages without search text (delivered a moment
 * ago, or stored before the search index existed) get it here, on the
 * writer, a slice at a time: at most STORE_SEARCH_BATCH messages or
 * STORE_SEARCH_SLICE_MS of work in one transaction, then the job queues
 * again behind whatever else the writer has to do; a slice ends early
 * when a delivery batch is waiting. A delivery starts the build once
 * deliveries paused for STORE_SEARCH_QUIET_MS, so a poll's batches are
 * committed and reported as fast as without the index (indexing them in
 * the delivery transaction made a 5,000-message POP3 first poll of 200
 * MiB several times slower: bench/README.md), and a search finds a new
 * message a moment after its poll (or its IDLE round) ends.
 */
#define STORE_SEARCH_BATCH	256
#define STORE_SEARCH_SLICE_MS	50
#define STORE_SEARCH_QUIET_MS	300

struct store_search_build {
	struct store_job job;		/* first */
	long long	 indexed;
	int		 finished;
};

/* Milliseconds since t0. */
static double
store_search_ms(const struct timespec *t0)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Is a delivery batch waiting for the digester or the writer? */
static int
store_search_busy(struct store *st)
{
	int	 busy;

	pthread_mutex_lock(&st->lock);
	busy = !TAILQ_EMPTY(&st->digester.todo) ||
	    !TAILQ_EMPTY(&st->writer.todo);
	pthread_mutex_unlock(&st->lock);
	return busy;
}

/* On the writer: index one slice; queue again while there is more. */
static void
store_search_build_run(struct store *st, sqlite3 *db, struct store_job *job)
{
	struct store_search_build *b = (struct store_search_build *)job;
	struct store_search	*ss = st->search;
	struct ops_req		 r;
	struct ops_row		 row;
	struct store_info	 info;
	struct store_rbuf	 rb = { NULL };
	struct timespec		 t0;
	struct stat		 sb;
	sqlite3_stmt		*s = NULL;
	char			*cause = NULL;
	long long		 id;
	size_t			 n = 0;
	int			 fd;

	memset(&r, 0, sizeof r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (store_stopping(st) || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL,
	    NULL, NULL) != SQLITE_OK)
		return;
	if (store_prepare(db, "SELECT id FROM messages WHERE search_key IS "
	    "NULL AND id > ? ORDER BY id LIMIT ?", &s, &cause) != 0)
		goto out;
	sqlite3_bind_int64(s, 1, ss->after);
	sqlite3_bind_int(s, 2, STORE_SEARCH_BATCH);
	while (sqlite3_step(s) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		n++;
		if (ops_row(db, &r, id, &row) != 0 ||
		    (fd = ops_open(st, &r, &row)) == -1) {
			/* Gone or moved away: reindex will tell. */
			free(r.error);
			r.error = NULL;
			ss->after = id;
			continue;
		}
		if (fstat(fd, &sb) == 0 && store_digest(fd, sb.st_size, NULL,
		    &info, 1, &rb) == 0) {
			if (store_search_add(st, db, id, info.date, info.text,
			    &cause) != 0) {
				store_info_free(&info);
				close(fd);
				goto out;
			}
			b->indexed++;
			store_info_free(&info);
		}
		close(fd);
		ss->after = id;
		if (store_search_ms(&t0) > STORE_SEARCH_SLICE_MS ||
		    store_search_busy(st))
			break;
	}
	if (n == 0)
		b->finished = 1;
out:
	store_rbuf_free(&rb);
	sqlite3_finalize(s);
	if (cause != NULL || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_warnx("search index build: %s", cause != NULL ? cause :
		    sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		free(cause);
		return;
	}
	if (!b->finished && !store_stopping(st))
		job->next = &st->writer;
}

static void	store_search_build_done(struct store *, struct store_job *);

/* Queue a build on the writer. */
static void
store_search_submit(struct store *st)
{
	struct store_search_build *b;

	b = xcalloc(1, sizeof *b);
	b->job.run = store_search_build_run;
	b->job.done = store_search_build_done;
	st->search->building = 1;
	st->search->again = 0;
	store_submit(st, &st->writer, &b->job);
}

/* On the loop: a build ended (or the daemon is stopping). */
static void
store_search_build_done(struct store *st, struct store_job *job)
{
	struct store_search_build *b = (struct store_search_build *)job;
	struct store_search	*ss = st->search;

	if (b->finished && ss->startup)
		log_info("search index built: %lld messages indexed",
		    b->indexed);
	else
		log_debug("search index: %lld messages indexed", b->indexed);
	ss->building = 0;
	ss->startup = 0;
	if (ss->again && b->finished && !store_stopping(st))
		store_search_submit(st);
	free(b);
}

/*
 * On the loop: messages were stored without their search text (startup:
 * the index was opened); index them in the background, now or after the
 * build in progress.
 */
void
store_search_kick(struct store *st, int startup)
{
	if (st->search->building) {
		st->search->again = 1;
		return;
	}
	st->search->startup = startup;
	store_search_submit(st);
}

/* Deliveries paused: index what they stored. */
static void
store_search_quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	store_search_kick(arg, 0);
}

/*
 * On the loop: a delivery batch was stored; index it once deliveries
 * pause for STORE_SEARCH_QUIET_MS (each batch pushes that back).
 */
void
store_search_delivered(struct store *st)
{
	struct timeval	 tv = { 0, STORE_SEARCH_QUIET_MS * 1000 };

	if (st->search->quiet != NULL)
		evtimer_add(st->search->quiet, &tv);
	else
		store_search_kick(st, 0);
}

/*
 * At open: when messages lack search text (a store from before the
 * search index, or deliveries a stop cut short), build it in the
 * background.
 */
void
store_search_start(struct store *st, struct event_base *base)
{
	sqlite3_stmt	*s;
	int		 pending = 0;

	st->search = xcalloc(1, sizeof *st->search);
	if (base != NULL)
		st->search->quiet = evtimer_new(base, store_search_quiet_cb, st);
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM messages WHERE "
	    "search_key IS NULL LIMIT 1", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		pending = 1;
	sqlite3_finalize(s);
	if (!pending)
		return;
	log_info("building the search index in the background");
	store_search_kick(st, 1);
}

/* Is the character at p (UTF-8) one the index spaced out (CJK)? */
static int
store_search_cjk(const char *p)
{
	size_t	 n;
	char	*spaced;

	if ((unsigned char)*p < 0xe2)
		return 0;
	for (n = 1; n < 4 && ((unsigned char)p[n] & 0xc0) == 0x80; n++)
		;
	spaced = query_cjk_spaced(p, n, &n);
	free(spaced);
	return spaced != NULL;
}

/*
 * Append a snippet as a JSON string: its runs of white space made one
 * space (a snippet is one line), and the spaces the index put between CJK
 * characters taken out again (a hit's marks may stand between them).
 */
static void
store_search_snippet(struct ops_text *t, const char *s)
{
	const char	*prev = NULL, *next;
	char		*one, *o;
	int		 space = 0;

	if (s == NULL) {
		ops_text_raw(t, "null");
		return;
	}
	one = o = xmalloc(strlen(s) + 1);
	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') {
			space = 1;
			continue;
		}
		if (space && o > one) {
			for (next = s; *next == STORE_SEARCH_MARK_OPEN[0] ||
			    *next == STORE_SEARCH_MARK_CLOSE[0]; next++)
				;
			if (prev == NULL || !store_search_cjk(prev) ||
			    !store_search_cjk(next))
				*o++ = ' ';
		}
		space = 0;
		if (((unsigned char)*s & 0xc0) != 0x80 &&
		    *s != STORE_SEARCH_MARK_OPEN[0] &&
		    *s != STORE_SEARCH_MARK_CLOSE[0])
			prev = s;
		*o++ = *s;
	}
	*o = '\0';
	ops_text_string(t, one);
	free(one);
}

/* A search hit's snippet, after its list entry (ops_text_rows). */
static void
store_search_entry(struct ops_text *t, sqlite3_stmt *s, void *arg)
{
	(void)arg;
	ops_text_raw(t, ",\"snippet\":");
	/* The column after OPS_LIST_COLUMNS. */
	store_search_snippet(t, (const char *)sqlite3_column_text(s, 10));
}

/* A snippet being cut out of a column (store_search_snippet_fn). */
struct store_snip {
	int	 start;			/* the window's first token */
	int	 next;			/* tokens seen */
	int	 n;			/* tokens of the window seen */
	int	 more;			/* text goes on after the window */
	int	 from[STORE_SEARCH_SNIPPET];	/* their bytes */
	int	 to[STORE_SEARCH_SNIPPET];
};

/* xTokenize's callback: keep the byte offsets of the window's tokens. */
static int
store_search_snip_token(void *arg, int tflags, const char *token, int len,
    int from, int to)
{
	struct store_snip	*sn = arg;
	int			 i;

	(void)token;
	(void)len;
	if (tflags & FTS5_TOKEN_COLOCATED)
		return SQLITE_OK;
	i = sn->next++;
	if (i < sn->start)
		return SQLITE_OK;
	if (i >= sn->start + STORE_SEARCH_SNIPPET) {
		sn->more = 1;
		return SQLITE_DONE;	/* enough: stop reading the text */
	}
	sn->from[sn->n] = from;
	sn->to[sn->n++] = to;
	return SQLITE_OK;
}

/* Append at most 64 bytes of the text between two tokens. */
static void
store_search_snip_gap(struct ops_text *t, const char *text, int from, int to)
{
	int	 n = to - from;

	if (n > 64) {
		for (n = 64; n > 0 && ((unsigned char)text[from + n] & 0xc0) ==
		    0x80; n--)
			;
	}
	memcpy(ops_text_room(t, n), text + from, n);
	t->len += n;
}

/*
 * The FTS5 function mailctl_snippet(search): STORE_SEARCH_SNIPPET words
 * of the body from just before its first hit, each hit between the marks;
 * the body's first words when it has none. FTS5's own snippet() scores
 * every hit against every other, which took minutes for one message with
 * a hundred thousand hits; this reads the hits of each phrase up to the
 * window and tokenizes the text only up to its end: bounded by the window,
 * not by the message.
 */
static void
store_search_snippet_fn(const Fts5ExtensionApi *api, Fts5Context *fts,
    sqlite3_context *ctx, int nval, sqlite3_value **val)
{
	struct store_snip	 sn;
	struct ops_text		 t = { NULL, 0, 0 };
	Fts5PhraseIter		 it;
	const char		*text;
	char			 hit[STORE_SEARCH_SNIPPET];
	int			 np, i, k, col, off, size, first = -1, len;

	(void)nval;
	(void)val;
	np = api->xPhraseCount(fts);
	for (i = 0; i < np; i++) {
		if (api->xPhraseFirst(fts, i, &it, &col, &off) != SQLITE_OK)
			continue;
		for (; col >= 0 && col <= SEARCH_BODY; api->xPhraseNext(fts,
		    &it, &col, &off)) {
			if (col == SEARCH_BODY) {
				if (first == -1 || off < first)
					first = off;
				break;
			}
		}
	}
	memset(&sn, 0, sizeof sn);
	memset(hit, 0, sizeof hit);
	sn.start = first > 3 ? first - 3 : 0;
	for (i = 0; first != -1 && i < np; i++) {
		size = api->xPhraseSize(fts, i);
		if (api->xPhraseFirst(fts, i, &it, &col, &off) != SQLITE_OK)
			continue;
		for (; col >= 0 && col <= SEARCH_BODY; api->xPhraseNext(fts,
		    &it, &col, &off)) {
			if (col < SEARCH_BODY)
				continue;
			if (off >= sn.start + STORE_SEARCH_SNIPPET)
				break;
			for (k = off; k < off + size; k++)
				if (k >= sn.start && k < sn.start +
				    STORE_SEARCH_SNIPPET)
					hit[k - sn.start] = 1;
		}
	}
	if (api->xColumnText(fts, SEARCH_BODY, &text, &len) != SQLITE_OK ||
	    text == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	i = api->xTokenize(fts, text, len, &sn, store_search_snip_token);
	if (i != SQLITE_OK && i != SQLITE_DONE) {
		sqlite3_result_error_code(ctx, i);
		return;
	}
	if (sn.start > 0)
		ops_text_raw(&t, "... ");
	for (i = 0; i < sn.n; i++) {
		if (i > 0)
			store_search_snip_gap(&t, text, sn.to[i - 1],
			    sn.from[i]);
		if (hit[i] && (i == 0 || !hit[i - 1]))
			ops_text_raw(&t, STORE_SEARCH_MARK_OPEN);
		store_search_snip_gap(&t, text, sn.from[i], sn.to[i]);
		if (hit[i] && (i == sn.n - 1 || !hit[i + 1]))
			ops_text_raw(&t, STORE_SEARCH_MARK_CLOSE);
	}
	if (sn.more)
		ops_text_raw(&t, " ...");
	else if (sn.n > 0)
		store_search_snip_gap(&t, text, sn.to[sn.n - 1], len);
	if (t.buf == NULL)
		sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
	else
		sqlite3_result_text(ctx, t.buf, (int)t.len, free);
}

/* The FTS5 API of a connection, or NULL when SQLite has no FTS5. */
fts5_api *
store_fts5_api(sqlite3 *db)
{
	fts5_api	*api = NULL;
	sqlite3_stmt	*s;

	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, NULL) !=
	    SQLITE_OK)
		return NULL;
	sqlite3_bind_pointer(s, 1, &api, "fts5_api_ptr", NULL);
	sqlite3_step(s);
	sqlite3_finalize(s);
	return api;
}

/*
 * Give a connection the search's own FTS5 function, mailctl_snippet
 * (on the reader, which runs searches). Return -1 with cause.
 */
int
store_search_init(sqlite3 *db, char **cause)
{
	fts5_api	*api = store_fts5_api(db);

	if (api == NULL || api->xCreateFunction(api, "mailctl_snippet", NULL,
	    store_search_snippet_fn, NULL) != SQLITE_OK) {
		xasprintf(cause, "index: SQLite has no full-text search "
		    "(FTS5)");
		return -1;
	}
	return 0;
}

/*
 * search: the messages a query (query.h) matches, newest first, as list
 * gives them plus a snippet: the body around the best hit, the words
 * found between STORE_SEARCH_MARK_OPEN and _CLOSE; or the start of the
 * body when the query has no text term.
 */
void
ops_query(struct store *st, sqlite3 *db, struct ops_req *r)
{
	json_t		*p = r->params;
	struct query	*q;
	struct query_sql qs;
	sqlite3_stmt	*s;
	char		*sql, *cause = NULL;
	size_t		 i;
	int		 n = 0;

	(void)st;
	if ((q = query_parse(json_string_value(json_object_get(p, "query")),
	    &cause)) == NULL) {
		ops_fail(r, JSONRPC_ERR_DATA, "search: %s", cause);
		free(cause);
		return;
	}
	store_words_expand(db, q);
	/* Dates narrow the index scan when the index drives. */
	query_compile(q, "search.rowid", &qs);
	if (qs.match == NULL) {
		query_sql_free(&qs);
		query_compile(q, "m.search_key", &qs);
	}
	query_free(q);
	if (qs.match != NULL)
		xasprintf(&sql, "SELECT " OPS_LIST_COLUMNS ", "
		    "mailctl_snippet(search) FROM search CROSS "
		    "JOIN messages m ON m.search_key = search.rowid WHERE "
		    "search MATCH ? AND (%s) ORDER BY search.rowid DESC LIMIT ? "
		    "OFFSET ?", qs.where);
	else
		xasprintf(&sql, "SELECT " OPS_LIST_COLUMNS ", "
		    "(SELECT substr(body, 1, 200) FROM "
		    "search_text WHERE key = m.search_key) FROM messages m "
		    "WHERE %s ORDER BY m.search_key DESC LIMIT ? OFFSET ?",
		    qs.where);
	s = ops_prepare(db, r, sql);
	free(sql);
	if (s == NULL) {
		query_sql_free(&qs);
		return;
	}
	if (qs.match != NULL)
		sqlite3_bind_text(s, ++n, qs.match, -1, SQLITE_STATIC);
	for (i = 0; i < qs.nbinds; i++, n++) {
		if (qs.binds[i].text != NULL)
			sqlite3_bind_text(s, n + 1, qs.binds[i].text, -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_int64(s, n + 1, qs.binds[i].num);
	}
	sqlite3_bind_int64(s, ++n, json_object_get(p, "limit") != NULL ?
	    json_integer_value(json_object_get(p, "limit")) : -1);
	sqlite3_bind_int64(s, ++n, json_integer_value(json_object_get(p,
	    "offset")));
	ops_text_rows(r, db, s, store_search_entry, NULL);
	sqlite3_finalize(s);
	query_sql_free(&qs);
}
