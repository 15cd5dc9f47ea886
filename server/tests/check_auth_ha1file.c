/*
 * check_auth_ha1file.c: the users.txt backend through auth.h on a real
 * event loop: passwords, states, suffix mapping, the line format (case,
 * CRLF, bad lines reported as file:line), reloads (SIGHUP and a changed
 * file), cancellation, and answers that never arrive synchronously.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "ev.h"
#include "ha1.h"

#include "check_main.h"

#define REALM	"rtc.debian.org"
#define MAX_ANSWERS	32

/* HA1s of the fixture users (printf 'login:realm:pw' | md5sum). */
#define HA1_ALICE	"cbd829f448c9da769605e116e442e2b5"	/* wonderland */
#define HA1_BOB		"15168117b9eae11e999e7c24936d15d9"	/* builder */
#define HA1_DAVE	"0c8930394a7df867fa4cb935f38a2a45"	/* restricted-pw */
#define HA1_MALLORY	"925940ff0ef23db711b87f3f89425ee9"	/* refused-pw */

static const char users_text[] =
    "# test users\n"
    "\n"
    "alice@debian.org:" HA1_ALICE ":" REALM ":AUTHORIZED\n"
    "bob@debian.org:" HA1_BOB ":" REALM ":AUTHORIZED\n"
    "dave@debian.org:" HA1_DAVE ":" REALM ":RESTRICTED\n"
    "mallory@debian.org:" HA1_MALLORY ":" REALM ":REFUSED\n";

struct answer {
	uint64_t		id;
	enum auth_result	result;
};

struct fixture {
	struct ev	*ev;
	struct auth	*auth;
	struct config	 cfg;
	struct ev_timer	*guard;
	char		 dir[64];
	char		 path[128];
	char		 logpath[128];
	int		 saved_stderr;
	struct answer	 answers[MAX_ANSWERS];
	int		 nanswers;
	int		 expect;	/* stop the loop after this many */
};

static struct fixture	fx;

