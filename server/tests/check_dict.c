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

/* The reference vectors of the SipHash paper: key 00..0f, message 00..n-1. */
START_TEST(dict_siphash_vectors)
{
	const uint64_t	key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	unsigned char	msg[15];
	size_t		i;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	ck_assert_uint_eq(dict_siphash(key, msg, 0), 0x726fdb47dd0e0e31ULL);
	ck_assert_uint_eq(dict_siphash(key, msg, 8), 0x93f5f5799a932462ULL);
	ck_assert_uint_eq(dict_siphash(key, msg, 15), 0xa129ca6149be45e5ULL);
}
END_TEST

/* FNV-1a, the hash the tables used before they were keyed. */
static uint32_t
fnv1a(const char *s)
{
	uint32_t	h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/*
 * A client that knows the hash picks JIDs that share a bucket: 256 names
 * whose FNV-1a hash ends in twelve zero bits were one chain of 256 in the
 * unkeyed table. Keyed, they spread like any others.
 */
START_TEST(dict_chosen_collisions)
{
	struct dict	*d = dict_new();
	char		 key[48];
	unsigned	 i, found = 0;

	for (i = 0; found < 256 && i < 8000000; i++) {
		snprintf(key, sizeof(key), "u%u@localhost", i);
		if ((fnv1a(key) & 4095) != 0)
			continue;
		dict_set(d, key, d);
		found++;
	}
	ck_assert_uint_eq(found, 256);
	ck_assert_uint_eq(dict_count(d), 256);
	ck_assert_uint_lt(dict_max_chain(d), 16);
	dict_free(d);
}
END_TEST

/* Two tables have different keys: a collision in one is not in another. */
START_TEST(dict_keys_differ)
{
	struct dict	*a = dict_new(), *b = dict_new();
	char		 key[48];
	unsigned	 i, same = 0;

	/* 64 buckets each after 64 keys; equal layouts would be chance. */
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		dict_set(a, key, a);
		dict_set(b, key, b);
	}
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		same += dict_bucket(a, key) == dict_bucket(b, key);
	}
	ck_assert_uint_lt(same, 64);
	dict_free(a);
	dict_free(b);
}
END_TEST

static Suite *
dict_suite(void)
{
	Suite	*s = suite_create("dict");
	TCase	*tc = tcase_create("dict");

	tcase_add_test(tc, dict_basic);
	tcase_add_test(tc, dict_many);
	tcase_add_test(tc, dict_siphash_vectors);
	tcase_add_test(tc, dict_chosen_collisions);
	tcase_add_test(tc, dict_keys_differ);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dict_suite)
