/*
 * check_conn.c: net + conn + tls over real loopback TCP (127.0.0.1 and
 * ::1). The server side runs in the event loop; each client is a thread
 * with a blocking socket and, for TLS, a real OpenSSL client that checks
 * the self-signed certificate.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conn.h"
#include "ev.h"
#include "net.h"
#include "tls.h"

#include "check_main.h"

#define BULK		(4 * 1024 * 1024)
#define GUARD_MS	60000	/* hang guard only, never a measurement */

static char	tmpdir[64], certpath[128], keypath[128];

static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 13));
}

/* --- the server side, driven by the loop ------------------------------ */

struct srv {
	struct ev	*ev;
	SSL_CTX		*ctx;
	int		 lfd;
	struct ev_io	*lio;
	struct ev_io	*nio;		/* client thread's "done" pipe */
	int		 notify[2];
	int		 gate[2];	/* "bulk written": the client may read */
	struct ev_timer	*guard;
	struct ev_timer	*resume;
	struct conn	*conn;

	/* behaviour */
	bool		 direct_tls;
	bool		 starttls;	/* "starttls" -> "proceed" + TLS */
	bool		 echo;
	bool		 bulk;		/* "go" -> 4 MiB + conn_close */
	bool		 close_on_drain; /* bulk: close only once drained */
	bool		 abort_on_read;
	bool		 close_on_read;
	bool		 pause;		/* pause after each read, resume later */

	/* what happened */
	bool		 client_done;
	bool		 owner_closed;
	bool		 timed_out;
	bool		 paused;
	int		 read_while_paused;
	int		 accepted;
	int		 closed;
	int		 tls_ready;
	bool		 tls_at_ready;
	char		 why[160];
	char		 plain_seen[64];	/* before TLS */
	size_t		 bulk_pending;
	int		 drained;	/* drained callbacks */
	size_t		 pending_at_drain;
};

static void
srv_read(void *arg, const char *buf, size_t len)
{
	struct srv	*s = arg;
	char		*big;
	size_t		 i;

	if (s->paused)
		s->read_while_paused++;
	if (s->abort_on_read) {
		conn_abort(s->conn);
		s->conn = NULL;
		s->owner_closed = true;
		return;
	}
	if (s->close_on_read) {
		conn_write(s->conn, "bye", 3);
		conn_close(s->conn);	/* inside its own read callback */
		s->conn = NULL;
		s->owner_closed = true;
		return;
	}
	if (s->starttls && !s->tls_ready) {
		snprintf(s->plain_seen, sizeof(s->plain_seen), "%.*s",
		    (int)len, buf);
		conn_write(s->conn, "proceed", 7);
		ck_assert_int_eq(conn_starttls(s->conn, s->ctx), 0);
		/* A second starttls on the same conn is refused. */
		ck_assert_int_eq(conn_starttls(s->conn, s->ctx), -1);
		return;
	}
	if (s->bulk && len >= 2 && memcmp(buf, "go", 2) == 0) {
		big = malloc(BULK);
		ck_assert_ptr_nonnull(big);
		for (i = 0; i < BULK; i++)
			big[i] = (char)pattern(i);
		conn_write(s->conn, big, BULK);
		free(big);
		s->bulk_pending = conn_pending(s->conn);
		if (!s->close_on_drain) {
			conn_close(s->conn);
			s->conn = NULL;
			s->owner_closed = true;
		}
		ck_assert_int_eq(write(s->gate[1], "w", 1), 1);
		return;
	}
	if (s->echo)
		conn_write(s->conn, buf, len);
	if (s->pause) {
		conn_pause_read(s->conn, true);
		s->paused = true;
		ev_timer_set(s->resume, 5);
	}
}

static void
srv_resume(void *arg)
{
	struct srv	*s = arg;

	if (s->conn == NULL)
		return;
	s->paused = false;
	conn_pause_read(s->conn, false);
}

