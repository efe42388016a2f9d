/*
 * Line ends of a message as a server sends it (CRLF) turned into the
 * Maildir's (LF), at memory speed: every byte of a big sync passes here.
 */
#ifndef MAILCTL_CRLF_H
#define MAILCTL_CRLF_H

#include <stddef.h>

size_t	crlf_strip(char *dst, const char *src, size_t n, int *cr_end);
size_t	crlf_strip_plain(char *dst, const char *src, size_t n, int *cr_end);

#endif
