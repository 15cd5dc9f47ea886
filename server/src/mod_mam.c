/*
 * mod_mam.c: XEP-0313 message archive management on each user's archive,
 * with XEP-0359 stanza-ids and XEP-0059 paging.
 *
 * Both directions are archived in the same store batch as the routing
 * that follows, so by the time XEP-0198 acknowledges a message it is in
 * the archive; a failed archive write fails the batch, so it is not
 * acknowledged either. The archive id is the <stanza-id/> the recipient
 * sees, and it travels inside the stanza into the spool and the stream
 * management queue, so every redelivery carries it. Delivery itself does
 * not depend on the archive (mod_offline.c), nor does the recognition of
 * resends by origin-id (router.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "datetime.h"
#include "ev.h"
#include "jid.h"
#include "log.h"
#include "mam_query.h"
#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"
#include "xmlp.h"
#include "xmppd.h"

#define MAM_EXPIRY_PERIOD_MS	(3600 * 1000)	/* retention sweep */
#define MAM_DAY_MS		(24LL * 3600 * 1000)

/* XEP-0313 §4.1.1 with XEP-0334 hints: IM messages with a body. */
static bool
mam_archivable(const struct stanza *msg)
{
	const char	*type = stanza_attr(msg, "type");

	if (type != NULL && strcmp(type, "chat") != 0 &&
	    strcmp(type, "normal") != 0)
		return false;
	if (stanza_child(msg, "no-store", NS_HINTS) != NULL ||
	    stanza_child(msg, "no-permanent-store", NS_HINTS) != NULL)
		return false;
	return stanza_child(msg, "body", NS_CLIENT) != NULL;
}

/* Bare JID of a stamped address, into out; NULL if unparsable. */
static const char *
mam_bare(const char *addr, char *out, size_t len)
{
	struct jid	j;

	if (addr == NULL || jid_parse(addr, &j) == -1)
		return NULL;
	return jid_bare(&j, out, len);
}

/* Does owner's preference archive messages with peer (a bare JID)? */
static bool
mam_wanted(struct server *srv, const char *owner, const char *peer)
{
	struct store_roster_item	it;
	int				rule, dflt = -1;

	if ((rule = store_mam_prefs_rule(srv->store, owner, peer)) != -1)
		return rule == 1;
	if (store_mam_prefs_get(srv->store, owner, &dflt, NULL, NULL) == -1 ||
	    dflt == -1)
		dflt = (int)srv->cfg->mam_default;
	if (dflt == CONFIG_MAM_ALWAYS)
		return true;
	if (dflt == CONFIG_MAM_NEVER)
		return false;
	if (store_roster_item(srv->store, owner, peer, &it) != 1)
		return false;
	store_roster_item_clear(&it);
	return true;
}

/*
 * Keep owner's archive within mam-quota-rows and mam-quota-mb by dropping
 * its oldest rows, in the batch of the message that went over: a flood
 * can neither fill the disk nor push out anything newer than itself. A
 * failed trim is soft: the message is still archived and delivered, and
 * the next one trims again.
 */
static void
mam_quota(struct server *srv, const char *owner)
{
	int	n;

	n = store_archive_trim(srv->store, owner,
	    (int64_t)srv->cfg->mam_quota_rows,
	    (int64_t)srv->cfg->mam_quota_mb * 1024 * 1024);
	if (n > 0)
		log_debug("mam: quota dropped %d oldest messages user=%s", n,
		    owner);
}

static int
mam_store(struct server *srv, const char *owner, const char *id,
    const char *peer_bare, const char *peer, const char *origin,
    bool outgoing, const struct stanza *msg)
{
	char	*xml;
	int	 rc;

	xml = stanza_serialize(msg, NS_CLIENT, NULL);
	rc = store_archive_add(srv->store, owner, id, proto_now_ms(),
	    peer_bare, peer, origin, outgoing, xml);
	free(xml);
	if (rc == 0)
		mam_quota(srv, owner);
	return rc;
}

static const char *
mam_origin_id(const struct stanza *msg)
{
	const struct stanza	*o = stanza_child(msg, "origin-id", NS_SID);

	return o != NULL ? stanza_attr(o, "id") : NULL;
}

static enum mod_result
mam_message_out(struct server *srv, struct session *from,
    struct stanza *msg)
{
	char		 peer[JID_MAX + 1], id[33];
	const char	*to = stanza_attr(msg, "to");