static void
srv_closed(void *arg, const char *why)
{
	struct srv	*s = arg;

	s->closed++;
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->conn = NULL;
}

static void
srv_tls_ready(void *arg)
{
	struct srv	*s = arg;

	s->tls_ready++;
	s->tls_at_ready = conn_is_tls(s->conn);
}

/* The queue emptied: once, and with nothing left in it. */
static void
srv_drained(void *arg)
{
	struct srv	*s = arg;

	s->drained++;
	s->pending_at_drain = conn_pending(s->conn);
	if (s->close_on_drain) {
		conn_close(s->conn);
		s->conn = NULL;
		s->owner_closed = true;
	}
}

static const struct conn_cb srv_cb = {
	.read = srv_read,
	.closed = srv_closed,
	.tls_ready = srv_tls_ready,
	.drained = srv_drained,
};

static void
srv_accept(int fd, int events, void *arg)
{
	struct srv	*s = arg;
	char		 peer[80];
	int		 cfd;

	(void)events;
	if ((cfd = net_accept(fd, peer, sizeof(peer))) == -1)
		return;
	ck_assert_ptr_null(s->conn);	/* one client per test */
	s->accepted++;
	s->conn = conn_new(s->ev, cfd, peer, &srv_cb, s);
	ck_assert_str_eq(conn_peer(s->conn), peer);
	ck_assert_ptr_nonnull(strstr(peer, conn_peer_addr(s->conn)));
	ck_assert_int_eq(conn_is_tls(s->conn), 0);
	if (s->direct_tls)
		ck_assert_int_eq(conn_starttls(s->conn, s->ctx), 0);
}

static void
srv_notified(int fd, int events, void *arg)
{
	struct srv	*s = arg;
	char		 b;

	(void)events;
	if (read(fd, &b, 1) == 1)
		s->client_done = true;
}

static void
srv_guard(void *arg)
{
	struct srv	*s = arg;

	s->timed_out = true;
	ev_stop(s->ev);
}

/* End of each turn: stop once the client is done and the conn is gone. */
static void
srv_turn(void *arg)
{
	struct srv	*s = arg;

	if (s->client_done && (s->closed > 0 || s->owner_closed))
		ev_stop(s->ev);
}

static bool
srv_init(struct srv *s, const char *addr, int *port)
{
	const char	*errstr;

	memset(s, 0, sizeof(*s));
	s->ev = ev_new();
	if ((s->lfd = net_listen(addr, 0, &errstr)) == -1) {
		ev_free(s->ev);
		return false;
	}
	*port = net_local_port(s->lfd);
	ck_assert_int_gt(*port, 0);
	s->ctx = tls_server_ctx(certpath, keypath, &errstr);
	ck_assert_msg(s->ctx != NULL, "%s", errstr);
	s->lio = ev_io_add(s->ev, s->lfd, EV_READ, srv_accept, s);
	ck_assert_int_eq(pipe(s->notify), 0);
	ck_assert_int_eq(pipe(s->gate), 0);
	s->nio = ev_io_add(s->ev, s->notify[0], EV_READ, srv_notified, s);
	s->guard = ev_timer_new(s->ev, srv_guard, s);
	s->resume = ev_timer_new(s->ev, srv_resume, s);
	ev_turn_hook(s->ev, srv_turn, s);
	return true;
}

/* Run to completion, then a few more turns: nothing may fire twice. */
static void
srv_run(struct srv *s)
{
	ev_timer_set(s->guard, GUARD_MS);
	ck_assert_int_eq(ev_run(s->ev), 0);
	ck_assert_msg(!s->timed_out, "hung: client_done=%d closed=%d",
	    s->client_done, s->closed);
	s->client_done = false;
	ev_timer_set(s->guard, 30);
	ck_assert_int_eq(ev_run(s->ev), 0);
}

