/*
 * check_store.c: the SQLite store on real files in a mkdtemp directory:
 * schema and migrations, every table's round trip, group commit and
 * per-write savepoints, open errors, and durability across SIGKILL.
 * The throughput figures for docs/storage.md are printed, not asserted.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define T_NOBODY	65534	/* uid/gid for the read-only tests as root */

static char	t_dir[64];
static char	t_path[128];

/* A fresh directory and database path for one test. */
static void
t_setup(void)
{
	snprintf(t_dir, sizeof(t_dir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_path, sizeof(t_path), "%s/xmppd.sqlite", t_dir);
}

/* Remove the database, its WAL files and the directory. */
static void
t_teardown(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char	p[160];
	size_t	i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t_path, sfx[i]);
		(void)unlink(p);
	}
	snprintf(p, sizeof(p), "%s/ro", t_dir);
	(void)rmdir(p);
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

/* Run sql through a second connection. */
static void
t_sql(const char *sql)
{
	sqlite3	*db;
	char	*msg = NULL;

	ck_assert_int_eq(sqlite3_open_v2(t_path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg != NULL ? msg : "?");
	sqlite3_close(db);
}

/* "ok" from PRAGMA integrity_check on the closed database. */
static void
t_assert_integrity(void)
{
	sqlite3		*db;
	sqlite3_stmt	*q;

	ck_assert_int_eq(sqlite3_open_v2(t_path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1,
	    &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* Collects offline rows as "xml@stamp;" and can stop after max rows. */
struct t_acc {
	char	buf[4096];
	int	n;
	int	max;
};

static int
t_offline_cb(void *arg, const char *xml, int64_t stamp_ms)
{
	struct t_acc	*a = arg;
	size_t		 len = strlen(a->buf);

	snprintf(a->buf + len, sizeof(a->buf) - len, "%s@%" PRId64 ";", xml,
	    stamp_ms);
	return ++a->n == a->max;
}

static int
t_subreq_cb(void *arg, const char *contact)
{
	struct t_acc	*a = arg;
	size_t		 len = strlen(a->buf);

	snprintf(a->buf + len, sizeof(a->buf) - len, "%s;", contact);
	return ++a->n == a->max;
}

START_TEST(store_schema_create_reopen)
{
	struct store	*st = t_open();
	int64_t		 v;

	ck_assert_int_eq(store_user_seen(st, "alice", 1000), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	v = t_sql_int("PRAGMA user_version");
	ck_assert_int_ge(v, 2);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema"
	    " WHERE name = 'offline_user'"), 1);
	/* Reopening runs no migration twice and keeps the data. */
	st = t_open();
	ck_assert_int_eq(store_user_exists(st, "alice"), 1);
	store_close(st);
	st = t_open();
	store_close(st);
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), v);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM users"), 1);
	/* Left in WAL mode: a reader never blocks the writer. */
	ck_assert_int_eq(t_sql_int("SELECT journal_mode = 'wal'"
	    " FROM pragma_journal_mode"), 1);
	t_assert_integrity();
}
END_TEST

START_TEST(store_migration_appends)
{
	struct store	*st = t_open();
	const char	*err = NULL;

	store_close(st);
	/* Back to version 1, as a file from before the archive existed. */
	t_sql("DROP TABLE archive; DROP TABLE mam_prefs; DROP TABLE mam_rule;"
	    "PRAGMA user_version = 1");
	st = t_open();
	ck_assert_int_eq(store_archive_add(st, "alice", "id1", 5, "b@x",
	    "b@x/r", NULL, false, "<message/>"), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"), 1);
	/* A file from a newer xmppd is refused, not damaged. */
	t_sql("PRAGMA user_version = 99");
	ck_assert_ptr_null(store_open(t_path, &err));
	ck_assert_ptr_nonnull(strstr(err, t_path));
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), 99);
}
END_TEST