static void
write_file(const char *path, const char *text)
{
	char	 tmp[160];
	FILE	*f;

	/* Replace atomically, as ud-replicate does: a new inode. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_ptr_nonnull(f = fopen(tmp, "w"));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

/* Send stderr (the log) to a file the test can read back. */
static void
capture_log(void)
{
	FILE	*f;

	fflush(stderr);
	snprintf(fx.logpath, sizeof(fx.logpath), "%s/log", fx.dir);
	ck_assert_ptr_nonnull(f = fopen(fx.logpath, "w"));
	fx.saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ne(dup2(fileno(f), STDERR_FILENO), -1);
	fclose(f);
}

/* Everything logged since capture_log(), as a malloc'd string. */
static char *
read_log(void)
{
	FILE	*f;
	char	*buf;
	long	 n;

	fflush(stderr);
	ck_assert_ptr_nonnull(f = fopen(fx.logpath, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(buf = calloc(1, (size_t)n + 1));
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
	fclose(f);
	return buf;
}

static void
on_stop(void *arg)
{
	ev_stop(arg);
}

static void
setup(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.saved_stderr = -1;
	strcpy(fx.dir, "/tmp/check_auth.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/users.txt", fx.dir);
	write_file(fx.path, users_text);
	ck_assert_ptr_nonnull(fx.ev = ev_new());
	/* A missing answer fails the test's count, never hangs it. */
	fx.guard = ev_timer_new(fx.ev, on_stop, fx.ev);
	config_defaults(&fx.cfg);
	fx.cfg.auth = CONFIG_AUTH_FILE;
	fx.cfg.users_file = strdup(fx.path);
	fx.cfg.realm = strdup(REALM);
	free(fx.cfg.login_suffix);
	fx.cfg.login_suffix = strdup("@debian.org");
	capture_log();
}

static void
teardown(void)
{
	char	cmd[160];

	auth_close(fx.auth);
	ev_timer_free(fx.guard);
	ev_free(fx.ev);
	config_free(&fx.cfg);
	if (fx.saved_stderr != -1) {
		dup2(fx.saved_stderr, STDERR_FILENO);
		close(fx.saved_stderr);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
open_auth(void)
{
	const char	*errstr = NULL;

	fx.auth = auth_open(fx.ev, &fx.cfg, &errstr);
	ck_assert_msg(fx.auth != NULL, "auth_open: %s", errstr);
}

static void
on_done(void *arg, uint64_t id, enum auth_result result)
{
	ck_assert_ptr_eq(arg, &fx);
	ck_assert_int_lt(fx.nanswers, MAX_ANSWERS);
	fx.answers[fx.nanswers].id = id;
	fx.answers[fx.nanswers].result = result;
	if (++fx.nanswers == fx.expect)
		ev_stop(fx.ev);
}

/* Run the loop until n answers in all have come, or the guard fires. */
static void
run_until(int n)
{
	fx.expect = n;
	ev_timer_set(fx.guard, 5000);
	ck_assert_int_eq(ev_run(fx.ev), 0);
	ev_timer_stop(fx.guard);
}

/*
 * Run exactly one more loop turn. Deferred calls run in order, so any
 * answer already queued arrives before this stop.
 */
static void
run_one_turn(void)
{
	ev_defer(fx.ev, on_stop, fx.ev);
	ck_assert_int_eq(ev_run(fx.ev), 0);
}

/* One verify, checked to be asynchronous, and its answer. */
static enum auth_result
verify(const char *localpart, const char *pass)
{
	int		before = fx.nanswers;
	uint64_t	id = 1000 + (uint64_t)before;

	auth_verify(fx.auth, localpart, pass, on_done, &fx, id);
	ck_assert_int_eq(fx.nanswers, before);
	run_until(before + 1);
	ck_assert_int_eq(fx.nanswers, before + 1);
	ck_assert_uint_eq(fx.answers[before].id, id);
	return fx.answers[before].result;
}

START_TEST(test_ha1_vector)
{
	char	out[33];

	ha1_hex("alice@debian.org", REALM, "wonderland", out);
	ck_assert_str_eq(out, HA1_ALICE);
	ha1_hex("", "", "", out);
	ck_assert_str_eq(out, "4501c091b0366d76ea3218b6cfdd8097");	/* "::" */
}
END_TEST

struct attempt {
	const char		*localpart;
	const char		*password;
	enum auth_result	 expect;
};

/* RESTRICTED may log in, REFUSED may not (docs/auth.md). */
static const struct attempt fixture_attempts[] = {
	{ "alice", "wonderland", AUTH_OK },
	{ "bob", "builder", AUTH_OK },
	{ "alice", "builder", AUTH_FAIL },
	{ "alice", "Wonderland", AUTH_FAIL },
	{ "alice", "", AUTH_FAIL },
	{ "nobody", "wonderland", AUTH_FAIL },
	{ "dave", "restricted-pw", AUTH_OK },
	{ "dave", "wrong", AUTH_FAIL },
	{ "mallory", "refused-pw", AUTH_FAIL },
};

static void
check_fixture_attempts(void)
{
	size_t	i;

	for (i = 0; i < sizeof(fixture_attempts) /
	    sizeof(fixture_attempts[0]); i++)
		ck_assert_msg(verify(fixture_attempts[i].localpart,
		    fixture_attempts[i].password) == fixture_attempts[i].expect,
		    "%s/%s", fixture_attempts[i].localpart,
		    fixture_attempts[i].password);
}

START_TEST(test_passwords_and_states)
{
	open_auth();
	check_fixture_attempts();
}
END_TEST

START_TEST(test_suffix_mapping)
{
	/* The login is localpart + suffix: the suffix is not typed. */
	open_auth();
	ck_assert_int_eq(verify("alice@debian.org", "wonderland"), AUTH_FAIL);
	auth_close(fx.auth);
	fx.auth = NULL;

	free(fx.cfg.login_suffix);
	fx.cfg.login_suffix = strdup("");
	open_auth();
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_FAIL);
	ck_assert_int_eq(verify("alice@debian.org", "wonderland"), AUTH_OK);
}
END_TEST

START_TEST(test_case_and_crlf)
{
	char	text[512], upper[33];
	size_t	i;

	for (i = 0; i < 32; i++)
		upper[i] = (char)(HA1_ALICE[i] >= 'a' ? HA1_ALICE[i] - 32 :
		    HA1_ALICE[i]);
	upper[32] = '\0';
	snprintf(text, sizeof(text),
	    "# comment\r\n"
	    "\r\n"
	    "   \r\n"
	    "alice@debian.org:%s:" REALM ":authorized\r\n"
	    "bob@debian.org:" HA1_BOB ":" REALM ":Restricted  \r\n"
	    "mallory@debian.org:" HA1_MALLORY ":" REALM ":refused", upper);
	write_file(fx.path, text);
	open_auth();
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_OK);
	ck_assert_int_eq(verify("bob", "builder"), AUTH_OK);
	ck_assert_int_eq(verify("mallory", "refused-pw"), AUTH_FAIL);
}
END_TEST

START_TEST(test_bad_lines_reported)
{
	char	*log, want[256];
	static const char *const reasons[] = {
		":3: expected login:ha1:realm:state, line skipped",
		":4: ha1 is not 32 hex digits, line skipped",
		":5: ha1 is not 32 hex digits, line skipped",
		":6: state is not AUTHORIZED, RESTRICTED or REFUSED, "
		    "line skipped",
		":7: realm other.realm is not the configured realm "
		    REALM ", line skipped",
		":8: empty login, line skipped",
		":9: too many ':' separated fields, line skipped",
		":11: duplicate login, the first line for it is kept, "
		    "line skipped",
	};
	size_t	i;

	write_file(fx.path,
	    "# line 1\n"
	    "alice@debian.org:" HA1_ALICE ":" REALM ":AUTHORIZED\n"
	    "garbage\n"
	    "x@debian.org:0123:" REALM ":AUTHORIZED\n"
	    "y@debian.org:" "zz8930394a7df867fa4cb935f38a2a45:" REALM ":AUTHORIZED\n"
	    "dave@debian.org:" HA1_DAVE ":" REALM ":SUSPENDED\n"
	    "bob@debian.org:" HA1_BOB ":other.realm:AUTHORIZED\n"
	    ":" HA1_BOB ":" REALM ":AUTHORIZED\n"
	    "z@debian.org:" HA1_BOB ":" REALM ":AUTHORIZED:extra\n"
	    "mallory@debian.org:" HA1_MALLORY ":" REALM ":REFUSED\n"
	    "alice@debian.org:" HA1_BOB ":" REALM ":AUTHORIZED\n"
	    "bob@debian.org:" HA1_BOB ":" REALM ":AUTHORIZED\n");
	open_auth();
	log = read_log();
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		snprintf(want, sizeof(want), "%s%s", fx.path, reasons[i]);
		ck_assert_msg(strstr(log, want) != NULL, "missing \"%s\" in:\n%s",
		    want, log);
	}
	ck_assert_ptr_nonnull(strstr(log, "users=3 skipped=8"));
	free(log);
	/* Lines around the bad ones still load; the first alice wins. */
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_OK);
	ck_assert_int_eq(verify("alice", "builder"), AUTH_FAIL);
	ck_assert_int_eq(verify("bob", "builder"), AUTH_OK);
	ck_assert_int_eq(verify("dave", "restricted-pw"), AUTH_FAIL);
}
END_TEST

START_TEST(test_nul_byte_line)
{
	static const char text[] = "bob@debian.org:" HA1_BOB ":" REALM
	    ":AUTHORIZED\0x\nalice@debian.org:" HA1_ALICE ":" REALM
	    ":AUTHORIZED\n";
	FILE	*f;
	char	*log, want[192];

	ck_assert_ptr_nonnull(f = fopen(fx.path, "w"));
	ck_assert_uint_eq(fwrite(text, 1, sizeof(text) - 1, f),
	    sizeof(text) - 1);
	fclose(f);
	open_auth();
	log = read_log();
	snprintf(want, sizeof(want), "%s:1: NUL byte in line", fx.path);
	ck_assert_ptr_nonnull(strstr(log, want));
	free(log);
	ck_assert_int_eq(verify("bob", "builder"), AUTH_FAIL);
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_OK);
}
END_TEST

