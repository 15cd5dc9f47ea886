/*
 * check_store_health.c: keeping the store writable and noticing when it
 * is not (store_health.c): another process's lock fails a batch and
 * degrades the store until a test write works; the reserve file; a full
 * file system (a small tmpfs, as root; skipped, saying why, if it cannot
 * be mounted) degrades the store, gives the reserve back and recovers
 * when space returns; the WAL kept small by the tick's checkpoints; a
 * database moved, deleted or replaced under an open store; the marker
 * that refuses a start on a lost database.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#include "check_main.h"

#define T_MIB		(1024 * 1024)

static char	t_base[64];		/* the test case's directory */
static char	t_dir[96];		/* one test's, inside it */
static char	t_path[128];
static char	t_reserve[128];
static int	t_mounted;		/* a tmpfs is on t_dir */
static char	t_nomount[256];		/* why not, if it is not */
static struct store	*t_st;	/* open, for a failed test's teardown */

static void	t_close(struct store *);

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
 * left.
 */
static void
t_case_setup(void)
{
	snprintf(t_base, sizeof(t_base), "/tmp/check_store_health.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_base));
}

static void
t_case_teardown(void)
{
	t_rmtree(t_base, 2);
}

/* A fresh directory and database path for one test. */
static void
t_setup(void)
{
	snprintf(t_dir, sizeof(t_dir), "%s/t.XXXXXX", t_base);
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_path, sizeof(t_path), "%s/xmppd.sqlite", t_dir);
	snprintf(t_reserve, sizeof(t_reserve), "%s/xmppd.reserve", t_dir);
	t_mounted = 0;
	t_nomount[0] = '\0';
}

/*
 * The same on a 4 MiB tmpfs, if this process may mount one. The mount is
 * made in a mount namespace of the test's own (private, so it is not
 * seen outside): it goes with the process even if the test fails and
 * its teardown does not run.
 */
static void
t_setup_tmpfs(void)
{
	t_setup();
	if (geteuid() != 0)
		snprintf(t_nomount, sizeof(t_nomount), "not root");
	else if (unshare(CLONE_NEWNS) == -1)
		snprintf(t_nomount, sizeof(t_nomount), "unshare: %s",
		    strerror(errno));
	else if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == -1)
		snprintf(t_nomount, sizeof(t_nomount), "private mounts: %s",
		    strerror(errno));
	else if (mount("tmpfs", t_dir, "tmpfs", MS_NOSUID | MS_NODEV,
	    "size=4m,mode=0700") == -1)
		snprintf(t_nomount, sizeof(t_nomount), "mount tmpfs on %s: %s",
		    t_dir, strerror(errno));
	else
		t_mounted = 1;
}

