/*
 * The inside of an SMTP session, private to the files that make it:
 * smtp.c, the conversation (connect, greeting, EHLO, STARTTLS, the replies
 * read and dispatched by state, reports, the end and the freeing);
 * smtp-auth.c, the AUTH mechanisms; smtp-mail.c, one message's mail
 * transaction (MAIL, RCPT, DATA, the streamed body, the outcome of each
 * recipient). Nothing else includes it.
 */
#ifndef MAILCTL_SMTP_INT_H
#define MAILCTL_SMTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "smtp-wire.h"
#include "smtp.h"

#define SMTP_MESSAGE_MAX	1024		/* result messages */
#define SMTP_OUT_LOW		(64 * 1024)	/* refill the body below this */
#define SMTP_OUT_HIGH		(256 * 1024)	/* stop refilling at this */

enum smtp_state {
	SMTP_INIT,
	SMTP_CONNECT,
	SMTP_GREETING,
	SMTP_EHLO,
	SMTP_HELO,
	SMTP_STARTTLS,
	SMTP_HANDSHAKE,
	SMTP_EHLO_TLS,
	SMTP_AUTH,
	SMTP_AUTH_USER,
	SMTP_AUTH_PASS,
	SMTP_IDLE,
	SMTP_RSET,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_BODY,
	SMTP_DOT,
	SMTP_QUIT,
	SMTP_DONE,
	SMTP_NSTATES
};

/* The storage behind one struct smtp_rcpt_result. */
struct smtp_rcpt_text {
	int		 final;		/* refused, or the dot was answered */
	char		 enhanced[16];
	char		 text[SMTP_TEXT_MAX];
};

struct smtp_session {
	unsigned		 id;		/* session=N in the logs */
	char			*host;
	int			 port;
	enum config_tls		 tls;
	char			*user;		/* or NULL */
	char			*secret;	/* password or token, or NULL;
						 * zeroed on free */
	char			*auth;
	char			*ca_file;
	char			*helo;		/* EHLO name; NULL: our address */
	int			 timeout;

	struct conn		*conn;
	struct bufferevent	*bev;		/* borrowed from conn */
	enum smtp_state		 state;
	struct smtp_ext		 ext;		/* from the last EHLO */
	struct smtp_reply	 reply;		/* being read */
	char			*line;		/* SMTP_LINE_MAX + 1 bytes */
	const char		*mech;		/* AUTH mechanism in use */
	int			 ending;	/* QUIT asked for, or failed:
						 * closed_cb follows */
	int			 quit_wanted;	/* QUIT once idle */
	int			 need_rset;	/* a transaction is open */

	/* The message in flight (busy until its result is set). */
	int			 busy;
	int			 utf8;		/* SMTPUTF8 addresses */
	struct smtp_envelope	 env;		/* its pointers are borrowed */
	smtp_sent_cb		 sent_cb;
	void			*sent_arg;
	int			 batch;		/* MAIL..DATA pipelined */
	struct evbuffer		*cork;		/* a pipelined group, until
						 * smtp_uncork sends it */
	int			 corked;
	int			 mail_failed;	/* MAIL refused (pipelined) */
	int			 data_abort;	/* "." sent after a wrong 354 */
	size_t			 rcpt_next;	/* RCPT replies read */
	size_t			 naccepted;	/* RCPTs accepted */
	uint64_t		 offset;	/* next file byte to read */
	uint64_t		 sent_bytes;	/* encoded bytes queued */
	struct smtp_stuff	 stuff;
	char			*chunk;		/* SMTP_CHUNK bytes in BODY */
	struct smtp_result	 result;
	struct smtp_rcpt_result	*rcpts;
	struct smtp_rcpt_text	*texts;
	char			 message[SMTP_MESSAGE_MAX];

	/* Reports, delivered from the loop by report_ev. */
	struct event		*report_ev;
	int			 report_sent;	/* sent_cb is due */
	int			 report_closed;	/* closed_cb is due */
	struct smtp_result	 closed;
	char			 closed_msg[SMTP_MESSAGE_MAX];
	smtp_closed_cb		 closed_cb;
	void			*closed_arg;
	int			 in_cb;		/* inside a caller's callback */
	int			 dead;		/* freed while in use */
};

/* smtp.c: the conversation. */
void		 smtp_timeouts(struct smtp_session *);
void		 smtp_enter(struct smtp_session *, enum smtp_state);
void		 smtp_write(struct smtp_session *, const char *cmd,
		    const char *logas);
void		 smtp_cmd(struct smtp_session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 smtp_cork(struct smtp_session *);
void		 smtp_uncork(struct smtp_session *);
void		 smtp_said(struct smtp_session *, char *, size_t,
		    const struct smtp_reply *);
int		 smtp_temporary(const struct smtp_reply *);
void		 smtp_rcpt_set(struct smtp_session *, size_t, int code,
		    const char *enhanced, const char *text, int temporary,
		    int accepted);
void		 smtp_fail(struct smtp_session *, enum smtp_error,
		    int temporary, int polite, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
void		 smtp_message_done(struct smtp_session *, enum smtp_error,
		    int temporary);
void		 smtp_ready(struct smtp_session *);

/* smtp-auth.c: logging in. */
void		 smtp_auth(struct smtp_session *);
void		 smtp_auth_response(struct smtp_session *,
		    const struct smtp_reply *);

/* smtp-mail.c: a message's transaction. */
int		 smtp_addr_ok(const char *, int *utf8);
void		 smtp_begin(struct smtp_session *);
void		 smtp_body_pump(struct smtp_session *);
void		 smtp_mail_response(struct smtp_session *,
		    const struct smtp_reply *);
void		 smtp_rcpts_final(struct smtp_session *,
		    const struct smtp_reply *);
void		 smtp_early_reply(struct smtp_session *,
		    const struct smtp_reply *, const char *said);

#endif
