/*
 * Unit tests for daemon/compose*.c: address checks, refused header
 * injection, encoded words, body encodings, attachments and their limits.
 * Messages are written to temporary files, read back, and where it helps
 * read again with daemon/mime*.c.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "daemon/compose.h"
#include "daemon/mime.h"
#include "tap.h"

static char	 tmpdir[] = "/tmp/test-compose.XXXXXX";

/* Return a template message: From, one To, a short body. */
static struct compose
base(void)
{
	static const char	*to[] = { "bob@example.test", NULL };
	struct compose		 c;

	memset(&c, 0, sizeof c);
	c.from_addr = "alice@example.test";
	c.to = to;
	c.subject = "Hello";
	c.body = "Hi Bob.\n";
	c.body_len = strlen(c.body);
	c.attachment_max = 3 * 1024 * 1024;
	c.user_agent = "mailctl/test";
	c.date = 1795338000;
	return c;
}

/* Compose into a temporary file; return its text, or NULL with *cause. */
static char *
compose(const struct compose *c, char **id, char **cause)
{
	char	 path[64], *buf, *msgid = NULL;
	int	 fd;
	off_t	 size;

	snprintf(path, sizeof path, "%s/msg.XXXXXX", tmpdir);
	if ((fd = mkstemp(path)) == -1)
		abort();
	unlink(path);
	*cause = NULL;
	if (compose_write(c, fd, &msgid, cause) != 0) {
		size = lseek(fd, 0, SEEK_END);
		close(fd);
		if (size != 0)
			printf("# %lld bytes written despite the error\n",
			    (long long)size);
		return size == 0 ? NULL : xstrdup("");
	}
	size = lseek(fd, 0, SEEK_END);
	buf = xmalloc(size + 1);
	if (pread(fd, buf, size, 0) != size)
		abort();
	buf[size] = '\0';
	close(fd);
	if (id != NULL)
		*id = msgid;
	else
		free(msgid);
	return buf;
}

/* Compose, expecting success. */
static char *
compose_ok(const struct compose *c)
{
	char	*cause, *msg;

	if ((msg = compose(c, NULL, &cause)) == NULL) {
		printf("# compose failed: %s\n", cause);
		free(cause);
		msg = xstrdup("");
	}
	return msg;
}

/* Check that composing fails with a cause containing want. */
static void
refused(const struct compose *c, const char *want, const char *what)
{
	char	*cause = NULL, *msg;

	msg = compose(c, NULL, &cause);
	if (!ok(msg == NULL && cause != NULL && strstr(cause, want) != NULL,
	    "%s: refused, nothing written", what))
		printf("# cause: %s\n# want: %s\n", cause ? cause : "(none)",
		    want);
	free(cause);
	free(msg);
}

/* Return the longest line length in s, up to the end or a blank line. */
static size_t
longest(const char *s, int header_only)
{
	size_t	 max = 0, n;

	while (*s != '\0') {
		n = strcspn(s, "\n");
		if (n == 0 && header_only)
			break;
		if (n > max)
			max = n;
		s += n + (s[n] == '\n');
	}
	return max;
}

/* Return 1 when each encoded word in s is at most 75 characters. */
static int
words_short(const char *s)
{
	const char	*q1, *q2, *e;

	while ((s = strstr(s, "=?")) != NULL) {
		if ((q1 = strchr(s + 2, '?')) == NULL ||
		    (q2 = strchr(q1 + 1, '?')) == NULL ||
		    (e = strstr(q2 + 1, "?=")) == NULL || e + 2 - s > 75)
			return 0;
		s = e + 2;
	}
	return 1;
}

/* Return the decoded value of a top-level header of a message. */
static char *
header(const char *msg, const char *name)
{
	struct mime_msg	*m;
	char		*cause = NULL, *v;
	const char	*raw;

	if ((m = mime_parse(msg, strlen(msg), &cause)) == NULL)
		return cause;
	raw = mime_header(m, name);
	v = raw != NULL ? mime_decode_header(raw) : xstrdup("(absent)");
	mime_free(m);
	return v;
}

/* Return the body text of a message as mime.c reads it. */
static char *
body_text(const char *msg)
{
	struct mime_msg	*m;
	char		*cause = NULL, *v;

	if ((m = mime_parse(msg, strlen(msg), &cause)) == NULL)
		return cause;
	v = mime_body_text(m);
	mime_free(m);
	return v;
}

