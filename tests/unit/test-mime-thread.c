/* Unit tests for mime-thread.c: ids, ancestors and subject keys. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mime-thread.h"
#include "tap.h"

/* The subject key of s is want, reply as told. */
static void
subject(const char *s, const char *want, int want_reply)
{
	char	*k;
	int	 reply;

	k = mime_thread_subject(s, &reply);
	ok(strcmp(k, want) == 0 && reply == want_reply,
	    "subject \"%s\" -> \"%s\" (%s), got \"%s\" (%s)", s, want,
	    want_reply ? "a reply" : "not a reply", k, reply ? "a reply" :
	    "not a reply");
	free(k);
}

/* The ancestors joined by spaces are want. */
static void
refs(const char *references, const char *irt, const char *self,
    const char *want, const char *what)
{
	char	**list, got[8192] = "";
	size_t	 i, n;

	list = mime_thread_refs(references, irt, self, &n);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, list[i]);
	}
	ok(strcmp(got, want) == 0, "%s: \"%s\", got \"%s\"", what, want, got);
	mime_thread_refs_free(list, n);
}

int
main(void)
{
	char	*big, **list, *id, tail[64];
	size_t	 i, n;

	subject("Meeting", "meeting", 0);
	subject("Re: Meeting", "meeting", 1);
	subject("RE: re:Fwd:  Meeting  notes ", "meeting notes", 1);
	subject("AW: SV: Antw: WG: TR: Meeting", "meeting", 1);
	subject("Re[2]: Re(3): Re^4: Meeting", "meeting", 1);
	subject("Re : Meeting", "meeting", 1);
	subject("Re\xef\xbc\x9a Meeting", "meeting", 1);
	subject("\xe5\x9b\x9e\xe5\xa4\x8d: Meeting", "meeting", 1);
	subject("[proj] Re: Meeting", "[proj] meeting", 1);
	subject("Re: [proj] Meeting", "[proj] meeting", 1);
	subject("[PROJ]", "[proj]", 0);
	subject("[a][b][c]x", "[a] [b] [c] x", 0);
	subject("[a]Re:[b]Re:[c]Re:x", "[a] [b] [c] x", 1);
	subject("[Re[2]: AW: SV:F] R\xef\xbc\x9a topic",
	    "[re[2] : aw: sv:f] r\xef\xbc\x9a topic", 0);
	subject("Reply needed", "reply needed", 0);
	subject("Re:", "", 1);
	subject("Re[x]: Meeting", "re[x]: meeting", 0);
	subject("", "", 0);
	subject(NULL, "", 0);
	subject("Caf\xc3\xa9 \t  Cr\xc3\xa8me", "caf\xc3\xa9 cr\xc3\xa8me", 0);

	id = mime_thread_id(" <a@x>  (comment) <b@x>");
	ok(id != NULL && strcmp(id, "<a@x>") == 0, "own id: the first");
	free(id);
	id = mime_thread_id("<a\r\n @x>");
	ok(id != NULL && strcmp(id, "<a@x>") == 0, "own id: folding removed");
	free(id);
	ok(mime_thread_id("<>") == NULL, "own id: <> is none");
	ok(mime_thread_id("no brackets") == NULL, "own id: none without <>");
	ok(mime_thread_id(NULL) == NULL, "own id: no field");

	refs("<a@x> <b@x>", "<b@x>", "<c@x>", "<a@x> <b@x>",
	    "References, In-Reply-To already last");
	refs(NULL, "<p@x> <q@x>", NULL, "<p@x>",
	    "In-Reply-To alone: its first id");
	refs("<a@x>", "<z@x>", NULL, "<a@x> <z@x>",
	    "In-Reply-To not in References: appended");
	refs("<a@x> <c@x> <b@x> <a@x> <c@x>", NULL, "<c@x>", "<a@x> <b@x>",
	    "self and repeats dropped (a loop cannot come in)");
	refs("garbage < <<x> >> <", "<unclosed", NULL, "<x>",
	    "garbage and unbalanced brackets");
	refs("", "", NULL, "", "empty fields");

	/* 1,000 ids (and more, which mime_msgids stops at): the last 50. */
	big = malloc(1200 * 24);
	big[0] = '\0';
	for (i = 0; i < 1200; i++)
		sprintf(big + strlen(big), "<id%zu@x> ", i);
	list = mime_thread_refs(big, NULL, NULL, &n);
	ok(n == MIME_THREAD_REFS_MAX, "at most %d ancestors (%zu)",
	    MIME_THREAD_REFS_MAX, n);
	snprintf(tail, sizeof tail, "<id%d@x>", 999);
	ok(n > 0 && strcmp(list[n - 1], tail) == 0 &&
	    strcmp(list[0], "<id950@x>") == 0,
	    "the nearest kept, in order (%s .. %s)", n ? list[0] : "",
	    n ? list[n - 1] : "");
	mime_thread_refs_free(list, n);

	/* An id longer than MIME_THREAD_ID_MAX is no id. */
	memset(big, 'x', 1000);
	big[0] = '<';
	strcpy(big + 1000, "@x>");
	list = mime_thread_refs(big, "<ok@x>", NULL, &n);
	ok(n == 1 && strcmp(list[0], "<ok@x>") == 0, "an id too long is none");
	mime_thread_refs_free(list, n);
	free(big);
	return tap_done();
}
