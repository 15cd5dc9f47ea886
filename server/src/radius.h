/*
 * radius.h: RADIUS Access-Request/response packets for Digest
 * authentication (RFC 2865 format, RFC 3579 Message-Authenticator,
 * draft-sterman-aaa-sip-00 Digest-Response and Digest-Attributes as
 * FreeRADIUS rlm_digest reads them). Pure: no sockets, no clock.
 */
#ifndef XMPPD_RADIUS_H
#define XMPPD_RADIUS_H

#include <stddef.h>
#include <stdint.h>

#define RADIUS_HDR_LEN		20
#define RADIUS_AUTH_LEN		16
#define RADIUS_MAX_PACKET	4096	/* RFC 2865 §3 */
#define RADIUS_MAX_SECRET	256

enum radius_code {
	RADIUS_ACCESS_REQUEST = 1,
	RADIUS_ACCESS_ACCEPT = 2,
	RADIUS_ACCESS_REJECT = 3,
	RADIUS_ACCESS_CHALLENGE = 11,
};

enum radius_attr {
	RADIUS_ATTR_USER_NAME = 1,
	RADIUS_ATTR_NAS_IDENTIFIER = 32,
	RADIUS_ATTR_MESSAGE_AUTHENTICATOR = 80,
	RADIUS_ATTR_DIGEST_RESPONSE = 206,
	RADIUS_ATTR_DIGEST_ATTRIBUTES = 207,
};

/* Sub-attributes inside Digest-Attributes (draft-sterman §3.2). */
enum radius_digest_sub {
	RADIUS_DIGEST_REALM = 1,
	RADIUS_DIGEST_NONCE = 2,
	RADIUS_DIGEST_METHOD = 3,
	RADIUS_DIGEST_URI = 4,
	RADIUS_DIGEST_ALGORITHM = 6,
	RADIUS_DIGEST_USER_NAME = 10,
};

/* What a Digest Access-Request proves; every string NUL-terminated. */
struct radius_digest {
	const char	*login;
	const char	*realm;
	const char	*nonce;
	const char	*method;
	const char	*uri;
	const char	*response;	/* 32 hex digits */
	const char	*nas_id;
};

enum radius_verdict {
	RADIUS_OK,		/* well-formed, authentic, for this request */
	RADIUS_MALFORMED,	/* short, bad length, bad attribute framing */
	RADIUS_WRONG_ID,	/* not an answer to this request */
	RADIUS_BAD_AUTH,	/* authenticator fails: wrong shared secret? */
};

/*
 * Digest response without qop (RFC 2617 §3.2.2.1):
 * MD5(HA1:nonce:MD5(method:uri)) as 32 lowercase hex digits.
 */
void	radius_digest_response(const char *ha1, const char *nonce,
	    const char *method, const char *uri, char out[33]);
/*
 * Encode an Access-Request with Message-Authenticator into buf.
 * Returns its length, or 0 if a value is too long for an attribute or
 * the packet does not fit.
 */
size_t	radius_encode_digest(uint8_t *buf, size_t bufsize, uint8_t id,
	    const uint8_t authenticator[RADIUS_AUTH_LEN],
	    const struct radius_digest *, const uint8_t *secret,
	    size_t secretlen);
/*
 * Check a response to the request (id, authenticator): framing, id,
 * Response Authenticator and, when present, Message-Authenticator.
 * On RADIUS_OK *code holds the packet code.
 */
enum radius_verdict
	radius_check_response(const uint8_t *pkt, size_t len, uint8_t id,
	    const uint8_t req_auth[RADIUS_AUTH_LEN], const uint8_t *secret,
	    size_t secretlen, int *code);
const char	*radius_verdict_str(enum radius_verdict);

#endif
