/*
 * c2s.h: client-to-server streams (RFC 6120): stream negotiation with
 * STARTTLS (required) or direct TLS (XEP-0368), SASL PLAIN, resource
 * binding, then stanzas handed to dispatch.c. Each stream is one state
 * machine driven by parser callbacks; stream errors carry the exact
 * RFC 6120 §4.9.3 condition.
 */
#ifndef XMPPD_C2S_H
#define XMPPD_C2S_H

#include <stdbool.h>

struct server;

/* Make the streams' shared state (XEP-0198's tables); c2s_fini frees it. */
void	c2s_init(struct server *);
void	c2s_fini(struct server *);
/* Take over an accepted socket; direct_tls starts with a handshake. */
void	c2s_accept(struct server *, int fd, const char *peer,
	    bool direct_tls);
/*
 * SIGTERM, after the last commit: every stream-managed client is told its
 * final committed h, then every stream gets <system-shutdown/>.
 */
void	c2s_shutdown_all(struct server *);
/* The same without the final h (the database is gone). */
void	c2s_abort_all(struct server *);
/*
 * Turn hook, right after the store commit. committed: the counts of the
 * streams that handled stanzas this turn become their committed h. Not
 * committed: those streams lose their link (a resumable session
 * hibernates, its h back at the committed count, so the client resends
 * what was rolled back); nothing they sent this turn is acknowledged.
 */
void	c2s_sm_committed(struct server *, bool committed);
/*
 * After the turn's deliveries: the <resumed/> and <a/> answers owed,
 * each with the committed h only (acked means durable).
 */
void	c2s_sm_flush_acks(struct server *);

#endif
