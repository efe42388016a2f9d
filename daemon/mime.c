/*
 * Reading MIME messages: the entity tree (RFC 2045, 2046) and what mime.h
 * offers on it: the top-level header, the body text, the attachments and
 * safe names to save them under. The rest of the reader has files of its
 * own (mime-int.h lists them): header fields, parameters and encoded words
 * in mime-header.c, transfer encodings and charsets in mime-decode.c, HTML
 * in mime-html.c, dates in mime-date.c.
 *
 * Mail is hostile and often broken, so nothing in the reader fails on
 * content: a line that is not a header ends the header block (as Python's
 * email package does), a boundary never closed ends at the end of data,
 * bad base64 or quoted-printable decodes what it can, an unknown charset
 * keeps the bytes, and every text handed out is made valid UTF-8. What a
 * peer controls is bounded: the message size, the nesting depth, the
 * number of parts, of headers and of parameters.
 *
 * mime_parse() copies the message once, mime_parse_inplace() reads it where
 * it is; leaves keep pointers into the text and are decoded only when
 * asked for.
 */
#include "autoconf.h"

#include <sys/mman.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "mime.h"
#include "mime-int.h"

#define MIME_DROP_CHUNK		(1024 * 1024)	/* pages given back at once */
#define MIME_MAX_DECL		64	/* nested boundaries kept per part */
#define MIME_MAX_ENTITIES	(2 * MIME_MAX_PARTS)	/* leaves and containers */
#define MIME_MAX_WARNINGS	20
#define MIME_SNIFF		(64 * 1024)	/* bytes checked for a label */
#define MIME_SNIFF_B64		(4 * 1024)	/* the same for base64 */

struct mime_part {
	char		*type;		/* lowercased "type/subtype" */
	char		*charset;	/* lowercased, or NULL */
	char		*cte;		/* lowercased, or NULL */
	char		*disp;		/* lowercased disposition, or NULL */
	char		*filename;	/* decoded UTF-8, or NULL */
	const char	*body;		/* borrowed from mime_msg.buf */
	size_t		 bodylen;
	int		 asis;		/* labelled base64, is not: as it is */
	int		 flowed;	/* MIME_FLOWED, MIME_DELSP */
};

struct mime_msg {
	char		*buf;
	size_t		 len;
	int		 owned;		/* buf is ours to free */
	int		 drop;		/* buf is a file mapping (MIME_DROP) */
	const char	*dropped;	/* pages below were given back */
	struct mime_hdr	*hdrs;		/* the top-level header */
	size_t		 nhdrs;
	struct mime_part *parts;	/* leaves, in order */
	size_t		 nparts;
	size_t		 nentities;	/* every entity seen, for the bound */
	const char	*stop;		/* where a bound stopped the walk */
	char		**warn;		/* one-line notices, in order */
	size_t		 nwarn;
	long		 text;		/* the body text leaf, or -1 */
	char		*hcharset;	/* for raw 8-bit header text, or NULL */
	size_t		*att;		/* indexes into parts */
	size_t		 natt;
};

static void	mime_entity(struct mime_msg *, const char *, const char *,
		    int, const char *, int);

/*
 * Add a one-line notice of what the reader could not read as the message
 * says, once each; past MIME_MAX_WARNINGS, one line says more were left.
 */
static void __attribute__((format(printf, 2, 3)))
mime_warn(struct mime_msg *m, const char *fmt, ...)
{
	struct mime_buf	 b = { NULL, 0, 0 };
	va_list		 ap;
	char		*raw, *w;
	size_t		 i;

	if (m->nwarn > MIME_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&raw, fmt, ap) == -1)
		fatalx("%s: out of memory", __func__);
	va_end(ap);
	/* What came from the message may hold anything: one clean line. */
	mime_utf8_fix(&b, raw, strlen(raw));
	free(raw);
	w = mime_buf_str(&b);
	for (i = 0; w[i] != '\0'; i++)
		if ((unsigned char)w[i] < 0x20 || w[i] == 0x7f)
			w[i] = ' ';
	for (i = 0; i < m->nwarn; i++) {
		if (strcmp(m->warn[i], w) == 0) {
			free(w);
			return;
		}
	}
	if (m->nwarn == MIME_MAX_WARNINGS) {
		free(w);
		w = xstrdup("more notices about this message not shown");
	}
	m->warn = xreallocarray(m->warn, m->nwarn + 1, sizeof *m->warn);
	m->warn[m->nwarn++] = w;
}

