/*
 * tls.c: the server SSL_CTX (Mozilla "intermediate": TLS 1.2 and 1.3,
 * ECDHE, AEAD ciphers only) and the self-signed certificate for `make run`.
 */
#include "tls.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "xmalloc.h"

#define TLS_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:" \
	"DHE-RSA-CHACHA20-POLY1305"
#define TLS_SUITES \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS	"X25519:prime256v1:secp384r1"
#define TLS_DAYS	3650

static char	tls_err[512];

/*
 * "file: what: reason". OpenSSL queues a chain of errors; a system error
 * (ENOENT, EACCES) in it is what the operator needs, else the last reason.
 */
static const char *
tls_error(const char *file, const char *what)
{
	unsigned long	 e;
	const char	*reason = NULL, *sys = NULL;

	while ((e = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(e)) {
			if (sys == NULL)
				sys = strerror(ERR_GET_REASON(e));
		} else if (ERR_reason_error_string(e) != NULL)
			reason = ERR_reason_error_string(e);
	}
	if (sys != NULL)
		reason = sys;
	if (reason == NULL)
		reason = errno != 0 ? strerror(errno) : "unknown error";
	snprintf(tls_err, sizeof(tls_err), "%s: %s: %s", file, what, reason);
	return tls_err;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, const char **errstr)
{
	static const unsigned char	 sid[] = "xmppd";
	SSL_CTX				*ctx;

	ERR_clear_error();
	errno = 0;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		*errstr = tls_error("SSL_CTX_new", "cannot create context");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 ||
	    SSL_CTX_set_dh_auto(ctx, 1) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) {
		*errstr = tls_error("tls", "configuring context");
		goto bad;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	/*
	 * Idle sessions drop their 2 x 17 KiB record buffers; writes may
	 * complete partially and be retried from a queue that moved.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* One TLS 1.3 ticket is enough for one resumption. */
	SSL_CTX_set_num_tickets(ctx, 1);

	errno = 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*errstr = tls_error(cert, "loading certificate");
		goto bad;
	}
	errno = 0;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*errstr = tls_error(key, "loading private key");
		goto bad;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*errstr = tls_error(key, "key does not match certificate");
		goto bad;
	}
	return ctx;
bad:
	SSL_CTX_free(ctx);
	return NULL;
}

/* --- self-signed certificate ----------------------------------------- */

static X509 *
tls_selfsigned_cert(EVP_PKEY *pkey, const char *cn)
{
	X509		*x = NULL;
	X509_NAME	*name;
	GENERAL_NAMES	*sans = NULL;
	GENERAL_NAME	*dns = NULL;
	ASN1_IA5STRING	*ia5 = NULL;
	BIGNUM		*serial = NULL;
	int		 ok = 0;

	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1)
		goto done;
	/* A random positive 63-bit serial, as RFC 5280 §4.1.2.2 asks. */
	if ((serial = BN_new()) == NULL ||
	    BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
		goto done;
	if (X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_DAYS, 0, NULL) ==
	    NULL)
		goto done;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, pkey) != 1)
		goto done;
	/* Built directly, not from a config string: cn is never parsed. */
	if ((sans = GENERAL_NAMES_new()) == NULL ||
	    (dns = GENERAL_NAME_new()) == NULL ||
	    (ia5 = ASN1_IA5STRING_new()) == NULL ||
	    ASN1_STRING_set(ia5, cn, -1) != 1)
		goto done;
	GENERAL_NAME_set0_value(dns, GEN_DNS, ia5);
	ia5 = NULL;
	if (sk_GENERAL_NAME_push(sans, dns) == 0)
		goto done;
	dns = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, sans, 0, 0) != 1 ||
	    X509_sign(x, pkey, EVP_sha256()) == 0)
		goto done;
	ok = 1;
done:
	BN_free(serial);
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(dns);
	GENERAL_NAMES_free(sans);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/*
 * Write one PEM file atomically: a mode-0600/0644 temporary beside it,
 * fsync, rename. A crash leaves the old file or the new, never half.
 */
static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *x)
{
	char	*tmp;
	FILE	*f = NULL;
	int	 fd, ok = 0;

	xasprintf(&tmp, "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1)
		goto done;
	if (fchmod(fd, mode) == -1 || (f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto unlink;
	}
	if (pkey != NULL && PEM_write_PrivateKey(f, pkey, NULL, NULL, 0,
	    NULL, NULL) != 1)
		goto unlink;
	if (x != NULL && PEM_write_X509(f, x) != 1)
		goto unlink;
	if (fflush(f) == EOF || fsync(fileno(f)) == -1)
		goto unlink;
	if (fclose(f) == EOF) {
		f = NULL;
		goto unlink;
	}
	f = NULL;
	if (rename(tmp, path) == -1)
		goto unlink;
	ok = 1;
	goto done;
unlink:
	if (f != NULL)
		fclose(f);
	unlink(tmp);
done:
	free(tmp);
	return ok ? 0 : -1;
}

int
tls_make_selfsigned(const char *cert, const char *key, const char *cn,
    const char **errstr)
{
	EVP_PKEY	*pkey = NULL;
	X509		*x = NULL;
	int		 ret = -1;

	if (access(cert, F_OK) == 0 && access(key, F_OK) == 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	if (cn == NULL || *cn == '\0') {
		snprintf(tls_err, sizeof(tls_err), "%s: empty common name",
		    cert);
		*errstr = tls_err;
		return -1;
	}
	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		*errstr = tls_error(key, "generating P-256 key");
		goto done;
	}
	if ((x = tls_selfsigned_cert(pkey, cn)) == NULL) {
		*errstr = tls_error(cert, "building certificate");
		goto done;
	}
	/* Key first: the pair counts as made only once the cert exists. */
	errno = 0;
	if (tls_write_pem(key, 0600, pkey, NULL) == -1) {
		*errstr = tls_error(key, "writing key");
		goto done;
	}
	errno = 0;
	if (tls_write_pem(cert, 0644, NULL, x) == -1) {
		*errstr = tls_error(cert, "writing certificate");
		goto done;
	}
	ret = 0;
done:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}
