/*
 * Decoding for the MIME reader: the growing buffer every decoder appends
 * to, the transfer encodings (base64 and quoted-printable, RFC 2045
 * section 6, which are also the "B" and "Q" of RFC 2047 words) and the
 * conversion of text in a charset to UTF-8 (through iconv).
 *
 * Bad input decodes as far as it can: base64 skips characters outside its
 * alphabet, a '=' in quoted-printable that escapes nothing stays, text in
 * an unknown charset is read as UTF-8 or windows-1252, and what
 * mime_to_utf8() and mime_utf8_fix() append is always valid UTF-8 without
 * NUL.
 */
#include "autoconf.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "common/xmalloc.h"
#include "mime-int.h"

/* Make room for n more bytes and the terminating NUL. */
void
mime_buf_grow(struct mime_buf *b, size_t n)
{
	if (b->len + n + 1 > b->size) {
		while (b->len + n + 1 > b->size)
			b->size = b->size ? b->size * 2 : 64;
		b->d = xreallocarray(b->d, 1, b->size);
	}
}

/* Append n bytes to a growing buffer. */
void
mime_buf_add(struct mime_buf *b, const void *p, size_t n)
{
	mime_buf_grow(b, n);
	memcpy(b->d + b->len, p, n);
	b->len += n;
	b->d[b->len] = '\0';
}

/* Return the buffer as a string (never NULL) and give up ownership. */
char *
mime_buf_str(struct mime_buf *b)
{
	char	*s = b->d;

	if (s == NULL)
		s = xstrdup("");
	b->d = NULL;
	b->len = b->size = 0;
	return s;
}

/* Return the value of a hex digit, or -1. */
int
mime_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Return the length of a valid UTF-8 character at p other than NUL, or 0. */
static size_t
mime_utf8_seq(const unsigned char *p, size_t left)
{
	return left > 0 && p[0] == 0 ? 0 : utf8_decode(p, left, NULL);
}

/* Return 1 when len bytes are valid UTF-8 without NUL. */
int
mime_utf8_valid(const char *s, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len; i += n)
		if ((n = mime_utf8_seq((const unsigned char *)s + i,
		    len - i)) == 0)
			return 0;
	return 1;
}

/*
 * Return how many bytes at p are ASCII without NUL, eight at a time
 * (mail text is mostly ASCII: this is the common path of UTF-8 checks).
 */
static size_t
mime_ascii_run(const char *p, size_t len)
{
	const uint64_t	 high = 0x8080808080808080ULL;
	const uint64_t	 ones = 0x0101010101010101ULL;
	uint64_t	 w;
	size_t		 i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, sizeof w);
		/* A byte >= 0x80, or a zero byte (w - ones borrows). */
		if ((w & high) != 0 || ((w - ones) & ~w & high) != 0)
			break;
	}
	while (i < len && (unsigned int)(unsigned char)p[i] - 1 < 0x7f)
		i++;
	return i;
}

/* Append len bytes to b, each invalid byte or NUL as U+FFFD. */
void
mime_utf8_fix(struct mime_buf *b, const char *s, size_t len)
{
	size_t	 i = 0, run, n;

	while (i < len) {
		/* Copy the longest valid run at once. */
		for (run = i; run < len; run += n) {
			run += mime_ascii_run(s + run, len - run);
			if (run == len || (n = mime_utf8_seq(
			    (const unsigned char *)s + run, len - run)) == 0)
				break;
		}
		mime_buf_add(b, s + i, run - i);
		if (run == len)
			break;
		mime_buf_add(b, "\xef\xbf\xbd", 3);
		i = run + 1;
	}
}

/*
 * The code points of windows-1252 bytes 0x80-0x9f (WHATWG Encoding
 * Standard); the other bytes are the ISO-8859-1 code points.
 */
