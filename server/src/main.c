/*
 * main.c: argv and config -> listening sockets, TLS keys -> privilege drop
 * -> database, auth backend -> the event loop. Signals: SIGTERM/SIGINT shut
 * down cleanly (listeners closed first, the last batch committed, every
 * client told its final h, database checkpointed), SIGHUP reloads the
 * users file and the certificate. Once a second the store's health is
 * checked; a database file that vanished ends the process with status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "auth.h"
#include "c2s.h"
#include "config.h"
#include "dict.h"
#include "dispatch.h"
#include "ev.h"
#include "log.h"
#include "module.h"
#include "net.h"
#include "ratelimit.h"
#include "router.h"
#include "server.h"
#include "store.h"
#include "tls.h"
#include "xmalloc.h"
#include "xmppd.h"

#define MAIN_RATELIMIT_KEYS	65536
#define MAIN_SHUTDOWN_GRACE_MS	500
#define MAIN_HEALTH_MS		1000
/*
 * Out of descriptors (or kernel memory), a listener stays readable while
 * accept fails: polling it would spin the CPU and write a log line per
 * try. The listeners are left alone for a back-off that doubles from the
 * first to the last figure while the failures go on, and one line a
 * second at most says how many tries failed.
 */
#define MAIN_ACCEPT_BACKOFF_MIN_MS	100
#define MAIN_ACCEPT_BACKOFF_MAX_MS	1000
#define MAIN_ACCEPT_LOG_MS		1000

struct main_ctx;

struct listener {
	struct main_ctx		*m;
	struct server		*srv;
	const struct config_listen *cfg;
	int			 fd;
	int			 port;
	struct ev_io		*io;
};

/* The process: what the signal, timer and turn callbacks need. */
struct main_ctx {
	struct server		 srv;
	struct listener		 ls[CONFIG_MAX_LISTEN];
	size_t			 nls;
	struct ev_timer		*grace;		/* shutdown: flush, then stop */
	struct ev_timer		*health;	/* store_tick */
	struct ev_timer		*accept_timer;	/* listeners paused */
	uint64_t		 accept_backoff; /* ms; 0: not backing off */
	uint64_t		 accept_failed;	/* tries not yet logged */
	uint64_t		 accept_logged;	/* ev_now of the last line */
	int			 status;	/* exit status */
};

static void
usage(void)
{
	fprintf(stderr, "usage: xmppd [-dItv] [--init] -c file\n"
	    "       xmppd [-dv] -D    (development defaults, see README)\n");
	exit(1);
}

/* Poll every open listener for connections again, or stop polling. */
static void
main_listeners_poll(struct main_ctx *m, int events)
{
	size_t	i;

	for (i = 0; i < m->nls; i++)
		if (m->ls[i].io != NULL)
			ev_io_set(m->ls[i].io, events);
}

static void
main_accept_resume(void *arg)
{
	main_listeners_poll(arg, EV_READ);
}

/* accept failed for want of a resource: stop polling for a while. */
static void
main_accept_pause(struct main_ctx *m, int err)
{
	uint64_t	now = ev_now(m->srv.ev);

	m->accept_failed++;
	m->accept_backoff = m->accept_backoff == 0 ?
	    MAIN_ACCEPT_BACKOFF_MIN_MS : m->accept_backoff * 2;
	if (m->accept_backoff > MAIN_ACCEPT_BACKOFF_MAX_MS)
		m->accept_backoff = MAIN_ACCEPT_BACKOFF_MAX_MS;
	if (m->accept_logged == 0 ||
	    now - m->accept_logged >= MAIN_ACCEPT_LOG_MS) {
		log_warnx("accept paused: %s failed=%llu backoff_ms=%llu "
		    "clients=%u", strerror(err),
		    (unsigned long long)m->accept_failed,
		    (unsigned long long)m->accept_backoff, m->srv.nclients);
		m->accept_failed = 0;
		m->accept_logged = now;
	}
	main_listeners_poll(m, 0);
	if (m->accept_timer == NULL)
		m->accept_timer = ev_timer_new(m->srv.ev, main_accept_resume,
		    m);
	ev_timer_set(m->accept_timer, m->accept_backoff);
}

