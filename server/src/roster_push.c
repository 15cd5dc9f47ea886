/*
 * roster_push.c: a roster item as the client sees it, and the roster push
 * (RFC 6121 §2.1.6) to every interested resource. Both the roster iq
 * handler (mod_roster.c) and the subscription state machine (presence.c)
 * change rosters, so this sits below both of them.
 */
#include "roster_push.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "jid.h"
#include "proto.h"
#include "roster.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmppd.h"

/* <item/> for a stored item, or a subscription='remove' one if it is NULL. */
struct stanza *
roster_item_stanza(const char *contact, const struct store_roster_item *it)
{
	struct stanza	*item;
	size_t		 i;

	item = stanza_new("item", NS_ROSTER);
	stanza_set_attr(item, "jid", contact);
	if (it == NULL) {
		stanza_set_attr(item, "subscription", "remove");
		return item;
	}
	if (it->name != NULL)
		stanza_set_attr(item, "name", it->name);
	stanza_set_attr(item, "subscription", roster_sub_name(it->sub));
	if (it->ask_out)
		stanza_set_attr(item, "ask", "subscribe");
	if (it->preapproved)
		stanza_set_attr(item, "approved", "true");
	for (i = 0; i < it->ngroups; i++) {
		struct stanza	*g = stanza_new_child(item, "group", NULL);

		stanza_add_text(g, it->groups[i], strlen(it->groups[i]));
	}
	return item;
}

/* Push the current state of contact in user's roster (RFC 6121 §2.1.6). */
void
roster_push(struct server *srv, const char *user, const char *contact)
{
	struct store_roster_item	 it;
	struct session			*s;
	struct stanza			*iq, *q;
	char				 bare[JID_MAX + 1], id[17];
	int				 found;

	memset(&it, 0, sizeof(it));
	if ((found = store_roster_item(srv->store, user, contact, &it)) == -1)
		return;
	jid_join(user, srv->cfg->domain, bare, sizeof(bare));
	for (s = router_sessions(srv->router, bare); s != NULL; s = s->next) {
		if (!s->interested)
			continue;
		proto_random_id(id);
		iq = stanza_new("iq", NS_CLIENT);
		stanza_set_attr(iq, "type", "set");
		stanza_set_attr(iq, "id", id);
		stanza_set_attr(iq, "to", s->full);
		q = stanza_new_child(iq, "query", NS_ROSTER);
		stanza_add_child(q, roster_item_stanza(contact,
		    found == 1 ? &it : NULL));
		router_send(s, iq);
		stanza_unref(iq);
	}
	if (found == 1)
		store_roster_item_clear(&it);
}
