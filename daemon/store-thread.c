/*
 * The store's threads (why three, and what each runs: store-int.h). The
 * writer, the reader and the digester each run their queued jobs in
 * order; a finished job goes on to the next thread of its pipeline or
 * back to the loop, which learns of it through one eventfd and runs its
 * done function. The file makers (store_maker, store-deliver.c) are
 * started and stopped with them. At close every queued job is finished.
 */
#include "autoconf.h"

#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "store.h"
#include "store-int.h"

/*
 * Is the daemon stopping? Long jobs (reindex, refilter) ask between
 * messages and give up, so a stop never waits for them.
 */
int
store_stopping(struct store *st)
{
	int	 stopping;

	pthread_mutex_lock(&st->lock);
	stopping = st->stopping;
	pthread_mutex_unlock(&st->lock);
	return stopping;
}

/* A store thread: run its jobs in order until told to stop. */
static void *
store_thread_main(void *arg)
{
	struct store_thread	*t = arg;
	struct store		*st = t->st;
	struct store_job	*job;
	uint64_t		 one = 1;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (TAILQ_EMPTY(&t->todo) && !t->stop)
			pthread_cond_wait(&t->wake, &st->lock);
		if ((job = TAILQ_FIRST(&t->todo)) == NULL)
			break;
		TAILQ_REMOVE(&t->todo, job, entry);
		pthread_mutex_unlock(&st->lock);
		job->run(st, t->db, job);
		pthread_mutex_lock(&st->lock);
		if (job->hold) {
			/* Its report waits for store_thread_release. */
			job->hold = 0;
			TAILQ_INSERT_TAIL(&t->held, job, entry);
			continue;
		}
		if (job->next != NULL) {
			TAILQ_INSERT_TAIL(&job->next->todo, job, entry);
			pthread_cond_signal(&job->next->wake);
			job->next = NULL;
			continue;
		}
		TAILQ_INSERT_TAIL(&st->done, job, entry);
		/* Cannot fail short of overflowing a 64-bit counter. */
		(void)!write(st->efd, &one, sizeof one);
	}
	pthread_mutex_unlock(&st->lock);
	/* Held for the next job's flush, which never came: flush here. */
	if (!TAILQ_EMPTY(&t->held))
		(void)syncfs(st->dirfd);
	store_thread_release(st, t);
	return NULL;
}

/*
 * On thread t: hand the jobs it holds to the loop, whose done functions
 * then report them.
 */
void
store_thread_release(struct store *st, struct store_thread *t)
{
	uint64_t	 one = 1;

	pthread_mutex_lock(&st->lock);
	if (!TAILQ_EMPTY(&t->held)) {
		TAILQ_CONCAT(&st->done, &t->held, entry);
		(void)!write(st->efd, &one, sizeof one);
	}
	pthread_mutex_unlock(&st->lock);
}

/* Queue a job on a store thread; its done function runs on the loop. */
void
store_submit(struct store *st, struct store_thread *t, struct store_job *job)
{
	pthread_mutex_lock(&st->lock);
	TAILQ_INSERT_TAIL(&t->todo, job, entry);
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&st->lock);
}

/* On the loop: hand finished jobs back. */
static void
store_done(struct store *st)
{
	struct store_jobs	 done;
	struct store_job	*job;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&st->lock);
	TAILQ_CONCAT(&done, &st->done, entry);
	pthread_mutex_unlock(&st->lock);
	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, entry);
		job->done(st, job);
	}
}

/* The eventfd: a thread finished something. */
static void
store_efd_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	 n;

	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_warn("store eventfd");
	store_done(arg);
}

/* Start one store thread. */
static int
store_thread_start(struct store_thread *t, char **cause)
{
	char	 name[16];
	int	 rc;

	TAILQ_INIT(&t->todo);
	TAILQ_INIT(&t->held);
	pthread_cond_init(&t->wake, NULL);
	if ((rc = pthread_create(&t->thread, NULL, store_thread_main,
	    t)) != 0) {
		xasprintf(cause, "cannot start the store %s thread: %s",
		    t->name, strerror(rc));
		return -1;
	}
	snprintf(name, sizeof name, "store-%s", t->name);
	pthread_setname_np(t->thread, name);	/* for top and perf */
	t->running = 1;
	return 0;
}

/* Start the writer, the reader and the file makers. */
int
store_threads_start(struct store *st, struct event_base *base, char **cause)
{
	int	 rc;

	TAILQ_INIT(&st->done);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->make_wake, NULL);
	pthread_mutex_init(&st->tmpdirs, NULL);
	pthread_cond_init(&st->tmp_turn, NULL);
	st->threads = 1;
	if ((st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		xasprintf(cause, "eventfd: %s", strerror(errno));
		return -1;
	}
	st->efd_ev = event_new(base, st->efd, EV_READ | EV_PERSIST,
	    store_efd_cb, st);
	if (st->efd_ev == NULL || event_add(st->efd_ev, NULL) != 0) {
		xasprintf(cause, "cannot watch the store's eventfd");
		return -1;
	}
	if (store_thread_start(&st->writer, cause) != 0 ||
	    store_thread_start(&st->reader, cause) != 0 ||
	    store_thread_start(&st->digester, cause) != 0)
		return -1;
	for (; st->nmakers < STORE_MAKERS; st->nmakers++) {
		if ((rc = pthread_create(&st->makers[st->nmakers], NULL,
		    store_maker, st)) != 0) {
			xasprintf(cause, "cannot start a store thread: %s",
			    strerror(rc));
			return -1;
		}
		pthread_setname_np(st->makers[st->nmakers], "store-maker");
	}
	return 0;
}

/* Let a store thread finish its queued jobs and exit. */
static void
store_thread_stop(struct store *st, struct store_thread *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&st->lock);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&st->lock);
	pthread_join(t->thread, NULL);
	t->running = 0;
}

/*
 * Let the threads finish every queued job, then hand them back. The
 * digester goes first: what it finishes goes on to the writer.
 */
void
store_threads_stop(struct store *st)
{
	if (!st->threads)
		return;
	pthread_mutex_lock(&st->lock);
	st->stopping = 1;
	pthread_cond_broadcast(&st->make_wake);
	pthread_mutex_unlock(&st->lock);
	store_thread_stop(st, &st->digester);
	store_thread_stop(st, &st->writer);
	store_thread_stop(st, &st->reader);
	while (st->nmakers > 0)
		pthread_join(st->makers[--st->nmakers], NULL);
	store_done(st);
	if (st->efd_ev != NULL)
		event_free(st->efd_ev);
	st->efd_ev = NULL;
	if (st->efd != -1)
		close(st->efd);
	st->efd = -1;
}
