/*
 * The JSON configuration file (DESIGN.md "Configuration"): loading, complete
 * validation, defaults.
 *
 * Every error names the key path and what was expected, for example
 * "accounts[0].pop3.port: expected an integer 1–65535". A struct config
 * owns the parsed JSON document; the const char * fields borrow from it and
 * live exactly as long as the config.
 */
#ifndef MAILCTL_CONFIG_H
#define MAILCTL_CONFIG_H

#include <jansson.h>

enum config_tls {
	CONFIG_TLS_NONE,
	CONFIG_TLS_STARTTLS,
	CONFIG_TLS_IMPLICIT,
};

enum config_proto {
	CONFIG_POP3,
	CONFIG_SMTP,
	CONFIG_IMAP,
};

/* A POP3, IMAP or SMTP server of an account. */
struct config_server {
	enum config_proto	 proto;
	const char		*host;
	int			 port;
	enum config_tls		 tls;
	const char		*user;
	const char		*password;	/* secret: never log it */
	const char		**password_command; /* argv, NULL-terminated */
	const char		*auth;		/* "auto" or a mechanism */
	char			*ca_file;	/* owned, ~ expanded; or NULL */
	int			 timeout;	/* seconds per wait */
	int			 poll_interval;	/* POP3, IMAP: seconds */
	int			 keep;		/* POP3, IMAP: leave mail there */
	int			 connections;	/* POP3: at most, for a big poll */
	int			 quick_check;	/* POP3: STAT and the last UIDL */
	const char		**folders;	/* IMAP: server names, ends NULL */
	int			 idle;		/* IMAP: push with IDLE */
	int			 idle_renew;	/* IMAP: seconds between renewals */
	int			 sync_seen;	/* IMAP: \Seen both ways */
	int			 delete_on_server; /* IMAP: rm here deletes there */
};

struct config_account {
	const char		*name;
	const char		*email;
	const char		*display_name;	/* or NULL */
	const char		**aliases;	/* other From addresses, or NULL */
	int			 is_default;	/* sendmail's when none matches */
	int			 save_sent;	/* file a copy in Sent */
	struct config_server	*pop3;		/* owned, or NULL */
	struct config_server	*imap;		/* owned, or NULL (not both) */
	struct config_server	*smtp;		/* owned, or NULL */
};

/* A filing rule: the first rule with a matching keyword decides. */
struct config_filter {
	const char		*folder;
	const char		**from;		/* NULL-terminated, may be empty */
	const char		**subject;
	const char		**body;
	int			 notify;
};

struct config {
	char			*path;		/* file read, or NULL: defaults */
	json_t			*root;		/* owns the borrowed strings */
	char			*data_dir;	/* owned, absolute */
	char			*socket;	/* owned, absolute */
	int			 poll_interval;
	int			 poll_at_start;	/* first poll soon after start */
	long long		 attachment_max_bytes;
	struct config_account	*accounts;
	size_t			 naccounts;
	struct config_filter	*filters;
	size_t			 nfilters;
	const char		**hook_new_mail;	/* argv or NULL */
	const char		**hook_sent;
	const char		**hook_send_failed;
	int			 hook_timeout;
	int			 desktop_notifications;
	int			 queue_retry_min;	/* seconds */
	int			 queue_retry_max;
	int			 queue_expire;
};

#define CONFIG_DEFAULT_POLL_INTERVAL	300
#define CONFIG_DEFAULT_ATTACHMENT_MAX	3145728
#define CONFIG_DEFAULT_TIMEOUT		60

struct config	*config_load(const char *path, int must_exist, char **cause);
struct config	*config_parse(const char *text, size_t len, const char *path,
		    char **cause);
void		 config_free(struct config *);
json_t		*config_describe(const struct config *);
const struct config_account *config_find_account(const struct config *,
		    const char *name);
const char	*config_tls_name(enum config_tls);
int		 config_component_ok(const char *);
char		*config_imap_local(const char *server_folder);

#endif
