/*
 * module.h: the XEP/RFC feature modules and their dispatch. Each module
 * is a const table (handlers, disco features, session hooks); modules.c
 * lists them all, so there is no dlopen and no order in config, and disco
 * features come from the same tables as the handlers (they cannot drift).
 * Modules talk to stanza, router, store and proto, never to conn or expat.
 */
#ifndef XMPPD_MODULE_H
#define XMPPD_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct session;
struct stanza;

enum mod_result {
	MOD_PASS,
	MOD_HANDLED,
};

enum {
	IQ_GET = 1,
	IQ_SET = 2,
};

/* Who an iq is addressed to. */
enum {
	MOD_TO_SERVER = 1,	/* to='domain' */
	MOD_TO_ACCOUNT = 2,	/* no to, or the sender's own bare JID */
	MOD_TO_OTHER = 4,	/* another local user's bare JID */
};

typedef enum mod_result (*mod_iq_fn)(struct server *, struct session *,
    struct stanza *);

struct mod_iq {
	int		 type;		/* IQ_GET | IQ_SET */
	const char	*name;		/* payload element */
	const char	*ns;
	int		 to;		/* MOD_TO_* mask */
	mod_iq_fn	 fn;
};

struct module {
	const char		*name;
	unsigned		 xep;		/* 0 for RFC features */
	const char *const	*features;	/* server disco#info vars */
	const char *const	*account_features; /* on user@domain */
	const struct mod_iq	*iq;		/* { 0 }-terminated */
	/* Start and stop (timers, caches); both may be NULL. */
	void			(*init)(struct server *);
	void			(*fini)(struct server *);
	/* The session sent its initial presence. */
	void			(*available)(struct server *, struct session *);
	/* The session is about to be unbound. */
	void			(*unbound)(struct server *, struct session *);
	/*
	 * A message a bound session sends to a local user, from and to
	 * stamped and valid, before it is routed (archive, sent carbons).
	 * MOD_HANDLED stops routing. No module returns it today: a resend
	 * of a message the server already has (same origin-id) is dropped
	 * before the hooks run (router.c's router_accept).
	 */
	enum mod_result		(*message_out)(struct server *,
				    struct session *from, struct stanza *);
	/*
	 * A message for a local user, before it is spooled and delivered;
	 * may add to it (XEP-0359 stanza-id).
	 */
	void			(*message_in)(struct server *,
				    const char *user, struct stanza *);
	/* After delivery to got[0..n) (received carbons). */
	void			(*message_delivered)(struct server *,
				    const char *user, struct stanza *,
				    struct session *const *got, size_t n);
};

/* Every module, NULL-terminated, in hook order (modules.c). */
extern const struct module *const modules_all[];

extern const struct module mod_disco;
extern const struct module mod_ping;
extern const struct module mod_version;
extern const struct module mod_roster;
extern const struct module mod_presence;
extern const struct module mod_offline;
extern const struct module mod_mam;
extern const struct module mod_carbons;

/* Dispatch an iq get/set; MOD_PASS if no handler (service-unavailable). */
enum mod_result	module_iq(struct server *, struct session *,
		    struct stanza *, int to);
/*
 * Take table as the server's modules (srv->modules) and run every init
 * hook (after the store is open); module_fini runs every fini hook.
 */
void		module_init(struct server *, const struct module *const *table);
void		module_fini(struct server *);
/* Run every module's available/unbound hook. */
void		module_available(struct server *, struct session *);
void		module_unbound(struct server *, struct session *);
enum mod_result	module_message_out(struct server *, struct session *,
		    struct stanza *);
void		module_message_in(struct server *, const char *user,
		    struct stanza *);
void		module_message_delivered(struct server *, const char *user,
		    struct stanza *, struct session *const *got, size_t n);
/*
 * Iterate every disco#info feature of every module (i from 0): the
 * server's, or with account true those of a user's bare JID.
 */
const char	*module_feature(const struct server *, unsigned i,
		    bool account);

/*
 * The delivery spool (mod_offline.c). A spooled message for user is
 * written with its stanza-id in the current batch; the returned seq tags
 * every delivery of it until a stream acknowledges it.
 */
int64_t		offline_spool(struct server *, const char *user,
		    struct stanza *, const char *resource);
/* user's spool holds max-offline messages: a new one is refused. */
bool		offline_full(struct server *, const char *user);
/* After the commit: deliver a spooled message now, or let it wait. */
void		offline_live(struct server *, struct session *,
		    struct stanza *, int64_t tag);
/* The stream of s acknowledged the spooled message tag. */
void		offline_acked(struct server *, struct session *, int64_t tag);
/* The stream of s has room again (an ack): go on catching up. */
void		offline_resume(struct server *, struct session *);
/* After the commit: let catching-up streams take their next rows. */
void		offline_flush(struct server *, bool committed);

#endif
