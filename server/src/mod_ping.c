/*
 * mod_ping.c: XEP-0199 ping to the server and to the user's own account.
 */
#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "xmppd.h"

static enum mod_result
ping_iq(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza	*r = proto_iq_result(iq);

	(void)srv;
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

static const struct mod_iq ping_iqs[] = {
	{ .type = IQ_GET, .name = "ping", .ns = NS_PING,
	  .to = MOD_TO_SERVER | MOD_TO_ACCOUNT, .fn = ping_iq },
	{ 0 }
};
static const char *const ping_features[] = { NS_PING, NULL };

const struct module mod_ping = {
	.name = "ping",
	.xep = 199,
	.features = ping_features,
	.iq = ping_iqs,
};
