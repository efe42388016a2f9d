/*
 * Reading MIME messages (RFC 5322, 2045-2049, 2047, 2231).
 *
 * Ownership: mime_parse() copies the message, so the caller's buffer may be
 * freed at once; mime_parse_inplace() reads it where it is (it must end
 * with a NUL at buf[len] and outlive the result). The struct mime_msg it
 * returns owns every string reachable from it, and mime_header() and the
 * fields filled by mime_attachment() borrow from it: they stay valid until
 * mime_free(). Functions named mime_decode_header(), mime_body_*() and
 * mime_attachment_data() return new memory that the caller frees.
 *
 * Broken mail is never an error: the parser keeps what it can read, and
 * says what it could not in notices (mime_warning(): one line each, such
 * as an unknown charset or transfer encoding, a boundary never closed or
 * not found, a limit that stopped the walk and what it left out). Text
 * returned is always valid UTF-8 without NUL bytes. Limits: MIME_MAX_SIZE
 * bytes of message, MIME_MAX_DEPTH nested multiparts (deeper ones are opaque
 * leaves) and MIME_MAX_PARTS leaf parts (the rest is not read).
 */
#ifndef MAILCTL_MIME_H
#define MAILCTL_MIME_H

#include <stddef.h>
#include <time.h>

#define MIME_MAX_SIZE	(64 * 1024 * 1024)
#define MIME_MAX_DEPTH	32
#define MIME_MAX_PARTS	10000	/* leaves; containers are bounded too */
#define MIME_FILENAME_MAX	200	/* bytes of a name to save under */

#define MIME_DROP	0x1	/* mime_parse_inplace: buf maps a file */

#define MIME_FLOWED	0x1	/* mime_body_flowed: format=flowed */
#define MIME_DELSP	0x2	/* and delsp=yes */

struct mime_msg;

struct mime_attachment {
	const char	*filename;	/* borrowed; UTF-8, may be NULL */
	const char	*content_type;	/* borrowed; lowercased "type/sub" */
	size_t		 size;		/* decoded size in bytes */
};

struct mime_addr {
	char		*name;		/* UTF-8 display name, "" when none */
	char		*addr;		/* the address as written */
};

struct mime_msg	*mime_parse(const char *, size_t, char **);
struct mime_msg	*mime_parse_inplace(const char *, size_t, int, char **);
void		 mime_free(struct mime_msg *);
const char	*mime_header(const struct mime_msg *, const char *);
char		*mime_decode_header(const char *);
char		*mime_header_text(const struct mime_msg *, const char *);
struct mime_addr *mime_addresses(const struct mime_msg *, const char *,
		    size_t *);
void		 mime_addr_free(struct mime_addr *, size_t);
char		**mime_msgids(const char *, size_t *);
const char	*mime_body_type(const struct mime_msg *);
char		*mime_body_text(const struct mime_msg *);
int		 mime_body_flowed(const struct mime_msg *);
char		*mime_body_prefix(const struct mime_msg *, size_t);
size_t		 mime_body_search(const struct mime_msg *, size_t,
		    const char **, char **);
size_t		 mime_nwarnings(const struct mime_msg *);
const char	*mime_warning(const struct mime_msg *, size_t);
size_t		 mime_nattachments(const struct mime_msg *);
int		 mime_attachment(const struct mime_msg *, size_t,
		    struct mime_attachment *);
char		*mime_attachment_data(const struct mime_msg *, size_t,
		    size_t *);
int		 mime_date(const char *, time_t *);
char		*mime_safe_filename(const char *, size_t);

#endif
