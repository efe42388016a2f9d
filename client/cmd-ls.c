/*
 * mailctl ls: the message list for people, one line per message, fitted to
 * the terminal's width, through a pager when it is longer than the screen.
 * Text from messages is printed with control characters replaced.
 * mailctl search prints its hits the same way, each with its snippet
 * below it.
 */
#include "autoconf.h"

#include <sys/ioctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "common/xmalloc.h"
#include "client.h"
#include "cmds.h"

#define LS_DATE_WIDTH	16	/* "YYYY-MM-DD HH:MM" */
#define LS_SIZE_WIDTH	8	/* "1023.9 KB" fits most */
#define LS_NAME_MAX	12	/* account and folder columns at most */

struct ls_args {
	json_t	*params;
	int	 no_pager;
};

/* The column widths of one listing. */
struct ls_layout {
	int	 id;
	int	 account;	/* 0: one account, no column */
	int	 folder;
	int	 from;
	int	 subject;
};

/* A string member of an object, or NULL. */
static const char *
ls_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* One option of ls. */
static int
ls_opt(int ch, const char *arg, void *p)
{
	struct ls_args	*a = p;
	char		*end;
	long long	 n;

	switch (ch) {
	case 'u':
		json_object_set_new(a->params, "unread", json_true());
		return -1;
	case 'a':
		json_object_set_new(a->params, "account", json_string(arg));
		return -1;
	case 'P':
		a->no_pager = 1;
		return -1;
	case 't':
		json_object_set_new(a->params, "threads", json_true());
		return -1;
	case 'l':
	case 'o':
		n = strtoll(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || n < 0) {
			fprintf(stderr, "mailctl ls: --%s: expected a number "
			    ">= 0\n", ch == 'l' ? "limit" : "offset");
			return EX_USAGE;
		}
		json_object_set_new(a->params, ch == 'l' ? "limit" : "offset",
		    json_integer(n));
		return -1;
	}
	return EX_USAGE;
}

/*
 * The sender as it fits width columns: the whole From when it fits, else
 * the display name alone, else the address alone; a cut one is cut at a
 * character boundary by client_print_text. The result is in buf or from.
 */
static const char *
ls_sender(const char *from, int width, char *buf, size_t size)
{
	const char	*lt, *gt, *name, *end;

	if (from == NULL)
		return "-";
	if (client_text_width(from) <= width)
		return from;
	if ((lt = strrchr(from, '<')) == NULL ||
	    (gt = strchr(lt, '>')) == NULL)
		return from;
	name = from;
	end = lt;
	while (name < end && (*name == ' ' || *name == '"'))
		name++;
	while (end > name && (end[-1] == ' ' || end[-1] == '"'))
		end--;
	if (end > name) {
		snprintf(buf, size, "%.*s", (int)(end - name), name);
		if (client_text_width(buf) <= width)
			return buf;
	}
	snprintf(buf, size, "%.*s", (int)(gt - lt - 1), lt + 1);
	if (client_text_width(buf) <= width || end == name)
		return buf;
	snprintf(buf, size, "%.*s", (int)(end - name), name);
	return buf;
}

/* The widest value of key over the list, at most max. */
static int
ls_widest(json_t *list, const char *key, int max)
{
	json_t	*m;
	size_t	 i;
	int	 w, widest = 0;

	json_array_foreach(list, i, m) {
		w = client_text_width(ls_str(m, key) ? ls_str(m, key) : "-");
		if (w > widest)
			widest = w;
	}
	return widest < max ? widest : max;
}

