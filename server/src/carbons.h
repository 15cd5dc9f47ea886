/*
 * carbons.h: XEP-0280 message carbons as pure functions: which messages
 * are copied (the rules of §6.1, "urn:xmpp:carbons:rules:0") and the
 * wrapped copy itself. mod_carbons.c decides who gets one.
 */
#ifndef XMPPD_CARBONS_H
#define XMPPD_CARBONS_H

#include <stdbool.h>

struct stanza;

/* XEP-0280 §6.1 plus XEP-0334 <no-copy/>. */
bool		 carbons_eligible(const struct stanza *msg);
/*
 * A copy of msg for one of bare's resources: <message from=bare to=to>
 * <sent|received xmlns=carbons><forwarded>msg</forwarded></...>.
 * dir is "sent" or "received".
 */
struct stanza	*carbons_wrap(const struct stanza *msg, const char *dir,
		    const char *bare, const char *to);

#endif
