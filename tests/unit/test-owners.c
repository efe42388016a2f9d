/*
 * The owners of sessions, account.c and queue.c, run alone on a loop of
 * their own with a real store, a real bus and a configuration file: no
 * daemon, nothing stubbed. Their server is a port nobody listens on, so
 * what is checked is what they do with a failure: a poll ends with a
 * network error (password_command run first), reported to the fetch
 * waiter, to the bus (BUS_POLL_DONE) and in account_status; a queued
 * message is durable, then deferred: the waiter hears a temporary
 * failure, the bus BUS_DEFERRED with its recipient, queue_list shows it
 * (and, asked before the outbox is loaded, waits for the load);
 * and both stop while the store still records the outcome (the queue once
 * crashed on that answer, arriving after queue_shutdown).
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/jsonrpc.h"
#include "common/log.h"
#include "daemon/account.h"
#include "daemon/bus.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/pop3.h"
#include "daemon/proc.h"
#include "daemon/queue.h"
#include "daemon/store.h"
#include "tap.h"

static struct event_base *base;
static char	 top[] = "/tmp/test-owners.XXXXXX";

/* What the bus told. */
static int	 nevents[BUS_NTYPES];
static char	 poll_kind[32], deferred_rcpt[64], ran[8];

/* What a waiter was told. */
static int	 poll_done;
static char	 poll_error[32];
static int	 add_done, add_code;
static char	 add_error[256];

static int
heard_cb(const struct bus_event *ev, void *arg)
{
	(void)arg;
	nevents[ev->type]++;
	if (ev->type == BUS_POLL_DONE)
		snprintf(poll_kind, sizeof poll_kind, "%s",
		    ev->error_kind ? ev->error_kind : "ok");
	if (ev->type == BUS_DEFERRED && ev->nrcpts == 1)
		snprintf(deferred_rcpt, sizeof deferred_rcpt, "%s",
		    ev->rcpts[0]);
	return 0;
}

static void
polled_cb(const char *account, const struct account_result *r, double secs,
    void *arg)
{
	(void)account;
	(void)secs;
	(void)arg;
	poll_done = 1;
	snprintf(poll_error, sizeof poll_error, "%s", r->ok ? "ok" :
	    r->error_kind);
	event_base_loopbreak(base);
}

/* queue_list's answer: kept in list (or NULL), list_done set. */
static json_t	*list;
static int	 list_done;

static void
listed_cb(json_t *result, int code, const char *error, void *arg)
{
	(void)code;
	(void)error;
	(void)arg;
	list_done = 1;
	list = result;
	event_base_loopbreak(base);
}

static void
added_cb(json_t *result, int code, const char *error, void *arg)
{
	(void)arg;
	add_done = 1;
	add_code = code;
	snprintf(add_error, sizeof add_error, "%s", error ? error : "");
	json_decref(result);
	event_base_loopbreak(base);
}

