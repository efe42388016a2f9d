/*
 * What threading reads of a message's header fields (mime-thread.c): the
 * keys of Message-ID, References and In-Reply-To, and the subject as
 * conversations compare it. Pure functions; every result is new memory.
 */
#ifndef MAILCTL_MIME_THREAD_H
#define MAILCTL_MIME_THREAD_H

#include <stddef.h>

#define MIME_THREAD_REFS_MAX	50	/* nearest ancestors kept */
#define MIME_THREAD_ID_MAX	500	/* bytes of one id, "<" and ">" too */

char	*mime_thread_id(const char *field);
char	**mime_thread_refs(const char *references, const char *in_reply_to,
	    const char *self, size_t *n);
void	 mime_thread_refs_free(char **, size_t);
char	*mime_thread_subject(const char *subject, int *reply);

#define MIME_PREFIX_REPLY	1	/* "Re:", "AW:", ... */
#define MIME_PREFIX_FORWARD	2	/* "Fwd:", "WG:", ... */
size_t	 mime_subject_prefix(const char *, int kinds);

#endif
