/*
 * store.c: the SQLite file behind store.h: schema and migrations, the
 * prepared statements, and the batch ("group commit") transaction.
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

#define STORE_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * How long a write waits for another process's lock (a person running
 * sqlite3 on the file). Short: the event loop must not stall; a lock held
 * longer fails the batch and degrades the store until it is free.
 */
enum {
	STORE_BUSY_MS = 50,
};

/*
 * Schema scripts: store_migrations[v] takes PRAGMA user_version from v to
 * v + 1. Every pending one runs in a single transaction at open.
 */
static const char *const store_migrations[] = {
	/* 1: rosters, subscription requests, accounts, offline queue. */
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
	"CREATE INDEX offline_user ON offline (user, id);",
	/*
	 * 2: the message archive (XEP-0313) and its preferences. seq is the
	 * rowid: new rows get max(seq) + 1, so seq order is arrival order.
	 */
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
	") STRICT, WITHOUT ROWID;",
	/*
	 * 3: the delivery spool replaces the offline queue: every message
	 * for an account stays here until one of its streams acknowledged
	 * it. AUTOINCREMENT: a seq is never reused, so a stream's position
	 * in the spool (mod_offline.c) stays valid when rows are deleted.
	 * origin: XEP-0359 origin-ids of sent messages, for resends, kept
	 * apart from the archive so it works with archiving off. health: the
	 * one row store_health.c rewrites to test that writes work again.
	 */
	"CREATE TABLE spool ("
	"  seq		INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user		TEXT NOT NULL,"
	"  id		TEXT NOT NULL,"
	"  resource	TEXT,"
	"  stamp_ms	INTEGER NOT NULL,"
	"  xml		TEXT NOT NULL"
	") STRICT;"
	"CREATE INDEX spool_user ON spool (user, seq);"
	"INSERT INTO spool (user, id, stamp_ms, xml)"
	"  SELECT user, lower(hex(randomblob(16))), stamp_ms, xml"
	"  FROM offline ORDER BY id;"
	"DROP TABLE offline;"
	"CREATE TABLE origin ("
	"  user		TEXT NOT NULL,"
	"  peer		TEXT NOT NULL,"
	"  origin_id	TEXT NOT NULL,"
	"  stamp_ms	INTEGER NOT NULL,"
	"  PRIMARY KEY (user, peer, origin_id)"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX origin_stamp ON origin (stamp_ms);"
	"INSERT INTO origin (user, peer, origin_id, stamp_ms)"
	"  SELECT owner, with_bare, origin_id, max(stamp_ms) FROM archive"
	"  WHERE outgoing = 1 AND origin_id IS NOT NULL"
	"  AND stamp_ms >= unixepoch() * 1000 - 86400000"
	"  GROUP BY owner, with_bare, origin_id;"
	"CREATE TABLE health ("
	"  k		INTEGER PRIMARY KEY,"
	"  t		INTEGER NOT NULL"
	") STRICT;",
};


/* Roster SELECTs: one row per (item, group), ordered by jid then group. */
#define STORE_ROSTER_SELECT						\
	"SELECT r.jid, r.name, r.sub, r.ask_out, r.pending_in,"		\
	" r.preapproved, g.grp FROM roster AS r"			\
	" LEFT JOIN roster_group AS g ON g.user = r.user AND g.jid = r.jid" \
	" WHERE r.user = ?1"

/* Archive rows as struct store_archive_row wants them. */
#define STORE_ARCHIVE_COLS						\
	"SELECT seq, id, stamp_ms, with_full, outgoing, xml FROM archive"

/*
 * One archive query with every filter bound: ?2 NULL matches anyone, ?3
 * picks the bare or full JID column, ?6/?7 are exclusive seq bounds and
 * ?8 is the LIMIT (-1: none). Only the ORDER BY differs between the two.
 */
