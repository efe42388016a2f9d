/*
 * Composing in an editor. The draft file is a header block of the fields
 * the user may change (To, Cc, Bcc, Subject; a line starting with a blank
 * goes on the one before), a blank line, then the body:
 *
 *	To: Alice <alice@example.test>
 *	Cc:
 *	Bcc:
 *	Subject: Re: the plan
 *
 *	(the text, and the original quoted below it)
 *
 * It is created 0600 under data_dir/drafts (the daemon says where), the
 * editor is run through the shell as git runs it ("$EDITOR" "$@", so an
 * EDITOR of "emacs -nw" works), and what was saved goes to the daemon.
 * A file saved unchanged, or emptied, sends nothing and is removed; a
 * failed editor or send keeps it and says where it is.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "draft.h"

/* The fields of the header block, in the order they are written. */
static const char *const draft_fields[] = { "To", "Cc", "Bcc", "Subject" };

/* Free a parsed draft. */
void
draft_free(struct draft *d)
{
	free(d->to);
	free(d->cc);
	free(d->bcc);
	free(d->subject);
	free(d->body);
	memset(d, 0, sizeof *d);
}

/* The field of d that name (case-insensitive) stands for, or NULL. */
static char **
draft_field(struct draft *d, const char *name, size_t n)
{
	char	**slots[] = { &d->to, &d->cc, &d->bcc, &d->subject };
	size_t	 i;

	for (i = 0; i < 4; i++)
		if (strlen(draft_fields[i]) == n &&
		    strncasecmp(draft_fields[i], name, n) == 0)
			return slots[i];
	return NULL;
}

/* Append " " and n bytes of s to the field *f (a continuation line). */
static void
draft_append(char **f, const char *s, size_t n)
{
	char	*v;

	if (asprintf(&v, "%s%s%.*s", *f, **f != '\0' ? " " : "", (int)n,
	    s) == -1) {
		fprintf(stderr, "mailctl: out of memory\n");
		exit(EX_OSERR);
	}
	free(*f);
	*f = v;
}

/* A copy of n bytes, blanks at both ends trimmed. */
static char *
draft_trim(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r'))
		n--;
	return strndup(s, n);
}

/*
 * Parse what the user saved: the header block up to the first empty line,
 * then the body. A line that is neither a known field nor a continuation
 * is an error naming its number; a field given twice keeps both values
 * (joined as a list). Returns 0, or -1 with *error.
 */
