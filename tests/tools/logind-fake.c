/*
 * logind-fake: plays systemd-logind's sleep signal for the tests.
 *
 * usage: logind-fake [--stranger] true|false
 *
 * Connects to the system bus named by DBUS_SYSTEM_BUS_ADDRESS (a private
 * bus of the test), owns org.freedesktop.login1 as logind does, sends
 * the signal PrepareForSleep(b) of org.freedesktop.login1.Manager from
 * /org/freedesktop/login1, and exits 0 once it is written. --stranger
 * sends the same signal without owning the name, as any local user could
 * on a real system bus. Exits 1 with a message on any error.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include <systemd/sd-bus.h>

int
main(int argc, char **argv)
{
	sd_bus	*bus = NULL;
	int	 stranger = 0, sleeping, r;

	if (argc > 1 && strcmp(argv[1], "--stranger") == 0) {
		stranger = 1;
		argc--;
		argv++;
	}
	if (argc != 2 || (strcmp(argv[1], "true") != 0 &&
	    strcmp(argv[1], "false") != 0)) {
		fprintf(stderr, "usage: logind-fake [--stranger] true|false\n");
		return 2;
	}
	sleeping = strcmp(argv[1], "true") == 0;
	if ((r = sd_bus_open_system(&bus)) < 0) {
		fprintf(stderr, "logind-fake: system bus: %s\n", strerror(-r));
		return 1;
	}
	if (!stranger && (r = sd_bus_request_name(bus, "org.freedesktop.login1",
	    0)) < 0) {
		fprintf(stderr, "logind-fake: RequestName: %s\n", strerror(-r));
		return 1;
	}
	if ((r = sd_bus_emit_signal(bus, "/org/freedesktop/login1",
	    "org.freedesktop.login1.Manager", "PrepareForSleep", "b",
	    sleeping)) < 0 || (r = sd_bus_flush(bus)) < 0) {
		fprintf(stderr, "logind-fake: PrepareForSleep: %s\n",
		    strerror(-r));
		return 1;
	}
	sd_bus_flush_close_unref(bus);
	return 0;
}
