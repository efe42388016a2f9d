/*
 * Unit test of the incremental threading (daemon/store-conversation.c)
 * through the real store: one small conversation delivered in every one
 * of its 120 orders (each order one batch, the messages recorded one
 * after the other in it) always threads the same: all five in one
 * conversation, each under the parent its headers give (a reply with only
 * In-Reply-To, one with References trimmed to its parent, one joined by
 * subject alone as a root), whichever came first.
 */
#include "autoconf.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "daemon/store.h"
#include "tap.h"

#define NMSG	5

static char	 top[] = "/tmp/test-store-conv.XXXXXX";

/* The messages: subject letter, headers after Message-ID <L.pP@x>. */
static const char *const msgs[NMSG][2] = {
	{ "A", "Subject: Hello %d\n" },
	{ "B", "Subject: Re: Hello %d\nIn-Reply-To: <A.p%d@x>\n" },
	{ "C", "Subject: Re: Hello %d\nReferences: <A.p%d@x> <B.p%d@x>\n" },
	{ "D", "Subject: Re: Hello %d\nReferences: <B.p%d@x>\n" },
	{ "E", "Subject: RE: hello  %d\n" },
};
/* Each one's parent (an index, -1: a root) and depth. */
static const int parent_of[NMSG] = { -1, 0, 1, 1, -1 };
static const int depth_of[NMSG] = { 0, 1, 2, 2, 0 };

struct wait {
	int		 done;
	long long	 ids[NMSG];
	json_t		*result;
	struct event_base *base;
};

static void
commit_cb(int rc, const char *cause, const struct store_new *news, size_t n,
    void *arg)
{
	struct wait	*w = arg;
	size_t		 i;

	if (cause != NULL)
		printf("# commit: %s\n", cause);
	for (i = 0; rc == 0 && i < n && i < NMSG; i++)
		w->ids[i] = news[i].id;
	w->done = 1;
	event_base_loopbreak(w->base);
}

static void
text_cb(char *text, size_t len, int code, const char *error, void *arg)
{
	struct wait	*w = arg;

	if (error != NULL)
		printf("# thread: %s\n", error);
	else
		w->result = json_loadb(text, len, 0, NULL);
	free(text);
	w->done = 1;
	event_base_loopbreak(w->base);
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Deliver the messages of permutation p (order[]) in one batch. */
static int
deliver(struct store *st, struct event_base *base, int p, const int *order,
    long long *ids)
{
	struct store_msg	*m[NMSG];
	struct wait		 w = { 0, { 0 }, NULL, base };
	char			 text[512], hdr[256], *cause = NULL, *room;
	size_t			 i, len, n;

	for (i = 0; i < NMSG; i++) {
		const int k = order[i];

		/* The formats are this file's own. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(hdr, sizeof hdr, msgs[k][1], p, p, p);
#pragma GCC diagnostic pop
		len = snprintf(text, sizeof text, "From: x@example.org\n"
		    "Message-ID: <%s.p%d@x>\nDate: Mon, 1 Jan 2024 10:0%d:00 "
		    "+0000\n%s\nbody\n", msgs[k][0], p, k, hdr);
		if ((m[i] = store_msg_new(st, "acct", NULL, &cause)) == NULL) {
			printf("# %s\n", cause);
			return -1;
		}
		room = store_msg_room(m[i], &n);
		memcpy(room, text, len);
		if (store_msg_fill(m[i], len) != 0 ||
		    store_msg_close(m[i], &cause) != 0)
			return -1;
	}
	store_commit(st, m, NMSG, commit_cb, &w);
	while (!w.done)
		event_base_dispatch(base);
	for (i = 0; i < NMSG; i++)
		ids[order[i]] = w.ids[i];
	return w.ids[0] != 0 ? 0 : -1;
}

/* Check one permutation's thread; return a description of what is wrong. */
static const char *
check(struct store *st, struct event_base *base, const long long *ids)
{
	static char	 why[256];
	struct wait	 w = { 0, { 0 }, NULL, base };
	json_t		*e, *params;
	size_t		 i, k;
	long long	 thread = -1;

	params = json_pack("{s:I}", "id", (json_int_t)ids[NMSG - 1]);
	store_request_text(st, "thread", params, text_cb, &w);
	json_decref(params);	/* the store holds its own reference */
	while (!w.done)
		event_base_dispatch(base);
	if (w.result == NULL)
		return "no answer";
	if (json_array_size(w.result) != NMSG) {
		snprintf(why, sizeof why, "%zu messages in the thread",
		    json_array_size(w.result));
		json_decref(w.result);
		return why;
	}
	why[0] = '\0';
	json_array_foreach(w.result, i, e) {
		long long id = json_integer_value(json_object_get(e, "id"));
		json_t *par = json_object_get(e, "parent");

		for (k = 0; k < NMSG && ids[k] != id; k++)
			;
		if (k == NMSG) {
			snprintf(why, sizeof why, "a stranger, %lld", id);
			break;
		}
		if (thread == -1)
			thread = json_integer_value(json_object_get(e,
			    "thread"));
		if (json_integer_value(json_object_get(e, "thread")) !=
		    thread) {
			snprintf(why, sizeof why, "%s in another thread",
			    msgs[k][0]);
			break;
		}
		if ((parent_of[k] == -1) != json_is_null(par) ||
		    (parent_of[k] != -1 && json_integer_value(par) !=
		    ids[parent_of[k]])) {
			snprintf(why, sizeof why, "%s: parent %lld", msgs[k][0],
			    (long long)json_integer_value(par));
			break;
		}
		if (json_integer_value(json_object_get(e, "depth")) !=
		    depth_of[k]) {
			snprintf(why, sizeof why, "%s: depth %lld", msgs[k][0],
			    (long long)json_integer_value(json_object_get(e,
			    "depth")));
			break;
		}
	}
	json_decref(w.result);
	return why[0] != '\0' ? why : NULL;
}

/* The next permutation in lexicographic order; 0 after the last. */
static int
next_perm(int *a, int n)
{
	int	 i = n - 2, j, t;

	while (i >= 0 && a[i] >= a[i + 1])
		i--;
	if (i < 0)
		return 0;
	for (j = n - 1; a[j] <= a[i]; j--)
		;
	t = a[i], a[i] = a[j], a[j] = t;
	for (i++, j = n - 1; i < j; i++, j--)
		t = a[i], a[i] = a[j], a[j] = t;
	return 1;
}

int
main(void)
{
	struct event_base	*base;
	struct store		*st;
	char			 data[64], *cause = NULL, order_s[NMSG + 1];
	const char		*why;
	int			 order[NMSG] = { 0, 1, 2, 3, 4 }, p = 0, bad = 0;
	int			 i;
	long long		 ids[NMSG];

	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	base = event_base_new();
	snprintf(data, sizeof data, "%s/data", top);
	if ((st = store_open(data, base, &cause)) == NULL) {
		ok(0, "store_open: %s", cause);
		return tap_done();
	}
	do {
		for (i = 0; i < NMSG; i++)
			order_s[i] = msgs[order[i]][0][0];
		order_s[NMSG] = '\0';
		if (deliver(st, base, p, order, ids) != 0) {
			ok(0, "delivery in the order %s", order_s);
			break;
		}
		if ((why = check(st, base, ids)) != NULL) {
			ok(0, "delivered in the order %s: %s", order_s, why);
			bad++;
		}
		p++;
	} while (next_perm(order, NMSG));
	ok(p == 120 && bad == 0, "%d orders of delivery, %d threaded as the "
	    "headers say", p, p - bad);
	store_close(st);
	event_base_free(base);
	nftw(top, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
