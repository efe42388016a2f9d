/*
 * The mailbox commands: ls, read, mark, mv, rm, attachments, folders,
 * reindex, refilter. Text that came in a message is printed with control
 * characters replaced, so a hostile subject or body cannot drive the
 * terminal.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <wchar.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"

/* A string member of an object, or NULL. */
static const char *
mail_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Collect ids from argv[optind..end). */
static json_t *
mail_ids(const char *cmd, int argc, char **argv)
{
	json_t		*ids = json_array();
	long long	 id;

	for (; optind < argc; optind++) {
		if ((id = client_parse_id(cmd, "message",
		    argv[optind])) == -1) {
			json_decref(ids);
			return NULL;
		}
		json_array_append_new(ids, json_integer(id));
	}
	return ids;
}

/* Print the result of a call as JSON, or hand it back; 0 or a status. */
static int
mail_call_fd(struct client_opts *o, const char *method, json_t *params,
    int fd, json_t **result)
{
	int	 rc;

	if ((rc = client_call_fd(o, method, params, fd, result)) != 0)
		return rc;
	if (o->json) {
		rc = client_print_json(*result);
		json_decref(*result);
		*result = NULL;
		return rc;
	}
	return 0;
}

static int
mail_call(struct client_opts *o, const char *method, json_t *params,
    json_t **result)
{
	return mail_call_fd(o, method, params, -1, result);
}

/* Copy a stored message's bytes to stdout. */
static int
read_raw(const char *path)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "mailctl read: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (client_write_all(STDOUT_FILENO, buf, n) != 0) {
			close(fd);
			return 1;
		}
	}
	close(fd);
	return n == 0 ? 0 : 1;
}

/* Options of read: --raw, --keep-unread. */
static int
read_opt(int ch, const char *arg, void *p)
{
	json_object_set_new(p, ch == 'r' ? "raw" : "keep_unread", json_true());
	return -1;
}

int
cmd_read(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "raw", no_argument, NULL, 'r' },
		{ "keep-unread", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const hdrs[] = { "From", "To", "Cc", "Subject" };
	json_t		*r, *a, *w, *params = json_object();
	long long	 id;
	int		 rc, raw;
	size_t		 i;
	char		 key[16], when[64], size[32];

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jhrk", longs,
	    read_opt, params)) != -1 || argc - optind != 1) {
		if (rc == -1)
			client_cmd_usage(cmd, stderr);
		json_decref(params);
		return rc == -1 ? EX_USAGE : rc;
	}
	if ((id = client_parse_id(cmd->name, "message",
	    argv[optind])) == -1) {
		json_decref(params);
		return EX_USAGE;
	}
	raw = json_is_true(json_object_get(params, "raw"));
	json_object_set_new(params, "id", json_integer(id));
	if ((rc = mail_call(o, "read", params, &r)) != 0 || r == NULL)
		return rc;
	if (raw) {
		rc = read_raw(mail_str(r, "path"));
		json_decref(r);
		return rc;
	}
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "%s", hdrs[i]);
		key[0] += 'a' - 'A';
		if (mail_str(r, key) == NULL)
			continue;
		printf("%-9s", hdrs[i]);
		printf(": ");
		client_print_text(mail_str(r, key), 0, 0);
		printf("\n");
	}
	if (mail_str(r, "date") == NULL && mail_str(r, "date_raw") != NULL) {
		printf("Date     : ");
		client_print_text(mail_str(r, "date_raw"), 0, 0);
		printf(" (not understood)\n");
	} else
		printf("Date     : %s\n", client_local_time(mail_str(r, "date"),
		    when, sizeof when));
	json_array_foreach(json_object_get(r, "attachments"), i, a) {
		printf("%s %lld. ", i == 0 ? "Attached :" : "          ",
		    json_integer_value(json_object_get(a, "index")));
		client_print_text(mail_str(a, "filename") ? mail_str(a, "filename") :
		    "(no name)", 0, 0);
		printf(" (%s, %s)\n", mail_str(a, "content_type"),
		    client_format_size(json_integer_value(json_object_get(a, "size")),
		    size, sizeof size));
	}
	/* What could not be read as the message says, one line each. */
	json_array_foreach(json_object_get(r, "warnings"), i, w) {
		printf("Warning  : ");
		client_print_text(json_string_value(w), 0, 0);
		printf("\n");
	}
	printf("\n");
	client_print_text(mail_str(r, "body"), 0, 1);
	if (mail_str(r, "body") != NULL && *mail_str(r, "body") != '\0' &&
	    mail_str(r, "body")[strlen(mail_str(r, "body")) - 1] != '\n')
		printf("\n");
	json_decref(r);
	return 0;
}

