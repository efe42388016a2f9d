/*
 * sd-bus on our event loop (dbus-loop.h). sd_bus_process() runs until it
 * has nothing left, at most DBUS_LOOP_PROCESS_MAX times a wake-up so that
 * a busy bus cannot starve the loop; work left over is picked up on the
 * loop's next pass by a zero timeout.
 */
#include "autoconf.h"

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "dbus-loop.h"

#define DBUS_LOOP_PROCESS_MAX	64	/* sd_bus_process() runs per wake-up */

struct dbus_loop {
	struct event_base	*base;
	sd_bus			*bus;		/* the owner's */
	struct event		*io;		/* on the bus's descriptor */
	struct event		*timer;		/* sd_bus_get_timeout() */
	int			 fd;
	int			 more;		/* work left: a zero timeout */
	dbus_loop_cb		 ready_cb;
	void			*arg;
};

/* The descriptor is ready or a timeout expired: over to the owner. */
static void
dbus_loop_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dbus_loop	*dl = arg;

	/* Last: the owner may free dl. */
	dl->ready_cb(dl->arg);
}

/* Drive bus on base; nothing waits until dbus_loop_arm(). */
struct dbus_loop *
dbus_loop_new(struct event_base *base, sd_bus *bus, dbus_loop_cb ready_cb,
    void *arg)
{
	struct dbus_loop	*dl;

	dl = xcalloc(1, sizeof *dl);
	dl->base = base;
	dl->bus = bus;
	dl->fd = sd_bus_get_fd(bus);
	dl->ready_cb = ready_cb;
	dl->arg = arg;
	dl->io = event_new(base, dl->fd, 0, dbus_loop_event_cb, dl);
	dl->timer = evtimer_new(base, dbus_loop_event_cb, dl);
	if (dl->io == NULL || dl->timer == NULL)
		fatalx("out of memory");
	return dl;
}

/*
 * Let sd-bus read, write, time out and dispatch (the owner's message
 * callbacks run here). Return 0, or a negative errno when the connection
 * is lost.
 */
int
dbus_loop_process(struct dbus_loop *dl)
{
	int	 i, r;

	dl->more = 0;
	for (i = 0; i < DBUS_LOOP_PROCESS_MAX; i++) {
		if ((r = sd_bus_process(dl->bus, NULL)) < 0)
			return r;
		if (r == 0)
			return 0;
	}
	dl->more = 1;
	return 0;
}

/*
 * Wait for what sd-bus asks: readiness of its descriptor and its next
 * timeout (absolute, CLOCK_MONOTONIC). Return 0, or a negative errno when
 * the connection is lost.
 */
int
dbus_loop_arm(struct dbus_loop *dl)
{
	struct timespec	 now;
	struct timeval	 tv = { 0, 0 };
	uint64_t	 until, nowus;
	short		 what = 0;
	int		 events;

	if ((events = sd_bus_get_events(dl->bus)) < 0)
		return events;
	if (events & POLLIN)
		what |= EV_READ;
	if (events & POLLOUT)
		what |= EV_WRITE;
	event_del(dl->io);
	event_assign(dl->io, dl->base, dl->fd, what, dbus_loop_event_cb, dl);
	if (what != 0)
		event_add(dl->io, NULL);

	evtimer_del(dl->timer);
	if (dl->more) {
		/* Work left, maybe read already: on the next loop pass. */
		evtimer_add(dl->timer, &tv);
		return 0;
	}
	if (sd_bus_get_timeout(dl->bus, &until) < 0 || until == UINT64_MAX)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	nowus = (uint64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	until = until > nowus ? until - nowus : 0;
	tv.tv_sec = until / 1000000;
	tv.tv_usec = until % 1000000;
	evtimer_add(dl->timer, &tv);
	return 0;
}

/* Stop waiting on the bus (which stays open). NULL is fine. */
void
dbus_loop_free(struct dbus_loop *dl)
{
	if (dl == NULL)
		return;
	event_free(dl->io);
	event_free(dl->timer);
	free(dl);
}