/* Compare a string with what is expected, then free it. */
static void
is(char *got, const char *want, const char *what)
{
	if (!ok(got != NULL && strcmp(got, want) == 0, "%s", what))
		printf("# got:  '%s'\n# want: '%s'\n", got ? got : "(null)",
		    want);
	free(got);
}

/* Check a refusal (rc -1, a cause containing want), then free the cause. */
static void
cause_is(int rc, char *cause, const char *want, const char *what)
{
	if (!ok(rc == -1 && cause != NULL && strstr(cause, want) != NULL,
	    "%s: %s", what, cause != NULL ? cause : "(accepted)"))
		printf("# want: %s\n", want);
	free(cause);
}

/* Write a file of size bytes in the temporary directory. */
static char *
make_file(const char *name, size_t size)
{
	char	*path, *data;
	int	 fd;

	xasprintf(&path, "%s/%s", tmpdir, name);
	data = xmalloc(size + 1);
	memset(data, 'x', size);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, size) != (ssize_t)size || close(fd) != 0)
		abort();
	free(data);
	return path;
}

static void
test_addresses(void)
{
	static const char *good[] = { "alice@example.test",
	    "a.b+tag@sub.example.test", "o'brien@x.test", "user@localhost",
	    "\"john doe\"@example.test", "\"a\\\"b\"@x.test", "x@[192.0.2.1]",
	    "x@[IPv6:2001:db8::1]", "x@xn--bcher-kva.test", NULL };
	static const struct {
		const char	*addr;
		const char	*why;
	} bad[] = {
		{ "", "empty address" },
		{ "alice", "missing @" },
		{ "@x.test", "empty local part" },
		{ "a@", "missing domain" },
		{ "a..b@x.test", "misplaced dot" },
		{ ".a@x.test", "misplaced dot" },
		{ "a.@x.test", "misplaced dot" },
		{ "a b@x.test", "contains a space" },
		{ "a,b@x.test", "bad character in the local part" },
		{ "a@b@x.test", "more than one @" },
		{ "a@-x.test", "hyphen" },
		{ "a@x..test", "empty label" },
		{ "a@x.test.", "ends with a dot" },
		{ "a@x_y.test", "bad character in the domain" },
		{ "a@x.test>", "bad character in the domain" },
		{ "\xc3\xa9@x.test", "non-ASCII" },
		{ "a\r\n@x.test", "line break" },
		{ "a\t@x.test", "control character" },
		{ "a@[300.1.1.1]", "bad address literal" },
		{ "a@[IPv6:zz]", "bad address literal" },
		{ "\"open@x.test", "unterminated" },
		{ "\"q\"x@x.test", "text after the quoted local part" },
	};
	char	*cause, local[80], big[300];
	size_t	 i;
	int	 rc;

	for (i = 0; good[i] != NULL; i++) {
		cause = NULL;
		rc = compose_check_address(good[i], &cause);
		ok(rc == 0, "good: %s%s%s", good[i], cause ? ": " : "",
		    cause ? cause : "");
		free(cause);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		rc = compose_check_address(bad[i].addr, &cause);
		cause_is(rc, cause, bad[i].why, "bad");
	}
	cause = NULL;
	compose_check_address("alice", &cause);
	is(cause, "bad address \"alice\": missing @", "exact message");

	memset(local, 'l', 64);
	strcpy(local + 64, "@x.test");
	ok(compose_check_address(local, &cause) == 0, "local part of 64");
	memset(local, 'l', 65);
	strcpy(local + 65, "@x.test");
	cause = NULL;
	rc = compose_check_address(local, &cause);
	cause_is(rc, cause, "longer than 64", "local part of 65");
	strcpy(big, "a@");
	for (i = 2; i < 240; i += 10)
		memcpy(big + i, "abcdefghi.", 10);
	strcpy(big + i, "abcdefghijklm");
	cause = NULL;
	rc = compose_check_address(big, &cause);
	cause_is(strlen(big) == 255 ? rc : 0, cause, "longer than 254",
	    "255 characters");
	big[254] = '\0';
	cause = NULL;
	ok(compose_check_address(big, &cause) == 0, "254 characters");
	free(cause);
}

