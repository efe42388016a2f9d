/*
 * Fuzz target: the POP3 wire format (daemon/pop3-wire.c) on bytes from a
 * server. The body decoder runs twice, once on the whole input and once
 * on pieces split where the input's first byte says, each into space
 * handed out a few bytes at a time; both must agree with each other and
 * with a plain line-by-line decoder written here from RFC 1939 (a line
 * "." ends, a leading dot is stuffing, CRLF is a line end, a lone CR is
 * content, the last CR of an unfinished line waits). The line parsers
 * (listing, STAT, UIDL n, CAPA, greeting) get every line of the input and
 * their answers are checked for bounds.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/pop3-wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Where decoded bytes go: a buffer, handed out step bytes at a time. */
struct sink {
	char	*buf;
	size_t	 size;		/* of buf */
	size_t	 given;		/* handed out so far */
	size_t	 step;
	unsigned calls;
	unsigned fail_at;	/* fail that call to more(); 0: never */
};

static int
sink_more(struct pop3_body *b, void *arg)
{
	struct sink	*k = arg;
	size_t		 n;

	if (++k->calls == k->fail_at)
		return -1;
	n = k->size - k->given < k->step ? k->size - k->given : k->step;
	b->dst = k->buf + k->given;
	b->room = n;
	k->given += n;
	return 0;
}

/* Bytes the decoder put: handed out, less what is still free. */
static size_t
sink_used(const struct sink *k, const struct pop3_body *b)
{
	return k->given - b->room;
}

/*
 * The plain decoder: decode p[0..len) into out; return the bytes decoded,
 * *used the bytes consumed, *end whether the "." line was met.
 */
static size_t
plain_decode(const char *p, size_t len, char *out, size_t *used, int *end)
{
	const char	*line, *nl;
	size_t		 n = 0, ll;

	*end = 0;
	line = p;
	while (line < p + len) {
		nl = memchr(line, '\n', p + len - line);
		ll = (nl != NULL ? nl : p + len) - line;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;		/* CRLF, or a CR that may start one */
		if (nl != NULL && ll == 1 && line[0] == '.') {
			*end = 1;
			*used = nl + 1 - p;
			return n;
		}
		if (ll > 0 && line[0] == '.') {
			line++;
			ll--;
		}
		memcpy(out + n, line, ll);
		n += ll;
		if (nl == NULL)
			break;
		out[n++] = '\n';
		line = nl + 1;
	}
	*used = len;
	return n;
}

/* Decode p[0..len) with b, in pieces cut by the bytes of cuts. */
static ssize_t
split_decode(const char *p, size_t len, const uint8_t *cuts, size_t ncuts,
    struct pop3_body *b, int *end)
{
	size_t	 off = 0, piece, i = 0;
	ssize_t	 n;

	*end = 0;
	while (off < len && !*end) {
		piece = ncuts > 0 ? (size_t)(cuts[i++ % ncuts] % 17 + 1) : len;
		if (piece > len - off)
			piece = len - off;
		if ((n = pop3_body_decode(b, p + off, piece, end)) < 0)
			return -1;
		if ((size_t)n != piece && !*end)
			abort();	/* all of it unless it ended */
		off += n;
	}
	return off;
}

/* Run the line parsers over each line and check what they say. */
static void
fuzz_lines(const char *p, size_t len)
{
	char		 line[512], *arg;
	const char	*nl, *stamp;
	unsigned long	 num;
	size_t		 ll, stamplen;

	while (len > 0) {
		nl = memchr(p, '\n', len);
		ll = nl != NULL ? (size_t)(nl - p) : len;
		if (ll < sizeof line && memchr(p, '\0', ll) == NULL) {
			memcpy(line, p, ll);
			line[ll] = '\0';
			(void)pop3_stat_parse(line, &num);
			(void)pop3_capa_parse(line);
			stamplen = pop3_apop_stamp(line, ll, &stamp);
			if (stamplen > 0 && (stamp < line ||
			    stamp + stamplen > line + ll || stamp[0] != '<' ||
			    stamp[stamplen - 1] != '>' ||
			    stamplen > POP3_STAMP_MAX))
				abort();
			if (pop3_listing_parse(line, &num, &arg) == 0 &&
			    (arg < line || arg > line + ll))
				abort();
			memcpy(line, p, ll);
			line[ll] = '\0';
			if (pop3_uidl_one_parse(line, &num, &arg) == 0 &&
			    (strlen(arg) == 0 || strlen(arg) > POP3_UIDL_MAX ||
			    !pop3_uidl_valid(arg, strlen(arg))))
				abort();
		}
		if (nl == NULL)
			break;
		len -= ll + 1;
		p = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_body	 b1, b2;
	struct sink		 k1, k2;
	const char		*p;
	char			*want;
	size_t			 len, wantlen, used;
	ssize_t			 n1, n2;
	int			 end1, end2, wantend;
	uint8_t			 seed;

	if (size == 0)
		return 0;
	seed = data[0];
	p = (const char *)data + 1;
	len = size - 1;
	/* Decoded, the body is never longer than the input. */
	want = malloc(len + 1);
	memset(&k1, 0, sizeof k1);
	memset(&k2, 0, sizeof k2);
	k1.buf = malloc(len + 1);
	k2.buf = malloc(len + 1);
	k1.size = k2.size = len + 1;
	k1.step = seed % 7 + 1;
	k2.step = seed % 61 + 1;

	wantlen = plain_decode(p, len, want, &used, &wantend);

	pop3_body_init(&b1, sink_more, &k1);
	n1 = pop3_body_decode(&b1, p, len, &end1);
	pop3_body_init(&b2, sink_more, &k2);
	n2 = split_decode(p, len, data, size < 8 ? size : 8, &b2, &end2);
	if (n1 < 0 || n2 < 0 || (size_t)n1 != used || (size_t)n2 != used ||
	    end1 != wantend || end2 != wantend ||
	    sink_used(&k1, &b1) != wantlen || sink_used(&k2, &b2) != wantlen ||
	    memcmp(k1.buf, want, wantlen) != 0 ||
	    memcmp(k2.buf, want, wantlen) != 0)
		abort();

	/* A sink that gives up: the decoder says so and stops. */
	if (wantlen > 0) {
		k1.given = k1.calls = 0;
		k1.step = 1;	/* a call to more() for each byte */
		k1.fail_at = seed % (wantlen < 200 ? wantlen : 200) + 1;
		pop3_body_init(&b1, sink_more, &k1);
		if (pop3_body_decode(&b1, p, len, &end1) != -1)
			abort();
	}

	fuzz_lines(p, len);
	free(want);
	free(k1.buf);
	free(k2.buf);
	return 0;
}
