/*
 * conn.c: a non-blocking byte stream over a socket, optionally TLS.
 *
 * Memory: reads go through one static 16 KiB buffer and straight up to the
 * owner, so a connection has no read buffer; the write queue exists only
 * while output is pending. With SSL_MODE_RELEASE_BUFFERS an idle TLS
 * connection holds only OpenSSL's session state.
 *
 * Lifetime: every entry point (owner call, fd event, timer, deferred call)
 * holds c->busy while it runs and only frees the conn on the way out, so
 * a callback may close, abort, write or starttls this very conn. Failures
 * are reported to the owner through a deferred call, never from inside an
 * owner's own conn_write().
 */
#include "conn.h"

#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define CONN_RBUF		16384
#define CONN_WCHUNK		65536	/* max bytes per write()/SSL_write() */
#define CONN_READS_PER_EVENT	16	/* fairness between connections */
#define CONN_CLOSE_MS		10000	/* conn_close() flush limit */

enum conn_mode {
	CONN_PLAIN,
	CONN_TLS_FLUSH,		/* starttls asked: plaintext still queued */
	CONN_TLS_HANDSHAKE,
	CONN_TLS,
};

struct conn {
	struct ev		*ev;
	int			 fd;
	struct ev_io		*io;
	int			 io_events;
	SSL			*ssl;
	enum conn_mode		 mode;
	const struct conn_cb	*cb;
	void			*arg;
	char			*peer;
	char			*peer_addr;

	char			*wbuf;	/* queued bytes are wbuf[woff, wlen) */
	size_t			 woff, wlen, wcap;
	size_t			 plain_left;	/* queued bytes to send in clear */

	bool			 paused;
	bool			 hs_want_write;	/* handshake blocked on POLLOUT */
	bool			 read_wants_write;
	bool			 write_wants_read;
	bool			 drained;	/* queue emptied, owner not told */

	bool			 owner_gone;	/* closed/aborted or told */
	bool			 closing;	/* conn_close(): flushing */
	bool			 dead;		/* no more I/O */
	int			 busy;		/* entry points on the stack */
	int			 ndefer;	/* our deferred calls queued */
	struct ev_timer		*close_timer;
	char			 why[160];
};

/* Shared by all connections: the owner consumes it within the callback. */
static char	conn_rbuf[CONN_RBUF];

static void	conn_update_events(struct conn *);
static void	conn_fail(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
conn_destroy(struct conn *c)
{
	ev_timer_free(c->close_timer);
	ev_io_del(c->io);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		close(c->fd);
	free(c->wbuf);
	free(c->peer);
	free(c->peer_addr);
	free(c);
}

/* The single exit of every entry point. */
static void
conn_release(struct conn *c)
{
	if (--c->busy > 0)
		return;
	if (c->owner_gone && c->dead && c->ndefer == 0) {
		conn_destroy(c);
		return;
	}
	conn_update_events(c);
}

/* Stop all I/O and give the socket back now; the struct may linger. */
static void
conn_shut(struct conn *c)
{
	c->dead = true;
	ev_io_del(c->io);	/* before close(): the fd number is reused */
	c->io = NULL;
	c->io_events = 0;
	ev_timer_free(c->close_timer);
	c->close_timer = NULL;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->wbuf);
	c->wbuf = NULL;
	c->woff = c->wlen = c->wcap = c->plain_left = 0;
}

static void
conn_deferred_closed(void *arg)
{
	struct conn	*c = arg;

	c->busy++;
	c->ndefer--;
	if (!c->owner_gone) {
		c->owner_gone = true;
		c->cb->closed(c->arg, c->why);
	}
	conn_release(c);
}

