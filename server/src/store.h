/*
 * store.h: the SQLite file (WAL) under the state directory: rosters,
 * pending subscription requests, the delivery spool, the archive, with a
 * schema version and migrations. Statements are prepared at open and
 * every value is bound. Writes join one transaction per loop turn,
 * committed by store_commit() (one fsync for many stanzas).
 *
 * Return values: 0 success, -1 error, unless a function says otherwise:
 * a test returns 1 found (or true), 0 absent, -1 error; a function that
 * counts or adds a row returns the count or the row's seq, -1 on error.
 */
#ifndef XMPPD_STORE_H
#define XMPPD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* RFC 6121 subscription state, as stored ("none", "to", "from", "both"). */
enum store_sub {
	STORE_SUB_NONE = 0,
	STORE_SUB_TO = 1,
	STORE_SUB_FROM = 2,
	STORE_SUB_BOTH = 3,
};

struct store_roster_item {
	char		*jid;		/* contact bare JID */
	char		*name;		/* NULL if unset */
	enum store_sub	 sub;
	bool		 ask_out;	/* we sent subscribe, no answer yet */
	bool		 pending_in;	/* they asked, we have not answered */
	bool		 preapproved;	/* subscribed sent before request */
	char		**groups;
	size_t		 ngroups;
};

/* Open or create; NULL with *errstr (path and SQLite's reason). */
struct store	*store_open(const char *path, const char **errstr);
/*
 * Commit the current write transaction, if any. 0, or -1 if nothing
 * written since the last commit may be acknowledged (a write that had to
 * stay failed, the COMMIT failed, or the file is gone): it is all rolled
 * back.
 */
int		 store_commit(struct store *);
/* Commit, checkpoint the WAL and close. */
void		 store_close(struct store *);

/*
 * Health (store_health.c). Degraded: a write failed for lack of room,
 * lock or disk, or free space fell under half the reserve; callers refuse
 * new data (a resource-constraint error) until store_tick() sees writes
 * work again. The reserve is a file of that many bytes next to the
 * database, given back to the file system when degraded so that a
 * checkpoint and the deletion of delivered messages always fit.
 */
bool		 store_degraded(const struct store *);
/* Why it is degraded ("" if it is not). */
const char	*store_degraded_why(const struct store *);
/* Keep a reserve of bytes (0: none) in the file reserve_path. */
void		 store_set_reserve(struct store *, const char *reserve_path,
		    uint64_t bytes);
enum store_health {
	STORE_OK,
	STORE_DEGRADED,
	STORE_GONE,		/* the file was moved, deleted or replaced */
};
/*
 * Once a second, off the commit path: free space and the reserve, the
 * recovery test write, a WAL checkpoint, the file's identity.
 */
enum store_health store_tick(struct store *);
/*
 * The marker next to a database (path.marker) says one was created
 * there. 0 if starting is safe; -1 with *errstr if the marker exists but
 * the database is missing or empty (lost, not new) and init is false.
 */
int		 store_marker_check(const char *path, bool init,
		    const char **errstr);
/* Write the marker if missing; 0 or -1 (logged). */
int		 store_marker_write(const char *path);

/* All items of user's roster; *items malloc'd (store_roster_free). */
int		 store_roster_get(struct store *, const char *user,
		    struct store_roster_item **items, size_t *n);
/* One item: 1 found, 0 absent, -1 error. */
int		 store_roster_item(struct store *, const char *user,
		    const char *jid, struct store_roster_item *out);
/* Insert or replace one item (groups included). */
/* How many items user's roster has, or -1. */
int		 store_roster_count(struct store *, const char *user);
int		 store_roster_put(struct store *, const char *user,
		    const struct store_roster_item *);
int		 store_roster_del(struct store *, const char *user,
		    const char *jid);
void		 store_roster_item_clear(struct store_roster_item *);
void		 store_roster_free(struct store_roster_item *, size_t n);

/*
 * The delivery spool (store_spool.c): every message for an account until
 * one of its streams acknowledged it, in arrival order (seq, never
 * reused). resource: the resource it was addressed to, or NULL.
 */
struct store_spool_row {
	int64_t		 seq;
	const char	*id;		/* its XEP-0359 stanza-id */
	const char	*resource;
	int64_t		 stamp_ms;
	const char	*xml;
};
/* Add one; its seq, or -1. A message that must not be lost. */
int64_t		 store_spool_push(struct store *, const char *user,
		    const char *id, const char *resource, const char *xml,
		    int64_t stamp_ms);
/* Rows queued for user, or -1. */
int		 store_spool_count(struct store *, const char *user);
/* Bytes of XML in user's spool (one key lookup), or -1. */
int64_t		 store_spool_bytes(struct store *, const char *user);
/*
 * Call fn for at most limit of user's rows with seq > after, oldest
 * first; fn must not write to the spool (the SELECT is running). The
 * number of rows, or -1.
 */