/* A connection came after a pause: the back-off starts over. */
static void
main_accept_recovered(struct main_ctx *m)
{
	log_info("accept resumed failed=%llu clients=%u",
	    (unsigned long long)m->accept_failed, m->srv.nclients);
	m->accept_backoff = 0;
	m->accept_failed = 0;
	m->accept_logged = 0;
}

static void
main_on_accept(int fd, int events, void *arg)
{
	struct listener	*l = arg;
	char		 peer[80];
	int		 cfd;

	(void)events;
	for (;;) {
		if ((cfd = net_accept(fd, peer, sizeof(peer))) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* The peer gave up or a signal came: next one. */
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			/*
			 * EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else
			 * that would fail again at once.
			 */
			main_accept_pause(l->m, errno);
			return;
		}
		if (l->m->accept_backoff != 0)
			main_accept_recovered(l->m);
		c2s_accept(l->srv, cfd, peer, l->cfg->direct_tls);
	}
}

/* Tests and scripts learn the ports (port 0 listeners) from this file. */
static void
main_port_file(const char *path, const struct listener *l, size_t n)
{
	char	*tmp;
	FILE	*f;
	size_t	 i;

	xasprintf(&tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		fatal("port-file %s", tmp);
	for (i = 0; i < n; i++)
		fprintf(f, "%s %d %s\n", l[i].cfg->addr, l[i].port,
		    l[i].cfg->direct_tls ? "tls" : "plain");
	if (fclose(f) == EOF || rename(tmp, path) == -1)
		fatal("port-file %s", path);
	free(tmp);
}

static void
main_drop_privileges(const char *user)
{
	struct passwd	*pw;

	if (geteuid() != 0 || user == NULL)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("unknown user %s", user);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("dropping privileges to %s", user);
	log_info("running as user=%s", user);
}

static SSL_CTX *
main_tls(const struct config *cfg)
{
	const char	*errstr;
	SSL_CTX		*ctx;

	if (cfg->selfsigned && tls_make_selfsigned(cfg->certificate,
	    cfg->key, cfg->domain, &errstr) == -1) {
		log_warnx("tls: %s", errstr);
		return NULL;
	}
	if ((ctx = tls_server_ctx(cfg->certificate, cfg->key,
	    &errstr)) == NULL)
		log_warnx("tls: %s", errstr);
	return ctx;
}

static void
main_stop(void *arg)
{
	ev_stop(arg);
}

/* No new connections: a login during shutdown is refused, not lost. */
static void
main_close_listeners(struct main_ctx *m)
{
	size_t	i;

	for (i = 0; i < m->nls; i++) {
		if (m->ls[i].io == NULL)
			continue;
		ev_io_del(m->ls[i].io);
		close(m->ls[i].fd);
		m->ls[i].io = NULL;
		m->ls[i].fd = -1;
	}
}

/*
 * End every stream and stop after a grace period (to flush). final_acks:
 * each client is told its committed h first; not when the database is
 * gone (what it covered went with the file).
 */
static void
main_shutdown(struct main_ctx *m, bool final_acks)
{
	main_close_listeners(m);
	if (final_acks)
		c2s_shutdown_all(&m->srv);
	else
		c2s_abort_all(&m->srv);
	if (m->grace == NULL) {
		m->grace = ev_timer_new(m->srv.ev, main_stop, m->srv.ev);
		ev_timer_set(m->grace, MAIN_SHUTDOWN_GRACE_MS);
	}
}

static void
main_on_signal(int signo, void *arg)
{
	struct main_ctx	*m = arg;
	struct server	*srv = &m->srv;
	SSL_CTX		*ctx;

	if (signo == SIGHUP) {
		log_info("reload requested");
		auth_reload(srv->auth);
		if ((ctx = main_tls(srv->cfg)) != NULL) {
			/* Live sessions keep a reference to the old one. */
			SSL_CTX_free(srv->tls);
			srv->tls = ctx;
		}
		return;
	}
	if (srv->shutting_down)
		return;
	srv->shutting_down = 1;
	log_info("shutting down signal=%d clients=%u", signo, srv->nclients);
	sd_notify(0, "STOPPING=1");
	main_close_listeners(m);
	/* The streams end after this turn's commit (main_commit). */
	ev_wake(srv->ev);
}

/*
 * The turn hook: commit what this turn stored, then let out only what the
 * commit backs, in this order: the streams' committed counts (or cut
 * links), the turn's deliveries, the spool's next windows, the acks.
 */
static void
main_commit(void *arg)
{
	struct main_ctx	*m = arg;
	struct server	*srv = &m->srv;
	bool		 ok = store_commit(srv->store) == 0;

	c2s_sm_committed(srv, ok);
	router_flush(srv->router, ok);
	offline_flush(srv, ok);
	c2s_sm_flush_acks(srv);
	if (srv->shutting_down == 1) {
		srv->shutting_down = 2;
		main_shutdown(m, true);
	}
}

/* Once a second: disk space, the reserve, checkpoints, the file itself. */
static void
main_health(void *arg)
{
	struct main_ctx	*m = arg;
	struct server	*srv = &m->srv;

	if (store_tick(srv->store) == STORE_GONE) {
		if (srv->shutting_down < 2) {
			log_warnx("exiting: the database file is gone; "
			    "systemd restarts xmppd on the real one");
			m->status = 1;
			srv->shutting_down = 2;
			main_shutdown(m, false);
		}
		return;
	}
	ev_timer_set(m->health, MAIN_HEALTH_MS);
}

static void
main_mkdir(const char *dir)
{
	char	*p, *s = xstrdup(dir);

	for (p = s + 1; *p != '\0'; p++)
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(s, 0755);
			*p = '/';
		}
	if (mkdir(s, 0750) == -1 && errno != EEXIST)
		fatal("state-dir %s", s);
	free(s);
}

