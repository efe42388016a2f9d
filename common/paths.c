/* Default socket, config and data paths from the XDG environment. */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "paths.h"
#include "xmalloc.h"

/* Return $HOME, or the password database's home directory. */
static const char *
paths_home(void)
{
	const char	*home;
	struct passwd	*pw;

	if ((home = getenv("HOME")) != NULL && home[0] == '/')
		return home;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_dir[0] == '/')
		return pw->pw_dir;
	return NULL;
}

/* Return $VAR when it is an absolute path, else $HOME/fallback. */
static char *
paths_xdg(const char *var, const char *fallback, const char *leaf,
    char **cause)
{
	const char	*dir, *home;
	char		*path;

	if ((dir = getenv(var)) != NULL && dir[0] == '/') {
		xasprintf(&path, "%s/%s", dir, leaf);
		return path;
	}
	if ((home = paths_home()) == NULL) {
		xasprintf(cause, "neither $%s nor $HOME is set", var);
		return NULL;
	}
	xasprintf(&path, "%s/%s/%s", home, fallback, leaf);
	return path;
}

/* Return $XDG_RUNTIME_DIR/mailctl/mailctld.sock. */
char *
paths_default_socket(char **cause)
{
	const char	*dir;
	char		*path;

	if ((dir = getenv("XDG_RUNTIME_DIR")) != NULL && dir[0] == '/')
		xasprintf(&path, "%s/mailctl/mailctld.sock", dir);
	else {
		/* Without a runtime directory, a per-user one in /tmp. */
		xasprintf(&path, "/tmp/mailctl-%u/mailctld.sock",
		    (unsigned)getuid());
	}
	if (strlen(path) > PATHS_SOCKET_MAX) {
		xasprintf(cause, "socket path too long (%zu bytes, limit %d): %s",
		    strlen(path), PATHS_SOCKET_MAX, path);
		free(path);
		return NULL;
	}
	return path;
}

/* Return $XDG_CONFIG_HOME/mailctl/config.json. */
char *
paths_default_config(char **cause)
{
	return paths_xdg("XDG_CONFIG_HOME", ".config", "mailctl/config.json",
	    cause);
}

/* Return $XDG_DATA_HOME/mailctl. */
char *
paths_default_data_dir(char **cause)
{
	return paths_xdg("XDG_DATA_HOME", ".local/share", "mailctl", cause);
}

/* Expand a leading "~/" (or a lone "~") to the home directory. */
char *
paths_expand_home(const char *path, char **cause)
{
	const char	*home;
	char		*out;

	if (path[0] != '~')
		return xstrdup(path);
	if (path[1] != '\0' && path[1] != '/') {
		xasprintf(cause, "only ~/ is supported, not ~user: %s", path);
		return NULL;
	}
	if ((home = paths_home()) == NULL) {
		xasprintf(cause, "cannot expand ~: $HOME is not set");
		return NULL;
	}
	xasprintf(&out, "%s%s", home, path + 1);
	return out;
}

/*
 * Make dir and its missing parents, each one we create 0700 (nobody else
 * may even reach what is inside). Return 0, or -1 with *cause, also when
 * a part of the path exists and is not a directory.
 */
int
paths_mkdirs(const char *dir, char **cause)
{
	struct stat	 st;
	char		*copy, *p, c;
	int		 rc = 0;

	copy = xstrdup(dir);
	for (p = copy + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(copy, 0700) == 0)
			log_debug("created %s", copy);
		else if (errno != EEXIST) {
			xasprintf(cause, "cannot create %s: %s", copy,
			    strerror(errno));
			rc = -1;
		} else if (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
			xasprintf(cause, "%s is not a directory", copy);
			rc = -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return rc;
}