START_TEST(store_roster_round_trip)
{
	struct store			*st = t_open();
	char				*g1[] = { "Friends", "Work", "Friends" };
	char				*g2[] = { "Zeta" };
	struct store_roster_item	 a = {
		.jid = "b@example.org", .name = "Bob", .sub = STORE_SUB_BOTH,
		.ask_out = true, .pending_in = true, .preapproved = true,
		.groups = g1, .ngroups = 3,
	};
	struct store_roster_item	 b = {
		.jid = "a@example.org", .sub = STORE_SUB_FROM,
	};
	struct store_roster_item	*items, it;
	size_t				 n;

	ck_assert_int_eq(store_roster_put(st, "alice", &a), 0);
	ck_assert_int_eq(store_roster_put(st, "alice", &b), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	st = t_open();
	ck_assert_int_eq(store_roster_get(st, "alice", &items, &n), 0);
	ck_assert_uint_eq(n, 2);
	/* Sorted by JID; a name never set reads back as NULL. */
	ck_assert_str_eq(items[0].jid, "a@example.org");
	ck_assert_ptr_null(items[0].name);
	ck_assert_int_eq(items[0].sub, STORE_SUB_FROM);
	ck_assert(!items[0].ask_out && !items[0].pending_in &&
	    !items[0].preapproved);
	ck_assert_uint_eq(items[0].ngroups, 0);
	ck_assert_str_eq(items[1].jid, "b@example.org");
	ck_assert_str_eq(items[1].name, "Bob");
	ck_assert_int_eq(items[1].sub, STORE_SUB_BOTH);
	ck_assert(items[1].ask_out && items[1].pending_in &&
	    items[1].preapproved);
	ck_assert_uint_eq(items[1].ngroups, 2);		/* duplicate folded */
	ck_assert_str_eq(items[1].groups[0], "Friends");
	ck_assert_str_eq(items[1].groups[1], "Work");
	store_roster_free(items, n);

	/* Replacing an item replaces its groups and every field. */
	a.groups = g2;
	a.ngroups = 1;
	a.name = NULL;
	a.sub = STORE_SUB_TO;
	a.ask_out = a.pending_in = a.preapproved = false;
	ck_assert_int_eq(store_roster_put(st, "alice", &a), 0);
	ck_assert_int_eq(store_roster_item(st, "alice", "b@example.org", &it),
	    0);
	ck_assert_ptr_null(it.name);
	ck_assert_int_eq(it.sub, STORE_SUB_TO);
	ck_assert(!it.ask_out && !it.pending_in && !it.preapproved);
	ck_assert_uint_eq(it.ngroups, 1);
	ck_assert_str_eq(it.groups[0], "Zeta");
	store_roster_item_clear(&it);
	ck_assert_ptr_null(it.jid);

	/* Other users' rosters are separate; absent is 1, not an error. */
	ck_assert_int_eq(store_roster_item(st, "bob", "b@example.org", &it),
	    1);
	ck_assert_ptr_null(it.jid);
	ck_assert_int_eq(store_roster_get(st, "bob", &items, &n), 0);
	ck_assert_uint_eq(n, 0);
	store_roster_free(items, n);

	/* Delete takes the groups along (foreign key cascade). */
	ck_assert_int_eq(store_roster_del(st, "alice", "b@example.org"), 0);
	ck_assert_int_eq(store_roster_item(st, "alice", "b@example.org", &it),
	    1);
	ck_assert_int_eq(store_roster_del(st, "alice", "nobody@x"), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM roster_group"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM roster"), 1);
}
END_TEST

START_TEST(store_roster_bad_input)
{
	struct store			*st = t_open();
	char				*g[] = { "ok", NULL };
	struct store_roster_item	 it = {
		.jid = "c@x", .sub = STORE_SUB_NONE, .groups = g, .ngroups = 2,
	};
	struct store_roster_item	 out;

	/* A NULL group fails after the item row went in: undone whole. */
	ck_assert_int_eq(store_roster_put(st, "alice", &it), -1);
	ck_assert_int_eq(store_roster_item(st, "alice", "c@x", &out), 1);
	it.ngroups = 0;
	it.sub = (enum store_sub)7;
	ck_assert_int_eq(store_roster_put(st, "alice", &it), -1);
	it.sub = STORE_SUB_NONE;
	it.jid = NULL;
	ck_assert_int_eq(store_roster_put(st, "alice", &it), -1);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM roster"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM roster_group"), 0);
}
END_TEST