#define STORE_ARCHIVE_QUERY						\
	STORE_ARCHIVE_COLS						\
	" WHERE owner = ?1 AND (?2 IS NULL OR"				\
	" (CASE WHEN ?3 THEN with_bare ELSE with_full END) = ?2)"	\
	" AND stamp_ms BETWEEN ?4 AND ?5 AND seq > ?6 AND seq < ?7"

static const char *const store_sql[STORE_Q_COUNT] = {
	[STORE_Q_BEGIN] = "BEGIN IMMEDIATE",
	[STORE_Q_COMMIT] = "COMMIT",
	[STORE_Q_ROLLBACK] = "ROLLBACK",
	[STORE_Q_SAVEPOINT] = "SAVEPOINT store_write",
	[STORE_Q_RELEASE] = "RELEASE store_write",
	[STORE_Q_ROLLBACK_TO] = "ROLLBACK TO store_write",

	[STORE_Q_ROSTER_GET] = STORE_ROSTER_SELECT
	    " ORDER BY r.jid, g.grp",
	[STORE_Q_ROSTER_ITEM] = STORE_ROSTER_SELECT
	    " AND r.jid = ?2 ORDER BY g.grp",
	/* An upsert, not INSERT OR REPLACE, which would delete the row. */
	[STORE_Q_ROSTER_PUT] = "INSERT INTO roster"
	    " (user, jid, name, sub, ask_out, pending_in, preapproved)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT (user, jid) DO UPDATE SET name = excluded.name,"
	    " sub = excluded.sub, ask_out = excluded.ask_out,"
	    " pending_in = excluded.pending_in,"
	    " preapproved = excluded.preapproved",
	[STORE_Q_ROSTER_GROUPS_DEL] = "DELETE FROM roster_group"
	    " WHERE user = ?1 AND jid = ?2",
	/* Not OR IGNORE: that would also swallow NOT NULL failures. */
	[STORE_Q_ROSTER_GROUP_ADD] = "INSERT INTO roster_group"
	    " (user, jid, grp) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (user, jid, grp) DO NOTHING",
	[STORE_Q_ROSTER_DEL] = "DELETE FROM roster"
	    " WHERE user = ?1 AND jid = ?2",

	[STORE_Q_USER_SEEN] = "INSERT INTO users"
	    " (user, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?2)"
	    " ON CONFLICT (user) DO UPDATE"
	    " SET last_seen_ms = excluded.last_seen_ms",
	[STORE_Q_USER_EXISTS] = "SELECT 1 FROM users WHERE user = ?1",

	[STORE_Q_SUBREQ_ADD] = "INSERT INTO subreq (user, contact)"
	    " VALUES (?1, ?2) ON CONFLICT (user, contact) DO NOTHING",
	[STORE_Q_SUBREQ_DEL] = "DELETE FROM subreq"
	    " WHERE user = ?1 AND contact = ?2",
	[STORE_Q_SUBREQ_HAS] = "SELECT 1 FROM subreq"
	    " WHERE user = ?1 AND contact = ?2",
	[STORE_Q_SUBREQ_EACH] = "SELECT contact FROM subreq"
	    " WHERE user = ?1 ORDER BY contact",

	[STORE_Q_ARCHIVE_ADD] = "INSERT INTO archive (owner, id, stamp_ms,"
	    " with_bare, with_full, origin_id, outgoing, xml)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STORE_Q_ARCHIVE_GET] = STORE_ARCHIVE_COLS
	    " WHERE owner = ?1 AND id = ?2",
	[STORE_Q_ARCHIVE_OLDEST] = STORE_ARCHIVE_QUERY
	    " ORDER BY seq LIMIT ?8",
	[STORE_Q_ARCHIVE_NEWEST] = STORE_ARCHIVE_QUERY
	    " ORDER BY seq DESC LIMIT ?8",
	[STORE_Q_ARCHIVE_EXPIRE] = "DELETE FROM archive WHERE stamp_ms < ?1",

	[STORE_Q_PREFS_GET] = "SELECT dflt FROM mam_prefs WHERE owner = ?1",
	[STORE_Q_PREFS_RULES] = "SELECT jid, always FROM mam_rule"
	    " WHERE owner = ?1 ORDER BY jid",
	[STORE_Q_PREFS_RULE] = "SELECT always FROM mam_rule"
	    " WHERE owner = ?1 AND jid = ?2",
	[STORE_Q_PREFS_PUT] = "INSERT INTO mam_prefs (owner, dflt)"
	    " VALUES (?1, ?2)"
	    " ON CONFLICT (owner) DO UPDATE SET dflt = excluded.dflt",
	[STORE_Q_PREFS_DEL] = "DELETE FROM mam_prefs WHERE owner = ?1",
	[STORE_Q_PREFS_RULES_DEL] = "DELETE FROM mam_rule WHERE owner = ?1",
	/* A JID in both lists ends up "never": the later, safer rule. */
	[STORE_Q_PREFS_RULE_PUT] = "INSERT INTO mam_rule (owner, jid, always)"
	    " VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (owner, jid) DO UPDATE SET always = excluded.always",

	[STORE_Q_SPOOL_PUSH] = "INSERT INTO spool"
	    " (user, id, resource, stamp_ms, xml) VALUES (?1, ?2, ?3, ?4, ?5)",
	[STORE_Q_SPOOL_COUNT] = "SELECT count(*) FROM spool WHERE user = ?1",
	[STORE_Q_SPOOL_AFTER] = "SELECT seq, id, resource, stamp_ms, xml"
	    " FROM spool WHERE user = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	[STORE_Q_SPOOL_DEL] = "DELETE FROM spool WHERE seq = ?1",
	[STORE_Q_ORIGIN_FIND] = "SELECT 1 FROM origin WHERE user = ?1"
	    " AND peer = ?2 AND origin_id = ?3 AND stamp_ms >= ?4",
	[STORE_Q_ORIGIN_ADD] = "INSERT INTO origin"
	    " (user, peer, origin_id, stamp_ms) VALUES (?1, ?2, ?3, ?4)"
	    " ON CONFLICT (user, peer, origin_id)"
	    " DO UPDATE SET stamp_ms = excluded.stamp_ms",
	[STORE_Q_ORIGIN_EXPIRE] = "DELETE FROM origin WHERE stamp_ms < ?1",
	[STORE_Q_HEALTH_PUT] = "INSERT INTO health (k, t) VALUES (1, ?1)"
	    " ON CONFLICT (k) DO UPDATE SET t = excluded.t",
};

