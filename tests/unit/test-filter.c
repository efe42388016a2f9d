/*
 * Unit tests of the filing rules (daemon/filter.c): priority, each field,
 * case folding over Unicode, body text decoded from its transfer encoding,
 * and of the two small readers the store uses with them (mime_date,
 * mime_safe_filename).
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/filter.h"
#include "daemon/mime.h"
#include "tap.h"

/* The folder a message (headers and body as text) is filed into. */
static const char *
file_into(const struct filter *f, const char *text)
{
	static char	 folder[64];
	struct mime_msg	*m;
	char		*cause = NULL, *from, *subject;

	m = mime_parse(text, strlen(text), &cause);
	if (m == NULL)
		return "(parse error)";
	from = mime_header(m, "from") ? mime_decode_header(mime_header(m,
	    "from")) : NULL;
	subject = mime_header(m, "subject") ? mime_decode_header(
	    mime_header(m, "subject")) : NULL;
	snprintf(folder, sizeof folder, "%s", filter_folder(f, from, subject,
	    m, NULL));
	free(from);
	free(subject);
	mime_free(m);
	return folder;
}

static void
test_default_rules(void)
{
	struct config	*cf;
	struct filter	*f;
	char		*cause = NULL;
	int		 notify = -1;

	/* No "filters" key: the built-in rules of the original assignment. */
	cf = config_parse("{}", 2, NULL, &cause);
	if (!ok(cf != NULL, "empty config parses (%s)", cause ? cause : ""))
		return;
	f = filter_new(cf->filters, cf->nfilters);
	ok(strcmp(file_into(f, "From: a@x\nSubject: You won a meeting\n\nhi\n"),
	    "Spam") == 0, "Spam beats Work when both match");
	ok(strcmp(file_into(f, "From: Boss <BOSS@example.test>\nSubject: "
	    "[project] report\n\nx\n"), "Project") == 0,
	    "Project beats Important and Work");
	ok(strcmp(file_into(f, "From: Boss <BOSS@Example.Test>\nSubject: hi\n"
	    "\nx\n"), "Important") == 0, "from matches ignoring case");
	ok(strcmp(file_into(f, "From: a@x\nSubject: Weekly REPORT\n\nx\n"),
	    "Work") == 0, "subject matches ignoring case");
	ok(strcmp(file_into(f, "From: a@x\nSubject: hello\n\nnothing\n"),
	    "Inbox") == 0, "no match: Inbox");
	ok(strcmp(file_into(f, "From: a@x\n\n\n"), "Inbox") == 0,
	    "no subject, no body: Inbox");
	ok(strcmp(file_into(f, "From: a@x\nSubject: hi\nContent-Type: text/"
	    "plain\nContent-Transfer-Encoding: base64\n\n"
	    "UGxlYXNlIHNlbmQgYSBXSVJFIFRSQU5TRkVSIHRvZGF5Lgo=\n"), "Spam") == 0,
	    "body keyword found in base64 text");
	ok(strcmp(file_into(f, "From: a@x\nSubject: hi\nContent-Type: text/"
	    "plain\nContent-Transfer-Encoding: quoted-printable\n\n"
	    "a wire tra=\nnsfer=3D now\n"), "Spam") == 0,
	    "body keyword across a quoted-printable soft break");
	ok(strcmp(file_into(f, "From: a@x\nSubject: hi\nContent-Type: "
	    "multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
	    "hello\n--b\nContent-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n\nd2lyZSB0cmFuc2Zlcg==\n--b--\n"),
	    "Inbox") == 0, "a keyword in an attachment is not body text");
	ok(strcmp(file_into(f, "From: a@x\nSubject: hi\nContent-Type: text/html"
	    "\n\n<p>Wire <b>Transfer</b></p>\n"), "Spam") == 0,
	    "keyword across HTML markup: matched in the text");
	ok(strcmp(file_into(f, "From: a@x\nSubject: hi\nContent-Type: text/html"
	    "\n\n<p>urgent wire transfer</p>\n"), "Spam") == 0,
	    "keyword in the text of an HTML-only body");
	filter_folder(f, "lottery@x", NULL, NULL, &notify);
	ok(notify == 0, "the Spam rule does not notify");
	filter_folder(f, "a@x", "hi", NULL, &notify);
	ok(notify == 1, "Inbox notifies");
	filter_free(f);
	config_free(cf);
}

