/*
 * presence.c: RFC 6121 presence for a single domain. Every contact is
 * local, so the outbound half of a subscription event (the sender's roster)
 * and the inbound half (the receiver's roster) are both processed here, in
 * one step, through roster_transition(). Probes are answered from the
 * router's session table instead of being sent as stanzas.
 */
#include "presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dict.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "proto.h"
#include "roster.h"
#include "roster_push.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"
#include "xmppd.h"

/* Load one side's state for contact; -1 on store error. */
static int
presence_load(struct server *srv, const char *user, const char *contact,
    struct roster_state *st, struct store_roster_item *it)
{
	int	found, pending;

	memset(st, 0, sizeof(*st));
	memset(it, 0, sizeof(*it));
	if ((found = store_roster_item(srv->store, user, contact, it)) == -1)
		return -1;
	if ((pending = store_subreq_has(srv->store, user, contact)) == -1) {
		if (found == 1)
			store_roster_item_clear(it);
		return -1;
	}
	st->exists = found == 1;
	if (found == 1) {
		st->sub = it->sub;
		st->ask_out = it->ask_out;
		st->preapproved = it->preapproved;
	}
	st->pending_in = pending == 1;
	return 0;
}

/* Store a changed state and free the loaded item. */
static void
presence_save(struct server *srv, const char *user, const char *contact,
    const struct roster_state *st, struct store_roster_item *it,
    const struct roster_effect *fx)
{
	if (fx->save) {
		if (st->exists) {
			if (it->jid == NULL)
				it->jid = xstrdup(contact);
			it->sub = st->sub;
			it->ask_out = st->ask_out;
			it->preapproved = st->preapproved;
			store_roster_put(srv->store, user, it);
		}
		if (st->pending_in)
			store_subreq_add(srv->store, user, contact);
		else
			store_subreq_del(srv->store, user, contact);
	}
	store_roster_item_clear(it);
	if (fx->push)
		roster_push(srv, user, contact);
}

/* Bare JID of a local user. */
static void
presence_bare(struct server *srv, const char *user, char *out, size_t len)
{
	jid_join(user, srv->cfg->domain, out, len);
}

/* Every available resource of from_user sends its presence to to. */
static void
presence_share(struct server *srv, const char *from_user, const char *to,
    bool unavailable)
{
	struct session	*s;
	struct stanza	*p;
	char		 bare[JID_MAX + 1];

	presence_bare(srv, from_user, bare, sizeof(bare));
	for (s = router_sessions(srv->router, bare); s != NULL; s = s->next) {
		if (!s->available)
			continue;
		if (unavailable) {
			p = stanza_new("presence", NS_CLIENT);
			stanza_set_attr(p, "type", "unavailable");
		} else
			p = stanza_copy(s->presence);
		stanza_set_attr(p, "from", s->full);
		stanza_set_attr(p, "to", to);
		router_deliver(srv->router, p);
		stanza_unref(p);
	}
}

int
presence_roster_full(struct server *srv, const char *user,
    const char *contact)
{
	struct store_roster_item	it;
	int				n, found;

	if ((n = store_roster_count(srv->store, user)) == -1)
		return -1;
	if ((unsigned)n < srv->cfg->max_roster_items)
		return 0;
	if ((found = store_roster_item(srv->store, user, contact, &it)) == 1)
		store_roster_item_clear(&it);
	return found == -1 ? -1 : found == 0;
}

/* A subscription stanza from user to contact's bare JID, both local. */
static void
presence_sub_event(struct server *srv, const char *user,
    const char *contact_local, const char *type)
{
	struct roster_state		 st;
	struct roster_effect		 out, in;
	struct store_roster_item	 it;
	struct stanza			*p;
	char				 ubare[JID_MAX + 1], cbare[JID_MAX + 1];
	int				 ev;

	presence_bare(srv, user, ubare, sizeof(ubare));
	presence_bare(srv, contact_local, cbare, sizeof(cbare));
	if ((ev = roster_event(type, true)) == -1 ||
	    presence_load(srv, user, cbare, &st, &it) == -1)
		return;
	/* Outbound half: the sender's roster (RFC 6121 §3.x.2). */
	roster_transition(&st, ev, &out);
	presence_save(srv, user, cbare, &st, &it, &out);
	memset(&in, 0, sizeof(in));
	/* Only accounts that exist get requests (no junk rows). */
	if (out.route && router_account_known(srv->router, contact_local) == 1 &&
	    presence_load(srv, contact_local, ubare, &st, &it) == 0) {
		/* Inbound half: the contact's roster (RFC 6121 §3.x.3). */
		roster_transition(&st, ev + ROSTER_IN_SUBSCRIBE, &in);
		presence_save(srv, contact_local, ubare, &st, &it, &in);
		if (in.deliver) {
			p = stanza_new("presence", NS_CLIENT);
			stanza_set_attr(p, "from", ubare);
			stanza_set_attr(p, "to", cbare);
			stanza_set_attr(p, "type", type);
			router_deliver(srv->router, p);
			stanza_unref(p);
		}
	}
	/*
	 * The sender's presence follows its subscribed/unsubscribed, never
	 * precedes it (RFC 6121 §3.1.5, §3.2.2): a client must not see
	 * presence from a contact it does not yet know it may see.
	 */
	if (out.send_presence)
		presence_share(srv, user, cbare, false);
	if (out.send_unavailable)
		presence_share(srv, user, cbare, true);
	if (in.send_presence)
		presence_share(srv, contact_local, ubare, false);
	if (in.send_unavailable)
		presence_share(srv, contact_local, ubare, true);
	if (in.auto_subscribed)
		presence_sub_event(srv, contact_local, user, "subscribed");
}

