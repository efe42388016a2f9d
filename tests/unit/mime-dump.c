/*
 * Print mime_parse's view of a message file as one JSON object, for
 * tests/mime-oracle.sh: the fields `mailctl read --json` shows, read the
 * same way, and the attachments with their sha256.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "daemon/mime.h"

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
			if ((buf = realloc(buf, size)) == NULL)
				abort();
		}
		if ((n = fread(buf + *len, 1, size - *len, f)) == 0)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

/* Return the hex sha256 of len bytes in a static buffer. */
static const char *
sha256_hex(const char *data, size_t len)
{
	static char	 hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

/* Add a decoded header (null when absent). */
static void
add_header(json_t *o, const struct mime_msg *m, const char *name,
    const char *key)
{
	char	*v;

	if ((v = mime_header_text(m, name)) == NULL) {
		json_object_set_new(o, key, json_null());
		return;
	}
	json_object_set_new(o, key, json_string(v));
	free(v);
}

/*
 * Add the date as ISO 8601 in UTC (null when absent or not understood,
 * with the value as written in date_raw then).
 */
static void
add_date(json_t *o, const struct mime_msg *m)
{
	struct tm	 tm;
	time_t		 t;
	char		 buf[32];

	if (mime_date(mime_header(m, "date"), &t) != 0) {
		json_object_set_new(o, "date", json_null());
		if (mime_header(m, "date") != NULL)
			add_header(o, m, "date", "date_raw");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, "date", json_string(buf));
}

/* Add an address list field as [{name, addr}]. */
static void
add_addresses(json_t *o, const struct mime_msg *m, const char *name,
    const char *key)
{
	struct mime_addr	*list;
	json_t			*a = json_array();
	size_t			 i, n;

	list = mime_addresses(m, name, &n);
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "name",
		    list[i].name, "addr", list[i].addr));
	mime_addr_free(list, n);
	json_object_set_new(o, key, a);
}

/* Add the message ids of a field: the first one, or all of them. */
static void
add_ids(json_t *o, const struct mime_msg *m, const char *name,
    const char *key, int all)
{
	json_t	*a = json_array();
	char	**ids;
	size_t	 i, n;

	ids = mime_msgids(mime_header(m, name), &n);
	for (i = 0; i < n; i++) {
		json_array_append_new(a, json_string(ids[i]));
		free(ids[i]);
	}
	free(ids);
	if (all)
		json_object_set_new(o, key, a);
	else {
		json_object_set(o, key, n > 0 ? json_array_get(a, 0) :
		    json_null());
		json_decref(a);
	}
}

int
main(int argc, char **argv)
{
	struct mime_msg		*m;
	struct mime_attachment	 a;
	json_t			*o, *atts, *ao;
	char			*buf, *cause = NULL, *body, *data;
	size_t			 len, i, dlen;

	if (argc != 2) {
		fprintf(stderr, "usage: mime-dump FILE\n");
		return 2;
	}
	if ((buf = slurp(argv[1], &len)) == NULL) {
		perror(argv[1]);
		return 1;
	}
	if ((m = mime_parse(buf, len, &cause)) == NULL) {
		fprintf(stderr, "%s: %s\n", argv[1], cause);
		return 1;
	}
	free(buf);
	o = json_object();
	add_header(o, m, "subject", "subject");
	add_header(o, m, "from", "from");
	add_header(o, m, "to", "to");
	add_header(o, m, "cc", "cc");
	add_header(o, m, "message-id", "message_id");
	add_date(o, m);
	add_addresses(o, m, "from", "from_addresses");
	add_addresses(o, m, "to", "to_addresses");
	add_addresses(o, m, "cc", "cc_addresses");
	add_ids(o, m, "in-reply-to", "in_reply_to", 0);
	add_ids(o, m, "references", "references", 1);
	json_object_set_new(o, "body_type", mime_body_type(m) != NULL ?
	    json_string(mime_body_type(m)) : json_null());
	body = mime_body_text(m);
	json_object_set_new(o, "body", json_string(body));
	free(body);
	atts = json_array();
	for (i = 0; i < mime_nattachments(m); i++) {
		mime_attachment(m, i, &a);
		data = mime_attachment_data(m, i, &dlen);
		ao = json_pack("{s:s?,s:s,s:I,s:s}", "filename", a.filename,
		    "content_type", a.content_type, "size", (json_int_t)a.size,
		    "sha256", sha256_hex(data, dlen));
		if (ao == NULL || dlen != a.size)
			return 1;
		json_array_append_new(atts, ao);
		free(data);
	}
	json_object_set_new(o, "attachments", atts);
	atts = json_array();
	for (i = 0; i < mime_nwarnings(m); i++)
		json_array_append_new(atts, json_string(mime_warning(m, i)));
	json_object_set_new(o, "warnings", atts);
	json_dumpf(o, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(o);
	mime_free(m);
	return 0;
}
