/*
 * Writing MIME messages (RFC 5322, 2045-2049, 2047, 2231): the message that
 * "send" queues, written with LF line ends (the SMTP layer turns them into
 * CRLF on the wire).
 *
 * Ownership: struct compose borrows every pointer; nothing is kept after a
 * call returns. compose_write() returns the Message-ID (with its angle
 * brackets) in new memory that the caller frees.
 *
 * There is deliberately no Bcc field: Bcc recipients are envelope only and
 * never appear in the message. Making sure there is at least one recipient
 * (To, Cc or Bcc) is the caller's job; without To and Cc the message says
 * "To: undisclosed-recipients:;".
 *
 * compose_check() refuses everything that can be refused before writing:
 * bad addresses, line breaks or control characters in header inputs (header
 * injection), invalid UTF-8, attachments that are missing, not regular files
 * or larger than attachment_max. compose_write() runs the same checks
 * itself, so it never writes a broken header. When compose_write() fails
 * after the checks (a write error, an attachment that went away), fd may
 * hold part of a message: the caller discards it. After a write error
 * errno is that error (ENOSPC for a full disk).
 */
#ifndef MAILCTL_COMPOSE_H
#define MAILCTL_COMPOSE_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

struct mime_addr;
struct mime_msg;

#define COMPOSE_ADDR_MAX	254	/* RFC 5321 4.5.3.1.3, less the <> */
#define COMPOSE_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define COMPOSE_MSGID_MAX	250	/* a longer msg-id is not written */

/*
 * A part of another message sent along (a forward): its decoded bytes,
 * written in base64, or, for a message/rfc822 one, the message as it is
 * (7bit or 8bit, RFC 2046 5.2.1).
 */
struct compose_part {
	const char	*data;
	size_t		 len;
	const char	*type;		/* "type/subtype"; anything else is
					   sent as application/octet-stream */
	const char	*filename;	/* UTF-8, or NULL */
};

struct compose {
	const char	 *from_name;	/* UTF-8 display name, or NULL */
	const char	 *from_addr;	/* addr-spec: a@example.test */
	const char	**to;		/* addr-specs, NULL-terminated, or NULL */
	const char	**to_names;	/* display names, one per to (each
					   NULL or "" for none), or NULL */
	const char	**cc;		/* NULL-terminated, or NULL */
	const char	**cc_names;	/* as to_names, one per cc */
	const char	 *subject;	/* UTF-8, or NULL for none */
	const char	 *body;		/* UTF-8, LF or CRLF ends */
	size_t		  body_len;
	const char	**attach;	/* paths, NULL-terminated */
	long long	  attachment_max; /* bytes each; <= 0: no limit */
	const char	 *user_agent;	/* "mailctl/0.1", or NULL */
	const char	 *in_reply_to;	/* "<id>" (a reply), or NULL */
	const char	 *references;	/* "<a> <b>", or NULL */
	const struct compose_part *parts; /* after the attachments */
	size_t		  nparts;
	int		 *eightbit;	/* set to 1 when a part went as 8bit
					   (may be NULL) */
	time_t		  date;		/* 0 for now */
};

int	compose_check_address(const char *, char **);
int	compose_check(const struct compose *, char **);
int	compose_msgid_ok(const char *, size_t);
int	compose_write(const struct compose *, int, char **, char **);
int	compose_write_from(int, const char *, const char *, char **);
void	compose_date_header(time_t, char *, size_t);
char	*compose_message_id(const char *addr, char **cause);
struct mime_addr *compose_mailbox_list(const char *, size_t *);
char	**compose_address_list(const char *);
void	compose_from_json(struct compose *, json_t *);
void	compose_json_free(struct compose *);

/* compose-reply.c: what a reply or forward takes from the original. */
char	*compose_reply_subject(const char *, int fwd);
char	*compose_reply_references(json_t *refs, const char *msgid);
json_t	*compose_reply_mailboxes(const struct mime_msg *, const char *field);
json_t	*compose_reply_rcpts(json_t *orig, json_t *own, int all);
char	*compose_reply_unflow(const char *, int delsp);
char	*compose_reply_quote(const char *attribution, const char *text,
	    size_t max);
char	*compose_reply_attribution(const char *date, const char *name);
char	*compose_reply_forward(const char *const *fields, const char *text,
	    size_t max);

#endif
