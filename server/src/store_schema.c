/*
 * store_schema.c: the SQL of the store, as data. store_migrations[] is
 * append-only: entry v takes the file from version v to v + 1 (never edit
 * one that has shipped). store_sql[] holds every statement, prepared once
 * at open (store.c) and named by enum store_q (store_priv.h).
 */
#include <stddef.h>

#include "store_priv.h"

/*
 * Schema scripts: store_migrations[v] takes PRAGMA user_version from v to
 * v + 1. Every pending one runs in a single transaction at open.
 */
const char *const store_migrations[] = {
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
	 * apart from the archive so it works with archiving off (the
	 * archive's origin index goes: nothing reads it). health: the
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
	") STRICT;"
	/* Resends are found in origin now; nothing reads this index, and
	 * every archived message paid for it. */
	"DROP INDEX archive_origin;",
	/*
	 * 4: archive queries that use an index for every filter, and what
	 * each owner's archive holds, for the quota. The old query picked
	 * the peer's column with a CASE, which no index can serve, so a
	 * 'with' query walked the owner's whole archive. Now a query with
	 * a peer searches (owner, with_bare, seq), one without searches
	 * (owner, seq); both indexes carry stamp_ms (and the peer index
	 * with_full) so the start/end and full-JID filters are read from
	 * the index, not from the rows. archive_usage counts each owner's
	 * rows and the bytes of their XML, kept by triggers in the same
	 * transaction as every insert and delete (retention and the quota
	 * included), so the quota check is one key lookup, not an
	 * aggregate over the archive. spool_usage does the same for the
	 * bytes waiting in each user's spool (max-offline-mb).
	 */
	"DROP INDEX archive_owner;"
	"DROP INDEX archive_with;"
	"CREATE INDEX archive_owner ON archive (owner, seq, stamp_ms);"
	"CREATE INDEX archive_with ON archive"
	"  (owner, with_bare, seq, stamp_ms, with_full);"
	"CREATE TABLE archive_usage ("
	"  owner		TEXT NOT NULL PRIMARY KEY,"
	"  nrows		INTEGER NOT NULL,"
	"  nbytes	INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"INSERT INTO archive_usage (owner, nrows, nbytes)"
	"  SELECT owner, count(*), sum(length(CAST(xml AS BLOB)))"
	"  FROM archive GROUP BY owner;"
	"CREATE TRIGGER archive_usage_add AFTER INSERT ON archive BEGIN"
	"  INSERT INTO archive_usage (owner, nrows, nbytes)"
	"  VALUES (NEW.owner, 1, length(CAST(NEW.xml AS BLOB)))"
	"  ON CONFLICT (owner) DO UPDATE SET nrows = nrows + 1,"
	"  nbytes = nbytes + excluded.nbytes;"
	"END;"
	"CREATE TRIGGER archive_usage_del AFTER DELETE ON archive BEGIN"
	"  UPDATE archive_usage SET nrows = nrows - 1,"
	"  nbytes = nbytes - length(CAST(OLD.xml AS BLOB))"
	"  WHERE owner = OLD.owner;"
	"END;"
	"CREATE TABLE spool_usage ("
	"  user		TEXT NOT NULL PRIMARY KEY,"
	"  nbytes	INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"INSERT INTO spool_usage (user, nbytes)"
	"  SELECT user, sum(length(CAST(xml AS BLOB))) FROM spool GROUP BY user;"
	"CREATE TRIGGER spool_usage_add AFTER INSERT ON spool BEGIN"
	"  INSERT INTO spool_usage (user, nbytes)"
	"  VALUES (NEW.user, length(CAST(NEW.xml AS BLOB)))"
	"  ON CONFLICT (user) DO UPDATE SET nbytes = nbytes + excluded.nbytes;"
	"END;"
	"CREATE TRIGGER spool_usage_del AFTER DELETE ON spool BEGIN"
	"  UPDATE spool_usage SET nbytes = nbytes - length(CAST(OLD.xml AS BLOB))"
	"  WHERE user = OLD.user;"
	"END;",
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
 * The archive queries, every filter bound: ?4/?5 the stamp_ms range,
 * ?6/?7 exclusive seq bounds, ?8 the LIMIT (-1: none). Each filter is a
 * plain comparison on an indexed column (no CASE, no "?2 IS NULL OR"
 * around the peer), so SQLite searches archive_owner, or archive_with
 * when there is a peer (?2 its bare JID, ?3 its full JID or NULL), and
 * reads the rows in seq order from the index; check_store.c asserts the
 * plan of every combination.
 */
#define STORE_ARCHIVE_RANGE						\
	" AND seq > ?6 AND seq < ?7 AND stamp_ms BETWEEN ?4 AND ?5"
#define STORE_ARCHIVE_QUERY						\
	STORE_ARCHIVE_COLS " INDEXED BY archive_owner"			\
	" WHERE owner = ?1" STORE_ARCHIVE_RANGE
#define STORE_ARCHIVE_QUERY_WITH					\
	STORE_ARCHIVE_COLS " INDEXED BY archive_with"			\
	" WHERE owner = ?1 AND with_bare = ?2"				\
	" AND (?3 IS NULL OR with_full = ?3)" STORE_ARCHIVE_RANGE

const char *const store_sql[STORE_Q_COUNT] = {
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
	[STORE_Q_ROSTER_COUNT] = "SELECT count(*) FROM roster WHERE user = ?1",

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
	[STORE_Q_ARCHIVE_WITH_OLDEST] = STORE_ARCHIVE_QUERY_WITH
	    " ORDER BY seq LIMIT ?8",
	[STORE_Q_ARCHIVE_WITH_NEWEST] = STORE_ARCHIVE_QUERY_WITH
	    " ORDER BY seq DESC LIMIT ?8",
	[STORE_Q_ARCHIVE_USAGE] = "SELECT nrows, nbytes FROM archive_usage"
	    " WHERE owner = ?1",
	/* The oldest ?2 rows of ?1's, found on archive_owner. */
	[STORE_Q_ARCHIVE_TRIM] = "DELETE FROM archive WHERE seq IN"
	    " (SELECT seq FROM archive INDEXED BY archive_owner"
	    " WHERE owner = ?1 ORDER BY seq LIMIT ?2)",
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
	[STORE_Q_SPOOL_BYTES] = "SELECT nbytes FROM spool_usage"
	    " WHERE user = ?1",
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

const size_t store_nmigrations =
    sizeof(store_migrations) / sizeof(store_migrations[0]);
