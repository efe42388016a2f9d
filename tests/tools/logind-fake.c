/*
 * logind-fake: plays systemd-logind's sleep signal and delay locks for the
 * tests.
 *
 * usage: logind-fake [--stranger] true|false
 *        logind-fake serve
 *
 * Connects to the system bus named by DBUS_SYSTEM_BUS_ADDRESS (a private
 * bus of the test) and owns org.freedesktop.login1 as logind does.
 *
 * true|false: sends the signal PrepareForSleep(b) of
 * org.freedesktop.login1.Manager from /org/freedesktop/login1 and exits 0
 * once it is written. --stranger sends the same signal without owning the
 * name, as any local user could on a real system bus.
 *
 * serve: stays, answers Inhibit(what, who, why, mode) with one end of a
 * pipe as logind does, and reads commands on stdin, one per line: "true"
 * or "false" sends PrepareForSleep, "quit" (or EOF) exits. It writes one
 * line per event to stdout: "ready" once the name is owned, "inhibit WHAT
 * WHO MODE" for a lock given, "released WHO" when its holder closed it,
 * "sent true|false" for a signal written.
 *
 * Exits 1 with a message on any error.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#define FAKE_PATH	"/org/freedesktop/login1"
#define FAKE_IFACE	"org.freedesktop.login1.Manager"
#define FAKE_LOCKS	16

static struct {
	int	 fd;		/* our end; -1: slot free */
	char	 who[64];
} locks[FAKE_LOCKS];

/* Inhibit(ssss) -> h: give one end of a pipe, watch the other. */
static int
fake_inhibit(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	const char	*what, *who, *why, *mode;
	int		 p[2], i, r;

	(void)arg;
	if ((r = sd_bus_message_read(m, "ssss", &what, &who, &why, &mode)) < 0)
		return r;
	for (i = 0; i < FAKE_LOCKS && locks[i].fd != -1; i++)
		continue;
	if (i == FAKE_LOCKS)
		return sd_bus_error_set(err, SD_BUS_ERROR_LIMITS_EXCEEDED,
		    "too many locks");
	if (pipe2(p, O_CLOEXEC) == -1)
		return -errno;
	locks[i].fd = p[0];
	snprintf(locks[i].who, sizeof locks[i].who, "%s", who);
	printf("inhibit %s %s %s\n", what, who, mode);
	r = sd_bus_reply_method_return(m, "h", p[1]);
	close(p[1]);
	return r;
}

static const sd_bus_vtable fake_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Inhibit", "ssss", "h", fake_inhibit,
	    SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL("PrepareForSleep", "b", 0),
	SD_BUS_VTABLE_END
};

/* Send PrepareForSleep(sleeping). */
static int
fake_signal(sd_bus *bus, int sleeping)
{
	int	 r;

	if ((r = sd_bus_emit_signal(bus, FAKE_PATH, FAKE_IFACE,
	    "PrepareForSleep", "b", sleeping)) < 0 ||
	    (r = sd_bus_flush(bus)) < 0) {
		fprintf(stderr, "logind-fake: PrepareForSleep: %s\n",
		    strerror(-r));
		return -1;
	}
	return 0;
}

/* The serve mode: answer Inhibit, obey stdin, report on stdout. */
static int
fake_serve(sd_bus *bus)
{
	struct pollfd	 pfd[2 + FAKE_LOCKS];
	char		 line[64];
	int		 i, n, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < FAKE_LOCKS; i++)
		locks[i].fd = -1;
	if ((r = sd_bus_add_object_vtable(bus, NULL, FAKE_PATH, FAKE_IFACE,
	    fake_vtable, NULL)) < 0) {
		fprintf(stderr, "logind-fake: vtable: %s\n", strerror(-r));
		return 1;
	}
	printf("ready\n");
	for (;;) {
		while ((r = sd_bus_process(bus, NULL)) > 0)
			continue;
		if (r < 0) {
			fprintf(stderr, "logind-fake: bus: %s\n", strerror(-r));
			return 1;
		}
		pfd[0].fd = sd_bus_get_fd(bus);
		pfd[0].events = sd_bus_get_events(bus);
		pfd[1].fd = STDIN_FILENO;
		pfd[1].events = POLLIN;
		for (i = 0; i < FAKE_LOCKS; i++) {
			pfd[2 + i].fd = locks[i].fd;
			pfd[2 + i].events = 0;	/* POLLHUP comes anyway */
		}
		if (poll(pfd, 2 + FAKE_LOCKS, -1) == -1) {
			if (errno == EINTR)
				continue;
			perror("logind-fake: poll");
			return 1;
		}
		for (i = 0; i < FAKE_LOCKS; i++) {
			if (locks[i].fd == -1 || pfd[2 + i].revents == 0)
				continue;
			printf("released %s\n", locks[i].who);
			close(locks[i].fd);
			locks[i].fd = -1;
		}
		if (pfd[1].revents == 0)
			continue;
		/* One command per read; the tests send one at a time. */
		if ((n = read(STDIN_FILENO, line, sizeof line - 1)) <= 0)
			return 0;
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "quit") == 0)
			return 0;
		if (strcmp(line, "true") != 0 && strcmp(line, "false") != 0) {
			fprintf(stderr, "logind-fake: unknown command \"%s\"\n",
			    line);
			continue;
		}
		if (fake_signal(bus, strcmp(line, "true") == 0) == -1)
			return 1;
		printf("sent %s\n", line);
	}
}

int
main(int argc, char **argv)
{
	sd_bus	*bus = NULL;
	int	 stranger = 0, serve, r;

	if (argc > 1 && strcmp(argv[1], "--stranger") == 0) {
		stranger = 1;
		argc--;
		argv++;
	}
	if (argc != 2 || (strcmp(argv[1], "true") != 0 &&
	    strcmp(argv[1], "false") != 0 && strcmp(argv[1], "serve") != 0) ||
	    (stranger && strcmp(argv[1], "serve") == 0)) {
		fprintf(stderr, "usage: logind-fake [--stranger] true|false\n"
		    "       logind-fake serve\n");
		return 2;
	}
	serve = strcmp(argv[1], "serve") == 0;
	if ((r = sd_bus_open_system(&bus)) < 0) {
		fprintf(stderr, "logind-fake: system bus: %s\n", strerror(-r));
		return 1;
	}
	if (!stranger && (r = sd_bus_request_name(bus, "org.freedesktop.login1",
	    0)) < 0) {
		fprintf(stderr, "logind-fake: RequestName: %s\n", strerror(-r));
		return 1;
	}
	if (serve)
		r = fake_serve(bus);
	else
		r = fake_signal(bus, strcmp(argv[1], "true") == 0) == -1;
	sd_bus_flush_close_unref(bus);
	return r;
}
