/*
 * Where mailctl keeps things by default (DESIGN.md "Where things live").
 * The paths_default_* and paths_expand_home functions return a newly
 * allocated string, or NULL with *cause set (allocated) when the
 * environment gives no usable answer; paths_mkdirs makes a directory and
 * its parents.
 */
#ifndef MAILCTL_PATHS_H
#define MAILCTL_PATHS_H

/* The longest path a sockaddr_un holds, without its NUL. */
#define PATHS_SOCKET_MAX 107

char	*paths_default_socket(char **cause);
char	*paths_default_config(char **cause);
char	*paths_default_data_dir(char **cause);
char	*paths_expand_home(const char *path, char **cause);
int	 paths_mkdirs(const char *dir, char **cause);

#endif