static void
test_injection(void)
{
	static const char	*evil_to[] = { "bob@x.test\r\nBcc: eve@x.test",
	    NULL };
	static const char	*evil_cc[] = { "ok@x.test", "eve@x.test\n",
	    NULL };
	struct compose		 c;
	char			*cause = NULL;
	int			 rc;

	c = base();
	c.subject = "Hi\r\nBcc: eve@evil.test";
	rc = compose_check(&c, &cause);
	cause_is(rc, cause, "subject contains a line break", "compose_check");
	refused(&c, "subject contains a line break", "CRLF in the subject");
	c.subject = "Hi\nthere";
	refused(&c, "subject contains a line break", "LF in the subject");
	c.subject = "Hi\x01";
	refused(&c, "subject contains a control character", "control char");
	c.subject = "caf\xe9";
	refused(&c, "subject is not valid UTF-8", "Latin-1 subject");
	c = base();
	c.from_name = "Alice\rBcc: eve@evil.test";
	refused(&c, "from name contains a line break", "CR in the name");
	c.from_name = "\xc3\x28";
	refused(&c, "from name is not valid UTF-8", "bad UTF-8 in the name");
	c = base();
	c.to = evil_to;
	refused(&c, "bad To address \"bob@x.test\\r\\nBcc: eve@x.test\": "
	    "contains a line break", "CRLF in a To address");
	c = base();
	c.cc = evil_cc;
	refused(&c, "bad Cc address \"eve@x.test\\n\"", "LF in a Cc address");
	c = base();
	c.from_addr = "alice@example.test\nX: y";
	refused(&c, "bad From address", "LF in the From address");
	c.from_addr = NULL;
	refused(&c, "missing From address", "no From address");
	c = base();
	c.user_agent = "x\r\nX-Evil: 1";
	refused(&c, "user agent contains a line break", "CRLF in User-Agent");
	c = base();
	c.body = "ok \xed\xa0\x80 surrogate\n";
	c.body_len = strlen(c.body);
	refused(&c, "body is not valid UTF-8 (byte 3)", "surrogate in body");
	c.body = "overlong \xc0\xaf\n";
	c.body_len = strlen(c.body);
	refused(&c, "body is not valid UTF-8 (byte 9)", "overlong in body");
}

