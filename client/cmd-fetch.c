/* mailctl fetch [ACCOUNT] [--json] */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>

#include "client.h"
#include "cmds.h"

/*
 * Exit 75 when every poll that failed failed on the network (worth
 * retrying), 1 when one failed for another reason (a refused password or
 * certificate, a server without STLS), else 0.
 */
static int
fetch_status(json_t *r)
{
	json_t		*a;
	const char	*kind;
	size_t		 i;
	int		 status = 0;

	json_array_foreach(json_object_get(r, "accounts"), i, a) {
		if (json_is_true(json_object_get(a, "ok")))
			continue;
		kind = json_string_value(json_object_get(a, "error_kind"));
		if (kind != NULL && (strcmp(kind, "network") == 0 ||
		    strcmp(kind, "space") == 0)) {
			if (status == 0)
				status = EX_TEMPFAIL;
		} else
			status = 1;
	}
	return status;
}

int
cmd_fetch(const struct client_cmd *cmd, struct client_opts *o, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*r, *params = NULL, *a;
	size_t		 i;
	int		 rc, status;
	char		 size[32];

	if ((rc = client_parse_opts(cmd, o, argc, argv, "jh", longs, NULL,
	    NULL)) != -1)
		return rc;
	if (argc - optind > 1) {
		fprintf(stderr, "mailctl fetch: unexpected argument \"%s\"\n",
		    argv[optind + 1]);
		client_cmd_usage(cmd, stderr);
		return EX_USAGE;
	}
	if (optind < argc)
		params = json_pack("{s:s}", "account", argv[optind]);
	if ((rc = client_call(o, "fetch", params, &r)) != 0)
		return client_usage_if_unknown(o, rc);
	status = fetch_status(r);
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
		client_format_size(json_integer_value(json_object_get(a,
		    "bytes")), size, sizeof size);
		printf("%s: %lld new (%s) in %.1f s\n",
		    json_string_value(json_object_get(a, "account")),
		    json_integer_value(json_object_get(a, "new")), size,
		    json_number_value(json_object_get(a, "seconds")));
	}
	json_decref(r);
	return status;
}
