/*
 * dispatch.h: the entry for stanzas from bound clients. The stream layer
 * calls it; it calls the handlers (presence, the module table) and the
 * router, and nothing below it calls back up.
 */
#ifndef XMPPD_DISPATCH_H
#define XMPPD_DISPATCH_H

struct server;
struct session;
struct stanza;

/* Hand the router its hooks into the modules and the spool. */
void	dispatch_init(struct server *);
/* A stanza from a bound client: from is stamped, to checked, routed. */
void	dispatch_from_client(struct server *, struct session *,
	    struct stanza *);

#endif
