/*
 * Hooks: hooks.new_mail is run once per stored message, as a child watched
 * by the loop (proc.c), with {from} {subject} {folder} {account} {id}
 * replaced in its arguments and the same values in MAILCTL_FROM,
 * MAILCTL_SUBJECT, MAILCTL_FOLDER, MAILCTL_ACCOUNT and MAILCTL_ID;
 * hooks.sent and hooks.send_failed once per outbox message at its outcome,
 * with {id} {account} {recipients} {subject} {reply} and MAILCTL_ID,
 * MAILCTL_ACCOUNT, MAILCTL_RECIPIENTS, MAILCTL_SUBJECT, MAILCTL_REPLY. At most
 * NOTIFY_RUNNING hooks run at once (a poll of 5,000 messages must not start
 * 5,000 processes); the rest wait in a bounded queue, and beyond it are
 * dropped with a log line. A hook that fails or outlives hooks.timeout is
 * logged and killed; nothing else notices.
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/wait.h>

#include <ctype.h>
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

/*
 * Queue a run of hook argv with {names[i]} replaced by values[i] in its
 * arguments and MAILCTL_<NAME> set to values[i] in its environment. what
 * names the run in a log line when it is dropped.
 */
static void
notify_run(const char *const *argv, const char *const *names,
    const char *const *values, const char *what)
{
	struct notify_hook	*h;
	size_t			 i, j, n, nenv, nvalues;

	if (argv == NULL)
		return;
	if (notify_nwaiting >= NOTIFY_QUEUE) {
		log_warnx("too many hooks waiting; not running one for %s",
		    what);
		return;
	}
	h = xcalloc(1, sizeof *h);
	for (n = 0; argv[n] != NULL; n++)
		;
	h->argv = xcalloc(n + 1, sizeof *h->argv);
	for (i = 0; i < n; i++)
		h->argv[i] = notify_expand(argv[i], names, values);
	/* Our environment without any MAILCTL_*, then the values. */
	for (nenv = 0; environ[nenv] != NULL; nenv++)
		;
	for (nvalues = 0; names[nvalues] != NULL; nvalues++)
		;
	h->env = xcalloc(nenv + nvalues + 1, sizeof *h->env);
	for (i = 0, n = 0; i < nenv; i++)
		if (strncmp(environ[i], "MAILCTL_", 8) != 0)
			h->env[n++] = xstrdup(environ[i]);
	for (i = 0; i < nvalues; i++) {
		xasprintf(&h->env[n], "MAILCTL_%s=%s", names[i], values[i]);
		for (j = 8; h->env[n][j] != '='; j++)
			h->env[n][j] = toupper((unsigned char)h->env[n][j]);
		n++;
	}
	TAILQ_INSERT_TAIL(&notify_waiting, h, entry);
	notify_nwaiting++;
	notify_start();
}

/* Run hooks.new_mail for a stored message. */
void
notify_new_mail(const char *account, const char *folder, long long id,
    const char *from, const char *subject)
{
	static const char *const names[] = { "from", "subject", "folder",
	    "account", "id", NULL };
	const char	*values[5];
	char		 idstr[32], what[64];

	snprintf(idstr, sizeof idstr, "%lld", id);
	snprintf(what, sizeof what, "message %lld", id);
	values[0] = from ? from : "";
	values[1] = subject ? subject : "";
	values[2] = folder;
	values[3] = account;
	values[4] = idstr;
	notify_run(daemon_config()->hook_new_mail, names, values, what);
}

/*
 * Run hooks.sent (failed 0) or hooks.send_failed (failed 1) for an outbox
 * message: recipients are the addresses it concerns, comma-separated,
 * reply the server's answer.
 */
void
notify_send(int failed, const char *account, long long id,
    const char *recipients, const char *subject, const char *reply)
{
	static const char *const names[] = { "id", "account", "recipients",
	    "subject", "reply", NULL };
	const struct config	*cf = daemon_config();
	const char		*values[5];
	char			 idstr[32], what[64];

	snprintf(idstr, sizeof idstr, "%lld", id);
	snprintf(what, sizeof what, "outbox message %lld", id);
	values[0] = idstr;
	values[1] = account;
	values[2] = recipients;
	values[3] = subject ? subject : "";
	values[4] = reply ? reply : "";
	notify_run(failed ? cf->hook_send_failed : cf->hook_sent, names,
	    values, what);
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
