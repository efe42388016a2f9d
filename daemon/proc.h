/*
 * Child processes watched by the loop (password commands, hooks): spawned
 * with posix_spawnp (no shell), stdout read through a non-blocking pipe,
 * reaped by a SIGCHLD handler looping waitpid(WNOHANG), killed at a timeout.
 * The done callback runs once, when the child has exited and its stdout is
 * closed; the caller then frees the proc.
 */
#ifndef MAILCTL_PROC_H
#define MAILCTL_PROC_H

#include <stddef.h>

struct event_base;
struct proc;

/* status: a waitpid status, or -1 when it timed out and was killed. */
typedef void (*proc_done_cb)(struct proc *, int status, const char *out,
    size_t outlen, void *arg);

struct proc	*proc_run(const char *const *argv, char *const *envp,
		    size_t out_max, int timeout, proc_done_cb, void *arg,
		    char **cause);
void		 proc_free(struct proc *);
void		 proc_init(struct event_base *);
void		 proc_shutdown(void);

#endif
