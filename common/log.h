/*
 * Logging for mailctld and mailctl.
 *
 * Lines go to stderr. When stderr is not a terminal (systemd, the journal, a
 * test's log file) each line starts with an sd-daemon "<N>" priority prefix so
 * the journal keeps the level; on a terminal the program name and level are
 * written instead. Never pass a secret to these functions.
 */
#ifndef MAILCTL_LOG_H
#define MAILCTL_LOG_H

#include <stdarg.h>

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

void	log_init(const char *progname, int verbose);

void	log_warn(const char *fmt, ...) LOG_FMT(1, 2);	/* appends strerror(errno) */
void	log_warnx(const char *fmt, ...) LOG_FMT(1, 2);
void	log_notice(const char *fmt, ...) LOG_FMT(1, 2);
void	log_info(const char *fmt, ...) LOG_FMT(1, 2);
void	log_debug(const char *fmt, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatal(const char *fmt, ...) LOG_FMT(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) LOG_FMT(1, 2);

#endif