START_TEST(test_open_fails_without_file)
{
	const char	*errstr = NULL;
	char		 want[160];

	ck_assert_int_eq(unlink(fx.path), 0);
	ck_assert_ptr_null(auth_open(fx.ev, &fx.cfg, &errstr));
	snprintf(want, sizeof(want), "%s: No such file or directory",
	    fx.path);
	ck_assert_str_eq(errstr, want);
}
END_TEST

START_TEST(test_reload_on_sighup)
{
	char	 text[256], ha1[33], *log;

	open_auth();
	ck_assert_int_eq(verify("bob", "builder"), AUTH_OK);
	ha1_hex("bob@debian.org", REALM, "new-pw", ha1);
	snprintf(text, sizeof(text), "bob@debian.org:%s:" REALM
	    ":AUTHORIZED\n", ha1);
	write_file(fx.path, text);
	auth_reload(fx.auth);
	ck_assert_int_eq(verify("bob", "builder"), AUTH_FAIL);
	ck_assert_int_eq(verify("bob", "new-pw"), AUTH_OK);
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_FAIL);

	/* A reload that cannot read the file keeps the old table. */
	write_file(fx.path, users_text);
	auth_reload(fx.auth);
	ck_assert_int_eq(unlink(fx.path), 0);
	auth_reload(fx.auth);
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_OK);
	log = read_log();
	ck_assert_ptr_nonnull(strstr(log, "keeping 4 users"));
	free(log);
}
END_TEST

