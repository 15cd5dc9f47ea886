/*
 * check_main.h: the main() every libcheck suite shares.
 *
 * A suite file builds its Suite in one function and ends with
 * CHECK_MAIN(that_function). main() runs it with CK_NORMAL, so libcheck
 * prints its "NN%: Checks: C, Failures: F, Errors: E" line, which
 * ci/test.sh adds up; the exit status is the suite's verdict, which
 * `make unit` and the valgrind stage read. Anything a suite must do once
 * before its tests fork (ignore SIGPIPE, make a directory) goes in its
 * suite function, which runs first.
 *
 * libcheck has no skip: a test that returns early counts as passed. A
 * test that cannot run here calls check_skip() and returns. It prints
 * "SKIPPED: <test>: <reason>" on a line of its own; ci/test.sh counts
 * each such line as skipped instead of passed, and under CI=true a skip
 * fails the run, as every other skip does.
 */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static inline void	check_skip(const char *test, const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));

/*
 * Say that test is skipped and why. On stderr, which is not buffered: the
 * line is written once, by the forked test itself, and cannot be lost
 * with a crash later in the run or doubled by a fork.
 */
static inline void
check_skip(const char *test, const char *fmt, ...)
{
	char	why[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "SKIPPED: %s: %s\n", test, why);
}

#define CHECK_MAIN(suite_fn)						\
int									\
main(void)								\
{									\
	SRunner	*sr = srunner_create(suite_fn());			\
	int	 failed;						\
									\
	srunner_run_all(sr, CK_NORMAL);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;		\
}

#endif
