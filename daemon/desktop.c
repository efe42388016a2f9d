/*
 * Desktop notifications over sd-bus (Desktop Notifications Specification
 * 1.2: org.freedesktop.Notifications.Notify on the session bus).
 *
 * Each poll's new mail is counted per account (desktop_new_mail, for the
 * messages whose filter rule lets them be announced) and announced when
 * the poll ends (desktop_poll_done): one message as its sender and
 * subject, several as one "N new messages in ACCOUNT" listing the first
 * DESKTOP_LIST of them.
 *
 * The connection is opened when there is something to announce, and
 * forgotten when it breaks; the next announcement opens it again. So a
 * daemon started outside a desktop session costs one failed connect(2) per
 * poll with new mail and one log line, and notifies as soon as a session
 * bus appears. Opening is a connect(2) on a local UNIX socket, which does
 * not wait for the peer; authentication and Hello then go through the loop
 * like everything else.
 *
 * sd-bus runs on our loop (dbus-loop.c). Only asynchronous calls are
 * made, each with a DESKTOP_CALL_TIMEOUT.
 *
 * A server may render markup in the body (capability "body-markup"): a
 * stranger's subject must not bring its own tags, links or images. So each
 * announcement first asks GetCapabilities, and the body is escaped when
 * the server renders markup. The summary is never markup.
 *
 * Bounds: a poll of 5,000 messages keeps a count and DESKTOP_LIST senders
 * and subjects; at most DESKTOP_MAX_CALLS notifications wait or are in
 * flight, so a stuck notification server costs no more memory than that.
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-bus.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "bus.h"
#include "config.h"
#include "dbus-loop.h"
#include "desktop.h"

#define DESKTOP_FIELD_MAX	200	/* bytes of a sender or a subject */
#define DESKTOP_LIST		5	/* messages listed in a summary */
#define DESKTOP_MAX_CALLS	16	/* notifications waiting or in flight */
#define DESKTOP_CALL_TIMEOUT	(5 * 1000000ULL)	/* microseconds */

#define DESKTOP_DEST		"org.freedesktop.Notifications"
#define DESKTOP_PATH		"/org/freedesktop/Notifications"
#define DESKTOP_IFACE		"org.freedesktop.Notifications"

/* The mail of one account's poll in progress, announced at its end. */
struct desktop_poll {
	TAILQ_ENTRY(desktop_poll) entry;
	char			*account;
	unsigned		 count;		/* messages to announce */
	unsigned		 nlisted;	/* kept below, in order */
	char			*from[DESKTOP_LIST];	/* sanitised, bounded */
	char			*subject[DESKTOP_LIST];
};

/* A notification ready to be sent. */
struct desktop_note {
	TAILQ_ENTRY(desktop_note) entry;
	char			*summary;	/* plain text, valid UTF-8 */
	char			*body;		/* ditto; escaped when sent */
};

static TAILQ_HEAD(, desktop_poll) desktop_polls =
    TAILQ_HEAD_INITIALIZER(desktop_polls);
static TAILQ_HEAD(, desktop_note) desktop_notes =
    TAILQ_HEAD_INITIALIZER(desktop_notes);
static unsigned			 desktop_nnotes;

static struct event_base	*desktop_base;
static const struct config	*desktop_config;	/* main's */
static struct bus		*desktop_events;
static struct bus_sub		*desktop_sub;
static sd_bus			*desktop_dbus;	/* NULL: not connected */
static struct dbus_loop		*desktop_loop;	/* drives desktop_dbus */
static unsigned			 desktop_inflight;	/* Notify calls */
static int			 desktop_asking;	/* GetCapabilities sent */
static int			 desktop_answered;	/* ... and answered */
static int			 desktop_markup;	/* body-markup */
static int			 desktop_absent;	/* "no bus" logged */

static void	desktop_arm(void);
static void	desktop_send(void);

/*
 * Return s as valid UTF-8 of at most max bytes, plus an ellipsis when it
 * was cut (at a character boundary). Invalid bytes become U+FFFD and
 * control characters a space: sd-bus refuses invalid UTF-8, and a line
 * break is ours to place.
 */
