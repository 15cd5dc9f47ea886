/*
 * tls.h: server SSL_CTX set-up (TLS 1.2+, Mozilla "intermediate" ciphers),
 * certificate and key loading, and the self-signed certificate that
 * `make run` creates on first start. Connections live in conn.c.
 */
#ifndef XMPPD_TLS_H
#define XMPPD_TLS_H

#include <openssl/ssl.h>

/* New server context; NULL with *errstr naming the file and reason. */
SSL_CTX	*tls_server_ctx(const char *cert, const char *key,
	    const char **errstr);
/* Create a self-signed cert+key (0600) for cn unless both files exist. */
int	 tls_make_selfsigned(const char *cert, const char *key,
	    const char *cn, const char **errstr);

#endif
