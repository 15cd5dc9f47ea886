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
struct dict;
struct ev_timer;
struct offline;
struct c2s_sm_ended;

struct server {
	struct ev		*ev;
	const struct config	*cfg;
	struct store		*store;
	struct auth		*auth;
	SSL_CTX			*tls;		/* swapped on SIGHUP */
	struct router		*router;
	struct ratelimit	*rl_addr;	/* failed logins per address */
	struct ratelimit	*rl_account;	/* failed logins per account */
	struct c2s		*clients;	/* every open c2s stream */
	struct dict		*sm_ids;	/* XEP-0198 id -> resumable c2s */
	struct dict		*sm_expired;	/* ended id -> uint32_t final h */
	struct c2s		*sm_acks;	/* owe an <a/> after commit */
	struct c2s		*sm_dirty;	/* handled stanzas this turn */
	struct c2s_sm_ended	*sm_ended_dirty; /* final h after commit */
	struct ev_timer		*mam_expiry;	/* XEP-0313 retention */
	struct offline		*offline;	/* mod_offline.c's state */
	uint64_t		 next_id;	/* session ids, never reused */
	unsigned		 nclients;	/* open c2s streams */
	int			 shutting_down;
};

#endif
