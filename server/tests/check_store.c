/*
 * check_store.c: the SQLite store on real files in a mkdtemp directory:
 * schema and migrations (the offline queue becoming the spool), every
 * table's round trip, the spool and origin-ids, group commit, per-write
 * savepoints and what a failed write does to its batch, open errors, and
 * durability across SIGKILL. The store's health (locks, disk space, the
 * reserve, a moved file, the marker) is in check_store_health.c. What
 * group commit buys is measured by `make bench-store`, not here.
 */
#include <check.h>
#include <dirent.h>
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

#include "check_main.h"

#define T_NOBODY	65534	/* uid/gid for the read-only tests as root */

static char	t_base[64];	/* the test case's */
static char	t_dir[96];	/* one test's, in t_base */
static char	t_path[128];

/* Remove the files in dir, and those in its subdirectories; then dir. */
static void
t_rmtree(const char *dir, int depth)
{
	char		 p[384];
	DIR		*d;
	struct dirent	*e;

	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			if (unlink(p) == -1 && depth > 0)
				t_rmtree(p, depth - 1);
		}
		closedir(d);
	}
	(void)rmdir(dir);
}

/*
 * Around a test case, in the runner's process: a failed test skips its
 * own teardown (its forked process ends), so this one removes what it
 * left. Searchable by all, for the read-only tests.
 */
static void
t_case_setup(void)
{
	snprintf(t_base, sizeof(t_base), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_base));
	ck_assert_int_eq(chmod(t_base, 0755), 0);
}

static void
t_case_teardown(void)
{
	t_rmtree(t_base, 3);
}

/* A fresh directory and database path for one test. */
static void
t_setup(void)
{
	snprintf(t_dir, sizeof(t_dir), "%s/t.XXXXXX", t_base);
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_path, sizeof(t_path), "%s/xmppd.sqlite", t_dir);
}

