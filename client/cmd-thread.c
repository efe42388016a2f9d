/*
 * mailctl thread: the conversation a message belongs to, oldest first,
 * one line each as ls prints it, the subject indented by how deep the
 * message answers (its depth, from the daemon).
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"

#define THREAD_INDENT_MAX	12	/* levels shown; deeper ones align */

/* One option of thread. */
static int
thread_opt(int ch, const char *arg, void *p)
{
	(void)arg;
	if (ch == 'P') {
		*(int *)p = 1;
		return -1;
	}
	return EX_USAGE;
}

int
cmd_thread(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "no-pager", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*r, *m;
	char		 prefix[2 * THREAD_INDENT_MAX + 3];
	long long	 id, depth;
	size_t		 i;
	int		 rc, no_pager = 0;

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jhP", longs,
	    thread_opt, &no_pager)) != -1 || argc - optind != 1) {
		if (rc == -1)
			client_cmd_usage(cmd, stderr);
		return rc == -1 ? EX_USAGE : rc;
	}
	if ((id = client_parse_id(cmd->name, "message", argv[optind])) == -1)
		return EX_USAGE;
	if ((rc = client_call(o, "thread", json_pack("{s:I}", "id",
	    (json_int_t)id), &r)) != 0)
		return rc;
	if (o->json) {
		rc = client_print_json(r);
		json_decref(r);
		return rc;
	}
	json_array_foreach(r, i, m) {
		depth = json_integer_value(json_object_get(m, "depth"));
		if (depth <= 0)
			continue;
		if (depth > THREAD_INDENT_MAX)
			depth = THREAD_INDENT_MAX;
		memset(prefix, ' ', 2 * (depth - 1));
		memcpy(prefix + 2 * (depth - 1), "> ", 3);
		ls_prefix_subject(m, prefix);
	}
	ls_show(r, no_pager);
	json_decref(r);
	return 0;
}
