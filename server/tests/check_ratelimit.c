/* check_ratelimit.c: failure counting, window expiry, bounded eviction. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit.h"

#include "check_main.h"

START_TEST(test_blocks_at_limit)
{
	struct ratelimit	*rl = ratelimit_new(3, 60000, 16);

	ck_assert(!ratelimit_blocked(rl, "192.0.2.1", 0));
	ratelimit_fail(rl, "192.0.2.1", 0);
	ratelimit_fail(rl, "192.0.2.1", 10);
	ck_assert(!ratelimit_blocked(rl, "192.0.2.1", 20));
	ratelimit_fail(rl, "192.0.2.1", 30);
	ck_assert(ratelimit_blocked(rl, "192.0.2.1", 40));
	ck_assert(!ratelimit_blocked(rl, "192.0.2.2", 40));
	ck_assert(!ratelimit_blocked(rl, "192.0.2.10", 40));
	ratelimit_free(rl);
}
END_TEST

/* The fake clock is the now argument. */
START_TEST(test_window_expiry)
{
	struct ratelimit	*rl = ratelimit_new(3, 1000, 16);
	int			 i;

	for (i = 0; i < 3; i++)
		ratelimit_fail(rl, "juliet", 0);
	ck_assert(ratelimit_blocked(rl, "juliet", 0));
	ck_assert(ratelimit_blocked(rl, "juliet", 999));
	/* The burst has left the window: one more try, not three. */
	ck_assert(!ratelimit_blocked(rl, "juliet", 1001));
	ratelimit_fail(rl, "juliet", 1001);
	ck_assert(ratelimit_blocked(rl, "juliet", 1002));
	/* Two quiet windows forget everything. */
	ck_assert(!ratelimit_blocked(rl, "juliet", 3100));
	ratelimit_fail(rl, "juliet", 3100);
	ratelimit_fail(rl, "juliet", 3100);
	ck_assert(!ratelimit_blocked(rl, "juliet", 3100));
	ratelimit_fail(rl, "juliet", 3100);
	ck_assert(ratelimit_blocked(rl, "juliet", 3100));
	ratelimit_free(rl);
}
END_TEST

/* Failures spread evenly never get more than limit per window through. */
START_TEST(test_steady_rate)
{
	struct ratelimit	*rl = ratelimit_new(5, 1000, 4);
	uint64_t		 t;
	unsigned		 allowed = 0;

	for (t = 0; t < 10000; t += 10)
		if (!ratelimit_blocked(rl, "romeo", t)) {
			ratelimit_fail(rl, "romeo", t);
			allowed++;
		}
	/* Ten windows: about 5 each; the estimate may let a few more by. */
	ck_assert_uint_ge(allowed, 45);
	ck_assert_uint_le(allowed, 60);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_clear)
{
	struct ratelimit	*rl = ratelimit_new(1, 60000, 16);

	ratelimit_fail(rl, "a", 0);
	ratelimit_fail(rl, "b", 0);
	ck_assert(ratelimit_blocked(rl, "a", 1));
	ratelimit_clear(rl, "a");
	ck_assert(!ratelimit_blocked(rl, "a", 1));
	ck_assert(ratelimit_blocked(rl, "b", 1));
	ratelimit_clear(rl, "never-seen");
	ratelimit_fail(rl, "a", 2);
	ck_assert(ratelimit_blocked(rl, "a", 3));
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_evicts_oldest)
{
	struct ratelimit	*rl = ratelimit_new(1, 60000, 4);
	char			 key[16];
	int			 i;

	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ratelimit_fail(rl, key, (uint64_t)i);
	}
	ratelimit_fail(rl, "k0", 10);		/* k0 is recent again */
	ratelimit_fail(rl, "k4", 11);		/* evicts k1 */
	ck_assert(!ratelimit_blocked(rl, "k1", 12));
	ck_assert(ratelimit_blocked(rl, "k0", 12));
	ck_assert(ratelimit_blocked(rl, "k2", 12));
	ck_assert(ratelimit_blocked(rl, "k3", 12));
	ck_assert(ratelimit_blocked(rl, "k4", 12));
	ratelimit_fail(rl, "k5", 13);		/* evicts k2 */
	ck_assert(!ratelimit_blocked(rl, "k2", 14));
	ck_assert(ratelimit_blocked(rl, "k5", 14));
	ratelimit_free(rl);
}
END_TEST

