/*
 * The store's SQLite index (data_dir/index.sqlite): its schema and the
 * upgrades from older versions, opening a connection, preparing a
 * statement, describing an error. And what the index keeps of a message:
 * store_mime_open reads or maps a message file to parse it, store_digest
 * takes its header fields, attachment count and the folder the rules
 * choose, store_bind_info binds them to a statement; store_flags_parse
 * splits a Maildir file name into its base and its flags.
 */
#include "autoconf.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/xmalloc.h"
#include "filter.h"
#include "mime.h"
#include "mime-thread.h"
#include "store.h"
#include "store-int.h"

/*
 * The index. A message's file is FOLDER/DIR/FILE, plus ":2,FLAGS" in cur/
 * (Maildir's info part); "file" is the unique base name, which no program
 * changes, so it finds the message again after another program moved it
 * between new/ and cur/ or changed its flags. Version 2 added the decoded
 * header fields, dir, flags and the attachment count; version 3 an index
 * by file; 4 the outbox, 5 by_hand, 6 the IMAP state, 7 the search
 * index, 8 conversations, 9 search words, 10 two indexes fewer.
 */
static const char store_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS seen ("
    "  account TEXT NOT NULL, uidl TEXT NOT NULL, added INTEGER NOT NULL,"
    "  PRIMARY KEY (account, uidl)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS messages ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account TEXT NOT NULL, folder TEXT NOT NULL, file TEXT NOT NULL,"
    "  tmpname TEXT, size INTEGER NOT NULL, uidl TEXT,"
    "  added INTEGER NOT NULL, from_hdr TEXT, subject TEXT);";

static const char store_schema_v2[] =
    "BEGIN IMMEDIATE;"
    "ALTER TABLE messages ADD COLUMN to_hdr TEXT;"
    "ALTER TABLE messages ADD COLUMN cc_hdr TEXT;"
    "ALTER TABLE messages ADD COLUMN date INTEGER;"
    "ALTER TABLE messages ADD COLUMN message_id TEXT;"
    "ALTER TABLE messages ADD COLUMN dir TEXT NOT NULL DEFAULT 'new';"
    "ALTER TABLE messages ADD COLUMN flags TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE messages ADD COLUMN attachments INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX messages_by_folder ON messages (folder);"
    "CREATE INDEX messages_tmp ON messages (account, tmpname);"
    "PRAGMA user_version = 2;"
    "COMMIT;";

/* Version 3: find a row by its file (reindex joins on it). */
static const char store_schema_v3[] =
    "CREATE INDEX IF NOT EXISTS messages_file ON messages (account, file);"
    "PRAGMA user_version = 3;";

/*
 * Version 4: the outbox (store-queue.c). A queued message is the file
 * queue/FILE under data_dir plus this row; rcpts is a JSON array of
 * {address, state (pending, sent, failed), reply}.
 */
static const char store_schema_v4[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS queue ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account TEXT NOT NULL, file TEXT NOT NULL, sender TEXT NOT NULL,"
    "  rcpts TEXT NOT NULL, subject TEXT, message_id TEXT,"
    "  size INTEGER NOT NULL, eightbit INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'queued',"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL,"
    "  last_error TEXT);"
    "PRAGMA user_version = 4;"
    "COMMIT;";

/*
 * Version 5: by_hand, set when the user filed a message (mv): refilter
 * leaves it where it was put.
 */
static const char store_schema_v5[] =
    "BEGIN IMMEDIATE;"
    "ALTER TABLE messages ADD COLUMN by_hand INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA user_version = 5;"
    "COMMIT;";

/*
 * Version 6: IMAP state for keeping \Seen in step with the server
 * (store-imap.c). imap_folders: what the last sync of a server folder
 * learnt. imap_flag_queue: read states changed here and not yet pushed,
 * one row per message (key is its seen key, "imap:V:U:FOLDER"), written in
 * the transaction that changes the flag; AUTOINCREMENT so that the id of
 * a row replaced by a newer change is never reused (the session deletes
 * what the server acknowledged by id). messages_uidl finds a message by
 * its key.
 */
static const char store_schema_v6[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS imap_folders ("
    "  account TEXT NOT NULL, folder TEXT NOT NULL,"
    "  uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL DEFAULT 0,"
    "  highestmodseq INTEGER NOT NULL DEFAULT 0,"
    "  synced INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (account, folder)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS imap_flag_queue ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account TEXT NOT NULL, key TEXT NOT NULL, seen INTEGER NOT NULL,"
    "  added INTEGER NOT NULL, UNIQUE (account, key));"
    "CREATE INDEX IF NOT EXISTS messages_uidl ON messages (account, uidl);"
    "PRAGMA user_version = 6;"
    "COMMIT;";

/*
 * Version 7: the full-text search index (store-search.c explains the
 * layout). search_text keeps each message's text under its search key
 * (messages.search_key); search is the FTS5 index over it (external
 * content: deletes pass the stored values, so they are exact). The
 * triggers remove a message's text and index entries when its row goes or
 * gets a new key, in the same transaction. A message without a key yet
 * (delivered a moment ago, or stored before this version) gets its text
 * from the background build (store_search_kick).
 */
static const char store_schema_v7[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS search_text ("
    "  key INTEGER PRIMARY KEY, from_text TEXT, to_text TEXT, cc_text TEXT,"
    "  subject TEXT, body TEXT, names TEXT);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5 (from_text, "
    "  to_text, cc_text, subject, body, names, content='search_text',"
    "  content_rowid='key', tokenize='unicode61 remove_diacritics 2');"
    "ALTER TABLE messages ADD COLUMN search_key INTEGER;"
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_search_key ON messages "
    "  (search_key);"
    "CREATE TRIGGER IF NOT EXISTS messages_search_gone AFTER DELETE ON "
    "  messages WHEN old.search_key IS NOT NULL BEGIN"
    "  INSERT INTO search (search, rowid, from_text, to_text, cc_text, "
    "  subject, body, names) SELECT 'delete', key, from_text, to_text, "
    "  cc_text, subject, body, names FROM search_text WHERE key = "
    "  old.search_key;"
    "  DELETE FROM search_text WHERE key = old.search_key;"
    "  END;"
    "CREATE TRIGGER IF NOT EXISTS messages_search_rekey AFTER UPDATE OF "
    "  search_key ON messages WHEN old.search_key IS NOT NULL AND "
    "  old.search_key IS NOT new.search_key BEGIN"
    "  INSERT INTO search (search, rowid, from_text, to_text, cc_text, "
    "  subject, body, names) SELECT 'delete', key, from_text, to_text, "
    "  cc_text, subject, body, names FROM search_text WHERE key = "
    "  old.search_key;"
    "  DELETE FROM search_text WHERE key = old.search_key;"
    "  END;"
    "PRAGMA user_version = 7;"
    "COMMIT;";

/*
 * Version 8: conversations (store-conversation.c). messages.thread is the
 * conversation's id, thread_key the message's own id ("<...>", or "#ID"
 * for one without a Message-ID), thread_subject its subject's key (only
 * for a message naming no other: the subject fallback looks them up),
 * thread_reply whether that subject was a reply's, and thread_refs the
 * ids it names, oldest first, separated by spaces (NULL: not read yet),
 * so that threading again (reindex) needs the index alone. thread_nodes: every id seen, of a message stored or
 * only named by another's References (a placeholder), with its parent's
 * id and its conversation. Rows from before are threaded by a background
 * job on the writer (store_conversation_fill), thread NULL until then.
 */
static const char store_schema_v8_columns[] =
    "ALTER TABLE messages ADD COLUMN thread INTEGER;"
    "ALTER TABLE messages ADD COLUMN thread_key TEXT;"
    "ALTER TABLE messages ADD COLUMN thread_subject TEXT;"
    "ALTER TABLE messages ADD COLUMN thread_reply INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN thread_refs TEXT;";
static const char store_schema_v8[] =
    "CREATE INDEX IF NOT EXISTS messages_thread ON messages (thread);"
    "CREATE INDEX IF NOT EXISTS messages_thread_subject ON messages "
    "(thread_subject, date);"
    "CREATE TABLE IF NOT EXISTS thread_nodes ("
    "  msgid TEXT PRIMARY KEY, parent TEXT, thread INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS thread_nodes_thread ON thread_nodes (thread);"
    "PRAGMA user_version = 8;";

/*
 * Version 9: search_words, every word of the search index, for prefix
 * queries (store-words.c); an index from before gets its words from FTS5
 * once, here (about a second per 100,000 messages).
 */
static const char store_schema_v9[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS search_words (word TEXT PRIMARY KEY) "
    "  WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE temp.search_vocab USING fts5vocab(main, 'search', "
    "  'row');"
    "INSERT OR IGNORE INTO search_words (word) SELECT substr(term, 1, 64) "
    "  FROM temp.search_vocab;"
    "DROP TABLE temp.search_vocab;"
    "PRAGMA user_version = 9;"
    "COMMIT;";

/*
 * Version 10: two indexes fewer for each delivery to write. A file left
 * in tmp/ is found by its final name (the tmp name, ",S=" and its size:
 * store_recover, reindex), so tmpname is no longer written nor indexed;
 * and (folder) serves what (account, folder) did (the account's own
 * lookups go by messages_uidl or messages_file).
 */
static const char store_schema_v10[] =
    "BEGIN IMMEDIATE;"
    "DROP INDEX IF EXISTS messages_tmp;"
    "DROP INDEX IF EXISTS messages_folder;"
    "PRAGMA user_version = 10;"
    "COMMIT;";

/*
 * Bring an index to version 8 in one transaction; the columns only when
 * they are missing (an index set back to an older version keeps them).
 */
static int
store_migrate_v8(sqlite3 *db)
{
	sqlite3_stmt	*s;
	int		 have = 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info("
	    "'messages') WHERE name = 'thread_refs'", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		have = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if ((!have && sqlite3_exec(db, store_schema_v8_columns, NULL, NULL,
	    NULL) != SQLITE_OK) || sqlite3_exec(db, store_schema_v8, NULL,
	    NULL, NULL) != SQLITE_OK)
		return -1;
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ?
	    0 : -1;
}

/* Describe the last SQLite error of a connection. */
void
store_dberr(sqlite3 *db, const char *what, char **cause)
{
	xasprintf(cause, "index %s: %s", what, sqlite3_errmsg(db));
}

/* Prepare one statement or fail. */
int
store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
    char **cause)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
	    NULL) != SQLITE_OK) {
		store_dberr(db, "prepare", cause);
		return -1;
	}
	return 0;
}

/* Bring the schema to the current version (on the first connection). */
int
store_migrate(sqlite3 *db, char **cause)
{
	sqlite3_stmt	*s;
	int		 version = 0;

	if (sqlite3_exec(db, store_schema, NULL, NULL, NULL) != SQLITE_OK) {
		store_dberr(db, "schema", cause);
		return -1;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if ((version < 2 && sqlite3_exec(db, store_schema_v2, NULL, NULL,
	    NULL) != SQLITE_OK) || (version < 3 && sqlite3_exec(db,
	    store_schema_v3, NULL, NULL, NULL) != SQLITE_OK) ||
	    (version < 4 && sqlite3_exec(db, store_schema_v4, NULL, NULL,
	    NULL) != SQLITE_OK) || (version < 5 && sqlite3_exec(db,
	    store_schema_v5, NULL, NULL, NULL) != SQLITE_OK) ||
	    (version < 6 && sqlite3_exec(db, store_schema_v6, NULL, NULL,
	    NULL) != SQLITE_OK) || (version < 7 && sqlite3_exec(db,
	    store_schema_v7, NULL, NULL, NULL) != SQLITE_OK) ||
	    (version < 8 && store_migrate_v8(db) != 0) ||
	    (version < 9 && sqlite3_exec(db, store_schema_v9, NULL, NULL,
	    NULL) != SQLITE_OK) || (version < 10 && sqlite3_exec(db,
	    store_schema_v10, NULL, NULL, NULL) != SQLITE_OK)) {
		store_dberr(db, "upgrade", cause);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Open one connection to the index. */
int
store_dbopen(const char *path, sqlite3 **db, char **cause)
{
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "cannot open %s: %s", path,
		    *db ? sqlite3_errmsg(*db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(*db, 30000);
	if (sqlite3_exec(*db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		store_dberr(*db, "setup", cause);
		return -1;
	}
	return 0;
}

/*
 * A decoded header value fit for a listing: decoded as read shows it (raw
 * 8-bit text in the message's charset), control characters made spaces,
 * at most 1000 bytes (cut on a character boundary). NULL when absent.
 */
static char *
store_hdr(const struct mime_msg *msg, const char *name)
{
	char		*v;
	size_t		 i, len;

	if ((v = mime_header_text(msg, name)) == NULL)
		return NULL;
	len = strlen(v);
	if (len > 1000) {
		for (len = 1000; len > 0 && (v[len] & 0xc0) == 0x80; len--)
			;
		v[len] = '\0';
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			v[i] = ' ';
	return v;
}

/*
 * Parse the first MIME_MAX_SIZE bytes of the message in fd (size bytes).
 * A message of up to STORE_READ_MAX bytes is read into memory: cheaper,
 * for the many small ones, than mapping and unmapping it (which stops
 * the other processor to flush its TLB). A larger one is mapped and parsed
 * in place, no copy made, its pages given back as the parser moves on;
 * the mapping is one page longer than the file's pages, made of zeros, so
 * the text always ends with the NUL the parser needs.
 */
int
store_mime_open(int fd, size_t size, struct store_mime *sm,
    struct store_rbuf *rb, char **cause)
{
	size_t	 page = (size_t)sysconf(_SC_PAGESIZE);
	size_t	 len = size < MIME_MAX_SIZE ? size : MIME_MAX_SIZE, got = 0;
	ssize_t	 n;
	char	*buf;

	sm->buf = NULL;
	sm->map = NULL;
	if (len <= STORE_READ_MAX) {
		if (rb == NULL)
			buf = sm->buf = xmalloc(len + 1);
		else {
			if (rb->p == NULL)
				rb->p = xmalloc(STORE_READ_MAX + 1);
			buf = rb->p;
		}
		while (got < len && (n = pread(fd, buf + got, len - got,
		    got)) != 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				xasprintf(cause, "%s", strerror(errno));
				free(sm->buf);
				return -1;
			}
			got += n;
		}
		buf[got] = '\0';
		if ((sm->msg = mime_parse_inplace(buf, got, 0,
		    cause)) == NULL) {
			free(sm->buf);
			return -1;
		}
		return 0;
	}
	sm->maplen = (len / page + 1) * page;
	sm->map = mmap(NULL, sm->maplen, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (sm->map == MAP_FAILED) {
		xasprintf(cause, "%s", strerror(errno));
		return -1;
	}
	if (mmap(sm->map, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) ==
	    MAP_FAILED) {
		xasprintf(cause, "%s", strerror(errno));
		munmap(sm->map, sm->maplen);
		return -1;
	}
	if ((sm->msg = mime_parse_inplace(sm->map, len, MIME_DROP,
	    cause)) == NULL) {
		munmap(sm->map, sm->maplen);
		return -1;
	}
	return 0;
}

/* Free a parsed message and its memory. */
void
store_mime_close(struct store_mime *sm)
{
	mime_free(sm->msg);
	if (sm->map != NULL)
		munmap(sm->map, sm->maplen);
	free(sm->buf);
	sm->msg = NULL;
}

/* Free a lent buffer. */
void
store_rbuf_free(struct store_rbuf *rb)
{
	free(rb->p);
	rb->p = NULL;
}

/*
 * Read what the index keeps of the message in fd (size bytes): the header
 * fields, the attachment count, the folder the rules choose (f may be
 * NULL: Inbox) and, with text, what the search index keeps. A message
 * over MIME_MAX_SIZE is judged by its first MIME_MAX_SIZE bytes; rb (or
 * NULL) lends the buffer to read it into. Runs on a store thread.
 */
int
store_digest(int fd, size_t size, const struct filter *f,
    struct store_info *info, int text, struct store_rbuf *rb)
{
	struct store_mime	 sm;
	struct mime_msg		*msg;
	struct stat		 sb;
	char			*cause = NULL;

	memset(info, 0, sizeof *info);
	info->folder = FILTER_INBOX;
	info->notify = 1;
	info->date = fstat(fd, &sb) == 0 ? sb.st_mtime : time(NULL);
	if (store_mime_open(fd, size, &sm, rb, &cause) != 0) {
		free(cause);
		return -1;
	}
	msg = sm.msg;
	info->from = store_hdr(msg, "from");
	info->to = store_hdr(msg, "to");
	info->cc = store_hdr(msg, "cc");
	info->subject = store_hdr(msg, "subject");
	info->message_id = store_hdr(msg, "message-id");
	mime_date(mime_header(msg, "date"), &info->date);
	info->attachments = mime_nattachments(msg);
	if (text)
		info->text = store_search_text(msg);
	store_conversation_info(msg, info);
	info->folder = filter_folder(f, info->from, info->subject, msg,
	    &info->notify);
	store_mime_close(&sm);
	return 0;
}

/*
 * Bind what the index keeps of a digest to seven parameters of a
 * statement from first on: From, Subject, To, Cc, Date, Message-ID and
 * the attachment count, in that order. The strings are borrowed.
 */
void
store_bind_info(sqlite3_stmt *s, int first, const struct store_info *info)
{
	sqlite3_bind_text(s, first, info->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 1, info->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 2, info->to, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 3, info->cc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, first + 4, info->date);
	sqlite3_bind_text(s, first + 5, info->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, first + 6, info->attachments);
}

/* Free the strings of a digest. */
void
store_info_free(struct store_info *info)
{
	free(info->from);
	free(info->to);
	free(info->cc);
	free(info->subject);
	free(info->message_id);
	store_text_free(info->text);
	free(info->thread_id);
	mime_thread_refs_free(info->thread_refs, info->nthread_refs);
	free(info->thread_subject);
	memset(info, 0, sizeof *info);
}

/*
 * Split a Maildir file name into its unique base and its flags (the part
 * after ":2,"; "" when it has none). Return -1 when a part does not fit.
 */
int
store_flags_parse(const char *name, char *base, size_t size, char *flags,
    size_t fsize)
{
	const char	*info = strstr(name, ":2,");
	size_t		 n = info != NULL ? (size_t)(info - name) : strlen(name);

	if (n >= size || (info != NULL && strlen(info + 3) >= fsize))
		return -1;
	memcpy(base, name, n);
	base[n] = '\0';
	snprintf(flags, fsize, "%s", info != NULL ? info + 3 : "");
	return 0;
}
