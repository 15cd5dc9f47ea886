/*
 * c2s.h: client-to-server streams (RFC 6120): stream negotiation with
 * STARTTLS (required) or direct TLS (XEP-0368), SASL PLAIN, resource
 * binding, then stanzas handed to the router. Each stream is one state
 * machine driven by parser callbacks; stream errors carry the exact
 * RFC 6120 §4.9.3 condition.
 */
#ifndef XMPPD_C2S_H
#define XMPPD_C2S_H

#include <stdbool.h>

struct server;

/* Take over an accepted socket; direct_tls starts with a handshake. */
void	c2s_accept(struct server *, int fd, const char *peer,
	    bool direct_tls);
/* Close every stream with <system-shutdown/> (SIGTERM). */
void	c2s_shutdown_all(struct server *);
/*
 * Turn hook after the store commit: send the XEP-0198 acks clients asked
 * for, only if committed (acked means durable).
 */
void	c2s_sm_flush_acks(struct server *, bool committed);
/* Free the XEP-0198 resumption tables at exit. */
void	c2s_sm_cleanup(struct server *);

#endif
