/*
 * notify-recorder: a desktop notification server for the tests.
 *
 * usage: notify-recorder [--markup] FILE
 *
 * Connects to the session bus named by DBUS_SESSION_BUS_ADDRESS, owns
 * org.freedesktop.Notifications and implements the methods of the Desktop
 * Notifications Specification 1.2 that a client calls: Notify,
 * GetCapabilities, GetServerInformation and CloseNotification. Each Notify
 * call is appended to FILE as one compact JSON line, flushed at once:
 *
 *	{"id":1,"app_name":"mailctl","replaces_id":0,"app_icon":"mail-unread",
 *	 "summary":"...","body":"...","actions":[],
 *	 "hints":{"category":"email.arrived"},"expire_timeout":-1}
 *
 * Hints with a string value are recorded as strings, others as null.
 * "ready" is printed on stdout once the name is owned. GetCapabilities
 * answers ["body"], or ["body", "body-markup"] with --markup. It runs until
 * the bus goes away (exit 0) or it is killed.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <systemd/sd-bus.h>

#define RECORDER_NAME	"org.freedesktop.Notifications"
#define RECORDER_PATH	"/org/freedesktop/Notifications"

static FILE		*recorder_out;
static int		 recorder_markup;
static uint32_t		 recorder_last_id;

/* Read the a{sv} hints into a JSON object. Return 0, or a negative errno. */
static int
recorder_hints(sd_bus_message *m, json_t *hints)
{
	const char	*key, *contents, *value;
	int		 r;

	if ((r = sd_bus_message_enter_container(m, 'a', "{sv}")) < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if ((r = sd_bus_message_read(m, "s", &key)) < 0 ||
		    (r = sd_bus_message_peek_type(m, NULL, &contents)) < 0)
			return r;
		if (strcmp(contents, "s") == 0) {
			if ((r = sd_bus_message_read(m, "v", "s", &value)) < 0)
				return r;
			json_object_set_new(hints, key, json_string(value));
		} else {
			if ((r = sd_bus_message_skip(m, "v")) < 0)
				return r;
			json_object_set_new(hints, key, json_null());
		}
		if ((r = sd_bus_message_exit_container(m)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

/* Notify(susssasa{sv}i) -> u: record the call, answer a new id. */
static int
recorder_notify(sd_bus_message *m, void *arg, sd_bus_error *error)
{
	const char	*app_name, *app_icon, *summary, *body;
	uint32_t	 replaces_id;
	int32_t		 expire_timeout;
	char		**actions = NULL, **a;
	json_t		*hints, *jactions, *line;
	int		 r;

	hints = json_object();
	jactions = json_array();
	if ((r = sd_bus_message_read(m, "susss", &app_name, &replaces_id,
	    &app_icon, &summary, &body)) < 0 ||
	    (r = sd_bus_message_read_strv(m, &actions)) < 0 ||
	    (r = recorder_hints(m, hints)) < 0 ||
	    (r = sd_bus_message_read(m, "i", &expire_timeout)) < 0) {
		json_decref(hints);
		json_decref(jactions);
		return r;
	}
	for (a = actions; a != NULL && *a != NULL; a++) {
		json_array_append_new(jactions, json_string(*a));
		free(*a);
	}
	free(actions);
	line = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:i}",
	    "id", (json_int_t)++recorder_last_id, "app_name", app_name,
	    "replaces_id", (json_int_t)replaces_id, "app_icon", app_icon,
	    "summary", summary, "body", body, "actions", jactions,
	    "hints", hints, "expire_timeout", (int)expire_timeout);
	if (line == NULL)
		return sd_bus_error_set(error, SD_BUS_ERROR_FAILED,
		    "cannot record the notification");
	if (json_dumpf(line, recorder_out, JSON_COMPACT) != 0 ||
	    fputc('\n', recorder_out) == EOF || fflush(recorder_out) != 0) {
		json_decref(line);
		return sd_bus_error_set_errno(error, errno);
	}
	json_decref(line);
	return sd_bus_reply_method_return(m, "u", recorder_last_id);
}

/* GetCapabilities() -> as. */
static int
recorder_capabilities(sd_bus_message *m, void *arg, sd_bus_error *error)
{
	if (recorder_markup)
		return sd_bus_reply_method_return(m, "as", 2, "body",
		    "body-markup");
	return sd_bus_reply_method_return(m, "as", 1, "body");
}

/* GetServerInformation() -> ssss: name, vendor, version, spec version. */
static int
recorder_information(sd_bus_message *m, void *arg, sd_bus_error *error)
{
	return sd_bus_reply_method_return(m, "ssss", "notify-recorder",
	    "mailctl tests", "1", "1.2");
}

/* CloseNotification(u): nothing is shown, so nothing to close. */
static int
recorder_close(sd_bus_message *m, void *arg, sd_bus_error *error)
{
	return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable recorder_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", recorder_notify,
	    SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("GetCapabilities", "", "as", recorder_capabilities,
	    SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("GetServerInformation", "", "ssss",
	    recorder_information, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("CloseNotification", "u", "", recorder_close,
	    SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

/* Print a failed step with its errno value and exit. */
static void __attribute__((noreturn))
recorder_fail(const char *what, int r)
{
	fprintf(stderr, "notify-recorder: %s: %s\n", what, strerror(-r));
	exit(1);
}

int
main(int argc, char **argv)
{
	sd_bus	*bus = NULL;
	int	 r;

	if (argc == 3 && strcmp(argv[1], "--markup") == 0) {
		recorder_markup = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: notify-recorder [--markup] FILE\n");
		return 64;
	}
	if ((recorder_out = fopen(argv[1], "a")) == NULL) {
		fprintf(stderr, "notify-recorder: %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	if ((r = sd_bus_open_user(&bus)) < 0)
		recorder_fail("cannot connect to the session bus", r);
	if ((r = sd_bus_add_object_vtable(bus, NULL, RECORDER_PATH,
	    RECORDER_NAME, recorder_vtable, NULL)) < 0)
		recorder_fail("sd_bus_add_object_vtable", r);
	if ((r = sd_bus_request_name(bus, RECORDER_NAME, 0)) < 0)
		recorder_fail("cannot own " RECORDER_NAME, r);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		if ((r = sd_bus_process(bus, NULL)) < 0)
			break;
		if (r > 0)
			continue;
		if ((r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR)
			break;
	}
	/* The bus went away: the tests stop the bus to stop us. */
	sd_bus_flush_close_unref(bus);
	fclose(recorder_out);
	return r == -ECONNRESET || r == -ENOTCONN ? 0 : 1;
}
