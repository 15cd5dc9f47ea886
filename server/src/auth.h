/*
 * auth.h: HA1 credential backends behind one asynchronous interface.
 * Credentials are HA1 = MD5(login:realm:password), owned by Debian's
 * account system. The XMPP localpart maps to the login by appending the
 * configured suffix ("jdoe" -> "jdoe@debian.org"). verify() never blocks
 * and always answers through the callback, later in the loop turn or after
 * a network round trip, never from inside auth_verify() itself.
 */
#ifndef XMPPD_AUTH_H
#define XMPPD_AUTH_H

#include <stdint.h>

struct ev;
struct auth;
struct config;

enum auth_result {
	AUTH_OK,		/* password matches an account that may log in */
	AUTH_FAIL,		/* wrong password, unknown or refused user */
	AUTH_TEMPFAIL,		/* backend unavailable: temporary-auth-failure */
};

typedef void (*auth_done_cb)(void *arg, uint64_t id, enum auth_result);

struct auth_backend {
	const char	*name;
	void		*(*open)(struct ev *, const struct config *,
			    const char **errstr);
	/* Start verification; must call done later, exactly once. */
	void		(*verify)(void *state, const char *login,
			    const char *pass, auth_done_cb, void *arg,
			    uint64_t id);
	/* Drop a pending verify for id (session went away). */
	void		(*cancel)(void *state, uint64_t id);
	/*
	 * Whether login is an account that may log in: 1, 0, or -1 if
	 * the backend cannot tell (RADIUS). NULL means -1.
	 */
	int		(*exists)(void *state, const char *login);
	/* Re-read credentials (SIGHUP); live sessions are untouched. */
	void		(*reload)(void *state);
	void		(*close)(void *state);
};

extern const struct auth_backend auth_ha1file;	/* auth_ha1file.c */
extern const struct auth_backend auth_radius;	/* auth_radius.c */

/* Open the backend the config names; NULL with *errstr on failure. */
struct auth	*auth_open(struct ev *, const struct config *,
		    const char **errstr);
/*
 * Verify localpart's password. pass is only read during the call; the
 * caller wipes it afterwards.
 */
void		 auth_verify(struct auth *, const char *localpart,
		    const char *pass, auth_done_cb, void *arg, uint64_t id);
/*
 * The same, but a failure is answered delay_ms late (0: at once); an
 * account under attack answers its guessers slowly (c2s.c).
 */
void		 auth_verify_slow(struct auth *, const char *localpart,
		    const char *pass, uint64_t delay_ms, auth_done_cb,
		    void *arg, uint64_t id);
void		 auth_cancel(struct auth *, uint64_t id);
/* localpart is an account of the backend: 1, 0, -1 (cannot tell). */
int		 auth_exists(struct auth *, const char *localpart);
void		 auth_reload(struct auth *);
void		 auth_close(struct auth *);

#endif
