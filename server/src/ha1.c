/*
 * ha1.c: HA1 = MD5(login:realm:password) (RFC 2617 §3.2.2.2) as lowercase
 * hex. Its own file so the backends (auth_ha1file.c, auth_radius.c) and
 * xmppctl reach it without calling back up into auth.c, which calls them.
 */
#include "ha1.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"

/* The pieces are fed separately so no joined copy of the password exists. */
void
ha1_hex(const char *login, const char *realm, const char *pass, char out[33])
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
