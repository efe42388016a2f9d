/*
 * The machine's sleep and wake-up, as systemd-logind announces them on the
 * system bus (signal PrepareForSleep(b) of org.freedesktop.login1.Manager):
 * cb(1) before the machine goes to sleep, cb(0) once it is awake again.
 *
 * The system bus is what sd_bus_open_system() finds: $DBUS_SYSTEM_BUS_ADDRESS
 * (tests point it at a private bus), else /run/dbus/system_bus_socket.
 * Without one, or when it goes away, this says so once at info level and
 * tries again in the background (1 s, doubling up to 5 min); the daemon
 * works the same, only a wake-up is not noticed.
 *
 * While connected it holds a logind delay lock on sleep, given back right
 * after cb(1) returned and taken anew after cb(0): cb(1) is the owner's
 * chance to close its connections before the machine sleeps.
 *
 * cb runs from the loop; it must not call logind_shutdown().
 */
#ifndef MAILCTL_LOGIND_H
#define MAILCTL_LOGIND_H

struct event_base;

typedef void (*logind_cb)(int sleeping, void *arg);

int	logind_init(struct event_base *, logind_cb, void *arg);
void	logind_shutdown(void);

#endif