/* -t: the configuration and its certificate; exits. */
static int
main_check(struct config *cfg)
{
	const char	*errstr;
	SSL_CTX		*ctx;

	if (!cfg->selfsigned) {
		if ((ctx = tls_server_ctx(cfg->certificate, cfg->key,
		    &errstr)) == NULL) {
			fprintf(stderr, "%s: %s\n", cfg->path, errstr);
			return 1;
		}
		SSL_CTX_free(ctx);
	}
	fprintf(stderr, "configuration OK\n");
	return 0;
}

/* Every configured listener, before the privilege drop. */
static void
main_listen(struct main_ctx *m, const struct config *cfg)
{
	const char	*errstr;
	size_t		 i;

	for (i = 0; i < cfg->nlisten; i++) {
		m->ls[i].m = m;
		m->ls[i].srv = &m->srv;
		m->ls[i].cfg = &cfg->listen[i];
		if ((m->ls[i].fd = net_listen(cfg->listen[i].addr,
		    cfg->listen[i].port, &errstr)) == -1)
			fatalx("%s", errstr);
		m->ls[i].port = net_local_port(m->ls[i].fd);
		m->ls[i].io = ev_io_add(m->srv.ev, m->ls[i].fd, EV_READ,
		    main_on_accept, &m->ls[i]);
		log_info("listening addr=%s port=%d tls=%s",
		    cfg->listen[i].addr, m->ls[i].port,
		    cfg->listen[i].direct_tls ? "direct" : "starttls");
	}
	m->nls = cfg->nlisten;
}

/*
 * The database, refusing to start empty where one existed (the marker),
 * with its reserve of free space.
 */
static void
main_open_store(struct main_ctx *m, const struct config *cfg, bool init)
{
	const char	*errstr;
	char		*dbpath, *reserve;

	xasprintf(&dbpath, "%s/xmppd.sqlite", cfg->state_dir);
	xasprintf(&reserve, "%s/xmppd.reserve", cfg->state_dir);
	if (store_marker_check(dbpath, init, &errstr) == -1)
		fatalx("%s", errstr);
	if ((m->srv.store = store_open(dbpath, &errstr)) == NULL)
		fatalx("%s", errstr);
	if (store_marker_write(dbpath) == -1)
		fatalx("%s: cannot write its marker", dbpath);
	store_set_reserve(m->srv.store, reserve,
	    (uint64_t)cfg->store_reserve * 1024 * 1024);
	free(reserve);
	free(dbpath);
}

