/*
 * sasl.h: SASL mechanisms as pure step functions. Only PLAIN (RFC 4616),
 * offered only over TLS: credentials are HA1 hashes, which rule out
 * SCRAM. A successful step yields the authentication identity and the
 * password for the auth backend to verify; nothing here does I/O.
 */
#ifndef XMPPD_SASL_H
#define XMPPD_SASL_H

#include <stddef.h>

struct sasl;

enum sasl_result {
	SASL_CONTINUE,		/* *out holds a challenge to send */
	SASL_OK,		/* credentials ready: sasl_user/sasl_password */
	SASL_FAIL,		/* sasl_condition() says why */
};

/* NULL if mech is not offered (→ invalid-mechanism). */
struct sasl		*sasl_new(const char *mech);
/*
 * in is the base64 text of <auth/> or <response/> ("=" means empty).
 * *out (malloc'd base64, or NULL) is set on SASL_CONTINUE.
 */
enum sasl_result	 sasl_step(struct sasl *, const char *in, size_t inlen,
			    char **out, size_t *outlen);
/* RFC 6120 §6.5 condition after SASL_FAIL. */
const char		*sasl_condition(const struct sasl *);
const char		*sasl_user(const struct sasl *);	/* authcid */
const char		*sasl_authzid(const struct sasl *);	/* or "" */
const char		*sasl_password(const struct sasl *);
/* Wipe the password now (called as soon as the backend has it). */
void			 sasl_wipe(struct sasl *);
/* Space-separated list for <mechanisms/>. */
const char *const	*sasl_mechanisms(void);
void			 sasl_free(struct sasl *);	/* wipes */

#endif
