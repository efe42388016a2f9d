/*
 * Writing MIME messages: the header (RFC 5322) with encoded words for
 * non-ASCII text (RFC 2047), a text/plain body in 7bit or quoted-printable,
 * and attachments in base64 inside multipart/mixed (RFC 2045, 2046) with
 * RFC 2231 file names; the Date and Message-ID fields; and the JSON form of
 * a message that send checks and the queue writes.
 *
 * Everything that comes from the user is checked (compose_check() in
 * compose-check.c) before the first byte is written, so that a line break
 * in a subject or an address can never start a header of its own (header
 * injection). Header lines are folded at whitespace to stay within 78
 * columns; only a line holding one long address can be longer, and RFC
 * 5321's address limit keeps it far below the 998 octets of RFC 5322
 * 2.1.1.
 *
 * Attachments are streamed: read in chunks, encoded, and written through one
 * buffer, so a message of any size needs a fixed amount of memory.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/utf8.h"
#include "common/xmalloc.h"
#include "compose.h"
#include "compose-int.h"

#define COMPOSE_LINE		78	/* RFC 5322 2.1.1 SHOULD */
#define COMPOSE_EW_MAX		75	/* RFC 2047 2 */
#define COMPOSE_EW_EXTRA	12	/* "=?UTF-8?B?" and "?=" */
#define COMPOSE_EW_CHAR		12	/* one encoded character */
#define COMPOSE_QP_LINE		76	/* RFC 2045 6.7 (5) */
#define COMPOSE_B64_IN		57	/* bytes per base64 line */
#define COMPOSE_READ_SIZE	(COMPOSE_B64_IN * 1024)
#define COMPOSE_OUT_SIZE	65536
#define COMPOSE_NAME_MAX	70	/* a display name written as is */
#define COMPOSE_ID_BYTES	16	/* random bytes per id */

/*
 * The multipart boundary: "=_mailctl_" and 32 random hex digits. Base64
 * never produces "=_" or "-", and in quoted-printable "=" is always followed
 * by two hex digits or a line end, so no encoded part can contain the
 * boundary line. Only a 7bit body could, and compose_write() checks it.
 */
#define COMPOSE_BOUNDARY	"=_mailctl_"

struct compose_out {
	int		 fd;
	char		 buf[COMPOSE_OUT_SIZE];
	size_t		 len;
	size_t		 col;		/* column of the next byte */
	int		 error;		/* errno of a failed write */
	int		 eightbit;	/* a part went as 8bit */
};

/* Media types by file name extension; anything else is octet-stream. */
#define COMPOSE_OOXML	"application/vnd.openxmlformats-officedocument."
#define COMPOSE_ODF	"application/vnd.oasis.opendocument."
static const struct {
	const char	*ext;
	const char	*type;
} compose_types[] = {
	{ "txt", "text/plain" }, { "html", "text/html" },
	{ "htm", "text/html" }, { "csv", "text/csv" },
	{ "ics", "text/calendar" },
	{ "md", "text/markdown" }, { "pdf", "application/pdf" },
	{ "json", "application/json" }, { "xml", "application/xml" },
	{ "zip", "application/zip" }, { "gz", "application/gzip" },
	{ "tar", "application/x-tar" }, { "png", "image/png" },
	{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "svg", "image/svg+xml" },
	{ "webp", "image/webp" }, { "mp3", "audio/mpeg" },
	{ "wav", "audio/wav" }, { "ogg", "audio/ogg" }, { "mp4", "video/mp4" },
	{ "doc", "application/msword" }, { "xls", "application/vnd.ms-excel" },
	{ "ppt", "application/vnd.ms-powerpoint" },
	{ "docx", COMPOSE_OOXML "wordprocessingml.document" },
	{ "xlsx", COMPOSE_OOXML "spreadsheetml.sheet" },
	{ "pptx", COMPOSE_OOXML "presentationml.presentation" },
	{ "odt", COMPOSE_ODF "text" }, { "ods", COMPOSE_ODF "spreadsheet" },
	{ "odp", COMPOSE_ODF "presentation" },
};

/* Write out the buffer, retrying short writes and EINTR. */
static void
compose_flush(struct compose_out *o)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < o->len && o->error == 0) {
		n = write(o->fd, o->buf + off, o->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			o->error = errno;
		else if (n == 0)
			o->error = EIO;
		else
			off += n;
	}
	o->len = 0;
}

