/*
 * module.h: the XEP/RFC feature modules and their dispatch. Each module
 * is a const table (handlers, disco features, session hooks); module.c
 * lists them all, so there is no dlopen and no order in config, and disco
 * features come from the same tables as the handlers (they cannot drift).
 * Modules talk to stanza, router, store and proto, never to conn or expat.
 */
#ifndef XMPPD_MODULE_H
#define XMPPD_MODULE_H

#include <stdbool.h>

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
	const char *const	*features;	/* disco#info vars */
	const struct mod_iq	*iq;		/* { 0 }-terminated */
	/* The session sent its initial presence. */
	void			(*available)(struct server *, struct session *);
	/* The session is about to be unbound. */
	void			(*unbound)(struct server *, struct session *);
};

extern const struct module mod_disco;
extern const struct module mod_ping;
extern const struct module mod_version;
extern const struct module mod_roster;
extern const struct module mod_presence;
extern const struct module mod_offline;

/* Dispatch an iq get/set; MOD_PASS if no handler (service-unavailable). */
enum mod_result	module_iq(struct server *, struct session *,
		    struct stanza *, int to);
/* Run every module's available/unbound hook. */
void		module_available(struct server *, struct session *);
void		module_unbound(struct server *, struct session *);
/* Iterate every disco#info feature of every module (i from 0). */
const char	*module_feature(unsigned i);

/* Cross-module entry points. */
void		roster_push(struct server *, const char *user,
		    const char *contact);
int		offline_store(struct server *, const char *user,
		    struct stanza *);

#endif