START_TEST(store_offline_fifo)
{
	struct store	*st = t_open();
	struct t_acc	 a = { .max = 0 };

	ck_assert_int_eq(store_offline_count(st, "bob"), 0);
	ck_assert_int_eq(store_offline_push(st, "bob", "<m1/>", 30), 0);
	ck_assert_int_eq(store_offline_push(st, "carol", "<c/>", 1), 0);
	/* Arrival order, not stamp order: stamps may go backwards. */
	ck_assert_int_eq(store_offline_push(st, "bob", "<m2/>", 10), 0);
	ck_assert_int_eq(store_offline_push(st, "bob", "<m3/>", 20), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_offline_count(st, "bob"), 3);
	ck_assert_int_eq(store_offline_count(st, "carol"), 1);
	ck_assert_int_eq(store_offline_each(st, "bob", t_offline_cb, &a), 0);
	ck_assert_str_eq(a.buf, "<m1/>@30;<m2/>@10;<m3/>@20;");
	/* The callback can stop the walk. */
	memset(&a, 0, sizeof(a));
	a.max = 2;
	ck_assert_int_eq(store_offline_each(st, "bob", t_offline_cb, &a), 0);
	ck_assert_str_eq(a.buf, "<m1/>@30;<m2/>@10;");
	ck_assert_int_eq(store_offline_clear(st, "bob"), 0);
	ck_assert_int_eq(store_offline_count(st, "bob"), 0);
	ck_assert_int_eq(store_offline_count(st, "carol"), 1);
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(store_offline_each(st, "bob", t_offline_cb, &a), 0);
	ck_assert_int_eq(a.n, 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM offline"), 1);
}
END_TEST

/* A delivery callback that writes (archive, another queue) meanwhile. */
static int
t_offline_writer(void *arg, const char *xml, int64_t stamp_ms)
{
	struct store	*st = arg;

	ck_assert_int_eq(store_archive_add(st, "bob", xml, stamp_ms, "a@x",
	    "a@x/r", NULL, false, xml), 0);
	ck_assert_int_eq(store_offline_push(st, "dave", xml, stamp_ms), 0);
	/* A failed write is rolled back under the running SELECT. */
	ck_assert_int_eq(store_offline_push(st, "dave", NULL, stamp_ms), -1);
	return 0;
}

START_TEST(store_offline_each_writes)
{
	struct store	*st = t_open();

	ck_assert_int_eq(store_offline_push(st, "bob", "<m1/>", 1), 0);
	ck_assert_int_eq(store_offline_push(st, "bob", "<m2/>", 2), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_offline_each(st, "bob", t_offline_writer, st),
	    0);
	ck_assert_int_eq(store_offline_clear(st, "bob"), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM offline"
	    " WHERE user = 'dave'"), 2);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM offline"
	    " WHERE user = 'bob'"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"), 2);
}
END_TEST

START_TEST(store_subreq)
{
	struct store	*st = t_open();
	struct t_acc	 a = { .max = 0 };

	ck_assert_int_eq(store_subreq_has(st, "alice", "z@x"), 0);
	ck_assert_int_eq(store_subreq_add(st, "alice", "z@x"), 0);
	ck_assert_int_eq(store_subreq_add(st, "alice", "b@x"), 0);
	ck_assert_int_eq(store_subreq_add(st, "alice", "b@x"), 0);
	ck_assert_int_eq(store_subreq_add(st, "bob", "q@x"), 0);
	ck_assert_int_eq(store_subreq_has(st, "alice", "z@x"), 1);
	ck_assert_int_eq(store_subreq_has(st, "bob", "z@x"), 0);
	ck_assert_int_eq(store_subreq_each(st, "alice", t_subreq_cb, &a), 0);
	ck_assert_str_eq(a.buf, "b@x;z@x;");
	memset(&a, 0, sizeof(a));
	a.max = 1;
	ck_assert_int_eq(store_subreq_each(st, "alice", t_subreq_cb, &a), 0);
	ck_assert_str_eq(a.buf, "b@x;");
	ck_assert_int_eq(store_subreq_del(st, "alice", "b@x"), 0);
	ck_assert_int_eq(store_subreq_del(st, "alice", "b@x"), 0);
	ck_assert_int_eq(store_subreq_has(st, "alice", "b@x"), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM subreq"), 2);
}
END_TEST

START_TEST(store_users)
{
	struct store	*st = t_open();

	ck_assert_int_eq(store_user_exists(st, "alice"), 0);
	ck_assert_int_eq(store_user_seen(st, "alice", 100), 0);
	ck_assert_int_eq(store_user_seen(st, "alice", 200), 0);
	ck_assert_int_eq(store_user_exists(st, "alice"), 1);
	ck_assert_int_eq(store_user_exists(st, "Alice"), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT first_seen_ms FROM users"), 100);
	ck_assert_int_eq(t_sql_int("SELECT last_seen_ms FROM users"), 200);
}
END_TEST

START_TEST(store_batch_commit)
{
	struct store	*st = t_open();
	char		 xml[32];
	int		 i;

	for (i = 0; i < 500; i++) {
		snprintf(xml, sizeof(xml), "<m n='%d'/>", i);
		ck_assert_int_eq(store_offline_push(st, "bob", xml, i), 0);
	}
	ck_assert_int_eq(store_subreq_add(st, "bob", "c@x"), 0);
	/* One open transaction: another connection sees none of it yet. */
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM offline"), 0);
	ck_assert_int_eq(store_offline_count(st, "bob"), 500);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM offline"), 500);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM subreq"), 1);
	/* Nothing pending: commit is a no-op. */
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
}
END_TEST