/* Append n bytes to the output, keeping track of the column. */
static void
compose_put(struct compose_out *o, const void *p, size_t n)
{
	const char	*s = p, *nl;
	size_t		 k;

	if ((nl = memrchr(s, '\n', n)) != NULL)
		o->col = s + n - nl - 1;
	else
		o->col += n;
	while (n > 0) {
		if (o->len == sizeof o->buf)
			compose_flush(o);
		k = sizeof o->buf - o->len;
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

/* Append a string. */
static void
compose_puts(struct compose_out *o, const char *s)
{
	compose_put(o, s, strlen(s));
}

/* Start a header line: the name and its colon. */
static void
compose_hdr(struct compose_out *o, const char *name)
{
	compose_puts(o, name);
	compose_put(o, ":", 1);
}

/*
 * Write the whitespace before a token of len bytes: a fold (RFC 5322 2.2.3)
 * when the token would pass the line limit and a new line would help.
 */
static void
compose_sep(struct compose_out *o, size_t len)
{
	if (o->col > 1 && o->col + 1 + len > COMPOSE_LINE)
		compose_put(o, "\n ", 2);
	else
		compose_put(o, " ", 1);
}

/* Return COMPOSE_ID_BYTES random bytes as lowercase hex, or NULL. */
static char *
compose_random_hex(char **cause)
{
	unsigned char	 r[COMPOSE_ID_BYTES];
	char		*hex;
	ssize_t		 n;
	size_t		 i;

	while ((n = getrandom(r, sizeof r, 0)) == -1 && errno == EINTR)
		/* nothing */;
	if (n != (ssize_t)sizeof r) {
		xasprintf(cause, "cannot get random bytes: %s", n == -1 ?
		    strerror(errno) : "short read");
		return NULL;
	}
	hex = xmalloc(2 * sizeof r + 1);
	for (i = 0; i < sizeof r; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	return hex;
}

/* Format the Date header (RFC 5322 3.3) of time t (0: now), local time. */
void
compose_date_header(time_t t, char *buf, size_t size)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;
	long		 off;

	if (t == 0)
		t = time(NULL);
	tzset();
	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(buf, size, "Date: %s, %d %s %d %02d:%02d:%02d "
	    "%c%02ld%02ld\n", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

/* Write the Date header. */
static void
compose_date(struct compose_out *o, time_t t)
{
	char	 buf[80];

	compose_date_header(t, buf, sizeof buf);
	compose_puts(o, buf);
}

/* A Message-ID from a random id on the domain of addr. */
static char *
compose_message_id_at(const char *id, const char *addr)
{
	const char	*at = strrchr(addr, '@');
	char		*msgid;

	xasprintf(&msgid, "<%s@%s>", id, at != NULL ? at + 1 : "localhost");
	return msgid;
}

/* A new unique Message-ID on the domain of addr, or NULL with *cause. */
char *
compose_message_id(const char *addr, char **cause)
{
	char	*id, *msgid;

	if ((id = compose_random_hex(cause)) == NULL)
		return NULL;
	msgid = compose_message_id_at(id, addr);
	free(id);
	return msgid;
}

/* Encode n bytes as base64 into out; return the length written. */
static size_t
compose_b64(char *out, const unsigned char *p, size_t n)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i, len = 0;
	unsigned int		 v;

	for (i = 0; i < n; i += 3) {
		v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		out[len++] = b64[v >> 18];
		out[len++] = b64[v >> 12 & 0x3f];
		out[len++] = i + 1 < n ? b64[v >> 6 & 0x3f] : '=';
		out[len++] = i + 2 < n ? b64[v & 0x3f] : '=';
	}
	return len;
}

/* Write a byte as an escape character and two hex digits; return 3. */
static size_t
compose_esc(char *out, char esc, unsigned char c)
{
	static const char	 hex[] = "0123456789ABCDEF";

	out[0] = esc;
	out[1] = hex[c >> 4];
	out[2] = hex[c & 0xf];
	return 3;
}

/* Return 1 when a byte stands for itself in a Q word (RFC 2047 5 (3)). */
static int
compose_qsafe(unsigned char c)
{
	return (compose_alnum(c) || (c != '\0' && strchr("!*+-/", c) != NULL));
}

/* Return the length of one byte in Q encoding. */
static size_t
compose_qlen(unsigned char c)
{
	return (compose_qsafe(c) || c == ' ') ? 1 : 3;
}

/*
 * Write text as RFC 2047 encoded words: Q when it is shorter, else B. Words
 * hold whole UTF-8 characters, are at most 75 characters and fill the line
 * up to the limit; the folds between them vanish when decoded (RFC 2047 6.2).
 */
static void
compose_ew(struct compose_out *o, const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	char			 word[COMPOSE_EW_MAX + 1];
	size_t			 i, j, k, n, room, enc, qtotal = 0, w;
	int			 q;

	for (i = 0; i < len; i++)
		qtotal += compose_qlen(u[i]);
	q = qtotal <= (len + 2) / 3 * 4;
	for (i = 0; i < len; i = j) {
		room = COMPOSE_EW_MAX - COMPOSE_EW_EXTRA;
		if (o->col + 1 + COMPOSE_EW_EXTRA + COMPOSE_EW_CHAR <=
		    COMPOSE_LINE && COMPOSE_LINE - o->col - 1 -
		    COMPOSE_EW_EXTRA < room)
			room = COMPOSE_LINE - o->col - 1 - COMPOSE_EW_EXTRA;
		for (j = i, enc = 0; j < len; j += n) {
			n = utf8_decode(u + j, len - j, NULL);
			for (k = 0, w = 0; k < n; k++)
				w += compose_qlen(u[j + k]);
			w = q ? enc + w : (j + n - i + 2) / 3 * 4;
			if (w > room)
				break;
			enc = w;
		}
		n = snprintf(word, sizeof word, "=?UTF-8?%c?", q ? 'Q' : 'B');
		for (k = i; q && k < j; k++) {
			if (u[k] == ' ')
				word[n++] = '_';
			else if (compose_qsafe(u[k]))
				word[n++] = u[k];
			else
				n += compose_esc(word + n, '=', u[k]);
		}
		if (!q)
			n += compose_b64(word + n, u + i, j - i);
		word[n++] = '?';
		word[n++] = '=';
		compose_sep(o, n);
		compose_put(o, word, n);
	}
}

/*
 * Return 1 when s can be written as is: printable ASCII words of at most
 * max bytes with single spaces between them, and no "=?" that a reader
 * would take for the start of an encoded word.
 */
static int
compose_plain(const char *s, size_t max)
{
	size_t	 i, n;

	if (strstr(s, "=?") != NULL)
		return 0;
	for (;;) {
		n = strcspn(s, " ");
		if (n == 0 || n > max)
			return 0;
		for (i = 0; i < n; i++)
			if (s[i] < 0x21 || s[i] > 0x7e)
				return 0;
		if (s[n] == '\0')
			return 1;
		s += n + 1;
	}
}

/* Write space-separated words (checked by compose_plain), folding. */
static void
compose_words(struct compose_out *o, const char *s)
{
	size_t	 n;

	for (;;) {
		n = strcspn(s, " ");
		compose_sep(o, n);
		compose_put(o, s, n);
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
}

/* Write unstructured text (RFC 5322 3.2.5): as is when possible. */
static void
compose_text(struct compose_out *o, const char *s)
{
	if (*s == '\0')
		return;
	if (compose_plain(s, COMPOSE_LINE - o->col - 1))
		compose_words(o, s);
	else
		compose_ew(o, s, strlen(s));
}

/*
 * Write a display name (RFC 5322 3.4 phrase): atoms as they are, other
 * printable ASCII as a quoted-string (folded at its spaces, which unfolding
 * gives back), anything else encoded.
 */
static void
compose_phrase(struct compose_out *o, const char *s)
{
	char	*q;
	size_t	 i, n = 0;
	int	 atoms = 1;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] != ' ' && !compose_atext(s[i]))
			atoms = 0;
	if (!compose_plain(s, COMPOSE_NAME_MAX)) {
		compose_ew(o, s, i);
		return;
	}
	if (atoms) {
		compose_words(o, s);
		return;
	}
	q = xmalloc(2 * i + 3);
	q[n++] = '"';
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '"' || s[i] == '\\')
			q[n++] = '\\';
		q[n++] = s[i];
	}
	q[n++] = '"';
	q[n] = '\0';
	compose_words(o, q);
	free(q);
}

