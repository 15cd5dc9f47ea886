/*
 * check_router.c: RFC 6121 §8.5 delivery choices and session binding.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ev.h"
#include "stanza.h"
#include <stdio.h>
#include "router.h"
#include "server.h"

#include "check_main.h"

struct pick_case {
	const char	*name;
	const char	*type;
	int		 prio[4];	/* 999 = not available */
	int		 n;
	unsigned	 want;		/* bitmask of sessions picked */
};

static const struct pick_case pick_cases[] = {
	{ "chat goes to all non-negative", "chat", { 1, 5, -1, 0 }, 4, 0xb },
	{ "normal goes to the highest", "normal", { 1, 5, -1, 5 }, 4, 0xa },
	{ "headline to all non-negative", "headline", { 0, 999, 3 }, 3, 0x5 },
	{ "nobody available", "chat", { 999, 999 }, 2, 0 },
	{ "only negative priorities", "chat", { -1, -5 }, 2, 0 },
	{ "groupchat never to a bare JID", "groupchat", { 1, 1 }, 2, 0 },
	{ "unknown type is not delivered", "bogus", { 1 }, 1, 0 },
};

START_TEST(router_pick_table)
{
	const struct pick_case	*c = &pick_cases[_i];
	struct session		 s[4], *out[4], *head = NULL;
	unsigned		 got = 0;
	size_t			 n, i, j;
	int			 k;

	memset(s, 0, sizeof(s));
	for (k = c->n - 1; k >= 0; k--) {
		s[k].available = c->prio[k] != 999;
		s[k].priority = c->prio[k] == 999 ? 0 : c->prio[k];
		s[k].next = head;
		head = &s[k];
	}
	n = router_pick(head, c->type, out, 4);
	for (i = 0; i < n; i++)
		for (j = 0; j < 4; j++)
			if (out[i] == &s[j])
				got |= 1u << j;
	ck_assert_msg(got == c->want, "%s: got %x want %x", c->name, got,
	    c->want);
}
END_TEST

static int	kicked;
static int	delivered;
static char	delivered_names[16][16];

static void
fake_deliver(void *arg, struct stanza *st, int64_t tag)
{
	(void)arg;
	(void)tag;
	if (delivered < 16)
		snprintf(delivered_names[delivered], sizeof(delivered_names[0]),
		    "%s", stanza_name(st));
	delivered++;
}

static struct router	*test_router;

static void
fake_kick(void *arg, const char *cond)
{
	ck_assert_str_eq(cond, "conflict");
	kicked++;
	router_unbind(test_router, arg);
}

static const struct session_ops fake_ops = {
	.deliver = fake_deliver,
	.kick = fake_kick,
};

START_TEST(router_bind_conflict)
{
	struct config	cfg;
	struct server	srv;
	struct session	*a, *b, *c;

	memset(&cfg, 0, sizeof(cfg));
	memset(&srv, 0, sizeof(srv));
	cfg.domain = (char *)(uintptr_t)"example.org";
	srv.cfg = &cfg;
	test_router = router_new(&srv);

	a = router_bind(test_router, "alice", "home", &fake_ops, NULL, 1);
	a->arg = a;
	b = router_bind(test_router, "alice", "work", &fake_ops, NULL, 2);
	b->arg = b;
	ck_assert_str_eq(a->full, "alice@example.org/home");
	ck_assert_str_eq(a->bare, "alice@example.org");
	ck_assert_str_eq(a->resource, "home");
	ck_assert_uint_eq(router_nsessions(test_router, "alice@example.org"),
	    2);
	ck_assert_ptr_eq(router_session(test_router,
	    "alice@example.org/work"), b);

	/* Same full JID again: the old one is kicked with conflict. */
	c = router_bind(test_router, "alice", "home", &fake_ops, NULL, 3);
	c->arg = c;
	ck_assert_int_eq(kicked, 1);
	ck_assert_ptr_eq(router_session(test_router,
	    "alice@example.org/home"), c);
	ck_assert_uint_eq(router_total(test_router), 2);

	router_unbind(test_router, b);
	router_unbind(test_router, c);
	ck_assert_ptr_null(router_sessions(test_router, "alice@example.org"));
	ck_assert_uint_eq(router_total(test_router), 0);
	router_free(test_router);
}
END_TEST

/*
 * Nothing is written before the turn's commit: deliveries wait for
 * router_flush; a failed commit drops the messages (their senders resend)
 * but not presence; an unbound session named by a waiting delivery stays
 * allocated (dead) until the flush.
 */
START_TEST(router_deliveries_wait_for_the_commit)
{
	struct config	 cfg;
	struct server	 srv;
	struct session	*a, *b;
	struct stanza	*msg = stanza_new("message", "jabber:client");
	struct stanza	*pres = stanza_new("presence", "jabber:client");

	memset(&cfg, 0, sizeof(cfg));
	memset(&srv, 0, sizeof(srv));
	cfg.domain = (char *)(uintptr_t)"example.org";
	srv.cfg = &cfg;
	srv.ev = ev_new();
	test_router = router_new(&srv);
	a = router_bind(test_router, "alice", "home", &fake_ops, NULL, 1);
	b = router_bind(test_router, "bob", "work", &fake_ops, NULL, 2);

	delivered = 0;
	router_send(a, msg);
	router_send(a, pres);
	ck_assert_int_eq(delivered, 0);
	router_flush(test_router, true);
	ck_assert_int_eq(delivered, 2);
	ck_assert_str_eq(delivered_names[0], "message");
	ck_assert_str_eq(delivered_names[1], "presence");

	delivered = 0;
	router_send(a, msg);
	router_send(a, pres);
	router_flush(test_router, false);
	ck_assert_int_eq(delivered, 1);
	ck_assert_str_eq(delivered_names[0], "presence");

	/* b goes away with a delivery pending: it is skipped, not touched
	 * after free (ASan and valgrind would say). */
	delivered = 0;
	router_send(b, msg);
	router_unbind(test_router, b);
	ck_assert_uint_eq(router_total(test_router), 1);
	router_flush(test_router, true);
	ck_assert_int_eq(delivered, 0);

	router_unbind(test_router, a);
	router_free(test_router);
	stanza_unref(msg);
	stanza_unref(pres);
	ev_free(srv.ev);
}
END_TEST

static Suite *
router_suite(void)
{
	Suite	*s = suite_create("router");
	TCase	*tc = tcase_create("pick");
	TCase	*tb = tcase_create("bind");

	tcase_add_loop_test(tc, router_pick_table, 0,
	    sizeof(pick_cases) / sizeof(pick_cases[0]));
	tcase_add_test(tb, router_bind_conflict);
	tcase_add_test(tb, router_deliveries_wait_for_the_commit);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tb);
	return s;
}

CHECK_MAIN(router_suite)