static const uint16_t mime_w1252_high[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

/*
 * Append windows-1252 bytes to b as UTF-8 (NUL as U+FFFD). With mixed,
 * valid UTF-8 sequences are kept as they are: text that is mostly UTF-8
 * with a stray 8-bit byte (a header pasted together) reads right.
 */
static void
mime_w1252(struct mime_buf *b, const char *s, size_t len, int mixed)
{
	char		 o[4];
	size_t		 i = 0, run;
	uint32_t	 cp;
	unsigned char	 c;

	while (i < len) {
		if ((run = mime_ascii_run(s + i, len - i)) > 0 || (mixed &&
		    (run = mime_utf8_seq((const unsigned char *)s + i,
		    len - i)) > 1)) {
			mime_buf_add(b, s + i, run);
			i += run;
			continue;
		}
		c = s[i++];
		if (c == 0)
			cp = 0xfffd;
		else if (c >= 0x80 && c < 0xa0)
			cp = mime_w1252_high[c - 0x80];
		else
			cp = c;
		mime_buf_add(b, o, utf8_encode(cp, o));
	}
}

/* Return 1 for the names meaning ASCII or UTF-8 (or no charset at all). */
int
mime_charset_plain(const char *cs)
{
	return (cs == NULL || *cs == '\0' || strcasecmp(cs, "us-ascii") == 0 ||
	    strcasecmp(cs, "ascii") == 0 || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0);
}

/*
 * Return 1 for the labels that every browser and mail reader decodes as
 * windows-1252 (WHATWG Encoding Standard): ISO-8859-1 and its aliases.
 * US-ASCII is one of them too, but plain text so labelled is often UTF-8:
 * mime_to_utf8() tries that first.
 */
static int
mime_charset_w1252(const char *cs)
{
	static const char *const names[] = { "iso-8859-1", "iso8859-1",
	    "iso_8859-1", "iso_8859-1:1987", "latin1", "l1", "cp819",
	    "ibm819", "iso-ir-100", "csisolatin1", "windows-1252", "cp1252",
	    "x-cp1252", NULL };
	size_t	 i;

	for (i = 0; cs != NULL && names[i] != NULL; i++)
		if (strcasecmp(cs, names[i]) == 0)
			return 1;
	return 0;
}

/* Return 1 for the names meaning UTF-8. */
static int
mime_charset_utf8(const char *cs)
{
	return (cs != NULL && (strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0));
}

/* Open an iconv descriptor to UTF-8, mapping a few names glibc lacks. */
static iconv_t
mime_iconv_open(const char *cs)
{
	if (strcasecmp(cs, "iso-8859-8-i") == 0)
		cs = "ISO-8859-8";
	else if (strcasecmp(cs, "ks_c_5601-1987") == 0)
		cs = "CP949";
	else if (strcasecmp(cs, "x-sjis") == 0)
		cs = "SHIFT_JIS";
	return iconv_open("UTF-8", cs);
}

/* Return 1 when text in this charset can be converted. */
int
mime_charset_known(const char *cs)
{
	iconv_t	 cd;

	if (mime_charset_plain(cs) || mime_charset_w1252(cs))
		return 1;
	if ((cd = mime_iconv_open(cs)) == (iconv_t)-1)
		return 0;
	iconv_close(cd);
	return 1;
}

/* Convert len bytes with an open iconv descriptor; refused bytes: U+FFFD. */
static void
mime_iconv(struct mime_buf *b, iconv_t cd, const char *s, size_t len)
{
	struct mime_buf	 tmp = { NULL, 0, 0 };
	char		*in = (char *)s, *out, chunk[4096];
	size_t		 inleft = len, outleft, r;

	for (;;) {
		out = chunk;
		outleft = sizeof chunk;
		if (inleft == 0)
			r = iconv(cd, NULL, NULL, &out, &outleft);
		else
			r = iconv(cd, &in, &inleft, &out, &outleft);
		mime_buf_add(&tmp, chunk, out - chunk);
		if (r != (size_t)-1) {
			if (inleft == 0 && out == chunk)
				break;
			continue;
		}
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL: replace one byte and go on. */
		mime_buf_add(&tmp, "\xef\xbf\xbd", 3);
		if (inleft == 0)
			break;
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	mime_utf8_fix(b, tmp.d ? tmp.d : "", tmp.len);
	free(tmp.d);
}

/*
 * Append text whose charset is not known for sure: UTF-8 when it is valid
 * UTF-8, else in the fallback charset fb when that is one iconv knows
 * (the charset a message declares for itself), else its valid UTF-8
 * kept and its other bytes read as windows-1252, which maps every byte.
 */
void
mime_text_guess(struct mime_buf *b, const char *s, size_t len,
    const char *fb)
{
	iconv_t	 cd;

	if (mime_utf8_valid(s, len)) {
		mime_buf_add(b, s, len);
		return;
	}
	if (fb != NULL && !mime_charset_plain(fb) && !mime_charset_w1252(fb) &&
	    (cd = mime_iconv_open(fb)) != (iconv_t)-1) {
		mime_iconv(b, cd, s, len);
		iconv_close(cd);
		return;
	}
	mime_w1252(b, s, len, 1);
}

/*
 * Append len bytes in charset cs to b as valid UTF-8. ISO-8859-1 and
 * windows-1252 are read as windows-1252; no charset, US-ASCII and a
 * charset iconv does not know as mime_text_guess() does with fb. Bytes
 * invalid in a known charset become U+FFFD.
 */
void
mime_to_utf8(struct mime_buf *b, const char *cs, const char *s, size_t len,
    const char *fb)
{
	iconv_t		 cd;

	if (mime_charset_utf8(cs))
		mime_utf8_fix(b, s, len);
	else if (mime_charset_w1252(cs))
		mime_w1252(b, s, len, 0);
	else if (mime_charset_plain(cs) || (cd = mime_iconv_open(cs)) ==
	    (iconv_t)-1)
		mime_text_guess(b, s, len, fb);
	else {
		mime_iconv(b, cd, s, len);
		iconv_close(cd);
	}
}

/* Emit what a partial base64 quantum of n sextets holds. */
static void
mime_base64_tail(struct mime_buf *b, unsigned int acc, size_t n)
{
	if (n == 2)
		mime_buf_addc(b, acc >> 4 & 0xff);
	else if (n == 3) {
		mime_buf_addc(b, acc >> 10 & 0xff);
		mime_buf_addc(b, acc >> 2 & 0xff);
	}
}

static signed char	mime_b64_value[256];
static pthread_once_t	mime_b64_once = PTHREAD_ONCE_INIT;

/* Fill the table of base64 digit values (-1: not a digit). */
static void
mime_b64_init(void)
{
	static const char	 alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i;

	memset(mime_b64_value, -1, sizeof mime_b64_value);
	for (i = 0; i < 64; i++)
		mime_b64_value[(unsigned char)alpha[i]] = i;
}

/*
 * Decode base64, skipping characters outside the alphabet. A table, as a
 * search of the alphabet for each byte was most of the decoding time.
 */
void
mime_base64(struct mime_buf *b, const char *s, size_t len)
{
	unsigned int		 acc = 0;
	size_t			 i, n = 0;
	int			 v;

	pthread_once(&mime_b64_once, mime_b64_init);
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			/* Padding ends a quantum; keep what it held. */
			mime_base64_tail(b, acc, n);
			acc = n = 0;
			continue;
		}
		if ((v = mime_b64_value[(unsigned char)s[i]]) < 0)
			continue;
		acc = acc << 6 | (unsigned int)v;
		if (++n == 4) {
			mime_buf_addc(b, acc >> 16 & 0xff);
			mime_buf_addc(b, acc >> 8 & 0xff);
			mime_buf_addc(b, acc & 0xff);
			acc = n = 0;
		}
	}
	mime_base64_tail(b, acc, n);
}