/*
 * Write an address list header, folded between addresses: each address
 * after its display name (names[i], encoded or quoted as needed) when it
 * has one.
 */
static void
compose_addrs(struct compose_out *o, const char *field, const char **list,
    const char **names)
{
	size_t	 i, n;
	int	 more;

	compose_hdr(o, field);
	for (i = 0; list[i] != NULL; i++) {
		n = strlen(list[i]);
		more = list[i + 1] != NULL;
		if (names != NULL && names[i] != NULL && *names[i] != '\0') {
			compose_phrase(o, names[i]);
			compose_sep(o, n + 2 + more);
			compose_put(o, "<", 1);
			compose_put(o, list[i], n);
			compose_put(o, ">", 1);
		} else {
			compose_sep(o, n + more);
			compose_put(o, list[i], n);
		}
		if (more)
			compose_put(o, ",", 1);
	}
	compose_put(o, "\n", 1);
}

/* Return 1 for an RFC 2231 attribute-char. */
static int
compose_attrchar(unsigned char c)
{
	return (c > 0x20 && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=", c) ==
	    NULL);
}

/* Write one parameter token, with the ";" that separates it from a next. */
static void
compose_token(struct compose_out *o, const char *s, size_t n, int more)
{
	compose_sep(o, n + more);
	compose_put(o, s, n);
	if (more)
		compose_put(o, ";", 1);
}

