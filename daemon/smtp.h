/*
 * An SMTP submission session: one connection to an account's SMTP server,
 * over which the outbox sends its messages one after another.
 *
 *	s = smtp_session_new(base, server, password, NULL, closed_cb, arg);
 *	smtp_send(s, &envelope, sent_cb, arg);	connects on first use
 *	... sent_cb: smtp_send(s, &next, ...) or smtp_quit(s)
 *	... closed_cb: smtp_session_free(s)
 *
 * Callbacks always run from the event loop, never from inside smtp_send or
 * smtp_quit. sent_cb runs exactly once per smtp_send, closed_cb once when
 * the session is over: after QUIT, when the connection fails while idle
 * (the server closed it, or sent 421), or right after the sent_cb of a
 * message whose failure ended the session (result->closed). After
 * closed_cb the only call allowed is smtp_session_free. It may be called
 * at any time, from any callback; no callback runs after it.
 *
 * An idle session has no timeout of its own (servers close idle
 * connections after some minutes): call smtp_quit when the queue is empty.
 *
 * Secrets (password, token) are only sent over TLS, unless the server's tls
 * is "none", and never logged. With tls "starttls" a server that does not
 * offer STARTTLS is left before anything else is sent.
 *
 * Result classes: 4xx replies (421 included), network failures, timeouts
 * and protocol errors (a broken server) are temporary; 5xx replies,
 * refused credentials, TLS certificate and policy failures and local
 * errors are permanent (they need a person to act).
 */
#ifndef MAILCTL_SMTP_H
#define MAILCTL_SMTP_H

#include <stddef.h>
#include <stdint.h>

struct config_server;
struct event_base;
struct smtp_session;

enum smtp_error {
	SMTP_OK,		/* accepted for at least one recipient */
	SMTP_ERR_NETWORK,	/* resolve, connect, timeout, lost connection */
	SMTP_ERR_TLS,		/* handshake, certificate, STARTTLS missing */
	SMTP_ERR_AUTH,		/* no usable mechanism, credentials refused */
	SMTP_ERR_PROTOCOL,	/* the server broke the protocol */
	SMTP_ERR_REJECTED,	/* the server refused the session (421,
				 * 554 greeting), MAIL, DATA, every
				 * recipient, or the message (SIZE) */
	SMTP_ERR_LOCAL,		/* reading the message file; a bad envelope */
};

/* The outcome for one recipient. */
struct smtp_rcpt_result {
	const char	*addr;		/* borrowed from the envelope */
	int		 code;		/* the server's reply; 0: none */
	const char	*enhanced;	/* "5.1.1", or NULL */
	const char	*text;		/* the server's text, or our reason */
	int		 temporary;	/* worth retrying (4xx, network) */
	int		 accepted;	/* the server took the message for it */
};

/*
 * The outcome of a message. Every pointer is valid during the callback
 * only. error is SMTP_OK when the message was accepted for at least one
 * recipient: check rcpts[i].accepted (naccepted < nrcpts) for the others.
 */
struct smtp_result {
	enum smtp_error	 error;
	int		 temporary;	/* worth retrying: 4xx, network, timeout */
	const char	*message;	/* a reason a person understands, with
					 * the server's reply; NULL when every
					 * recipient accepted */
	struct smtp_rcpt_result *rcpts;	/* one per envelope recipient */
	size_t		 nrcpts;
	size_t		 naccepted;
	int		 closed;	/* the session is over: closed_cb
					 * follows, smtp_send no longer works */
};

/*
 * A message to send. The strings, the array and fd are borrowed until the
 * sent callback; the struct itself is copied.
 */
struct smtp_envelope {
	const char	*from;		/* reverse path; "" for <> */
	const char	**rcpts;
	size_t		 nrcpts;
	int		 fd;		/* the message, LF or CRLF line ends,
					 * read with pread from offset 0 */
	uint64_t	 size;		/* its size (for SIZE=) */
	int		 eightbit;	/* the message has 8-bit bytes */
	int		 hold_dot;	/* the final dot waits for
					 * smtp_release: the message can be
					 * on its way while the last one's
					 * outcome is being recorded */
};

typedef void (*smtp_sent_cb)(struct smtp_session *,
    const struct smtp_result *, void *arg);
/* result->error is SMTP_OK after a clean QUIT. */
typedef void (*smtp_closed_cb)(struct smtp_session *,
    const struct smtp_result *, void *arg);

/*
 * password: the password, or the token for xoauth2; NULL without AUTH.
 * helo_name: the EHLO name; NULL: our address as a literal ("[192.0.2.1]").
 * Both are copied.
 */
struct smtp_session *smtp_session_new(struct event_base *,
		    const struct config_server *,
		    const char *password, const char *helo_name,
		    smtp_closed_cb, void *arg);
void		 smtp_send(struct smtp_session *, const struct smtp_envelope *,
		    smtp_sent_cb, void *arg);
void		 smtp_release(struct smtp_session *);
void		 smtp_quit(struct smtp_session *);
void		 smtp_session_free(struct smtp_session *);
const char	*smtp_error_name(enum smtp_error);

#endif
