/*
 * check_roster.c: the RFC 6121 Appendix A subscription state machine.
 */
#include <check.h>
#include <stdlib.h>

#include "roster.h"

#include "check_main.h"

struct roster_case {
	const char		*name;
	struct roster_state	 before;
	enum roster_event	 ev;
	struct roster_state	 after;
	struct roster_effect	 fx;
};

#define S(e, s, a, p, pre)	{ .exists = (e), .sub = (s), .ask_out = (a), \
				  .pending_in = (p), .preapproved = (pre) }

static const struct roster_case cases[] = {
	{ "out subscribe from none creates pending-out",
	  S(0, STORE_SUB_NONE, 0, 0, 0), ROSTER_OUT_SUBSCRIBE,
	  S(1, STORE_SUB_NONE, 1, 0, 0),
	  { .save = 1, .push = 1, .route = 1 } },
	{ "out subscribe again is routed but changes nothing",
	  S(1, STORE_SUB_NONE, 1, 0, 0), ROSTER_OUT_SUBSCRIBE,
	  S(1, STORE_SUB_NONE, 1, 0, 0), { .route = 1 } },
	{ "out subscribe from 'from' asks",
	  S(1, STORE_SUB_FROM, 0, 0, 0), ROSTER_OUT_SUBSCRIBE,
	  S(1, STORE_SUB_FROM, 1, 0, 0),
	  { .save = 1, .push = 1, .route = 1 } },
	{ "in subscribe stores pending-in and delivers",
	  S(0, STORE_SUB_NONE, 0, 0, 0), ROSTER_IN_SUBSCRIBE,
	  S(0, STORE_SUB_NONE, 0, 1, 0), { .save = 1, .deliver = 1 } },
	{ "in subscribe when already 'from' is auto-approved",
	  S(1, STORE_SUB_FROM, 0, 0, 0), ROSTER_IN_SUBSCRIBE,
	  S(1, STORE_SUB_FROM, 0, 0, 0), { .auto_subscribed = 1 } },
	{ "in subscribe with pre-approval",
	  S(1, STORE_SUB_NONE, 0, 0, 1), ROSTER_IN_SUBSCRIBE,
	  S(1, STORE_SUB_FROM, 0, 0, 0),
	  { .save = 1, .push = 1, .auto_subscribed = 1, .send_presence = 1 } },
	{ "out subscribed approves a pending request",
	  S(0, STORE_SUB_NONE, 0, 1, 0), ROSTER_OUT_SUBSCRIBED,
	  S(1, STORE_SUB_FROM, 0, 0, 0),
	  { .save = 1, .push = 1, .route = 1, .send_presence = 1 } },
	{ "out subscribed with to becomes both",
	  S(1, STORE_SUB_TO, 0, 1, 0), ROSTER_OUT_SUBSCRIBED,
	  S(1, STORE_SUB_BOTH, 0, 0, 0),
	  { .save = 1, .push = 1, .route = 1, .send_presence = 1 } },
	{ "out subscribed without request pre-approves",
	  S(1, STORE_SUB_NONE, 0, 0, 0), ROSTER_OUT_SUBSCRIBED,
	  S(1, STORE_SUB_NONE, 0, 0, 1), { .save = 1, .push = 1 } },
	{ "in subscribed answers our request",
	  S(1, STORE_SUB_NONE, 1, 0, 0), ROSTER_IN_SUBSCRIBED,
	  S(1, STORE_SUB_TO, 0, 0, 0), { .save = 1, .push = 1, .deliver = 1 } },
	{ "in subscribed from 'from' becomes both",
	  S(1, STORE_SUB_FROM, 1, 0, 0), ROSTER_IN_SUBSCRIBED,
	  S(1, STORE_SUB_BOTH, 0, 0, 0), { .save = 1, .push = 1, .deliver = 1 } },
	{ "unsolicited subscribed is ignored",
	  S(1, STORE_SUB_NONE, 0, 0, 0), ROSTER_IN_SUBSCRIBED,
	  S(1, STORE_SUB_NONE, 0, 0, 0), { 0 } },
	{ "out unsubscribe drops 'to'",
	  S(1, STORE_SUB_BOTH, 0, 0, 0), ROSTER_OUT_UNSUBSCRIBE,
	  S(1, STORE_SUB_FROM, 0, 0, 0), { .save = 1, .push = 1, .route = 1 } },
	{ "in unsubscribe drops 'from' and sends unavailable",
	  S(1, STORE_SUB_BOTH, 0, 0, 0), ROSTER_IN_UNSUBSCRIBE,
	  S(1, STORE_SUB_TO, 0, 0, 0),
	  { .save = 1, .push = 1, .deliver = 1, .send_unavailable = 1 } },
	{ "out unsubscribed denies a pending request",
	  S(0, STORE_SUB_NONE, 0, 1, 0), ROSTER_OUT_UNSUBSCRIBED,
	  S(0, STORE_SUB_NONE, 0, 0, 0), { .save = 1, .route = 1 } },
	{ "out unsubscribed cancels 'from'",
	  S(1, STORE_SUB_BOTH, 0, 0, 0), ROSTER_OUT_UNSUBSCRIBED,
	  S(1, STORE_SUB_TO, 0, 0, 0),
	  { .save = 1, .push = 1, .route = 1, .send_unavailable = 1 } },
	{ "out unsubscribed with nothing to cancel is dropped",
	  S(1, STORE_SUB_TO, 0, 0, 0), ROSTER_OUT_UNSUBSCRIBED,
	  S(1, STORE_SUB_TO, 0, 0, 0), { 0 } },
	{ "in unsubscribed drops 'to' and ask",
	  S(1, STORE_SUB_NONE, 1, 0, 0), ROSTER_IN_UNSUBSCRIBED,
	  S(1, STORE_SUB_NONE, 0, 0, 0), { .save = 1, .push = 1, .deliver = 1 } },
	{ "in unsubscribed for nothing is ignored",
	  S(1, STORE_SUB_FROM, 0, 0, 0), ROSTER_IN_UNSUBSCRIBED,
	  S(1, STORE_SUB_FROM, 0, 0, 0), { 0 } },
};

