/*
 * Unit test of the event bus: order of delivery (published order, then
 * subscription order, also for events published by a consumer), a
 * consumer that fails, unsubscribing during a delivery (itself and
 * another), the copy of the producer's strings, and the JSON form of each
 * event type.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "daemon/bus.h"
#include "tap.h"

/* What the consumers heard, in order: "NAME:TYPE:ACCOUNT ...". */
static char	 heard[4096];

struct consumer {
	const char	*name;
	struct bus	*bus;
	struct bus_sub	*sub;
	int		 fail;		/* return -1 */
	int		 calls;
	struct consumer	*drop;		/* unsubscribe this one on its call */
	int		 republish;	/* publish one event on the first call */
};

/* Record an event, then do what the consumer is set to do. */
static int
consumer_cb(const struct bus_event *ev, void *arg)
{
	struct consumer	*c = arg;
	struct bus_event next;
	char		 line[128];

	c->calls++;
	snprintf(line, sizeof line, "%s:%s:%s ", c->name,
	    bus_type_name(ev->type), ev->account ? ev->account : "-");
	strncat(heard, line, sizeof heard - strlen(heard) - 1);
	if (c->drop != NULL) {
		bus_unsubscribe(c->bus, c->drop->sub);
		c->drop->sub = NULL;
		c->drop = NULL;
	}
	if (c->republish) {
		c->republish = 0;
		memset(&next, 0, sizeof next);
		next.type = BUS_RELOADED;
		bus_publish(c->bus, &next);
	}
	return c->fail ? -1 : 0;
}

/* Publish a poll end for account. */
static void
poll_done(struct bus *b, const char *account)
{
	struct bus_event ev;

	memset(&ev, 0, sizeof ev);
	ev.type = BUS_POLL_DONE;
	ev.account = account;
	bus_publish(b, &ev);
}

/* The consumer that keeps a copy of the mail it heard. */
static char	 kept_from[64], kept_account[64];

static int
keep_cb(const struct bus_event *ev, void *arg)
{
	(void)arg;
	if (ev->type == BUS_NEW_MAIL && ev->nmail == 2) {
		snprintf(kept_from, sizeof kept_from, "%s", ev->mail[1].from);
		snprintf(kept_account, sizeof kept_account, "%s", ev->account);
	}
	return 0;
}

/* Test order, failure and unsubscription. */
static void
test_delivery(void)
{
	struct bus	*b = bus_new();
	struct consumer	 a = { "a", b, NULL, 0, 0, NULL, 0 };
	struct consumer	 f = { "f", b, NULL, 1, 0, NULL, 0 };
	struct consumer	 c = { "c", b, NULL, 0, 0, NULL, 0 };

	a.sub = bus_subscribe(b, "a", consumer_cb, &a);
	f.sub = bus_subscribe(b, "f", consumer_cb, &f);
	c.sub = bus_subscribe(b, "c", consumer_cb, &c);

	heard[0] = '\0';
	poll_done(b, "one");
	poll_done(b, "two");
	ok(strcmp(heard, "a:poll_done:one f:poll_done:one c:poll_done:one "
	    "a:poll_done:two f:poll_done:two c:poll_done:two ") == 0,
	    "events reach every consumer in publication, then subscription, "
	    "order; a failing consumer does not stop the others (%s)", heard);
	ok(f.calls == 2, "the failing consumer still hears the next event");

	/* a publishes while the first event is delivered: it waits. */
	heard[0] = '\0';
	a.republish = 1;
	poll_done(b, "three");
	ok(strcmp(heard, "a:poll_done:three f:poll_done:three "
	    "c:poll_done:three a:reloaded:- f:reloaded:- c:reloaded:- ") == 0,
	    "an event published by a consumer is delivered after the "
	    "current one, to all (%s)", heard);

	/* a unsubscribes c, which comes after it, during a delivery. */
	heard[0] = '\0';
	a.drop = &c;
	poll_done(b, "four");
	ok(strcmp(heard, "a:poll_done:four f:poll_done:four ") == 0,
	    "a consumer unsubscribed during a delivery hears nothing more "
	    "of it (%s)", heard);

	/* f unsubscribes itself during a delivery. */
	heard[0] = '\0';
	f.drop = &f;
	poll_done(b, "five");
	poll_done(b, "six");
	ok(strcmp(heard, "a:poll_done:five f:poll_done:five "
	    "a:poll_done:six ") == 0,
	    "a consumer that unsubscribes itself hears no later event (%s)",
	    heard);
	bus_unsubscribe(b, a.sub);
	heard[0] = '\0';
	poll_done(b, "seven");
	ok(heard[0] == '\0', "with nobody subscribed, nothing is heard");
	bus_free(b);
}

/* Test that the bus copies what the producer lent it. */
static void
test_copy(void)
{
	struct bus	*b = bus_new();
	struct bus_mail	 mail[2];
	struct bus_event ev;
	char		 account[16], from[16];

	bus_subscribe(b, "keep", keep_cb, NULL);
	snprintf(account, sizeof account, "personal");
	snprintf(from, sizeof from, "bob@example");
	memset(mail, 0, sizeof mail);
	mail[0].id = 1;
	mail[0].folder = "Inbox";
	mail[1].id = 2;
	mail[1].folder = "Work";
	mail[1].from = from;
	memset(&ev, 0, sizeof ev);
	ev.type = BUS_NEW_MAIL;
	ev.account = account;
	ev.mail = mail;
	ev.nmail = 2;
	bus_publish(b, &ev);
	ok(strcmp(kept_from, "bob@example") == 0 &&
	    strcmp(kept_account, "personal") == 0,
	    "a consumer sees the producer's values");
	bus_free(b);
}

