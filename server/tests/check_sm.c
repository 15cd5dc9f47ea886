/* check_sm.c: the XEP-0198 unacked queue and its 2^32 counters. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sm.h"
#include "stanza.h"

#include "check_main.h"

static struct stanza *
msg(void)
{
	return stanza_new("message", "jabber:client");
}

/* Push n fresh stanzas, dropping our own reference to each. */
static void
push_n(struct sm_queue *q, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		struct stanza	*st = msg();

		ck_assert_int_eq(sm_queue_push(q, st, 0), 0);
		stanza_unref(st);
	}
}

START_TEST(test_ack_drops_covered)
{
	struct sm_queue	*q = sm_queue_new(100);

	push_n(q, 5);
	ck_assert_uint_eq(sm_queue_sent(q), 5);
	ck_assert_int_eq(sm_queue_ack(q, 3, NULL, NULL), 3);
	ck_assert_uint_eq(sm_queue_len(q), 2);
	ck_assert_uint_eq(sm_queue_acked(q), 3);
	/* The same h again acknowledges nothing new. */
	ck_assert_int_eq(sm_queue_ack(q, 3, NULL, NULL), 0);
	ck_assert_int_eq(sm_queue_ack(q, 5, NULL, NULL), 2);
	ck_assert_uint_eq(sm_queue_len(q), 0);
	sm_queue_free(q);
}
END_TEST

START_TEST(test_ack_beyond_sent_rejected)
{
	struct sm_queue	*q = sm_queue_new(100);

	push_n(q, 2);
	ck_assert_int_eq(sm_queue_ack(q, 3, NULL, NULL), -1);
	ck_assert_uint_eq(sm_queue_len(q), 2);
	/* An h "behind" the last ack is, mod 2^32, a huge lie too. */
	ck_assert_int_eq(sm_queue_ack(q, 1, NULL, NULL), 1);
	ck_assert_int_eq(sm_queue_ack(q, 0, NULL, NULL), -1);
	ck_assert_uint_eq(sm_queue_len(q), 1);
	sm_queue_free(q);
}
END_TEST

START_TEST(test_wrap_at_2_32)
{
	struct sm_queue	*q = sm_queue_new(100);

	sm_queue_start_at(q, UINT32_MAX - 2);
	push_n(q, 6);
	ck_assert_uint_eq(sm_queue_sent(q), 3);	/* 2^32 - 3 + 6 */
	ck_assert_int_eq(sm_queue_ack(q, UINT32_MAX, NULL, NULL), 2);
	ck_assert_int_eq(sm_queue_ack(q, 1, NULL, NULL), 2);
	ck_assert_uint_eq(sm_queue_len(q), 2);
	ck_assert_int_eq(sm_queue_ack(q, 4, NULL, NULL), -1);
	ck_assert_int_eq(sm_queue_ack(q, 3, NULL, NULL), 2);
	sm_queue_free(q);
}
END_TEST

START_TEST(test_full_refuses)
{
	struct sm_queue	*q = sm_queue_new(3);
	struct stanza	*st = msg();

	push_n(q, 3);
	ck_assert_int_eq(sm_queue_push(q, st, 0), -1);
	ck_assert_uint_eq(sm_queue_sent(q), 3);
	ck_assert_int_eq(sm_queue_ack(q, 1, NULL, NULL), 1);
	ck_assert_int_eq(sm_queue_push(q, st, 0), 0);
	stanza_unref(st);
	sm_queue_free(q);
}
END_TEST

START_TEST(test_order_and_shift)
{
	struct sm_queue	*q = sm_queue_new(1000);
	struct stanza	*st;
	char		 id[16];
	int64_t		 tag;
	int		 i;

	/* Enough to grow the ring several times and wrap its head. */
	for (i = 0; i < 300; i++) {
		st = msg();
		snprintf(id, sizeof(id), "%d", i);
		stanza_set_attr(st, "id", id);
		sm_queue_push(q, st, i);
		stanza_unref(st);
		if (i % 3 == 2)
			sm_queue_ack(q, sm_queue_acked(q) + 1, NULL, NULL);
	}
	ck_assert_uint_eq(sm_queue_len(q), 200);
	ck_assert_str_eq(stanza_attr(sm_queue_at(q, 0), "id"), "100");
	ck_assert_str_eq(stanza_attr(sm_queue_at(q, 199), "id"), "299");
	ck_assert_ptr_null(sm_queue_at(q, 200));
	for (i = 100; i < 300; i++) {
		st = sm_queue_shift(q, &tag);
		snprintf(id, sizeof(id), "%d", i);
		ck_assert_str_eq(stanza_attr(st, "id"), id);
		ck_assert_int_eq(tag, i);
		stanza_unref(st);
	}
	ck_assert_ptr_null(sm_queue_shift(q, &tag));
	sm_queue_free(q);
}
END_TEST

/* What the ack callback sees: each covered stanza's tag, in order. */
struct acked {
	int64_t	tags[16];
	int	n;
};

static void
record_acked(void *arg, struct stanza *st, int64_t tag)
{
	struct acked	*a = arg;

	ck_assert_ptr_nonnull(st);
	ck_assert_int_lt(a->n, 16);
	a->tags[a->n++] = tag;
}

START_TEST(test_ack_reports_tags)
{
	struct sm_queue	*q = sm_queue_new(10);
	struct acked	 a = { .n = 0 };
	struct stanza	*st;
	int		 i;

	for (i = 1; i <= 5; i++) {
		st = msg();
		ck_assert_int_eq(sm_queue_push(q, st, i * 10), 0);
		stanza_unref(st);
	}
	ck_assert_int_eq(sm_queue_ack(q, 2, record_acked, &a), 2);
	ck_assert_int_eq(a.n, 2);
	ck_assert_int_eq(a.tags[0], 10);
	ck_assert_int_eq(a.tags[1], 20);
	/* A lie reports nothing and keeps everything. */
	ck_assert_int_eq(sm_queue_ack(q, 9, record_acked, &a), -1);
	ck_assert_int_eq(a.n, 2);
	ck_assert_int_eq(sm_queue_ack(q, 5, record_acked, &a), 3);
	ck_assert_int_eq(a.n, 5);
	ck_assert_int_eq(a.tags[4], 50);
	sm_queue_free(q);
}
END_TEST

static Suite *
sm_suite(void)
{
	Suite	*s = suite_create("sm");
	TCase	*tc = tcase_create("queue");

	tcase_add_test(tc, test_ack_drops_covered);
	tcase_add_test(tc, test_ack_beyond_sent_rejected);
	tcase_add_test(tc, test_wrap_at_2_32);
	tcase_add_test(tc, test_full_refuses);
	tcase_add_test(tc, test_order_and_shift);
	tcase_add_test(tc, test_ack_reports_tags);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sm_suite)