/* I/O failed or the peer left: shut now, tell the owner soon. */
static void
conn_fail(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	if (c->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	if (c->closing)
		log_debug("conn %s: while closing: %s", c->peer, c->why);
	conn_shut(c);
	if (c->owner_gone)
		return;
	c->ndefer++;
	ev_defer(c->ev, conn_deferred_closed, c);
}

/* Why OpenSSL failed, as "tls: <reason>". */
static void
conn_fail_tls(struct conn *c, int err)
{
	unsigned long	 e = ERR_peek_last_error();
	const char	*reason = NULL;

	if (err == SSL_ERROR_SSL && e != 0)
		reason = ERR_reason_error_string(e);
	else if (err == SSL_ERROR_ZERO_RETURN)
		reason = "peer sent close_notify";
	else if (err == SSL_ERROR_SYSCALL && errno != 0)
		reason = strerror(errno);
	else if (err == SSL_ERROR_SYSCALL)
		reason = "peer closed";
	if (reason == NULL)
		reason = "protocol error";
	ERR_clear_error();
	conn_fail(c, "tls: %s", reason);
}

static void
conn_update_events(struct conn *c)
{
	int	 want = 0;
	bool	 pending = c->wlen > c->woff;

	if (c->dead || c->io == NULL)
		return;
	switch (c->mode) {
	case CONN_PLAIN:
	case CONN_TLS:
		if (!c->paused && !c->closing)
			want |= EV_READ;
		if (c->read_wants_write && !c->paused && !c->closing)
			want |= EV_WRITE;
		if (pending)
			want |= c->write_wants_read ? EV_READ : EV_WRITE;
		break;
	case CONN_TLS_FLUSH:
		want = EV_WRITE;
		break;
	case CONN_TLS_HANDSHAKE:
		want = c->hs_want_write ? EV_WRITE : EV_READ;
		break;
	}
	if (want != c->io_events) {
		c->io_events = want;
		ev_io_set(c->io, want);
	}
}

static void
conn_queue(struct conn *c, const char *buf, size_t len)
{
	size_t	 need;

	if (len == 0)
		return;
	if (c->wlen + len > c->wcap && c->woff > 0) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wlen + len > c->wcap) {
		if (len > SIZE_MAX - c->wlen)
			fatalx("%s: queue overflow", __func__);
		need = c->wcap == 0 ? 4096 : c->wcap;
		while (need < c->wlen + len)
			need = need > SIZE_MAX / 2 ? c->wlen + len : need * 2;
		c->wbuf = xreallocarray(c->wbuf, need, 1);
		c->wcap = need;
	}
	memcpy(c->wbuf + c->wlen, buf, len);
	c->wlen += len;
}

static void
conn_consumed(struct conn *c, size_t n)
{
	c->woff += n;
	if (c->woff < c->wlen)
		return;
	c->drained = true;	/* the owner hears of it (conn_handle_io_drain) */
	/* Drained: an idle connection holds no buffer. */
	free(c->wbuf);
	c->wbuf = NULL;
	c->woff = c->wlen = c->wcap = 0;
}

/*
 * Send up to len bytes, in clear or through TLS as the mode says. Returns
 * the bytes taken, 0 if the socket would block, -1 after conn_fail().
 */
static ssize_t
conn_send(struct conn *c, const char *buf, size_t len, bool clear)
{
	ssize_t	 n;
	int	 r, err;

	if (len > CONN_WCHUNK)
		len = CONN_WCHUNK;
	if (clear) {
		do {
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
		} while (n == -1 && errno == EINTR);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		conn_fail(c, "write: %s", strerror(errno));
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	c->write_wants_read = false;
	if ((r = SSL_write(c->ssl, buf, (int)len)) > 0)
		return r;
	switch ((err = SSL_get_error(c->ssl, r))) {
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_WANT_READ:
		c->write_wants_read = true;
		return 0;
	default:
		conn_fail_tls(c, err);
		return -1;
	}
}

static void conn_start_handshake(struct conn *);
static void conn_finish_close(struct conn *);

/* Write queued bytes until drained or the socket pushes back. */
static void
conn_flush(struct conn *c)
{
	ssize_t	 n;
	size_t	 len;
	bool	 clear;

	while (!c->dead && c->wlen > c->woff) {
		if (c->mode == CONN_TLS_HANDSHAKE)
			return;
		clear = c->mode != CONN_TLS;
		len = c->wlen - c->woff;
		if (c->mode == CONN_TLS_FLUSH) {
			if (c->plain_left == 0)
				break;
			if (len > c->plain_left)
				len = c->plain_left;
		}
		if ((n = conn_send(c, c->wbuf + c->woff, len, clear)) <= 0)
			return;
		if (c->mode == CONN_TLS_FLUSH)
			c->plain_left -= (size_t)n;
		conn_consumed(c, (size_t)n);
	}
	if (c->dead)
		return;
	if (c->mode == CONN_TLS_FLUSH && c->plain_left == 0)
		conn_start_handshake(c);
	else if (c->closing && c->wlen == c->woff)
		conn_finish_close(c);
}

static void
conn_handshake(struct conn *c)
{
	int	 r, err;

	ERR_clear_error();
	errno = 0;
	c->hs_want_write = false;
	if ((r = SSL_do_handshake(c->ssl)) != 1) {
		switch ((err = SSL_get_error(c->ssl, r))) {
		case SSL_ERROR_WANT_READ:
			return;
		case SSL_ERROR_WANT_WRITE:
			c->hs_want_write = true;
			return;
		default:
			conn_fail_tls(c, err);
			return;
		}
	}
	c->mode = CONN_TLS;
	if (c->cb->tls_ready != NULL)
		c->cb->tls_ready(c->arg);
}

static void
conn_start_handshake(struct conn *c)
{
	c->mode = CONN_TLS_HANDSHAKE;
	c->hs_want_write = false;
	/* The client speaks first; wait for its ClientHello. */
}

/* Hand up what the socket or TLS has, until it would block. */
static void
conn_read(struct conn *c)
{
	ssize_t	 n;
	int	 i, err;

	for (i = 0; !c->dead && !c->paused && !c->closing &&
	    (c->mode == CONN_PLAIN || c->mode == CONN_TLS); i++) {
		/* TLS-buffered bytes would get no epoll wake-up: drain. */
		if (i >= CONN_READS_PER_EVENT &&
		    (c->ssl == NULL || !SSL_has_pending(c->ssl)))
			break;
		if (c->mode == CONN_PLAIN) {
			n = read(c->fd, conn_rbuf, sizeof(conn_rbuf));
			if (n == 0) {
				conn_fail(c, "%s", "peer closed");
				return;
			}
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				conn_fail(c, "read: %s", strerror(errno));
				return;
			}
		} else {
			ERR_clear_error();
			errno = 0;
			c->read_wants_write = false;
			n = SSL_read(c->ssl, conn_rbuf, sizeof(conn_rbuf));
			if (n <= 0) {
				err = SSL_get_error(c->ssl, (int)n);
				if (err == SSL_ERROR_WANT_READ)
					return;
				if (err == SSL_ERROR_WANT_WRITE) {
					c->read_wants_write = true;
					return;
				}
				if (err == SSL_ERROR_ZERO_RETURN ||
				    (err == SSL_ERROR_SYSCALL && errno == 0)) {
					conn_fail(c, "%s", "peer closed");
					return;
				}
				conn_fail_tls(c, err);
				return;
			}
		}
		c->cb->read(c->arg, conn_rbuf, (size_t)n);
		/* A short plain read drained the socket; epoll says if not. */
		if (c->mode == CONN_PLAIN && (size_t)n < sizeof(conn_rbuf))
			return;
	}
}

