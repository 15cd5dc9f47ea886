/*
 * auth_radius.c: the FreeRADIUS (rlm_digest) credential backend.
 *
 * SASL PLAIN gives us the password; we turn it into HA1 and a Digest
 * response over a fresh random nonce and ask a RADIUS server to check it
 * (radius.c builds and checks the packets). The loop never blocks: each
 * server has one non-blocking connect()ed UDP socket watched by ev, each
 * pending request a timer. A request tries every server in order,
 * radius_retries times each, radius_timeout ms per try, then gives up with
 * AUTH_TEMPFAIL. radcli is not used: its rc_aaa()/rc_send_server() wait
 * for the answer in poll(), which would stall every session.
 *
 * Not done here: accounting, CHAP/PAP, Access-Challenge (rlm_digest never
 * sends one without qop).
 */
#include "auth.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "config.h"
#include "ev.h"
#include "ha1.h"
#include "log.h"
#include "radius.h"
#include "xmalloc.h"

#define RADIUS_DEFAULT_PORT	1812
#define RADIUS_DEFAULT_TIMEOUT	2000	/* ms */
#define RADIUS_IDS		256
#define RADIUS_METHOD		"AUTHENTICATE"
#define RADIUS_NAS_ID		"xmppd"

struct radius_req;

struct radius_server {
	struct auth_radius	*ar;
	char			 name[96];	/* "addr port N" for logs */
	int			 fd;
	struct ev_io		*io;
	/* RADIUS ids are per socket: 256 requests in flight at most. */
	struct radius_req	*inflight[RADIUS_IDS];
	uint8_t			 next_id;
};

struct radius_req {
	TAILQ_ENTRY(radius_req)	 entry;
	struct auth_radius	*ar;
	uint64_t		 id;
	auth_done_cb		 done;
	void			*arg;
	char			*login;
	char			 nonce[33];
	char			 response[33];
	size_t			 server;	/* index into ar->servers */
	int			 radid;		/* -1: not in flight */
	unsigned		 tries;		/* sends to this server */
	bool			 bad_auth;	/* saw a forged/bad answer */
	bool			 finished;	/* result awaits delivery */
	enum auth_result	 result;
	uint8_t			 reqauth[RADIUS_AUTH_LEN];
	uint8_t			*pkt;
	size_t			 pktlen;
	struct ev_timer		*timer;
	char			 why[512];	/* per-server failures */
};

TAILQ_HEAD(radius_reqs, radius_req);

struct auth_radius {
	struct ev		*ev;
	struct radius_server	*servers;
	size_t			 nservers;
	char			*secret_file;
	uint8_t			 secret[RADIUS_MAX_SECRET];
	size_t			 secretlen;
	char			*realm;
	char			*uri;
	unsigned		 timeout;
	unsigned		 retries;
	struct radius_reqs	 reqs;
};

static void	radius_req_start_server(struct radius_req *);
static void	radius_req_fail_server(struct radius_req *, const char *);

/* Messages for open()'s errstr, which must outlive the call. */
static char	radius_errbuf[512];

static const char *
radius_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *
radius_err(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(radius_errbuf, sizeof(radius_errbuf), fmt, ap);
	va_end(ap);
	return radius_errbuf;
}

/*
 * Read the shared secret: one line, not world-readable (it proves every
 * answer, so anyone holding it can forge Access-Accepts).
 */
