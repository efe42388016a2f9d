/*
 * Filing rules: compiled once per configuration, applied to each message
 * at delivery (on the store thread) and by refilter.
 *
 * Keywords and the text they are looked for in are folded the same way:
 * UTF-8 decoded, each character through towlower() of the C.UTF-8 locale
 * (its tables cover all of Unicode), encoded again. Invalid UTF-8 bytes
 * are kept as they are, so they can still match themselves. A body is
 * only folded when it must be (see filter_direct).
 */
#include "autoconf.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "common/utf8.h"
#include "common/xmalloc.h"
#include "config.h"
#include "filter.h"
#include "mime.h"

#define FILTER_CHUNK	(64 * 1024)	/* body bytes folded at a time */

/*
 * A body keyword in ASCII is looked for in the text as it is, ignoring
 * ASCII case, sixteen bytes at a time: the text is never folded. Bytes of
 * other characters cannot match ASCII ones, except for the two characters
 * that fold to ASCII letters: U+0130 (to 'i') and U+212A KELVIN SIGN (to
 * 'k'); a text holding one of those is folded when a keyword has that
 * letter.
 */
typedef unsigned char filter_v16 __attribute__((vector_size(16)));

struct filter_rule {
	char		*folder;
	char		**from;		/* folded; NULL-terminated */
	char		**subject;
	char		**body;
	int		 notify;
};

struct filter {
	struct filter_rule *rules;
	size_t		 nrules;
	const char	**folders;	/* distinct, in rule order */
	size_t		 nfolders;
	size_t		 kwmax;		/* longest folded body keyword */
	int		 kw_ascii;	/* every body keyword in ASCII */
	int		 kw_i, kw_k;	/* some body keyword has 'i', 'k' */
	unsigned	 refs;		/* atomic */
};

static locale_t		filter_locale;
static pthread_once_t	filter_once = PTHREAD_ONCE_INIT;
static uint32_t		filter_lower2[0x800];	/* two-byte characters */

/*
 * Open the locale whose case tables fold text, and keep the folding of
 * the characters UTF-8 writes in two bytes (Latin, Greek, Cyrillic,
 * Hebrew, Arabic...) in a table: most non-ASCII mail text.
 */
static void
filter_locale_init(void)
{
	uint32_t	 c;

	filter_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	for (c = 0; c < 0x800; c++)
		filter_lower2[c] = filter_locale != (locale_t)0 ?
		    (uint32_t)towlower_l(c, filter_locale) : c;
}

/* Lower-case an ASCII byte; other bytes stay as they are. */
static inline unsigned char
filter_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/*
 * Fold the len bytes at p into out (room for 4 * len bytes: a lower-case
 * form never needs more than 4 bytes a character); return the bytes
 * written. NUL is a byte like any other here.
 */
static size_t
filter_fold_run(const unsigned char *p, size_t len, char *out)
{
	const uint64_t		 high = 0x8080808080808080ULL;
	const unsigned char	*end = p + len;
	char			*o = out;
	uint64_t		 w, ge_a, gt_z;
	uint32_t		 c;
	size_t			 n;

	pthread_once(&filter_once, filter_locale_init);
	while (p < end) {
		/*
		 * Most mail text is ASCII: eight bytes at a time, each byte
		 * from 'A' to 'Z' gets 0x20 (adding 0x3f sets bit 7 of a byte
		 * >= 'A', adding 0x25 that of a byte > 'Z'; no byte carries
		 * into the next, all being below 0x80).
		 */
		while (end - p >= 8) {
			memcpy(&w, p, sizeof w);
			if ((w & high) != 0)
				break;
			ge_a = w + 0x3f3f3f3f3f3f3f3fULL;
			gt_z = w + 0x2525252525252525ULL;
			w |= (ge_a & ~gt_z & high) >> 2;
			memcpy(o, &w, sizeof w);
			p += 8;
			o += 8;
		}
		if (p == end)
			break;
		if (*p < 0x80) {
			*o++ = filter_lower(*p++);
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf && end - p >= 2 &&
		    (p[1] & 0xc0) == 0x80) {
			c = filter_lower2[(p[0] & 0x1f) << 6 | (p[1] & 0x3f)];
			o += utf8_encode(c, o);
			p += 2;
			continue;
		}
		if ((n = utf8_decode(p, end - p, &c)) == 0) {
			*o++ = *p++;	/* invalid: kept as it is */
			continue;
		}
		p += n;
		if (filter_locale != (locale_t)0)
			c = towlower_l(c, filter_locale);
		o += utf8_encode(c, o);
	}
	return o - out;
}

/* Return a case-folded copy of a UTF-8 string. */
char *
filter_fold(const char *s)
{
	size_t	 len = strlen(s), n;
	char	*out;

	out = xmalloc(len * 4 + 1);
	n = filter_fold_run((const unsigned char *)s, len, out);
	out[n] = '\0';
	return out;
}

