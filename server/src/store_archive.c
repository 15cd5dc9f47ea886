/*
 * store_archive.c: the message archive (XEP-0313) and its preferences,
 * behind store.h. seq orders a user's rows; id is the public stanza-id.
 */
#include <limits.h>
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
