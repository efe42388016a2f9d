/*
 * Sleep and wake-up from systemd-logind (logind.h): a match on the system
 * bus for PrepareForSleep(b), sent by org.freedesktop.login1 from
 * /org/freedesktop/login1 before the machine sleeps (true) and after it
 * wakes up (false, also when going to sleep failed).
 *
 * Only logind's own signal counts: the match names the sender
 * org.freedesktop.login1, and the bus daemon delivers a signal only when
 * its sender owns that name at the time. The system bus lets any local
 * user broadcast a signal with any path and interface; without the sender
 * in the match, a stranger's PrepareForSleep(false) would make every
 * account poll at once, as often as the stranger likes (and, once the
 * IMAP IDLE work closes connections on sleep, a PrepareForSleep(true)
 * would drop them). With it, a logind that starts or restarts after us is
 * still heard, as the rule follows the name, not a connection. Tests play
 * logind on a private bus by owning the name (tests/tools/logind-fake).
 *
 * Nothing here blocks the loop. sd_bus_open_system() is a connect(2) on a
 * local UNIX socket, which does not wait for the peer; authentication,
 * Hello and AddMatch (sd_bus_match_signal_async) then go through the loop
 * (dbus-loop.c). No method is ever called and waited for.
 *
 * Without a system bus, or when it goes away or refuses the match, one
 * line at info level says so; the next try is LOGIND_RETRY_FIRST seconds
 * later, each failure doubling the wait up to LOGIND_RETRY_MAX. A
 * connection that lived LOGIND_STABLE seconds starts the count afresh.
 * Back, it says so at info level too.
 *
 * A delay inhibitor lock (logind's Inhibit("sleep", ..., "delay")) lets
 * the owner close its connections before the machine sleeps: taken once
 * the match is in place and again after each wake-up, released (its file
 * descriptor closed) right after cb(1) returned. logind waits for it at
 * most InhibitDelayMaxSec (5 s by default). Asking for it is a method call
 * answered through the loop; a refusal (no logind, a policy that says no)
 * is logged at debug level and the daemon works the same, only its
 * connections are dropped by the sleep rather than closed before it.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "common/log.h"
#include "dbus-loop.h"
#include "logind.h"

#define LOGIND_NAME		"org.freedesktop.login1"
#define LOGIND_PATH		"/org/freedesktop/login1"
#define LOGIND_IFACE		"org.freedesktop.login1.Manager"
#define LOGIND_RETRY_FIRST	1	/* seconds */
#define LOGIND_RETRY_MAX	300
#define LOGIND_STABLE		60	/* seconds up: backoff starts afresh */
#define LOGIND_CALL_TIMEOUT	(10 * 1000000ULL)	/* AddMatch, us */

static struct event_base	*logind_base;
static logind_cb		 logind_sleep_cb;
static void			*logind_arg;
static sd_bus			*logind_dbus;	/* NULL: not connected */
static struct dbus_loop		*logind_loop;	/* drives logind_dbus */
static struct event		*logind_retry;	/* the next connect */
static int			 logind_delay = LOGIND_RETRY_FIRST;
static int			 logind_absent;	/* "no system bus" logged */
static int			 logind_broken;	/* errno: the match failed */
static time_t			 logind_since;	/* match in place; 0: not */
static int			 logind_lock = -1; /* the delay lock's fd */
static int			 logind_asleep;	/* between (true) and (false) */

static void	logind_connect(void);

/* Return the monotonic clock in seconds. */
static time_t
logind_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Let the machine sleep: close the delay lock, if there is one. */
static void
logind_release(void)
{
	if (logind_lock == -1)
		return;
	close(logind_lock);
	logind_lock = -1;
	log_debug("logind: delay lock released");
}

/* Inhibit answered: keep the lock's file descriptor, or say why not. */
static int
logind_inhibit_cb(sd_bus_message *m, void *arg, sd_bus_error *ret_error)
{
	const sd_bus_error	*e;
	int			 fd, r;

	(void)arg;
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		log_debug("logind: no delay lock: %s: \"%s\"", e->name,
		    e->message ? e->message : "");
		return 0;
	}
	if ((r = sd_bus_message_read(m, "h", &fd)) < 0) {
		log_debug("logind: Inhibit answered without a file "
		    "descriptor: %s", strerror(-r));
		return 0;
	}
	/* The message owns fd; keep a copy of our own. */
	logind_release();
	if ((logind_lock = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1) {
		log_debug("logind: delay lock: %s", strerror(errno));
		return 0;
	}
	log_debug("logind: delay lock taken");
	/* Asleep already (the answer came after PrepareForSleep(true)). */
	if (logind_asleep)
		logind_release();
	return 0;
}

/* Ask logind for a delay lock on sleep; the answer comes by the loop. */
static void
logind_inhibit(void)
{
	int	 r;

	if (logind_dbus == NULL || logind_lock != -1)
		return;
	r = sd_bus_call_method_async(logind_dbus, NULL, LOGIND_NAME,
	    LOGIND_PATH, LOGIND_IFACE, "Inhibit", logind_inhibit_cb, NULL,
	    "ssss", "sleep", "mailctld",
	    "Close the mail connections before sleeping", "delay");
	if (r < 0)
		log_debug("logind: Inhibit: %s", strerror(-r));
}

/* Try to connect again in a while, waiting longer each time. */
static void
logind_schedule(void)
{
	struct timeval	 tv = { logind_delay, 0 };

	log_debug("logind: next try to reach the system bus in %d s",
	    logind_delay);
	evtimer_add(logind_retry, &tv);
	logind_delay *= 2;
	if (logind_delay > LOGIND_RETRY_MAX)
		logind_delay = LOGIND_RETRY_MAX;
}

