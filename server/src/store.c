/*
 * store.c: the SQLite file behind store.h: schema and migrations, the
 * prepared statements, and the batch ("group commit") transaction. The
 * tables' functions live in store_roster.c, store_archive.c and
 * store_spool.c; store_health.c keeps the file writable; store_sql.c
 * runs one statement at a time for all of them.
 *
 * Every write joins one transaction, opened (BEGIN IMMEDIATE) by the first
 * write since the last store_commit(), so a loop turn costs one fsync
 * however many stanzas it stored. Acked means durable: the caller acks
 * only after store_commit() returned 0; with WAL and synchronous=FULL a
 * commit is on disk when it returns. Each write runs inside its own
 * SAVEPOINT. A write that must not be lost (a message, a roster change)
 * and fails fails the whole batch: store_commit() rolls it back and
 * returns -1, so nothing of that turn is acknowledged. A soft write (an
 * acknowledged spool row's deletion, a last-seen time) that fails is undone
 * alone. A failure for lack of room, lock or disk also degrades the store
 * (store_degraded) until store_health.c sees it recover.
 *
 * Adding a table: append a script to store_migrations[] (never edit one
 * that has shipped), then add its statements to enum store_q and
 * store_sql[]; store_open() prepares them with the others.
 *
 * Not here: what the rows mean (roster rules, queue limits), which is the
 * modules' business. No SQL is ever assembled from input. Corruption deep
 * inside a table is not looked for at open (a full integrity_check is
 * O(size)); SQLite reports it as SQLITE_CORRUPT when a read reaches it.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "store_priv.h"
#include "xmalloc.h"

/*
 * How long a write waits for another process's lock (a person running
 * sqlite3 on the file). Short: the event loop must not stall; a lock held
 * longer fails the batch and degrades the store until it is free.
 */
enum {
	STORE_BUSY_MS = 50,
};


static char	store_errbuf[1024];	/* store_open()'s *errstr */

static const char *store_seterr(const char *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Format "path: reason" into the static error buffer. */
static const char *
store_seterr(const char *path, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(store_errbuf, sizeof(store_errbuf), "%s: %s", path, msg);
	return store_errbuf;
}

/*
 * Why path cannot be used read-write, in the OS's words, or "". SQLite's
 * "unable to open database file" does not say what to fix, and its saved
 * errno is that of its last fallback (a read-only open), not the cause.
 * WAL needs to create files next to the database, so the directory must
 * be writable too.
 */
static void
store_diagnose(const char *path, char *buf, size_t len)
{
	char	*dir, *slash;
	int	 fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1 && errno != ENOENT) {
		snprintf(buf, len, " (%s)", strerror(errno));
		return;
	}
	if (fd != -1)
		close(fd);
	if ((slash = strrchr(path, '/')) == NULL)
		dir = xstrdup(".");
	else
		dir = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == -1)
		snprintf(buf, len, " (directory %s: %s)", dir, strerror(errno));
	free(dir);
}

/* "path: SQLite's reason (the OS's reason, if any)". */
static const char *
store_seterr_db(const char *path, sqlite3 *db)
{
	char	why[256];

	store_diagnose(path, why, sizeof(why));
	return store_seterr(path, "%s%s", sqlite3_errmsg(db), why);
}

/* Give up the batch after SQLite, or a failed undo, ended it. */
static void
store_lose(struct store *st, const char *what)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)store_run(st, STORE_Q_ROLLBACK, what);
	log_warnx("store: %s: transaction rolled back, writes since the "
	    "last commit are lost", what);
	st->lost = true;
}

/*
 * A write that had to stay failed: the batch will be rolled back and
 * nothing of this turn acknowledged (the callers' streams are cut and
 * resend). No room or no lock also degrades the store.
 */
static void
store_fail(struct store *st, const char *what)
{
	if (!st->failed)
		log_warnx("store: %s failed: this turn's writes will be "
		    "rolled back and not acknowledged", what);
	st->failed = true;
	if (store_resource_error(st->last_err))
		store_degrade_err(st);
}

/* Join the batch (opening it if needed) and mark the start of one write. */
static int
store_wbegin_any(struct store *st, const char *what)
{
	if (sqlite3_get_autocommit(st->db) &&
	    store_run(st, STORE_Q_BEGIN, what) == -1)
		return -1;
	return store_run(st, STORE_Q_SAVEPOINT, what);
}

/* Start a write that must not be lost: failing to start fails the batch. */
int
store_wbegin(struct store *st, const char *what)
{
	if (store_wbegin_any(st, what) == 0)
		return 0;
	store_fail(st, what);
	return -1;
}

/*
 * Start a soft write: failing to start costs only this write. Not tried
 * while degraded: on a full disk SQLite may roll back the whole batch
 * when one statement fails, and a soft write must never cost one that
 * had to stay.
 */
