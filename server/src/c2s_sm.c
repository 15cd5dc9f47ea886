/*
 * c2s_sm.c: XEP-0198 stream management for client streams: acks both
 * ways, hibernation when the link drops, resumption on a new connection.
 *
 * Acked means durable. Every h the client is told (<a/>, <resumed/>,
 * <failed/>) is h_committed: what the stream had handled at the last
 * store commit that succeeded. A stream that handles stanzas is listed
 * as dirty for the turn; after the commit (c2s_sm_committed) its count
 * becomes committed, or, if the commit failed, falls back and the link
 * is cut, so the client resumes and resends exactly what was rolled back.
 * <a/> and <resumed/> are written after the commit (c2s_sm_flush_acks).
 *
 * A resume moves the session (router entry, queue, counters) from the old
 * stream to the new one; the old struct c2s, hibernating or still on a
 * half-open connection, is then torn down without unbinding anything.
 * When a session ends for good nothing needs saving: every message it had
 * not acknowledged is still in the spool (mod_offline.c) and comes again
 * at the next login. Unanswered iq requests get an error; presence,
 * carbons, archive results and other copies are dropped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "c2s_priv.h"
#include "config.h"
#include "conn.h"
#include "dict.h"
#include "ev.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "sm.h"
#include "stanza.h"
#include "xmalloc.h"
#include "xmppd.h"

/* Stanzas we send before asking for an ack ourselves. */
#define SM_REQUEST_EVERY	8
/* A stream without XEP-0198: spooled messages while its output holds
 * less than this, so many per turn. */
#define SM_NOACK_ROOM		(64 * 1024)
#define SM_NOACK_BATCH		16

static void	c2s_sm_owe(struct c2s *);
static void	c2s_sm_handled_list(struct c2s *);

/* sm->expired values: the final h is told to its own account only. */
struct c2s_sm_ended {
	uint32_t	 h;		/* committed when it ended */
	char		*user;
	/* Ended in a turn that handled stanzas: h_pending becomes h if
	 * that turn commits (sm->ended_dirty). */
	uint32_t	 h_pending;
	struct c2s_sm_ended *dirty_next;
	bool		 dirty;
	char		*id;		/* its key in sm->expired */
	struct c2s_sm_ended *fifo_next;	/* the next one ended */
};

/* Stream management's own state: srv->sm, made by c2s_sm_init. */
struct c2s_sm {
	const struct c2s_sm_io	*io;	/* the stream's write side */
	struct dict		*ids;	/* XEP-0198 id -> resumable c2s */
	struct dict		*expired; /* ended id -> c2s_sm_ended */
	struct c2s		*acks;	/* owe an <a/> after commit */
	struct c2s		*dirty;	/* handled stanzas this turn */
	struct c2s_sm_ended	*ended_dirty; /* final h after commit */
	/* sm->expired in the order they ended, to forget the oldest. */
	struct c2s_sm_ended	*fifo_head, *fifo_tail;
};

void
c2s_sm_init(struct server *srv, const struct c2s_sm_io *io)
{
	srv->sm = xcalloc(1, sizeof(*srv->sm));
	srv->sm->io = io;
	srv->sm->ids = dict_new();
	srv->sm->expired = dict_new();
}

/* The stream's write side, handed over by c2s.c (it calls us, not back). */
static void
sm_io_puts(struct c2s *c, const char *s)
{
	c->srv->sm->io->puts(c, s);
}

static void
sm_io_send_raw(struct c2s *c, const struct stanza *st)
{
	c->srv->sm->io->send_raw(c, st);
}

static void
sm_io_error_sm(struct c2s *c, const char *cond, const char *extra)
{
	c->srv->sm->io->stream_error(c, cond, extra);
}

static void
sm_io_error(struct c2s *c, const char *cond)
{
	sm_io_error_sm(c, cond, "");
}

static void
sm_io_teardown(struct c2s *c, const char *why)
{
	c->srv->sm->io->teardown(c, why);
}

static void
sm_io_enter(struct c2s *c, enum c2s_state state)
{
	c->srv->sm->io->enter_state(c, state);
}

