/*
 * Allocation helpers that never return NULL: running out of memory is one of
 * the few reasons mailctld exits (see STYLE.md).
 */
#ifndef MAILCTL_XMALLOC_H
#define MAILCTL_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