static char *
desktop_text(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*out, c[4];
	size_t			 left = strlen(s), o = 0, n, clen;
	uint32_t		 cp;

	out = xmalloc(max + sizeof "\xe2\x80\xa6");
	while (left > 0) {
		if ((n = utf8_decode(p, left, &cp)) == 0) {
			n = 1;
			cp = 0xfffd;
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			cp = ' ';
		clen = utf8_encode(cp, c);
		if (o + clen > max) {
			memcpy(out + o, "\xe2\x80\xa6", 3);
			o += 3;
			break;
		}
		memcpy(out + o, c, clen);
		o += clen;
		p += n;
		left -= n;
	}
	out[o] = '\0';
	return out;
}

/* Remove leading and trailing blanks in place. */
static void
desktop_trim(char *s)
{
	size_t	 len, skip;

	skip = strspn(s, " \t");
	len = strlen(s + skip);
	memmove(s, s + skip, len + 1);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
}

/*
 * Return the sender to show for a decoded From value: the display name of
 * its first address without quotes and escapes, else that address.
 */
static char *
desktop_sender(const char *from)
{
	const char	*p, *end;
	char		*name, *o, *text;
	int		 quoted = 0;

	if (from == NULL)
		from = "";
	name = o = xmalloc(strlen(from) + 1);
	for (p = from; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0') {
			*o++ = *++p;
			continue;
		}
		if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && (*p == '<' || *p == ','))
			break;
		*o++ = *p;
	}
	*o = '\0';
	desktop_trim(name);
	if (*name == '\0' && *p == '<') {
		free(name);
		if ((end = strchr(p + 1, '>')) == NULL)
			end = p + strlen(p);
		name = xstrndup(p + 1, end - (p + 1));
		desktop_trim(name);
	}
	text = desktop_text(*name != '\0' ? name : "unknown sender",
	    DESKTOP_FIELD_MAX);
	free(name);
	return text;
}

/* Return the subject to show. */
static char *
desktop_subject(const char *subject)
{
	char	*text;

	text = desktop_text(subject != NULL ? subject : "", DESKTOP_FIELD_MAX);
	desktop_trim(text);
	if (*text == '\0') {
		free(text);
		text = xstrdup("(no subject)");
	}
	return text;
}

/* Return s with &, < and > as entities, for a server rendering markup. */
static char *
desktop_escape(const char *s)
{
	char	*out, *o;

	out = o = xmalloc(strlen(s) * 5 + 1);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			o = stpcpy(o, "&amp;");
			break;
		case '<':
			o = stpcpy(o, "&lt;");
			break;
		case '>':
			o = stpcpy(o, "&gt;");
			break;
		default:
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

/* Free an account's collected mail. */
static void
desktop_poll_free(struct desktop_poll *dp)
{
	unsigned	 i;

	for (i = 0; i < dp->nlisted; i++) {
		free(dp->from[i]);
		free(dp->subject[i]);
	}
	free(dp->account);
	free(dp);
}

/* Free a notification. */
static void
desktop_note_free(struct desktop_note *n)
{
	free(n->summary);
	free(n->body);
	free(n);
}

/* Forget the notifications not sent yet. */
static void
desktop_drop_notes(const char *why)
{
	struct desktop_note	*n;

	if (desktop_nnotes > 0)
		log_debug("%u desktop notification%s dropped: %s",
		    desktop_nnotes, desktop_nnotes == 1 ? "" : "s", why);
	while ((n = TAILQ_FIRST(&desktop_notes)) != NULL) {
		TAILQ_REMOVE(&desktop_notes, n, entry);
		desktop_note_free(n);
	}
	desktop_nnotes = 0;
}

/* Forget the connection (after an error r); the next mail reconnects. */
static void
desktop_disconnect(const char *what, int r)
{
	log_info("desktop notifications: %s: %s; connecting again with the "
	    "next new mail", what, strerror(-r));
	dbus_loop_free(desktop_loop);
	desktop_loop = NULL;
	/* Calls in flight are freed with their (floating) slots. */
	desktop_dbus = sd_bus_close_unref(desktop_dbus);
	desktop_inflight = 0;
	desktop_asking = desktop_answered = 0;
	desktop_absent = 1;	/* the line above said it */
	desktop_drop_notes("no connection");
}

/* Wait for what sd-bus asks. */
static void
desktop_arm(void)
{
	int	 r;

	if ((r = dbus_loop_arm(desktop_loop)) < 0)
		desktop_disconnect("session bus connection lost", r);
}

/* The bus is ready: let sd-bus work, send what waits, wait again. */
static void
desktop_ready_cb(void *arg)
{
	int	 r;

	if ((r = dbus_loop_process(desktop_loop)) < 0) {
		desktop_disconnect("session bus connection lost", r);
		return;
	}
	desktop_send();
	if (desktop_dbus != NULL)
		desktop_arm();
}

/* Connect to the session bus unless connected. Return 0, or -1. */
static int
desktop_connect(void)
{
	const char	*address = NULL;
	int		 r;

	if (desktop_dbus != NULL)
		return 0;
	/* DBUS_SESSION_BUS_ADDRESS, else unix:path=$XDG_RUNTIME_DIR/bus. */
	if ((r = sd_bus_open_user(&desktop_dbus)) < 0) {
		desktop_dbus = NULL;
		if (!desktop_absent)
			log_info("desktop notifications: no session bus (%s); "
			    "trying again with the next new mail",
			    strerror(-r));
		desktop_absent = 1;
		return -1;
	}
	r = sd_bus_set_method_call_timeout(desktop_dbus, DESKTOP_CALL_TIMEOUT);
	if (r >= 0)
		r = sd_bus_get_fd(desktop_dbus);
	if (r < 0) {
		log_info("desktop notifications: session bus: %s",
		    strerror(-r));
		desktop_dbus = sd_bus_close_unref(desktop_dbus);
		return -1;
	}
	desktop_loop = dbus_loop_new(desktop_base, desktop_dbus,
	    desktop_ready_cb, NULL);
	sd_bus_get_address(desktop_dbus, &address);
	if (desktop_absent)
		log_info("desktop notifications: session bus found at \"%s\"",
		    address ? address : "?");
	else
		log_debug("desktop notifications: connected to \"%s\"",
		    address ? address : "?");
	desktop_absent = 0;
	return 0;
}

/* GetCapabilities answered: does the server render markup in bodies? */
static int
desktop_caps_cb(sd_bus_message *m, void *arg, sd_bus_error *ret_error)
{
	const sd_bus_error	*e;
	char			**caps = NULL, **c;

	desktop_asking = 0;
	desktop_answered = 1;
	desktop_markup = 0;
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		log_debug("desktop notifications: GetCapabilities: %s: \"%s\"",
		    e->name, e->message ? e->message : "");
		return 0;
	}
	if (sd_bus_message_read_strv(m, &caps) < 0)
		return 0;
	for (c = caps; c != NULL && *c != NULL; c++) {
		if (strcmp(*c, "body-markup") == 0)
			desktop_markup = 1;
		free(*c);
	}
	free(caps);
	return 0;
}