/*
 * Write a parameter: attr="value" when the value is short printable ASCII,
 * else RFC 2231 attr*=utf-8''percent-encoded, cut into numbered sections
 * (attr*0*=, attr*1*=, ...) at character boundaries when it is long. Every
 * token stays within 76 columns, so with its space and ";" the line fits.
 */
static void
compose_param(struct compose_out *o, const char *attr, const char *value,
    int more)
{
	const unsigned char	*u = (const unsigned char *)value;
	char			 tok[COMPOSE_LINE + 1];
	char			 enc[COMPOSE_EW_CHAR];
	size_t			 i, k, n, e, len, size = strlen(value);
	size_t			 total = 0, sect = 0;
	const size_t		 max = COMPOSE_LINE - 2;
	int			 plain = 1;

	for (i = 0; i < size; i++) {
		if (u[i] < 0x20 || u[i] > 0x7e)
			plain = 0;
		total += compose_attrchar(u[i]) ? 1 : 3;
	}
	len = snprintf(tok, sizeof tok, "%s=\"", attr);
	for (i = 0; plain && i < size && len + 3 <= max; i++) {
		if (u[i] == '"' || u[i] == '\\')
			tok[len++] = '\\';
		tok[len++] = u[i];
	}
	if (plain && i == size) {
		tok[len++] = '"';
		compose_token(o, tok, len, more);
		return;
	}
	if (strlen(attr) + strlen("*=utf-8''") + total <= max)
		len = snprintf(tok, sizeof tok, "%s*=utf-8''", attr);
	else
		len = snprintf(tok, sizeof tok, "%s*0*=utf-8''", attr);
	for (i = 0; i < size; i += n) {
		if ((n = utf8_decode(u + i, size - i, NULL)) == 0)
			n = 1;
		for (k = 0, e = 0; k < n; k++) {
			if (compose_attrchar(u[i + k]))
				enc[e++] = u[i + k];
			else
				e += compose_esc(enc + e, '%', u[i + k]);
		}
		if (len + e > max) {
			compose_token(o, tok, len, 1);
			len = snprintf(tok, sizeof tok, "%s*%zu*=", attr,
			    ++sect);
		}
		memcpy(tok + len, enc, e);
		len += e;
	}
	compose_token(o, tok, len, more);
}

/* Return 1 when the body can go as 7bit: short ASCII lines, no NUL or CR. */
static int
compose_body_7bit(const char *s, size_t len)
{
	size_t	 i, col = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n')
			col = 0;
		else if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		else if (s[i] == '\0' || s[i] == '\r' ||
		    (unsigned char)s[i] >= 0x80 || ++col > COMPOSE_LINE)
			return 0;
	}
	return 1;
}

