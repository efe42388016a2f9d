/*
 * The password of one account on one server (POP3, SMTP, IMAP): the
 * server's "password" from the configuration, or the first line that its
 * "password_command" prints, run as a child watched by the loop (proc.c).
 *
 *	s = secret_new("account=personal smtp");
 *	secret_configure(s, ca->smtp);		at start and at each reload
 *	secret_get(s, got_cb, arg);		got_cb(secret or NULL, error)
 *	... the server refuses it:
 *	if (secret_refused(s)) secret_get(s, ...) and try again at once
 *
 * A command's answer is cached until the server refuses it, a reload, or
 * secret_free. secret_refused drops it and says whether asking the command
 * again is worth it: yes when the refused secret came from the cache (a
 * rotated password, an expired OAuth2 token), no when the command had just
 * been asked for it or the password is in the configuration; so an owner
 * retries at most once per attempt. Every copy is wiped (explicit_bzero)
 * when dropped, and nothing here logs a secret.
 */
#ifndef MAILCTL_SECRET_H
#define MAILCTL_SECRET_H

#include <stddef.h>

struct config_server;
struct secret;

/*
 * secret: the password, or NULL when the server needs none or it could
 * not be had (error says why, else NULL). Both valid during the call.
 */
typedef void (*secret_cb)(const char *secret, const char *error, void *arg);

struct secret	*secret_new(const char *what);
void		 secret_configure(struct secret *, const struct config_server *);
void		 secret_get(struct secret *, secret_cb, void *arg);
int		 secret_refused(struct secret *);
int		 secret_busy(const struct secret *);
void		 secret_cancel(struct secret *);
void		 secret_free(struct secret *);
char		*secret_from_output(int status, const char *out, size_t len,
		    char *msg, size_t msgsize);

#endif