static void
test_custom_rules(void)
{
	static const char json[] = "{\"filters\": ["
	    "{\"folder\": \"Réunions\", \"subject\": [\"RÉUNION\"]},"
	    "{\"folder\": \"Family\", \"body\": [\"grandma\"]},"
	    "{\"folder\": \"Shop\", \"from\": [\"Shop@\"], \"notify\": false}]}";
	struct config	*cf;
	struct filter	*f, *g;
	const char	**folders;
	char		*cause = NULL, *s;

	cf = config_parse(json, strlen(json), NULL, &cause);
	if (!ok(cf != NULL, "custom rules parse (%s)", cause ? cause : ""))
		return;
	f = filter_new(cf->filters, cf->nfilters);
	ok(strcmp(file_into(f, "From: a@x\nSubject: =?utf-8?q?r=C3=A9union_"
	    "d=27=C3=A9quipe?=\n\nx\n"), "Réunions") == 0,
	    "encoded-word subject matches a keyword in another case (É/é)");
	ok(strcmp(file_into(f, "From: a@x\nSubject: x\n\nLove, GRANDMA\n"),
	    "Family") == 0, "body rule");
	ok(strcmp(file_into(f, "From: \"The Shop\" <shop@store.test>\n"
	    "Subject: receipt\n\nx\n"), "Shop") == 0, "from rule");
	ok(strcmp(file_into(f, "From: a@x\nSubject: grandma\n\nx\n"),
	    "Inbox") == 0, "a body keyword does not match the subject");
	ok(filter_folders(f, &folders) == 3 && strcmp(folders[0],
	    "Réunions") == 0 && strcmp(folders[2], "Shop") == 0,
	    "the rules' folders, in order");
	/* A reference outlives the configuration it came from. */
	g = filter_ref(f);
	filter_free(f);
	config_free(cf);
	ok(strcmp(file_into(g, "From: shop@x\n\n\n"), "Shop") == 0,
	    "a referenced filter outlives the config");
	filter_free(g);

	s = filter_fold("ÀÉÎÕÜ ĞŞ ΣΑΣ Ж ABC\xff");
	ok(strcmp(s, "àéîõü ğş σασ ж abc\xff") == 0, "fold: %s", s);
	free(s);
	/* Two-byte characters folding to one byte and to three. */
	s = filter_fold("\xc4\xb0stanbul \xc8\xba\xc8\xbe \xc3");
	ok(strcmp(s, "istanbul \xe2\xb1\xa5\xe2\xb1\xa6 \xc3") == 0,
	    "fold: İ to i, Ⱥ Ⱦ to three bytes, a cut sequence kept");
	free(s);
	ok(strcmp(file_into(NULL, "From: a@x\n\n\n"), "Inbox") == 0,
	    "no rules at all: Inbox");
}

/*
 * A message whose text body is pad bytes of filler (which holds no
 * keyword) followed by tail, in the given charset and transfer encoding.
 */
static char *
padded(const char *ctype, size_t pad, const char *tail)
{
	static const char	 head[] = "From: a@x\nSubject: hi\n";
	char			*m, *p;
	size_t			 i, hl;

	hl = strlen(head) + strlen(ctype) + 2;
	m = malloc(hl + pad + strlen(tail) + 1);
	p = m + sprintf(m, "%s%s\n\n", head, ctype);
	for (i = 0; i < pad; i++)
		p[i] = i % 61 == 60 ? '\n' : "Lorem ipsum dolor sit amet "[i % 27];
	strcpy(p + pad, tail);
	return m;
}

/* Is the padded message (see padded()) filed into want? */
static int
padded_into(const struct filter *f, const char *ctype, size_t pad,
    const char *tail, const char *want)
{
	char	*m = padded(ctype, pad, tail);
	int	 r = strcmp(file_into(f, m), want) == 0;

	free(m);
	return r;
}

