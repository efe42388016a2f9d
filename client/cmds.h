/* The commands of mailctl, one function each (table in mailctl.c). */
#ifndef MAILCTL_CMDS_H
#define MAILCTL_CMDS_H

#include "client.h"

#define CMD_DECL(name) int name(const struct client_cmd *, \
	struct client_opts *, int, char **)

CMD_DECL(cmd_status);
CMD_DECL(cmd_reload);
CMD_DECL(cmd_fetch);
CMD_DECL(cmd_watch);
CMD_DECL(cmd_ls);
CMD_DECL(cmd_search);
CMD_DECL(cmd_read);
CMD_DECL(cmd_mark);
CMD_DECL(cmd_mv);
CMD_DECL(cmd_rm);
CMD_DECL(cmd_attachments);
CMD_DECL(cmd_folders);
CMD_DECL(cmd_reindex);
CMD_DECL(cmd_refilter);
CMD_DECL(cmd_send);
CMD_DECL(cmd_queue);
CMD_DECL(cmd_sendmail);
CMD_DECL(cmd_reply);
CMD_DECL(cmd_forward);
CMD_DECL(cmd_thread);

/* cmd-ls.c: a listing for people, shared by ls and thread. */
void	ls_prefix_subject(json_t *, const char *);
void	ls_show(json_t *, int no_pager);

#endif