static void
test_headers(void)
{
	static const char	*to[] = { "bob@example.test",
	    "carol.with.a.long.name@department.example.test",
	    "dave@example.test", "erin.also.rather.long@example.test", NULL };
	static const char	*cc[] = { "frank@example.test", NULL };
	static const char	*none[] = { NULL };
	struct compose		 c;
	char			*msg, *cause, *ids[50], subj[400];
	size_t			 i, j;
	int			 unique = 1, form = 1;

	setenv("TZ", "CET-1", 1);
	c = base();
	c.to = to;
	c.cc = cc;
	c.from_name = "Alice Nguy\xe1\xbb\x85n";
	c.subject = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln";
	msg = compose_ok(&c);
	ok(strncmp(msg, "Date: Sun, 22 Nov 2026 10:00:00 +0100\n", 38) == 0,
	    "Date in RFC 5322 form with a numeric zone");
	ok(strstr(msg, "\nFrom: =?UTF-8?Q?Alice_Nguy=E1=BB=85n?= "
	    "<alice@example.test>\n") != NULL, "From name as an encoded word");
	ok(strstr(msg, "\nSubject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\n") !=
	    NULL, "UTF-8 subject as one B word (shorter than Q)");
	ok(strstr(msg, "\nTo: bob@example.test, "
	    "carol.with.a.long.name@department.example.test,\n "
	    "dave@example.test, erin.also.rather.long@example.test\n") != NULL,
	    "To folded between addresses");
	ok(strstr(msg, "\nCc: frank@example.test\n") != NULL, "Cc");
	ok(strstr(msg, "Bcc") == NULL, "no Bcc anywhere");
	ok(strstr(msg, "\nMIME-Version: 1.0\n") != NULL &&
	    strstr(msg, "\nUser-Agent: mailctl/test\n") != NULL,
	    "MIME-Version and User-Agent");
	is(header(msg, "from"), "Alice Nguy\xe1\xbb\x85n <alice@example.test>",
	    "From decodes back");
	free(msg);

	c = base();
	c.to = none;
	msg = compose_ok(&c);
	ok(strstr(msg, "\nTo: undisclosed-recipients:;\n") != NULL,
	    "no To or Cc: undisclosed-recipients");
	free(msg);
	c.cc = cc;
	msg = compose_ok(&c);
	ok(strstr(msg, "\nTo:") == NULL && strstr(msg, "\nCc: frank") != NULL,
	    "Cc only: no To header");
	free(msg);

	c = base();
	c.from_name = "Doe, John \"JD\"";
	msg = compose_ok(&c);
	ok(strstr(msg, "\nFrom: \"Doe, John \\\"JD\\\"\" <alice@example.test>"
	    "\n") != NULL, "ASCII name with specials quoted");
	free(msg);
	c.from_name = "Alice Smith";
	msg = compose_ok(&c);
	ok(strstr(msg, "\nFrom: Alice Smith <alice@example.test>\n") != NULL,
	    "plain name as atoms");
	free(msg);

	/* A long subject mixing scripts: words at most 75, lines 78. */
	subj[0] = '\0';
	for (i = 0; i < 12; i++)
		strcat(subj, i % 2 ? "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
		    : "Vi\xe1\xbb\x87t Nam caf\xc3\xa9 ");
	strcat(subj, "end");
	c = base();
	c.subject = subj;
	msg = compose_ok(&c);
	ok(longest(msg, 1) <= 78, "long UTF-8 subject: header lines <= 78 "
	    "(%zu)", longest(msg, 1));
	ok(words_short(msg), "long UTF-8 subject: encoded words <= 75");
	is(header(msg, "subject"), subj, "long UTF-8 subject decodes back");
	free(msg);

	memset(subj, 'x', 120);
	strcpy(subj + 120, " and then some ordinary words");
	msg = compose_ok(&c);
	ok(longest(msg, 1) <= 78 && words_short(msg),
	    "120-character word: encoded, lines <= 78");
	is(header(msg, "subject"), subj, "120-character word decodes back");
	free(msg);

	subj[0] = '\0';
	for (i = 0; i < 20; i++)
		strcat(subj, "meeting report ");
	strcat(subj, "=?not-a-word?= end");
	msg = compose_ok(&c);
	ok(longest(msg, 1) <= 78, "ASCII subject with =?: lines <= 78");
	is(header(msg, "subject"), subj, "ASCII subject with =? decodes back");
	free(msg);
	strcpy(subj, "Status report: all good, see the attached file for the "
	    "details of this week and the next");
	msg = compose_ok(&c);
	ok(strstr(msg, "=?") == NULL && longest(msg, 1) <= 78,
	    "long ASCII subject folded, not encoded");
	is(header(msg, "subject"), subj, "folded subject reads back");
	free(msg);

	for (i = 0; i < 50; i++) {
		msg = compose(&c, &ids[i], &cause);
		free(msg);
		if (strlen(ids[i]) != 1 + 32 + 1 + 12 + 1 || ids[i][0] != '<' ||
		    strspn(ids[i] + 1, "0123456789abcdef") != 32 ||
		    strcmp(ids[i] + 33, "@example.test>") != 0)
			form = 0;
		for (j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				unique = 0;
	}
	ok(form, "Message-ID is <32 hex digits@domain of From> (%s)", ids[0]);
	ok(unique, "50 Message-IDs all different");
	for (i = 0; i < 50; i++)
		free(ids[i]);
}

static void
test_bodies(void)
{
	struct compose	 c;
	char		*msg, body[2000];
	const char	*p;

	c = base();
	c.body = "Hello Bob,\r\nthe usual text.\r\n\r\n-- \r\nAlice\r\n";
	c.body_len = strlen(c.body);
	msg = compose_ok(&c);
	p = strstr(msg, "\n\n");
	ok(strstr(msg, "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 7bit\n") != NULL, "ASCII body: 7bit");
	ok(p != NULL && strcmp(p + 2, "Hello Bob,\nthe usual text.\n\n-- \n"
	    "Alice\n") == 0, "7bit body unchanged, CRLF to LF");
	ok(strchr(msg, '\r') == NULL, "no CR anywhere");
	free(msg);

	c.body = "no final newline";
	c.body_len = strlen(c.body);
	msg = compose_ok(&c);
	p = strstr(msg, "\n\n");
	ok(p != NULL && strcmp(p + 2, "no final newline\n") == 0,
	    "a final line end is added");
	free(msg);

	memset(body, 'a', 100);
	strcpy(body + 100, "\nx=1 \nFrom here\nna\xc3\xafve caf\xc3\xa9\t\n"
	    "bare\rCR\n");
	c.body = body;
	c.body_len = strlen(body);
	msg = compose_ok(&c);
	ok(strstr(msg, "Content-Transfer-Encoding: quoted-printable\n") != NULL,
	    "long lines and non-ASCII: quoted-printable");
	ok(longest(strstr(msg, "\n\n"), 0) <= 76, "QP lines <= 76");
	ok(strstr(msg, "\nx=3D1=20\n=46rom here\nna=C3=AFve caf=C3=A9=09\n"
	    "bare=0DCR\n") != NULL, "=, trailing space, From, bare CR encoded");
	is(body_text(msg), body, "QP body decodes back");
	free(msg);

	memset(body, 0, sizeof body);
	for (p = "\xe6\x97\xa5\xe6\x9c\xac "; strlen(body) < 1500;)
		strcat(body, p);
	strcat(body, "\n");
	c.body_len = strlen(body);
	msg = compose_ok(&c);
	ok(longest(strstr(msg, "\n\n"), 0) <= 76, "1500 bytes of CJK: <= 76");
	is(body_text(msg), body, "CJK body decodes back");
	free(msg);

	c.body = "a\0b\n";
	c.body_len = 4;
	msg = compose_ok(&c);
	ok(strstr(msg, "\n\na=00b\n") != NULL, "NUL in the body: =00");
	free(msg);
}

static void
test_attachments(void)
{
	struct compose		 c;
	struct mime_msg		*m;
	struct mime_attachment	 a;
	const char		*att[3] = { NULL, NULL, NULL };
	char			*msg, *cause = NULL, *exact, *over, *name;
	char			*dir, *data, *long_name, *evil;
	size_t			 len;
	int			 fd, rc;

	exact = make_file("exact.bin", 4096);
	over = make_file("over.bin", 4097);
	name = make_file("r\xc3\xa9sum\xc3\xa9.pdf", 10);
	c = base();
	c.attach = att;
	c.attachment_max = 4096;
	att[0] = exact;
	msg = compose_ok(&c);
	ok(strstr(msg, "\nContent-Type: multipart/mixed;\n "
	    "boundary=\"=_mailctl_") != NULL, "multipart/mixed, =_ boundary");
	ok(strstr(msg, "Content-Type: application/octet-stream; "
	    "name=\"exact.bin\"\nContent-Disposition: attachment; "
	    "filename=\"exact.bin\"\nContent-Transfer-Encoding: base64\n") !=
	    NULL, "attachment headers");
	ok(longest(msg, 0) <= 76 + 2, "no line longer than 78");
	m = mime_parse(msg, strlen(msg), &cause);
	data = m != NULL ? mime_attachment_data(m, 0, &len) : NULL;
	ok(m != NULL && mime_nattachments(m) == 1 && len == 4096 &&
	    data[0] == 'x' && data[4095] == 'x', "exactly the limit passes");
	free(data);
	if (m != NULL)
		is(mime_body_text(m), "Hi Bob.\n", "body part reads back");
	mime_free(m);
	free(msg);

	att[0] = over;
	refused(&c, "attachment ", "one byte over the limit");
	cause = NULL;
	rc = compose_check(&c, &cause);
	cause_is(rc, cause, "over.bin is 4.0 kB (4097 bytes), more than the "
	    "4.0 kB limit (attachment_max_bytes 4096)", "limit message");

	att[0] = "/nonexistent/x.pdf";
	cause = NULL;
	rc = compose_check(&c, &cause);
	cause_is(rc, cause, "cannot read attachment /nonexistent/x.pdf: No "
	    "such file or directory", "missing file");
	refused(&c, "/nonexistent/x.pdf", "missing file: nothing written");
	att[0] = tmpdir;
	refused(&c, "is a directory", "directory as attachment");
	att[0] = "/dev/null";
	refused(&c, "is not a regular file", "device as attachment");

	att[0] = name;
	att[1] = exact;
	msg = compose_ok(&c);
	ok(strstr(msg, "Content-Type: application/pdf; "
	    "name*=utf-8''r%C3%A9sum%C3%A9.pdf\nContent-Disposition: "
	    "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\n") != NULL,
	    "RFC 2231 file name");
	m = mime_parse(msg, strlen(msg), &cause);
	ok(m != NULL && mime_nattachments(m) == 2 &&
	    mime_attachment(m, 0, &a) == 0 && strcmp(a.filename,
	    "r\xc3\xa9sum\xc3\xa9.pdf") == 0 && strcmp(a.content_type,
	    "application/pdf") == 0, "RFC 2231 file name reads back");
	mime_free(m);
	free(msg);

	long_name = make_file("\xc4\x90\xc3\xa2y l\xc3\xa0 m\xe1\xbb\x99t "
	    "t\xc3\xaan t\xe1\xbb\x87p r\xe1\xba\xa5t d\xc3\xa0i v\xe1\xbb\x9bi "
	    "nhi\xe1\xbb\x81u k\xc3\xbd t\xe1\xbb\xb1.txt", 3);
	evil = make_file("evil\nX-Injected: 1\n.txt", 3);
	att[0] = long_name;
	att[1] = evil;
	msg = compose_ok(&c);
	ok(strstr(msg, "\n filename*0*=utf-8''%C4%90%C3%A2y%20") != NULL &&
	    strstr(msg, "\n filename*1*=") != NULL && longest(msg, 0) <= 78,
	    "long RFC 2231 file name in sections, lines <= 78");
	ok(strstr(msg, "filename*=utf-8''evil%0AX-Injected%3A%201%0A.txt\n") !=
	    NULL && strstr(msg, "\nX-Injected") == NULL,
	    "line breaks in a file name are percent-encoded");
	m = mime_parse(msg, strlen(msg), &cause);
	ok(m != NULL && mime_attachment(m, 0, &a) == 0 && strcmp(a.filename,
	    long_name + strlen(tmpdir) + 1) == 0 && strcmp(a.content_type,
	    "text/plain") == 0, "long file name reads back");
	mime_free(m);
	free(msg);
	unlink(long_name);
	unlink(evil);
	free(long_name);
	free(evil);

	att[0] = name;
	att[1] = NULL;
	if ((fd = open("/dev/full", O_WRONLY)) != -1) {
		cause = NULL;
		rc = compose_write(&c, fd, &msg, &cause);
		ok(rc == -1 && msg == NULL && cause != NULL && strstr(cause,
		    "cannot write message: ") != NULL, "write error reported: "
		    "%s", cause ? cause : "(none)");
		free(cause);
		close(fd);
	}
	unlink(exact);
	unlink(over);
	unlink(name);
	free(exact);
	free(over);
	free(name);
	xasprintf(&dir, "rm -rf %s", tmpdir);
	if (system(dir) != 0)
		printf("# cannot remove %s\n", tmpdir);
	free(dir);
}

/* Address lists as sendmail -t reads them from To, Cc and Bcc. */
static void
test_address_lists(void)
{
	static const struct {
		const char	*value;
		const char	*want;	/* the addresses joined by '|' */
	} cases[] = {
		{ " bob@example.test", "bob@example.test" },
		{ "Bob <bob@example.test>, carol@example.test",
		    "bob@example.test|carol@example.test" },
		{ "\"Doe, John\" <john@example.test> (the boss), x@y.test",
		    "john@example.test|x@y.test" },
		{ "team: a@example.test, B <b@example.test>;, c@example.test",
		    "a@example.test|b@example.test|c@example.test" },
		{ "undisclosed-recipients:;", "" },
		{ "a@example.test (comment, with comma)", "a@example.test" },
		{ "=?UTF-8?Q?Nguy=E1=BB=85n?= <n@example.test>\n\tfolded",
		    "n@example.test" },
		{ "\"quoted local\"@example.test", "\"quoted local\"@example.test" },
		{ "", "" },
	};
	char	**list, joined[512];
	size_t	  i, j;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		list = compose_address_list(cases[i].value);
		joined[0] = '\0';
		for (j = 0; list[j] != NULL; j++) {
			snprintf(joined + strlen(joined), sizeof joined -
			    strlen(joined), "%s%s", j > 0 ? "|" : "", list[j]);
			free(list[j]);
		}
		free(list);
		ok(strcmp(joined, cases[i].want) == 0, "address list \"%s\": "
		    "%s", cases[i].value, joined);
	}
}

