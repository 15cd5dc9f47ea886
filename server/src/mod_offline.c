/*
 * mod_offline.c: the delivery spool. Every chat or normal message for a
 * local account is written here in the batch that acknowledges it to its
 * sender, and stays until one of the account's streams acknowledged it
 * (XEP-0198), or was handed to a stream that cannot acknowledge. Delivery
 * therefore does not depend on the archive, on the in-memory XEP-0198
 * queue, or on the process surviving: after a crash, every unacknowledged
 * message is pushed again at the next login, with its stanza-id.
 *
 * A message reaches a stream in one of two ways:
 *   live        router_flush() hands it over right after the commit,
 *               if the stream has room (offline_live);
 *   catching up a stream that logs in (initial presence, RFC 6121
 *               §8.5.2.1.1 / XEP-0160), or that had no room for a live
 *               one, reads the spool from its position on, in windows
 *               no larger than its room (offline_flush). Live messages
 *               for it wait in the spool meanwhile, so order is kept.
 * Room is flow control: half the XEP-0198 queue, or for a stream without
 * it, whatever its output buffer takes. No queue size can overflow a
 * stream, and nothing is inserted into the spool while it is being read.
 *
 * A spooled message carries <stanza-id by='user@domain'/>: the archive
 * id when mod_mam archived it, else a new 128-bit id of its own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dict.h"
#include "ev.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"
#include "xmlp.h"
#include "xmppd.h"

#define OFFLINE_CHUNK		100	/* rows a stream takes per turn */
#define OFFLINE_RETRY_MS	100	/* output full, no acks to wait for */
#define OFFLINE_PRUNE_MS	(3600 * 1000)	/* origin-id expiry */
#define OFFLINE_ORIGIN_KEEP_MS	(24LL * 3600 * 1000)

struct offline {
	struct dict	*counts;	/* user -> rows + 1, a cache */
	/* Delivered while the store refused writes: deleted on recovery. */
	int64_t		*later;
	size_t		 nlater, latercap;
	struct session	*drain;		/* streams catching up */
	struct ev_timer	*retry;
	struct ev_timer	*prune;
};

/* Rows in user's spool (cached), or -1. */
static int
offline_count(struct server *srv, const char *user)
{
	struct offline	*o = srv->offline;
	uintptr_t	 v;
	int		 n;

	if ((v = (uintptr_t)dict_get(o->counts, user)) != 0)
		return (int)(v - 1);
	if ((n = store_spool_count(srv->store, user)) >= 0)
		dict_set(o->counts, user, (void *)(uintptr_t)(n + 1));
	return n;
}

static void
offline_count_add(struct server *srv, const char *user, int d)
{
	struct offline	*o = srv->offline;
	uintptr_t	 v = (uintptr_t)dict_get(o->counts, user);

	if (v != 0 && (d > 0 || v > 1))
		dict_set(o->counts, user, (void *)(v + (uintptr_t)(intptr_t)d));
}

bool
offline_full(struct server *srv, const char *user)
{
	int	n = offline_count(srv, user);
	int64_t	b;

	if (n >= 0 && (unsigned)n >= srv->cfg->max_offline) {
		log_info("offline: spool full user=%s max=%u", user,
		    srv->cfg->max_offline);
		return true;
	}
	/* In bytes too: max-offline messages of max-stanza-size would be
	 * 250 MiB per account with the defaults. The check comes before
	 * the write, so the spool ends at most one stanza over. */
	if (srv->cfg->max_offline_mb > 0 &&
	    (b = store_spool_bytes(srv->store, user)) >= 0 &&
	    b >= (int64_t)srv->cfg->max_offline_mb * 1024 * 1024) {
		log_info("offline: spool full user=%s bytes=%lld max=%uMiB",
		    user, (long long)b, srv->cfg->max_offline_mb);
		return true;
	}
	return false;
}

/* Our own stanza-id on st (by user's bare JID), or NULL. */
static const char *
offline_sid(const struct stanza *st, const char *bare)
{
	const struct stanza	*c;
	const char		*by;

	for (c = stanza_first_child(st); c != NULL; c = stanza_next(c))
		if (strcmp(stanza_name(c), "stanza-id") == 0 &&
		    strcmp(stanza_ns(c), NS_SID) == 0 &&
		    (by = stanza_attr(c, "by")) != NULL &&
		    strcmp(by, bare) == 0)
			return stanza_attr(c, "id");
	return NULL;
}

static void
offline_add_sid(struct stanza *st, const char *bare, const char *id)
{
	struct stanza	*sid = stanza_new_child(st, "stanza-id", NS_SID);

	stanza_set_attr(sid, "by", bare);
	stanza_set_attr(sid, "id", id);
}

int64_t
offline_spool(struct server *srv, const char *user, struct stanza *st,
    const char *resource)
{
	char		 bare[JID_MAX + 1], fresh[33];
	const char	*id;
	char		*xml;
	int64_t		 seq;

	jid_join(user, srv->cfg->domain, bare, sizeof(bare));
	if ((id = offline_sid(st, bare)) == NULL) {
		proto_random_id128(fresh);
		offline_add_sid(st, bare, fresh);
		id = fresh;
	}
	xml = stanza_serialize(st, NS_CLIENT, NULL);
	seq = store_spool_push(srv->store, user, id, resource, xml,
	    proto_now_ms());
	free(xml);
	if (seq > 0)
		offline_count_add(srv, user, 1);
	return seq;
}