/* Return 1 when the bounds on parts leave room for one more entity. */
static int
mime_room(struct mime_msg *m, const char *p)
{
	if (m->nparts < MIME_MAX_PARTS && m->nentities < MIME_MAX_ENTITIES)
		return 1;
	if (m->stop == NULL || p < m->stop)
		m->stop = p;
	return 0;
}

/*
 * The scan of a multipart body has passed p: when buf is a private file
 * mapping, give the whole pages behind back to the kernel, so that walking
 * a 60 MB attachment costs a few pages of memory, not 60 MB. The bytes stay
 * readable: a later read of them faults them in again from the file.
 */
static void
mime_drop(struct mime_msg *m, const char *p)
{
	uintptr_t	 page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t	 from, to;

	if (!m->drop)
		return;
	if (p < m->dropped) {		/* a nested walk goes back */
		m->dropped = p;
		return;
	}
	if ((size_t)(p - m->dropped) < MIME_DROP_CHUNK)
		return;
	from = ((uintptr_t)m->dropped + page - 1) & ~(page - 1);
	to = (uintptr_t)p & ~(page - 1);
	if (to > from)
		madvise((void *)from, to - from, MADV_DONTNEED);
	m->dropped = p;
}

/*
 * Find the next line of [p, end) that starts with delim ("--boundary");
 * first is where the body starts (a line start too). The search runs in
 * windows of MIME_DROP_CHUNK bytes so that the pages behind can be given
 * back as it goes. Return NULL when there is none.
 */
static const char *
mime_next_delim(struct mime_msg *m, const char *p, const char *end,
    const char *first, const char *delim, size_t dlen)
{
	const char	*h, *wend;

	while ((size_t)(end - p) >= dlen) {
		wend = (size_t)(end - p) > MIME_DROP_CHUNK + dlen ?
		    p + MIME_DROP_CHUNK + dlen : end;
		if ((h = memmem(p, wend - p, delim, dlen)) == NULL) {
			p = wend - dlen + 1;	/* windows overlap */
			mime_drop(m, p);
			continue;
		}
		if (h == first || h[-1] == '\n')
			return h;
		p = h + 1;
	}
	return NULL;
}

/*
 * Boundaries declared inside the part being walked, as far as scanned,
 * that begin with the walk's own (the others cannot make a delimiter line
 * of ours look like theirs).
 */
struct mime_decl {
	char		*v[MIME_MAX_DECL];
	size_t		 n;
	const char	*ours;		/* the walk's boundary */
	size_t		 olen;
	const char	*from;		/* where the part starts */
	const char	*scanned;	/* read up to here */
};

/* Forget the declared boundaries; the next part starts at p. */
static void
mime_decl_reset(struct mime_decl *d, const char *p)
{
	while (d->n > 0)
		free(d->v[--d->n]);
	d->from = d->scanned = p;
}

/*
 * Record the boundary parameters beginning with ours declared in
 * [d->scanned, to): each place that holds our boundary is checked for
 * "boundary=" or "boundary=\"" in front. Looking for the (long) boundary
 * rather than for the parameter's name keeps this fast over the bytes of
 * big attachments; at most MIME_MAX_DECL are kept.
 */
