/*
 * router.c: who is bound where, and where a stanza goes. All entities are
 * local: xmppd serves one domain and has no server-to-server links, so a
 * stanza for another domain gets remote-server-not-found.
 *
 * Delivery follows RFC 6121 §8.5: a full JID reaches that resource, a
 * bare JID reaches the eligible resources of router_pick(), and a message
 * nobody can take is stored offline. Errors for an unknown user and an
 * offline one are the same service-unavailable, so presence never leaks
 * (RFC 6121 §8.5.2.2.1, §8.5.3.2.1).
 */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "dict.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "presence.h"
#include "proto.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"
#include "xmppd.h"

struct router {
	struct server	*srv;
	struct dict	*users;		/* bare JID -> session list */
	struct dict	*full;		/* full JID -> session */
	size_t		 total;
};

#define ROUTER_MAX_TARGETS	64

/* An empty router. */
struct router *
router_new(struct server *srv)
{
	struct router	*r = xcalloc(1, sizeof(*r));

	r->srv = srv;
	r->users = dict_new();
	r->full = dict_new();
	return r;
}

/* Free the maps; every session must have been unbound. */
void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	dict_free(r->users);
	dict_free(r->full);
	free(r);
}

/* Bind a resource, replacing a session with the same full JID. */
struct session *
router_bind(struct router *r, const char *user, const char *resource,
    const struct session_ops *ops, void *arg, uint64_t id)
{
	struct session	*s, *old;
	const char	*domain = r->srv->cfg->domain;

	s = xcalloc(1, sizeof(*s));
	s->id = id;
	s->user = xstrdup(user);
	xasprintf(&s->bare, "%s@%s", user, domain);
	xasprintf(&s->full, "%s/%s", s->bare, resource);
	s->resource = s->full + strlen(s->bare) + 1;
	s->ops = ops;
	s->arg = arg;
	if ((old = dict_get(r->full, s->full)) != NULL) {
		log_info("c2s=%016llx replaced-by=%016llx jid=%s",
		    (unsigned long long)old->id, (unsigned long long)id,
		    s->full);
		old->ops->kick(old->arg, "conflict");
		/* kick unbinds synchronously; be sure it did. */
		if (dict_get(r->full, s->full) == old)
			router_unbind(r, old);
	}
	s->next = dict_get(r->users, s->bare);
	dict_set(r->users, s->bare, s);
	dict_set(r->full, s->full, s);
	r->total++;
	return s;
}