int
store_wbegin_soft(struct store *st, const char *what)
{
	if (st->degraded || st->gone)
		return -1;
	if (store_wbegin_any(st, what) == 0)
		return 0;
	if (store_resource_error(st->last_err))
		store_degrade_err(st);
	return -1;
}

/*
 * End one soft write: keep it (ret 0) or undo it alone (ret -1); the batch
 * stays open either way. Returns ret, or -1 if the batch was lost.
 */
int
store_wend_soft(struct store *st, int ret, const char *what)
{
	if (sqlite3_get_autocommit(st->db))
		goto lost;
	if (ret == -1 && store_run(st, STORE_Q_ROLLBACK_TO, what) == -1)
		goto lost;
	if (store_run(st, STORE_Q_RELEASE, what) == -1)
		goto lost;
	if (ret == -1 && store_resource_error(st->last_err))
		store_degrade_err(st);
	return ret;
 lost:
	store_lose(st, what);
	return -1;
}

/* End a write that must not be lost: if it failed, so does the batch. */
int
store_wend(struct store *st, int ret, const char *what)
{
	if (ret == -1)
		store_fail(st, what);
	return store_wend_soft(st, ret, what);
}

/* A write of one statement keyed by user (and key), as one write. */
int
store_write_keys(struct store *st, enum store_q which, const char *what,
    const char *user, const char *key)
{
	if (store_wbegin(st, what) == -1)
		return -1;
	return store_wend(st, store_step_keys(st, which, what, user, key),
	    what);
}

/*
 * A soft DELETE of the rows older than before_ms (the statement binds it
 * as ?1): expiry, whose failure only leaves old rows a little longer.
 * The number deleted, or -1.
 */
int
store_delete_before(struct store *st, enum store_q which, int64_t before_ms,
    const char *what)
{
	sqlite3_stmt	*q = st->q[which];
	int		 ret = -1;

	if (store_wbegin_soft(st, what) == -1)
		return -1;
	if (sqlite3_bind_int64(q, 1, before_ms) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, what);
		goto done;
	}
	ret = sqlite3_changes(st->db);
 done:
	store_q_done(q);
	if (store_wend_soft(st, ret == -1 ? -1 : 0, what) == -1)
		return -1;
	return ret;
}

/* Run one SQL text at open; its first row's column 0 into num/txt. */
static int
store_open_row(sqlite3 *db, const char *sql, int64_t *num, char *txt,
    size_t txtsz)
{
	sqlite3_stmt	*q = NULL;
	const char	*s;
	int		 rc, ret = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		goto done;
	if ((rc = sqlite3_step(q)) != SQLITE_ROW && rc != SQLITE_DONE)
		goto done;
	if (num != NULL)
		*num = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
	if (txt != NULL) {
		s = rc == SQLITE_ROW ?
		    (const char *)sqlite3_column_text(q, 0) : NULL;
		snprintf(txt, txtsz, "%s", s != NULL ? s : "");
	}
	ret = 0;
 done:
	sqlite3_finalize(q);
	return ret;
}