/* Remove the database, its WAL files, the directory. */
static void
t_teardown(void)
{
	t_rmtree(t_dir, 1);
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

/* Run sql through a second connection (creating the file if need be). */
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

/*
 * Collects rows as text and, for spool rows, their seqs and ids; subreq
 * and prefs walks can stop after max rows.
 */
struct t_acc {
	char	buf[4096];
	int	n;
	int	max;
	int64_t	seq[64];
	char	id[16][48];
};

/* Spool rows as "id/resource/xml@stamp;" ("-" for no resource). */
static void
t_spool_cb(void *arg, const struct store_spool_row *r)
{
	struct t_acc	*a = arg;
	size_t		 len = strlen(a->buf);

	snprintf(a->buf + len, sizeof(a->buf) - len, "%s/%s/%s@%" PRId64 ";",
	    r->id, r->resource != NULL ? r->resource : "-", r->xml,
	    r->stamp_ms);
	if (a->n < (int)(sizeof(a->seq) / sizeof(a->seq[0])))
		a->seq[a->n] = r->seq;
	if (a->n < (int)(sizeof(a->id) / sizeof(a->id[0])))
		snprintf(a->id[a->n], sizeof(a->id[0]), "%s", r->id);
	a->n++;
}

/* user's whole spool (at most 64 rows) into a fresh *a; the count. */
static int
t_spool_all(struct store *st, const char *user, struct t_acc *a)
{
	memset(a, 0, sizeof(*a));
	return store_spool_after(st, user, 0, 64, t_spool_cb, a);
}

static int
t_subreq_cb(void *arg, const char *contact)
{
	struct t_acc	*a = arg;
	size_t		 len = strlen(a->buf);

	snprintf(a->buf + len, sizeof(a->buf) - len, "%s;", contact);
	return ++a->n == a->max;
}

/*
 * The schema of versions 1 and 2 as they shipped (store.c's migrations 1
 * and 2), to build old files by hand.
 */
static const char t_schema_v1[] =
	"CREATE TABLE roster ("
	"  user		TEXT NOT NULL,"
	"  jid		TEXT NOT NULL,"
	"  name		TEXT,"
	"  sub		TEXT NOT NULL DEFAULT 'none'"
	"		CHECK (sub IN ('none', 'to', 'from', 'both')),"
	"  ask_out	INTEGER NOT NULL DEFAULT 0 CHECK (ask_out IN (0, 1)),"
	"  pending_in	INTEGER NOT NULL DEFAULT 0"
	"		CHECK (pending_in IN (0, 1)),"
	"  preapproved	INTEGER NOT NULL DEFAULT 0"
	"		CHECK (preapproved IN (0, 1)),"
	"  PRIMARY KEY (user, jid)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE roster_group ("
	"  user		TEXT NOT NULL,"
	"  jid		TEXT NOT NULL,"
	"  grp		TEXT NOT NULL,"
	"  PRIMARY KEY (user, jid, grp),"
	"  FOREIGN KEY (user, jid) REFERENCES roster (user, jid)"
	"    ON DELETE CASCADE"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE subreq ("
	"  user		TEXT NOT NULL,"
	"  contact	TEXT NOT NULL,"
	"  PRIMARY KEY (user, contact)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE users ("
	"  user		TEXT NOT NULL PRIMARY KEY,"
	"  first_seen_ms	INTEGER NOT NULL,"
	"  last_seen_ms	INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE offline ("
	"  id		INTEGER PRIMARY KEY,"
	"  user		TEXT NOT NULL,"
	"  stamp_ms	INTEGER NOT NULL,"
	"  xml		TEXT NOT NULL"
	") STRICT;"
	"CREATE INDEX offline_user ON offline (user, id);";

static const char t_schema_v2[] =
	"CREATE TABLE archive ("
	"  seq		INTEGER PRIMARY KEY,"
	"  owner		TEXT NOT NULL,"
	"  id		TEXT NOT NULL,"
	"  stamp_ms	INTEGER NOT NULL,"
	"  with_bare	TEXT NOT NULL,"
	"  with_full	TEXT NOT NULL,"
	"  origin_id	TEXT,"
	"  outgoing	INTEGER NOT NULL CHECK (outgoing IN (0, 1)),"
	"  xml		TEXT NOT NULL,"
	"  UNIQUE (owner, id)"
	") STRICT;"
	"CREATE INDEX archive_owner ON archive (owner, seq);"
	"CREATE INDEX archive_with ON archive (owner, with_bare, seq);"
	"CREATE INDEX archive_origin ON archive (owner, origin_id)"
	"  WHERE origin_id IS NOT NULL;"
	"CREATE INDEX archive_stamp ON archive (stamp_ms);"
	"CREATE TABLE mam_prefs ("
	"  owner		TEXT NOT NULL PRIMARY KEY,"
	"  dflt		INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE mam_rule ("
	"  owner		TEXT NOT NULL,"
	"  jid		TEXT NOT NULL,"
	"  always	INTEGER NOT NULL CHECK (always IN (0, 1)),"
	"  PRIMARY KEY (owner, jid)"
	") STRICT, WITHOUT ROWID;";

/* Whether s is 32 lowercase hex digits (a 128-bit id). */
static int
t_is_hex128(const char *s, size_t len)
{
	size_t	i;

	if (len != 32)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

START_TEST(store_schema_create_reopen)
{
	struct store	*st = t_open();
	int64_t		 v;

	ck_assert_int_eq(store_user_seen(st, "alice", 1000), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	v = t_sql_int("PRAGMA user_version");
	ck_assert_int_eq(v, 4);
	/* The spool and origin-ids replaced the offline queue. */
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema"
	    " WHERE name IN ('spool', 'spool_user', 'origin', 'origin_stamp',"
	    " 'health')"), 5);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema"
	    " WHERE name IN ('offline', 'offline_user')"), 0);
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

/* A file of version 1 (before the archive) takes every later step. */
START_TEST(store_migration_appends)
{
	struct store	*st;
	struct t_acc	 a;
	const char	*err = NULL;

	t_sql(t_schema_v1);
	t_sql("INSERT INTO offline (id, user, stamp_ms, xml)"
	    " VALUES (4, 'bob', 40, '<m/>');"
	    "INSERT INTO users VALUES ('bob', 1, 2);"
	    "PRAGMA user_version = 1");
	st = t_open();
	ck_assert_int_eq(store_user_exists(st, "bob"), 1);
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 1);
	ck_assert_ptr_nonnull(strstr(a.buf, "/-/<m/>@40;"));
	ck_assert_int_eq(store_archive_add(st, "alice", "id1", 5, "b@x",
	    "b@x/r", NULL, false, "<message/>"), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"), 1);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 1);
	/* A file from a newer xmppd is refused, not damaged. */
	t_sql("PRAGMA user_version = 99");
	ck_assert_ptr_null(store_open(t_path, &err));
	ck_assert_ptr_nonnull(strstr(err, t_path));
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), 99);
}
END_TEST

/*
 * Migration 3 on a version-2 file: the offline queue moves to the spool
 * in its order, each row with a fresh stanza-id, and the origin-ids of
 * the last day's sent messages come from the archive.
 */
