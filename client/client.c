/* Blocking JSON-RPC calls to mailctld, and helpers shared by commands. */
#include "autoconf.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "common/jsonrpc.h"
#include "common/paths.h"
#include "common/xmalloc.h"
#include "client.h"

/*
 * Read the "socket" key of the configuration file (--config FILE, else the
 * default one), with ~/ expanded as mailctld does. Return 0 with *path set,
 * or NULL when there is no such file or key; else print why and return
 * EX_CONFIG, as mailctld does with a file it cannot use.
 */
static int
client_config_socket(struct client_opts *o, char **path)
{
	json_t		*root, *v;
	json_error_t	 err;
	FILE		*f;
	char		*file, *cause = NULL;
	int		 status = EX_CONFIG;

	*path = NULL;
	if (o->config != NULL)
		file = xstrdup(o->config);
	else if ((file = paths_default_config(&cause)) == NULL) {
		free(cause);		/* no home, so no default file */
		return 0;
	}
	if ((f = fopen(file, "re")) == NULL) {
		if (errno == ENOENT && o->config == NULL)
			status = 0;
		else
			fprintf(stderr, "mailctl: %s: %s\n", file,
			    strerror(errno));
		free(file);
		return status;
	}
	root = json_loadf(f, 0, &err);
	fclose(f);
	v = json_object_get(root, "socket");
	if (root == NULL)
		fprintf(stderr, "mailctl: %s: line %d, column %d: %s\n", file,
		    err.line, err.column, err.text);
	else if (v != NULL && (!json_is_string(v) ||
	    json_string_length(v) == 0))
		fprintf(stderr, "mailctl: %s: socket: expected a non-empty "
		    "string\n", file);
	else if (v == NULL)
		status = 0;
	else if ((*path = paths_expand_home(json_string_value(v),
	    &cause)) == NULL) {
		fprintf(stderr, "mailctl: %s: socket: %s\n", file, cause);
		free(cause);
	} else if ((*path)[0] != '/') {
		fprintf(stderr, "mailctl: %s: socket: expected an absolute "
		    "path\n", file);
		free(*path);
		*path = NULL;
	} else
		status = 0;
	json_decref(root);
	free(file);
	return status;
}

/*
 * Find the socket: --socket, $MAILCTL_SOCKET, the configuration's "socket",
 * $XDG_RUNTIME_DIR/mailctl/mailctld.sock, /tmp/mailctl-UID/mailctld.sock.
 * On failure print why and return NULL with *status set.
 */
char *
client_socket_path(struct client_opts *o, int *status)
{
	const char	*env;
	char		*path, *cause = NULL;

	if (o->socket != NULL)
		return xstrdup(o->socket);
	if ((env = getenv("MAILCTL_SOCKET")) != NULL && *env != '\0')
		return xstrdup(env);
	if ((*status = client_config_socket(o, &path)) != 0)
		return NULL;
	if (path != NULL)
		return path;
	if ((path = paths_default_socket(&cause)) == NULL) {
		fprintf(stderr, "mailctl: %s\n", cause);
		free(cause);
		*status = EX_UNAVAILABLE;
	}
	return path;
}

/* Connect; on failure print one line and return -1 with *status set. */
int
client_connect(struct client_opts *o, int *status)
{
	struct sockaddr_un	 sun;
	char			*path;
	int			 fd;

	if ((path = client_socket_path(o, status)) == NULL)
		return -1;
	*status = EX_UNAVAILABLE;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "mailctl: socket path too long: %s\n", path);
		free(path);
		*status = EX_USAGE;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "mailctl: socket: %s\n", strerror(errno));
		free(path);
		*status = EX_OSERR;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			fprintf(stderr, "mailctl: mailctld is not running "
			    "(nothing listens on %s)\n", path);
		else if (errno == EACCES) {
			fprintf(stderr, "mailctl: %s: permission denied\n",
			    path);
			*status = EX_NOPERM;
		} else
			fprintf(stderr, "mailctl: cannot reach mailctld at %s: "
			    "%s\n", path, strerror(errno));
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	return fd;
}

