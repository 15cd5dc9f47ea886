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
 */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

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
