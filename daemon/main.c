/*
 * mailctld: start-up, signals, systemd notification, reload, shutdown.
 *
 * Runs in the foreground, systemd style. The order at start-up matters to
 * systemd: the configuration is fully validated first (a bad file means exit
 * 78 before anything is created), then the control socket is opened (or taken
 * from socket activation), and only then READY=1 is sent.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "common/paths.h"
#include "common/xmalloc.h"
#include "account.h"
#include "bus.h"
#include "config.h"
#include "conn.h"
#include "desktop.h"
#include "hook.h"
#include "logind.h"
#include "proc.h"
#include "queue.h"
#include "rpc.h"
#include "store.h"

/* The descriptor table a big sync fills (see main_grow_fdtable). */
#define MAIN_FDTABLE	4096

static struct event_base	*main_base;
static struct config		*main_config;
static struct store		*main_store;
static struct bus		*main_bus;
static char			*main_config_path;
static int			 main_config_explicit;	/* --config given */
static int			 main_lock = -1;	/* on data_dir */
static struct event		*main_watchdog;
static struct timeval		 main_watchdog_tv;

/* Tell systemd the current one-line status. */
static void
main_update_status(void)
{
	sd_notifyf(0, "STATUS=Serving %zu account%s",
	    main_config->naccounts, main_config->naccounts == 1 ? "" : "s");
}

/*
 * Reread the configuration file. A bad file leaves the running configuration
 * in force and returns -1 with the reason. Paths that the running daemon
 * already uses (socket, data_dir) only change at the next start. Every
 * floor that holds the configuration is handed the new one before the old
 * one is freed.
 */
static int
main_reload(char **cause)
{
	struct config	*cf, *old = main_config;
	struct bus_event ev;
	char		*inner = NULL;

	sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
	cf = config_load(main_config_path, main_config_explicit, &inner);
	if (cf == NULL) {
		log_warnx("reload refused, keeping the current configuration: "
		    "%s", inner);
		*cause = inner;
		sd_notify(0, "READY=1");
		main_update_status();
		return -1;
	}
	if (strcmp(cf->socket, old->socket) != 0) {
		log_warnx("reload: socket changed to %s; it takes effect at the "
		    "next start", cf->socket);
		free(cf->socket);
		cf->socket = xstrdup(old->socket);
	}
	if (strcmp(cf->data_dir, old->data_dir) != 0) {
		log_warnx("reload: data_dir changed to %s; it takes effect at "
		    "the next start", cf->data_dir);
		free(cf->data_dir);
		cf->data_dir = xstrdup(old->data_dir);
	}
	main_config = cf;
	store_configure(main_store, cf, 0);
	rpc_reconfigure(cf);
	hook_reconfigure(cf);
	desktop_reconfigure(cf);
	account_reconfigure(cf);
	queue_reconfigure(cf);
	config_free(old);
	log_info("configuration reloaded from %s: %zu account%s",
	    cf->path ? cf->path : "(defaults)", cf->naccounts,
	    cf->naccounts == 1 ? "" : "s");
	sd_notify(0, "READY=1");
	main_update_status();
	memset(&ev, 0, sizeof ev);
	ev.type = BUS_RELOADED;
	ev.config = cf->path;
	ev.naccounts = cf->naccounts;
	bus_publish(main_bus, &ev);
	return 0;
}

/* SIGTERM, SIGINT: stop the loop; SIGHUP: reload. */
static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	char	*cause = NULL;

	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading the configuration");
		if (main_reload(&cause) != 0)
			free(cause);
		break;
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
		event_base_loopexit(main_base, NULL);
		break;
	}
}

/*
 * The machine is about to sleep (sleeping 1) or awake again (0), says
 * logind. The one place that decides what sleep means to the daemon:
 * before it, the IDLE connections close (logind waits for that, as the
 * daemon holds a delay lock until this returns); after it, every account
 * polls, as its timer slept too.
 */
static void
main_sleep_cb(int sleeping, void *arg)
{
	(void)arg;
	if (sleeping) {
		log_info("going to sleep");
		account_sleep();
		return;
	}
	account_resume();
}