static void
test_body_chunks(void)
{
	static const char json[] = "{\"filters\": ["
	    "{\"folder\": \"A\", \"subject\": [\"alpha\"]},"
	    "{\"folder\": \"Rendez\", \"body\": [\"réunion d'équipe\"]},"
	    "{\"folder\": \"Kelvin\", \"body\": [\"kk\", \"zz top\"]},"
	    "{\"folder\": \"Late\", \"subject\": [\"hi\"]}]}";
	static const char utf8[] = "Content-Type: text/plain; charset=utf-8";
	static const size_t cuts[] = { 65536 - 20, 65536 - 9, 65536 - 8,
	    65536 - 1, 65536, 65536 + 1, 3 * 65536 - 5 };
	struct config	*cf;
	struct filter	*f;
	char		*cause = NULL, ref[256], *s;
	size_t		 i, j, k, n;
	int		 good;

	cf = config_parse(json, strlen(json), NULL, &cause);
	if (!ok(cf != NULL, "chunk rules parse (%s)", cause ? cause : ""))
		return;
	f = filter_new(cf->filters, cf->nfilters);
	/* A keyword across each place the body is cut into folded chunks. */
	for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
		ok(padded_into(f, utf8, cuts[i] - 7, " RÉUNION D'ÉQUIPE demain\n",
		    "Rendez"), "keyword in capitals across a chunk cut at %zu",
		    cuts[i]);
	ok(padded_into(f, utf8, 65536 - 1, "É réunion d'ÉQUIPE\n", "Rendez"),
	    "a two-byte character astride the chunk end is not cut");
	/* KELVIN SIGN (3 bytes) folds to a one-byte 'k'. */
	ok(padded_into(f, utf8, 65536 - 2, "\xe2\x84\xaa\xe2\x84\xaa\n",
	    "Kelvin"), "a keyword that folds from longer characters");
	ok(padded_into(f, utf8, 200, "\xff\xfeZZ \xc3TOP\n", "Late"),
	    "invalid bytes are kept and match nothing");
	ok(padded_into(f, utf8, 200, "\xff ZZ TOP\n", "Kelvin"),
	    "a keyword after an invalid byte");
	/* Past FILTER_BODY_MAX nothing is looked at. */
	ok(padded_into(f, utf8, FILTER_BODY_MAX + 10, "zz top\n", "Late"),
	    "a keyword past the first %d bytes is not looked for",
	    FILTER_BODY_MAX);
	ok(padded_into(f, utf8, FILTER_BODY_MAX - 20, "zz top\n", "Kelvin"),
	    "a keyword just inside the first %d bytes is", FILTER_BODY_MAX);
	/* No charset and not UTF-8: read as ISO-8859-1. */
	ok(padded_into(f, "Content-Type: text/plain", 70000,
	    "R\xc9UNION D'\xc9QUIPE\n", "Rendez"),
	    "a body in 8-bit ASCII that is not UTF-8 reads as Latin-1");
	ok(padded_into(f, "Content-Type: text/plain; charset=iso-8859-1",
	    70000, "r\xe9union d'\xe9quipe\n", "Rendez"),
	    "a body in ISO-8859-1 is converted before the search");
	/* Rule order holds across header and body rules. */
	ok(padded_into(f, utf8, 100000, "zz top\n", "Kelvin"),
	    "an earlier body rule beats a later subject rule");
	ok(strcmp(file_into(f, "From: a@x\nSubject: Alpha\n\nzz top\n"),
	    "A") == 0, "a subject rule before the body rules decides first");
	filter_free(f);
	config_free(cf);

	/* The eight-at-a-time ASCII fold against one byte at a time. */
	good = 1;
	for (k = 0; k < 128 && good; k++) {
		for (j = 0; j < 17; j++) {
			n = 0;
			for (i = 0; i < 40; i++)
				ref[n++] = (char)((k + i * 7 + j) % 127 + 1);
			ref[n] = '\0';
			s = filter_fold(ref);
			for (i = 0; i < n; i++) {
				char want = ref[i] >= 'A' && ref[i] <= 'Z' ?
				    ref[i] + 32 : ref[i];
				if (s[i] != want)
					good = 0;
			}
			if (s[n] != '\0')
				good = 0;
			free(s);
		}
	}
	ok(good, "ASCII folding: every byte, every alignment");
}