/* Mailboxes with their display names, as send splits --to and --cc. */
static void
test_mailbox_lists(void)
{
	static const struct {
		const char	*value;
		const char	*want;	/* "name=addr" joined by '|' */
	} cases[] = {
		{ "Carol <carol@mail.test>, \"Bob, B.\" <bob@mail.test>",
		    "Carol=carol@mail.test|Bob, B.=bob@mail.test" },
		{ "a@b.test, c@d.test", "=a@b.test|=c@d.test" },
		{ "  \"Last,\t  First\"   <lf@x.test> ", "Last, First=lf@x.test" },
		{ "\"Say \\\"hi\\\"\" <q@x.test>", "Say \"hi\"=q@x.test" },
		{ "Ann (the boss) Lee <ann@x.test>", "Ann Lee=ann@x.test" },
		{ "friends: Ann <ann@x.test>, bo@x.test;, Cy <cy@x.test>",
		    "Ann=ann@x.test|=bo@x.test|Cy=cy@x.test" },
		{ "<bare@x.test>", "=bare@x.test" },
		{ "\"quoted local\"@x.test", "=\"quoted local\"@x.test" },
		{ "Nobody <>", "" },
		{ ",,", "" },
	};
	struct mime_addr	*mb;
	char			 joined[512];
	size_t			 i, j, n;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		mb = compose_mailbox_list(cases[i].value, &n);
		joined[0] = '\0';
		for (j = 0; j < n; j++)
			snprintf(joined + strlen(joined), sizeof joined -
			    strlen(joined), "%s%s=%s", j > 0 ? "|" : "",
			    mb[j].name, mb[j].addr);
		mime_addr_free(mb, n);
		ok(strcmp(joined, cases[i].want) == 0, "mailbox list \"%s\": "
		    "%s", cases[i].value, joined);
	}
}

