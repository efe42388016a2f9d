/*
 * The SMTP wire format, as pure functions without I/O (so they can be unit
 * tested and fuzzed): reply lines (RFC 5321 section 4.2, enhanced status
 * codes RFC 3463 / RFC 2034), EHLO extension lines, and the DATA encoding
 * (CRLF line ends, dot stuffing; RFC 5321 section 4.5.2).
 */
#ifndef MAILCTL_SMTP_WIRE_H
#define MAILCTL_SMTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX		4096	/* a reply line, without CRLF */
#define SMTP_REPLY_LINES_MAX	1000	/* lines in one multi-line reply */
#define SMTP_TEXT_MAX		512	/* text kept of a reply */

/* A reply being read, line by line. */
struct smtp_reply {
	int		 code;		/* 200..559; 0 before the first line */
	unsigned	 nlines;
	char		 enhanced[16];	/* "5.1.1", or "" */
	char		 text[SMTP_TEXT_MAX];	/* lines joined by a space,
					 * enhanced codes removed, printable
					 * ASCII only, truncated */
	size_t		 textlen;
};

enum smtp_reply_status {
	SMTP_REPLY_MORE,	/* a "250-" line: more lines follow */
	SMTP_REPLY_DONE,	/* the last line: the reply is complete */
	SMTP_REPLY_BAD,		/* not a valid reply line; *why says why */
};

void	smtp_reply_reset(struct smtp_reply *);
enum smtp_reply_status smtp_reply_line(struct smtp_reply *, const char *line,
	    size_t len, int enhanced, const char **text, size_t *textlen,
	    const char **why);

/* What an EHLO reply announced. */
struct smtp_ext {
	unsigned	 flags;
#define SMTP_EXT_PIPELINING	0x0001	/* RFC 2920 */
#define SMTP_EXT_SIZE		0x0002	/* RFC 1870 */
#define SMTP_EXT_STARTTLS	0x0004	/* RFC 3207 */
#define SMTP_EXT_AUTH		0x0008	/* RFC 4954 */
#define SMTP_EXT_8BITMIME	0x0010	/* RFC 6152 */
#define SMTP_EXT_ENHANCED	0x0020	/* RFC 2034 ENHANCEDSTATUSCODES */
#define SMTP_EXT_SMTPUTF8	0x0040	/* RFC 6531 */
	unsigned	 auth;
#define SMTP_AUTH_PLAIN		0x01
#define SMTP_AUTH_LOGIN		0x02
#define SMTP_AUTH_XOAUTH2	0x04
	uint64_t	 size_max;	/* SIZE n; 0: no limit announced */
	char		 mechs[128];	/* AUTH mechanisms, for messages */
};

void	smtp_ext_line(struct smtp_ext *, const char *text, size_t len);

/* Where the DATA encoder is, between two chunks of the message. */
struct smtp_stuff {
	int		 bol;		/* at the start of a line */
	int		 cr;		/* the last byte written was a CR */
};

void	smtp_stuff_init(struct smtp_stuff *);
size_t	smtp_stuff(struct smtp_stuff *, const char *in, size_t len,
	    char *out);
size_t	smtp_stuff_end(struct smtp_stuff *, char *out);

#define SMTP_STUFF_MAX(len)	(2 * (len))	/* output bound of smtp_stuff */
#define SMTP_STUFF_END_MAX	5		/* of smtp_stuff_end */

#endif