/* One readiness event (or a resume) for this conn; c->busy is held. */
static void
conn_handle_io(struct conn *c, int events)
{
	bool	 tls_pending;

	if (c->dead)
		return;
	if (c->mode == CONN_TLS_HANDSHAKE) {
		conn_handshake(c);
		if (c->mode != CONN_TLS)
			return;
		/* Bytes may have come with the last handshake flight. */
		events |= EV_READ;
	}
	if (c->wlen > c->woff && ((events & EV_WRITE) ||
	    (c->write_wants_read && (events & EV_READ))))
		conn_flush(c);
	if (c->mode == CONN_TLS_HANDSHAKE && !c->dead) {
		conn_handshake(c);	/* starttls: <proceed/> just left */
		if (c->mode != CONN_TLS)
			return;
		events |= EV_READ;
	}
	tls_pending = c->ssl != NULL && c->mode == CONN_TLS &&
	    SSL_has_pending(c->ssl);
	if ((events & EV_READ) || tls_pending ||
	    (c->read_wants_write && (events & EV_WRITE)))
		conn_read(c);
	/* A reply written by the read callback goes out in this wake-up. */
	if (!c->dead && c->wlen > c->woff && !c->write_wants_read &&
	    c->mode == CONN_TLS)
		conn_flush(c);
}

/* conn_handle_io, then the drained callback if it emptied the queue. */
static void
conn_handle_io_drain(struct conn *c, int events)
{
	conn_handle_io(c, events);
	/* The owner may have paused reading until its output drains. */
	if (c->drained && c->wlen == c->woff && !c->dead && !c->owner_gone &&
	    c->cb->drained != NULL) {
		c->drained = false;
		c->cb->drained(c->arg);
	}
}

static void
conn_on_io(int fd, int events, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	c->busy++;
	conn_handle_io_drain(c, events);
	conn_release(c);
}

