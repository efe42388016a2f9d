/*
 * Checking what a message is made of before any of it is written: the
 * addresses (RFC 5321 mailboxes: a dot-atom or quoted local part, "@", and
 * LDH labels or an address literal), the header text (valid UTF-8, no
 * control character, and no line break, which would start a header of its
 * own: header injection), the body's UTF-8, and the attachments (regular
 * files with UTF-8 names, within attachment_max). compose_open() opens and
 * checks one attachment, for compose_check() and again for compose.c when
 * it writes the file.
 *
 * Also here: compose_mailbox_list(), which splits an RFC 5322 address list
 * into its mailboxes (addr-spec and display name), and the ASCII character classes that compose.c
 * shares. Nothing here writes a message or calls into compose.c.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/xmalloc.h"
#include "compose.h"
#include "compose-int.h"
#include "mime.h"

/* Return the offset of the first invalid UTF-8 byte, or len. */
static size_t
compose_utf8_bad(const char *s, size_t len)
{
	size_t	 i, n;

	for (i = 0; i < len; i += n)
		if ((n = utf8_decode((const unsigned char *)s + i,
		    len - i, NULL)) == 0)
			break;
	return i;
}

/* Return 1 for an ASCII letter or digit. */
int
compose_alnum(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'));
}

/* Return 1 for an RFC 5322 atext character. */
int
compose_atext(int c)
{
	return (compose_alnum(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL));
}

/* Return a copy of s fit to quote in a message: controls escaped, cut. */
static char *
compose_vis(const char *s)
{
	char	*out = xmalloc(4 * 80 + 4), *p = out;
	size_t	 i;

	for (i = 0; s[i] != '\0' && i < 80; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			*p++ = '\\';
			*p++ = s[i] == '\r' ? 'r' : 'n';
		} else if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			p += sprintf(p, "\\x%02x", (unsigned char)s[i]);
		else
			*p++ = s[i];
	}
	strcpy(p, s[i] != '\0' ? "..." : "");
	return out;
}

/* Check an address literal such as [192.0.2.1] or [IPv6:2001:db8::1]. */
static const char *
compose_literal_error(const char *lit)
{
	char		 buf[64];
	unsigned char	 addr[16];
	size_t		 len = strlen(lit);
	int		 v6;

	if (len < 3 || lit[len - 1] != ']' || len - 2 >= sizeof buf)
		return "bad address literal";
	memcpy(buf, lit + 1, len - 2);
	buf[len - 2] = '\0';
	v6 = strncasecmp(buf, "IPv6:", 5) == 0;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? buf + 5 : buf, addr) != 1)
		return "bad address literal";
	return NULL;
}

/* Check the domain of an address: dot-separated LDH labels, or a literal. */
static const char *
compose_domain_error(const char *dom)
{
	static const char	 ldh[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
	size_t			 n;

	if (*dom == '\0')
		return "missing domain after @";
	if (*dom == '[')
		return compose_literal_error(dom);
	for (;;) {
		n = strspn(dom, ldh);
		if (dom[n] == '@')
			return "more than one @";
		if (dom[n] != '.' && dom[n] != '\0')
			return "bad character in the domain";
		if (n == 0)
			return "empty label in the domain";
		if (n > 63)
			return "domain label longer than 63 characters";
		if (dom[0] == '-' || dom[n - 1] == '-')
			return "domain label starts or ends with a hyphen";
		if (dom[n] == '\0')
			return NULL;
		dom += n + 1;
		if (*dom == '\0')
			return "domain ends with a dot";
	}
}

/*
 * Return why addr is not a usable RFC 5321 mailbox, or NULL: a dot-atom or
 * quoted local part, "@", and a domain. Non-ASCII is refused because the
 * SMTP side does not speak SMTPUTF8 (RFC 6531).
 */
static const char *
compose_addr_error(const char *addr)
{
	const char	*p;

	if (*addr == '\0')
		return "empty address";
	for (p = addr; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			return "contains a line break";
		if ((unsigned char)*p >= 0x80)
			return "contains non-ASCII characters (SMTPUTF8 is "
			    "not supported)";
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	}
	if (p - addr > COMPOSE_ADDR_MAX)
		return "longer than 254 characters";
	p = addr;
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return "unterminated quoted local part";
			if (*p == '\\' && *++p == '\0')
				return "unterminated quoted local part";
		}
		if (*++p != '@')
			return *p == '\0' ? "missing @" :
			    "text after the quoted local part";
	} else {
		for (; *p != '@'; p++) {
			if (*p == '\0')
				return "missing @";
			if (*p == ' ')
				return "contains a space";
			if (*p == '.' && (p == addr || p[-1] == '.' ||
			    p[1] == '@'))
				return "misplaced dot in the local part";
			if (*p != '.' && !compose_atext(*p))
				return "bad character in the local part";
		}
	}
	if (p == addr)
		return "empty local part";
	if (p - addr > COMPOSE_LOCAL_MAX)
		return "local part longer than 64 characters";
	return compose_domain_error(p + 1);
}