START_TEST(store_migration_offline_to_spool)
{
	struct store	*st;
	struct t_acc	 a, c;
	char		 sql[1024], want[256];
	long long	 now = (long long)time(NULL) * 1000;
	int64_t		 seq;
	int		 i, j;

	t_sql(t_schema_v1);
	t_sql(t_schema_v2);
	/* bob's queue is b1, b2, b3 by id (not by stamp); carol's first. */
	t_sql("INSERT INTO offline (id, user, stamp_ms, xml) VALUES"
	    " (9, 'bob', 90, '<b3/>'), (5, 'bob', 50, '<b1/>'),"
	    " (2, 'carol', 20, '<c1/>'), (7, 'bob', 10, '<b2/>');"
	    "PRAGMA user_version = 2");
	snprintf(sql, sizeof(sql), "INSERT INTO archive (owner, id, stamp_ms,"
	    " with_bare, with_full, origin_id, outgoing, xml) VALUES"
	    " ('alice', 'a1', %lld, 'b@x', 'b@x/r', 'o-new', 1, '<m/>'),"
	    " ('alice', 'a2', %lld, 'b@x', 'b@x/r', 'o-old', 1, '<m/>'),"
	    " ('alice', 'a3', %lld, 'c@x', 'c@x/r', 'o-in', 0, '<m/>'),"
	    " ('alice', 'a4', %lld, 'b@x', 'b@x', 'o-dup', 1, '<m/>'),"
	    " ('alice', 'a5', %lld, 'b@x', 'b@x/r', 'o-dup', 1, '<m/>'),"
	    " ('alice', 'a6', %lld, 'b@x', 'b@x/r', NULL, 1, '<m/>')",
	    now - 3600000, now - 2 * 86400000LL, now - 60000, now - 7200000,
	    now - 60000, now);
	t_sql(sql);

	st = t_open();
	ck_assert_int_eq(store_spool_count(st, "bob"), 3);
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 3);
	ck_assert_int_eq(t_spool_all(st, "carol", &c), 1);
	/* Same order, stamps and stanzas; no resource. */
	snprintf(want, sizeof(want), "%s/-/<b1/>@50;%s/-/<b2/>@10;"
	    "%s/-/<b3/>@90;", a.id[0], a.id[1], a.id[2]);
	ck_assert_str_eq(a.buf, want);
	snprintf(want, sizeof(want), "%s/-/<c1/>@20;", c.id[0]);
	ck_assert_str_eq(c.buf, want);
	/* The whole table was copied in its id order. */
	ck_assert_int_lt(c.seq[0], a.seq[0]);
	ck_assert_int_lt(a.seq[0], a.seq[1]);
	ck_assert_int_lt(a.seq[1], a.seq[2]);
	/* Fresh 128-bit ids, all different. */
	for (i = 0; i < 3; i++) {
		ck_assert_msg(t_is_hex128(a.id[i], strlen(a.id[i])),
		    "id %s", a.id[i]);
		ck_assert_str_ne(a.id[i], c.id[0]);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(a.id[i], a.id[j]);
	}
	ck_assert(t_is_hex128(c.id[0], strlen(c.id[0])));
	/* New rows come after the migrated ones. */
	seq = store_spool_push(st, "bob", "n1", NULL, "<b4/>", 100);
	ck_assert_int_gt(seq, a.seq[2]);
	ck_assert_int_eq(store_commit(st), 0);
	/* Sent in the last day: resends are recognised; older or received
	 * messages are not; a repeated origin-id once, at its newest. */
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o-new",
	    now - 86400000), 1);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o-old", 0),
	    0);
	ck_assert_int_eq(store_origin_seen(st, "alice", "c@x", "o-in", 0), 0);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o-dup",
	    now - 60000), 1);
	store_close(st);

	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema"
	    " WHERE name IN ('offline', 'offline_user')"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 5);
	ck_assert_int_eq(t_sql_int("SELECT count(DISTINCT id) FROM spool"),
	    5);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM origin"), 2);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"), 6);
	t_assert_integrity();
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
	char		 ro[128], path[160];

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
	    1);
	ck_assert_ptr_null(it.name);
	ck_assert_int_eq(it.sub, STORE_SUB_TO);
	ck_assert(!it.ask_out && !it.pending_in && !it.preapproved);
	ck_assert_uint_eq(it.ngroups, 1);
	ck_assert_str_eq(it.groups[0], "Zeta");
	store_roster_item_clear(&it);
	ck_assert_ptr_null(it.jid);

	/* Other users' rosters are separate; absent is 1, not an error. */
	ck_assert_int_eq(store_roster_item(st, "bob", "b@example.org", &it),
	    0);
	ck_assert_ptr_null(it.jid);
	ck_assert_int_eq(store_roster_get(st, "bob", &items, &n), 0);
	ck_assert_uint_eq(n, 0);
	store_roster_free(items, n);

	/* Delete takes the groups along (foreign key cascade). */
	ck_assert_int_eq(store_roster_del(st, "alice", "b@example.org"), 0);
	ck_assert_int_eq(store_roster_item(st, "alice", "b@example.org", &it),
	    0);
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
	struct store_roster_item	 good = {
		.jid = "a@x", .sub = STORE_SUB_BOTH,
	};
	struct store_roster_item	 it = {
		.jid = "c@x", .sub = STORE_SUB_NONE, .groups = g, .ngroups = 2,
	};
	struct store_roster_item	 out;

	/*
	 * A NULL group fails after the item row went in: that item is undone
	 * at once, and a roster change must not be lost silently, so the
	 * batch fails too: the good item written before it is not kept.
	 */
	ck_assert_int_eq(store_roster_put(st, "alice", &good), 0);
	ck_assert_int_eq(store_roster_put(st, "alice", &it), -1);
	ck_assert_int_eq(store_roster_item(st, "alice", "c@x", &out), 0);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(store_roster_item(st, "alice", "a@x", &out), 0);
	/* A NULL JID (NOT NULL) fails its batch the same way. */
	it.ngroups = 0;
	it.jid = NULL;
	ck_assert_int_eq(store_roster_put(st, "alice", &good), 0);
	ck_assert_int_eq(store_roster_put(st, "alice", &it), -1);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(store_roster_item(st, "alice", "a@x", &out), 0);
	/* A subscription out of range is refused before anything is stored. */
	it.jid = "c@x";
	it.sub = (enum store_sub)7;
	ck_assert_int_eq(store_roster_put(st, "alice", &it), -1);
	ck_assert_int_eq(store_roster_item(st, "alice", "c@x", &out), 0);
	(void)store_commit(st);
	/* Bad input does not degrade the store; the next batch works. */
	ck_assert(!store_degraded(st));
	ck_assert_int_eq(store_roster_put(st, "alice", &good), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM roster"), 1);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM roster_group"), 0);
}
END_TEST