int		 store_spool_after(struct store *, const char *user,
		    int64_t after, unsigned limit,
		    void (*fn)(void *, const struct store_spool_row *),
		    void *arg);
/* Delete one delivered row (soft): 1 deleted, 0 already gone, -1. */
int		 store_spool_del(struct store *, int64_t seq);

/*
 * XEP-0359 origin-ids of the messages user sent to peer (a bare JID), so
 * a resend of one is recognised with or without an archive.
 */
/* 1 seen at or after since_ms, 0 not, -1 error. */
int		 store_origin_seen(struct store *, const char *user,
		    const char *peer, const char *origin_id, int64_t since_ms);
int		 store_origin_add(struct store *, const char *user,
		    const char *peer, const char *origin_id, int64_t stamp_ms);
/* Forget those older than before_ms (soft); count or -1. */
int		 store_origin_expire(struct store *, int64_t before_ms);

/*
 * Known accounts: a localpart that has logged in at least once. Offline
 * messages are kept only for known accounts; others get
 * service-unavailable (RFC 6121 §8.5.2.2.1), whatever the backend.
 */
int		 store_user_seen(struct store *, const char *user,
		    int64_t stamp_ms);
/* 1 known, 0 unknown, -1 error. */
int		 store_user_exists(struct store *, const char *user);

/*
 * Inbound subscription requests not yet answered (RFC 6121 §3.1.3),
 * redelivered at each login until approved or denied.
 */
int		 store_subreq_add(struct store *, const char *user,
		    const char *contact);
int		 store_subreq_del(struct store *, const char *user,
		    const char *contact);
/* 1 pending, 0 not, -1 error. */
int		 store_subreq_has(struct store *, const char *user,
		    const char *contact);
int		 store_subreq_each(struct store *, const char *user,
		    int (*fn)(void *, const char *contact), void *arg);

/*
 * The message archive (XEP-0313), one per account. seq orders rows (the
 * SQLite rowid); id is the public MAM/XEP-0359 stanza-id.
 */
struct store_archive_row {
	int64_t		 seq;
	const char	*id;
	int64_t		 stamp_ms;
	const char	*with_full;	/* the peer, as a full or bare JID */
	bool		 outgoing;
	const char	*xml;		/* the message as archived */
};

struct store_archive_query {
	const char	*owner;		/* localpart */
	const char	*with;		/* NULL: anyone */
	bool		 with_bare;	/* match with on the bare JID */
	int64_t		 start, end;	/* stamp_ms range, inclusive */
	int64_t		 after_seq;	/* only seq > after_seq (0: none) */
	int64_t		 before_seq;	/* only seq < before_seq (0: none) */
	unsigned	 limit;
	bool		 newest_first;
};

/* The row callback; the row is valid during the call only. */
typedef void	(*store_archive_fn)(void *, const struct store_archive_row *);

int		 store_archive_add(struct store *, const char *owner,
		    const char *id, int64_t stamp_ms, const char *with_bare,
		    const char *with_full, const char *origin_id,
		    bool outgoing, const char *xml);
/* One row by id: 1 found (fn called), 0 absent, -1 error. */
int		 store_archive_get(struct store *, const char *owner,
		    const char *id, store_archive_fn, void *arg);
/* Rows matching q in seq order (or reversed); count or -1. */
int		 store_archive_query(struct store *,
		    const struct store_archive_query *, store_archive_fn,
		    void *arg);
/*
 * SQLite's query plan for what store_archive_query() runs for q, one
 * step's detail after another joined by "; ", into buf; 0 or -1.
 */
int		 store_archive_plan(struct store *,
		    const struct store_archive_query *, char *buf,
		    size_t len);
/* Retention: delete rows stamped before before_ms; count or -1. */
int		 store_archive_expire(struct store *, int64_t before_ms);
/* owner's archive: its rows and bytes of XML (0, 0 if none); 0 or -1. */
int		 store_archive_usage(struct store *, const char *owner,
		    int64_t *rows, int64_t *bytes);
/*
 * Quota: drop owner's oldest rows until it holds at most max_rows rows
 * and max_bytes bytes of XML (0: no limit on that one); a soft write.
 * The count dropped, or -1.
 */
int		 store_archive_trim(struct store *, const char *owner,
		    int64_t max_rows, int64_t max_bytes);

/* XEP-0313 §6 preferences: default (-1 if unset) and per-JID rules. */
int		 store_mam_prefs_get(struct store *, const char *owner,
		    int *dflt, int (*fn)(void *, const char *jid,
		    bool always), void *arg);
/* Replace owner's preferences (default and both lists). */
int		 store_mam_prefs_set(struct store *, const char *owner,
		    int dflt, const char *const *always, size_t nalways,
		    const char *const *never, size_t nnever);
/* The rule for one JID: 1 always, 0 never, -1 none (or error). */
int		 store_mam_prefs_rule(struct store *, const char *owner,
		    const char *jid);

#endif
