/*
 * Fuzz target: the SMTP wire format (daemon/smtp-wire.c) as the session
 * uses it on bytes from a server: reply lines and EHLO keywords; and the
 * DATA encoder on any message, split anywhere, checked against its
 * invariants: the encoded message never ends early (no "CRLF.CRLF"
 * before the end: nothing can be smuggled after it), has only CRLF line
 * ends, and decodes back to the input.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/smtp-wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Feed the input as reply lines (split at LF), as smtp.c does. */
static void
fuzz_replies(const char *p, size_t size, int enhanced)
{
	struct smtp_reply	 r;
	struct smtp_ext		 e;
	const char		*nl, *text, *why;
	size_t			 len, textlen;

	smtp_reply_reset(&r);
	memset(&e, 0, sizeof e);
	while (size > 0) {
		nl = memchr(p, '\n', size);
		len = nl != NULL ? (size_t)(nl - p) : size;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len <= SMTP_LINE_MAX) {
			switch (smtp_reply_line(&r, p, len, enhanced, &text,
			    &textlen, &why)) {
			case SMTP_REPLY_BAD:
				smtp_reply_reset(&r);
				break;
			case SMTP_REPLY_MORE:
				smtp_ext_line(&e, text, textlen);
				break;
			case SMTP_REPLY_DONE:
				if (r.textlen >= sizeof r.text ||
				    strlen(r.text) != r.textlen ||
				    r.code < 200 || r.code > 559)
					abort();
				smtp_reply_reset(&r);
				break;
			}
		}
		if (nl == NULL)
			break;
		size -= nl - p + 1;
		p = nl + 1;
	}
	if (strlen(e.mechs) >= sizeof e.mechs)
		abort();
}

/* What the encoder must produce before the final ".CRLF", unstuffed. */
static size_t
fuzz_normalize(const char *in, size_t len, char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	if (len > 0 && in[len - 1] != '\n') {
		if (in[len - 1] != '\r')
			out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* Encode the input in two chunks split at cut; check the invariants. */
static void
fuzz_stuff(const char *in, size_t len, size_t cut)
{
	struct smtp_stuff	 st;
	char			*enc, *norm, *dec;
	size_t			 n, nlen, i, d = 0, bol = 1;

	enc = malloc(SMTP_STUFF_MAX(len) + SMTP_STUFF_END_MAX + 1);
	norm = malloc(2 * len + 3);
	dec = malloc(SMTP_STUFF_MAX(len) + SMTP_STUFF_END_MAX + 1);
	if (enc == NULL || norm == NULL || dec == NULL)
		abort();
	smtp_stuff_init(&st);
	n = smtp_stuff(&st, in, cut, enc);
	n += smtp_stuff(&st, in + cut, len - cut, enc + n);
	n += smtp_stuff_end(&st, enc + n);
	if (n < 3 || memcmp(enc + n - 3, ".\r\n", 3) != 0)
		abort();
	for (i = 0; i < n; i++) {
		if (enc[i] == '\n' && (i == 0 || enc[i - 1] != '\r'))
			abort();	/* a bare LF */
		if (bol && enc[i] == '.' && i + 3 < n && enc[i + 1] == '\r' &&
		    enc[i + 2] == '\n')
			abort();	/* the message would end here */
		if (bol && enc[i] == '.' && i + 3 < n)
			i++;		/* unstuff */
		dec[d++] = enc[i];
		bol = enc[i] == '\n';
	}
	d -= 3;				/* the final ".CRLF" */
	nlen = fuzz_normalize(in, len, norm);
	if (d != nlen || memcmp(dec, norm, d) != 0)
		abort();
	free(enc);
	free(norm);
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data;

	if (size < 1)
		return 0;
	fuzz_replies(p + 1, size - 1, data[0] & 1);
	fuzz_stuff(p + 1, size - 1, data[0] % size);
	return 0;
}