/* Unlink and free a session. */
void
router_unbind(struct router *r, struct session *s)
{
	struct session	*head, **pp;

	if (dict_get(r->full, s->full) == s)
		dict_del(r->full, s->full);
	head = dict_get(r->users, s->bare);
	for (pp = &head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (head == NULL)
		dict_del(r->users, s->bare);
	else
		dict_set(r->users, s->bare, head);
	r->total--;
	if (s->presence != NULL)
		stanza_unref(s->presence);
	dict_free(s->directed);
	free(s->user);
	free(s->bare);
	free(s->full);
	free(s);
}

/* Sessions of a bare JID. */
struct session *
router_sessions(const struct router *r, const char *bare)
{
	return dict_get(r->users, bare);
}

/* Session of a full JID. */
struct session *
router_session(const struct router *r, const char *full)
{
	return dict_get(r->full, full);
}

/* How many resources a bare JID has bound. */
size_t
router_nsessions(const struct router *r, const char *bare)
{
	struct session	*s;
	size_t		 n = 0;

	for (s = dict_get(r->users, bare); s != NULL; s = s->next)
		n++;
	return n;
}

/* Bound sessions in all. */
size_t
router_total(const struct router *r)
{
	return r->total;
}

/* Hand a stanza to a session's stream. */
void
router_send(struct session *s, struct stanza *st)
{
	s->ops->deliver(s->arg, st);
}

/* RFC 6121 §8.5.2.1.1: eligible resources for a message to a bare JID. */
size_t
router_pick(struct session *head, const char *msgtype,
    struct session **out, size_t max)
{
	struct session	*s;
	size_t		 n = 0;
	int		 best = -1;
	bool		 all;

	/* chat and headline go to every non-negative resource; normal to
	 * the highest priority one(s). */
	all = strcmp(msgtype, "chat") == 0 || strcmp(msgtype, "headline") == 0;
	if (!all && strcmp(msgtype, "normal") != 0)
		return 0;
	for (s = head; s != NULL; s = s->next)
		if (s->available && s->priority > best)
			best = s->priority;
	if (best < 0)
		return 0;
	for (s = head; s != NULL && n < max; s = s->next) {
		if (!s->available || s->priority < 0)
			continue;
		if (all || s->priority == best)
			out[n++] = s;
	}
	return n;
}

/* Send an error reply for st to its sender. */
void
router_bounce(struct router *r, const struct stanza *st, const char *cond)
{
	struct stanza	*err;

	if ((err = proto_error(st, cond)) == NULL)
		return;
	/* The error comes from the address the sender used. */
	router_deliver(r, err);
	stanza_unref(err);
}

/*
 * An account is known if it ever logged in (the store remembers) or if
 * the auth backend lists it (a users file can; RADIUS cannot tell).
 * 1, 0, or -1 on a store error.
 */
int
router_account_known(struct router *r, const char *local)
{
	int	known = store_user_exists(r->srv->store, local);

	if (known == 0 && r->srv->auth != NULL &&
	    auth_exists(r->srv->auth, local) == 1)
		known = 1;
	return known;
}

/* Nobody to deliver to and not storable: answer or drop (§8.5.2.2). */
static void
router_message_undeliverable(struct router *r, struct stanza *st,
    const char *type, int known)
{
	if (strcmp(type, "headline") == 0 || strcmp(type, "error") == 0)
		return;
	router_bounce(r, st, known == -1 ? "internal-server-error" :
	    "service-unavailable");
}

/*
 * A message for a local user (bare or full JID). The modules see it
 * before delivery (archive, stanza-id) and after (carbons); a message
 * for an account nobody ever used is answered like one for an offline
 * resource, so presence does not leak (RFC 6121 §8.5.2.2.1).
 */
static void
router_message(struct router *r, struct stanza *st, const struct jid *to)
{
	struct session	*targets[ROUTER_MAX_TARGETS], *s = NULL;
	char		 bare[JID_MAX + 1], full[JID_MAX + 1];
	const char	*type = stanza_attr(st, "type");
	size_t		 i, n = 0;
	int		 known = 1;

	if (type == NULL)
		type = "normal";
	if (strcmp(type, "error") == 0 && to->resource[0] == '\0')
		return;
	jid_bare(to, bare, sizeof(bare));
	if (to->resource[0] != '\0')
		s = dict_get(r->full, jid_full(to, full, sizeof(full)));
	if (s == NULL && to->resource[0] != '\0') {
		/* §8.5.3.2.1: treat as bare, except these. */
		if (strcmp(type, "error") == 0)
			return;
		if (strcmp(type, "groupchat") == 0) {
			router_bounce(r, st, "service-unavailable");
			return;
		}
	}
	if (s == NULL && dict_get(r->users, bare) == NULL &&
	    (known = router_account_known(r, to->local)) != 1) {
		router_message_undeliverable(r, st, type, known);
		return;
	}
	module_message_in(r->srv, to->local, st);
	if (s != NULL)
		targets[n++] = s;
	else
		n = router_pick(dict_get(r->users, bare), type, targets,
		    ROUTER_MAX_TARGETS);
	for (i = 0; i < n; i++)
		router_send(targets[i], st);
	module_message_delivered(r->srv, to->local, st, targets, n);
	if (n > 0)
		return;
	if ((strcmp(type, "normal") == 0 || strcmp(type, "chat") == 0) &&
	    offline_store(r->srv, to->local, st) == 0)
		return;
	router_message_undeliverable(r, st, type, 0);
}

/* An iq for a local user's bare or full JID, not the sender's own. */
static void
router_iq(struct router *r, struct session *from, struct stanza *st,
    const struct jid *to)
{
	struct session	*s;
	char		 full[JID_MAX + 1];
	const char	*type = stanza_attr(st, "type");
	bool		 request;

	request = type != NULL && (strcmp(type, "get") == 0 ||
	    strcmp(type, "set") == 0);
	if (to->resource[0] != '\0') {
		s = dict_get(r->full, jid_full(to, full, sizeof(full)));
		if (s != NULL)
			router_send(s, st);
		else if (request)
			router_bounce(r, st, "service-unavailable");
		return;
	}
	if (!request)
		return;
	if (module_iq(r->srv, from, st, MOD_TO_OTHER) == MOD_PASS)
		router_bounce(r, st, "service-unavailable");
}

/* Presence delivered by the server to all resources of to (or one). */
static void
router_presence(struct router *r, struct stanza *st, const struct jid *to)
{
	struct session	*s;
	char		 jid[JID_MAX + 1];

	if (to->resource[0] != '\0') {
		if ((s = dict_get(r->full, jid_full(to, jid,
		    sizeof(jid)))) != NULL)
			router_send(s, st);
		return;
	}
	for (s = dict_get(r->users, jid_bare(to, jid, sizeof(jid)));
	    s != NULL; s = s->next)
		if (s->available)
			router_send(s, st);
}

/* Deliver a server-stamped stanza to its local destination. */
void
router_deliver(struct router *r, struct stanza *st)
{
	struct jid	 to;
	const char	*name = stanza_name(st), *t;

	if ((t = stanza_attr(st, "to")) == NULL || jid_parse(t, &to) == -1)
		return;
	if (strcmp(to.domain, r->srv->cfg->domain) != 0 ||
	    to.local[0] == '\0')
		return;
	if (strcmp(name, "message") == 0)
		router_message(r, st, &to);
	else if (strcmp(name, "iq") == 0)
		router_iq(r, NULL, st, &to);
	else
		router_presence(r, st, &to);
}

/* An iq addressed to the server or to the sender's own account. */
static void
router_iq_local(struct router *r, struct session *s, struct stanza *st,
    int target)
{
	const char	*type = stanza_attr(st, "type");

	if (type == NULL || (strcmp(type, "get") && strcmp(type, "set")))
		return;		/* results and errors to the server */
	if (module_iq(r->srv, s, st, target) == MOD_PASS)
		router_bounce(r, st, "service-unavailable");
}

/* Route a stanza from a bound client (RFC 6120 §8.1.1, §10). */
void
router_from_client(struct router *r, struct session *s, struct stanza *st)
{
	struct jid	 to;
	char		 norm[JID_MAX + 1];
	const char	*name = stanza_name(st), *t;
	const char	*domain = r->srv->cfg->domain;

	/* RFC 6120 §8.1.2.1: the server stamps the sender's full JID. */
	stanza_set_attr(st, "from", s->full);
	if ((t = stanza_attr(st, "to")) == NULL) {
		if (strcmp(name, "presence") == 0)
			presence_from_client(r->srv, s, st);
		else if (strcmp(name, "iq") == 0)
			router_iq_local(r, s, st, MOD_TO_ACCOUNT);
		else {
			stanza_set_attr(st, "to", s->bare);
			router_from_client(r, s, st);
		}
		return;
	}
	if (jid_parse(t, &to) == -1) {
		router_bounce(r, st, "jid-malformed");
		return;
	}
	stanza_set_attr(st, "to", jid_full(&to, norm, sizeof(norm)));
	if (strcmp(to.domain, domain) != 0) {
		if (strcmp(name, "presence") != 0)
			router_bounce(r, st, "remote-server-not-found");
		return;
	}
	if (strcmp(name, "presence") == 0) {
		presence_from_client(r->srv, s, st);
		return;
	}
	if (to.local[0] == '\0') {
		/* The server itself (RFC 6120 §10.4). */
		if (strcmp(name, "iq") == 0 && to.resource[0] == '\0')
			router_iq_local(r, s, st, MOD_TO_SERVER);
		else if (strcmp(name, "iq") == 0)
			router_bounce(r, st, "service-unavailable");
		return;
	}
	if (strcmp(name, "iq") == 0 && to.resource[0] == '\0' &&
	    strcmp(to.local, s->user) == 0) {
		router_iq_local(r, s, st, MOD_TO_ACCOUNT);
		return;
	}
	if (strcmp(name, "message") == 0) {
		if (module_message_out(r->srv, s, st) == MOD_PASS)
			router_message(r, st, &to);
	} else
		router_iq(r, s, st, &to);
}
