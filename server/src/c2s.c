/*
 * c2s.c: one client stream, from accept to close.
 *
 *   HEADER --features--> STARTTLS --<proceed/>--> TLS --ready--> HEADER
 *   HEADER --features--> AUTH --<auth/>--> AUTH_WAIT --<success/>--> HEADER
 *   HEADER --features--> BIND --bound--> SESSION
 *
 * A stream restart (after TLS, after SASL) resets the parser and returns
 * to HEADER; the tls/authed flags decide which features come next. A
 * stream that ends for any reason is torn down once (c2s_teardown): its
 * session is unbound (unavailable presence goes out) and the struct is
 * freed at the end of the loop turn, so no callback up the stack can
 * touch freed memory. This file does not know about rosters or delivery
 * rules: those are router.c's and the modules'.
 */
#include "c2s.h"
#include "c2s_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "ev.h"
#include "jid.h"
#include "log.h"
#include "module.h"
#include "proto.h"
#include "ratelimit.h"
#include "router.h"
#include "sasl.h"
#include "sm.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"
#include "xmlp.h"
#include "xmppd.h"

static void	c2s_stream_error(struct c2s *, const char *cond);
static void	c2s_stream_error_sm(struct c2s *, const char *cond,
		    const char *extra);
static void	c2s_teardown(struct c2s *, const char *why);

/*
 * Fairness: the most one stream parses per loop turn; the rest of what it
 * sent waits for the next turn, after every other ready stream had its
 * share. Slices keep the checks between them fine-grained.
 */
#define C2S_SLICE		2048
#define C2S_TURN_BYTES		16384
#define C2S_TURN_STANZAS	32
#define C2S_BYTES_PER_TOKEN	8	/* about the smallest stanza */

static const char *const c2s_state_names[] = {
	"tls", "header", "starttls", "auth", "auth-wait", "bind", "session",
	"hibernated", "closed",
};

static void
c2s_enter_state(struct c2s *c, enum c2s_state s)
{
	log_debug("c2s=%016" PRIx64 " state %s -> %s", c->id,
	    c2s_state_names[c->state], c2s_state_names[s]);
	c->state = s;
}

static void	c2s_flow(struct c2s *);

/* The output a stream may have queued: small until it has logged in. */
static size_t
c2s_output_max(const struct c2s *c)
{
	return c->authed ? c->srv->cfg->output_max :
	    c->srv->cfg->output_max_unauth;
}

/* Deferred end of a stream whose reader fell too far behind. */
static void
c2s_end_backlog(void *arg)
{
	struct c2s	*c = arg;

	c2s_stream_error(c, c->backlog_cond);
}

/*
 * Every write goes through the output cap. Past half of it the stream
 * stops being read until the peer drains its output (c2s_on_drained);
 * past all of it the stream ends with cond. The end is deferred: the
 * caller may be inside a parser callback or a router walk over sessions.
 */
static void
c2s_write_capped(struct c2s *c, const char *s, size_t len, const char *cond)
{
	size_t	 max = c2s_output_max(c);

	if (c->state == C2S_CLOSED || c->conn == NULL)
		return;
	if (!c->ending && (c->backlog_full ||
	    conn_pending(c->conn) + len > max)) {
		if (c->backlog_full)
			return;
		log_info("c2s=%016" PRIx64 " output backlog too large "
		    "pending=%zu", c->id, conn_pending(c->conn));
		c->backlog_full = true;
		c->backlog_cond = cond;
		ev_defer(c->srv->ev, c2s_end_backlog, c);
		return;
	}
	conn_write(c->conn, s, len);
	c->last_out = ev_now(c->srv->ev);
	if (!c->out_paused && conn_pending(c->conn) > max / 2) {
		log_debug("c2s=%016" PRIx64 " output pending=%zu: reading "
		    "paused", c->id, conn_pending(c->conn));
		c->out_paused = true;
		c2s_flow(c);
	}
}

/* The stream's own answers: a peer that never reads broke the rules. */
static void
c2s_write(struct c2s *c, const char *s, size_t len)
{
	c2s_write_capped(c, s, len, "policy-violation");
}

static void
c2s_puts(struct c2s *c, const char *s)
{
	c2s_write(c, s, strlen(s));
}

/*
 * Serialize and write one stanza, outside stream management. What others
 * send to a slow reader ends its stream with resource-constraint.
 */
static void
c2s_send_raw(struct c2s *c, const struct stanza *st)
{
	char	*xml;
	size_t	 len;

	if (c->state == C2S_CLOSED || c->conn == NULL || c->backlog_full)
		return;
	xml = stanza_serialize(st, NS_CLIENT, &len);
	c2s_write_capped(c, xml, len, "resource-constraint");
	free(xml);
}