START_TEST(roster_table)
{
	const struct roster_case	*c = &cases[_i];
	struct roster_state		 st = c->before;
	struct roster_effect		 fx;

	roster_transition(&st, c->ev, &fx);
	ck_assert_msg(st.exists == c->after.exists, "%s: exists", c->name);
	ck_assert_msg(st.sub == c->after.sub, "%s: sub %d", c->name, st.sub);
	ck_assert_msg(st.ask_out == c->after.ask_out, "%s: ask", c->name);
	ck_assert_msg(st.pending_in == c->after.pending_in, "%s: pending",
	    c->name);
	ck_assert_msg(st.preapproved == c->after.preapproved, "%s: preapproved",
	    c->name);
	ck_assert_msg(fx.save == c->fx.save, "%s: save", c->name);
	ck_assert_msg(fx.push == c->fx.push, "%s: push", c->name);
	ck_assert_msg(fx.route == c->fx.route, "%s: route", c->name);
	ck_assert_msg(fx.deliver == c->fx.deliver, "%s: deliver", c->name);
	ck_assert_msg(fx.auto_subscribed == c->fx.auto_subscribed,
	    "%s: auto_subscribed", c->name);
	ck_assert_msg(fx.send_presence == c->fx.send_presence,
	    "%s: send_presence", c->name);
	ck_assert_msg(fx.send_unavailable == c->fx.send_unavailable,
	    "%s: send_unavailable", c->name);
}
END_TEST

START_TEST(roster_full_handshake)
{
	struct roster_state	a = { 0 }, b = { 0 };
	struct roster_effect	fx;

	/* alice subscribes to bob, bob approves and subscribes back. */
	roster_transition(&a, ROSTER_OUT_SUBSCRIBE, &fx);
	ck_assert(fx.route);
	roster_transition(&b, ROSTER_IN_SUBSCRIBE, &fx);
	ck_assert(fx.deliver && b.pending_in);
	roster_transition(&b, ROSTER_OUT_SUBSCRIBED, &fx);
	ck_assert(fx.route && b.sub == STORE_SUB_FROM);
	roster_transition(&a, ROSTER_IN_SUBSCRIBED, &fx);
	ck_assert(a.sub == STORE_SUB_TO && !a.ask_out);
	roster_transition(&b, ROSTER_OUT_SUBSCRIBE, &fx);
	roster_transition(&a, ROSTER_IN_SUBSCRIBE, &fx);
	roster_transition(&a, ROSTER_OUT_SUBSCRIBED, &fx);
	roster_transition(&b, ROSTER_IN_SUBSCRIBED, &fx);
	ck_assert_int_eq(a.sub, STORE_SUB_BOTH);
	ck_assert_int_eq(b.sub, STORE_SUB_BOTH);
}
END_TEST

START_TEST(roster_event_names)
{
	ck_assert_int_eq(roster_event("subscribe", true), ROSTER_OUT_SUBSCRIBE);
	ck_assert_int_eq(roster_event("unsubscribed", false),
	    ROSTER_IN_UNSUBSCRIBED);
	ck_assert_int_eq(roster_event("probe", true), -1);
	ck_assert_int_eq(roster_event(NULL, true), -1);
	ck_assert_str_eq(roster_sub_name(STORE_SUB_BOTH), "both");
	ck_assert_str_eq(roster_sub_name(STORE_SUB_NONE), "none");
}
END_TEST

static Suite *
roster_suite(void)
{
	Suite	*s = suite_create("roster");
	TCase	*tc = tcase_create("transitions");

	tcase_add_loop_test(tc, roster_table, 0,
	    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, roster_full_handshake);
	tcase_add_test(tc, roster_event_names);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(roster_suite)