/* Tell the systemd watchdog that the loop is alive. */
static void
main_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
	evtimer_add(main_watchdog, &main_watchdog_tv);
}

/* Ping the watchdog at half its interval when systemd asks for one. */
static void
main_watchdog_start(void)
{
	uint64_t	 usec;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return;
	usec /= 2;
	main_watchdog_tv.tv_sec = usec / 1000000;
	main_watchdog_tv.tv_usec = usec % 1000000;
	main_watchdog = evtimer_new(main_base, main_watchdog_cb, NULL);
	evtimer_add(main_watchdog, &main_watchdog_tv);
	log_debug("watchdog every %llu us", (unsigned long long)usec);
}

/*
 * Take the socket systemd passed (socket activation), or create ours.
 * Return 0, or -1 with *cause.
 */
static int
main_listen(char **cause)
{
	int	 n, fd;

	n = sd_listen_fds(1);
	if (n < 0) {
		xasprintf(cause, "sd_listen_fds: %s", strerror(-n));
		return -1;
	}
	if (n == 0)
		return rpc_listen(main_base, main_config->socket, cause);
	if (n > 1)
		log_warnx("systemd passed %d sockets; using the first", n);
	fd = SD_LISTEN_FDS_START;
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		xasprintf(cause, "the socket systemd passed is not a listening "
		    "UNIX stream socket");
		return -1;
	}
	log_info("using the socket passed by systemd");
	return rpc_listen_fd(main_base, fd, cause);
}

/* Free everything main() set up, so leak checkers see a clean exit. */
static void
main_cleanup(struct event **sigs)
{
	int	 i;

	logind_shutdown();
	rpc_shutdown();
	account_shutdown();
	queue_shutdown();
	rpc_events_shutdown();
	hook_shutdown();
	desktop_shutdown();
	bus_free(main_bus);
	proc_shutdown();
	conn_shutdown();
	store_close(main_store);
	if (main_watchdog != NULL)
		event_free(main_watchdog);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	config_free(main_config);
	free(main_config_path);
	event_base_free(main_base);
	close(main_lock);	/* the lock goes last */
}

/*
 * Grow the descriptor table to what a big sync uses, now, while the daemon
 * has one thread. Grown later, with the store threads running, each
 * doubling waits for an RCU grace period (15 ms each, three times in a
 * 5,000-message first sync, measured with perf sched), and a store thread
 * opening a file waits with it. The kernel never shrinks the table.
 */
static void
main_grow_fdtable(rlim_t limit)
{
	int	 fd, want = MAIN_FDTABLE;

	if (limit != RLIM_INFINITY && limit < (rlim_t)want)
		want = (int)limit;
	if ((fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, want - 1)) != -1)
		close(fd);
}

/*
 * Raise the limit on open files to the hard one (at most 65,536): a big
 * sync holds a file open for each message waiting for its commit (up to
 * a thousand a session) and the files made ahead, beside the sockets.
 * The event loop uses epoll, so descriptors above 1,024 are fine.
 */
