/*
 * mod_disco.c: XEP-0030 service discovery. The server's features are
 * read from the module table (module_feature), never from a list of its
 * own; an account answers with its own identity (RFC 6121 users are
 * "account/registered").
 */
#include <string.h>

#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "xmppd.h"

static enum mod_result
disco_info(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza	*r, *q, *e;
	const char	*node, *f, *to = stanza_attr(iq, "to");
	unsigned	 i;
	bool		 server;

	q = stanza_first_child(iq);
	if ((node = stanza_attr(q, "node")) != NULL) {
		router_bounce(srv->router, iq, "item-not-found");
		return MOD_HANDLED;
	}
	/* MOD_TO_SERVER iqs carry to='domain'; account ones have a '@'. */
	server = to != NULL && strchr(to, '@') == NULL;
	r = proto_iq_result(iq);
	q = stanza_new_child(r, "query", NS_DISCO_INFO);
	e = stanza_new_child(q, "identity", NULL);
	if (server) {
		stanza_set_attr(e, "category", "server");
		stanza_set_attr(e, "type", "im");
		stanza_set_attr(e, "name", "xmppd");
	} else {
		stanza_set_attr(e, "category", "account");
		stanza_set_attr(e, "type", "registered");
	}
	for (i = 0; (f = module_feature(srv, i, !server)) != NULL; i++)
		stanza_set_attr(stanza_new_child(q, "feature", NULL), "var",
		    f);
	stanza_set_attr(stanza_new_child(q, "feature", NULL), "var",
	    NS_DISCO_INFO);
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

static enum mod_result
disco_items(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza	*r;

	(void)srv;
	r = proto_iq_result(iq);
	stanza_new_child(r, "query", NS_DISCO_ITEMS);
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

static const struct mod_iq disco_iqs[] = {
	{ .type = IQ_GET, .name = "query", .ns = NS_DISCO_INFO,
	  .to = MOD_TO_SERVER | MOD_TO_ACCOUNT, .fn = disco_info },
	{ .type = IQ_GET, .name = "query", .ns = NS_DISCO_ITEMS,
	  .to = MOD_TO_SERVER | MOD_TO_ACCOUNT, .fn = disco_items },
	{ 0 }
};
static const char *const disco_features[] = { NS_DISCO_ITEMS, NULL };

const struct module mod_disco = {
	.name = "disco",
	.xep = 30,
	.features = disco_features,
	.iq = disco_iqs,
};
