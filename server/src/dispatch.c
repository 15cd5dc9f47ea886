/*
 * dispatch.c: where a stanza from a bound client goes (RFC 6120 §8.1.1,
 * §10). The stream layer (c2s) hands every stanza here; presence goes to
 * presence.c, iqs for the server or the account to the module table,
 * messages through admission (a resend, an unknown account, a degraded
 * store, a full spool) and the modules' hooks to the router. It sits
 * above the handlers and the router: nothing below calls it.
 */
#include "dispatch.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "presence.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmppd.h"

/* How long a resend is recognised by its origin-id. */
#define DISPATCH_DEDUP_WINDOW_MS	(24LL * 3600 * 1000)

/* The router's view of the modules and the delivery spool. */
static const struct router_hooks dispatch_hooks = {
	.message_in = module_message_in,
	.spool = offline_spool,
	.live = offline_live,
	.delivered = module_message_delivered,
};

void
dispatch_init(struct server *srv)
{
	router_set_hooks(srv->router, &dispatch_hooks);
}

/*
 * Before a client's message to a local user is archived or copied: is it
 * a resend of one already accepted (XEP-0359 origin-id, 24 hours), and can
 * it be stored? A message that cannot be stored is bounced and stored
 * nowhere, not even in the sender's archive. 0: route it; -1: handled.
 */
static int
dispatch_accept(struct server *srv, struct session *from, struct stanza *st,
    const struct jid *to, char *peer, size_t peerlen, const char **origin)
{
	const struct stanza	*o = stanza_child(st, "origin-id", NS_SID);
	int			 known = 1;

	*origin = NULL;
	jid_bare(to, peer, peerlen);
	if (!router_spoolable(st))
		return 0;
	if (o != NULL && (*origin = stanza_attr(o, "id")) != NULL &&
	    store_origin_seen(srv->store, from->user, peer, *origin,
	    proto_now_ms() - DISPATCH_DEDUP_WINDOW_MS) == 1) {
		log_debug("dispatch: resend of %s dropped user=%s", *origin,
		    from->user);
		return -1;
	}
	if (router_sessions(srv->router, peer) == NULL &&
	    (known = router_account_known(srv->router, to->local)) != 1) {
		router_undeliverable(srv->router, st, known);
		return -1;
	}
	if (store_degraded(srv->store)) {
		router_bounce(srv->router, st, "resource-constraint");
		return -1;
	}
	if (offline_full(srv, to->local)) {
		router_bounce(srv->router, st, "service-unavailable");
		return -1;
	}
	return 0;
}

/* A bound client's message to a local user. */
static void
dispatch_message(struct server *srv, struct session *from,
    struct stanza *st, const struct jid *to)
{
	char		 peer[JID_MAX + 1];
	const char	*origin;

	if (dispatch_accept(srv, from, st, to, peer, sizeof(peer),
	    &origin) == -1)
		return;
	if (module_message_out(srv, from, st) == MOD_HANDLED)
		return;
	router_deliver(srv->router, st);
	/* The same batch: if this fails, so does the message's ack. */
	if (origin != NULL)
		(void)store_origin_add(srv->store, from->user, peer, origin,
		    proto_now_ms());
}

/* An iq get or set for the module table; anything else is dropped. */
static void
dispatch_iq_local(struct server *srv, struct session *s, struct stanza *st,
    int target)
{
	const char	*type = stanza_attr(st, "type");

	if (type == NULL || (strcmp(type, "get") && strcmp(type, "set")))
		return;		/* results and errors to the server */
	if (module_iq(srv, s, st, target) == MOD_PASS)
		router_bounce(srv->router, st, "service-unavailable");
}

/*
 * An iq for another local user: a full JID reaches that resource (the
 * router), a request to a bare JID is answered by the server on the
 * account's behalf (RFC 6120 §10.5.4) through the module table.
 */
static void
dispatch_iq_other(struct server *srv, struct session *s, struct stanza *st,
    const struct jid *to)
{
	if (to->resource[0] != '\0')
		router_deliver(srv->router, st);
	else
		dispatch_iq_local(srv, s, st, MOD_TO_OTHER);
}

/* A stanza for this domain, its 'to' parsed and normalised. */
static void
dispatch_local(struct server *srv, struct session *s, struct stanza *st,
    const struct jid *to)
{
	const char	*name = stanza_name(st);

	if (strcmp(name, "presence") == 0) {
		presence_from_client(srv, s, st);
		return;
	}
	if (to->local[0] == '\0') {
		/* The server itself (RFC 6120 §10.4). */
		if (strcmp(name, "iq") == 0 && to->resource[0] == '\0')
			dispatch_iq_local(srv, s, st, MOD_TO_SERVER);
		else if (strcmp(name, "iq") == 0)
			router_bounce(srv->router, st, "service-unavailable");
		else	/* §10.5.1: no message service here; say so */
			router_undeliverable(srv->router, st, 0);
		return;
	}
	if (strcmp(name, "iq") == 0 && to->resource[0] == '\0' &&
	    strcmp(to->local, s->user) == 0)
		dispatch_iq_local(srv, s, st, MOD_TO_ACCOUNT);
	else if (strcmp(name, "message") == 0)
		dispatch_message(srv, s, st, to);
	else
		dispatch_iq_other(srv, s, st, to);
}

