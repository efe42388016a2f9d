/*
 * The event bus: what happened, told once by its producer (account, queue,
 * main) and heard by every consumer main subscribed at start-up (the RPC
 * subscribers, hooks, desktop notifications). A producer never knows who
 * listens; a consumer never knows who told.
 *
 * bus_publish copies the event, so the producer's strings need only live
 * through the call. Events reach the consumers in the order they were
 * published, each consumer in the order it subscribed; an event published
 * by a consumer while another is delivered waits its turn. A consumer that
 * fails (returns -1) is logged and still hears the next event; one that
 * unsubscribes, itself or another, during a delivery hears nothing more.
 *
 * The event's JSON form (DESIGN.md "Control protocol": subscribe) is built
 * in one place, bus_event_json. Nothing here touches the event loop.
 */
#ifndef MAILCTL_BUS_H
#define MAILCTL_BUS_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

struct bus;
struct bus_sub;

enum bus_type {
	BUS_NEW_MAIL,		/* a batch of messages stored */
	BUS_POLL_DONE,		/* a poll ended, well or not */
	BUS_SENT,		/* an outbox message went out and was filed */
	BUS_DEFERRED,		/* ... waits for another try */
	BUS_SEND_FAILED,	/* ... failed for good */
	BUS_RELOADED,		/* the configuration was reloaded */
	BUS_NTYPES
};

/* One stored message of a BUS_NEW_MAIL batch. */
struct bus_mail {
	long long	 id;
	const char	*folder;
	const char	*from;		/* decoded, or NULL */
	const char	*subject;	/* decoded, or NULL */
	int		 notify;	/* its rule says: tell the desktop */
};

/*
 * An event. Only the fields of its type are read; the rest stay zero.
 * Pointers are borrowed for the bus_publish call (the bus copies them).
 */
struct bus_event {
	enum bus_type		 type;
	time_t			 time;		/* 0: when published */
	const char		*account;	/* all but BUS_RELOADED */

	/* BUS_NEW_MAIL */
	const struct bus_mail	*mail;
	size_t			 nmail;
	/* BUS_NEW_MAIL, BUS_POLL_DONE: "idle" (pushed), "poll" or "fetch" */
	const char		*via;

	/* BUS_POLL_DONE; error is NULL when the poll went well */
	const char		*error;
	const char		*error_kind;	/* "network", "auth", ... */
	unsigned		 nnew;

	/* BUS_SENT, BUS_DEFERRED, BUS_SEND_FAILED: an outbox message */
	long long		 id;
	const char		*subject;
	const char *const	*rcpts;		/* sent, pending or failed */
	size_t			 nrcpts;
	const char		*reply;		/* the server's, or why */
	const char *const	*failed;	/* BUS_SENT: those that failed */
	size_t			 nfailed;
	const char		*failed_reply;
	long long		 message;	/* BUS_SENT: the Sent copy; 0 */
	time_t			 next_attempt;	/* BUS_DEFERRED */

	/* BUS_RELOADED */
	const char		*config;	/* its path, or NULL */
	size_t			 naccounts;
};

/* A consumer: 0 when it handled the event, -1 when it failed to. */
typedef int (*bus_cb)(const struct bus_event *, void *arg);

struct bus	*bus_new(void);
void		 bus_free(struct bus *);
struct bus_sub	*bus_subscribe(struct bus *, const char *name, bus_cb,
		    void *arg);
void		 bus_unsubscribe(struct bus *, struct bus_sub *);
void		 bus_publish(struct bus *, const struct bus_event *);
const char	*bus_type_name(enum bus_type);
json_t		*bus_event_json(const struct bus_event *);

#endif