/* Check one address; the message names the field (or none when NULL). */
static int
compose_check_field(const char *field, const char *addr, char **cause)
{
	const char	*why;
	char		*vis;

	if (addr == NULL) {
		xasprintf(cause, "missing %s%saddress", field ? field : "",
		    field ? " " : "");
		return -1;
	}
	if ((why = compose_addr_error(addr)) == NULL)
		return 0;
	vis = compose_vis(addr);
	xasprintf(cause, "bad %s%saddress \"%s\": %s", field ? field : "",
	    field ? " " : "", vis, why);
	free(vis);
	return -1;
}

/* Check a mailbox address (RFC 5321 4.1.2, limits of 4.5.3.1). */
int
compose_check_address(const char *addr, char **cause)
{
	return compose_check_field(NULL, addr, cause);
}

/* Check header text: valid UTF-8 (or ASCII), no line break, no control. */
int
compose_check_text(const char *what, const char *s, int ascii, char **cause)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n, len = strlen(s);

	for (i = 0; i < len; i += n) {
		if (u[i] == '\r' || u[i] == '\n') {
			xasprintf(cause, "%s contains a line break", what);
			return -1;
		}
		if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f) {
			xasprintf(cause, "%s contains a control character "
			    "(0x%02x)", what, u[i]);
			return -1;
		}
		if ((n = utf8_decode(u + i, len - i, NULL)) == 0) {
			xasprintf(cause, "%s is not valid UTF-8 (byte %zu)",
			    what, i);
			return -1;
		}
		if (ascii && n > 1) {
			xasprintf(cause, "%s contains non-ASCII characters",
			    what);
			return -1;
		}
	}
	return 0;
}

/* Format a size for people: "3.1 MB", "12.0 kB" or "517 bytes". */
static void
compose_human(char *buf, size_t size, long long n)
{
	if (n >= 1024 * 1024)
		snprintf(buf, size, "%.1f MB", n / (1024.0 * 1024.0));
	else if (n >= 1024)
		snprintf(buf, size, "%.1f kB", n / 1024.0);
	else
		snprintf(buf, size, "%lld bytes", n);
}

/* Return the file name part of a path ("" for none). */
const char *
compose_basename(const char *path)
{
	const char	*s;
	size_t		 len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	for (s = path + len; s > path && s[-1] != '/'; s--)
		/* nothing */;
	return s;
}

/*
 * Open an attachment and check it: a regular file within the size limit,
 * with a UTF-8 name. O_NONBLOCK keeps a FIFO from blocking the open; it
 * changes nothing for a regular file.
 */
