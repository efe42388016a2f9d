/*
 * Composing in an editor (send, reply and forward with no body and a
 * terminal on stdin): the daemon makes the draft, mailctl writes it into
 * data_dir/drafts, opens $VISUAL, else $EDITOR, else vi on it, and reads
 * back what the user saved. The file stays until the daemon has queued
 * the message, so an editor or a send that fails loses nothing.
 */
#ifndef MAILCTL_DRAFT_H
#define MAILCTL_DRAFT_H

#include <stddef.h>

#include <jansson.h>

#include "client.h"

#define DRAFT_MAX	(4 * 1024 * 1024)	/* bytes of a draft read back */

/*
 * What the user saved: the fields of the header block (each "" when
 * empty) and the body, or -1 with *error (line numbers from 1).
 */
struct draft {
	char	*to;
	char	*cc;
	char	*bcc;
	char	*subject;
	char	*body;
};

int	draft_parse(const char *text, size_t len, struct draft *, char **error);
void	draft_free(struct draft *);
char	*draft_render(json_t *draft);
int	draft_edit(struct client_opts *, const char *cmd, const char *method,
	    json_t *params, char **path);
void	draft_sent(const char *path);
void	draft_kept(const char *cmd, const char *path);

#endif
