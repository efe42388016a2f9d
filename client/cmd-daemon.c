/* mailctl status, mailctl reload. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"

/* Print one account server line of status. */
static void
status_server(const char *proto, json_t *s)
{
	const char	*user = json_string_value(json_object_get(s, "user"));

	if (s == NULL)
		return;
	printf("    %-5s %s:%lld tls=%s%s%s\n", proto,
	    json_string_value(json_object_get(s, "host")),
	    json_integer_value(json_object_get(s, "port")),
	    json_string_value(json_object_get(s, "tls")),
	    user != NULL ? " user=" : "", user != NULL ? user : "");
}

/* Each watched IMAP folder: in IDLE since when, or down and why. */
static void
status_watch(json_t *watch)
{
	json_t		*w;
	size_t		 i;
	char		 buf[64];
	const char	*state;

	json_array_foreach(watch, i, w) {
		state = json_string_value(json_object_get(w, "state"));
		printf("    %s: ", json_string_value(json_object_get(w,
		    "folder")));
		if (strcmp(state, "idle") == 0)
			printf("idle since %s", client_local_time(
			    json_string_value(json_object_get(w,
			    "idling_since")), buf, sizeof buf));
		else
			printf("%s", state);
		printf(", %lld syncs, %lld reconnects",
		    json_integer_value(json_object_get(w, "syncs")),
		    json_integer_value(json_object_get(w, "reconnects")));
		if (json_object_get(w, "error") != NULL)
			printf(" (last error: %s)", json_string_value(
			    json_object_get(w, "error")));
		printf("\n");
	}
}

/* Print the poll state of an account. */
static void
status_poll(json_t *p, json_t *store)
{
	json_t		*last;
	const char	*when;
	char		 buf[64];

	if (p == NULL)
		return;
	last = json_object_get(p, "last_poll");
	when = client_local_time(json_string_value(json_object_get(last,
	    "time")), buf, sizeof buf);
	if (json_is_object(last) && json_is_true(json_object_get(last, "ok")))
		printf("    last poll %s: %lld new, %lld on the server%s\n",
		    when, json_integer_value(json_object_get(last, "new")),
		    json_integer_value(json_object_get(last, "on_server")),
		    json_is_false(json_object_get(last, "listed")) ?
		    " (count and last UIDL unchanged)" : "");
	else if (json_is_object(last))
		printf("    last poll %s FAILED: %s\n", when,
		    json_string_value(json_object_get(last, "error")));
	else
		printf("    not polled yet\n");
	if (json_is_true(json_object_get(p, "polling")))
		printf("    polling now\n");
	else
		printf("    next poll %s\n", client_local_time(json_string_value(
		    json_object_get(p, "next_poll")), buf, sizeof buf));
	status_watch(json_object_get(p, "watch"));
	if (store != NULL)
		printf("    stored %lld messages, %lld bytes\n",
		    json_integer_value(json_object_get(store, "messages")),
		    json_integer_value(json_object_get(store, "bytes")));
}

/* Print status for people. */
static void
status_print(json_t *r)
{
	json_t		*accounts, *a, *q;
	size_t		 i;
	char		 up[32];
	const char	*cfg;

	client_format_duration(json_number_value(json_object_get(r, "uptime")),
	    up, sizeof up);
	cfg = json_string_value(json_object_get(r, "config"));
	printf("mailctld %s, pid %lld, up %s\n",
	    json_string_value(json_object_get(r, "version")),
	    json_integer_value(json_object_get(r, "pid")), up);
	printf("  config:   %s\n", cfg ? cfg : "(none, defaults)");
	printf("  socket:   %s\n",
	    json_string_value(json_object_get(r, "socket")));
	printf("  data dir: %s\n",
	    json_string_value(json_object_get(r, "data_dir")));
	accounts = json_object_get(r, "accounts");
	printf("  accounts: %zu\n", json_array_size(accounts));
	json_array_foreach(accounts, i, a) {
		printf("  %s <%s>\n",
		    json_string_value(json_object_get(a, "name")),
		    json_string_value(json_object_get(a, "email")));
		status_server("pop3", json_object_get(a, "pop3"));
		status_server("imap", json_object_get(a, "imap"));
		status_server("smtp", json_object_get(a, "smtp"));
		status_poll(json_object_get(a, "poll"),
		    json_object_get(a, "store"));
	}
	if ((q = json_object_get(r, "queue")) != NULL)
		printf("  queue:    %lld queued, %lld sending, %lld deferred, "
		    "%lld failed\n", json_integer_value(json_object_get(q,
		    "queued")), json_integer_value(json_object_get(q,
		    "sending")), json_integer_value(json_object_get(q,
		    "deferred")), json_integer_value(json_object_get(q,
		    "failed")));
}

/* mailctl status [--json] */
int
cmd_status(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t	*r;
	int	 rc;

	if ((rc = client_parse_common(cmd, o, argc, argv)) != -1)
		return rc;
	if ((rc = client_call(o, "status", NULL, &r)) != 0)
		return rc;
	if (o->json)
		rc = client_print_json(r);
	else
		status_print(r);
	json_decref(r);
	return rc;
}

/* mailctl reload [--json] */
int
cmd_reload(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t	*r;
	int	 rc;

	if ((rc = client_parse_common(cmd, o, argc, argv)) != -1)
		return rc;
	if ((rc = client_call(o, "reload", NULL, &r)) != 0)
		return rc;
	if (o->json)
		rc = client_print_json(r);
	else
		printf("configuration reloaded: %lld account%s\n",
		    json_integer_value(json_object_get(r, "accounts")),
		    json_integer_value(json_object_get(r, "accounts")) == 1 ?
		    "" : "s");
	json_decref(r);
	return rc;
}
