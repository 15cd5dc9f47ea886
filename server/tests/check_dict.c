/*
 * check_dict.c: the string-keyed hash table.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dict.h"

#include "check_main.h"

START_TEST(dict_basic)
{
	struct dict	*d = dict_new();
	int		 a = 1, b = 2;

	ck_assert_ptr_null(dict_get(d, "x"));
	ck_assert_ptr_null(dict_set(d, "x", &a));
	ck_assert_ptr_eq(dict_get(d, "x"), &a);
	ck_assert_ptr_eq(dict_set(d, "x", &b), &a);
	ck_assert_ptr_eq(dict_get(d, "x"), &b);
	ck_assert_uint_eq(dict_count(d), 1);
	ck_assert_ptr_eq(dict_del(d, "x"), &b);
	ck_assert_ptr_null(dict_del(d, "x"));
	ck_assert_uint_eq(dict_count(d), 0);
	dict_free(d);
}
END_TEST

static void
dict_sum(void *arg, const char *key, void *value)
{
	(void)key;
	*(long *)arg += (long)(intptr_t)value;
}

START_TEST(dict_many)
{
	struct dict	*d = dict_new();
	char		 key[48];
	long		 i, sum = 0;

	for (i = 1; i <= 100000; i++) {
		snprintf(key, sizeof(key), "user%ld@example.org", i);
		dict_set(d, key, (void *)(intptr_t)i);
	}
	ck_assert_uint_eq(dict_count(d), 100000);
	for (i = 1; i <= 100000; i += 997) {
		snprintf(key, sizeof(key), "user%ld@example.org", i);
		ck_assert_ptr_eq(dict_get(d, key), (void *)(intptr_t)i);
	}
	dict_each(d, dict_sum, &sum);
	ck_assert_int_eq(sum, 100000L * 100001L / 2);
	for (i = 1; i <= 100000; i += 2) {
		snprintf(key, sizeof(key), "user%ld@example.org", i);
		ck_assert_ptr_nonnull(dict_del(d, key));
	}
	ck_assert_uint_eq(dict_count(d), 50000);
	ck_assert_ptr_null(dict_get(d, "user1@example.org"));
	ck_assert_ptr_nonnull(dict_get(d, "user2@example.org"));
	dict_free(d);
}
END_TEST

static Suite *
dict_suite(void)
{
	Suite	*s = suite_create("dict");
	TCase	*tc = tcase_create("dict");

	tcase_add_test(tc, dict_basic);
	tcase_add_test(tc, dict_many);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dict_suite)
