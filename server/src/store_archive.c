/*
 * store_archive.c: the message archive (XEP-0313) and its preferences,
 * behind store.h. seq orders a user's rows; id is the public stanza-id.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "xmalloc.h"

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
 * Bind aq's peer: ?2 the bare JID (with up to its '/'), ?3 the full JID
 * when the query names a resource, else NULL. The copy of the bare JID
 * is handed to SQLite, which frees it.
 */
static int
store_archive_bind_with(sqlite3_stmt *q, const struct store_archive_query *aq)
{
	size_t	len = strcspn(aq->with, "/");

	if (sqlite3_bind_text(q, 2, xstrndup(aq->with, len), -1, free) !=
	    SQLITE_OK)
		return -1;
	if (aq->with_bare || aq->with[len] == '\0')
		return sqlite3_bind_null(q, 3) == SQLITE_OK ? 0 : -1;
	return sqlite3_bind_text(q, 3, aq->with, -1, SQLITE_STATIC) ==
	    SQLITE_OK ? 0 : -1;
}

/* The statement that serves aq: with or without a peer, which end. */
static enum store_q
store_archive_pick(const struct store_archive_query *aq)
{
	if (aq->with != NULL)
		return aq->newest_first ? STORE_Q_ARCHIVE_WITH_NEWEST :
		    STORE_Q_ARCHIVE_WITH_OLDEST;
	return aq->newest_first ? STORE_Q_ARCHIVE_NEWEST :
	    STORE_Q_ARCHIVE_OLDEST;
}

/* Bind every filter of aq to q (either statement); 0 or -1. */
static int
store_archive_bind(sqlite3_stmt *q, const struct store_archive_query *aq)
{
	if (sqlite3_bind_text(q, 1, aq->owner, -1, SQLITE_STATIC) !=
	    SQLITE_OK ||
	    (aq->with != NULL && store_archive_bind_with(q, aq) == -1) ||
	    sqlite3_bind_int64(q, 4, aq->start) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 5, aq->end) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 6, aq->after_seq) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 7, aq->before_seq != 0 ?
	    aq->before_seq : INT64_MAX) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 8, aq->limit != 0 ?
	    (sqlite3_int64)aq->limit : -1) != SQLITE_OK)
		return -1;
	return 0;
}

/*
 * The rows of q->owner's archive that match q, at most q->limit of them
 * (0: no limit), oldest or newest first; the count, or -1.
 */
int
store_archive_query(struct store *st, const struct store_archive_query *aq,
    store_archive_fn fn, void *arg)
{
	sqlite3_stmt	*q = st->q[store_archive_pick(aq)];
	int		 ret = -1;

	if (store_archive_bind(q, aq) == -1) {
		store_warn(st, __func__);
		goto done;
	}
	ret = store_archive_rows(st, q, __func__, fn, arg);
 done:
	store_q_done(q);
	return ret;
}

/*
 * SQLite's plan for the statement store_archive_query() would run for aq,
 * bound the same way: the detail of each step, joined by "; ", into buf
 * (truncated to len). For the tests, which hold every combination of
 * filters to an index search. 0 or -1.
 */
int
store_archive_plan(struct store *st, const struct store_archive_query *aq,
    char *buf, size_t len)
{
	sqlite3_stmt	*q = NULL;
	char		*sql;
	const char	*d;
	size_t		 used = 0;
	int		 rc, ret = -1;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	sql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s",
	    store_sql[store_archive_pick(aq)]);
	if (sql == NULL || sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) !=
	    SQLITE_OK || store_archive_bind(q, aq) == -1)
		goto done;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((d = (const char *)sqlite3_column_text(q, 3)) == NULL)
			goto done;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    used > 0 ? "; " : "", d);
		if (used >= len)
			used = len - 1;
	}
	ret = rc == SQLITE_DONE ? 0 : -1;
 done:
	if (ret == -1)
		store_warn(st, __func__);
	sqlite3_finalize(q);
	sqlite3_free(sql);
	return ret;
}

/* owner's archive: rows and bytes of XML (0 and 0 if none); 0 or -1. */
int
store_archive_usage(struct store *st, const char *owner, int64_t *rows,
    int64_t *bytes)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ARCHIVE_USAGE];
	int		 rc, ret = -1;

	*rows = *bytes = 0;
	if (store_bind_keys(st, q, __func__, owner, NULL) == -1)
		goto done;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		*rows = sqlite3_column_int64(q, 0);
		*bytes = sqlite3_column_int64(q, 1);
	} else if (rc != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	return ret;
}

/* Delete owner's n oldest rows inside an open write; 0 or -1. */
static int
store_archive_drop_oldest(struct store *st, const char *owner, int64_t n)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ARCHIVE_TRIM];
	int		 ret = -1;

	if (sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 2, n) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE)
		store_warn(st, __func__);
	else
		ret = 0;
	store_q_done(q);
	return ret;
}

/*
 * How many of the oldest rows to drop to come back under the quota:
 * the rows over max_rows, or enough rows of the archive's mean size to
 * cover the bytes over max_bytes, whichever is more (at least one).
 */
static int64_t
store_archive_excess(int64_t rows, int64_t bytes, int64_t max_rows,
    int64_t max_bytes)
{
	int64_t	n = 0, over;

	if (max_rows > 0 && rows > max_rows)
		n = rows - max_rows;
	if (max_bytes > 0 && bytes > max_bytes && rows > 0) {
		over = bytes - max_bytes;
		/* ceil(over / mean), mean = bytes / rows, without overflow */
		over = (int64_t)(((double)over * (double)rows) /
		    (double)bytes) + 1;
		if (over > n)
			n = over;
	}
	return n;
}

#define STORE_TRIM_ROUNDS	8	/* per call; the next add goes on */

/*
 * Quota: while owner's archive holds more than max_rows rows or
 * max_bytes bytes of XML (0: no limit), drop its oldest rows, as one soft
 * write (losing it costs only a later trim). The count dropped, or -1.
 */
int
store_archive_trim(struct store *st, const char *owner, int64_t max_rows,
    int64_t max_bytes)
{
	int64_t	rows, bytes, n, dropped = 0;
	int	i, ret = -1;

	if (store_archive_usage(st, owner, &rows, &bytes) == -1)
		return -1;
	if (store_archive_excess(rows, bytes, max_rows, max_bytes) == 0)
		return 0;
	if (store_wbegin_soft(st, __func__) == -1)
		return -1;
	for (i = 0; i < STORE_TRIM_ROUNDS; i++) {
		n = store_archive_excess(rows, bytes, max_rows, max_bytes);
		if (n == 0)
			break;
		if (store_archive_drop_oldest(st, owner, n) == -1 ||
		    store_archive_usage(st, owner, &rows, &bytes) == -1)
			goto done;
		dropped += n;
	}
	ret = dropped > INT_MAX ? INT_MAX : (int)dropped;
 done:
	return store_wend_soft(st, ret, __func__);
}

/* Delete every archived message stamped before before_ms; count or -1. */
int
store_archive_expire(struct store *st, int64_t before_ms)
{
	return store_delete_before(st, STORE_Q_ARCHIVE_EXPIRE, before_ms,
	    __func__);
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
