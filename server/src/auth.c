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
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

/*
 * A check whose failure is answered late (auth_verify_slow): the
 * backend answers into it, a failure waits on its timer.
 */
struct auth_wait {
	struct auth		*a;
	uint64_t		 id;
	uint64_t		 delay_ms;
	auth_done_cb		 done;
	void			*arg;
	struct ev_timer		*timer;		/* set once a failure waits */
	struct auth_wait	*next;
};

struct auth {
	const struct auth_backend	*be;
	void				*state;
	char				*suffix;
	struct ev			*ev;
	struct auth_wait		*waits;
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
	a->ev = ev;
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

/* Take w off the list and free it. */
static void
auth_wait_free(struct auth_wait *w)
{
	struct auth_wait	**pp;

	for (pp = &w->a->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	ev_timer_free(w->timer);
	free(w);
}

static void
auth_wait_fire(void *arg)
{
	struct auth_wait	*w = arg;
	auth_done_cb		 done = w->done;
	void			*darg = w->arg;
	uint64_t		 id = w->id;

	auth_wait_free(w);
	done(darg, id, AUTH_FAIL);
}

static void
auth_wait_done(void *arg, uint64_t id, enum auth_result res)
{
	struct auth_wait	*w = arg;
	auth_done_cb		 done = w->done;
	void			*darg = w->arg;

	if (res == AUTH_FAIL) {
		w->timer = ev_timer_new(w->a->ev, auth_wait_fire, w);
		ev_timer_set(w->timer, w->delay_ms);
		return;
	}
	auth_wait_free(w);
	done(darg, id, res);
}

/*
 * auth_verify(), but a failure is answered delay_ms late. A guesser
 * waits; a right password is answered as fast as ever.
 */
void
auth_verify_slow(struct auth *a, const char *localpart, const char *pass,
    uint64_t delay_ms, auth_done_cb done, void *arg, uint64_t id)
{
	struct auth_wait	*w;

	if (delay_ms == 0) {
		auth_verify(a, localpart, pass, done, arg, id);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->a = a;
	w->id = id;
	w->delay_ms = delay_ms;
	w->done = done;
	w->arg = arg;
	w->next = a->waits;
	a->waits = w;
	auth_verify(a, localpart, pass, auth_wait_done, w, id);
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
	struct auth_wait	*w;

	for (w = a->waits; w != NULL; w = w->next)
		if (w->id == id)
			break;
	/* A failure waiting on its timer is no longer the backend's. */
	if (w == NULL || w->timer == NULL)
		a->be->cancel(a->state, id);
	if (w != NULL)
		auth_wait_free(w);
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
	while (a->waits != NULL)
		auth_cancel(a, a->waits->id);
	a->be->close(a->state);
	free(a->suffix);
	free(a);
}
