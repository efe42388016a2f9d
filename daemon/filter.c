/*
 * Filing rules: compiled once per configuration, applied to each message
 * at delivery (on the store thread) and by refilter.
 *
 * Keywords and the text they are looked for in are folded the same way:
 * UTF-8 decoded, each character through towlower() of the C.UTF-8 locale
 * (its tables cover all of Unicode), encoded again. Invalid UTF-8 bytes
 * are kept as they are, so they can still match themselves.
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
	unsigned	 refs;		/* atomic */
};

static locale_t		filter_locale;
static pthread_once_t	filter_once = PTHREAD_ONCE_INIT;

/* Open the locale whose case tables fold text. */
static void
filter_locale_init(void)
{
	filter_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Return a case-folded copy of a UTF-8 string. */
char *
filter_fold(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	const unsigned char	*end = p + strlen(s);
	size_t			 n;
	char			*out, *o;
	uint32_t		 c;

	pthread_once(&filter_once, filter_locale_init);
	/* A lower-case form never needs more than 4 bytes a character. */
	out = o = xmalloc((end - p) * 4 + 1);
	while (*p != '\0') {
		while (*p != '\0' && *p < 0x80) {	/* most mail text */
			*o++ = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;
			p++;
		}
		if (*p == '\0')
			break;
		if ((n = utf8_decode(p, end - p, &c)) == 0) {
			*o++ = *p++;
			continue;
		}
		p += n;
		if (filter_locale != (locale_t)0)
			c = towlower_l(c, filter_locale);
		o += utf8_encode(c, o);
	}
	*o = '\0';
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

/* Compile n configured rules. */
struct filter *
filter_new(const struct config_filter *cf, size_t n)
{
	struct filter	*f;
	size_t		 i, j;

	f = xcalloc(1, sizeof *f);
	f->refs = 1;
	f->rules = xcalloc(n == 0 ? 1 : n, sizeof *f->rules);
	f->folders = xcalloc(n + 1, sizeof *f->folders);
	for (i = 0; i < n; i++) {
		f->rules[i].folder = xstrdup(cf[i].folder);
		f->rules[i].from = filter_fold_list(cf[i].from);
		f->rules[i].subject = filter_fold_list(cf[i].subject);
		f->rules[i].body = filter_fold_list(cf[i].body);
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

/*
 * Return the folder for a message: from and subject are its decoded header
 * values (or NULL); the body text is decoded from msg only when a rule
 * needs it. *notify (when not NULL) says whether the rule wants new mail
 * announced; Inbox always does.
 */
const char *
filter_folder(const struct filter *f, const char *from, const char *subject,
    const struct mime_msg *msg, int *notify)
{
	const struct filter_rule *r;
	char		*ffrom, *fsubject, *fbody = NULL, *text;
	const char	*folder = FILTER_INBOX;
	int		 body_done = 0, match;
	size_t		 i;

	ffrom = from != NULL ? filter_fold(from) : NULL;
	fsubject = subject != NULL ? filter_fold(subject) : NULL;
	if (notify != NULL)
		*notify = 1;
	for (i = 0; f != NULL && i < f->nrules; i++) {
		r = &f->rules[i];
		match = filter_any(r->from, ffrom) ||
		    filter_any(r->subject, fsubject);
		if (!match && r->body != NULL && msg != NULL) {
			if (!body_done) {
				body_done = 1;
				if ((text = mime_body_prefix(msg,
				    FILTER_BODY_MAX)) != NULL) {
					fbody = filter_fold(text);
					free(text);
				}
			}
			match = filter_any(r->body, fbody);
		}
		if (match) {
			folder = r->folder;
			if (notify != NULL)
				*notify = r->notify;
			break;
		}
	}
	free(ffrom);
	free(fsubject);
	free(fbody);
	return folder;
}
