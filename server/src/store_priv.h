/*
 * store_priv.h: what the files behind store.h share. Calls go one way,
 * down this list:
 *   store_roster.c, store_archive.c, store_spool.c: the tables;
 *   store.c: open, migrations, the batch and its writes;
 *   store_health.c: disk space, the reserve, checkpoints, the file's
 *     identity, degraded mode;
 *   store_sql.c: one statement at a time (bind, step, reset, log);
 *   store_schema.c: the SQL text.
 * Nothing outside store*.c includes this.
 */
#ifndef XMPPD_STORE_PRIV_H
#define XMPPD_STORE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define STORE_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Every statement, prepared once at open (SQL text in store.c). */
enum store_q {
	STORE_Q_BEGIN,
	STORE_Q_COMMIT,
	STORE_Q_ROLLBACK,
	STORE_Q_SAVEPOINT,
	STORE_Q_RELEASE,
	STORE_Q_ROLLBACK_TO,
	STORE_Q_ROSTER_GET,
	STORE_Q_ROSTER_ITEM,
	STORE_Q_ROSTER_PUT,
	STORE_Q_ROSTER_GROUPS_DEL,
	STORE_Q_ROSTER_GROUP_ADD,
	STORE_Q_ROSTER_DEL,
	STORE_Q_ROSTER_COUNT,
	STORE_Q_USER_SEEN,
	STORE_Q_USER_EXISTS,
	STORE_Q_SUBREQ_ADD,
	STORE_Q_SUBREQ_DEL,
	STORE_Q_SUBREQ_HAS,
	STORE_Q_SUBREQ_EACH,
	STORE_Q_ARCHIVE_ADD,
	STORE_Q_ARCHIVE_GET,
	STORE_Q_ARCHIVE_OLDEST,
	STORE_Q_ARCHIVE_NEWEST,
	STORE_Q_ARCHIVE_WITH_OLDEST,
	STORE_Q_ARCHIVE_WITH_NEWEST,
	STORE_Q_ARCHIVE_USAGE,
	STORE_Q_ARCHIVE_TRIM,
	STORE_Q_ARCHIVE_EXPIRE,
	STORE_Q_PREFS_GET,
	STORE_Q_PREFS_RULES,
	STORE_Q_PREFS_RULE,
	STORE_Q_PREFS_PUT,
	STORE_Q_PREFS_DEL,
	STORE_Q_PREFS_RULES_DEL,
	STORE_Q_PREFS_RULE_PUT,
	STORE_Q_SPOOL_PUSH,
	STORE_Q_SPOOL_COUNT,
	STORE_Q_SPOOL_BYTES,
	STORE_Q_SPOOL_AFTER,
	STORE_Q_SPOOL_DEL,
	STORE_Q_ORIGIN_FIND,
	STORE_Q_ORIGIN_ADD,
	STORE_Q_ORIGIN_EXPIRE,
	STORE_Q_HEALTH_PUT,
	STORE_Q_COUNT
};

/* store_schema.c */
extern const char *const	store_migrations[];
extern const size_t		store_nmigrations;
extern const char *const	store_sql[STORE_Q_COUNT];

struct store {
	sqlite3		*db;
	sqlite3_stmt	*q[STORE_Q_COUNT];
	char		*path;
	bool		 lost;		/* SQLite rolled the batch back */
	bool		 failed;	/* a write of the batch failed */
	bool		 gone;		/* the file was moved or deleted */
	int		 last_err;	/* SQLite's code of the last failure */
	/* Degraded: no room, locked or failing; new writes are refused
	 * by the callers (store_degraded) until store_tick recovers. */
	bool		 degraded;
	bool		 no_room;	/* degraded for lack of space */
	char		 why[128];
	/* The reserve (store_health.c). */
	char		*ballast;	/* path, NULL if no reserve */
	uint64_t	 reserve;	/* bytes */
	bool		 ballast_held;
	int		 wal_frames;	/* after the last commit */
	bool		 ckpt_due;	/* checkpoint after the next commit */
};

/*
 * store_sql.c: one statement at a time. Each leaves its statement reset
 * and unbound, and on failure logs SQLite's reason and sets
 * st->last_err; none touches the batch or the health state.
 */
/* Log a failure of what with SQLite's reason; sets st->last_err. */
void	store_warn(struct store *, const char *what);
/* Reset q and clear its bindings, ready for its next use. */
void	store_q_done(sqlite3_stmt *);
/* Run an unbound statement that returns no rows; 0 or -1. */
int	store_run(struct store *, enum store_q, const char *what);
/* Bind user to ?1 and, if q has a ?2, key to it; 0 or -1. */
int	store_bind_keys(struct store *, sqlite3_stmt *, const char *what,
	    const char *user, const char *key);
/* One keyed statement with no rows, inside an open write; 0 or -1. */
int	store_step_keys(struct store *, enum store_q, const char *what,
	    const char *user, const char *key);
/* A keyed existence test: 1 a row matches, 0 none, -1 error. */
int	store_exists_keys(struct store *, enum store_q, const char *what,
	    const char *user, const char *key);
/*
 * Step a SELECT keyed by user, handing each row to row(): 0 go on, 1 stop,
 * -1 unreadable. 0 or -1.
 */
int	store_each(struct store *, enum store_q, const char *what,
	    const char *user, int (*row)(sqlite3_stmt *, void *), void *arg);
/* Whether SQLite's error code means no room, no lock or no disk. */
bool	store_resource_error(int code);

/* store.c: the writes of the batch. */
/* Start a write that must not be lost: failing to start fails the batch. */
int	store_wbegin(struct store *, const char *what);
/* Start a soft write: failing to start costs only this write. */
int	store_wbegin_soft(struct store *, const char *what);
/* End a write that must not be lost: a failure fails the batch. */
int	store_wend(struct store *, int ret, const char *what);
/* End a write whose loss costs nothing but a redelivery or a retry. */
int	store_wend_soft(struct store *, int ret, const char *what);
/* A soft DELETE of rows older than before_ms (bound as ?1); count or -1. */
int	store_delete_before(struct store *, enum store_q, int64_t before_ms,
	    const char *what);
/* One keyed statement as a write of its own that must not be lost. */
int	store_write_keys(struct store *, enum store_q, const char *what,
	    const char *user, const char *key);

/* store_health.c */
/*
 * Enter degraded mode (logged once) for the reason given. no_room: for
 * lack of space, so the reserve is given back, and recovery waits for
 * twice the reserve free.
 */
void	store_degrade(struct store *, const char *why, bool no_room);
/* The same for SQLite's last failure (st->last_err). */
void	store_degrade_err(struct store *);
/* Give the reserve file's space back to the file system. */
void	store_release_ballast(struct store *);
/* A WAL checkpoint if the WAL is large. */
void	store_checkpoint(struct store *);
/* Whether the file is still the database (sets gone if not). */
void	store_check_moved(struct store *);
/* At open: follow the WAL's size. */
void	store_health_open(struct store *);

#endif
