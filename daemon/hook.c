/*
 * Hooks, a consumer of the bus: hooks.new_mail is run once per stored message, as a child watched
 * by the loop (proc.c), with {from} {subject} {folder} {account} {id}
 * replaced in its arguments and the same values in MAILCTL_FROM,
 * MAILCTL_SUBJECT, MAILCTL_FOLDER, MAILCTL_ACCOUNT and MAILCTL_ID;
 * hooks.sent and hooks.send_failed once per outbox message at its outcome,
 * with {id} {account} {recipients} {subject} {reply} and MAILCTL_ID,
 * MAILCTL_ACCOUNT, MAILCTL_RECIPIENTS, MAILCTL_SUBJECT, MAILCTL_REPLY. At most
 * HOOK_RUNNING hooks run at once (a poll of 5,000 messages must not start
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
#include "bus.h"
#include "config.h"
#include "hook.h"
#include "proc.h"

#define HOOK_RUNNING	4		/* hooks at once */
#define HOOK_QUEUE	10000		/* hooks waiting, then dropped */

struct hook_job {
	TAILQ_ENTRY(hook_job) entry;
	char			**argv;
	char			**env;
	struct proc		*proc;
};

static TAILQ_HEAD(, hook_job) hook_waiting =
    TAILQ_HEAD_INITIALIZER(hook_waiting);
static TAILQ_HEAD(, hook_job) hook_running =
    TAILQ_HEAD_INITIALIZER(hook_running);
static size_t	hook_nwaiting, hook_nrunning;
static const struct config *hook_config;	/* borrowed: main's */
static struct bus	*hook_bus;
static struct bus_sub	*hook_sub;

extern char **environ;

static void	hook_start(void);