/* Options of mark: --read or --unread, --flag or --unflag. */
static int
mark_opt(int ch, const char *arg, void *p)
{
	json_t	*flags = p;

	(void)arg;
	if (ch == 'r' || ch == 'u')
		json_object_set_new(flags, "read", json_boolean(ch == 'r'));
	else
		json_object_set_new(flags, "flagged", json_boolean(ch == 'f'));
	return -1;
}

int
cmd_mark(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "read", no_argument, NULL, 'r' },
		{ "unread", no_argument, NULL, 'u' },
		{ "flag", no_argument, NULL, 'f' },
		{ "unflag", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*ids, *r, *flags = json_object();
	int		 rc, read, flagged;

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jhrufF", longs,
	    mark_opt, flags)) != -1) {
		json_decref(flags);
		return rc;
	}
	if (json_object_size(flags) == 0 || optind == argc) {
		fprintf(stderr, "mailctl mark: expected message ids and --read, "
		    "--unread, --flag or --unflag\n");
		client_cmd_usage(cmd, stderr);
		json_decref(flags);
		return EX_USAGE;
	}
	if ((ids = mail_ids(cmd->name, argc, argv)) == NULL) {
		json_decref(flags);
		return EX_USAGE;
	}
	/* -1: not asked, else the state asked for (the params go). */
	read = json_object_get(flags, "read") == NULL ? -1 :
	    json_is_true(json_object_get(flags, "read"));
	flagged = json_object_get(flags, "flagged") == NULL ? -1 :
	    json_is_true(json_object_get(flags, "flagged"));
	json_object_set_new(flags, "ids", ids);
	if ((rc = mail_call(o, "mark", flags, &r)) != 0 || r == NULL)
		return rc;
	printf("%lld marked%s%s%s\n", json_integer_value(json_object_get(r,
	    "changed")), read == -1 ? "" : read ? " read" : " unread",
	    read != -1 && flagged != -1 ? " and" : "", flagged == -1 ? "" :
	    flagged ? " flagged" : " unflagged");
	json_decref(r);
	return 0;
}

int
cmd_mv(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*ids, *r;
	const char	*folder;
	int		 rc;

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jh", longs, NULL,
	    NULL)) != -1)
		return rc;
	if (argc - optind < 2) {
		client_cmd_usage(cmd, stderr);
		return EX_USAGE;
	}
	folder = argv[--argc];
	if ((ids = mail_ids(cmd->name, argc, argv)) == NULL)
		return EX_USAGE;
	if ((rc = mail_call(o, "move", json_pack("{s:o, s:s}", "ids", ids,
	    "folder", folder), &r)) != 0 || r == NULL)
		return rc;
	printf("%lld moved to %s\n", json_integer_value(json_object_get(r,
	    "changed")), mail_str(r, "folder"));
	json_decref(r);
	return 0;
}

/* Options of rm: --purge. */
static int
rm_opt(int ch, const char *arg, void *p)
{
	*(int *)p = 1;
	return -1;
}

