/*
 * The model of CRLF to LF that tests/unit/test-crlf.c and fuzz/fuzz-crlf.c
 * check daemon/crlf.c against: one byte at a time, the way RFC 5322's
 * line ends read (a CR before an LF goes, any other CR stays; a last CR
 * waits for the next byte).
 */
#ifndef MAILCTL_CRLF_MODEL_H
#define MAILCTL_CRLF_MODEL_H

#include <stddef.h>

static size_t
crlf_model(char *dst, const char *src, size_t n, int *cr_end)
{
	size_t	 i, used = 0;

	*cr_end = 0;
	for (i = 0; i < n; i++) {
		if (src[i] == '\r' && i + 1 == n)
			*cr_end = 1;
		else if (!(src[i] == '\r' && src[i + 1] == '\n'))
			dst[used++] = src[i];
	}
	return used;
}

#endif