static void
c2s_sm_failed(struct c2s *c, const char *cond, const uint32_t *h)
{
	char	buf[192];

	if (h != NULL)
		snprintf(buf, sizeof(buf), "<failed xmlns='%s' h='%" PRIu32
		    "'><%s xmlns='%s'/></failed>", NS_SM, *h, cond,
		    NS_STANZA_ERR);
	else
		snprintf(buf, sizeof(buf), "<failed xmlns='%s'><%s "
		    "xmlns='%s'/></failed>", NS_SM, cond, NS_STANZA_ERR);
	sm_io_puts(c, buf);
}

static void
c2s_sm_request(struct c2s *c)
{
	c->sm_unrequested = 0;
	sm_io_puts(c, "<r xmlns='" NS_SM "'/>");
}

/* h attribute: a decimal that fits 32 bits; -1 otherwise. */
static int
c2s_sm_parse_h(const struct stanza *st, uint32_t *h)
{
	const char		*s = stanza_attr(st, "h");
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v > UINT32_MAX)
		return -1;
	*h = (uint32_t)v;
	return 0;
}

/* The client has a spooled message: it may leave the spool. */
static void
c2s_sm_on_acked(void *arg, struct stanza *st, int64_t tag)
{
	struct c2s	*c = arg;

	(void)st;
	if (tag > 0 && c->sess != NULL)
		offline_acked(c->srv, c->sess, tag);
}

/* Apply the client's h; false (stream closed) if it acks too much. */
static bool
c2s_sm_ack(struct c2s *c, uint32_t h)
{
	char	extra[160];
	long	n;

	if ((n = sm_queue_ack(c->smq, h, c2s_sm_on_acked, c)) >= 0) {
		if (n > 0 && c->sess != NULL)
			offline_resume(c->srv, c->sess);
		return true;
	}
	snprintf(extra, sizeof(extra), "<handled-count-too-high xmlns='%s' "
	    "h='%" PRIu32 "' send-count='%" PRIu32 "'/>", NS_SM, h,
	    sm_queue_sent(c->smq));
	sm_io_error_sm(c, "undefined-condition", extra);
	return false;
}

static void
c2s_sm_enable(struct c2s *c, struct stanza *st)
{
	struct server	*srv = c->srv;
	const char	*resume = stanza_attr(st, "resume");
	char		 buf[256], id[33];

	if (c->state != C2S_SESSION || c->smq != NULL) {
		c2s_sm_failed(c, "unexpected-request", NULL);
		return;
	}
	c->smq = sm_queue_new(srv->cfg->sm_queue_max);
	c->h_in = c->h_committed = 0;
	if (resume != NULL && (strcmp(resume, "true") == 0 ||
	    strcmp(resume, "1") == 0) && srv->cfg->sm_hibernate > 0) {
		/* 128 random bits: the id is a bearer token for the session
		 * (it still needs the same account's credentials). */
		proto_random_id128(id);
		c->sm_id = xstrdup(id);
		dict_set(srv->sm->ids, c->sm_id, c);
		snprintf(buf, sizeof(buf), "<enabled xmlns='%s' id='%s' "
		    "resume='true' max='%u'/>", NS_SM, c->sm_id,
		    srv->cfg->sm_hibernate);
	} else
		snprintf(buf, sizeof(buf), "<enabled xmlns='%s'/>", NS_SM);
	sm_io_puts(c, buf);
	log_debug("c2s=%016" PRIx64 " sm enabled resume=%s", c->id,
	    c->sm_id != NULL ? "yes" : "no");
}

/* Take the session of old (same account) over into c. */
static void
c2s_sm_take_over(struct c2s *c, struct c2s *old)
{
	struct server	*srv = c->srv;

	c->sess = old->sess;
	router_rebind(c->sess, c);
	c->smq = old->smq;
	c->h_in = old->h_in;
	c->h_committed = old->h_committed;
	c->sm_id = old->sm_id;
	dict_set(srv->sm->ids, c->sm_id, c);
	/* What the old stream handled this turn is now the new one's. */
	if (old->dirty) {
		c2s_sm_undirty(old);
		c2s_sm_handled_list(c);
	}
	old->sess = NULL;
	old->smq = NULL;
	old->sm_id = NULL;
	if (old->conn != NULL)
		/* §4: the old stream is still open (half-open link). */
		sm_io_error(old, "conflict");
	else
		sm_io_teardown(old, "resumed elsewhere");
}