/* Notify answered: log its outcome; a failure changes nothing else. */
static int
desktop_notify_cb(sd_bus_message *m, void *arg, sd_bus_error *ret_error)
{
	const sd_bus_error	*e;
	uint32_t		 id;

	desktop_inflight--;
	if ((e = sd_bus_message_get_error(m)) != NULL)
		log_debug("desktop notification failed: %s: \"%s\"", e->name,
		    e->message ? e->message : "");
	else if (sd_bus_message_read(m, "u", &id) > 0)
		log_debug("desktop notification shown: id=%u", id);
	return 0;
}

/*
 * Send the notifications that wait: connect if need be, ask the server's
 * capabilities, and once they are known send everything.
 */
static void
desktop_send(void)
{
	struct desktop_note	*n;
	char			*body;
	int			 r;

	if (TAILQ_EMPTY(&desktop_notes))
		return;
	if (desktop_connect() != 0) {
		desktop_drop_notes("no session bus");
		return;
	}
	if (desktop_asking)
		return;
	if (!desktop_answered) {
		r = sd_bus_call_method_async(desktop_dbus, NULL, DESKTOP_DEST,
		    DESKTOP_PATH, DESKTOP_IFACE, "GetCapabilities",
		    desktop_caps_cb, NULL, "");
		if (r < 0) {
			desktop_disconnect("GetCapabilities", r);
			return;
		}
		desktop_asking = 1;
		return;
	}
	desktop_answered = 0;	/* ask again next time: servers change */
	while ((n = TAILQ_FIRST(&desktop_notes)) != NULL) {
		TAILQ_REMOVE(&desktop_notes, n, entry);
		desktop_nnotes--;
		body = desktop_markup ? desktop_escape(n->body) : n->body;
		r = sd_bus_call_method_async(desktop_dbus, NULL, DESKTOP_DEST,
		    DESKTOP_PATH, DESKTOP_IFACE, "Notify", desktop_notify_cb,
		    NULL, "susssasa{sv}i",
		    "mailctl",			/* app_name */
		    (uint32_t)0,		/* replaces_id */
		    "mail-unread",		/* app_icon */
		    n->summary, body,
		    0,				/* actions */
		    1, "category", "s", "email.arrived",	/* hints */
		    (int32_t)-1);		/* expire_timeout: default */
		if (body != n->body)
			free(body);
		desktop_note_free(n);
		if (r < 0 && !sd_bus_is_open(desktop_dbus)) {
			desktop_disconnect("Notify", r);
			return;
		}
		if (r < 0)
			log_info("desktop notification not sent: %s",
			    strerror(-r));
		else
			desktop_inflight++;
	}
}