/*
 * A row was delivered for good: forget it (soft; a failure redelivers).
 * While the store is degraded the deletion waits in memory (bounded: no
 * new message is accepted meanwhile).
 */
static void
offline_delivered(struct server *srv, const char *user, int64_t seq)
{
	struct offline	*o = srv->offline;

	if (store_degraded(srv->store)) {
		if (o->nlater == o->latercap) {
			o->latercap = o->latercap == 0 ? 64 : o->latercap * 2;
			o->later = xreallocarray(o->later, o->latercap,
			    sizeof(*o->later));
		}
		o->later[o->nlater++] = seq;
		return;
	}
	if (store_spool_del(srv->store, seq) == 1)
		offline_count_add(srv, user, -1);
}

/* The store takes writes again: the deletions that waited. */
static void
offline_delete_later(struct server *srv)
{
	struct offline	*o = srv->offline;
	size_t		 i;

	if (o->nlater == 0 || store_degraded(srv->store))
		return;
	for (i = 0; i < o->nlater; i++)
		(void)store_spool_del(srv->store, o->later[i]);
	log_info("offline: %zu delivered messages removed after the store "
	    "recovered", o->nlater);
	o->nlater = 0;
	/* The counts are unknown now: read them again. */
	dict_free(o->counts);
	o->counts = dict_new();
	ev_wake(srv->ev);		/* commit them */
}

void
offline_acked(struct server *srv, struct session *s, int64_t tag)
{
	offline_delivered(srv, s->user, tag);
}

/*
 * Put s on the list of streams to catch up after a commit: the next one
 * (now), or the one after the retry timer.
 */
static void
offline_list(struct server *srv, struct session *s, bool now)
{
	struct offline	*o = srv->offline;

	if (!s->drain_listed) {
		s->drain_listed = true;
		router_hold(s);
		s->drain_next = o->drain;
		o->drain = s;
	}
	if (now)
		ev_wake(srv->ev);
	else
		ev_timer_set(o->retry, OFFLINE_RETRY_MS);
}

/* s reads the spool after row pos from now on (live messages wait). */
static void
offline_catch_up(struct server *srv, struct session *s, int64_t pos)
{
	if (!s->draining) {
		s->draining = true;
		s->spool_pos = pos;
	}
	offline_list(srv, s, true);
}

void
offline_resume(struct server *srv, struct session *s)
{
	if (s->draining)
		offline_list(srv, s, true);
}

/* Hand one spooled message to s (room was checked). */
static void
offline_push(struct server *srv, struct session *s, struct stanza *st,
    int64_t tag)
{
	s->ops->deliver(s->arg, st, tag);
	if (!s->ops->acks(s->arg))
		offline_delivered(srv, s->user, tag);
}

void
offline_live(struct server *srv, struct session *s, struct stanza *st,
    int64_t tag)
{
	if (s->draining)
		return;		/* it comes from the spool, in order */
	if (s->ops->room(s->arg) > 0) {
		offline_push(srv, s, st, tag);
		return;
	}
	/* No room: it waits in the spool; an available resource catches
	 * up from just before it (RFC 6121: not before initial presence). */
	if (s->available && s->priority >= 0)
		offline_catch_up(srv, s, tag - 1);
}

/* A page of spool rows, copied out before anything is sent. */
struct offline_page {
	struct offline_row {
		int64_t	 seq;
		char	*id;
		char	*resource;
		int64_t	 stamp_ms;
		char	*xml;
	}	rows[OFFLINE_CHUNK];
	size_t	n;
};

static void
offline_collect(void *arg, const struct store_spool_row *r)
{
	struct offline_page	*p = arg;
	struct offline_row	*row;

	if (p->n == OFFLINE_CHUNK)
		return;
	row = &p->rows[p->n++];
	row->seq = r->seq;
	row->id = xstrdup(r->id);
	row->resource = r->resource != NULL ? xstrdup(r->resource) : NULL;
	row->stamp_ms = r->stamp_ms;
	row->xml = xstrdup(r->xml);
}

static void
offline_page_clear(struct offline_page *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++) {
		free(p->rows[i].id);
		free(p->rows[i].resource);
		free(p->rows[i].xml);
	}
	p->n = 0;
}

/* A row addressed to another resource of s's account that is bound. */
static bool
offline_elsewhere(struct server *srv, struct session *s,
    const struct offline_row *row)
{
	char	full[JID_MAX + 1];

	if (row->resource == NULL || strcmp(row->resource, s->resource) == 0)
		return false;
	snprintf(full, sizeof(full), "%s/%s", s->bare, row->resource);
	return router_session(srv->router, full) != NULL;
}

