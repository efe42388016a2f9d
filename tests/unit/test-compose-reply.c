/*
 * What a reply or forward takes from the original (compose-reply.c): the
 * subject's prefixes, References and their trimming, the recipients of a
 * reply and a reply to all, unflowing format=flowed text, quoting, the
 * attribution line and the forwarded block.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/compose.h"
#include "tap.h"

/* The subject of a reply (fwd 0) or forward to s is want. */
static void
subject(const char *s, int fwd, const char *want)
{
	char	*got = compose_reply_subject(s, fwd);

	ok(strcmp(got, want) == 0, "subject \"%s\" -> \"%s\" (got \"%s\")",
	    s != NULL ? s : "(none)", want, got);
	free(got);
}

/* Strings compare equal, said with a name. */
static void
same(const char *what, char *got, const char *want)
{
	char	*p;

	if (!ok(got != NULL && strcmp(got, want) == 0, "%s", what) &&
	    got != NULL) {
		for (p = got; *p != '\0'; p++)
			if (*p == '\n')
				*p = '|';
		printf("# got \"%s\"\n", got);
	}
	free(got);
}

/* The addr members of a list of mailboxes, joined by spaces. */
static char *
addrs(json_t *list)
{
	json_t	*v;
	char	*s = strdup(""), *t;
	size_t	 i;

	json_array_foreach(list, i, v) {
		if (asprintf(&t, "%s%s%s", s, i > 0 ? " " : "",
		    json_string_value(json_object_get(v, "addr"))) == -1)
			abort();
		free(s);
		s = t;
	}
	return s;
}

static void
test_subjects(void)
{
	subject("Re: Re: plan", 0, "Re: plan");
	subject("RE: Re[2]: long thread", 0, "Re: long thread");
	subject("AW: Sitzung", 0, "Re: Sitzung");
	subject("SV: Svar: möte", 0, "Re: möte");
	subject("Antw: Odp: VS: x", 0, "Re: x");
	subject("Re(3): Re^2: x", 0, "Re: x");
	subject("Re : French", 0, "Re: French");
	subject("Re:no space", 0, "Re: no space");
	subject("\xe5\x9b\x9e\xe5\xa4\x8d\xef\xbc\x9a \xe4\xbd\xa0\xe5\xa5\xbd",
	    0, "Re: \xe4\xbd\xa0\xe5\xa5\xbd");
	subject("\xce\x91\xce\xa0: \xce\xb3\xce\xb5\xce\xb9\xce\xb1", 0,
	    "Re: \xce\xb3\xce\xb5\xce\xb9\xce\xb1");
	subject("Re: Fwd: Re: kept", 0, "Re: Fwd: Re: kept");
	subject("Fwd: report", 0, "Re: Fwd: report");
	subject("Renovation: plans", 0, "Re: Renovation: plans");
	subject("Research", 0, "Re: Research");
	subject("Res: x", 0, "Re: x");
	subject("Re[x]: not a count", 0, "Re: Re[x]: not a count");
	subject("", 0, "Re:");
	subject(NULL, 0, "Re:");
	subject("  Re:  spaced  ", 0, "Re: spaced");
	subject("line\tbreak\x01", 0, "Re: line break ");
	subject("Fwd: FW: WG: report", 1, "Fwd: report");
	subject("Re: report", 1, "Fwd: Re: report");
	subject("TR: transfert", 1, "Fwd: transfert");
	subject("Tree: x", 1, "Fwd: Tree: x");
}

static void
test_references(void)
{
	json_t	*refs = json_array();
	char	*got;
	int	 i;

	same("no References, no Message-ID", compose_reply_references(refs,
	    NULL) == NULL ? strdup("none") : strdup("some"), "none");
	same("Message-ID alone", compose_reply_references(refs, "<m@x>"),
	    "<m@x>");
	json_array_append_new(refs, json_string("<a@x>"));
	json_array_append_new(refs, json_string("not an id"));
	json_array_append_new(refs, json_string("<b c@x>"));
	json_array_append_new(refs, json_string("<a@x>"));
	json_array_append_new(refs, json_string("<b@x>"));
	same("bad and repeated ids left out", compose_reply_references(refs,
	    "<m@x>"), "<a@x> <b@x> <m@x>");
	same("a Message-ID in References goes last",
	    compose_reply_references(refs, "<a@x>"), "<b@x> <a@x>");
	json_array_clear(refs);
	for (i = 0; i < 40; i++) {
		char	 id[32];

		snprintf(id, sizeof id, "<r%d@x>", i);
		json_array_append_new(refs, json_string(id));
	}
	got = compose_reply_references(refs, "<m@x>");
	ok(got != NULL && strncmp(got, "<r0@x> <r22@x> ", 15) == 0 &&
	    strcmp(got + strlen(got) - 13, "<r39@x> <m@x>") == 0,
	    "41 ids trimmed to the first and the last 19 (got \"%s\")", got);
	free(got);
	json_array_clear(refs);
	for (i = 0; i < 10; i++) {
		char	 id[200];

		memset(id, 'a', sizeof id);
		id[0] = '<';
		snprintf(id + 150, 50, "%d@x>", i);
		json_array_append_new(refs, json_string(id));
	}
	got = compose_reply_references(refs, "<m@x>");
	ok(got != NULL && strlen(got) <= 900, "long ids: at most 900 bytes "
	    "(%zu)", got != NULL ? strlen(got) : 0);
	free(got);
	json_decref(refs);
}