/* Build the notification for an account's poll and queue it. */
static void
desktop_queue(struct desktop_poll *dp)
{
	struct desktop_note	*n;
	char			*account, *line;
	unsigned		 i;

	if (desktop_nnotes + desktop_inflight >= DESKTOP_MAX_CALLS) {
		log_info("account=%s desktop notification dropped: %u are "
		    "still waiting for the notification server", dp->account,
		    desktop_nnotes + desktop_inflight);
		return;
	}
	n = xcalloc(1, sizeof *n);
	if (dp->count == 1) {
		n->summary = xstrdup(dp->from[0]);
		n->body = xstrdup(dp->subject[0]);
	} else {
		account = desktop_text(dp->account, DESKTOP_FIELD_MAX);
		xasprintf(&n->summary, "%u new messages in %s", dp->count,
		    account);
		free(account);
		n->body = xstrdup("");
		for (i = 0; i < dp->nlisted; i++) {
			xasprintf(&line, "%s%s%s: %s", n->body,
			    i > 0 ? "\n" : "", dp->from[i], dp->subject[i]);
			free(n->body);
			n->body = line;
		}
		if (dp->count > dp->nlisted) {
			xasprintf(&line, "%s\nand %u more", n->body,
			    dp->count - dp->nlisted);
			free(n->body);
			n->body = line;
		}
	}
	TAILQ_INSERT_TAIL(&desktop_notes, n, entry);
	desktop_nnotes++;
}

/* Count a new message of a poll in progress (one its rule announces). */
static void
desktop_new_mail(const char *account, const char *from, const char *subject)
{
	struct desktop_poll	*dp;

	if (!desktop_config->desktop_notifications)
		return;
	TAILQ_FOREACH(dp, &desktop_polls, entry)
		if (strcmp(dp->account, account) == 0)
			break;
	if (dp == NULL) {
		dp = xcalloc(1, sizeof *dp);
		dp->account = xstrdup(account);
		TAILQ_INSERT_TAIL(&desktop_polls, dp, entry);
	}
	if (dp->nlisted < DESKTOP_LIST) {
		dp->from[dp->nlisted] = desktop_sender(from);
		dp->subject[dp->nlisted] = desktop_subject(subject);
		dp->nlisted++;
	}
	dp->count++;
}

/* A poll ended: announce its new mail, if any, in one notification. */
static void
desktop_poll_done(const char *account)
{
	struct desktop_poll	*dp;

	TAILQ_FOREACH(dp, &desktop_polls, entry)
		if (strcmp(dp->account, account) == 0)
			break;
	if (dp == NULL)
		return;
	TAILQ_REMOVE(&desktop_polls, dp, entry);
	if (desktop_config->desktop_notifications)
		desktop_queue(dp);
	desktop_poll_free(dp);
	desktop_send();
	if (desktop_dbus != NULL)
		desktop_arm();
}

/* The bus tells of an event: count new mail, announce at the poll's end. */
static int
desktop_event_cb(const struct bus_event *ev, void *arg)
{
	size_t	 i;

	(void)arg;
	if (ev->type == BUS_NEW_MAIL) {
		for (i = 0; i < ev->nmail; i++)
			if (ev->mail[i].notify)
				desktop_new_mail(ev->account, ev->mail[i].from,
				    ev->mail[i].subject);
	} else if (ev->type == BUS_POLL_DONE)
		desktop_poll_done(ev->account);
	return 0;
}

/* Start: remember the loop, hear the bus. Nothing connects before mail. */
void
desktop_init(struct event_base *base, struct bus *bus,
    const struct config *cf)
{
	desktop_base = base;
	desktop_config = cf;
	desktop_events = bus;
	desktop_sub = bus_subscribe(bus, "desktop", desktop_event_cb, NULL);
}

/* The configuration in force changed. */
void
desktop_reconfigure(const struct config *cf)
{
	desktop_config = cf;
}

/*
 * Stop: write out what is queued on the session bus, then free everything. Only a
 * connection that is up is flushed: sd_bus_flush() would otherwise wait
 * for a silent peer to finish authentication, with no time limit.
 */
void
desktop_shutdown(void)
{
	struct desktop_poll	*dp;

	while ((dp = TAILQ_FIRST(&desktop_polls)) != NULL) {
		TAILQ_REMOVE(&desktop_polls, dp, entry);
		desktop_poll_free(dp);
	}
	desktop_drop_notes("stopping");
	if (desktop_dbus != NULL) {
		dbus_loop_free(desktop_loop);
		desktop_loop = NULL;
		if (sd_bus_is_ready(desktop_dbus) > 0)
			desktop_dbus = sd_bus_flush_close_unref(desktop_dbus);
		else
			desktop_dbus = sd_bus_close_unref(desktop_dbus);
	}
	desktop_inflight = 0;
	desktop_asking = desktop_answered = 0;
	bus_unsubscribe(desktop_events, desktop_sub);
	desktop_sub = NULL;
}
