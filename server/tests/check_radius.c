/*
 * check_radius.c: RADIUS Digest packets. The expected bytes below were
 * computed independently with Python's hashlib/hmac (RFC 2865 §3 Response
 * Authenticator, RFC 3579 §3.2 Message-Authenticator), not with radius.c.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "radius.h"

#include "check_main.h"

static const uint8_t secret[] = "testing123";
#define SECRETLEN	(sizeof(secret) - 1)
static const uint8_t reqauth[RADIUS_AUTH_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

/* HA1 = MD5("jdoe@debian.org:rtc.debian.org:secret") */
#define KAT_HA1		"75af357a76e873e2f85f9efb02149f2b"
#define KAT_NONCE	"0123456789abcdef0123456789abcdef"
#define KAT_RESPONSE	"4bcced5b8df5303fa4cb2f8cdd8ecf4f"

static const uint8_t kat_request[] =
	"\x01\x2a\x00\xd3\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
	"\x0c\x0d\x0e\x0f\x50\x12\x8d\x89\xa4\x75\x8a\x09\x75\x82\x47\xd9"
	"\xe4\xd2\x3b\xd3\xf4\x80\x01\x11\x6a\x64\x6f\x65\x40\x64\x65\x62"
	"\x69\x61\x6e\x2e\x6f\x72\x67\x20\x07\x78\x6d\x70\x70\x64\xce\x22"
	"\x34\x62\x63\x63\x65\x64\x35\x62\x38\x64\x66\x35\x33\x30\x33\x66"
	"\x61\x34\x63\x62\x32\x66\x38\x63\x64\x64\x38\x65\x63\x66\x34\x66"
	"\xcf\x12\x01\x10\x72\x74\x63\x2e\x64\x65\x62\x69\x61\x6e\x2e\x6f"
	"\x72\x67\xcf\x24\x02\x22\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39"
	"\x61\x62\x63\x64\x65\x66\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39"
	"\x61\x62\x63\x64\x65\x66\xcf\x10\x03\x0e\x41\x55\x54\x48\x45\x4e"
	"\x54\x49\x43\x41\x54\x45\xcf\x13\x04\x11\x78\x6d\x70\x70\x3a\x64"
	"\x65\x62\x69\x61\x6e\x2e\x6f\x72\x67\xcf\x07\x06\x05\x4d\x44\x35"
	"\xcf\x13\x0a\x11\x6a\x64\x6f\x65\x40\x64\x65\x62\x69\x61\x6e\x2e"
	"\x6f\x72\x67";

/* Access-Accept, id 42, no attributes. */
static const uint8_t kat_accept[] =
	"\x02\x2a\x00\x14\xb7\x02\x1c\x53\x8b\x0f\xe2\xe5\x65\xc5\xae\x0d"
	"\xe0\x7e\xe6\x5e";

/* Access-Reject, id 42, with a Message-Authenticator. */
static const uint8_t kat_reject_ma[] =
	"\x03\x2a\x00\x26\x35\x4c\x7b\x0e\x06\x41\x3e\x37\x3b\x7c\x9a\x46"
	"\x59\x99\x17\xf6\x50\x12\x55\x91\x12\x0c\xa6\x5a\x9c\x59\xeb\x0d"
	"\xff\xf8\x84\xbb\x49\x41";

static const struct radius_digest kat_digest = {
	.login = "jdoe@debian.org",
	.realm = "rtc.debian.org",
	.nonce = KAT_NONCE,
	.method = "AUTHENTICATE",
	.uri = "xmpp:debian.org",
	.response = KAT_RESPONSE,
	.nas_id = "xmppd",
};

static enum radius_verdict
check(const uint8_t *pkt, size_t len, uint8_t id, int *code)
{
	return radius_check_response(pkt, len, id, reqauth, secret,
	    SECRETLEN, code);
}

START_TEST(digest_response_kat)
{
	char	 out[33];

	radius_digest_response(KAT_HA1, KAT_NONCE, "AUTHENTICATE",
	    "xmpp:debian.org", out);
	ck_assert_str_eq(out, KAT_RESPONSE);
	radius_digest_response(KAT_HA1, KAT_NONCE, "AUTHENTICATE",
	    "xmpp:debian.net", out);
	ck_assert_str_ne(out, KAT_RESPONSE);
}
END_TEST

START_TEST(encode_kat)
{
	uint8_t	 buf[RADIUS_MAX_PACKET];
	size_t	 len;

	len = radius_encode_digest(buf, sizeof(buf), 42, reqauth,
	    &kat_digest, secret, SECRETLEN);
	ck_assert_uint_eq(len, sizeof(kat_request) - 1);
	ck_assert_mem_eq(buf, kat_request, len);
}
END_TEST