	if (!mam_archivable(msg) || mam_bare(to, peer, sizeof(peer)) == NULL)
		return MOD_PASS;
	/* A message to oneself is archived once, as received. */
	if (strcmp(peer, from->bare) == 0)
		return MOD_PASS;
	if (!mam_wanted(srv, from->user, peer))
		return MOD_PASS;
	proto_random_id128(id);
	/* A failure fails the batch: the sender gets no ack and resends. */
	(void)mam_store(srv, from->user, id, peer, to, mam_origin_id(msg),
	    true, msg);
	return MOD_PASS;
}

/*
 * XEP-0359 §5: a stanza-id claiming to be ours is a forgery; drop it.
 * "Ours" is compared as a normalised JID: a client reads by='Alice@X'
 * as the same archive as by='alice@x'.
 */
static bool
mam_claims(const char *by, const char *own)
{
	struct jid	j;
	char		buf[JID_MAX + 1];

	if (by == NULL)
		return true;
	if (jid_parse(by, &j) == -1)
		return false;
	return strcmp(jid_full(&j, buf, sizeof(buf)), own) == 0;
}

static void
mam_strip_ids(struct stanza *msg, const char *by)
{
	struct stanza	*c, *next;

	for (c = stanza_first_child(msg); c != NULL; c = next) {
		next = stanza_next(c);
		if (strcmp(stanza_name(c), "stanza-id") == 0 &&
		    strcmp(stanza_ns(c), NS_SID) == 0 &&
		    mam_claims(stanza_attr(c, "by"), by))
			stanza_remove_child(msg, c);
	}
}

static void
mam_message_in(struct server *srv, const char *user, struct stanza *msg)
{
	char		 own[JID_MAX + 1], peer[JID_MAX + 1], id[33];
	const char	*from = stanza_attr(msg, "from");
	struct stanza	*sid;

	jid_join(user, srv->cfg->domain, own, sizeof(own));
	mam_strip_ids(msg, own);
	if (!mam_archivable(msg) || mam_bare(from, peer, sizeof(peer)) == NULL ||
	    !mam_wanted(srv, user, peer))
		return;
	proto_random_id128(id);
	if (mam_store(srv, user, id, peer, from, mam_origin_id(msg), false,
	    msg) == -1)
		return;		/* the batch fails: nobody is acked */
	sid = stanza_new_child(msg, "stanza-id", NS_SID);
	stanza_set_attr(sid, "by", own);
	stanza_set_attr(sid, "id", id);
}

/* Rows collected for one page. */
struct mam_page {
	struct mam_row {
		int64_t	 seq;
		char	*id;
		int64_t	 stamp_ms;
		char	*xml;
	}		*rows;
	size_t		 n;
};

static void
mam_collect(void *arg, const struct store_archive_row *r)
{
	struct mam_page	*p = arg;
	struct mam_row	*row;

	p->rows = xreallocarray(p->rows, p->n + 1, sizeof(*p->rows));
	row = &p->rows[p->n++];
	row->seq = r->seq;
	row->id = xstrdup(r->id);
	row->stamp_ms = r->stamp_ms;
	row->xml = xstrdup(r->xml);
}

static void
mam_page_free(struct mam_page *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++) {
		free(p->rows[i].id);
		free(p->rows[i].xml);
	}
	free(p->rows);
}

/* One <message><result><forwarded/></result></message> to the client. */
static void
mam_send_result(struct session *s, const struct mam_query *q,
    const struct mam_row *row)
{
	struct stanza	*m, *res, *fwd, *orig;
	char		 stamp[DATETIME_LEN];

	if ((orig = xmlp_parse_stanza(row->xml, strlen(row->xml))) == NULL) {
		log_warnx("mam: unparsable archived message user=%s id=%s",
		    s->user, row->id);
		return;
	}
	m = stanza_new("message", NS_CLIENT);
	stanza_set_attr(m, "to", s->full);
	res = stanza_new_child(m, "result", NS_MAM);
	if (q->queryid != NULL)
		stanza_set_attr(res, "queryid", q->queryid);
	stanza_set_attr(res, "id", row->id);
	fwd = stanza_new_child(res, "forwarded", NS_FORWARD);
	datetime_format(row->stamp_ms, stamp);
	stanza_set_attr(stanza_new_child(fwd, "delay", NS_DELAY), "stamp",
	    stamp);
	stanza_add_child(fwd, orig);
	router_send(s, m);
	stanza_unref(m);
}

static void
mam_text_child(struct stanza *parent, const char *name, const char *text)
{
	stanza_add_text(stanza_new_child(parent, name, NULL), text,
	    strlen(text));
}

