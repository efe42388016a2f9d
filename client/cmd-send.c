/*
 * mailctl send ... and mailctl queue [flush | cancel ID]: the outbox.
 * The message is composed and queued by the daemon; send only gathers the
 * arguments (attachment paths made absolute, the body read from a file or
 * stdin) and prints the answer.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "common/jsonrpc.h"
#include "client.h"
#include "cmds.h"
#include "draft.h"

struct send_args {
	json_t		*params;
	const char	*body_file;
	int		 have_body;
};

static int	send_go(struct client_opts *, const char *, const char *,
		    struct send_args *);

/* Read all of f into a JSON string (it must be UTF-8 text). */
static json_t *
send_read_body(FILE *f, const char *name)
{
	char	*buf = NULL;
	size_t	 len = 0, size = 0, n;
	json_t	*s;

	for (;;) {
		if (len + 65536 > size) {
			size = size ? size * 2 : 65536;
			if (size > JSONRPC_LINE_MAX) {
				fprintf(stderr, "mailctl send: %s: the body is "
				    "too large (over %d bytes); attach it "
				    "instead\n", name, JSONRPC_LINE_MAX / 2);
				free(buf);
				return NULL;
			}
			if ((buf = realloc(buf, size)) == NULL) {
				fprintf(stderr, "mailctl send: out of memory\n");
				return NULL;
			}
		}
		if ((n = fread(buf + len, 1, size - len, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "mailctl send: %s: %s\n", name,
		    strerror(errno));
		free(buf);
		return NULL;
	}
	if ((s = json_stringn(buf != NULL ? buf : "", len)) == NULL)
		fprintf(stderr, "mailctl send: %s: the body is not UTF-8 text "
		    "(attach binary data with --attach)\n", name);
	free(buf);
	return s;
}

/* Append a string to an array member of the params (made on first use). */
static int
send_append(json_t *params, const char *key, const char *value)
{
	json_t	*a = json_object_get(params, key), *s;

	if ((s = json_string(value)) == NULL) {
		fprintf(stderr, "mailctl send: --%s: not UTF-8 text\n", key);
		return EX_USAGE;
	}
	if (a == NULL) {
		a = json_array();
		json_object_set_new(params, key, a);
	}
	json_array_append_new(a, s);
	return -1;
}

/* Set a string member of the params. */
static int
send_set(json_t *params, const char *key, const char *value)
{
	json_t	*s;

	if ((s = json_string(value)) == NULL) {
		fprintf(stderr, "mailctl send: --%s: not UTF-8 text\n", key);
		return EX_USAGE;
	}
	json_object_set_new(params, key, s);
	return -1;
}

/* One option of send. */
static int
send_opt(int ch, const char *arg, void *p)
{
	struct send_args	*a = p;
	char			 path[PATH_MAX];

	switch (ch) {
	case 't':
		return send_append(a->params, "to", arg);
	case 'c':
		return send_append(a->params, "cc", arg);
	case 'b':
		return send_append(a->params, "bcc", arg);
	case 's':
		return send_set(a->params, "subject", arg);
	case 'A':
		return send_set(a->params, "account", arg);
	case 'B':
		a->have_body++;
		return send_set(a->params, "body", arg);
	case 'F':
		a->have_body++;
		a->body_file = arg;
		return -1;
	case 'a':
		/* The daemon opens it: it needs the whole path. */
		if (realpath(arg, path) == NULL) {
			fprintf(stderr, "mailctl send: --attach %s: %s\n", arg,
			    strerror(errno));
			return EX_NOINPUT;
		}
		return send_append(a->params, "attach", path);
	case 'w':
		json_object_set_new(a->params, "wait", json_true());
		return -1;
	case 'l':
		json_object_set_new(a->params, "all", json_true());
		return -1;
	case 'i':
		json_object_set_new(a->params, "inline", json_true());
		return -1;
	}
	return EX_USAGE;
}

/* Print a message's recipients and their outcome. */
static void
send_print_rcpts(json_t *m)
{
	json_t		*r;
	const char	*reply;
	size_t		 i;

	json_array_foreach(json_object_get(m, "recipients"), i, r) {
		reply = json_string_value(json_object_get(r, "reply"));
		printf("    %-8s ", json_string_value(json_object_get(r,
		    "state")));
		client_print_text(json_string_value(json_object_get(r,
		    "address")), 0, 0);
		if (reply != NULL) {
			printf(": ");
			client_print_text(reply, 0, 0);
		}
		putchar('\n');
	}
}

int
cmd_send(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "to", required_argument, NULL, 't' },
		{ "cc", required_argument, NULL, 'c' },
		{ "bcc", required_argument, NULL, 'b' },
		{ "subject", required_argument, NULL, 's' },
		{ "body", required_argument, NULL, 'B' },
		{ "body-file", required_argument, NULL, 'F' },
		{ "attach", required_argument, NULL, 'a' },
		{ "account", required_argument, NULL, 'A' },
		{ "wait", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct send_args	 a;
	int			 rc;

	memset(&a, 0, sizeof a);
	a.params = json_object();
	if ((rc = client_parse_opts(cmd, o, argc, argv, "t:c:b:s:B:F:a:A:wjh",
	    longs, send_opt, &a)) != -1) {
		json_decref(a.params);
		return rc;
	}
	if (optind != argc) {
		fprintf(stderr, "mailctl send: unexpected argument \"%s\" "
		    "(recipients go after --to)\n", argv[optind]);
		json_decref(a.params);
		return EX_USAGE;
	}
	if (json_object_get(a.params, "to") == NULL &&
	    json_object_get(a.params, "cc") == NULL &&
	    json_object_get(a.params, "bcc") == NULL &&
	    (a.have_body != 0 || !isatty(STDIN_FILENO))) {
		/* Said before the body is read; 65, as the daemon would. */
		fprintf(stderr, "mailctl send: no recipients (--to, --cc or "
		    "--bcc)\n");
		client_cmd_usage(cmd, stderr);
		json_decref(a.params);
		return EX_DATAERR;
	}
	return send_go(o, "send", "send", &a);
}

/*
 * The body: from --body, --body-file or stdin, or, with none of them and
 * a terminal on stdin, written in the editor (draft.h). 0, or a status.
 */
static int
send_body(struct client_opts *o, const char *cmd, const char *method,
    struct send_args *a, char **draft)
{
	json_t	*body;
	FILE	*f;

	*draft = NULL;
	if (a->have_body > 1) {
		fprintf(stderr, "mailctl %s: give the body once: --body, "
		    "--body-file or stdin\n", cmd);
		return EX_USAGE;
	}
	if (a->have_body == 1 && a->body_file == NULL)
		return 0;
	if (a->body_file == NULL && isatty(STDIN_FILENO))
		return draft_edit(o, cmd, method, a->params, draft);
	f = a->body_file != NULL ? fopen(a->body_file, "r") : stdin;
	if (f == NULL) {
		fprintf(stderr, "mailctl %s: %s: %s\n", cmd, a->body_file,
		    strerror(errno));
		return EX_NOINPUT;
	}
	body = send_read_body(f, a->body_file ? a->body_file : "stdin");
	if (f != stdin)
		fclose(f);
	if (body == NULL)
		return EX_DATAERR;
	json_object_set_new(a->params, "body", body);
	return 0;
}

/*
 * Get the body, queue the message with method and print the answer:
 * 0, 1 when some recipients were refused for good, or a status.
 */
static int
send_go(struct client_opts *o, const char *cmd, const char *method,
    struct send_args *a)
{
	json_t	*r, *failed = NULL, *x;
	char	*draft;
	size_t	 i;
	int	 rc, status = 0;

	/*
	 * Not found: send's account is a usage error (64); the message a
	 * reply or forward names is bad data (65), as for read and mark.
	 */
	if ((rc = send_body(o, cmd, method, a, &draft)) != 0) {
		json_decref(a->params);
		return strcmp(method, "send") == 0 ?
		    client_usage_if_unknown(o, rc) : rc;
	}
	if ((rc = client_call(o, method, a->params, &r)) != 0) {
		if (draft != NULL)
			draft_kept(cmd, draft);
		free(draft);
		return strcmp(method, "send") == 0 ?
		    client_usage_if_unknown(o, rc) : rc;
	}
	draft_sent(draft);
	free(draft);
	json_array_foreach(json_object_get(r, "recipients"), i, x) {
		if (strcmp(json_string_value(json_object_get(x, "state")),
		    "failed") == 0)
			failed = x;
	}
	if (failed != NULL)
		status = 1;	/* some recipients refused for good */
	if (o->json) {
		rc = client_print_json(r);
		json_decref(r);
		return rc ? rc : status;
	}
	if (json_is_array(json_object_get(r, "recipients"))) {
		printf("message %lld %s\n", json_integer_value(json_object_get(r,
		    "id")), json_string_value(json_object_get(r, "state")));
		send_print_rcpts(r);
	} else
		printf("queued as %lld for %lld recipient%s\n",
		    json_integer_value(json_object_get(r, "id")),
		    json_integer_value(json_object_get(r, "recipients")),
		    json_integer_value(json_object_get(r, "recipients")) == 1 ?
		    "" : "s");
	json_decref(r);
	return status;
}

/*
 * mailctl reply ID [--all] and mailctl forward ID --to ADDR...: the
 * daemon composes from the stored original; the body comes as for send.
 */
static int
send_reply(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv, int forward)
{
	static const struct option longs[] = {
		{ "all", no_argument, NULL, 'l' },
		{ "inline", no_argument, NULL, 'i' },
		{ "to", required_argument, NULL, 't' },
		{ "cc", required_argument, NULL, 'c' },
		{ "bcc", required_argument, NULL, 'b' },
		{ "body", required_argument, NULL, 'B' },
		{ "body-file", required_argument, NULL, 'F' },
		{ "attach", required_argument, NULL, 'a' },
		{ "wait", no_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct send_args	 a;
	long long		 id;
	int			 rc;

	memset(&a, 0, sizeof a);
	a.params = json_object();
	if ((rc = client_parse_opts(cmd, o, argc, argv, forward ?
	    "t:c:b:B:F:a:iwjh" : "lB:F:a:wjh", longs, send_opt, &a)) != -1) {
		json_decref(a.params);
		return rc;
	}
	if (argc - optind != 1) {
		client_cmd_usage(cmd, stderr);
		json_decref(a.params);
		return EX_USAGE;
	}
	if ((id = client_parse_id(cmd->name, "message", argv[optind])) == -1) {
		json_decref(a.params);
		return EX_USAGE;
	}
	json_object_set_new(a.params, "id", json_integer(id));
	if (forward && json_object_get(a.params, "to") == NULL &&
	    json_object_get(a.params, "cc") == NULL &&
	    json_object_get(a.params, "bcc") == NULL &&
	    (a.have_body != 0 || !isatty(STDIN_FILENO))) {
		fprintf(stderr, "mailctl forward: no recipients (--to, --cc or "
		    "--bcc)\n");
		client_cmd_usage(cmd, stderr);
		json_decref(a.params);
		return EX_DATAERR;
	}
	return send_go(o, cmd->name, cmd->name, &a);
}

int
cmd_reply(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	return send_reply(cmd, o, argc, argv, 0);
}

int
cmd_forward(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	return send_reply(cmd, o, argc, argv, 1);
}

/* Print the outbox for people. */
static void
queue_print(json_t *list)
{
	json_t		*m;
	const char	*next, *subject;
	char		 when[64];
	size_t		 i;

	if (json_array_size(list) == 0) {
		printf("the queue is empty\n");
		return;
	}
	json_array_foreach(list, i, m) {
		next = json_string_value(json_object_get(m, "next_attempt"));
		subject = json_string_value(json_object_get(m, "subject"));
		printf("%-6lld %-9s %-10s ", json_integer_value(
		    json_object_get(m, "id")), json_string_value(
		    json_object_get(m, "state")), json_string_value(
		    json_object_get(m, "account")));
		client_print_text(subject != NULL ? subject : "(no subject)",
		    0, 0);
		putchar('\n');
		printf("       %lld bytes, %lld attempt%s", json_integer_value(
		    json_object_get(m, "size")), json_integer_value(
		    json_object_get(m, "attempts")), json_integer_value(
		    json_object_get(m, "attempts")) == 1 ? "" : "s");
		if (next != NULL)
			printf(", next %s", client_local_time(next, when,
			    sizeof when));
		putchar('\n');
		send_print_rcpts(m);
	}
}

int
cmd_queue(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t		*r;
	const char	*sub;
	long long	 id = 0;
	int		 rc;

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jh",
	    (const struct option[]){ { "json", no_argument, NULL, 'j' },
	    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } },
	    NULL, NULL)) != -1)
		return rc;
	sub = optind < argc ? argv[optind] : "list";
	if (strcmp(sub, "list") == 0 && argc - optind <= 1)
		rc = client_call(o, "queue.list", NULL, &r);
	else if (strcmp(sub, "flush") == 0 && argc - optind == 1)
		rc = client_call(o, "queue.flush", NULL, &r);
	else if (strcmp(sub, "cancel") == 0 && argc - optind == 2) {
		if ((id = client_parse_id(cmd->name, "queue",
		    argv[optind + 1])) == -1)
			return EX_USAGE;
		rc = client_call(o, "queue.cancel", json_pack("{s:I}", "id",
		    (json_int_t)id), &r);
	} else {
		client_cmd_usage(cmd, stderr);
		return EX_USAGE;
	}
	if (rc != 0)
		return rc;
	if (o->json)
		rc = client_print_json(r);
	else if (strcmp(sub, "flush") == 0)
		printf("%lld message%s to retry now\n", json_integer_value(
		    json_object_get(r, "flushed")), json_integer_value(
		    json_object_get(r, "flushed")) == 1 ? "" : "s");
	else if (strcmp(sub, "cancel") == 0)
		printf("message %lld cancelled\n", id);
	else
		queue_print(r);
	json_decref(r);
	return rc;
}