/* enum store_sub as stored in roster.sub. */
static const char *const store_sub_names[] = {
	[STORE_SUB_NONE] = "none",
	[STORE_SUB_TO] = "to",
	[STORE_SUB_FROM] = "from",
	[STORE_SUB_BOTH] = "both",
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

/* Log a failed operation once, with SQLite's reason; remember the code. */
void
store_warn(struct store *st, const char *what)
{
	st->last_err = sqlite3_extended_errcode(st->db);
	log_warnx("store: %s: %s", what, sqlite3_errmsg(st->db));
}

/* Make q ready for its next use; also right after an error. */
void
store_q_done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

/* Run an unbound statement that returns no rows; 0 or -1 (logged). */
int
store_run(struct store *st, enum store_q which, const char *what)
{
	sqlite3_stmt	*q = st->q[which];
	int		 ret = 0;

	if (sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, what);
		ret = -1;
	}
	store_q_done(q);
	return ret;
}

/* Bind user to ?1 and, if the statement has a ?2, key to it. */
int
store_bind_keys(struct store *st, sqlite3_stmt *q, const char *what,
    const char *user, const char *key)
{
	if (sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC) != SQLITE_OK ||
	    (sqlite3_bind_parameter_count(q) >= 2 &&
	    sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC) != SQLITE_OK)) {
		store_warn(st, what);
		return -1;
	}
	return 0;
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

