/*
 * auth.c: pick the credential backend the config names and map XMPP
 * localparts to the logins Debian's account data uses ("jdoe" becomes
 * "jdoe@debian.org" with login-suffix "@debian.org"). Also computes HA1,
 * which both backends and xmppctl need.
 *
 * Not done here: rate limiting (c2s does it before calling us) and any
 * credential storage (the backends own that).
 */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

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

/*
 * HA1 = MD5(login:realm:password) (RFC 2617 §3.2.2.2) as lowercase hex.
 * The pieces are fed separately so no joined copy of the password exists.
 */
void
auth_ha1(const char *login, const char *realm, const char *pass, char out[33])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	EVP_MD_CTX		*ctx;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, login, strlen(login)) != 1 ||
	    EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, realm, strlen(realm)) != 1 ||
	    EVP_DigestUpdate(ctx, ":", 1) != 1 ||
	    EVP_DigestUpdate(ctx, pass, strlen(pass)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16)
		fatalx("%s: MD5 unavailable (FIPS mode?)", __func__);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[32] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
}