static void
srv_fini(struct srv *s)
{
	if (s->conn != NULL)
		conn_abort(s->conn);
	ev_timer_free(s->guard);
	ev_timer_free(s->resume);
	ev_io_del(s->lio);
	ev_io_del(s->nio);
	close(s->lfd);
	close(s->notify[0]);
	close(s->notify[1]);
	close(s->gate[0]);
	close(s->gate[1]);
	SSL_CTX_free(s->ctx);
	ev_free(s->ev);
}

/* --- the client side, a blocking thread ------------------------------- */

struct client {
	const char	*addr;
	int		 port;
	int		 notify;
	int		 gate;		/* wait for a byte here before reading */
	bool		 starttls;
	bool		 direct_tls;
	const char	*send;
	size_t		 sendlen;
	int		 nsend;		/* separate writes of send */
	size_t		 expect;	/* read exactly this much */
	bool		 to_eof;	/* then read until EOF */
	bool		 check_pattern;
	bool		 slow;

	char		 proceed[16];
	char		 got[64];
	size_t		 ngot;
	size_t		 total;
	bool		 pattern_ok;
	bool		 eof;
	char		 err[256];
};

static int
client_connect(const char *addr, int port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		len = sizeof(*sin);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static SSL *
client_tls(int fd, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	SSL	*ssl = NULL;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	/* Verify for real: the self-signed cert is its own CA. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, certpath, NULL) != 1 ||
	    (ssl = SSL_new(ctx)) == NULL ||
	    SSL_set1_host(ssl, "localhost") != 1 ||
	    SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		snprintf(err, errlen, "client tls: %s",
		    ERR_reason_error_string(ERR_peek_last_error()));
		SSL_free(ssl);
		ssl = NULL;
	}
	SSL_CTX_free(ctx);
	return ssl;
}

static ssize_t
client_io(SSL *ssl, int fd, char *buf, size_t len, bool write_)
{
	int	 r;

	if (ssl == NULL)
		return write_ ? write(fd, buf, len) : read(fd, buf, len);
	r = write_ ? SSL_write(ssl, buf, (int)len) : SSL_read(ssl, buf,
	    (int)len);
	return r > 0 ? r : (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ?
	    0 : -1);
}

static void *
client_main(void *arg)
{
	struct client	*cl = arg;
	SSL		*ssl = NULL;
	char		 buf[4096];
	ssize_t		 n = 0;
	size_t		 i, reads = 0;
	int		 fd, k;

	cl->pattern_ok = true;
	if ((fd = client_connect(cl->addr, cl->port)) == -1) {
		snprintf(cl->err, sizeof(cl->err), "connect: %s",
		    strerror(errno));
		goto done;
	}
	if (cl->starttls) {
		if (write(fd, "starttls", 8) != 8)
			goto fail;
		for (i = 0; i < 7; i += (size_t)n)
			if ((n = read(fd, cl->proceed + i, 7 - i)) <= 0)
				goto fail;
	}
	if ((cl->starttls || cl->direct_tls) &&
	    (ssl = client_tls(fd, cl->err, sizeof(cl->err))) == NULL)
		goto out;
	for (k = 0; k < cl->nsend; k++)
		if (client_io(ssl, fd, (char *)(uintptr_t)cl->send,
		    cl->sendlen, true) != (ssize_t)cl->sendlen)
			goto fail;
	while (cl->ngot < cl->expect) {
		if ((n = client_io(ssl, fd, cl->got + cl->ngot,
		    cl->expect - cl->ngot, false)) <= 0)
			goto fail;
		cl->ngot += (size_t)n;
	}
	/* Not reading until the server has queued: a slow reader. */
	if (cl->gate != -1 && read(cl->gate, buf, 1) != 1)
		goto fail;
	while (cl->to_eof) {
		/* A reset (after conn_abort) counts as the end too. */
		if ((n = client_io(ssl, fd, buf, sizeof(buf), false)) <= 0) {
			cl->eof = true;
			break;
		}
		for (i = 0; cl->check_pattern && i < (size_t)n; i++)
			if ((unsigned char)buf[i] != pattern(cl->total + i))
				cl->pattern_ok = false;
		cl->total += (size_t)n;
		if (cl->slow && ++reads % 64 == 0)
			usleep(1000);
	}
	goto out;
fail:
	if (cl->err[0] == '\0')
		snprintf(cl->err, sizeof(cl->err), "client i/o: %s",
		    errno != 0 ? strerror(errno) : "short");
out:
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
done:
	ERR_clear_error();
	(void)!write(cl->notify, "x", 1);
	return NULL;
}

/* Run one client against one server until both sides are done. */
static void
run_pair(struct srv *s, struct client *cl)
{
	pthread_t	 t;

	cl->notify = s->notify[1];
	cl->gate = s->bulk ? s->gate[0] : -1;
	if (cl->nsend == 0 && cl->send != NULL)
		cl->nsend = 1;
	ck_assert_int_eq(pthread_create(&t, NULL, client_main, cl), 0);
	srv_run(s);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(s->accepted, 1);
}

static const char *const addrs[] = { "127.0.0.1", "::1" };

/*
 * Listen on addrs[i]; false, with the test reported skipped, if that is
 * ::1 and this machine has no IPv6 loopback.
 */
static bool
setup(struct srv *s, int i, int *port, const char *test)
{
	if (srv_init(s, addrs[i], port))
		return true;
	ck_assert_int_eq(i, 1);
	check_skip(test, "%s: no IPv6 loopback here (%s)", addrs[i],
	    strerror(errno));
	return false;
}

/* Server on addrs[i] and a cleared client; false if skipped. */
static bool
pair_begin(struct srv *s, struct client *cl, int i, const char *test)
{
	int	 port;

	memset(cl, 0, sizeof(*cl));
	if (!setup(s, i, &port, test))
		return false;
	cl->addr = addrs[i];
	cl->port = port;
	return true;
}

/* --- tests ------------------------------------------------------------ */

START_TEST(conn_plain_echo)
{
	struct srv	 s;
	struct client	 cl;

	if (!pair_begin(&s, &cl, _i, "conn_plain_echo"))
		return;
	s.echo = true;
	cl.send = "hello";
	cl.sendlen = 5;
	cl.expect = 5;
	run_pair(&s, &cl);
	ck_assert_msg(cl.err[0] == '\0', "%s", cl.err);
	ck_assert_int_eq(cl.ngot, 5);
	ck_assert(memcmp(cl.got, "hello", 5) == 0);
	/* The client hung up: closed exactly once, even turns later. */
	ck_assert_int_eq(s.closed, 1);
	ck_assert_str_eq(s.why, "peer closed");
	ck_assert_int_eq(s.tls_ready, 0);
	srv_fini(&s);
}
END_TEST

START_TEST(conn_starttls_flow)
{
	struct srv	 s;
	struct client	 cl;

	if (!pair_begin(&s, &cl, _i, "conn_starttls_flow"))
		return;
	s.starttls = true;
	s.echo = true;
	cl.starttls = true;
	cl.send = "ping";
	cl.sendlen = 4;
	cl.nsend = 2;
	cl.expect = 8;
	run_pair(&s, &cl);
	ck_assert_msg(cl.err[0] == '\0', "%s", cl.err);
	ck_assert_str_eq(s.plain_seen, "starttls");
	ck_assert_str_eq(cl.proceed, "proceed");
	ck_assert_int_eq(s.tls_ready, 1);
	ck_assert(s.tls_at_ready);
	ck_assert(memcmp(cl.got, "pingping", 8) == 0);
	ck_assert_int_eq(s.closed, 1);
	ck_assert_str_eq(s.why, "peer closed");
	srv_fini(&s);
}
END_TEST

START_TEST(conn_direct_tls)
{
	struct srv	 s;
	struct client	 cl;

	if (!pair_begin(&s, &cl, _i, "conn_direct_tls"))
		return;
	s.direct_tls = true;
	s.echo = true;
	cl.direct_tls = true;
	cl.send = "over tls";
	cl.sendlen = 8;
	cl.expect = 8;
	run_pair(&s, &cl);
	ck_assert_msg(cl.err[0] == '\0', "%s", cl.err);
	ck_assert_int_eq(s.tls_ready, 1);
	ck_assert(memcmp(cl.got, "over tls", 8) == 0);
	ck_assert_int_eq(s.closed, 1);
	srv_fini(&s);
}
END_TEST

/*
 * 4 MiB to a slow reader, then conn_close: all of it, then EOF. With
 * on_drain, the owner closes from the drained callback instead, which
 * must come once the reader took everything.
 */
static void
bulk(int i, bool tls, bool on_drain)
{
	struct srv	 s;
	struct client	 cl;

	if (!pair_begin(&s, &cl, i,
	    tls ? "conn_bulk_tls" : "conn_bulk_plain"))
		return;
	s.bulk = true;
	s.close_on_drain = on_drain;
	s.direct_tls = tls;
	cl.direct_tls = tls;
	cl.send = "go";
	cl.sendlen = 2;
	cl.to_eof = true;
	cl.check_pattern = true;
	cl.slow = true;
	run_pair(&s, &cl);
	ck_assert_msg(cl.err[0] == '\0', "%s", cl.err);
	/* The kernel could not take it all: conn queued the rest. */
	ck_assert_uint_gt(s.bulk_pending, 0);
	ck_assert_uint_eq(cl.total, BULK);
	ck_assert(cl.pattern_ok);
	ck_assert(cl.eof);
	ck_assert_int_eq(s.closed, 0);	/* owner closed first */
	ck_assert_int_eq(s.drained, on_drain ? 1 : 0);
	ck_assert_uint_eq(s.pending_at_drain, 0);
	srv_fini(&s);
}

START_TEST(conn_bulk_plain)
{
	bulk(_i, false, false);
}
END_TEST

START_TEST(conn_bulk_tls)
{
	bulk(_i, true, false);
}
END_TEST

START_TEST(conn_drained_plain)
{
	bulk(_i, false, true);
}
END_TEST

START_TEST(conn_drained_tls)
{
	bulk(_i, true, true);
}
END_TEST

START_TEST(conn_tls_garbage)
{
	struct srv	 s;
	struct client	 cl;
	static const char	 http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	if (!pair_begin(&s, &cl, _i, "conn_tls_garbage"))
		return;
	s.direct_tls = true;
	cl.send = http;
	cl.sendlen = sizeof(http) - 1;
	cl.to_eof = true;
	run_pair(&s, &cl);
	ck_assert_int_eq(s.closed, 1);
	ck_assert_msg(strncmp(s.why, "tls: ", 5) == 0, "why=%s", s.why);
	ck_assert_int_eq(s.tls_ready, 0);
	ck_assert(cl.eof);
	srv_fini(&s);
}
END_TEST

START_TEST(conn_abort_in_read)
{
	struct srv	 s;
	struct client	 cl;

	if (!pair_begin(&s, &cl, _i, "conn_abort_in_read"))
		return;
	s.abort_on_read = true;
	cl.send = "x";
	cl.sendlen = 1;
	cl.to_eof = true;
	run_pair(&s, &cl);
	ck_assert(cl.eof);
	ck_assert_uint_eq(cl.total, 0);
	ck_assert_int_eq(s.closed, 0);
	srv_fini(&s);
}
END_TEST

START_TEST(conn_close_in_read)
{
	struct srv	 s;
	struct client	 cl;

	if (!pair_begin(&s, &cl, _i, "conn_close_in_read"))
		return;
	s.close_on_read = true;
	cl.send = "x";
	cl.sendlen = 1;
	cl.expect = 3;
	cl.to_eof = true;
	run_pair(&s, &cl);
	ck_assert_msg(cl.err[0] == '\0', "%s", cl.err);
	ck_assert(memcmp(cl.got, "bye", 3) == 0);
	ck_assert(cl.eof);
	ck_assert_uint_eq(cl.total, 0);
	ck_assert_int_eq(s.closed, 0);
	srv_fini(&s);
}
END_TEST

/* Paused means paused: no read callback until resumed, nothing lost. */
START_TEST(conn_pause_resume)
{
	struct srv	 s;
	struct client	 cl;

	if (!pair_begin(&s, &cl, _i, "conn_pause_resume"))
		return;
	s.direct_tls = true;
	s.echo = true;
	s.pause = true;
	cl.direct_tls = true;
	cl.send = "abc";
	cl.sendlen = 3;
	cl.nsend = 10;
	cl.expect = 30;
	run_pair(&s, &cl);
	ck_assert_msg(cl.err[0] == '\0', "%s", cl.err);
	ck_assert_int_eq(s.read_while_paused, 0);
	ck_assert(memcmp(cl.got, "abcabcabcabcabcabcabcabcabcabc", 30) == 0);
	srv_fini(&s);
}
END_TEST

START_TEST(net_helpers)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	const char		*errstr = NULL;
	char			 buf[64];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(5222);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	net_format((struct sockaddr *)&sin, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.1:5222");
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(5223);
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	net_format((struct sockaddr *)&sin6, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[2001:db8::1]:5223");
	/* Truncation is safe and terminated. */
	net_format((struct sockaddr *)&sin6, buf, 6);
	ck_assert_str_eq(buf, "[2001");

	ck_assert_int_eq(net_listen("localhost", 0, &errstr), -1);
	ck_assert_ptr_nonnull(strstr(errstr, "localhost"));
	ck_assert_int_eq(net_listen("127.0.0.1", 70000, &errstr), -1);
}
END_TEST

/* A socket on ::1 is IPv6-only (127.0.0.1 gets a socket of its own). */
START_TEST(net_listen_v6)
{
	const char	*errstr = NULL;
	int		 fd, on = 0;
	socklen_t	 len = sizeof(on);

	if ((fd = net_listen("::1", 0, &errstr)) == -1) {
		check_skip("net_listen_v6", "no IPv6 loopback here (%s)",
		    errstr);
		return;
	}
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
	    &len), 0);
	ck_assert_int_eq(on, 1);
	ck_assert_int_gt(net_local_port(fd), 0);
	close(fd);
}
END_TEST

