/*
 * Configuration loading and validation.
 *
 * The whole file is checked before anything is used: unknown keys, wrong
 * types, out-of-range numbers and unsafe names are refused with the exact key
 * path ("accounts[1].smtp.port") and what was expected, so that a typo never
 * silently turns into a default. Secrets are checked for type only and never
 * quoted in a message.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/paths.h"
#include "common/xmalloc.h"
#include "config.h"

#define CFG_PATH_MAX	128
#define CFG_NAME_MAX	64

/*
 * The rules of the original assignment, in their priority order; used when
 * the file has no "filters" key.
 */
static const char config_default_filters[] =
    "[{\"folder\":\"Spam\",\"from\":[\"lottery@\"],"
    "\"subject\":[\"you won\"],\"body\":[\"wire transfer\"],"
    "\"notify\":false},"
    "{\"folder\":\"Project\",\"subject\":[\"[project]\"]},"
    "{\"folder\":\"Important\",\"from\":[\"boss@example.test\"]},"
    "{\"folder\":\"Work\",\"subject\":[\"meeting\",\"report\"]}]";

/* Set *cause to "PATH.KEY: message" and return -1. */
static int __attribute__((format(printf, 4, 5)))
cfg_fail(char **cause, const char *path, const char *key, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (key == NULL)
		xasprintf(cause, "%s: %s", *path ? path : "(top level)", msg);
	else
		xasprintf(cause, "%s%s%s: %s", path, *path ? "." : "", key, msg);
	return -1;
}

/* Write "path.key" or "path[i]" into buf. */
static const char *
cfg_path(char *buf, const char *path, const char *key, long idx)
{
	if (idx >= 0)
		snprintf(buf, CFG_PATH_MAX, "%s%s%s[%ld]", path,
		    *path && key ? "." : "", key ? key : "", idx);
	else
		snprintf(buf, CFG_PATH_MAX, "%s%s%s", path, *path ? "." : "",
		    key);
	return buf;
}

/*
 * Refuse any key of obj not in the NULL-terminated list. JSON has no
 * comments, so keys starting with "//" are ignored as comments.
 */
static int
cfg_keys(json_t *obj, const char *path, const char *const *allowed,
    char **cause)
{
	const char	*key;
	json_t		*v;
	char		 list[512];
	size_t		 i, len;

	json_object_foreach(obj, key, v) {
		if (strncmp(key, "//", 2) == 0)
			continue;	/* a comment */
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		len = 0;
		for (i = 0; allowed[i] != NULL && len < sizeof list; i++)
			len += snprintf(list + len, sizeof list - len, "%s%s",
			    i > 0 ? ", " : "", allowed[i]);
		if (strlen(key) > CFG_NAME_MAX || strpbrk(key, "\n\r\t") != NULL)
			return cfg_fail(cause, path, NULL, "unknown key (expected "
			    "one of %s)", list);
		return cfg_fail(cause, path, key, "unknown key (expected one "
		    "of %s)", list);
	}
	return 0;
}

/* Return 1 when s holds no control character (C0 or DEL). */
static int
cfg_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/*
 * Get an optional string; *out stays unchanged when the key is absent.
 * Strings with control characters are refused: they end up in logs, mail
 * headers and protocol commands, where a CR or LF would be an injection.
 */
