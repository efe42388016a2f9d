/*
 * The inside of a POP3 session, private to the two files that make it:
 * pop3.c, the conversation (connect, greeting, CAPA, STLS, login, the
 * replies read and dispatched by state, the end and the freeing), and
 * pop3-fetch.c, the poll once logged in (listing, the mark, the plan, the
 * second connection, the transfer window, messages streamed into the
 * store, batches and commits). Nothing else includes it.
 */
#ifndef MAILCTL_POP3_INT_H
#define MAILCTL_POP3_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "config.h"
#include "pop3.h"
#include "pop3-wire.h"
#include "session.h"

#define POP3_WINDOW		32		/* pipelined commands */

enum pop3_state {
	POP3_CONNECT,
	POP3_GREETING,
	POP3_CAPA,
	POP3_STLS,
	POP3_HANDSHAKE,
	POP3_CAPA_TLS,
	POP3_USER,
	POP3_PASS,
	POP3_AUTH,
	POP3_APOP,
	POP3_STAT,
	POP3_UIDL_ONE,
	POP3_UIDL,
	POP3_LIST,
	POP3_TRANSFER,
	POP3_QUIT,
	POP3_DONE,
	POP3_NSTATES
};

struct pop3_msg {
	char		*uidl;		/* NULL until known */
	int		 present;	/* listed by UIDL or LIST */
	int		 seen;		/* its UIDL is already stored */
	int		 want;		/* to RETR; not asked for yet */
	int		 dele;		/* to DELE */
};

enum pop3_cmd_kind { CMD_RETR, CMD_DELE };

struct pop3_cmd {
	enum pop3_cmd_kind	 kind;
	unsigned		 num;	/* message number, 1-based */
};

struct pop3_session {
	struct session		 c;		/* server, connection, batches */
	int			 connections;	/* allowed for a big poll */

	int			 second;	/* the second connection */
	struct pop3_session	*lead;		/* second: the first one */
	struct pop3_session	*helper;	/* lead: the second one */
	unsigned		 back;		/* lead: second takes below */

	enum pop3_state		 state;
	int			 multi;		/* inside a multi-line reply */
	unsigned		 caps;
	int			 no_uidl;	/* UIDL refused: hash content */
	char			*apop_ts;
	struct pop3_mark	 mark;		/* the last poll's, to check */
	unsigned		 stat_count;	/* STAT's, when stat_ok */
	int			 stat_ok;
	int			 one_sent;	/* "UIDL n" sent with STAT */
	char			 last_uidl[POP3_UIDL_MAX + 1]; /* of nmsgs */

	struct pop3_msg		*msgs;		/* index = number - 1 */
	size_t			 nmsgs;
	size_t			 msgs_size;	/* allocated */
	unsigned		 next_retr;	/* next number to consider */
	unsigned		 next_dele;
	struct pop3_cmd		 fifo[POP3_WINDOW + 1];
	size_t			 fifo_head;
	size_t			 fifo_len;

	unsigned		 cur_num;
	struct pop3_body	 body;		/* decodes into cur's buffer */
	char			*dst0;		/* the first not counted in */
	EVP_MD_CTX		*cur_hash;	/* without UIDL */

	char			*line;		/* POP3_LINE_MAX + 1 bytes */
	struct pop3_result	 result;
	pop3_done_cb		 cb;
	void			*arg;
};

/* pop3.c: the conversation. */
struct pop3_session *pop3_session_new(struct event_base *, const char *account,
		    const struct config_server *, const char *password,
		    struct store *, pop3_done_cb, void *arg);
void		 pop3_connect(struct pop3_session *);
void		 pop3_send(struct pop3_session *, int secret, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 pop3_enter(struct pop3_session *, enum pop3_state);
void		 pop3_fail(struct pop3_session *, enum pop3_error, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
void		 pop3_close(struct pop3_session *, enum pop3_error);
void		 pop3_report(struct pop3_session *);
int		 pop3_reap(struct pop3_session *);

/* pop3-fetch.c: the poll once logged in. */
void		 pop3_where(const struct pop3_session *, char *, size_t);
void		 pop3_look(struct pop3_session *);
void		 pop3_stat_response(struct pop3_session *, const char *line);
void		 pop3_uidl_one_response(struct pop3_session *, char *line);
int		 pop3_listing_line(struct pop3_session *, char *line, int uidl);
void		 pop3_plan(struct pop3_session *);
void		 pop3_transfer_response(struct pop3_session *, int okay,
		    const char *q);
int		 pop3_retr_data(struct pop3_session *);
void		 pop3_pump(struct pop3_session *);
void		 pop3_committed(void *, int, const char *, const uint32_t *,
		    size_t);
void		 pop3_give_back(struct pop3_session *, enum pop3_error);

#endif