/* Write all of buf. */
int
client_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Write all of buf, the open descriptor pass (unless -1) going along with
 * its first byte (SCM_RIGHTS), for the daemon to use in our name.
 */
static int
client_write_fd(int fd, const char *buf, size_t len, int pass)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 control;
	ssize_t		 n;

	if (pass == -1)
		return client_write_all(fd, buf, len);
	memset(&msg, 0, sizeof msg);
	memset(&control, 0, sizeof control);
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	CMSG_FIRSTHDR(&msg)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&msg)->cmsg_type = SCM_RIGHTS;
	CMSG_FIRSTHDR(&msg)->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&msg)), &pass, sizeof pass);
	while ((n = sendmsg(fd, &msg, MSG_NOSIGNAL)) == -1)
		if (errno != EINTR)
			return -1;
	return client_write_all(fd, buf + n, len - n);
}

/*
 * Read lines until the response with our id arrives; notifications that
 * arrive first are skipped. Return the response or NULL with *status set.
 */
static json_t *
client_read_response(int fd, json_int_t id, int *status)
{
	struct jsonrpc_framer	*f;
	json_t			*msg = NULL, *mid;
	const char		*line;
	char			 buf[65536], *cause = NULL;
	size_t			 len;
	ssize_t			 n;
	int			 rc;

	f = jsonrpc_framer_new(JSONRPC_LINE_MAX * 16);
	*status = EX_PROTOCOL;
	for (;;) {
		rc = jsonrpc_framer_next(f, &line, &len);
		if (rc == JSONRPC_FRAME_TOOLONG) {
			fprintf(stderr, "mailctl: the daemon's reply is too "
			    "long\n");
			break;
		}
		if (rc == JSONRPC_FRAME_LINE) {
			if ((msg = jsonrpc_parse(line, len, &cause)) == NULL) {
				fprintf(stderr, "mailctl: bad reply from the "
				    "daemon: %s\n", cause);
				free(cause);
				break;
			}
			mid = json_object_get(msg, "id");
			if (json_is_integer(mid) &&
			    json_integer_value(mid) == id)
				break;
			if (json_is_null(mid) &&
			    json_object_get(msg, "error") != NULL)
				break;	/* refused before reading our id */
			json_decref(msg);
			msg = NULL;
			continue;
		}
		if ((n = read(fd, buf, sizeof buf)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mailctl: read: %s\n", strerror(errno));
			*status = EX_IOERR;
			break;
		}
		if (n == 0) {
			fprintf(stderr, "mailctl: mailctld closed the "
			    "connection without answering\n");
			*status = EX_UNAVAILABLE;
			break;
		}
		jsonrpc_framer_feed(f, buf, n);
	}
	jsonrpc_framer_free(f);
	return msg;
}

/*
 * Call a method (params stolen, may be NULL). On success return 0 with
 * *result set (a new reference). On failure print the error in one line and
 * return the exit status.
 */
int
client_call(struct client_opts *o, const char *method, json_t *params,
    json_t **result)
{
	return client_call_fd(o, method, params, -1, result);
}

/* The same, sending the open descriptor pass along with the request. */
int
client_call_fd(struct client_opts *o, const char *method, json_t *params,
    int pass, json_t **result)
{
	json_t		*req, *resp, *err;
	char		*line;
	size_t		 len;
	int		 fd, status;
	const json_int_t id = 1;

	*result = NULL;
	o->error_code = 0;
	req = jsonrpc_request_new(method, params, id);
	line = jsonrpc_encode(req, &len);
	json_decref(req);
	if ((fd = client_connect(o, &status)) == -1) {
		free(line);
		return status;
	}
	/*
	 * When the daemon refuses us (another uid, too many clients) it
	 * answers and closes at once: a failed write still reads that answer.
	 */
	if (client_write_fd(fd, line, len, pass) != 0 && errno != EPIPE &&
	    errno != ECONNRESET) {
		fprintf(stderr, "mailctl: write: %s\n", strerror(errno));
		free(line);
		close(fd);
		return EX_IOERR;
	}
	free(line);
	resp = client_read_response(fd, id, &status);
	close(fd);
	if (resp == NULL)
		return status;
	if ((err = json_object_get(resp, "error")) != NULL) {
		fprintf(stderr, "mailctl: %s\n", json_is_string(json_object_get(
		    err, "message")) ? json_string_value(json_object_get(err,
		    "message")) : "the daemon reported an error");
		o->error_code = json_integer_value(json_object_get(err,
		    "code"));
		status = jsonrpc_exit_status(o->error_code);
		json_decref(resp);
		return status;
	}
	*result = json_incref(json_object_get(resp, "result"));
	json_decref(resp);
	if (*result == NULL) {
		fprintf(stderr, "mailctl: the daemon's reply has no result\n");
		return EX_PROTOCOL;
	}
	return 0;
}

/* Print a result as one JSON document (--json). */
int
client_print_json(const json_t *result)
{
	if (json_dumpf(result, stdout, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ||
	    putchar('\n') == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "mailctl: cannot write output\n");
		return EX_IOERR;
	}
	return 0;
}

/* Print a command's usage line. */
void
client_cmd_usage(const struct client_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: mailctl %s %s\n", cmd->name, cmd->usage);
	if (f == stdout)
		fprintf(f, "\n%s\n", cmd->summary);
}

/*
 * Parse a command's options: --json and --help for every command, the
 * others through opt (NULL: none). Return -1 to go on, else the exit
 * status.
 */
int
client_parse_opts(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv, const char *shorts, const struct option *longs,
    int (*opt)(int, const char *, void *), void *arg)
{
	int	 ch, rc;

	optind = 0;
	while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (ch) {
		case 'j':
			o->json = 1;
			break;
		case 'h':
			client_cmd_usage(cmd, stdout);
			return 0;
		case '?':
			client_cmd_usage(cmd, stderr);
			return EX_USAGE;
		default:
			if (opt == NULL)
				return EX_USAGE;
			if ((rc = opt(ch, optarg, arg)) != -1)
				return rc;
		}
	}
	return -1;
}

