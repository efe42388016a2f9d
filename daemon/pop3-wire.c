/* The POP3 wire format: see pop3-wire.h. */
#include "autoconf.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include "pop3-wire.h"

/* Where the body decoder is, between two calls. */
enum {
	BODY_BOL,	/* at the start of a line */
	BODY_MID,	/* inside a line */
	BODY_CR,	/* inside a line, after a CR */
	BODY_DOT,	/* after a dot at the start of a line */
	BODY_DOTCR,	/* after a dot and a CR at the start of a line */
};

/* Start decoding a body; more() provides the space to decode into. */
void
pop3_body_init(struct pop3_body *b, int (*more)(struct pop3_body *, void *),
    void *arg)
{
	memset(b, 0, sizeof *b);
	b->state = BODY_BOL;
	b->more = more;
	b->arg = arg;
}

/* Put decoded bytes at dst, asking for more space as it fills. */
static int
pop3_body_put(struct pop3_body *b, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		if (b->room == 0 && (b->more(b, b->arg) != 0 || b->room == 0))
			return -1;
		k = n < b->room ? n : b->room;
		memcpy(b->dst, p, k);
		b->dst += k;
		b->room -= k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Put one decoded byte. */
static inline int
pop3_body_byte(struct pop3_body *b, char c)
{
	if (b->room == 0)
		return pop3_body_put(b, &c, 1);
	*b->dst++ = c;
	b->room--;
	return 0;
}

/*
 * Decode p[0..len): return the bytes consumed, all of them unless the end
 * (".CRLF", or a lenient ".LF") was met, which sets *end; -1 when more()
 * stopped the decoding.
 */
ssize_t
pop3_body_decode(struct pop3_body *b, const char *p, size_t len, int *end)
{
	const char	*nl;
	size_t		 i = 0, run;

	*end = 0;
	while (i < len) {
		switch (b->state) {
		case BODY_BOL:
			if (p[i] == '.') {
				b->state = BODY_DOT;
				i++;
			} else
				b->state = BODY_MID;
			break;
		case BODY_DOT:
			if (p[i] == '\r') {
				b->state = BODY_DOTCR;
				i++;
			} else if (p[i] == '\n') {
				*end = 1;
				return i + 1;
			} else
				b->state = BODY_MID;	/* the dot: stuffing */
			break;
		case BODY_DOTCR:
			if (p[i] == '\n') {
				*end = 1;
				return i + 1;
			}
			/* ".CR" then more: keep the CR, drop the dot. */
			if (pop3_body_byte(b, '\r') != 0)
				return -1;
			b->state = BODY_MID;
			break;
		case BODY_CR:
			if (p[i] == '\n') {
				if (pop3_body_byte(b, '\n') != 0)
					return -1;
				b->state = BODY_BOL;
				i++;
				break;
			}
			/* A lone CR inside a line is content. */
			if (pop3_body_byte(b, '\r') != 0)
				return -1;
			b->state = BODY_MID;
			break;
		case BODY_MID:
			nl = memchr(p + i, '\n', len - i);
			run = (nl != NULL ? (size_t)(nl - p) : len) - i;
			if (run > 0 && p[i + run - 1] == '\r') {
				run--;		/* CRLF becomes LF */
				if (nl == NULL) {
					/* Maybe half a CRLF: wait for more. */
					if (pop3_body_put(b, p + i, run) != 0)
						return -1;
					b->state = BODY_CR;
					return len;
				}
			}
			if (pop3_body_put(b, p + i, run) != 0)
				return -1;
			if (nl == NULL)
				return len;
			if (pop3_body_byte(b, '\n') != 0)
				return -1;
			b->state = BODY_BOL;
			i = nl - p + 1;
			break;
		}
	}
	return len;
}

/* Is u[0..len) a UIDL: 1 to 70 characters in 0x21..0x7e (RFC 1939)? */
int
pop3_uidl_valid(const char *u, size_t len)
{
	size_t	 i;

	if (len == 0 || len > POP3_UIDL_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (u[i] < 0x21 || u[i] > 0x7e)
			return 0;
	return 1;
}

/* Parse the digits at *p (at least one, no sign) into *n; advance *p. */
static int
pop3_number(const char **p, unsigned long *n)
{
	const char	*q = *p;

	*n = 0;
	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		if (*n > (ULONG_MAX - 9) / 10)
			return -1;
		*n = *n * 10 + (*q - '0');
	}
	*p = q;
	return 0;
}

/*
 * Split a listing line "N ARG" (a UIDL or LIST entry): *num is N, *arg
 * the rest (checked by the caller, which knows what it is).
 */
int
pop3_listing_parse(char *line, unsigned long *num, char **arg)
{
	const char	*p = line;

	if (pop3_number(&p, num) != 0 || *p != ' ')
		return -1;
	*arg = line + (p - line) + 1;
	return 0;
}

/* The message count of a STAT answer "+OK COUNT OCTETS". */
int
pop3_stat_parse(const char *line, unsigned long *count)
{
	const char	*p;
	unsigned long	 octets;

	if (strncmp(line, "+OK ", 4) != 0)
		return -1;
	p = line + 4;
	if (pop3_number(&p, count) != 0 || *p++ != ' ' ||
	    pop3_number(&p, &octets) != 0)
		return -1;
	return 0;
}

/*
 * The answer to "UIDL n": "+OK n UIDL" (anything after a further space
 * ignored); *uidl is NUL-terminated in line.
 */
int
pop3_uidl_one_parse(char *line, unsigned long *num, char **uidl)
{
	char	*sp;

	if (strncmp(line, "+OK ", 4) != 0 ||
	    pop3_listing_parse(line + 4, num, uidl) != 0)
		return -1;
	if ((sp = strchr(*uidl, ' ')) != NULL)
		*sp = '\0';
	return pop3_uidl_valid(*uidl, strlen(*uidl)) ? 0 : -1;
}

/* Is the word at p (up to a space or the end) w, ignoring case? */
static int
pop3_word_is(const char *p, const char *w)
{
	size_t	 n = strlen(w);

	return strncasecmp(p, w, n) == 0 && (p[n] == ' ' || p[n] == '\0');
}

/* The capabilities one CAPA line announces (0 for any other). */
unsigned
pop3_capa_parse(const char *line)
{
	const char	*p;

	while (*line == ' ')
		line++;
	if (pop3_word_is(line, "STLS"))
		return POP3_CAP_STLS;
	if (pop3_word_is(line, "USER"))
		return POP3_CAP_USER;
	if (pop3_word_is(line, "UIDL"))
		return POP3_CAP_UIDL;
	if (pop3_word_is(line, "PIPELINING"))
		return POP3_CAP_PIPELINING;
	if (!pop3_word_is(line, "SASL"))
		return 0;
	for (p = line + 4; (p = strchr(p, ' ')) != NULL; )
		if (pop3_word_is(++p, "PLAIN"))
			return POP3_CAP_SASL_PLAIN;
	return 0;
}

/*
 * The APOP timestamp "<...@...>" in a greeting line[0..len): its length,
 * with *stamp pointing at its "<"; 0 when there is none.
 */
size_t
pop3_apop_stamp(const char *line, size_t len, const char **stamp)
{
	const char	*lt, *gt;

	if ((lt = memchr(line, '<', len)) == NULL ||
	    (gt = memchr(lt, '>', len - (lt - line))) == NULL ||
	    (size_t)(gt - lt) + 1 > POP3_STAMP_MAX ||
	    memchr(lt, '@', gt - lt) == NULL)
		return 0;
	*stamp = lt;
	return gt - lt + 1;
}