/*
 * Random fail/clear/blocked against a plain array model of an LRU set.
 * With limit 1 and a long window, "blocked" means "still in the table",
 * which exercises probing, deletion and eviction together.
 */
#define MODEL_KEYS	37
#define MODEL_NAMES	200

static int	model[MODEL_KEYS];	/* names, oldest first */
static int	model_n;

static int
model_pos(int name)
{
	int	i;

	for (i = 0; i < model_n; i++)
		if (model[i] == name)
			return i;
	return -1;
}

static void
model_drop(int pos)
{
	memmove(&model[pos], &model[pos + 1],
	    (model_n - pos - 1) * sizeof(model[0]));
	model_n--;
}

static void
model_fail(int name)
{
	int	pos = model_pos(name);

	if (pos >= 0)
		model_drop(pos);
	else if (model_n == MODEL_KEYS)
		model_drop(0);
	model[model_n++] = name;
}

START_TEST(test_model)
{
	struct ratelimit	*rl = ratelimit_new(1, UINT64_MAX, MODEL_KEYS);
	uint32_t		 rnd = 12345;
	char			 key[32];
	int			 step, name, pos;

	model_n = 0;
	for (step = 0; step < 20000; step++) {
		rnd = rnd * 1103515245u + 12345u;
		name = (int)((rnd >> 8) % MODEL_NAMES);
		snprintf(key, sizeof(key), "user%d@example.com", name);
		switch ((rnd >> 24) % 4) {
		case 0:
		case 1:
			ratelimit_fail(rl, key, (uint64_t)step);
			model_fail(name);
			break;
		case 2:
			ratelimit_clear(rl, key);
			if ((pos = model_pos(name)) >= 0)
				model_drop(pos);
			break;
		default:
			ck_assert_msg(ratelimit_blocked(rl, key,
			    (uint64_t)step) == (model_pos(name) >= 0),
			    "step %d key %s", step, key);
			break;
		}
	}
	for (name = 0; name < MODEL_NAMES; name++) {
		snprintf(key, sizeof(key), "user%d@example.com", name);
		ck_assert(ratelimit_blocked(rl, key, 20000) ==
		    (model_pos(name) >= 0));
	}
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_disabled_and_edges)
{
	struct ratelimit	*rl = ratelimit_new(0, 1000, 4);

	ratelimit_fail(rl, "x", 0);
	ck_assert(!ratelimit_blocked(rl, "x", 0));
	ratelimit_free(rl);

	rl = ratelimit_new(2, 0, 4);
	ratelimit_fail(rl, "x", 0);
	ratelimit_fail(rl, "x", 0);
	ck_assert(!ratelimit_blocked(rl, "x", 0));
	ratelimit_free(rl);

	/* No room asked for: still one key, never a crash. */
	rl = ratelimit_new(1, 1000, 0);
	ratelimit_fail(rl, "x", 0);
	ratelimit_fail(rl, "y", 0);
	ck_assert(ratelimit_blocked(rl, "y", 0));
	ck_assert(!ratelimit_blocked(rl, "x", 0));
	ck_assert(!ratelimit_blocked(rl, "", 0));
	ratelimit_fail(rl, "", 0);
	ck_assert(ratelimit_blocked(rl, "", 0));
	ratelimit_free(rl);
	ratelimit_free(NULL);
}
END_TEST

/* A clock that steps back must not unblock or wrap anything. */
START_TEST(test_clock_backwards)
{
	struct ratelimit	*rl = ratelimit_new(2, 1000, 4);

	ratelimit_fail(rl, "x", 5000);
	ratelimit_fail(rl, "x", 5000);
	ck_assert(ratelimit_blocked(rl, "x", 4000));
	ck_assert(ratelimit_blocked(rl, "x", 0));
	ck_assert(ratelimit_blocked(rl, "x", 5500));
	ck_assert(!ratelimit_blocked(rl, "x", 7001));
	ratelimit_free(rl);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite	*s = suite_create("ratelimit");
	TCase	*tc = tcase_create("counting");

	tcase_add_test(tc, test_blocks_at_limit);
	tcase_add_test(tc, test_window_expiry);
	tcase_add_test(tc, test_steady_rate);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_disabled_and_edges);
	tcase_add_test(tc, test_clock_backwards);
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_add_test(tc, test_evicts_oldest);
	tcase_add_test(tc, test_model);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ratelimit_suite)