/* To and Cc written with their display names: quoted, encoded, folded. */
static void
test_named_addresses(void)
{
	static const char	*to[] = { "carol@mail.test", "bob@mail.test",
	    "plain@mail.test", NULL };
	static const char	*to_names[] = { "Carol", "Bob, B.", NULL };
	static const char	*cc[] = { "n@mail.test", "x@mail.test", NULL };
	static const char	*cc_names[] = { "Nguy\xe1\xbb\x85n", "", NULL };
	static const char	*evil[] = { "Eve\r\nBcc: eve@x.test", NULL };
	struct compose		 c;
	struct mime_addr	*a;
	struct mime_msg		*m;
	char			*msg, *cause;
	size_t			 n;

	c = base();
	c.to = to;
	c.to_names = to_names;
	c.cc = cc;
	c.cc_names = cc_names;
	msg = compose_ok(&c);
	ok(strstr(msg, "\nTo: Carol <carol@mail.test>, \"Bob, B.\" "
	    "<bob@mail.test>, plain@mail.test\n") != NULL,
	    "To: names as atoms or quoted, an address without one bare");
	ok(strstr(msg, "\nCc: =?UTF-8?B?Tmd1eeG7hW4=?= <n@mail.test>, "
	    "x@mail.test\n") != NULL, "Cc: a UTF-8 name as an encoded word");
	if ((m = mime_parse(msg, strlen(msg), &cause)) == NULL) {
		ok(0, "the message parses: %s", cause);
		free(cause);
	} else {
		a = mime_addresses(m, "to", &n);
		ok(n == 3 && strcmp(a[0].name, "Carol") == 0 &&
		    strcmp(a[1].name, "Bob, B.") == 0 &&
		    strcmp(a[1].addr, "bob@mail.test") == 0 &&
		    strcmp(a[2].addr, "plain@mail.test") == 0,
		    "To reads back as three mailboxes, the names kept");
		mime_addr_free(a, n);
		a = mime_addresses(m, "cc", &n);
		ok(n == 2 && strcmp(a[0].name, "Nguy\xe1\xbb\x85n") == 0,
		    "Cc's encoded name decodes back");
		mime_addr_free(a, n);
		mime_free(m);
	}
	free(msg);

	c = base();
	c.to_names = (const char **)evil;
	cause = NULL;
	ok(compose_check(&c, &cause) != 0 && cause != NULL &&
	    strstr(cause, "To name contains a line break") != NULL,
	    "a line break in a To name is refused: %s", cause ? cause : "");
	free(cause);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_addresses();
	test_injection();
	test_headers();
	test_bodies();
	test_named_addresses();
	test_attachments();
	test_address_lists();
	test_mailbox_lists();
	return tap_done();
}
