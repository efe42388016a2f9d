/*
 * Unit tests of the store (daemon/store*.c) in a temporary data directory
 * with a real event loop: a delivery committed through the writer thread
 * and counted; store_recover on a healthy account (0, an unfinished file
 * in tmp/ removed, a recorded one moved into the folder its row names);
 * and a broken layout (an account, a tmp/ or the data directory that is a
 * regular file; an index that is a directory), where store_recover,
 * store_expect and store_open fail with a cause that names the problem.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "daemon/store.h"
#include "tap.h"

static char	 top[] = "/tmp/test-store.XXXXXX";

/* What a commit reported. */
struct commit {
	int		 done;
	int		 rc;
	size_t		 n;
	struct event_base *base;
};

/* A commit is over: note it and leave the loop. */
static void
commit_cb(int rc, const char *cause, const struct store_new *news, size_t n,
    void *arg)
{
	struct commit	*c = arg;

	if (cause != NULL)
		printf("# commit: %s\n", cause);
	c->done = 1;
	c->rc = rc;
	c->n = n;
	event_base_loopbreak(c->base);
}

/* Write a small file at top/path. */
static void
put(const char *path, const char *text)
{
	char	 full[1024];
	FILE	*f;

	snprintf(full, sizeof full, "%s/%s", top, path);
	if ((f = fopen(full, "w")) == NULL) {
		perror(full);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Make the directory top/path. */
static void
dir(const char *path)
{
	char	 full[1024];

	snprintf(full, sizeof full, "%s/%s", top, path);
	if (mkdir(full, 0700) != 0) {
		perror(full);
		exit(1);
	}
}

/* Does top/path exist? */
static int
exists(const char *path)
{
	char		 full[1024];
	struct stat	 sb;

	snprintf(full, sizeof full, "%s/%s", top, path);
	return stat(full, &sb) == 0;
}

/* Does cause hold every one of the strings (NULL-terminated)? */
static int
names(const char *cause, ...)
{
	va_list		 ap;
	const char	*s;
	int		 all = cause != NULL;

	va_start(ap, cause);
	while ((s = va_arg(ap, const char *)) != NULL)
		if (all && strstr(cause, s) == NULL)
			all = 0;
	va_end(ap);
	if (!all)
		printf("# cause: %s\n", cause != NULL ? cause : "(none)");
	return all;
}

/* Remove one file or directory of the tree. */
static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Deliver one message to account through the writer; return the commit. */
static struct commit
deliver(struct store *st, struct event_base *base, const char *account,
    const char *uidl, const char *text)
{
	struct commit		 c = { 0, -1, 0, base };
	struct store_msg	*m;
	char			*cause = NULL, *room;
	size_t			 len = strlen(text), n;

	if ((m = store_msg_new(st, account, uidl, &cause)) == NULL) {
		printf("# store_msg_new: %s\n", cause);
		free(cause);
		return c;
	}
	room = store_msg_room(m, &n);
	memcpy(room, text, len < n ? len : n);
	if (store_msg_fill(m, len < n ? len : n) != 0 ||
	    store_msg_close(m, &cause) != 0) {
		printf("# store_msg_close: %s\n", cause);
		free(cause);
		store_msg_abort(m);
		return c;
	}
	store_commit(st, &m, 1, commit_cb, &c);
	while (!c.done)
		event_base_dispatch(base);
	return c;
}

int
main(void)
{
	struct event_base	*base;
	struct store		*st;
	struct commit		 c;
	sqlite3			*db;
	char			 data[64], path[1024], *cause = NULL;
	const char		*msg = "From: a@example.org\r\n"
				    "Subject: hello\r\n\r\nbody\r\n";
	int64_t			 n, bytes;
	int			 rc;

	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	base = event_base_new();
	snprintf(data, sizeof data, "%s/data", top);

	st = store_open(data, base, &cause);
	if (!ok(st != NULL, "store_open on a new data directory")) {
		printf("# %s\n", cause);
		return tap_done();
	}
	ok(store_recover(st, "nobody", &cause) == 0 && cause == NULL,
	    "store_recover of an account with no Maildir yet: 0");

	/* A healthy account: one message delivered and counted. */
	c = deliver(st, base, "good", "uidl-1", msg);
	ok(c.done && c.rc == 0 && c.n == 1, "a delivery is committed");
	rc = store_count(st, "good", &n, &bytes);
	ok(rc == 0 && n == 1 && bytes == (int64_t)strlen(msg),
	    "store_count: %lld message, %lld bytes", (long long)n,
	    (long long)bytes);
	ok(store_seen(st, "good", &cause) != NULL, "store_seen of the account");
	store_close(st);

	/*
	 * What a crash leaves: an unfinished file the index does not know,
	 * and a recorded one (as after step 3) still in Inbox/tmp, its row
	 * naming Work.
	 */
	put("data/good/Inbox/tmp/1.M1P1Q1.host", "unfinished");
	put("data/good/Inbox/tmp/2.M2P2Q2.host", msg);
	put("data/good/Inbox/tmp/notours", "kept");
	snprintf(path, sizeof path, "%s/index.sqlite", data);
	rc = sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db,
	    "INSERT INTO messages (account, folder, file, size, added) "
	    "VALUES ('good', 'Work', '2.M2P2Q2.host,S=42', 42, 0)", NULL,
	    NULL, NULL) == SQLITE_OK;
	sqlite3_close(db);
	ok(rc, "a row for the recorded file");

	st = store_open(data, base, &cause);
	ok(st != NULL, "store_open again");
	rc = store_recover(st, "good", &cause);
	ok(rc == 0 && cause == NULL, "store_recover on a healthy account: 0");
	ok(!exists("data/good/Inbox/tmp/1.M1P1Q1.host"),
	    "the unfinished file is removed");
	ok(!exists("data/good/Inbox/tmp/2.M2P2Q2.host") &&
	    exists("data/good/Work/new/2.M2P2Q2.host,S=42"),
	    "the recorded file is moved into the new/ of its folder");
	ok(exists("data/good/Inbox/tmp/notours"),
	    "a file not named like ours is left alone");
	ok(store_recover(st, "good", &cause) == 0, "store_recover runs once");

	/* An account that is a regular file. */
	put("data/flat", "not a directory");
	rc = store_recover(st, "flat", &cause);
	ok(rc == -1 && names(cause, "flat", "Not a directory", NULL),
	    "store_recover of an account that is a file: -1 and a cause");
	free(cause);
	cause = NULL;

	/* A folder whose tmp/ is a regular file. */
	dir("data/broken");
	dir("data/broken/Work");
	dir("data/broken/Work/new");
	dir("data/broken/Work/cur");
	put("data/broken/Work/tmp", "not a directory");
	put("data/broken/stray", "a file beside the folders is no folder");
	rc = store_recover(st, "broken", &cause);
	ok(rc == -1 && names(cause, "broken", "broken/Work/tmp",
	    "Not a directory", NULL),
	    "store_recover with a tmp/ that is a file: -1 and a cause");
	free(cause);
	cause = NULL;

	/* The Inbox's tmp/ is a regular file: no delivery. */
	dir("data/noinbox");
	dir("data/noinbox/Inbox");
	put("data/noinbox/Inbox/tmp", "not a directory");
	rc = store_expect(st, "noinbox", 3, &cause);
	ok(rc == -1 && names(cause, "noinbox/Inbox/tmp", "Not a directory",
	    NULL), "store_expect with an Inbox tmp/ that is a file names it");
	free(cause);
	cause = NULL;
	store_close(st);

	/* The data directory is a regular file. */
	put("file", "not a directory");
	snprintf(path, sizeof path, "%s/file", top);
	st = store_open(path, base, &cause);
	ok(st == NULL && names(cause, path, "Not a directory", NULL),
	    "store_open on a data directory that is a file: NULL and a cause");
	store_close(st);
	free(cause);
	cause = NULL;

	/* The index is a directory. */
	dir("data2");
	dir("data2/index.sqlite");
	snprintf(path, sizeof path, "%s/data2", top);
	st = store_open(path, base, &cause);
	ok(st == NULL && names(cause, "index.sqlite", NULL),
	    "store_open with an index that is a directory: NULL and a cause");
	store_close(st);
	free(cause);

	event_base_free(base);
	nftw(top, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