START_TEST(store_spool_fifo)
{
	struct store	*st = t_open();
	struct t_acc	 a;
	int64_t		 s[5];
	int		 i;

	ck_assert_int_eq(store_spool_count(st, "bob"), 0);
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 0);
	s[0] = store_spool_push(st, "bob", "i1", NULL, "<m1/>", 30);
	s[1] = store_spool_push(st, "carol", "c1", "pc", "<c/>", 1);
	/* Arrival order, not stamp order: stamps may go backwards. */
	s[2] = store_spool_push(st, "bob", "i2", "phone", "<m2/>", 10);
	s[3] = store_spool_push(st, "bob", "i3", NULL, "<m3/>", 20);
	s[4] = store_spool_push(st, "bob", "i4", "pc", "<m4/>", 40);
	ck_assert_int_gt(s[0], 0);
	for (i = 1; i < 5; i++)
		ck_assert_int_gt(s[i], s[i - 1]);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_count(st, "bob"), 4);
	ck_assert_int_eq(store_spool_count(st, "carol"), 1);
	ck_assert_int_eq(store_spool_count(st, "dave"), 0);
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 4);
	ck_assert_str_eq(a.buf, "i1/-/<m1/>@30;i2/phone/<m2/>@10;"
	    "i3/-/<m3/>@20;i4/pc/<m4/>@40;");
	ck_assert_int_eq(a.seq[0], s[0]);
	ck_assert_int_eq(a.seq[1], s[2]);
	ck_assert_int_eq(a.seq[2], s[3]);
	ck_assert_int_eq(a.seq[3], s[4]);
	/* A window: at most limit rows after a position (exclusive). */
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(store_spool_after(st, "bob", 0, 2, t_spool_cb, &a),
	    2);
	ck_assert_str_eq(a.buf, "i1/-/<m1/>@30;i2/phone/<m2/>@10;");
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(store_spool_after(st, "bob", s[2], 10, t_spool_cb,
	    &a), 2);
	ck_assert_str_eq(a.buf, "i3/-/<m3/>@20;i4/pc/<m4/>@40;");
	/* The position may fall between one's rows (another's seq). */
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(store_spool_after(st, "bob", s[1], 1, t_spool_cb,
	    &a), 1);
	ck_assert_str_eq(a.buf, "i2/phone/<m2/>@10;");
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(store_spool_after(st, "bob", s[4], 10, t_spool_cb,
	    &a), 0);
	ck_assert_int_eq(a.n, 0);
	/* Each account sees its own rows only. */
	ck_assert_int_eq(t_spool_all(st, "carol", &a), 1);
	ck_assert_str_eq(a.buf, "c1/pc/<c/>@1;");
	ck_assert_int_eq(a.seq[0], s[1]);
	ck_assert_int_eq(t_spool_all(st, "dave", &a), 0);
	/* Delete: 1, then 0 once gone; that row only. */
	ck_assert_int_eq(store_spool_del(st, s[2]), 1);
	ck_assert_int_eq(store_spool_del(st, s[2]), 0);
	ck_assert_int_eq(store_spool_del(st, s[4] + 1000), 0);
	ck_assert_int_eq(store_spool_count(st, "bob"), 3);
	ck_assert_int_eq(store_spool_count(st, "carol"), 1);
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 3);
	ck_assert_str_eq(a.buf, "i1/-/<m1/>@30;i3/-/<m3/>@20;"
	    "i4/pc/<m4/>@40;");
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	/* All of it on disk, with the same seqs. */
	st = t_open();
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 3);
	ck_assert_str_eq(a.buf, "i1/-/<m1/>@30;i3/-/<m3/>@20;"
	    "i4/pc/<m4/>@40;");
	ck_assert_int_eq(a.seq[0], s[0]);
	ck_assert_int_eq(a.seq[1], s[3]);
	ck_assert_int_eq(a.seq[2], s[4]);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 4);
}
END_TEST

