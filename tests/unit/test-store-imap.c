/*
 * Unit tests of the store's IMAP \Seen sync (daemon/store-imap.c) with a
 * real store in a temporary data directory, a real loop and a parsed
 * configuration: messages delivered under IMAP keys through
 * store_msg_new/store_msg_set_uidl/store_commit, then the folder state
 * round trip; mark and read queueing a row per key (latest wins, a new id)
 * only for an IMAP account with sync_seen; store_imap_pending by folder and
 * UIDVALIDITY; pending_done by id only; apply_seen renaming the Maildir
 * file and updating the index, skipping a key with a queued change; the
 * known UIDs sorted; a new UIDVALIDITY dropping stale rows; the flag and
 * its queue row in one transaction (a refused write of either leaves
 * neither); apply_seen from a commit's callback, past a message whose
 * file is gone, and over more messages than one transaction takes; an
 * index of version 5 upgraded. And a timing, printed: store_imap_known over 50,000 rows.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "daemon/config.h"
#include "daemon/store.h"
#include "tap.h"

static char		 top[] = "/tmp/test-store-imap.XXXXXX";
static char		 data[128];
static struct event_base *base;
static struct store	*st;
static sqlite3		*db;		/* the test's own look at the index */

static const char	*msg = "From: a@example.org\r\nSubject: hello\r\n"
			    "\r\nbody\r\n";

static const char	*conf =
    "{\"accounts\":["
    "{\"name\":\"im\",\"email\":\"im@x.test\",\"imap\":{\"host\":\"h\","
    "\"user\":\"u\",\"password\":\"p\",\"folders\":[\"INBOX\",\"Lists\"]}},"
    "{\"name\":\"off\",\"email\":\"off@x.test\",\"imap\":{\"host\":\"h\","
    "\"user\":\"u\",\"password\":\"p\",\"sync_seen\":false}},"
    "{\"name\":\"pop\",\"email\":\"pop@x.test\",\"pop3\":{\"host\":\"h\","
    "\"user\":\"u\",\"password\":\"p\"}}]}";

/* What a commit, a request or a store_done_cb reported. */
struct wait {
	int		 done;
	int		 rc;
	char		 cause[512];
	long long	 id;		/* commit: the message's */
	json_t		*result;	/* request */
	/* apply_seen from the commit's callback */
	int		 apply;
	size_t		 changed;
	int		 apply_done, apply_rc;
	size_t		 known_then;
};

/* A store_done_cb: note it and leave the loop. */
static void
done_cb(int rc, const char *cause, void *arg)
{
	struct wait	*w = arg;

	w->done = 1;
	w->rc = rc;
	snprintf(w->cause, sizeof w->cause, "%s", cause ? cause : "");
	if (cause != NULL)
		printf("# cause: %s\n", cause);
	event_base_loopbreak(base);
}

/* apply_seen's callback when started from a commit's. */
static void
applied_cb(int rc, const char *cause, void *arg)
{
	struct wait	*w = arg;

	w->apply_done = 1;
	w->apply_rc = rc;
	if (cause != NULL)
		printf("# apply: %s\n", cause);
	event_base_loopbreak(base);
}

/* Run the loop until w is done. */
static void
wait_for(struct wait *w, int *flag)
{
	while (!*flag)
		event_base_loop(base, EVLOOP_ONCE);
	(void)w;
}

/* A commit is over: note the id; with apply, mark it seen at once. */
static void
commit_cb(int rc, const char *cause, const struct store_new *news, size_t n,
    void *arg)
{
	struct wait		*w = arg;
	struct store_imap_seen	 s = { 20, 1 };
	uint32_t		*uids;
	char			*why = NULL;

	if (cause != NULL)
		printf("# commit: %s\n", cause);
	w->rc = rc;
	w->id = n == 1 ? news[0].id : -1;
	if (w->apply && rc == 0) {
		if (store_imap_known(st, "im", "INBOX", 9, &uids,
		    &w->known_then, &why) == 0)
			free(uids);
		free(why);
		store_imap_apply_seen(st, "im", "INBOX", 9, &s, 1, &w->changed,
		    applied_cb, w);
	}
	w->done = 1;
	event_base_loopbreak(base);
}

