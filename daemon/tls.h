/*
 * TLS client contexts (OpenSSL) for POP3 and SMTP connections.
 *
 * Every connection verifies the server's certificate chain (the system store,
 * or the account's ca_file) and its host name or IP address, with TLS 1.2 at
 * least. Contexts are cached per ca_file and live until tls_shutdown().
 */
#ifndef MAILCTL_TLS_H
#define MAILCTL_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct bufferevent;

SSL	*tls_client_new(const char *host, const char *ca_file, char **cause);
void	 tls_describe_error(struct bufferevent *, SSL *, char *buf,
	    size_t size);
void	 tls_shutdown(void);

#endif