START_TEST(encode_secret_changes_msg_auth)
{
	uint8_t	 buf[RADIUS_MAX_PACKET];
	size_t	 len;

	len = radius_encode_digest(buf, sizeof(buf), 42, reqauth,
	    &kat_digest, (const uint8_t *)"other", 5);
	ck_assert_uint_eq(len, sizeof(kat_request) - 1);
	/* Message-Authenticator value lives at offsets 22..37. */
	ck_assert_mem_eq(buf, kat_request, 22);
	ck_assert(memcmp(buf + 22, kat_request + 22, 16) != 0);
	ck_assert_mem_eq(buf + 38, kat_request + 38, len - 38);
}
END_TEST

START_TEST(encode_too_long)
{
	struct radius_digest	 d = kat_digest;
	uint8_t			 buf[RADIUS_MAX_PACKET];
	char			 longrealm[300];

	memset(longrealm, 'r', sizeof(longrealm) - 1);
	longrealm[sizeof(longrealm) - 1] = '\0';
	d.realm = longrealm;
	ck_assert_uint_eq(radius_encode_digest(buf, sizeof(buf), 1, reqauth,
	    &d, secret, SECRETLEN), 0);
	/* Sub-attribute limit is 251: 252 must not fit, 251 must. */
	longrealm[252] = '\0';
	ck_assert_uint_eq(radius_encode_digest(buf, sizeof(buf), 1, reqauth,
	    &d, secret, SECRETLEN), 0);
	longrealm[251] = '\0';
	ck_assert_uint_gt(radius_encode_digest(buf, sizeof(buf), 1, reqauth,
	    &d, secret, SECRETLEN), 0);
	/* Nor may it overrun a small buffer. */
	ck_assert_uint_eq(radius_encode_digest(buf, 100, 1, reqauth,
	    &kat_digest, secret, SECRETLEN), 0);
	ck_assert_uint_eq(radius_encode_digest(buf, 10, 1, reqauth,
	    &kat_digest, secret, SECRETLEN), 0);
}
END_TEST

START_TEST(accept_ok)
{
	int	 code = 0;

	ck_assert_int_eq(check(kat_accept, sizeof(kat_accept) - 1, 42,
	    &code), RADIUS_OK);
	ck_assert_int_eq(code, RADIUS_ACCESS_ACCEPT);
}
END_TEST

START_TEST(reject_with_msg_auth_ok)
{
	int	 code = 0;

	ck_assert_int_eq(check(kat_reject_ma, sizeof(kat_reject_ma) - 1, 42,
	    &code), RADIUS_OK);
	ck_assert_int_eq(code, RADIUS_ACCESS_REJECT);
}
END_TEST

START_TEST(padding_ignored)
{
	uint8_t	 buf[64];
	int	 code = 0;

	memset(buf, 0xee, sizeof(buf));
	memcpy(buf, kat_accept, sizeof(kat_accept) - 1);
	ck_assert_int_eq(check(buf, sizeof(buf), 42, &code), RADIUS_OK);
}
END_TEST

START_TEST(wrong_id)
{
	int	 code = 0;

	ck_assert_int_eq(check(kat_accept, sizeof(kat_accept) - 1, 43,
	    &code), RADIUS_WRONG_ID);
}
END_TEST

START_TEST(wrong_secret)
{
	int	 code = 0;

	ck_assert_int_eq(radius_check_response(kat_accept,
	    sizeof(kat_accept) - 1, 42, reqauth, (const uint8_t *)"wrong", 5,
	    &code), RADIUS_BAD_AUTH);
	ck_assert_int_eq(code, 0);
}
END_TEST

/* A forger who flips the code must fail the Response Authenticator. */
START_TEST(forged_code)
{
	uint8_t	 buf[sizeof(kat_reject_ma)];
	int	 code = 0;

	memcpy(buf, kat_reject_ma, sizeof(buf));
	buf[0] = RADIUS_ACCESS_ACCEPT;
	ck_assert_int_eq(check(buf, sizeof(buf) - 1, 42, &code),
	    RADIUS_BAD_AUTH);
}
END_TEST

/* Recompute a response's Response Authenticator (RFC 2865 §3). */
static void
sign_response(uint8_t *pkt, size_t len)
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
	EVP_DigestUpdate(ctx, pkt, 4);
	EVP_DigestUpdate(ctx, reqauth, RADIUS_AUTH_LEN);
	EVP_DigestUpdate(ctx, pkt + RADIUS_HDR_LEN, len - RADIUS_HDR_LEN);
	EVP_DigestUpdate(ctx, secret, SECRETLEN);
	ck_assert_int_eq(EVP_DigestFinal_ex(ctx, pkt + 4, NULL), 1);
	EVP_MD_CTX_free(ctx);
}