/* Write a 7bit body with LF line ends and a final line end. */
static void
compose_body_copy(struct compose_out *o, const char *s, size_t len)
{
	size_t	 i, start = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') {
			compose_put(o, s + start, i - start);
			start = i + 1;
		}
	}
	compose_put(o, s + start, len - start);
	if (o->col != 0)
		compose_put(o, "\n", 1);
}

/* Return 1 when byte i of a line of n bytes is encoded in QP. */
static int
compose_qp_esc(const unsigned char *line, size_t i, size_t n)
{
	if (line[i] == ' ' || line[i] == '\t')
		return i == n - 1;
	if (i == 0 && n >= 5 && memcmp(line, "From ", 5) == 0)
		return 1;
	return line[i] == '=' || line[i] < 0x20 || line[i] >= 0x7f;
}

/*
 * Write the body quoted-printable (RFC 2045 6.7) with LF line ends: "=",
 * controls (a CR that does not end a line among them), non-ASCII and
 * whitespace at the end of a line are encoded, and lines are cut by soft
 * breaks to 76 columns, never inside a UTF-8 character. The "F" of a line
 * starting with "From " is encoded too (RFC 2049 3 (8)), so that no mbox
 * writer on the way changes it to ">From ".
 */
static void
compose_body_qp(struct compose_out *o, const char *s, size_t len)
{
	const unsigned char	*line = (const unsigned char *)s, *nl;
	const unsigned char	*end = line + len;
	char			 tok[COMPOSE_EW_CHAR];
	size_t			 i, j, k, n, t, col;

	while (line < end) {
		nl = memchr(line, '\n', end - line);
		n = (nl != NULL ? nl : end) - line;
		if (nl != NULL && n > 0 && line[n - 1] == '\r')
			n--;
		for (i = 0, col = 0; i < n; i += k) {
			k = utf8_decode(line + i, n - i, NULL);
			for (j = 0, t = 0; j < k; j++) {
				if (compose_qp_esc(line, i + j, n))
					t += compose_esc(tok + t, '=',
					    line[i + j]);
				else
					tok[t++] = line[i + j];
			}
			if (col + t > COMPOSE_QP_LINE - (i + k < n)) {
				compose_put(o, "=\n", 2);
				col = 0;
			}
			compose_put(o, tok, t);
			col += t;
		}
		compose_put(o, "\n", 1);
		line = nl != NULL ? nl + 1 : end;
	}
}

/* Write one line of base64 for at most 57 bytes. */
static void
compose_b64_line(struct compose_out *o, const unsigned char *p, size_t n)
{
	char	 line[COMPOSE_QP_LINE + 1];
	size_t	 len;

	len = compose_b64(line, p, n);
	line[len++] = '\n';
	compose_put(o, line, len);
}

/* Write n bytes as base64 lines. */
static void
compose_b64_lines(struct compose_out *o, const unsigned char *p, size_t n)
{
	size_t	 off;

	for (off = 0; off < n; off += COMPOSE_B64_IN)
		compose_b64_line(o, p + off, n - off < COMPOSE_B64_IN ?
		    n - off : COMPOSE_B64_IN);
}

/*
 * Stream a file into the message as base64. The buffer holds a whole number
 * of 57-byte input lines, so only the last read can leave a short line.
 */
static int
compose_b64_file(struct compose_out *o, int fd, const char *path,
    long long max, char **cause)
{
	unsigned char	*buf = xmalloc(COMPOSE_READ_SIZE);
	size_t		 have;
	long long	 total = 0;
	ssize_t		 n = 1;

	while (n != 0) {
		for (have = 0; have < COMPOSE_READ_SIZE; have += n) {
			n = read(fd, buf + have, COMPOSE_READ_SIZE - have);
			if (n == -1 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n == -1) {
				xasprintf(cause, "cannot read attachment %s: "
				    "%s", path, strerror(errno));
				free(buf);
				return -1;
			}
			if (n == 0)
				break;
		}
		if (max > 0 && (total += have) > max) {
			xasprintf(cause, "attachment %s grew past the limit "
			    "(attachment_max_bytes %lld) while being read",
			    path, max);
			free(buf);
			return -1;
		}
		compose_b64_lines(o, buf, have);
	}
	free(buf);
	return 0;
}