/* Authentication, rate limits, router, modules, hooks and signals. */
static void
main_services(struct main_ctx *m, const struct config *cfg)
{
	struct server	*srv = &m->srv;
	const char	*errstr;

	if ((srv->auth = auth_open(srv->ev, cfg, &errstr)) == NULL)
		fatalx("%s", errstr);
	srv->rl_addr = ratelimit_new(cfg->auth_rate_address,
	    (uint64_t)cfg->auth_rate_window * 1000, MAIN_RATELIMIT_KEYS);
	srv->rl_account = ratelimit_new(cfg->auth_slow_account,
	    (uint64_t)cfg->auth_rate_window * 1000, MAIN_RATELIMIT_KEYS);
	srv->rl_pair = ratelimit_new(cfg->auth_rate_account,
	    (uint64_t)cfg->auth_rate_window * 1000, MAIN_RATELIMIT_KEYS);
	srv->router = router_new(srv);
	c2s_init(srv);
	module_init(srv, modules_all);
	dispatch_init(srv);
	ev_turn_hook(srv->ev, main_commit, m);
	m->health = ev_timer_new(srv->ev, main_health, m);
	ev_timer_set(m->health, MAIN_HEALTH_MS);
	ev_signal(srv->ev, SIGTERM, main_on_signal, m);
	ev_signal(srv->ev, SIGINT, main_on_signal, m);
	ev_signal(srv->ev, SIGHUP, main_on_signal, m);
}

/* After the loop: everything in the reverse order of its making. */
static void
main_teardown(struct main_ctx *m)
{
	struct server	*srv = &m->srv;

	ev_timer_free(m->grace);
	ev_timer_free(m->health);
	ev_timer_free(m->accept_timer);
	main_close_listeners(m);
	store_close(srv->store);
	auth_close(srv->auth);
	ratelimit_free(srv->rl_addr);
	ratelimit_free(srv->rl_account);
	ratelimit_free(srv->rl_pair);
	module_fini(srv);
	router_free(srv->router);
	c2s_fini(srv);
	SSL_CTX_free(srv->tls);
	ev_free(srv->ev);
}

/* The command line's options (-c, -D, -d, -I/--init, -t, -v). */
struct main_opts {
	const char	*path;
	int		 debug, verbose, test, devel, init;
};

static void
main_options(int argc, char *argv[], struct main_opts *o)
{
	static const struct option	 longopts[] = {
		{ "init", no_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 }
	};
	int				 ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "c:dDItv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':	o->path = optarg;	break;
		case 'd':	o->debug = 1;		break;
		case 'D':	o->devel = 1;		break;
		case 'I':	o->init = 1;		break;
		case 't':	o->test = 1;		break;
		case 'v':	o->verbose++;		break;
		default:	usage();
		}
	}
	if (optind != argc || (o->path == NULL) == (o->devel == 0))
		usage();
}

/* The configuration, from the file or the development defaults. */
static int
main_config(const struct main_opts *o, struct config *cfg)
{
	char	*err = NULL;

	config_defaults(cfg);
	if (o->devel)
		config_devel(cfg, "build", "fixtures/users.txt");
	else if (config_load(o->path, cfg, &err) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (config_check(cfg, &err) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static struct main_ctx	 m;
	struct main_opts	 o;
	struct config		 cfg;
	int			 status;

	main_options(argc, argv, &o);
	log_init(o.debug, o.verbose);
	if (main_config(&o, &cfg) == -1)
		return 1;
	if (o.test) {
		status = main_check(&cfg);
		config_free(&cfg);
		return status;
	}
	signal(SIGPIPE, SIG_IGN);

	m.srv.cfg = &cfg;
	m.srv.ev = ev_new();
	main_mkdir(cfg.state_dir);
	if ((m.srv.tls = main_tls(&cfg)) == NULL)
		fatalx("cannot start without a TLS certificate");
	main_listen(&m, &cfg);
	main_drop_privileges(cfg.user);
	main_open_store(&m, &cfg, o.init);
	main_services(&m, &cfg);
	if (cfg.port_file != NULL)
		main_port_file(cfg.port_file, m.ls, m.nls);
	log_info("xmppd %s ready domain=%s", XMPPD_VERSION, cfg.domain);
	sd_notify(0, "READY=1");

	if (ev_run(m.srv.ev) == -1)
		fatal("event loop");
	main_teardown(&m);
	log_info("stopped status=%d", m.status);
	config_free(&cfg);
	return m.status;
}