int
cmd_rm(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "purge", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	json_t	*ids, *r;
	int	 rc, purge = 0;

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jhp", longs, rm_opt,
	    &purge)) != -1)
		return rc;
	if (optind == argc) {
		client_cmd_usage(cmd, stderr);
		return EX_USAGE;
	}
	if ((ids = mail_ids(cmd->name, argc, argv)) == NULL)
		return EX_USAGE;
	if ((rc = mail_call(o, "delete", json_pack("{s:o, s:b}", "ids", ids,
	    "purge", purge), &r)) != 0 || r == NULL)
		return rc;
	if (json_integer_value(json_object_get(r, "changed")) > 0)
		printf("%lld moved to Trash\n", json_integer_value(
		    json_object_get(r, "changed")));
	if (json_array_size(json_object_get(r, "purged")) > 0)
		printf("%zu removed for good\n", json_array_size(
		    json_object_get(r, "purged")));
	json_decref(r);
	return 0;
}

/* Options of attachments. */
struct att_args {
	json_t	*params;
	int	 dir;		/* --save's, open; -1: none */
};

static int
att_opt(int ch, const char *arg, void *p)
{
	struct att_args	*a = p;
	char		 path[PATH_MAX];
	char		*end;
	long long	 n;

	if (ch == 'i') {
		n = strtoll(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || n < 1) {
			fprintf(stderr, "mailctl attachments: --index: "
			    "expected a number >= 1\n");
			return EX_USAGE;
		}
		json_object_set_new(a->params, "index", json_integer(n));
		return -1;
	}
	/*
	 * The directory goes to the daemon open: it writes through it, so
	 * --save works wherever we can write, whatever the daemon's sandbox
	 * lets it see; the path only names it in the answer.
	 */
	if (realpath(arg, path) == NULL || (a->dir != -1 && close(a->dir)) ||
	    (a->dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "mailctl attachments: --save %s: %s\n", arg,
		    strerror(errno));
		return EX_CANTCREAT;
	}
	json_object_set_new(a->params, "save", json_string(path));
	return -1;
}

int
cmd_attachments(const struct client_cmd *cmd, struct client_opts *o,
    int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "save", required_argument, NULL, 's' },
		{ "index", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	struct att_args	 a;
	json_t		*r, *e;
	long long	 id;
	size_t		 i;
	int		 rc;
	char		 size[32];

	a.params = json_object();
	a.dir = -1;
	if ((rc = client_parse_opts(cmd, o, argc, argv, "jhs:i:", longs, att_opt,
	    &a)) != -1 || argc - optind != 1 ||
	    (id = client_parse_id(cmd->name, "message",
	    argv[optind])) == -1) {
		if (rc == -1)
			client_cmd_usage(cmd, stderr);
		json_decref(a.params);
		if (a.dir != -1)
			close(a.dir);
		return rc == -1 ? EX_USAGE : rc;
	}
	json_object_set_new(a.params, "id", json_integer(id));
	rc = mail_call_fd(o, "attachments", a.params, a.dir, &r);
	if (a.dir != -1)
		close(a.dir);
	if (rc != 0 || r == NULL)
		return rc;
	json_array_foreach(r, i, e) {
		printf("%3lld  ", json_integer_value(json_object_get(e,
		    "index")));
		client_print_text(mail_str(e, "filename") ? mail_str(e, "filename") :
		    "(no name)", 0, 0);
		printf("  %s  %s", mail_str(e, "content_type"),
		    client_format_size(json_integer_value(json_object_get(e, "size")),
		    size, sizeof size));
		if (mail_str(e, "saved") != NULL) {
			printf("  saved as ");
			client_print_text(mail_str(e, "saved"), 0, 0);
		}
		printf("\n");
	}
	if (json_array_size(r) == 0)
		printf("no attachments\n");
	json_decref(r);
	return 0;
}