/* Whether st already carries this server's delay stamp. */
static bool
offline_stamped(const struct stanza *st, const char *domain)
{
	const struct stanza	*c;
	const char		*from;

	for (c = stanza_first_child(st); c != NULL; c = stanza_next(c))
		if (strcmp(stanza_name(c), "delay") == 0 &&
		    strcmp(stanza_ns(c), NS_DELAY) == 0 &&
		    (from = stanza_attr(c, "from")) != NULL &&
		    strcmp(from, domain) == 0)
			return true;
	return false;
}

/* The stored message as a late delivery: its stanza-id and a delay. */
static struct stanza *
offline_stanza(struct server *srv, struct session *s,
    const struct offline_row *row)
{
	struct stanza	*st;

	if ((st = xmlp_parse_stanza(row->xml, strlen(row->xml))) == NULL) {
		log_warnx("offline: unparsable spooled message user=%s "
		    "seq=%lld", s->user, (long long)row->seq);
		return NULL;
	}
	if (offline_sid(st, s->bare) == NULL)
		offline_add_sid(st, s->bare, row->id);
	/*
	 * XEP-0203: our first stamp stays (a message spooled twice). A
	 * sender's own delay does not count: dispatch.c strips one that
	 * claims to be ours, any other is the sender's business.
	 */
	if (!offline_stamped(st, srv->cfg->domain))
		proto_add_delay(st, srv->cfg->domain, row->stamp_ms);
	return st;
}

/* Give s its next window of rows; whether it needs another turn. */
static bool
offline_drain(struct server *srv, struct session *s)
{
	struct offline_page	 page;
	struct stanza		*st;
	size_t			 room = s->ops->room(s->arg), i;
	unsigned		 want;
	int			 n;

	if (room == 0)
		return !s->ops->acks(s->arg);	/* else an ack resumes it */
	want = room < OFFLINE_CHUNK ? (unsigned)room : OFFLINE_CHUNK;
	page.n = 0;
	n = store_spool_after(srv->store, s->user, s->spool_pos, want,
	    offline_collect, &page);
	if (n == -1) {
		offline_page_clear(&page);
		return true;
	}
	for (i = 0; i < page.n; i++) {
		s->spool_pos = page.rows[i].seq;
		if (offline_elsewhere(srv, s, &page.rows[i]) ||
		    (st = offline_stanza(srv, s, &page.rows[i])) == NULL)
			continue;
		offline_push(srv, s, st, page.rows[i].seq);
		stanza_unref(st);
		if (s->dead)
			break;
	}
	offline_page_clear(&page);
	if ((unsigned)n < want) {
		s->draining = false;	/* caught up: live from now on */
		return false;
	}
	return true;
}

void
offline_flush(struct server *srv, bool committed)
{
	struct offline	*o = srv->offline;
	struct session	*list, *s;

	if (!committed) {
		/* The counts may include rows that were rolled back. */
		dict_free(o->counts);
		o->counts = dict_new();
		return;
	}
	offline_delete_later(srv);
	list = o->drain;
	o->drain = NULL;
	while ((s = list) != NULL) {
		list = s->drain_next;
		s->drain_next = NULL;
		s->drain_listed = false;
		if (!s->dead && s->draining && offline_drain(srv, s))
			offline_list(srv, s, s->ops->room(s->arg) > 0);
		router_release(s);
	}
}

/* A stream without acks had no room: look again after a commit. */
static void
offline_retry(void *arg)
{
	struct server	*srv = arg;

	ev_wake(srv->ev);
}

static void
offline_available(struct server *srv, struct session *s)
{
	/* RFC 6121 §8.5.2.1.1: negative priority never gets messages. */
	if (s->priority < 0)
		return;
	offline_catch_up(srv, s, 0);
}

/* Origin-ids older than the resend window are of no more use. */
static void
offline_prune(void *arg)
{
	struct server	*srv = arg;

	(void)store_origin_expire(srv->store, proto_now_ms() -
	    OFFLINE_ORIGIN_KEEP_MS);
	ev_timer_set(srv->offline->prune, OFFLINE_PRUNE_MS);
}

static void
offline_init(struct server *srv)
{
	struct offline	*o = xcalloc(1, sizeof(*o));

	o->counts = dict_new();
	o->retry = ev_timer_new(srv->ev, offline_retry, srv);
	o->prune = ev_timer_new(srv->ev, offline_prune, srv);
	ev_timer_set(o->prune, OFFLINE_PRUNE_MS);
	srv->offline = o;
}

static void
offline_fini(struct server *srv)
{
	struct offline	*o = srv->offline;
	struct session	*s;

	while ((s = o->drain) != NULL) {
		o->drain = s->drain_next;
		router_release(s);
	}
	dict_free(o->counts);
	free(o->later);
	ev_timer_free(o->retry);
	ev_timer_free(o->prune);
	free(o);
	srv->offline = NULL;
}

static const char *const offline_features[] = { "msgoffline", NULL };

const struct module mod_offline = {
	.name = "offline",
	.xep = 160,
	.features = offline_features,
	.init = offline_init,
	.fini = offline_fini,
	.available = offline_available,
};
