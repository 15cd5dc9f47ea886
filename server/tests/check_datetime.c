/* check_datetime.c: XEP-0082 parsing and formatting. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "datetime.h"

#include "check_main.h"

static const struct {
	const char	*in;
	int64_t		 ms;	/* -1: must be rejected */
} cases[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "2026-11-25T10:20:30Z", 1795602030000LL },
	{ "2026-11-25T10:20:30.123Z", 1795602030123LL },
	{ "2026-11-25T10:20:30.1Z", 1795602030100LL },
	{ "2026-11-25T10:20:30.123456Z", 1795602030123LL },
	{ "2026-11-25T12:20:30+02:00", 1795602030000LL },
	{ "2026-11-25T05:20:30-05:00", 1795602030000LL },
	{ "2024-02-29T00:00:00Z", 1709164800000LL },
	{ "2023-02-29T00:00:00Z", -1 },		/* not a leap year */
	{ "2026-13-01T00:00:00Z", -1 },
	{ "2026-11-31T00:00:00Z", -1 },
	{ "2026-11-25T24:00:00Z", -1 },
	{ "2026-11-25T10:20:30", -1 },		/* no zone */
	{ "2026-11-25 10:20:30Z", -1 },
	{ "2026-11-25T10:20:30.Z", -1 },
	{ "2026-11-25T10:20:30Zjunk", -1 },
	{ "2026-11-25T10:20:30+2:00", -1 },
	{ "2026-1a-25T10:20:30Z", -1 },
	{ "", -1 },
};

START_TEST(test_parse)
{
	int64_t	ms = -42;
	int	rc = datetime_parse(cases[_i].in, &ms);

	if (cases[_i].ms == -1)
		ck_assert_msg(rc == -1, "accepted %s", cases[_i].in);
	else {
		ck_assert_msg(rc == 0, "rejected %s", cases[_i].in);
		ck_assert_int_eq(ms, cases[_i].ms);
	}
}
END_TEST

START_TEST(test_format_round_trip)
{
	char	buf[DATETIME_LEN];
	int64_t	ms;

	datetime_format(1795602030123LL, buf);
	ck_assert_str_eq(buf, "2026-11-25T10:20:30.123Z");
	ck_assert_int_eq(datetime_parse(buf, &ms), 0);
	ck_assert_int_eq(ms, 1795602030123LL);
	datetime_format(-1, buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

static Suite *
datetime_suite(void)
{
	Suite	*s = suite_create("datetime");
	TCase	*tc = tcase_create("xep0082");

	tcase_add_loop_test(tc, test_parse, 0,
	    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_format_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(datetime_suite)