/* Compile one rule: body keyword kw files into "X". */
static struct filter *
one_body_rule(const char *kw, struct config **cf)
{
	char	 json[1024], *cause = NULL;

	snprintf(json, sizeof json, "{\"filters\": [{\"folder\": \"X\", "
	    "\"body\": [\"%s\"]}]}", kw);
	if ((*cf = config_parse(json, strlen(json), NULL, &cause)) == NULL) {
		free(cause);
		return NULL;
	}
	return filter_new((*cf)->filters, (*cf)->nfilters);
}

/* Is a message with this body filed into "X" by f? */
static int
body_hits(const struct filter *f, const char *body)
{
	char	 m[1024];

	snprintf(m, sizeof m, "From: a@x\nSubject: s\nContent-Type: text/plain;"
	    " charset=utf-8\n\n%s", body);
	return strcmp(file_into(f, m), "X") == 0;
}

static void
test_body_ascii(void)
{
	static const char json[] = "{\"filters\": ["
	    "{\"folder\": \"I\", \"body\": [\"wire transfer\"]},"
	    "{\"folder\": \"K\", \"body\": [\"kk\"]},"
	    "{\"folder\": \"Late\", \"subject\": [\"hi\"]}]}";
	struct config	*cf;
	struct filter	*f;
	char		 text[128], kw[8], big[301], body[301], *cause = NULL;
	size_t		 i, j, n, agree = 0, hits = 0;
	unsigned int	 seed = 7;

	cf = config_parse(json, strlen(json), NULL, &cause);
	if (!ok(cf != NULL, "ASCII rules parse (%s)", cause ? cause : ""))
		return;
	f = filter_new(cf->filters, cf->nfilters);
	ok(strcmp(file_into(f, "Subject: hi\n\nWIRE TRANSFER"), "I") == 0,
	    "ASCII keyword: capitals, the whole body");
	ok(strcmp(file_into(f, "Subject: hi\n\nx Wire\tTransfer"), "Late")
	    == 0, "ASCII keyword: a tab is not a space");
	ok(strcmp(file_into(f, "Subject: hi\n\nwire transfe"), "Late") == 0,
	    "ASCII keyword: cut short at the end of the body");
	ok(strcmp(file_into(f, "Subject: hi\n\nwire"), "Late") == 0,
	    "ASCII keyword: a body shorter than the keyword");
	ok(strcmp(file_into(f, "Subject: hi\nContent-Type: text/plain; "
	    "charset=utf-8\n\nW\xc4\xb0RE TRANSFER"), "I") == 0,
	    "ASCII keyword: U+0130 in the text folds to 'i'");
	ok(strcmp(file_into(f, "Subject: hi\nContent-Type: text/plain; "
	    "charset=utf-8\n\n\xe2\x84\xaa\xe2\x84\xaa"), "K") == 0,
	    "ASCII keyword: KELVIN SIGN in the text folds to 'k'");
	ok(strcmp(file_into(f, "Subject: hi\nContent-Type: text/plain; "
	    "charset=utf-8\n\nw\xc3\xafre transfer kK"), "K") == 0,
	    "ASCII keyword: another letter with a diaeresis stays itself");
	filter_free(f);
	config_free(cf);

	/* Against a plain case-blind search, on random texts over {a,b,A,B}. */
	for (i = 0; i < 400; i++) {
		n = 1 + rand_r(&seed) % 5;
		for (j = 0; j < n; j++)
			kw[j] = "ab"[rand_r(&seed) % 2];
		kw[n] = '\0';
		n = rand_r(&seed) % 100;
		for (j = 0; j < n; j++)
			text[j] = "abAB"[rand_r(&seed) % 4];
		text[n] = '\0';
		if ((f = one_body_rule(kw, &cf)) == NULL)
			break;
		if (body_hits(f, text) == (strcasestr(text, kw) != NULL))
			agree++;
		hits += strcasestr(text, kw) != NULL;
		filter_free(f);
		config_free(cf);
	}
	ok(agree == 400 && hits > 50 && hits < 350, "ASCII keyword search "
	    "agrees with strcasestr on %zu of 400 random texts (%zu hits)",
	    agree, hits);
	/* A keyword longer than the 255 a shift can hold. */
	for (j = 0; j < 300; j++) {
		big[j] = "abcdefghij"[j % 10];
		body[j] = big[j] - 32;
	}
	big[300] = body[300] = '\0';
	f = one_body_rule(big, &cf);
	ok(f != NULL && body_hits(f, body), "a 300-byte ASCII keyword");
	body[150] = 'x';
	ok(f != NULL && !body_hits(f, body),
	    "a 300-byte ASCII keyword, one byte different");
	filter_free(f);
	config_free(cf);
}