static void
c2s_sm_resume(struct c2s *c, struct stanza *st)
{
	struct server	*srv = c->srv;
	const char	*previd = stanza_attr(st, "previd");
	struct c2s		*old;
	struct c2s_sm_ended	*ended;
	uint32_t		 h;

	if (c->state != C2S_BIND) {
		c2s_sm_failed(c, "unexpected-request", NULL);
		return;
	}
	if (previd == NULL || c2s_sm_parse_h(st, &h) == -1) {
		c2s_sm_failed(c, "bad-request", NULL);
		return;
	}
	old = dict_get(srv->sm->ids, previd);
	if (old == NULL || strcmp(old->user, c->user) != 0 ||
	    old->sm_ending) {
		/* An ended session of this account: say what arrived. */
		ended = dict_get(srv->sm->expired, previd);
		if (old != NULL || ended == NULL ||
		    strcmp(ended->user, c->user) != 0)
			ended = NULL;
		c2s_sm_failed(c, "item-not-found",
		    ended != NULL ? &ended->h : NULL);
		return;
	}
	c2s_sm_take_over(c, old);
	if (!c2s_sm_ack(c, h))
		return;
	/* <resumed h/> only after this turn's commit: h must be durable. */
	c->resume_owed = true;
	c2s_sm_owe(c);
	sm_io_enter(c, C2S_SESSION);
	log_info("c2s=%016" PRIx64 " resumed jid=%s unacked=%zu", c->id,
	    c->sess->full, sm_queue_len(c->smq));
}

/* The deferred answer to a <resume/>, after the commit. */
static void
c2s_sm_resumed(struct c2s *c)
{
	char	buf[192];
	size_t	i;

	c->resume_owed = false;
	snprintf(buf, sizeof(buf), "<resumed xmlns='%s' h='%" PRIu32 "' "
	    "previd='%s'/>", NS_SM, c->h_committed, c->sm_id);
	sm_io_puts(c, buf);
	/* Exactly what the client has not acknowledged, in order. */
	for (i = 0; i < sm_queue_len(c->smq); i++)
		sm_io_send_raw(c, sm_queue_at(c->smq, i));
	if (sm_queue_len(c->smq) > 0)
		c2s_sm_request(c);
}

void
c2s_sm_nonza(struct c2s *c, struct stanza *st)
{
	const char	*name = stanza_name(st);
	uint32_t	 h;

	if (strcmp(name, "enable") == 0)
		c2s_sm_enable(c, st);
	else if (strcmp(name, "resume") == 0)
		c2s_sm_resume(c, st);
	else if (c->smq == NULL)
		sm_io_error(c, "unsupported-stanza-type");
	else if (c->sm_ending)
		return;		/* the queue is gone; the stream ends */
	else if (strcmp(name, "r") == 0) {
		c->ack_wanted = true;
		c2s_sm_owe(c);
	} else if (strcmp(name, "a") == 0) {
		if (c2s_sm_parse_h(st, &h) == -1)
			sm_io_error(c, "invalid-xml");
		else
			c2s_sm_ack(c, h);
	} else
		sm_io_error(c, "unsupported-stanza-type");
}

static void	c2s_sm_salvage_queue(struct c2s *);

/* Deferred end of an overflowed session (see c2s_sm_push). */
static void
c2s_sm_end_full(void *arg)
{
	struct c2s	*c = arg;

	if (c->state == C2S_CLOSED)
		return;
	if (c->conn != NULL)
		sm_io_error(c, "resource-constraint");
	else
		sm_io_teardown(c, "sm queue full");
}

/* Ask for an ack every 8 stanzas, or every quarter of a small queue. */
static unsigned
c2s_sm_request_every(const struct c2s *c)
{
	size_t	quarter = sm_queue_max(c->smq) / 4;

	if (quarter == 0)
		quarter = 1;
	return quarter < SM_REQUEST_EVERY ? (unsigned)quarter :
	    SM_REQUEST_EVERY;
}

