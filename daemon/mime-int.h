/*
 * The insides of the MIME reader, shared by its files; nothing outside
 * them includes this (the public API is mime.h).
 *
 *	mime.c		the entity tree, bodies and attachments
 *	mime-header.c	header fields, parameters, encoded words
 *	mime-html.c	HTML to text
 *	mime-decode.c	growing buffers, transfer encodings, charsets
 *	mime-date.c	dates (calls nothing of the others)
 *
 * Calls go down this list, never up.
 */
#ifndef MAILCTL_MIME_INT_H
#define MAILCTL_MIME_INT_H

#include <stddef.h>

#define MIME_MAX_HEADERS	1000	/* fields of one header block */

struct mime_hdr {
	char		*name;
	char		*value;		/* unfolded, NUL bytes turned to spaces */
};

/* A growing string: d is NULL until something is added, then ends in NUL. */
struct mime_buf {
	char		*d;
	size_t		 len;
	size_t		 size;
};

/* mime-html.c */
char		*mime_html_text(const char *);

/* mime-header.c */
char		*mime_lower(char *);
const char	*mime_eol(const char *, const char *, const char **);
const char	*mime_headers(const char *, const char *, struct mime_hdr **,
		    size_t *, size_t *);
const char	*mime_hdr_get(struct mime_hdr *, size_t, const char *);
void		 mime_hdrs_free(struct mime_hdr *, size_t);
char		*mime_param(const char *, const char *);
char		*mime_param_cs(const char *, const char *, const char *);
char		*mime_decode_header_cs(const char *, const char *);
char		*mime_token(const char *);
char		*mime_ctype(const char *, const char *);
struct mime_addr *mime_addr_list(const char *, const char *, size_t *);

/* mime-decode.c */
void		 mime_buf_grow(struct mime_buf *, size_t);
void		 mime_buf_add(struct mime_buf *, const void *, size_t);
char		*mime_buf_str(struct mime_buf *);
int		 mime_hex(int);
int		 mime_utf8_valid(const char *, size_t);
void		 mime_utf8_fix(struct mime_buf *, const char *, size_t);
int		 mime_charset_plain(const char *);
int		 mime_charset_known(const char *);
void		 mime_to_utf8(struct mime_buf *, const char *, const char *,
		    size_t, const char *);
void		 mime_text_guess(struct mime_buf *, const char *, size_t,
		    const char *);
void		 mime_base64(struct mime_buf *, const char *, size_t);
size_t		 mime_base64_size(const char *, size_t);
int		 mime_base64_valid(const char *, size_t);
size_t		 mime_qp_bad(const char *, size_t);
void		 mime_qp(struct mime_buf *, const char *, size_t, int);

/*
 * Append one byte. Called for nearly every byte a decoder produces, so
 * the common case is a compare and two stores, not a call to memcpy.
 */
static inline void
mime_buf_addc(struct mime_buf *b, char c)
{
	if (b->len + 2 > b->size)
		mime_buf_grow(b, 1);
	b->d[b->len++] = c;
	b->d[b->len] = '\0';
}

#endif