int
compose_open(const char *path, long long max, char **cause)
{
	struct stat	 st;
	const char	*name = compose_basename(path);
	char		 have[32], limit[32];
	int		 fd;

	if (*name == '\0' || *name == '/' ||
	    compose_utf8_bad(name, strlen(name)) != strlen(name)) {
		xasprintf(cause, "attachment %s: the file name is empty or "
		    "not valid UTF-8", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1) {
		xasprintf(cause, "cannot read attachment %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		xasprintf(cause, "attachment %s is %s", path,
		    S_ISDIR(st.st_mode) ? "a directory" :
		    "not a regular file");
		close(fd);
		return -1;
	}
	if (max > 0 && st.st_size > max) {
		compose_human(have, sizeof have, st.st_size);
		compose_human(limit, sizeof limit, max);
		xasprintf(cause, "attachment %s is %s (%lld bytes), more than "
		    "the %s limit (attachment_max_bytes %lld)", path, have,
		    (long long)st.st_size, limit, max);
		close(fd);
		return -1;
	}
	return fd;
}

/* Check a NULL-terminated address list and its display names. */
static int
compose_check_list(const char *field, const char **list, const char **names,
    char **cause)
{
	char	 what[32];
	size_t	 i;

	for (i = 0; list != NULL && list[i] != NULL; i++) {
		if (compose_check_field(field, list[i], cause) != 0)
			return -1;
		snprintf(what, sizeof what, "%s name", field);
		if (names != NULL && names[i] != NULL &&
		    compose_check_text(what, names[i], 0, cause) != 0)
			return -1;
	}
	return 0;
}

/* Check everything that can be checked before writing. */
/* Is s a msg-id we write: "<...>", printable ASCII, no space, short? */
int
compose_msgid_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n < 3 || n > COMPOSE_MSGID_MAX || s[0] != '<' || s[n - 1] != '>')
		return 0;
	for (i = 1; i < n - 1; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '<' || s[i] == '>')
			return 0;
	return 1;
}

/* Check a list of msg-ids with single spaces between them (or NULL). */
static int
compose_check_ids(const char *field, const char *s, char **cause)
{
	size_t	 n;

	while (s != NULL) {
		n = strcspn(s, " ");
		if (!compose_msgid_ok(s, n)) {
			xasprintf(cause, "%s: \"%.*s\" is not a message id",
			    field, n > 100 ? 100 : (int)n, s);
			return -1;
		}
		s = s[n] == ' ' ? s + n + 1 : NULL;
	}
	return 0;
}

int
compose_check(const struct compose *c, char **cause)
{
	size_t	 i, bad;
	int	 fd;

	if (compose_check_field("From", c->from_addr, cause) != 0 ||
	    compose_check_list("To", c->to, c->to_names, cause) != 0 ||
	    compose_check_list("Cc", c->cc, c->cc_names, cause) != 0)
		return -1;
	if (c->from_name != NULL && compose_check_text("from name",
	    c->from_name, 0, cause) != 0)
		return -1;
	if (c->subject != NULL && compose_check_text("subject", c->subject, 0,
	    cause) != 0)
		return -1;
	if (c->user_agent != NULL && compose_check_text("user agent",
	    c->user_agent, 1, cause) != 0)
		return -1;
	if (compose_check_ids("In-Reply-To", c->in_reply_to, cause) != 0 ||
	    compose_check_ids("References", c->references, cause) != 0)
		return -1;
	if (c->body != NULL &&
	    (bad = compose_utf8_bad(c->body, c->body_len)) != c->body_len) {
		xasprintf(cause, "body is not valid UTF-8 (byte %zu)", bad);
		return -1;
	}
	for (i = 0; c->attach != NULL && c->attach[i] != NULL; i++) {
		if ((fd = compose_open(c->attach[i], c->attachment_max,
		    cause)) == -1)
			return -1;
		close(fd);
	}
	return 0;
}

/*
 * Return the display name written in p[0..n) (the phrase before "<"):
 * quotes removed, quoted pairs unescaped, runs of white space one space,
 * none at either end ("" when there is none).
 */