/*
 * A client that stops acknowledging must not grow the queue without
 * bound. Spooled messages never get here past half the queue
 * (c2s_sm_room: they wait in the spool); anything else that overflows it
 * ends the session, losing nothing that was promised: the messages are
 * in the spool. The end itself waits for the deferred call: we are inside
 * a walk over sessions (a presence fan-out) that must not see this
 * session freed under it. Until then whatever else arrives is dropped.
 */
int
c2s_sm_push(struct c2s *c, struct stanza *st, int64_t tag)
{
	if (c->sm_ending)
		return -1;
	if (sm_queue_push(c->smq, st, tag) == -1) {
		log_info("c2s=%016" PRIx64 " sm queue full max=%zu", c->id,
		    sm_queue_max(c->smq));
		c->sm_ending = true;
		ev_defer(c->srv->ev, c2s_sm_end_full, c);
		return -1;
	}
	/*
	 * The <r/> follows the stanza, so the answer can cover it. Also when
	 * the spool's window is full: only an ack opens it again.
	 */
	c->sm_unrequested++;
	return c->sm_unrequested >= c2s_sm_request_every(c) ||
	    (tag > 0 && c2s_sm_room(c) == 0) ? 1 : 0;
}

/*
 * Flow control for spooled messages: half the XEP-0198 queue, the rest
 * left for presence and iqs. A stream without XEP-0198 takes what its
 * output buffer holds without growing much.
 */
size_t
c2s_sm_room(const struct c2s *c)
{
	size_t	half;

	if (c->state == C2S_CLOSED || c->sm_ending)
		return 0;
	if (c->smq == NULL) {
		if (c->conn == NULL || conn_pending(c->conn) > SM_NOACK_ROOM)
			return 0;
		return SM_NOACK_BATCH;
	}
	half = sm_queue_max(c->smq) / 2;
	if (half == 0)
		half = 1;
	return sm_queue_len(c->smq) < half ? half - sm_queue_len(c->smq) : 0;
}

/* Owe the client an answer after the next commit (<a/>, <resumed/>). */
static void
c2s_sm_owe(struct c2s *c)
{
	if (c->owe_listed)
		return;
	c->owe_listed = true;
	c->ack_next = c->srv->sm->acks;
	c->srv->sm->acks = c;
}

/* Leave the list of owed answers (the stream is going away). */
void
c2s_sm_unlist(struct c2s *c)
{
	struct c2s	**pp;

	if (!c->owe_listed)
		return;
	for (pp = &c->srv->sm->acks; *pp != NULL; pp = &(*pp)->ack_next)
		if (*pp == c) {
			*pp = c->ack_next;
			break;
		}
	c->owe_listed = false;
	c->ack_wanted = false;
	c->resume_owed = false;
	c->ack_next = NULL;
}

/* List c as having handled stanzas this turn. */
static void
c2s_sm_handled_list(struct c2s *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = c->srv->sm->dirty;
	c->srv->sm->dirty = c;
}

void
c2s_sm_handled(struct c2s *c)
{
	if (c->state == C2S_CLOSED)
		return;		/* it ended while handling this one */
	/* XEP-0198 §4: every stanza handled counts, mod 2^32. */
	if (c->smq != NULL)
		c->h_in++;
	c2s_sm_handled_list(c);
}

void
c2s_sm_undirty(struct c2s *c)
{
	struct c2s	**pp;

	if (!c->dirty)
		return;
	for (pp = &c->srv->sm->dirty; *pp != NULL; pp = &(*pp)->dirty_next)
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	c->dirty = false;
	c->dirty_next = NULL;
}

void
c2s_sm_tick(struct c2s *c)
{
	if (c->smq != NULL && c->conn != NULL && c->sm_unrequested > 0 &&
	    !c->resume_owed)
		c2s_sm_request(c);
}

bool
c2s_sm_hibernate(struct c2s *c, const char *why)
{
	const struct config	*cfg = c->srv->cfg;

	if (c->sm_id == NULL || c->state != C2S_SESSION)
		return false;
	log_info("c2s=%016" PRIx64 " hibernating jid=%s reason=%s "
	    "unacked=%zu", c->id, c->sess->full, why, sm_queue_len(c->smq));
	if (c->conn != NULL) {
		conn_abort(c->conn);
		c->conn = NULL;
	}
	c2s_sm_unlist(c);
	sm_io_enter(c, C2S_HIBERNATED);
	ev_timer_set(c->timer, (uint64_t)cfg->sm_hibernate * 1000);
	return true;
}