/* Deliver one message under key; return its id, or -1. */
static long long
deliver(const char *account, const char *key, int apply, struct wait *w)
{
	struct store_msg	*m;
	char			*cause = NULL, *room;
	size_t			 len = strlen(msg), n;

	memset(w, 0, sizeof *w);
	w->apply = apply;
	if ((m = store_msg_new(st, account, NULL, &cause)) == NULL) {
		printf("# store_msg_new: %s\n", cause);
		free(cause);
		return -1;
	}
	store_msg_set_uidl(m, key);
	room = store_msg_room(m, &n);
	memcpy(room, msg, len);
	if (store_msg_fill(m, len) != 0 || store_msg_close(m, &cause) != 0) {
		printf("# store_msg_close: %s\n", cause);
		free(cause);
		store_msg_abort(m);
		return -1;
	}
	store_commit(st, &m, 1, commit_cb, w);
	wait_for(w, &w->done);
	return w->rc == 0 ? w->id : -1;
}

/* Deliver n messages imap:3:1:Archive and on in one commit: 0 or -1. */
static int
deliver_many(const char *account, size_t n)
{
	struct store_msg	**m;
	struct wait		  w;
	char			 *cause = NULL, *room, key[64];
	size_t			  len = strlen(msg), i, room_n;

	memset(&w, 0, sizeof w);
	m = calloc(n, sizeof *m);
	for (i = 0; i < n; i++) {
		if ((m[i] = store_msg_new(st, account, NULL, &cause)) == NULL) {
			printf("# store_msg_new: %s\n", cause);
			return -1;
		}
		snprintf(key, sizeof key, "imap:3:%zu:Archive", i + 1);
		store_msg_set_uidl(m[i], key);
		room = store_msg_room(m[i], &room_n);
		memcpy(room, msg, len);
		if (store_msg_fill(m[i], len) != 0 ||
		    store_msg_close(m[i], &cause) != 0) {
			printf("# store_msg_close: %s\n", cause);
			return -1;
		}
	}
	store_commit(st, m, n, commit_cb, &w);
	wait_for(&w, &w.done);
	free(m);
	return w.rc;
}

/* A store_request answer. */
static void
reply_cb(json_t *result, int code, const char *error, void *arg)
{
	struct wait	*w = arg;

	w->done = 1;
	w->rc = code;
	w->result = result;
	snprintf(w->cause, sizeof w->cause, "%s", error ? error : "");
	event_base_loopbreak(base);
}

/* Run an operation; return its code (0 or an error code). */
static int
request(const char *op, json_t *params, char *error, size_t size)
{
	struct wait	 w;

	memset(&w, 0, sizeof w);
	store_request(st, op, params, reply_cb, &w);
	json_decref(params);
	wait_for(&w, &w.done);
	json_decref(w.result);
	if (error != NULL)
		snprintf(error, size, "%s", w.cause);
	return w.rc;
}

/* mark one message read or unread. */
static int
mark(long long id, int read)
{
	return request("mark", json_pack("{s:[I], s:b}", "ids",
	    (json_int_t)id, "read", read), NULL, 0);
}

/*
 * The first column of the first row of a query, or -1; the query is a
 * format of sqlite3_mprintf (%Q quotes a string).
 */