START_TEST(tls_ctx_errors)
{
	const char	*errstr = NULL;
	char		 missing[128], other[96], okey[128], ocert[128];
	SSL_CTX		*ctx;

	snprintf(missing, sizeof(missing), "%s/nonexistent.pem", tmpdir);
	ctx = tls_server_ctx(missing, keypath, &errstr);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(errstr, missing) != NULL, "errstr=%s", errstr);
	ck_assert_msg(strstr(errstr, "No such file") != NULL, "errstr=%s",
	    errstr);
	ctx = tls_server_ctx(certpath, missing, &errstr);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(errstr, missing) != NULL, "errstr=%s", errstr);

	/* A key from another pair does not match. */
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	mkdir(other, 0700);
	snprintf(ocert, sizeof(ocert), "%s/cert.pem", other);
	snprintf(okey, sizeof(okey), "%s/key.pem", other);
	ck_assert_int_eq(tls_make_selfsigned(ocert, okey, "example.org",
	    &errstr), 0);
	ctx = tls_server_ctx(certpath, okey, &errstr);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(errstr, okey) != NULL, "errstr=%s", errstr);
	/* A key is not a certificate. */
	ctx = tls_server_ctx(okey, okey, &errstr);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(errstr, okey) != NULL, "errstr=%s", errstr);
	unlink(ocert);
	unlink(okey);
	rmdir(other);
}
END_TEST