/* Return the media type for a file name. */
static const char *
compose_type(const char *name)
{
	const char	*ext = strrchr(name, '.');
	size_t		 i;

	if (ext == NULL || ext == name)
		return "application/octet-stream";
	for (i = 0; i < sizeof compose_types / sizeof compose_types[0]; i++)
		if (strcasecmp(ext + 1, compose_types[i].ext) == 0)
			return compose_types[i].type;
	return "application/octet-stream";
}

/* Write one attachment part, its header and its base64 content. */
static int
compose_attachment(struct compose_out *o, const char *path, long long max,
    char **cause)
{
	const char	*name = compose_basename(path);
	char		*base;
	int		 fd, rc;

	if ((fd = compose_open(path, max, cause)) == -1)
		return -1;
	base = xstrndup(name, strcspn(name, "/"));
	compose_hdr(o, "Content-Type");
	compose_token(o, compose_type(base), strlen(compose_type(base)), 1);
	compose_param(o, "name", base, 0);
	compose_put(o, "\n", 1);
	compose_hdr(o, "Content-Disposition");
	compose_token(o, "attachment", 10, 1);
	compose_param(o, "filename", base, 0);
	compose_puts(o, "\nContent-Transfer-Encoding: base64\n\n");
	free(base);
	rc = compose_b64_file(o, fd, path, max, cause);
	close(fd);
	return rc;
}

/* Write the From field: the display name (encoded as needed) and addr. */
static void
compose_from(struct compose_out *o, const char *name, const char *addr)
{
	compose_hdr(o, "From");
	if (name != NULL && *name != '\0') {
		compose_phrase(o, name);
		compose_sep(o, strlen(addr) + 2);
		compose_put(o, "<", 1);
		compose_puts(o, addr);
		compose_put(o, ">", 1);
	} else {
		compose_sep(o, strlen(addr));
		compose_puts(o, addr);
	}
	compose_put(o, "\n", 1);
}

/*
 * Write a From field for name (or NULL) and addr to fd, for a message
 * that came without one (sendmail). Both are checked first.
 */
int
compose_write_from(int fd, const char *name, const char *addr, char **cause)
{
	struct compose_out	*o;
	int			 rc = 0;

	if (compose_check_address(addr, cause) != 0 || (name != NULL &&
	    compose_check_text("display name", name, 0, cause) != 0))
		return -1;
	o = xcalloc(1, sizeof *o);
	o->fd = fd;
	compose_from(o, name, addr);
	compose_flush(o);
	if (o->error != 0) {
		xasprintf(cause, "cannot write message: %s",
		    strerror(o->error));
		errno = o->error;
		rc = -1;
	}
	free(o);
	return rc;
}

/* Write a field of msg-ids (checked), folded between them. */
static void
compose_ids(struct compose_out *o, const char *field, const char *ids)
{
	size_t	 n;

	compose_hdr(o, field);
	for (;;) {
		n = strcspn(ids, " ");
		compose_sep(o, n);
		compose_put(o, ids, n);
		if (ids[n] == '\0')
			break;
		ids += n + 1;
	}
	compose_put(o, "\n", 1);
}

/* Return 1 when s is a media type we write as it is ("type/subtype"). */
static int
compose_type_ok(const char *s)
{
	size_t	 n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789"
	    "!#$&^_.+-");

	return (n > 0 && n < 64 && s[n] == '/' && s[n + 1] != '\0' &&
	    strspn(s + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789"
	    "!#$&^_.+-") == strlen(s + n + 1) && strlen(s + n + 1) < 64);
}

/*
 * Write a part of another message: a message/rfc822 one as it is, with
 * a final line end (7bit or 8bit, as RFC 2046 5.2.1 wants), anything
 * else in base64 under its type and file name.
 */
