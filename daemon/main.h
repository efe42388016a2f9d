/*
 * The daemon's process-wide state, owned by main.c: the event base, the
 * configuration in force, start time, reload.
 */
#ifndef MAILCTL_MAIN_H
#define MAILCTL_MAIN_H

struct event_base;
struct config;
struct store;

struct event_base	*daemon_base(void);
const struct config	*daemon_config(void);
struct store		*daemon_store(void);
double			 daemon_uptime(void);
time_t			 daemon_started(void);
int			 daemon_reload(char **cause);
void			 daemon_update_status(void);

#endif
