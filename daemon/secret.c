/*
 * Passwords and password commands (see secret.h). One struct per account
 * and server; at most one secret_get at a time, whose callback runs at
 * once for a configured or cached password and from the loop when the
 * command has to run.
 */
#include "autoconf.h"

#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "proc.h"
#include "secret.h"

#define SECRET_OUTPUT_MAX	4096	/* bytes of the command's output */

struct secret {
	char		*what;		/* for logs: "account=NAME smtp" */
	char		*password;	/* the configuration's, or NULL */
	char		**command;	/* argv, or NULL */
	int		 timeout;	/* seconds for the command */
	char		*cached;	/* the command's last answer */
	int		 fresh;		/* cached was asked for this get */
	int		 stale;		/* reloaded while the command ran */
	struct proc	*proc;		/* the command running */
	secret_cb	 cb;
	void		*arg;
};

/* Wipe and free a string (NULL is fine). */
static void
secret_wipe(char **p)
{
	if (*p != NULL) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* Forget what the configuration said. */
static void
secret_unconfigure(struct secret *s)
{
	size_t	 i;

	secret_wipe(&s->password);
	for (i = 0; s->command != NULL && s->command[i] != NULL; i++)
		free(s->command[i]);
	free(s->command);
	s->command = NULL;
	secret_wipe(&s->cached);
	s->fresh = 0;
}

/* A secret for what (named in logs), with nothing configured yet. */
struct secret *
secret_new(const char *what)
{
	struct secret	*s;

	s = xcalloc(1, sizeof *s);
	s->what = xstrdup(what);
	return s;
}

/*
 * Take the server's password or password_command (srv may be NULL: none).
 * A cached answer is dropped: a reload may come with a new password. A
 * command running still answers the secret_get that started it, but its
 * answer is not kept.
 */
void
secret_configure(struct secret *s, const struct config_server *srv)
{
	size_t	 i, n;

	secret_unconfigure(s);
	if (s->proc != NULL)
		s->stale = 1;
	if (srv == NULL || srv->user == NULL)
		return;
	if (srv->password != NULL)
		s->password = xstrdup(srv->password);
	else if (srv->password_command != NULL) {
		for (n = 0; srv->password_command[n] != NULL; n++)
			;
		s->command = xcalloc(n + 1, sizeof *s->command);
		for (i = 0; i < n; i++)
			s->command[i] = xstrdup(srv->password_command[i]);
	}
	s->timeout = srv->timeout > 0 ? srv->timeout : 60;
}

/*
 * The password in a command's output: its first line, when it exited 0
 * (status as waitpid gives it, -1 after a timeout). NULL with msg filled
 * otherwise; msg never holds the output.
 */
char *
secret_from_output(int status, const char *out, size_t len, char *msg,
    size_t msgsize)
{
	size_t	 n;

	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (status == -1)
			snprintf(msg, msgsize, "password_command timed out");
		else if (WIFEXITED(status))
			snprintf(msg, msgsize, "password_command exited "
			    "with status %d", WEXITSTATUS(status));
		else
			snprintf(msg, msgsize, "password_command killed by "
			    "signal %d", WTERMSIG(status));
		return NULL;
	}
	for (n = 0; n < len && out[n] != '\n' && out[n] != '\r'; n++)
		;
	if (n == 0 || memchr(out, '\0', n) != NULL) {
		snprintf(msg, msgsize, "password_command printed no password");
		return NULL;
	}
	return xstrndup(out, n);
}

/* The command ended: cache its answer and hand it over. */
static void
secret_proc_cb(struct proc *p, int status, const char *out, size_t len,
    void *arg)
{
	struct secret	*s = arg;
	secret_cb	 cb = s->cb;
	char		 msg[128], *got;

	(void)p;
	got = secret_from_output(status, out, len, msg, sizeof msg);
	/* Freeing the proc wipes its copy of the output. */
	proc_free(s->proc);
	s->proc = NULL;
	s->cb = NULL;
	if (got == NULL) {
		log_warnx("%s: %s", s->what, msg);
		cb(NULL, msg, s->arg);
		return;
	}
	if (s->stale) {
		s->stale = 0;
		cb(got, NULL, s->arg);
		secret_wipe(&got);
		return;
	}
	secret_wipe(&s->cached);
	s->cached = got;
	s->fresh = 1;
	cb(s->cached, NULL, s->arg);
}

/*
 * Get the password: cb runs before this returns when it is configured or
 * cached (or there is none), else from the loop once the command ended.
 */
void
secret_get(struct secret *s, secret_cb cb, void *arg)
{
	char	*cause = NULL;

	if (s->proc != NULL)
		fatalx("%s: a password is already being asked for", s->what);
	if (s->password != NULL) {
		cb(s->password, NULL, arg);
		return;
	}
	if (s->command == NULL) {
		cb(NULL, NULL, arg);
		return;
	}
	if (s->cached != NULL) {
		s->fresh = 0;
		cb(s->cached, NULL, arg);
		return;
	}
	s->cb = cb;
	s->arg = arg;
	s->proc = proc_run((const char *const *)s->command, NULL,
	    SECRET_OUTPUT_MAX, s->timeout, secret_proc_cb, s, &cause);
	if (s->proc == NULL) {
		s->cb = NULL;
		log_warnx("%s: %s", s->what, cause);
		cb(NULL, cause, arg);
		free(cause);
	}
}

/*
 * The server refused the password last got: drop a cached one. Return 1
 * when the command is worth asking again (the refused one came from the
 * cache), 0 when not (it had just been asked, or the password is the
 * configuration's).
 */
int
secret_refused(struct secret *s)
{
	int	 again;

	if (s->cached == NULL)
		return 0;
	again = !s->fresh;
	secret_wipe(&s->cached);
	s->fresh = 0;
	if (again)
		log_info("%s: the server refused the password; asking "
		    "password_command again", s->what);
	return again;
}

/* Is the command running for a secret_get? */
int
secret_busy(const struct secret *s)
{
	return s->proc != NULL;
}

/* Give up the secret_get in progress: its callback will not run. */
void
secret_cancel(struct secret *s)
{
	proc_free(s->proc);
	s->proc = NULL;
	s->cb = NULL;
	s->stale = 0;
}

/* Free a secret (NULL is fine), wiping every copy. */
void
secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	secret_cancel(s);
	secret_unconfigure(s);
	free(s->what);
	free(s);
}
