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

/*
 * The prefixes of a reply or a forward, before their colon, in many
 * languages (ASCII ones match in any case): English and Latin "Re",
 * German "AW", Scandinavian "SV" and "Svar", Dutch "Antw", Polish "Odp",
 * Finnish "VS", Turkish "YNT", Italian "RIF", Portuguese "RES", Latvian
 * "Atb", Greek, Russian and Chinese ones; "Fwd", "Fw", German "WG",
 * French "TR", Finnish "VL", Spanish "RV", Portuguese "Enc", Dutch
 * "Doorst", Polish "PD", Chinese ones.
 */
static const struct {
	const char	*word;
	int		 kind;
} mime_prefixes[] = {
	{ "re", MIME_PREFIX_REPLY }, { "aw", MIME_PREFIX_REPLY },
	{ "sv", MIME_PREFIX_REPLY }, { "svar", MIME_PREFIX_REPLY },
	{ "antw", MIME_PREFIX_REPLY }, { "antwort", MIME_PREFIX_REPLY },
	{ "odp", MIME_PREFIX_REPLY }, { "vs", MIME_PREFIX_REPLY },
	{ "ynt", MIME_PREFIX_REPLY }, { "rif", MIME_PREFIX_REPLY },
	{ "res", MIME_PREFIX_REPLY }, { "atb", MIME_PREFIX_REPLY },
	{ "ref", MIME_PREFIX_REPLY },
	{ "\xce\x91\xce\xa0", MIME_PREFIX_REPLY },	/* ΑΠ */
	{ "\xce\x91\xcf\x80", MIME_PREFIX_REPLY },	/* Απ */
	{ "\xce\xb1\xcf\x80", MIME_PREFIX_REPLY },	/* απ */
	{ "\xd0\x9e\xd1\x82\xd0\xb2", MIME_PREFIX_REPLY },	/* Отв */
	{ "\xd0\x9e\xd0\xa2\xd0\x92", MIME_PREFIX_REPLY },	/* ОТВ */
	{ "\xe5\x9b\x9e\xe5\xa4\x8d", MIME_PREFIX_REPLY },	/* 回复 */
	{ "\xe5\x9b\x9e\xe8\xa6\x86", MIME_PREFIX_REPLY },	/* 回覆 */
	{ "\xe7\xad\x94\xe5\xa4\x8d", MIME_PREFIX_REPLY },	/* 答复 */
	{ "fwd", MIME_PREFIX_FORWARD }, { "fw", MIME_PREFIX_FORWARD },
	{ "wg", MIME_PREFIX_FORWARD }, { "tr", MIME_PREFIX_FORWARD },
	{ "vl", MIME_PREFIX_FORWARD }, { "rv", MIME_PREFIX_FORWARD },
	{ "enc", MIME_PREFIX_FORWARD }, { "doorst", MIME_PREFIX_FORWARD },
	{ "pd", MIME_PREFIX_FORWARD },
	{ "\xe8\xbd\xac\xe5\x8f\x91", MIME_PREFIX_FORWARD },	/* 转发 */
	{ "\xe8\xbd\x89\xe5\xaf\x84", MIME_PREFIX_FORWARD },	/* 轉寄 */
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
 * After a prefix's word at s: the length of its counter ("[2]", "(2)",
 * "^2"), blanks, colon (or a full-width one) and the blanks after it; 0
 * when no colon comes.
 */
static size_t
mime_prefix_end(const char *s)
{
	const char	*p = s;
	char		 close;
	size_t		 n;

	if (*p == '[' || *p == '(' || *p == '^') {
		close = *p == '[' ? ']' : *p == '(' ? ')' : '\0';
		n = strspn(p + 1, "0123456789");
		if (n == 0 || n > 6 || (close != '\0' && p[1 + n] != close))
			return 0;
		p += 1 + n + (close != '\0');
	}
	p += strspn(p, " \t");
	if (*p == ':')
		p++;
	else if (strncmp(p, "\xef\xbc\x9a", 3) == 0)	/* "：" */
		p += 3;
	else
		return 0;
	return p + strspn(p, " \t") - s;
}

/*
 * The length of a prefix at s of the kinds asked for (MIME_PREFIX_REPLY,
 * MIME_PREFIX_FORWARD): "Re:", "RE :", "Re[2]:", "AW:", "Fwd:", "回复：",
 * the blanks after it included; 0 when none leads.
 */
size_t
mime_subject_prefix(const char *s, int kinds)
{
	size_t	 i, n, end;

	for (i = 0; i < sizeof mime_prefixes / sizeof mime_prefixes[0]; i++) {
		if ((mime_prefixes[i].kind & kinds) == 0)
			continue;
		n = strlen(mime_prefixes[i].word);
		if (strncasecmp(s, mime_prefixes[i].word, n) == 0 &&
		    (end = mime_prefix_end(s + n)) > 0)
			return n + end;
	}
	return 0;
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
	const char	*p = subject != NULL ? subject : "", *end;
	char		*out, *o;
	size_t		 n;
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
		if ((n = mime_subject_prefix(p, MIME_PREFIX_REPLY |
		    MIME_PREFIX_FORWARD)) > 0) {
			*reply = 1;
			p += n;
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