/* Resolve a client-given id to its seq: 1, 0 (unknown), -1 error. */
static int
mam_seq(struct server *srv, const char *owner, const char *id, int64_t *seq)
{
	struct mam_page	p = { 0 };
	int		rc;

	rc = store_archive_get(srv->store, owner, id, mam_collect, &p);
	if (rc == 1)
		*seq = p.rows[0].seq;
	mam_page_free(&p);
	return rc;
}

static int
mam_lookup(struct server *srv, struct session *s, const struct mam_query *q,
    struct mam_page *p, bool *complete, const char **cond)
{
	struct store_archive_query	sq = {
		.owner = s->user, .with = q->with, .with_bare = q->with_bare,
		.start = q->start, .end = q->end, .limit = q->max + 1,
	};
	size_t				i;
	int				rc;

	/* §5.1.2: an id the archive does not hold is item-not-found. */
	*cond = "item-not-found";
	for (i = 0; i < q->nids; i++) {
		rc = store_archive_get(srv->store, s->user, q->ids[i],
		    mam_collect, p);
		if (rc == -1)
			*cond = "internal-server-error";
		if (rc != 1)
			return -1;
	}
	if (q->nids > 0) {
		*complete = true;
		return 0;
	}
	if ((q->after_id != NULL && mam_seq(srv, s->user, q->after_id,
	    &sq.after_seq) != 1) || (q->before_id != NULL &&
	    mam_seq(srv, s->user, q->before_id, &sq.before_seq) != 1))
		return -1;
	/* Paging backwards (<before/>) reads from the newest end. */
	sq.newest_first = q->last_page || (q->before_id != NULL &&
	    q->after_id == NULL);
	if (store_archive_query(srv->store, &sq, mam_collect, p) == -1) {
		*cond = "internal-server-error";
		return -1;
	}
	*complete = p->n <= q->max;
	if (!*complete) {
		free(p->rows[--p->n].id);
		free(p->rows[p->n].xml);
	}
	if (sq.newest_first)		/* back to chronological order */
		for (i = 0; i < p->n / 2; i++) {
			struct mam_row	t = p->rows[i];

			p->rows[i] = p->rows[p->n - 1 - i];
			p->rows[p->n - 1 - i] = t;
		}
	return 0;
}

/*
 * The largest page: mam-max-page, but no more than half a XEP-0198 queue,
 * so one page never overflows a client's queue (XEP-0059 lets a page be
 * shorter than asked; the client pages on).
 */
static unsigned
mam_page_max(const struct server *srv)
{
	unsigned	half = srv->cfg->sm_queue_max / 2;

	if (half == 0)
		half = 1;
	return srv->cfg->mam_max_page < half ? srv->cfg->mam_max_page : half;
}

static void
mam_count_row(void *arg, const struct store_archive_row *r)
{
	(void)r;
	++*(size_t *)arg;
}

/*
 * XEP-0059 §2.6: <max>0</max> asks for the number of matching items and
 * no item. The rows are counted, not kept.
 */
static void
mam_count(struct server *srv, struct session *s, struct stanza *iq,
    const struct mam_query *q)
{
	struct store_archive_query	 sq = {
		.owner = s->user, .with = q->with, .with_bare = q->with_bare,
		.start = q->start, .end = q->end,
	};
	struct stanza			*r, *fin;
	char				 num[24];
	size_t				 n = 0;

	if ((q->after_id != NULL && mam_seq(srv, s->user, q->after_id,
	    &sq.after_seq) != 1) || (q->before_id != NULL &&
	    mam_seq(srv, s->user, q->before_id, &sq.before_seq) != 1)) {
		router_bounce(srv->router, iq, "item-not-found");
		return;
	}
	if (store_archive_query(srv->store, &sq, mam_count_row, &n) == -1) {
		router_bounce(srv->router, iq, "internal-server-error");
		return;
	}
	r = proto_iq_result(iq);
	fin = stanza_new_child(r, "fin", NS_MAM);
	if (n == 0)
		stanza_set_attr(fin, "complete", "true");
	snprintf(num, sizeof(num), "%zu", n);
	mam_text_child(stanza_new_child(fin, "set", NS_RSM), "count", num);
	router_send(s, r);
	stanza_unref(r);
}

/*
 * At most mam-queries-per-turn archive queries per session in one loop
 * turn. A client that pipelines hundreds of queries has them all parsed
 * from one read, in one turn; answered in full they would hold the loop
 * (and everyone else's logins and messages) for as long as they take.
 * Past the budget a query is refused with resource-constraint (type
 * wait): it costs an error reply, and a client that waits for each page,
 * as paging does, never meets the limit.
 */