/* Lay the columns out for a terminal of width columns. */
static void
ls_layout(json_t *list, int width, struct ls_layout *l)
{
	json_t		*m;
	const char	*first = NULL, *acct;
	long long	 maxid = 1;
	size_t		 i;
	int		 rest;

	memset(l, 0, sizeof *l);
	json_array_foreach(list, i, m) {
		if (json_integer_value(json_object_get(m, "id")) > maxid)
			maxid = json_integer_value(json_object_get(m, "id"));
		acct = ls_str(m, "account") ? ls_str(m, "account") : "";
		if (first == NULL)
			first = acct;
		else if (strcmp(first, acct) != 0)
			l->account = 1;
	}
	for (l->id = 1; maxid >= 10; maxid /= 10)
		l->id++;
	if (l->account)
		l->account = ls_widest(list, "account", LS_NAME_MAX);
	l->folder = ls_widest(list, "folder", LS_NAME_MAX);
	/* id, flags, [account], folder, date, from, subject, size. */
	rest = width - (l->id + 1 + 3 + 1 + (l->account ? l->account + 2 : 0) +
	    l->folder + 2 + LS_DATE_WIDTH + 2 + 2 + 2 + LS_SIZE_WIDTH);
	if (rest < 20)
		rest = 20;	/* too narrow: let the line wrap */
	l->from = rest * 2 / 5 > 30 ? 30 : rest * 2 / 5;
	if (ls_widest(list, "from", l->from) < l->from)
		l->from = ls_widest(list, "from", l->from);
	l->subject = rest - l->from;
	if (ls_widest(list, "subject", l->subject) < l->subject)
		l->subject = ls_widest(list, "subject", l->subject);
	if (l->subject < 12)
		l->subject = 12;	/* "(no subject)" */
}

/* Does a message have a Maildir flag? */
static int
ls_flag(const char *flags, char flag)
{
	return flags != NULL && strchr(flags, flag) != NULL;
}

/* Print one message line. */
static void
ls_print(json_t *m, const struct ls_layout *l)
{
	const char	*flags = ls_str(m, "flags"), *subject;
	char		 when[64], size[32], sender[512];

	/* As mutt: N unread, else r replied, f forwarded; F flagged. */
	printf("%*lld %c%c%c ", l->id, json_integer_value(json_object_get(m,
	    "id")), !json_is_true(json_object_get(m, "read")) ? 'N' :
	    ls_flag(flags, 'R') ? 'r' : ls_flag(flags, 'P') ? 'f' : ' ',
	    ls_flag(flags, 'F') ? 'F' : ' ', json_integer_value(
	    json_object_get(m, "attachments")) > 0 ? '@' : ' ');
	if (l->account > 0) {
		client_print_text(ls_str(m, "account"), l->account, 0);
		printf("  ");
	}
	client_print_text(ls_str(m, "folder"), l->folder, 0);
	printf("  %-*.16s  ", LS_DATE_WIDTH, client_local_time(ls_str(m,
	    "date"), when, sizeof when));
	client_print_text(ls_sender(ls_str(m, "from"), l->from, sender,
	    sizeof sender), l->from, 0);
	printf("  ");
	subject = ls_str(m, "subject");
	client_print_text(subject != NULL && *subject != '\0' ? subject :
	    "(no subject)", l->subject, 0);
	printf("  %*s\n", LS_SIZE_WIDTH, client_format_size(json_integer_value(
	    json_object_get(m, "size")), size, sizeof size));
}

/*
 * When stdout is a terminal and lines do not fit on its screen, start
 * $PAGER (default "less -FRX"; empty: none) on it. Return the pager's pid,
 * or 0 when there is none.
 */
