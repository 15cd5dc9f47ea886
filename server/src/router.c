/*
 * router.c: who is bound where, and where a stanza goes. All entities are
 * local: xmppd serves one domain and has no server-to-server links, so a
 * stanza for another domain gets remote-server-not-found.
 *
 * Delivery follows RFC 6121 §8.5: a full JID reaches that resource, a
 * bare JID reaches the eligible resources of router_pick(), and a chat or
 * normal message is spooled first, whether anyone takes it now or not
 * (through router_hooks: mod_offline.c's spool). Errors for an unknown
 * user and an offline one are the same service-unavailable, so presence
 * never leaks (RFC 6121 §8.5.2.2.1, §8.5.3.2.1). The router calls nothing
 * above it: what it must tell the modules goes through the hooks that
 * dispatch.c hands it, and stanzas from clients enter through dispatch.c.
 */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "dict.h"
#include "ev.h"
#include "jid.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"
#include "xmppd.h"

/* A delivery waiting for the turn's commit (router_flush). */
struct router_out {
	struct session	*s;		/* held */
	struct stanza	*st;		/* referenced */
	int64_t		 tag;		/* spool row, 0: none */
};

struct router {
	struct server	*srv;
	struct dict	*users;		/* bare JID -> session list */
	struct dict	*full;		/* full JID -> session */
	size_t		 total;
	const struct router_hooks *hooks; /* may be NULL */
	struct router_out *out;		/* this turn's deliveries */
	size_t		 nout, outcap;
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

void
router_set_hooks(struct router *r, const struct router_hooks *hooks)
{
	r->hooks = hooks;
}

/* Free the maps; every session must have been unbound. */
void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	router_flush(r, false);
	dict_free(r->users);
	dict_free(r->full);
	free(r->out);
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
	s->router = r;
	if ((old = dict_get(r->full, s->full)) != NULL) {
		log_info("c2s=%016llx replaced-by=%016llx jid=%s",
		    (unsigned long long)old->id, (unsigned long long)id,
		    s->full);
		old->ops->kick(old->arg, "conflict");
		/* kick unbinds synchronously; be sure it did. */
		if (dict_get(r->full, s->full) == old)
			router_unbind(r, old);
	}
	/* The account is known from now on (router_account_known). */
	if (r->srv->store != NULL)
		(void)store_user_seen(r->srv->store, user, proto_now_ms());
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
	s->presence = NULL;
	dict_free(s->directed);
	s->directed = NULL;
	free(s->user);
	free(s->bare);
	free(s->full);
	s->user = s->bare = s->full = NULL;
	s->resource = NULL;
	s->dead = true;
	if (s->holds == 0)
		free(s);
}

void
router_rebind(struct session *s, void *arg)
{
	s->arg = arg;
}

void
router_hold(struct session *s)
{
	s->holds++;
}