/* The "params" of the i-th notification of ev's JSON form. */
static json_t *
params(json_t *msgs, size_t i)
{
	return json_object_get(json_array_get(msgs, i), "params");
}

/* Test the JSON form of each event type. */
static void
test_json(void)
{
	struct bus_mail	 mail[2];
	struct bus_event ev;
	const char	*rcpts[] = { "a@example", "b@example" };
	const char	*failed[] = { "c@example" };
	json_t		*j, *p;

	memset(mail, 0, sizeof mail);
	mail[0].id = 7;
	mail[0].folder = "Inbox";
	mail[0].from = "Bob <bob@example>";
	mail[0].subject = "hello";
	mail[1].id = 8;
	mail[1].folder = "Spam";
	memset(&ev, 0, sizeof ev);
	ev.type = BUS_NEW_MAIL;
	ev.time = 1700000000;
	ev.account = "personal";
	ev.mail = mail;
	ev.nmail = 2;
	j = bus_event_json(&ev);
	p = params(j, 0);
	ok(json_array_size(j) == 2, "a batch of two is two new_mail events");
	ok(strcmp(json_string_value(json_object_get(json_array_get(j, 0),
	    "method")), "event") == 0, "a notification of method \"event\"");
	ok(strcmp(json_string_value(json_object_get(p, "type")),
	    "new_mail") == 0 &&
	    json_integer_value(json_object_get(p, "id")) == 7 &&
	    strcmp(json_string_value(json_object_get(p, "folder")),
	    "Inbox") == 0 &&
	    strcmp(json_string_value(json_object_get(p, "from")),
	    "Bob <bob@example>") == 0 &&
	    strcmp(json_string_value(json_object_get(p, "account")),
	    "personal") == 0 &&
	    json_is_string(json_object_get(p, "time")),
	    "new_mail has type, id, folder, from, account and time");
	ok(strcmp(json_string_value(json_object_get(params(j, 1), "from")),
	    "") == 0 && strcmp(json_string_value(json_object_get(params(j, 1),
	    "subject")), "") == 0,
	    "a message without From or Subject has empty strings");
	json_decref(j);

	memset(&ev, 0, sizeof ev);
	ev.type = BUS_POLL_DONE;
	ev.account = "personal";
	j = bus_event_json(&ev);
	ok(json_array_size(j) == 0, "a poll that went well is no event for "
	    "clients");
	json_decref(j);
	ev.error = "login failed";
	ev.error_kind = "auth";
	j = bus_event_json(&ev);
	p = params(j, 0);
	ok(json_array_size(j) == 1 && strcmp(json_string_value(
	    json_object_get(p, "type")), "poll_failed") == 0 &&
	    strcmp(json_string_value(json_object_get(p, "error_kind")),
	    "auth") == 0, "a failed poll is a poll_failed event with its "
	    "error_kind");
	json_decref(j);

	memset(&ev, 0, sizeof ev);
	ev.type = BUS_SENT;
	ev.account = "personal";
	ev.id = 3;
	ev.rcpts = rcpts;
	ev.nrcpts = 2;
	ev.failed = failed;
	ev.nfailed = 1;
	ev.reply = "250 ok";
	ev.message = 42;
	j = bus_event_json(&ev);
	p = params(j, 0);
	ok(json_array_size(json_object_get(p, "recipients")) == 2 &&
	    json_array_size(json_object_get(p, "failed")) == 1 &&
	    json_integer_value(json_object_get(p, "message")) == 42 &&
	    strcmp(json_string_value(json_object_get(p, "reply")),
	    "250 ok") == 0, "sent has recipients, failed, reply and the "
	    "Sent copy's id");
	json_decref(j);
	ev.message = 0;
	j = bus_event_json(&ev);
	ok(json_is_null(json_object_get(params(j, 0), "message")),
	    "sent without a Sent copy has message null");
	json_decref(j);

	ev.type = BUS_DEFERRED;
	ev.next_attempt = 1700000300;
	j = bus_event_json(&ev);
	p = params(j, 0);
	ok(strcmp(json_string_value(json_object_get(p, "type")),
	    "deferred") == 0 && json_is_string(json_object_get(p,
	    "next_attempt")) && json_object_get(p, "failed") == NULL,
	    "deferred has next_attempt");
	json_decref(j);

	ev.type = BUS_SEND_FAILED;
	j = bus_event_json(&ev);
	ok(strcmp(json_string_value(json_object_get(params(j, 0), "type")),
	    "send_failed") == 0, "send_failed");
	json_decref(j);

	memset(&ev, 0, sizeof ev);
	ev.type = BUS_RELOADED;
	ev.config = "/home/a/.config/mailctl/config.json";
	ev.naccounts = 2;
	j = bus_event_json(&ev);
	p = params(j, 0);
	ok(json_integer_value(json_object_get(p, "accounts")) == 2 &&
	    strcmp(json_string_value(json_object_get(p, "config")),
	    ev.config) == 0, "reloaded has config and accounts");
	json_decref(j);
}

int
main(void)
{
	log_init("test-bus", 0);
	test_delivery();
	test_copy();
	test_json();
	return tap_done();
}