static pid_t
ls_pager_start(size_t lines)
{
	struct winsize	 ws;
	const char	*pager;
	size_t		 rows = 24;
	pid_t		 pid;
	int		 fds[2];

	if (!isatty(STDOUT_FILENO))
		return 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		rows = ws.ws_row;
	if (lines < rows)
		return 0;	/* fits, with the prompt below */
	if ((pager = getenv("PAGER")) == NULL)
		pager = "less -FRX";
	if (*pager == '\0')
		return 0;
	if (pipe2(fds, O_CLOEXEC) == -1)
		return 0;
	fflush(stdout);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return 0;
	}
	if (pid == 0) {
		if (dup2(fds[0], STDIN_FILENO) == -1)
			_exit(127);
		execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
		fprintf(stderr, "mailctl: /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	dup2(fds[1], STDOUT_FILENO);
	close(fds[1]);
	/* Ctrl-C is the pager's to handle; we wait for it to end. */
	signal(SIGINT, SIG_IGN);
	return pid;
}

/* Close the pager's input and wait until the user leaves it. */
static void
ls_pager_end(pid_t pid)
{
	if (pid == 0)
		return;
	fflush(stdout);
	close(STDOUT_FILENO);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/*
 * Put text before each entry's subject: how ls --threads and thread show
 * what a listing line alone cannot (a conversation's counts, a reply's
 * depth), in the columns ls lays out.
 */
void
ls_prefix_subject(json_t *m, const char *prefix)
{
	const char	*subject = ls_str(m, "subject");
	char		*s;

	xasprintf(&s, "%s%s", prefix, subject != NULL && *subject != '\0' ?
	    subject : "(no subject)");
	json_object_set_new(m, "subject", json_string(s));
	free(s);
}

/* Print a listing for people (through a pager when it is long). */
void
ls_show(json_t *list, int no_pager)
{
	struct ls_layout l;
	json_t		*m;
	size_t		 i;
	pid_t		 pager;

	ls_layout(list, client_term_width(), &l);
	pager = no_pager ? 0 : ls_pager_start(json_array_size(list));
	json_array_foreach(list, i, m)
		ls_print(m, &l);
	ls_pager_end(pager);
}

int
cmd_ls(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "unread", no_argument, NULL, 'u' },
		{ "account", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' },
		{ "no-pager", no_argument, NULL, 'P' },
		{ "threads", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct ls_args	 a;
	json_t		*r, *m;
	size_t		 i;
	char		 counts[64];
	int		 rc, folder;

	memset(&a, 0, sizeof a);
	a.params = json_object();
	if ((rc = client_parse_opts(cmd, o, argc, argv, "jhua:l:o:t", longs,
	    ls_opt, &a)) != -1) {
		json_decref(a.params);
		return rc;
	}
	if (optind < argc)
		json_object_set_new(a.params, "folder",
		    json_string(argv[optind++]));
	if (optind < argc) {
		fprintf(stderr, "mailctl ls: unexpected argument \"%s\"\n",
		    argv[optind]);
		client_cmd_usage(cmd, stderr);
		json_decref(a.params);
		return EX_USAGE;
	}
	/* Not found: the account (a usage error) when no folder was named. */
	folder = json_object_get(a.params, "folder") != NULL;
	if ((rc = client_call(o, "list", a.params, &r)) != 0)
		return folder ? rc : client_usage_if_unknown(o, rc);
	if (o->json) {
		rc = client_print_json(r);
		json_decref(r);
		return rc;
	}
	if (json_array_size(r) == 0) {
		printf("no messages\n");
		json_decref(r);
		return 0;
	}
	/* A conversation: [messages/unread] before its newest's subject. */
	json_array_foreach(r, i, m) {
		if (json_object_get(m, "count") == NULL)
			continue;
		snprintf(counts, sizeof counts, "[%lld/%lld] ",
		    json_integer_value(json_object_get(m, "count")),
		    json_integer_value(json_object_get(m, "unread")));
		ls_prefix_subject(m, counts);
	}
	ls_show(r, a.no_pager);
	json_decref(r);
	return 0;
}

/*
 * Print a search hit's snippet, indented, cut to width columns; on a
 * terminal the words found ("[" ... "]" in the snippet) are bold.
 */
static void
search_snippet(const char *snippet, int indent, int width, int bold)
{
	char	*copy, *p, *open, *close;
	int	 left = width - indent;

	if (snippet == NULL || *snippet == '\0' || left < 10)
		return;
	printf("%*s", indent, "");
	copy = xstrdup(snippet);
	for (p = copy; *p != '\0' && left > 0;) {
		open = bold ? strchr(p, '[') : NULL;
		close = open != NULL ? strchr(open, ']') : NULL;
		if (close == NULL) {
			client_print_text(p, left, 0);
			break;
		}
		*open = *close = '\0';
		client_print_text(p, left, 0);
		left -= client_text_width(p);
		if (left <= 0)
			break;
		printf("\033[1m");
		client_print_text(open + 1, left, 0);
		printf("\033[0m");
		left -= client_text_width(open + 1);
		p = close + 1;
	}
	printf("\n");
	free(copy);
}

/*
 * mailctl search QUERY...: the words are the query (joined by spaces), so
 * "-term" is a negated term, not an option; only --limit, --offset,
 * --json, --no-pager and --help are options, and "--" ends them.
 */
int
cmd_search(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	struct ls_args	 a;
	struct ls_layout l;
	json_t		*r, *m;
	char		*query = NULL, *arg, *end;
	size_t		 i, len = 0, n;
	long long	 v;
	pid_t		 pager;
	int		 k, rc, words = 0, bold;

	memset(&a, 0, sizeof a);
	a.params = json_object();
	for (k = 1; k < argc; k++) {
		arg = argv[k];
		if (!words && strcmp(arg, "--") == 0) {
			words = 1;
			continue;
		}
		if (!words && (strcmp(arg, "--json") == 0 ||
		    strcmp(arg, "--no-pager") == 0)) {
			if (arg[2] == 'j')
				o->json = 1;
			else
				a.no_pager = 1;
			continue;
		}
		if (!words && (strcmp(arg, "--help") == 0 ||
		    strcmp(arg, "-h") == 0)) {
			client_cmd_usage(cmd, stdout);
			rc = 0;
			goto out;
		}
		if (!words && (strncmp(arg, "--limit", 7) == 0 ||
		    strncmp(arg, "--offset", 8) == 0)) {
			n = arg[2] == 'l' ? 7 : 8;
			if (arg[n] == '=')
				arg += n + 1;
			else if (arg[n] == '\0' && k + 1 < argc)
				arg = argv[++k];
			else {
				client_cmd_usage(cmd, stderr);
				rc = EX_USAGE;
				goto out;
			}
			v = strtoll(arg, &end, 10);
			if (*arg == '\0' || *end != '\0' || v < 0) {
				fprintf(stderr, "mailctl search: --%s: expected "
				    "a number >= 0\n", n == 7 ? "limit" :
				    "offset");
				rc = EX_USAGE;
				goto out;
			}
			json_object_set_new(a.params, n == 7 ? "limit" :
			    "offset", json_integer(v));
			continue;
		}
		if (!words && strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
			fprintf(stderr, "mailctl search: unknown option %s "
			    "(use -- before a query word that starts with "
			    "--)\n", arg);
			client_cmd_usage(cmd, stderr);
			rc = EX_USAGE;
			goto out;
		}
		n = strlen(arg);
		query = xreallocarray(query, 1, len + n + 2);
		if (len > 0)
			query[len++] = ' ';
		memcpy(query + len, arg, n + 1);
		len += n;
	}
	if (query == NULL) {
		fprintf(stderr, "mailctl search: expected a query\n");
		client_cmd_usage(cmd, stderr);
		rc = EX_USAGE;
		goto out;
	}
	json_object_set_new(a.params, "query", json_string(query));
	if ((rc = client_call(o, "search", a.params, &r)) != 0)
		goto done;
	if (o->json) {
		rc = client_print_json(r);
		json_decref(r);
		goto done;
	}
	if (json_array_size(r) == 0) {
		printf("no messages\n");
		json_decref(r);
		goto done;
	}
	ls_layout(r, client_term_width(), &l);
	bold = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	pager = a.no_pager ? 0 : ls_pager_start(2 * json_array_size(r));
	json_array_foreach(r, i, m) {
		ls_print(m, &l);
		search_snippet(ls_str(m, "snippet"), l.id + 4,
		    client_term_width(), bold);
	}
	ls_pager_end(pager);
	json_decref(r);
done:
	free(query);
	return rc;
out:
	free(query);
	json_decref(a.params);
	return rc;
}
