/*
 * Unit test of secret.c on a loop of its own, with real password
 * commands: a configured password, a command's answer and its cache, a
 * refused secret asked for again (a rotated password), the once-only
 * retry, a failing command, a reload dropping the cache, and every copy
 * of a secret wiped before it is freed (free is wrapped at link time to
 * look at the bytes it is given).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/proc.h"
#include "daemon/secret.h"
#include "tap.h"

static struct event_base *base;
static char	 dir[] = "/tmp/test-secret.XXXXXX";
static char	 pwfile[64], countfile[64];

/* What the last callback was given. */
static int	 answered;
static char	 got[128];
static char	 got_error[128];
static const char *got_ptr;	/* the secret's own pointer */

/* Pointers to watch: each must be all zero when freed. */
static const void *watch[4];
static size_t	 watch_len[4];
static int	 watch_freed[4], watch_zero[4];

void	__real_free(void *);
void	__wrap_free(void *);

/* free, checking the watched pointers were wiped first. */
void
__wrap_free(void *p)
{
	size_t	 i, j;

	for (i = 0; p != NULL && i < 4; i++) {
		if (p != watch[i])
			continue;
		watch_freed[i] = 1;
		watch_zero[i] = 1;
		for (j = 0; j < watch_len[i]; j++)
			if (((const char *)p)[j] != '\0')
				watch_zero[i] = 0;
		watch[i] = NULL;
	}
	__real_free(p);
}

static void
got_cb(const char *secret, const char *error, void *arg)
{
	(void)arg;
	answered++;
	got_ptr = secret;
	snprintf(got, sizeof got, "%s", secret ? secret : "(null)");
	snprintf(got_error, sizeof got_error, "%s", error ? error : "");
	event_base_loopbreak(base);
}

/* Get the secret, running the loop until it answers (10 s at most). */
static void
get(struct secret *s)
{
	struct timeval	 tv = { 10, 0 };
	int		 before = answered;

	got_ptr = NULL;
	got[0] = got_error[0] = '\0';
	secret_get(s, got_cb, NULL);
	if (answered == before) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* Write the password file. */
static void
write_password(const char *pw)
{
	FILE	*f = fopen(pwfile, "w");

	fprintf(f, "%s\nsecond line, not the password\n", pw);
	fclose(f);
}

/* How many times the command ran. */
static int
runs(void)
{
	struct stat	 st;

	return stat(countfile, &st) == 0 ? (int)st.st_size : 0;
}

/* Watch p (len bytes) for the wipe at free. */
static void
watch_ptr(int i, const char *p)
{
	watch[i] = p;
	watch_len[i] = strlen(p);
	watch_freed[i] = watch_zero[i] = 0;
}

int
main(void)
{
	struct config_server	 srv;
	struct secret		*s;
	char			 script[256];
	const char		*cmd[] = { "sh", "-c", script, NULL };
	const char		*fail[] = { "sh", "-c", "exit 3", NULL };
	int			 sync;

	log_init("test-secret", 0);
	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(pwfile, sizeof pwfile, "%s/pw", dir);
	snprintf(countfile, sizeof countfile, "%s/count", dir);
	snprintf(script, sizeof script, "printf x >> %s; cat %s", countfile,
	    pwfile);
	base = event_base_new();
	proc_init(base);

	/* A password in the configuration. */
	memset(&srv, 0, sizeof srv);
	srv.user = "alice";
	srv.password = "configured-pw";
	srv.timeout = 5;
	s = secret_new("test pop3");
	secret_configure(s, &srv);
	secret_get(s, got_cb, NULL);
	sync = answered == 1;
	ok(sync && strcmp(got, "configured-pw") == 0,
	    "a configured password is answered at once");
	ok(secret_refused(s) == 0, "a refused configured password is not "
	    "worth asking again");
	watch_ptr(0, got_ptr);
	secret_free(s);
	ok(watch_freed[0] && watch_zero[0], "the configured password's copy "
	    "is wiped before it is freed");

	/* A command. */
	write_password("first-pw");
	srv.password = NULL;
	srv.password_command = cmd;
	s = secret_new("test smtp");
	secret_configure(s, &srv);
	get(s);
	ok(strcmp(got, "first-pw") == 0 && runs() == 1,
	    "password_command's first line is the password (%s)", got);
	answered = 0;
	secret_get(s, got_cb, NULL);
	ok(answered == 1 && strcmp(got, "first-pw") == 0 && runs() == 1,
	    "the answer is cached: the next get needs no command");

	/* The password is rotated; the server refuses the cached one. */
	write_password("second-pw");
	ok(secret_refused(s) == 1, "a refused cached password is worth "
	    "asking the command again");
	get(s);
	ok(strcmp(got, "second-pw") == 0 && runs() == 2,
	    "the command is asked again and gives the new password (%s)", got);
	ok(secret_refused(s) == 0, "a fresh answer refused is not asked for "
	    "again at once: one retry per attempt");
	get(s);
	ok(strcmp(got, "second-pw") == 0 && runs() == 3,
	    "after a refused fresh answer the next attempt asks again");

	/* A reload drops the cache. */
	secret_configure(s, &srv);
	get(s);
	ok(runs() == 4, "a reload drops the cached password");

	/* The cached copy is wiped when dropped and at free. */
	watch_ptr(1, got_ptr);
	secret_refused(s);
	ok(watch_freed[1] && watch_zero[1], "a refused password is wiped "
	    "before it is freed");
	get(s);
	watch_ptr(2, got_ptr);
	secret_free(s);
	ok(watch_freed[2] && watch_zero[2], "a cached password is wiped "
	    "before it is freed");

	/* A command that fails. */
	srv.password_command = fail;
	s = secret_new("test fail");
	secret_configure(s, &srv);
	get(s);
	ok(strcmp(got, "(null)") == 0 &&
	    strstr(got_error, "exited with status 3") != NULL,
	    "a failing command is an error that says why (%s)", got_error);
	ok(secret_refused(s) == 0, "nothing to refuse after a failure");
	secret_free(s);

	/* No user: no password needed. */
	memset(&srv, 0, sizeof srv);
	s = secret_new("test none");
	secret_configure(s, &srv);
	answered = 0;
	secret_get(s, got_cb, NULL);
	ok(answered == 1 && strcmp(got, "(null)") == 0 && got_error[0] == '\0',
	    "a server without a user needs no password");
	secret_free(s);

	proc_shutdown();
	event_base_free(base);
	unlink(pwfile);
	unlink(countfile);
	rmdir(dir);
	return tap_done();
}
