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

#endif
