/*
 * router.h: bound sessions by JID, and local delivery of stanzas by the
 * rules of RFC 6121 §8.5 (bare vs full JID, priorities, offline storage,
 * errors that do not leak presence). A session is the router's plain view
 * of a bound resource; c2s owns the stream behind it and is reached only
 * through session_ops, so the router never calls into c2s directly.
 */
#ifndef XMPPD_ROUTER_H
#define XMPPD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct stanza;
struct dict;
struct router;

struct session_ops {
	/*
	 * Send st to the client; borrows st (it serializes or refs it).
	 * tag: the spool row of a message (0: none), handed back through
	 * offline_acked() once the client acknowledged it.
	 */
	void	(*deliver)(void *arg, struct stanza *st, int64_t tag);
	/* Replace this session: stream error cond, close, unbind. */
	void	(*kick)(void *arg, const char *cond);
	/* Spooled messages the stream may take now (flow control). */
	size_t	(*room)(void *arg);
	/* The stream acknowledges what it got (XEP-0198 is on). */
	bool	(*acks)(void *arg);
};

struct session {
	uint64_t		 id;
	char			*user;		/* localpart */
	char			*bare;		/* user@domain */
	char			*full;		/* user@domain/resource */
	const char		*resource;	/* inside full */
	int			 priority;
	bool			 available;	/* initial presence sent */
	bool			 interested;	/* roster requested: pushes */
	bool			 carbons;	/* XEP-0280 enabled */
	uint64_t		 mam_turn;	/* loop turn of mam_queries */
	unsigned		 mam_queries;	/* archive queries that turn */
	struct stanza		*presence;	/* last available presence */
	struct dict		*directed;	/* JIDs given directed presence */
	const struct session_ops *ops;
	void			*arg;
	struct session		*next;		/* same bare JID */

	/* Delivery from the spool (mod_offline.c's only). */
	bool			 draining;	/* catching up from the spool */
	bool			 drain_listed;	/* on the drain list */
	int64_t			 spool_pos;	/* rows up to here offered */
	struct session		*drain_next;

	/* Deferred work may still name an unbound session (router.c). */
	struct router		*router;
	unsigned		 holds;
	bool			 dead;		/* unbound, freed at holds 0 */
};

/*
 * What the router must tell the layers above it about a message for a
 * local user. dispatch.c hands them in (the module hooks and the delivery
 * spool); each may be NULL, and the router then delivers directly.
 */
struct router_hooks {
	/* Before it is spooled and delivered (adds the stanza-id). */
	void	(*message_in)(struct server *, const char *user,
		    struct stanza *);
	/* Write it to user's spool in this batch: its seq, -1 on error. */
	int64_t	(*spool)(struct server *, const char *user, struct stanza *,
		    const char *resource);
	/* After the commit: hand a spooled message to s, now or later. */
	void	(*live)(struct server *, struct session *, struct stanza *,
		    int64_t tag);
	/* After it was routed to got[0..n) (received carbons). */
	void	(*delivered)(struct server *, const char *user,
		    struct stanza *, struct session *const *got, size_t n);
};

struct router	*router_new(struct server *);
void		 router_set_hooks(struct router *,
		    const struct router_hooks *);
void		 router_free(struct router *);

/*
 * Bind user/resource. An existing session with the same full JID is
 * kicked with <conflict/> first (RFC 6120 §7.7.2.2).
 */
struct session	*router_bind(struct router *, const char *user,
		    const char *resource, const struct session_ops *,
		    void *arg, uint64_t id);
/*
 * Forget a session and free it (presence is the caller's business). While
 * deferred work holds it, only the struct stays, marked dead.
 */
void		 router_unbind(struct router *, struct session *);
/* XEP-0198 resume: the session's stream is now arg (same ops). */
void		 router_rebind(struct session *, void *arg);
/* Keep an unbound session's struct until the matching release. */
void		 router_hold(struct session *);
void		 router_release(struct session *);
/* All bound sessions of a bare JID (a list through ->next), or NULL. */
struct session	*router_sessions(const struct router *, const char *bare);
struct session	*router_session(const struct router *, const char *full);
size_t		 router_nsessions(const struct router *, const char *bare);
size_t		 router_total(const struct router *);

/*
 * Send st to one session. Nothing is written before the loop turn's store
 * commit: router_flush() delivers after it, so no stanza that a failed
 * commit took back has reached anyone.
 */
void		 router_send(struct session *, struct stanza *);
/* The same for a spooled message (tag: its spool row). */
void		 router_send_spooled(struct session *, struct stanza *,
		    int64_t tag);
/*
 * After the commit: deliver what this turn routed. If the commit failed,
 * its messages are dropped (their senders resend: their streams did not
 * get an ack); presence and iqs go out.
 */
void		 router_flush(struct router *, bool committed);
/* Deliver a stanza (stamped by the server) to its local 'to'. */
void		 router_deliver(struct router *, struct stanza *);
/*
 * local is an account: it logged in once, or the auth backend lists it.
 * 1, 0, or -1 on error.
 */
int		 router_account_known(struct router *, const char *local);
/* Send an error reply for st back to its sender (if st allows one). */
void		 router_bounce(struct router *, const struct stanza *,
		    const char *cond);
/* router_bounce() with a <text/> saying why (RFC 6120 §8.3.2). */
void		 router_bounce_text(struct router *, const struct stanza *,
		    const char *cond, const char *text);
/*
 * A message nobody can take and that is not spooled: the error RFC 6121
 * §8.5.2.2 asks for, or nothing (headline, error, a bare chat state).
 * known is router_account_known()'s answer for its recipient.
 */
void		 router_undeliverable(struct router *, struct stanza *,
		    int known);
/* The message's type, "normal" if absent (RFC 6121 §5.2.2). */
const char	*router_msgtype(const struct stanza *);
/*
 * The message goes to the spool: chat or normal, not XEP-0334 no-store,
 * not a XEP-0085 chat state alone.
 */
bool		 router_spoolable(const struct stanza *);

/*
 * RFC 6121 §8.5.2.1: which sessions of one bare JID get a message of
 * msgtype ("normal", "chat", "headline", ...). Pure; fills out[] and
 * returns the count (0: nobody eligible, store offline or drop).
 */
size_t		 router_pick(struct session *head, const char *msgtype,
		    struct session **out, size_t max);

#endif
