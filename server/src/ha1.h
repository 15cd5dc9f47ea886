/*
 * ha1.h: HA1 = MD5(login:realm:password), the credential form Debian's
 * account data, users.txt and FreeRADIUS's rlm_digest all use. Below the
 * backends and xmppctl, which compute it; it calls nothing of theirs.
 */
#ifndef XMPPD_HA1_H
#define XMPPD_HA1_H

/*
 * HA1 of login, realm and pass as 32 lowercase hex digits and a NUL in
 * out[33]. pass is only read; no copy of it outlives the call. Exits the
 * process (fatalx) if OpenSSL offers no MD5.
 */
void	ha1_hex(const char *login, const char *realm, const char *pass,
	    char out[33]);

#endif
