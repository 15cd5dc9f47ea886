/* check_sasl.c: SASL PLAIN parsing, base64 strictness and conditions. */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

#include "check_main.h"

#define M(s)	s, sizeof(s) - 1	/* message with embedded NULs */

/* Decoded PLAIN messages, base64-encoded by the test. */
static const struct {
	const char	*msg;
	size_t		 len;
	const char	*cond;		/* NULL: SASL_OK */
	const char	*authzid, *user, *pass;
} plain[] = {
	{ M("\0juliet\0r0m30"), NULL, "", "juliet", "r0m30" },
	{ M("juliet@capulet.example\0juliet\0r0m30"), NULL,
	    "juliet@capulet.example", "juliet", "r0m30" },
	{ M("\0j\xc3\xbcliet\0p\xc3\xa4ss word"), NULL, "", "j\xc3\xbcliet",
	    "p\xc3\xa4ss word" },
	{ M("\0\xf0\x9f\x98\x80\0\xe2\x82\xac"), NULL, "", "\xf0\x9f\x98\x80",
	    "\xe2\x82\xac" },
	{ M(""), "malformed-request", NULL, NULL, NULL },
	{ M("juliet"), "malformed-request", NULL, NULL, NULL },
	{ M("\0juliet"), "malformed-request", NULL, NULL, NULL },
	{ M("juliet\0r0m30"), "malformed-request", NULL, NULL, NULL },
	{ M("\0juliet\0r0m30\0"), "malformed-request", NULL, NULL, NULL },
	{ M("\0juliet\0r0\0m30"), "malformed-request", NULL, NULL, NULL },
	{ M("\0\0r0m30"), "malformed-request", NULL, NULL, NULL },
	{ M("\0juliet\0"), "malformed-request", NULL, NULL, NULL },
	{ M("\0\0"), "malformed-request", NULL, NULL, NULL },
	{ M("\0jul\xffiet\0r0m30"), "malformed-request", NULL, NULL, NULL },
	{ M("\0juliet\0r0m\xc3"), "malformed-request", NULL, NULL, NULL },
	{ M("\xc0\xaf\0juliet\0r0m30"), "malformed-request", NULL, NULL,
	    NULL },
	{ M("\0juliet\0\xed\xa0\x80"), "malformed-request", NULL, NULL,
	    NULL },
	{ M("\0juliet\0\xf4\x90\x80\x80"), "malformed-request", NULL, NULL,
	    NULL },
	{ M("\0juliet\0\xe0\x80\xaf"), "malformed-request", NULL, NULL,
	    NULL },
};

/* Base64 text; the caller frees it. */
static char *
b64(const char *msg, size_t len)
{
	char	*out = malloc(4 * ((len + 2) / 3) + 1);

	ck_assert_ptr_nonnull(out);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)msg,
	    (int)len);
	return out;
}

START_TEST(test_plain_table)
{
	struct sasl		*s = sasl_new("PLAIN");
	char			*in = b64(plain[_i].msg, plain[_i].len);
	char			*out = (char *)"sentinel";
	size_t			 outlen = 99;
	enum sasl_result	 res;

	/* An empty message is sent as "=" (RFC 6120 §6.4.2). */
	res = sasl_step(s, plain[_i].len ? in : "=", plain[_i].len ?
	    strlen(in) : 1, &out, &outlen);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(outlen, 0);
	if (plain[_i].cond != NULL) {
		ck_assert_int_eq(res, SASL_FAIL);
		ck_assert_str_eq(sasl_condition(s), plain[_i].cond);
		ck_assert_str_eq(sasl_password(s), "");
	} else {
		ck_assert_int_eq(res, SASL_OK);
		ck_assert_str_eq(sasl_authzid(s), plain[_i].authzid);
		ck_assert_str_eq(sasl_user(s), plain[_i].user);
		ck_assert_str_eq(sasl_password(s), plain[_i].pass);
	}
	free(in);
	sasl_free(s);
}
END_TEST