/*
 * A stream's position in the spool is a seq: one must never come back,
 * not even after the highest row was deleted or the file reopened.
 */
START_TEST(store_spool_seq_not_reused)
{
	struct store	*st = t_open();
	int64_t		 s1, s2, s3, s4, s5;

	ck_assert_int_gt(s1 = store_spool_push(st, "bob", "a", NULL, "<a/>",
	    1), 0);
	ck_assert_int_gt(s2 = store_spool_push(st, "bob", "b", NULL, "<b/>",
	    2), s1);
	ck_assert_int_gt(s3 = store_spool_push(st, "carol", "c", NULL,
	    "<c/>", 3), s2);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_del(st, s3), 1);
	ck_assert_int_eq(store_commit(st), 0);
	s4 = store_spool_push(st, "bob", "d", NULL, "<d/>", 4);
	ck_assert_int_gt(s4, s3);
	ck_assert_int_eq(store_commit(st), 0);
	/* Every row gone, then a reopen. */
	ck_assert_int_eq(store_spool_del(st, s1), 1);
	ck_assert_int_eq(store_spool_del(st, s2), 1);
	ck_assert_int_eq(store_spool_del(st, s4), 1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_count(st, "bob"), 0);
	store_close(st);
	st = t_open();
	s5 = store_spool_push(st, "bob", "e", NULL, "<e/>", 5);
	ck_assert_int_gt(s5, s4);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT seq FROM spool"), s5);
}
END_TEST

/* A delivery callback that writes elsewhere (archive, users) meanwhile. */
struct t_writer {
	struct store	*st;
	int		 n;
};

static void
t_spool_writer(void *arg, const struct store_spool_row *r)
{
	struct t_writer	*w = arg;

	ck_assert_int_eq(store_archive_add(w->st, "bob", r->id, r->stamp_ms,
	    "a@x", "a@x/r", NULL, false, r->xml), 0);
	ck_assert_int_eq(store_user_seen(w->st, "bob", r->stamp_ms), 0);
	/* A failed soft write is undone alone under the running SELECT. */
	ck_assert_int_eq(store_user_seen(w->st, NULL, r->stamp_ms), -1);
	w->n++;
}

START_TEST(store_spool_after_writes)
{
	struct store	*st = t_open();
	struct t_writer	 w = { .st = st };

	ck_assert_int_gt(store_spool_push(st, "bob", "i1", NULL, "<m1/>", 1),
	    0);
	ck_assert_int_gt(store_spool_push(st, "bob", "i2", NULL, "<m2/>", 2),
	    0);
	ck_assert_int_gt(store_spool_push(st, "bob", "i3", NULL, "<m3/>", 3),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_after(st, "bob", 0, 10, t_spool_writer,
	    &w), 3);
	ck_assert_int_eq(w.n, 3);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM archive"), 3);
	ck_assert_int_eq(t_sql_int("SELECT last_seen_ms FROM users"), 3);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 3);
}
END_TEST