static void
test_dates(void)
{
	static const struct {
		const char	*in;
		long long	 want;	/* -1: refused */
	} cases[] = {
		{ "Sun, 22 Nov 2026 10:00:00 +0100", 1795338000 },
		{ "22 Nov 2026 09:00:00 +0000", 1795338000 },
		{ "Sun, 22 Nov 2026 04:00:00 -0500 (EST)", 1795338000 },
		{ "Sun, 22 Nov 2026 04:00:00 EST", 1795338000 },
		{ "Sun,  22  November  2026  09:00  GMT", 1795338000 },
		{ "Mon, 1 Jan 24 10:00:00 +0000", 1704103200 },
		{ "(comment) Mon, 1 Jan 2024 10:00:00 +0000", 1704103200 },
		{ "Mon, 1 Jan 2024 10:00:60 +0000", 1704103259 },
		{ "1 Jan 2024", -1 },
		{ "Mon, 32 Jan 2024 10:00:00 +0000", -1 },
		{ "Mon, 1 Foo 2024 10:00:00 +0000", -1 },
		{ "Mon, 1 Jan 2024 25:00:00 +0000", -1 },
		{ "", -1 },
		{ "garbage", -1 },
	};
	time_t	 t;
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		t = 0;
		rc = mime_date(cases[i].in, &t);
		if (cases[i].want == -1)
			ok(rc == -1, "date refused: \"%s\"", cases[i].in);
		else
			ok(rc == 0 && t == cases[i].want, "date \"%s\" = %lld "
			    "(got %lld)", cases[i].in, cases[i].want,
			    (long long)t);
	}
	ok(mime_date(NULL, &t) == -1, "no date");
}

static void
test_safe_names(void)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "report.pdf", "report.pdf" },
		{ "../../x", "x" },
		{ "/etc/passwd", "passwd" },
		{ "C:\\Windows\\evil.exe", "evil.exe" },
		{ ".bashrc", "_bashrc" },
		{ "..", "attachment-3" },
		{ ".", "attachment-3" },
		{ "dir/", "attachment-3" },
		{ "", "attachment-3" },
		{ "a\nb\rc\td\x1b[31m.txt", "a_b_c_d_[31m.txt" },
		{ "-rf", "_rf" },
		{ "résumé.pdf", "résumé.pdf" },
	};
	char	*s, *long_name;
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s = mime_safe_filename(cases[i].in, 3);
		ok(strcmp(s, cases[i].want) == 0, "safe name %zu: \"%s\" (want "
		    "\"%s\")", i, s, cases[i].want);
		free(s);
	}
	s = mime_safe_filename(NULL, 7);
	ok(strcmp(s, "attachment-7") == 0, "no name: %s", s);
	free(s);
	long_name = malloc(10001);
	memset(long_name, 'a', 10000);
	memcpy(long_name + 9996, ".pdf", 5);
	s = mime_safe_filename(long_name, 1);
	ok(strlen(s) == MIME_FILENAME_MAX && strcmp(s + strlen(s) - 4,
	    ".pdf") == 0, "a 10,000-byte name is cut to %d, keeping .pdf",
	    MIME_FILENAME_MAX);
	free(s);
	/* A cut never splits a UTF-8 character. */
	for (i = 0; i < 5000; i++)
		memcpy(long_name + i * 2, "é", 2);
	long_name[10000] = '\0';
	s = mime_safe_filename(long_name, 1);
	ok(strlen(s) <= MIME_FILENAME_MAX && strlen(s) % 2 == 0,
	    "a long UTF-8 name is cut between characters (%zu bytes)",
	    strlen(s));
	free(s);
	free(long_name);
}

int
main(void)
{
	test_default_rules();
	test_custom_rules();
	test_body_chunks();
	test_body_ascii();
	test_dates();
	test_safe_names();
	return tap_done();
}