START_TEST(store_failed_write_keeps_batch)
{
	struct store	*st = t_open();
	struct t_acc	 a = { .max = 0 };

	ck_assert_int_eq(store_offline_push(st, "bob", "<a/>", 1), 0);
	ck_assert_int_eq(store_offline_push(st, "bob", NULL, 2), -1);
	ck_assert_int_eq(store_archive_add(st, "bob", "x", 1, "a@x", "a@x",
	    NULL, true, "<a/>"), 0);
	/* The same archive id twice violates UNIQUE: that write alone. */
	ck_assert_int_eq(store_archive_add(st, "bob", "x", 1, "a@x", "a@x",
	    NULL, true, "<b/>"), -1);
	ck_assert_int_eq(store_offline_push(st, "bob", "<b/>", 3), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	st = t_open();
	ck_assert_int_eq(store_offline_each(st, "bob", t_offline_cb, &a), 0);
	ck_assert_str_eq(a.buf, "<a/>@1;<b/>@3;");
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"), 1);
}
END_TEST

/* Another process holds the write lock past the busy timeout. */
START_TEST(store_busy_fails_cleanly)
{
	struct store	*st = t_open();
	sqlite3		*db;

	ck_assert_int_eq(sqlite3_open_v2(t_path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(store_offline_push(st, "bob", "<a/>", 1), -1);
	ck_assert_int_eq(store_commit(st), 0);	/* nothing was written */
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(store_offline_push(st, "bob", "<b/>", 2), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_offline_count(st, "bob"), 1);
	store_close(st);
}
END_TEST

START_TEST(store_open_not_sqlite)
{
	const char	*err = NULL;
	FILE		*f;
	int		 i;

	ck_assert_ptr_nonnull(f = fopen(t_path, "w"));
	for (i = 0; i < 200; i++)
		fputs("this is not an SQLite database, just text\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_null(store_open(t_path, &err));
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strncmp(err, t_path, strlen(t_path)) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "not a database"));
}
END_TEST

START_TEST(store_open_corrupt_header)
{
	struct store	*st = t_open();
	const char	*err = NULL;
	FILE		*f;

	store_close(st);
	/* Smash the page size and schema pages behind the magic string. */
	ck_assert_ptr_nonnull(f = fopen(t_path, "r+"));
	ck_assert_int_eq(fseek(f, 16, SEEK_SET), 0);
	fputs("\x01\x03garbage garbage garbage garbage", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_null(store_open(t_path, &err));
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strncmp(err, t_path, strlen(t_path)) == 0, "%s", err);
}
END_TEST

/*
 * Open with path in a child that cannot write (root is dropped to nobody,
 * for whom permissions apply). Exit 0 if store_open failed naming path.
 */
static void
t_open_unwritable(const char *path, const char *why)
{
	const char	*err = NULL;
	struct store	*st;
	pid_t		 pid;
	int		 status;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(T_NOBODY) == -1 ||
		    setuid(T_NOBODY) == -1))
			_exit(3);
		if ((st = store_open(path, &err)) != NULL) {
			store_close(st);
			_exit(1);
		}
		fprintf(stderr, "store_open: %s\n", err);
		_exit(strstr(err, path) == err && strstr(err, why) != NULL ?
		    0 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(store_open_read_only)
{
	struct store	*st;
	char		 ro[96], path[128];

	ck_assert_int_eq(chmod(t_dir, 0755), 0);
	/* A new database in a directory nobody may write to. */
	snprintf(ro, sizeof(ro), "%s/ro", t_dir);
	ck_assert_int_eq(mkdir(ro, 0555), 0);
	snprintf(path, sizeof(path), "%s/xmppd.sqlite", ro);
	t_open_unwritable(path, "/ro: Permission denied");
	/* An existing database file that is read-only. */
	st = t_open();
	store_close(st);
	ck_assert_int_eq(chmod(t_path, 0444), 0);
	t_open_unwritable(t_path, "read-only (Permission denied)");
	/* A writable file in a read-only directory: no room for the WAL. */
	snprintf(path, sizeof(path), "%s/xmppd.sqlite", ro);
	ck_assert_int_eq(chmod(t_path, 0666), 0);
	ck_assert_int_eq(rename(t_path, path), 0);
	t_open_unwritable(path, "/ro: Permission denied");
	ck_assert_int_eq(unlink(path), 0);
	/* Directory missing altogether. */
	snprintf(path, sizeof(path), "%s/missing/xmppd.sqlite", t_dir);
	t_open_unwritable(path, "missing: No such file or directory");
}
END_TEST

/* Collects archive rows as "seq:id:with:in|out;". */
static void
t_archive_cb(void *arg, const struct store_archive_row *r)
{
	struct t_acc	*a = arg;
	size_t		 len = strlen(a->buf);

	snprintf(a->buf + len, sizeof(a->buf) - len, "%s:%s:%s;", r->id,
	    r->with_full, r->outgoing ? "out" : "in");
	a->n++;
}

static void
t_archive_fill(struct store *st)
{
	ck_assert_int_eq(store_archive_add(st, "alice", "i1", 100, "b@x",
	    "b@x/phone", NULL, false, "<m1/>"), 0);
	ck_assert_int_eq(store_archive_add(st, "alice", "i2", 200, "b@x",
	    "b@x", "o2", true, "<m2/>"), 0);
	ck_assert_int_eq(store_archive_add(st, "alice", "i3", 300, "c@x",
	    "c@x/pc", "o3", true, "<m3/>"), 0);
	ck_assert_int_eq(store_archive_add(st, "alice", "i4", 400, "b@x",
	    "b@x/pc", NULL, false, "<m4/>"), 0);
	ck_assert_int_eq(store_archive_add(st, "bob", "j1", 150, "alice@x",
	    "alice@x/r", "o2", false, "<m2/>"), 0);
}

START_TEST(store_archive_queries)
{
	struct store			*st = t_open();
	struct store_archive_query	 q = {
		.owner = "alice", .start = INT64_MIN, .end = INT64_MAX,
	};
	struct t_acc			 a = { .max = 0 };
	char				 id[8];

	t_archive_fill(st);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_archive_query(st, &q, t_archive_cb, &a), 4);
	ck_assert_str_eq(a.buf, "i1:b@x/phone:in;i2:b@x:out;i3:c@x/pc:out;"
	    "i4:b@x/pc:in;");
	/* with on the bare JID, newest first, limited. */
	memset(&a, 0, sizeof(a));
	q.with = "b@x";
	q.with_bare = true;
	q.newest_first = true;
	q.limit = 2;
	ck_assert_int_eq(store_archive_query(st, &q, t_archive_cb, &a), 2);
	ck_assert_str_eq(a.buf, "i4:b@x/pc:in;i2:b@x:out;");
	/* with on the full JID. */
	memset(&a, 0, sizeof(a));
	q.with = "b@x/phone";
	q.with_bare = false;
	ck_assert_int_eq(store_archive_query(st, &q, t_archive_cb, &a), 1);
	ck_assert_str_eq(a.buf, "i1:b@x/phone:in;");
	/* Time range is inclusive; seq bounds are exclusive. */
	memset(&a, 0, sizeof(a));
	q.with = NULL;
	q.newest_first = false;
	q.limit = 0;
	q.start = 200;
	q.end = 400;
	ck_assert_int_eq(store_archive_query(st, &q, t_archive_cb, &a), 3);
	ck_assert_str_eq(a.buf, "i2:b@x:out;i3:c@x/pc:out;i4:b@x/pc:in;");
	memset(&a, 0, sizeof(a));
	q.start = INT64_MIN;
	q.end = INT64_MAX;
	q.after_seq = 1;
	q.before_seq = 4;
	ck_assert_int_eq(store_archive_query(st, &q, t_archive_cb, &a), 2);
	ck_assert_str_eq(a.buf, "i2:b@x:out;i3:c@x/pc:out;");
	/* One row by id; another owner's id is absent. */
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(store_archive_get(st, "alice", "i3", t_archive_cb,
	    &a), 1);
	ck_assert_str_eq(a.buf, "i3:c@x/pc:out;");
	ck_assert_int_eq(store_archive_get(st, "alice", "j1", t_archive_cb,
	    &a), 0);
	ck_assert_int_eq(a.n, 1);
	/* Resend detection: outgoing, to that peer, within the window. */
	ck_assert_int_eq(store_archive_find_origin(st, "alice", "b@x", "o2",
	    0, id, sizeof(id)), 1);
	ck_assert_str_eq(id, "i2");
	ck_assert_int_eq(store_archive_find_origin(st, "alice", "b@x", "o2",
	    201, id, sizeof(id)), 0);
	ck_assert_int_eq(store_archive_find_origin(st, "alice", "c@x", "o2",
	    0, id, sizeof(id)), 0);
	ck_assert_int_eq(store_archive_find_origin(st, "bob", "alice@x", "o2",
	    0, id, sizeof(id)), 0);			/* incoming */
	ck_assert_int_eq(store_archive_find_origin(st, "alice", "b@x", "o2",
	    0, id, 2), -1);				/* does not fit */
	/* Retention. */
	ck_assert_int_eq(store_archive_expire(st, 200), 2);
	ck_assert_int_eq(store_archive_expire(st, 200), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"), 3);
}
END_TEST

static int
t_prefs_cb(void *arg, const char *jid, bool always)
{
	struct t_acc	*a = arg;
	size_t		 len = strlen(a->buf);

	snprintf(a->buf + len, sizeof(a->buf) - len, "%s=%d;", jid, always);
	return ++a->n == a->max;
}

START_TEST(store_mam_prefs)
{
	static const char *const always[] = { "b@x", "c@x" };
	static const char *const never[] = { "d@x", "c@x" };
	struct store	*st = t_open();
	struct t_acc	 a = { .max = 0 };
	int		 dflt = 5;

	ck_assert_int_eq(store_mam_prefs_get(st, "alice", &dflt, NULL, NULL),
	    0);
	ck_assert_int_eq(dflt, -1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "b@x"), -1);
	ck_assert_int_eq(store_mam_prefs_set(st, "alice", 1, always, 2, never,
	    2), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_mam_prefs_get(st, "alice", &dflt, t_prefs_cb,
	    &a), 0);
	ck_assert_int_eq(dflt, 1);
	ck_assert_str_eq(a.buf, "b@x=1;c@x=0;d@x=0;");	/* never wins */
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "b@x"), 1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "d@x"), 0);
	ck_assert_int_eq(store_mam_prefs_rule(st, "bob", "b@x"), -1);
	/* Set replaces everything; -1 removes the default. */
	ck_assert_int_eq(store_mam_prefs_set(st, "alice", -1, never, 1, NULL,
	    0), 0);
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(store_mam_prefs_get(st, "alice", &dflt, t_prefs_cb,
	    &a), 0);
	ck_assert_int_eq(dflt, -1);
	ck_assert_str_eq(a.buf, "d@x=1;");
	/* A NULL JID fails the whole set and leaves the old rules. */
	ck_assert_int_eq(store_mam_prefs_set(st, "alice", 2, always, 2,
	    (const char *const[]){ NULL }, 1), -1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "d@x"), 1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "b@x"), -1);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
}
END_TEST