/*
 * RFC 6120 §8.2.3: an iq needs an id and one of the four types, and a get
 * or set carries exactly one payload. A broken request is answered with
 * bad-request (the id echoed if there is one: a stream error for a
 * single broken iq would punish a whole session); a broken result or
 * error is dropped (never answer those). 0: valid; -1: handled.
 */
static int
dispatch_iq_check(struct server *srv, struct stanza *st)
{
	const char		*type = stanza_attr(st, "type");
	const struct stanza	*c;
	size_t			 n = 0;
	bool			 request;

	if (type != NULL && (strcmp(type, "result") == 0 ||
	    strcmp(type, "error") == 0))
		return stanza_attr(st, "id") != NULL ? 0 : -1;
	request = type != NULL && (strcmp(type, "get") == 0 ||
	    strcmp(type, "set") == 0);
	for (c = stanza_first_child(st); c != NULL && n < 2;
	    c = stanza_next(c))
		n++;
	if (!request || stanza_attr(st, "id") == NULL || n != 1) {
		router_bounce(srv->router, st, "bad-request");
		return -1;
	}
	return 0;
}

/*
 * A client's message: an unknown type is normal (RFC 6121 §5.2.2), and a
 * delay stamp claiming to come from this server is the server's to add
 * (XEP-0203): a client's would suppress the real one on spooling.
 */
static void
dispatch_message_clean(struct server *srv, struct stanza *st)
{
	static const char *const known[] = {
		"chat", "error", "groupchat", "headline", "normal",
	};
	struct stanza	*c, *next;
	const char	*type = stanza_attr(st, "type"), *from;
	size_t		 i;
	bool		 ok = type == NULL;

	for (i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
		ok = strcmp(type, known[i]) == 0;
	if (!ok)
		stanza_set_attr(st, "type", "normal");
	for (c = stanza_first_child(st); c != NULL; c = next) {
		next = stanza_next(c);
		if (strcmp(stanza_name(c), "delay") == 0 &&
		    strcmp(stanza_ns(c), NS_DELAY) == 0 &&
		    (from = stanza_attr(c, "from")) != NULL &&
		    strcmp(from, srv->cfg->domain) == 0)
			stanza_remove_child(st, c);
	}
}

/* A presence nobody needs to hear was lost: unavailable (or error). */
static bool
dispatch_presence_quiet(const struct stanza *st)
{
	const char	*type = stanza_attr(st, "type");

	return type != NULL && (strcmp(type, "unavailable") == 0 ||
	    strcmp(type, "error") == 0);
}

/* Route a stanza from a bound client (RFC 6120 §8.1.1, §10). */
void
dispatch_from_client(struct server *srv, struct session *s,
    struct stanza *st)
{
	struct jid	 to;
	char		 norm[JID_MAX + 1];
	const char	*name = stanza_name(st), *t;

	/* RFC 6120 §8.1.2.1: the server stamps the sender's full JID. */
	stanza_set_attr(st, "from", s->full);
	if (strcmp(name, "iq") == 0 && dispatch_iq_check(srv, st) == -1)
		return;
	if (strcmp(name, "message") == 0)
		dispatch_message_clean(srv, st);
	if ((t = stanza_attr(st, "to")) == NULL) {
		if (strcmp(name, "presence") == 0)
			presence_from_client(srv, s, st);
		else if (strcmp(name, "iq") == 0)
			dispatch_iq_local(srv, s, st, MOD_TO_ACCOUNT);
		else {
			stanza_set_attr(st, "to", s->bare);
			dispatch_from_client(srv, s, st);
		}
		return;
	}
	if (jid_parse(t, &to) == -1) {
		router_bounce(srv->router, st, "jid-malformed");
		return;
	}
	stanza_set_attr(st, "to", jid_full(&to, norm, sizeof(norm)));
	if (strcmp(to.domain, srv->cfg->domain) != 0) {
		/* No server-to-server: nothing leaves this domain. A
		 * subscription request is told so like any other stanza;
		 * only a directed unavailable goes unanswered. */
		if (strcmp(name, "presence") != 0 ||
		    !dispatch_presence_quiet(st))
			router_bounce(srv->router, st,
			    "remote-server-not-found");
		return;
	}
	dispatch_local(srv, s, st, &to);
}