/*
 * Return how many bytes mime_base64() would decode from s without
 * decoding them (an attachment's size for a listing).
 */
size_t
mime_base64_size(const char *s, size_t len)
{
	static const size_t	 tail[4] = { 0, 0, 1, 2 };
	size_t			 i, n = 0, size = 0;

	pthread_once(&mime_b64_once, mime_b64_init);
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			size += tail[n];
			n = 0;
		} else if (mime_b64_value[(unsigned char)s[i]] >= 0 &&
		    ++n == 4) {
			size += 3;
			n = 0;
		}
	}
	return size + tail[n];
}

/*
 * Return 0 when text labelled base64 is plainly not base64: more than one
 * character in twenty (not counting line breaks) outside the alphabet and
 * padding, a space between two characters of a line counting as one. A
 * stray character here and there, and one alone in a short part, is
 * decoded around (RFC 2045 section 6.8: they are to be ignored).
 */
int
mime_base64_valid(const char *s, size_t len)
{
	size_t	 i, bad = 0, total = 0;
	int	 c;

	pthread_once(&mime_b64_once, mime_b64_init);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\r' || c == '\n')
			continue;
		total++;
		if (c == ' ' || c == '\t') {
			if (i > 0 && i + 1 < len && s[i - 1] != '\n' &&
			    s[i + 1] != '\r' && s[i + 1] != '\n' &&
			    s[i + 1] != ' ' && s[i + 1] != '\t')
				bad++;
		} else if (c != '=' && mime_b64_value[c] < 0)
			bad++;
	}
	return bad <= 1 || bad * 20 <= total;
}

/*
 * Return how many '=' of quoted-printable text escape nothing: neither
 * two hex digits nor a line break (after optional white space) follow.
 */
size_t
mime_qp_bad(const char *s, size_t len)
{
	const char	*p = s, *end = s + len;
	size_t		 bad = 0;

	while ((p = memchr(p, '=', end - p)) != NULL) {
		p++;
		if (end - p >= 2 && mime_hex(p[0]) >= 0 && mime_hex(p[1]) >= 0)
			continue;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p != '\r' && *p != '\n')
			bad++;
	}
	return bad;
}

/*
 * Decode quoted-printable; a '=' not followed by two hex digits or a line
 * break is kept as it is. With q (RFC 2047 "Q"), '_' is a space.
 */
void
mime_qp(struct mime_buf *b, const char *s, size_t len, int q)
{
	size_t	 i = 0, j;

	while (i < len) {
		if (q && s[i] == '_') {
			mime_buf_addc(b, ' ');
			i++;
			continue;
		}
		if (s[i] != '=') {
			mime_buf_addc(b, s[i++]);
			continue;
		}
		if (i + 2 < len && mime_hex(s[i + 1]) >= 0 &&
		    mime_hex(s[i + 2]) >= 0) {
			mime_buf_addc(b, mime_hex(s[i + 1]) << 4 |
			    mime_hex(s[i + 2]));
			i += 3;
			continue;
		}
		for (j = i + 1; j < len && (s[j] == ' ' || s[j] == '\t'); j++)
			;
		if (j == len)
			i = len;
		else if (s[j] == '\n')
			i = j + 1;
		else if (s[j] == '\r')
			i = (j + 1 < len && s[j + 1] == '\n') ? j + 2 : j + 1;
		else
			mime_buf_addc(b, s[i++]);
	}
}