static void
test_rcpts(void)
{
	json_t	*orig, *own, *r;

	orig = json_loads("{\"reply_to\": [], \"from\": [{\"name\": \"Bob\", "
	    "\"addr\": \"bob@x\"}], \"to\": [{\"name\": \"\", \"addr\": "
	    "\"ME@x\"}, {\"name\": \"Carol\", \"addr\": \"carol@x\"}], \"cc\": "
	    "[{\"name\": \"\", \"addr\": \"alias@x\"}, {\"name\": \"B\", "
	    "\"addr\": \"Bob@x\"}, {\"name\": \"Dave\\u0001\", \"addr\": "
	    "\"dave@x\"}, {\"name\": \"\", \"addr\": \"carol@x\"}]}", 0, NULL);
	own = json_pack("[s, s]", "me@x", "alias@x");
	r = compose_reply_rcpts(orig, own, 0);
	same("reply: To is From", addrs(json_object_get(r, "to")), "bob@x");
	same("reply: no Cc", addrs(json_object_get(r, "cc")), "");
	json_decref(r);
	r = compose_reply_rcpts(orig, own, 1);
	same("reply to all: To is From", addrs(json_object_get(r, "to")),
	    "bob@x");
	same("reply to all: Cc the others once, none of ours",
	    addrs(json_object_get(r, "cc")), "carol@x dave@x");
	ok(strcmp(json_string_value(json_object_get(json_array_get(
	    json_object_get(r, "cc"), 1), "name")), "Dave ") == 0,
	    "a control character in a name becomes a space");
	json_decref(r);
	json_array_append_new(json_object_get(orig, "reply_to"), json_pack(
	    "{s:s, s:s}", "name", "List", "addr", "list@x"));
	r = compose_reply_rcpts(orig, own, 0);
	same("Reply-To wins", addrs(json_object_get(r, "to")), "list@x");
	json_decref(r);
	json_decref(orig);
	orig = json_loads("{\"from\": [{\"name\": \"\", \"addr\": \"me@x\"}], "
	    "\"to\": [{\"name\": \"Erin\", \"addr\": \"erin@x\"}]}", 0, NULL);
	r = compose_reply_rcpts(orig, own, 0);
	same("a reply to our own mail goes to its To",
	    addrs(json_object_get(r, "to")), "erin@x");
	json_decref(r);
	json_decref(orig);
	json_decref(own);
}

static void
test_text(void)
{
	same("unflow: soft breaks joined", compose_reply_unflow("a long \n"
	    "line\nhard\n", 0), "a long line\nhard\n");
	same("unflow: delsp removes the space", compose_reply_unflow("ab \ncd"
	    "\n", 1), "abcd\n");
	same("unflow: stuffing removed", compose_reply_unflow(" From me\n",
	    0), "From me\n");
	same("unflow: quote depth kept, joined within it",
	    compose_reply_unflow("> one \n> two\n>> deep \n>> er\n", 0),
	    "> one two\n>> deep er\n");
	same("unflow: a change of depth ends a paragraph",
	    compose_reply_unflow("> open \nplain\n", 0), "> open \nplain\n");
	same("unflow: the signature separator stays",
	    compose_reply_unflow("-- \nsig\n", 0), "-- \nsig\n");
	same("unflow: a last soft line is ended", compose_reply_unflow("end ",
	    0), "end \n");
	same("quote", compose_reply_quote("X wrote:", "a\n\n> b\nc", 100),
	    "X wrote:\n> a\n>\n>> b\n> c\n");
	same("quote: cut at max", compose_reply_quote("X wrote:", "aaaa\nbbbb"
	    "\ncccc\n", 8), "X wrote:\n> aaaa\n> [...]\n");
	same("attribution", compose_reply_attribution("Mon, 1 Jun 2026",
	    "Bob"), "On Mon, 1 Jun 2026, Bob wrote:");
	same("attribution without a date", compose_reply_attribution(NULL,
	    "bob@x"), "bob@x wrote:");
	same("attribution: controls become spaces",
	    compose_reply_attribution("a\nb", "c\rd"), "On a b, c d wrote:");
	same("forwarded block", compose_reply_forward((const char *[]){
	    "From", "Bob <b@x>", "Date", NULL, "Subject", "hi", NULL },
	    "text", 100), "---------- Forwarded message ----------\n"
	    "From: Bob <b@x>\nSubject: hi\n\ntext\n");
	same("forwarded block: text cut on a character",
	    compose_reply_forward((const char *[]){ NULL }, "\xc3\xa9\xc3\xa9",
	    3), "---------- Forwarded message ----------\n\n\xc3\xa9\n"
	    "[...]\n");
}

int
main(void)
{
	test_subjects();
	test_references();
	test_rcpts();
	test_text();
	return tap_done();
}
