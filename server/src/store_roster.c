/*
 * store_roster.c: rosters (RFC 6121 §2), their groups, pending
 * subscription requests and known accounts, behind store.h. A roster item
 * and its groups are one write: a failure leaves neither.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "xmalloc.h"

/* enum store_sub as stored in roster.sub. */
static const char *const store_sub_names[] = {
	[STORE_SUB_NONE] = "none",
	[STORE_SUB_TO] = "to",
	[STORE_SUB_FROM] = "from",
	[STORE_SUB_BOTH] = "both",
};

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

/* One roster item into *out (cleared first): 1 found, 0 absent, -1. */
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
		ret = 0;
		goto done;
	}
	*out = items[0];
	memset(&items[0], 0, sizeof(items[0]));
	ret = 1;
 done:
	store_q_done(q);
	store_roster_free(items, n);
	return ret;
}

int
store_roster_count(struct store *st, const char *user)
{
	sqlite3_stmt	*q = st->q[STORE_Q_ROSTER_COUNT];
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
