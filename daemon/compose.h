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

#define COMPOSE_ADDR_MAX	254	/* RFC 5321 4.5.3.1.3, less the <> */
#define COMPOSE_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */

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
	time_t		  date;		/* 0 for now */
};

int	compose_check_address(const char *, char **);
int	compose_check(const struct compose *, char **);
int	compose_write(const struct compose *, int, char **, char **);
int	compose_write_from(int, const char *, const char *, char **);
void	compose_date_header(time_t, char *, size_t);
char	*compose_message_id(const char *addr, char **cause);
struct mime_addr *compose_mailbox_list(const char *, size_t *);
char	**compose_address_list(const char *);
void	compose_from_json(struct compose *, json_t *);
void	compose_json_free(struct compose *);

#endif