START_TEST(tls_selfsigned)
{
	struct stat	 k1, k2, c1;
	const char	*errstr = NULL;
	SSL_CTX		*ctx;
	X509		*x;
	FILE		*f;
	char		 cn[64];

	ck_assert_int_eq(stat(keypath, &k1), 0);
	ck_assert_int_eq(k1.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(certpath, &c1), 0);
	/* Both exist: a no-op. */
	ck_assert_int_eq(tls_make_selfsigned(certpath, keypath, "localhost",
	    &errstr), 0);
	ck_assert_int_eq(stat(keypath, &k2), 0);
	ck_assert_int_eq(k1.st_ino, k2.st_ino);
	ck_assert_int_eq(k1.st_mtim.tv_nsec, k2.st_mtim.tv_nsec);

	ck_assert_ptr_nonnull(f = fopen(certpath, "r"));
	ck_assert_ptr_nonnull(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    cn, sizeof(cn));
	ck_assert_str_eq(cn, "localhost");
	ck_assert_int_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_host(x, "evil.example", 0, 0, NULL), 0);
	/* About ten years: more than 9, less than 11 from now. */
	ck_assert_int_eq(X509_cmp_time(X509_get0_notAfter(x), &(time_t){
	    time(NULL) + 9L * 365 * 86400 }), 1);
	ck_assert_int_eq(X509_cmp_time(X509_get0_notAfter(x), &(time_t){
	    time(NULL) + 11L * 365 * 86400 }), -1);
	X509_free(x);

	ctx = tls_server_ctx(certpath, keypath, &errstr);
	ck_assert_msg(ctx != NULL, "%s", errstr);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	ck_assert(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_free(ctx);
}
END_TEST