/* SQLite's answer means "no room, no lock, no disk", not bad input. */
bool
store_resource_error(int code)
{
	switch (code & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return true;
	default:
		return false;
	}
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

/* Run one keyed statement that returns no rows; 0 or -1 (logged). */
static int
store_step_keys(struct store *st, enum store_q which, const char *what,
    const char *user, const char *key)
{
	sqlite3_stmt	*q = st->q[which];
	int		 ret = -1;

	if (store_bind_keys(st, q, what, user, key) == -1)
		goto done;
	if (sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, what);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	return ret;
}

/* A write of one statement keyed by user (and key), as one write. */
static int
store_write_keys(struct store *st, enum store_q which, const char *what,
    const char *user, const char *key)
{
	if (store_wbegin(st, what) == -1)
		return -1;
	return store_wend(st, store_step_keys(st, which, what, user, key),
	    what);
}

/* A keyed existence test: 1 a row matches, 0 none, -1 error. */
int
store_exists_keys(struct store *st, enum store_q which, const char *what,
    const char *user, const char *key)
{
	sqlite3_stmt	*q = st->q[which];
	int		 rc, ret = -1;

	if (store_bind_keys(st, q, what, user, key) == -1)
		goto done;
	if ((rc = sqlite3_step(q)) != SQLITE_ROW && rc != SQLITE_DONE) {
		store_warn(st, what);
		goto done;
	}
	ret = rc == SQLITE_ROW;
 done:
	store_q_done(q);
	return ret;
}

/*
 * Step a SELECT keyed by user, handing each row to row(), which returns 0
 * to go on, 1 to stop, -1 if the row is unreadable (out of memory). The
 * statement stays busy meanwhile, so row() must not start it again.
 */
static int
store_each(struct store *st, enum store_q which, const char *what,
    const char *user, int (*row)(sqlite3_stmt *, void *), void *arg)
{
	sqlite3_stmt	*q = st->q[which];
	int		 rc, stop = 0, ret = -1;

	if (sqlite3_stmt_busy(q))
		fatalx("%s: called from its own callback", what);
	if (store_bind_keys(st, q, what, user, NULL) == -1)
		goto done;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW &&
	    (stop = row(q, arg)) == 0)
		;
	if (stop == -1 || (stop == 0 && rc != SQLITE_DONE)) {
		store_warn(st, what);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
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
	 * journal_size_limit shrinks the WAL back after one.
	 */
	if (sqlite3_exec(st->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA wal_autocheckpoint = 0;"
	    "PRAGMA journal_size_limit = 4194304;"
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
	const size_t	 known = STORE_NITEMS(store_migrations);
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

/* Copy an item's columns (not its group) out of a roster row. */
static int
store_roster_fill(struct store *st, sqlite3_stmt *q, const char *what,
    const char *jid, struct store_roster_item *it)
{
	const char	*name, *sub;
	size_t		 i;

	it->jid = xstrdup(jid);
	if ((name = (const char *)sqlite3_column_text(q, 1)) != NULL)
		it->name = xstrdup(name);
	if ((sub = (const char *)sqlite3_column_text(q, 2)) == NULL) {
		store_warn(st, what);
		return -1;
	}
	for (i = 0; i < STORE_NITEMS(store_sub_names); i++)
		if (strcmp(sub, store_sub_names[i]) == 0)
			break;
	if (i == STORE_NITEMS(store_sub_names)) {
		log_warnx("store: %s: bad subscription \"%s\" for %s", what,
		    sub, jid);
		return -1;
	}
	it->sub = (enum store_sub)i;
	it->ask_out = sqlite3_column_int(q, 3) != 0;
	it->pending_in = sqlite3_column_int(q, 4) != 0;
	it->preapproved = sqlite3_column_int(q, 5) != 0;
	return 0;
}

/* Step a bound roster SELECT, folding group rows into their items. */
static int
store_roster_rows(struct store *st, sqlite3_stmt *q, const char *what,
    struct store_roster_item **itemsp, size_t *np)
{
	struct store_roster_item	*items = NULL, *it;
	const char			*jid, *grp;
	size_t				 n = 0, cap = 0;
	int				 rc, ret = -1;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((jid = (const char *)sqlite3_column_text(q, 0)) == NULL) {
			store_warn(st, what);
			goto done;
		}
		if (n == 0 || strcmp(items[n - 1].jid, jid) != 0) {
			if (n == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				items = xreallocarray(items, cap,
				    sizeof(*items));
			}
			it = &items[n++];
			memset(it, 0, sizeof(*it));
			if (store_roster_fill(st, q, what, jid, it) == -1)
				goto done;
		}
		if ((grp = (const char *)sqlite3_column_text(q, 6)) != NULL) {
			it = &items[n - 1];
			it->groups = xreallocarray(it->groups,
			    it->ngroups + 1, sizeof(*it->groups));
			it->groups[it->ngroups++] = xstrdup(grp);
		}
	}
	if (rc != SQLITE_DONE) {
		store_warn(st, what);
		goto done;
	}
	*itemsp = items;
	*np = n;
	items = NULL;
	n = 0;
	ret = 0;
 done:
	store_roster_free(items, n);
	return ret;
}

/* Every roster item of user, sorted by jid, groups sorted too. */
int
store_roster_get(struct store *st, const char *user,
    struct store_roster_item **items, size_t *n)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ROSTER_GET];
	int		 ret = -1;

	*items = NULL;
	*n = 0;
	if (store_bind_keys(st, q, __func__, user, NULL) == -1)
		goto done;
	ret = store_roster_rows(st, q, __func__, items, n);
 done:
	store_q_done(q);
	return ret;
}

/* One roster item into *out (cleared first): 0 found, 1 absent, -1. */
int
store_roster_item(struct store *st, const char *user, const char *jid,
    struct store_roster_item *out)
{
	sqlite3_stmt			*q = st->q[STORE_Q_ROSTER_ITEM];
	struct store_roster_item	*items = NULL;
	size_t				 n = 0;
	int				 ret = -1;

	memset(out, 0, sizeof(*out));
	if (store_bind_keys(st, q, __func__, user, jid) == -1 ||
	    store_roster_rows(st, q, __func__, &items, &n) == -1)
		goto done;
	if (n == 0) {
		ret = 1;
		goto done;
	}
	*out = items[0];
	memset(&items[0], 0, sizeof(items[0]));
	ret = 0;
 done:
	store_q_done(q);
	store_roster_free(items, n);
	return ret;
}

/* Insert or replace one item and its groups, as one write. */
int
store_roster_put(struct store *st, const char *user,
    const struct store_roster_item *it)
{
	sqlite3_stmt	*put = st->q[STORE_Q_ROSTER_PUT];
	sqlite3_stmt	*gdel = st->q[STORE_Q_ROSTER_GROUPS_DEL];
	sqlite3_stmt	*gadd = st->q[STORE_Q_ROSTER_GROUP_ADD];
	size_t		 i;
	int		 ret = -1;

	if (store_wbegin(st, __func__) == -1)
		return -1;
	if ((unsigned)it->sub >= STORE_NITEMS(store_sub_names)) {
		log_warnx("store: %s: bad subscription %d for %s", __func__,
		    (int)it->sub, it->jid != NULL ? it->jid : "(null)");
		return store_wend(st, -1, __func__);
	}
	if (store_bind_keys(st, put, __func__, user, it->jid) == -1 ||
	    store_bind_keys(st, gdel, __func__, user, it->jid) == -1)
		goto done;
	if (sqlite3_bind_text(put, 3, it->name, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_text(put, 4, store_sub_names[it->sub], -1,
	    SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(put, 5, it->ask_out) != SQLITE_OK ||
	    sqlite3_bind_int(put, 6, it->pending_in) != SQLITE_OK ||
	    sqlite3_bind_int(put, 7, it->preapproved) != SQLITE_OK) {
		store_warn(st, __func__);
		goto done;
	}
	if (sqlite3_step(put) != SQLITE_DONE ||
	    sqlite3_step(gdel) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	if (it->ngroups > 0 &&
	    store_bind_keys(st, gadd, __func__, user, it->jid) == -1)
		goto done;
	for (i = 0; i < it->ngroups; i++) {
		if (sqlite3_bind_text(gadd, 3, it->groups[i], -1,
		    SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_step(gadd) != SQLITE_DONE) {
			store_warn(st, __func__);
			goto done;
		}
		sqlite3_reset(gadd);
	}
	ret = 0;
 done:
	store_q_done(put);
	store_q_done(gdel);
	store_q_done(gadd);
	return store_wend(st, ret, __func__);
}

/* Delete one item; its groups go with it (ON DELETE CASCADE). */
int
store_roster_del(struct store *st, const char *user, const char *jid)
{
	return store_write_keys(st, STORE_Q_ROSTER_DEL, __func__, user, jid);
}

/* Free an item's strings and zero it; NULL is fine. */
void
store_roster_item_clear(struct store_roster_item *it)
{
	size_t	i;

	if (it == NULL)
		return;
	free(it->jid);
	free(it->name);
	for (i = 0; i < it->ngroups; i++)
		free(it->groups[i]);
	free(it->groups);
	memset(it, 0, sizeof(*it));
}

/* Free an array from store_roster_get(); NULL is fine. */
void
store_roster_free(struct store_roster_item *items, size_t n)
{
	size_t	i;

	if (items == NULL)
		return;
	for (i = 0; i < n; i++)
		store_roster_item_clear(&items[i]);
	free(items);
}

/* Record a login of user, making the account known. */
int
store_user_seen(struct store *st, const char *user, int64_t stamp_ms)
{
	sqlite3_stmt	*q = st->q[STORE_Q_USER_SEEN];
	int		 ret = -1;

	if (store_wbegin_soft(st, __func__) == -1)
		return -1;
	if (sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, stamp_ms) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	return store_wend_soft(st, ret, __func__);
}

/* Whether user has ever logged in: 1, 0, or -1. */
int
store_user_exists(struct store *st, const char *user)
{
	return store_exists_keys(st, STORE_Q_USER_EXISTS, __func__, user,
	    NULL);
}

/* Remember contact's unanswered subscription request to user. */
int
store_subreq_add(struct store *st, const char *user, const char *contact)
{
	return store_write_keys(st, STORE_Q_SUBREQ_ADD, __func__, user,
	    contact);
}

/* Forget contact's request (approved or denied). */
int
store_subreq_del(struct store *st, const char *user, const char *contact)
{
	return store_write_keys(st, STORE_Q_SUBREQ_DEL, __func__, user,
	    contact);
}

/* Whether contact's request to user is pending: 1, 0, or -1. */
int
store_subreq_has(struct store *st, const char *user, const char *contact)
{
	return store_exists_keys(st, STORE_Q_SUBREQ_HAS, __func__, user,
	    contact);
}

/* store_subreq_each()'s callback and its argument. */
struct store_subreq_walk {
	int	(*fn)(void *, const char *);
	void	*arg;
};

static int
store_subreq_row(sqlite3_stmt *q, void *arg)
{
	struct store_subreq_walk	*w = arg;
	const char			*contact;

	if ((contact = (const char *)sqlite3_column_text(q, 0)) == NULL)
		return -1;
	return w->fn(w->arg, contact) != 0;
}

/*
 * Call fn for each contact with a pending request to user, sorted, until
 * it returns non-zero; 0, or -1 on a store error.
 */
int
store_subreq_each(struct store *st, const char *user,
    int (*fn)(void *, const char *contact), void *arg)
{
	struct store_subreq_walk	w = { .fn = fn, .arg = arg };

	return store_each(st, STORE_Q_SUBREQ_EACH, __func__, user,
	    store_subreq_row, &w);
}

/* Archive one message of owner's; id must be new to owner's archive. */
int
store_archive_add(struct store *st, const char *owner, const char *id,
    int64_t stamp_ms, const char *with_bare, const char *with_full,
    const char *origin_id, bool outgoing, const char *xml)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ARCHIVE_ADD];
	int		 ret = -1;

	if (store_wbegin(st, __func__) == -1)
		return -1;
	if (store_bind_keys(st, q, __func__, owner, id) == -1)
		goto done;
	if (sqlite3_bind_int64(q, 3, stamp_ms) != SQLITE_OK ||
	    sqlite3_bind_text(q, 4, with_bare, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_text(q, 5, with_full, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_text(q, 6, origin_id, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    sqlite3_bind_int(q, 7, outgoing) != SQLITE_OK ||
	    sqlite3_bind_text(q, 8, xml, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	return store_wend(st, ret, __func__);
}

/* Hand each row of a bound archive SELECT to fn; the count, or -1. */
static int
store_archive_rows(struct store *st, sqlite3_stmt *q, const char *what,
    store_archive_fn fn, void *arg)
{
	struct store_archive_row	 r;
	int				 rc, n = 0;

	if (sqlite3_stmt_busy(q))
		fatalx("%s: called from its own callback", what);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		r.seq = sqlite3_column_int64(q, 0);
		r.id = (const char *)sqlite3_column_text(q, 1);
		r.stamp_ms = sqlite3_column_int64(q, 2);
		r.with_full = (const char *)sqlite3_column_text(q, 3);
		r.outgoing = sqlite3_column_int(q, 4) != 0;
		r.xml = (const char *)sqlite3_column_text(q, 5);
		if (r.id == NULL || r.with_full == NULL || r.xml == NULL)
			break;		/* out of memory: errmsg says so */
		fn(arg, &r);
		if (n < INT_MAX)
			n++;
	}
	if (rc != SQLITE_DONE) {
		store_warn(st, what);
		return -1;
	}
	return n;
}

/* One archived message by its public id: 1 (fn called), 0 absent, -1. */
int
store_archive_get(struct store *st, const char *owner, const char *id,
    store_archive_fn fn, void *arg)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ARCHIVE_GET];
	int		 ret = -1;

	if (store_bind_keys(st, q, __func__, owner, id) == -1)
		goto done;
	if ((ret = store_archive_rows(st, q, __func__, fn, arg)) > 0)
		ret = 1;		/* (owner, id) is unique */
 done:
	store_q_done(q);
	return ret;
}

/*
 * The rows of q->owner's archive that match q, at most q->limit of them
 * (0: no limit), oldest or newest first; the count, or -1.
 */
int
store_archive_query(struct store *st, const struct store_archive_query *aq,
    store_archive_fn fn, void *arg)
{
	sqlite3_stmt	*q = st->q[aq->newest_first ?
			    STORE_Q_ARCHIVE_NEWEST : STORE_Q_ARCHIVE_OLDEST];
	int		 ret = -1;

	if (store_bind_keys(st, q, __func__, aq->owner, aq->with) == -1)
		goto done;
	if (sqlite3_bind_int(q, 3, aq->with_bare) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, aq->start) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 5, aq->end) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 6, aq->after_seq) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, aq->before_seq != 0 ?
	    aq->before_seq : INT64_MAX) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 8, aq->limit != 0 ?
	    (sqlite3_int64)aq->limit : -1) != SQLITE_OK) {
		store_warn(st, __func__);
		goto done;
	}
	ret = store_archive_rows(st, q, __func__, fn, arg);
 done:
	store_q_done(q);
	return ret;
}

