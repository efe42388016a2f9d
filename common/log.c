/* Logging to stderr with sd-daemon priority prefixes. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "mailctl";
static int log_verbose;
static int log_tty;

/* Set the program name and verbosity; decide on the line format. */
void
log_init(const char *progname, int verbose)
{
	log_progname = progname;
	log_verbose = verbose;
	log_tty = isatty(STDERR_FILENO);
}

/* Write one line at priority pri, with an optional errno text. */
static void __attribute__((format(printf, 3, 0)))
log_vwrite(int pri, int errnum, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning",
		[LOG_NOTICE] = "notice", [LOG_INFO] = "info",
		[LOG_DEBUG] = "debug",
	};
	char	 msg[4096];

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_tty)
		fprintf(stderr, "%s: %s: %s", log_progname, names[pri], msg);
	else
		fprintf(stderr, "<%d>%s", pri, msg);
	if (errnum != 0)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
	fflush(stderr);
}

#define LOG_BODY(pri, errnum) do {		\
	va_list	 ap;				\
	va_start(ap, fmt);			\
	log_vwrite((pri), (errnum), fmt, ap);	\
	va_end(ap);				\
} while (0)

void
log_warn(const char *fmt, ...)
{
	int	 saved = errno;

	LOG_BODY(LOG_WARNING, saved);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 0);
}

void
log_notice(const char *fmt, ...)
{
	LOG_BODY(LOG_NOTICE, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	int	 saved = errno;

	LOG_BODY(LOG_ERR, saved);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, 0);
	exit(1);
}