struct conn *
conn_new(struct ev *ev, int fd, const char *peer, const struct conn_cb *cb,
    void *arg)
{
	struct conn	*c;
	const char	*end;

	c = xcalloc(1, sizeof(*c));
	c->ev = ev;
	c->fd = fd;
	c->cb = cb;
	c->arg = arg;
	c->mode = CONN_PLAIN;
	c->peer = xstrdup(peer != NULL ? peer : "?");
	/* "[::1]:5" -> "::1", "1.2.3.4:5" -> "1.2.3.4" */
	if (c->peer[0] == '[' && (end = strchr(c->peer, ']')) != NULL)
		c->peer_addr = xstrndup(c->peer + 1, (size_t)(end - c->peer - 1));
	else if ((end = strrchr(c->peer, ':')) != NULL)
		c->peer_addr = xstrndup(c->peer, (size_t)(end - c->peer));
	else
		c->peer_addr = xstrdup(c->peer);
	c->io_events = EV_READ;
	c->io = ev_io_add(ev, fd, EV_READ, conn_on_io, c);
	return c;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

const char *
conn_peer_addr(const struct conn *c)
{
	return c->peer_addr;
}

bool
conn_is_tls(const struct conn *c)
{
	return c->mode == CONN_TLS;
}

size_t
conn_pending(const struct conn *c)
{
	return c->wlen - c->woff;
}

int
conn_starttls(struct conn *c, SSL_CTX *ctx)
{
	int	 ret = -1;

	c->busy++;
	if (c->dead || c->owner_gone || c->ssl != NULL || ctx == NULL)
		goto done;
	ERR_clear_error();
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		log_warnx("conn %s: SSL_new: %s", c->peer,
		    ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
		goto done;
	}
	SSL_set_accept_state(c->ssl);
	/* The <proceed/> (anything queued so far) goes out in clear first. */
	c->plain_left = c->wlen - c->woff;
	if (c->plain_left > 0) {
		c->mode = CONN_TLS_FLUSH;
		conn_flush(c);
	} else
		conn_start_handshake(c);
	ret = 0;
done:
	conn_release(c);
	return ret;
}

void
conn_write(struct conn *c, const char *buf, size_t len)
{
	ssize_t	 n;

	if (len == 0 || c->dead || c->owner_gone)
		return;
	c->busy++;
	/* Nothing queued: try the socket first, queue only the rest. */
	if (c->wlen == c->woff && !c->write_wants_read &&
	    (c->mode == CONN_PLAIN || c->mode == CONN_TLS)) {
		while (len > 0 && (n = conn_send(c, buf, len,
		    c->mode == CONN_PLAIN)) > 0) {
			buf += n;
			len -= (size_t)n;
		}
	}
	if (!c->dead)
		conn_queue(c, buf, len);
	conn_release(c);
}

static void
conn_deferred_read(void *arg)
{
	struct conn	*c = arg;

	c->busy++;
	c->ndefer--;
	if (!c->owner_gone && !c->paused)
		conn_handle_io_drain(c, EV_READ);
	conn_release(c);
}

void
conn_pause_read(struct conn *c, bool pause)
{
	if (c->dead || c->paused == pause)
		return;
	c->busy++;
	c->paused = pause;
	/*
	 * Resuming: bytes OpenSSL already holds raise no epoll event, so
	 * deliver them from a deferred call (not from inside the owner).
	 */
	if (!pause && c->mode == CONN_TLS && SSL_has_pending(c->ssl)) {
		c->ndefer++;
		ev_defer(c->ev, conn_deferred_read, c);
	}
	conn_release(c);
}

static void
conn_finish_close(struct conn *c)
{
	if (c->mode == CONN_TLS) {
		/* Best effort close_notify; the peer may be gone. */
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	conn_shut(c);
}

static void
conn_on_close_timeout(void *arg)
{
	struct conn	*c = arg;

	c->busy++;
	log_debug("conn %s: close timed out with %zu bytes queued", c->peer,
	    conn_pending(c));
	conn_shut(c);
	conn_release(c);
}

void
conn_close(struct conn *c)
{
	if (c->owner_gone)
		return;
	c->busy++;
	c->owner_gone = true;
	c->closing = true;
	if (c->dead)
		goto done;
	if (c->mode == CONN_TLS_FLUSH) {
		/* Closed before the handshake: only the clear part goes. */
		c->wlen = c->woff + c->plain_left;
		c->plain_left = 0;
		c->mode = CONN_PLAIN;
	}
	if (c->mode == CONN_TLS_HANDSHAKE || c->wlen == c->woff) {
		conn_finish_close(c);
		goto done;
	}
	c->close_timer = ev_timer_new(c->ev, conn_on_close_timeout, c);
	ev_timer_set(c->close_timer, CONN_CLOSE_MS);
	if (!c->write_wants_read)
		conn_flush(c);
done:
	conn_release(c);
}

void
conn_abort(struct conn *c)
{
	if (c->owner_gone)
		return;
	c->busy++;
	c->owner_gone = true;
	conn_shut(c);
	conn_release(c);
}