/* Connection settings; WAL and foreign keys are checked, not assumed. */
static int
store_open_pragmas(struct store *st, const char *path, const char **errstr)
{
	char	mode[32], why[256];
	int64_t	fk;

	if (sqlite3_db_readonly(st->db, "main") == 1) {
		store_diagnose(path, why, sizeof(why));
		*errstr = store_seterr(path, "database is read-only%s", why);
		return -1;
	}
	if (sqlite3_busy_timeout(st->db, STORE_BUSY_MS) != SQLITE_OK ||
	    store_open_row(st->db, "PRAGMA journal_mode = WAL", NULL, mode,
	    sizeof(mode)) == -1)
		goto sqlerr;
	if (strcasecmp(mode, "wal") != 0) {
		*errstr = store_seterr(path, "cannot use WAL, journal mode "
		    "is \"%s\"", mode);
		return -1;
	}
	/*
	 * FULL: with WAL, each commit syncs the WAL, so a commit that
	 * returned is on disk. No automatic checkpoint inside COMMIT (that
	 * is on the hot path); store_health.c checkpoints from a timer, and
	 * journal_size_limit shrinks the WAL back after one. temp_store:
	 * each write's savepoint journal stays in memory (on a temp file it
	 * cost about 50 KB of writes per message); cache_size: 32 MiB of
	 * pages, so a batch does not spill and re-read them.
	 */
	if (sqlite3_exec(st->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA wal_autocheckpoint = 0;"
	    "PRAGMA journal_size_limit = 4194304;"
	    "PRAGMA temp_store = MEMORY;"
	    "PRAGMA cache_size = -32768;"
	    "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
	    store_open_row(st->db, "PRAGMA foreign_keys", &fk, NULL,
	    0) == -1)
		goto sqlerr;
	if (fk != 1) {
		*errstr = store_seterr(path, "SQLite lacks foreign keys");
		return -1;
	}
	return 0;
 sqlerr:
	*errstr = store_seterr_db(path, st->db);
	return -1;
}

/*
 * Bring the schema to the newest version, all steps in one transaction.
 * The write transaction is taken even when nothing is pending: it proves
 * the file is writable and not locked by another process.
 */
static int
store_migrate(struct store *st, const char *path, const char **errstr)
{
	const size_t	 known = store_nmigrations;
	char		 sql[64];
	int64_t		 v;
	size_t		 i;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    store_open_row(st->db, "PRAGMA user_version", &v, NULL, 0) == -1)
		goto sqlerr;
	if (v < 0) {
		*errstr = store_seterr(path, "bad database schema version "
		    "%lld", (long long)v);
		goto bad;
	}
	if ((uint64_t)v > known) {
		*errstr = store_seterr(path, "database schema version %lld is "
		    "newer than this xmppd supports (%zu)", (long long)v,
		    known);
		goto bad;
	}
	for (i = (size_t)v; i < known; i++)
		if (sqlite3_exec(st->db, store_migrations[i], NULL, NULL,
		    NULL) != SQLITE_OK)
			goto sqlerr;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", known);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto sqlerr;
	if ((uint64_t)v != known)
		log_info("store: %s: schema version %lld -> %zu", path,
		    (long long)v, known);
	return 0;
 sqlerr:
	*errstr = store_seterr_db(path, st->db);
 bad:
	if (!sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Prepare every statement of store_sql[] for the connection's lifetime. */
static int
store_prepare(struct store *st, const char *path, const char **errstr)
{
	size_t	i;

	for (i = 0; i < STORE_Q_COUNT; i++) {
		if (store_sql[i] == NULL)
			fatalx("%s: no SQL for statement %zu", __func__, i);
		if (sqlite3_prepare_v3(st->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->q[i], NULL) != SQLITE_OK) {
			*errstr = store_seterr(path, "statement %zu: %s", i,
			    sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

/* Finalize the statements and close the connection; NULL is fine. */
static void
store_free(struct store *st)
{
	size_t	i;

	if (st == NULL)
		return;
	for (i = 0; i < STORE_Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	if (sqlite3_close(st->db) != SQLITE_OK)
		store_warn(st, "close");
	free(st->ballast);
	free(st->path);
	free(st);
}

/* Open or create the database at path and bring its schema up to date. */
struct store *
store_open(const char *path, const char **errstr)
{
	struct store	*st;
	int		 rc;

	st = xcalloc(1, sizeof(*st));
	st->path = xstrdup(path);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*errstr = st->db != NULL ? store_seterr_db(path, st->db) :
		    store_seterr(path, "%s", sqlite3_errstr(rc));
		goto bad;
	}
	if (store_open_pragmas(st, path, errstr) == -1 ||
	    store_migrate(st, path, errstr) == -1 ||
	    store_prepare(st, path, errstr) == -1)
		goto bad;
	store_health_open(st);
	return st;
 bad:
	store_free(st);
	return NULL;
}

/*
 * Commit the batch. -1 means nothing written since the previous commit
 * may be acknowledged: a write of it failed (the batch is rolled back),
 * SQLite abandoned it, the COMMIT failed, or the file is gone.
 */
int
store_commit(struct store *st)
{
	bool	bad;

	/* One stat() a commit: a commit into a file that is no longer the
	 * database (deleted, moved, replaced) must not be acknowledged. */
	if (!sqlite3_get_autocommit(st->db) && !st->gone)
		store_check_moved(st);
	bad = st->failed || st->lost || st->gone;

	st->failed = st->lost = false;
	if (sqlite3_get_autocommit(st->db))
		return bad ? -1 : 0;
	if (bad) {
		(void)store_run(st, STORE_Q_ROLLBACK, __func__);
		return -1;
	}
	if (store_run(st, STORE_Q_COMMIT, __func__) == -1) {
		if (store_resource_error(st->last_err))
			store_degrade_err(st);
		store_lose(st, __func__);
		st->lost = false;
		return -1;
	}
	if (st->ckpt_due)
		store_checkpoint(st);
	return 0;
}

/* Commit, checkpoint the WAL into the database file, and close. */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	(void)store_commit(st);
	/* PRAGMA wal_checkpoint(TRUNCATE): leave an empty WAL behind. */
	if (sqlite3_wal_checkpoint_v2(st->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
		store_warn(st, "checkpoint");
	store_free(st);
}