/*
 * Copy stdin into a new private file beside the socket (the daemon reads
 * it from there, as the same user); return its absolute path.
 */
static char *
sendmail_spool(struct client_opts *o, int *status)
{
	char	*sock, *dir, *path, buf[65536], real[PATH_MAX];
	size_t	 n;
	int	 fd;

	*status = EX_TEMPFAIL;
	if ((sock = client_socket_path(o, status)) == NULL)
		return NULL;
	if ((dir = strrchr(sock, '/')) != NULL)
		*dir = '\0';
	if (realpath(dir != NULL ? (sock[0] != '\0' ? sock : "/") : ".",
	    real) == NULL) {
		fprintf(stderr, "mailctl sendmail: %s: %s\n", sock,
		    strerror(errno));
		free(sock);
		return NULL;
	}
	free(sock);
	if (asprintf(&path, "%s/sendmail.XXXXXX", real) == -1)
		return NULL;
	if ((fd = mkstemp(path)) == -1) {
		fprintf(stderr, "mailctl sendmail: %s: %s\n", path,
		    strerror(errno));
		free(path);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
		if (client_write_all(fd, buf, n) != 0)
			break;
	}
	if (ferror(stdin) || n > 0) {
		fprintf(stderr, "mailctl sendmail: cannot spool the message: "
		    "%s\n", strerror(errno));
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

/*
 * mailctl sendmail [-t] [-f FROM] [--account NAME] [-i] [RCPT...]: what
 * neomutt, git send-email and cron call. The account is the one named,
 * else the one whose email or alias is -f or the message's From (the
 * daemon decides), else the default, else the first. Options of sendmail that do not apply here
 * (-i, -oi, -oem, -odi, -F NAME, -v, ...) are accepted and ignored.
 */
int
cmd_sendmail(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t		*params, *to, *r;
	const char	*from = NULL, *account = NULL;
	char		*path;
	int		 i, extract = 0, rc, opts = 1;

	to = json_array();
	for (i = 1; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0) {
			opts = 0;
			continue;
		}
		if (!opts || argv[i][0] != '-' || argv[i][1] == '\0') {
			json_array_append_new(to, json_string(argv[i]));
			continue;
		}
		if (strcmp(argv[i], "-t") == 0)
			extract = 1;
		else if (strcmp(argv[i], "--account") == 0 && i + 1 < argc)
			account = argv[++i];
		else if (strncmp(argv[i], "--account=", 10) == 0)
			account = argv[i] + 10;
		else if (strncmp(argv[i], "-f", 2) == 0 ||
		    strncmp(argv[i], "-F", 2) == 0) {
			if (argv[i][2] == '\0' && i + 1 == argc) {
				client_cmd_usage(cmd, stderr);
				json_decref(to);
				return EX_USAGE;
			}
			if (argv[i][1] == 'f')
				from = argv[i][2] != '\0' ? argv[i] + 2 :
				    argv[i + 1];
			if (argv[i][2] == '\0')
				i++;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			client_cmd_usage(cmd, stdout);
			json_decref(to);
			return 0;
		} else if (strcmp(argv[i], "-i") != 0 &&
		    strncmp(argv[i], "-o", 2) != 0 &&
		    strcmp(argv[i], "-v") != 0) {
			fprintf(stderr, "mailctl sendmail: unknown option "
			    "\"%s\"\n", argv[i]);
			client_cmd_usage(cmd, stderr);
			json_decref(to);
			return EX_USAGE;
		}
	}
	if (json_array_size(to) == 0 && !extract) {
		/* Said before the message is read; 65, as the daemon would. */
		fprintf(stderr, "mailctl sendmail: no recipients (name them, "
		    "or -t to take them from the message)\n");
		client_cmd_usage(cmd, stderr);
		json_decref(to);
		return EX_DATAERR;
	}
	if ((path = sendmail_spool(o, &rc)) == NULL) {
		json_decref(to);
		return rc;
	}
	params = json_pack("{s:s, s:o, s:b}", "raw", path, "to", to,
	    "extract", extract);
	if (from != NULL)
		json_object_set_new(params, "from", json_string(from));
	if (account != NULL)
		json_object_set_new(params, "account", json_string(account));
	rc = client_call(o, "send", params, &r);
	unlink(path);		/* the daemon made its own durable copy */
	free(path);
	if (rc == 0 && o->json)
		rc = client_print_json(r);
	json_decref(r);
	return rc;
}