static long long
q(const char *fmt, ...)
{
	sqlite3_stmt	*s;
	va_list		 ap;
	char		*sql;
	long long	 v = -1;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		printf("# %s: %s\n", sql, sqlite3_errmsg(db));
	else {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_free(sql);
	return v;
}

/* Run SQL on the test's connection. */
static int
sql(const char *text)
{
	char	*err = NULL;

	if (sqlite3_exec(db, text, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	printf("# %s: %s\n", text, err);
	sqlite3_free(err);
	return -1;
}

/* Does the query plan of a statement name the index? */
static int
plan_uses(const char *query, const char *index)
{
	sqlite3_stmt	*s;
	char		*text;
	int		 uses = 0;

	text = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", query);
	if (sqlite3_prepare_v2(db, text, -1, &s, NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW)
			if (strstr((const char *)sqlite3_column_text(s, 3),
			    index) != NULL)
				uses = 1;
		sqlite3_finalize(s);
	}
	sqlite3_free(text);
	return uses;
}

/* The queued state of a key of account im (-1: none). */
static long long
queued(const char *key)
{
	return q("SELECT seen FROM imap_flag_queue WHERE account = 'im' AND "
	    "key = %Q", key);
}

/*
 * Where message id is: its index row's dir and flags, and whether its
 * file is on disk exactly there (and nowhere else under new/ or cur/).
 */
static int
where(long long id, const char *want_dir, const char *want_flags)
{
	sqlite3_stmt	*s;
	struct stat	 sb;
	char		 path[1024], other[1024], dir[8] = "", flags[32] = "";
	char		 file[256] = "", account[64] = "", folder[64] = "";
	int		 good;

	if (sqlite3_prepare_v2(db, "SELECT account, folder, dir, file, flags "
	    "FROM messages WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(account, sizeof account, "%s",
		    sqlite3_column_text(s, 0));
		snprintf(folder, sizeof folder, "%s", sqlite3_column_text(s, 1));
		snprintf(dir, sizeof dir, "%s", sqlite3_column_text(s, 2));
		snprintf(file, sizeof file, "%s", sqlite3_column_text(s, 3));
		snprintf(flags, sizeof flags, "%s", sqlite3_column_text(s, 4));
	}
	sqlite3_finalize(s);
	if (strcmp(want_dir, "cur") == 0)
		snprintf(path, sizeof path, "%s/%s/%s/cur/%s:2,%s", data,
		    account, folder, file, want_flags);
	else
		snprintf(path, sizeof path, "%s/%s/%s/new/%s", data, account,
		    folder, file);
	snprintf(other, sizeof other, "%s/%s/%s/%s/%s", data, account, folder,
	    strcmp(want_dir, "cur") == 0 ? "new" : "cur", file);
	good = strcmp(dir, want_dir) == 0 && strcmp(flags, want_flags) == 0 &&
	    stat(path, &sb) == 0 && stat(other, &sb) != 0;
	if (!good)
		printf("# message %lld: index %s \"%s\", want %s \"%s\"; "
		    "%s %s\n", id, dir, flags, want_dir, want_flags, path,
		    stat(path, &sb) == 0 ? "exists" : "is missing");
	return good;
}

/* The base name of message id's file (static storage). */
static const char *
file_of(long long id)
{
	static char	 file[256];
	sqlite3_stmt	*s;

	file[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT file FROM messages WHERE id = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return file;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(file, sizeof file, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return file;
}

/* Are the UIDs (n) exactly the list given (ends with 0)? */
static int
uids_are(const uint32_t *u, size_t n, ...)
{
	va_list		 ap;
	uint32_t	 want;
	size_t		 i = 0;
	int		 same = 1;

	va_start(ap, n);
	while ((want = va_arg(ap, uint32_t)) != 0) {
		if (i >= n || u[i] != want)
			same = 0;
		i++;
	}
	va_end(ap);
	if (i != n)
		same = 0;
	if (!same) {
		printf("# got");
		for (i = 0; i < n; i++)
			printf(" %u", u[i]);
		printf("\n");
	}
	return same;
}

/* Put a folder's state; return the rc. */
static int
put(const char *account, const char *folder, uint32_t v)
{
	struct store_imap_folder f = { v, 100, 12345678901ULL, 1700000000 };
	struct wait		 w;

	memset(&w, 0, sizeof w);
	store_imap_folder_put(st, account, folder, &f, done_cb, &w);
	wait_for(&w, &w.done);
	return w.rc;
}

/* Apply server states; return the rc and the count in *changed. */
static int
apply(const char *folder, uint32_t v, const struct store_imap_seen *c,
    size_t n, size_t *changed)
{
	struct wait	 w;

	memset(&w, 0, sizeof w);
	*changed = 999;
	store_imap_apply_seen(st, "im", folder, v, c, n, changed, done_cb, &w);
	wait_for(&w, &w.done);
	return w.rc;
}

/* Remove one file or directory of the tree. */
static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* store_imap_known over 50,000 stored messages: timed, not judged. */
static void
timing(void)
{
	struct timespec	 t0, t1, c0, c1;
	sqlite3_stmt	*s;
	uint32_t	*u = NULL, i, j, tmp, *perm;
	size_t		 n = 0, k;
	char		 key[64], *cause = NULL;
	int		 run, sorted = 1, rc = 0;
	double		 ms, cpu;

	/* 50,000 of INBOX in a shuffled order, 5,000 of another folder. */
	perm = malloc(50000 * sizeof *perm);
	for (i = 0; i < 50000; i++)
		perm[i] = i + 1;
	srand(19);
	for (i = 49999; i > 0; i--) {
		j = rand() % (i + 1);
		tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	sql("BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO messages (account, folder, "
	    "file, size, uidl, added) VALUES ('big', 'Inbox', ?, 100, ?, 0)",
	    -1, &s, NULL) != SQLITE_OK)
		return;
	for (i = 0; i < 55000; i++) {
		if (i < 50000)
			snprintf(key, sizeof key, "imap:5:%u:INBOX", perm[i]);
		else
			snprintf(key, sizeof key, "imap:5:%u:Other", i);
		sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = -1;
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sql("COMMIT");
	free(perm);
	ok(rc == 0, "55,000 rows inserted for the timing");
	/* Wall and processor time: the machine may be busy. */
	for (run = 0; run < 5; run++) {
		free(u);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		rc = store_imap_known(st, "big", "INBOX", 5, &u, &n, &cause);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec -
		    t0.tv_nsec) / 1e6;
		cpu = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec -
		    c0.tv_nsec) / 1e6;
		printf("# store_imap_known: %zu UIDs of 55,000 rows in %.2f ms "
		    "(%.2f ms of processor time), run %d\n", n, ms, cpu,
		    run + 1);
	}
	for (k = 0; k < n; k++)
		if (u[k] != k + 1)
			sorted = 0;
	ok(rc == 0 && n == 50000 && sorted,
	    "store_imap_known: the 50,000 UIDs of INBOX, sorted, no others");
	free(u);
	free(cause);
}

int
main(void)
{
	struct store_imap_folder f;
	struct store_imap_flag	*fl;
	struct store_imap_seen	 c[8], many[300];
	struct config		*cf;
	struct wait		 w;
	struct stat		 sb;
	long long		 a1, a2, a3, a10, l4, o5, f1, p1, p2, n20, qid;
	long long		 n30, n31;
	long long		 ids[4];
	uint32_t		*u;
	size_t			 n, changed;
	char			 path[1024], err[512], *cause = NULL;
	int			 rc;

	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	base = event_base_new();
	snprintf(data, sizeof data, "%s/data", top);
	st = store_open(data, base, &cause);
	if (!ok(st != NULL, "store_open")) {
		printf("# %s\n", cause);
		return tap_done();
	}
	cf = config_parse(conf, strlen(conf), NULL, &cause);
	if (!ok(cf != NULL, "the configuration parses")) {
		printf("# %s\n", cause);
		return tap_done();
	}
	store_configure(st, cf, 1);
	snprintf(path, sizeof path, "%s/index.sqlite", data);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	sqlite3_busy_timeout(db, 5000);
	ok(q("PRAGMA user_version") == 10, "the index is of version 10");
	ok(q("SELECT count(*) FROM sqlite_master WHERE name IN "
	    "('messages_tmp', 'messages_folder')") == 0 && q("SELECT count(*) "
	    "FROM sqlite_master WHERE name = 'messages_by_folder'") == 1,
	    "version 10: no index by tmp name nor by (account, folder)");

	/* Out of order: known UIDs come sorted ("10" < "2" as text). */
	a3 = deliver("im", "imap:7:3:INBOX", 0, &w);
	a10 = deliver("im", "imap:7:10:INBOX", 0, &w);
	a1 = deliver("im", "imap:7:1:INBOX", 0, &w);
	a2 = deliver("im", "imap:7:2:INBOX", 0, &w);
	l4 = deliver("im", "imap:7:4:Lists", 0, &w);
	o5 = deliver("im", "imap:8:5:INBOX", 0, &w);
	f1 = deliver("off", "imap:7:1:INBOX", 0, &w);
	p1 = deliver("pop", "imap:7:1:INBOX", 0, &w);
	p2 = deliver("pop", "UIDL-2", 0, &w);
	ok(a1 > 0 && a2 > 0 && a3 > 0 && a10 > 0 && l4 > 0 && o5 > 0 &&
	    f1 > 0 && p1 > 0 && p2 > 0, "nine messages delivered");
	ok(where(a1, "new", ""), "a new message is in new/, no flags");

	/* The folder state. */
	rc = store_imap_folder_get(st, "im", "INBOX", &f, &cause);
	ok(rc == 0 && f.uidvalidity == 0, "folder_get of an unknown folder: "
	    "0, uidvalidity 0");
	ok(put("im", "INBOX", 7) == 0, "folder_put");
	rc = store_imap_folder_get(st, "im", "INBOX", &f, &cause);
	ok(rc == 0 && f.uidvalidity == 7 && f.uidnext == 100 &&
	    f.highestmodseq == 12345678901ULL && f.synced == 1700000000,
	    "folder_get returns what folder_put recorded (a 64-bit modseq)");
	rc = store_imap_folder_get(st, "off", "INBOX", &f, &cause);
	ok(rc == 0 && f.uidvalidity == 0, "... for its account only");

	/* The queue: mark and read. */
	ok(mark(a1, 1) == 0 && queued("imap:7:1:INBOX") == 1,
	    "mark --read queues seen=1");
	qid = q("SELECT id FROM imap_flag_queue WHERE key = 'imap:7:1:INBOX'");
	ok(mark(a1, 0) == 0 && queued("imap:7:1:INBOX") == 0 &&
	    q("SELECT count(*) FROM imap_flag_queue WHERE account = 'im' AND "
	    "key = 'imap:7:1:INBOX'") == 1, "mark --unread: the latest wins, "
	    "one row per key");
	ok(q("SELECT id FROM imap_flag_queue WHERE key = 'imap:7:1:INBOX'") >
	    qid, "... under a new id");
	ok(request("read", json_pack("{s:I}", "id", (json_int_t)a2), NULL,
	    0) == 0 && queued("imap:7:2:INBOX") == 1 && where(a2, "cur", "S"),
	    "read marks it read and queues seen=1");
	ok(mark(f1, 1) == 0 && q("SELECT count(*) FROM imap_flag_queue WHERE "
	    "account = 'off'") == 0 && where(f1, "cur", "S"),
	    "an account with sync_seen false: marked, nothing queued");
	ok(mark(p1, 1) == 0 && mark(p2, 1) == 0 && q("SELECT count(*) FROM "
	    "imap_flag_queue WHERE account = 'pop'") == 0,
	    "a POP3 account (even a UIDL like an IMAP key): nothing queued");
	ok(mark(l4, 1) == 0 && mark(o5, 1) == 0, "Lists and UIDVALIDITY 8 "
	    "marked read");

	/* Pending, by folder and UIDVALIDITY. */
	rc = store_imap_pending(st, "im", "INBOX", 7, &fl, &n, &cause);
	ok(rc == 0 && n == 2 && fl[0].uid == 1 && fl[0].seen == 0 &&
	    fl[1].uid == 2 && fl[1].seen == 1, "pending INBOX/7: uid 1 "
	    "unseen, uid 2 seen, by UID");
	if (rc == 0 && n == 2) {
		ids[0] = fl[0].id;
		ids[1] = fl[1].id;
	}
	store_imap_pending_free(fl);
	rc = store_imap_pending(st, "im", "INBOX", 8, &fl, &n, &cause);
	ok(rc == 0 && n == 1 && fl[0].uid == 5, "pending INBOX/8: uid 5");
	store_imap_pending_free(fl);
	rc = store_imap_pending(st, "im", "Lists", 7, &fl, &n, &cause);
	ok(rc == 0 && n == 1 && fl[0].uid == 4 && fl[0].seen == 1,
	    "pending Lists/7: uid 4");
	store_imap_pending_free(fl);
	rc = store_imap_pending(st, "im", "INBOX", 70, &fl, &n, &cause);
	ok(rc == 0 && n == 0 && fl == NULL, "pending INBOX/70 (a prefix of "
	    "nothing): none");
	rc = store_imap_pending(st, "off", "INBOX", 7, &fl, &n, &cause);
	ok(rc == 0 && n == 0, "pending of the account without sync_seen: none");

	/* Acknowledged by id: a change queued meanwhile survives. */
	ok(mark(a1, 1) == 0, "uid 1 marked read again before the "
	    "acknowledgement");
	memset(&w, 0, sizeof w);
	store_imap_pending_done(st, ids, 2, done_cb, &w);
	wait_for(&w, &w.done);
	ok(w.rc == 0 && queued("imap:7:2:INBOX") == -1,
	    "pending_done deletes an acknowledged row");
	ok(queued("imap:7:1:INBOX") == 1, "... but not the newer change of "
	    "uid 1 (a new id)");
	memset(&w, 0, sizeof w);
	store_imap_pending_done(st, NULL, 0, done_cb, &w);
	wait_for(&w, &w.done);
	ok(w.rc == 0, "pending_done of nothing");

	/* Incoming. */
	c[0] = (struct store_imap_seen){ 1, 0 };	/* queued: skipped */
	c[1] = (struct store_imap_seen){ 3, 1 };
	c[2] = (struct store_imap_seen){ 10, 1 };
	c[3] = (struct store_imap_seen){ 99, 1 };	/* not stored */
	c[4] = (struct store_imap_seen){ 2, 1 };	/* already */
	rc = apply("INBOX", 7, c, 5, &changed);
	ok(rc == 0 && changed == 2, "apply_seen: 2 changed (got %zu)",
	    changed);
	ok(where(a3, "cur", "S") && where(a10, "cur", "S"),
	    "... their files renamed into cur/ with :2,S, the index agrees");
	ok(where(a1, "cur", "S"), "... a key with a queued change left alone");
	ok(where(a2, "cur", "S"), "... one read already unchanged");
	ok(queued("imap:7:3:INBOX") == -1 && queued("imap:7:10:INBOX") == -1,
	    "... and nothing queued back for the server");
	c[0] = (struct store_imap_seen){ 3, 0 };
	ok(apply("INBOX", 7, c, 1, &changed) == 0 && changed == 1 &&
	    where(a3, "cur", ""), "apply_seen clears \\Seen: cur/FILE:2,");
	c[0] = (struct store_imap_seen){ 4, 0 };
	ok(apply("INBOX", 7, c, 1, &changed) == 0 && changed == 0 &&
	    where(l4, "cur", "S"), "a UID of another folder is not touched");
	c[0] = (struct store_imap_seen){ 5, 1 };
	ok(apply("INBOX", 7, c, 1, &changed) == 0 && changed == 0,
	    "nor a UID of another UIDVALIDITY");

	/* Known UIDs. */
	rc = store_imap_known(st, "im", "INBOX", 7, &u, &n, &cause);
	ok(rc == 0 && uids_are(u, n, 1, 2, 3, 10, 0), "known INBOX/7: "
	    "1 2 3 10");
	free(u);
	rc = store_imap_known(st, "im", "Lists", 7, &u, &n, &cause);
	ok(rc == 0 && uids_are(u, n, 4, 0), "known Lists/7: 4");
	free(u);
	rc = store_imap_known(st, "im", "INBOX", 8, &u, &n, &cause);
	ok(rc == 0 && uids_are(u, n, 5, 0), "known INBOX/8: 5");
	free(u);
	rc = store_imap_known(st, "im", "INBOX", 9, &u, &n, &cause);
	ok(rc == 0 && n == 0 && u == NULL, "known INBOX/9: none");
	ok(plan_uses("SELECT uidl FROM messages WHERE account = 'im' AND "
	    "uidl >= 'imap:7:' AND uidl < 'imap:7;'", "messages_uidl"),
	    "known reads the messages_uidl index");

	/* A new UIDVALIDITY drops the folder's stale rows. */
	ok(put("im", "Lists", 7) == 0 && queued("imap:7:4:Lists") == 1,
	    "folder_put of the same UIDVALIDITY keeps the queue");
	ok(queued("imap:7:1:INBOX") == 1 && queued("imap:8:5:INBOX") == 1,
	    "INBOX has rows under 7 and 8");
	ok(put("im", "INBOX", 9) == 0 && queued("imap:7:1:INBOX") == -1 &&
	    queued("imap:8:5:INBOX") == -1, "folder_put of UIDVALIDITY 9 "
	    "drops INBOX's rows of 7 and 8");
	ok(queued("imap:7:4:Lists") == 1, "... and no other folder's");
	rc = store_imap_folder_get(st, "im", "INBOX", &f, &cause);
	ok(rc == 0 && f.uidvalidity == 9, "folder_get: 9");

	/* The flag and its row are one transaction. */
	ok(where(a3, "cur", "") && queued("imap:7:3:INBOX") == -1,
	    "uid 3 unread, nothing queued");
	sql("CREATE TRIGGER no_queue BEFORE INSERT ON imap_flag_queue BEGIN "
	    "SELECT RAISE(ABORT, 'queue refused'); END");
	rc = request("mark", json_pack("{s:[I], s:b}", "ids", (json_int_t)a3,
	    "read", 1), err, sizeof err);
	ok(rc != 0 && strstr(err, "queue refused") != NULL,
	    "a refused queue row fails mark (%s)", err);
	ok(where(a3, "cur", "") && queued("imap:7:3:INBOX") == -1,
	    "... and the flag is not changed: file and index as before");
	sql("DROP TRIGGER no_queue");
	sql("CREATE TRIGGER no_flag BEFORE UPDATE ON messages BEGIN "
	    "SELECT RAISE(ABORT, 'flag refused'); END");
	rc = request("mark", json_pack("{s:[I], s:b}", "ids", (json_int_t)a3,
	    "read", 1), err, sizeof err);
	ok(rc != 0 && strstr(err, "flag refused") != NULL &&
	    where(a3, "cur", "") && queued("imap:7:3:INBOX") == -1,
	    "a refused flag change queues nothing");
	sql("DROP TRIGGER no_flag");
	ok(mark(a3, 1) == 0 && where(a3, "cur", "S") &&
	    queued("imap:7:3:INBOX") == 1, "then both together");

	/* apply_seen from a commit's callback finds the new message. */
	n20 = deliver("im", "imap:9:20:INBOX", 1, &w);
	wait_for(&w, &w.apply_done);
	ok(n20 > 0 && w.known_then == 1, "in the commit's callback, known "
	    "sees the new message");
	ok(w.apply_rc == 0 && w.changed == 1 && where(n20, "cur", "S"),
	    "apply_seen from the commit's callback marks it read");

	/* A message whose file is gone is skipped; the others change. */
	n30 = deliver("im", "imap:9:30:INBOX", 0, &w);
	n31 = deliver("im", "imap:9:31:INBOX", 0, &w);
	snprintf(path, sizeof path, "%s/im/Inbox/new/%s", data, file_of(n30));
	ok(n30 > 0 && n31 > 0 && unlink(path) == 0, "the file of uid 30 "
	    "removed behind the store's back");
	c[0] = (struct store_imap_seen){ 30, 1 };
	c[1] = (struct store_imap_seen){ 31, 1 };
	rc = apply("INBOX", 9, c, 2, &changed);
	ok(rc == 0 && changed == 1 && where(n31, "cur", "S"), "apply_seen "
	    "skips a message it cannot change and changes the rest (%zu)",
	    changed);

	/* More than one transaction's worth (IMAP_CHUNK) at once. */
	ok(deliver_many("im", 300) == 0, "300 messages of Archive delivered in "
	    "one commit");
	for (n = 0; n < 300; n++) {
		many[n].uid = n + 1;
		many[n].seen = 1;
	}
	rc = apply("Archive", 3, many, 300, &changed);
	ok(rc == 0 && changed == 300 && q("SELECT count(*) FROM messages "
	    "WHERE uidl LIKE 'imap:3:%%:Archive' AND flags = 'S' AND dir = "
	    "'cur'") == 300, "apply_seen of 300: all read (%zu)", changed);
	rc = store_imap_known(st, "im", "Archive", 3, &u, &n, &cause);
	ok(rc == 0 && n == 300 && u[0] == 1 && u[299] == 300,
	    "known Archive/3: 1 to 300");
	free(u);

	timing();

	/* An index of version 5 (as 5 left it) is brought to 10. */
	store_close(st);
	sql("DROP TABLE imap_folders; DROP TABLE imap_flag_queue; "
	    "DROP INDEX messages_uidl; DROP TRIGGER messages_search_gone; "
	    "DROP TRIGGER messages_search_rekey; DROP TABLE search; "
	    "DROP TABLE search_text; "
	    "DROP INDEX messages_search_key; "
	    "ALTER TABLE messages DROP COLUMN search_key; "
	    "CREATE INDEX messages_tmp ON messages (account, tmpname); "
	    "CREATE INDEX messages_folder ON messages (account, folder); "
	    "PRAGMA user_version = 5");
	st = store_open(data, base, &cause);
	ok(st != NULL && q("PRAGMA user_version") == 10 && q("SELECT count(*) "
	    "FROM sqlite_master WHERE name IN ('imap_folders', "
	    "'imap_flag_queue', 'messages_uidl', 'search', 'search_text')") ==
	    5 && q("SELECT count(*) FROM sqlite_master WHERE name IN "
	    "('messages_tmp', 'messages_folder')") == 0,
	    "an index of version 5 is upgraded to 10");
	store_close(st);

	sqlite3_close(db);
	config_free(cf);
	free(cause);
	event_base_free(base);
	if (stat(top, &sb) == 0)
		nftw(top, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