/* Valid Response Authenticator over a bad Message-Authenticator. */
START_TEST(bad_msg_auth)
{
	uint8_t	 buf[sizeof(kat_reject_ma) - 1];
	int	 code = 0;

	memcpy(buf, kat_reject_ma, sizeof(buf));
	memset(buf + 4, 0, RADIUS_AUTH_LEN);
	sign_response(buf, sizeof(buf));
	ck_assert_mem_eq(buf, kat_reject_ma, sizeof(buf));	/* helper ok */
	buf[30] ^= 1;		/* inside the Message-Authenticator */
	sign_response(buf, sizeof(buf));
	ck_assert_int_eq(check(buf, sizeof(buf), 42, &code),
	    RADIUS_BAD_AUTH);
}
END_TEST

START_TEST(short_packets)
{
	size_t	 len;
	int	 code = 0;

	for (len = 0; len < RADIUS_HDR_LEN; len++)
		ck_assert_int_eq(check(kat_accept, len, 42, &code),
		    RADIUS_MALFORMED);
	/* Truncating a packet with attributes must never read past it. */
	for (len = RADIUS_HDR_LEN; len < sizeof(kat_reject_ma) - 1; len++) {
		uint8_t	*p = malloc(len);

		memcpy(p, kat_reject_ma, len);
		ck_assert_int_eq(check(p, len, 42, &code), RADIUS_MALFORMED);
		free(p);
	}
}
END_TEST

START_TEST(bad_length_field)
{
	uint8_t	 buf[64];
	int	 code = 0;

	memcpy(buf, kat_accept, sizeof(kat_accept) - 1);
	buf[3] = 19;		/* below the header */
	ck_assert_int_eq(check(buf, 20, 42, &code), RADIUS_MALFORMED);
	buf[3] = 21;		/* beyond what arrived */
	ck_assert_int_eq(check(buf, 20, 42, &code), RADIUS_MALFORMED);
	buf[2] = 0x10;		/* 4096 + 20: beyond RFC 2865's maximum */
	buf[3] = 20;
	ck_assert_int_eq(check(buf, 20, 42, &code), RADIUS_MALFORMED);
}
END_TEST

/* Attribute lengths of 0, 1, overrunning; a short Message-Authenticator. */
static const uint8_t bad_attrs[][4] = {
	{ 18, 0, 0, 0 },
	{ 18, 1, 0, 0 },
	{ 18, 5, 0, 0 },
	{ 80, 4, 0, 0 },
};

START_TEST(bad_attr_framing)
{
	uint8_t	 buf[24];
	int	 code = 0;

	memcpy(buf, kat_accept, RADIUS_HDR_LEN);
	memcpy(buf + RADIUS_HDR_LEN, bad_attrs[_i], 4);
	buf[3] = 24;
	ck_assert_int_eq(check(buf, sizeof(buf), 42, &code),
	    RADIUS_MALFORMED);
}
END_TEST

/* Every single-byte corruption is rejected, and nothing crashes. */
START_TEST(bit_flips)
{
	uint8_t	 buf[sizeof(kat_reject_ma) - 1];
	size_t	 i;
	int	 code, bit;

	for (i = 0; i < sizeof(buf); i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, kat_reject_ma, sizeof(buf));
			buf[i] ^= (uint8_t)(1 << bit);
			code = 0;
			ck_assert_int_ne(check(buf, sizeof(buf), 42, &code),
			    RADIUS_OK);
		}
}
END_TEST

START_TEST(verdict_strings)
{
	ck_assert_str_eq(radius_verdict_str(RADIUS_BAD_AUTH),
	    "response authenticator mismatch");
	ck_assert_str_eq(radius_verdict_str(RADIUS_MALFORMED),
	    "malformed packet");
}
END_TEST

static Suite *
radius_suite(void)
{
	Suite	*s = suite_create("radius");
	TCase	*tc;

	tc = tcase_create("encode");
	tcase_add_test(tc, digest_response_kat);
	tcase_add_test(tc, encode_kat);
	tcase_add_test(tc, encode_secret_changes_msg_auth);
	tcase_add_test(tc, encode_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("response");
	tcase_add_test(tc, accept_ok);
	tcase_add_test(tc, reject_with_msg_auth_ok);
	tcase_add_test(tc, padding_ignored);
	tcase_add_test(tc, wrong_id);
	tcase_add_test(tc, wrong_secret);
	tcase_add_test(tc, forged_code);
	tcase_add_test(tc, bad_msg_auth);
	tcase_add_test(tc, verdict_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_test(tc, short_packets);
	tcase_add_test(tc, bad_length_field);
	tcase_add_loop_test(tc, bad_attr_framing, 0,
	    sizeof(bad_attrs) / sizeof(bad_attrs[0]));
	tcase_add_test(tc, bit_flips);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(radius_suite)
