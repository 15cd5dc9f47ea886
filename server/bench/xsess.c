/*
 * xsess.c: one benchmark client connection, driven like a real client:
 * TCP from 127.0.0.x (many source addresses, so 100,000 connections do
 * not run out of ports), STARTTLS or direct TLS, SASL PLAIN, resource
 * binding, the RFC 3921 session request when a server insists on it,
 * XEP-0198 <enable resume='true'/> (or <resume/>), initial presence.
 * Server certificates are not verified: loopback benchmark only.
 * It parses with expat (non-namespace mode: the servers all use the
 * usual prefixes) and keeps only what the workloads look at.
 */
#include "xbench.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "expat_nodefer.h"
#include "log.h"
#include "xmalloc.h"

#define NS_SM	"urn:xmpp:sm:3"

static const struct xs_opts	*xs_opt;
static SSL_CTX			*xs_ctx;
static int			 xs_ep = -1;
static bool			 xs_trace;	/* XBENCH_TRACE=1: dump I/O */

static void	xs_fail(struct xs *, const char *);
static void	xs_flush(struct xs *);

double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Account names are fixed-width so every server sees the same strings. */
void
xs_username(unsigned user, char *buf, size_t len)
{
	snprintf(buf, len, "u%05u", user);
}

/*
 * Resources carry the bench's pid: a session left hibernating by an
 * earlier run must not collide with (or take messages for) this one.
 */
const char *
xs_resource(const struct xs *s)
{
	static char	 buf[32];

	snprintf(buf, sizeof(buf), "r%u.%d", s->idx, (int)getpid());
	return buf;
}