static bool
mam_over_budget(struct server *srv, struct session *s)
{
	uint64_t	turn = ev_turn(srv->ev);

	if (s->mam_turn != turn) {
		s->mam_turn = turn;
		s->mam_queries = 0;
	}
	if (s->mam_queries >= srv->cfg->mam_queries_per_turn)
		return true;
	s->mam_queries++;
	return false;
}

static enum mod_result
mam_query(struct server *srv, struct session *s, struct stanza *iq)
{
	struct mam_query	 q;
	struct mam_page		 p = { 0 };
	struct stanza		*r, *fin, *set;
	const char		*cond, *text;
	bool			 complete = true;
	size_t			 i, k;

	if (mam_over_budget(srv, s)) {
		router_bounce(srv->router, iq, "resource-constraint");
		return MOD_HANDLED;
	}
	if (mam_query_parse(stanza_first_child(iq), mam_page_max(srv),
	    &q, &cond, &text) == -1) {
		router_bounce_text(srv->router, iq, cond, text);
		return MOD_HANDLED;
	}
	if (q.max == 0 && q.nids == 0) {
		mam_count(srv, s, iq, &q);
		goto done;
	}
	if (mam_lookup(srv, s, &q, &p, &complete, &cond) == -1) {
		router_bounce(srv->router, iq, cond);
		goto done;
	}
	for (i = 0; i < p.n; i++) {
		k = q.flip ? p.n - 1 - i : i;
		mam_send_result(s, &q, &p.rows[k]);
	}
	r = proto_iq_result(iq);
	fin = stanza_new_child(r, "fin", NS_MAM);
	if (complete)
		stanza_set_attr(fin, "complete", "true");
	set = stanza_new_child(fin, "set", NS_RSM);
	if (p.n > 0) {
		mam_text_child(set, "first", p.rows[0].id);
		mam_text_child(set, "last", p.rows[p.n - 1].id);
	} else
		mam_text_child(set, "count", "0");
	router_send(s, r);
	stanza_unref(r);
done:
	mam_page_free(&p);
	mam_query_clear(&q);
	return MOD_HANDLED;
}

/* §5.1.1: the form a client can fill in. */
static enum mod_result
mam_fields(struct server *srv, struct session *s, struct stanza *iq)
{
	static const char *const	fields[][2] = {
		{ "with", "jid-single" }, { "start", "text-single" },
		{ "end", "text-single" }, { "after-id", "text-single" },
		{ "before-id", "text-single" }, { "ids", "text-multi" },
	};
	struct stanza			*r, *x, *f;
	size_t				 i;

	(void)srv;
	r = proto_iq_result(iq);
	x = stanza_new_child(stanza_new_child(r, "query", NS_MAM), "x",
	    NS_DATA);
	stanza_set_attr(x, "type", "form");
	f = stanza_new_child(x, "field", NULL);
	stanza_set_attr(f, "var", "FORM_TYPE");
	stanza_set_attr(f, "type", "hidden");
	mam_text_child(f, "value", NS_MAM);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		f = stanza_new_child(x, "field", NULL);
		stanza_set_attr(f, "var", fields[i][0]);
		stanza_set_attr(f, "type", fields[i][1]);
	}
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

static const char *const mam_default_names[] = {
	[CONFIG_MAM_ALWAYS] = "always",
	[CONFIG_MAM_ROSTER] = "roster",
	[CONFIG_MAM_NEVER] = "never",
};

/* Build the <prefs/> answer: one list entry per stored rule. */
struct mam_prefs_out {
	struct stanza	*always;
	struct stanza	*never;
};

static int
mam_prefs_add(void *arg, const char *jid, bool always)
{
	struct mam_prefs_out	*o = arg;

	mam_text_child(always ? o->always : o->never, "jid", jid);
	return 0;
}

static enum mod_result
mam_prefs_reply(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza		*r, *prefs;
	struct mam_prefs_out	 o;
	int			 dflt = -1;

	r = proto_iq_result(iq);
	prefs = stanza_new_child(r, "prefs", NS_MAM);
	o.always = stanza_new_child(prefs, "always", NULL);
	o.never = stanza_new_child(prefs, "never", NULL);
	if (store_mam_prefs_get(srv->store, s->user, &dflt, mam_prefs_add,
	    &o) == -1) {
		stanza_unref(r);
		router_bounce(srv->router, iq, "internal-server-error");
		return MOD_HANDLED;
	}
	if (dflt < 0 || dflt > CONFIG_MAM_NEVER)
		dflt = (int)srv->cfg->mam_default;
	stanza_set_attr(prefs, "default", mam_default_names[dflt]);
	router_send(s, r);
	stanza_unref(r);
	return MOD_HANDLED;
}