START_TEST(store_origin)
{
	struct store	*st = t_open();

	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o1", 0), 0);
	ck_assert_int_eq(store_origin_add(st, "alice", "b@x", "o1", 1000), 0);
	ck_assert_int_eq(store_origin_add(st, "alice", "c@x", "o2", 2000), 0);
	ck_assert_int_eq(store_origin_add(st, "alice", "b@x", "o3", 3000), 0);
	/* Seen at or after since_ms only. */
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o1", 0), 1);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o1", 1000),
	    1);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o1", 1001),
	    0);
	/* Per sender and peer: the same id elsewhere is another message. */
	ck_assert_int_eq(store_origin_seen(st, "alice", "c@x", "o1", 0), 0);
	ck_assert_int_eq(store_origin_seen(st, "bob", "b@x", "o1", 0), 0);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o2", 0), 0);
	ck_assert_int_eq(store_origin_seen(st, "alice", "c@x", "o2", 0), 1);
	/* Adding it again moves its stamp (an upsert, not a second row). */
	ck_assert_int_eq(store_origin_add(st, "alice", "b@x", "o1", 5000), 0);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o1", 5000),
	    1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM origin"), 3);
	/* Expiry forgets those older than before_ms, and only those. */
	ck_assert_int_eq(store_origin_expire(st, 3000), 1);
	ck_assert_int_eq(store_origin_expire(st, 3000), 0);
	ck_assert_int_eq(store_origin_seen(st, "alice", "c@x", "o2", 0), 0);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o3", 0), 1);
	ck_assert_int_eq(store_origin_seen(st, "alice", "b@x", "o1", 5000),
	    1);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM origin"), 2);
	ck_assert_int_eq(t_sql_int("SELECT stamp_ms FROM origin"
	    " WHERE origin_id = 'o1'"), 5000);
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
	ck_assert_int_eq(store_commit(st), 0);
	/*
	 * A NULL JID fails the whole set and leaves the old rules; it fails
	 * its batch too, so bob's set in the same batch is not kept.
	 */
	ck_assert_int_eq(store_mam_prefs_set(st, "bob", 0, always, 1, NULL,
	    0), 0);
	ck_assert_int_eq(store_mam_prefs_set(st, "alice", 2, always, 2,
	    (const char *const[]){ NULL }, 1), -1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "d@x"), 1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "b@x"), -1);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "bob", "b@x"), -1);
	ck_assert_int_eq(store_mam_prefs_get(st, "alice", &dflt, NULL, NULL),
	    0);
	ck_assert_int_eq(dflt, -1);
	ck_assert_int_eq(store_mam_prefs_rule(st, "alice", "d@x"), 1);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM mam_prefs"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM mam_rule"), 1);
}
END_TEST

START_TEST(store_batch_commit)
{
	struct store	*st = t_open();
	char		 xml[32], id[16];
	int		 i;

	for (i = 0; i < 500; i++) {
		snprintf(xml, sizeof(xml), "<m n='%d'/>", i);
		snprintf(id, sizeof(id), "i%d", i);
		ck_assert_int_gt(store_spool_push(st, "bob", id, NULL, xml, i),
		    0);
	}
	ck_assert_int_eq(store_subreq_add(st, "bob", "c@x"), 0);
	/* One open transaction: another connection sees none of it yet. */
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 0);
	ck_assert_int_eq(store_spool_count(st, "bob"), 500);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 500);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM subreq"), 1);
	/* Nothing pending: commit is a no-op. */
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
}
END_TEST

/* Writes that must not be lost, each made to fail by its input. */
static const char *const t_bad_names[] = {
	"spool push, NULL xml", "spool push, NULL id", "roster put, NULL jid",
	"subreq add, NULL contact", "archive add, duplicate id",
	"origin add, NULL origin-id", "mam prefs set, NULL jid",
};

static int
t_bad_write(struct store *st, int which)
{
	struct store_roster_item	 it = { .sub = STORE_SUB_NONE };
	const char *const		 nulljid[] = { NULL };

	switch (which) {
	case 0:
		return store_spool_push(st, "bob", "x", NULL, NULL, 5) == -1 ?
		    -1 : 0;
	case 1:
		return store_spool_push(st, "bob", NULL, NULL, "<x/>", 5) ==
		    -1 ? -1 : 0;
	case 2:
		return store_roster_put(st, "bob", &it);
	case 3:
		return store_subreq_add(st, "bob", NULL);
	case 4:		/* the batch archived "dup" already */
		return store_archive_add(st, "bob", "dup", 5, "c@x", "c@x",
		    NULL, true, "<x/>");
	case 5:
		return store_origin_add(st, "bob", "c@x", NULL, 5);
	default:
		return store_mam_prefs_set(st, "bob", 1, nulljid, 1, NULL, 0);
	}
}

