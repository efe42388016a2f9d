/*
 * Unit tests of CRLF to LF (daemon/crlf.c): crlf_strip (vectors where the
 * processor has them) and crlf_strip_plain against a byte-at-a-time model
 * (crlf-model.h), on fixed cases around the 64-byte vector edges and on
 * random buffers; and a message cut into random pieces, each piece's last
 * CR decided by the next piece (as imap_put does), against the whole.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/crlf.h"
#include "crlf-model.h"
#include "tap.h"

/* Both implementations on src, each into a buffer of exactly n bytes (so
 * that a sanitizer sees a write past it); 1 when both agree with the
 * model. */
static int
same(const char *src, size_t n)
{
	char	*want = malloc(n + 1), *got = malloc(n ? n : 1);
	size_t	 wn, gn, pn;
	int	 wc, gc, pc, good;

	wn = crlf_model(want, src, n, &wc);
	gn = crlf_strip(got, src, n, &gc);
	good = gn == wn && gc == wc && memcmp(got, want, wn) == 0;
	pn = crlf_strip_plain(got, src, n, &pc);
	good = good && pn == wn && pc == wc && memcmp(got, want, wn) == 0;
	free(want);
	free(got);
	return good;
}

/* Random bytes, mostly line ends and letters, a few of everything. */
static void
fill(char *buf, size_t n)
{
	static const char	 alphabet[] = "\r\n\r\nab\r";
	size_t			 i;

	for (i = 0; i < n; i++)
		buf[i] = rand() % 8 == 0 ? (char)(rand() % 256) :
		    alphabet[rand() % (sizeof alphabet - 1)];
}

/* A message put through in pieces, the way imap_put carries a last CR. */
static size_t
pieces(char *dst, const char *src, size_t n)
{
	size_t	 used = 0, k;
	int	 cr = 0;

	while (n > 0) {
		k = 1 + (size_t)rand() % (n < 200 ? n : 200);
		if (cr && src[0] != '\n')
			dst[used++] = '\r';
		used += crlf_strip(dst + used, src, k, &cr);
		src += k;
		n -= k;
	}
	if (cr)
		dst[used++] = '\r';	/* the message ended on it */
	return used;
}

int
main(void)
{
	static const char *fixed[] = { "", "a", "\r", "\n", "\r\n", "\n\r",
	    "\r\r", "\r\r\n", "a\r\nb\r\n", "a\rb", "\r\n\r\n\r", "\r\0\n" };
	char		 buf[4096], whole[4096], cut[4096];
	size_t		 i, n, off, bad = 0, wn, cn;
	int		 cr;

	srand(20261204);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	printf("# vectors (AVX-512 VBMI2) on this processor: %s\n",
	    __builtin_cpu_supports("avx512vbmi2") ? "yes" : "no");
#endif
	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		ok(same(fixed[i], strlen(fixed[i])), "fixed case %zu", i);
	ok(same("\r\0\n", 3), "a NUL between CR and LF");

	/* A CR at each place around one and two 64-byte vectors, an LF or
	 * not after it. */
	for (n = 60; n <= 135; n++)
		for (off = 0; off < n; off++) {
			memset(buf, 'x', n);
			buf[off] = '\r';
			if (off + 1 < n && off % 2 == 0)
				buf[off + 1] = '\n';
			bad += !same(buf, n);
		}
	ok(bad == 0, "a CR at every place of 60 to 135 bytes (%zu wrong)",
	    bad);

	for (i = 0, bad = 0; i < 20000; i++) {
		n = (size_t)rand() % 700;
		fill(buf, n);
		bad += !same(buf, n);
	}
	ok(bad == 0, "20,000 random buffers (%zu wrong)", bad);

	/* No CR at all and nothing but CRLF, in long runs. */
	memset(buf, 'q', sizeof buf);
	bad = !same(buf, sizeof buf);
	for (i = 0; i < sizeof buf; i += 2) {
		buf[i] = '\r';
		buf[i + 1] = '\n';
	}
	n = crlf_strip(whole, buf, sizeof buf, &cr);
	ok(!bad && same(buf, sizeof buf) && n == sizeof buf / 2 &&
	    whole[0] == '\n' && whole[n - 1] == '\n', "long runs");

	for (i = 0, bad = 0; i < 2000; i++) {
		n = 1 + (size_t)rand() % sizeof buf;
		fill(buf, n);
		wn = crlf_model(whole, buf, n, &cr);
		if (cr)
			whole[wn++] = '\r';
		cn = pieces(cut, buf, n);
		bad += cn != wn || memcmp(cut, whole, wn) != 0;
	}
	ok(bad == 0, "2,000 messages cut into random pieces (%zu wrong)", bad);
	return tap_done();
}