/* A garbled, empty or half-written file does not replace a good table. */
START_TEST(test_reload_refuses_broken_file)
{
	char	*log, want[192], text[2048];
	size_t	 n;
	int	 i;

	open_auth();
	write_file(fx.path, "garbage\n\x01\x02 more garbage\n");
	auth_reload(fx.auth);
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_OK);
	write_file(fx.path, "");
	auth_reload(fx.auth);
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_OK);
	/* Cut off mid-line: 2 good lines and 1 bad one is 33% bad. */
	write_file(fx.path, "alice@debian.org:" HA1_ALICE ":" REALM
	    ":AUTHORIZED\nbob@debian.org:" HA1_BOB ":" REALM
	    ":AUTHORIZED\ndave@debian.org:0c8930");
	auth_reload(fx.auth);
	ck_assert_int_eq(verify("mallory", "refused-pw"), AUTH_FAIL);
	ck_assert_int_eq(verify("dave", "restricted-pw"), AUTH_OK);
	log = read_log();
	snprintf(want, sizeof(want), "%s:1: expected login:ha1:realm:state",
	    fx.path);
	ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in %s", want, log);
	snprintf(want, sizeof(want), "%s:3: expected login:ha1:realm:state",
	    fx.path);
	ck_assert_ptr_nonnull(strstr(log, want));
	ck_assert_ptr_nonnull(strstr(log, "keeping 4 users"));
	ck_assert_ptr_nonnull(strstr(log, "0 valid and 0 bad lines"));
	ck_assert_ptr_nonnull(strstr(log, "2 valid and 1 bad lines"));
	free(log);
	/* One bad line in eleven (9%) is within the default 10%. */
	n = (size_t)snprintf(text, sizeof(text), "bob@debian.org:" HA1_BOB
	    ":" REALM ":AUTHORIZED\n");
	for (i = 0; i < 9; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "u%d@debian.org:" HA1_BOB ":" REALM ":AUTHORIZED\n", i);
	snprintf(text + n, sizeof(text) - n, "junk\n");
	write_file(fx.path, text);
	auth_reload(fx.auth);
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_FAIL);
	ck_assert_int_eq(verify("bob", "builder"), AUTH_OK);
}
END_TEST

/* Only so many bad lines are logged one by one. */
START_TEST(test_bad_lines_log_bounded)
{
	char	*text, *log, want[192];
	size_t	 n = 0, cap = 8192;
	int	 i;

	ck_assert_ptr_nonnull(text = malloc(cap));
	n += (size_t)snprintf(text, cap, "alice@debian.org:" HA1_ALICE ":"
	    REALM ":AUTHORIZED\n");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(text + n, cap - n, "bad%d\n", i);
	write_file(fx.path, text);
	free(text);
	open_auth();
	log = read_log();
	snprintf(want, sizeof(want), "%s:21: expected", fx.path);
	ck_assert_ptr_nonnull(strstr(log, want));
	snprintf(want, sizeof(want), "%s:22: expected", fx.path);
	ck_assert_ptr_null(strstr(log, want));
	ck_assert_ptr_nonnull(strstr(log, "80 more bad lines skipped"));
	free(log);
	ck_assert_int_eq(verify("alice", "wonderland"), AUTH_OK);
}
END_TEST

static void
on_later(void *arg)
{
	(void)arg;
	auth_verify(fx.auth, "alice", "wonderland", on_done, &fx, 1);
	auth_verify(fx.auth, "bob", "new-pw", on_done, &fx, 2);
}

START_TEST(test_reload_on_change)
{
	char		 text[256], ha1[33];
	struct ev_timer	*later;

	open_auth();
	ha1_hex("bob@debian.org", REALM, "new-pw", ha1);
	snprintf(text, sizeof(text), "bob@debian.org:%s:" REALM
	    ":AUTHORIZED\n", ha1);
	write_file(fx.path, text);
	/* Past the once-a-second stat limit, verify notices the change. */
	later = ev_timer_new(fx.ev, on_later, NULL);
	ev_timer_set(later, 1100);
	run_until(2);
	ev_timer_free(later);
	ck_assert_int_eq(fx.nanswers, 2);
	ck_assert_uint_eq(fx.answers[0].id, 1);
	ck_assert_int_eq(fx.answers[0].result, AUTH_FAIL);
	ck_assert_uint_eq(fx.answers[1].id, 2);
	ck_assert_int_eq(fx.answers[1].result, AUTH_OK);
}
END_TEST