/* Fold a NULL-terminated keyword list (NULL stays NULL). */
static char **
filter_fold_list(const char **list)
{
	char	**out;
	size_t	  n, i;

	if (list == NULL)
		return NULL;
	for (n = 0; list[n] != NULL; n++)
		;
	out = xcalloc(n + 1, sizeof *out);
	for (i = 0; i < n; i++)
		out[i] = filter_fold(list[i]);
	return out;
}

/* Free a folded keyword list. */
static void
filter_free_list(char **list)
{
	size_t	 i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* Note what the body search needs to know of a rule's body keywords. */
static void
filter_kw_note(struct filter *f, char **body)
{
	const unsigned char	*k;
	size_t			 i;

	for (i = 0; body[i] != NULL; i++) {
		if (strlen(body[i]) > f->kwmax)
			f->kwmax = strlen(body[i]);
		for (k = (const unsigned char *)body[i]; *k != '\0'; k++) {
			if (*k >= 0x80)
				f->kw_ascii = 0;
			f->kw_i |= *k == 'i';
			f->kw_k |= *k == 'k';
		}
	}
}

/* Compile n configured rules. */
struct filter *
filter_new(const struct config_filter *cf, size_t n)
{
	struct filter	*f;
	size_t		 i, j;

	f = xcalloc(1, sizeof *f);
	f->refs = 1;
	f->kw_ascii = 1;
	f->rules = xcalloc(n == 0 ? 1 : n, sizeof *f->rules);
	f->folders = xcalloc(n + 1, sizeof *f->folders);
	for (i = 0; i < n; i++) {
		f->rules[i].folder = xstrdup(cf[i].folder);
		f->rules[i].from = filter_fold_list(cf[i].from);
		f->rules[i].subject = filter_fold_list(cf[i].subject);
		f->rules[i].body = filter_fold_list(cf[i].body);
		if (f->rules[i].body != NULL)
			filter_kw_note(f, f->rules[i].body);
		f->rules[i].notify = cf[i].notify;
		for (j = 0; j < f->nfolders; j++)
			if (strcmp(f->folders[j], cf[i].folder) == 0)
				break;
		if (j == f->nfolders)
			f->folders[f->nfolders++] = f->rules[i].folder;
	}
	f->nrules = n;
	return f;
}

/* Take another reference. */
struct filter *
filter_ref(struct filter *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	return f;
}

/* Drop a reference (NULL is fine); the last one frees the rules. */
void
filter_free(struct filter *f)
{
	size_t	 i;

	if (f == NULL || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (i = 0; i < f->nrules; i++) {
		free(f->rules[i].folder);
		filter_free_list(f->rules[i].from);
		filter_free_list(f->rules[i].subject);
		filter_free_list(f->rules[i].body);
	}
	free(f->rules);
	free(f->folders);
	free(f);
}

/* The distinct folders the rules file into, in rule order. */
size_t
filter_folders(const struct filter *f, const char ***folders)
{
	*folders = f->folders;
	return f->nfolders;
}

/* Is any keyword of a folded list in the folded text? */
static int
filter_any(char **keywords, const char *text)
{
	size_t	 i;

	if (keywords == NULL || text == NULL)
		return 0;
	for (i = 0; keywords[i] != NULL; i++)
		if (strstr(text, keywords[i]) != NULL)
			return 1;
	return 0;
}

/* Are the m bytes at t the ASCII keyword k, ignoring ASCII case? */
static inline int
filter_kw_at(const unsigned char *t, const char *k, size_t m)
{
	size_t	 j;

	for (j = 0; j < m; j++)
		if (filter_lower(t[j]) != (unsigned char)k[j])
			return 0;
	return 1;
}

/* The bit that makes an ASCII letter lower case, if c is one. */
static inline unsigned char
filter_case_bit(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? 0x20 : 0;
}

/*
 * Find the ASCII keyword k in len bytes of text, ignoring ASCII case: look
 * at sixteen places at once for its first and last bytes, and compare the
 * rest only where both are. The keyword is lower case, so a byte is its
 * letter c when, with the case bit set, it is c (only c and C are).
 */
static int
filter_kw_find(const char *k, const unsigned char *t, size_t len)
{
	filter_v16	 a, b, eq, first, last, fbit, lbit;
	uint64_t	 w[2];
	size_t		 m = strlen(k), i = 0, j;

	if (m == 0)
		return 1;
	if (len < m)
		return 0;
	first = (filter_v16){ 0 } + (unsigned char)k[0];
	last = (filter_v16){ 0 } + (unsigned char)k[m - 1];
	fbit = (filter_v16){ 0 } + filter_case_bit(k[0]);
	lbit = (filter_v16){ 0 } + filter_case_bit(k[m - 1]);
	for (; i + m - 1 + 16 <= len; i += 16) {
		memcpy(&a, t + i, sizeof a);
		memcpy(&b, t + i + m - 1, sizeof b);
		eq = (filter_v16)((a | fbit) == first) &
		    (filter_v16)((b | lbit) == last);
		memcpy(w, &eq, sizeof w);
		if ((w[0] | w[1]) == 0)
			continue;
		for (j = 0; j < 16; j++)
			if (eq[j] != 0 && filter_kw_at(t + i + j, k, m))
				return 1;
	}
	for (; i + m <= len; i++)
		if (filter_kw_at(t + i, k, m))
			return 1;
	return 0;
}

/* Does the text hold the n-byte sequence seq (whose first byte is rare)? */
static int
filter_has_seq(const char *text, size_t len, const char *seq, size_t n)
{
	const char	*p = text, *end = text + len;

	while ((p = memchr(p, seq[0], end - p)) != NULL) {
		if ((size_t)(end - p) >= n && memcmp(p, seq, n) == 0)
			return 1;
		p++;
	}
	return 0;
}

/*
 * Can the keywords be looked for in this text without folding it? They
 * must all be ASCII, and the text must not hold a character that folds to
 * an ASCII letter a keyword has.
 */
static int
filter_direct(const struct filter *f, const char *text, size_t len)
{
	return f->kw_ascii &&
	    !(f->kw_i && filter_has_seq(text, len, "\xc4\xb0", 2)) &&
	    !(f->kw_k && filter_has_seq(text, len, "\xe2\x84\xaa", 3));
}

/*
 * The first rule from first to limit (excluded) with a body keyword in
 * the len bytes of text, or limit. The text is as the message has it when
 * direct (see filter_direct), else folded.
 */
static size_t
filter_first_body(const struct filter *f, size_t first, size_t limit,
    const char *text, size_t len, int direct)
{
	const char	*k;
	size_t		 i, j;

	for (i = first; i < limit; i++) {
		for (j = 0; f->rules[i].body != NULL &&
		    (k = f->rules[i].body[j]) != NULL; j++) {
			if (direct ? filter_kw_find(k, (const unsigned char *)
			    text, len) : memmem(text, len, k, strlen(k)) != NULL)
				return i;
		}
	}
	return limit;
}

/*
 * Return the first rule before limit with a keyword in the body text of
 * msg, or limit. The text is folded a chunk at a time into one buffer,
 * never as a whole copy; the last kwmax - 1 folded bytes of a chunk stay
 * in front of the next, so a keyword across a cut is found.
 */
static size_t
filter_body_rule(const struct filter *f, size_t limit,
    const struct mime_msg *msg)
{
	const char	*text;
	char		*buf, *copy;
	size_t		 first, best = limit, keep, have = 0, take, n, i, len;

	for (first = 0; first < limit && f->rules[first].body == NULL; first++)
		;
	if (first == limit)
		return limit;
	len = mime_body_search(msg, FILTER_BODY_MAX, &text, &copy);
	if (filter_direct(f, text, len)) {
		best = filter_first_body(f, first, limit, text, len, 1);
		free(copy);
		return best;
	}
	keep = f->kwmax > 0 ? f->kwmax - 1 : 0;
	buf = xmalloc(keep + 4 * FILTER_CHUNK);
	while (len > 0 && best > first) {
		take = len < FILTER_CHUNK ? len : FILTER_CHUNK;
		/* Cut at the start of a character (at most 3 back). */
		for (i = 0; take < len && i < 3 &&
		    ((unsigned char)text[take] & 0xc0) == 0x80; i++)
			take--;
		n = have + filter_fold_run((const unsigned char *)text, take,
		    buf + have);
		best = filter_first_body(f, first, best, buf, n, 0);
		text += take;
		len -= take;
		have = n < keep ? n : keep;
		memmove(buf, buf + n - have, have);
	}
	free(buf);
	free(copy);
	return best;
}

/*
 * Return the folder for a message: from and subject are its decoded header
 * values (or NULL); the body text is read from msg only when a rule that
 * could decide needs it. *notify (when not NULL) says whether the rule
 * wants new mail announced; Inbox always does.
 */
const char *
filter_folder(const struct filter *f, const char *from, const char *subject,
    const struct mime_msg *msg, int *notify)
{
	const struct filter_rule *r;
	char		*ffrom, *fsubject;
	size_t		 i, n;

	if (notify != NULL)
		*notify = 1;
	if (f == NULL)
		return FILTER_INBOX;
	n = f->nrules;
	ffrom = from != NULL ? filter_fold(from) : NULL;
	fsubject = subject != NULL ? filter_fold(subject) : NULL;
	for (i = 0; i < n; i++) {
		r = &f->rules[i];
		if (filter_any(r->from, ffrom) ||
		    filter_any(r->subject, fsubject))
			break;
	}
	free(ffrom);
	free(fsubject);
	if (msg != NULL)
		i = filter_body_rule(f, i, msg);
	if (i == n)
		return FILTER_INBOX;
	if (notify != NULL)
		*notify = f->rules[i].notify;
	return f->rules[i].folder;
}