static void
mime_decl_scan(struct mime_decl *d, const char *to)
{
	const char	*p = d->scanned, *v, *q;
	size_t		 n;

	while (p < to && d->n < MIME_MAX_DECL &&
	    (v = memmem(p, to - p, d->ours, d->olen)) != NULL) {
		p = v + d->olen;
		q = v > d->from && v[-1] == '"' ? v - 1 : v;
		if (q - d->from < 9 || q[-1] != '=' ||
		    memcmp(q - 8, "oundary", 7) != 0 ||
		    (q[-9] != 'b' && q[-9] != 'B'))
			continue;
		for (n = d->olen; v + n < to && strchr("\";\r\n \t", v[n]) ==
		    NULL; n++)
			;
		if (n > d->olen)
			d->v[d->n++] = xstrndup(v, n);
		p = v + n;
	}
	d->scanned = to;
}

/*
 * Return 1 when the delimiter line at p (of len bytes, "--" first) is one
 * of a multipart nested in the part, whose boundary begins with ours.
 */
static int
mime_decl_nested(struct mime_decl *d, const char *p, size_t len)
{
	size_t	 i, n;

	mime_decl_scan(d, p);
	for (i = 0; i < d->n; i++) {
		n = strlen(d->v[i]);
		if (n + 2 <= len && memcmp(p + 2, d->v[i], n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Walk the body of a multipart entity: parts sit between delimiter lines
 * "--boundary" (RFC 2046 section 5.1.1); the line break before a delimiter
 * belongs to it. A delimiter is matched as a prefix, as GMime and mail
 * readers do: text after "--boundary" or "--boundary--" on its line is
 * ignored, unless the line is the delimiter of a multipart nested in the
 * part whose boundary begins with ours. Preamble and epilogue are
 * ignored; without a close delimiter the last part ends with the data.
 * Return 1 when the multipart was closed, 0 when not, -1 when it holds no
 * delimiter at all.
 */
static int
mime_multipart(struct mime_msg *m, const char *p, const char *end,
    const char *boundary, int depth, const char *deftype)
{
	struct mime_decl d = { { NULL }, 0, boundary, strlen(boundary),
	    NULL, NULL };
	const char	*le, *next, *start = NULL, *pe, *r, *first = p;
	size_t		 dlen = strlen(boundary) + 2;
	char		*delim;
	int		 close = 0, found = 0;

	xasprintf(&delim, "--%s", boundary);
	while (p < end && mime_room(m, p)) {
		if ((p = mime_next_delim(m, p, end, first, delim, dlen)) ==
		    NULL)
			break;
		le = mime_eol(p, end, &next);
		if ((size_t)(le - p) < dlen) {
			p = next;
			continue;
		}
		r = p + dlen;
		close = (le - r >= 2 && r[0] == '-' && r[1] == '-');
		if (r < le && *r != ' ' && *r != '\t' && start != NULL &&
		    mime_decl_nested(&d, p, le - p)) {
			p = next;
			continue;
		}
		found = 1;
		/*
		 * A delimiter line right after another ("--b\n--b") has no
		 * part between them: the line break before a delimiter is
		 * its own, so there is not even an empty one (as Python).
		 */
		if (start != NULL && p > start) {
			pe = p;
			if (pe > start && pe[-1] == '\n')
				pe--;
			if (pe > start && pe[-1] == '\r')
				pe--;
			mime_entity(m, start, pe, depth + 1, deftype, 0);
		}
		start = close ? NULL : next;
		mime_decl_reset(&d, next);
		if (close)
			break;
		p = next;
	}
	mime_decl_reset(&d, NULL);
	free(delim);
	if (!found)
		return -1;
	if (start != NULL && mime_room(m, start))
		mime_entity(m, start, end, depth + 1, deftype, 0);
	return close;
}

/*
 * Walk a multipart entity at depth (its type, boundary and body given);
 * return 0 when done, or -1 when it cannot be walked and should be listed
 * as one opaque leaf instead (each case with a notice).
 */
static int
mime_container(struct mime_msg *m, const char *type, const char *boundary,
    const char *body, const char *end, int depth)
{
	size_t	 len = end - body;
	int	 rc;

	if (depth >= MIME_MAX_DEPTH) {
		mime_warn(m, "multiparts nested deeper than %d: a %.60s part "
		    "of %zu bytes is listed as one attachment", MIME_MAX_DEPTH,
		    type, len);
		return -1;
	}
	if (boundary == NULL || *boundary == '\0') {
		mime_warn(m, "a %.60s part has no boundary: its %zu bytes are "
		    "listed as one attachment", type, len);
		return -1;
	}
	rc = mime_multipart(m, body, end, boundary, depth,
	    strcmp(type, "multipart/digest") == 0 ? "message/rfc822" :
	    "text/plain");
	if (rc == -1) {
		mime_warn(m, "boundary \"%.70s\" of a %.60s part not found: its "
		    "%zu bytes are listed as one attachment", boundary, type, len);
		return -1;
	}
	if (rc == 0 && m->stop == NULL)
		mime_warn(m, "boundary \"%.70s\" of a %.60s part never closed: "
		    "its last part ends with the message", boundary, type);
	return 0;
}

/*
 * Check the transfer encoding of a leaf against its first MIME_SNIFF
 * bytes: text labelled base64 that is plainly not is taken as it is. Such
 * text shows itself in its first lines, and base64 parts are most of the
 * bytes of most mail, so they get a shorter look (MIME_SNIFF_B64).
 */
static void
mime_check_cte(struct mime_msg *m, struct mime_part *pt)
{
	size_t	 n = pt->bodylen < MIME_SNIFF ? pt->bodylen : MIME_SNIFF;
	size_t	 bad;

	if (pt->cte == NULL || strcmp(pt->cte, "7bit") == 0 ||
	    strcmp(pt->cte, "8bit") == 0 || strcmp(pt->cte, "binary") == 0)
		return;
	if (strcmp(pt->cte, "base64") == 0) {
		if (!mime_base64_valid(pt->body, n < MIME_SNIFF_B64 ? n :
		    MIME_SNIFF_B64)) {
			pt->asis = 1;
			mime_warn(m, "a %.60s part labelled base64 is not "
			    "base64: shown as it is", pt->type);
		}
	} else if (strcmp(pt->cte, "quoted-printable") == 0) {
		if ((bad = mime_qp_bad(pt->body, n)) > 0)
			mime_warn(m, "a %.60s part labelled quoted-printable "
			    "has %zu%s '=' escaping nothing: kept as they are",
			    pt->type, bad, n < pt->bodylen ? " or more" : "");
	} else
		mime_warn(m, "unknown transfer encoding \"%.40s\" of a %.60s "
		    "part: shown as it is", pt->cte, pt->type);
}

/*
 * Remove from a UTF-8 name in place the characters that change how the
 * rest displays without showing themselves: bidi controls (U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069) and zero-width ones (U+200B-
 * U+200D, U+2060, U+FEFF); "invoice\u202efdp.exe" would show as
 * "invoiceexe.pdf".
 */
static char *
mime_strip_invisible(char *s)
{
	unsigned char	*p, *q, c1, c2;

	if (s == NULL)
		return NULL;
	for (p = q = (unsigned char *)s; *p != '\0'; p++) {
		c1 = p[0] == 0xe2 || p[0] == 0xef ? p[1] : 0;
		c2 = c1 != 0 ? p[2] : 0;
		if ((p[0] == 0xe2 && c1 == 0x80 && ((c2 >= 0x8b && c2 <= 0x8f) ||
		    (c2 >= 0xaa && c2 <= 0xae))) || (p[0] == 0xe2 &&
		    c1 == 0x81 && (c2 == 0xa0 || (c2 >= 0xa6 && c2 <= 0xa9))) ||
		    (p[0] == 0xef && c1 == 0xbb && c2 == 0xbf)) {
			p += 2;
			continue;
		}
		*q++ = *p;
	}
	*q = '\0';
	return s;
}

/* The format=flowed parameters of a Content-Type (RFC 3676 4.1, 4.2). */
static int
mime_flowed(const char *ct)
{
	char	*format, *delsp;
	int	 f = 0;

	if ((format = mime_param(ct, "format")) != NULL &&
	    strcasecmp(format, "flowed") == 0) {
		f = MIME_FLOWED;
		if ((delsp = mime_param(ct, "delsp")) != NULL &&
		    strcasecmp(delsp, "yes") == 0)
			f |= MIME_DELSP;
		free(delsp);
	}
	free(format);
	return f;
}

/* Parse one entity; multiparts recurse, leaves are recorded. */
static void
mime_entity(struct mime_msg *m, const char *p, const char *end, int depth,
    const char *deftype, int top)
{
	struct mime_hdr		*h;
	struct mime_part	*pt;
	const char		*body, *ct, *cd;
	char			*type, *boundary, *fn;
	size_t			 nh, dropped;
	int			 rc;

	if (!mime_room(m, p))
		return;
	m->nentities++;
	body = mime_headers(p, end, &h, &nh, &dropped);
	if (dropped > 0)
		mime_warn(m, "more than %d header fields in a part: %zu more "
		    "not read", MIME_MAX_HEADERS, dropped);
	ct = mime_hdr_get(h, nh, "content-type");
	type = mime_ctype(ct, deftype);
	if (strncmp(type, "multipart/", 10) == 0) {
		boundary = mime_param(ct, "boundary");
		rc = mime_container(m, type, boundary, body, end, depth);
		free(boundary);
		if (rc == 0) {
			free(type);
			goto out;
		}
	}
	m->parts = xreallocarray(m->parts, m->nparts + 1, sizeof *m->parts);
	pt = &m->parts[m->nparts++];
	memset(pt, 0, sizeof *pt);
	pt->type = type;
	pt->body = body;
	pt->bodylen = end - body;
	pt->charset = mime_param(ct, "charset");
	if (pt->charset != NULL)
		mime_lower(pt->charset);
	pt->flowed = mime_flowed(ct);
	pt->cte = mime_token(mime_hdr_get(h, nh, "content-transfer-encoding"));
	mime_check_cte(m, pt);
	cd = mime_hdr_get(h, nh, "content-disposition");
	pt->disp = mime_token(cd);
	if ((fn = mime_param_cs(cd, "filename", pt->charset)) == NULL)
		fn = mime_param_cs(ct, "name", pt->charset);
	pt->filename = mime_strip_invisible(fn);
out:
	if (top) {
		m->hdrs = h;
		m->nhdrs = nh;
	} else
		mime_hdrs_free(h, nh);
}

/* Is a leaf's body its content as it is (7bit, 8bit, binary, unknown)? */
static int
mime_cte_identity(const struct mime_part *pt)
{
	return pt->asis || pt->cte == NULL || (strcmp(pt->cte, "base64") != 0 &&
	    strcmp(pt->cte, "quoted-printable") != 0);
}

/* Decode the transfer encoding of a leaf into b. */
static void
mime_decode_body(const struct mime_part *pt, struct mime_buf *b)
{
	if (mime_cte_identity(pt))
		mime_buf_add(b, pt->body, pt->bodylen);
	else if (strcmp(pt->cte, "base64") == 0)
		mime_base64(b, pt->body, pt->bodylen);
	else
		mime_qp(b, pt->body, pt->bodylen, 0);
}

/* Return 1 when a leaf is a candidate body of that type. */
static int
mime_is_body(const struct mime_part *pt, const char *type)
{
	return (strcmp(pt->type, type) == 0 && (pt->disp == NULL ||
	    strcmp(pt->disp, "attachment") != 0));
}

/*
 * Choose the body text leaf (the first text/plain that is not an
 * attachment, else the first such text/html) and list the attachments.
 */
static void
mime_classify(struct mime_msg *m)
{
	struct mime_part	*pt;
	size_t			 i;

	m->text = -1;
	for (i = 0; i < m->nparts && m->text == -1; i++)
		if (mime_is_body(&m->parts[i], "text/plain"))
			m->text = i;
	for (i = 0; i < m->nparts && m->text == -1; i++)
		if (mime_is_body(&m->parts[i], "text/html"))
			m->text = i;
	m->att = xreallocarray(NULL, m->nparts + 1, sizeof *m->att);
	for (i = 0; i < m->nparts; i++) {
		pt = &m->parts[i];
		if ((long)i == m->text)
			continue;
		if ((pt->disp == NULL || strcmp(pt->disp, "attachment") != 0) &&
		    strncmp(pt->type, "text/", 5) == 0 && pt->filename == NULL)
			continue;
		m->att[m->natt++] = i;
	}
}

/*
 * Choose the charset raw 8-bit header text is read in when it is not
 * UTF-8: the one the message declares, else its first text part's.
 */
static void
mime_header_charset(struct mime_msg *m)
{
	size_t	 i;

	m->hcharset = mime_param(mime_header(m, "content-type"), "charset");
	for (i = 0; i < m->nparts && m->hcharset == NULL; i++)
		if (strncmp(m->parts[i].type, "text/", 5) == 0 &&
		    m->parts[i].charset != NULL)
			m->hcharset = xstrdup(m->parts[i].charset);
}

/* Parse len bytes at buf, which buf[len] == '\0' ends; own buf or not. */
static struct mime_msg *
mime_parse_at(char *buf, size_t len, int owned, int drop)
{
	struct mime_msg	*m;

	m = xcalloc(1, sizeof *m);
	m->buf = buf;
	m->len = len;
	m->owned = owned;
	m->drop = drop;
	m->dropped = buf;
	mime_entity(m, m->buf, m->buf + len, 0, "text/plain", 1);
	mime_classify(m);
	mime_header_charset(m);
	if (m->stop != NULL)
		mime_warn(m, "stopped at the limit of %d parts: the last %zu "
		    "bytes of the message are not read", MIME_MAX_PARTS,
		    (size_t)(m->buf + m->len - m->stop));
	if (m->text >= 0 && m->parts[m->text].charset != NULL &&
	    !mime_charset_known(m->parts[m->text].charset))
		mime_warn(m, "unknown charset \"%.40s\": the text is read as "
		    "UTF-8 or windows-1252", m->parts[m->text].charset);
	return m;
}

/* Return NULL with a cause when len is over the bound. */
static int
mime_size_ok(size_t len, char **cause)
{
	if (len <= MIME_MAX_SIZE)
		return 1;
	xasprintf(cause, "message too large (%zu bytes, limit %d)", len,
	    MIME_MAX_SIZE);
	return 0;
}

/* Parse a whole message held in memory (copied). */
struct mime_msg *
mime_parse(const char *buf, size_t len, char **cause)
{
	char	*copy;

	if (!mime_size_ok(len, cause))
		return NULL;
	copy = xmalloc(len + 1);
	if (len > 0)
		memcpy(copy, buf, len);
	copy[len] = '\0';
	return mime_parse_at(copy, len, 1, 0);
}

/*
 * Parse len bytes at buf in place, without a copy: buf[len] must be a
 * readable NUL, and buf must outlive the result (a mapped file, say). With
 * MIME_DROP, buf is a read-only private mapping of a file and the pages the
 * parser has walked past are given back as it goes (see mime_drop).
 */
struct mime_msg *
mime_parse_inplace(const char *buf, size_t len, int flags, char **cause)
{
	if (!mime_size_ok(len, cause))
		return NULL;
	return mime_parse_at((char *)buf, len, 0, (flags & MIME_DROP) != 0);
}

/* Free a parsed message. */
void
mime_free(struct mime_msg *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nparts; i++) {
		free(m->parts[i].type);
		free(m->parts[i].charset);
		free(m->parts[i].cte);
		free(m->parts[i].disp);
		free(m->parts[i].filename);
	}
	free(m->parts);
	free(m->att);
	free(m->hcharset);
	for (i = 0; i < m->nwarn; i++)
		free(m->warn[i]);
	free(m->warn);
	mime_hdrs_free(m->hdrs, m->nhdrs);
	if (m->owned)
		free(m->buf);
	free(m);
}

/* Return the first top-level header of that name, unfolded, or NULL. */
const char *
mime_header(const struct mime_msg *m, const char *name)
{
	return mime_hdr_get(m->hdrs, m->nhdrs, name);
}

/*
 * Return the first top-level header of that name decoded to UTF-8 (raw
 * 8-bit text read in the message's charset when it is not UTF-8), or NULL.
 */
char *
mime_header_text(const struct mime_msg *m, const char *name)
{
	const char	*raw;

	if ((raw = mime_header(m, name)) == NULL)
		return NULL;
	return mime_decode_header_cs(raw, m->hcharset);
}

/*
 * Return the mailboxes of a top-level address list field (From, To, Cc,
 * ...) with their number in *n; NULL when there are none.
 */
struct mime_addr *
mime_addresses(const struct mime_msg *m, const char *name, size_t *n)
{
	return mime_addr_list(mime_header(m, name), m->hcharset, n);
}

/* Return the MIME type the body text comes from, or NULL without one. */
const char *
mime_body_type(const struct mime_msg *m)
{
	return m->text >= 0 ? m->parts[m->text].type : NULL;
}

/* Return how the body text is flowed: 0, or MIME_FLOWED | MIME_DELSP. */
int
mime_body_flowed(const struct mime_msg *m)
{
	return m->text >= 0 && strcmp(m->parts[m->text].type, "text/plain") ==
	    0 ? m->parts[m->text].flowed : 0;
}

/*
 * Return the body text as UTF-8 with LF line ends ("" when there is none):
 * the text/plain leaf, or text taken from a text/html one.
 */
char *
mime_body_text(const struct mime_msg *m)
{
	return mime_body_prefix(m, SIZE_MAX);
}

/*
 * The same, read from at most the first max bytes of the leaf as it is
 * encoded (a cut base64 quantum or UTF-8 sequence is dropped or replaced).
 */
char *
mime_body_prefix(const struct mime_msg *m, size_t max)
{
	struct mime_part	 pt;
	struct mime_buf		 raw = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	char			*html, *cr;
	size_t			 i, j;

	if (m->text < 0)
		return xstrdup("");
	pt = m->parts[m->text];
	if (pt.bodylen > max)
		pt.bodylen = max;
	if (mime_cte_identity(&pt))	/* no copy to decode */
		mime_to_utf8(&out, pt.charset, pt.body, pt.bodylen, NULL);
	else {
		mime_decode_body(&pt, &raw);
		mime_to_utf8(&out, pt.charset, raw.d ? raw.d : "", raw.len,
		    NULL);
		free(raw.d);
	}
	if (out.d != NULL && (cr = memchr(out.d, '\r', out.len)) != NULL) {
		/* CRLF to LF, from the first CR on (stored mail has LF). */
		for (i = j = cr - out.d; i < out.len; i++)
			if (!(out.d[i] == '\r' && out.d[i + 1] == '\n'))
				out.d[j++] = out.d[i];
		out.d[j] = '\0';
		out.len = j;
	}
	if (strcmp(pt.type, "text/html") != 0)
		return mime_buf_str(&out);
	html = mime_html_text(out.d ? out.d : "");
	free(out.d);
	return html;
}

/*
 * The body text to look for words in: its first max bytes as encoded.
 * When they read as they are (text/plain in an identity transfer encoding
 * and in UTF-8, or in ASCII that is valid UTF-8), *text points into the
 * message and *copy is NULL: no copy of a large body is made, and an
 * invalid byte stays as it is (it matches nothing). Otherwise *text is the
 * decoded mime_body_prefix() text, also in *copy for the caller to free.
 * Return the length of the text.
 */
size_t
mime_body_search(const struct mime_msg *m, size_t max, const char **text,
    char **copy)
{
	const struct mime_part	*pt;
	size_t			 len;

	if (m->text >= 0) {
		pt = &m->parts[m->text];
		len = pt->bodylen < max ? pt->bodylen : max;
		if (strcmp(pt->type, "text/plain") == 0 &&
		    mime_cte_identity(pt) && mime_charset_plain(pt->charset) &&
		    ((pt->charset != NULL &&
		    strncasecmp(pt->charset, "utf", 3) == 0) ||
		    mime_utf8_valid(pt->body, len))) {
			*copy = NULL;
			*text = pt->body;
			return len;
		}
	}
	*copy = mime_body_prefix(m, max);
	*text = *copy;
	return strlen(*copy);
}

/* Return the number of notices about the message. */
size_t
mime_nwarnings(const struct mime_msg *m)
{
	return m->nwarn;
}

/* Return notice idx (one line of UTF-8), or NULL. */
const char *
mime_warning(const struct mime_msg *m, size_t idx)
{
	return idx < m->nwarn ? m->warn[idx] : NULL;
}

/* Return the number of attachments. */
size_t
mime_nattachments(const struct mime_msg *m)
{
	return m->natt;
}

/* Describe attachment idx; -1 when there is no such attachment. */
int
mime_attachment(const struct mime_msg *m, size_t idx,
    struct mime_attachment *out)
{
	const struct mime_part	*pt;
	struct mime_buf		 b = { NULL, 0, 0 };

	if (idx >= m->natt)
		return -1;
	pt = &m->parts[m->att[idx]];
	out->filename = pt->filename;
	out->content_type = pt->type;
	/* Worked out when asked: a listing of messages never needs it. */
	if (!mime_cte_identity(pt) && strcmp(pt->cte, "base64") == 0)
		out->size = mime_base64_size(pt->body, pt->bodylen);
	else {
		mime_decode_body(pt, &b);
		out->size = b.len;
		free(b.d);
	}
	return 0;
}

/* Return the decoded bytes of attachment idx (NULL when there is none). */
char *
mime_attachment_data(const struct mime_msg *m, size_t idx, size_t *len)
{
	struct mime_buf	 b = { NULL, 0, 0 };

	*len = 0;
	if (idx >= m->natt)
		return NULL;
	mime_decode_body(&m->parts[m->att[idx]], &b);
	*len = b.len;
	return mime_buf_str(&b);
}

/*
 * Turn a file name from a message into one safe to create in a directory
 * of the user's: only its last path component (after '/' or '\'), bidi
 * and zero-width characters removed, control characters and a leading
 * dot or space made '_', "." and ".." and empty
 * names replaced by "attachment-N", at most MIME_FILENAME_MAX bytes (cut on
 * a character boundary, keeping a short extension). Returns new memory.
 */
char *
mime_safe_filename(const char *name, size_t n)
{
	const char	*p, *ext;
	char		*out;
	size_t		 len, elen, i;

	if (name != NULL) {
		for (p = name; *p != '\0'; p++)
			if (*p == '/' || *p == '\\')
				name = p + 1;
	}
	if (name == NULL || *name == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		xasprintf(&out, "attachment-%zu", n);
		return out;
	}
	len = strlen(name);
	if (len > MIME_FILENAME_MAX) {
		/* Keep an extension of up to 16 bytes after the cut. */
		ext = strrchr(name, '.');
		elen = ext != NULL && strlen(ext) <= 16 ? strlen(ext) : 0;
		len = MIME_FILENAME_MAX - elen;
		while (len > 0 && (name[len] & 0xc0) == 0x80)
			len--;
		out = xmalloc(len + elen + 1);
		memcpy(out, name, len);
		memcpy(out + len, name + strlen(name) - elen, elen + 1);
	} else
		out = xstrdup(name);
	mime_strip_invisible(out);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '_';
	if (out[0] == '\0') {		/* nothing visible was left */
		free(out);
		xasprintf(&out, "attachment-%zu", n);
	}
	if (out[0] == '.' || out[0] == ' ' || out[0] == '-')
		out[0] = '_';
	return out;
}
