/*
 * mailctl's side of the control socket: a blocking connection that sends one
 * request and waits for its answer. Errors are printed here, once, and turned
 * into the sysexits(3) status mailctl exits with.
 */
#ifndef MAILCTL_CLIENT_H
#define MAILCTL_CLIENT_H

#include <getopt.h>

#include <jansson.h>

struct client_opts {
	const char	*socket;	/* --socket, or NULL */
	const char	*config;	/* --config, or NULL */
	int		 json;		/* --json */
	int		 error_code;	/* the daemon's last error code, or 0 */
};

/* One command: its name, a one-line summary, and its function. */
struct client_cmd {
	const char	*name;
	const char	*usage;		/* arguments after the name */
	const char	*summary;
	int		(*exec)(const struct client_cmd *, struct client_opts *,
			    int argc, char **argv);
};

char	*client_socket_path(struct client_opts *, int *status);
int	client_connect(struct client_opts *, int *status);
int	client_write_all(int fd, const char *buf, size_t len);
int	client_call(struct client_opts *, const char *method, json_t *params,
	    json_t **result);
int	client_call_fd(struct client_opts *, const char *method,
	    json_t *params, int fd, json_t **result);
int	client_print_json(const json_t *);
void	client_cmd_usage(const struct client_cmd *, FILE *);
int	client_parse_common(const struct client_cmd *, struct client_opts *,
	    int argc, char **argv);
int	client_parse_opts(const struct client_cmd *, struct client_opts *,
	    int argc, char **argv, const char *shorts, const struct option *,
	    int (*opt)(int, const char *, void *), void *arg);
const char *client_local_time(const char *iso, char *buf, size_t size);
void	client_format_duration(double seconds, char *buf, size_t size);
void	client_print_text(const char *, int width, int multiline);
int	client_text_width(const char *);
int	client_term_width(void);
int	client_usage_if_unknown(struct client_opts *, int status);
const char *client_format_size(long long n, char *buf, size_t size);
long long client_parse_id(const char *cmd, const char *what, const char *);

#endif
