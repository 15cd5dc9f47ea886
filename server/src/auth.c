/*
 * auth.c: pick the credential backend the config names and map XMPP
 * localparts to the logins Debian's account data uses ("jdoe" becomes
 * "jdoe@debian.org" with login-suffix "@debian.org"). HA1 itself is in
 * ha1.c, below the backends, so calls here go one way: auth -> backend.
 *
 * Not done here: rate limiting (c2s does it before calling us) and any
 * credential storage (the backends own that).
 */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "xmalloc.h"

struct auth {
	const struct auth_backend	*be;
	void				*state;
	char				*suffix;
};

/* Open the backend the config names; NULL with *errstr on failure. */
struct auth *
auth_open(struct ev *ev, const struct config *cfg, const char **errstr)
{
	const struct auth_backend	*be;
	struct auth			*a;
	void				*state;

	switch (cfg->auth) {
	case CONFIG_AUTH_FILE:
		be = &auth_ha1file;
		break;
	case CONFIG_AUTH_RADIUS:
		be = &auth_radius;
		break;
	default:
		fatalx("%s: bad auth backend %d", __func__, (int)cfg->auth);
	}
	if ((state = be->open(ev, cfg, errstr)) == NULL)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	a->be = be;
	a->state = state;
	a->suffix = xstrdup(cfg->login_suffix != NULL ? cfg->login_suffix : "");
	return a;
}

/* Verify localpart's password; the answer comes through done, later. */
void
auth_verify(struct auth *a, const char *localpart, const char *pass,
    auth_done_cb done, void *arg, uint64_t id)
{
	char	*login;

	xasprintf(&login, "%s%s", localpart, a->suffix);
	a->be->verify(a->state, login, pass, done, arg, id);
	free(login);
}

/* Ask the backend whether an account exists, without a password. */
int
auth_exists(struct auth *a, const char *localpart)
{
	char	*login;
	int	 rc;

	if (a->be->exists == NULL)
		return -1;
	xasprintf(&login, "%s%s", localpart, a->suffix);
	rc = a->be->exists(a->state, login);
	free(login);
	return rc;
}

/* Drop a pending verify: its callback will not run. */
void
auth_cancel(struct auth *a, uint64_t id)
{
	a->be->cancel(a->state, id);
}

/* Re-read credentials (SIGHUP). */
void
auth_reload(struct auth *a)
{
	a->be->reload(a->state);
}

/* Close the backend; pending callbacks are dropped. NULL is fine. */
void
auth_close(struct auth *a)
{
	if (a == NULL)
		return;
	a->be->close(a->state);
	free(a->suffix);
	free(a);
}