static void
setup_dir(void)
{
	const char	*errstr = NULL;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_conn.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(certpath, sizeof(certpath), "%s/cert.pem", tmpdir);
	snprintf(keypath, sizeof(keypath), "%s/key.pem", tmpdir);
	if (tls_make_selfsigned(certpath, keypath, "localhost", &errstr)) {
		fprintf(stderr, "tls_make_selfsigned: %s\n", errstr);
		exit(1);
	}
}

static void
cleanup_dir(void)
{
	unlink(certpath);
	unlink(keypath);
	rmdir(tmpdir);
}

static Suite *
conn_suite(void)
{
	Suite	*s = suite_create("conn");
	TCase	*tc = tcase_create("conn");

	signal(SIGPIPE, SIG_IGN);	/* OpenSSL's socket BIO uses write() */
	/* Unchecked: runs once in the parent, not in every forked test. */
	tcase_add_unchecked_fixture(tc, setup_dir, cleanup_dir);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, net_helpers);
	tcase_add_test(tc, net_listen_v6);
	tcase_add_test(tc, tls_selfsigned);
	tcase_add_test(tc, tls_ctx_errors);
	tcase_add_loop_test(tc, conn_plain_echo, 0, 2);
	tcase_add_loop_test(tc, conn_starttls_flow, 0, 2);
	tcase_add_loop_test(tc, conn_direct_tls, 0, 2);
	tcase_add_loop_test(tc, conn_bulk_plain, 0, 2);
	tcase_add_loop_test(tc, conn_bulk_tls, 0, 2);
	tcase_add_loop_test(tc, conn_drained_plain, 0, 2);
	tcase_add_loop_test(tc, conn_drained_tls, 0, 2);
	tcase_add_loop_test(tc, conn_tls_garbage, 0, 2);
	tcase_add_loop_test(tc, conn_abort_in_read, 0, 2);
	tcase_add_loop_test(tc, conn_close_in_read, 0, 2);
	tcase_add_loop_test(tc, conn_pause_resume, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conn_suite)
