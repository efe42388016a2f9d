/*
 * Print mime_parse's view of a message file as one JSON object, for
 * tests/mime-oracle.sh: decoded subject and from, body text and the
 * attachments with their sha256.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const char	*raw;
	char		*v;

	if ((raw = mime_header(m, name)) == NULL) {
		json_object_set_new(o, key, json_null());
		return;
	}
	v = mime_decode_header(raw);
	json_object_set_new(o, key, json_string(v));
	free(v);
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
	json_dumpf(o, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(o);
	mime_free(m);
	return 0;
}
