/*
 * The POP3 wire format, as pure functions without I/O (so they can be unit
 * tested and fuzzed): the body of a multi-line reply (RFC 1939 section 3:
 * dot stuffing, CRLF line ends, the terminating "."), listing lines
 * ("N UIDL", "N SIZE"), UIDLs, the STAT and single-message UIDL answers,
 * CAPA lines (RFC 2449) and the greeting's APOP timestamp.
 */
#ifndef MAILCTL_POP3_WIRE_H
#define MAILCTL_POP3_WIRE_H

#include <stddef.h>
#include <sys/types.h>

#define POP3_UIDL_MAX	70	/* RFC 1939: 1 to 70 characters */
#define POP3_STAMP_MAX	256	/* an APOP timestamp, "<" and ">" included */

/* Capabilities, from CAPA lines. */
#define POP3_CAP_KNOWN		0x01	/* CAPA answered +OK */
#define POP3_CAP_STLS		0x02
#define POP3_CAP_USER		0x04
#define POP3_CAP_UIDL		0x08
#define POP3_CAP_PIPELINING	0x10
#define POP3_CAP_SASL_PLAIN	0x20

/*
 * A message body being decoded (RETR): dot stuffing undone, CRLF turned
 * into LF, the terminating ".CRLF" found, whatever the split of the input.
 * The decoded bytes go straight to dst (room bytes free there); when room
 * is 0, more() is called to provide the next space (it returns -1 to stop
 * the decoding). Nothing is buffered here but one pending CR.
 */
struct pop3_body {
	int		 state;			/* where in a line */
	char		*dst;
	size_t		 room;
	int		(*more)(struct pop3_body *, void *);
	void		*arg;
};

void	pop3_body_init(struct pop3_body *, int (*more)(struct pop3_body *,
	    void *), void *arg);
ssize_t	pop3_body_decode(struct pop3_body *, const char *p, size_t len,
	    int *end);

int	pop3_uidl_valid(const char *, size_t);
int	pop3_listing_parse(char *line, unsigned long *num, char **arg);
int	pop3_stat_parse(const char *line, unsigned long *count);
int	pop3_uidl_one_parse(char *line, unsigned long *num, char **uidl);
unsigned pop3_capa_parse(const char *line);
size_t	pop3_apop_stamp(const char *line, size_t len, const char **stamp);

#endif
