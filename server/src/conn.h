/*
 * conn.h: a buffered, non-blocking byte stream over a socket, optionally
 * wrapped in TLS. Reads are handed up through a callback; writes are queued
 * and flushed when the socket is writable. The owner watches conn_pending()
 * for backpressure. OpenSSL's SSL objects live only here.
 *
 * Lifetime: the owner calls conn_close() (flush, then close) or
 * conn_abort() (close now) exactly once and never touches the conn again.
 * If the peer closes or an error happens first, cb->closed runs once
 * and the conn frees itself when that callback returns; the owner must
 * not call conn_close() afterwards.
 */
#ifndef XMPPD_CONN_H
#define XMPPD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

struct ev;
struct conn;

struct conn_cb {
	/* Bytes arrived (plaintext after TLS). */
	void	(*read)(void *arg, const char *buf, size_t len);
	/* Peer closed, I/O error, TLS failure; why is a short reason. */
	void	(*closed)(void *arg, const char *why);
	/* TLS handshake finished (after conn_starttls or direct TLS). */
	void	(*tls_ready)(void *arg);
	/*
	 * Optional: the write queue just emptied (the peer read what was
	 * queued); an owner that paused reading on its backlog resumes here.
	 */
	void	(*drained)(void *arg);
};

struct conn	*conn_new(struct ev *, int fd, const char *peer,
		    const struct conn_cb *, void *arg);
/* "1.2.3.4:5" / "[::1]:5" as given to conn_new. */
const char	*conn_peer(const struct conn *);
/* Peer address without port: the key for per-address rate limits. */
const char	*conn_peer_addr(const struct conn *);
/*
 * Start a server-side TLS handshake. Bytes already queued for writing
 * (the <proceed/>) go out in plaintext first; any unread plaintext
 * received before the handshake is discarded (RFC 6120 §5.4.3.3).
 */
int		 conn_starttls(struct conn *, SSL_CTX *);
bool		 conn_is_tls(const struct conn *);
/* Queue bytes; they are sent as the socket allows. */
void		 conn_write(struct conn *, const char *, size_t);
/* Bytes queued but not yet written to the kernel. */
size_t		 conn_pending(const struct conn *);
/* Stop/resume reading (backpressure from a slow receiver). */
void		 conn_pause_read(struct conn *, bool);
/* Flush what is queued (bounded by a timeout), then close and free. */
void		 conn_close(struct conn *);
/* Close and free now, dropping queued bytes. */
void		 conn_abort(struct conn *);

#endif
