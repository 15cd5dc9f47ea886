/*
 * radius.c: encode Digest Access-Requests and check their responses.
 * Packet layout per RFC 2865 §3, Message-Authenticator per RFC 3579 §3.2,
 * Digest-Response (206) and Digest-Attributes (207) per
 * draft-sterman-aaa-sip-00, the form FreeRADIUS rlm_digest expands into
 * Digest-Realm, Digest-Nonce, ... itself. No I/O: auth_radius.c owns the
 * sockets and timers; this file is what check_radius.c tests.
 */
#include "radius.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"

#define RADIUS_ATTR_MAX_VALUE	253	/* 255 minus type and length */

static void
radius_hex(const uint8_t *in, size_t len, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* One piece of a message to hash, so no const needs casting away. */
struct radius_part {
	const void	*p;
	size_t		 len;
};

/* MD5 over the concatenation of n parts. */
static void
radius_md5(uint8_t out[16], const struct radius_part *part, size_t n)
{
	EVP_MD_CTX	*ctx;
	size_t		 i;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
		fatalx("%s: MD5 unavailable", __func__);
	for (i = 0; i < n; i++)
		if (EVP_DigestUpdate(ctx, part[i].p, part[i].len) != 1)
			fatalx("%s: MD5 failed", __func__);
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		fatalx("%s: MD5 failed", __func__);
	EVP_MD_CTX_free(ctx);
}

/* RFC 2617 §3.2.2.1 with qop absent. */
void
radius_digest_response(const char *ha1, const char *nonce,
    const char *method, const char *uri, char out[33])
{
	struct radius_part	 part[5];
	uint8_t			 md[16];
	char			 ha2[33];

	part[0] = (struct radius_part){ method, strlen(method) };
	part[1] = (struct radius_part){ ":", 1 };
	part[2] = (struct radius_part){ uri, strlen(uri) };
	radius_md5(md, part, 3);
	radius_hex(md, sizeof(md), ha2);
	part[0] = (struct radius_part){ ha1, strlen(ha1) };
	part[2] = (struct radius_part){ nonce, strlen(nonce) };
	part[3] = (struct radius_part){ ":", 1 };
	part[4] = (struct radius_part){ ha2, 32 };
	radius_md5(md, part, 5);
	radius_hex(md, sizeof(md), out);
}

/* Append one attribute; false if it does not fit. */
static bool
radius_put_attr(uint8_t *buf, size_t bufsize, size_t *off, uint8_t type,
    const void *val, size_t len)
{
	if (len > RADIUS_ATTR_MAX_VALUE || *off + 2 + len > bufsize)
		return false;
	buf[(*off)++] = type;
	buf[(*off)++] = (uint8_t)(2 + len);
	memcpy(buf + *off, val, len);
	*off += len;
	return true;
}

/* One Digest-Attributes attribute carrying one sub-attribute. */
static bool
radius_put_digest_sub(uint8_t *buf, size_t bufsize, size_t *off,
    uint8_t sub, const char *val)
{
	uint8_t	 tmp[RADIUS_ATTR_MAX_VALUE];
	size_t	 len = strlen(val);

	if (len > RADIUS_ATTR_MAX_VALUE - 2)
		return false;
	tmp[0] = sub;
	tmp[1] = (uint8_t)(2 + len);
	memcpy(tmp + 2, val, len);
	return radius_put_attr(buf, bufsize, off,
	    RADIUS_ATTR_DIGEST_ATTRIBUTES, tmp, 2 + len);
}

static bool
radius_put_string(uint8_t *buf, size_t bufsize, size_t *off, uint8_t type,
    const char *val)
{
	return radius_put_attr(buf, bufsize, off, type, val, strlen(val));
}

/*
 * HMAC-MD5 over the packet with the Message-Authenticator value zeroed
 * and, for a response, the request's authenticator in the header
 * (RFC 3579 §3.2). pkt is modified in place and restored by the caller.
 */
static void
radius_msg_auth(uint8_t *pkt, size_t len, const uint8_t *secret,
    size_t secretlen, uint8_t out[16])
{
	unsigned int	 mdlen = 16;

	if (HMAC(EVP_md5(), secret, (int)secretlen, pkt, len, out,
	    &mdlen) == NULL || mdlen != 16)
		fatalx("%s: HMAC-MD5 unavailable", __func__);
}

/* Encode an Access-Request for rlm_digest; 0 if it does not fit. */
size_t
radius_encode_digest(uint8_t *buf, size_t bufsize, uint8_t id,
    const uint8_t authenticator[RADIUS_AUTH_LEN],
    const struct radius_digest *d, const uint8_t *secret, size_t secretlen)
{
	static const uint8_t	 zero[16];
	size_t			 off = RADIUS_HDR_LEN, ma;
	uint8_t			 mac[16];

	if (bufsize > RADIUS_MAX_PACKET)
		bufsize = RADIUS_MAX_PACKET;
	if (bufsize < RADIUS_HDR_LEN)
		return 0;
	buf[0] = RADIUS_ACCESS_REQUEST;
	buf[1] = id;
	memcpy(buf + 4, authenticator, RADIUS_AUTH_LEN);
	/* Message-Authenticator first: cheap for servers to find. */
	ma = off + 2;
	if (!radius_put_attr(buf, bufsize, &off,
	    RADIUS_ATTR_MESSAGE_AUTHENTICATOR, zero, sizeof(zero)) ||
	    !radius_put_string(buf, bufsize, &off, RADIUS_ATTR_USER_NAME,
	    d->login) ||
	    !radius_put_string(buf, bufsize, &off,
	    RADIUS_ATTR_NAS_IDENTIFIER, d->nas_id) ||
	    !radius_put_string(buf, bufsize, &off,
	    RADIUS_ATTR_DIGEST_RESPONSE, d->response) ||
	    !radius_put_digest_sub(buf, bufsize, &off, RADIUS_DIGEST_REALM,
	    d->realm) ||
	    !radius_put_digest_sub(buf, bufsize, &off, RADIUS_DIGEST_NONCE,
	    d->nonce) ||
	    !radius_put_digest_sub(buf, bufsize, &off, RADIUS_DIGEST_METHOD,
	    d->method) ||
	    !radius_put_digest_sub(buf, bufsize, &off, RADIUS_DIGEST_URI,
	    d->uri) ||
	    !radius_put_digest_sub(buf, bufsize, &off,
	    RADIUS_DIGEST_ALGORITHM, "MD5") ||
	    !radius_put_digest_sub(buf, bufsize, &off,
	    RADIUS_DIGEST_USER_NAME, d->login))
		return 0;
	buf[2] = (uint8_t)(off >> 8);
	buf[3] = (uint8_t)off;
	radius_msg_auth(buf, off, secret, secretlen, mac);
	memcpy(buf + ma, mac, sizeof(mac));
	return off;
}

/*
 * Walk the attributes: each must have length >= 2 and end inside the
 * packet (RFC 2865 §5). Returns the offset of the Message-Authenticator
 * value, 0 if there is none, or -1 if the framing is bad.
 */
static long
radius_scan_attrs(const uint8_t *pkt, size_t len)
{
	size_t	 off = RADIUS_HDR_LEN;
	long	 ma = 0;

	while (off < len) {
		if (len - off < 2 || pkt[off + 1] < 2 ||
		    pkt[off + 1] > len - off)
			return -1;
		if (pkt[off] == RADIUS_ATTR_MESSAGE_AUTHENTICATOR) {
			if (pkt[off + 1] != 18 || ma != 0)
				return -1;
			ma = (long)off + 2;
		}
		off += pkt[off + 1];
	}
	return ma;
}

static bool
radius_msg_auth_ok(const uint8_t *pkt, size_t len, size_t ma,
    const uint8_t req_auth[RADIUS_AUTH_LEN], const uint8_t *secret,
    size_t secretlen)
{
	uint8_t	 copy[RADIUS_MAX_PACKET];
	uint8_t	 mac[16];

	memcpy(copy, pkt, len);
	memcpy(copy + 4, req_auth, RADIUS_AUTH_LEN);
	memset(copy + ma, 0, 16);
	radius_msg_auth(copy, len, secret, secretlen, mac);
	return CRYPTO_memcmp(mac, pkt + ma, 16) == 0;
}

/* Check a response to request (id, req_auth); see radius.h. */
enum radius_verdict
radius_check_response(const uint8_t *pkt, size_t len, uint8_t id,
    const uint8_t req_auth[RADIUS_AUTH_LEN], const uint8_t *secret,
    size_t secretlen, int *code)
{
	struct radius_part	 part[4];
	uint8_t			 md[16];
	size_t			 plen;
	long			 ma;

	if (len < RADIUS_HDR_LEN)
		return RADIUS_MALFORMED;
	plen = (size_t)pkt[2] << 8 | pkt[3];
	/* Octets past Length are padding (RFC 2865 §3); fewer is an error. */
	if (plen < RADIUS_HDR_LEN || plen > len || plen > RADIUS_MAX_PACKET)
		return RADIUS_MALFORMED;
	if (pkt[1] != id)
		return RADIUS_WRONG_ID;
	if ((ma = radius_scan_attrs(pkt, plen)) == -1)
		return RADIUS_MALFORMED;
	/* MD5(Code+ID+Length+RequestAuth+Attributes+Secret), §3. */
	part[0] = (struct radius_part){ pkt, 4 };
	part[1] = (struct radius_part){ req_auth, RADIUS_AUTH_LEN };
	part[2] = (struct radius_part){ pkt + RADIUS_HDR_LEN,
	    plen - RADIUS_HDR_LEN };
	part[3] = (struct radius_part){ secret, secretlen };
	radius_md5(md, part, 4);
	if (CRYPTO_memcmp(md, pkt + 4, RADIUS_AUTH_LEN) != 0)
		return RADIUS_BAD_AUTH;
	if (ma != 0 && !radius_msg_auth_ok(pkt, plen, (size_t)ma, req_auth,
	    secret, secretlen))
		return RADIUS_BAD_AUTH;
	*code = pkt[0];
	return RADIUS_OK;
}

const char *
radius_verdict_str(enum radius_verdict v)
{
	switch (v) {
	case RADIUS_OK:		return "ok";
	case RADIUS_MALFORMED:	return "malformed packet";
	case RADIUS_WRONG_ID:	return "unexpected id";
	case RADIUS_BAD_AUTH:	return "response authenticator mismatch";
	}
	return "?";
}