/* Remove every file of the directory, unmount it, remove it. */
static void
t_teardown(void)
{
	char		 p[384];
	DIR		*d;
	struct dirent	*e;

	/* Without fork (valgrind), a failed test comes back here. */
	if (t_st != NULL)
		t_close(t_st);
	if ((d = opendir(t_dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", t_dir, e->d_name);
			(void)unlink(p);
		}
		closedir(d);
	}
	/* Lazily: a failed test may have left the store open on it. */
	if (t_mounted && umount2(t_dir, MNT_DETACH) == -1)
		fprintf(stderr, "umount %s: %s\n", t_dir, strerror(errno));
	t_mounted = 0;
	(void)rmdir(t_dir);
}

static struct store *
t_open(void)
{
	const char	*err = NULL;
	struct store	*st = store_open(t_path, &err);

	ck_assert_msg(st != NULL, "store_open: %s", err);
	return t_st = st;
}

static void
t_close(struct store *st)
{
	store_close(st);
	t_st = NULL;
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

static double
t_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The size of path, -1 if it does not exist. */
static long long
t_size(const char *path)
{
	struct stat	sb;

	if (stat(path, &sb) == -1) {
		ck_assert_int_eq(errno, ENOENT);
		return -1;
	}
	return (long long)sb.st_size;
}

/* Whether path exists with size bytes, all of them allocated. */
static void
t_assert_reserve(const char *path, long long size)
{
	struct stat	sb;

	ck_assert_msg(stat(path, &sb) == 0, "reserve %s: %s", path,
	    strerror(errno));
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq((long long)sb.st_size, size);
	ck_assert_int_ge((long long)sb.st_blocks * 512, size);
}

/* Another connection (a person running sqlite3) takes the write lock. */
static sqlite3 *
t_lock(void)
{
	sqlite3	*db;

	ck_assert_int_eq(sqlite3_open_v2(t_path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	return db;
}

static void
t_unlock(sqlite3 *db)
{
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}

/*
 * While another process holds the write lock, writes give up after the
 * short busy timeout instead of stalling the event loop: a critical one
 * fails its batch and degrades the store, a soft one costs only itself
 * (and degrades the store too). Once the lock is gone, store_tick's test
 * write recovers.
 */
START_TEST(health_busy_degrades_and_recovers)
{
	struct store	*st = t_open();
	sqlite3		*db;
	double		 t0, took;
	int64_t		 seq;

	ck_assert_int_gt(store_spool_push(st, "bob", "i0", NULL, "<m0/>", 0),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_tick(st), STORE_OK);

	db = t_lock();
	/* A critical write: it returns (after the short wait) and fails. */
	t0 = t_now();
	ck_assert_int_eq(store_spool_push(st, "bob", "i1", NULL, "<m1/>", 1),
	    -1);
	took = t_now() - t0;
	ck_assert_msg(took < 10, "a locked write took %.1f s", took);
	ck_assert(store_degraded(st));
	ck_assert_str_ne(store_degraded_why(st), "");
	ck_assert_int_eq(store_commit(st), -1);
	/* Reads go on; the test write cannot work while the lock is held. */
	ck_assert_int_eq(store_spool_count(st, "bob"), 1);
	ck_assert_int_eq(store_tick(st), STORE_DEGRADED);
	ck_assert(store_degraded(st));
	/* A critical write failed, then the lock went: the batch still
	 * fails, and what followed in it is not kept either. */
	ck_assert_int_eq(store_spool_push(st, "bob", "i2", NULL, "<m2/>", 2),
	    -1);
	t_unlock(db);
	ck_assert_int_gt(store_spool_push(st, "bob", "i3", NULL, "<m3/>", 3),
	    0);
	/* Until the tick recovers, soft writes are not even tried. */
	ck_assert_int_eq(store_user_seen(st, "bob", 3), -1);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(store_spool_count(st, "bob"), 1);
	ck_assert_int_eq(store_user_seen(st, "bob", 3), -1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_user_exists(st, "bob"), 0);
	/* Free again: the tick's test write recovers. */
	ck_assert_int_eq(store_tick(st), STORE_OK);
	ck_assert(!store_degraded(st));
	ck_assert_str_eq(store_degraded_why(st), "");
	ck_assert_int_gt(seq = store_spool_push(st, "bob", "i4", NULL,
	    "<m4/>", 4), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_tick(st), STORE_OK);

	/* A soft write under the lock: -1 alone, the batch commits. */
	db = t_lock();
	ck_assert_int_eq(store_user_seen(st, "bob", 5), -1);
	ck_assert(store_degraded(st));
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_tick(st), STORE_DEGRADED);
	t_unlock(db);
	ck_assert_int_eq(store_tick(st), STORE_OK);
	ck_assert(!store_degraded(st));
	ck_assert_int_eq(store_user_seen(st, "bob", 6), 0);
	ck_assert_int_eq(store_commit(st), 0);
	t_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 2);
	ck_assert_int_eq(t_sql_int("SELECT max(seq) FROM spool"), seq);
	ck_assert_int_eq(t_sql_int("SELECT last_seen_ms FROM users"), 6);
}
END_TEST

START_TEST(health_reserve_file)
{
	struct store	*st = t_open();

	ck_assert_int_eq(t_size(t_reserve), -1);
	store_set_reserve(st, t_reserve, T_MIB);
	t_assert_reserve(t_reserve, T_MIB);
	ck_assert(!store_degraded(st));
	ck_assert_int_eq(store_tick(st), STORE_OK);
	ck_assert_int_gt(store_spool_push(st, "bob", "i1", NULL, "<m1/>", 1),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_tick(st), STORE_OK);
	t_assert_reserve(t_reserve, T_MIB);
	/* Another size is taken as it is set. */
	store_set_reserve(st, t_reserve, 2 * T_MIB);
	t_assert_reserve(t_reserve, 2 * T_MIB);
	/* 0: no reserve, and one left from before is removed. */
	store_set_reserve(st, t_reserve, 0);
	ck_assert_int_eq(t_size(t_reserve), -1);
	ck_assert_int_eq(store_tick(st), STORE_OK);
	ck_assert(!store_degraded(st));
	t_close(st);
	/* Closing leaves the reserve to the next start (none here). */
	ck_assert_int_eq(t_size(t_reserve), -1);
}
END_TEST

/*
 * A smaller reserve than the file left by an earlier start (store-reserve
 * lowered): the file shrinks to the new size, so that what is released
 * is what the configuration says.
 */
START_TEST(health_reserve_shrinks)
{
	struct store	*st = t_open();

	store_set_reserve(st, t_reserve, 2 * T_MIB);
	t_assert_reserve(t_reserve, 2 * T_MIB);
	t_close(st);
	st = t_open();
	store_set_reserve(st, t_reserve, T_MIB / 2);
	t_assert_reserve(t_reserve, T_MIB / 2);
	ck_assert(!store_degraded(st));
	t_close(st);
}
END_TEST

/*
 * The database file moved (0), deleted (1) or replaced (2) under an open
 * store: the next commit and the tick say so, and nothing is committed
 * any more.
 */
START_TEST(health_file_gone)
{
	struct store	*st = t_open();
	char		 other[160], moved[160];
	FILE		*f;

	ck_assert_int_gt(store_spool_push(st, "bob", "i1", NULL, "<m1/>", 1),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_tick(st), STORE_OK);
	snprintf(moved, sizeof(moved), "%s.moved", t_path);
	snprintf(other, sizeof(other), "%s.other", t_path);
	switch (_i) {
	case 0:
		ck_assert_int_eq(rename(t_path, moved), 0);
		break;
	case 1:
		ck_assert_int_eq(unlink(t_path), 0);
		break;
	default:
		ck_assert_ptr_nonnull(f = fopen(other, "w"));
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_int_eq(rename(other, t_path), 0);
		break;
	}
	/* The next commit sees it, without waiting for the tick. */
	ck_assert_int_gt(store_spool_push(st, "bob", "i2", NULL, "<m2/>", 2),
	    0);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert(store_degraded(st));
	ck_assert_str_ne(store_degraded_why(st), "");
	ck_assert_int_eq(store_tick(st), STORE_GONE);
	/* Nothing is acknowledged any more. */
	(void)store_spool_push(st, "bob", "i3", NULL, "<m3/>", 3);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(store_tick(st), STORE_GONE);
	t_close(st);
	/* The moved file still holds what was committed before. */
	if (_i == 0) {
		ck_assert_int_eq(rename(moved, t_path), 0);
		st = t_open();
		ck_assert_int_eq(store_spool_count(st, "bob"), 1);
		t_close(st);
	}
}
END_TEST

/*
 * The WAL stays small: SQLite's own checkpoint is off (it would run in
 * COMMIT), so it is store_tick's timer that checkpoints, and the file
 * shrinks back to journal_size_limit after. 12 MiB go through it here.
 */
START_TEST(health_wal_checkpoint)
{
	struct store	*st = t_open();
	char		 xml[2048], wal[160];
	long long	 size, most = 0;
	int		 i, j;

	snprintf(wal, sizeof(wal), "%s-wal", t_path);
	memset(xml, 'y', sizeof(xml) - 1);
	xml[sizeof(xml) - 1] = '\0';
	for (i = 0; i < 60; i++) {
		for (j = 0; j < 100; j++)
			ck_assert_int_gt(store_spool_push(st, "bob", "x", NULL,
			    xml, i * 100 + j), 0);
		ck_assert_int_eq(store_commit(st), 0);
		ck_assert_int_eq(store_tick(st), STORE_OK);
		if ((size = t_size(wal)) > most)
			most = size;
	}
	fprintf(stderr, "health_wal_checkpoint: the WAL reached %lld bytes\n",
	    most);
	/* Bounded by journal_size_limit (4 MiB), not by what went through. */
	ck_assert_msg(most <= 4 * T_MIB, "the WAL reached %lld bytes", most);
	ck_assert_int_eq(store_spool_count(st, "bob"), 6000);
	t_close(st);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM spool"), 6000);
}
END_TEST

START_TEST(health_marker_check)
{
	struct store	*st;
	const char	*err;
	char		 marker[160];
	FILE		*f;

	snprintf(marker, sizeof(marker), "%s.marker", t_path);
	/* No marker: a first start, with or without a database. */
	err = NULL;
	ck_assert_int_eq(store_marker_check(t_path, false, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(store_marker_write(t_path), 0);
	ck_assert_int_ge(t_size(marker), 1);
	/* The marker but no database: lost, refused unless --init. */
	err = NULL;
	ck_assert_int_eq(store_marker_check(t_path, false, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "--init") != NULL, "%s", err);
	ck_assert_msg(strstr(err, t_path) != NULL, "%s", err);
	ck_assert_int_eq(store_marker_check(t_path, true, &err), 0);
	/* An empty file is no better. */
	ck_assert_ptr_nonnull(f = fopen(t_path, "w"));
	ck_assert_int_eq(fclose(f), 0);
	err = NULL;
	ck_assert_int_eq(store_marker_check(t_path, false, &err), -1);
	ck_assert_msg(err != NULL && strstr(err, "--init") != NULL, "%s",
	    err != NULL ? err : "no message");
	ck_assert_int_eq(store_marker_check(t_path, true, &err), 0);
	/* A real database with its marker: fine. */
	ck_assert_int_eq(unlink(t_path), 0);
	st = t_open();
	ck_assert_int_gt(store_spool_push(st, "bob", "i1", NULL, "<m1/>", 1),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	t_close(st);
	ck_assert_int_gt(t_size(t_path), 0);
	ck_assert_int_eq(store_marker_check(t_path, false, &err), 0);
	/* Without its marker, a missing database is a first start again. */
	ck_assert_int_eq(unlink(t_path), 0);
	ck_assert_int_eq(unlink(marker), 0);
	ck_assert_int_eq(store_marker_check(t_path, false, &err), 0);
}
END_TEST

START_TEST(health_marker_write)
{
	struct stat	 a, b;
	char		 marker[160], tmp[168], bad[160];
	char		 buf1[512], buf2[512];
	FILE		*f;
	size_t		 n1, n2;

	snprintf(marker, sizeof(marker), "%s.marker", t_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", marker);
	ck_assert_int_eq(store_marker_write(t_path), 0);
	ck_assert_int_eq(stat(marker, &a), 0);
	ck_assert_int_eq(t_size(tmp), -1);
	ck_assert_ptr_nonnull(f = fopen(marker, "r"));
	n1 = fread(buf1, 1, sizeof(buf1) - 1, f);
	buf1[n1] = '\0';
	fclose(f);
	ck_assert_msg(strstr(buf1, t_path) != NULL, "%s", buf1);
	/* Again: 0, and the marker is the same file, unchanged. */
	sleep(1);
	ck_assert_int_eq(store_marker_write(t_path), 0);
	ck_assert_int_eq(store_marker_write(t_path), 0);
	ck_assert_int_eq(stat(marker, &b), 0);
	ck_assert_int_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
	ck_assert_int_eq(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	ck_assert_ptr_nonnull(f = fopen(marker, "r"));
	n2 = fread(buf2, 1, sizeof(buf2) - 1, f);
	buf2[n2] = '\0';
	fclose(f);
	ck_assert_str_eq(buf1, buf2);
	ck_assert_int_eq(t_size(tmp), -1);
	/* Where it cannot be written: -1. */
	snprintf(bad, sizeof(bad), "%s/missing/xmppd.sqlite", t_dir);
	ck_assert_int_eq(store_marker_write(bad), -1);
}
END_TEST

/* Fill the file system of t_dir with t_dir/filler until ENOSPC. */
static void
t_fill(void)
{
	static char	 chunk[64 * 1024];
	char		 p[160];
	ssize_t		 n;
	size_t		 len = sizeof(chunk);
	int		 fd;

	memset(chunk, 'x', sizeof(chunk));
	snprintf(p, sizeof(p), "%s/filler", t_dir);
	ck_assert_int_ne(fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600),
	    -1);
	for (;;) {
		if ((n = write(fd, chunk, len)) > 0)
			continue;
		ck_assert_int_eq(n, -1);
		ck_assert_int_eq(errno, ENOSPC);
		if (len == 1)
			break;
		len /= 2;		/* the last blocks, smaller */
	}
	ck_assert_int_eq(close(fd), 0);
}

/* Give bytes of the filler back to the file system. */
static void
t_unfill_some(off_t bytes)
{
	struct stat	sb;
	char		p[160];

	snprintf(p, sizeof(p), "%s/filler", t_dir);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_ge(sb.st_size, bytes);
	ck_assert_int_eq(truncate(p, sb.st_size - bytes), 0);
}

static void
t_unfill(void)
{
	char	p[160];

	snprintf(p, sizeof(p), "%s/filler", t_dir);
	ck_assert_int_eq(unlink(p), 0);
}

/*
 * Disk full: a 4 MiB file system with a 1 MiB reserve, filled until a
 * message cannot be stored, with a commit per message (0) or in one batch
 * that outgrows SQLite's page cache (1). The batch fails, the store
 * degrades and gives the reserve back (room for checkpoints); soft
 * writes wait; it recovers (taking the reserve again) only once there is
 * room.
 */
START_TEST(health_disk_full)
{
	struct store	*st;
	char		 xml[2048];
	int64_t		 s0, seq;
	int		 i, pushed_bad = 0, committed;

	if (!t_mounted) {
		check_skip("health_disk_full", "%s", t_nomount);
		return;
	}
	st = t_open();
	store_set_reserve(st, t_reserve, T_MIB);
	t_assert_reserve(t_reserve, T_MIB);
	ck_assert_int_eq(store_tick(st), STORE_OK);
	ck_assert_int_gt(s0 = store_spool_push(st, "bob", "i0", NULL, "<m0/>",
	    0), 0);
	ck_assert_int_eq(store_commit(st), 0);

	t_fill();
	memset(xml, 'y', sizeof(xml) - 1);
	xml[sizeof(xml) - 1] = '\0';
	committed = 1;
	for (i = 1; i < 3000; i++) {
		if (store_spool_push(st, "bob", "x", NULL, xml, i) == -1) {
			pushed_bad = 1;
			break;
		}
		if (_i == 1)
			continue;
		if (store_commit(st) == -1)
			break;
		committed++;
	}
	if (pushed_bad || _i == 1)
		ck_assert_int_eq(store_commit(st), -1);
	else
		ck_assert_msg(i < 3000, "3000 commits on a full file system");
	fprintf(stderr, "health_disk_full(%d): %d commits, then push %d: the "
	    "%s failed\n", _i, committed - 1, i, pushed_bad ? "push" :
	    "commit");
	ck_assert(store_degraded(st));
	ck_assert_str_ne(store_degraded_why(st), "");
	ck_assert_int_eq(t_size(t_reserve), -1);
	/* Nothing of the failed batch; reads go on. */
	ck_assert_int_eq(store_spool_count(st, "bob"), committed);
	/* Soft writes are not even tried meanwhile; they cost no batch. */
	ck_assert_int_eq(store_spool_del(st, s0), -1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_count(st, "bob"), committed);
	/* Not recovered without twice the reserve free (1.5 here). */
	ck_assert_int_eq(store_tick(st), STORE_DEGRADED);
	t_unfill_some(T_MIB / 2);
	ck_assert_int_eq(store_tick(st), STORE_DEGRADED);
	ck_assert(store_degraded(st));
	ck_assert_int_eq(t_size(t_reserve), -1);

	t_unfill();
	ck_assert_int_eq(store_tick(st), STORE_OK);
	ck_assert(!store_degraded(st));
	ck_assert_str_eq(store_degraded_why(st), "");
	t_assert_reserve(t_reserve, T_MIB);
	ck_assert_int_eq(store_spool_del(st, s0), 1);
	ck_assert_int_gt(seq = store_spool_push(st, "bob", "i9", NULL, "<m9/>",
	    9), s0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_spool_count(st, "bob"), committed);
	ck_assert_int_eq(store_tick(st), STORE_OK);
	t_close(st);
	ck_assert_int_eq(t_sql_int("SELECT max(seq) FROM spool"), seq);
}
END_TEST

/*
 * Low space seen by the tick alone, before any write failed: degraded,
 * the reserve given back; recovered once the space is back.
 */
START_TEST(health_low_space_tick)
{
	struct store	*st;

	if (!t_mounted) {
		check_skip("health_low_space_tick", "%s", t_nomount);
		return;
	}
	st = t_open();
	store_set_reserve(st, t_reserve, T_MIB);
	ck_assert_int_eq(store_tick(st), STORE_OK);
	/* A quarter of the reserve free is too little. */
	t_fill();
	t_unfill_some(T_MIB / 4);
	ck_assert(!store_degraded(st));
	ck_assert_int_eq(store_tick(st), STORE_DEGRADED);
	ck_assert(store_degraded(st));
	ck_assert_str_ne(store_degraded_why(st), "");
	ck_assert_int_eq(t_size(t_reserve), -1);
	ck_assert_int_eq(store_tick(st), STORE_DEGRADED);
	t_unfill();
	ck_assert_int_eq(store_tick(st), STORE_OK);
	t_assert_reserve(t_reserve, T_MIB);
	ck_assert_int_gt(store_spool_push(st, "bob", "i1", NULL, "<m1/>", 1),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	t_close(st);
}
END_TEST

/*
 * A lock, not a lack of room: with a little less free than the reserve,
 * which the tick accepts (it degrades under half the reserve), a moment's
 * lock by another process must not leave the store degraded once writes
 * work again. (Were that little room already "low" for the tick, there
 * would be nothing to test.)
 */
START_TEST(health_busy_little_room)
{
	struct store	*st;
	sqlite3		*db;

	if (!t_mounted) {
		check_skip("health_busy_little_room", "%s", t_nomount);
		return;
	}
	st = t_open();
	store_set_reserve(st, t_reserve, T_MIB);
	ck_assert_int_gt(store_spool_push(st, "bob", "i0", NULL, "<m0/>", 0),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	t_fill();
	t_unfill_some(3 * T_MIB / 4);
	if (store_tick(st) == STORE_DEGRADED) {
		check_skip("health_busy_little_room", "3/4 of the reserve "
		    "free is low space already on this tmpfs");
		t_close(st);
		return;
	}
	ck_assert(!store_degraded(st));

	db = t_lock();
	ck_assert_int_eq(store_spool_push(st, "bob", "i1", NULL, "<m1/>", 1),
	    -1);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert(store_degraded(st));
	t_unlock(db);
	/* The same room as before the lock, and writes work: recovered. */
	ck_assert_int_eq(store_tick(st), STORE_OK);
	ck_assert(!store_degraded(st));
	t_assert_reserve(t_reserve, T_MIB);
	ck_assert_int_gt(store_spool_push(st, "bob", "i2", NULL, "<m2/>", 2),
	    0);
	ck_assert_int_eq(store_commit(st), 0);
	t_close(st);
}
END_TEST

static Suite *
store_health_suite(void)
{
	Suite	*s = suite_create("store_health");
	TCase	*tc;

	tc = tcase_create("lock");
	tcase_add_unchecked_fixture(tc, t_case_setup, t_case_teardown);
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, health_busy_degrades_and_recovers);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_unchecked_fixture(tc, t_case_setup, t_case_teardown);
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, health_reserve_file);
	tcase_add_test(tc, health_reserve_shrinks);
	tcase_add_loop_test(tc, health_file_gone, 0, 3);
	tcase_add_test(tc, health_wal_checkpoint);
	tcase_add_test(tc, health_marker_check);
	tcase_add_test(tc, health_marker_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("space");
	tcase_add_unchecked_fixture(tc, t_case_setup, t_case_teardown);
	tcase_add_checked_fixture(tc, t_setup_tmpfs, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, health_disk_full, 0, 2);
	tcase_add_test(tc, health_low_space_tick);
	tcase_add_test(tc, health_busy_little_room);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(store_health_suite)
