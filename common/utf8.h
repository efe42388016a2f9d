/*
 * UTF-8 (RFC 3629), one character at a time: decoding with every check
 * (no overlong forms, no surrogates, nothing past U+10FFFF, no truncated
 * sequence) and encoding. Shared by the MIME reader, the composer and the
 * filter's case folding; inline because the readers call it per character.
 */
#ifndef MAILCTL_UTF8_H
#define MAILCTL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Return the length of the valid character at p (left bytes readable),
 * with its code point in *cp when cp is not NULL; 0 when it is invalid.
 * NUL counts as a character.
 */
static inline size_t
utf8_decode(const unsigned char *p, size_t left, uint32_t *cp)
{
	uint32_t	 c;
	size_t		 n, i;

	if (left == 0)
		return 0;
	if (p[0] < 0x80) {
		if (cp != NULL)
			*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (cp != NULL)
		*cp = c;
	return n;
}

/* Write the code point c (a valid one) as UTF-8 at o; return its length. */
static inline size_t
utf8_encode(uint32_t c, char *o)
{
	if (c < 0x80) {
		o[0] = c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = 0xc0 | (c >> 6);
		o[1] = 0x80 | (c & 0x3f);
		return 2;
	}
	if (c < 0x10000) {
		o[0] = 0xe0 | (c >> 12);
		o[1] = 0x80 | ((c >> 6) & 0x3f);
		o[2] = 0x80 | (c & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | (c >> 18);
	o[1] = 0x80 | ((c >> 12) & 0x3f);
	o[2] = 0x80 | ((c >> 6) & 0x3f);
	o[3] = 0x80 | (c & 0x3f);
	return 4;
}

#endif
