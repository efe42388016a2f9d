/*
 * Fuzz target: CRLF to LF (daemon/crlf.c) on bytes as a server sends
 * them. crlf_strip (vectors where the processor has them) and
 * crlf_strip_plain must agree with each other and with a byte-at-a-time
 * model (tests/unit/crlf-model.h), into a buffer of exactly the input's
 * size; and the input cut into pieces where its first byte says, each
 * piece's last CR decided by the next (as imap_put does), must come out
 * as the whole.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/crlf.h"
#include "tests/unit/crlf-model.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*src = (const char *)data;
	char		*want, *got, *cut;
	size_t		 wn, n, used, k, step;
	int		 wc, c;

	want = malloc(size + 1);
	got = malloc(size ? size : 1);
	cut = malloc(size + 1);
	wn = crlf_model(want, src, size, &wc);
	n = crlf_strip(got, src, size, &c);
	if (n != wn || c != wc || memcmp(got, want, wn) != 0)
		abort();
	n = crlf_strip_plain(got, src, size, &c);
	if (n != wn || c != wc || memcmp(got, want, wn) != 0)
		abort();
	/* In pieces of 1 to 256 bytes. */
	step = size > 0 ? (size_t)data[0] + 1 : 1;
	for (used = 0, c = 0, n = 0; n < size; n += k) {
		k = size - n < step ? size - n : step;
		if (c && src[n] != '\n')
			cut[used++] = '\r';
		used += crlf_strip(cut + used, src + n, k, &c);
	}
	if (wc)
		want[wn++] = '\r';
	if (c)
		cut[used++] = '\r';
	if (used != wn || memcmp(cut, want, wn) != 0)
		abort();
	free(want);
	free(got);
	free(cut);
	return 0;
}