int
draft_parse(const char *text, size_t len, struct draft *d, char **error)
{
	const char	*p = text, *end = text + len, *nl, *colon;
	char		**last = NULL, **f, *v;
	size_t		 n, line = 0, i;

	memset(d, 0, sizeof *d);
	*error = NULL;
	for (i = 0; i < 4; i++)
		*draft_field(d, draft_fields[i], strlen(draft_fields[i])) =
		    strdup("");
	if (memchr(text, '\0', len) != NULL) {
		*error = strdup("the draft holds a NUL byte");
		draft_free(d);
		return -1;
	}
	while (p < end) {
		line++;
		nl = memchr(p, '\n', end - p);
		n = (nl != NULL ? nl : end) - p;
		if (n == 0 || (n == 1 && *p == '\r')) {
			p += n + 1;
			break;		/* the body starts */
		}
		if ((*p == ' ' || *p == '\t') && last != NULL) {
			v = draft_trim(p, n);
			draft_append(last, v, strlen(v));
			free(v);
		} else if ((colon = memchr(p, ':', n)) == NULL ||
		    (f = draft_field(d, p, colon - p)) == NULL) {
			if (asprintf(error, "line %zu: expected To:, Cc:, "
			    "Bcc: or Subject: (then a blank line, then the "
			    "body), not \"%.*s\"", line, n > 60 ? 60 : (int)n,
			    p) == -1)
				*error = NULL;
			draft_free(d);
			return -1;
		} else {
			v = draft_trim(colon + 1, p + n - colon - 1);
			if (f != &d->subject && **f != '\0') {
				/* A list given twice: both. */
				if (*v != '\0') {
					draft_append(f, ",", 1);
					draft_append(f, v, strlen(v));
				}
				free(v);
			} else {
				free(*f);
				*f = v;
			}
			last = f;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	d->body = strndup(p < end ? p : end, p < end ? (size_t)(end - p) : 0);
	return 0;
}

/* The text of a draft the daemon made ({to, cc, bcc, subject, body}). */
char *
draft_render(json_t *draft)
{
	const char	*keys[] = { "to", "cc", "bcc", "subject" };
	const char	*v;
	char		*s = NULL, *t;
	size_t		 i;

	for (i = 0; i < 4; i++) {
		v = json_string_value(json_object_get(draft, keys[i]));
		if (asprintf(&t, "%s%s:%s%s\n", s != NULL ? s : "",
		    draft_fields[i], v != NULL && *v != '\0' ? " " : "",
		    v != NULL ? v : "") == -1)
			return NULL;
		free(s);
		s = t;
	}
	v = json_string_value(json_object_get(draft, "body"));
	if (asprintf(&t, "%s\n%s", s, v != NULL ? v : "") == -1)
		t = NULL;
	free(s);
	return t;
}

/* Write all of s into a new draft file in dir; return its path. */
static char *
draft_write(const char *cmd, const char *dir, const char *s)
{
	char	*path;
	int	 fd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "mailctl %s: cannot create %s: %s\n", cmd, dir,
		    strerror(errno));
		return NULL;
	}
	if (asprintf(&path, "%s/%s-XXXXXX", dir, cmd) == -1)
		return NULL;
	/* mkstemp makes it 0600 whatever the umask. */
	if ((fd = mkstemp(path)) == -1) {
		fprintf(stderr, "mailctl %s: cannot create a draft in %s: %s\n",
		    cmd, dir, strerror(errno));
		free(path);
		return NULL;
	}
	if (client_write_all(fd, s, strlen(s)) != 0 || close(fd) != 0) {
		fprintf(stderr, "mailctl %s: cannot write %s: %s\n", cmd, path,
		    strerror(errno));
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

/* Read a saved draft back (at most DRAFT_MAX bytes); NULL on error. */
static char *
draft_read(const char *cmd, const char *path, size_t *len)
{
	char	*buf;
	ssize_t	 n;
	int	 fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "mailctl %s: %s: %s\n", cmd, path,
		    strerror(errno));
		return NULL;
	}
	buf = malloc(DRAFT_MAX + 1);
	while (buf != NULL && *len <= DRAFT_MAX && (n = read(fd, buf + *len,
	    DRAFT_MAX + 1 - *len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "mailctl %s: %s: %s\n", cmd, path,
			    strerror(errno));
			free(buf);
			buf = NULL;
			break;
		}
		*len += n;
		if (*len > DRAFT_MAX) {
			fprintf(stderr, "mailctl %s: %s: the draft is over %d "
			    "bytes; attach large text instead\n", cmd, path,
			    DRAFT_MAX);
			free(buf);
			buf = NULL;
		}
	}
	close(fd);
	if (buf != NULL)
		buf[*len] = '\0';
	return buf;
}

/*
 * Run the user's editor on path, as git does: $VISUAL, else $EDITOR,
 * else vi, through the shell with the path as "$1". 0 when it exited 0.
 */
static int
draft_editor(const char *cmd, const char *path)
{
	const char	*ed = getenv("VISUAL");
	char		*line;
	pid_t		 pid;
	int		 status;

	if (ed == NULL || *ed == '\0')
		ed = getenv("EDITOR");
	if (ed == NULL || *ed == '\0')
		ed = "vi";
	if (asprintf(&line, "%s \"$@\"", ed) == -1)
		return -1;
	switch (pid = fork()) {
	case -1:
		fprintf(stderr, "mailctl %s: fork: %s\n", cmd, strerror(errno));
		free(line);
		return -1;
	case 0:
		execl("/bin/sh", "sh", "-c", line, ed, path, (char *)NULL);
		fprintf(stderr, "mailctl %s: /bin/sh: %s\n", cmd,
		    strerror(errno));
		_exit(127);
	}
	free(line);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		fprintf(stderr, "mailctl %s: the editor (%s) exited with %d\n",
		    cmd, ed, WEXITSTATUS(status));
	else
		fprintf(stderr, "mailctl %s: the editor (%s) was killed by "
		    "signal %d\n", cmd, ed, WTERMSIG(status));
	return -1;
}

