/*
 * Logging in to an SMTP server (AUTH, RFC 4954): PLAIN with an initial
 * response (RFC 4616), LOGIN (user and password as two challenges), and
 * XOAUTH2 (a bearer token). "auto" takes PLAIN, else LOGIN, from what
 * EHLO announced. Part of the session in smtp.c (smtp-int.h).
 *
 *   [AUTH | AUTH_USER -> AUTH_PASS -> AUTH] -> IDLE
 *
 * Credentials are only sent over TLS, unless the server's tls is "none";
 * the lines that carry them are logged as "********", and every copy is
 * zeroed before it is freed.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config.h"
#include "conn.h"
#include "smtp-int.h"
#include "smtp-wire.h"
#include "smtp.h"

/* Base64-encode len bytes (RFC 4648), NUL-terminated; free it. */
static char *
smtp_base64(const void *data, size_t len)
{
	char	*b64;

	b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
	return b64;
}

/* Send "AUTH MECH base64(raw)" (or a bare base64 line when mech is NULL). */
static void
smtp_auth_send(struct smtp_session *s, const char *mech, char *raw,
    size_t rawlen)
{
	char	*b64, *line, logas[64];

	b64 = smtp_base64(raw, rawlen);
	if (mech != NULL) {
		xasprintf(&line, "AUTH %s %s", mech, b64);
		snprintf(logas, sizeof logas, "AUTH %s ********", mech);
	} else {
		line = xstrdup(b64);
		snprintf(logas, sizeof logas, "********");
	}
	smtp_write(s, line, logas);
	explicit_bzero(raw, rawlen);
	explicit_bzero(b64, strlen(b64));
	explicit_bzero(line, strlen(line));
	free(b64);
	free(line);
}

/* Start AUTH PLAIN (RFC 4616, initial response), LOGIN or XOAUTH2. */
static void
smtp_auth_start(struct smtp_session *s, const char *mech)
{
	size_t	 ulen = strlen(s->user), plen = strlen(s->secret), rawlen;
	char	*raw;

	s->mech = mech;
	if (strcmp(mech, "PLAIN") == 0) {
		rawlen = ulen + plen + 2;
		raw = xmalloc(rawlen);
		raw[0] = '\0';
		memcpy(raw + 1, s->user, ulen);
		raw[1 + ulen] = '\0';
		memcpy(raw + 2 + ulen, s->secret, plen);
		smtp_auth_send(s, "PLAIN", raw, rawlen);
		free(raw);
		smtp_enter(s, SMTP_AUTH);
	} else if (strcmp(mech, "XOAUTH2") == 0) {
		rawlen = xasprintf(&raw, "user=%s\001auth=Bearer %s\001\001",
		    s->user, s->secret);
		smtp_auth_send(s, "XOAUTH2", raw, rawlen);
		free(raw);
		smtp_enter(s, SMTP_AUTH);
	} else {
		smtp_write(s, "AUTH LOGIN", NULL);
		smtp_enter(s, SMTP_AUTH_USER);
	}
}

/* Choose the AUTH mechanism, or none. */
void
smtp_auth(struct smtp_session *s)
{
	const char	*how = s->auth;

	if (strcmp(how, "none") == 0 || (strcmp(how, "auto") == 0 &&
	    (s->user == NULL || s->secret == NULL))) {
		smtp_ready(s);
		return;
	}
	if (s->user == NULL || s->secret == NULL) {
		smtp_fail(s, SMTP_ERR_AUTH, 0, 1, "auth \"%s\" needs a user "
		    "and a password", how);
		return;
	}
	if (!conn_is_tls(s->conn) && s->tls != CONFIG_TLS_NONE) {
		smtp_fail(s, SMTP_ERR_TLS, 0, 1, "refusing to send a password "
		    "over an unencrypted connection");
		return;
	}
	if (!(s->ext.flags & SMTP_EXT_AUTH)) {
		smtp_fail(s, SMTP_ERR_AUTH, 0, 1, "%s:%d does not offer AUTH "
		    "(it answered %s)", s->host, s->port,
		    s->state == SMTP_HELO ? "HELO, not EHLO" : "EHLO without "
		    "AUTH");
		return;
	}
	if (strcmp(how, "plain") == 0)
		smtp_auth_start(s, "PLAIN");
	else if (strcmp(how, "login") == 0)
		smtp_auth_start(s, "LOGIN");
	else if (strcmp(how, "xoauth2") == 0)
		smtp_auth_start(s, "XOAUTH2");
	else if (s->ext.auth & SMTP_AUTH_PLAIN)
		smtp_auth_start(s, "PLAIN");
	else if (s->ext.auth & SMTP_AUTH_LOGIN)
		smtp_auth_start(s, "LOGIN");
	else
		smtp_fail(s, SMTP_ERR_AUTH, 0, 1, "%s:%d offers neither AUTH "
		    "PLAIN nor LOGIN (it offers: %s); set auth", s->host,
		    s->port, s->ext.mechs[0] != '\0' ? s->ext.mechs : "none");
}

/* An AUTH reply: 334 continues, 235 succeeds. */
void
smtp_auth_response(struct smtp_session *s, const struct smtp_reply *r)
{
	char	 said[SMTP_MESSAGE_MAX];
	char	*raw;

	if (r->code == 334 && s->state == SMTP_AUTH_USER) {
		raw = xstrdup(s->user);
		smtp_auth_send(s, NULL, raw, strlen(s->user));
		free(raw);
		smtp_enter(s, SMTP_AUTH_PASS);
		return;
	}
	if (r->code == 334 && s->state == SMTP_AUTH_PASS) {
		raw = xstrdup(s->secret);
		smtp_auth_send(s, NULL, raw, strlen(s->secret));
		free(raw);
		smtp_enter(s, SMTP_AUTH);
		return;
	}
	if (r->code == 334) {
		/*
		 * A challenge after our initial response: XOAUTH2's error
		 * report, which wants an empty line back; anything else is
		 * cancelled with "*" (RFC 4954 section 4). The final reply
		 * follows.
		 */
		smtp_write(s, strcmp(s->mech, "XOAUTH2") == 0 ? "" : "*", NULL);
		smtp_timeouts(s);
		return;
	}
	if (r->code == 235) {
		log_info("smtp: session=%u host=%s:%d authenticated as \"%s\" "
		    "(%s)", s->id, s->host, s->port, s->user, s->mech);
		smtp_ready(s);
		return;
	}
	smtp_said(s, said, sizeof said, r);
	smtp_fail(s, SMTP_ERR_AUTH, smtp_temporary(r), 1, "authentication as "
	    "\"%s\" (%s) failed: %s", s->user, s->mech, said);
}
