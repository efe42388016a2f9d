/*
 * smtp-send: drive daemon/smtp.c from the command line, for the tests.
 *
 *   smtp-send --host H --port P [--tls none|starttls|implicit] [--user U]
 *       [--password PW] [--auth auto|plain|login|xoauth2|none]
 *       [--ca-file F] [--timeout S] [--helo NAME] [--from ADDR]
 *       --to ADDR [--to ADDR...] [--verbose] FILE...
 *
 * Sends every FILE in turn, to every --to, over one session (a new one
 * only when a failure ended the previous), then QUIT. Prints JSON lines on
 * stdout: one {"type":"message"} per file, one {"type":"rcpt"} per
 * recipient, one {"type":"closed"} per session, and at the end
 * {"type":"end","sessions":N,"vmhwm_kb":K} (peak RSS from /proc).
 * Exit 0 when every recipient of every file accepted, 1 when any failure
 * was permanent, 75 when the failures were all temporary.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/smtp.h"

static struct event_base	*base;
static struct config_server	 srv;
static const char		*password;
static const char		*helo;
static const char		*from = "";
static const char		**rcpts;
static size_t			 nrcpts;
static char			**files;
static size_t			 nfiles, next_file;
static int			 fd = -1;
static int			 sessions, permanent, temporary;
static struct smtp_session	*session;

static void	send_next(void);

/* Print one JSON line and free it. */
static void
emit(json_t *o)
{
	char	*s = json_dumps(o, JSON_COMPACT);

	printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(o);
}

/* Print a message's result and its recipients'. */
static void
sent_cb(struct smtp_session *s, const struct smtp_result *r, void *arg)
{
	const char	*file = arg;
	size_t		 i;

	emit(json_pack("{s:s, s:s, s:s, s:b, s:s?, s:I, s:I, s:b}", "type",
	    "message", "file", file, "error", smtp_error_name(r->error),
	    "temporary", r->temporary, "message", r->message, "accepted",
	    (json_int_t)r->naccepted, "rcpts", (json_int_t)r->nrcpts,
	    "closed", r->closed));
	for (i = 0; i < r->nrcpts; i++) {
		emit(json_pack("{s:s, s:s, s:s, s:i, s:s?, s:s, s:b, s:b}",
		    "type", "rcpt", "file", file, "addr", r->rcpts[i].addr,
		    "code", r->rcpts[i].code, "enhanced",
		    r->rcpts[i].enhanced, "text", r->rcpts[i].text,
		    "temporary", r->rcpts[i].temporary, "accepted",
		    r->rcpts[i].accepted));
		if (!r->rcpts[i].accepted) {
			if (r->rcpts[i].temporary)
				temporary++;
			else
				permanent++;
		}
	}
	if (r->nrcpts == 0 && r->error != SMTP_OK)
		permanent++;
	close(fd);
	fd = -1;
	next_file++;
	if (!r->closed)
		send_next();
}

/* The session ended: print why; go on with a new one if files remain. */
static void
closed_cb(struct smtp_session *s, const struct smtp_result *r, void *arg)
{
	emit(json_pack("{s:s, s:s, s:b, s:s?}", "type", "closed", "error",
	    smtp_error_name(r->error), "temporary", r->temporary, "message",
	    r->message));
	smtp_session_free(s);
	session = NULL;
	if (next_file < nfiles)
		send_next();
	else
		event_base_loopexit(base, NULL);
}

/* Does the file have bytes over 127? Read in chunks: memory stays flat. */
static int
has_8bit(int f)
{
	unsigned char	 buf[65536];
	ssize_t		 n, i;
	off_t		 off = 0;

	while ((n = pread(f, buf, sizeof buf, off)) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] & 0x80)
				return 1;
		off += n;
	}
	return 0;
}

/* Send the next file, or QUIT when all are sent. */
static void
send_next(void)
{
	struct smtp_envelope	 env;
	struct stat		 st;

	if (next_file == nfiles) {
		smtp_quit(session);
		return;
	}
	if (session == NULL) {
		session = smtp_session_new(base, &srv, password, helo,
		    closed_cb, NULL);
		sessions++;
	}
	if ((fd = open(files[next_file], O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		fatal("%s", files[next_file]);
	memset(&env, 0, sizeof env);
	env.from = from;
	env.rcpts = rcpts;
	env.nrcpts = nrcpts;
	env.fd = fd;
	env.size = st.st_size;
	env.eightbit = has_8bit(fd);
	smtp_send(session, &env, sent_cb, files[next_file]);
}

/* Print the peak resident set size of this process, in KiB. */
static long
vmhwm_kb(void)
{
	FILE	*f = fopen("/proc/self/status", "r");
	char	 line[256];
	long	 kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: smtp-send --host H --port P [--tls MODE] "
	    "[--user U] [--password PW] [--auth A] [--ca-file F] "
	    "[--timeout S] [--helo NAME] [--from ADDR] --to ADDR... "
	    "[--verbose] FILE...\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "tls", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'w' },
		{ "auth", required_argument, NULL, 'a' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "helo", required_argument, NULL, 'H' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch, verbose = 0;

	srv.proto = CONFIG_SMTP;
	srv.tls = CONFIG_TLS_STARTTLS;
	srv.auth = "auto";
	srv.timeout = 60;
	while ((ch = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			srv.host = optarg;
			break;
		case 'p':
			srv.port = atoi(optarg);
			break;
		case 't':
			if (strcmp(optarg, "none") == 0)
				srv.tls = CONFIG_TLS_NONE;
			else if (strcmp(optarg, "starttls") == 0)
				srv.tls = CONFIG_TLS_STARTTLS;
			else if (strcmp(optarg, "implicit") == 0)
				srv.tls = CONFIG_TLS_IMPLICIT;
			else
				usage();
			break;
		case 'u':
			srv.user = optarg;
			break;
		case 'w':
			password = optarg;
			break;
		case 'a':
			srv.auth = optarg;
			break;
		case 'c':
			srv.ca_file = optarg;
			break;
		case 'T':
			srv.timeout = atoi(optarg);
			break;
		case 'H':
			helo = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 'r':
			rcpts = xreallocarray(rcpts, nrcpts + 1, sizeof *rcpts);
			rcpts[nrcpts++] = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	files = argv + optind;
	nfiles = argc - optind;
	if (srv.host == NULL || srv.port <= 0 || nfiles == 0)
		usage();
	log_init("smtp-send", verbose);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	conn_init(base);
	send_next();
	event_base_dispatch(base);
	emit(json_pack("{s:s, s:i, s:I}", "type", "end", "sessions", sessions,
	    "vmhwm_kb", (json_int_t)vmhwm_kb()));
	smtp_session_free(session);
	conn_shutdown();
	event_base_free(base);
	free(rcpts);
	if (permanent > 0)
		return 1;
	return temporary > 0 ? 75 : 0;
}