/* Forget the connection (after an error r, or none) and try again later. */
static void
logind_disconnect(const char *what, int r)
{
	if (logind_since != 0 && logind_now() - logind_since >= LOGIND_STABLE)
		logind_delay = LOGIND_RETRY_FIRST;
	logind_since = 0;
	if (!logind_absent)
		log_info("logind: %s: %s; sleep and wake-up go unnoticed until "
		    "it is back (trying again from time to time)", what,
		    strerror(-r));
	else
		log_debug("logind: %s: %s", what, strerror(-r));
	logind_absent = 1;
	logind_release();
	dbus_loop_free(logind_loop);
	logind_loop = NULL;
	logind_dbus = sd_bus_close_unref(logind_dbus);
	logind_broken = 0;
	logind_schedule();
}

/* Wait for what sd-bus asks. */
static void
logind_arm(void)
{
	int	 r;

	if ((r = dbus_loop_arm(logind_loop)) < 0)
		logind_disconnect("system bus connection lost", r);
}

/* The bus is ready: let sd-bus work and dispatch, then wait again. */
static void
logind_ready_cb(void *arg)
{
	int	 r;

	(void)arg;
	if ((r = dbus_loop_process(logind_loop)) < 0) {
		logind_disconnect("system bus connection lost", r);
		return;
	}
	/* Found inside sd_bus_process(), where the bus cannot go. */
	if (logind_broken != 0) {
		logind_disconnect("the system bus refused the match",
		    -logind_broken);
		return;
	}
	logind_arm();
}

/* PrepareForSleep(b) from logind: tell the owner. */
static int
logind_signal_cb(sd_bus_message *m, void *arg, sd_bus_error *ret_error)
{
	int	 sleeping, r;

	(void)arg;
	if ((r = sd_bus_message_read(m, "b", &sleeping)) < 0) {
		log_debug("logind: PrepareForSleep without a boolean: %s",
		    strerror(-r));
		return 0;
	}
	log_debug("logind: PrepareForSleep(%s)", sleeping ? "true" : "false");
	logind_asleep = sleeping != 0;
	logind_sleep_cb(sleeping != 0, logind_arg);
	if (sleeping)
		logind_release();
	else
		logind_inhibit();
	return 0;
}

/* AddMatch answered: the signal is watched, or the bus said no. */
static int
logind_match_cb(sd_bus_message *m, void *arg, sd_bus_error *ret_error)
{
	const sd_bus_error	*e;
	const char		*address = NULL;

	(void)arg;
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		log_debug("logind: AddMatch: %s: \"%s\"", e->name,
		    e->message ? e->message : "");
		logind_broken = sd_bus_message_get_errno(m);
		if (logind_broken <= 0)
			logind_broken = EPROTO;
		return 0;
	}
	sd_bus_get_address(logind_dbus, &address);
	if (logind_absent)
		log_info("logind: system bus found at \"%s\": watching for "
		    "sleep", address ? address : "?");
	else
		log_debug("logind: watching for sleep on the system bus at "
		    "\"%s\"", address ? address : "?");
	logind_absent = 0;
	logind_since = logind_now();
	logind_inhibit();
	return 0;
}

/* Connect to the system bus and ask for logind's signal; else retry. */
static void
logind_connect(void)
{
	int	 r;

	/* DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket. */
	if ((r = sd_bus_open_system(&logind_dbus)) < 0) {
		logind_dbus = NULL;
		if (!logind_absent)
			log_info("logind: no system bus (%s); sleep and "
			    "wake-up go unnoticed until there is one (trying "
			    "again from time to time)", strerror(-r));
		else
			log_debug("logind: no system bus: %s", strerror(-r));
		logind_absent = 1;
		logind_schedule();
		return;
	}
	r = sd_bus_set_method_call_timeout(logind_dbus, LOGIND_CALL_TIMEOUT);
	if (r >= 0)
		r = sd_bus_get_fd(logind_dbus);
	if (r >= 0)
		r = sd_bus_match_signal_async(logind_dbus, NULL, LOGIND_NAME,
		    LOGIND_PATH, LOGIND_IFACE, "PrepareForSleep",
		    logind_signal_cb, logind_match_cb, NULL);
	logind_loop = dbus_loop_new(logind_base, logind_dbus, logind_ready_cb,
	    NULL);
	if (r < 0) {
		logind_disconnect("system bus", r);
		return;
	}
	logind_arm();
}

/* The time to try again has come. */
static void
logind_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	logind_connect();
}

/*
 * Start watching: cb(1, arg) before the machine sleeps, cb(0, arg) after
 * it wakes up. Return 0 when a connection to the system bus is on its way,
 * -1 when there is none now (logged; tried again in the background).
 */
int
logind_init(struct event_base *base, logind_cb cb, void *arg)
{
	logind_base = base;
	logind_sleep_cb = cb;
	logind_arg = arg;
	logind_delay = LOGIND_RETRY_FIRST;
	if ((logind_retry = evtimer_new(base, logind_retry_cb, NULL)) == NULL)
		fatalx("out of memory");
	logind_connect();
	return logind_dbus != NULL ? 0 : -1;
}

/* Stop watching and free everything; fine when logind_init never ran. */
void
logind_shutdown(void)
{
	if (logind_retry != NULL)
		event_free(logind_retry);
	logind_retry = NULL;
	dbus_loop_free(logind_loop);
	logind_loop = NULL;
	logind_dbus = sd_bus_close_unref(logind_dbus);
	logind_since = 0;
	logind_absent = logind_broken = logind_asleep = 0;
	logind_release();
}
