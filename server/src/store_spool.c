/*
 * store_spool.c: the tables behind message delivery. The spool holds every
 * message for an account until one of its streams acknowledged it (what
 * mod_offline.c pushes, live or at login); origin holds the XEP-0359
 * origin-ids of sent messages so a client's resend is recognised whether
 * or not anything is archived.
 *
 * A push and an origin-id belong to a message that was acknowledged to its
 * sender: they are writes that must not be lost (store_wend). Deleting a
 * delivered row and expiring old origin-ids are soft: if one fails, the
 * worst outcome is a redelivery with the same stanza-id.
 */
#include <limits.h>

#include "store.h"
#include "store_priv.h"

int64_t
store_spool_push(struct store *st, const char *user, const char *id,
    const char *resource, const char *xml, int64_t stamp_ms)
{
	sqlite3_stmt	*q = st->q[STORE_Q_SPOOL_PUSH];
	int64_t		 seq = -1;

	if (store_wbegin(st, __func__) == -1)
		return -1;
	if (store_bind_keys(st, q, __func__, user, id) == -1)
		goto done;
	if (sqlite3_bind_text(q, 3, resource, -1, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_bind_int64(q, 4, stamp_ms) != SQLITE_OK ||
	    sqlite3_bind_text(q, 5, xml, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	seq = sqlite3_last_insert_rowid(st->db);
 done:
	store_q_done(q);
	if (store_wend(st, seq == -1 ? -1 : 0, __func__) == -1)
		return -1;
	return seq;
}

/* Bytes of XML in user's spool (a counter, not a sum over rows); -1. */
int64_t
store_spool_bytes(struct store *st, const char *user)
{
	sqlite3_stmt	*q = st->q[STORE_Q_SPOOL_BYTES];
	int64_t		 ret = -1;
	int		 rc;

	if (store_bind_keys(st, q, __func__, user, NULL) == -1)
		goto done;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		ret = sqlite3_column_int64(q, 0);
	else if (rc == SQLITE_DONE)
		ret = 0;
	else
		store_warn(st, __func__);
 done:
	store_q_done(q);
	return ret;
}

int
store_spool_count(struct store *st, const char *user)
{
	sqlite3_stmt	*q = st->q[STORE_Q_SPOOL_COUNT];
	sqlite3_int64	 n;
	int		 ret = -1;

	if (store_bind_keys(st, q, __func__, user, NULL) == -1)
		goto done;
	if (sqlite3_step(q) != SQLITE_ROW) {
		store_warn(st, __func__);
		goto done;
	}
	n = sqlite3_column_int64(q, 0);
	ret = n > INT_MAX ? INT_MAX : (int)n;
 done:
	store_q_done(q);
	return ret;
}

int
store_spool_after(struct store *st, const char *user, int64_t after,
    unsigned limit, void (*fn)(void *, const struct store_spool_row *),
    void *arg)
{
	sqlite3_stmt		*q = st->q[STORE_Q_SPOOL_AFTER];
	struct store_spool_row	 r;
	int			 rc, n = 0, ret = -1;

	if (store_bind_keys(st, q, __func__, user, NULL) == -1)
		goto done;
	if (sqlite3_bind_int64(q, 2, after) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 3, limit) != SQLITE_OK) {
		store_warn(st, __func__);
		goto done;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		r.seq = sqlite3_column_int64(q, 0);
		r.id = (const char *)sqlite3_column_text(q, 1);
		r.resource = (const char *)sqlite3_column_text(q, 2);
		r.stamp_ms = sqlite3_column_int64(q, 3);
		r.xml = (const char *)sqlite3_column_text(q, 4);
		if (r.id == NULL || r.xml == NULL)
			break;		/* out of memory: errmsg says so */
		fn(arg, &r);
		n++;
	}
	if (rc != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = n;
 done:
	store_q_done(q);
	return ret;
}

int
store_spool_del(struct store *st, int64_t seq)
{
	sqlite3_stmt	*q = st->q[STORE_Q_SPOOL_DEL];
	int		 ret = -1;

	if (store_wbegin_soft(st, __func__) == -1)
		return -1;
	if (sqlite3_bind_int64(q, 1, seq) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = sqlite3_changes(st->db) > 0;
 done:
	store_q_done(q);
	if (store_wend_soft(st, ret == -1 ? -1 : 0, __func__) == -1)
		return -1;
	return ret;
}

int
store_origin_seen(struct store *st, const char *user, const char *peer,
    const char *origin_id, int64_t since_ms)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ORIGIN_FIND];
	int		 rc, ret = -1;

	if (store_bind_keys(st, q, __func__, user, peer) == -1)
		goto done;
	if (sqlite3_bind_text(q, 3, origin_id, -1, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_bind_int64(q, 4, since_ms) != SQLITE_OK ||
	    ((rc = sqlite3_step(q)) != SQLITE_ROW && rc != SQLITE_DONE)) {
		store_warn(st, __func__);
		goto done;
	}
	ret = rc == SQLITE_ROW;
 done:
	store_q_done(q);
	return ret;
}

int
store_origin_add(struct store *st, const char *user, const char *peer,
    const char *origin_id, int64_t stamp_ms)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ORIGIN_ADD];
	int		 ret = -1;

	if (store_wbegin(st, __func__) == -1)
		return -1;
	if (store_bind_keys(st, q, __func__, user, peer) == -1)
		goto done;
	if (sqlite3_bind_text(q, 3, origin_id, -1, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_bind_int64(q, 4, stamp_ms) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_DONE) {
		store_warn(st, __func__);
		goto done;
	}
	ret = 0;
 done:
	store_q_done(q);
	return store_wend(st, ret, __func__);
}

int
store_origin_expire(struct store *st, int64_t before_ms)
{
	return store_delete_before(st, STORE_Q_ORIGIN_EXPIRE, before_ms,
	    __func__);
}
