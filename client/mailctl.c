/*
 * mailctl: the command-line client. It turns argv into one JSON-RPC request,
 * sends it to mailctld and prints the result; it holds no mail logic.
 * Exit statuses follow sysexits(3): 69 daemon unavailable, 64 usage,
 * 65 bad data, 75 temporary failure, 1 other.
 */
#include "autoconf.h"

#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "client.h"
#include "cmds.h"

static const struct client_cmd client_cmds[] = {
	{ "status", "[--json]",
	    "Show the daemon, its accounts, polls, queue and store.",
	    cmd_status },
	{ "fetch", "[ACCOUNT] [--json]",
	    "Poll now (every account, or one) and wait for the result.",
	    cmd_fetch },
	{ "ls", "[FOLDER] [--unread] [--account NAME] [--limit N] "
	    "[--offset N] [--threads] [--no-pager] [--json]",
	    "List messages, newest first (every folder, or one); --threads: "
	    "one line per conversation, [messages/unread].", cmd_ls },
	{ "search", "QUERY... [--limit N] [--offset N] [--no-pager] [--json]",
	    "Find messages by words and terms (from:, subject:, is:unread, "
	    "date:..., OR, -term), newest first.", cmd_search },
	{ "thread", "ID [--no-pager] [--json]",
	    "List the conversation message ID belongs to, oldest first, "
	    "replies indented.", cmd_thread },
	{ "read", "ID [--raw] [--keep-unread] [--json]",
	    "Show a message decoded (--raw: its stored bytes); marks it read "
	    "(--keep-unread: leaves it as it was).", cmd_read },
	{ "mark", "ID... --read|--unread|--flag|--unflag [--json]",
	    "Mark messages read or unread, flagged or not.", cmd_mark },
	{ "mv", "ID... FOLDER [--json]",
	    "Move messages into another folder.", cmd_mv },
	{ "rm", "ID... [--purge] [--json]",
	    "Move messages to Trash (--purge: remove for good; needed for "
	    "one in Trash already).",
	    cmd_rm },
	{ "attachments", "ID [--save DIR] [--index N] [--json]",
	    "List a message's attachments, or save them into DIR.",
	    cmd_attachments },
	{ "send", "--to ADDR... [--cc ADDR...] [--bcc ADDR...] --subject "
	    "TEXT [--body TEXT | --body-file FILE] [--attach FILE...] "
	    "[--account NAME] [--wait] [--json]",
	    "Queue a mail (body from --body, --body-file or stdin); --wait "
	    "for the server's verdict.", cmd_send },
	{ "reply", "ID [--all] [--body TEXT | --body-file FILE] "
	    "[--attach FILE...] [--wait] [--json]",
	    "Answer a message from the account it came to (--all: its other "
	    "recipients too), the original quoted; with no body and a terminal, "
	    "in $VISUAL or $EDITOR.", cmd_reply },
	{ "forward", "ID --to ADDR... [--cc ADDR...] [--bcc ADDR...] "
	    "[--body TEXT | --body-file FILE] [--inline] [--attach FILE...] "
	    "[--wait] [--json]",
	    "Forward a message, attached as it is (--inline: its text in the "
	    "body and its attachments again).", cmd_forward },
	{ "queue", "[list | flush | cancel ID] [--json]",
	    "Show the outbox, retry everything waiting now, or cancel a "
	    "message.", cmd_queue },
	{ "sendmail", "[-t] [-f FROM] [--account NAME] [-i] [RCPT...] < MESSAGE",
	    "Queue a complete message from stdin, as sendmail(8) does "
	    "(-t: recipients from its To, Cc, Bcc).", cmd_sendmail },
	{ "folders", "[--json]",
	    "List every account's folders with message and unread counts.",
	    cmd_folders },
	{ "reindex", "[ACCOUNT] [--json]",
	    "Rebuild the index from the Maildirs (after other programs "
	    "changed them).", cmd_reindex },
	{ "refilter", "[FOLDER] [--dry-run] [--json]",
	    "Apply the filter rules again to stored mail (Inbox and the "
	    "rules' folders, or FOLDER), leaving what mv filed by hand; "
	    "--dry-run only shows what would move.", cmd_refilter },
	{ "reload", "[--json]",
	    "Reread the configuration file (a bad file is refused and the "
	    "old one stays).", cmd_reload },
	{ "watch", "[--json]",
	    "Print events (new mail, failed polls, reloads) as they happen, "
	    "until interrupted.", cmd_watch },
	{ NULL, NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct client_cmd	*c;

	fprintf(f,
	    "usage: mailctl [--socket PATH] [--config FILE] COMMAND [ARGS...]\n"
	    "       mailctl help COMMAND | --help | --version\n"
	    "\n"
	    "Commands:\n");
	for (c = client_cmds; c->name != NULL; c++)
		fprintf(f, "  %-11s %s\n", c->name, c->summary);
	fprintf(f,
	    "\n"
	    "Options:\n"
	    "  -s, --socket PATH  mailctld's socket (default: $MAILCTL_SOCKET,\n"
	    "                     else \"socket\" in the configuration, else\n"
	    "                     $XDG_RUNTIME_DIR/mailctl/mailctld.sock)\n"
	    "  -c, --config FILE  the configuration to read \"socket\" from\n"
	    "                     (default: $XDG_CONFIG_HOME/mailctl/config.json)\n"
	    "  -h, --help         show this help; COMMAND --help for one command\n"
	    "  -V, --version      show the version\n"
	    "\n"
	    "Every command takes --json to print the daemon's result as one\n"
	    "JSON document.\n");
}

/* Find a command by name. */
static const struct client_cmd *
find_cmd(const char *name)
{
	const struct client_cmd	*c;

	for (c = client_cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct client_cmd	*cmd;
	struct client_opts	 o;
	int			 ch;

	signal(SIGPIPE, SIG_IGN);
	/* Column widths of names and subjects: the user's locale, or UTF-8. */
	if (setlocale(LC_CTYPE, "") == NULL || MB_CUR_MAX == 1)
		setlocale(LC_CTYPE, "C.UTF-8");
	memset(&o, 0, sizeof o);
	while ((ch = getopt_long(argc, argv, "+s:c:jhV", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.socket = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mailctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[0], "help") == 0) {
		if (argc == 1) {
			usage(stdout);
			return 0;
		}
		if ((cmd = find_cmd(argv[1])) == NULL) {
			fprintf(stderr, "mailctl: unknown command \"%s\"\n",
			    argv[1]);
			return EX_USAGE;
		}
		client_cmd_usage(cmd, stdout);
		return 0;
	}
	if ((cmd = find_cmd(argv[0])) == NULL) {
		fprintf(stderr, "mailctl: unknown command \"%s\" (see mailctl "
		    "--help)\n", argv[0]);
		return EX_USAGE;
	}
	return cmd->exec(cmd, &o, argc, argv);
}