/* Say where a draft that was not sent is kept. */
void
draft_kept(const char *cmd, const char *path)
{
	fprintf(stderr, "mailctl %s: nothing was sent; your draft is kept in "
	    "%s\n", cmd, path);
}

/* The message was queued: its draft goes. */
void
draft_sent(const char *path)
{
	if (path != NULL)
		unlink(path);
}

/* Put a draft's address list into params[key] (an empty list for ""). */
static void
draft_list(json_t *params, const char *key, const char *v)
{
	json_t	*a = json_array();

	if (*v != '\0')
		json_array_append_new(a, json_string(v));
	json_object_set_new(params, key, a);
}

/*
 * Compose in the editor: ask method for the draft of params, write it,
 * edit it, and put what was saved into params (to, cc, bcc, subject,
 * body, quote false: the body holds it all). 0 with *path (the draft, to
 * remove with draft_sent once queued), or an exit status, said.
 */
int
draft_edit(struct client_opts *o, const char *cmd, const char *method,
    json_t *params, char **path)
{
	json_t		*ask, *r;
	struct draft	 d;
	char		*text, *saved, *error;
	size_t		 len;
	int		 rc, json = o->json;

	*path = NULL;
	ask = json_deep_copy(params);
	json_object_set_new(ask, "draft", json_true());
	o->json = 0;
	rc = client_call(o, method, ask, &r);
	o->json = json;
	if (rc != 0)
		return rc;
	text = draft_render(json_object_get(r, "draft"));
	if (text == NULL || (*path = draft_write(cmd, json_string_value(
	    json_object_get(r, "drafts_dir")), text)) == NULL) {
		free(text);
		json_decref(r);
		return EX_CANTCREAT;
	}
	json_decref(r);
	rc = 0;
	if (draft_editor(cmd, *path) != 0 ||
	    (saved = draft_read(cmd, *path, &len)) == NULL) {
		draft_kept(cmd, *path);
		free(*path);
		*path = NULL;
		free(text);
		return 1;
	}
	if (strcmp(saved, text) == 0 || strspn(saved, " \t\r\n") == len) {
		fprintf(stderr, "mailctl %s: the draft was %s: nothing was "
		    "sent\n", cmd, strcmp(saved, text) == 0 ? "saved unchanged" :
		    "emptied");
		unlink(*path);
		rc = 1;
	} else if (draft_parse(saved, len, &d, &error) != 0) {
		fprintf(stderr, "mailctl %s: %s: %s\n", cmd, *path,
		    error != NULL ? error : "cannot read the draft");
		draft_kept(cmd, *path);
		free(error);
		rc = EX_DATAERR;
	} else if ((r = json_string(d.body)) == NULL) {
		fprintf(stderr, "mailctl %s: %s: the draft is not UTF-8 text\n",
		    cmd, *path);
		draft_kept(cmd, *path);
		draft_free(&d);
		rc = EX_DATAERR;
	} else {
		json_object_set_new(params, "body", r);
		if (strcmp(method, "send") != 0)
			json_object_set_new(params, "quote", json_false());
		draft_list(params, "to", d.to);
		draft_list(params, "cc", d.cc);
		draft_list(params, "bcc", d.bcc);
		if ((r = json_string(d.subject)) != NULL)
			json_object_set_new(params, "subject", r);
		draft_free(&d);
	}
	free(saved);
	free(text);
	if (rc != 0) {
		free(*path);
		*path = NULL;
	}
	return rc;
}
