/*
 * config.h: the configuration file. One directive per line,
 * "keyword value...", '#' starts a comment, values may be double-quoted.
 * Unknown keywords and bad values are errors naming file:line.
 * docs/configuration.md documents every keyword.
 */
#ifndef XMPPD_CONFIG_H
#define XMPPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_RADIUS	8

struct config_listen {
	char	addr[64];	/* numeric IPv4 or IPv6 */
	int	port;		/* 0 = pick a free port (tests) */
	bool	direct_tls;	/* XEP-0368 */
};

enum config_auth {
	CONFIG_AUTH_FILE,
	CONFIG_AUTH_RADIUS,
};

struct config {
	char			*path;		/* file it came from */
	char			*domain;
	struct config_listen	 listen[CONFIG_MAX_LISTEN];
	size_t			 nlisten;
	char			*certificate;
	char			*key;
	bool			 selfsigned;	/* create cert/key if absent */
	char			*state_dir;
	char			*user;		/* drop root to this user */

	enum config_auth	 auth;
	char			*users_file;
	unsigned		 users_file_max_bad_percent;	/* reload */
	char			*realm;
	char			*login_suffix;
	unsigned		 auth_rate_address;	/* failures per window */
	unsigned		 auth_rate_account;	/* ... per account+address */
	unsigned		 auth_rate_window;	/* seconds */
	unsigned		 auth_slow_account;	/* account-wide: slow down */
	unsigned		 auth_slow_delay;	/* ms a failure waits */

	/* auth radius: servers are tried in order (failover). */
	struct config_radius {
		char	addr[64];	/* numeric IPv4 or IPv6 */
		int	port;		/* default 1812 */
	}			 radius[CONFIG_MAX_RADIUS];
	size_t			 nradius;
	char			*radius_secret_file;	/* not world-readable */
	unsigned		 radius_timeout;	/* ms per try, 2000 */
	unsigned		 radius_retries;	/* tries per server, 2 */

	size_t			 max_stanza_size;
	unsigned		 max_depth;
	unsigned		 max_attributes;	/* namespace decls count */
	/* One stream's output queue (bytes) before and after login. */
	size_t			 output_max_unauth;
	size_t			 output_max;
	/* Token buckets per stream, refilled per second; 0: no limit. */
	unsigned		 rate_bytes_unauth;
	unsigned		 rate_bytes;
	unsigned		 rate_stanzas_unauth;
	unsigned		 rate_stanzas;
	unsigned		 rate_burst;		/* s of rate a bucket holds */
	unsigned		 auth_timeout;		/* s, until bound */
	unsigned		 idle_timeout;		/* s without input */
	unsigned		 keepalive;		/* s without output */
	unsigned		 max_offline;		/* spooled per user */
	unsigned		 max_offline_mb;	/* MiB spooled per user */
	unsigned		 store_reserve;		/* MiB kept free */
	unsigned		 max_sessions_per_user;
	unsigned		 max_directed_presence;	/* per session */
	unsigned		 max_roster_items;	/* per user */

	/* XEP-0198 */
	unsigned		 sm_hibernate;		/* s; 0: no resumption */
	unsigned		 sm_queue_max;		/* unacked stanzas */
	unsigned		 sm_resume_memory;	/* ended sessions' h */
	/* XEP-0313 */
	enum config_mam {
		CONFIG_MAM_ALWAYS,
		CONFIG_MAM_ROSTER,
		CONFIG_MAM_NEVER,
	}			 mam_default;		/* archiving default */
	unsigned		 mam_retention_days;	/* 0: keep forever */
	unsigned		 mam_max_page;		/* results per page */
	unsigned		 mam_queries_per_turn;	/* per session */
	unsigned		 mam_quota_rows;	/* per user; 0: none */
	unsigned		 mam_quota_mb;		/* MiB per user; 0: none */

	char			*port_file;	/* write bound ports (tests) */
};

/* Fill in defaults (no listeners, no domain). */
void	config_defaults(struct config *);
/*
 * Parse path into cfg (which holds defaults). 0, or -1 with *err a
 * malloc'd "file:line: message" (or "file: message").
 */
int	config_load(const char *path, struct config *, char **err);
/*
 * The embedded `make run` default (docs/configuration.md), rooted at
 * builddir.
 */
void	config_devel(struct config *, const char *builddir,
	    const char *users_file);
/* Cross-field checks (listeners present, cert set, ...); 0 or -1. */
int	config_check(const struct config *, char **err);
void	config_free(struct config *);

#endif