/*
 * One failing write that must not be lost fails its whole batch: commit
 * says -1 and nothing of the batch is kept, before or after the failure,
 * soft writes included. The next batch is not affected.
 */
START_TEST(store_critical_write_fails_batch)
{
	struct store			*st = t_open();
	struct store_roster_item	 it = {
		.jid = "c@x", .sub = STORE_SUB_TO,
	};
	struct store_roster_item	 out;
	struct t_acc			 a, b;
	int64_t				 s0;

	memset(&b, 0, sizeof(b));
	ck_assert_int_gt(s0 = store_spool_push(st, "bob", "i0", NULL, "<m0/>",
	    0), 0);
	ck_assert_int_eq(store_commit(st), 0);

	ck_assert_int_gt(store_spool_push(st, "bob", "i1", "r", "<m1/>", 1),
	    s0);
	ck_assert_int_eq(store_user_seen(st, "bob", 1), 0);
	ck_assert_int_eq(store_roster_put(st, "bob", &it), 0);
	ck_assert_int_eq(store_archive_add(st, "bob", "dup", 1, "c@x",
	    "c@x/r", "o1", true, "<m1/>"), 0);
	ck_assert_int_eq(store_origin_add(st, "bob", "c@x", "o1", 1), 0);
	ck_assert_int_eq(store_subreq_add(st, "bob", "d@x"), 0);
	ck_assert_int_eq(store_spool_del(st, s0), 1);
	ck_assert_msg(t_bad_write(st, _i) == -1, "%s did not fail",
	    t_bad_names[_i]);
	/* Written after the failure, in the same batch: lost with it. */
	ck_assert_int_gt(store_spool_push(st, "bob", "i2", NULL, "<m2/>", 2),
	    0);
	ck_assert_msg(store_commit(st) == -1, "%s: the batch committed",
	    t_bad_names[_i]);

	/* Nothing of it, here or through another connection. */
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 1);
	ck_assert_str_eq(a.buf, "i0/-/<m0/>@0;");
	ck_assert_int_eq(store_user_exists(st, "bob"), 0);
	ck_assert_int_eq(store_roster_item(st, "bob", "c@x", &out), 0);
	ck_assert_int_eq(store_archive_get(st, "bob", "dup", t_archive_cb,
	    &b), 0);
	ck_assert_int_eq(store_origin_seen(st, "bob", "c@x", "o1", 0), 0);
	ck_assert_int_eq(store_subreq_has(st, "bob", "d@x"), 0);
	ck_assert_int_eq(store_mam_prefs_rule(st, "bob", "b@x"), -1);
	ck_assert_int_eq(t_sql_int("SELECT (SELECT count(*) FROM spool) +"
	    " (SELECT count(*) FROM users) + (SELECT count(*) FROM roster) +"
	    " (SELECT count(*) FROM archive) + (SELECT count(*) FROM origin) +"
	    " (SELECT count(*) FROM subreq) + (SELECT count(*) FROM mam_rule)"
	    " + (SELECT count(*) FROM mam_prefs)"), 1);
	/* Bad input is no lack of room or lock: the store stays healthy. */
	ck_assert(!store_degraded(st));
	ck_assert_str_eq(store_degraded_why(st), "");

	/* The next batch starts clean. */
	ck_assert_int_gt(store_spool_push(st, "bob", "i3", NULL, "<m3/>", 3),
	    s0);
	ck_assert_int_eq(store_user_seen(st, "bob", 3), 0);
	ck_assert_int_eq(store_commit(st), 0);
	/* A failure alone in its batch fails it too; the flag then clears. */
	ck_assert_int_eq(t_bad_write(st, 0), -1);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 2);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM users"), 1);
}
END_TEST

/*
 * A soft write (a last-seen time, a delivered row's deletion, expiry)
 * that fails is undone alone; the batch commits.
 */
