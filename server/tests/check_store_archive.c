/*
 * check_store_archive.c: what the archive costs. Every combination of MAM
 * filters is served by an index search (SQLite's own plan, asked for the
 * statement store_archive_query() runs), the per-owner counters follow
 * every insert and delete, the quota drops the oldest rows and keeps the
 * newest, migration 4 counts an existing archive and spool, and the
 * spool's byte counter follows its rows.
 */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#include "check_main.h"

static char	t_dir[64];
static char	t_path[128];

static void
t_setup(void)
{
	snprintf(t_dir, sizeof(t_dir), "/tmp/check_store_archive.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_path, sizeof(t_path), "%s/xmppd.sqlite", t_dir);
}

static void
t_teardown(void)
{
	char		 p[384];
	DIR		*d;
	struct dirent	*e;

	if ((d = opendir(t_dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			snprintf(p, sizeof(p), "%s/%s", t_dir, e->d_name);
			(void)unlink(p);
		}
		closedir(d);
	}
	(void)rmdir(t_dir);
}

static struct store *
t_open(void)
{
	const char	*err = NULL;
	struct store	*st = store_open(t_path, &err);

	ck_assert_msg(st != NULL, "store_open: %s", err);
	return st;
}

/* First column of the first row of sql, through a second connection. */
static int64_t
t_sql_int(const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*q;
	int64_t		 v = -1;

	ck_assert_int_eq(sqlite3_open_v2(t_path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void
t_sql(const char *sql)
{
	sqlite3	*db;
	char	*msg = NULL;

	ck_assert_int_eq(sqlite3_open_v2(t_path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg != NULL ? msg : "?");
	sqlite3_close(db);
}

/* Archive row i of owner's: peer p<i % 3>@x/r, stamp 1000 * i. */
static void
t_add(struct store *st, const char *owner, int i, const char *xml)
{
	char	id[32], bare[32], full[40];

	snprintf(id, sizeof(id), "%s-%d", owner, i);
	snprintf(bare, sizeof(bare), "p%d@x", i % 3);
	snprintf(full, sizeof(full), "%s/r", bare);
	ck_assert_int_eq(store_archive_add(st, owner, id, 1000LL * i, bare,
	    full, NULL, i % 2, xml), 0);
}

/*
 * The filters a MAM query can combine, as _i's bits: 1 a bare peer, 2 a
 * full peer, 4 start, 8 end, 16 after-id, 32 before-id, 64 newest first.
 * Bits 1 and 2 together make no sense: that case is the full peer with
 * everything else. 128 cases, each asked for its plan.
 */
START_TEST(store_archive_plans_use_an_index)
{
	struct store			*st = t_open();
	struct store_archive_query	 q = {
		.owner = "alice", .start = INT64_MIN, .end = INT64_MAX,
		.limit = 51,
	};
	char				 plan[1024];
	const char			*idx;
	int				 i;

	/* Several owners and peers, so the planner has a choice. */
	for (i = 0; i < 60; i++) {
		t_add(st, "alice", i, "<message/>");
		t_add(st, "bob", i, "<message/>");
	}
	ck_assert_int_eq(store_commit(st), 0);
	if (_i & 1) {
		q.with = "p1@x";
		q.with_bare = true;
	}
	if (_i & 2) {
		q.with = "p1@x/r";
		q.with_bare = false;
	}
	if (_i & 4)
		q.start = 5000;
	if (_i & 8)
		q.end = 50000;
	if (_i & 16)
		q.after_seq = 3;
	if (_i & 32)
		q.before_seq = 100;
	q.newest_first = (_i & 64) != 0;
	ck_assert_int_eq(store_archive_plan(st, &q, plan, sizeof(plan)), 0);
	idx = q.with != NULL ? "archive_with" : "archive_owner";
	/* A search on the owner (and peer) and the seq range, in seq order
	 * from the index: no scan, no sort of all matches. */
	ck_assert_msg(strncmp(plan, "SEARCH archive USING ", 21) == 0,
	    "case %d: %s", _i, plan);
	ck_assert_msg(strstr(plan, idx) != NULL, "case %d: %s", _i, plan);
	ck_assert_msg(strstr(plan, q.with != NULL ?
	    "(owner=? AND with_bare=? AND seq>? AND seq<?)" :
	    "(owner=? AND seq>? AND seq<?)") != NULL, "case %d: %s", _i, plan);
	ck_assert_msg(strstr(plan, "SCAN") == NULL, "case %d: %s", _i, plan);
	ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "case %d: %s", _i,
	    plan);
	store_close(st);
}
END_TEST

/* The counters agree with the rows after inserts, expiry and trims. */
static void
t_assert_usage(struct store *st, const char *owner)
{
	char	sql[256];
	int64_t	rows, bytes;

	ck_assert_int_eq(store_archive_usage(st, owner, &rows, &bytes), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM archive"
	    " WHERE owner = '%s'", owner);
	ck_assert_int_eq(rows, t_sql_int(sql));
	snprintf(sql, sizeof(sql), "SELECT coalesce(sum(length(CAST(xml AS"
	    " BLOB))), 0) FROM archive WHERE owner = '%s'", owner);
	ck_assert_int_eq(bytes, t_sql_int(sql));
}

START_TEST(store_archive_quota_rows)
{
	struct store	*st = t_open();
	int64_t		 rows, bytes;
	int		 i, n, dropped = 0;

	for (i = 1; i <= 25; i++) {
		t_add(st, "alice", i, "<message><body>\xc3\xa9</body></message>");
		t_add(st, "bob", i, "<m/>");
		ck_assert_int_ge(n = store_archive_trim(st, "alice", 10, 0), 0);
		dropped += n;
		ck_assert_int_eq(store_archive_usage(st, "alice", &rows,
		    &bytes), 0);
		ck_assert_int_le(rows, 10);
	}
	ck_assert_int_eq(dropped, 15);
	ck_assert_int_eq(store_commit(st), 0);
	/* The newest ten stay; bob's archive was not touched. */
	ck_assert_int_eq(t_sql_int("SELECT min(stamp_ms) FROM archive"
	    " WHERE owner = 'alice'"), 16000);
	ck_assert_int_eq(t_sql_int("SELECT max(stamp_ms) FROM archive"
	    " WHERE owner = 'alice'"), 25000);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"
	    " WHERE owner = 'bob'"), 25);
	t_assert_usage(st, "alice");
	t_assert_usage(st, "bob");
	/* Retention's deletes are counted too. */
	ck_assert_int_eq(store_archive_expire(st, 20000), 4 + 19);
	ck_assert_int_eq(store_commit(st), 0);
	t_assert_usage(st, "alice");
	t_assert_usage(st, "bob");
	/* Under the quota, or without one, nothing goes. */
	ck_assert_int_eq(store_archive_trim(st, "alice", 0, 0), 0);
	ck_assert_int_eq(store_archive_trim(st, "nobody", 1, 1), 0);
	store_close(st);
}
END_TEST

/* Rows of uneven sizes against a byte quota: at most the quota, newest
 * kept, whatever the mix. */
START_TEST(store_archive_quota_bytes)
{
	struct store	*st = t_open();
	char		*xml;
	int64_t		 rows, bytes;
	int		 i;
	size_t		 len;

	xml = malloc(4096);
	ck_assert_ptr_nonnull(xml);
	for (i = 1; i <= 200; i++) {
		len = (size_t)(i * 37 % 4000) + 10;
		memset(xml, 'a' + i % 26, len);
		xml[len] = '\0';
		t_add(st, "alice", i, xml);
		ck_assert_int_ge(store_archive_trim(st, "alice", 0, 20000), 0);
		ck_assert_int_eq(store_archive_usage(st, "alice", &rows,
		    &bytes), 0);
		ck_assert_int_le(bytes, 20000);
		ck_assert_int_ge(rows, 1);
	}
	free(xml);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(t_sql_int("SELECT max(stamp_ms) FROM archive"
	    " WHERE owner = 'alice'"), 200000);
	/* Oldest first: what stays is one run up to the newest. */
	ck_assert_int_eq(t_sql_int("SELECT max(stamp_ms) - min(stamp_ms)"
	    " FROM archive WHERE owner = 'alice'"),
	    1000 * (t_sql_int("SELECT count(*) FROM archive") - 1));
	t_assert_usage(st, "alice");
	store_close(st);
}
END_TEST

/*
 * Migration 4 on a version-3 file (made by taking version 4's additions
 * back off a new file): the indexes are rebuilt and the counters start
 * from the archive as it is.
 */
START_TEST(store_archive_migration_counts)
{
	struct store	*st = t_open();
	int64_t		 rows, bytes;

	store_close(st);
	t_sql("DROP TRIGGER archive_usage_add;"
	    "DROP TRIGGER spool_usage_add;"
	    "DROP TRIGGER spool_usage_del;"
	    "DROP TABLE spool_usage;"
	    "INSERT INTO spool (user, id, stamp_ms, xml)"
	    " VALUES ('bob', 's1', 1, '123'), ('bob', 's2', 2, '4567');"
	    "DROP TRIGGER archive_usage_del;"
	    "DROP TABLE archive_usage;"
	    "DROP INDEX archive_owner;"
	    "DROP INDEX archive_with;"
	    "CREATE INDEX archive_owner ON archive (owner, seq);"
	    "CREATE INDEX archive_with ON archive (owner, with_bare, seq);"
	    "INSERT INTO archive (owner, id, stamp_ms, with_bare, with_full,"
	    " outgoing, xml) VALUES ('alice', 'a1', 1, 'b@x', 'b@x', 0, 'abc'),"
	    " ('alice', 'a2', 2, 'b@x', 'b@x', 1, '\xc3\xa9'),"
	    " ('bob', 'b1', 3, 'a@x', 'a@x', 0, '12345');"
	    "PRAGMA user_version = 3");
	st = t_open();
	ck_assert_int_eq(store_archive_usage(st, "alice", &rows, &bytes), 0);
	ck_assert_int_eq(rows, 2);
	ck_assert_int_eq(bytes, 5);
	ck_assert_int_eq(store_archive_usage(st, "bob", &rows, &bytes), 0);
	ck_assert_int_eq(rows, 1);
	ck_assert_int_eq(bytes, 5);
	ck_assert_int_eq(store_spool_bytes(st, "bob"), 7);
	store_close(st);
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema"
	    " WHERE name = 'archive_with' AND sql LIKE '%stamp_ms%'"), 1);
}
END_TEST

/* The spool's byte counter (max-offline-mb) follows pushes and deletes. */
START_TEST(store_spool_bytes_counted)
{
	struct store	*st = t_open();
	int64_t		 a, b;

	ck_assert_int_eq(store_spool_bytes(st, "bob"), 0);
	ck_assert_int_gt(a = store_spool_push(st, "bob", "s1", NULL,
	    "<m>\xc3\xa9</m>", 1), 0);
	ck_assert_int_gt(b = store_spool_push(st, "bob", "s2", "r",
	    "<message/>", 2), 0);
	ck_assert_int_gt(store_spool_push(st, "carol", "s3", NULL, "<m/>", 3),
	    0);
	ck_assert_int_eq(store_spool_bytes(st, "bob"), 9 + 10);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_del(st, a), 1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_bytes(st, "bob"), 10);
	ck_assert_int_eq(store_spool_bytes(st, "carol"), 4);
	ck_assert_int_eq(store_spool_del(st, b), 1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_bytes(st, "bob"), 0);
	store_close(st);
}
END_TEST

static Suite *
store_archive_suite(void)
{
	Suite	*s = suite_create("store_archive");
	TCase	*tc;

	tc = tcase_create("archive");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_loop_test(tc, store_archive_plans_use_an_index, 0, 128);
	tcase_add_test(tc, store_archive_quota_rows);
	tcase_add_test(tc, store_archive_quota_bytes);
	tcase_add_test(tc, store_archive_migration_counts);
	tcase_add_test(tc, store_spool_bytes_counted);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(store_archive_suite)
