/*
 * check_router.c: RFC 6121 §8.5 delivery choices and session binding.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "router.h"
#include "server.h"

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

static void
fake_deliver(void *arg, struct stanza *st)
{
	(void)arg;
	(void)st;
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

int
main(void)
{
	Suite	*s = suite_create("router");
	TCase	*tc = tcase_create("pick");
	TCase	*tb = tcase_create("bind");
	SRunner	*sr;
	int	 failed;

	tcase_add_loop_test(tc, router_pick_table, 0,
	    sizeof(pick_cases) / sizeof(pick_cases[0]));
	tcase_add_test(tb, router_bind_conflict);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tb);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
