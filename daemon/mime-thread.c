/*
 * What threading reads of a message (JWZ's algorithm, store-conversation.c
 * runs it): the message's own id, the ids it answers, and its subject
 * as conversations compare it.
 *
 * An id is kept as mime_msgids finds it ("<...>"), with whitespace and
 * control characters taken out (a folded id is one id); an empty one,
 * or one longer than MIME_THREAD_ID_MAX bytes, is no id. The ancestors
 * are References in order, then In-Reply-To's first id when References
 * does not name it, without the message's own id and without repeats
 * (the first of each is kept), at most the nearest MIME_THREAD_REFS_MAX:
 * a hostile References header of a thousand ids costs no more than a
 * long thread, and a loop or a self-reference never reaches the store.
 *
 * A subject's key: the reply and forward prefixes taken off wherever
 * they lead ("Re:", "Fwd:", "Fw:", "AW:", "WG:", "SV:", "VS:", "Antw:",
 * "TR:", "RIF:", "ODP:", "Enc:", "Res:", "YNT:", "回复:", ..., any case,
 * with a counter such as "Re[2]:" or "Re^2:", full-width colons too),
 * list tags such as "[project]" kept in their order, the rest with
 * whitespace folded to single spaces and ASCII letters lowercased.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "mime.h"
#include "mime-thread.h"

#define MIME_THREAD_TAG_MAX	64	/* bytes of a "[tag]" */

/* The reply and forward prefixes, before their colon. */
static const char *const mime_thread_prefixes[] = {
	"re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "doorst", "tr",
	"rif", "odp", "enc", "res", "ynt", "atb", "vl", "ref",
	"\xe5\x9b\x9e\xe5\xa4\x8d",	/* 回复 */
	"\xe5\x9b\x9e\xe8\xa6\x86",	/* 回覆 */
	"\xe7\xad\x94\xe5\xa4\x8d",	/* 答复 */
	"\xe8\xbd\xac\xe5\x8f\x91",	/* 转发 */
	"\xe8\xbd\x89\xe5\xaf\x84",	/* 轉寄 */
	NULL
};

/*
 * An id as kept: s without whitespace and control characters, or NULL
 * when that is empty between its brackets or too long.
 */
static char *
mime_thread_clean(const char *s)
{
	char	*out, *o;

	o = out = xmalloc(strlen(s) + 1);
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x20 && *s != 0x7f)
			*o++ = *s;
	*o = '\0';
	if (o - out <= 2 || o - out > MIME_THREAD_ID_MAX) {
		free(out);
		return NULL;
	}
	return out;
}

/* The message's own id from its Message-ID field, or NULL. */
char *
mime_thread_id(const char *field)
{
	char	**ids, *id = NULL;
	size_t	 i, n;

	ids = mime_msgids(field, &n);
	for (i = 0; i < n; i++) {
		if (id == NULL)
			id = mime_thread_clean(ids[i]);
		free(ids[i]);
	}
	free(ids);
	return id;
}

/* Is id among the n of list? */
static int
mime_thread_has(char **list, size_t n, const char *id)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], id) == 0)
			return 1;
	return 0;
}

/* Append the usable ids of a field to list (at most max in all). */
static void
mime_thread_add(char ***list, size_t *n, size_t max, const char *field,
    const char *self, int first_only)
{
	char	**ids, *id;
	size_t	 i, nids;

	ids = mime_msgids(field, &nids);
	for (i = 0; i < nids; i++) {
		id = i == 0 || !first_only ? mime_thread_clean(ids[i]) : NULL;
		free(ids[i]);
		if (id == NULL)
			continue;
		if (*n >= max || (self != NULL && strcmp(id, self) == 0) ||
		    mime_thread_has(*list, *n, id)) {
			free(id);
			continue;
		}
		*list = xreallocarray(*list, *n + 1, sizeof **list);
		(*list)[(*n)++] = id;
	}
	free(ids);
}

/*
 * The ancestors of a message, oldest first: see the top of this file.
 * self is its own id (or NULL). NULL and *n 0 when it names none.
 */
char **
mime_thread_refs(const char *references, const char *in_reply_to,
    const char *self, size_t *n)
{
	char	**list = NULL;
	size_t	 drop, i;

	*n = 0;
	/* mime_msgids keeps at most 1000 ids: the bound of the work here. */
	mime_thread_add(&list, n, (size_t)-1, references, self, 0);
	mime_thread_add(&list, n, (size_t)-1, in_reply_to, self, 1);
	if (*n > MIME_THREAD_REFS_MAX) {
		drop = *n - MIME_THREAD_REFS_MAX;
		for (i = 0; i < drop; i++)
			free(list[i]);
		memmove(list, list + drop, MIME_THREAD_REFS_MAX * sizeof *list);
		*n = MIME_THREAD_REFS_MAX;
	}
	return list;
}

/* Free what mime_thread_refs returned. */
void
mime_thread_refs_free(char **list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/*
 * If s starts with a reply or forward prefix (its colon included), return
 * what follows it; else NULL.
 */
static const char *
mime_thread_prefix(const char *s)
{
	const char	*p;
	size_t		 i, len;

	for (i = 0; mime_thread_prefixes[i] != NULL; i++) {
		len = strlen(mime_thread_prefixes[i]);
		if (strncasecmp(s, mime_thread_prefixes[i], len) == 0)
			break;
	}
	if (mime_thread_prefixes[i] == NULL)
		return NULL;
	p = s + len;
	/* A counter: "Re[2]:", "Re(2):", "Re^2:". */
	if (*p == '[' || *p == '(' || *p == '^') {
		char close = *p == '[' ? ']' : *p == '(' ? ')' : '\0';

		for (p++; isdigit((unsigned char)*p); p++)
			;
		if (close != '\0' && *p++ != close)
			return NULL;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == ':')
		return p + 1;
	if (strncmp(p, "\xef\xbc\x9a", 3) == 0)	/* "：" */
		return p + 3;
	return NULL;
}

/* Append text to out (at o) with whitespace folded and ASCII lowercased. */
static char *
mime_thread_fold(char *o, const char *s, size_t len, int *space)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (isspace((unsigned char)s[i])) {
			*space = 1;
			continue;
		}
		if (*space && o[-1] != '\0')
			*o++ = ' ';
		*space = 0;
		*o++ = tolower((unsigned char)s[i]);
	}
	return o;
}

/*
 * A subject's key (see the top of this file); *reply says whether a
 * reply or forward prefix was taken off. "" for no subject.
 */
char *
mime_thread_subject(const char *subject, int *reply)
{
	const char	*p = subject != NULL ? subject : "", *q, *end;
	char		*out, *o;
	int		 space = 0;

	*reply = 0;
	/*
	 * The key is at most twice as long as the subject: a space may
	 * follow each tag ("[a][b]" -> "[a] [b]"; found by fuzz-mime).
	 */
	out = xmalloc(2 * strlen(p) + 2);
	out[0] = '\0';
	o = out + 1;		/* out[0]: "nothing written yet" */
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if ((q = mime_thread_prefix(p)) != NULL) {
			*reply = 1;
			p = q;
			continue;
		}
		/* A leading tag, kept, when something follows it. */
		if (*p == '[' && (end = memchr(p, ']', strnlen(p,
		    MIME_THREAD_TAG_MAX))) != NULL && end[1] != '\0') {
			o = mime_thread_fold(o, p, end + 1 - p, &space);
			space = 1;
			p = end + 1;
			continue;
		}
		break;
	}
	o = mime_thread_fold(o, p, strlen(p), &space);
	*o = '\0';
	memmove(out, out + 1, o - out);
	return out;
}
