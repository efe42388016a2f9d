/*
 * Fuzz target: mailctl's reader of a draft saved in the editor (the
 * header block and the body), and its writer run on what was read.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/draft.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct draft	 d;
	json_t		*o;
	char		*error = NULL, *text;

	if (draft_parse((const char *)data, size, &d, &error) != 0) {
		if (error == NULL)
			abort();	/* an error always says why */
		free(error);
		return 0;
	}
	if (d.to == NULL || d.cc == NULL || d.bcc == NULL ||
	    d.subject == NULL || d.body == NULL)
		abort();
	if (strchr(d.to, '\n') != NULL || strchr(d.subject, '\n') != NULL)
		abort();	/* a field is one line */
	o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "to",
	    d.to, "cc", d.cc, "bcc", d.bcc,
	    "subject", d.subject, "body", d.body);
	if (o != NULL) {
		text = draft_render(o);
		free(text);
		json_decref(o);
	}
	draft_free(&d);
	return 0;
}
