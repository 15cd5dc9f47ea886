/*
 * roster.c: RFC 6121 Appendix A, compressed. Outbound events are
 * processed on the owner's item before the stanza is routed; inbound
 * events on the receiver's item before it is (or is not) delivered.
 * Inbound requests without a roster item are kept as pending_in only
 * (no item is created until the owner approves: §3.1.3).
 */
#include "roster.h"

#include <string.h>

static void
roster_out_subscribe(struct roster_state *st, struct roster_effect *fx)
{
	/* §3.1.2: always routed; the state records the pending request. */
	fx->route = true;
	if (!(st->sub & STORE_SUB_TO) && !st->ask_out) {
		st->exists = true;
		st->ask_out = true;
		fx->save = fx->push = true;
	}
}

static void
roster_out_subscribed(struct roster_state *st, struct roster_effect *fx)
{
	if (st->sub & STORE_SUB_FROM)
		return;
	if (st->pending_in) {
		/* §3.1.5: approve; the contact now gets our presence. */
		st->exists = true;
		st->sub |= STORE_SUB_FROM;
		st->pending_in = false;
		st->preapproved = false;
		fx->save = fx->push = fx->route = fx->send_presence = true;
	} else if (!st->preapproved) {
		/* §3.4: pre-approval of a request not yet received. */
		st->exists = true;
		st->preapproved = true;
		fx->save = fx->push = true;
	}
}

static void
roster_out_unsubscribe(struct roster_state *st, struct roster_effect *fx)
{
	fx->route = true;
	if ((st->sub & STORE_SUB_TO) || st->ask_out) {
		st->sub &= ~STORE_SUB_TO;
		st->ask_out = false;
		fx->save = fx->push = true;
	}
}

static void
roster_out_unsubscribed(struct roster_state *st, struct roster_effect *fx)
{
	if (!(st->sub & STORE_SUB_FROM) && !st->pending_in &&
	    !st->preapproved)
		return;
	/* §3.2.3 / §3.2.1: cancel or deny. */
	fx->send_unavailable = (st->sub & STORE_SUB_FROM) != 0;
	fx->route = (st->sub & STORE_SUB_FROM) || st->pending_in;
	st->sub &= ~STORE_SUB_FROM;
	st->pending_in = false;
	st->preapproved = false;
	fx->save = true;
	fx->push = st->exists;
}

static void
roster_in_subscribe(struct roster_state *st, struct roster_effect *fx)
{
	if (st->sub & STORE_SUB_FROM) {
		fx->auto_subscribed = true;	/* §3.1.3: already approved */
		return;
	}
	if (st->preapproved) {
		st->sub |= STORE_SUB_FROM;
		st->preapproved = false;
		fx->save = fx->push = true;
		fx->auto_subscribed = fx->send_presence = true;
		return;
	}
	if (!st->pending_in) {
		st->pending_in = true;
		fx->save = true;
	}
	/* Redelivered until answered (also at each login). */
	fx->deliver = true;
}

static void
roster_in_subscribed(struct roster_state *st, struct roster_effect *fx)
{
	if (!st->ask_out)
		return;		/* §3.1.6: unsolicited, ignore */
	st->sub |= STORE_SUB_TO;
	st->ask_out = false;
	fx->save = fx->push = fx->deliver = true;
}

static void
roster_in_unsubscribe(struct roster_state *st, struct roster_effect *fx)
{
	if (!(st->sub & STORE_SUB_FROM) && !st->pending_in)
		return;
	/* §3.3.3: the contact's presence stops reaching the user. */
	fx->send_unavailable = (st->sub & STORE_SUB_FROM) != 0;
	st->sub &= ~STORE_SUB_FROM;
	st->pending_in = false;
	fx->save = true;
	fx->push = st->exists;
	fx->deliver = true;
}

static void
roster_in_unsubscribed(struct roster_state *st, struct roster_effect *fx)
{
	if (!(st->sub & STORE_SUB_TO) && !st->ask_out)
		return;
	st->sub &= ~STORE_SUB_TO;
	st->ask_out = false;
	fx->save = fx->push = fx->deliver = true;
}

/* Apply one subscription event. */
void
roster_transition(struct roster_state *st, enum roster_event ev,
    struct roster_effect *fx)
{
	memset(fx, 0, sizeof(*fx));
	switch (ev) {
	case ROSTER_OUT_SUBSCRIBE:	roster_out_subscribe(st, fx);	break;
	case ROSTER_OUT_SUBSCRIBED:	roster_out_subscribed(st, fx);	break;
	case ROSTER_OUT_UNSUBSCRIBE:	roster_out_unsubscribe(st, fx);	break;
	case ROSTER_OUT_UNSUBSCRIBED:	roster_out_unsubscribed(st, fx); break;
	case ROSTER_IN_SUBSCRIBE:	roster_in_subscribe(st, fx);	break;
	case ROSTER_IN_SUBSCRIBED:	roster_in_subscribed(st, fx);	break;
	case ROSTER_IN_UNSUBSCRIBE:	roster_in_unsubscribe(st, fx);	break;
	case ROSTER_IN_UNSUBSCRIBED:	roster_in_unsubscribed(st, fx);	break;
	}
}

/* Attribute value for a subscription state. */
const char *
roster_sub_name(enum store_sub sub)
{
	switch (sub) {
	case STORE_SUB_TO:	return "to";
	case STORE_SUB_FROM:	return "from";
	case STORE_SUB_BOTH:	return "both";
	default:		return "none";
	}
}

/* Map a presence type to the event on the sender's or receiver's side. */
int
roster_event(const char *type, bool outbound)
{
	static const char *const types[] = {
		"subscribe", "subscribed", "unsubscribe", "unsubscribed"
	};
	int	i;

	if (type == NULL)
		return -1;
	for (i = 0; i < 4; i++)
		if (strcmp(type, types[i]) == 0)
			return outbound ? i : i + ROSTER_IN_SUBSCRIBE;
	return -1;
}