/* Base64 that must be refused whatever it would decode to. */
static const char *const bad_b64[] = {
	"AGp1bGlldAByMG0zMA",		/* padding missing */
	"AGp1bGlldAByMG0zMA=",		/* half the padding */
	"AGp1bGlldAByMG0zMA===",
	"AGp1bGlldAByMG0zMA==AAAA",	/* data after padding */
	"AGp1bGl=ldAByMG0zMA==",
	"AGp1bGlldAByMG0zMA=A",
	"AGp1bGlldAByMG0zMB==",		/* pad bits set */
	"AGp1bGlldAByMG0zMDE=AA==",
	"AGp1bGlldAByMG0zMDF=",		/* pad bits set */
	"AGp1bGlldAByMG0zMA*=",
	"AGp1 GlldAByMG0zMA==",		/* whitespace */
	"    AGp1bGlldAByMG0zMA==",	/* EVP_DecodeBlock would skip it */
	"AGp1bGlldAByMG0zMA==\r\n\r\n",
	"\nAGp1bGlldAByMG0zMA==\n\n\n",
	"AGp1bGlldAByMG0zMA-_",		/* URL alphabet */
	"====",
	"==",
	"A",
};

START_TEST(test_bad_base64)
{
	struct sasl	*s = sasl_new("PLAIN");
	char		*out = NULL;
	size_t		 outlen = 0;

	ck_assert_int_eq(sasl_step(s, bad_b64[_i], strlen(bad_b64[_i]), &out,
	    &outlen), SASL_FAIL);
	ck_assert_str_eq(sasl_condition(s), "incorrect-encoding");
	ck_assert_str_eq(sasl_user(s), "");
	sasl_free(s);
}
END_TEST

/* A session that accepted juliet's credentials, as a control. */
static struct sasl *
sasl_juliet(void)
{
	static const char	in[] = "AGp1bGlldAByMG0zMA==";
	struct sasl		*s = sasl_new("PLAIN");
	char			*out = NULL;
	size_t			 outlen = 0;

	ck_assert_int_eq(sasl_step(s, in, strlen(in), &out, &outlen), SASL_OK);
	ck_assert_str_eq(sasl_user(s), "juliet");
	ck_assert_str_eq(sasl_password(s), "r0m30");
	return s;
}

START_TEST(test_good_base64_control)
{
	sasl_free(sasl_juliet());
}
END_TEST

/* A message of parts of the given sizes, all 'a'; the caller frees it. */
static char *
plain_sized(size_t zlen, size_t clen, size_t plen, size_t *len)
{
	char	*m;

	*len = zlen + clen + plen + 2;
	m = malloc(*len);
	ck_assert_ptr_nonnull(m);
	memset(m, 'a', *len);
	m[zlen] = '\0';
	m[zlen + 1 + clen] = '\0';
	return m;
}

static const struct {
	size_t			 z, c, p;
	enum sasl_result	 res;
} sizes[] = {
	{ 255, 255, 255, SASL_OK },
	{ 0, 1, 1, SASL_OK },
	{ 256, 1, 1, SASL_FAIL },
	{ 0, 256, 1, SASL_FAIL },
	{ 0, 1, 256, SASL_FAIL },
	{ 1000, 1000, 1000, SASL_FAIL },	/* over the base64 cap */
};

START_TEST(test_part_sizes)
{
	struct sasl	*s = sasl_new("PLAIN");
	char		*out = NULL, *msg, *in;
	size_t		 outlen = 0, len;

	msg = plain_sized(sizes[_i].z, sizes[_i].c, sizes[_i].p, &len);
	in = b64(msg, len);
	ck_assert_int_eq(sasl_step(s, in, strlen(in), &out, &outlen),
	    sizes[_i].res);
	if (sizes[_i].res == SASL_OK) {
		ck_assert_uint_eq(strlen(sasl_authzid(s)), sizes[_i].z);
		ck_assert_uint_eq(strlen(sasl_user(s)), sizes[_i].c);
		ck_assert_uint_eq(strlen(sasl_password(s)), sizes[_i].p);
	} else
		ck_assert_str_eq(sasl_condition(s), "malformed-request");
	free(in);
	free(msg);
	sasl_free(s);
}
END_TEST

