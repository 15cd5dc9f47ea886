/*
 * main.c: argv and config -> listening sockets, TLS keys -> privilege drop
 * -> database, auth backend -> the event loop. Signals: SIGTERM/SIGINT shut
 * down cleanly (stream close to every client, database checkpointed),
 * SIGHUP reloads the users file and the certificate.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
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

struct listener {
	struct server		*srv;
	const struct config_listen *cfg;
	int			 fd;
	int			 port;
	struct ev_io		*io;
};

static void
usage(void)
{
	fprintf(stderr, "usage: xmppd [-dtv] -c file\n"
	    "       xmppd [-dv] -D    (development defaults, see README)\n");
	exit(1);
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
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR)
				log_warn("accept on port %d", l->port);
			return;
		}
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

/* The shutdown grace timer; freed after the loop ends. */
static struct ev_timer	*main_grace;

static void
main_on_signal(int signo, void *arg)
{
	struct server	*srv = arg;
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
	if (srv->shutting_down++)
		return;
	log_info("shutting down signal=%d clients=%u", signo, srv->nclients);
	sd_notify(0, "STOPPING=1");
	c2s_shutdown_all(srv);
	/* Give the closing streams a moment to flush. */
	main_grace = ev_timer_new(srv->ev, main_stop, srv->ev);
	ev_timer_set(main_grace, MAIN_SHUTDOWN_GRACE_MS);
}

static void
main_commit(void *arg)
{
	struct server	*srv = arg;

	/* Acked means durable: acks go out only after this commit. */
	c2s_sm_flush_acks(srv, store_commit(srv->store) == 0);
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

int
main(int argc, char *argv[])
{
	struct config	 cfg;
	struct server	 srv;
	struct listener	 ls[CONFIG_MAX_LISTEN];
	const char	*path = NULL, *errstr;
	char		*err = NULL, *dbpath;
	int		 ch, debug = 0, verbose = 0, test = 0, devel = 0;
	size_t		 i;

	while ((ch = getopt(argc, argv, "c:dDtv")) != -1) {
		switch (ch) {
		case 'c':	path = optarg;	break;
		case 'd':	debug = 1;	break;
		case 'D':	devel = 1;	break;
		case 't':	test = 1;	break;
		case 'v':	verbose++;	break;
		default:	usage();
		}
	}
	if (optind != argc || (path == NULL) == (devel == 0))
		usage();
	log_init(debug, verbose);

	config_defaults(&cfg);
	if (devel)
		config_devel(&cfg, "build", "fixtures/users.txt");
	else if (config_load(path, &cfg, &err) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (config_check(&cfg, &err) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (test) {
		if (!cfg.selfsigned) {
			SSL_CTX *ctx = tls_server_ctx(cfg.certificate,
			    cfg.key, &errstr);

			if (ctx == NULL) {
				fprintf(stderr, "%s: %s\n", cfg.path, errstr);
				return 1;
			}
			SSL_CTX_free(ctx);
		}
		fprintf(stderr, "configuration OK\n");
		config_free(&cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);

	memset(&srv, 0, sizeof(srv));
	srv.cfg = &cfg;
	srv.ev = ev_new();
	main_mkdir(cfg.state_dir);
	if ((srv.tls = main_tls(&cfg)) == NULL)
		fatalx("cannot start without a TLS certificate");
	memset(ls, 0, sizeof(ls));
	for (i = 0; i < cfg.nlisten; i++) {
		ls[i].srv = &srv;
		ls[i].cfg = &cfg.listen[i];
		if ((ls[i].fd = net_listen(cfg.listen[i].addr,
		    cfg.listen[i].port, &errstr)) == -1)
			fatalx("%s", errstr);
		ls[i].port = net_local_port(ls[i].fd);
		ls[i].io = ev_io_add(srv.ev, ls[i].fd, EV_READ,
		    main_on_accept, &ls[i]);
		log_info("listening addr=%s port=%d tls=%s", cfg.listen[i].addr,
		    ls[i].port, cfg.listen[i].direct_tls ? "direct" :
		    "starttls");
	}
	main_drop_privileges(cfg.user);

	xasprintf(&dbpath, "%s/xmppd.sqlite", cfg.state_dir);
	if ((srv.store = store_open(dbpath, &errstr)) == NULL)
		fatalx("%s", errstr);
	free(dbpath);
	if ((srv.auth = auth_open(srv.ev, &cfg, &errstr)) == NULL)
		fatalx("%s", errstr);
	srv.rl_addr = ratelimit_new(cfg.auth_rate_address,
	    (uint64_t)cfg.auth_rate_window * 1000, MAIN_RATELIMIT_KEYS);
	srv.rl_account = ratelimit_new(cfg.auth_rate_account,
	    (uint64_t)cfg.auth_rate_window * 1000, MAIN_RATELIMIT_KEYS);
	srv.router = router_new(&srv);
	srv.sm_ids = dict_new();
	srv.sm_expired = dict_new();
	module_init(&srv);
	ev_turn_hook(srv.ev, main_commit, &srv);
	ev_signal(srv.ev, SIGTERM, main_on_signal, &srv);
	ev_signal(srv.ev, SIGINT, main_on_signal, &srv);
	ev_signal(srv.ev, SIGHUP, main_on_signal, &srv);

	if (cfg.port_file != NULL)
		main_port_file(cfg.port_file, ls, cfg.nlisten);
	log_info("xmppd %s ready domain=%s", XMPPD_VERSION, cfg.domain);
	sd_notify(0, "READY=1");

	if (ev_run(srv.ev) == -1)
		fatal("event loop");
	ev_timer_free(main_grace);

	for (i = 0; i < cfg.nlisten; i++) {
		ev_io_del(ls[i].io);
		close(ls[i].fd);
	}
	store_close(srv.store);
	auth_close(srv.auth);
	ratelimit_free(srv.rl_addr);
	ratelimit_free(srv.rl_account);
	module_fini(&srv);
	router_free(srv.router);
	c2s_sm_cleanup(&srv);
	SSL_CTX_free(srv.tls);
	ev_free(srv.ev);
	log_info("stopped");
	config_free(&cfg);
	return 0;
}
