/*
 * The insides of the message writer, shared by its files; nothing outside
 * them includes this (the public API is compose.h).
 *
 *	compose.c		writing: header, body, attachments, Date,
 *				Message-ID, the JSON form of a message
 *	compose-check.c		checking addresses, header text, the body
 *				and attachments before writing; address lists
 *
 * compose.c calls compose-check.c, never the other way.
 */
#ifndef MAILCTL_COMPOSE_INT_H
#define MAILCTL_COMPOSE_INT_H

/* compose-check.c */
int		 compose_alnum(int);
int		 compose_atext(int);
const char	*compose_basename(const char *);
int		 compose_open(const char *, long long, char **);
int		 compose_check_text(const char *, const char *, int, char **);

#endif
