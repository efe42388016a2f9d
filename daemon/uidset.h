/*
 * A set of strings (the UIDLs an account has stored, or took in a poll),
 * built to answer "is it in?" fast for hundreds of thousands of them: a
 * poll that finds nothing new asks once per message on the server.
 */
#ifndef MAILCTL_UIDSET_H
#define MAILCTL_UIDSET_H

#include <stddef.h>

struct uidset;

struct uidset	*uidset_new(void);
void		 uidset_add(struct uidset *, const char *uid);
int		 uidset_has(const struct uidset *, const char *uid);
size_t		 uidset_count(const struct uidset *);
void		 uidset_free(struct uidset *);

#endif
