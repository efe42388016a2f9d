/* mailctl fetch [ACCOUNT] [--json] */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"

/* Print "1.2 MB" style sizes. */
static void
fetch_size(long long n, char *buf, size_t size)
{
	if (n >= 1024 * 1024)
		snprintf(buf, size, "%.1f MB", n / 1048576.0);
	else if (n >= 1024)
		snprintf(buf, size, "%.1f KB", n / 1024.0);
	else
		snprintf(buf, size, "%lld bytes", n);
}

int
cmd_fetch(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	json_t		*r, *params = NULL, *a;
	size_t		 i;
	int		 rc, status = 0;
	char		 size[32];
	const char	*kind;

	if (argc > 1 && argv[1][0] != '-') {
		params = json_pack("{s:s}", "account", argv[1]);
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if ((rc = client_parse_common(cmd, o, argc, argv)) != -1) {
		json_decref(params);
		return rc;
	}
	if ((rc = client_call(o, "fetch", params, &r)) != 0)
		return rc;
	json_array_foreach(json_object_get(r, "accounts"), i, a) {
		if (json_is_true(json_object_get(a, "ok")))
			continue;
		kind = json_string_value(json_object_get(a, "error_kind"));
		/*
		 * Network trouble and a full disk are worth retrying;
		 * anything else is not.
		 */
		if (kind != NULL && (strcmp(kind, "network") == 0 ||
		    strcmp(kind, "space") == 0) && status == 0)
			status = EX_TEMPFAIL;
		else
			status = 1;
	}
	if (o->json) {
		rc = client_print_json(r);
		json_decref(r);
		return rc ? rc : status;
	}
	if (json_array_size(json_object_get(r, "accounts")) == 0)
		printf("no POP3 account to fetch from\n");
	json_array_foreach(json_object_get(r, "accounts"), i, a) {
		if (!json_is_true(json_object_get(a, "ok"))) {
			fprintf(stderr, "%s: %s\n",
			    json_string_value(json_object_get(a, "account")),
			    json_string_value(json_object_get(a, "error")));
			continue;
		}
		fetch_size(json_integer_value(json_object_get(a, "bytes")),
		    size, sizeof size);
		printf("%s: %lld new (%s) in %.1f s\n",
		    json_string_value(json_object_get(a, "account")),
		    json_integer_value(json_object_get(a, "new")), size,
		    json_number_value(json_object_get(a, "seconds")));
	}
	json_decref(r);
	return status;
}
