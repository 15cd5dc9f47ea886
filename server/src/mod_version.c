/*
 * mod_version.c: XEP-0092 software version of the server. The OS is not
 * disclosed (the XEP makes it optional; it only helps attackers).
 */
#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "xmppd.h"

#include <string.h>

static enum mod_result
version_iq(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza	*r, *q, *e;

	(void)srv;
	r = proto_iq_result(iq);
	q = stanza_new_child(r, "query", NS_VERSION);
	e = stanza_new_child(q, "name", NULL);
	stanza_add_text(e, "xmppd", 5);
	e = stanza_new_child(q, "version", NULL);
	stanza_add_text(e, XMPPD_VERSION, strlen(XMPPD_VERSION));
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

static const struct mod_iq version_iqs[] = {
	{ .type = IQ_GET, .name = "query", .ns = NS_VERSION,
	  .to = MOD_TO_SERVER, .fn = version_iq },
	{ 0 }
};
static const char *const version_features[] = { NS_VERSION, NULL };

const struct module mod_version = {
	.name = "version",
	.xep = 92,
	.features = version_features,
	.iq = version_iqs,
};
