/*
 * Filing rules (DESIGN.md "Filters"): the first rule with a keyword found
 * in the sender, the subject or the decoded body text decides the folder;
 * no match files into Inbox. Matching ignores case over all of Unicode
 * (simple case folding), so "RÉUNION" matches the keyword "réunion".
 * Body keywords are looked for in the text decoded from the first
 * FILTER_BODY_MAX bytes of the body part, so a huge body costs no more.
 *
 * A struct filter is an immutable copy of the configured rules, counted by
 * reference so the store thread can keep using one while a reload installs
 * the next.
 */
#ifndef MAILCTL_FILTER_H
#define MAILCTL_FILTER_H

#include <stddef.h>

struct config_filter;
struct filter;
struct mime_msg;

#define FILTER_INBOX	"Inbox"
#define FILTER_BODY_MAX	(1024 * 1024)	/* encoded body bytes looked at */

struct filter	*filter_new(const struct config_filter *, size_t n);
struct filter	*filter_ref(struct filter *);
void		 filter_free(struct filter *);
size_t		 filter_folders(const struct filter *, const char ***);
const char	*filter_folder(const struct filter *, const char *from,
		    const char *subject, const struct mime_msg *, int *notify);
char		*filter_fold(const char *);

#endif