int
cmd_folders(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t		*r, *f;
	const char	*account, *last = NULL;
	long long	 total;
	size_t		 i;
	int		 rc;

	if ((rc = client_parse_common(cmd, o, argc, argv)) != -1)
		return rc;
	if ((rc = mail_call(o, "folders", NULL, &r)) != 0 || r == NULL)
		return rc;
	json_array_foreach(r, i, f) {
		account = mail_str(f, "account");
		if (last == NULL || strcmp(last, account) != 0)
			printf("%s%s:\n", last == NULL ? "" : "\n", account);
		last = account;
		total = json_integer_value(json_object_get(f, "total"));
		printf("  %-16s %7lld message%s, %lld unread\n",
		    mail_str(f, "folder"), total, total == 1 ? "" : "s",
		    json_integer_value(json_object_get(f, "unread")));
	}
	if (json_array_size(r) == 0)
		printf("no folders yet\n");
	json_decref(r);
	return 0;
}

/* Options of refilter: --dry-run. */
static int
refilter_opt(int ch, const char *arg, void *p)
{
	json_object_set_new(p, "dry_run", json_true());
	return -1;
}

/*
 * reindex [ACCOUNT] and refilter [FOLDER] [--dry-run]: one optional
 * argument.
 */
static int
mail_one_arg(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv, const char *method, const char *key, json_t **r)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option refilter_longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	json_t	*params = json_object();
	int	 rc, refilter = strcmp(method, "refilter") == 0;

	*r = NULL;
	if ((rc = client_parse_opts(cmd, o, argc, argv, refilter ? "jhn" :
	    "jh", refilter ? refilter_longs : longs, refilter ? refilter_opt :
	    NULL, params)) != -1 || argc - optind > 1) {
		if (rc == -1)
			client_cmd_usage(cmd, stderr);
		json_decref(params);
		return rc == -1 ? EX_USAGE : rc;
	}
	if (optind < argc)
		json_object_set_new(params, key, json_string(argv[optind]));
	rc = mail_call(o, method, params, r);
	/* An unknown account is a usage error; an unknown folder bad data. */
	return strcmp(key, "account") == 0 ? client_usage_if_unknown(o, rc) : rc;
}

int
cmd_reindex(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t	*r;
	int	 rc;

	if ((rc = mail_one_arg(cmd, o, argc, argv, "reindex", "account",
	    &r)) != 0 || r == NULL)
		return rc;
	printf("index updated: %lld added, %lld removed, %lld changed\n",
	    json_integer_value(json_object_get(r, "added")),
	    json_integer_value(json_object_get(r, "removed")),
	    json_integer_value(json_object_get(r, "updated")));
	json_decref(r);
	return 0;
}

int
cmd_refilter(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t	*r, *m;
	size_t	 i;
	int	 rc, dry;

	if ((rc = mail_one_arg(cmd, o, argc, argv, "refilter", "folder",
	    &r)) != 0 || r == NULL)
		return rc;
	dry = json_is_true(json_object_get(r, "dry_run"));
	json_array_foreach(json_object_get(r, "moves"), i, m) {
		printf("%s%6lld  ", dry ? "would move " : "moved ",
		    json_integer_value(json_object_get(m, "id")));
		client_print_text(mail_str(m, "from_folder"), 0, 0);
		printf(" -> ");
		client_print_text(mail_str(m, "to_folder"), 0, 0);
		if (mail_str(m, "subject") != NULL) {
			printf("  ");
			client_print_text(mail_str(m, "subject"), 0, 0);
		}
		printf("\n");
	}
	printf("%lld messages checked, %lld %s", json_integer_value(
	    json_object_get(r, "checked")), dry ? (long long)json_array_size(
	    json_object_get(r, "moves")) : json_integer_value(
	    json_object_get(r, "moved")), dry ? "would move (dry run: nothing "
	    "moved)" : "moved");
	if (json_integer_value(json_object_get(r, "by_hand")) > 0)
		printf(", %lld filed by hand left alone", json_integer_value(
		    json_object_get(r, "by_hand")));
	printf("\n");
	json_decref(r);
	return 0;
}