/*
 * Durability: a child pushes rows in batches and reports each committed
 * total on a pipe; SIGKILL lands mid-stream. Every total it reported
 * must be there after reopening, in order, in a sound file.
 */
enum { T_DUR_BATCH = 37, T_DUR_MAX = 200000 };

static void
t_durability_child(int wfd)
{
	struct store	*st;
	const char	*err;
	char		 xml[32];
	int		 i;

	if ((st = store_open(t_path, &err)) == NULL)
		_exit(2);
	for (i = 0; i < T_DUR_MAX; i++) {
		snprintf(xml, sizeof(xml), "<m n='%d'/>", i);
		if (store_offline_push(st, "bob", xml, i) == -1)
			_exit(3);
		if ((i + 1) % T_DUR_BATCH != 0)
			continue;
		if (store_commit(st) == -1)
			_exit(4);
		if (write(wfd, &(int){ i + 1 }, sizeof(int)) != sizeof(int))
			_exit(5);
	}
	_exit(0);
}

/* Rows of the queue must read back as 0, 1, 2, ... with no gap. */
static int
t_durability_check(void *arg, const char *xml, int64_t stamp_ms)
{
	int	*next = arg;
	char	 want[32];

	snprintf(want, sizeof(want), "<m n='%d'/>", *next);
	ck_assert_str_eq(xml, want);
	ck_assert_int_eq(stamp_ms, *next);
	(*next)++;
	return 0;
}