/*
 * What a session that ends for good still holds: iq requests are
 * answered (the requester would wait forever); messages are in the spool
 * if they were to be kept (every chat or normal one), the rest are
 * copies and state (carbons, archive results, presence) and are dropped.
 */
static void
c2s_sm_salvage_queue(struct c2s *c)
{
	struct stanza	*st;
	const char	*type;
	int64_t		 tag;
	size_t		 n = 0;

	while ((st = sm_queue_shift(c->smq, &tag)) != NULL) {
		type = stanza_attr(st, "type");
		if (strcmp(stanza_name(st), "iq") == 0 && type != NULL &&
		    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0))
			router_bounce(c->srv->router, st,
			    "recipient-unavailable");
		stanza_unref(st);
		n++;
	}
	if (n > 0)
		log_info("c2s=%016" PRIx64 " session ended with %zu unacked "
		    "stanzas (messages stay spooled)", c->id, n);
}

static void
c2s_sm_free_ended(void *arg, const char *key, void *value)
{
	struct c2s_sm_ended	*ended = value;

	(void)arg;
	(void)key;
	free(ended->id);
	free(ended->user);
	free(ended);
}

/* Forget the session that ended first (and its place in ended_dirty). */
static void
c2s_sm_forget_oldest(struct c2s_sm *sm)
{
	struct c2s_sm_ended	*e = sm->fifo_head, **pp;

	if ((sm->fifo_head = e->fifo_next) == NULL)
		sm->fifo_tail = NULL;
	if (e->dirty)
		for (pp = &sm->ended_dirty; *pp != NULL;
		    pp = &(*pp)->dirty_next)
			if (*pp == e) {
				*pp = e->dirty_next;
				break;
			}
	dict_del(sm->expired, e->id);
	c2s_sm_free_ended(NULL, NULL, e);
}

/*
 * Remember the final h of an ended resumable session, for <failed h/>.
 * Every ending is recorded; past sm-resume-memory the oldest record is
 * forgotten (a client that comes back that late resends from its own
 * count, which only costs duplicates).
 */
static void
c2s_sm_remember(struct c2s *c)
{
	struct server		*srv = c->srv;
	struct c2s_sm		*sm = srv->sm;
	struct c2s_sm_ended	*ended;

	while (sm->fifo_head != NULL &&
	    dict_count(sm->expired) >= srv->cfg->sm_resume_memory)
		c2s_sm_forget_oldest(sm);
	ended = xcalloc(1, sizeof(*ended));
	ended->h = c->h_committed;
	ended->user = xstrdup(c->user);
	ended->id = xstrdup(c->sm_id);
	if (c->dirty) {
		/* Stanzas of this turn count once the turn commits. */
		ended->dirty = true;
		ended->h_pending = c->h_in;
		ended->dirty_next = sm->ended_dirty;
		sm->ended_dirty = ended;
	}
	if (sm->fifo_tail != NULL)
		sm->fifo_tail->fifo_next = ended;
	else
		sm->fifo_head = ended;
	sm->fifo_tail = ended;
	dict_set(sm->expired, ended->id, ended);
}

void
c2s_sm_finish(struct c2s *c)
{
	struct server	*srv = c->srv;

	if (c->smq == NULL)
		return;
	if (c->sess != NULL)
		c2s_sm_salvage_queue(c);
	if (c->sm_id != NULL) {
		dict_del(srv->sm->ids, c->sm_id);
		c2s_sm_remember(c);
		free(c->sm_id);
		c->sm_id = NULL;
	}
	sm_queue_free(c->smq);
	c->smq = NULL;
}

/* The hibernating session of user that was heard from longest ago. */
static struct c2s *
c2s_sm_oldest_hibernating(struct server *srv, const struct session_ops *ops,
    const char *bare)
{
	struct session	*s;
	struct c2s	*c, *oldest = NULL;

	for (s = router_sessions(srv->router, bare); s != NULL; s = s->next) {
		if (s->ops != ops || s->dead)
			continue;
		c = s->arg;
		if (c->state == C2S_HIBERNATED &&
		    (oldest == NULL || c->last_in < oldest->last_in))
			oldest = c;
	}
	return oldest;
}

