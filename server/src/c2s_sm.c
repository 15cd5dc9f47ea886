/*
 * c2s_sm.c: XEP-0198 stream management for client streams: acks both
 * ways, hibernation when the link drops, resumption on a new connection.
 *
 * Acked means durable (DESIGN.md §3.1): the <a h/> we owe the client is
 * not written when its <r/> arrives but after the loop turn's store
 * commit (c2s_sm_flush_acks), so every stanza it covers is on disk.
 *
 * A resume moves the session (router entry, queue, counters) from the old
 * stream to the new one; the old struct c2s, hibernating or still on a
 * half-open connection, is then torn down without unbinding anything.
 * When a session ends for good, what the client never acknowledged is
 * not dropped: messages go to the offline queue (they are archived
 * anyway), iq requests are answered with an error, presence is dropped
 * (it is state, resent by the contacts' next broadcast).
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
/* Ended sessions whose final h we still tell a late <resume/>. */
#define SM_EXPIRED_MAX		4096

/* srv->sm_expired values: the final h is told to its own account only. */
struct c2s_sm_ended {
	uint32_t	 h;		/* first: server.h says "final h" */
	char		*user;
};

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
	c2s_puts(c, buf);
}

static void
c2s_sm_request(struct c2s *c)
{
	c->sm_unrequested = 0;
	c2s_puts(c, "<r xmlns='" NS_SM "'/>");
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

/* Apply the client's h; false (stream closed) if it acks too much. */
static bool
c2s_sm_ack(struct c2s *c, uint32_t h)
{
	char	extra[160];

	if (sm_queue_ack(c->smq, h) >= 0)
		return true;
	snprintf(extra, sizeof(extra), "<handled-count-too-high xmlns='%s' "
	    "h='%" PRIu32 "' send-count='%" PRIu32 "'/>", NS_SM, h,
	    sm_queue_sent(c->smq));
	c2s_stream_error_sm(c, "undefined-condition", extra);
	return false;
}

static void
c2s_sm_enable(struct c2s *c, struct stanza *st)
{
	struct server	*srv = c->srv;
	const char	*resume = stanza_attr(st, "resume");
	char		 buf[256], id[33], half[17];

	if (c->state != C2S_SESSION || c->smq != NULL) {
		c2s_sm_failed(c, "unexpected-request", NULL);
		return;
	}
	c->smq = sm_queue_new(srv->cfg->sm_queue_max);
	c->h_in = 0;
	if (resume != NULL && (strcmp(resume, "true") == 0 ||
	    strcmp(resume, "1") == 0) && srv->cfg->sm_hibernate > 0) {
		/* 128 random bits: the id is a bearer token for the session
		 * (it still needs the same account's credentials). */
		proto_random_id(id);
		proto_random_id(half);
		memcpy(id + 16, half, sizeof(half));
		c->sm_id = xstrdup(id);
		dict_set(srv->sm_ids, c->sm_id, c);
		snprintf(buf, sizeof(buf), "<enabled xmlns='%s' id='%s' "
		    "resume='true' max='%u'/>", NS_SM, c->sm_id,
		    srv->cfg->sm_hibernate);
	} else
		snprintf(buf, sizeof(buf), "<enabled xmlns='%s'/>", NS_SM);
	c2s_puts(c, buf);
	log_debug("c2s=%016" PRIx64 " sm enabled resume=%s", c->id,
	    c->sm_id != NULL ? "yes" : "no");
}

/* Take the session of old (same account) over into c. */
static void
c2s_sm_take_over(struct c2s *c, struct c2s *old)
{
	struct server	*srv = c->srv;

	c->sess = old->sess;
	c->sess->arg = c;
	c->smq = old->smq;
	c->h_in = old->h_in;
	c->sm_id = old->sm_id;
	dict_set(srv->sm_ids, c->sm_id, c);
	old->sess = NULL;
	old->smq = NULL;
	old->sm_id = NULL;
	if (old->conn != NULL)
		/* §4: the old stream is still open (half-open link). */
		c2s_stream_error(old, "conflict");
	else
		c2s_teardown(old, "resumed elsewhere");
}

static void
c2s_sm_resume(struct c2s *c, struct stanza *st)
{
	struct server	*srv = c->srv;
	const char	*previd = stanza_attr(st, "previd");
	struct c2s		*old;
	struct c2s_sm_ended	*ended;
	uint32_t		 h;
	char		 buf[192];
	size_t		 i;

	if (c->state != C2S_BIND) {
		c2s_sm_failed(c, "unexpected-request", NULL);
		return;
	}
	if (previd == NULL || c2s_sm_parse_h(st, &h) == -1) {
		c2s_sm_failed(c, "bad-request", NULL);
		return;
	}
	old = dict_get(srv->sm_ids, previd);
	if (old == NULL || strcmp(old->user, c->user) != 0 ||
	    old->sm_ending) {
		/* An ended session of this account: say what arrived. */
		ended = dict_get(srv->sm_expired, previd);
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
	snprintf(buf, sizeof(buf), "<resumed xmlns='%s' h='%" PRIu32 "' "
	    "previd='%s'/>", NS_SM, c->h_in, c->sm_id);
	c2s_puts(c, buf);
	c2s_enter_state(c, C2S_SESSION);
	log_info("c2s=%016" PRIx64 " resumed jid=%s unacked=%zu", c->id,
	    c->sess->full, sm_queue_len(c->smq));
	/* Exactly what the client has not acknowledged, in order. */
	for (i = 0; i < sm_queue_len(c->smq); i++)
		c2s_send_raw(c, sm_queue_at(c->smq, i));
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
		c2s_stream_error(c, "unsupported-stanza-type");
	else if (c->sm_ending)
		return;		/* the queue is gone; the stream ends */
	else if (strcmp(name, "r") == 0) {
		if (!c->ack_wanted) {
			c->ack_wanted = true;
			c->ack_next = c->srv->sm_acks;
			c->srv->sm_acks = c;
		}
	} else if (strcmp(name, "a") == 0) {
		if (c2s_sm_parse_h(st, &h) == -1)
			c2s_stream_error(c, "invalid-xml");
		else
			c2s_sm_ack(c, h);
	} else
		c2s_stream_error(c, "unsupported-stanza-type");
}

static void	c2s_sm_salvage(struct c2s *, struct stanza *);
static void	c2s_sm_salvage_queue(struct c2s *);

/* Deferred end of an overflowed session (see c2s_sm_push). */
static void
c2s_sm_end_full(void *arg)
{
	struct c2s	*c = arg;

	if (c->state == C2S_CLOSED)
		return;
	if (c->conn != NULL)
		c2s_stream_error(c, "resource-constraint");
	else
		c2s_teardown(c, "sm queue full");
}

/*
 * A client that stops acknowledging must not grow the queue without
 * bound: its session ends and what it holds is salvaged (§3.2), oldest
 * first so the offline queue keeps the order. The end itself waits for
 * the deferred call: we are inside a router walk over sessions (a
 * presence fan-out, a bare-JID delivery) that must not see this session
 * freed under it. Until then whatever else arrives is salvaged too.
 */
int
c2s_sm_push(struct c2s *c, struct stanza *st)
{
	if (c->sm_ending) {
		c2s_sm_salvage(c, st);
		return -1;
	}
	if (sm_queue_push(c->smq, st) == -1) {
		log_info("c2s=%016" PRIx64 " sm queue full max=%zu", c->id,
		    sm_queue_max(c->smq));
		c2s_sm_salvage_queue(c);
		c2s_sm_salvage(c, st);
		c->sm_ending = true;
		ev_defer(c->srv->ev, c2s_sm_end_full, c);
		return -1;
	}
	/* The <r/> follows the stanza, so the answer can cover it. */
	return ++c->sm_unrequested >= SM_REQUEST_EVERY ? 1 : 0;
}

/* Leave the list of owed acks (the stream is going away). */
void
c2s_sm_unlist(struct c2s *c)
{
	struct c2s	**pp;

	if (!c->ack_wanted)
		return;
	for (pp = &c->srv->sm_acks; *pp != NULL; pp = &(*pp)->ack_next)
		if (*pp == c) {
			*pp = c->ack_next;
			break;
		}
	c->ack_wanted = false;
	c->ack_next = NULL;
}

void
c2s_sm_tick(struct c2s *c)
{
	if (c->smq != NULL && c->conn != NULL && c->sm_unrequested > 0)
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
	c2s_enter_state(c, C2S_HIBERNATED);
	ev_timer_set(c->timer, (uint64_t)cfg->sm_hibernate * 1000);
	return true;
}

/* Where one unacknowledged stanza goes when its session ends. */
static void
c2s_sm_salvage(struct c2s *c, struct stanza *st)
{
	struct server	*srv = c->srv;
	const char	*name = stanza_name(st), *type = stanza_attr(st, "type");

	if (strcmp(name, "message") == 0) {
		/* Carbon copies are not the user's mail: the original went
		 * to its own resource and is in the archive. */
		if (stanza_child(st, "sent", NS_CARBONS) != NULL ||
		    stanza_child(st, "received", NS_CARBONS) != NULL)
			return;
		if (type != NULL && strcmp(type, "error") == 0)
			return;
		if (offline_store(srv, c->sess->user, st) == -1)
			log_warnx("c2s=%016" PRIx64 " unacked message not "
			    "stored offline user=%s (it stays archived)",
			    c->id, c->sess->user);
	} else if (strcmp(name, "iq") == 0 && type != NULL &&
	    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0))
		router_bounce(srv->router, st, "recipient-unavailable");
}

/* Everything still unacknowledged, oldest first. */
static void
c2s_sm_salvage_queue(struct c2s *c)
{
	struct stanza	*st;
	size_t		 n = 0;

	while ((st = sm_queue_shift(c->smq)) != NULL) {
		c2s_sm_salvage(c, st);
		stanza_unref(st);
		n++;
	}
	if (n > 0)
		log_info("c2s=%016" PRIx64 " session ended with %zu unacked "
		    "stanzas", c->id, n);
}

void
c2s_sm_finish(struct c2s *c)
{
	struct server	*srv = c->srv;
	struct c2s_sm_ended	*ended;

	if (c->smq == NULL)
		return;
	if (c->sess != NULL)
		c2s_sm_salvage_queue(c);
	if (c->sm_id != NULL) {
		dict_del(srv->sm_ids, c->sm_id);
		if (dict_count(srv->sm_expired) < SM_EXPIRED_MAX) {
			ended = xmalloc(sizeof(*ended));
			ended->h = c->h_in;
			ended->user = xstrdup(c->user);
			dict_set(srv->sm_expired, c->sm_id, ended);
		}
		free(c->sm_id);
		c->sm_id = NULL;
	}
	sm_queue_free(c->smq);
	c->smq = NULL;
}

const char *
c2s_sm_feature(const struct c2s *c)
{
	(void)c;
	return "<sm xmlns='" NS_SM "'/>";
}

/*
 * Turn hook, after the store committed (or failed to): owed acks go out
 * only if everything they cover is durable.
 */
void
c2s_sm_flush_acks(struct server *srv, bool committed)
{
	struct c2s	*c;
	char		 buf[96];

	while ((c = srv->sm_acks) != NULL) {
		srv->sm_acks = c->ack_next;
		c->ack_next = NULL;
		c->ack_wanted = false;
		if (c->state != C2S_SESSION)
			continue;
		if (!committed) {
			c2s_stream_error(c, "internal-server-error");
			continue;
		}
		snprintf(buf, sizeof(buf), "<a xmlns='%s' h='%" PRIu32 "'/>",
		    NS_SM, c->h_in);
		c2s_puts(c, buf);
	}
}

static void
c2s_sm_free_ended(void *arg, const char *key, void *value)
{
	struct c2s_sm_ended	*ended = value;

	(void)arg;
	(void)key;
	free(ended->user);
	free(ended);
}

void
c2s_sm_cleanup(struct server *srv)
{
	dict_each(srv->sm_expired, c2s_sm_free_ended, NULL);
	dict_free(srv->sm_expired);
	dict_free(srv->sm_ids);
	srv->sm_expired = srv->sm_ids = NULL;
}