/* Free a hook and its vectors. */
static void
hook_job_free(struct hook_job *h)
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
hook_expand(const char *s, const char *const *names,
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
hook_done_cb(struct proc *p, int status, const char *out, size_t len,
    void *arg)
{
	struct hook_job	*h = arg;

	if (status == -1)
		log_warnx("hook \"%s\" timed out and was killed", h->argv[0]);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warnx("hook \"%s\" failed (%s %d)", h->argv[0],
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	TAILQ_REMOVE(&hook_running, h, entry);
	hook_nrunning--;
	hook_job_free(h);
	hook_start();
}

/* Start waiting hooks while there is room. */
static void
hook_start(void)
{
	struct hook_job	*h;
	char			*cause = NULL;

	while (hook_nrunning < HOOK_RUNNING &&
	    (h = TAILQ_FIRST(&hook_waiting)) != NULL) {
		TAILQ_REMOVE(&hook_waiting, h, entry);
		hook_nwaiting--;
		h->proc = proc_run((const char *const *)h->argv, h->env, 0,
		    hook_config->hook_timeout, hook_done_cb, h, &cause);
		if (h->proc == NULL) {
			log_warnx("hook: %s", cause);
			free(cause);
			cause = NULL;
			hook_job_free(h);
			continue;
		}
		TAILQ_INSERT_TAIL(&hook_running, h, entry);
		hook_nrunning++;
	}
}

/*
 * Queue a run of hook argv with {names[i]} replaced by values[i] in its
 * arguments and MAILCTL_<NAME> set to values[i] in its environment. what
 * names the run in a log line when it is dropped.
 */
static void
hook_run(const char *const *argv, const char *const *names,
    const char *const *values, const char *what)
{
	struct hook_job	*h;
	size_t			 i, j, n, nenv, nvalues;

	if (argv == NULL)
		return;
	if (hook_nwaiting >= HOOK_QUEUE) {
		log_warnx("too many hooks waiting; not running one for %s",
		    what);
		return;
	}
	h = xcalloc(1, sizeof *h);
	for (n = 0; argv[n] != NULL; n++)
		;
	h->argv = xcalloc(n + 1, sizeof *h->argv);
	for (i = 0; i < n; i++)
		h->argv[i] = hook_expand(argv[i], names, values);
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
	TAILQ_INSERT_TAIL(&hook_waiting, h, entry);
	hook_nwaiting++;
	hook_start();
}

/* Run hooks.new_mail for each message of a stored batch. */
static void
hook_new_mail(const struct bus_event *ev)
{
	static const char *const names[] = { "from", "subject", "folder",
	    "account", "id", NULL };
	const struct bus_mail	*m;
	const char		*values[5];
	char			 idstr[32], what[64];
	size_t			 i;

	for (i = 0; i < ev->nmail; i++) {
		m = &ev->mail[i];
		snprintf(idstr, sizeof idstr, "%lld", m->id);
		snprintf(what, sizeof what, "message %lld", m->id);
		values[0] = m->from ? m->from : "";
		values[1] = m->subject ? m->subject : "";
		values[2] = m->folder;
		values[3] = ev->account;
		values[4] = idstr;
		hook_run(hook_config->hook_new_mail, names, values, what);
	}
}

/*
 * Run hooks.sent (failed 0) or hooks.send_failed (failed 1) for an outbox
 * message, when some recipients are in that state: rcpts are those, reply
 * the server's answer.
 */
static void
hook_send(const struct bus_event *ev, int failed, const char *const *rcpts,
    size_t nrcpts, const char *reply)
{
	static const char *const names[] = { "id", "account", "recipients",
	    "subject", "reply", NULL };
	const char	*values[5];
	char		 idstr[32], what[64], *list, *next;
	size_t		 i;

	if (nrcpts == 0)
		return;
	list = xstrdup("");
	for (i = 0; i < nrcpts; i++) {
		xasprintf(&next, "%s%s%s", list, i > 0 ? "," : "", rcpts[i]);
		free(list);
		list = next;
	}
	snprintf(idstr, sizeof idstr, "%lld", ev->id);
	snprintf(what, sizeof what, "outbox message %lld", ev->id);
	values[0] = idstr;
	values[1] = ev->account;
	values[2] = list;
	values[3] = ev->subject ? ev->subject : "";
	values[4] = reply ? reply : "";
	hook_run(failed ? hook_config->hook_send_failed :
	    hook_config->hook_sent, names, values, what);
	free(list);
}

/* The bus tells of an event: run the hooks it calls for. */
static int
hook_event_cb(const struct bus_event *ev, void *arg)
{
	(void)arg;
	switch (ev->type) {
	case BUS_NEW_MAIL:
		hook_new_mail(ev);
		break;
	case BUS_SENT:
		hook_send(ev, 0, ev->rcpts, ev->nrcpts, ev->reply);
		hook_send(ev, 1, ev->failed, ev->nfailed, ev->failed_reply);
		break;
	case BUS_SEND_FAILED:
		hook_send(ev, 1, ev->rcpts, ev->nrcpts, ev->reply);
		break;
	default:
		break;
	}
	return 0;
}

/* Start: run hooks for the events of bus, as cf says. */
void
hook_init(struct bus *bus, const struct config *cf)
{
	hook_config = cf;
	hook_sub = bus_subscribe(bus, "hooks", hook_event_cb, NULL);
	hook_bus = bus;
}

/* The configuration in force changed (hooks waiting keep their argv). */
void
hook_reconfigure(const struct config *cf)
{
	hook_config = cf;
}

/* Forget waiting hooks; running ones are killed by proc_shutdown. */
void
hook_shutdown(void)
{
	struct hook_job	*h;

	while ((h = TAILQ_FIRST(&hook_waiting)) != NULL) {
		TAILQ_REMOVE(&hook_waiting, h, entry);
		hook_job_free(h);
	}
	while ((h = TAILQ_FIRST(&hook_running)) != NULL) {
		TAILQ_REMOVE(&hook_running, h, entry);
		hook_job_free(h);
	}
	hook_nwaiting = hook_nrunning = 0;
	bus_unsubscribe(hook_bus, hook_sub);
	hook_sub = NULL;
}