/* Run the loop until *flag is set, 30 s at most. */
static void
run_until(const int *flag)
{
	struct timeval	 tv = { 30, 0 };

	if (*flag)
		return;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* A TCP port on 127.0.0.1 nobody listens on. */
static int
closed_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		exit(99);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

int
main(void)
{
	struct config	*cf;
	struct store	*st;
	struct bus	*bus;
	json_t		*params, *last, *status;
	char		 path[512], *cause = NULL;
	FILE		*f;
	int		 port;

	log_init("test-owners", 0);
	if (mkdtemp(top) == NULL)
		return 99;
	port = closed_port();
	snprintf(path, sizeof path, "%s/config.json", top);
	f = fopen(path, "w");
	fprintf(f, "{\"data_dir\": \"%s/data\", \"socket\": \"%s/s.sock\", "
	    "\"poll_at_start\": false, \"queue\": {\"retry_min\": 600}, "
	    "\"accounts\": [{\"name\": \"a\", \"email\": \"a@example.test\", "
	    "\"pop3\": {\"host\": \"127.0.0.1\", \"port\": %d, \"tls\": "
	    "\"none\", \"user\": \"a\", \"password_command\": [\"sh\", "
	    "\"-c\", \"printf x > %s/ran; echo pw\"], \"timeout\": 10}, "
	    "\"smtp\": {\"host\": \"127.0.0.1\", \"port\": %d, \"tls\": "
	    "\"none\", \"user\": \"a\", \"password\": \"pw\", "
	    "\"timeout\": 10}}]}\n", top, top, port, top, port);
	fclose(f);
	chmod(path, 0600);	/* it holds a password */
	if ((cf = config_load(path, 1, &cause)) == NULL) {
		printf("# config: %s\n", cause);
		return 99;
	}

	base = event_base_new();
	conn_init(base);
	proc_init(base);
	if ((st = store_open(cf->data_dir, base, &cause)) == NULL) {
		printf("# store: %s\n", cause);
		return 99;
	}
	store_configure(st, cf, 1);
	bus = bus_new();
	bus_subscribe(bus, "test", heard_cb, NULL);

	/* account.c: a poll to a server that is not there. */
	account_init(base, st, bus, cf);
	ok(account_poll_now("nosuch", polled_cb, NULL) == -1,
	    "no poll for an account that is not configured");
	ok(account_poll_now("a", polled_cb, NULL) == 0, "a poll starts");
	run_until(&poll_done);
	snprintf(path, sizeof path, "%s/ran", top);
	f = fopen(path, "r");
	ran[0] = '\0';
	if (f != NULL) {
		fgets(ran, sizeof ran, f);
		fclose(f);
	}
	ok(strcmp(ran, "x") == 0, "password_command ran for the poll");
	ok(poll_done && strcmp(poll_error, "network") == 0,
	    "the fetch waiter hears a network error (%s)", poll_error);
	ok(nevents[BUS_POLL_DONE] == 1 && strcmp(poll_kind, "network") == 0,
	    "the bus hears the poll's end, with error_kind network (%s)",
	    poll_kind);
	status = account_status("a");
	last = json_object_get(status, "last_poll");
	ok(last != NULL && json_is_false(json_object_get(last, "ok")),
	    "account_status shows the failed poll");
	json_decref(status);

	/* queue.c: a message for a server that is not there. */
	snprintf(path, sizeof path, "%s/msg.eml", top);
	f = fopen(path, "w");
	fputs("From: a@example.test\nTo: b@example.test\nSubject: hi\n\n"
	    "hello\n", f);
	fclose(f);
	queue_init(base, st, bus, cf);
	queue_list(listed_cb, NULL);
	ok(!list_done, "queue_list before the outbox is loaded waits");
	run_until(&list_done);
	ok(list != NULL && json_array_size(list) == 0,
	    "and answers once it is (empty here)");
	json_decref(list);
	list_done = 0;
	params = json_pack("{s:s, s:s, s:[s], s:s, s:b}", "account", "a",
	    "sender", "a@example.test", "rcpts", "b@example.test", "raw",
	    path, "extract", 0);
	queue_add(params, 1, added_cb, NULL);
	json_decref(params);
	run_until(&add_done);
	ok(add_done && add_code == JSONRPC_ERR_TEMPFAIL &&
	    strstr(add_error, "deferred") != NULL,
	    "send --wait hears a temporary failure: %s", add_error);
	ok(nevents[BUS_DEFERRED] == 1 &&
	    strcmp(deferred_rcpt, "b@example.test") == 0,
	    "the bus hears the deferral, with its recipient");
	ok(nevents[BUS_SENT] == 0 && nevents[BUS_SEND_FAILED] == 0,
	    "nothing sent, nothing failed for good");
	queue_list(listed_cb, NULL);
	ok(list_done && json_array_size(list) == 1 && strcmp(json_string_value(
	    json_object_get(json_array_get(list, 0), "state")),
	    "deferred") == 0, "queue_list shows the message deferred");
	json_decref(list);

	queue_shutdown();
	account_shutdown();
	store_close(st);
	bus_free(bus);
	proc_shutdown();
	conn_shutdown();
	config_free(cf);
	event_base_free(base);
	snprintf(path, sizeof path, "rm -rf %s", top);
	if (system(path) != 0)
		printf("# cannot remove %s\n", top);
	return tap_done();
}