START_TEST(store_durability_sigkill)
{
	struct store	*st;
	pid_t		 pid;
	int		 fds[2], acked = 0, v, status, next = 0, count;
	unsigned	 stop;

	/* Kill after a different number of reports on each loop round. */
	stop = 5 + (unsigned)_i * 23;
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(fds[0]);
		t_durability_child(fds[1]);
	}
	close(fds[1]);
	while (stop-- > 0 && read(fds[0], &v, sizeof(v)) == sizeof(v))
		acked = v;
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status), "child exited %d",
	    WEXITSTATUS(status));
	/* Reports already in the pipe were acked before the kill. */
	while (read(fds[0], &v, sizeof(v)) == sizeof(v))
		acked = v;
	close(fds[0]);
	ck_assert_int_gt(acked, 0);
	st = t_open();
	count = store_offline_count(st, "bob");
	ck_assert_int_ge(count, acked);
	ck_assert_int_eq(store_offline_each(st, "bob", t_durability_check,
	    &next), 0);
	ck_assert_int_eq(next, count);
	fprintf(stderr, "durability: acked %d, found %d after SIGKILL\n",
	    acked, count);
	store_close(st);
	t_assert_integrity();
}
END_TEST

static double
t_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rows/s for rows offline pushes with a commit every batch rows. */
static double
t_bench(struct store *st, int rows, int batch)
{
	double	t0 = t_now();
	char	xml[64];
	int	i;

	for (i = 0; i < rows; i++) {
		snprintf(xml, sizeof(xml), "<message to='bob@x'><body>%d"
		    "</body></message>", i);
		ck_assert_int_eq(store_offline_push(st, "bob", xml, i), 0);
		if ((i + 1) % batch == 0)
			ck_assert_int_eq(store_commit(st), 0);
	}
	ck_assert_int_eq(store_commit(st), 0);
	return rows / (t_now() - t0);
}