static int
radius_read_secret(struct auth_radius *ar, const char **errstr)
{
	struct stat	 st;
	char		 buf[RADIUS_MAX_SECRET + 2];
	ssize_t		 n;
	size_t		 len;
	int		 fd, ret = -1;

	if ((fd = open(ar->secret_file, O_RDONLY | O_CLOEXEC)) == -1) {
		*errstr = radius_err("radius-secret-file %s: %s",
		    ar->secret_file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		*errstr = radius_err("radius-secret-file %s: %s",
		    ar->secret_file, strerror(errno));
		goto done;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		*errstr = radius_err("radius-secret-file %s is accessible "
		    "by everyone (mode %04o); chmod o-rw it",
		    ar->secret_file, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	if ((n = read(fd, buf, sizeof(buf))) == -1) {
		*errstr = radius_err("radius-secret-file %s: %s",
		    ar->secret_file, strerror(errno));
		goto done;
	}
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0 || len > RADIUS_MAX_SECRET ||
	    memchr(buf, '\n', len) != NULL) {
		*errstr = radius_err("radius-secret-file %s: want one line "
		    "of 1 to %d bytes", ar->secret_file, RADIUS_MAX_SECRET);
		goto done;
	}
	explicit_bzero(ar->secret, sizeof(ar->secret));
	memcpy(ar->secret, buf, len);
	ar->secretlen = len;
	ret = 0;
 done:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

static void	radius_server_readable(int, int, void *);

/* A non-blocking UDP socket connect()ed to one server. */
static int
radius_server_open(struct auth_radius *ar, struct radius_server *s,
    const struct config_radius *cr, const char **errstr)
{
	struct addrinfo	 hints, *res = NULL;
	char		 port[16];
	int		 rc;

	s->ar = ar;
	s->fd = -1;
	snprintf(port, sizeof(port), "%d",
	    cr->port > 0 ? cr->port : RADIUS_DEFAULT_PORT);
	snprintf(s->name, sizeof(s->name), "%s port %s", cr->addr, port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(cr->addr, port, &hints, &res)) != 0) {
		*errstr = radius_err("radius-server %s: %s", s->name,
		    gai_strerror(rc));
		return -1;
	}
	if ((s->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    connect(s->fd, res->ai_addr, res->ai_addrlen) == -1) {
		*errstr = radius_err("radius-server %s: %s", s->name,
		    strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	/* Random start so ids do not repeat across restarts. */
	if (RAND_bytes(&s->next_id, 1) != 1)
		s->next_id = 0;
	s->io = ev_io_add(ar->ev, s->fd, EV_READ, radius_server_readable, s);
	return 0;
}

static void	auth_radius_close(void *);

static void *
auth_radius_open(struct ev *ev, const struct config *cfg,
    const char **errstr)
{
	struct auth_radius	*ar;
	size_t			 i;

	if (cfg->nradius == 0) {
		*errstr = "auth radius: no radius-server configured";
		return NULL;
	}
	if (cfg->radius_secret_file == NULL) {
		*errstr = "auth radius: no radius-secret-file configured";
		return NULL;
	}
	if (cfg->realm == NULL || cfg->domain == NULL) {
		*errstr = "auth radius: realm and domain must be set";
		return NULL;
	}
	ar = xcalloc(1, sizeof(*ar));
	ar->ev = ev;
	TAILQ_INIT(&ar->reqs);
	ar->secret_file = xstrdup(cfg->radius_secret_file);
	ar->realm = xstrdup(cfg->realm);
	xasprintf(&ar->uri, "xmpp:%s", cfg->domain);
	ar->timeout = cfg->radius_timeout > 0 ? cfg->radius_timeout :
	    RADIUS_DEFAULT_TIMEOUT;
	ar->retries = cfg->radius_retries > 0 ? cfg->radius_retries : 1;
	ar->servers = xcalloc(cfg->nradius, sizeof(*ar->servers));
	for (i = 0; i < cfg->nradius; i++)
		ar->servers[i].fd = -1;
	ar->nservers = cfg->nradius;
	if (radius_read_secret(ar, errstr) == -1)
		goto bad;
	for (i = 0; i < cfg->nradius; i++)
		if (radius_server_open(ar, &ar->servers[i], &cfg->radius[i],
		    errstr) == -1)
			goto bad;
	log_info("auth radius: %zu server(s), timeout %u ms, %u tries each",
	    ar->nservers, ar->timeout, ar->retries);
	return ar;
 bad:
	auth_radius_close(ar);
	return NULL;
}

static void
radius_req_free(struct radius_req *req)
{
	if (req == NULL)
		return;
	ev_timer_free(req->timer);
	free(req->login);
	free(req->pkt);
	explicit_bzero(req->response, sizeof(req->response));
	free(req);
}

/* Give up the RADIUS id so the server slot can be reused. */
static void
radius_req_release(struct radius_req *req)
{
	struct radius_server	*s;

	if (req->radid == -1)
		return;
	s = &req->ar->servers[req->server];
	if (s->inflight[req->radid] == req)
		s->inflight[req->radid] = NULL;
	req->radid = -1;
	ev_timer_stop(req->timer);
}

/* Runs deferred, so done() is never called from inside verify(). */
static void
radius_req_deliver(void *arg)
{
	struct radius_req	*req = arg;

	if (req->ar == NULL) {
		/* The backend closed while this call was queued. */
		radius_req_free(req);
		return;
	}
	TAILQ_REMOVE(&req->ar->reqs, req, entry);
	if (req->done != NULL)
		req->done(req->arg, req->id, req->result);
	radius_req_free(req);
}

static void
radius_req_finish(struct radius_req *req, enum auth_result result)
{
	radius_req_release(req);
	req->finished = true;
	req->result = result;
	ev_defer(req->ar->ev, radius_req_deliver, req);
}

static void
radius_req_send(struct radius_req *req)
{
	struct radius_server	*s = &req->ar->servers[req->server];
	char			 why[128];

	req->tries++;
	if (send(s->fd, req->pkt, req->pktlen, 0) == -1 &&
	    errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		/* ECONNREFUSED here is an earlier ICMP port unreachable. */
		snprintf(why, sizeof(why), "send: %s", strerror(errno));
		radius_req_fail_server(req, why);
		return;
	}
	/* A full socket buffer is a lost packet: the timer resends. */
	ev_timer_set(req->timer, req->ar->timeout);
}

/* Pick a free id on the request's server; -1 if all 256 are taken. */
static int
radius_server_take_id(struct radius_server *s, struct radius_req *req)
{
	unsigned	 i;
	uint8_t		 id;

	for (i = 0; i < RADIUS_IDS; i++) {
		id = (uint8_t)(s->next_id + i);
		if (s->inflight[id] == NULL) {
			s->inflight[id] = req;
			s->next_id = (uint8_t)(id + 1);
			return id;
		}
	}
	return -1;
}

/* Encode afresh for the current server: new id, new authenticator. */
static void
radius_req_start_server(struct radius_req *req)
{
	struct auth_radius	*ar = req->ar;
	struct radius_server	*s;
	struct radius_digest	 d;
	uint8_t			 buf[RADIUS_MAX_PACKET];

	if (req->server >= ar->nservers) {
		log_warnx("auth radius %016" PRIx64 " user=%s tempfail: "
		    "no server answered (%s)", req->id, req->login, req->why);
		radius_req_finish(req, AUTH_TEMPFAIL);
		return;
	}
	s = &ar->servers[req->server];
	req->tries = 0;
	req->bad_auth = false;
	if ((req->radid = radius_server_take_id(s, req)) == -1) {
		radius_req_fail_server(req, "256 requests already in flight");
		return;
	}
	if (RAND_bytes(req->reqauth, sizeof(req->reqauth)) != 1)
		fatalx("%s: RAND_bytes failed", __func__);
	d = (struct radius_digest){ .login = req->login, .realm = ar->realm,
	    .nonce = req->nonce, .method = RADIUS_METHOD, .uri = ar->uri,
	    .response = req->response, .nas_id = RADIUS_NAS_ID };
	req->pktlen = radius_encode_digest(buf, sizeof(buf),
	    (uint8_t)req->radid, req->reqauth, &d, ar->secret,
	    ar->secretlen);
	if (req->pktlen == 0) {
		/* Only an absurdly long login or realm gets here. */
		log_warnx("auth radius %016" PRIx64 " user=%s: request too "
		    "long for RADIUS", req->id, req->login);
		radius_req_finish(req, AUTH_FAIL);
		return;
	}
	free(req->pkt);
	req->pkt = xmalloc(req->pktlen);
	memcpy(req->pkt, buf, req->pktlen);
	radius_req_send(req);
}

/* This server did not answer usefully: note why, try the next one. */
static void
radius_req_fail_server(struct radius_req *req, const char *why)
{
	struct radius_server	*s = &req->ar->servers[req->server];
	size_t			 len = strlen(req->why);

	log_warnx("auth radius %016" PRIx64 " server=%s failed: %s",
	    req->id, s->name, why);
	snprintf(req->why + len, sizeof(req->why) - len, "%s%s: %s",
	    len > 0 ? "; " : "", s->name, why);
	radius_req_release(req);
	req->server++;
	radius_req_start_server(req);
}

static void
radius_req_timeout(void *arg)
{
	struct radius_req	*req = arg;
	char			 why[192];

	if (req->tries < req->ar->retries) {
		radius_req_send(req);
		return;
	}
	/*
	 * FreeRADIUS silently drops a request whose Message-Authenticator
	 * fails, so a wrong secret on either side looks like a dead server.
	 */
	snprintf(why, sizeof(why), "no valid answer to %u %s of %u ms (%s)",
	    req->tries, req->tries == 1 ? "try" : "tries", req->ar->timeout,
	    req->bad_auth ? "answers failed the authenticator check: "
	    "bad shared secret?" : "server down, or it drops us for a "
	    "wrong shared secret");
	radius_req_fail_server(req, why);
}

/* ICMP port unreachable: nobody listens there, fail over at once. */
static void
radius_server_refused(struct radius_server *s, int err)
{
	char	 why[128];
	int	 i;

	snprintf(why, sizeof(why), "%s", strerror(err));
	for (i = 0; i < RADIUS_IDS; i++)
		if (s->inflight[i] != NULL)
			radius_req_fail_server(s->inflight[i], why);
}

static void
radius_server_answer(struct radius_server *s, const uint8_t *pkt,
    size_t len)
{
	struct auth_radius	*ar = s->ar;
	struct radius_req	*req;
	enum radius_verdict	 v;
	int			 code = 0;

	if (len < 2 || (req = s->inflight[pkt[1]]) == NULL) {
		log_debug("auth radius server=%s: stray packet of %zu bytes",
		    s->name, len);
		return;
	}
	v = radius_check_response(pkt, len, (uint8_t)req->radid,
	    req->reqauth, ar->secret, ar->secretlen, &code);
	if (v == RADIUS_BAD_AUTH) {
		/* Keep waiting: a forged packet must not end the request. */
		log_warnx("auth radius %016" PRIx64 " server=%s: %s, "
		    "bad shared secret?", req->id, s->name,
		    radius_verdict_str(v));
		req->bad_auth = true;
		return;
	}
	if (v != RADIUS_OK) {
		log_warnx("auth radius %016" PRIx64 " server=%s: ignoring %s",
		    req->id, s->name, radius_verdict_str(v));
		return;
	}
	log_info("auth radius %016" PRIx64 " user=%s server=%s %s",
	    req->id, req->login, s->name,
	    code == RADIUS_ACCESS_ACCEPT ? "accept" :
	    code == RADIUS_ACCESS_REJECT ? "reject" : "unexpected code");
	radius_req_finish(req, code == RADIUS_ACCESS_ACCEPT ? AUTH_OK :
	    AUTH_FAIL);
}

static void
radius_server_readable(int fd, int events, void *arg)
{
	struct radius_server	*s = arg;
	uint8_t			 pkt[RADIUS_MAX_PACKET];
	ssize_t			 n;
	int			 i;

	(void)events;
	/* Bounded: the loop must get back to other sessions. */
	for (i = 0; i < 64; i++) {
		if ((n = recv(fd, pkt, sizeof(pkt), 0)) == -1) {
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH)
				radius_server_refused(s, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("auth radius server=%s: recv",
				    s->name);
			return;
		}
		radius_server_answer(s, pkt, (size_t)n);
	}
}

static void
auth_radius_verify(void *state, const char *login, const char *pass,
    auth_done_cb done, void *arg, uint64_t id)
{
	struct auth_radius	*ar = state;
	struct radius_req	*req;
	uint8_t			 raw[16];
	char			 ha1[33];
	size_t			 i;

	req = xcalloc(1, sizeof(*req));
	req->ar = ar;
	req->id = id;
	req->done = done;
	req->arg = arg;
	req->radid = -1;
	req->login = xstrdup(login);
	req->timer = ev_timer_new(ar->ev, radius_req_timeout, req);
	TAILQ_INSERT_TAIL(&ar->reqs, req, entry);
	/* A fresh nonce per attempt: a captured response is not reusable. */
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		fatalx("%s: RAND_bytes failed", __func__);
	for (i = 0; i < sizeof(raw); i++)
		snprintf(req->nonce + 2 * i, 3, "%02x", raw[i]);
	ha1_hex(login, ar->realm, pass, ha1);
	radius_digest_response(ha1, req->nonce, RADIUS_METHOD, ar->uri,
	    req->response);
	explicit_bzero(ha1, sizeof(ha1));
	radius_req_start_server(req);
}

static struct radius_req *
radius_req_find(struct auth_radius *ar, uint64_t id)
{
	struct radius_req	*req;

	/* Linear: only logins in progress are here, a handful at most. */
	TAILQ_FOREACH(req, &ar->reqs, entry)
		if (req->id == id && req->done != NULL)
			return req;
	return NULL;
}

static void
auth_radius_cancel(void *state, uint64_t id)
{
	struct radius_req	*req;

	if ((req = radius_req_find(state, id)) == NULL)
		return;
	if (req->finished) {
		/* Already queued for delivery: just silence it. */
		req->done = NULL;
		return;
	}
	radius_req_release(req);
	TAILQ_REMOVE(&req->ar->reqs, req, entry);
	radius_req_free(req);
}

/* SIGHUP: pick up a rotated secret; keep the old one if unreadable. */
static void
auth_radius_reload(void *state)
{
	struct auth_radius	*ar = state;
	const char		*errstr;

	if (radius_read_secret(ar, &errstr) == -1)
		log_warnx("auth radius: keeping old secret: %s", errstr);
}

static void
auth_radius_close(void *state)
{
	struct auth_radius	*ar = state;
	struct radius_req	*req;
	size_t			 i;

	if (ar == NULL)
		return;
	while ((req = TAILQ_FIRST(&ar->reqs)) != NULL) {
		TAILQ_REMOVE(&ar->reqs, req, entry);
		if (req->finished)
			req->ar = NULL;	/* the deferred call frees it */
		else
			radius_req_free(req);
	}
	for (i = 0; i < ar->nservers; i++) {
		if (ar->servers[i].io != NULL)
			ev_io_del(ar->servers[i].io);
		if (ar->servers[i].fd != -1)
			close(ar->servers[i].fd);
	}
	free(ar->servers);
	free(ar->secret_file);
	free(ar->realm);
	free(ar->uri);
	explicit_bzero(ar->secret, sizeof(ar->secret));
	free(ar);
}

const struct auth_backend auth_radius = {
	.name = "radius",
	.open = auth_radius_open,
	.verify = auth_radius_verify,
	.cancel = auth_radius_cancel,
	.reload = auth_radius_reload,
	.close = auth_radius_close,
};
