/*
 * Hooks: hooks.new_mail is run once per stored message, as a child watched
 * by the loop (proc.c), with {from} {subject} {folder} {account} {id}
 * replaced in its arguments and the same values in MAILCTL_FROM,
 * MAILCTL_SUBJECT, MAILCTL_FOLDER, MAILCTL_ACCOUNT and MAILCTL_ID. At most
 * NOTIFY_RUNNING hooks run at once (a poll of 5,000 messages must not start
 * 5,000 processes); the rest wait in a bounded queue, and beyond it are
 * dropped with a log line. A hook that fails or outlives hooks.timeout is
 * logged and killed; nothing else notices.
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "main.h"
#include "notify.h"
#include "proc.h"

#define NOTIFY_RUNNING	4		/* hooks at once */
#define NOTIFY_QUEUE	10000		/* hooks waiting, then dropped */

struct notify_hook {
	TAILQ_ENTRY(notify_hook) entry;
	char			**argv;
	char			**env;
	struct proc		*proc;
};

static TAILQ_HEAD(, notify_hook) notify_waiting =
    TAILQ_HEAD_INITIALIZER(notify_waiting);
static TAILQ_HEAD(, notify_hook) notify_running =
    TAILQ_HEAD_INITIALIZER(notify_running);
static size_t	notify_nwaiting, notify_nrunning;

extern char **environ;

static void	notify_start(void);

/* Free a hook and its vectors. */
static void
notify_hook_free(struct notify_hook *h)
{
	size_t	 i;

	for (i = 0; h->argv[i] != NULL; i++)
		free(h->argv[i]);
	free(h->argv);
	for (i = 0; h->env[i] != NULL; i++)
		free(h->env[i]);
	free(h->env);
	proc_free(h->proc);
	free(h);
}

/* Replace every {name} in s by its value; unknown names stay. */
static char *
notify_expand(const char *s, const char *const *names,
    const char *const *values)
{
	char	*out, *o;
	size_t	 size = strlen(s) + 1, i, n;
	const char *p;

	for (p = s; (p = strchr(p, '{')) != NULL; p++)
		for (i = 0; names[i] != NULL; i++)
			if (strncmp(p + 1, names[i], strlen(names[i])) == 0 &&
			    p[1 + strlen(names[i])] == '}')
				size += strlen(values[i]);
	out = o = xmalloc(size);
	while (*s != '\0') {
		for (i = 0; *s == '{' && names[i] != NULL; i++) {
			n = strlen(names[i]);
			if (strncmp(s + 1, names[i], n) == 0 && s[1 + n] == '}')
				break;
		}
		if (*s == '{' && names[i] != NULL) {
			memcpy(o, values[i], strlen(values[i]));
			o += strlen(values[i]);
			s += strlen(names[i]) + 2;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* A hook ended. */
static void
notify_done_cb(struct proc *p, int status, const char *out, size_t len,
    void *arg)
{
	struct notify_hook	*h = arg;

	if (status == -1)
		log_warnx("hook \"%s\" timed out and was killed", h->argv[0]);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warnx("hook \"%s\" failed (%s %d)", h->argv[0],
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	TAILQ_REMOVE(&notify_running, h, entry);
	notify_nrunning--;
	notify_hook_free(h);
	notify_start();
}

/* Start waiting hooks while there is room. */
static void
notify_start(void)
{
	struct notify_hook	*h;
	char			*cause = NULL;

	while (notify_nrunning < NOTIFY_RUNNING &&
	    (h = TAILQ_FIRST(&notify_waiting)) != NULL) {
		TAILQ_REMOVE(&notify_waiting, h, entry);
		notify_nwaiting--;
		h->proc = proc_run((const char *const *)h->argv, h->env, 0,
		    daemon_config()->hook_timeout, notify_done_cb, h, &cause);
		if (h->proc == NULL) {
			log_warnx("hook: %s", cause);
			free(cause);
			cause = NULL;
			notify_hook_free(h);
			continue;
		}
		TAILQ_INSERT_TAIL(&notify_running, h, entry);
		notify_nrunning++;
	}
}

/* Run hooks.new_mail for a stored message. */
void
notify_new_mail(const char *account, const char *folder, long long id,
    const char *from, const char *subject)
{
	static const char *const names[] = { "from", "subject", "folder",
	    "account", "id", NULL };
	static const char *const envnames[] = { "MAILCTL_FROM",
	    "MAILCTL_SUBJECT", "MAILCTL_FOLDER", "MAILCTL_ACCOUNT",
	    "MAILCTL_ID", NULL };
	const char *const	*argv = daemon_config()->hook_new_mail;
	const char		*values[6];
	struct notify_hook	*h;
	char			 idstr[32];
	size_t			 i, n, nenv;

	if (argv == NULL)
		return;
	if (notify_nwaiting >= NOTIFY_QUEUE) {
		log_warnx("too many hooks waiting; not running one for "
		    "message %lld", id);
		return;
	}
	snprintf(idstr, sizeof idstr, "%lld", id);
	values[0] = from ? from : "";
	values[1] = subject ? subject : "";
	values[2] = folder;
	values[3] = account;
	values[4] = idstr;
	values[5] = NULL;
	h = xcalloc(1, sizeof *h);
	for (n = 0; argv[n] != NULL; n++)
		;
	h->argv = xcalloc(n + 1, sizeof *h->argv);
	for (i = 0; i < n; i++)
		h->argv[i] = notify_expand(argv[i], names, values);
	/* Our environment without any MAILCTL_*, then the values. */
	for (nenv = 0; environ[nenv] != NULL; nenv++)
		;
	h->env = xcalloc(nenv + 6, sizeof *h->env);
	for (i = 0, n = 0; i < nenv; i++)
		if (strncmp(environ[i], "MAILCTL_", 8) != 0)
			h->env[n++] = xstrdup(environ[i]);
	for (i = 0; envnames[i] != NULL; i++)
		xasprintf(&h->env[n++], "%s=%s", envnames[i], values[i]);
	TAILQ_INSERT_TAIL(&notify_waiting, h, entry);
	notify_nwaiting++;
	notify_start();
}

/* Forget waiting hooks; running ones are killed by proc_shutdown. */
void
notify_shutdown(void)
{
	struct notify_hook	*h;

	while ((h = TAILQ_FIRST(&notify_waiting)) != NULL) {
		TAILQ_REMOVE(&notify_waiting, h, entry);
		notify_hook_free(h);
	}
	while ((h = TAILQ_FIRST(&notify_running)) != NULL) {
		TAILQ_REMOVE(&notify_running, h, entry);
		notify_hook_free(h);
	}
	notify_nwaiting = notify_nrunning = 0;
}
