/*
 * store_sql.c: one prepared statement at a time, for every store file:
 * bind the keys, step, read the rows, make the statement ready for its
 * next use, log SQLite's reason for a failure. The bottom of the store:
 * it knows nothing of the batch (store.c) or of the file's health
 * (store_health.c), and calls neither, so both can call it. Whether a
 * failure fails the batch or degrades the store is decided above, from
 * st->last_err, which store_warn() sets.
 */
#include <sqlite3.h>

#include "log.h"
#include "store_priv.h"

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

/* Run one keyed statement that returns no rows; 0 or -1 (logged). */
int
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
int
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