/*
 * Send a stanza; under XEP-0198 it stays queued until acknowledged. While
 * a <resumed/> is owed it is only queued: the answer resends the queue.
 */
static void
c2s_send_tagged(struct c2s *c, struct stanza *st, int64_t tag)
{
	int	due = 0;

	if (c->state == C2S_CLOSED)
		return;
	if (c->smq != NULL && proto_is_stanza(st) &&
	    (due = c2s_sm_push(c, st, tag)) == -1)
		return;
	if (c->resume_owed)
		return;
	c2s_send_raw(c, st);
	if (due == 1)
		c2s_sm_tick(c);
}

static void
c2s_send(struct c2s *c, struct stanza *st)
{
	c2s_send_tagged(c, st, 0);
}

static void
c2s_send_header(struct c2s *c)
{
	char	*hdr;

	proto_random_id(c->stream_id);
	xasprintf(&hdr, "<?xml version='1.0'?><stream:stream xmlns='%s' "
	    "xmlns:stream='%s' id='%s' from='%s' version='1.0' "
	    "xml:lang='en'>", NS_CLIENT, NS_STREAMS, c->stream_id,
	    c->srv->cfg->domain);
	c2s_puts(c, hdr);
	free(hdr);
	c->header_sent = true;
}

/* Send a stream error and close (RFC 6120 §4.9). */
static void
c2s_stream_error(struct c2s *c, const char *cond)
{
	c2s_stream_error_sm(c, cond, "");
}

/* A stream error with an application-specific child (XEP-0198 §6). */
static void
c2s_stream_error_sm(struct c2s *c, const char *cond, const char *extra)
{
	char	*err;

	if (c->state == C2S_CLOSED)
		return;
	log_info("c2s=%016" PRIx64 " stream error=%s peer=%s", c->id, cond,
	    c->conn != NULL ? conn_peer(c->conn) : "-");
	/* The error passes the output cap: it is small and the last. */
	c->ending = true;
	if (!c->header_sent)
		c2s_send_header(c);
	xasprintf(&err, "<stream:error><%s xmlns='%s'/>%s</stream:error>"
	    "</stream:stream>", cond, NS_STREAM_ERR, extra);
	c2s_puts(c, err);
	free(err);
	c2s_teardown(c, cond);
}

static void
c2s_free(void *arg)
{
	struct c2s	*c = arg;

	xmlp_free(c->xmlp);
	ev_timer_free(c->timer);
	ev_timer_free(c->pump_timer);
	free(c->inbuf);
	sasl_free(c->sasl);
	free(c->user);
	free(c);
}