static int
cfg_string(json_t *obj, const char *path, const char *key, int required,
    const char **out, char **cause)
{
	json_t	*v;

	if ((v = json_object_get(obj, key)) == NULL) {
		if (required)
			return cfg_fail(cause, path, key, "missing (required)");
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return cfg_fail(cause, path, key, "expected a non-empty string");
	if (strlen(json_string_value(v)) != json_string_length(v) ||
	    !cfg_printable(json_string_value(v)))
		return cfg_fail(cause, path, key, "control characters are not "
		    "allowed");
	*out = json_string_value(v);
	return 0;
}

/* Get an optional integer in [min, max]. */
static int
cfg_int(json_t *obj, const char *path, const char *key, long long min,
    long long max, long long *out, char **cause)
{
	json_t	*v;

	if ((v = json_object_get(obj, key)) == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return cfg_fail(cause, path, key, "expected an integer "
		    "%lld\xe2\x80\x93%lld", min, max);
	*out = json_integer_value(v);
	return 0;
}

/* Same as cfg_int for an int-sized value. */
static int
cfg_int32(json_t *obj, const char *path, const char *key, int min, int max,
    int *out, char **cause)
{
	long long	 v = *out;

	if (cfg_int(obj, path, key, min, max, &v, cause) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* Get an optional boolean. */
static int
cfg_bool(json_t *obj, const char *path, const char *key, int *out,
    char **cause)
{
	json_t	*v;

	if ((v = json_object_get(obj, key)) == NULL)
		return 0;
	if (!json_is_boolean(v))
		return cfg_fail(cause, path, key, "expected true or false");
	*out = json_is_true(v);
	return 0;
}

/* Get an optional object (NULL when absent). */
static int
cfg_object(json_t *obj, const char *path, const char *key, json_t **out,
    char **cause)
{
	json_t	*v;

	*out = NULL;
	if ((v = json_object_get(obj, key)) == NULL)
		return 0;
	if (!json_is_object(v))
		return cfg_fail(cause, path, key, "expected an object");
	*out = v;
	return 0;
}

/*
 * Get an optional array of non-empty strings as a NULL-terminated vector
 * (allocated; the strings are borrowed). min is the least count allowed.
 */
static int
cfg_strings(json_t *obj, const char *path, const char *key, size_t min,
    const char ***out, char **cause)
{
	json_t		*v, *e;
	size_t		 i;
	const char	**vec;
	char		 sub[CFG_PATH_MAX];

	*out = NULL;
	if ((v = json_object_get(obj, key)) == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) < min) {
		return cfg_fail(cause, path, key, min > 0 ?
		    "expected a non-empty array of strings" :
		    "expected an array of strings");
	}
	vec = xcalloc(json_array_size(v) + 1, sizeof *vec);
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			free(vec);
			return cfg_fail(cause, cfg_path(sub, path, key, i),
			    NULL, "expected a non-empty string");
		}
		vec[i] = json_string_value(e);
	}
	*out = vec;
	return 0;
}

/* Check that s is a usable host name or IP address literal. */
static int
cfg_host_ok(const char *s)
{
	if (strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-:_", *s) == NULL)
			return 0;
	return 1;
}

/* Check that s looks like local@domain, without spaces or specials. */
static int
cfg_email_ok(const char *s)
{
	const char	*at;

	if ((at = strchr(s, '@')) == NULL || at == s || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || strlen(s) > 254)
		return 0;
	return strpbrk(s, " <>()[]\\,;:\"") == NULL && cfg_host_ok(at + 1);
}

/*
 * Check that s is safe as one path component: it names a directory under
 * data_dir, so no separators, no dot files, nothing hidden. The store
 * asks the same of a folder that mv creates.
 */
int
config_component_ok(const char *s)
{
	if (strlen(s) > CFG_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (strchr("/\\", *s) != NULL || (unsigned char)*s < 0x20 ||
		    *s == 0x7f)
			return 0;
	return 1;
}

/*
 * The local folder of a server folder other than INBOX: its name with the
 * hierarchy's "/" as "." (new memory), or NULL when no folder can have
 * that name. INBOX, any case, is filed by the rules instead.
 */
char *
config_imap_local(const char *name)
{
	char	*local, *p;

	local = xstrdup(name);
	for (p = local; *p != '\0'; p++)
		if (*p == '/')
			*p = '.';
	if (!config_component_ok(local)) {
		free(local);
		return NULL;
	}
	return local;
}

/*
 * Would two server folders (valid ones) be filed into one local folder?
 * INBOX in any case is the Inbox; "A/B" and "A.B" are both "A.B".
 */
static int
cfg_imap_same_local(const char *a, const char *b)
{
	char	*la, *lb;
	int	 same;

	if (strcasecmp(a, "INBOX") == 0 || strcasecmp(b, "INBOX") == 0)
		return strcasecmp(a, b) == 0;
	la = config_imap_local(a);
	lb = config_imap_local(b);
	same = la != NULL && lb != NULL && strcmp(la, lb) == 0;
	free(la);
	free(lb);
	return same;
}

/* The keys only an imap server has. */
static int
cfg_imap(json_t *obj, const char *path, struct config_server *s,
    char **cause)
{
	static const char *const inbox[] = { "INBOX", NULL };
	char		 sub[CFG_PATH_MAX], *local;
	size_t		 i, j;

	if (cfg_int32(obj, path, "poll_interval", 1, 604800,
	    &s->poll_interval, cause) != 0 ||
	    cfg_bool(obj, path, "keep", &s->keep, cause) != 0 ||
	    cfg_bool(obj, path, "idle", &s->idle, cause) != 0 ||
	    cfg_int32(obj, path, "idle_renew", 2, 1740, &s->idle_renew,
	    cause) != 0 ||
	    cfg_bool(obj, path, "sync_seen", &s->sync_seen, cause) != 0 ||
	    cfg_bool(obj, path, "delete_on_server", &s->delete_on_server,
	    cause) != 0 ||
	    cfg_strings(obj, path, "folders", 1, &s->folders, cause) != 0)
		return -1;
	if (s->folders == NULL) {
		s->folders = xcalloc(2, sizeof *s->folders);
		s->folders[0] = inbox[0];
	}
	for (i = 0; s->folders[i] != NULL; i++) {
		cfg_path(sub, path, "folders", i);
		if (strcasecmp(s->folders[i], "INBOX") != 0) {
			if ((local = config_imap_local(s->folders[i])) == NULL)
				return cfg_fail(cause, sub, NULL, "a folder name "
				    "of at most 64 bytes, without a backslash, "
				    "control characters or a leading dot or "
				    "dash");
			free(local);
		}
		for (j = 0; j < i; j++) {
			if (strcmp(s->folders[i], s->folders[j]) == 0)
				return cfg_fail(cause, sub, NULL, "\"%s\" is "
				    "listed twice", s->folders[i]);
			if (cfg_imap_same_local(s->folders[i], s->folders[j]))
				return cfg_fail(cause, sub, NULL, "\"%s\" and "
				    "\"%s\" would be one local folder",
				    s->folders[j], s->folders[i]);
		}
	}
	return 0;
}

/* Parse a pop3, imap or smtp server object. */
static int
cfg_server(json_t *obj, const char *path, enum config_proto proto,
    const struct config *cf, struct config_server **out, char **cause)
{
	static const char *const pop3_keys[] = { "host", "port", "tls", "user",
	    "password", "password_command", "auth", "ca_file", "timeout",
	    "poll_interval", "keep", "connections", "quick_check", NULL };
	static const char *const smtp_keys[] = { "host", "port", "tls", "user",
	    "password", "password_command", "auth", "ca_file", "timeout",
	    NULL };
	static const char *const imap_keys[] = { "host", "port", "tls", "user",
	    "password", "password_command", "auth", "ca_file", "timeout",
	    "poll_interval", "keep", "folders", "idle", "idle_renew",
	    "sync_seen", "delete_on_server", NULL };
	static const char *const pop3_auth[] = { "auto", "user", "plain",
	    "apop", NULL };
	static const char *const imap_auth[] = { "auto", "login", "plain",
	    "xoauth2", NULL };
	static const char *const smtp_auth[] = { "auto", "plain", "login",
	    "xoauth2", "none", NULL };
	struct config_server	*s;
	const char		*tls = NULL, *ca = NULL;
	const char *const	*auths;
	long long		 port = 0;
	size_t			 i;
	char			*ecause = NULL;

	s = xcalloc(1, sizeof *s);
	*out = s;
	s->proto = proto;
	s->auth = "auto";
	s->timeout = CONFIG_DEFAULT_TIMEOUT;
	s->poll_interval = cf->poll_interval;
	s->keep = 1;
	s->connections = 2;
	s->quick_check = 1;
	s->idle = 1;
	s->idle_renew = 300;
	s->sync_seen = 1;
	if (cfg_keys(obj, path, proto == CONFIG_POP3 ? pop3_keys :
	    proto == CONFIG_IMAP ? imap_keys : smtp_keys, cause) != 0)
		return -1;
	if (cfg_string(obj, path, "host", 1, &s->host, cause) != 0)
		return -1;
	if (!cfg_host_ok(s->host))
		return cfg_fail(cause, path, "host", "expected a host name or "
		    "an IP address");
	if (cfg_string(obj, path, "tls", 0, &tls, cause) != 0)
		return -1;
	if (tls == NULL)
		s->tls = proto == CONFIG_SMTP ? CONFIG_TLS_STARTTLS :
		    CONFIG_TLS_IMPLICIT;
	else if (strcmp(tls, "implicit") == 0)
		s->tls = CONFIG_TLS_IMPLICIT;
	else if (strcmp(tls, "starttls") == 0)
		s->tls = CONFIG_TLS_STARTTLS;
	else if (strcmp(tls, "none") == 0)
		s->tls = CONFIG_TLS_NONE;
	else
		return cfg_fail(cause, path, "tls", "expected \"implicit\", "
		    "\"starttls\" or \"none\"");
	if (cfg_int(obj, path, "port", 1, 65535, &port, cause) != 0)
		return -1;
	if (port == 0) {
		if (proto == CONFIG_POP3)
			port = s->tls == CONFIG_TLS_IMPLICIT ? 995 : 110;
		else if (proto == CONFIG_IMAP)
			port = s->tls == CONFIG_TLS_IMPLICIT ? 993 : 143;
		else
			port = s->tls == CONFIG_TLS_IMPLICIT ? 465 : 587;
	}
	s->port = (int)port;
	if (cfg_string(obj, path, "user", 0, &s->user, cause) != 0)
		return -1;
	if (json_object_get(obj, "password") != NULL &&
	    json_object_get(obj, "password_command") != NULL)
		return cfg_fail(cause, path, "password", "give either password "
		    "or password_command, not both");
	if (json_object_get(obj, "password") != NULL &&
	    !json_is_string(json_object_get(obj, "password")))
		return cfg_fail(cause, path, "password", "expected a string");
	s->password = json_string_value(json_object_get(obj, "password"));
	if (cfg_strings(obj, path, "password_command", 1, &s->password_command,
	    cause) != 0)
		return -1;
	auths = proto == CONFIG_POP3 ? pop3_auth : proto == CONFIG_IMAP ?
	    imap_auth : smtp_auth;
	if (cfg_string(obj, path, "auth", 0, &s->auth, cause) != 0)
		return -1;
	for (i = 0; auths[i] != NULL; i++)
		if (strcmp(s->auth, auths[i]) == 0)
			break;
	if (auths[i] == NULL)
		return cfg_fail(cause, path, "auth", proto == CONFIG_POP3 ?
		    "expected \"auto\", \"user\", \"plain\" or \"apop\"" :
		    proto == CONFIG_IMAP ? "expected \"auto\", \"login\", "
		    "\"plain\" or \"xoauth2\"" : "expected \"auto\", \"plain\", \"login\", \"xoauth2\" or "
		    "\"none\"");
	if (s->password == NULL && s->password_command == NULL &&
	    (proto != CONFIG_SMTP || strcmp(s->auth, "auto") != 0) &&
	    strcmp(s->auth, "none") != 0)
		return cfg_fail(cause, path, NULL, "password or "
		    "password_command is required");
	if (s->user == NULL && (s->password != NULL ||
	    s->password_command != NULL))
		return cfg_fail(cause, path, "user", "missing (required with a "
		    "password)");
	if (cfg_string(obj, path, "ca_file", 0, &ca, cause) != 0)
		return -1;
	if (ca != NULL) {
		if ((s->ca_file = paths_expand_home(ca, &ecause)) == NULL) {
			cfg_fail(cause, path, "ca_file", "%s", ecause);
			free(ecause);
			return -1;
		}
		if (access(s->ca_file, R_OK) != 0)
			return cfg_fail(cause, path, "ca_file", "cannot read "
			    "\"%s\": %s", s->ca_file, strerror(errno));
	}
	if (cfg_int32(obj, path, "timeout", 1, 3600, &s->timeout, cause) != 0)
		return -1;
	if (proto == CONFIG_POP3) {
		if (cfg_int32(obj, path, "poll_interval", 1, 604800,
		    &s->poll_interval, cause) != 0)
			return -1;
		if (cfg_bool(obj, path, "keep", &s->keep, cause) != 0)
			return -1;
		if (cfg_int32(obj, path, "connections", 1, 2,
		    &s->connections, cause) != 0)
			return -1;
		if (cfg_bool(obj, path, "quick_check", &s->quick_check,
		    cause) != 0)
			return -1;
	}
	if (proto == CONFIG_IMAP)
		return cfg_imap(obj, path, s, cause);
	return 0;
}

/* Free a server (NULL is fine). */
static void
cfg_server_free(struct config_server *s)
{
	if (s == NULL)
		return;
	free(s->password_command);
	free(s->folders);
	free(s->ca_file);
	free(s);
}

/* Parse accounts[idx]. */
static int
cfg_account(json_t *obj, const char *path, struct config *cf,
    struct config_account *a, char **cause)
{
	static const char *const keys[] = { "name", "email", "display_name",
	    "aliases", "default", "save_sent", "pop3", "imap", "smtp", NULL };
	json_t	*pop3, *imap, *smtp;
	char	 sub[CFG_PATH_MAX];
	size_t	 i;

	if (!json_is_object(obj))
		return cfg_fail(cause, path, NULL, "expected an object");
	if (cfg_keys(obj, path, keys, cause) != 0)
		return -1;
	if (cfg_string(obj, path, "name", 1, &a->name, cause) != 0)
		return -1;
	if (!config_component_ok(a->name) ||
	    strpbrk(a->name, " \"'{}") != NULL)
		return cfg_fail(cause, path, "name", "expected a short name "
		    "without spaces, quotes, slashes or a leading dot");
	for (i = 0; &cf->accounts[i] != a; i++)
		if (cf->accounts[i].name != NULL &&
		    strcmp(cf->accounts[i].name, a->name) == 0)
			return cfg_fail(cause, path, "name", "duplicate account "
			    "name \"%s\"", a->name);
	if (cfg_string(obj, path, "email", 1, &a->email, cause) != 0)
		return -1;
	if (!cfg_email_ok(a->email))
		return cfg_fail(cause, path, "email", "expected an address "
		    "like user@example.org");
	if (cfg_string(obj, path, "display_name", 0, &a->display_name,
	    cause) != 0)
		return -1;
	if (cfg_strings(obj, path, "aliases", 0, &a->aliases, cause) != 0)
		return -1;
	for (i = 0; a->aliases != NULL && a->aliases[i] != NULL; i++)
		if (!cfg_email_ok(a->aliases[i]))
			return cfg_fail(cause, cfg_path(sub, path, "aliases", i),
			    NULL, "expected an address like user@example.org");
	a->save_sent = 1;
	if (cfg_bool(obj, path, "default", &a->is_default, cause) != 0 ||
	    cfg_bool(obj, path, "save_sent", &a->save_sent, cause) != 0)
		return -1;
	for (i = 0; a->is_default && &cf->accounts[i] != a; i++)
		if (cf->accounts[i].is_default)
			return cfg_fail(cause, path, "default", "only one account "
			    "can be the default (%s is already)",
			    cf->accounts[i].name);
	if (cfg_object(obj, path, "pop3", &pop3, cause) != 0 ||
	    cfg_object(obj, path, "imap", &imap, cause) != 0 ||
	    cfg_object(obj, path, "smtp", &smtp, cause) != 0)
		return -1;
	if (pop3 == NULL && imap == NULL && smtp == NULL)
		return cfg_fail(cause, path, NULL, "expected a \"pop3\" or "
		    "\"imap\" server, an \"smtp\" server, or both");
	if (pop3 != NULL && imap != NULL)
		return cfg_fail(cause, path, "imap", "an account fetches with "
		    "pop3 or with imap, not both");
	if (imap != NULL && cfg_server(imap, cfg_path(sub, path, "imap", -1),
	    CONFIG_IMAP, cf, &a->imap, cause) != 0)
		return -1;
	if (pop3 != NULL && cfg_server(pop3, cfg_path(sub, path, "pop3", -1),
	    CONFIG_POP3, cf, &a->pop3, cause) != 0)
		return -1;
	if (smtp != NULL && cfg_server(smtp, cfg_path(sub, path, "smtp", -1),
	    CONFIG_SMTP, cf, &a->smtp, cause) != 0)
		return -1;
	return 0;
}

/* Parse filters[idx]. */
static int
cfg_filter(json_t *obj, const char *path, struct config_filter *f,
    char **cause)
{
	static const char *const keys[] = { "folder", "from", "subject",
	    "body", "notify", NULL };
	static const char *const reserved[] = { "Sent", "Trash", NULL };
	size_t	 i;

	if (!json_is_object(obj))
		return cfg_fail(cause, path, NULL, "expected an object");
	if (cfg_keys(obj, path, keys, cause) != 0)
		return -1;
	if (cfg_string(obj, path, "folder", 1, &f->folder, cause) != 0)
		return -1;
	if (!config_component_ok(f->folder))
		return cfg_fail(cause, path, "folder", "expected a folder name "
		    "without slashes, control characters or a leading dot");
	for (i = 0; reserved[i] != NULL; i++)
		if (strcasecmp(f->folder, reserved[i]) == 0)
			return cfg_fail(cause, path, "folder", "\"%s\" is "
			    "reserved for mailctl", reserved[i]);
	if (cfg_strings(obj, path, "from", 1, &f->from, cause) != 0 ||
	    cfg_strings(obj, path, "subject", 1, &f->subject, cause) != 0 ||
	    cfg_strings(obj, path, "body", 1, &f->body, cause) != 0)
		return -1;
	if (f->from == NULL && f->subject == NULL && f->body == NULL)
		return cfg_fail(cause, path, NULL, "expected at least one of "
		    "\"from\", \"subject\" or \"body\"");
	f->notify = strcasecmp(f->folder, "Spam") != 0;
	if (cfg_bool(obj, path, "notify", &f->notify, cause) != 0)
		return -1;
	return 0;
}

/* Parse the hooks object. */
static int
cfg_hooks(json_t *obj, struct config *cf, char **cause)
{
	static const char *const keys[] = { "new_mail", "sent", "send_failed",
	    "timeout", NULL };

	if (cfg_keys(obj, "hooks", keys, cause) != 0)
		return -1;
	if (cfg_strings(obj, "hooks", "new_mail", 1, &cf->hook_new_mail,
	    cause) != 0 ||
	    cfg_strings(obj, "hooks", "sent", 1, &cf->hook_sent, cause) != 0 ||
	    cfg_strings(obj, "hooks", "send_failed", 1, &cf->hook_send_failed,
	    cause) != 0)
		return -1;
	return cfg_int32(obj, "hooks", "timeout", 1, 3600, &cf->hook_timeout,
	    cause);
}

/* Parse the queue object (retry schedule of the outbox). */
static int
cfg_queue(json_t *obj, struct config *cf, char **cause)
{
	static const char *const keys[] = { "retry_min", "retry_max",
	    "expire", NULL };

	if (cfg_keys(obj, "queue", keys, cause) != 0 ||
	    cfg_int32(obj, "queue", "retry_min", 1, 86400, &cf->queue_retry_min,
	    cause) != 0 ||
	    cfg_int32(obj, "queue", "retry_max", 1, 604800,
	    &cf->queue_retry_max, cause) != 0 ||
	    cfg_int32(obj, "queue", "expire", 1, 31536000, &cf->queue_expire,
	    cause) != 0)
		return -1;
	if (cf->queue_retry_max < cf->queue_retry_min)
		return cfg_fail(cause, "queue", "retry_max", "must not be less "
		    "than retry_min");
	return 0;
}

/* Resolve data_dir and socket to absolute paths. */
static int
cfg_paths(json_t *root, struct config *cf, char **cause)
{
	const char	*data_dir = NULL, *sock = NULL;
	char		*ecause = NULL;

	if (cfg_string(root, "", "data_dir", 0, &data_dir, cause) != 0 ||
	    cfg_string(root, "", "socket", 0, &sock, cause) != 0)
		return -1;
	if (data_dir != NULL)
		cf->data_dir = paths_expand_home(data_dir, &ecause);
	else
		cf->data_dir = paths_default_data_dir(&ecause);
	if (cf->data_dir == NULL) {
		cfg_fail(cause, "", "data_dir", "%s", ecause);
		free(ecause);
		return -1;
	}
	if (cf->data_dir[0] != '/')
		return cfg_fail(cause, "", "data_dir", "expected an absolute "
		    "path (or one starting with ~/)");
	if (sock != NULL)
		cf->socket = paths_expand_home(sock, &ecause);
	else
		cf->socket = paths_default_socket(&ecause);
	if (cf->socket == NULL) {
		cfg_fail(cause, "", "socket", "%s", ecause);
		free(ecause);
		return -1;
	}
	if (cf->socket[0] != '/')
		return cfg_fail(cause, "", "socket", "expected an absolute path");
	if (strlen(cf->socket) > PATHS_SOCKET_MAX)
		return cfg_fail(cause, "", "socket", "path longer than %d bytes",
		    PATHS_SOCKET_MAX);
	return 0;
}

/* The errors of a document: every one found, one per line, in order. */
struct cfg_errors {
	char	*text;
	int	 n;
};

#define CFG_ERRORS_MAX	20	/* listed; more are counted */

/* Note an error (one, taken), if there is one; return whether there was. */
static int
cfg_note(struct cfg_errors *e, char *one)
{
	char	*joined;

	if (one == NULL)
		return 0;
	if (e->n++ >= CFG_ERRORS_MAX)
		free(one);
	else if (e->text == NULL)
		e->text = one;
	else {
		xasprintf(&joined, "%s\n%s", e->text, one);
		free(e->text);
		free(one);
		e->text = joined;
	}
	return 1;
}

/*
 * Validate a parsed document into cf. Every part is checked even after
 * one failed, so that a person (or --check-config) hears of every error
 * at once: top-level keys, each account, each filter, hooks, queue.
 */
static int
cfg_document(json_t *root, struct config *cf, char **cause)
{
	static const char *const keys[] = { "data_dir", "socket",
	    "poll_interval", "poll_at_start", "attachment_max_bytes", "accounts", "filters",
	    "hooks", "desktop_notifications", "queue", NULL };
	struct cfg_errors e = { NULL, 0 };
	json_t		*accounts, *filters, *hooks, *queue, *v;
	json_error_t	 err;
	size_t		 i;
	char		 sub[CFG_PATH_MAX], *one = NULL;

	if (!json_is_object(root))
		return cfg_fail(cause, "", NULL, "expected a JSON object");
	if (cfg_keys(root, "", keys, &one) != 0)
		cfg_note(&e, one), one = NULL;
	if (cfg_paths(root, cf, &one) != 0)
		cfg_note(&e, one), one = NULL;
	if (cfg_int32(root, "", "poll_interval", 1, 604800, &cf->poll_interval,
	    &one) != 0)
		cfg_note(&e, one), one = NULL;
	if (cfg_int(root, "", "attachment_max_bytes", 1, 1LL << 30,
	    &cf->attachment_max_bytes, &one) != 0)
		cfg_note(&e, one), one = NULL;
	if (cfg_bool(root, "", "poll_at_start", &cf->poll_at_start,
	    &one) != 0)
		cfg_note(&e, one), one = NULL;
	if (cfg_bool(root, "", "desktop_notifications",
	    &cf->desktop_notifications, &one) != 0)
		cfg_note(&e, one), one = NULL;

	accounts = json_object_get(root, "accounts");
	if (accounts != NULL && !json_is_array(accounts)) {
		cfg_fail(&one, "", "accounts", "expected an array");
		cfg_note(&e, one), one = NULL;
		accounts = NULL;
	}
	cf->naccounts = json_array_size(accounts);
	cf->accounts = xcalloc(cf->naccounts + 1, sizeof *cf->accounts);
	json_array_foreach(accounts, i, v) {
		if (cfg_account(v, cfg_path(sub, "", "accounts", i), cf,
		    &cf->accounts[i], &one) != 0)
			cfg_note(&e, one), one = NULL;
	}

	filters = json_object_get(root, "filters");
	if (filters == NULL) {
		filters = json_loads(config_default_filters, 0, &err);
		if (filters == NULL) {
			cfg_fail(&one, "", "filters", "built-in default: %s",
			    err.text);
			cfg_note(&e, one), one = NULL;
		} else
			json_object_set_new(root, "filters", filters);
	}
	if (filters != NULL && !json_is_array(filters)) {
		cfg_fail(&one, "", "filters", "expected an array");
		cfg_note(&e, one), one = NULL;
		filters = NULL;
	}
	cf->nfilters = json_array_size(filters);
	cf->filters = xcalloc(cf->nfilters + 1, sizeof *cf->filters);
	json_array_foreach(filters, i, v) {
		if (cfg_filter(v, cfg_path(sub, "", "filters", i),
		    &cf->filters[i], &one) != 0)
			cfg_note(&e, one), one = NULL;
	}

	if (cfg_object(root, "", "hooks", &hooks, &one) != 0 ||
	    (hooks != NULL && cfg_hooks(hooks, cf, &one) != 0))
		cfg_note(&e, one), one = NULL;
	if (cfg_object(root, "", "queue", &queue, &one) != 0 ||
	    (queue != NULL && cfg_queue(queue, cf, &one) != 0))
		cfg_note(&e, one), one = NULL;
	if (e.n == 0)
		return 0;
	if (e.n > CFG_ERRORS_MAX) {
		xasprintf(&one, "... and %d more errors", e.n - CFG_ERRORS_MAX);
		e.n = 0;	/* listed anyway */
		cfg_note(&e, one);
	}
	*cause = e.text;
	return -1;
}

/*
 * Parse and validate a configuration text. path is only recorded (and may be
 * NULL). Return NULL with *cause set on any error.
 */
struct config *
config_parse(const char *text, size_t len, const char *path, char **cause)
{
	struct config	*cf;
	json_error_t	 err;

	cf = xcalloc(1, sizeof *cf);
	cf->path = path != NULL ? xstrdup(path) : NULL;
	cf->poll_interval = CONFIG_DEFAULT_POLL_INTERVAL;
	cf->attachment_max_bytes = CONFIG_DEFAULT_ATTACHMENT_MAX;
	cf->desktop_notifications = 1;
	cf->poll_at_start = 1;
	cf->hook_timeout = 30;
	cf->queue_retry_min = 60;
	cf->queue_retry_max = 3600;
	cf->queue_expire = 3 * 86400;
	cf->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (cf->root == NULL) {
		xasprintf(cause, "line %d, column %d: %s", err.line,
		    err.column, err.text);
		config_free(cf);
		return NULL;
	}
	if (cfg_document(cf->root, cf, cause) != 0) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Prefix each line of text with "path: " (new memory). */
static char *
cfg_prefix_lines(const char *path, const char *text)
{
	char		*out = NULL, *next;
	const char	*p, *nl;

	for (p = text; p != NULL; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		xasprintf(&next, "%s%s%s: %.*s", out != NULL ? out : "",
		    out != NULL ? "\n" : "", path, nl != NULL ? (int)(nl - p) :
		    (int)strlen(p), p);
		free(out);
		out = next;
	}
	return out;
}

/* The key path of the first "password" in cf (new memory), or NULL. */
static char *
cfg_password_key(const struct config *cf)
{
	char	*key;
	size_t	 i;

	for (i = 0; i < cf->naccounts; i++) {
		if (cf->accounts[i].pop3 != NULL &&
		    cf->accounts[i].pop3->password != NULL) {
			xasprintf(&key, "accounts[%zu].pop3.password", i);
			return key;
		}
		if (cf->accounts[i].imap != NULL &&
		    cf->accounts[i].imap->password != NULL) {
			xasprintf(&key, "accounts[%zu].imap.password", i);
			return key;
		}
		if (cf->accounts[i].smtp != NULL &&
		    cf->accounts[i].smtp->password != NULL) {
			xasprintf(&key, "accounts[%zu].smtp.password", i);
			return key;
		}
	}
	return NULL;
}

/*
 * Read and validate the file at path. When it does not exist and must_exist
 * is 0 (the XDG default location), return the defaults.
 */
struct config *
config_load(const char *path, int must_exist, char **cause)
{
	struct config	*cf;
	struct stat	 sb;
	FILE		*f;
	char		*text = NULL, *inner = NULL, *key;
	size_t		 len = 0, size = 0, n;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !must_exist) {
			cf = config_parse("{}", 2, NULL, cause);
			return cf;
		}
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len == size) {
			size = size ? size * 2 : 8192;
			if (size > 16 * 1024 * 1024) {
				xasprintf(cause, "%s: file larger than 16 MiB",
				    path);
				fclose(f);
				free(text);
				return NULL;
			}
			text = xreallocarray(text, 1, size);
		}
		if ((n = fread(text + len, 1, size - len, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f) || fstat(fileno(f), &sb) != 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	cf = config_parse(text, len, path, &inner);
	free(text);
	if (cf == NULL) {
		*cause = cfg_prefix_lines(path, inner);
		free(inner);
		return NULL;
	}
	/* As mpop and fetchmail do: a password is for our eyes only. */
	if ((sb.st_mode & 077) != 0 && (key = cfg_password_key(cf)) != NULL) {
		xasprintf(cause, "%s: %s holds a password, and the file can be "
		    "read by others than its owner (mode %04o): chmod 600 %s",
		    path, key, (unsigned)(sb.st_mode & 07777), path);
		free(key);
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Free a configuration (NULL is fine). */
void
config_free(struct config *cf)
{
	size_t	 i;

	if (cf == NULL)
		return;
	for (i = 0; cf->accounts != NULL && i < cf->naccounts; i++) {
		cfg_server_free(cf->accounts[i].pop3);
		cfg_server_free(cf->accounts[i].imap);
		cfg_server_free(cf->accounts[i].smtp);
		free(cf->accounts[i].aliases);
	}
	free(cf->accounts);
	for (i = 0; cf->filters != NULL && i < cf->nfilters; i++) {
		free(cf->filters[i].from);
		free(cf->filters[i].subject);
		free(cf->filters[i].body);
	}
	free(cf->filters);
	free(cf->hook_new_mail);
	free(cf->hook_sent);
	free(cf->hook_send_failed);
	free(cf->data_dir);
	free(cf->socket);
	free(cf->path);
	json_decref(cf->root);
	free(cf);
}

/* Return the account called name, or NULL. */
const struct config_account *
config_find_account(const struct config *cf, const char *name)
{
	size_t	 i;

	for (i = 0; i < cf->naccounts; i++)
		if (strcmp(cf->accounts[i].name, name) == 0)
			return &cf->accounts[i];
	return NULL;
}

/* Return the config spelling of a TLS mode. */
const char *
config_tls_name(enum config_tls tls)
{
	switch (tls) {
	case CONFIG_TLS_IMPLICIT:
		return "implicit";
	case CONFIG_TLS_STARTTLS:
		return "starttls";
	default:
		return "none";
	}
}

/* A JSON array of the strings of a NULL-terminated vector. */
static json_t *
cfg_json_strings(const char *const *v)
{
	json_t	*a = json_array();

	for (; *v != NULL; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* Describe a server for status, without its secret. */
static json_t *
cfg_describe_server(const struct config_server *s)
{
	json_t		*o;
	const char	*secret = "none";

	if (s->password != NULL)
		secret = "password";
	else if (s->password_command != NULL)
		secret = "password_command";
	o = json_pack("{s:s, s:i, s:s, s:s?, s:s, s:s, s:s?, s:i}",
	    "host", s->host, "port", s->port, "tls", config_tls_name(s->tls),
	    "user", s->user, "auth", s->auth, "secret", secret,
	    "ca_file", s->ca_file, "timeout", s->timeout);
	if (s->proto == CONFIG_POP3) {
		json_object_set_new(o, "poll_interval",
		    json_integer(s->poll_interval));
		json_object_set_new(o, "keep", json_boolean(s->keep));
		json_object_set_new(o, "connections",
		    json_integer(s->connections));
		json_object_set_new(o, "quick_check",
		    json_boolean(s->quick_check));
	}
	if (s->proto == CONFIG_IMAP) {
		json_object_set_new(o, "poll_interval",
		    json_integer(s->poll_interval));
		json_object_set_new(o, "keep", json_boolean(s->keep));
		json_object_set_new(o, "folders", cfg_json_strings(s->folders));
		json_object_set_new(o, "idle", json_boolean(s->idle));
		json_object_set_new(o, "idle_renew",
		    json_integer(s->idle_renew));
		json_object_set_new(o, "sync_seen", json_boolean(s->sync_seen));
		json_object_set_new(o, "delete_on_server",
		    json_boolean(s->delete_on_server));
	}
	return o;
}

/* Describe the accounts for status: settings, never secrets. */
json_t *
config_describe(const struct config *cf)
{
	json_t				*arr, *o;
	const struct config_account	*a;
	size_t				 i;

	arr = json_array();
	for (i = 0; i < cf->naccounts; i++) {
		a = &cf->accounts[i];
		o = json_pack("{s:s, s:s, s:s?, s:b, s:b}", "name", a->name,
		    "email", a->email, "display_name", a->display_name,
		    "default", a->is_default, "save_sent", a->save_sent);
		if (a->aliases != NULL)
			json_object_set_new(o, "aliases", cfg_json_strings(
			    a->aliases));
		if (a->pop3 != NULL)
			json_object_set_new(o, "pop3",
			    cfg_describe_server(a->pop3));
		if (a->imap != NULL)
			json_object_set_new(o, "imap",
			    cfg_describe_server(a->imap));
		if (a->smtp != NULL)
			json_object_set_new(o, "smtp",
			    cfg_describe_server(a->smtp));
		json_array_append_new(arr, o);
	}
	return arr;
}