/* <auth/> without data: one empty challenge, then the response. */
START_TEST(test_challenge_flow)
{
	static const char	in[] = "AGp1bGlldAByMG0zMA==";
	struct sasl		*s = sasl_new("PLAIN");
	char			*out = (char *)"sentinel";
	size_t			 outlen = 7;

	ck_assert_int_eq(sasl_step(s, "", 0, &out, &outlen), SASL_CONTINUE);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(outlen, 0);
	ck_assert_int_eq(sasl_step(s, in, strlen(in), &out, &outlen), SASL_OK);
	ck_assert_str_eq(sasl_user(s), "juliet");
	/* Nothing is accepted once done. */
	ck_assert_int_eq(sasl_step(s, in, strlen(in), &out, &outlen),
	    SASL_FAIL);
	ck_assert_str_eq(sasl_condition(s), "malformed-request");
	ck_assert_str_eq(sasl_password(s), "");
	sasl_free(s);
}
END_TEST

/* A second empty message is not another challenge: no endless loop. */
START_TEST(test_empty_response)
{
	struct sasl	*s = sasl_new("PLAIN");
	char		*out = NULL;
	size_t		 outlen = 0;

	ck_assert_int_eq(sasl_step(s, NULL, 0, &out, &outlen), SASL_CONTINUE);
	ck_assert_int_eq(sasl_step(s, "", 0, &out, &outlen), SASL_FAIL);
	ck_assert_str_eq(sasl_condition(s), "malformed-request");
	sasl_free(s);

	s = sasl_new("PLAIN");
	ck_assert_int_eq(sasl_step(s, "", 0, &out, &outlen), SASL_CONTINUE);
	ck_assert_int_eq(sasl_step(s, "=", 1, &out, &outlen), SASL_FAIL);
	ck_assert_str_eq(sasl_condition(s), "malformed-request");
	sasl_free(s);
}
END_TEST

/* inlen bounds the input: bytes after it are not read. */
START_TEST(test_inlen_respected)
{
	static const char	in[] = "AGp1bGlldAByMG0zMA==garbage";
	struct sasl		*s = sasl_new("PLAIN");
	char			*out = NULL;
	size_t			 outlen = 0;

	ck_assert_int_eq(sasl_step(s, in, 20, &out, &outlen), SASL_OK);
	ck_assert_str_eq(sasl_password(s), "r0m30");
	sasl_free(s);
}
END_TEST

START_TEST(test_wipe)
{
	struct sasl	*s = sasl_juliet();

	sasl_wipe(s);
	ck_assert_str_eq(sasl_password(s), "");
	ck_assert_str_eq(sasl_user(s), "juliet");	/* still needed */
	sasl_free(s);
	sasl_free(NULL);
}
END_TEST

START_TEST(test_mechanisms)
{
	const char *const	*m = sasl_mechanisms();

	ck_assert_str_eq(m[0], "PLAIN");
	ck_assert_ptr_null(m[1]);
	ck_assert_ptr_null(sasl_new("plain"));
	ck_assert_ptr_null(sasl_new("SCRAM-SHA-1"));
	ck_assert_ptr_null(sasl_new("DIGEST-MD5"));
	ck_assert_ptr_null(sasl_new(""));
	ck_assert_ptr_null(sasl_new(NULL));
}
END_TEST

static Suite *
sasl_suite(void)
{
	Suite	*s = suite_create("sasl");
	TCase	*tc = tcase_create("plain");

	tcase_add_loop_test(tc, test_plain_table, 0,
	    sizeof(plain) / sizeof(plain[0]));
	tcase_add_loop_test(tc, test_part_sizes, 0,
	    sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_test(tc, test_challenge_flow);
	tcase_add_test(tc, test_empty_response);
	tcase_add_test(tc, test_inlen_respected);
	tcase_add_test(tc, test_wipe);
	tcase_add_test(tc, test_mechanisms);
	suite_add_tcase(s, tc);
	tc = tcase_create("base64");
	tcase_add_loop_test(tc, test_bad_base64, 0,
	    sizeof(bad_b64) / sizeof(bad_b64[0]));
	tcase_add_test(tc, test_good_base64_control);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sasl_suite)