static void
main_raise_nofile(void)
{
	struct rlimit	 rl;
	rlim_t		 want, was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 :
	    rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		was = rl.rlim_cur;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_debug("cannot raise the open files limit: %s",
			    strerror(errno));
			rl.rlim_cur = was;	/* still the limit */
		}
	}
	main_grow_fdtable(rl.rlim_cur);
}

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: mailctld [--config FILE] [--verbose] [--check-config]\n"
	    "\n"
	    "The mailctl daemon: fetches mail over POP3 and IMAP (with IDLE),\n"
	    "files it, sends the outbox over SMTP and answers mailctl on a\n"
	    "UNIX socket. It runs in the foreground; SIGHUP rereads the\n"
	    "configuration.\n"
	    "\n"
	    "  -c, --config FILE  configuration (default:\n"
	    "                     $XDG_CONFIG_HOME/mailctl/config.json)\n"
	    "  -v, --verbose      log debugging detail\n"
	    "  -n, --check-config check the configuration and exit (0 good,\n"
	    "                     78 bad, with the key that is wrong)\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct event	*sigs[3];
	const int	 signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct rpc_env	 env;
	char		*cause = NULL;
	long		 holder;
	int		 ch, verbose = 0, check = 0, i;

	/*
	 * A download reads the socket 256 KiB at a time into buffers that
	 * come and go. Served from the heap and kept there, they are reused
	 * warm; by default glibc maps the first ones afresh and gives the
	 * heap's top back as soon as they are freed, so each new buffer was
	 * faulted in again page by page (35,000 faults per 200 MB poll,
	 * 5,000 with this). The heap keeps at most 8 MiB it does not use.
	 */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);

	while ((ch = getopt_long(argc, argv, "c:nvhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			free(main_config_path);
			main_config_path = xstrdup(optarg);
			main_config_explicit = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("mailctld %s\n", PACKAGE_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		return EX_USAGE;
	}
	log_init("mailctld", verbose);
	if (main_config_path == NULL &&
	    (main_config_path = paths_default_config(&cause)) == NULL)
		fatalx("%s", cause);
	if ((main_config = config_load(main_config_path, main_config_explicit,
	    &cause)) == NULL) {
		if (check)
			fprintf(stderr, "mailctld: %s\n", cause);
		else
			log_warnx("bad configuration, not starting: %s", cause);
		free(cause);
		free(main_config_path);
		return EX_CONFIG;
	}
	if (check) {
		printf("%s: good: %zu account%s, data_dir %s, socket %s\n",
		    main_config->path ? main_config->path : "(no file: defaults)",
		    main_config->naccounts, main_config->naccounts == 1 ? "" :
		    "s", main_config->data_dir, main_config->socket);
		config_free(main_config);
		free(main_config_path);
		return 0;
	}
	/*
	 * Everything under data_dir is the user's alone, whatever the umask
	 * they started us with (the index holds every From and Subject).
	 */
	umask(077);
	if (main_config->path == NULL)
		log_notice("no configuration at %s; running with defaults and no "
		    "accounts", main_config_path);

	/* One daemon per data_dir: before anything is opened or created. */
	if ((main_lock = store_lock(main_config->data_dir, &holder,
	    &cause)) == -1) {
		log_warnx("not starting: %s", cause);
		free(cause);
		config_free(main_config);
		free(main_config_path);
		return holder != 0 ? EX_TEMPFAIL : EX_CANTCREAT;
	}
	memset(&env, 0, sizeof env);
	clock_gettime(CLOCK_MONOTONIC, &env.started_mono);
	env.started = time(NULL);
	signal(SIGPIPE, SIG_IGN);
	main_raise_nofile();
	if ((main_base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(main_base, signums[i], main_signal_cb,
		    NULL);
		evsignal_add(sigs[i], NULL);
	}
	conn_init(main_base);
	proc_init(main_base);
	/* The consumers of events first, so they hear everything. */
	main_bus = bus_new();
	rpc_events_init(main_bus);
	hook_init(main_bus, main_config);
	desktop_init(main_base, main_bus, main_config);
	if ((main_store = store_open(main_config->data_dir, main_base,
	    &cause)) == NULL) {
		log_warnx("cannot open the mail store: %s", cause);
		free(cause);
		main_cleanup(sigs);
		return EX_CANTCREAT;
	}
	store_configure(main_store, main_config, 1);
	env.store = main_store;
	env.config = main_config;
	env.reload = main_reload;
	rpc_init(&env);
	if (main_listen(&cause) != 0) {
		log_warnx("cannot open the control socket: %s", cause);
		free(cause);
		main_cleanup(sigs);
		return EX_UNAVAILABLE;
	}
	main_watchdog_start();
	account_init(main_base, main_store, main_bus, main_config);
	queue_init(main_base, main_store, main_bus, main_config);
	logind_init(main_base, main_sleep_cb, NULL);
	log_info("mailctld %s ready: pid=%d config=%s socket=%s accounts=%zu",
	    PACKAGE_VERSION, (int)getpid(),
	    main_config->path ? main_config->path : "(defaults)",
	    main_config->socket, main_config->naccounts);
	sd_notify(0, "READY=1");
	main_update_status();

	event_base_dispatch(main_base);

	main_cleanup(sigs);
	log_info("stopped");
	return 0;
}