START_TEST(test_cancel)
{
	open_auth();
	auth_verify(fx.auth, "alice", "wonderland", on_done, &fx, 7);
	auth_verify(fx.auth, "bob", "builder", on_done, &fx, 8);
	auth_verify(fx.auth, "dave", "restricted-pw", on_done, &fx, 9);
	auth_cancel(fx.auth, 8);
	auth_cancel(fx.auth, 12345);	/* unknown ids are ignored */
	run_until(2);
	ck_assert_int_eq(fx.nanswers, 2);
	ck_assert_uint_eq(fx.answers[0].id, 7);
	ck_assert_uint_eq(fx.answers[1].id, 9);
	/* And nothing for 8 arrives later either. */
	run_one_turn();
	ck_assert_int_eq(fx.nanswers, 2);
}
END_TEST

/* auth_verify_slow: failures wait, successes do not, cancel drops. */
START_TEST(test_slow_failures)
{
	uint64_t	t0;

	open_auth();
	t0 = ev_now(fx.ev);
	auth_verify_slow(fx.auth, "alice", "wrong", 300, on_done, &fx, 1);
	auth_verify_slow(fx.auth, "bob", "builder", 300, on_done, &fx, 2);
	auth_verify_slow(fx.auth, "carol", "wrong", 300, on_done, &fx, 3);
	run_until(1);
	/* The right password comes first, without the delay. */
	ck_assert_uint_eq(fx.answers[0].id, 2);
	ck_assert_int_eq(fx.answers[0].result, AUTH_OK);
	auth_cancel(fx.auth, 3);	/* waiting on its timer */
	run_until(2);
	ck_assert_uint_eq(fx.answers[1].id, 1);
	ck_assert_int_eq(fx.answers[1].result, AUTH_FAIL);
	ck_assert_uint_ge(ev_now(fx.ev) - t0, 300);
	run_one_turn();
	ck_assert_int_eq(fx.nanswers, 2);
	/* Closing with a failure still waiting frees it. */
	auth_verify_slow(fx.auth, "alice", "wrong", 300, on_done, &fx, 4);
	auth_verify_slow(fx.auth, "alice", "wrong", 300, on_done, &fx, 5);
	auth_close(fx.auth);
	fx.auth = NULL;
	run_one_turn();
	ck_assert_int_eq(fx.nanswers, 2);
}
END_TEST

START_TEST(test_close_drops_pending)
{
	open_auth();
	auth_verify(fx.auth, "alice", "wonderland", on_done, &fx, 1);
	auth_close(fx.auth);
	fx.auth = NULL;
	run_one_turn();
	ck_assert_int_eq(fx.nanswers, 0);
}
END_TEST

/* fixtures/users.txt seen from wherever the suite is run. */
static const char *
fixture_users(void)
{
	static const char *const candidates[] = {
		"../fixtures/users.txt", "fixtures/users.txt",
		"../../fixtures/users.txt",
	};
	size_t	i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return NULL;
}

START_TEST(test_fixture_file)
{
	const char	*path = fixture_users();

	ck_assert_msg(path != NULL, "fixtures/users.txt not found from the "
	    "working directory");
	free(fx.cfg.users_file);
	fx.cfg.users_file = strdup(path);
	open_auth();
	check_fixture_attempts();
	ck_assert_int_eq(verify("carol", "singer"), AUTH_OK);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth_ha1file");
	TCase	*tc;

	tc = tcase_create("verify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ha1_vector);
	tcase_add_test(tc, test_passwords_and_states);
	tcase_add_test(tc, test_suffix_mapping);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_close_drops_pending);
	tcase_add_test(tc, test_slow_failures);
	tcase_add_test(tc, test_fixture_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_case_and_crlf);
	tcase_add_test(tc, test_bad_lines_reported);
	tcase_add_test(tc, test_nul_byte_line);
	tcase_add_test(tc, test_open_fails_without_file);
	tcase_add_test(tc, test_reload_on_sighup);
	tcase_add_test(tc, test_reload_on_change);
	tcase_add_test(tc, test_reload_refuses_broken_file);
	tcase_add_test(tc, test_bad_lines_log_bounded);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(auth_suite)