/* The normalised <jid/> children of list; -1 if one is malformed. */
static int
mam_prefs_list(const struct stanza *list, char ***out, size_t *n)
{
	const struct stanza	*c;
	struct jid		 j;
	char			 buf[JID_MAX + 1];

	*out = NULL;
	*n = 0;
	for (c = list != NULL ? stanza_first_child(list) : NULL; c != NULL;
	    c = stanza_next(c)) {
		if (strcmp(stanza_name(c), "jid") != 0)
			continue;
		if (jid_parse(stanza_text(c), &j) == -1)
			return -1;
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		(*out)[(*n)++] = xstrdup(jid_bare(&j, buf, sizeof(buf)));
	}
	return 0;
}

static void
mam_strv_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

static enum mod_result
mam_prefs(struct server *srv, struct session *s, struct stanza *iq)
{
	struct stanza	*p = stanza_first_child(iq);
	const char	*d = stanza_attr(p, "default");
	char		**always = NULL, **never = NULL;
	size_t		 na = 0, nn = 0;
	int		 dflt;

	if (strcmp(stanza_attr(iq, "type"), "get") == 0)
		return mam_prefs_reply(srv, s, iq);
	if (store_degraded(srv->store)) {
		router_bounce(srv->router, iq, "resource-constraint");
		return MOD_HANDLED;
	}
	for (dflt = 0; dflt <= CONFIG_MAM_NEVER; dflt++)
		if (d != NULL && strcmp(d, mam_default_names[dflt]) == 0)
			break;
	if (dflt > CONFIG_MAM_NEVER ||
	    mam_prefs_list(stanza_child(p, "always", NS_MAM), &always,
	    &na) == -1 ||
	    mam_prefs_list(stanza_child(p, "never", NS_MAM), &never,
	    &nn) == -1) {
		router_bounce(srv->router, iq, "bad-request");
		goto done;
	}
	if (store_mam_prefs_set(srv->store, s->user, dflt,
	    (const char *const *)always, na, (const char *const *)never,
	    nn) == -1) {
		router_bounce(srv->router, iq, "internal-server-error");
		goto done;
	}
	mam_prefs_reply(srv, s, iq);
done:
	mam_strv_free(always, na);
	mam_strv_free(never, nn);
	return MOD_HANDLED;
}

/* mod_mam's own state (srv->mam). */
struct mam {
	struct ev_timer	*expiry;	/* retention sweep */
};

/* Retention: drop what is older than mam-retention-days, hourly. */
static void
mam_expire(void *arg)
{
	struct server	*srv = arg;
	int		 n;

	if (srv->cfg->mam_retention_days > 0) {
		n = store_archive_expire(srv->store, proto_now_ms() -
		    (int64_t)srv->cfg->mam_retention_days * MAM_DAY_MS);
		if (n > 0)
			log_info("mam: expired %d archived messages older "
			    "than %u days", n, srv->cfg->mam_retention_days);
	}
	ev_timer_set(srv->mam->expiry, MAM_EXPIRY_PERIOD_MS);
}

static void
mam_init(struct server *srv)
{
	srv->mam = xcalloc(1, sizeof(*srv->mam));
	srv->mam->expiry = ev_timer_new(srv->ev, mam_expire, srv);
	/* The first sweep right away: a restart after a long stop. */
	ev_timer_set(srv->mam->expiry, 0);
}

static void
mam_fini(struct server *srv)
{
	if (srv->mam == NULL)
		return;
	ev_timer_free(srv->mam->expiry);
	free(srv->mam);
	srv->mam = NULL;
}

static const struct mod_iq mam_iqs[] = {
	{ .type = IQ_SET, .name = "query", .ns = NS_MAM,
	  .to = MOD_TO_ACCOUNT, .fn = mam_query },
	{ .type = IQ_GET, .name = "query", .ns = NS_MAM,
	  .to = MOD_TO_ACCOUNT, .fn = mam_fields },
	{ .type = IQ_GET | IQ_SET, .name = "prefs", .ns = NS_MAM,
	  .to = MOD_TO_ACCOUNT, .fn = mam_prefs },
	{ 0 }
};
static const char *const mam_account_features[] = {
	NS_MAM, NS_MAM_EXT, NS_SID, NULL
};

const struct module mod_mam = {
	.name = "mam",
	.xep = 313,
	.account_features = mam_account_features,
	.iq = mam_iqs,
	.init = mam_init,
	.fini = mam_fini,
	.message_out = mam_message_out,
	.message_in = mam_message_in,
};
