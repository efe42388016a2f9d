/* mailctl watch [--json]: print the daemon's events until interrupted. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/jsonrpc.h"
#include "client.h"
#include "cmds.h"

/* Get a string field or "". */
static const char *
watch_str(json_t *o, const char *key)
{
	const char	*v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "";
}

/* The strings of an array member, comma-separated, into buf. */
static const char *
watch_list(json_t *o, const char *key, char *buf, size_t size)
{
	json_t	*v;
	size_t	 i;

	buf[0] = '\0';
	json_array_foreach(json_object_get(o, key), i, v)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s",
		    i > 0 ? ", " : "", json_string_value(v) ?
		    json_string_value(v) : "");
	return buf;
}

/* Print one event for people: local time, then what happened. */
static void
watch_print(json_t *ev)
{
	const char	*type = watch_str(ev, "type");
	char		 buf[32], next[32], rcpts[1024], failed[1024];
	const char	*when;
	long long	 id = json_integer_value(json_object_get(ev, "id"));

	when = client_local_time(json_string_value(json_object_get(ev,
	    "time")), buf, sizeof buf);
	if (strcmp(type, "new_mail") == 0)
		printf("%s  new mail  %s/%s #%lld  %s: %s\n", when,
		    watch_str(ev, "account"), watch_str(ev, "folder"),
		    json_integer_value(json_object_get(ev, "id")),
		    watch_str(ev, "from"), watch_str(ev, "subject"));
	else if (strcmp(type, "poll_failed") == 0)
		printf("%s  poll failed  %s: %s\n", when,
		    watch_str(ev, "account"), watch_str(ev, "error"));
	else if (strcmp(type, "reloaded") == 0)
		printf("%s  configuration reloaded (%lld accounts)\n", when,
		    json_integer_value(json_object_get(ev, "accounts")));
	else if (strcmp(type, "sent") == 0) {
		watch_list(ev, "failed", failed, sizeof failed);
		printf("%s  sent  %s #%lld to %s%s%s%s\n", when,
		    watch_str(ev, "account"), id, watch_list(ev, "recipients",
		    rcpts, sizeof rcpts), *failed ? " (refused: " : "",
		    failed, *failed ? ")" : "");
	} else if (strcmp(type, "deferred") == 0)
		printf("%s  deferred  %s #%lld to %s until %s: %s\n", when,
		    watch_str(ev, "account"), id, watch_list(ev, "recipients",
		    rcpts, sizeof rcpts), client_local_time(json_string_value(
		    json_object_get(ev, "next_attempt")), next, sizeof next),
		    watch_str(ev, "reply"));
	else if (strcmp(type, "send_failed") == 0)
		printf("%s  send failed  %s #%lld to %s: %s\n", when,
		    watch_str(ev, "account"), id, watch_list(ev, "recipients",
		    rcpts, sizeof rcpts), watch_str(ev, "reply"));
	else {
		char	*s = json_dumps(ev, JSON_COMPACT);

		printf("%s  %s  %s\n", when, type, s ? s : "");
		free(s);
	}
	fflush(stdout);
}

int
cmd_watch(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	struct jsonrpc_framer	*f;
	json_t			*req, *msg;
	const char		*line;
	char			 buf[65536], *out, *cause = NULL;
	size_t			 len;
	ssize_t			 n;
	int			 rc, fd, status, subscribed = 0;

	if ((rc = client_parse_common(cmd, o, argc, argv)) != -1)
		return rc;
	if ((fd = client_connect(o, &status)) == -1)
		return status;
	req = jsonrpc_request_new("subscribe", NULL, 1);
	out = jsonrpc_encode(req, &len);
	json_decref(req);
	rc = client_write_all(fd, out, len);
	free(out);
	if (rc != 0) {
		fprintf(stderr, "mailctl: write: %s\n", strerror(errno));
		close(fd);
		return EX_IOERR;
	}
	f = jsonrpc_framer_new(JSONRPC_LINE_MAX);
	status = EX_UNAVAILABLE;
	for (;;) {
		rc = jsonrpc_framer_next(f, &line, &len);
		if (rc == JSONRPC_FRAME_TOOLONG) {
			fprintf(stderr, "mailctl: an event is too long\n");
			status = EX_PROTOCOL;
			break;
		}
		if (rc == JSONRPC_FRAME_MORE) {
			if ((n = read(fd, buf, sizeof buf)) == -1 &&
			    errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "mailctl: mailctld closed the "
				    "connection\n");
				break;
			}
			jsonrpc_framer_feed(f, buf, n);
			continue;
		}
		if ((msg = jsonrpc_parse(line, len, &cause)) == NULL) {
			fprintf(stderr, "mailctl: bad event: %s\n", cause);
			free(cause);
			cause = NULL;
			continue;
		}
		if (!subscribed && json_object_get(msg, "error") != NULL) {
			fprintf(stderr, "mailctl: %s\n", watch_str(
			    json_object_get(msg, "error"), "message"));
			json_decref(msg);
			status = EX_UNAVAILABLE;
			break;
		}
		if (json_object_get(msg, "result") != NULL)
			subscribed = 1;
		else if (o->json)
			client_print_json(json_object_get(msg, "params"));
		else
			watch_print(json_object_get(msg, "params"));
		json_decref(msg);
	}
	jsonrpc_framer_free(f);
	close(fd);
	return status;
}
