/*
 * An sd-bus connection driven by our event loop: one event on the bus's
 * descriptor for what sd_bus_get_events() asks, one timer for
 * sd_bus_get_timeout(). When either fires, the owner's ready callback
 * runs; it calls dbus_loop_process() and then dbus_loop_arm() (with
 * whatever it sends in between), and on an error from either forgets the
 * connection: dbus_loop_free() and closing the bus, which it may do from
 * inside the callback.
 *
 * Borrowed by desktop.c (the session bus) and logind.c (the system bus);
 * the sd_bus stays theirs.
 */
#ifndef MAILCTL_DBUS_LOOP_H
#define MAILCTL_DBUS_LOOP_H

struct event_base;
struct dbus_loop;
struct sd_bus;

typedef void (*dbus_loop_cb)(void *arg);

struct dbus_loop *dbus_loop_new(struct event_base *, struct sd_bus *,
		    dbus_loop_cb ready_cb, void *arg);
int		 dbus_loop_process(struct dbus_loop *);
int		 dbus_loop_arm(struct dbus_loop *);
void		 dbus_loop_free(struct dbus_loop *);

#endif