static char *
compose_name(const char *p, size_t n)
{
	char	*name = xmalloc(n + 1);
	size_t	 i, len = 0;
	int	 quoted = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && p[i] == '\\' && i + 1 < n)
			i++;
		else if (strchr(" \t\r\n", p[i]) != NULL) {
			if (len > 0 && name[len - 1] != ' ')
				name[len++] = ' ';
			continue;
		}
		name[len++] = p[i];
	}
	while (len > 0 && name[len - 1] == ' ')
		len--;
	name[len] = '\0';
	return name;
}

/* End one mailbox of a list in cur: add it to *list unless it is empty. */
static void
compose_mailbox_end(struct mime_addr **list, size_t *n, char *cur)
{
	char	*p = cur, *lt, *gt, *name = NULL;
	size_t	 len;

	if ((lt = strchr(cur, '<')) != NULL && (gt = strchr(lt, '>')) !=
	    NULL) {
		name = compose_name(cur, lt - cur);
		*gt = '\0';
		p = lt + 1;
	}
	p += strspn(p, " \t\r\n");
	for (len = strlen(p); len > 0 && strchr(" \t\r\n", p[len - 1]) !=
	    NULL; len--)
		p[len - 1] = '\0';
	if (*p == '\0') {
		free(name);
		return;
	}
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[*n].name = name != NULL ? name : xstrdup("");
	(*list)[(*n)++].addr = xstrdup(p);
}

/*
 * Split the value of an address list field (RFC 5322 3.4: "Name <a@b>,
 * "Last, First" <c@d>, e@f (comment), group: g@h;") into its mailboxes
 * as mime.h's struct mime_addr: each addr-spec as written (a quoted local
 * part keeps its quotes, which the reader's mime_addr_list does not: a
 * sender needs the address exactly) and its display name unquoted ("" when
 * it has none); comments and group names are dropped. Return them (NULL
 * when none; freed with mime_addr_free) and their number in *n.
 */
struct mime_addr *
compose_mailbox_list(const char *v, size_t *n)
{
	struct mime_addr	*list = NULL;
	char			*cur;
	size_t			 len = 0;
	int			 quoted = 0, depth = 0, angle = 0;

	*n = 0;
	cur = xmalloc(strlen(v) + 1);
	for (;; v++) {
		if (*v == '\0' || (!quoted && depth == 0 && !angle &&
		    (*v == ',' || *v == ';' || *v == ':'))) {
			cur[len] = '\0';
			len = 0;
			if (*v == ':')		/* a group's name */
				continue;
			compose_mailbox_end(&list, n, cur);
			if (*v == '\0')
				break;
			continue;
		}
		if (quoted) {
			if (*v == '\\' && v[1] != '\0')
				cur[len++] = *v++;
			else if (*v == '"')
				quoted = 0;
		} else if (depth > 0) {
			if (*v == '\\' && v[1] != '\0')
				v++;
			else if (*v == '(')
				depth++;
			else if (*v == ')')
				depth--;
			continue;		/* comments are dropped */
		} else if (*v == '(') {
			depth = 1;
			continue;
		} else if (*v == '"')
			quoted = 1;
		else if (*v == '<')
			angle = 1;
		else if (*v == '>')
			angle = 0;
		cur[len++] = *v;
	}
	free(cur);
	return list;
}

/*
 * Split an address list field into its addr-specs (compose_mailbox_list
 * without the names). Return a NULL-terminated array (each string and the
 * array freed by the caller).
 */
char **
compose_address_list(const char *v)
{
	struct mime_addr	*mb;
	char			**list;
	size_t			  i, n;

	mb = compose_mailbox_list(v, &n);
	list = xcalloc(n + 1, sizeof *list);
	for (i = 0; i < n; i++) {
		list[i] = mb[i].addr;
		free(mb[i].name);
	}
	free(mb);
	return list;
}