void
router_release(struct session *s)
{
	if (--s->holds == 0 && s->dead)
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

/* Queue a delivery until the turn's commit. */
void
router_send_spooled(struct session *s, struct stanza *st, int64_t tag)
{
	struct router		*r = s->router;
	struct router_out	*o;

	if (r->nout == r->outcap) {
		r->outcap = r->outcap == 0 ? 64 : r->outcap * 2;
		r->out = xreallocarray(r->out, r->outcap, sizeof(*r->out));
	}
	if (r->nout == 0)
		ev_wake(r->srv->ev);	/* queued after this turn's flush */
	o = &r->out[r->nout++];
	o->s = s;
	o->st = stanza_ref(st);
	o->tag = tag;
	router_hold(s);
}

void
router_send(struct session *s, struct stanza *st)
{
	router_send_spooled(s, st, 0);
}

/*
 * Deliver the turn's stanzas in the order they were routed. A delivery
 * may route more (it runs to the end of the list, new entries included).
 */
void
router_flush(struct router *r, bool committed)
{
	struct router_out	 o;
	size_t			 i;

	for (i = 0; i < r->nout; i++) {
		o = r->out[i];
		if (o.s->dead)
			;
		else if (!committed && strcmp(stanza_name(o.st),
		    "message") == 0)
			;	/* its sender was not acked: it resends */
		else if (o.tag > 0 && r->hooks != NULL &&
		    r->hooks->live != NULL)
			r->hooks->live(r->srv, o.s, o.st, o.tag);
		else if (o.tag > 0)
			o.s->ops->deliver(o.s->arg, o.st, o.tag);
		else
			o.s->ops->deliver(o.s->arg, o.st, 0);
		stanza_unref(o.st);
		router_release(o.s);
	}
	r->nout = 0;
	if (r->outcap > 1024) {		/* a burst is over */
		free(r->out);
		r->out = NULL;
		r->outcap = 0;
	}
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
	router_bounce_text(r, st, cond, NULL);
}

/* The same, saying why in a <text/> (NULL: no text). */
void
router_bounce_text(struct router *r, const struct stanza *st,
    const char *cond, const char *text)
{
	struct stanza	*err;

	if ((err = proto_error_text(st, cond, text)) == NULL)
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

/* The message's type attribute, "normal" if absent (RFC 6121 §5.2.2). */
const char *
router_msgtype(const struct stanza *st)
{
	const char	*type = stanza_attr(st, "type");

	return type != NULL ? type : "normal";
}

/*
 * Whether a message goes to the spool: chat and normal messages stay there
 * until one of the account's streams acknowledged them. Not spooled:
 * XEP-0334 no-store, and a XEP-0085 chat state without a body (typing
 * notifications are worthless later).
 */
bool
router_spoolable(const struct stanza *st)
{
	const struct stanza	*c;
	const char		*type = router_msgtype(st);

	if (strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0)
		return false;
	if (stanza_child(st, "no-store", NS_HINTS) != NULL)
		return false;
	for (c = stanza_first_child(st); c != NULL; c = stanza_next(c))
		if (strcmp(stanza_ns(c), NS_CHATSTATES) != 0 &&
		    strcmp(stanza_name(c), "thread") != 0)
			return true;
	return false;
}

/* Nobody to deliver to and not spooled: answer or drop (§8.5.2.2). */
void
router_undeliverable(struct router *r, struct stanza *st, int known)
{
	const char	*type = router_msgtype(st);

	if (strcmp(type, "headline") == 0 || strcmp(type, "error") == 0)
		return;
	/* A chat state for nobody: nothing to tell the sender. */
	if (known == 1 && strcmp(type, "groupchat") != 0 &&
	    stanza_child(st, "body", NS_CLIENT) == NULL)
		return;
	router_bounce(r, st, known == -1 ? "internal-server-error" :
	    "service-unavailable");
}

/*
 * A message for a local user (bare or full JID). The modules see it
 * before delivery (archive, stanza-id) and after (carbons). A spooled
 * message is written to the spool first, in the same batch, and reaches
 * each target through it (mod_offline.c: flow control, acks). A message
 * for an account nobody ever used is answered like one for an offline
 * resource, so presence does not leak (RFC 6121 §8.5.2.2.1).
 */
static void
router_message(struct router *r, struct stanza *st, const struct jid *to)
{
	struct session	*targets[ROUTER_MAX_TARGETS], *s = NULL;
	char		 bare[JID_MAX + 1], full[JID_MAX + 1];
	const char	*type = router_msgtype(st);
	size_t		 i, n = 0;
	int64_t		 seq = 0;
	int		 known = 1;
	bool		 spool;

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
		router_undeliverable(r, st, known);
		return;
	}
	spool = router_spoolable(st);
	if (r->hooks != NULL && r->hooks->message_in != NULL)
		r->hooks->message_in(r->srv, to->local, st);
	if (spool && r->hooks != NULL && r->hooks->spool != NULL &&
	    (seq = r->hooks->spool(r->srv, to->local, st,
	    s != NULL ? s->resource : NULL)) == -1)
		return;		/* the batch fails: nobody is acked */
	if (s != NULL)
		targets[n++] = s;
	else
		n = router_pick(dict_get(r->users, bare), type, targets,
		    ROUTER_MAX_TARGETS);
	for (i = 0; i < n; i++)
		router_send_spooled(targets[i], st, seq);
	if (r->hooks != NULL && r->hooks->delivered != NULL)
		r->hooks->delivered(r->srv, to->local, st, targets, n);
	if (n == 0 && !spool)
		router_undeliverable(r, st, 1);
}

/*
 * A server-stamped iq for a local user: a full JID reaches that resource;
 * a request to a bare JID has nobody to answer it here (client requests
 * to a bare JID are dispatch.c's, through the module table).
 */
static void
router_iq(struct router *r, struct stanza *st, const struct jid *to)
{
	struct session	*s = NULL;
	char		 full[JID_MAX + 1];
	const char	*type = stanza_attr(st, "type");
	bool		 request;

	request = type != NULL && (strcmp(type, "get") == 0 ||
	    strcmp(type, "set") == 0);
	if (to->resource[0] != '\0')
		s = dict_get(r->full, jid_full(to, full, sizeof(full)));
	if (s != NULL)
		router_send(s, st);
	else if (request)
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
		router_iq(r, st, &to);
	else
		router_presence(r, st, &to);
}
