/* Child processes watched by the event loop. */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "proc.h"

#define PROC_KILL_GRACE	2	/* seconds between SIGTERM and SIGKILL */

extern char **environ;

struct proc {
	LIST_ENTRY(proc)	 entry;
	pid_t			 pid;		/* 0 once reaped */
	int			 status;
	int			 timed_out;
	int			 out_fd;	/* -1 once closed */
	char			*out;
	size_t			 outlen;
	size_t			 out_max;
	struct event		*out_ev;
	struct event		*timer;
	int			 killed;	/* signals sent: 0, 1, 2 */
	int			 done;		/* callback delivered */
	proc_done_cb		 cb;
	void			*arg;
	char			*name;		/* argv[0], for logs */
};

static LIST_HEAD(, proc) procs = LIST_HEAD_INITIALIZER(procs);
static struct event_base	*proc_base;
static struct event		*proc_sigchld;

/* Deliver the outcome once the child exited and its output ended. */
static void
proc_maybe_done(struct proc *p)
{
	if (p->done || p->pid != 0 || p->out_fd != -1)
		return;
	p->done = 1;
	evtimer_del(p->timer);
	p->cb(p, p->timed_out ? -1 : p->status, p->out ? p->out : "",
	    p->outlen, p->arg);
}

/* Read the child's stdout, keeping at most out_max bytes. */
static void
proc_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	char		 buf[4096];
	ssize_t		 n;
	size_t		 keep;

	for (;;) {
		n = read(fd, buf, sizeof buf);
		if (n > 0) {
			keep = p->out_max - p->outlen;
			if ((size_t)n < keep)
				keep = n;
			memcpy(p->out + p->outlen, buf, keep);
			p->outlen += keep;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		break;	/* EOF or error: the output is over */
	}
	event_del(p->out_ev);
	close(p->out_fd);
	p->out_fd = -1;
	proc_maybe_done(p);
}

/* Kill a child that outlived its timeout: SIGTERM, then SIGKILL. */
static void
proc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;
	struct timeval	 tv = { PROC_KILL_GRACE, 0 };

	if (p->pid == 0) {
		/* Exited, but something holds its stdout open. */
		if (p->out_fd != -1) {
			event_del(p->out_ev);
			close(p->out_fd);
			p->out_fd = -1;
		}
		proc_maybe_done(p);
		return;
	}
	p->timed_out = 1;
	log_warnx("command \"%s\" pid=%d timed out; %s", p->name, (int)p->pid,
	    p->killed == 0 ? "terminating it" : "killing it");
	kill(p->pid, p->killed == 0 ? SIGTERM : SIGKILL);
	p->killed++;
	evtimer_add(p->timer, &tv);
}

/* Reap every exited child. */
static void
proc_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct proc	*p;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		LIST_FOREACH(p, &procs, entry)
			if (p->pid == pid)
				break;
		if (p == NULL)
			continue;
		p->pid = 0;
		p->status = status;
		if (p->out_fd != -1 && !p->done) {
			struct timeval	 tv = { PROC_KILL_GRACE, 0 };

			/* Give its output a moment to drain. */
			evtimer_add(p->timer, &tv);
		}
		proc_maybe_done(p);
	}
}

/* Start watching children. */
void
proc_init(struct event_base *base)
{
	proc_base = base;
	proc_sigchld = evsignal_new(base, SIGCHLD, proc_sigchld_cb, NULL);
	evsignal_add(proc_sigchld, NULL);
}

/*
 * Run argv (searched in PATH, no shell) with stdin from /dev/null; capture
 * up to out_max bytes of stdout (0: discard it). envp NULL keeps ours.
 */
struct proc *
proc_run(const char *const *argv, char *const *envp, size_t out_max,
    int timeout, proc_done_cb cb, void *arg, char **cause)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, dfl;
	struct proc			*p;
	struct timeval			 tv = { timeout, 0 };
	int				 pipefd[2], rc;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		return NULL;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	if (out_max > 0)
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
		    "/dev/null", O_WRONLY, 0);
	/* The child starts with default signals and an empty mask. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);

	p = xcalloc(1, sizeof *p);
	p->name = xstrdup(argv[0]);
	rc = posix_spawnp(&p->pid, argv[0], &fa, &attr, (char *const *)argv,
	    envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (rc != 0) {
		xasprintf(cause, "cannot run \"%s\": %s", argv[0],
		    strerror(rc));
		close(pipefd[0]);
		free(p->name);
		free(p);
		return NULL;
	}
	p->out_max = out_max;
	p->out = out_max > 0 ? xmalloc(out_max) : NULL;
	p->cb = cb;
	p->arg = arg;
	p->out_fd = pipefd[0];
	p->out_ev = event_new(proc_base, p->out_fd, EV_READ | EV_PERSIST,
	    proc_out_cb, p);
	event_add(p->out_ev, NULL);
	p->timer = evtimer_new(proc_base, proc_timer_cb, p);
	evtimer_add(p->timer, &tv);
	LIST_INSERT_HEAD(&procs, p, entry);
	log_debug("started \"%s\" pid=%d", p->name, (int)p->pid);
	return p;
}

/*
 * Free a proc. A child still running is killed; the SIGCHLD handler no
 * longer knows it, so reap it here without waiting (it is gone shortly, and
 * the handler's waitpid(-1) collects it otherwise).
 */
void
proc_free(struct proc *p)
{
	if (p == NULL)
		return;
	if (p->pid != 0)
		kill(p->pid, SIGKILL);
	LIST_REMOVE(p, entry);
	if (p->out_fd != -1)
		close(p->out_fd);
	event_free(p->out_ev);
	event_free(p->timer);
	if (p->out != NULL)
		explicit_bzero(p->out, p->out_max);	/* may be a secret */
	free(p->out);
	free(p->name);
	free(p);
}

/* Kill and forget every child. */
void
proc_shutdown(void)
{
	while (!LIST_EMPTY(&procs))
		proc_free(LIST_FIRST(&procs));
	if (proc_sigchld != NULL)
		event_free(proc_sigchld);
	proc_sigchld = NULL;
}