/* Set up the epoll instance and the client TLS context once per run. */
void
xs_init(const struct xs_opts *o)
{
	xs_opt = o;
	xs_trace = getenv("XBENCH_TRACE") != NULL;
	if ((xs_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	if ((xs_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("SSL_CTX_new failed");
	SSL_CTX_set_verify(xs_ctx, SSL_VERIFY_NONE, NULL);
	/* Idle sessions should cost the bench little, as on the server. */
	SSL_CTX_set_mode(xs_ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Every login pays a full handshake, as a fresh client would. */
	SSL_CTX_set_session_cache_mode(xs_ctx, SSL_SESS_CACHE_OFF);
}

static void
xs_watch(struct xs *s, bool add)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (s->pollout ? EPOLLOUT : 0);
	ev.data.ptr = s;
	if (epoll_ctl(xs_ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s->fd,
	    &ev) == -1)
		fatal("epoll_ctl");
}

static void
xs_want_out(struct xs *s, bool on)
{
	if (s->pollout == on || s->fd == -1)
		return;
	s->pollout = on;
	xs_watch(s, false);
}

static void
xs_on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct xs	*s = arg;
	struct xs_elem	*e = &s->el;
	size_t		 i;

	s->depth++;
	if (s->restart || s->state == XS_DEAD)
		return;
	if (s->depth == 2) {
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", name);
		for (i = 0; attrs[i] != NULL; i += 2) {
			if (strcmp(attrs[i], "id") == 0)
				snprintf(e->id, sizeof(e->id), "%s",
				    attrs[i + 1]);
			else if (strcmp(attrs[i], "type") == 0)
				snprintf(e->type, sizeof(e->type), "%s",
				    attrs[i + 1]);
			else if (strcmp(attrs[i], "h") == 0)
				e->h = (uint32_t)strtoul(attrs[i + 1], NULL,
				    10);
		}
	} else if (s->depth == 3) {
		if (e->child[0] == '\0')
			snprintf(e->child, sizeof(e->child), "%s", name);
		e->feat_starttls |= strcmp(name, "starttls") == 0;
		e->feat_mech |= strcmp(name, "mechanisms") == 0;
		e->feat_bind |= strcmp(name, "bind") == 0;
		e->feat_sm |= strcmp(name, "sm") == 0;
		e->in_session = strcmp(name, "session") == 0;
		e->feat_session |= e->in_session;
		e->has_body |= strcmp(name, "body") == 0;
		e->mam_result |= strcmp(name, "result") == 0;
	} else if (s->depth == 4 && e->in_session &&
	    strcmp(name, "optional") == 0)
		e->session_optional = true;
}

static void
xs_send_header(struct xs *s)
{
	xs_printf(s, "<?xml version='1.0'?><stream:stream to='%s' "
	    "xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' "
	    "version='1.0'>", xs_opt->domain);
}

/* SASL PLAIN (RFC 4616): authzid empty, authcid, password. */
static void
xs_send_auth(struct xs *s)
{
	char		 user[16], raw[256], b64[352];
	int		 n;

	xs_username(s->user, user, sizeof(user));
	n = snprintf(raw, sizeof(raw), "%c%s%c%s", 0, user, 0,
	    xs_opt->password);
	if (n < 0 || (size_t)n >= sizeof(raw))
		fatalx("password too long");
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)raw, n);
	xs_printf(s, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='PLAIN'>%s</auth>", b64);
	s->state = XS_AUTH;
}

static void
xs_after_bind(struct xs *s)
{
	if (s->session_needed) {
		xs_printf(s, "<iq type='set' id='sess'><session "
		    "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
		s->state = XS_SESSION;
		return;
	}
	xs_printf(s, "<enable xmlns='" NS_SM "' resume='true'/>");
	s->state = XS_ENABLE;
}

/* Features after SASL: resume the old stream or bind a new resource. */
static void
xs_on_authed_features(struct xs *s)
{
	if (s->want_resume) {
		xs_printf(s, "<resume xmlns='" NS_SM "' previd='%s' "
		    "h='%u'/>", s->smid, s->h_in);
		s->state = XS_RESUME;
		return;
	}
	s->session_needed = s->el.feat_session && !s->el.session_optional;
	xs_printf(s, "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:"
	    "xml:ns:xmpp-bind'><resource>%s</resource></bind></iq>",
	    xs_resource(s));
	s->state = XS_BIND;
}

static void
xs_ready(struct xs *s)
{
	s->state = XS_READY;
	s->t_ready = now_s();
	wl_ready(s);
}

/* Stream management bookkeeping shared by every state after enable. */
static bool
xs_on_sm(struct xs *s)
{
	const char	*n = s->el.name;

	if (strcmp(n, "r") == 0) {
		xs_printf(s, "<a xmlns='" NS_SM "' h='%u'/>", s->h_in);
		return true;
	}
	if (strcmp(n, "a") == 0) {
		s->acked = s->el.h;
		wl_acked(s);
		return true;
	}
	return false;
}

static bool
xs_is(const struct xs *s, const char *name)
{
	return strcmp(s->el.name, name) == 0;
}

/* A setup step got what it waited for, or the session fails with why. */
static bool
xs_expect(struct xs *s, bool ok, const char *why)
{
	if (!ok)
		xs_fail(s, why);
	return ok;
}

static void
xs_on_setup(struct xs *s)
{
	const struct xs_elem	*e = &s->el;

	switch (s->state) {
	case XS_FEAT_PLAIN:
		if (!xs_expect(s, e->feat_starttls, "no starttls offered"))
			break;
		xs_printf(s, "<starttls xmlns='urn:ietf:params:xml:ns:"
		    "xmpp-tls'/>");
		s->state = XS_PROCEED;
		break;
	case XS_PROCEED:
		if (!xs_expect(s, xs_is(s, "proceed"), "starttls refused"))
			break;
		s->start_tls = true;
		s->restart = true;
		break;
	case XS_FEAT_TLS:
		if (xs_expect(s, e->feat_mech, "no sasl mechanisms"))
			xs_send_auth(s);
		break;
	case XS_AUTH:
		if (!xs_expect(s, xs_is(s, "success"), "sasl failure"))
			break;
		s->restart = true;
		s->state = XS_FEAT_AUTHED;
		break;
	case XS_FEAT_AUTHED:
		xs_on_authed_features(s);
		break;
	case XS_BIND:
	case XS_SESSION:
		if (!xs_expect(s, strcmp(e->type, "result") == 0,
		    s->state == XS_BIND ? "bind failed" : "session failed"))
			break;
		if (s->state == XS_SESSION)
			s->session_needed = false;
		xs_after_bind(s);
		break;
	case XS_ENABLE:
		if (!xs_expect(s, xs_is(s, "enabled"), "sm enable failed"))
			break;
		snprintf(s->smid, sizeof(s->smid), "%s", e->id);
		s->sm_on = true;
		s->h_in = s->h_out = s->acked = 0;
		xs_stanza(s, "<presence/>");
		xs_ready(s);
		break;
	case XS_RESUME:
		if (!xs_expect(s, xs_is(s, "resumed"), "sm resume failed"))
			break;
		s->acked = e->h;
		s->sm_on = true;
		xs_ready(s);
		break;
	default:
		fatalx("%s: bad state %d", __func__, s->state);
	}
}

static bool
xs_is_stanza(const char *name)
{
	return strcmp(name, "message") == 0 ||
	    strcmp(name, "presence") == 0 || strcmp(name, "iq") == 0;
}

static void
xs_on_element(struct xs *s)
{
	if (strcmp(s->el.name, "stream:error") == 0) {
		xs_fail(s, "stream error");
		return;
	}
	if (s->sm_on && xs_on_sm(s))
		return;
	if (s->state == XS_READY) {
		if (xs_is_stanza(s->el.name)) {
			if (s->sm_on)
				s->h_in++;
			wl_stanza(s);
		}
		return;
	}
	/* Stanzas before <enabled/> (presence probes...) are not counted. */
	if (xs_is_stanza(s->el.name) && s->state != XS_BIND &&
	    s->state != XS_SESSION)
		return;
	xs_on_setup(s);
}

static void
xs_on_end(void *arg, const XML_Char *name)
{
	struct xs	*s = arg;

	(void)name;
	if (s->restart) {
		s->depth--;
		return;
	}
	if (s->depth == 2 && s->state != XS_DEAD)
		xs_on_element(s);
	if (s->depth == 1 && s->state != XS_DEAD)
		xs_fail(s, "stream closed by server");
	s->depth--;
	if (s->restart)
		XML_StopParser(s->xp, XML_FALSE);
}

static void
xs_parser_reset(struct xs *s)
{
	if (s->xp == NULL) {
		if ((s->xp = XML_ParserCreate(NULL)) == NULL)
			fatalx("XML_ParserCreate");
	} else
		XML_ParserReset(s->xp, NULL);
	XML_SetUserData(s->xp, s);
	XML_SetElementHandler(s->xp, xs_on_start, xs_on_end);
	expat_no_deferral(s->xp);
	s->depth = 0;
	s->restart = false;
}

static void
xs_tls_start(struct xs *s)
{
	if ((s->ssl = SSL_new(xs_ctx)) == NULL ||
	    SSL_set_fd(s->ssl, s->fd) != 1 ||
	    SSL_set_tlsext_host_name(s->ssl, xs_opt->domain) != 1)
		fatalx("SSL setup failed");
	SSL_set_connect_state(s->ssl);
	s->state = XS_TLS;
}

/* Drive the handshake; WANT_* map to epoll interest, never a wait. */
static void
xs_tls_step(struct xs *s)
{
	int	 rc = SSL_do_handshake(s->ssl);

	if (rc == 1) {
		xs_want_out(s, false);
		xs_parser_reset(s);
		s->state = XS_FEAT_TLS;
		xs_send_header(s);
		return;
	}
	switch (SSL_get_error(s->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		xs_want_out(s, false);
		break;
	case SSL_ERROR_WANT_WRITE:
		xs_want_out(s, true);
		break;
	default:
		ERR_clear_error();
		xs_fail(s, "tls handshake failed");
	}
}

/* Feed what arrived; restart the parser after <proceed/>/<success/>. */
static void
xs_feed(struct xs *s, const char *buf, size_t n)
{
	if (xs_trace)
		fprintf(stderr, "slot %u <<< %.*s\n", s->idx, (int)n, buf);
	/* fd == -1: a workload closed the session from a handler. */
	if (XML_Parse(s->xp, buf, (int)n, 0) == XML_STATUS_ERROR &&
	    !s->restart && s->state != XS_DEAD && s->fd != -1) {
		xs_fail(s, "bad xml from server");
		return;
	}
	if (s->state == XS_DEAD || s->fd == -1 || !s->restart)
		return;
	xs_parser_reset(s);
	if (s->start_tls) {
		s->start_tls = false;
		xs_tls_start(s);
		xs_tls_step(s);
	} else
		xs_send_header(s);
}

static ssize_t
xs_read_some(struct xs *s, char *buf, size_t len)
{
	ssize_t	 n;
	int	 rc;

	if (s->ssl == NULL) {
		n = read(s->fd, buf, len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return -2;
		return n;
	}
	if ((rc = SSL_read(s->ssl, buf, (int)len)) > 0)
		return rc;
	switch (SSL_get_error(s->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return -2;
	case SSL_ERROR_WANT_WRITE:
		xs_want_out(s, true);
		return -2;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

static void
xs_on_readable(struct xs *s)
{
	static char	 buf[16384];
	ssize_t		 n;
	int		 rounds;

	for (rounds = 0; rounds < 8 && s->fd != -1; rounds++) {
		if (s->state == XS_TLS) {
			xs_tls_step(s);
			return;
		}
		n = xs_read_some(s, buf, sizeof(buf));
		if (n == -2)
			return;
		if (n <= 0) {
			xs_fail(s, n == 0 ? "eof" : "read error");
			return;
		}
		xs_feed(s, buf, (size_t)n);
	}
}

static void
xs_on_connected(struct xs *s)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		xs_fail(s, "connect failed");
		return;
	}
	xs_want_out(s, false);
	if (xs_opt->direct_tls) {
		xs_tls_start(s);
		xs_tls_step(s);
		return;
	}
	s->state = XS_FEAT_PLAIN;
	xs_send_header(s);
}

static void
xs_on_event(struct xs *s, uint32_t ev)
{
	if (s->state == XS_CONNECT) {
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			xs_on_connected(s);
		return;
	}
	if (s->state == XS_TLS) {
		xs_tls_step(s);
		return;
	}
	if ((ev & EPOLLOUT) && s->fd != -1)
		xs_flush(s);
	if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && s->fd != -1)
		xs_on_readable(s);
}

/* Wait for events at most ms and dispatch them. */
void
xs_poll(int ms)
{
	struct epoll_event	 evs[512];
	int			 i, n;

	n = epoll_wait(xs_ep, evs, 512, ms);
	if (n == -1 && errno != EINTR)
		fatal("epoll_wait");
	for (i = 0; i < n; i++)
		xs_on_event(evs[i].data.ptr, evs[i].events);
}

static int
xs_socket(unsigned idx)
{
	struct sockaddr_in	 src, dst;
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The port is picked at connect() time from the 4-tuple. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000002u + idx % xs_opt->nsrc);
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)xs_opt->port);
	if (inet_pton(AF_INET, xs_opt->host, &dst.sin_addr) != 1)
		fatalx("bad host %s", xs_opt->host);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Start (or restart, for a resume) the connection of slot s. */
void
xs_connect(struct xs *s)
{
	s->err = NULL;
	s->olen = 0;
	s->sm_on = false;
	s->t_start = now_s();
	xs_parser_reset(s);
	if ((s->fd = xs_socket(s->idx)) == -1) {
		s->state = XS_DEAD;
		s->err = "socket/connect failed";
		wl_failed(s);
		return;
	}
	s->state = XS_CONNECT;
	s->pollout = true;
	xs_watch(s, true);
}

static void
xs_flush(struct xs *s)
{
	ssize_t	 n;
	int	 rc;

	while (s->olen > 0 && s->fd != -1 && s->state != XS_CONNECT &&
	    s->state != XS_TLS) {
		if (s->ssl != NULL) {
			rc = SSL_write(s->ssl, s->obuf, (int)s->olen);
			if (rc <= 0) {
				rc = SSL_get_error(s->ssl, rc);
				if (rc == SSL_ERROR_WANT_WRITE ||
				    rc == SSL_ERROR_WANT_READ)
					break;
				ERR_clear_error();
				xs_fail(s, "tls write failed");
				return;
			}
			n = rc;
		} else if ((n = write(s->fd, s->obuf, s->olen)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			xs_fail(s, "write failed");
			return;
		}
		memmove(s->obuf, s->obuf + n, s->olen - (size_t)n);
		s->olen -= (size_t)n;
	}
	xs_want_out(s, s->olen > 0);
}

static void
xs_vappend(struct xs *s, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		fatalx("%s: vsnprintf", __func__);
	if (s->olen + (size_t)n + 1 > s->ocap) {
		s->ocap = s->olen + (size_t)n + 1 + 256;
		s->obuf = xreallocarray(s->obuf, 1, s->ocap);
	}
	vsnprintf(s->obuf + s->olen, (size_t)n + 1, fmt, ap);
	if (xs_trace)
		fprintf(stderr, "slot %u >>> %s\n", s->idx, s->obuf + s->olen);
	s->olen += (size_t)n;
}

static void
xs_vqueue(struct xs *s, bool counted, const char *fmt, va_list ap)
{
	if (s->fd == -1)
		return;
	xs_vappend(s, fmt, ap);
	if (counted && s->sm_on)
		s->h_out++;
	xs_flush(s);
}

/* Queue raw output (nonzas, stream headers) and try to send it. */
void
xs_printf(struct xs *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	xs_vqueue(s, false, fmt, ap);
	va_end(ap);
}

/* Queue one stanza; it counts towards the XEP-0198 h the server acks. */
void
xs_stanza(struct xs *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	xs_vqueue(s, true, fmt, ap);
	va_end(ap);
}

/*
 * Drop the connection. graceful: </stream:stream> and close_notify, as
 * a client logging out; otherwise the socket just goes (a dead link, so
 * the server hibernates a resumable session).
 */
void
xs_close(struct xs *s, bool graceful)
{
	if (s->fd == -1)
		return;
	if (graceful && s->state != XS_CONNECT && s->state != XS_TLS) {
		xs_printf(s, "</stream:stream>");
		if (s->ssl != NULL && SSL_shutdown(s->ssl) < 0)
			ERR_clear_error();
	}
	epoll_ctl(xs_ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	SSL_free(s->ssl);
	s->ssl = NULL;
	s->pollout = false;
	s->olen = 0;
	if (s->xp != NULL)
		XML_StopParser(s->xp, XML_FALSE);
	if (s->state != XS_DEAD)
		s->state = XS_IDLE;
}

static void
xs_fail(struct xs *s, const char *why)
{
	enum xs_state	 was = s->state;

	xs_close(s, false);
	s->state = XS_DEAD;
	s->err = why;
	if (was != XS_DEAD)
		wl_failed(s);
}

/* Release everything the slot holds (the connection must be closed). */
void
xs_free(struct xs *s)
{
	xs_close(s, false);
	if (s->xp != NULL)
		XML_ParserFree(s->xp);
	s->xp = NULL;
	free(s->obuf);
	s->obuf = NULL;
	s->ocap = 0;
}