/* Send a subscription stanza on behalf of the session's user. */
void
presence_subscription(struct server *srv, struct session *s,
    const char *contact, const char *type)
{
	struct jid	j;

	if (jid_parse(contact, &j) == -1 || j.local[0] == '\0' ||
	    strcmp(j.domain, srv->cfg->domain) != 0)
		return;
	presence_sub_event(srv, s->user, j.local, type);
}

/* Deliver p (from s) to every contact whose subscription has mask. */
static void
presence_to_contacts(struct server *srv, struct session *s,
    const struct stanza *p, enum store_sub mask, bool probe)
{
	struct store_roster_item	*items = NULL;
	struct session			*c;
	struct stanza			*copy;
	size_t				 i, n = 0;

	if (store_roster_get(srv->store, s->user, &items, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (probe && (items[i].sub & STORE_SUB_TO)) {
			/* Answer the probe from the contact's sessions. */
			for (c = router_sessions(srv->router, items[i].jid);
			    c != NULL; c = c->next) {
				if (!c->available)
					continue;
				copy = stanza_copy(c->presence);
				stanza_set_attr(copy, "from", c->full);
				stanza_set_attr(copy, "to", s->full);
				router_send(s, copy);
				stanza_unref(copy);
			}
		}
		if (!(items[i].sub & mask))
			continue;
		copy = stanza_copy(p);
		stanza_set_attr(copy, "to", items[i].jid);
		router_deliver(srv->router, copy);
		stanza_unref(copy);
	}
	store_roster_free(items, n);
}

/* Deliver p to all of the user's own available resources. */
static void
presence_to_self(struct server *srv, struct session *s,
    const struct stanza *p, bool initial)
{
	struct session	*o;
	struct stanza	*copy;

	for (o = router_sessions(srv->router, s->bare); o != NULL;
	    o = o->next) {
		if (!o->available && o != s)
			continue;
		copy = stanza_copy(p);
		stanza_set_attr(copy, "to", o->full);
		router_send(o, copy);
		stanza_unref(copy);
		/* A new resource also learns about the others. */
		if (initial && o != s && o->presence != NULL) {
			copy = stanza_copy(o->presence);
			stanza_set_attr(copy, "from", o->full);
			stanza_set_attr(copy, "to", s->full);
			router_send(s, copy);
			stanza_unref(copy);
		}
	}
}

struct presence_walk {
	struct server	*srv;
	struct stanza	*p;
};

static void
presence_walk_unavailable(void *arg, const char *jid, void *value)
{
	struct presence_walk	*w = arg;

	(void)value;
	stanza_set_attr(w->p, "to", jid);
	router_deliver(w->srv->router, w->p);
}

/* Broadcast unavailable presence for s (RFC 6121 §4.5). */
static void
presence_unavailable(struct server *srv, struct session *s,
    struct stanza *p)
{
	struct presence_walk	 w = { srv, p };
	struct dict		*directed = s->directed;

	presence_to_contacts(srv, s, p, STORE_SUB_FROM, false);
	presence_to_self(srv, s, p, false);
	s->available = false;
	if (s->presence != NULL) {
		stanza_unref(s->presence);
		s->presence = NULL;
	}
	s->directed = NULL;
	if (directed != NULL) {
		dict_each(directed, presence_walk_unavailable, &w);
		dict_free(directed);
	}
}

/* <priority/> as an int in -128..127 (RFC 6121 §4.7.2.3); 0 if absent. */
static int
presence_priority(const struct stanza *p)
{
	const char	*t = stanza_child_text(p, "priority", NS_CLIENT);
	char		*end;
	long		 v;

	if (t == NULL)
		return 0;
	v = strtol(t, &end, 10);
	if (end == t || *end != '\0' || v < -128 || v > 127)
		return 0;
	return (int)v;
}

/* Available presence broadcast (RFC 6121 §4.2 initial, §4.4 updates). */
static void
presence_available(struct server *srv, struct session *s, struct stanza *p)
{
	bool	initial = !s->available;

	s->available = true;
	s->priority = presence_priority(p);
	if (s->presence != NULL)
		stanza_unref(s->presence);
	s->presence = stanza_copy(p);
	stanza_set_attr(s->presence, "from", NULL);
	presence_to_contacts(srv, s, p, STORE_SUB_FROM, initial);
	presence_to_self(srv, s, p, initial);
	if (initial)
		module_available(srv, s);
}

/* Directed presence (RFC 6121 §4.6): deliver and remember the target. */
static void
presence_directed(struct server *srv, struct session *s, struct stanza *p,
    const char *type)
{
	const char	*to = stanza_attr(p, "to");

	if (type == NULL) {
		if (s->directed == NULL)
			s->directed = dict_new();
		/* Each target is remembered until the session ends (it is
		 * told of the end): the list is bounded, not the presence. */
		if (dict_get(s->directed, to) == NULL &&
		    dict_count(s->directed) >= srv->cfg->max_directed_presence) {
			router_bounce(srv->router, p, "policy-violation");
			return;
		}
		dict_set(s->directed, to, s);
	} else if (strcmp(type, "unavailable") == 0 && s->directed != NULL)
		dict_del(s->directed, to);
	router_deliver(srv->router, p);
}

/*
 * A subscribe adds the contact to the sender's roster: not past
 * max-roster-items (the same rule as a roster set, mod_roster.c).
 */
static bool
presence_sub_room(struct server *srv, const char *user, const struct jid *j,
    struct stanza *p, const char *type)
{
	char	bare[JID_MAX + 1];
	int	full;

	if (strcmp(type, "subscribe") != 0)
		return true;
	jid_bare(j, bare, sizeof(bare));
	if ((full = presence_roster_full(srv, user, bare)) == 0)
		return true;
	router_bounce(srv->router, p, full == 1 ? "not-allowed" :
	    "internal-server-error");
	return false;
}

/* Presence from a bound client, to already validated as local. */
void
presence_from_client(struct server *srv, struct session *s,
    struct stanza *p)
{
	const char	*type = stanza_attr(p, "type");
	const char	*to = stanza_attr(p, "to");
	struct jid	 j;

	if (to == NULL) {
		if (type == NULL)
			presence_available(srv, s, p);
		else if (strcmp(type, "unavailable") == 0 && s->available)
			presence_unavailable(srv, s, p);
		return;
	}
	if (roster_event(type, true) != -1) {
		/* Rosters change: not while the store refuses writes. */
		if (store_degraded(srv->store)) {
			router_bounce(srv->router, p, "resource-constraint");
			return;
		}
		/* Subscriptions address the bare JID (RFC 6121 §3.1.1). */
		if (jid_parse(to, &j) == 0 && j.local[0] != '\0') {
			if (presence_sub_room(srv, s->user, &j, p, type))
				presence_sub_event(srv, s->user, j.local, type);
		}
		return;
	}
	if (type != NULL && strcmp(type, "probe") == 0)
		return;		/* the server answers probes itself */
	if (jid_parse(to, &j) == -1 || j.local[0] == '\0')
		return;
	if (type == NULL || strcmp(type, "unavailable") == 0)
		presence_directed(srv, s, p, type);
	else if (strcmp(type, "error") == 0)
		router_deliver(srv->router, p);
}

/* Unanswered subscription requests are shown again at each login. */
static int
presence_redeliver(void *arg, const char *contact)
{
	struct session	*s = arg;
	struct stanza	*p;

	p = stanza_new("presence", NS_CLIENT);
	stanza_set_attr(p, "type", "subscribe");
	stanza_set_attr(p, "from", contact);
	stanza_set_attr(p, "to", s->bare);
	router_send(s, p);
	stanza_unref(p);
	return 0;
}

static void
presence_on_available(struct server *srv, struct session *s)
{
	store_subreq_each(srv->store, s->user, presence_redeliver, s);
}

/* A session going away while available sends unavailable (§4.5.2). */
static void
presence_on_unbound(struct server *srv, struct session *s)
{
	struct stanza	*p;

	if (!s->available)
		return;
	p = stanza_new("presence", NS_CLIENT);
	stanza_set_attr(p, "type", "unavailable");
	stanza_set_attr(p, "from", s->full);
	presence_unavailable(srv, s, p);
	stanza_unref(p);
}

const struct module mod_presence = {
	.name = "presence",
	.available = presence_on_available,
	.unbound = presence_on_unbound,
};