/*
 * Not an assertion (CI machines vary): prints the figures quoted in
 * docs/storage.md. STORE_BENCH_ROWS overrides the 10,000 rows.
 */
START_TEST(store_group_commit_figures)
{
	struct store	*st = t_open();
	const char	*env = getenv("STORE_BENCH_ROWS");
	int		 rows = env != NULL ? atoi(env) : 10000;
	double		 b100, b1;

	if (rows <= 0)
		rows = 10000;
	b100 = t_bench(st, rows, 100);
	ck_assert_int_eq(store_offline_clear(st, "bob"), 0);
	ck_assert_int_eq(store_commit(st), 0);
	b1 = t_bench(st, rows, 1);
	ck_assert_int_eq(store_offline_count(st, "bob"), rows);
	store_close(st);
	fprintf(stderr, "group commit: %d offline pushes, batch 100: %.0f "
	    "rows/s, batch 1: %.0f rows/s (x%.1f)\n", rows, b100, b1,
	    b100 / b1);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc;

	tc = tcase_create("schema");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, store_schema_create_reopen);
	tcase_add_test(tc, store_migration_appends);
	tcase_add_test(tc, store_open_not_sqlite);
	tcase_add_test(tc, store_open_corrupt_header);
	tcase_add_test(tc, store_open_read_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("tables");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, store_roster_round_trip);
	tcase_add_test(tc, store_roster_bad_input);
	tcase_add_test(tc, store_offline_fifo);
	tcase_add_test(tc, store_offline_each_writes);
	tcase_add_test(tc, store_subreq);
	tcase_add_test(tc, store_users);
	tcase_add_test(tc, store_archive_queries);
	tcase_add_test(tc, store_mam_prefs);
	suite_add_tcase(s, tc);

	tc = tcase_create("commit");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, store_batch_commit);
	tcase_add_test(tc, store_failed_write_keeps_batch);
	tcase_add_test(tc, store_busy_fails_cleanly);
	tcase_add_loop_test(tc, store_durability_sigkill, 0, 4);
	suite_add_tcase(s, tc);

	tc = tcase_create("figures");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, store_group_commit_figures);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(store_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
