/*
 * presence.h: presence and subscriptions (RFC 6121 §3, §4): broadcast,
 * probes answered locally, directed presence, and the subscription
 * handshake between two local users with roster state kept in the store.
 */
#ifndef XMPPD_PRESENCE_H
#define XMPPD_PRESENCE_H

struct server;
struct session;
struct stanza;

/* A presence stanza from a bound client (from already stamped). */
void	presence_from_client(struct server *, struct session *,
	    struct stanza *);
/* Send a subscription stanza of type from the session's user to contact
 * (used by roster removal, RFC 6121 §2.5.2). */
void	presence_subscription(struct server *, struct session *,
	    const char *contact, const char *type);
/*
 * Whether adding contact (a bare JID) to user's roster would pass
 * max-roster-items: 1 if contact is new and the roster is full, 0 if it
 * may be stored, -1 on a store error.
 */
int	presence_roster_full(struct server *, const char *user,
	    const char *contact);

#endif