/* End the stream once: unbind, unlink, close the conn, free later. */
static void
c2s_teardown(struct c2s *c, const char *why)
{
	struct server	*srv = c->srv;
	struct session	*s = c->sess;

	if (c->state == C2S_CLOSED)
		return;
	c2s_enter_state(c, C2S_CLOSED);
	if (c->xmlp != NULL)
		xmlp_stop(c->xmlp);
	if (c->auth_pending)
		auth_cancel(srv->auth, c->id);
	c2s_sm_unlist(c);
	c2s_sm_finish(c);
	c2s_sm_undirty(c);
	if (s != NULL) {
		c->sess = NULL;
		module_unbound(srv, s);
		router_unbind(srv->router, s);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nclients--;
	log_info("c2s=%016" PRIx64 " closed reason=%s", c->id, why);
	if (c->conn != NULL)
		conn_close(c->conn);
	c->conn = NULL;
	ev_defer(srv->ev, c2s_free, c);
}

static void
c2s_features(struct c2s *c)
{
	const char *const	*m;
	char			 buf[512];
	int			 n;

	if (!c->tls) {
		c2s_puts(c, "<stream:features><starttls xmlns='" NS_TLS
		    "'><required/></starttls></stream:features>");
		c2s_enter_state(c, C2S_STARTTLS);
	} else if (!c->authed) {
		n = snprintf(buf, sizeof(buf), "<stream:features>"
		    "<mechanisms xmlns='%s'>", NS_SASL);
		for (m = sasl_mechanisms(); *m != NULL; m++)
			n += snprintf(buf + n, sizeof(buf) - n,
			    "<mechanism>%s</mechanism>", *m);
		snprintf(buf + n, sizeof(buf) - n,
		    "</mechanisms></stream:features>");
		c2s_puts(c, buf);
		c2s_enter_state(c, C2S_AUTH);
	} else {
		/* RFC 6121 §3.4: presence.c honours pre-approvals. */
		snprintf(buf, sizeof(buf), "<stream:features><bind xmlns='%s'/>"
		    "<session xmlns='%s'><optional/></session>"
		    "<sub xmlns='urn:xmpp:features:pre-approval'/>%s"
		    "</stream:features>", NS_BIND, NS_SESSION,
		    c2s_sm_feature(c));
		c2s_puts(c, buf);
		c2s_enter_state(c, C2S_BIND);
	}
}

/* <stream:stream>: check it, answer with ours and the features. */
static void
c2s_on_open(void *arg, const struct stanza *hdr)
{
	struct c2s	*c = arg;
	const char	*to = stanza_attr(hdr, "to");
	const char	*version = stanza_attr(hdr, "version");
	struct jid	 j;

	if (c->state != C2S_HEADER) {
		c2s_stream_error(c, "bad-format");
		return;
	}
	c2s_send_header(c);
	/* RFC 6120 §4.9.3.6: we serve exactly one domain. */
	if (to == NULL || jid_parse(to, &j) == -1 || j.local[0] != '\0' ||
	    j.resource[0] != '\0' ||
	    strcmp(j.domain, c->srv->cfg->domain) != 0) {
		c2s_stream_error(c, "host-unknown");
		return;
	}
	/* RFC 6120 §4.7.5: 1.0 or later; older streams lack SASL. */
	if (version == NULL || strtol(version, NULL, 10) < 1) {
		c2s_stream_error(c, "unsupported-version");
		return;
	}
	c2s_features(c);
}

static void
c2s_on_close(void *arg)
{
	struct c2s	*c = arg;

	if (c->state == C2S_CLOSED)
		return;
	c2s_puts(c, "</stream:stream>");
	c2s_teardown(c, "stream closed by client");
}

static void
c2s_starttls(struct c2s *c, struct stanza *st)
{
	if (strcmp(stanza_name(st), "starttls") != 0 ||
	    strcmp(stanza_ns(st), NS_TLS) != 0) {
		if (strcmp(stanza_ns(st), NS_SASL) == 0) {
			/* RFC 6120 §6.4.5: not before TLS. */
			c2s_puts(c, "<failure xmlns='" NS_SASL "'>"
			    "<encryption-required/></failure>");
			return;
		}
		c2s_stream_error(c, "not-authorized");
		return;
	}
	if (c->srv->tls == NULL) {
		c2s_puts(c, "<failure xmlns='" NS_TLS "'/></stream:stream>");
		c2s_teardown(c, "no tls context");
		return;
	}
	c2s_puts(c, "<proceed xmlns='" NS_TLS "'/>");
	/* §5.4.3.3: anything the client sent after <starttls/> is void. */
	xmlp_stop(c->xmlp);
	c->inoff = c->inlen;
	c->need_reset = true;
	c->header_sent = false;
	c2s_enter_state(c, C2S_TLS);
	if (conn_starttls(c->conn, c->srv->tls) == -1)
		c2s_teardown(c, "starttls failed");
}

static void
c2s_sasl_failure(struct c2s *c, const char *cond)
{
	char	buf[160];

	snprintf(buf, sizeof(buf), "<failure xmlns='%s'><%s/></failure>",
	    NS_SASL, cond);
	c2s_puts(c, buf);
	sasl_free(c->sasl);
	c->sasl = NULL;
	c2s_enter_state(c, C2S_AUTH);
}

/*
 * The key of one account from one address: a guesser is blocked for the
 * account only where it guesses from, never the account's owner
 * elsewhere. '/' is in no nodeprepped localpart.
 */
static const char *
c2s_pair_key(struct c2s *c, const char *local, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", local, conn_peer_addr(c->conn));
	return buf;
}

/* Parse what arrived during the password check (xmlp_hold()). */
static void
c2s_release(struct c2s *c, bool reset)
{
	if (xmlp_release(c->xmlp, reset) == -1 && c->state != C2S_CLOSED)
		c2s_stream_error(c, xmlp_error(c->xmlp));
}

static void
c2s_auth_done(void *arg, uint64_t id, enum auth_result res)
{
	struct c2s	*c = arg;
	struct server	*srv = c->srv;
	uint64_t	 now = ev_now(srv->ev);
	char		 key[JID_PART_MAX + 64];

	(void)id;
	c->auth_pending = false;
	if (c->state != C2S_AUTH_WAIT)
		return;
	switch (res) {
	case AUTH_OK:
		log_info("c2s=%016" PRIx64 " auth ok user=%s mech=PLAIN "
		    "peer=%s", c->id, c->user, conn_peer(c->conn));
		ratelimit_clear(srv->rl_pair, c2s_pair_key(c, c->user, key,
		    sizeof(key)));
		c2s_puts(c, "<success xmlns='" NS_SASL "'/>");
		sasl_free(c->sasl);
		c->sasl = NULL;
		c->authed = true;
		c->header_sent = false;
		c2s_enter_state(c, C2S_HEADER);
		/* §6.4.6: a new stream, starting with any header the client
		 * pipelined after <auth/>. */
		c2s_release(c, true);
		return;
	case AUTH_FAIL:
		log_info("c2s=%016" PRIx64 " auth failed user=%s peer=%s",
		    c->id, c->user, conn_peer(c->conn));
		ratelimit_fail(srv->rl_account, c->user, now);
		ratelimit_fail(srv->rl_pair, c2s_pair_key(c, c->user, key,
		    sizeof(key)), now);
		ratelimit_fail(srv->rl_addr, conn_peer_addr(c->conn), now);
		c2s_sasl_failure(c, "not-authorized");
		break;
	case AUTH_TEMPFAIL:
		log_warnx("c2s=%016" PRIx64 " auth unavailable user=%s",
		    c->id, c->user);
		c2s_sasl_failure(c, "temporary-auth-failure");
		break;
	}
	free(c->user);
	c->user = NULL;
	if (++c->auth_failures >= XMPPD_MAX_AUTH_TRIES)
		c2s_stream_error(c, "policy-violation");
	else
		c2s_release(c, false);
}

/* Normalise the SASL authcid to a localpart of our domain. */
static int
c2s_authcid(struct c2s *c, const char *authcid, char *out, size_t len)
{
	struct jid	j;

	if (strchr(authcid, '@') != NULL) {
		if (jid_parse(authcid, &j) == -1 || j.local[0] == '\0' ||
		    j.resource[0] != '\0' ||
		    strcmp(j.domain, c->srv->cfg->domain) != 0)
			return -1;
		snprintf(out, len, "%s", j.local);
		return 0;
	}
	return jid_prep_local(authcid, out, len);
}

/* Credentials parsed: check authzid and limits, then ask the backend. */
static void
c2s_sasl_verify(struct c2s *c)
{
	struct server	*srv = c->srv;
	char		 local[JID_PART_MAX + 1], key[JID_PART_MAX + 64];
	struct jid	 az;
	const char	*authzid = sasl_authzid(c->sasl);
	uint64_t	 now = ev_now(srv->ev), slow;

	if (c2s_authcid(c, sasl_user(c->sasl), local, sizeof(local)) == -1) {
		ratelimit_fail(srv->rl_addr, conn_peer_addr(c->conn), now);
		c2s_sasl_failure(c, "not-authorized");
		return;
	}
	/* The authzid is compared prepared, as the authcid is (§6.3.8). */
	if (authzid[0] != '\0' && (jid_parse(authzid, &az) == -1 ||
	    az.resource[0] != '\0' || strcmp(az.local, local) != 0 ||
	    strcmp(az.domain, srv->cfg->domain) != 0)) {
		c2s_sasl_failure(c, "invalid-authzid");
		return;
	}
	if (ratelimit_blocked(srv->rl_addr, conn_peer_addr(c->conn), now) ||
	    ratelimit_blocked(srv->rl_pair, c2s_pair_key(c, local, key,
	    sizeof(key)), now)) {
		log_info("c2s=%016" PRIx64 " auth rate-limited user=%s "
		    "peer=%s", c->id, local, conn_peer(c->conn));
		c2s_sasl_failure(c, "temporary-auth-failure");
		return;
	}
	/* Guessed at from everywhere: the failures answer slowly, a right
	 * password does not wait. */
	slow = ratelimit_blocked(srv->rl_account, local, now) ?
	    srv->cfg->auth_slow_delay : 0;
	c->user = xstrdup(local);
	c->auth_pending = true;
	c2s_enter_state(c, C2S_AUTH_WAIT);
	/* What follows <auth/> waits for the answer: it may be the new
	 * stream's header (a pipelining client), or a retry. */
	xmlp_hold(c->xmlp);
	auth_verify_slow(srv->auth, local, sasl_password(c->sasl), slow,
	    c2s_auth_done, c, c->id);
	sasl_wipe(c->sasl);
}

static void
c2s_sasl_step(struct c2s *c, const char *in)
{
	char	*out = NULL, *buf;
	size_t	 outlen = 0;

	switch (sasl_step(c->sasl, in, strlen(in), &out, &outlen)) {
	case SASL_CONTINUE:
		xasprintf(&buf, "<challenge xmlns='%s'>%s</challenge>",
		    NS_SASL, out != NULL ? out : "");
		c2s_puts(c, buf);
		free(buf);
		break;
	case SASL_OK:
		c2s_sasl_verify(c);
		break;
	case SASL_FAIL:
		c2s_sasl_failure(c, sasl_condition(c->sasl));
		break;
	}
	free(out);
}

static void
c2s_auth(struct c2s *c, struct stanza *st)
{
	const char	*name = stanza_name(st), *mech;

	if (strcmp(stanza_ns(st), NS_SASL) != 0) {
		c2s_stream_error(c, "not-authorized");
		return;
	}
	if (strcmp(name, "auth") == 0) {
		mech = stanza_attr(st, "mechanism");
		sasl_free(c->sasl);
		if ((c->sasl = sasl_new(mech != NULL ? mech : "")) == NULL) {
			c2s_sasl_failure(c, "invalid-mechanism");
			return;
		}
		c2s_sasl_step(c, stanza_text(st));
	} else if (strcmp(name, "response") == 0 && c->sasl != NULL)
		c2s_sasl_step(c, stanza_text(st));
	else if (strcmp(name, "abort") == 0)
		c2s_sasl_failure(c, "aborted");
	else
		c2s_sasl_failure(c, "malformed-request");
}

static void
c2s_iq_error(struct c2s *c, const struct stanza *st, const char *cond)
{
	struct stanza	*err;

	if ((err = proto_error(st, cond)) == NULL)
		return;
	/* Before binding there is no stream management yet. */
	c2s_send(c, err);
	stanza_unref(err);
}

static void
c2s_deliver(void *arg, struct stanza *st, int64_t tag)
{
	c2s_send_tagged(arg, st, tag);
}

static void
c2s_kick(void *arg, const char *cond)
{
	c2s_stream_error(arg, cond);
}

static size_t
c2s_room(void *arg)
{
	return c2s_sm_room(arg);
}

static bool
c2s_acks(void *arg)
{
	const struct c2s	*c = arg;

	return c->smq != NULL;
}

static const struct session_ops c2s_session_ops = {
	.deliver = c2s_deliver,
	.kick = c2s_kick,
	.room = c2s_room,
	.acks = c2s_acks,
};

/* Resource binding (RFC 6120 §7). */
static void
c2s_bind(struct c2s *c, struct stanza *st)
{
	struct server	*srv = c->srv;
	struct stanza	*b, *r;
	char		 res[JID_PART_MAX + 1];
	const char	*want, *type = stanza_attr(st, "type");

	if (strcmp(stanza_name(st), "iq") != 0 ||
	    strcmp(stanza_ns(st), NS_CLIENT) != 0) {
		c2s_stream_error(c, proto_is_stanza(st) ? "not-authorized" :
		    "unsupported-stanza-type");
		return;
	}
	b = stanza_child(st, "bind", NS_BIND);
	if (b == NULL || type == NULL || strcmp(type, "set") != 0) {
		c2s_iq_error(c, st, "not-authorized");
		return;
	}
	want = stanza_child_text(b, "resource", NS_BIND);
	if (want == NULL || want[0] == '\0')
		proto_random_id(res);
	else if (jid_prep_resource(want, res, sizeof(res)) == -1) {
		c2s_iq_error(c, st, "bad-request");
		return;
	}
	/* Hibernating sessions give way to a live login. */
	if (!c2s_sm_make_room(srv, &c2s_session_ops, c->user, res)) {
		c2s_iq_error(c, st, "resource-constraint");
		return;
	}
	c->sess = router_bind(srv->router, c->user, res, &c2s_session_ops,
	    c, c->id);
	log_info("c2s=%016" PRIx64 " bound jid=%s", c->id, c->sess->full);
	r = proto_iq_result(st);
	stanza_set_attr(r, "from", NULL);
	stanza_add_text(stanza_new_child(stanza_new_child(r, "bind", NS_BIND),
	    "jid", NULL), c->sess->full, strlen(c->sess->full));
	c2s_send(c, r);
	stanza_unref(r);
	c2s_enter_state(c, C2S_SESSION);
}

/* RFC 6120 §8.1.2.1: a from that is not ours is a stream error. */
static bool
c2s_from_ok(struct c2s *c, struct stanza *st)
{
	const char	*from = stanza_attr(st, "from");
	struct jid	 j;
	char		 buf[JID_MAX + 1];

	if (from == NULL)
		return true;
	if (jid_parse(from, &j) == -1)
		return false;
	return strcmp(jid_full(&j, buf, sizeof(buf)), c->sess->full) == 0 ||
	    strcmp(buf, c->sess->bare) == 0;
}

static void
c2s_session(struct c2s *c, struct stanza *st)
{
	struct stanza	*r;

	if (!proto_is_stanza(st)) {
		c2s_stream_error(c, "unsupported-stanza-type");
		return;
	}
	if (!c2s_from_ok(c, st)) {
		c2s_stream_error(c, "invalid-from");
		return;
	}
	/* RFC 3921 session establishment: a no-op some clients still send. */
	if (strcmp(stanza_name(st), "iq") == 0 &&
	    stanza_child(st, "session", NS_SESSION) != NULL) {
		r = proto_iq_result(st);
		stanza_set_attr(r, "from", NULL);
		c2s_send(c, r);
		stanza_unref(r);
		return;
	}
	if (strcmp(stanza_name(st), "iq") == 0 &&
	    stanza_child(st, "bind", NS_BIND) != NULL) {
		c2s_iq_error(c, st, "not-allowed");
		return;
	}
	dispatch_from_client(c->srv, c->sess, st);
}

static void
c2s_on_stanza(void *arg, struct stanza *st)
{
	struct c2s	*c = arg;

	c->nstanzas++;
	if ((c->state == C2S_BIND || c->state == C2S_SESSION) &&
	    strcmp(stanza_ns(st), NS_SM) == 0) {
		c2s_sm_nonza(c, st);
		stanza_unref(st);
		return;
	}
	switch (c->state) {
	case C2S_STARTTLS:	c2s_starttls(c, st);	break;
	case C2S_AUTH:		c2s_auth(c, st);	break;
	case C2S_BIND:		c2s_bind(c, st);	break;
	case C2S_SESSION:
		c2s_session(c, st);
		c2s_sm_handled(c);
		break;
	case C2S_AUTH_WAIT:
		/* §6.4.6: nothing may be sent until the outcome. */
		c2s_stream_error(c, "policy-violation");
		break;
	case C2S_CLOSED:
		break;
	default:
		c2s_stream_error(c, "unsupported-stanza-type");
		break;
	}
	stanza_unref(st);
}

static const struct xmlp_cb c2s_xmlp_cb = {
	.open = c2s_on_open,
	.stanza = c2s_on_stanza,
	.close = c2s_on_close,
};

static void
c2s_feed(struct c2s *c, const char *buf, size_t len)
{
	if (xmlp_feed(c->xmlp, buf, len) == -1 && c->state != C2S_CLOSED &&
	    !c->need_reset)
		c2s_stream_error(c, xmlp_error(c->xmlp));
	if (c->need_reset && c->state != C2S_CLOSED) {
		c->need_reset = false;
		xmlp_reset(c->xmlp);
	}
}

/* Add elapsed_ms of rate (per second) to a bucket holding burst s. */
static void
c2s_refill_one(int64_t *tok, unsigned rate, uint64_t elapsed_ms,
    unsigned burst)
{
	int64_t	 cap = (int64_t)rate * burst * 1000;

	if (elapsed_ms > (uint64_t)burst * 1000)
		elapsed_ms = (uint64_t)burst * 1000;
	*tok += (int64_t)rate * (int64_t)elapsed_ms;
	if (*tok > cap)
		*tok = cap;
}

static unsigned
c2s_rate_bytes(const struct c2s *c)
{
	return c->authed ? c->srv->cfg->rate_bytes :
	    c->srv->cfg->rate_bytes_unauth;
}

static unsigned
c2s_rate_stanzas(const struct c2s *c)
{
	return c->authed ? c->srv->cfg->rate_stanzas :
	    c->srv->cfg->rate_stanzas_unauth;
}

static void
c2s_refill(struct c2s *c)
{
	uint64_t	 now = ev_now(c->srv->ev);
	unsigned	 burst = c->srv->cfg->rate_burst;

	c2s_refill_one(&c->tok_bytes, c2s_rate_bytes(c), now - c->tok_at,
	    burst);
	c2s_refill_one(&c->tok_stanzas, c2s_rate_stanzas(c), now - c->tok_at,
	    burst);
	c->tok_at = now;
}

/* Milliseconds until both buckets hold a token again; 0: go on now. */
static uint64_t
c2s_throttle_ms(const struct c2s *c)
{
	unsigned	 rb = c2s_rate_bytes(c), rs = c2s_rate_stanzas(c);
	uint64_t	 wb = 0, ws = 0;

	if (rb != 0 && c->tok_bytes <= 0)
		wb = (uint64_t)(-c->tok_bytes) / rb + 1;
	if (rs != 0 && c->tok_stanzas <= 0)
		ws = (uint64_t)(-c->tok_stanzas) / rs + 1;
	return wb > ws ? wb : ws;
}

/* Charge what one slice cost: its bytes, header replays, stanzas. */
static void
c2s_charge(struct c2s *c, size_t bytes, unsigned stanzas)
{
	bytes += xmlp_take_replayed(c->xmlp);
	if (c2s_rate_bytes(c) != 0)
		c->tok_bytes -= (int64_t)bytes * 1000;
	if (c2s_rate_stanzas(c) != 0)
		c->tok_stanzas -= (int64_t)stanzas * 1000;
}

/*
 * The next slice of inbuf to parse. A slice is parsed whole, so with few
 * stanza tokens left it is cut to C2S_BYTES_PER_TOKEN bytes per token:
 * even tiny stanzas overdraw the bucket by about as much as it held.
 */
static size_t
c2s_slice(const struct c2s *c)
{
	size_t	 n = c->inlen - c->inoff, cap = C2S_SLICE;

	if (c2s_rate_stanzas(c) != 0 && c->tok_stanzas > 0 &&
	    (uint64_t)c->tok_stanzas / 1000 < C2S_SLICE / C2S_BYTES_PER_TOKEN)
		cap = (size_t)c->tok_stanzas / 1000 * C2S_BYTES_PER_TOKEN;
	if (cap < C2S_BYTES_PER_TOKEN)
		cap = C2S_BYTES_PER_TOKEN;
	return n < cap ? n : cap;
}

/* Keep inbuf small: drop what was parsed, free it once empty. */
static void
c2s_inbuf_compact(struct c2s *c)
{
	if (c->inoff < c->inlen && c->inoff > 0)
		memmove(c->inbuf, c->inbuf + c->inoff, c->inlen - c->inoff);
	c->inlen -= c->inoff;
	c->inoff = 0;
	if (c->inlen == 0) {
		free(c->inbuf);
		c->inbuf = NULL;
	}
}

/*
 * Parse buffered input in slices while the stream may: not past its
 * share of this turn (other streams get theirs first: the rest waits for
 * the next turn), not out of tokens (it waits for the refill), not
 * paused on its own output. The socket is read only once inbuf is empty.
 */
static void
c2s_pump(struct c2s *c)
{
	size_t		 done = 0, n;
	unsigned	 first = c->nstanzas, before;
	uint64_t	 wait = 0;

	while (c->state != C2S_CLOSED && c->state != C2S_TLS &&
	    c->conn != NULL && !c->out_paused && c->inoff < c->inlen) {
		c2s_refill(c);
		if ((wait = c2s_throttle_ms(c)) > 0)
			break;
		if (done >= C2S_TURN_BYTES ||
		    c->nstanzas - first >= C2S_TURN_STANZAS) {
			ev_timer_set(c->pump_timer, 0);
			break;
		}
		n = c2s_slice(c);
		before = c->nstanzas;
		c->inoff += n;
		c2s_feed(c, c->inbuf + c->inoff - n, n);
		done += n;
		c2s_charge(c, n, c->nstanzas - before);
	}
	if (c->state == C2S_CLOSED || c->state == C2S_TLS || c->conn == NULL)
		c->inoff = c->inlen;
	c2s_inbuf_compact(c);
	if (wait == 0 && c->state != C2S_CLOSED) {
		c2s_refill(c);
		wait = c2s_throttle_ms(c);
	}
	if (wait > 0 && c->state != C2S_CLOSED)
		ev_timer_set(c->pump_timer, wait);
	c2s_flow(c);
}

/* Read from the socket only when nothing holds the stream back. */
static void
c2s_flow(struct c2s *c)
{
	bool	 pause;

	if (c->state == C2S_CLOSED || c->conn == NULL)
		return;
	pause = c->out_paused || c->inlen > c->inoff ||
	    ev_timer_pending(c->pump_timer);
	if (pause != c->read_paused) {
		c->read_paused = pause;
		conn_pause_read(c->conn, pause);
	}
}

static void
c2s_on_pump(void *arg)
{
	c2s_pump(arg);
}

static void
c2s_on_read(void *arg, const char *buf, size_t len)
{
	struct c2s	*c = arg;

	if (c->state == C2S_CLOSED)
		return;
	c->last_in = ev_now(c->srv->ev);
	if (c->state == C2S_TLS)
		return;		/* plaintext after <starttls/>: discarded */
	c->inbuf = xreallocarray(c->inbuf, c->inlen + len, 1);
	memcpy(c->inbuf + c->inlen, buf, len);
	c->inlen += len;
	c2s_pump(c);
}

/* The peer read its backlog: go on with what it sent meanwhile. */
static void
c2s_on_drained(void *arg)
{
	struct c2s	*c = arg;

	if (!c->out_paused || c->state == C2S_CLOSED)
		return;
	c->out_paused = false;
	c2s_pump(c);
}

static void
c2s_on_closed(void *arg, const char *why)
{
	struct c2s	*c = arg;

	/* The conn frees itself after this callback. */
	c->conn = NULL;
	if (!c2s_sm_hibernate(c, why))
		c2s_teardown(c, why);
}

static void
c2s_on_tls_ready(void *arg)
{
	struct c2s	*c = arg;

	c->tls = true;
	log_debug("c2s=%016" PRIx64 " tls established", c->id);
	c2s_enter_state(c, C2S_HEADER);
}

static const struct conn_cb c2s_conn_cb = {
	.read = c2s_on_read,
	.closed = c2s_on_closed,
	.tls_ready = c2s_on_tls_ready,
	.drained = c2s_on_drained,
};

/* Timeouts (RFC 6120 §4.6.2 connection-timeout) and keepalives. */
static void
c2s_on_timer(void *arg)
{
	struct c2s		*c = arg;
	const struct config	*cfg = c->srv->cfg;
	uint64_t		 now = ev_now(c->srv->ev), next;

	if (c->state == C2S_HIBERNATED) {
		c2s_teardown(c, "hibernation expired");
		return;
	}
	if (c->sess == NULL) {
		if (now - c->started >= (uint64_t)cfg->auth_timeout * 1000) {
			c2s_stream_error(c, "connection-timeout");
			return;
		}
		ev_timer_set(c->timer, c->started +
		    (uint64_t)cfg->auth_timeout * 1000 - now);
		return;
	}
	if (now - c->last_in >= (uint64_t)cfg->idle_timeout * 1000) {
		/* Probably a dead link: a resumable session waits. */
		if (!c2s_sm_hibernate(c, "idle timeout"))
			c2s_stream_error(c, "connection-timeout");
		return;
	}
	/* A whitespace keepalive keeps NAT bindings and detects dead
	 * peers (RFC 6120 §4.6.1). */
	if (now - c->last_out >= (uint64_t)cfg->keepalive * 1000) {
		c2s_puts(c, " ");
		c2s_sm_tick(c);
	}
	next = c->last_in + (uint64_t)cfg->idle_timeout * 1000;
	if (c->last_out + (uint64_t)cfg->keepalive * 1000 < next)
		next = c->last_out + (uint64_t)cfg->keepalive * 1000;
	ev_timer_set(c->timer, next > now ? next - now : 1000);
}

/* Wrap an accepted socket in a stream. */
/* What stream management needs of a stream's write side (c2s_priv.h). */
static const struct c2s_sm_io c2s_sm_io = {
	.puts = c2s_puts,
	.send_raw = c2s_send_raw,
	.stream_error = c2s_stream_error_sm,
	.teardown = c2s_teardown,
	.enter_state = c2s_enter_state,
};

void
c2s_init(struct server *srv)
{
	c2s_sm_init(srv, &c2s_sm_io);
}

void
c2s_fini(struct server *srv)
{
	c2s_sm_cleanup(srv);
}

void
c2s_accept(struct server *srv, int fd, const char *peer, bool direct_tls)
{
	const struct config	*cfg = srv->cfg;
	struct xmlp_limits	 lim = {
		.max_stanza = cfg->max_stanza_size,
		.max_depth = cfg->max_depth,
		.max_attrs = cfg->max_attributes,
	};
	struct c2s		*c;

	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->id = ++srv->next_id;
	c->started = c->last_in = c->last_out = ev_now(srv->ev);
	c->state = C2S_HEADER;
	c->xmlp = xmlp_new(&c2s_xmlp_cb, c, &lim);
	c->conn = conn_new(srv->ev, fd, peer, &c2s_conn_cb, c);
	c->timer = ev_timer_new(srv->ev, c2s_on_timer, c);
	c->pump_timer = ev_timer_new(srv->ev, c2s_on_pump, c);
	c->tok_at = c->started;
	c->tok_bytes = (int64_t)cfg->rate_bytes_unauth * cfg->rate_burst * 1000;
	c->tok_stanzas = (int64_t)cfg->rate_stanzas_unauth * cfg->rate_burst *
	    1000;
	ev_timer_set(c->timer, (uint64_t)cfg->auth_timeout * 1000);
	c->next = srv->clients;
	if (c->next != NULL)
		c->next->prev = c;
	srv->clients = c;
	srv->nclients++;
	log_info("c2s=%016" PRIx64 " connected peer=%s tls=%s", c->id, peer,
	    direct_tls ? "direct" : "starttls");
	if (direct_tls) {
		c->state = C2S_TLS;
		if (srv->tls == NULL || conn_starttls(c->conn, srv->tls) == -1)
			c2s_teardown(c, "tls unavailable");
	}
}

/*
 * SIGTERM, after the last commit: the final committed h (so the client
 * resends nothing the server kept), then <system-shutdown/> (RFC 6120
 * §4.9.3.19).
 */
void
c2s_shutdown_all(struct server *srv)
{
	struct c2s	*c;

	for (c = srv->clients; c != NULL; c = c->next)
		c2s_sm_final_ack(c);
	c2s_abort_all(srv);
}

void
c2s_abort_all(struct server *srv)
{
	while (srv->clients != NULL)
		c2s_stream_error(srv->clients, "system-shutdown");
}
