/*
 * Compose a message from command-line arguments with compose_write() and
 * print it on stdout, for tests/compose-oracle.sh. The Message-ID goes to
 * stderr as "message-id <...>"; a refused message prints the cause on stderr
 * and exits 1.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "daemon/compose.h"

#define DUMP_MAX_LIST	64

/* Read a whole file into memory. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 size = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	*len = 0;
	for (;;) {
		if (*len == size) {
			size = size ? size * 2 : 65536;
			buf = xreallocarray(buf, 1, size);
		}
		if ((n = fread(buf + *len, 1, size - *len, f)) == 0)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

/* Append to a NULL-terminated list of at most DUMP_MAX_LIST entries. */
static void
add(const char **list, size_t *n, const char *s)
{
	if (*n == DUMP_MAX_LIST) {
		fprintf(stderr, "compose-dump: too many list arguments\n");
		exit(2);
	}
	list[(*n)++] = s;
	list[*n] = NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from-name", required_argument, NULL, 'n' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "cc", required_argument, NULL, 'c' },
		{ "subject", required_argument, NULL, 's' },
		{ "body-file", required_argument, NULL, 'b' },
		{ "attach", required_argument, NULL, 'a' },
		{ "max", required_argument, NULL, 'm' },
		{ "date", required_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*to[DUMP_MAX_LIST + 1] = { NULL };
	const char	*cc[DUMP_MAX_LIST + 1] = { NULL };
	const char	*att[DUMP_MAX_LIST + 1] = { NULL };
	struct compose	 c;
	size_t		 nto = 0, ncc = 0, natt = 0;
	char		*body = NULL, *cause = NULL, *id = NULL;
	int		 ch, check = 0;

	memset(&c, 0, sizeof c);
	c.to = to;
	c.cc = cc;
	c.attach = att;
	c.attachment_max = 3 * 1024 * 1024;
	c.user_agent = "mailctl/test";
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			c.from_name = optarg;
			break;
		case 'f':
			c.from_addr = optarg;
			break;
		case 't':
			add(to, &nto, optarg);
			break;
		case 'c':
			add(cc, &ncc, optarg);
			break;
		case 's':
			c.subject = optarg;
			break;
		case 'b':
			if ((body = slurp(optarg, &c.body_len)) == NULL) {
				perror(optarg);
				return 2;
			}
			c.body = body;
			break;
		case 'a':
			add(att, &natt, optarg);
			break;
		case 'm':
			c.attachment_max = strtoll(optarg, NULL, 10);
			break;
		case 'd':
			c.date = strtoll(optarg, NULL, 10);
			break;
		case 'k':
			check = 1;
			break;
		default:
			fprintf(stderr, "usage: compose-dump "
			    "[--from-name NAME] --from ADDR [--to ADDR]... "
			    "[--cc ADDR]... [--subject TEXT] "
			    "[--body-file FILE] [--attach FILE]... "
			    "[--max BYTES] [--date T] [--check]\n");
			return 2;
		}
	}
	if (check ? compose_check(&c, &cause) != 0 :
	    compose_write(&c, STDOUT_FILENO, &id, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		free(body);
		return 1;
	}
	if (id != NULL)
		fprintf(stderr, "message-id %s\n", id);
	free(id);
	free(body);
	return 0;
}