START_TEST(store_soft_write_keeps_batch)
{
	struct store	*st = t_open();
	struct t_acc	 a;
	int64_t		 s1;

	ck_assert_int_gt(s1 = store_spool_push(st, "bob", "i1", NULL, "<a/>",
	    1), 0);
	ck_assert_int_eq(store_user_seen(st, NULL, 1), -1);
	ck_assert_int_eq(store_user_seen(st, "bob", 2), 0);
	ck_assert_int_gt(store_spool_push(st, "bob", "i2", NULL, "<b/>", 3),
	    s1);
	/* Deleting a row that is not there is no failure either. */
	ck_assert_int_eq(store_spool_del(st, s1 + 100), 0);
	ck_assert_int_eq(store_origin_expire(st, 0), 0);
	ck_assert_int_eq(store_archive_expire(st, 0), 0);
	ck_assert_int_eq(store_commit(st), 0);
	/* Alone in its batch as well. */
	ck_assert_int_eq(store_user_seen(st, NULL, 4), -1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert(!store_degraded(st));
	store_close(st);
	st = t_open();
	ck_assert_int_eq(t_spool_all(st, "bob", &a), 2);
	ck_assert_str_eq(a.buf, "i1/-/<a/>@1;i2/-/<b/>@3;");
	ck_assert_int_eq(store_user_exists(st, "bob"), 1);
	store_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM users"), 1);
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
	char		 xml[32], id[16];
	int		 i;

	if ((st = store_open(t_path, &err)) == NULL)
		_exit(2);
	for (i = 0; i < T_DUR_MAX; i++) {
		snprintf(xml, sizeof(xml), "<m n='%d'/>", i);
		snprintf(id, sizeof(id), "i%d", i);
		if (store_spool_push(st, "bob", id, NULL, xml, i) == -1)
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

/* Rows of the spool must read back as 0, 1, 2, ... with no gap. */
struct t_dur {
	int	next;
	int64_t	seq;
};

static void
t_durability_check(void *arg, const struct store_spool_row *r)
{
	struct t_dur	*d = arg;
	char		 want[32];

	snprintf(want, sizeof(want), "<m n='%d'/>", d->next);
	ck_assert_str_eq(r->xml, want);
	snprintf(want, sizeof(want), "i%d", d->next);
	ck_assert_str_eq(r->id, want);
	ck_assert_ptr_null(r->resource);
	ck_assert_int_eq(r->stamp_ms, d->next);
	ck_assert_int_gt(r->seq, d->seq);
	d->seq = r->seq;
	d->next++;
}

START_TEST(store_durability_sigkill)
{
	struct store	*st;
	struct t_dur	 d = { 0, 0 };
	pid_t		 pid;
	int		 fds[2], acked = 0, v, status, count, n;
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
	count = store_spool_count(st, "bob");
	ck_assert_int_ge(count, acked);
	/* Read back in windows, as a login does. */
	while ((n = store_spool_after(st, "bob", d.seq, 1000,
	    t_durability_check, &d)) > 0)
		;
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(d.next, count);
	fprintf(stderr, "durability: acked %d, found %d after SIGKILL\n",
	    acked, count);
	store_close(st);
	t_assert_integrity();
}
END_TEST

static Suite *
store_suite(void)
{
	Suite		*s = suite_create("store");
	TCase		*tc;

	tc = tcase_create("schema");
	tcase_add_unchecked_fixture(tc, t_case_setup, t_case_teardown);
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, store_schema_create_reopen);
	tcase_add_test(tc, store_migration_appends);
	tcase_add_test(tc, store_migration_offline_to_spool);
	tcase_add_test(tc, store_open_not_sqlite);
	tcase_add_test(tc, store_open_corrupt_header);
	tcase_add_test(tc, store_open_read_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("tables");
	tcase_add_unchecked_fixture(tc, t_case_setup, t_case_teardown);
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, store_roster_round_trip);
	tcase_add_test(tc, store_roster_bad_input);
	tcase_add_test(tc, store_spool_fifo);
	tcase_add_test(tc, store_spool_seq_not_reused);
	tcase_add_test(tc, store_spool_after_writes);
	tcase_add_test(tc, store_origin);
	tcase_add_test(tc, store_subreq);
	tcase_add_test(tc, store_users);
	tcase_add_test(tc, store_archive_queries);
	tcase_add_test(tc, store_mam_prefs);
	suite_add_tcase(s, tc);

	tc = tcase_create("commit");
	tcase_add_unchecked_fixture(tc, t_case_setup, t_case_teardown);
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, store_batch_commit);
	tcase_add_loop_test(tc, store_critical_write_fails_batch, 0,
	    (int)(sizeof(t_bad_names) / sizeof(t_bad_names[0])));
	tcase_add_test(tc, store_soft_write_keeps_batch);
	tcase_add_loop_test(tc, store_durability_sigkill, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(store_suite)