static void
compose_part(struct compose_out *o, const struct compose_part *p)
{
	const char	*type = p->type != NULL && compose_type_ok(p->type) ?
			    p->type : "application/octet-stream";
	size_t		 off;
	int		 eight = 0;

	if (strcmp(type, "message/rfc822") == 0) {
		for (off = 0; off < p->len && !eight; off++)
			eight = (unsigned char)p->data[off] >= 0x80;
		compose_puts(o, "Content-Type: message/rfc822\n"
		    "Content-Disposition: inline\nContent-Transfer-Encoding: ");
		compose_puts(o, eight ? "8bit\n\n" : "7bit\n\n");
		if (eight)
			o->eightbit = 1;
		compose_put(o, p->data, p->len);
		if (p->len == 0 || p->data[p->len - 1] != '\n')
			compose_put(o, "\n", 1);
		return;
	}
	compose_hdr(o, "Content-Type");
	compose_token(o, type, strlen(type), p->filename != NULL);
	if (p->filename != NULL)
		compose_param(o, "name", p->filename, 0);
	compose_put(o, "\n", 1);
	compose_hdr(o, "Content-Disposition");
	compose_token(o, "attachment", 10, p->filename != NULL);
	if (p->filename != NULL)
		compose_param(o, "filename", p->filename, 0);
	compose_puts(o, "\nContent-Transfer-Encoding: base64\n\n");
	compose_b64_lines(o, (const unsigned char *)p->data, p->len);
}

/* Does the boundary line b occur in the body or a part written as is? */
static int
compose_boundary_taken(const struct compose *c, const char *body,
    size_t len, const char *b)
{
	size_t	 i;

	if (memmem(body, len, b, strlen(b)) != NULL)
		return 1;
	for (i = 0; i < c->nparts; i++)
		if (memmem(c->parts[i].data, c->parts[i].len, b,
		    strlen(b)) != NULL)
			return 1;
	return 0;
}

/* Write the header fields every message has, From to User-Agent. */
static void
compose_header(struct compose_out *o, const struct compose *c,
    const char *msgid)
{
	static const char	*none[] = { "undisclosed-recipients:;", NULL };
	int			 to = c->to != NULL && c->to[0] != NULL;
	int			 cc = c->cc != NULL && c->cc[0] != NULL;

	compose_date(o, c->date);
	compose_from(o, c->from_name, c->from_addr);
	if (to || !cc)
		compose_addrs(o, "To", to ? c->to : none, to ? c->to_names :
		    NULL);
	if (cc)
		compose_addrs(o, "Cc", c->cc, c->cc_names);
	if (c->subject != NULL) {
		compose_hdr(o, "Subject");
		compose_text(o, c->subject);
		compose_put(o, "\n", 1);
	}
	compose_puts(o, "Message-ID: ");
	compose_puts(o, msgid);
	compose_put(o, "\n", 1);
	if (c->in_reply_to != NULL)
		compose_ids(o, "In-Reply-To", c->in_reply_to);
	if (c->references != NULL)
		compose_ids(o, "References", c->references);
	compose_puts(o, "MIME-Version: 1.0\n");
	if (c->user_agent != NULL && *c->user_agent != '\0') {
		compose_hdr(o, "User-Agent");
		compose_text(o, c->user_agent);
		compose_put(o, "\n", 1);
	}
}

/* Write the text body with its Content-Type and transfer encoding. */
static void
compose_body(struct compose_out *o, const char *body, size_t len)
{
	int	 plain = compose_body_7bit(body, len);

	compose_puts(o, "Content-Type: text/plain; charset=utf-8\n");
	compose_puts(o, "Content-Transfer-Encoding: ");
	compose_puts(o, plain ? "7bit\n\n" : "quoted-printable\n\n");
	if (plain)
		compose_body_copy(o, body, len);
	else
		compose_body_qp(o, body, len);
}