/* Parse --json and --help, refusing arguments; -1 to go on. */
int
client_parse_common(const struct client_cmd *cmd, struct client_opts *o,
    int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 rc;

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jh", opts,
	    NULL, NULL)) != -1)
		return rc;
	if (optind != argc) {
		fprintf(stderr, "mailctl %s: unexpected argument \"%s\"\n",
		    cmd->name, argv[optind]);
		client_cmd_usage(cmd, stderr);
		return EX_USAGE;
	}
	return -1;
}

/*
 * Turn the daemon's ISO 8601 UTC time into local "YYYY-MM-DD HH:MM:SS";
 * return "-" for a missing one and the text itself when it does not parse.
 */
const char *
client_local_time(const char *iso, char *buf, size_t size)
{
	struct tm	 tm;
	time_t		 t;

	if (iso == NULL)
		return "-";
	memset(&tm, 0, sizeof tm);
	if (strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		return iso;
	t = timegm(&tm);
	localtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* Format seconds as "3d 4h", "5m 2s" or "12s". */
void
client_format_duration(double seconds, char *buf, size_t size)
{
	long	 s = (long)seconds;

	if (s >= 86400)
		snprintf(buf, size, "%ldd %ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%ldh %ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%ldm %lds", s / 60, s % 60);
	else
		snprintf(buf, size, "%lds", s);
}

/*
 * Take the next character of message text: its length in bytes (0 at the
 * end) and its width in columns. C0 and C1 controls, invalid bytes and
 * unprintable characters count as one '?' (*bad set).
 */
static size_t
client_text_next(const char *s, mbstate_t *ps, wchar_t *wc, int *w, int *bad)
{
	size_t	 n;

	*bad = 0;
	if (s == NULL || *s == '\0')
		return 0;
	/* Printable ASCII, most of any listing: no need to ask the locale. */
	if (*s >= 0x20 && *s < 0x7f) {
		*wc = (wchar_t)*s;
		*w = 1;
		return 1;
	}
	n = mbrtowc(wc, s, MB_CUR_MAX, ps);
	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		memset(ps, 0, sizeof *ps);
		*wc = L'?';
		n = 1;
		*bad = *s != '?';
	}
	*w = 1;
	if (*wc < 0x20 || (*wc >= 0x7f && *wc < 0xa0) ||
	    (*w = wcwidth(*wc)) < 0) {
		*bad = 1;
		*w = 1;
	}
	return n;
}

/* Return the columns message text takes on one line. */
int
client_text_width(const char *s)
{
	mbstate_t	 ps;
	wchar_t		 wc;
	size_t		 n;
	int		 w, bad, used = 0;

	memset(&ps, 0, sizeof ps);
	while ((n = client_text_next(s, &ps, &wc, &w, &bad)) > 0) {
		used += w;
		s += n;
	}
	return used;
}

/*
 * Print UTF-8 text from a message: C0 and C1 controls (but newline and
 * tab when multiline) become '?', invalid bytes too. With width > 0 the
 * text is padded to that many columns, or cut at a character boundary
 * and ended with an ellipsis.
 */
void
client_print_text(const char *s, int width, int multiline)
{
	mbstate_t	 ps;
	wchar_t		 wc;
	size_t		 n;
	int		 w, bad, used = 0, room = width;

	if (width > 0 && client_text_width(s) > width)
		room = width - 1;	/* keep a column for the ellipsis */
	memset(&ps, 0, sizeof ps);
	while ((n = client_text_next(s, &ps, &wc, &w, &bad)) > 0) {
		if (multiline && (wc == L'\n' || wc == L'\t'))
			bad = w = 0;
		if (width > 0 && used + w > room)
			break;
		if (bad)
			putchar('?');
		else
			fwrite(s, 1, n, stdout);
		used += w;
		s += n;
	}
	if (width > 0 && room < width) {
		fputs(MB_CUR_MAX > 1 ? "\u2026" : ">", stdout);
		used++;
	}
	for (; width > 0 && used < width; used++)
		putchar(' ');
}

/* Return the terminal's width: the tty's, else $COLUMNS, else 80. */
int
client_term_width(void)
{
	struct winsize	 ws;
	const char	*env;
	char		*end;
	long		 n;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if ((env = getenv("COLUMNS")) != NULL) {
		n = strtol(env, &end, 10);
		if (*env != '\0' && *end == '\0' && n > 0 && n < 10000)
			return (int)n;
	}
	return 80;
}

/*
 * The daemon answered "not found" for an account named on the command
 * line: that is a usage error (the message names it).
 */
int
client_usage_if_unknown(struct client_opts *o, int status)
{
	if (status != 0 && o->error_code == JSONRPC_ERR_NOT_FOUND)
		return EX_USAGE;
	return status;
}

/* Format a size as "1.2 MB", "3.4 KB" or "12 B" into buf. */
const char *
client_format_size(long long n, char *buf, size_t size)
{
	if (n >= 1024 * 1024)
		snprintf(buf, size, "%.1f MB", n / 1048576.0);
	else if (n >= 1024)
		snprintf(buf, size, "%.1f KB", n / 1024.0);
	else
		snprintf(buf, size, "%lld B", n);
	return buf;
}

/*
 * Parse an id argument (an integer >= 1) of command cmd; print "is not a
 * WHAT id" and return -1 when it is not one.
 */
long long
client_parse_id(const char *cmd, const char *what, const char *s)
{
	char		*end;
	long long	 id;

	errno = 0;
	id = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || id < 1) {
		fprintf(stderr, "mailctl %s: \"%s\" is not a %s id\n", cmd, s,
		    what);
		return -1;
	}
	return id;
}