/* Delete every archived message stamped before before_ms; count or -1. */
int
store_archive_expire(struct store *st, int64_t before_ms)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ARCHIVE_EXPIRE];
	int		 ret = -1;

	if (store_wbegin_soft(st, __func__) == -1)
		return -1;
	if (sqlite3_bind_int64(q, 1, before_ms) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = sqlite3_changes(st->db);
 done:
	store_q_done(q);
	if (store_wend_soft(st, ret == -1 ? -1 : 0, __func__) == -1)
		return -1;
	return ret;
}

/* store_mam_prefs_get()'s callback and its argument. */
struct store_prefs_walk {
	int	(*fn)(void *, const char *, bool);
	void	*arg;
};

static int
store_prefs_row(sqlite3_stmt *q, void *arg)
{
	struct store_prefs_walk	*w = arg;
	const char		*jid;

	if ((jid = (const char *)sqlite3_column_text(q, 0)) == NULL)
		return -1;
	return w->fn(w->arg, jid, sqlite3_column_int(q, 1) != 0) != 0;
}

/*
 * owner's default (-1 if never set) and, if fn is not NULL, each per-JID
 * rule sorted by JID until fn returns non-zero; 0 or -1.
 */
int
store_mam_prefs_get(struct store *st, const char *owner, int *dflt,
    int (*fn)(void *, const char *jid, bool always), void *arg)
{
	struct store_prefs_walk	 w = { .fn = fn, .arg = arg };
	sqlite3_stmt		*q = st->q[STORE_Q_PREFS_GET];
	int			 rc, ret = -1;

	*dflt = -1;
	if (store_bind_keys(st, q, __func__, owner, NULL) == -1)
		goto done;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*dflt = sqlite3_column_int(q, 0);
	else if (rc != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	if (ret == 0 && fn != NULL)
		ret = store_each(st, STORE_Q_PREFS_RULES, __func__, owner,
		    store_prefs_row, &w);
	return ret;
}

/* Store one per-JID rule inside an open write; 0 or -1 (logged). */
static int
store_mam_rule_put(struct store *st, const char *owner, const char *jid,
    bool always)
{
	sqlite3_stmt	*q = st->q[STORE_Q_PREFS_RULE_PUT];
	int		 ret = -1;

	if (store_bind_keys(st, q, __func__, owner, jid) == -1)
		goto done;
	if (sqlite3_bind_int(q, 3, always) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	return ret;
}

/* Store owner's default inside an open write: -1 deletes it. */
static int
store_mam_dflt_put(struct store *st, const char *owner, int dflt)
{
	sqlite3_stmt	*q;
	int		 ret = -1;

	if (dflt < 0)
		return store_step_keys(st, STORE_Q_PREFS_DEL, __func__,
		    owner, NULL);
	q = st->q[STORE_Q_PREFS_PUT];
	if (store_bind_keys(st, q, __func__, owner, NULL) == -1)
		goto done;
	if (sqlite3_bind_int(q, 2, dflt) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	return ret;
}

/* Replace all of owner's preferences at once, as one write. */
int
store_mam_prefs_set(struct store *st, const char *owner, int dflt,
    const char *const *always, size_t nalways, const char *const *never,
    size_t nnever)
{
	size_t	i;
	int	ret = -1;

	if (store_wbegin(st, __func__) == -1)
		return -1;
	if (store_mam_dflt_put(st, owner, dflt) == -1 ||
	    store_step_keys(st, STORE_Q_PREFS_RULES_DEL, __func__, owner,
	    NULL) == -1)
		goto done;
	for (i = 0; i < nalways; i++)
		if (store_mam_rule_put(st, owner, always[i], true) == -1)
			goto done;
	for (i = 0; i < nnever; i++)
		if (store_mam_rule_put(st, owner, never[i], false) == -1)
			goto done;
	ret = 0;
 done:
	return store_wend(st, ret, __func__);
}

/* owner's rule for jid: 1 always, 0 never, -1 none or error. */
int
store_mam_prefs_rule(struct store *st, const char *owner, const char *jid)
{
	sqlite3_stmt	*q = st->q[STORE_Q_PREFS_RULE];
	int		 rc, ret = -1;

	if (store_bind_keys(st, q, __func__, owner, jid) == -1)
		goto done;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		ret = sqlite3_column_int(q, 0) != 0;
	else if (rc != SQLITE_DONE)
		store_warn(st, __func__);
 done:
	store_q_done(q);
	return ret;
}