/* Write a complete message to fd; return its Message-ID. */
int
compose_write(const struct compose *c, int fd, char **message_id,
    char **cause)
{
	struct compose_out	*o;
	const char		*body = c->body != NULL ? c->body : "";
	size_t			 len = c->body != NULL ? c->body_len : 0;
	size_t			 i;
	char			*id, *hex = NULL, *msgid, boundary[64];
	int			 rc = 0, err;

	*message_id = NULL;
	if (compose_check(c, cause) != 0 || (id = compose_random_hex(cause))
	    == NULL)
		return -1;
	msgid = compose_message_id_at(id, c->from_addr);
	free(id);
	o = xcalloc(1, sizeof *o);
	o->fd = fd;
	compose_header(o, c, msgid);
	if ((c->attach == NULL || c->attach[0] == NULL) && c->nparts == 0)
		compose_body(o, body, len);
	else {
		do {
			free(hex);
			if ((hex = compose_random_hex(cause)) == NULL) {
				rc = -1;
				goto out;
			}
			snprintf(boundary, sizeof boundary, "\n--%s%s",
			    COMPOSE_BOUNDARY, hex);
		} while (compose_boundary_taken(c, body, len, boundary + 1));
		compose_puts(o, "Content-Type: multipart/mixed;\n boundary=\""
		    COMPOSE_BOUNDARY);
		compose_puts(o, hex);
		compose_puts(o, "\"\n\nThis is a multi-part message in MIME "
		    "format.\n");
		compose_puts(o, boundary);
		compose_puts(o, "\n");
		compose_body(o, body, len);
		for (i = 0; c->attach != NULL && c->attach[i] != NULL &&
		    rc == 0; i++) {
			compose_puts(o, boundary);
			compose_puts(o, "\n");
			rc = compose_attachment(o, c->attach[i],
			    c->attachment_max, cause);
		}
		for (i = 0; i < c->nparts && rc == 0; i++) {
			compose_puts(o, boundary);
			compose_puts(o, "\n");
			compose_part(o, &c->parts[i]);
		}
		compose_puts(o, boundary);
		compose_puts(o, "--\n");
	}
	compose_flush(o);
	if (rc == 0 && o->error != 0) {
		xasprintf(cause, "cannot write message: %s",
		    strerror(o->error));
		rc = -1;
	}
out:
	err = o->error;
	if (c->eightbit != NULL && o->eightbit)
		*c->eightbit = 1;
	free(hex);
	free(o);
	if (rc == 0)
		*message_id = msgid;
	else
		free(msgid);
	if (rc != 0 && err != 0)
		errno = err;	/* the caller may tell a full disk */
	return rc;
}

/* A NULL-terminated array of the strings of a JSON array (borrowed). */
static const char **
compose_json_strings(json_t *a)
{
	const char	**v;
	size_t		  i;

	v = xcalloc(json_array_size(a) + 1, sizeof *v);
	for (i = 0; i < json_array_size(a); i++)
		v[i] = json_string_value(json_array_get(a, i));
	return v;
}

/*
 * The display names of a JSON address list (borrowed; a null member is
 * none), or NULL when there are none or not one for each address (a
 * message queued before names were kept has none).
 */
static const char **
compose_json_names(json_t *addrs, json_t *names)
{
	if (!json_is_array(names) || json_array_size(names) !=
	    json_array_size(addrs))
		return NULL;
	return compose_json_strings(names);
}

/*
 * Fill c from a message's JSON form (what send checks and the queue then
 * writes): from_name, from_addr, to, to_names, cc, cc_names, subject,
 * body, attach, attachment_max, in_reply_to, references. Parts of another
 * message (a forward) are the caller's to add. The strings are borrowed from o; compose_json_free
 * releases the arrays.
 */
void
compose_from_json(struct compose *c, json_t *o)
{
	json_t	*body = json_object_get(o, "body");

	memset(c, 0, sizeof *c);
	c->from_name = json_string_value(json_object_get(o, "from_name"));
	c->from_addr = json_string_value(json_object_get(o, "from_addr"));
	c->to = compose_json_strings(json_object_get(o, "to"));
	c->to_names = compose_json_names(json_object_get(o, "to"),
	    json_object_get(o, "to_names"));
	c->cc = compose_json_strings(json_object_get(o, "cc"));
	c->cc_names = compose_json_names(json_object_get(o, "cc"),
	    json_object_get(o, "cc_names"));
	c->attach = compose_json_strings(json_object_get(o, "attach"));
	c->subject = json_string_value(json_object_get(o, "subject"));
	c->body = body != NULL ? json_string_value(body) : "";
	c->body_len = body != NULL ? json_string_length(body) : 0;
	c->attachment_max = json_integer_value(json_object_get(o,
	    "attachment_max"));
	c->user_agent = "mailctl/" PACKAGE_VERSION;
	c->in_reply_to = json_string_value(json_object_get(o, "in_reply_to"));
	c->references = json_string_value(json_object_get(o, "references"));
}

/* Release what compose_from_json allocated. */
void
compose_json_free(struct compose *c)
{
	free(c->to);
	free(c->to_names);
	free(c->cc);
	free(c->cc_names);
	free(c->attach);
}
