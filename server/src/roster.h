/*
 * roster.h: the RFC 6121 subscription state machine (Appendix A) as one
 * pure function: given an item's state and a subscription stanza going
 * out from its owner or coming in to its owner, the new state and what
 * the server must do. presence.c turns the effects into stanzas and
 * store writes. No I/O.
 */
#ifndef XMPPD_ROSTER_H
#define XMPPD_ROSTER_H

#include <stdbool.h>

#include "store.h"

enum roster_event {
	ROSTER_OUT_SUBSCRIBE,		/* owner asks for contact's presence */
	ROSTER_OUT_SUBSCRIBED,		/* owner approves contact */
	ROSTER_OUT_UNSUBSCRIBE,		/* owner stops following contact */
	ROSTER_OUT_UNSUBSCRIBED,	/* owner denies or cancels contact */
	ROSTER_IN_SUBSCRIBE,		/* contact asks for owner's presence */
	ROSTER_IN_SUBSCRIBED,		/* contact approved owner */
	ROSTER_IN_UNSUBSCRIBE,		/* contact stops following owner */
	ROSTER_IN_UNSUBSCRIBED,		/* contact cancelled owner */
};

/* One side's view of one contact. */
struct roster_state {
	bool		exists;		/* a roster item is there */
	enum store_sub	sub;
	bool		ask_out;
	bool		pending_in;	/* unanswered request from contact */
	bool		preapproved;
};

struct roster_effect {
	bool	save;		/* state changed: store it */
	bool	push;		/* roster push to interested resources */
	bool	route;		/* outbound: pass the stanza to the contact */
	bool	deliver;	/* inbound: hand the stanza to the owner */
	bool	auto_subscribed;	/* answer the contact with subscribed */
	bool	send_presence;	/* owner's available presence to contact */
	bool	send_unavailable;	/* owner's unavailable to contact */
};

/* Apply ev to st, filling fx. */
void		 roster_transition(struct roster_state *st,
		    enum roster_event ev, struct roster_effect *fx);
/* "none" / "to" / "from" / "both". */
const char	*roster_sub_name(enum store_sub);
/* Event for a presence type, or -1 if type is not a subscription one. */
int		 roster_event(const char *type, bool outbound);

#endif