bool
c2s_sm_make_room(struct server *srv, const struct session_ops *ops,
    const char *user, const char *res)
{
	char		 bare[JID_MAX + 1], full[JID_MAX + JID_PART_MAX + 2];
	struct c2s	*c;
	size_t		 max = srv->cfg->max_sessions_per_user;

	snprintf(bare, sizeof(bare), "%s@%s", user, srv->cfg->domain);
	snprintf(full, sizeof(full), "%s/%s", bare, res);
	/* router_bind replaces it (<conflict/>, or the end of a
	 * hibernating one): the count does not grow. */
	if (router_session(srv->router, full) != NULL)
		return true;
	/* Each pass ends one session: at most max passes. */
	while (router_nsessions(srv->router, bare) >= max) {
		if ((c = c2s_sm_oldest_hibernating(srv, ops, bare)) == NULL)
			return false;
		log_info("c2s=%016" PRIx64 " hibernating session ends for a "
		    "new login jid=%s", c->id, c->sess->full);
		sm_io_teardown(c, "hibernation replaced");
	}
	return true;
}

const char *
c2s_sm_feature(const struct c2s *c)
{
	(void)c;
	return "<sm xmlns='" NS_SM "'/>";
}

/* A stream whose stanzas of this turn were rolled back loses its link. */
static void
c2s_sm_cut(struct c2s *c)
{
	if (c->state == C2S_CLOSED)
		return;
	log_warnx("c2s=%016" PRIx64 " store commit failed: link cut, "
	    "h back to %" PRIu32, c->id, c->h_committed);
	if (c->conn == NULL || c2s_sm_hibernate(c, "commit failed"))
		return;
	sm_io_error(c, "internal-server-error");
}

void
c2s_sm_committed(struct server *srv, bool committed)
{
	struct c2s		*c;
	struct c2s_sm_ended	*e;

	while ((c = srv->sm->dirty) != NULL) {
		srv->sm->dirty = c->dirty_next;
		c->dirty_next = NULL;
		c->dirty = false;
		if (committed)
			c->h_committed = c->h_in;
		else {
			c->h_in = c->h_committed;
			c2s_sm_cut(c);
		}
	}
	while ((e = srv->sm->ended_dirty) != NULL) {
		srv->sm->ended_dirty = e->dirty_next;
		e->dirty_next = NULL;
		e->dirty = false;
		if (committed)
			e->h = e->h_pending;
	}
}

/*
 * After the commit and the turn's deliveries: the answers owed, each
 * with the committed h. A stream cut by a failed commit left this list.
 */
void
c2s_sm_flush_acks(struct server *srv)
{
	struct c2s	*c;
	char		 buf[96];

	while ((c = srv->sm->acks) != NULL) {
		srv->sm->acks = c->ack_next;
		c->ack_next = NULL;
		c->owe_listed = false;
		if (c->state != C2S_SESSION) {
			c->ack_wanted = c->resume_owed = false;
			continue;
		}
		if (c->resume_owed)
			c2s_sm_resumed(c);
		if (c->ack_wanted) {
			c->ack_wanted = false;
			snprintf(buf, sizeof(buf), "<a xmlns='%s' h='%" PRIu32
			    "'/>", NS_SM, c->h_committed);
			sm_io_puts(c, buf);
		}
	}
}

void
c2s_sm_final_ack(struct c2s *c)
{
	char	buf[96];

	if (c->smq == NULL || c->conn == NULL || c->state != C2S_SESSION)
		return;
	snprintf(buf, sizeof(buf), "<a xmlns='%s' h='%" PRIu32 "'/>", NS_SM,
	    c->h_committed);
	sm_io_puts(c, buf);
}

void
c2s_sm_cleanup(struct server *srv)
{
	if (srv->sm == NULL)
		return;
	dict_each(srv->sm->expired, c2s_sm_free_ended, NULL);
	dict_free(srv->sm->expired);
	dict_free(srv->sm->ids);
	free(srv->sm);
	srv->sm = NULL;
}
