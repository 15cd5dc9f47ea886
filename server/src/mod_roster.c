/*
 * mod_roster.c: roster management (RFC 6121 §2): get, set and remove
 * (roster_push.c tells every interested resource). Subscription state is only
 * changed by presence.c through roster.c; a roster set may change names
 * and groups, never the subscription.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "presence.h"
#include "proto.h"
#include "roster.h"
#include "roster_push.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmppd.h"

#define ROSTER_MAX_GROUPS	32
#define ROSTER_MAX_NAME		1024

static enum mod_result
roster_get(struct server *srv, struct session *s, struct stanza *iq)
{
	struct store_roster_item	*items = NULL;
	struct stanza			*r, *q;
	size_t				 i, n = 0;

	if (store_roster_get(srv->store, s->user, &items, &n) == -1) {
		router_bounce(srv->router, iq, "internal-server-error");
		return MOD_HANDLED;
	}
	r = proto_iq_result(iq);
	q = stanza_new_child(r, "query", NS_ROSTER);
	for (i = 0; i < n; i++)
		stanza_add_child(q, roster_item_stanza(items[i].jid, &items[i]));
	store_roster_free(items, n);
	s->interested = true;
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

/* Parse and normalise the item's jid; NULL on error (reply sent). */
static const char *
roster_item_jid(struct server *srv, struct stanza *iq, struct stanza *item,
    char *out, size_t outlen)
{
	struct jid	 j;
	const char	*v = stanza_attr(item, "jid");

	if (v == NULL || jid_parse(v, &j) == -1) {
		router_bounce(srv->router, iq, v == NULL ? "bad-request" :
		    "jid-malformed");
		return NULL;
	}
	/* Rosters hold bare JIDs (RFC 6121 §2.1.2.3). */
	if (j.resource[0] != '\0') {
		router_bounce(srv->router, iq, "bad-request");
		return NULL;
	}
	return jid_bare(&j, out, outlen);
}

static void
roster_remove(struct server *srv, struct session *s, struct stanza *iq,
    const char *contact)
{
	struct store_roster_item	it;
	int				found;

	memset(&it, 0, sizeof(it));
	if ((found = store_roster_item(srv->store, s->user, contact,
	    &it)) != 1) {
		router_bounce(srv->router, iq, found == 0 ? "item-not-found" :
		    "internal-server-error");
		return;
	}
	/* RFC 6121 §2.5.2: cancel both directions before removing. */
	if ((it.sub & STORE_SUB_TO) || it.ask_out)
		presence_subscription(srv, s, contact, "unsubscribe");
	if ((it.sub & STORE_SUB_FROM) ||
	    store_subreq_has(srv->store, s->user, contact) == 1)
		presence_subscription(srv, s, contact, "unsubscribed");
	store_roster_item_clear(&it);
	if (store_roster_del(srv->store, s->user, contact) == -1) {
		router_bounce(srv->router, iq, "internal-server-error");
		return;
	}
	roster_push(srv, s->user, contact);
}

static int
roster_update(struct server *srv, struct session *s, struct stanza *item,
    const char *contact)
{
	struct store_roster_item	 old, it;
	struct stanza			*g;
	char				*groups[ROSTER_MAX_GROUPS];
	const char			*name = stanza_attr(item, "name");
	size_t				 n = 0;
	int				 found, rc;

	for (g = stanza_first_child(item); g != NULL; g = stanza_next(g)) {
		if (strcmp(stanza_name(g), "group") != 0)
			continue;
		if (n == ROSTER_MAX_GROUPS || stanza_text(g)[0] == '\0')
			return -2;
		groups[n++] = (char *)(uintptr_t)stanza_text(g);
	}
	if (name != NULL && strlen(name) > ROSTER_MAX_NAME)
		return -2;
	memset(&old, 0, sizeof(old));
	if ((found = store_roster_item(srv->store, s->user, contact,
	    &old)) == -1)
		return -1;
	/* A new item past max-roster-items (every presence update walks
	 * the roster, so its size is CPU for each one). */
	if (found == 0 && (rc = presence_roster_full(srv, s->user,
	    contact)) != 0)
		return rc == 1 ? -3 : -1;
	/* Keep the subscription state; replace name and groups. */
	memset(&it, 0, sizeof(it));
	it.jid = (char *)(uintptr_t)contact;
	it.name = (char *)(uintptr_t)name;
	it.groups = groups;
	it.ngroups = n;
	if (found == 1) {
		it.sub = old.sub;
		it.ask_out = old.ask_out;
		it.preapproved = old.preapproved;
		store_roster_item_clear(&old);
	}
	rc = store_roster_put(srv->store, s->user, &it);
	return rc;
}

static enum mod_result
roster_set(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza	*q, *item, *r;
	char		 contact[JID_MAX + 1];
	const char	*sub;
	int		 rc;

	/* A roster change must be stored: not while the store refuses. */
	if (store_degraded(srv->store)) {
		router_bounce(srv->router, iq, "resource-constraint");
		return MOD_HANDLED;
	}

	q = stanza_first_child(iq);
	/* RFC 6121 §2.3.3: exactly one item. */
	if ((item = stanza_child(q, "item", NS_ROSTER)) == NULL ||
	    stanza_next(item) != NULL) {
		router_bounce(srv->router, iq, "bad-request");
		return MOD_HANDLED;
	}
	if (roster_item_jid(srv, iq, item, contact, sizeof(contact)) == NULL)
		return MOD_HANDLED;
	sub = stanza_attr(item, "subscription");
	if (sub != NULL && strcmp(sub, "remove") == 0) {
		roster_remove(srv, s, iq, contact);
	} else {
		if ((rc = roster_update(srv, s, item, contact)) != 0) {
			router_bounce(srv->router, iq, rc == -2 ?
			    "not-acceptable" : rc == -3 ? "not-allowed" :
			    "internal-server-error");
			return MOD_HANDLED;
		}
		roster_push(srv, s->user, contact);
	}
	r = proto_iq_result(iq);
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

static const struct mod_iq roster_iqs[] = {
	{ .type = IQ_GET, .name = "query", .ns = NS_ROSTER,
	  .to = MOD_TO_ACCOUNT, .fn = roster_get },
	{ .type = IQ_SET, .name = "query", .ns = NS_ROSTER,
	  .to = MOD_TO_ACCOUNT, .fn = roster_set },
	{ 0 }
};

/* Advertised like other servers do, so clients can tell it is there. */
static const char *const roster_features[] = { NS_ROSTER, NULL };

const struct module mod_roster = {
	.name = "roster",
	.features = roster_features,
	.iq = roster_iqs,
};
