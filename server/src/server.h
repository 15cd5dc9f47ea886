/*
 * server.h: the handles one xmppd process runs on, passed explicitly as
 * `struct server *` to every layer above conn (no global server state).
 */
#ifndef XMPPD_SERVER_H
#define XMPPD_SERVER_H

#include <stdint.h>
#include <openssl/ssl.h>

struct ev;
struct config;
struct store;
struct auth;
struct router;
struct ratelimit;
struct c2s;
struct c2s_sm;
struct mam;
struct offline;
struct module;

struct server {
	struct ev		*ev;
	const struct config	*cfg;
	struct store		*store;
	struct auth		*auth;
	SSL_CTX			*tls;		/* swapped on SIGHUP */
	struct router		*router;
	const struct module *const *modules; /* modules.c's table */
	struct ratelimit	*rl_addr;	/* failed logins per address */
	struct ratelimit	*rl_account;	/* per account: slows down */
	struct ratelimit	*rl_pair;	/* per account and address */
	struct c2s		*clients;	/* every open c2s stream */
	/* Each owner's state, opaque here, made by its own init. */
	struct c2s_sm		*sm;		/* c2s_sm.c: XEP-0198 */
	struct mam		*mam;		/* mod_mam.c */
	struct offline		*offline;	/* mod_offline.c */
	uint64_t		 next_id;	/* session ids, never reused */
	unsigned		 nclients;	/* open c2s streams */
	int			 shutting_down;
};

#endif
