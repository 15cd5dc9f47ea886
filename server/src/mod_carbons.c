/*
 * mod_carbons.c: XEP-0280 message carbons. A resource that enabled
 * carbons gets a <sent/> copy of what its siblings send and a <received/>
 * copy of what reaches the account but was delivered to other resources
 * (RFC 6121 rules decide who gets the original). Copies go through
 * router_send like any stanza, so under XEP-0198 they are queued and
 * resent on a resume; they are not spooled, so a session that ends for
 * good drops the copies it had not acknowledged (docs/reliability.md).
 * Eligibility: carbons.c.
 */
#include <stdio.h>
#include <string.h>

#include "carbons.h"
#include "config.h"
#include "jid.h"
#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "xmppd.h"

static enum mod_result
carbons_toggle(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza	*r;

	(void)srv;
	s->carbons = strcmp(stanza_name(stanza_first_child(iq)),
	    "enable") == 0;
	r = proto_iq_result(iq);
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

/* One copy of msg for each carbons-enabled resource of bare not in skip. */
static void
carbons_copy(struct server *srv, const char *bare, struct stanza *msg,
    const char *dir, struct session *const *skip, size_t nskip)
{
	struct session	*s;
	struct stanza	*w;
	size_t		 i;

	for (s = router_sessions(srv->router, bare); s != NULL; s = s->next) {
		if (!s->carbons)
			continue;
		for (i = 0; i < nskip && skip[i] != s; i++)
			;
		if (i < nskip)
			continue;
		w = carbons_wrap(msg, dir, bare, s->full);
		router_send(s, w);
		stanza_unref(w);
	}
}

static enum mod_result
carbons_message_out(struct server *srv, struct session *from,
    struct stanza *msg)
{
	if (carbons_eligible(msg))
		carbons_copy(srv, from->bare, msg, "sent", &from, 1);
	return MOD_PASS;
}

static void
carbons_message_delivered(struct server *srv, const char *user,
    struct stanza *msg, struct session *const *got, size_t n)
{
	char	bare[JID_MAX + 1];

	if (!carbons_eligible(msg))
		return;
	jid_join(user, srv->cfg->domain, bare, sizeof(bare));
	carbons_copy(srv, bare, msg, "received", got, n);
}

static const struct mod_iq carbons_iqs[] = {
	{ .type = IQ_SET, .name = "enable", .ns = NS_CARBONS,
	  .to = MOD_TO_ACCOUNT, .fn = carbons_toggle },
	{ .type = IQ_SET, .name = "disable", .ns = NS_CARBONS,
	  .to = MOD_TO_ACCOUNT, .fn = carbons_toggle },
	{ 0 }
};
static const char *const carbons_features[] = {
	NS_CARBONS, NS_CARBONS_RULES, NULL
};

const struct module mod_carbons = {
	.name = "carbons",
	.xep = 280,
	.features = carbons_features,
	.iq = carbons_iqs,
	.message_out = carbons_message_out,
	.message_delivered = carbons_message_delivered,
};
