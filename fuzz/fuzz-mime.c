/* Fuzz target: the MIME reader, on every function a caller uses. */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/mime.h"
#include "daemon/mime-thread.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg		*m;
	struct mime_attachment	 a;
	struct mime_addr	*list;
	char			*cause = NULL, *s, **ids;
	size_t			 i, len, n;
	time_t			 t;
	int			 reply;

	if ((m = mime_parse((const char *)data, size, &cause)) == NULL) {
		free(cause);
		return 0;
	}
	free(mime_body_text(m));
	if ((s = mime_decode_header(mime_header(m, "Subject") ?
	    mime_header(m, "Subject") : "")) != NULL)
		free(s);
	free(mime_header_text(m, "From"));
	(void)mime_date(mime_header(m, "Date"), &t);
	list = mime_addresses(m, "To", &n);
	mime_addr_free(list, n);
	ids = mime_msgids(mime_header(m, "References"), &n);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	/* What threading reads of it. */
	s = mime_thread_id(mime_header(m, "Message-ID"));
	ids = mime_thread_refs(mime_header(m, "References"),
	    mime_header(m, "In-Reply-To"), s, &n);
	mime_thread_refs_free(ids, n);
	free(s);
	if ((s = mime_header_text(m, "Subject")) != NULL) {
		free(mime_thread_subject(s, &reply));
		free(s);
	}
	for (i = 0; i < mime_nwarnings(m); i++)
		(void)mime_warning(m, i);
	for (i = 0; i < mime_nattachments(m); i++) {
		if (mime_attachment(m, i, &a) != 0)
			continue;
		free(mime_attachment_data(m, i, &len));
		free(mime_safe_filename(a.filename, i + 1));
	}
	mime_free(m);
	return 0;
}
