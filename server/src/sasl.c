/*
 * sasl.c: the server side of SASL PLAIN (RFC 4616) as a pure step
 * function. It decodes the base64 payload strictly (RFC 6120 §6.4.2,
 * RFC 4648 §4 without whitespace or non-zero pad bits), splits
 * [authzid] NUL authcid NUL passwd and checks each part is UTF-8 of
 * at most 255 bytes. It does not normalise or verify anything: the
 * caller maps authcid to an account and hands the password to the auth
 * backend, which hashes the exact bytes. Secrets only ever live in the
 * struct and in one stack buffer, and both are wiped.
 */
#include "sasl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define SASL_PART_MAX	255	/* RFC 4616 §2: 1*255 octets */
#define SASL_MSG_MAX	(3 * SASL_PART_MAX + 2)
#define SASL_B64_MAX	((SASL_MSG_MAX + 2) / 3 * 4)

enum sasl_state {
	SASL_START,		/* waiting for <auth/> data */
	SASL_RESPONSE,		/* sent the empty challenge */
	SASL_DONE,		/* credentials parsed */
	SASL_FAILED,
};

struct sasl {
	enum sasl_state	 state;
	const char	*condition;
	char		 authzid[SASL_PART_MAX + 1];
	char		 authcid[SASL_PART_MAX + 1];
	char		 password[SASL_PART_MAX + 1];
};

static const char *const sasl_mechs[] = { "PLAIN", NULL };

/* The mechanisms to offer in <mechanisms/>, NULL-terminated. */
const char *const *
sasl_mechanisms(void)
{
	return sasl_mechs;
}

/* Mechanism names are case-sensitive upper case (RFC 4422 §3.1). */
struct sasl *
sasl_new(const char *mech)
{
	struct sasl	*s;

	if (mech == NULL || strcmp(mech, "PLAIN") != 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->state = SASL_START;
	return s;
}

static enum sasl_result
sasl_fail(struct sasl *s, const char *condition)
{
	s->state = SASL_FAILED;
	s->condition = condition;
	return SASL_FAIL;
}

/* Value of a base64 alphabet character, or -1 (RFC 4648 §4). */
static int
sasl_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * EVP_DecodeBlock() skips whitespace and cannot tell padding from data,
 * so check the canonical form first: whole quanta, alphabet only, '='
 * only as the last one or two characters, and the bits the padding
 * leaves over set to zero (RFC 4648 §3.5), so one message has one
 * encoding.
 */
static bool
sasl_b64_canonical(const char *in, size_t len, size_t *pad)
{
	size_t	i;

	if (len % 4 != 0)
		return false;
	*pad = 0;
	if (len > 0 && in[len - 1] == '=')
		*pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - *pad; i++)
		if (sasl_b64_value((unsigned char)in[i]) == -1)
			return false;
	if (*pad == 2)
		return (sasl_b64_value((unsigned char)in[len - 3]) & 0x0f) == 0;
	if (*pad == 1)
		return (sasl_b64_value((unsigned char)in[len - 2]) & 0x03) == 0;
	return true;
}

/* Decode into out (SASL_MSG_MAX + 3 bytes); the length, or -1. */
static int
sasl_b64_decode(const char *in, size_t len, unsigned char *out)
{
	size_t	pad;
	int	n;

	if (!sasl_b64_canonical(in, len, &pad))
		return -1;
	if (len == 0)
		return 0;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) < 0)
		return -1;
	return n - (int)pad;
}

/*
 * Well-formed UTF-8 (RFC 3629 §4): no overlong forms, no surrogates,
 * nothing above U+10FFFF. Written out rather than borrowed from libidn so
 * the password is never copied into a buffer we cannot wipe.
 */
static bool
sasl_utf8_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0, n, k;
	unsigned char	c, lo, hi;

	while (i < len) {
		c = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80)
			n = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else
			return false;
		if (n >= len - i)
			return false;
		for (k = 1; k <= n; k++) {
			if (s[i + k] < lo || s[i + k] > hi)
				return false;
			lo = 0x80;
			hi = 0xbf;
		}
		i += n + 1;
	}
	return true;
}

/* Copy one message part if it is UTF-8 and short enough. */
static bool
sasl_take(char *dst, const unsigned char *src, size_t len, bool required)
{
	if ((required && len == 0) || len > SASL_PART_MAX ||
	    !sasl_utf8_valid(src, len))
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

/* message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 §2). */
static enum sasl_result
sasl_plain(struct sasl *s, const unsigned char *msg, size_t len)
{
	const unsigned char	*nul1, *nul2, *end = msg + len;

	if ((nul1 = memchr(msg, '\0', len)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', end - nul1 - 1)) == NULL ||
	    memchr(nul2 + 1, '\0', end - nul2 - 1) != NULL)
		return sasl_fail(s, "malformed-request");
	if (!sasl_take(s->authzid, msg, nul1 - msg, false) ||
	    !sasl_take(s->authcid, nul1 + 1, nul2 - nul1 - 1, true) ||
	    !sasl_take(s->password, nul2 + 1, end - nul2 - 1, true)) {
		sasl_wipe(s);
		return sasl_fail(s, "malformed-request");
	}
	s->state = SASL_DONE;
	return SASL_OK;
}

/* Decode one payload ("=" is the empty one) and parse it. */
static enum sasl_result
sasl_message(struct sasl *s, const char *in, size_t inlen)
{
	unsigned char		buf[SASL_MSG_MAX + 3];
	enum sasl_result	res;
	int			n;

	if (inlen == 1 && in[0] == '=')
		inlen = 0;			/* RFC 6120 §6.4.2 */
	if (inlen > SASL_B64_MAX)
		return sasl_fail(s, "malformed-request");
	if ((n = sasl_b64_decode(in, inlen, buf)) < 0)
		res = sasl_fail(s, "incorrect-encoding");
	else
		res = sasl_plain(s, buf, (size_t)n);
	OPENSSL_cleanse(buf, sizeof(buf));
	return res;
}

/*
 * One round: <auth/> text first, then <response/> text. An <auth/>
 * without data gets one empty challenge (RFC 4616 §2: the client sends
 * the message in its response); anything after the end fails.
 */
enum sasl_result
sasl_step(struct sasl *s, const char *in, size_t inlen, char **out,
    size_t *outlen)
{
	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (in == NULL)
		inlen = 0;
	switch (s->state) {
	case SASL_START:
		if (inlen == 0) {
			s->state = SASL_RESPONSE;
			return SASL_CONTINUE;
		}
		return sasl_message(s, in, inlen);
	case SASL_RESPONSE:
		return sasl_message(s, inlen > 0 ? in : "", inlen);
	case SASL_DONE:
	case SASL_FAILED:
		break;
	}
	sasl_wipe(s);
	return sasl_fail(s, "malformed-request");
}

/* Only meaningful after SASL_FAIL; anything else denies. */
const char *
sasl_condition(const struct sasl *s)
{
	return s->condition != NULL ? s->condition : "not-authorized";
}

const char *
sasl_user(const struct sasl *s)
{
	return s->authcid;
}

const char *
sasl_authzid(const struct sasl *s)
{
	return s->authzid;
}

/* "" before SASL_OK and after sasl_wipe(). */
const char *
sasl_password(const struct sasl *s)
{
	return s->password;
}

void
sasl_wipe(struct sasl *s)
{
	OPENSSL_cleanse(s->password, sizeof(s->password));
}

void
sasl_free(struct sasl *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}
